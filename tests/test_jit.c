/* The native tier of traced functions (jit/), beyond the op-by-op
 * equivalence of test_trace_ops.c: which tier a call runs in and why,
 * compile statistics, control flow compiled too, kernels failing
 * inside native code, outputs computed in place, tapes, signatures, and
 * the process-wide settings. Training and variables: test_jit_training.c;
 * memory, threads, fork and large loops: test_jit_threads.c; random
 * programs and special values: test_jit_fuzz.c, test_jit_special.c.
 *
 * Run with an argument, the executable checks what needs its own process
 * (the environment is read once): --jit-disabled under EMBER_JIT=off,
 * --dump under EMBER_DUMP=llvm,bogus,asm and EMBER_DUMP_DIR;
 * tests/CMakeLists.txt runs both. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ember/control.h"
#include "jit_testing.h"

/* ---- tiers ----------------------------------------------------------------*/

START_TEST(sync_mode_runs_native_code_from_the_first_call)
{
    em_scope_begin();
    chain_inputs c = chain_make(1, 13, 37);
    em_trace_options o = jit_options("chain", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    em_concrete *k = em_function_concrete(f, 3, c.in);
    em_compile_stats s = em_concrete_compile_stats(k);
    ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
    ck_assert_str_eq(s.reason, "");
    ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_NATIVE);
    assert_chain(out, &c);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(jit_off_runs_in_the_executor_and_says_why)
{
    em_scope_begin();
    chain_inputs c = chain_make(2, 4, 9);
    em_trace_options o = jit_options("chain", EM_JIT_OFF);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    assert_chain(out, &c);
    em_concrete *k = em_function_concrete(f, 3, c.in);
    ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_EXECUTOR);
    em_compile_stats s = em_concrete_compile_stats(k);
    ck_assert_int_eq(s.tier, EM_TIER_EXECUTOR);
    ck_assert_ptr_nonnull(strstr(s.reason, "EM_JIT_OFF"));
    /* stages after the passes never ran */
    ck_assert(s.ir_seconds == 0 && s.optimize_seconds == 0 &&
              s.codegen_seconds == 0);
    ck_assert_int_gt(em_concrete_last_run_nodes(k), 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(background_mode_is_native_after_waiting)
{
    em_scope_begin();
    chain_inputs c = chain_make(3, 8, 16);
    em_trace_options o = jit_options("chain", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    assert_chain(out, &c);
    em_concrete *k = em_function_concrete(f, 3, c.in);
    ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_NATIVE);
    em_compile_stats s = em_concrete_compile_stats(k);
    ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
    ck_assert_str_eq(s.reason, "");
    chain_inputs d = chain_make(33, 8, 16);
    ck_assert_int_eq(em_function_call(f, 3, d.in, 1, &out), 1);
    assert_chain(out, &d);
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* With the compile thread busy, the function waits in the queue: its
 * first calls run in the executor, say "compiling", and are right. */
START_TEST(background_calls_before_the_code_is_ready_run_in_the_executor)
{
    em_scope_begin();
    em_tensor *busy_input;
    em_function *busy = occupy_compiler(&busy_input);
    em_trace_options o = jit_options("chain", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(chain, NULL, &o);
    for (int call = 0; call < 3; call++) {
        chain_inputs c = chain_make(40 + (uint64_t)call * 7, 5, 11);
        em_tensor *out = NULL;
        ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
        assert_chain(out, &c);
        em_concrete *k = em_function_concrete(f, 3, c.in);
        em_compile_stats s = em_concrete_compile_stats(k);
        ck_assert_int_eq(s.tier, EM_TIER_COMPILING);
        ck_assert_str_eq(s.reason, "compiling");
        ck_assert_int_gt(em_concrete_last_run_nodes(k), 0);
    }
    chain_inputs c = chain_make(50, 5, 11);
    em_concrete *k = em_function_concrete(f, 3, c.in);
    ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_NATIVE);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    assert_chain(out, &c);
    em_function_free(f);
    em_function_free(busy);
    em_scope_end();
}
END_TEST

START_TEST(compile_stats_stage_times_are_not_negative)
{
    em_scope_begin();
    chain_inputs c = chain_make(4, 6, 6);
    em_trace_options o = jit_options("chain", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(f, 3, c.in));
    ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
    ck_assert(s.trace_seconds >= 0 && s.passes_seconds >= 0);
    ck_assert(s.ir_seconds >= 0 && s.optimize_seconds >= 0 &&
              s.codegen_seconds >= 0);
    ck_assert(s.trace_seconds + s.passes_seconds > 0);
    ck_assert(s.ir_seconds + s.optimize_seconds + s.codegen_seconds > 0);
    ck_assert(s.trace_seconds < 60 && s.codegen_seconds < 60);
    em_compile_stats none = em_concrete_compile_stats(NULL);
    ck_assert(none.tier == EM_TIER_EXECUTOR && none.fused_loops == 0 &&
              none.ir_seconds == 0);
    ck_assert_int_eq(em_concrete_wait_compiled(NULL), EM_TIER_EXECUTOR);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(an_elementwise_chain_is_one_fused_loop_without_library_calls)
{
    em_scope_begin();
    chain_inputs c = chain_make(5, 7, 19);
    em_trace_options o = jit_options("chain", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(f, 3, c.in));
    ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
    ck_assert_int_eq(s.fused_loops, 1);
    ck_assert_int_eq(s.library_calls, 0);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- outputs computed in place --------------------------------------------*/

/* Outputs that other nodes read: a kernel (softmax), a matrix product, a
 * later loop and a variable update; one output returned twice, an input
 * returned as it is, and the variable after its update. */
static int outputs_read_later(int n, em_tensor *const *in, int max,
                              em_tensor **out, void *user)
{
    em_tensor *v = user;
    em_tensor *y = em_tanh(in[0]);                    /* [4, 6] */
    em_tensor *s = em_softmax(y, -1);                 /* kernel */
    em_tensor *p = em_matmul(y, in[1], false, false); /* [4, 3] */
    em_tensor *r = em_sum(em_mul(y, s), 1, (const int[]){1}, true);
    if (em_variable_assign(v, em_add(p, r)) != 0)
        return -1;
    out[0] = y;
    out[1] = s;
    out[2] = p;
    out[3] = em_sub(y, r);
    out[4] = y;
    out[5] = in[1];
    out[6] = v;
    return 7;
}

START_TEST(outputs_computed_in_place_are_right_where_other_nodes_read_them)
{
    em_scope_begin();
    em_tensor *zeros = em_zeros(EM_FLOAT64, 2, (int64_t[]){4, 3});
    em_tensor *v_eager = em_variable_new("v", zeros, false);
    em_tensor *v_native = em_variable_new("v", zeros, false);
    em_trace_options o = jit_options("outputs_read_later", EM_JIT_SYNC);
    em_function *f = em_trace_fn(outputs_read_later, v_native, &o);
    for (int call = 0; call < 3; call++) {
        em_scope_begin();
        em_tensor *in[2] = {test_random(60 + (uint64_t)call, EM_FLOAT64, 2,
                                        (int64_t[]){4, 6}, -2, 2),
                            test_random(70 + (uint64_t)call, EM_FLOAT64, 2,
                                        (int64_t[]){6, 3}, -1, 1)};
        em_tensor *want[7], *got[7];
        ck_assert_int_eq(outputs_read_later(2, in, 7, want, v_eager), 7);
        ck_assert_msg(em_function_call(f, 2, in, 7, got) == 7, "%s",
                      error_text());
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 2, in)),
            EM_TIER_NATIVE);
        for (int k = 0; k < 7; k++)
            ck_assert_msg(relative_error(got[k], want[k]) <= 1e-14,
                          "call %d output %d: %g", call, k,
                          relative_error(got[k], want[k]));
        ck_assert_ptr_ne(got[0], got[4]);
        ck_assert_ptr_ne(got[5], in[1]);
        /* the outputs are the caller's: freeing them early is fine */
        for (int k = 0; k < 7; k++)
            em_tensor_free(got[k]);
        em_scope_end();
    }
    ck_assert(relative_error(v_native, v_eager) <= 1e-14);
    em_function_free(f);
    em_tensor_free(v_eager);
    em_tensor_free(v_native);
    em_scope_end();
}
END_TEST

/* ---- degenerate functions -------------------------------------------------*/

static int identity(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = in[0];
    return 1;
}

static int constant(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_full(2.5, EM_FLOAT32, 1, (int64_t[]){3});
    return 1;
}

static int nothing(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    return 0;
}

static int only_assigns(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    return em_variable_assign_add(user, in[0]) == 0 ? 0 : -1;
}

/* Functions with nothing to compute compile and run natively. */
START_TEST(functions_with_nothing_to_compute_run_natively)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, -2, 3});
    em_tensor *v =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){3}), false);
    em_traced_body bodies[4] = {identity, constant, nothing, only_assigns};
    const int outputs[4] = {1, 1, 0, 0};
    const double want[2][3] = {{1, -2, 3}, {2.5, 2.5, 2.5}};
    for (int k = 0; k < 4; k++) {
        em_trace_options o = jit_options("degenerate", EM_JIT_SYNC);
        em_function *f = em_trace_fn(bodies[k], v, &o);
        for (int call = 0; call < 2; call++) {
            em_tensor *out = NULL;
            ck_assert_msg(em_function_call(f, 1, &x, 1, &out) == outputs[k],
                          "body %d: %s", k, error_text());
            if (outputs[k]) {
                assert_values(out, want[k], 3, 0, 0);
                ck_assert_ptr_ne(out, x);
            }
        }
        em_compile_stats s =
            em_concrete_compile_stats(em_function_concrete(f, 1, &x));
        ck_assert_msg(s.tier == EM_TIER_NATIVE, "body %d: %s", k, s.reason);
        em_function_free(f);
    }
    assert_values(v, ((double[]){2, -4, 6}), 3, 0, 0);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* ---- native code under an eager tape, and several signatures --------------*/

