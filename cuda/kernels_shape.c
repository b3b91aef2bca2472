/*
 * cuda/kernels_shape.c - the CUDA kernels of reductions, softmax, matrix
 * products and data movement: each works out the [outer, r, inner] view
 * or the strides of its operands and queues the launcher or cuBLAS call.
 */
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"
#include "cuda_table.h"

static cudaStream_t stream_for(const em_tensor *out, char *msg, size_t size)
{
    cudaStream_t s = em__cuda_stream(out->storage->device);
    if (!s)
        snprintf(msg, size, "%s", em_error_last());
    return s;
}

static int64_t product(const int64_t *shape, int from, int to)
{
    int64_t p = 1;
    for (int d = from; d < to; d++)
        p *= shape[d];
    return p;
}

/* ---- reductions -----------------------------------------------------------*/

/* x -> sum, max or min over attrs' axes (all when naxes is 0). Axes that
 * form one run reduce in place as [outer, r, inner]; others are first
 * permuted to the end into a scratch buffer. */
static bool reduce(int op, em_tensor *out, const em_tensor *x,
                   const em__attrs *attrs, char *msg, size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    int nd = x->type.ndim;
    bool reduced[EM_MAX_DIMS] = {0};
    for (int d = 0; d < nd; d++)
        reduced[d] = attrs->naxes == 0;
    for (int a = 0; a < attrs->naxes; a++)
        reduced[attrs->axes[a]] = true;
    /* Size-1 dimensions fit either side, so they never break the run. */
    int lo = nd, hi = -1;
    for (int d = 0; d < nd; d++)
        if (reduced[d] && x->type.shape[d] != 1) {
            lo = d < lo ? d : lo;
            hi = d;
        }
    bool run = true;
    for (int d = lo; d <= hi; d++)
        run = run && (reduced[d] || x->type.shape[d] == 1);

    const void *src = x->data;
    void *tmp = NULL;
    int64_t outer, r, inner;
    if (hi < 0) {
        outer = out->size;
        r = product(x->type.shape, 0, nd) == 0 ? 0 : 1;
        inner = 1;
    } else if (run) {
        outer = product(x->type.shape, 0, lo);
        r = product(x->type.shape, lo, hi + 1);
        inner = product(x->type.shape, hi + 1, nd);
    } else {
        em__cu_index ix = {.ndim = nd};
        int64_t strides[EM_MAX_DIMS];
        em__strides(&x->type, strides);
        int k = 0;
        outer = r = inner = 1;
        for (int pass = 0; pass < 2; pass++)
            for (int d = 0; d < nd; d++)
                if (reduced[d] == (pass == 1)) {
                    ix.shape[k] = x->type.shape[d];
                    ix.stride[0][k++] = strides[d];
                    *(pass ? &r : &outer) *= x->type.shape[d];
                }
        tmp = em__cuda_alloc(out->storage->device, em_tensor_nbytes(x) + 1);
        if (!tmp) {
            snprintf(msg, size, "%s", em_error_last());
            return false;
        }
        em__cu_strided_copy(em_dtype_size(x->type.dtype), tmp, x->data, &ix,
                            x->size, s);
        src = tmp;
    }
    em__cu_reduce(op, x->type.dtype, out->data, src, outer, r, inner, s);
    if (tmp)
        em__cuda_free(out->storage->device, tmp);
    return em__cuda_launched(em__op_table[op].name, msg, size);
}

EM__CU_KERNEL(sum)
{
    (void)n;
    return reduce(EM_OP_SUM, out, in[0], attrs, msg, size);
}

EM__CU_KERNEL(max)
{
    (void)n;
    return reduce(EM_OP_MAX, out, in[0], attrs, msg, size);
}

EM__CU_KERNEL(min)
{
    (void)n;
    return reduce(EM_OP_MIN, out, in[0], attrs, msg, size);
}

/* [outer, r, inner] around attrs->axis. */
static void split(const em_tensor *x, int axis, int64_t *outer, int64_t *r,
                  int64_t *inner)
{
    *outer = product(x->type.shape, 0, axis);
    *r = x->type.shape[axis];
    *inner = product(x->type.shape, axis + 1, x->type.ndim);
}

