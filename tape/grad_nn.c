/*
 * tape/grad_nn.c - gradient rules of softmax and log_softmax, with public
 * ops only, so that an enclosing tape can differentiate them again.
 */
#include "tape_internal.h"

/* y = softmax(x): dx = y * (g - sum(g * y, axis)). */
EM__GRAD(softmax)
{
    em_tensor *y = call->output;
    int axis = call->attrs->axis;
    em_tensor *gy = em_mul(grad, y);
    em_tensor *s = em_sum(gy, 1, &axis, true);
    em_tensor *centred = em_sub(grad, s);
    grads[0] = em_mul(y, centred);
    em_tensor_free(centred);
    em_tensor_free(s);
    em_tensor_free(gy);
    return grads[0] != NULL;
}

/* y = log_softmax(x): dx = g - softmax(x) * sum(g, axis). */
EM__GRAD(log_softmax)
{
    int axis = call->attrs->axis;
    em_tensor *p = em_softmax(call->inputs[0], axis);
    em_tensor *s = em_sum(grad, 1, &axis, true);
    em_tensor *ps = em_mul(p, s);
    grads[0] = em_sub(grad, ps);
    em_tensor_free(ps);
    em_tensor_free(s);
    em_tensor_free(p);
    return grads[0] != NULL;
}
