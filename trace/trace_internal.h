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

/* ---- regions: tracing the branches and loops of trace/control.c -------*/

/* What a region captured: values of enclosing graphs (region input
 * n_explicit + k stands for captures[k]) and the variables it reads or
 * writes. The arrays and one reference per tensor go to the caller. */
typedef struct em__trace_region_captures {
    int n_captures;
    em_tensor **captures;
    int n_variables;
    em_tensor **variables;
} em__trace_region_captures;

/* Makes `region` (a new graph whose first n_explicit inputs the caller
 * adds) the graph that ops join, until em__trace_region_end. Tapes
 * recording now are hidden meanwhile, as they are from a trace. False with
 * an error when not tracing or out of memory. */
bool em__trace_region_begin(em__graph *region, int n_explicit);
/* Returns to the enclosing graph; sets the region's n_inputs. */
void em__trace_region_end(em__trace_region_captures *out);

/* The node standing for t in the graph ops now join (capturing it when
 * needed); -1 with an error. */
int em__trace_node(em_tensor *t);
/* The graph ops now join, or NULL when not tracing. */
em__graph *em__trace_current_graph(void);

#endif
