/*
 * eager/dtype.c - dtypes, types (dtype + shape), broadcasting and element
 * conversion.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static const char *const dtype_names[EM_DTYPE_COUNT] = {
    [EM_BOOL] = "bool",   [EM_UINT8] = "uint8",     [EM_INT32] = "int32",
    [EM_INT64] = "int64", [EM_FLOAT32] = "float32", [EM_FLOAT64] = "float64",
};

static const size_t dtype_sizes[EM_DTYPE_COUNT] = {
    [EM_BOOL] = 1,  [EM_UINT8] = 1,   [EM_INT32] = 4,
    [EM_INT64] = 8, [EM_FLOAT32] = 4, [EM_FLOAT64] = 8,
};

static bool dtype_valid(em_dtype dtype)
{
    return (unsigned)dtype < EM_DTYPE_COUNT;
}

const char *em_dtype_name(em_dtype dtype)
{
    return dtype_valid(dtype) ? dtype_names[dtype] : "invalid";
}

size_t em_dtype_size(em_dtype dtype)
{
    return dtype_valid(dtype) ? dtype_sizes[dtype] : 0;
}

bool em_dtype_is_float(em_dtype dtype)
{
    return dtype == EM_FLOAT32 || dtype == EM_FLOAT64;
}

em_dtype em_dtype_promote(em_dtype a, em_dtype b)
{
    if (!dtype_valid(a) || !dtype_valid(b))
        return EM_DTYPE_COUNT;
    /* The enum is declared in promotion order. */
    return a > b ? a : b;
}

/* ---- types ----------------------------------------------------------------*/

int64_t em__type_size(const em__type *type)
{
    int64_t size = 1;
    for (int i = 0; i < type->ndim; i++)
        size *= type->shape[i];
    return size;
}

bool em__type_fits(const em__type *type)
{
    /* Zero-size dimensions count as 1, so that strides stay representable
     * too; the bound leaves room for the widest dtype's byte count. */
    int64_t size = 1;
    for (int i = 0; i < type->ndim; i++) {
        int64_t d = type->shape[i] > 1 ? type->shape[i] : 1;
        if (__builtin_mul_overflow(size, d, &size))
            return false;
    }
    return size <= INT64_MAX / 8;
}

bool em__type_make(em__type *type, em_dtype dtype, int ndim,
                   const int64_t *shape)
{
    if (!dtype_valid(dtype) || ndim < 0 || ndim > EM_MAX_DIMS)
        return false;
    if (ndim > 0 && !shape)
        return false;
    memset(type, 0, sizeof *type);
    type->dtype = dtype;
    type->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return false;
        type->shape[i] = shape[i];
    }
    return em__type_fits(type);
}

bool em__type_equal_shape(const em__type *a, const em__type *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return false;
    return true;
}

