/*
 * stage.c: the stage (the next version's file list, with a stat cache per
 * path), HEAD's tree, and path helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/refs.h"
#include "object/object.h"
#include "util/array.h"
#include "util/hash.h"
#include "repo_internal.h"

int mvm_stage_load(mvm_stage_entry **out, size_t *count, mvm_repo *repo)
{
	sqlite3_stmt *st = NULL;
	mvm_stage_entry *e = NULL;
	size_t n = 0, cap = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_prepare(&st, repo->db,
		"SELECT path, manifest, mode, size, mtime_ns, ino, ctime_ns, one_chunk FROM stage ORDER BY path")) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		if ((error = mvm_array_grow(&e, &cap, n, sizeof(*e), 64)) < 0)
			break;
		e[n].path = strdup((const char *)sqlite3_column_text(st, 0));
		e[n].mode = (uint32_t)sqlite3_column_int(st, 2);
		e[n].size = (uint64_t)sqlite3_column_int64(st, 3);
		e[n].mtime_ns = sqlite3_column_int64(st, 4);
		e[n].ino = (uint64_t)sqlite3_column_int64(st, 5);
		e[n].ctime_ns = sqlite3_column_int64(st, 6);
		e[n].one_chunk = sqlite3_column_int(st, 7) != 0;
		if ((error = mvm_db_column_oid(&e[n++].manifest, st, 1)) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_stage_free(e, n);
		return error;
	}
	*out = e;
	*count = n;
	return 0;
}

void mvm_stage_free(mvm_stage_entry *e, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(e[i].path);
	free(e);
}

const mvm_stage_entry *mvm_stage_find(const mvm_stage_entry *e, size_t count, const char *path)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e[mid].path, path);
		if (!c)
			return &e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int mvm_stage_put(mvm_repo *repo, const mvm_stage_entry *e)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db,
		"INSERT OR REPLACE INTO stage(path, manifest, mode, size, mtime_ns, ino, ctime_ns, one_chunk)"
		" VALUES(?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
		return error;
	sqlite3_bind_text(st, 1, e->path, -1, SQLITE_STATIC);
	mvm_db_bind_oid(st, 2, &e->manifest);
	sqlite3_bind_int(st, 3, (int)e->mode);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)e->size);
	sqlite3_bind_int64(st, 5, e->mtime_ns);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)e->ino);
	sqlite3_bind_int64(st, 7, e->ctime_ns);
	sqlite3_bind_int(st, 8, e->one_chunk);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_stage_delete(mvm_repo *repo, const char *path)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "DELETE FROM stage WHERE path = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

int mvm_stage_stat_matches(const mvm_stage_entry *e, const struct stat *st)
{
	return e->size == (uint64_t)st->st_size && e->mtime_ns == ns(&st->st_mtim) &&
	       e->ctime_ns == ns(&st->st_ctim) && e->ino == (uint64_t)st->st_ino &&
	       e->mode == ((st->st_mode & 0111) ? 0755u : 0644u);
}

void mvm_stage_fill_stat(mvm_stage_entry *e, const struct stat *st)
{
	e->size = (uint64_t)st->st_size;
	e->mtime_ns = ns(&st->st_mtim);
	e->ctime_ns = ns(&st->st_ctim);
	e->ino = (uint64_t)st->st_ino;
	e->mode = (st->st_mode & 0111) ? 0755 : 0644;
}

/*
 * File timestamps advance in coarse ticks, so a file rewritten in the same
 * tick as the stat we cache would keep its size and mtime and look
 * unchanged ("racily clean", as git calls it). A stat younger than
 * MVM_RACY_NS is therefore not trusted: the row gets mtime 0, the next
 * status hashes the file once and caches the stat then.
 */
#define MVM_RACY_NS (100 * 1000000LL)

void mvm_stage_distrust_fresh(mvm_stage_entry *e)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	if ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - e->mtime_ns < MVM_RACY_NS)
		e->mtime_ns = 0;
}

