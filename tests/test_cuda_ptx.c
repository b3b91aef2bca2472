/* GPU code for the fused loops of traced functions (jit/ptx.c): each
 * concrete graph becomes one PTX module for sm_90 with a kernel per
 * elementwise loop group, which CUDA's assembler, ptxas, must accept (no
 * GPU needed). The kernels are not run here.
 *
 * Run with --dump, the executable checks EMBER_DUMP=ptx (the environment is
 * read once); tests/CMakeLists.txt runs it so. Skipped without LLVM's
 * native tier or without ptxas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ember/control.h"
#include "jit_internal.h"
#include "ptx.h"
#include "testing.h"
#include "trace_internal.h"

static const char PTXAS[] = "/usr/local/cuda/bin/ptxas";

/* ---- helpers --------------------------------------------------------------*/

static int occurrences(const char *text, const char *word)
{
    int n = 0;
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        n++;
    return n;
}

/* The PTX of body's concrete graph for these inputs (malloc'd). */
static char *ptx_of(const char *name, em_traced_body body, int n_inputs,
                    em_tensor *const *inputs, int *n_kernels)
{
    em_trace_options o = {.name = name, .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(body, NULL, &o);
    ck_assert_ptr_nonnull(f);
    em_concrete *k = em_function_concrete(f, n_inputs, inputs);
    ck_assert_msg(k, "tracing failed: %s", em_error_last());
    int n = 0;
    const em__type *types = NULL;
    const em__graph *g = em__concrete_graph(k, &n, &types);
    char *text = em__jit_ptx(g, n_kernels);
    ck_assert_msg(text, "no PTX: %s", em_error_last());
    em_function_free(f);
    return text;
}

/* The PTX module of body's concrete graph for these inputs, and in *g
 * the graph (alive until *f is freed). */
static em__ptx_module *module_of(const char *name, em_traced_body body,
                                 int n_inputs, em_tensor *const *inputs,
                                 em_function **f, const em__graph **g)
{
    em_trace_options o = {.name = name, .jit = EM_JIT_OFF};
    *f = em_trace_fn(body, NULL, &o);
    ck_assert_ptr_nonnull(*f);
    em_concrete *k = em_function_concrete(*f, n_inputs, inputs);
    ck_assert_msg(k, "tracing failed: %s", em_error_last());
    int n = 0;
    const em__type *types = NULL;
    *g = em__concrete_graph(k, &n, &types);
    em__ptx_module *m = em__jit_ptx_module(*g);
    ck_assert_msg(m, "no PTX: %s", em_error_last());
    return m;
}

/* The input node of argument `index`, or -1. */
static int input_node(const em__graph *g, int index)
{
    for (int i = 0; i < g->len; i++)
        if (g->nodes[i].kind == EM__NODE_INPUT && g->nodes[i].index == index)
            return i;
    return -1;
}

/* Fails unless ptxas assembles text for sm_90, showing what it said. */
static void assert_ptxas_accepts(const char *text)
{
    char path[] = "/tmp/ember_ptx_XXXXXX.ptx";
    int fd = mkstemps(path, 4);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);

    char command[256], said[4096] = "";
    snprintf(command, sizeof command, "%s -arch=sm_90 -o /dev/null %s 2>&1",
             PTXAS, path);
    FILE *p = popen(command, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(said, 1, sizeof said - 1, p);
    said[len] = '\0';
    int status = pclose(p);
    unlink(path);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "ptxas failed (status %d):\n%s\n---- PTX:\n%.3000s", status,
                  said, text);
}

/* The checks every module passes: sm_90, n_kernels entries named
 * kernel_0.., accepted by ptxas. */
static void assert_module(const char *text, int n_kernels)
{
    ck_assert_ptr_nonnull(strstr(text, ".target sm_90"));
    ck_assert_int_eq(occurrences(text, ".entry"), n_kernels);
    for (int k = 0; k < n_kernels; k++) {
        char entry[40];
        snprintf(entry, sizeof entry, ".entry kernel_%d(", k);
        ck_assert_msg(strstr(text, entry), "no %s", entry);
    }
    assert_ptxas_accepts(text);
}

