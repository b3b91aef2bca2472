/* JIT vector maths: each jit/vmath.h routine is emitted into a loop, a
 * scalar function and an <8 x float> function, optimised at O3 for the
 * host, JIT-compiled and compared with libm evaluated in double and rounded
 * to float, over a strided sweep of all float bit patterns and over the
 * special values. */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "testing.h"
#include "vmath.h"

/* ---- the functions under test and their references ---------------------*/

typedef LLVMValueRef (*emit_fn)(LLVMBuilderRef, LLVMValueRef);

static double ref_sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

static double ref_tanh_sigmoid(double x)
{
    return tanh(x) * ref_sigmoid(x);
}

/* tanh(x) * sigmoid(x): em__vmath_fold_products turns it into one
 * division when the module is built. */
static LLVMValueRef emit_tanh_sigmoid(LLVMBuilderRef b, LLVMValueRef x)
{
    return LLVMBuildFMul(b, em__vmath_tanh(b, x), em__vmath_sigmoid(b, x), "");
}

enum {
    OP_EXP,
    OP_LOG,
    OP_TANH,
    OP_SIGMOID,
    OP_EXPM1,
    OP_LOG1P,
    OP_TANH_SIGMOID,
    OP_COUNT
};

static const struct op {
    const char *name;
    emit_fn emit;
    double (*ref)(double);
    int64_t max_ulp;  /* the bound jit/vmath.h documents */
    bool normal_only; /* the bound holds where the result is normal */
} ops[OP_COUNT] = {
    [OP_EXP] = {"exp", em__vmath_exp, exp, 1, false},
    [OP_LOG] = {"log", em__vmath_log, log, 1, false},
    [OP_TANH] = {"tanh", em__vmath_tanh, tanh, 1, false},
    [OP_SIGMOID] = {"sigmoid", em__vmath_sigmoid, ref_sigmoid, 2, true},
    [OP_EXPM1] = {"expm1", em__vmath_expm1, expm1, 1, false},
    [OP_LOG1P] = {"log1p", em__vmath_log1p, log1p, 1, false},
    [OP_TANH_SIGMOID] = {"tanh_sigmoid", emit_tanh_sigmoid, ref_tanh_sigmoid, 6,
                         true},
};

#define VEC 8

typedef void (*loop_fn)(float *out, const float *in, int64_t n);
typedef float (*scalar_fn)(float x);
typedef void (*vec_fn)(float *out, const float *in); /* one <8 x float> */

typedef struct jit {
    LLVMOrcLLJITRef lljit;
    loop_fn loop[OP_COUNT];
    scalar_fn scalar[OP_COUNT];
    vec_fn vec[OP_COUNT];
} jit;

/* ---- building the module -----------------------------------------------*/

/* Host target machine for the given triple; its CPU and features also go
 * onto every function so the JIT's code generation agrees with O3's cost
 * model. */
typedef struct host {
    LLVMTargetMachineRef tm;
    char *cpu, *features;
} host;

static void init_native(void)
{
    ck_assert(!LLVMInitializeNativeTarget());
    ck_assert(!LLVMInitializeNativeAsmPrinter());
}

static host host_open(const char *triple)
{
    init_native();
    host h = {NULL, LLVMGetHostCPUName(), LLVMGetHostCPUFeatures()};
    LLVMTargetRef target;
    char *msg = NULL;
    ck_assert_msg(!LLVMGetTargetFromTriple(triple, &target, &msg), "%s", msg);
    h.tm = LLVMCreateTargetMachine(target, triple, h.cpu, h.features,
                                   LLVMCodeGenLevelAggressive, LLVMRelocPIC,
                                   LLVMCodeModelJITDefault);
    ck_assert_ptr_nonnull(h.tm);
    return h;
}

static void host_close(host *h)
{
    LLVMDisposeTargetMachine(h->tm);
    LLVMDisposeMessage(h->cpu);
    LLVMDisposeMessage(h->features);
}

static LLVMValueRef add_function(LLVMModuleRef m, const host *h,
                                 const char *name, LLVMTypeRef type)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMValueRef fn = LLVMAddFunction(m, name, type);
    const char *keys[2] = {"target-cpu", "target-features"};
    const char *values[2] = {h->cpu, h->features};
    for (int i = 0; i < 2; i++)
        LLVMAddAttributeAtIndex(
            fn, LLVMAttributeFunctionIndex,
            LLVMCreateStringAttribute(ctx, keys[i], (unsigned)strlen(keys[i]),
                                      values[i], (unsigned)strlen(values[i])));
    return fn;
}

