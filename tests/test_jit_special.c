/* Native code on special values, against eager mode: NaN, infinities,
 * signed zeros, subnormals and the edges of exp's range through every
 * float op and cast, on all pairs for the binary ops; integer extremes
 * through comparisons, where, logical ops and casts; reductions of rows
 * holding NaN and infinities. NaN where eager gives NaN, infinities,
 * integers and bools exactly, finite floats within 4 ulp of float32
 * (1e-13 for float64) or 1e-6. */
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

typedef em_tensor *(*op_fn)(em_tensor *const *in);

/* One op (or a short composition) on in[0] (and in[1]). */
#define OP(name, expr)                                                         \
    static em_tensor *name(em_tensor *const *in)                               \
    {                                                                          \
        return (expr);                                                         \
    }

OP(o_neg, em_neg(in[0]))
OP(o_abs, em_abs(in[0]))
OP(o_sign, em_sign(in[0]))
OP(o_exp, em_exp(in[0]))
OP(o_log, em_log(in[0]))
OP(o_log1p, em_log1p(in[0]))
OP(o_sqrt, em_sqrt(in[0]))
OP(o_rsqrt, em_rsqrt(in[0]))
OP(o_square, em_square(in[0]))
OP(o_recip, em_reciprocal(in[0]))
OP(o_sin, em_sin(in[0]))
OP(o_cos, em_cos(in[0]))
OP(o_tanh, em_tanh(in[0]))
OP(o_sigmoid, em_sigmoid(in[0]))
OP(o_relu, em_relu(in[0]))
OP(o_leaky, em_leaky_relu(in[0], 0.01))
OP(o_elu, em_elu(in[0], 1.5))
OP(o_gelu, em_gelu(in[0]))
OP(o_softplus, em_softplus(in[0]))
OP(o_erf, em_erf(in[0]))
OP(o_step, em_step(in[0]))
OP(o_add, em_add(in[0], in[1]))
OP(o_sub, em_sub(in[0], in[1]))
OP(o_mul, em_mul(in[0], in[1]))
OP(o_div, em_div(in[0], in[1]))
OP(o_pow, em_pow(in[0], in[1]))
OP(o_max, em_maximum(in[0], in[1]))
OP(o_min, em_minimum(in[0], in[1]))
OP(o_eq, em_equal(in[0], in[1]))
OP(o_ne, em_not_equal(in[0], in[1]))
OP(o_lt, em_less(in[0], in[1]))
OP(o_le, em_less_equal(in[0], in[1]))
OP(o_gt, em_greater(in[0], in[1]))
OP(o_ge, em_greater_equal(in[0], in[1]))
OP(o_where, em_where(em_greater(in[0], in[1]), in[0], in[1]))
OP(o_and, em_logical_and(in[0], in[1]))
OP(o_or, em_logical_or(in[0], in[1]))
OP(o_not, em_logical_not(in[0]))
static const int row_axis[] = {1};
OP(o_sum_rows, em_sum(in[0], 1, row_axis, false))
OP(o_max_rows, em_max(in[0], 1, row_axis, false))
OP(o_min_rows, em_min(in[0], 1, row_axis, true))
OP(o_to_i32, em_cast(in[0], EM_INT32))
OP(o_to_i64, em_cast(in[0], EM_INT64))
OP(o_to_u8, em_cast(in[0], EM_UINT8))
OP(o_to_bool, em_cast(in[0], EM_BOOL))
OP(o_to_f32, em_cast(in[0], EM_FLOAT32))
OP(o_to_f64, em_cast(in[0], EM_FLOAT64))
#undef OP

static int op_body(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    op_fn fn = *(op_fn *)user;
    out[0] = fn(in);
    return out[0] ? 1 : -1;
}

/* The op on in, natively and eagerly; NaN where eager gives NaN,
 * infinities, integers and bools exactly, finite floats within 4 ulp of
 * float32 (1e-13 for float64) or 1e-6 absolute. */
