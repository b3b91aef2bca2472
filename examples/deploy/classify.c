/*
 * classify.c - the second half of deploying a model: a plain C program
 * that classifies the Fashion-MNIST test set with the exported classifier.
 * It links classifier.o and the C library's maths (-lm), nothing else: no
 * ember, no LLVM.
 *
 *     cc -O2 -I DIR classify.c DIR/classifier.o -lm -o classify
 *     ./classify DIR
 *
 * DIR holds what train_and_export wrote. Prints the test accuracy, which
 * matches the one ember printed when training.
 */
#include <stdio.h>
#include <stdlib.h>

#include "classifier.h"

enum { IMAGES = 10000, PIXELS = 784, CLASSES = 10 };
#define BATCH (CLASSIFIER_INPUT0_SIZE / PIXELS)

static void *read_all(const char *dir, const char *name, size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    void *data = malloc(bytes);
    if (!f || !data || fread(data, 1, bytes, f) != bytes) {
        fprintf(stderr, "classify: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    return data;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: classify DIR\n");
        return 2;
    }
    float *images =
        read_all(argv[1], "test_images.f32", sizeof(float) * IMAGES * PIXELS);
    unsigned char *labels = read_all(argv[1], "test_labels.u8", IMAGES);
    void *workspace = aligned_alloc(64, CLASSIFIER_WORKSPACE_BYTES);
    float logits[CLASSIFIER_OUTPUT0_SIZE];

    long correct = 0;
    for (int start = 0; start + BATCH <= IMAGES; start += BATCH) {
        classifier(workspace, images + (size_t)start * PIXELS, logits);
        for (int i = 0; i < BATCH; i++) {
            int best = 0;
            for (int k = 1; k < CLASSES; k++)
                if (logits[i * CLASSES + k] > logits[i * CLASSES + best])
                    best = k;
            correct += best == labels[start + i];
        }
    }
    printf("deployed test accuracy: %.4f (%ld of %d)\n",
           (double)correct / IMAGES, correct, IMAGES);
    free(workspace);
    free(labels);
    free(images);
    return 0;
}
