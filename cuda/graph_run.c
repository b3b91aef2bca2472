/*
 * cuda/graph_run.c - the calls of a concrete function in the CUDA tier
 * (see cuda/graph_tier.c for how it is set up).
 *
 * A call runs the nodes in graph order: host nodes through their CPU
 * kernels at once, GPU nodes queued on the device's stream as a fused
 * kernel (cudaLaunchKernel on the PTX entry), or their eager CUDA kernel
 * (cuBLAS for products), reading host values through their device copies.
 * The outputs are copied into new tensors, after the work that writes
 * them, as the executor does; nothing waits for the GPU.
 *
 * CUDA graphs. When a call queues two or more GPU operations and nothing
 * from the host feeds them (a host value read each call would be baked
 * into the graph), the second call captures the GPU work
 * (cudaStreamBeginCapture .. EndCapture, cudaGraphInstantiate) and it and
 * every later call replay it with one cudaGraphLaunch: the host nodes run
 * first (they never read GPU values then), the inputs are copied into
 * buffers of the tier's own so that the graph's pointers stay valid, and
 * the outputs are copied out after it. A change the graph cannot see (a
 * variable's storage, the TF32 setting) makes the next call capture
 * again. A capture that fails (an operation CUDA cannot capture) is
 * logged once and the function goes on without a graph.
 */
#include <stdlib.h>
#include <string.h>

#include "graph_tier.h"

#define THREADS 256

/* ---- one node -------------------------------------------------------------*/

/* The value of node v as GPU work reads it: its header, or for a host
 * value its device copy, refreshed first when it changes between calls.
 * NULL with an error. */
static em_tensor *gpu_value(em__native *n, int v, cudaStream_t s)
{
    if (n->placed[v] != EM_CPU)
        return em__cu_header(n, v);
    em__cu_mirror *m = &n->mirrors[n->mirror_of[v]];
    const em_tensor *host = em__cu_header(n, v);
    size_t bytes = (size_t)host->size * em_dtype_size(host->type.dtype);
    if (m->per_call && bytes > 0 &&
        !em__cu_ok(n,
                   cudaMemcpyAsync(m->header.data, host->data, bytes,
                                   cudaMemcpyHostToDevice, s),
                   "copying a host value to the GPU"))
        return NULL;
    return &m->header;
}

/* out = f(leaves): one launch of a fused kernel. */
static bool launch_fused(em__native *n, em__cu_fused *f, cudaStream_t s)
{
    em_tensor *root = em__cu_header(n, f->k.root);
    f->count = root->size;
    if (f->count == 0)
        return true;
    f->values[0] = root->data;
    for (int j = 0; j < f->k.n_leaves; j++) {
        em_tensor *leaf = gpu_value(n, f->k.leaves[j], s);
        if (!leaf)
            return false;
        f->values[j + 1] = leaf->data;
    }
    /* A grid-stride loop: any grid covers the elements. */
    int64_t blocks = (f->count + THREADS - 1) / THREADS;
    if (blocks > 65535 * 8)
        blocks = 65535 * 8;
    dim3 grid = {(unsigned)blocks, 1, 1}, block = {THREADS, 1, 1};
    cudaError_t e =
        cudaLaunchKernel((const void *)f->handle, grid, block, f->args, 0, s);
    if (e == cudaSuccess)
        return true;
    char what[120];
    snprintf(what, sizeof what, "launching the fused kernel of node %d (%s)",
             f->k.root, em__op_table[n->g->nodes[f->k.root].op].name);
    return em__cu_ok(n, e, what);
}

/* Node i through its eager CUDA kernel, on headers instead of tensors. */
static bool run_gpu_node(em__native *n, int i, cudaStream_t s)
{
    const em__node *node = &n->g->nodes[i];
    const em__op_def *def = &em__op_table[node->op];
    em_tensor *h = em__cu_header(n, i);
    em_tensor **in = n->scratch;
    for (int j = 0; j < node->n_in; j++)
        if (!(in[j] = gpu_value(n, node->inputs[j], s)))
            return false;
    if (def->flags & EM__OP_VIEW) {
        h->data = in[0]->data;
        return true;
    }
    em__kernel_fn kernel = em__cuda_kernels[node->op];
    char msg[512] = "no CUDA kernel";
    bool ok;
    if (def->flags & EM__OP_IN_PLACE) {
        ok = kernel &&
             kernel(in[0], in, node->n_in, &node->attrs, msg, sizeof msg);
        h->data = in[0]->data;
    } else {
        ok = kernel && kernel(h, in, node->n_in, &node->attrs, msg, sizeof msg);
    }
    if (!ok) {
        char detail[700];
        snprintf(detail, sizeof detail, "%s (node %%%d of '%s', on the GPU)",
                 msg, i, n->name);
        em__error_op(def->name, in, node->n_in, detail);
    }
    return ok;
}

