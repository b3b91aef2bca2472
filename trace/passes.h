/*
 * trace/passes.h - graph optimisation passes. Each pass rewrites a graph in
 * place (uses replaced, nodes marked dead), compacts it, and returns false
 * only when out of memory (or, for em__pass_prune, on a bad output index).
 * em__graph_optimize runs them in order.
 *
 * Rules every pass keeps:
 *  - nodes with effects (assignments) are never merged, folded or removed;
 *  - a value that aliases a variable (the variable node, a view of it, an
 *    assignment's result) is never read at a later point than the graph
 *    read it, since an assignment in between would change what it sees;
 *  - named nodes (em_trace_name) are never removed by a rewrite, so partial
 *    runs can still fetch and feed them.
 */
#ifndef EMBER_TRACE_PASSES_H
#define EMBER_TRACE_PASSES_H

#include "graph.h"

/* Removes nodes that no output and no effect needs. */
bool em__pass_dce(em__graph *g);

/* Algebraic simplification: x*1, 1*x, x/1, x+0, 0+x, x-0 -> x (only when
 * the result has exactly x's type), permute of permute (composed, identity
 * -> x), reshape of reshape, reshape to the same shape -> x, and
 * log(softmax(x)) -> log_softmax(x). */
bool em__pass_simplify(em__graph *g);

/* Constant folding: op nodes whose inputs are all constants are computed
 * now and become constants (results over 1 MiB are left to run time). */
bool em__pass_fold(em__graph *g);

/* Common-subexpression elimination: merges op nodes with the same op,
 * inputs and attributes, and constants capturing the same tensor or equal
 * scalars. Two ops that directly read a variable (or a view of one) are
 * not merged across an assignment to it; their users then differ too. */
bool em__pass_cse(em__graph *g);

/* Keeps only outputs keep_outputs[0 .. n_keep) (in that order, renumbered
 * 0 .. n_keep - 1) and then removes what they no longer need; effects
 * stay. False with an error when an index is out of range. */
bool em__pass_prune(em__graph *g, int n_keep, const int *keep_outputs);

/* Runs every pass, in the order that lets each expose work for the next. */
bool em__graph_optimize(em__graph *g);

/* ---- helpers the passes share (trace/pass_util.c) ------------------------*/

/* True when two nodes' attributes are equal, field by field (padding
 * bytes are never compared). */
bool em__attrs_equal(const em__attrs *a, const em__attrs *b);

/* The variable node that node i's value aliases (i itself for a variable,
 * var_of[input 0] for views and assignments), or -1. var_of holds the
 * answer for every earlier node. */
int em__node_aliased_variable(const em__graph *g, const int *var_of, int i);

/* True when node i is a constant whose every element equals v. */
bool em__node_is_const_fill(const em__graph *g, int i, double v);

/* True when two types have the same dtype and shape. */
bool em__type_same(const em__type *a, const em__type *b);

#endif
