/* Elementwise ops: values against libm evaluated in double here, integer
 * semantics, broadcasting against a naive index loop, dtype promotion,
 * numerical stability and error messages. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- helpers --------------------------------------------------------------*/

static int64_t count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* A tensor of `dtype` holding the values, converted by C casts here. */
static em_tensor *make(em_dtype dtype, int ndim, const int64_t *shape,
                       const double *values)
{
    int64_t n = count(ndim, shape);
    size_t bytes = em_dtype_size(dtype) * (size_t)(n ? n : 1);
    unsigned char *buf = malloc(bytes);
    for (int64_t i = 0; i < n; i++) {
        double v = values[i];
        /* clang-format off */
        switch (dtype) {
        case EM_BOOL: ((bool *)buf)[i] = v != 0; break;
        case EM_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
        case EM_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
        case EM_INT64: ((int64_t *)buf)[i] = (int64_t)v; break;
        case EM_FLOAT32: ((float *)buf)[i] = (float)v; break;
        default: ((double *)buf)[i] = v; break;
        }
        /* clang-format on */
    }
    em_tensor *t = em_tensor_from_data(buf, dtype, ndim, shape);
    free(buf);
    return t;
}

static em_tensor *vec(em_dtype dtype, int64_t n, const double *values)
{
    return make(dtype, 1, &n, values);
}

static void fill_random(double *v, int64_t n, uint64_t seed, double low,
                        double high)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 3;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = low + (high - low) * (double)(s >> 11) / 9007199254740992.0;
    }
}

/* The value the input holds once stored in `dtype` (float32 rounds). */
static double stored(double v, em_dtype dtype)
{
    return dtype == EM_FLOAT32 ? (double)(float)v : v;
}

/* Expected = f(a, b) with NumPy broadcasting, by unravelling each output
 * index and reading each operand at it (size-1 dimensions read index 0). */
static void naive_broadcast(double (*f)(double, double), int na,
                            const int64_t *sa, const double *a, int nb,
                            const int64_t *sb, const double *b, int *nout,
                            int64_t *sout, double *out)
{
    ck_assert(na >= 0 && na <= EM_MAX_DIMS && nb >= 0 && nb <= EM_MAX_DIMS);
    int nd = na > nb ? na : nb;
    for (int d = 0; d < nd; d++) {
        int ia = d - (nd - na), ib = d - (nd - nb);
        int64_t da = ia >= 0 ? sa[ia] : 1, db = ib >= 0 ? sb[ib] : 1;
        sout[d] = da == 1 ? db : da;
    }
    *nout = nd;
    int64_t n = count(nd, sout);
    for (int64_t k = 0; k < n; k++) {
        int64_t rest = k, idx[EM_MAX_DIMS];
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = rest % sout[d];
            rest /= sout[d];
        }
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < nd; d++) {
            int ia = d - (nd - na), ib = d - (nd - nb);
            if (ia >= 0)
                oa = oa * sa[ia] + (sa[ia] == 1 ? 0 : idx[d]);
            if (ib >= 0)
                ob = ob * sb[ib] + (sb[ib] == 1 ? 0 : idx[d]);
        }
        out[k] = f(a[oa], b[ob]);
    }
}

static void setup(void)
{
    em_scope_begin();
}

static void teardown(void)
{
    em_scope_end();
}

/* ---- one input, float maths -----------------------------------------------*/

/* clang-format off */
static double ref_neg(double x) { return -x; }
static double ref_sign(double x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }
static double ref_rsqrt(double x) { return 1 / sqrt(x); }
static double ref_square(double x) { return x * x; }
static double ref_reciprocal(double x) { return 1 / x; }
static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double ref_relu(double x) { return x > 0 ? x : 0; }
static double ref_leaky(double x) { return x > 0 ? x : 0.1 * x; }
static double ref_elu(double x) { return x > 0 ? x : 1.5 * (exp(x) - 1); }
static double ref_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2))); }
static double ref_softplus(double x) { return log1p(exp(x)); }
static double ref_step(double x) { return x > 0; }

static em_tensor *leaky_01(em_tensor *x) { return em_leaky_relu(x, 0.1); }
static em_tensor *elu_15(em_tensor *x) { return em_elu(x, 1.5); }
/* clang-format on */

typedef struct unary_case {
    const char *name;
    em_tensor *(*op)(em_tensor *);
    double (*ref)(double);
    double low, high; /* inputs are spread over [low, high] */
} unary_case;

