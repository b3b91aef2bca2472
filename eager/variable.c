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
    if (!em__tensor_readable(initial, "variable_new"))
        return NULL;
    em_tensor *v = em__tensor_new(&initial->type);
    if (!v)
        return NULL;
    em__scope_forget(v); /* variables belong to their creator, not a scope */
    memcpy(v->data, initial->data, em_tensor_nbytes(initial));
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

static int assign(em__op op, em_tensor *v, em_tensor *value)
{
    if (v && !em_tensor_is_variable(v)) {
        em_tensor *in[2] = {v, value};
        em__error_op(em__op_table[op].name, in, value ? 2 : 1,
                     "the target is not a variable");
        return -1;
    }
    em_tensor *in[2] = {v, value};
    return em__dispatch(op, in, 2, NULL) ? 0 : -1;
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

typedef enum update { SET, ADD, SUB } update;

/* v (op)= value, value broadcast to v's shape and converted to its dtype. */
static void update_in_place(em_tensor *v, em_tensor *value, update how)
{
    if (how == SET && v->type.dtype == value->type.dtype &&
        value->size == v->size) {
        memmove(v->data, value->data, em_tensor_nbytes(v));
        return;
    }
    if (v->type.dtype == EM_FLOAT32 && value->type.dtype == EM_FLOAT32 &&
        value->size == v->size) {
        float *dst = v->data;
        const float *src = value->data;
        if (how == ADD)
            for (int64_t i = 0; i < v->size; i++)
                dst[i] += src[i];
        else
            for (int64_t i = 0; i < v->size; i++)
                dst[i] -= src[i];
        return;
    }
    int64_t strides[EM_MAX_DIMS], index[EM_MAX_DIMS] = {0};
    em__broadcast_strides(&value->type, &v->type, strides);
    int ndim = v->type.ndim;
    int64_t src = 0;
    for (int64_t i = 0; i < v->size; i++) {
        double x = em__load_f64(value->data, value->type.dtype, src);
        if (how != SET) {
            double old = em__load_f64(v->data, v->type.dtype, i);
            x = how == ADD ? old + x : old - x;
        }
        em__store_f64(v->data, v->type.dtype, i, x);
        for (int d = ndim - 1; d >= 0; d--) {
            src += strides[d];
            if (++index[d] < v->type.shape[d])
                break;
            src -= strides[d] * index[d];
            index[d] = 0;
        }
    }
}

EM__KERNEL(assign)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], SET);
    return true;
}

EM__KERNEL(assign_add)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], ADD);
    return true;
}

EM__KERNEL(assign_sub)
{
    (void)n, (void)attrs, (void)msg, (void)size;
    update_in_place(out, in[1], SUB);
    return true;
}
