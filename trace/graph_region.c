/*
 * trace/graph_region.c - the parts of the graph IR that hold regions: cond
 * and while nodes, their results, and checking and printing them.
 */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static const char *const region_names[2][2] = {{"then", "else"},
                                               {"cond", "body"}};

bool em__node_is_region(const em__node *node)
{
    return node->kind == EM__NODE_COND || node->kind == EM__NODE_WHILE;
}

int em__region_results(const em__node *node)
{
    if (node->kind == EM__NODE_WHILE && node->attrs.keepdims)
        return 2 * node->index + 1;
    return node->index;
}

static bool relaxed(const em__node *node, int k)
{
    return k < EM__MAX_LOOP_VARS &&
           ((uint64_t)node->attrs.shape[k / 64] >> (k % 64) & 1u);
}

em__type em__region_result_type(const em__graph *g, const em__node *node, int k)
{
    em__type t = {0};
    if (node->kind == EM__NODE_COND) {
        const em__graph *then = node->regions[0];
        return then->nodes[then->outputs[k]].type;
    }
    int n_vars = node->index;
    if (k < n_vars)
        return g->nodes[node->inputs[k]].type;
    t.dtype = EM_INT64;
    if (k == n_vars)
        return t;
    /* A stack of the variable's values, one row per iteration. */
    const em__type *var = &g->nodes[node->inputs[k - n_vars - 1]].type;
    t.dtype = var->dtype;
    t.ndim = var->ndim + 1;
    t.shape[0] = 1;
    for (int d = 0; d < var->ndim && d + 1 < EM_MAX_DIMS; d++)
        t.shape[d + 1] = var->shape[d];
    return t;
}

/* The type of input k of region r (the node's input it stands for). */
static const em__type *region_input_type(const em__graph *g,
                                         const em__node *node, int k)
{
    int offset = node->kind == EM__NODE_COND ? 1 : 0;
    return &g->nodes[node->inputs[k + offset]].type;
}

static bool same_type(const em__type *a, const em__type *b)
{
    return a->dtype == b->dtype && em__type_equal_shape(a, b);
}

static bool fail(char *msg, size_t size, int i, const char *fmt,
                 const em__type *a, const em__type *b)
{
    char x[200] = "", y[200] = "", detail[300];
    if (a)
        em__type_format(a, x, sizeof x);
    if (b)
        em__type_format(b, y, sizeof y);
    snprintf(detail, sizeof detail, fmt, x, y);
    snprintf(msg, size, "%%%d: %s", i, detail);
    return false;
}

/* Region r of node i: its inputs stand for the node's, typed alike. */
static bool verify_region_inputs(const em__graph *g, int i, int r, char *msg,
                                 size_t size)
{
    const em__node *node = &g->nodes[i];
    const em__graph *region = node->regions[r];
    int n = node->n_in - (node->kind == EM__NODE_COND ? 1 : 0);
    if (region->n_inputs != n) {
        snprintf(msg, size, "%%%d: region %s takes %d inputs, the node has %d",
                 i, region_names[node->kind == EM__NODE_WHILE][r],
                 region->n_inputs, n);
        return false;
    }
    for (int j = 0; j < region->len; j++) {
        const em__node *in = &region->nodes[j];
        if (in->dead || in->kind != EM__NODE_INPUT)
            continue;
        if (in->index < 0 || in->index >= n) {
            snprintf(msg, size, "%%%d: region input %d out of range", i,
                     in->index);
            return false;
        }
        const em__type *want = region_input_type(g, node, in->index);
        bool loose = node->kind == EM__NODE_WHILE && in->index < node->index &&
                     relaxed(node, in->index);
        if (loose ? in->type.dtype != want->dtype : !same_type(&in->type, want))
            return fail(msg, size, i, "a region input is %s, the node gives %s",
                        &in->type, want);
    }
    return true;
}

static bool scalar_bool(const em__type *t)
{
    return t->dtype == EM_BOOL && em__type_size(t) == 1;
}

