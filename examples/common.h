/*
 * examples/common.h - what the examples share: command-line options,
 * Fashion-MNIST loading, a clock, a progress bar and the end-of-step error
 * check. These helpers belong to the examples, not to ember's API; they
 * use only <ember.h>.
 */
#ifndef EMBER_EXAMPLES_COMMON_H
#define EMBER_EXAMPLES_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <ember.h>

/* Where the Debian package dataset-fashion-mnist puts the IDX files. */
#define EX_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ---- command-line options ------------------------------------------------*/

typedef enum ex_option_kind {
    EX_OPTION_INT,    /* value points to an int */
    EX_OPTION_UINT64, /* value points to a uint64_t */
    EX_OPTION_DOUBLE, /* value points to a double */
    EX_OPTION_STRING, /* value points to a const char * */
    EX_OPTION_FLAG    /* value points to a bool, set when present */
} ex_option_kind;

typedef struct ex_option {
    const char *name; /* without the leading "--" */
    ex_option_kind kind;
    /* Holds the default on entry; --help leaves out a negative double
     * default (one chosen after parsing). */
    void *value;
    const char *help;
} ex_option;

/* Reads "--name value", "--name=value" and "--flag" into the options'
 * values. On --help prints the summary and every option with its default,
 * then exits 0; on an unknown option or a bad value prints why and exits 2.
 */
void ex_options_parse(int argc, char **argv, const char *summary, int n,
                      const ex_option *options);

/* ---- Fashion-MNIST -------------------------------------------------------*/

typedef struct ex_fashion_mnist {
    em_tensor *train_images; /* float32 [60000, 784], pixels in [0, 1] */
    em_tensor *train_labels; /* int64 [60000], class ids 0..9 */
    em_tensor *test_images;  /* float32 [10000, 784] */
    em_tensor *test_labels;  /* int64 [10000] */
} ex_fashion_mnist;

/* "T-shirt/top", "Trouser", ... indexed by class id. */
extern const char *const ex_fashion_mnist_classes[10];

/* Loads the four IDX files (gzip-compressed or not) from dir into host
 * tensors, whatever the default device. The tensors belong to the caller
 * (or to the scope open at the call): release them with
 * ex_fashion_mnist_free. On failure prints the problem and how to get the
 * data to stderr and returns -1 with every field NULL. */
int ex_fashion_mnist_load(const char *dir, ex_fashion_mnist *data);
void ex_fashion_mnist_free(ex_fashion_mnist *data);

/* The rows of images whose label is `negative` or `positive`, in their
 * order, into *x ([n, 784], like images), and float32 targets [n, 1] into
 * *y: 1 for `positive`, 0 for `negative`. Returns the number of rows, or -1
 * with an ember error pending. */
int64_t ex_binary_subset(em_tensor *images, em_tensor *labels, int negative,
                         int positive, em_tensor **x, em_tensor **y);

/* ---- timing, progress, errors --------------------------------------------*/

/* Seconds on a monotonic clock. */
double ex_seconds(void);

/* A one-line progress bar redrawn with \r. It draws only when enabled and
 * stdout is a terminal, so logs and pipes stay clean. */
typedef struct ex_progress {
    bool enabled;
    int64_t total;
    double start;
    double last_draw;
    char label[32];
} ex_progress;

void ex_progress_start(ex_progress *p, const char *label, int64_t total,
                       bool enabled);
/* done of total steps so far; loss is shown as the running value. */
void ex_progress_update(ex_progress *p, int64_t done, double loss);
/* Erases the bar so the next line starts clean. */
void ex_progress_finish(ex_progress *p);

/* If an ember error is pending, prints "error: <where>: <message>" to
 * stderr and exits with status 1. Call it at the end of each step. */
void ex_check(const char *where);

#endif
