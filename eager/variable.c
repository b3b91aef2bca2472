/*
 * eager/variable.c - variables and their in-place updates (assign,
 * assign_add, assign_sub), which are ops so that later layers see them in
 * program order.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

em_tensor *em_variable_new(const char *name, em_tensor *initial, bool trainable)
{
    if (!initial) {
        if (!em_error_pending())
            em__error("variable_new: initial value is NULL");
        return NULL;
    }
    if ((initial->flags & EM__TENSOR_SYMBOLIC) &&
        !em__tensor_readable(initial, "variable_new"))
        return NULL;
    /* A variable lives where its initial value does. */
    em_tensor *v =
        em__tensor_new_on(&initial->type, em__tensor_device(initial));
    if (!v)
        return NULL;
    em__scope_forget(v); /* variables belong to their creator, not a scope */
    if (em__tensor_device(v) == EM_CPU)
        memcpy(v->data, initial->data, em_tensor_nbytes(initial));
    else if (em_tensor_nbytes(v) > 0 &&
             !em__device_installed.copy(v->data, em__tensor_device(v),
                                        initial->data, em__tensor_device(v),
                                        em_tensor_nbytes(v))) {
        em__tensor_unref(v);
        return NULL;
    }
    v->flags = EM__TENSOR_VARIABLE | (trainable ? EM__TENSOR_TRAINABLE : 0);
    v->name = strdup(name ? name : "variable");
    if (!v->name) {
        em_tensor_free(v);
        em__error("variable_new: out of memory");
        return NULL;
    }
    if (em__thread_state()->tracing && em__hooks_installed.variable_created &&
        !em__hooks_installed.variable_created(v)) {
        em_tensor_free(v);
        return NULL;
    }
    return v;
}

bool em_tensor_is_variable(const em_tensor *t)
{
    return t && (t->flags & EM__TENSOR_VARIABLE);
}

const char *em_variable_name(const em_tensor *t)
{
    return em_tensor_is_variable(t) ? t->name : NULL;
}

bool em_variable_trainable(const em_tensor *t)
{
    return t && (t->flags & EM__TENSOR_TRAINABLE);
}

/* Runs update op on (v, value[, scale]) after checking v is a variable. */
static int run_update(em__op op, em_tensor *v, em_tensor *value,
                      em_tensor *scale, double alpha)
{
    em_tensor *in[3] = {v, value, scale};
    int n = scale ? 3 : 2;
    if (v && !em_tensor_is_variable(v)) {
        em__error_op(em__op_table[op].name, in, value ? n : 1,
                     "the target is not a variable");
        return -1;
    }
    em__attrs attrs;
    memset(&attrs, 0, sizeof attrs);
    attrs.alpha = alpha;
    return em__dispatch(op, in, n, &attrs) ? 0 : -1;
}

static int assign(em__op op, em_tensor *v, em_tensor *value)
{
    return run_update(op, v, value, NULL, 0);
}

int em_variable_assign_scale_add(em_tensor *v, double alpha, em_tensor *x)
{
    return run_update(EM_OP_ASSIGN_SCALE_ADD, v, x, NULL, alpha);
}

int em_variable_assign_sub_scaled(em_tensor *v, em_tensor *scale, em_tensor *x)
{
    if (!scale) {
        if (!em_error_pending())
            em__error("assign_sub_scaled: scale is NULL");
        return -1;
    }
    return run_update(EM_OP_ASSIGN_SUB_SCALED, v, x, scale, 0);
}

int em_variable_assign(em_tensor *v, em_tensor *value)
{
    return assign(EM_OP_ASSIGN, v, value);
}

int em_variable_assign_add(em_tensor *v, em_tensor *value)
{
    return assign(EM_OP_ASSIGN_ADD, v, value);
}

int em_variable_assign_sub(em_tensor *v, em_tensor *value)
{
    return assign(EM_OP_ASSIGN_SUB, v, value);
}

/* [shape] (variable), value broadcastable to [shape] -> updates input 0. */
EM__INFER(assign)
{
    (void)n;
    (void)attrs;
    em__type joined;
    if (!em__broadcast_shape(in[1], in[0], &joined) ||
        !em__type_equal_shape(&joined, in[0])) {
        char a[200], b[200];
        snprintf(msg, size, "value %s does not fit variable %s",
                 em__type_format(in[1], b, sizeof b),
                 em__type_format(in[0], a, sizeof a));
        return false;
    }
    if (in[1]->dtype == EM_BOOL && in[0]->dtype != EM_BOOL) {
        snprintf(msg, size, "bool value for a %s variable",
                 em_dtype_name(in[0]->dtype));
        return false;
    }
    *out = *in[0];
    return true;
}

