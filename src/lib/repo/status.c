/*
 * status.c: stage vs HEAD (staged), working tree vs stage (modified,
 * deleted) and files nobody tracks (untracked). A file whose stat matches
 * its stage row is not read; one whose stat changed is hashed, and when
 * its content turns out unchanged its stat cache row is refreshed. The
 * database's part is kept in the status cache (statcache.c), which
 * answers without opening the database while it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/refs.h"
#include "mvm/worktree.h"
#include "object/object.h"
#include "util/array.h"
#include "repo_internal.h"
#include "statcache.h"
#include "walk.h"

static int push(char ***list, size_t *n, const char *s)
{
	char **nl = realloc(*list, (*n + 1) * sizeof(char *));

	if (!nl || !(nl[*n] = strdup(s))) {
		if (nl)
			*list = nl;
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	*list = nl;
	(*n)++;
	return 0;
}

static int push_staged(mvm_status *out, const char *path, mvm_staged_change change)
{
	unsigned char *nc = realloc(out->staged_change, out->nstaged + 1);

	if (!nc)
		return mvm_error_set(MVM_ERROR, "out of memory");
	out->staged_change = nc;
	nc[out->nstaged] = (unsigned char)change;
	return push(&out->staged, &out->nstaged, path);
}

static int staged_changes(mvm_status *out, mvm_db *db, const mvm_tree *head, const mvm_stage_entry *stage, size_t n)
{
	size_t i = 0, j = 0;
	int error = 0;

	while (!error && (i < head->count || j < n)) {
		int c = i == head->count ? 1 : j == n ? -1 : strcmp(head->entries[i].path, stage[j].path);
		if (c < 0) {
			error = push_staged(out, head->entries[i++].path, MVM_STAGED_REMOVED);
		} else if (c > 0) {
			error = push_staged(out, stage[j++].path, MVM_STAGED_ADDED);
		} else {
			int same = head->entries[i].mode != stage[j].mode ? 0
				 : mvm_manifest_same_file(db, &head->entries[i].manifest, head->entries[i].one_chunk,
							  &stage[j].manifest, stage[j].one_chunk);
			if (same < 0)
				error = same;
			else if (!same)
				error = push_staged(out, stage[j].path, MVM_STAGED_MODIFIED);
			i++;
			j++;
		}
	}
	return error;
}

/*
 * Content check of a file whose stat changed. From the status cache
 * (no database) one of the same size is a miss: MVM_ENOTFOUND.
 */
static int content_changed(int *changed, mvm_repo *repo, const mvm_stage_entry *e, const char *abs,
			   const struct stat *st)
{
	mvm_oid sha, want;
	int error;

	*changed = 1;
	if ((uint64_t)st->st_size != e->size || e->mode != ((st->st_mode & 0111) ? 0755u : 0644u))
		return 0;
	if (!repo->db)
		return MVM_ENOTFOUND;
	if ((error = mvm_manifest_file_sha(&want, repo->db, &e->manifest, e->one_chunk)) == 0 &&
	    (error = mvm_file_sha256(&sha, abs)) == 0)
		*changed = mvm_oid_cmp(&sha, &want) != 0;
	return error;
}

/*
 * Files found unchanged after their stat changed get their new stat cached,
 * all in one transaction at the end, unsynced (a cache: a crash only costs
 * a re-hash). A status answered from the status cache never gets here with
 * rows (it gives up on the first file it would have to hash), so it needs
 * no database. A transaction per file made the first status after a
 * restore from backup or a hard-linked copy of 20k files take 9 s instead
 * of 0.5. Best effort: a busy database skips it.
 */
static void refresh_stat_cache(mvm_repo *repo, const mvm_stage_entry *fresh, size_t n)
{
	sqlite3_stmt *q = NULL;
	size_t i;

	if (!n || mvm_db_set_synced(repo->db, 0) < 0)
		goto done;
	if (mvm_db_try_begin(repo->db, 100) == 0 && mvm_db_prepare(&q, repo->db,
		"UPDATE stage SET size = ?, mtime_ns = ?, ino = ?, ctime_ns = ? WHERE path = ? AND manifest = ?") == 0) {
		for (i = 0; i < n; i++) {
			sqlite3_bind_int64(q, 1, (sqlite3_int64)fresh[i].size);
			sqlite3_bind_int64(q, 2, fresh[i].mtime_ns);
			sqlite3_bind_int64(q, 3, (sqlite3_int64)fresh[i].ino);
			sqlite3_bind_int64(q, 4, fresh[i].ctime_ns);
			sqlite3_bind_text(q, 5, fresh[i].path, -1, SQLITE_STATIC);
			mvm_db_bind_oid(q, 6, &fresh[i].manifest);
			sqlite3_step(q);
			sqlite3_reset(q);
		}
		sqlite3_finalize(q);
		if (mvm_db_commit(repo->db) < 0)
			mvm_db_rollback(repo->db);
	}
	mvm_db_rollback(repo->db); /* if the prepare failed */
	mvm_db_set_synced(repo->db, 1);
done:
	mvm_error_clear();
}

