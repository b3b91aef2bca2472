/*
 * trace/graph_file.c - em_concrete_save, and running and inspecting a
 * loaded graph. The format is described in ember/graph_file.h; the reader
 * is graph_file_load.c.
 *
 * Saving builds each section's payload in memory, then writes the header
 * and the sections to a temporary file that is synced and renamed over the
 * destination, as checkpoints are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ember/graph_file.h"
#include "graph_file_io.h"
#include "trace_internal.h"

const char em__gf_magic[8] = {'E', 'M', 'B', 'E', 'R', 'G', 'R', 'F'};
const char em__gf_tags[EM__GF_SECTIONS][4] = {
    {'M', 'E', 'T', 'A'}, {'I', 'N', 'P', 'T'}, {'N', 'O', 'D', 'E'},
    {'O', 'U', 'T', 'P'}, {'V', 'A', 'R', 'S'}, {'C', 'N', 'S', 'T'}};

uint32_t em__gf_crc(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        uInt piece = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, piece);
        p += piece;
        len -= piece;
    }
    return crc;
}

/* ---- section payloads -----------------------------------------------------*/

typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} bytes;

static void put(bytes *b, const void *data, size_t len)
{
    if (b->oom || len == 0)
        return;
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len && cap < SIZE_MAX / 2)
            cap *= 2;
        unsigned char *p = cap - b->len >= len ? realloc(b->p, cap) : NULL;
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
}

static void put_u8(bytes *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}

static void put_u32(bytes *b, uint32_t v)
{
    unsigned char p[4];
    em__gf_put_u32(p, v);
    put(b, p, 4);
}

static void put_u64(bytes *b, uint64_t v)
{
    unsigned char p[8];
    em__gf_put_u64(p, v);
    put(b, p, 8);
}

static void put_string(bytes *b, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)len);
    put(b, s, len);
}

static void put_type(bytes *b, const em__type *t)
{
    put_u8(b, (unsigned)t->dtype);
    put_u8(b, (unsigned)t->ndim);
    for (int d = 0; d < t->ndim; d++)
        put_u64(b, (uint64_t)t->shape[d]);
}

static void put_value(bytes *b, const em_tensor *t)
{
    put_type(b, &t->type);
    size_t nbytes = (size_t)t->size * em_dtype_size(t->type.dtype);
    put_u64(b, nbytes);
    put(b, t->data, nbytes);
}

static void put_attrs(bytes *b, const em__attrs *a)
{
    put_u8(b, (unsigned)a->ndim);
    for (int i = 0; i < EM_MAX_DIMS; i++)
        put_u64(b, (uint64_t)a->shape[i]);
    put_u8(b, (unsigned)a->naxes);
    for (int i = 0; i < EM_MAX_DIMS; i++)
        put_u32(b, (uint32_t)a->axes[i]);
    put_u32(b, (uint32_t)a->axis);
    put_u8(b, (a->keepdims ? EM__GF_KEEPDIMS : 0) |
                  (a->transpose_a ? EM__GF_TRANSPOSE_A : 0) |
                  (a->transpose_b ? EM__GF_TRANSPOSE_B : 0));
    uint64_t alpha;
    memcpy(&alpha, &a->alpha, 8);
    put_u64(b, alpha);
    put_u8(b, (unsigned)a->dtype);
    put_u64(b, (uint64_t)a->depth);
    for (int i = 0; i < EM_MAX_DIMS; i++)
        put_u64(b, (uint64_t)a->start[i]);
    for (int i = 0; i < EM_MAX_DIMS; i++)
        put_u64(b, (uint64_t)a->step[i]);
}

/* Index of t in list[0..n), appending it when absent; -1 when out of
 * memory. */
static int index_of(em_tensor ***list, int *n, em_tensor *t)
{
    for (int i = 0; i < *n; i++)
        if ((*list)[i] == t)
            return i;
    em_tensor **p = realloc(*list, sizeof *p * (size_t)(*n + 1));
    if (!p)
        return -1;
    *list = p;
    p[*n] = t;
    return (*n)++;
}

static bool string_fits(const char *path, const char *what, const char *s)
{
    if (!s || strlen(s) <= EM__GF_MAX_STRING)
        return true;
    em__error("concrete_save '%s': %s is %zu bytes long (at most %d)", path,
              what, strlen(s), EM__GF_MAX_STRING);
    return false;
}

/* The constants and variables the file lists, in order of first use. */
typedef struct captures {
    em_tensor **vars, **consts;
    int n_vars, n_consts;
} captures;

