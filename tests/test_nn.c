/* Neural-network pieces: softmax, log_softmax, the losses and accuracy,
 * against formulas evaluated here in double. */
#include <stdlib.h>
#include <string.h>

#include "testing.h"

static em_tensor *as_dtype(em_tensor *t64, em_dtype dtype)
{
    if (dtype == EM_FLOAT64)
        return t64;
    em_tensor *t = em_cast(t64, dtype);
    em_tensor_free(t64);
    return t;
}

/* Softmax (or log-softmax) of x viewed as [outer, r, inner] along r. */
static void reference_softmax(const double *x, int64_t outer, int64_t r,
                              int64_t inner, bool log_form, double *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const double *xo = x + o * r * inner + j;
            double m = -INFINITY, s = 0;
            for (int64_t i = 0; i < r; i++)
                m = fmax(m, xo[i * inner]);
            for (int64_t i = 0; i < r; i++)
                s += exp(xo[i * inner] - m);
            for (int64_t i = 0; i < r; i++) {
                double v = xo[i * inner] - m;
                y[o * r * inner + i * inner + j] =
                    log_form ? v - log(s) : exp(v) / s;
            }
        }
}

/* ---- softmax and log_softmax ----------------------------------------------*/

START_TEST(softmax_along_each_axis_matches_the_formula)
{
    int64_t shape[] = {3, 4, 5};
    double *v = test_random_values(1, 60, -4, 4);
    double want[60];
    em_dtype dtypes[] = {EM_FLOAT32, EM_FLOAT64};
    for (int d = 0; d < 2; d++) {
        em_tensor *x = as_dtype(test_f64(3, shape, v), dtypes[d]);
        for (int axis = -3; axis < 3; axis++) {
            int a = axis < 0 ? axis + 3 : axis;
            int64_t outer = 1, inner = 1;
            for (int i = 0; i < a; i++)
                outer *= shape[i];
            for (int i = a + 1; i < 3; i++)
                inner *= shape[i];
            double tol = d == 0 ? 1e-6 : 1e-14;
            for (int log_form = 0; log_form < 2; log_form++) {
                reference_softmax(v, outer, shape[a], inner, log_form, want);
                em_tensor *y =
                    log_form ? em_log_softmax(x, axis) : em_softmax(x, axis);
                assert_shape(y, 3, 3, 4, 5);
                ck_assert_int_eq(em_tensor_dtype(y), dtypes[d]);
                assert_values(y, want, 60, tol, tol);
                em_tensor_free(y);
            }
        }
        em_tensor_free(x);
    }
    free(v);
}
END_TEST

START_TEST(softmax_is_stable_for_huge_logits)
{
    em_tensor *x = test_f32(2, (int64_t[]){2, 3},
                            (float[]){1e4f, 0, -1e4f, -1e4f, -1e4f, -1e4f});
    em_tensor *p = em_softmax(x, -1);
    em_tensor *lp = em_log_softmax(x, -1);
    double third = 1.0 / 3;
    assert_values(p, ((double[]){1, 0, 0, third, third, third}), 6, 1e-7, 0);
    assert_values(lp,
                  ((double[]){0, -1e4, -2e4, -log(3.0), -log(3.0), -log(3.0)}),
                  6, 1e-5, 1e-6);
    em_tensor_free(lp);
    em_tensor_free(p);
    em_tensor_free(x);
}
END_TEST

START_TEST(softmax_gives_zero_weight_to_minus_infinity)
{
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){0, -INFINITY, 0});
    em_tensor *p = em_softmax(x, 0);
    em_tensor *lp = em_log_softmax(x, 0);
    assert_values(p, ((double[]){0.5, 0, 0.5}), 3, 1e-15, 0);
    assert_values(lp, ((double[]){-log(2.0), -INFINITY, -log(2.0)}), 3, 1e-15,
                  0);
    em_tensor_free(lp);
    em_tensor_free(p);
    em_tensor_free(x);
}
END_TEST

