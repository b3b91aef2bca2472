/*
 * trace/trace.c - em_trace_fn: tracing a C function into a graph, caching
 * concrete functions by signature, and calling them.
 *
 * Tracing installs two hooks in dispatch: ops that read a symbolic tensor
 * or a variable (or write one) append a node instead of computing, and
 * variables created meanwhile are lifted into the function. Tapes begun
 * outside the trace are suspended while it runs, so that they never hold
 * symbolic records.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "passes.h"
#include "shape_poly.h"
#include "tape_internal.h"
#include "tier.h"
#include "trace_internal.h"

#define DEFAULT_RETRACE_WARNING 5
#define DEFAULT_MAX_OUTPUTS 16
#define MAX_OUTPUTS 4096
#define MAX_STATIC_KEY 256

struct em_concrete {
    em_function *owner;
    int n_inputs;
    em__type *types;           /* exact input types */
    unsigned char *static_key; /* the key bytes it was traced for */
    size_t static_key_size;
    em__graph *graph;
    em__plan *plan;
    em_tensor **variables; /* trainable variables it reads, in node order */
    int n_variables;
    em_function *gradient; /* traced on first use under a tape */
    em__native *native;    /* compiled code, or NULL: the executor runs */
    const em__tier *tier;  /* native's: the JIT, or CUDA's on a GPU */
    em_device *devices;    /* the inputs' devices it was traced for */
    em_device device;      /* where its calls run: EM_CPU or one GPU */
    em__multi_grad *taped; /* its record's gradient on eager tapes */
    const char *no_native; /* why native is NULL */
    char no_native_text[160];
    double trace_seconds, passes_seconds;
    em_concrete *next;
};

/* What the first trace under one static key learnt about the sizes under
 * the signature's -1. */
typedef struct sized {
    unsigned char key[MAX_STATIC_KEY];
    size_t key_size;
    em__shape_poly *poly; /* NULL: each new size is traced */
    struct sized *next;
} sized;

struct em_function {
    em_traced_body body;
    void *user;
    char *name;
    int n_signature;
    em_input_spec *signature;
    unsigned char *static_key;
    size_t static_key_size;
    em_static_key_fn static_key_fn;
    int retrace_warning;
    int max_outputs;
    em_jit_mode jit;
    em_concrete *concretes;
    em_function_stats stats;
    int64_t distinct_signatures; /* traces that were not specialisations */
    bool warned;
    em_tensor **lifted; /* variables created by the first trace */
    int n_lifted, cap_lifted;
    sized *sized;
    int concretes_made; /* ever, for their names */
};

/* The state of the trace in progress on this thread. */
typedef struct tracer {
    em_function *fn;
    em__graph *graph;
    uint64_t *captured_ids; /* const and variable captures, by tensor id */
    int *captured_nodes;
    int n_captured, cap_captured;
    bool first_trace;
    struct tracer *outer;
    /* A region of a cond or while node (trace/control.c): symbolic values
     * of the enclosing graphs become region inputs numbered from
     * n_explicit, listed in `captures` (one reference each); variables
     * its ops read or write are listed in `variables`. */
    bool region;
    int n_explicit;
    em_tensor **captures;
    int n_captures, cap_captures;
    em_tensor **variables;
    int n_variables, cap_variables;
    void *tapes; /* what em__tape_suspend returned */
} tracer;

static _Thread_local tracer *current;

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool em_is_tracing(void)
{
    return current != NULL;
}

/* ---- the hooks
 * -------------------------------------------------------------*/

/* The node standing for t in the graph being traced: its own node when
 * symbolic, else a capture made once per tensor. -1 with an error. */
static bool region_capture(tracer *tr, em_tensor *t);

static int node_of(tracer *tr, em_tensor *t)
{
    if (t->flags & EM__TENSOR_SYMBOLIC) {
        if (t->graph == tr->graph)
            return t->node;
        bool enclosing = false;
        for (tracer *o = tr; o->region && !enclosing; o = o->outer)
            enclosing = o->outer->graph == t->graph;
        if (!enclosing) {
            em__error("trace: '%s' uses a symbolic tensor of another trace "
                      "(one kept from an earlier call of a traced "
                      "function, or from a finished branch or loop body?)",
                      tr->fn->name);
            return -1;
        }
    }
    for (int i = 0; i < tr->n_captured; i++)
        if (tr->captured_ids[i] == t->id)
            return tr->captured_nodes[i];
    if (tr->n_captured == tr->cap_captured) {
        int cap = tr->cap_captured ? tr->cap_captured * 2 : 16;
        uint64_t *ids = realloc(tr->captured_ids, sizeof *ids * (size_t)cap);
        if (ids)
            tr->captured_ids = ids;
        int *nodes = realloc(tr->captured_nodes, sizeof *nodes * (size_t)cap);
        if (nodes)
            tr->captured_nodes = nodes;
        if (!ids || !nodes) {
            em__error("trace: out of memory");
            return -1;
        }
        tr->cap_captured = cap;
    }
    em__node_kind kind = (t->flags & EM__TENSOR_SYMBOLIC)   ? EM__NODE_INPUT
                         : (t->flags & EM__TENSOR_VARIABLE) ? EM__NODE_VARIABLE
                                                            : EM__NODE_CONST;
    em_tensor *value = kind == EM__NODE_INPUT ? NULL : t;
    int id = em__graph_add(tr->graph, kind, 0, NULL, 0, NULL, &t->type, value);
    if (id < 0)
        return -1;
    if (kind == EM__NODE_INPUT)
        tr->graph->nodes[id].index = tr->n_explicit + tr->n_captures;
    if (tr->region && kind != EM__NODE_CONST && !region_capture(tr, t))
        return -1;
    tr->captured_ids[tr->n_captured] = t->id;
    tr->captured_nodes[tr->n_captured++] = id;
    return id;
}

