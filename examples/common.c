/*
 * examples/common.c - the examples' shared helpers (see common.h).
 */
#include "common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- command-line options ------------------------------------------------*/

static void option_print_default(const ex_option *o)
{
    switch (o->kind) {
    case EX_OPTION_INT:
        printf(" (default %d)", *(const int *)o->value);
        break;
    case EX_OPTION_UINT64:
        printf(" (default %" PRIu64 ")", *(const uint64_t *)o->value);
        break;
    case EX_OPTION_DOUBLE:
        if (*(const double *)o->value >= 0)
            printf(" (default %g)", *(const double *)o->value);
        break;
    case EX_OPTION_STRING:
        if (*(const char *const *)o->value)
            printf(" (default %s)", *(const char *const *)o->value);
        break;
    case EX_OPTION_FLAG:
        break;
    }
}

static void options_usage(const char *program, const char *summary, int n,
                          const ex_option *options)
{
    printf("usage: %s [options]\n\n%s\n\noptions:\n", program, summary);
    for (int i = 0; i < n; i++) {
        const ex_option *o = &options[i];
        const char *arg = o->kind == EX_OPTION_FLAG     ? ""
                          : o->kind == EX_OPTION_STRING ? " TEXT"
                                                        : " N";
        printf("  --%s%s\n      %s", o->name, arg, o->help);
        option_print_default(o);
        printf("\n");
    }
    printf("  --help\n      print this text\n");
}

/* Stores text into the option; false when it does not parse. */
static bool option_set(const ex_option *o, const char *text)
{
    char *end = NULL;

    errno = 0;
    switch (o->kind) {
    case EX_OPTION_INT: {
        long v = strtol(text, &end, 10);
        if (*end || end == text || errno || v < -2147483647L || v > 2147483647L)
            return false;
        *(int *)o->value = (int)v;
        return true;
    }
    case EX_OPTION_UINT64: {
        unsigned long long v = strtoull(text, &end, 10);
        if (*end || end == text || errno || text[0] == '-')
            return false;
        *(uint64_t *)o->value = (uint64_t)v;
        return true;
    }
    case EX_OPTION_DOUBLE: {
        double v = strtod(text, &end);
        if (*end || end == text || errno)
            return false;
        *(double *)o->value = v;
        return true;
    }
    case EX_OPTION_STRING:
        *(const char **)o->value = text;
        return true;
    case EX_OPTION_FLAG:
        *(bool *)o->value = true;
        return true;
    }
    return false;
}

void ex_options_parse(int argc, char **argv, const char *summary, int n,
                      const ex_option *options)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            options_usage(argv[0], summary, n, options);
            exit(0);
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "%s: unexpected argument '%s' (try --help)\n",
                    argv[0], arg);
            exit(2);
        }

        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const ex_option *o = NULL;
        for (int k = 0; k < n; k++) {
            if (strlen(options[k].name) == len &&
                strncmp(options[k].name, name, len) == 0)
                o = &options[k];
        }
        if (!o) {
            fprintf(stderr, "%s: unknown option '%s' (try --help)\n", argv[0],
                    arg);
            exit(2);
        }

        const char *value = "";
        if (o->kind != EX_OPTION_FLAG) {
            if (eq) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                fprintf(stderr, "%s: --%s needs a value\n", argv[0], o->name);
                exit(2);
            }
        } else if (eq) {
            fprintf(stderr, "%s: --%s takes no value\n", argv[0], o->name);
            exit(2);
        }
        if (!option_set(o, value)) {
            fprintf(stderr, "%s: bad value '%s' for --%s\n", argv[0], value,
                    o->name);
            exit(2);
        }
    }
}

/* ---- Fashion-MNIST -------------------------------------------------------*/

const char *const ex_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

/* dir/name.gz, or dir/name when only the uncompressed file is there; false
 * when neither exists. */