static const unary_case unary_cases[] = {
    {"neg", em_neg, ref_neg, -3, 3},
    {"abs", em_abs, fabs, -3, 3},
    {"sign", em_sign, ref_sign, -3, 3},
    {"exp", em_exp, exp, -5, 5},
    {"log", em_log, log, 0.01, 50},
    {"log1p", em_log1p, log1p, -0.9, 10},
    {"sqrt", em_sqrt, sqrt, 0, 100},
    {"rsqrt", em_rsqrt, ref_rsqrt, 0.01, 100},
    {"square", em_square, ref_square, -4, 4},
    {"reciprocal", em_reciprocal, ref_reciprocal, 0.1, 7},
    {"sin", em_sin, sin, -6, 6},
    {"cos", em_cos, cos, -6, 6},
    {"tanh", em_tanh, tanh, -4, 4},
    {"sigmoid", em_sigmoid, ref_sigmoid, -8, 8},
    {"relu", em_relu, ref_relu, -3, 3},
    {"leaky_relu", leaky_01, ref_leaky, -3, 3},
    {"elu", elu_15, ref_elu, -3, 3},
    {"gelu", em_gelu, ref_gelu, -3, 3},
    {"softplus", em_softplus, ref_softplus, -5, 5},
    {"step", em_step, ref_step, -3, 3},
    {"erf", em_erf, erf, -3, 3},
};
#define N_UNARY ((int)(sizeof unary_cases / sizeof unary_cases[0]))

/* 21 evenly spread points, which include 0 when low = -high. Tolerances:
 * float32 within 1e-6 relative + 1e-6 absolute of the double result (a few
 * ulp), float64 within 1e-13 relative + 1e-15 absolute. */
START_TEST(unary_ops_match_libm_in_float32_and_float64)
{
    const unary_case *c = &unary_cases[_i];
    enum { N = 21 };
    double x[N], expected[N];
    for (int k = 0; k < 2; k++) {
        em_dtype dtype = k == 0 ? EM_FLOAT32 : EM_FLOAT64;
        for (int i = 0; i < N; i++) {
            x[i] = stored(c->low + (c->high - c->low) * i / (N - 1), dtype);
            expected[i] = c->ref(x[i]);
        }
        em_tensor *y = c->op(vec(dtype, N, x));
        ck_assert_msg(y, "%s: %s", c->name, em_error_last());
        ck_assert_msg(em_tensor_dtype(y) == dtype, "%s keeps the dtype",
                      c->name);
        double atol = k == 0 ? 1e-6 : 1e-15, rtol = k == 0 ? 1e-6 : 1e-13;
        for (int i = 0; i < N; i++) {
            double got = test_at(y, i);
            ck_assert_msg(fabs(got - expected[i]) <=
                              atol + rtol * fabs(expected[i]),
                          "%s(%.9g) in %s: %.12g, expected %.12g", c->name,
                          x[i], em_dtype_name(dtype), got, expected[i]);
        }
    }
}
END_TEST

START_TEST(unary_ops_keep_the_shape_including_zero_size)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 3, (int64_t[]){2, 0, 3});
    for (int i = 0; i < N_UNARY; i++)
        assert_shape(unary_cases[i].op(x), 3, 2, 0, 3);
    em_tensor *s = em_scalar(0.5, EM_FLOAT64);
    assert_shape(em_exp(s), 0);
    assert_values(em_exp(s), ((double[]){exp(0.5)}), 1, 0, 1e-15);
}
END_TEST

START_TEST(float_maths_on_integers_converts_to_float32)
{
    em_tensor *x = vec(EM_INT32, 3, (double[]){0, 1, 4});
    em_tensor *y = em_sqrt(x);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){0, 1, 2}), 3, 0, 0);
    em_tensor *b = vec(EM_BOOL, 2, (double[]){0, 1});
    em_tensor *e = em_exp(b);
    ck_assert_int_eq(em_tensor_dtype(e), EM_FLOAT32);
    assert_values(e, ((double[]){1, exp(1.0)}), 2, 0, 1e-6);
}
END_TEST

START_TEST(float_ops_propagate_nan)
{
    em_tensor *x = vec(EM_FLOAT64, 1, (double[]){NAN});
    em_tensor *(*ops[])(em_tensor *) = {em_abs,  em_sign,    em_relu,
                                        em_exp,  em_sigmoid, em_softplus,
                                        em_tanh, em_gelu};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(isnan(test_at(ops[i](x), 0)), "op %zu", i);
}
END_TEST

/* ---- one input, integers --------------------------------------------------*/

START_TEST(numeric_ops_keep_int32_and_int64)
{
    const double v[] = {-7, -1, 0, 3, 12};
    for (int k = 0; k < 2; k++) {
        em_dtype dtype = k == 0 ? EM_INT32 : EM_INT64;
        em_tensor *x = vec(dtype, 5, v);
        em_tensor *ys[] = {em_neg(x),    em_abs(x),  em_sign(x),
                           em_square(x), em_relu(x), em_step(x)};
        double (*refs[])(double) = {ref_neg,    fabs,     ref_sign,
                                    ref_square, ref_relu, ref_step};
        for (int j = 0; j < 6; j++) {
            double expected[5];
            for (int i = 0; i < 5; i++)
                expected[i] = refs[j](v[i]);
            ck_assert_int_eq(em_tensor_dtype(ys[j]), dtype);
            assert_values(ys[j], expected, 5, 0, 0);
        }
    }
}
END_TEST

