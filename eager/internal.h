/*
 * eager/internal.h - what the runtime's modules share and users never see:
 * the tensor layout, op ids and attributes, the op table, dispatch, hooks
 * for the upper layers, errors and logging.
 */
#ifndef EMBER_EAGER_INTERNAL_H
#define EMBER_EAGER_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "ember.h"

/* ---- ops ------------------------------------------------------------------*/

typedef enum em__op {
#define EM__OP(id, name, arity) EM_OP_##id,
#include "op_list.h"
#undef EM__OP
    EM_OP_COUNT
} em__op;

/* Attributes of one op call. Each op reads only the fields it documents;
 * the struct is copied into tape records, so it holds no pointers. */
typedef struct em__attrs {
    int ndim; /* reshape, broadcast_to: target shape */
    int64_t shape[EM_MAX_DIMS];
    int naxes; /* reductions: axes (0 = all); permute */
    int axes[EM_MAX_DIMS];
    int axis;         /* concat, gather, softmax, argmax */
    bool keepdims;    /* reductions */
    bool transpose_a; /* matmul */
    bool transpose_b;
    double alpha;               /* leaky_relu, elu */
    em_dtype dtype;             /* cast, one_hot */
    int64_t depth;              /* one_hot */
    int64_t start[EM_MAX_DIMS]; /* slice, normalised and clamped */
    int64_t step[EM_MAX_DIMS];
} em__attrs;

/* The dtype and shape of a value, concrete or symbolic. */
typedef struct em__type {
    em_dtype dtype;
    int ndim;
    int64_t shape[EM_MAX_DIMS];
} em__type;

/* Shape rule: validates the inputs and attributes and fills the output
 * type; on failure writes a message (without the op name) and returns
 * false. It may normalise attributes (negative axes). */
typedef bool (*em__infer_fn)(const em__type *const *in, int n, em__attrs *attrs,
                             em__type *out, char *msg, size_t size);

/* CPU kernel: fills out (allocated, contiguous) from in. Returns true, or
 * false with a message when the inputs' values are invalid (an index out of
 * range). */
typedef bool (*em__kernel_fn)(em_tensor *out, em_tensor *const *in, int n,
                              const em__attrs *attrs, char *msg, size_t size);

typedef struct em__op_def {
    const char *name;
    int arity;
    em__infer_fn infer;
    em__kernel_fn cpu;
    unsigned flags;
} em__op_def;

enum {
    /* The output shares input 0's storage (no kernel runs). */
    EM__OP_VIEW = 1u << 0,
    /* Writes input 0 in place and produces no new tensor. */
    EM__OP_IN_PLACE = 1u << 1,
    /* Never recorded on a tape (no gradient flows through it). */
    EM__OP_NO_GRAD = 1u << 2,
};

extern const em__op_def em__op_table[EM_OP_COUNT];

/* Runs op on n inputs: the only path from the public API to a kernel.
 * Returns the new tensor (owned by the innermost scope or the caller); for
 * EM__OP_IN_PLACE ops returns in[0] without a new reference. NULL with an
 * error when an input is NULL, the shape rule refuses, or the kernel
 * fails. attrs may be NULL (all zero). */
em_tensor *em__dispatch(em__op op, em_tensor *const *in, int n,
                        const em__attrs *attrs);

/* ---- tensors --------------------------------------------------------------*/

typedef struct em__storage {
    int64_t refcount;
    size_t bytes;
    void *data;
    em_device device; /* EM_CPU, or a GPU whose memory data points into */
} em__storage;

enum {
    EM__TENSOR_VARIABLE = 1u << 0,
    EM__TENSOR_TRAINABLE = 1u << 1,
    /* A value of a graph being traced: no storage, only a type and the
     * node that will compute it. */
    EM__TENSOR_SYMBOLIC = 1u << 2,
};

struct em_tensor {
    int64_t refcount;  /* all references: scope, caller, tapes */
    int64_t user_refs; /* those taken with em_tensor_retain */
    em__type type;
    int64_t size; /* number of elements */
    em__storage *storage;
    void *data;         /* storage->data; tensors are contiguous */
    uint64_t id;        /* unique for the life of the process */
    int64_t scope_slot; /* index in the scope list, or -1 */
    unsigned flags;
    char *name;   /* variables only */
    void *graph;  /* symbolic tensors: the graph being traced */
    int32_t node; /* symbolic tensors: the node computing it there */
};

/* A tensor of the given type with uninitialised storage, owned by the
 * innermost scope (or the caller). NULL with an error when out of memory. */
em_tensor *em__tensor_new(const em__type *type);
/* em__tensor_new on `device` (a GPU's memory through em__device_hooks). */
em_tensor *em__tensor_new_on(const em__type *type, em_device device);
/* The device t's storage lives on (EM_CPU for symbolic tensors). Inline:
 * dispatch asks it of every input of every op. */