START_TEST(softmax_of_integers_is_float32)
{
    em_tensor *x = test_i64(1, (int64_t[]){2}, (int64_t[]){0, 0});
    em_tensor *p = em_softmax(x, 0);
    ck_assert_int_eq(em_tensor_dtype(p), EM_FLOAT32);
    assert_values(p, ((double[]){0.5, 0.5}), 2, 0, 0);
    em_tensor_free(p);
    em_tensor_free(x);
}
END_TEST

START_TEST(softmax_of_empty_tensors_is_empty)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 4});
    em_tensor *p = em_softmax(x, 1);
    assert_shape(p, 2, 0, 4);
    em_tensor *z = em_zeros(EM_FLOAT32, 2, (int64_t[]){3, 0});
    em_tensor *lp = em_log_softmax(z, 1);
    assert_shape(lp, 2, 3, 0);
    em_tensor_free(lp);
    em_tensor_free(z);
    em_tensor_free(p);
    em_tensor_free(x);
}
END_TEST

START_TEST(softmax_axis_out_of_range_is_an_error)
{
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_softmax(x, 2));
    assert_error("softmax", "axis 2 out of range for ndim 2", "float32[2,3]");
    ck_assert_ptr_null(em_log_softmax(x, -3));
    assert_error("log_softmax", "axis -3");
    ck_assert_ptr_null(em_softmax(NULL, 0));
    em_tensor_free(x);
}
END_TEST

/* ---- losses ---------------------------------------------------------------*/

START_TEST(mse_loss_matches_the_formula)
{
    double p[] = {1, 2, 3, 4, 5, 6}, t[] = {0.5, -1, 2};
    em_tensor *pred = test_f64(2, (int64_t[]){2, 3}, p);
    em_tensor *targ = test_f64(1, (int64_t[]){3}, t);
    em_tensor *loss = em_mse_loss(pred, targ);
    double want = 0;
    for (int i = 0; i < 6; i++)
        want += (p[i] - t[i % 3]) * (p[i] - t[i % 3]) / 6;
    ck_assert_int_eq(em_tensor_ndim(loss), 0);
    assert_values(loss, &want, 1, 1e-14, 1e-14);
    em_tensor_free(loss);
    em_tensor_free(targ);
    em_tensor_free(pred);
}
END_TEST

START_TEST(bce_with_logits_matches_the_cross_entropy_formula)
{
    double z[] = {-3, -0.5, 0, 0.7, 2.5, 4}, y[] = {0, 1, 0.5, 1, 0, 0.25};
    em_tensor *logits =
        test_f32(2, (int64_t[]){2, 3}, (float[]){-3, -0.5f, 0, 0.7f, 2.5f, 4});
    em_tensor *targets =
        test_f32(2, (int64_t[]){2, 3}, (float[]){0, 1, 0.5f, 1, 0, 0.25f});
    em_tensor *loss = em_bce_with_logits(logits, targets);
    double want = 0;
    for (int i = 0; i < 6; i++) {
        double s = 1 / (1 + exp(-(double)(float)z[i]));
        double yi = (float)y[i];
        want -= (yi * log(s) + (1 - yi) * log(1 - s)) / 6;
    }
    assert_values(loss, &want, 1, 1e-6, 1e-6);
    em_tensor_free(loss);
    em_tensor_free(targets);
    em_tensor_free(logits);
}
END_TEST

START_TEST(bce_with_logits_is_finite_for_huge_logits)
{
    em_tensor *logits =
        test_f32(1, (int64_t[]){4}, (float[]){1e4f, -1e4f, 1e4f, -1e4f});
    em_tensor *targets = test_f32(1, (int64_t[]){4}, (float[]){1, 0, 0, 1});
    em_tensor *loss = em_bce_with_logits(logits, targets);
    /* Right answers cost 0; wrong ones cost |z| = 1e4 each. */
    assert_values(loss, ((double[]){5000}), 1, 1e-3, 1e-6);
    em_tensor_free(loss);
    em_tensor_free(targets);
    em_tensor_free(logits);
}
END_TEST

