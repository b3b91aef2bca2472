/* Reductions: sum, max, min, argmax, argmin, mean, variance, logsumexp,
 * checked against naive loops in double written here. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

/* ---- helpers --------------------------------------------------------------*/

/* A tensor of `dtype` holding the (converted) values. */
static em_tensor *make(em_dtype dtype, int ndim, const int64_t *shape,
                       const double *values)
{
    em_tensor *t64 = test_f64(ndim, shape, values);
    if (dtype == EM_FLOAT64)
        return t64;
    em_tensor *t = em_cast(t64, dtype);
    em_tensor_free(t64);
    return t;
}

static int64_t count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

typedef enum { NAIVE_SUM, NAIVE_MAX, NAIVE_MIN } naive_kind;

/* Reduces x over the axes set in `mask` (bit i = axis i) by visiting every
 * element and adding it into its output slot. Returns the output count. */
static int64_t naive_reduce(const double *x, int ndim, const int64_t *shape,
                            unsigned mask, naive_kind kind, double *out)
{
    ck_assert(ndim >= 0 && ndim <= EM_MAX_DIMS);
    int64_t nout = 1;
    for (int d = 0; d < ndim; d++)
        if (!(mask & (1u << d)))
            nout *= shape[d];
    double init = kind == NAIVE_SUM   ? 0
                  : kind == NAIVE_MAX ? -INFINITY
                                      : INFINITY;
    for (int64_t o = 0; o < nout; o++)
        out[o] = init;
    int64_t n = count(ndim, shape);
    for (int64_t i = 0; i < n; i++) {
        int64_t rest = i, o = 0, scale = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            int64_t idx = rest % shape[d];
            rest /= shape[d];
            if (!(mask & (1u << d))) {
                o += idx * scale;
                scale *= shape[d];
            }
        }
        if (kind == NAIVE_SUM)
            out[o] += x[i];
        else if (kind == NAIVE_MAX)
            out[o] = x[i] > out[o] ? x[i] : out[o];
        else
            out[o] = x[i] < out[o] ? x[i] : out[o];
    }
    return nout;
}

/* The result shape of reducing `mask` with or without keepdims. */
static int reduced_shape(int ndim, const int64_t *shape, unsigned mask,
                         bool keepdims, int64_t *out)
{
    int k = 0;
    for (int d = 0; d < ndim; d++) {
        if (!(mask & (1u << d)))
            out[k++] = shape[d];
        else if (keepdims)
            out[k++] = 1;
    }
    return k;
}

typedef em_tensor *(*reduce_fn)(em_tensor *, int, const int *, bool);

/* Runs fn over every subset of axes (the empty subset as naxes == 0, i.e.
 * all), with axes listed in descending order and, for odd masks, negative;
 * with and without keepdims; compares with the naive loop. */
static void check_all_axis_sets(reduce_fn fn, naive_kind kind, em_dtype dtype,
                                int ndim, const int64_t *shape, double tol)
{
    int64_t n = count(ndim, shape);
    double *values = test_random_values(ndim * 31 + dtype, n, -5, 5);
    if (!em_dtype_is_float(dtype))
        for (int64_t i = 0; i < n; i++)
            values[i] = floor((values[i] + 5) * 10);
    em_tensor *x = make(dtype, ndim, shape, values);
    double *expected = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (unsigned mask = 0; mask < (1u << ndim); mask++) {
        int axes[8], naxes = 0;
        for (int d = ndim - 1; d >= 0; d--)
            if (mask & (1u << d))
                axes[naxes++] = (mask & 1u) ? d - ndim : d;
        unsigned full = mask ? mask : (1u << ndim) - 1;
        int64_t nout = naive_reduce(values, ndim, shape, full, kind, expected);
        for (int keep = 0; keep < 2; keep++) {
            em_tensor *y = fn(x, naxes, axes, keep);
            int64_t want[8];
            int wnd = reduced_shape(ndim, shape, full, keep, want);
            test_assert_shape(__FILE__, __LINE__, y, wnd, want);
            test_assert_values(__FILE__, __LINE__, y, expected, nout, tol, tol);
            em_tensor_free(y);
        }
    }
    free(expected);
    free(values);
    em_tensor_free(x);
}

/* ---- sum ------------------------------------------------------------------*/