static int softplus_energy(int n, em_tensor *const *in, int max,
                           em_tensor **out, void *user)
{
    em_tensor *w = user;
    out[0] = em_sum(em_softplus(em_mul(in[0], w)), 0, NULL, false);
    return out[0] ? 1 : -1;
}

START_TEST(a_native_function_under_an_eager_tape_gives_eager_gradients)
{
    em_scope_begin();
    em_tensor *w = em_variable_new(
        "w", test_random(51, EM_FLOAT64, 1, (int64_t[]){9}, -1, 1), true);
    em_tensor *x = test_random(52, EM_FLOAT64, 2, (int64_t[]){4, 9}, -2, 2);
    em_trace_options o = jit_options("softplus_energy", EM_JIT_SYNC);
    em_function *f = em_trace_fn(softplus_energy, w, &o);
    em_tensor *sources[2] = {x, w};
    em_tensor *want[2] = {NULL, NULL}, *got[2] = {NULL, NULL};

    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = NULL;
    ck_assert_int_eq(softplus_energy(1, &x, 1, &y, w), 1);
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, sources, want), 0);
    em_tape_free(tape);

    tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *z = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &z), 1);
    ck_assert_msg(em_tape_gradient(tape, z, 2, sources, got) == 0, "%s",
                  error_text());
    em_tape_free(tape);
    ck_assert_int_eq(em_concrete_wait_compiled(em_function_concrete(f, 1, &x)),
                     EM_TIER_NATIVE);
    ck_assert(relative_error(z, y) <= 1e-14);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(relative_error(got[k], want[k]) <= 1e-12,
                      "gradient %d: %g", k, relative_error(got[k], want[k]));
    em_function_free(f);
    em_tensor_free(w);
    em_scope_end();
}
END_TEST