START_TEST(numeric_ops_on_uint8_wrap_like_c)
{
    em_tensor *x = vec(EM_UINT8, 4, (double[]){0, 3, 20, 255});
    ck_assert_int_eq(em_tensor_dtype(em_neg(x)), EM_UINT8);
    assert_values(em_neg(x), ((double[]){0, 253, 236, 1}), 4, 0, 0);
    assert_values(em_abs(x), ((double[]){0, 3, 20, 255}), 4, 0, 0);
    assert_values(em_sign(x), ((double[]){0, 1, 1, 1}), 4, 0, 0);
    assert_values(em_square(x), ((double[]){0, 9, 400 % 256, 1}), 4, 0, 0);
    assert_values(em_relu(x), ((double[]){0, 3, 20, 255}), 4, 0, 0);
    assert_values(em_step(x), ((double[]){0, 1, 1, 1}), 4, 0, 0);
}
END_TEST

START_TEST(int32_extremes_wrap_instead_of_overflowing)
{
    int32_t v[] = {INT32_MIN, INT32_MAX, 65536};
    em_tensor *x = em_tensor_from_data(v, EM_INT32, 1, (int64_t[]){3});
    int32_t *neg = em_tensor_data(em_neg(x));
    int32_t *abs_ = em_tensor_data(em_abs(x));
    int32_t *sq = em_tensor_data(em_square(x));
    ck_assert_int_eq(neg[0], INT32_MIN);
    ck_assert_int_eq(neg[1], -INT32_MAX);
    ck_assert_int_eq(abs_[0], INT32_MIN);
    ck_assert_int_eq(sq[2], 0); /* 2^32 mod 2^32 */
}
END_TEST

START_TEST(numeric_ops_refuse_bool)
{
    em_tensor *b = vec(EM_BOOL, 2, (double[]){0, 1});
    ck_assert_ptr_null(em_neg(b));
    assert_error("neg", "bool", "bool[2]");
    ck_assert_ptr_null(em_relu(b));
    assert_error("relu", "bool");
}
END_TEST

START_TEST(logical_not_takes_any_dtype)
{
    em_tensor *f = vec(EM_FLOAT32, 4, (double[]){0, 2.5, -1, NAN});
    em_tensor *y = em_logical_not(f);
    ck_assert_int_eq(em_tensor_dtype(y), EM_BOOL);
    assert_values(y, ((double[]){1, 0, 0, 0}), 4, 0, 0);
    em_tensor *i = vec(EM_INT64, 2, (double[]){0, 7});
    assert_values(em_logical_not(i), ((double[]){1, 0}), 2, 0, 0);
    em_tensor *b = vec(EM_BOOL, 2, (double[]){1, 0});
    assert_values(em_logical_not(b), ((double[]){0, 1}), 2, 0, 0);
}
END_TEST

/* ---- stability ------------------------------------------------------------*/

START_TEST(sigmoid_is_finite_and_exact_at_large_magnitudes)
{
    for (int k = 0; k < 2; k++) {
        em_dtype dtype = k == 0 ? EM_FLOAT32 : EM_FLOAT64;
        em_tensor *x = vec(dtype, 4, (double[]){-1e4, 1e4, -50, 50});
        /* exp(-50) / (1 + exp(-50)), 1 / (1 + exp(-50)) in double */
        double e = exp(-50.0);
        assert_values(em_sigmoid(x), ((double[]){0, 1, e / (1 + e), 1}), 4, 0,
                      k == 0 ? 1e-6 : 1e-15);
    }
}
END_TEST

START_TEST(softplus_is_finite_and_exact_at_large_magnitudes)
{
    for (int k = 0; k < 2; k++) {
        em_dtype dtype = k == 0 ? EM_FLOAT32 : EM_FLOAT64;
        em_tensor *x = vec(dtype, 4, (double[]){-1e4, 1e4, -50, 50});
        /* log(1 + e^x): e^-1e4 underflows to 0; log1p(e^-50) ~ e^-50 */
        double e = exp(-50.0);
        assert_values(em_softplus(x), ((double[]){0, 1e4, e, 50 + e}), 4, 0,
                      k == 0 ? 1e-6 : 1e-15);
    }
}
END_TEST

START_TEST(gelu_is_accurate_in_the_negative_tail)
{
    /* Phi(-10) = 7.6198530241604696e-24 (normal tables). */
    em_tensor *x = vec(EM_FLOAT64, 1, (double[]){-10});
    assert_values(em_gelu(x), ((double[]){-7.6198530241604696e-23}), 1, 0,
                  1e-12);
}
END_TEST

