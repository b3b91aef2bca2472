/*
 * ember/variable.h - variables: named tensors whose value persists and is
 * updated in place (weights, optimiser state).
 *
 * A variable is an em_tensor usable wherever a tensor is. It never belongs
 * to a scope: the caller releases it with em_tensor_free. A trainable
 * variable is watched by every recording tape automatically.
 */
#ifndef EMBER_VARIABLE_H
#define EMBER_VARIABLE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A variable holding a copy of `initial`'s value, dtype and shape. `name`
 * is copied (NULL gives "variable"). NULL when initial is NULL. */
em_tensor *em_variable_new(const char *name, em_tensor *initial,
                           bool trainable);

bool em_tensor_is_variable(const em_tensor *t);
/* The name, or NULL when t is not a variable. */
const char *em_variable_name(const em_tensor *t);
bool em_variable_trainable(const em_tensor *t);

/* v = value, v += value, v -= value. value must have v's shape (or
 * broadcast to it) and is converted to v's dtype. Returns 0, or -1 with an
 * error naming the variable and both shapes. Assignments are not recorded
 * on tapes. */
int em_variable_assign(em_tensor *v, em_tensor *value);
int em_variable_assign_add(em_tensor *v, em_tensor *value);
int em_variable_assign_sub(em_tensor *v, em_tensor *value);

/* v = alpha * v + x, and v -= scale * x where scale is a one-element float
 * tensor: the updates optimisers are made of, each one pass over v with no
 * temporary. Same rules and errors as em_variable_assign; the products
 * round in v's dtype, so results equal the composition of ops. */
int em_variable_assign_scale_add(em_tensor *v, double alpha, em_tensor *x);
int em_variable_assign_sub_scaled(em_tensor *v, em_tensor *scale, em_tensor *x);

#ifdef __cplusplus
}
#endif
#endif
