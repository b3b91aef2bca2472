/*
 * eager/ops_common.h - checks shared by the public op wrappers that do work
 * before reaching em__dispatch (which makes the same checks itself).
 */
#ifndef EMBER_EAGER_OPS_COMMON_H
#define EMBER_EAGER_OPS_COMMON_H

#include "internal.h"

/* True when none of the n inputs is NULL. Otherwise records
 * "<op>: input i is NULL" for the first NULL one, as dispatch does, unless
 * an error is already pending (the failure that produced the NULL, which
 * the caller should see), and returns false. */
static inline bool ops_inputs_present(const char *op, em_tensor *const *in,
                                      int n)
{
    for (int i = 0; i < n; i++) {
        if (in[i])
            continue;
        if (!em_error_pending())
            em__error("%s: input %d is NULL", op, i);
        return false;
    }
    return true;
}

#endif
