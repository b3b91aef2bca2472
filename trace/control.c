/*
 * trace/control.c - em_cond and em_while_loop: plain C control flow in
 * eager mode, cond and while nodes (with their branches, condition and body
 * traced into regions) while tracing.
 */
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"
#include "trace_internal.h"

/* ---- checks shared by both modes -----------------------------------------*/

static bool is_bool_scalar(const em_tensor *t)
{
    return t->type.dtype == EM_BOOL && t->size == 1;
}

static bool check_pred(const char *op, const char *what, em_tensor *pred)
{
    if (!pred) {
        if (!em_error_pending())
            em__error("%s: the %s is NULL", op, what);
        return false;
    }
    if (is_bool_scalar(pred))
        return true;
    char text[200];
    em__error("%s: the %s is %s, not a bool tensor with one element", op, what,
              em__type_format(&pred->type, text, sizeof text));
    return false;
}

static bool check_tensors(const char *op, const char *what, int n,
                          em_tensor *const *t)
{
    for (int i = 0; i < n; i++)
        if (!t[i]) {
            if (!em_error_pending())
                em__error("%s: %s %d is NULL", op, what, i);
            return false;
        }
    return true;
}

/* Runs fn (or, when NULL, the identity) and checks what it returns. */
static int call_fn(const char *op, const char *what, em_traced_body fn,
                   void *user, int n, em_tensor *const *in, int max,
                   em_tensor **out)
{
    if (!fn) {
        if (n > max) {
            em__error("%s: the %s returns its %d inputs, room for %d", op, what,
                      n, max);
            return -1;
        }
        for (int i = 0; i < n; i++)
            out[i] = em_copy(in[i]);
        return check_tensors(op, "an output", n, out) ? n : -1;
    }
    uint64_t errors = em__thread_state()->errors;
    int k = fn(n, in, max, out, user);
    if (k > max) {
        em__error("%s: the %s returned %d outputs, room for %d", op, what, k,
                  max);
        return -1;
    }
    if (k < 0 || (em__thread_state()->errors != errors && em_error_pending())) {
        if (!em_error_pending())
            em__error("%s: the %s failed without recording an error", op, what);
        return -1;
    }
    for (int i = 0; i < k; i++)
        if (!out[i]) {
            em__error("%s: output %d of the %s is NULL", op, i, what);
            return -1;
        }
    return k;
}

/* ---- regions -------------------------------------------------------------*/

void em__region_trace_free(em__region_trace *rt)
{
    em__graph_free(rt->graph);
    for (int i = 0; i < rt->caps.n_captures; i++)
        em__tensor_unref(rt->caps.captures[i]);
    for (int i = 0; i < rt->caps.n_variables; i++)
        em__tensor_unref(rt->caps.variables[i]);
    free(rt->caps.captures);
    free(rt->caps.variables);
    free(rt->out);
    memset(rt, 0, sizeof *rt);
}

/* Traces fn into a new region whose first n_explicit inputs are typed like
 * explicit[]: fn sees symbolic tensors for those, else `in` unchanged. */