/* ---- two inputs -----------------------------------------------------------*/

/* clang-format off */
static double ref_add(double a, double b) { return a + b; }
static double ref_sub(double a, double b) { return a - b; }
static double ref_mul(double a, double b) { return a * b; }
static double ref_div(double a, double b) { return a / b; }
static double ref_max(double a, double b) { return a > b ? a : b; }
static double ref_min(double a, double b) { return a < b ? a : b; }
static double ref_eq(double a, double b) { return a == b; }
static double ref_ne(double a, double b) { return a != b; }
static double ref_lt(double a, double b) { return a < b; }
static double ref_le(double a, double b) { return a <= b; }
static double ref_gt(double a, double b) { return a > b; }
static double ref_ge(double a, double b) { return a >= b; }
static double ref_and(double a, double b) { return a != 0 && b != 0; }
static double ref_or(double a, double b) { return a != 0 || b != 0; }
/* clang-format on */

typedef struct binary_case {
    const char *name;
    em_tensor *(*op)(em_tensor *, em_tensor *);
    double (*ref)(double, double);
    double low, high;
    bool gives_bool;
} binary_case;

static const binary_case binary_cases[] = {
    {"add", em_add, ref_add, -3, 3, false},
    {"sub", em_sub, ref_sub, -3, 3, false},
    {"mul", em_mul, ref_mul, -3, 3, false},
    {"div", em_div, ref_div, 0.5, 3, false},
    {"pow", em_pow, pow, 0.1, 3, false},
    {"maximum", em_maximum, ref_max, -3, 3, false},
    {"minimum", em_minimum, ref_min, -3, 3, false},
    {"equal", em_equal, ref_eq, -2, 2, true},
    {"not_equal", em_not_equal, ref_ne, -2, 2, true},
    {"less", em_less, ref_lt, -2, 2, true},
    {"less_equal", em_less_equal, ref_le, -2, 2, true},
    {"greater", em_greater, ref_gt, -2, 2, true},
    {"greater_equal", em_greater_equal, ref_ge, -2, 2, true},
    {"logical_and", em_logical_and, ref_and, -1, 1, true},
    {"logical_or", em_logical_or, ref_or, -1, 1, true},
};
#define N_BINARY ((int)(sizeof binary_cases / sizeof binary_cases[0]))

typedef struct shape_pair {
    int na;
    int64_t sa[4];
    int nb;
    int64_t sb[4];
} shape_pair;

static const shape_pair shape_pairs[] = {
    {2, {2, 3}, 2, {2, 3}},    /* same shape */
    {2, {2, 3}, 1, {3}},       /* row broadcast (bias) */
    {1, {3}, 2, {4, 3}},       /* row broadcast, swapped */
    {2, {2, 3}, 2, {2, 1}},    /* column broadcast */
    {2, {3, 1}, 2, {1, 4}},    /* outer product */
    {3, {2, 1, 3}, 2, {4, 1}}, /* leading and middle */
    {0, {0}, 2, {2, 3}},       /* 0-d with a matrix */
    {2, {2, 3}, 0, {0}},       /* matrix with 0-d */
    {1, {1}, 3, {3, 1, 2}},    /* one element, more dimensions */
    {4, {5, 1, 7, 3}, 3, {4, 1, 3}},
    {4, {4, 1, 1, 5}, 4, {1, 3, 2, 1}},
    {3, {2, 3, 4}, 3, {2, 3, 4}},
};
#define N_SHAPES ((int)(sizeof shape_pairs / sizeof shape_pairs[0]))

/* Every binary op over every shape pair, in float64 and float32, against
 * the naive loop; exact for comparisons, 1e-15 / 1e-6 relative for maths.
 * Comparison inputs are rounded to halves so that ties occur. */
