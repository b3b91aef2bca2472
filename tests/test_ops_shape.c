/* Shape ops: reshape, permute, transpose, expand_dims, squeeze,
 * broadcast_to, concat, stack. Expected values come from naive index loops
 * written here. */
#include <stdlib.h>
#include <string.h>

#include "shape_helpers.h"

/* Checks em_permute(x, perm) against out[i...] = x[i at perm positions]. */
static void check_permute(em_dtype dtype, int ndim, const int64_t *shape,
                          const int *perm)
{
    em_tensor *x = iota(dtype, ndim, shape);
    em_tensor *y = em_permute(x, perm);
    ck_assert_ptr_nonnull(y);
    int64_t out_shape[EM_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        out_shape[d] = shape[(perm[d] + ndim) % ndim];
    test_assert_shape(__FILE__, __LINE__, y, ndim, out_shape);

    int64_t n = count(ndim, shape);
    double *xv = values_of(x);
    double *expected = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t oi[EM_MAX_DIMS], xi[EM_MAX_DIMS];
        unravel(i, ndim, out_shape, oi);
        for (int d = 0; d < ndim; d++)
            xi[(perm[d] + ndim) % ndim] = oi[d];
        expected[i] = xv[ravel(ndim, shape, xi)];
    }
    assert_values(y, expected, n, 0, 0);
    ck_assert_int_eq(em_tensor_dtype(y), dtype);
    free(xv);
    free(expected);
    em_tensor_free(x);
    em_tensor_free(y);
}

/* ---- reshape ---------------------------------------------------------- */

START_TEST(reshape_keeps_row_major_order)
{
    em_tensor *x = iota(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *y = em_reshape(x, 3, (int64_t[]){3, 1, 2});
    assert_shape(y, 3, 3, 1, 2);
    assert_values(y, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0, 0);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(reshape_infers_one_minus_one)
{
    em_tensor *x = iota(EM_INT64, 3, (int64_t[]){2, 3, 4});
    em_tensor *y = em_reshape(x, 2, (int64_t[]){-1, 6});
    assert_shape(y, 2, 4, 6);
    em_tensor *z = em_reshape(x, 1, (int64_t[]){-1});
    assert_shape(z, 1, 24);
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(z);
}
END_TEST

START_TEST(reshape_shares_storage_with_its_source)
{
    em_tensor *x = iota(EM_FLOAT32, 2, (int64_t[]){2, 2});
    em_tensor *y = em_reshape(x, 1, (int64_t[]){4});
    ((float *)em_tensor_data(x))[3] = 42;
    assert_values(y, ((double[]){0, 1, 2, 42}), 4, 0, 0);
    /* The view keeps the storage alive after its source is gone. */
    em_tensor_free(x);
    assert_values(y, ((double[]){0, 1, 2, 42}), 4, 0, 0);
    em_tensor_free(y);
}
END_TEST

START_TEST(reshape_to_and_from_a_scalar)
{
    em_tensor *x = test_f32(1, (int64_t[]){1}, (float[]){7});
    em_tensor *s = em_reshape(x, 0, NULL);
    ck_assert_int_eq(em_tensor_ndim(s), 0);
    ck_assert_double_eq(em_tensor_item(s), 7);
    em_tensor *back = em_reshape(s, 2, (int64_t[]){1, -1});
    assert_shape(back, 2, 1, 1);
    em_tensor_free(x);
    em_tensor_free(s);
    em_tensor_free(back);
}
END_TEST

START_TEST(reshape_zero_size_dimensions)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 3});
    em_tensor *y = em_reshape(x, 3, (int64_t[]){3, 0, 5});
    assert_shape(y, 3, 3, 0, 5);
    em_tensor *z = em_reshape(x, 2, (int64_t[]){-1, 3});
    assert_shape(z, 2, 0, 3);
    /* With a zero among the known dimensions, -1 could be anything. */
    ck_assert_ptr_null(em_reshape(x, 2, (int64_t[]){0, -1}));
    assert_error("reshape", "cannot infer", "[0,-1]");
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(z);
}
END_TEST