/* ---- the functions traced -------------------------------------------------*/

/* tanh(x * a + b) * sigmoid(x) */
static int chain(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    em_tensor *x = in[0];
    out[0] = em_mul(em_tanh(em_add(em_mul(x, in[1]), in[2])), em_sigmoid(x));
    return out[0] ? 1 : -1;
}

static int add(int n, em_tensor *const *in, int max, em_tensor **out,
               void *user)
{
    out[0] = em_add(in[0], in[1]);
    return out[0] ? 1 : -1;
}

/* where(x > y, relu(x), y) */
static int relu_where(int n, em_tensor *const *in, int max, em_tensor **out,
                      void *user)
{
    out[0] = em_where(em_greater(in[0], in[1]), em_relu(in[0]), in[1]);
    return out[0] ? 1 : -1;
}

/* max(sqrt(|x * y + z|) / y, -z) */
static int f64_chain(int n, em_tensor *const *in, int max, em_tensor **out,
                     void *user)
{
    em_tensor *s = em_sqrt(em_abs(em_add(em_mul(in[0], in[1]), in[2])));
    out[0] = em_maximum(em_div(s, in[1]), em_neg(in[2]));
    return out[0] ? 1 : -1;
}

/* int32 of 2x, and the float64 of that */
static int casts(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    em_tensor *two = em_scalar(2.0, EM_FLOAT32);
    out[0] = em_cast(em_cast(em_mul(in[0], two), EM_INT32), EM_FLOAT64);
    return out[0] ? 1 : -1;
}

/* exp(x) + 1 and (exp(x) + 1) * x: two outputs, two groups */
static int two_outputs(int n, em_tensor *const *in, int max, em_tensor **out,
                       void *user)
{
    out[0] = em_add(em_exp(in[0]), em_scalar(1.0, EM_FLOAT32));
    out[1] = em_mul(out[0], in[0]);
    return out[0] && out[1] ? 2 : -1;
}

static int f64_tanh(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    out[0] = em_tanh(in[0]);
    return out[0] ? 1 : -1;
}

/* relu(x @ w + b) */
static int dense(int n, em_tensor *const *in, int max, em_tensor **out,
                 void *user)
{
    out[0] = em_relu(em_add(em_matmul(in[0], in[1], false, false), in[2]));
    return out[0] ? 1 : -1;
}

static int relu(int n, em_tensor *const *in, int max, em_tensor **out,
                void *user)
{
    out[0] = em_relu(in[0]);
    return out[0] ? 1 : -1;
}

static int negate(int n, em_tensor *const *in, int max, em_tensor **out,
                  void *user)
{
    out[0] = em_neg(in[0]);
    return out[0] ? 1 : -1;
}

/* cond(sum(x) > 0, relu(x), -x) */
static int branches(int n, em_tensor *const *in, int max, em_tensor **out,
                    void *user)
{
    em_tensor *pred =
        em_greater(em_sum(in[0], 0, NULL, false), em_scalar(0.0, EM_FLOAT32));
    return em_cond(pred, relu, negate, NULL, 1, in, 1, out);
}

/* ---- kernels --------------------------------------------------------------*/

