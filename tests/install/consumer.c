/*
 * A program outside the ember tree, built against an installed ember (with
 * CMake and with pkg-config, shared and static; see run.sh): the headers
 * compile on their own, the basic tensor API and error reporting work, an
 * elementwise op and a matmul (OpenBLAS) give the right values, and so does
 * a traced function (em_trace_fn, compiled by the JIT when ember has it):
 * tracing reaches every backend, the CUDA kernels' C++ host code included,
 * so a static link that lacks one of their libraries fails here. It
 * prints one line per op; run.sh also requires every build to print the
 * same lines.
 */
#include <ember.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* Spelt out so that the program needs nothing from libm itself. */
static float absf(float x)
{
    return x < 0 ? -x : x;
}

/* Prints one line about an op: its values match `want`, or why not. */
static bool report(const char *name, em_tensor *got, const float *want, int n)
{
    float buf[16];
    if (got == NULL) {
        const char *msg = em_error_last();
        printf("%s: failed (%s)\n", name, msg ? msg : "no message");
        return false;
    }
    if (em_tensor_size(got) != n ||
        em_tensor_copy_to(got, buf, EM_FLOAT32, sizeof(buf)) != 0) {
        printf("%s: wrong size %lld\n", name, (long long)em_tensor_size(got));
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (absf(buf[i] - want[i]) > 1e-5f * (1.0f + absf(want[i]))) {
            printf("%s: wrong value at %d\n", name, i);
            return false;
        }
    }
    printf("%s: ok\n", name);
    return true;
}

/* The traced function: x * x + x. */
static int square_plus(int n_inputs, em_tensor *const *inputs, int max_outputs,
                       em_tensor **outputs, void *user)
{
    (void)n_inputs;
    (void)max_outputs;
    (void)user;
    outputs[0] = em_add(em_mul(inputs[0], inputs[0]), inputs[0]);
    return outputs[0] != NULL ? 1 : -1;
}

int main(void)
{
    const float a_data[6] = {1, 2, 3, 4, 5, 6};
    const int64_t a_shape[2] = {2, 3};
    const float b_data[6] = {1, 0, 0, 1, 1, 1};
    const int64_t b_shape[2] = {3, 2};
    float back[6];

    printf("ember %s\n", EMBER_VERSION);
    CHECK(strcmp(em_dtype_name(EM_FLOAT32), "float32") == 0);
    CHECK(em_dtype_size(EM_FLOAT64) == 8);

    em_scope_begin();
    CHECK(em_scope_depth() == 1);
    em_tensor *a = em_tensor_from_data(a_data, EM_FLOAT32, 2, a_shape);
    em_tensor *b = em_tensor_from_data(b_data, EM_FLOAT32, 2, b_shape);
    CHECK(a != NULL && b != NULL);
    CHECK(em_tensor_dtype(a) == EM_FLOAT32);
    CHECK(em_tensor_ndim(a) == 2 && em_tensor_dim(a, -1) == 3);
    CHECK(em_tensor_size(a) == 6 && em_tensor_nbytes(a) == sizeof(a_data));
    CHECK(em_tensor_copy_to(a, back, EM_FLOAT32, sizeof(back)) == 0);
    for (int i = 0; i < 6; i++)
        CHECK(back[i] == a_data[i]);

    /* A user mistake: NULL and a message, never an abort. */
    const int64_t bad_shape[1] = {-1};
    CHECK(em_tensor_from_data(a_data, EM_FLOAT32, 1, bad_shape) == NULL);
    const char *msg = em_error_last();
    CHECK(msg != NULL && msg[0] != '\0');
    CHECK(!em_error_pending());

    /* [2,3] + [2,3]; [2,3] @ [3,2] -> [2,2] (OpenBLAS when linked). */
    float sum_want[6], mm_want[4];
    for (int i = 0; i < 6; i++)
        sum_want[i] = a_data[i] + a_data[i];
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++) {
            mm_want[i * 2 + j] = 0;
            for (int k = 0; k < 3; k++)
                mm_want[i * 2 + j] += a_data[i * 3 + k] * b_data[k * 2 + j];
        }
    }
    CHECK(report("add", em_add(a, a), sum_want, 6));
    CHECK(report("matmul", em_matmul(a, b, false, false), mm_want, 4));

    /* Traced once, called once, compiled before the call returns. */
    const float traced_want[6] = {2, 6, 12, 20, 30, 42};
    em_trace_options options = {.name = "square_plus", .jit = EM_JIT_SYNC};
    em_function *f = em_trace_fn(square_plus, NULL, &options);
    em_tensor *traced = NULL;
    CHECK(f != NULL && em_function_call(f, 1, &a, 1, &traced) == 1);
    CHECK(report("traced", traced, traced_want, 6));
    em_function_free(f);
    em_scope_end();

    CHECK(em_scope_depth() == 0);
    CHECK(em_memory_get_stats().live_tensors == 0);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
