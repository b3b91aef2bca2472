/*
 * cuda/graph_tier.c - the CUDA tier: concrete functions whose inputs live
 * on a GPU run as a whole, without dispatch, behind trace/tier.h.
 *
 * Compiling (at trace time) asks jit/ptx.c for the PTX of the graph's
 * fused elementwise loop groups and loads it through the CUDA runtime's
 * library API (cudaLibraryLoadData, cudaLibraryGetKernel: the driver is
 * reached through cudart, never by linking libcuda). A build without LLVM,
 * a group whose element code needs the C library, or PTX the driver
 * refuses leaves those nodes to their eager CUDA kernels; a graph with
 * control flow, or an op without a CUDA kernel, is declined: its calls
 * run the body op by op.
 *
 * The first call places every node where eager dispatch would run it: on
 * the GPU when an input is there, else on the host (an optimiser's step
 * count, say). A GPU node may read a host value that is a captured
 * constant (copied to the GPU once) or one element (copied before each
 * reader); anything else declines the graph, and the body op by op then
 * reports the mixed devices as eager code would. The buffers are the
 * executor's plan (trace/executor.c) with device memory for GPU nodes.
 * cuda/graph_run.c runs the calls.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graph_tier.h"

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

bool em__cu_ok(const em__native *n, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return true;
    cudaGetLastError();
    em__error("cuda: %s for '%s' failed: %s", what, n->name,
              cudaGetErrorString(e));
    return false;
}

/* ---- compiling: the fused kernels ---------------------------------------*/

static void fused_free(em__cu_fused *f)
{
    free(f->k.members);
    free(f->k.leaves);
    free(f->values);
    free(f->args);
}

/* Loads m's kernels into n; false (n unchanged, a warning logged) when the
 * driver refuses them. Takes m's kernel groups on success. */
static bool load_fused(em__native *n, em__ptx_module *m)
{
    cudaLibrary_t library = NULL;
    cudaError_t e =
        cudaLibraryLoadData(&library, m->text, NULL, NULL, 0, NULL, NULL, 0);
    em__cu_fused *fused =
        e == cudaSuccess ? calloc((size_t)m->n_kernels, sizeof *fused) : NULL;
    for (int k = 0; fused && k < m->n_kernels && e == cudaSuccess; k++) {
        char entry[32];
        snprintf(entry, sizeof entry, "kernel_%d", k);
        e = cudaLibraryGetKernel(&fused[k].handle, library, entry);
    }
    if (e != cudaSuccess || !fused) {
        cudaGetLastError();
        em__log(EM_LOG_WARN,
                "cuda: the fused kernels of '%s' could not be loaded (%s); "
                "their ops run one kernel each",
                n->name,
                e != cudaSuccess ? cudaGetErrorString(e) : "out of memory");
        free(fused);
        if (library)
            cudaLibraryUnload(library);
        cudaGetLastError();
        return false;
    }
    for (int k = 0; k < m->n_kernels; k++) {
        em__cu_fused *f = &fused[k];
        f->k = m->kernels[k];
        m->kernels[k] = (em__ptx_kernel){0};
        f->values = calloc((size_t)f->k.n_leaves + 1, sizeof *f->values);
        f->args = calloc((size_t)f->k.n_leaves + 2, sizeof *f->args);
        if (f->values && f->args) {
            for (int j = 0; j <= f->k.n_leaves; j++)
                f->args[j] = &f->values[j];
            f->args[f->k.n_leaves + 1] = &f->count;
        }
    }
    n->library = library;
    n->fused = fused;
    n->n_fused = m->n_kernels;
    return true;
}

/* The fused kernels of n's graph, when there is PTX for it. */
static void compile_fused(em__native *n)
{
    em__ptx_module *m = em__jit_ptx_module(n->g);
    if (!m) {
        em__log(EM_LOG_INFO,
                "cuda: '%s' has no fused kernels (%s); its elementwise ops "
                "run one kernel each",
                n->name, em_error_peek() ? em_error_peek() : "no reason");
        em_error_clear();
        return;
    }
    if (m->n_kernels > 0 && load_fused(n, m))
        for (int k = 0; k < n->n_fused; k++)
            n->fused_at[n->fused[k].k.root] = k;
    em__ptx_module_free(m);
}

