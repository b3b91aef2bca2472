/*
 * tape/grad_shape.c - gradient rules of the shape and data-movement ops.
 * Each moves the output's gradient back to where the input's elements came
 * from, with public ops only, so that an enclosing tape can differentiate
 * the rule again.
 */
#include <stdlib.h>

#include "tape_internal.h"

EM__GRAD(reshape)
{
    const em_tensor *x = call->inputs[0];
    grads[0] = em_reshape(grad, x->type.ndim, x->type.shape);
    return grads[0] != NULL;
}

EM__GRAD(permute)
{
    const em__attrs *a = call->attrs;
    int inverse[EM_MAX_DIMS];
    for (int i = 0; i < a->naxes; i++)
        inverse[a->axes[i]] = i;
    grads[0] = em_permute(grad, inverse);
    return grads[0] != NULL;
}

EM__GRAD(broadcast_to)
{
    grads[0] = em__grad_unbroadcast(grad, call->inputs[0]);
    return grads[0] != NULL;
}

EM__GRAD(concat)
{
    int axis = call->attrs->axis, nd = grad->type.ndim;
    int64_t start[EM_MAX_DIMS] = {0}, stop[EM_MAX_DIMS];
    for (int d = 0; d < nd; d++)
        stop[d] = grad->type.shape[d];

    int64_t offset = 0;
    for (int i = 0; i < call->n; i++) {
        int64_t len = call->inputs[i]->type.shape[axis];
        start[axis] = offset;
        stop[axis] = offset + len;
        grads[i] = em_slice(grad, start, stop, NULL);
        if (!grads[i])
            return false;
        offset += len;
    }
    return true;
}

/* ---- slice ---------------------------------------------------------------*/

static em_tensor *zeros_3d(em_dtype dtype, int64_t a, int64_t b, int64_t c)
{
    return em_zeros(dtype, 3, (const int64_t[]){a, b, c});
}

