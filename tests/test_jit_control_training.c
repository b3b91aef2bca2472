/*
 * tests/test_jit_control_training.c - gradients through em_while_loop and
 * training inside one, compiled to native code (EM_JIT_SYNC): a tape
 * inside a native function differentiates a loop (against eager mode, the
 * executor and the derivative by hand); a native loop and its native
 * gradient function (both loops compiled) against finite differences; and
 * a whole training epoch as one native call, whose loop body gathers each
 * batch and updates the weights, against one native call per step.
 */
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

/* ---- gradients ------------------------------------------------------------*/

/* sum(x^5), the power by a loop (i, acc); under a tape, the loop saves its
 * iterations and its gradient is a second loop reading them. */
static int below_five(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    out[0] = em_less(in[0], em_scalar(5, EM_INT64));
    return 1;
}

static int times_captured(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul(in[1], *(em_tensor **)user);
    return 2;
}

static int power_sum(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    static em_tensor *x; /* outlives the call, for the traced gradient */
    x = in[0];
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_ones_like(x)};
    em_tensor *res[2];
    if (em_while_loop(below_five, times_captured, &x, 2, vars, res, NULL) != 0)
        return -1;
    out[0] = em_sum(res[1], 0, NULL, false);
    return 1;
}

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

START_TEST(a_tape_inside_a_native_function_differentiates_a_loop)
{
    em_scope_begin();
    em_trace_options go = jit_options("power_gradient", EM_JIT_OFF);
    em_trace_options no = jit_options("power_gradient", EM_JIT_SYNC);
    em_function *graph = em_trace_fn(power_gradient, NULL, &go);
    em_function *native = em_trace_fn(power_gradient, NULL, &no);
    const double xs[2][3] = {{0.7, -1.1, 1.3}, {2, 0.5, -0.25}};
    for (int t = 0; t < 2; t++) {
        em_tensor *x = test_f64(1, (int64_t[]){3}, xs[t]);
        em_tensor *eager = NULL, *executor = NULL, *got = NULL;
        ck_assert_int_eq(power_gradient(1, &x, 1, &eager, NULL), 1);
        ck_assert_int_eq(em_function_call(graph, 1, &x, 1, &executor), 1);
        ck_assert_msg(em_function_call(native, 1, &x, 1, &got) == 1, "%s",
                      error_text());
        em_compile_stats s =
            em_concrete_compile_stats(em_function_concrete(native, 1, &x));
        ck_assert_msg(s.tier == EM_TIER_NATIVE, "tier %d: %s", s.tier,
                      s.reason);
        double want[3];
        for (int i = 0; i < 3; i++)
            want[i] = 5 * pow(xs[t][i], 4);
        assert_values(got, want, 3, 1e-12, 1e-12);
        ck_assert(relative_error(got, eager) <= 1e-15);
        ck_assert(relative_error(executor, eager) <= 1e-15);
    }
    em_function_free(graph);
    em_function_free(native);
    em_scope_end();
}
END_TEST

/* A small recurrent net, h <- tanh(h W + x_t U) over the steps of xs, loss
 * sum(h^2): matrix products and a gather inside the loop body. */
typedef struct rnn {
    em_tensor *w, *u, *xs;
    int64_t steps;
} rnn;

