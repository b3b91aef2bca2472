/*
 * cuda/reduce.cu - kernels that combine elements: sum, max, min, argmax,
 * argmin, softmax and log_softmax over one run of axes, and the indexing
 * kernels (gather, one_hot) that raise the device's error flag on a bad
 * index instead of stopping the stream to ask the host.
 *
 * Every reduction sees its input as [outer, r, inner]. With a wide inner
 * dimension one thread owns one output (neighbouring threads read
 * neighbouring elements); otherwise one block owns one output and its
 * threads share the r elements, combined through shared memory.
 */
#include <math.h>

#include "cuda_ops.cuh"

/* Raised by gather and one_hot; read by em__cu_take_error. */
__device__ static int cu_error_flag;

/* ---- sum, max, min --------------------------------------------------------*/

/* Floats sum in double; integers in int64 (wrapping to T at the end, as
 * the CPU's arithmetic does). */
template <typename T> struct acc_of {
    using type = int64_t;
};
template <> struct acc_of<float> {
    using type = double;
};
template <> struct acc_of<double> {
    using type = double;
};

template <typename A> __device__ static inline A identity(int op)
{
    if (op == OP_SUM)
        return 0;
    if constexpr (std::is_floating_point<A>::value)
        return op == OP_MAX ? -INFINITY : INFINITY;
    else
        return op == OP_MAX ? (A)INT64_MIN : (A)INT64_MAX;
}

/* NaN wins max and min and stays once found, as on the CPU. */
template <typename A> __device__ static inline A combine(int op, A acc, A x)
{
    if (op == OP_SUM)
        return acc + x;
    if constexpr (std::is_floating_point<A>::value)
        if (isnan(acc) || isnan(x))
            return isnan(acc) ? acc : x;
    if (op == OP_MAX)
        return x > acc ? x : acc;
    return x < acc ? x : acc;
}

template <typename T>
__global__ static void reduce_thread_kernel(int op, T *out, const T *in,
                                            int64_t outer, int64_t r,
                                            int64_t inner)
{
    using A = typename acc_of<T>::type;
    CU_FOR(o, outer * inner)
    {
        int64_t a = o / inner, b = o - a * inner;
        const T *p = in + a * r * inner + b;
        A acc = identity<A>(op);
        for (int64_t j = 0; j < r; j++)
            acc = combine<A>(op, acc, (A)p[j * inner]);
        out[o] = (T)acc;
    }
}

template <typename T>
__global__ static void reduce_block_kernel(int op, T *out, const T *in,
                                           int64_t r, int64_t inner)
{
    using A = typename acc_of<T>::type;
    __shared__ A part[CU_THREADS];
    int64_t o = blockIdx.x, a = o / inner, b = o - a * inner;
    const T *p = in + a * r * inner + b;
    A acc = identity<A>(op);
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x)
        acc = combine<A>(op, acc, (A)p[j * inner]);
    part[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w)
            part[threadIdx.x] =
                combine<A>(op, part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[o] = (T)part[0];
}

template <typename T>
static void launch_reduce(int op, void *out, const void *in, int64_t outer,
                          int64_t r, int64_t inner, cudaStream_t s)
{
    int64_t n = outer * inner;
    if (inner >= 32 || r < 64 || n > (1ll << 31) - 1)
        reduce_thread_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
            op, (T *)out, (const T *)in, outer, r, inner);
    else
        reduce_block_kernel<T><<<(unsigned)n, CU_THREADS, 0, s>>>(
            op, (T *)out, (const T *)in, r, inner);
}

extern "C" void em__cu_reduce(int op, em_dtype dtype, void *out, const void *in,
                              int64_t outer, int64_t r, int64_t inner,
                              cudaStream_t stream)
{
    if (outer * inner > 0)
        CU_DISPATCH_DTYPE(dtype, launch_reduce, op, out, in, outer, r, inner,
                          stream);
}

