/* Element copies: cast between every pair of dtypes, copy, stop_gradient. */
#include <string.h>

#include "shape_helpers.h"

/* {0, 1, 2, 100} (bool: {0, 1, 1, 1}) in the given dtype. */
static em_tensor *small_values(em_dtype dtype)
{
    const double v[4] = {0, 1, 2, 100};
    unsigned char buf[4 * 8];
    for (int i = 0; i < 4; i++)
        em__store_f64(buf, dtype, i, v[i]);
    return em_tensor_from_data(buf, dtype, 1, (int64_t[]){4});
}

START_TEST(cast_between_every_pair_of_dtypes)
{
    for (int from = 0; from < EM_DTYPE_COUNT; from++) {
        em_tensor *x = small_values((em_dtype)from);
        for (int to = 0; to < EM_DTYPE_COUNT; to++) {
            em_tensor *y = em_cast(x, (em_dtype)to);
            ck_assert_ptr_nonnull(y);
            ck_assert_int_eq(em_tensor_dtype(y), to);
            assert_shape(y, 1, 4);
            double expected[4] = {0, 1, 2, 100};
            for (int i = 1; i < 4; i++)
                if (from == EM_BOOL || to == EM_BOOL)
                    expected[i] = 1;
            assert_values(y, expected, 4, 0, 0);
            em_tensor_free(y);
        }
        em_tensor_free(x);
    }
}
END_TEST

START_TEST(cast_float_to_integer_truncates_toward_zero)
{
    em_tensor *f = test_f32(1, (int64_t[]){5},
                            (float[]){1.7f, -1.7f, 2.5f, -0.5f, 100.9f});
    const double want[5] = {1, -1, 2, 0, 100};
    em_tensor *a = em_cast(f, EM_INT32);
    em_tensor *b = em_cast(f, EM_INT64);
    assert_values(a, want, 5, 0, 0);
    assert_values(b, want, 5, 0, 0);
    em_tensor *d = test_f64(1, (int64_t[]){2}, (double[]){200.99, 3.2});
    em_tensor *c = em_cast(d, EM_UINT8);
    assert_values(c, ((double[]){200, 3}), 2, 0, 0);
    em_tensor *tensors[] = {f, a, b, d, c};
    for (int i = 0; i < 5; i++)
        em_tensor_free(tensors[i]);
}
END_TEST

START_TEST(cast_anything_to_bool_is_not_zero)
{
    em_tensor *f = test_f64(1, (int64_t[]){6},
                            (double[]){0, -0.0, 0.5, -2, NAN, INFINITY});
    em_tensor *fb = em_cast(f, EM_BOOL);
    assert_values(fb, ((double[]){0, 0, 1, 1, 1, 1}), 6, 0, 0);
    em_tensor *i =
        em_tensor_from_data((int32_t[]){0, -3, 7}, EM_INT32, 1, (int64_t[]){3});
    em_tensor *ib = em_cast(i, EM_BOOL);
    assert_values(ib, ((double[]){0, 1, 1}), 3, 0, 0);
    em_tensor *u =
        em_tensor_from_data((uint8_t[]){0, 255}, EM_UINT8, 1, (int64_t[]){2});
    em_tensor *ub = em_cast(u, EM_BOOL);
    assert_values(ub, ((double[]){0, 1}), 2, 0, 0);
    em_tensor *l = test_i64(1, (int64_t[]){2}, (int64_t[]){INT64_MIN, 0});
    em_tensor *lb = em_cast(l, EM_BOOL);
    assert_values(lb, ((double[]){1, 0}), 2, 0, 0);
    em_tensor *tensors[] = {f, fb, i, ib, u, ub, l, lb};
    for (int k = 0; k < 8; k++)
        em_tensor_free(tensors[k]);
}
END_TEST

START_TEST(cast_nan_and_infinity_to_integers_give_zero)
{
    em_tensor *f =
        test_f32(1, (int64_t[]){3}, (float[]){NAN, INFINITY, -INFINITY});
    em_tensor *d = test_f64(1, (int64_t[]){2}, (double[]){NAN, 1e300});
    const em_dtype ints[] = {EM_UINT8, EM_INT32, EM_INT64};
    for (int k = 0; k < 3; k++) {
        em_tensor *a = em_cast(f, ints[k]);
        em_tensor *b = em_cast(d, ints[k]);
        assert_values(a, ((double[]){0, 0, 0}), 3, 0, 0);
        assert_values(b, ((double[]){0, 0}), 2, 0, 0);
        em_tensor_free(a);
        em_tensor_free(b);
    }
    em_tensor_free(f);
    em_tensor_free(d);
}
END_TEST

