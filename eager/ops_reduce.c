/*
 * eager/ops_reduce.c - reductions: sum, max, min, argmax, argmin, and the
 * public compositions built on them (mean, variance, logsumexp).
 *
 * Dtypes. The sum, max and min kernels keep their input's dtype; em_sum
 * converts bool, uint8 and int32 inputs to int64 before dispatch (as NumPy
 * does), so integer sums do not wrap at 8 or 32 bits; int64 sums wrap
 * modulo 2^64 like em_add (accumulated unsigned, where wrapping is defined).
 * float32 sums accumulate in double. mean, variance and logsumexp convert
 * integer and bool inputs to float32 (float maths, as ember/tensor.h
 * describes).
 *
 * Kernels coalesce neighbouring axes that are all kept or all reduced, so
 * each pass is one [outer, reduced, inner] loop nest: reducing the last
 * axis walks contiguous rows, reducing the first streams rows into an
 * accumulator row. Several reduced blocks ([a, b, c, d] over axes 0 and 2)
 * take one pass each.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "ops_common.h"

/* ---- axes -----------------------------------------------------------------*/

/* Resolves negative axes and sorts them; naxes == 0 means every axis.
 * false with a message on a bad count, a repeated or out-of-range axis. */
static bool resolve_axes(int ndim, int naxes, const int *axes, int *out,
                         int *nout, char *msg, size_t size)
{
    if (naxes < 0 || naxes > EM_MAX_DIMS) {
        snprintf(msg, size, "naxes %d outside [0, %d]", naxes, EM_MAX_DIMS);
        return false;
    }
    bool seen[EM_MAX_DIMS] = {false};
    if (naxes == 0) {
        for (int i = 0; i < ndim; i++)
            seen[i] = true;
    }
    for (int i = 0; i < naxes; i++) {
        int axis = axes[i];
        if (axis < -ndim || axis >= ndim) {
            snprintf(msg, size, "axis %d out of range for ndim %d", axis, ndim);
            return false;
        }
        if (axis < 0)
            axis += ndim;
        if (seen[axis]) {
            snprintf(msg, size, "axis %d repeated (ndim %d)", axes[i], ndim);
            return false;
        }
        seen[axis] = true;
    }
    *nout = 0;
    for (int i = 0; i < ndim; i++)
        if (seen[i])
            out[(*nout)++] = i;
    return true;
}

/* The shape of a reduction's result. */
static void reduced_type(const em__type *in, int naxes, const int *axes,
                         bool keepdims, em__type *out)
{
    bool reduced[EM_MAX_DIMS] = {false};
    for (int i = 0; i < naxes; i++)
        reduced[axes[i]] = true;
    out->dtype = in->dtype;
    out->ndim = 0;
    for (int i = 0; i < in->ndim; i++) {
        if (!reduced[i])
            out->shape[out->ndim++] = in->shape[i];
        else if (keepdims)
            out->shape[out->ndim++] = 1;
    }
}

/* x: any dtype; reduced axes removed (or kept as 1) -> same dtype. */
EM__INFER(reduce)
{
    const em__type *x = in[0];
    int axes[EM_MAX_DIMS], naxes;
    if (!resolve_axes(x->ndim, attrs->naxes, attrs->axes, axes, &naxes, msg,
                      size))
        return false;
    /* Rules and passes downstream then see an explicit, sorted list. */
    attrs->naxes = naxes;
    memcpy(attrs->axes, axes, sizeof(int) * (size_t)naxes);
    reduced_type(x, naxes, axes, attrs->keepdims, out);
    return true;
}

/* x [..., n, ...] along one axis -> int64 [..., ...]; n must be > 0. */
EM__INFER(arg_reduce)
{
    const em__type *x = in[0];
    int axis = attrs->axis;
    if (!em__normalize_axis(&axis, x->ndim)) {
        snprintf(msg, size, "axis %d out of range for ndim %d", attrs->axis,
                 x->ndim);
        return false;
    }
    if (x->shape[axis] == 0) {
        snprintf(msg, size, "axis %d is empty: no index to return", axis);
        return false;
    }
    attrs->axis = axis;
    reduced_type(x, 1, &axis, attrs->keepdims, out);
    out->dtype = EM_INT64;
    return true;
}