START_TEST(sum_over_every_axis_set_matches_naive_loop)
{
    int64_t shape[] = {2, 3, 4, 5};
    check_all_axis_sets(em_sum, NAIVE_SUM, EM_FLOAT64, 4, shape, 1e-12);
    check_all_axis_sets(em_sum, NAIVE_SUM, EM_FLOAT32, 4, shape, 1e-5);
    check_all_axis_sets(em_sum, NAIVE_SUM, EM_INT32, 3, shape, 0);
    check_all_axis_sets(em_sum, NAIVE_SUM, EM_INT64, 4, shape, 0);
}
END_TEST

START_TEST(sum_with_size_one_axes_matches_naive_loop)
{
    int64_t shape[] = {3, 1, 4, 1, 2};
    check_all_axis_sets(em_sum, NAIVE_SUM, EM_FLOAT64, 5, shape, 1e-12);
}
END_TEST

START_TEST(sum_of_first_axis_of_a_matrix_matches_naive_loop)
{
    /* The bias gradient of a dense layer: [128, 256] summed over axis 0. */
    int64_t shape[] = {128, 256};
    double *values = test_random_values(3, 128 * 256, -1, 1);
    em_tensor *x = make(EM_FLOAT32, 2, shape, values);
    double expected[256] = {0};
    for (int i = 0; i < 128; i++)
        for (int j = 0; j < 256; j++)
            expected[j] += (float)values[i * 256 + j];
    em_tensor *y = em_sum(x, 1, (int[]){0}, false);
    assert_shape(y, 1, 256);
    assert_values(y, expected, 256, 1e-5, 1e-6);
    ck_assert_int_eq(em_tensor_dtype(y), EM_FLOAT32);
    free(values);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(float32_sum_accumulates_in_double)
{
    /* A float accumulator drifts by about 1% over a million 0.1s. */
    int64_t n = 1000000;
    float *values = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        values[i] = 0.1f;
    em_tensor *x = test_f32(1, (int64_t[]){n}, values);
    em_tensor *y = em_sum(x, 0, NULL, false);
    double expected = (double)n * (double)0.1f;
    assert_values(y, &expected, 1, 0, 1e-7);
    free(values);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(naxes_zero_reduces_every_axis)
{
    em_tensor *x = test_f64(2, (int64_t[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    em_tensor *y = em_sum(x, 0, NULL, false);
    ck_assert_int_eq(em_tensor_ndim(y), 0);
    assert_values(y, ((double[]){21}), 1, 0, 0);
    em_tensor *k = em_sum(x, 0, NULL, true);
    assert_shape(k, 2, 1, 1);
    assert_values(k, ((double[]){21}), 1, 0, 0);
    em_tensor_free(k);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(sum_of_a_scalar_is_the_scalar)
{
    em_tensor *x = em_scalar(4.5, EM_FLOAT32);
    em_tensor *y = em_sum(x, 0, NULL, true);
    ck_assert_int_eq(em_tensor_ndim(y), 0);
    assert_values(y, ((double[]){4.5}), 1, 0, 0);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(integer_and_bool_sums_give_int64)
{
    uint8_t bytes[] = {200, 100, 255};
    em_tensor *u = em_tensor_from_data(bytes, EM_UINT8, 1, (int64_t[]){3});
    em_tensor *su = em_sum(u, 0, NULL, false);
    ck_assert_int_eq(em_tensor_dtype(su), EM_INT64);
    assert_values(su, ((double[]){555}), 1, 0, 0);

    int32_t big[] = {2000000000, 2000000000};
    em_tensor *i = em_tensor_from_data(big, EM_INT32, 1, (int64_t[]){2});
    em_tensor *si = em_sum(i, 0, NULL, false);
    ck_assert_int_eq(em_tensor_dtype(si), EM_INT64);
    assert_values(si, ((double[]){4000000000.0}), 1, 0, 0);

    bool flags[] = {true, false, true, true};
    em_tensor *b = em_tensor_from_data(flags, EM_BOOL, 1, (int64_t[]){4});
    em_tensor *sb = em_sum(b, 0, NULL, false);
    ck_assert_int_eq(em_tensor_dtype(sb), EM_INT64);
    assert_values(sb, ((double[]){3}), 1, 0, 0);

    em_tensor *all[] = {u, su, i, si, b, sb};
    for (int k = 0; k < 6; k++)
        em_tensor_free(all[k]);
}
END_TEST

START_TEST(int64_sum_is_exact_beyond_double_precision)
{
    int64_t v[] = {(1ll << 53) + 1, 2};
    em_tensor *x = em_tensor_from_data(v, EM_INT64, 1, (int64_t[]){2});
    em_tensor *y = em_sum(x, 0, NULL, false);
    int64_t got = 0;
    em_tensor_copy_to(y, &got, EM_INT64, sizeof got);
    ck_assert_int_eq(got, (1ll << 53) + 3);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

/* Reads an int64 tensor's n elements into out. */
static void read_i64(const em_tensor *t, int64_t *out, int64_t n)
{
    ck_assert_int_eq(em_tensor_dtype(t), EM_INT64);
    ck_assert_int_eq(em_tensor_size(t), n);
    ck_assert_int_eq(em_tensor_copy_to(t, out, EM_INT64, sizeof *out * n), 0);
}

START_TEST(int64_sum_wraps_like_add)
{
    int64_t v[] = {INT64_MAX, 1};
    em_tensor *x = em_tensor_from_data(v, EM_INT64, 1, (int64_t[]){2});
    em_tensor *a = em_tensor_from_data(v, EM_INT64, 0, NULL);
    em_tensor *b = em_tensor_from_data(v + 1, EM_INT64, 0, NULL);
    em_tensor *sum = em_sum(x, 0, NULL, false);
    em_tensor *added = em_add(a, b);
    int64_t got, want;
    read_i64(sum, &got, 1);
    read_i64(added, &want, 1);
    ck_assert_int_eq(got, INT64_MIN);
    ck_assert_int_eq(got, want);
    em_tensor_free(added);
    em_tensor_free(sum);
    em_tensor_free(b);
    em_tensor_free(a);
    em_tensor_free(x);
}
END_TEST

START_TEST(int64_sums_wrap_on_every_reduction_path)
{
    /* Values near both ends of int64, so that most partial sums wrap. */
    int64_t shape[] = {3, 2, 5};
    int64_t v[30];
    for (int i = 0; i < 30; i++)
        v[i] = i % 2 ? INT64_MAX - i : INT64_MIN + 3 * i;
    em_tensor *x = em_tensor_from_data(v, EM_INT64, 3, shape);

    /* {0, 2}: two passes; {0}: rows into an accumulator row; {2}: along
     * contiguous rows. Expected sums wrap modulo 2^64 in uint64_t. */
    const unsigned masks[] = {5, 1, 4, 7};
    for (int m = 0; m < 4; m++) {
        int axes[3], naxes = 0;
        for (int d = 0; d < 3; d++)
            if (masks[m] >> d & 1)
                axes[naxes++] = d;
        uint64_t want[30] = {0};
        int64_t nout = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 5; k++) {
                    int64_t o = 0;
                    if (!(masks[m] & 1))
                        o = o * 3 + i;
                    if (!(masks[m] & 2))
                        o = o * 2 + j;
                    if (!(masks[m] & 4))
                        o = o * 5 + k;
                    want[o] += (uint64_t)v[(i * 2 + j) * 5 + k];
                    nout = o + 1 > nout ? o + 1 : nout;
                }
        em_tensor *y = em_sum(x, naxes, axes, false);
        int64_t got[30];
        read_i64(y, got, nout);
        for (int64_t o = 0; o < nout; o++)
            ck_assert_int_eq(got[o], (int64_t)want[o]);
        em_tensor_free(y);
    }
    em_tensor_free(x);
}
END_TEST

START_TEST(sum_of_an_empty_axis_is_zero)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 3});
    em_tensor *y = em_sum(x, 1, (int[]){0}, false);
    assert_shape(y, 1, 3);
    assert_values(y, ((double[]){0, 0, 0}), 3, 0, 0);
    em_tensor *z = em_sum(x, 1, (int[]){1}, true);
    assert_shape(z, 2, 0, 1);
    em_tensor_free(z);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

/* ---- max and min ----------------------------------------------------------*/

START_TEST(max_over_every_axis_set_matches_naive_loop)
{
    int64_t shape[] = {3, 2, 4, 3};
    check_all_axis_sets(em_max, NAIVE_MAX, EM_FLOAT64, 4, shape, 0);
    check_all_axis_sets(em_max, NAIVE_MAX, EM_FLOAT32, 4, shape, 1e-6);
    check_all_axis_sets(em_max, NAIVE_MAX, EM_INT32, 3, shape, 0);
}
END_TEST

START_TEST(min_over_every_axis_set_matches_naive_loop)
{
    int64_t shape[] = {3, 2, 4, 3};
    check_all_axis_sets(em_min, NAIVE_MIN, EM_FLOAT64, 4, shape, 0);
    check_all_axis_sets(em_min, NAIVE_MIN, EM_INT64, 3, shape, 0);
    check_all_axis_sets(em_min, NAIVE_MIN, EM_UINT8, 2, shape, 0);
}
END_TEST

START_TEST(max_and_min_keep_the_dtype)
{
    int64_t v[] = {(1ll << 60) + 1, 1ll << 60, -5};
    em_tensor *x = em_tensor_from_data(v, EM_INT64, 1, (int64_t[]){3});
    em_tensor *mx = em_max(x, 0, NULL, false);
    em_tensor *mn = em_min(x, 0, NULL, false);
    ck_assert_int_eq(em_tensor_dtype(mx), EM_INT64);
    int64_t got[2];
    em_tensor_copy_to(mx, &got[0], EM_INT64, sizeof(int64_t));
    em_tensor_copy_to(mn, &got[1], EM_INT64, sizeof(int64_t));
    ck_assert_int_eq(got[0], (1ll << 60) + 1);
    ck_assert_int_eq(got[1], -5);
    em_tensor_free(mn);
    em_tensor_free(mx);
    em_tensor_free(x);
}
END_TEST

START_TEST(max_and_min_propagate_nan)
{
    em_tensor *x =
        test_f32(2, (int64_t[]){2, 3}, (float[]){1, NAN, 3, NAN, 0, -1});
    em_tensor *mx = em_max(x, 1, (int[]){-1}, false);
    em_tensor *mn = em_min(x, 1, (int[]){0}, false);
    assert_values(mx, ((double[]){NAN, NAN}), 2, 0, 0);
    assert_values(mn, ((double[]){NAN, NAN, -1}), 3, 0, 0);
    em_tensor_free(mn);
    em_tensor_free(mx);
    em_tensor_free(x);
}
END_TEST

START_TEST(max_and_min_of_an_empty_axis_are_infinite)
{
    em_tensor *x = em_zeros(EM_FLOAT64, 2, (int64_t[]){2, 0});
    em_tensor *mx = em_max(x, 1, (int[]){1}, false);
    em_tensor *mn = em_min(x, 1, (int[]){1}, false);
    assert_values(mx, ((double[]){-INFINITY, -INFINITY}), 2, 0, 0);
    assert_values(mn, ((double[]){INFINITY, INFINITY}), 2, 0, 0);
    em_tensor_free(mn);
    em_tensor_free(mx);
    em_tensor_free(x);
}
END_TEST

START_TEST(integer_max_of_an_empty_axis_is_an_error)
{
    em_tensor *x = em_zeros(EM_INT32, 2, (int64_t[]){2, 0});
    ck_assert_ptr_null(em_max(x, 1, (int[]){1}, false));
    assert_error("max", "empty axis", "int32[2,0]");
    em_tensor_free(x);
}
END_TEST

/* ---- argmax and argmin ----------------------------------------------------*/

START_TEST(argmax_and_argmin_match_naive_loop_on_each_axis)
{
    int64_t shape[] = {3, 4, 5};
    double *values = test_random_values(11, 60, -3, 3);
    em_tensor *x = make(EM_FLOAT32, 3, shape, values);
    for (int axis = -3; axis < 3; axis++) {
        int a = axis < 0 ? axis + 3 : axis;
        int64_t strides[] = {20, 5, 1};
        double want_max[20], want_min[20];
        int64_t k = 0;
        for (int64_t i = 0; i < 60; i++) {
            int64_t idx[3] = {i / 20, i / 5 % 4, i % 5};
            if (idx[a] != 0)
                continue;
            int64_t bmax = 0, bmin = 0;
            for (int64_t r = 1; r < shape[a]; r++) {
                double v = values[i + r * strides[a]];
                if (v > values[i + bmax * strides[a]])
                    bmax = r;
                if (v < values[i + bmin * strides[a]])
                    bmin = r;
            }
            want_max[k] = (double)bmax;
            want_min[k++] = (double)bmin;
        }
        em_tensor *am = em_argmax(x, axis, false);
        em_tensor *an = em_argmin(x, axis, true);
        ck_assert_int_eq(em_tensor_dtype(am), EM_INT64);
        ck_assert_int_eq(em_tensor_ndim(am), 2);
        ck_assert_int_eq(em_tensor_dim(an, a), 1);
        assert_values(am, want_max, k, 0, 0);
        assert_values(an, want_min, k, 0, 0);
        em_tensor_free(an);
        em_tensor_free(am);
    }
    free(values);
    em_tensor_free(x);
}
END_TEST

START_TEST(argmax_returns_the_first_of_ties)
{
    em_tensor *x =
        test_i64(2, (int64_t[]){2, 3}, (int64_t[]){7, 9, 9, 4, 4, 1});
    em_tensor *am = em_argmax(x, 1, false);
    em_tensor *an = em_argmin(x, 1, false);
    assert_values(am, ((double[]){1, 0}), 2, 0, 0);
    assert_values(an, ((double[]){0, 2}), 2, 0, 0);
    em_tensor *col = em_argmax(x, 0, false);
    assert_values(col, ((double[]){0, 0, 0}), 3, 0, 0);
    em_tensor_free(col);
    em_tensor_free(an);
    em_tensor_free(am);
    em_tensor_free(x);
}
END_TEST

START_TEST(argmax_picks_the_first_nan)
{
    em_tensor *x = test_f64(1, (int64_t[]){4}, (double[]){1, NAN, 5, NAN});
    em_tensor *am = em_argmax(x, 0, false);
    em_tensor *an = em_argmin(x, 0, false);
    assert_values(am, ((double[]){1}), 1, 0, 0);
    assert_values(an, ((double[]){1}), 1, 0, 0);
    em_tensor_free(an);
    em_tensor_free(am);
    em_tensor_free(x);
}
END_TEST

START_TEST(argmax_of_an_empty_axis_is_an_error)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 0});
    ck_assert_ptr_null(em_argmax(x, 1, false));
    assert_error("argmax", "axis 1 is empty", "float32[3,0]");
    ck_assert_ptr_null(em_argmin(x, 5, false));
    assert_error("argmin", "axis 5 out of range for ndim 2");
    em_tensor_free(x);
}
END_TEST

START_TEST(argmax_over_a_non_empty_axis_of_an_empty_tensor)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 4});
    em_tensor *am = em_argmax(x, 1, false);
    assert_shape(am, 1, 0);
    em_tensor_free(am);
    em_tensor_free(x);
}
END_TEST

