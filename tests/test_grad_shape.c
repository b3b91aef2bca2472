/* Gradients of the shape and indexing ops: finite-difference checks of
 * sum(op(x) * w) with fixed random weights w (so each output entry has its
 * own weight), hand-derived gradient values, second derivatives through
 * the rules, and em__grad_unbroadcast. */
#include <string.h>

#include "tape_internal.h"
#include "testing.h"

/* Linear functions: finite differences are exact up to rounding, so a
 * large step is safe. */
#define EPS 1e-2
#define TOL 1e-6

/* sum(y * w), w fixed random weights shaped like y. */
static em_tensor *weighted_sum(em_tensor *y)
{
    if (!y)
        return NULL;
    em_tensor *w = test_random(11, EM_FLOAT64, em_tensor_ndim(y),
                               em_tensor_shape(y), -1, 1);
    return em_sum(em_mul(y, w), 0, NULL, false);
}

/* Runs em_gradient_check on fn with random inputs of the given shapes. */
static void check(int line, em_scalar_fn fn, void *user, int n,
                  const int *ndims, const int64_t shapes[][EM_MAX_DIMS])
{
    em_scope_begin();
    em_tensor *xs[8];
    for (int i = 0; i < n; i++)
        xs[i] = test_random(100 + (uint64_t)i, EM_FLOAT64, ndims[i], shapes[i],
                            -2, 2);
    double err = em_gradient_check(fn, user, n, xs, EPS);
    if (err < 0)
        ck_abort_msg("line %d: gradient check failed: %s", line,
                     em_error_last());
    ck_assert_msg(err < TOL, "line %d: gradient error %g", line, err);
    em_scope_end();
}

#define CHECK1(fn, user, nd, ...)                                              \
    check(__LINE__, (fn), (user), 1, (const int[]){nd},                        \
          (const int64_t[][EM_MAX_DIMS]){{__VA_ARGS__}})

/* ---- reshape, permute, transpose, expand_dims, squeeze -------------------*/

static em_tensor *reshape_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_reshape(x[0], 2, (int64_t[]){3, -1}));
}

static em_tensor *permute_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_permute(x[0], (int[]){2, 0, 1}));
}

static em_tensor *transpose_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_transpose(x[0]));
}

static em_tensor *squeeze_expand_fn(int n, em_tensor *const *x, void *user)
{
    em_tensor *s = em_squeeze(x[0], 0, NULL);
    return weighted_sum(em_expand_dims(s, -1));
}

START_TEST(grad_reshape_permute_transpose)
{
    CHECK1(reshape_fn, NULL, 3, 2, 3, 2);
    CHECK1(permute_fn, NULL, 3, 2, 3, 4);
    CHECK1(transpose_fn, NULL, 3, 2, 3, 4);
    CHECK1(transpose_fn, NULL, 2, 5, 1);
}
END_TEST

START_TEST(grad_expand_dims_and_squeeze)
{
    CHECK1(squeeze_expand_fn, NULL, 4, 2, 1, 3, 1);
}
END_TEST

/* ---- broadcast_to --------------------------------------------------------*/

typedef struct target {
    int ndim;
    int64_t shape[EM_MAX_DIMS];
} target;

static em_tensor *broadcast_fn(int n, em_tensor *const *x, void *user)
{
    const target *t = user;
    return weighted_sum(em_broadcast_to(x[0], t->ndim, t->shape));
}

START_TEST(grad_broadcast_to)
{
    target a = {2, {2, 3}};
    CHECK1(broadcast_fn, &a, 1, 3);
    target b = {3, {3, 2, 4}};
    CHECK1(broadcast_fn, &b, 2, 2, 1);
    target c = {2, {2, 2}};
    check(__LINE__, broadcast_fn, &c, 1, (const int[]){0},
          (const int64_t[][EM_MAX_DIMS]){{0}});
    target same = {2, {2, 3}};
    CHECK1(broadcast_fn, &same, 2, 2, 3);
}
END_TEST

/* ---- concat and stack ----------------------------------------------------*/

static em_tensor *concat_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_concat(n, x, *(const int *)user));
}

static em_tensor *stack_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_stack(n, x, *(const int *)user));
}

START_TEST(grad_concat)
{
    int axis = 1;
    check(__LINE__, concat_fn, &axis, 3, (const int[]){2, 2, 2},
          (const int64_t[][EM_MAX_DIMS]){{2, 1}, {2, 3}, {2, 2}});
    axis = 0;
    check(__LINE__, concat_fn, &axis, 2, (const int[]){3, 3},
          (const int64_t[][EM_MAX_DIMS]){{1, 2, 2}, {3, 2, 2}});
    axis = -2;
    check(__LINE__, concat_fn, &axis, 2, (const int[]){3, 3},
          (const int64_t[][EM_MAX_DIMS]){{2, 1, 2}, {2, 3, 2}});
}
END_TEST

