/*
 * trace/tier.h - the native tier of concrete functions. The tracer hands
 * each new concrete function's optimised graph to the tier, and runs the
 * tier's code for whole calls once it is ready; until then, or when the
 * tier declines a graph, the graph executor runs it. jit/ provides the
 * tier (jit/none/ when ember is built without LLVM); the tracer reaches it
 * only through this table.
 */
#ifndef EMBER_TRACE_TIER_H
#define EMBER_TRACE_TIER_H

#include "graph.h"

typedef struct em__native em__native;

typedef struct em__tier {
    /* Why this build cannot compile ("built without LLVM"), or NULL. */
    const char *unavailable;
    /* Starts compiling g (which must outlive the result) for the function
     * `name`; with `wait` set, returns only once compilation has ended.
     * NULL when nothing will be compiled: then `reason` (size bytes) says
     * why, and no error is pending. */
    em__native *(*compile)(const em__graph *g, const char *name, bool wait,
                           char *reason, size_t size);
    /* Runs a whole call: 1 when native code ran (outputs written, one per
     * graph output), 0 when it is not ready (nothing done), -1 with an
     * error. */
    int (*run)(em__native *native, em_tensor *const *inputs,
               em_tensor **outputs);
    /* Waits for compilation to end; returns the tier calls now run in. */
    em_tier (*wait)(em__native *native);
    /* Fills the stages after the passes, the tier and the reason. */
    void (*stats)(const em__native *native, em_compile_stats *stats);
    /* Waits for compilation to end and frees the code and its buffers. */
    void (*release)(em__native *native);
} em__tier;

extern const em__tier em__jit_tier;

/* The CUDA tier (cuda/graph_tier.c; cuda/none/ without CUDA), for the
 * concrete functions whose inputs (or captured values) live on a GPU:
 * fused PTX kernels, cuBLAS and the eager CUDA kernels, replayed as a CUDA
 * graph. Its compile always finishes before returning; its run returns 0
 * when the graph cannot run as a whole on one GPU (mixed devices, control
 * flow), and the body then runs op by op. */
extern const em__tier em__cuda_tier;

#endif
