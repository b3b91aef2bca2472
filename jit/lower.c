/*
 * jit/lower.c - a scheduled graph to one LLVM module.
 *
 * Nodes run in graph order from the entry point. A loop root
 * (elementwise, assign, reduction) becomes a loop nest over its shape
 * (jit/loops.c): a function of its own, shared by the groups whose code is
 * the same, or inline when it computes one element; dimensions that all
 * operands walk contiguously are merged, so most loops are one or two
 * deep. Matrix products call the shared GEMM; the remaining ops call their
 * kernels through the plan. A cond or while node calls its control
 * (jit/control.c) with its regions' code, each region lowered the same way
 * into a function of the same module.
 *
 * The code is emitted ready for code generation (vector loops included),
 * which the JIT runs with LLVM's fast instruction selector; what it leaves
 * to LLVM's optimiser is marked (EM__JIT_OPTIMIZE).
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>

#include "loops.h"
#include "vmath.h"

/* ---- calls into the runtime -----------------------------------------------*/

/* Plain integer arguments keep the calls independent of how the C ABI
 * passes bool and enums. */
static void call_gemm(int32_t dtype, int32_t ta, int32_t tb, int64_t m,
                      int64_t n, int64_t k, const void *a, int64_t lda,
                      const void *b, int64_t ldb, void *c)
{
    em__gemm((em_dtype)dtype, ta != 0, tb != 0, m, n, k, a, lda, b, ldb, c);
}

static int32_t call_kernel(em__plan *plan, int32_t node)
{
    return em__plan_run_node(plan, node) ? 1 : 0;
}

/* ---- nodes ----------------------------------------------------------------*/

static void add_string_attribute(LLVMContextRef llvm, LLVMValueRef fn,
                                 const char *key, const char *value)
{
    LLVMAttributeRef a = LLVMCreateStringAttribute(
        llvm, key, (unsigned)strlen(key), value, (unsigned)strlen(value));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

void em__jit_add_attribute(LLVMValueRef fn, unsigned index, const char *name)
{
    LLVMContextRef llvm = LLVMGetModuleContext(LLVMGetGlobalParent(fn));
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    LLVMAddAttributeAtIndex(fn, index, LLVMCreateEnumAttribute(llvm, kind, 0));
}

/* Tunes fn for the target machine's CPU. */
static void add_target_attributes(em__jit_ctx *c, LLVMValueRef fn)
{
    add_string_attribute(c->llvm, fn, "target-cpu", c->cpu);
    add_string_attribute(c->llvm, fn, "target-features", c->features);
    /* Tuning for some AVX-512 CPUs prefers 256-bit vectors; these loops are
     * long and regular, so ask for the full width. */
    if (strstr(c->features, "+avx512f"))
        add_string_attribute(c->llvm, fn, "prefer-vector-width", "512");
    em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "nounwind");
}

/* Loops over at least this many elements are split across the runtime's
 * threads, in parts of at least PARALLEL_PART elements: below that, waking
 * the threads costs more than it saves. */
enum { PARALLEL_MIN = 1 << 17, PARALLEL_PART = 1 << 15 };

/* True when the outermost dimension's iterations write disjoint outputs,
 * so that parts of its range can run at once. */
static bool group_splits(const em__jit_ctx *c, const em__jit_group *gr)
{
    if (c->exported || gr->shape[0] < 2 ||
        em__jit_group_size(gr) < PARALLEL_MIN)
        return false;
    if (c->s->role[gr->root] == EM__ROLE_REDUCE)
        return !gr->reduced[0] && em__jit_group_direct(gr);
    return true;
}

static void run_range(void (*fn)(void *, int64_t, int64_t), void *ctx,
                      int64_t n, int64_t grain)
{
    em__parallel_for(fn, ctx, n, grain);
}

/* Calls the group function over the outermost range [0, n): directly, or
 * through a task(ctx, begin, end) that em__parallel_for runs on parts of
 * it, ctx holding the group's pointers. */
