/* The native tier's resources: compiled code released with its function
 * (memory stays flat over hundreds of functions), threads tracing and
 * calling at once, functions freed while their compile is queued or
 * running, forked children, and large loops split across the runtime's
 * threads. Forks during a compile: test_jit's regressions. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "jit_testing.h"

/* ---- memory ---------------------------------------------------------------*/

static long resident_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Traces, calls and frees a function; with `wait`, only once its
 * compilation has ended. */
static void trace_call_free(em_jit_mode jit, int i, bool wait)
{
    em_scope_begin();
    chain_inputs c = chain_make(60 + (uint64_t)(i % 5), 9, 21);
    em_trace_options o = jit_options("churn", jit);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    if (wait)
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 3, c.in)),
            EM_TIER_NATIVE);
    em_function_free(f);
    em_scope_end();
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Every compiled module is released with its function: after a warm-up,
 * 300 more functions traced, compiled, called and freed leave the live
 * tensors where they were and the resident size within 2 MiB (about a
 * tenth of what those functions hold when kept: ~40 KiB each, here).
 * AddressSanitizer keeps freed memory in quarantine, so there only the tensors
 * count (its leak checker covers the rest). */
START_TEST(tracing_and_freeing_300_functions_keeps_memory_flat)
{
    for (int i = 0; i < 40; i++)
        trace_call_free(EM_JIT_SYNC, i, true);
    em_memory_stats before = em_memory_get_stats();
    long rss_before = resident_kib();
    for (int i = 0; i < 300; i++)
        trace_call_free(EM_JIT_SYNC, i, true);
    em_memory_stats after = em_memory_get_stats();
    long rss_after = resident_kib();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
#ifndef UNDER_ASAN
    ck_assert_msg(rss_after - rss_before < 2048,
                  "resident size grew by %ld KiB over 300 functions",
                  rss_after - rss_before);
#else
    (void)rss_before, (void)rss_after;
#endif
}
END_TEST

START_TEST(freeing_functions_right_after_a_background_call_keeps_memory_flat)
{
    /* the warm-up compiles, so that first-use costs (LLVM's, the compile
     * thread's heap) come before the measurement */
    for (int i = 0; i < 40; i++)
        trace_call_free(EM_JIT_BACKGROUND, i, true);
    em_memory_stats before = em_memory_get_stats();
    long rss_before = resident_kib();
    for (int i = 0; i < 300; i++)
        trace_call_free(EM_JIT_BACKGROUND, i, false);
    em_memory_stats after = em_memory_get_stats();
    long rss_after = resident_kib();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
#ifndef UNDER_ASAN
    ck_assert_msg(rss_after - rss_before < 2048,
                  "resident size grew by %ld KiB over 300 functions",
                  rss_after - rss_before);
#else
    (void)rss_before, (void)rss_after;
#endif
}
END_TEST

/* ---- threads --------------------------------------------------------------*/

/* sum((x @ w)^2, axis 1): a library call and a reduction. */
static int row_energy(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *y = em_matmul(in[0], in[1], false, false);
    out[0] = em_sum(em_square(y), 1, (const int[]){1}, false);
    return out[0] ? 1 : -1;
}

typedef struct thread_job {
    int id, calls;
    char failure[300];
} thread_job;

/* One call of the job's function on new inputs, checked in C; false with
 * job->failure filled on a mismatch. */
static bool thread_call(thread_job *job, em_function *f, int call)
{
    uint64_t seed = 5000 + (uint64_t)job->id * 1000 + (uint64_t)call;
    em_tensor *out = NULL;
    if (job->id == 0) {
        chain_inputs c = chain_make(seed, 3 + call % 4, 23);
        if (em_function_call(f, 3, c.in, 1, &out) != 1) {
            snprintf(job->failure, sizeof job->failure, "call %d: %s", call,
                     error_text());
            return false;
        }
        for (int64_t i = 0; i < c.m * c.n; i++) {
            double x = test_at(c.in[0], i), a = test_at(c.in[1], i % c.n);
            double b = test_at(c.in[2], i % c.n);
            double want = tanh(x * a + b) / (1 + exp(-x));
            if (!close_to(test_at(out, i), want, 1e-5)) {
                snprintf(job->failure, sizeof job->failure,
                         "chain call %d element %lld: %g, expected %g", call,
                         (long long)i, test_at(out, i), want);
                return false;
            }
        }
        return true;
    }
    int64_t m = 4 + call % 3, k = 9, n = 7;
    em_tensor *in[2] = {
        test_random(seed, EM_FLOAT64, 2, (int64_t[]){m, k}, -1, 1),
        test_random(seed + 1, EM_FLOAT64, 2, (int64_t[]){k, n}, -1, 1)};
    if (em_function_call(f, 2, in, 1, &out) != 1) {
        snprintf(job->failure, sizeof job->failure, "call %d: %s", call,
                 error_text());
        return false;
    }
    for (int64_t i = 0; i < m; i++) {
        double want = 0;
        for (int64_t j = 0; j < n; j++) {
            double y = 0;
            for (int64_t t = 0; t < k; t++)
                y += test_at(in[0], i * k + t) * test_at(in[1], t * n + j);
            want += y * y;
        }
        if (!close_to(test_at(out, i), want, 1e-12)) {
            snprintf(job->failure, sizeof job->failure,
                     "energy call %d row %lld: %.17g, expected %.17g", call,
                     (long long)i, test_at(out, i), want);
            return false;
        }
    }
    return true;
}

