#include "testing.h"

#include <stdlib.h>
#include <string.h>

em_tensor *test_f32(int ndim, const int64_t *shape, const float *values)
{
    return em_tensor_from_data(values, EM_FLOAT32, ndim, shape);
}

em_tensor *test_f64(int ndim, const int64_t *shape, const double *values)
{
    return em_tensor_from_data(values, EM_FLOAT64, ndim, shape);
}

em_tensor *test_i64(int ndim, const int64_t *shape, const int64_t *values)
{
    return em_tensor_from_data(values, EM_INT64, ndim, shape);
}

double *test_random_values(uint64_t seed, int64_t n, double low, double high)
{
    /* A local xorshift generator, independent of the library's, so that
     * tests do not depend on the code they check. */
    double *values = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values[i] =
            low + (high - low) * (double)(state >> 11) / 9007199254740992.0;
    }
    return values;
}

em_tensor *test_random(uint64_t seed, em_dtype dtype, int ndim,
                       const int64_t *shape, double low, double high)
{
    int64_t size = 1;
    for (int i = 0; i < ndim; i++)
        size *= shape[i];
    double *values = test_random_values(seed, size, low, high);
    em_tensor *t64 = em_tensor_from_data(values, EM_FLOAT64, ndim, shape);
    free(values);
    if (dtype == EM_FLOAT64)
        return t64;
    em_tensor *t = em_cast(t64, dtype);
    em_tensor_free(t64);
    return t;
}

unsigned char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bytes = malloc(*size + 1);
    ck_assert_uint_eq(fread(bytes, 1, *size, f), *size);
    fclose(f);
    return bytes;
}

void test_write_file(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(bytes, 1, size, f), size);
    fclose(f);
}

double test_at(const em_tensor *t, int64_t i)
{
    double *all = malloc(sizeof(double) * (size_t)em_tensor_size(t));
    em_tensor_copy_to(t, all, EM_FLOAT64,
                      sizeof(double) * (size_t)em_tensor_size(t));
    double v = all[i];
    free(all);
    return v;
}

void test_assert_values(const char *file, int line, const em_tensor *t,
                        const double *expected, int64_t size, double atol,
                        double rtol)
{
    if (!t) {
        const char *e = em_error_last();
        ck_abort_msg("%s:%d: tensor is NULL (%s)", file, line, e ? e : "");
    }
    ck_assert_msg(em_tensor_size(t) == size,
                  "%s:%d: %lld elements, expected %lld", file, line,
                  (long long)em_tensor_size(t), (long long)size);
    double *got = malloc(sizeof(double) * (size_t)(size ? size : 1));
    em_tensor_copy_to(t, got, EM_FLOAT64, sizeof(double) * (size_t)size);
    for (int64_t i = 0; i < size; i++) {
        double e = expected[i], g = got[i];
        bool ok = (isnan(e) && isnan(g)) || (isinf(e) && e == g) ||
                  fabs(g - e) <= atol + rtol * fabs(e);
        if (!ok) {
            free(got);
            ck_abort_msg("%s:%d: element %lld is %.9g, expected %.9g", file,
                         line, (long long)i, g, e);
        }
    }
    free(got);
}

void test_assert_shape(const char *file, int line, const em_tensor *t, int ndim,
                       const int64_t *shape)
{
    if (!t) {
        const char *e = em_error_last();
        ck_abort_msg("%s:%d: tensor is NULL (%s)", file, line, e ? e : "");
    }
    char got[200], want[200];
    em_shape_format(em_tensor_ndim(t), em_tensor_shape(t), got, sizeof got);
    em_shape_format(ndim, shape, want, sizeof want);
    ck_assert_msg(strcmp(got, want) == 0, "%s:%d: shape %s, expected %s", file,
                  line, got, want);
}

void test_assert_error(const char *file, int line, const char **fragments)
{
    const char *e = em_error_last();
    ck_assert_msg(e != NULL, "%s:%d: expected an error, none recorded", file,
                  line);
    for (const char **f = fragments; *f; f++)
        ck_assert_msg(strstr(e, *f) != NULL, "%s:%d: error \"%s\" lacks \"%s\"",
                      file, line, e, *f);
}

TCase *test_case(Suite *suite, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 600);
    suite_add_tcase(suite, tc);
    return tc;
}

int test_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
