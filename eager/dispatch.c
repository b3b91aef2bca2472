/*
 * eager/dispatch.c - the one path from the public API to a kernel: check
 * inputs, apply the op's shape rule, allocate, run the CPU kernel, and let a
 * recording tape see the call.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

em__hooks em__hooks_installed;

/* Inputs beyond this count (concat of many tensors) use the heap. */
#define INLINE_INPUTS 16

/* While tracing, an op becomes a node when it reads a symbolic tensor or a
 * variable (whose value must be read at every call) or writes a variable;
 * ops on constants alone run now, which folds them. */
static bool must_trace(const em__op_def *def, em_tensor *const *in, int n)
{
    if (def->flags & EM__OP_IN_PLACE)
        return true;
    for (int i = 0; i < n; i++)
        if (in[i]->flags & (EM__TENSOR_SYMBOLIC | EM__TENSOR_VARIABLE))
            return true;
    return false;
}

/* Lets recording tapes see the call. */
static void record(const em__thread *thread, em__op op, em_tensor *const *in,
                   int n, const em__attrs *attrs, em_tensor *out)
{
    if (thread->recording_tapes > 0 && thread->record_paused == 0 &&
        !(em__op_table[op].flags & EM__OP_NO_GRAD) &&
        em__hooks_installed.record)
        em__hooks_installed.record(op, in, n, attrs, out);
}

em_tensor *em__dispatch(em__op op, em_tensor *const *in, int n,
                        const em__attrs *attrs_in)
{
    const em__op_def *def = &em__op_table[op];

    em__thread *thread = em__thread_state();
    for (int i = 0; i < n; i++) {
        if (!in[i]) {
            if (!em_error_pending())
                em__error("%s: input %d is NULL", def->name, i);
            return NULL;
        }
        if ((in[i]->flags & EM__TENSOR_SYMBOLIC) && !thread->tracing) {
            em__error("%s: input %d is a symbolic tensor kept from a trace "
                      "that has ended; use what the traced function "
                      "returns instead",
                      def->name, i);
            return NULL;
        }
    }
    if ((def->arity >= 0 && n != def->arity) || (def->arity < 0 && n < 1)) {
        em__error("%s: takes %d inputs, %d given", def->name, def->arity, n);
        return NULL;
    }

    em__attrs attrs;
    if (attrs_in)
        attrs = *attrs_in;
    else
        memset(&attrs, 0, sizeof attrs);

    const em__type *inline_types[INLINE_INPUTS] = {0};
    const em__type **types = inline_types;
    if (n > INLINE_INPUTS) {
        types = malloc(sizeof *types * (size_t)n);
        if (!types) {
            em__error("%s: out of memory", def->name);
            return NULL;
        }
    }
    for (int i = 0; i < n; i++)
        types[i] = &in[i]->type;
    em__type out_type;
    char msg[512];
    bool ok = def->infer(types, n, &attrs, &out_type, msg, sizeof msg);
    if (types != inline_types)
        free(types);
    if (ok && !em__type_fits(&out_type)) {
        char shape[200];
        snprintf(msg, sizeof msg, "output shape %s has too many elements",
                 em_shape_format(out_type.ndim, out_type.shape, shape,
                                 sizeof shape));
        ok = false;
    }
    if (!ok) {
        em__error_op(def->name, in, n, msg);
        return NULL;
    }

    if (thread->tracing && em__hooks_installed.trace &&
        must_trace(def, in, n)) {
        em_tensor *traced =
            em__hooks_installed.trace(op, in, n, &attrs, &out_type);
        if (traced)
            record(thread, op, in, n, &attrs, traced);
        return traced;
    }

    if (def->flags & EM__OP_IN_PLACE) {
        if (!def->cpu(in[0], in, n, &attrs, msg, sizeof msg)) {
            em__error_op(def->name, in, n, msg);
            return NULL;
        }
        return in[0];
    }

    em_tensor *out;
    if (def->flags & EM__OP_VIEW) {
        out = em__tensor_view(in[0], &out_type);
    } else {
        out = em__tensor_new(&out_type);
        if (out && !def->cpu(out, in, n, &attrs, msg, sizeof msg)) {
            em__error_op(def->name, in, n, msg);
            em_tensor_free(out);
            return NULL;
        }
    }
    if (!out)
        return NULL;

    record(thread, op, in, n, &attrs, out);
    return out;
}
