/* Gradients of the elementwise ops: finite-difference checks (central
 * differences in float64, em_gradient_check) of sum(op(...) * w) with fixed
 * random weights w, for every differentiable op, with broadcasting; second
 * derivatives through the rules by nested tapes; and the conventions at
 * kinks, ties and zeros, checked against hand-derived values. */
#include <string.h>

#include "testing.h"

#define EPS 1e-6
#define TOL 1e-6

/* sum(y * w), w fixed random weights shaped like y. */
static em_tensor *weighted_sum(em_tensor *y)
{
    if (!y)
        return NULL;
    em_tensor *w = test_random(11, EM_FLOAT64, em_tensor_ndim(y),
                               em_tensor_shape(y), -1, 1);
    return em_sum(em_mul(y, w), 0, NULL, false);
}

typedef struct input_spec {
    int ndim;
    int64_t shape[4];
    double low, high;
} input_spec;

/* Runs em_gradient_check on fn with n random inputs. */
static void check(const char *what, em_scalar_fn fn, void *user, int n,
                  const input_spec *specs)
{
    em_scope_begin();
    em_tensor *xs[3];
    for (int i = 0; i < n; i++)
        xs[i] = test_random(100 + (uint64_t)i, EM_FLOAT64, specs[i].ndim,
                            specs[i].shape, specs[i].low, specs[i].high);
    double err = em_gradient_check(fn, user, n, xs, EPS);
    if (err < 0)
        ck_abort_msg("%s: gradient check failed: %s", what, em_error_last());
    ck_assert_msg(err < TOL, "%s: gradient error %g", what, err);
    em_scope_end();
}

/* d target / d x by a fresh tape (the target computed by fn). */
static em_tensor *gradient_of(em_tensor *(*fn)(em_tensor *, void *), void *user,
                              em_tensor *x)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = fn(x, user);
    em_tensor *g = NULL;
    int rc = y ? em_tape_gradient(tape, y, 1, &x, &g) : -1;
    em_tape_free(tape);
    ck_assert_msg(rc == 0, "tape gradient failed: %s", em_error_last());
    return g;
}

static em_tensor *total(em_tensor *y)
{
    return em_sum(y, 0, NULL, false);
}

/* ---- one input ------------------------------------------------------------*/

/* clang-format off */
static em_tensor *leaky_01(em_tensor *x) { return em_leaky_relu(x, 0.1); }
static em_tensor *elu_15(em_tensor *x) { return em_elu(x, 1.5); }
/* clang-format on */

typedef struct unary_case {
    const char *name;
    em_tensor *(*op)(em_tensor *);
    double low, high; /* the inputs' range, inside the op's domain */
} unary_case;

static const unary_case unary_cases[] = {
    {"neg", em_neg, -2, 2},           {"abs", em_abs, -2, 2},
    {"sign", em_sign, -2, 2},         {"exp", em_exp, -2, 2},
    {"log", em_log, 0.5, 3},          {"log1p", em_log1p, -0.5, 2},
    {"sqrt", em_sqrt, 0.5, 3},        {"rsqrt", em_rsqrt, 0.5, 3},
    {"square", em_square, -2, 2},     {"reciprocal", em_reciprocal, 0.5, 3},
    {"sin", em_sin, -3, 3},           {"cos", em_cos, -3, 3},
    {"tanh", em_tanh, -2, 2},         {"sigmoid", em_sigmoid, -4, 4},
    {"relu", em_relu, -2, 2},         {"leaky_relu", leaky_01, -2, 2},
    {"elu", elu_15, -2, 2},           {"gelu", em_gelu, -3, 3},
    {"softplus", em_softplus, -4, 4}, {"step", em_step, -2, 2},
    {"erf", em_erf, -2, 2},
};
#define N_UNARY ((int)(sizeof unary_cases / sizeof unary_cases[0]))

static em_tensor *unary_fn(int n, em_tensor *const *x, void *user)
{
    const unary_case *c = user;
    return weighted_sum(c->op(x[0]));
}

/* sum(w * d/dx sum(op(x)^3)): its gradient needs the op's rule to be
 * differentiable itself (op'' and op' both enter). */
static em_tensor *cube_of(em_tensor *x, void *user)
{
    const unary_case *c = user;
    em_tensor *y = c->op(x);
    return total(em_mul(em_mul(y, y), y));
}

