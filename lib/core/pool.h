/* A small persistent thread pool: threads - 1 workers plus the calling
 * thread share the parts of each job.  A network owns one (threads > 1)
 * and runs one job at a time on it: a conv layer's batch split by images, a
 * dense layer's work split by output rows or input columns. */
#ifndef CNN_POOL_H
#define CNN_POOL_H

#include "core.h"

typedef struct cnn_pool cnn_pool;

/* Starts threads - 1 workers.  CNN_ENOMEM when memory or a thread is refused. */
cnn_status cnn_pool_create(int threads, cnn_pool **out);
/* Stops and joins the workers; NULL is fine. */
void cnn_pool_destroy(cnn_pool *pool);
int cnn_pool_threads(const cnn_pool *pool);
/* Runs fn(ctx, t) once for every part t = 0 .. threads-1, concurrently as
 * far as the workers are free (the caller runs parts too, all of them if the
 * workers do not get a core), and returns when all are done. */
void cnn_pool_run(cnn_pool *pool, void (*fn)(void *ctx, int t), void *ctx);

#endif
