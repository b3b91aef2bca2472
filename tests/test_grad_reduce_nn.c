/* Gradients of the reductions, matmul, softmax and the losses: tape
 * gradients against central differences (em_gradient_check), a few exact
 * hand-derived values, stability and second derivatives. */
#include <stdlib.h>

#include "testing.h"

#define TOL 1e-6
#define EPS 1e-6

static em_tensor *random_tensor(uint64_t seed, int ndim, const int64_t *shape,
                                double low, double high)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    double *v = test_random_values(seed, n, low, high);
    em_tensor *t = test_f64(ndim, shape, v);
    free(v);
    return t;
}

/* sum(y * w) with fixed, uneven weights w shaped like y, so that every
 * element of y gets its own gradient. */
static em_tensor *weighted_sum(em_tensor *y)
{
    if (!y)
        return NULL;
    int64_t n = em_tensor_size(y);
    double *w = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        w[i] = sin(0.7 * (double)i + 0.3) + 0.1;
    em_tensor *wt = test_f64(em_tensor_ndim(y), em_tensor_shape(y), w);
    free(w);
    em_tensor *prod = em_mul(y, wt);
    em_tensor *out = em_sum(prod, 0, NULL, false);
    em_tensor_free(prod);
    em_tensor_free(wt);
    return out;
}

/* ---- reductions -----------------------------------------------------------*/

typedef em_tensor *(*reduce_fn)(em_tensor *, int, const int *, bool);

typedef struct reduce_case {
    reduce_fn fn;
    int naxes;
    int axes[4];
    bool keepdims;
} reduce_case;

static em_tensor *reduce_then_weight(int n, em_tensor *const *in, void *user)
{
    const reduce_case *c = user;
    (void)n;
    em_tensor *y = c->fn(in[0], c->naxes, c->axes, c->keepdims);
    em_tensor *out = weighted_sum(y);
    em_tensor_free(y);
    return out;
}

/* Checks fn's gradient on a [2,3,4] input over several axis sets. */
static void check_reduction(reduce_fn fn, double low, double high)
{
    static const reduce_case cases[] = {
        {NULL, 0, {0}, false},      {NULL, 1, {0}, false},
        {NULL, 1, {-1}, true},      {NULL, 1, {1}, false},
        {NULL, 2, {0, 2}, false},   {NULL, 2, {-1, 1}, true},
        {NULL, 3, {2, 0, 1}, true},
    };
    em_tensor *x = random_tensor(17, 3, (int64_t[]){2, 3, 4}, low, high);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reduce_case c = cases[i];
        c.fn = fn;
        double err = em_gradient_check(reduce_then_weight, &c, 1, &x, EPS);
        ck_assert_msg(err >= 0 && err < TOL, "case %zu: error %g (%s)", i, err,
                      err < 0 ? em_error_last() : "");
    }
    em_tensor_free(x);
}

START_TEST(sum_gradient_matches_finite_differences)
{
    check_reduction(em_sum, -2, 2);
}
END_TEST

START_TEST(max_gradient_matches_finite_differences)
{
    check_reduction(em_max, -2, 2);
}
END_TEST

START_TEST(min_gradient_matches_finite_differences)
{
    check_reduction(em_min, -2, 2);
}
END_TEST

START_TEST(mean_gradient_matches_finite_differences)
{
    check_reduction(em_mean, -2, 2);
}
END_TEST

START_TEST(variance_gradient_matches_finite_differences)
{
    check_reduction(em_variance, -2, 2);
}
END_TEST

START_TEST(logsumexp_gradient_matches_finite_differences)
{
    check_reduction(em_logsumexp, -2, 2);
    /* Large values take the same path through the shift. */
    check_reduction(em_logsumexp, 500, 502);
}
END_TEST

