/*
 * trace/shape_poly.c - fitting the graphs traced at a few sizes into one
 * graph for any size (see shape_poly.h).
 *
 * A fit is kept as the graphs themselves: the base and one per symbol.
 * Building the graph for new sizes walks them in step, node by node: what
 * must not move (kinds, ops, edges, dtypes, axes) is compared, a size is
 * base + sum_j (probe_j - base) * (size_j - base_j), and a constant is
 * rebuilt from its form.
 */
#include "shape_poly.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct em__shape_poly {
    int n_inputs;
    em_input_spec *signature;
    em__type *types; /* the inputs at the first call */
    int count;
    int64_t base[EM__MAX_SIZE_SYMBOLS];
    em__graph **graphs; /* count + 1: the base, then one per symbol */
};

/* ---- size symbols ---------------------------------------------------------*/

int em__shape_poly_symbols(int n, const em_input_spec *signature,
                           const em__type *types, int64_t *sizes)
{
    int count = 0;
    for (int i = 0; signature && i < n; i++)
        for (int d = 0; d < signature[i].ndim && d < types[i].ndim; d++) {
            if (signature[i].shape[d] >= 0)
                continue;
            int64_t s = types[i].shape[d];
            int j = 0;
            while (j < count && sizes[j] != s)
                j++;
            if (j < count)
                continue;
            if (count == EM__MAX_SIZE_SYMBOLS)
                return -1;
            sizes[count++] = s;
        }
    return count;
}

/* The symbol of dimension d of input i (by its size in base), or -1 when
 * the signature fixes it. */
static int symbol_of(const em_input_spec *signature, const em__type *base,
                     const int64_t *base_sizes, int count, int i, int d)
{
    if (signature[i].shape[d] >= 0)
        return -1;
    for (int j = 0; j < count; j++)
        if (base_sizes[j] == base[i].shape[d])
            return j;
    return -1;
}

void em__shape_poly_types(int n, const em_input_spec *signature,
                          const em__type *base, const int64_t *base_sizes,
                          int count, const int64_t *sizes, em__type *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = base[i];
        for (int d = 0; d < base[i].ndim; d++) {
            int j = symbol_of(signature, base, base_sizes, count, i, d);
            if (j >= 0)
                out[i].shape[d] = sizes[j];
        }
    }
}

bool em__shape_poly_match(const em__shape_poly *p, int n, const em__type *types,
                          int64_t *sizes)
{
    if (n != p->n_inputs)
        return false;
    bool seen[EM__MAX_SIZE_SYMBOLS] = {false};
    for (int i = 0; i < n; i++) {
        const em__type *t = &types[i], *b = &p->types[i];
        if (t->dtype != b->dtype || t->ndim != b->ndim)
            return false;
        for (int d = 0; d < t->ndim; d++) {
            int j = symbol_of(p->signature, p->types, p->base, p->count, i, d);
            if (j < 0) {
                if (t->shape[d] != b->shape[d])
                    return false;
            } else if (!seen[j]) {
                seen[j] = true;
                sizes[j] = t->shape[d];
            } else if (sizes[j] != t->shape[d]) {
                return false;
            }
        }
    }
    /* Sizes 0 and 1 can change what ops do (an empty mean, squeezing or
     * broadcasting a 1) where the traces at other sizes cannot show it:
     * they get their own trace, unless the fit was traced at them. */
    for (int j = 0; j < p->count; j++)
        if (sizes[j] <= 1 && sizes[j] != p->base[j])
            return false;
    return true;
}

/* ---- building a graph from the fit ----------------------------------------*/

/* The graphs walked in step: g[0] the base, g[1 + j] symbol j's probe;
 * delta[j] how far the wanted size of symbol j is from its base. */
typedef struct fit {
    const em__graph *const *g;
    int k;
    const int64_t *delta;
    char *why;
    size_t size;
} fit;

static bool fail(const fit *f, const char *fmt, int node, const char *what)
{
    snprintf(f->why, f->size, fmt, node, what);
    return false;
}

