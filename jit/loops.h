/*
 * jit/loops.h - what jit/lower.c and jit/loops.c share: loops, and the
 * loop groups (a root with the nodes fused into it) whose code loops.c
 * emits.
 */
#ifndef EMBER_JIT_LOOPS_H
#define EMBER_JIT_LOOPS_H

#include "jit_internal.h"

typedef struct em__jit_loop {
    LLVMBasicBlockRef before, body, exit;
    LLVMValueRef index, end, acc, acc_init; /* acc: carried, or NULL */
    int64_t step;
    bool guarded; /* the body may be skipped */
} em__jit_loop;

/* for (index = 0; index < n; index++) at the builder, which is left in
 * the body; acc_init, when given, starts a value carried between
 * iterations (l->acc in the body). */
void em__jit_loop_open(em__jit_ctx *c, em__jit_loop *l, int64_t n,
                       LLVMValueRef acc_init);
/* Closes the loop (acc_next: the carried value for the next iteration);
 * the builder is left after it, where l->acc holds the final value. */
void em__jit_loop_close(em__jit_ctx *c, em__jit_loop *l, LLVMValueRef acc_next);

typedef struct em__jit_group {
    int root;
    int n_members, *members; /* in node order */
    int n_leaves, *leaves;
    int ndim; /* merged loop dimensions, outermost first */
    int64_t shape[EM_MAX_DIMS];
    int64_t *leaf_strides; /* n_leaves x EM_MAX_DIMS */
    int64_t out_strides[EM_MAX_DIMS];
    bool reduced[EM_MAX_DIMS];
    LLVMValueRef *values;    /* per node, while the body is emitted */
    LLVMValueRef begin, end; /* the outermost dimension's range */
    /* > 1: the innermost dimension runs this many elements at a time (as
     * vectors), then the rest one at a time. */
    unsigned lanes;
} em__jit_group;

/* Fills the members, the leaves and the merged loop dimensions of the
 * group rooted at root. False when out of memory; free it either way. */
bool em__jit_group_make(em__jit_ctx *c, em__jit_group *gr, int root);
void em__jit_group_free(em__jit_group *gr);
/* Elements of the loop nest. */
int64_t em__jit_group_size(const em__jit_group *gr);
/* True when a reduction writes each output element once (one reduced run,
 * innermost), with no initialising pass. */
bool em__jit_group_direct(const em__jit_group *gr);
/* The lanes the group's innermost dimension should run at a time (0: one
 * at a time); *strided is set when LLVM's loop vectoriser may do better
 * (strided operands, no known vector unit). */
unsigned em__jit_group_lanes(const em__jit_ctx *c, const em__jit_group *gr,
                             bool *strided);
/* True when a member computes a polynomial (exp, log, tanh, ...). */
bool em__jit_group_computes(const em__jit_ctx *c, const em__jit_group *gr);
/* Emits the group's loop nest at the builder, over gr->begin..gr->end of
 * its outermost dimension when set (else all of it), gr->lanes at a time
 * along the innermost. */
void em__jit_emit_group_code(em__jit_ctx *c, em__jit_group *gr);

/* sum(index[d] * strides[d]) over gr's dimensions, as an element offset. */
LLVMValueRef em__jit_offset(em__jit_ctx *c, const em__jit_group *gr,
                            LLVMValueRef *index, const int64_t *strides);
/* &base[off] for elements of dtype. */
LLVMValueRef em__jit_element_pointer(em__jit_ctx *c, em_dtype dtype,
                                     LLVMValueRef base, LLVMValueRef off);
/* Node i's buffer: c->node_ptr[i] where set, else read from data[i] at
 * the builder (the entry point reads each where it is used, which keeps
 * nothing live across its calls). */
LLVMValueRef em__jit_buffer(em__jit_ctx *c, int i);

#endif