/* ---- plans ----------------------------------------------------------------*/

/* The input shape with size-1 axes dropped and neighbours that are all kept
 * or all reduced merged. */
typedef struct reduce_plan {
    int nblocks;
    int64_t extent[EM_MAX_DIMS];
    bool reduced[EM_MAX_DIMS];
    int64_t reduced_count; /* elements folded into each output */
} reduce_plan;

static void plan_make(const em__type *x, const em__attrs *attrs,
                      reduce_plan *plan)
{
    bool reduced[EM_MAX_DIMS] = {false};
    for (int i = 0; i < attrs->naxes; i++)
        reduced[attrs->axes[i]] = true;
    plan->nblocks = 0;
    plan->reduced_count = 1;
    for (int i = 0; i < x->ndim; i++) {
        if (reduced[i])
            plan->reduced_count *= x->shape[i];
        if (x->shape[i] == 1)
            continue;
        int b = plan->nblocks;
        if (b > 0 && plan->reduced[b - 1] == reduced[i]) {
            plan->extent[b - 1] *= x->shape[i];
        } else {
            plan->extent[b] = x->shape[i];
            plan->reduced[b] = reduced[i];
            plan->nblocks++;
        }
    }
}

/* Removes the last reduced block and reports its pass as [outer, r, inner];
 * false when none is left. */
static bool plan_next(reduce_plan *plan, int64_t *outer, int64_t *r,
                      int64_t *inner)
{
    int p = plan->nblocks - 1;
    while (p >= 0 && !plan->reduced[p])
        p--;
    if (p < 0)
        return false;
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < p; i++)
        *outer *= plan->extent[i];
    for (int i = p + 1; i < plan->nblocks; i++)
        *inner *= plan->extent[i];
    *r = plan->extent[p];
    for (int i = p; i + 1 < plan->nblocks; i++) {
        plan->extent[i] = plan->extent[i + 1];
        plan->reduced[i] = plan->reduced[i + 1];
    }
    plan->nblocks--;
    return true;
}

/* ---- sum ------------------------------------------------------------------*/

/* [outer, r, inner] -> [outer, inner], accumulating in ACC. Four partial
 * sums on contiguous rows keep the dependency chain short. */
#define DEFINE_SUM(NAME, SRC, ACC)                                             \
    static void NAME(const void *src, void *dst, int64_t outer, int64_t r,     \
                     int64_t inner)                                            \
    {                                                                          \
        const SRC *x = src;                                                    \
        ACC *y = dst;                                                          \
        for (int64_t o = 0; o < outer; o++) {                                  \
            const SRC *xo = x + o * r * inner;                                 \
            ACC *yo = y + o * inner;                                           \
            if (inner == 1) {                                                  \
                ACC s0 = 0, s1 = 0, s2 = 0, s3 = 0;                            \
                int64_t i = 0;                                                 \
                for (; i + 4 <= r; i += 4) {                                   \
                    s0 += (ACC)xo[i];                                          \
                    s1 += (ACC)xo[i + 1];                                      \
                    s2 += (ACC)xo[i + 2];                                      \
                    s3 += (ACC)xo[i + 3];                                      \
                }                                                              \
                for (; i < r; i++)                                             \
                    s0 += (ACC)xo[i];                                          \
                yo[0] = (s0 + s1) + (s2 + s3);                                 \
                continue;                                                      \
            }                                                                  \
            for (int64_t j = 0; j < inner; j++)                                \
                yo[j] = 0;                                                     \
            for (int64_t i = 0; i < r; i++) {                                  \
                const SRC *row = xo + i * inner;                               \
                for (int64_t j = 0; j < inner; j++)                            \
                    yo[j] += (ACC)row[j];                                      \
            }                                                                  \
        }                                                                      \
    }