START_TEST(reshape_errors_name_the_shapes)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_reshape(x, 1, (int64_t[]){4}));
    assert_error("reshape", "cannot reshape [2,3] (6 elements) into [4]",
                 "float32[2,3]");
    ck_assert_ptr_null(em_reshape(x, 2, (int64_t[]){-1, -1}));
    assert_error("reshape", "one -1 at most", "[-1,-1]");
    ck_assert_ptr_null(em_reshape(x, 2, (int64_t[]){-2, 3}));
    assert_error("reshape", "[-2,3]");
    ck_assert_ptr_null(em_reshape(x, 2, (int64_t[]){-1, 4}));
    assert_error("reshape", "cannot infer", "6 elements");
    ck_assert_ptr_null(em_reshape(x, 9, (int64_t[9]){0}));
    assert_error("reshape", "ndim 9");
    ck_assert_ptr_null(em_reshape(x, 2, NULL));
    assert_error("reshape", "NULL shape");
    em_tensor_free(x);
}
END_TEST

/* ---- permute and transpose -------------------------------------------- */

START_TEST(permute_matches_a_naive_loop)
{
    check_permute(EM_FLOAT32, 3, (int64_t[]){2, 3, 4}, (int[]){2, 0, 1});
    check_permute(EM_INT64, 3, (int64_t[]){2, 3, 4}, (int[]){1, 2, 0});
    check_permute(EM_FLOAT64, 4, (int64_t[]){2, 1, 3, 2}, (int[]){3, 1, 0, 2});
    check_permute(EM_INT32, 2, (int64_t[]){3, 5}, (int[]){0, 1});
}
END_TEST

START_TEST(permute_every_dtype)
{
    for (int d = 0; d < EM_DTYPE_COUNT; d++)
        check_permute((em_dtype)d, 3, (int64_t[]){3, 4, 5}, (int[]){2, 1, 0});
}
END_TEST

START_TEST(permute_large_transpositions)
{
    /* Sizes that are not multiples of the copy's tiles. */
    check_permute(EM_FLOAT32, 2, (int64_t[]){37, 53}, (int[]){1, 0});
    check_permute(EM_FLOAT64, 3, (int64_t[]){3, 40, 70}, (int[]){0, 2, 1});
    check_permute(EM_UINT8, 3, (int64_t[]){33, 5, 65}, (int[]){2, 1, 0});
    check_permute(EM_INT64, 4, (int64_t[]){6, 7, 8, 9}, (int[]){2, 3, 0, 1});
}
END_TEST

START_TEST(permute_accepts_negative_axes)
{
    check_permute(EM_FLOAT32, 3, (int64_t[]){2, 3, 4}, (int[]){-1, 0, -2});
}
END_TEST

START_TEST(permute_zero_size_and_scalar)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 3, (int64_t[]){2, 0, 3});
    em_tensor *y = em_permute(x, (int[]){2, 0, 1});
    assert_shape(y, 3, 3, 2, 0);
    em_tensor *s = em_scalar(5, EM_INT32);
    em_tensor *t = em_permute(s, NULL);
    ck_assert_double_eq(em_tensor_item(t), 5);
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(s);
    em_tensor_free(t);
}
END_TEST

START_TEST(permute_rejects_a_non_permutation)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_permute(x, (int[]){0, 0}));
    assert_error("permute", "perm [0,0] is not a permutation of 2 axes",
                 "float32[2,3]");
    ck_assert_ptr_null(em_permute(x, (int[]){0, 2}));
    assert_error("permute", "[0,2]");
    ck_assert_ptr_null(em_permute(x, NULL));
    assert_error("permute", "NULL");
    em_tensor_free(x);
}
END_TEST

