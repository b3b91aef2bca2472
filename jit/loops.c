/*
 * jit/loops.c - the code of one loop group: a loop nest over its merged
 * dimensions in which every fused node is one instruction sequence and
 * every other value it reads (a leaf) one load through broadcast strides.
 *
 * The innermost dimension runs a vector of elements at a time while whole
 * vectors last, then one element at a time, when every operand walks it
 * contiguously or not at all: the loops are emitted ready for code
 * generation, with no help from LLVM's loop vectoriser. Reductions along
 * it carry vectors of partial results. Loops are emitted rotated (the
 * test at the bottom).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loops.h"

/* ---- loops ----------------------------------------------------------------*/

static bool const_value(LLVMValueRef v, int64_t *out)
{
    if (!LLVMIsAConstantInt(v))
        return false;
    *out = LLVMConstIntGetSExtValue(v);
    return true;
}

/* True when [begin, end) is known to be empty. */
static bool range_empty(LLVMValueRef begin, LLVMValueRef end)
{
    int64_t b, e;
    return const_value(begin, &b) && const_value(end, &e) && b >= e;
}

/* Opens `for (index = begin; index < end; index += step)`, where end -
 * begin is a multiple of step; the builder is left in the body. acc_init,
 * when given, starts a value carried between iterations. The loop is
 * emitted rotated (the test at the bottom), which code generation takes
 * as it is. */
static void loop_open_range(em__jit_ctx *c, em__jit_loop *l, LLVMValueRef begin,
                            LLVMValueRef end, int64_t step,
                            LLVMValueRef acc_init)
{
    *l = (em__jit_loop){.before = LLVMGetInsertBlock(c->b),
                        .end = end,
                        .step = step,
                        .acc_init = acc_init};
    l->body = LLVMAppendBasicBlockInContext(c->llvm, c->entry, "body");
    l->exit = LLVMAppendBasicBlockInContext(c->llvm, c->entry, "done");
    int64_t b, e;
    l->guarded = !(const_value(begin, &b) && const_value(end, &e) && b < e);
    if (l->guarded)
        LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, begin, end, ""),
                        l->body, l->exit);
    else
        LLVMBuildBr(c->b, l->body);

    LLVMPositionBuilderAtEnd(c->b, l->body);
    l->index = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMAddIncoming(l->index, &begin, &l->before, 1);
    if (acc_init) {
        l->acc = LLVMBuildPhi(c->b, LLVMTypeOf(acc_init), "acc");
        LLVMAddIncoming(l->acc, &acc_init, &l->before, 1);
    }
}

/* for (index = 0; index < n; index++) */
void em__jit_loop_open(em__jit_ctx *c, em__jit_loop *l, int64_t n,
                       LLVMValueRef acc_init)
{
    loop_open_range(c, l, LLVMConstInt(c->i64, 0, 0),
                    LLVMConstInt(c->i64, (uint64_t)n, 0), 1, acc_init);
}

/* Closes the loop (acc_next: the carried value for the next iteration);
 * the builder is left after it, where l->acc holds the final value. */
void em__jit_loop_close(em__jit_ctx *c, em__jit_loop *l, LLVMValueRef acc_next)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(c->b);
    LLVMValueRef next = LLVMBuildAdd(
        c->b, l->index, LLVMConstInt(c->i64, (uint64_t)l->step, 0), "");
    LLVMValueRef more = LLVMBuildICmp(c->b, LLVMIntSLT, next, l->end, "");
    LLVMBuildCondBr(c->b, more, l->body, l->exit);
    LLVMAddIncoming(l->index, &next, &latch, 1);
    LLVMPositionBuilderAtEnd(c->b, l->exit);
    if (!l->acc)
        return;
    LLVMAddIncoming(l->acc, &acc_next, &latch, 1);
    if (!l->guarded) {
        l->acc = acc_next;
        return;
    }
    l->acc = LLVMBuildPhi(c->b, LLVMTypeOf(acc_next), "total");
    LLVMAddIncoming(l->acc, &l->acc_init, &l->before, 1);
    LLVMAddIncoming(l->acc, &acc_next, &latch, 1);
}

