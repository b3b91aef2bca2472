/* Matrix product: every transpose combination, batch broadcasting,
 * zero-size dimensions and errors, against a naive triple loop. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

static int64_t count(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

/* A random operand of `dtype`; its values (as stored, so float32 rounding
 * included) land in *values for the reference loop. */
static em_tensor *operand(uint64_t seed, em_dtype dtype, int ndim,
                          const int64_t *shape, double **values)
{
    int64_t n = count(ndim, shape);
    double *v = test_random_values(seed, n, -1, 1);
    if (dtype == EM_FLOAT32)
        for (int64_t i = 0; i < n; i++)
            v[i] = (float)v[i];
    *values = v;
    em_tensor *t64 = test_f64(ndim, shape, v);
    if (dtype == EM_FLOAT64)
        return t64;
    em_tensor *t = em_cast(t64, dtype);
    em_tensor_free(t64);
    return t;
}

/* Reference product of one batch: element (i, j) of op(A) op(B), with A
 * stored [ra, ca] and B stored [rb, cb] row-major. */
static double reference_entry(const double *a, int64_t ca, bool ta,
                              const double *b, int64_t cb, bool tb, int64_t k,
                              int64_t i, int64_t j)
{
    double s = 0;
    for (int64_t p = 0; p < k; p++) {
        double x = ta ? a[p * ca + i] : a[i * ca + p];
        double y = tb ? b[j * cb + p] : b[p * cb + j];
        s += x * y;
    }
    return s;
}

/* Checks a @ b for the given stored shapes and flags against the loop,
 * broadcasting batch dimensions by hand. */