START_TEST(each_signature_gets_its_own_native_code)
{
    em_scope_begin();
    em_trace_options o = jit_options("chain", EM_JIT_SYNC);
    em_function *f = em_trace_fn(chain, NULL, &o);
    const int64_t shapes[3][2] = {{3, 5}, {17, 33}, {3, 5}};
    em_concrete *seen[3];
    for (int k = 0; k < 3; k++) {
        chain_inputs c =
            chain_make(400 + (uint64_t)k, shapes[k][0], shapes[k][1]);
        em_tensor *out = NULL;
        ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
        assert_chain(out, &c);
        seen[k] = em_function_concrete(f, 3, c.in);
        ck_assert_int_eq(em_concrete_compile_stats(seen[k]).tier,
                         EM_TIER_NATIVE);
    }
    ck_assert_ptr_ne(seen[0], seen[1]);
    ck_assert_ptr_eq(seen[0], seen[2]);
    ck_assert_int_eq(em_function_get_stats(f).traces, 2);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- control flow is compiled too (test_jit_control.c has the rest) -------*/

static int square_branch(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    out[0] = em_mul(in[0], in[0]);
    return 1;
}

static int negate_branch(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    out[0] = em_mul_scalar(in[0], -3);
    return 1;
}

/* sum(x) > 0 ? x * x : -3 x, then + 1 */
static int piecewise(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT32));
    em_tensor *r = NULL;
    if (em_cond(pred, square_branch, negate_branch, NULL, 1, in, 1, &r) != 1)
        return -1;
    out[0] = em_add_scalar(r, 1);
    return 1;
}

