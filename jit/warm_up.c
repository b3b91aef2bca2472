/*
 * jit/warm_up.c - one small compile before the first real one.
 *
 * LLVM constructs many of its static objects (tables of value types, pass
 * registries, ...) on first use, and registers their destructors with the
 * C library then. A process that exits while the JIT's worker thread is
 * compiling runs those destructors under the compile, which crashes; the
 * exit handler in jit/jit.c waits for the compile first, but it only runs
 * before the destructors registered ahead of it. Compiling this module
 * once, on the calling thread and before that handler is registered,
 * builds those objects early, along the paths every compile takes: the
 * O3 pipeline, optimised code generation of a vector loop of the JIT's
 * kind of maths, and the fast instruction selector for an optnone
 * function. It costs about 10 ms, once per process.
 *
 * TODO: an object that only a rarer path builds, first built by a compile
 * still running when the process exits, is destroyed under it all the
 * same; a static destructor order that LLVM does not let us choose.
 */
#include <llvm-c/Transforms/PassBuilder.h>

#include "jit_internal.h"
#include "vmath.h"

/* void NAME(float *p, int64_t n): sigmoid of p[i, i + lanes) in place,
 * for i from 0 while below n (a small polynomial with selects, bit casts,
 * shifts, multiply-adds and a division); optnone when lanes is 1. */
static void build_loop(LLVMModuleRef m, const char *name, unsigned lanes)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    LLVMTypeRef vec = lanes > 1 ? LLVMVectorType(f32, lanes) : f32;
    LLVMValueRef fn =
        LLVMAddFunction(m, name,
                        LLVMFunctionType(LLVMVoidTypeInContext(ctx),
                                         (LLVMTypeRef[]){ptr, i64}, 2, 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, fn, "");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(ctx, fn, "");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef zero = LLVMConstInt(i64, 0, 0);
    LLVMValueRef n = LLVMGetParam(fn, 1);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, n, zero, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef i = LLVMBuildPhi(b, i64, "");
    LLVMValueRef at = LLVMBuildGEP2(b, f32, LLVMGetParam(fn, 0), &i, 1, "");
    LLVMValueRef x = LLVMBuildLoad2(b, vec, at, "");
    LLVMSetAlignment(x, 4);
    LLVMSetAlignment(LLVMBuildStore(b, em__vmath_sigmoid(b, x), at), 4);
    LLVMValueRef next =
        LLVMBuildAdd(b, i, LLVMConstInt(i64, lanes > 1 ? lanes : 1, 0), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, next, n, ""), body, done);
    LLVMAddIncoming(i, (LLVMValueRef[]){zero, next},
                    (LLVMBasicBlockRef[]){entry, body}, 2);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    if (lanes <= 1) {
        em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "noinline");
        em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "optnone");
    }
}

void em__jit_warm_up(LLVMOrcLLJITRef jit, LLVMTargetMachineRef tm)
{
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMContextRef ctx = LLVMOrcThreadSafeContextGetContext(tsc);
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("warm_up", ctx);
    LLVMSetTarget(m, LLVMOrcLLJITGetTripleString(jit));
    LLVMSetDataLayout(m, LLVMOrcLLJITGetDataLayoutStr(jit));
    /* 16 lanes: one AVX-512 register, or two of AVX2, as the JIT's loops
     * use on such hosts; and a scalar optnone function. */
    build_loop(m, "ember_warm_up_vector", 16);
    build_loop(m, "ember_warm_up_scalar", 1);
    LLVMPassBuilderOptionsRef options = LLVMCreatePassBuilderOptions();
    LLVMErrorRef error = LLVMRunPasses(m, "default<O3>", tm, options);
    LLVMDisposePassBuilderOptions(options);
    if (error) {
        LLVMConsumeError(error);
        LLVMDisposeModule(m);
        LLVMOrcDisposeThreadSafeContext(tsc);
        return;
    }
    LLVMOrcJITDylibRef dylib = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcResourceTrackerRef tracker =
        LLVMOrcJITDylibCreateResourceTracker(dylib);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc);
    error = LLVMOrcLLJITAddLLVMIRModuleWithRT(jit, tracker, tsm);
    const char *names[2] = {"ember_warm_up_vector", "ember_warm_up_scalar"};
    for (int k = 0; k < 2 && !error; k++) {
        LLVMOrcExecutorAddress address;
        error = LLVMOrcLLJITLookup(jit, &address, names[k]);
    }
    if (error)
        LLVMConsumeError(error);
    error = LLVMOrcResourceTrackerRemove(tracker);
    if (error)
        LLVMConsumeError(error);
    LLVMOrcReleaseResourceTracker(tracker);
}
