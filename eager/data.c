/*
 * eager/data.c - IDX files (the MNIST format) and mini-batch iteration.
 *
 * IDX: bytes 0 and 1 are zero, byte 2 the element type, byte 3 the number
 * of dimensions; then each dimension as a big-endian uint32; then the
 * elements, big-endian, row-major. zlib's gz* functions read gzip and plain
 * files alike. The file must hold exactly the elements its header
 * announces: missing bytes and bytes after them are both errors, since
 * either means the header does not describe the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "philox.h"

/* ---- IDX ----------------------------------------------------------------- */

typedef struct idx_type {
    unsigned char code;
    int bytes;      /* size of one element in the file */
    em_dtype dtype; /* what it becomes in memory */
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, EM_UINT8, "uint8"},     {0x09, 1, EM_INT32, "int8"},
    {0x0B, 2, EM_INT32, "int16"},     {0x0C, 4, EM_INT32, "int32"},
    {0x0D, 4, EM_FLOAT32, "float32"}, {0x0E, 8, EM_FLOAT64, "float64"},
};

static const idx_type *idx_type_find(unsigned char code)
{
    for (size_t i = 0; i < sizeof idx_types / sizeof *idx_types; i++)
        if (idx_types[i].code == code)
            return &idx_types[i];
    return NULL;
}

/* Reads up to `bytes` bytes; returns how many were read, or -1 when zlib
 * reports an error (its message in *why). */
static int64_t read_all(gzFile f, void *buf, int64_t bytes, const char **why)
{
    int64_t got = 0;
    while (got < bytes) {
        int64_t want = bytes - got;
        if (want > INT_MAX / 2)
            want = INT_MAX / 2; /* gzread counts in int */
        int n = gzread(f, (char *)buf + got, (unsigned)want);
        if (n < 0) {
            int code;
            *why = gzerror(f, &code);
            return -1;
        }
        if (n == 0)
            break;
        got += n;
    }
    return got;
}

static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* Turns the file's big-endian elements in place (or from raw into data for
 * the narrow integer types) into host-order values of the tensor's dtype. */
static void idx_to_host(const idx_type *it, const unsigned char *raw,
                        void *data, int64_t n)
{
    if ((it->code == 0x09 || it->code == 0x0B) && !raw)
        return; /* widened types always come with a staging buffer */
    if (it->code == 0x09) {
        int32_t *out = data;
        for (int64_t i = 0; i < n; i++)
            out[i] = (int8_t)raw[i];
        return;
    }
    if (it->code == 0x0B) {
        int32_t *out = data;
        for (int64_t i = 0; i < n; i++)
            out[i] = (int16_t)((uint16_t)raw[2 * i] << 8 | raw[2 * i + 1]);
        return;
    }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (it->bytes == 4) {
        uint32_t *p = data;
        for (int64_t i = 0; i < n; i++)
            p[i] = __builtin_bswap32(p[i]);
    } else if (it->bytes == 8) {
        uint64_t *p = data;
        for (int64_t i = 0; i < n; i++)
            p[i] = __builtin_bswap64(p[i]);
    }
#endif
}

/* Reads the header: the file's element type into *type, the tensor's dtype
 * and shape into *out. False with an error. */
static bool idx_read_header(gzFile f, const char *path, const idx_type **type,
                            em__type *out)
{
    unsigned char head[4 + 4 * 255];
    const char *why = NULL;
    int64_t got = read_all(f, head, 4, &why);
    if (got < 0) {
        em__error("idx_load: '%s': %s", path, why);
        return false;
    }
    if (got < 4) {
        em__error("idx_load: '%s' is truncated: %lld of 4 header bytes", path,
                  (long long)got);
        return false;
    }
    if (head[0] != 0 || head[1] != 0) {
        em__error("idx_load: '%s' has bad magic %02x %02x %02x %02x "
                  "(an IDX file starts 00 00 type ndim)",
                  path, head[0], head[1], head[2], head[3]);
        return false;
    }
    *type = idx_type_find(head[2]);
    if (!*type) {
        em__error("idx_load: '%s' has unknown element type 0x%02x", path,
                  head[2]);
        return false;
    }
    int ndim = head[3];
    if (ndim > EM_MAX_DIMS) {
        em__error("idx_load: '%s' has %d dimensions, at most %d supported",
                  path, ndim, EM_MAX_DIMS);
        return false;
    }
    got = read_all(f, head + 4, 4 * ndim, &why);
    if (got < 0) {
        em__error("idx_load: '%s': %s", path, why);
        return false;
    }
    if (got < 4 * ndim) {
        em__error("idx_load: '%s' is truncated in its header: %d dimensions "
                  "announced, %lld bytes of sizes found",
                  path, ndim, (long long)got);
        return false;
    }
    int64_t shape[EM_MAX_DIMS], size = 1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = load_be32(head + 4 + 4 * i);
        if (shape[i] > 0 && size > INT64_MAX / 8 / shape[i]) {
            em__error("idx_load: '%s' announces too many elements", path);
            return false;
        }
        size *= shape[i];
    }
    em__type_make(out, (*type)->dtype, ndim, shape);
    return true;
}

