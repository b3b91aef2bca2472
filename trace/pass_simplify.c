/*
 * trace/pass_simplify.c - algebraic simplification.
 *
 * Rewrites that drop a node (x*1 -> x) apply only when the node's type is
 * exactly x's: a broadcasting operand may widen the shape or the dtype.
 * Rewrites that make a node read an earlier value instead of its input
 * (x for permute(permute(x)), log(softmax(x))) skip values aliasing a
 * variable, whose contents an assignment in between may have changed.
 * x + 0 -> x keeps the sign of a zero x where IEEE addition would give
 * +0; nothing but a division by that zero can tell them apart.
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

typedef struct simplify {
    em__graph *g;
    int *canon;  /* node -> the node that replaced it (or itself) */
    int *var_of; /* node -> variable node its value aliases, or -1 */
} simplify;

/* Node i's value may be read later than where the graph reads it. */
static bool movable(const simplify *s, int i)
{
    return s->var_of[i] < 0;
}

/* Replaces node i by earlier node x when that keeps every type. */
static bool replace_by(simplify *s, int i, int x)
{
    em__node *node = &s->g->nodes[i];
    if (node->name || !movable(s, x) ||
        !em__type_same(&node->type, &s->g->nodes[x].type))
        return false;
    s->canon[i] = x;
    node->dead = true;
    return true;
}

/* x op c or c op x, with c a constant filled with v: replaced by x. */
static bool identity_operand(simplify *s, int i, double v, bool either_side)
{
    const em__node *node = &s->g->nodes[i];
    int a = node->inputs[0], b = node->inputs[1];
    if (em__node_is_const_fill(s->g, b, v) && replace_by(s, i, a))
        return true;
    return either_side && em__node_is_const_fill(s->g, a, v) &&
           replace_by(s, i, b);
}

/* permute(permute(x, p), q) = permute(x, r) with r[k] = p[q[k]]. */
static void compose_permutes(simplify *s, int i)
{
    em__node *node = &s->g->nodes[i];
    const em__node *inner = &s->g->nodes[node->inputs[0]];
    if (inner->kind != EM__NODE_OP || inner->op != EM_OP_PERMUTE ||
        inner->attrs.naxes != node->attrs.naxes ||
        !movable(s, inner->inputs[0]))
        return;
    int n = node->attrs.naxes, r[EM_MAX_DIMS];
    bool identity = true;
    for (int k = 0; k < n; k++) {
        int q = node->attrs.axes[k];
        if (q < 0 || q >= n)
            return;
        r[k] = inner->attrs.axes[q];
        identity = identity && r[k] == k;
    }
    int x = inner->inputs[0];
    if (identity && replace_by(s, i, x))
        return;
    node->inputs[0] = x;
    memcpy(node->attrs.axes, r, sizeof(int) * (size_t)n);
}

static void reshape(simplify *s, int i)
{
    em__node *node = &s->g->nodes[i];
    const em__node *inner = &s->g->nodes[node->inputs[0]];
    if (inner->kind == EM__NODE_OP && inner->op == EM_OP_RESHAPE &&
        movable(s, inner->inputs[0]))
        node->inputs[0] = inner->inputs[0];
    replace_by(s, i, node->inputs[0]);
}

static void log_of_softmax(simplify *s, int i)
{
    em__node *node = &s->g->nodes[i];
    const em__node *inner = &s->g->nodes[node->inputs[0]];
    if (inner->kind != EM__NODE_OP || inner->op != EM_OP_SOFTMAX ||
        !movable(s, inner->inputs[0]) ||
        !em__type_same(&node->type, &inner->type))
        return;
    node->op = EM_OP_LOG_SOFTMAX;
    node->attrs = inner->attrs;
    node->inputs[0] = inner->inputs[0];
}

static void visit(simplify *s, int i)
{
    em__node *node = &s->g->nodes[i];
    for (int j = 0; j < node->n_in; j++)
        node->inputs[j] = s->canon[node->inputs[j]];
    s->var_of[i] = em__node_aliased_variable(s->g, s->var_of, i);
    if (node->kind != EM__NODE_OP)
        return;
    switch (node->op) {
    case EM_OP_MUL:
        identity_operand(s, i, 1, true);
        break;
    case EM_OP_DIV:
        identity_operand(s, i, 1, false);
        break;
    case EM_OP_ADD:
        identity_operand(s, i, 0, true);
        break;
    case EM_OP_SUB:
        identity_operand(s, i, 0, false);
        break;
    case EM_OP_PERMUTE:
        compose_permutes(s, i);
        break;
    case EM_OP_RESHAPE:
        reshape(s, i);
        break;
    case EM_OP_LOG:
        log_of_softmax(s, i);
        break;
    default:
        break;
    }
}

bool em__pass_simplify(em__graph *g)
{
    size_t n = (size_t)g->len + 1;
    simplify s = {g, malloc(sizeof(int) * n), malloc(sizeof(int) * n)};
    bool ok = s.canon && s.var_of;
    if (ok) {
        for (int i = 0; i < g->len; i++) {
            s.canon[i] = i;
            s.var_of[i] = -1;
        }
        for (int i = 0; i < g->len; i++)
            if (!g->nodes[i].dead)
                visit(&s, i);
        for (int k = 0; k < g->n_outputs; k++)
            g->outputs[k] = s.canon[g->outputs[k]];
    }
    free(s.canon);
    free(s.var_of);
    return ok && em__graph_compact(g);
}
