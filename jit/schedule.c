/*
 * jit/schedule.c - the fusion pass: decides which nodes become one loop.
 *
 * An elementwise node is computed inside its users' loop, instead of into
 * a buffer of its own, when
 *  - every user is in that same loop (an elementwise, assign or reduction
 *    root, or a node already fused into it), and it is not an output;
 *  - it has the loop's shape (so no element is computed twice: a value
 *    broadcast into a bigger loop keeps its own buffer);
 *  - no variable update runs between it and the loop's root, so moving its
 *    reads later cannot let it see a newer value.
 * Roots are visited from the last node back, so chains like
 * tanh(x * a + b) * sigmoid(x) collapse into one loop reading x once.
 * A cond or while node is no loop, so nothing fuses into it; for the JIT
 * its regions are scheduled as graphs of their own (jit/control.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "jit_internal.h"

/* True when the axes a reduction combines are, size-1 dimensions aside,
 * the innermost ones: then each output is one run carried in a register
 * (in float64 for float32 sums, as the kernel does). Over outer axes the
 * loops accumulate in memory, in the output's dtype. */
static bool reduces_innermost(const em__node *node, const em__type *in)
{
    bool reduced[EM_MAX_DIMS] = {false};
    for (int d = 0; d < in->ndim; d++)
        reduced[d] = node->attrs.naxes == 0;
    for (int a = 0; a < node->attrs.naxes; a++)
        reduced[node->attrs.axes[a]] = true;
    bool kept_inside = false;
    for (int d = in->ndim - 1; d >= 0; d--) {
        if (in->shape[d] == 1)
            continue;
        if (!reduced[d])
            kept_inside = true;
        else if (kept_inside)
            return false;
    }
    return true;
}

/* The role of node i before fusion: by its lowering and dtypes. */
static em__jit_role base_role(const em__graph *g, int i)
{
    const em__node *node = &g->nodes[i];
    if (em__node_is_region(node))
        return EM__ROLE_REGION;
    if (node->kind != EM__NODE_OP)
        return EM__ROLE_SOURCE;
    const em__jit_op *op = &em__jit_ops[node->op];
    const em__type *in0 =
        node->n_in > 0 ? &g->nodes[node->inputs[0]].type : &node->type;
    bool dtype_ok = (op->dtypes >> in0->dtype) & 1u;
    switch (op->lowering) {
    case EM__LOWER_ELEMENTWISE:
        return dtype_ok ? EM__ROLE_LOOP : EM__ROLE_KERNEL;
    case EM__LOWER_ASSIGN: {
        /* The value must have the variable's dtype (no conversion). */
        const em__type *value = &g->nodes[node->inputs[1]].type;
        return dtype_ok && value->dtype == in0->dtype ? EM__ROLE_LOOP
                                                      : EM__ROLE_KERNEL;
    }
    case EM__LOWER_REDUCE:
        /* A float32 sum over outer axes would add in float32: the kernel
         * adds in float64. */
        if (node->op == EM_OP_SUM && in0->dtype == EM_FLOAT32 &&
            !reduces_innermost(node, in0))
            return EM__ROLE_KERNEL;
        return dtype_ok ? EM__ROLE_REDUCE : EM__ROLE_KERNEL;
    case EM__LOWER_MATMUL: {
        const em__type *in1 = &g->nodes[node->inputs[1]].type;
        return dtype_ok && in0->ndim == 2 && in1->ndim == 2 ? EM__ROLE_MATMUL
                                                            : EM__ROLE_KERNEL;
    }
    case EM__LOWER_VIEW:
        return EM__ROLE_VIEW;
    default:
        return EM__ROLE_KERNEL;
    }
}

/* The shape a root's loop runs over: a reduction's input, else the
 * root's own value. */
static const em__type *loop_type(const em__graph *g, const em__jit_schedule *s,
                                 int root)
{
    if (s->role[root] == EM__ROLE_REDUCE)
        return &g->nodes[g->nodes[root].inputs[0]].type;
    return &g->nodes[root].type;
}

static bool is_assign(const em__graph *g, int i)
{
    const em__node *node = &g->nodes[i];
    return node->kind == EM__NODE_OP &&
           em__jit_ops[node->op].lowering == EM__LOWER_ASSIGN;
}

