/*
 * ember/checkpoint.h - saving named variables (weights, optimiser state)
 * to a file and restoring them.
 *
 * A checkpoint maps variable names to values. Saving writes a new file
 * and renames it over the old one, so a crash or a full disk leaves either
 * the old checkpoint or the new one, never a torn file. Restoring treats
 * the file as untrusted: it checks everything (checksums, lengths, names,
 * dtypes, shapes) before it changes any variable.
 *
 * File format, version 1; all integers little-endian:
 *   header (20 bytes):
 *     magic   8 bytes "EMBERCKP"
 *     version u32     1
 *     count   u32     number of entries
 *     crc     u32     CRC-32 (zlib's) of the 16 bytes above
 *   then `count` entries, each:
 *     name_len u32                1 .. EM_CHECKPOINT_MAX_NAME
 *     name     name_len bytes     UTF-8, no NUL; unique in the file
 *     dtype    u8                 an em_dtype value
 *     ndim     u8                 0 .. EM_MAX_DIMS
 *     dims     ndim x i64         each >= 0
 *     nbytes   u64                element count x dtype size
 *     data     nbytes bytes       row-major elements
 *     crc      u32                CRC-32 of the entry's bytes before it
 *   and nothing after the last entry.
 * Every byte of the file is covered by a checksum or by a length that the
 * reader checks, so any changed byte is detected (short of a collision).
 */
#ifndef EMBER_CHECKPOINT_H
#define EMBER_CHECKPOINT_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EM_CHECKPOINT_VERSION 1
/* Longest variable name a checkpoint holds, in bytes. */
#define EM_CHECKPOINT_MAX_NAME 4096

/* Writes the values of variables[0..n) to `path`, replacing any file
 * there. Every entry must be a variable (ember/variable.h) with a
 * distinct name of at most EM_CHECKPOINT_MAX_NAME bytes. The data goes to
 * "<path>.tmp-<pid>" first, which is flushed and synced, then renamed over
 * `path`, and the folder is synced. The variables are only read; the
 * caller keeps them. Returns 0, or -1 with an error naming the path and
 * the step that failed (checking the variables, opening, writing,
 * syncing, renaming). On any failure before the rename `path` is left as
 * it was and the temporary file is removed; a failure to sync the folder
 * after the rename is reported too, though the new file is then in place.
 * Refused while a function is being traced (ember/trace.h): the values
 * seen then are those of trace time only. */
int em_checkpoint_save(const char *path, int n, em_tensor *const *variables);

/* Sets variables[0..n) to the values saved under their names in `path`.
 * The whole file is read and checked first: magic, version, header and
 * entry checksums, lengths against the file's size, and that each
 * variable has an entry with its exact dtype and shape. Entries for
 * other names are allowed and ignored, so a checkpoint of a model and
 * its optimiser can restore the model alone. Values are copied bit for
 * bit; the caller keeps the variables. Returns 0, or -1 with an error
 * saying what is wrong and where (the entry, its name, the byte offset),
 * and then no variable has changed. Refused while a function is being
 * traced. */
int em_checkpoint_restore(const char *path, int n, em_tensor *const *variables);

#ifdef __cplusplus
}
#endif
#endif
