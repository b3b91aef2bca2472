/*
 * jit/lower.c - a scheduled graph to one LLVM function.
 *
 * Nodes run in graph order. A loop root (elementwise, assign, reduction)
 * becomes one loop nest over its shape in which every fused node is one
 * instruction sequence and every other value it reads (a leaf) one load
 * through broadcast strides; dimensions that all operands walk
 * contiguously are merged, so most loops are one or two deep. Matrix
 * products call the shared GEMM; the remaining ops call their kernels
 * through the plan. A cond or while node calls its control (jit/control.c)
 * with its regions' code, each region lowered the same way into a function
 * of the same module.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>

#include "jit_internal.h"

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

/* ---- loops ----------------------------------------------------------------*/

typedef struct loop {
    LLVMBasicBlockRef header, exit;
    LLVMValueRef index, acc; /* acc: a value carried around, or NULL */
} loop;

/* Opens `for (index = begin; index < end; index++)`; the builder is left
 * in the body. acc_init, when given, starts a value carried between
 * iterations. */
static void loop_open_range(em__jit_ctx *c, loop *l, LLVMValueRef begin,
                            LLVMValueRef end, LLVMValueRef acc_init)
{
    LLVMBasicBlockRef before = LLVMGetInsertBlock(c->b);
    l->header = LLVMAppendBasicBlockInContext(c->llvm, c->entry, "loop");
    LLVMBasicBlockRef body =
        LLVMAppendBasicBlockInContext(c->llvm, c->entry, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->llvm, c->entry, "done");
    LLVMBuildBr(c->b, l->header);

    LLVMPositionBuilderAtEnd(c->b, l->header);
    l->index = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMAddIncoming(l->index, &begin, &before, 1);
    l->acc = NULL;
    if (acc_init) {
        l->acc = LLVMBuildPhi(c->b, LLVMTypeOf(acc_init), "acc");
        LLVMAddIncoming(l->acc, &acc_init, &before, 1);
    }
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, l->index, end, "");
    LLVMBuildCondBr(c->b, more, body, l->exit);
    LLVMPositionBuilderAtEnd(c->b, body);
}

/* for (index = 0; index < n; index++) */
static void loop_open(em__jit_ctx *c, loop *l, int64_t n, LLVMValueRef acc_init)
{
    loop_open_range(c, l, LLVMConstInt(c->i64, 0, 0),
                    LLVMConstInt(c->i64, (uint64_t)n, 0), acc_init);
}

/* Closes the loop (acc_next: the carried value for the next iteration);
 * the builder is left after it, where l->acc holds the final value. */
static void loop_close(em__jit_ctx *c, loop *l, LLVMValueRef acc_next)
{
    LLVMBasicBlockRef end = LLVMGetInsertBlock(c->b);
    LLVMValueRef next =
        LLVMBuildAdd(c->b, l->index, LLVMConstInt(c->i64, 1, 0), "");
    LLVMBuildBr(c->b, l->header);
    LLVMAddIncoming(l->index, &next, &end, 1);
    if (l->acc)
        LLVMAddIncoming(l->acc, &acc_next, &end, 1);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
}

/* ---- one loop group -------------------------------------------------------*/

typedef struct group {
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
} group;

/* Opens the loop over dimension d: the group's range for the outermost. */
static void group_loop_open(em__jit_ctx *c, const group *gr, loop *l, int d,
                            LLVMValueRef acc_init)
{
    if (d == 0 && gr->begin)
        loop_open_range(c, l, gr->begin, gr->end, acc_init);
    else
        loop_open(c, l, gr->shape[d], acc_init);
}

static bool in_group(const em__jit_ctx *c, const group *gr, int node)
{
    return c->s->role[node] == EM__ROLE_FUSED && c->s->run_at[node] == gr->root;
}

static void add_leaf(group *gr, int node)
{
    for (int k = 0; k < gr->n_leaves; k++)
        if (gr->leaves[k] == node)
            return;
    gr->leaves[gr->n_leaves++] = node;
}

