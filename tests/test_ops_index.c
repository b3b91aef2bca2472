/* Indexing ops: slice, gather, one_hot. The slices' expected index lists
 * are worked out by hand from Python's slicing rules; values then come
 * from naive loops over those lists. */
#include <string.h>

#include "shape_helpers.h"

#define END INT64_MAX
#define BEGIN INT64_MIN

/* Checks em_slice against x[lists[0][i0], lists[1][i1], ...]. */
static void check_slice(int line, em_dtype dtype, int nd, const int64_t *shape,
                        const int64_t *start, const int64_t *stop,
                        const int64_t *step, const int64_t *const *lists,
                        const int64_t *lens)
{
    em_tensor *x = iota(dtype, nd, shape);
    em_tensor *y = em_slice(x, start, stop, step);
    test_assert_shape(__FILE__, line, y, nd, lens);
    int64_t n = count(nd, lens);
    double *xv = values_of(x);
    double *expected = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t oi[EM_MAX_DIMS], xi[EM_MAX_DIMS];
        unravel(i, nd, lens, oi);
        for (int d = 0; d < nd; d++)
            xi[d] = lists[d][oi[d]];
        expected[i] = xv[ravel(nd, shape, xi)];
    }
    test_assert_values(__FILE__, line, y, expected, n, 0, 0);
    free(xv);
    free(expected);
    em_tensor_free(x);
    em_tensor_free(y);
}

/* One axis of size 10: x[start:stop:step] must read `want`. */
static void check_slice_1d(int line, int64_t start, int64_t stop, int64_t step,
                           int n, const int64_t *want)
{
    const int64_t *lists[] = {want};
    int64_t len = n;
    check_slice(line, EM_INT64, 1, (int64_t[]){10}, &start, &stop, &step, lists,
                &len);
}

/* ---- slice ---------------------------------------------------------------*/

START_TEST(slice_positive_steps)
{
    check_slice_1d(__LINE__, 2, 7, 1, 5, (int64_t[]){2, 3, 4, 5, 6});
    check_slice_1d(__LINE__, 0, END, 2, 5, (int64_t[]){0, 2, 4, 6, 8});
    check_slice_1d(__LINE__, 3, -3, 2, 2, (int64_t[]){3, 5});
    check_slice_1d(__LINE__, -3, END, 1, 3, (int64_t[]){7, 8, 9});
    check_slice_1d(__LINE__, 1, 10, 4, 3, (int64_t[]){1, 5, 9});
}
END_TEST

START_TEST(slice_negative_steps)
{
    check_slice_1d(__LINE__, 8, 1, -3, 3, (int64_t[]){8, 5, 2});
    check_slice_1d(__LINE__, -1, BEGIN, -4, 3, (int64_t[]){9, 5, 1});
    check_slice_1d(__LINE__, 9, BEGIN, -1, 10,
                   (int64_t[]){9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
    check_slice_1d(__LINE__, 5, -8, -1, 3, (int64_t[]){5, 4, 3});
    /* A step beyond the axis reads one entry. */
    check_slice_1d(__LINE__, END, BEGIN, INT64_MIN, 1, (int64_t[]){9});
}
END_TEST

START_TEST(slice_clamps_out_of_range_bounds)
{
    check_slice_1d(__LINE__, -100, 100, 3, 4, (int64_t[]){0, 3, 6, 9});
    check_slice_1d(__LINE__, 100, -100, -3, 4, (int64_t[]){9, 6, 3, 0});
    check_slice_1d(__LINE__, 5, 2, 1, 0, NULL);
    check_slice_1d(__LINE__, 2, 5, -1, 0, NULL);
    check_slice_1d(__LINE__, 12, END, 1, 0, NULL);
    check_slice_1d(__LINE__, -12, BEGIN, -1, 0, NULL);
}
END_TEST

START_TEST(slice_null_arrays_take_everything)
{
    const int64_t r[] = {0, 1, 2}, c[] = {0, 1, 2, 3};
    check_slice(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 4}, NULL, NULL, NULL,
                (const int64_t *[]){r, c}, (int64_t[]){3, 4});
    /* A NULL start with a negative step starts at the end. */
    const int64_t rr[] = {2, 1, 0}, cc[] = {3, 1};
    check_slice(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 4}, NULL, NULL,
                (int64_t[]){-1, -2}, (const int64_t *[]){rr, cc},
                (int64_t[]){3, 2});
}
END_TEST