/* -mean over rows of log_softmax(row)[label]. */
static double reference_cross_entropy(const double *logits, int64_t batch,
                                      int64_t classes, const int64_t *labels)
{
    double total = 0;
    for (int64_t b = 0; b < batch; b++) {
        const double *row = logits + b * classes;
        double m = -INFINITY, s = 0;
        for (int64_t c = 0; c < classes; c++)
            m = fmax(m, row[c]);
        for (int64_t c = 0; c < classes; c++)
            s += exp(row[c] - m);
        total -= row[labels[b]] - m - log(s);
    }
    return total / (double)batch;
}

START_TEST(softmax_cross_entropy_matches_the_formula)
{
    int64_t batch = 128, classes = 10;
    double *v = test_random_values(7, batch * classes, -5, 5);
    int64_t labels[128];
    for (int i = 0; i < 128; i++)
        labels[i] = (i * 7 + 3) % classes;
    double want = reference_cross_entropy(v, batch, classes, labels);

    em_tensor *logits64 = test_f64(2, (int64_t[]){batch, classes}, v);
    em_tensor *logits32 = em_cast(logits64, EM_FLOAT32);
    em_tensor *lab64 = test_i64(1, (int64_t[]){batch}, labels);
    em_dtype label_dtypes[] = {EM_INT64, EM_INT32, EM_UINT8};
    for (int d = 0; d < 3; d++) {
        em_tensor *lab = em_cast(lab64, label_dtypes[d]);
        em_tensor *l64 = em_softmax_cross_entropy(logits64, lab);
        em_tensor *l32 = em_softmax_cross_entropy(logits32, lab);
        ck_assert_int_eq(em_tensor_ndim(l64), 0);
        ck_assert_int_eq(em_tensor_dtype(l32), EM_FLOAT32);
        assert_values(l64, &want, 1, 1e-12, 1e-12);
        assert_values(l32, &want, 1, 1e-5, 1e-5);
        em_tensor_free(l32);
        em_tensor_free(l64);
        em_tensor_free(lab);
    }
    free(v);
    em_tensor_free(lab64);
    em_tensor_free(logits32);
    em_tensor_free(logits64);
}
END_TEST

START_TEST(softmax_cross_entropy_is_finite_for_huge_logits)
{
    em_tensor *logits = test_f32(2, (int64_t[]){2, 3},
                                 (float[]){1e4f, -1e4f, 0, -1e4f, 1e4f, 1e4f});
    em_tensor *labels = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 2});
    em_tensor *loss = em_softmax_cross_entropy(logits, labels);
    /* row 0 misses by 2e4; row 1 splits its mass between two classes. */
    double want = (2e4 + log(2.0)) / 2;
    assert_values(loss, &want, 1, 1e-2, 1e-6);
    em_tensor_free(loss);
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

START_TEST(softmax_cross_entropy_checks_its_labels)
{
    em_tensor *logits = em_zeros(EM_FLOAT32, 2, (int64_t[]){4, 10});
    em_tensor *flabels = em_zeros(EM_FLOAT32, 1, (int64_t[]){4});
    ck_assert_ptr_null(em_softmax_cross_entropy(logits, flabels));
    assert_error("softmax_cross_entropy",
                 "labels must be int32, int64 or "
                 "uint8",
                 "float32[4]");

    em_tensor *short_labels = em_zeros(EM_INT64, 1, (int64_t[]){3});
    ck_assert_ptr_null(em_softmax_cross_entropy(logits, short_labels));
    assert_error("softmax_cross_entropy", "labels [3]", "[4,10]");

    em_tensor *big = test_i64(1, (int64_t[]){4}, (int64_t[]){0, 9, 10, 1});
    ck_assert_ptr_null(em_softmax_cross_entropy(logits, big));
    assert_error("softmax_cross_entropy", "10");

    em_tensor *neg = test_i64(1, (int64_t[]){4}, (int64_t[]){0, -1, 2, 1});
    ck_assert_ptr_null(em_softmax_cross_entropy(logits, neg));
    assert_error("softmax_cross_entropy", "-1");

    em_tensor *ilogits = em_zeros(EM_INT32, 2, (int64_t[]){4, 10});
    ck_assert_ptr_null(em_softmax_cross_entropy(ilogits, short_labels));
    assert_error("softmax_cross_entropy", "logits must be float32 or float64");

    ck_assert_ptr_null(em_softmax_cross_entropy(NULL, big));
    em_tensor *all[] = {ilogits, neg, big, short_labels, flabels, logits};
    for (int i = 0; i < 6; i++)
        em_tensor_free(all[i]);
}
END_TEST