/* Fills the members, the leaves and the merged loop dimensions. */
static bool group_make(em__jit_ctx *c, group *gr, int root)
{
    const em__graph *g = c->g;
    const em__node *rn = &g->nodes[root];
    bool reduce = c->s->role[root] == EM__ROLE_REDUCE;
    *gr = (group){.root = root};
    int cap = 0;
    for (int j = 0; j <= root; j++)
        if (in_group(c, gr, j) || j == root)
            cap += g->nodes[j].n_in + 1;
    gr->members = calloc((size_t)cap + 1, sizeof(int));
    gr->leaves = calloc((size_t)cap + 1, sizeof(int));
    gr->leaf_strides = calloc((size_t)cap + 1, sizeof(int64_t) * EM_MAX_DIMS);
    gr->values = calloc((size_t)g->len + 1, sizeof(LLVMValueRef));
    if (!gr->members || !gr->leaves || !gr->leaf_strides || !gr->values)
        return false;
    for (int j = 0; j <= root; j++) {
        if (!in_group(c, gr, j) && !(j == root && !reduce))
            continue;
        gr->members[gr->n_members++] = j;
        for (int k = 0; k < g->nodes[j].n_in; k++)
            if (!in_group(c, gr, g->nodes[j].inputs[k]))
                add_leaf(gr, g->nodes[j].inputs[k]);
    }
    if (reduce && !in_group(c, gr, rn->inputs[0]))
        add_leaf(gr, rn->inputs[0]);

    /* Strides over the full loop shape, then merged. */
    const em__type *shape = reduce ? &g->nodes[rn->inputs[0]].type : &rn->type;
    int nd = shape->ndim;
    int64_t full[EM_MAX_DIMS + 1][EM_MAX_DIMS];
    bool reduced[EM_MAX_DIMS] = {0};
    if (reduce) {
        for (int d = 0; d < nd; d++)
            reduced[d] = rn->attrs.naxes == 0;
        for (int a = 0; a < rn->attrs.naxes; a++)
            reduced[rn->attrs.axes[a]] = true;
        int64_t stride = 1;
        for (int d = nd - 1; d >= 0; d--) {
            full[0][d] = reduced[d] ? 0 : stride;
            stride *= reduced[d] ? 1 : shape->shape[d];
        }
    } else {
        em__strides(shape, full[0]);
    }
    int64_t *strides =
        calloc((size_t)gr->n_leaves + 1, sizeof(int64_t) * EM_MAX_DIMS);
    if (!strides)
        return false;
    for (int k = 0; k < gr->n_leaves; k++)
        em__broadcast_strides(&g->nodes[gr->leaves[k]].type, shape,
                              strides + (size_t)k * EM_MAX_DIMS);

    /* Walk from the innermost dimension out, dropping size-1 dimensions and
     * merging a dimension into the one inside it when every operand steps
     * through both as one run. */
    int m = 0; /* merged dims, collected innermost first */
    int64_t mshape[EM_MAX_DIMS], mout[EM_MAX_DIMS];
    bool mred[EM_MAX_DIMS];
    for (int d = nd - 1; d >= 0; d--) {
        int64_t size = shape->shape[d];
        if (size == 1)
            continue;
        bool merge = m > 0 && mred[m - 1] == reduced[d] &&
                     full[0][d] == mout[m - 1] * mshape[m - 1];
        for (int k = 0; k < gr->n_leaves && merge; k++) {
            int64_t *ls = strides + (size_t)k * EM_MAX_DIMS;
            int64_t *ms = gr->leaf_strides + (size_t)k * EM_MAX_DIMS;
            merge = ls[d] == ms[m - 1] * mshape[m - 1];
        }
        if (merge) {
            mshape[m - 1] *= size;
            continue;
        }
        mshape[m] = size;
        mout[m] = full[0][d];
        mred[m] = reduced[d];
        for (int k = 0; k < gr->n_leaves; k++)
            gr->leaf_strides[(size_t)k * EM_MAX_DIMS + m] =
                strides[(size_t)k * EM_MAX_DIMS + d];
        m++;
    }
    free(strides);
    if (m == 0) { /* one element */
        mshape[0] = 1;
        mout[0] = 0;
        mred[0] = reduce;
        for (int k = 0; k < gr->n_leaves; k++)
            gr->leaf_strides[(size_t)k * EM_MAX_DIMS] = 0;
        m = 1;
    }
    /* Outermost first from here on. */
    gr->ndim = m;
    for (int d = 0; d < m; d++) {
        gr->shape[d] = mshape[m - 1 - d];
        gr->out_strides[d] = mout[m - 1 - d];
        gr->reduced[d] = mred[m - 1 - d];
    }
    for (int k = 0; k < gr->n_leaves; k++) {
        int64_t *ls = gr->leaf_strides + (size_t)k * EM_MAX_DIMS;
        int64_t tmp[EM_MAX_DIMS];
        for (int d = 0; d < m; d++)
            tmp[d] = ls[m - 1 - d];
        memcpy(ls, tmp, sizeof(int64_t) * (size_t)m);
    }
    return true;
}

