/*
 * benchmarks/reference_mlp_cuda_kernels.h - the small kernels of the
 * hand-written GPU step (reference_mlp_cuda_kernels.cu), in C terms. Each
 * launcher queues its kernel on `stream` and returns at once.
 */
#ifndef EMBER_BENCH_REFERENCE_MLP_CUDA_KERNELS_H
#define EMBER_BENCH_REFERENCE_MLP_CUDA_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* [rows, cols] + [cols] -> [rows, cols] in place, then ReLU when relu. */
void ref_cu_bias_act(float *out, const float *bias, int64_t rows, int cols,
                     bool relu, cudaStream_t stream);

/* [rows, classes] logits x [rows] labels -> d [rows, classes] =
 * (softmax - one_hot) / rows, and row_loss [rows] = -log softmax[label]. */
void ref_cu_softmax_xent(const float *logits, const int64_t *labels, float *d,
                         float *row_loss, int64_t rows, int classes,
                         cudaStream_t stream);

/* [n] -> [1]: the mean, summed in double by one block. */
void ref_cu_mean(const float *in, float *out, int64_t n, cudaStream_t stream);

/* d[i] = 0 where out[i] <= 0 (the ReLU's derivative, read from its
 * output), over [n]. */
void ref_cu_relu_mask(float *d, const float *out, int64_t n,
                      cudaStream_t stream);

/* buf = mu buf + g; v -= lr buf, over [n]. */
void ref_cu_sgd_momentum(float *v, float *buf, const float *g, int64_t n,
                         float lr, float mu, cudaStream_t stream);

/* out[i] = 1 over [n]. */
void ref_cu_fill_ones(float *out, int64_t n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