/* Runs the op nodes in graph order: the host's when `host`, the GPU's
 * (queued on s) when `gpu`. False with an error. */
static bool run_nodes(em__native *n, cudaStream_t s, bool host, bool gpu)
{
    const em__graph *g = n->g;
    for (int i = 0; i < g->len; i++) {
        if (g->nodes[i].kind != EM__NODE_OP || n->inside[i])
            continue;
        bool ok = true;
        if (n->placed[i] == EM_CPU)
            ok = !host || em__plan_run_node(n->plan, i);
        else if (!gpu)
            continue;
        else if (n->fused_at[i] >= 0 && n->fused[n->fused_at[i]].enabled)
            ok = launch_fused(n, &n->fused[n->fused_at[i]], s);
        else
            ok = run_gpu_node(n, i, s);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- inputs and outputs ---------------------------------------------------*/

/* True when the inputs live where the first call's did. */
static bool inputs_placed_alike(const em__native *n, em_tensor *const *inputs)
{
    for (int i = 0; i < n->g->len; i++) {
        const em__node *node = &n->g->nodes[i];
        if (node->kind == EM__NODE_INPUT &&
            em_tensor_device(inputs[node->index]) != n->placed[i])
            return false;
    }
    return true;
}

/* Points the input nodes' headers at the call's inputs, or, for a graph,
 * copies the GPU inputs into the staging buffers its pointers name. */
static bool bind_inputs(em__native *n, em_tensor *const *inputs, bool staged,
                        cudaStream_t s)
{
    for (int i = 0; i < n->g->len; i++) {
        const em__node *node = &n->g->nodes[i];
        if (node->kind != EM__NODE_INPUT)
            continue;
        em_tensor *h = em__cu_header(n, i), *t = inputs[node->index];
        if (!staged || n->placed[i] == EM_CPU) {
            h->data = t->data;
            continue;
        }
        h->data = n->staging[i];
        size_t bytes = em_tensor_nbytes(t);
        if (bytes > 0 &&
            !em__cu_ok(n,
                       cudaMemcpyAsync(h->data, t->data, bytes,
                                       cudaMemcpyDeviceToDevice, s),
                       "copying an input"))
            return false;
    }
    return true;
}

/* One new tensor per output, where its node is, holding its value. */
static bool copy_outputs(em__native *n, em_tensor **outputs, cudaStream_t s)
{
    const em__graph *g = n->g;
    bool ok = true;
    for (int k = 0; k < g->n_outputs && ok; k++) {
        int o = g->outputs[k];
        const em_tensor *h = em__cu_header(n, o);
        outputs[k] = em__tensor_new_on(&g->nodes[o].type, n->placed[o]);
        size_t bytes = outputs[k] ? em_tensor_nbytes(outputs[k]) : 0;
        ok = outputs[k] != NULL;
        if (ok && bytes > 0 && n->placed[o] == EM_CPU)
            memcpy(outputs[k]->data, h->data, bytes);
        else if (ok && bytes > 0)
            ok = em__cu_ok(n,
                           cudaMemcpyAsync(outputs[k]->data, h->data, bytes,
                                           cudaMemcpyDeviceToDevice, s),
                           "copying an output");
    }
    for (int k = 0; k < g->n_outputs && !ok; k++) {
        em_tensor_free(outputs[k]);
        outputs[k] = NULL;
    }
    return ok;
}

/* ---- CUDA graphs ----------------------------------------------------------*/

void em__cu_release_replay(em__native *n)
{
    if (n->exec && cudaGraphExecDestroy(n->exec) != cudaSuccess)
        cudaGetLastError();
    n->exec = NULL;
    for (int i = 0; n->staging && i < n->g->len; i++)
        em__cuda_free(n->device, n->staging[i]);
    free(n->staging);
    free(n->captured);
    n->staging = NULL;
    n->captured = NULL;
}

/* Stops replaying: later calls queue their work one by one. */
static void give_up_graph(em__native *n, const char *why)
{
    em__log(EM_LOG_WARN,
            "cuda: '%s' is not replayed as a CUDA graph (%s); its calls "
            "queue each operation",
            n->name, why);
    n->graphable = false;
    n->no_graph = "its capture failed (see the warning)";
}

/* The staging buffer of every GPU input node, once. */
static bool make_staging(em__native *n)
{
    const em__graph *g = n->g;
    n->staging = calloc((size_t)g->len + 1, sizeof *n->staging);
    n->captured = calloc((size_t)g->len + 1, sizeof *n->captured);
    if (!n->staging || !n->captured) {
        em__error("cuda: out of memory setting up '%s'", n->name);
        return false;
    }
    for (int i = 0; i < g->len; i++) {
        if (g->nodes[i].kind != EM__NODE_INPUT || n->placed[i] == EM_CPU)
            continue;
        size_t bytes = (size_t)em__type_size(&g->nodes[i].type) *
                       em_dtype_size(g->nodes[i].type.dtype);
        if (!(n->staging[i] = em__cuda_alloc(n->device, bytes ? bytes : 1)))
            return false;
    }
    return true;
}

/* True while the graph still names the buffers and settings the call
 * would use: the constants' and variables' storage, the TF32 setting. */
static bool graph_current(em__native *n)
{
    if (n->exec_tf32 != em__cuda_tf32())
        return false;
    const em__graph *g = n->g;
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if ((node->kind == EM__NODE_CONST || node->kind == EM__NODE_VARIABLE) &&
            n->placed[i] != EM_CPU && node->value->data != n->captured[i])
            return false;
    }
    return true;
}

/* Captures the GPU work of a call into n->exec. False (nothing queued, no
 * error pending) when CUDA cannot capture it: the reason goes to the log. */
static bool capture(em__native *n, cudaStream_t s)
{
    const em__graph *g = n->g;
    /* Constants and variables as the graph will name them. */
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if ((node->kind == EM__NODE_CONST || node->kind == EM__NODE_VARIABLE) &&
            n->placed[i] != EM_CPU)
            em__cu_header(n, i)->data = n->captured[i] = node->value->data;
    }
    n->exec_tf32 = em__cuda_tf32();
    char why[300] = "";
    /* Relaxed: nothing the kernels' host side calls is refused; what is
     * queued on s is captured. */
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
        give_up_graph(n, why);
        return false;
    }
    bool queued = run_nodes(n, s, false, true);
    if (!queued) {
        snprintf(why, sizeof why, "%s", em_error_peek());
        em_error_clear();
    }
    cudaGraph_t graph = NULL;
    e = cudaStreamEndCapture(s, &graph);
    if (queued && e != cudaSuccess)
        snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
    if (queued && e == cudaSuccess) {
        e = cudaGraphInstantiate(&n->exec, graph, 0);
        if (e != cudaSuccess) {
            snprintf(why, sizeof why, "instantiating it: %s",
                     cudaGetErrorString(e));
            n->exec = NULL;
        }
    }
    if (graph)
        cudaGraphDestroy(graph);
    cudaGetLastError();
    if (!n->exec) {
        give_up_graph(n, why);
        return false;
    }
    return true;
}

