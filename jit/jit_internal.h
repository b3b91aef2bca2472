/*
 * jit/jit_internal.h - what the JIT's files share: the lowering table (the
 * JIT's column of the op table), the schedule that groups graph nodes into
 * loops, and the state of one module under construction.
 *
 * A concrete function becomes one native entry point
 *
 *     int32_t entry(void **data, em__plan *plan)
 *
 * where data[i] is the buffer of node i (inputs, constants, variables and
 * the plan's buffers) and plan is the buffer plan, used only to run nodes
 * through their library kernels. It returns 0, or 1 with an error pending.
 */
#ifndef EMBER_JIT_INTERNAL_H
#define EMBER_JIT_INTERNAL_H

#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/TargetMachine.h>

#include "executor.h"
#include "graph.h"
#include "kernels.h"

/* ---- the lowering table ---------------------------------------------------*/

typedef enum em__lowering {
    /* No lowering: a graph holding this op stays in the executor. */
    EM__LOWER_NONE = 0,
    /* One value per element: fused with its neighbours into one loop. */
    EM__LOWER_ELEMENTWISE,
    /* sum, max, min over axes: a loop nest with its input fused in. */
    EM__LOWER_REDUCE,
    /* Two-dimensional matrix products: a call to the shared GEMM. */
    EM__LOWER_MATMUL,
    /* In-place variable updates: an elementwise loop storing into the
     * variable. */
    EM__LOWER_ASSIGN,
    /* The output aliases input 0 (no code). */
    EM__LOWER_VIEW,
    /* A call to the op's library kernel (gather, softmax, ...). */
    EM__LOWER_KERNEL,
} em__lowering;

typedef struct em__jit_ctx em__jit_ctx;

/* Emits one element of an elementwise op: in[j] holds input j's element
 * as a value of its dtype's register type (em__jit_type). Returns the
 * result in the node's dtype's register type. */
typedef LLVMValueRef (*em__jit_scalar_fn)(em__jit_ctx *c, const em__node *node,
                                          const em_dtype *in_dtypes,
                                          LLVMValueRef *in);

/* What an element function computes with, which decides whether its loop
 * vectorises and how LLVM should treat the loop. */
typedef enum em__jit_maths {
    EM__MATHS_ARITHMETIC, /* instructions only */
    EM__MATHS_POLYNOMIAL, /* float32: a jit/vmath.c polynomial; float64:
                           * the C library */
    EM__MATHS_LIBRARY,    /* the C library, in double, for every dtype */
} em__jit_maths;

typedef struct em__jit_op {
    em__lowering lowering;
    /* Elementwise and assign rows: the element function, and the dtypes
     * (bit 1 << dtype) of input 0 it is written for; other dtypes run
     * through the kernel. */
    em__jit_scalar_fn scalar;
    unsigned dtypes;
    em__jit_maths maths;
} em__jit_op;

extern const em__jit_op em__jit_ops[EM_OP_COUNT];

#define EM__JIT_FLOATS ((1u << EM_FLOAT32) | (1u << EM_FLOAT64))
#define EM__JIT_ALL_DTYPES ((1u << EM_DTYPE_COUNT) - 1)

/* How node i is run, after em__jit_schedule_make. */
typedef enum em__jit_role {
    EM__ROLE_SOURCE, /* input, constant, variable: nothing to run */
    EM__ROLE_FUSED,  /* computed inside the loop of node run_at[i] */
    EM__ROLE_LOOP,   /* the root of an elementwise or assign loop */
    EM__ROLE_REDUCE, /* a reduction loop nest */
    EM__ROLE_MATMUL,
    EM__ROLE_VIEW,
    EM__ROLE_KERNEL,
    EM__ROLE_REGION, /* a cond or while node: see jit/control.c */
} em__jit_role;

typedef struct em__jit_control em__jit_control;

typedef struct em__jit_schedule {
    int len;
    em__jit_role *role;
    int *run_at; /* the node whose code computes node i (i when not fused) */
    int loops, calls;           /* with those of the regions' code */
    em__jit_control **controls; /* per region node: how it runs, else NULL */
} em__jit_schedule;

