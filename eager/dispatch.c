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

/* Why input i cannot join an op on `device`, or NULL. A one-element CPU
 * tensor (the scalars wrappers and gradient rules make) may: it is copied
 * over. An in-place op runs where its target lives. */
static bool device_mismatch(const em__op_def *def, em_tensor *const *in, int i,
                            em_device device)
{
    em_device d = em__tensor_device(in[i]);
    if (d == device)
        return false;
    bool target = i == 0 && (def->flags & EM__OP_IN_PLACE);
    return target || d != EM_CPU || in[i]->size != 1;
}

/* The rest of em__dispatch for inputs on a device: its kernel from the
 * backend's table. */
static em_tensor *dispatch_device(em__op op, em_tensor *const *in, int n,
                                  const em__attrs *attrs,
                                  const em__type *out_type,
                                  const em__thread *thread)
{
    const em__op_def *def = &em__op_table[op];
    em_device device =
        (def->flags & EM__OP_IN_PLACE) ? em__tensor_device(in[0]) : EM_CPU;
    for (int i = 0; i < n && device == EM_CPU; i++)
        device = em__tensor_device(in[i]);
    char msg[512] = "no kernel for this device", a[32], b[32];
    for (int i = 0; i < n; i++)
        if (device_mismatch(def, in, i, device)) {
            snprintf(msg, sizeof msg,
                     "inputs on two devices, %s and %s (input %d); move them "
                     "to one with em_tensor_to",
                     em_device_name(device, a, sizeof a),
                     em_device_name(em__tensor_device(in[i]), b, sizeof b), i);
            em__error_op(def->name, in, n, msg);
            return NULL;
        }
    em__kernel_fn kernel = NULL;
    if (em__device_installed.kernels)
        kernel = em__device_installed.kernels[op];
    if (!kernel && !(def->flags & EM__OP_VIEW)) {
        snprintf(msg, sizeof msg, "no kernel for %s",
                 em_device_name(device, a, sizeof a));
        em__error_op(def->name, in, n, msg);
        return NULL;
    }

    /* Scalars from the host, copied over for this call. */
    em_tensor *inline_moved[INLINE_INPUTS] = {0};
    em_tensor **moved = inline_moved;
    if (n > INLINE_INPUTS && !(moved = calloc((size_t)n, sizeof *moved))) {
        em__error("%s: out of memory", def->name);
        return NULL;
    }
    em_tensor *out = NULL;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        moved[i] = in[i];
        if (em__tensor_device(in[i]) != device) {
            moved[i] = em__tensor_to(in[i], device);
            if (moved[i])
                em__scope_forget(moved[i]);
            ok = moved[i] != NULL;
        }
    }
    if (ok && (def->flags & EM__OP_IN_PLACE)) {
        ok = kernel && kernel(in[0], moved, n, attrs, msg, sizeof msg);
        out = ok ? in[0] : NULL;
        if (!ok)
            em__error_op(def->name, in, n, msg);
    } else if (ok && (def->flags & EM__OP_VIEW)) {
        out = em__tensor_view(in[0], out_type);
    } else if (ok) {
        out = em__tensor_new_on(out_type, device);
        if (out &&
            (!kernel || !kernel(out, moved, n, attrs, msg, sizeof msg))) {
            em__error_op(def->name, in, n, msg);
            em_tensor_free(out);
            out = NULL;
        }
    }
    for (int i = 0; i < n; i++)
        if (moved[i] && moved[i] != in[i])
            em__tensor_unref(moved[i]);
    if (moved != inline_moved)
        free(moved);
    if (out && !(def->flags & EM__OP_IN_PLACE))
        record(thread, op, in, n, attrs, out);
    return out;
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

    em_device device = EM_CPU;
    for (int i = 0; i < n && device == EM_CPU; i++)
        device = em__tensor_device(in[i]);
    if (device != EM_CPU)
        return dispatch_device(op, in, n, &attrs, &out_type, thread);

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