static em_tensor *unary_second_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(gradient_of(cube_of, user, x[0]));
}

START_TEST(unary_gradients_match_finite_differences)
{
    const unary_case *c = &unary_cases[_i];
    input_spec spec = {2, {3, 4}, c->low, c->high};
    check(c->name, unary_fn, (void *)c, 1, &spec);
    input_spec scalar = {0, {0}, c->low, c->high};
    check(c->name, unary_fn, (void *)c, 1, &scalar);
}
END_TEST

START_TEST(unary_second_derivatives_match_finite_differences)
{
    const unary_case *c = &unary_cases[_i];
    input_spec spec = {2, {2, 3}, c->low, c->high};
    check(c->name, unary_second_fn, (void *)c, 1, &spec);
}
END_TEST

/* ---- two inputs -----------------------------------------------------------*/

typedef struct binary_case {
    const char *name;
    em_tensor *(*op)(em_tensor *, em_tensor *);
    double low_a, high_a, low_b, high_b;
} binary_case;

static const binary_case binary_cases[] = {
    {"add", em_add, -2, 2, -2, 2},
    {"sub", em_sub, -2, 2, -2, 2},
    {"mul", em_mul, -2, 2, -2, 2},
    {"div", em_div, -2, 2, 0.5, 2},
    {"pow", em_pow, 0.5, 2, -1.5, 1.5},
    {"maximum", em_maximum, -2, 2, -2, 2},
    {"minimum", em_minimum, -2, 2, -2, 2},
};
#define N_BINARY ((int)(sizeof binary_cases / sizeof binary_cases[0]))

typedef struct shape_pair {
    int na;
    int64_t sa[4];
    int nb;
    int64_t sb[4];
} shape_pair;

static const shape_pair shape_pairs[] = {
    {2, {2, 3}, 2, {2, 3}},    {2, {2, 3}, 1, {3}}, {1, {3}, 2, {2, 3}},
    {2, {3, 1}, 2, {1, 4}},    {2, {2, 3}, 0, {0}}, {0, {0}, 2, {2, 3}},
    {3, {2, 1, 3}, 2, {4, 1}},
};
#define N_PAIRS ((int)(sizeof shape_pairs / sizeof shape_pairs[0]))

static em_tensor *binary_fn(int n, em_tensor *const *x, void *user)
{
    const binary_case *c = user;
    return weighted_sum(c->op(x[0], x[1]));
}

/* sum(w_a * da + w_b * db) for d = gradient of sum(op(a, b)^3). */
static em_tensor *binary_second_fn(int n, em_tensor *const *x, void *user)
{
    const binary_case *c = user;
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x[0]);
    em_tape_watch(tape, x[1]);
    em_tensor *y = c->op(x[0], x[1]);
    em_tensor *g[2] = {NULL, NULL};
    int rc = em_tape_gradient(tape, total(em_mul(em_mul(y, y), y)), 2, x, g);
    em_tape_free(tape);
    if (rc != 0)
        return NULL;
    return em_add(weighted_sum(g[0]), weighted_sum(g[1]));
}

static void binary_specs(const binary_case *c, const shape_pair *p,
                         input_spec *specs)
{
    specs[0] = (input_spec){p->na, {0}, c->low_a, c->high_a};
    specs[1] = (input_spec){p->nb, {0}, c->low_b, c->high_b};
    memcpy(specs[0].shape, p->sa, sizeof p->sa);
    memcpy(specs[1].shape, p->sb, sizeof p->sb);
}

START_TEST(binary_gradients_match_finite_differences_when_broadcast)
{
    const binary_case *c = &binary_cases[_i];
    for (int s = 0; s < N_PAIRS; s++) {
        input_spec specs[2];
        binary_specs(c, &shape_pairs[s], specs);
        char what[64];
        snprintf(what, sizeof what, "%s, shape pair %d", c->name, s);
        check(what, binary_fn, (void *)c, 2, specs);
    }
}
END_TEST

START_TEST(binary_second_derivatives_match_finite_differences)
{
    const binary_case *c = &binary_cases[_i];
    for (int s = 0; s < N_PAIRS; s += 3) {
        input_spec specs[2];
        binary_specs(c, &shape_pairs[s], specs);
        char what[64];
        snprintf(what, sizeof what, "%s, shape pair %d", c->name, s);
        check(what, binary_second_fn, (void *)c, 2, specs);
    }
}
END_TEST