/* x [..., r, ...] -> int64 index of the first extreme along attrs->axis. */
static bool arg_reduce(int op, em_tensor *out, const em_tensor *x,
                       const em__attrs *attrs, char *msg, size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    int64_t outer, r, inner;
    split(x, attrs->axis, &outer, &r, &inner);
    em__cu_arg_reduce(op, x->type.dtype, out->data, x->data, outer, r, inner,
                      s);
    return em__cuda_launched(em__op_table[op].name, msg, size);
}

EM__CU_KERNEL(argmax)
{
    (void)n;
    return arg_reduce(EM_OP_ARGMAX, out, in[0], attrs, msg, size);
}

EM__CU_KERNEL(argmin)
{
    (void)n;
    return arg_reduce(EM_OP_ARGMIN, out, in[0], attrs, msg, size);
}

/* x -> same shape, normalised along attrs->axis. */
static bool softmax(bool log, em_tensor *out, const em_tensor *x,
                    const em__attrs *attrs, char *msg, size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    int64_t outer, r, inner;
    split(x, attrs->axis, &outer, &r, &inner);
    em__cu_softmax(log, x->type.dtype, out->data, x->data, outer, r, inner, s);
    return em__cuda_launched(log ? "log_softmax" : "softmax", msg, size);
}

EM__CU_KERNEL(softmax)
{
    (void)n;
    return softmax(false, out, in[0], attrs, msg, size);
}

EM__CU_KERNEL(log_softmax)
{
    (void)n;
    return softmax(true, out, in[0], attrs, msg, size);
}

/* ---- matrix products ------------------------------------------------------*/

/* Batch stride of an operand in elements when its batch dimensions are
 * all 1 (0) or exactly the output's (one matrix each); -1 otherwise. */
static int64_t batch_stride(const em_tensor *t, const em_tensor *out)
{
    int tb = t->type.ndim - 2, ob = out->type.ndim - 2;
    int64_t count = product(t->type.shape, 0, tb);
    int64_t matrix = t->type.shape[tb] * t->type.shape[tb + 1];
    if (count == 1)
        return 0;
    if (tb != ob)
        return -1;
    for (int d = 0; d < tb; d++)
        if (t->type.shape[d] != out->type.shape[d])
            return -1;
    return matrix;
}

/* [..., m, k] x [..., k, n] -> [broadcast ..., m, n] (either transposed):
 * one strided-batched cuBLAS call, or one call per batch when the batch
 * dimensions broadcast partially. */
EM__CU_KERNEL(matmul)
{
    (void)n;
    const em_tensor *a = in[0], *b = in[1];
    bool ta = attrs->transpose_a, tb = attrs->transpose_b;
    int an = a->type.ndim, bn = b->type.ndim, on = out->type.ndim;
    int64_t m = out->type.shape[on - 2], cols = out->type.shape[on - 1];
    int64_t k = ta ? a->type.shape[an - 2] : a->type.shape[an - 1];
    int64_t batch = product(out->type.shape, 0, on - 2);
    int64_t sa = batch_stride(a, out), sb = batch_stride(b, out);
    em_device dev = out->storage->device;
    size_t elem = em_dtype_size(out->type.dtype);
    if (sa >= 0 && sb >= 0)
        return em__cuda_gemm(dev, out->type.dtype, ta, tb, batch, m, cols, k,
                             a->data, sa, b->data, sb, out->data, m * cols, msg,
                             size);
    /* Partial broadcasting: walk the output's batch index. */
    em__type ob = {.ndim = on - 2};
    memcpy(ob.shape, out->type.shape, sizeof(int64_t) * (size_t)ob.ndim);
    em__type abt = {.ndim = an - 2}, bbt = {.ndim = bn - 2};
    memcpy(abt.shape, a->type.shape, sizeof(int64_t) * (size_t)abt.ndim);
    memcpy(bbt.shape, b->type.shape, sizeof(int64_t) * (size_t)bbt.ndim);
    int64_t as[EM_MAX_DIMS], bs[EM_MAX_DIMS];
    em__broadcast_strides(&abt, &ob, as);
    em__broadcast_strides(&bbt, &ob, bs);
    int64_t am = a->type.shape[an - 2] * a->type.shape[an - 1];
    int64_t bm = b->type.shape[bn - 2] * b->type.shape[bn - 1];
    for (int64_t z = 0; z < batch; z++) {
        int64_t rest = z, ao = 0, bo = 0;
        for (int d = ob.ndim - 1; d >= 0; d--) {
            int64_t i = rest % ob.shape[d];
            rest /= ob.shape[d];
            ao += i * as[d];
            bo += i * bs[d];
        }
        if (!em__cuda_gemm(dev, out->type.dtype, ta, tb, 1, m, cols, k,
                           (const char *)a->data + (size_t)(ao * am) * elem, 0,
                           (const char *)b->data + (size_t)(bo * bm) * elem, 0,
                           (char *)out->data + (size_t)(z * m * cols) * elem, 0,
                           msg, size))
            return false;
    }
    return true;
}

