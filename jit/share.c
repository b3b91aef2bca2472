/*
 * jit/share.c - one function for loop groups whose code is the same.
 *
 * The optimiser's update of each parameter, the elementwise gradients of
 * layers of one width: a training step repeats loops that differ only in
 * the buffers they are given and in their outer range, both arguments of
 * a loop function. Functions whose code is the same as an earlier one's
 * are replaced by it, which spares code generation their copies.
 *
 * Code is compared instruction by instruction through LLVM's C API:
 * opcodes, types, flags, and operands that are the same constant or global,
 * or the same argument, block or instruction by position. An instruction
 * of a kind not listed below makes its function unshared.
 */
#include <stdlib.h>
#include <string.h>

#include "jit_internal.h"

/* A function's blocks and instructions, in order. */
typedef struct code {
    LLVMValueRef fn;
    int n_blocks, n_insts;
    LLVMBasicBlockRef *blocks;
    LLVMValueRef *insts;
    int *block_of; /* per instruction */
    unsigned hash;
} code;

static void code_free(code *c)
{
    free(c->blocks);
    free(c->insts);
    free(c->block_of);
}

static bool code_make(code *c, LLVMValueRef fn)
{
    *c = (code){.fn = fn};
    int nb = (int)LLVMCountBasicBlocks(fn), ni = 0;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(fn); b;
         b = LLVMGetNextBasicBlock(b))
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i;
             i = LLVMGetNextInstruction(i))
            ni++;
    c->blocks = malloc(sizeof *c->blocks * ((size_t)nb + 1));
    c->insts = malloc(sizeof *c->insts * ((size_t)ni + 1));
    c->block_of = malloc(sizeof *c->block_of * ((size_t)ni + 1));
    if (!c->blocks || !c->insts || !c->block_of) {
        code_free(c);
        return false;
    }
    unsigned h = (unsigned)nb;
    for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(fn); b;
         b = LLVMGetNextBasicBlock(b)) {
        c->blocks[c->n_blocks] = b;
        for (LLVMValueRef i = LLVMGetFirstInstruction(b); i;
             i = LLVMGetNextInstruction(i)) {
            c->block_of[c->n_insts] = c->n_blocks;
            c->insts[c->n_insts++] = i;
            h = h * 31u + (unsigned)LLVMGetInstructionOpcode(i);
        }
        c->n_blocks++;
    }
    c->hash = h;
    return true;
}

static int index_of(const LLVMValueRef *list, int n, LLVMValueRef v)
{
    for (int k = 0; k < n; k++)
        if (list[k] == v)
            return k;
    return -1;
}

static int block_index(const code *c, LLVMBasicBlockRef b)
{
    for (int k = 0; k < c->n_blocks; k++)
        if (c->blocks[k] == b)
            return k;
    return -1;
}

static int param_index(LLVMValueRef fn, LLVMValueRef v)
{
    unsigned n = LLVMCountParams(fn);
    for (unsigned k = 0; k < n; k++)
        if (LLVMGetParam(fn, k) == v)
            return (int)k;
    return -1;
}

/* x in a and y in b play the same part. */
static bool same_value(const code *a, LLVMValueRef x, const code *b,
                       LLVMValueRef y)
{
    bool block = LLVMValueIsBasicBlock(x);
    if (block != (bool)LLVMValueIsBasicBlock(y))
        return false;
    if (block)
        return block_index(a, LLVMValueAsBasicBlock(x)) ==
               block_index(b, LLVMValueAsBasicBlock(y));
    bool inst = LLVMIsAInstruction(x) != NULL;
    if (inst != (LLVMIsAInstruction(y) != NULL))
        return false;
    if (inst) {
        int k = index_of(a->insts, a->n_insts, x);
        return k >= 0 && k == index_of(b->insts, b->n_insts, y);
    }
    bool arg = LLVMIsAArgument(x) != NULL;
    if (arg != (LLVMIsAArgument(y) != NULL))
        return false;
    if (arg)
        return param_index(a->fn, x) == param_index(b->fn, y);
    return x == y; /* constants and globals are unique */
}

