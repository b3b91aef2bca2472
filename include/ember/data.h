/*
 * ember/data.h - reading data sets and iterating over mini-batches.
 */
#ifndef EMBER_DATA_H
#define EMBER_DATA_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads an IDX file (the MNIST format), gzip-compressed or not, into a new
 * tensor of the file's dtype (uint8 for MNIST images and labels) and shape.
 * NULL with an error naming the file and the problem (missing, truncated,
 * bad magic, sizes that do not match the file). */
em_tensor *em_idx_load(const char *path);

typedef struct em_batch_iter em_batch_iter;

/* Iterates over the first axis of n tensors together (all the same length),
 * batch rows at a time, reshuffled at every em_batch_iter_reset when
 * `shuffle` (the order is a function of seed and epoch). The last batch is
 * smaller unless drop_last. The tensors are retained until
 * em_batch_iter_free. NULL with an error on mismatched lengths, batch < 1
 * or a tensor on a GPU (batches are cut on the host: keep the data set on
 * the cpu and move each batch with em_tensor_to).
 */
em_batch_iter *em_batch_iter_new(int n, em_tensor *const *tensors,
                                 int64_t batch, bool shuffle, uint64_t seed,
                                 bool drop_last);
/* Fills out[0..n-1] with the next batch (owned like op results) and returns
 * true, or returns false at the end of the epoch. */
bool em_batch_iter_next(em_batch_iter *it, em_tensor **out);
/* Starts the next epoch (a new order when shuffling). */
void em_batch_iter_reset(em_batch_iter *it);
/* Batches per epoch. */
int64_t em_batch_iter_count(const em_batch_iter *it);
void em_batch_iter_free(em_batch_iter *it);

#ifdef __cplusplus
}
#endif
#endif