/* ---- where ----------------------------------------------------------------*/

/* where(cond, a^2, sin(b)) with cond [2,1,3] fixed (user holds it), a
 * [1,4,1] and b [4,1], broadcast to [2,4,3]. */
static em_tensor *where_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_where(user, em_square(x[0]), em_sin(x[1])));
}

static em_tensor *where_second_fn(int n, em_tensor *const *x, void *user)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x[0]);
    em_tape_watch(tape, x[1]);
    em_tensor *y = em_where(user, em_square(x[0]), em_sin(x[1]));
    em_tensor *g[2] = {NULL, NULL};
    int rc = em_tape_gradient(tape, total(em_mul(em_mul(y, y), y)), 2, x, g);
    em_tape_free(tape);
    if (rc != 0)
        return NULL;
    return em_add(weighted_sum(g[0]), weighted_sum(g[1]));
}

START_TEST(where_gradients_match_finite_differences_when_broadcast)
{
    em_scope_begin();
    em_tensor *noise =
        test_random(5, EM_FLOAT64, 3, (int64_t[]){2, 1, 3}, -1, 1);
    em_tensor *cond = em_greater(noise, em_scalar(0, EM_FLOAT64));
    input_spec specs[2] = {{3, {1, 4, 1}, -2, 2}, {2, {4, 1}, -2, 2}};
    check("where", where_fn, cond, 2, specs);
    check("where, second order", where_second_fn, cond, 2, specs);
    em_scope_end();
}
END_TEST

/* ---- conventions ----------------------------------------------------------*/

/* sum(op(x)), user pointing at a unary_case. */
static em_tensor *total_of(em_tensor *x, void *user)
{
    const unary_case *c = user;
    return total(c->op(x));
}

static unary_case relu_op = {"relu", em_relu, 0, 0};
static unary_case abs_op = {"abs", em_abs, 0, 0};
static unary_case sqrt_op = {"sqrt", em_sqrt, 0, 0};
static unary_case sign_op = {"sign", em_sign, 0, 0};
static unary_case step_op = {"step", em_step, 0, 0};
static unary_case tanh_op = {"tanh", em_tanh, 0, 0};

START_TEST(kinks_follow_the_documented_conventions)
{
    em_scope_begin();
    em_tensor *zero = test_f64(1, (int64_t[]){1}, (double[]){0});
    assert_values(gradient_of(total_of, &relu_op, zero), ((double[]){0}), 1, 0,
                  0);
    assert_values(gradient_of(total_of, &abs_op, zero), ((double[]){0}), 1, 0,
                  0);
    assert_values(gradient_of(total_of, &sqrt_op, zero), ((double[]){INFINITY}),
                  1, 0, 0);
    /* zero, but a gradient (not NULL): the path stays connected */
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){-1, 0, 2});
    assert_values(gradient_of(total_of, &sign_op, x), ((double[]){0, 0, 0}), 3,
                  0, 0);
    assert_values(gradient_of(total_of, &step_op, x), ((double[]){0, 0, 0}), 3,
                  0, 0);
    em_scope_end();
}
END_TEST

static em_tensor *gradients2(em_tensor *(*op)(em_tensor *, em_tensor *),
                             em_tensor *a, em_tensor *b, em_tensor **ga)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, a);
    em_tape_watch(tape, b);
    em_tensor *g[2] = {NULL, NULL};
    int rc =
        em_tape_gradient(tape, total(op(a, b)), 2, (em_tensor *[]){a, b}, g);
    em_tape_free(tape);
    ck_assert_msg(rc == 0, "tape gradient failed: %s", em_error_last());
    *ga = g[0];
    return g[1];
}

START_TEST(maximum_and_minimum_split_ties_evenly)
{
    em_scope_begin();
    em_tensor *a = test_f64(1, (int64_t[]){3}, (double[]){1, 2, 3});
    em_tensor *b = test_f64(1, (int64_t[]){3}, (double[]){1, 5, 0});
    em_tensor *ga, *gb;
    gb = gradients2(em_maximum, a, b, &ga);
    assert_values(ga, ((double[]){0.5, 0, 1}), 3, 0, 0);
    assert_values(gb, ((double[]){0.5, 1, 0}), 3, 0, 0);
    gb = gradients2(em_minimum, a, b, &ga);
    assert_values(ga, ((double[]){0.5, 1, 0}), 3, 0, 0);
    assert_values(gb, ((double[]){0.5, 0, 1}), 3, 0, 0);

    /* maximum(x, x) = x: the two halves add up to 1 */
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, a);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, total(em_maximum(a, a)), 1, &a, &g),
                     0);
    em_tape_free(tape);
    assert_values(g, ((double[]){1, 1, 1}), 3, 0, 0);
    em_scope_end();
}
END_TEST

