/* em_trace_fn over every public op: a traced call run by the executor
 * gives bit-for-bit the eager result (it runs the same kernels), on
 * broadcast shapes, several dtypes and zero-size tensors, and a second call
 * with new values reuses the trace. The same cases compiled to native code
 * match eager within a few float32 ulp (the vectorised maths and the
 * reassociated sums of jit/), integers and bools exactly. Also tapes inside
 * a trace: traced gradients equal eager ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- the op table -------------------------------------------------------*/

/* One input: dtype, shape and the range its values are drawn from. Integer
 * inputs are drawn as float64 and truncated; bool inputs are x > 0. */
typedef struct in_spec {
    em_dtype dtype;
    int ndim;
    int64_t shape[4];
    double lo, hi;
} in_spec;

typedef struct op_case {
    const char *name;
    em_traced_body body;
    int n;
    in_spec in[3];
} op_case;

#define BODY(fn, expr)                                                         \
    static int fn(int n, em_tensor *const *in, int max, em_tensor **out,       \
                  void *user)                                                  \
    {                                                                          \
        (void)n, (void)max, (void)user;                                        \
        out[0] = (expr);                                                       \
        return out[0] ? 1 : -1;                                                \
    }

/* elementwise, one input */
BODY(b_neg, em_neg(in[0]))
BODY(b_abs, em_abs(in[0]))
BODY(b_sign, em_sign(in[0]))
BODY(b_exp, em_exp(in[0]))
BODY(b_log, em_log(in[0]))
BODY(b_log1p, em_log1p(in[0]))
BODY(b_sqrt, em_sqrt(in[0]))
BODY(b_rsqrt, em_rsqrt(in[0]))
BODY(b_square, em_square(in[0]))
BODY(b_reciprocal, em_reciprocal(in[0]))
BODY(b_sin, em_sin(in[0]))
BODY(b_cos, em_cos(in[0]))
BODY(b_tanh, em_tanh(in[0]))
BODY(b_sigmoid, em_sigmoid(in[0]))
BODY(b_relu, em_relu(in[0]))
BODY(b_leaky_relu, em_leaky_relu(in[0], 0.1))
BODY(b_elu, em_elu(in[0], 0.7))
BODY(b_gelu, em_gelu(in[0]))
BODY(b_softplus, em_softplus(in[0]))
BODY(b_step, em_step(in[0]))

/* elementwise, two inputs */
BODY(b_add, em_add(in[0], in[1]))
BODY(b_sub, em_sub(in[0], in[1]))
BODY(b_mul, em_mul(in[0], in[1]))
BODY(b_div, em_div(in[0], in[1]))
BODY(b_pow, em_pow(in[0], in[1]))
BODY(b_maximum, em_maximum(in[0], in[1]))
BODY(b_minimum, em_minimum(in[0], in[1]))
BODY(b_add_scalar, em_add_scalar(in[0], 2.5))
BODY(b_mul_scalar, em_mul_scalar(in[0], -3.25))
BODY(b_pow_scalar, em_pow_scalar(in[0], 1.5))
BODY(b_equal, em_equal(in[0], in[1]))
BODY(b_not_equal, em_not_equal(in[0], in[1]))
BODY(b_less, em_less(in[0], in[1]))
BODY(b_less_equal, em_less_equal(in[0], in[1]))
BODY(b_greater, em_greater(in[0], in[1]))
BODY(b_greater_equal, em_greater_equal(in[0], in[1]))
BODY(b_logical_and, em_logical_and(in[0], in[1]))
BODY(b_logical_or, em_logical_or(in[0], in[1]))
BODY(b_logical_not, em_logical_not(in[0]))
BODY(b_where, em_where(in[0], in[1], in[2]))

/* reductions */
static const int axes02[] = {0, 2};
static const int axis_neg[] = {-1};
BODY(b_sum_all, em_sum(in[0], 0, NULL, false))
BODY(b_sum_axes, em_sum(in[0], 2, axes02, false))
BODY(b_sum_keep, em_sum(in[0], 2, axes02, true))
BODY(b_mean_axes, em_mean(in[0], 1, axis_neg, false))
BODY(b_mean_all_keep, em_mean(in[0], 0, NULL, true))
BODY(b_max_axes, em_max(in[0], 2, axes02, true))
BODY(b_min_axes, em_min(in[0], 1, axis_neg, false))
BODY(b_variance, em_variance(in[0], 2, axes02, false))
BODY(b_logsumexp, em_logsumexp(in[0], 1, axis_neg, true))
BODY(b_argmax, em_argmax(in[0], 1, false))
BODY(b_argmax_keep, em_argmax(in[0], -1, true))
BODY(b_argmin, em_argmin(in[0], 0, true))