/* ---- argmax, argmin -------------------------------------------------------*/

template <typename T>
__global__ static void arg_kernel(int op, int64_t *out, const T *in,
                                  int64_t outer, int64_t r, int64_t inner)
{
    CU_FOR(o, outer * inner)
    {
        int64_t a = o / inner, b = o - a * inner;
        const T *p = in + a * r * inner + b;
        int64_t best = 0;
        T v = p[0];
        for (int64_t j = 1; j < r; j++) {
            T x = p[j * inner];
            if constexpr (std::is_floating_point<T>::value)
                if (isnan(v))
                    break;
            bool wins = op == OP_ARGMAX ? x > v : x < v;
            if constexpr (std::is_floating_point<T>::value)
                wins = wins || isnan(x);
            if (wins) {
                v = x;
                best = j;
            }
        }
        out[o] = best;
    }
}

template <typename T>
static void launch_arg(int op, int64_t *out, const void *in, int64_t outer,
                       int64_t r, int64_t inner, cudaStream_t s)
{
    arg_kernel<T><<<cu_blocks(outer * inner), CU_THREADS, 0, s>>>(
        op, out, (const T *)in, outer, r, inner);
}

extern "C" void em__cu_arg_reduce(int op, em_dtype dtype, int64_t *out,
                                  const void *in, int64_t outer, int64_t r,
                                  int64_t inner, cudaStream_t stream)
{
    if (outer * inner > 0 && r > 0)
        CU_DISPATCH_DTYPE(dtype, launch_arg, op, out, in, outer, r, inner,
                          stream);
}

/* ---- softmax --------------------------------------------------------------*/

/* A row's maximum, or 0 when it is -inf (so -inf - -inf makes no NaN). */
template <typename T> __device__ static inline T shift_of(T m)
{
    return isinf(m) && m < 0 ? (T)0 : m;
}

template <typename T>
__global__ static void softmax_thread_kernel(bool log_out, T *out, const T *in,
                                             int64_t outer, int64_t r,
                                             int64_t inner)
{
    CU_FOR(o, outer * inner)
    {
        int64_t a = o / inner, b = o - a * inner;
        const T *p = in + a * r * inner + b;
        T *q = out + a * r * inner + b;
        T m = -INFINITY;
        for (int64_t j = 0; j < r; j++)
            m = fmax(m, p[j * inner]);
        m = shift_of(m);
        double sum = 0;
        for (int64_t j = 0; j < r; j++)
            sum += exp(p[j * inner] - m);
        T ls = (T)log(sum), inv = (T)(1.0 / sum);
        for (int64_t j = 0; j < r; j++)
            q[j * inner] =
                log_out ? p[j * inner] - m - ls : exp(p[j * inner] - m) * inv;
    }
}

/* inner == 1: one block per row. */
template <typename T>
__global__ static void softmax_block_kernel(bool log_out, T *out, const T *in,
                                            int64_t r)
{
    __shared__ double part[CU_THREADS];
    const T *p = in + blockIdx.x * r;
    T *q = out + blockIdx.x * r;
    T m = -INFINITY;
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x)
        m = fmax(m, p[j]);
    part[threadIdx.x] = m;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w)
            part[threadIdx.x] = fmax(part[threadIdx.x], part[threadIdx.x + w]);
        __syncthreads();
    }
    m = shift_of((T)part[0]);
    __syncthreads();
    double sum = 0;
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x)
        sum += exp(p[j] - m);
    part[threadIdx.x] = sum;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w /= 2) {
        if (threadIdx.x < w)
            part[threadIdx.x] += part[threadIdx.x + w];
        __syncthreads();
    }
    sum = part[0];
    T ls = (T)log(sum), inv = (T)(1.0 / sum);
    for (int64_t j = threadIdx.x; j < r; j += blockDim.x)
        q[j] = log_out ? p[j] - m - ls : exp(p[j] - m) * inv;
}