/* ---- axis errors and NULL -------------------------------------------------*/

START_TEST(repeated_or_out_of_range_axes_are_errors)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 3, (int64_t[]){2, 3, 4});
    ck_assert_ptr_null(em_sum(x, 2, (int[]){1, -2}, false));
    assert_error("sum", "axis -2 repeated", "ndim 3", "float32[2,3,4]");
    ck_assert_ptr_null(em_max(x, 1, (int[]){3}, false));
    assert_error("max", "axis 3 out of range for ndim 3");
    ck_assert_ptr_null(em_min(x, 1, (int[]){-4}, false));
    assert_error("min", "axis -4 out of range for ndim 3");
    ck_assert_ptr_null(em_mean(x, 1, (int[]){7}, false));
    assert_error("mean", "axis 7 out of range");
    ck_assert_ptr_null(em_sum(x, 2, NULL, false));
    assert_error("sum", "axes is NULL");
    ck_assert_ptr_null(em_sum(x, 9, (int[9]){0}, false));
    assert_error("sum", "naxes 9");
    em_tensor_free(x);
}
END_TEST

START_TEST(null_input_gives_null_and_keeps_the_first_error)
{
    em_tensor *bad = em_zeros(EM_FLOAT32, 1, (int64_t[]){-1});
    ck_assert_ptr_null(bad);
    reduce_fn fns[] = {em_sum,  em_max,      em_min,
                       em_mean, em_variance, em_logsumexp};
    for (int i = 0; i < 6; i++)
        ck_assert_ptr_null(fns[i](NULL, 0, NULL, false));
    ck_assert_ptr_null(em_argmax(NULL, 0, false));
    ck_assert_ptr_null(em_argmin(NULL, 0, false));
    assert_error("negative dimension");
}
END_TEST

