/*
 * eager/checkpoint.c - em_checkpoint_save / em_checkpoint_restore, in the
 * format described in ember/checkpoint.h.
 *
 * Saving is atomic by rename: readers of `path` see the old file or the
 * new one. Restoring parses the whole file into a table of entries that
 * point into the buffer, with every length checked against what is left
 * of the file before it is used, and copies values only once every
 * requested variable has been matched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

/* Element data is written in host order, which the format fixes as
 * little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c assumes a little-endian host"
#endif

static const char magic[8] = {'E', 'M', 'B', 'E', 'R', 'C', 'K', 'P'};
enum { HEADER_BYTES = 20 };
/* The smallest entry: name_len, a 1-byte name, dtype, ndim, nbytes, crc. */
enum { MIN_ENTRY_BYTES = 4 + 1 + 1 + 1 + 8 + 4 };

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* zlib's crc32 takes a uInt length: feed big buffers in pieces. */
static uint32_t crc_update(uint32_t crc, const void *data, size_t len)
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

/* The variable list both directions need: non-NULL concrete variables
 * with distinct names. */
static bool check_variables(const char *what, const char *path, int n,
                            em_tensor *const *vars)
{
    if (!path || n < 0 || (n > 0 && !vars)) {
        em__error("%s: needs a path, n >= 0 and a variable array (n = %d)",
                  what, n);
        return false;
    }
    if (em__thread_state()->tracing) {
        em__error("%s '%s': not allowed while tracing '%s' (the values "
                  "would be those of trace time only)",
                  what, path, em__thread_state()->tracing);
        return false;
    }
    for (int i = 0; i < n; i++) {
        const em_tensor *v = vars[i];
        if (!em_tensor_is_variable(v)) {
            em__error("%s '%s': entry %d is %s", what, path, i,
                      v ? "not a variable" : "NULL");
            return false;
        }
        if (!em__tensor_readable(v, what))
            return false;
        size_t len = strlen(v->name);
        if (len == 0 || len > EM_CHECKPOINT_MAX_NAME) {
            em__error("%s '%s': variable %d's name is %zu bytes long "
                      "(1 to %d allowed)",
                      what, path, i, len, EM_CHECKPOINT_MAX_NAME);
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (strcmp(vars[j]->name, v->name) == 0) {
                em__error("%s '%s': variables %d and %d are both named '%s'",
                          what, path, j, i, v->name);
                return false;
            }
        }
    }
    return true;
}

/* ---- saving -----------------------------------------------------------*/

typedef struct writer {
    FILE *f;
    uint32_t crc;
    bool failed;
    int error; /* errno of the first failure */
} writer;

static void put(writer *w, const void *data, size_t len)
{
    w->crc = crc_update(w->crc, data, len);
    if (w->failed || len == 0)
        return;
    if (fwrite(data, 1, len, w->f) != len) {
        w->failed = true;
        w->error = errno ? errno : EIO;
    }
}

static void write_entry(writer *w, const em_tensor *v)
{
    unsigned char buf[8];
    size_t name_len = strlen(v->name);
    w->crc = (uint32_t)crc32(0, Z_NULL, 0);
    put_u32(buf, (uint32_t)name_len);
    put(w, buf, 4);
    put(w, v->name, name_len);
    buf[0] = (unsigned char)v->type.dtype;
    buf[1] = (unsigned char)v->type.ndim;
    put(w, buf, 2);
    for (int d = 0; d < v->type.ndim; d++) {
        put_u64(buf, (uint64_t)v->type.shape[d]);
        put(w, buf, 8);
    }
    size_t nbytes = em_tensor_nbytes(v);
    put_u64(buf, (uint64_t)nbytes);
    put(w, buf, 8);
    put(w, v->data, nbytes);
    put_u32(buf, w->crc);
    put(w, buf, 4);
}

/* The variables to write, for em__file_replace. */
typedef struct save_job {
    int n;
    em_tensor *const *variables;
} save_job;

static bool write_checkpoint(FILE *f, void *user, int *error)
{
    const save_job *job = user;
    writer w = {.f = f};
    unsigned char header[HEADER_BYTES];
    memcpy(header, magic, 8);
    put_u32(header + 8, EM_CHECKPOINT_VERSION);
    put_u32(header + 12, (uint32_t)job->n);
    put_u32(header + 16, (uint32_t)crc32(0, header, 16));
    put(&w, header, sizeof header);
    for (int i = 0; i < job->n && !w.failed; i++)
        write_entry(&w, job->variables[i]);
    *error = w.error;
    return !w.failed;
}

