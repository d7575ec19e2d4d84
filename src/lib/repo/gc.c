/*
 * gc.c: drop what nothing reaches, then compact packs.
 *
 * 1. mark live objects and chunks (reach.c);
 * 2. one transaction deletes dead object and chunk rows (and is audited);
 * 3. packs left without rows are deleted; packs with some dead bytes have
 *    their live chunks copied (still encoded) into new packs, which are
 *    sealed and indexed (re-pointing the rows) before the old file goes;
 * 4. pack files the database does not know (debris of a killed run) go.
 * A kill at any point leaves a consistent repository; re-running finishes.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/maint.h"
#include "audit/audit_internal.h"
#include "util/array.h"
#include "util/fs.h"
#include "reach.h"
#include "repo_internal.h"

static int audit_gc(mvm_repo *repo, const mvm_gc_stats *stats)
{
	char after[96];

	snprintf(after, sizeof(after), "{\"chunks_removed\":%llu,\"objects_removed\":%llu}",
		 (unsigned long long)stats->chunks_removed, (unsigned long long)stats->objects_removed);
	return mvm_audit_record(repo, "gc", "repository", NULL, after);
}

static int delete_dead(mvm_repo *repo, mvm_gc_stats *stats)
{
	int error;

	if ((error = mvm_db_begin(repo->db)) < 0)
		return error;
	if ((error = mvm_db_exec(repo->db, "DELETE FROM objects WHERE id NOT IN (SELECT id FROM live_obj)")) == 0) {
		stats->objects_removed = (uint64_t)sqlite3_changes(repo->db->sql);
		error = mvm_db_exec(repo->db, "DELETE FROM chunks WHERE id NOT IN (SELECT id FROM live_chunk)");
		stats->chunks_removed = (uint64_t)sqlite3_changes(repo->db->sql);
	}
	if (!error)
		error = audit_gc(repo, stats);
	if (!error)
		error = mvm_db_commit(repo->db);
	if (error < 0)
		mvm_db_rollback(repo->db);
	return error;
}

typedef struct {
	mvm_oid id;
	mvm_chunk_loc loc;  /* with the base of a delta */
} live_chunk;