START_TEST(null_input_alone_names_the_reduction)
{
    em_error_clear();
    ck_assert_ptr_null(em_sum(NULL, 0, NULL, false));
    assert_error("sum: input 0 is NULL");
    ck_assert_ptr_null(em_max(NULL, 0, NULL, false));
    assert_error("max: input 0 is NULL");
    ck_assert_ptr_null(em_min(NULL, 0, NULL, false));
    assert_error("min: input 0 is NULL");
    ck_assert_ptr_null(em_mean(NULL, 0, NULL, false));
    assert_error("mean: input 0 is NULL");
    ck_assert_ptr_null(em_variance(NULL, 0, NULL, false));
    assert_error("variance: input 0 is NULL");
    ck_assert_ptr_null(em_logsumexp(NULL, 0, NULL, false));
    assert_error("logsumexp: input 0 is NULL");
    ck_assert_ptr_null(em_argmax(NULL, 0, false));
    assert_error("argmax: input 0 is NULL");
    ck_assert_ptr_null(em_argmin(NULL, 0, false));
    assert_error("argmin: input 0 is NULL");
}
END_TEST

/* ---- mean, variance, logsumexp --------------------------------------------*/

START_TEST(mean_and_variance_match_naive_loops)
{
    int64_t shape[] = {3, 4, 5};
    double *values = test_random_values(5, 60, -2, 4);
    em_tensor *x = make(EM_FLOAT64, 3, shape, values);
    /* axes {0, 2}: 15 elements fold into each of 4 outputs */
    double mean[4] = {0}, var[4] = {0};
    for (int64_t i = 0; i < 60; i++)
        mean[i / 5 % 4] += values[i] / 15;
    for (int64_t i = 0; i < 60; i++) {
        double d = values[i] - mean[i / 5 % 4];
        var[i / 5 % 4] += d * d / 15;
    }
    em_tensor *m = em_mean(x, 2, (int[]){2, 0}, false);
    em_tensor *v = em_variance(x, 2, (int[]){0, -1}, true);
    assert_shape(m, 1, 4);
    assert_shape(v, 3, 1, 4, 1);
    assert_values(m, mean, 4, 1e-12, 1e-12);
    assert_values(v, var, 4, 1e-12, 1e-12);
    free(values);
    em_tensor_free(v);
    em_tensor_free(m);
    em_tensor_free(x);
}
END_TEST