/* matrix product */
BODY(b_matmul, em_matmul(in[0], in[1], false, false))
BODY(b_matmul_ta, em_matmul(in[0], in[1], true, false))
BODY(b_matmul_tb, em_matmul(in[0], in[1], false, true))
BODY(b_matmul_tab, em_matmul(in[0], in[1], true, true))

/* shape */
BODY(b_reshape, em_reshape(in[0], 2, (const int64_t[]){-1, 6}))
BODY(b_permute, em_permute(in[0], (const int[]){2, 0, 1}))
BODY(b_transpose, em_transpose(in[0]))
BODY(b_expand_dims, em_expand_dims(in[0], -2))
BODY(b_squeeze_all, em_squeeze(in[0], 0, NULL))
BODY(b_squeeze_one, em_squeeze(in[0], 1, (const int[]){-1}))
BODY(b_broadcast_to, em_broadcast_to(in[0], 3, (const int64_t[]){2, 3, 4}))
BODY(b_concat, em_concat(3, in, 1))
BODY(b_stack, em_stack(3, in, -1))
BODY(b_slice, em_slice(in[0], (const int64_t[]){-1, 1},
                       (const int64_t[]){INT64_MIN, INT64_MAX},
                       (const int64_t[]){-2, 2}))
BODY(b_slice_all, em_slice(in[0], NULL, NULL, NULL))
BODY(b_gather, em_gather(in[0], in[1], 1))
BODY(b_gather0, em_gather(in[0], in[1], 0))
BODY(b_one_hot, em_one_hot(in[0], 5, EM_FLOAT32))
BODY(b_cast_i32, em_cast(in[0], EM_INT32))
BODY(b_cast_bool, em_cast(in[0], EM_BOOL))
BODY(b_cast_f64, em_cast(in[0], EM_FLOAT64))
BODY(b_copy, em_copy(in[0]))
BODY(b_stop_gradient, em_stop_gradient(in[0]))

/* nn */
BODY(b_softmax, em_softmax(in[0], -1))
BODY(b_softmax0, em_softmax(in[0], 0))
BODY(b_log_softmax, em_log_softmax(in[0], 1))
BODY(b_mse, em_mse_loss(in[0], in[1]))
BODY(b_bce, em_bce_with_logits(in[0], in[1]))
BODY(b_sce, em_softmax_cross_entropy(in[0], in[1]))
BODY(b_sce_probs, em_softmax_cross_entropy_probs(in[0], em_softmax(in[1], -1)))
BODY(b_accuracy, em_accuracy(in[0], in[1]))

/* Several outputs from one body: the graph must keep them apart. */
static int b_several(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max, (void)user;
    em_tensor *h = em_tanh(in[0]);
    out[0] = h;
    out[1] = em_sum(h, 1, (const int[]){0}, false);
    out[2] = in[0]; /* an input passed straight through */
    return 3;
}

#define S0_SCALAR                                                              \
    0,                                                                         \
    {                                                                          \
        0                                                                      \
    }
#define S1(a)                                                                  \
    1,                                                                         \
    {                                                                          \
        a                                                                      \
    }
#define S2(a, b)                                                               \
    2,                                                                         \
    {                                                                          \
        a, b                                                                   \
    }
#define S3(a, b, c)                                                            \
    3,                                                                         \
    {                                                                          \
        a, b, c                                                                \
    }
#define S4(a, b, c, d)                                                         \
    4,                                                                         \
    {                                                                          \
        a, b, c, d                                                             \
    }
#define X(dt, shape, lo, hi)                                                   \
    {                                                                          \
        dt, shape, lo, hi                                                      \
    }
#define ANY(dt, shape)                                                         \
    {                                                                          \
        dt, shape, -2, 2                                                       \
    }
#define POS(dt, shape)                                                         \
    {                                                                          \
        dt, shape, 0.1, 3                                                      \
    }

