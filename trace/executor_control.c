/*
 * trace/executor_control.c - running cond and while nodes: real branches
 * and loops, not unrolled.
 *
 * A region runs node by node through dispatch, on tensors of its own:
 * shapes are worked out as it runs (a relaxed loop variable may change
 * shape), buffers are released as soon as their last reader has run, and
 * each loop iteration holds only its loop variables. The regions' inputs
 * are read where the node stands in the enclosing graph, so reads and
 * assignments of variables keep their program order.
 */
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"

static bool run_region_node(const em__graph *g, int i, em_tensor *const *in,
                            em_tensor **results);

/* A new tensor, owned by the caller alone, holding a copy of t. */
static em_tensor *copy_value(const em_tensor *t)
{
    em_tensor *c = em__tensor_new(&t->type);
    if (!c)
        return NULL;
    em__scope_forget(c);
    if (t->size > 0)
        memcpy(c->data, t->data,
               (size_t)t->size * em_dtype_size(t->type.dtype));
    return c;
}

/* Index of the last node that reads node i (g->len for outputs). */
static int *last_uses(const em__graph *g)
{
    int *last = malloc(sizeof(int) * (size_t)(g->len + 1));
    if (!last)
        return NULL;
    for (int i = 0; i < g->len; i++) {
        last[i] = i;
        for (int j = 0; j < g->nodes[i].n_in; j++)
            last[g->nodes[i].inputs[j]] = i;
    }
    for (int k = 0; k < g->n_outputs; k++)
        last[g->outputs[k]] = g->len;
    return last;
}

typedef struct frame {
    const em__graph *g;
    em_tensor **values;
    bool *owned;          /* a reference of ours, released after the last use */
    bool *fresh;          /* owned and sharing no storage: can be handed out */
    em_tensor ***results; /* per region node: its results not yet taken */
    int *last;
} frame;

static void release_value(frame *f, int i)
{
    if (f->owned[i] && f->values[i])
        em__tensor_unref(f->values[i]);
    f->values[i] = NULL;
    f->owned[i] = false;
    if (f->results[i]) {
        int n = em__region_results(&f->g->nodes[i]);
        for (int k = 0; k < n; k++)
            if (f->results[i][k])
                em__tensor_unref(f->results[i][k]);
        free(f->results[i]);
        f->results[i] = NULL;
    }
}

static bool run_node(frame *f, int i, em_tensor *const *inputs)
{
    const em__node *node = &f->g->nodes[i];
    em_tensor *inline_in[16] = {0};
    em_tensor **in = inline_in;
    if (node->n_in > 16 && !(in = calloc((size_t)node->n_in, sizeof *in))) {
        em__error("trace: out of memory running '%s'", f->g->name);
        return false;
    }
    for (int j = 0; j < node->n_in; j++)
        in[j] = f->values[node->inputs[j]];
    bool ok = true;
    switch (node->kind) {
    case EM__NODE_INPUT:
        f->values[i] = inputs[node->index];
        break;
    case EM__NODE_CONST:
    case EM__NODE_VARIABLE:
        f->values[i] = node->value;
        break;
    case EM__NODE_OP: {
        em_tensor *out = em__dispatch(node->op, in, node->n_in, &node->attrs);
        ok = out != NULL;
        if (ok && !(em__op_table[node->op].flags & EM__OP_IN_PLACE)) {
            em__scope_forget(out);
            f->owned[i] = true;
            f->fresh[i] = !(em__op_table[node->op].flags & EM__OP_VIEW);
        }
        f->values[i] = out;
        break;
    }
    case EM__NODE_COND:
    case EM__NODE_WHILE:
        f->results[i] =
            calloc((size_t)em__region_results(node) + 1, sizeof **f->results);
        ok = f->results[i] && run_region_node(f->g, i, in, f->results[i]);
        if (!f->results[i])
            em__error("trace: out of memory running '%s'", f->g->name);
        break;
    case EM__NODE_RESULT: {
        em_tensor **from = f->results[node->inputs[0]];
        f->values[i] = from ? from[node->index] : NULL;
        if (from)
            from[node->index] = NULL;
        ok = f->values[i] != NULL;
        if (!ok)
            em__error("trace: result %d of %%%d of '%s' is missing",
                      node->index, node->inputs[0], f->g->name);
        f->owned[i] = f->fresh[i] = ok;
        break;
    }
    }
    if (in != inline_in)
        free(in);
    return ok;
}

