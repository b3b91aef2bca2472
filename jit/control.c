/*
 * jit/control.c - cond and while nodes in compiled code: real branches and
 * loops around compiled regions.
 *
 * Each region (a branch, a loop's condition, a loop's body) is scheduled
 * and lowered like a function's graph, into a function of the same module
 * with the entry point's signature, and gets a buffer plan of its own. The
 * enclosing code calls em__jit_control_run with the node's two region
 * functions, which picks the branch or runs the loop as the graph executor
 * does (trace/executor_control.c), but on buffers kept across calls:
 *  - a region's inputs point at the enclosing values, without copies;
 *  - an output a region computes is computed straight into where it goes
 *    (the result's buffer, the next iteration's loop variable); the others
 *    (inputs passed through, views, constants) are copied there;
 *  - each loop variable alternates between two buffers, so an iteration
 *    reads one and writes the other;
 *  - under a tape (keep_iterations) the loop variables' values before each
 *    iteration are appended to growing buffers, and the results give their
 *    count and the stacked values, sized when the loop ends;
 *  - results are tensors the enclosing plan holds, reused call after call.
 * Variables are read and assigned where the regions' code stands, so
 * effects keep their program order.
 *
 * Fixed buffers cannot follow a loop variable whose shape changes between
 * iterations: a loop with a relaxed loop variable keeps the function in the
 * executor, as does a stack of saved iterations read anywhere but by a
 * gather along its first axis (a loop's gradient reads them that way).
 */
#include <stdlib.h>
#include <string.h>

#include "jit_internal.h"

/* One region compiled: its schedule, and the buffers its code runs on. */
typedef struct region {
    const em__graph *g;
    em__jit_schedule s;
    em__plan *plan;
    void **data; /* per node: its buffer, as the code reads it */
    int *bound;  /* inputs, views and updates: set at each run */
    int n_bound;
    bool *direct; /* per output: computed straight into its destination */
} region;

struct em__jit_control {
    const em__graph *g; /* the enclosing graph */
    int node;
    region regions[2];
    int n_results;
    int *result_node; /* per result: its node in g, or -1 when unused */
    int *reloads;     /* results and views of them, in node order */
    int n_reloads;
    em_tensor **args; /* a region's inputs, for one run */
    void **dest;      /* a region's outputs' destinations, for one run */
    /* while nodes */
    int n_vars;
    em_tensor *vars;     /* headers of the loop variables' current values */
    em_tensor **buffers; /* two per loop variable: [2][n_vars] */
    bool *save;          /* per loop variable: keep its iterations */
    char **saved;        /* per loop variable: the rows kept */
    int64_t saved_rows;  /* room in each, in rows */
};

static const char *const region_names[2][2] = {{"then branch", "else branch"},
                                               {"condition", "body"}};

static size_t bytes_of(const em_tensor *t)
{
    return (size_t)t->size * em_dtype_size(t->type.dtype);
}

/* ---- building -------------------------------------------------------------*/

static void region_free(region *r)
{
    em__plan_free(r->plan);
    em__jit_schedule_free(&r->s);
    free(r->data);
    free(r->bound);
    free(r->direct);
}

/* Schedules and plans region graph g; has_dest[k] (NULL: none) says which
 * outputs have a destination. False with `why` set, or with an error and
 * `why` empty when out of memory. */
static bool region_init(region *r, const em__graph *g, const bool *dynamic_in,
                        const bool *has_dest, char *why, size_t size)
{
    r->g = g;
    if (!em__jit_schedule_make_regions(g, dynamic_in, &r->s, why, size))
        return false;
    r->plan = em__plan_new_fused(g, r->s.run_at);
    r->data = calloc((size_t)g->len + 1, sizeof *r->data);
    r->bound = calloc((size_t)g->len + 1, sizeof *r->bound);
    r->direct = calloc((size_t)g->n_outputs + 1, sizeof *r->direct);
    if (!r->plan || !r->data || !r->bound || !r->direct) {
        if (!em_error_pending())
            em__error("jit: out of memory planning '%s'", g->name);
        return false;
    }
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        bool alias =
            node->kind == EM__NODE_OP &&
            (em__op_table[node->op].flags & (EM__OP_VIEW | EM__OP_IN_PLACE));
        if (node->kind == EM__NODE_INPUT || alias)
            r->bound[r->n_bound++] = i;
        else
            r->data[i] = em__plan_header(r->plan, i)->data;
    }
    /* As for a function's outputs (jit.c): an output computed into a
     * buffer of its own, which lives to the end of the region. */
    for (int k = 0; k < g->n_outputs && has_dest; k++) {
        int o = g->outputs[k];
        em__jit_role role = r->s.role[o];
        bool computed = role == EM__ROLE_LOOP || role == EM__ROLE_REDUCE ||
                        role == EM__ROLE_MATMUL || role == EM__ROLE_KERNEL;
        computed = computed && has_dest[k] &&
                   !(em__op_table[g->nodes[o].op].flags & EM__OP_IN_PLACE);
        for (int j = 0; j < k && computed; j++)
            computed = !(has_dest[j] && g->outputs[j] == o);
        r->direct[k] = computed;
    }
    return true;
}

