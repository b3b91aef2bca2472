/*
 * tests/test_control_trace.c - em_cond and em_while_loop inside traced
 * functions: regions in the graph, run by the executor as real branches
 * and loops, giving what eager mode gives.
 */
#include <string.h>

#include "collatz_testing.h"
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
    out[0] = em_mul(in[0], em_scalar(-3, EM_FLOAT32));
    return 1;
}

static int piecewise(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT32));
    return em_cond(pred, square, minus_three, NULL, 1, in, max, out);
}

static em_trace_options no_jit(const char *name)
{
    return (em_trace_options){.name = name, .jit = EM_JIT_OFF};
}

START_TEST(traced_cond_equals_eager_for_both_branches)
{
    em_scope_begin();
    em_trace_options o = no_jit("piecewise");
    em_function *f = em_trace_fn(piecewise, NULL, &o);
    float values[2][3] = {{1, 2, -0.5f}, {-1, -2, 0.5f}};
    for (int b = 0; b < 2; b++) {
        em_tensor *x = test_f32(1, (int64_t[]){3}, values[b]);
        em_tensor *traced = NULL, *eager = NULL;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &traced), 1);
        ck_assert_int_eq(piecewise(1, &x, 1, &eager, NULL), 1);
        double want[3];
        for (int i = 0; i < 3; i++)
            want[i] = test_at(eager, i);
        assert_values(traced, want, 3, 0, 0);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(traced_cond_is_one_node_with_two_regions)
{
    em_scope_begin();
    em_trace_options o = no_jit("piecewise");
    em_function *f = em_trace_fn(piecewise, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2});
    em_concrete *c = em_function_concrete(f, 1, &x);
    char text[4096];
    em_concrete_format(c, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "cond("));
    ck_assert_ptr_nonnull(strstr(text, "then:"));
    ck_assert_ptr_nonnull(strstr(text, "else:"));
    ck_assert_ptr_nonnull(strstr(text, "result"));
    char dot[8192];
    em_concrete_format_dot(c, dot, sizeof dot);
    ck_assert_ptr_nonnull(strstr(dot, "cluster"));
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int wrong_shape(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_sum(in[0], 0, NULL, false);
    return 1;
}

static int mismatched(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT32));
    return em_cond(pred, square, wrong_shape, NULL, 1, in, max, out);
}

START_TEST(traced_cond_names_branch_output_and_shapes_on_mismatch)
{
    em_scope_begin();
    em_trace_options o = no_jit("mismatched");
    em_function *f = em_trace_fn(mismatched, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3}), *y = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("cond", "output 0", "else branch", "float32[]", "then branch",
                 "float32[3]");
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int two_outputs(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_copy(in[0]);
    out[1] = em_copy(in[0]);
    return 2;
}

static int miscounted(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0, EM_FLOAT32));
    return em_cond(pred, square, two_outputs, NULL, 1, in, max, out);
}

