/*
 * trace/pass_cse.c - common-subexpression elimination.
 *
 * One walk in program order with a hash table from a node's key (kind, op,
 * inputs, attributes; for constants the captured tensor or its scalar
 * value) to the latest node with that key. Inputs are rewritten through
 * `canon` as the walk goes, so a merge exposes its users to merging too.
 *
 * Variables: an op reading a variable, directly or through views, is
 * merged with an earlier equal one only when no assignment to that
 * variable lies between them (a cond or while node whose regions assign
 * counts as assigning every variable). The check is direct: ops further down
 * differ anyway, since the reads they use were not merged.
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct cse {
    em__graph *g;
    int *canon;      /* node -> the node it was merged into (or itself) */
    int *var_of;     /* node -> variable node its value aliases, or -1 */
    int *last_write; /* variable node -> latest assignment seen, or -1 */
    int *table;      /* open addressing, -1 empty */
    size_t mask;
} cse;

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
    return h;
}

/* Scalars are compared by value (the same literal captured twice), larger
 * constants by identity. */
static bool const_scalar(const em__node *n)
{
    return n->value && n->value->data && n->value->size == 1;
}

static uint64_t node_hash(const em__node *n)
{
    uint64_t h = mix((uint64_t)n->kind, (uint64_t)n->type.dtype);
    if (n->kind == EM__NODE_CONST) {
        h = mix(h, (uint64_t)n->type.ndim);
        if (const_scalar(n)) {
            uint64_t bits = 0;
            size_t size = em_dtype_size(n->type.dtype);
            memcpy(&bits, n->value->data, size < 8 ? size : 8);
            return mix(h, bits);
        }
        return mix(h, (uint64_t)(uintptr_t)n->value);
    }
    h = mix(h, (uint64_t)n->op);
    for (int j = 0; j < n->n_in; j++)
        h = mix(h, (uint64_t)n->inputs[j]);
    return mix(h, (uint64_t)n->attrs.axis);
}

static bool node_equal(const em__node *a, const em__node *b)
{
    if (a->kind != b->kind || !em__type_same(&a->type, &b->type))
        return false;
    if (a->kind == EM__NODE_CONST) {
        if (a->value == b->value)
            return true;
        return const_scalar(a) && const_scalar(b) &&
               memcmp(a->value->data, b->value->data,
                      em_dtype_size(a->type.dtype)) == 0;
    }
    if (a->op != b->op || a->n_in != b->n_in)
        return false;
    for (int j = 0; j < a->n_in; j++)
        if (a->inputs[j] != b->inputs[j])
            return false;
    return em__attrs_equal(&a->attrs, &b->attrs);
}

/* True when node b may reuse node a's value: no variable either reads was
 * assigned since a ran. */
static bool same_variable_state(const cse *c, int a, int b)
{
    const em__node *node = &c->g->nodes[b];
    for (int j = 0; j < node->n_in; j++) {
        int v = c->var_of[node->inputs[j]];
        if (v >= 0 && c->last_write[v] > a)
            return false;
    }
    return true;
}

static bool mergeable(const em__node *n)
{
    if (n->kind == EM__NODE_CONST)
        return n->value != NULL;
    return n->kind == EM__NODE_OP && !em__node_has_effect(n);
}

static void visit(cse *c, int i)
{
    em__graph *g = c->g;
    em__node *node = &g->nodes[i];
    for (int j = 0; j < node->n_in; j++)
        node->inputs[j] = c->canon[node->inputs[j]];
    c->var_of[i] = em__node_aliased_variable(g, c->var_of, i);
    if (em__node_is_region(node) && em__node_has_effect(node)) {
        /* Its regions may assign any variable. */
        for (int v = 0; v < i; v++)
            if (c->var_of[v] == v)
                c->last_write[v] = i;
    } else if (em__node_has_effect(node) && node->n_in > 0) {
        int v = c->var_of[node->inputs[0]];
        if (v >= 0)
            c->last_write[v] = i;
    }
    if (!mergeable(node) || node->name)
        return;
    size_t slot = (size_t)node_hash(node) & c->mask;
    for (;; slot = (slot + 1) & c->mask) {
        int rep = c->table[slot];
        if (rep < 0) {
            c->table[slot] = i;
            return;
        }
        if (!node_equal(&g->nodes[rep], node))
            continue;
        if (g->nodes[rep].name || !same_variable_state(c, rep, i)) {
            c->table[slot] = i; /* later equal nodes merge with this one */
            return;
        }
        c->canon[i] = rep;
        node->dead = true;
        return;
    }
}

bool em__pass_cse(em__graph *g)
{
    size_t cap = 16;
    while (cap < (size_t)g->len * 2)
        cap *= 2;
    size_t n = (size_t)g->len + 1;
    cse c = {g,
             malloc(sizeof(int) * n),
             malloc(sizeof(int) * n),
             malloc(sizeof(int) * n),
             malloc(sizeof(int) * cap),
             cap - 1};
    bool ok = c.canon && c.var_of && c.last_write && c.table;
    if (ok) {
        for (int i = 0; i < g->len; i++) {
            c.canon[i] = i;
            c.var_of[i] = -1;
            c.last_write[i] = -1;
        }
        memset(c.table, 0xff, sizeof(int) * cap);
        for (int i = 0; i < g->len; i++)
            if (!g->nodes[i].dead)
                visit(&c, i);
        for (int k = 0; k < g->n_outputs; k++)
            g->outputs[k] = c.canon[g->outputs[k]];
    }
    free(c.canon);
    free(c.var_of);
    free(c.last_write);
    free(c.table);
    return ok && em__graph_compact(g);
}
