/*
 * ember/trace.h - em_trace_fn: capture a C function into a graph, cache it
 * by signature, and run it as one call.
 *
 * The first call with a new signature (the inputs' dtypes and shapes, as
 * the input signature allows, and the static key) runs the function once
 * with symbolic tensors: every op records a node instead of computing, and
 * the result is a graph (a concrete function). The graph is optimised and
 * compiled to native code (LLVM, for the host CPU) on a background thread;
 * until that code is ready, calls run the graph in the graph executor,
 * without eager dispatch or per-op allocation. The options' `jit` field,
 * or EMBER_JIT=0 for the whole process, changes that.
 *
 * While tracing:
 *  - shape and dtype errors are raised as in eager mode, the message
 *    followed by "(while tracing NAME)";
 *  - reading a symbolic tensor's value (em_tensor_item, em_tensor_copy_to,
 *    em_tensor_data) is an error naming the function;
 *  - concrete tensors the function uses (tensors created inside it, or
 *    reached through `user`) are captured by reference as constants, but
 *    ops on constants alone run once, while tracing: their results are
 *    what the graph keeps (so writing into a captured tensor later is seen
 *    only by nodes that read it directly; pass changing data as inputs);
 *  - variables are captured by reference: every call reads their current
 *    value, and assignments inside the function happen at every call, in
 *    program order. A variable created during the first trace is kept
 *    (lifted out): the function holds a reference to it until
 *    em_function_free, and whoever created it still releases their own
 *    with em_tensor_free, as in eager code. Creating one during a later
 *    trace is an error naming the function and the variable;
 *  - a tape inside the function is traced too, so a whole training step
 *    (forward, loss, gradients, optimiser update) becomes one graph.
 *
 * Threads: a function may be traced and called on any thread, but not by
 * two threads at once (its graphs' buffers are reused by every call);
 * give each thread its own em_trace_fn.
 *
 * Ownership: em_trace_fn returns a function released with em_function_free,
 * which releases its graphs and its references to lifted variables. Outputs of
 * a call are new tensors owned like op results (innermost scope, or the
 * caller).
 */
#ifndef EMBER_TRACE_H
#define EMBER_TRACE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The function to trace: reads n_inputs tensors, writes up to max_outputs
 * tensors into outputs and returns how many, or -1 on failure. It must
 * compute only with ember ops on its inputs (plain C control flow that does
 * not depend on tensor values is fine: it is unrolled into the graph). */
typedef int (*em_traced_body)(int n_inputs, em_tensor *const *inputs,
                              int max_outputs, em_tensor **outputs, void *user);

/* One input of an input signature: its dtype and shape, where -1 in the
 * shape accepts any size. The function is traced once for all sizes under
 * -1: the first call traces it a few more times at nearby sizes (once per
 * distinct -1 size, once more to check) to learn how the graph follows
 * them, and later sizes get a graph made from that, each with its own plan
 * and native code. -1 dimensions with equal sizes at the first call are
 * one size; sizes 0 and 1 are always traced on their own. A body whose
 * graph does not follow the sizes that way (C code that chooses ops by a
 * size, a size written into it) is traced again for each new size, with an
 * info log saying why. The fit is checked only at sizes near the first
 * call's: C code that clamps a size (min(b, 8)) may slip through it. */
typedef struct em_input_spec {
    em_dtype dtype;
    int ndim;
    int64_t shape[EM_MAX_DIMS];
} em_input_spec;

/* Writes the static key for a call (up to capacity bytes) and returns its
 * length. */
typedef size_t (*em_static_key_fn)(void *user, unsigned char *key,
                                   size_t capacity);

/* How a traced function's graphs become native code. */
typedef enum em_jit_mode {
    /* Compile on a background thread; the executor runs calls meanwhile. */
    EM_JIT_BACKGROUND = 0,
    /* Compile before the first call of each concrete function returns. */
    EM_JIT_SYNC,
    /* Never compile: the graph executor runs every call. */
    EM_JIT_OFF,
} em_jit_mode;

typedef struct em_trace_options {
    /* Shown in errors, warnings, dumps. NULL gives "traced". */
    const char *name;
    /* Input signature: n_signature specs (0: key on exact shapes). */
    int n_signature;
    const em_input_spec *signature;
    /* Bytes that select a different trace (training vs inference): fixed
     * bytes, or a callback asked at every call. */
    const void *static_key;
    size_t static_key_size;
    em_static_key_fn static_key_fn;
    /* Warn once when the function has traced more than this many times
     * (0: the default, 5). */
    int retrace_warning;
    /* Most outputs the function writes (0: 16). */
    int max_outputs;
    /* Native compilation (EMBER_JIT=0 turns it off whatever this says). */
    em_jit_mode jit;
} em_trace_options;