static bool trace_region(em__region_trace *rt, const char *op, const char *what,
                         em_traced_body fn, void *user, int n,
                         em_tensor *const *in, int n_explicit, int max)
{
    memset(rt, 0, sizeof *rt);
    const char *name = em__trace_current_graph()->name;
    rt->graph = em__graph_new(name);
    rt->out = calloc((size_t)max + 1, sizeof *rt->out);
    em_tensor **args = calloc((size_t)n + 1, sizeof *args);
    if (!rt->graph || !rt->out || !args) {
        free(args);
        em__region_trace_free(rt);
        em__error("%s: out of memory", op);
        return false;
    }
    if (!em__trace_region_begin(rt->graph, n_explicit)) {
        free(args);
        em__region_trace_free(rt);
        return false;
    }
    em_scope_begin();
    int depth = em_scope_depth();
    bool ok = true;
    for (int i = 0; i < n; i++) {
        args[i] = in[i];
        if (i >= n_explicit)
            continue;
        int id = em__graph_add(rt->graph, EM__NODE_INPUT, 0, NULL, 0, NULL,
                               &in[i]->type, NULL);
        if (id >= 0)
            rt->graph->nodes[id].index = i;
        args[i] =
            id >= 0 ? em__tensor_symbolic(&in[i]->type, rt->graph, id) : NULL;
        ok = ok && args[i];
    }
    em_tensor **out = calloc((size_t)max + 1, sizeof *out);
    int k = ok && out ? call_fn(op, what, fn, user, n, args, max, out) : -1;
    if (em_scope_depth() > depth) {
        em__error("%s: the %s left %d scope(s) open", op, what,
                  em_scope_depth() - depth);
        while (em_scope_depth() > depth)
            em_scope_end();
        k = -1;
    }
    rt->graph->outputs = k >= 0 ? calloc((size_t)k + 1, sizeof(int)) : NULL;
    ok = k >= 0 && rt->graph->outputs;
    for (int i = 0; ok && i < k; i++) {
        rt->out[i] = out[i]->type;
        int node = em__trace_node(out[i]);
        ok = node >= 0;
        rt->graph->outputs[rt->graph->n_outputs++] = node;
    }
    rt->n_out = ok ? k : -1;
    em_scope_end();
    em__trace_region_end(&rt->caps);
    free(out);
    free(args);
    if (!ok) {
        if (!em_error_pending())
            em__error("%s: out of memory", op);
        em__region_trace_free(rt);
    }
    return ok;
}

/* Index of t in list[0..n), or -1. */
static int find(em_tensor *const *list, int n, const em_tensor *t)
{
    for (int i = 0; i < n; i++)
        if (list[i] == t)
            return i;
    return -1;
}

/* Appends to *all the tensors of more that it lacks. */
static bool merge_list(em_tensor ***all, int *n, em_tensor *const *more,
                       int n_more)
{
    em_tensor **p = realloc(*all, sizeof *p * (size_t)(*n + n_more + 1));
    if (!p)
        return false;
    *all = p;
    for (int i = 0; i < n_more; i++)
        if (find(p, *n, more[i]) < 0)
            p[(*n)++] = more[i];
    return true;
}

/* Makes both regions read the union of their captures (a's first), as the
 * inputs after the explicit ones. */
static bool unite_captures(em__region_trace *a, em__region_trace *b,
                           int n_explicit, em__region_captures *u)
{
    memset(u, 0, sizeof *u);
    bool ok = merge_list(&u->values, &u->n_values, a->caps.captures,
                         a->caps.n_captures) &&
              merge_list(&u->values, &u->n_values, b->caps.captures,
                         b->caps.n_captures) &&
              merge_list(&u->variables, &u->n_variables, a->caps.variables,
                         a->caps.n_variables) &&
              merge_list(&u->variables, &u->n_variables, b->caps.variables,
                         b->caps.n_variables);
    if (!ok) {
        em__region_captures_free(u);
        em__error("trace: out of memory");
        return false;
    }
    em__graph *g = b->graph;
    for (int i = 0; i < g->len; i++) {
        em__node *node = &g->nodes[i];
        if (node->kind == EM__NODE_INPUT && node->index >= n_explicit)
            node->index =
                n_explicit + find(u->values, u->n_values,
                                  b->caps.captures[node->index - n_explicit]);
    }
    a->graph->n_inputs = b->graph->n_inputs = n_explicit + u->n_values;
    return true;
}

void em__region_captures_free(em__region_captures *u)
{
    free(u->values);
    free(u->variables);
    memset(u, 0, sizeof *u);
}

/* Adds the region node (owning a's and b's graphs) and its results to the
 * graph being traced; results[k] become symbolic tensors for them. */
static int add_region_node(em__node_kind kind, int n_in, const int *inputs,
                           const em__attrs *attrs, int index,
                           em__region_trace *a, em__region_trace *b,
                           int n_results, em_tensor **results)
{
    em__graph *g = em__trace_current_graph();
    em__type none = {.dtype = EM_BOOL};
    em__graph **regions = malloc(sizeof *regions * 2);
    int id = regions
                 ? em__graph_add(g, kind, 0, inputs, n_in, attrs, &none, NULL)
                 : -1;
    if (id < 0) {
        free(regions);
        if (!em_error_pending())
            em__error("trace: out of memory");
        return -1;
    }
    em__node *node = &g->nodes[id];
    regions[0] = a->graph;
    regions[1] = b->graph;
    a->graph = b->graph = NULL;
    node->regions = regions;
    node->n_regions = 2;
    node->index = index;
    for (int k = 0; k < n_results; k++) {
        em__type type = em__region_result_type(g, &g->nodes[id], k);
        int r = em__graph_add(g, EM__NODE_RESULT, 0, &id, 1, NULL, &type, NULL);
        if (r < 0)
            return -1;
        g->nodes[r].index = k;
        results[k] = em__tensor_symbolic(&type, g, r);
        if (!results[k])
            return -1;
    }
    return id;
}

