/*
 * tests/test_control_grad.c - gradients through em_cond and em_while_loop,
 * eager and traced, against finite differences (em_gradient_check) and
 * hand-derived formulas.
 */
#include "testing.h"

/* ---- a piecewise function: sum(x) > 0 ? x * x : -3 x ---------------------*/

static int square(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    out[0] = em_mul(in[0], in[0]);
    return 1;
}

static int minus_three(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_mul(in[0], em_scalar(-3, EM_FLOAT64));
    return 1;
}

static int piecewise(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT64));
    em_tensor *y = NULL;
    if (em_cond(pred, square, minus_three, NULL, 1, in, 1, &y) != 1)
        return -1;
    out[0] = em_sum(em_mul(y, em_sin(in[0])), 0, NULL, false);
    return 1;
}

static em_tensor *eager_scalar(int n, em_tensor *const *in, void *user)
{
    const em_traced_body *fn = user;
    em_tensor *out = NULL;
    return (*fn)(n, in, 1, &out, NULL) == 1 ? out : NULL;
}

/* Calls a traced function (under the checker's tape, whose gradient is
 * then a traced function too). */
static em_tensor *traced_scalar(int n, em_tensor *const *in, void *user)
{
    em_tensor *out = NULL;
    return em_function_call(user, n, in, 1, &out) == 1 ? out : NULL;
}

static em_function *traced(em_traced_body body, void *user, const char *name)
{
    em_trace_options o = {.name = name, .jit = EM_JIT_OFF};
    return em_trace_fn(body, user, &o);
}

START_TEST(eager_cond_gradient_matches_finite_differences)
{
    em_scope_begin();
    double xs[2][3] = {{0.5, 1.2, -0.3}, {-0.5, -1.2, 0.3}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f64(1, (int64_t[]){3}, xs[b]);
        double err = em_gradient_check(
            eager_scalar, &(em_traced_body){piecewise}, 1, &x, 1e-6);
        ck_assert_double_ge(err, 0);
        ck_assert_double_lt(err, 1e-6);
    }
    em_scope_end();
}
END_TEST

START_TEST(traced_cond_gradient_matches_finite_differences)
{
    em_scope_begin();
    em_function *f = traced(piecewise, NULL, "piecewise");
    double xs[2][3] = {{0.5, 1.2, -0.3}, {-0.5, -1.2, 0.3}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f64(1, (int64_t[]){3}, xs[b]);
        double err = em_gradient_check(traced_scalar, f, 1, &x, 1e-6);
        ck_assert_double_ge(err, 0);
        ck_assert_double_lt(err, 1e-6);
    }
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* A traced function whose body takes the gradient itself (the training-step
 * case): d/dx sum(piecewise) by hand is (2x sin x + x^2 cos x) or
 * (-3 sin x - 3x cos x). */
static int piecewise_gradient(int n, em_tensor *const *in, int max,
                              em_tensor **out, void *user)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, in[0]);
    em_tensor *y = NULL;
    int rc = piecewise(1, in, 1, &y, NULL) == 1 &&
                     em_tape_gradient(tape, y, 1, in, out) == 0
                 ? 1
                 : -1;
    em_tape_free(tape);
    return rc;
}

START_TEST(tape_inside_a_traced_function_differentiates_a_cond)
{
    em_scope_begin();
    em_function *f = traced(piecewise_gradient, NULL, "piecewise_gradient");
    double xs[2][3] = {{0.5, 1.2, -0.3}, {-0.5, -1.2, 0.3}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f64(1, (int64_t[]){3}, xs[b]), *g = NULL;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &g), 1);
        bool positive = xs[b][0] + xs[b][1] + xs[b][2] > 0;
        double want[3];
        for (int i = 0; i < 3; i++) {
            double v = xs[b][i];
            want[i] = positive ? 2 * v * sin(v) + v * v * cos(v)
                               : -3 * sin(v) - 3 * v * cos(v);
        }
        assert_values(g, want, 3, 1e-12, 1e-12);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- x^n through a loop --------------------------------------------------*/

typedef struct power {
    em_tensor *x;
    int64_t n;
} power;

static int below_n(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    power *p = user;
    out[0] = em_less(in[0], em_scalar((double)p->n, EM_INT64));
    return 1;
}

static int times_x(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    power *p = user;
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul(in[1], p->x);
    return 2;
}

/* sum(x^5) with x^5 from a loop; user is the exponent holder. */
static int power_sum(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    /* Static: a traced loop's gradient runs the body again later, when
     * the tape computes it, and needs `user` then. */
    static power p;
    p = (power){in[0], 5};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_ones_like(in[0])};
    em_tensor *res[2];
    if (em_while_loop(below_n, times_x, &p, 2, vars, res, NULL) != 0)
        return -1;
    out[0] = em_sum(res[1], 0, NULL, false);
    return 1;
}

START_TEST(eager_while_gradient_of_a_power_matches_finite_differences)
{
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){0.7, -1.1, 1.3});
    double err = em_gradient_check(eager_scalar, &(em_traced_body){power_sum},
                                   1, &x, 1e-6);
    ck_assert_double_ge(err, 0);
    ck_assert_double_lt(err, 1e-6);
    em_scope_end();
}
END_TEST

START_TEST(traced_while_gradient_of_a_power_matches_finite_differences)
{
    em_scope_begin();
    em_function *f = traced(power_sum, NULL, "power_sum");
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){0.7, -1.1, 1.3});
    double err = em_gradient_check(traced_scalar, f, 1, &x, 1e-6);
    ck_assert_double_ge(err, 0);
    ck_assert_double_lt(err, 1e-6);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int power_gradient(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, in[0]);
    em_tensor *y = NULL;
    int rc = power_sum(1, in, 1, &y, NULL) == 1 &&
                     em_tape_gradient(tape, y, 1, in, out) == 0
                 ? 1
                 : -1;
    em_tape_free(tape);
    return rc;
}

