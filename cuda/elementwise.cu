/*
 * cuda/elementwise.cu - elementwise kernels: unary maths, broadcasting
 * binary ops, where, casts, strided copies (permute, broadcast_to, slice,
 * concat) and the in-place variable updates. One thread per element in a
 * grid-stride loop; each expression is the CPU kernel's (eager/ops_*.c),
 * so results agree up to the device's libm.
 */
#include <type_traits>

#include "cuda_ops.cuh"

/* ---- one input ------------------------------------------------------------*/

template <typename T>
__device__ static inline T unary_op(int op, T x, double alpha)
{
    if constexpr (std::is_unsigned<T>::value) {
        switch (op) {
        case OP_NEG:
            return (T)(0 - x);
        case OP_SIGN:
        case OP_STEP:
            return x > 0;
        case OP_SQUARE:
            return (T)(x * x);
        default: /* abs, relu */
            return x;
        }
    } else if constexpr (std::is_integral<T>::value) {
        using U = std::make_unsigned_t<T>;
        switch (op) {
        case OP_NEG:
            return (T)(0 - (U)x);
        case OP_ABS:
            return (T)(x < 0 ? 0 - (U)x : (U)x);
        case OP_SIGN:
            return (T)((x > 0) - (x < 0));
        case OP_SQUARE:
            return (T)((U)x * (U)x);
        case OP_RELU:
            return x < 0 ? 0 : x;
        case OP_STEP:
            return x > 0;
        default:
            return 0;
        }
    } else {
        const T one = 1, zero = 0, a = (T)alpha;
        switch (op) {
        case OP_NEG:
            return -x;
        case OP_ABS:
            return fabs(x);
        case OP_SIGN:
            return x > 0 ? one : (x < 0 ? -one : x);
        case OP_SQUARE:
            return x * x;
        case OP_RELU:
            return x < 0 ? zero : x;
        case OP_STEP:
            return x > 0 ? one : zero;
        case OP_EXP:
            return exp(x);
        case OP_LOG:
            return log(x);
        case OP_LOG1P:
            return log1p(x);
        case OP_SQRT:
            return sqrt(x);
        case OP_RSQRT:
            return one / sqrt(x);
        case OP_RECIPROCAL:
            return one / x;
        case OP_SIN:
            return sin(x);
        case OP_COS:
            return cos(x);
        case OP_TANH:
            return tanh(x);
        case OP_SIGMOID:
            return x >= 0 ? one / (one + exp(-x)) : exp(x) / (one + exp(x));
        case OP_LEAKY_RELU:
            return x > 0 ? x : a * x;
        case OP_ELU:
            return x > 0 ? x : a * expm1(x);
        case OP_GELU:
            return (T)0.5 * x * erfc(-x * (T)0.70710678118654752440);
        case OP_ERF:
            return erf(x);
        case OP_SOFTPLUS:
            return fmax(x, zero) + log1p(exp(-fabs(x)));
        default:
            return x;
        }
    }
}

template <typename T>
__global__ static void unary_kernel(int op, T *out, const T *in, int64_t n,
                                    double alpha)
{
    CU_FOR(i, n)
    out[i] = unary_op<T>(op, in[i], alpha);
}

template <typename T>
__global__ static void logical_not_kernel(uint8_t *out, const T *in, int64_t n)
{
    CU_FOR(i, n)
    out[i] = in[i] == 0;
}

template <typename T>
static void launch_unary(int op, void *out, const void *in, int64_t n,
                         double alpha, cudaStream_t s)
{
    if (op == OP_LOGICAL_NOT)
        logical_not_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
            (uint8_t *)out, (const T *)in, n);
    else
        unary_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
            op, (T *)out, (const T *)in, n, alpha);
}

extern "C" void em__cu_unary(int op, em_dtype dtype, void *out, const void *in,
                             int64_t n, double alpha, cudaStream_t stream)
{
    if (n > 0)
        CU_DISPATCH_DTYPE(dtype, launch_unary, op, out, in, n, alpha, stream);
}

/* ---- two inputs -----------------------------------------------------------*/

