/*
 * jit/vmath.h - elementwise maths emitted as plain LLVM IR (arithmetic,
 * bit casts, selects; no calls), so that the loop vectoriser widens it to
 * whatever vector width the host has. Each function takes the builder and
 * a float (float32) value, scalar or vector, and returns the result of the
 * same type. Accuracy against the correctly rounded result, over the whole
 * float range (checked by tests/test_jit_vmath.c):
 *
 *   exp      <= 1 ulp; overflow to +inf, underflow through subnormals to 0
 *   log      <= 1 ulp; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf
 *   tanh     <= 1 ulp
 *   sigmoid  <= 2 ulp where the result is normal
 *   expm1    <= 1 ulp
 *   log1p    <= 1 ulp
 * (the largest errors over every float, measured once; the test sweeps a
 * stride of them).
 *
 * NaN in gives NaN out. Nothing here sets fast-math flags: the polynomial
 * evaluation order is part of the accuracy.
 */
#ifndef EMBER_JIT_VMATH_H
#define EMBER_JIT_VMATH_H

#include <llvm-c/Core.h>

LLVMValueRef em__vmath_exp(LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef em__vmath_log(LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef em__vmath_tanh(LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef em__vmath_sigmoid(LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef em__vmath_expm1(LLVMBuilderRef b, LLVMValueRef x);
LLVMValueRef em__vmath_log1p(LLVMBuilderRef b, LLVMValueRef x);

/* tanh and sigmoid end in a division. Where the product of two such
 * results is their only use (an LSTM cell's sigmoid(o) * tanh(c), say),
 * this rewrites (a / b) * (c / d) as (a c) / (b d) in every function of
 * module: one division, the slowest vector instruction there is, instead
 * of two. tanh(x) * sigmoid(x) folded is within 6 ulp of the correctly
 * rounded product where that is normal (4 measured over every third
 * float); NaN, zeros and infinities come out as unfolded. Run it after
 * the IR is built and before it is optimised. */
void em__vmath_fold_products(LLVMModuleRef module);

#endif