static void call_group(em__jit_ctx *c, const em__jit_group *gr, LLVMValueRef fn,
                       LLVMTypeRef type, LLVMValueRef *args, int n)
{
    LLVMValueRef range = LLVMConstInt(c->i64, (uint64_t)gr->shape[0], 0);
    if (!group_splits(c, gr)) {
        args[n] = LLVMConstInt(c->i64, 0, 0);
        args[n + 1] = range;
        LLVMBuildCall2(c->b, type, fn, args, (unsigned)n + 2, "");
        return;
    }
    LLVMTypeRef array = LLVMArrayType2(c->ptr, (uint64_t)n);
    LLVMValueRef ctx = LLVMBuildAlloca(c->b, array, "pointers");
    for (int k = 0; k < n; k++) {
        LLVMValueRef at = LLVMConstInt(c->i64, (uint64_t)k, 0);
        LLVMBuildStore(c->b, args[k],
                       LLVMBuildInBoundsGEP2(c->b, c->ptr, ctx, &at, 1, ""));
    }
    LLVMTypeRef task_type =
        LLVMFunctionType(LLVMVoidTypeInContext(c->llvm),
                         (LLVMTypeRef[]){c->ptr, c->i64, c->i64}, 3, 0);
    LLVMValueRef task = LLVMAddFunction(c->module, "task", task_type);
    LLVMSetLinkage(task, LLVMPrivateLinkage);
    add_target_attributes(c, task);
    LLVMBasicBlockRef resume = LLVMGetInsertBlock(c->b);
    LLVMPositionBuilderAtEnd(
        c->b, LLVMAppendBasicBlockInContext(c->llvm, task, "start"));
    LLVMValueRef *loaded = calloc((size_t)n + 2, sizeof *loaded);
    for (int k = 0; loaded && k < n; k++) {
        LLVMValueRef at = LLVMConstInt(c->i64, (uint64_t)k, 0);
        LLVMValueRef p = LLVMBuildInBoundsGEP2(
            c->b, c->ptr, LLVMGetParam(task, 0), &at, 1, "");
        loaded[k] = LLVMBuildLoad2(c->b, c->ptr, p, "");
    }
    if (loaded) {
        loaded[n] = LLVMGetParam(task, 1);
        loaded[n + 1] = LLVMGetParam(task, 2);
        LLVMBuildCall2(c->b, type, fn, loaded, (unsigned)n + 2, "");
    }
    free(loaded);
    LLVMBuildRetVoid(c->b);
    LLVMPositionBuilderAtEnd(c->b, resume);

    int64_t inner = em__jit_group_size(gr) / gr->shape[0];
    int64_t grain = (PARALLEL_PART + inner - 1) / inner;
    LLVMTypeRef run_type =
        LLVMFunctionType(LLVMVoidTypeInContext(c->llvm),
                         (LLVMTypeRef[]){c->ptr, c->ptr, c->i64, c->i64}, 4, 0);
    em__jit_call(c, "em__parallel_for", (void (*)(void))run_range, run_type,
                 (LLVMValueRef[]){task, ctx, range,
                                  LLVMConstInt(c->i64, (uint64_t)grain, 0)},
                 4);
}

/* Asks for LLVM's optimisation of fn: of its IR (the loop vectoriser)
 * and its code, or of its code only. */
static void ask_optimisation(em__jit_ctx *c, LLVMValueRef fn, bool ir)
{
    add_string_attribute(c->llvm, fn, EM__JIT_OPTIMIZE,
                         ir ? EM__JIT_OPTIMIZE_IR : EM__JIT_OPTIMIZE_CODE);
}

/* The code of a group that computes one element: in the function being
 * built, with no loop. */
static void emit_group_inline(em__jit_ctx *c, em__jit_group *gr)
{
    gr->lanes = 0;
    em__jit_emit_group_code(c, gr);
}

/* A loop group is a function of its own, called from the entry point:
 * void loop(out, leaves..., begin, end), over [begin, end) of its
 * outermost dimension (so that large loops can be split across threads).
 * A planned buffer it writes is passed as a noalias pointer (nothing else
 * in the group can reach it); an update's variable is not, since the group
 * reads it too. Small functions also keep LLVM's time linear in the number
 * of loops, and groups whose code is the same share one function. */