typedef struct em_function em_function;

/* Wraps body; nothing is traced until the first call. options may be NULL.
 * NULL (with an error) when body is NULL or options are invalid. */
em_function *em_trace_fn(em_traced_body body, void *user,
                         const em_trace_options *options);
void em_function_free(em_function *f);

/* Calls f: traces on a new signature, then runs the graph. Writes up to
 * max_outputs new tensors into outputs and returns how many, or -1 with an
 * error (outputs all NULL). Inside another trace the body's ops join that
 * graph. While an eager tape records, a function without variable
 * assignments runs its graph and leaves one record on the tape for all its
 * outputs, whose gradient is a second traced function (free f only after
 * such tapes); a function that assigns variables runs its body op by op
 * instead, so that a gradient never repeats the assignments. */
int em_function_call(em_function *f, int n_inputs, em_tensor *const *inputs,
                     int max_outputs, em_tensor **outputs);

typedef struct em_function_stats {
    int64_t calls;
    int64_t traces;
    double trace_seconds;
    int64_t concrete_functions;
} em_function_stats;
em_function_stats em_function_get_stats(const em_function *f);

/* True while this thread is tracing a function. */
bool em_is_tracing(void);

/* ---- concrete functions: the graphs themselves ---------------------------*/

typedef struct em_concrete em_concrete;

/* The concrete function f uses for these inputs, tracing it if needed. It
 * belongs to f (no free). NULL with an error. */
em_concrete *em_function_concrete(em_function *f, int n_inputs,
                                  em_tensor *const *inputs);

/* The graph as text, one line per node with dtypes and shapes (like
 * snprintf: returns the length the whole text needs). */
int em_concrete_format(const em_concrete *c, char *buf, size_t size);
/* The graph in Graphviz DOT. */
int em_concrete_format_dot(const em_concrete *c, char *buf, size_t size);

/* Number of graph nodes (after the optimisation passes), counting those
 * inside the regions of em_cond and em_while_loop. */
int em_concrete_node_count(const em_concrete *c);

/* Runs part of the graph: computes only what the requested values need.
 * Values are named "out:N" (output N) or by the name a node was given with
 * em_trace_name while tracing. feeds (may be 0) give values for named
 * nodes instead of computing them. Writes n_fetch new tensors. Returns 0,
 * or -1 with an error. */
int em_concrete_run(em_concrete *c, int n_inputs, em_tensor *const *inputs,
                    int n_feed, const char *const *feed_names,
                    em_tensor *const *feeds, int n_fetch,
                    const char *const *fetch_names, em_tensor **fetched);

/* While tracing, names the node that computes t (for em_concrete_run);
 * in eager mode does nothing. Returns t. */
em_tensor *em_trace_name(em_tensor *t, const char *name);

/* Nodes executed by the last run of c (counts each node once). */
int64_t em_concrete_last_run_nodes(const em_concrete *c);

/* ---- native code ---------------------------------------------------------*/

/* Where a concrete function's calls run. */
typedef enum em_tier {
    EM_TIER_EXECUTOR,  /* the graph executor (JIT off, declined or failed) */
    EM_TIER_COMPILING, /* the executor, until the native code is ready */
    EM_TIER_NATIVE,    /* native code */
} em_tier;

/* What compiling a concrete function cost, in seconds per stage, and what
 * the code holds. Stages not reached are 0. */
typedef struct em_compile_stats {
    em_tier tier;
    double trace_seconds;    /* running the body with symbolic tensors */
    double passes_seconds;   /* graph optimisation passes */
    double ir_seconds;       /* building the LLVM module */
    double optimize_seconds; /* LLVM's O3 pipeline, where code needs it */
    double codegen_seconds;  /* machine code, linking, lookup */
    int fused_loops;         /* loop nests generated from graph nodes */
    int library_calls;       /* nodes run by calls to library kernels */
    /* Why the tier is the executor ("EMBER_JIT=0", "no lowering for op
     * 'x'", ...); "" when native. Static storage or owned by c. */
    const char *reason;
} em_compile_stats;

/* True when this build compiles graphs to native code and EMBER_JIT=0 did
 * not turn that off. */
bool em_jit_available(void);

/* Waits until c's compilation has finished (at once when it has or never
 * started) and returns the tier its calls now run in. EM_TIER_EXECUTOR
 * for NULL. */
em_tier em_concrete_wait_compiled(em_concrete *c);

/* c's compile costs and tier (all zero for NULL). Does not wait. */
em_compile_stats em_concrete_compile_stats(const em_concrete *c);

#ifdef __cplusplus
}
#endif
#endif
