/*
 * seqfile.c: sequential writes through aligned buffers queued for a
 * writer thread, with O_DIRECT when the file system takes it (see
 * seqfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "mvm/common.h"
#include "bulkmem.h"
#include "fs.h"
#include "pool.h"
#include "seqfile.h"

#define SEQ_BUF_SIZE (4u << 20)
#define SEQ_WRITES 2 /* full buffers queued for the writer thread */
#define SEQ_ALIGN 4096u

/*
 * Copy into the write buffer with non-temporal stores: its bytes go to
 * the file and are never read by this CPU again, so caching them (and
 * first reading in every line they overwrite) only costs time and evicts
 * the data still being hashed and coded. Callers fence before the bytes
 * are written out (stream_fence).
 */
static void copy_in(unsigned char *dst, const unsigned char *src, size_t n)
{
#ifdef __SSE2__
	for (; n && ((uintptr_t)dst & 15); n--)
		*dst++ = *src++;
	for (; n >= 64; n -= 64, dst += 64, src += 64) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + 32));
		__m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + 48));
		_mm_stream_si128((__m128i *)(void *)dst, a);
		_mm_stream_si128((__m128i *)(void *)(dst + 16), b);
		_mm_stream_si128((__m128i *)(void *)(dst + 32), c);
		_mm_stream_si128((__m128i *)(void *)(dst + 48), d);
	}
#endif
	memcpy(dst, src, n);
}

/* Make copy_in's stores visible before another thread or the kernel reads the buffer. */
static void stream_fence(void)
{
#ifdef __SSE2__
	_mm_sfence();
#endif
}

/* The background write of one full buffer, which the slot owns until the next write through it. */
typedef struct {
	mvm_job job; /* first: the pool hands it back */
	struct mvm_seqfile_writer *w;
	unsigned char *buf;
	size_t n;
	uint64_t at;
	int busy, error;
	char msg[256];
} write_slot;

/*
 * The file and its writes, on the heap: queued writes keep pointing at it
 * when the caller moves its mvm_seqfile (the store hands a sealed pack's
 * writer to the sealer thread that way). One thread writes the queued
 * buffers in order.
 */
struct mvm_seqfile_writer {
	int fd;
	int direct;		/* O_DIRECT is on */
	const char *what;	/* names the file in errors; not owned */
	mvm_pool *pool;		/* from the first full buffer on */
	write_slot slot[SEQ_WRITES];
	unsigned int next;	/* the slot the next full buffer goes through */
};

static void set_direct(struct mvm_seqfile_writer *w, int on)
{
	int flags = fcntl(w->fd, F_GETFL);

	if (flags < 0)
		return;
	flags = on ? flags | O_DIRECT : flags & ~O_DIRECT;
	w->direct = fcntl(w->fd, F_SETFL, flags) == 0 && on;
}

static int alloc_buffer(unsigned char **out)
{
	if (!(*out = mvm_bulk_alloc(SEQ_BUF_SIZE))) /* aligned for O_DIRECT */
		return mvm_error_set(MVM_ERROR, "out of memory for a write buffer");
	return 0;
}

/*
 * Write n bytes from p, which start at file offset `at`, at most once
 * retrying without O_DIRECT. One thread writes, one write at a time, so
 * it may switch O_DIRECT off here.
 */