/* Integer sums accumulate in uint64_t: converting a negative value to it
 * and adding wraps modulo 2^64, which gives the two's-complement int64 sum
 * without signed overflow. The buffer is read back as int64. */
DEFINE_SUM(sum_bool, bool, uint64_t)
DEFINE_SUM(sum_u8, uint8_t, uint64_t)
DEFINE_SUM(sum_i32, int32_t, uint64_t)
DEFINE_SUM(sum_i64, int64_t, uint64_t)
DEFINE_SUM(sum_acc_u64, uint64_t, uint64_t)
DEFINE_SUM(sum_f32, float, double)
DEFINE_SUM(sum_f64, double, double)

typedef void (*reduce_pass_fn)(const void *src, void *dst, int64_t outer,
                               int64_t r, int64_t inner);

static const reduce_pass_fn sum_passes[EM_DTYPE_COUNT] = {
    sum_bool, sum_u8, sum_i32, sum_i64, sum_f32, sum_f64,
};

static bool plan_reduces(const reduce_plan *plan)
{
    for (int i = 0; i < plan->nblocks; i++)
        if (plan->reduced[i])
            return true;
    return false;
}

/* Runs the plan's passes (at least one) from src into fresh buffers of
 * acc_size elements: the first pass with `first`, later ones with `rest`,
 * which reads the accumulator type. Returns the last buffer (the caller
 * frees it), or NULL when out of memory. */
static void *run_passes(reduce_plan *plan, const void *src,
                        reduce_pass_fn first, reduce_pass_fn rest,
                        size_t acc_size)
{
    void *current = NULL;
    int64_t outer, r, inner;
    while (plan_next(plan, &outer, &r, &inner)) {
        void *next = malloc(acc_size * (size_t)(outer * inner));
        if (!next) {
            free(current);
            return NULL;
        }
        if (current)
            rest(current, next, outer, r, inner);
        else
            first(src, next, outer, r, inner);
        free(current);
        current = next;
    }
    return current;
}

/* x -> sum over attrs' axes, same dtype (accumulated in int64 / double). */
EM__KERNEL(sum)
{
    const em_tensor *x = in[0];
    em_dtype dt = x->type.dtype;
    bool is_float = em_dtype_is_float(dt);
    em_dtype acc = is_float ? EM_FLOAT64 : EM_INT64;

    if (x->size == 0 || out->size == 0) {
        memset(out->data, 0, (size_t)out->size * em_dtype_size(dt));
        return true;
    }
    reduce_plan plan;
    plan_make(&x->type, attrs, &plan);
    if (!plan_reduces(&plan)) {
        /* Only size-1 axes are reduced: every output is one element. */
        memcpy(out->data, x->data, (size_t)x->size * em_dtype_size(dt));
        return true;
    }

    /* Both accumulator types are 8 bytes wide. */
    void *result = run_passes(&plan, x->data, sum_passes[dt],
                              is_float ? sum_f64 : sum_acc_u64, sizeof(double));
    if (!result) {
        snprintf(msg, size, "out of memory");
        return false;
    }
    em__convert(result, acc, out->data, dt, out->size);
    free(result);
    return true;
}

/* ---- max and min ----------------------------------------------------------*/

/* NaN wins in float max/min (it propagates), and stays once found. The
 * bitwise | keeps the test branch-free, so the row loops vectorise. */
#define GREATER(a, b) (((a) > (b)) | ((a) != (a)))
#define LESS(a, b) (((a) < (b)) | ((a) != (a)))

/* [outer, r, inner] -> [outer, inner] keeping the element BETTER picks;
 * r > 0. */