START_TEST(transpose_swaps_the_last_two_dimensions)
{
    check_permute(EM_FLOAT32, 3, (int64_t[]){2, 3, 4}, (int[]){0, 2, 1});
    em_tensor *x = iota(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *y = em_transpose(x);
    assert_shape(y, 2, 3, 2);
    assert_values(y, ((double[]){0, 3, 1, 4, 2, 5}), 6, 0, 0);
    em_tensor *v = iota(EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_ptr_null(em_transpose(v));
    assert_error("transpose", "at least 2 dimensions", "float32[3]");
    em_tensor_free(x);
    em_tensor_free(y);
    em_tensor_free(v);
}
END_TEST

/* ---- expand_dims and squeeze ------------------------------------------ */

START_TEST(expand_dims_inserts_a_unit_axis)
{
    em_tensor *x = iota(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *a = em_expand_dims(x, 0);
    em_tensor *b = em_expand_dims(x, 2);
    em_tensor *c = em_expand_dims(x, -1);
    em_tensor *d = em_expand_dims(x, -3);
    assert_shape(a, 3, 1, 2, 3);
    assert_shape(b, 3, 2, 3, 1);
    assert_shape(c, 3, 2, 3, 1);
    assert_shape(d, 3, 1, 2, 3);
    assert_values(b, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0, 0);
    ck_assert_ptr_null(em_expand_dims(x, 3));
    assert_error("expand_dims", "axis 3 outside [-3, 2]");
    ck_assert_ptr_null(em_expand_dims(x, -4));
    assert_error("expand_dims", "axis -4");
    em_tensor *x8 =
        em_zeros(EM_FLOAT32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1});
    ck_assert_ptr_null(em_expand_dims(x8, 0));
    assert_error("expand_dims", "limit of 8");
    em_tensor *tensors[] = {x, a, b, c, d, x8};
    for (int i = 0; i < 6; i++)
        em_tensor_free(tensors[i]);
}
END_TEST

START_TEST(squeeze_removes_unit_axes)
{
    em_tensor *x = iota(EM_INT32, 4, (int64_t[]){1, 3, 1, 2});
    em_tensor *all = em_squeeze(x, 0, NULL);
    assert_shape(all, 2, 3, 2);
    em_tensor *one = em_squeeze(x, 1, (int[]){-2});
    assert_shape(one, 3, 1, 3, 2);
    em_tensor *two = em_squeeze(x, 2, (int[]){2, 0});
    assert_shape(two, 2, 3, 2);
    assert_values(two, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0, 0);
    em_tensor *tensors[] = {x, all, one, two};
    for (int i = 0; i < 4; i++)
        em_tensor_free(tensors[i]);
}
END_TEST

START_TEST(squeeze_errors_for_bad_axes)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 3, (int64_t[]){1, 3, 1});
    ck_assert_ptr_null(em_squeeze(x, 1, (int[]){1}));
    assert_error("squeeze", "cannot squeeze axis 1 of size 3",
                 "float32[1,3,1]");
    ck_assert_ptr_null(em_squeeze(x, 1, (int[]){3}));
    assert_error("squeeze", "axis 3 out of range");
    ck_assert_ptr_null(em_squeeze(x, 2, (int[]){0, -3}));
    assert_error("squeeze", "listed twice");
    ck_assert_ptr_null(em_squeeze(x, 1, NULL));
    assert_error("squeeze", "NULL list");
    em_tensor_free(x);
}
END_TEST

/* ---- broadcast_to ----------------------------------------------------- */

/* Checks em_broadcast_to(x, shape) against the NumPy rule, read
 * element by element. */
static void check_broadcast(int xnd, const int64_t *xshape, int nd,
                            const int64_t *shape)
{
    em_tensor *x = iota(EM_FLOAT64, xnd, xshape);
    em_tensor *y = em_broadcast_to(x, nd, shape);
    ck_assert_ptr_nonnull(y);
    test_assert_shape(__FILE__, __LINE__, y, nd, shape);
    int64_t n = count(nd, shape);
    double *xv = values_of(x);
    double *expected = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) {
        int64_t oi[EM_MAX_DIMS], xi[EM_MAX_DIMS];
        unravel(i, nd, shape, oi);
        for (int d = 0; d < xnd; d++)
            xi[d] = xshape[d] == 1 ? 0 : oi[d + nd - xnd];
        expected[i] = xv[ravel(xnd, xshape, xi)];
    }
    assert_values(y, expected, n, 0, 0);
    free(xv);
    free(expected);
    em_tensor_free(x);
    em_tensor_free(y);
}

START_TEST(broadcast_to_follows_numpy)
{
    check_broadcast(1, (int64_t[]){3}, 2, (int64_t[]){2, 3});
    check_broadcast(2, (int64_t[]){2, 1}, 2, (int64_t[]){2, 3});
    check_broadcast(0, NULL, 2, (int64_t[]){2, 2});
    check_broadcast(3, (int64_t[]){1, 3, 1}, 4, (int64_t[]){2, 4, 3, 5});
    check_broadcast(2, (int64_t[]){2, 3}, 2, (int64_t[]){2, 3});
}
END_TEST