static int write_out(struct mvm_seqfile_writer *w, const unsigned char *p, size_t n, uint64_t at)
{
	size_t left = n;

	while (left) {
		ssize_t k = write(w->fd, p, left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EINVAL && w->direct) {
			set_direct(w, 0); /* the file system refused this alignment */
			continue;
		}
		if (k <= 0)
			return mvm_error_set(MVM_ERROR, "cannot write %s: %s", w->what,
					     k < 0 ? strerror(errno) : "no progress");
		p += k;
		left -= (size_t)k;
	}
	if (!w->direct)
		sync_file_range(w->fd, (off_t)at, (off_t)n, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static void writer_run(mvm_job *job)
{
	write_slot *s = (write_slot *)job;

	if ((s->error = write_out(s->w, s->buf, s->n, s->at)) < 0)
		snprintf(s->msg, sizeof(s->msg), "%s", mvm_error_last());
}

/* Wait for the slot's write, if any, and report how it went. */
static int slot_wait(struct mvm_seqfile_writer *w, write_slot *s)
{
	if (!s->busy)
		return 0;
	mvm_pool_wait(w->pool, &s->job);
	s->busy = 0;
	return s->error < 0 ? mvm_error_set(s->error, "%s", s->msg) : 0;
}

/* Wait for every write in flight, oldest first; the first failure is reported. */
static int writer_wait(struct mvm_seqfile_writer *w)
{
	unsigned int k;
	int error = 0, e;

	for (k = 0; w && k < SEQ_WRITES; k++)
		if ((e = slot_wait(w, &w->slot[(w->next + k) % SEQ_WRITES])) < 0 && !error)
			error = e;
	return error;
}

/*
 * Queue the full buffer for the writer thread and go on filling the
 * buffer of the oldest write, once that one is done: the caller waits on
 * the disk only when it outruns it by SEQ_WRITES buffers.
 */
static int write_behind(mvm_seqfile *f)
{
	struct mvm_seqfile_writer *w = f->writer;
	write_slot *s = &w->slot[w->next];
	unsigned char *full = f->buf;
	int error;

	if ((!w->pool && (error = mvm_pool_new(&w->pool, 1)) < 0) || (error = slot_wait(w, s)) < 0 ||
	    (!s->buf && (error = alloc_buffer(&s->buf)) < 0))
		return error;
	stream_fence();
	f->buf = s->buf;
	s->buf = full;
	s->w = w;
	s->n = f->len;
	s->at = f->flushed;
	s->job.fn = writer_run;
	s->busy = 1;
	mvm_pool_submit(w->pool, &s->job);
	w->next = (w->next + 1) % SEQ_WRITES;
	f->flushed += f->len;
	f->len = 0;
	return 0;
}

int mvm_seqfile_start(mvm_seqfile *f, int fd, const char *what)
{
	int error;

	mvm_seqfile_cancel(f);
	if (!f->writer && !(f->writer = calloc(1, sizeof(*f->writer))))
		return mvm_error_set(MVM_ERROR, "out of memory for a writer");
	if (!f->buf && (error = alloc_buffer(&f->buf)) < 0)
		return error;
	f->cap = SEQ_BUF_SIZE;
	f->writer->fd = fd;
	f->writer->what = what;
	f->len = 0;
	f->flushed = 0;
	set_direct(f->writer, 1);
	return 0;
}

int mvm_seqfile_append(mvm_seqfile *f, const void *p, size_t n)
{
	const unsigned char *c = p;
	int error;

	while (n) {
		size_t k = f->cap - f->len < n ? f->cap - f->len : n;
		copy_in(f->buf + f->len, c, k);
		f->len += k;
		c += k;
		n -= k;
		if (f->len == f->cap && (error = write_behind(f)) < 0)
			return error;
	}
	return 0;
}

uint64_t mvm_seqfile_size(const mvm_seqfile *f)
{
	return f->flushed + f->len;
}

int mvm_seqfile_finish(mvm_seqfile *f, int sync)
{
	struct mvm_seqfile_writer *w = f->writer;
	size_t whole = f->len & ~(size_t)(SEQ_ALIGN - 1);
	int error;

	if (!w) /* never started: nothing to write */
		return 0;
	if ((error = writer_wait(w)) < 0)
		return error;
	stream_fence();
	if (whole && (error = write_out(w, f->buf, whole, f->flushed)) < 0)
		return error;
	f->flushed += whole;
	if (f->len > whole) {
		set_direct(w, 0); /* the tail is not a whole block */
		if ((error = write_out(w, f->buf + whole, f->len - whole, f->flushed)) < 0)
			return error;
		f->flushed += f->len - whole;
	}
	f->len = 0;
	if (sync && fsync(w->fd) < 0)
		return mvm_error_set(MVM_ERROR, "cannot sync %s: %s", w->what, strerror(errno));
	return 0;
}

void mvm_seqfile_cancel(mvm_seqfile *f)
{
	if (writer_wait(f->writer) < 0)
		mvm_error_clear();
}

void mvm_seqfile_dispose(mvm_seqfile *f)
{
	unsigned int k;

	mvm_seqfile_cancel(f);
	if (f->writer) {
		mvm_pool_free(f->writer->pool);
		for (k = 0; k < SEQ_WRITES; k++)
			mvm_bulk_free(f->writer->slot[k].buf, SEQ_BUF_SIZE);
		free(f->writer);
		f->writer = NULL;
	}
	mvm_bulk_free(f->buf, SEQ_BUF_SIZE);
	f->buf = NULL;
	f->cap = 0;
	f->len = 0;
}
