/*
 * repo.c: init/open, the writer lock, configuration and author identity.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/fs.h"
#include "audit/audit_internal.h"
#include "repo_internal.h"

static const char *const config_keys[] = {
	"user.name", "user.email", "core.compression", "registry.admins", NULL,
};

const char *const *mvm_config_keys(void)
{
	return config_keys;
}

static int repo_alloc(mvm_repo **out, const char *workdir)
{
	mvm_repo *repo = calloc(1, sizeof(*repo));
	mvm_buf b = MVM_BUF_INIT;

	*out = NULL;
	if (!repo || !(repo->workdir = strdup(workdir)) ||
	    mvm_buf_printf(&b, "%s/.mvm", workdir) < 0) {
		mvm_repo_free(repo);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	repo->mvmdir = mvm_buf_detach(&b);
	repo->lock_fd = -1;
	*out = repo;
	return 0;
}

/*
 * The chunker a repository was created with ("chunker" in its metadata):
 * FastCDC's sizes, then the grid inside tensors. Chunk ids, dedup and the
 * deltas against a parent's chunk at the same grid position all need
 * every version of a repository cut alike, so the grid is the
 * repository's, never this build's: repositories made before 256 KiB
 * became the default keep their 64 KiB grid.
 */
#define CHUNKER_PREFIX "fastcdc-v1 16384/65536/262144 tensor-grid"
/* What the first builds (2026-11-23) recorded; every build since cut those repositories on the 64 KiB grid. */
#define CHUNKER_FIRST "fastcdc-v1 16384/65536/262144 tensor-aligned"
#define CHUNKER_GRID_NEW (256u << 10)
#define CHUNKER_GRID_MIN (4u << 10)
#define CHUNKER_GRID_MAX (256u << 10) /* FastCDC's largest chunk, what buffers and codec 4 take */

int mvm_repo_tensor_grid(uint32_t *out, mvm_repo *repo)
{
	mvm_buf v = MVM_BUF_INIT;
	const char *num;
	char *end = NULL;
	unsigned long grid = 0;
	int error;

	if (repo->tensor_grid) {
		*out = repo->tensor_grid;
		return 0;
	}
	if ((error = mvm_db_meta_get(&v, repo->db, "chunker")) < 0)
		goto done;
	if (!strcmp(v.ptr, CHUNKER_FIRST)) {
		*out = repo->tensor_grid = 64u << 10;
		goto done;
	}
	num = !strncmp(v.ptr, CHUNKER_PREFIX " ", sizeof(CHUNKER_PREFIX)) ? v.ptr + sizeof(CHUNKER_PREFIX) : NULL;
	if (num && *num >= '0' && *num <= '9')
		grid = strtoul(num, &end, 10);
	if (!grid || *end || grid < CHUNKER_GRID_MIN || grid > CHUNKER_GRID_MAX || (grid & (grid - 1))) {
		error = mvm_error_set(MVM_ERROR,
				      "repository chunker '%s' is not one this mvm knows ('%s N', N a power of two "
				      "from %u to %u)",
				      v.ptr, CHUNKER_PREFIX, CHUNKER_GRID_MIN, CHUNKER_GRID_MAX);
		goto done;
	}
	*out = repo->tensor_grid = (uint32_t)grid;
done:
	mvm_buf_dispose(&v);
	return error;
}

int mvm_repo_compression_level(mvm_repo *repo)
{
	mvm_buf v = MVM_BUF_INIT;
	int level = MVM_DEFAULT_LEVEL;

	if (mvm_config_get(&v, repo, "core.compression") == 0)
		level = atoi(v.ptr);
	mvm_error_clear();
	mvm_buf_dispose(&v);
	return level;
}

static int repo_connect(mvm_repo *repo, int create)
{
	mvm_buf path = MVM_BUF_INIT;
	int error;

	if ((error = mvm_buf_printf(&path, "%s/mvm.db", repo->mvmdir)) < 0 ||
	    (error = mvm_db_open(&repo->db, path.ptr, create)) < 0)
		goto done;
	error = mvm_store_open(&repo->store, repo->db, repo->mvmdir);
done:
	mvm_buf_dispose(&path);
	return error;
}

static int absolute(mvm_buf *out, const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real))
		return mvm_error_set(errno == ENOENT ? MVM_ENOTFOUND : MVM_ERROR,
				     "cannot resolve %s: %s", path, strerror(errno));
	mvm_buf_clear(out);
	return mvm_buf_puts(out, real);
}