#define DEFINE_EXTREME(NAME, T, BETTER)                                        \
    static void NAME(const void *src, void *dst, int64_t outer, int64_t r,     \
                     int64_t inner)                                            \
    {                                                                          \
        const T *x = src;                                                      \
        T *y = dst;                                                            \
        for (int64_t o = 0; o < outer; o++) {                                  \
            const T *xo = x + o * r * inner;                                   \
            T *yo = y + o * inner;                                             \
            if (inner == 1) {                                                  \
                /* Eight independent lanes, folded at the end. */              \
                T lane[8];                                                     \
                for (int l = 0; l < 8; l++)                                    \
                    lane[l] = xo[0];                                           \
                int64_t i = 0;                                                 \
                for (; i + 8 <= r; i += 8)                                     \
                    for (int l = 0; l < 8; l++)                                \
                        lane[l] =                                              \
                            BETTER(xo[i + l], lane[l]) ? xo[i + l] : lane[l];  \
                for (; i < r; i++)                                             \
                    lane[0] = BETTER(xo[i], lane[0]) ? xo[i] : lane[0];        \
                for (int l = 1; l < 8; l++)                                    \
                    lane[0] = BETTER(lane[l], lane[0]) ? lane[l] : lane[0];    \
                yo[0] = lane[0];                                               \
                continue;                                                      \
            }                                                                  \
            memcpy(yo, xo, sizeof(T) * (size_t)inner);                         \
            for (int64_t i = 1; i < r; i++) {                                  \
                const T *row = xo + i * inner;                                 \
                for (int64_t j = 0; j < inner; j++)                            \
                    yo[j] = BETTER(row[j], yo[j]) ? row[j] : yo[j];            \
            }                                                                  \
        }                                                                      \
    }

DEFINE_EXTREME(max_bool, bool, GREATER)
DEFINE_EXTREME(max_u8, uint8_t, GREATER)
DEFINE_EXTREME(max_i32, int32_t, GREATER)
DEFINE_EXTREME(max_i64, int64_t, GREATER)
DEFINE_EXTREME(max_f32, float, GREATER)
DEFINE_EXTREME(max_f64, double, GREATER)
DEFINE_EXTREME(min_bool, bool, LESS)
DEFINE_EXTREME(min_u8, uint8_t, LESS)
DEFINE_EXTREME(min_i32, int32_t, LESS)
DEFINE_EXTREME(min_i64, int64_t, LESS)
DEFINE_EXTREME(min_f32, float, LESS)
DEFINE_EXTREME(min_f64, double, LESS)

static const reduce_pass_fn max_passes[EM_DTYPE_COUNT] = {
    max_bool, max_u8, max_i32, max_i64, max_f32, max_f64,
};
static const reduce_pass_fn min_passes[EM_DTYPE_COUNT] = {
    min_bool, min_u8, min_i32, min_i64, min_f32, min_f64,
};

static bool extreme(em_tensor *out, const em_tensor *x, const em__attrs *attrs,
                    bool is_max, char *msg, size_t size)
{
    em_dtype dt = x->type.dtype;
    size_t elem = em_dtype_size(dt);
    if (out->size == 0)
        return true;

    reduce_plan plan;
    plan_make(&x->type, attrs, &plan);
    if (plan.reduced_count == 0) {
        /* The identity of max is -inf; integers have none to give. */
        if (!em_dtype_is_float(dt)) {
            snprintf(msg, size, "reducing an empty axis has no %s for %s",
                     is_max ? "maximum" : "minimum", em_dtype_name(dt));
            return false;
        }
        for (int64_t i = 0; i < out->size; i++)
            em__store_f64(out->data, dt, i, is_max ? -INFINITY : INFINITY);
        return true;
    }
    if (!plan_reduces(&plan)) {
        memcpy(out->data, x->data, (size_t)x->size * elem);
        return true;
    }
    reduce_pass_fn pass = (is_max ? max_passes : min_passes)[dt];
    void *result = run_passes(&plan, x->data, pass, pass, elem);
    if (!result) {
        snprintf(msg, size, "out of memory");
        return false;
    }
    memcpy(out->data, result, (size_t)out->size * elem);
    free(result);
    return true;
}

/* x -> max over attrs' axes, same dtype; NaN propagates. */
EM__KERNEL(max)
{
    return extreme(out, in[0], attrs, true, msg, size);
}

