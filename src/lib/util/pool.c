/*
 * pool.c: worker threads pulling jobs from one FIFO queue.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "mvm/common.h"
#include "pool.h"

struct mvm_pool {
	pthread_mutex_t lock;
	pthread_cond_t work, finished;
	mvm_job *head, *tail;
	pthread_t *threads;
	int nthreads, stopping;
};

int mvm_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : (int)n;
}

static void *worker(void *arg)
{
	mvm_pool *pool = arg;
	mvm_job *job;

	pthread_mutex_lock(&pool->lock);
	for (;;) {
		while (!pool->head && !pool->stopping)
			pthread_cond_wait(&pool->work, &pool->lock);
		if (!(job = pool->head))
			break;
		if (!(pool->head = job->next))
			pool->tail = NULL;
		pthread_mutex_unlock(&pool->lock);
		job->fn(job);
		pthread_mutex_lock(&pool->lock);
		job->done = 1;
		pthread_cond_broadcast(&pool->finished);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

int mvm_pool_new(mvm_pool **out, int nthreads)
{
	mvm_pool *pool;
	int i;

	*out = NULL;
	if (nthreads <= 0)
		nthreads = mvm_ncpu();
	if (!(pool = calloc(1, sizeof(*pool))) ||
	    !(pool->threads = calloc((size_t)nthreads, sizeof(pthread_t)))) {
		free(pool);
		return mvm_error_set(MVM_ERROR, "out of memory for a thread pool");
	}
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->work, NULL);
	pthread_cond_init(&pool->finished, NULL);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&pool->threads[i], NULL, worker, pool) != 0)
			break;
		pool->nthreads++;
	}
	if (!pool->nthreads) {
		mvm_pool_free(pool);
		return mvm_error_set(MVM_ERROR, "cannot start worker threads");
	}
	*out = pool;
	return 0;
}

void mvm_pool_submit(mvm_pool *pool, mvm_job *job)
{
	job->next = NULL;
	job->done = 0;
	pthread_mutex_lock(&pool->lock);
	if (pool->tail)
		pool->tail->next = job;
	else
		pool->head = job;
	pool->tail = job;
	pthread_cond_signal(&pool->work);
	pthread_mutex_unlock(&pool->lock);
}

void mvm_job_run_here(mvm_job *job)
{
	job->next = NULL;
	job->done = 0;
	job->fn(job);
	job->done = 1;
}

void mvm_pool_wait(mvm_pool *pool, mvm_job *job)
{
	pthread_mutex_lock(&pool->lock);
	while (!job->done)
		pthread_cond_wait(&pool->finished, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}

void mvm_pool_free(mvm_pool *pool)
{
	int i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = 1;
	pthread_cond_broadcast(&pool->work);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->work);
	pthread_cond_destroy(&pool->finished);
	free(pool->threads);
	free(pool);
}