/* Joins the non-empty parts of a, b, c along axis 1 (3-d tensors). */
static em_tensor *join_3d(em_tensor *a, em_tensor *b, em_tensor *c)
{
    em_tensor *parts[3];
    int n = 0;
    em_tensor *all[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (all[i] && all[i]->type.shape[1] > 0)
            parts[n++] = all[i];
    return n == 1 ? em_copy(parts[0]) : em_concat(n, parts, 1);
}

/* Undoes the slicing of one axis: g viewed as [outer, len, inner] holds
 * the entries start, start + step, ... of an axis of size dim; the result
 * is [outer, dim, inner] with those entries in place and zeros elsewhere. */
static em_tensor *unslice_axis(em_tensor *g, int64_t dim, int64_t start,
                               int64_t step)
{
    em_dtype dtype = g->type.dtype;
    int64_t outer = g->type.shape[0], len = g->type.shape[1];
    int64_t inner = g->type.shape[2];
    int64_t mag = step > 0 ? step : -step;
    int64_t low = step > 0 ? start : start + (len - 1) * step;
    em_tensor *cur = g, *next;

    /* A reversed slice: put the entries back in increasing order. */
    if (step < 0) {
        next = em_slice(cur, (const int64_t[]){0, -1, 0},
                        (const int64_t[]){INT64_MAX, INT64_MIN, INT64_MAX},
                        (const int64_t[]){1, -1, 1});
        cur = next;
    }
    /* A step of mag: each entry followed by mag - 1 zeros, the last zeros
     * cut off. */
    if (mag > 1 && cur) {
        em_tensor *spaced =
            em_reshape(cur, 4, (const int64_t[]){outer, len, 1, inner});
        em_tensor *gaps =
            em_zeros(dtype, 4, (const int64_t[]){outer, len, mag - 1, inner});
        em_tensor *pair[2] = {spaced, gaps};
        em_tensor *joined = em_concat(2, pair, 2);
        em_tensor *flat =
            em_reshape(joined, 3, (const int64_t[]){outer, len * mag, inner});
        next = em_slice(
            flat, (const int64_t[]){0, 0, 0},
            (const int64_t[]){INT64_MAX, (len - 1) * mag + 1, INT64_MAX}, NULL);
        em_tensor_free(spaced);
        em_tensor_free(gaps);
        em_tensor_free(joined);
        em_tensor_free(flat);
        if (cur != g)
            em_tensor_free(cur);
        cur = next;
    }
    if (!cur)
        return NULL;

    int64_t span = cur->type.shape[1];
    em_tensor *before = zeros_3d(dtype, outer, low, inner);
    em_tensor *after = zeros_3d(dtype, outer, dim - low - span, inner);
    next = before && after ? join_3d(before, cur, after) : NULL;
    em_tensor_free(before);
    em_tensor_free(after);
    if (cur != g)
        em_tensor_free(cur);
    return next;
}

EM__GRAD(slice)
{
    em_tensor *x = call->inputs[0];
    const em__attrs *a = call->attrs;
    if (grad->size == 0) {
        grads[0] = em_zeros_like(x);
        return grads[0] != NULL;
    }

    /* One axis at a time, each through a 3-d view, so that the spacing
     * step never needs more than 4 dimensions. */
    em_tensor *g = grad;
    int nd = x->type.ndim;
    for (int k = 0; k < nd && g; k++) {
        int64_t dim = x->type.shape[k], len = a->shape[k];
        if (len == dim && a->step[k] == 1)
            continue;
        int64_t outer = 1, inner = 1;
        for (int d = 0; d < k; d++)
            outer *= g->type.shape[d];
        for (int d = k + 1; d < nd; d++)
            inner *= g->type.shape[d];

        em_tensor *view =
            em_reshape(g, 3, (const int64_t[]){outer, len, inner});
        em_tensor *full =
            view ? unslice_axis(view, dim, a->start[k], a->step[k]) : NULL;
        int64_t shape[EM_MAX_DIMS];
        for (int d = 0; d < nd; d++)
            shape[d] = d == k ? dim : g->type.shape[d];
        em_tensor *next = full ? em_reshape(full, nd, shape) : NULL;
        em_tensor_free(view);
        em_tensor_free(full);
        if (g != grad)
            em_tensor_free(g);
        g = next;
    }
    grads[0] = g;
    return g != NULL;
}

/* ---- gather, one_hot, cast, copy
 * -------------------------------------------*/

/* x [P, D, S] (around the axis) and indices [K]: the gradient is the sum,
 * for each x entry, of the g entries that read it, i.e. one_hot(indices)^T
 * [D, K] times g [P, K, S]. */
EM__GRAD(gather)
{
    em_tensor *x = call->inputs[0], *indices = call->inputs[1];
    if (!em_dtype_is_float(x->type.dtype))
        return true;
    if (grad->size == 0 || x->size == 0) {
        grads[0] = em_zeros_like(x);
        return grads[0] != NULL;
    }

    int axis = call->attrs->axis;
    int64_t dim = x->type.shape[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= x->type.shape[d];
    for (int d = axis + 1; d < x->type.ndim; d++)
        inner *= x->type.shape[d];

    /* Negative indices count from the end; one_hot wants [0, dim). */
    em_tensor *index = indices, *zero = NULL, *negative = NULL, *shifted = NULL;
    if (indices->type.dtype != EM_UINT8) {
        zero = em_scalar(0, indices->type.dtype);
        negative = em_less(indices, zero);
        shifted = em_add_scalar(indices, (double)dim);
        index = em_where(negative, shifted, indices);
    }
    em_tensor *hot = em_one_hot(index, dim, grad->type.dtype);
    int64_t k = indices->size;
    em_tensor *hot3 = em_reshape(hot, 3, (const int64_t[]){1, k, dim});
    em_tensor *g3 = em_reshape(grad, 3, (const int64_t[]){outer, k, inner});
    em_tensor *sum = em_matmul(hot3, g3, true, false);
    grads[0] = em_reshape(sum, x->type.ndim, x->type.shape);

    if (index != indices)
        em_tensor_free(index);
    em_tensor *temps[] = {zero, negative, shifted, hot, hot3, g3, sum};
    for (size_t i = 0; i < sizeof temps / sizeof *temps; i++)
        em_tensor_free(temps[i]);
    return grads[0] != NULL;
}

/* Labels are integers: no gradient. */
EM__GRAD(one_hot)
{
    return true;
}

EM__GRAD(cast)
{
    em_dtype from = call->inputs[0]->type.dtype;
    if (!em_dtype_is_float(from) || !em_dtype_is_float(grad->type.dtype))
        return true;
    grads[0] = em_cast(grad, from);
    return grads[0] != NULL;
}

EM__GRAD(copy)
{
    grads[0] = grad;
    return true;
}
