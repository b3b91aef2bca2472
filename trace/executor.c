/*
 * trace/executor.c - planning buffers for a graph and running it.
 *
 * Every node has a header (an em_tensor that owns nothing) whose data
 * points at the value: the caller's input, a captured constant, a
 * variable's storage (read and written in place), its input's buffer for
 * views, or a slot of the plan. Slots are handed out in program order and
 * returned once the last reader of their value has run.
 */
#include <stdlib.h>
#include <string.h>

#include "control_internal.h"
#include "executor.h"

typedef struct slot {
    em_tensor *buffer; /* owns the storage */
    size_t bytes;
    em_device device; /* where the buffer lives */
    int busy_until;   /* last node that reads the value now in the slot */
} slot;

struct em__plan {
    const em__graph *g;
    em_tensor *headers; /* one per node */
    slot *slots;
    int n_slots;
    int64_t bytes;
    unsigned char *needed;
    unsigned char *needed_by_call; /* a whole call's marks, made once */
    bool call_marked;
    int64_t last_run_nodes;
    int *input_nodes; /* the graph's input nodes, in node order */
    int n_input_nodes;
    em_tensor **held; /* results of cond and while nodes, per result node */
};

static bool is_alias(const em__node *node)
{
    return node->kind != EM__NODE_OP ||
           (em__op_table[node->op].flags & (EM__OP_VIEW | EM__OP_IN_PLACE));
}

/* The slot for a value of `bytes` on `device` needed from node `at` to
 * `until`. */
static int take_slot(em__plan *plan, size_t bytes, em_device device, int at,
                     int until)
{
    int best = -1;
    for (int s = 0; s < plan->n_slots; s++) {
        slot *sl = &plan->slots[s];
        if (sl->busy_until >= at || sl->bytes < bytes || sl->device != device)
            continue;
        if (best < 0 || sl->bytes < plan->slots[best].bytes)
            best = s;
    }
    if (best >= 0) {
        plan->slots[best].busy_until = until;
        return best;
    }
    slot *p = realloc(plan->slots, sizeof *p * (size_t)(plan->n_slots + 1));
    if (!p)
        return -1;
    plan->slots = p;
    em__type raw;
    int64_t n = (int64_t)(bytes ? bytes : 1);
    em__type_make(&raw, EM_UINT8, 1, &n);
    em_tensor *buffer = em__tensor_new_on(&raw, device);
    if (!buffer)
        return -1;
    em__scope_forget(buffer); /* the plan owns it */
    p[plan->n_slots] = (slot){buffer, bytes, device, until};
    plan->bytes += (int64_t)bytes;
    return plan->n_slots++;
}

em__plan *em__plan_new(const em__graph *g)
{
    return em__plan_new_placed(g, NULL, NULL);
}

em__plan *em__plan_new_fused(const em__graph *g, const int *run_at)
{
    return em__plan_new_placed(g, run_at, NULL);
}

em__plan *em__plan_new_placed(const em__graph *g, const int *run_at,
                              const em_device *devices)
{
    em__plan *plan = calloc(1, sizeof *plan);
    int *last_use = calloc((size_t)g->len + 1, sizeof *last_use);
    if (!plan || !last_use)
        goto out_of_memory;
    plan->g = g;
    plan->headers = calloc((size_t)g->len + 1, sizeof *plan->headers);
    plan->needed = calloc((size_t)g->len + 1, 1);
    plan->needed_by_call = calloc((size_t)g->len + 1, 1);
    plan->input_nodes = calloc((size_t)g->len + 1, sizeof(int));
    if (!plan->headers || !plan->needed || !plan->needed_by_call ||
        !plan->input_nodes)
        goto out_of_memory;
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i].kind == EM__NODE_INPUT)
            plan->input_nodes[plan->n_input_nodes++] = i;

    /* A value lives until its last reader runs (a fused reader runs where
     * its loop does); outputs until the end; a view's input as long as
     * the view. */
    for (int i = 0; i < g->len; i++) {
        int at = run_at ? run_at[i] : i;
        if (last_use[i] < i)
            last_use[i] = i;
        for (int j = 0; j < g->nodes[i].n_in; j++)
            if (last_use[g->nodes[i].inputs[j]] < at)
                last_use[g->nodes[i].inputs[j]] = at;
    }
    for (int i = 0; i < g->n_outputs; i++)
        last_use[g->outputs[i]] = g->len;
    for (int i = g->len - 1; i >= 0; i--) {
        const em__node *node = &g->nodes[i];
        if (node->kind == EM__NODE_OP &&
            (em__op_table[node->op].flags & EM__OP_VIEW) &&
            last_use[node->inputs[0]] < last_use[i])
            last_use[node->inputs[0]] = last_use[i];
    }

    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        em_tensor *h = &plan->headers[i];
        h->type = node->type;
        h->size = em__type_size(&node->type);
        h->refcount = 1;
        h->scope_slot = -1;
        h->node = i;
        if (node->value) {
            h->data = node->value->data;
            h->name = node->value->name;
            h->flags = node->value->flags & ~EM__TENSOR_TRAINABLE;
        }
        if (is_alias(node) || (run_at && run_at[i] != i))
            continue;
        size_t bytes = (size_t)h->size * em_dtype_size(node->type.dtype);
        int s = take_slot(plan, bytes, devices ? devices[i] : EM_CPU, i,
                          last_use[i]);
        if (s < 0)
            goto out_of_memory;
        h->data = plan->slots[s].buffer->data;
    }
    free(last_use);
    return plan;