/* x -> min over attrs' axes, same dtype; NaN propagates. */
EM__KERNEL(min)
{
    return extreme(out, in[0], attrs, false, msg, size);
}

/* ---- argmax and argmin ----------------------------------------------------*/

/* The first NaN counts as the extreme (as NumPy). */
#define ARG_GREATER(a, b) ((a) > (b) || ((a) != (a) && (b) == (b)))
#define ARG_LESS(a, b) ((a) < (b) || ((a) != (a) && (b) == (b)))

/* [outer, r, inner] -> int64 [outer, inner], index of the first element
 * BETTER picks; r > 0; `best` is scratch for inner elements. */
#define DEFINE_ARG(NAME, T, BETTER)                                            \
    static void NAME(const void *src, int64_t *y, int64_t outer, int64_t r,    \
                     int64_t inner, void *scratch)                             \
    {                                                                          \
        const T *x = src;                                                      \
        T *best = scratch;                                                     \
        for (int64_t o = 0; o < outer; o++) {                                  \
            const T *xo = x + o * r * inner;                                   \
            int64_t *yo = y + o * inner;                                       \
            if (inner == 1) {                                                  \
                T b = xo[0];                                                   \
                int64_t bi = 0;                                                \
                for (int64_t i = 1; i < r; i++)                                \
                    if (BETTER(xo[i], b)) {                                    \
                        b = xo[i];                                             \
                        bi = i;                                                \
                    }                                                          \
                yo[0] = bi;                                                    \
                continue;                                                      \
            }                                                                  \
            memcpy(best, xo, sizeof(T) * (size_t)inner);                       \
            memset(yo, 0, sizeof(int64_t) * (size_t)inner);                    \
            for (int64_t i = 1; i < r; i++) {                                  \
                const T *row = xo + i * inner;                                 \
                for (int64_t j = 0; j < inner; j++)                            \
                    if (BETTER(row[j], best[j])) {                             \
                        best[j] = row[j];                                      \
                        yo[j] = i;                                             \
                    }                                                          \
            }                                                                  \
        }                                                                      \
    }

DEFINE_ARG(argmax_bool, bool, ARG_GREATER)
DEFINE_ARG(argmax_u8, uint8_t, ARG_GREATER)
DEFINE_ARG(argmax_i32, int32_t, ARG_GREATER)
DEFINE_ARG(argmax_i64, int64_t, ARG_GREATER)
DEFINE_ARG(argmax_f32, float, ARG_GREATER)
DEFINE_ARG(argmax_f64, double, ARG_GREATER)
DEFINE_ARG(argmin_bool, bool, ARG_LESS)
DEFINE_ARG(argmin_u8, uint8_t, ARG_LESS)
DEFINE_ARG(argmin_i32, int32_t, ARG_LESS)
DEFINE_ARG(argmin_i64, int64_t, ARG_LESS)
DEFINE_ARG(argmin_f32, float, ARG_LESS)
DEFINE_ARG(argmin_f64, double, ARG_LESS)

typedef void (*arg_fn)(const void *src, int64_t *y, int64_t outer, int64_t r,
                       int64_t inner, void *scratch);

static const arg_fn argmax_fns[EM_DTYPE_COUNT] = {
    argmax_bool, argmax_u8, argmax_i32, argmax_i64, argmax_f32, argmax_f64,
};
static const arg_fn argmin_fns[EM_DTYPE_COUNT] = {
    argmin_bool, argmin_u8, argmin_i32, argmin_i64, argmin_f32, argmin_f64,
};

static bool arg_extreme(em_tensor *out, const em_tensor *x,
                        const em__attrs *attrs, const arg_fn *fns, char *msg,
                        size_t size)
{
    if (out->size == 0)
        return true;
    int axis = attrs->axis;
    int64_t outer = 1, inner = 1, r = x->type.shape[axis];
    for (int i = 0; i < axis; i++)
        outer *= x->type.shape[i];
    for (int i = axis + 1; i < x->type.ndim; i++)
        inner *= x->type.shape[i];

    em_dtype dt = x->type.dtype;
    void *scratch = NULL;
    if (inner > 1) {
        scratch = malloc(em_dtype_size(dt) * (size_t)inner);
        if (!scratch) {
            snprintf(msg, size, "out of memory");
            return false;
        }
    }
    fns[dt](x->data, out->data, outer, r, inner, scratch);
    free(scratch);
    return true;
}