START_TEST(slice_several_axes_and_dtypes)
{
    const int64_t rows[] = {3, 1}, cols[] = {1, 4};
    for (int d = 0; d < EM_DTYPE_COUNT; d++)
        check_slice(__LINE__, (em_dtype)d, 2, (int64_t[]){4, 5},
                    (int64_t[]){3, 1}, (int64_t[]){BEGIN, 5},
                    (int64_t[]){-2, 3}, (const int64_t *[]){rows, cols},
                    (int64_t[]){2, 2});
    const int64_t a[] = {0, 1, 2}, b[] = {3, 2, 1, 0}, c[] = {1, 3};
    check_slice(__LINE__, EM_FLOAT64, 3, (int64_t[]){3, 4, 5},
                (int64_t[]){0, -1, 1}, (int64_t[]){END, BEGIN, 4},
                (int64_t[]){1, -1, 2}, (const int64_t *[]){a, b, c},
                (int64_t[]){3, 4, 2});
    /* Contiguous inner rows with a reversed outer axis. */
    const int64_t r2[] = {5, 4, 3, 2, 1, 0}, all[] = {0, 1, 2, 3, 4, 5, 6};
    check_slice(__LINE__, EM_INT32, 2, (int64_t[]){6, 7}, NULL, NULL,
                (int64_t[]){-1, 1}, (const int64_t *[]){r2, all},
                (int64_t[]){6, 7});
}
END_TEST

START_TEST(slice_zero_size_and_scalar)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 3});
    em_tensor *y = em_slice(x, (int64_t[]){0, 1}, (int64_t[]){END, 3}, NULL);
    assert_shape(y, 2, 0, 2);
    em_tensor *s = em_scalar(4, EM_INT32);
    em_tensor *t = em_slice(s, NULL, NULL, NULL);
    ck_assert_int_eq(em_tensor_ndim(t), 0);
    ck_assert_double_eq(em_tensor_item(t), 4);
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(s);
    em_tensor_free(t);
}
END_TEST

START_TEST(slice_step_zero_is_an_error)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_slice(x, NULL, NULL, (int64_t[]){1, 0}));
    assert_error("slice", "step is 0 on axis 1", "float32[2,3]");
    em_tensor_free(x);
}
END_TEST

START_TEST(slice_shape_rule_checks_replayed_attributes)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 1, (int64_t[]){4});
    em__attrs attrs = {0};
    attrs.ndim = 1;
    attrs.shape[0] = 3;
    attrs.start[0] = 2;
    attrs.step[0] = 1;
    ck_assert_ptr_null(em__dispatch(EM_OP_SLICE, &x, 1, &attrs));
    assert_error("slice", "axis 0", "size 4");
    em_tensor_free(x);
}
END_TEST

/* ---- gather -------------------------------------------------------------- */

/* Checks em_gather(x, idx, axis) against a naive loop over the output. */
static void check_gather(int line, em_dtype dtype, int nd, const int64_t *shape,
                         em_tensor *idx, int axis)
{
    em_tensor *x = iota(dtype, nd, shape);
    em_tensor *y = em_gather(x, idx, axis);
    if (!y)
        ck_abort_msg("line %d: %s", line, em_error_last());
    int ax = axis < 0 ? axis + nd : axis;
    int ind = em_tensor_ndim(idx);
    int ond = nd - 1 + ind;
    int64_t oshape[EM_MAX_DIMS];
    for (int d = 0; d < ax; d++)
        oshape[d] = shape[d];
    for (int d = 0; d < ind; d++)
        oshape[ax + d] = em_tensor_shape(idx)[d];
    for (int d = ax + 1; d < nd; d++)
        oshape[d - 1 + ind] = shape[d];
    test_assert_shape(__FILE__, line, y, ond, oshape);

    int64_t n = count(ond, oshape);
    double *xv = values_of(x), *iv = values_of(idx);
    double *expected = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t oi[EM_MAX_DIMS] = {0}, xi[EM_MAX_DIMS] = {0};
        unravel(i, ond, oshape, oi);
        for (int d = 0; d < ax; d++)
            xi[d] = oi[d];
        int64_t k = ravel(ind, em_tensor_shape(idx), oi + ax);
        int64_t at = (int64_t)iv[k];
        xi[ax] = at < 0 ? at + shape[ax] : at;
        for (int d = ax + 1; d < nd; d++)
            xi[d] = oi[d - 1 + ind];
        expected[i] = xv[ravel(nd, shape, xi)];
    }
    test_assert_values(__FILE__, line, y, expected, n, 0, 0);
    free(xv);
    free(iv);
    free(expected);
    em_tensor_free(x);
    em_tensor_free(y);
}

