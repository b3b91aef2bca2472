/*
 * trace/pass_fold.c - constant folding: an op whose inputs are all
 * constants runs once now, with the op table's CPU kernel, and the node
 * becomes a constant holding the result. The node is turned into a
 * constant where it stands (rather than appended) so it still precedes
 * its users; its name, if any, stays with it. Chains fold in one walk.
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Results above this are cheaper to recompute than to keep in the graph. */
#define FOLD_MAX_BYTES ((int64_t)1 << 20)

static bool foldable(const em__graph *g, const em__node *node)
{
    if (node->kind != EM__NODE_OP || em__node_has_effect(node))
        return false;
    const em__op_def *def = &em__op_table[node->op];
    if (!def->cpu && !(def->flags & EM__OP_VIEW))
        return false;
    if (em__type_size(&node->type) * (int64_t)em_dtype_size(node->type.dtype) >
        FOLD_MAX_BYTES)
        return false;
    if (node->n_in < 1 || node->n_in > 16)
        return false;
    for (int j = 0; j < node->n_in; j++) {
        const em__node *in = &g->nodes[node->inputs[j]];
        if (in->kind != EM__NODE_CONST || !in->value || !in->value->data)
            return false;
    }
    return true;
}

/* The node's value computed now, or NULL: out of memory (an error) or a kernel
 * that refuses its inputs (left to fail at run time). */
static em_tensor *compute(const em__graph *g, const em__node *node)
{
    em_tensor *in[16] = {0};
    if (node->n_in < 1 || node->n_in > 16)
        return NULL;
    for (int j = 0; j < node->n_in; j++)
        in[j] = g->nodes[node->inputs[j]].value;
    em_tensor *out = em__tensor_new(&node->type);
    if (!out)
        return NULL;
    em__scope_forget(out); /* the graph keeps it, not the open scope */
    const em__op_def *def = &em__op_table[node->op];
    if (def->flags & EM__OP_VIEW) {
        if (out->size > 0)
            memcpy(out->data, in[0]->data,
                   (size_t)out->size * em_dtype_size(out->type.dtype));
        return out;
    }
    char msg[256];
    em__attrs attrs = node->attrs;
    if (!def->cpu(out, in, node->n_in, &attrs, msg, sizeof msg)) {
        em__tensor_unref(out);
        return NULL;
    }
    return out;
}

bool em__pass_fold(em__graph *g)
{
    for (int i = 0; i < g->len; i++) {
        em__node *node = &g->nodes[i];
        if (node->dead || !foldable(g, node))
            continue;
        uint64_t errors = em__thread_state()->errors;
        em_tensor *value = compute(g, node);
        if (!value) {
            if (em__thread_state()->errors != errors)
                return false; /* out of memory */
            continue;
        }
        free(node->inputs);
        node->inputs = NULL;
        node->n_in = 0;
        node->kind = EM__NODE_CONST;
        node->op = 0;
        memset(&node->attrs, 0, sizeof node->attrs);
        node->value = value;
    }
    return em__graph_compact(g);
}
