/*
 * fs.h: file helpers for crash safety (full writes, fsync of files and
 * directories, temp-then-rename) and bounded whole-file reads.
 */
#ifndef MVM_UTIL_FS_H
#define MVM_UTIL_FS_H

#include <stdint.h>
#include <sys/types.h>
#include "mvm/buf.h"

int mvm_fs_mkdir_p(const char *path);
int mvm_fs_fsync_dir(const char *dir);
/** Write all n bytes or fail; `what` names the file in the error. */
int mvm_fs_write_all(int fd, const void *p, size_t n, const char *what);
/** Read exactly n bytes at off; a short read is MVM_ECORRUPT. */
int mvm_fs_pread_all(int fd, void *p, size_t n, uint64_t off, const char *what);
/** The open file fd again, with O_DIRECT (via /proc/self/fd); -1 where that is refused (tmpfs, some network file systems). */
int mvm_fs_reopen_direct(int fd);
/*
 * Read at least `need` and at most `cap` bytes at off into p: through dfd
 * (O_DIRECT; p and off aligned, cap a multiple of 4096) while the position
 * stays aligned, else through fd. A direct read the file system refuses
 * closes *dfd (-1 after) and goes on through fd. *got is the bytes read;
 * MVM_ECORRUPT when the file ends before `need`.
 */
int mvm_fs_pread_direct(size_t *got, int *dfd, int fd, void *p, size_t need, size_t cap, uint64_t off,
			const char *what);
/** Read a whole file of at most `max` bytes. */
int mvm_fs_readfile(mvm_buf *out, const char *path, size_t max);
/** Write via a temp file in the same folder, fsync it, rename, fsync the folder. */
int mvm_fs_atomic_write(const char *path, const void *p, size_t n, mode_t mode);
/** Dirname of path into out ("." when none). */
int mvm_fs_dirname(mvm_buf *out, const char *path);
/** Join a and b with one '/'. */
int mvm_fs_join(mvm_buf *out, const char *a, const char *b);

#endif
