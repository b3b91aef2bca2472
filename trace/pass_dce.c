/*
 * trace/pass_dce.c - dead-code elimination: keeps the outputs, the nodes
 * with effects (variable assignments), the inputs (the signature) and
 * whatever those read; drops the rest.
 */
#include <stdlib.h>

#include "passes.h"

bool em__pass_dce(em__graph *g)
{
    unsigned char *live = calloc((size_t)g->len + 1, 1);
    if (!live)
        return false;
    for (int i = 0; i < g->n_outputs; i++)
        live[g->outputs[i]] = 1;
    for (int i = g->len - 1; i >= 0; i--) {
        const em__node *node = &g->nodes[i];
        if (node->dead)
            continue;
        if (em__node_has_effect(node) || node->kind == EM__NODE_INPUT)
            live[i] = 1;
        if (!live[i])
            continue;
        for (int j = 0; j < node->n_in; j++)
            live[node->inputs[j]] = 1;
    }
    for (int i = 0; i < g->len; i++)
        if (!live[i])
            g->nodes[i].dead = true;
    free(live);
    return em__graph_compact(g);
}