static void mark_noalias(LLVMContextRef ctx, LLVMValueRef fn, unsigned param)
{
    unsigned kind = LLVMGetEnumAttributeKindForName("noalias", 7);
    LLVMAddAttributeAtIndex(fn, param + 1,
                            LLVMCreateEnumAttribute(ctx, kind, 0));
}

/* void NAME_loop(float *noalias out, const float *noalias in, int64_t n):
 * out[i] = op(in[i]) for i < n. */
static void build_loop(LLVMModuleRef m, const host *h, const struct op *op)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMTypeRef i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    LLVMTypeRef params[3] = {ptr, ptr, i64};
    char name[64];
    snprintf(name, sizeof name, "%s_loop", op->name);
    LLVMValueRef fn = add_function(
        m, h, name, LLVMFunctionType(LLVMVoidTypeInContext(ctx), params, 3, 0));
    mark_noalias(ctx, fn, 0);
    mark_noalias(ctx, fn, 1);
    LLVMValueRef out = LLVMGetParam(fn, 0), in = LLVMGetParam(fn, 1);
    LLVMValueRef n = LLVMGetParam(fn, 2);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, fn, "entry");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(ctx, fn, "body");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(ctx, fn, "done");
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef zero = LLVMConstInt(i64, 0, 0);
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSGT, n, zero, ""), body, done);
    LLVMPositionBuilderAtEnd(b, body);
    LLVMValueRef i = LLVMBuildPhi(b, i64, "i");
    LLVMValueRef x =
        LLVMBuildLoad2(b, f32, LLVMBuildGEP2(b, f32, in, &i, 1, ""), "");
    LLVMValueRef y = op->emit(b, x);
    LLVMBuildStore(b, y, LLVMBuildGEP2(b, f32, out, &i, 1, ""));
    LLVMValueRef next = LLVMBuildAdd(b, i, LLVMConstInt(i64, 1, 0), "");
    LLVMBuildCondBr(b, LLVMBuildICmp(b, LLVMIntSLT, next, n, ""), body, done);
    LLVMValueRef incoming[2] = {zero, next};
    LLVMBasicBlockRef from[2] = {entry, LLVMGetInsertBlock(b)};
    LLVMAddIncoming(i, incoming, from, 2);
    LLVMPositionBuilderAtEnd(b, done);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
}

/* float NAME_scalar(float x) = op(x): no loop, so nothing vectorises. */
static void build_scalar(LLVMModuleRef m, const host *h, const struct op *op)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef f32 = LLVMFloatTypeInContext(ctx);
    char name[64];
    snprintf(name, sizeof name, "%s_scalar", op->name);
    LLVMValueRef fn =
        add_function(m, h, name, LLVMFunctionType(f32, &f32, 1, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, ""));
    LLVMBuildRet(b, op->emit(b, LLVMGetParam(fn, 0)));
    LLVMDisposeBuilder(b);
}

/* void NAME_v8(float *out, const float *in): op applied to one
 * <8 x float> value, the vector path itself. */
static void build_vec(LLVMModuleRef m, const host *h, const struct op *op)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m);
    LLVMTypeRef ptr = LLVMPointerTypeInContext(ctx, 0);
    LLVMTypeRef v8 = LLVMVectorType(LLVMFloatTypeInContext(ctx), VEC);
    LLVMTypeRef params[2] = {ptr, ptr};
    char name[64];
    snprintf(name, sizeof name, "%s_v8", op->name);
    LLVMValueRef fn = add_function(
        m, h, name, LLVMFunctionType(LLVMVoidTypeInContext(ctx), params, 2, 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, ""));
    LLVMValueRef x = LLVMBuildLoad2(b, v8, LLVMGetParam(fn, 1), "");
    LLVMSetAlignment(x, 4);
    LLVMValueRef store = LLVMBuildStore(b, op->emit(b, x), LLVMGetParam(fn, 0));
    LLVMSetAlignment(store, 4);
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
}