static void *thread_main(void *arg)
{
    thread_job *job = arg;
    em_trace_options o = jit_options(
        job->id == 0 ? "thread_chain" : "thread_energy", EM_JIT_SYNC);
    em_function *f = em_trace_fn(job->id == 0 ? chain : row_energy, NULL, &o);
    for (int call = 0; call < job->calls && !job->failure[0]; call++) {
        em_scope_begin();
        thread_call(job, f, call);
        em_scope_end();
    }
    em_function_free(f);
    return NULL;
}

START_TEST(two_threads_trace_and_call_their_own_functions_concurrently)
{
    thread_job jobs[2] = {{.id = 0, .calls = 150}, {.id = 1, .calls = 150}};
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(
            pthread_create(&threads[t], NULL, thread_main, &jobs[t]), 0);
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 2; t++)
        ck_assert_msg(jobs[t].failure[0] == 0, "thread %d: %s", t,
                      jobs[t].failure);
}
END_TEST

/* Functions freed while queued behind a busy compile, and one freed while
 * its own compile runs: no crash, no tensor left, and the compiler still
 * serves the next function. */
START_TEST(freeing_a_function_while_its_compile_is_queued_or_running_is_safe)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *busy_input;
    em_function *busy = occupy_compiler(&busy_input);
    for (int i = 0; i < 20; i++) {
        chain_inputs c = chain_make(70 + (uint64_t)i, 3, 5);
        em_trace_options o = jit_options("queued", EM_JIT_BACKGROUND);
        em_function *f = em_trace_fn(chain, NULL, &o);
        em_tensor *out = NULL;
        ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
        ck_assert_int_eq(
            em_concrete_compile_stats(em_function_concrete(f, 3, c.in)).tier,
            EM_TIER_COMPILING);
        em_function_free(f);
    }
    ck_assert_int_eq(
        em_concrete_wait_compiled(em_function_concrete(busy, 1, &busy_input)),
        EM_TIER_NATIVE);

    em_tensor *deep_input;
    em_function *deep = occupy_compiler(&deep_input);
    sleep_ms(100); /* the compile thread takes it at once */
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(deep, 1, &deep_input))
            .tier,
        EM_TIER_COMPILING);
    em_function_free(deep);

    chain_inputs c = chain_make(90, 4, 4);
    em_trace_options o = jit_options("after", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    ck_assert_int_eq(
        em_concrete_wait_compiled(em_function_concrete(f, 3, c.in)),
        EM_TIER_NATIVE);
    assert_chain(out, &c);
    em_function_free(f);
    em_function_free(busy);
    em_scope_end();
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
}
END_TEST

/* ---- fork -----------------------------------------------------------------*/

START_TEST(a_child_forked_after_compiles_finished_compiles_and_runs)
{
    em_scope_begin();
    chain_inputs c = chain_make(100, 6, 10);
    em_trace_options o = jit_options("parent", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    ck_assert_int_eq(
        em_concrete_wait_compiled(em_function_concrete(f, 3, c.in)),
        EM_TIER_NATIVE);
    fork_and_check(child_checks, &(parent_function){f, &c});
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* Queues a compile with its first call and exits at once, running the
 * exit handlers and LLVM's static destructors while code generation is
 * likely still running on the worker thread. */
static int exit_while_compiling(void *unused)
{
    (void)unused;
    chain_inputs c = chain_make(100, 6, 10);
    em_trace_options o = jit_options("exiting", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    if (em_function_call(f, 3, c.in, 1, &out) != 1)
        exit(CHILD_CALL_FAILED);
    exit(CHILD_OK);
}

START_TEST(a_process_exiting_while_a_compile_runs_exits_cleanly)
{
    for (int i = 0; i < 3; i++)
        fork_and_check(exit_while_compiling, NULL);
}
END_TEST

/* ---- large loops on the runtime's threads ---------------------------------*/

/* v -= 0.5 * g, and the new v's row sums: loops over 2^18 elements. */
static int large_update(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_tensor *v = user;
    if (em_variable_assign_sub(v, em_mul_scalar(in[0], 0.5)) != 0)
        return -1;
    out[0] = em_sum(em_tanh(v), 1, (const int[]){1}, false);
    return 1;
}

START_TEST(a_large_variable_update_split_across_threads_matches_eager)
{
    em_set_num_threads(4);
    em_scope_begin();
    const int64_t shape[2] = {512, 513};
    em_tensor *init = test_random(31, EM_FLOAT32, 2, shape, -1, 1);
    em_tensor *v_eager = em_variable_new("v", init, false);
    em_tensor *v_native = em_variable_new("v", init, false);
    em_trace_options o = jit_options("large_update", EM_JIT_SYNC);
    em_function *f = em_trace_fn(large_update, v_native, &o);
    for (int step = 0; step < 3; step++) {
        em_tensor *g =
            test_random(40 + (uint64_t)step, EM_FLOAT32, 2, shape, -1, 1);
        em_tensor *want = NULL, *got = NULL;
        ck_assert_int_eq(large_update(1, &g, 1, &want, v_eager), 1);
        ck_assert_msg(em_function_call(f, 1, &g, 1, &got) == 1, "%s",
                      error_text());
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 1, &g)),
            EM_TIER_NATIVE);
        ck_assert_msg(relative_error(v_native, v_eager) == 0,
                      "step %d: variables differ by %g", step,
                      relative_error(v_native, v_eager));
        ck_assert_msg(relative_error(got, want) <= 1e-6, "step %d: %g", step,
                      relative_error(got, want));
    }
    em_function_free(f);
    em_tensor_free(v_eager);
    em_tensor_free(v_native);
    em_scope_end();
}
END_TEST