/* A call through the graph: captured at its first use (or when stale),
 * replayed after. Falls back to queueing the work when capture fails. */
static bool run_graph(em__native *n, em_tensor *const *inputs, cudaStream_t s)
{
    if (!n->staging && !make_staging(n))
        return false;
    if (n->exec && !graph_current(n)) {
        if (cudaGraphExecDestroy(n->exec) != cudaSuccess)
            cudaGetLastError();
        n->exec = NULL;
    }
    if (!bind_inputs(n, inputs, true, s) || !run_nodes(n, s, true, false))
        return false;
    if (!n->exec && !capture(n, s))
        return run_nodes(n, s, false, true);
    return em__cu_ok(n, cudaGraphLaunch(n->exec, s),
                     "launching its CUDA graph");
}

int em__cu_run(em__native *n, em_tensor *const *inputs, em_tensor **outputs)
{
    for (int k = 0; k < n->g->n_outputs; k++)
        outputs[k] = NULL;
    if (n->state == EM__CU_DECLINED)
        return 0;
    if (n->state == EM__CU_UNBOUND) {
        int bound = em__cu_bind_nodes(n, inputs);
        if (bound <= 0)
            return bound;
    }
    if (!inputs_placed_alike(n, inputs))
        return 0; /* the body runs op by op, on the inputs' devices */
    cudaStream_t s = em__cuda_stream(n->device);
    if (!s)
        return -1;
    /* The first call queues its work: it loads the kernels and lets
     * cuBLAS settle before anything is captured. */
    bool ok;
    if (n->graphable && ++n->calls >= 2)
        ok = run_graph(n, inputs, s);
    else
        ok = bind_inputs(n, inputs, false, s) && run_nodes(n, s, true, true);
    if (!ok)
        return -1;
    return copy_outputs(n, outputs, s) ? 1 : -1;
}