static em_tensor *trace_op(em__op op, em_tensor *const *in, int n,
                           const em__attrs *attrs, const em__type *out)
{
    tracer *tr = current;
    int inline_ids[16] = {0};
    int *ids = n > 16 ? malloc(sizeof(int) * (size_t)n) : inline_ids;
    if (!ids) {
        em__error("trace: out of memory");
        return NULL;
    }
    int node = 0;
    for (int i = 0; i < n && node >= 0; i++)
        node = ids[i] = node_of(tr, in[i]);
    if (node >= 0)
        node =
            em__graph_add(tr->graph, EM__NODE_OP, op, ids, n, attrs, out, NULL);
    if (ids != inline_ids)
        free(ids);
    if (node < 0)
        return NULL;
    if (em__op_table[op].flags & EM__OP_IN_PLACE)
        return in[0];
    return em__tensor_symbolic(out, tr->graph, node);
}

static bool variable_created(em_tensor *v)
{
    tracer *tr = current;
    em_function *f = tr->fn;
    if (!tr->first_trace) {
        em__error("variable_new: '%s' creates variable '%s' while tracing "
                  "again (for a new signature); create variables outside "
                  "the function, or only on its first trace",
                  f->name, v->name);
        return false;
    }
    if (f->n_lifted == f->cap_lifted) {
        int cap = f->cap_lifted ? f->cap_lifted * 2 : 8;
        em_tensor **p = realloc(f->lifted, sizeof *p * (size_t)cap);
        if (!p) {
            em__error("trace: out of memory");
            return false;
        }
        f->lifted = p;
        f->cap_lifted = cap;
    }
    f->lifted[f->n_lifted++] = em__tensor_ref(v);
    return true;
}

em_tensor *em_trace_name(em_tensor *t, const char *name)
{
    tracer *tr = current;
    if (!t || !name || !tr || !(t->flags & EM__TENSOR_SYMBOLIC) ||
        t->graph != tr->graph)
        return t;
    em__node *node = &tr->graph->nodes[t->node];
    free(node->name);
    node->name = strdup(name);
    return t;
}

/* ---- regions (trace/control.c) -------------------------------------------*/

/* Lists t, a value of an enclosing graph or a variable, on region tr. */
static bool region_capture(tracer *tr, em_tensor *t)
{
    bool symbolic = t->flags & EM__TENSOR_SYMBOLIC;
    em_tensor ***list = symbolic ? &tr->captures : &tr->variables;
    int *n = symbolic ? &tr->n_captures : &tr->n_variables;
    int *cap = symbolic ? &tr->cap_captures : &tr->cap_variables;
    if (*n == *cap) {
        int bigger = *cap ? *cap * 2 : 8;
        em_tensor **p = realloc(*list, sizeof *p * (size_t)bigger);
        if (!p) {
            em__error("trace: out of memory");
            return false;
        }
        *list = p;
        *cap = bigger;
    }
    (*list)[(*n)++] = em__tensor_ref(t);
    return true;
}

bool em__trace_region_begin(em__graph *region, int n_explicit)
{
    tracer *tr = calloc(1, sizeof *tr);
    if (!tr || !current) {
        free(tr);
        em__error(current ? "trace: out of memory" : "trace: not tracing");
        return false;
    }
    tr->fn = current->fn;
    tr->graph = region;
    tr->first_trace = current->first_trace;
    tr->outer = current;
    tr->region = true;
    tr->n_explicit = n_explicit;
    tr->tapes = em__tape_suspend();
    current = tr;
    return true;
}

void em__trace_region_end(em__trace_region_captures *out)
{
    tracer *tr = current;
    if (!tr || !tr->region)
        return;
    current = tr->outer;
    em__tape_resume(tr->tapes);
    tr->graph->n_inputs = tr->n_explicit + tr->n_captures;
    out->n_captures = tr->n_captures;
    out->captures = tr->captures;
    out->n_variables = tr->n_variables;
    out->variables = tr->variables;
    free(tr->captured_ids);
    free(tr->captured_nodes);
    free(tr);
}

int em__trace_node(em_tensor *t)
{
    return current ? node_of(current, t) : -1;
}

em__graph *em__trace_current_graph(void)
{
    return current ? current->graph : NULL;
}

/* ---- keys
 * ------------------------------------------------------------------*/

static size_t static_key_of(em_function *f, unsigned char *key)
{
    if (f->static_key_fn) {
        size_t n = f->static_key_fn(f->user, key, MAX_STATIC_KEY);
        return n < MAX_STATIC_KEY ? n : MAX_STATIC_KEY;
    }
    memcpy(key, f->static_key, f->static_key_size);
    return f->static_key_size;
}

/* Does input type t fit spec? */
static bool fits_spec(const em__type *t, const em_input_spec *spec)
{
    if (t->dtype != spec->dtype || t->ndim != spec->ndim)
        return false;
    for (int d = 0; d < t->ndim; d++)
        if (spec->shape[d] >= 0 && spec->shape[d] != t->shape[d])
            return false;
    return true;
}

static bool check_signature(em_function *f, int n, em_tensor *const *inputs)
{
    if (f->n_signature == 0)
        return true;
    if (n != f->n_signature) {
        em__error("%s: called with %d inputs, its signature has %d", f->name, n,
                  f->n_signature);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const em_input_spec *spec = &f->signature[i];
        if (fits_spec(&inputs[i]->type, spec))
            continue;
        char got[200], want[200], dims[160];
        em_shape_format(spec->ndim, spec->shape, dims, sizeof dims);
        snprintf(want, sizeof want, "%s%s", em_dtype_name(spec->dtype), dims);
        em__error("%s: input %d is %s, the signature says %s", f->name, i,
                  em__type_format(&inputs[i]->type, got, sizeof got), want);
        return false;
    }
    return true;
}

static bool same_key(const em_concrete *c, int n, em_tensor *const *inputs,
                     const unsigned char *key, size_t key_size,
                     const em_input_spec *relax)
{
    if (c->n_inputs != n || c->static_key_size != key_size ||
        memcmp(c->static_key, key, key_size) != 0)
        return false;
    for (int i = 0; i < n; i++) {
        const em__type *t = &inputs[i]->type;
        if (relax) {
            if (!fits_spec(t, &relax[i]) || !fits_spec(&c->types[i], &relax[i]))
                return false;
            continue;
        }
        if (t->dtype != c->types[i].dtype ||
            !em__type_equal_shape(t, &c->types[i]) ||
            em__tensor_device(inputs[i]) != c->devices[i])
            return false;
    }
    return true;
}