static bool emit_group(em__jit_ctx *c, int root)
{
    em__jit_group gr;
    if (!em__jit_group_make(c, &gr, root)) {
        em__jit_group_free(&gr);
        return false;
    }
    const em__node *rn = &c->g->nodes[root];
    bool reduce = c->s->role[root] == EM__ROLE_REDUCE;
    int64_t size = em__jit_group_size(&gr);
    if (size == 0 && !reduce) {
        em__jit_group_free(&gr);
        return true;
    }
    if (size == 1 && !c->exported) {
        emit_group_inline(c, &gr);
        em__jit_group_free(&gr);
        return true;
    }
    bool assign = em__jit_ops[rn->op].lowering == EM__LOWER_ASSIGN;
    int out = assign ? rn->inputs[0] : root;
    int n = 1;
    int *nodes = calloc((size_t)gr.n_leaves + 1, sizeof *nodes);
    LLVMValueRef *args = calloc((size_t)gr.n_leaves + 3, sizeof *args);
    LLVMValueRef *saved = calloc((size_t)gr.n_leaves + 1, sizeof *saved);
    LLVMTypeRef *types = calloc((size_t)gr.n_leaves + 3, sizeof *types);
    if (!nodes || !args || !saved || !types) {
        free(nodes), free(args), free(saved), free(types);
        em__jit_group_free(&gr);
        return false;
    }
    nodes[0] = out;
    for (int k = 0; k < gr.n_leaves; k++)
        if (gr.leaves[k] != out)
            nodes[n++] = gr.leaves[k];
    for (int k = 0; k < n; k++)
        types[k] = c->ptr;
    types[n] = types[n + 1] = c->i64;
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(c->llvm), types,
                                        (unsigned)n + 2, 0);
    LLVMValueRef fn = LLVMAddFunction(c->module, "loop", type);
    LLVMSetLinkage(fn, LLVMPrivateLinkage);
    add_target_attributes(c, fn);
    em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "noinline");
    if (!assign)
        em__jit_add_attribute(fn, 1, "noalias");
    bool strided;
    gr.lanes = em__jit_group_lanes(c, &gr, &strided);
    if (strided)
        ask_optimisation(c, fn, true);
    else if (gr.lanes > 1 && em__jit_group_computes(c, &gr))
        ask_optimisation(c, fn, false);

    LLVMValueRef caller = c->entry;
    LLVMBasicBlockRef resume = LLVMGetInsertBlock(c->b);
    c->entry = fn;
    LLVMPositionBuilderAtEnd(
        c->b, LLVMAppendBasicBlockInContext(c->llvm, fn, "start"));
    for (int k = 0; k < n; k++) {
        saved[k] = c->node_ptr[nodes[k]];
        c->node_ptr[nodes[k]] = LLVMGetParam(fn, (unsigned)k);
    }
    gr.begin = LLVMGetParam(fn, (unsigned)n);
    gr.end = LLVMGetParam(fn, (unsigned)n + 1);
    em__jit_emit_group_code(c, &gr);
    LLVMBuildRetVoid(c->b);

    for (int k = n - 1; k >= 0; k--)
        c->node_ptr[nodes[k]] = saved[k];
    c->entry = caller;
    LLVMPositionBuilderAtEnd(c->b, resume);
    for (int k = 0; k < n; k++)
        args[k] = em__jit_buffer(c, nodes[k]);
    call_group(c, &gr, fn, type, args, n);
    free(nodes), free(args), free(saved), free(types);
    em__jit_group_free(&gr);
    return true;
}

/* The product as loops: for exported code (no BLAS at run time), and in
 * the JIT for products too small for BLAS to pay. When a's rows and b's
 * columns are both contiguous, each output is a dot product carried in a
 * register (reassociated, so that it vectorises, as BLAS does); otherwise
 * out = 0, then out[i, :] += a[i, p] * b[p, :] for each i and p, which
 * vectorises along out's rows. */