static void group_free(group *gr)
{
    free(gr->members);
    free(gr->leaves);
    free(gr->leaf_strides);
    free(gr->values);
}

/* sum(index[d] * strides[d]) as an element offset. */
static LLVMValueRef offset_of(em__jit_ctx *c, const group *gr,
                              LLVMValueRef *index, const int64_t *strides)
{
    LLVMValueRef off = LLVMConstInt(c->i64, 0, 0);
    for (int d = 0; d < gr->ndim; d++) {
        if (strides[d] == 0)
            continue;
        LLVMValueRef term =
            strides[d] == 1
                ? index[d]
                : LLVMBuildNSWMul(c->b, index[d],
                                  LLVMConstInt(c->i64, (uint64_t)strides[d], 0),
                                  "");
        off = LLVMBuildNSWAdd(c->b, off, term, "");
    }
    return off;
}

static LLVMValueRef element_pointer(em__jit_ctx *c, em_dtype dtype,
                                    LLVMValueRef base, LLVMValueRef off)
{
    return LLVMBuildInBoundsGEP2(c->b, em__jit_type(c, dtype), base, &off, 1,
                                 "");
}

LLVMValueRef em__jit_load(em__jit_ctx *c, em_dtype dtype, LLVMValueRef base,
                          LLVMValueRef off)
{
    LLVMValueRef v = LLVMBuildLoad2(c->b, em__jit_type(c, dtype),
                                    element_pointer(c, dtype, base, off), "");
    if (dtype == EM_BOOL) /* any non-zero byte is true */
        v = LLVMBuildZExt(
            c->b,
            LLVMBuildICmp(c->b, LLVMIntNE, v, LLVMConstInt(c->i8, 0, 0), ""),
            c->i8, "");
    return v;
}

/* Emits the members' values at this loop index; returns the root's value
 * (for a reduction, the reduced input's). */
static LLVMValueRef group_body(em__jit_ctx *c, group *gr, LLVMValueRef *index)
{
    const em__graph *g = c->g;
    for (int k = 0; k < gr->n_leaves; k++) {
        int leaf = gr->leaves[k];
        LLVMValueRef off =
            offset_of(c, gr, index, gr->leaf_strides + (size_t)k * EM_MAX_DIMS);
        gr->values[leaf] =
            em__jit_load(c, g->nodes[leaf].type.dtype, c->node_ptr[leaf], off);
    }
    for (int k = 0; k < gr->n_members; k++) {
        const em__node *node = &g->nodes[gr->members[k]];
        LLVMValueRef in[8];
        em_dtype dts[8];
        for (int j = 0; j < node->n_in && j < 8; j++) {
            in[j] = gr->values[node->inputs[j]];
            dts[j] = g->nodes[node->inputs[j]].type.dtype;
        }
        gr->values[gr->members[k]] =
            em__jit_ops[node->op].scalar(c, node, dts, in);
    }
    const em__node *rn = &g->nodes[gr->root];
    if (c->s->role[gr->root] == EM__ROLE_REDUCE)
        return gr->values[rn->inputs[0]];
    return gr->values[gr->root];
}