START_TEST(pow_gradients_are_zero_not_nan_at_zero)
{
    em_scope_begin();
    /* d/da a^b = b a^(b-1); d/db a^b = log(a) a^b; both 0 by convention
     * where b == 0 and a == 0 respectively. */
    em_tensor *a = test_f64(1, (int64_t[]){4}, (double[]){0, 0, 2, 0});
    em_tensor *b = test_f64(1, (int64_t[]){4}, (double[]){2, 0, 3, 0.5});
    em_tensor *ga, *gb;
    gb = gradients2(em_pow, a, b, &ga);
    assert_values(ga, ((double[]){0, 0, 12, INFINITY}), 4, 0, 1e-15);
    assert_values(gb, ((double[]){0, 0, 8 * log(2.0), 0}), 4, 0, 1e-15);
    em_scope_end();
}
END_TEST

/* where(x > 0, log(where(x > 0, x, 1)), 0): the untaken branch of the
 * outer where would be log(0) = -inf or log(-1) = NaN; the inner where keeps
 * log's own derivative finite there, and the outer one gives it exactly 0. */
static em_tensor *safe_log(em_tensor *x, void *user)
{
    em_tensor *zero = em_scalar(0, EM_FLOAT64);
    em_tensor *positive = em_greater(x, zero);
    em_tensor *inner = em_where(positive, x, em_scalar(1, EM_FLOAT64));
    return total(em_where(positive, em_log(inner), zero));
}

START_TEST(where_keeps_inf_and_nan_of_the_untaken_branch_out)
{
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){-1, 0, 4});
    assert_values(gradient_of(safe_log, NULL, x), ((double[]){0, 0, 0.25}), 3,
                  0, 1e-15);

    /* The branch not taken holds log(0), 1/0 and log(-1): the taken
     * branch's gradient is exact, and the untaken one gets exactly 0. */
    em_tensor *bad =
        test_f64(1, (int64_t[]){3}, (double[]){-INFINITY, INFINITY, NAN});
    em_tensor *a = test_f64(1, (int64_t[]){3}, (double[]){1, 2, 3});
    em_tensor *all = em_ones(EM_BOOL, 1, (int64_t[]){3});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, a);
    em_tape_watch(tape, bad);
    em_tensor *y = total(em_where(all, em_square(a), bad));
    em_tensor *g[2] = {NULL, NULL};
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, (em_tensor *[]){a, bad}, g),
                     0);
    em_tape_free(tape);
    assert_values(g[0], ((double[]){2, 4, 6}), 3, 0, 0);
    assert_values(g[1], ((double[]){0, 0, 0}), 3, 0, 0);

    /* An infinite incoming gradient (sqrt at 0) reaches only the branch
     * taken: selecting, not multiplying by a 0/1 mask (inf * 0 = NaN). */
    em_tensor *p = test_f64(1, (int64_t[]){2}, (double[]){0, 9});
    em_tensor *q = test_f64(1, (int64_t[]){2}, (double[]){4, 0});
    em_tensor *pick = test_f64(1, (int64_t[]){2}, (double[]){1, 0});
    tape = em_tape_begin(false);
    em_tape_watch(tape, p);
    em_tape_watch(tape, q);
    y = total(em_sqrt(em_where(pick, p, q)));
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, (em_tensor *[]){p, q}, g), 0);
    em_tape_free(tape);
    assert_values(g[0], ((double[]){INFINITY, 0}), 2, 0, 0);
    assert_values(g[1], ((double[]){0, INFINITY}), 2, 0, 0);
    em_scope_end();
}
END_TEST

/* The plain form, without the inner where: each untaken branch below is
 * infinite or NaN at some x, yet the gradient there is exactly 0 and the
 * taken branch's is the textbook one. */