static const op_case cases[] = {
    {"neg", b_neg, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"neg int32", b_neg, 1, {X(EM_INT32, S2(3, 4), -9, 9)}},
    {"abs", b_abs, 1, {ANY(EM_FLOAT64, S2(3, 4))}},
    {"abs int64", b_abs, 1, {X(EM_INT64, S1(7), -9, 9)}},
    {"sign", b_sign, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"sign int32", b_sign, 1, {X(EM_INT32, S1(9), -3, 3)}},
    {"exp", b_exp, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"exp int32 to float", b_exp, 1, {X(EM_INT32, S1(5), -3, 3)}},
    {"exp zero-size", b_exp, 1, {ANY(EM_FLOAT32, S2(0, 3))}},
    {"log", b_log, 1, {POS(EM_FLOAT32, S2(3, 4))}},
    {"log1p", b_log1p, 1, {POS(EM_FLOAT64, S2(3, 4))}},
    {"sqrt", b_sqrt, 1, {POS(EM_FLOAT32, S2(3, 4))}},
    {"rsqrt", b_rsqrt, 1, {POS(EM_FLOAT32, S2(3, 4))}},
    {"square", b_square, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"square int64", b_square, 1, {X(EM_INT64, S1(6), -50, 50)}},
    {"reciprocal", b_reciprocal, 1, {POS(EM_FLOAT64, S2(3, 4))}},
    {"sin", b_sin, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"cos", b_cos, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"tanh", b_tanh, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"sigmoid", b_sigmoid, 1, {X(EM_FLOAT32, S2(3, 4), -60, 60)}},
    {"relu", b_relu, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"relu int32", b_relu, 1, {X(EM_INT32, S1(8), -5, 5)}},
    {"relu zero-size", b_relu, 1, {ANY(EM_FLOAT64, S3(2, 0, 2))}},
    {"leaky_relu", b_leaky_relu, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"elu", b_elu, 1, {ANY(EM_FLOAT64, S2(3, 4))}},
    {"gelu", b_gelu, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"softplus", b_softplus, 1, {X(EM_FLOAT32, S2(3, 4), -40, 40)}},
    {"step", b_step, 1, {ANY(EM_FLOAT32, S2(3, 4))}},

    {"add broadcast",
     b_add,
     2,
     {ANY(EM_FLOAT32, S3(3, 1, 4)), ANY(EM_FLOAT32, S2(2, 4))}},
    {"add float32+float64",
     b_add,
     2,
     {ANY(EM_FLOAT32, S2(2, 3)), ANY(EM_FLOAT64, S1(3))}},
    {"add int32+float32",
     b_add,
     2,
     {X(EM_INT32, S2(2, 3), -5, 5), ANY(EM_FLOAT32, S2(2, 1))}},
    {"add int64",
     b_add,
     2,
     {X(EM_INT64, S2(2, 3), -5, 5), X(EM_INT64, S1(3), -5, 5)}},
    {"add zero-size",
     b_add,
     2,
     {ANY(EM_FLOAT32, S2(0, 4)), ANY(EM_FLOAT32, S1(4))}},
    {"sub broadcast",
     b_sub,
     2,
     {ANY(EM_FLOAT64, S2(4, 1)), ANY(EM_FLOAT64, S2(1, 5))}},
    {"mul broadcast",
     b_mul,
     2,
     {ANY(EM_FLOAT32, S3(2, 3, 4)), ANY(EM_FLOAT32, S0_SCALAR)}},
    {"div broadcast",
     b_div,
     2,
     {ANY(EM_FLOAT32, S2(3, 4)), POS(EM_FLOAT32, S1(4))}},
    {"div int32 truncates",
     b_div,
     2,
     {X(EM_INT32, S2(3, 4), -20, 20), X(EM_INT32, S1(4), -3, 4)}},
    {"pow broadcast",
     b_pow,
     2,
     {POS(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S2(3, 1))}},
    {"maximum broadcast",
     b_maximum,
     2,
     {ANY(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S1(4))}},
    {"minimum broadcast",
     b_minimum,
     2,
     {ANY(EM_FLOAT64, S3(2, 1, 3)), ANY(EM_FLOAT64, S2(4, 3))}},
    {"add_scalar", b_add_scalar, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"add_scalar int32", b_add_scalar, 1, {X(EM_INT32, S1(4), -5, 5)}},
    {"mul_scalar", b_mul_scalar, 1, {ANY(EM_FLOAT64, S2(3, 4))}},
    {"pow_scalar", b_pow_scalar, 1, {POS(EM_FLOAT32, S2(3, 4))}},

    {"equal int32",
     b_equal,
     2,
     {X(EM_INT32, S2(3, 4), -2, 2), X(EM_INT32, S1(4), -2, 2)}},
    {"not_equal int64",
     b_not_equal,
     2,
     {X(EM_INT64, S2(3, 4), -2, 2), X(EM_INT64, S2(3, 1), -2, 2)}},
    {"less", b_less, 2, {ANY(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S1(4))}},
    {"less_equal mixed",
     b_less_equal,
     2,
     {X(EM_INT32, S2(3, 4), -2, 2), ANY(EM_FLOAT32, S1(4))}},
    {"greater",
     b_greater,
     2,
     {ANY(EM_FLOAT64, S2(3, 4)), ANY(EM_FLOAT64, S2(3, 4))}},
    {"greater_equal",
     b_greater_equal,
     2,
     {X(EM_INT32, S2(3, 4), -2, 2), X(EM_INT32, S2(1, 4), -2, 2)}},
    {"greater zero-size",
     b_greater,
     2,
     {ANY(EM_FLOAT32, S2(3, 0)), ANY(EM_FLOAT32, S1(1))}},
    {"logical_and",
     b_logical_and,
     2,
     {ANY(EM_BOOL, S2(3, 4)), ANY(EM_BOOL, S1(4))}},
    {"logical_or mixed",
     b_logical_or,
     2,
     {X(EM_INT32, S2(3, 4), -2, 2), ANY(EM_FLOAT32, S2(3, 1))}},
    {"logical_not", b_logical_not, 1, {ANY(EM_BOOL, S2(3, 4))}},
    {"logical_not float", b_logical_not, 1, {X(EM_INT64, S1(7), -2, 2)}},
    {"where broadcast",
     b_where,
     3,
     {ANY(EM_BOOL, S2(3, 1)), ANY(EM_FLOAT32, S2(1, 4)),
      ANY(EM_FLOAT32, S2(3, 4))}},
    {"where float cond",
     b_where,
     3,
     {X(EM_INT32, S1(4), -2, 2), ANY(EM_FLOAT64, S2(2, 4)),
      ANY(EM_FLOAT64, S0_SCALAR)}},

    {"sum all", b_sum_all, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"sum axes", b_sum_axes, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"sum axes keepdims", b_sum_keep, 1, {ANY(EM_FLOAT64, S3(2, 3, 4))}},
    {"sum int32", b_sum_axes, 1, {X(EM_INT32, S3(2, 3, 4), -9, 9)}},
    {"sum empty axis", b_sum_axes, 1, {ANY(EM_FLOAT32, S3(0, 3, 2))}},
    {"mean last axis", b_mean_axes, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"mean all keepdims", b_mean_all_keep, 1, {ANY(EM_FLOAT32, S2(5, 7))}},
    {"mean empty axis", b_mean_axes, 1, {ANY(EM_FLOAT32, S2(3, 0))}},
    {"max axes keepdims", b_max_axes, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"max empty axis", b_max_axes, 1, {ANY(EM_FLOAT32, S3(2, 3, 0))}},
    {"min last axis", b_min_axes, 1, {ANY(EM_FLOAT64, S3(2, 3, 4))}},
    {"variance axes", b_variance, 1, {ANY(EM_FLOAT32, S3(3, 2, 5))}},
    {"logsumexp", b_logsumexp, 1, {X(EM_FLOAT32, S2(3, 4), -90, 90)}},
    {"logsumexp empty", b_logsumexp, 1, {ANY(EM_FLOAT32, S2(3, 0))}},
    {"argmax", b_argmax, 1, {ANY(EM_FLOAT32, S3(2, 5, 3))}},
    {"argmax int32 keepdims", b_argmax_keep, 1, {X(EM_INT32, S2(4, 6), -3, 3)}},
    {"argmin keepdims", b_argmin, 1, {ANY(EM_FLOAT64, S2(5, 3))}},

    {"matmul",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S2(4, 5))}},
    {"matmul batch broadcast",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S4(2, 1, 3, 4)), ANY(EM_FLOAT32, S3(3, 4, 2))}},
    {"matmul float64 batch",
     b_matmul,
     2,
     {ANY(EM_FLOAT64, S3(2, 3, 4)), ANY(EM_FLOAT64, S2(4, 5))}},
    {"matmul transpose_a",
     b_matmul_ta,
     2,
     {ANY(EM_FLOAT32, S3(2, 4, 3)), ANY(EM_FLOAT32, S2(4, 5))}},
    {"matmul transpose_b",
     b_matmul_tb,
     2,
     {ANY(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S3(2, 5, 4))}},
    {"matmul transpose both",
     b_matmul_tab,
     2,
     {ANY(EM_FLOAT64, S2(4, 3)), ANY(EM_FLOAT64, S2(5, 4))}},
    {"matmul matrix-vector",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S2(5, 7)), ANY(EM_FLOAT32, S2(7, 1))}},
    {"matmul transposed matrix-vector",
     b_matmul_ta,
     2,
     {ANY(EM_FLOAT32, S2(7, 5)), ANY(EM_FLOAT32, S2(7, 1))}},
    {"matmul vector-matrix",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S2(1, 7)), ANY(EM_FLOAT32, S2(7, 6))}},
    {"matmul matrix times transposed row",
     b_matmul_tb,
     2,
     {ANY(EM_FLOAT32, S2(4, 6)), ANY(EM_FLOAT32, S2(1, 6))}},
    {"matmul long float64 dot products",
     b_matmul,
     2,
     {ANY(EM_FLOAT64, S2(3, 300)), ANY(EM_FLOAT64, S2(300, 1))}},
    {"matmul zero rows",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S2(0, 4)), ANY(EM_FLOAT32, S2(4, 5))}},
    {"matmul zero inner",
     b_matmul,
     2,
     {ANY(EM_FLOAT32, S2(3, 0)), ANY(EM_FLOAT32, S2(0, 5))}},

    {"reshape", b_reshape, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"reshape zero-size", b_reshape, 1, {ANY(EM_FLOAT32, S2(0, 6))}},
    {"permute", b_permute, 1, {ANY(EM_FLOAT32, S3(2, 3, 4))}},
    {"permute int64", b_permute, 1, {X(EM_INT64, S3(2, 3, 4), -9, 9)}},
    {"transpose", b_transpose, 1, {ANY(EM_FLOAT64, S3(2, 3, 4))}},
    {"expand_dims", b_expand_dims, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"squeeze all", b_squeeze_all, 1, {ANY(EM_FLOAT32, S4(1, 3, 1, 4))}},
    {"squeeze one", b_squeeze_one, 1, {ANY(EM_FLOAT32, S3(1, 3, 1))}},
    {"broadcast_to", b_broadcast_to, 1, {ANY(EM_FLOAT32, S2(3, 1))}},
    {"broadcast_to bool", b_broadcast_to, 1, {ANY(EM_BOOL, S1(4))}},
    {"concat",
     b_concat,
     3,
     {ANY(EM_FLOAT32, S2(2, 1)), ANY(EM_FLOAT32, S2(2, 3)),
      ANY(EM_FLOAT32, S2(2, 0))}},
    {"stack",
     b_stack,
     3,
     {ANY(EM_FLOAT64, S2(2, 3)), ANY(EM_FLOAT64, S2(2, 3)),
      ANY(EM_FLOAT64, S2(2, 3))}},
    {"slice negative step", b_slice, 1, {ANY(EM_FLOAT32, S2(5, 6))}},
    {"slice whole", b_slice_all, 1, {X(EM_INT32, S2(3, 4), -9, 9)}},
    {"gather",
     b_gather,
     2,
     {ANY(EM_FLOAT32, S3(2, 5, 3)), X(EM_INT64, S2(2, 2), -5, 5)}},
    {"gather int32 indices",
     b_gather0,
     2,
     {ANY(EM_FLOAT64, S2(4, 3)), X(EM_INT32, S1(6), 0, 4)}},
    {"gather no indices",
     b_gather0,
     2,
     {ANY(EM_FLOAT32, S2(4, 3)), X(EM_INT64, S1(0), 0, 4)}},
    {"one_hot", b_one_hot, 1, {X(EM_INT64, S2(2, 3), 0, 5)}},
    {"one_hot uint8", b_one_hot, 1, {X(EM_UINT8, S1(4), 0, 5)}},
    {"cast float32 to int32", b_cast_i32, 1, {X(EM_FLOAT32, S2(3, 4), -9, 9)}},
    {"cast float64 to bool", b_cast_bool, 1, {X(EM_FLOAT64, S1(6), -1, 1)}},
    {"cast uint8 to float64", b_cast_f64, 1, {X(EM_UINT8, S1(6), 0, 255)}},
    {"copy", b_copy, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
    {"copy zero-size", b_copy, 1, {ANY(EM_FLOAT32, S1(0))}},
    {"stop_gradient", b_stop_gradient, 1, {ANY(EM_FLOAT32, S2(3, 4))}},

    {"softmax", b_softmax, 1, {X(EM_FLOAT32, S2(3, 5), -50, 50)}},
    {"softmax 3-d", b_softmax, 1, {ANY(EM_FLOAT64, S3(3, 2, 4))}},
    {"softmax first axis", b_softmax0, 1, {ANY(EM_FLOAT32, S2(3, 5))}},
    {"log_softmax", b_log_softmax, 1, {ANY(EM_FLOAT32, S3(2, 5, 3))}},
    {"mse_loss broadcast",
     b_mse,
     2,
     {ANY(EM_FLOAT32, S2(4, 3)), ANY(EM_FLOAT32, S1(3))}},
    {"bce_with_logits",
     b_bce,
     2,
     {X(EM_FLOAT32, S2(4, 3), -20, 20), X(EM_FLOAT32, S2(4, 3), 0, 1)}},
    {"softmax_cross_entropy int64",
     b_sce,
     2,
     {ANY(EM_FLOAT32, S2(6, 5)), X(EM_INT64, S1(6), 0, 5)}},
    {"softmax_cross_entropy int32",
     b_sce,
     2,
     {X(EM_FLOAT64, S2(6, 5), -1e4, 1e4), X(EM_INT32, S1(6), 0, 5)}},
    {"softmax_cross_entropy uint8",
     b_sce,
     2,
     {ANY(EM_FLOAT32, S2(6, 5)), X(EM_UINT8, S1(6), 0, 5)}},
    {"softmax_cross_entropy_probs",
     b_sce_probs,
     2,
     {ANY(EM_FLOAT32, S2(6, 5)), ANY(EM_FLOAT32, S2(6, 5))}},
    {"accuracy",
     b_accuracy,
     2,
     {ANY(EM_FLOAT32, S2(8, 3)), X(EM_INT64, S1(8), 0, 3)}},
    {"several outputs", b_several, 1, {ANY(EM_FLOAT32, S2(3, 4))}},
};
enum { N_CASES = (int)(sizeof cases / sizeof cases[0]) };

