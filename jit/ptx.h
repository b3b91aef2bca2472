/*
 * jit/ptx.h - the GPU code of a graph's fused elementwise loops, in the
 * terms the CUDA tier (cuda/graph_tier.c) loads and launches it, free of
 * LLVM's types. jit/ptx.c builds it; without LLVM (jit/none/) there is
 * none, and every node runs through its eager CUDA kernel.
 */
#ifndef EMBER_JIT_PTX_H
#define EMBER_JIT_PTX_H

#include "graph.h"

/* One kernel: the entry "kernel_k" of the module's text,
 *
 *     .entry kernel_k(out, leaf0, ..., int64 n)
 *
 * out: the root's buffer; leaf j: leaves[j]'s buffer, read broadcast to
 * the root's shape; n: the root's element count. Any grid works (a
 * grid-stride loop). */
typedef struct em__ptx_kernel {
    int root;      /* the node whose value the kernel writes */
    int n_members; /* the nodes it computes, in node order, root last */
    int *members;
    int n_leaves; /* the values it reads, in parameter order */
    int *leaves;
} em__ptx_kernel;

typedef struct em__ptx_module {
    char *text; /* NUL-terminated PTX (sm_90) */
    int n_kernels;
    em__ptx_kernel *kernels; /* kernels[k] is the entry "kernel_k" */
} em__ptx_module;

/* A kernel for every elementwise loop group of g's fusion schedule whose
 * element code needs no C library (see em__jit_ptx in jit_internal.h),
 * with the groups it computes. NULL with an error when there is no PTX
 * (ember built without LLVM, LLVM without NVPTX, a graph the schedule
 * cannot lower, out of memory). Release with em__ptx_module_free. */
em__ptx_module *em__jit_ptx_module(const em__graph *g);
void em__ptx_module_free(em__ptx_module *m);

#endif
