/*
 * tests/test_jit_control.c - em_cond and em_while_loop compiled to native
 * code: each function is run eagerly, traced in the graph executor and
 * traced natively (EM_JIT_SYNC), and the three agree, with values checked
 * against C as well: branches, nested branches, branches returning what
 * they were given, loops with a count known at run time or an iteration
 * limit, loop variables passed through or swapped, variables assigned
 * inside loops. A relaxed loop variable keeps its function in the
 * executor, with the reason; a kernel failing inside a loop is reported.
 * Gradients of loops and a training epoch in one call:
 * test_jit_control_training.c.
 */
#include <stdio.h>
#include <string.h>

#include "collatz_testing.h"
#include "jit_testing.h"

/* ---- the three ways -------------------------------------------------------*/

typedef struct modes {
    em_traced_body body;
    void *user;
    em_function *graph, *native;
} modes;

static modes modes_make(const char *name, em_traced_body body, void *user)
{
    em_trace_options graph = jit_options(name, EM_JIT_OFF);
    em_trace_options native = jit_options(name, EM_JIT_SYNC);
    return (modes){body, user, em_trace_fn(body, user, &graph),
                   em_trace_fn(body, user, &native)};
}

static void modes_free(modes *m)
{
    em_function_free(m->graph);
    em_function_free(m->native);
}

/* The native function's compile stats for inputs in. */
static em_compile_stats native_stats(modes *m, int n_in, em_tensor *const *in)
{
    return em_concrete_compile_stats(em_function_concrete(m->native, n_in, in));
}

/* Runs the three ways on in; the outputs agree within tol (relative), the
 * native call ran native code, and its outputs go to out (the scope's). */
static void modes_run(modes *m, int n_in, em_tensor *const *in, int n_out,
                      em_tensor **out, double tol)
{
    em_tensor *eager[8] = {NULL}, *graph[8] = {NULL};
    ck_assert_int_le(n_out, 8);
    ck_assert_msg(m->body(n_in, in, n_out, eager, m->user) == n_out,
                  "eager: %s", error_text());
    ck_assert_msg(em_function_call(m->graph, n_in, in, n_out, graph) == n_out,
                  "executor: %s", error_text());
    ck_assert_msg(em_function_call(m->native, n_in, in, n_out, out) == n_out,
                  "native: %s", error_text());
    em_compile_stats s = native_stats(m, n_in, in);
    ck_assert_msg(s.tier == EM_TIER_NATIVE && s.reason[0] == '\0',
                  "tier %d: %s", s.tier, s.reason);
    for (int k = 0; k < n_out; k++) {
        double e = relative_error(out[k], eager[k]);
        double g = relative_error(graph[k], eager[k]);
        ck_assert_msg(e <= tol, "output %d: native vs eager %g", k, e);
        ck_assert_msg(g <= tol, "output %d: executor vs eager %g", k, g);
    }
}

/* ---- em_cond --------------------------------------------------------------*/

static int square(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    out[0] = em_mul(in[0], in[0]);
    return 1;
}

static int times_minus_three(int n, em_tensor *const *in, int max,
                             em_tensor **out, void *user)
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
    if (em_cond(pred, square, times_minus_three, NULL, 1, in, 1, &r) != 1)
        return -1;
    out[0] = em_add_scalar(r, 1);
    return 1;
}

START_TEST(a_cond_compiles_and_takes_each_branch_as_the_executor_does)
{
    em_scope_begin();
    modes m = modes_make("piecewise", piecewise, NULL);
    const float values[2][4] = {{1, 2, -0.5f, 3}, {-1, -2, 0.5f, 0}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f32(1, (int64_t[]){4}, values[b]), *got = NULL;
        modes_run(&m, 1, &x, 1, &got, 0);
        double want[4];
        for (int i = 0; i < 4; i++) {
            double v = values[b][i];
            want[i] = (b == 0 ? v * v : -3 * v) + 1;
        }
        assert_values(got, want, 4, 0, 0);
    }
    modes_free(&m);
    em_scope_end();
}
END_TEST

