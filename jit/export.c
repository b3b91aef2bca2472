/*
 * jit/export.c - ahead-of-time compilation of a concrete function to an
 * object file and a C header (include/ember/export.h).
 *
 * The code is the JIT's (same schedule, same loops) with three changes:
 * buffers come from the function's parameters, embedded constants and one
 * caller-provided workspace instead of the plan; matrix products are
 * generated loops instead of BLAS calls; maths functions are called by
 * name for the linker to resolve. Ops that need ember's kernels at run
 * time are refused.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Target.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "jit_internal.h"
#include "trace_internal.h"

enum { ALIGN = 64 };

static const char *c_type(em_dtype dtype)
{
    static const char *const names[EM_DTYPE_COUNT] = {
        "bool", "uint8_t", "int32_t", "int64_t", "float", "double"};
    return names[dtype];
}

/* Why node i cannot be exported, or NULL. */
static const char *refusal(const em__graph *g, const em__jit_schedule *s, int i,
                           char *buf, size_t size)
{
    const em__node *node = &g->nodes[i];
    if (node->kind != EM__NODE_OP)
        return NULL;
    const char *op = em__op_table[node->op].name;
    if (em__node_has_effect(node))
        snprintf(buf, size, "it assigns a variable (op '%s')", op);
    else if (s->role[i] == EM__ROLE_KERNEL)
        snprintf(buf, size, "op '%s' needs ember's kernels at run time", op);
    else
        return NULL;
    return buf;
}

/* The exported graph's buffers: parameters, embedded constants, workspace
 * offsets. Fills c->node_ptr; returns the workspace size, or -1. */
static int64_t place_buffers(em__jit_ctx *c, const em__graph *g, int n_inputs,
                             int64_t *copy_outputs)
{
    const em__jit_schedule *s = c->s;
    int64_t workspace = 0;
    LLVMValueRef ws = LLVMGetParam(c->entry, 0);
    bool *output_param = calloc((size_t)g->len + 1, sizeof *output_param);
    if (!output_param)
        return -1;
    for (int k = 0; k < g->n_outputs; k++) {
        int o = g->outputs[k];
        em__jit_role r = s->role[o];
        bool computed =
            r == EM__ROLE_LOOP || r == EM__ROLE_REDUCE || r == EM__ROLE_MATMUL;
        copy_outputs[k] = computed && !output_param[o] ? -1 : o;
        if (computed && !output_param[o]) {
            output_param[o] = true;
            c->node_ptr[o] = LLVMGetParam(c->entry, 1 + n_inputs + k);
        }
    }
    for (int i = 0; i < g->len; i++) {
        const em__node *node = &g->nodes[i];
        if (s->role[i] == EM__ROLE_FUSED || output_param[i])
            continue;
        if (node->kind == EM__NODE_INPUT) {
            c->node_ptr[i] = LLVMGetParam(c->entry, 1 + node->index);
        } else if (node->kind != EM__NODE_OP) {
            /* Constants and variables: their bytes, now. */
            size_t bytes = em_tensor_nbytes(node->value);
            LLVMValueRef init = LLVMConstStringInContext(
                c->llvm, bytes ? node->value->data : "", (unsigned)bytes, 1);
            LLVMValueRef global =
                LLVMAddGlobal(c->module, LLVMTypeOf(init), "weights");
            LLVMSetInitializer(global, init);
            LLVMSetGlobalConstant(global, 1);
            LLVMSetLinkage(global, LLVMPrivateLinkage);
            LLVMSetAlignment(global, ALIGN);
            c->node_ptr[i] = global;
        } else if (s->role[i] == EM__ROLE_VIEW) {
            c->node_ptr[i] = c->node_ptr[node->inputs[0]];
        } else {
            LLVMValueRef at = LLVMConstInt(c->i64, (uint64_t)workspace, 0);
            c->node_ptr[i] = LLVMBuildInBoundsGEP2(c->b, c->i8, ws, &at, 1, "");
            int64_t bytes = em__type_size(&node->type) *
                            (int64_t)em_dtype_size(node->type.dtype);
            workspace += (bytes + ALIGN - 1) / ALIGN * ALIGN;
        }
    }
    free(output_param);
    return workspace;
}

/* Outputs that are not computed into their parameter (inputs, weights,
 * views, a value returned twice) are copied there at the end. */
