/*
 * eager/ops_unary.c - elementwise ops of one input: shape rules, CPU
 * kernels and the public wrappers.
 *
 * Every kernel here maps [...] -> [...] elementwise over the contiguous
 * elements; the output has the input's shape. Each op owns a table of loops
 * indexed by dtype; a NULL entry means the op has no kernel for that dtype
 * (the shape rules refuse those before a kernel runs). The loops are plain
 * `for` loops over restrict pointers so that the compiler vectorises what it
 * can (relu, neg, abs, square, ...).
 */
#include <tgmath.h>

#include "kernels.h"

/* ---- shape rules ----------------------------------------------------------*/

/* Float maths: float32 or float64 in, same out. */
EM__INFER(unary_float)
{
    if (!em_dtype_is_float(in[0]->dtype)) {
        snprintf(msg, size, "needs float32 or float64, got %s",
                 em_dtype_name(in[0]->dtype));
        return false;
    }
    *out = *in[0];
    return true;
}

/* Sign-aware arithmetic that keeps integer dtypes but has no meaning for
 * bool. */
EM__INFER(unary_numeric)
{
    if (in[0]->dtype == EM_BOOL) {
        snprintf(msg, size, "not defined for bool tensors");
        return false;
    }
    *out = *in[0];
    return true;
}

/* Any dtype in (non-zero is true), bool out. */
EM__INFER(unary_logical)
{
    *out = *in[0];
    out->dtype = EM_BOOL;
    return true;
}

/* ---- loops ------------------------------------------------------------------
 * UNARY_LOOP stamps one loop. EXPR sees the input element `x` of C type T,
 * the op's attribute `alpha`, and the local type names `scalar` (scalar) and
 * `uscalar` (UT: the unsigned type of T's width, for wrap-around integer
 * arithmetic, since signed overflow is undefined behaviour).
 * <tgmath.h> makes exp, log, ... pick the float or double function from T,
 * so one expression serves both float dtypes; constants are cast to scalar so
 * float32 loops stay in float32. */

typedef void (*unary_loop)(void *restrict out, const void *restrict in,
                           int64_t n, double alpha);

static bool run_unary(const unary_loop *loops, em_tensor *out,
                      const em_tensor *x, const em__attrs *attrs, char *msg,
                      size_t size)
{
    unary_loop loop = loops[x->type.dtype];
    if (!loop) {
        snprintf(msg, size, "no CPU kernel for %s",
                 em_dtype_name(x->type.dtype));
        return false;
    }
    loop(out->data, x->data, x->size, attrs->alpha);
    return true;
}

/* clang-format off */
#define UNARY_LOOP(name, T, UT, TO, EXPR)                                    \
    static void name(void *restrict out_, const void *restrict in_,          \
                     int64_t n, double alpha)                                \
    {                                                                        \
        typedef T scalar __attribute__((unused));                            \
        typedef UT uscalar __attribute__((unused));                          \
        TO *restrict out = out_;                                             \
        const T *restrict in = in_;                                          \
        for (int64_t i = 0; i < n; i++) {                                    \
            T x = in[i];                                                     \
            out[i] = (TO)(EXPR);                                             \
        }                                                                    \
    }

