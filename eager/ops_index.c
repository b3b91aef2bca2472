/*
 * eager/ops_index.c - indexing ops: slice (start/step per axis), gather
 * (entries picked by an integer tensor) and one_hot.
 */
#include <string.h>

#include "kernels.h"
#include "ops_common.h"
#include "strided.h"

static bool is_integer(em_dtype dtype)
{
    return dtype == EM_UINT8 || dtype == EM_INT32 || dtype == EM_INT64;
}

/* ---- slice ---------------------------------------------------------------*/

/* [d0, ..., dn] -> attrs->shape, element i along axis k read from
 * start[k] + i * step[k] */
EM__INFER(slice)
{
    const em__type *x = in[0];
    if (attrs->ndim != x->ndim) {
        snprintf(msg, size, "%d axes of slicing for %d dimensions", attrs->ndim,
                 x->ndim);
        return false;
    }
    /* The attributes come normalised from em_slice; checking them keeps
     * the kernel safe when a graph replays them. */
    for (int k = 0; k < x->ndim; k++) {
        int64_t len = attrs->shape[k], start = attrs->start[k];
        int64_t step = attrs->step[k], dim = x->shape[k];
        bool ok = step != 0 && len >= 0;
        if (ok && len > 0) {
            int64_t last;
            ok = start >= 0 && start < dim &&
                 !__builtin_mul_overflow(len - 1, step, &last) &&
                 !__builtin_add_overflow(start, last, &last) && last >= 0 &&
                 last < dim;
        }
        if (!ok) {
            snprintf(msg, size,
                     "axis %d: %lld entries from %lld by step %lld do not fit "
                     "in size %lld",
                     k, (long long)len, (long long)start, (long long)step,
                     (long long)dim);
            return false;
        }
    }
    return em__type_make(out, x->dtype, x->ndim, attrs->shape);
}