static void check_product(em_dtype dtype, int nda, const int64_t *sa, int ndb,
                          const int64_t *sb, bool ta, bool tb, double tol)
{
    double *va, *vb;
    em_tensor *a = operand(nda * 7 + ndb, dtype, nda, sa, &va);
    em_tensor *b = operand(nda * 13 + ndb + 1, dtype, ndb, sb, &vb);
    em_tensor *c = em_matmul(a, b, ta, tb);
    ck_assert_msg(c != NULL, "%s", em_error_last());
    ck_assert_int_eq(em_tensor_dtype(c), dtype);

    int64_t ra = sa[nda - 2], ca = sa[nda - 1];
    int64_t rb = sb[ndb - 2], cb = sb[ndb - 1];
    int64_t m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb;
    int nd = em_tensor_ndim(c);
    const int64_t *sc = em_tensor_shape(c);
    ck_assert_int_eq(sc[nd - 2], m);
    ck_assert_int_eq(sc[nd - 1], n);

    int64_t total = em_tensor_size(c);
    double *want = malloc(sizeof(double) * (size_t)(total ? total : 1));
    int64_t nbatch = count(nd - 2, sc);
    for (int64_t bi = 0; bi < nbatch; bi++) {
        /* Batch index digits, mapped onto each operand (size-1 dims and
         * missing leading dims broadcast). */
        int64_t rest = bi, aoff = 0, boff = 0, astride = 1, bstride = 1;
        for (int d = nd - 3; d >= 0; d--) {
            int64_t idx = rest % sc[d];
            rest /= sc[d];
            int da = d - (nd - nda), db = d - (nd - ndb);
            if (da >= 0) {
                aoff += (sa[da] == 1 ? 0 : idx) * astride;
                astride *= sa[da];
            }
            if (db >= 0) {
                boff += (sb[db] == 1 ? 0 : idx) * bstride;
                bstride *= sb[db];
            }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                want[bi * m * n + i * n + j] =
                    reference_entry(va + aoff * ra * ca, ca, ta,
                                    vb + boff * rb * cb, cb, tb, k, i, j);
    }
    assert_values(c, want, total, tol, tol);
    free(want);
    free(va);
    free(vb);
    em_tensor_free(c);
    em_tensor_free(b);
    em_tensor_free(a);
}

START_TEST(every_transpose_combination_matches_the_loop)
{
    em_dtype dtypes[] = {EM_FLOAT32, EM_FLOAT64};
    for (int d = 0; d < 2; d++)
        for (int f = 0; f < 4; f++) {
            bool ta = f & 1, tb = f & 2;
            /* m = 3, k = 5, n = 4, stored as the flags require */
            int64_t sa[2] = {ta ? 5 : 3, ta ? 3 : 5};
            int64_t sb[2] = {tb ? 4 : 5, tb ? 5 : 4};
            check_product(dtypes[d], 2, sa, 2, sb, ta, tb,
                          d == 0 ? 1e-5 : 1e-13);
        }
}
END_TEST

START_TEST(batch_dimensions_broadcast)
{
    /* [2,1,3,4] @ [5,4,2] -> [2,5,3,2] */
    int64_t sa[] = {2, 1, 3, 4}, sb[] = {5, 4, 2};
    check_product(EM_FLOAT64, 4, sa, 3, sb, false, false, 1e-13);
    em_tensor *a = em_zeros(EM_FLOAT32, 4, sa);
    em_tensor *b = em_zeros(EM_FLOAT32, 3, sb);
    em_tensor *c = em_matmul(a, b, false, false);
    assert_shape(c, 4, 2, 5, 3, 2);
    em_tensor_free(c);
    em_tensor_free(b);
    em_tensor_free(a);
}
END_TEST

START_TEST(batch_broadcast_with_transposes)
{
    /* [3,1] with [1,2] batches; m = 4, k = 2, n = 5 */
    for (int f = 0; f < 4; f++) {
        bool ta = f & 1, tb = f & 2;
        int64_t a2[] = {3, 1, ta ? 4 : 2, ta ? 2 : 4};
        int64_t b2[] = {1, 2, tb ? 5 : 4, tb ? 4 : 5};
        check_product(EM_FLOAT32, 4, a2, 4, b2, ta, tb, 1e-5);
    }
}
END_TEST

START_TEST(batched_operand_times_one_matrix)
{
    /* [batch, m, k] @ [k, n], and with b transposed: one folded gemm. */
    int64_t sa[] = {4, 3, 6}, sb[] = {6, 5}, sbt[] = {5, 6};
    check_product(EM_FLOAT32, 3, sa, 2, sb, false, false, 1e-5);
    check_product(EM_FLOAT32, 3, sa, 2, sbt, false, true, 1e-5);
    int64_t sat[] = {4, 6, 3};
    check_product(EM_FLOAT64, 3, sat, 2, sb, true, false, 1e-13);
}
END_TEST

START_TEST(one_matrix_times_a_batched_operand)
{
    int64_t sa[] = {3, 6}, sb[] = {2, 2, 6, 5};
    check_product(EM_FLOAT64, 2, sa, 4, sb, false, false, 1e-13);
}
END_TEST

START_TEST(dense_layer_sized_product_matches_the_loop)
{
    int64_t sa[] = {128, 784}, sb[] = {784, 32};
    check_product(EM_FLOAT32, 2, sa, 2, sb, false, false, 1e-4);
}
END_TEST

START_TEST(mixed_float_dtypes_promote_to_float64)
{
    em_tensor *a = test_f32(2, (int64_t[]){1, 2}, (float[]){1, 2});
    em_tensor *b = test_f64(2, (int64_t[]){2, 1}, (double[]){0.1, 0.2});
    em_tensor *c = em_matmul(a, b, false, false);
    ck_assert_int_eq(em_tensor_dtype(c), EM_FLOAT64);
    assert_values(c, ((double[]){0.5}), 1, 1e-15, 0);
    em_tensor_free(c);
    em_tensor_free(b);
    em_tensor_free(a);
}
END_TEST

START_TEST(empty_inner_dimension_gives_zeros)
{
    em_tensor *a = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 0});
    em_tensor *b = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 2});
    em_tensor *c = em_matmul(a, b, false, false);
    assert_shape(c, 2, 3, 2);
    assert_values(c, ((double[]){0, 0, 0, 0, 0, 0}), 6, 0, 0);
    em_tensor_free(c);
    em_tensor_free(b);
    em_tensor_free(a);
}
END_TEST

