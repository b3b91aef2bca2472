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