/* ---- one loop group -------------------------------------------------------*/

/* The range of dimension d: the group's range for the outermost. */
static void dim_range(em__jit_ctx *c, const em__jit_group *gr, int d,
                      LLVMValueRef *begin, LLVMValueRef *end)
{
    if (d == 0 && gr->begin) {
        *begin = gr->begin;
        *end = gr->end;
    } else {
        *begin = LLVMConstInt(c->i64, 0, 0);
        *end = LLVMConstInt(c->i64, (uint64_t)gr->shape[d], 0);
    }
}

/* Opens the loop over dimension d. */
static void group_loop_open(em__jit_ctx *c, const em__jit_group *gr,
                            em__jit_loop *l, int d, LLVMValueRef acc_init)
{
    LLVMValueRef begin, end;
    dim_range(c, gr, d, &begin, &end);
    loop_open_range(c, l, begin, end, 1, acc_init);
}

static bool in_group(const em__jit_ctx *c, const em__jit_group *gr, int node)
{
    return c->s->role[node] == EM__ROLE_FUSED && c->s->run_at[node] == gr->root;
}

static void add_leaf(em__jit_group *gr, int node)
{
    for (int k = 0; k < gr->n_leaves; k++)
        if (gr->leaves[k] == node)
            return;
    gr->leaves[gr->n_leaves++] = node;
}

