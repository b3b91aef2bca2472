/*
 * cuda/cuda_table.h - the CUDA kernels cuda/kernels_shape.c defines for
 * the table in cuda/kernels.c (same contract as em__kernel_fn).
 */
#ifndef EMBER_CUDA_TABLE_H
#define EMBER_CUDA_TABLE_H

#include "internal.h"

#define EM__CU_KERNEL(name)                                                    \
    bool em__cuk_##name(em_tensor *out, em_tensor *const *in, int n,           \
                        const em__attrs *attrs, char *msg, size_t size)

EM__CU_KERNEL(sum);
EM__CU_KERNEL(max);
EM__CU_KERNEL(min);
EM__CU_KERNEL(argmax);
EM__CU_KERNEL(argmin);
EM__CU_KERNEL(softmax);
EM__CU_KERNEL(log_softmax);
EM__CU_KERNEL(matmul);
EM__CU_KERNEL(permute);
EM__CU_KERNEL(broadcast_to);
EM__CU_KERNEL(slice);
EM__CU_KERNEL(concat);
EM__CU_KERNEL(gather);
EM__CU_KERNEL(one_hot);

#endif