static void emit_matmul_loops(em__jit_ctx *c, int i)
{
    const em__node *node = &c->g->nodes[i];
    const em__type *at = &c->g->nodes[node->inputs[0]].type;
    const em__type *bt = &c->g->nodes[node->inputs[1]].type;
    bool ta = node->attrs.transpose_a, tb = node->attrs.transpose_b;
    int64_t m = ta ? at->shape[1] : at->shape[0];
    int64_t k = ta ? at->shape[0] : at->shape[1];
    int64_t n = tb ? bt->shape[0] : bt->shape[1];
    int64_t lda = at->shape[1], ldb = bt->shape[1];
    int64_t a_row = ta ? 1 : lda, a_col = ta ? lda : 1;
    int64_t b_row = tb ? 1 : ldb, b_col = tb ? ldb : 1;
    em_dtype dt = node->type.dtype;
    LLVMTypeRef type = em__jit_type(c, dt);
    LLVMValueRef a = em__jit_buffer(c, node->inputs[0]);
    LLVMValueRef b = em__jit_buffer(c, node->inputs[1]);
    LLVMValueRef out = em__jit_buffer(c, i);
    em__jit_group gr = {.ndim = 2};
    LLVMValueRef index[2];
    em__jit_loop li, lj, lp;

    if (a_col == 1 && b_row == 1 && m * n > 0) {
        em__jit_loop_open(c, &li, m, NULL);
        em__jit_loop_open(c, &lj, n, NULL);
        em__jit_loop_open(c, &lp, k, em__jit_const(c, dt, 0));
        index[0] = li.index;
        index[1] = lp.index;
        LLVMValueRef aip = em__jit_load(
            c, dt, a, em__jit_offset(c, &gr, index, (int64_t[]){a_row, 1}));
        index[0] = lj.index;
        LLVMValueRef bpj = em__jit_load(
            c, dt, b, em__jit_offset(c, &gr, index, (int64_t[]){b_col, 1}));
        LLVMValueRef sum =
            LLVMBuildFAdd(c->b, lp.acc, LLVMBuildFMul(c->b, aip, bpj, ""), "");
        LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc |
                                      LLVMFastMathAllowContract);
        em__jit_loop_close(c, &lp, sum);
        index[0] = li.index;
        index[1] = lj.index;
        LLVMBuildStore(
            c->b, lp.acc,
            em__jit_element_pointer(
                c, dt, out, em__jit_offset(c, &gr, index, (int64_t[]){n, 1})));
        em__jit_loop_close(c, &lj, NULL);
        em__jit_loop_close(c, &li, NULL);
        return;
    }

    em__jit_loop_open(c, &li, m * n, NULL);
    LLVMBuildStore(c->b, em__jit_const(c, dt, 0),
                   em__jit_element_pointer(c, dt, out, li.index));
    em__jit_loop_close(c, &li, NULL);
    if (m * n * k == 0)
        return;
    if (n == 1 && a_row == 1) {
        /* A transposed a times a vector: out[:] += a[p, :] * b[p], both
         * contiguous. */
        em__jit_loop_open(c, &lp, k, NULL);
        index[0] = lp.index;
        index[1] = LLVMConstInt(c->i64, 0, 0);
        LLVMValueRef bp = em__jit_load(
            c, dt, b, em__jit_offset(c, &gr, index, (int64_t[]){b_row, 0}));
        em__jit_loop_open(c, &li, m, NULL);
        index[1] = li.index;
        LLVMValueRef api = em__jit_load(
            c, dt, a, em__jit_offset(c, &gr, index, (int64_t[]){a_col, 1}));
        LLVMValueRef p = em__jit_element_pointer(c, dt, out, li.index);
        LLVMBuildStore(c->b,
                       LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, type, p, ""),
                                     LLVMBuildFMul(c->b, api, bp, ""), ""),
                       p);
        em__jit_loop_close(c, &li, NULL);
        em__jit_loop_close(c, &lp, NULL);
        return;
    }
    em__jit_loop_open(c, &li, m, NULL);
    em__jit_loop_open(c, &lp, k, NULL);
    index[0] = li.index;
    index[1] = lp.index;
    LLVMValueRef aip = em__jit_load(
        c, dt, a, em__jit_offset(c, &gr, index, (int64_t[]){a_row, a_col}));
    em__jit_loop_open(c, &lj, n, NULL);
    index[0] = lp.index;
    index[1] = lj.index;
    LLVMValueRef bpj = em__jit_load(
        c, dt, b, em__jit_offset(c, &gr, index, (int64_t[]){b_row, b_col}));
    index[0] = li.index;
    LLVMValueRef p = em__jit_element_pointer(
        c, dt, out, em__jit_offset(c, &gr, index, (int64_t[]){n, 1}));
    LLVMValueRef sum = LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, type, p, ""),
                                     LLVMBuildFMul(c->b, aip, bpj, ""), "");
    LLVMBuildStore(c->b, sum, p);
    em__jit_loop_close(c, &lj, NULL);
    em__jit_loop_close(c, &lp, NULL);
    em__jit_loop_close(c, &li, NULL);
}

/* The product's loops as a function of their own, matmul(a, b, out),
 * left to LLVM's loop vectoriser. */