int mvm_version_tree(mvm_tree **out, mvm_repo *repo, const mvm_oid *version)
{
	mvm_version *v = NULL;
	int error;

	if ((error = mvm_version_read(&v, repo->db, version)) == 0)
		error = mvm_tree_read(out, repo->db, &v->tree);
	mvm_version_free(v);
	return error;
}

int mvm_head_tree(mvm_tree **out, mvm_repo *repo)
{
	mvm_oid head;
	int error;

	if ((error = mvm_head_id(&head, repo)) == MVM_ENOTFOUND) {
		mvm_error_clear();
		if (!(*out = calloc(1, sizeof(**out))))
			return mvm_error_set(MVM_ERROR, "out of memory");
		return 0;
	}
	if (error < 0)
		return error;
	return mvm_version_tree(out, repo, &head);
}

/* Collapse "." and ".." in an absolute path without touching the disk. */
static void normalize(char *p)
{
	char *out = p, *seg = p;

	while (*seg) {
		char *next;
		size_t len;

		while (*seg == '/')
			seg++;
		next = seg + strcspn(seg, "/");
		len = (size_t)(next - seg);
		if (len == 0 || (len == 1 && seg[0] == '.')) {
			/* skip */
		} else if (len == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, seg, len);
			out += len;
		}
		seg = next;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

int mvm_repo_relpath(mvm_buf *out, mvm_repo *repo, const char *user_path)
{
	char cwd[PATH_MAX];
	size_t wl = strlen(repo->workdir);
	mvm_buf abs = MVM_BUF_INIT;
	int error;

	if (user_path[0] == '/')
		error = mvm_buf_puts(&abs, user_path);
	else if (!getcwd(cwd, sizeof(cwd)))
		error = mvm_error_set(MVM_ERROR, "cannot read the current directory: %s", strerror(errno));
	else
		error = mvm_buf_printf(&abs, "%s/%s", cwd, user_path);
	if (error < 0)
		goto done;
	normalize(abs.ptr);
	abs.size = strlen(abs.ptr);
	mvm_buf_clear(out);
	if (!strcmp(abs.ptr, repo->workdir))
		error = mvm_buf_puts(out, "");
	else if (strncmp(abs.ptr, repo->workdir, wl) || abs.ptr[wl] != '/')
		error = mvm_error_set(MVM_EUSAGE, "'%s' is outside the repository at %s", user_path, repo->workdir);
	else if (!strcmp(abs.ptr + wl + 1, ".mvm") || !strncmp(abs.ptr + wl + 1, ".mvm/", 5))
		error = mvm_error_set(MVM_EUSAGE, "'%s' is inside .mvm, which mvm manages itself", user_path);
	else
		error = mvm_buf_puts(out, abs.ptr + wl + 1);
done:
	mvm_buf_dispose(&abs);
	return error;
}

int mvm_repo_abspath(mvm_buf *out, mvm_repo *repo, const char *rel)
{
	mvm_buf_clear(out);
	return *rel ? mvm_buf_printf(out, "%s/%s", repo->workdir, rel) : mvm_buf_puts(out, repo->workdir);
}

int mvm_file_sha256(mvm_oid *out, const char *path)
{
	enum { BUF = 4 << 20 };
	mvm_sha256 *h = NULL;
	char *buf = NULL;
	int fd, error;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return mvm_error_set(MVM_ERROR, "cannot open %s: %s", path, strerror(errno));
	if (!(buf = malloc(BUF))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	if ((error = mvm_sha256_new(&h)) < 0)
		goto done;
	while ((r = read(fd, buf, BUF)) > 0)
		if ((error = mvm_sha256_update(h, buf, (size_t)r)) < 0)
			goto done;
	if (r < 0)
		error = mvm_error_set(MVM_ERROR, "cannot read %s: %s", path, strerror(errno));
	else
		error = mvm_sha256_final(out, h);
done:
	mvm_sha256_free(h);
	free(buf);
	close(fd);
	return error;
}
