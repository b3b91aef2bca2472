/*
 * tape/tape_internal.h - what the tape's files share: the signature of a
 * gradient rule, the gradient table, and helpers rules use.
 */
#ifndef EMBER_TAPE_INTERNAL_H
#define EMBER_TAPE_INTERNAL_H

#include "internal.h"

/* One recorded call, as a gradient rule sees it. */
typedef struct em__grad_call {
    em__op op;
    int n;
    em_tensor *const *inputs;
    em_tensor *output;
    const em__attrs *attrs;
    /* needs_grad[i]: whether input i's gradient is wanted (the input is
     * watched or computed from a watched tensor). A rule may skip work for
     * the others; whatever it gives them is dropped. */
    const bool *needs_grad;
} em__grad_call;

/* A gradient rule: from the gradient of the output (shaped like it), fills
 * grads[i] with the gradient of input i, shaped like that input, or leaves
 * NULL where no gradient flows (integer inputs, indices). Written with the
 * public ops only, so that an enclosing tape can record it and
 * differentiate again. Returns false on failure (an error is recorded). */
typedef bool (*em__grad_fn)(const em__grad_call *call, em_tensor *grad,
                            em_tensor **grads);

/* Indexed by op id; NULL for ops that are never recorded or whose
 * gradient is not defined. */
extern const em__grad_fn em__grad_table[EM_OP_COUNT];

/* Sums g over the dimensions that broadcasting added or stretched, so that
 * the result has like's shape (returns g itself when shapes match). */
em_tensor *em__grad_unbroadcast(em_tensor *g, const em_tensor *like);

/* where(grad == 0, 0, product), releasing product: rules whose factor can
 * be infinite (1/x, log, exp, ...) use it so that a zero incoming gradient,
 * as em_where gives the branch it did not take, stays exactly zero instead
 * of becoming 0 * inf = NaN. */
em_tensor *em__grad_keep_zeros(em_tensor *grad, em_tensor *product);

/* Hides this thread's recording tapes (a tracer does so: a trace must not
 * leave symbolic records on tapes begun outside it) and returns them for
 * em__tape_resume, which must be called in the reverse order. */
void *em__tape_suspend(void);
void em__tape_resume(void *token);

/* The gradient of a call with several outputs (a traced cond or while
 * node). Reference counted: each tape record holds one. */
typedef struct em__multi_grad em__multi_grad;
struct em__multi_grad {
    int refs;
    /* Fills input_grads[i] (NULL for none) from the outputs' gradients
     * (output_grads[k] NULL where none reached output k), with public ops.
     * Returns 0, or -1 with an error. */
    int (*backward)(em__multi_grad *self, int n, em_tensor *const *inputs,
                    int n_out, em_tensor *const *outputs,
                    em_tensor *const *output_grads, em_tensor **input_grads);
    void (*destroy)(em__multi_grad *self); /* when refs reaches 0 */
};

/* Records one call with n inputs and n_out outputs on every recording
 * tape that watches one of the inputs (taking a reference to g for each). */
void em__tape_record_multi(em__multi_grad *g, int n, em_tensor *const *inputs,
                           int n_out, em_tensor *const *outputs);
/* Drops a reference to g. */
void em__multi_grad_release(em__multi_grad *g);

#define EM__GRAD(name)                                                         \
    bool em__grad_##name(const em__grad_call *call, em_tensor *grad,           \
                         em_tensor **grads)

EM__GRAD(neg);
EM__GRAD(abs);
EM__GRAD(sign);
EM__GRAD(exp);
EM__GRAD(log);
EM__GRAD(log1p);
EM__GRAD(sqrt);
EM__GRAD(rsqrt);
EM__GRAD(square);
EM__GRAD(reciprocal);
EM__GRAD(sin);
EM__GRAD(cos);
EM__GRAD(tanh);
EM__GRAD(sigmoid);
EM__GRAD(relu);
EM__GRAD(leaky_relu);
EM__GRAD(elu);
EM__GRAD(gelu);
EM__GRAD(softplus);
EM__GRAD(erf);
EM__GRAD(step);
EM__GRAD(add);
EM__GRAD(sub);
EM__GRAD(mul);
EM__GRAD(div);
EM__GRAD(pow);
EM__GRAD(maximum);
EM__GRAD(minimum);
EM__GRAD(where);
EM__GRAD(sum);
EM__GRAD(max);
EM__GRAD(min);
EM__GRAD(matmul);
EM__GRAD(reshape);
EM__GRAD(permute);
EM__GRAD(broadcast_to);
EM__GRAD(concat);
EM__GRAD(slice);
EM__GRAD(gather);
EM__GRAD(one_hot);
EM__GRAD(cast);
EM__GRAD(copy);
EM__GRAD(softmax);
EM__GRAD(log_softmax);

#endif