static LLVMModuleRef build_module(LLVMContextRef ctx, const host *h,
                                  const char *triple, const char *layout)
{
    LLVMModuleRef m = LLVMModuleCreateWithNameInContext("vmath", ctx);
    LLVMSetTarget(m, triple);
    LLVMSetDataLayout(m, layout);
    for (int k = 0; k < OP_COUNT; k++) {
        build_loop(m, h, &ops[k]);
        build_scalar(m, h, &ops[k]);
        build_vec(m, h, &ops[k]);
    }
    em__vmath_fold_products(m);
    char *msg = NULL;
    ck_assert_msg(!LLVMVerifyModule(m, LLVMReturnStatusAction, &msg), "%s",
                  msg);
    LLVMDisposeMessage(msg);
    return m;
}

static void optimise(LLVMModuleRef m, const host *h)
{
    LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
    LLVMErrorRef err = LLVMRunPasses(m, "default<O3>", h->tm, opts);
    LLVMDisposePassBuilderOptions(opts);
    if (err) {
        char *msg = LLVMGetErrorMessage(err);
        ck_abort_msg("O3: %s", msg);
    }
}

static void check_error(LLVMErrorRef err, const char *what)
{
    if (err) {
        char *msg = LLVMGetErrorMessage(err);
        ck_abort_msg("%s: %s", what, msg);
    }
}

static uintptr_t lookup(LLVMOrcLLJITRef lljit, const char *op, const char *kind)
{
    char name[64];
    snprintf(name, sizeof name, "%s_%s", op, kind);
    LLVMOrcExecutorAddress addr = 0;
    check_error(LLVMOrcLLJITLookup(lljit, &addr, name), name);
    return (uintptr_t)addr;
}

static jit jit_open(void)
{
    jit j = {0};
    init_native();
    check_error(LLVMOrcCreateLLJIT(&j.lljit, NULL), "LLJIT");
    const char *triple = LLVMOrcLLJITGetTripleString(j.lljit);
    host h = host_open(triple);
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef m =
        build_module(LLVMOrcThreadSafeContextGetContext(tsc), &h, triple,
                     LLVMOrcLLJITGetDataLayoutStr(j.lljit));
    optimise(m, &h);
    host_close(&h);
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc);
    check_error(LLVMOrcLLJITAddLLVMIRModule(
                    j.lljit, LLVMOrcLLJITGetMainJITDylib(j.lljit), tsm),
                "add module");
    for (int k = 0; k < OP_COUNT; k++) {
        j.loop[k] = (loop_fn)lookup(j.lljit, ops[k].name, "loop");
        j.scalar[k] = (scalar_fn)lookup(j.lljit, ops[k].name, "scalar");
        j.vec[k] = (vec_fn)lookup(j.lljit, ops[k].name, "v8");
    }
    return j;
}

static void jit_close(jit *j)
{
    check_error(LLVMOrcDisposeLLJIT(j->lljit), "dispose LLJIT");
}

/* ---- measuring ---------------------------------------------------------*/

/* Float bits mapped to integers that count ulps monotonically across the
 * whole line (-0 and +0 both 0), so ulp distance is a difference. */