static int rnn_more(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_less(in[0], em_scalar((double)((rnn *)user)->steps, EM_INT64));
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

/* Calls a traced function under the checker's tape, whose gradient is a
 * traced function too. */
static em_tensor *traced_scalar(int n, em_tensor *const *in, void *user)
{
    em_tensor *out = NULL;
    return em_function_call(user, n, in, 1, &out) == 1 ? out : NULL;
}

typedef struct log_capture {
    char text[8192];
} log_capture;

static void capture_log(em_log_level level, const char *message, void *user)
{
    log_capture *c = user;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", message);
}

START_TEST(a_native_loop_and_its_native_gradient_match_finite_differences)
{
    em_scope_begin();
    log_capture log = {{0}};
    em_log_level level = em_log_get_level();
    em_log_set_handler(capture_log, &log);
    em_log_set_level(EM_LOG_INFO);
    em_trace_options o = jit_options("rnn", EM_JIT_SYNC);
    em_function *f = em_trace_fn(rnn_loss, NULL, &o);
    em_tensor *in[4] = {
        test_random(1, EM_FLOAT64, 2, (int64_t[]){4, 4}, -0.6, 0.6),
        test_random(2, EM_FLOAT64, 2, (int64_t[]){3, 4}, -0.6, 0.6),
        test_random(3, EM_FLOAT64, 3, (int64_t[]){5, 2, 3}, -1, 1),
        test_random(4, EM_FLOAT64, 2, (int64_t[]){2, 4}, -0.5, 0.5)};
    double err = em_gradient_check(traced_scalar, f, 4, in, 1e-6);
    em_log_set_handler(NULL, NULL);
    em_log_set_level(level);
    ck_assert_msg(err >= 0, "%s", error_text());
    ck_assert_double_lt(err, 1e-6);
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(f, 4, in)).tier,
        EM_TIER_NATIVE);
    /* the gradient function, with both loops, compiled too */
    ck_assert_msg(strstr(log.text, "'rnn.gradient' compiled"), "log: %s",
                  log.text);
    ck_assert_msg(!strstr(log.text, "graph executor"), "log: %s", log.text);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- a training epoch in one call -----------------------------------------*/

enum { FEATURES = 12, HIDDEN = 16, CLASSES = 4, SAMPLES = 96, BATCH = 16 };

typedef struct model {
    em_tensor *params[4]; /* W1, b1, W2, b2 */
    em_optimizer *opt;
    em_tensor *images, *labels, *offsets; /* the epoch's, while tracing */
} model;

static model model_make(uint64_t seed)
{
    model m = {.opt = em_optimizer_sgd(0.05, 0.9, true)};
    em_rng *rng = em_rng_new(seed);
    em_scope_begin();
    const int64_t widths[3] = {FEATURES, HIDDEN, CLASSES};
    for (int l = 0; l < 2; l++) {
        int64_t shape[2] = {widths[l], widths[l + 1]};
        m.params[2 * l] = em_variable_new(
            "W", em_init_he_normal(rng, EM_FLOAT32, 2, shape), true);
        m.params[2 * l + 1] = em_variable_new(
            "b", em_full(0.01 * (l + 1), EM_FLOAT32, 1, &shape[1]), true);
    }
    em_scope_end();
    em_rng_free(rng);
    return m;
}

static void model_free(model *m)
{
    for (int i = 0; i < 4; i++)
        em_tensor_free(m->params[i]);
    em_optimizer_free(m->opt);
}

/* x [batch, features], labels [batch] -> the loss; updates the weights. */
static em_tensor *train_step(model *m, em_tensor *x, em_tensor *labels)
{
    em_tape *tape = em_tape_begin(false);
    em_tensor *h =
        em_relu(em_add(em_matmul(x, m->params[0], false, false), m->params[1]));
    em_tensor *logits =
        em_add(em_matmul(h, m->params[2], false, false), m->params[3]);
    em_tensor *loss = em_softmax_cross_entropy(logits, labels);
    em_tensor *grads[4] = {NULL};
    int rc = em_tape_gradient(tape, loss, 4, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 4, grads, m->params) != 0)
        return NULL;
    return loss;
}

static int step_body(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    out[0] = train_step(user, in[0], in[1]);
    return out[0] ? 1 : -1;
}

static int more_batches(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    const int64_t steps = SAMPLES / BATCH;
    out[0] = em_less(in[0], em_scalar((double)steps, EM_INT64));
    return 1;
}

/* Loop variables (step, loss sum): rows [step * batch, (step + 1) * batch)
 * gathered, then the same step. */
