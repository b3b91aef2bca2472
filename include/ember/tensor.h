/*
 * ember/tensor.h - tensors: dtypes, shapes, creation, reading values back,
 * and the lifetime rules every other header relies on.
 *
 * Lifetime. Tensors are reference counted. Every tensor a function returns
 * is owned by the innermost open scope (em_scope_begin), or by the caller
 * when no scope is open; em_scope_end releases what its scope owns, except
 * tensors passed to em_scope_keep, which move to the enclosing scope (or to
 * the caller). em_tensor_free releases a tensor early, whoever owns it.
 * Variables (ember/variable.h) never belong to a scope.
 *
 * Errors. A function that cannot do its job returns NULL (or a negative
 * status) and records a message, read with em_error_last (ember/error.h).
 * Every function that takes a tensor accepts NULL and returns NULL without
 * overwriting the message already recorded, so a whole step can be checked
 * once at its end.
 *
 * Dtype promotion, used by every binary op: bool < uint8 < int32 < int64 <
 * float32 < float64. Two operands of different dtypes are both converted to
 * the larger of the two in that order (so int64 with float32 gives float32,
 * as in PyTorch and JAX, not float64 as in NumPy). Float maths on integer or
 * bool tensors (exp, sqrt, ...) converts them to float32 first.
 *
 * Broadcasting follows NumPy: shapes are aligned at their last dimension;
 * two dimensions are compatible when equal or when one of them is 1; a
 * missing leading dimension counts as 1.
 */
#ifndef EMBER_TENSOR_H
#define EMBER_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most dimensions a tensor may have. */
#define EM_MAX_DIMS 8

typedef enum em_dtype {
    EM_BOOL = 0,
    EM_UINT8,
    EM_INT32,
    EM_INT64,
    EM_FLOAT32,
    EM_FLOAT64,
    EM_DTYPE_COUNT
} em_dtype;

typedef struct em_tensor em_tensor;

/* "float32", "int64", ...; "invalid" for a value outside the enum. */
const char *em_dtype_name(em_dtype dtype);

/* Size of one element in bytes; 0 for an invalid dtype. */
size_t em_dtype_size(em_dtype dtype);

/* True for EM_FLOAT32 and EM_FLOAT64. */
bool em_dtype_is_float(em_dtype dtype);

/* The dtype both operands of a binary op are converted to (see above);
 * EM_DTYPE_COUNT when either is not a valid dtype. */
em_dtype em_dtype_promote(em_dtype a, em_dtype b);

/* ---- creation ---------------------------------------------------------- */

/* A tensor of the given shape holding a copy of `data` (row-major, `dtype`
 * elements). ndim 0 makes a scalar. NULL on a bad dtype, ndim outside
 * [0, EM_MAX_DIMS], a negative dimension or data == NULL with elements. */
em_tensor *em_tensor_from_data(const void *data, em_dtype dtype, int ndim,
                               const int64_t *shape);

/* Shortcuts for a 0-d tensor. */
em_tensor *em_scalar(double value, em_dtype dtype);
em_tensor *em_scalar_f32(float value);

em_tensor *em_zeros(em_dtype dtype, int ndim, const int64_t *shape);
em_tensor *em_ones(em_dtype dtype, int ndim, const int64_t *shape);
em_tensor *em_full(double value, em_dtype dtype, int ndim,
                   const int64_t *shape);
/* Same dtype and shape as `like`, filled with value. */
em_tensor *em_full_like(const em_tensor *like, double value);
em_tensor *em_zeros_like(const em_tensor *like);
em_tensor *em_ones_like(const em_tensor *like);

/* 1-d tensor start, start+step, ... up to but excluding stop; empty when
 * stop is not past start in step's direction (as NumPy). NULL when step is
 * 0 or a bound is not finite. */
em_tensor *em_arange(double start, double stop, double step, em_dtype dtype);

/* ---- inspection and reading back --------------------------------------- */

em_dtype em_tensor_dtype(const em_tensor *t);
int em_tensor_ndim(const em_tensor *t);
/* Dimension `axis` (negative counts from the end); -1 when out of range. */
int64_t em_tensor_dim(const em_tensor *t, int axis);
/* Pointer to the shape array (ndim entries); valid while t lives. */
const int64_t *em_tensor_shape(const em_tensor *t);
/* Number of elements. */
int64_t em_tensor_size(const em_tensor *t);
size_t em_tensor_nbytes(const em_tensor *t);

/* Copies the elements into `dst` (capacity `bytes`), converting them to
 * `dtype`. Returns 0, or -1 when dst is NULL or too small, or t is NULL.
 * dst may be NULL when t has no elements. */
int em_tensor_copy_to(const em_tensor *t, void *dst, em_dtype dtype,
                      size_t bytes);

/* The value of a one-element tensor as a double; NAN with an error when t
 * has more or fewer than one element. */
double em_tensor_item(const em_tensor *t);

/* Direct access to the contiguous row-major elements; valid while t lives.
 * Writing through it changes the tensor (and any reshape sharing storage). */
void *em_tensor_data(em_tensor *t);

/* Writes a readable form: NumPy-like nesting, large tensors truncated to
 * their first and last three entries per dimension, then dtype and shape.
 * Returns the number of characters the whole text needs (like snprintf);
 * a NULL buf counts as size 0. */
int em_tensor_format(const em_tensor *t, char *buf, size_t size);
/* em_tensor_format to a stream, followed by a newline. A NULL stream
 * prints nothing and records an error. */
void em_tensor_print(const em_tensor *t, FILE *out);

/* Shape as text, "[128,784]", into buf; returns buf. "(null)" when shape is
 * NULL with ndim > 0. */
char *em_shape_format(int ndim, const int64_t *shape, char *buf, size_t size);

/* ---- lifetime ------------------------------------------------------------ */

/* Adds a reference of the caller's own, balanced by one em_tensor_free;
 * the tensor then outlives its scope until that free. */
em_tensor *em_tensor_retain(em_tensor *t);
/* Drops one reference: one taken with em_tensor_retain if any is left,
 * else the scope's (the tensor leaves its scope early), else the caller's.
 * NULL is ignored. */
void em_tensor_free(em_tensor *t);

/* Opens a scope: tensors returned from now on are owned by it. */
void em_scope_begin(void);
/* Releases every tensor the innermost scope owns, except kept ones. Does
 * nothing (and records an error) when no scope is open. */
void em_scope_end(void);
/* Moves t from the innermost scope to the enclosing one (or to the caller
 * when there is none) at em_scope_end. Returns t. */
em_tensor *em_scope_keep(em_tensor *t);
/* Number of open scopes on this thread. */
int em_scope_depth(void);

/* Live tensors and bytes of tensor storage in the whole process. */
typedef struct em_memory_stats {
    int64_t live_tensors;
    int64_t live_bytes;
    int64_t peak_bytes;
} em_memory_stats;
em_memory_stats em_memory_get_stats(void);

#ifdef __cplusplus
}
#endif
#endif