template <typename T> __device__ static inline T arith(int op, T a, T b)
{
    if constexpr (std::is_integral<T>::value) {
        using U = std::make_unsigned_t<T>;
        const bool u8 = std::is_unsigned<T>::value;
        switch (op) {
        case OP_ADD:
            return (T)((U)a + (U)b);
        case OP_SUB:
            return (T)((U)a - (U)b);
        case OP_MUL:
            return (T)((U)a * (U)b);
        case OP_DIV:
            if (b == 0)
                return 0;
            if constexpr (!u8)
                if (b == (T)-1)
                    return (T)(0 - (U)a);
            return a / b;
        case OP_MAXIMUM:
            return a > b ? a : b;
        case OP_MINIMUM:
            return a < b ? a : b;
        default:
            return 0;
        }
    } else {
        switch (op) {
        case OP_ADD:
            return a + b;
        case OP_SUB:
            return a - b;
        case OP_MUL:
            return a * b;
        case OP_DIV:
            return a / b;
        case OP_POW:
            return pow(a, b);
        case OP_MAXIMUM:
            return (a > b || isnan(a)) ? a : b;
        case OP_MINIMUM:
            return (a < b || isnan(a)) ? a : b;
        default:
            return 0;
        }
    }
}

template <typename T> __device__ static inline bool compare(int op, T a, T b)
{
    switch (op) {
    case OP_EQUAL:
        return a == b;
    case OP_NOT_EQUAL:
        return a != b;
    case OP_LESS:
        return a < b;
    case OP_LESS_EQUAL:
        return a <= b;
    case OP_GREATER:
        return a > b;
    case OP_GREATER_EQUAL:
        return a >= b;
    case OP_LOGICAL_AND:
        return a != 0 && b != 0;
    default: /* logical_or */
        return a != 0 || b != 0;
    }
}

template <typename T>
__global__ static void binary_kernel(int op, T *out, const T *a, const T *b,
                                     em__cu_index ix, int64_t n)
{
    CU_FOR(i, n)
    out[i] = arith<T>(op, a[cu_offset(ix, 0, i)], b[cu_offset(ix, 1, i)]);
}

template <typename T>
__global__ static void compare_kernel(int op, uint8_t *out, const T *a,
                                      const T *b, em__cu_index ix, int64_t n)
{
    CU_FOR(i, n)
    out[i] = compare<T>(op, a[cu_offset(ix, 0, i)], b[cu_offset(ix, 1, i)]);
}

template <typename T>
static void launch_binary(int op, void *out, const void *a, const void *b,
                          const em__cu_index *ix, int64_t n, cudaStream_t s)
{
    if (op >= OP_EQUAL && op <= OP_LOGICAL_OR)
        compare_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
            op, (uint8_t *)out, (const T *)a, (const T *)b, *ix, n);
    else
        binary_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
            op, (T *)out, (const T *)a, (const T *)b, *ix, n);
}

extern "C" void em__cu_binary(int op, em_dtype dtype, void *out, const void *a,
                              const void *b, const em__cu_index *ix, int64_t n,
                              cudaStream_t stream)
{
    if (n <= 0)
        return;
    if (dtype == EM_BOOL) /* logical ops: any non-zero byte is true */
        launch_binary<uint8_t>(op, out, a, b, ix, n, stream);
    else
        CU_DISPATCH_DTYPE(dtype, launch_binary, op, out, a, b, ix, n, stream);
}

template <typename T>
__global__ static void where_kernel(T *out, const uint8_t *c, const T *a,
                                    const T *b, em__cu_index ix, int64_t n)
{
    CU_FOR(i, n)
    out[i] = c[cu_offset(ix, 0, i)] ? a[cu_offset(ix, 1, i)]
                                    : b[cu_offset(ix, 2, i)];
}

template <typename T>
static void launch_where(void *out, const void *c, const void *a, const void *b,
                         const em__cu_index *ix, int64_t n, cudaStream_t s)
{
    where_kernel<T><<<cu_blocks(n), CU_THREADS, 0, s>>>(
        (T *)out, (const uint8_t *)c, (const T *)a, (const T *)b, *ix, n);
}

extern "C" void em__cu_where(size_t elem, void *out, const void *c,
                             const void *a, const void *b,
                             const em__cu_index *ix, int64_t n,
                             cudaStream_t stream)
{
    if (n <= 0)
        return;
    if (elem == 1)
        launch_where<uint8_t>(out, c, a, b, ix, n, stream);
    else if (elem == 4)
        launch_where<uint32_t>(out, c, a, b, ix, n, stream);
    else
        launch_where<uint64_t>(out, c, a, b, ix, n, stream);
}

/* ---- data movement --------------------------------------------------------*/

template <typename T>
__global__ static void strided_kernel(T *out, const T *in, em__cu_index ix,
                                      int64_t n)
{
    CU_FOR(i, n)
    out[i] = in[cu_offset(ix, 0, i)];
}