START_TEST(max_gradient_is_shared_evenly_among_ties)
{
    em_tensor *x = test_f64(2, (int64_t[]){2, 3}, (double[]){1, 3, 3, 5, 5, 5});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *m = em_max(x, 1, (int[]){1}, false);
    em_tensor *y = em_sum(m, 0, NULL, false);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_values(g, ((double[]){0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3}), 6,
                  1e-15, 0);
    em_tape_free(tape);
    em_tensor *all[] = {g, y, m, x};
    for (int i = 0; i < 4; i++)
        em_tensor_free(all[i]);
}
END_TEST

START_TEST(min_gradient_of_a_whole_tensor_shares_ties)
{
    em_tensor *x = test_f32(1, (int64_t[]){4}, (float[]){2, -1, 0, -1});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = em_min(x, 0, NULL, false);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    ck_assert_int_eq(em_tensor_dtype(g), EM_FLOAT32);
    assert_values(g, ((double[]){0, 0.5, 0, 0.5}), 4, 0, 0);
    em_tape_free(tape);
    em_tensor_free(g);
    em_tensor_free(y);
    em_tensor_free(x);
}
END_TEST

START_TEST(sum_gradient_of_float32_keeps_float32)
{
    em_tensor *x = em_ones(EM_FLOAT32, 2, (int64_t[]){128, 256});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *s = em_sum(x, 1, (int[]){0}, false);
    em_tensor *y = em_sum(s, 0, NULL, false);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_shape(g, 2, 128, 256);
    ck_assert_int_eq(em_tensor_dtype(g), EM_FLOAT32);
    ck_assert_double_eq(test_at(g, 12345), 1.0);
    em_tape_free(tape);
    em_tensor_free(g);
    em_tensor_free(y);
    em_tensor_free(s);
    em_tensor_free(x);
}
END_TEST

/* ---- matmul ---------------------------------------------------------------*/

typedef struct matmul_case {
    bool ta, tb;
} matmul_case;

static em_tensor *matmul_then_weight(int n, em_tensor *const *in, void *user)
{
    const matmul_case *c = user;
    (void)n;
    em_tensor *y = em_matmul(in[0], in[1], c->ta, c->tb);
    em_tensor *out = weighted_sum(y);
    em_tensor_free(y);
    return out;
}

/* Gradient check of a @ b for stored shapes sa, sb under every flag pair
 * the shapes allow (m = 3, k = 4, n = 2 stored as the flags require). */
static void check_matmul(int nda, const int64_t *batch_a, int ndb,
                         const int64_t *batch_b)
{
    for (int f = 0; f < 4; f++) {
        matmul_case c = {f & 1, f & 2};
        int64_t sa[8], sb[8];
        for (int d = 0; d < nda - 2; d++)
            sa[d] = batch_a[d];
        for (int d = 0; d < ndb - 2; d++)
            sb[d] = batch_b[d];
        sa[nda - 2] = c.ta ? 4 : 3;
        sa[nda - 1] = c.ta ? 3 : 4;
        sb[ndb - 2] = c.tb ? 2 : 4;
        sb[ndb - 1] = c.tb ? 4 : 2;
        em_tensor *in[2] = {random_tensor(f + 1, nda, sa, -1, 1),
                            random_tensor(f + 9, ndb, sb, -1, 1)};
        double err = em_gradient_check(matmul_then_weight, &c, 2, in, EPS);
        ck_assert_msg(err >= 0 && err < TOL, "ta %d tb %d: error %g (%s)", c.ta,
                      c.tb, err, err < 0 ? em_error_last() : "");
        em_tensor_free(in[1]);
        em_tensor_free(in[0]);
    }
}

START_TEST(matmul_gradient_for_each_transpose_combination)
{
    check_matmul(2, NULL, 2, NULL);
}
END_TEST

START_TEST(matmul_gradient_undoes_batch_broadcasting)
{
    /* [2,1,m,k] @ [5,k,n] -> [2,5,m,n] */
    check_matmul(4, (int64_t[]){2, 1}, 3, (int64_t[]){5});
    check_matmul(3, (int64_t[]){1}, 4, (int64_t[]){3, 2});
}
END_TEST

