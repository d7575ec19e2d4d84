/*
 * seqread.c: sequential reads into the caller's buffers, with O_DIRECT for
 * what the page cache does not hold (see seqread.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/common.h"
#include "fs.h"
#include "pool.h"
#include "seqread.h"

#define READ_ALIGN 4096u
/*
 * A file smaller than this is read through the page cache only, on the
 * caller's thread: a thread, a mapping and a second descriptor per file
 * cost more than reading a small file (20k files of 10 KB: add 17 s,
 * mostly such costs).
 */
#define READ_DIRECT_MIN (1u << 20)

/* The read in flight: n bytes at `at` into dst. */
typedef struct {
	mvm_job job; /* first: the pool hands it back */
	mvm_seqread *r;
	void *dst;
	size_t n;
	uint64_t at;
	int queued, error;
	char msg[256];
} read_req;

struct mvm_seqread {
	int fd;                  /* the caller's, read through the page cache */
	int dfd;                 /* the same file opened again with O_DIRECT, or -1 */
	unsigned char *map;      /* the file mapped, only to ask which pages are cached; or NULL */
	unsigned char *resident; /* mincore's answer for one read */
	size_t resident_cap;
	uint64_t size, next;     /* bytes to read in all; offset of the next read */
	const char *what;
	mvm_pool *pool;          /* one thread, for a large file; NULL: reads run on the caller's */
	read_req req;
};

int mvm_seqread_open(mvm_seqread **out, int fd, uint64_t size, const char *what)
{
	mvm_seqread *r;
	int error;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return mvm_error_set(MVM_ERROR, "out of memory for a reader");
	r->fd = fd;
	r->dfd = -1;
	r->size = size;
	r->what = what;
	r->req.r = r;
	if (size >= READ_DIRECT_MIN) {
		if ((r->map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
			r->map = NULL; /* then every aligned read goes to the disk */
		r->dfd = mvm_fs_reopen_direct(fd);
		if ((error = mvm_pool_new(&r->pool, 1)) < 0) {
			mvm_seqread_free(r);
			return error;
		}
	}
	*out = r;
	return 0;
}

/*
 * Whether all of [at, at + n) is in the page cache: copying it from there
 * costs less than reading the disk again (a checkpoint just written by a
 * training job usually is, and may not be on the disk yet).
 */
static int cached(mvm_seqread *r, uint64_t at, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), first = (size_t)(at / page), i, pages;

	if (!r->map)
		return 0;
	pages = (size_t)((at + n + page - 1) / page) - first;
	if (pages > r->resident_cap) {
		unsigned char *nr = realloc(r->resident, pages);
		if (!nr)
			return 0;
		r->resident = nr;
		r->resident_cap = pages;
	}
	if (mincore(r->map + first * page, pages * page, r->resident) < 0)
		return 0;
	for (i = 0; i < pages; i++)
		if (!(r->resident[i] & 1))
			return 0;
	return 1;
}

/* A direct read fits: an aligned place, offset and length (or the file's end). */
static int direct_fits(const mvm_seqread *r, const read_req *q)
{
	return r->dfd >= 0 && !((uintptr_t)q->dst % READ_ALIGN) && !(q->at % READ_ALIGN) &&
	       (!(q->n % READ_ALIGN) || q->at + q->n == r->size);
}

static void read_run(mvm_job *job)
{
	read_req *q = (read_req *)job;
	mvm_seqread *r = q->r;
	size_t got, room = (q->n + READ_ALIGN - 1) & ~(size_t)(READ_ALIGN - 1);

	if (direct_fits(r, q) && !cached(r, q->at, q->n))
		q->error = mvm_fs_pread_direct(&got, &r->dfd, r->fd, q->dst, q->n, room, q->at, r->what);
	else
		q->error = mvm_fs_pread_all(r->fd, q->dst, q->n, q->at, r->what);
	if (q->error == MVM_ECORRUPT)
		snprintf(q->msg, sizeof(q->msg), "%s ended early: it shrank while being read", r->what);
	else if (q->error < 0)
		snprintf(q->msg, sizeof(q->msg), "%s", mvm_error_last());
}

int mvm_seqread_start(mvm_seqread *r, void *dst, size_t n)
{
	read_req *q = &r->req;

	if (q->queued)
		return mvm_error_set(MVM_ERROR, "%s: a read is already in flight", r->what);
	if (n > r->size - r->next)
		return mvm_error_set(MVM_ECORRUPT, "%s: read past its %llu bytes", r->what,
				     (unsigned long long)r->size);
	q->dst = dst;
	q->n = n;
	q->at = r->next;
	q->error = 0;
	q->job.fn = read_run;
	q->queued = 1;
	r->next += n;
	if (r->pool)
		mvm_pool_submit(r->pool, &q->job);
	else
		mvm_job_run_here(&q->job);
	return 0;
}

int mvm_seqread_finish(mvm_seqread *r)
{
	read_req *q = &r->req;

	if (!q->queued)
		return 0;
	if (r->pool)
		mvm_pool_wait(r->pool, &q->job);
	q->queued = 0;
	return q->error < 0 ? mvm_error_set(q->error, "%s", q->msg) : 0;
}

int mvm_seqread_next(mvm_seqread *r, void *dst, size_t n)
{
	int error = mvm_seqread_start(r, dst, n);

	return error < 0 ? error : mvm_seqread_finish(r);
}

void mvm_seqread_free(mvm_seqread *r)
{
	if (!r)
		return;
	mvm_pool_free(r->pool); /* runs a queued read, then joins */
	if (r->map)
		munmap(r->map, (size_t)r->size);
	if (r->dfd >= 0)
		close(r->dfd);
	free(r->resident);
	free(r);
}