/* ---- running a case -----------------------------------------------------*/

static em_tensor *make_input(const in_spec *s, uint64_t seed)
{
    em_dtype draw = s->dtype == EM_FLOAT32 ? EM_FLOAT32 : EM_FLOAT64;
    em_tensor *x = test_random(seed, draw, s->ndim, s->shape, s->lo, s->hi);
    if (s->dtype == EM_BOOL)
        return em_greater(x, em_scalar(0, draw));
    return s->dtype == draw ? x : em_cast(x, s->dtype);
}

/* Same dtype, same shape, same bytes (NaN payloads included). */
static void assert_identical(const char *what, int k, em_tensor *got,
                             em_tensor *want)
{
    ck_assert_msg(got != NULL, "%s: output %d missing (%s)", what, k,
                  em_error_pending() ? em_error_last() : "no error");
    ck_assert_msg(em_tensor_dtype(got) == em_tensor_dtype(want),
                  "%s: output %d is %s, eager gives %s", what, k,
                  em_dtype_name(em_tensor_dtype(got)),
                  em_dtype_name(em_tensor_dtype(want)));
    test_assert_shape(__FILE__, __LINE__, got, em_tensor_ndim(want),
                      em_tensor_shape(want));
    size_t bytes = em_tensor_nbytes(want);
    ck_assert_uint_eq(em_tensor_nbytes(got), bytes);
    const unsigned char *g = em_tensor_data(got), *w = em_tensor_data(want);
    for (size_t i = 0; i < bytes; i++) {
        size_t e = i / em_dtype_size(em_tensor_dtype(want));
        ck_assert_msg(g[i] == w[i],
                      "%s: output %d element %zu: traced %.17g, eager %.17g",
                      what, k, e, test_at(got, (int64_t)e),
                      test_at(want, (int64_t)e));
    }
}

