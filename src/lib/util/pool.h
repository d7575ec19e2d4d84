/*
 * pool.h: a fixed thread pool running caller-owned jobs.
 *
 * The caller embeds an mvm_job as the first member of its own struct, sets
 * `fn`, submits it and later waits for that very job. Waiting on jobs in
 * submission order gives an ordered pipeline with bounded work in flight.
 */
#ifndef MVM_UTIL_POOL_H
#define MVM_UTIL_POOL_H

typedef struct mvm_job {
	void (*fn)(struct mvm_job *job);
	struct mvm_job *next;
	int done;
} mvm_job;

typedef struct mvm_pool mvm_pool;

/** nthreads <= 0 means one per online CPU. */
int mvm_pool_new(mvm_pool **out, int nthreads);
void mvm_pool_submit(mvm_pool *pool, mvm_job *job);
void mvm_pool_wait(mvm_pool *pool, mvm_job *job);
/** Run the job on the calling thread now, as if submitted and finished (waiting on it returns at once). */
void mvm_job_run_here(mvm_job *job);
/** Joins the workers; jobs still queued are run first. */
void mvm_pool_free(mvm_pool *pool);
int mvm_ncpu(void);

#endif