START_TEST(binary_ops_broadcast_like_a_naive_loop)
{
    const binary_case *c = &binary_cases[_i];
    for (int k = 0; k < 2; k++) {
        em_dtype dtype = k == 0 ? EM_FLOAT64 : EM_FLOAT32;
        for (int s = 0; s < N_SHAPES; s++) {
            const shape_pair *p = &shape_pairs[s];
            int64_t na = count(p->na, p->sa), nb = count(p->nb, p->sb);
            double a[420] = {0}, b[420] = {0}, expected[420] = {0};
            int64_t sout[EM_MAX_DIMS];
            int nout;
            fill_random(a, na, 11 + s, c->low, c->high);
            fill_random(b, nb, 97 + s, c->low, c->high);
            for (int64_t i = 0; i < na; i++)
                a[i] =
                    stored(c->gives_bool ? round(a[i] * 2) / 2 : a[i], dtype);
            for (int64_t i = 0; i < nb; i++)
                b[i] =
                    stored(c->gives_bool ? round(b[i] * 2) / 2 : b[i], dtype);
            naive_broadcast(c->ref, p->na, p->sa, a, p->nb, p->sb, b, &nout,
                            sout, expected);
            em_tensor *y = c->op(make(dtype, p->na, p->sa, a),
                                 make(dtype, p->nb, p->sb, b));
            ck_assert_msg(y, "%s, pair %d: %s", c->name, s, em_error_last());
            test_assert_shape(__FILE__, __LINE__, y, nout, sout);
            ck_assert_int_eq(em_tensor_dtype(y),
                             c->gives_bool ? EM_BOOL : dtype);
            double tol = c->gives_bool ? 0 : (k == 0 ? 1e-15 : 1e-6);
            int64_t n = count(nout, sout);
            for (int64_t i = 0; i < n; i++)
                ck_assert_msg(fabs(test_at(y, i) - expected[i]) <=
                                  tol * (1 + fabs(expected[i])),
                              "%s, pair %d, %s, element %lld: %.9g vs %.9g",
                              c->name, s, em_dtype_name(dtype), (long long)i,
                              test_at(y, i), expected[i]);
        }
    }
}
END_TEST

START_TEST(integer_arithmetic_broadcasts_exactly)
{
    double a[] = {1, -2, 3, 40, 5, -6}, b[] = {7, -8, 9};
    em_tensor *ta = make(EM_INT32, 2, (int64_t[]){2, 3}, a);
    em_tensor *tb = make(EM_INT32, 1, (int64_t[]){3}, b);
    double sum[6], prod[6], mx[6];
    for (int i = 0; i < 6; i++) {
        sum[i] = a[i] + b[i % 3];
        prod[i] = a[i] * b[i % 3];
        mx[i] = ref_max(a[i], b[i % 3]);
    }
    ck_assert_int_eq(em_tensor_dtype(em_add(ta, tb)), EM_INT32);
    assert_values(em_add(ta, tb), sum, 6, 0, 0);
    assert_values(em_mul(ta, tb), prod, 6, 0, 0);
    assert_values(em_maximum(ta, tb), mx, 6, 0, 0);
}
END_TEST

START_TEST(integer_division_truncates_and_division_by_zero_gives_zero)
{
    int32_t a[] = {7, -7, 7, -7, 5, 0, INT32_MIN, INT32_MIN};
    int32_t b[] = {2, 2, -2, -2, 0, 0, -1, 2};
    int32_t want[] = {3, -3, -3, 3, 0, 0, INT32_MIN, INT32_MIN / 2};
    em_tensor *ta = em_tensor_from_data(a, EM_INT32, 1, (int64_t[]){8});
    em_tensor *tb = em_tensor_from_data(b, EM_INT32, 1, (int64_t[]){8});
    int32_t *got = em_tensor_data(em_div(ta, tb));
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(got[i], want[i]);

    int64_t a64[] = {INT64_MIN, 9, -9}, b64[] = {-1, 0, 4};
    em_tensor *t64 = em_div(test_i64(1, (int64_t[]){3}, a64),
                            test_i64(1, (int64_t[]){3}, b64));
    int64_t *g64 = em_tensor_data(t64);
    ck_assert(g64[0] == INT64_MIN && g64[1] == 0 && g64[2] == -2);

    em_tensor *u = em_div(vec(EM_UINT8, 3, (double[]){200, 9, 5}),
                          vec(EM_UINT8, 3, (double[]){0, 2, 255}));
    assert_values(u, ((double[]){0, 4, 0}), 3, 0, 0);
}
END_TEST

START_TEST(integer_overflow_wraps)
{
    int32_t a[] = {INT32_MAX, INT32_MIN, 65536};
    int32_t b[] = {1, 1, 65536};
    em_tensor *ta = em_tensor_from_data(a, EM_INT32, 1, (int64_t[]){3});
    em_tensor *tb = em_tensor_from_data(b, EM_INT32, 1, (int64_t[]){3});
    int32_t *sum = em_tensor_data(em_add(ta, tb));
    int32_t *diff = em_tensor_data(em_sub(ta, tb));
    int32_t *prod = em_tensor_data(em_mul(ta, tb));
    ck_assert_int_eq(sum[0], INT32_MIN);
    ck_assert_int_eq(diff[1], INT32_MAX);
    ck_assert_int_eq(prod[2], 0);
    em_tensor *u = em_add(vec(EM_UINT8, 1, (double[]){200}),
                          vec(EM_UINT8, 1, (double[]){100}));
    assert_values(u, ((double[]){44}), 1, 0, 0);
}
END_TEST

