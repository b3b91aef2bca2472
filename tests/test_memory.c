/* Memory: a long eager training loop holds its memory flat, and errors
 * inside a step leak nothing. */
#include <pthread.h>

#include "testing.h"

/* One logistic-regression step on a fixed batch, in its own scope. */
static void train_step(em_tensor *x, em_tensor *y, em_tensor *w, em_tensor *b,
                       em_optimizer *opt)
{
    em_scope_begin();
    em_tape *tape = em_tape_begin(false);
    em_tensor *logits = em_add(em_matmul(x, w, false, false), b);
    em_tensor *loss = em_bce_with_logits(logits, y);
    em_tensor *grads[2];
    em_tensor *vars[2] = {w, b};
    ck_assert_int_eq(em_tape_gradient(tape, loss, 2, vars, grads), 0);
    em_tape_free(tape);
    ck_assert_int_eq(em_optimizer_apply(opt, 2, grads, vars), 0);
    em_scope_end();
}

START_TEST(ten_thousand_steps_hold_memory_flat)
{
    em_scope_begin();
    em_tensor *x = test_random(1, EM_FLOAT32, 2, (int64_t[]){32, 20}, -1, 1);
    em_tensor *y =
        em_cast(em_greater(em_sum(x, 1, (int[]){1}, true), em_scalar_f32(0)),
                EM_FLOAT32);
    em_scope_keep(x);
    em_scope_keep(y);
    em_tensor *w =
        em_variable_new("w", em_zeros(EM_FLOAT32, 2, (int64_t[]){20, 1}), true);
    em_tensor *b =
        em_variable_new("b", em_zeros(EM_FLOAT32, 1, (int64_t[]){1}), true);
    em_scope_end();
    em_optimizer *opt = em_optimizer_sgd(0.1, 0.9, false);

    train_step(x, y, w, b, opt); /* creates the optimiser's state */
    em_memory_stats base = em_memory_get_stats();
    for (int step = 1; step < 10000; step++) {
        train_step(x, y, w, b, opt);
        em_memory_stats now = em_memory_get_stats();
        ck_assert_msg(
            now.live_tensors == base.live_tensors &&
                now.live_bytes == base.live_bytes,
            "step %d: %lld tensors / %lld bytes, expected %lld / %lld", step,
            (long long)now.live_tensors, (long long)now.live_bytes,
            (long long)base.live_tensors, (long long)base.live_bytes);
    }
    em_optimizer_free(opt);
    em_tensor_free(w);
    em_tensor_free(b);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(a_failing_step_leaks_nothing)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tape *tape = em_tape_begin(false);
    em_tensor *a = em_ones(EM_FLOAT32, 2, (int64_t[]){128, 784});
    em_tape_watch(tape, a);
    em_tensor *b = em_ones(EM_FLOAT32, 2, (int64_t[]){256, 10});
    em_tensor *c = em_relu(em_matmul(a, b, false, false));
    em_tensor *loss = em_sum(c, 0, NULL, false);
    ck_assert_ptr_null(loss);
    assert_error("matmul", "[128,784]", "[256,10]");
    em_tape_free(tape);
    em_scope_end();
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
}
END_TEST

/* Tensors of 1..n float32 elements, outside any scope: the caller frees
 * them. */
enum { MADE = 300 };

static void *make_tensors(void *out)
{
    em_tensor **made = out;
    for (int i = 0; i < MADE; i++)
        made[i] = em_ones(EM_FLOAT32, 1, (int64_t[]){i + 1});
    return NULL;
}

START_TEST(counts_are_exact_across_threads)
{
    em_memory_stats before = em_memory_get_stats();
    em_tensor *made[2][MADE];
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(
            pthread_create(&threads[t], NULL, make_tensors, made[t]), 0);
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);

    /* the threads have ended; what they made is alive */
    int64_t bytes = 2 * 4 * (int64_t)MADE * (MADE + 1) / 2;
    em_memory_stats during = em_memory_get_stats();
    ck_assert_int_eq(during.live_tensors, before.live_tensors + 2 * MADE);
    ck_assert_int_eq(during.live_bytes, before.live_bytes + bytes);
    ck_assert_int_ge(during.peak_bytes, during.live_bytes);

    /* freed on this thread, made on the others */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < MADE; i++)
            em_tensor_free(made[t][i]);
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
    ck_assert_int_ge(after.peak_bytes, during.live_bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = test_case(s, "memory");
    tcase_add_test(tc, ten_thousand_steps_hold_memory_flat);
    tcase_add_test(tc, a_failing_step_leaks_nothing);
    tcase_add_test(tc, counts_are_exact_across_threads);
    return test_run(s);
}