START_TEST(the_tanh_sigmoid_chain_is_one_kernel_without_calls)
{
    em_scope_begin();
    int64_t shape[] = {1000};
    em_tensor *in[3];
    for (int k = 0; k < 3; k++)
        in[k] = test_random(k + 1, EM_FLOAT32, 1, shape, -2, 2);
    int n = -1;
    char *text = ptx_of("chain", chain, 3, in, &n);
    ck_assert_int_eq(n, 1);
    /* float32 tanh and sigmoid are inline maths, not library calls */
    ck_assert_ptr_null(strstr(text, ".extern"));
    ck_assert_ptr_null(strstr(text, "call"));
    /* out, x, a, b and n */
    ck_assert_ptr_nonnull(strstr(text, "kernel_0_param_4"));
    ck_assert_ptr_null(strstr(text, "kernel_0_param_5"));
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(a_broadcast_add_is_one_kernel)
{
    em_scope_begin();
    em_tensor *in[2] = {test_random(1, EM_FLOAT32, 2, (int64_t[]){4, 5}, -1, 1),
                        test_random(2, EM_FLOAT32, 1, (int64_t[]){5}, -1, 1)};
    int n = -1;
    char *text = ptx_of("broadcast", add, 2, in, &n);
    ck_assert_int_eq(n, 1);
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(a_leaf_broadcast_along_inner_and_outer_axes_is_one_kernel)
{
    em_scope_begin();
    em_tensor *in[2] = {
        test_random(1, EM_FLOAT32, 3, (int64_t[]){3, 1, 4}, -1, 1),
        test_random(2, EM_FLOAT32, 3, (int64_t[]){1, 6, 1}, -1, 1)};
    int n = -1;
    char *text = ptx_of("outer", add, 2, in, &n);
    ck_assert_int_eq(n, 1);
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(relu_and_where_over_a_comparison_are_one_kernel)
{
    em_scope_begin();
    int64_t shape[] = {3, 7};
    em_tensor *in[2] = {test_random(1, EM_FLOAT32, 2, shape, -1, 1),
                        test_random(2, EM_FLOAT32, 2, shape, -1, 1)};
    int n = -1;
    char *text = ptx_of("relu_where", relu_where, 2, in, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(text, "setp"));
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(a_float64_chain_is_one_kernel_in_double)
{
    em_scope_begin();
    int64_t shape[] = {64};
    em_tensor *in[3];
    for (int k = 0; k < 3; k++)
        in[k] = test_random(k + 1, EM_FLOAT64, 1, shape, 0.5, 2);
    int n = -1;
    char *text = ptx_of("f64_chain", f64_chain, 3, in, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(text, "sqrt.rn.f64"));
    ck_assert_ptr_nonnull(strstr(text, "div.rn.f64"));
    ck_assert_ptr_null(strstr(text, ".f32"));
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(casts_between_float_and_int_are_one_kernel)
{
    em_scope_begin();
    em_tensor *in[1] = {
        test_random(1, EM_FLOAT32, 2, (int64_t[]){8, 8}, -100, 100)};
    int n = -1;
    char *text = ptx_of("casts", casts, 1, in, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(strstr(text, "cvt.rzi."));
    ck_assert_ptr_nonnull(strstr(text, "cvt.rn.f64.s32"));
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(each_output_computed_is_its_own_kernel)
{
    em_scope_begin();
    em_tensor *in[1] = {test_random(1, EM_FLOAT32, 1, (int64_t[]){50}, -1, 1)};
    int n = -1;
    char *text = ptx_of("two_outputs", two_outputs, 1, in, &n);
    ck_assert_int_eq(n, 2);
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(only_elementwise_groups_become_kernels)
{
    em_scope_begin();
    em_tensor *in[3] = {test_random(1, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1),
                        test_random(2, EM_FLOAT32, 2, (int64_t[]){3, 5}, -1, 1),
                        test_random(3, EM_FLOAT32, 1, (int64_t[]){5}, -1, 1)};
    int n = -1;
    char *text = ptx_of("dense", dense, 3, in, &n);
    /* the product is not a loop group; bias and relu are one */
    ck_assert_int_eq(n, 1);
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(zero_size_shapes_give_valid_kernels)
{
    em_scope_begin();
    em_tensor *in[1] = {
        test_random(1, EM_FLOAT32, 2, (int64_t[]){3, 0}, -1, 1)};
    int n = -1;
    char *text = ptx_of("empty", relu, 1, in, &n);
    ck_assert_int_eq(n, 1);
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(a_group_calling_the_c_library_gets_no_kernel)
{
    em_scope_begin();
    em_tensor *in[1] = {test_random(1, EM_FLOAT64, 1, (int64_t[]){10}, -1, 1)};
    int n = -1;
    char *text = ptx_of("f64_tanh", f64_tanh, 1, in, &n);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_nonnull(strstr(text, "no kernel"));
    ck_assert_ptr_null(strstr(text, ".extern"));
    assert_module(text, n);
    free(text);
    em_scope_end();
}
END_TEST

START_TEST(a_graph_with_control_flow_gives_no_ptx_and_says_why)
{
    em_scope_begin();
    em_tensor *in[1] = {test_random(1, EM_FLOAT32, 1, (int64_t[]){6}, -1, 1)};
    em_trace_options o = {.name = "branches", .jit = EM_JIT_OFF};
    em_function *f = em_trace_fn(branches, NULL, &o);
    em_concrete *k = em_function_concrete(f, 1, in);
    ck_assert_msg(k, "tracing failed: %s", em_error_last());
    int n = -1;
    const em__type *types = NULL;
    ck_assert_ptr_null(em__jit_ptx(em__concrete_graph(k, &n, &types), &n));
    ck_assert_int_eq(n, 0);
    assert_error("ptx", "branches", "control-flow");
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- the module's kernel groups -------------------------------------------*/

START_TEST(the_module_lists_the_chains_root_members_and_leaves_in_order)
{
    em_scope_begin();
    em_tensor *in[3];
    for (int k = 0; k < 3; k++)
        in[k] = test_random(k + 1, EM_FLOAT32, 1, (int64_t[]){100}, -2, 2);
    em_function *f = NULL;
    const em__graph *g = NULL;
    em__ptx_module *m = module_of("chain", chain, 3, in, &f, &g);
    ck_assert_int_eq(m->n_kernels, 1);
    assert_module(m->text, 1);
    const em__ptx_kernel *k = &m->kernels[0];
    ck_assert_int_eq(k->root, g->outputs[0]);
    /* x * a, + b, tanh, sigmoid(x), the product: the root last */
    ck_assert_int_eq(k->n_members, 5);
    ck_assert_int_eq(k->members[k->n_members - 1], k->root);
    for (int j = 1; j < k->n_members; j++)
        ck_assert_int_lt(k->members[j - 1], k->members[j]);
    /* x, a, b in the order the members name them: the kernel's params */
    ck_assert_int_eq(k->n_leaves, 3);
    for (int j = 0; j < 3; j++)
        ck_assert_int_eq(k->leaves[j], input_node(g, j));
    em__ptx_module_free(m);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(a_kernel_reading_another_kernels_output_lists_it_as_a_leaf)
{
    em_scope_begin();
    em_tensor *in[1] = {test_random(1, EM_FLOAT32, 1, (int64_t[]){50}, -1, 1)};
    em_function *f = NULL;
    const em__graph *g = NULL;
    em__ptx_module *m = module_of("two_outputs", two_outputs, 1, in, &f, &g);
    ck_assert_int_eq(m->n_kernels, 2);
    ck_assert_int_eq(m->kernels[0].root, g->outputs[0]);
    ck_assert_int_eq(m->kernels[1].root, g->outputs[1]);
    /* (exp(x) + 1) * x reads the first output and x */
    const em__ptx_kernel *second = &m->kernels[1];
    ck_assert_int_eq(second->n_members, 1);
    ck_assert_int_eq(second->n_leaves, 2);
    ck_assert_int_eq(second->leaves[0], g->outputs[0]);
    ck_assert_int_eq(second->leaves[1], input_node(g, 0));
    em__ptx_module_free(m);
    em_function_free(f);
    em_scope_end();
}
END_TEST

START_TEST(the_bias_and_relu_after_a_product_read_the_product_and_the_bias)
{
    em_scope_begin();
    em_tensor *in[3] = {test_random(1, EM_FLOAT32, 2, (int64_t[]){4, 3}, -1, 1),
                        test_random(2, EM_FLOAT32, 2, (int64_t[]){3, 5}, -1, 1),
                        test_random(3, EM_FLOAT32, 1, (int64_t[]){5}, -1, 1)};
    em_function *f = NULL;
    const em__graph *g = NULL;
    em__ptx_module *m = module_of("dense", dense, 3, in, &f, &g);
    ck_assert_int_eq(m->n_kernels, 1);
    const em__ptx_kernel *k = &m->kernels[0];
    ck_assert_int_eq(k->n_leaves, 2);
    ck_assert_int_eq(g->nodes[k->leaves[0]].kind, EM__NODE_OP);
    ck_assert_int_eq(g->nodes[k->leaves[0]].op, EM_OP_MATMUL);
    ck_assert_int_eq(k->leaves[1], input_node(g, 2));
    em__ptx_module_free(m);
    em_function_free(f);
    em_scope_end();
}
END_TEST

/* ---- EMBER_DUMP=ptx -------------------------------------------------------*/

START_TEST(ember_dump_ptx_writes_the_module)
{
    const char *dir = getenv("EMBER_DUMP_DIR");
    ck_assert_msg(dir && *dir, "run with EMBER_DUMP_DIR set");
    char path[512];
    snprintf(path, sizeof path, "%s/ptx_probe.ptx", dir);
    unlink(path);
    em_scope_begin();
    em_tensor *in[2] = {test_random(1, EM_FLOAT32, 1, (int64_t[]){9}, -1, 1),
                        test_random(2, EM_FLOAT32, 1, (int64_t[]){9}, -1, 1)};
    int n = -1;
    char *text = ptx_of("ptx_probe", add, 2, in, &n);
    size_t size = 0;
    unsigned char *dumped = test_read_file(path, &size);
    ck_assert_uint_eq(size, strlen(text));
    ck_assert(memcmp(dumped, text, size) == 0);
    free(dumped);
    free(text);
    em_scope_end();
}
END_TEST

/* ---- the suites -----------------------------------------------------------*/

int main(int argc, char **argv)
{
    if (!em_jit_available()) {
        printf("skipped: this build has no native tier\n");
        return 77;
    }
    if (access(PTXAS, X_OK) != 0) {
        printf("skipped: no ptxas at %s\n", PTXAS);
        return 77;
    }
    Suite *suite = suite_create("cuda_ptx");
    if (argc > 1 && strcmp(argv[1], "--dump") == 0) {
        TCase *tc = test_case(suite, "dump");
        tcase_add_test(tc, ember_dump_ptx_writes_the_module);
        return test_run(suite);
    }
    TCase *tc = test_case(suite, "kernels");
    tcase_add_test(tc, the_tanh_sigmoid_chain_is_one_kernel_without_calls);
    tcase_add_test(tc, a_broadcast_add_is_one_kernel);
    tcase_add_test(tc,
                   a_leaf_broadcast_along_inner_and_outer_axes_is_one_kernel);
    tcase_add_test(tc, relu_and_where_over_a_comparison_are_one_kernel);
    tcase_add_test(tc, a_float64_chain_is_one_kernel_in_double);
    tcase_add_test(tc, casts_between_float_and_int_are_one_kernel);
    tcase_add_test(tc, each_output_computed_is_its_own_kernel);
    tcase_add_test(tc, only_elementwise_groups_become_kernels);
    tcase_add_test(tc, zero_size_shapes_give_valid_kernels);
    tcase_add_test(tc, a_group_calling_the_c_library_gets_no_kernel);
    tcase_add_test(tc, a_graph_with_control_flow_gives_no_ptx_and_says_why);
    TCase *groups = test_case(suite, "groups");
    tcase_add_test(
        groups, the_module_lists_the_chains_root_members_and_leaves_in_order);
    tcase_add_test(groups,
                   a_kernel_reading_another_kernels_output_lists_it_as_a_leaf);
    tcase_add_test(
        groups,
        the_bias_and_relu_after_a_product_read_the_product_and_the_bias);
    return test_run(suite);
}