void em__jit_control_free(em__jit_control *ctl)
{
    if (!ctl)
        return;
    region_free(&ctl->regions[0]);
    region_free(&ctl->regions[1]);
    for (int k = 0; ctl->buffers && k < 2 * ctl->n_vars; k++)
        if (ctl->buffers[k])
            em__tensor_unref(ctl->buffers[k]);
    for (int k = 0; ctl->saved && k < ctl->n_vars; k++)
        free(ctl->saved[k]);
    free(ctl->buffers);
    free(ctl->saved);
    free(ctl->save);
    free(ctl->vars);
    free(ctl->result_node);
    free(ctl->reloads);
    free(ctl->args);
    free(ctl->dest);
    free(ctl);
}

static bool relaxed(const em__node *node, int k)
{
    return k < EM__MAX_LOOP_VARS &&
           ((uint64_t)node->attrs.shape[k / 64] >> (k % 64) & 1u);
}

/* The results of node i that g uses, and the views of them. */
static bool find_results(em__jit_control *ctl)
{
    const em__graph *g = ctl->g;
    int i = ctl->node;
    ctl->result_node = malloc(sizeof(int) * (size_t)(ctl->n_results + 1));
    ctl->reloads = malloc(sizeof(int) * (size_t)(g->len + 1));
    bool *changed = calloc((size_t)g->len + 1, sizeof *changed);
    bool ok = ctl->result_node && ctl->reloads && changed;
    for (int k = 0; ok && k < ctl->n_results; k++)
        ctl->result_node[k] = -1;
    for (int j = i + 1; ok && j < g->len; j++) {
        const em__node *node = &g->nodes[j];
        if (node->kind == EM__NODE_RESULT && node->inputs[0] == i)
            ctl->result_node[node->index] = j;
        else if (!(node->kind == EM__NODE_OP &&
                   (em__op_table[node->op].flags & EM__OP_VIEW) &&
                   changed[node->inputs[0]]))
            continue;
        changed[j] = true;
        ctl->reloads[ctl->n_reloads++] = j;
    }
    free(changed);
    return ok;
}

/* The loop variables' buffers, and what keeping iterations needs. */
static bool while_init(em__jit_control *ctl)
{
    const em__graph *g = ctl->g;
    const em__node *node = &g->nodes[ctl->node];
    int n = ctl->n_vars = node->index;
    ctl->vars = calloc((size_t)n + 1, sizeof *ctl->vars);
    ctl->buffers = calloc((size_t)(2 * n) + 1, sizeof *ctl->buffers);
    ctl->save = calloc((size_t)n + 1, sizeof *ctl->save);
    ctl->saved = calloc((size_t)n + 1, sizeof *ctl->saved);
    if (!ctl->vars || !ctl->buffers || !ctl->save || !ctl->saved)
        return false;
    for (int k = 0; k < n; k++) {
        const em__type *type = &g->nodes[node->inputs[k]].type;
        ctl->vars[k] = (em_tensor){.refcount = 1,
                                   .type = *type,
                                   .size = em__type_size(type),
                                   .scope_slot = -1};
        for (int b = 0; b < 2; b++) {
            em_tensor *t = em__tensor_new(type);
            if (!t)
                return false;
            em__scope_forget(t);
            ctl->buffers[b * n + k] = t;
        }
        ctl->save[k] = node->attrs.keepdims && ctl->result_node[n + 1 + k] >= 0;
    }
    return true;
}

/* The control of cond or while node i of g; dynamic[j] marks g's values
 * sized only at run time. NULL with `why` set, or with an error and `why`
 * empty when out of memory. */