/* A staged file as the walk found it. */
enum { FILE_MISSING = 0, FILE_SAME, FILE_MODIFIED };

typedef struct {
	mvm_repo *repo;
	mvm_status *out;
	const mvm_stage_entry *stage;
	size_t n;
	unsigned char *found;         /* per stage entry: FILE_* */
	mvm_buf abs;
	mvm_stage_entry *fresh;       /* unchanged files with a new stat (paths borrowed) */
	size_t nfresh, capfresh;
	size_t next;                  /* the stage entry after the last one the walk met */
} worktree_ctx;

static int push_fresh(worktree_ctx *c, const mvm_stage_entry *e, const struct stat *st)
{
	mvm_stage_entry fresh = *e;
	int error;

	mvm_stage_fill_stat(&fresh, st);
	mvm_stage_distrust_fresh(&fresh);
	if (!fresh.mtime_ns)
		return 0;
	if ((error = mvm_array_grow(&c->fresh, &c->capfresh, c->nfresh, sizeof(*c->fresh), 64)) < 0)
		return error;
	c->fresh[c->nfresh++] = fresh;
	return 0;
}

/* A staged file found at st: the same, or modified (stat differs and so do the bytes). */
static int compare_file(worktree_ctx *c, const mvm_stage_entry *e, const struct stat *st)
{
	int error, changed = 0;

	if (!mvm_stage_stat_matches(e, st) &&
	    ((error = mvm_repo_abspath(&c->abs, c->repo, e->path)) < 0 ||
	     (error = content_changed(&changed, c->repo, e, c->abs.ptr, st)) < 0 ||
	     (!changed && (error = push_fresh(c, e, st)) < 0)))
		return error;
	c->found[e - c->stage] = changed ? FILE_MODIFIED : FILE_SAME;
	return 0;
}

/*
 * The stage entry of a path the walk met. The walk goes in nearly the
 * stage's order (not quite: it takes folder "a" before file "a.b"), so
 * the entry after the last one found is tried before a binary search.
 */
static const mvm_stage_entry *find_staged(worktree_ctx *c, const char *rel)
{
	const mvm_stage_entry *e = c->next < c->n && !strcmp(c->stage[c->next].path, rel)
				   ? &c->stage[c->next] : mvm_stage_find(c->stage, c->n, rel);

	if (e)
		c->next = (size_t)(e - c->stage) + 1;
	return e;
}

/*
 * One walk of the tree finds modified and untracked files. (Stat-ing the
 * staged files apart from the walk stat-ed each file twice: half of `mvm
 * status` on 20k files.)
 */
static int worktree_cb(const char *rel, const struct stat *st, void *payload)
{
	worktree_ctx *c = payload;
	const mvm_stage_entry *e = find_staged(c, rel);

	if (!e)
		return push(&c->out->untracked, &c->out->nuntracked, rel);
	return compare_file(c, e, st);
}

/*
 * A staged file the walk did not meet is looked up by its path: it may be
 * gone, or where the walk does not go (under a symlinked folder, named
 * like a checkout temp file).
 */
static int check_unmet(worktree_ctx *c, const mvm_stage_entry *e)
{
	struct stat st;
	int error;

	if ((error = mvm_repo_abspath(&c->abs, c->repo, e->path)) < 0)
		return error;
	if (lstat(c->abs.ptr, &st) < 0 || !S_ISREG(st.st_mode))
		return 0; /* deleted */
	return compare_file(c, e, &st);
}

static int worktree_changes(mvm_status *out, mvm_repo *repo, const mvm_stage_entry *stage, size_t n)
{
	worktree_ctx c = { repo, out, stage, n, calloc(n ? n : 1, 1), MVM_BUF_INIT, NULL, 0, 0, 0 };
	size_t i;
	int error;

	if (!c.found)
		return mvm_error_set(MVM_ERROR, "out of memory");
	error = mvm_walk(repo, "", worktree_cb, &c);
	for (i = 0; i < n && !error; i++)
		if (c.found[i] == FILE_MISSING)
			error = check_unmet(&c, &stage[i]);
	for (i = 0; i < n && !error; i++) /* in stage order */
		if (c.found[i] == FILE_MISSING)
			error = push(&out->deleted, &out->ndeleted, stage[i].path);
		else if (c.found[i] == FILE_MODIFIED)
			error = push(&out->modified, &out->nmodified, stage[i].path);
	if (!error)
		refresh_stat_cache(repo, c.fresh, c.nfresh);
	free(c.fresh);
	free(c.found);
	mvm_buf_dispose(&c.abs);
	return error;
}