/* A kernel for float32 and float64. */
#define FLOAT_UNARY(op, EXPR)                                                \
    UNARY_LOOP(op##_f32, float, float, float, EXPR)                          \
    UNARY_LOOP(op##_f64, double, double, double, EXPR)                       \
    static const unary_loop op##_loops[EM_DTYPE_COUNT] = {                   \
        [EM_FLOAT32] = op##_f32,                                             \
        [EM_FLOAT64] = op##_f64,                                             \
    };                                                                       \
    EM__KERNEL(op)                                                           \
    {                                                                        \
        return run_unary(op##_loops, out, in[0], attrs, msg, size);          \
    }

/* A kernel for every dtype but bool: one expression for uint8, one for the
 * signed integers and one for the floats. */
#define NUMERIC_UNARY(op, EXPR_U8, EXPR_INT, EXPR_FLOAT)                     \
    UNARY_LOOP(op##_u8, uint8_t, uint8_t, uint8_t, EXPR_U8)                  \
    UNARY_LOOP(op##_i32, int32_t, uint32_t, int32_t, EXPR_INT)               \
    UNARY_LOOP(op##_i64, int64_t, uint64_t, int64_t, EXPR_INT)               \
    UNARY_LOOP(op##_f32, float, float, float, EXPR_FLOAT)                    \
    UNARY_LOOP(op##_f64, double, double, double, EXPR_FLOAT)                 \
    static const unary_loop op##_loops[EM_DTYPE_COUNT] = {                   \
        [EM_UINT8] = op##_u8,   [EM_INT32] = op##_i32,                       \
        [EM_INT64] = op##_i64,  [EM_FLOAT32] = op##_f32,                     \
        [EM_FLOAT64] = op##_f64,                                             \
    };                                                                       \
    EM__KERNEL(op)                                                           \
    {                                                                        \
        return run_unary(op##_loops, out, in[0], attrs, msg, size);          \
    }

/* ---- kernels ----------------------------------------------------------------
 * Floats keep NaN: sign, relu and abs pass it through. */

NUMERIC_UNARY(neg, 0 - x, 0 - (uscalar)x, -x)
NUMERIC_UNARY(abs, x, x < 0 ? 0 - (uscalar)x : (uscalar)x, fabs(x))
NUMERIC_UNARY(sign, x > 0, (x > 0) - (x < 0), x > 0 ? 1 : (x < 0 ? -1 : x))
NUMERIC_UNARY(square, x * x, (uscalar)x * (uscalar)x, x * x)
NUMERIC_UNARY(relu, x, x < 0 ? 0 : x, x < 0 ? 0 : x)
NUMERIC_UNARY(step, x > 0, x > 0, x > 0)

FLOAT_UNARY(exp, exp(x))
FLOAT_UNARY(log, log(x))
FLOAT_UNARY(log1p, log1p(x))
FLOAT_UNARY(sqrt, sqrt(x))
FLOAT_UNARY(rsqrt, (scalar)1 / sqrt(x))
FLOAT_UNARY(reciprocal, (scalar)1 / x)
FLOAT_UNARY(sin, sin(x))
FLOAT_UNARY(cos, cos(x))
FLOAT_UNARY(tanh, tanh(x))
/* exp of a non-positive number only, so neither branch overflows. */
FLOAT_UNARY(sigmoid, x >= 0 ? (scalar)1 / ((scalar)1 + exp(-x))
                            : exp(x) / ((scalar)1 + exp(x)))
FLOAT_UNARY(leaky_relu, x > 0 ? x : (scalar)alpha * x)
FLOAT_UNARY(elu, x > 0 ? x : (scalar)alpha * expm1(x))
/* x * Phi(x) with Phi(x) = erfc(-x / sqrt 2) / 2, which unlike the erf form
 * stays accurate in the far negative tail. */
FLOAT_UNARY(gelu, (scalar)0.5 * x * erfc(-x * (scalar)0.70710678118654752440))
FLOAT_UNARY(erf, erf(x))
/* max(x, 0) + log1p(exp(-|x|)): exp never overflows. */
FLOAT_UNARY(softplus, fmax(x, (scalar)0) + log1p(exp(-fabs(x))))

/* Any dtype -> bool. */
/* Bool elements are read as bytes: any non-zero byte counts as true. */
UNARY_LOOP(logical_not_b, uint8_t, uint8_t, bool, x == 0)
UNARY_LOOP(logical_not_u8, uint8_t, uint8_t, bool, x == 0)
UNARY_LOOP(logical_not_i32, int32_t, uint32_t, bool, x == 0)
UNARY_LOOP(logical_not_i64, int64_t, uint64_t, bool, x == 0)
UNARY_LOOP(logical_not_f32, float, float, bool, x == 0)
UNARY_LOOP(logical_not_f64, double, double, bool, x == 0)
/* clang-format on */

static const unary_loop logical_not_loops[EM_DTYPE_COUNT] = {
    [EM_BOOL] = logical_not_b,      [EM_UINT8] = logical_not_u8,
    [EM_INT32] = logical_not_i32,   [EM_INT64] = logical_not_i64,
    [EM_FLOAT32] = logical_not_f32, [EM_FLOAT64] = logical_not_f64,
};
EM__KERNEL(logical_not)
{
    return run_unary(logical_not_loops, out, in[0], attrs, msg, size);
}

/* ---- public wrappers ------------------------------------------------------*/

static em_tensor *unary(em__op op, em_tensor *x, double alpha)
{
    if (alpha == 0)
        return em__dispatch(op, &x, 1, NULL);
    em__attrs attrs = {.alpha = alpha};
    return em__dispatch(op, &x, 1, &attrs);
}

/* Float maths: integer and bool inputs are converted to float32 first. */
static em_tensor *unary_float(em__op op, em_tensor *x, double alpha)
{
    if (!x || em_dtype_is_float(x->type.dtype))
        return unary(op, x, alpha);
    em_tensor *converted = em_cast(x, EM_FLOAT32);
    em_tensor *out = unary(op, converted, alpha);
    em_tensor_free(converted);
    return out;
}

em_tensor *em_neg(em_tensor *x)
{
    return unary(EM_OP_NEG, x, 0);
}

em_tensor *em_abs(em_tensor *x)
{
    return unary(EM_OP_ABS, x, 0);
}

em_tensor *em_sign(em_tensor *x)
{
    return unary(EM_OP_SIGN, x, 0);
}

em_tensor *em_square(em_tensor *x)
{
    return unary(EM_OP_SQUARE, x, 0);
}

em_tensor *em_relu(em_tensor *x)
{
    return unary(EM_OP_RELU, x, 0);
}

em_tensor *em_step(em_tensor *x)
{
    return unary(EM_OP_STEP, x, 0);
}

em_tensor *em_exp(em_tensor *x)
{
    return unary_float(EM_OP_EXP, x, 0);
}

em_tensor *em_log(em_tensor *x)
{
    return unary_float(EM_OP_LOG, x, 0);
}

em_tensor *em_log1p(em_tensor *x)
{
    return unary_float(EM_OP_LOG1P, x, 0);
}

em_tensor *em_sqrt(em_tensor *x)
{
    return unary_float(EM_OP_SQRT, x, 0);
}

em_tensor *em_rsqrt(em_tensor *x)
{
    return unary_float(EM_OP_RSQRT, x, 0);
}

em_tensor *em_reciprocal(em_tensor *x)
{
    return unary_float(EM_OP_RECIPROCAL, x, 0);
}

em_tensor *em_sin(em_tensor *x)
{
    return unary_float(EM_OP_SIN, x, 0);
}

em_tensor *em_cos(em_tensor *x)
{
    return unary_float(EM_OP_COS, x, 0);
}

em_tensor *em_tanh(em_tensor *x)
{
    return unary_float(EM_OP_TANH, x, 0);
}

em_tensor *em_sigmoid(em_tensor *x)
{
    return unary_float(EM_OP_SIGMOID, x, 0);
}

em_tensor *em_leaky_relu(em_tensor *x, double alpha)
{
    return unary_float(EM_OP_LEAKY_RELU, x, alpha);
}

em_tensor *em_elu(em_tensor *x, double alpha)
{
    return unary_float(EM_OP_ELU, x, alpha);
}

em_tensor *em_gelu(em_tensor *x)
{
    return unary_float(EM_OP_GELU, x, 0);
}

em_tensor *em_erf(em_tensor *x)
{
    return unary_float(EM_OP_ERF, x, 0);
}

em_tensor *em_softplus(em_tensor *x)
{
    return unary_float(EM_OP_SOFTPLUS, x, 0);
}

em_tensor *em_logical_not(em_tensor *x)
{
    return unary(EM_OP_LOGICAL_NOT, x, 0);
}