typedef struct log_capture {
    char text[4096];
} log_capture;

static void capture_log(em_log_level level, const char *message, void *user)
{
    log_capture *c = user;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%s\n", message);
}

START_TEST(a_cond_compiles_its_function_and_the_log_says_so)
{
    em_scope_begin();
    log_capture log = {{0}};
    em_log_level level = em_log_get_level();
    em_log_set_handler(capture_log, &log);
    em_log_set_level(EM_LOG_INFO);
    em_trace_options o = jit_options("piecewise", EM_JIT_SYNC);
    em_function *f = em_trace_fn(piecewise, NULL, &o);
    const float values[2][4] = {{1, 2, -0.5f, 3}, {-1, -2, 0.5f, 0}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f32(1, (int64_t[]){4}, values[b]);
        em_tensor *got = NULL;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &got), 1);
        double want[4];
        for (int i = 0; i < 4; i++) {
            double v = values[b][i];
            want[i] = (b == 0 ? v * v : -3 * v) + 1;
        }
        assert_values(got, want, 4, 0, 0);
        em_concrete *k = em_function_concrete(f, 1, &x);
        ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_NATIVE);
        em_compile_stats s = em_concrete_compile_stats(k);
        ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
        ck_assert_str_eq(s.reason, "");
    }
    em_log_set_handler(NULL, NULL);
    em_log_set_level(level);
    ck_assert_msg(strstr(log.text, "'piecewise' compiled"), "log: %s",
                  log.text);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int below_hundred(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    out[0] = em_less(em_sum(in[0], 0, NULL, false), em_scalar(100, EM_FLOAT64));
    return 1;
}

static int doubled(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    out[0] = em_mul_scalar(in[0], 2);
    return 1;
}

static int doubling_loop(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    em_tensor *r = NULL;
    if (em_while_loop(below_hundred, doubled, NULL, 1, in, &r, NULL) != 0)
        return -1;
    out[0] = em_sqrt(r);
    return 1;
}

START_TEST(a_while_loop_compiles_its_function_and_is_right)
{
    em_scope_begin();
    em_trace_options o = jit_options("doubling", EM_JIT_SYNC);
    em_function *f = em_trace_fn(doubling_loop, NULL, &o);
    const double starts[3] = {0.3, 7, 150};
    for (int t = 0; t < 3; t++) {
        em_tensor *x = test_f64(1, (int64_t[]){2}, (double[]){starts[t], 1});
        em_tensor *got = NULL;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &got), 1);
        double a = starts[t], b = 1;
        while (a + b < 100)
            a *= 2, b *= 2;
        assert_values(got, ((double[]){sqrt(a), sqrt(b)}), 2, 0, 1e-15);
        em_compile_stats s =
            em_concrete_compile_stats(em_function_concrete(f, 1, &x));
        ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
        ck_assert_str_eq(s.reason, "");
    }
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- kernels failing inside native code -----------------------------------*/

static int gather_rows(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_mul_scalar(em_exp(em_gather(in[0], in[1], 0)), 2);
    return out[0] ? 1 : -1;
}