START_TEST(matmul_gradient_of_a_shared_weight)
{
    /* [batch, m, k] @ [k, n], the dense layer over a sequence. */
    check_matmul(3, (int64_t[]){4}, 2, NULL);
    check_matmul(2, NULL, 3, (int64_t[]){4});
}
END_TEST

/* ---- softmax --------------------------------------------------------------*/

typedef struct softmax_case {
    bool log_form;
    int axis;
} softmax_case;

static em_tensor *softmax_then_weight(int n, em_tensor *const *in, void *user)
{
    const softmax_case *c = user;
    (void)n;
    em_tensor *y = c->log_form ? em_log_softmax(in[0], c->axis)
                               : em_softmax(in[0], c->axis);
    em_tensor *out = weighted_sum(y);
    em_tensor_free(y);
    return out;
}

static void check_softmax(bool log_form)
{
    em_tensor *x = random_tensor(23, 3, (int64_t[]){2, 3, 4}, -3, 3);
    for (int axis = -3; axis < 3; axis++) {
        softmax_case c = {log_form, axis};
        double err = em_gradient_check(softmax_then_weight, &c, 1, &x, EPS);
        ck_assert_msg(err >= 0 && err < TOL, "axis %d: error %g (%s)", axis,
                      err, err < 0 ? em_error_last() : "");
    }
    em_tensor_free(x);
}

START_TEST(softmax_gradient_matches_finite_differences)
{
    check_softmax(false);
}
END_TEST

START_TEST(log_softmax_gradient_matches_finite_differences)
{
    check_softmax(true);
}
END_TEST

/* ---- losses ---------------------------------------------------------------*/

typedef enum { LOSS_MSE, LOSS_BCE, LOSS_CE, LOSS_CE_PROBS } loss_kind;

static em_tensor *loss_of(int n, em_tensor *const *in, void *user)
{
    (void)n;
    switch (*(const loss_kind *)user) {
    case LOSS_MSE:
        return em_mse_loss(in[0], in[1]);
    case LOSS_BCE:
        return em_bce_with_logits(in[0], in[1]);
    case LOSS_CE:
        return em_softmax_cross_entropy(in[0], in[1]);
    default:
        return em_softmax_cross_entropy_probs(in[0], in[1]);
    }
}

static void check_loss(loss_kind kind, em_tensor *a, em_tensor *b)
{
    em_tensor *in[2] = {a, b};
    double err = em_gradient_check(loss_of, &kind, 2, in, EPS);
    ck_assert_msg(err >= 0 && err < TOL, "loss %d: error %g (%s)", kind, err,
                  err < 0 ? em_error_last() : "");
    em_tensor_free(b);
    em_tensor_free(a);
}

START_TEST(mse_loss_gradient_matches_finite_differences)
{
    check_loss(LOSS_MSE, random_tensor(1, 2, (int64_t[]){4, 3}, -2, 2),
               random_tensor(2, 2, (int64_t[]){4, 3}, -2, 2));
    /* A target broadcast across the batch. */
    check_loss(LOSS_MSE, random_tensor(3, 2, (int64_t[]){4, 3}, -2, 2),
               random_tensor(4, 1, (int64_t[]){3}, -2, 2));
}
END_TEST

START_TEST(bce_with_logits_gradient_matches_finite_differences)
{
    check_loss(LOSS_BCE, random_tensor(5, 2, (int64_t[]){4, 3}, -4, 4),
               random_tensor(6, 2, (int64_t[]){4, 3}, 0, 1));
    check_loss(LOSS_BCE, random_tensor(7, 2, (int64_t[]){4, 3}, -4, 4),
               random_tensor(8, 2, (int64_t[]){4, 1}, 0, 1));
}
END_TEST

