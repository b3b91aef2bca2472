/* Ahead-of-time export: the object file, linked into a shared library by
 * the system's C compiler and loaded with dlopen, computes what eager mode
 * computes (generated matrix loops and vectorised maths: float32 within a
 * few ulp of the eager result); graphs that need ember at run time are
 * refused with the op's name. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testing.h"

static char folder[256];

static void make_folder(void)
{
    snprintf(folder, sizeof folder, "/tmp/ember-export-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(folder));
}

/* Builds folder/NAME.so from folder/NAME.o and loads `symbol` from it;
 * skips (NULL) when no C compiler is installed. */
static void *load(const char *name, const char *symbol, void **library)
{
    char command[1024];
    snprintf(command, sizeof command, "cc -shared -o %s/%s.so %s/%s.o -lm 2>&1",
             folder, name, folder, name);
    ck_assert_msg(system(command) == 0, "linking %s.o failed", name);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.so", folder, name);
    *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    ck_assert_msg(*library != NULL, "dlopen: %s", dlerror());
    void *fn = dlsym(*library, symbol);
    ck_assert_msg(fn != NULL, "dlsym %s: %s", symbol, dlerror());
    return fn;
}

static int export_fn(em_function *f, int n, em_tensor *const *in,
                     const char *name)
{
    char object[512], header[512];
    snprintf(object, sizeof object, "%s/%s.o", folder, name);
    snprintf(header, sizeof header, "%s/%s.h", folder, name);
    em_concrete *c = em_function_concrete(f, n, in);
    ck_assert_ptr_nonnull(c);
    em_export_options options = {.symbol = name};
    return em_concrete_export(c, object, header, &options);
}

/* A two-layer perceptron's logits, its weights held in variables. */
typedef struct mlp {
    em_tensor *w1, *b1, *w2, *b2;
} mlp;

static int mlp_logits(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    (void)n, (void)max;
    mlp *m = user;
    em_tensor *h =
        em_relu(em_add(em_matmul(in[0], m->w1, false, false), m->b1));
    out[0] = em_add(em_matmul(h, m->w2, false, false), m->b2);
    out[1] = em_tanh(em_sum(h, 1, (const int[]){1}, false));
    return 2;
}

START_TEST(exported_mlp_matches_eager)
{
    make_folder();
    em_scope_begin();
    mlp m = {
        em_variable_new(
            "w1", test_random(1, EM_FLOAT32, 2, (int64_t[]){13, 37}, -1, 1),
            true),
        em_variable_new(
            "b1", test_random(2, EM_FLOAT32, 1, (int64_t[]){37}, -1, 1), true),
        em_variable_new(
            "w2", test_random(3, EM_FLOAT32, 2, (int64_t[]){37, 5}, -1, 1),
            true),
        em_variable_new(
            "b2", test_random(4, EM_FLOAT32, 1, (int64_t[]){5}, -1, 1), true),
    };
    em_tensor *x = test_random(5, EM_FLOAT32, 2, (int64_t[]){9, 13}, -2, 2);
    em_function *f = em_trace_fn(mlp_logits, &m, NULL);
    ck_assert_int_eq(export_fn(f, 1, &x, "mlp"), 0);

    void *library;
    int (*fn)(void *, const float *, float *, float *) =
        (int (*)(void *, const float *, float *, float *))load("mlp", "mlp",
                                                               &library);
    void *workspace = aligned_alloc(64, 1 << 16);
    float logits[9 * 5], tanh_sums[9];
    ck_assert_int_eq(fn(workspace, em_tensor_data(x), logits, tanh_sums), 0);

    em_tensor *want[2];
    ck_assert_int_eq(mlp_logits(1, &x, 2, want, &m), 2);
    const float *w0 = em_tensor_data(want[0]), *w1 = em_tensor_data(want[1]);
    for (int i = 0; i < 9 * 5; i++)
        ck_assert_msg(fabsf(logits[i] - w0[i]) <= 1e-5f * (1 + fabsf(w0[i])),
                      "logit %d: exported %g, eager %g", i, logits[i], w0[i]);
    for (int i = 0; i < 9; i++)
        ck_assert_msg(fabsf(tanh_sums[i] - w1[i]) <= 2e-6f,
                      "tanh sum %d: exported %g, eager %g", i, tanh_sums[i],
                      w1[i]);

    /* The header declares the function and the sizes. */
    char path[512];
    snprintf(path, sizeof path, "%s/mlp.h", folder);
    size_t size;
    char *text = (char *)test_read_file(path, &size);
    ck_assert_ptr_nonnull(strstr(text, "int mlp(void *workspace"));
    ck_assert_ptr_nonnull(strstr(text, "#define MLP_INPUT0_SIZE 117"));
    ck_assert_ptr_nonnull(strstr(text, "#define MLP_OUTPUT0_SIZE 45"));
    free(text);
    free(workspace);
    dlclose(library);
    em_function_free(f);
    for (int i = 0; i < 4; i++)
        em_tensor_free((&m.w1)[i]);
    em_scope_end();
}
END_TEST