START_TEST(tape_inside_a_traced_function_differentiates_a_loop)
{
    em_scope_begin();
    em_function *f = traced(power_gradient, NULL, "power_gradient");
    double xs[3] = {0.7, -1.1, 1.3};
    em_tensor *x = test_f64(1, (int64_t[]){3}, xs), *g = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &g), 1);
    double want[3];
    for (int i = 0; i < 3; i++)
        want[i] = 5 * pow(xs[i], 4);
    assert_values(g, want, 3, 1e-12, 1e-12);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- a small recurrent net: h <- tanh(h W + x_t U), loss sum(h^2) --------*/

typedef struct rnn {
    em_tensor *w, *u, *xs;
    int64_t steps;
} rnn;

static int rnn_more(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    rnn *r = user;
    out[0] = em_less(in[0], em_scalar((double)r->steps, EM_INT64));
    return 1;
}

static int rnn_step(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    rnn *r = user;
    em_tensor *x = em_gather(r->xs, in[0], 0); /* [batch, in] */
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_tanh(em_add(em_matmul(in[1], r->w, false, false),
                            em_matmul(x, r->u, false, false)));
    return 2;
}

/* inputs: w [4,4], u [3,4], xs [steps, 2, 3], h0 [2, 4] */
static int rnn_loss(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    static rnn r; /* outlives the call, for the traced gradient */
    r = (rnn){in[0], in[1], in[2], em_tensor_dim(in[2], 0)};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), in[3]};
    em_tensor *res[2];
    if (em_while_loop(rnn_more, rnn_step, &r, 2, vars, res, NULL) != 0)
        return -1;
    out[0] = em_sum(em_square(res[1]), 0, NULL, false);
    return 1;
}

static void rnn_inputs(em_tensor **in)
{
    in[0] = test_random(1, EM_FLOAT64, 2, (int64_t[]){4, 4}, -0.6, 0.6);
    in[1] = test_random(2, EM_FLOAT64, 2, (int64_t[]){3, 4}, -0.6, 0.6);
    in[2] = test_random(3, EM_FLOAT64, 3, (int64_t[]){5, 2, 3}, -1, 1);
    in[3] = test_random(4, EM_FLOAT64, 2, (int64_t[]){2, 4}, -0.5, 0.5);
}

START_TEST(eager_recurrent_net_gradient_matches_finite_differences)
{
    em_scope_begin();
    em_tensor *in[4];
    rnn_inputs(in);
    double err = em_gradient_check(eager_scalar, &(em_traced_body){rnn_loss}, 4,
                                   in, 1e-6);
    ck_assert_double_ge(err, 0);
    ck_assert_double_lt(err, 1e-6);
    em_scope_end();
}
END_TEST

START_TEST(traced_recurrent_net_gradient_matches_finite_differences)
{
    em_scope_begin();
    em_function *f = traced(rnn_loss, NULL, "rnn");
    em_tensor *in[4];
    rnn_inputs(in);
    double err = em_gradient_check(traced_scalar, f, 4, in, 1e-6);
    ck_assert_double_ge(err, 0);
    ck_assert_double_lt(err, 1e-6);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* A trainable variable read only inside the loop body gets its gradient
 * from a tape inside the traced function. */
static int rnn_variable_gradient(int n, em_tensor *const *in, int max,
                                 em_tensor **out, void *user)
{
    em_tensor *w = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *args[4] = {w, in[0], in[1], in[2]}, *loss = NULL;
    int rc = rnn_loss(4, args, 1, &loss, NULL) == 1 &&
                     em_tape_gradient(tape, loss, 1, &w, out) == 0
                 ? 1
                 : -1;
    em_tape_free(tape);
    return rc;
}

START_TEST(traced_loop_gives_a_variable_its_gradient)
{
    em_scope_begin();
    em_tensor *in[4];
    rnn_inputs(in);
    em_tensor *w = em_variable_new("w", in[0], true);
    em_function *f = traced(rnn_variable_gradient, w, "rnn_w");
    em_tensor *g_traced = NULL, *g_eager = NULL;
    ck_assert_int_eq(em_function_call(f, 3, in + 1, 1, &g_traced), 1);
    ck_assert_int_eq(rnn_variable_gradient(3, in + 1, 1, &g_eager, w), 1);
    double want[16];
    for (int i = 0; i < 16; i++)
        want[i] = test_at(g_eager, i);
    assert_values(g_traced, want, 16, 1e-12, 1e-10);
    em_function_free(f);
    em_tensor_free(w);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control_grad");
    TCase *tc = test_case(s, "cond");
    tcase_add_test(tc, eager_cond_gradient_matches_finite_differences);
    tcase_add_test(tc, traced_cond_gradient_matches_finite_differences);
    tcase_add_test(tc, tape_inside_a_traced_function_differentiates_a_cond);
    tc = test_case(s, "while_loop");
    tcase_add_test(tc,
                   eager_while_gradient_of_a_power_matches_finite_differences);
    tcase_add_test(tc,
                   traced_while_gradient_of_a_power_matches_finite_differences);
    tcase_add_test(tc, tape_inside_a_traced_function_differentiates_a_loop);
    tcase_add_test(tc, eager_recurrent_net_gradient_matches_finite_differences);
    tcase_add_test(tc,
                   traced_recurrent_net_gradient_matches_finite_differences);
    tcase_add_test(tc, traced_loop_gives_a_variable_its_gradient);
    return test_run(s);
}