/* ---- data movement --------------------------------------------------------*/

static bool strided(const char *what, em_tensor *out, const em_tensor *x,
                    const em__cu_index *ix, char *msg, size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_strided_copy(em_dtype_size(x->type.dtype), out->data, x->data, ix,
                        out->size, s);
    return em__cuda_launched(what, msg, size);
}

/* x -> x with dimension d of the output taken from axes[d]. */
EM__CU_KERNEL(permute)
{
    (void)n;
    const em_tensor *x = in[0];
    int64_t strides[EM_MAX_DIMS];
    em__strides(&x->type, strides);
    em__cu_index ix = {.ndim = out->type.ndim};
    memcpy(ix.shape, out->type.shape, sizeof ix.shape);
    for (int d = 0; d < out->type.ndim; d++)
        ix.stride[0][d] = strides[attrs->axes[d]];
    return strided("permute", out, x, &ix, msg, size);
}

/* [shape] -> [target], broadcast. */
EM__CU_KERNEL(broadcast_to)
{
    (void)n, (void)attrs;
    em__cu_index ix = {.ndim = out->type.ndim};
    memcpy(ix.shape, out->type.shape, sizeof ix.shape);
    em__broadcast_strides(&in[0]->type, &out->type, ix.stride[0]);
    return strided("broadcast_to", out, in[0], &ix, msg, size);
}

/* [shape] -> [ceil((stop - start) / step) per dim], any step sign. */
EM__CU_KERNEL(slice)
{
    (void)n;
    const em_tensor *x = in[0];
    int64_t strides[EM_MAX_DIMS];
    em__strides(&x->type, strides);
    em__cu_index ix = {.ndim = out->type.ndim};
    memcpy(ix.shape, out->type.shape, sizeof ix.shape);
    for (int d = 0; d < x->type.ndim; d++) {
        ix.base[0] += attrs->start[d] * strides[d];
        ix.stride[0][d] = attrs->step[d] * strides[d];
    }
    return strided("slice", out, x, &ix, msg, size);
}

/* [a..., ni, b...] for each input -> [a..., sum ni, b...]: one 2-d copy
 * per input (rows of the outer dimensions). */
EM__CU_KERNEL(concat)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    int axis = attrs->axis;
    size_t elem = em_dtype_size(out->type.dtype);
    int64_t outer = product(out->type.shape, 0, axis);
    int64_t inner = product(out->type.shape, axis + 1, out->type.ndim);
    size_t pitch = (size_t)(out->type.shape[axis] * inner) * elem;
    size_t offset = 0;
    for (int i = 0; i < n; i++) {
        size_t width = (size_t)(in[i]->type.shape[axis] * inner) * elem;
        if (width > 0 && outer > 0 &&
            cudaMemcpy2DAsync((char *)out->data + offset, pitch, in[i]->data,
                              width, width, (size_t)outer,
                              cudaMemcpyDeviceToDevice, s) != cudaSuccess)
            return em__cuda_launched("concat", msg, size);
        offset += width;
    }
    return true;
}

/* x [outer, dim, inner] x indices [k...] -> [outer, k..., inner]. */
EM__CU_KERNEL(gather)
{
    (void)n;
    const em_tensor *x = in[0], *idx = in[1];
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    int64_t outer, dim, inner;
    split(x, attrs->axis, &outer, &dim, &inner);
    em__cu_gather(em_dtype_size(x->type.dtype), out->data, x->data,
                  idx->type.dtype, idx->data, outer, dim, inner, idx->size, s);
    return em__cuda_launched("gather", msg, size);
}

/* labels [n...] -> [n..., depth] of attrs->dtype. */
EM__CU_KERNEL(one_hot)
{
    (void)n;
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_one_hot(out->type.dtype, out->data, in[0]->type.dtype, in[0]->data,
                   in[0]->size, attrs->depth, s);
    return em__cuda_launched("one_hot", msg, size);
}