/* The one-time warning for a function that keeps retracing, saying what
 * changed since its previous trace. */
static void warn_retracing(em_function *f, const em_concrete *previous, int n,
                           em_tensor *const *inputs, const char *hint)
{
    char change[400] = "its static key changed";
    for (int i = 0; previous && i < n && i < previous->n_inputs; i++) {
        const em__type *was = &previous->types[i], *now = &inputs[i]->type;
        em_device device = em__tensor_device(inputs[i]);
        if (was->dtype == now->dtype && em__type_equal_shape(was, now) &&
            previous->devices[i] == device)
            continue;
        char a[200], b[200];
        if (previous->devices[i] != device)
            snprintf(change, sizeof change, "input %d device %s -> %s", i,
                     em_device_name(previous->devices[i], a, sizeof a),
                     em_device_name(device, b, sizeof b));
        else if (was->dtype != now->dtype)
            snprintf(change, sizeof change, "input %d dtype %s -> %s", i,
                     em_dtype_name(was->dtype), em_dtype_name(now->dtype));
        else
            snprintf(change, sizeof change, "input %d shape %s -> %s", i,
                     em_shape_format(was->ndim, was->shape, a, sizeof a),
                     em_shape_format(now->ndim, now->shape, b, sizeof b));
        break;
    }
    em__log(EM_LOG_WARN,
            "function '%s' has traced %lld times, more than %d "
            "(%s); %s",
            f->name, (long long)f->stats.traces, f->retrace_warning, change,
            hint);
}

/* ---- tracing
 * ---------------------------------------------------------------*/

static void dump_graph(const em__graph *g, const char *stage)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, "%s.graph.txt", stage);
    FILE *out = em__dump_open("graph", g->name, suffix);
    if (!out)
        return;
    int need = em__graph_format(g, NULL, 0);
    char *text = malloc((size_t)need + 1);
    if (text) {
        em__graph_format(g, text, (size_t)need + 1);
        fputs(text, out);
        free(text);
    }
    fclose(out);
}

/* Records outputs[0..n) as the graph's outputs. */
static bool set_outputs(tracer *tr, int n, em_tensor **outputs)
{
    em__graph *g = tr->graph;
    g->outputs = calloc((size_t)n + 1, sizeof *g->outputs);
    if (!g->outputs) {
        em__error("trace: out of memory");
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!outputs[i]) {
            if (!em_error_pending())
                em__error("%s: output %d is NULL", tr->fn->name, i);
            return false;
        }
        int node = node_of(tr, outputs[i]);
        if (node < 0)
            return false;
        g->outputs[g->n_outputs++] = node;
    }
    return true;
}

/* Runs the body with symbolic inputs; returns the graph or NULL. */
/* Errors recorded on this thread so far. */
static uint64_t errors_so_far(void)
{
    return em__thread_state()->errors;
}

/* Is an error pending that was recorded after `before` (rather than one the
 * caller left pending)? */
static bool new_error(uint64_t before)
{
    return em_error_pending() && errors_so_far() != before;
}

static em__graph *trace_graph(em_function *f, int n, const em__type *types)
{
    em__thread *thread = em__thread_state();
    tracer tr = {
        .fn = f, .first_trace = f->stats.traces == 0, .outer = current};
    tr.graph = em__graph_new(f->name);
    em_tensor **outputs = calloc((size_t)f->max_outputs, sizeof *outputs);
    em_tensor **symbols = calloc((size_t)n + 1, sizeof *symbols);
    if (!tr.graph || !outputs || !symbols) {
        em__error("trace: out of memory");
        em__graph_free(tr.graph);
        free(outputs);
        free(symbols);
        return NULL;
    }
    tr.graph->n_inputs = n;

    const char *outer_name = thread->tracing;
    void *tapes = em__tape_suspend();
    current = &tr;
    thread->tracing = f->name;
    em__hooks_installed.trace = trace_op;
    em__hooks_installed.variable_created = variable_created;

    uint64_t errors_before = errors_so_far();
    em_scope_begin();
    int depth = em_scope_depth();
    int outer_floor = em__scope_set_floor(depth);
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        int id = em__graph_add(tr.graph, EM__NODE_INPUT, 0, NULL, 0, NULL,
                               &types[i], NULL);
        if (id >= 0)
            tr.graph->nodes[id].index = i;
        symbols[i] =
            id >= 0 ? em__tensor_symbolic(&types[i], tr.graph, id) : NULL;
        ok = symbols[i] != NULL;
    }
    int n_out = ok ? f->body(n, symbols, f->max_outputs, outputs, f->user) : -1;
    if (em_scope_depth() > depth) {
        em__error("%s: the function left %d scope(s) open", f->name,
                  em_scope_depth() - depth);
        while (em_scope_depth() > depth)
            em_scope_end();
        ok = false;
    }
    em__scope_set_floor(outer_floor);
    if (ok && n_out > f->max_outputs) {
        em__error("%s: the function returned %d outputs (at most %d)", f->name,
                  n_out, f->max_outputs);
        ok = false;
    } else if (ok && n_out < 0) {
        if (!em_error_pending())
            em__error("%s: the function returned %d without recording an "
                      "error",
                      f->name, n_out);
        ok = false;
    }
    /* An error the body left pending (a value read, say) fails the trace:
     * the graph would not compute what the function meant. One the body
     * cleared itself was handled. */
    ok = ok && !new_error(errors_before);
    ok = ok && set_outputs(&tr, n_out, outputs);
    em_scope_end();

    thread->tracing = outer_name;
    current = tr.outer;
    em__tape_resume(tapes);
    free(outputs);
    free(symbols);
    free(tr.captured_ids);
    free(tr.captured_nodes);
    if (!ok) {
        em__graph_free(tr.graph);
        return NULL;
    }
    return tr.graph;
}