/* The in-place updates: v = x, v += x, v -= x, and the two an optimiser's
 * step is made of, v = a v + x and v -= a x, one pass each with no
 * temporary tensor. */
typedef enum update { SET, ADD, SUB, SCALE_ADD, SUB_SCALED } update;

static double updated(update how, double old, double x, double a)
{
    switch (how) {
    case ADD:
        return old + x;
    case SUB:
        return old - x;
    case SCALE_ADD:
        return a * old + x;
    case SUB_SCALED:
        return old - a * x;
    default:
        return x;
    }
}

/* The float32 loops of the common case: x shaped exactly like v. The
 * products round to float as separate ops would, so results match a
 * composition of mul, add and assign exactly. */
static void update_f32(float *restrict dst, const float *restrict src,
                       int64_t n, update how, float a)
{
    switch (how) {
    case ADD:
        for (int64_t i = 0; i < n; i++)
            dst[i] += src[i];
        break;
    case SUB:
        for (int64_t i = 0; i < n; i++)
            dst[i] -= src[i];
        break;
    case SCALE_ADD:
        for (int64_t i = 0; i < n; i++) {
            float scaled = a * dst[i];
            dst[i] = scaled + src[i];
        }
        break;
    case SUB_SCALED:
        for (int64_t i = 0; i < n; i++) {
            float scaled = a * src[i];
            dst[i] -= scaled;
        }
        break;
    default:
        break;
    }
}

/* v (op)= value, value broadcast to v's shape and converted to its dtype. */
static void update_in_place(em_tensor *v, em_tensor *value, update how,
                            double a)
{
    if (how == SET && v->type.dtype == value->type.dtype &&
        value->size == v->size) {
        memmove(v->data, value->data, em_tensor_nbytes(v));
        return;
    }
    if (how != SET && v->type.dtype == EM_FLOAT32 &&
        value->type.dtype == EM_FLOAT32 && value->size == v->size &&
        v->data != value->data) {
        update_f32(v->data, value->data, v->size, how, (float)a);
        return;
    }
    int64_t strides[EM_MAX_DIMS], index[EM_MAX_DIMS] = {0};
    em__broadcast_strides(&value->type, &v->type, strides);
    int ndim = v->type.ndim;
    int64_t src = 0;
    for (int64_t i = 0; i < v->size; i++) {
        double x = em__load_f64(value->data, value->type.dtype, src);
        double old = how == SET ? 0 : em__load_f64(v->data, v->type.dtype, i);
        em__store_f64(v->data, v->type.dtype, i, updated(how, old, x, a));
        for (int d = ndim - 1; d >= 0; d--) {
            src += strides[d];
            if (++index[d] < v->type.shape[d])
                break;
            src -= strides[d] * index[d];
            index[d] = 0;
        }
    }
}

/* [shape] (variable), value broadcastable to [shape], a one-element float
 * scale -> updates input 0. */
EM__INFER(assign_scaled)
{
    if (!em__infer_assign(in, 2, attrs, out, msg, size))
        return false;
    if (em__type_size(in[2]) != 1 || !em_dtype_is_float(in[2]->dtype)) {
        char a[200];
        snprintf(msg, size, "the scale must be one float, not %s",
                 em__type_format(in[2], a, sizeof a));
        return false;
    }
    (void)n;
    return true;
}

EM__KERNEL(assign_scale_add)
{
    (void)n, (void)msg, (void)size;
    update_in_place(out, in[1], SCALE_ADD, attrs->alpha);
    return true;
}

EM__KERNEL(assign_sub_scaled)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    double a = em__load_f64(in[2]->data, in[2]->type.dtype, 0);
    update_in_place(out, in[1], SUB_SCALED, a);
    return true;
}

EM__KERNEL(assign)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], SET, 0);
    return true;
}

EM__KERNEL(assign_add)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], ADD, 0);
    return true;
}

EM__KERNEL(assign_sub)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], SUB, 0);
    return true;
}
