/*
 * trace/graph.h - the graph IR of traced functions.
 *
 * A graph is a list of nodes in program order; node i's inputs are earlier
 * nodes (SSA: every node defines one value, of one type). Node kinds:
 *   input     argument `index` of the function
 *   const     a concrete tensor captured by reference while tracing
 *   variable  a variable, read (and, by in-place ops, written) at each run
 *   op        a row of the op table applied to its inputs
 *   cond      em_cond: inputs[0] is the bool predicate, the rest the
 *             values its regions read (region input k is node input
 *             k + 1); regions[0] is the then branch, regions[1] the else
 *             branch, each returning `index` results
 *   while     em_while_loop: inputs are the `index` loop variables, then
 *             the values its regions read (region input k is node input
 *             k); regions[0] is the condition (one bool scalar), regions[1]
 *             the body (the new loop variables). attrs.depth is the
 *             iteration limit (0: none); attrs.shape[] holds a bit per
 *             relaxed loop variable; attrs.keepdims asks for the iteration
 *             count (int64 scalar, result `index`) and each loop variable's
 *             value before every iteration, stacked (results index + 1 + j,
 *             typed [1, ...] but [count, ...] at run time), for gradients
 *   result    result `index` of the cond or while node inputs[0]
 * A region is a graph of its own (whose input nodes are the region's
 * inputs); it captures constants and variables directly. A cond or while
 * node whose regions have effects has an effect itself. The node itself
 * holds no value; its results do.
 * Ops flagged EM__OP_IN_PLACE (assignments) have an effect: they write
 * their first input, a variable node, and are kept in program order with
 * every other node that touches that variable. Passes rewrite the graph in
 * place (em__graph_replace_uses, marking nodes dead) and then compact it.
 */
#ifndef EMBER_TRACE_GRAPH_H
#define EMBER_TRACE_GRAPH_H

#include "internal.h"

typedef enum em__node_kind {
    EM__NODE_INPUT,
    EM__NODE_CONST,
    EM__NODE_VARIABLE,
    EM__NODE_OP,
    EM__NODE_COND,
    EM__NODE_WHILE,
    EM__NODE_RESULT,
} em__node_kind;

/* Most loop variables a while node may have (one bit each in attrs.shape). */
#define EM__MAX_LOOP_VARS (EM_MAX_DIMS * 64)

typedef struct em__node {
    em__node_kind kind;
    em__op op; /* op nodes */
    int n_in;
    int *inputs;                /* node ids, all smaller than this node's */
    em__attrs attrs;            /* op nodes */
    em__type type;              /* the value's dtype and shape */
    em_tensor *value;           /* const and variable nodes: a reference held */
    int index;                  /* input nodes: the argument position */
    char *name;                 /* optional, for partial runs and dumps */
    bool dead;                  /* removed by a pass, gone after compaction */
    struct em__graph **regions; /* cond and while nodes: owned */
    int n_regions;
} em__node;

typedef struct em__graph {
    char *name;
    em__node *nodes;
    int len, cap;
    int *outputs;
    int n_outputs;
    int n_inputs;
} em__graph;

/* A new empty graph named `name` (copied); NULL when out of memory. */
em__graph *em__graph_new(const char *name);
/* Releases the graph and its references to captured tensors. */
void em__graph_free(em__graph *g);

/* Appends a node and returns its id, or -1 (with an error) when out of
 * memory. inputs are copied; value (const/variable) gets a reference. */
int em__graph_add(em__graph *g, em__node_kind kind, em__op op,
                  const int *inputs, int n_in, const em__attrs *attrs,
                  const em__type *type, em_tensor *value);

/* True for nodes whose effect must happen even when nothing uses them. */
bool em__node_has_effect(const em__node *node);

/* Makes every use of node `from` (inputs and outputs) use `to`. */
void em__graph_replace_uses(em__graph *g, int from, int to);

/* Drops dead nodes and renumbers the rest (keeping their order). Returns
 * false when out of memory (the graph is then unchanged). */
bool em__graph_compact(em__graph *g);

/* Checks the graph's invariants: inputs precede their users, types agree
 * with the op table's shape rules, outputs exist. False with a message. */
bool em__graph_verify(const em__graph *g, char *msg, size_t size);

/* Text form, one line per node, and Graphviz DOT (like snprintf). */
int em__graph_format(const em__graph *g, char *buf, size_t size);
int em__graph_format_dot(const em__graph *g, char *buf, size_t size);

/* Number of live (not dead) nodes. */
int em__graph_live_nodes(const em__graph *g);

/* ---- regions (trace/graph_region.c) ------------------------------------*/

/* True for cond and while nodes. */
bool em__node_is_region(const em__node *node);

/* Number of results of a cond or while node (with the saved iterations of
 * a while node that keeps them). */
int em__region_results(const em__node *node);

/* The type result k of region node `node` (a node of g) has. */
em__type em__region_result_type(const em__graph *g, const em__node *node,
                                int k);

/* Checks a cond or while node i and its regions (recursively); false with
 * a message. */
bool em__region_verify(const em__graph *g, int i, char *msg, size_t size);

/* Appends the text / DOT form of region node i's regions. */
void em__region_format(em__text *t, const em__graph *g, int i);
void em__region_format_dot(em__text *t, const em__graph *g, int i,
                           const char *prefix);

/* Releases a node's regions. */
void em__region_release(em__node *node);

/* Live nodes of g and of every region in it. */
int em__graph_live_nodes_deep(const em__graph *g);

#endif