START_TEST(gather_picks_rows_and_columns)
{
    em_tensor *rows = test_i64(1, (int64_t[]){3}, (int64_t[]){2, 0, 2});
    check_gather(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 4}, rows, 0);
    em_tensor *cols = test_i64(2, (int64_t[]){2, 2}, (int64_t[]){0, 3, 1, 1});
    check_gather(__LINE__, EM_FLOAT64, 2, (int64_t[]){3, 4}, cols, 1);
    check_gather(__LINE__, EM_INT64, 3, (int64_t[]){2, 4, 3}, cols, 1);
    check_gather(__LINE__, EM_UINT8, 3, (int64_t[]){2, 3, 4}, cols, -1);
    em_tensor_free(rows);
    em_tensor_free(cols);
}
END_TEST

START_TEST(gather_negative_indices_count_from_the_end)
{
    em_tensor *idx = test_i64(1, (int64_t[]){3}, (int64_t[]){-1, -3, 1});
    check_gather(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 2}, idx, 0);
    em_tensor_free(idx);
}
END_TEST

START_TEST(gather_takes_every_integer_index_dtype)
{
    em_tensor *i32 =
        em_tensor_from_data((int32_t[]){1, -2}, EM_INT32, 1, (int64_t[]){2});
    check_gather(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 2}, i32, 0);
    em_tensor *u8 =
        em_tensor_from_data((uint8_t[]){2, 0, 1}, EM_UINT8, 1, (int64_t[]){3});
    check_gather(__LINE__, EM_INT32, 2, (int64_t[]){3, 2}, u8, 0);
    em_tensor_free(i32);
    em_tensor_free(u8);
}
END_TEST

START_TEST(gather_scalar_and_empty_indices)
{
    em_tensor *s = em_scalar(2, EM_INT64);
    check_gather(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 4}, s, 0);
    em_tensor *e = em_zeros(EM_INT64, 1, (int64_t[]){0});
    check_gather(__LINE__, EM_FLOAT32, 2, (int64_t[]){3, 4}, e, 1);
    em_tensor_free(s);
    em_tensor_free(e);
}
END_TEST

START_TEST(gather_errors)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 4});
    em_tensor *big = test_i64(1, (int64_t[]){2}, (int64_t[]){0, 3});
    ck_assert_ptr_null(em_gather(x, big, 0));
    assert_error("gather", "index 3 is out of range for axis 0 of size 3",
                 "float32[3,4], int64[2]");
    em_tensor *low = test_i64(1, (int64_t[]){1}, (int64_t[]){-5});
    ck_assert_ptr_null(em_gather(x, low, -1));
    assert_error("gather", "index -5 is out of range for axis 1 of size 4");
    em_tensor *f = test_f32(1, (int64_t[]){1}, (float[]){0});
    ck_assert_ptr_null(em_gather(x, f, 0));
    assert_error("gather", "indices must be an integer tensor, not float32");
    ck_assert_ptr_null(em_gather(x, big, 2));
    assert_error("gather", "axis 2 out of range");
    em_tensor *s = em_scalar(1, EM_FLOAT32);
    ck_assert_ptr_null(em_gather(s, big, 0));
    assert_error("gather", "0-d");
    em_tensor *tensors[] = {x, big, low, f, s};
    for (int i = 0; i < 5; i++)
        em_tensor_free(tensors[i]);
}
END_TEST

/* ---- one_hot ------------------------------------------------------------- */

/* Checks em_one_hot against out[..., c] = (labels[...] == c). */
static void check_one_hot(int line, em_tensor *labels, int64_t depth,
                          em_dtype dtype)
{
    em_tensor *y = em_one_hot(labels, depth, dtype);
    if (!y)
        ck_abort_msg("line %d: %s", line, em_error_last());
    int nd = em_tensor_ndim(labels);
    int64_t shape[EM_MAX_DIMS];
    memcpy(shape, em_tensor_shape(labels), sizeof(int64_t) * (size_t)nd);
    shape[nd] = depth;
    test_assert_shape(__FILE__, line, y, nd + 1, shape);
    ck_assert_int_eq(em_tensor_dtype(y), dtype);
    int64_t n = em_tensor_size(labels);
    double *lv = values_of(labels);
    double *expected = malloc(sizeof(double) * (size_t)(n * depth + 1));
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < depth; c++)
            expected[i * depth + c] = lv[i] == (double)c;
    test_assert_values(__FILE__, line, y, expected, n * depth, 0, 0);
    free(lv);
    free(expected);
    em_tensor_free(y);
}

