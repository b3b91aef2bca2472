/*
 * jit/ptx.c - GPU code for a graph's fused elementwise loops: one PTX
 * kernel per loop group, through LLVM's NVPTX backend (sm_90).
 *
 * The grouping is the CPU JIT's schedule and each element is the lowering
 * table's element code, so a kernel computes exactly what the CPU loop
 * does. A kernel walks the flattened output with a grid-stride loop and
 * reads each leaf at its broadcast offset, found by dividing the flat index
 * by the output's strides (the shapes are static, so they are constants).
 * Element code that calls the C library (sin, cos, erf, pow, gelu, and
 * float64 exp, log, tanh, sigmoid, ...) has no GPU build here: such a group
 * gets no kernel.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "jit_internal.h"
#include "ptx.h"
#include "vmath.h"

/* Weak, so that an LLVM built without NVPTX still links: then they are
 * NULL and em__jit_ptx says so. */
void LLVMInitializeNVPTXTargetInfo(void);
void LLVMInitializeNVPTXTarget(void);
void LLVMInitializeNVPTXTargetMC(void);
void LLVMInitializeNVPTXAsmPrinter(void);
#pragma weak LLVMInitializeNVPTXTargetInfo
#pragma weak LLVMInitializeNVPTXTarget
#pragma weak LLVMInitializeNVPTXTargetMC
#pragma weak LLVMInitializeNVPTXAsmPrinter

static const char TRIPLE[] = "nvptx64-nvidia-cuda";
static const char CPU[] = "sm_90";
static const char FEATURES[] = "+ptx80";

static bool nvptx_linked;

static void init_nvptx(void)
{
    nvptx_linked = LLVMInitializeNVPTXTargetInfo && LLVMInitializeNVPTXTarget &&
                   LLVMInitializeNVPTXTargetMC && LLVMInitializeNVPTXAsmPrinter;
    if (!nvptx_linked)
        return;
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
}

static pthread_once_t nvptx_once = PTHREAD_ONCE_INIT;

/* The sm_90 target machine, or NULL with an error. */
static LLVMTargetMachineRef target_machine(void)
{
    pthread_once(&nvptx_once, init_nvptx);
    LLVMTargetRef t = NULL;
    char *problem = NULL;
    if (!nvptx_linked || LLVMGetTargetFromTriple(TRIPLE, &t, &problem)) {
        em__error("ptx: this LLVM has no NVPTX target%s%s", problem ? ": " : "",
                  problem ? problem : "");
        LLVMDisposeMessage(problem);
        return NULL;
    }
    return LLVMCreateTargetMachine(t, TRIPLE, CPU, FEATURES,
                                   LLVMCodeGenLevelAggressive, LLVMRelocDefault,
                                   LLVMCodeModelDefault);
}

/* ---- comments at the top of the PTX --------------------------------------*/

typedef struct notes {
    char *text;
    size_t len, cap;
    bool failed; /* out of memory */
} notes;

