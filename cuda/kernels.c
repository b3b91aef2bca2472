/*
 * cuda/kernels.c - the CUDA column of the op table: for every op of
 * eager/op_list.h, a kernel with the CPU kernel's contract (fill `out` from
 * `in`, all on one GPU) that describes the tensors to a launcher of
 * cuda/ kernel files or to cuBLAS. Work is queued on the device's stream and
 * not waited for.
 */
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"
#include "cuda_table.h"

#define CU_KERNEL(name)                                                        \
    static bool cu_##name(em_tensor *out, em_tensor *const *in, int n,         \
                          const em__attrs *attrs, char *msg, size_t size)

static em_device device_of(const em_tensor *t)
{
    return t->storage->device;
}

/* The stream of out's device, or NULL with msg. */
static cudaStream_t stream_for(const em_tensor *out, char *msg, size_t size)
{
    cudaStream_t s = em__cuda_stream(device_of(out));
    if (!s)
        snprintf(msg, size, "%s", em_error_last());
    return s;
}

/* Operand k of ix read through broadcast strides into out's shape. */
static void index_broadcast(em__cu_index *ix, int k, const em_tensor *operand,
                            const em__type *out)
{
    ix->ndim = out->ndim;
    memcpy(ix->shape, out->shape, sizeof ix->shape);
    ix->base[k] = 0;
    em__broadcast_strides(&operand->type, out, ix->stride[k]);
}

/* ---- elementwise ----------------------------------------------------------*/

static bool unary(int op, em_tensor *out, em_tensor *const *in,
                  const em__attrs *attrs, char *msg, size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_unary(op, in[0]->type.dtype, out->data, in[0]->data, out->size,
                 attrs->alpha, s);
    return em__cuda_launched(em__op_table[op].name, msg, size);
}

static bool binary(int op, em_tensor *out, em_tensor *const *in, char *msg,
                   size_t size)
{
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_index ix = {0};
    index_broadcast(&ix, 0, in[0], &out->type);
    index_broadcast(&ix, 1, in[1], &out->type);
    em__cu_binary(op, in[0]->type.dtype, out->data, in[0]->data, in[1]->data,
                  &ix, out->size, s);
    return em__cuda_launched(em__op_table[op].name, msg, size);
}

#define UNARY(name, OP)                                                        \
    CU_KERNEL(name)                                                            \
    {                                                                          \
        (void)n;                                                               \
        return unary(OP, out, in, attrs, msg, size);                           \
    }
#define BINARY(name, OP)                                                       \
    CU_KERNEL(name)                                                            \
    {                                                                          \
        (void)n, (void)attrs;                                                  \
        return binary(OP, out, in, msg, size);                                 \
    }
/* clang-format off */
UNARY(NEG_u, EM_OP_NEG)
UNARY(ABS_u, EM_OP_ABS)
UNARY(SIGN_u, EM_OP_SIGN)
UNARY(EXP_u, EM_OP_EXP)
UNARY(LOG_u, EM_OP_LOG)
UNARY(LOG1P_u, EM_OP_LOG1P)
UNARY(SQRT_u, EM_OP_SQRT)
UNARY(RSQRT_u, EM_OP_RSQRT)
UNARY(SQUARE_u, EM_OP_SQUARE)
UNARY(RECIPROCAL_u, EM_OP_RECIPROCAL)
UNARY(SIN_u, EM_OP_SIN)
UNARY(COS_u, EM_OP_COS)
UNARY(TANH_u, EM_OP_TANH)
UNARY(SIGMOID_u, EM_OP_SIGMOID)
UNARY(RELU_u, EM_OP_RELU)
UNARY(LEAKY_RELU_u, EM_OP_LEAKY_RELU)
UNARY(ELU_u, EM_OP_ELU)
UNARY(GELU_u, EM_OP_GELU)
UNARY(SOFTPLUS_u, EM_OP_SOFTPLUS)
UNARY(ERF_u, EM_OP_ERF)
UNARY(STEP_u, EM_OP_STEP)
UNARY(LOGICAL_NOT_u, EM_OP_LOGICAL_NOT)
BINARY(ADD_b, EM_OP_ADD)
BINARY(SUB_b, EM_OP_SUB)
BINARY(MUL_b, EM_OP_MUL)
BINARY(DIV_b, EM_OP_DIV)
BINARY(POW_b, EM_OP_POW)
BINARY(MAXIMUM_b, EM_OP_MAXIMUM)
BINARY(MINIMUM_b, EM_OP_MINIMUM)
BINARY(EQUAL_b, EM_OP_EQUAL)
BINARY(NOT_EQUAL_b, EM_OP_NOT_EQUAL)
BINARY(LESS_b, EM_OP_LESS)
BINARY(LESS_EQUAL_b, EM_OP_LESS_EQUAL)
BINARY(GREATER_b, EM_OP_GREATER)
BINARY(GREATER_EQUAL_b, EM_OP_GREATER_EQUAL)
BINARY(LOGICAL_AND_b, EM_OP_LOGICAL_AND)
BINARY(LOGICAL_OR_b, EM_OP_LOGICAL_OR)
/* clang-format on */

CU_KERNEL(where)
{
    (void)n, (void)attrs;
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_index ix = {0};
    for (int k = 0; k < 3; k++)
        index_broadcast(&ix, k, in[k], &out->type);
    em__cu_where(em_dtype_size(out->type.dtype), out->data, in[0]->data,
                 in[1]->data, in[2]->data, &ix, out->size, s);
    return em__cuda_launched("where", msg, size);
}