START_TEST(compile_stats_count_the_regions_code_and_give_no_reason)
{
    em_scope_begin();
    em_trace_options o = jit_options("piecewise", EM_JIT_SYNC);
    em_function *f = em_trace_fn(piecewise, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){4}, (float[]){1, 2, 3, 4});
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(f, 1, &x));
    ck_assert_int_eq(s.tier, EM_TIER_NATIVE);
    ck_assert_str_eq(s.reason, "");
    /* the sum, the comparison, each branch's product and the + 1 */
    ck_assert_int_ge(s.fused_loops, 4);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int minus_ten(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    out[0] = em_add_scalar(in[0], -10);
    return 1;
}

static int large_or_small(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    em_tensor *large = em_greater(in[0], em_scalar(10, EM_FLOAT64));
    return em_cond(large, minus_ten, square, NULL, 1, in, 1, out);
}

static int negated(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    out[0] = em_neg(in[0]);
    return 1;
}

/* x > 0 ? (x > 10 ? x - 10 : x * x) : -x, then * 2 */
static int nested(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    em_tensor *positive = em_greater(in[0], em_scalar(0, EM_FLOAT64));
    em_tensor *r = NULL;
    if (em_cond(positive, large_or_small, negated, NULL, 1, in, 1, &r) != 1)
        return -1;
    out[0] = em_mul_scalar(r, 2);
    return 1;
}

START_TEST(a_nested_cond_compiles_and_takes_each_of_its_three_paths)
{
    em_scope_begin();
    modes m = modes_make("nested", nested, NULL);
    const double xs[3] = {12.5, 3, -4};
    const double want[3] = {5, 18, 8};
    for (int t = 0; t < 3; t++) {
        em_tensor *x = em_scalar(xs[t], EM_FLOAT64), *got = NULL;
        modes_run(&m, 1, &x, 1, &got, 0);
        assert_values(got, &want[t], 1, 0, 0);
    }
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* Branches returning what they were given, unchanged: an input, and a
 * tensor captured by the function (a constant of the graph). */
static int given(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    out[0] = in[0];
    out[1] = in[0];
    return 2;
}

static int captured(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = user;
    out[1] = em_neg(in[0]);
    return 2;
}

static int unchanged_or_constant(int n, em_tensor *const *in, int max,
                                 em_tensor **out, void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT64));
    return em_cond(pred, given, captured, user, 1, in, 2, out);
}

START_TEST(branches_may_return_an_input_or_a_constant_unchanged)
{
    em_scope_begin();
    em_tensor *k = test_f64(1, (int64_t[]){3}, (double[]){7, 8, 9});
    modes m = modes_make("unchanged", unchanged_or_constant, k);
    const double xs[2][3] = {{1, 2, 3}, {-1, -2, -3}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f64(1, (int64_t[]){3}, xs[b]), *got[2];
        modes_run(&m, 1, &x, 2, got, 0);
        const double constant[3] = {7, 8, 9};
        /* then: x and x; else: the constant and -x (= the first x) */
        assert_values(got[0], b == 0 ? xs[0] : constant, 3, 0, 0);
        assert_values(got[1], xs[0], 3, 0, 0);
    }
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* A cond whose result nobody reads, kept for the variable it assigns. */
static int assign_doubled(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    if (em_variable_assign(user, em_mul_scalar(in[0], 2)))
        return -1;
    out[0] = em_copy(in[0]);
    return 1;
}

static int assign_negated(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    if (em_variable_assign(user, em_neg(in[0])))
        return -1;
    out[0] = em_copy(in[0]);
    return 1;
}

static int unused_cond(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT32));
    em_tensor *r = NULL;
    if (em_cond(pred, assign_doubled, assign_negated, user, 1, in, 1, &r) != 1)
        return -1;
    out[0] = em_mul_scalar(user, 1); /* v as the branch left it */
    return 1;
}

