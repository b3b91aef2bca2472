/*
 * eager/npy.c - em_npy_load / em_npy_save: NumPy .npy files, format
 * version 1.0 (ember/npy.h).
 *
 * A version 1.0 file is: the magic "\x93NUMPY", bytes 1 and 0, a u16
 * little-endian header length, the header (a Python dict literal with the
 * keys 'descr', 'fortran_order' and 'shape', padded with spaces and ended
 * by '\n' so that the data starts at a multiple of 64 bytes), then the
 * elements. The header is parsed strictly: what NumPy writes is accepted,
 * anything else is refused rather than guessed at.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c assumes a little-endian host"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static const struct {
    const char *descr;
    em_dtype dtype;
} descrs[] = {
    {"<f4", EM_FLOAT32}, {"<f8", EM_FLOAT64}, {"<i4", EM_INT32},
    {"<i8", EM_INT64},   {"|u1", EM_UINT8},   {"|b1", EM_BOOL},
};

/* ---- loading --------------------------------------------------------------*/

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_spaces(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* Consumes `word` (after spaces) when it comes next. */
static bool eat(cursor *c, const char *word)
{
    skip_spaces(c);
    size_t len = strlen(word);
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
        return false;
    c->p += len;
    return true;
}

/* A quoted string into out (at most size - 1 characters). */
static bool quoted(cursor *c, char *out, size_t size)
{
    skip_spaces(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (k + 1 >= size)
            return false;
        out[k++] = *c->p++;
    }
    out[k] = '\0';
    if (c->p >= c->end)
        return false;
    c->p++;
    return true;
}

static bool shape_tuple(cursor *c, int *ndim, int64_t *shape)
{
    if (!eat(c, "("))
        return false;
    *ndim = 0;
    for (;;) {
        if (eat(c, ")"))
            return true;
        skip_spaces(c);
        if (*ndim == EM_MAX_DIMS || c->p >= c->end || *c->p < '0' ||
            *c->p > '9')
            return false;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return false;
            v = v * 10 + (*c->p++ - '0');
        }
        shape[(*ndim)++] = v;
        if (!eat(c, ",")) {
            if (!eat(c, ")"))
                return false;
            return true;
        }
    }
}

static em_tensor *refuse(const char *path, const char *detail)
{
    em__error("npy_load '%s': %s", path, detail);
    return NULL;
}

/* Parses the header dict; on failure writes why into msg. */
static bool parse_header(const char *h, size_t len, em_dtype *dtype, int *ndim,
                         int64_t *shape, char *msg, size_t size)
{
    cursor c = {h, h + len};
    bool have_descr = false, have_order = false, have_shape = false;
    if (!eat(&c, "{")) {
        snprintf(msg, size, "header is not a dict");
        return false;
    }
    while (!eat(&c, "}")) {
        char key[32], descr[32];
        if (!quoted(&c, key, sizeof key) || !eat(&c, ":")) {
            snprintf(msg, size, "malformed header");
            return false;
        }
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!quoted(&c, descr, sizeof descr)) {
                snprintf(msg, size,
                         "malformed 'descr' (structured arrays "
                         "are not supported)");
                return false;
            }
            size_t i = 0;
            while (i < sizeof descrs / sizeof *descrs &&
                   strcmp(descrs[i].descr, descr) != 0)
                i++;
            if (i == sizeof descrs / sizeof *descrs) {
                snprintf(msg, size,
                         "dtype '%s' is not supported (only <f4 <f8 <i4 <i8 "
                         "|u1 |b1, little-endian)",
                         descr);
                return false;
            }
            *dtype = descrs[i].dtype;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (eat(&c, "True")) {
                snprintf(msg, size,
                         "Fortran-order arrays are not supported "
                         "(save a C-contiguous array)");
                return false;
            }
            if (!eat(&c, "False")) {
                snprintf(msg, size, "malformed 'fortran_order'");
                return false;
            }
            have_order = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!shape_tuple(&c, ndim, shape)) {
                snprintf(msg, size,
                         "malformed 'shape' (at most %d "
                         "non-negative dimensions)",
                         EM_MAX_DIMS);
                return false;
            }
            have_shape = true;
        } else {
            snprintf(msg, size, "unexpected or repeated key '%s'", key);
            return false;
        }
        if (!eat(&c, ",")) {
            if (!eat(&c, "}")) {
                snprintf(msg, size, "malformed header");
                return false;
            }
            break;
        }
    }
    skip_spaces(&c);
    while (c.p < c.end && *c.p == '\n')
        c.p++;
    if (c.p != c.end || !have_descr || !have_order || !have_shape) {
        snprintf(msg, size,
                 "header lacks descr, fortran_order or shape, or "
                 "has text after the dict");
        return false;
    }
    return true;
}

