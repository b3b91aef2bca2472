/*
 * Devices on any machine: names, parsing, where CPU tensors live, and the
 * errors for a GPU that is not there (built without CUDA or no device).
 */
#include "testing.h"

START_TEST(device_names_round_trip)
{
    char buf[32];
    em_device d = -1;
    ck_assert_str_eq(em_device_name(EM_CPU, buf, sizeof buf), "cpu");
    ck_assert_str_eq(em_device_name(EM_CUDA(3), buf, sizeof buf), "cuda:3");
    ck_assert_int_eq(em_device_parse("cuda", &d), 0);
    ck_assert_int_eq(d, EM_CUDA(0));
    ck_assert_int_eq(em_device_parse("cuda:2", &d), 0);
    ck_assert_int_eq(d, EM_CUDA(2));
    ck_assert_int_eq(em_device_parse("cpu", &d), 0);
    ck_assert_int_eq(d, EM_CPU);
}
END_TEST

START_TEST(device_parse_refuses_other_text)
{
    em_device d;
    ck_assert_int_eq(em_device_parse("gpu0", &d), -1);
    assert_error("device_parse", "gpu0");
    ck_assert_int_eq(em_device_parse("cuda:", &d), -1);
    ck_assert_int_eq(em_device_parse("cuda:x", &d), -1);
}
END_TEST

START_TEST(cpu_tensors_live_on_the_cpu)
{
    em_tensor *t = em_zeros(EM_FLOAT32, 1, (int64_t[]){3});
    ck_assert_int_eq(em_tensor_device(t), EM_CPU);
    ck_assert_int_eq(em_tensor_device(NULL), EM_DEVICE_INVALID);
    em_tensor *same = em_tensor_to(t, EM_CPU);
    ck_assert_int_eq(em_tensor_device(same), EM_CPU);
    ck_assert_ptr_eq(em_tensor_data(same), em_tensor_data(t));
    em_tensor_free(same);
    em_tensor_free(t);
}
END_TEST

START_TEST(missing_gpu_is_a_clear_error)
{
    if (em_cuda_available())
        return;
    ck_assert_int_eq(em_cuda_device_count(), 0);
    em_tensor *t = em_ones(EM_FLOAT32, 1, (int64_t[]){2});
    ck_assert_ptr_null(em_tensor_to(t, EM_CUDA(0)));
    assert_error("tensor_to", "cuda:0", "not available");
    ck_assert_int_eq(em_set_default_device(EM_CUDA(0)), -1);
    assert_error("set_default_device", "cuda:0");
    ck_assert_int_eq(em_get_default_device(), EM_CPU);
    ck_assert_int_eq(em_cuda_synchronize(), 0);
    em_tensor_free(t);
}
END_TEST

START_TEST(tensor_to_null_returns_null)
{
    ck_assert_ptr_null(em_tensor_to(NULL, EM_CPU));
    assert_error("tensor_to");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device");
    TCase *tc = test_case(s, "device");
    tcase_add_test(tc, device_names_round_trip);
    tcase_add_test(tc, device_parse_refuses_other_text);
    tcase_add_test(tc, cpu_tensors_live_on_the_cpu);
    tcase_add_test(tc, missing_gpu_is_a_clear_error);
    tcase_add_test(tc, tensor_to_null_returns_null);
    return test_run(s);
}
