/*
 * cuda/graph_tier.h - what the two files of the CUDA tier share:
 * cuda/graph_tier.c sets a concrete function up (fused kernels at compile
 * time, node placement and buffers at its first call), cuda/graph_run.c
 * runs its calls (node by node, or replayed as a CUDA graph).
 */
#ifndef EMBER_CUDA_GRAPH_TIER_H
#define EMBER_CUDA_GRAPH_TIER_H

#include "cuda_internal.h"
#include "executor.h"
#include "ptx.h"
#include "tier.h"

/* A fused elementwise loop group loaded from jit/ptx.c's PTX. */
typedef struct em__cu_fused {
    em__ptx_kernel k;    /* root, members, leaves */
    cudaKernel_t handle; /* the entry "kernel_k" */
    bool enabled;        /* at bind: its root runs on the GPU */
    void **values;       /* argument values: out, then the leaves */
    void **args;         /* pointers to them, then to count */
    int64_t count;       /* the root's element count */
} em__cu_fused;

/* A host value that GPU work reads: its copy in device memory. */
typedef struct em__cu_mirror {
    em_tensor header; /* the copy: data in device memory */
    int node;         /* the host node */
    bool per_call;    /* refreshed before each reader (not a constant) */
} em__cu_mirror;

typedef enum em__cu_bind {
    EM__CU_UNBOUND, /* compiled; placed at the first call */
    EM__CU_BOUND,
    EM__CU_DECLINED, /* runs op by op: `reason` says why */
} em__cu_bind;

struct em__native {
    const em__graph *g;
    char *name;

    /* compile time */
    cudaLibrary_t library; /* NULL: no fused kernels */
    int n_fused;
    em__cu_fused *fused;
    int *fused_at; /* per node: the fused kernel rooted there, or -1 */
    double compile_seconds;
    int library_calls; /* nodes run by eager kernels, before placement */

    /* the first call */
    em__cu_bind state;
    char reason[240];
    em_device device;
    em__storage storage; /* what GPU headers point at: only the device */
    em_device *placed;   /* per node: where it runs or lives */
    bool *inside;        /* computed inside an enabled fused kernel */
    int *mirror_of;      /* per node: its mirror, or -1 */
    em__cu_mirror *mirrors;
    int n_mirrors;
    bool per_call_mirrors;
    em__plan *plan;
    em_tensor **scratch; /* one op's inputs */
    int launches;        /* GPU operations per call */

    /* CUDA graph replay */
    int64_t calls;
    bool graphable;
    const char *no_graph; /* why calls queue their work one by one */
    void **staging;       /* per input node on the GPU: its buffer */
    cudaGraphExec_t exec;
    bool exec_tf32;  /* the TF32 setting the graph's products were made with */
    void **captured; /* per constant or variable node: its data at capture */
};

/* The header of node i (its current value). */
static inline em_tensor *em__cu_header(em__native *n, int i)
{
    return em__plan_header(n->plan, i);
}

/* Places the nodes and plans the buffers at the first call (inputs give
 * the devices). 1 when bound; 0 when the graph cannot run as a whole on
 * one GPU (n->state is then EM__CU_DECLINED, with the reason logged); -1
 * with an error. */
int em__cu_bind_nodes(em__native *n, em_tensor *const *inputs);

/* A whole call (see em__tier.run). */
int em__cu_run(em__native *n, em_tensor *const *inputs, em_tensor **outputs);

/* Releases what a run made for replay: the graph and input buffers. */
void em__cu_release_replay(em__native *n);

/* True when e is cudaSuccess; else false with "cuda: <what> for '<name>'
 * failed: <CUDA's message>" recorded as the error (and CUDA's own error
 * state cleared). */
bool em__cu_ok(const em__native *n, cudaError_t e, const char *what);

#endif