/* v[0] + sum_j (v[1 + j] - v[0]) * delta[j] into *out; false when that
 * overflows. */
static bool linear(const fit *f, const int64_t *v, int64_t *out)
{
    int64_t r = v[0];
    for (int j = 0; j < f->k; j++) {
        int64_t slope, step;
        if (__builtin_sub_overflow(v[j + 1], v[0], &slope) ||
            __builtin_mul_overflow(slope, f->delta[j], &step) ||
            __builtin_add_overflow(r, step, &r))
            return false;
    }
    *out = r;
    return true;
}

/* n int64 fields at byte `offset` of each graph's node, fitted; false when
 * one overflows. */
static bool fit_fields(const fit *f, const em__node *const *nd, size_t offset,
                       int n, int64_t *out)
{
    for (int e = 0; e < n; e++) {
        int64_t v[EM__MAX_SIZE_SYMBOLS + 1] = {0};
        for (int j = 0; j <= f->k; j++)
            v[j] = ((const int64_t *)((const char *)nd[j] + offset))[e];
        if (!linear(f, v, &out[e]))
            return false;
    }
    return true;
}

static bool same_memory(const void *a, const void *b, size_t bytes)
{
    return bytes == 0 || memcmp(a, b, bytes) == 0;
}

static bool same_name(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Is everything but the sizes the same in node b as in node a? */
static bool same_structure(const em__node *a, const em__node *b)
{
    const em__attrs *x = &a->attrs, *y = &b->attrs;
    return a->kind == b->kind && a->op == b->op && a->n_in == b->n_in &&
           same_memory(a->inputs, b->inputs, sizeof(int) * (size_t)a->n_in) &&
           a->index == b->index && a->n_regions == b->n_regions &&
           same_name(a->name, b->name) && a->type.dtype == b->type.dtype &&
           a->type.ndim == b->type.ndim && x->ndim == y->ndim &&
           x->naxes == y->naxes &&
           same_memory(x->axes, y->axes, sizeof x->axes) &&
           x->axis == y->axis && x->keepdims == y->keepdims &&
           x->transpose_a == y->transpose_a &&
           x->transpose_b == y->transpose_b && x->dtype == y->dtype &&
           (x->alpha == y->alpha || (isnan(x->alpha) && isnan(y->alpha)));
}

static bool same_bytes(const em_tensor *a, const em_tensor *b)
{
    return a->type.dtype == b->type.dtype &&
           em__type_equal_shape(&a->type, &b->type) &&
           !memcmp(a->data, b->data,
                   (size_t)a->size * em_dtype_size(a->type.dtype));
}

/* Whether every element of t equals its first (bitwise). */
static bool uniform(const em_tensor *t)
{
    size_t es = em_dtype_size(t->type.dtype);
    const char *p = t->data;
    for (int64_t i = 1; i < t->size; i++)
        if (memcmp(p, p + (size_t)i * es, es) != 0)
            return false;
    return true;
}

/* x when it is an integer that fits, exactly, in *out. */
static bool integral(double x, int64_t *out)
{
    if (!(fabs(x) < 9007199254740992.0) || x != nearbyint(x))
        return false;
    *out = (int64_t)x;
    return true;
}

/* The value x[0..k] (one per graph, of dtype dt) fitted: the same in
 * every graph, or n or 1/n with n an integer linear in the symbols. NaN
 * when it is none of those. */
static double fit_number(const fit *f, const double *x, em_dtype dt)
{
    bool same = true;
    for (int j = 1; j <= f->k; j++)
        same = same && x[j] == x[0];
    if (same)
        return x[0];
    int64_t n[EM__MAX_SIZE_SYMBOLS + 1] = {0};
    for (int form = 0; form < 2; form++) {
        bool ok = true;
        for (int j = 0; j <= f->k && ok; j++) {
            if (form == 0) {
                ok = integral(x[j], &n[j]);
                continue;
            }
            /* 1/n as the dtype holds it, so float32 1/3 counts too. */
            double stored;
            ok = x[j] != 0 && integral(nearbyint(1.0 / x[j]), &n[j]) &&
                 n[j] != 0;
            em__store_f64(&stored, dt, 0, 1.0 / (double)(ok ? n[j] : 1));
            ok = ok && em__load_f64(&stored, dt, 0) == x[j];
        }
        int64_t r;
        if (!ok || !linear(f, n, &r))
            continue;
        if (form == 1 && r == 0)
            return NAN; /* 1/0: not a size's reciprocal any more */
        return form == 0 ? (double)r : 1.0 / (double)r;
    }
    return NAN;
}

/* The value of const node i for the wanted sizes, typed `type`: a new
 * reference, or NULL with the reason in f->why. Constants the graphs
 * share, or that hold the same bytes, stay; one filled with one value
 * (one element, or a shape that follows the symbols) gets the value
 * fitted. */
static em_tensor *fit_value(const fit *f, const em__node *const *nd, int i,
                            const em__type *type)
{
    em_tensor *v0 = nd[0]->value;
    bool same = true, host = true, equal = true, filled = true;
    for (int j = 0; j <= f->k; j++) {
        em_tensor *v = nd[j]->value;
        same = same && v == v0;
        host = host && em__tensor_device(v) == EM_CPU && v->data;
    }
    if (same)
        return em__tensor_ref(v0);
    if (!host) {
        fail(f, "constant %%%d %s differs between sizes", i, "(on a device)");
        return NULL;
    }
    for (int j = 1; j <= f->k; j++)
        equal = equal && same_bytes(v0, nd[j]->value);
    if (equal)
        return em__tensor_ref(v0);

    em_dtype dt = v0->type.dtype;
    double x[EM__MAX_SIZE_SYMBOLS + 1] = {0};
    for (int j = 0; j <= f->k; j++) {
        em_tensor *v = nd[j]->value;
        filled = filled && v->type.dtype == dt && v->size > 0 && uniform(v);
        x[j] = filled ? em__load_f64(v->data, dt, 0) : 0;
    }
    double value = filled ? fit_number(f, x, dt) : NAN;
    if (isnan(value)) {
        fail(f, "constant %%%d %s", i,
             "changes with the sizes other than as a size or 1/size (made "
             "inside the function from its inputs' shape?)");
        return NULL;
    }
    em_tensor *out = em__tensor_new(type);
    if (!out)
        return NULL;
    for (int64_t e = 0; e < out->size; e++)
        em__store_f64(out->data, dt, e, value);
    /* The graph's node keeps the reference; the scope's goes. */
    em__tensor_ref(out);
    em_tensor_free(out);
    return out;
}

static em__graph *build(const fit *f);

/* Node i of the graphs, fitted, appended to out. */
static bool build_node(const fit *f, em__graph *out, int i)
{
    const em__node *nd[EM__MAX_SIZE_SYMBOLS + 1] = {&f->g[0]->nodes[i]};
    for (int j = 1; j <= f->k; j++)
        nd[j] = &f->g[j]->nodes[i];
    for (int j = 1; j <= f->k; j++)
        if (!same_structure(nd[0], nd[j]))
            return fail(f, "node %%%d %s", i,
                        "differs between sizes in more than its sizes (C code "
                        "in the function that depends on a size?)");

    em__type type = nd[0]->type;
    em__attrs attrs = nd[0]->attrs;
    if (!fit_fields(f, nd, offsetof(em__node, type.shape), type.ndim,
                    type.shape) ||
        !fit_fields(f, nd, offsetof(em__node, attrs.shape), EM_MAX_DIMS,
                    attrs.shape) ||
        !fit_fields(f, nd, offsetof(em__node, attrs.start), EM_MAX_DIMS,
                    attrs.start) ||
        !fit_fields(f, nd, offsetof(em__node, attrs.step), EM_MAX_DIMS,
                    attrs.step) ||
        !fit_fields(f, nd, offsetof(em__node, attrs.depth), 1, &attrs.depth))
        return fail(f, "node %%%d %s", i, "would have a size that overflows");
    for (int d = 0; d < type.ndim; d++)
        if (type.shape[d] < 0)
            return fail(f, "node %%%d %s", i, "would have a negative size");
    if (!em__type_fits(&type))
        return fail(f, "node %%%d %s", i, "would have too many elements");

    em_tensor *value = NULL;
    if (nd[0]->kind == EM__NODE_VARIABLE) {
        for (int j = 1; j <= f->k; j++)
            if (nd[j]->value != nd[0]->value)
                return fail(f, "node %%%d %s", i,
                            "reads a different variable at another size");
        value = em__tensor_ref(nd[0]->value);
    } else if (nd[0]->kind == EM__NODE_CONST) {
        value = fit_value(f, nd, i, &type);
        if (!value)
            return false;
    }
    int id = em__graph_add(out, nd[0]->kind, nd[0]->op, nd[0]->inputs,
                           nd[0]->n_in, &attrs, &type, value);
    if (value)
        em__tensor_unref(value);
    if (id < 0)
        return false;
    em__node *node = &out->nodes[id];
    node->index = nd[0]->index;
    if (nd[0]->name && !(node->name = strdup(nd[0]->name))) {
        em__error("trace: out of memory");
        return false;
    }
    if (nd[0]->n_regions == 0)
        return true;
    node->regions = calloc((size_t)nd[0]->n_regions, sizeof *node->regions);
    if (!node->regions) {
        em__error("trace: out of memory");
        return false;
    }
    node->n_regions = nd[0]->n_regions;
    for (int r = 0; r < nd[0]->n_regions; r++) {
        const em__graph *inner[EM__MAX_SIZE_SYMBOLS + 1] = {nd[0]->regions[r]};
        for (int j = 1; j <= f->k; j++)
            inner[j] = nd[j]->regions[r];
        fit sub = *f;
        sub.g = inner;
        if (!(node->regions[r] = build(&sub)))
            return false;
    }
    return true;
}

static em__graph *build(const fit *f)
{
    const em__graph *g0 = f->g[0];
    for (int j = 1; j <= f->k; j++) {
        const em__graph *g = f->g[j];
        if (g->len != g0->len || g->n_inputs != g0->n_inputs ||
            g->n_outputs != g0->n_outputs ||
            !same_memory(g->outputs, g0->outputs,
                         sizeof(int) * (size_t)g0->n_outputs)) {
            snprintf(f->why, f->size,
                     "the graph differs between sizes (%d nodes, then %d: C "
                     "code in the function that depends on a size?)",
                     g0->len, g->len);
            return NULL;
        }
    }
    em__graph *out = em__graph_new(g0->name);
    if (out && g0->n_outputs > 0) {
        out->outputs = calloc((size_t)g0->n_outputs + 1, sizeof(int));
        if (out->outputs)
            memcpy(out->outputs, g0->outputs,
                   sizeof(int) * (size_t)g0->n_outputs);
    }
    if (!out || (g0->n_outputs > 0 && !out->outputs)) {
        em__graph_free(out);
        em__error("trace: out of memory");
        return NULL;
    }
    out->n_outputs = g0->n_outputs;
    out->n_inputs = g0->n_inputs;
    for (int i = 0; i < g0->len; i++)
        if (!build_node(f, out, i)) {
            em__graph_free(out);
            return NULL;
        }
    return out;
}

em__graph *em__graph_clone(const em__graph *g)
{
    char why[8];
    fit f = {.g = &g, .k = 0, .why = why, .size = sizeof why};
    return build(&f);
}

/* ---- comparing ------------------------------------------------------------*/

/* Are a and b the same graph, sizes and constants' values included? */
static bool same_graph(const em__graph *a, const em__graph *b, int *node)
{
    *node = -1;
    if (a->len != b->len || a->n_outputs != b->n_outputs ||
        a->n_inputs != b->n_inputs ||
        !same_memory(a->outputs, b->outputs,
                     sizeof(int) * (size_t)a->n_outputs))
        return false;
    for (int i = 0; i < a->len; i++) {
        const em__node *x = &a->nodes[i], *y = &b->nodes[i];
        *node = i;
        if (!same_structure(x, y) ||
            !em__type_equal_shape(&x->type, &y->type) ||
            !same_memory(x->attrs.shape, y->attrs.shape,
                         sizeof x->attrs.shape) ||
            !same_memory(x->attrs.start, y->attrs.start,
                         sizeof x->attrs.start) ||
            !same_memory(x->attrs.step, y->attrs.step, sizeof x->attrs.step) ||
            x->attrs.depth != y->attrs.depth)
            return false;
        if (x->value != y->value &&
            (!x->value || !y->value || em__tensor_device(x->value) != EM_CPU ||
             em__tensor_device(y->value) != EM_CPU ||
             !same_bytes(x->value, y->value)))
            return false;
        for (int r = 0; r < x->n_regions; r++) {
            int inner;
            if (!same_graph(x->regions[r], y->regions[r], &inner))
                return false;
        }
    }
    return true;
}

/* ---- the fit --------------------------------------------------------------*/

void em__shape_poly_free(em__shape_poly *p)
{
    if (!p)
        return;
    for (int j = 0; p->graphs && j <= p->count; j++)
        em__graph_free(p->graphs[j]);
    free(p->graphs);
    free(p->signature);
    free(p->types);
    free(p);
}

em__graph *em__shape_poly_graph(const em__shape_poly *p, const int64_t *sizes,
                                char *why, size_t size)
{
    int64_t delta[EM__MAX_SIZE_SYMBOLS];
    for (int j = 0; j < p->count; j++)
        delta[j] = sizes[j] - p->base[j];
    fit f = {.g = (const em__graph *const *)p->graphs,
             .k = p->count,
             .delta = delta,
             .why = why,
             .size = size};
    return build(&f);
}

em__shape_poly *em__shape_poly_new(int n, const em_input_spec *signature,
                                   const em__type *base_types, int count,
                                   const int64_t *base_sizes,
                                   em__graph **graphs)
{
    em__shape_poly *p = calloc(1, sizeof *p);
    if (!p) {
        for (int j = 0; j <= count; j++)
            em__graph_free(graphs[j]);
        free(graphs);
        em__error("trace: out of memory");
        return NULL;
    }
    p->graphs = graphs;
    p->count = count;
    p->n_inputs = n;
    p->signature = calloc((size_t)n + 1, sizeof *p->signature);
    p->types = calloc((size_t)n + 1, sizeof *p->types);
    if (!p->signature || !p->types) {
        em__shape_poly_free(p);
        em__error("trace: out of memory");
        return NULL;
    }
    memcpy(p->signature, signature, sizeof *p->signature * (size_t)n);
    memcpy(p->types, base_types, sizeof *p->types * (size_t)n);
    memcpy(p->base, base_sizes, sizeof *base_sizes * (size_t)count);
    return p;
}

bool em__shape_poly_check(const em__shape_poly *p, em__graph *traced,
                          const int64_t *sizes, char *why, size_t size)
{
    char inner[300] = "";
    em__graph *predicted = em__shape_poly_graph(p, sizes, inner, sizeof inner);
    int node = -1;
    bool ok = predicted && same_graph(predicted, traced, &node);
    if (predicted && !ok)
        snprintf(inner, sizeof inner, "node %%%d differs", node);
    if (!ok)
        snprintf(why, size,
                 "a trace at other sizes does not fit the first ones (%s: a "
                 "size that is not linear in the inputs' sizes?)",
                 inner);
    em__graph_free(predicted);
    em__graph_free(traced);
    return ok;
}