static void copy_remaining_outputs(em__jit_ctx *c, const em__graph *g,
                                   int n_inputs, const int64_t *copy_outputs)
{
    for (int k = 0; k < g->n_outputs; k++) {
        if (copy_outputs[k] < 0)
            continue;
        const em__type *t = &g->nodes[copy_outputs[k]].type;
        int64_t bytes = em__type_size(t) * (int64_t)em_dtype_size(t->dtype);
        LLVMBuildMemCpy(c->b, LLVMGetParam(c->entry, 1 + n_inputs + k), 1,
                        c->node_ptr[copy_outputs[k]], 1,
                        LLVMConstInt(c->i64, (uint64_t)bytes, 0));
    }
}

static LLVMTargetMachineRef target_machine(const char *cpu_name)
{
    LLVMInitializeNativeTarget();
    LLVMInitializeNativeAsmPrinter();
    char *triple = LLVMGetDefaultTargetTriple();
    char *cpu = cpu_name ? NULL : LLVMGetHostCPUName();
    char *features = cpu_name ? NULL : LLVMGetHostCPUFeatures();
    LLVMTargetRef t = NULL;
    char *problem = NULL;
    LLVMTargetMachineRef tm = NULL;
    if (LLVMGetTargetFromTriple(triple, &t, &problem) == 0)
        tm = LLVMCreateTargetMachine(
            t, triple, cpu_name ? cpu_name : cpu, features ? features : "",
            LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault);
    LLVMDisposeMessage(problem);
    LLVMDisposeMessage(triple);
    LLVMDisposeMessage(cpu);
    LLVMDisposeMessage(features);
    return tm;
}

/* ---- the header -----------------------------------------------------------*/

typedef struct header {
    const em__graph *g;
    const em__type *input_types;
    int n_inputs;
    const char *symbol;
    int64_t workspace;
} header;

static void put_shape(FILE *f, const em__type *t)
{
    char buf[200];
    fprintf(f, "%s", em__type_format(t, buf, sizeof buf));
}