/* Runs region g on `inputs` (g->n_inputs borrowed tensors) and writes
 * g->n_outputs tensors of the caller's own into outputs. */
static bool run_graph(const em__graph *g, em_tensor *const *inputs,
                      em_tensor **outputs)
{
    size_t n = (size_t)g->len + 1;
    frame f = {g,
               calloc(n, sizeof *f.values),
               calloc(n, sizeof *f.owned),
               calloc(n, sizeof *f.fresh),
               calloc(n, sizeof *f.results),
               last_uses(g)};
    bool ok = f.values && f.owned && f.fresh && f.results && f.last;
    if (!ok)
        em__error("trace: out of memory running '%s'", g->name);
    for (int i = 0; ok && i < g->len; i++) {
        if (g->nodes[i].dead)
            continue;
        ok = run_node(&f, i, inputs);
        for (int j = 0; ok && j < g->nodes[i].n_in; j++)
            if (f.last[g->nodes[i].inputs[j]] == i)
                release_value(&f, g->nodes[i].inputs[j]);
        if (ok && f.last[i] == i)
            release_value(&f, i);
    }
    for (int k = 0; k < g->n_outputs; k++)
        outputs[k] = NULL;
    for (int k = 0; ok && k < g->n_outputs; k++) {
        int o = g->outputs[k];
        if (f.fresh[o]) {
            outputs[k] = f.values[o];
            f.owned[o] = f.fresh[o] = false;
        } else {
            outputs[k] = copy_value(f.values[o]);
        }
        ok = outputs[k] != NULL;
    }
    for (int i = 0; f.values && f.owned && f.results && i < g->len; i++)
        release_value(&f, i);
    if (!ok)
        for (int k = 0; k < g->n_outputs; k++) {
            if (outputs[k])
                em__tensor_unref(outputs[k]);
            outputs[k] = NULL;
        }
    free(f.values);
    free(f.owned);
    free(f.fresh);
    free(f.results);
    free(f.last);
    return ok;
}

/* ---- cond and while ------------------------------------------------------*/

static bool run_cond(const em__graph *g, int i, em_tensor *const *in,
                     em_tensor **results)
{
    const em__node *node = &g->nodes[i];
    if (!in[0]) {
        em__error("cond: no predicate");
        return false;
    }
    bool taken = em__load_f64(in[0]->data, in[0]->type.dtype, 0) != 0;
    return run_graph(node->regions[taken ? 0 : 1], in + 1, results);
}

static bool relaxed(const em__node *node, int k)
{
    return k < EM__MAX_LOOP_VARS &&
           ((uint64_t)node->attrs.shape[k / 64] >> (k % 64) & 1u);
}

/* The saved values of one loop variable, one row per iteration. */
static em_tensor *stack_rows(const em__type *var, em_tensor **rows, int64_t n)
{
    em__type t = {.dtype = var->dtype, .ndim = var->ndim + 1};
    t.shape[0] = n;
    memcpy(t.shape + 1, var->shape, sizeof(int64_t) * (size_t)var->ndim);
    em_tensor *s = em__tensor_new(&t);
    if (!s)
        return NULL;
    em__scope_forget(s);
    size_t row = (size_t)em__type_size(var) * em_dtype_size(var->dtype);
    for (int64_t r = 0; r < n && row > 0; r++)
        memcpy((char *)s->data + (size_t)r * row, rows[r]->data, row);
    return s;
}

typedef struct loop {
    const em__node *node;
    int n_vars, n_in;
    em_tensor **args;   /* loop variables, then the captured values */
    bool owned;         /* args[0..n_vars) are ours */
    em_tensor ***saved; /* per variable, its value before each iteration */
    int64_t n_saved, cap_saved;
} loop;