static bool verify_cond(const em__graph *g, int i, char *msg, size_t size)
{
    const em__node *node = &g->nodes[i];
    const em__graph *then = node->regions[0], *other = node->regions[1];
    if (node->n_in < 1 || !scalar_bool(&g->nodes[node->inputs[0]].type))
        return fail(msg, size, i, "cond's predicate is not a bool scalar%s%s",
                    NULL, NULL);
    if (then->n_outputs != node->index || other->n_outputs != node->index) {
        snprintf(msg, size,
                 "%%%d: cond has %d results, its branches return %d "
                 "and %d",
                 i, node->index, then->n_outputs, other->n_outputs);
        return false;
    }
    for (int k = 0; k < node->index; k++)
        if (!same_type(&then->nodes[then->outputs[k]].type,
                       &other->nodes[other->outputs[k]].type))
            return fail(msg, size, i, "cond's branches return %s and %s",
                        &then->nodes[then->outputs[k]].type,
                        &other->nodes[other->outputs[k]].type);
    return true;
}

static bool verify_while(const em__graph *g, int i, char *msg, size_t size)
{
    const em__node *node = &g->nodes[i];
    const em__graph *cond = node->regions[0], *body = node->regions[1];
    int n_vars = node->index;
    if (n_vars < 0 || n_vars > node->n_in || n_vars > EM__MAX_LOOP_VARS ||
        node->attrs.depth < 0) {
        snprintf(msg, size, "%%%d: while with %d loop variables of %d inputs",
                 i, n_vars, node->n_in);
        return false;
    }
    if (cond->n_outputs != 1 ||
        !scalar_bool(&cond->nodes[cond->outputs[0]].type))
        return fail(msg, size, i,
                    "while's condition is not one bool scalar%s%s", NULL, NULL);
    if (body->n_outputs != n_vars) {
        snprintf(msg, size,
                 "%%%d: while has %d loop variables, its body "
                 "returns %d",
                 i, n_vars, body->n_outputs);
        return false;
    }
    for (int k = 0; k < n_vars; k++) {
        const em__type *want = &g->nodes[node->inputs[k]].type;
        const em__type *got = &body->nodes[body->outputs[k]].type;
        if (relaxed(node, k) ? got->dtype != want->dtype
                             : !same_type(got, want))
            return fail(msg, size, i, "while's body returns %s for %s", got,
                        want);
        if (node->attrs.keepdims && want->ndim >= EM_MAX_DIMS)
            return fail(msg, size, i, "while keeps iterations of %s%s", want,
                        NULL);
    }
    return true;
}

static bool verify_result(const em__graph *g, int i, char *msg, size_t size)
{
    const em__node *node = &g->nodes[i];
    const em__node *region =
        node->n_in == 1 ? &g->nodes[node->inputs[0]] : NULL;
    if (!region || !em__node_is_region(region) || node->index < 0 ||
        node->index >= em__region_results(region)) {
        snprintf(msg, size, "%%%d: result %d of a node without it", i,
                 node->index);
        return false;
    }
    em__type want = em__region_result_type(g, region, node->index);
    if (!same_type(&want, &node->type))
        return fail(msg, size, i, "result typed %s, its region gives %s",
                    &node->type, &want);
    return true;
}

bool em__region_verify(const em__graph *g, int i, char *msg, size_t size)
{
    const em__node *node = &g->nodes[i];
    if (node->kind == EM__NODE_RESULT)
        return verify_result(g, i, msg, size);
    if (node->n_regions != 2 || !node->regions || !node->regions[0] ||
        !node->regions[1] || node->index < 0) {
        snprintf(msg, size, "%%%d: a region node without its two regions", i);
        return false;
    }
    for (int r = 0; r < 2; r++) {
        char inner[300];
        if (!verify_region_inputs(g, i, r, msg, size))
            return false;
        if (!em__graph_verify(node->regions[r], inner, sizeof inner)) {
            snprintf(msg, size, "%%%d region %s: %s", i,
                     region_names[node->kind == EM__NODE_WHILE][r], inner);
            return false;
        }
    }
    return node->kind == EM__NODE_COND ? verify_cond(g, i, msg, size)
                                       : verify_while(g, i, msg, size);
}