/* Decides how each node of g runs. False when a node has no lowering:
 * then `why` says which ("no lowering for op 'x'"). Out of memory gives
 * false with an error and why empty. */
bool em__jit_schedule_make(const em__graph *g, em__jit_schedule *s, char *why,
                           size_t size);
/* em__jit_schedule_make for code that runs cond and while nodes too (the
 * JIT's, not exported code or PTX): each gets its control, with its
 * regions scheduled the same way. dynamic_inputs: NULL for a function's
 * graph; for a region's, a flag per region input sized only at run time
 * (iterations a while loop saved). */
bool em__jit_schedule_make_regions(const em__graph *g,
                                   const bool *dynamic_inputs,
                                   em__jit_schedule *s, char *why, size_t size);
void em__jit_schedule_free(em__jit_schedule *s);

/* ---- control flow (jit/control.c) -----------------------------------------*/

/* A compiled graph's entry point, and each region's code. */
typedef int32_t (*em__jit_entry)(void **data, em__plan *plan);

/* Fills s->controls for the region nodes of g (whose roles s already
 * holds) and adds their regions' loops and calls to s's. False with `why`
 * set when one cannot be compiled, or with an error and `why` empty when
 * out of memory (s->controls then holds what was made). */
bool em__jit_controls_make(const em__graph *g, em__jit_schedule *s,
                           const bool *dynamic_inputs, char *why, size_t size);
void em__jit_control_free(em__jit_control *ctl);

/* Region r (0: then or condition, 1: else or body) of ctl: its graph, and
 * in *s its schedule. */
const em__graph *em__jit_control_region(const em__jit_control *ctl, int r,
                                        const em__jit_schedule **s);

/* The nodes of the enclosing graph whose buffers em__jit_control_run sets
 * (the node's results and views of them), in node order: their count. */
int em__jit_control_reloads(const em__jit_control *ctl, const int **nodes);

/* Runs ctl's node, whose regions' code is first and second, in the
 * enclosing code's buffers (data) and plan: takes a branch or runs the
 * loop, and points data[] and the plan's headers at its results. Returns
 * 1, or 0 with an error pending. */
int32_t em__jit_control_run(em__jit_control *ctl, void **data, em__plan *plan,
                            em__jit_entry first, em__jit_entry second);

/* ---- building a module ----------------------------------------------------*/

struct em__jit_ctx {
    LLVMContextRef llvm;
    LLVMModuleRef module;
    LLVMBuilderRef b;
    LLVMTypeRef i1, i8, i32, i64, f32, f64, ptr;
    LLVMValueRef entry;           /* the function being built */
    LLVMValueRef data, plan;      /* its arguments */
    LLVMBasicBlockRef error_exit; /* returns 1 */
    const em__graph *g;
    const em__jit_schedule *s;
    /* Node i's buffer where one is fixed (a parameter of the function
     * being built); NULL in the JIT's entry point, which reads data[i] at
     * each use. */
    LLVMValueRef *node_ptr;
    bool exported;        /* code for an object file, not for this process */
    char *cpu, *features; /* the target machine's, for every function */
    /* The host's vector registers, in bits (0: no vector code), and while
     * an element is emitted, how many lanes it holds (0 or 1: a scalar). */
    unsigned vector_bits, lanes;
};

/* The register type of a dtype's elements (bool is i8 holding 0 or 1): a
 * vector of c->lanes of them when lanes > 1. */
LLVMTypeRef em__jit_type(em__jit_ctx *c, em_dtype dtype);

/* The type of one element in memory, whatever c->lanes. */
LLVMTypeRef em__jit_elem_type(em__jit_ctx *c, em_dtype dtype);

/* A constant of the dtype's register type (splatted over c->lanes). */
LLVMValueRef em__jit_const(em__jit_ctx *c, em_dtype dtype, double v);

/* True when the element function of node, for input 0 of dtype dt, works
 * on vectors: it calls no C library function. */
bool em__jit_vectorizes(const em__node *node, em_dtype dt);

/* Converts an element between dtypes as em_cast does. */
LLVMValueRef em__jit_convert(em__jit_ctx *c, LLVMValueRef v, em_dtype from,
                             em_dtype to);