static bool save_iteration(loop *l)
{
    if (l->n_saved == l->cap_saved) {
        int64_t cap = l->cap_saved ? l->cap_saved * 2 : 16;
        for (int k = 0; k < l->n_vars; k++) {
            em_tensor **p = realloc(l->saved[k], sizeof *p * (size_t)cap);
            if (!p) {
                em__error("while: out of memory saving iteration %lld",
                          (long long)l->n_saved);
                return false;
            }
            l->saved[k] = p;
        }
        l->cap_saved = cap;
    }
    for (int k = 0; k < l->n_vars; k++)
        l->saved[k][l->n_saved] = em__tensor_ref(l->args[k]);
    l->n_saved++;
    return true;
}

static bool next_iteration(loop *l, em_tensor **next)
{
    const em__node *node = l->node;
    for (int k = 0; k < l->n_vars; k++) {
        const em__type *was = &l->args[k]->type, *now = &next[k]->type;
        if (was->dtype == now->dtype &&
            (relaxed(node, k) || em__type_equal_shape(was, now)))
            continue;
        char a[200], b[200];
        em__error("while: the body gave %s for loop variable %d, which is %s",
                  em__type_format(now, b, sizeof b), k,
                  em__type_format(was, a, sizeof a));
        return false;
    }
    for (int k = 0; l->owned && k < l->n_vars; k++)
        em__tensor_unref(l->args[k]);
    memcpy(l->args, next, sizeof *next * (size_t)l->n_vars);
    l->owned = true;
    return true;
}

static bool run_loop(loop *l, int64_t *count)
{
    const em__node *node = l->node;
    em_tensor **next = calloc((size_t)l->n_vars + 1, sizeof *next);
    bool ok = next != NULL;
    if (!ok)
        em__error("while: out of memory");
    int64_t it = 0;
    for (; ok && (node->attrs.depth == 0 || it < node->attrs.depth); it++) {
        em_tensor *c = NULL;
        ok = run_graph(node->regions[0], l->args, &c);
        bool go = ok && c && em__load_f64(c->data, c->type.dtype, 0) != 0;
        if (c)
            em__tensor_unref(c);
        if (!go)
            break;
        ok = (!node->attrs.keepdims || save_iteration(l)) &&
             run_graph(node->regions[1], l->args, next);
        if (ok && !(ok = next_iteration(l, next)))
            for (int k = 0; k < l->n_vars; k++)
                em__tensor_unref(next[k]);
    }
    *count = it;
    free(next);
    return ok;
}

static bool run_while(const em__graph *g, int i, em_tensor *const *in,
                      em_tensor **results)
{
    const em__node *node = &g->nodes[i];
    loop l = {.node = node, .n_vars = node->index, .n_in = node->n_in};
    l.args = calloc((size_t)l.n_in + 1, sizeof *l.args);
    l.saved = calloc((size_t)l.n_vars + 1, sizeof *l.saved);
    if (!l.args || !l.saved) {
        free(l.args);
        free(l.saved);
        em__error("while: out of memory");
        return false;
    }
    memcpy(l.args, in, sizeof *in * (size_t)l.n_in);
    int64_t count = 0;
    bool ok = run_loop(&l, &count);
    for (int k = 0; ok && k < l.n_vars; k++) {
        results[k] = l.owned ? l.args[k] : copy_value(l.args[k]);
        ok = results[k] != NULL;
    }
    if (ok)
        l.owned = false; /* the results have them now */
    if (ok && node->attrs.keepdims) {
        em__type scalar = {.dtype = EM_INT64};
        em_tensor *c = em__tensor_new(&scalar);
        if (c) {
            em__scope_forget(c);
            *(int64_t *)c->data = count;
        }
        results[l.n_vars] = c;
        ok = c != NULL;
        for (int k = 0; ok && k < l.n_vars; k++) {
            em__type var = g->nodes[node->inputs[k]].type;
            results[l.n_vars + 1 + k] = stack_rows(&var, l.saved[k], l.n_saved);
            ok = results[l.n_vars + 1 + k] != NULL;
        }
    }
    for (int k = 0; l.owned && k < l.n_vars; k++)
        em__tensor_unref(l.args[k]);
    for (int k = 0; k < l.n_vars; k++) {
        for (int64_t r = 0; r < l.n_saved; r++)
            em__tensor_unref(l.saved[k][r]);
        free(l.saved[k]);
    }
    free(l.saved);
    free(l.args);
    return ok;
}

