/*
 * trace/pass_util.c - small questions about nodes that several passes ask.
 */
#include "passes.h"

bool em__attrs_equal(const em__attrs *a, const em__attrs *b)
{
    if (a->ndim != b->ndim || a->naxes != b->naxes || a->axis != b->axis ||
        a->keepdims != b->keepdims || a->transpose_a != b->transpose_a ||
        a->transpose_b != b->transpose_b || a->dtype != b->dtype ||
        a->depth != b->depth)
        return false;
    /* alpha compared by value: the same literal gives the same double */
    if (!(a->alpha == b->alpha ||
          (a->alpha != a->alpha && b->alpha != b->alpha)))
        return false;
    for (int i = 0; i < a->ndim && i < EM_MAX_DIMS; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    for (int i = 0; i < a->naxes && i < EM_MAX_DIMS; i++)
        if (a->axes[i] != b->axes[i])
            return false;
    for (int i = 0; i < EM_MAX_DIMS; i++)
        if (a->start[i] != b->start[i] || a->step[i] != b->step[i])
            return false;
    return true;
}

int em__node_aliased_variable(const em__graph *g, const int *var_of, int i)
{
    const em__node *node = &g->nodes[i];
    if (node->kind == EM__NODE_VARIABLE)
        return i;
    if (node->kind != EM__NODE_OP || node->n_in < 1)
        return -1;
    if (em__op_table[node->op].flags & (EM__OP_VIEW | EM__OP_IN_PLACE))
        return var_of[node->inputs[0]];
    return -1;
}

bool em__node_is_const_fill(const em__graph *g, int i, double v)
{
    const em__node *node = &g->nodes[i];
    if (node->kind != EM__NODE_CONST || !node->value || !node->value->data)
        return false;
    const em_tensor *t = node->value;
    if (t->size < 1)
        return false;
    for (int64_t k = 0; k < t->size; k++)
        if (em__load_f64(t->data, t->type.dtype, k) != v)
            return false;
    return true;
}

bool em__type_same(const em__type *a, const em__type *b)
{
    return a->dtype == b->dtype && em__type_equal_shape(a, b);
}
