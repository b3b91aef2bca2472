/*
 * eager/tensor.c - tensor storage, reference counts, creation and reading
 * values back.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Storage is aligned for the widest vector loads. */
#define STORAGE_ALIGN 64

static _Atomic int64_t live_tensors;
static _Atomic int64_t live_bytes;
static _Atomic int64_t peak_bytes;
static _Atomic uint64_t next_id = 1;

em_memory_stats em_memory_get_stats(void)
{
    em_memory_stats stats = {
        .live_tensors = atomic_load(&live_tensors),
        .live_bytes = atomic_load(&live_bytes),
        .peak_bytes = atomic_load(&peak_bytes),
    };
    return stats;
}

/* Freed blocks of 4 KiB and more are kept for reuse, per exact size, up to
 * CACHE_LIMIT bytes in all: a training step frees and allocates the same
 * sizes every step, and returning them to the system would make the next
 * step fault in fresh pages. */
#define CACHE_MIN_BYTES 4096
#define CACHE_LIMIT ((size_t)256 << 20)
#define CACHE_SIZES 64

typedef struct cached_blocks {
    size_t total;       /* block size, header included */
    em__storage *first; /* linked through their data pointer */
} cached_blocks;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cached_blocks cache[CACHE_SIZES];
static size_t cache_bytes;

/* Under AddressSanitizer, reuse would hide use-after-free: no cache. */
#ifdef __SANITIZE_ADDRESS__
#define CACHE_ENABLED false
#else
#define CACHE_ENABLED true
#endif

static em__storage *cache_take(size_t total)
{
    em__storage *s = NULL;
    if (!CACHE_ENABLED)
        return NULL;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SIZES; i++) {
        if (cache[i].total != total || !cache[i].first)
            continue;
        s = cache[i].first;
        cache[i].first = s->data;
        cache_bytes -= total;
        break;
    }
    pthread_mutex_unlock(&cache_lock);
    return s;
}

static bool cache_put(em__storage *s, size_t total)
{
    bool kept = false;
    if (!CACHE_ENABLED)
        return false;
    pthread_mutex_lock(&cache_lock);
    if (cache_bytes + total <= CACHE_LIMIT) {
        int slot = -1;
        for (int i = 0; i < CACHE_SIZES && slot < 0; i++)
            if (cache[i].total == total)
                slot = i;
        for (int i = 0; i < CACHE_SIZES && slot < 0; i++)
            if (!cache[i].first)
                slot = i;
        if (slot >= 0) {
            cache[slot].total = total;
            s->data = cache[slot].first;
            cache[slot].first = s;
            cache_bytes += total;
            kept = true;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    return kept;
}

static size_t storage_header(void)
{
    return (sizeof(em__storage) + STORAGE_ALIGN - 1) / STORAGE_ALIGN *
           STORAGE_ALIGN;
}

static size_t storage_total(size_t bytes)
{
    return (storage_header() + bytes + STORAGE_ALIGN - 1) / STORAGE_ALIGN *
           STORAGE_ALIGN;
}

/* Adds bytes to the live total and raises the peak with it. */
static void count_allocated(size_t bytes)
{
    int64_t now =
        atomic_fetch_add(&live_bytes, (int64_t)bytes) + (int64_t)bytes;
    int64_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now))
        ;
}

static em__storage *storage_new(size_t bytes)
{
    /* Header and elements in one block; the header pads to the alignment. */
    size_t total = storage_total(bytes);
    em__storage *s = total >= CACHE_MIN_BYTES ? cache_take(total) : NULL;
    /* Small blocks take malloc's fast path (16-byte aligned, plenty for a
     * few elements); larger ones are aligned for the widest vectors. */
    if (!s)
        s = total >= CACHE_MIN_BYTES ? aligned_alloc(STORAGE_ALIGN, total)
                                     : malloc(total);
    if (!s)
        return NULL;
    s->refcount = 1;
    s->bytes = bytes;
    s->data = (char *)s + storage_header();
    s->device = EM_CPU;
    count_allocated(bytes);
    return s;
}

