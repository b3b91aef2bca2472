/*
 * trace/passes.h - graph optimisation passes. Each pass rewrites a graph in
 * place (uses replaced, nodes marked dead), compacts it, and returns false
 * only when out of memory. em__graph_optimize runs them in order.
 */
#ifndef EMBER_TRACE_PASSES_H
#define EMBER_TRACE_PASSES_H

#include "graph.h"

/* Removes nodes that no output and no effect needs. */
bool em__pass_dce(em__graph *g);

/* Runs every pass, in the order that lets each expose work for the next. */
bool em__graph_optimize(em__graph *g);

#endif