/* Element `off` of the dtype's array at base, as a register value (bool
 * normalised to 0 or 1: any non-zero byte is true); with c->lanes > 1, the
 * lanes elements from there. */
LLVMValueRef em__jit_load(em__jit_ctx *c, em_dtype dtype, LLVMValueRef base,
                          LLVMValueRef off);

/* A call to C function `name` at address fn: in code for this process
 * through its address (nothing to resolve by name, in shared and static
 * builds alike); in exported code by name, for the linker. */
LLVMValueRef em__jit_call(em__jit_ctx *c, const char *name, void (*fn)(void),
                          LLVMTypeRef type, LLVMValueRef *args, unsigned n);

/* The string attribute of a function that LLVM should optimise: its IR
 * (loops left to the loop vectoriser) and code, or its code only (loops
 * bound by arithmetic). The JIT generates the other functions' code as
 * they are built, with the fast instruction selector. */
#define EM__JIT_OPTIMIZE "ember-optimize"
#define EM__JIT_OPTIMIZE_IR "ir"
#define EM__JIT_OPTIMIZE_CODE "code"

/* Starts a module for g with schedule s, for target machine tm. False
 * with an error when out of memory. */
bool em__jit_begin(em__jit_ctx *c, LLVMContextRef llvm, const em__graph *g,
                   const em__jit_schedule *s, const char *module_name,
                   LLVMTargetMachineRef tm);
/* Adds the function the nodes' code goes into, tuned for tm, with its
 * error exit (returning 1); the builder is left at its start. */
void em__jit_begin_function(em__jit_ctx *c, const char *name, LLVMTypeRef type,
                            LLVMTargetMachineRef tm);
/* Emits every node's code in graph order, reading c->node_ptr. */
bool em__jit_emit_nodes(em__jit_ctx *c);
/* Returns 0 from the function (when ok) and verifies the module: the
 * module, or NULL with an error (the module is then disposed). */
LLVMModuleRef em__jit_end(em__jit_ctx *c, bool ok);

/* Replaces each loop function (named "loop...") whose code is the same as
 * an earlier one's by that one (jit/share.c). */
void em__jit_share_loops(LLVMModuleRef module);

/* Adds the enum attribute `name` (noinline, noalias, ...) to fn, at
 * index (LLVMAttributeFunctionIndex, or 1 + a parameter's position). */
void em__jit_add_attribute(LLVMValueRef fn, unsigned index, const char *name);

/* Compiles and discards a small module that takes the code paths real
 * functions take, so that LLVM's lazily built static objects exist before
 * the JIT's exit handler is registered (jit/warm_up.c says why). */
void em__jit_warm_up(LLVMOrcLLJITRef jit, LLVMTargetMachineRef tm);

/* Builds the module for g with schedule s: the entry point `name`. NULL
 * with an error. */
LLVMModuleRef em__jit_lower(LLVMContextRef llvm, const em__graph *g,
                            const em__jit_schedule *s, const char *name,
                            LLVMTargetMachineRef tm);

/* ---- GPU code (jit/ptx.c) -------------------------------------------------*/

/* PTX (sm_90) of one module holding a kernel for each elementwise loop
 * group of g's schedule (a loop root that is not an assignment, with the
 * nodes fused into it), in graph order:
 *
 *     .entry kernel_k(out, leaf0, ..., int64 n)
 *
 * out: the root's buffer; leaf j: the j-th distinct value the group reads
 * from outside it, in the order its members (in node order) name their
 * inputs, each read broadcast to the root's shape; n: the root's element
 * count. Any grid works (a grid-stride loop). A group whose element code
 * calls the C library (float64 exp, tanh, ...; sin, cos, erf, pow, gelu)
 * gets no kernel and does not count in k; a comment at the top of the text
 * names the node each kernel computes. Written to EMBER_DUMP=ptx.
 * Returns the malloc'd text with *n_kernels set, or NULL with an error
 * (LLVM without NVPTX, a graph with no lowering, out of memory). */
char *em__jit_ptx(const em__graph *g, int *n_kernels);

#endif
