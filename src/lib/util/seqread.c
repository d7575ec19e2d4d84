/*
 * seqread.c: sequential reads ahead on a thread, with O_DIRECT into
 * aligned buffers for what the page cache does not hold (see seqread.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/common.h"
#include "bulkmem.h"
#include "fs.h"
#include "pool.h"
#include "seqread.h"

#define READ_BUF_SIZE (4u << 20)
#define READ_BUFS 3
#define READ_ALIGN 4096u
/*
 * A file up to this size is read on the caller's thread, through the page
 * cache: there is nothing to read ahead of, and a thread, three buffers,
 * a mapping and a second descriptor per file cost ~0.4 ms, far more than
 * reading a small file (20k files of 10 KB: add 17 s, mostly that).
 */
#define READ_INLINE_MAX (1u << 20)

/*
 * One buffer's worth of the file, from offset `at`: read into buf by the
 * thread, or left to the caller to copy from the page cache (`cached`).
 */
typedef struct {
	mvm_job job; /* first: the pool hands it back */
	mvm_seqread *r;
	unsigned char *buf;
	uint64_t at;
	size_t want, got, used;
	int queued, cached, error;
	char msg[256];
} read_slot;

struct mvm_seqread {
	int fd;               /* the caller's, read through the page cache */
	int dfd;              /* the same file opened again with O_DIRECT, or -1 */
	unsigned char *map;   /* the file mapped, only to ask which pages are cached; or NULL */
	unsigned char *resident; /* mincore's answer for one buffer (the thread's) */
	uint64_t size, next;  /* bytes to read in all; offset of the next read to queue */
	size_t cap;           /* bytes per buffer, a multiple of READ_ALIGN */
	const char *what;
	mvm_pool *pool;       /* one thread: reads run one at a time, in order; NULL: reads inline */
	read_slot slot[READ_BUFS];
	unsigned int cur;     /* the slot the caller copies from */
};

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
	if (mincore(r->map + first * page, pages * page, r->resident) < 0)
		return 0;
	for (i = 0; i < pages; i++)
		if (!(r->resident[i] & 1))
			return 0;
	return 1;
}

/* Fill the slot: direct reads ask for the whole aligned buffer (they stop at the end of the file). */
static int read_in(mvm_seqread *r, read_slot *s)
{
	return mvm_fs_pread_direct(&s->got, &r->dfd, r->fd, s->buf, s->want, r->cap, s->at, r->what);
}

static void read_run(mvm_job *job)
{
	read_slot *s = (read_slot *)job;
	mvm_seqread *r = s->r;

	if ((s->cached = cached(r, s->at, s->want)))
		return;
	if ((s->error = read_in(r, s)) < 0)
		snprintf(s->msg, sizeof(s->msg), "%s", mvm_error_last());
}

/* Queue the slot's next read, if the file has bytes left. */
static void queue(mvm_seqread *r, read_slot *s)
{
	s->queued = 0;
	if (r->next >= r->size)
		return;
	s->at = r->next;
	s->want = r->size - r->next < r->cap ? (size_t)(r->size - r->next) : r->cap;
	s->got = s->used = 0;
	s->cached = s->error = 0;
	s->job.fn = read_run;
	s->queued = 1;
	r->next += s->want;
	mvm_pool_submit(r->pool, &s->job);
}

int mvm_seqread_open(mvm_seqread **out, int fd, uint64_t size, const char *what)
{
	mvm_seqread *r;
	unsigned int i;
	int error;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return mvm_error_set(MVM_ERROR, "out of memory for a reader");
	r->fd = fd;
	r->dfd = -1;
	r->size = size;
	r->what = what;
	if (size <= READ_INLINE_MAX) {
		*out = r;
		return 0;
	}
	r->cap = size < READ_BUF_SIZE ? (size_t)((size + READ_ALIGN - 1) & ~(uint64_t)(READ_ALIGN - 1)) : READ_BUF_SIZE;
	if (!r->cap)
		r->cap = READ_ALIGN;
	for (i = 0; i < READ_BUFS; i++) {
		r->slot[i].r = r;
		if (!(r->slot[i].buf = mvm_bulk_alloc(r->cap)))
			goto oom;
	}
	if (!(r->resident = malloc(r->cap / READ_ALIGN + 2)))
		goto oom;
	if (size && (r->map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
		r->map = NULL; /* then every read goes to the disk */
	r->dfd = mvm_fs_reopen_direct(fd);
	if ((error = mvm_pool_new(&r->pool, 1)) < 0) {
		mvm_seqread_free(r);
		return error;
	}
	for (i = 0; i < READ_BUFS; i++)
		queue(r, &r->slot[i]);
	*out = r;
	return 0;
oom:
	mvm_seqread_free(r);
	return mvm_error_set(MVM_ERROR, "out of memory for read buffers");
}

/* n bytes at `at` through the page cache; a short read means the file shrank. */
static int read_cached(mvm_seqread *r, void *dst, size_t n, uint64_t at)
{
	int error = mvm_fs_pread_all(r->fd, dst, n, at, r->what);

	if (error == MVM_ECORRUPT)
		return mvm_error_set(MVM_ECORRUPT, "%s ended early: it shrank while being read", r->what);
	return error;
}

static int read_past_end(mvm_seqread *r)
{
	return mvm_error_set(MVM_ECORRUPT, "%s: read past its %llu bytes", r->what, (unsigned long long)r->size);
}

/* A small file: straight from the file, no thread or buffers between. */
static int read_inline(mvm_seqread *r, void *dst, size_t n)
{
	int error;

	if (n > r->size - r->next)
		return read_past_end(r);
	if ((error = read_cached(r, dst, n, r->next)) < 0)
		return error;
	r->next += n;
	return 0;
}

int mvm_seqread_next(mvm_seqread *r, void *dst, size_t n)
{
	unsigned char *d = dst;
	int error;

	if (!r->pool)
		return read_inline(r, dst, n);
	while (n) {
		read_slot *s = &r->slot[r->cur];
		size_t k;

		if (!s->queued)
			return read_past_end(r);
		mvm_pool_wait(r->pool, &s->job);
		if (s->error < 0)
			return mvm_error_set(s->error, "%s", s->msg);
		k = s->want - s->used < n ? s->want - s->used : n;
		/* a cached slot comes straight from the page cache */
		if (s->cached && (error = read_cached(r, d, k, s->at + s->used)) < 0)
			return error;
		if (!s->cached)
			memcpy(d, s->buf + s->used, k);
		s->used += k;
		d += k;
		n -= k;
		if (s->used == s->want) {
			queue(r, s);
			r->cur = (r->cur + 1) % READ_BUFS;
		}
	}
	return 0;
}

void mvm_seqread_free(mvm_seqread *r)
{
	unsigned int i;

	if (!r)
		return;
	mvm_pool_free(r->pool); /* runs what is queued, then joins */
	for (i = 0; i < READ_BUFS; i++)
		mvm_bulk_free(r->slot[i].buf, r->cap);
	if (r->map)
		munmap(r->map, (size_t)r->size);
	if (r->dfd >= 0)
		close(r->dfd);
	free(r->resident);
	free(r);
}
