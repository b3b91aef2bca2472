/*
 * ember/ops.h - tensor operations.
 *
 * Every op runs at once on its inputs (eager mode) and, when a gradient
 * tape is recording (ember/tape.h), leaves a record on it. Every op returns a
 * new tensor owned by the innermost scope, or by the caller when no scope is
 * open (ember/tensor.h). On bad input an op returns NULL and records a
 * message naming the op, the problem and its inputs' dtypes and shapes; given
 * a NULL input it returns NULL. Axes may be negative (counted from the end).
 * Binary ops broadcast and promote dtypes as ember/tensor.h describes.
 */
#ifndef EMBER_OPS_H
#define EMBER_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise, one input ---------------------------------------------
 * Float maths converts integer and bool inputs to float32. neg, abs, sign,
 * square and relu keep integer dtypes. Conventions at kinks (tested):
 * d/dx relu(0) = 0, d/dx abs(0) = 0, d/dx step = 0, d/dx sign = 0,
 * d/dx sqrt(0) = +inf (as in every framework). */
em_tensor *em_neg(em_tensor *x);
em_tensor *em_abs(em_tensor *x);
em_tensor *em_sign(em_tensor *x);
em_tensor *em_exp(em_tensor *x);
em_tensor *em_log(em_tensor *x);
em_tensor *em_log1p(em_tensor *x);
em_tensor *em_sqrt(em_tensor *x);
em_tensor *em_rsqrt(em_tensor *x);
em_tensor *em_square(em_tensor *x);
em_tensor *em_reciprocal(em_tensor *x);
em_tensor *em_sin(em_tensor *x);
em_tensor *em_cos(em_tensor *x);
em_tensor *em_tanh(em_tensor *x);
/* 1 / (1 + exp(-x)), computed without overflow for large |x|. */
em_tensor *em_sigmoid(em_tensor *x);
em_tensor *em_relu(em_tensor *x);
/* x for x > 0, alpha * x otherwise. */
em_tensor *em_leaky_relu(em_tensor *x, double alpha);
/* x for x > 0, alpha * (exp(x) - 1) otherwise. */
em_tensor *em_elu(em_tensor *x, double alpha);
/* x * Phi(x) with the exact normal CDF (erf form, as PyTorch's default). */
em_tensor *em_gelu(em_tensor *x);
/* The error function, 2/sqrt(pi) times the integral of exp(-t^2) from 0
 * to x. */
em_tensor *em_erf(em_tensor *x);
/* log(1 + exp(x)), stable for large |x|. */
em_tensor *em_softplus(em_tensor *x);
/* Heaviside step: 1 where x > 0, else 0, in x's dtype (the perceptron's
 * activation). Its gradient is zero. */
em_tensor *em_step(em_tensor *x);

/* ---- elementwise, two inputs -------------------------------------------
 * Arithmetic on two bool tensors is an error (use the logical ops). Integer
 * division truncates toward zero; division by integer zero gives 0. */
em_tensor *em_add(em_tensor *a, em_tensor *b);
em_tensor *em_sub(em_tensor *a, em_tensor *b);
em_tensor *em_mul(em_tensor *a, em_tensor *b);
em_tensor *em_div(em_tensor *a, em_tensor *b);
/* a ** b for float operands (integers are converted to float32). The
 * gradient to b is 0 (not NaN) where a == 0, and to a is 0 where b == 0. */
em_tensor *em_pow(em_tensor *a, em_tensor *b);
/* At ties, the gradient is split evenly between a and b (as in JAX). */
em_tensor *em_maximum(em_tensor *a, em_tensor *b);
em_tensor *em_minimum(em_tensor *a, em_tensor *b);

/* Scalar shortcuts: the scalar takes x's dtype, so a float32 tensor stays
 * float32. */
em_tensor *em_add_scalar(em_tensor *x, double s);
em_tensor *em_mul_scalar(em_tensor *x, double s);
em_tensor *em_pow_scalar(em_tensor *x, double s);

/* Comparisons give bool tensors; no gradient flows through them. */
em_tensor *em_equal(em_tensor *a, em_tensor *b);
em_tensor *em_not_equal(em_tensor *a, em_tensor *b);
em_tensor *em_less(em_tensor *a, em_tensor *b);
em_tensor *em_less_equal(em_tensor *a, em_tensor *b);
em_tensor *em_greater(em_tensor *a, em_tensor *b);
em_tensor *em_greater_equal(em_tensor *a, em_tensor *b);

/* Logical ops take any dtype (non-zero is true) and give bool. */
em_tensor *em_logical_and(em_tensor *a, em_tensor *b);
em_tensor *em_logical_or(em_tensor *a, em_tensor *b);
em_tensor *em_logical_not(em_tensor *x);