START_TEST(broadcast_to_zero_size)
{
    check_broadcast(2, (int64_t[]){1, 3}, 2, (int64_t[]){0, 3});
    check_broadcast(1, (int64_t[]){1}, 2, (int64_t[]){4, 0});
}
END_TEST

START_TEST(broadcast_to_refuses_incompatible_shapes)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_ptr_null(em_broadcast_to(x, 2, (int64_t[]){2, 2}));
    assert_error("broadcast_to", "cannot broadcast [3] to [2,2]", "float32[3]");
    em_tensor *m = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_broadcast_to(m, 1, (int64_t[]){3}));
    assert_error("broadcast_to", "cannot broadcast [2,3] to [3]");
    ck_assert_ptr_null(em_broadcast_to(x, 2, (int64_t[]){-1, 3}));
    assert_error("broadcast_to", "invalid target shape [-1,3]");
    em_tensor_free(x);
    em_tensor_free(m);
}
END_TEST

/* ---- concat and stack ------------------------------------------------- */

/* Checks em_concat of n iota-like tensors (each offset by 100 * i)
 * against a naive copy. */
static void check_concat(int n, int nd, const int64_t shapes[][EM_MAX_DIMS],
                         int axis)
{
    em_tensor *xs[8];
    double *vals[8] = {0};
    for (int i = 0; i < n; i++) {
        xs[i] = iota_from(EM_FLOAT64, nd, shapes[i], 100.0 * i);
        vals[i] = values_of(xs[i]);
    }
    em_tensor *y = em_concat(n, xs, axis);
    ck_assert_ptr_nonnull(y);
    int ax = axis < 0 ? axis + nd : axis;
    int64_t out_shape[EM_MAX_DIMS];
    memcpy(out_shape, shapes[0], sizeof out_shape);
    out_shape[ax] = 0;
    for (int i = 0; i < n; i++)
        out_shape[ax] += shapes[i][ax];
    test_assert_shape(__FILE__, __LINE__, y, nd, out_shape);

    int64_t total = count(nd, out_shape);
    double *expected = malloc(sizeof(double) * (size_t)(total ? total : 1));
    for (int64_t k = 0; k < total; k++) {
        int64_t idx[EM_MAX_DIMS];
        unravel(k, nd, out_shape, idx);
        int i = 0;
        while (idx[ax] >= shapes[i][ax]) {
            idx[ax] -= shapes[i][ax];
            i++;
        }
        expected[k] = vals[i][ravel(nd, shapes[i], idx)];
    }
    assert_values(y, expected, total, 0, 0);
    free(expected);
    for (int i = 0; i < n; i++) {
        free(vals[i]);
        em_tensor_free(xs[i]);
    }
    em_tensor_free(y);
}

START_TEST(concat_matches_a_naive_copy)
{
    const int64_t two[][EM_MAX_DIMS] = {{2, 3}, {1, 3}};
    check_concat(2, 2, two, 0);
    const int64_t cols[][EM_MAX_DIMS] = {{2, 1}, {2, 3}, {2, 2}};
    check_concat(3, 2, cols, 1);
    check_concat(3, 2, cols, -1);
    const int64_t mid[][EM_MAX_DIMS] = {{2, 1, 4}, {2, 3, 4}};
    check_concat(2, 3, mid, 1);
    const int64_t one[][EM_MAX_DIMS] = {{4}};
    check_concat(1, 1, one, 0);
}
END_TEST

START_TEST(concat_zero_size_inputs)
{
    const int64_t shapes[][EM_MAX_DIMS] = {{2, 0}, {2, 3}, {2, 0}};
    check_concat(3, 2, shapes, 1);
    const int64_t empty[][EM_MAX_DIMS] = {{0, 3}, {0, 3}};
    check_concat(2, 2, empty, 1);
}
END_TEST

START_TEST(concat_promotes_mixed_dtypes)
{
    em_tensor *a = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 2});
    em_tensor *b = test_f32(1, (int64_t[]){1}, (float[]){2.5f});
    em_tensor *y = em_concat(2, (em_tensor *[]){a, b}, 0);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    assert_values(y, ((double[]){1, 2, 2.5}), 3, 0, 0);
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(y);
}
END_TEST