/* Node ids, in the graph being traced, of `first` then u's values; the
 * variables u lists are captured there too, so that an enclosing region
 * lists them. */
static int *region_inputs(int n_first, em_tensor *const *first,
                          const em__region_captures *u)
{
    int n = n_first + u->n_values;
    int *ids = malloc(sizeof(int) * (size_t)(n + 1));
    if (!ids) {
        em__error("trace: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        ids[i] =
            em__trace_node(i < n_first ? first[i] : u->values[i - n_first]);
        if (ids[i] < 0) {
            free(ids);
            return NULL;
        }
    }
    for (int i = 0; i < u->n_variables; i++)
        if (em__trace_node(u->variables[i]) < 0) {
            free(ids);
            return NULL;
        }
    return ids;
}

/* ---- em_cond -------------------------------------------------------------*/

static int traced_cond(em_tensor *pred, em_traced_body then_fn,
                       em_traced_body else_fn, void *user, int n_inputs,
                       em_tensor *const *inputs, int max_outputs,
                       em_tensor **outputs)
{
    em__region_trace then, other;
    if (!trace_region(&then, "cond", "then branch", then_fn, user, n_inputs,
                      inputs, 0, max_outputs))
        return -1;
    if (!trace_region(&other, "cond", "else branch", else_fn, user, n_inputs,
                      inputs, 0, max_outputs)) {
        em__region_trace_free(&then);
        return -1;
    }
    int rc = -1;
    em__region_captures u = {0};
    int *ids = NULL;
    if (then.n_out != other.n_out) {
        em__error("cond: the then branch returns %d outputs, the else branch "
                  "%d",
                  then.n_out, other.n_out);
        goto done;
    }
    for (int k = 0; k < then.n_out; k++) {
        if (then.out[k].dtype == other.out[k].dtype &&
            em__type_equal_shape(&then.out[k], &other.out[k]))
            continue;
        char a[200], b[200];
        em__error("cond: output %d of the else branch is %s, the then branch "
                  "gives %s; both branches must return the same dtypes and "
                  "shapes",
                  k, em__type_format(&other.out[k], b, sizeof b),
                  em__type_format(&then.out[k], a, sizeof a));
        goto done;
    }
    if (!unite_captures(&then, &other, 0, &u) ||
        !(ids = region_inputs(1, &pred, &u)))
        goto done;
    int m = then.n_out;
    if (add_region_node(EM__NODE_COND, 1 + u.n_values, ids, NULL, m, &then,
                        &other, m, outputs) < 0)
        goto done;
    em__cond_record_gradient(pred, then_fn, else_fn, user, n_inputs, inputs, &u,
                             m, outputs);
    rc = m;
done:
    if (rc < 0)
        for (int k = 0; k < max_outputs; k++) {
            em_tensor_free(outputs[k]);
            outputs[k] = NULL;
        }
    free(ids);
    em__region_captures_free(&u);
    em__region_trace_free(&then);
    em__region_trace_free(&other);
    return rc;
}

int em_cond(em_tensor *pred, em_traced_body then_fn, em_traced_body else_fn,
            void *user, int n_inputs, em_tensor *const *inputs, int max_outputs,
            em_tensor **outputs)
{
    for (int i = 0; outputs && i < max_outputs; i++)
        outputs[i] = NULL;
    if (n_inputs < 0 || (n_inputs > 0 && !inputs) || max_outputs < 0 ||
        (max_outputs > 0 && !outputs)) {
        em__error("cond: needs arrays for %d inputs and %d outputs", n_inputs,
                  max_outputs);
        return -1;
    }
    if (!check_pred("cond", "predicate", pred) ||
        !check_tensors("cond", "input", n_inputs, inputs))
        return -1;
    if (em_is_tracing() &&
        (pred->flags & (EM__TENSOR_SYMBOLIC | EM__TENSOR_VARIABLE)))
        return traced_cond(pred, then_fn, else_fn, user, n_inputs, inputs,
                           max_outputs, outputs);
    /* Known now: run the branch it picks, as C would. */
    bool taken = em__load_f64(pred->data, pred->type.dtype, 0) != 0;
    int k = call_fn("cond", taken ? "then branch" : "else branch",
                    taken ? then_fn : else_fn, user, n_inputs, inputs,
                    max_outputs, outputs);
    if (k < 0)
        for (int i = 0; i < max_outputs; i++) {
            em_tensor_free(outputs[i]);
            outputs[i] = NULL;
        }
    return k;
}

/* ---- em_while_loop -------------------------------------------------------*/

static bool is_relaxed(const em_while_options *o, int k)
{
    return o && o->relaxed_shape && o->relaxed_shape[k];
}

/* A body output must keep its loop variable's dtype and (unless relaxed)
 * shape. */
static bool check_loop_var(const em_while_options *o, int k,
                           const em__type *was, const em__type *now)
{
    if (was->dtype == now->dtype &&
        (is_relaxed(o, k) || em__type_equal_shape(was, now)))
        return true;
    char a[200], b[200];
    em__error("while_loop: the body returns %s for loop variable %d, which "
              "is %s; a loop variable keeps its dtype%s",
              em__type_format(now, b, sizeof b), k,
              em__type_format(was, a, sizeof a),
              was->dtype == now->dtype ? " and shape (unless its shape is "
                                         "declared relaxed in the options)"
                                       : "");
    return false;
}

static int traced_while(em_traced_body cond_fn, em_traced_body body_fn,
                        void *user, int n, em_tensor *const *vars,
                        em_tensor **results, const em_while_options *o)
{
    em__region_trace cond, body;
    if (!trace_region(&cond, "while_loop", "condition", cond_fn, user, n, vars,
                      n, 1))
        return -1;
    if (cond.n_out != 1 || cond.out[0].dtype != EM_BOOL ||
        em__type_size(&cond.out[0]) != 1) {
        char text[200] = "nothing";
        if (cond.n_out == 1)
            em__type_format(&cond.out[0], text, sizeof text);
        em__error("while_loop: the condition returned %s, not one bool "
                  "tensor with one element",
                  text);
        em__region_trace_free(&cond);
        return -1;
    }
    if (!trace_region(&body, "while_loop", "body", body_fn, user, n, vars, n,
                      n)) {
        em__region_trace_free(&cond);
        return -1;
    }
    int rc = -1;
    em__region_captures u = {0};
    int *ids = NULL;
    em_tensor **all = NULL;
    if (body.n_out != n) {
        em__error("while_loop: the body returned %d outputs for %d loop "
                  "variables",
                  body.n_out, n);
        goto done;
    }
    for (int k = 0; k < n; k++)
        if (!check_loop_var(o, k, &vars[k]->type, &body.out[k]))
            goto done;
    em__attrs attrs;
    memset(&attrs, 0, sizeof attrs);
    attrs.depth = o ? o->max_iterations : 0;
    bool keep = em_tape_is_recording();
    for (int k = 0; k < n; k++) {
        if (is_relaxed(o, k))
            attrs.shape[k / 64] =
                (int64_t)((uint64_t)attrs.shape[k / 64] | (1ull << (k % 64)));
        keep = keep && !is_relaxed(o, k) && vars[k]->type.ndim < EM_MAX_DIMS;
    }
    attrs.keepdims = keep;
    int n_results = keep ? 2 * n + 1 : n;
    all = calloc((size_t)n_results + 1, sizeof *all);
    if (!all || !unite_captures(&cond, &body, n, &u) ||
        !(ids = region_inputs(n, vars, &u)))
        goto done;
    if (add_region_node(EM__NODE_WHILE, n + u.n_values, ids, &attrs, n, &cond,
                        &body, n_results, all) < 0)
        goto done;
    if (keep)
        em__while_record_gradient(body_fn, user, n, vars, &u, all, all[n],
                                  all + n + 1);
    for (int k = 0; k < n; k++) {
        results[k] = all[k];
        all[k] = NULL;
    }
    rc = 0;
done:
    for (int k = 0; all && k < n_results; k++)
        em_tensor_free(all[k]);
    free(all);
    free(ids);
    em__region_captures_free(&u);
    em__region_trace_free(&cond);
    em__region_trace_free(&body);
    return rc;
}

/* The next loop variables, each a tensor of this iteration's scope. */
static bool adopt_outputs(int n, em_tensor **next)
{
    for (int k = 0; k < n; k++) {
        bool shared = !em__scope_owns(next[k]);
        for (int j = 0; j < k && !shared; j++)
            shared = next[j] == next[k];
        if (shared && !(next[k] = em_copy(next[k])))
            return false;
    }
    return true;
}

static int eager_while(em_traced_body cond_fn, em_traced_body body_fn,
                       void *user, int n, em_tensor *const *init,
                       em_tensor **results, const em_while_options *o)
{
    em_tensor **vars = calloc((size_t)n + 1, sizeof *vars);
    em_tensor **next = calloc((size_t)n + 1, sizeof *next);
    if (!vars || !next) {
        free(vars);
        free(next);
        em__error("while_loop: out of memory");
        return -1;
    }
    memcpy(vars, init, sizeof *vars * (size_t)n);
    bool ok = true, owned = false;
    int64_t limit = o ? o->max_iterations : 0;
    for (int64_t it = 0; ok && (limit == 0 || it < limit); it++) {
        em_scope_begin();
        em_tensor *c = NULL;
        ok = call_fn("while_loop", "condition", cond_fn, user, n, vars, 1,
                     &c) == 1 &&
             check_pred("while_loop", "condition's result", c);
        bool go = ok && em_tensor_item(c) != 0;
        if (go) {
            memset(next, 0, sizeof *next * (size_t)n);
            int k =
                call_fn("while_loop", "body", body_fn, user, n, vars, n, next);
            if (k != n && k >= 0)
                em__error("while_loop: the body returned %d outputs for %d "
                          "loop variables",
                          k, n);
            ok = k == n;
            for (int j = 0; ok && j < n; j++)
                ok = check_loop_var(o, j, &vars[j]->type, &next[j]->type);
            ok = ok && adopt_outputs(n, next);
            for (int j = 0; ok && j < n; j++)
                em_scope_keep(next[j]);
        }
        em_scope_end();
        if (!go || !ok)
            break;
        for (int j = 0; owned && j < n; j++)
            em_tensor_free(vars[j]);
        memcpy(vars, next, sizeof *vars * (size_t)n);
        owned = true;
    }
    for (int j = 0; ok && j < n; j++)
        results[j] = owned ? vars[j] : em_copy(vars[j]);
    if (!ok && owned)
        for (int j = 0; j < n; j++)
            em_tensor_free(vars[j]);
    free(vars);
    free(next);
    return ok ? 0 : -1;
}

int em_while_loop(em_traced_body cond_fn, em_traced_body body_fn, void *user,
                  int n_vars, em_tensor *const *loop_vars, em_tensor **results,
                  const em_while_options *options)
{
    for (int i = 0; results && i < n_vars; i++)
        results[i] = NULL;
    if (!cond_fn || !body_fn || n_vars < 1 || !loop_vars || !results) {
        em__error("while_loop: needs a condition, a body, and arrays for "
                  "n_vars >= 1 loop variables and results (n_vars = %d)",
                  n_vars);
        return -1;
    }
    if (n_vars > EM__MAX_LOOP_VARS ||
        (options && options->max_iterations < 0)) {
        em__error("while_loop: %d loop variables (at most %d), at most %lld "
                  "iterations (must not be negative)",
                  n_vars, EM__MAX_LOOP_VARS,
                  (long long)(options ? options->max_iterations : 0));
        return -1;
    }
    if (!check_tensors("while_loop", "loop variable", n_vars, loop_vars))
        return -1;
    int rc = em_is_tracing() ? traced_while(cond_fn, body_fn, user, n_vars,
                                            loop_vars, results, options)
                             : eager_while(cond_fn, body_fn, user, n_vars,
                                           loop_vars, results, options);
    if (rc < 0)
        for (int i = 0; i < n_vars; i++) {
            em_tensor_free(results[i]);
            results[i] = NULL;
        }
    return rc;
}
