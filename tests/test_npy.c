/* NumPy .npy files: round trips per dtype, the exact bytes of a header as
 * NumPy writes it, and refusals of what ember does not read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

static char path[64];

static void make_path(void)
{
    snprintf(path, sizeof path, "/tmp/ember-npy-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void write_bytes(const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* A version 1.0 file with the given header dict and data. */
static void write_npy(const char *dict, const void *data, size_t nbytes)
{
    size_t len = strlen(dict);
    size_t total = (10 + len + 1 + 63) / 64 * 64;
    unsigned char *buf = calloc(1, total + nbytes + 1);
    memcpy(buf, (const unsigned char[]){0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0},
           8);
    buf[8] = (unsigned char)((total - 10) & 0xff);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memcpy(buf + 10, dict, len); /* NOLINT(bugprone-not-null-terminated-result):
                                    no NUL in the file */
    memset(buf + 10 + len, ' ', total - 10 - len - 1);
    buf[total - 1] = '\n';
    if (nbytes)
        memcpy(buf + total, data, nbytes);
    write_bytes(buf, total + nbytes);
    free(buf);
}

START_TEST(every_dtype_round_trips)
{
    em_scope_begin();
    make_path();
    for (int d = 0; d < EM_DTYPE_COUNT; d++) {
        em_scope_begin();
        em_tensor *t = em_cast(
            test_random(3, EM_FLOAT64, 3, (int64_t[]){2, 3, 4}, -50, 50),
            (em_dtype)d);
        if (d == EM_UINT8)
            t = em_cast(em_abs(em_cast(t, EM_INT32)), EM_UINT8);
        ck_assert_int_eq(em_npy_save(path, t), 0);
        em_tensor *back = em_npy_load(path);
        ck_assert_msg(back != NULL, "%s", em_error_last());
        ck_assert_int_eq(em_tensor_dtype(back), d);
        assert_shape(back, 3, 2, 3, 4);
        ck_assert_mem_eq(em_tensor_data(back), em_tensor_data(t),
                         em_tensor_nbytes(t));
        em_scope_end();
    }
    unlink(path);
    em_scope_end();
}
END_TEST

START_TEST(scalars_vectors_and_empty_arrays_round_trip)
{
    em_scope_begin();
    make_path();
    em_tensor *s = em_scalar(2.5, EM_FLOAT64);
    ck_assert_int_eq(em_npy_save(path, s), 0);
    em_tensor *back = em_npy_load(path);
    ck_assert_int_eq(em_tensor_ndim(back), 0);
    ck_assert_double_eq(test_at(back, 0), 2.5);
    em_tensor *v = test_i64(1, (int64_t[]){3}, (int64_t[]){-1, 0, 1LL << 40});
    ck_assert_int_eq(em_npy_save(path, v), 0);
    back = em_npy_load(path);
    assert_shape(back, 1, 3);
    ck_assert_int_eq((int64_t)test_at(back, 2), 1LL << 40);
    em_tensor *e = em_zeros(EM_FLOAT32, 2, (int64_t[]){0, 5});
    ck_assert_int_eq(em_npy_save(path, e), 0);
    back = em_npy_load(path);
    assert_shape(back, 2, 0, 5);
    unlink(path);
    em_scope_end();
}
END_TEST

START_TEST(header_is_what_numpy_writes)
{
    em_scope_begin();
    make_path();
    em_tensor *v = test_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
    ck_assert_int_eq(em_npy_save(path, v), 0);
    FILE *f = fopen(path, "rb");
    unsigned char buf[128 + 24];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ck_assert_uint_eq(n, 128 + 24);
    ck_assert_mem_eq(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, "
                       "'shape': (2, 3), }";
    ck_assert_mem_eq(buf + 10, dict, strlen(dict));
    ck_assert_int_eq(buf[127], '\n');
    float first;
    memcpy(&first, buf + 128, 4);
    ck_assert_float_eq(first, 1.0f);
    unlink(path);
    em_scope_end();
}
END_TEST

START_TEST(numpy_style_one_dim_header_loads)
{
    em_scope_begin();
    make_path();
    const double data[2] = {1.5, -3};
    write_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data,
              sizeof data);
    em_tensor *t = em_npy_load(path);
    ck_assert_msg(t != NULL, "%s", em_error_last());
    assert_values(t, data, 2, 0, 0);
    unlink(path);
    em_scope_end();
}
END_TEST

START_TEST(unsupported_files_are_refused)
{
    em_scope_begin();
    make_path();
    const float data[4] = {1, 2, 3, 4};
    write_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
              data, sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", path, "Fortran");
    write_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", data,
              sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "'>f4'", "not supported");
    write_npy("{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }", data,
              sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "'<f2'");
    write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", data,
              sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "16 bytes", "needs 20");
    write_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data,
              sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "16 bytes", "needs 8");
    write_npy("{'descr': [('a', '<f4')], 'fortran_order': False, "
              "'shape': (4,), }",
              data, sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "descr");
    write_npy("{'descr': '<f4', 'shape': (4,), }", data, sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "lacks");
    write_npy("{'descr': '<f4', 'fortran_order': False, "
              "'shape': (1,1,1,1,1,1,1,1,4), }",
              data, sizeof data);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "shape");
    const unsigned char bools[2] = {1, 7};
    write_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
              bools, sizeof bools);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "bool");
    unlink(path);
    em_scope_end();
}
END_TEST

START_TEST(bad_magic_version_and_truncation_are_refused)
{
    em_scope_begin();
    make_path();
    write_bytes("NOTNUMPY\x01\x00", 10);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "magic");
    write_bytes("\x93NUMPY\x02\x00\x00\x00\x00\x00", 12);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "version 2.0");
    write_bytes("\x93NUMPY\x01\x00\x76\x00{'descr'", 17);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "truncated");
    write_bytes("\x93NU", 3);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "magic");
    unlink(path);
    ck_assert_ptr_null(em_npy_load(path));
    assert_error("npy_load", "cannot open");
    ck_assert_ptr_null(em_npy_load(NULL));
    assert_error("npy_load");
    ck_assert_int_eq(em_npy_save(NULL, NULL), -1);
    assert_error("npy_save");
    em_tensor *t = em_scalar(1, EM_FLOAT32);
    ck_assert_int_eq(em_npy_save("/nonexistent/dir/x.npy", t), -1);
    assert_error("npy_save", "/nonexistent/dir/x.npy", "cannot open");
    em_scope_end();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = test_case(s, "round_trip");
    tcase_add_test(tc, every_dtype_round_trips);
    tcase_add_test(tc, scalars_vectors_and_empty_arrays_round_trip);
    tcase_add_test(tc, header_is_what_numpy_writes);
    tcase_add_test(tc, numpy_style_one_dim_header_loads);
    tc = test_case(s, "refusals");
    tcase_add_test(tc, unsupported_files_are_refused);
    tcase_add_test(tc, bad_magic_version_and_truncation_are_refused);
    return test_run(s);
}
