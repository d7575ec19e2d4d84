/*
 * dbvfs.c: two of the file calls SQLite's unix VFS makes, replaced
 * through its documented hook (sqlite3_vfs.xSetSystemCall), so that
 * opening the database writes no file metadata it does not change.
 *
 * Every process that opens mvm.db first is the only user of its
 * wal-index, mvm.db-shm, and resets it by cutting the file to 3 bytes;
 * the next map grows it again. On ext4 mounted with `discard` the cut
 * waits for the device to discard the blocks it frees, and every one
 * changes the inode. Zeroing the bytes past the third instead reads the
 * same to SQLite (a cut file reads back as zeros) and frees nothing; a
 * file of more than one 32 KiB region is still cut, so one large WAL does
 * not leave every later open zeroing a large file.
 * A process running as root also gives the -wal and -shm files the
 * database's owner on every open, which dirties their inodes even when
 * they are that owner's already: it is skipped when nothing would change.
 * Both waited on the disk in `mvm status` (perf sched_switch traces),
 * one process of ~1.6 ms.
 */
#include <errno.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

#define SHM_RESET_SIZE 3 /* what SQLite cuts a -shm file to when it resets it (unixLockSharedMemory) */
#define SHM_REGION 32768 /* one wal-index region: what a WAL of up to 4096 frames needs */

static int fchown_if_changed(int fd, uid_t uid, gid_t gid)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && st.st_uid == uid && st.st_gid == gid)
		return 0;
	return fchown(fd, uid, gid);
}

static int ftruncate_shm_in_place(int fd, off_t size)
{
	static const unsigned char zeros[32768];
	struct stat st;
	off_t at = size;

	/* a -shm grown past one region (a WAL that once grew large) is cut, once, rather than zeroed every open */
	if (size != SHM_RESET_SIZE || fstat(fd, &st) < 0 || st.st_size <= size || st.st_size > SHM_REGION)
		return ftruncate(fd, size);
	while (at < st.st_size) {
		size_t n = st.st_size - at < (off_t)sizeof(zeros) ? (size_t)(st.st_size - at) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, at);

		if (w > 0)
			at += w;
		else if (w == 0 || errno != EINTR)
			return -1; /* SQLite reports the reset as failed */
	}
	return 0;
}

void mvm_db__setup_vfs(void)
{
	sqlite3_vfs *vfs = sqlite3_vfs_find(NULL);

	if (!vfs || vfs->iVersion < 3 || !vfs->xSetSystemCall || !vfs->xGetSystemCall ||
	    !vfs->xGetSystemCall(vfs, "fchown") || !vfs->xGetSystemCall(vfs, "ftruncate"))
		return; /* not the unix VFS: leave it as it is */
	vfs->xSetSystemCall(vfs, "fchown", (sqlite3_syscall_ptr)fchown_if_changed);
	vfs->xSetSystemCall(vfs, "ftruncate", (sqlite3_syscall_ptr)ftruncate_shm_in_place);
}
