/* Gradient tapes: recording, persistence, higher order, custom gradients,
 * and the gradient checker itself. Expected values are derived by hand. */
#include <string.h>

#include "testing.h"

static em_tensor *scalar64(double v)
{
    return em_scalar(v, EM_FLOAT64);
}

START_TEST(gradient_of_a_polynomial)
{
    em_scope_begin();
    em_tensor *x = scalar64(2);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    /* y = x^2 + 3x, dy/dx = 2x + 3 = 7 */
    em_tensor *y = em_add(em_mul(x, x), em_mul_scalar(x, 3));
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_values(g, ((double[]){7}), 1, 1e-12, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(unwatched_tensors_are_not_recorded)
{
    em_scope_begin();
    em_tensor *x = scalar64(2), *z = scalar64(5);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = em_add(em_mul(x, z), z);
    em_tensor *g[2];
    em_tensor *src[2] = {x, z};
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, src, g), 0);
    assert_values(g[0], ((double[]){5}), 1, 0, 0);
    ck_assert_ptr_null(g[1]);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(unconnected_sources_give_zeros_when_asked)
{
    em_scope_begin();
    int64_t shape[] = {3};
    em_tensor *x = em_ones(EM_FLOAT32, 1, shape);
    em_tensor *w = em_ones(EM_FLOAT32, 1, shape);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tape_watch(tape, w);
    em_tensor *y = em_sum(em_square(x), 0, NULL, false);
    em_tensor *g[2];
    em_gradient_options options = {.unconnected_zeros = true};
    ck_assert_int_eq(
        em_tape_gradient_ex(tape, y, 2, (em_tensor *[]){x, w}, g, &options), 0);
    assert_values(g[0], ((double[]){2, 2, 2}), 3, 0, 0);
    assert_values(g[1], ((double[]){0, 0, 0}), 3, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(persistent_tape_allows_several_gradients)
{
    em_scope_begin();
    em_tensor *x = scalar64(3);
    em_tape *tape = em_tape_begin(true);
    em_tape_watch(tape, x);
    em_tensor *y = em_mul(x, x); /* 2x = 6 */
    em_tensor *z = em_mul(y, x); /* 3x^2 = 27 */
    em_tensor *gy, *gz;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &gy), 0);
    ck_assert_int_eq(em_tape_gradient(tape, z, 1, &x, &gz), 0);
    assert_values(gy, ((double[]){6}), 1, 1e-12, 0);
    assert_values(gz, ((double[]){27}), 1, 1e-12, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(non_persistent_tape_refuses_a_second_gradient)
{
    em_scope_begin();
    em_tensor *x = scalar64(3);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = em_mul(x, x);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), -1);
    ck_assert_ptr_null(g);
    assert_error("non-persistent", "once");
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(vector_target_needs_an_output_gradient)
{
    em_scope_begin();
    em_tensor *x = test_f64(1, (int64_t[]){3}, (double[]){1, 2, 3});
    em_tape *tape = em_tape_begin(true);
    em_tape_watch(tape, x);
    em_tensor *y = em_mul(x, x);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), -1);
    assert_error("tape_gradient", "float64[3]", "output gradient");
    /* vector-Jacobian product: v * 2x */
    em_gradient_options options = {
        .output_gradient = test_f64(1, (int64_t[]){3}, (double[]){1, -1, 2})};
    ck_assert_int_eq(em_tape_gradient_ex(tape, y, 1, &x, &g, &options), 0);
    assert_values(g, ((double[]){2, -4, 12}), 3, 1e-12, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(trainable_variables_are_watched_automatically)
{
    em_scope_begin();
    em_tensor *v = em_variable_new("w", scalar64(4), true);
    em_tensor *frozen = em_variable_new("f", scalar64(4), false);
    em_tape *tape = em_tape_begin(false);
    em_tensor *y = em_add(em_mul(v, v), em_mul(frozen, frozen));
    em_tensor *g[2];
    ck_assert_int_eq(
        em_tape_gradient(tape, y, 2, (em_tensor *[]){v, frozen}, g), 0);
    assert_values(g[0], ((double[]){8}), 1, 1e-12, 0);
    ck_assert_ptr_null(g[1]);
    em_tape_free(tape);
    em_scope_end();
    em_tensor_free(v);
    em_tensor_free(frozen);
}
END_TEST

START_TEST(second_derivative_of_cube_by_nested_tapes)
{
    em_scope_begin();
    double xs[] = {-1.5, 0.0, 2.0};
    for (int i = 0; i < 3; i++) {
        em_tensor *x = scalar64(xs[i]);
        em_tape *outer = em_tape_begin(false);
        em_tape_watch(outer, x);
        em_tape *inner = em_tape_begin(false);
        em_tape_watch(inner, x);
        em_tensor *y = em_mul(em_mul(x, x), x);
        em_tensor *dy, *d2y;
        ck_assert_int_eq(em_tape_gradient(inner, y, 1, &x, &dy), 0);
        assert_values(dy, ((double[]){3 * xs[i] * xs[i]}), 1, 1e-12, 0);
        ck_assert_int_eq(em_tape_gradient(outer, dy, 1, &x, &d2y), 0);
        assert_values(d2y, ((double[]){6 * xs[i]}), 1, 1e-12, 0);
        em_tape_free(inner);
        em_tape_free(outer);
    }
    em_scope_end();
}
END_TEST

/* A small tanh MLP loss of its weights: sum(tanh(x W1) W2)^2 / 2. */
static em_tensor *mlp_loss(em_tensor *w1, em_tensor *w2, em_tensor *x)
{
    em_tensor *h = em_tanh(em_matmul(x, w1, false, false));
    em_tensor *out = em_matmul(h, w2, false, false);
    return em_mul_scalar(em_sum(em_square(out), 0, NULL, false), 0.5);
}

/* Gradient of mlp_loss with respect to (w1, w2). */
static void mlp_grads(em_tensor *w1, em_tensor *w2, em_tensor *x, em_tensor **g)
{
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, w1);
    em_tape_watch(tape, w2);
    ck_assert_int_eq(em_tape_gradient(tape, mlp_loss(w1, w2, x), 2,
                                      (em_tensor *[]){w1, w2}, g),
                     0);
    em_tape_free(tape);
}

START_TEST(hessian_vector_product_of_an_mlp_matches_finite_differences)
{
    em_scope_begin();
    em_tensor *x = test_random(1, EM_FLOAT64, 2, (int64_t[]){4, 3}, -1, 1);
    em_tensor *w1 = test_random(2, EM_FLOAT64, 2, (int64_t[]){3, 5}, -1, 1);
    em_tensor *w2 = test_random(3, EM_FLOAT64, 2, (int64_t[]){5, 2}, -1, 1);
    em_tensor *v1 = test_random(4, EM_FLOAT64, 2, (int64_t[]){3, 5}, -1, 1);
    em_tensor *v2 = test_random(5, EM_FLOAT64, 2, (int64_t[]){5, 2}, -1, 1);

    /* Hv = d/dw (grad(w) . v), by an outer tape over the inner gradient. */
    em_tape *outer = em_tape_begin(false);
    em_tape_watch(outer, w1);
    em_tape_watch(outer, w2);
    em_tensor *g[2];
    mlp_grads(w1, w2, x, g);
    em_tensor *dot = em_add(em_sum(em_mul(g[0], v1), 0, NULL, false),
                            em_sum(em_mul(g[1], v2), 0, NULL, false));
    em_tensor *hv[2];
    ck_assert_int_eq(
        em_tape_gradient(outer, dot, 2, (em_tensor *[]){w1, w2}, hv), 0);
    em_tape_free(outer);

    /* (grad(w + eps v) - grad(w - eps v)) / (2 eps) */
    double eps = 1e-5;
    em_tensor *gp[2], *gm[2];
    mlp_grads(em_add(w1, em_mul_scalar(v1, eps)),
              em_add(w2, em_mul_scalar(v2, eps)), x, gp);
    mlp_grads(em_sub(w1, em_mul_scalar(v1, eps)),
              em_sub(w2, em_mul_scalar(v2, eps)), x, gm);
    for (int k = 0; k < 2; k++) {
        em_tensor *numeric = em_mul_scalar(em_sub(gp[k], gm[k]), 0.5 / eps);
        int64_t size = em_tensor_size(numeric);
        double expected[16];
        em_tensor_copy_to(numeric, expected, EM_FLOAT64, sizeof expected);
        assert_values(hv[k], expected, size, 1e-6, 1e-6);
    }
    em_scope_end();
}
END_TEST

START_TEST(stop_gradient_cuts_the_path)
{
    em_scope_begin();
    em_tensor *x = scalar64(3);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    /* y = x * sg(x): only the first factor carries a gradient, dy/dx = x */
    em_tensor *y = em_mul(x, em_stop_gradient(x));
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_values(g, ((double[]){3}), 1, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

/* Forward: x^2; declared backward: 10 * g (deliberately not 2x). */
static em_tensor *square_forward(int n, em_tensor *const *in, void *user)
{
    int *calls = user;
    (*calls)++;
    return em_mul(in[0], in[0]);
}

static int ten_backward(int n, em_tensor *const *in, em_tensor *out,
                        em_tensor *grad, em_tensor **grads, void *user)
{
    grads[0] = em_mul_scalar(grad, 10);
    return grads[0] ? 0 : -1;
}

START_TEST(custom_gradient_replaces_the_rule)
{
    em_scope_begin();
    int calls = 0;
    em_tensor *x = scalar64(3);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y =
        em_custom_gradient(square_forward, ten_backward, &calls, 1, &x);
    assert_values(y, ((double[]){9}), 1, 0, 0);
    em_tensor *z = em_mul_scalar(y, 2);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, z, 1, &x, &g), 0);
    assert_values(g, ((double[]){20}), 1, 0, 0);
    ck_assert_int_eq(calls, 1);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

static em_tensor *custom_square(int n, em_tensor *const *in, void *user)
{
    int calls = 0;
    return em_sum(
        em_custom_gradient(square_forward, ten_backward, &calls, 1, in), 0,
        NULL, false);
}

static em_tensor *plain_square(int n, em_tensor *const *in, void *user)
{
    return em_sum(em_mul(in[0], in[0]), 0, NULL, false);
}

START_TEST(gradient_check_accepts_right_and_catches_wrong_gradients)
{
    em_scope_begin();
    em_tensor *x = test_f32(1, (int64_t[]){3}, (float[]){0.5f, -1, 2});
    double good = em_gradient_check(plain_square, NULL, 1, &x, 1e-6);
    ck_assert(good >= 0 && good < 1e-7);
    double bad = em_gradient_check(custom_square, NULL, 1, &x, 1e-6);
    ck_assert_msg(bad > 1, "a wrong rule must show, error %g", bad);
    em_scope_end();
}
END_TEST

START_TEST(gradients_are_owned_by_the_callers_scope)
{
    em_memory_stats before = em_memory_get_stats();
    em_scope_begin();
    em_tensor *x = scalar64(2);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = em_mul(em_exp(x), x);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    em_tape_free(tape);
    /* (x + 1) e^x */
    assert_values(g, ((double[]){3 * exp(2.0)}), 1, 1e-12, 1e-12);
    em_scope_end();
    em_memory_stats after = em_memory_get_stats();
    ck_assert_int_eq(after.live_tensors, before.live_tensors);
    ck_assert_int_eq(after.live_bytes, before.live_bytes);
}
END_TEST

START_TEST(null_inputs_are_refused_without_a_crash)
{
    em_tape *tape = em_tape_begin(false);
    em_tensor *g = (em_tensor *)1;
    em_tensor *x = scalar64(1);
    ck_assert_int_eq(em_tape_gradient(tape, NULL, 1, &x, &g), -1);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(em_tape_gradient(NULL, x, 1, &x, &g), -1);
    assert_error("tape is NULL");
    em_tape_free(tape);
    em_tape_free(NULL);
    em_tensor_free(x);
}
END_TEST

START_TEST(null_arrays_and_negative_counts_are_refused)
{
    em_scope_begin();
    em_tensor *x = scalar64(1);
    em_tape *tape = em_tape_begin(true);
    em_tape_watch(tape, x);
    em_tensor *y = em_mul(x, x);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, NULL, &g), -1);
    assert_error("tape_gradient", "sources");
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, NULL), -1);
    assert_error("tape_gradient", "grads");
    ck_assert_int_eq(em_tape_gradient(tape, y, -1, &x, &g), -1);
    assert_error("n = -1");
    ck_assert_ptr_null(
        em_custom_gradient(square_forward, ten_backward, NULL, 1, NULL));
    assert_error("custom_gradient", "inputs");
    ck_assert_ptr_null(
        em_custom_gradient(square_forward, ten_backward, NULL, -1, &x));
    assert_error("custom_gradient", "n = -1");
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