static void note(notes *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Room for `need` more characters and the NUL; false when out of memory. */
static bool reserve(notes *n, size_t need)
{
    if (n->len + need + 1 <= n->cap)
        return true;
    size_t cap = 2 * (n->len + need + 1);
    char *text = realloc(n->text, cap);
    if (!text) {
        n->failed = true;
        return false;
    }
    n->text = text;
    n->cap = cap;
    return true;
}

static void note(notes *n, const char *fmt, ...)
{
    va_list args, again;
    va_start(args, fmt);
    va_copy(again, args);
    int need = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (!n->failed && need >= 0 && reserve(n, (size_t)need)) {
        vsnprintf(n->text + n->len, n->cap - n->len, fmt, again);
        n->len += (size_t)need;
    }
    va_end(again);
}

/* ---- one kernel -----------------------------------------------------------*/

/* The nodes one kernel computes (in node order, the root last) and the
 * values it reads from memory (each once). */
typedef em__ptx_kernel kernel_group;

static bool in_group(const em__jit_schedule *s, int root, int node)
{
    return s->role[node] == EM__ROLE_FUSED && s->run_at[node] == root;
}

static bool group_make(const em__graph *g, const em__jit_schedule *s, int root,
                       kernel_group *gr)
{
    *gr = (kernel_group){.root = root};
    int cap = 1;
    for (int j = 0; j <= root; j++)
        if (j == root || in_group(s, root, j))
            cap += g->nodes[j].n_in + 1;
    gr->members = calloc((size_t)cap, sizeof(int));
    gr->leaves = calloc((size_t)cap, sizeof(int));
    if (!gr->members || !gr->leaves)
        return false;
    for (int j = 0; j <= root; j++) {
        if (j != root && !in_group(s, root, j))
            continue;
        gr->members[gr->n_members++] = j;
        for (int k = 0; k < g->nodes[j].n_in; k++) {
            int in = g->nodes[j].inputs[k];
            bool seen = in_group(s, root, in);
            for (int l = 0; l < gr->n_leaves && !seen; l++)
                seen = gr->leaves[l] == in;
            if (!seen)
                gr->leaves[gr->n_leaves++] = in;
        }
    }
    return true;
}

static void group_free(kernel_group *gr)
{
    free(gr->members);
    free(gr->leaves);
}

static LLVMValueRef special_register(em__jit_ctx *c, const char *name)
{
    LLVMTypeRef type = LLVMFunctionType(c->i32, NULL, 0, 0);
    LLVMValueRef fn = LLVMGetNamedFunction(c->module, name);
    if (!fn)
        fn = LLVMAddFunction(c->module, name, type);
    LLVMValueRef v = LLVMBuildCall2(c->b, type, fn, NULL, 0, "");
    return LLVMBuildZExt(c->b, v, c->i64, "");
}

static LLVMValueRef k64(em__jit_ctx *c, int64_t v)
{
    return LLVMConstInt(c->i64, (unsigned long long)v, 0);
}

/* The element offset of `leaf` at flat output index i (0 <= i < size of
 * out): sum over dimensions d of ((i / out_stride[d]) % out_shape[d]) *
 * leaf_stride[d], skipping what broadcasting makes zero. */
static LLVMValueRef leaf_offset(em__jit_ctx *c, const em__type *leaf,
                                const em__type *out, LLVMValueRef i)
{
    /* Same shape, or no element to read (a zero-size output). */
    if (em__type_equal_shape(leaf, out) || em__type_size(out) == 0)
        return i;
    int64_t out_strides[EM_MAX_DIMS], strides[EM_MAX_DIMS];
    em__strides(out, out_strides);
    em__broadcast_strides(leaf, out, strides);
    LLVMValueRef off = k64(c, 0);
    for (int d = 0; d < out->ndim; d++) {
        if (strides[d] == 0 || out->shape[d] == 1)
            continue;
        LLVMValueRef at = i;
        if (out_strides[d] != 1)
            at = LLVMBuildUDiv(c->b, at, k64(c, out_strides[d]), "");
        /* i < size, so the outermost dimension needs no remainder. */
        bool outermost = true;
        for (int e = 0; e < d; e++)
            outermost = outermost && out->shape[e] == 1;
        if (!outermost)
            at = LLVMBuildURem(c->b, at, k64(c, out->shape[d]), "");
        if (strides[d] != 1)
            at = LLVMBuildNUWMul(c->b, at, k64(c, strides[d]), "");
        off = LLVMBuildNUWAdd(c->b, off, at, "");
    }
    return off;
}

/* True when fn calls anything but an intrinsic or a special register. */
static bool calls_library(LLVMValueRef fn)
{
    for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(fn); bb;
         bb = LLVMGetNextBasicBlock(bb))
        for (LLVMValueRef in = LLVMGetFirstInstruction(bb); in;
             in = LLVMGetNextInstruction(in)) {
            if (LLVMGetInstructionOpcode(in) != LLVMCall)
                continue;
            LLVMValueRef callee = LLVMGetCalledValue(in);
            if (!LLVMIsAFunction(callee) || !LLVMGetIntrinsicID(callee))
                return true;
        }
    return false;
}

/* void name(ptr out, ptr leaf0, ..., i64 n):
 *   for (i = ctaid.x * ntid.x + tid.x; i < n; i += nctaid.x * ntid.x)
 *       out[i] = root(leaves at their offsets for i)
 * False (and no function left) when the element code calls the C
 * library. */