START_TEST(mean_of_integers_is_float32)
{
    em_tensor *x = test_i64(1, (int64_t[]){4}, (int64_t[]){1, 2, 3, 5});
    em_tensor *m = em_mean(x, 0, NULL, false);
    ck_assert_int_eq(em_tensor_dtype(m), EM_FLOAT32);
    assert_values(m, ((double[]){2.75}), 1, 0, 0);
    em_tensor_free(m);
    em_tensor_free(x);
}
END_TEST

START_TEST(mean_and_variance_of_an_empty_axis_are_nan)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 0});
    em_tensor *m = em_mean(x, 1, (int[]){1}, false);
    em_tensor *v = em_variance(x, 1, (int[]){1}, false);
    assert_values(m, ((double[]){NAN, NAN}), 2, 0, 0);
    assert_values(v, ((double[]){NAN, NAN}), 2, 0, 0);
    em_tensor_free(v);
    em_tensor_free(m);
    em_tensor_free(x);
}
END_TEST

START_TEST(logsumexp_matches_the_formula)
{
    int64_t shape[] = {3, 4};
    double *values = test_random_values(9, 12, -3, 3);
    em_tensor *x = make(EM_FLOAT64, 2, shape, values);
    double want[3];
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 4; j++)
            s += exp(values[i * 4 + j]);
        want[i] = log(s);
    }
    em_tensor *y = em_logsumexp(x, 1, (int[]){1}, false);
    assert_shape(y, 1, 3);
    assert_values(y, want, 3, 1e-12, 1e-12);
    em_tensor *k = em_logsumexp(x, 1, (int[]){-1}, true);
    assert_shape(k, 2, 3, 1);
    assert_values(k, want, 3, 1e-12, 1e-12);
    free(values);
    em_tensor_free(k);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(logsumexp_is_stable_for_large_values)
{
    em_tensor *x =
        test_f32(2, (int64_t[]){2, 2}, (float[]){1000, 1000, -1000, -1001});
    em_tensor *y = em_logsumexp(x, 1, (int[]){1}, false);
    double want[] = {1000 + log(2.0), -1000 + log1p(exp(-1.0))};
    assert_values(y, want, 2, 1e-3, 1e-6);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(logsumexp_of_infinite_rows)
{
    em_tensor *x =
        test_f64(2, (int64_t[]){3, 2},
                 (double[]){-INFINITY, -INFINITY, INFINITY, 1, -INFINITY, 2});
    em_tensor *y = em_logsumexp(x, 1, (int[]){1}, false);
    assert_values(y, ((double[]){-INFINITY, INFINITY, 2}), 3, 0, 1e-15);
    em_tensor *e = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 0});
    em_tensor *ye = em_logsumexp(e, 1, (int[]){1}, false);
    assert_values(ye, ((double[]){-INFINITY, -INFINITY}), 2, 0, 0);
    em_tensor_free(ye);
    em_tensor_free(e);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_reduce");
    TCase *sum = test_case(s, "sum");
    tcase_add_test(sum, sum_over_every_axis_set_matches_naive_loop);
    tcase_add_test(sum, sum_with_size_one_axes_matches_naive_loop);
    tcase_add_test(sum, sum_of_first_axis_of_a_matrix_matches_naive_loop);
    tcase_add_test(sum, float32_sum_accumulates_in_double);
    tcase_add_test(sum, naxes_zero_reduces_every_axis);
    tcase_add_test(sum, sum_of_a_scalar_is_the_scalar);
    tcase_add_test(sum, integer_and_bool_sums_give_int64);
    tcase_add_test(sum, int64_sum_is_exact_beyond_double_precision);
    tcase_add_test(sum, int64_sum_wraps_like_add);
    tcase_add_test(sum, int64_sums_wrap_on_every_reduction_path);
    tcase_add_test(sum, sum_of_an_empty_axis_is_zero);
    TCase *ext = test_case(s, "max_min");
    tcase_add_test(ext, max_over_every_axis_set_matches_naive_loop);
    tcase_add_test(ext, min_over_every_axis_set_matches_naive_loop);
    tcase_add_test(ext, max_and_min_keep_the_dtype);
    tcase_add_test(ext, max_and_min_propagate_nan);
    tcase_add_test(ext, max_and_min_of_an_empty_axis_are_infinite);
    tcase_add_test(ext, integer_max_of_an_empty_axis_is_an_error);
    TCase *arg = test_case(s, "arg");
    tcase_add_test(arg, argmax_and_argmin_match_naive_loop_on_each_axis);
    tcase_add_test(arg, argmax_returns_the_first_of_ties);
    tcase_add_test(arg, argmax_picks_the_first_nan);
    tcase_add_test(arg, argmax_of_an_empty_axis_is_an_error);
    tcase_add_test(arg, argmax_over_a_non_empty_axis_of_an_empty_tensor);
    TCase *err = test_case(s, "errors");
    tcase_add_test(err, repeated_or_out_of_range_axes_are_errors);
    tcase_add_test(err, null_input_gives_null_and_keeps_the_first_error);
    tcase_add_test(err, null_input_alone_names_the_reduction);
    TCase *comp = test_case(s, "compositions");
    tcase_add_test(comp, mean_and_variance_match_naive_loops);
    tcase_add_test(comp, mean_of_integers_is_float32);
    tcase_add_test(comp, mean_and_variance_of_an_empty_axis_are_nan);
    tcase_add_test(comp, logsumexp_matches_the_formula);
    tcase_add_test(comp, logsumexp_is_stable_for_large_values);
    tcase_add_test(comp, logsumexp_of_infinite_rows);
    return test_run(s);
}