/* Where a loop root stores: an update's variable, else its own buffer. */
static LLVMValueRef store_base(em__jit_ctx *c, int root)
{
    const em__node *node = &c->g->nodes[root];
    if (em__jit_ops[node->op].lowering == EM__LOWER_ASSIGN)
        return c->node_ptr[node->inputs[0]];
    return c->node_ptr[root];
}

/* Elementwise and assign roots: out[i] = f(leaves at i). */
static void emit_loop_nest(em__jit_ctx *c, group *gr, int d,
                           LLVMValueRef *index)
{
    if (d == gr->ndim) {
        LLVMValueRef v = group_body(c, gr, index);
        em_dtype dt = c->g->nodes[gr->root].type.dtype;
        LLVMValueRef off = offset_of(c, gr, index, gr->out_strides);
        LLVMBuildStore(c->b, v,
                       element_pointer(c, dt, store_base(c, gr->root), off));
        return;
    }
    loop l;
    group_loop_open(c, gr, &l, d, NULL);
    index[d] = l.index;
    emit_loop_nest(c, gr, d + 1, index);
    loop_close(c, &l, NULL);
}

/* ---- reductions -----------------------------------------------------------*/

/* sum: acc + x; max, min: x when it wins or is NaN (NaN propagates). */
static LLVMValueRef combine(em__jit_ctx *c, em__op op, LLVMValueRef acc,
                            LLVMValueRef x, bool reassociate)
{
    if (op == EM_OP_SUM) {
        LLVMValueRef r = LLVMBuildFAdd(c->b, acc, x, "");
        if (reassociate)
            LLVMSetFastMathFlags(r, LLVMFastMathAllowReassoc);
        return r;
    }
    LLVMRealPredicate p = op == EM_OP_MAX ? LLVMRealOGT : LLVMRealOLT;
    LLVMValueRef wins =
        LLVMBuildOr(c->b, LLVMBuildFCmp(c->b, p, x, acc, ""),
                    LLVMBuildFCmp(c->b, LLVMRealUNO, x, x, ""), "");
    return LLVMBuildSelect(c->b, wins, x, acc, "");
}

static double identity_of(em__op op)
{
    return op == EM_OP_SUM ? 0.0 : op == EM_OP_MAX ? -HUGE_VAL : HUGE_VAL;
}

/* The reduction's nest. Along an innermost reduced dimension the value is
 * carried in a register (float32 sums in float64, reassociated so that the
 * loop vectorises) and combined into out once per row. */
static void emit_reduce_nest(em__jit_ctx *c, group *gr, int d,
                             LLVMValueRef *index, bool direct_store)
{
    const em__node *rn = &c->g->nodes[gr->root];
    em_dtype dt = rn->type.dtype;
    LLVMTypeRef acc_type = rn->op == EM_OP_SUM ? c->f64 : em__jit_type(c, dt);
    em_dtype acc_dt = rn->op == EM_OP_SUM ? EM_FLOAT64 : dt;
    LLVMValueRef out = c->node_ptr[gr->root];

    if (d == gr->ndim - 1 && gr->reduced[d]) {
        loop l;
        group_loop_open(c, gr, &l, d,
                        LLVMConstReal(acc_type, identity_of(rn->op)));
        index[d] = l.index;
        LLVMValueRef x =
            em__jit_convert(c, group_body(c, gr, index), dt, acc_dt);
        loop_close(c, &l, combine(c, rn->op, l.acc, x, true));
        index[d] = LLVMConstInt(c->i64, 0, 0);
        LLVMValueRef p = element_pointer(
            c, dt, out, offset_of(c, gr, index, gr->out_strides));
        LLVMValueRef total = l.acc;
        if (!direct_store) {
            LLVMValueRef old = em__jit_convert(
                c, LLVMBuildLoad2(c->b, em__jit_type(c, dt), p, ""), dt,
                acc_dt);
            total = combine(c, rn->op, old, total, false);
        }
        LLVMBuildStore(c->b, em__jit_convert(c, total, acc_dt, dt), p);
        return;
    }
    if (d == gr->ndim) {
        LLVMValueRef x = group_body(c, gr, index);
        LLVMValueRef p = element_pointer(
            c, dt, out, offset_of(c, gr, index, gr->out_strides));
        LLVMValueRef old = LLVMBuildLoad2(c->b, em__jit_type(c, dt), p, "");
        LLVMBuildStore(c->b, combine(c, rn->op, old, x, false), p);
        return;
    }
    loop l;
    group_loop_open(c, gr, &l, d, NULL);
    index[d] = l.index;
    emit_reduce_nest(c, gr, d + 1, index, direct_store);
    loop_close(c, &l, NULL);
}

