/*
 * seqfile.c: sequential writes through an aligned buffer, with O_DIRECT
 * when the file system takes it (see seqfile.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/common.h"
#include "fs.h"
#include "seqfile.h"

#define SEQ_BUF_SIZE (8u << 20)
#define SEQ_ALIGN 4096u

static void set_direct(mvm_seqfile *f, int on)
{
	int flags = fcntl(f->fd, F_GETFL);

	if (flags < 0)
		return;
	flags = on ? flags | O_DIRECT : flags & ~O_DIRECT;
	f->direct = fcntl(f->fd, F_SETFL, flags) == 0 && on;
}

int mvm_seqfile_start(mvm_seqfile *f, int fd, const char *what)
{
	if (!f->buf) {
		void *p;
		if (posix_memalign(&p, SEQ_ALIGN, SEQ_BUF_SIZE))
			return mvm_error_set(MVM_ERROR, "out of memory for a write buffer");
		f->buf = p;
		f->cap = SEQ_BUF_SIZE;
	}
	f->fd = fd;
	f->what = what;
	f->len = 0;
	f->flushed = 0;
	set_direct(f, 1);
	return 0;
}

/* Write n bytes from the buffer, at most once retrying without O_DIRECT. */
static int write_out(mvm_seqfile *f, size_t n)
{
	const unsigned char *p = f->buf;
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
		sync_file_range(f->fd, (off_t)f->flushed, (off_t)n, SYNC_FILE_RANGE_WRITE);
	f->flushed += n;
	return 0;
}

/* Write the buffer's whole aligned blocks; keep the tail at the front. */
static int flush_aligned(mvm_seqfile *f)
{
	size_t n = f->len & ~(size_t)(SEQ_ALIGN - 1);
	int error;

	if (!n)
		return 0;
	if ((error = write_out(f, n)) < 0)
		return error;
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
	return 0;
}

int mvm_seqfile_append(mvm_seqfile *f, const void *p, size_t n)
{
	const unsigned char *c = p;
	int error;

	while (n) {
		size_t k = f->cap - f->len < n ? f->cap - f->len : n;
		memcpy(f->buf + f->len, c, k);
		f->len += k;
		c += k;
		n -= k;
		if (f->len == f->cap && (error = flush_aligned(f)) < 0)
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
	int error;

	if ((error = flush_aligned(f)) < 0)
		return error;
	if (f->len) {
		set_direct(f, 0); /* the tail is not a whole block */
		if ((error = write_out(f, f->len)) < 0)
			return error;
		f->len = 0;
	}
	if (sync && fsync(f->fd) < 0)
		return mvm_error_set(MVM_ERROR, "cannot sync %s: %s", f->what, strerror(errno));
	return 0;
}

void mvm_seqfile_dispose(mvm_seqfile *f)
{
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	f->len = 0;
}