int mvm_repo_init(mvm_repo **out, const char *path)
{
	mvm_buf dir = MVM_BUF_INIT, sub = MVM_BUF_INIT;
	mvm_repo *repo = NULL;
	struct stat st;
	int error;

	*out = NULL;
	if ((error = mvm_fs_mkdir_p(path)) < 0 || (error = absolute(&dir, path)) < 0 ||
	    (error = repo_alloc(&repo, dir.ptr)) < 0)
		goto done;
	mvm_buf_printf(&sub, "%s/mvm.db", repo->mvmdir);
	if (stat(sub.ptr, &st) == 0) { /* a .mvm without mvm.db is a killed init: finish it */
		error = mvm_error_set(MVM_EEXISTS, "%s is already an mvm repository", dir.ptr);
		goto done;
	}
	mvm_buf_clear(&sub);
	if ((error = mvm_buf_printf(&sub, "%s/packs", repo->mvmdir)) < 0 ||
	    (error = mvm_fs_mkdir_p(sub.ptr)) < 0)
		goto done;
	mvm_buf_clear(&sub);
	if ((error = mvm_buf_printf(&sub, "%s/tmp", repo->mvmdir)) < 0 ||
	    (error = mvm_fs_mkdir_p(sub.ptr)) < 0 ||
	    (error = repo_connect(repo, 1)) < 0)
		goto done;
	mvm_buf_clear(&sub);
	if ((error = mvm_db_meta_set(repo->db, "HEAD", "refs/heads/main")) < 0 ||
	    (error = mvm_db_meta_set(repo->db, "format", "1")) < 0 ||
	    (error = mvm_db_meta_set(repo->db, "hash", "sha256")) < 0 ||
	    (error = mvm_buf_printf(&sub, "%s %u", CHUNKER_PREFIX, CHUNKER_GRID_NEW)) < 0 ||
	    (error = mvm_db_meta_set(repo->db, "chunker", sub.ptr)) < 0)
		goto done;
	*out = repo;
	repo = NULL;
done:
	mvm_repo_free(repo);
	mvm_buf_dispose(&dir);
	mvm_buf_dispose(&sub);
	return error;
}

/* Walk up from `start` to the first folder holding .mvm/mvm.db. */
static int discover(mvm_buf *out, const char *start)
{
	mvm_buf probe = MVM_BUF_INIT;
	struct stat st;
	char *slash;
	int error;

	if ((error = absolute(out, start)) < 0)
		return error;
	for (;;) {
		mvm_buf_clear(&probe);
		if ((error = mvm_buf_printf(&probe, "%s/.mvm/mvm.db", strcmp(out->ptr, "/") ? out->ptr : "")) < 0)
			break;
		if (stat(probe.ptr, &st) == 0)
			break;
		if (!(slash = strrchr(out->ptr, '/')) || out->size <= 1) {
			error = mvm_error_set(MVM_ENOTFOUND,
				"not an mvm repository (or any parent up to /): %s; run 'mvm init' first", start);
			break;
		}
		out->size = slash == out->ptr ? 1 : (size_t)(slash - out->ptr);
		out->ptr[out->size] = '\0';
	}
	mvm_buf_dispose(&probe);
	return error;
}

int mvm_repo_find(mvm_repo **out, const char *path)
{
	mvm_buf dir = MVM_BUF_INIT;
	int error;

	*out = NULL;
	if ((error = discover(&dir, path)) == 0)
		error = repo_alloc(out, dir.ptr);
	mvm_buf_dispose(&dir);
	return error;
}

int mvm_repo_connect(mvm_repo *repo)
{
	int error;

	if (repo->db)
		return 0;
	if ((error = repo_connect(repo, 0)) < 0) { /* half open is not open: the next call tries again */
		mvm_store_free(repo->store);
		mvm_db_free(repo->db);
		repo->store = NULL;
		repo->db = NULL;
	}
	return error;
}

int mvm_repo_open(mvm_repo **out, const char *path)
{
	mvm_repo *repo = NULL;
	int error;

	*out = NULL;
	if ((error = mvm_repo_find(&repo, path)) < 0 || (error = mvm_repo_connect(repo)) < 0) {
		mvm_repo_free(repo);
		return error;
	}
	*out = repo;
	return 0;
}

void mvm_repo_free(mvm_repo *repo)
{
	if (!repo)
		return;
	mvm_repo_unlock(repo);
	mvm_store_free(repo->store);
	mvm_db_free(repo->db);
	free(repo->workdir);
	free(repo->mvmdir);
	free(repo);
}

const char *mvm_repo_workdir(const mvm_repo *repo)
{
	return repo->workdir;
}

/* With the lock held no other writer runs, so anything in tmp/ is debris of a killed one. */
static void clean_tmp(mvm_repo *repo)
{
	mvm_buf dir = MVM_BUF_INIT, f = MVM_BUF_INIT;
	struct dirent *e;
	DIR *d;

	if (mvm_buf_printf(&dir, "%s/tmp", repo->mvmdir) < 0 || !(d = opendir(dir.ptr))) {
		mvm_buf_dispose(&dir);
		return;
	}
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && mvm_fs_join(&f, dir.ptr, e->d_name) == 0)
			unlink(f.ptr);
	closedir(d);
	mvm_buf_dispose(&dir);
	mvm_buf_dispose(&f);
}