static bool find_idx_file(const char *dir, const char *name, char *path,
                          size_t size)
{
    snprintf(path, size, "%s/%s.gz", dir, name);
    if (access(path, R_OK) == 0)
        return true;
    snprintf(path, size, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

static void missing_data_hint(const char *dir)
{
    fprintf(stderr,
            "Fashion-MNIST is needed in %s: install the package "
            "dataset-fashion-mnist\n(apt-get install dataset-fashion-mnist) "
            "or pass --data DIR, a folder holding\ntrain-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and\n"
            "t10k-labels-idx1-ubyte (each may be .gz).\n",
            dir);
}

/* uint8 [n, 28, 28] pixels -> float32 [n, 784] in [0, 1]. */
static em_tensor *images_to_float(em_tensor *raw)
{
    em_tensor *x = em_mul_scalar(em_cast(raw, EM_FLOAT32), 1.0 / 255.0);
    return em_reshape(x, 2, (const int64_t[]){-1, 784});
}

int ex_fashion_mnist_load(const char *dir, ex_fashion_mnist *data)
{
    static const char *const names[4] = {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    char paths[4][4096];

    memset(data, 0, sizeof *data);
    for (int i = 0; i < 4; i++) {
        if (!find_idx_file(dir, names[i], paths[i], sizeof paths[i])) {
            fprintf(stderr, "error: %s/%s(.gz) not found\n", dir, names[i]);
            missing_data_hint(dir);
            return -1;
        }
    }

    /* The data set lives on the host, whatever the default device (the
     * batch iterator reads it there). The raw uint8 tensors and the
     * conversion's temporaries die with this scope; the four results move
     * to the caller. */
    em_device device = em_get_default_device();
    em_set_default_device(EM_CPU);
    em_scope_begin();
    em_tensor *train_images = images_to_float(em_idx_load(paths[0]));
    em_tensor *train_labels = em_cast(em_idx_load(paths[1]), EM_INT64);
    em_tensor *test_images = images_to_float(em_idx_load(paths[2]));
    em_tensor *test_labels = em_cast(em_idx_load(paths[3]), EM_INT64);
    em_set_default_device(device);
    const char *err = em_error_last();
    if (err) {
        fprintf(stderr, "error: loading Fashion-MNIST: %s\n", err);
        missing_data_hint(dir);
        em_scope_end();
        return -1;
    }
    data->train_images = em_scope_keep(train_images);
    data->train_labels = em_scope_keep(train_labels);
    data->test_images = em_scope_keep(test_images);
    data->test_labels = em_scope_keep(test_labels);
    em_scope_end();
    return 0;
}

void ex_fashion_mnist_free(ex_fashion_mnist *data)
{
    em_tensor_free(data->train_images);
    em_tensor_free(data->train_labels);
    em_tensor_free(data->test_images);
    em_tensor_free(data->test_labels);
    memset(data, 0, sizeof *data);
}

int64_t ex_binary_subset(em_tensor *images, em_tensor *labels, int negative,
                         int positive, em_tensor **x, em_tensor **y)
{
    *x = NULL;
    *y = NULL;
    int64_t n = em_tensor_size(labels);
    int64_t *all = malloc((size_t)(n > 0 ? n : 1) * sizeof *all);
    int64_t *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
    float *targets = malloc((size_t)(n > 0 ? n : 1) * sizeof *targets);
    int64_t count = -1;
    if (!all || !rows || !targets)
        goto done;
    if (em_tensor_copy_to(labels, all, EM_INT64, (size_t)n * sizeof *all))
        goto done;

    count = 0;
    for (int64_t i = 0; i < n; i++) {
        if (all[i] == negative || all[i] == positive) {
            rows[count] = i;
            targets[count] = all[i] == positive ? 1.0f : 0.0f;
            count++;
        }
    }
    em_tensor *index = em_tensor_from_data(rows, EM_INT64, 1, &count);
    *x = em_gather(images, index, 0);
    *y = em_tensor_from_data(targets, EM_FLOAT32, 2,
                             (const int64_t[]){count, 1});
    em_tensor_free(index);
    if (!*x || !*y) {
        em_tensor_free(*x);
        em_tensor_free(*y);
        *x = *y = NULL;
        count = -1;
    }

done:
    free(all);
    free(rows);
    free(targets);
    return count;
}

/* ---- timing, progress, errors --------------------------------------------*/

double ex_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ex_progress_start(ex_progress *p, const char *label, int64_t total,
                       bool enabled)
{
    p->enabled = enabled && isatty(STDOUT_FILENO);
    p->total = total;
    p->start = ex_seconds();
    p->last_draw = 0;
    snprintf(p->label, sizeof p->label, "%s", label);
}

void ex_progress_update(ex_progress *p, int64_t done, double loss)
{
    enum { WIDTH = 30 };
    if (!p->enabled)
        return;

    /* Redrawing costs a write to the terminal: about 20 times a second is
     * smooth enough. */
    double now = ex_seconds();
    if (done < p->total && now - p->last_draw < 0.05)
        return;
    p->last_draw = now;

    int filled = p->total > 0 ? (int)(WIDTH * done / p->total) : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    printf("\r%s [%s] %" PRId64 "/%" PRId64 "  loss %.4f  %.1fs", p->label, bar,
           done, p->total, loss, now - p->start);
    fflush(stdout);
}

void ex_progress_finish(ex_progress *p)
{
    if (!p->enabled)
        return;
    printf("\r%*s\r", 79, "");
    fflush(stdout);
}

void ex_check(const char *where)
{
    const char *err = em_error_last();
    if (!err)
        return;
    fprintf(stderr, "error: %s: %s\n", where, err);
    exit(1);
}