out_of_memory:
    free(last_use);
    em__plan_free(plan);
    em__error("trace: out of memory planning '%s'", g->name);
    return NULL;
}

void em__plan_free(em__plan *plan)
{
    if (!plan)
        return;
    for (int s = 0; s < plan->n_slots; s++)
        em_tensor_free(plan->slots[s].buffer);
    free(plan->slots);
    free(plan->headers);
    free(plan->needed);
    free(plan->needed_by_call);
    free(plan->input_nodes);
    for (int i = 0; plan->held && i < plan->g->len; i++)
        if (plan->held[i])
            em__tensor_unref(plan->held[i]);
    free(plan->held);
    free(plan);
}

bool em__plan_hold(em__plan *plan, int i, em_tensor *t)
{
    if (!plan->held &&
        !(plan->held = calloc((size_t)plan->g->len + 1, sizeof *plan->held))) {
        em__tensor_unref(t);
        em__error("trace: out of memory running '%s'", plan->g->name);
        return false;
    }
    if (plan->held[i])
        em__tensor_unref(plan->held[i]);
    plan->held[i] = t;
    em_tensor *h = &plan->headers[i];
    h->data = t->data;
    h->type = t->type;
    h->size = t->size;
    return true;
}

const em__graph *em__plan_graph(const em__plan *plan)
{
    return plan->g;
}

em_tensor *em__plan_held(const em__plan *plan, int i)
{
    return plan->held ? plan->held[i] : NULL;
}

int64_t em__plan_last_run_nodes(const em__plan *plan)
{
    return plan->last_run_nodes;
}

int64_t em__plan_bytes(const em__plan *plan)
{
    return plan->bytes;
}

/* Marks what the fetched nodes (and, when asked, the effects) need,
 * stopping at fed nodes. */
static void mark_needed(em__plan *plan, int n_feed, const int *feed_nodes,
                        int n_fetch, const int *fetch_nodes, bool effects)
{
    const em__graph *g = plan->g;
    memset(plan->needed, 0, (size_t)g->len);
    for (int i = 0; i < n_fetch; i++)
        plan->needed[fetch_nodes[i]] = 1;
    for (int i = 0; effects && i < g->len; i++)
        if (em__node_has_effect(&g->nodes[i]))
            plan->needed[i] = 1;
    for (int i = g->len - 1; i >= 0; i--) {
        if (!plan->needed[i])
            continue;
        bool fed = false;
        for (int k = 0; k < n_feed; k++)
            fed = fed || feed_nodes[k] == i;
        if (fed) {
            plan->needed[i] = 2; /* available, not computed */
            continue;
        }
        for (int j = 0; j < g->nodes[i].n_in; j++)
            plan->needed[g->nodes[i].inputs[j]] = 1;
    }
}

em_tensor *em__plan_header(em__plan *plan, int i)
{
    return &plan->headers[i];
}

bool em__plan_run_node(em__plan *plan, int i)
{
    const em__node *node = &plan->g->nodes[i];
    if (em__node_is_region(node) && plan->headers)
        return em__plan_run_region(plan, i);
    if (node->kind != EM__NODE_OP || !plan->headers)
        return node->kind != EM__NODE_OP;
    em_tensor *h = &plan->headers[i];
    const int n = node->n_in;
    em_tensor *in_inline[16] = {0};
    em_tensor **in = in_inline;
    if (n > 16 && !(in = calloc((size_t)n, sizeof *in))) {
        em__error("trace: out of memory running '%s'", plan->g->name);
        return false;
    }
    for (int j = 0; j < n; j++)
        in[j] = &plan->headers[node->inputs[j]];
    const em__op_def *def = &em__op_table[node->op];
    em_tensor *first = n > 0 ? in[0] : NULL;
    bool ok = true;
    char msg[512] = "a view or assignment without inputs";
    if (def->flags & EM__OP_VIEW) {
        ok = first != NULL;
        if (first)
            h->data = first->data;
    } else if (def->flags & EM__OP_IN_PLACE) {
        ok = first && def->cpu(first, in, n, &node->attrs, msg, sizeof msg);
        if (first)
            h->data = first->data;
    } else {
        ok = def->cpu(h, in, node->n_in, &node->attrs, msg, sizeof msg);
    }
    if (!ok) {
        char detail[700];
        snprintf(detail, sizeof detail, "%s (node %%%d of '%s')", msg, i,
                 plan->g->name);
        em__error_op(def->name, in, node->n_in, detail);
    }
    if (in != in_inline)
        free(in);
    return ok;
}