static int64_t group_size(const group *gr)
{
    int64_t size = 1;
    for (int d = 0; d < gr->ndim; d++)
        size *= gr->shape[d];
    return size;
}

/* True when a reduction writes each output element once (one reduced run,
 * innermost), with no initialising pass. */
static bool reduce_direct(const group *gr)
{
    int n_reduced = 0;
    for (int d = 0; d < gr->ndim; d++)
        n_reduced += gr->reduced[d] && gr->shape[d] > 1;
    return group_size(gr) > 0 && n_reduced <= 1 && gr->reduced[gr->ndim - 1];
}

static void emit_reduce(em__jit_ctx *c, group *gr)
{
    const em__node *rn = &c->g->nodes[gr->root];
    em_dtype dt = rn->type.dtype;
    int64_t loop_size = group_size(gr);
    bool direct = reduce_direct(gr);
    if (!direct) {
        loop l;
        loop_open(c, &l, rn->type.ndim == 0 ? 1 : em__type_size(&rn->type),
                  NULL);
        LLVMBuildStore(c->b, em__jit_const(c, dt, identity_of(rn->op)),
                       element_pointer(c, dt, c->node_ptr[gr->root], l.index));
        loop_close(c, &l, NULL);
    }
    if (loop_size == 0)
        return;
    LLVMValueRef index[EM_MAX_DIMS];
    emit_reduce_nest(c, gr, 0, index, direct);
}

/* ---- nodes ----------------------------------------------------------------*/

static void add_string_attribute(LLVMContextRef llvm, LLVMValueRef fn,
                                 const char *key, const char *value)
{
    LLVMAttributeRef a = LLVMCreateStringAttribute(
        llvm, key, (unsigned)strlen(key), value, (unsigned)strlen(value));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
}

static void add_enum_attribute(LLVMContextRef llvm, LLVMValueRef fn,
                               unsigned index, const char *name)
{
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
    add_enum_attribute(c->llvm, fn, LLVMAttributeFunctionIndex, "nounwind");
}

/* Loops over at least this many elements are split across the runtime's
 * threads, in parts of at least PARALLEL_PART elements: below that, waking
 * the threads costs more than it saves. */
enum { PARALLEL_MIN = 1 << 17, PARALLEL_PART = 1 << 15 };

/* True when the outermost dimension's iterations write disjoint outputs,
 * so that parts of its range can run at once. */
