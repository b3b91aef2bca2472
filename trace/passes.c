/*
 * trace/passes.c - the order of the optimisation passes.
 *
 * Simplification first (it removes identity ops that would otherwise hide
 * constants and duplicates), then folding, then CSE (folded constants and
 * simplified ops now compare equal), then DCE. Folding can produce new
 * identity constants (a cast of 1.0) and CSE new shared inputs, so one more
 * round of simplify and CSE follows; each is a linear walk.
 */
#include "passes.h"

/* Each region of a cond or while node is a graph of its own, optimised
 * alone: its inputs and outputs stay as they are. */
static bool optimize_regions(em__graph *g)
{
    for (int i = 0; i < g->len; i++)
        for (int r = 0; r < g->nodes[i].n_regions; r++)
            if (!em__graph_optimize(g->nodes[i].regions[r]))
                return false;
    return true;
}

bool em__graph_optimize(em__graph *g)
{
    return optimize_regions(g) && em__pass_simplify(g) && em__pass_fold(g) &&
           em__pass_cse(g) && em__pass_dce(g) && em__pass_simplify(g) &&
           em__pass_cse(g) && em__pass_dce(g);
}
