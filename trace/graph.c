/*
 * trace/graph.c - building, checking, compacting and printing graphs.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"

em__graph *em__graph_new(const char *name)
{
    em__graph *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name ? name : "traced");
    if (!g->name) {
        free(g);
        return NULL;
    }
    return g;
}

static void node_release(em__node *node)
{
    free(node->inputs);
    free(node->name);
    if (node->value)
        em__tensor_unref(node->value);
    em__region_release(node);
    node->inputs = NULL;
    node->name = NULL;
    node->value = NULL;
}

void em__graph_free(em__graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->len; i++)
        node_release(&g->nodes[i]);
    free(g->nodes);
    free(g->outputs);
    free(g->name);
    free(g);
}

int em__graph_add(em__graph *g, em__node_kind kind, em__op op,
                  const int *inputs, int n_in, const em__attrs *attrs,
                  const em__type *type, em_tensor *value)
{
    if (g->len == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        em__node *p = realloc(g->nodes, sizeof *p * (size_t)cap);
        if (!p) {
            em__error("trace: out of memory adding a node to '%s'", g->name);
            return -1;
        }
        g->nodes = p;
        g->cap = cap;
    }
    em__node *node = &g->nodes[g->len];
    memset(node, 0, sizeof *node);
    if (n_in > 0) {
        node->inputs = malloc(sizeof(int) * (size_t)n_in);
        if (!node->inputs) {
            em__error("trace: out of memory adding a node to '%s'", g->name);
            return -1;
        }
        memcpy(node->inputs, inputs, sizeof(int) * (size_t)n_in);
    }
    node->kind = kind;
    node->op = op;
    node->n_in = n_in;
    if (attrs)
        node->attrs = *attrs;
    node->type = *type;
    node->value = value ? em__tensor_ref(value) : NULL;
    node->index = -1;
    return g->len++;
}

bool em__node_has_effect(const em__node *node)
{
    if (em__node_is_region(node)) {
        for (int r = 0; r < node->n_regions; r++)
            for (int i = 0; node->regions[r] && i < node->regions[r]->len; i++)
                if (!node->regions[r]->nodes[i].dead &&
                    em__node_has_effect(&node->regions[r]->nodes[i]))
                    return true;
        return false;
    }
    return node->kind == EM__NODE_OP &&
           (em__op_table[node->op].flags & EM__OP_IN_PLACE);
}

void em__graph_replace_uses(em__graph *g, int from, int to)
{
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (g->nodes[i].inputs[j] == from)
                g->nodes[i].inputs[j] = to;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == from)
            g->outputs[i] = to;
}

bool em__graph_compact(em__graph *g)
{
    int *remap = malloc(sizeof(int) * (size_t)(g->len ? g->len : 1));
    if (!remap)
        return false;
    int kept = 0;
    for (int i = 0; i < g->len; i++) {
        if (g->nodes[i].dead) {
            remap[i] = -1;
            node_release(&g->nodes[i]);
            continue;
        }
        remap[i] = kept;
        g->nodes[kept++] = g->nodes[i];
    }
    /* Only live nodes, moved down over released ones, are read here. */
    for (int i = 0; i < kept; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
            g->nodes[i].inputs[j] = remap[g->nodes[i].inputs[j]];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = remap[g->outputs[i]];
    g->len = kept;
    free(remap);
    return true;
}

int em__graph_live_nodes(const em__graph *g)
{
    int n = 0;
    for (int i = 0; i < g->len; i++)
        n += !g->nodes[i].dead;
    return n;
}

bool em__graph_verify(const em__graph *g, char *msg, size_t size)
{
    char a[200], b[200];
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->dead)
            continue;
        const em__type *types[EM_MAX_DIMS * 4];
        if (node->n_in > (int)(sizeof types / sizeof *types) &&
            !em__node_is_region(node)) {
            snprintf(msg, size, "%%%d has %d inputs", i, node->n_in);
            return false;
        }
        for (int j = 0; j < node->n_in; j++) {
            int in = node->inputs[j];
            if (in < 0 || in >= i || g->nodes[in].dead) {
                snprintf(msg, size,
                         "%%%d: input %d is %%%d, not an earlier "
                         "live node",
                         i, j, in);
                return false;
            }
            if (j < (int)(sizeof types / sizeof *types))
                types[j] = &g->nodes[in].type;
        }
        if (em__node_is_region(node) || node->kind == EM__NODE_RESULT) {
            if (!em__region_verify(g, i, msg, size))
                return false;
            continue;
        }
        if (node->kind != EM__NODE_OP)
            continue;
        const em__op_def *def = &em__op_table[node->op];
        em__attrs attrs = node->attrs;
        em__type want;
        char detail[300];
        if (!def->infer(types, node->n_in, &attrs, &want, detail,
                        sizeof detail)) {
            snprintf(msg, size, "%%%d = %s: %s", i, def->name, detail);
            return false;
        }
        if (want.dtype != node->type.dtype ||
            !em__type_equal_shape(&want, &node->type)) {
            snprintf(msg, size, "%%%d = %s: typed %s, its inputs give %s", i,
                     def->name, em__type_format(&node->type, a, sizeof a),
                     em__type_format(&want, b, sizeof b));
            return false;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int o = g->outputs[i];
        if (o < 0 || o >= g->len || g->nodes[o].dead) {
            snprintf(msg, size, "output %d is %%%d, not a live node", i, o);
            return false;
        }
    }
    return true;
}

/* ---- text ----------------------------------------------------------------*/