enum { MAX_OUT = 4 };

/* Eager outputs of body on inputs, kept out of the current scope's way. */
static int run_eager(const op_case *c, em_tensor *const *in, em_tensor **out)
{
    for (int k = 0; k < MAX_OUT; k++)
        out[k] = NULL;
    return c->body(c->n, in, MAX_OUT, out, NULL);
}

/* Native code against eager: integers and bools exactly; floats within
 * atol + rtol |want| (float32: 4 ulp of the value or 1e-6; float64:
 * reassociated sums only), NaN where eager gives NaN. */
static void assert_close(const char *what, int k, em_tensor *got,
                         em_tensor *want)
{
    ck_assert_msg(got != NULL, "%s: output %d missing (%s)", what, k,
                  em_error_pending() ? em_error_last() : "no error");
    em_dtype dt = em_tensor_dtype(want);
    ck_assert_int_eq(em_tensor_dtype(got), dt);
    test_assert_shape(__FILE__, __LINE__, got, em_tensor_ndim(want),
                      em_tensor_shape(want));
    double rtol = dt == EM_FLOAT32 ? 4.8e-7 : dt == EM_FLOAT64 ? 1e-13 : 0;
    double atol = dt == EM_FLOAT32 ? 1e-6 : dt == EM_FLOAT64 ? 1e-13 : 0;
    for (int64_t e = 0; e < em_tensor_size(want); e++) {
        double g = test_at(got, e), w = test_at(want, e);
        bool ok = isnan(w) ? isnan(g)
                           : g == w || fabs(g - w) <= atol + rtol * fabs(w);
        ck_assert_msg(ok,
                      "%s: output %d element %lld: compiled %.17g, eager "
                      "%.17g",
                      what, k, (long long)e, g, w);
    }
}