static int64_t ordered(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

typedef struct stats {
    int64_t max_ulp;
    float worst_x;
    int64_t checked;
} stats;

/* Compares got against the reference for x: NaN exactly where the
 * reference is NaN, otherwise the ulp distance to the correctly rounded
 * result, which must be within the op's bound. */
static void compare(const struct op *op, float x, float got, stats *s)
{
    /* plain tests rather than ck_assert: each Check assertion records a
     * location through a pipe, far too slow for millions of values */
    float want = (float)op->ref((double)x);
    if (isnan(want) || isnan(got)) {
        if (!(isnan(want) && isnan(got)))
            ck_abort_msg("%s(%a) = %a, want %a", op->name, (double)x,
                         (double)got, (double)want);
        return;
    }
    if (op->normal_only && fabsf(want) < FLT_MIN)
        return;
    int64_t d = llabs(ordered(got) - ordered(want));
    if (d > op->max_ulp)
        ck_abort_msg("%s(%a) = %a, want %a: %lld ulp", op->name, (double)x,
                     (double)got, (double)want, (long long)d);
    s->checked++;
    if (d > s->max_ulp) {
        s->max_ulp = d;
        s->worst_x = x;
    }
}

/* Every STRIDE-th float bit pattern, both signs: about 13M values, a few
 * seconds per suite in a Debug build and under the sanitizers. An odd
 * stride walks through every exponent with varied mantissa bits. */
#define STRIDE 331u
#define CHUNK (1 << 20)

static void sweep(const jit *j, int k)
{
    float *in = malloc(CHUNK * sizeof *in), *out = malloc(CHUNK * sizeof *out);
    stats s = {0};
    uint64_t u = 0;
    while (u <= UINT32_MAX) {
        int64_t n = 0;
        for (; n < CHUNK && u <= UINT32_MAX; n++, u += STRIDE)
            in[n] = from_bits((uint32_t)u);
        j->loop[k](out, in, n);
        for (int64_t i = 0; i < n; i++)
            compare(&ops[k], in[i], out[i], &s);
    }
    printf("%-8s max %lld ulp (bound %lld) at x = %a, %lld values\n",
           ops[k].name, (long long)s.max_ulp, (long long)ops[k].max_ulp,
           (double)s.worst_x, (long long)s.checked);
    free(in);
    free(out);
}

/* op applied to each x by the loop, checked against the reference; the
 * results come back in y. */
static void apply(const jit *j, int k, const float *x, float *y, int n)
{
    stats s = {0};
    j->loop[k](y, x, n);
    for (int i = 0; i < n; i++)
        compare(&ops[k], x[i], y[i], &s);
}

#define NX(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Special inputs, named so the tests below can say which they check. */
/* clang-format off */
enum {
    S_ZERO, S_NEG_ZERO, S_INF, S_NEG_INF, S_QNAN, S_NEG_QNAN, S_MIN, S_NEG_MIN,
    S_MAX, S_NEG_MAX, S_TRUE_MIN, S_NEG_TRUE_MIN, S_SUB, S_ONE, S_NEG_ONE,
    S_HALF, S_NSPECIAL
};
static const float specials[S_NSPECIAL] = {
    [S_ZERO] = 0.0f,         [S_NEG_ZERO] = -0.0f,
    [S_INF] = INFINITY,      [S_NEG_INF] = -INFINITY,
    [S_QNAN] = NAN,          [S_NEG_QNAN] = -NAN,
    [S_MIN] = FLT_MIN,       [S_NEG_MIN] = -FLT_MIN,
    [S_MAX] = FLT_MAX,       [S_NEG_MAX] = -FLT_MAX,
    [S_TRUE_MIN] = 0x1p-149f, [S_NEG_TRUE_MIN] = -0x1p-149f,
    [S_SUB] = 0x1p-140f,     [S_ONE] = 1.0f,
    [S_NEG_ONE] = -1.0f,     [S_HALF] = 0.5f,
};
/* clang-format on */

/* ---- tests -------------------------------------------------------------*/

START_TEST(exp_within_1_ulp_and_saturates)
{
    jit j = jit_open();
    sweep(&j, OP_EXP);
    /* 88.72284 is the first float whose exp exceeds FLT_MAX; below about
     * -87.34 results are subnormal, below -103.97 they round to 0 */
    float x[] = {88.72283f, 88.72284f, 89.0f,     100.0f,  -87.3f,
                 -87.34f,   -90.0f,    -100.0f,   -103.2f, -103.97f,
                 -103.98f,  -104.0f,   -200.0f,   1e-7f,   -1e-7f,
                 0.34657f,  -0.34657f, 0.6931472f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_EXP, x, y, NX(x));
    ck_assert(y[0] < INFINITY);
    for (int i = 1; i <= 3; i++)
        ck_assert(y[i] == INFINITY);
    ck_assert(y[4] >= FLT_MIN && y[5] < FLT_MIN && y[5] > 0);
    ck_assert(y[9] == 0x1p-149f); /* exp(-103.97) ~ 0.52 * 2^-149 */
    ck_assert(y[10] == 0 && y[11] == 0 && y[12] == 0);
    apply(&j, OP_EXP, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 1 && ys[S_NEG_ZERO] == 1 && ys[S_MIN] == 1 &&
              ys[S_TRUE_MIN] == 1);
    ck_assert(ys[S_INF] == INFINITY && ys[S_NEG_INF] == 0 &&
              !signbit(ys[S_NEG_INF]));
    ck_assert(isnan(ys[S_QNAN]) && isnan(ys[S_NEG_QNAN]));
    ck_assert(ys[S_MAX] == INFINITY && ys[S_NEG_MAX] == 0);
    jit_close(&j);
}
END_TEST

START_TEST(log_within_1_ulp_with_ieee_specials)
{
    jit j = jit_open();
    sweep(&j, OP_LOG);
    float x[] = {
        0x1p-149f,  0x1.fffffep-127f, 0x1p-130f,   0.70710677f, 0.7071068f,
        1.4142135f, 1.4142137f,       0.99999994f, 1.00000012f, 2.0f,
        1e30f,      -1e-30f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_LOG, x, y, NX(x));
    ck_assert(isnan(y[11]));
    apply(&j, OP_LOG, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == -INFINITY && ys[S_NEG_ZERO] == -INFINITY);
    ck_assert(ys[S_INF] == INFINITY && isnan(ys[S_NEG_INF]));
    ck_assert(isnan(ys[S_QNAN]) && isnan(ys[S_NEG_QNAN]) &&
              isnan(ys[S_NEG_MIN]) && isnan(ys[S_NEG_MAX]));
    ck_assert(isnan(ys[S_NEG_TRUE_MIN]) && isnan(ys[S_NEG_ONE]));
    ck_assert(ys[S_ONE] == 0 && !signbit(ys[S_ONE])); /* log(1) = +0 exactly */
    jit_close(&j);
}
END_TEST

START_TEST(tanh_within_1_ulp_odd_and_saturating)
{
    jit j = jit_open();
    sweep(&j, OP_TANH);
    /* both sides of the switch from polynomial to exp at 0.625; below
     * 9.0109 tanh rounds to 1 - 2^-24, not 1, though exp(-2x) is already
     * too small to change 1 + exp(-2x) from 8.67 up */
    float x[] = {0.6249999f, 0.625f, 0.6250001f, -0.625f, 1e-4f, -1e-4f,
                 1e-20f,     3e-39f, 9.0f,       -9.0f,   20.0f, -50.0f,
                 8.7f,       -8.94f, 9.0109f,    9.0112f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_TANH, x, y, NX(x));
    ck_assert(y[10] == 1 && y[11] == -1);
    ck_assert(y[8] == 0x1.fffffep-1f && y[9] == -0x1.fffffep-1f);
    ck_assert(y[12] == 0x1.fffffep-1f && y[13] == -0x1.fffffep-1f);
    ck_assert(y[14] == 0x1.fffffep-1f && y[15] == 1);
    ck_assert(y[6] == 1e-20f && y[7] == 3e-39f);
    apply(&j, OP_TANH, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 0 && !signbit(ys[S_ZERO]));
    ck_assert(ys[S_NEG_ZERO] == 0 && signbit(ys[S_NEG_ZERO]));
    ck_assert(ys[S_INF] == 1 && ys[S_NEG_INF] == -1 && isnan(ys[S_QNAN]) &&
              isnan(ys[S_NEG_QNAN]));
    ck_assert(ys[S_MAX] == 1 && ys[S_NEG_MAX] == -1);
    ck_assert(ys[S_TRUE_MIN] == 0x1p-149f && ys[S_NEG_TRUE_MIN] == -0x1p-149f);
    jit_close(&j);
}
END_TEST

START_TEST(sigmoid_within_2_ulp_for_both_signs)
{
    jit j = jit_open();
    sweep(&j, OP_SIGMOID);
    float x[] = {1e-8f, -1e-8f, 5.0f,   -5.0f,  16.0f, -16.0f,
                 17.0f, -30.0f, -80.0f, -87.0f, 88.0f, -88.0f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_SIGMOID, x, y, NX(x));
    ck_assert(y[10] == 1.0f);
    ck_assert(y[11] > 0 && y[11] < FLT_MIN); /* subnormal, not flushed */
    apply(&j, OP_SIGMOID, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 0.5f && ys[S_NEG_ZERO] == 0.5f);
    ck_assert(ys[S_INF] == 1 && ys[S_NEG_INF] == 0 && isnan(ys[S_QNAN]) &&
              isnan(ys[S_NEG_QNAN]));
    ck_assert(ys[S_MAX] == 1 && ys[S_NEG_MAX] == 0);
    jit_close(&j);
}
END_TEST

START_TEST(expm1_within_1_ulp_and_exact_near_0)
{
    jit j = jit_open();
    sweep(&j, OP_EXPM1);
    /* near 0, where exp(x) - 1 would cancel; around the reduction's
     * switch points +-ln2/2 */
    float x[] = {1e-10f,    -1e-10f,    1e-5f,      -1e-5f,      0x1p-126f,
                 0x1p-140f, 0.3465735f, 0.3465736f, -0.3465736f, 0.35f,
                 -17.0f,    -25.0f,     -88.0f,     88.72283f,   88.72284f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_EXPM1, x, y, NX(x));
    ck_assert(y[0] == 1e-10f && y[4] == 0x1p-126f && y[5] == 0x1p-140f);
    ck_assert(y[11] == -1 && y[12] == -1);
    ck_assert(y[13] < INFINITY && y[14] == INFINITY);
    apply(&j, OP_EXPM1, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 0 && !signbit(ys[S_ZERO]));
    ck_assert(ys[S_NEG_ZERO] == 0 && signbit(ys[S_NEG_ZERO]));
    ck_assert(ys[S_INF] == INFINITY && ys[S_NEG_INF] == -1);
    ck_assert(isnan(ys[S_QNAN]) && isnan(ys[S_NEG_QNAN]));
    ck_assert(ys[S_MAX] == INFINITY && ys[S_NEG_MAX] == -1);
    ck_assert(ys[S_TRUE_MIN] == 0x1p-149f && ys[S_NEG_TRUE_MIN] == -0x1p-149f);
    jit_close(&j);
}
END_TEST

START_TEST(log1p_within_1_ulp_with_ieee_specials)
{
    jit j = jit_open();
    sweep(&j, OP_LOG1P);
    float x[] = {1e-10f,       -1e-10f, 1e-5f,        -1e-5f, 0x1p-126f,
                 0x1p-140f,    0.414f,  0.4142136f,   -0.29f, -0.2929f,
                 -0.99999994f, 1e30f,   -1.00000012f, 3.0f};
    float y[NX(x)], ys[S_NSPECIAL];
    apply(&j, OP_LOG1P, x, y, NX(x));
    ck_assert(y[0] == 1e-10f && y[4] == 0x1p-126f && y[5] == 0x1p-140f);
    ck_assert(isnan(y[12]));
    apply(&j, OP_LOG1P, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 0 && !signbit(ys[S_ZERO]));
    ck_assert(ys[S_NEG_ZERO] == 0 && signbit(ys[S_NEG_ZERO]));
    ck_assert(ys[S_INF] == INFINITY && isnan(ys[S_NEG_INF]));
    ck_assert(isnan(ys[S_QNAN]) && isnan(ys[S_NEG_QNAN]) &&
              isnan(ys[S_NEG_MAX]));
    ck_assert(ys[S_NEG_ONE] == -INFINITY); /* log1p(-1) */
    ck_assert(ys[S_TRUE_MIN] == 0x1p-149f && ys[S_NEG_TRUE_MIN] == -0x1p-149f);
    jit_close(&j);
}
END_TEST

/* The module of every op's functions, built for the host but not
 * compiled, for tests that read its IR. */
typedef struct built {
    LLVMContextRef ctx;
    char *triple, *layout;
    host h;
    LLVMTargetDataRef td;
    LLVMModuleRef m;
} built;

static built built_open(void)
{
    built b = {.ctx = LLVMContextCreate(),
               .triple = LLVMGetDefaultTargetTriple()};
    b.h = host_open(b.triple);
    b.td = LLVMCreateTargetDataLayout(b.h.tm);
    b.layout = LLVMCopyStringRepOfTargetData(b.td);
    b.m = build_module(b.ctx, &b.h, b.triple, b.layout);
    return b;
}

static void built_close(built *b)
{
    LLVMDisposeModule(b->m);
    LLVMDisposeMessage(b->layout);
    LLVMDisposeTargetData(b->td);
    host_close(&b->h);
    LLVMDisposeMessage(b->triple);
    LLVMContextDispose(b->ctx);
}

/* The number of fdiv instructions in a function. */
static int divisions(LLVMValueRef fn)
{
    int n = 0;
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;
         bb = LLVMGetNextBasicBlock(bb))
        for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in;
             in = LLVMGetNextInstruction(in))
            n += LLVMGetInstructionOpcode(in) == LLVMFDiv;
    return n;
}

