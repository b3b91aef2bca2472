/*
 * ember/control.h - control flow that depends on a tensor's value.
 *
 * Plain C `if` and `for` work in eager mode and, inside a traced function,
 * when they do not depend on tensor values (they are unrolled into the
 * graph). A decision on a value a traced function computes needs one of
 * these two ops instead:
 *
 *   em_cond        runs one of two branches, chosen by a bool scalar;
 *   em_while_loop  repeats a body while a condition holds.
 *
 * In eager mode they are plain C control flow: em_cond reads the predicate
 * and calls one branch, em_while_loop calls the condition and the body in a
 * C loop, and a recording tape sees every op that ran. While tracing, both
 * branches (the condition and the body) are traced once each into regions
 * of one graph node, and the graph executor runs them as real branches and
 * loops: the graph's size does not depend on the number of iterations.
 *
 * Branches, conditions and bodies have the shape of em_traced_body (trace.h):
 * n tensors in, up to max_outputs tensors out, and the count returned (or
 * -1 with an error). They may use other tensors reached through `user`
 * (traced values of the enclosing function included) and may read and
 * assign variables: effects happen in program order, in both modes.
 *
 * Gradients: both ops are differentiable on a tape, eager and traced. The
 * traced gradient of a branch or a loop body runs the branch (the body, on
 * each saved iteration's loop variables, in reverse) again under a tape, so
 * a branch or body that is differentiated should not assign variables;
 * loop variables with a relaxed shape have no traced gradient. Since that
 * happens when the tape computes gradients, `user` (and what it points
 * to) must stay valid until then, as for em_custom_gradient.
 *
 * Ownership: results are new tensors owned like op results (innermost
 * scope, or the caller); inputs and loop variables stay the caller's.
 */
#ifndef EMBER_CONTROL_H
#define EMBER_CONTROL_H

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs then_fn(inputs) when pred (a bool tensor with one element) is true,
 * else else_fn(inputs), and writes the branch's outputs (at most
 * max_outputs) into outputs. Returns how many, or -1 with an error
 * (outputs all NULL): pred NULL, not bool or not one element; a branch
 * failing; or, while tracing, branches whose outputs differ in number,
 * dtype or shape (the error names the branch, the output and both types).
 * Either branch may be NULL: it then returns its inputs unchanged. */
int em_cond(em_tensor *pred, em_traced_body then_fn, em_traced_body else_fn,
            void *user, int n_inputs, em_tensor *const *inputs, int max_outputs,
            em_tensor **outputs);

typedef struct em_while_options {
    /* Stop after this many iterations even when the condition still holds
     * (0: no limit). Negative is an error. */
    int64_t max_iterations;
    /* NULL, or one flag per loop variable: true lets that variable's shape
     * change from one iteration to the next (its dtype may not). Without
     * it a body that changes a shape is an error. A traced function may
     * return a relaxed variable or pass it to em_cond / em_while_loop; ops
     * outside regions that read it fail at run time if its shape changed. */
    const bool *relaxed_shape;
} em_while_options;

/* while (cond_fn(vars)) vars = body_fn(vars), starting from loop_vars
 * (n_vars tensors, unchanged), and writes the final values into results
 * (n_vars new tensors). cond_fn returns one bool tensor with one element;
 * body_fn returns n_vars tensors with the loop variables' dtypes and
 * shapes (unless relaxed). options may be NULL. Returns 0, or -1 with an
 * error (results all NULL): a NULL argument, a function failing, a
 * condition that is not a bool scalar, or a body output of another dtype
 * or (not relaxed) shape (the error names the variable and both types). */
int em_while_loop(em_traced_body cond_fn, em_traced_body body_fn, void *user,
                  int n_vars, em_tensor *const *loop_vars, em_tensor **results,
                  const em_while_options *options);

#ifdef __cplusplus
}
#endif
#endif