/* Runs case c traced with the given JIT mode, twice (new values the second
 * time), checking each output with `check`. */
static void check_case(const op_case *c, int seed, em_jit_mode jit,
                       void (*check)(const char *, int, em_tensor *,
                                     em_tensor *))
{
    em_scope_begin();
    em_tensor *first[3], *second[3];
    for (int j = 0; j < c->n; j++) {
        first[j] =
            make_input(&c->in[j], (uint64_t)seed * 100 + (uint64_t)j + 1);
        second[j] =
            make_input(&c->in[j], (uint64_t)seed * 100 + (uint64_t)j + 51);
        ck_assert_msg(first[j] && second[j], "%s: input %d: %s", c->name, j,
                      em_error_last());
    }
    em_tensor *want1[MAX_OUT], *want2[MAX_OUT];
    int n_out = run_eager(c, first, want1);
    ck_assert_msg(n_out > 0, "%s: eager run failed: %s", c->name,
                  em_error_last());
    ck_assert_int_eq(run_eager(c, second, want2), n_out);

    em_trace_options options = {.name = c->name, .jit = jit};
    em_function *f = em_trace_fn(c->body, NULL, &options);
    ck_assert_ptr_nonnull(f);
    em_tensor *got[MAX_OUT];
    int rc = em_function_call(f, c->n, first, MAX_OUT, got);
    ck_assert_msg(rc == n_out, "%s: first traced call gave %d (%s)", c->name,
                  rc, em_error_pending() ? em_error_last() : "no error");
    for (int k = 0; k < n_out; k++)
        check(c->name, k, got[k], want1[k]);
    em_tier tier =
        em_concrete_wait_compiled(em_function_concrete(f, c->n, first));
    ck_assert_int_eq(tier, jit == EM_JIT_OFF || !em_jit_available()
                               ? EM_TIER_EXECUTOR
                               : EM_TIER_NATIVE);

    /* new values, same signature: the graph runs again, no new trace */
    rc = em_function_call(f, c->n, second, MAX_OUT, got);
    ck_assert_msg(rc == n_out, "%s: second traced call gave %d (%s)", c->name,
                  rc, em_error_pending() ? em_error_last() : "no error");
    for (int k = 0; k < n_out; k++)
        check(c->name, k, got[k], want2[k]);
    em_function_stats stats = em_function_get_stats(f);
    ck_assert_int_eq(stats.calls, 2);
    ck_assert_int_eq(stats.traces, 1);
    ck_assert_int_eq(stats.concrete_functions, 1);
    ck_assert(!em_error_pending());
    em_function_free(f);
    em_scope_end();
}

