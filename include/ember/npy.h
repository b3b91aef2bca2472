/*
 * ember/npy.h - reading and writing NumPy .npy files (format version 1.0).
 *
 * Supported: little-endian (or byte-sized) dtypes '<f4' '<f8' '<i4' '<i8'
 * '|u1' '|b1' (float32, float64, int32, int64, uint8, bool), C order, up to
 * EM_MAX_DIMS dimensions. Anything else (Fortran order, big-endian or
 * other dtypes, other format versions, object arrays) is refused with an
 * error saying what the file holds.
 */
#ifndef EMBER_NPY_H
#define EMBER_NPY_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A new tensor (owned by the innermost scope, or the caller) holding the
 * array in `path`. The file is checked before use: magic, version, header
 * length, the header dictionary, the data's exact length, bool values 0 or
 * 1. NULL with an error naming the path and the problem. */
em_tensor *em_npy_load(const char *path);

/* Writes t to `path` as a version 1.0 .npy file (replacing any file).
 * Returns 0, or -1 with an error naming the path (t NULL or symbolic, an
 * I/O failure; a partly written file is removed). */
int em_npy_save(const char *path, const em_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