static em__jit_control *control_new(const em__graph *g, int i,
                                    const bool *dynamic, char *why, size_t size)
{
    const em__node *node = &g->nodes[i];
    bool is_while = node->kind == EM__NODE_WHILE;
    const char *op = is_while ? "em_while_loop" : "em_cond";
    for (int k = 0; is_while && k < node->index; k++)
        if (relaxed(node, k)) {
            snprintf(why, size,
                     "%%%d (%s): loop variable %d has a relaxed shape, which "
                     "fixed buffers cannot follow",
                     i, op, k);
            return NULL;
        }

    em__jit_control *ctl = calloc(1, sizeof *ctl);
    int offset = is_while ? 0 : 1, n_args = node->n_in - offset;
    bool *dynamic_in = calloc((size_t)n_args + 1, sizeof *dynamic_in);
    bool *has_dest = NULL;
    bool ok = ctl && dynamic_in;
    if (ok) {
        ctl->g = g;
        ctl->node = i;
        ctl->n_results = em__region_results(node);
        ok = find_results(ctl);
    }
    int n_dest = ok ? ctl->n_results + node->index : 0;
    has_dest = calloc((size_t)n_dest + 1, sizeof *has_dest);
    ok = ok && has_dest;
    if (ok) {
        ctl->args = calloc((size_t)n_args + 1, sizeof *ctl->args);
        ctl->dest = calloc((size_t)n_dest + 1, sizeof *ctl->dest);
        ok = ctl->args && ctl->dest && (!is_while || while_init(ctl));
    }
    if (!ok) {
        free(dynamic_in);
        free(has_dest);
        em__jit_control_free(ctl);
        em__error("jit: out of memory scheduling '%s'", g->name);
        return NULL;
    }
    for (int k = 0; k < n_args; k++)
        dynamic_in[k] = dynamic[node->inputs[k + offset]];

    for (int r = 0; r < 2 && ok; r++) {
        /* A branch's outputs go to the results used; a body's to the next
         * loop variables; a condition's nowhere. */
        for (int k = 0; k < node->index; k++)
            has_dest[k] = is_while
                              ? r == 1
                              : k < ctl->n_results && ctl->result_node[k] >= 0;
        char inner[160] = "";
        ok = region_init(&ctl->regions[r], node->regions[r], dynamic_in,
                         is_while && r == 0 ? NULL : has_dest, inner,
                         sizeof inner);
        if (!ok && inner[0])
            snprintf(why, size, "%%%d (%s) %s: %s", i, op,
                     region_names[is_while][r], inner);
    }
    free(dynamic_in);
    free(has_dest);
    if (!ok) {
        em__jit_control_free(ctl);
        return NULL;
    }
    return ctl;
}

/* True when node reads a value sized at run time as its input j in a way
 * its code follows: as a region's captured value, or as the table of a
 * gather along the first axis (whose result's shape does not depend on
 * that axis's size). */
static bool reads_dynamic(const em__graph *g, const em__node *node, int j)
{
    if (node->kind == EM__NODE_COND)
        return j >= 1;
    if (node->kind == EM__NODE_WHILE)
        return j >= node->index;
    if (node->kind != EM__NODE_OP || node->op != EM_OP_GATHER || j != 0)
        return false;
    int ndim = g->nodes[node->inputs[0]].type.ndim;
    return node->attrs.axis == 0 || node->attrs.axis == -ndim;
}

bool em__jit_controls_make(const em__graph *g, em__jit_schedule *s,
                           const bool *dynamic_inputs, char *why, size_t size)
{
    bool *dynamic = calloc((size_t)g->len + 1, sizeof *dynamic);
    s->controls = calloc((size_t)g->len + 1, sizeof *s->controls);
    if (!dynamic || !s->controls) {
        free(dynamic);
        em__error("jit: out of memory scheduling '%s'", g->name);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < g->len && ok; i++) {
        const em__node *node = &g->nodes[i];
        if (node->kind == EM__NODE_INPUT)
            dynamic[i] = dynamic_inputs && dynamic_inputs[node->index];
        if (node->kind == EM__NODE_RESULT) {
            const em__node *owner = &g->nodes[node->inputs[0]];
            dynamic[i] = owner->kind == EM__NODE_WHILE &&
                         owner->attrs.keepdims && node->index > owner->index;
        }
        for (int j = 0; j < node->n_in && ok; j++) {
            if (!dynamic[node->inputs[j]] || reads_dynamic(g, node, j))
                continue;
            snprintf(why, size,
                     "%%%d (%s) reads iterations saved by a while loop, "
                     "whose number is known only when it runs",
                     i,
                     node->kind == EM__NODE_OP ? em__op_table[node->op].name
                     : node->kind == EM__NODE_WHILE ? "em_while_loop"
                                                    : "a node");
            ok = false;
        }
        if (ok && em__node_is_region(node)) {
            em__jit_control *ctl = control_new(g, i, dynamic, why, size);
            s->controls[i] = ctl;
            ok = ctl != NULL;
            for (int r = 0; ok && r < 2; r++) {
                s->loops += ctl->regions[r].s.loops;
                s->calls += ctl->regions[r].s.calls;
            }
        }
    }
    /* A region's outputs have the types the enclosing node was traced
     * with; a function's output may be sized at run time. */
    for (int k = 0; ok && dynamic_inputs && k < g->n_outputs; k++)
        if (dynamic[g->outputs[k]]) {
            snprintf(why, size,
                     "a region returns iterations saved by a while loop");
            ok = false;
        }
    free(dynamic);
    return ok;
}

