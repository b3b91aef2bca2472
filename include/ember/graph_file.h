/*
 * ember/graph_file.h - saving a concrete function (a traced graph) to a
 * file and running it in a program that does not have the C function.
 *
 * A graph file holds the whole graph: its inputs' types, its nodes in
 * order, its outputs, the values of the constants it captured and the
 * variables it reads or updates, with their current values. Loading makes
 * fresh variables from those values, owned by the loaded graph, so a saved
 * training step keeps training in the loading program (and its variables
 * can be checkpointed with ember/checkpoint.h).
 *
 * Loading treats the file as hostile: every length, count, index, op name,
 * dtype, shape and attribute is checked before it is used, each section's
 * CRC-32 must match, and the rebuilt graph must pass the same checks as a
 * traced one. A file is refused with an error, never half-loaded.
 *
 * File format, version 1; all integers little-endian, element data in
 * row-major order:
 *   header (20 bytes):
 *     magic    8 bytes "EMBERGRF"
 *     version  u32     1
 *     sections u32     6
 *     crc      u32     CRC-32 (zlib's) of the 16 bytes above
 *   six sections, in this order, each:
 *     tag      4 bytes "META", "INPT", "NODE", "OUTP", "VARS", "CNST"
 *     length   u64     bytes of payload
 *     payload  length bytes
 *     crc      u32     CRC-32 of tag, length and payload
 *   and nothing after the last section.
 * Where a payload holds a string it is `u32 length, bytes` (no NUL); a
 * type is `u8 dtype (an em_dtype value), u8 ndim (<= EM_MAX_DIMS), ndim x
 * i64 dims (>= 0)`.
 *   META: string ember version, string function name, u32 inputs, u32
 *         nodes, u32 outputs, u32 variables, u32 constants.
 *   INPT: one type per input, in argument order.
 *   NODE: per node: u8 kind (0 input, 1 const, 2 variable, 3 op, ...), string
 *         node name (may be empty), type, then by kind: input: u32
 *         argument index; const: u32 constant index; variable: u32
 *         variable index; op: string op name (as in the op table, so the
 *         file does not depend on op numbering), u32 input count, that
 *         many u32 node ids (each an earlier node), and the attributes:
 *         u8 ndim, 8 x i64 shape, u8 naxes, 8 x i32 axes, i32 axis, u8
 *         flags (1 keepdims, 2 transpose_a, 4 transpose_b), f64 alpha,
 *         u8 dtype, i64 depth, 8 x i64 start, 8 x i64 step;
 *         4 cond, 5 while (ember/control.h): u32 input count, that many
 *         u32 node ids, the attributes (as for op; while: depth is the
 *         iteration limit, shape the relaxed loop variables' bits,
 *         keepdims keeps each iteration), u32 result count (cond) or loop
 *         variable count (while), then its two regions, each a graph:
 *         u32 inputs, u32 nodes, the nodes (as here, ids local to the
 *         region; constant and variable indices shared with the file),
 *         u32 outputs, that many u32 node ids; regions nest at most 16
 *         deep; 6 result: u32 node id of its cond or while node, u32
 *         result number.
 *   OUTP: one u32 node id per output.
 *   VARS: per variable: string name, u8 trainable, type, u64 byte count,
 *         the data.
 *   CNST: per constant: type, u64 byte count, the data.
 */
#ifndef EMBER_GRAPH_FILE_H
#define EMBER_GRAPH_FILE_H

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EM_GRAPH_FILE_VERSION 2

/* Writes c's graph to `path`, replacing any file there: written to
 * "<path>.tmp-<pid>", flushed, synced, renamed over `path`, and the folder
 * synced, so readers see the old file or the new one. Variables are saved
 * by value (their current values). c is only read. Returns 0, or -1 with an
 * error naming the path and the step that failed; then `path` is left as it
 * was (unless only the folder sync failed, which is reported too). Refused
 * while a function is being traced. */
int em_concrete_save(const em_concrete *c, const char *path);

typedef struct em_loaded_graph em_loaded_graph;

/* Reads and checks the graph file at `path` and makes it ready to run.
 * Released with em_loaded_graph_free. NULL with an error saying what is
 * wrong and where (section, node, byte offset). */
em_loaded_graph *em_graph_load(const char *path);
/* Releases the graph and its references to its variables (a variable the
 * caller retained with em_tensor_retain stays alive). NULL is fine. */
void em_loaded_graph_free(em_loaded_graph *g);

/* Runs the graph on its inputs (in argument order, of the saved dtypes and
 * shapes): writes one new tensor per output into outputs (owned like op
 * results: innermost scope, or the caller) and applies the graph's
 * variable updates. Returns the number of outputs, or -1 with an error
 * (outputs all NULL) when g or the arrays are NULL, an input does not fit
 * or max_outputs is too small. */
int em_loaded_graph_run(em_loaded_graph *g, int n_inputs,
                        em_tensor *const *inputs, int max_outputs,
                        em_tensor **outputs);

/* The function's name as saved (owned by g). */
const char *em_loaded_graph_name(const em_loaded_graph *g);

/* The signature: writes up to capacity specs (exact dtypes and shapes) of
 * the inputs / outputs and returns how many there are (-1 when g is NULL). */
int em_loaded_graph_inputs(const em_loaded_graph *g, int capacity,
                           em_input_spec *out);
int em_loaded_graph_outputs(const em_loaded_graph *g, int capacity,
                            em_input_spec *out);

/* The graph's variables, in file order: writes up to capacity of them into
 * out and returns how many there are (-1 when g is NULL). They belong to g
 * (valid until em_loaded_graph_free; em_tensor_retain one to keep it
 * longer); reading, assigning and checkpointing them is fine. */
int em_loaded_graph_variables(const em_loaded_graph *g, int capacity,
                              em_tensor **out);

/* The graph as text (the form em_concrete_format gives) and as Graphviz
 * DOT, like snprintf: returns the length the whole text needs. */
int em_loaded_graph_format(const em_loaded_graph *g, char *buf, size_t size);
int em_loaded_graph_format_dot(const em_loaded_graph *g, char *buf,
                               size_t size);

#ifdef __cplusplus
}
#endif
#endif