/* cond ? a : b elementwise, all three broadcast together; cond is converted
 * to bool. The gradient reaches only the branch taken, and is exactly zero
 * (never NaN) on the other, whatever that branch computed. */
em_tensor *em_where(em_tensor *cond, em_tensor *a, em_tensor *b);

/* ---- reductions -----------------------------------------------------------
 * `axes` lists naxes distinct axes; naxes == 0 reduces over every axis.
 * keepdims keeps reduced axes with size 1. Reducing an empty axis gives 0
 * for sum, NaN for mean and variance, -inf/+inf for max/min, -inf for
 * logsumexp; argmax/argmin of an empty axis is an error. */
em_tensor *em_sum(em_tensor *x, int naxes, const int *axes, bool keepdims);
em_tensor *em_mean(em_tensor *x, int naxes, const int *axes, bool keepdims);
/* At ties the gradient is shared evenly among the maxima. */
em_tensor *em_max(em_tensor *x, int naxes, const int *axes, bool keepdims);
em_tensor *em_min(em_tensor *x, int naxes, const int *axes, bool keepdims);
/* Population variance (divides by n, as NumPy's default). */
em_tensor *em_variance(em_tensor *x, int naxes, const int *axes, bool keepdims);
/* log(sum(exp(x))), stable for large |x|. */
em_tensor *em_logsumexp(em_tensor *x, int naxes, const int *axes,
                        bool keepdims);
/* Index (int64) of the first maximum / minimum along one axis. */
em_tensor *em_argmax(em_tensor *x, int axis, bool keepdims);
em_tensor *em_argmin(em_tensor *x, int axis, bool keepdims);

/* ---- matrix product -------------------------------------------------------
 * [..., m, k] @ [..., k, n] -> [..., m, n]; leading (batch) dimensions
 * broadcast. A 1-d operand is not promoted: both must have at least two
 * dimensions. transpose_a / transpose_b use the operand's last two
 * dimensions swapped. float32 and float64 only, through BLAS. */
em_tensor *em_matmul(em_tensor *a, em_tensor *b, bool transpose_a,
                     bool transpose_b);

/* ---- shape ----------------------------------------------------------------*/

/* Same elements, new shape; one entry may be -1 (inferred). Shares storage
 * with x. */
em_tensor *em_reshape(em_tensor *x, int ndim, const int64_t *shape);
/* Output dimension i is input dimension perm[i]. */
em_tensor *em_permute(em_tensor *x, const int *perm);
/* Swaps the last two dimensions. */
em_tensor *em_transpose(em_tensor *x);
/* Inserts a dimension of size 1 at `axis` (in [-ndim-1, ndim]). */
em_tensor *em_expand_dims(em_tensor *x, int axis);
/* Removes the listed size-1 axes; naxes == 0 removes all of them. */
em_tensor *em_squeeze(em_tensor *x, int naxes, const int *axes);
em_tensor *em_broadcast_to(em_tensor *x, int ndim, const int64_t *shape);
/* Joins n tensors along an existing axis; other dimensions must match. */
em_tensor *em_concat(int n, em_tensor *const *xs, int axis);
/* Joins n same-shaped tensors along a new axis. */
em_tensor *em_stack(int n, em_tensor *const *xs, int axis);
/* Python-style slicing per axis: start, stop (exclusive) and step, each of
 * ndim entries. Negative start/stop count from the end and are clamped;
 * step may be negative but not 0. NULL start and stop take the whole axis
 * in the step's direction (x[::-1] with step -1); NULL step means 1. Use
 * INT64_MAX in stop for "to the end" and INT64_MIN for "to the beginning"
 * with a negative step. */
em_tensor *em_slice(em_tensor *x, const int64_t *start, const int64_t *stop,
                    const int64_t *step);
/* Picks entries of x along `axis` with integer `indices`: the output shape
 * is x's shape with that axis replaced by the indices' shape. Out-of-range
 * indices are an error (negative ones count from the end). */
em_tensor *em_gather(em_tensor *x, em_tensor *indices, int axis);
/* [...] integer labels -> [..., depth] with 1 at the label, in `dtype`.
 * Labels outside [0, depth) are an error. */
em_tensor *em_one_hot(em_tensor *labels, int64_t depth, em_dtype dtype);
/* Converts to `dtype` (floats to integers truncate toward zero; anything to
 * bool is "not zero"). Gradient flows between float dtypes only. */
em_tensor *em_cast(em_tensor *x, em_dtype dtype);
/* A new tensor with its own copy of the elements. */
em_tensor *em_copy(em_tensor *x);
/* Identity whose gradient is cut: a tape records nothing through it. */
em_tensor *em_stop_gradient(em_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