static void emit_matmul_function(em__jit_ctx *c, int i)
{
    const em__node *node = &c->g->nodes[i];
    int nodes[3] = {node->inputs[0], node->inputs[1], i};
    LLVMValueRef args[3], saved[3];
    for (int k = 0; k < 3; k++)
        saved[k] = c->node_ptr[nodes[k]];
    LLVMTypeRef type =
        LLVMFunctionType(LLVMVoidTypeInContext(c->llvm),
                         (LLVMTypeRef[]){c->ptr, c->ptr, c->ptr}, 3, 0);
    LLVMValueRef fn = LLVMAddFunction(c->module, "matmul", type);
    LLVMSetLinkage(fn, LLVMPrivateLinkage);
    add_target_attributes(c, fn);
    em__jit_add_attribute(fn, LLVMAttributeFunctionIndex, "noinline");
    em__jit_add_attribute(fn, 3, "noalias");
    ask_optimisation(c, fn, true);
    LLVMValueRef caller = c->entry;
    LLVMBasicBlockRef resume = LLVMGetInsertBlock(c->b);
    c->entry = fn;
    LLVMPositionBuilderAtEnd(
        c->b, LLVMAppendBasicBlockInContext(c->llvm, fn, "start"));
    /* a and b may be one buffer: set out last. */
    for (int k = 0; k < 3; k++)
        c->node_ptr[nodes[k]] = LLVMGetParam(fn, (unsigned)k);
    emit_matmul_loops(c, i);
    LLVMBuildRetVoid(c->b);
    for (int k = 2; k >= 0; k--)
        c->node_ptr[nodes[k]] = saved[k];
    c->entry = caller;
    LLVMPositionBuilderAtEnd(c->b, resume);
    for (int k = 0; k < 3; k++)
        args[k] = em__jit_buffer(c, nodes[k]);
    LLVMBuildCall2(c->b, type, fn, args, 3, "");
}

/* Below this many multiply-adds the JIT generates the product's loops
 * (the same bound as the matmul kernel's own small-product loops); for a
 * matrix times a vector, which BLAS packs for nothing, up to the larger
 * bound. */
enum { SMALL_MATMUL = 16384, VECTOR_MATMUL = 1 << 20 };

static void emit_matmul(em__jit_ctx *c, int i)
{
    const em__node *node = &c->g->nodes[i];
    const em__type *a = &c->g->nodes[node->inputs[0]].type;
    const em__type *b = &c->g->nodes[node->inputs[1]].type;
    bool ta = node->attrs.transpose_a, tb = node->attrs.transpose_b;
    int64_t m = ta ? a->shape[1] : a->shape[0];
    int64_t k = ta ? a->shape[0] : a->shape[1];
    int64_t n = tb ? b->shape[0] : b->shape[1];
    int64_t macs = m * n * k;
    if (c->exported) {
        emit_matmul_loops(c, i);
        return;
    }
    if (macs <= SMALL_MATMUL || ((m == 1 || n == 1) && macs <= VECTOR_MATMUL)) {
        emit_matmul_function(c, i);
        return;
    }
    LLVMTypeRef i32 = c->i32, i64 = c->i64, p = c->ptr;
    LLVMTypeRef params[] = {i32, i32, i32, i64, i64, i64, p, i64, p, i64, p};
    LLVMTypeRef type =
        LLVMFunctionType(LLVMVoidTypeInContext(c->llvm), params, 11, 0);
    LLVMValueRef args[] = {
        LLVMConstInt(i32, (uint64_t)node->type.dtype, 0),
        LLVMConstInt(i32, ta, 0),
        LLVMConstInt(i32, tb, 0),
        LLVMConstInt(i64, (uint64_t)m, 0),
        LLVMConstInt(i64, (uint64_t)n, 0),
        LLVMConstInt(i64, (uint64_t)k, 0),
        em__jit_buffer(c, node->inputs[0]),
        LLVMConstInt(i64, (uint64_t)a->shape[1], 0),
        em__jit_buffer(c, node->inputs[1]),
        LLVMConstInt(i64, (uint64_t)b->shape[1], 0),
        em__jit_buffer(c, i),
    };
    em__jit_call(c, "em__gemm", (void (*)(void))call_gemm, type, args, 11);
}

/* Leaves through the error exit when ok (an i32) is 0. */
static void exit_on_failure(em__jit_ctx *c, LLVMValueRef ok)
{
    LLVMBasicBlockRef next =
        LLVMAppendBasicBlockInContext(c->llvm, c->entry, "next");
    LLVMValueRef failed =
        LLVMBuildICmp(c->b, LLVMIntEQ, ok, LLVMConstInt(c->i32, 0, 0), "");
    LLVMBuildCondBr(c->b, failed, c->error_exit, next);
    LLVMPositionBuilderAtEnd(c->b, next);
}