START_TEST(maximum_and_minimum_propagate_nan)
{
    em_tensor *a = vec(EM_FLOAT32, 3, (double[]){NAN, 1, 2});
    em_tensor *b = vec(EM_FLOAT32, 3, (double[]){1, NAN, 3});
    assert_values(em_maximum(a, b), ((double[]){NAN, NAN, 3}), 3, 0, 0);
    assert_values(em_minimum(a, b), ((double[]){NAN, NAN, 2}), 3, 0, 0);
}
END_TEST

START_TEST(comparisons_with_nan_follow_ieee)
{
    em_tensor *a = vec(EM_FLOAT64, 2, (double[]){NAN, NAN});
    em_tensor *b = vec(EM_FLOAT64, 2, (double[]){NAN, 1});
    assert_values(em_equal(a, b), ((double[]){0, 0}), 2, 0, 0);
    assert_values(em_not_equal(a, b), ((double[]){1, 1}), 2, 0, 0);
    assert_values(em_less(a, b), ((double[]){0, 0}), 2, 0, 0);
    assert_values(em_greater_equal(a, b), ((double[]){0, 0}), 2, 0, 0);
}
END_TEST

START_TEST(zero_size_dimensions_broadcast)
{
    em_tensor *e = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 3});
    em_tensor *row = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    assert_shape(em_add(e, row), 2, 0, 3);
    em_tensor *e2 = em_zeros(EM_FLOAT64, 2, (int64_t[]){2, 0});
    em_tensor *col = em_ones(EM_FLOAT64, 2, (int64_t[]){2, 1});
    assert_shape(em_mul(e2, col), 2, 2, 0);
    assert_shape(em_less(e2, col), 2, 2, 0);
    em_tensor *s = em_scalar(1, EM_FLOAT32);
    assert_shape(em_sub(em_zeros(EM_FLOAT32, 1, (int64_t[]){0}), s), 1, 0);
    em_tensor *cond = em_zeros(EM_BOOL, 2, (int64_t[]){0, 3});
    assert_shape(em_where(cond, row, s), 2, 0, 3);
    ck_assert_ptr_null(em_add(e, em_ones(EM_FLOAT32, 1, (int64_t[]){2})));
    assert_error("add", "[0,3] vs [2]");
}
END_TEST

START_TEST(scalars_combine_into_a_scalar)
{
    em_tensor *y = em_mul(em_scalar(3, EM_FLOAT64), em_scalar(4, EM_FLOAT64));
    assert_shape(y, 0);
    ck_assert_double_eq(em_tensor_item(y), 12);
}
END_TEST

/* ---- promotion and scalar shortcuts ---------------------------------------*/

START_TEST(mixed_dtypes_promote)
{
    em_tensor *i32 = vec(EM_INT32, 2, (double[]){1, 2});
    em_tensor *f32 = vec(EM_FLOAT32, 2, (double[]){0.5, 0.25});
    em_tensor *u8 = vec(EM_UINT8, 2, (double[]){200, 255});
    em_tensor *i64 = vec(EM_INT64, 2, (double[]){3, 4});
    em_tensor *f64 = vec(EM_FLOAT64, 2, (double[]){0.1, 0.2});
    em_tensor *b = vec(EM_BOOL, 2, (double[]){1, 0});

    em_tensor *y = em_add(i32, f32);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){1.5, 2.25}), 2, 0, 0);
    y = em_add(u8, i32); /* no uint8 wrap-around */
    ck_assert_int_eq(em_tensor_dtype(y), EM_INT32);
    assert_values(y, ((double[]){201, 257}), 2, 0, 0);
    ck_assert_int_eq(em_tensor_dtype(em_mul(i64, f32)), EM_FLOAT32);
    ck_assert_int_eq(em_tensor_dtype(em_sub(f32, f64)), EM_FLOAT64);
    y = em_add(b, i32);
    ck_assert_int_eq(em_tensor_dtype(y), EM_INT32);
    assert_values(y, ((double[]){2, 2}), 2, 0, 0);
    y = em_less(i32, f32);
    ck_assert_int_eq(em_tensor_dtype(y), EM_BOOL);
    assert_values(y, ((double[]){0, 0}), 2, 0, 0);
    assert_values(em_logical_and(b, f32), ((double[]){1, 0}), 2, 0, 0);
}
END_TEST

START_TEST(pow_converts_integers_to_float32)
{
    em_tensor *y = em_pow(vec(EM_INT32, 3, (double[]){2, 3, 4}),
                          vec(EM_INT64, 3, (double[]){3, 2, -1}));
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){8, 9, 0.25}), 3, 0, 0);
}
END_TEST

