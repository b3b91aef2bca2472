/*
 * tests/test_control_eager.c - em_cond and em_while_loop in eager mode:
 * plain C control flow, checked against C computing the same thing.
 */
#include "testing.h"

/* then: 2x, else: x - 1 */
static int double_it(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *two = em_scalar(2, EM_FLOAT32);
    out[0] = em_mul(in[0], two);
    return out[0] ? 1 : -1;
}

static int minus_one(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *one = em_scalar(1, EM_FLOAT32);
    out[0] = em_sub(in[0], one);
    return out[0] ? 1 : -1;
}

static int count_calls(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (*(int *)user)++;
    out[0] = em_copy(in[0]);
    return 1;
}

START_TEST(cond_runs_the_then_branch_when_true)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_tensor *out = NULL;
    int k = em_cond(em_scalar(1, EM_BOOL), double_it, minus_one, NULL, 1, &x, 1,
                    &out);
    ck_assert_int_eq(k, 1);
    assert_values(out, ((double[]){2, 4, 6}), 3, 0, 0);
    em_scope_end();
}
END_TEST

START_TEST(cond_runs_the_else_branch_when_false)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){1, 2, 3});
    em_tensor *out = NULL;
    ck_assert_int_eq(em_cond(em_scalar(0, EM_BOOL), double_it, minus_one, NULL,
                             1, &x, 1, &out),
                     1);
    assert_values(out, ((double[]){0, 1, 2}), 3, 0, 0);
    em_scope_end();
}
END_TEST

START_TEST(cond_runs_only_one_branch)
{
    em_scope_begin();
    int calls[2] = {0, 0};
    em_tensor *x = em_scalar(5, EM_FLOAT32), *out = NULL;
    em_cond(em_scalar(1, EM_BOOL), count_calls, count_calls, &calls[0], 1, &x,
            1, &out);
    ck_assert_int_eq(calls[0], 1);
    em_scope_end();
}
END_TEST

START_TEST(cond_with_a_null_branch_returns_its_inputs)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){2}, (float[]){7, 8}), *out = NULL;
    ck_assert_int_eq(
        em_cond(em_scalar(0, EM_BOOL), double_it, NULL, NULL, 1, &x, 1, &out),
        1);
    ck_assert_ptr_ne(out, x);
    assert_values(out, ((double[]){7, 8}), 2, 0, 0);
    em_scope_end();
}
END_TEST

START_TEST(cond_refuses_a_float_predicate)
{
    em_scope_begin();
    em_tensor *x = em_scalar(1, EM_FLOAT32), *out = NULL;
    ck_assert_int_eq(em_cond(em_scalar(1, EM_FLOAT32), double_it, minus_one,
                             NULL, 1, &x, 1, &out),
                     -1);
    assert_error("cond", "predicate", "float32[]", "bool");
    ck_assert_ptr_null(out);
    em_scope_end();
}
END_TEST

START_TEST(cond_refuses_a_predicate_with_several_elements)
{
    em_scope_begin();
    em_tensor *x = em_scalar(1, EM_FLOAT32), *out = NULL;
    em_tensor *pred =
        em_cast(test_f32(1, (int64_t[]){2}, (float[]){1, 0}), EM_BOOL);
    ck_assert_int_eq(em_cond(pred, double_it, minus_one, NULL, 1, &x, 1, &out),
                     -1);
    assert_error("cond", "bool[2]");
    em_scope_end();
}
END_TEST

START_TEST(cond_with_null_predicate_returns_minus_one)
{
    em_scope_begin();
    em_tensor *x = em_scalar(1, EM_FLOAT32), *out = NULL;
    ck_assert_int_eq(em_cond(NULL, double_it, minus_one, NULL, 1, &x, 1, &out),
                     -1);
    assert_error("cond", "NULL");
    em_scope_end();
}
END_TEST

/* Loop variables (i, acc); x is the user pointer: acc *= x while i < n. */
typedef struct power {
    em_tensor *x;
    double n;
} power;

