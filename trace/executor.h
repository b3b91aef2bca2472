/*
 * trace/executor.h - the graph executor: runs a concrete function's graph
 * with the CPU kernels, without dispatch and without per-op allocation.
 * Buffers are planned once per graph from value lifetimes (a value's
 * buffer is reused by later values once its last reader has run) and kept
 * across calls.
 */
#ifndef EMBER_TRACE_EXECUTOR_H
#define EMBER_TRACE_EXECUTOR_H

#include "graph.h"

typedef struct em__plan em__plan;

/* Plans buffers for g (which must outlive the plan). NULL with an error
 * when out of memory. */
em__plan *em__plan_new(const em__graph *g);

/* Plans buffers for compiled code that computes node i at node run_at[i]
 * (run_at[i] >= i): nodes with run_at[i] != i are computed inside a later
 * node's loop and get no buffer, and what they read stays alive until
 * run_at[i]. Such a plan is run by that code, not by em__plan_run. */
em__plan *em__plan_new_fused(const em__graph *g, const int *run_at);

/* em__plan_new_fused (run_at may be NULL: every node its own) with node
 * i's buffer on devices[i]: the host (EM_CPU) or a GPU's memory. Only
 * nodes of one device share buffers. A plan with GPU buffers is run by
 * the CUDA tier (cuda/graph_tier.c), never by em__plan_run. */
em__plan *em__plan_new_placed(const em__graph *g, const int *run_at,
                              const em_device *devices);

/* The header of node i: its data pointer is where the value lives during
 * a run (fixed for constants, variables and planned buffers). */
em_tensor *em__plan_header(em__plan *plan, int i);

/* Points the input nodes' headers at inputs (checking their types).
 * Returns false with an error when one does not match. */
bool em__plan_bind_inputs(em__plan *plan, em_tensor *const *inputs);

/* Runs the kernel of op node i on the headers' current values. False with
 * an error naming the op and the node. */
bool em__plan_run_node(em__plan *plan, int i);

/* Makes t (one reference, taken over) the value of node i (a result of a
 * cond or while node) until the node runs again or the plan is freed: the
 * header points at it, with t's type. False with an error (t released). */
bool em__plan_hold(em__plan *plan, int i, em_tensor *t);
/* The graph the plan runs. */
const em__graph *em__plan_graph(const em__plan *plan);
/* The tensor node i holds, or NULL. */
em_tensor *em__plan_held(const em__plan *plan, int i);

/* Writes a new tensor per graph output whose outputs[k] is NULL, copied
 * from the headers' values (outputs[k] already set: left as it is). False
 * with an error (outputs all freed and NULL) when out of memory. */
bool em__plan_copy_outputs(em__plan *plan, em_tensor **outputs);
void em__plan_free(em__plan *plan);

/* Runs the nodes that the fetched nodes need, given the graph's inputs (in
 * argument order) and optional fed values that replace nodes. Writes one
 * new tensor per fetched node. Returns 0, or -1 with an error (fetched all
 * NULL). With n_fetch < 0 fetches the graph's outputs and also runs every
 * node with an effect. */
int em__plan_run(em__plan *plan, em_tensor *const *inputs, int n_feed,
                 const int *feed_nodes, em_tensor *const *feeds, int n_fetch,
                 const int *fetch_nodes, em_tensor **fetched);

/* Nodes the last run executed. */
int64_t em__plan_last_run_nodes(const em__plan *plan);

/* Bytes of buffers the plan holds. */
int64_t em__plan_bytes(const em__plan *plan);

#endif
