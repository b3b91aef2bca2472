/*
 * eager/ops_shape.c - shape ops: reshape (a view), permute, broadcast_to and
 * concat, and the public functions built on them (transpose, expand_dims,
 * squeeze, stack).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "ops_common.h"
#include "strided.h"

/* Element count of a user-given shape; false when a dimension is negative
 * or the count overflows. */
static bool shape_size(int ndim, const int64_t *shape, int64_t *size)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n))
            return false;
    }
    *size = n;
    return true;
}

/* Checks a target shape from the attributes; fills out on success. */
static bool target_type(em__type *out, em_dtype dtype, const em__attrs *attrs,
                        char *msg, size_t size)
{
    if (attrs->ndim < 0 || attrs->ndim > EM_MAX_DIMS) {
        snprintf(msg, size, "target ndim %d outside [0, %d]", attrs->ndim,
                 EM_MAX_DIMS);
        return false;
    }
    int64_t count;
    if (!shape_size(attrs->ndim, attrs->shape, &count)) {
        char s[160];
        snprintf(msg, size, "invalid target shape %s",
                 em_shape_format(attrs->ndim, attrs->shape, s, sizeof s));
        return false;
    }
    return em__type_make(out, dtype, attrs->ndim, attrs->shape);
}

static char *format_ints(int n, const int *values, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%d", i ? "," : "",
                                 values[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* ---- reshape: a view, no kernel ---------------------------------------- */

/* [d0, ..., dn] -> target shape with the same element count */
EM__INFER(reshape)
{
    if (!target_type(out, in[0]->dtype, attrs, msg, size))
        return false;
    int64_t from = em__type_size(in[0]), to = em__type_size(out);
    if (from != to) {
        char a[160], b[160];
        snprintf(msg, size,
                 "cannot reshape %s (%lld elements) into %s (%lld elements)",
                 em_shape_format(in[0]->ndim, in[0]->shape, a, sizeof a),
                 (long long)from,
                 em_shape_format(out->ndim, out->shape, b, sizeof b),
                 (long long)to);
        return false;
    }
    return true;
}

/* ---- permute ------------------------------------------------------------ */

/* [d0, ..., dn] -> [d_perm0, ..., d_permn] */
EM__INFER(permute)
{
    const em__type *x = in[0];
    bool ok = attrs->naxes == x->ndim;
    bool seen[EM_MAX_DIMS] = {false};
    for (int i = 0; ok && i < x->ndim; i++) {
        int axis = attrs->axes[i];
        ok = em__normalize_axis(&axis, x->ndim) && !seen[axis];
        if (ok)
            seen[axis] = true;
    }
    if (!ok) {
        char p[160];
        int naxes = attrs->naxes < 0 ? 0 : attrs->naxes;
        snprintf(msg, size, "perm %s is not a permutation of %d axes",
                 format_ints(naxes > EM_MAX_DIMS ? EM_MAX_DIMS : naxes,
                             attrs->axes, p, sizeof p),
                 x->ndim);
        return false;
    }

    *out = *x;
    for (int i = 0; i < x->ndim; i++) {
        em__normalize_axis(&attrs->axes[i], x->ndim);
        out->shape[i] = x->shape[attrs->axes[i]];
    }
    return true;
}

EM__KERNEL(permute)
{
    const em__type *x = &in[0]->type;
    int64_t own[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    em__strides(x, own);
    for (int i = 0; i < x->ndim; i++)
        strides[i] = own[attrs->axes[i]];
    em__copy_strided(out->data, in[0]->data, em_dtype_size(x->dtype),
                     out->type.ndim, out->type.shape, strides);
    return true;
}

/* ---- broadcast_to ----------------------------------------------------- */

/* [d0, ..., dn] -> target shape, NumPy rules (trailing alignment) */
EM__INFER(broadcast_to)
{
    const em__type *x = in[0];
    if (!target_type(out, x->dtype, attrs, msg, size))
        return false;
    int lead = out->ndim - x->ndim;
    bool ok = lead >= 0;
    for (int i = 0; ok && i < x->ndim; i++)
        ok = x->shape[i] == 1 || x->shape[i] == out->shape[i + lead];
    if (!ok) {
        char a[160], b[160];
        snprintf(msg, size, "cannot broadcast %s to %s",
                 em_shape_format(x->ndim, x->shape, a, sizeof a),
                 em_shape_format(out->ndim, out->shape, b, sizeof b));
        return false;
    }
    return true;
}

EM__KERNEL(broadcast_to)
{
    int64_t strides[EM_MAX_DIMS];
    em__broadcast_strides(&in[0]->type, &out->type, strides);
    em__copy_strided(out->data, in[0]->data, em_dtype_size(out->type.dtype),
                     out->type.ndim, out->type.shape, strides);
    return true;
}

/* ---- concat ------------------------------------------------------------- */

/* n x [..., d_i, ...] -> [..., sum d_i, ...] along attrs->axis */
EM__INFER(concat)
{
    const em__type *first = in[0];
    if (first->ndim == 0) {
        snprintf(msg, size, "cannot concatenate 0-d tensors");
        return false;
    }
    if (!em__normalize_axis(&attrs->axis, first->ndim)) {
        snprintf(msg, size, "axis %d out of range for %d dimensions",
                 attrs->axis, first->ndim);
        return false;
    }

    int axis = attrs->axis;
    *out = *first;
    out->shape[axis] = 0;
    for (int i = 0; i < n; i++) {
        const em__type *t = in[i];
        if (t->dtype != first->dtype) {
            snprintf(msg, size, "input %d is %s but input 0 is %s", i,
                     em_dtype_name(t->dtype), em_dtype_name(first->dtype));
            return false;
        }
        bool same = t->ndim == first->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = d == axis || t->shape[d] == first->shape[d];
        if (!same) {
            char a[160], b[160];
            snprintf(msg, size,
                     "input %d has shape %s, input 0 has %s: they may differ "
                     "only along axis %d",
                     i, em_shape_format(t->ndim, t->shape, a, sizeof a),
                     em_shape_format(first->ndim, first->shape, b, sizeof b),
                     axis);
            return false;
        }
        out->shape[axis] += t->shape[axis];
    }
    return true;
}

EM__KERNEL(concat)
{
    int axis = attrs->axis;
    size_t elem = em_dtype_size(out->type.dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= out->type.shape[d];
    for (int d = axis + 1; d < out->type.ndim; d++)
        inner *= out->type.shape[d];
    size_t out_row = (size_t)(out->type.shape[axis] * inner) * elem;

    /* Each input contributes one contiguous run per outer index. */
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        size_t run = (size_t)(in[i]->type.shape[axis] * inner) * elem;
        const char *src = in[i]->data;
        char *dst = (char *)out->data + offset;
        for (int64_t o = 0; o < outer && run > 0; o++)
            memcpy(dst + (size_t)o * out_row, src + (size_t)o * run, run);
        offset += run;
    }
    return true;
}

/* ---- public functions -------------------------------------------------- */

em_tensor *em_reshape(em_tensor *x, int ndim, const int64_t *shape)
{
    if (!ops_inputs_present("reshape", &x, 1))
        return NULL;
    char detail[300], s[160];
    if (ndim < 0 || ndim > EM_MAX_DIMS || (ndim > 0 && !shape)) {
        snprintf(detail, sizeof detail, "target ndim %d%s", ndim,
                 ndim > 0 && ndim <= EM_MAX_DIMS ? " with a NULL shape"
                                                 : " out of range");
        em__error_op("reshape", &x, 1, detail);
        return NULL;
    }

    em__attrs attrs = {0};
    attrs.ndim = ndim;
    int infer = -1;
    int64_t known = 1;
    bool ok = true;
    for (int i = 0; i < ndim; i++) {
        attrs.shape[i] = shape[i];
        if (shape[i] == -1 && infer < 0)
            infer = i;
        else if (shape[i] < 0 ||
                 __builtin_mul_overflow(known, shape[i], &known))
            ok = false;
    }
    if (!ok) {
        snprintf(detail, sizeof detail,
                 "invalid target shape %s (one -1 at most, others >= 0)",
                 em_shape_format(ndim, shape, s, sizeof s));
        em__error_op("reshape", &x, 1, detail);
        return NULL;
    }
    if (infer >= 0) {
        /* With a zero among the known dimensions any value fits. */
        if (known == 0 || x->size % known != 0) {
            snprintf(detail, sizeof detail,
                     "cannot infer the -1 in %s from %lld elements",
                     em_shape_format(ndim, shape, s, sizeof s),
                     (long long)x->size);
            em__error_op("reshape", &x, 1, detail);
            return NULL;
        }
        attrs.shape[infer] = x->size / known;
    }
    return em__dispatch(EM_OP_RESHAPE, &x, 1, &attrs);
}

em_tensor *em_permute(em_tensor *x, const int *perm)
{
    if (!ops_inputs_present("permute", &x, 1))
        return NULL;
    if (!perm && x->type.ndim > 0) {
        em__error_op("permute", &x, 1, "perm is NULL");
        return NULL;
    }
    em__attrs attrs = {0};
    attrs.naxes = x->type.ndim;
    for (int i = 0; i < x->type.ndim; i++)
        attrs.axes[i] = perm[i];
    return em__dispatch(EM_OP_PERMUTE, &x, 1, &attrs);
}

em_tensor *em_transpose(em_tensor *x)
{
    if (!ops_inputs_present("transpose", &x, 1))
        return NULL;
    int nd = x->type.ndim;
    if (nd < 2) {
        em__error_op("transpose", &x, 1, "needs at least 2 dimensions");
        return NULL;
    }
    em__attrs attrs = {0};
    attrs.naxes = nd;
    for (int i = 0; i < nd; i++)
        attrs.axes[i] = i;
    attrs.axes[nd - 2] = nd - 1;
    attrs.axes[nd - 1] = nd - 2;
    return em__dispatch(EM_OP_PERMUTE, &x, 1, &attrs);
}

em_tensor *em_expand_dims(em_tensor *x, int axis)
{
    if (!ops_inputs_present("expand_dims", &x, 1))
        return NULL;
    int nd = x->type.ndim;
    char detail[200];
    if (nd == EM_MAX_DIMS) {
        snprintf(detail, sizeof detail, "already at the limit of %d dimensions",
                 EM_MAX_DIMS);
        em__error_op("expand_dims", &x, 1, detail);
        return NULL;
    }
    int at = axis;
    if (!em__normalize_axis(&at, nd + 1)) {
        snprintf(detail, sizeof detail, "axis %d outside [%d, %d]", axis,
                 -nd - 1, nd);
        em__error_op("expand_dims", &x, 1, detail);
        return NULL;
    }
    int64_t shape[EM_MAX_DIMS];
    for (int i = 0, j = 0; i <= nd; i++)
        shape[i] = i == at ? 1 : x->type.shape[j++];
    return em_reshape(x, nd + 1, shape);
}

em_tensor *em_squeeze(em_tensor *x, int naxes, const int *axes)
{
    if (!ops_inputs_present("squeeze", &x, 1))
        return NULL;
    int nd = x->type.ndim;
    char detail[200];
    if (naxes < 0 || naxes > nd || (naxes > 0 && !axes)) {
        snprintf(detail, sizeof detail, "%d axes given%s", naxes,
                 naxes > 0 && !axes ? " with a NULL list" : "");
        em__error_op("squeeze", &x, 1, detail);
        return NULL;
    }

    bool drop[EM_MAX_DIMS] = {false};
    for (int i = 0; i < nd && naxes == 0; i++)
        drop[i] = x->type.shape[i] == 1;
    for (int k = 0; k < naxes; k++) {
        int a = axes[k];
        if (!em__normalize_axis(&a, nd))
            snprintf(detail, sizeof detail, "axis %d out of range", axes[k]);
        else if (drop[a])
            snprintf(detail, sizeof detail, "axis %d listed twice", axes[k]);
        else if (x->type.shape[a] != 1)
            snprintf(detail, sizeof detail,
                     "cannot squeeze axis %d of size %lld", axes[k],
                     (long long)x->type.shape[a]);
        else {
            drop[a] = true;
            continue;
        }
        em__error_op("squeeze", &x, 1, detail);
        return NULL;
    }

    int64_t shape[EM_MAX_DIMS];
    int out_nd = 0;
    for (int i = 0; i < nd; i++)
        if (!drop[i])
            shape[out_nd++] = x->type.shape[i];
    return em_reshape(x, out_nd, shape);
}

em_tensor *em_broadcast_to(em_tensor *x, int ndim, const int64_t *shape)
{
    if (!ops_inputs_present("broadcast_to", &x, 1))
        return NULL;
    if (ndim < 0 || ndim > EM_MAX_DIMS || (ndim > 0 && !shape)) {
        char detail[100];
        snprintf(detail, sizeof detail, "target ndim %d%s", ndim,
                 ndim > 0 && ndim <= EM_MAX_DIMS ? " with a NULL shape"
                                                 : " out of range");
        em__error_op("broadcast_to", &x, 1, detail);
        return NULL;
    }
    em__attrs attrs = {0};
    attrs.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        attrs.shape[i] = shape[i];
    return em__dispatch(EM_OP_BROADCAST_TO, &x, 1, &attrs);
}

/* Checks a list of n tensors given to `op`; false (with the error recorded
 * unless a NULL input already carries one) when it cannot be used. */
static bool check_list(const char *op, int n, em_tensor *const *xs)
{
    if (n < 1 || !xs) {
        char detail[100];
        snprintf(detail, sizeof detail, "needs at least one tensor, %d given%s",
                 n, n >= 1 ? " as a NULL list" : "");
        em__error_op(op, NULL, 0, detail);
        return false;
    }
    return ops_inputs_present(op, xs, n);
}

em_tensor *em_concat(int n, em_tensor *const *xs, int axis)
{
    if (!check_list("concat", n, xs))
        return NULL;
    em__attrs attrs = {0};
    attrs.axis = axis;

    em_dtype dtype = xs[0]->type.dtype;
    for (int i = 1; i < n; i++)
        dtype = em_dtype_promote(dtype, xs[i]->type.dtype);
    bool mixed = false;
    for (int i = 0; i < n; i++)
        mixed = mixed || xs[i]->type.dtype != dtype;
    if (!mixed)
        return em__dispatch(EM_OP_CONCAT, xs, n, &attrs);

    /* Mixed dtypes promote as for binary ops. */
    em_tensor **cast = calloc((size_t)n, sizeof *cast);
    if (!cast) {
        em__error("concat: out of memory");
        return NULL;
    }
    em_tensor **use = malloc(sizeof *use * (size_t)n);
    em_tensor *out = NULL;
    if (use) {
        bool ok = true;
        for (int i = 0; i < n && ok; i++) {
            if (xs[i]->type.dtype != dtype)
                cast[i] = em_cast(xs[i], dtype);
            use[i] = cast[i] ? cast[i] : xs[i];
            ok = xs[i]->type.dtype == dtype || cast[i];
        }
        if (ok)
            out = em__dispatch(EM_OP_CONCAT, use, n, &attrs);
    } else {
        em__error("concat: out of memory");
    }
    for (int i = 0; i < n; i++)
        em_tensor_free(cast[i]);
    free(cast);
    free(use);
    return out;
}

em_tensor *em_stack(int n, em_tensor *const *xs, int axis)
{
    if (!check_list("stack", n, xs))
        return NULL;
    const em__type *first = &xs[0]->type;
    for (int i = 1; i < n; i++) {
        if (em__type_equal_shape(&xs[i]->type, first))
            continue;
        char a[160], b[160], detail[400];
        snprintf(
            detail, sizeof detail, "input %d has shape %s, input 0 has %s", i,
            em_shape_format(xs[i]->type.ndim, xs[i]->type.shape, a, sizeof a),
            em_shape_format(first->ndim, first->shape, b, sizeof b));
        em__error_op("stack", xs, n, detail);
        return NULL;
    }
    if (first->ndim == EM_MAX_DIMS) {
        char detail[100];
        snprintf(detail, sizeof detail,
                 "the result would have %d dimensions (limit %d)",
                 EM_MAX_DIMS + 1, EM_MAX_DIMS);
        em__error_op("stack", xs, n, detail);
        return NULL;
    }
    int at = axis;
    if (!em__normalize_axis(&at, first->ndim + 1)) {
        char detail[100];
        snprintf(detail, sizeof detail, "axis %d outside [%d, %d]", axis,
                 -first->ndim - 1, first->ndim);
        em__error_op("stack", xs, n, detail);
        return NULL;
    }

    em_tensor **expanded = calloc((size_t)n, sizeof *expanded);
    if (!expanded) {
        em__error("stack: out of memory");
        return NULL;
    }
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        expanded[i] = em_expand_dims(xs[i], at);
        ok = expanded[i] != NULL;
    }
    em_tensor *out = ok ? em_concat(n, expanded, at) : NULL;
    for (int i = 0; i < n; i++)
        em_tensor_free(expanded[i]);
    free(expanded);
    return out;
}