static int below_n(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    power *p = user;
    em_tensor *limit = em_scalar(p->n, EM_INT64);
    out[0] = em_less(in[0], limit);
    return out[0] ? 1 : -1;
}

static int times_x(int n, em_tensor *const *in, int max, em_tensor **out,
                   void *user)
{
    power *p = user;
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul(in[1], p->x);
    return 2;
}

START_TEST(while_loop_computes_a_power)
{
    em_scope_begin();
    power p = {test_f64(1, (int64_t[]){3}, (double[]){1.5, -2, 0.5}), 7};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64),
                          em_ones(EM_FLOAT64, 1, (int64_t[]){3})};
    em_tensor *res[2];
    ck_assert_int_eq(em_while_loop(below_n, times_x, &p, 2, vars, res, NULL),
                     0);
    ck_assert_int_eq((int)em_tensor_item(res[0]), 7);
    assert_values(res[1], ((double[]){pow(1.5, 7), pow(-2, 7), pow(0.5, 7)}), 3,
                  1e-12, 1e-12);
    em_scope_end();
}
END_TEST

START_TEST(while_loop_stops_at_max_iterations)
{
    em_scope_begin();
    power p = {em_scalar(2, EM_FLOAT64), 100};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    em_while_options o = {.max_iterations = 5};
    ck_assert_int_eq(em_while_loop(below_n, times_x, &p, 2, vars, res, &o), 0);
    ck_assert_int_eq((int)em_tensor_item(res[0]), 5);
    ck_assert_double_eq(em_tensor_item(res[1]), 32);
    em_scope_end();
}
END_TEST

START_TEST(while_loop_with_false_condition_returns_copies)
{
    em_scope_begin();
    power p = {em_scalar(2, EM_FLOAT64), 0};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(3, EM_FLOAT64)};
    em_tensor *res[2];
    ck_assert_int_eq(em_while_loop(below_n, times_x, &p, 2, vars, res, NULL),
                     0);
    ck_assert_ptr_ne(res[1], vars[1]);
    ck_assert_double_eq(em_tensor_item(res[1]), 3);
    em_scope_end();
}
END_TEST

static int grow(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    em_tensor *parts[2] = {in[1], in[1]};
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_concat(2, parts, 0);
    return 2;
}

START_TEST(while_loop_refuses_a_shape_change)
{
    em_scope_begin();
    power p = {NULL, 3};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64),
                          em_ones(EM_FLOAT32, 1, (int64_t[]){2})};
    em_tensor *res[2];
    ck_assert_int_eq(em_while_loop(below_n, grow, &p, 2, vars, res, NULL), -1);
    assert_error("while_loop", "loop variable 1", "float32[4]", "float32[2]",
                 "relaxed");
    ck_assert_ptr_null(res[0]);
    em_scope_end();
}
END_TEST

START_TEST(while_loop_allows_a_relaxed_shape_to_change)
{
    em_scope_begin();
    power p = {NULL, 3};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64),
                          em_ones(EM_FLOAT32, 1, (int64_t[]){2})};
    em_tensor *res[2];
    em_while_options o = {.relaxed_shape = (bool[]){false, true}};
    ck_assert_int_eq(em_while_loop(below_n, grow, &p, 2, vars, res, &o), 0);
    assert_shape(res[1], 1, 16);
    em_scope_end();
}
END_TEST

static int to_float(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_cast(in[1], EM_FLOAT32);
    return 2;
}

START_TEST(while_loop_refuses_a_dtype_change)
{
    em_scope_begin();
    power p = {NULL, 3};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    em_while_options o = {.relaxed_shape = (bool[]){true, true}};
    ck_assert_int_eq(em_while_loop(below_n, to_float, &p, 2, vars, res, &o),
                     -1);
    assert_error("while_loop", "float32[]", "float64[]", "dtype");
    em_scope_end();
}
END_TEST

static int not_bool(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_copy(in[1]);
    return 1;
}