const em__graph *em__jit_control_region(const em__jit_control *ctl, int r,
                                        const em__jit_schedule **s)
{
    *s = &ctl->regions[r].s;
    return ctl->regions[r].g;
}

int em__jit_control_reloads(const em__jit_control *ctl, const int **nodes)
{
    *nodes = ctl->reloads;
    return ctl->n_reloads;
}

/* ---- running --------------------------------------------------------------*/

/* Runs region r's code on args (one per region input); dest[k] (dest NULL:
 * none) receives output k when that output has a destination. False with
 * an error. */
static bool run_region(region *r, em_tensor *const *args, void *const *dest,
                       em__jit_entry code)
{
    const em__graph *g = r->g;
    /* Outputs computed in place first: views of them (bound below) must
     * see the new buffers. */
    for (int k = 0; dest && k < g->n_outputs; k++)
        if (r->direct[k]) {
            int o = g->outputs[k];
            em__plan_header(r->plan, o)->data = r->data[o] = dest[k];
        }
    for (int b = 0; b < r->n_bound; b++) {
        int i = r->bound[b];
        const em__node *node = &g->nodes[i];
        em_tensor *h = em__plan_header(r->plan, i);
        if (node->kind == EM__NODE_INPUT) {
            /* With its type: saved iterations are sized at run time. */
            const em_tensor *a = args[node->index];
            h->data = a->data;
            h->type = a->type;
            h->size = a->size;
        } else {
            h->data = em__plan_header(r->plan, node->inputs[0])->data;
        }
        r->data[i] = h->data;
    }
    if (code(r->data, r->plan) != 0)
        return false;
    for (int k = 0; dest && k < g->n_outputs; k++) {
        if (r->direct[k] || !dest[k])
            continue;
        const em_tensor *h = em__plan_header(r->plan, g->outputs[k]);
        if (h->data != dest[k] && bytes_of(h) > 0)
            memcpy(dest[k], h->data, bytes_of(h));
    }
    return true;
}

/* The buffer of result k: the tensor the enclosing plan holds for it,
 * made again only when its type changes. NULL with an error. */
static void *result_buffer(em__jit_control *ctl, em__plan *plan, int k,
                           const em__type *type)
{
    int r = ctl->result_node[k];
    em_tensor *t = em__plan_held(plan, r);
    if (t && t->type.dtype == type->dtype &&
        em__type_equal_shape(&t->type, type))
        return t->data;
    t = em__tensor_new(type);
    if (!t)
        return NULL;
    em__scope_forget(t);
    return em__plan_hold(plan, r, t) ? t->data : NULL;
}

static bool run_cond(em__jit_control *ctl, em__plan *plan,
                     const em__jit_entry *code)
{
    const em__node *node = &ctl->g->nodes[ctl->node];
    const em_tensor *pred = em__plan_header(plan, node->inputs[0]);
    int taken = em__load_f64(pred->data, pred->type.dtype, 0) != 0 ? 0 : 1;
    for (int k = 1; k < node->n_in; k++)
        ctl->args[k - 1] = em__plan_header(plan, node->inputs[k]);
    for (int k = 0; k < ctl->n_results; k++) {
        ctl->dest[k] = NULL;
        int r = ctl->result_node[k];
        if (r < 0)
            continue;
        const em__type *type = &ctl->g->nodes[r].type;
        if (!(ctl->dest[k] = result_buffer(ctl, plan, k, type)))
            return false;
    }
    return run_region(&ctl->regions[taken], ctl->args, ctl->dest, code[taken]);
}

/* Appends the loop variables' current values as row `row` of the saved
 * iterations. */
