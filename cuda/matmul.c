/*
 * cuda/matmul.c - matrix products through cuBLAS.
 *
 * cuBLAS is column-major; a row-major C = A B is the column-major
 * C^T = B^T A^T, so the operands are passed swapped and nothing is copied.
 * float32 products use TF32 tensor cores only when em_cuda_set_tf32 allowed
 * it; float64 products are exact IEEE.
 */
#include "cuda_internal.h"

bool em__cuda_gemm(em_device device, em_dtype dtype, bool ta, bool tb,
                   int64_t batch, int64_t m, int64_t n, int64_t k,
                   const void *a, int64_t sa, const void *b, int64_t sb,
                   void *c, int64_t sc, char *msg, size_t size)
{
    cublasHandle_t h = em__cuda_blas(device);
    if (!h) {
        snprintf(msg, size, "%s", em_error_last());
        return false;
    }
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || batch > INT32_MAX) {
        snprintf(msg, size, "dimensions beyond cuBLAS's 32-bit range");
        return false;
    }
    if (m == 0 || n == 0 || batch == 0)
        return true;
    /* Row-major leading dimensions: the stored rows' lengths. */
    int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n), ldc = (int)n;
    cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    cudaDataType_t t = dtype == EM_FLOAT32 ? CUDA_R_32F : CUDA_R_64F;
    cublasComputeType_t compute = dtype == EM_FLOAT64 ? CUBLAS_COMPUTE_64F
                                  : em__cuda_tf32()
                                      ? CUBLAS_COMPUTE_32F_FAST_TF32
                                      : CUBLAS_COMPUTE_32F;
    float one_f = 1, zero_f = 0;
    double one_d = 1, zero_d = 0;
    const void *one = dtype == EM_FLOAT32 ? (const void *)&one_f : &one_d;
    const void *zero = dtype == EM_FLOAT32 ? (const void *)&zero_f : &zero_d;
    cublasStatus_t st;
    if (k == 0) {
        /* An empty sum: zeros (cuBLAS leaves C alone when k is 0). */
        size_t bytes = (size_t)(batch * m * n) * em_dtype_size(dtype);
        cudaError_t e = cudaMemsetAsync(c, 0, bytes, em__cuda_stream(device));
        if (e == cudaSuccess)
            return true;
        cudaGetLastError();
        snprintf(msg, size, "clearing an empty product failed on the GPU: %s",
                 cudaGetErrorString(e));
        return false;
    }
    if (batch == 1)
        st =
            cublasGemmEx(h, opb, opa, (int)n, (int)m, (int)k, one, b, t, ldb, a,
                         t, lda, zero, c, t, ldc, compute, CUBLAS_GEMM_DEFAULT);
    else
        st = cublasGemmStridedBatchedEx(
            h, opb, opa, (int)n, (int)m, (int)k, one, b, t, ldb, sb, a, t, lda,
            sa, zero, c, t, ldc, sc, (int)batch, compute, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) {
        snprintf(msg, size, "cuBLAS failed (status %d)", (int)st);
        return false;
    }
    return true;
}