static inline em_device em__tensor_device(const em_tensor *t)
{
    return t->storage ? t->storage->device : EM_CPU;
}
/* t on the host: t itself with a new reference (em__tensor_unref it) when
 * it is there, else a host copy made after the GPU's queued work. NULL
 * with an error naming `what`. */
em_tensor *em__tensor_host(const em_tensor *t, const char *what);
/* References held by the runtime itself (a tape's records): unlike
 * em_tensor_retain / em_tensor_free they never touch scope ownership. */
em_tensor *em__tensor_ref(em_tensor *t);
void em__tensor_unref(em_tensor *t);
/* A symbolic tensor (no storage) of the given type for node `node` of
 * `graph`, owned by the innermost scope (or the caller). */
em_tensor *em__tensor_symbolic(const em__type *type, void *graph, int32_t node);
/* False, with an error naming `what` and the traced function, when t is
 * symbolic: its value does not exist until the graph runs. */
bool em__tensor_readable(const em_tensor *t, const char *what);
/* A tensor of the given type sharing src's storage (sizes must agree). */
em_tensor *em__tensor_view(em_tensor *src, const em__type *type);
/* Hands a freshly made tensor to the innermost scope, if any. */
void em__scope_adopt(em_tensor *t);
/* Removes t from its scope without releasing it (the caller takes over the
 * scope's reference). */
void em__scope_forget(em_tensor *t);
/* Sets the depth at or below which em_scope_end refuses to close scopes
 * (0: none); returns the previous floor. */
int em__scope_set_floor(int depth);
/* True when the innermost open scope owns t. */
bool em__scope_owns(const em_tensor *t);

/* Element count of a type (1 for scalars). */
int64_t em__type_size(const em__type *type);
/* True when the type's element count, with zero-size dimensions counted as
 * 1, fits in int64 with room for 8-byte elements. */
bool em__type_fits(const em__type *type);
/* Makes a type from (dtype, ndim, shape); false when invalid or too big
 * (em__type_fits). */
bool em__type_make(em__type *type, em_dtype dtype, int ndim,
                   const int64_t *shape);
/* em__type_make that records "<what>: <problem>" when it fails. */
bool em__type_make_checked(em__type *type, const char *what, em_dtype dtype,
                           int ndim, const int64_t *shape);
bool em__type_equal_shape(const em__type *a, const em__type *b);
/* "float32[128,784]" into buf; returns buf. */
char *em__type_format(const em__type *type, char *buf, size_t size);

/* Row-major strides (in elements) of a shape. */
void em__strides(const em__type *type, int64_t *strides);
/* NumPy broadcast of two shapes into out (dtype untouched); false when
 * incompatible. */
bool em__broadcast_shape(const em__type *a, const em__type *b, em__type *out);
/* Element strides for reading `in` as if broadcast to `out`'s shape
 * (0 along broadcast dimensions), right-aligned over out->ndim entries. */
void em__broadcast_strides(const em__type *in, const em__type *out,
                           int64_t *strides);
/* Normalises axis into [0, ndim); false when out of range. */
bool em__normalize_axis(int *axis, int ndim);

/* Element i of t as a double / as an int64 (any dtype). */
double em__load_f64(const void *data, em_dtype dtype, int64_t i);
int64_t em__load_i64(const void *data, em_dtype dtype, int64_t i);
void em__store_f64(void *data, em_dtype dtype, int64_t i, double v);
/* Converts n elements between dtypes (the cast kernel's core). */
void em__convert(const void *src, em_dtype from, void *dst, em_dtype to,
                 int64_t n);

/* ---- hooks for the layers above eager --------------------------------------
 * The tape installs `record` when its first tape begins; dispatch calls it
 * after every op while this thread has a recording tape. */
typedef void (*em__record_fn)(em__op op, em_tensor *const *in, int n,
                              const em__attrs *attrs, em_tensor *out);
/* The tracer installs `trace` when a function is first traced; dispatch
 * calls it instead of running a kernel while this thread traces and an
 * input is symbolic or a variable (or the op writes a variable). It
 * returns the symbolic output (in[0] for in-place ops), or NULL with an
 * error. `variable_created` lets the tracer lift variables made while it
 * traces; it returns false (with an error) to refuse one. */
typedef em_tensor *(*em__trace_fn)(em__op op, em_tensor *const *in, int n,
                                   const em__attrs *attrs, const em__type *out);
typedef struct em__hooks {
    em__record_fn record;
    em__trace_fn trace;
    bool (*variable_created)(em_tensor *variable);
} em__hooks;
extern em__hooks em__hooks_installed;

/* A GPU backend (cuda/) installs these at start-up; all NULL without one.
 * Dispatch runs an op with `kernels[op]` (same contract as the CPU kernel,
 * on device pointers) when its inputs live on a device. */