static bool emit_kernel(em__jit_ctx *c, const kernel_group *gr,
                        const char *name, LLVMValueRef *values)
{
    const em__graph *g = c->g;
    const em__type *out = &g->nodes[gr->root].type;
    int n_params = gr->n_leaves + 2;
    LLVMTypeRef *types = calloc((size_t)n_params, sizeof *types);
    if (!types)
        return false;
    for (int k = 0; k < n_params - 1; k++)
        types[k] = c->ptr;
    types[n_params - 1] = c->i64;
    LLVMTypeRef type = LLVMFunctionType(LLVMVoidTypeInContext(c->llvm), types,
                                        (unsigned)n_params, 0);
    free(types);
    LLVMValueRef fn = LLVMAddFunction(c->module, name, type);
    LLVMSetFunctionCallConv(fn, LLVMPTXKernelCallConv);
    c->entry = fn;

    LLVMBasicBlockRef start = LLVMAppendBasicBlockInContext(c->llvm, fn, "");
    LLVMBasicBlockRef header = LLVMAppendBasicBlockInContext(c->llvm, fn, "");
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(c->llvm, fn, "");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->llvm, fn, "");
    LLVMPositionBuilderAtEnd(c->b, start);
    LLVMValueRef tid = special_register(c, "llvm.nvvm.read.ptx.sreg.tid.x");
    LLVMValueRef ntid = special_register(c, "llvm.nvvm.read.ptx.sreg.ntid.x");
    LLVMValueRef ctaid = special_register(c, "llvm.nvvm.read.ptx.sreg.ctaid.x");
    LLVMValueRef nctaid =
        special_register(c, "llvm.nvvm.read.ptx.sreg.nctaid.x");
    LLVMValueRef first =
        LLVMBuildNUWAdd(c->b, LLVMBuildNUWMul(c->b, ctaid, ntid, ""), tid, "");
    LLVMValueRef step = LLVMBuildNUWMul(c->b, nctaid, ntid, "");
    LLVMValueRef n = LLVMGetParam(fn, (unsigned)n_params - 1);
    LLVMBuildBr(c->b, header);

    LLVMPositionBuilderAtEnd(c->b, header);
    LLVMValueRef i = LLVMBuildPhi(c->b, c->i64, "i");
    LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSLT, i, n, ""), body,
                    done);

    LLVMPositionBuilderAtEnd(c->b, body);
    for (int k = 0; k < gr->n_leaves; k++) {
        const em__type *lt = &g->nodes[gr->leaves[k]].type;
        values[gr->leaves[k]] =
            em__jit_load(c, lt->dtype, LLVMGetParam(fn, (unsigned)k + 1),
                         leaf_offset(c, lt, out, i));
    }
    for (int k = 0; k < gr->n_members; k++) {
        const em__node *node = &g->nodes[gr->members[k]];
        LLVMValueRef in[8];
        em_dtype dts[8];
        for (int j = 0; j < node->n_in && j < 8; j++) {
            in[j] = values[node->inputs[j]];
            dts[j] = g->nodes[node->inputs[j]].type.dtype;
        }
        values[gr->members[k]] = em__jit_ops[node->op].scalar(c, node, dts, in);
    }
    LLVMValueRef at = i;
    LLVMValueRef p = LLVMBuildInBoundsGEP2(c->b, em__jit_type(c, out->dtype),
                                           LLVMGetParam(fn, 0), &at, 1, "");
    LLVMBuildStore(c->b, values[gr->root], p);
    LLVMValueRef next = LLVMBuildNUWAdd(c->b, i, step, "");
    LLVMBasicBlockRef body_end = LLVMGetInsertBlock(c->b);
    LLVMBuildBr(c->b, header);
    LLVMAddIncoming(i, (LLVMValueRef[]){first, next},
                    (LLVMBasicBlockRef[]){start, body_end}, 2);

    LLVMPositionBuilderAtEnd(c->b, done);
    LLVMBuildRetVoid(c->b);
    if (calls_library(fn)) {
        LLVMDeleteFunction(fn);
        return false;
    }
    return true;
}

/* ---- the module -----------------------------------------------------------*/

/* Kernels for every elementwise loop group of g into c->module, with a
 * PTX comment per kernel naming the node it computes; kernel k's group
 * goes to kernels[k] (room for one per node). -1 when out of memory. */
static int emit_kernels(em__jit_ctx *c, notes *comments, kernel_group *kernels)
{
    const em__graph *g = c->g;
    LLVMValueRef *values = calloc((size_t)g->len + 1, sizeof *values);
    if (!values)
        return -1;
    int made = 0;
    for (int root = 0; root < g->len; root++) {
        const em__node *rn = &g->nodes[root];
        if (c->s->role[root] != EM__ROLE_LOOP ||
            em__jit_ops[rn->op].lowering == EM__LOWER_ASSIGN)
            continue;
        kernel_group gr;
        if (!group_make(g, c->s, root, &gr)) {
            group_free(&gr);
            for (int k = 0; k < made; k++)
                group_free(&kernels[k]);
            free(values);
            return -1;
        }
        char name[32], shape[200];
        snprintf(name, sizeof name, "kernel_%d", made);
        if (emit_kernel(c, &gr, name, values)) {
            note(comments, "// %s: node %d (%s, %s), %d leaves\n", name, root,
                 em__op_table[rn->op].name,
                 em__type_format(&rn->type, shape, sizeof shape), gr.n_leaves);
            kernels[made++] = gr;
        } else {
            note(comments,
                 "// node %d (%s): no kernel, it calls the C "
                 "library\n",
                 root, em__op_table[rn->op].name);
            group_free(&gr);
        }
    }
    free(values);
    /* Declarations left by the element code of groups without a kernel. */
    LLVMValueRef fn = LLVMGetFirstFunction(c->module);
    while (fn) {
        LLVMValueRef next = LLVMGetNextFunction(fn);
        if (LLVMIsDeclaration(fn) && !LLVMGetFirstUse(fn))
            LLVMDeleteFunction(fn);
        fn = next;
    }
    return made;
}