static em_tensor *plain_where(em_tensor *x, void *user)
{
    em_tensor *(*branch)(em_tensor *) = *(em_tensor * (**)(em_tensor *)) user;
    em_tensor *zero = em_scalar(0, EM_FLOAT64);
    return total(em_where(em_greater(x, zero), branch(x), zero));
}

static em_tensor *reciprocal_of(em_tensor *x)
{
    return em_div(em_scalar(1, EM_FLOAT64), x);
}

static em_tensor *exp_of_reciprocal(em_tensor *x)
{
    return em_exp(em_reciprocal(em_neg(x)));
}

START_TEST(where_without_the_double_where_pattern_stays_finite)
{
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){-1, 0, 4});
    em_tensor *(*branches[])(em_tensor *) = {em_log,        em_sqrt,
                                             em_rsqrt,      em_reciprocal,
                                             reciprocal_of, exp_of_reciprocal};
    /* d/dx at x = 4 of log, sqrt, rsqrt, 1/x, 1/x, exp(-1/x) */
    double at4[] = {0.25,      0.25,      -1.0 / 16,
                    -1.0 / 16, -1.0 / 16, exp(-0.25) / 16};
    for (int i = 0; i < 6; i++) {
        em_tensor *g = gradient_of(plain_where, &branches[i], x);
        assert_values(g, ((double[]){0, 0, at4[i]}), 3, 0, 1e-14);
    }
    em_scope_end();
}
END_TEST

START_TEST(gelu_second_derivative_at_zero_is_exact)
{
    /* gelu''(x) = 2 phi(x) - x^2 phi(x), so gelu''(0) = 2 / sqrt(2 pi). */
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){1}, (double[]){0});
    em_tape *outer = em_tape_begin(false);
    em_tape_watch(outer, x);
    em_tape *inner = em_tape_begin(false);
    em_tape_watch(inner, x);
    em_tensor *y = em_sum(em_gelu(x), 0, NULL, false);
    em_tensor *dy, *d2y;
    ck_assert_int_eq(em_tape_gradient(inner, y, 1, &x, &dy), 0);
    ck_assert_int_eq(
        em_tape_gradient(outer, em_sum(dy, 0, NULL, false), 1, &x, &d2y), 0);
    assert_values(dy, ((double[]){0.5}), 1, 1e-15, 0);
    assert_values(d2y, ((double[]){2 / sqrt(2 * M_PI)}), 1, 1e-15, 1e-15);
    em_tape_free(inner);
    em_tape_free(outer);
    em_scope_end();
}
END_TEST

START_TEST(float32_gradients_stay_float32)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){-1, 0.5f, 2});
    em_tensor *g = gradient_of(total_of, &tanh_op, x);
    ck_assert_int_eq(em_tensor_dtype(g), EM_FLOAT32);
    double expected[3];
    for (int i = 0; i < 3; i++) {
        double t = tanh((double[]){-1, 0.5, 2}[i]);
        expected[i] = 1 - t * t;
    }
    assert_values(g, expected, 3, 1e-6, 1e-6);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_elementwise");

    TCase *unary = test_case(s, "unary");
    tcase_add_loop_test(unary, unary_gradients_match_finite_differences, 0,
                        N_UNARY);
    tcase_add_loop_test(
        unary, unary_second_derivatives_match_finite_differences, 0, N_UNARY);

    TCase *binary = test_case(s, "binary");
    tcase_add_loop_test(
        binary, binary_gradients_match_finite_differences_when_broadcast, 0,
        N_BINARY);
    tcase_add_loop_test(binary,
                        binary_second_derivatives_match_finite_differences, 0,
                        N_BINARY);
    tcase_add_test(binary,
                   where_gradients_match_finite_differences_when_broadcast);

    TCase *conventions = test_case(s, "conventions");
    tcase_add_test(conventions, kinks_follow_the_documented_conventions);
    tcase_add_test(conventions, maximum_and_minimum_split_ties_evenly);
    tcase_add_test(conventions, pow_gradients_are_zero_not_nan_at_zero);
    tcase_add_test(conventions,
                   where_keeps_inf_and_nan_of_the_untaken_branch_out);
    tcase_add_test(conventions, float32_gradients_stay_float32);
    tcase_add_test(conventions, gelu_second_derivative_at_zero_is_exact);
    tcase_add_test(conventions,
                   where_without_the_double_where_pattern_stays_finite);
    return test_run(s);
}
