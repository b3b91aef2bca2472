/*
 * benchmarks/reference_mlp_cuda.h - the mlp-step workload on a GPU,
 * written by hand: a 3-layer ReLU network's forward pass, softmax
 * cross-entropy, backward pass and SGD-with-momentum update, with cuBLAS
 * for the matrix products and the bias gradients, and a few small kernels
 * (reference_mlp_cuda_kernels.cu) for the rest, all queued on one stream.
 * It is the yardstick ember's GPU step is measured against: the same
 * cuBLAS calls ember makes, nothing in between. Built only with CUDA.
 */
#ifndef EMBER_BENCH_REFERENCE_MLP_CUDA_H
#define EMBER_BENCH_REFERENCE_MLP_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ref_mlp_cuda ref_mlp_cuda;

/* A network on GPU 0 for batches of `batch` rows with layer widths
 * sizes[0] (inputs), sizes[1], sizes[2] (hidden) and sizes[3] (classes),
 * starting from init (host arrays W1, b1, W2, b2, W3, b3: row-major
 * [in, out] weights and [out] biases), trained by SGD with the given
 * learning rate and momentum. float32 products use TF32 tensor cores when
 * tf32 is set, as em_cuda_set_tf32 makes ember's do. The n_data batches
 * x[k] ([batch, sizes[0]]) and labels[k] ([batch], each in
 * [0, sizes[3])), host arrays, are copied to the GPU once. NULL with a
 * message on stderr when a CUDA or cuBLAS call fails. Release with
 * ref_mlp_cuda_free. */
ref_mlp_cuda *ref_mlp_cuda_new(int64_t batch, const int sizes[4],
                               const float *const init[6], int n_data,
                               const float *const *x,
                               const int64_t *const *labels, float lr,
                               float momentum, bool tf32);
void ref_mlp_cuda_free(ref_mlp_cuda *m);

/* Queues one training step on data batch k: forward, loss, gradients of
 * every weight and bias, update. Returns at once: 0, or -1 with a message
 * on stderr when a launch failed. */
int ref_mlp_cuda_step(ref_mlp_cuda *m, int k);

/* Waits for the queued steps. Returns the mean loss of the last one
 * (before its update), or NAN with a message on stderr when the GPU
 * reported an error. */
float ref_mlp_cuda_finish(ref_mlp_cuda *m);

/* Waits for the queued steps and copies parameter i (W1, b1, W2, b2, W3,
 * b3) into host memory of n floats. 0, or -1 with a message on stderr
 * when i or n is wrong or the copy failed. */
int ref_mlp_cuda_param(ref_mlp_cuda *m, int i, float *host, int64_t n);

/* The name of GPU 0 ("NVIDIA H200") into buf, or "unknown GPU". */
void ref_cuda_device_name(char *buf, size_t size);

#endif