START_TEST(traced_cond_refuses_branches_with_different_output_counts)
{
    em_scope_begin();
    em_trace_options o = no_jit("miscounted");
    em_function *f = em_trace_fn(miscounted, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_tensor *y[2] = {NULL, NULL};
    ck_assert_int_eq(em_function_call(f, 1, &x, 2, y), -1);
    assert_error("cond", "then branch returns 1", "else branch 2");
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int read_value(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    if (em_tensor_item(em_sum(in[0], 0, NULL, false)) > 0)
        out[0] = em_copy(in[0]);
    else
        out[0] = em_neg(in[0]);
    return 1;
}

START_TEST(reading_a_value_while_tracing_points_to_cond)
{
    em_scope_begin();
    em_trace_options o = no_jit("reads");
    em_function *f = em_trace_fn(read_value, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2}), *y = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("reads", "em_cond", "em_while_loop");
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- x^n by a loop: vars (i, acc), n the function's second input ---------*/

typedef struct power {
    em_tensor *x, *n;
    int64_t fixed_n; /* used when n is NULL */
    int64_t max_iterations;
} power;

static int below_n(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    power *p = user;
    em_tensor *limit = p->n ? p->n : em_scalar((double)p->fixed_n, EM_INT64);
    out[0] = em_less(in[0], limit);
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

/* inputs: x, and n (int64 scalar) unless fixed */
static int power_fn(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    power *p = user;
    power local = *p;
    local.x = in[0];
    local.n = n > 1 ? in[1] : NULL;
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_ones_like(in[0])};
    em_while_options o = {.max_iterations = p->max_iterations};
    em_tensor *res[2];
    if (em_while_loop(below_n, times_x, &local, 2, vars, res, &o) != 0)
        return -1;
    out[0] = res[1];
    out[1] = res[0];
    return 2;
}

START_TEST(traced_while_equals_a_c_loop)
{
    em_scope_begin();
    power p = {0};
    em_trace_options o = no_jit("power");
    em_function *f = em_trace_fn(power_fn, &p, &o);
    em_tensor *x = test_f64(1, (int64_t[]){2}, (double[]){1.0001, -0.999});
    int64_t counts[3] = {0, 10, 10000};
    for (int k = 0; k < 3; k++) {
        em_tensor *in[2] = {x, em_scalar((double)counts[k], EM_INT64)};
        em_tensor *out[2];
        ck_assert_int_eq(em_function_call(f, 2, in, 2, out), 2);
        double a = 1, b = 1;
        for (int64_t i = 0; i < counts[k]; i++) {
            a *= 1.0001;
            b *= -0.999;
        }
        assert_values(out[0], ((double[]){a, b}), 2, 1e-12, 1e-9);
        ck_assert_int_eq((int64_t)em_tensor_item(out[1]), counts[k]);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(traced_while_graph_size_does_not_depend_on_iterations)
{
    em_scope_begin();
    em_tensor *x = em_scalar(1.0001, EM_FLOAT64);
    power ten = {.fixed_n = 10}, many = {.fixed_n = 10000};
    em_trace_options o = no_jit("power");
    em_function *f10 = em_trace_fn(power_fn, &ten, &o);
    em_function *f10k = em_trace_fn(power_fn, &many, &o);
    em_concrete *c10 = em_function_concrete(f10, 1, &x);
    em_concrete *c10k = em_function_concrete(f10k, 1, &x);
    ck_assert_int_eq(em_concrete_node_count(c10), em_concrete_node_count(c10k));
    ck_assert_int_gt(em_concrete_node_count(c10), 5);
    ck_assert_int_lt(em_concrete_node_count(c10k), 40);
    em_tensor *out[2];
    ck_assert_int_eq(em_function_call(f10k, 1, &x, 2, out), 2);
    ck_assert_double_eq_tol(em_tensor_item(out[0]), pow(1.0001, 10000), 1e-9);
    em_function_free(f10);
    em_function_free(f10k);
    em_scope_end();
}
END_TEST

START_TEST(traced_while_stops_at_max_iterations)
{
    em_scope_begin();
    power p = {.max_iterations = 3};
    em_trace_options o = no_jit("power");
    em_function *f = em_trace_fn(power_fn, &p, &o);
    em_tensor *in[2] = {em_scalar(2, EM_FLOAT64), em_scalar(50, EM_INT64)};
    em_tensor *out[2];
    ck_assert_int_eq(em_function_call(f, 2, in, 2, out), 2);
    ck_assert_double_eq(em_tensor_item(out[0]), 8);
    ck_assert_int_eq((int)em_tensor_item(out[1]), 3);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- relaxed shapes ------------------------------------------------------*/

static int below_three(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_less(in[0], em_scalar(3, EM_INT64));
    return 1;
}

static int doubles(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    em_tensor *parts[2] = {in[1], in[1]};
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_concat(2, parts, 0);
    return 2;
}

static int relaxed_fn(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), in[0]};
    em_while_options o = {.relaxed_shape = (bool[]){false, true}};
    em_tensor *res[2];
    if (em_while_loop(below_three, doubles, NULL, 2, vars, res, &o) != 0)
        return -1;
    out[0] = user ? em_mul(res[1], res[1]) : res[1];
    return 1;
}

START_TEST(traced_relaxed_loop_variable_returns_its_final_shape)
{
    em_scope_begin();
    em_trace_options o = no_jit("relaxed");
    em_function *f = em_trace_fn(relaxed_fn, NULL, &o);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2}), *y = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
    assert_shape(y, 1, 16);
    for (int i = 0; i < 16; i++)
        ck_assert_double_eq(test_at(y, i), i % 2 + 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(traced_relaxed_loop_variable_read_by_an_op_is_an_error)
{
    em_scope_begin();
    em_trace_options o = no_jit("relaxed");
    int flag = 1;
    em_function *f = em_trace_fn(relaxed_fn, &flag, &o);
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){1, 2}), *y = NULL;
    ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), -1);
    assert_error("loop variable 1", "float32[16]", "float32[2]", "mul");
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- variables in branches and bodies ------------------------------------*/

static int add_x_to_v(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *v = user;
    em_variable_assign_add(v, in[0]);
    out[0] = em_mul(v, em_scalar(10, EM_FLOAT64));
    return 1;
}

static int scale_v(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    em_tensor *v = user;
    em_variable_assign(v, em_mul(v, in[0]));
    out[0] = em_copy(v);
    return 1;
}

/* v = v * x first (outside), then the branch, then reads v again */
static int effects(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    em_tensor *v = user;
    em_tensor *before = em_add(v, em_scalar(0, EM_FLOAT64));
    em_tensor *pred = em_greater(in[0], em_scalar(0, EM_FLOAT64));
    em_tensor *r = NULL;
    if (em_cond(pred, add_x_to_v, scale_v, v, 1, in, 1, &r) != 1)
        return -1;
    out[0] = before;
    out[1] = r;
    out[2] = em_add(v, em_scalar(0, EM_FLOAT64));
    return 3;
}