START_TEST(grad_stack)
{
    int axis = 1;
    check(__LINE__, stack_fn, &axis, 3, (const int[]){2, 2, 2},
          (const int64_t[][EM_MAX_DIMS]){{2, 3}, {2, 3}, {2, 3}});
    axis = -1;
    check(__LINE__, stack_fn, &axis, 2, (const int[]){1, 1},
          (const int64_t[][EM_MAX_DIMS]){{4}, {4}});
}
END_TEST

/* ---- slice -------------------------------------------------------------- */

typedef struct slicing {
    int64_t start[EM_MAX_DIMS], stop[EM_MAX_DIMS], step[EM_MAX_DIMS];
} slicing;

static em_tensor *slice_fn(int n, em_tensor *const *x, void *user)
{
    const slicing *s = user;
    return weighted_sum(em_slice(x[0], s->start, s->stop, s->step));
}

START_TEST(grad_slice_unit_steps)
{
    slicing a = {{1, 0}, {3, 2}, {1, 1}};
    CHECK1(slice_fn, &a, 2, 4, 3);
    slicing whole = {{0, 0}, {INT64_MAX, INT64_MAX}, {1, 1}};
    CHECK1(slice_fn, &whole, 2, 4, 3);
    slicing clamped = {{-100}, {2}, {1}};
    CHECK1(slice_fn, &clamped, 1, 5);
}
END_TEST

START_TEST(grad_slice_step_two)
{
    slicing a = {{0, 1}, {INT64_MAX, INT64_MAX}, {2, 2}};
    CHECK1(slice_fn, &a, 2, 5, 6);
    /* Spacing that ends exactly at the axis end. */
    slicing b = {{1}, {INT64_MAX}, {3}};
    CHECK1(slice_fn, &b, 1, 7);
}
END_TEST

START_TEST(grad_slice_negative_steps)
{
    slicing rev = {{-1}, {INT64_MIN}, {-1}};
    CHECK1(slice_fn, &rev, 1, 5);
    slicing a = {{3, 4}, {INT64_MIN, 0}, {-2, -3}};
    CHECK1(slice_fn, &a, 2, 5, 6);
    slicing b = {{0, -1, 1}, {INT64_MAX, INT64_MIN, 4}, {1, -2, 2}};
    CHECK1(slice_fn, &b, 3, 2, 5, 4);
}
END_TEST

