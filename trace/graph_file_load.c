/*
 * trace/graph_file_load.c - em_graph_load: reading a graph file (format in
 * ember/graph_file.h) as hostile input and rebuilding a runnable graph.
 *
 * The file is read whole; the header and every section's frame and CRC are
 * checked first, then the payloads are parsed with each length, count and
 * index checked against what is left before use. Op nodes are typed with
 * the op table's shape rules, as dispatch would, so that their attributes
 * reach the kernels normalised and the saved types are confirmed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ember/graph_file.h"
#include "graph_file_io.h"

/* A bounded view of one section's payload. */
typedef struct reader {
    const char *path;
    const char *section;
    const unsigned char *buf;
    size_t size, pos;
    size_t base; /* file offset of buf[0] */
} reader;

static bool fail(const reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(const reader *r, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    em__error("graph_load '%s': %s%s at byte %zu: %s", r->path,
              r->section ? "section " : "", r->section ? r->section : "header",
              r->base + r->pos, detail);
    return false;
}

static bool need(reader *r, size_t n)
{
    if (n <= r->size - r->pos)
        return true;
    return fail(r, "truncated (needs %zu more bytes, %zu left)", n,
                r->size - r->pos);
}

static bool get_u8(reader *r, unsigned *v)
{
    if (!need(r, 1))
        return false;
    *v = r->buf[r->pos++];
    return true;
}

static bool get_u32(reader *r, uint32_t *v)
{
    if (!need(r, 4))
        return false;
    *v = em__gf_get_u32(r->buf + r->pos);
    r->pos += 4;
    return true;
}

static bool get_u64(reader *r, uint64_t *v)
{
    if (!need(r, 8))
        return false;
    *v = em__gf_get_u64(r->buf + r->pos);
    r->pos += 8;
    return true;
}

/* A u32 that must be below `limit`. */
static bool get_index(reader *r, uint32_t limit, const char *what, int *v)
{
    uint32_t x;
    if (!get_u32(r, &x))
        return false;
    if (x >= limit)
        return fail(r, "%s %u out of range (%u allowed)", what, x, limit);
    *v = (int)x;
    return true;
}

/* A string as a new NUL-terminated copy (*s, malloc'd). */
static bool get_string(reader *r, const char *what, char **s)
{
    uint32_t len;
    if (!get_u32(r, &len))
        return false;
    if (len > EM__GF_MAX_STRING)
        return fail(r, "%s is %u bytes long (at most %d)", what, len,
                    EM__GF_MAX_STRING);
    if (!need(r, len))
        return false;
    if (memchr(r->buf + r->pos, 0, len))
        return fail(r, "%s holds a NUL byte", what);
    *s = malloc((size_t)len + 1);
    if (!*s)
        return fail(r, "out of memory");
    memcpy(*s, r->buf + r->pos, len);
    (*s)[len] = '\0';
    r->pos += len;
    return true;
}

static bool get_type(reader *r, em__type *t)
{
    unsigned dtype, ndim;
    if (!get_u8(r, &dtype) || !get_u8(r, &ndim))
        return false;
    if (dtype >= EM_DTYPE_COUNT || ndim > EM_MAX_DIMS)
        return fail(r, "invalid type: dtype %u, %u dimensions", dtype, ndim);
    int64_t shape[EM_MAX_DIMS];
    for (unsigned d = 0; d < ndim; d++) {
        uint64_t dim;
        if (!get_u64(r, &dim))
            return false;
        shape[d] = dim > INT64_MAX ? -1 : (int64_t)dim;
    }
    if (!em__type_make(t, (em_dtype)dtype, (int)ndim, shape))
        return fail(r, "invalid or too large shape");
    return true;
}

/* A type and its data as a new tensor (*t, owned by the caller). */
static bool get_value(reader *r, em_tensor **t)
{
    em__type type = {0};
    uint64_t nbytes;
    if (!get_type(r, &type) || !get_u64(r, &nbytes))
        return false;
    uint64_t expected =
        (uint64_t)em__type_size(&type) * em_dtype_size(type.dtype);
    if (nbytes != expected)
        return fail(r, "holds %llu bytes of data, its type needs %llu",
                    (unsigned long long)nbytes, (unsigned long long)expected);
    if (!need(r, (size_t)nbytes))
        return false;
    *t =
        em_tensor_from_data(r->buf + r->pos, type.dtype, type.ndim, type.shape);
    if (!*t)
        return fail(r, "out of memory");
    r->pos += (size_t)nbytes;
    return true;
}

static bool same_type(const em__type *a, const em__type *b)
{
    return a->dtype == b->dtype && em__type_equal_shape(a, b);
}

/* ---- the file's frame -----------------------------------------------------*/

/* Checks the header and each section's frame and CRC; sets sec[] to the
 * payloads. */
static bool parse_frame(reader *file, reader *sec)
{
    if (file->size < EM__GF_HEADER_BYTES ||
        memcmp(file->buf, em__gf_magic, 8) != 0)
        return fail(file, "not an ember graph file (%s)",
                    file->size < EM__GF_HEADER_BYTES ? "shorter than its header"
                                                     : "wrong magic bytes");
    if (em__gf_get_u32(file->buf + 16) != em__gf_crc(0, file->buf, 16))
        return fail(file, "header checksum mismatch");
    uint32_t version = em__gf_get_u32(file->buf + 8);
    if (version != EM_GRAPH_FILE_VERSION)
        return fail(file, "format version %u, this ember reads version %d",
                    version, EM_GRAPH_FILE_VERSION);
    uint32_t count = em__gf_get_u32(file->buf + 12);
    if (count != EM__GF_SECTIONS)
        return fail(file, "%u sections, version %d has %d", count,
                    EM_GRAPH_FILE_VERSION, EM__GF_SECTIONS);
    static const char *const names[EM__GF_SECTIONS] = {"META", "INPT", "NODE",
                                                       "OUTP", "VARS", "CNST"};
    file->pos = EM__GF_HEADER_BYTES;
    for (int i = 0; i < EM__GF_SECTIONS; i++) {
        file->section = names[i];
        if (!need(file, 12))
            return false;
        const unsigned char *head = file->buf + file->pos;
        if (memcmp(head, em__gf_tags[i], 4) != 0)
            return fail(file, "expected this section's tag");
        uint64_t len = em__gf_get_u64(head + 4);
        if (len > file->size - file->pos - 12 ||
            file->size - file->pos - 12 - len < 4)
            return fail(file, "length %llu runs past the end of the file",
                        (unsigned long long)len);
        size_t start = file->pos;
        file->pos += 12 + (size_t)len;
        uint32_t crc = em__gf_crc(0, head, 12 + (size_t)len);
        if (em__gf_get_u32(file->buf + file->pos) != crc)
            return fail(file, "checksum mismatch (section bytes %zu-%zu)",
                        start, file->pos + 3);
        file->pos += 4;
        sec[i] = (reader){.path = file->path,
                          .section = names[i],
                          .buf = head + 12,
                          .size = (size_t)len,
                          .base = start + 12};
    }
    file->section = NULL;
    if (file->pos != file->size)
        return fail(file, "%zu unexpected bytes after the last section",
                    file->size - file->pos);
    return true;
}

/* ---- the payloads ---------------------------------------------------------*/

typedef struct counts {
    uint32_t inputs, nodes, outputs, variables, constants;
} counts;

static bool parse_meta(reader *r, counts *n, char **name)
{
    char *version = NULL;
    bool ok = get_string(r, "the ember version", &version) &&
              get_string(r, "the function name", name) &&
              get_u32(r, &n->inputs) && get_u32(r, &n->nodes) &&
              get_u32(r, &n->outputs) && get_u32(r, &n->variables) &&
              get_u32(r, &n->constants);
    free(version);
    return ok;
}

/* Fails unless `count` items of at least `min_bytes` fit in section s. */
static bool count_fits(const reader *s, uint32_t count, size_t min_bytes,
                       const char *what)
{
    if (count <= s->size / min_bytes && count <= (1u << 28))
        return true;
    return fail(s, "META counts %u %s, more than the section's %zu bytes hold",
                count, what, s->size);
}

static bool parse_attrs(reader *r, em__attrs *a)
{
    /* The reads below cannot fail once the whole block is known to fit. */
    unsigned ndim = 0, naxes = 0, flags = 0, dtype = 0;
    uint64_t v = 0;
    if (!need(r, EM__GF_ATTR_BYTES))
        return false;
    memset(a, 0, sizeof *a);
    get_u8(r, &ndim);
    for (int i = 0; i < EM_MAX_DIMS; i++) {
        get_u64(r, &v);
        a->shape[i] = (int64_t)v;
    }
    get_u8(r, &naxes);
    for (int i = 0; i < EM_MAX_DIMS; i++) {
        uint32_t x = 0;
        get_u32(r, &x);
        a->axes[i] = (int32_t)x;
    }
    uint32_t axis = 0;
    get_u32(r, &axis);
    a->axis = (int32_t)axis;
    get_u8(r, &flags);
    get_u64(r, &v);
    memcpy(&a->alpha, &v, 8);
    get_u8(r, &dtype);
    get_u64(r, &v);
    a->depth = (int64_t)v;
    for (int i = 0; i < EM_MAX_DIMS; i++) {
        get_u64(r, &v);
        a->start[i] = (int64_t)v;
    }
    for (int i = 0; i < EM_MAX_DIMS; i++) {
        get_u64(r, &v);
        a->step[i] = (int64_t)v;
    }
    if (ndim > EM_MAX_DIMS || naxes > EM_MAX_DIMS)
        return fail(r, "attributes with %u dimensions and %u axes", ndim,
                    naxes);
    if (flags &
        ~(unsigned)(EM__GF_KEEPDIMS | EM__GF_TRANSPOSE_A | EM__GF_TRANSPOSE_B))
        return fail(r, "unknown attribute flags 0x%x", flags);
    if (dtype >= EM_DTYPE_COUNT)
        return fail(r, "attribute dtype %u is invalid", dtype);
    a->ndim = (int)ndim;
    a->naxes = (int)naxes;
    a->keepdims = flags & EM__GF_KEEPDIMS;
    a->transpose_a = flags & EM__GF_TRANSPOSE_A;
    a->transpose_b = flags & EM__GF_TRANSPOSE_B;
    a->dtype = (em_dtype)dtype;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] < 0)
            return fail(r, "attribute shape[%d] is %lld", i,
                        (long long)a->shape[i]);
    for (int i = 0; i < a->naxes; i++)
        if (a->axes[i] < -EM_MAX_DIMS || a->axes[i] >= EM_MAX_DIMS)
            return fail(r, "attribute axis %d out of range", a->axes[i]);
    if (a->axis < -EM_MAX_DIMS || a->axis > EM_MAX_DIMS)
        return fail(r, "attribute axis %d out of range", a->axis);
    return true;
}

