/*
 * fs.c: file-system helpers. Every write that must survive a crash goes
 * temp file -> fsync -> rename -> fsync of the folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/common.h"
#include "fs.h"

int mvm_fs_mkdir_p(const char *path)
{
	mvm_buf b = MVM_BUF_INIT;
	char *p;
	int error;

	if ((error = mvm_buf_puts(&b, path)) < 0)
		return error;
	for (p = b.ptr + 1; ; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(b.ptr, 0777) < 0 && errno != EEXIST) {
			error = mvm_error_set(MVM_ERROR, "cannot create folder %s: %s", b.ptr, strerror(errno));
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	mvm_buf_dispose(&b);
	return error;
}

int mvm_fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return mvm_error_set(MVM_ERROR, "cannot open folder %s: %s", dir, strerror(errno));
	if (fsync(fd) < 0 && errno != EINVAL) {
		close(fd);
		return mvm_error_set(MVM_ERROR, "cannot sync folder %s: %s", dir, strerror(errno));
	}
	close(fd);
	return 0;
}

int mvm_fs_write_all(int fd, const void *p, size_t n, const char *what)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return mvm_error_set(MVM_ERROR, "cannot write %s: %s", what,
					     w < 0 ? strerror(errno) : "short write");
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int mvm_fs_pread_all(int fd, void *p, size_t n, uint64_t off, const char *what)
{
	char *c = p;

	while (n) {
		ssize_t r = pread(fd, c, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mvm_error_set(MVM_ERROR, "cannot read %s: %s", what, strerror(errno));
		if (r == 0)
			return mvm_error_set(MVM_ECORRUPT, "%s is truncated (wanted %zu more bytes at offset %llu)",
					     what, n, (unsigned long long)off);
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int mvm_fs_readfile(mvm_buf *out, const char *path, size_t max)
{
	struct stat st;
	int fd, error;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mvm_error_set(errno == ENOENT ? MVM_ENOTFOUND : MVM_ERROR,
				     "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot stat %s: %s", path, strerror(errno));
		goto done;
	}
	if ((uint64_t)st.st_size > max) {
		error = mvm_error_set(MVM_ETOOLARGE, "%s is larger than %zu bytes", path, max);
		goto done;
	}
	mvm_buf_clear(out);
	if ((error = mvm_buf_grow(out, (size_t)st.st_size)) < 0 ||
	    (error = mvm_fs_pread_all(fd, out->ptr, (size_t)st.st_size, 0, path)) < 0)
		goto done;
	out->size = (size_t)st.st_size;
	out->ptr[out->size] = '\0';
done:
	close(fd);
	return error;
}

int mvm_fs_dirname(mvm_buf *out, const char *path)
{
	const char *slash = strrchr(path, '/');

	mvm_buf_clear(out);
	if (!slash)
		return mvm_buf_puts(out, ".");
	if (slash == path)
		return mvm_buf_puts(out, "/");
	return mvm_buf_put(out, path, (size_t)(slash - path));
}

int mvm_fs_join(mvm_buf *out, const char *a, const char *b)
{
	size_t la = strlen(a);

	mvm_buf_clear(out);
	if (la && a[la - 1] == '/')
		la--;
	if (mvm_buf_put(out, a, la) < 0 || mvm_buf_putc(out, '/') < 0 ||
	    mvm_buf_puts(out, b) < 0)
		return MVM_ERROR;
	return 0;
}

int mvm_fs_atomic_write(const char *path, const void *p, size_t n, mode_t mode)
{
	mvm_buf tmp = MVM_BUF_INIT, dir = MVM_BUF_INIT;
	int fd = -1, error;

	if ((error = mvm_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid())) < 0 ||
	    (error = mvm_fs_dirname(&dir, path)) < 0)
		goto done;
	if ((fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot create %s: %s", tmp.ptr, strerror(errno));
		goto done;
	}
	if ((error = mvm_fs_write_all(fd, p, n, tmp.ptr)) < 0)
		goto done;
	if (fsync(fd) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot sync %s: %s", tmp.ptr, strerror(errno));
		goto done;
	}
	close(fd);
	fd = -1;
	if (rename(tmp.ptr, path) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot rename %s to %s: %s", tmp.ptr, path, strerror(errno));
		goto done;
	}
	error = mvm_fs_fsync_dir(dir.ptr);
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp.ptr);
	}
	mvm_buf_dispose(&tmp);
	mvm_buf_dispose(&dir);
	return error;
}

int mvm_fs_reopen_direct(int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC | O_DIRECT);
}

int mvm_fs_pread_direct(size_t *got, int *dfd, int fd, void *p, size_t need, size_t cap, uint64_t off,
			const char *what)
{
	unsigned char *c = p;

	*got = 0;
	while (*got < need) {
		int direct = *dfd >= 0 && !(*got % 4096);
		ssize_t n = pread(direct ? *dfd : fd, c + *got, cap - *got, (off_t)(off + *got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EINVAL && direct) {
			close(*dfd);
			*dfd = -1;
			continue;
		}
		if (n < 0)
			return mvm_error_set(MVM_ERROR, "cannot read %s: %s", what, strerror(errno));
		if (n == 0)
			return mvm_error_set(MVM_ECORRUPT, "%s ended at byte %llu, before the %llu expected", what,
					     (unsigned long long)(off + *got), (unsigned long long)(off + need));
		*got += (size_t)n;
	}
	return 0;
}
