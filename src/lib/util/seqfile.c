/*
 * seqfile.c: sequential writes through two aligned buffers, with O_DIRECT
 * when the file system takes it (see seqfile.h).
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

#define SEQ_BUF_SIZE (8u << 20)
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

/* The background write of one full buffer. */
struct mvm_seqfile_writer {
	mvm_job job; /* first: the pool hands it back */
	mvm_pool *pool;
	mvm_seqfile *f;
	const unsigned char *p;
	size_t n;
	uint64_t at;
	int busy, error;
	char msg[256];
};

static void set_direct(mvm_seqfile *f, int on)
{
	int flags = fcntl(f->fd, F_GETFL);

	if (flags < 0)
		return;
	flags = on ? flags | O_DIRECT : flags & ~O_DIRECT;
	f->direct = fcntl(f->fd, F_SETFL, flags) == 0 && on;
}

static int alloc_buffer(unsigned char **out)
{
	if (!(*out = mvm_bulk_alloc(SEQ_BUF_SIZE))) /* aligned for O_DIRECT */
		return mvm_error_set(MVM_ERROR, "out of memory for a write buffer");
	return 0;
}

/*
 * Write n bytes from p, which start at file offset `at`, at most once
 * retrying without O_DIRECT. Only one write is ever in flight, so the
 * writer thread may switch O_DIRECT off here.
 */
static int write_out(mvm_seqfile *f, const unsigned char *p, size_t n, uint64_t at)
{
	size_t left = n;

	while (left) {
		ssize_t w = write(f->fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL && f->direct) {
			set_direct(f, 0); /* the file system refused this alignment */
			continue;
		}
		if (w <= 0)
			return mvm_error_set(MVM_ERROR, "cannot write %s: %s", f->what,
					     w < 0 ? strerror(errno) : "no progress");
		p += w;
		left -= (size_t)w;
	}
	if (!f->direct)
		sync_file_range(f->fd, (off_t)at, (off_t)n, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static void writer_run(mvm_job *job)
{
	struct mvm_seqfile_writer *w = (struct mvm_seqfile_writer *)job;

	if ((w->error = write_out(w->f, w->p, w->n, w->at)) < 0)
		snprintf(w->msg, sizeof(w->msg), "%s", mvm_error_last());
}

/* Wait for the write in flight, if any, and report how it went. */
static int writer_wait(mvm_seqfile *f)
{
	struct mvm_seqfile_writer *w = f->writer;

	if (!w || !w->busy)
		return 0;
	mvm_pool_wait(w->pool, &w->job);
	w->busy = 0;
	return w->error < 0 ? mvm_error_set(w->error, "%s", w->msg) : 0;
}

/*
 * Hand the full buffer to the writer thread and go on filling the other:
 * the caller never waits on the disk unless it outruns it.
 */
static int write_behind(mvm_seqfile *f)
{
	struct mvm_seqfile_writer *w = f->writer;
	unsigned char *full = f->buf;
	int error;

	if (!w) {
		if (!(w = calloc(1, sizeof(*w))))
			return mvm_error_set(MVM_ERROR, "out of memory for a writer");
		if ((error = mvm_pool_new(&w->pool, 1)) < 0) {
			free(w);
			return error;
		}
		f->writer = w;
	}
	if ((error = writer_wait(f)) < 0 || (!f->spare && (error = alloc_buffer(&f->spare)) < 0))
		return error;
	stream_fence();
	w->f = f;
	w->p = full;
	w->n = f->len;
	w->at = f->flushed;
	w->job.fn = writer_run;
	w->busy = 1;
	mvm_pool_submit(w->pool, &w->job);
	f->flushed += f->len;
	f->buf = f->spare;
	f->spare = full;
	f->len = 0;
	return 0;
}

int mvm_seqfile_start(mvm_seqfile *f, int fd, const char *what)
{
	int error;

	mvm_seqfile_cancel(f);
	if (!f->buf && (error = alloc_buffer(&f->buf)) < 0)
		return error;
	f->cap = SEQ_BUF_SIZE;
	f->fd = fd;
	f->what = what;
	f->len = 0;
	f->flushed = 0;
	set_direct(f, 1);
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
	size_t whole = f->len & ~(size_t)(SEQ_ALIGN - 1);
	int error;

	if ((error = writer_wait(f)) < 0)
		return error;
	stream_fence();
	if (whole && (error = write_out(f, f->buf, whole, f->flushed)) < 0)
		return error;
	f->flushed += whole;
	if (f->len > whole) {
		set_direct(f, 0); /* the tail is not a whole block */
		if ((error = write_out(f, f->buf + whole, f->len - whole, f->flushed)) < 0)
			return error;
		f->flushed += f->len - whole;
	}
	f->len = 0;
	if (sync && fsync(f->fd) < 0)
		return mvm_error_set(MVM_ERROR, "cannot sync %s: %s", f->what, strerror(errno));
	return 0;
}

void mvm_seqfile_cancel(mvm_seqfile *f)
{
	if (writer_wait(f) < 0)
		mvm_error_clear();
}

void mvm_seqfile_dispose(mvm_seqfile *f)
{
	mvm_seqfile_cancel(f);
	if (f->writer) {
		mvm_pool_free(f->writer->pool);
		free(f->writer);
		f->writer = NULL;
	}
	free(f->buf);
	free(f->spare);
	f->buf = f->spare = NULL;
	f->cap = 0;
	f->len = 0;
}