START_TEST(bce_with_logits_gradient_is_sigmoid_minus_target)
{
    /* At z = 0 the gradient is exactly (1/2 - y) / N. */
    em_tensor *z = test_f32(1, (int64_t[]){4}, (float[]){0, 0, 3, -2});
    em_tensor *y = test_f32(1, (int64_t[]){4}, (float[]){1, 0, 0.25f, 1});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, z);
    em_tensor *loss = em_bce_with_logits(z, y);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, loss, 1, &z, &g), 0);
    double s3 = 1 / (1 + exp(-3.0)), s2 = 1 / (1 + exp(2.0));
    double want[] = {-0.125, 0.125, (s3 - 0.25) / 4, (s2 - 1) / 4};
    assert_values(g, want, 4, 1e-7, 1e-6);
    ck_assert_double_eq(test_at(g, 0), -0.125);
    em_tape_free(tape);
    em_tensor_free(g);
    em_tensor_free(loss);
    em_tensor_free(y);
    em_tensor_free(z);
}
END_TEST

START_TEST(softmax_cross_entropy_gradient_matches_finite_differences)
{
    em_tensor *labels = test_i64(1, (int64_t[]){5}, (int64_t[]){0, 3, 1, 3, 2});
    check_loss(LOSS_CE, random_tensor(9, 2, (int64_t[]){5, 4}, -3, 3), labels);
}
END_TEST

START_TEST(softmax_cross_entropy_probs_gradient_matches_finite_differences)
{
    check_loss(LOSS_CE_PROBS, random_tensor(10, 2, (int64_t[]){3, 4}, -3, 3),
               random_tensor(11, 2, (int64_t[]){3, 4}, 0, 0.5));
}
END_TEST

START_TEST(softmax_cross_entropy_gradient_is_finite_for_huge_logits)
{
    em_tensor *logits = test_f32(2, (int64_t[]){2, 3},
                                 (float[]){1e4f, -1e4f, 0, -1e4f, 1e4f, 1e4f});
    em_tensor *labels = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 2});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, logits);
    em_tensor *loss = em_softmax_cross_entropy(logits, labels);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, loss, 1, &logits, &g), 0);
    /* (softmax - one_hot) / batch */
    double want[] = {0.5, -0.5, 0, 0, 0.25, -0.25};
    assert_values(g, want, 6, 1e-7, 0);
    em_tape_free(tape);
    em_tensor_free(g);
    em_tensor_free(loss);
    em_tensor_free(labels);
    em_tensor_free(logits);
}
END_TEST

START_TEST(bce_with_logits_gradient_is_finite_for_huge_logits)
{
    em_tensor *z = test_f32(1, (int64_t[]){2}, (float[]){1e4f, -1e4f});
    em_tensor *y = test_f32(1, (int64_t[]){2}, (float[]){0, 0});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, z);
    em_tensor *loss = em_bce_with_logits(z, y);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, loss, 1, &z, &g), 0);
    assert_values(g, ((double[]){0.5, 0}), 2, 1e-7, 0);
    em_tape_free(tape);
    em_tensor_free(g);
    em_tensor_free(loss);
    em_tensor_free(y);
    em_tensor_free(z);
}
END_TEST

/* ---- second derivatives ---------------------------------------------------
 * h(x) = sum(v * df/dx) differentiated again: the inner rules run as ops
 * that the checker's tape records. */

typedef em_tensor *(*unary_fn)(em_tensor *);

static em_tensor *first_derivative_weighted(int n, em_tensor *const *in,
                                            void *user)
{
    unary_fn f = *(unary_fn *)user;
    (void)n;
    em_tensor *x = in[0];
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = f(x);
    em_tensor *g = NULL;
    int rc = y ? em_tape_gradient(tape, y, 1, &x, &g) : -1;
    em_tape_free(tape);
    em_tensor *out = rc == 0 ? weighted_sum(g) : NULL;
    em_tensor_free(g);
    em_tensor_free(y);
    return out;
}

static em_tensor *f_logsumexp(em_tensor *x)
{
    return em_logsumexp(x, 0, NULL, false);
}