START_TEST(a_cond_whose_result_is_unused_still_assigns_natively)
{
    em_scope_begin();
    em_tensor *v =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){2}), false);
    em_trace_options o = jit_options("unused", EM_JIT_SYNC);
    em_function *f = em_trace_fn(unused_cond, v, &o);
    const float xs[2][2] = {{1, 2}, {-3, 1}};
    const double want[2][2] = {{2, 4}, {3, -1}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f32(1, (int64_t[]){2}, xs[b]), *got = NULL;
        ck_assert_msg(em_function_call(f, 1, &x, 1, &got) == 1, "%s",
                      error_text());
        assert_values(got, want[b], 2, 0, 0);
        assert_values(v, want[b], 2, 0, 0);
        ck_assert_int_eq(
            em_concrete_compile_stats(em_function_concrete(f, 1, &x)).tier,
            EM_TIER_NATIVE);
    }
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* ---- em_while_loop --------------------------------------------------------*/

/* Loop variables (i, acc), captured x and n: acc *= x while i < n. */
typedef struct power {
    em_tensor *x, *n;
} power;

static int below_n(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    out[0] = em_less(in[0], ((power *)user)->n);
    return 1;
}

static int times_x(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul(in[1], ((power *)user)->x);
    return 2;
}

/* in[0] x [3] float64, in[1] n int64 -> (x^n, n) */
static int x_to_the_n(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    power p = {in[0], in[1]};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_ones_like(in[0])};
    if (em_while_loop(below_n, times_x, &p, 2, vars, out, NULL) != 0)
        return -1;
    em_tensor *swap = out[0];
    out[0] = out[1];
    out[1] = swap;
    return 2;
}

START_TEST(a_while_loop_computes_x_to_a_count_given_at_run_time)
{
    em_scope_begin();
    modes m = modes_make("power", x_to_the_n, NULL);
    const double xs[3] = {0.9, -1.5, 2};
    const int64_t counts[4] = {0, 1, 7, 3};
    for (int t = 0; t < 4; t++) {
        em_tensor *in[2] = {test_f64(1, (int64_t[]){3}, xs),
                            em_scalar((double)counts[t], EM_INT64)};
        em_tensor *got[2];
        modes_run(&m, 2, in, 2, got, 0);
        double want[3];
        for (int i = 0; i < 3; i++)
            want[i] = pow(xs[i], (double)counts[t]);
        assert_values(got[0], want, 3, 1e-15, 1e-15);
        ck_assert_int_eq((int64_t)em_tensor_item(got[1]), counts[t]);
    }
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* Newton's method for sqrt(a) until the largest relative change is below
 * 1e-12: loop variables (steps, y, change). */
static int not_converged(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    out[0] = em_greater(in[2], em_scalar(1e-12, EM_FLOAT64));
    return 1;
}

static int newton_step(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    em_tensor *a = *(em_tensor **)user, *y = in[1];
    em_tensor *next = em_mul_scalar(em_add(y, em_div(a, y)), 0.5);
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = next;
    out[2] = em_max(em_abs(em_div(em_sub(next, y), next)), 0, NULL, false);
    return 3;
}

static int newton_sqrt(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    em_tensor *a = in[0];
    em_tensor *vars[3] = {em_scalar(0, EM_INT64),
                          em_maximum(a, em_scalar(1, EM_FLOAT64)),
                          em_scalar(INFINITY, EM_FLOAT64)};
    em_tensor *res[3];
    em_while_options o = {.max_iterations = 200};
    if (em_while_loop(not_converged, newton_step, &a, 3, vars, res, &o) != 0)
        return -1;
    out[0] = res[1];
    out[1] = res[0];
    return 2;
}

START_TEST(a_loop_with_a_data_dependent_count_converges_natively)
{
    em_scope_begin();
    modes m = modes_make("newton_sqrt", newton_sqrt, NULL);
    const double sets[2][4] = {{2, 9, 1e6, 0.25}, {1e-4, 3, 7, 1e12}};
    int64_t steps[2];
    for (int t = 0; t < 2; t++) {
        em_tensor *a = test_f64(1, (int64_t[]){4}, sets[t]), *got[2];
        modes_run(&m, 1, &a, 2, got, 0);
        double want[4];
        for (int i = 0; i < 4; i++)
            want[i] = sqrt(sets[t][i]);
        assert_values(got[0], want, 4, 0, 1e-12);
        steps[t] = (int64_t)em_tensor_item(got[1]);
        ck_assert_int_gt(steps[t], 3);
    }
    ck_assert_int_ne(steps[0], steps[1]); /* the data decided */
    modes_free(&m);
    em_scope_end();
}
END_TEST

static int forever(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    out[0] = em_greater(em_add_scalar(em_sum(em_abs(in[1]), 0, NULL, false), 1),
                        em_scalar(0, EM_FLOAT32));
    return 1;
}

static int doubling(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul_scalar(in[1], 2);
    return 2;
}

/* A condition that always holds, stopped after 7 iterations. */
static int seven_doublings(int n, em_tensor *const *in, int max,
                           em_tensor **out, void *user)
{
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), in[0]};
    em_while_options o = {.max_iterations = 7};
    return em_while_loop(forever, doubling, NULL, 2, vars, out, &o) == 0 ? 2
                                                                         : -1;
}

