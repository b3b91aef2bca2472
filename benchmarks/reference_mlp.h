/*
 * benchmarks/reference_mlp.h - the mlp-step workload written by hand: the
 * 784-256-128-10 ReLU network's forward pass, softmax cross-entropy,
 * backward pass and SGD-with-momentum update, with cblas_sgemm for the
 * matrix products and plain loops for the rest. It is the yardstick the
 * eager step is measured against (same arithmetic, no runtime).
 */
#ifndef EMBER_BENCH_REFERENCE_MLP_H
#define EMBER_BENCH_REFERENCE_MLP_H

#include <stdint.h>

typedef struct ref_mlp ref_mlp;

/* A network for batches of `batch` rows, He-normal weights and zero biases
 * drawn from `seed`, and an SGD optimiser with the given learning rate and
 * momentum. NULL when out of memory. Release with ref_mlp_free. */
ref_mlp *ref_mlp_new(int64_t batch, uint64_t seed, float lr, float momentum);
void ref_mlp_free(ref_mlp *m);

/* One training step on x [batch, 784] and labels [batch] (each in [0, 10)):
 * forward, loss, gradients of every weight and bias, update. Returns the
 * mean loss before the update. */
float ref_mlp_step(ref_mlp *m, const float *x, const int64_t *labels);

/* Parameter i of W1, b1, W2, b2, W3, b3 (row-major [in, out] weights,
 * [out] biases): its values, which the caller may read or overwrite, and
 * its shape (ndim 2 or 1) into shape[]. NULL for i outside [0, 6). */
float *ref_mlp_param(ref_mlp *m, int i, int *ndim, int64_t shape[2]);

/* Threads OpenBLAS runs its products on. */
int ref_blas_threads(void);

#endif