START_TEST(concat_errors_name_the_input)
{
    em_tensor *a = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 3});
    em_tensor *b = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 4});
    ck_assert_ptr_null(em_concat(2, (em_tensor *[]){a, b}, 0));
    assert_error("concat", "input 1 has shape [2,4], input 0 has [3,3]",
                 "axis 0", "float32[2,4]");
    ck_assert_ptr_null(em_concat(2, (em_tensor *[]){a, b}, 2));
    assert_error("concat", "axis 2 out of range");
    em_tensor *s = em_scalar(1, EM_FLOAT32);
    ck_assert_ptr_null(em_concat(2, (em_tensor *[]){s, s}, 0));
    assert_error("concat", "0-d");
    ck_assert_ptr_null(em_concat(0, NULL, 0));
    assert_error("concat", "at least one tensor");
    /* The shape rule also guards dtypes for callers below the wrapper. */
    em_tensor *i = em_zeros(EM_INT64, 2, (int64_t[]){3, 3});
    ck_assert_ptr_null(
        em__dispatch(EM_OP_CONCAT, (em_tensor *[]){a, i}, 2, NULL));
    assert_error("concat", "input 1 is int64 but input 0 is float32");
    em_tensor_free(a);
    em_tensor_free(b);
    em_tensor_free(s);
    em_tensor_free(i);
}
END_TEST

START_TEST(stack_joins_along_a_new_axis)
{
    em_tensor *a = test_f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
    em_tensor *b = test_f32(2, (int64_t[]){2, 2}, (float[]){5, 6, 7, 8});
    em_tensor *xs[] = {a, b};
    em_tensor *s0 = em_stack(2, xs, 0);
    assert_shape(s0, 3, 2, 2, 2);
    assert_values(s0, ((double[]){1, 2, 3, 4, 5, 6, 7, 8}), 8, 0, 0);
    em_tensor *s1 = em_stack(2, xs, 1);
    assert_shape(s1, 3, 2, 2, 2);
    assert_values(s1, ((double[]){1, 2, 5, 6, 3, 4, 7, 8}), 8, 0, 0);
    em_tensor *s2 = em_stack(2, xs, -1);
    assert_shape(s2, 3, 2, 2, 2);
    assert_values(s2, ((double[]){1, 5, 2, 6, 3, 7, 4, 8}), 8, 0, 0);
    em_tensor *tensors[] = {a, b, s0, s1, s2};
    for (int i = 0; i < 5; i++)
        em_tensor_free(tensors[i]);
}
END_TEST