/* x [..., n, ...] -> int64 index of the first maximum along attrs->axis. */
EM__KERNEL(argmax)
{
    return arg_extreme(out, in[0], attrs, argmax_fns, msg, size);
}

/* x [..., n, ...] -> int64 index of the first minimum along attrs->axis. */
EM__KERNEL(argmin)
{
    return arg_extreme(out, in[0], attrs, argmin_fns, msg, size);
}

/* ---- public wrappers ------------------------------------------------------*/

/* Checks the axes a public wrapper was given (NULL list, bad entries) under
 * the public op's name; fills the resolved, sorted list. */
static bool check_axes(const char *op, em_tensor *x, int naxes, const int *axes,
                       int *resolved, int *nresolved)
{
    char msg[200];
    if (naxes > 0 && !axes) {
        snprintf(msg, sizeof msg, "axes is NULL with naxes %d", naxes);
        em__error_op(op, &x, 1, msg);
        return false;
    }
    if (!resolve_axes(x->type.ndim, naxes, axes, resolved, nresolved, msg,
                      sizeof msg)) {
        em__error_op(op, &x, 1, msg);
        return false;
    }
    return true;
}

static em_tensor *reduce_call(em__op op, em_tensor *x, int naxes,
                              const int *axes, bool keepdims)
{
    if (!ops_inputs_present(em__op_table[op].name, &x, 1))
        return NULL;
    em__attrs attrs = {0};
    if (!check_axes(em__op_table[op].name, x, naxes, axes, attrs.axes,
                    &attrs.naxes))
        return NULL;
    attrs.keepdims = keepdims;
    return em__dispatch(op, &x, 1, &attrs);
}

em_tensor *em_sum(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    if (!ops_inputs_present("sum", &x, 1))
        return NULL;
    em_dtype dt = x->type.dtype;
    if (dt == EM_INT64 || em_dtype_is_float(dt))
        return reduce_call(EM_OP_SUM, x, naxes, axes, keepdims);

    /* Narrow integers and bools count in int64. */
    int resolved[EM_MAX_DIMS], nresolved;
    if (!check_axes("sum", x, naxes, axes, resolved, &nresolved))
        return NULL;
    em_tensor *wide = em_cast(x, EM_INT64);
    em_tensor *out = reduce_call(EM_OP_SUM, wide, naxes, axes, keepdims);
    em_tensor_free(wide);
    return out;
}

em_tensor *em_max(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    return reduce_call(EM_OP_MAX, x, naxes, axes, keepdims);
}

em_tensor *em_min(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    return reduce_call(EM_OP_MIN, x, naxes, axes, keepdims);
}

static em_tensor *arg_call(em__op op, em_tensor *x, int axis, bool keepdims)
{
    em__attrs attrs = {0};
    attrs.axis = axis;
    attrs.keepdims = keepdims;
    return em__dispatch(op, &x, 1, &attrs);
}

em_tensor *em_argmax(em_tensor *x, int axis, bool keepdims)
{
    return arg_call(EM_OP_ARGMAX, x, axis, keepdims);
}

em_tensor *em_argmin(em_tensor *x, int axis, bool keepdims)
{
    return arg_call(EM_OP_ARGMIN, x, axis, keepdims);
}

/* ---- compositions ---------------------------------------------------------
 * Written with public ops, so their gradients follow from the primitives'.
 */

/* x converted to float32 when it is not a float tensor, else x itself
 * (release with drop_temp, which leaves x alone). Retaining x instead would
 * take it out of its scope when the temporary is freed. */