em_tensor *em_npy_load(const char *path)
{
    if (!path) {
        em__error("npy_load: needs a path");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        em__error("npy_load '%s': cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    unsigned char pre[10];
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return refuse(path, "not a readable regular file");
    }
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, npy_magic, 6) != 0) {
        fclose(f);
        return refuse(path, "not a .npy file (wrong magic bytes)");
    }
    if (pre[6] != 1 || pre[7] != 0) {
        char m[120];
        snprintf(m, sizeof m, "format version %u.%u, only 1.0 is supported",
                 pre[6], pre[7]);
        fclose(f);
        return refuse(path, m);
    }
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    char header[65536];
    if (fread(header, 1, hlen, f) != hlen) {
        fclose(f);
        return refuse(path, "truncated in its header");
    }
    em_dtype dtype = EM_FLOAT32;
    int ndim = 0;
    int64_t shape[EM_MAX_DIMS];
    char msg[200] = "";
    em__type type;
    if (!parse_header(header, hlen, &dtype, &ndim, shape, msg, sizeof msg) ||
        !em__type_make(&type, dtype, ndim, shape)) {
        fclose(f);
        return refuse(path, msg[0] ? msg : "invalid or too large shape");
    }
    uint64_t nbytes = (uint64_t)em__type_size(&type) * em_dtype_size(dtype);
    uint64_t have = (uint64_t)st.st_size - 10 - hlen;
    if ((uint64_t)st.st_size < 10 + hlen || have != nbytes) {
        char m[200];
        snprintf(m, sizeof m,
                 "holds %llu bytes of data, the header's type "
                 "needs %llu",
                 (unsigned long long)have, (unsigned long long)nbytes);
        fclose(f);
        return refuse(path, m);
    }
    em_tensor *t = em__tensor_new(&type);
    if (!t) {
        fclose(f);
        return NULL;
    }
    bool ok = fread(t->data, 1, (size_t)nbytes, f) == nbytes;
    fclose(f);
    if (!ok) {
        em_tensor_free(t);
        return refuse(path, "truncated in its data");
    }
    if (dtype == EM_BOOL)
        for (int64_t i = 0; i < t->size; i++)
            if (((unsigned char *)t->data)[i] > 1) {
                em_tensor_free(t);
                return refuse(path, "bool element other than 0 or 1");
            }
    return t;
}

/* ---- saving ---------------------------------------------------------------*/

int em_npy_save(const char *path, const em_tensor *t)
{
    if (!path || !t) {
        em__error("npy_save: needs a path and a tensor");
        return -1;
    }
    if (!em__tensor_readable(t, "npy_save"))
        return -1;
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof descrs / sizeof *descrs; i++)
        if (descrs[i].dtype == t->type.dtype)
            descr = descrs[i].descr;
    char dict[400];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr ? descr : "?");
    for (int d = 0; d < t->type.ndim; d++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%s%lld",
                        d ? ", " : "", (long long)t->type.shape[d]);
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%s), }",
                    t->type.ndim == 1 ? "," : "");
    /* Spaces and '\n' pad the data's start to a multiple of 64 bytes. */
    size_t total = ((size_t)10 + (size_t)len + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    unsigned char pre[10];
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    memset(dict + len, ' ', hlen - (size_t)len - 1);
    dict[hlen - 1] = '\n';
    FILE *f = fopen(path, "wb");
    if (!f) {
        em__error("npy_save '%s': cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t nbytes = (size_t)t->size * em_dtype_size(t->type.dtype);
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, hlen, f) == hlen &&
              (nbytes == 0 || fwrite(t->data, 1, nbytes, f) == nbytes);
    int error = errno;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(path);
        em__error("npy_save '%s': writing failed: %s", path,
                  strerror(error ? error : EIO));
        return -1;
    }
    return 0;
}
