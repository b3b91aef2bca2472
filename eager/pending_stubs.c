/* Placeholder definitions while the op families are written. */
#include "kernels.h"

__attribute__((weak)) EM__INFER(unary_float) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(unary_numeric) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(unary_logical) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(binary_arith) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(binary_compare) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(binary_logical) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(where) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(reduce) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(arg_reduce) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(matmul) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(reshape) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(permute) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(broadcast_to) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(concat) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(slice) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(gather) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(one_hot) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(cast) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(same) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(softmax) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__INFER(assign) { (void)in; (void)n; (void)attrs; (void)out; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(neg) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(abs) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sign) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(exp) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(log) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(log1p) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sqrt) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(rsqrt) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(square) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(reciprocal) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sin) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(cos) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(tanh) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sigmoid) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(relu) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(leaky_relu) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(elu) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(gelu) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(softplus) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(step) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(logical_not) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(add) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sub) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(mul) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(div) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(pow) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(maximum) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(minimum) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(equal) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(not_equal) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(less) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(less_equal) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(greater) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(greater_equal) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(logical_and) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(logical_or) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(where) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(sum) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(max) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(min) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(argmax) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(argmin) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(matmul) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(permute) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(broadcast_to) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(concat) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(slice) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(gather) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(one_hot) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(cast) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(copy) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(stop_gradient) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(softmax) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(log_softmax) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(assign) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(assign_add) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }
__attribute__((weak)) EM__KERNEL(assign_sub) { (void)out; (void)in; (void)n; (void)attrs; snprintf(msg, size, "not implemented"); return false; }