START_TEST(a_failing_kernel_in_native_code_reports_the_op_and_recovers)
{
    em_scope_begin();
    em_tensor *table = test_random(5, EM_FLOAT32, 2, (int64_t[]){6, 3}, -1, 1);
    em_trace_options o = jit_options("gather_rows", EM_JIT_SYNC);
    em_function *f = em_trace_fn(gather_rows, NULL, &o);
    const int64_t good[4] = {5, 0, 2, 2},
                  bad[2][4] = {{1, 99, 0, 0}, {0, 0, -40, 1}};
    for (int round = 0; round < 2; round++) {
        em_tensor *in[2] = {table, test_i64(1, (int64_t[]){4}, good)};
        em_tensor *got = NULL;
        ck_assert_msg(em_function_call(f, 2, in, 1, &got) == 1, "%s",
                      error_text());
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 2, in)),
            EM_TIER_NATIVE);
        double want[12];
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 3; j++)
                want[r * 3 + j] = 2 * exp(test_at(table, good[r] * 3 + j));
        assert_values(got, want, 12, 1e-6, 1e-6);

        in[1] = test_i64(1, (int64_t[]){4}, bad[round]);
        em_tensor *none = (em_tensor *)&none;
        ck_assert_int_eq(em_function_call(f, 2, in, 1, &none), -1);
        ck_assert_ptr_null(none);
        assert_error("gather");
        ck_assert(!em_error_pending());
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- process-wide settings (own ctest entries) ----------------------------*/

START_TEST(ember_jit_0_keeps_every_function_in_the_executor)
{
    ck_assert(!em_jit_available());
    em_scope_begin();
    const em_jit_mode modes[2] = {EM_JIT_SYNC, EM_JIT_BACKGROUND};
    for (int m = 0; m < 2; m++) {
        chain_inputs c = chain_make(200 + (uint64_t)m, 5, 7);
        em_trace_options o = jit_options("chain", modes[m]);
        em_function *f = em_trace_fn(chain, NULL, &o);
        em_tensor *out = NULL;
        ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
        assert_chain(out, &c);
        em_concrete *k = em_function_concrete(f, 3, c.in);
        ck_assert_int_eq(em_concrete_wait_compiled(k), EM_TIER_EXECUTOR);
        em_compile_stats s = em_concrete_compile_stats(k);
        ck_assert_int_eq(s.tier, EM_TIER_EXECUTOR);
        ck_assert_str_eq(s.reason, "EMBER_JIT=0");
        ck_assert_int_eq(s.fused_loops, 0);
        em_function_free(f);
    }
    em_scope_end();
}
END_TEST

static bool file_has(const char *dir, const char *name, const char *needle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static char text[1 << 20];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return n > 0 && strstr(text, needle) != NULL;
}

static bool file_exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static void remove_dump(const char *dir, const char *name)
{
    const char *suffixes[] = {"ll", "opt.ll", "s", "traced.graph.txt"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, suffixes[i]);
        unlink(path);
    }
}