/* Writes g's nodes (and, recursively, its regions') into b. */
static bool put_nodes(const char *path, const em__graph *g, bytes *b,
                      captures *c)
{
    bool ok = true;
    for (int i = 0; ok && i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        ok = !node->dead && string_fits(path, "a node name", node->name);
        if (ok &&
            (node->kind == EM__NODE_CONST || node->kind == EM__NODE_VARIABLE) &&
            (!node->value ||
             !em__tensor_readable(node->value, "concrete_save"))) {
            if (!node->value)
                em__error("concrete_save '%s': node %%%d has no value", path,
                          i);
            ok = false;
        }
        if (!ok)
            break;
        put_u8(b, (unsigned)node->kind);
        put_string(b, node->name);
        put_type(b, &node->type);
        int k = 0;
        switch (node->kind) {
        case EM__NODE_INPUT:
            put_u32(b, (uint32_t)node->index);
            break;
        case EM__NODE_CONST:
            k = index_of(&c->consts, &c->n_consts, node->value);
            put_u32(b, (uint32_t)k);
            break;
        case EM__NODE_VARIABLE:
            ok = string_fits(path, "a variable name", node->value->name);
            k = index_of(&c->vars, &c->n_vars, node->value);
            put_u32(b, (uint32_t)k);
            break;
        case EM__NODE_OP:
            put_string(b, em__op_table[node->op].name);
            put_u32(b, (uint32_t)node->n_in);
            for (int j = 0; j < node->n_in; j++)
                put_u32(b, (uint32_t)node->inputs[j]);
            put_attrs(b, &node->attrs);
            break;
        case EM__NODE_COND:
        case EM__NODE_WHILE:
            put_u32(b, (uint32_t)node->n_in);
            for (int j = 0; j < node->n_in; j++)
                put_u32(b, (uint32_t)node->inputs[j]);
            put_attrs(b, &node->attrs);
            put_u32(b, (uint32_t)node->index);
            for (int r = 0; ok && r < 2; r++) {
                const em__graph *region = node->regions[r];
                put_u32(b, (uint32_t)region->n_inputs);
                put_u32(b, (uint32_t)region->len);
                ok = put_nodes(path, region, b, c);
                put_u32(b, (uint32_t)region->n_outputs);
                for (int o = 0; o < region->n_outputs; o++)
                    put_u32(b, (uint32_t)region->outputs[o]);
            }
            break;
        case EM__NODE_RESULT:
            put_u32(b, (uint32_t)node->inputs[0]);
            put_u32(b, (uint32_t)node->index);
            break;
        }
        if (k < 0) {
            em__error("concrete_save '%s': out of memory", path);
            ok = false;
        }
    }
    return ok;
}

/* Fills the six payloads from g. False with an error. */
static bool build_sections(const char *path, const em__graph *g, int n_inputs,
                           const em__type *input_types, bytes *s)
{
    captures c = {0};
    bool ok = string_fits(path, "the function name", g->name);
    for (int i = 0; i < n_inputs; i++)
        put_type(&s[EM__GF_INPT], &input_types[i]);
    ok = ok && put_nodes(path, g, &s[EM__GF_NODE], &c);
    em_tensor **vars = c.vars, **consts = c.consts;
    int n_vars = c.n_vars, n_consts = c.n_consts;
    for (int i = 0; i < g->n_outputs; i++)
        put_u32(&s[EM__GF_OUTP], (uint32_t)g->outputs[i]);
    for (int i = 0; ok && i < n_vars; i++) {
        put_string(&s[EM__GF_VARS], vars[i]->name);
        put_u8(&s[EM__GF_VARS], em_variable_trainable(vars[i]) ? 1 : 0);
        put_value(&s[EM__GF_VARS], vars[i]);
    }
    for (int i = 0; ok && i < n_consts; i++)
        put_value(&s[EM__GF_CNST], consts[i]);
    bytes *m = &s[EM__GF_META];
    put_string(m, EMBER_VERSION);
    put_string(m, g->name);
    put_u32(m, (uint32_t)n_inputs);
    put_u32(m, (uint32_t)g->len);
    put_u32(m, (uint32_t)g->n_outputs);
    put_u32(m, (uint32_t)n_vars);
    put_u32(m, (uint32_t)n_consts);
    free(vars);
    free(consts);
    for (int i = 0; ok && i < EM__GF_SECTIONS; i++)
        if (s[i].oom) {
            em__error("concrete_save '%s': out of memory", path);
            ok = false;
        }
    return ok;
}

/* ---- writing the file -----------------------------------------------------*/

static bool write_all(FILE *f, const void *data, size_t len)
{
    return len == 0 || fwrite(data, 1, len, f) == len;
}

static bool write_sections(FILE *f, const bytes *s)
{
    unsigned char header[EM__GF_HEADER_BYTES];
    memcpy(header, em__gf_magic, 8);
    em__gf_put_u32(header + 8, EM_GRAPH_FILE_VERSION);
    em__gf_put_u32(header + 12, EM__GF_SECTIONS);
    em__gf_put_u32(header + 16, em__gf_crc(0, header, 16));
    bool ok = write_all(f, header, sizeof header);
    for (int i = 0; ok && i < EM__GF_SECTIONS; i++) {
        unsigned char head[12], tail[4];
        memcpy(head, em__gf_tags[i], 4);
        em__gf_put_u64(head + 4, s[i].len);
        uint32_t crc = em__gf_crc(0, head, sizeof head);
        crc = em__gf_crc(crc, s[i].p, s[i].len);
        em__gf_put_u32(tail, crc);
        ok = write_all(f, head, sizeof head) &&
             write_all(f, s[i].p, s[i].len) && write_all(f, tail, 4);
    }
    return ok;
}

