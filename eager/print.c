/*
 * eager/print.c - the readable text form of a tensor, NumPy style: nested
 * brackets, and for more than 1000 elements only the first and last three
 * entries of each dimension with "..." between.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define PRINT_THRESHOLD 1000
#define PRINT_EDGE 3

void em__text_put(em__text *out, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    size_t room = out->used < out->size ? out->size - out->used : 0;
    int n = vsnprintf(room ? out->buf + out->used : NULL, room, fmt, args);
    va_end(args);
    if (n > 0)
        out->used += (size_t)n;
}

static void put_element(em__text *out, const em_tensor *t, int64_t i)
{
    em_dtype dtype = t->type.dtype;
    if (dtype == EM_BOOL) {
        em__text_put(out, "%s", ((const bool *)t->data)[i] ? "true" : "false");
    } else if (em_dtype_is_float(dtype)) {
        double v = em__load_f64(t->data, dtype, i);
        em__text_put(out, dtype == EM_FLOAT32 ? "%.6g" : "%.10g", v);
    } else {
        em__text_put(out, "%lld", (long long)em__load_i64(t->data, dtype, i));
    }
}

static void put_dim(em__text *out, const em_tensor *t, int dim, int64_t offset,
                    const int64_t *strides, bool truncate)
{
    if (dim == t->type.ndim) {
        put_element(out, t, offset);
        return;
    }
    int64_t n = t->type.shape[dim];
    em__text_put(out, "[");
    for (int64_t i = 0; i < n; i++) {
        if (truncate && n > 2 * PRINT_EDGE && i == PRINT_EDGE) {
            em__text_put(out, "...");
            i = n - PRINT_EDGE - 1;
            em__text_put(out, dim + 1 == t->type.ndim ? ", " : ",\n%*s",
                         dim + 1, "");
            continue;
        }
        put_dim(out, t, dim + 1, offset + i * strides[dim], strides, truncate);
        if (i + 1 < n)
            em__text_put(out, dim + 1 == t->type.ndim ? ", " : ",\n%*s",
                         dim + 1, "");
    }
    em__text_put(out, "]");
}

int em_tensor_format(const em_tensor *t, char *buf, size_t size)
{
    if (!buf)
        size = 0;
    em__text out = {buf, size, 0};
    if (size)
        buf[0] = '\0';
    if (!t) {
        em__text_put(&out, "NULL");
        return (int)out.used;
    }
    if (t->flags & EM__TENSOR_SYMBOLIC) {
        /* No value while tracing: say which node will compute it. */
        char type[200];
        em__text_put(&out, "tensor(<symbolic %%%d>, %s)", (int)t->node,
                     em__type_format(&t->type, type, sizeof type));
        return (int)out.used;
    }
    em_tensor *host = em__tensor_host(t, "tensor_format");
    if (!host)
        return -1;
    int64_t strides[EM_MAX_DIMS];
    em__strides(&t->type, strides);
    em__text_put(&out, "tensor(");
    put_dim(&out, host, 0, 0, strides, t->size > PRINT_THRESHOLD);
    char type[200];
    em__text_put(&out, ", %s", em__type_format(&t->type, type, sizeof type));
    if (em__tensor_device(t) != EM_CPU) {
        char device[32];
        em__text_put(
            &out, ", %s",
            em_device_name(em__tensor_device(t), device, sizeof device));
    }
    em__text_put(&out, ")");
    em__tensor_unref(host);
    return (int)out.used;
}

void em_tensor_print(const em_tensor *t, FILE *out)
{
    if (!out) {
        em__error("tensor_print: stream is NULL");
        return;
    }
    char small[4096];
    int n = em_tensor_format(t, small, sizeof small);
    if (n < (int)sizeof small) {
        fprintf(out, "%s\n", small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        fprintf(out, "%s...\n", small);
        return;
    }
    em_tensor_format(t, big, (size_t)n + 1);
    fprintf(out, "%s\n", big);
    free(big);
}
