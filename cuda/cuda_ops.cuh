/*
 * cuda/cuda_ops.cuh - what the CUDA kernel files share: the op ids (from
 * the one op list), launch geometry and element conversions that follow
 * em_cast's rules.
 */
#ifndef EMBER_CUDA_OPS_CUH
#define EMBER_CUDA_OPS_CUH

#include <stdint.h>

#include <type_traits>

#include "cuda_kernels.h"

enum cu_op {
#define EM__OP(id, name, arity) OP_##id,
#include "op_list.h"
#undef EM__OP
    OP_COUNT
};

#define CU_THREADS 256

/* Blocks for a grid-stride loop over n elements. */
static inline unsigned cu_blocks(int64_t n)
{
    int64_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b < 1)
        b = 1;
    return (unsigned)(b > 65535 * 8 ? 65535 * 8 : b);
}

#define CU_FOR(i, n)                                                           \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n);  \
         i += (int64_t)gridDim.x * blockDim.x)

/* Offset of output element i in operand k. */
__device__ static inline int64_t cu_offset(const em__cu_index &ix, int k,
                                           int64_t i)
{
    int64_t off = ix.base[k];
    for (int d = ix.ndim - 1; d >= 0; d--) {
        int64_t q = i / ix.shape[d];
        off += (i - q * ix.shape[d]) * ix.stride[k][d];
        i = q;
    }
    return off;
}

__device__ static inline double cu_load_f64(const void *p, em_dtype t,
                                            int64_t i)
{
    switch (t) {
    case EM_BOOL:
    case EM_UINT8:
        return ((const uint8_t *)p)[i];
    case EM_INT32:
        return ((const int32_t *)p)[i];
    case EM_INT64:
        return (double)((const int64_t *)p)[i];
    case EM_FLOAT32:
        return ((const float *)p)[i];
    default:
        return ((const double *)p)[i];
    }
}

__device__ static inline int64_t cu_load_i64(const void *p, em_dtype t,
                                             int64_t i)
{
    switch (t) {
    case EM_BOOL:
    case EM_UINT8:
        return ((const uint8_t *)p)[i];
    case EM_INT32:
        return ((const int32_t *)p)[i];
    case EM_INT64:
        return ((const int64_t *)p)[i];
    default: {
        double v = cu_load_f64(p, t, i);
        return v > -9.2e18 && v < 9.2e18 ? (int64_t)v : 0;
    }
    }
}

/* A double to an integer, truncating; NaN and out of range give 0. */
__device__ static inline int64_t cu_clamp(double v, double lo, double hi)
{
    return v >= lo && v <= hi ? (int64_t)v : 0;
}

__device__ static inline void cu_store_f64(void *p, em_dtype t, int64_t i,
                                           double v)
{
    switch (t) {
    case EM_BOOL:
        ((uint8_t *)p)[i] = v != 0;
        break;
    case EM_UINT8:
        ((uint8_t *)p)[i] = (uint8_t)cu_clamp(v, 0, 255);
        break;
    case EM_INT32:
        ((int32_t *)p)[i] = (int32_t)cu_clamp(v, -2147483648.0, 2147483647.0);
        break;
    case EM_INT64:
        ((int64_t *)p)[i] = cu_clamp(v, -9.2e18, 9.2e18);
        break;
    case EM_FLOAT32:
        ((float *)p)[i] = (float)v;
        break;
    default:
        ((double *)p)[i] = v;
        break;
    }
}

/* Runs F<T> for the dtype's C type. */
#define CU_DISPATCH_DTYPE(dtype, F, ...)                                       \
    do {                                                                       \
        switch (dtype) {                                                       \
        case EM_BOOL:                                                          \
        case EM_UINT8:                                                         \
            F<uint8_t>(__VA_ARGS__);                                           \
            break;                                                             \
        case EM_INT32:                                                         \
            F<int32_t>(__VA_ARGS__);                                           \
            break;                                                             \
        case EM_INT64:                                                         \
            F<int64_t>(__VA_ARGS__);                                           \
            break;                                                             \
        case EM_FLOAT32:                                                       \
            F<float>(__VA_ARGS__);                                             \
            break;                                                             \
        default:                                                               \
            F<double>(__VA_ARGS__);                                            \
            break;                                                             \
        }                                                                      \
    } while (0)

#endif
