/* Tensors: creation, dtypes, reading back, printing, scopes, memory. */
#include <string.h>

#include "testing.h"

START_TEST(from_data_copies_values_and_shape)
{
    float values[6] = {1, 2, 3, 4, 5, 6};
    em_tensor *t = test_f32(2, (int64_t[]){2, 3}, values);
    values[0] = 100; /* the tensor holds its own copy */
    assert_shape(t, 2, 2, 3);
    assert_values(t, ((double[]){1, 2, 3, 4, 5, 6}), 6, 0, 0);
    ck_assert_int_eq(em_tensor_dtype(t), EM_FLOAT32);
    em_tensor_free(t);
}
END_TEST

START_TEST(scalars_and_zero_size_dimensions)
{
    em_tensor *s = em_scalar(2.5, EM_FLOAT64);
    ck_assert_int_eq(em_tensor_ndim(s), 0);
    ck_assert_int_eq(em_tensor_size(s), 1);
    ck_assert_double_eq(em_tensor_item(s), 2.5);
    em_tensor *z = em_zeros(EM_FLOAT32, 3, (int64_t[]){4, 0, 2});
    ck_assert_int_eq(em_tensor_size(z), 0);
    assert_shape(z, 3, 4, 0, 2);
    em_tensor_free(s);
    em_tensor_free(z);
}
END_TEST

START_TEST(arange_counts_like_numpy)
{
    em_tensor *t = em_arange(0, 1, 0.25, EM_FLOAT64);
    assert_values(t, ((double[]){0, 0.25, 0.5, 0.75}), 4, 0, 0);
    em_tensor *e = em_arange(3, 1, 1, EM_INT32);
    ck_assert_int_eq(em_tensor_size(e), 0);
    ck_assert(!em_error_pending());
    ck_assert_ptr_null(em_arange(0, 1, 0, EM_FLOAT32));
    assert_error("arange", "non-zero step");
    em_tensor_free(t);
    em_tensor_free(e);
}
END_TEST

START_TEST(bad_creation_arguments_give_null_and_a_message)
{
    ck_assert_ptr_null(em_zeros(EM_FLOAT32, 9, (int64_t[9]){0}));
    assert_error("ndim 9");
    ck_assert_ptr_null(em_zeros(EM_FLOAT32, 1, (int64_t[]){-3}));
    assert_error("negative dimension", "[-3]");
    ck_assert_ptr_null(em_zeros((em_dtype)42, 1, (int64_t[]){3}));
    assert_error("invalid dtype");
    ck_assert_ptr_null(em_error_last());
}
END_TEST

START_TEST(item_refuses_more_than_one_element)
{
    em_tensor *t = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert(isnan(em_tensor_item(t)));
    assert_error("item", "float32[2]");
    em_tensor_free(t);
}
END_TEST

START_TEST(copy_to_converts_and_checks_capacity)
{
    em_tensor *t = test_f32(1, (int64_t[]){3}, (float[]){1.5f, -2, 3});
    int32_t out[3];
    ck_assert_int_eq(em_tensor_copy_to(t, out, EM_INT32, sizeof out), 0);
    ck_assert_int_eq(out[0], 1);
    ck_assert_int_eq(out[1], -2);
    ck_assert_int_eq(em_tensor_copy_to(t, out, EM_INT32, 8), -1);
    assert_error("12 bytes needed");
    em_tensor_free(t);
}
END_TEST

START_TEST(print_small_and_truncated)
{
    char buf[4096];
    em_tensor *t = test_f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4.5f});
    em_tensor_format(t, buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([[1, 2],\n [3, 4.5]], float32[2,2])");
    em_tensor *big = em_arange(0, 2000, 1, EM_INT64);
    em_tensor_format(big, buf, sizeof buf);
    ck_assert_str_eq(buf, "tensor([0, 1, 2, ..., 1997, 1998, 1999], "
                          "int64[2000])");
    em_tensor_free(t);
    em_tensor_free(big);
}
END_TEST

START_TEST(format_reports_needed_length_when_truncated)
{
    em_tensor *t = em_zeros(EM_INT32, 1, (int64_t[]){3});
    char buf[8];
    int need = em_tensor_format(t, buf, sizeof buf);
    ck_assert_int_eq(need, (int)strlen("tensor([0, 0, 0], int32[3])"));
    ck_assert_int_eq((int)strlen(buf), 7);
    em_tensor_free(t);
}
END_TEST

START_TEST(copy_to_null_dst_is_an_error_unless_nothing_to_copy)
{
    em_tensor *t = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_int_eq(em_tensor_copy_to(t, NULL, EM_FLOAT32, 100), -1);
    assert_error("tensor_copy_to", "dst is NULL");
    em_tensor *empty = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 4});
    ck_assert_int_eq(em_tensor_copy_to(empty, NULL, EM_INT64, 0), 0);
    ck_assert(!em_error_pending());
    em_tensor_free(empty);
    em_tensor_free(t);
}
END_TEST

START_TEST(format_with_a_null_buffer_only_measures)
{
    em_tensor *t = em_zeros(EM_INT32, 1, (int64_t[]){3});
    int need = em_tensor_format(t, NULL, 100);
    ck_assert_int_eq(need, (int)strlen("tensor([0, 0, 0], int32[3])"));
    em_tensor_free(t);
}
END_TEST

