/* Errors and logging: messages name the op, shapes and dtypes; NULL
 * propagates; reading the error clears it; the log honours its level. */
#include <string.h>

#include "testing.h"

START_TEST(shape_error_names_op_shapes_and_dtypes)
{
    em_scope_begin();
    em_tensor *a = em_zeros(EM_FLOAT32, 2, (int64_t[]){128, 784});
    em_tensor *b = em_zeros(EM_FLOAT32, 2, (int64_t[]){256, 10});
    ck_assert_ptr_null(em_matmul(a, b, false, false));
    assert_error("matmul: inner dimensions differ: [128,784] @ [256,10]",
                 "float32[128,784]", "float32[256,10]");
    em_scope_end();
}
END_TEST

START_TEST(null_propagates_and_keeps_the_first_message)
{
    em_scope_begin();
    em_tensor *a = em_zeros(EM_FLOAT32, 1, (int64_t[]){3});
    em_tensor *b = em_zeros(EM_FLOAT32, 1, (int64_t[]){4});
    em_tensor *bad = em_add(a, b);
    ck_assert_ptr_null(bad);
    /* a whole chain after the failure returns NULL ... */
    em_tensor *c = em_sum(em_relu(em_mul(bad, a)), 0, NULL, false);
    ck_assert_ptr_null(c);
    /* ... and the message still describes the first failure */
    assert_error("add", "[3]", "[4]");
    ck_assert_ptr_null(em_error_last());
    em_scope_end();
}
END_TEST

START_TEST(null_input_alone_gets_a_message)
{
    ck_assert_ptr_null(em_exp(NULL));
    assert_error("exp", "NULL");
}
END_TEST

START_TEST(reading_the_error_clears_it)
{
    ck_assert_ptr_null(em_zeros(EM_FLOAT32, -1, NULL));
    ck_assert(em_error_pending());
    ck_assert_ptr_nonnull(em_error_peek());
    ck_assert(em_error_pending());
    ck_assert_ptr_nonnull(em_error_last());
    ck_assert(!em_error_pending());
    ck_assert_ptr_null(em_error_last());
}
END_TEST

START_TEST(bad_axis_is_an_error_not_a_crash)
{
    em_scope_begin();
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){2, 3});
    ck_assert_ptr_null(em_sum(x, 1, (int[]){2}, false));
    assert_error("sum", "axis", "float32[2,3]");
    ck_assert_ptr_null(em_softmax(x, -3));
    assert_error("softmax", "axis");
    em_scope_end();
}
END_TEST

START_TEST(out_of_range_index_is_an_error)
{
    em_scope_begin();
    em_tensor *x = em_zeros(EM_FLOAT32, 2, (int64_t[]){4, 3});
    em_tensor *idx = test_i64(1, (int64_t[]){2}, (int64_t[]){1, 7});
    ck_assert_ptr_null(em_gather(x, idx, 0));
    assert_error("gather", "7");
    ck_assert_ptr_null(em_one_hot(idx, 5, EM_FLOAT32));
    assert_error("one_hot", "7");
    em_scope_end();
}
END_TEST

START_TEST(dtype_error_names_the_dtypes)
{
    em_scope_begin();
    em_tensor *a = em_zeros(EM_INT32, 2, (int64_t[]){2, 2});
    ck_assert_ptr_null(em_matmul(a, a, false, false));
    assert_error("matmul", "int32[2,2]");
    em_tensor *t = em_ones(EM_BOOL, 1, (int64_t[]){2});
    ck_assert_ptr_null(em_add(t, t));
    assert_error("add", "bool");
    em_scope_end();
}
END_TEST

typedef struct captured {
    int count;
    em_log_level level;
    char text[256];
} captured;

static void capture(em_log_level level, const char *message, void *user)
{
    captured *c = user;
    c->count++;
    c->level = level;
    snprintf(c->text, sizeof c->text, "%s", message);
}

START_TEST(log_handler_receives_only_enabled_levels)
{
    captured c = {0};
    em_log_set_handler(capture, &c);
    em_log_set_level(EM_LOG_WARN);
    ck_assert_ptr_null(em_exp(NULL)); /* errors log at debug only */
    em_error_clear();
    ck_assert_int_eq(c.count, 0);
    em_log_set_level(EM_LOG_DEBUG);
    ck_assert_ptr_null(em_exp(NULL));
    em_error_clear();
    ck_assert_int_eq(c.count, 1);
    ck_assert_int_eq(c.level, EM_LOG_DEBUG);
    ck_assert_ptr_nonnull(strstr(c.text, "exp"));
    em_log_set_level(EM_LOG_WARN);
    em_log_set_handler(NULL, NULL);
}
END_TEST

START_TEST(out_of_range_log_level_is_ignored_with_an_error)
{
    em_log_set_level(EM_LOG_INFO);
    em_error_clear();
    em_log_set_level((em_log_level)99);
    assert_error("log_set_level", "99");
    ck_assert_int_eq(em_log_get_level(), EM_LOG_INFO);
    em_log_set_level((em_log_level)-1);
    assert_error("log_set_level", "-1");
    ck_assert_int_eq(em_log_get_level(), EM_LOG_INFO);
    em_log_set_level(EM_LOG_WARN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = test_case(s, "errors");
    tcase_add_test(tc, shape_error_names_op_shapes_and_dtypes);
    tcase_add_test(tc, null_propagates_and_keeps_the_first_message);
    tcase_add_test(tc, null_input_alone_gets_a_message);
    tcase_add_test(tc, reading_the_error_clears_it);
    tcase_add_test(tc, bad_axis_is_an_error_not_a_crash);
    tcase_add_test(tc, out_of_range_index_is_an_error);
    tcase_add_test(tc, dtype_error_names_the_dtypes);
    tcase_add_test(tc, log_handler_receives_only_enabled_levels);
    tcase_add_test(tc, out_of_range_log_level_is_ignored_with_an_error);
    return test_run(s);
}
