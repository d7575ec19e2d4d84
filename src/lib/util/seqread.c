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
#include "seqread.h"

#define READ_ALIGN 4096u
/*
 * A file up to this size is read through the page cache only: a mapping
 * and a second descriptor per file cost more than reading a small file
 * (20k files of 10 KB: add 17 s, mostly such costs).
 */
#define READ_DIRECT_MIN (1u << 20)

struct mvm_seqread {
	int fd;                  /* the caller's, read through the page cache */
	int dfd;                 /* the same file opened again with O_DIRECT, or -1 */
	unsigned char *map;      /* the file mapped, only to ask which pages are cached; or NULL */
	unsigned char *resident; /* mincore's answer for one read */
	size_t resident_cap;
	uint64_t size, next;     /* bytes to read in all; offset of the next read */
	const char *what;
};

int mvm_seqread_open(mvm_seqread **out, int fd, uint64_t size, const char *what)
{
	mvm_seqread *r;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return mvm_error_set(MVM_ERROR, "out of memory for a reader");
	r->fd = fd;
	r->dfd = -1;
	r->size = size;
	r->what = what;
	if (size >= READ_DIRECT_MIN) {
		if ((r->map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
			r->map = NULL; /* then every aligned read goes to the disk */
		r->dfd = mvm_fs_reopen_direct(fd);
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
static int direct_fits(const mvm_seqread *r, const void *dst, size_t n)
{
	return r->dfd >= 0 && !((uintptr_t)dst % READ_ALIGN) && !(r->next % READ_ALIGN) &&
	       (!(n % READ_ALIGN) || r->next + n == r->size);
}

int mvm_seqread_next(mvm_seqread *r, void *dst, size_t n)
{
	size_t got, room = (n + READ_ALIGN - 1) & ~(size_t)(READ_ALIGN - 1);
	int error;

	if (n > r->size - r->next)
		return mvm_error_set(MVM_ECORRUPT, "%s: read past its %llu bytes", r->what,
				     (unsigned long long)r->size);
	if (direct_fits(r, dst, n) && !cached(r, r->next, n))
		error = mvm_fs_pread_direct(&got, &r->dfd, r->fd, dst, n, room, r->next, r->what);
	else
		error = mvm_fs_pread_all(r->fd, dst, n, r->next, r->what);
	if (error == MVM_ECORRUPT)
		return mvm_error_set(MVM_ECORRUPT, "%s ended early: it shrank while being read", r->what);
	if (error < 0)
		return error;
	r->next += n;
	return 0;
}

void mvm_seqread_free(mvm_seqread *r)
{
	if (!r)
		return;
	if (r->map)
		munmap(r->map, (size_t)r->size);
	if (r->dfd >= 0)
		close(r->dfd);
	free(r->resident);
	free(r);
}