static int epoch_step(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    model *m = user;
    em_tensor *rows =
        em_add(m->offsets, em_mul(in[0], em_scalar(BATCH, EM_INT64)));
    em_tensor *loss = train_step(m, em_gather(m->images, rows, 0),
                                 em_gather(m->labels, rows, 0));
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_add(in[1], loss);
    return loss ? 2 : -1;
}

/* in[0] images [samples, features], in[1] labels -> the summed loss */
static int epoch_body(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    model *m = user;
    m->images = in[0];
    m->labels = in[1];
    m->offsets = em_arange(0, BATCH, 1, EM_INT64);
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(0, EM_FLOAT32)};
    em_tensor *res[2];
    if (em_while_loop(more_batches, epoch_step, m, 2, vars, res, NULL) != 0)
        return -1;
    out[0] = res[1];
    return 1;
}

START_TEST(an_epoch_in_one_native_call_trains_as_one_call_per_step)
{
    em_scope_begin();
    model per_step = model_make(31), per_epoch = model_make(31);
    em_trace_options so = jit_options("train_step", EM_JIT_SYNC);
    em_trace_options eo = jit_options("train_epoch", EM_JIT_SYNC);
    em_function *step = em_trace_fn(step_body, &per_step, &so);
    em_function *epoch = em_trace_fn(epoch_body, &per_epoch, &eo);
    em_tensor *data[2] = {
        test_random(40, EM_FLOAT32, 2, (int64_t[]){SAMPLES, FEATURES}, -1, 1),
        em_cast(test_random(41, EM_FLOAT64, 1, (int64_t[]){SAMPLES}, 0,
                            CLASSES - 1e-9),
                EM_INT64)};
    for (int e = 0; e < 3; e++) {
        double sum = 0;
        for (int64_t s = 0; s < SAMPLES / BATCH; s++) {
            em_scope_begin();
            em_tensor *rows = em_arange((double)(s * BATCH),
                                        (double)((s + 1) * BATCH), 1, EM_INT64);
            em_tensor *xy[2] = {em_gather(data[0], rows, 0),
                                em_gather(data[1], rows, 0)};
            em_tensor *loss = NULL;
            ck_assert_msg(em_function_call(step, 2, xy, 1, &loss) == 1, "%s",
                          error_text());
            sum += (float)em_tensor_item(loss);
            em_scope_end();
        }
        em_tensor *total = NULL;
        ck_assert_msg(em_function_call(epoch, 2, data, 1, &total) == 1, "%s",
                      error_text());
        ck_assert_msg(close_to(em_tensor_item(total), sum, 1e-5),
                      "epoch %d: %g per epoch, %g per step", e,
                      em_tensor_item(total), sum);
    }
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(epoch, 2, data));
    ck_assert_msg(s.tier == EM_TIER_NATIVE, "tier %d: %s", s.tier, s.reason);
    ck_assert_int_ge(s.library_calls, 4); /* the body's products */
    ck_assert_int_eq(em_optimizer_steps(per_epoch.opt), 3 * SAMPLES / BATCH);
    for (int i = 0; i < 4; i++) {
        double e = relative_error(per_epoch.params[i], per_step.params[i]);
        ck_assert_msg(e <= 1e-5, "parameter %d: relative error %g", i, e);
    }
    em_function_free(step);
    em_function_free(epoch);
    model_free(&per_step);
    model_free(&per_epoch);
    em_scope_end();
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit control flow training");
    TCase *tc = test_case(suite, "gradients");
    tcase_add_test(tc, a_tape_inside_a_native_function_differentiates_a_loop);
    tcase_add_test(
        tc, a_native_loop_and_its_native_gradient_match_finite_differences);
    tc = test_case(suite, "training");
    tcase_add_test(tc, an_epoch_in_one_native_call_trains_as_one_call_per_step);
    return test_run(suite);
}