char *em_shape_format(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0 || !buf)
        return buf;
    if (!shape && ndim > 0) {
        snprintf(buf, size, "(null)");
        return buf;
    }
    buf[0] = '\0';
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld",
                                 i ? "," : "", (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

char *em__type_format(const em__type *type, char *buf, size_t size)
{
    char shape[160];
    em_shape_format(type->ndim, type->shape, shape, sizeof shape);
    snprintf(buf, size, "%s%s", em_dtype_name(type->dtype), shape);
    return buf;
}

void em__strides(const em__type *type, int64_t *strides)
{
    int64_t stride = 1;
    for (int i = type->ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= type->shape[i];
    }
}

bool em__broadcast_shape(const em__type *a, const em__type *b, em__type *out)
{
    int ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t shape[EM_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int ia = i - (ndim - a->ndim), ib = i - (ndim - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1;
        int64_t db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return false;
        shape[i] = da == 1 ? db : da;
    }
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof(int64_t) * (size_t)ndim);
    return true;
}

void em__broadcast_strides(const em__type *in, const em__type *out,
                           int64_t *strides)
{
    int64_t own[EM_MAX_DIMS];
    em__strides(in, own);
    int lead = out->ndim - in->ndim;
    for (int i = 0; i < out->ndim; i++) {
        int j = i - lead;
        strides[i] = (j < 0 || in->shape[j] == 1) ? 0 : own[j];
    }
}

bool em__normalize_axis(int *axis, int ndim)
{
    if (*axis < -ndim || *axis >= ndim)
        return false;
    if (*axis < 0)
        *axis += ndim;
    return true;
}

/* ---- element access and conversion ---------------------------------------*/

double em__load_f64(const void *data, em_dtype dtype, int64_t i)
{
    switch (dtype) {
    case EM_BOOL:
        return ((const bool *)data)[i];
    case EM_UINT8:
        return ((const uint8_t *)data)[i];
    case EM_INT32:
        return ((const int32_t *)data)[i];
    case EM_INT64:
        return (double)((const int64_t *)data)[i];
    case EM_FLOAT32:
        return ((const float *)data)[i];
    case EM_FLOAT64:
        return ((const double *)data)[i];
    default:
        return NAN;
    }
}

int64_t em__load_i64(const void *data, em_dtype dtype, int64_t i)
{
    switch (dtype) {
    case EM_BOOL:
        return ((const bool *)data)[i];
    case EM_UINT8:
        return ((const uint8_t *)data)[i];
    case EM_INT32:
        return ((const int32_t *)data)[i];
    case EM_INT64:
        return ((const int64_t *)data)[i];
    default: {
        double v = em__load_f64(data, dtype, i);
        /* Out-of-range and NaN floats map to 0 rather than undefined
         * behaviour. */
        if (!(v > -9.2e18 && v < 9.2e18))
            return 0;
        return (int64_t)v;
    }
    }
}

/* A double to an integer type, truncating toward zero; NaN and values out
 * of range give 0 (C leaves them undefined). */
static int64_t clamp_to_i64(double v, double lo, double hi)
{
    if (!(v >= lo && v <= hi))
        return 0;
    return (int64_t)v;
}

void em__store_f64(void *data, em_dtype dtype, int64_t i, double v)
{
    switch (dtype) {
    case EM_BOOL:
        ((bool *)data)[i] = v != 0;
        break;
    case EM_UINT8:
        ((uint8_t *)data)[i] = (uint8_t)clamp_to_i64(v, 0, 255);
        break;
    case EM_INT32:
        ((int32_t *)data)[i] =
            (int32_t)clamp_to_i64(v, -2147483648.0, 2147483647.0);
        break;
    case EM_INT64:
        ((int64_t *)data)[i] = clamp_to_i64(v, -9.2e18, 9.2e18);
        break;
    case EM_FLOAT32:
        ((float *)data)[i] = (float)v;
        break;
    case EM_FLOAT64:
        ((double *)data)[i] = v;
        break;
    default:
        break;
    }
}

void em__convert(const void *src, em_dtype from, void *dst, em_dtype to,
                 int64_t n)
{
    /* Nothing to do, and memcpy must not see a NULL pointer even then. */
    if (n <= 0)
        return;
    if (from == to) {
        memcpy(dst, src, (size_t)n * em_dtype_size(from));
        return;
    }
    if (from == EM_FLOAT32 && to == EM_FLOAT64) {
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] = ((const float *)src)[i];
        return;
    }
    if (from == EM_FLOAT64 && to == EM_FLOAT32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)((const double *)src)[i];
        return;
    }
    if (from == EM_UINT8 && to == EM_FLOAT32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = ((const uint8_t *)src)[i];
        return;
    }
    bool integer_path =
        !em_dtype_is_float(from) && !em_dtype_is_float(to) && to != EM_BOOL;
    for (int64_t i = 0; i < n; i++) {
        if (integer_path) {
            /* Exact for int64 values a double cannot hold; wraps like C. */
            int64_t v = em__load_i64(src, from, i);
            switch (to) {
            case EM_UINT8:
                ((uint8_t *)dst)[i] = (uint8_t)v;
                break;
            case EM_INT32:
                ((int32_t *)dst)[i] = (int32_t)v;
                break;
            default:
                ((int64_t *)dst)[i] = v;
                break;
            }
        } else {
            em__store_f64(dst, to, i, em__load_f64(src, from, i));
        }
    }
}