static bool save_iteration(em__jit_control *ctl, int64_t row)
{
    if (row == ctl->saved_rows) {
        int64_t rows = ctl->saved_rows ? 2 * ctl->saved_rows : 16;
        for (int k = 0; k < ctl->n_vars; k++) {
            if (!ctl->save[k])
                continue;
            size_t bytes = bytes_of(&ctl->vars[k]) * (size_t)rows;
            char *p = realloc(ctl->saved[k], bytes ? bytes : 1);
            if (!p) {
                em__error("while: out of memory saving iteration %lld",
                          (long long)row);
                return false;
            }
            ctl->saved[k] = p;
        }
        ctl->saved_rows = rows;
    }
    for (int k = 0; k < ctl->n_vars; k++) {
        size_t bytes = bytes_of(&ctl->vars[k]);
        if (ctl->save[k] && bytes > 0)
            memcpy(ctl->saved[k] + (size_t)row * bytes, ctl->vars[k].data,
                   bytes);
    }
    return true;
}

/* The results after `count` iterations: the loop variables, and under a
 * tape the count and each variable's saved values, stacked. */
static bool while_results(em__jit_control *ctl, em__plan *plan, int64_t count)
{
    int n = ctl->n_vars;
    for (int k = 0; k < n; k++) {
        if (ctl->result_node[k] < 0)
            continue;
        void *p = result_buffer(ctl, plan, k, &ctl->vars[k].type);
        if (!p)
            return false;
        if (bytes_of(&ctl->vars[k]) > 0)
            memcpy(p, ctl->vars[k].data, bytes_of(&ctl->vars[k]));
    }
    if (ctl->n_results == n)
        return true;
    if (ctl->result_node[n] >= 0) {
        em__type scalar = {.dtype = EM_INT64};
        int64_t *p = result_buffer(ctl, plan, n, &scalar);
        if (!p)
            return false;
        *p = count;
    }
    for (int k = 0; k < n; k++) {
        if (!ctl->save[k])
            continue;
        const em__type *var = &ctl->vars[k].type;
        em__type t = {.dtype = var->dtype, .ndim = var->ndim + 1};
        t.shape[0] = count;
        memcpy(t.shape + 1, var->shape, sizeof(int64_t) * (size_t)var->ndim);
        void *p = result_buffer(ctl, plan, n + 1 + k, &t);
        size_t bytes = bytes_of(&ctl->vars[k]) * (size_t)count;
        if (!p)
            return false;
        if (bytes > 0)
            memcpy(p, ctl->saved[k], bytes);
    }
    return true;
}

static bool run_while(em__jit_control *ctl, em__plan *plan,
                      const em__jit_entry *code)
{
    const em__node *node = &ctl->g->nodes[ctl->node];
    int n = ctl->n_vars;
    for (int k = 0; k < node->n_in; k++) {
        em_tensor *h = em__plan_header(plan, node->inputs[k]);
        if (k < n) {
            ctl->vars[k].data = h->data;
            h = &ctl->vars[k];
        }
        ctl->args[k] = h;
    }
    region *cond = &ctl->regions[0], *body = &ctl->regions[1];
    const em_tensor *go = em__plan_header(cond->plan, cond->g->outputs[0]);
    int64_t count = 0;
    for (int which = 0; node->attrs.depth == 0 || count < node->attrs.depth;
         which ^= 1) {
        if (!run_region(cond, ctl->args, NULL, code[0]))
            return false;
        /* The condition's output may be one of its inputs: read it through
         * the header, after the run. */
        if (em__load_f64(go->data, go->type.dtype, 0) == 0)
            break;
        if (node->attrs.keepdims && !save_iteration(ctl, count))
            return false;
        for (int k = 0; k < n; k++)
            ctl->dest[k] = ctl->buffers[which * n + k]->data;
        if (!run_region(body, ctl->args, ctl->dest, code[1]))
            return false;
        for (int k = 0; k < n; k++)
            ctl->vars[k].data = ctl->dest[k];
        count++;
    }
    return while_results(ctl, plan, count);
}

int32_t em__jit_control_run(em__jit_control *ctl, void **data, em__plan *plan,
                            em__jit_entry first, em__jit_entry second)
{
    const em__jit_entry code[2] = {first, second};
    bool ok = ctl->g->nodes[ctl->node].kind == EM__NODE_COND
                  ? run_cond(ctl, plan, code)
                  : run_while(ctl, plan, code);
    if (!ok)
        return 0;
    /* The results' buffers, and views of them, for the code after. */
    for (int k = 0; k < ctl->n_reloads; k++) {
        int j = ctl->reloads[k];
        const em__node *node = &ctl->g->nodes[j];
        em_tensor *h = em__plan_header(plan, j);
        if (node->kind == EM__NODE_OP)
            h->data = em__plan_header(plan, node->inputs[0])->data;
        data[j] = h->data;
    }
    return 1;
}
