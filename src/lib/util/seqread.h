/*
 * seqread.h: a sequential file reader for bulk input (the files add reads
 * once, front to back). A background thread works ahead through the file
 * a few megabytes at a time: what the page cache holds (a file just
 * written usually is there, whole) the caller copies straight from it;
 * the rest the thread reads into page-aligned buffers with O_DIRECT, where
 * the file system allows it, and the caller copies from those.
 *
 * Why not the page cache: on the VMs we measured, filling fresh page-cache
 * pages costs more CPU than the copy itself (the same reason seqfile.h
 * writes with O_DIRECT). The cold 4 GiB fine-tune add spent 5.5 s of
 * system time reading through the page cache and 2.2 s with direct reads
 * into a bounce buffer. Dirty pages of a file just written are flushed by
 * the kernel before a direct read, so the bytes are always the file's.
 */
#ifndef MVM_UTIL_SEQREAD_H
#define MVM_UTIL_SEQREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct mvm_seqread mvm_seqread;

/*
 * Start reading the first `size` bytes of the file open for reading at fd
 * (not owned; reopened through /proc/self/fd with O_DIRECT). `what` names
 * the file in errors and must outlive the reader.
 */
int mvm_seqread_open(mvm_seqread **out, int fd, uint64_t size, const char *what);

/*
 * The next n bytes into dst. MVM_ECORRUPT when the file ends before
 * `size` (it shrank while being read); MVM_ERROR for a read error.
 */
int mvm_seqread_next(mvm_seqread *r, void *dst, size_t n);

/* Stop the reader (waiting for a read in flight) and free its buffers. */
void mvm_seqread_free(mvm_seqread *r);

#endif
