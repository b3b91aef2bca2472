/*
 * eager/kernels.h - shape rules and CPU kernels named by the op table
 * (eager/op_table.c). Each family file defines its own; the comment in
 * eager/op_list.h says which file holds which op.
 */
#ifndef EMBER_EAGER_KERNELS_H
#define EMBER_EAGER_KERNELS_H

#include "internal.h"

#define EM__INFER(name)                                                        \
    bool em__infer_##name(const em__type *const *in, int n, em__attrs *attrs,  \
                          em__type *out, char *msg, size_t size)
#define EM__KERNEL(name)                                                       \
    bool em__cpu_##name(em_tensor *out, em_tensor *const *in, int n,           \
                        const em__attrs *attrs, char *msg, size_t size)

EM__INFER(unary_float);
EM__INFER(unary_numeric);
EM__INFER(unary_logical);
EM__INFER(binary_arith);
EM__INFER(binary_compare);
EM__INFER(binary_logical);
EM__INFER(where);
EM__INFER(reduce);
EM__INFER(arg_reduce);
EM__INFER(matmul);
EM__INFER(reshape);
EM__INFER(permute);
EM__INFER(broadcast_to);
EM__INFER(concat);
EM__INFER(slice);
EM__INFER(gather);
EM__INFER(one_hot);
EM__INFER(cast);
EM__INFER(same);
EM__INFER(softmax);
EM__INFER(assign);
EM__INFER(assign_scaled);

EM__KERNEL(neg);
EM__KERNEL(abs);
EM__KERNEL(sign);
EM__KERNEL(exp);
EM__KERNEL(log);
EM__KERNEL(log1p);
EM__KERNEL(sqrt);
EM__KERNEL(rsqrt);
EM__KERNEL(square);
EM__KERNEL(reciprocal);
EM__KERNEL(sin);
EM__KERNEL(cos);
EM__KERNEL(tanh);
EM__KERNEL(sigmoid);
EM__KERNEL(relu);
EM__KERNEL(leaky_relu);
EM__KERNEL(elu);
EM__KERNEL(gelu);
EM__KERNEL(softplus);
EM__KERNEL(erf);
EM__KERNEL(step);
EM__KERNEL(logical_not);
EM__KERNEL(add);
EM__KERNEL(sub);
EM__KERNEL(mul);
EM__KERNEL(div);
EM__KERNEL(pow);
EM__KERNEL(maximum);
EM__KERNEL(minimum);
EM__KERNEL(equal);
EM__KERNEL(not_equal);
EM__KERNEL(less);
EM__KERNEL(less_equal);
EM__KERNEL(greater);
EM__KERNEL(greater_equal);
EM__KERNEL(logical_and);
EM__KERNEL(logical_or);
EM__KERNEL(where);
EM__KERNEL(sum);
EM__KERNEL(max);
EM__KERNEL(min);
EM__KERNEL(argmax);
EM__KERNEL(argmin);
EM__KERNEL(matmul);
EM__KERNEL(permute);
EM__KERNEL(broadcast_to);
EM__KERNEL(concat);
EM__KERNEL(slice);
EM__KERNEL(gather);
EM__KERNEL(one_hot);
EM__KERNEL(cast);
EM__KERNEL(copy);
EM__KERNEL(stop_gradient);
EM__KERNEL(softmax);
EM__KERNEL(log_softmax);
EM__KERNEL(assign);
EM__KERNEL(assign_add);
EM__KERNEL(assign_sub);
EM__KERNEL(assign_scale_add);
EM__KERNEL(assign_sub_scaled);

/* c[m, n] = op(a) op(b) for float32 or float64, row-major, with lda and
 * ldb the stored matrices' row lengths: small products in plain loops,
 * the rest through BLAS. The matmul kernel and compiled code share it. */
void em__gemm(em_dtype dtype, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
              const void *a, int64_t lda, const void *b, int64_t ldb, void *c);

#endif