static int find_op(const char *name)
{
    for (int op = 0; op < EM_OP_COUNT; op++)
        if (strcmp(em__op_table[op].name, name) == 0)
            return op;
    return -1;
}

/* The op part of node `i`: op name, inputs, attributes; types it with the
 * op's shape rule and appends it. */
static bool parse_op(reader *r, em__graph *g, int i, const em__type *type,
                     int *id)
{
    char *opname = NULL;
    if (!get_string(r, "the op name", &opname) || !opname)
        return false;
    int op = find_op(opname);
    if (op < 0) {
        fail(r, "node %%%d: unknown op '%.64s'", i, opname);
        free(opname);
        return false;
    }
    free(opname);
    const em__op_def *def = &em__op_table[op];
    uint32_t n_in;
    if (!get_u32(r, &n_in))
        return false;
    if ((def->arity >= 0 && n_in != (uint32_t)def->arity) ||
        (def->arity < 0 && (n_in < 1 || n_in > EM__GF_MAX_OP_INPUTS)))
        return fail(r, "node %%%d: %s takes %d inputs, not %u", i, def->name,
                    def->arity, n_in);
    int inputs[EM__GF_MAX_OP_INPUTS] = {0};
    const em__type *types[EM__GF_MAX_OP_INPUTS];
    for (uint32_t j = 0; j < n_in; j++) {
        if (!get_index(r, (uint32_t)i, "input node", &inputs[j]))
            return false;
        types[j] = &g->nodes[inputs[j]].type;
    }
    if ((def->flags & EM__OP_IN_PLACE) &&
        g->nodes[inputs[0]].kind != EM__NODE_VARIABLE)
        return fail(r, "node %%%d: %s writes %%%d, which is not a variable", i,
                    def->name, inputs[0]);
    em__attrs attrs;
    if (!parse_attrs(r, &attrs))
        return false;
    em__type want;
    char detail[300];
    if (!def->infer(types, (int)n_in, &attrs, &want, detail, sizeof detail))
        return fail(r, "node %%%d = %s: %s", i, def->name, detail);
    if (!same_type(&want, type)) {
        char a[200], b[200];
        return fail(r, "node %%%d = %s: typed %s, its inputs give %s", i,
                    def->name, em__type_format(type, a, sizeof a),
                    em__type_format(&want, b, sizeof b));
    }
    *id = em__graph_add(g, EM__NODE_OP, (em__op)op, inputs, (int)n_in, &attrs,
                        type, NULL);
    return *id >= 0;
}