START_TEST(softmax_cross_entropy_probs_matches_the_formula)
{
    double z[] = {1, 2, 3, -1, 0, 4};
    double p[] = {0.2, 0.3, 0.5, 1, 0, 0};
    em_tensor *logits = test_f64(2, (int64_t[]){2, 3}, z);
    em_tensor *probs = test_f64(2, (int64_t[]){2, 3}, p);
    em_tensor *loss = em_softmax_cross_entropy_probs(logits, probs);
    double logp[6];
    reference_softmax(z, 2, 3, 1, true, logp);
    double want = 0;
    for (int i = 0; i < 6; i++)
        want -= p[i] * logp[i] / 2;
    assert_values(loss, &want, 1, 1e-14, 1e-14);

    em_tensor *wrong = em_zeros(EM_FLOAT64, 2, (int64_t[]){2, 4});
    ck_assert_ptr_null(em_softmax_cross_entropy_probs(logits, wrong));
    assert_error("softmax_cross_entropy_probs", "shape", "float64[2,4]");
    em_tensor_free(wrong);
    em_tensor_free(loss);
    em_tensor_free(probs);
    em_tensor_free(logits);
}
END_TEST

/* ---- accuracy -------------------------------------------------------------*/

START_TEST(accuracy_counts_rows_whose_argmax_is_the_label)
{
    em_tensor *logits = test_f32(2, (int64_t[]){4, 3},
                                 (float[]){0.1f, 0.7f, 0.2f, /* 1 */
                                           3, 1, 2,          /* 0 */
                                           5, 5, 1,          /* tie -> 0 */
                                           0, 0, 9});        /* 2 */
    int32_t lab[] = {1, 2, 1, 2};
    em_tensor *labels = em_tensor_from_data(lab, EM_INT32, 1, (int64_t[]){4});
    em_tensor *acc = em_accuracy(logits, labels);
    ck_assert_int_eq(em_tensor_dtype(acc), EM_FLOAT32);
    ck_assert_int_eq(em_tensor_ndim(acc), 0);
    assert_values(acc, ((double[]){0.5}), 1, 0, 0);
    em_tensor_free(acc);
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

START_TEST(accuracy_records_no_gradient)
{
    em_tensor *logits = test_f32(2, (int64_t[]){2, 2}, (float[]){1, 2, 4, 3});
    em_tensor *labels = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 0});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, logits);
    em_tensor *acc = em_accuracy(logits, labels);
    assert_values(acc, ((double[]){1}), 1, 0, 0);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, acc, 1, &logits, &g), 0);
    ck_assert_ptr_null(g);
    em_tape_free(tape);
    em_tensor_free(acc);
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