/* The attributes at index i of a function (call false) or call site. */
static bool same_attributes(LLVMValueRef x, LLVMValueRef y, unsigned i,
                            bool call)
{
    unsigned n = call ? LLVMGetCallSiteAttributeCount(x, i)
                      : LLVMGetAttributeCountAtIndex(x, i);
    unsigned m = call ? LLVMGetCallSiteAttributeCount(y, i)
                      : LLVMGetAttributeCountAtIndex(y, i);
    if (n != m)
        return false;
    if (n == 0)
        return true;
    LLVMAttributeRef *ax = malloc(sizeof *ax * n);
    LLVMAttributeRef *ay = malloc(sizeof *ay * n);
    bool same = ax && ay;
    if (same) {
        if (call) {
            LLVMGetCallSiteAttributes(x, i, ax);
            LLVMGetCallSiteAttributes(y, i, ay);
        } else {
            LLVMGetAttributesAtIndex(x, i, ax);
            LLVMGetAttributesAtIndex(y, i, ay);
        }
        same = memcmp(ax, ay, sizeof *ax * n) == 0; /* sorted, unique */
    }
    free(ax);
    free(ay);
    return same;
}

static bool same_signature(LLVMValueRef f, LLVMValueRef g, bool call)
{
    unsigned n = call ? LLVMGetNumArgOperands(f) : LLVMCountParams(f);
    if (!same_attributes(f, g, LLVMAttributeFunctionIndex, call) ||
        !same_attributes(f, g, LLVMAttributeReturnIndex, call))
        return false;
    for (unsigned k = 1; k <= n; k++)
        if (!same_attributes(f, g, k, call))
            return false;
    return true;
}

/* The flags and properties beyond type and operands. */
static bool same_properties(const code *a, LLVMValueRef x, const code *b,
                            LLVMValueRef y)
{
    if (LLVMCanValueUseFastMathFlags(x) &&
        LLVMGetFastMathFlags(x) != LLVMGetFastMathFlags(y))
        return false;
    switch (LLVMGetInstructionOpcode(x)) {
    case LLVMAdd:
    case LLVMSub:
    case LLVMMul:
    case LLVMShl:
        return LLVMGetNSW(x) == LLVMGetNSW(y) && LLVMGetNUW(x) == LLVMGetNUW(y);
    case LLVMUDiv:
    case LLVMSDiv:
    case LLVMLShr:
    case LLVMAShr:
        return LLVMGetExact(x) == LLVMGetExact(y);
    case LLVMOr:
        return LLVMGetIsDisjoint(x) == LLVMGetIsDisjoint(y);
    case LLVMZExt:
        return LLVMGetNNeg(x) == LLVMGetNNeg(y);
    case LLVMICmp:
        return LLVMGetICmpPredicate(x) == LLVMGetICmpPredicate(y);
    case LLVMFCmp:
        return LLVMGetFCmpPredicate(x) == LLVMGetFCmpPredicate(y);
    case LLVMLoad:
    case LLVMStore:
        return LLVMGetAlignment(x) == LLVMGetAlignment(y) &&
               LLVMGetVolatile(x) == LLVMGetVolatile(y) &&
               LLVMGetOrdering(x) == LLVMGetOrdering(y);
    case LLVMAlloca:
        return LLVMGetAllocatedType(x) == LLVMGetAllocatedType(y) &&
               LLVMGetAlignment(x) == LLVMGetAlignment(y);
    case LLVMGetElementPtr:
        return LLVMGetGEPSourceElementType(x) ==
                   LLVMGetGEPSourceElementType(y) &&
               LLVMGEPGetNoWrapFlags(x) == LLVMGEPGetNoWrapFlags(y);
    case LLVMCall:
        return LLVMGetCalledFunctionType(x) == LLVMGetCalledFunctionType(y) &&
               LLVMGetTailCallKind(x) == LLVMGetTailCallKind(y) &&
               LLVMGetInstructionCallConv(x) == LLVMGetInstructionCallConv(y) &&
               same_signature(x, y, true);
    case LLVMShuffleVector: {
        unsigned n = LLVMGetNumMaskElements(x);
        if (n != LLVMGetNumMaskElements(y))
            return false;
        for (unsigned k = 0; k < n; k++)
            if (LLVMGetMaskValue(x, k) != LLVMGetMaskValue(y, k))
                return false;
        return true;
    }
    case LLVMPHI: {
        unsigned n = LLVMCountIncoming(x);
        if (n != LLVMCountIncoming(y))
            return false;
        for (unsigned k = 0; k < n; k++)
            if (block_index(a, LLVMGetIncomingBlock(x, k)) !=
                block_index(b, LLVMGetIncomingBlock(y, k)))
                return false;
        return true;
    }
    case LLVMRet:
    case LLVMBr:
    case LLVMAnd:
    case LLVMXor:
    case LLVMFAdd:
    case LLVMFSub:
    case LLVMFMul:
    case LLVMFDiv:
    case LLVMFNeg:
    case LLVMSelect:
    case LLVMSExt:
    case LLVMTrunc:
    case LLVMFPExt:
    case LLVMFPTrunc:
    case LLVMFPToSI:
    case LLVMSIToFP:
    case LLVMUIToFP:
    case LLVMBitCast:
    case LLVMIntToPtr:
    case LLVMExtractElement:
    case LLVMInsertElement:
    case LLVMFreeze:
        return true;
    default: /* a kind this file does not know: never shared */
        return false;
    }
}