START_TEST(grad_slice_places_ones_where_entries_were_read)
{
    em_scope_begin();
    em_tensor *x = em_zeros(EM_FLOAT32, 1, (int64_t[]){8});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    /* x[6:0:-3] reads entries 6 and 3. */
    em_tensor *y =
        em_sum(em_slice(x, (int64_t[]){6}, (int64_t[]){0}, (int64_t[]){-3}), 0,
               NULL, false);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_shape(g, 1, 8);
    ck_assert_int_eq(em_tensor_dtype(g), EM_FLOAT32);
    assert_values(g, ((double[]){0, 0, 0, 1, 0, 0, 1, 0}), 8, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(grad_slice_of_nothing_is_zero)
{
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT64, 2, (int64_t[]){2, 3});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y =
        em_sum(em_slice(x, (int64_t[]){0, 2}, (int64_t[]){2, 1}, NULL), 0, NULL,
               false);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    assert_values(g, ((double[]){0, 0, 0, 0, 0, 0}), 6, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

/* ---- gather --------------------------------------------------------------*/

static em_tensor *gather_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_gather(x[0], x[1], *(const int *)user));
}

START_TEST(grad_gather)
{
    em_scope_begin();
    /* Repeated and negative indices. */
    em_tensor *idx =
        test_i64(2, (int64_t[]){3, 2}, (int64_t[]){0, -1, 3, 0, 1, 1});
    int axes[] = {1, 0, -1};
    const int64_t shapes[][2] = {{3, 4}, {4, 2}, {2, 4}};
    for (int k = 0; k < 3; k++) {
        em_tensor *x = test_random(5, EM_FLOAT64, 2, shapes[k], -1, 1);
        double err = em_gradient_check(gather_fn, &axes[k], 2,
                                       (em_tensor *[]){x, idx}, EPS);
        ck_assert_msg(err >= 0 && err < TOL, "axis %d: error %g (%s)", axes[k],
                      err, err < 0 ? em_error_last() : "");
    }
    em_scope_end();
}
END_TEST

START_TEST(grad_gather_adds_up_repeated_indices)
{
    em_scope_begin();
    em_tensor *x = em_zeros(EM_FLOAT32, 1, (int64_t[]){4});
    em_tensor *idx = em_tensor_from_data((int32_t[]){1, 1, -1, 0}, EM_INT32, 1,
                                         (int64_t[]){4});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tape_watch(tape, idx);
    em_tensor *y = em_sum(em_gather(x, idx, 0), 0, NULL, false);
    em_tensor *g[2];
    ck_assert_int_eq(em_tape_gradient(tape, y, 2, (em_tensor *[]){x, idx}, g),
                     0);
    assert_values(g[0], ((double[]){1, 2, 0, 1}), 4, 0, 0);
    ck_assert_ptr_null(g[1]);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

/* ---- cast, copy, stop_gradient, one_hot ---------------------------------*/

static em_tensor *cast_fn(int n, em_tensor *const *x, void *user)
{
    em_tensor *f = em_cast(x[0], EM_FLOAT32);
    return weighted_sum(em_cast(em_mul_scalar(f, 3), EM_FLOAT64));
}

static em_tensor *copy_fn(int n, em_tensor *const *x, void *user)
{
    return weighted_sum(em_copy(x[0]));
}

START_TEST(grad_cast_between_floats_and_copy)
{
    /* float32 rounding of x +- EPS costs ~1e-5 of accuracy. */
    em_scope_begin();
    em_tensor *x = test_random(3, EM_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1);
    double err = em_gradient_check(cast_fn, NULL, 1, &x, EPS);
    ck_assert_msg(err >= 0 && err < 1e-4, "cast: error %g", err);
    em_scope_end();
    CHECK1(copy_fn, NULL, 2, 2, 3);
}
END_TEST

START_TEST(grad_cast_keeps_the_source_dtype)
{
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x);
    em_tensor *y = em_sum(em_cast(x, EM_FLOAT64), 0, NULL, false);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &x, &g), 0);
    ck_assert_int_eq(em_tensor_dtype(g), EM_FLOAT32);
    assert_values(g, ((double[]){1, 1, 1}), 3, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(no_gradient_reaches_integer_inputs)
{
    em_scope_begin();
    em_tensor *i = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 2});
    em_tape *tape = em_tape_begin(true);
    em_tape_watch(tape, i);
    em_tensor *y = em_sum(em_cast(i, EM_FLOAT32), 0, NULL, false);
    em_tensor *h = em_sum(em_one_hot(i, 3, EM_FLOAT32), 0, NULL, false);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, y, 1, &i, &g), 0);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(em_tape_gradient(tape, h, 1, &i, &g), 0);
    ck_assert_ptr_null(g);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

START_TEST(stop_gradient_blocks_only_its_own_path)
{
    em_scope_begin();
    em_tensor *x = em_ones(EM_FLOAT64, 1, (int64_t[]){3});
    em_tape *tape = em_tape_begin(true);
    em_tape_watch(tape, x);
    em_tensor *cut = em_sum(em_stop_gradient(x), 0, NULL, false);
    em_tensor *both = em_sum(em_add(x, em_stop_gradient(x)), 0, NULL, false);
    em_tensor *g;
    ck_assert_int_eq(em_tape_gradient(tape, cut, 1, &x, &g), 0);
    ck_assert_ptr_null(g);
    ck_assert_int_eq(em_tape_gradient(tape, both, 1, &x, &g), 0);
    assert_values(g, ((double[]){1, 1, 1}), 3, 0, 0);
    em_tape_free(tape);
    em_scope_end();
}
END_TEST

/* ---- second derivatives through the rules --------------------------------*/

typedef struct inner_op {
    em_tensor *(*op)(em_tensor *x, void *user);
    void *user;
} inner_op;

/* sum(w * d/dx sum(op(x)^3)): its gradient needs the rule of op to be
 * differentiable itself. */
static em_tensor *gradient_fn(int n, em_tensor *const *x, void *user)
{
    const inner_op *inner = user;
    em_tape *tape = em_tape_begin(false);
    em_tape_watch(tape, x[0]);
    em_tensor *y = inner->op(x[0], inner->user);
    em_tensor *cube = em_sum(em_mul(em_mul(y, y), y), 0, NULL, false);
    em_tensor *g = NULL;
    int rc = cube ? em_tape_gradient(tape, cube, 1, x, &g) : -1;
    em_tape_free(tape);
    return rc == 0 ? weighted_sum(g) : NULL;
}

static em_tensor *slice_op(em_tensor *x, void *user)
{
    const slicing *s = user;
    return em_slice(x, s->start, s->stop, s->step);
}

static em_tensor *gather_op(em_tensor *x, void *user)
{
    return em_gather(x, user, 1);
}

static em_tensor *concat_op(em_tensor *x, void *user)
{
    return em_concat(2, (em_tensor *[]){x, em_transpose(x)}, 0);
}

static em_tensor *broadcast_op(em_tensor *x, void *user)
{
    return em_broadcast_to(x, 3, (int64_t[]){2, 3, 3});
}

