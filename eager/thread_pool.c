/*
 * eager/thread_pool.c - the runtime's threads: one pool, started on first
 * use, that splits a range of loop iterations across the cores.
 *
 * A range is cut into one contiguous part per thread (the caller takes
 * part 0), so each part's memory is its own and a run is deterministic.
 * One range runs at a time: a call made while the pool is busy (from
 * another thread, or from inside a part) runs inline on its caller. A
 * forked child starts a pool of its own on demand.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static int threads = 0;     /* the pool's size, counting the caller */
static int started = 0;     /* worker threads running */
static bool busy;           /* a range is being run */
static uint64_t generation; /* counts ranges, so workers see new ones */
static int pending;         /* parts of the current range not yet done */
static em__range_fn job_fn;
static void *job_ctx;
static int64_t job_n;
static int job_parts;
static _Thread_local bool in_part;

static void part_bounds(int64_t n, int parts, int k, int64_t *begin,
                        int64_t *end)
{
    *begin = n * k / parts;
    *end = n * (k + 1) / parts;
}

static void *worker(void *arg)
{
    int k = (int)(intptr_t)arg;
    uint64_t seen = 0;
    in_part = true; /* a worker's own calls run inline */
    pthread_mutex_lock(&lock);
    for (;;) {
        while (generation == seen)
            pthread_cond_wait(&work_ready, &lock);
        seen = generation;
        if (k >= job_parts)
            continue;
        em__range_fn fn = job_fn;
        void *ctx = job_ctx;
        int64_t begin, end;
        part_bounds(job_n, job_parts, k, &begin, &end);
        pthread_mutex_unlock(&lock);
        fn(ctx, begin, end);
        pthread_mutex_lock(&lock);
        if (--pending == 0)
            pthread_cond_signal(&work_done);
    }
    return NULL;
}

static void after_fork_child(void)
{
    started = 0;
    busy = false;
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&work_ready, NULL);
    pthread_cond_init(&work_done, NULL);
}

static void configure(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
    int n = em__config_threads();
    if (n <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (int)cpus : 1;
    }
    threads = n < EM__MAX_THREADS ? n : EM__MAX_THREADS;
}

static pthread_once_t configure_once = PTHREAD_ONCE_INIT;

int em_get_num_threads(void)
{
    pthread_once(&configure_once, configure);
    pthread_mutex_lock(&lock);
    int n = threads;
    pthread_mutex_unlock(&lock);
    return n;
}

void em_set_num_threads(int n)
{
    pthread_once(&configure_once, configure);
    if (n < 1 || n > EM__MAX_THREADS) {
        em__error("set_num_threads: %d is not between 1 and %d", n,
                  EM__MAX_THREADS);
        return;
    }
    pthread_mutex_lock(&lock);
    threads = n; /* workers beyond n stay idle */
    pthread_mutex_unlock(&lock);
}

/* Starts workers up to the pool's size. Runs under the lock. */
static void start_workers(void)
{
    while (started < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc =
            pthread_create(&t, &attr, worker, (void *)(intptr_t)(started + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;
        started++;
    }
}

void em__parallel_for(em__range_fn fn, void *ctx, int64_t n, int64_t grain)
{
    pthread_once(&configure_once, configure);
    if (grain < 1)
        grain = 1;
    int64_t want = n / grain;
    if (want < 2 || in_part) {
        fn(ctx, 0, n);
        return;
    }
    pthread_mutex_lock(&lock);
    if (busy || threads < 2) {
        pthread_mutex_unlock(&lock);
        fn(ctx, 0, n);
        return;
    }
    start_workers();
    int parts = 1 + started;
    if (parts > threads)
        parts = threads;
    if (want < parts)
        parts = (int)want;
    busy = true;
    job_fn = fn;
    job_ctx = ctx;
    job_n = n;
    job_parts = parts;
    pending = parts - 1;
    generation++;
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&lock);

    int64_t begin, end;
    part_bounds(n, parts, 0, &begin, &end);
    in_part = true;
    fn(ctx, begin, end);
    in_part = false;

    pthread_mutex_lock(&lock);
    while (pending > 0)
        pthread_cond_wait(&work_done, &lock);
    busy = false;
    pthread_mutex_unlock(&lock);
}