static bool check_value(const char *what, int k, const em_tensor *t,
                        const em__type *want)
{
    if (t && t->type.dtype == want->dtype &&
        em__type_equal_shape(&t->type, want) &&
        !(t->flags & EM__TENSOR_SYMBOLIC))
        return true;
    if (!t) {
        if (!em_error_pending())
            em__error("trace: %s %d is NULL", what, k);
        return false;
    }
    char a[200], b[200];
    em__error("trace: %s %d is %s, the graph expects %s", what, k,
              em__type_format(&t->type, a, sizeof a),
              em__type_format(want, b, sizeof b));
    return false;
}

/* A new tensor holding a copy of header h's value. */
static bool copy_out(const em_tensor *h, em_tensor **out)
{
    *out = em__tensor_new(&h->type);
    if (*out && h->size > 0)
        memcpy((*out)->data, h->data,
               (size_t)h->size * em_dtype_size(h->type.dtype));
    return *out != NULL;
}

bool em__plan_bind_inputs(em__plan *plan, em_tensor *const *inputs)
{
    for (int k = 0; k < plan->n_input_nodes; k++) {
        int i = plan->input_nodes[k];
        const em__node *node = &plan->g->nodes[i];
        if (!check_value("input", node->index, inputs[node->index],
                         &node->type))
            return false;
        plan->headers[i].data = inputs[node->index]->data;
    }
    return true;
}

bool em__plan_copy_outputs(em__plan *plan, em_tensor **outputs)
{
    const em__graph *g = plan->g;
    bool ok = true;
    for (int k = 0; k < g->n_outputs && ok; k++)
        if (!outputs[k])
            ok = copy_out(&plan->headers[g->outputs[k]], &outputs[k]);
    for (int k = 0; k < g->n_outputs && !ok; k++) {
        em_tensor_free(outputs[k]);
        outputs[k] = NULL;
    }
    return ok;
}

int em__plan_run(em__plan *plan, em_tensor *const *inputs, int n_feed,
                 const int *feed_nodes, em_tensor *const *feeds, int n_fetch,
                 const int *fetch_nodes, em_tensor **fetched)
{
    const em__graph *g = plan->g;
    bool all = n_fetch < 0;
    if (all) {
        n_fetch = g->n_outputs;
        fetch_nodes = g->outputs;
    }
    for (int i = 0; i < n_fetch; i++)
        fetched[i] = NULL;

    if (!em__plan_bind_inputs(plan, inputs))
        return -1;
    void *saved[64];
    if (n_feed > 64) {
        em__error("trace: at most 64 fed values, %d given", n_feed);
        return -1;
    }
    for (int k = 0; k < n_feed; k++)
        if (!check_value("fed value", k, feeds[k],
                         &g->nodes[feed_nodes[k]].type))
            return -1;
    for (int k = 0; k < n_feed; k++) {
        saved[k] = plan->headers[feed_nodes[k]].data;
        plan->headers[feed_nodes[k]].data = feeds[k]->data;
    }

    /* A whole call (every output and effect, nothing fed) marks the same
     * nodes each time: marked once, on the first call. */
    unsigned char *needed = plan->needed;
    if (all && n_feed == 0) {
        needed = plan->needed_by_call;
        if (!plan->call_marked) {
            mark_needed(plan, 0, NULL, n_fetch, fetch_nodes, true);
            memcpy(needed, plan->needed, (size_t)g->len);
            plan->call_marked = true;
        }
    } else {
        mark_needed(plan, n_feed, feed_nodes, n_fetch, fetch_nodes, all);
    }

    /* Op results are copied out as soon as they are computed (a later node
     * may reuse their buffer); inputs, constants, variables and views of
     * them at the end, after every assignment of the run, as eager code
     * would see them (a view's buffer lives to the end of the run). */
    bool ok = true;
    plan->last_run_nodes = 0;
    for (int i = 0; i < g->len && ok; i++) {
        if (needed[i] != 1)
            continue;
        ok = em__plan_run_node(plan, i);
        plan->last_run_nodes += g->nodes[i].kind == EM__NODE_OP;
        for (int k = 0; k < n_fetch && ok; k++)
            if (fetch_nodes[k] == i && !is_alias(&g->nodes[i]))
                ok = copy_out(&plan->headers[i], &fetched[k]);
    }
    for (int k = 0; k < n_fetch && ok; k++)
        if (!fetched[k])
            ok = copy_out(&plan->headers[fetch_nodes[k]], &fetched[k]);
    for (int k = 0; k < n_feed; k++)
        plan->headers[feed_nodes[k]].data = saved[k];
    if (!ok)
        for (int i = 0; i < n_fetch; i++) {
            em_tensor_free(fetched[i]);
            fetched[i] = NULL;
        }
    return ok ? 0 : -1;
}