static void emit_kernel(em__jit_ctx *c, int i)
{
    LLVMTypeRef type =
        LLVMFunctionType(c->i32, (LLVMTypeRef[]){c->ptr, c->i32}, 2, 0);
    LLVMValueRef ok = em__jit_call(
        c, "em__plan_run_node", (void (*)(void))call_kernel, type,
        (LLVMValueRef[]){c->plan, LLVMConstInt(c->i32, (uint64_t)i, 0)}, 2);
    exit_on_failure(c, ok);
}

/* ---- control flow ---------------------------------------------------------*/

/* Points c->node_ptr at node i's buffer as data[i] holds it now. */
static void load_buffer(em__jit_ctx *c, int i)
{
    LLVMValueRef at = LLVMConstInt(c->i64, (uint64_t)i, 0);
    LLVMValueRef slot =
        LLVMBuildInBoundsGEP2(c->b, c->ptr, c->data, &at, 1, "");
    c->node_ptr[i] = LLVMBuildLoad2(c->b, c->ptr, slot, "");
}

/* Region r of control ctl as a private function of the module, with the
 * entry point's signature: the code of its own graph and schedule. NULL
 * when out of memory (with an error). */
static LLVMValueRef emit_region_function(em__jit_ctx *c,
                                         const em__jit_control *ctl, int r)
{
    em__jit_ctx outer = *c;
    LLVMBasicBlockRef resume = LLVMGetInsertBlock(c->b);
    c->g = em__jit_control_region(ctl, r, &c->s);
    c->node_ptr = calloc((size_t)c->g->len + 1, sizeof *c->node_ptr);
    if (!c->node_ptr) {
        *c = outer;
        return NULL;
    }
    LLVMTypeRef type =
        LLVMFunctionType(c->i32, (LLVMTypeRef[]){c->ptr, c->ptr}, 2, 0);
    em__jit_begin_function(c, "region", type, NULL);
    LLVMSetLinkage(c->entry, LLVMPrivateLinkage);
    c->data = LLVMGetParam(c->entry, 0);
    c->plan = LLVMGetParam(c->entry, 1);
    bool ok = em__jit_emit_nodes(c); /* buffers read where used */
    if (ok)
        LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
    LLVMValueRef fn = c->entry;
    free(c->node_ptr);
    *c = outer;
    LLVMPositionBuilderAtEnd(c->b, resume);
    return ok ? fn : NULL;
}

/* A cond or while node: its regions' code, and a call of the control
 * that runs them; then the buffers of its results (and of views of them)
 * as the control set them. */
static bool emit_region(em__jit_ctx *c, int i)
{
    const em__jit_control *ctl = c->s->controls[i];
    LLVMValueRef code[2];
    for (int r = 0; r < 2; r++)
        if (!(code[r] = emit_region_function(c, ctl, r)))
            return false;
    LLVMTypeRef p = c->ptr;
    LLVMTypeRef type =
        LLVMFunctionType(c->i32, (LLVMTypeRef[]){p, p, p, p, p}, 5, 0);
    LLVMValueRef address =
        LLVMConstInt(c->i64, (unsigned long long)(uintptr_t)ctl, 0);
    LLVMValueRef args[] = {LLVMConstIntToPtr(address, p), c->data, c->plan,
                           code[0], code[1]};
    exit_on_failure(c, em__jit_call(c, "em__jit_control_run",
                                    (void (*)(void))em__jit_control_run, type,
                                    args, 5));
    const int *reloads;
    int n = em__jit_control_reloads(ctl, &reloads);
    for (int k = 0; k < n; k++)
        load_buffer(c, reloads[k]);
    return true;
}

void em__jit_begin_function(em__jit_ctx *c, const char *name, LLVMTypeRef type,
                            LLVMTargetMachineRef tm)
{
    c->entry = LLVMAddFunction(c->module, name, type);
    add_target_attributes(c, c->entry);

    LLVMBasicBlockRef start =
        LLVMAppendBasicBlockInContext(c->llvm, c->entry, "start");
    c->error_exit = LLVMAppendBasicBlockInContext(c->llvm, c->entry, "failed");
    LLVMPositionBuilderAtEnd(c->b, c->error_exit);
    LLVMBuildRet(c->b, LLVMConstInt(c->i32, 1, 0));
    LLVMPositionBuilderAtEnd(c->b, start);
}

