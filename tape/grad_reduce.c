/*
 * tape/grad_reduce.c - gradient rules of the reductions (sum, max, min).
 * Each spreads the output's gradient back over the reduced axes with
 * public ops only, so that an enclosing tape can differentiate the rule.
 */
#include "tape_internal.h"

/* t, shaped like a reduction's output, reshaped to x's rank with the
 * reduced axes (attrs, normalised by the shape rule) as size 1. Returns t
 * itself when the reduction kept its dimensions. */
static em_tensor *with_kept_dims(em_tensor *t, const em_tensor *x,
                                 const em__attrs *attrs)
{
    if (attrs->keepdims)
        return t;
    int64_t shape[EM_MAX_DIMS];
    for (int i = 0; i < x->type.ndim; i++)
        shape[i] = x->type.shape[i];
    for (int i = 0; i < attrs->naxes; i++)
        shape[attrs->axes[i]] = 1;
    return em_reshape(t, x->type.ndim, shape);
}

static void drop(em_tensor *temp, const em_tensor *kept)
{
    if (temp != kept)
        em_tensor_free(temp);
}

/* Every input element contributed once: the gradient is g broadcast. */
EM__GRAD(sum)
{
    const em_tensor *x = call->inputs[0];
    if (!em_dtype_is_float(x->type.dtype))
        return true; /* integer sums carry no gradient */
    em_tensor *gk = with_kept_dims(grad, x, call->attrs);
    grads[0] = em_broadcast_to(gk, x->type.ndim, x->type.shape);
    drop(gk, grad);
    return grads[0] != NULL;
}

/* The gradient reaches the elements equal to the result, split evenly
 * among ties: g * mask / count(mask). */
static bool extreme_gradient(const em__grad_call *call, em_tensor *grad,
                             em_tensor **grads)
{
    em_tensor *x = call->inputs[0];
    if (!em_dtype_is_float(x->type.dtype))
        return true;
    const em__attrs *attrs = call->attrs;
    em_tensor *yk = with_kept_dims(call->output, x, attrs);
    em_tensor *gk = with_kept_dims(grad, x, attrs);
    em_tensor *hit = em_equal(x, yk);
    em_tensor *mask = em_cast(hit, x->type.dtype);
    em_tensor *count = em_sum(mask, attrs->naxes, attrs->axes, true);
    em_tensor *share = em_div(mask, count);
    grads[0] = em_mul(share, gk);
    em_tensor_free(share);
    em_tensor_free(count);
    em_tensor_free(mask);
    em_tensor_free(hit);
    drop(gk, grad);
    drop(yk, call->output);
    return grads[0] != NULL;
}

EM__GRAD(max)
{
    return extreme_gradient(call, grad, grads);
}

EM__GRAD(min)
{
    return extreme_gradient(call, grad, grads);
}