typedef struct loading {
    counts n;
    em_loaded_graph *lg;
    em_tensor **consts;
    int n_consts;
    bool *input_seen;
    em__graph *g; /* the graph (or region) being read */
    int depth;    /* regions it is nested in */
} loading;

/* Regions nest at most this deep in a file. */
#define MAX_REGION_DEPTH 16

static bool parse_node(reader *r, loading *ld, int i);

/* A region's graph: u32 inputs, u32 nodes, the nodes, u32 outputs, ids. */
static bool parse_region(reader *r, loading *ld, em__graph **out)
{
    uint32_t n_inputs, n_nodes, n_outputs;
    if (!get_u32(r, &n_inputs) || !get_u32(r, &n_nodes))
        return false;
    if (n_inputs > (1u << 20) || n_nodes > (r->size - r->pos) / 11)
        return fail(r, "a region of %u inputs and %u nodes does not fit",
                    n_inputs, n_nodes);
    em__graph *region = em__graph_new(ld->g->name);
    if (!region)
        return fail(r, "out of memory");
    *out = region;
    region->n_inputs = (int)n_inputs;
    em__graph *outer = ld->g;
    ld->g = region;
    ld->depth++;
    bool ok = true;
    for (uint32_t i = 0; ok && i < n_nodes; i++)
        ok = parse_node(r, ld, (int)i);
    ld->depth--;
    ld->g = outer;
    if (!ok || !get_u32(r, &n_outputs))
        return false;
    if (n_outputs > (r->size - r->pos) / 4)
        return fail(r, "a region of %u outputs does not fit", n_outputs);
    region->outputs = calloc((size_t)n_outputs + 1, sizeof(int));
    if (!region->outputs)
        return fail(r, "out of memory");
    for (uint32_t k = 0; k < n_outputs; k++) {
        if (!get_index(r, n_nodes, "region output node", &region->outputs[k]))
            return false;
        region->n_outputs++;
    }
    return true;
}