START_TEST(empty_outer_and_batch_dimensions_give_empty_results)
{
    em_tensor *a = em_zeros(EM_FLOAT64, 2, (int64_t[]){0, 4});
    em_tensor *b = em_ones(EM_FLOAT64, 2, (int64_t[]){4, 3});
    em_tensor *c = em_matmul(a, b, false, false);
    assert_shape(c, 2, 0, 3);
    em_tensor *ab = em_zeros(EM_FLOAT64, 3, (int64_t[]){0, 2, 4});
    em_tensor *cb = em_matmul(ab, b, false, false);
    assert_shape(cb, 3, 0, 2, 3);
    em_tensor *bt = em_ones(EM_FLOAT64, 2, (int64_t[]){0, 4});
    em_tensor *ct = em_matmul(b, bt, true, true);
    assert_shape(ct, 2, 3, 0);
    em_tensor *all[] = {ct, bt, cb, ab, c, b, a};
    for (int i = 0; i < 7; i++)
        em_tensor_free(all[i]);
}
END_TEST

START_TEST(inner_dimension_mismatch_names_both_shapes)
{
    em_tensor *a = em_zeros(EM_FLOAT32, 2, (int64_t[]){128, 784});
    em_tensor *b = em_zeros(EM_FLOAT32, 2, (int64_t[]){256, 10});
    ck_assert_ptr_null(em_matmul(a, b, false, false));
    assert_error("matmul: inner dimensions differ: [128,784] @ [256,10]",
                 "float32[128,784], float32[256,10]");
    ck_assert_ptr_null(em_matmul(a, b, true, false));
    assert_error("inner dimensions differ: [128,784]^T @ [256,10]");
    em_tensor_free(b);
    em_tensor_free(a);
}
END_TEST

START_TEST(bad_operands_are_errors)
{
    em_tensor *v = em_zeros(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *m = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 3});
    ck_assert_ptr_null(em_matmul(v, m, false, false));
    assert_error("matmul", "at least 2 dimensions", "[3] @ [3,3]");

    em_tensor *i = em_zeros(EM_INT32, 2, (int64_t[]){3, 3});
    ck_assert_ptr_null(em_matmul(i, i, false, false));
    assert_error("matmul", "float32 or two float64", "int32");

    em_tensor *a = em_zeros(EM_FLOAT32, 3, (int64_t[]){2, 3, 3});
    em_tensor *b = em_zeros(EM_FLOAT32, 3, (int64_t[]){4, 3, 3});
    ck_assert_ptr_null(em_matmul(a, b, false, false));
    assert_error("matmul", "batch dimensions [2] and [4] do not broadcast");

    ck_assert_ptr_null(em_matmul(NULL, m, false, false));
    ck_assert_ptr_null(em_matmul(m, NULL, false, false));
    em_tensor *all[] = {b, a, i, m, v};
    for (int k = 0; k < 5; k++)
        em_tensor_free(all[k]);
}
END_TEST

START_TEST(null_input_alone_names_matmul)
{
    em_tensor *a = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 2});
    em_error_clear();
    ck_assert_ptr_null(em_matmul(NULL, a, false, false));
    assert_error("matmul: input 0 is NULL");
    ck_assert_ptr_null(em_matmul(a, NULL, true, false));
    assert_error("matmul: input 1 is NULL");
    em_tensor_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ops_matmul");
    TCase *tc = test_case(s, "values");
    tcase_add_test(tc, every_transpose_combination_matches_the_loop);
    tcase_add_test(tc, batch_dimensions_broadcast);
    tcase_add_test(tc, batch_broadcast_with_transposes);
    tcase_add_test(tc, batched_operand_times_one_matrix);
    tcase_add_test(tc, one_matrix_times_a_batched_operand);
    tcase_add_test(tc, dense_layer_sized_product_matches_the_loop);
    tcase_add_test(tc, mixed_float_dtypes_promote_to_float64);
    TCase *empty = test_case(s, "zero_size");
    tcase_add_test(empty, empty_inner_dimension_gives_zeros);
    tcase_add_test(empty, empty_outer_and_batch_dimensions_give_empty_results);
    TCase *err = test_case(s, "errors");
    tcase_add_test(err, inner_dimension_mismatch_names_both_shapes);
    tcase_add_test(err, bad_operands_are_errors);
    tcase_add_test(err, null_input_alone_names_matmul);
    return test_run(s);
}