/* Lists the trainable variables g reads (its regions' too) on c, once. */
static void collect_variables(em_concrete *c, const em__graph *g)
{
    for (int i = 0; i < g->len; i++) {
        for (int r = 0; r < g->nodes[i].n_regions; r++)
            collect_variables(c, g->nodes[i].regions[r]);
        em_tensor *v = g->nodes[i].value;
        if (g->nodes[i].kind != EM__NODE_VARIABLE ||
            !(v->flags & EM__TENSOR_TRAINABLE))
            continue;
        bool listed = false;
        for (int k = 0; k < c->n_variables && !listed; k++)
            listed = c->variables[k] == v;
        em_tensor **p = listed
                            ? NULL
                            : realloc(c->variables,
                                      sizeof *p * (size_t)(c->n_variables + 1));
        if (listed)
            continue;
        if (!p) {
            em__error("trace: out of memory");
            return;
        }
        c->variables = p;
        c->variables[c->n_variables++] = v;
    }
}

/* Where calls of g with inputs on these devices run: the first GPU among
 * the inputs, else among the captured constants and variables, else the
 * host. */
static em_device concrete_device(const em__graph *g, int n,
                                 const em_device *devices)
{
    for (int i = 0; i < n; i++)
        if (devices[i] != EM_CPU)
            return devices[i];
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if ((node->kind == EM__NODE_CONST || node->kind == EM__NODE_VARIABLE) &&
            node->value && em__tensor_device(node->value) != EM_CPU)
            return em__tensor_device(node->value);
    }
    return EM_CPU;
}

/* A concrete function for graph g (traced, or built for new sizes), which
 * it takes: optimised, planned and handed to the JIT, or to the CUDA tier
 * when it runs on a GPU (the executor's host plan is then never made). NULL
 * with an error. */
static em_concrete *concrete_new(em_function *f, em__graph *g, int n,
                                 const em__type *types,
                                 const em_device *devices,
                                 const unsigned char *key, size_t key_size,
                                 double trace_seconds)
{
    /* The first concrete function goes by the function's name, the next
     * ones by NAME.2, NAME.3, ...: their logs and dump files apart. */
    if (f->concretes_made++ > 0) {
        char name[256];
        snprintf(name, sizeof name, "%s.%d", f->name, f->concretes_made);
        char *copy = strdup(name);
        if (copy) {
            free(g->name);
            g->name = copy;
        }
    }
    double start = seconds_now();
    dump_graph(g, "traced");
    char msg[400];
    bool optimized = em__graph_optimize(g);
    double passes_seconds = seconds_now() - start;
    if (!optimized || !em__graph_verify(g, msg, sizeof msg)) {
        em__error("trace: '%s' gave an invalid graph: %s", f->name,
                  em_error_pending() ? "out of memory" : msg);
        em__graph_free(g);
        return NULL;
    }
    dump_graph(g, "optimized");

    em_device device = concrete_device(g, n, devices);
    em_concrete *c = calloc(1, sizeof *c);
    if (c) {
        c->types = calloc((size_t)n + 1, sizeof *c->types);
        c->devices = calloc((size_t)n + 1, sizeof *c->devices);
        c->static_key = malloc(key_size + 1);
    }
    bool made = c && c->types && c->devices && c->static_key;
    em__plan *plan = made && device == EM_CPU ? em__plan_new(g) : NULL;
    if (!made || (device == EM_CPU && !plan)) {
        if (c) {
            free(c->types);
            free(c->devices);
            free(c->static_key);
        }
        free(c);
        em__graph_free(g);
        if (!em_error_pending())
            em__error("trace: out of memory");
        return NULL;
    }
    collect_variables(c, g);
    memcpy(c->types, types, sizeof *types * (size_t)n);
    memcpy(c->devices, devices, sizeof *devices * (size_t)n);
    c->device = device;
    c->tier = device == EM_CPU ? &em__jit_tier : &em__cuda_tier;
    memcpy(c->static_key, key, key_size);
    c->static_key_size = key_size;
    c->n_inputs = n;
    c->graph = g;
    c->trace_seconds = trace_seconds;
    c->passes_seconds = passes_seconds;
    if (f->jit == EM_JIT_OFF)
        c->no_native = "the function's jit option is EM_JIT_OFF";
    else if (!em__config_jit_enabled())
        c->no_native = "EMBER_JIT=0";
    else if (c->tier->unavailable)
        c->no_native = c->tier->unavailable;
    if (c->no_native)
        em__log(EM_LOG_INFO, "jit: '%s' runs in the graph executor: %s",
                g->name, c->no_native);
    else {
        c->native =
            c->tier->compile(g, g->name, f->jit == EM_JIT_SYNC,
                             c->no_native_text, sizeof c->no_native_text);
        c->no_native = c->native ? NULL : c->no_native_text;
    }
    c->plan = plan;
    c->owner = f;
    return c;
}

/* ---- sizes under -1 (see shape_poly.h) -----------------------------------*/

static sized *sized_for(em_function *f, const unsigned char *key,
                        size_t key_size)
{
    for (sized *s = f->sized; s; s = s->next)
        if (s->key_size == key_size && !memcmp(s->key, key, key_size))
            return s;
    return NULL;
}

/* A trace at other sizes (the base types with the symbols at `sizes`), for
 * the fit: NULL with the reason in why. Its error is not the caller's, whose
 * call traced fine: it is cleared. */
static em__graph *trace_other_sizes(em_function *f, int n,
                                    const em__type *base_types, int count,
                                    const int64_t *base, const int64_t *sizes,
                                    char *why, size_t size)
{
    em__type *types = calloc((size_t)n + 1, sizeof *types);
    if (!types) {
        em__error("trace: out of memory");
        return NULL;
    }
    em__shape_poly_types(n, f->signature, base_types, base, count, sizes,
                         types);
    uint64_t errors = errors_so_far();
    em__graph *g = trace_graph(f, n, types);
    free(types);
    if (!g) {
        bool failed = new_error(errors);
        snprintf(why, size, "tracing it at other sizes failed: %s",
                 failed ? em_error_peek() : "the function returned -1");
        if (failed)
            em_error_clear();
    }
    return g;
}

/* The fit for the sizes under the signature's -1 at base (count symbols),
 * from traces at other sizes and checked at two more; NULL with the reason
 * in why. */
