/*
 * tape/grad_util.c - helpers shared by the gradient rules.
 */
#include "tape_internal.h"

/* g was computed in a broadcast shape; like is the operand before
 * broadcasting. Summing over the leading dimensions broadcasting added and
 * over the dimensions it stretched from 1 gives like's element count; a
 * reshape then restores like's exact shape (the size-1 dimensions). */
em_tensor *em__grad_unbroadcast(em_tensor *g, const em_tensor *like)
{
    if (!g || !like)
        return NULL;
    if (em__type_equal_shape(&g->type, &like->type))
        return g;

    int gnd = g->type.ndim, lnd = like->type.ndim;
    int lead = gnd - lnd;
    bool ok = true;
    /* like may have extra leading size-1 dimensions that g lacks. */
    for (int j = 0; j < -lead; j++)
        ok = ok && like->type.shape[j] == 1;

    int axes[EM_MAX_DIMS], naxes = 0;
    for (int i = 0; i < gnd && ok; i++) {
        int j = i - lead;
        int64_t gd = g->type.shape[i];
        int64_t ld = j >= 0 ? like->type.shape[j] : 1;
        if (j < 0 || (ld == 1 && gd != 1))
            axes[naxes++] = i;
        else if (ld != gd)
            ok = false;
    }
    if (!ok) {
        char gs[160], ls[160], detail[400];
        snprintf(detail, sizeof detail,
                 "gradient of shape %s does not broadcast from %s",
                 em_shape_format(gnd, g->type.shape, gs, sizeof gs),
                 em_shape_format(lnd, like->type.shape, ls, sizeof ls));
        em__error_op("unbroadcast", &g, 1, detail);
        return NULL;
    }
    /* naxes == 0 would mean "every axis" to em_sum. */
    if (naxes == 0)
        return em_reshape(g, lnd, like->type.shape);

    em_tensor *summed = em_sum(g, naxes, axes, false);
    if (!summed)
        return NULL;
    em_tensor *out = em_reshape(summed, lnd, like->type.shape);
    em_tensor_free(summed);
    return out;
}

/* True when grad has a value now (not symbolic) without a zero in it. */
static bool known_nonzero(const em_tensor *grad)
{
    if (grad->flags & EM__TENSOR_SYMBOLIC)
        return false;
    for (int64_t i = 0; i < grad->size; i++)
        if (em__load_f64(grad->data, grad->type.dtype, i) == 0)
            return false;
    return true;
}

em_tensor *em__grad_keep_zeros(em_tensor *grad, em_tensor *product)
{
    if (!product)
        return NULL;
    /* The common eager case, and a traced gradient whose seed is a
     * constant: nothing to keep, so no compare and select. */
    if (known_nonzero(grad))
        return product;
    em_tensor *zero = em_scalar(0, product->type.dtype);
    em_tensor *is_zero = em_equal(grad, zero);
    em_tensor *out = em_where(is_zero, zero, product);
    em_tensor_free(is_zero);
    em_tensor_free(zero);
    em_tensor_free(product);
    return out;
}