static void check_op(const char *name, op_fn fn, int n, em_tensor **in)
{
    em_tensor *want = fn(in);
    ck_assert_msg(want != NULL, "%s: eager failed: %s", name, error_text());
    em_trace_options o = {.name = name, .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(op_body, &fn, &o);
    em_tensor *got = NULL;
    ck_assert_msg(em_function_call(f, n, in, 1, &got) == 1, "%s: %s", name,
                  error_text());
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(f, n, in)).tier,
        EM_TIER_NATIVE);
    em_dtype dt = em_tensor_dtype(want);
    ck_assert_int_eq(em_tensor_dtype(got), dt);
    ck_assert_int_eq(em_tensor_size(got), em_tensor_size(want));
    double rtol = dt == EM_FLOAT32 ? 4.8e-7 : dt == EM_FLOAT64 ? 1e-13 : 0;
    double atol = em_dtype_is_float(dt) ? 1e-6 : 0;
    double *gv = values_of(got), *wv = values_of(want);
    double *av = values_of(in[0]), *bv = n > 1 ? values_of(in[1]) : NULL;
    for (int64_t e = 0; e < em_tensor_size(want); e++) {
        double g = gv[e], w = wv[e];
        bool ok = isnan(w) ? isnan(g)
                  : isinf(w)
                      ? g == w
                      : isfinite(g) && fabs(g - w) <= atol + rtol * fabs(w);
        ck_assert_msg(ok,
                      "%s (%s) element %lld, inputs %.9g, %.9g: native %.9g, "
                      "eager %.9g",
                      name, em_dtype_name(em_tensor_dtype(in[0])), (long long)e,
                      av[e], bv ? bv[e] : 0.0, g, w);
    }
    free(gv);
    free(wv);
    free(av);
    free(bv);
    em_function_free(f);
}

static const double specials[] = {
    NAN,   INFINITY, -INFINITY, 0.0,  -0.0, 1e-45, -1e-40, 1.17e-38,
    1e-30, 1e-8,     -1e-8,     0.5,  -0.5, 1,     -1,     3,
    -3,    9,        -9,        15,   -15,  20,    -20,    44.5,
    88.5,  89,       -87.5,     -104, -110, 1e10,  -1e10,  1e30,
    -1e30, 3.4e38,   -3.4e38,   710,  -745, 1e300, -1e300, 4.9e-324};
enum { N_SPECIALS = (int)(sizeof specials / sizeof *specials) };

static const struct {
    const char *name;
    op_fn fn;
} unary_ops[] = {
    {"neg", o_neg},
    {"abs", o_abs},
    {"sign", o_sign},
    {"exp", o_exp},
    {"log", o_log},
    {"log1p", o_log1p},
    {"sqrt", o_sqrt},
    {"rsqrt", o_rsqrt},
    {"square", o_square},
    {"reciprocal", o_recip},
    {"sin", o_sin},
    {"cos", o_cos},
    {"tanh", o_tanh},
    {"sigmoid", o_sigmoid},
    {"relu", o_relu},
    {"leaky_relu", o_leaky},
    {"elu", o_elu},
    {"gelu", o_gelu},
    {"softplus", o_softplus},
    {"erf", o_erf},
    {"step", o_step},
    {"logical_not", o_not},
    {"cast_int32", o_to_i32},
    {"cast_int64", o_to_i64},
    {"cast_uint8", o_to_u8},
    {"cast_bool", o_to_bool},
    {"cast_float32", o_to_f32},
    {"cast_float64", o_to_f64},
};
enum { N_UNARY = (int)(sizeof unary_ops / sizeof *unary_ops) };

static const struct {
    const char *name;
    op_fn fn;
} binary_ops[] = {
    {"add", o_add},          {"sub", o_sub},       {"mul", o_mul},
    {"div", o_div},          {"pow", o_pow},       {"maximum", o_max},
    {"minimum", o_min},      {"equal", o_eq},      {"not_equal", o_ne},
    {"less", o_lt},          {"less_equal", o_le}, {"greater", o_gt},
    {"greater_equal", o_ge}, {"where", o_where},   {"logical_and", o_and},
    {"logical_or", o_or},
};
enum { N_BINARY = (int)(sizeof binary_ops / sizeof *binary_ops) };

/* The specials (float32: those it can hold, rounded) as a tensor. */
static em_tensor *special_tensor(em_dtype dt)
{
    int64_t n = N_SPECIALS;
    em_tensor *t64 = em_tensor_from_data(specials, EM_FLOAT64, 1, &n);
    return dt == EM_FLOAT64 ? t64 : em_cast(t64, dt);
}

START_TEST(unary_ops_and_casts_on_special_values_match_eager)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    for (int k = 0; k < N_UNARY; k++) {
        em_scope_begin();
        em_tensor *x = special_tensor(dt);
        check_op(unary_ops[k].name, unary_ops[k].fn, 1, &x);
        em_scope_end();
    }
}
END_TEST