static em__shape_poly *fit_from_traces(em_function *f, int n,
                                       const em__type *types, em__graph *g,
                                       int count, const int64_t *base,
                                       char *why, size_t size)
{
    int64_t sizes[EM__MAX_SIZE_SYMBOLS];
    em__graph **graphs = calloc((size_t)count + 1, sizeof *graphs);
    bool ok = graphs && (graphs[0] = em__graph_clone(g));
    for (int j = 0; ok && j < count; j++) {
        memcpy(sizes, base, sizeof *base * (size_t)count);
        sizes[j] = base[j] + 1;
        ok = (graphs[j + 1] = trace_other_sizes(f, n, types, count, base, sizes,
                                                why, size));
    }
    if (!ok) {
        for (int j = 0; graphs && j <= count; j++)
            em__graph_free(graphs[j]);
        free(graphs);
        return NULL;
    }
    em__shape_poly *p =
        em__shape_poly_new(n, f->signature, types, count, base, graphs);
    /* Checked below and above the first sizes (never at 0 or 1, which the
     * fit does not serve). */
    for (int check = 0; p && check < 2; check++) {
        for (int j = 0; j < count; j++)
            sizes[j] = check == 1    ? 2 * base[j] + 3
                       : base[j] > 4 ? base[j] / 2
                                     : base[j] + 2;
        em__graph *traced =
            trace_other_sizes(f, n, types, count, base, sizes, why, size);
        if (!traced || !em__shape_poly_check(p, traced, sizes, why, size)) {
            em__shape_poly_free(p);
            p = NULL;
        }
    }
    return p;
}

/* Fits the sizes under the signature's -1 for key (once per key): traces
 * the function again at other sizes. Returns the graph for the call's own
 * sizes: g, or a new trace when the function made variables again; NULL
 * when out of memory. An error the caller left pending stays pending. */
static em__graph *fit_sizes(em_function *f, int n, const em__type *types,
                            em__graph *g, const unsigned char *key,
                            size_t key_size)
{
    int64_t base[EM__MAX_SIZE_SYMBOLS];
    int count = em__shape_poly_symbols(n, f->signature, types, base);
    sized *s = count != 0 ? calloc(1, sizeof *s) : NULL;
    if (!s)
        return g; /* no -1 in use, or out of memory: trace each size */
    memcpy(s->key, key, key_size);
    s->key_size = key_size;
    s->next = f->sized;
    f->sized = s;

    char why[400] = "more than 8 distinct sizes under -1";
    char *pending = em_error_pending() ? strdup(em_error_peek()) : NULL;
    int lifted = f->n_lifted;
    uint64_t errors = errors_so_far();
    if (count > 0)
        s->poly = fit_from_traces(f, n, types, g, count, base, why, sizeof why);
    if (s->poly && f->n_lifted != lifted) {
        em__shape_poly_free(s->poly);
        s->poly = NULL;
        snprintf(why, sizeof why, "it creates variables at every trace");
    }
    if (new_error(errors)) {
        free(pending);
        em__graph_free(g);
        return NULL; /* out of memory */
    }
    if (pending && !em_error_pending())
        em__error("%s", pending);
    free(pending);
    if (!s->poly)
        em__log(EM_LOG_INFO,
                "function '%s' will be traced again for each new size under "
                "its signature's -1: %s",
                f->name, why);
    if (f->n_lifted != lifted) {
        /* The caller's pointers now name the variables the last trace
         * made: the graph must read those. */
        em__graph_free(g);
        g = trace_graph(f, n, types);
    }
    return g;
}

static em_concrete *trace_concrete(em_function *f, int n, const em__type *types,
                                   const em_device *devices,
                                   const unsigned char *key, size_t key_size)
{
    double start = seconds_now();
    em__graph *g = trace_graph(f, n, types);
    if (g && f->signature && !sized_for(f, key, key_size))
        g = fit_sizes(f, n, types, g, key, key_size);
    double traced = seconds_now();
    f->stats.trace_seconds += traced - start;
    if (!g)
        return NULL;
    return concrete_new(f, g, n, types, devices, key, key_size, traced - start);
}

/* A concrete function for new sizes from the fit, without tracing; NULL
 * (an error pending only when out of memory) when the fit cannot serve. */
static em_concrete *concrete_for_sizes(em_function *f, int n,
                                       const em__type *types,
                                       const em_device *devices,
                                       const unsigned char *key,
                                       size_t key_size)
{
    sized *s = sized_for(f, key, key_size);
    int64_t sizes[EM__MAX_SIZE_SYMBOLS];
    if (!s || !s->poly || !em__shape_poly_match(s->poly, n, types, sizes))
        return NULL;
    char why[400];
    uint64_t errors = errors_so_far();
    em__graph *g = em__shape_poly_graph(s->poly, sizes, why, sizeof why);
    /* A size the fit keeps fixed (a slice's end) may not fit the new input:
     * a trace at the new sizes then says what a trace says. */
    if (g && !em__graph_verify(g, why, sizeof why)) {
        em__graph_free(g);
        g = NULL;
    }
    if (!g) {
        if (!new_error(errors))
            em__log(EM_LOG_INFO, "function '%s' is traced for new sizes: %s",
                    f->name, why);
        return NULL;
    }
    return concrete_new(f, g, n, types, devices, key, key_size, 0);
}

