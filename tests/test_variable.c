/* Variables: creation, names, in-place updates and their errors. */
#include <string.h>

#include "testing.h"

static em_tensor *vec(double a, double b, double c)
{
    return test_f64(1, (int64_t[]){3}, (double[]){a, b, c});
}

START_TEST(a_variable_copies_its_initial_value_and_outlives_scopes)
{
    em_scope_begin();
    em_tensor *init = vec(1, 2, 3);
    em_tensor *v = em_variable_new("w", init, true);
    ((double *)em_tensor_data(init))[0] = 100; /* the variable kept a copy */
    em_scope_end();
    assert_values(v, ((double[]){1, 2, 3}), 3, 0, 0);
    ck_assert_str_eq(em_variable_name(v), "w");
    ck_assert(em_tensor_is_variable(v));
    ck_assert(em_variable_trainable(v));
    em_tensor_free(v);
}
END_TEST

START_TEST(names_default_and_plain_tensors_are_not_variables)
{
    em_scope_begin();
    em_tensor *v = em_variable_new(NULL, vec(0, 0, 0), false);
    ck_assert_str_eq(em_variable_name(v), "variable");
    ck_assert(!em_variable_trainable(v));
    em_tensor *t = vec(1, 1, 1);
    ck_assert(!em_tensor_is_variable(t));
    ck_assert_ptr_null(em_variable_name(t));
    ck_assert_ptr_null(em_variable_new("x", NULL, true));
    assert_error("variable_new", "NULL");
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(assign_add_and_sub_update_in_place)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("v", vec(1, 2, 3), false);
    void *storage = em_tensor_data(v);
    ck_assert_int_eq(em_variable_assign(v, vec(4, 5, 6)), 0);
    assert_values(v, ((double[]){4, 5, 6}), 3, 0, 0);
    ck_assert_int_eq(em_variable_assign_add(v, vec(1, 1, 1)), 0);
    assert_values(v, ((double[]){5, 6, 7}), 3, 0, 0);
    ck_assert_int_eq(em_variable_assign_sub(v, em_scalar(2, EM_FLOAT64)), 0);
    assert_values(v, ((double[]){3, 4, 5}), 3, 0, 0);
    ck_assert_ptr_eq(em_tensor_data(v), storage);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(scaled_updates_equal_their_composition)
{
    em_scope_begin();
    float b0[] = {0.5f, -1.25f, 3.0f}, g0[] = {0.1f, 0.2f, -0.3f};
    em_tensor *b = em_variable_new("b", test_f32(1, (int64_t[]){3}, b0), false);
    em_tensor *g = test_f32(1, (int64_t[]){3}, g0);
    /* b = 0.9 b + g, computed the way separate float32 ops round */
    ck_assert_int_eq(em_variable_assign_scale_add(b, 0.9, g), 0);
    double want[3];
    for (int i = 0; i < 3; i++)
        want[i] = (float)((float)(0.9f * b0[i]) + g0[i]);
    assert_values(b, want, 3, 0, 0);
    /* v -= lr * b with lr a one-element tensor */
    em_tensor *v =
        em_variable_new("v", em_ones(EM_FLOAT32, 1, (int64_t[]){3}), false);
    ck_assert_int_eq(em_variable_assign_sub_scaled(v, em_scalar_f32(0.1f), b),
                     0);
    for (int i = 0; i < 3; i++)
        want[i] = (float)(1.0f - (float)(0.1f * (float)want[i]));
    assert_values(v, want, 3, 0, 0);
    ck_assert_int_eq(em_variable_assign_sub_scaled(v, vec(1, 2, 3), b), -1);
    assert_error("assign_sub_scaled", "one float");
    em_tensor_free(b);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(values_broadcast_and_convert_to_the_variable)
{
    em_scope_begin();
    em_tensor *v =
        em_variable_new("m", em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3}), false);
    em_tensor *row = test_i64(1, (int64_t[]){3}, (int64_t[]){1, 2, 3});
    ck_assert_int_eq(em_variable_assign(v, row), 0);
    assert_values(v, ((double[]){1, 2, 3, 1, 2, 3}), 6, 0, 0);
    ck_assert_int_eq(em_tensor_dtype(v), EM_FLOAT32);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(bad_updates_name_the_variable_and_leave_it_alone)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("w", vec(1, 2, 3), false);
    ck_assert_int_eq(
        em_variable_assign(v, em_ones(EM_FLOAT64, 1, (int64_t[]){4})), -1);
    assert_error("assign", "float64[4]", "float64[3]");
    ck_assert_int_eq(em_variable_assign(v, em_ones(EM_BOOL, 1, (int64_t[]){3})),
                     -1);
    assert_error("assign", "bool");
    ck_assert_int_eq(em_variable_assign_add(vec(0, 0, 0), vec(1, 1, 1)), -1);
    assert_error("assign_add", "not a variable");
    ck_assert_int_eq(em_variable_assign(v, NULL), -1);
    assert_values(v, ((double[]){1, 2, 3}), 3, 0, 0);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("variable");
    TCase *tc = test_case(s, "variable");
    tcase_add_test(tc, a_variable_copies_its_initial_value_and_outlives_scopes);
    tcase_add_test(tc, names_default_and_plain_tensors_are_not_variables);
    tcase_add_test(tc, assign_add_and_sub_update_in_place);
    tcase_add_test(tc, scaled_updates_equal_their_composition);
    tcase_add_test(tc, values_broadcast_and_convert_to_the_variable);
    tcase_add_test(tc, bad_updates_name_the_variable_and_leave_it_alone);
    return test_run(s);
}