/* HEAD's branch, version and tree, read once (an empty tree before the first commit). */
static int status_head(mvm_tree **tree, mvm_status *st, mvm_repo *repo)
{
	mvm_buf branch = MVM_BUF_INIT;
	int error = mvm_head_read(&branch, &st->head, repo);

	if (error == MVM_ENOTFOUND) {
		mvm_error_clear();
		error = (*tree = calloc(1, sizeof(**tree))) ? 0 : mvm_error_set(MVM_ERROR, "out of memory");
	} else if (error == 0) {
		st->has_head = 1;
		error = mvm_version_tree(tree, repo, &st->head);
	}
	if (!error && branch.size && !(st->branch = mvm_buf_detach(&branch)))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	mvm_buf_dispose(&branch);
	return error;
}

/*
 * When the database files could be cached (mvm_dbstamp_cacheable), the
 * snapshot is read under SQLite's write lock if it is free, so that the
 * status cache can record which files it came from (no commit half
 * published meanwhile). Otherwise, and while a writer holds the lock, a
 * plain read: a status does not take the lock from writers it cannot
 * cache for anyway.
 */
static int begin_snapshot(mvm_dbstamp *stamp, int *cacheable, mvm_repo *repo)
{
	mvm_dbstamp before;

	*cacheable = 0;
	if (mvm_dbstamp_take(&before, repo) < 0 || !mvm_dbstamp_cacheable(&before) ||
	    mvm_db_try_begin(repo->db, 0) < 0) {
		mvm_error_clear();
		return mvm_db_begin_read(repo->db);
	}
	*cacheable = mvm_dbstamp_take(stamp, repo) == 0 && !memcmp(stamp, &before, sizeof(before));
	mvm_error_clear();
	return 0;
}

int mvm_status_get(mvm_status **out, mvm_repo *repo)
{
	mvm_stage_entry *stage = NULL;
	mvm_tree *head = NULL;
	mvm_status *st;
	mvm_dbstamp stamp;
	size_t n = 0;
	int error, cacheable;

	*out = NULL;
	if (!(st = calloc(1, sizeof(*st))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	/* HEAD, its tree and the stage from one snapshot, whatever commits meanwhile */
	if ((error = begin_snapshot(&stamp, &cacheable, repo)) < 0)
		goto done;
	if ((error = status_head(&head, st, repo)) < 0 || (error = mvm_stage_load(&stage, &n, repo)) < 0 ||
	    (error = staged_changes(st, repo->db, head, stage, n)) < 0 || (error = mvm_db_commit(repo->db)) < 0)
		goto done;
	if (cacheable) /* before the walk: stat rows it refreshes change the stamp */
		mvm_statcache_save(repo, &stamp, st, stage, n);
	if ((error = worktree_changes(st, repo, stage, n)) < 0)
		goto done;
	*out = st;
	st = NULL;
done:
	mvm_db_rollback(repo->db); /* the snapshot, when reading it failed */
	mvm_status_free(st);
	mvm_tree_free(head);
	mvm_stage_free(stage, n);
	return error;
}

/* The status from the cache alone; MVM_ENOTFOUND when it cannot answer. */
static int status_cached(mvm_status **out, mvm_repo *repo)
{
	mvm_stage_entry *stage = NULL;
	mvm_status *st = NULL;
	size_t n = 0;
	int error;

	if ((error = mvm_statcache_load(&st, &stage, &n, repo)) == 0 &&
	    (error = worktree_changes(st, repo, stage, n)) == 0) {
		*out = st;
		st = NULL;
	}
	mvm_status_free(st);
	mvm_stage_free(stage, n);
	return error;
}

int mvm_status_at(mvm_status **out, const char *path)
{
	mvm_repo *repo = NULL;
	int error;

	*out = NULL;
	if ((error = mvm_repo_find(&repo, path)) < 0)
		return error;
	if (status_cached(out, repo) < 0) {
		mvm_error_clear();
		if ((error = mvm_repo_connect(repo)) == 0)
			error = mvm_status_get(out, repo);
	}
	mvm_repo_free(repo);
	return error;
}

static void free_list(char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void mvm_status_free(mvm_status *st)
{
	if (!st)
		return;
	free_list(st->staged, st->nstaged);
	free(st->staged_change);
	free_list(st->modified, st->nmodified);
	free_list(st->deleted, st->ndeleted);
	free_list(st->untracked, st->nuntracked);
	free(st->branch);
	free(st);
}