START_TEST(accuracy_checks_its_inputs)
{
    em_tensor *logits = em_zeros(EM_FLOAT32, 2, (int64_t[]){4, 3});
    em_tensor *labels = em_zeros(EM_INT64, 1, (int64_t[]){5});
    ck_assert_ptr_null(em_accuracy(logits, labels));
    assert_error("accuracy", "labels [5]", "[4,3]");
    ck_assert_ptr_null(em_accuracy(NULL, labels));
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

START_TEST(accuracy_refuses_a_label_outside_the_classes)
{
    em_tensor *logits = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *labels = test_i64(1, (int64_t[]){2}, (int64_t[]){0, 99});
    ck_assert_ptr_null(em_accuracy(logits, labels));
    assert_error("accuracy", "label 99", "[0, 3)");
    em_tensor *negative = test_i64(1, (int64_t[]){2}, (int64_t[]){-1, 0});
    ck_assert_ptr_null(em_accuracy(logits, negative));
    assert_error("accuracy", "label -1");
    em_tensor_free(negative);
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

/* Fails unless the pending error starts with "<op>: " and names no other
 * op (the composition's inner ops); clears it. */
static void assert_error_names_only(const char *op, const char *inner)
{
    const char *e = em_error_last();
    ck_assert_ptr_nonnull(e);
    ck_assert_msg(strncmp(e, op, strlen(op)) == 0 && e[strlen(op)] == ':',
                  "'%s' does not start with '%s:'", e, op);
    ck_assert_msg(strstr(e, inner) == NULL, "'%s' names '%s'", e, inner);
}

START_TEST(loss_shape_errors_name_the_loss_and_its_operands)
{
    em_tensor *a = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *b = em_ones(EM_FLOAT32, 2, (int64_t[]){3, 2});
    em_error_clear();
    ck_assert_ptr_null(em_mse_loss(a, b));
    ck_assert_ptr_nonnull(strstr(em_error_peek(), "prediction [2,3]"));
    ck_assert_ptr_nonnull(strstr(em_error_peek(), "target [3,2]"));
    assert_error_names_only("mse_loss", "sub:");
    ck_assert_ptr_null(em_bce_with_logits(a, b));
    ck_assert_ptr_nonnull(strstr(em_error_peek(), "logits [2,3]"));
    ck_assert_ptr_nonnull(strstr(em_error_peek(), "targets [3,2]"));
    assert_error_names_only("bce_with_logits", "mul:");
    em_tensor_free(b);
    em_tensor_free(a);
}
END_TEST

START_TEST(null_input_alone_names_the_nn_op)
{
    em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *labels = em_zeros(EM_INT64, 1, (int64_t[]){2});
    em_error_clear();
    ck_assert_ptr_null(em_softmax(NULL, 0));
    assert_error("softmax: input 0 is NULL");
    ck_assert_ptr_null(em_log_softmax(NULL, 0));
    assert_error("log_softmax: input 0 is NULL");
    ck_assert_ptr_null(em_mse_loss(NULL, x));
    assert_error("mse_loss: input 0 is NULL");
    ck_assert_ptr_null(em_bce_with_logits(x, NULL));
    assert_error("bce_with_logits: input 1 is NULL");
    ck_assert_ptr_null(em_softmax_cross_entropy(NULL, labels));
    assert_error("softmax_cross_entropy: input 0 is NULL");
    ck_assert_ptr_null(em_softmax_cross_entropy_probs(x, NULL));
    assert_error("softmax_cross_entropy_probs: input 1 is NULL");
    ck_assert_ptr_null(em_accuracy(x, NULL));
    assert_error("accuracy: input 1 is NULL");
    em_tensor_free(labels);
    em_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nn");
    TCase *sm = test_case(s, "softmax");
    tcase_add_test(sm, softmax_along_each_axis_matches_the_formula);
    tcase_add_test(sm, softmax_is_stable_for_huge_logits);
    tcase_add_test(sm, softmax_gives_zero_weight_to_minus_infinity);
    tcase_add_test(sm, softmax_of_integers_is_float32);
    tcase_add_test(sm, softmax_of_empty_tensors_is_empty);
    tcase_add_test(sm, softmax_axis_out_of_range_is_an_error);
    TCase *loss = test_case(s, "losses");
    tcase_add_test(loss, mse_loss_matches_the_formula);
    tcase_add_test(loss, bce_with_logits_matches_the_cross_entropy_formula);
    tcase_add_test(loss, bce_with_logits_is_finite_for_huge_logits);
    tcase_add_test(loss, softmax_cross_entropy_matches_the_formula);
    tcase_add_test(loss, softmax_cross_entropy_is_finite_for_huge_logits);
    tcase_add_test(loss, softmax_cross_entropy_checks_its_labels);
    tcase_add_test(loss, softmax_cross_entropy_probs_matches_the_formula);
    tcase_add_test(loss, loss_shape_errors_name_the_loss_and_its_operands);
    tcase_add_test(loss, null_input_alone_names_the_nn_op);
    TCase *acc = test_case(s, "accuracy");
    tcase_add_test(acc, accuracy_counts_rows_whose_argmax_is_the_label);
    tcase_add_test(acc, accuracy_records_no_gradient);
    tcase_add_test(acc, accuracy_checks_its_inputs);
    tcase_add_test(acc, accuracy_refuses_a_label_outside_the_classes);
    return test_run(s);
}