/* Roles and fusion; region nodes allowed or not. */
static bool schedule_graph(const em__graph *g, em__jit_schedule *s,
                           bool regions, char *why, size_t size)
{
    *s = (em__jit_schedule){.len = g->len};
    if (size > 0)
        why[0] = '\0';
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->kind > EM__NODE_OP && !regions) {
            snprintf(why, size,
                     "no lowering for control-flow regions (em_cond, "
                     "em_while_loop) outside the CPU JIT");
            return false;
        }
        if (node->kind == EM__NODE_OP &&
            em__jit_ops[node->op].lowering == EM__LOWER_NONE) {
            snprintf(why, size, "no lowering for op '%s'",
                     em__op_table[node->op].name);
            return false;
        }
    }

    size_t n = (size_t)g->len + 1;
    s->role = calloc(n, sizeof *s->role);
    s->run_at = calloc(n, sizeof *s->run_at);
    int *n_users = calloc(n, sizeof *n_users);
    int *first_user = calloc(n + 1, sizeof *first_user);
    int *effects_before = calloc(n + 1, sizeof *effects_before);
    bool *is_output = calloc(n, sizeof *is_output);
    int *users = NULL;
    if (!s->role || !s->run_at || !n_users || !first_user || !effects_before ||
        !is_output)
        goto out_of_memory;

    /* Users of each node, as lists packed into one array. */
    int total = 0;
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++, total++)
            n_users[g->nodes[i].inputs[j]]++;
    users = calloc((size_t)total + 1, sizeof *users);
    if (!users)
        goto out_of_memory;
    for (int i = 0; i < g->len; i++)
        first_user[i + 1] = first_user[i] + n_users[i];
    for (int i = 0; i < g->len; i++)
        n_users[i] = 0;
    for (int i = 0; i < g->len; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++) {
            int in = g->nodes[i].inputs[j];
            users[first_user[in] + n_users[in]++] = i;
        }
    for (int k = 0; k < g->n_outputs; k++)
        is_output[g->outputs[k]] = true;
    for (int i = 0; i < g->len; i++)
        effects_before[i + 1] =
            effects_before[i] + em__node_has_effect(&g->nodes[i]);

    for (int i = 0; i < g->len; i++) {
        s->role[i] = base_role(g, i);
        s->run_at[i] = i;
    }
    for (int i = g->len - 1; i >= 0; i--) {
        if (s->role[i] != EM__ROLE_LOOP || is_assign(g, i) || is_output[i] ||
            n_users[i] == 0)
            continue;
        int root = -1;
        bool ok = true;
        for (int k = 0; k < n_users[i] && ok; k++) {
            int u = users[first_user[i] + k];
            em__jit_role r = s->role[u];
            ok = r == EM__ROLE_LOOP || r == EM__ROLE_FUSED ||
                 r == EM__ROLE_REDUCE;
            if (ok && root >= 0 && s->run_at[u] != root)
                ok = false;
            root = s->run_at[u];
        }
        if (!ok ||
            !em__type_equal_shape(&g->nodes[i].type, loop_type(g, s, root)))
            continue;
        /* No update between this node and the root (the root itself may
         * be one). */
        if (effects_before[root] - effects_before[i + 1] > 0)
            continue;
        s->role[i] = EM__ROLE_FUSED;
        s->run_at[i] = root;
    }
    for (int i = 0; i < g->len; i++) {
        s->loops +=
            s->role[i] == EM__ROLE_LOOP || s->role[i] == EM__ROLE_REDUCE;
        s->calls +=
            s->role[i] == EM__ROLE_KERNEL || s->role[i] == EM__ROLE_MATMUL;
    }
    free(users);
    free(n_users);
    free(first_user);
    free(effects_before);
    free(is_output);
    return true;

out_of_memory:
    free(users);
    free(n_users);
    free(first_user);
    free(effects_before);
    free(is_output);
    em__jit_schedule_free(s);
    em__error("jit: out of memory scheduling '%s'", g->name);
    return false;
}

bool em__jit_schedule_make(const em__graph *g, em__jit_schedule *s, char *why,
                           size_t size)
{
    return schedule_graph(g, s, false, why, size);
}

bool em__jit_schedule_make_regions(const em__graph *g,
                                   const bool *dynamic_inputs,
                                   em__jit_schedule *s, char *why, size_t size)
{
    if (!schedule_graph(g, s, true, why, size))
        return false;
    if (em__jit_controls_make(g, s, dynamic_inputs, why, size))
        return true;
    em__jit_schedule_free(s);
    return false;
}

void em__jit_schedule_free(em__jit_schedule *s)
{
    for (int i = 0; s->controls && i < s->len; i++)
        em__jit_control_free(s->controls[i]);
    free(s->controls);
    free(s->role);
    free(s->run_at);
    s->controls = NULL;
    s->role = NULL;
    s->run_at = NULL;
}
