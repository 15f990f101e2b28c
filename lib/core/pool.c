/* The network's thread pool.  Jobs are short (tens of microseconds for a
 * dense layer at mini-batch 10), so waking a worker through a condition
 * variable, several microseconds on a virtual machine, would eat the gain.
 * Both sides therefore spin for a while on an atomic counter before they
 * sleep: a worker that just finished a job catches the next one of the same
 * training step without a system call, and one left idle (between epochs,
 * or when the network sits unused) goes to sleep on the condition variable
 * after about CNN_POOL_SPIN iterations (~0.1 ms) and costs nothing.
 *
 * A job's parts are claimed, not assigned: the caller and the workers take
 * part numbers from an atomic counter until none is left.  When the other
 * cores are busy with other processes, a worker may not run for
 * milliseconds; the caller then does its parts itself instead of waiting.
 * fn(ctx, t) gets the part number t whichever thread runs it, and callers
 * index their per-part scratch by t, so the results do not depend on who ran
 * what. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <immintrin.h>
#  define cpu_relax() _mm_pause()
#else
#  define cpu_relax() ((void)0)
#endif

/* Spin iterations before sleeping (a pause is ~10-140 cycles by CPU). */
#define CNN_POOL_SPIN 4000

typedef struct pool_worker {
    struct cnn_pool *pool;
    int index;
    pthread_t tid;
} pool_worker;

struct cnn_pool {
    int threads;                  /* parts per job */
    int started;                  /* workers running */
    pool_worker *workers;         /* threads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_uint_fast64_t generation; /* bumped per job, after the fields below are set */
    atomic_int next_part;         /* next part number to claim */
    atomic_int parts_done;
    atomic_bool quit;
    void (*fn)(void *ctx, int t);
    void *ctx;
};

/* Waits until the job counter moves past `seen` (or quit); returns false on quit. */
static bool wait_for_job(cnn_pool *p, uint64_t seen)
{
    for (int i = 0; i < CNN_POOL_SPIN; i++) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen)
            return !atomic_load_explicit(&p->quit, memory_order_acquire);
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen &&
           !atomic_load_explicit(&p->quit, memory_order_acquire))
        pthread_cond_wait(&p->go, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return !atomic_load_explicit(&p->quit, memory_order_acquire);
}

/* Claims and runs parts of the current job until none is left; returns
 * true when this thread finished the job's last part. */
static bool run_parts(cnn_pool *p)
{
    bool last = false;
    for (;;) {
        /* The acquire pairs with the caller's release of next_part = 0: a
         * successful claim sees that job's fn and ctx. */
        const int t = atomic_fetch_add_explicit(&p->next_part, 1, memory_order_acq_rel);
        if (t >= p->threads)
            return last;
        p->fn(p->ctx, t);
        last = atomic_fetch_add_explicit(&p->parts_done, 1, memory_order_acq_rel) + 1 == p->threads;
    }
}

static void *pool_main(void *arg)
{
    pool_worker *w = arg;
    cnn_pool *p = w->pool;
    uint64_t seen = 0;
    while (wait_for_job(p, seen)) {
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (run_parts(p)) {
            /* Last part done: wake the caller if it went to sleep.  Taking
             * the mutex orders this signal after the caller's check-then-wait. */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}
void cnn_pool_destroy(cnn_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->quit, true, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->workers[i].tid, NULL);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    cnn_dealloc(p->workers);
    cnn_dealloc(p);
}

cnn_status cnn_pool_create(int threads, cnn_pool **out)
{
    *out = NULL;
    cnn_pool *p = cnn_alloc_zeroed(1, sizeof *p);
    pool_worker *w = p ? cnn_alloc_zeroed((size_t)threads, sizeof *w) : NULL;
    if (!p || !w) {
        cnn_dealloc(p);
        return cnn_fail(CNN_ENOMEM, "network: out of memory for %d threads", threads);
    }
    p->threads = threads;
    p->workers = w;
    atomic_init(&p->generation, 0);
    atomic_init(&p->next_part, threads); /* nothing to claim yet */
    atomic_init(&p->parts_done, 0);
    atomic_init(&p->quit, false);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 0; i < threads - 1; i++) {
        w[i].pool = p;
        w[i].index = i + 1;
        if (pthread_create(&w[i].tid, NULL, pool_main, &w[i]) != 0) {
            cnn_pool_destroy(p);
            return cnn_fail(CNN_ENOMEM, "network: cannot start worker thread %d of %d", i + 1,
                            threads);
        }
        p->started++;
    }
    *out = p;
    return CNN_OK;
}

int cnn_pool_threads(const cnn_pool *p)
{
    return p->threads;
}

void cnn_pool_run(cnn_pool *p, void (*fn)(void *ctx, int t), void *ctx)
{
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->parts_done, 0, memory_order_relaxed);
    /* Opens the parts to claims; the release publishes fn and ctx. */
    atomic_store_explicit(&p->next_part, 0, memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    if (run_parts(p))
        return;
    /* Parts are still running on workers. */
    for (int i = 0; i < CNN_POOL_SPIN; i++) {
        if (atomic_load_explicit(&p->parts_done, memory_order_acquire) == p->threads)
            return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->parts_done, memory_order_acquire) < p->threads)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