/* Run under EMBER_DUMP=llvm,bogus,asm: the unknown entry is left out. */
START_TEST(ember_dump_writes_ir_optimised_ir_and_assembly)
{
    const char *dir = getenv("EMBER_DUMP_DIR");
    ck_assert_msg(dir && *dir, "run with EMBER_DUMP_DIR set");
    remove_dump(dir, "dump_probe");
    remove_dump(dir, "dump_probe.2");
    remove_dump(dir, "nested_name");
    em_scope_begin();
    const char *names[2] = {"dump_probe", "nested/name"};
    for (int k = 0; k < 2; k++) {
        em_trace_options o = jit_options(names[k], EM_JIT_SYNC);
        em_function *f = em_trace_fn(chain, NULL, &o);
        /* dump_probe at two shapes: two concrete functions */
        for (int shape = 0; shape < 2 - k; shape++) {
            chain_inputs c = chain_make(300, 3 + shape, 4);
            em_tensor *out = NULL;
            ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
            ck_assert_int_eq(
                em_concrete_wait_compiled(em_function_concrete(f, 3, c.in)),
                EM_TIER_NATIVE);
        }
        em_function_free(f);
    }
    em_scope_end();
    /* the second concrete function's files do not replace the first's */
    ck_assert(file_has(dir, "dump_probe.2.ll", "define"));
    ck_assert(file_has(dir, "dump_probe.2.s", ".text"));
    ck_assert_msg(file_has(dir, "dump_probe.ll", "define"), "no %s/%s", dir,
                  "dump_probe.ll");
    ck_assert_msg(file_has(dir, "dump_probe.opt.ll", "define"), "no %s/%s", dir,
                  "dump_probe.opt.ll");
    ck_assert_msg(file_has(dir, "dump_probe.s", ".text"), "no %s/%s", dir,
                  "dump_probe.s");
    /* a name with a slash stays a file in the folder */
    ck_assert(file_has(dir, "nested_name.ll", "define"));
    ck_assert(file_has(dir, "nested_name.s", ".text"));
    ck_assert(!file_exists(dir, "nested"));
    /* "graph" was not asked for */
    ck_assert(!file_exists(dir, "dump_probe.traced.graph.txt"));
}
END_TEST

/* ---- regressions: fork, views of outputs, float32 column sums ----------*/

/* A function queued for the background compiler when the process forks
 * compiles in the child too: the child starts a compile thread of its own
 * when it waits for (or calls) the function. */
START_TEST(a_child_forked_while_a_compile_is_queued_can_wait_for_it)
{
    em_scope_begin();
    em_tensor *busy_input;
    em_function *busy = occupy_compiler(&busy_input);
    sleep_ms(100);
    chain_inputs c = chain_make(100, 6, 10);
    em_trace_options o = jit_options("parent", EM_JIT_BACKGROUND);
    em_function *f = em_trace_fn(chain, NULL, &o);
    em_tensor *out = NULL;
    ck_assert_int_eq(em_function_call(f, 3, c.in, 1, &out), 1);
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(f, 3, c.in)).tier,
        EM_TIER_COMPILING);
    fork_and_check(child_checks, &(parent_function){f, &c});
    em_function_free(f);
    em_function_free(busy);
    em_scope_end();
}
END_TEST

/* A fork during a background compile waits for it to end, so the child
 * does not inherit the compiler's lock held by a thread it does not have:
 * its first compile (even EM_JIT_SYNC) goes through. */
START_TEST(a_child_forked_during_a_background_compile_can_compile)
{
    em_scope_begin();
    em_tensor *busy_input;
    em_function *busy = occupy_compiler(&busy_input);
    sleep_ms(100);
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(busy, 1, &busy_input))
            .tier,
        EM_TIER_COMPILING);
    fork_and_check(child_checks, &(parent_function){NULL, NULL});
    em_function_free(busy);
    em_scope_end();
}
END_TEST

/* An output the code computes is written straight into the tensor
 * returned; a view of it (reshape, expand_dims) must read that tensor,
 * not the previous call's output or the planned buffer. */
static int sum_and_view(int n, em_tensor *const *in, int max, em_tensor **out,
                        void *user)
{
    em_tensor *m = em_sum(in[0], 1, (const int[]){1}, true); /* [2, 1] */
    out[0] = em_add(m, em_expand_dims(m, 0));                /* [1, 2, 1] */
    out[1] = m;
    return 2;
}

START_TEST(a_view_of_an_output_reads_this_calls_value)
{
    em_scope_begin();
    em_trace_options o = jit_options("sum_and_view", EM_JIT_SYNC);
    em_function *f = em_trace_fn(sum_and_view, NULL, &o);
    for (int call = 0; call < 3; call++) {
        em_scope_begin();
        em_tensor *x = em_full(call + 1, EM_FLOAT32, 2, (int64_t[]){2, 3});
        em_tensor *out[2] = {NULL, NULL};
        ck_assert_int_eq(em_function_call(f, 1, &x, 2, out), 2);
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 1, &x)),
            EM_TIER_NATIVE);
        double row = 3.0 * (call + 1);
        assert_values(out[1], ((double[]){row, row}), 2, 0, 0);
        assert_values(out[0], ((double[]){2 * row, 2 * row}), 2, 0, 0);
        em_scope_end();
    }
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* A float32 sum whose reduced axis is not the innermost (a column sum:
 * the batch axis of a bias gradient) adds in float64, as the innermost
 * case and the eager kernel do. Each column is 2^24 followed by 4095 ones:
 * in float32 every + 1 would round away and the sum stay 2^24. */