/* The width of the vector registers a target's features name. */
static unsigned vector_bits(const char *features)
{
    if (strstr(features, "+avx512f"))
        return 512; /* functions ask for the full width */
    if (strstr(features, "+avx"))
        return 256;
    if (strstr(features, "+sse2") || strstr(features, "+neon"))
        return 128;
    return 0;
}

bool em__jit_begin(em__jit_ctx *c, LLVMContextRef llvm, const em__graph *g,
                   const em__jit_schedule *s, const char *module_name,
                   LLVMTargetMachineRef tm)
{
    *c = (em__jit_ctx){.llvm = llvm, .g = g, .s = s};
    c->node_ptr = calloc((size_t)g->len + 1, sizeof *c->node_ptr);
    if (!c->node_ptr) {
        em__error("jit: out of memory building '%s'", g->name);
        return false;
    }
    c->module = LLVMModuleCreateWithNameInContext(module_name, llvm);
    c->b = LLVMCreateBuilderInContext(llvm);
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(c->module, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(tm);
    char *layout_text = LLVMCopyStringRepOfTargetData(layout);
    LLVMSetDataLayout(c->module, layout_text);
    LLVMDisposeMessage(layout_text);
    LLVMDisposeTargetData(layout);

    c->i1 = LLVMInt1TypeInContext(llvm);
    c->i8 = LLVMInt8TypeInContext(llvm);
    c->i32 = LLVMInt32TypeInContext(llvm);
    c->i64 = LLVMInt64TypeInContext(llvm);
    c->f32 = LLVMFloatTypeInContext(llvm);
    c->f64 = LLVMDoubleTypeInContext(llvm);
    c->ptr = LLVMPointerTypeInContext(llvm, 0);
    c->cpu = LLVMGetTargetMachineCPU(tm);
    c->features = LLVMGetTargetMachineFeatureString(tm);
    c->vector_bits = vector_bits(c->features);
    return true;
}

bool em__jit_emit_nodes(em__jit_ctx *c)
{
    for (int i = 0; i < c->g->len; i++) {
        switch (c->s->role[i]) {
        case EM__ROLE_LOOP:
        case EM__ROLE_REDUCE:
            if (!emit_group(c, i)) {
                em__error("jit: out of memory building '%s'", c->g->name);
                return false;
            }
            break;
        case EM__ROLE_MATMUL:
            emit_matmul(c, i);
            break;
        case EM__ROLE_KERNEL:
            emit_kernel(c, i);
            break;
        case EM__ROLE_REGION:
            if (!emit_region(c, i)) {
                if (!em_error_pending())
                    em__error("jit: out of memory building '%s'", c->g->name);
                return false;
            }
            break;
        default: /* sources, views, fused nodes: no code of their own */
            break;
        }
    }
    return true;
}

LLVMModuleRef em__jit_end(em__jit_ctx *c, bool ok)
{
    if (ok)
        LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
    LLVMDisposeBuilder(c->b);
    LLVMDisposeMessage(c->cpu);
    LLVMDisposeMessage(c->features);
    free(c->node_ptr);
    c->node_ptr = NULL;

    if (ok) {
        em__vmath_fold_products(c->module);
        em__jit_share_loops(c->module);
    }
    char *problem = NULL;
    if (!ok || LLVMVerifyModule(c->module, LLVMReturnStatusAction, &problem)) {
        if (problem)
            em__error("jit: invalid code for '%s': %s", c->g->name, problem);
        LLVMDisposeMessage(problem);
        LLVMDisposeModule(c->module);
        return NULL;
    }
    LLVMDisposeMessage(problem);
    return c->module;
}

LLVMModuleRef em__jit_lower(LLVMContextRef llvm, const em__graph *g,
                            const em__jit_schedule *s, const char *name,
                            LLVMTargetMachineRef tm)
{
    em__jit_ctx c;
    if (!em__jit_begin(&c, llvm, g, s, name, tm))
        return NULL;
    LLVMTypeRef type =
        LLVMFunctionType(c.i32, (LLVMTypeRef[]){c.ptr, c.ptr}, 2, 0);
    em__jit_begin_function(&c, name, type, tm);
    c.data = LLVMGetParam(c.entry, 0);
    c.plan = LLVMGetParam(c.entry, 1);
    return em__jit_end(&c, em__jit_emit_nodes(&c));
}