static void storage_release(em__storage *s)
{
    if (--s->refcount > 0)
        return;
    atomic_fetch_sub(&live_bytes, (int64_t)s->bytes);
    if (s->device != EM_CPU) {
        em__device_installed.free(s->device, s->data);
        free(s);
        return;
    }
    size_t total = storage_total(s->bytes);
    if (total < CACHE_MIN_BYTES || !cache_put(s, total))
        free(s);
}

/* Device memory behind a host header; the backend caches the blocks. */
static em__storage *storage_new_on(size_t bytes, em_device device)
{
    if (device == EM_CPU)
        return storage_new(bytes);
    em__storage *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->data = em__device_installed.alloc
                  ? em__device_installed.alloc(device, bytes ? bytes : 1)
                  : NULL;
    if (!s->data) {
        free(s);
        return NULL;
    }
    s->refcount = 1;
    s->bytes = bytes;
    s->device = device;
    count_allocated(bytes);
    return s;
}

static em_tensor *tensor_alloc(const em__type *type, em__storage *storage)
{
    em_tensor *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->refcount = 1;
    t->user_refs = 0;
    t->type = *type;
    t->size = em__type_size(type);
    t->storage = storage;
    t->data = storage ? storage->data : NULL;
    t->id = atomic_fetch_add(&next_id, 1);
    t->scope_slot = -1;
    t->flags = 0;
    t->name = NULL;
    t->graph = NULL;
    t->node = -1;
    atomic_fetch_add(&live_tensors, 1);
    return t;
}

em_tensor *em__tensor_new(const em__type *type)
{
    return em__tensor_new_on(type, EM_CPU);
}

em_tensor *em__tensor_new_on(const em__type *type, em_device device)
{
    if (!em__type_fits(type)) {
        char text[200];
        em__error("shape %s has too many elements",
                  em__type_format(type, text, sizeof text));
        return NULL;
    }
    size_t bytes = (size_t)em__type_size(type) * em_dtype_size(type->dtype);
    em__storage *storage = storage_new_on(bytes, device);
    em_tensor *t = storage ? tensor_alloc(type, storage) : NULL;
    if (!t) {
        if (storage)
            storage_release(storage);
        char text[200];
        em__error("out of memory allocating %s",
                  em__type_format(type, text, sizeof text));
        return NULL;
    }
    em__scope_adopt(t);
    return t;
}

em_tensor *em__tensor_symbolic(const em__type *type, void *graph, int32_t node)
{
    em_tensor *t = tensor_alloc(type, NULL);
    if (!t) {
        em__error("out of memory");
        return NULL;
    }
    t->flags = EM__TENSOR_SYMBOLIC;
    t->graph = graph;
    t->node = node;
    em__scope_adopt(t);
    return t;
}

bool em__tensor_readable(const em_tensor *t, const char *what)
{
    if (em__tensor_device(t) != EM_CPU) {
        char device[32];
        em__error("%s: the tensor lives on %s and this reads its memory on "
                  "the host; copy it with em_tensor_to(t, EM_CPU) first",
                  what,
                  em_device_name(em__tensor_device(t), device, sizeof device));
        return false;
    }
    if (!(t->flags & EM__TENSOR_SYMBOLIC))
        return true;
    const char *fn = em__thread_state()->tracing;
    em__error("%s: the tensor is symbolic while tracing '%s' and has no "
              "value yet; return it from the function and read it after the "
              "call, or branch and loop on it with em_cond and em_while_loop "
              "(ember/control.h)",
              what, fn ? fn : "a function");
    return false;
}

em_tensor *em__tensor_view(em_tensor *src, const em__type *type)
{
    em_tensor *t = tensor_alloc(type, src->storage);
    if (!t) {
        em__error("out of memory");
        return NULL;
    }
    src->storage->refcount++;
    em__scope_adopt(t);
    return t;
}

em_tensor *em_tensor_retain(em_tensor *t)
{
    if (t) {
        t->refcount++;
        t->user_refs++;
    }
    return t;
}

em_tensor *em__tensor_ref(em_tensor *t)
{
    t->refcount++;
    return t;
}

