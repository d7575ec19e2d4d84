/*
 * seqfile.h: a sequential file writer for bulk data (pack files, restored
 * model files). It writes from one reused, page-aligned buffer with
 * O_DIRECT where the file system allows it: the bytes go from that buffer
 * to the device without a page-cache copy, which on large files costs more
 * CPU than compressing them (fresh page-cache pages are expensive to
 * allocate, most of all in virtual machines). Where O_DIRECT is refused
 * (tmpfs, some network file systems) it falls back to ordinary writes
 * and starts their writeback early, so a final fsync finds little to do.
 */
#ifndef MVM_UTIL_SEQFILE_H
#define MVM_UTIL_SEQFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mvm_seqfile {
	int fd;
	int direct;		/* O_DIRECT is on */
	unsigned char *buf;	/* page-aligned, cap bytes */
	size_t len, cap;
	uint64_t flushed;	/* bytes already written to fd */
	const char *what;	/* names the file in errors; not owned */
} mvm_seqfile;

#define MVM_SEQFILE_INIT { -1, 0, NULL, 0, 0, 0, NULL }

/*
 * Start writing at offset 0 of the empty file open for writing at fd (not
 * owned). The buffer is kept across files when `f` is reused.
 */
int mvm_seqfile_start(mvm_seqfile *f, int fd, const char *what);
int mvm_seqfile_append(mvm_seqfile *f, const void *p, size_t n);
/** Bytes appended so far. */
uint64_t mvm_seqfile_size(const mvm_seqfile *f);
/** Write what is left (the unaligned tail without O_DIRECT) and, when sync is set, fsync. */
int mvm_seqfile_finish(mvm_seqfile *f, int sync);
/** Free the buffer. The fd is the caller's. */
void mvm_seqfile_dispose(mvm_seqfile *f);

#endif