START_TEST(traced_op_equals_eager_bit_for_bit)
{
    check_case(&cases[_i], _i, EM_JIT_OFF, assert_identical);
}
END_TEST

START_TEST(compiled_op_matches_eager)
{
    check_case(&cases[_i], _i, EM_JIT_SYNC, assert_close);
}
END_TEST

/* ---- gradients: a tape inside the traced body -----------------------------
 * Each body watches its float inputs, computes a scalar loss, and returns
 * the loss and d loss / d input for every watched input. */

typedef em_tensor *(*loss_fn)(em_tensor *const *in);

static em_tensor *loss_mlp(em_tensor *const *in)
{
    /* [8, 5] x [5, 4] -> [8, 4], labels [8] */
    return em_softmax_cross_entropy(
        em_relu(em_matmul(in[0], in[1], false, false)), in[2]);
}

static em_tensor *loss_tanh(em_tensor *const *in)
{
    return em_sum(em_mul(em_tanh(in[0]), in[1]), 0, NULL, false);
}

/* log(x) where x > 0, x^2 elsewhere: the log branch is NaN where not taken,
 * and its gradient must still be zero there. */
static em_tensor *loss_where(em_tensor *const *in)
{
    em_tensor *x = in[0];
    em_tensor *pos = em_greater(x, em_scalar_f32(0));
    return em_sum(em_where(pos, em_log(x), em_square(x)), 0, NULL, false);
}

