/*
 * trace/passes.c - the order of the optimisation passes.
 */
#include "passes.h"

bool em__graph_optimize(em__graph *g)
{
    return em__pass_dce(g);
}