static bool group_splits(const em__jit_ctx *c, const group *gr)
{
    if (c->exported || gr->shape[0] < 2 || group_size(gr) < PARALLEL_MIN)
        return false;
    if (c->s->role[gr->root] == EM__ROLE_REDUCE)
        return !gr->reduced[0] && reduce_direct(gr);
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
static void call_group(em__jit_ctx *c, const group *gr, LLVMValueRef fn,
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

    int64_t inner = group_size(gr) / gr->shape[0];
    int64_t grain = (PARALLEL_PART + inner - 1) / inner;
    LLVMTypeRef run_type =
        LLVMFunctionType(LLVMVoidTypeInContext(c->llvm),
                         (LLVMTypeRef[]){c->ptr, c->ptr, c->i64, c->i64}, 4, 0);
    em__jit_call(c, "em__parallel_for", (void (*)(void))run_range, run_type,
                 (LLVMValueRef[]){task, ctx, range,
                                  LLVMConstInt(c->i64, (uint64_t)grain, 0)},
                 4);
}

/* A loop group is a function of its own, called from the entry point:
 * void loop(out, leaves..., begin, end), over [begin, end) of its
 * outermost dimension (so that large loops can be split across threads).
 * A planned buffer it writes is passed as a noalias pointer (nothing else
 * in the group can reach it), which spares the vectoriser its run-time
 * overlap checks; an update's variable is not, since the group reads it
 * too. Small functions also keep LLVM's time linear in the number of
 * loops. */
static bool emit_group(em__jit_ctx *c, int root)
{
    group gr;
    if (!group_make(c, &gr, root)) {
        group_free(&gr);
        return false;
    }
    const em__node *rn = &c->g->nodes[root];
    bool assign = em__jit_ops[rn->op].lowering == EM__LOWER_ASSIGN;
    int out = assign ? rn->inputs[0] : root;
    int n = 1;
    int *nodes = calloc((size_t)gr.n_leaves + 1, sizeof *nodes);
    LLVMValueRef *args = calloc((size_t)gr.n_leaves + 3, sizeof *args);
    LLVMValueRef *saved = calloc((size_t)gr.n_leaves + 1, sizeof *saved);
    LLVMTypeRef *types = calloc((size_t)gr.n_leaves + 3, sizeof *types);
    if (!nodes || !args || !saved || !types) {
        free(nodes), free(args), free(saved), free(types);
        group_free(&gr);
        return false;
    }
    nodes[0] = out;
    for (int k = 0; k < gr.n_leaves; k++)
        if (gr.leaves[k] != out)
            nodes[n++] = gr.leaves[k];
    for (int k = 0; k < n; k++) {
        args[k] = c->node_ptr[nodes[k]];
        types[k] = c->ptr;
    }
    types[n] = types[n + 1] = c->i64;
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(c->llvm), types,
                                        (unsigned)n + 2, 0);
    LLVMValueRef fn = LLVMAddFunction(c->module, "loop", type);
    LLVMSetLinkage(fn, LLVMPrivateLinkage);
    add_target_attributes(c, fn);
    add_enum_attribute(c->llvm, fn, LLVMAttributeFunctionIndex, "noinline");
    if (!assign)
        add_enum_attribute(c->llvm, fn, 1, "noalias");
    int64_t size = group_size(&gr);
    if (size > 0 || c->s->role[root] == EM__ROLE_REDUCE)
        call_group(c, &gr, fn, type, args, n);

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
    LLVMValueRef index[EM_MAX_DIMS];
    if (c->s->role[root] == EM__ROLE_REDUCE)
        emit_reduce(c, &gr);
    else if (size > 0)
        emit_loop_nest(c, &gr, 0, index);
    LLVMBuildRetVoid(c->b);

    for (int k = n - 1; k >= 0; k--)
        c->node_ptr[nodes[k]] = saved[k];
    c->entry = caller;
    LLVMPositionBuilderAtEnd(c->b, resume);
    free(nodes), free(args), free(saved), free(types);
    group_free(&gr);
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
    LLVMValueRef a = c->node_ptr[node->inputs[0]];
    LLVMValueRef b = c->node_ptr[node->inputs[1]];
    LLVMValueRef out = c->node_ptr[i];
    group gr = {.ndim = 2};
    LLVMValueRef index[2];
    loop li, lj, lp;

    if (a_col == 1 && b_row == 1 && m * n > 0) {
        loop_open(c, &li, m, NULL);
        loop_open(c, &lj, n, NULL);
        loop_open(c, &lp, k, em__jit_const(c, dt, 0));
        index[0] = li.index;
        index[1] = lp.index;
        LLVMValueRef aip = em__jit_load(
            c, dt, a, offset_of(c, &gr, index, (int64_t[]){a_row, 1}));
        index[0] = lj.index;
        LLVMValueRef bpj = em__jit_load(
            c, dt, b, offset_of(c, &gr, index, (int64_t[]){b_col, 1}));
        LLVMValueRef sum =
            LLVMBuildFAdd(c->b, lp.acc, LLVMBuildFMul(c->b, aip, bpj, ""), "");
        LLVMSetFastMathFlags(sum, LLVMFastMathAllowReassoc |
                                      LLVMFastMathAllowContract);
        loop_close(c, &lp, sum);
        index[0] = li.index;
        index[1] = lj.index;
        LLVMBuildStore(
            c->b, lp.acc,
            element_pointer(c, dt, out,
                            offset_of(c, &gr, index, (int64_t[]){n, 1})));
        loop_close(c, &lj, NULL);
        loop_close(c, &li, NULL);
        return;
    }

    loop_open(c, &li, m * n, NULL);
    LLVMBuildStore(c->b, em__jit_const(c, dt, 0),
                   element_pointer(c, dt, out, li.index));
    loop_close(c, &li, NULL);
    if (m * n * k == 0)
        return;
    if (n == 1 && a_row == 1) {
        /* A transposed a times a vector: out[:] += a[p, :] * b[p], both
         * contiguous. */
        loop_open(c, &lp, k, NULL);
        index[0] = lp.index;
        index[1] = LLVMConstInt(c->i64, 0, 0);
        LLVMValueRef bp = em__jit_load(
            c, dt, b, offset_of(c, &gr, index, (int64_t[]){b_row, 0}));
        loop_open(c, &li, m, NULL);
        index[1] = li.index;
        LLVMValueRef api = em__jit_load(
            c, dt, a, offset_of(c, &gr, index, (int64_t[]){a_col, 1}));
        LLVMValueRef p = element_pointer(c, dt, out, li.index);
        LLVMBuildStore(c->b,
                       LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, type, p, ""),
                                     LLVMBuildFMul(c->b, api, bp, ""), ""),
                       p);
        loop_close(c, &li, NULL);
        loop_close(c, &lp, NULL);
        return;
    }
    loop_open(c, &li, m, NULL);
    loop_open(c, &lp, k, NULL);
    index[0] = li.index;
    index[1] = lp.index;
    LLVMValueRef aip = em__jit_load(
        c, dt, a, offset_of(c, &gr, index, (int64_t[]){a_row, a_col}));
    loop_open(c, &lj, n, NULL);
    index[0] = lp.index;
    index[1] = lj.index;
    LLVMValueRef bpj = em__jit_load(
        c, dt, b, offset_of(c, &gr, index, (int64_t[]){b_row, b_col}));
    index[0] = li.index;
    LLVMValueRef p = element_pointer(
        c, dt, out, offset_of(c, &gr, index, (int64_t[]){n, 1}));
    LLVMValueRef sum = LLVMBuildFAdd(c->b, LLVMBuildLoad2(c->b, type, p, ""),
                                     LLVMBuildFMul(c->b, aip, bpj, ""), "");
    LLVMBuildStore(c->b, sum, p);
    loop_close(c, &lj, NULL);
    loop_close(c, &lp, NULL);
    loop_close(c, &li, NULL);
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
    if (c->exported || macs <= SMALL_MATMUL ||
        ((m == 1 || n == 1) && macs <= VECTOR_MATMUL)) {
        emit_matmul_loops(c, i);
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
        c->node_ptr[node->inputs[0]],
        LLVMConstInt(i64, (uint64_t)a->shape[1], 0),
        c->node_ptr[node->inputs[1]],
        LLVMConstInt(i64, (uint64_t)b->shape[1], 0),
        c->node_ptr[i],
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

/* Every buffer the code touches, loaded once at the start. */
static void load_buffers(em__jit_ctx *c)
{
    for (int i = 0; i < c->g->len; i++)
        if (c->s->role[i] != EM__ROLE_FUSED && c->s->role[i] != EM__ROLE_REGION)
            load_buffer(c, i);
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
    load_buffers(c);
    bool ok = em__jit_emit_nodes(c);
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
    load_buffers(&c);
    return em__jit_end(&c, em__jit_emit_nodes(&c));
}