static int int_backward(int n, em_tensor *const *in, em_tensor *out,
                        em_tensor *grad, em_tensor **grads, void *user)
{
    grads[0] = em_cast(grad, EM_INT32);
    return 0;
}

START_TEST(a_gradient_of_the_wrong_dtype_is_refused)
{
    em_scope_begin();
    int calls = 0;
    em_tensor *x = em_scalar_f32(2);
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y =
        em_custom_gradient(square_forward, int_backward, &calls, 1, &x);
    em_tensor *g = NULL;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), -1);
    ck_assert_ptr_null(g);
    assert_error("custom function", "int32", "float32");
    em_tape_free(tape);

    /* an output gradient must match the target's dtype as well as shape */
    tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    y = em_mul(x, x);
    em_gradient_options options = {.output_gradient = scalar64(1)};
    ck_assert_int_eq(em_tape_gradient_ex(tape, y, 1, &x, &g, &options), -1);
    assert_error("output gradient", "float64", "float32");
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tape");
    TCase *tc = test_case(s, "tape");
    tcase_add_test(tc, gradient_of_a_polynomial);
    tcase_add_test(tc, unwatched_tensors_are_not_recorded);
    tcase_add_test(tc, unconnected_sources_give_zeros_when_asked);
    tcase_add_test(tc, persistent_tape_allows_several_gradients);
    tcase_add_test(tc, non_persistent_tape_refuses_a_second_gradient);
    tcase_add_test(tc, vector_target_needs_an_output_gradient);
    tcase_add_test(tc, trainable_variables_are_watched_automatically);
    tcase_add_test(tc, second_derivative_of_cube_by_nested_tapes);
    tcase_add_test(tc,
                   hessian_vector_product_of_an_mlp_matches_finite_differences);
    tcase_add_test(tc, stop_gradient_cuts_the_path);
    tcase_add_test(tc, custom_gradient_replaces_the_rule);
    tcase_add_test(tc,
                   gradient_check_accepts_right_and_catches_wrong_gradients);
    tcase_add_test(tc, gradients_are_owned_by_the_callers_scope);
    tcase_add_test(tc, null_inputs_are_refused_without_a_crash);
    tcase_add_test(tc, null_arrays_and_negative_counts_are_refused);
    tcase_add_test(tc, a_gradient_of_the_wrong_dtype_is_refused);
    return test_run(s);
}