START_TEST(max_iterations_stop_a_native_loop_whose_condition_holds)
{
    em_scope_begin();
    modes m = modes_make("seven", seven_doublings, NULL);
    em_tensor *x = test_f32(2, (int64_t[]){2, 2}, (float[]){1, -2, 0.5f, 3});
    em_tensor *got[2];
    modes_run(&m, 1, &x, 2, got, 0);
    ck_assert_int_eq((int64_t)em_tensor_item(got[0]), 7);
    assert_values(got[1], ((double[]){128, -256, 64, 384}), 4, 0, 0);
    assert_shape(got[1], 2, 2, 2);
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* Loop variables (i, a, b): swapped each iteration, i passed on + 1. */
static int below_three(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_less(in[0], em_scalar(3, EM_INT64));
    return 1;
}

static int swap_step(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = in[2];
    out[2] = in[1];
    out[3] = in[3];
    return 4;
}

/* The results reach the outputs directly, through a view, and through a
 * kernel (softmax). */
static int swaps(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    em_tensor *vars[4] = {em_scalar(0, EM_INT64), in[0], in[1], in[0]};
    em_tensor *res[4];
    if (em_while_loop(below_three, swap_step, NULL, 4, vars, res, NULL) != 0)
        return -1;
    out[0] = res[1];
    out[1] = em_reshape(res[2], 1, (int64_t[]){6});
    out[2] = em_softmax(em_add(res[1], res[3]), -1);
    out[3] = res[3];
    return 4;
}

START_TEST(loop_variables_passed_through_or_swapped_reach_every_reader)
{
    em_scope_begin();
    modes m = modes_make("swaps", swaps, NULL);
    em_tensor *in[2] = {
        test_random(5, EM_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1),
        test_random(6, EM_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1)};
    for (int call = 0; call < 3; call++) {
        em_tensor *got[4];
        modes_run(&m, 2, in, 4, got, 1e-15);
        /* three swaps: a and b change places */
        ck_assert(relative_error(got[0], in[1]) == 0);
        ck_assert(
            relative_error(got[1], em_reshape(in[0], 1, (int64_t[]){6})) == 0);
        ck_assert(relative_error(got[3], in[0]) == 0);
    }
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* ---- variables ------------------------------------------------------------*/

/* Each iteration reads v, assigns v = 2 v + x, and carries what it read
 * before the assignment and after it. */
static int assign_step(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    em_tensor *v = *(em_tensor **)user, *x = ((em_tensor **)user)[1];
    em_tensor *before = em_mul_scalar(v, 1);
    if (em_variable_assign(v, em_add(em_mul_scalar(v, 2), x)))
        return -1;
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_add(in[1], before);
    out[2] = em_add(in[2], em_mul_scalar(v, 1));
    return 3;
}

static int below_four(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    out[0] = em_less(in[0], em_scalar(4, EM_INT64));
    return 1;
}

/* v read before the loop, assigned four times inside, read after. */
static int assigning_loop(int n, em_tensor *const *in, int max, em_tensor **out,
                          void *user)
{
    em_tensor *ctx[2] = {user, in[0]};
    em_tensor *v = user;
    em_tensor *first = em_mul_scalar(v, 3);
    em_tensor *vars[3] = {em_scalar(0, EM_INT64), em_zeros_like(in[0]),
                          em_zeros_like(in[0])};
    em_tensor *res[3];
    if (em_while_loop(below_four, assign_step, ctx, 3, vars, res, NULL) != 0)
        return -1;
    out[0] = first;
    out[1] = res[1];
    out[2] = res[2];
    out[3] = em_sub(v, first);
    return 4;
}

START_TEST(a_native_loop_assigns_a_variable_in_program_order)
{
    em_scope_begin();
    const int64_t shape[1] = {5};
    em_tensor *v0 = test_random(11, EM_FLOAT64, 1, shape, -1, 1);
    em_tensor *v[3];
    em_function *f[2];
    for (int k = 0; k < 3; k++)
        v[k] = em_variable_new("v", v0, false);
    for (int k = 0; k < 2; k++) {
        em_trace_options o =
            jit_options("assigning", k == 0 ? EM_JIT_OFF : EM_JIT_SYNC);
        f[k] = em_trace_fn(assigning_loop, v[k + 1], &o);
    }
    for (int call = 0; call < 3; call++) {
        em_tensor *x =
            test_random(20 + (uint64_t)call, EM_FLOAT64, 1, shape, -1, 1);
        double start[5], sum_before[5] = {0}, sum_after[5] = {0};
        em_tensor_copy_to(v[2], start, EM_FLOAT64, sizeof start);
        for (int i = 0; i < 5; i++) { /* independently */
            double w = start[i];
            for (int it = 0; it < 4; it++) {
                sum_before[i] += w;
                w = 2 * w + test_at(x, i);
                sum_after[i] += w;
            }
        }
        em_tensor *want[4], *graph[4], *got[4];
        ck_assert_int_eq(assigning_loop(1, &x, 4, want, v[0]), 4);
        ck_assert_int_eq(em_function_call(f[0], 1, &x, 4, graph), 4);
        ck_assert_msg(em_function_call(f[1], 1, &x, 4, got) == 4, "%s",
                      error_text());
        assert_values(got[1], sum_before, 5, 1e-12, 1e-12);
        assert_values(got[2], sum_after, 5, 1e-12, 1e-12);
        for (int k = 0; k < 4; k++) {
            ck_assert_msg(relative_error(got[k], want[k]) <= 1e-15,
                          "call %d output %d: native vs eager", call, k);
            ck_assert_msg(relative_error(graph[k], want[k]) <= 1e-15,
                          "call %d output %d: executor vs eager", call, k);
        }
        ck_assert(relative_error(v[2], v[0]) == 0);
        ck_assert(relative_error(v[1], v[0]) == 0);
    }
    ck_assert_int_eq(
        em_concrete_compile_stats(em_function_concrete(f[1], 1, &v0)).tier,
        EM_TIER_NATIVE);
    for (int k = 0; k < 2; k++)
        em_function_free(f[k]);
    for (int k = 0; k < 3; k++)
        em_tensor_free(v[k]);
    em_scope_end();
}
END_TEST

/* Collatz (collatz_testing.h): a cond inside the loop body, and a counter
 * variable the body increments. */
START_TEST(a_cond_inside_a_native_loop_counts_collatz_steps)
{
    em_scope_begin();
    em_tensor *counter =
        em_variable_new("steps", em_scalar(0, EM_INT64), false);
    em_trace_options o = jit_options("collatz", EM_JIT_SYNC);
    em_function *f = em_trace_fn(collatz, counter, &o);
    int64_t total = 0;
    for (int64_t start = 1; start <= 30; start++) {
        int64_t v = start, steps = 0;
        while (v != 1)
            v = v % 2 == 0 ? v / 2 : 3 * v + 1, steps++;
        total += steps;
        em_tensor *x = em_scalar((double)start, EM_INT64), *got = NULL;
        ck_assert_msg(em_function_call(f, 1, &x, 1, &got) == 1, "%s",
                      error_text());
        ck_assert_int_eq((int64_t)em_tensor_item(got), steps);
        ck_assert_int_eq((int64_t)em_tensor_item(counter), total);
        ck_assert_int_eq(
            em_concrete_wait_compiled(em_function_concrete(f, 1, &x)),
            EM_TIER_NATIVE);
    }
    em_function_free(f);
    em_tensor_free(counter);
    em_scope_end();
}
END_TEST

/* A loop over an empty tensor: the counter still counts. */
static int empty_loop(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), in[0]};
    em_while_options o = {.max_iterations = 3};
    return em_while_loop(forever, doubling, NULL, 2, vars, out, &o) == 0 ? 2
                                                                         : -1;
}