START_TEST(gradients_of_the_rules_are_differentiable)
{
    slicing s = {{3, 0}, {INT64_MIN, INT64_MAX}, {-2, 2}};
    inner_op sliced = {slice_op, &s};
    CHECK1(gradient_fn, &sliced, 2, 5, 3);
    em_tensor *idx = test_i64(1, (int64_t[]){3}, (int64_t[]){2, -3, 2});
    inner_op gathered = {gather_op, idx};
    CHECK1(gradient_fn, &gathered, 2, 2, 3);
    inner_op joined = {concat_op, NULL};
    CHECK1(gradient_fn, &joined, 2, 3, 3);
    inner_op spread = {broadcast_op, NULL};
    CHECK1(gradient_fn, &spread, 2, 3, 1);
    em_tensor_free(idx);
}
END_TEST

/* ---- em__grad_unbroadcast ------------------------------------------------*/

START_TEST(unbroadcast_sums_added_and_stretched_axes)
{
    em_scope_begin();
    em_tensor *g = test_random(9, EM_FLOAT64, 3, (int64_t[]){2, 3, 4}, -1, 1);
    em_tensor *like = em_zeros(EM_FLOAT64, 2, (int64_t[]){3, 1});
    em_tensor *r = em__grad_unbroadcast(g, like);
    assert_shape(r, 2, 3, 1);
    double gv[24], expected[3] = {0};
    em_tensor_copy_to(g, gv, EM_FLOAT64, sizeof gv);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                expected[b] += gv[(a * 3 + b) * 4 + c];
    assert_values(r, expected, 3, 1e-12, 0);
    em_scope_end();
}
END_TEST

START_TEST(unbroadcast_same_shape_returns_g_itself)
{
    em_scope_begin();
    em_tensor *g = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_eq(em__grad_unbroadcast(g, g), g);
    /* Extra leading unit axes on like need no sum. */
    em_tensor *like = em_zeros(EM_FLOAT32, 3, (int64_t[]){1, 2, 3});
    em_tensor *r = em__grad_unbroadcast(g, like);
    assert_shape(r, 3, 1, 2, 3);
    em_tensor *s = em_scalar(0, EM_FLOAT32);
    em_tensor *t = em__grad_unbroadcast(g, s);
    ck_assert_int_eq(em_tensor_ndim(t), 0);
    ck_assert_double_eq(em_tensor_item(t), 6);
    em_scope_end();
}
END_TEST

START_TEST(unbroadcast_refuses_shapes_that_do_not_broadcast)
{
    em_scope_begin();
    em_tensor *g = em_ones(EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *like = em_zeros(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_ptr_null(em__grad_unbroadcast(g, like));
    assert_error("gradient of shape [2,3] does not broadcast from [2]");
    em_tensor *wide = em_zeros(EM_FLOAT32, 3, (int64_t[]){2, 2, 3});
    ck_assert_ptr_null(em__grad_unbroadcast(g, wide));
    assert_error("does not broadcast from [2,2,3]");
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("grad_shape");
    TCase *tc = test_case(s, "shape");
    tcase_add_test(tc, grad_reshape_permute_transpose);
    tcase_add_test(tc, grad_expand_dims_and_squeeze);
    tcase_add_test(tc, grad_broadcast_to);
    tcase_add_test(tc, grad_concat);
    tcase_add_test(tc, grad_stack);
    tc = test_case(s, "slice");
    tcase_add_test(tc, grad_slice_unit_steps);
    tcase_add_test(tc, grad_slice_step_two);
    tcase_add_test(tc, grad_slice_negative_steps);
    tcase_add_test(tc, grad_slice_places_ones_where_entries_were_read);
    tcase_add_test(tc, grad_slice_of_nothing_is_zero);
    tc = test_case(s, "gather");
    tcase_add_test(tc, grad_gather);
    tcase_add_test(tc, grad_gather_adds_up_repeated_indices);
    tc = test_case(s, "convert");
    tcase_add_test(tc, grad_cast_between_floats_and_copy);
    tcase_add_test(tc, grad_cast_keeps_the_source_dtype);
    tcase_add_test(tc, no_gradient_reaches_integer_inputs);
    tcase_add_test(tc, stop_gradient_blocks_only_its_own_path);
    tc = test_case(s, "higher_order");
    tcase_add_test(tc, gradients_of_the_rules_are_differentiable);
    tc = test_case(s, "unbroadcast");
    tcase_add_test(tc, unbroadcast_sums_added_and_stretched_axes);
    tcase_add_test(tc, unbroadcast_same_shape_returns_g_itself);
    tcase_add_test(tc, unbroadcast_refuses_shapes_that_do_not_broadcast);
    return test_run(s);
}