void em__region_release(em__node *node)
{
    for (int r = 0; r < node->n_regions; r++)
        em__graph_free(node->regions[r]);
    free(node->regions);
    node->regions = NULL;
    node->n_regions = 0;
}

int em__graph_live_nodes_deep(const em__graph *g)
{
    int n = 0;
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->dead)
            continue;
        n++;
        for (int r = 0; r < node->n_regions; r++)
            n += em__graph_live_nodes_deep(node->regions[r]);
    }
    return n;
}

/* ---- text ----------------------------------------------------------------*/

static const char *region_name(bool is_while, int r)
{
    return r >= 0 && r < 2 ? region_names[is_while][r] : "region";
}

void em__region_format(em__text *t, const em__graph *g, int i)
{
    const em__node *node = &g->nodes[i];
    bool is_while = node->kind == EM__NODE_WHILE;
    if (is_while && node->attrs.depth > 0)
        em__text_put(t, " max_iterations=%lld", (long long)node->attrs.depth);
    if (is_while && node->attrs.keepdims)
        em__text_put(t, " keep_iterations");
    em__text_put(t, " {");
    for (int r = 0; r < node->n_regions; r++) {
        int need = em__graph_format(node->regions[r], NULL, 0);
        char *text = malloc((size_t)need + 1);
        em__text_put(t, "\n    %s:", region_name(is_while, r));
        if (!text)
            continue;
        em__graph_format(node->regions[r], text, (size_t)need + 1);
        /* Each line of the region's text, indented under the node. */
        for (char *line = text; *line;) {
            char *end = strchr(line, '\n');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            em__text_put(t, "\n    %.*s", (int)len, line);
            line += len + (end ? 1 : 0);
        }
        free(text);
    }
    em__text_put(t, "\n  }");
}

void em__region_format_dot(em__text *t, const em__graph *g, int i,
                           const char *prefix)
{
    const em__node *node = &g->nodes[i];
    bool is_while = node->kind == EM__NODE_WHILE;
    for (int r = 0; r < node->n_regions; r++) {
        const em__graph *region = node->regions[r];
        em__text_put(t, "  subgraph cluster_%s_%d {\n    label=\"%s\";\n",
                     prefix, r, region_name(is_while, r));
        for (int j = 0; j < region->len; j++) {
            const em__node *n = &region->nodes[j];
            if (n->dead)
                continue;
            char type[200];
            em__type_format(&n->type, type, sizeof type);
            const char *label = n->kind == EM__NODE_OP
                                    ? em__op_table[n->op].name
                                : n->kind == EM__NODE_INPUT  ? "input"
                                : n->kind == EM__NODE_CONST  ? "const"
                                : n->kind == EM__NODE_RESULT ? "result"
                                : n->kind == EM__NODE_COND   ? "cond"
                                : n->kind == EM__NODE_WHILE  ? "while"
                                                             : "variable";
            em__text_put(t, "    %s_%d_n%d [label=\"%%%d %s\\n%s\"];\n", prefix,
                         r, j, j, label, type);
            for (int k = 0; k < n->n_in; k++)
                em__text_put(t, "    %s_%d_n%d -> %s_%d_n%d;\n", prefix, r,
                             n->inputs[k], prefix, r, j);
        }
        em__text_put(t, "  }\n");
        for (int j = 0; j < region->len; j++)
            if (!region->nodes[j].dead &&
                em__node_is_region(&region->nodes[j])) {
                char inner[200];
                snprintf(inner, sizeof inner, "%s_%d_n%d", prefix, r, j);
                em__region_format_dot(t, region, j, inner);
            }
        for (int k = 0; k < region->n_outputs; k++)
            em__text_put(t, "  %s_%d_n%d -> %s [style=dashed];\n", prefix, r,
                         region->outputs[k], prefix);
    }
}