extern "C" void em__cu_strided_copy(size_t elem, void *out, const void *in,
                                    const em__cu_index *ix, int64_t n,
                                    cudaStream_t s)
{
    if (n <= 0)
        return;
    unsigned g = cu_blocks(n);
    if (elem == 1)
        strided_kernel<uint8_t><<<g, CU_THREADS, 0, s>>>(
            (uint8_t *)out, (const uint8_t *)in, *ix, n);
    else if (elem == 4)
        strided_kernel<uint32_t><<<g, CU_THREADS, 0, s>>>(
            (uint32_t *)out, (const uint32_t *)in, *ix, n);
    else
        strided_kernel<uint64_t><<<g, CU_THREADS, 0, s>>>(
            (uint64_t *)out, (const uint64_t *)in, *ix, n);
}

__global__ static void cast_kernel(em_dtype from, em_dtype to, void *out,
                                   const void *in, int64_t n)
{
    bool integer = from != EM_FLOAT32 && from != EM_FLOAT64 &&
                   to != EM_FLOAT32 && to != EM_FLOAT64 && to != EM_BOOL;
    CU_FOR(i, n)
    {
        if (integer) {
            int64_t v = cu_load_i64(in, from, i);
            if (to == EM_UINT8)
                ((uint8_t *)out)[i] = (uint8_t)v;
            else if (to == EM_INT32)
                ((int32_t *)out)[i] = (int32_t)v;
            else
                ((int64_t *)out)[i] = v;
        } else if (from == EM_BOOL && to == EM_BOOL) {
            ((uint8_t *)out)[i] = ((const uint8_t *)in)[i] != 0;
        } else {
            cu_store_f64(out, to, i, cu_load_f64(in, from, i));
        }
    }
}

extern "C" void em__cu_cast(em_dtype from, em_dtype to, void *out,
                            const void *in, int64_t n, cudaStream_t stream)
{
    if (n > 0)
        cast_kernel<<<cu_blocks(n), CU_THREADS, 0, stream>>>(from, to, out, in,
                                                             n);
}

/* ---- variable updates -----------------------------------------------------*/

/* float32 variables with float32 values: products round to float as the
 * CPU's separate ops do. */
__global__ static void assign_f32_kernel(int how, float *v, const float *x,
                                         em__cu_index ix, int64_t n, float a,
                                         em_dtype st, const void *s)
{
    if (how == 4)
        a = (float)cu_load_f64(s, st, 0);
    CU_FOR(i, n)
    {
        float xi = x[cu_offset(ix, 0, i)];
        switch (how) {
        case 0:
            v[i] = xi;
            break;
        case 1:
            v[i] += xi;
            break;
        case 2:
            v[i] -= xi;
            break;
        case 3: {
            float scaled = a * v[i];
            v[i] = scaled + xi;
            break;
        }
        default: {
            float scaled = a * xi;
            v[i] -= scaled;
            break;
        }
        }
    }
}

__global__ static void assign_kernel(int how, em_dtype vt, void *v, em_dtype xt,
                                     const void *x, em__cu_index ix, int64_t n,
                                     double a, em_dtype st, const void *s)
{
    if (how == 4)
        a = cu_load_f64(s, st, 0);
    CU_FOR(i, n)
    {
        double xi = cu_load_f64(x, xt, cu_offset(ix, 0, i));
        double old = how == 0 ? 0 : cu_load_f64(v, vt, i);
        double r = how == 0   ? xi
                   : how == 1 ? old + xi
                   : how == 2 ? old - xi
                   : how == 3 ? a * old + xi
                              : old - a * xi;
        cu_store_f64(v, vt, i, r);
    }
}

extern "C" void em__cu_assign(int how, em_dtype vt, void *v, em_dtype xt,
                              const void *x, const em__cu_index *ix, int64_t n,
                              double a, em_dtype st, const void *s,
                              cudaStream_t stream)
{
    if (n <= 0)
        return;
    if (vt == EM_FLOAT32 && xt == EM_FLOAT32)
        assign_f32_kernel<<<cu_blocks(n), CU_THREADS, 0, stream>>>(
            how, (float *)v, (const float *)x, *ix, n, (float)a, st, s);
    else
        assign_kernel<<<cu_blocks(n), CU_THREADS, 0, stream>>>(
            how, vt, v, xt, x, *ix, n, a, st, s);
}