/* A cond or while node: inputs, attributes, count, two regions. */
static bool parse_region_node(reader *r, loading *ld, int i, unsigned kind,
                              const em__type *type, int *id)
{
    em__graph *g = ld->g;
    uint32_t n_in, index;
    if (ld->depth >= MAX_REGION_DEPTH)
        return fail(r, "node %%%d: regions nest more than %d deep", i,
                    MAX_REGION_DEPTH);
    if (!get_u32(r, &n_in))
        return false;
    if (n_in > (uint32_t)i || n_in > (r->size - r->pos) / 4)
        return fail(r, "node %%%d: %u inputs", i, n_in);
    int *inputs = calloc((size_t)n_in + 1, sizeof *inputs);
    if (!inputs)
        return fail(r, "out of memory");
    bool ok = true;
    for (uint32_t j = 0; ok && j < n_in; j++)
        ok = get_index(r, (uint32_t)i, "input node", &inputs[j]);
    em__attrs attrs;
    ok = ok && parse_attrs(r, &attrs) && get_u32(r, &index);
    if (ok && index > n_in + (1u << 16))
        ok = fail(r, "node %%%d: count %u out of range", i, index);
    if (ok) {
        *id = em__graph_add(g, (em__node_kind)kind, 0, inputs, (int)n_in,
                            &attrs, type, NULL);
        ok = *id >= 0;
    }
    free(inputs);
    if (!ok)
        return false;
    em__node *node = &g->nodes[*id];
    node->index = (int)index;
    node->regions = calloc(2, sizeof *node->regions);
    if (!node->regions)
        return fail(r, "out of memory");
    node->n_regions = 2;
    for (int k = 0; k < 2; k++) {
        em__graph *region = NULL;
        ok = parse_region(r, ld, &region);
        /* g->nodes may have moved while the region was read. */
        g->nodes[*id].regions[k] = region;
        if (!ok)
            return false;
    }
    return true;
}

