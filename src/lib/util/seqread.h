/*
 * seqread.h: a sequential file reader for bulk input (the files add reads
 * once, front to back), into the caller's buffers. What the page cache
 * holds (a file just written usually is there, whole) is copied from it;
 * the rest is read with O_DIRECT straight into the caller's buffer, where
 * the buffer, the offset and the length are page-aligned and the file
 * system allows it.
 *
 * Why not the page cache: on the VMs we measured, filling fresh page-cache
 * pages costs more CPU than the copy itself (the same reason seqfile.h
 * writes with O_DIRECT). The cold 4 GiB fine-tune add spent 5.5 s of
 * system time reading through the page cache and 2.2 s with direct reads
 * into a bounce buffer; reading into the batches themselves also saves
 * copying out of that buffer. Dirty pages of a file just written are
 * flushed by the kernel before a direct read, so the bytes are always the
 * file's. One read at a time runs on the reader's thread (for a large
 * file), started ahead and waited for when its bytes are needed.
 */
#ifndef MVM_UTIL_SEQREAD_H
#define MVM_UTIL_SEQREAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct mvm_seqread mvm_seqread;

/*
 * Read the first `size` bytes of the file open for reading at fd (not
 * owned; reopened through /proc/self/fd with O_DIRECT). `what` names the
 * file in errors and must outlive the reader.
 */
int mvm_seqread_open(mvm_seqread **out, int fd, uint64_t size, const char *what);

/*
 * Start reading the next n bytes into dst, which has room for n rounded
 * up to 4096 (a direct read of the file's last bytes asks for whole
 * pages) and is not touched until mvm_seqread_finish. One read at a time.
 */
int mvm_seqread_start(mvm_seqread *r, void *dst, size_t n);
/*
 * Wait for the read started (0 when none is). MVM_ECORRUPT when the file
 * ended before `size` (it shrank while being read); MVM_ERROR for a read
 * error.
 */
int mvm_seqread_finish(mvm_seqread *r);
/* Start and finish one read. */
int mvm_seqread_next(mvm_seqread *r, void *dst, size_t n);

/* Free the reader (not fd), after the read in flight. */
void mvm_seqread_free(mvm_seqread *r);

#endif