int mvm_repo_lock(mvm_repo *repo)
{
	mvm_buf path = MVM_BUF_INIT;
	int fd, error = 0;

	if (repo->lock_fd >= 0)
		return 0;
	if ((error = mvm_buf_printf(&path, "%s/lock", repo->mvmdir)) < 0)
		return error;
	if ((fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot open lock %s: %s", path.ptr, strerror(errno));
	} else if (flock(fd, LOCK_EX) < 0) {
		error = mvm_error_set(MVM_ELOCKED, "cannot lock %s: %s", path.ptr, strerror(errno));
		close(fd);
	} else {
		repo->lock_fd = fd;
		clean_tmp(repo);
		/* writers of other processes may have rebuilt it while we held no lock */
		if (repo->store)
			mvm_store_filter_forget(repo->store);
	}
	mvm_buf_dispose(&path);
	return error;
}

void mvm_repo_unlock(mvm_repo *repo)
{
	if (repo->lock_fd < 0)
		return;
	flock(repo->lock_fd, LOCK_UN);
	close(repo->lock_fd);
	repo->lock_fd = -1;
}

static int key_check(const char *key)
{
	size_t i;

	for (i = 0; config_keys[i]; i++)
		if (!strcmp(config_keys[i], key))
			return 0;
	return mvm_error_set(MVM_EUSAGE, "unknown config key '%s' (known: user.name, user.email, core.compression)", key);
}

int mvm_config_get(mvm_buf *out, mvm_repo *repo, const char *key)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = key_check(key)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "SELECT value FROM config WHERE key = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	mvm_buf_clear(out);
	if (sqlite3_step(st) == SQLITE_ROW)
		error = mvm_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
	else
		error = mvm_error_set(MVM_ENOTFOUND, "config key '%s' is not set", key);
	sqlite3_finalize(st);
	return error;
}

/* Setting a key is audited (registry.admins decides who may force a change). */
int mvm_config_set(mvm_repo *repo, const char *key, const char *value)
{
	mvm_buf old = MVM_BUF_INIT, object = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int error, had = 1;
	char *end = NULL;

	if ((error = key_check(key)) < 0)
		return error;
	if (!strcmp(key, "core.compression")) {
		long v = strtol(value, &end, 10);
		if (*end || end == value || v < -7 || v > 19)
			return mvm_error_set(MVM_EUSAGE, "core.compression must be a zstd level from -7 to 19");
	}
	if ((error = mvm_repo_lock(repo)) < 0 || (error = mvm_db_begin(repo->db)) < 0)
		return error;
	if ((error = mvm_config_get(&old, repo, key)) == MVM_ENOTFOUND)
		error = 0, had = 0;
	if (error < 0 || (error = mvm_buf_printf(&object, "config/%s", key)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "INSERT OR REPLACE INTO config(key, value) VALUES(?, ?)")) < 0)
		goto done;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_done(repo->db, st)) < 0 ||
	    (error = mvm_audit_record(repo, "config.set", object.ptr, had ? old.ptr : NULL, value)) < 0)
		goto done;
	error = mvm_db_commit(repo->db);
done:
	if (error < 0)
		mvm_db_rollback(repo->db);
	sqlite3_finalize(st);
	mvm_buf_dispose(&old);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_config_foreach(mvm_repo *repo, int (*cb)(const char *, const char *, void *), void *payload)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "SELECT key, value FROM config ORDER BY key")) < 0)
		return error;
	while (!error && sqlite3_step(st) == SQLITE_ROW)
		error = cb((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
			   payload);
	sqlite3_finalize(st);
	return error;
}

int mvm_repo_author(mvm_buf *out, mvm_repo *repo)
{
	mvm_buf name = MVM_BUF_INIT, email = MVM_BUF_INIT;
	const char *env = getenv("MVM_USER");
	struct passwd *pw;
	int error;

	mvm_buf_clear(out);
	if (env && *env)
		return mvm_buf_puts(out, env);
	if (mvm_config_get(&name, repo, "user.name") < 0) {
		pw = getpwuid(getuid());
		mvm_buf_puts(&name, pw && pw->pw_name ? pw->pw_name : "unknown");
	}
	if (mvm_config_get(&email, repo, "user.email") < 0)
		mvm_buf_printf(&email, "%s@localhost", name.ptr);
	mvm_error_clear();
	error = mvm_buf_printf(out, "%s <%s>", name.ptr, email.ptr);
	mvm_buf_dispose(&name);
	mvm_buf_dispose(&email);
	return error;
}

int mvm_repo_txn(mvm_repo *repo, int (*fn)(mvm_repo *repo, void *payload), void *payload)
{
	int error;

	if ((error = mvm_db_begin(repo->db)) < 0)
		return error;
	if ((error = fn(repo, payload)) >= 0)
		error = mvm_db_commit(repo->db);
	if (error < 0)
		mvm_db_rollback(repo->db);
	return error;
}