em_tensor *em_idx_load(const char *path)
{
    if (!path) {
        em__error("idx_load: path is NULL");
        return NULL;
    }
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        em__error("idx_load: cannot open '%s': %s", path,
                  errno ? strerror(errno) : "out of memory");
        return NULL;
    }

    const idx_type *type;
    em__type ttype;
    em_tensor *t = NULL;
    unsigned char *raw = NULL;
    if (!idx_read_header(f, path, &type, &ttype))
        goto fail;
    t = em__tensor_new(&ttype);
    if (!t)
        goto fail;

    /* Narrow integer types are widened, so they need a staging buffer. */
    int64_t bytes = t->size * type->bytes;
    if (em_dtype_size(ttype.dtype) != (size_t)type->bytes) {
        raw = malloc((size_t)(bytes ? bytes : 1));
        if (!raw) {
            em__error("idx_load: '%s': out of memory", path);
            goto fail;
        }
    }
    const char *why = NULL;
    int64_t got = read_all(f, raw ? (void *)raw : t->data, bytes, &why);
    if (got < 0) {
        em__error("idx_load: '%s': %s", path, why);
        goto fail;
    }
    if (got < bytes) {
        char text[200];
        em__error("idx_load: '%s' is truncated: %s of %s needs %lld bytes of "
                  "data, found %lld",
                  path,
                  em_shape_format(ttype.ndim, ttype.shape, text, sizeof text),
                  type->name, (long long)bytes, (long long)got);
        goto fail;
    }
    unsigned char extra;
    got = read_all(f, &extra, 1, &why);
    if (got != 0) {
        if (got < 0)
            em__error("idx_load: '%s': %s", path, why);
        else
            em__error("idx_load: '%s' has data after the %lld elements its "
                      "header announces",
                      path, (long long)t->size);
        goto fail;
    }
    idx_to_host(type, raw, t->data, t->size);
    free(raw);
    gzclose(f);
    return t;

fail:
    free(raw);
    em_tensor_free(t);
    gzclose(f);
    return NULL;
}

/* ---- mini-batches ---------------------------------------------------------*/

struct em_batch_iter {
    int n;
    em_tensor **tensors; /* private views sharing the callers' storage */
    int64_t rows, batch;
    bool shuffle, drop_last;
    uint64_t seed, epoch;
    int64_t next;   /* position in the epoch's order */
    int64_t *order; /* row order of the epoch; NULL when not shuffling */
};

/* 64-bit words from the Philox blocks of one (seed, epoch) stream. */
typedef struct word_stream {
    uint64_t seed, epoch, block;
    uint32_t w[4];
    int used; /* 64-bit halves of w consumed */
} word_stream;

static uint64_t stream_next(word_stream *s)
{
    if (s->used == 2) {
        em__philox_block(s->seed, s->epoch, s->block++, s->w);
        s->used = 0;
    }
    int k = 2 * s->used++;
    return (uint64_t)s->w[k + 1] << 32 | s->w[k];
}

/* Uniform in [0, bound), without modulo bias: words below 2^64 mod bound
 * are redrawn. */
static uint64_t stream_below(word_stream *s, uint64_t bound)
{
    uint64_t threshold = -bound % bound;
    for (;;) {
        uint64_t r = stream_next(s);
        if (r >= threshold)
            return r % bound;
    }
}

/* Fisher-Yates over 0..rows-1 with words from Philox keyed by the seed, on
 * a counter stream chosen by the epoch: the order depends on nothing else.
 */
static void shuffle_order(em_batch_iter *it)
{
    word_stream s = {.seed = it->seed, .epoch = it->epoch, .used = 2};
    for (int64_t i = 0; i < it->rows; i++)
        it->order[i] = i;
    for (int64_t i = it->rows - 1; i > 0; i--) {
        int64_t j = (int64_t)stream_below(&s, (uint64_t)i + 1);
        int64_t tmp = it->order[i];
        it->order[i] = it->order[j];
        it->order[j] = tmp;
    }
}