START_TEST(tanh_sigmoid_product_is_one_division)
{
    built b = built_open();
    ck_assert_int_eq(divisions(LLVMGetNamedFunction(b.m, "tanh_scalar")), 1);
    ck_assert_int_eq(
        divisions(LLVMGetNamedFunction(b.m, "tanh_sigmoid_scalar")), 1);
    ck_assert_int_eq(divisions(LLVMGetNamedFunction(b.m, "tanh_sigmoid_v8")),
                     1);
    built_close(&b);

    jit j = jit_open();
    sweep(&j, OP_TANH_SIGMOID);
    float ys[S_NSPECIAL];
    apply(&j, OP_TANH_SIGMOID, specials, ys, S_NSPECIAL);
    ck_assert(ys[S_ZERO] == 0 && !signbit(ys[S_ZERO]));
    ck_assert(ys[S_NEG_ZERO] == 0 && signbit(ys[S_NEG_ZERO]));
    ck_assert(ys[S_INF] == 1 && ys[S_NEG_INF] == 0);
    ck_assert(isnan(ys[S_QNAN]) && isnan(ys[S_NEG_QNAN]));
    ck_assert(ys[S_MAX] == 1 && ys[S_NEG_MAX] == 0);
    jit_close(&j);
}
END_TEST

/* Bitwise equality, NaN matching any NaN. */
static bool same(float a, float b)
{
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    return (isnan(a) && isnan(b)) || ua == ub;
}