START_TEST(stack_errors)
{
    em_tensor *a = em_zeros(EM_FLOAT32, 1, (int64_t[]){2});
    em_tensor *b = em_zeros(EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_ptr_null(em_stack(2, (em_tensor *[]){a, b}, 0));
    assert_error("stack", "input 1 has shape [3], input 0 has [2]");
    ck_assert_ptr_null(em_stack(2, (em_tensor *[]){a, a}, 2));
    assert_error("stack", "axis 2 outside [-2, 1]");
    em_tensor_free(a);
    em_tensor_free(b);
}
END_TEST

START_TEST(stack_beyond_the_dimension_limit_names_stack)
{
    int64_t ones[EM_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    em_tensor *a = em_zeros(EM_FLOAT32, EM_MAX_DIMS, ones);
    em_error_clear();
    ck_assert_ptr_null(em_stack(2, (em_tensor *[]){a, a}, 0));
    const char *e = em_error_peek();
    ck_assert_ptr_nonnull(e);
    ck_assert_ptr_null(strstr(e, "expand_dims"));
    assert_error("stack: ", "9 dimensions", "limit 8");
    em_tensor_free(a);
}
END_TEST

/* ---- NULL and leaks ---------------------------------------------------- */

START_TEST(null_input_alone_names_the_shape_op)
{
    em_error_clear();
    ck_assert_ptr_null(em_reshape(NULL, 1, (int64_t[]){2}));
    assert_error("reshape: input 0 is NULL");
    ck_assert_ptr_null(em_permute(NULL, (int[]){0}));
    assert_error("permute: input 0 is NULL");
    ck_assert_ptr_null(em_transpose(NULL));
    assert_error("transpose: input 0 is NULL");
    ck_assert_ptr_null(em_expand_dims(NULL, 0));
    assert_error("expand_dims: input 0 is NULL");
    ck_assert_ptr_null(em_squeeze(NULL, 0, NULL));
    assert_error("squeeze: input 0 is NULL");
    ck_assert_ptr_null(em_broadcast_to(NULL, 1, (int64_t[]){2}));
    assert_error("broadcast_to: input 0 is NULL");
    ck_assert_ptr_null(em_concat(1, (em_tensor *[]){NULL}, 0));
    assert_error("concat: input 0 is NULL");
    ck_assert_ptr_null(em_stack(1, (em_tensor *[]){NULL}, 0));
    assert_error("stack: input 0 is NULL");
}
END_TEST

START_TEST(null_inputs_keep_the_first_error)
{
    em__error("first failure");
    em_tensor *a = em_zeros(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_ptr_null(em_reshape(NULL, 1, (int64_t[]){2}));
    ck_assert_ptr_null(em_permute(NULL, (int[]){0}));
    ck_assert_ptr_null(em_transpose(NULL));
    ck_assert_ptr_null(em_expand_dims(NULL, 0));
    ck_assert_ptr_null(em_squeeze(NULL, 0, NULL));
    ck_assert_ptr_null(em_broadcast_to(NULL, 1, (int64_t[]){2}));
    ck_assert_ptr_null(em_concat(2, (em_tensor *[]){a, NULL}, 0));
    ck_assert_ptr_null(em_stack(2, (em_tensor *[]){NULL, a}, 0));
    assert_error("first failure");
    ck_assert_ptr_null(em_concat(2, (em_tensor *[]){a, NULL}, 0));
    assert_error("concat", "input 1 is NULL");
    em_tensor_free(a);
}
END_TEST

START_TEST(scoped_shape_ops_release_everything)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *x = iota(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *y = em_stack(2, (em_tensor *[]){x, x}, 1);
    em_tensor *z = em_squeeze(em_expand_dims(em_transpose(y), 0), 0, NULL);
    em_tensor *c = em_concat(2, (em_tensor *[]){z, em_cast(z, EM_INT32)}, 0);
    ck_assert_ptr_nonnull(c);
    em_scope_end();
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_shape");
    TCase *tc = test_case(s, "reshape");
    tcase_add_test(tc, reshape_keeps_row_major_order);
    tcase_add_test(tc, reshape_infers_one_minus_one);
    tcase_add_test(tc, reshape_shares_storage_with_its_source);
    tcase_add_test(tc, reshape_to_and_from_a_scalar);
    tcase_add_test(tc, reshape_zero_size_dimensions);
    tcase_add_test(tc, reshape_errors_name_the_shapes);
    tc = test_case(s, "permute");
    tcase_add_test(tc, permute_matches_a_naive_loop);
    tcase_add_test(tc, permute_every_dtype);
    tcase_add_test(tc, permute_large_transpositions);
    tcase_add_test(tc, permute_accepts_negative_axes);
    tcase_add_test(tc, permute_zero_size_and_scalar);
    tcase_add_test(tc, permute_rejects_a_non_permutation);
    tcase_add_test(tc, transpose_swaps_the_last_two_dimensions);
    tc = test_case(s, "expand_squeeze");
    tcase_add_test(tc, expand_dims_inserts_a_unit_axis);
    tcase_add_test(tc, squeeze_removes_unit_axes);
    tcase_add_test(tc, squeeze_errors_for_bad_axes);
    tc = test_case(s, "broadcast_to");
    tcase_add_test(tc, broadcast_to_follows_numpy);
    tcase_add_test(tc, broadcast_to_zero_size);
    tcase_add_test(tc, broadcast_to_refuses_incompatible_shapes);
    tc = test_case(s, "concat_stack");
    tcase_add_test(tc, concat_matches_a_naive_copy);
    tcase_add_test(tc, concat_zero_size_inputs);
    tcase_add_test(tc, concat_promotes_mixed_dtypes);
    tcase_add_test(tc, concat_errors_name_the_input);
    tcase_add_test(tc, stack_joins_along_a_new_axis);
    tcase_add_test(tc, stack_errors);
    tcase_add_test(tc, stack_beyond_the_dimension_limit_names_stack);
    tc = test_case(s, "lifetime");
    tcase_add_test(tc, null_inputs_keep_the_first_error);
    tcase_add_test(tc, null_input_alone_names_the_shape_op);
    tcase_add_test(tc, scoped_shape_ops_release_everything);
    return test_run(s);
}