/* Public wrappers not written yet. */
#include <stdarg.h>
__attribute__((weak)) em_tensor *em_neg(em_tensor *x) { em__error("em_neg: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_abs(em_tensor *x) { em__error("em_abs: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sign(em_tensor *x) { em__error("em_sign: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_exp(em_tensor *x) { em__error("em_exp: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_log(em_tensor *x) { em__error("em_log: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_log1p(em_tensor *x) { em__error("em_log1p: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sqrt(em_tensor *x) { em__error("em_sqrt: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_rsqrt(em_tensor *x) { em__error("em_rsqrt: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_square(em_tensor *x) { em__error("em_square: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_reciprocal(em_tensor *x) { em__error("em_reciprocal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sin(em_tensor *x) { em__error("em_sin: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_cos(em_tensor *x) { em__error("em_cos: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_tanh(em_tensor *x) { em__error("em_tanh: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sigmoid(em_tensor *x) { em__error("em_sigmoid: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_relu(em_tensor *x) { em__error("em_relu: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_leaky_relu(em_tensor *x, double alpha) { em__error("em_leaky_relu: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_elu(em_tensor *x, double alpha) { em__error("em_elu: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_gelu(em_tensor *x) { em__error("em_gelu: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_softplus(em_tensor *x) { em__error("em_softplus: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_step(em_tensor *x) { em__error("em_step: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_add(em_tensor *a, em_tensor *b) { em__error("em_add: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sub(em_tensor *a, em_tensor *b) { em__error("em_sub: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_mul(em_tensor *a, em_tensor *b) { em__error("em_mul: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_div(em_tensor *a, em_tensor *b) { em__error("em_div: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_pow(em_tensor *a, em_tensor *b) { em__error("em_pow: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_maximum(em_tensor *a, em_tensor *b) { em__error("em_maximum: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_minimum(em_tensor *a, em_tensor *b) { em__error("em_minimum: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_add_scalar(em_tensor *x, double s) { em__error("em_add_scalar: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_mul_scalar(em_tensor *x, double s) { em__error("em_mul_scalar: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_pow_scalar(em_tensor *x, double s) { em__error("em_pow_scalar: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_equal(em_tensor *a, em_tensor *b) { em__error("em_equal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_not_equal(em_tensor *a, em_tensor *b) { em__error("em_not_equal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_less(em_tensor *a, em_tensor *b) { em__error("em_less: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_less_equal(em_tensor *a, em_tensor *b) { em__error("em_less_equal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_greater(em_tensor *a, em_tensor *b) { em__error("em_greater: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_greater_equal(em_tensor *a, em_tensor *b) { em__error("em_greater_equal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_logical_and(em_tensor *a, em_tensor *b) { em__error("em_logical_and: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_logical_or(em_tensor *a, em_tensor *b) { em__error("em_logical_or: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_logical_not(em_tensor *x) { em__error("em_logical_not: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_where(em_tensor *cond, em_tensor *a, em_tensor *b) { em__error("em_where: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_sum(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_sum: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_mean(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_mean: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_max(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_max: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_min(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_min: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_variance(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_variance: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_logsumexp(em_tensor *x, int naxes, const int *axes, bool keepdims) { em__error("em_logsumexp: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_argmax(em_tensor *x, int axis, bool keepdims) { em__error("em_argmax: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_argmin(em_tensor *x, int axis, bool keepdims) { em__error("em_argmin: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_matmul(em_tensor *a, em_tensor *b, bool transpose_a, bool transpose_b) { em__error("em_matmul: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_reshape(em_tensor *x, int ndim, const int64_t *shape) { em__error("em_reshape: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_permute(em_tensor *x, const int *perm) { em__error("em_permute: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_transpose(em_tensor *x) { em__error("em_transpose: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_expand_dims(em_tensor *x, int axis) { em__error("em_expand_dims: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_squeeze(em_tensor *x, int naxes, const int *axes) { em__error("em_squeeze: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_broadcast_to(em_tensor *x, int ndim, const int64_t *shape) { em__error("em_broadcast_to: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_concat(int n, em_tensor *const *xs, int axis) { em__error("em_concat: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_stack(int n, em_tensor *const *xs, int axis) { em__error("em_stack: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_slice(em_tensor *x, const int64_t *start, const int64_t *stop, const int64_t *step) { em__error("em_slice: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_gather(em_tensor *x, em_tensor *indices, int axis) { em__error("em_gather: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_one_hot(em_tensor *labels, int64_t depth, em_dtype dtype) { em__error("em_one_hot: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_cast(em_tensor *x, em_dtype dtype) { em__error("em_cast: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_copy(em_tensor *x) { em__error("em_copy: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_stop_gradient(em_tensor *x) { em__error("em_stop_gradient: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_softmax(em_tensor *x, int axis) { em__error("em_softmax: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_log_softmax(em_tensor *x, int axis) { em__error("em_log_softmax: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_mse_loss(em_tensor *prediction, em_tensor *target) { em__error("em_mse_loss: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_bce_with_logits(em_tensor *logits, em_tensor *targets) { em__error("em_bce_with_logits: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_softmax_cross_entropy(em_tensor *logits, em_tensor *labels) { em__error("em_softmax_cross_entropy: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_softmax_cross_entropy_probs(em_tensor *logits, em_tensor *probs) { em__error("em_softmax_cross_entropy_probs: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_accuracy(em_tensor *logits, em_tensor *labels) { em__error("em_accuracy: not implemented"); return NULL; }
__attribute__((weak)) em_rng *em_rng_new(uint64_t seed) { em__error("em_rng_new: not implemented"); return NULL; }
__attribute__((weak)) void em_rng_free(em_rng *rng) { em__error("em_rng_free: not implemented");  }
__attribute__((weak)) void em_random_seed(em_rng *rng, uint64_t seed) { em__error("em_random_seed: not implemented");  }
__attribute__((weak)) uint64_t em_rng_next_u64(em_rng *rng) { em__error("em_rng_next_u64: not implemented"); return 0; }
__attribute__((weak)) em_tensor *em_random_uniform(em_rng *rng, double low, double high, em_dtype dtype, int ndim, const int64_t *shape) { em__error("em_random_uniform: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_random_normal(em_rng *rng, double mean, double stddev, em_dtype dtype, int ndim, const int64_t *shape) { em__error("em_random_normal: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_init_glorot_uniform(em_rng *rng, em_dtype dtype, int ndim, const int64_t *shape) { em__error("em_init_glorot_uniform: not implemented"); return NULL; }
__attribute__((weak)) em_tensor *em_init_he_normal(em_rng *rng, em_dtype dtype, int ndim, const int64_t *shape) { em__error("em_init_he_normal: not implemented"); return NULL; }
__attribute__((weak)) em_tape *em_tape_begin(bool persistent) { em__error("em_tape_begin: not implemented"); return NULL; }
__attribute__((weak)) void em_tape_watch(em_tape *tape, em_tensor *t) { em__error("em_tape_watch: not implemented");  }
__attribute__((weak)) void em_tape_stop(em_tape *tape) { em__error("em_tape_stop: not implemented");  }
__attribute__((weak)) void em_tape_free(em_tape *tape) { em__error("em_tape_free: not implemented");  }
__attribute__((weak)) int em_tape_gradient(em_tape *tape, em_tensor *target, int n, em_tensor *const *sources, em_tensor **grads) { em__error("em_tape_gradient: not implemented"); return -1; }
__attribute__((weak)) int em_tape_gradient_ex(em_tape *tape, em_tensor *target, int n, em_tensor *const *sources, em_tensor **grads, const em_gradient_options *options) { em__error("em_tape_gradient_ex: not implemented"); return -1; }
__attribute__((weak)) bool em_tape_is_recording(void) { em__error("em_tape_is_recording: not implemented"); return false; }
__attribute__((weak)) em_tensor *em_custom_gradient(em_forward_fn forward, em_backward_fn backward, void *user, int n, em_tensor *const *inputs) { em__error("em_custom_gradient: not implemented"); return NULL; }
__attribute__((weak)) double em_gradient_check(em_scalar_fn fn, void *user, int n, em_tensor *const *inputs, double epsilon) { em__error("em_gradient_check: not implemented"); return -1; }
__attribute__((weak)) em_optimizer *em_optimizer_sgd(double lr, double momentum, bool nesterov) { em__error("em_optimizer_sgd: not implemented"); return NULL; }
__attribute__((weak)) em_optimizer *em_optimizer_adam(double lr, double beta1, double beta2, double epsilon) { em__error("em_optimizer_adam: not implemented"); return NULL; }
__attribute__((weak)) em_optimizer *em_optimizer_adamw(double lr, double beta1, double beta2, double epsilon, double weight_decay) { em__error("em_optimizer_adamw: not implemented"); return NULL; }
__attribute__((weak)) em_optimizer *em_optimizer_rmsprop(double lr, double rho, double momentum, double epsilon) { em__error("em_optimizer_rmsprop: not implemented"); return NULL; }
__attribute__((weak)) void em_optimizer_free(em_optimizer *opt) { em__error("em_optimizer_free: not implemented");  }
__attribute__((weak)) int em_optimizer_apply(em_optimizer *opt, int n, em_tensor *const *grads, em_tensor *const *vars) { em__error("em_optimizer_apply: not implemented"); return -1; }
__attribute__((weak)) void em_optimizer_set_schedule(em_optimizer *opt, em_lr_schedule schedule, void *user) { em__error("em_optimizer_set_schedule: not implemented");  }
__attribute__((weak)) void em_optimizer_set_step_schedule(em_optimizer *opt, int64_t every, double gamma) { em__error("em_optimizer_set_step_schedule: not implemented");  }
__attribute__((weak)) void em_optimizer_set_cosine_schedule(em_optimizer *opt, int64_t total_steps, double min_lr) { em__error("em_optimizer_set_cosine_schedule: not implemented");  }
__attribute__((weak)) double em_optimizer_learning_rate(const em_optimizer *opt) { em__error("em_optimizer_learning_rate: not implemented"); return -1; }
__attribute__((weak)) int64_t em_optimizer_steps(const em_optimizer *opt) { em__error("em_optimizer_steps: not implemented"); return 0; }
__attribute__((weak)) void em_optimizer_set_clip_norm(em_optimizer *opt, double max_norm) { em__error("em_optimizer_set_clip_norm: not implemented");  }
__attribute__((weak)) int em_clip_by_global_norm(int n, em_tensor *const *grads, double max_norm, em_tensor **clipped, double *global_norm) { em__error("em_clip_by_global_norm: not implemented"); return -1; }
__attribute__((weak)) em_tensor *em_idx_load(const char *path) { em__error("em_idx_load: not implemented"); return NULL; }
__attribute__((weak)) em_batch_iter *em_batch_iter_new(int n, em_tensor *const *tensors, int64_t batch, bool shuffle, uint64_t seed, bool drop_last) { em__error("em_batch_iter_new: not implemented"); return NULL; }
__attribute__((weak)) bool em_batch_iter_next(em_batch_iter *it, em_tensor **out) { em__error("em_batch_iter_next: not implemented"); return false; }
__attribute__((weak)) void em_batch_iter_reset(em_batch_iter *it) { em__error("em_batch_iter_reset: not implemented");  }
__attribute__((weak)) int64_t em_batch_iter_count(const em_batch_iter *it) { em__error("em_batch_iter_count: not implemented"); return 0; }
__attribute__((weak)) void em_batch_iter_free(em_batch_iter *it) { em__error("em_batch_iter_free: not implemented");  }
