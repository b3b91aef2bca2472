/* Whole training steps and variable updates compiled to native code: an
 * MLP step traced with EM_JIT_SYNC against the same step run eagerly (SGD
 * with Nesterov momentum, Adam; 100 steps each), what the compiled step
 * is made of, and the program order of reads and assignments. */
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

/* ---- an MLP training step -------------------------------------------------*/

typedef struct model {
    em_tensor *params[4]; /* W1, b1, W2, b2 */
    em_optimizer *opt;
} model;

static model model_make(uint64_t seed, int64_t in, int64_t hidden,
                        int64_t classes, em_optimizer *opt)
{
    model m = {.opt = opt};
    em_rng *rng = em_rng_new(seed);
    em_scope_begin();
    const int64_t widths[3] = {in, hidden, classes};
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

/* in[0]: [batch, in] float32, in[1]: [batch] int64 labels; returns the
 * loss before the update. */
static int train_step(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    model *m = user;
    em_tape *tape = em_tape_begin(false);
    em_tensor *h = em_relu(
        em_add(em_matmul(in[0], m->params[0], false, false), m->params[1]));
    em_tensor *logits =
        em_add(em_matmul(h, m->params[2], false, false), m->params[3]);
    em_tensor *loss = em_softmax_cross_entropy(logits, in[1]);
    em_tensor *grads[4] = {NULL};
    int rc = em_tape_gradient(tape, loss, 4, m->params, grads);
    em_tape_free(tape);
    if (rc != 0 || em_optimizer_apply(m->opt, 4, grads, m->params) != 0)
        return -1;
    out[0] = loss;
    return 1;
}

static void batch_make(uint64_t seed, int64_t batch, int64_t features,
                       int64_t classes, em_tensor **in)
{
    in[0] =
        test_random(seed, EM_FLOAT32, 2, (int64_t[]){batch, features}, -1, 1);
    in[1] = em_cast(
        test_random(seed + 1, EM_FLOAT64, 1, &batch, 0, (double)classes - 1e-9),
        EM_INT64);
}

static int count_occurrences(const char *text, const char *word)
{
    int n = 0;
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        n++;
    return n;
}

START_TEST(an_mlp_step_runs_its_matmuls_as_library_calls)
{
    em_scope_begin();
    model m = model_make(7, 12, 20, 5, em_optimizer_sgd(0.1, 0.9, false));
    em_tensor *in[2];
    batch_make(8, 16, 12, 5, in);
    em_trace_options o = jit_options("train_step", EM_JIT_SYNC);
    em_function *f = em_trace_fn(train_step, &m, &o);
    em_concrete *k = em_function_concrete(f, 2, in);
    ck_assert_ptr_nonnull(k);
    em_compile_stats s = em_concrete_compile_stats(k);
    ck_assert_msg(s.tier == EM_TIER_NATIVE, "tier %d: %s", s.tier, s.reason);
    char *text = malloc(1 << 20);
    em_concrete_format(k, text, 1 << 20);
    int matmuls = count_occurrences(text, "matmul(");
    free(text);
    /* two forward, and the weight and hidden gradients backward */
    ck_assert_int_ge(matmuls, 4);
    ck_assert_int_ge(s.library_calls, matmuls);
    ck_assert_int_ge(s.fused_loops, 1);
    ck_assert_int_lt(s.fused_loops + s.library_calls,
                     em_concrete_node_count(k));
    em_function_free(f);
    model_free(&m);
    em_scope_end();
}
END_TEST

/* Trains the same model eagerly and with its step traced and compiled
 * before the first call, on the same batches; the losses and, after 100
 * steps, the weights agree within 1e-5 relative. */
static void train_eager_and_native(em_optimizer *eager_opt,
                                   em_optimizer *native_opt)
{
    em_scope_begin();
    model eager = model_make(21, 10, 24, 4, eager_opt);
    model native = model_make(21, 10, 24, 4, native_opt);
    em_trace_options o = jit_options("train_step", EM_JIT_SYNC);
    em_function *f = em_trace_fn(train_step, &native, &o);
    for (int step = 0; step < 100; step++) {
        em_scope_begin();
        em_tensor *in[2];
        batch_make(1000 + (uint64_t)step % 7, 32, 10, 4, in);
        em_tensor *loss_eager = NULL, *loss_native = NULL;
        ck_assert_int_eq(train_step(2, in, 1, &loss_eager, &eager), 1);
        ck_assert_msg(em_function_call(f, 2, in, 1, &loss_native) == 1,
                      "step %d: %s", step, error_text());
        if (step == 0) {
            em_compile_stats s =
                em_concrete_compile_stats(em_function_concrete(f, 2, in));
            ck_assert_msg(s.tier == EM_TIER_NATIVE, "tier %d: %s", s.tier,
                          s.reason);
        }
        double e = relative_error(loss_native, loss_eager);
        ck_assert_msg(e <= 1e-5, "step %d: loss relative error %g", step, e);
        em_scope_end();
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    ck_assert_int_eq(em_optimizer_steps(native.opt), 100);
    for (int i = 0; i < 4; i++) {
        double e = relative_error(native.params[i], eager.params[i]);
        ck_assert_msg(e <= 1e-5, "parameter %d: relative error %g", i, e);
    }
    em_function_free(f);
    model_free(&eager);
    model_free(&native);
    em_scope_end();
}

START_TEST(native_sgd_momentum_training_matches_eager_for_100_steps)
{
    train_eager_and_native(em_optimizer_sgd(0.05, 0.9, true),
                           em_optimizer_sgd(0.05, 0.9, true));
}
END_TEST

START_TEST(native_adam_training_matches_eager_for_100_steps)
{
    train_eager_and_native(em_optimizer_adam(0.01, 0.9, 0.999, 1e-8),
                           em_optimizer_adam(0.01, 0.9, 0.999, 1e-8));
}
END_TEST

/* ---- variables: program order ---------------------------------------------*/

/* Reads v several ways, assigns it, reads again, assigns again with a
 * value computed from itself, reads a third time. */
static int read_assign_read(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    em_tensor *v = user;
    em_tensor *before = em_mul_scalar(v, 2);
    em_tensor *copy = em_copy(v);
    em_tensor *plus_zero = em_add_scalar(v, 0);
    em_tensor *times_one = em_mul_scalar(v, 1);
    if (em_variable_assign(v, em_add(in[0], em_scalar(10, EM_FLOAT32))))
        return -1;
    em_tensor *after = em_mul_scalar(v, 2);
    if (em_variable_assign(v, em_add_scalar(em_mul_scalar(v, 3), 1)))
        return -1;
    em_tensor *last = em_sub(v, before);
    out[0] = em_add(before, em_scalar(0, EM_FLOAT32));
    out[1] = em_mul_scalar(copy, 1);
    out[2] = em_mul_scalar(plus_zero, 1);
    out[3] = em_mul_scalar(times_one, 1);
    out[4] = after;
    out[5] = last;
    return 6;
}

START_TEST(reads_and_assignments_keep_program_order_natively)
{
    em_scope_begin();
    const int64_t shape[] = {3, 5};
    em_tensor *v0 = test_random(3, EM_FLOAT32, 2, shape, -1, 1);
    em_tensor *v_eager = em_variable_new("v", v0, true);
    em_tensor *v_native = em_variable_new("v", v0, true);
    em_trace_options o = jit_options("read_assign_read", EM_JIT_SYNC);
    em_function *f = em_trace_fn(read_assign_read, v_native, &o);
    for (int call = 0; call < 3; call++) {
        em_tensor *x =
            test_random(10 + (uint64_t)call, EM_FLOAT32, 2, shape, -1, 1);
        double start[15];
        em_tensor_copy_to(v_native, start, EM_FLOAT64, sizeof start);
        em_tensor *want[6], *got[6];
        ck_assert_int_eq(read_assign_read(1, &x, 6, want, v_eager), 6);
        ck_assert_msg(em_function_call(f, 1, &x, 6, got) == 6, "%s",
                      error_text());
        if (call == 0)
            ck_assert_int_eq(
                em_concrete_wait_compiled(em_function_concrete(f, 1, &x)),
                EM_TIER_NATIVE);
        /* independently: v1 = x + 10, v2 = 3 v1 + 1 */
        double before[15], after[15], last[15];
        for (int i = 0; i < 15; i++) {
            double v1 = test_at(x, i) + 10, v2 = 3 * v1 + 1;
            before[i] = 2 * start[i];
            after[i] = 2 * v1;
            last[i] = v2 - before[i];
        }
        assert_values(got[0], before, 15, 1e-6, 1e-6);
        for (int k = 1; k < 4; k++) /* copies of v as it was */
            assert_values(got[k], start, 15, 1e-6, 1e-6);
        assert_values(got[4], after, 15, 1e-6, 1e-6);
        assert_values(got[5], last, 15, 1e-5, 1e-6);
        for (int k = 0; k < 6; k++)
            ck_assert_msg(relative_error(got[k], want[k]) <= 1e-6,
                          "call %d output %d differs from eager", call, k);
        ck_assert(relative_error(v_native, v_eager) <= 1e-6);
    }
    em_function_free(f);
    em_tensor_free(v_eager);
    em_tensor_free(v_native);
    em_scope_end();
}
END_TEST

/* An input that is the very variable the function assigns: reads of the
 * input before the assignment see the old value, as in eager mode. */
static int scale_input_into(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    em_tensor *v = user;
    em_tensor *old = em_mul_scalar(in[0], 1.5);
    if (em_variable_assign_add(v, em_exp(in[0])))
        return -1;
    out[0] = em_sub(old, in[0]);
    return 1;
}

START_TEST(an_input_aliasing_an_assigned_variable_behaves_as_in_eager_mode)
{
    em_scope_begin();
    em_tensor *init = test_random(9, EM_FLOAT64, 1, (int64_t[]){29}, -1, 1);
    em_tensor *v_eager = em_variable_new("v", init, false);
    em_tensor *v_native = em_variable_new("v", init, false);
    em_trace_options o = jit_options("alias", EM_JIT_SYNC);
    em_function *f = em_trace_fn(scale_input_into, v_native, &o);
    for (int call = 0; call < 3; call++) {
        em_tensor *want = NULL, *got = NULL;
        ck_assert_int_eq(scale_input_into(1, &v_eager, 1, &want, v_eager), 1);
        ck_assert_msg(em_function_call(f, 1, &v_native, 1, &got) == 1, "%s",
                      error_text());
        ck_assert_msg(relative_error(got, want) <= 1e-12, "call %d: %g", call,
                      relative_error(got, want));
        ck_assert(relative_error(v_native, v_eager) <= 1e-12);
    }
    ck_assert_int_eq(
        em_concrete_wait_compiled(em_function_concrete(f, 1, &v_native)),
        EM_TIER_NATIVE);
    em_function_free(f);
    em_tensor_free(v_eager);
    em_tensor_free(v_native);
    em_scope_end();
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit training");
    TCase *tc = test_case(suite, "training");
    tcase_add_test(tc, an_mlp_step_runs_its_matmuls_as_library_calls);
    tcase_add_test(tc,
                   native_sgd_momentum_training_matches_eager_for_100_steps);
    tcase_add_test(tc, native_adam_training_matches_eager_for_100_steps);
    tc = test_case(suite, "variables");
    tcase_add_test(tc, reads_and_assignments_keep_program_order_natively);
    tcase_add_test(
        tc, an_input_aliasing_an_assigned_variable_behaves_as_in_eager_mode);
    return test_run(suite);
}