static int column_sums(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_sum(in[0], 1, (const int[]){0}, false);
    out[1] = em_sum(em_transpose(in[0]), 1, (const int[]){1}, false);
    return 2;
}

START_TEST(float32_column_sums_are_as_accurate_as_row_sums)
{
    em_scope_begin();
    enum { ROWS = 4096 };
    float *v = malloc(sizeof(float) * ROWS * 2);
    for (int i = 0; i < ROWS * 2; i++)
        v[i] = i < 2 ? 16777216.0f : 1.0f;
    em_tensor *x = test_f32(2, (int64_t[]){ROWS, 2}, v);
    free(v);
    em_trace_options o = jit_options("column_sums", EM_JIT_SYNC);
    em_function *f = em_trace_fn(column_sums, NULL, &o);
    em_tensor *out[2] = {NULL, NULL};
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, out), 2);
    ck_assert_int_eq(em_concrete_wait_compiled(em_function_concrete(f, 1, &x)),
                     EM_TIER_NATIVE);
    /* 2^24 + 4095 = 16781311, which float32 rounds to 16781312 */
    const double want[2] = {16781312, 16781312};
    assert_values(out[1], want, 2, 0, 0); /* row sums of the transpose */
    assert_values(out[0], want, 2, 0, 0); /* column sums */
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- the suites -----------------------------------------------------------*/

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    Suite *suite = suite_create("jit");
    if (strcmp(mode, "--jit-disabled") == 0) {
        TCase *tc = test_case(suite, "environment");
        tcase_add_test(tc, ember_jit_0_keeps_every_function_in_the_executor);
        return test_run(suite);
    }
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    if (strcmp(mode, "--dump") == 0) {
        TCase *tc = test_case(suite, "dump");
        tcase_add_test(tc, ember_dump_writes_ir_optimised_ir_and_assembly);
        return test_run(suite);
    }
    TCase *tc = test_case(suite, "regressions");
    tcase_add_test(tc,
                   a_child_forked_while_a_compile_is_queued_can_wait_for_it);
    tcase_add_test(tc, a_child_forked_during_a_background_compile_can_compile);
    tcase_add_test(tc, a_view_of_an_output_reads_this_calls_value);
    tcase_add_test(tc, float32_column_sums_are_as_accurate_as_row_sums);

    tc = test_case(suite, "tiers");
    tcase_add_test(tc, sync_mode_runs_native_code_from_the_first_call);
    tcase_add_test(tc, jit_off_runs_in_the_executor_and_says_why);
    tcase_add_test(tc, background_mode_is_native_after_waiting);
    tcase_add_test(
        tc, background_calls_before_the_code_is_ready_run_in_the_executor);
    tcase_add_test(tc, compile_stats_stage_times_are_not_negative);
    tcase_add_test(
        tc, an_elementwise_chain_is_one_fused_loop_without_library_calls);
    tcase_add_test(tc, each_signature_gets_its_own_native_code);

    tc = test_case(suite, "what native code runs");
    tcase_add_test(tc, functions_with_nothing_to_compute_run_natively);
    tcase_add_test(
        tc, outputs_computed_in_place_are_right_where_other_nodes_read_them);
    tcase_add_test(tc,
                   a_native_function_under_an_eager_tape_gives_eager_gradients);

    tc = test_case(suite, "control flow");
    tcase_add_test(tc, a_cond_compiles_its_function_and_the_log_says_so);
    tcase_add_test(tc, a_while_loop_compiles_its_function_and_is_right);

    tc = test_case(suite, "errors");
    tcase_add_test(tc,
                   a_failing_kernel_in_native_code_reports_the_op_and_recovers);
    return test_run(suite);
}
