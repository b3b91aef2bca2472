/*
 * tools/ember_graph.c - ember-graph: inspect and run saved graph files
 * (ember/graph_file.h) with .npy inputs and outputs.
 *
 *   ember-graph show FILE      the signature and the graph as text
 *   ember-graph dot FILE       the graph in Graphviz DOT
 *   ember-graph run FILE --input x.npy [--input ...] --output y.npy [...]
 *
 * Exit status: 0 on success, 1 on a failure (message on stderr), 2 on a
 * usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember.h>

enum { MAX_ARGS = 256 };

static int usage(const char *problem)
{
    if (problem)
        fprintf(stderr, "ember-graph: %s\n", problem);
    fprintf(stderr, "usage: ember-graph show FILE\n"
                    "       ember-graph dot FILE\n"
                    "       ember-graph run FILE --input X.npy [--input ...] "
                    "--output Y.npy [--output ...]\n");
    return 2;
}

static int failed(const char *what)
{
    fprintf(stderr, "ember-graph: %s: %s\n", what,
            em_error_pending() ? em_error_last() : "unknown error");
    return 1;
}

/* Prints text made by a snprintf-like formatter. */
static int print_text(const em_loaded_graph *g,
                      int (*format)(const em_loaded_graph *, char *, size_t))
{
    int len = format(g, NULL, 0);
    char *buf = malloc((size_t)len + 1);
    if (!buf) {
        fprintf(stderr, "ember-graph: out of memory\n");
        return 1;
    }
    format(g, buf, (size_t)len + 1);
    fputs(buf, stdout);
    free(buf);
    return 0;
}

static void print_specs(const char *what, int n, const em_input_spec *specs)
{
    printf("%s:", what);
    for (int i = 0; i < n; i++) {
        char shape[200];
        printf(" %s%s", em_dtype_name(specs[i].dtype),
               em_shape_format(specs[i].ndim, specs[i].shape, shape,
                               sizeof shape));
    }
    printf("%s\n", n ? "" : " (none)");
}

static int show(const em_loaded_graph *g)
{
    int n_in = em_loaded_graph_inputs(g, 0, NULL);
    int n_out = em_loaded_graph_outputs(g, 0, NULL);
    int n_var = em_loaded_graph_variables(g, 0, NULL);
    em_input_spec *specs =
        calloc((size_t)(n_in > n_out ? n_in : n_out) + 1, sizeof *specs);
    em_tensor **vars = calloc((size_t)n_var + 1, sizeof *vars);
    if (!specs || !vars) {
        free(specs);
        free(vars);
        fprintf(stderr, "ember-graph: out of memory\n");
        return 1;
    }
    printf("function: %s\n", em_loaded_graph_name(g));
    em_loaded_graph_inputs(g, n_in, specs);
    print_specs("inputs", n_in, specs);
    em_loaded_graph_outputs(g, n_out, specs);
    print_specs("outputs", n_out, specs);
    em_loaded_graph_variables(g, n_var, vars);
    printf("variables:%s\n", n_var ? "" : " (none)");
    for (int i = 0; i < n_var; i++) {
        char shape[200];
        printf("  %s: %s%s%s\n", em_variable_name(vars[i]),
               em_dtype_name(em_tensor_dtype(vars[i])),
               em_shape_format(em_tensor_ndim(vars[i]),
                               em_tensor_shape(vars[i]), shape, sizeof shape),
               em_variable_trainable(vars[i]) ? " (trainable)" : "");
    }
    free(specs);
    free(vars);
    return print_text(g, em_loaded_graph_format);
}

static int run(em_loaded_graph *g, int argc, char **argv)
{
    const char *in_paths[MAX_ARGS], *out_paths[MAX_ARGS];
    int n_in = 0, n_out = 0;
    for (int i = 0; i < argc; i++) {
        bool is_in = strcmp(argv[i], "--input") == 0;
        if (!is_in && strcmp(argv[i], "--output") != 0)
            return usage("run takes only --input and --output options");
        if (i + 1 >= argc)
            return usage("--input and --output each need a file");
        if ((is_in ? n_in : n_out) == MAX_ARGS)
            return usage("too many files");
        if (is_in)
            in_paths[n_in++] = argv[++i];
        else
            out_paths[n_out++] = argv[++i];
    }
    int want_in = em_loaded_graph_inputs(g, 0, NULL);
    int want_out = em_loaded_graph_outputs(g, 0, NULL);
    if (n_in != want_in || n_out != want_out) {
        fprintf(stderr,
                "ember-graph: '%s' takes %d inputs and returns %d outputs; "
                "%d --input and %d --output given\n",
                em_loaded_graph_name(g), want_in, want_out, n_in, n_out);
        return 2;
    }
    em_tensor *inputs[MAX_ARGS], *outputs[MAX_ARGS];
    int rc = 0;
    em_scope_begin();
    for (int i = 0; i < n_in && rc == 0; i++)
        if (!(inputs[i] = em_npy_load(in_paths[i])))
            rc = failed(in_paths[i]);
    if (rc == 0 && em_loaded_graph_run(g, n_in, inputs, n_out, outputs) < 0)
        rc = failed("run");
    for (int i = 0; i < n_out && rc == 0; i++)
        if (em_npy_save(out_paths[i], outputs[i]) != 0)
            rc = failed(out_paths[i]);
    em_scope_end();
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage(NULL);
    const char *cmd = argv[1];
    bool is_show = strcmp(cmd, "show") == 0, is_dot = strcmp(cmd, "dot") == 0;
    bool is_run = strcmp(cmd, "run") == 0;
    if (!is_show && !is_dot && !is_run)
        return usage("unknown command");
    if (!is_run && argc != 3)
        return usage("show and dot take one file");
    em_loaded_graph *g = em_graph_load(argv[2]);
    if (!g)
        return failed(argv[2]);
    int rc = is_show  ? show(g)
             : is_dot ? print_text(g, em_loaded_graph_format_dot)
                      : run(g, argc - 3, argv + 3);
    em_loaded_graph_free(g);
    return rc;
}