static em_tensor *f_softmax(em_tensor *x)
{
    em_tensor *p = em_softmax(x, -1);
    em_tensor *out = weighted_sum(p);
    em_tensor_free(p);
    return out;
}

static em_tensor *f_log_softmax(em_tensor *x)
{
    em_tensor *p = em_log_softmax(x, 0);
    em_tensor *out = weighted_sum(p);
    em_tensor_free(p);
    return out;
}

static em_tensor *f_variance(em_tensor *x)
{
    return em_variance(x, 0, NULL, false);
}

static em_tensor *f_matmul_square(em_tensor *x)
{
    /* sum(w * x x^T): second derivative needs matmul's rule twice. */
    em_tensor *p = em_matmul(x, x, false, true);
    em_tensor *out = weighted_sum(p);
    em_tensor_free(p);
    return out;
}

static em_tensor *f_max(em_tensor *x)
{
    em_tensor *m = em_max(x, 1, (int[]){1}, false);
    em_tensor *sq = em_square(m);
    em_tensor *out = em_sum(sq, 0, NULL, false);
    em_tensor_free(sq);
    em_tensor_free(m);
    return out;
}

START_TEST(second_derivatives_match_finite_differences)
{
    unary_fn fns[] = {f_logsumexp, f_softmax,       f_log_softmax,
                      f_variance,  f_matmul_square, f_max};
    em_tensor *x = random_tensor(31, 2, (int64_t[]){3, 4}, -2, 2);
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        double err =
            em_gradient_check(first_derivative_weighted, &fns[i], 1, &x, EPS);
        ck_assert_msg(err >= 0 && err < 1e-5, "function %zu: error %g (%s)", i,
                      err, err < 0 ? em_error_last() : "");
    }
    em_tensor_free(x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_reduce_nn");
    TCase *red = test_case(s, "reductions");
    tcase_add_test(red, sum_gradient_matches_finite_differences);
    tcase_add_test(red, max_gradient_matches_finite_differences);
    tcase_add_test(red, min_gradient_matches_finite_differences);
    tcase_add_test(red, mean_gradient_matches_finite_differences);
    tcase_add_test(red, variance_gradient_matches_finite_differences);
    tcase_add_test(red, logsumexp_gradient_matches_finite_differences);
    tcase_add_test(red, max_gradient_is_shared_evenly_among_ties);
    tcase_add_test(red, min_gradient_of_a_whole_tensor_shares_ties);
    tcase_add_test(red, sum_gradient_of_float32_keeps_float32);
    TCase *mm = test_case(s, "matmul");
    tcase_add_test(mm, matmul_gradient_for_each_transpose_combination);
    tcase_add_test(mm, matmul_gradient_undoes_batch_broadcasting);
    tcase_add_test(mm, matmul_gradient_of_a_shared_weight);
    TCase *sm = test_case(s, "softmax");
    tcase_add_test(sm, softmax_gradient_matches_finite_differences);
    tcase_add_test(sm, log_softmax_gradient_matches_finite_differences);
    TCase *loss = test_case(s, "losses");
    tcase_add_test(loss, mse_loss_gradient_matches_finite_differences);
    tcase_add_test(loss, bce_with_logits_gradient_matches_finite_differences);
    tcase_add_test(loss, bce_with_logits_gradient_is_sigmoid_minus_target);
    tcase_add_test(loss,
                   softmax_cross_entropy_gradient_matches_finite_differences);
    tcase_add_test(
        loss, softmax_cross_entropy_probs_gradient_matches_finite_differences);
    tcase_add_test(loss,
                   softmax_cross_entropy_gradient_is_finite_for_huge_logits);
    tcase_add_test(loss, bce_with_logits_gradient_is_finite_for_huge_logits);
    TCase *second = test_case(s, "second_order");
    tcase_add_test(second, second_derivatives_match_finite_differences);
    return test_run(s);
}
