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
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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

/* Records "idx_load: '<path>': <detail>": every message of the loader
 * starts with the file's name. */
static void idx_error(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void idx_error(const char *path, const char *fmt, ...)
{
    char detail[600];
    va_list args;
    va_start(args, fmt);
    vsnprintf(detail, sizeof detail, fmt, args);
    va_end(args);
    em__error("idx_load: '%s': %s", path, detail);
}

/* zlib's message for the last error, without the "<fd:N>: " it puts before
 * messages about a file opened with gzdopen. */
static const char *gz_why(gzFile f)
{
    int code;
    const char *why = gzerror(f, &code);
    const char *colon = strstr(why, ": ");
    if (why[0] == '<' && colon)
        why = colon + 2;
    return why;
}

/* Reads up to `bytes` bytes; returns how many were read, or -1 when zlib
 * reports an error (recorded). */
static int64_t read_all(gzFile f, const char *path, void *buf, int64_t bytes)
{
    int64_t got = 0;
    while (got < bytes) {
        int64_t want = bytes - got;
        if (want > INT_MAX / 2)
            want = INT_MAX / 2; /* gzread counts in int */
        int n = gzread(f, (char *)buf + got, (unsigned)want);
        if (n < 0) {
            idx_error(path, "%s", gz_why(f));
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
 * and shape into *out, its element count into *count. False with an
 * error. */
static bool idx_read_header(gzFile f, const char *path, const idx_type **type,
                            em__type *out, int64_t *count)
{
    unsigned char head[4 + 4 * 255];
    int64_t got = read_all(f, path, head, 4);
    if (got < 0)
        return false;
    if (got < 4) {
        idx_error(path, "truncated: %lld of 4 header bytes", (long long)got);
        return false;
    }
    if (head[0] != 0 || head[1] != 0) {
        idx_error(path,
                  "bad magic %02x %02x %02x %02x (an IDX file starts 00 00 "
                  "type ndim)",
                  head[0], head[1], head[2], head[3]);
        return false;
    }
    *type = idx_type_find(head[2]);
    if (!*type) {
        idx_error(path, "unknown element type 0x%02x", head[2]);
        return false;
    }
    int ndim = head[3];
    if (ndim > EM_MAX_DIMS) {
        idx_error(path, "%d dimensions, at most %d supported", ndim,
                  EM_MAX_DIMS);
        return false;
    }
    got = read_all(f, path, head + 4, 4 * ndim);
    if (got < 0)
        return false;
    if (got < 4 * ndim) {
        idx_error(path,
                  "truncated in its header: %d dimensions announced, %lld "
                  "bytes of sizes found",
                  ndim, (long long)got);
        return false;
    }
    int64_t shape[EM_MAX_DIMS], size = 1;
    for (int i = 0; i < ndim; i++) {
        shape[i] = load_be32(head + 4 + 4 * i);
        if (shape[i] > 0 && size > INT64_MAX / 8 / shape[i]) {
            idx_error(path, "announces too many elements");
            return false;
        }
        size *= shape[i];
    }
    em__type_make(out, (*type)->dtype, ndim, shape);
    *count = size;
    return true;
}

static void idx_truncated(const char *path, const em__type *ttype,
                          const idx_type *type, int64_t bytes, int64_t found)
{
    char text[200];
    idx_error(path, "truncated: %s of %s needs %lld bytes of data, found %lld",
              em_shape_format(ttype->ndim, ttype->shape, text, sizeof text),
              type->name, (long long)bytes, (long long)found);
}

static void idx_too_long(const char *path, int64_t elements)
{
    idx_error(path, "data after the %lld elements its header announces",
              (long long)elements);
}

/* A tensor of ttype, with any failure recorded under the loader's name. */
static em_tensor *idx_tensor_new(const char *path, const em__type *ttype)
{
    em_tensor *t = em__tensor_new(ttype);
    if (!t) {
        const char *why = em_error_peek();
        idx_error(path, "%s", why ? why : "out of memory");
    }
    return t;
}

/* Reads the data into its final place (the tensor, or a staging buffer
 * for the narrow integer types that are widened), after the first `got`
 * bytes already read into `prefix`, and checks that nothing follows it.
 * Returns the tensor, or NULL with an error. */
static em_tensor *idx_fill(gzFile f, const char *path, const idx_type *type,
                           const em__type *ttype, int64_t size,
                           const unsigned char *prefix, int64_t got)
{
    int64_t bytes = size * type->bytes;
    em_tensor *t = idx_tensor_new(path, ttype);
    if (!t)
        return NULL;
    bool widen = em_dtype_size(ttype->dtype) != (size_t)type->bytes;
    unsigned char *raw =
        widen ? calloc((size_t)(bytes ? bytes : 1), 1) : t->data;
    if (!raw) {
        idx_error(path, "out of memory");
        em_tensor_free(t);
        return NULL;
    }
    if (got > 0)
        memcpy(raw, prefix, (size_t)got);

    unsigned char extra;
    int64_t rest = read_all(f, path, raw + got, bytes - got);
    int64_t more = rest == bytes - got ? read_all(f, path, &extra, 1) : 0;
    if (rest >= 0 && rest < bytes - got)
        idx_truncated(path, ttype, type, bytes, got + rest);
    else if (more > 0)
        idx_too_long(path, size);
    bool ok = rest == bytes - got && more == 0;
    if (ok)
        idx_to_host(type, widen ? raw : NULL, t->data, size);
    if (widen)
        free(raw);
    if (!ok) {
        em_tensor_free(t);
        return NULL;
    }
    return t;
}

/* A plain regular file must be exactly as long as its header says; that is
 * checked against its size before anything is allocated. */
static em_tensor *idx_read_plain(gzFile f, const char *path,
                                 const idx_type *type, const em__type *ttype,
                                 int64_t size, int64_t found)
{
    int64_t bytes = size * type->bytes;
    if (found < bytes) {
        idx_truncated(path, ttype, type, bytes, found);
        return NULL;
    }
    if (found > bytes) {
        idx_too_long(path, size);
        return NULL;
    }
    return idx_fill(f, path, type, ttype, size, NULL, 0);
}

/* A compressed file (or a pipe) gives its length away only as it is read.
 * The data goes into a buffer that starts at min(bytes, IDX_CHUNK) and
 * doubles while data keeps coming; the tensor is allocated only once a
 * quarter of what the header announces has arrived, so a small file that
 * claims a huge shape fails fast without a huge allocation. */
#define IDX_CHUNK ((int64_t)16 << 20)

static em_tensor *idx_read_stream(gzFile f, const char *path,
                                  const idx_type *type, const em__type *ttype,
                                  int64_t size)
{
    int64_t bytes = size * type->bytes;
    int64_t cap = bytes < IDX_CHUNK ? bytes : IDX_CHUNK, got = 0;
    unsigned char *buf = NULL;
    for (;;) {
        unsigned char *grown = realloc(buf, (size_t)(cap ? cap : 1));
        if (!grown) {
            free(buf);
            idx_error(path, "out of memory");
            return NULL;
        }
        buf = grown;
        int64_t n = read_all(f, path, buf + got, cap - got);
        if (n < 0) {
            free(buf);
            return NULL;
        }
        got += n;
        if (got < cap || got >= bytes / 4)
            break;
        cap *= 2; /* still below bytes / 2 */
    }
    em_tensor *t = NULL;
    if (got < cap)
        idx_truncated(path, ttype, type, bytes, got);
    else
        t = idx_fill(f, path, type, ttype, size, buf, got);
    free(buf);
    return t;
}

em_tensor *em_idx_load(const char *path)
{
    if (!path) {
        em__error("idx_load: path is NULL");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        idx_error(path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    bool is_dir = false;
    if (fstat(fd, &st) != 0 || (is_dir = S_ISDIR(st.st_mode))) {
        idx_error(path, "cannot read: %s",
                  is_dir ? "it is a directory" : strerror(errno));
        close(fd);
        return NULL;
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        idx_error(path, "out of memory");
        close(fd);
        return NULL;
    }

    const idx_type *type;
    em__type ttype;
    int64_t size;
    em_tensor *t = NULL;
    if (idx_read_header(f, path, &type, &ttype, &size)) {
        /* gzdirect is true for a file zlib reads as it is (not gzip). */
        if (S_ISREG(st.st_mode) && gzdirect(f))
            t = idx_read_plain(f, path, type, &ttype, size,
                               (int64_t)st.st_size - 4 - 4 * ttype.ndim);
        else
            t = idx_read_stream(f, path, type, &ttype, size);
    }
    gzclose(f);
    return t;
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
        if (em__tensor_device(tensors[i]) != EM_CPU) {
            char name[32];
            snprintf(detail, sizeof detail,
                     "tensor %d is on %s; batches are cut on the host: keep "
                     "the data set on the cpu and move each batch with "
                     "em_tensor_to",
                     i,
                     em_device_name(em__tensor_device(tensors[i]), name,
                                    sizeof name));
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
    /* rows + batch - 1 could overflow for a huge batch. */
    int64_t full = it->rows / it->batch;
    return it->drop_last || it->rows % it->batch == 0 ? full : full + 1;
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