/* Fills the members, the leaves and the merged loop dimensions. */
bool em__jit_group_make(em__jit_ctx *c, em__jit_group *gr, int root)
{
    const em__graph *g = c->g;
    const em__node *rn = &g->nodes[root];
    bool reduce = c->s->role[root] == EM__ROLE_REDUCE;
    *gr = (em__jit_group){.root = root};
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

void em__jit_group_free(em__jit_group *gr)
{
    free(gr->members);
    free(gr->leaves);
    free(gr->leaf_strides);
    free(gr->values);
}

/* sum(index[d] * strides[d]) as an element offset. */
LLVMValueRef em__jit_offset(em__jit_ctx *c, const em__jit_group *gr,
                            LLVMValueRef *index, const int64_t *strides)
{
    LLVMValueRef off = NULL;
    for (int d = 0; d < gr->ndim; d++) {
        if (strides[d] == 0)
            continue;
        LLVMValueRef term =
            strides[d] == 1
                ? index[d]
                : LLVMBuildNSWMul(c->b, index[d],
                                  LLVMConstInt(c->i64, (uint64_t)strides[d], 0),
                                  "");
        off = off ? LLVMBuildNSWAdd(c->b, off, term, "") : term;
    }
    return off ? off : LLVMConstInt(c->i64, 0, 0);
}

LLVMValueRef em__jit_element_pointer(em__jit_ctx *c, em_dtype dtype,
                                     LLVMValueRef base, LLVMValueRef off)
{
    return LLVMBuildInBoundsGEP2(c->b, em__jit_elem_type(c, dtype), base, &off,
                                 1, "");
}

/* A load or store of c->lanes elements is aligned as one element is. */
static LLVMValueRef aligned(LLVMValueRef access, em_dtype dtype)
{
    LLVMSetAlignment(access, (unsigned)em_dtype_size(dtype));
    return access;
}

static LLVMValueRef load_at(em__jit_ctx *c, em_dtype dtype, LLVMValueRef p)
{
    return aligned(LLVMBuildLoad2(c->b, em__jit_type(c, dtype), p, ""), dtype);
}

static void store_at(em__jit_ctx *c, em_dtype dtype, LLVMValueRef v,
                     LLVMValueRef p)
{
    aligned(LLVMBuildStore(c->b, v, p), dtype);
}

LLVMValueRef em__jit_load(em__jit_ctx *c, em_dtype dtype, LLVMValueRef base,
                          LLVMValueRef off)
{
    LLVMValueRef v =
        load_at(c, dtype, em__jit_element_pointer(c, dtype, base, off));
    if (dtype == EM_BOOL) /* any non-zero byte is true */
        v = LLVMBuildZExt(
            c->b,
            LLVMBuildICmp(c->b, LLVMIntNE, v, em__jit_const(c, EM_BOOL, 0), ""),
            em__jit_type(c, EM_BOOL), "");
    return v;
}

/* A scalar repeated over c->lanes. */
static LLVMValueRef splat(em__jit_ctx *c, LLVMValueRef x)
{
    LLVMTypeRef t = LLVMVectorType(LLVMTypeOf(x), c->lanes);
    LLVMValueRef one = LLVMBuildInsertElement(c->b, LLVMGetPoison(t), x,
                                              LLVMConstInt(c->i32, 0, 0), "");
    return LLVMBuildShuffleVector(
        c->b, one, LLVMGetPoison(t),
        LLVMConstNull(LLVMVectorType(c->i32, c->lanes)), "");
}

/* Node i's buffer. In the entry point each use reads data[i] afresh:
 * nothing is then kept live across the calls, which spares the register
 * allocator a spill of every buffer. */
LLVMValueRef em__jit_buffer(em__jit_ctx *c, int i)
{
    if (c->node_ptr[i])
        return c->node_ptr[i];
    LLVMValueRef at = LLVMConstInt(c->i64, (uint64_t)i, 0);
    LLVMValueRef slot =
        LLVMBuildInBoundsGEP2(c->b, c->ptr, c->data, &at, 1, "");
    return LLVMBuildLoad2(c->b, c->ptr, slot, "");
}

/* Emits the members' values at this loop index (c->lanes consecutive
 * elements of the innermost dimension when lanes > 1); returns the root's
 * value (for a reduction, the reduced input's). */
static LLVMValueRef group_body(em__jit_ctx *c, em__jit_group *gr,
                               LLVMValueRef *index)
{
    const em__graph *g = c->g;
    for (int k = 0; k < gr->n_leaves; k++) {
        int leaf = gr->leaves[k];
        const int64_t *strides = gr->leaf_strides + (size_t)k * EM_MAX_DIMS;
        LLVMValueRef off = em__jit_offset(c, gr, index, strides);
        em_dtype dt = g->nodes[leaf].type.dtype;
        unsigned lanes = c->lanes;
        if (lanes > 1 && strides[gr->ndim - 1] == 0) {
            /* The same element for every lane. */
            c->lanes = 0;
            LLVMValueRef x = em__jit_load(c, dt, em__jit_buffer(c, leaf), off);
            c->lanes = lanes;
            gr->values[leaf] = splat(c, x);
        } else {
            gr->values[leaf] =
                em__jit_load(c, dt, em__jit_buffer(c, leaf), off);
        }
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
        return em__jit_buffer(c, node->inputs[0]);
    return em__jit_buffer(c, root);
}

typedef void (*element_fn)(em__jit_ctx *c, em__jit_group *gr,
                           LLVMValueRef *index);

/* [begin, end) less its tail shorter than gr->lanes. */
static LLVMValueRef vector_end(em__jit_ctx *c, const em__jit_group *gr,
                               LLVMValueRef begin, LLVMValueRef end)
{
    LLVMValueRef mask = LLVMConstInt(c->i64, -(uint64_t)gr->lanes, 0);
    LLVMValueRef whole =
        LLVMBuildAnd(c->b, LLVMBuildSub(c->b, end, begin, ""), mask, "");
    return LLVMBuildAdd(c->b, begin, whole, "");
}

/* Runs fn over the innermost dimension: gr->lanes elements at a time
 * while whole vectors last, then one at a time. */
static void inner_loops(em__jit_ctx *c, em__jit_group *gr, LLVMValueRef *index,
                        element_fn fn)
{
    int d = gr->ndim - 1;
    LLVMValueRef begin, end;
    dim_range(c, gr, d, &begin, &end);
    em__jit_loop l;
    if (gr->lanes > 1) {
        LLVMValueRef split = vector_end(c, gr, begin, end);
        if (!range_empty(begin, split)) {
            loop_open_range(c, &l, begin, split, gr->lanes, NULL);
            index[d] = l.index;
            c->lanes = gr->lanes;
            fn(c, gr, index);
            c->lanes = 0;
            em__jit_loop_close(c, &l, NULL);
        }
        begin = split;
    }
    if (range_empty(begin, end))
        return;
    loop_open_range(c, &l, begin, end, 1, NULL);
    index[d] = l.index;
    fn(c, gr, index);
    em__jit_loop_close(c, &l, NULL);
}

/* out[i] = f(leaves at i). */
static void store_root(em__jit_ctx *c, em__jit_group *gr, LLVMValueRef *index)
{
    LLVMValueRef v = group_body(c, gr, index);
    em_dtype dt = c->g->nodes[gr->root].type.dtype;
    LLVMValueRef off = em__jit_offset(c, gr, index, gr->out_strides);
    store_at(c, dt, v,
             em__jit_element_pointer(c, dt, store_base(c, gr->root), off));
}

/* Elementwise and assign roots: out[i] = f(leaves at i). */
static void emit_loop_nest(em__jit_ctx *c, em__jit_group *gr, int d,
                           LLVMValueRef *index)
{
    if (gr->shape[d] == 1 && gr->ndim == 1) { /* one element */
        index[0] = gr->begin ? gr->begin : LLVMConstInt(c->i64, 0, 0);
        store_root(c, gr, index);
        return;
    }
    if (d == gr->ndim - 1) {
        inner_loops(c, gr, index, store_root);
        return;
    }
    em__jit_loop l;
    group_loop_open(c, gr, &l, d, NULL);
    index[d] = l.index;
    emit_loop_nest(c, gr, d + 1, index);
    em__jit_loop_close(c, &l, NULL);
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

/* out[i] = combine(out[i], x at i), where i walks the output. */
static void combine_into_out(em__jit_ctx *c, em__jit_group *gr,
                             LLVMValueRef *index)
{
    const em__node *rn = &c->g->nodes[gr->root];
    em_dtype dt = rn->type.dtype;
    LLVMValueRef x = group_body(c, gr, index);
    LLVMValueRef p =
        em__jit_element_pointer(c, dt, em__jit_buffer(c, gr->root),
                                em__jit_offset(c, gr, index, gr->out_strides));
    store_at(c, dt, combine(c, rn->op, load_at(c, dt, p), x, false), p);
}

/* The lanes of v combined into one value: halves combined while the
 * width is even, then the last lanes in order. */
static LLVMValueRef combine_lanes(em__jit_ctx *c, em__op op, LLVMValueRef v,
                                  unsigned lanes)
{
    while (lanes % 2 == 0 && lanes > 2) {
        unsigned half = lanes / 2;
        LLVMValueRef low[32], high[32];
        for (unsigned k = 0; k < half && k < 32; k++) {
            low[k] = LLVMConstInt(c->i32, k, 0);
            high[k] = LLVMConstInt(c->i32, half + k, 0);
        }
        LLVMValueRef poison = LLVMGetPoison(LLVMTypeOf(v));
        LLVMValueRef a = LLVMBuildShuffleVector(c->b, v, poison,
                                                LLVMConstVector(low, half), "");
        LLVMValueRef b = LLVMBuildShuffleVector(
            c->b, v, poison, LLVMConstVector(high, half), "");
        v = combine(c, op, a, b, true);
        lanes = half;
    }
    LLVMValueRef total = NULL;
    for (unsigned k = 0; k < lanes; k++) {
        LLVMValueRef lane =
            LLVMBuildExtractElement(c->b, v, LLVMConstInt(c->i32, k, 0), "");
        total = k == 0 ? lane : combine(c, op, total, lane, true);
    }
    return total;
}

/* An innermost reduced dimension: the value is carried in a register
 * (float32 sums in float64, reassociated; lanes of partial results while
 * whole vectors last, then combined) and combined into out once per
 * row. */
static void reduce_row(em__jit_ctx *c, em__jit_group *gr, LLVMValueRef *index,
                       bool direct_store)
{
    const em__node *rn = &c->g->nodes[gr->root];
    em_dtype dt = rn->type.dtype;
    em_dtype acc_dt = rn->op == EM_OP_SUM ? EM_FLOAT64 : dt;
    int d = gr->ndim - 1;
    LLVMValueRef begin, end;
    dim_range(c, gr, d, &begin, &end);
    LLVMValueRef total = em__jit_const(c, acc_dt, identity_of(rn->op));
    em__jit_loop l;
    if (gr->lanes > 1) {
        LLVMValueRef split = vector_end(c, gr, begin, end);
        c->lanes = gr->lanes;
        loop_open_range(c, &l, begin, split, gr->lanes,
                        em__jit_const(c, acc_dt, identity_of(rn->op)));
        index[d] = l.index;
        LLVMValueRef x =
            em__jit_convert(c, group_body(c, gr, index), dt, acc_dt);
        em__jit_loop_close(c, &l, combine(c, rn->op, l.acc, x, true));
        c->lanes = 0;
        total = combine_lanes(c, rn->op, l.acc, gr->lanes);
        begin = split;
    }
    if (!range_empty(begin, end)) {
        loop_open_range(c, &l, begin, end, 1, total);
        index[d] = l.index;
        LLVMValueRef x =
            em__jit_convert(c, group_body(c, gr, index), dt, acc_dt);
        em__jit_loop_close(c, &l, combine(c, rn->op, l.acc, x, true));
        total = l.acc;
    }
    index[d] = LLVMConstInt(c->i64, 0, 0);
    LLVMValueRef p =
        em__jit_element_pointer(c, dt, em__jit_buffer(c, gr->root),
                                em__jit_offset(c, gr, index, gr->out_strides));
    if (!direct_store)
        total = combine(c, rn->op,
                        em__jit_convert(c, load_at(c, dt, p), dt, acc_dt),
                        total, false);
    store_at(c, dt, em__jit_convert(c, total, acc_dt, dt), p);
}

/* The reduction's nest. */
static void emit_reduce_nest(em__jit_ctx *c, em__jit_group *gr, int d,
                             LLVMValueRef *index, bool direct_store)
{
    if (d == gr->ndim - 1 && gr->reduced[d]) {
        reduce_row(c, gr, index, direct_store);
        return;
    }
    if (d == gr->ndim - 1) {
        inner_loops(c, gr, index, combine_into_out);
        return;
    }
    em__jit_loop l;
    group_loop_open(c, gr, &l, d, NULL);
    index[d] = l.index;
    emit_reduce_nest(c, gr, d + 1, index, direct_store);
    em__jit_loop_close(c, &l, NULL);
}

int64_t em__jit_group_size(const em__jit_group *gr)
{
    int64_t size = 1;
    for (int d = 0; d < gr->ndim; d++)
        size *= gr->shape[d];
    return size;
}

/* True when a reduction writes each output element once (one reduced run,
 * innermost), with no initialising pass. */
bool em__jit_group_direct(const em__jit_group *gr)
{
    int n_reduced = 0;
    for (int d = 0; d < gr->ndim; d++)
        n_reduced += gr->reduced[d] && gr->shape[d] > 1;
    return em__jit_group_size(gr) > 0 && n_reduced <= 1 &&
           gr->reduced[gr->ndim - 1];
}

static void emit_reduce(em__jit_ctx *c, em__jit_group *gr)
{
    const em__node *rn = &c->g->nodes[gr->root];
    em_dtype dt = rn->type.dtype;
    int64_t loop_size = em__jit_group_size(gr);
    bool direct = em__jit_group_direct(gr);
    if (!direct) {
        em__jit_loop l;
        em__jit_loop_open(
            c, &l, rn->type.ndim == 0 ? 1 : em__type_size(&rn->type), NULL);
        LLVMBuildStore(c->b, em__jit_const(c, dt, identity_of(rn->op)),
                       em__jit_element_pointer(
                           c, dt, em__jit_buffer(c, gr->root), l.index));
        em__jit_loop_close(c, &l, NULL);
    }
    if (loop_size == 0)
        return;
    LLVMValueRef index[EM_MAX_DIMS];
    emit_reduce_nest(c, gr, 0, index, direct);
}

void em__jit_emit_group_code(em__jit_ctx *c, em__jit_group *gr)
{
    LLVMValueRef index[EM_MAX_DIMS];
    if (c->s->role[gr->root] == EM__ROLE_REDUCE)
        emit_reduce(c, gr);
    else
        emit_loop_nest(c, gr, 0, index);
}

/* The lanes a group's innermost dimension runs at a time: a vector
 * register of its widest element, when every operand walks that
 * dimension contiguously or not at all and no member calls the C
 * library; else 0 (one at a time). *strided is set when LLVM's loop
 * vectoriser may still do better (strided operands, no vector unit). */
unsigned em__jit_group_lanes(const em__jit_ctx *c, const em__jit_group *gr,
                             bool *strided)
{
    const em__graph *g = c->g;
    const em__node *rn = &g->nodes[gr->root];
    bool reduce = c->s->role[gr->root] == EM__ROLE_REDUCE;
    int d = gr->ndim - 1;
    *strided = false;
    /* Narrower elements count as 32-bit ones: at most 64 lanes. */
    size_t widest = 4;
    if (em_dtype_size(rn->type.dtype) > widest ||
        (reduce && rn->op == EM_OP_SUM))
        widest = 8; /* float64 partial sums */
    for (int k = 0; k < gr->n_members; k++) {
        const em__node *node = &g->nodes[gr->members[k]];
        em_dtype in0 = g->nodes[node->inputs[0]].type.dtype;
        if (!em__jit_vectorizes(node, in0))
            return 0;
        size_t size = em_dtype_size(node->type.dtype);
        /* Conversions go through float64 or int64. */
        if (node->op == EM_OP_CAST && in0 != node->type.dtype)
            size = 8;
        widest = size > widest ? size : widest;
    }
    for (int k = 0; k < gr->n_leaves; k++) {
        int64_t stride = gr->leaf_strides[(size_t)k * EM_MAX_DIMS + d];
        if (stride != 0 && stride != 1) {
            *strided = true;
            return 0;
        }
        size_t size = em_dtype_size(g->nodes[gr->leaves[k]].type.dtype);
        widest = size > widest ? size : widest;
    }
    if (gr->out_strides[d] != (reduce && gr->reduced[d] ? 0 : 1)) {
        *strided = true;
        return 0;
    }
    if (!c->vector_bits)
        *strided = true;
    unsigned lanes = c->vector_bits / (8 * (unsigned)widest);
    if (lanes < 2 || gr->shape[d] < lanes)
        return 0;
    /* Two registers' worth per step, as the loop vectoriser interleaves;
     * four partial results along a reduced row, whose additions would
     * otherwise wait on each other. Code generation splits the wider
     * vectors. */
    unsigned unroll = reduce && gr->reduced[d] ? 4 : 2;
    while (unroll > 1 && gr->shape[d] < (int64_t)lanes * unroll)
        unroll /= 2;
    return lanes * unroll;
}

/* True when a member computes a polynomial (exp, log, tanh, ...): such
 * loops are bound by arithmetic, which optimised code generation
 * schedules and keeps constants in registers for. */
bool em__jit_group_computes(const em__jit_ctx *c, const em__jit_group *gr)
{
    for (int k = 0; k < gr->n_members; k++)
        if (em__jit_ops[c->g->nodes[gr->members[k]].op].maths ==
            EM__MATHS_POLYNOMIAL)
            return true;
    return false;
}
