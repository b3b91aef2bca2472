/*
 * tests/testing.h - helpers shared by the Check suites: building small
 * tensors, comparing against independently computed values, and running a
 * suite as a ctest executable.
 */
#ifndef EMBER_TESTING_H
#define EMBER_TESTING_H

#include <check.h>
#include <math.h>

#include "ember.h"

/* Builds a float32 / float64 / int64 tensor from a literal list:
 *   em_tensor *x = test_f32(2, (int64_t[]){2, 3}, (float[]){1, 2, 3, 4, 5, 6});
 */
em_tensor *test_f32(int ndim, const int64_t *shape, const float *values);
em_tensor *test_f64(int ndim, const int64_t *shape, const double *values);
em_tensor *test_i64(int ndim, const int64_t *shape, const int64_t *values);

/* n uniform values in [low, high) from a fixed seed (malloc'd; free them). */
double *test_random_values(uint64_t seed, int64_t n, double low, double high);

/* Uniform random tensor in [low, high) from a fixed seed. */
em_tensor *test_random(uint64_t seed, em_dtype dtype, int ndim,
                       const int64_t *shape, double low, double high);

/* A whole file's bytes (malloc'd; free them) and size; fails the test when
 * the file cannot be read. */
unsigned char *test_read_file(const char *path, size_t *size);
/* Writes size bytes to path, failing the test on error. */
void test_write_file(const char *path, const unsigned char *bytes, size_t size);

/* Element i of t as a double. */
double test_at(const em_tensor *t, int64_t i);

/* Fails the test unless t has `size` elements, each within
 * atol + rtol * |expected| of expected[i]. */
#define assert_values(t, expected, size, atol, rtol)                           \
    test_assert_values(__FILE__, __LINE__, (t), (expected), (size), (atol),    \
                       (rtol))
void test_assert_values(const char *file, int line, const em_tensor *t,
                        const double *expected, int64_t size, double atol,
                        double rtol);

/* Fails unless t has exactly this shape. */
#define assert_shape(t, ndim, ...)                                             \
    test_assert_shape(__FILE__, __LINE__, (t), (ndim),                         \
                      (const int64_t[]){__VA_ARGS__})
void test_assert_shape(const char *file, int line, const em_tensor *t, int ndim,
                       const int64_t *shape);

/* Fails unless an error is pending whose text contains every given
 * fragment (NULL-terminated list); clears it. */
#define assert_error(...)                                                      \
    test_assert_error(__FILE__, __LINE__, (const char *[]){__VA_ARGS__, NULL})
void test_assert_error(const char *file, int line, const char **fragments);

/* Runs the suite (fork mode unless CK_FORK=no) and returns the process exit
 * status for ctest. */
int test_run(Suite *suite);

/* Adds a test case holding the given tests, with a generous timeout for
 * sanitizer builds. */
TCase *test_case(Suite *suite, const char *name);

#endif
