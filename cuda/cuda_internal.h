/*
 * cuda/cuda_internal.h - what the C files of the CUDA backend share: each
 * device's stream and cuBLAS handle (made on first use), error checks and
 * the backend's kernel table.
 */
#ifndef EMBER_CUDA_INTERNAL_H
#define EMBER_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "internal.h"

/* The stream all of device's work is queued on, after making it the
 * calling thread's current device; NULL with an error when the device
 * cannot be set up. */
cudaStream_t em__cuda_stream(em_device device);
/* The device's cuBLAS handle, bound to its stream; NULL with an error. */
cublasHandle_t em__cuda_blas(em_device device);
/* True when TF32 products were allowed (em_cuda_set_tf32). */
bool em__cuda_tf32(void);
/* True when the last launches went well; else false with "<what>: <CUDA's
 * message>" written to msg. */
bool em__cuda_launched(const char *what, char *msg, size_t size);

/* Device memory, stream-ordered: a block freed here is reused by later
 * work on the same stream without waiting. */
void *em__cuda_alloc(em_device device, size_t bytes);
void em__cuda_free(em_device device, void *ptr);

/* The CUDA column of the op table (NULL: no kernel, or a view). */
extern const em__kernel_fn em__cuda_kernels[EM_OP_COUNT];

/* C = op(A) op(B) for float matrices on device, [batch] of them with
 * element strides sa, sb, sc between batches (0: shared). False with msg. */
bool em__cuda_gemm(em_device device, em_dtype dtype, bool ta, bool tb,
                   int64_t batch, int64_t m, int64_t n, int64_t k,
                   const void *a, int64_t sa, const void *b, int64_t sb,
                   void *c, int64_t sc, char *msg, size_t size);

#endif