/* max over [x, x]: every maximum is a tie, the gradient is split. */
static em_tensor *loss_max(em_tensor *const *in)
{
    em_tensor *both = em_concat(2, (em_tensor *const[]){in[0], in[0]}, 1);
    em_tensor *m = em_max(both, 1, (const int[]){1}, false);
    return em_sum(em_mul(m, in[1]), 0, NULL, false);
}

typedef struct grad_case {
    const char *name;
    loss_fn loss;
    int n, n_watched; /* the first n_watched inputs get gradients */
    in_spec in[3];
} grad_case;

static const grad_case grad_cases[] = {
    {"matmul relu softmax_cross_entropy",
     loss_mlp,
     3,
     2,
     {ANY(EM_FLOAT32, S2(8, 5)), ANY(EM_FLOAT32, S2(5, 4)),
      X(EM_INT64, S1(8), 0, 4)}},
    {"tanh",
     loss_tanh,
     2,
     1,
     {ANY(EM_FLOAT32, S2(3, 4)), ANY(EM_FLOAT32, S1(4))}},
    {"where", loss_where, 1, 1, {ANY(EM_FLOAT32, S2(4, 5))}},
    {"max reduction with ties",
     loss_max,
     2,
     1,
     {ANY(EM_FLOAT64, S2(3, 4)), ANY(EM_FLOAT64, S1(3))}},
};
enum { N_GRAD_CASES = (int)(sizeof grad_cases / sizeof grad_cases[0]) };

static int grad_body(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max;
    const grad_case *c = user;
    em_tape *tape = em_tape_begin(false);
    for (int j = 0; j < c->n_watched; j++)
        em_tape_watch(tape, in[j]);
    em_tensor *loss = c->loss(in);
    int rc = em_tape_gradient(tape, loss, c->n_watched, in, out + 1);
    em_tape_free(tape);
    out[0] = loss;
    return rc == 0 ? 1 + c->n_watched : -1;
}

START_TEST(traced_gradients_equal_eager_gradients)
{
    const grad_case *c = &grad_cases[_i];
    em_scope_begin();
    em_tensor *in[3] = {0};
    for (int j = 0; j < c->n; j++)
        in[j] = make_input(&c->in[j], (uint64_t)_i * 10 + (uint64_t)j + 7000);
    em_tensor *want[MAX_OUT], *got[MAX_OUT];
    int n_out = grad_body(c->n, in, MAX_OUT, want, (void *)c);
    ck_assert_msg(n_out == 1 + c->n_watched, "%s: eager: %s", c->name,
                  em_error_pending() ? em_error_last() : "no error");
    for (int k = 1; k < n_out; k++) {
        ck_assert_ptr_nonnull(want[k]);
        /* the eager gradient is finite, so the where test is meaningful */
        em_tensor *finite = em_sum(
            em_cast(em_not_equal(want[k], want[k]), EM_INT64), 0, NULL, false);
        ck_assert_int_eq((int64_t)em_tensor_item(finite), 0);
    }
    /* The executor bit for bit, then native code within tolerance. */
    for (int mode = 0; mode < 2; mode++) {
        em_trace_options options = {
            .name = c->name, .jit = mode == 0 ? EM_JIT_OFF : EM_JIT_SYNC};
        em_function *f = em_trace_fn(grad_body, (void *)c, &options);
        for (int call = 0; call < 2; call++) {
            int rc = em_function_call(f, c->n, in, MAX_OUT, got);
            ck_assert_msg(rc == n_out, "%s: traced call %d gave %d (%s)",
                          c->name, call, rc,
                          em_error_pending() ? em_error_last() : "no error");
            for (int k = 0; k < n_out; k++)
                (mode == 0 ? assert_identical : assert_close)(c->name, k,
                                                              got[k], want[k]);
        }
        ck_assert_int_eq(em_function_get_stats(f).traces, 1);
        em_function_free(f);
    }
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("trace_ops");
    TCase *tc = test_case(s, "ops");
    tcase_add_loop_test(tc, traced_op_equals_eager_bit_for_bit, 0, N_CASES);
    tc = test_case(s, "compiled ops");
    tcase_add_loop_test(tc, compiled_op_matches_eager, 0, N_CASES);
    tc = test_case(s, "gradients");
    tcase_add_loop_test(tc, traced_gradients_equal_eager_gradients, 0,
                        N_GRAD_CASES);
    return test_run(s);
}
