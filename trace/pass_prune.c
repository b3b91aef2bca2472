/*
 * trace/pass_prune.c - keeps a subset of the outputs and drops what only
 * the others needed (assignments stay: their effect is wanted anyway).
 */
#include <stdlib.h>

#include "passes.h"

bool em__pass_prune(em__graph *g, int n_keep, const int *keep_outputs)
{
    if (n_keep < 0 || (n_keep > 0 && !keep_outputs)) {
        em__error("trace: prune of '%s' given %d outputs to keep", g->name,
                  n_keep);
        return false;
    }
    int *outputs = malloc(sizeof(int) * (size_t)(n_keep ? n_keep : 1));
    if (!outputs) {
        em__error("trace: out of memory pruning '%s'", g->name);
        return false;
    }
    for (int k = 0; k < n_keep; k++) {
        int o = keep_outputs[k];
        if (o < 0 || o >= g->n_outputs) {
            em__error("trace: '%s' has no output %d to keep (it has %d)",
                      g->name, o, g->n_outputs);
            free(outputs);
            return false;
        }
        outputs[k] = g->outputs[o];
    }
    free(g->outputs);
    g->outputs = outputs;
    g->n_outputs = n_keep;
    return em__pass_dce(g);
}
