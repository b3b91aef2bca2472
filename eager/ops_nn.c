/*
 * eager/ops_nn.c - softmax and log_softmax kernels, and the public
 * neural-network pieces of ember/nn.h built from public ops (losses,
 * accuracy), so that their gradients follow from the primitives'.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "ops_common.h"

/* x float [..., n, ...] along attrs->axis -> same type. */
EM__INFER(softmax)
{
    const em__type *x = in[0];
    if (!em_dtype_is_float(x->dtype)) {
        snprintf(msg, size, "takes float32 or float64, not %s",
                 em_dtype_name(x->dtype));
        return false;
    }
    int axis = attrs->axis;
    if (!em__normalize_axis(&axis, x->ndim)) {
        snprintf(msg, size, "axis %d out of range for ndim %d", attrs->axis,
                 x->ndim);
        return false;
    }
    attrs->axis = axis;
    *out = *x;
    return true;
}

/* The shift that keeps exp from overflowing: the row's maximum, or 0 when
 * that is -inf (an all -inf row), so that -inf - -inf makes no NaN. */
#define SHIFT(m) ((m) == -INFINITY ? 0 : (m))

/* [outer, r, inner] -> same, softmax (or log_softmax when log_form) along
 * r; r > 0. The last-axis case (inner == 1) walks contiguous rows; otherwise
 * rows of `inner` elements stream through two scratch rows (max, sum).
 * log_softmax subtracts the max before log(sum), so that x - max is exact
 * even where max is large. */
#define DEFINE_SOFTMAX(NAME, T, EXP)                                           \
    static void NAME(const T *x, T *y, int64_t outer, int64_t r,               \
                     int64_t inner, bool log_form, double *scratch)            \
    {                                                                          \
        for (int64_t o = 0; o < outer; o++) {                                  \
            const T *xo = x + o * r * inner;                                   \
            T *yo = y + o * r * inner;                                         \
            if (inner == 1) {                                                  \
                T m = xo[0];                                                   \
                for (int64_t i = 1; i < r; i++)                                \
                    if (xo[i] > m || xo[i] != xo[i])                           \
                        m = xo[i];                                             \
                m = SHIFT(m);                                                  \
                double s = 0;                                                  \
                for (int64_t i = 0; i < r; i++) {                              \
                    T e = EXP(xo[i] - m);                                      \
                    s += e;                                                    \
                    if (!log_form)                                             \
                        yo[i] = e;                                             \
                }                                                              \
                if (log_form) {                                                \
                    T logs = (T)log(s);                                        \
                    for (int64_t i = 0; i < r; i++)                            \
                        yo[i] = (xo[i] - m) - logs;                            \
                } else {                                                       \
                    T scale = (T)(1.0 / s);                                    \
                    for (int64_t i = 0; i < r; i++)                            \
                        yo[i] *= scale;                                        \
                }                                                              \
                continue;                                                      \
            }                                                                  \
            double *mx = scratch, *sum = scratch + inner;                      \
            for (int64_t j = 0; j < inner; j++) {                              \
                mx[j] = xo[j];                                                 \
                sum[j] = 0;                                                    \
            }                                                                  \
            for (int64_t i = 1; i < r; i++)                                    \
                for (int64_t j = 0; j < inner; j++) {                          \
                    double v = xo[i * inner + j];                              \
                    if (v > mx[j] || v != v)                                   \
                        mx[j] = v;                                             \
                }                                                              \
            for (int64_t j = 0; j < inner; j++)                                \
                mx[j] = SHIFT(mx[j]);                                          \
            for (int64_t i = 0; i < r; i++)                                    \
                for (int64_t j = 0; j < inner; j++) {                          \
                    T e = EXP(xo[i * inner + j] - (T)mx[j]);                   \
                    sum[j] += e;                                               \
                    yo[i * inner + j] = e;                                     \
                }                                                              \
            for (int64_t j = 0; j < inner; j++)                                \
                sum[j] = log_form ? log(sum[j]) : 1.0 / sum[j];                \
            for (int64_t i = 0; i < r; i++)                                    \
                for (int64_t j = 0; j < inner; j++) {                          \
                    int64_t at = i * inner + j;                                \
                    if (log_form)                                              \
                        yo[at] = (xo[at] - (T)mx[j]) - (T)sum[j];              \
                    else                                                       \
                        yo[at] *= (T)sum[j];                                   \
                }                                                              \
        }                                                                      \
    }

DEFINE_SOFTMAX(softmax_f32, float, expf)
DEFINE_SOFTMAX(softmax_f64, double, exp)