CU_KERNEL(cast)
{
    (void)n, (void)attrs;
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    em__cu_cast(in[0]->type.dtype, out->type.dtype, out->data, in[0]->data,
                out->size, s);
    return em__cuda_launched("cast", msg, size);
}

CU_KERNEL(copy)
{
    (void)n, (void)attrs;
    cudaStream_t s = stream_for(out, msg, size);
    if (!s)
        return false;
    size_t bytes = em_tensor_nbytes(out);
    if (bytes && cudaMemcpyAsync(out->data, in[0]->data, bytes,
                                 cudaMemcpyDeviceToDevice, s) != cudaSuccess)
        return em__cuda_launched("copy", msg, size);
    return true;
}

/* ---- variable updates -----------------------------------------------------*/

static bool assign(int how, em_tensor *v, em_tensor *const *in, int n, double a,
                   char *msg, size_t size)
{
    cudaStream_t s = stream_for(v, msg, size);
    if (!s)
        return false;
    const em_tensor *x = in[1];
    if (how == 0 && x->type.dtype == v->type.dtype && x->size == v->size) {
        size_t bytes = em_tensor_nbytes(v);
        if (bytes && v->data != x->data)
            cudaMemcpyAsync(v->data, x->data, bytes, cudaMemcpyDeviceToDevice,
                            s);
        return em__cuda_launched("assign", msg, size);
    }
    em__cu_index ix = {0};
    index_broadcast(&ix, 0, x, &v->type);
    em_dtype st = n > 2 ? in[2]->type.dtype : EM_FLOAT64;
    em__cu_assign(how, v->type.dtype, v->data, x->type.dtype, x->data, &ix,
                  v->size, a, st, n > 2 ? in[2]->data : NULL, s);
    return em__cuda_launched("assign", msg, size);
}

CU_KERNEL(assign)
{
    (void)attrs;
    return assign(0, out, in, n, 0, msg, size);
}
CU_KERNEL(assign_add)
{
    (void)attrs;
    return assign(1, out, in, n, 0, msg, size);
}
CU_KERNEL(assign_sub)
{
    (void)attrs;
    return assign(2, out, in, n, 0, msg, size);
}
CU_KERNEL(assign_scale_add)
{
    return assign(3, out, in, n, attrs->alpha, msg, size);
}
CU_KERNEL(assign_sub_scaled)
{
    (void)attrs;
    return assign(4, out, in, n, 0, msg, size);
}

/* ---- the table ------------------------------------------------------------*/

#define U(id) [EM_OP_##id] = cu_##id##_u
#define B(id) [EM_OP_##id] = cu_##id##_b
const em__kernel_fn em__cuda_kernels[EM_OP_COUNT] = {
    U(NEG),
    U(ABS),
    U(SIGN),
    U(EXP),
    U(LOG),
    U(LOG1P),
    U(SQRT),
    U(RSQRT),
    U(SQUARE),
    U(RECIPROCAL),
    U(SIN),
    U(COS),
    U(TANH),
    U(SIGMOID),
    U(RELU),
    U(LEAKY_RELU),
    U(ELU),
    U(GELU),
    U(SOFTPLUS),
    U(ERF),
    U(STEP),
    U(LOGICAL_NOT),
    B(ADD),
    B(SUB),
    B(MUL),
    B(DIV),
    B(POW),
    B(MAXIMUM),
    B(MINIMUM),
    B(EQUAL),
    B(NOT_EQUAL),
    B(LESS),
    B(LESS_EQUAL),
    B(GREATER),
    B(GREATER_EQUAL),
    B(LOGICAL_AND),
    B(LOGICAL_OR),
    [EM_OP_WHERE] = cu_where,
    [EM_OP_SUM] = em__cuk_sum,
    [EM_OP_MAX] = em__cuk_max,
    [EM_OP_MIN] = em__cuk_min,
    [EM_OP_ARGMAX] = em__cuk_argmax,
    [EM_OP_ARGMIN] = em__cuk_argmin,
    [EM_OP_MATMUL] = em__cuk_matmul,
    [EM_OP_PERMUTE] = em__cuk_permute,
    [EM_OP_BROADCAST_TO] = em__cuk_broadcast_to,
    [EM_OP_CONCAT] = em__cuk_concat,
    [EM_OP_SLICE] = em__cuk_slice,
    [EM_OP_GATHER] = em__cuk_gather,
    [EM_OP_ONE_HOT] = em__cuk_one_hot,
    [EM_OP_CAST] = cu_cast,
    [EM_OP_COPY] = cu_copy,
    [EM_OP_STOP_GRADIENT] = cu_copy,
    [EM_OP_SOFTMAX] = em__cuk_softmax,
    [EM_OP_LOG_SOFTMAX] = em__cuk_log_softmax,
    [EM_OP_ASSIGN] = cu_assign,
    [EM_OP_ASSIGN_ADD] = cu_assign_add,
    [EM_OP_ASSIGN_SUB] = cu_assign_sub,
    [EM_OP_ASSIGN_SCALE_ADD] = cu_assign_scale_add,
    [EM_OP_ASSIGN_SUB_SCALED] = cu_assign_sub_scaled,
};