/* Why g cannot run as a whole on a GPU, or NULL. */
static const char *unsupported(const em__graph *g, char *buf, size_t size)
{
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->kind > EM__NODE_OP)
            return "control flow (em_cond, em_while_loop) runs op by op on "
                   "the GPU";
        if (node->kind != EM__NODE_OP ||
            (em__op_table[node->op].flags & EM__OP_VIEW) ||
            em__cuda_kernels[node->op])
            continue;
        snprintf(buf, size, "no CUDA kernel for op '%s'",
                 em__op_table[node->op].name);
        return buf;
    }
    return NULL;
}

static void native_free(em__native *n);

static em__native *compile(const em__graph *g, const char *name, bool wait,
                           char *reason, size_t size)
{
    (void)wait; /* compiling is quick: always done before returning */
    char why[160];
    const char *problem = unsupported(g, why, sizeof why);
    if (problem) {
        snprintf(reason, size, "%s", problem);
        em__log(EM_LOG_INFO, "cuda: '%s' runs op by op: %s", name, problem);
        return NULL;
    }
    double start = seconds_now();
    em__native *n = calloc(1, sizeof *n);
    if (n) {
        n->g = g;
        n->name = strdup(name);
        n->fused_at = malloc(sizeof *n->fused_at * (size_t)(g->len + 1));
    }
    if (!n || !n->name || !n->fused_at) {
        native_free(n);
        snprintf(reason, size, "out of memory");
        return NULL;
    }
    for (int i = 0; i < g->len; i++)
        n->fused_at[i] = -1;
    compile_fused(n);
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        n->library_calls += node->kind == EM__NODE_OP &&
                            !(em__op_table[node->op].flags & EM__OP_VIEW) &&
                            n->fused_at[i] < 0;
    }
    for (int k = 0; k < n->n_fused; k++)
        n->library_calls -= n->fused[k].k.n_members - 1;
    n->compile_seconds = seconds_now() - start;
    return n;
}

/* ---- the first call: placement ------------------------------------------*/

