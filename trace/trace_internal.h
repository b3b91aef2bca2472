/*
 * trace/trace_internal.h - what the tracer shows other trace modules (the
 * graph file writer) about a concrete function.
 */
#ifndef EMBER_TRACE_INTERNAL_H
#define EMBER_TRACE_INTERNAL_H

#include "graph.h"

/* c's optimised graph and its exact input types (n_inputs of them, which
 * the graph may no longer all read); both belong to c. */
const em__graph *em__concrete_graph(const em_concrete *c, int *n_inputs,
                                    const em__type **input_types);

#endif
