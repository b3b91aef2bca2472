/*
 * eager/ops_convert.c - element copies: cast between dtypes, copy and
 * stop_gradient (a copy the tape never records).
 */
#include <string.h>

#include "kernels.h"

/* [...] -> [...] in attrs->dtype */
EM__INFER(cast)
{
    if ((unsigned)attrs->dtype >= EM_DTYPE_COUNT) {
        snprintf(msg, size, "invalid dtype %d", (int)attrs->dtype);
        return false;
    }
    *out = *in[0];
    out->dtype = attrs->dtype;
    return true;
}

EM__KERNEL(cast)
{
    em__convert(in[0]->data, in[0]->type.dtype, out->data, out->type.dtype,
                out->size);
    return true;
}

/* [...] -> [...], same dtype */
EM__INFER(same)
{
    *out = *in[0];
    return true;
}

EM__KERNEL(copy)
{
    memcpy(out->data, in[0]->data,
           (size_t)out->size * em_dtype_size(out->type.dtype));
    return true;
}

EM__KERNEL(stop_gradient)
{
    return em__cpu_copy(out, in, n, attrs, msg, size);
}

em_tensor *em_cast(em_tensor *x, em_dtype dtype)
{
    /* Same dtype: a copy, whose gradient is the identity. */
    if (x && x->type.dtype == dtype)
        return em_copy(x);
    em__attrs attrs = {0};
    attrs.dtype = dtype;
    return em__dispatch(EM_OP_CAST, &x, 1, &attrs);
}

em_tensor *em_copy(em_tensor *x)
{
    return em__dispatch(EM_OP_COPY, &x, 1, NULL);
}

em_tensor *em_stop_gradient(em_tensor *x)
{
    return em__dispatch(EM_OP_STOP_GRADIENT, &x, 1, NULL);
}