START_TEST(vector_values_match_scalar_results)
{
    jit j = jit_open();
    enum { N = 64 };
    float x[N];
    memcpy(x, specials, sizeof specials);
    double *r = test_random_values(7, N - S_NSPECIAL, -30.0, 30.0);
    for (int i = S_NSPECIAL; i < N; i++)
        x[i] = (float)(i % 3 ? r[i - S_NSPECIAL] : r[i - S_NSPECIAL] / 100.0);
    free(r);
    for (int k = 0; k < OP_COUNT; k++)
        for (int i = 0; i < N; i += VEC) {
            float y[VEC];
            j.vec[k](y, x + i);
            for (int l = 0; l < VEC; l++) {
                float want = j.scalar[k](x[i + l]);
                ck_assert_msg(same(y[l], want), "%s(%a): vector %a, scalar %a",
                              ops[k].name, (double)x[i + l], (double)y[l],
                              (double)want);
            }
        }
    jit_close(&j);
}
END_TEST

/* Whether IR text holds a value of some <N x float> type. */
static bool has_float_vector(const char *ir)
{
    for (const char *p = strchr(ir, '<'); p; p = strchr(p + 1, '<')) {
        char *end;
        strtol(p + 1, &end, 10);
        if (end != p + 1 && strncmp(end, " x float>", 9) == 0)
            return true;
    }
    return false;
}