START_TEST(binary_ops_on_pairs_of_special_values_match_eager)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    int64_t n = (int64_t)N_SPECIALS * N_SPECIALS;
    double *a = malloc(sizeof(double) * (size_t)n);
    double *b = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < N_SPECIALS; i++)
        for (int j = 0; j < N_SPECIALS; j++) {
            a[i * N_SPECIALS + j] = specials[i];
            b[i * N_SPECIALS + j] = specials[j];
        }
    for (int k = 0; k < N_BINARY; k++) {
        em_scope_begin();
        em_tensor *in[2] = {em_tensor_from_data(a, EM_FLOAT64, 1, &n),
                            em_tensor_from_data(b, EM_FLOAT64, 1, &n)};
        if (dt != EM_FLOAT64)
            for (int j = 0; j < 2; j++)
                in[j] = em_cast(in[j], dt);
        check_op(binary_ops[k].name, binary_ops[k].fn, 2, in);
        em_scope_end();
    }
    free(a);
    free(b);
}
END_TEST

/* Integer extremes: comparisons, where, logical ops and casts. */
START_TEST(integer_ops_on_extreme_values_match_eager)
{
    const em_dtype dts[3] = {EM_INT32, EM_INT64, EM_UINT8};
    const double values[] = {0,
                             1,
                             -1,
                             127,
                             128,
                             255,
                             256,
                             -128,
                             2147483647.0,
                             -2147483648.0,
                             4294967296.0,
                             9.007199254740993e15,
                             -9.2e18,
                             9.2e18};
    enum { N = (int)(sizeof values / sizeof *values) };
    int64_t n = (int64_t)N * N;
    int64_t *a = malloc(sizeof(int64_t) * (size_t)n);
    int64_t *b = malloc(sizeof(int64_t) * (size_t)n);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i * N + j] = (int64_t)values[i];
            b[i * N + j] = (int64_t)values[j];
        }
    a[0] = INT64_MAX;
    b[1] = INT64_MIN;
    em_dtype dt = dts[_i];
    for (int k = 0; k < N_BINARY; k++) {
        if (binary_ops[k].fn == o_pow || binary_ops[k].fn == o_div)
            continue;
        em_scope_begin();
        em_tensor *in[2] = {em_cast(test_i64(1, &n, a), dt),
                            em_cast(test_i64(1, &n, b), dt)};
        check_op(binary_ops[k].name, binary_ops[k].fn, 2, in);
        em_scope_end();
    }
    for (int k = 0; k < N_UNARY; k++) {
        if (strncmp(unary_ops[k].name, "cast", 4) != 0 &&
            unary_ops[k].fn != o_not)
            continue;
        em_scope_begin();
        em_tensor *x = em_cast(test_i64(1, &n, a), dt);
        check_op(unary_ops[k].name, unary_ops[k].fn, 1, &x);
        em_scope_end();
    }
    free(a);
    free(b);
}
END_TEST

/* Rows holding NaN, infinities of both signs, or both. */
START_TEST(reductions_over_nan_and_infinities_match_eager)
{
    em_dtype dt = _i == 0 ? EM_FLOAT32 : EM_FLOAT64;
    const double rows[7][9] = {
        {1, 2, NAN, 4, 5, 6, 7, 8, 9},
        {NAN, 1, 1, 1, 1, 1, 1, 1, 1},
        {1, 1, 1, 1, 1, 1, 1, 1, NAN},
        {INFINITY, 1, 2, 3, 4, 5, 6, 7, 8},
        {-INFINITY, 1, 2, 3, 4, 5, 6, 7, 8},
        {INFINITY, 1, 2, 3, 4, 5, 6, 7, -INFINITY},
        {-0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0},
    };
    op_fn fns[3] = {o_sum_rows, o_max_rows, o_min_rows};
    const char *names[3] = {"sum rows", "max rows", "min rows"};
    for (int k = 0; k < 3; k++) {
        em_scope_begin();
        em_tensor *x =
            em_tensor_from_data(rows, EM_FLOAT64, 2, (int64_t[]){7, 9});
        if (dt != EM_FLOAT64)
            x = em_cast(x, dt);
        check_op(names[k], fns[k], 1, &x);
        em_scope_end();
    }
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit special values");
    TCase *tc = test_case(suite, "special values");
    tcase_add_loop_test(tc, unary_ops_and_casts_on_special_values_match_eager,
                        0, 2);
    tcase_add_loop_test(tc, binary_ops_on_pairs_of_special_values_match_eager,
                        0, 2);
    tcase_add_loop_test(tc, integer_ops_on_extreme_values_match_eager, 0, 3);
    tcase_add_loop_test(tc, reductions_over_nan_and_infinities_match_eager, 0,
                        2);
    return test_run(suite);
}