START_TEST(print_to_a_null_stream_records_an_error)
{
    em_tensor *t = em_zeros(EM_INT32, 1, (int64_t[]){3});
    em_tensor_print(t, NULL);
    assert_error("tensor_print", "stream is NULL");
    em_tensor_free(t);
}
END_TEST

START_TEST(shape_format_of_a_null_shape)
{
    char buf[32];
    ck_assert_str_eq(em_shape_format(2, NULL, buf, sizeof buf), "(null)");
    ck_assert_str_eq(em_shape_format(0, NULL, buf, sizeof buf), "[]");
    ck_assert_ptr_null(em_shape_format(2, (int64_t[]){1, 2}, NULL, 8));
}
END_TEST

START_TEST(promoting_an_invalid_dtype_gives_dtype_count)
{
    ck_assert_int_eq(em_dtype_promote((em_dtype)99, EM_FLOAT32),
                     EM_DTYPE_COUNT);
    ck_assert_int_eq(em_dtype_promote(EM_INT32, (em_dtype)-5), EM_DTYPE_COUNT);
    ck_assert_int_eq(em_dtype_promote(EM_INT64, EM_FLOAT32), EM_FLOAT32);
}
END_TEST

START_TEST(scope_releases_its_tensors_and_keeps_chosen_ones)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){100});
    em_tensor *kept = em_zeros(EM_FLOAT32, 1, (int64_t[]){10});
    (void)a;
    em_scope_keep(kept);
    em_scope_end();
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors + 1);
    ck_assert_int_eq(after.live_bytes, before.live_bytes + 40);
    em_tensor_free(kept);
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
}
END_TEST

START_TEST(free_inside_a_scope_does_not_double_release)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){4});
    em_tensor_free(a);
    em_scope_end();
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
}
END_TEST

START_TEST(retain_outlives_the_scope)
{
    em_scope_begin();
    em_tensor *a = em_full(7, EM_INT32, 1, (int64_t[]){2});
    em_tensor_retain(a);
    em_scope_end();
    assert_values(a, ((double[]){7, 7}), 2, 0, 0);
    em_tensor_free(a);
}
END_TEST

START_TEST(retain_then_free_inside_a_scope_leaves_the_scope_owner)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *a = em_ones(EM_FLOAT32, 1, (int64_t[]){4});
    em_tensor_retain(a);
    em_tensor_free(a); /* balances the retain; the scope still owns a */
    assert_values(a, ((double[]){1, 1, 1, 1}), 4, 0, 0);
    em_scope_end();
    ck_assert_int_eq(em_memory_get_stats().live_tensors, before.live_tensors);
}
END_TEST

START_TEST(shapes_whose_element_count_overflows_are_refused)
{
    /* 3 * 6148914691236517206 wraps to 2 in int64 arithmetic */
    int64_t wraps[] = {3, 6148914691236517206};
    ck_assert_ptr_null(em_zeros(EM_FLOAT32, 2, wraps));
    assert_error("full", "too many elements", "[3,6148914691236517206]");
    /* a zero-size dimension does not excuse the others' product */
    int64_t strides[] = {0, INT64_MAX, INT64_MAX};
    ck_assert_ptr_null(em_zeros(EM_FLOAT32, 3, strides));
    assert_error("too many elements");
    ck_assert_ptr_null(em_random_uniform(NULL, 0, 1, EM_FLOAT32, 2,
                                         (int64_t[]){1LL << 40, 1LL << 40}));
    assert_error("too many elements");
    /* an op whose output would overflow says so under its own name */
    em_tensor *labels = test_i64(1, (int64_t[]){3}, (int64_t[]){0, 1, 2});
    ck_assert_ptr_null(em_one_hot(labels, 6148914691236517206, EM_FLOAT32));
    assert_error("one_hot", "too many elements");
    em_tensor_free(labels);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = test_case(s, "tensor");
    tcase_add_test(tc, from_data_copies_values_and_shape);
    tcase_add_test(tc, scalars_and_zero_size_dimensions);
    tcase_add_test(tc, arange_counts_like_numpy);
    tcase_add_test(tc, bad_creation_arguments_give_null_and_a_message);
    tcase_add_test(tc, item_refuses_more_than_one_element);
    tcase_add_test(tc, copy_to_converts_and_checks_capacity);
    tcase_add_test(tc, print_small_and_truncated);
    tcase_add_test(tc, format_reports_needed_length_when_truncated);
    tcase_add_test(tc, copy_to_null_dst_is_an_error_unless_nothing_to_copy);
    tcase_add_test(tc, format_with_a_null_buffer_only_measures);
    tcase_add_test(tc, print_to_a_null_stream_records_an_error);
    tcase_add_test(tc, shape_format_of_a_null_shape);
    tcase_add_test(tc, promoting_an_invalid_dtype_gives_dtype_count);
    tcase_add_test(tc, scope_releases_its_tensors_and_keeps_chosen_ones);
    tcase_add_test(tc, free_inside_a_scope_does_not_double_release);
    tcase_add_test(tc, retain_outlives_the_scope);
    tcase_add_test(tc, retain_then_free_inside_a_scope_leaves_the_scope_owner);
    tcase_add_test(tc, shapes_whose_element_count_overflows_are_refused);
    return test_run(s);
}
