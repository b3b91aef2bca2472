/*
 * eager/tally.c - tensor ids and the memory statistics
 * (em_memory_get_stats).
 *
 * Every tensor allocation and release is counted, so the counting must
 * cost little: a shared atomic counter takes a locked instruction each
 * time, which measured a third of a small op's cost. Instead each thread
 * keeps its own tally with plain stores, and em_memory_get_stats sums
 * the tallies of the living threads and of those that have ended. The
 * sum is exact whenever no other thread is allocating at that moment.
 *
 * Bytes also reach a shared total in steps of at least BYTES_STEP per
 * thread; the peak is the highest that total or a summed reading has
 * been, so it is within BYTES_STEP per thread of the true peak.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"

#define BYTES_STEP ((int64_t)64 << 10)
#define ID_BLOCK 4096

typedef struct tally {
    /* Written by the owning thread only; read by em_memory_get_stats. */
    _Atomic int64_t tensors, bytes;
    uint64_t next_id, end_id; /* this thread's block of ids */
    bool listed;
    struct tally *next;
} tally;

static EM__HOT_THREAD_LOCAL tally mine;

static pthread_mutex_t tallies_lock = PTHREAD_MUTEX_INITIALIZER;
static tally *tallies;        /* the listed threads' tallies */
static int64_t ended_tensors; /* from threads that have ended */
static _Atomic int64_t shared_bytes;
static _Atomic int64_t peak_bytes;
static _Atomic uint64_t next_id_block = 1; /* ids start at 1 */
static pthread_key_t end_key;
static pthread_once_t end_key_once = PTHREAD_ONCE_INIT;

static void raise_peak(int64_t now)
{
    int64_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now))
        ;
}

/* At thread exit: the tally's counts join the totals of ended threads. */
static void tally_end(void *p)
{
    tally *t = p;
    pthread_mutex_lock(&tallies_lock);
    for (tally **at = &tallies; *at; at = &(*at)->next)
        if (*at == t) {
            *at = t->next;
            break;
        }
    ended_tensors += atomic_load_explicit(&t->tensors, memory_order_relaxed);
    atomic_fetch_add(&shared_bytes,
                     atomic_load_explicit(&t->bytes, memory_order_relaxed));
    pthread_mutex_unlock(&tallies_lock);
    /* Another key's destructor may still free tensors: they would list
     * the tally again, and this runs again. */
    atomic_store_explicit(&t->tensors, 0, memory_order_relaxed);
    atomic_store_explicit(&t->bytes, 0, memory_order_relaxed);
    t->listed = false;
}

static void make_end_key(void)
{
    /* Without the key (no memory), an ending thread's tally stays listed:
     * its counts stay right, only the list grows. */
    (void)pthread_key_create(&end_key, tally_end);
}

/* This thread's tally, listed at first use. */
static tally *my_tally(void)
{
    tally *t = &mine;
    if (!t->listed) {
        pthread_once(&end_key_once, make_end_key);
        pthread_mutex_lock(&tallies_lock);
        t->next = tallies;
        tallies = t;
        t->listed = true;
        pthread_mutex_unlock(&tallies_lock);
        (void)pthread_setspecific(end_key, t);
    }
    return t;
}

static void add(_Atomic int64_t *counter, int64_t delta)
{
    atomic_store_explicit(
        counter, atomic_load_explicit(counter, memory_order_relaxed) + delta,
        memory_order_relaxed);
}

uint64_t em__tally_tensor_new(void)
{
    tally *t = my_tally();
    add(&t->tensors, 1);
    if (t->next_id == t->end_id) {
        t->next_id = atomic_fetch_add(&next_id_block, ID_BLOCK);
        t->end_id = t->next_id + ID_BLOCK;
    }
    return t->next_id++;
}

void em__tally_tensor_gone(void)
{
    add(&my_tally()->tensors, -1);
}

void em__tally_bytes(int64_t delta)
{
    tally *t = my_tally();
    int64_t pending = atomic_load_explicit(&t->bytes, memory_order_relaxed);
    pending += delta;
    if (pending >= BYTES_STEP || pending <= -BYTES_STEP) {
        raise_peak(atomic_fetch_add(&shared_bytes, pending) + pending);
        pending = 0;
    }
    atomic_store_explicit(&t->bytes, pending, memory_order_relaxed);
}

em_memory_stats em_memory_get_stats(void)
{
    em_memory_stats stats = {0};
    pthread_mutex_lock(&tallies_lock);
    stats.live_tensors = ended_tensors;
    stats.live_bytes = atomic_load(&shared_bytes);
    for (const tally *t = tallies; t; t = t->next) {
        stats.live_tensors +=
            atomic_load_explicit(&t->tensors, memory_order_relaxed);
        stats.live_bytes +=
            atomic_load_explicit(&t->bytes, memory_order_relaxed);
    }
    pthread_mutex_unlock(&tallies_lock);
    raise_peak(stats.live_bytes);
    stats.peak_bytes = atomic_load(&peak_bytes);
    return stats;
}