START_TEST(scalar_shortcuts_use_the_tensor_dtype)
{
    em_tensor *f = vec(EM_FLOAT32, 2, (double[]){1, 2});
    em_tensor *y = em_add_scalar(f, 0.5);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){1.5, 2.5}), 2, 0, 0);
    assert_values(em_mul_scalar(f, -3), ((double[]){-3, -6}), 2, 0, 0);
    assert_values(em_pow_scalar(f, 0.5), ((double[]){1, sqrt(2.0)}), 2, 0,
                  1e-7);

    em_tensor *i = vec(EM_INT32, 2, (double[]){3, 4});
    y = em_mul_scalar(i, 2.5); /* 2.5 becomes int32 2 */
    ck_assert_int_eq(em_tensor_dtype(y), EM_INT32);
    assert_values(y, ((double[]){6, 8}), 2, 0, 0);
    y = em_pow_scalar(i, 2);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){9, 16}), 2, 0, 0);
}
END_TEST

/* ---- where ----------------------------------------------------------------*/

START_TEST(where_selects_elementwise)
{
    em_tensor *c = vec(EM_BOOL, 4, (double[]){1, 0, 0, 1});
    em_tensor *a = vec(EM_FLOAT64, 4, (double[]){1, 2, 3, 4});
    em_tensor *b = vec(EM_FLOAT64, 4, (double[]){-1, -2, -3, -4});
    assert_values(em_where(c, a, b), ((double[]){1, -2, -3, 4}), 4, 0, 0);
    for (int k = 0; k < 3; k++) {
        em_dtype dt = k == 0 ? EM_UINT8 : k == 1 ? EM_INT32 : EM_INT64;
        em_tensor *y = em_where(c, vec(dt, 4, (double[]){1, 2, 3, 4}),
                                vec(dt, 4, (double[]){5, 6, 7, 8}));
        ck_assert_int_eq(em_tensor_dtype(y), dt);
        assert_values(y, ((double[]){1, 6, 7, 4}), 4, 0, 0);
    }
}
END_TEST

START_TEST(where_broadcasts_all_three)
{
    /* cond [3], a [2,3], b 0-d -> [2,3] */
    em_tensor *c = vec(EM_BOOL, 3, (double[]){1, 0, 1});
    em_tensor *a =
        make(EM_FLOAT32, 2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    em_tensor *y = em_where(c, a, em_scalar(0, EM_FLOAT32));
    assert_shape(y, 2, 2, 3);
    assert_values(y, ((double[]){1, 0, 3, 4, 0, 6}), 6, 0, 0);
    /* cond [2,1], a [1,3], b [3] */
    em_tensor *c2 = make(EM_BOOL, 2, (int64_t[]){2, 1}, (double[]){0, 1});
    em_tensor *a2 = make(EM_FLOAT64, 2, (int64_t[]){1, 3}, (double[]){7, 8, 9});
    em_tensor *b2 = vec(EM_FLOAT64, 3, (double[]){-1, -2, -3});
    assert_values(em_where(c2, a2, b2), ((double[]){-1, -2, -3, 7, 8, 9}), 6, 0,
                  0);
}
END_TEST

START_TEST(where_converts_cond_and_promotes_branches)
{
    em_tensor *c = vec(EM_FLOAT32, 3, (double[]){0, 0.5, -2});
    em_tensor *a = vec(EM_INT32, 3, (double[]){1, 2, 3});
    em_tensor *b = vec(EM_FLOAT32, 3, (double[]){0.5, 0.5, 0.5});
    em_tensor *y = em_where(c, a, b);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){0.5, 2, 3}), 3, 0, 0);
}
END_TEST

/* ---- errors ---------------------------------------------------------------*/

START_TEST(arithmetic_on_two_bools_points_at_logical_ops)
{
    em_tensor *b = vec(EM_BOOL, 2, (double[]){0, 1});
    ck_assert_ptr_null(em_add(b, b));
    assert_error("add", "bool", "logical_and", "bool[2]");
    ck_assert_ptr_null(em_mul(b, b));
    assert_error("mul", "bool");
}
END_TEST

START_TEST(incompatible_shapes_name_both_shapes_and_dtypes)
{
    em_tensor *a = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *b = em_ones(EM_FLOAT32, 1, (int64_t[]){4});
    ck_assert_ptr_null(em_add(a, b));
    assert_error("add", "shapes do not broadcast: [2,3] vs [4]", "float32[2,3]",
                 "float32[4]");
    em_tensor *i = em_ones(EM_INT32, 1, (int64_t[]){4});
    ck_assert_ptr_null(em_less(a, i));
    assert_error("less", "[2,3] vs [4]", "float32[2,3]", "int32[4]");
    em_tensor *c = em_ones(EM_BOOL, 1, (int64_t[]){2});
    ck_assert_ptr_null(em_where(c, a, a));
    assert_error("where", "[2] vs [2,3] vs [2,3]", "bool[2]");
}
END_TEST