static void put_ints(em__text *t, const char *key, int n, const int *v)
{
    em__text_put(t, " %s=[", key);
    for (int i = 0; i < n; i++)
        em__text_put(t, "%s%d", i ? "," : "", v[i]);
    em__text_put(t, "]");
}

/* The attributes that differ from their zero defaults; the output type
 * already shows cast's and one_hot's dtype. */
static void put_attrs(em__text *t, const em__attrs *a)
{
    char shape[200];
    if (a->naxes > 0)
        put_ints(t, "axes", a->naxes, a->axes);
    if (a->axis != 0)
        em__text_put(t, " axis=%d", a->axis);
    if (a->keepdims)
        em__text_put(t, " keepdims");
    if (a->transpose_a)
        em__text_put(t, " transpose_a");
    if (a->transpose_b)
        em__text_put(t, " transpose_b");
    if (a->alpha != 0)
        em__text_put(t, " alpha=%g", a->alpha);
    if (a->depth != 0)
        em__text_put(t, " depth=%lld", (long long)a->depth);
    if (a->ndim > 0)
        em__text_put(t, " shape=%s",
                     em_shape_format(a->ndim, a->shape, shape, sizeof shape));
}

static void put_node(em__text *t, const em__graph *g, int i)
{
    const em__node *node = &g->nodes[i];
    char type[200];
    em__type_format(&node->type, type, sizeof type);
    em__text_put(t, "  %%%d = ", i);
    switch (node->kind) {
    case EM__NODE_INPUT:
        em__text_put(t, "input %d", node->index);
        break;
    case EM__NODE_CONST:
        if (node->value && node->value->size == 1)
            em__text_put(t, "const %g",
                         em__load_f64(node->value->data, node->type.dtype, 0));
        else
            em__text_put(t, "const");
        break;
    case EM__NODE_VARIABLE:
        em__text_put(t, "variable \"%s\"",
                     node->value ? node->value->name : "?");
        break;
    case EM__NODE_OP:
        em__text_put(t, "%s(", em__op_table[node->op].name);
        for (int j = 0; j < node->n_in; j++)
            em__text_put(t, "%s%%%d", j ? ", " : "", node->inputs[j]);
        em__text_put(t, ")");
        put_attrs(t, &node->attrs);
        break;
    case EM__NODE_COND:
    case EM__NODE_WHILE:
        em__text_put(t, "%s(", node->kind == EM__NODE_COND ? "cond" : "while");
        for (int j = 0; j < node->n_in; j++)
            em__text_put(t, "%s%%%d", j ? ", " : "", node->inputs[j]);
        em__text_put(t, ")");
        em__region_format(t, g, i);
        if (node->name)
            em__text_put(t, "  # %s", node->name);
        em__text_put(t, "\n");
        return;
    case EM__NODE_RESULT:
        em__text_put(t, "result %%%d #%d", node->inputs[0], node->index);
        break;
    }
    em__text_put(t, " : %s", type);
    if (node->name)
        em__text_put(t, "  # %s", node->name);
    em__text_put(t, "\n");
}

int em__graph_format(const em__graph *g, char *buf, size_t size)
{
    em__text t = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    em__text_put(&t, "graph %s(", g->name);
    int shown = 0;
    for (int i = 0; i < g->len; i++) {
        if (g->nodes[i].dead || g->nodes[i].kind != EM__NODE_INPUT)
            continue;
        char type[200];
        em__text_put(&t, "%s%%%d: %s", shown++ ? ", " : "", i,
                     em__type_format(&g->nodes[i].type, type, sizeof type));
    }
    em__text_put(&t, ") {\n");
    for (int i = 0; i < g->len; i++)
        if (!g->nodes[i].dead && g->nodes[i].kind != EM__NODE_INPUT)
            put_node(&t, g, i);
    em__text_put(&t, "  return (");
    for (int i = 0; i < g->n_outputs; i++)
        em__text_put(&t, "%s%%%d", i ? ", " : "", g->outputs[i]);
    em__text_put(&t, ")\n}\n");
    return (int)t.used;
}

int em__graph_format_dot(const em__graph *g, char *buf, size_t size)
{
    em__text t = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    em__text_put(&t,
                 "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, "
                 "fontname=monospace];\n",
                 g->name);
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->dead)
            continue;
        char type[200];
        em__type_format(&node->type, type, sizeof type);
        const char *label = node->kind == EM__NODE_INPUT      ? "input"
                            : node->kind == EM__NODE_CONST    ? "const"
                            : node->kind == EM__NODE_VARIABLE ? "variable"
                            : node->kind == EM__NODE_COND     ? "cond"
                            : node->kind == EM__NODE_WHILE    ? "while"
                            : node->kind == EM__NODE_RESULT
                                ? "result"
                                : em__op_table[node->op].name;
        const char *style = node->kind == EM__NODE_OP ? "" : ", style=rounded";
        em__text_put(&t, "  n%d [label=\"%%%d %s%s%s\\n%s\"%s];\n", i, i, label,
                     node->kind == EM__NODE_VARIABLE ? " " : "",
                     node->kind == EM__NODE_VARIABLE && node->value
                         ? node->value->name
                         : "",
                     type, style);
        for (int j = 0; j < node->n_in; j++)
            em__text_put(&t, "  n%d -> n%d;\n", node->inputs[j], i);
        if (em__node_is_region(node)) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "n%d", i);
            em__region_format_dot(&t, g, i, prefix);
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        em__text_put(&t,
                     "  out%d [label=\"out:%d\", shape=plaintext];\n  n%d -> "
                     "out%d;\n",
                     i, i, g->outputs[i], i);
    em__text_put(&t, "}\n");
    return (int)t.used;
}