static int identity_and_weights(int n, em_tensor *const *in, int max,
                                em_tensor **out, void *user)
{
    (void)n, (void)max;
    out[0] = in[0];
    out[1] = user;
    out[2] = em_reshape(in[0], 1, (const int64_t[]){-1});
    return 3;
}

START_TEST(outputs_that_are_inputs_or_weights_are_copied)
{
    make_folder();
    em_scope_begin();
    em_tensor *w = em_variable_new(
        "w", test_f64(1, (int64_t[]){3}, (double[]){1, 2, 3}), false);
    em_tensor *x = test_f32(2, (int64_t[]){2, 2}, (float[]){4, 5, 6, 7});
    em_function *f = em_trace_fn(identity_and_weights, w, NULL);
    ck_assert_int_eq(export_fn(f, 1, &x, "copies"), 0);
    void *library;
    int (*fn)(void *, const float *, float *, double *, float *) =
        (int (*)(void *, const float *, float *, double *, float *))load(
            "copies", "copies", &library);
    float a[4], c[4];
    double b[3];
    void *workspace = aligned_alloc(64, 64);
    ck_assert_int_eq(fn(workspace, em_tensor_data(x), a, b, c), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(a[i], (float)(4 + i));
        ck_assert_float_eq(c[i], (float)(4 + i));
    }
    for (int i = 0; i < 3; i++)
        ck_assert_double_eq(b[i], i + 1);
    free(workspace);
    dlclose(library);
    em_function_free(f);
    em_tensor_free(w);
    em_scope_end();
}
END_TEST

static int gather_body(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    (void)n, (void)max, (void)user;
    out[0] = em_softmax(in[0], -1);
    return 1;
}

START_TEST(graphs_needing_kernels_are_refused)
{
    make_folder();
    em_scope_begin();
    em_tensor *x = test_random(7, EM_FLOAT32, 2, (int64_t[]){2, 3}, -1, 1);
    em_function *f = em_trace_fn(gather_body, NULL, NULL);
    ck_assert_int_eq(export_fn(f, 1, &x, "soft"), -1);
    assert_error("cannot be exported", "softmax");
    em_function_free(f);
    em_scope_end();
}
END_TEST

static int step_body(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    (void)n, (void)max;
    if (em_variable_assign_add(user, in[0]) != 0)
        return -1;
    out[0] = em_sum(user, 0, NULL, false);
    return 1;
}

START_TEST(graphs_assigning_variables_are_refused)
{
    make_folder();
    em_scope_begin();
    em_tensor *v =
        em_variable_new("v", em_zeros(EM_FLOAT32, 1, (int64_t[]){3}), false);
    em_tensor *x = em_ones(EM_FLOAT32, 1, (int64_t[]){3});
    em_function *f = em_trace_fn(step_body, v, NULL);
    ck_assert_int_eq(export_fn(f, 1, &x, "step"), -1);
    assert_error("cannot be exported", "assigns a variable");
    em_function_free(f);
    em_tensor_free(v);
    em_scope_end();
}
END_TEST

START_TEST(symbols_must_be_c_identifiers)
{
    make_folder();
    em_scope_begin();
    em_tensor *x = test_random(7, EM_FLOAT32, 1, (int64_t[]){3}, -1, 1);
    em_function *f = em_trace_fn(gather_body, NULL, NULL);
    em_concrete *c = em_function_concrete(f, 1, &x);
    em_export_options options = {.symbol = "not an identifier"};
    ck_assert_int_eq(em_concrete_export(c, "/tmp/x.o", "/tmp/x.h", &options),
                     -1);
    assert_error("not a C identifier");
    em_function_free(f);
    em_scope_end();
}
END_TEST

int main(void)
{
    if (!em_jit_available()) {
        printf("test_export: skipped, ember was built without LLVM or "
               "EMBER_JIT=0\n");
        return 77;
    }
    if (system("cc --version >/dev/null 2>&1") != 0) {
        printf("test_export: skipped, no C compiler (cc) to link with\n");
        return 77;
    }
    Suite *s = suite_create("export");
    TCase *tc = test_case(s, "export");
    tcase_add_test(tc, exported_mlp_matches_eager);
    tcase_add_test(tc, outputs_that_are_inputs_or_weights_are_copied);
    tcase_add_test(tc, graphs_needing_kernels_are_refused);
    tcase_add_test(tc, graphs_assigning_variables_are_refused);
    tcase_add_test(tc, symbols_must_be_c_identifiers);
    return test_run(s);
}