typedef struct large_job {
    uint64_t seed;
    char failure[300];
} large_job;

/* exp(x) * 0.5 over [700, 300] and its row sums, checked in C. */
static int large_chain(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_mul_scalar(em_exp(in[0]), 0.5);
    out[1] = em_sum(out[0], 1, (const int[]){1}, false);
    return 2;
}

static void *large_thread(void *arg)
{
    large_job *job = arg;
    em_trace_options o = jit_options("large_chain", EM_JIT_SYNC);
    em_function *f = em_trace_fn(large_chain, NULL, &o);
    for (int call = 0; call < 8 && !job->failure[0]; call++) {
        em_scope_begin();
        em_tensor *x = test_random(job->seed + (uint64_t)call, EM_FLOAT32, 2,
                                   (int64_t[]){700, 300}, -2, 2);
        em_tensor *out[2];
        if (em_function_call(f, 1, &x, 2, out) != 2) {
            snprintf(job->failure, sizeof job->failure, "%s", error_text());
        } else {
            float *xs = em_tensor_data(x), *ys = em_tensor_data(out[0]);
            float *rows = em_tensor_data(out[1]);
            for (int r = 0; r < 700 && !job->failure[0]; r++) {
                double sum = 0;
                for (int k = 0; k < 300; k++) {
                    double want = 0.5 * exp((double)xs[r * 300 + k]);
                    sum += ys[r * 300 + k];
                    if (!close_to(ys[r * 300 + k], want, 1e-6))
                        snprintf(job->failure, sizeof job->failure,
                                 "call %d element %d: %g, expected %g", call,
                                 r * 300 + k, ys[r * 300 + k], want);
                }
                if (!close_to(rows[r], sum, 1e-6))
                    snprintf(job->failure, sizeof job->failure,
                             "call %d row %d: %g, expected %g", call, r,
                             rows[r], sum);
            }
        }
        em_scope_end();
    }
    em_function_free(f);
    return NULL;
}

/* Both threads' loops want the runtime's threads at once: one gets them,
 * the other runs its loops on its own thread; all results are right. */
START_TEST(two_threads_running_large_native_loops_at_once_are_both_right)
{
    em_set_num_threads(3);
    large_job jobs[2] = {{.seed = 700}, {.seed = 800}};
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        ck_assert_int_eq(
            pthread_create(&threads[t], NULL, large_thread, &jobs[t]), 0);
    for (int t = 0; t < 2; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < 2; t++)
        ck_assert_msg(jobs[t].failure[0] == 0, "thread %d: %s", t,
                      jobs[t].failure);
}
END_TEST

/* The runtime's threads do not survive fork: a child starts its own. */
static int child_large_loops(void *arg)
{
    large_job job = {.seed = 900};
    large_thread(&job);
    return job.failure[0] ? CHILD_WRONG : CHILD_OK;
}

START_TEST(a_child_forked_after_parallel_loops_runs_them_too)
{
    em_set_num_threads(3);
    large_job job = {.seed = 850};
    large_thread(&job); /* starts the runtime's threads in the parent */
    ck_assert_msg(job.failure[0] == 0, "%s", job.failure);
    fork_and_check(child_large_loops, NULL);
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit threads");
    TCase *tc = test_case(suite, "memory");
    tcase_add_test(tc, tracing_and_freeing_300_functions_keeps_memory_flat);
    tcase_add_test(
        tc, freeing_functions_right_after_a_background_call_keeps_memory_flat);

    tc = test_case(suite, "threads and processes");
    tcase_add_test(tc,
                   two_threads_trace_and_call_their_own_functions_concurrently);
    tcase_add_test(
        tc, freeing_a_function_while_its_compile_is_queued_or_running_is_safe);
    tcase_add_test(tc,
                   a_child_forked_after_compiles_finished_compiles_and_runs);

    tc = test_case(suite, "large loops");
    tcase_add_test(tc,
                   a_large_variable_update_split_across_threads_matches_eager);
    tcase_add_test(
        tc, two_threads_running_large_native_loops_at_once_are_both_right);
    tcase_add_test(tc, a_child_forked_after_parallel_loops_runs_them_too);
    tcase_add_test(tc, a_process_exiting_while_a_compile_runs_exits_cleanly);
    return test_run(suite);
}