static bool write_graph_file(FILE *f, void *user, int *error)
{
    bool ok = write_sections(f, user);
    if (!ok)
        *error = errno;
    return ok;
}

int em_concrete_save(const em_concrete *c, const char *path)
{
    if (!c || !path) {
        em__error("concrete_save: needs a concrete function and a path");
        return -1;
    }
    if (em__thread_state()->tracing) {
        em__error("concrete_save '%s': not allowed while tracing '%s' (the "
                  "variables' values would be those of trace time only)",
                  path, em__thread_state()->tracing);
        return -1;
    }
    int n_inputs;
    const em__type *input_types;
    const em__graph *g = em__concrete_graph(c, &n_inputs, &input_types);
    bytes s[EM__GF_SECTIONS] = {{0}};
    int rc = build_sections(path, g, n_inputs, input_types, s)
                 ? em__file_replace(path, "concrete_save", write_graph_file, s)
                 : -1;
    for (int i = 0; i < EM__GF_SECTIONS; i++)
        free(s[i].p);
    return rc;
}

/* ---- a loaded graph -------------------------------------------------------*/

void em_loaded_graph_free(em_loaded_graph *g)
{
    if (!g)
        return;
    em__plan_free(g->plan);
    em__graph_free(g->graph);
    for (int i = 0; i < g->n_variables; i++)
        em_tensor_free(g->variables[i]);
    free(g->variables);
    free(g->input_types);
    free(g);
}

int em_loaded_graph_run(em_loaded_graph *g, int n_inputs,
                        em_tensor *const *inputs, int max_outputs,
                        em_tensor **outputs)
{
    for (int i = 0; outputs && i < max_outputs; i++)
        outputs[i] = NULL;
    if (!g || n_inputs < 0 || (n_inputs > 0 && !inputs) || max_outputs < 0 ||
        (max_outputs > 0 && !outputs)) {
        em__error("loaded_graph_run: needs a graph and arrays for its inputs "
                  "and outputs");
        return -1;
    }
    const char *name = g->graph->name;
    if (n_inputs != g->n_inputs) {
        em__error("loaded_graph_run '%s': takes %d inputs, %d given", name,
                  g->n_inputs, n_inputs);
        return -1;
    }
    for (int i = 0; i < n_inputs; i++)
        if (!inputs[i] || !em__tensor_readable(inputs[i], "loaded_graph_run")) {
            if (!inputs[i])
                em__error("loaded_graph_run '%s': input %d is NULL", name, i);
            return -1;
        }
    if (g->graph->n_outputs > max_outputs) {
        em__error("loaded_graph_run '%s': returns %d outputs, room for %d "
                  "given",
                  name, g->graph->n_outputs, max_outputs);
        return -1;
    }
    if (em__plan_run(g->plan, inputs, 0, NULL, NULL, -1, NULL, outputs) != 0)
        return -1;
    return g->graph->n_outputs;
}

const char *em_loaded_graph_name(const em_loaded_graph *g)
{
    return g ? g->graph->name : NULL;
}

static void to_spec(const em__type *t, em_input_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    spec->dtype = t->dtype;
    spec->ndim = t->ndim;
    memcpy(spec->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
}

int em_loaded_graph_inputs(const em_loaded_graph *g, int capacity,
                           em_input_spec *out)
{
    if (!g)
        return -1;
    for (int i = 0; out && i < g->n_inputs && i < capacity; i++)
        to_spec(&g->input_types[i], &out[i]);
    return g->n_inputs;
}

int em_loaded_graph_outputs(const em_loaded_graph *g, int capacity,
                            em_input_spec *out)
{
    if (!g)
        return -1;
    for (int i = 0; out && i < g->graph->n_outputs && i < capacity; i++)
        to_spec(&g->graph->nodes[g->graph->outputs[i]].type, &out[i]);
    return g->graph->n_outputs;
}

int em_loaded_graph_variables(const em_loaded_graph *g, int capacity,
                              em_tensor **out)
{
    if (!g)
        return -1;
    for (int i = 0; out && i < g->n_variables && i < capacity; i++)
        out[i] = g->variables[i];
    return g->n_variables;
}

int em_loaded_graph_format(const em_loaded_graph *g, char *buf, size_t size)
{
    if (!g) {
        if (size)
            snprintf(buf, size, "NULL");
        return 4;
    }
    return em__graph_format(g->graph, buf, size);
}

int em_loaded_graph_format_dot(const em_loaded_graph *g, char *buf, size_t size)
{
    if (!g) {
        if (size)
            snprintf(buf, size, "NULL");
        return 4;
    }
    return em__graph_format_dot(g->graph, buf, size);
}