EM__KERNEL(slice)
{
    const em__type *x = &in[0]->type;
    if (out->size == 0)
        return true;
    int64_t own[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    em__strides(x, own);
    int64_t base = 0;
    for (int k = 0; k < x->ndim; k++) {
        base += attrs->start[k] * own[k];
        /* A single entry's step never moves the read position, and may be
         * any value. */
        strides[k] = out->type.shape[k] > 1 ? attrs->step[k] * own[k] : 0;
    }
    size_t elem = em_dtype_size(x->dtype);
    em__copy_strided(out->data,
                     (const char *)in[0]->data + base * (int64_t)elem, elem,
                     x->ndim, out->type.shape, strides);
    return true;
}

/* Python's slice.indices(): clamps start and stop into the axis and counts
 * the entries. Returns the count; *start is the first index read. */
static int64_t normalize_slice(int64_t dim, int64_t *start, int64_t stop,
                               int64_t step, bool has_start, bool has_stop)
{
    /* Stops lie in [-1, dim]: -1 is "before the first entry". */
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    int64_t s = has_start ? *start : (step > 0 ? 0 : dim - 1);
    int64_t e = has_stop ? stop : (step > 0 ? dim : -1);
    if (has_start && s < 0)
        s = s < -dim ? lo : s + dim;
    else if (s > hi)
        s = hi;
    if (has_stop && e < 0)
        e = e < -dim ? lo : e + dim;
    else if (e > hi)
        e = hi;

    /* |step| as unsigned, so that INT64_MIN is safe. */
    uint64_t mag = step > 0 ? (uint64_t)step : -(uint64_t)step;
    uint64_t span = step > 0 ? (e > s ? (uint64_t)(e - s) : 0)
                             : (s > e ? (uint64_t)(s - e) : 0);
    *start = s;
    return (int64_t)((span + mag - 1) / mag);
}

em_tensor *em_slice(em_tensor *x, const int64_t *start, const int64_t *stop,
                    const int64_t *step)
{
    if (!ops_inputs_present("slice", &x, 1))
        return NULL;
    em__attrs attrs = {0};
    attrs.ndim = x->type.ndim;
    for (int k = 0; k < x->type.ndim; k++) {
        int64_t st = step ? step[k] : 1;
        if (st == 0) {
            char detail[80];
            snprintf(detail, sizeof detail, "step is 0 on axis %d", k);
            em__error_op("slice", &x, 1, detail);
            return NULL;
        }
        int64_t first = start ? start[k] : 0;
        int64_t len =
            normalize_slice(x->type.shape[k], &first, stop ? stop[k] : 0, st,
                            start != NULL, stop != NULL);
        /* With one entry or none the step is irrelevant; a unit step keeps
         * the stride arithmetic and the gradient simple. */
        if (len <= 1)
            st = st > 0 ? 1 : -1;
        if (len == 0)
            first = 0;
        attrs.start[k] = first;
        attrs.step[k] = st;
        attrs.shape[k] = len;
    }
    return em__dispatch(EM_OP_SLICE, &x, 1, &attrs);
}

/* ---- gather --------------------------------------------------------------*/

/* x [A..., d, B...], indices [I...] -> [A..., I..., B...] along attrs->axis */
EM__INFER(gather)
{
    const em__type *x = in[0], *idx = in[1];
    if (!is_integer(idx->dtype)) {
        snprintf(msg, size, "indices must be an integer tensor, not %s",
                 em_dtype_name(idx->dtype));
        return false;
    }
    if (x->ndim == 0) {
        snprintf(msg, size, "cannot gather from a 0-d tensor");
        return false;
    }
    if (!em__normalize_axis(&attrs->axis, x->ndim)) {
        snprintf(msg, size, "axis %d out of range for %d dimensions",
                 attrs->axis, x->ndim);
        return false;
    }
    int nd = x->ndim - 1 + idx->ndim;
    if (nd > EM_MAX_DIMS) {
        snprintf(msg, size, "the result would have %d dimensions (limit %d)",
                 nd, EM_MAX_DIMS);
        return false;
    }

    int axis = attrs->axis;
    out->dtype = x->dtype;
    out->ndim = nd;
    int o = 0;
    for (int d = 0; d < axis; d++)
        out->shape[o++] = x->shape[d];
    for (int d = 0; d < idx->ndim; d++)
        out->shape[o++] = idx->shape[d];
    for (int d = axis + 1; d < x->ndim; d++)
        out->shape[o++] = x->shape[d];
    return true;
}

EM__KERNEL(gather)
{
    const em_tensor *x = in[0], *idx = in[1];
    int axis = attrs->axis;
    int64_t outer = 1, inner = 1, dim = x->type.shape[axis];
    for (int d = 0; d < axis; d++)
        outer *= x->type.shape[d];
    for (int d = axis + 1; d < x->type.ndim; d++)
        inner *= x->type.shape[d];

    /* Validate every index before writing anything. */
    for (int64_t k = 0; k < idx->size; k++) {
        int64_t i = em__load_i64(idx->data, idx->type.dtype, k);
        if (i < -dim || i >= dim) {
            snprintf(msg, size,
                     "index %lld is out of range for axis %d of "
                     "size %lld",
                     (long long)i, axis, (long long)dim);
            return false;
        }
    }

    size_t elem = em_dtype_size(x->type.dtype);
    size_t run = (size_t)inner * elem;
    const char *src = x->data;
    char *dst = out->data;
    for (int64_t o = 0; o < outer; o++) {
        const char *block = src + (size_t)(o * dim) * run;
        for (int64_t k = 0; k < idx->size; k++) {
            int64_t i = em__load_i64(idx->data, idx->type.dtype, k);
            if (i < 0)
                i += dim;
            memcpy(dst, block + (size_t)i * run, run);
            dst += run;
        }
    }
    return true;
}

em_tensor *em_gather(em_tensor *x, em_tensor *indices, int axis)
{
    em__attrs attrs = {0};
    attrs.axis = axis;
    em_tensor *in[2] = {x, indices};
    return em__dispatch(EM_OP_GATHER, in, 2, &attrs);
}

/* ---- one_hot -------------------------------------------------------------*/

/* labels [...] -> [..., depth] in attrs->dtype */
EM__INFER(one_hot)
{
    const em__type *labels = in[0];
    if (!is_integer(labels->dtype)) {
        snprintf(msg, size, "labels must be an integer tensor, not %s",
                 em_dtype_name(labels->dtype));
        return false;
    }
    if (attrs->depth < 0) {
        snprintf(msg, size, "depth %lld is negative", (long long)attrs->depth);
        return false;
    }
    if ((unsigned)attrs->dtype >= EM_DTYPE_COUNT) {
        snprintf(msg, size, "invalid dtype %d", (int)attrs->dtype);
        return false;
    }
    if (labels->ndim == EM_MAX_DIMS) {
        snprintf(msg, size, "the result would have %d dimensions (limit %d)",
                 EM_MAX_DIMS + 1, EM_MAX_DIMS);
        return false;
    }
    *out = *labels;
    out->dtype = attrs->dtype;
    out->shape[out->ndim++] = attrs->depth;
    return true;
}

EM__KERNEL(one_hot)
{
    const em_tensor *labels = in[0];
    int64_t depth = attrs->depth;
    for (int64_t k = 0; k < labels->size; k++) {
        int64_t v = em__load_i64(labels->data, labels->type.dtype, k);
        if (v < 0 || v >= depth) {
            snprintf(msg, size, "label %lld is out of range [0, %lld)",
                     (long long)v, (long long)depth);
            return false;
        }
    }
    memset(out->data, 0, (size_t)out->size * em_dtype_size(out->type.dtype));
    for (int64_t k = 0; k < labels->size; k++) {
        int64_t v = em__load_i64(labels->data, labels->type.dtype, k);
        em__store_f64(out->data, out->type.dtype, k * depth + v, 1);
    }
    return true;
}

em_tensor *em_one_hot(em_tensor *labels, int64_t depth, em_dtype dtype)
{
    em__attrs attrs = {0};
    attrs.depth = depth;
    attrs.dtype = dtype;
    return em__dispatch(EM_OP_ONE_HOT, &labels, 1, &attrs);
}