START_TEST(null_inputs_give_null_and_keep_the_first_error)
{
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_ptr_null(em_add(NULL, x));
    assert_error("add", "NULL");

    em_tensor *b = vec(EM_BOOL, 1, (double[]){1});
    ck_assert_ptr_null(em_sub(b, b)); /* the first error */
    ck_assert_ptr_null(em_add(x, NULL));
    ck_assert_ptr_null(em_exp(NULL));
    ck_assert_ptr_null(em_neg(NULL));
    ck_assert_ptr_null(em_leaky_relu(NULL, 0.1));
    ck_assert_ptr_null(em_add_scalar(NULL, 1));
    ck_assert_ptr_null(em_pow_scalar(NULL, 2));
    ck_assert_ptr_null(em_where(NULL, x, x));
    ck_assert_ptr_null(em_equal(x, NULL));
    ck_assert_ptr_null(em_logical_not(NULL));
    assert_error("sub", "bool");
}
END_TEST

START_TEST(null_input_alone_names_the_elementwise_op)
{
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *c = em_ones(EM_BOOL, 1, (int64_t[]){2});
    em_error_clear();
    ck_assert_ptr_null(em_neg(NULL));
    assert_error("neg: input 0 is NULL");
    ck_assert_ptr_null(em_sqrt(NULL));
    assert_error("sqrt: input 0 is NULL");
    ck_assert_ptr_null(em_sub(x, NULL));
    assert_error("sub: input 1 is NULL");
    ck_assert_ptr_null(em_mul_scalar(NULL, 2));
    assert_error("mul: input 0 is NULL");
    ck_assert_ptr_null(em_less(NULL, x));
    assert_error("less: input 0 is NULL");
    ck_assert_ptr_null(em_logical_or(c, NULL));
    assert_error("logical_or: input 1 is NULL");
    ck_assert_ptr_null(em_where(c, x, NULL));
    assert_error("where: input 2 is NULL");
    em_tensor_free(c);
    em_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_elementwise");

    TCase *unary = test_case(s, "unary");
    tcase_add_checked_fixture(unary, setup, teardown);
    tcase_add_loop_test(unary, unary_ops_match_libm_in_float32_and_float64, 0,
                        N_UNARY);
    tcase_add_test(unary, unary_ops_keep_the_shape_including_zero_size);
    tcase_add_test(unary, float_maths_on_integers_converts_to_float32);
    tcase_add_test(unary, float_ops_propagate_nan);
    tcase_add_test(unary, numeric_ops_keep_int32_and_int64);
    tcase_add_test(unary, numeric_ops_on_uint8_wrap_like_c);
    tcase_add_test(unary, int32_extremes_wrap_instead_of_overflowing);
    tcase_add_test(unary, numeric_ops_refuse_bool);
    tcase_add_test(unary, logical_not_takes_any_dtype);
    tcase_add_test(unary, sigmoid_is_finite_and_exact_at_large_magnitudes);
    tcase_add_test(unary, softplus_is_finite_and_exact_at_large_magnitudes);
    tcase_add_test(unary, gelu_is_accurate_in_the_negative_tail);

    TCase *binary = test_case(s, "binary");
    tcase_add_checked_fixture(binary, setup, teardown);
    tcase_add_loop_test(binary, binary_ops_broadcast_like_a_naive_loop, 0,
                        N_BINARY);
    tcase_add_test(binary, integer_arithmetic_broadcasts_exactly);
    tcase_add_test(binary,
                   integer_division_truncates_and_division_by_zero_gives_zero);
    tcase_add_test(binary, integer_overflow_wraps);
    tcase_add_test(binary, maximum_and_minimum_propagate_nan);
    tcase_add_test(binary, comparisons_with_nan_follow_ieee);
    tcase_add_test(binary, zero_size_dimensions_broadcast);
    tcase_add_test(binary, scalars_combine_into_a_scalar);
    tcase_add_test(binary, mixed_dtypes_promote);
    tcase_add_test(binary, pow_converts_integers_to_float32);
    tcase_add_test(binary, scalar_shortcuts_use_the_tensor_dtype);
    tcase_add_test(binary, where_selects_elementwise);
    tcase_add_test(binary, where_broadcasts_all_three);
    tcase_add_test(binary, where_converts_cond_and_promotes_branches);

    TCase *errors = test_case(s, "errors");
    tcase_add_checked_fixture(errors, setup, teardown);
    tcase_add_test(errors, arithmetic_on_two_bools_points_at_logical_ops);
    tcase_add_test(errors, incompatible_shapes_name_both_shapes_and_dtypes);
    tcase_add_test(errors, null_inputs_give_null_and_keep_the_first_error);
    tcase_add_test(errors, null_input_alone_names_the_elementwise_op);
    return test_run(s);
}