static bool run_region_node(const em__graph *g, int i, em_tensor *const *in,
                            em_tensor **results)
{
    em__thread *thread = em__thread_state();
    const char *tracing = thread->tracing;
    thread->tracing = NULL; /* ops run now, whatever the caller does */
    thread->record_paused++;
    bool ok = g->nodes[i].kind == EM__NODE_COND ? run_cond(g, i, in, results)
                                                : run_while(g, i, in, results);
    thread->record_paused--;
    thread->tracing = tracing;
    if (!ok) {
        int n = em__region_results(&g->nodes[i]);
        for (int k = 0; k < n; k++) {
            if (results[k])
                em__tensor_unref(results[k]);
            results[k] = NULL;
        }
    }
    return ok;
}

/* ---- a region node of a planned graph ------------------------------------*/

/* Result node r holds a value whose shape changed (a relaxed loop
 * variable): only regions and the graph's outputs may read it, since ops
 * of the plan have buffers sized for the traced shape. */
static bool check_changed_shape(const em__graph *g, int r, const em_tensor *t)
{
    for (int i = r + 1; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (node->dead || em__node_is_region(node))
            continue;
        for (int j = 0; j < node->n_in; j++) {
            if (node->inputs[j] != r)
                continue;
            char a[200], b[200];
            em__error("while: loop variable %d ends as %s, traced as %s, "
                      "and %%%d (%s) of '%s' reads it; a relaxed loop "
                      "variable may only be returned or passed to em_cond "
                      "and em_while_loop",
                      g->nodes[r].index, em__type_format(&t->type, a, sizeof a),
                      em__type_format(&g->nodes[r].type, b, sizeof b), i,
                      node->kind == EM__NODE_OP ? em__op_table[node->op].name
                                                : "a node",
                      g->name);
            return false;
        }
    }
    return true;
}

bool em__plan_run_region(em__plan *plan, int i)
{
    const em__graph *g = em__plan_graph(plan);
    const em__node *node = &g->nodes[i];
    int n_results = em__region_results(node);
    em_tensor **in = calloc((size_t)node->n_in + 1, sizeof *in);
    bool *copied = calloc((size_t)node->n_in + 1, sizeof *copied);
    em_tensor **results = calloc((size_t)n_results + 1, sizeof *results);
    bool ok = in && copied && results;
    if (!ok)
        em__error("trace: out of memory running '%s'", g->name);
    for (int j = 0; ok && j < node->n_in; j++) {
        int src = node->inputs[j];
        in[j] = g->nodes[src].value ? g->nodes[src].value
                                    : em__plan_held(plan, src);
        if (in[j])
            continue;
        in[j] = copy_value(em__plan_header(plan, src));
        ok = copied[j] = in[j] != NULL;
    }
    ok = ok && run_region_node(g, i, in, results);
    for (int r = i + 1; ok && r < g->len; r++) {
        const em__node *res = &g->nodes[r];
        if (res->dead || res->kind != EM__NODE_RESULT || res->inputs[0] != i)
            continue;
        em_tensor *t = results[res->index];
        results[res->index] = NULL;
        bool same = t->type.dtype == res->type.dtype &&
                    em__type_equal_shape(&t->type, &res->type);
        if (!same && !check_changed_shape(g, r, t)) {
            em__tensor_unref(t);
            ok = false;
        } else {
            ok = em__plan_hold(plan, r, t);
        }
    }
    for (int k = 0; results && k < n_results; k++)
        if (results[k])
            em__tensor_unref(results[k]);
    for (int j = 0; in && copied && j < node->n_in; j++)
        if (copied[j])
            em__tensor_unref(in[j]);
    free(in);
    free(copied);
    free(results);
    return ok;
}
