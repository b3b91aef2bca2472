/*
 * ember/export.h - ahead-of-time compilation: a concrete function to an
 * object file and a C header, which a C program links and calls with
 * neither ember, LLVM nor a JIT present at run time (only the C library's
 * maths, -lm).
 *
 * The generated function computes the graph for the concrete function's
 * exact input shapes, over caller-owned buffers:
 *
 *     int NAME(void *workspace, const float *input0, ..., float *output0,
 *              ...);
 *
 * Inputs and outputs are contiguous row-major arrays of their dtypes' C
 * types (float, double, int32_t, int64_t, uint8_t, bool). `workspace` holds
 * NAME_WORKSPACE_BYTES bytes, 64-byte aligned (e.g. from aligned_alloc);
 * calls running at once need a workspace each. Constants and the values
 * the function's variables hold at export time are embedded in the object.
 * It returns 0. The header lists every shape.
 *
 * What can be exported: elementwise ops, reductions (sum, max, min and
 * what is built from them), two-dimensional matrix products (generated
 * loops: no BLAS needed), reshapes. A graph that assigns variables (a
 * training step), or holds another op (gather, softmax, argmax, control
 * flow, ...), is refused with an error naming the op; return logits and
 * take the argmax in C, for example.
 */
#ifndef EMBER_EXPORT_H
#define EMBER_EXPORT_H

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct em_export_options {
    /* The C name of the generated function (and the header's prefix, in
     * upper case). NULL: the traced function's name, made an identifier. */
    const char *symbol;
    /* The CPU to generate code for: NULL for this machine's, or an LLVM
     * CPU name ("x86-64", "x86-64-v3", ...) for another one. */
    const char *cpu;
} em_export_options;

/* Writes c as a relocatable (position-independent) object file at
 * object_path and its C header at header_path (each replaced atomically).
 * options may be NULL. Returns 0, or -1 with an error: the graph holds an
 * op that cannot be exported, ember was built without LLVM, or a file
 * cannot be written. */
int em_concrete_export(em_concrete *c, const char *object_path,
                       const char *header_path,
                       const em_export_options *options);

#ifdef __cplusplus
}
#endif
#endif