static int decline(em__native *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int decline(em__native *n, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
    vsnprintf(n->reason, sizeof n->reason, fmt, args);
    va_end(args);
    n->state = EM__CU_DECLINED;
    em__log(EM_LOG_INFO, "cuda: '%s' runs op by op: %s", n->name, n->reason);
    return 0;
}

/* Where node i runs (ops) or lives (inputs, constants, variables): as
 * eager dispatch decides, from its inputs' places. */
static em_device place(const em__native *n, em_tensor *const *inputs, int i)
{
    const em__node *node = &n->g->nodes[i];
    if (node->kind == EM__NODE_INPUT)
        return em_tensor_device(inputs[node->index]);
    if (node->kind != EM__NODE_OP)
        return em_tensor_device(node->value);
    if (em__op_table[node->op].flags & (EM__OP_VIEW | EM__OP_IN_PLACE))
        return n->placed[node->inputs[0]];
    for (int j = 0; j < node->n_in; j++)
        if (n->placed[node->inputs[j]] != EM_CPU)
            return n->placed[node->inputs[j]];
    return EM_CPU;
}

/* Can a GPU node read host node v? A constant is copied once, a single
 * element before each reader. */
static bool mirrorable(const em__native *n, int v)
{
    const em__node *node = &n->g->nodes[v];
    return node->kind == EM__NODE_CONST || em__type_size(&node->type) == 1;
}

/* Notes that GPU work reads host node v (which mirrorable allows). */
static void need_mirror(em__native *n, int v)
{
    if (n->mirror_of[v] >= 0)
        return;
    n->mirror_of[v] = n->n_mirrors++;
}

/* The reasons a node or kernel cannot run on the GPU, or NULL. */
static const char *check_reads(em__native *n, int i, char *buf, size_t size)
{
    const em__node *node = &n->g->nodes[i];
    unsigned flags = em__op_table[node->op].flags;
    for (int j = 0; j < node->n_in; j++) {
        int v = node->inputs[j];
        char a[32], b[32];
        if (n->placed[v] == n->placed[i])
            continue;
        if (n->placed[i] == EM_CPU || n->placed[v] != EM_CPU ||
            (j == 0 && (flags & EM__OP_IN_PLACE)) || !mirrorable(n, v)) {
            char shape[160];
            snprintf(buf, size,
                     "node %d (%s) on %s reads node %d, %s on %s (move the "
                     "inputs and variables to one device)",
                     i, em__op_table[node->op].name,
                     em_device_name(n->placed[i], a, sizeof a), v,
                     em__type_format(&n->g->nodes[v].type, shape, sizeof shape),
                     em_device_name(n->placed[v], b, sizeof b));
            return buf;
        }
    }
    return NULL;
}

/* Which fused kernels run: those whose root is on the GPU and whose host
 * leaves can be mirrored. Their members need no buffer and no run. */
static void enable_fused(em__native *n, int *run_at)
{
    for (int k = 0; k < n->n_fused; k++) {
        em__cu_fused *f = &n->fused[k];
        bool ok = f->values && f->args && n->placed[f->k.root] != EM_CPU;
        for (int j = 0; j < f->k.n_leaves && ok; j++) {
            int v = f->k.leaves[j];
            ok = n->placed[v] == n->device ||
                 (n->placed[v] == EM_CPU && mirrorable(n, v));
        }
        f->enabled = ok;
        for (int m = 0; ok && m < f->k.n_members - 1; m++) {
            n->inside[f->k.members[m]] = true;
            run_at[f->k.members[m]] = f->k.root;
        }
        for (int j = 0; ok && j < f->k.n_leaves; j++)
            if (n->placed[f->k.leaves[j]] == EM_CPU)
                need_mirror(n, f->k.leaves[j]);
    }
}

/* Device copies of the host values GPU work reads; constants are copied
 * now (the host's copy is the graph's and never changes). */
static bool make_mirrors(em__native *n, cudaStream_t s)
{
    n->mirrors = calloc((size_t)n->n_mirrors + 1, sizeof *n->mirrors);
    if (!n->mirrors) {
        em__error("cuda: out of memory setting up '%s'", n->name);
        return false;
    }
    for (int v = 0; v < n->g->len; v++) {
        int k = n->mirror_of[v];
        if (k < 0)
            continue;
        em__cu_mirror *m = &n->mirrors[k];
        const em_tensor *host = em__cu_header(n, v);
        size_t bytes = (size_t)host->size * em_dtype_size(host->type.dtype);
        m->node = v;
        m->header = *host;
        m->header.storage = &n->storage;
        m->header.data = em__cuda_alloc(n->device, bytes ? bytes : 1);
        if (!m->header.data)
            return false;
        m->per_call = n->g->nodes[v].kind != EM__NODE_CONST;
        n->per_call_mirrors = n->per_call_mirrors || m->per_call;
        if (!m->per_call && bytes > 0 &&
            !em__cu_ok(n,
                       cudaMemcpyAsync(m->header.data, host->data, bytes,
                                       cudaMemcpyHostToDevice, s),
                       "copying a constant to the GPU"))
            return false;
    }
    return true;
}

/* A failure to set up: this call fails with the error pending, later ones
 * run op by op. */
static int setup_failed(em__native *n)
{
    if (!em_error_pending())
        em__error("cuda: out of memory setting up '%s'", n->name);
    snprintf(n->reason, sizeof n->reason, "setting it up failed: %s",
             em_error_peek());
    n->state = EM__CU_DECLINED;
    return -1;
}

int em__cu_bind_nodes(em__native *n, em_tensor *const *inputs)
{
    const em__graph *g = n->g;
    size_t len = (size_t)g->len + 1;
    n->placed = calloc(len, sizeof *n->placed);
    n->inside = calloc(len, sizeof *n->inside);
    n->mirror_of = malloc(len * sizeof *n->mirror_of);
    int *run_at = malloc(len * sizeof *run_at);
    int max_in = 1;
    if (!n->placed || !n->inside || !n->mirror_of || !run_at) {
        free(run_at);
        return setup_failed(n);
    }

    n->device = EM_CPU;
    for (int i = 0; i < g->len; i++) {
        n->placed[i] = place(n, inputs, i);
        n->mirror_of[i] = -1;
        run_at[i] = i;
        max_in = g->nodes[i].n_in > max_in ? g->nodes[i].n_in : max_in;
        char a[32], b[32];
        if (n->placed[i] == EM_CPU || n->placed[i] == n->device)
            continue;
        if (n->device != EM_CPU) {
            free(run_at);
            return decline(n, "it reads values on %s and on %s",
                           em_device_name(n->device, a, sizeof a),
                           em_device_name(n->placed[i], b, sizeof b));
        }
        n->device = n->placed[i];
    }
    if (n->device == EM_CPU) {
        free(run_at);
        return decline(n, "nothing it reads is on a GPU");
    }

    enable_fused(n, run_at);
    for (int i = 0; i < g->len; i++) {
        if (g->nodes[i].kind != EM__NODE_OP || n->inside[i])
            continue;
        char why[400];
        if (check_reads(n, i, why, sizeof why)) {
            free(run_at);
            return decline(n, "%s", why);
        }
        for (int j = 0; j < g->nodes[i].n_in && n->placed[i] != EM_CPU; j++)
            if (n->placed[g->nodes[i].inputs[j]] == EM_CPU)
                need_mirror(n, g->nodes[i].inputs[j]);
    }

    n->plan = em__plan_new_placed(g, run_at, n->placed);
    free(run_at);
    n->storage = (em__storage){.refcount = 1, .device = n->device};
    n->scratch = calloc((size_t)max_in + 1, sizeof *n->scratch);
    cudaStream_t s = n->plan ? em__cuda_stream(n->device) : NULL;
    if (!n->plan || !n->scratch || !s || !make_mirrors(n, s))
        return setup_failed(n);
    for (int i = 0; i < g->len; i++)
        if (n->placed[i] != EM_CPU)
            em__cu_header(n, i)->storage = &n->storage;

    /* Each GPU op outside the fused kernels is one operation queued (a
     * kernel, a copy or a cuBLAS call), and so is each fused kernel. */
    int fused = 0;
    for (int k = 0; k < n->n_fused; k++)
        fused += n->fused[k].enabled;
    n->launches = 0;
    for (int i = 0; i < g->len; i++)
        n->launches += g->nodes[i].kind == EM__NODE_OP && !n->inside[i] &&
                       n->placed[i] != EM_CPU &&
                       !(em__op_table[g->nodes[i].op].flags & EM__OP_VIEW);
    /* A graph replaces the launches' queueing with one; it needs the call
     * to send nothing from the host to the GPU on the way. */
    n->graphable = n->launches >= 2 && !n->per_call_mirrors;
    n->no_graph = n->per_call_mirrors
                      ? "a host value (an optimiser's step count on the host, "
                        "say) feeds the GPU work at each call"
                  : n->launches < 2 ? "it queues fewer than two operations"
                                    : NULL;
    n->state = EM__CU_BOUND;
    char name[32];
    em__log(EM_LOG_INFO,
            "cuda: '%s' runs on %s: %d fused kernel%s, %d other GPU "
            "operation%s per call%s%s",
            n->name, em_device_name(n->device, name, sizeof name), fused,
            fused == 1 ? "" : "s", n->launches - fused,
            n->launches - fused == 1 ? "" : "s",
            n->no_graph ? "; no CUDA graph: " : ", replayed as a CUDA graph",
            n->no_graph ? n->no_graph : "");
    return 1;
}

/* ---- the tier -----------------------------------------------------------*/

static void native_free(em__native *n)
{
    if (!n)
        return;
    /* Nothing still queued may use what goes. The device is set up (it
     * was bound), so asking for its stream records no error. */
    cudaStream_t s =
        n->state == EM__CU_BOUND ? em__cuda_stream(n->device) : NULL;
    if (s)
        cudaStreamSynchronize(s);
    em__cu_release_replay(n);
    for (int k = 0; n->mirrors && k < n->n_mirrors; k++)
        em__cuda_free(n->device, n->mirrors[k].header.data);
    em__plan_free(n->plan);
    for (int k = 0; k < n->n_fused; k++)
        fused_free(&n->fused[k]);
    if (n->library)
        cudaLibraryUnload(n->library);
    cudaGetLastError();
    free(n->fused);
    free(n->fused_at);
    free(n->placed);
    free(n->inside);
    free(n->mirror_of);
    free(n->mirrors);
    free(n->scratch);
    free(n->name);
    free(n);
}

static int run(em__native *n, em_tensor *const *inputs, em_tensor **outputs)
{
    return em__cu_run(n, inputs, outputs);
}

static em_tier wait_compiled(em__native *n)
{
    return n->state == EM__CU_DECLINED ? EM_TIER_EXECUTOR : EM_TIER_NATIVE;
}

static void stats(const em__native *n, em_compile_stats *out)
{
    bool declined = n->state == EM__CU_DECLINED;
    out->tier = declined ? EM_TIER_EXECUTOR : EM_TIER_NATIVE;
    out->reason = declined ? n->reason : "";
    out->codegen_seconds = n->compile_seconds;
    out->fused_loops = n->n_fused;
    out->library_calls = n->library_calls;
}

const em__tier em__cuda_tier = {
    .unavailable = NULL,
    .compile = compile,
    .run = run,
    .wait = wait_compiled,
    .stats = stats,
    .release = native_free,
};