static bool write_header(FILE *f, void *user, int *error)
{
    const header *h = user;
    char guard[128];
    snprintf(guard, sizeof guard, "%s", h->symbol);
    for (char *p = guard; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    fprintf(f, "/*\n * Generated by ember %s from the traced function '%s'.\n",
            EMBER_VERSION, h->g->name);
    fprintf(f,
            " * %s(workspace, inputs..., outputs...) computes it for these "
            "shapes\n * (contiguous, row-major) and returns 0:\n",
            h->symbol);
    for (int k = 0; k < h->n_inputs; k++) {
        fprintf(f, " *   input %d: ", k);
        put_shape(f, &h->input_types[k]);
        fprintf(f, "\n");
    }
    for (int k = 0; k < h->g->n_outputs; k++) {
        fprintf(f, " *   output %d: ", k);
        put_shape(f, &h->g->nodes[h->g->outputs[k]].type);
        fprintf(f, "\n");
    }
    fprintf(f,
            " * The workspace holds %s_WORKSPACE_BYTES bytes, 64-byte "
            "aligned; calls running\n * at once need one each. Weights "
            "are embedded. Link with -lm.\n */\n",
            guard);
    fprintf(f, "#ifndef %s_H\n#define %s_H\n\n", guard, guard);
    fprintf(f, "#include <stdbool.h>\n#include <stdint.h>\n\n");
    fprintf(f, "#define %s_WORKSPACE_BYTES %lld\n", guard,
            (long long)(h->workspace > 0 ? h->workspace : ALIGN));
    for (int k = 0; k < h->n_inputs; k++)
        fprintf(f, "#define %s_INPUT%d_SIZE %lld\n", guard, k,
                (long long)em__type_size(&h->input_types[k]));
    for (int k = 0; k < h->g->n_outputs; k++)
        fprintf(f, "#define %s_OUTPUT%d_SIZE %lld\n", guard, k,
                (long long)em__type_size(&h->g->nodes[h->g->outputs[k]].type));
    fprintf(f, "\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    fprintf(f, "int %s(void *workspace", h->symbol);
    for (int k = 0; k < h->n_inputs; k++)
        fprintf(f, ",\n    const %s *input%d", c_type(h->input_types[k].dtype),
                k);
    for (int k = 0; k < h->g->n_outputs; k++)
        fprintf(f, ",\n    %s *output%d",
                c_type(h->g->nodes[h->g->outputs[k]].type.dtype), k);
    fprintf(f, ");\n\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
    *error = ferror(f) ? EIO : 0;
    return !ferror(f);
}

/* ---- the object -----------------------------------------------------------*/

typedef struct object {
    LLVMTargetMachineRef tm;
    LLVMModuleRef module;
} object;

static bool write_object(FILE *f, void *user, int *error)
{
    const object *o = user;
    LLVMMemoryBufferRef buffer = NULL;
    char *problem = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(o->tm, o->module, LLVMObjectFile,
                                            &problem, &buffer)) {
        LLVMDisposeMessage(problem);
        *error = EIO;
        return false;
    }
    size_t size = LLVMGetBufferSize(buffer);
    bool ok = fwrite(LLVMGetBufferStart(buffer), 1, size, f) == size;
    LLVMDisposeMemoryBuffer(buffer);
    *error = ok ? 0 : EIO;
    return ok;
}

static void make_symbol(const char *name, char *out, size_t size)
{
    size_t n = 0;
    if (!isalpha((unsigned char)name[0]) && name[0] != '_' && n + 1 < size)
        out[n++] = '_';
    for (const char *p = name; *p && n + 1 < size; p++)
        out[n++] = isalnum((unsigned char)*p) ? *p : '_';
    out[n] = '\0';
}

int em_concrete_export(em_concrete *c, const char *object_path,
                       const char *header_path,
                       const em_export_options *options)
{
    if (!c || !object_path || !header_path) {
        em__error("concrete_export: needs a concrete function and two paths");
        return -1;
    }
    em_export_options none = {0};
    const em_export_options *o = options ? options : &none;
    int n_inputs = 0;
    const em__type *input_types = NULL;
    const em__graph *g = em__concrete_graph(c, &n_inputs, &input_types);
    char symbol[128];
    make_symbol(o->symbol ? o->symbol : g->name, symbol, sizeof symbol);
    if (o->symbol && strcmp(symbol, o->symbol) != 0) {
        em__error("concrete_export: symbol '%s' is not a C identifier",
                  o->symbol);
        return -1;
    }

    em__jit_schedule s;
    char why[160];
    if (!em__jit_schedule_make(g, &s, why, sizeof why)) {
        if (why[0])
            em__error("concrete_export: '%s' cannot be exported: %s", g->name,
                      why);
        return -1;
    }
    for (int i = 0; i < g->len; i++)
        if (refusal(g, &s, i, why, sizeof why)) {
            em__error("concrete_export: '%s' cannot be exported: %s", g->name,
                      why);
            em__jit_schedule_free(&s);
            return -1;
        }

    LLVMTargetMachineRef tm = target_machine(o->cpu);
    if (!tm) {
        em__error("concrete_export: LLVM cannot generate code for CPU '%s'",
                  o->cpu ? o->cpu : "host");
        em__jit_schedule_free(&s);
        return -1;
    }
    LLVMContextRef llvm = LLVMContextCreate();
    em__jit_ctx ctx;
    int64_t *copies = calloc((size_t)g->n_outputs + 1, sizeof *copies);
    int rc = -1;
    if (!copies || !em__jit_begin(&ctx, llvm, g, &s, symbol, tm))
        goto done;
    ctx.exported = true;
    int n_params = 1 + n_inputs + g->n_outputs;
    LLVMTypeRef *params = calloc((size_t)n_params, sizeof *params);
    if (!params) {
        em__jit_end(&ctx, false);
        goto done;
    }
    for (int k = 0; k < n_params; k++)
        params[k] = ctx.ptr;
    LLVMTypeRef type = LLVMFunctionType(ctx.i32, params, (unsigned)n_params, 0);
    free(params);
    em__jit_begin_function(&ctx, symbol, type, tm);
    header h = {g, input_types, n_inputs, symbol, 0};
    h.workspace = place_buffers(&ctx, g, n_inputs, copies);
    bool ok = h.workspace >= 0 && em__jit_emit_nodes(&ctx);
    if (ok)
        copy_remaining_outputs(&ctx, g, n_inputs, copies);
    LLVMModuleRef module = em__jit_end(&ctx, ok);
    if (!module)
        goto done;

    LLVMPassBuilderOptionsRef passes = LLVMCreatePassBuilderOptions();
    LLVMErrorRef error = LLVMRunPasses(module, "default<O3>", tm, passes);
    LLVMDisposePassBuilderOptions(passes);
    if (error) {
        char *message = LLVMGetErrorMessage(error);
        em__error("concrete_export: optimising '%s' failed: %s", g->name,
                  message);
        LLVMDisposeErrorMessage(message);
    } else {
        object obj = {tm, module};
        rc = em__file_replace(object_path, "concrete_export: object",
                              write_object, &obj) == 0 &&
                     em__file_replace(header_path, "concrete_export: header",
                                      write_header, &h) == 0
                 ? 0
                 : -1;
    }
    LLVMDisposeModule(module);
done:
    if (!copies)
        em__error("concrete_export: out of memory");
    free(copies);
    LLVMContextDispose(llvm);
    LLVMDisposeTargetMachine(tm);
    em__jit_schedule_free(&s);
    return rc;
}