static em_concrete *find_or_trace(em_function *f, int n,
                                  em_tensor *const *inputs)
{
    for (int i = 0; i < n; i++)
        if (!inputs[i]) {
            if (!em_error_pending())
                em__error("%s: input %d is NULL", f->name, i);
            return NULL;
        }
    unsigned char key[MAX_STATIC_KEY];
    size_t key_size = static_key_of(f, key);
    for (em_concrete *c = f->concretes; c; c = c->next)
        if (same_key(c, n, inputs, key, key_size, NULL))
            return c; /* its inputs passed the signature when traced */
    if (!check_signature(f, n, inputs))
        return NULL;

    /* A new size under a -1 of the signature is a specialisation of a known
     * signature, not a retrace worth a warning. */
    bool specialisation = false;
    for (em_concrete *c = f->concretes; c && f->signature; c = c->next)
        specialisation = specialisation ||
                         same_key(c, n, inputs, key, key_size, f->signature);

    em__type *types = malloc(sizeof *types * (size_t)(n + 1));
    em_device *devices = malloc(sizeof *devices * (size_t)(n + 1));
    if (!types || !devices) {
        free(types);
        free(devices);
        em__error("trace: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        types[i] = inputs[i]->type;
        devices[i] = em__tensor_device(inputs[i]);
    }
    uint64_t errors = errors_so_far();
    em_concrete *c = concrete_for_sizes(f, n, types, devices, key, key_size);
    bool traced = !c && !new_error(errors);
    if (traced)
        c = trace_concrete(f, n, types, devices, key, key_size);
    free(types);
    free(devices);
    if (!c)
        return NULL;
    f->stats.traces += traced;
    f->stats.concrete_functions++;
    /* While the fit serves the sizes under -1, a new size is no retrace
     * worth a warning; where the body could not be fitted each costs one. */
    const sized *fitted = sized_for(f, key, key_size);
    bool unfitted = specialisation && fitted && !fitted->poly;
    if (traced && (!specialisation || unfitted) &&
        ++f->distinct_signatures > f->retrace_warning && !f->warned) {
        f->warned = true;
        warn_retracing(f, f->concretes, n, inputs,
                       unfitted ? "its graph does not follow the sizes under "
                                  "the signature's -1 (EMBER_LOG=info says "
                                  "why)"
                                : "give it an input signature with -1 for "
                                  "sizes that vary, or use a static key only "
                                  "for values with few settings");
    }
    c->next = f->concretes;
    f->concretes = c;
    return c;
}

/* ---- the public API
 * ---------------------------------------------------------*/

em_function *em_trace_fn(em_traced_body body, void *user,
                         const em_trace_options *options)
{
    em_trace_options none = {0};
    const em_trace_options *o = options ? options : &none;
    if (!body) {
        em__error("trace_fn: the function is NULL");
        return NULL;
    }
    if (o->n_signature < 0 || (o->n_signature > 0 && !o->signature) ||
        o->static_key_size > MAX_STATIC_KEY ||
        (o->static_key_size > 0 && !o->static_key) || o->retrace_warning < 0 ||
        o->max_outputs < 0 || o->max_outputs > MAX_OUTPUTS) {
        em__error("trace_fn: invalid options (signature count %d, static key "
                  "of %zu bytes, at most %d)",
                  o->n_signature, o->static_key_size, MAX_STATIC_KEY);
        return NULL;
    }
    for (int i = 0; i < o->n_signature; i++) {
        const em_input_spec *s = &o->signature[i];
        if ((unsigned)s->dtype >= EM_DTYPE_COUNT || s->ndim < 0 ||
            s->ndim > EM_MAX_DIMS) {
            em__error("trace_fn: signature entry %d is invalid (dtype %d, "
                      "ndim %d)",
                      i, (int)s->dtype, s->ndim);
            return NULL;
        }
    }
    if ((unsigned)o->jit > EM_JIT_OFF) {
        em__error("trace_fn: jit mode %d is not one of EM_JIT_BACKGROUND, "
                  "EM_JIT_SYNC, EM_JIT_OFF",
                  (int)o->jit);
        return NULL;
    }
    em_function *f = calloc(1, sizeof *f);
    if (!f)
        goto out_of_memory;
    f->body = body;
    f->user = user;
    f->name = strdup(o->name ? o->name : "traced");
    f->n_signature = o->n_signature;
    if (o->n_signature > 0) {
        f->signature = malloc(sizeof *f->signature * (size_t)o->n_signature);
        if (f->signature)
            memcpy(f->signature, o->signature,
                   sizeof *f->signature * (size_t)o->n_signature);
    }
    f->static_key = malloc(o->static_key_size + 1);
    if (!f->name || !f->static_key || (o->n_signature > 0 && !f->signature))
        goto out_of_memory;
    if (o->static_key_size)
        memcpy(f->static_key, o->static_key, o->static_key_size);
    f->static_key_size = o->static_key_size;
    f->static_key_fn = o->static_key_fn;
    f->retrace_warning =
        o->retrace_warning ? o->retrace_warning : DEFAULT_RETRACE_WARNING;
    f->max_outputs = o->max_outputs ? o->max_outputs : DEFAULT_MAX_OUTPUTS;
    f->jit = o->jit;
    return f;

out_of_memory:
    em_function_free(f);
    em__error("trace_fn: out of memory");
    return NULL;
}

void em_function_free(em_function *f)
{
    if (!f)
        return;
    em_concrete *c = f->concretes;
    while (c) {
        em_concrete *next = c->next;
        em_function_free(c->gradient);
        if (c->taped)
            em__multi_grad_release(c->taped);
        if (c->native)
            c->tier->release(c->native);
        free(c->variables);
        em__plan_free(c->plan);
        em__graph_free(c->graph);
        free(c->types);
        free(c->devices);
        free(c->static_key);
        free(c);
        c = next;
    }
    while (f->sized) {
        sized *next = f->sized->next;
        em__shape_poly_free(f->sized->poly);
        free(f->sized);
        f->sized = next;
    }
    for (int i = 0; i < f->n_lifted; i++)
        em__tensor_unref(f->lifted[i]);
    free(f->lifted);
    free(f->signature);
    free(f->static_key);
    free(f->name);
    free(f);
}

/* ---- a traced function on an eager tape ----------------------------------
 * Called while a tape records, a function with one output and no
 * assignments runs its graph and leaves one record on the tape (through
 * em_custom_gradient), whose inputs are the call's inputs followed by the
 * trainable variables the graph reads. Its gradient is a second traced
 * function: the body run under a tape inside a trace, so the backward pass
 * is a graph too. */

/* Runs a whole call of c: native code when it is ready, else the executor.
 * Writes one new tensor per output. */
static bool run_whole(em_concrete *c, em_tensor *const *inputs,
                      em_tensor **outputs)
{
    if (c->native) {
        int ran = c->tier->run(c->native, inputs, outputs);
        if (ran != 0)
            return ran > 0;
    }
    return em__plan_run(c->plan, inputs, 0, NULL, NULL, -1, NULL, outputs) == 0;
}

static bool taped_call_possible(const em_concrete *c)
{
    for (int i = 0; i < c->graph->len; i++)
        if (em__node_has_effect(&c->graph->nodes[i]))
            return false;
    return c->graph->n_outputs > 0;
}

/* Inputs: the call's inputs, then one gradient per output (zeros where
 * none arrived). Outputs: the gradients of the inputs, then of the
 * concrete function's variables. The gradient of all outputs at once is
 * that of sum_k sum(output_k * gradient_k), a scalar: one sweep of the
 * tape. */
static int gradient_body(int n, em_tensor *const *in, int max, em_tensor **out,
                         void *user)
{
    em_concrete *c = user;
    em_function *f = c->owner;
    int n_out = c->graph->n_outputs, n_in = n - n_out;
    int n_src = n_in + c->n_variables;
    em_tensor **sources = calloc((size_t)n_src + 1, sizeof *sources);
    em_tensor **results = calloc((size_t)f->max_outputs, sizeof *results);
    int rc = -1;
    if (!sources || !results || n_src > max) {
        em__error("%s: cannot build its gradient (%d values)", f->name, n_src);
        goto done;
    }
    em_tape *tape = em_tape_begin(false);
    for (int i = 0; i < n_in; i++) {
        sources[i] = in[i];
        if (em_dtype_is_float(in[i]->type.dtype))
            em_tape_watch(tape, in[i]);
    }
    for (int i = 0; i < c->n_variables; i++)
        sources[n_in + i] = c->variables[i];
    int k = f->body(n_in, in, f->max_outputs, results, f->user);
    em_tensor *total = NULL;
    for (int j = 0; k == n_out && j < n_out; j++) {
        if (!results[j] || !em_dtype_is_float(results[j]->type.dtype))
            continue;
        em_tensor *term =
            em_sum(em_mul(results[j], in[n_in + j]), 0, NULL, false);
        total = total ? em_add(total, term) : term;
    }
    em_gradient_options options = {.unconnected_zeros = true};
    if (k == n_out && total &&
        em_tape_gradient_ex(tape, total, n_src, sources, out, &options) == 0)
        rc = n_src;
    if (k == n_out && !total)
        em__error("%s: no float output to differentiate", f->name);
    em_tape_free(tape);
done:
    free(sources);
    free(results);
    return rc;
}

/* The tape's record of a traced call: its gradient is c->gradient, a
 * traced function of the call's inputs and its outputs' gradients. */
typedef struct taped_gradient {
    em__multi_grad base;
    em_concrete *c;
} taped_gradient;

static int taped_backward(em__multi_grad *self, int n, em_tensor *const *in,
                          int n_out, em_tensor *const *outputs,
                          em_tensor *const *output_grads, em_tensor **grads)
{
    em_concrete *c = ((taped_gradient *)self)->c;
    if (!c->gradient) {
        char name[300];
        snprintf(name, sizeof name, "%s.gradient", c->owner->name);
        em_trace_options options = {
            .name = name, .max_outputs = n, .jit = c->owner->jit};
        c->gradient = em_trace_fn(gradient_body, c, &options);
        if (!c->gradient)
            return -1;
    }
    int n_in = c->n_inputs;
    em_tensor **args = calloc((size_t)(n_in + n_out) + 1, sizeof *args);
    if (!args)
        return -1;
    memcpy(args, in, sizeof *args * (size_t)n_in);
    for (int k = 0; k < n_out; k++)
        args[n_in + k] =
            output_grads[k] ? output_grads[k] : em_zeros_like(outputs[k]);
    int got = em_function_call(c->gradient, n_in + n_out, args, n, grads);
    free(args);
    for (int i = 0; got == n && i < n_in; i++)
        if (!em_dtype_is_float(in[i]->type.dtype)) {
            em_tensor_free(grads[i]);
            grads[i] = NULL;
        }
    return got == n ? 0 : -1;
}

static void taped_gradient_destroy(em__multi_grad *self)
{
    free(self);
}

/* Runs c as one record on the recording tapes: its inputs are the call's
 * inputs followed by the trainable variables the graph reads. */
static int taped_call(em_concrete *c, em_tensor *const *inputs,
                      em_tensor **outputs)
{
    if (!c->taped) {
        taped_gradient *g = calloc(1, sizeof *g);
        if (!g) {
            em__error("trace: out of memory");
            return -1;
        }
        *g = (taped_gradient){{1, taped_backward, taped_gradient_destroy}, c};
        c->taped = &g->base;
    }
    int n = c->n_inputs + c->n_variables;
    em_tensor **all = calloc((size_t)n + 1, sizeof *all);
    if (!all) {
        em__error("trace: out of memory");
        return -1;
    }
    memcpy(all, inputs, sizeof *all * (size_t)c->n_inputs);
    if (c->n_variables > 0)
        memcpy(all + c->n_inputs, c->variables,
               sizeof *all * (size_t)c->n_variables);
    int n_out = c->graph->n_outputs;
    bool ok = run_whole(c, inputs, outputs);
    if (ok)
        em__tape_record_multi(c->taped, n, all, n_out, outputs);
    free(all);
    return ok ? n_out : -1;
}

int em_function_call(em_function *f, int n_inputs, em_tensor *const *inputs,
                     int max_outputs, em_tensor **outputs)
{
    for (int i = 0; outputs && i < max_outputs; i++)
        outputs[i] = NULL;
    if (!f || n_inputs < 0 || (n_inputs > 0 && !inputs) || max_outputs < 0 ||
        (max_outputs > 0 && !outputs)) {
        em__error("%s: needs arrays for %d inputs and %d outputs",
                  f ? f->name : "function_call", n_inputs, max_outputs);
        return -1;
    }
    f->stats.calls++;

    /* Inside another trace the body's ops join the outer graph. */
    if (current)
        return f->body(n_inputs, inputs, max_outputs, outputs, f->user);

    em_concrete *c = find_or_trace(f, n_inputs, inputs);
    if (!c)
        return -1;
    int n_out = c->graph->n_outputs;
    if (n_out > max_outputs) {
        em__error("%s: returns %d outputs, room for %d given", f->name, n_out,
                  max_outputs);
        return -1;
    }
    /* On a GPU the CUDA tier runs whole calls. A graph it declines (control
     * flow, values on two devices), a call under a recording tape (which
     * needs each op's record) or EM_JIT_OFF runs the body op by op, each
     * op on the GPU. */
    if (c->device != EM_CPU) {
        if (c->native && !em_tape_is_recording()) {
            int ran = c->tier->run(c->native, inputs, outputs);
            if (ran != 0)
                return ran > 0 ? n_out : -1;
        }
        return f->body(n_inputs, inputs, max_outputs, outputs, f->user);
    }
    if (em_tape_is_recording()) {
        if (taped_call_possible(c))
            return taped_call(c, inputs, outputs);
        /* A gradient graph would run the body's assignments again: the
         * tape records such a body op by op instead. */
        return f->body(n_inputs, inputs, max_outputs, outputs, f->user);
    }
    return run_whole(c, inputs, outputs) ? n_out : -1;
}

em_function_stats em_function_get_stats(const em_function *f)
{
    em_function_stats none = {0};
    return f ? f->stats : none;
}

em_concrete *em_function_concrete(em_function *f, int n_inputs,
                                  em_tensor *const *inputs)
{
    if (!f || n_inputs < 0 || (n_inputs > 0 && !inputs)) {
        em__error("function_concrete: needs a function and its inputs");
        return NULL;
    }
    if (current) {
        em__error("function_concrete: not available while tracing");
        return NULL;
    }
    return find_or_trace(f, n_inputs, inputs);
}

int em_concrete_format(const em_concrete *c, char *buf, size_t size)
{
    if (!c) {
        if (size)
            snprintf(buf, size, "NULL");
        return 4;
    }
    return em__graph_format(c->graph, buf, size);
}

int em_concrete_format_dot(const em_concrete *c, char *buf, size_t size)
{
    if (!c) {
        if (size)
            snprintf(buf, size, "NULL");
        return 4;
    }
    return em__graph_format_dot(c->graph, buf, size);
}

int em_concrete_node_count(const em_concrete *c)
{
    return c ? em__graph_live_nodes_deep(c->graph) : -1;
}

int64_t em_concrete_last_run_nodes(const em_concrete *c)
{
    if (!c)
        return -1;
    return c->plan ? em__plan_last_run_nodes(c->plan) : 0;
}

/* Node id for "out:N" or a node name; -1 with an error. */
static int resolve(const em__graph *g, const char *name)
{
    if (!name) {
        em__error("concrete_run: a value name is NULL");
        return -1;
    }
    if (strncmp(name, "out:", 4) == 0) {
        char *end;
        long k = strtol(name + 4, &end, 10);
        if (*end == '\0' && end != name + 4 && k >= 0 && k < g->n_outputs)
            return g->outputs[k];
    }
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0)
            return i;
    em__error("concrete_run: '%s' has no value named '%s' (outputs are "
              "out:0 .. out:%d; names come from em_trace_name, and passes "
              "may have removed unused ones)",
              g->name, name, g->n_outputs - 1);
    return -1;
}