/* The module's PTX after O3, with the comments first (malloc'd), or NULL
 * with an error. */
static char *emit_ptx(LLVMTargetMachineRef tm, LLVMModuleRef module,
                      const char *name, const notes *comments)
{
    char *problem = NULL;
    if (LLVMVerifyModule(module, LLVMReturnStatusAction, &problem)) {
        em__error("ptx: invalid code for '%s': %s", name, problem);
        LLVMDisposeMessage(problem);
        return NULL;
    }
    LLVMDisposeMessage(problem);
    problem = NULL;
    LLVMPassBuilderOptionsRef options = LLVMCreatePassBuilderOptions();
    LLVMErrorRef error = LLVMRunPasses(module, "default<O3>", tm, options);
    LLVMDisposePassBuilderOptions(options);
    if (error) {
        char *message = LLVMGetErrorMessage(error);
        em__error("ptx: optimising '%s' failed: %s", name, message);
        LLVMDisposeErrorMessage(message);
        return NULL;
    }
    LLVMMemoryBufferRef buffer = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, module, LLVMAssemblyFile,
                                            &problem, &buffer)) {
        em__error("ptx: code generation for '%s' failed: %s", name,
                  problem ? problem : "no reason given");
        LLVMDisposeMessage(problem);
        return NULL;
    }
    size_t head = comments->len, size = LLVMGetBufferSize(buffer);
    char *text = malloc(head + size + 1);
    if (text) {
        memcpy(text, comments->text ? comments->text : "", head);
        memcpy(text + head, LLVMGetBufferStart(buffer), size);
        text[head + size] = '\0';
    } else {
        em__error("ptx: out of memory for the PTX of '%s'", name);
    }
    LLVMDisposeMemoryBuffer(buffer);
    return text;
}

static void dump_ptx(const char *name, const char *text)
{
    FILE *out = em__dump_open("ptx", name, "ptx");
    if (!out)
        return;
    fputs(text, out);
    fclose(out);
}

void em__ptx_module_free(em__ptx_module *m)
{
    if (!m)
        return;
    for (int k = 0; k < m->n_kernels; k++)
        group_free(&m->kernels[k]);
    free(m->kernels);
    free(m->text);
    free(m);
}

em__ptx_module *em__jit_ptx_module(const em__graph *g)
{
    char why[200];
    em__jit_schedule s;
    if (!em__jit_schedule_make(g, &s, why, sizeof why)) {
        if (why[0])
            em__error("ptx: cannot generate '%s': %s", g->name, why);
        return NULL;
    }
    em__ptx_module *m = calloc(1, sizeof *m);
    kernel_group *kernels = calloc((size_t)g->len + 1, sizeof *kernels);
    LLVMTargetMachineRef tm = m && kernels ? target_machine() : NULL;
    if (!tm) {
        if (!m || !kernels)
            em__error("ptx: out of memory building '%s'", g->name);
        free(m);
        free(kernels);
        em__jit_schedule_free(&s);
        return NULL;
    }
    LLVMContextRef llvm = LLVMContextCreate();
    em__jit_ctx c;
    notes comments = {0};
    int made = -1;
    if (em__jit_begin(&c, llvm, g, &s, g->name, tm)) {
        c.exported = true; /* the C library by name, never by address */
        note(&comments, "// ember: fused kernels of '%s'\n", g->name);
        made = emit_kernels(&c, &comments, kernels);
        LLVMDisposeBuilder(c.b);
        LLVMDisposeMessage(c.cpu);
        LLVMDisposeMessage(c.features);
        free(c.node_ptr);
        if (made < 0 || comments.failed)
            em__error("ptx: out of memory building '%s'", g->name);
        else {
            em__vmath_fold_products(c.module);
            m->text = emit_ptx(tm, c.module, g->name, &comments);
        }
        LLVMDisposeModule(c.module);
    }
    m->kernels = kernels;
    m->n_kernels = made > 0 ? made : 0;
    if (m->text)
        dump_ptx(g->name, m->text);
    free(comments.text);
    LLVMContextDispose(llvm);
    LLVMDisposeTargetMachine(tm);
    em__jit_schedule_free(&s);
    if (!m->text) {
        em__ptx_module_free(m);
        return NULL;
    }
    return m;
}

char *em__jit_ptx(const em__graph *g, int *n_kernels)
{
    *n_kernels = 0;
    em__ptx_module *m = em__jit_ptx_module(g);
    if (!m)
        return NULL;
    char *text = m->text;
    *n_kernels = m->n_kernels;
    m->text = NULL;
    em__ptx_module_free(m);
    return text;
}