START_TEST(a_native_loop_carries_an_empty_tensor)
{
    em_scope_begin();
    modes m = modes_make("empty", empty_loop, NULL);
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 3}), *got[2];
    modes_run(&m, 1, &x, 2, got, 0);
    ck_assert_int_eq((int64_t)em_tensor_item(got[0]), 3);
    assert_shape(got[1], 2, 0, 3);
    modes_free(&m);
    em_scope_end();
}
END_TEST

/* ---- what stays in the executor, and errors -------------------------------*/

static int sum_below_ten(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    out[0] = em_less(em_sum(in[0], 0, NULL, false), em_scalar(10, EM_FLOAT64));
    return 1;
}

static int append_one(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *one = em_ones(EM_FLOAT64, 1, (int64_t[]){1});
    out[0] = em_concat(2, (em_tensor *[]){in[0], one}, 0);
    return 1;
}

/* Grows x by one element per iteration until its sum reaches 10. */
static int growing(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    em_while_options o = {.relaxed_shape = (bool[]){true}};
    return em_while_loop(sum_below_ten, append_one, NULL, 1, in, out, &o) == 0
               ? 1
               : -1;
}

START_TEST(a_relaxed_loop_variable_keeps_its_function_in_the_executor)
{
    em_scope_begin();
    em_trace_options o = jit_options("growing", EM_JIT_SYNC);
    em_function *f = em_trace_fn(growing, NULL, &o);
    em_tensor *x = test_f64(1, (int64_t[]){2}, (double[]){2.5, 3}), *got = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &got), 1);
    assert_values(got, ((double[]){2.5, 3, 1, 1, 1, 1, 1}), 7, 0, 0);
    em_compile_stats s =
        em_concrete_compile_stats(em_function_concrete(f, 1, &x));
    ck_assert_int_eq(s.tier, EM_TIER_EXECUTOR);
    ck_assert_msg(strstr(s.reason, "em_while_loop") &&
                      strstr(s.reason, "loop variable 0") &&
                      strstr(s.reason, "relaxed"),
                  "reason: %s", s.reason);
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int below_count(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_less(in[0], *(em_tensor **)user);
    return 1;
}

