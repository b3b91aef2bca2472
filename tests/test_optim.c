/* Optimisers, learning-rate schedules and gradient clipping. Expected values
 * are the torch.optim formulas evaluated in double in the test. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

static em_tensor *variable_f64(const char *name, int n, const double *v)
{
    em_tensor *init = test_f64(1, (int64_t[]){n}, v);
    em_tensor *w = em_variable_new(name, init, true);
    em_tensor_free(init);
    return w;
}

/* One update of w with gradient values g (n elements, float64). */
static void apply_one(em_optimizer *opt, em_tensor *w, int n, const double *g)
{
    em_tensor *grad = test_f64(1, (int64_t[]){n}, g);
    int status = em_optimizer_apply(opt, 1, &grad, &w);
    const char *e = em_error_last();
    ck_assert_msg(status == 0, "apply failed: %s", e ? e : "");
    em_tensor_free(grad);
}

static const double w0[2] = {1.0, -2.0};
static const double g1[2] = {0.5, -1.0};
static const double g2[2] = {2.0, 0.25};

START_TEST(sgd_without_momentum_subtracts_lr_times_gradient)
{
    const double lr = 0.1;
    em_optimizer *opt = em_optimizer_sgd(lr, 0, false);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    for (int i = 0; i < 2; i++)
        expected[i] = w0[i] - lr * g1[i] - lr * g2[i];
    assert_values(w, expected, 2, 1e-15, 1e-14);
    ck_assert_int_eq(em_optimizer_steps(opt), 2);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(sgd_momentum_accumulates_a_velocity)
{
    const double lr = 0.1, mu = 0.9;
    em_optimizer *opt = em_optimizer_sgd(lr, mu, false);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    for (int i = 0; i < 2; i++) {
        double b = g1[i], v = w0[i] - lr * b;
        b = mu * b + g2[i];
        expected[i] = v - lr * b;
    }
    assert_values(w, expected, 2, 1e-15, 1e-14);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(sgd_nesterov_looks_ahead)
{
    const double lr = 0.05, mu = 0.8;
    em_optimizer *opt = em_optimizer_sgd(lr, mu, true);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    for (int i = 0; i < 2; i++) {
        double b = g1[i], v = w0[i] - lr * (g1[i] + mu * b);
        b = mu * b + g2[i];
        expected[i] = v - lr * (g2[i] + mu * b);
    }
    assert_values(w, expected, 2, 1e-15, 1e-14);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

/* Two Adam steps in double, with AdamW's decay when wd > 0. */
static void adam_reference(double lr, double b1, double b2, double eps,
                           double wd, double *expected)
{
    const double *gs[2] = {g1, g2};
    for (int i = 0; i < 2; i++) {
        double v = w0[i], m = 0, s = 0;
        for (int t = 1; t <= 2; t++) {
            double g = gs[t - 1][i];
            v -= lr * wd * v;
            m = b1 * m + (1 - b1) * g;
            s = b2 * s + (1 - b2) * g * g;
            double mhat = m / (1 - pow(b1, t)), shat = s / (1 - pow(b2, t));
            v -= lr * mhat / (sqrt(shat) + eps);
        }
        expected[i] = v;
    }
}

START_TEST(adam_two_steps_with_bias_correction)
{
    em_optimizer *opt = em_optimizer_adam(0.01, 0.9, 0.999, 1e-8);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    adam_reference(0.01, 0.9, 0.999, 1e-8, 0, expected);
    assert_values(w, expected, 2, 1e-14, 1e-12);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(adamw_decays_weights_before_the_adam_step)
{
    /* A large eps and decay make both terms visible. */
    em_optimizer *opt = em_optimizer_adamw(0.1, 0.5, 0.75, 0.1, 0.2);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2], plain[2];
    adam_reference(0.1, 0.5, 0.75, 0.1, 0.2, expected);
    adam_reference(0.1, 0.5, 0.75, 0.1, 0, plain);
    assert_values(w, expected, 2, 1e-14, 1e-12);
    ck_assert_double_gt(fabs(expected[0] - plain[0]), 1e-3);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

/* Two RMSprop steps in double. */
static void rmsprop_reference(double lr, double rho, double mu, double eps,
                              double *expected)
{
    const double *gs[2] = {g1, g2};
    for (int i = 0; i < 2; i++) {
        double v = w0[i], s = 0, b = 0;
        for (int t = 0; t < 2; t++) {
            double g = gs[t][i];
            s = rho * s + (1 - rho) * g * g;
            double scaled = g / (sqrt(s) + eps);
            if (mu > 0) {
                b = mu * b + scaled;
                v -= lr * b;
            } else {
                v -= lr * scaled;
            }
        }
        expected[i] = v;
    }
}

START_TEST(rmsprop_without_momentum)
{
    em_optimizer *opt = em_optimizer_rmsprop(0.01, 0.9, 0, 1e-3);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    rmsprop_reference(0.01, 0.9, 0, 1e-3, expected);
    assert_values(w, expected, 2, 1e-14, 1e-12);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(rmsprop_with_momentum)
{
    em_optimizer *opt = em_optimizer_rmsprop(0.01, 0.8, 0.5, 1e-3);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2], plain[2];
    rmsprop_reference(0.01, 0.8, 0.5, 1e-3, expected);
    rmsprop_reference(0.01, 0.8, 0, 1e-3, plain);
    assert_values(w, expected, 2, 1e-14, 1e-12);
    ck_assert_double_gt(fabs(expected[0] - plain[0]), 1e-4);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(adam_bias_correction_counts_each_variables_updates)
{
    /* A variable first updated at the optimiser's second step still gets
     * the first-step correction: its step is lr * g / (|g| + eps). */
    const double lr = 0.1, eps = 1e-8;
    em_optimizer *opt = em_optimizer_adam(lr, 0.9, 0.999, eps);
    em_tensor *a = variable_f64("a", 1, (double[]){0});
    em_tensor *b = variable_f64("b", 1, (double[]){0});
    apply_one(opt, a, 1, (double[]){1});
    em_tensor *g[2] = {test_f64(1, (int64_t[]){1}, (double[]){1}),
                       test_f64(1, (int64_t[]){1}, (double[]){-3})};
    ck_assert_int_eq(em_optimizer_apply(opt, 2, g, (em_tensor *[]){a, b}), 0);
    double expected = lr * 3 / (3 + eps);
    assert_values(b, &expected, 1, 1e-15, 1e-12);
    em_tensor_free(g[0]);
    em_tensor_free(g[1]);
    em_tensor_free(a);
    em_tensor_free(b);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(float32_variable_takes_a_float64_gradient)
{
    em_tensor *init = test_f32(1, (int64_t[]){2}, (float[]){1, -2});
    em_tensor *w = em_variable_new("w32", init, true);
    em_optimizer *opt = em_optimizer_sgd(0.5, 0.9, false);
    apply_one(opt, w, 2, g1);
    apply_one(opt, w, 2, g2);
    double expected[2];
    for (int i = 0; i < 2; i++) {
        double b = g1[i], v = w0[i] - 0.5 * b;
        b = 0.9 * b + g2[i];
        expected[i] = v - 0.5 * b;
    }
    ck_assert_int_eq(em_tensor_dtype(w), EM_FLOAT32);
    assert_values(w, expected, 2, 1e-6, 1e-6);
    em_tensor_free(init);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(null_gradient_leaves_its_variable_unchanged)
{
    em_optimizer *opt = em_optimizer_adam(0.1, 0.9, 0.999, 1e-8);
    em_tensor *a = variable_f64("a", 2, w0);
    em_tensor *b = variable_f64("b", 2, w0);
    em_tensor *g = test_f64(1, (int64_t[]){2}, g1);
    ck_assert_int_eq(em_optimizer_apply(opt, 2, (em_tensor *[]){NULL, g},
                                        (em_tensor *[]){a, b}),
                     0);
    assert_values(a, w0, 2, 0, 0);
    ck_assert_double_ne(test_at(b, 0), w0[0]);
    ck_assert_int_eq(em_optimizer_steps(opt), 1);
    em_tensor_free(g);
    em_tensor_free(a);
    em_tensor_free(b);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(errors_leave_every_variable_unchanged)
{
    em_optimizer *opt = em_optimizer_sgd(0.1, 0.9, false);
    em_tensor *a = variable_f64("a", 2, w0);
    em_tensor *b = variable_f64("b", 2, w0);
    em_tensor *plain = test_f64(1, (int64_t[]){2}, w0);
    em_tensor *ga = test_f64(1, (int64_t[]){2}, g1);
    em_tensor *g3 = test_f64(1, (int64_t[]){3}, (double[]){1, 2, 3});
    em_tensor *ints = em_zeros(EM_INT32, 1, (int64_t[]){2});
    em_tensor *iv = em_variable_new("counts", ints, false);
    em_memory_stats before = em_memory_get_stats();

    ck_assert_int_eq(em_optimizer_apply(opt, 2, (em_tensor *[]){ga, ga},
                                        (em_tensor *[]){a, plain}),
                     -1);
    assert_error("optimizer_apply", "not a variable", "float64[2]");
    ck_assert_int_eq(em_optimizer_apply(opt, 2, (em_tensor *[]){ga, g3},
                                        (em_tensor *[]){a, b}),
                     -1);
    assert_error("optimizer_apply", "gradient float64[3]", "variable 'b'",
                 "float64[2]");
    ck_assert_int_eq(em_optimizer_apply(opt, 2, (em_tensor *[]){ga, ga},
                                        (em_tensor *[]){a, iv}),
                     -1);
    assert_error("optimizer_apply", "'counts'", "int32[2]", "not float");
    ck_assert_int_eq(em_optimizer_apply(opt, 2, (em_tensor *[]){ga, ints},
                                        (em_tensor *[]){a, b}),
                     -1);
    assert_error("optimizer_apply", "gradient int32[2]", "variable 'b'");
    ck_assert_int_eq(
        em_optimizer_apply(opt, 1, (em_tensor *[]){ga}, (em_tensor *[]){NULL}),
        -1);
    assert_error("optimizer_apply", "variable 0 is NULL");
    ck_assert_int_eq(em_optimizer_apply(NULL, 1, &ga, &a), -1);
    assert_error("optimizer_apply");

    assert_values(a, w0, 2, 0, 0);
    assert_values(b, w0, 2, 0, 0);
    ck_assert_int_eq(em_optimizer_steps(opt), 0);
    /* No state was created either. */
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);

    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(plain);
    em_tensor_free(ga);
    em_tensor_free(g3);
    em_tensor_free(ints);
    em_tensor_free(iv);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(bad_hyperparameters_give_null_and_a_message)
{
    ck_assert_ptr_null(em_optimizer_sgd(-1, 0, false));
    assert_error("optimizer_sgd", "learning rate -1");
    ck_assert_ptr_null(em_optimizer_sgd(0.1, 0, true));
    assert_error("optimizer_sgd", "Nesterov");
    ck_assert_ptr_null(em_optimizer_adam(0.1, 1.0, 0.999, 1e-8));
    assert_error("optimizer_adam", "betas");
    ck_assert_ptr_null(em_optimizer_adamw(0.1, 0.9, 0.999, 1e-8, -1));
    assert_error("optimizer_adamw", "weight decay");
    ck_assert_ptr_null(em_optimizer_rmsprop(0.1, 1.5, 0, 1e-8));
    assert_error("optimizer_rmsprop", "rho");
    ck_assert_ptr_null(em_optimizer_adam(NAN, 0.9, 0.999, 1e-8));
    assert_error("optimizer_adam", "learning rate");
}
END_TEST

START_TEST(memory_stays_flat_over_1000_updates)
{
    em_optimizer *opts[4] = {
        em_optimizer_sgd(0.01, 0.9, true),
        em_optimizer_adamw(0.01, 0.9, 0.999, 1e-8, 0.01),
        em_optimizer_rmsprop(0.01, 0.9, 0.5, 1e-8),
        em_optimizer_adam(0.01, 0.9, 0.999, 1e-8),
    };
    em_optimizer_set_clip_norm(opts[3], 0.5);
    em_optimizer_set_cosine_schedule(opts[1], 500, 0.001);
    for (int k = 0; k < 4; k++) {
        em_tensor *ones = em_ones(EM_FLOAT32, 2, (int64_t[]){8, 4});
        em_tensor *w = em_variable_new("w", ones, true);
        em_tensor_free(ones);
        em_tensor *bias = variable_f64("bias", 2, w0);
        em_tensor *gw = em_full(0.25, EM_FLOAT32, 2, (int64_t[]){8, 4});
        em_tensor *gb = test_f64(1, (int64_t[]){2}, g1);
        em_tensor *grads[2] = {gw, gb}, *vars[2] = {w, bias};
        ck_assert_int_eq(em_optimizer_apply(opts[k], 2, grads, vars), 0);
        em_memory_stats before = em_memory_get_stats();
        for (int step = 0; step < 1000; step++)
            ck_assert_int_eq(em_optimizer_apply(opts[k], 2, grads, vars), 0);
        em_memory_stats after = em_memory_get_stats();
        ck_assert_int_eq(after.live_tensors, before.live_tensors);
        ck_assert_int_eq(after.live_bytes, before.live_bytes);
        ck_assert_int_eq(em_optimizer_steps(opts[k]), 1001);
        ck_assert(isfinite(test_at(w, 0)));
        em_tensor_free(gw);
        em_tensor_free(gb);
        em_tensor_free(w);
        em_tensor_free(bias);
        em_optimizer_free(opts[k]);
    }
}
END_TEST

START_TEST(updates_are_not_recorded_on_a_recording_tape)
{
    em_tape *tape = em_tape_begin(true);
    em_tensor *w = variable_f64("w", 2, w0);
    em_tensor *g = test_f64(1, (int64_t[]){2}, g1);
    /* AdamW's decay reads the (watched) variable itself. */
    em_optimizer *opt = em_optimizer_adamw(0.1, 0.9, 0.999, 1e-8, 0.1);
    ck_assert_int_eq(em_optimizer_apply(opt, 1, &g, &w), 0);
    em_memory_stats before = em_memory_get_stats();
    for (int step = 0; step < 10; step++)
        ck_assert_int_eq(em_optimizer_apply(opt, 1, &g, &w), 0);
    /* A tape keeps what it records alive: nothing new may stay. */
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
    em_tape_free(tape);
    em_optimizer_free(opt);
    em_tensor_free(w);
    em_tensor_free(g);
}
END_TEST

/* ---- schedules ----------------------------------------------------------*/

/* Advances the step count with empty updates. */
static void advance(em_optimizer *opt, int steps)
{
    for (int i = 0; i < steps; i++)
        ck_assert_int_eq(em_optimizer_apply(opt, 0, NULL, NULL), 0);
}

START_TEST(constant_rate_by_default)
{
    em_optimizer *opt = em_optimizer_sgd(0.3, 0, false);
    ck_assert_double_eq(em_optimizer_learning_rate(opt), 0.3);
    advance(opt, 5);
    ck_assert_double_eq(em_optimizer_learning_rate(opt), 0.3);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(step_schedule_decays_every_n_steps)
{
    em_optimizer *opt = em_optimizer_sgd(1.0, 0, false);
    em_optimizer_set_step_schedule(opt, 2, 0.5);
    const double expected[6] = {1, 1, 0.5, 0.5, 0.25, 0.25};
    for (int step = 0; step < 6; step++) {
        ck_assert_double_eq_tol(em_optimizer_learning_rate(opt), expected[step],
                                1e-15);
        advance(opt, 1);
    }
    em_optimizer_set_step_schedule(opt, 0, 0.5);
    assert_error("set_step_schedule", "every >= 1");
    em_optimizer_free(opt);
}
END_TEST

START_TEST(cosine_schedule_decays_to_min_lr)
{
    const double lr = 1.0, min_lr = 0.1;
    em_optimizer *opt = em_optimizer_adam(lr, 0.9, 0.999, 1e-8);
    em_optimizer_set_cosine_schedule(opt, 4, min_lr);
    for (int step = 0; step < 7; step++) {
        double progress = step < 4 ? step / 4.0 : 1.0;
        double expected =
            min_lr + (lr - min_lr) * 0.5 * (1 + cos(M_PI * progress));
        ck_assert_double_eq_tol(em_optimizer_learning_rate(opt), expected,
                                1e-15);
        advance(opt, 1);
    }
    em_optimizer_set_cosine_schedule(opt, 0, 0);
    assert_error("set_cosine_schedule", "total_steps");
    em_optimizer_free(opt);
}
END_TEST

static double inverse_time(int64_t step, double base_lr, void *user)
{
    *(int *)user += 1;
    return base_lr / (1.0 + (double)step);
}

START_TEST(user_schedule_sets_the_rate_an_update_uses)
{
    int calls = 0;
    em_optimizer *opt = em_optimizer_sgd(0.6, 0, false);
    em_optimizer_set_schedule(opt, inverse_time, &calls);
    em_tensor *w = variable_f64("w", 2, w0);
    apply_one(opt, w, 2, g1); /* rate 0.6 */
    apply_one(opt, w, 2, g2); /* rate 0.3 */
    ck_assert_int_ge(calls, 2);
    double expected[2];
    for (int i = 0; i < 2; i++)
        expected[i] = w0[i] - 0.6 * g1[i] - 0.3 * g2[i];
    assert_values(w, expected, 2, 1e-15, 1e-14);
    ck_assert_double_eq_tol(em_optimizer_learning_rate(opt), 0.2, 1e-15);
    /* NULL restores the constant rate. */
    em_optimizer_set_schedule(opt, NULL, NULL);
    ck_assert_double_eq(em_optimizer_learning_rate(opt), 0.6);
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

/* ---- traced training steps ------------------------------------------------
 * The same tiny least-squares model trained eagerly and through em_trace_fn
 * from the same start must end at the same weights: anything the optimiser
 * computed on the host would be frozen at its trace-time value. */

typedef struct tiny_model {
    em_tensor *w, *b;
    em_optimizer *opt;
} tiny_model;

/* [8, 3] x [3, 1] + [1] -> mean squared error against [8, 1]. */
static int tiny_step(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n;
    (void)max;
    tiny_model *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *pred = em_add(em_matmul(in[0], m->w, false, false), m->b);
    em_tensor *loss = em_mean(em_square(em_sub(pred, in[1])), 0, NULL, false);
    em_tensor *vars[2] = {m->w, m->b}, *grads[2];
    int rc = em_tape_gradient(tape, loss, 2, vars, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 2, grads, vars) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

static tiny_model tiny_model_new(em_optimizer *opt)
{
    tiny_model m;
    em_tensor *w_init =
        test_f64(2, (int64_t[]){3, 1}, (double[]){0.5, -0.3, 0.1});
    em_tensor *b_init = test_f64(1, (int64_t[]){1}, (double[]){0.2});
    m.w = em_variable_new("w", w_init, true);
    m.b = em_variable_new("b", b_init, true);
    m.opt = opt;
    em_tensor_free(w_init);
    em_tensor_free(b_init);
    return m;
}

static void tiny_model_free(tiny_model *m)
{
    em_tensor_free(m->w);
    em_tensor_free(m->b);
    em_optimizer_free(m->opt);
}

static void assert_close(const em_tensor *got, const em_tensor *want)
{
    ck_assert_int_eq(em_tensor_size(got), em_tensor_size(want));
    for (int64_t i = 0; i < em_tensor_size(want); i++) {
        double a = test_at(got, i), e = test_at(want, i);
        ck_assert_msg(fabs(a - e) <= 1e-6 * fabs(e) + 1e-12,
                      "element %lld: traced %.17g, eager %.17g", (long long)i,
                      a, e);
    }
}

typedef em_optimizer *(*make_optimizer)(void);

/* Trains two copies for 20 steps, one eagerly and one traced, and checks
 * that the weights and the optimiser's reports agree and that the weights
 * moved at all. */
static void traced_matches_eager(make_optimizer make)
{
    em_scope_begin();
    double xs[24], ys[8];
    for (int i = 0; i < 8; i++) {
        for (int j = 0; j < 3; j++)
            xs[i * 3 + j] = sin(1.0 + i * 3 + j);
        ys[i] = 2 * xs[i * 3] - xs[i * 3 + 1] + 0.5 * xs[i * 3 + 2] + 1;
    }
    em_tensor *x = test_f64(2, (int64_t[]){8, 3}, xs);
    em_tensor *y = test_f64(2, (int64_t[]){8, 1}, ys);
    em_tensor *in[2] = {x, y};
    tiny_model eager = tiny_model_new(make()), traced = tiny_model_new(make());
    em_trace_options options = {.name = "tiny_step"};
    em_function *f = em_trace_fn(tiny_step, &traced, &options);
    for (int step = 0; step < 20; step++) {
        em_scope_begin();
        em_tensor *loss;
        ck_assert_int_eq(tiny_step(2, in, 1, &loss, &eager), 1);
        int got = em_function_call(f, 2, in, 1, &loss);
        const char *e = em_error_last();
        ck_assert_msg(got == 1, "traced step %d failed: %s", step, e ? e : "");
        em_scope_end();
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    assert_close(traced.w, eager.w);
    assert_close(traced.b, eager.b);
    ck_assert_double_gt(fabs(test_at(eager.w, 0) - 0.5), 1e-3);
    ck_assert_int_eq(em_optimizer_steps(eager.opt), 20);
    ck_assert_int_eq(em_optimizer_steps(traced.opt), 20);
    ck_assert_double_eq_tol(em_optimizer_learning_rate(traced.opt),
                            em_optimizer_learning_rate(eager.opt), 1e-15);
    em_function_free(f);
    tiny_model_free(&eager);
    tiny_model_free(&traced);
    em_scope_end();
}

static em_optimizer *make_sgd_momentum(void)
{
    em_optimizer *opt = em_optimizer_sgd(0.05, 0.9, false);
    /* Small enough to clip the first steps, so clipping is traced too. */
    em_optimizer_set_clip_norm(opt, 1.0);
    return opt;
}

static em_optimizer *make_nesterov(void)
{
    return em_optimizer_sgd(0.05, 0.8, true);
}

static em_optimizer *make_adam(void)
{
    return em_optimizer_adam(0.05, 0.9, 0.999, 1e-8);
}

static em_optimizer *make_adamw(void)
{
    return em_optimizer_adamw(0.05, 0.5, 0.75, 1e-3, 0.1);
}

static em_optimizer *make_rmsprop(void)
{
    return em_optimizer_rmsprop(0.01, 0.9, 0.5, 1e-3);
}

static em_optimizer *make_adam_step_schedule(void)
{
    em_optimizer *opt = em_optimizer_adam(0.1, 0.9, 0.999, 1e-8);
    em_optimizer_set_step_schedule(opt, 3, 0.5);
    return opt;
}

static em_optimizer *make_adam_cosine_schedule(void)
{
    /* Shorter than the run, so the rate also sits at min_lr a while. */
    em_optimizer *opt = em_optimizer_adam(0.1, 0.9, 0.999, 1e-8);
    em_optimizer_set_cosine_schedule(opt, 12, 0.01);
    return opt;
}

START_TEST(traced_sgd_momentum_with_clipping_matches_eager)
{
    traced_matches_eager(make_sgd_momentum);
}
END_TEST

START_TEST(traced_sgd_nesterov_matches_eager)
{
    traced_matches_eager(make_nesterov);
}
END_TEST

START_TEST(traced_adam_bias_correction_advances_each_call)
{
    traced_matches_eager(make_adam);
}
END_TEST

START_TEST(traced_adamw_matches_eager)
{
    traced_matches_eager(make_adamw);
}
END_TEST

START_TEST(traced_rmsprop_matches_eager)
{
    traced_matches_eager(make_rmsprop);
}
END_TEST

START_TEST(traced_step_schedule_decays_each_call)
{
    traced_matches_eager(make_adam_step_schedule);
    /* The rate the reports give after 20 steps: 0.1 * 0.5^(20/3). */
    em_optimizer *opt = make_adam_step_schedule();
    advance(opt, 20);
    ck_assert_double_eq_tol(em_optimizer_learning_rate(opt), 0.1 * pow(0.5, 6),
                            1e-15);
    em_optimizer_free(opt);
}
END_TEST

START_TEST(traced_cosine_schedule_decays_each_call)
{
    traced_matches_eager(make_adam_cosine_schedule);
}
END_TEST

static int warning_count;
static char warning_text[512];

static void count_warnings(em_log_level level, const char *message, void *user)
{
    (void)user;
    if (level == EM_LOG_WARN) {
        warning_count++;
        snprintf(warning_text, sizeof warning_text, "%s", message);
    }
}

START_TEST(traced_user_schedule_is_frozen_with_one_warning)
{
    em_scope_begin();
    int calls = 0;
    em_optimizer *opt = em_optimizer_sgd(0.6, 0, false);
    em_optimizer_set_schedule(opt, inverse_time, &calls);
    tiny_model m = tiny_model_new(opt);
    double w_start = test_at(m.w, 0);
    em_tensor *x = em_ones(EM_FLOAT64, 2, (int64_t[]){8, 3});
    em_tensor *y = em_zeros(EM_FLOAT64, 2, (int64_t[]){8, 1});
    em_tensor *in[2] = {x, y};
    em_function *f = em_trace_fn(tiny_step, &m, NULL);
    warning_count = 0;
    em_log_set_handler(count_warnings, NULL);
    for (int step = 0; step < 3; step++) {
        em_scope_begin();
        em_tensor *loss;
        ck_assert_int_eq(em_function_call(f, 2, in, 1, &loss), 1);
        em_scope_end();
    }
    em_log_set_handler(NULL, NULL);
    ck_assert_int_eq(warning_count, 1);
    ck_assert_ptr_nonnull(strstr(warning_text, "frozen"));
    ck_assert_ptr_nonnull(strstr(warning_text, "callback"));
    /* The callback ran once, at trace time; the step count still moved, so
     * the rate reported is the callback's for step 3. */
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(em_optimizer_steps(opt), 3);
    ck_assert_double_eq_tol(em_optimizer_learning_rate(opt), 0.6 / 4, 1e-15);
    ck_assert_double_ne(test_at(m.w, 0), w_start);
    em_function_free(f);
    tiny_model_free(&m);
    em_scope_end();
}
END_TEST

/* ---- clipping -------------------------------------------------------------*/

START_TEST(clip_scales_by_the_global_norm)
{
    /* Norm of (3, 4, 12) is 13; max 6.5 halves every gradient. */
    em_tensor *a = test_f32(1, (int64_t[]){2}, (float[]){3, 4});
    em_tensor *b = test_f64(2, (int64_t[]){1, 1}, (double[]){12});
    em_tensor *grads[3] = {a, NULL, b}, *clipped[3];
    double norm = 0;
    ck_assert_int_eq(em_clip_by_global_norm(3, grads, 6.5, clipped, &norm), 0);
    ck_assert_double_eq_tol(norm, 13, 1e-12);
    assert_values(clipped[0], ((double[]){1.5, 2}), 2, 1e-6, 1e-6);
    ck_assert_ptr_null(clipped[1]);
    assert_values(clipped[2], ((double[]){6}), 1, 1e-12, 1e-12);
    assert_shape(clipped[2], 2, 1, 1);
    ck_assert_int_eq(em_tensor_dtype(clipped[0]), EM_FLOAT32);
    ck_assert_int_eq(em_tensor_dtype(clipped[2]), EM_FLOAT64);
    em_tensor_free(clipped[0]);
    em_tensor_free(clipped[2]);

    /* Below the limit: new tensors with the same values. */
    ck_assert_int_eq(em_clip_by_global_norm(3, grads, 20, clipped, NULL), 0);
    assert_values(clipped[0], ((double[]){3, 4}), 2, 0, 0);
    assert_values(clipped[2], ((double[]){12}), 1, 0, 0);
    ck_assert_ptr_ne(clipped[0], a);
    em_tensor_free(clipped[0]);
    em_tensor_free(clipped[2]);
    em_tensor_free(a);
    em_tensor_free(b);
}
END_TEST

START_TEST(clip_results_outlive_its_internal_scope)
{
    em_tensor *a = test_f64(1, (int64_t[]){2}, (double[]){3, 4});
    em_tensor *clipped;
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    ck_assert_int_eq(em_clip_by_global_norm(1, &a, 1, &clipped, NULL), 0);
    assert_values(clipped, ((double[]){0.6, 0.8}), 2, 1e-15, 1e-15);
    em_scope_end();
    /* The result belonged to the caller's scope, and nothing else stayed. */
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
    em_tensor_free(a);
}
END_TEST

START_TEST(clip_rejects_bad_arguments)
{
    em_tensor *a = test_f64(1, (int64_t[]){2}, (double[]){3, 4});
    em_tensor *i = em_zeros(EM_INT64, 1, (int64_t[]){2});
    /* A failure leaves every output NULL, never stale pointers. */
    em_tensor *out[2] = {a, a};
    ck_assert_int_eq(em_clip_by_global_norm(1, &a, 0, out, NULL), -1);
    assert_error("clip_by_global_norm", "max_norm 0");
    ck_assert_ptr_null(out[0]);
    out[0] = out[1] = a;
    ck_assert_int_eq(
        em_clip_by_global_norm(2, (em_tensor *[]){a, i}, 1, out, NULL), -1);
    assert_error("clip_by_global_norm", "gradient 1", "int64[2]");
    ck_assert_ptr_null(out[0]);
    ck_assert_ptr_null(out[1]);
    /* Only NULL gradients: nothing to clip, norm 0. */
    double norm = -1;
    ck_assert_int_eq(
        em_clip_by_global_norm(1, (em_tensor *[]){NULL}, 1, out, &norm), 0);
    ck_assert_ptr_null(out[0]);
    ck_assert_double_eq(norm, 0);
    em_tensor_free(a);
    em_tensor_free(i);
}
END_TEST

START_TEST(optimizer_clips_before_updating)
{
    em_optimizer *opt = em_optimizer_sgd(1.0, 0, false);
    em_optimizer_set_clip_norm(opt, 1.0);
    em_tensor *w = variable_f64("w", 2, (double[]){0, 0});
    apply_one(opt, w, 2, (double[]){3, 4});
    assert_values(w, ((double[]){-0.6, -0.8}), 2, 1e-15, 1e-14);
    /* Short gradients pass unchanged. */
    apply_one(opt, w, 2, (double[]){0.3, 0});
    assert_values(w, ((double[]){-0.9, -0.8}), 2, 1e-15, 1e-14);
    em_optimizer_set_clip_norm(opt, -1);
    assert_error("set_clip_norm", "max_norm -1");
    em_tensor_free(w);
    em_optimizer_free(opt);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = test_case(s, "formulas");
    tcase_add_test(tc, sgd_without_momentum_subtracts_lr_times_gradient);
    tcase_add_test(tc, sgd_momentum_accumulates_a_velocity);
    tcase_add_test(tc, sgd_nesterov_looks_ahead);
    tcase_add_test(tc, adam_two_steps_with_bias_correction);
    tcase_add_test(tc, adamw_decays_weights_before_the_adam_step);
    tcase_add_test(tc, rmsprop_without_momentum);
    tcase_add_test(tc, rmsprop_with_momentum);
    tcase_add_test(tc, adam_bias_correction_counts_each_variables_updates);
    tcase_add_test(tc, float32_variable_takes_a_float64_gradient);
    tc = test_case(s, "apply");
    tcase_add_test(tc, null_gradient_leaves_its_variable_unchanged);
    tcase_add_test(tc, errors_leave_every_variable_unchanged);
    tcase_add_test(tc, bad_hyperparameters_give_null_and_a_message);
    tcase_add_test(tc, memory_stays_flat_over_1000_updates);
    tcase_add_test(tc, updates_are_not_recorded_on_a_recording_tape);
    tc = test_case(s, "schedules");
    tcase_add_test(tc, constant_rate_by_default);
    tcase_add_test(tc, step_schedule_decays_every_n_steps);
    tcase_add_test(tc, cosine_schedule_decays_to_min_lr);
    tcase_add_test(tc, user_schedule_sets_the_rate_an_update_uses);
    tc = test_case(s, "traced");
    tcase_add_test(tc, traced_sgd_momentum_with_clipping_matches_eager);
    tcase_add_test(tc, traced_sgd_nesterov_matches_eager);
    tcase_add_test(tc, traced_adam_bias_correction_advances_each_call);
    tcase_add_test(tc, traced_adamw_matches_eager);
    tcase_add_test(tc, traced_rmsprop_matches_eager);
    tcase_add_test(tc, traced_step_schedule_decays_each_call);
    tcase_add_test(tc, traced_cosine_schedule_decays_each_call);
    tcase_add_test(tc, traced_user_schedule_is_frozen_with_one_warning);
    tc = test_case(s, "clipping");
    tcase_add_test(tc, clip_scales_by_the_global_norm);
    tcase_add_test(tc, clip_results_outlive_its_internal_scope);
    tcase_add_test(tc, clip_rejects_bad_arguments);
    tcase_add_test(tc, optimizer_clips_before_updating);
    return test_run(s);
}