static bool softmax_run(em_tensor *out, const em_tensor *x, int axis,
                        bool log_form, char *msg, size_t size)
{
    if (x->size == 0)
        return true;
    int64_t outer = 1, inner = 1, r = x->type.shape[axis];
    for (int i = 0; i < axis; i++)
        outer *= x->type.shape[i];
    for (int i = axis + 1; i < x->type.ndim; i++)
        inner *= x->type.shape[i];

    double *scratch = NULL;
    if (inner > 1) {
        scratch = malloc(sizeof(double) * 2 * (size_t)inner);
        if (!scratch) {
            snprintf(msg, size, "out of memory");
            return false;
        }
    }
    if (x->type.dtype == EM_FLOAT32)
        softmax_f32(x->data, out->data, outer, r, inner, log_form, scratch);
    else
        softmax_f64(x->data, out->data, outer, r, inner, log_form, scratch);
    free(scratch);
    return true;
}

/* x [..., n, ...] -> exp(x - max) / sum(exp(x - max)) along attrs->axis. */
EM__KERNEL(softmax)
{
    return softmax_run(out, in[0], attrs->axis, false, msg, size);
}

/* x [..., n, ...] -> x - max - log(sum(exp(x - max))) along attrs->axis. */
EM__KERNEL(log_softmax)
{
    return softmax_run(out, in[0], attrs->axis, true, msg, size);
}

/* ---- public wrappers ------------------------------------------------------*/

static em_tensor *softmax_call(em__op op, em_tensor *x, int axis)
{
    if (!ops_inputs_present(em__op_table[op].name, &x, 1))
        return NULL;
    em__attrs attrs = {0};
    attrs.axis = axis;
    if (em_dtype_is_float(x->type.dtype))
        return em__dispatch(op, &x, 1, &attrs);
    /* Float maths on integers runs in float32, as for exp and log. */
    em_tensor *xf = em_cast(x, EM_FLOAT32);
    em_tensor *out = xf ? em__dispatch(op, &xf, 1, &attrs) : NULL;
    em_tensor_free(xf);
    return out;
}

em_tensor *em_softmax(em_tensor *x, int axis)
{
    return softmax_call(EM_OP_SOFTMAX, x, axis);
}

em_tensor *em_log_softmax(em_tensor *x, int axis)
{
    return softmax_call(EM_OP_LOG_SOFTMAX, x, axis);
}

/* ---- losses ---------------------------------------------------------------*/

/* Puts "op: " before the pending message of an op called inside op, so a
 * composition reports failures under its public name. */
static void blame(const char *op)
{
    const char *inner = em_error_peek();
    if (inner)
        em__error("%s: %s", op, inner);
}

/* Checks that a loss's two operands broadcast together, under the loss's
 * name and with the operands' roles, before any inner op can refuse them. */
static bool check_pair_broadcasts(const char *op, em_tensor *const *pair,
                                  const char *first, const char *second)
{
    em__type joint;
    if (em__broadcast_shape(&pair[0]->type, &pair[1]->type, &joint))
        return true;
    char a[160], b[160], detail[400];
    const em__type *ta = &pair[0]->type, *tb = &pair[1]->type;
    snprintf(detail, sizeof detail, "%s %s and %s %s do not broadcast", first,
             em_shape_format(ta->ndim, ta->shape, a, sizeof a), second,
             em_shape_format(tb->ndim, tb->shape, b, sizeof b));
    em__error_op(op, pair, 2, detail);
    return false;
}

em_tensor *em_mse_loss(em_tensor *prediction, em_tensor *target)
{
    em_tensor *pair[2] = {prediction, target};
    if (!ops_inputs_present("mse_loss", pair, 2) ||
        !check_pair_broadcasts("mse_loss", pair, "prediction", "target"))
        return NULL;
    em_tensor *diff = em_sub(prediction, target);
    em_tensor *sq = em_square(diff);
    em_tensor *out = em_mean(sq, 0, NULL, false);
    em_tensor_free(sq);
    em_tensor_free(diff);
    if (!out)
        blame("mse_loss");
    return out;
}

em_tensor *em_bce_with_logits(em_tensor *logits, em_tensor *targets)
{
    em_tensor *pair[2] = {logits, targets};
    if (!ops_inputs_present("bce_with_logits", pair, 2) ||
        !check_pair_broadcasts("bce_with_logits", pair, "logits", "targets"))
        return NULL;
    /* softplus(z) - y z equals -[y log s(z) + (1 - y) log(1 - s(z))] and
     * stays finite for any z; its derivative is s(z) - y exactly. */
    em_tensor *sp = em_softplus(logits);
    em_tensor *yz = em_mul(targets, logits);
    em_tensor *terms = em_sub(sp, yz);
    em_tensor *out = em_mean(terms, 0, NULL, false);
    em_tensor_free(terms);
    em_tensor_free(yz);
    em_tensor_free(sp);
    if (!out)
        blame("bce_with_logits");
    return out;
}

static bool is_label_dtype(em_dtype dt)
{
    return dt == EM_INT32 || dt == EM_INT64 || dt == EM_UINT8;
}