static int gather_row(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *table = ((em_tensor **)user)[1];
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_add(in[1], em_gather(table, in[0], 0));
    return 2;
}

/* in[0] table [4, 3], in[1] the row count to sum: past 4, a gather in the
 * body fails. */
static int sum_rows(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    em_tensor *ctx[2] = {in[1], in[0]};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64),
                          em_zeros(EM_FLOAT32, 1, (int64_t[]){3})};
    em_tensor *res[2];
    if (em_while_loop(below_count, gather_row, ctx, 2, vars, res, NULL) != 0)
        return -1;
    out[0] = res[1];
    return 1;
}

START_TEST(a_failing_kernel_in_a_native_loop_reports_the_op_and_recovers)
{
    em_scope_begin();
    em_trace_options o = jit_options("sum_rows", EM_JIT_SYNC);
    em_function *f = em_trace_fn(sum_rows, NULL, &o);
    em_tensor *table = test_random(9, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1);
    for (int call = 0; call < 2; call++) {
        em_tensor *in[2] = {table, em_scalar(6, EM_INT64)}, *got = NULL;
        ck_assert_int_eq(em_function_call(f, 2, in, 1, &got), -1);
        ck_assert_ptr_null(got);
        assert_error("gather", "out of range");
        in[1] = em_scalar(3, EM_INT64);
        ck_assert_msg(em_function_call(f, 2, in, 1, &got) == 1, "%s",
                      error_text());
        double want[3];
        for (int j = 0; j < 3; j++)
            want[j] = test_at(table, j) + test_at(table, 3 + j) +
                      test_at(table, 6 + j);
        assert_values(got, want, 3, 1e-6, 1e-6);
        ck_assert_int_eq(
            em_concrete_compile_stats(em_function_concrete(f, 2, in)).tier,
            EM_TIER_NATIVE);
    }
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(many_native_calls_with_regions_hold_memory_flat)
{
    em_scope_begin();
    em_trace_options o = jit_options("newton_sqrt", EM_JIT_SYNC);
    em_function *f = em_trace_fn(newton_sqrt, NULL, &o);
    em_tensor *a = test_f64(1, (int64_t[]){3}, (double[]){2, 3, 5});
    int64_t before = 0;
    for (int call = 0; call < 200; call++) {
        em_scope_begin();
        em_tensor *got[2];
        ck_assert_int_eq(em_function_call(f, 1, &a, 2, got), 2);
        em_scope_end();
        if (call == 10)
            before = em_memory_get_stats().live_tensors;
    }
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before);
    em_function_free(f);
    em_scope_end();
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    Suite *suite = suite_create("jit control flow");
    TCase *tc = test_case(suite, "cond");
    tcase_add_test(tc,
                   a_cond_compiles_and_takes_each_branch_as_the_executor_does);
    tcase_add_test(tc, compile_stats_count_the_regions_code_and_give_no_reason);
    tcase_add_test(tc,
                   a_nested_cond_compiles_and_takes_each_of_its_three_paths);
    tcase_add_test(tc, branches_may_return_an_input_or_a_constant_unchanged);
    tcase_add_test(tc, a_cond_whose_result_is_unused_still_assigns_natively);
    tc = test_case(suite, "while");
    tcase_add_test(tc, a_while_loop_computes_x_to_a_count_given_at_run_time);
    tcase_add_test(tc, a_loop_with_a_data_dependent_count_converges_natively);
    tcase_add_test(tc, max_iterations_stop_a_native_loop_whose_condition_holds);
    tcase_add_test(tc,
                   loop_variables_passed_through_or_swapped_reach_every_reader);
    tcase_add_test(tc, a_native_loop_carries_an_empty_tensor);
    tc = test_case(suite, "variables");
    tcase_add_test(tc, a_native_loop_assigns_a_variable_in_program_order);
    tcase_add_test(tc, a_cond_inside_a_native_loop_counts_collatz_steps);
    tc = test_case(suite, "limits and errors");
    tcase_add_test(tc,
                   a_relaxed_loop_variable_keeps_its_function_in_the_executor);
    tcase_add_test(
        tc, a_failing_kernel_in_a_native_loop_reports_the_op_and_recovers);
    tcase_add_test(tc, many_native_calls_with_regions_hold_memory_flat);
    return test_run(suite);
}