static bool same_code(const code *a, const code *b)
{
    if (a->hash != b->hash || a->n_insts != b->n_insts ||
        a->n_blocks != b->n_blocks ||
        LLVMGlobalGetValueType(a->fn) != LLVMGlobalGetValueType(b->fn) ||
        LLVMGetLinkage(a->fn) != LLVMGetLinkage(b->fn) ||
        !same_signature(a->fn, b->fn, false))
        return false;
    for (int k = 0; k < a->n_insts; k++) {
        LLVMValueRef x = a->insts[k], y = b->insts[k];
        int n = LLVMGetNumOperands(x);
        if (a->block_of[k] != b->block_of[k] ||
            LLVMGetInstructionOpcode(x) != LLVMGetInstructionOpcode(y) ||
            LLVMTypeOf(x) != LLVMTypeOf(y) || n != LLVMGetNumOperands(y) ||
            !same_properties(a, x, b, y))
            return false;
        for (int j = 0; j < n; j++)
            if (!same_value(a, LLVMGetOperand(x, (unsigned)j), b,
                            LLVMGetOperand(y, (unsigned)j)))
                return false;
    }
    return true;
}

static bool is_loop_function(LLVMValueRef fn)
{
    size_t len;
    const char *name = LLVMGetValueName2(fn, &len);
    return !LLVMIsDeclaration(fn) && len >= 4 && strncmp(name, "loop", 4) == 0;
}

void em__jit_share_loops(LLVMModuleRef module)
{
    int n = 0;
    for (LLVMValueRef fn = LLVMGetFirstFunction(module); fn;
         fn = LLVMGetNextFunction(fn))
        n += is_loop_function(fn);
    code *kept = calloc((size_t)n + 1, sizeof *kept);
    LLVMValueRef *gone = calloc((size_t)n + 1, sizeof *gone);
    if (!kept || !gone) {
        free(kept);
        free(gone);
        return;
    }
    int n_kept = 0, n_gone = 0;
    for (LLVMValueRef fn = LLVMGetFirstFunction(module); fn;
         fn = LLVMGetNextFunction(fn)) {
        if (!is_loop_function(fn) || !code_make(&kept[n_kept], fn))
            continue;
        int k = 0;
        while (k < n_kept && !same_code(&kept[k], &kept[n_kept]))
            k++;
        if (k == n_kept) {
            n_kept++;
            continue;
        }
        LLVMReplaceAllUsesWith(fn, kept[k].fn);
        gone[n_gone++] = fn;
        code_free(&kept[n_kept]);
    }
    for (int k = 0; k < n_kept; k++)
        code_free(&kept[k]);
    for (int k = 0; k < n_gone; k++)
        LLVMDeleteFunction(gone[k]);
    free(kept);
    free(gone);
}