static bool parse_result(reader *r, em__graph *g, int i, const em__type *type,
                         int *id)
{
    int region = 0;
    uint32_t index = 0;
    if (!get_index(r, (uint32_t)i, "input node", &region) ||
        !get_u32(r, &index))
        return false;
    const em__node *from = &g->nodes[region];
    if (!em__node_is_region(from) ||
        index >= (uint32_t)em__region_results(from))
        return fail(r,
                    "node %%%d: result %u of %%%d, which has no such "
                    "result",
                    i, index, region);
    *id = em__graph_add(g, EM__NODE_RESULT, 0, &region, 1, NULL, type, NULL);
    if (*id >= 0)
        g->nodes[*id].index = (int)index;
    return *id >= 0;
}

static bool parse_node(reader *r, loading *ld, int i)
{
    em__graph *g = ld->g;
    bool top = ld->depth == 0;
    unsigned kind;
    char *name = NULL;
    em__type type = {0};
    if (!get_u8(r, &kind))
        return false;
    if (kind > EM__NODE_RESULT)
        return fail(r, "node %%%d has kind %u", i, kind);
    if (!get_string(r, "the node name", &name))
        return false;
    bool ok = get_type(r, &type);
    int id = -1, k = 0;
    em_tensor *value = NULL;
    if (ok && kind == EM__NODE_INPUT) {
        ok = get_index(r, top ? ld->n.inputs : (uint32_t)g->n_inputs,
                       "input index", &k);
        if (ok && top && ld->input_seen[k])
            ok = fail(r, "node %%%d: input %d appears twice", i, k);
        else if (ok && top && !same_type(&type, &ld->lg->input_types[k]))
            ok = fail(r, "node %%%d: input %d's type differs from INPT", i, k);
        if (ok) {
            if (top)
                ld->input_seen[k] = true;
            id =
                em__graph_add(g, EM__NODE_INPUT, 0, NULL, 0, NULL, &type, NULL);
            if (id >= 0)
                g->nodes[id].index = k;
        }
    } else if (ok && kind == EM__NODE_CONST) {
        ok = get_index(r, ld->n.constants, "constant index", &k);
        value = ok ? ld->consts[k] : NULL;
    } else if (ok && kind == EM__NODE_VARIABLE) {
        ok = get_index(r, ld->n.variables, "variable index", &k);
        value = ok ? ld->lg->variables[k] : NULL;
    } else if (ok && kind == EM__NODE_OP) {
        ok = parse_op(r, g, i, &type, &id);
    } else if (ok && kind == EM__NODE_RESULT) {
        ok = parse_result(r, g, i, &type, &id);
    } else if (ok) {
        ok = parse_region_node(r, ld, i, kind, &type, &id);
    }
    if (ok && value) {
        if (!same_type(&type, &value->type))
            ok = fail(r, "node %%%d: its type differs from its value's", i);
        else
            id = em__graph_add(g, (em__node_kind)kind, 0, NULL, 0, NULL, &type,
                               value);
    }
    if (ok && id < 0)
        ok = fail(r, "out of memory");
    if (ok && name[0])
        g->nodes[id].name = name;
    else
        free(name);
    return ok;
}

