/*
 * ember/runtime.h - the runtime's threads.
 *
 * Compiled loops over large tensors are split across a pool of threads
 * (matrix products use OpenBLAS's own threads, set with
 * OPENBLAS_NUM_THREADS). The pool's size is EMBER_NUM_THREADS when set,
 * else the number of online CPUs; a program may change it at any time.
 */
#ifndef EMBER_RUNTIME_H
#define EMBER_RUNTIME_H

#ifdef __cplusplus
extern "C" {
#endif

/* Threads a parallel loop may use, the caller's included (at least 1). */
int em_get_num_threads(void);

/* Sets that number (1 runs every loop on its caller). Outside 1..256 it
 * records an error and changes nothing. */
void em_set_num_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