typedef struct em__device_hooks {
    /* Number of usable devices of this kind. */
    int (*count)(void);
    /* Device memory of at least `bytes` (> 0), or NULL with an error. */
    void *(*alloc)(em_device device, size_t bytes);
    void (*free)(em_device device, void *ptr);
    /* Copies bytes between host (EM_CPU) and device memory, queued after
     * the device's earlier work; returns once dst can be read when dst is
     * host memory. False with an error. */
    bool (*copy)(void *dst, em_device dst_device, const void *src,
                 em_device src_device, size_t bytes);
    const em__kernel_fn *kernels; /* EM_OP_COUNT entries, NULL: none */
} em__device_hooks;
extern em__device_hooks em__device_installed;
/* Where creation functions put new tensors (the default device), unless
 * tracing. Takes over t's reference; NULL with an error. */
em_tensor *em__tensor_place(em_tensor *t);
/* The same, onto `device`. */
em_tensor *em__tensor_move(em_tensor *t, em_device device);
/* em_tensor_to and em_set_default_device, for the backend that defines
 * the public functions (cuda/, or cuda/none/ without CUDA). */
em_tensor *em__tensor_to(const em_tensor *t, em_device device);
int em__set_default_device(em_device device);

/* Per-thread state shared by the eager modules. */
typedef struct em__thread {
    int recording_tapes; /* tapes recording on this thread */
    int record_paused;   /* > 0 while gradients or custom fns run */
    const char *tracing; /* name of the function being traced, or NULL */
    uint64_t errors;     /* errors recorded so far on this thread */
} em__thread;
em__thread *em__thread_state(void);

/* ---- text -----------------------------------------------------------------*/

/* Text built piece by piece the way snprintf fills a buffer: what fits is
 * written (NUL-terminated), and `used` counts the length the whole text
 * needs. */
typedef struct em__text {
    char *buf;
    size_t size;
    size_t used;
} em__text;
void em__text_put(em__text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- files ----------------------------------------------------------------*/

/* Reads the whole regular file at path into *buf (malloc'd; the caller
 * frees it) and *size. False with an error "<what> '<path>': ...". */
bool em__file_read(const char *path, const char *what, unsigned char **buf,
                   size_t *size);

/* Fills the open file; false on failure, with the errno in *error. */
typedef bool (*em__file_writer)(FILE *f, void *user, int *error);

/* Replaces the file at path atomically: `write` fills "<path>.tmp-<pid>",
 * which is flushed, synced and renamed over path, and the folder synced.
 * On failure the old file is untouched and the temporary file removed;
 * -1 with an error "<what> '<path>': <step> ... failed". */
int em__file_replace(const char *path, const char *what, em__file_writer write,
                     void *user);

/* ---- errors and logging ---------------------------------------------------*/

/* Records the thread's error message (printf-style), replacing any. */
void em__error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Records "<op>: <detail> (inputs: dtype[shape], ...)". */
void em__error_op(const char *op, em_tensor *const *in, int n,
                  const char *detail);

void em__log(em_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
bool em__log_enabled(em_log_level level);

/* The folder to write `kind` dumps to ("graph", "llvm", ...) when
 * EMBER_DUMP lists that kind, else NULL. EMBER_DUMP_DIR names the folder
 * (default ./ember-dump). */
const char *em__dump_dir(const char *kind);

/* Opens "<dump dir>/<name>.<suffix>" for writing when EMBER_DUMP lists
 * kind, creating the folder; name is made safe for a file name. NULL when
 * the kind is not dumped or the file cannot be made (with a warning). */
FILE *em__dump_open(const char *kind, const char *name, const char *suffix);

/* False when EMBER_JIT=0 turned native compilation off. */
bool em__config_jit_enabled(void);
/* Parses "cpu", "cuda", "cuda:N" without recording an error. */
bool em__device_parse(const char *text, em_device *device);
/* EMBER_DEVICE ("cpu", "cuda", "cuda:N"), EM_CPU when unset; a value
 * that does not parse is EM_CPU with a warning. */
em_device em__config_device(void);
/* EMBER_NUM_THREADS, or 0 when unset or not a number of threads (which
 * warns). */
int em__config_threads(void);
/* The most threads the runtime's pool runs. */
#define EM__MAX_THREADS 256

/* ---- threads --------------------------------------------------------------*/

/* Runs fn(ctx, begin, end) over parts of [0, n) covering it exactly, on
 * the runtime's threads and the caller, and returns when all are done.
 * Parts hold at least `grain` iterations; fewer than two such parts (or a
 * busy pool, or a call from inside a part) run on the caller alone. */
typedef void (*em__range_fn)(void *ctx, int64_t begin, int64_t end);
void em__parallel_for(em__range_fn fn, void *ctx, int64_t n, int64_t grain);

#endif