START_TEST(one_hot_marks_each_label)
{
    em_tensor *a = test_i64(1, (int64_t[]){4}, (int64_t[]){2, 0, 1, 2});
    check_one_hot(__LINE__, a, 3, EM_FLOAT32);
    check_one_hot(__LINE__, a, 5, EM_FLOAT64);
    em_tensor *b = em_tensor_from_data((uint8_t[]){1, 0, 3, 3, 2, 0}, EM_UINT8,
                                       2, (int64_t[]){2, 3});
    check_one_hot(__LINE__, b, 4, EM_INT32);
    check_one_hot(__LINE__, b, 4, EM_BOOL);
    em_tensor *c = em_tensor_from_data((int32_t[]){6}, EM_INT32, 0, NULL);
    check_one_hot(__LINE__, c, 7, EM_INT64);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(c);
}
END_TEST

START_TEST(one_hot_zero_size)
{
    em_tensor *e = em_zeros(EM_INT64, 2, (int64_t[]){2, 0});
    check_one_hot(__LINE__, e, 3, EM_FLOAT32);
    check_one_hot(__LINE__, e, 0, EM_FLOAT32);
    em_tensor_free(e);
}
END_TEST

START_TEST(one_hot_errors)
{
    em_tensor *a = test_i64(1, (int64_t[]){2}, (int64_t[]){0, 3});
    ck_assert_ptr_null(em_one_hot(a, 3, EM_FLOAT32));
    assert_error("one_hot", "label 3 is out of range [0, 3)", "int64[2]");
    em_tensor *neg = test_i64(1, (int64_t[]){1}, (int64_t[]){-1});
    ck_assert_ptr_null(em_one_hot(neg, 3, EM_FLOAT32));
    assert_error("one_hot", "label -1 is out of range");
    em_tensor *f = test_f32(1, (int64_t[]){1}, (float[]){1});
    ck_assert_ptr_null(em_one_hot(f, 3, EM_FLOAT32));
    assert_error("one_hot", "labels must be an integer tensor, not float32");
    ck_assert_ptr_null(em_one_hot(a, -2, EM_FLOAT32));
    assert_error("one_hot", "depth -2 is negative");
    ck_assert_ptr_null(em_one_hot(a, 4, (em_dtype)42));
    assert_error("one_hot", "invalid dtype 42");
    ck_assert_ptr_null(em_one_hot(NULL, 4, EM_FLOAT32));
    assert_error("one_hot", "NULL");
    em_tensor_free(a);
    em_tensor_free(neg);
    em_tensor_free(f);
}
END_TEST

START_TEST(null_input_alone_names_the_index_op)
{
    em_tensor *idx = em_zeros(EM_INT64, 1, (int64_t[]){1});
    em_error_clear();
    ck_assert_ptr_null(em_slice(NULL, NULL, NULL, NULL));
    assert_error("slice: input 0 is NULL");
    ck_assert_ptr_null(em_gather(NULL, idx, 0));
    assert_error("gather: input 0 is NULL");
    ck_assert_ptr_null(em_gather(idx, NULL, 0));
    assert_error("gather: input 1 is NULL");
    ck_assert_ptr_null(em_one_hot(NULL, 3, EM_FLOAT32));
    assert_error("one_hot: input 0 is NULL");
    em_tensor_free(idx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_index");
    TCase *tc = test_case(s, "slice");
    tcase_add_test(tc, slice_positive_steps);
    tcase_add_test(tc, slice_negative_steps);
    tcase_add_test(tc, slice_clamps_out_of_range_bounds);
    tcase_add_test(tc, slice_null_arrays_take_everything);
    tcase_add_test(tc, slice_several_axes_and_dtypes);
    tcase_add_test(tc, slice_zero_size_and_scalar);
    tcase_add_test(tc, slice_step_zero_is_an_error);
    tcase_add_test(tc, slice_shape_rule_checks_replayed_attributes);
    tc = test_case(s, "gather");
    tcase_add_test(tc, gather_picks_rows_and_columns);
    tcase_add_test(tc, gather_negative_indices_count_from_the_end);
    tcase_add_test(tc, gather_takes_every_integer_index_dtype);
    tcase_add_test(tc, gather_scalar_and_empty_indices);
    tcase_add_test(tc, gather_errors);
    tc = test_case(s, "one_hot");
    tcase_add_test(tc, one_hot_marks_each_label);
    tcase_add_test(tc, one_hot_zero_size);
    tcase_add_test(tc, one_hot_errors);
    tc = test_case(s, "null");
    tcase_add_test(tc, null_input_alone_names_the_index_op);
    return test_run(s);
}