/* Drops one reference without touching scopes. */
static void tensor_release(em_tensor *t)
{
    if (--t->refcount > 0)
        return;
    if (t->storage)
        storage_release(t->storage);
    free(t->name);
    free(t);
    atomic_fetch_sub(&live_tensors, 1);
}

void em__tensor_unref(em_tensor *t)
{
    tensor_release(t);
}

/* Releases, in order of preference, a reference the caller took with
 * em_tensor_retain, the scope's, or the one a caller gets from an op run
 * outside any scope. */
void em_tensor_free(em_tensor *t)
{
    if (!t)
        return;
    if (t->user_refs > 0)
        t->user_refs--;
    else if (t->scope_slot >= 0)
        em__scope_forget(t);
    tensor_release(t);
}

/* Used by scopes, which hold exactly one reference per listed tensor. */
void em__tensor_release_from_scope(em_tensor *t);
void em__tensor_release_from_scope(em_tensor *t)
{
    t->scope_slot = -1;
    tensor_release(t);
}

/* ---- creation -------------------------------------------------------------*/

bool em__type_make_checked(em__type *type, const char *what, em_dtype dtype,
                           int ndim, const int64_t *shape)
{
    if (em__type_make(type, dtype, ndim, shape))
        return true;
    if ((unsigned)dtype >= EM_DTYPE_COUNT)
        em__error("%s: invalid dtype %d", what, (int)dtype);
    else if (ndim < 0 || ndim > EM_MAX_DIMS)
        em__error("%s: ndim %d outside [0, %d]", what, ndim, EM_MAX_DIMS);
    else if (!shape)
        em__error("%s: shape is NULL for ndim %d", what, ndim);
    else {
        char text[160];
        bool negative = false;
        for (int i = 0; i < ndim; i++)
            negative = negative || shape[i] < 0;
        em__error("%s: %s in shape %s", what,
                  negative ? "negative dimension" : "too many elements",
                  em_shape_format(ndim, shape, text, sizeof text));
    }
    return false;
}

em_tensor *em_tensor_from_data(const void *data, em_dtype dtype, int ndim,
                               const int64_t *shape)
{
    em__type type;
    if (!em__type_make_checked(&type, "tensor_from_data", dtype, ndim, shape))
        return NULL;
    int64_t size = em__type_size(&type);
    if (size > 0 && !data) {
        em__error("tensor_from_data: data is NULL for %lld elements",
                  (long long)size);
        return NULL;
    }
    em_tensor *t = em__tensor_new(&type);
    if (t && size > 0)
        memcpy(t->data, data, (size_t)size * em_dtype_size(dtype));
    return em__tensor_place(t);
}

static em_tensor *full_host(double value, em_dtype dtype, int ndim,
                            const int64_t *shape)
{
    em__type type;
    if (!em__type_make_checked(&type, "full", dtype, ndim, shape))
        return NULL;
    em_tensor *t = em__tensor_new(&type);
    if (!t)
        return NULL;
    if (dtype == EM_FLOAT32) {
        float v = (float)value, *p = t->data;
        for (int64_t i = 0; i < t->size; i++)
            p[i] = v;
    } else if (value == 0) {
        memset(t->data, 0, t->storage->bytes);
    } else {
        for (int64_t i = 0; i < t->size; i++)
            em__store_f64(t->data, dtype, i, value);
    }
    return t;
}

em_tensor *em_full(double value, em_dtype dtype, int ndim, const int64_t *shape)
{
    return em__tensor_place(full_host(value, dtype, ndim, shape));
}

em_tensor *em_zeros(em_dtype dtype, int ndim, const int64_t *shape)
{
    return em_full(0, dtype, ndim, shape);
}

em_tensor *em_ones(em_dtype dtype, int ndim, const int64_t *shape)
{
    return em_full(1, dtype, ndim, shape);
}

em_tensor *em_scalar(double value, em_dtype dtype)
{
    return em_full(value, dtype, 0, NULL);
}

em_tensor *em_scalar_f32(float value)
{
    return em_full(value, EM_FLOAT32, 0, NULL);
}

em_tensor *em_full_like(const em_tensor *like, double value)
{
    if (!like)
        return NULL;
    em_tensor *t =
        full_host(value, like->type.dtype, like->type.ndim, like->type.shape);
    return em__tensor_move(t, em__tensor_device(like));
}