static bool parse_payloads(reader *sec, loading *ld)
{
    em_loaded_graph *lg = ld->lg;
    counts *n = &ld->n;
    char *name = NULL;
    if (!parse_meta(&sec[EM__GF_META], n, &name)) {
        free(name);
        return false;
    }
    lg->graph = em__graph_new(name);
    free(name);
    if (!lg->graph)
        return fail(&sec[EM__GF_META], "out of memory");
    if (!count_fits(&sec[EM__GF_INPT], n->inputs, 2, "inputs") ||
        !count_fits(&sec[EM__GF_NODE], n->nodes, 11, "nodes") ||
        !count_fits(&sec[EM__GF_OUTP], n->outputs, 4, "outputs") ||
        !count_fits(&sec[EM__GF_VARS], n->variables, 15, "variables") ||
        !count_fits(&sec[EM__GF_CNST], n->constants, 10, "constants"))
        return false;
    lg->graph->n_inputs = (int)n->inputs;
    lg->input_types = calloc((size_t)n->inputs + 1, sizeof *lg->input_types);
    ld->input_seen = calloc((size_t)n->inputs + 1, sizeof *ld->input_seen);
    lg->variables = calloc((size_t)n->variables + 1, sizeof *lg->variables);
    ld->consts = calloc((size_t)n->constants + 1, sizeof *ld->consts);
    lg->graph->outputs = calloc((size_t)n->outputs + 1, sizeof(int));
    if (!lg->input_types || !ld->input_seen || !lg->variables || !ld->consts ||
        !lg->graph->outputs)
        return fail(&sec[EM__GF_META], "out of memory");
    lg->n_inputs = (int)n->inputs;
    for (uint32_t i = 0; i < n->inputs; i++)
        if (!get_type(&sec[EM__GF_INPT], &lg->input_types[i]))
            return false;
    reader *r = &sec[EM__GF_VARS];
    for (uint32_t i = 0; i < n->variables; i++) {
        char *vname = NULL;
        unsigned trainable;
        em_tensor *value = NULL;
        bool ok =
            get_string(r, "the variable name", &vname) && get_u8(r, &trainable);
        if (ok && trainable > 1)
            ok = fail(r, "variable %u: trainable flag %u", i, trainable);
        ok = ok && get_value(r, &value);
        if (ok) {
            lg->variables[i] = em_variable_new(vname, value, trainable);
            if (!lg->variables[i])
                ok = fail(r, "variable %u: cannot create it", i);
            else
                lg->n_variables++;
        }
        em_tensor_free(value);
        free(vname);
        if (!ok)
            return false;
    }
    for (uint32_t i = 0; i < n->constants; i++) {
        if (!get_value(&sec[EM__GF_CNST], &ld->consts[i]))
            return false;
        ld->n_consts++;
    }
    ld->g = lg->graph;
    for (uint32_t i = 0; i < n->nodes; i++)
        if (!parse_node(&sec[EM__GF_NODE], ld, (int)i))
            return false;
    for (uint32_t i = 0; i < n->outputs; i++) {
        if (!get_index(&sec[EM__GF_OUTP], n->nodes, "output node",
                       &lg->graph->outputs[i]))
            return false;
        lg->graph->n_outputs++;
    }
    for (int i = 0; i < EM__GF_SECTIONS; i++)
        if (sec[i].pos != sec[i].size)
            return fail(&sec[i], "%zu unexpected bytes at the section's end",
                        sec[i].size - sec[i].pos);
    return true;
}

em_loaded_graph *em_graph_load(const char *path)
{
    if (!path) {
        em__error("graph_load: needs a path");
        return NULL;
    }
    if (em__thread_state()->tracing) {
        em__error("graph_load '%s': not allowed while tracing '%s'", path,
                  em__thread_state()->tracing);
        return NULL;
    }
    reader file = {.path = path};
    unsigned char *buf = NULL;
    if (!em__file_read(path, "graph_load", &buf, &file.size))
        return NULL;
    file.buf = buf;
    reader sec[EM__GF_SECTIONS];
    loading ld = {.lg = calloc(1, sizeof *ld.lg)};
    bool ok = ld.lg != NULL;
    if (!ok)
        em__error("graph_load '%s': out of memory", path);
    ok = ok && parse_frame(&file, sec) && parse_payloads(sec, &ld);
    char msg[400];
    if (ok && !em__graph_verify(ld.lg->graph, msg, sizeof msg)) {
        em__error("graph_load '%s': invalid graph: %s", path, msg);
        ok = false;
    }
    if (ok && !(ld.lg->plan = em__plan_new(ld.lg->graph))) {
        if (!em_error_pending())
            em__error("graph_load '%s': out of memory", path);
        ok = false;
    }
    for (int i = 0; i < ld.n_consts; i++)
        em_tensor_free(ld.consts[i]);
    free(ld.consts);
    free(ld.input_seen);
    free(buf);
    if (!ok) {
        em_loaded_graph_free(ld.lg);
        return NULL;
    }
    return ld.lg;
}