START_TEST(cast_integers_to_floats_keep_their_values)
{
    const double big = 1099511627776.0; /* 2^40, exact in float32 too */
    em_tensor *x =
        test_i64(1, (int64_t[]){3}, (int64_t[]){-5, 7, (int64_t)big});
    em_tensor *a = em_cast(x, EM_FLOAT64);
    em_tensor *b = em_cast(x, EM_FLOAT32);
    assert_values(a, ((double[]){-5, 7, big}), 3, 0, 0);
    assert_values(b, ((double[]){-5, 7, big}), 3, 0, 0);
    em_tensor_free(x);
    em_tensor_free(a);
    em_tensor_free(b);
}
END_TEST

START_TEST(cast_to_the_same_dtype_gives_an_independent_tensor)
{
    em_tensor *x = test_f32(2, (int64_t[]){1, 2}, (float[]){3, 4});
    em_tensor *y = em_cast(x, EM_FLOAT32);
    ck_assert_ptr_ne(x, y);
    ((float *)em_tensor_data(x))[0] = 9;
    assert_shape(y, 2, 1, 2);
    assert_values(y, ((double[]){3, 4}), 2, 0, 0);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(cast_zero_size_and_errors)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 4});
    em_tensor *y = em_cast(x, EM_INT64);
    assert_shape(y, 2, 0, 4);
    ck_assert_ptr_null(em_cast(x, (em_dtype)42));
    assert_error("cast", "invalid dtype 42", "float32[0,4]");
    ck_assert_ptr_null(em_cast(NULL, EM_INT32));
    assert_error("cast", "NULL");
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(copy_has_its_own_storage)
{
    em_tensor *x = iota(EM_INT32, 2, (int64_t[]){2, 3});
    em_tensor *y = em_copy(x);
    ((int32_t *)em_tensor_data(x))[0] = 77;
    assert_shape(y, 2, 2, 3);
    assert_values(y, ((double[]){0, 1, 2, 3, 4, 5}), 6, 0, 0);
    ck_assert_int_eq(em_tensor_dtype(y), EM_INT32);
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(stop_gradient_copies_the_values)
{
    em_tensor *x = iota(EM_FLOAT64, 1, (int64_t[]){3});
    em_tensor *y = em_stop_gradient(x);
    ((double *)em_tensor_data(x))[1] = -1;
    assert_values(y, ((double[]){0, 1, 2}), 3, 0, 0);
    ck_assert_ptr_null(em_stop_gradient(NULL));
    assert_error("stop_gradient", "NULL");
    em_tensor_free(x);
    em_tensor_free(y);
}
END_TEST

START_TEST(null_input_alone_names_the_convert_op)
{
    em_error_clear();
    ck_assert_ptr_null(em_cast(NULL, EM_INT32));
    assert_error("cast: input 0 is NULL");
    ck_assert_ptr_null(em_copy(NULL));
    assert_error("copy: input 0 is NULL");
    ck_assert_ptr_null(em_stop_gradient(NULL));
    assert_error("stop_gradient: input 0 is NULL");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_convert");
    TCase *tc = test_case(s, "cast");
    tcase_add_test(tc, cast_between_every_pair_of_dtypes);
    tcase_add_test(tc, cast_float_to_integer_truncates_toward_zero);
    tcase_add_test(tc, cast_anything_to_bool_is_not_zero);
    tcase_add_test(tc, cast_nan_and_infinity_to_integers_give_zero);
    tcase_add_test(tc, cast_integers_to_floats_keep_their_values);
    tcase_add_test(tc, cast_to_the_same_dtype_gives_an_independent_tensor);
    tcase_add_test(tc, cast_zero_size_and_errors);
    tc = test_case(s, "copy");
    tcase_add_test(tc, copy_has_its_own_storage);
    tcase_add_test(tc, stop_gradient_copies_the_values);
    tcase_add_test(tc, null_input_alone_names_the_convert_op);
    return test_run(s);
}