em_tensor *em_zeros_like(const em_tensor *like)
{
    return em_full_like(like, 0);
}

em_tensor *em_ones_like(const em_tensor *like)
{
    return em_full_like(like, 1);
}

em_tensor *em_arange(double start, double stop, double step, em_dtype dtype)
{
    if (step == 0 || !isfinite(start) || !isfinite(stop) || !isfinite(step)) {
        em__error("arange: needs finite start, stop and a non-zero step "
                  "(got %g, %g, %g)",
                  start, stop, step);
        return NULL;
    }
    double count = ceil((stop - start) / step);
    if (count < 0)
        count = 0;
    if (count > 1e12) {
        em__error("arange: %g elements is too many", count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    em__type type;
    if (!em__type_make_checked(&type, "arange", dtype, 1, &n))
        return NULL;
    em_tensor *t = em__tensor_new(&type);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        em__store_f64(t->data, dtype, i, start + (double)i * step);
    return em__tensor_place(t);
}

/* ---- inspection -----------------------------------------------------------*/

em_dtype em_tensor_dtype(const em_tensor *t)
{
    return t ? t->type.dtype : EM_DTYPE_COUNT;
}

int em_tensor_ndim(const em_tensor *t)
{
    return t ? t->type.ndim : -1;
}

int64_t em_tensor_dim(const em_tensor *t, int axis)
{
    if (!t || !em__normalize_axis(&axis, t->type.ndim))
        return -1;
    return t->type.shape[axis];
}

const int64_t *em_tensor_shape(const em_tensor *t)
{
    return t ? t->type.shape : NULL;
}

int64_t em_tensor_size(const em_tensor *t)
{
    return t ? t->size : 0;
}

size_t em_tensor_nbytes(const em_tensor *t)
{
    return t ? (size_t)t->size * em_dtype_size(t->type.dtype) : 0;
}

void *em_tensor_data(em_tensor *t)
{
    if (!t || !em__tensor_readable(t, "tensor_data"))
        return NULL;
    return t->data;
}

int em_tensor_copy_to(const em_tensor *t, void *dst, em_dtype dtype,
                      size_t bytes)
{
    if (!t) {
        if (!em_error_pending())
            em__error("tensor_copy_to: tensor is NULL");
        return -1;
    }
    if ((t->flags & EM__TENSOR_SYMBOLIC) &&
        !em__tensor_readable(t, "tensor_copy_to"))
        return -1;
    if ((unsigned)dtype >= EM_DTYPE_COUNT) {
        em__error("tensor_copy_to: invalid dtype %d", (int)dtype);
        return -1;
    }
    size_t need = (size_t)t->size * em_dtype_size(dtype);
    if (!dst && need > 0) {
        em__error("tensor_copy_to: dst is NULL (%zu bytes needed for %lld "
                  "%s elements)",
                  need, (long long)t->size, em_dtype_name(dtype));
        return -1;
    }
    if (bytes < need) {
        em__error("tensor_copy_to: %zu bytes needed for %lld %s elements, "
                  "%zu given",
                  need, (long long)t->size, em_dtype_name(dtype), bytes);
        return -1;
    }
    if (need > 0) {
        em_tensor *host = em__tensor_host(t, "tensor_copy_to");
        if (!host)
            return -1;
        em__convert(host->data, t->type.dtype, dst, dtype, t->size);
        em__tensor_unref(host);
    }
    return 0;
}

double em_tensor_item(const em_tensor *t)
{
    if (!t ||
        ((t->flags & EM__TENSOR_SYMBOLIC) && !em__tensor_readable(t, "item")))
        return NAN;
    if (t->size != 1) {
        char text[200];
        em__error("item: needs exactly one element, got %s",
                  em__type_format(&t->type, text, sizeof text));
        return NAN;
    }
    em_tensor *host = em__tensor_host(t, "item");
    if (!host)
        return NAN;
    double v = em__load_f64(host->data, t->type.dtype, 0);
    em__tensor_unref(host);
    return v;
}
