/*
 * cuda/cuda_kernels.h - the launchers of the CUDA kernels (cuda/ kernel files),
 * in plain C terms so that the C side (cuda/kernels.c) calls them without
 * seeing CUDA C++. Every launcher queues its work on `stream` and returns
 * at once; op and dtype arguments are em__op and em_dtype values.
 */
#ifndef EMBER_CUDA_KERNELS_H
#define EMBER_CUDA_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "ember/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How an output's flat index maps to up to three operands: the output's
 * shape, and for each operand a base offset and per-dimension strides in
 * elements (0 along broadcast dimensions, negative for reversed slices). */
typedef struct em__cu_index {
    int ndim;
    int64_t shape[EM_MAX_DIMS];
    int64_t base[3];
    int64_t stride[3][EM_MAX_DIMS];
} em__cu_index;

/* [n] -> [n] */
void em__cu_unary(int op, em_dtype dtype, void *out, const void *in, int64_t n,
                  double alpha, cudaStream_t stream);
/* [a] x [b] -> [broadcast]; comparisons and logical ops write bool. */
void em__cu_binary(int op, em_dtype dtype, void *out, const void *a,
                   const void *b, const em__cu_index *ix, int64_t n,
                   cudaStream_t stream);
/* bool[c] x T[a] x T[b] -> T[broadcast], elements of elem bytes. */
void em__cu_where(size_t elem, void *out, const void *c, const void *a,
                  const void *b, const em__cu_index *ix, int64_t n,
                  cudaStream_t stream);
/* out[i] = in[offset(i)] through operand 0 of ix: permute, broadcast_to,
 * slice, and one input of concat (base = where its block starts). */
void em__cu_strided_copy(size_t elem, void *out, const void *in,
                         const em__cu_index *ix, int64_t n,
                         cudaStream_t stream);
/* [n] from -> [n] to, as em_cast converts. */
void em__cu_cast(em_dtype from, em_dtype to, void *out, const void *in,
                 int64_t n, cudaStream_t stream);
/* v[n] (how)= x broadcast through operand 0 of ix, converted to v's dtype;
 * how: 0 set, 1 add, 2 sub, 3 v = a v + x, 4 v -= s[0] x. */
void em__cu_assign(int how, em_dtype vt, void *v, em_dtype xt, const void *x,
                   const em__cu_index *ix, int64_t n, double a, em_dtype st,
                   const void *s, cudaStream_t stream);

/* [outer, r, inner] -> [outer, inner] for sum, max, min (same dtype). */
void em__cu_reduce(int op, em_dtype dtype, void *out, const void *in,
                   int64_t outer, int64_t r, int64_t inner,
                   cudaStream_t stream);
/* [outer, r, inner] -> int64 [outer, inner]: first index of the extreme. */
void em__cu_arg_reduce(int op, em_dtype dtype, int64_t *out, const void *in,
                       int64_t outer, int64_t r, int64_t inner,
                       cudaStream_t stream);
/* [outer, r, inner] -> same, softmax (or log_softmax) along r. */
void em__cu_softmax(bool log, em_dtype dtype, void *out, const void *in,
                    int64_t outer, int64_t r, int64_t inner,
                    cudaStream_t stream);
/* x [outer, dim, inner] x idx [k] -> [outer, k, inner]. An index out of
 * range writes zeros and raises the device's error flag. */
void em__cu_gather(size_t elem, void *out, const void *x, em_dtype it,
                   const void *idx, int64_t outer, int64_t dim, int64_t inner,
                   int64_t k, cudaStream_t stream);
/* labels [n] -> [n, depth] of dtype; out-of-range labels give a zero row
 * and raise the error flag. */
void em__cu_one_hot(em_dtype dtype, void *out, em_dtype lt, const void *labels,
                    int64_t n, int64_t depth, cudaStream_t stream);
/* Reads and clears the error flag that gather and one_hot raise (waits
 * for the stream): 0, or 1 after an out-of-range index. */
int em__cu_take_error(cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