/* The pack's remaining rows, loaded before any write touches the table. */
static int load_live(live_chunk **out, size_t *n, mvm_repo *repo, int64_t pack)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	*out = NULL;
	*n = 0;
	if ((error = mvm_db_prepare(&st, repo->db,
		"SELECT id, offset, stored_len, raw_len, codec, base FROM chunks WHERE pack = ? ORDER BY offset")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, pack);
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		live_chunk *c;
		if ((error = mvm_array_grow(out, &cap, *n, sizeof(**out), 256)) < 0)
			break;
		c = &(*out)[(*n)++];
		c->loc = (mvm_chunk_loc){ .pack = pack, .offset = (uint64_t)sqlite3_column_int64(st, 1),
					  .stored_len = (uint32_t)sqlite3_column_int64(st, 2),
					  .raw_len = (uint32_t)sqlite3_column_int64(st, 3),
					  .codec = (uint32_t)sqlite3_column_int64(st, 4),
					  .has_base = sqlite3_column_type(st, 5) != SQLITE_NULL };
		if ((error = mvm_db_column_oid(&c->id, st, 0)) == 0 && c->loc.has_base)
			error = mvm_db_column_oid(&c->loc.base, st, 5);
		if (error < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

/* Copy a pack's remaining chunks, still encoded, into the store's open pack. */
static int copy_live(mvm_repo *repo, int64_t pack, uint64_t *copied)
{
	mvm_buf stored = MVM_BUF_INIT;
	live_chunk *live = NULL;
	size_t n = 0, i;
	int error;

	if ((error = load_live(&live, &n, repo, pack)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++) {
		if ((error = mvm_store_read_stored(&stored, repo->store, &live[i].loc)) == 0)
			error = mvm_store_write(repo->store, &live[i].id, stored.ptr, stored.size,
						live[i].loc.raw_len, live[i].loc.codec,
						live[i].loc.has_base ? &live[i].loc.base : NULL);
		*copied += live[i].loc.stored_len;
	}
done:
	free(live);
	mvm_buf_dispose(&stored);
	return error;
}

/*
 * Delete pack rows with no chunk rows left, then their files: the rows go
 * in one committed transaction first, so a kill can only leave an
 * unlisted file (removed by the next gc), never a listed pack without one.
 */
static int drop_empty_packs(mvm_repo *repo)
{
	mvm_buf path = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	char **names = NULL;
	size_t n = 0, i;
	int error;

	mvm_store_drop_handles(repo->store);
	if ((error = mvm_db_begin(repo->db)) < 0)
		return error;
	if ((error = mvm_db_prepare(&st, repo->db,
		"DELETE FROM packs WHERE id NOT IN (SELECT DISTINCT pack FROM chunks) RETURNING name")) < 0)
		goto done;
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
			names = nn ? nn : names;
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		names = nn;
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!error)
		error = mvm_db_commit(repo->db);
	for (i = 0; i < n; i++) {
		mvm_buf_clear(&path);
		if (!error && mvm_buf_printf(&path, "%s/packs/%s", repo->mvmdir, names[i]) == 0)
			unlink(path.ptr);
		free(names[i]);
	}
done:
	sqlite3_finalize(st);
	if (error < 0)
		mvm_db_rollback(repo->db);
	free(names);
	mvm_buf_dispose(&path);
	return error;
}

static int compact(mvm_repo *repo, mvm_progress_cb progress, void *payload)
{
	sqlite3_stmt *st = NULL;
	int64_t *packs = NULL;
	size_t n = 0, i;
	uint64_t copied = 0, total = 0;
	int error;

	/* packs whose live rows are fewer than the entries they were written with */
	if ((error = mvm_db_prepare(&st, repo->db,
		"SELECT p.id, p.size FROM packs p WHERE p.chunks > (SELECT COUNT(*) FROM chunks c WHERE c.pack = p.id)"
		" AND EXISTS (SELECT 1 FROM chunks c WHERE c.pack = p.id)")) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		int64_t *np = realloc(packs, (n + 1) * sizeof(*np));
		if (!np) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		packs = np;
		packs[n++] = sqlite3_column_int64(st, 0);
		total += (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (error < 0) {
		free(packs);
		return error;
	}
	mvm_store_set_rewriting(repo->store, 1);
	for (i = 0; i < n && !error; i++) {
		error = copy_live(repo, packs[i], &copied);
		if (progress)
			progress("gc", copied, total, payload);
	}
	if (!error)
		error = mvm_store_flush(repo->store);
	mvm_store_set_rewriting(repo->store, 0);
	free(packs);
	return error < 0 ? error : drop_empty_packs(repo);
}

static int known_pack(mvm_repo *repo, const char *name)
{
	sqlite3_stmt *st = NULL;
	int found = 1;

	if (mvm_db_prepare(&st, repo->db, "SELECT 1 FROM packs WHERE name = ?") == 0) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

static void remove_orphans(mvm_repo *repo)
{
	mvm_buf dir = MVM_BUF_INIT, f = MVM_BUF_INIT;
	struct dirent *e;
	DIR *d;

	if (mvm_buf_printf(&dir, "%s/packs", repo->mvmdir) < 0 || !(d = opendir(dir.ptr))) {
		mvm_buf_dispose(&dir);
		return;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "pack-", 5) && !known_pack(repo, e->d_name) &&
		    mvm_fs_join(&f, dir.ptr, e->d_name) == 0)
			unlink(f.ptr);
	closedir(d);
	mvm_buf_dispose(&dir);
	mvm_buf_dispose(&f);
}

int mvm_repo_store_size(uint64_t *packs, uint64_t *packs_bytes, uint64_t *db_bytes, mvm_repo *repo)
{
	const char *files[] = { "mvm.db", "mvm.db-wal" };
	mvm_buf path = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	size_t i;
	int error;

	*packs = *packs_bytes = *db_bytes = 0;
	if ((error = mvm_db_prepare(&st, repo->db, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM packs")) < 0)
		return error;
	if ((error = mvm_db_step_row(repo->db, st)) == 1) {
		*packs = (uint64_t)sqlite3_column_int64(st, 0);
		*packs_bytes = (uint64_t)sqlite3_column_int64(st, 1);
		error = 0;
	}
	sqlite3_finalize(st);
	for (i = 0; i < 2 && !error; i++) {
		mvm_buf_clear(&path);
		if (mvm_buf_printf(&path, "%s/%s", repo->mvmdir, files[i]) == 0 && stat(path.ptr, &sb) == 0)
			*db_bytes += (uint64_t)sb.st_size;
	}
	mvm_buf_dispose(&path);
	return error;
}

int mvm_gc(mvm_gc_stats *out, mvm_repo *repo, mvm_progress_cb progress, void *payload)
{
	uint64_t db_bytes;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_repo_lock(repo)) < 0 ||
	    (error = mvm_repo_store_size(&out->packs_before, &out->bytes_before, &db_bytes, repo)) < 0 ||
	    (error = mvm_reach_mark(repo)) < 0 ||
	    (error = delete_dead(repo, out)) < 0 ||
	    (error = compact(repo, progress, payload)) < 0)
		return error;
	remove_orphans(repo);
	/* the deleted chunks' bits go: the filter rules out more */
	if ((error = mvm_store_filter_rebuild(repo->store)) < 0 ||
	    (error = mvm_repo_store_size(&out->packs_after, &out->bytes_after, &db_bytes, repo)) < 0)
		return error;
	return mvm_db_exec(repo->db, "DROP TABLE IF EXISTS temp.live_obj; DROP TABLE IF EXISTS temp.live_chunk;");
}