int em_concrete_run(em_concrete *c, int n_inputs, em_tensor *const *inputs,
                    int n_feed, const char *const *feed_names,
                    em_tensor *const *feeds, int n_fetch,
                    const char *const *fetch_names, em_tensor **fetched)
{
    for (int i = 0; fetched && i < n_fetch; i++)
        fetched[i] = NULL;
    if (!c || n_inputs != c->n_inputs || (n_inputs > 0 && !inputs) ||
        n_feed < 0 || (n_feed > 0 && (!feed_names || !feeds)) || n_fetch < 1 ||
        !fetch_names || !fetched) {
        em__error("concrete_run: needs the concrete function, its %d inputs, "
                  "and at least one value to fetch",
                  c ? c->n_inputs : 0);
        return -1;
    }
    if (!c->plan) {
        char name[32];
        em__error("concrete_run: '%s' runs on %s; partial runs take host "
                  "tensors (its inputs and captured values on the CPU)",
                  c->graph->name, em_device_name(c->device, name, sizeof name));
        return -1;
    }
    int *ids = malloc(sizeof(int) * (size_t)(n_feed + n_fetch));
    if (!ids) {
        em__error("concrete_run: out of memory");
        return -1;
    }
    bool ok = true;
    for (int i = 0; i < n_feed && ok; i++) {
        ok = (ids[i] = resolve(c->graph, feed_names[i])) >= 0;
        for (int j = 0; j < i && ok; j++)
            if (ids[j] == ids[i]) {
                em__error("concrete_run: '%s' is fed twice", feed_names[i]);
                ok = false;
            }
    }
    for (int i = 0; i < n_fetch && ok; i++)
        ok = (ids[n_feed + i] = resolve(c->graph, fetch_names[i])) >= 0;
    int rc = ok ? em__plan_run(c->plan, inputs, n_feed, ids, feeds, n_fetch,
                               ids + n_feed, fetched)
                : -1;
    free(ids);
    return rc;
}

const em__graph *em__concrete_graph(const em_concrete *c, int *n_inputs,
                                    const em__type **input_types)
{
    *n_inputs = c->n_inputs;
    *input_types = c->types;
    return c->graph;
}

/* ---- native code ----------------------------------------------------------*/

bool em_jit_available(void)
{
    return em__jit_tier.unavailable == NULL && em__config_jit_enabled();
}

em_tier em_concrete_wait_compiled(em_concrete *c)
{
    if (!c || !c->native)
        return EM_TIER_EXECUTOR;
    return c->tier->wait(c->native);
}

em_compile_stats em_concrete_compile_stats(const em_concrete *c)
{
    em_compile_stats stats = {0};
    if (!c)
        return stats;
    stats.tier = EM_TIER_EXECUTOR;
    stats.reason = c->no_native ? c->no_native : "";
    if (c->native)
        c->tier->stats(c->native, &stats);
    stats.trace_seconds = c->trace_seconds;
    stats.passes_seconds = c->passes_seconds;
    return stats;
}