START_TEST(traced_cond_assigns_variables_in_program_order)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(2, EM_FLOAT64), false);
    em_trace_options o = no_jit("effects");
    em_function *f = em_trace_fn(effects, v, &o);
    double xs[3] = {3, -4, 0.5};
    double vv = 2;
    for (int k = 0; k < 3; k++) {
        em_tensor *x = em_scalar(xs[k], EM_FLOAT64), *out[3];
        ck_assert_int_eq(em_function_call(f, 1, &x, 3, out), 3);
        double before = vv, r;
        if (xs[k] > 0) {
            vv += xs[k];
            r = 10 * vv;
        } else {
            vv *= xs[k];
            r = vv;
        }
        ck_assert_double_eq(em_tensor_item(out[0]), before);
        ck_assert_double_eq(em_tensor_item(out[1]), r);
        ck_assert_double_eq(em_tensor_item(out[2]), vv);
        ck_assert_double_eq(em_tensor_item(v), vv);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

static int v_below_100(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_less(user, em_scalar(100, EM_FLOAT64));
    return 1;
}

static int v_doubles(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_variable_assign_add(user, user);
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    return 1;
}

static int loop_on_variable(int n, em_tensor *const *in, int max,
                            em_tensor **out, void *user)
{
    em_tensor *v = user;
    em_variable_assign(v, in[0]);
    em_tensor *i = em_scalar(0, EM_INT64);
    if (em_while_loop(v_below_100, v_doubles, v, 1, &i, out, NULL) != 0)
        return -1;
    out[1] = em_copy(v);
    return 2;
}

START_TEST(traced_while_reads_and_assigns_a_variable_each_iteration)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(0, EM_FLOAT64), false);
    em_trace_options o = no_jit("doubling");
    em_function *f = em_trace_fn(loop_on_variable, v, &o);
    double starts[2] = {3, 70};
    for (int k = 0; k < 2; k++) {
        em_tensor *x = em_scalar(starts[k], EM_FLOAT64), *out[2];
        ck_assert_int_eq(em_function_call(f, 1, &x, 2, out), 2);
        double vv = starts[k];
        int steps = 0;
        while (vv < 100) {
            vv += vv;
            steps++;
        }
        ck_assert_int_eq((int)em_tensor_item(out[0]), steps);
        ck_assert_double_eq(em_tensor_item(out[1]), vv);
        ck_assert_double_eq(em_tensor_item(v), vv);
    }
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

/* ---- nesting: the Collatz step count, a cond inside a while --------------*/

START_TEST(traced_cond_inside_while_counts_collatz_steps)
{
    em_scope_begin();
    em_trace_options o = no_jit("collatz");
    em_function *f = em_trace_fn(collatz, NULL, &o);
    int64_t starts[4] = {1, 6, 27, 97};
    for (int k = 0; k < 4; k++) {
        em_tensor *x = em_scalar((double)starts[k], EM_INT64), *y = NULL;
        ck_assert_int_eq(em_function_call(f, 1, &x, 1, &y), 1);
        int64_t steps = collatz_steps(starts[k]);
        ck_assert_int_eq((int64_t)em_tensor_item(y), steps);
        em_tensor *eager = NULL;
        collatz(1, &x, 1, &eager, NULL);
        ck_assert_int_eq((int64_t)em_tensor_item(eager), steps);
    }
    ck_assert_int_eq(em_function_get_stats(f).traces, 1);
    em_function_free(f);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control_trace");
    TCase *tc = test_case(s, "cond");
    tcase_add_test(tc, traced_cond_equals_eager_for_both_branches);
    tcase_add_test(tc, traced_cond_is_one_node_with_two_regions);
    tcase_add_test(tc, traced_cond_names_branch_output_and_shapes_on_mismatch);
    tcase_add_test(tc,
                   traced_cond_refuses_branches_with_different_output_counts);
    tcase_add_test(tc, reading_a_value_while_tracing_points_to_cond);
    tc = test_case(s, "while_loop");
    tcase_add_test(tc, traced_while_equals_a_c_loop);
    tcase_add_test(tc, traced_while_graph_size_does_not_depend_on_iterations);
    tcase_add_test(tc, traced_while_stops_at_max_iterations);
    tcase_add_test(tc, traced_relaxed_loop_variable_returns_its_final_shape);
    tcase_add_test(tc, traced_relaxed_loop_variable_read_by_an_op_is_an_error);
    tc = test_case(s, "effects");
    tcase_add_test(tc, traced_cond_assigns_variables_in_program_order);
    tcase_add_test(tc,
                   traced_while_reads_and_assigns_a_variable_each_iteration);
    tcase_add_test(tc, traced_cond_inside_while_counts_collatz_steps);
    return test_run(s);
}