template <typename T>
static void launch_softmax(bool log_out, void *out, const void *in,
                           int64_t outer, int64_t r, int64_t inner,
                           cudaStream_t s)
{
    if (inner == 1 && r >= 64 && outer < (1ll << 31))
        softmax_block_kernel<T><<<(unsigned)outer, CU_THREADS, 0, s>>>(
            log_out, (T *)out, (const T *)in, r);
    else
        softmax_thread_kernel<T>
            <<<cu_blocks(outer * inner), CU_THREADS, 0, s>>>(
                log_out, (T *)out, (const T *)in, outer, r, inner);
}

extern "C" void em__cu_softmax(bool log_out, em_dtype dtype, void *out,
                               const void *in, int64_t outer, int64_t r,
                               int64_t inner, cudaStream_t stream)
{
    if (outer * inner * r <= 0)
        return;
    if (dtype == EM_FLOAT32)
        launch_softmax<float>(log_out, out, in, outer, r, inner, stream);
    else
        launch_softmax<double>(log_out, out, in, outer, r, inner, stream);
}

/* ---- indexing -------------------------------------------------------------*/

__global__ static void gather_kernel(size_t elem, char *out, const char *x,
                                     em_dtype it, const void *idx,
                                     int64_t outer, int64_t dim, int64_t inner,
                                     int64_t k)
{
    /* One thread per output element, copied byte-wise by element size. */
    CU_FOR(e, outer * k * inner)
    {
        int64_t c = e % inner, t = e / inner, j = t % k, o = t / k;
        int64_t i = cu_load_i64(idx, it, j);
        if (i < 0)
            i += dim;
        const char *src = x + ((o * dim + i) * inner + c) * elem;
        char *dst = out + e * elem;
        if (i < 0 || i >= dim) {
            cu_error_flag = 1;
            for (size_t b = 0; b < elem; b++)
                dst[b] = 0;
            continue;
        }
        for (size_t b = 0; b < elem; b++)
            dst[b] = src[b];
    }
}

extern "C" void em__cu_gather(size_t elem, void *out, const void *x,
                              em_dtype it, const void *idx, int64_t outer,
                              int64_t dim, int64_t inner, int64_t k,
                              cudaStream_t stream)
{
    int64_t n = outer * k * inner;
    if (n > 0)
        gather_kernel<<<cu_blocks(n), CU_THREADS, 0, stream>>>(
            elem, (char *)out, (const char *)x, it, idx, outer, dim, inner, k);
}

__global__ static void one_hot_kernel(em_dtype dtype, void *out, em_dtype lt,
                                      const void *labels, int64_t n,
                                      int64_t depth)
{
    CU_FOR(e, n * depth)
    {
        int64_t k = e / depth, c = e - k * depth;
        int64_t v = cu_load_i64(labels, lt, k);
        if (c == 0 && (v < 0 || v >= depth))
            cu_error_flag = 1;
        cu_store_f64(out, dtype, e, v == c ? 1.0 : 0.0);
    }
}

extern "C" void em__cu_one_hot(em_dtype dtype, void *out, em_dtype lt,
                               const void *labels, int64_t n, int64_t depth,
                               cudaStream_t stream)
{
    if (n * depth > 0)
        one_hot_kernel<<<cu_blocks(n * depth), CU_THREADS, 0, stream>>>(
            dtype, out, lt, labels, n, depth);
}

extern "C" int em__cu_take_error(cudaStream_t stream)
{
    int flag = 0, zero = 0;
    cudaMemcpyFromSymbolAsync(&flag, cu_error_flag, sizeof flag, 0,
                              cudaMemcpyDeviceToHost, stream);
    cudaStreamSynchronize(stream);
    if (flag)
        cudaMemcpyToSymbolAsync(cu_error_flag, &zero, sizeof zero, 0,
                                cudaMemcpyHostToDevice, stream);
    return flag;
}