void em_batch_iter_free(em_batch_iter *it)
{
    if (!it)
        return;
    for (int i = 0; i < it->n; i++)
        em_tensor_free(it->tensors[i]);
    free(it->tensors);
    free(it->order);
    free(it);
}

static bool iter_check(int n, em_tensor *const *tensors, int64_t batch)
{
    if (n < 1 || !tensors) {
        em__error("batch_iter_new: needs at least one tensor (n = %d)", n);
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (tensors[i])
            continue;
        if (!em_error_pending())
            em__error("batch_iter_new: tensor %d is NULL", i);
        return false;
    }
    char detail[200];
    for (int i = 0; i < n; i++) {
        if (tensors[i]->type.ndim == 0) {
            snprintf(detail, sizeof detail,
                     "tensor %d is a scalar, with no rows", i);
            em__error_op("batch_iter_new", tensors, n, detail);
            return false;
        }
        if (tensors[i]->type.shape[0] != tensors[0]->type.shape[0]) {
            snprintf(detail, sizeof detail,
                     "tensor %d has %lld rows, tensor 0 has %lld", i,
                     (long long)tensors[i]->type.shape[0],
                     (long long)tensors[0]->type.shape[0]);
            em__error_op("batch_iter_new", tensors, n, detail);
            return false;
        }
    }
    if (batch < 1) {
        snprintf(detail, sizeof detail, "batch size %lld is less than 1",
                 (long long)batch);
        em__error_op("batch_iter_new", tensors, n, detail);
        return false;
    }
    return true;
}

em_batch_iter *em_batch_iter_new(int n, em_tensor *const *tensors,
                                 int64_t batch, bool shuffle, uint64_t seed,
                                 bool drop_last)
{
    if (!iter_check(n, tensors, batch))
        return NULL;
    em_batch_iter *it = calloc(1, sizeof *it);
    if (!it || !(it->tensors = calloc((size_t)n, sizeof *it->tensors)))
        goto oom;
    it->rows = tensors[0]->type.shape[0];
    it->batch = batch;
    it->shuffle = shuffle;
    it->drop_last = drop_last;
    it->seed = seed;
    /* Views rather than em_tensor_retain: a view is ours alone, whatever
     * scope owns the caller's tensor. */
    for (int i = 0; i < n; i++) {
        it->tensors[i] = em__tensor_view(tensors[i], &tensors[i]->type);
        if (!it->tensors[i])
            goto oom;
        em__scope_forget(it->tensors[i]);
        it->n = i + 1;
    }
    if (shuffle) {
        it->order = malloc(sizeof *it->order * (size_t)(it->rows + 1));
        if (!it->order)
            goto oom;
        shuffle_order(it);
    }
    return it;

oom:
    em_batch_iter_free(it);
    em__error("batch_iter_new: out of memory");
    return NULL;
}

int64_t em_batch_iter_count(const em_batch_iter *it)
{
    if (!it)
        return 0;
    return it->drop_last ? it->rows / it->batch
                         : (it->rows + it->batch - 1) / it->batch;
}

void em_batch_iter_reset(em_batch_iter *it)
{
    if (!it)
        return;
    it->epoch++;
    it->next = 0;
    if (it->shuffle)
        shuffle_order(it);
}

/* [rows, ...] -> [b, ...]: rows order[first..first+b) of src. */
static em_tensor *gather_rows(const em_batch_iter *it, em_tensor *src,
                              int64_t b)
{
    em__type type = src->type;
    type.shape[0] = b;
    em_tensor *out = em__tensor_new(&type);
    if (!out)
        return NULL;
    size_t row =
        (size_t)(src->size / it->rows) * em_dtype_size(src->type.dtype);
    const char *from = src->data;
    char *to = out->data;
    if (!it->shuffle) {
        memcpy(to, from + (size_t)it->next * row, (size_t)b * row);
        return out;
    }
    for (int64_t r = 0; r < b; r++)
        memcpy(to + (size_t)r * row,
               from + (size_t)it->order[it->next + r] * row, row);
    return out;
}

bool em_batch_iter_next(em_batch_iter *it, em_tensor **out)
{
    if (!it || !out)
        return false;
    int64_t left = it->rows - it->next;
    int64_t b = left < it->batch ? left : it->batch;
    if (b == 0 || (it->drop_last && b < it->batch)) {
        for (int i = 0; i < it->n; i++)
            out[i] = NULL;
        return false;
    }
    for (int i = 0; i < it->n; i++) {
        out[i] = gather_rows(it, it->tensors[i], b);
        if (!out[i]) {
            for (int k = 0; k <= i; k++) {
                em_tensor_free(out[k]);
                out[k] = NULL;
            }
            return false;
        }
    }
    it->next += b;
    return true;
}