static em_tensor *as_float(em_tensor *x)
{
    if (em_dtype_is_float(x->type.dtype))
        return x;
    return em_cast(x, EM_FLOAT32);
}

static void drop_temp(em_tensor *t, const em_tensor *x)
{
    if (t != x)
        em_tensor_free(t);
}

/* Number of elements each output of a reduction over `axes` folds. */
static int64_t fold_count(const em_tensor *x, int naxes, const int *axes)
{
    int64_t n = 1;
    for (int i = 0; i < naxes; i++)
        n *= x->type.shape[axes[i]];
    return n;
}

em_tensor *em_mean(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    if (!ops_inputs_present("mean", &x, 1))
        return NULL;
    int resolved[EM_MAX_DIMS], nresolved;
    if (!check_axes("mean", x, naxes, axes, resolved, &nresolved))
        return NULL;
    int64_t n = fold_count(x, nresolved, resolved);

    em_tensor *xf = as_float(x);
    em_tensor *total = em_sum(xf, nresolved, resolved, keepdims);
    /* An empty reduction is 0 * NaN = NaN, as NumPy's warning-free form. */
    em_tensor *out = em_mul_scalar(total, n > 0 ? 1.0 / (double)n : NAN);
    em_tensor_free(total);
    drop_temp(xf, x);
    return out;
}

em_tensor *em_variance(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    if (!ops_inputs_present("variance", &x, 1))
        return NULL;
    int resolved[EM_MAX_DIMS], nresolved;
    if (!check_axes("variance", x, naxes, axes, resolved, &nresolved))
        return NULL;

    em_tensor *xf = as_float(x);
    em_tensor *mu = em_mean(xf, nresolved, resolved, true);
    em_tensor *centred = em_sub(xf, mu);
    em_tensor *squared = em_square(centred);
    em_tensor *out = em_mean(squared, nresolved, resolved, keepdims);
    em_tensor_free(squared);
    em_tensor_free(centred);
    em_tensor_free(mu);
    drop_temp(xf, x);
    return out;
}

em_tensor *em_logsumexp(em_tensor *x, int naxes, const int *axes, bool keepdims)
{
    if (!ops_inputs_present("logsumexp", &x, 1))
        return NULL;
    int resolved[EM_MAX_DIMS], nresolved;
    if (!check_axes("logsumexp", x, naxes, axes, resolved, &nresolved))
        return NULL;
    em__type out_type;
    reduced_type(&x->type, nresolved, resolved, keepdims, &out_type);

    em_tensor *xf = as_float(x);
    /* The shift carries no gradient: d/dx of the result is softmax(x)
     * whatever m is. An infinite maximum (all -inf, or a +inf entry) shifts
     * by 0 instead, so that -inf - -inf never makes a NaN: all -inf gives
     * log(0) = -inf, and +inf gives +inf. */
    em_tensor *mx = em_max(xf, nresolved, resolved, true);
    em_tensor *m = em_stop_gradient(mx);
    em_tensor *inf = xf ? em_scalar(INFINITY, xf->type.dtype) : NULL;
    em_tensor *m_abs = em_abs(m);
    em_tensor *is_inf = em_equal(m_abs, inf);
    em_tensor *zero = xf ? em_scalar(0, xf->type.dtype) : NULL;
    em_tensor *shift = em_where(is_inf, zero, m);
    em_tensor *centred = em_sub(xf, shift);
    em_tensor *e = em_exp(centred);
    em_tensor *s = em_sum(e, nresolved, resolved, true);
    em_tensor *logs = em_log(s);
    em_tensor *kept = em_add(logs, shift);
    em_tensor *out = kept;
    if (!keepdims) {
        out = em_reshape(kept, out_type.ndim, out_type.shape);
        em_tensor_free(kept);
    }
    em_tensor *temps[] = {logs,   s,     e,   centred, shift, zero,
                          is_inf, m_abs, inf, m,       mx};
    for (size_t i = 0; i < sizeof temps / sizeof temps[0]; i++)
        em_tensor_free(temps[i]);
    drop_temp(xf, x);
    return out;
}