int em_checkpoint_save(const char *path, int n, em_tensor *const *variables)
{
    if (!check_variables("checkpoint_save", path, n, variables))
        return -1;
    save_job job = {n, variables};
    return em__file_replace(path, "checkpoint_save", write_checkpoint, &job);
}

/* ---- restoring --------------------------------------------------------*/

/* One parsed entry, pointing into the file's buffer. */
typedef struct entry {
    const char *name;
    uint32_t name_len;
    em__type type;
    const unsigned char *data;
    size_t offset; /* of the entry in the file */
} entry;

typedef struct reader {
    const char *path;
    const unsigned char *buf;
    size_t size, pos;
} reader;

/* A name from the file as printable text (it may hold any bytes). */
static void printable_name(const char *name, size_t len, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < size; i++) {
        unsigned char c = (unsigned char)name[i];
        out[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[k] = '\0';
}

/* Fails unless `need` more bytes remain. */
static bool have(const reader *r, size_t need, int index)
{
    if (need <= r->size - r->pos)
        return true;
    em__error("checkpoint '%s': truncated in entry %d at byte %zu (needs "
              "%zu more bytes, the file has %zu)",
              r->path, index, r->pos, need, r->size - r->pos);
    return false;
}

static bool parse_entry(reader *r, int index, entry *e)
{
    size_t start = r->pos;
    e->offset = start;
    if (!have(r, 4, index))
        return false;
    uint32_t name_len = get_u32(r->buf + r->pos);
    if (name_len == 0 || name_len > EM_CHECKPOINT_MAX_NAME) {
        em__error("checkpoint '%s': entry %d at byte %zu has a name of "
                  "%u bytes (1 to %d allowed)",
                  r->path, index, start, name_len, EM_CHECKPOINT_MAX_NAME);
        return false;
    }
    r->pos += 4;
    if (!have(r, (size_t)name_len + 2, index))
        return false;
    e->name = (const char *)r->buf + r->pos;
    e->name_len = name_len;
    r->pos += name_len;
    char shown[96];
    printable_name(e->name, name_len, shown, sizeof shown);
    unsigned dtype = r->buf[r->pos], ndim = r->buf[r->pos + 1];
    r->pos += 2;
    if (dtype >= EM_DTYPE_COUNT || ndim > EM_MAX_DIMS) {
        em__error("checkpoint '%s': entry %d ('%s') at byte %zu has dtype "
                  "%u and %u dimensions (invalid)",
                  r->path, index, shown, start, dtype, ndim);
        return false;
    }
    if (!have(r, (size_t)ndim * 8 + 8, index))
        return false;
    int64_t shape[EM_MAX_DIMS];
    for (unsigned d = 0; d < ndim; d++) {
        uint64_t dim = get_u64(r->buf + r->pos + 8 * d);
        shape[d] = dim > INT64_MAX ? -1 : (int64_t)dim;
    }
    r->pos += (size_t)ndim * 8;
    if (!em__type_make(&e->type, (em_dtype)dtype, (int)ndim, shape)) {
        em__error("checkpoint '%s': entry %d ('%s') at byte %zu has an "
                  "invalid or too large shape",
                  r->path, index, shown, start);
        return false;
    }
    uint64_t nbytes = get_u64(r->buf + r->pos);
    uint64_t expected = (uint64_t)em__type_size(&e->type) *
                        (uint64_t)em_dtype_size((em_dtype)dtype);
    if (nbytes != expected) {
        char t[200];
        em__error("checkpoint '%s': entry %d ('%s') at byte %zu holds %llu "
                  "bytes of data, but %s needs %llu",
                  r->path, index, shown, start, (unsigned long long)nbytes,
                  em__type_format(&e->type, t, sizeof t),
                  (unsigned long long)expected);
        return false;
    }
    r->pos += 8;
    if (nbytes > SIZE_MAX - 4 || !have(r, (size_t)nbytes + 4, index))
        return false;
    e->data = r->buf + r->pos;
    r->pos += (size_t)nbytes;
    uint32_t stored = get_u32(r->buf + r->pos);
    uint32_t actual = crc_update((uint32_t)crc32(0, Z_NULL, 0), r->buf + start,
                                 r->pos - start);
    if (stored != actual) {
        em__error("checkpoint '%s': entry %d ('%s', bytes %zu-%zu) "
                  "checksum mismatch at byte %zu",
                  r->path, index, shown, start, r->pos + 3, r->pos);
        return false;
    }
    r->pos += 4;
    return true;
}

/* Parses the header and every entry into *entries (malloc'd). */
static bool parse_file(reader *r, entry **entries, uint32_t *count)
{
    if (r->size < HEADER_BYTES || memcmp(r->buf, magic, 8) != 0) {
        em__error("checkpoint '%s': not an ember checkpoint (%s)", r->path,
                  r->size < HEADER_BYTES ? "shorter than its header"
                                         : "wrong magic bytes");
        return false;
    }
    if (get_u32(r->buf + 16) != (uint32_t)crc32(0, r->buf, 16)) {
        em__error("checkpoint '%s': header checksum mismatch at byte 16",
                  r->path);
        return false;
    }
    uint32_t version = get_u32(r->buf + 8);
    if (version != EM_CHECKPOINT_VERSION) {
        em__error("checkpoint '%s': format version %u, this ember reads "
                  "version %d",
                  r->path, version, EM_CHECKPOINT_VERSION);
        return false;
    }
    *count = get_u32(r->buf + 12);
    r->pos = HEADER_BYTES;
    /* Bounds the allocation below by the file's size. */
    if (*count > (r->size - HEADER_BYTES) / MIN_ENTRY_BYTES) {
        em__error("checkpoint '%s': the header counts %u entries, more than "
                  "%zu bytes can hold (truncated file?)",
                  r->path, *count, r->size);
        return false;
    }
    *entries = malloc(((size_t)*count + 1) * sizeof **entries);
    if (!*entries) {
        em__error("checkpoint '%s': out of memory", r->path);
        return false;
    }
    for (uint32_t i = 0; i < *count; i++)
        if (!parse_entry(r, (int)i, &(*entries)[i]))
            return false;
    if (r->pos != r->size) {
        em__error("checkpoint '%s': %zu unexpected bytes after the last "
                  "entry, at byte %zu",
                  r->path, r->size - r->pos, r->pos);
        return false;
    }
    return true;
}

/* The entry for v, checked against v's type. NULL with an error. */
static const entry *match(const char *path, const entry *entries,
                          uint32_t count, const em_tensor *v)
{
    size_t len = strlen(v->name);
    const entry *found = NULL;
    for (uint32_t i = 0; i < count; i++) {
        const entry *e = &entries[i];
        if (e->name_len != len || memcmp(e->name, v->name, len) != 0)
            continue;
        if (found) {
            em__error("checkpoint '%s': variable '%s' has two entries, at "
                      "bytes %zu and %zu",
                      path, v->name, found->offset, e->offset);
            return NULL;
        }
        found = e;
    }
    if (!found) {
        em__error("checkpoint '%s': no entry for variable '%s'", path, v->name);
        return NULL;
    }
    if (found->type.dtype != v->type.dtype ||
        !em__type_equal_shape(&found->type, &v->type)) {
        char a[200], b[200];
        em__error("checkpoint '%s': variable '%s' is %s in the file, %s in "
                  "memory",
                  path, v->name, em__type_format(&found->type, a, sizeof a),
                  em__type_format(&v->type, b, sizeof b));
        return NULL;
    }
    return found;
}

int em_checkpoint_restore(const char *path, int n, em_tensor *const *variables)
{
    if (!check_variables("checkpoint_restore", path, n, variables))
        return -1;
    reader r = {.path = path};
    unsigned char *buf = NULL;
    if (!em__file_read(path, "checkpoint", &buf, &r.size))
        return -1;
    r.buf = buf;
    entry *entries = NULL;
    uint32_t count = 0;
    const entry **chosen = malloc((size_t)(n > 0 ? n : 1) * sizeof *chosen);
    bool ok = chosen != NULL;
    if (!ok)
        em__error("checkpoint '%s': out of memory", path);
    ok = ok && parse_file(&r, &entries, &count);
    for (int i = 0; ok && i < n; i++)
        ok = (chosen[i] = match(path, entries, count, variables[i])) != NULL;
    /* Nothing has changed until here; copying cannot fail. */
    for (int i = 0; ok && i < n; i++)
        memcpy(variables[i]->data, chosen[i]->data,
               em_tensor_nbytes(variables[i]));
    free(chosen);
    free(entries);
    free(buf);
    return ok ? 0 : -1;
}