/* Shared checks of softmax_cross_entropy and accuracy: float logits
 * [batch, classes] (or [..., classes]) and integer labels shaped like the
 * logits without their last axis. */
static bool check_labels(const char *op, em_tensor *logits, em_tensor *labels)
{
    em_tensor *pair[2] = {logits, labels};
    if (!em_dtype_is_float(logits->type.dtype)) {
        em__error_op(op, pair, 2, "logits must be float32 or float64");
        return false;
    }
    if (!is_label_dtype(labels->type.dtype)) {
        em__error_op(op, pair, 2, "labels must be int32, int64 or uint8");
        return false;
    }
    const em__type *lt = &logits->type, *bt = &labels->type;
    bool ok = lt->ndim >= 1 && bt->ndim == lt->ndim - 1;
    for (int i = 0; ok && i < bt->ndim; i++)
        ok = bt->shape[i] == lt->shape[i];
    if (!ok) {
        char ls[160], bs[160], detail[400];
        snprintf(detail, sizeof detail,
                 "labels %s must have the logits' shape %s without its last "
                 "(class) axis",
                 em_shape_format(bt->ndim, bt->shape, bs, sizeof bs),
                 em_shape_format(lt->ndim, lt->shape, ls, sizeof ls));
        em__error_op(op, pair, 2, detail);
        return false;
    }
    return true;
}

em_tensor *em_softmax_cross_entropy(em_tensor *logits, em_tensor *labels)
{
    if (!ops_inputs_present("softmax_cross_entropy",
                            (em_tensor *[]){logits, labels}, 2))
        return NULL;
    if (!check_labels("softmax_cross_entropy", logits, labels))
        return NULL;

    /* -mean(sum(one_hot(labels) * log_softmax(logits))): one_hot checks
     * the labels' range where the values are known (also when traced). */
    int64_t classes = logits->type.shape[logits->type.ndim - 1];
    em_tensor *hot = em_one_hot(labels, classes, logits->type.dtype);
    if (!hot) {
        blame("softmax_cross_entropy");
        return NULL;
    }
    em_tensor *logp = em_log_softmax(logits, -1);
    em_tensor *picked = em_mul(hot, logp);
    em_tensor *per_row = em_sum(picked, 1, (const int[]){-1}, false);
    em_tensor *mean = em_mean(per_row, 0, NULL, false);
    em_tensor *out = em_neg(mean);
    em_tensor *temps[] = {mean, per_row, picked, logp, hot};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
        em_tensor_free(temps[i]);
    if (!out)
        blame("softmax_cross_entropy");
    return out;
}

em_tensor *em_softmax_cross_entropy_probs(em_tensor *logits, em_tensor *probs)
{
    em_tensor *pair[2] = {logits, probs};
    if (!ops_inputs_present("softmax_cross_entropy_probs", pair, 2))
        return NULL;
    if (logits->type.ndim < 1 ||
        !em__type_equal_shape(&logits->type, &probs->type)) {
        em__error_op("softmax_cross_entropy_probs", pair, 2,
                     "probs must have the logits' shape [..., classes]");
        return NULL;
    }
    em_tensor *logp = em_log_softmax(logits, -1);
    em_tensor *weighted = em_mul(probs, logp);
    em_tensor *per_row = em_sum(weighted, 1, (const int[]){-1}, false);
    em_tensor *mean = em_mean(per_row, 0, NULL, false);
    em_tensor *out = em_neg(mean);
    em_tensor *temps[] = {mean, per_row, weighted, logp};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
        em_tensor_free(temps[i]);
    if (!out)
        blame("softmax_cross_entropy_probs");
    return out;
}

em_tensor *em_accuracy(em_tensor *logits, em_tensor *labels)
{
    if (!ops_inputs_present("accuracy", (em_tensor *[]){logits, labels}, 2))
        return NULL;
    if (!check_labels("accuracy", logits, labels))
        return NULL;

    /* A label no prediction can equal is a mistake in the data, not a miss:
     * one_hot refuses it where the values are known (also when traced). */
    int64_t classes = logits->type.shape[logits->type.ndim - 1];
    em_tensor *valid = em_one_hot(labels, classes, EM_BOOL);
    if (!valid) {
        blame("accuracy");
        return NULL;
    }
    em_tensor_free(valid);

    /* argmax and equal are never recorded, so no gradient flows. */
    em_tensor *predicted = em_argmax(logits, -1, false);
    em_tensor *hit = em_equal(predicted, labels);
    em_tensor *hitf = em_cast(hit, EM_FLOAT32);
    em_tensor *out = em_mean(hitf, 0, NULL, false);
    em_tensor_free(hitf);
    em_tensor_free(hit);
    em_tensor_free(predicted);
    if (!out)
        blame("accuracy");
    return out;
}
