/*
 * seqfile.h: a sequential file writer for bulk data (pack files, restored
 * model files). It writes from page-aligned buffers with O_DIRECT where
 * the file system allows it: the bytes go from the buffer to the device
 * without a page-cache copy, which on large files costs more CPU than
 * compressing them (fresh page-cache pages are expensive to allocate, most
 * of all in virtual machines). Where O_DIRECT is refused (tmpfs, some
 * network file systems) it falls back to ordinary writes and starts their
 * writeback early, so a final fsync finds little to do.
 *
 * Full buffers are queued for a background thread, which writes them in
 * order while the caller fills another, so the caller (which also reads,
 * cuts or decodes) waits on the disk only when it outruns it by the
 * queue's length: a pack's writes come in bursts and this disk's speed
 * varies from one write to the next.
 */
#ifndef MVM_UTIL_SEQFILE_H
#define MVM_UTIL_SEQFILE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mvm_seqfile {
	unsigned char *buf;	/* being filled: page-aligned, cap bytes */
	size_t len, cap;
	uint64_t flushed;	/* bytes written or being written to the file */
	struct mvm_seqfile_writer *writer; /* the file and the writes in flight, from the first start on */
} mvm_seqfile;

#define MVM_SEQFILE_INIT { NULL, 0, 0, 0, NULL }

/*
 * Start writing at offset 0 of the empty file open for writing at fd (not
 * owned). fd and `what` must stay valid until the finish or cancel.
 * Buffers and writer are kept across files when `f` is reused. Errors of
 * a background write are returned by a later append or finish. With
 * writes queued, the struct may be moved by value and finished on another
 * thread, one thread using it at a time.
 */
int mvm_seqfile_start(mvm_seqfile *f, int fd, const char *what);
int mvm_seqfile_append(mvm_seqfile *f, const void *p, size_t n);
/** Bytes appended so far. */
uint64_t mvm_seqfile_size(const mvm_seqfile *f);
/** Write what is left (the unaligned tail without O_DIRECT) and, when sync is set, fsync. */
int mvm_seqfile_finish(mvm_seqfile *f, int sync);
/** Wait for the writes in flight and drop their results: call before closing the fd after an error. */
void mvm_seqfile_cancel(mvm_seqfile *f);
/** Stop the writer and free the buffers. The fd is the caller's. */
void mvm_seqfile_dispose(mvm_seqfile *f);

#endif
