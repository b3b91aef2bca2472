/*
 * tape/grad_matmul.c - the gradient rule of the matrix product.
 *
 * With C = op(A) op(B) and G = dL/dC:
 *   plain        dA = G B^T      dB = A^T G
 *   A^T B        dA = B G^T      dB = A G
 *   A B^T        dA = G B        dB = G^T A
 *   A^T B^T      dA = B^T G^T    dB = G^T A^T
 * each again one matmul with transpose flags. Batch dimensions that
 * broadcasting added or stretched are summed away afterwards.
 */
#include "tape_internal.h"

/* dB when B is one matrix shared by the batches of a non-transposed A
 * ([..., m, k] @ [k, n]): the batches fold into the rows of one product
 * instead of a batched product summed afterwards. */
static em_tensor *shared_weight_gradient(em_tensor *a, em_tensor *g, bool tb)
{
    int64_t k = a->type.shape[a->type.ndim - 1];
    int64_t n = g->type.shape[g->type.ndim - 1];
    int64_t rows = k ? a->size / k : 0;
    em_tensor *a2 = em_reshape(a, 2, (const int64_t[]){rows, k});
    em_tensor *g2 = em_reshape(g, 2, (const int64_t[]){rows, n});
    em_tensor *out =
        tb ? em_matmul(g2, a2, true, false) : em_matmul(a2, g2, true, false);
    em_tensor_free(g2);
    em_tensor_free(a2);
    return out;
}

/* Sums a full-batch gradient down to its operand's shape. */
static em_tensor *fit(em_tensor *g, const em_tensor *like)
{
    if (!g)
        return NULL;
    em_tensor *out = em__grad_unbroadcast(g, like);
    if (out != g)
        em_tensor_free(g);
    return out;
}

EM__GRAD(matmul)
{
    em_tensor *a = call->inputs[0], *b = call->inputs[1];
    bool ta = call->attrs->transpose_a, tb = call->attrs->transpose_b;

    em_tensor *da;
    if (!call->needs_grad[0])
        da = NULL; /* e.g. the data batch of a layer: a product saved */
    else if (!ta)
        da = tb ? em_matmul(grad, b, false, false)
                : em_matmul(grad, b, false, true);
    else
        da = tb ? em_matmul(b, grad, true, true)
                : em_matmul(b, grad, false, true);
    grads[0] = fit(da, a);
    if (call->needs_grad[0] && !grads[0])
        return false;

    em_tensor *db;
    if (!call->needs_grad[1])
        return true;
    if (b->type.ndim == 2 && a->type.ndim > 2 && !ta)
        db = shared_weight_gradient(a, grad, tb);
    else if (!ta)
        db = tb ? em_matmul(grad, a, true, false)
                : em_matmul(a, grad, true, false);
    else
        db = tb ? em_matmul(grad, a, true, true)
                : em_matmul(a, grad, false, false);
    grads[1] = fit(db, b);
    return grads[1] != NULL;
}
