/*
 * tools/graph_demo.c - writes what the ember-graph test runs: a traced
 * function saved as DIR/demo.emg, an input DIR/x.npy and the output the
 * function gives eagerly, DIR/expected.npy. The test then runs the graph
 * with ember-graph, a process that does not have the function.
 */
#include <stdio.h>

#include <ember.h>

/* y = relu(x * 2 - 1) + v, where v is a variable; also updates v += 1. */
static int demo(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    (void)n, (void)max;
    em_tensor *v = user;
    out[0] = em_add(
        em_relu(em_sub(em_mul(in[0], em_scalar_f32(2)), em_scalar_f32(1))), v);
    if (!out[0] || em_variable_assign_add(v, em_scalar_f32(1)) != 0)
        return -1;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: graph_demo DIR\n");
        return 2;
    }
    char path[4096];
    em_scope_begin();
    float xs[6] = {-1, 0, 0.5f, 1, 2, 3};
    em_tensor *x = em_tensor_from_data(xs, EM_FLOAT32, 2, (int64_t[]){2, 3});
    em_tensor *v = em_variable_new(
        "v", em_full(0.25, EM_FLOAT32, 1, (int64_t[]){3}), true);
    em_tensor *expected = NULL;
    em_trace_options options = {.name = "demo"};
    em_function *f = em_trace_fn(demo, v, &options);
    em_concrete *c = em_function_concrete(f, 1, &x);
    int rc = c ? 0 : 1;
    snprintf(path, sizeof path, "%s/demo.emg", argv[1]);
    rc = rc || em_concrete_save(c, path) != 0;
    snprintf(path, sizeof path, "%s/x.npy", argv[1]);
    rc = rc || em_npy_save(path, x) != 0;
    /* Run eagerly on a copy of v, as the loaded graph will see it. */
    em_tensor *v2 = em_variable_new("v", v, true);
    rc = rc || demo(1, &x, 1, &expected, v2) != 1;
    snprintf(path, sizeof path, "%s/expected.npy", argv[1]);
    rc = rc || em_npy_save(path, expected) != 0;
    if (rc)
        fprintf(stderr, "graph_demo: %s\n", em_error_last());
    em_function_free(f);
    em_tensor_free(v);
    em_tensor_free(v2);
    em_scope_end();
    return rc;
}