START_TEST(emitted_ir_calls_only_intrinsics)
{
    built b = built_open();
    for (LLVMValueRef fn = LLVMGetFirstFunction(b.m); fn;
         fn = LLVMGetNextFunction(fn))
        for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;
             bb = LLVMGetNextBasicBlock(bb))
            for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in;
                 in = LLVMGetNextInstruction(in)) {
                if (LLVMGetInstructionOpcode(in) != LLVMCall)
                    continue;
                LLVMValueRef callee = LLVMGetCalledValue(in);
                size_t len;
                ck_assert_msg(LLVMGetIntrinsicID(callee) != 0, "%s calls %s",
                              LLVMGetValueName2(fn, &len),
                              LLVMGetValueName2(callee, &len));
            }
    built_close(&b);
}
END_TEST

START_TEST(loops_vectorise_at_o3)
{
    built b = built_open();
    optimise(b.m, &b.h);
    for (int k = 0; k < OP_COUNT; k++) {
        char name[64];
        snprintf(name, sizeof name, "%s_loop", ops[k].name);
        char *ir = LLVMPrintValueToString(LLVMGetNamedFunction(b.m, name));
        bool vectorised = has_float_vector(ir);
        LLVMDisposeMessage(ir);
        ck_assert_msg(vectorised, "%s was not vectorised", name);
    }
    built_close(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jit_vmath");
    TCase *tc = test_case(s, "jit_vmath");
    tcase_add_test(tc, exp_within_1_ulp_and_saturates);
    tcase_add_test(tc, log_within_1_ulp_with_ieee_specials);
    tcase_add_test(tc, tanh_within_1_ulp_odd_and_saturating);
    tcase_add_test(tc, sigmoid_within_2_ulp_for_both_signs);
    tcase_add_test(tc, expm1_within_1_ulp_and_exact_near_0);
    tcase_add_test(tc, log1p_within_1_ulp_with_ieee_specials);
    tcase_add_test(tc, tanh_sigmoid_product_is_one_division);
    tcase_add_test(tc, vector_values_match_scalar_results);
    tcase_add_test(tc, emitted_ir_calls_only_intrinsics);
    tcase_add_test(tc, loops_vectorise_at_o3);
    return test_run(s);
}