START_TEST(while_loop_refuses_a_condition_that_is_not_bool)
{
    em_scope_begin();
    power p = {em_scalar(2, EM_FLOAT64), 3};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    ck_assert_int_eq(em_while_loop(not_bool, times_x, &p, 2, vars, res, NULL),
                     -1);
    assert_error("while_loop", "condition", "float64[]", "bool");
    em_scope_end();
}
END_TEST

START_TEST(while_loop_refuses_negative_max_iterations)
{
    em_scope_begin();
    power p = {em_scalar(2, EM_FLOAT64), 3};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    em_while_options o = {.max_iterations = -1};
    ck_assert_int_eq(em_while_loop(below_n, times_x, &p, 2, vars, res, &o), -1);
    assert_error("while_loop", "negative");
    em_scope_end();
}
END_TEST

START_TEST(while_loop_holds_memory_flat)
{
    em_scope_begin();
    power p = {em_scalar(1.0001, EM_FLOAT64), 2000};
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    int64_t before = em_memory_get_stats().live_tensors;
    ck_assert_int_eq(em_while_loop(below_n, times_x, &p, 2, vars, res, NULL),
                     0);
    int64_t after = em_memory_get_stats().live_tensors;
    ck_assert_int_le(after - before, 4);
    ck_assert_double_eq_tol(em_tensor_item(res[1]), pow(1.0001, 2000), 1e-9);
    em_scope_end();
}
END_TEST

/* Assigns v += x in the loop, and reads v for the next step: the order of
 * effects is the program order. */
static int accumulate(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    em_tensor *v = user;
    em_variable_assign_add(v, in[1]);
    out[0] = em_add(in[0], em_scalar(1, EM_INT64));
    out[1] = em_mul(v, em_scalar(2, EM_FLOAT64)); /* reads the new v */
    return 2;
}

static int below_four(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    out[0] = em_less(in[0], em_scalar(4, EM_INT64));
    return 1;
}

START_TEST(while_loop_assigns_variables_in_program_order)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", em_scalar(1, EM_FLOAT64), false);
    em_tensor *vars[2] = {em_scalar(0, EM_INT64), em_scalar(1, EM_FLOAT64)};
    em_tensor *res[2];
    ck_assert_int_eq(
        em_while_loop(below_four, accumulate, v, 2, vars, res, NULL), 0);
    double vv = 1, x = 1;
    for (int i = 0; i < 4; i++) {
        vv += x;
        x = 2 * vv;
    }
    ck_assert_double_eq(em_tensor_item(v), vv);
    ck_assert_double_eq(em_tensor_item(res[1]), x);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("control_eager");
    TCase *tc = test_case(s, "cond");
    tcase_add_test(tc, cond_runs_the_then_branch_when_true);
    tcase_add_test(tc, cond_runs_the_else_branch_when_false);
    tcase_add_test(tc, cond_runs_only_one_branch);
    tcase_add_test(tc, cond_with_a_null_branch_returns_its_inputs);
    tcase_add_test(tc, cond_refuses_a_float_predicate);
    tcase_add_test(tc, cond_refuses_a_predicate_with_several_elements);
    tcase_add_test(tc, cond_with_null_predicate_returns_minus_one);
    tc = test_case(s, "while_loop");
    tcase_add_test(tc, while_loop_computes_a_power);
    tcase_add_test(tc, while_loop_stops_at_max_iterations);
    tcase_add_test(tc, while_loop_with_false_condition_returns_copies);
    tcase_add_test(tc, while_loop_refuses_a_shape_change);
    tcase_add_test(tc, while_loop_allows_a_relaxed_shape_to_change);
    tcase_add_test(tc, while_loop_refuses_a_dtype_change);
    tcase_add_test(tc, while_loop_refuses_a_condition_that_is_not_bool);
    tcase_add_test(tc, while_loop_refuses_negative_max_iterations);
    tcase_add_test(tc, while_loop_holds_memory_flat);
    tcase_add_test(tc, while_loop_assigns_variables_in_program_order);
    return test_run(s);
}
