/*
 * add.c: staging. Paths are expanded and checked first (every tensor
 * header parsed) so a bad file stages nothing; then files are scanned into
 * the store, packs sealed, and all stage rows written in one transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/worktree.h"
#include "format/tensor.h"
#include "object/object.h"
#include "util/array.h"
#include "add_internal.h"
#include "walk.h"

static int item_push(mvm_add_list *l, const char *path, int remove, const struct stat *st)
{
	mvm_add_item *it;
	int error;

	if ((error = mvm_array_grow(&l->items, &l->cap, l->n, sizeof(*l->items), 64)) < 0)
		return error;
	it = &l->items[l->n++];
	memset(it, 0, sizeof(*it));
	if (!(it->path = strdup(path)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	it->remove = remove;
	if (st)
		it->st = *st;
	return 0;
}

static int walk_item(const char *rel, const struct stat *st, void *payload)
{
	return item_push(payload, rel, 0, st);
}

/* Tracked paths at or under `rel` that are gone from disk are removals. */
static int push_removals(mvm_add_list *l, mvm_repo *repo, const char *rel, int *matched)
{
	mvm_buf abs = MVM_BUF_INIT;
	size_t len = strlen(rel), i;
	struct stat st;
	int error = 0;

	for (i = 0; i < l->nstage && !error; i++) {
		const char *p = l->stage[i].path;
		if (len && strcmp(p, rel) && (strncmp(p, rel, len) || p[len] != '/'))
			continue;
		*matched = 1;
		/* gone, or no longer a regular file (e.g. replaced by a folder) */
		if ((error = mvm_repo_abspath(&abs, repo, p)) == 0 && (lstat(abs.ptr, &st) < 0 || !S_ISREG(st.st_mode)))
			error = item_push(l, p, 1, NULL);
	}
	mvm_buf_dispose(&abs);
	return error;
}

static int collect_path(mvm_add_list *l, mvm_repo *repo, const char *user_path)
{
	mvm_buf rel = MVM_BUF_INIT, abs = MVM_BUF_INIT;
	int error, matched = 0;
	struct stat st;

	if ((error = mvm_repo_relpath(&rel, repo, user_path)) < 0 ||
	    (error = mvm_repo_abspath(&abs, repo, rel.ptr)) < 0)
		goto done;
	if (lstat(abs.ptr, &st) == 0 && S_ISDIR(st.st_mode)) {
		matched = 1;
		error = mvm_walk(repo, rel.ptr, walk_item, l);
	} else if (lstat(abs.ptr, &st) == 0 && S_ISREG(st.st_mode)) {
		matched = 1;
		error = item_push(l, rel.ptr, 0, &st);
	} else if (lstat(abs.ptr, &st) == 0) {
		error = mvm_error_set(MVM_EUSAGE, "'%s' is not a regular file or folder", user_path);
	}
	if (!error)
		error = push_removals(l, repo, rel.ptr, &matched);
	if (!error && !matched)
		error = mvm_error_set(MVM_ENOTFOUND, "path '%s' did not match any files", user_path);
done:
	mvm_buf_dispose(&rel);
	mvm_buf_dispose(&abs);
	return error;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const mvm_add_item *)a)->path, ((const mvm_add_item *)b)->path);
}

/* Sort, drop duplicates and files whose stat matches the stage (unchanged). */
static void prune(mvm_add_list *l)
{
	size_t i, k = 0;

	if (l->n > 1)
		qsort(l->items, l->n, sizeof(*l->items), cmp_item);
	for (i = 0; i < l->n; i++) {
		mvm_add_item *it = &l->items[i];
		const mvm_stage_entry *e = mvm_stage_find(l->stage, l->nstage, it->path);

		if ((k && !strcmp(l->items[k - 1].path, it->path)) ||
		    (!it->remove && e && mvm_stage_stat_matches(e, &it->st))) {
			free(it->path);
			continue;
		}
		l->items[k++] = *it;
	}
	l->n = k;
}

/* Parse every tensor header before storing anything. */
static int precheck(mvm_add_list *l, mvm_repo *repo)
{
	mvm_buf abs = MVM_BUF_INIT;
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	size_t i;
	int fd, error = 0;

	for (i = 0; i < l->n && !error; i++) {
		if (l->items[i].remove)
			continue;
		if ((error = mvm_repo_abspath(&abs, repo, l->items[i].path)) < 0)
			break;
		if ((fd = open(abs.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
			error = mvm_error_set(MVM_ERROR, "cannot open %s: %s", l->items[i].path, strerror(errno));
			break;
		}
		error = mvm_format_parse(&t, l->items[i].path, (uint64_t)l->items[i].st.st_size, mvm_fd_read, &fd);
		mvm_tensor_table_dispose(&t);
		close(fd);
	}
	mvm_buf_dispose(&abs);
	return error;
}

static int record(mvm_repo *repo, mvm_add_list *l)
{
	mvm_buf enc = MVM_BUF_INIT;
	size_t i;
	int error;

	if ((error = mvm_db_begin(repo->db)) < 0)
		return error;
	for (i = 0; i < l->n && !error; i++) {
		mvm_add_item *it = &l->items[i];
		mvm_stage_entry e;

		if (it->remove) {
			error = mvm_stage_delete(repo, it->path);
			continue;
		}
		e.path = it->path;
		mvm_stage_fill_stat(&e, &it->st);
		mvm_stage_distrust_fresh(&e);
		e.size = it->manifest->size; /* what was read, should the file have changed since its stat */
		if ((error = mvm_manifest_ref(&e.manifest, &e.one_chunk, repo->db, it->manifest, &enc)) == 0)
			error = mvm_stage_put(repo, &e);
	}
	if (!error)
		error = mvm_db_commit(repo->db);
	if (error < 0)
		mvm_db_rollback(repo->db);
	mvm_buf_dispose(&enc);
	return error;
}

/* The staged manifest of a path: what a new version of the file is a delta against. */
static int previous_version(mvm_manifest **out, mvm_repo *repo, const mvm_add_list *l, const char *path)
{
	const mvm_stage_entry *e = mvm_stage_find(l->stage, l->nstage, path);

	*out = NULL;
	return e ? mvm_manifest_get(out, repo->db, &e->manifest, e->one_chunk, e->size) : 0;
}

int mvm_add_apply(mvm_repo *repo, mvm_add_list *l, const mvm_work_options *opts)
{
	mvm_scan scan = { .store = repo->store, .progress = opts ? opts->progress : NULL,
			  .payload = opts ? opts->payload : NULL };
	mvm_buf abs = MVM_BUF_INIT;
	size_t i;
	int error;

	prune(l);
	if ((error = precheck(l, repo)) < 0 || (error = mvm_repo_tensor_grid(&scan.grid, repo)) < 0)
		return error;
	scan.level = mvm_repo_compression_level(repo);
	for (i = 0; i < l->n; i++)
		scan.total += l->items[i].remove ? 0 : (uint64_t)l->items[i].st.st_size;
	for (i = 0; i < l->n && !error; i++) {
		mvm_manifest *base = NULL; /* the scan's once pushed */

		if (l->items[i].remove)
			continue;
		if ((error = mvm_repo_abspath(&abs, repo, l->items[i].path)) == 0 &&
		    (error = previous_version(&base, repo, l, l->items[i].path)) == 0)
			error = mvm_scan_push(&scan, &l->items[i].manifest, abs.ptr, l->items[i].path, base);
	}
	if (!error)
		error = mvm_scan_drain(&scan);
	mvm_scan_dispose(&scan);
	mvm_buf_dispose(&abs);
	if (!error)
		error = mvm_store_flush(repo->store);
	if (!error)
		error = record(repo, l);
	return error;
}

void mvm_add_list_dispose(mvm_add_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->items[i].path);
		mvm_manifest_free(l->items[i].manifest);
	}
	free(l->items);
	mvm_stage_free(l->stage, l->nstage);
	memset(l, 0, sizeof(*l));
}

int mvm_add(mvm_repo *repo, const char *const *paths, size_t n, const mvm_work_options *opts)
{
	mvm_add_list l;
	size_t i;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = mvm_repo_lock(repo)) < 0 || (error = mvm_stage_load(&l.stage, &l.nstage, repo)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++)
		error = collect_path(&l, repo, paths[i]);
	if (!error)
		error = mvm_add_apply(repo, &l, opts);
done:
	mvm_add_list_dispose(&l);
	return error;
}

int mvm_add_tracked(mvm_repo *repo, const mvm_work_options *opts)
{
	mvm_add_list l;
	mvm_buf abs = MVM_BUF_INIT;
	struct stat st;
	size_t i;
	int error;

	memset(&l, 0, sizeof(l));
	if ((error = mvm_stage_load(&l.stage, &l.nstage, repo)) < 0)
		goto done;
	for (i = 0; i < l.nstage && !error; i++) {
		if ((error = mvm_repo_abspath(&abs, repo, l.stage[i].path)) < 0)
			break;
		if (lstat(abs.ptr, &st) < 0 || !S_ISREG(st.st_mode))
			error = item_push(&l, l.stage[i].path, 1, NULL);
		else if (!mvm_stage_stat_matches(&l.stage[i], &st))
			error = item_push(&l, l.stage[i].path, 0, &st);
	}
	if (!error)
		error = mvm_add_apply(repo, &l, opts);
done:
	mvm_buf_dispose(&abs);
	mvm_add_list_dispose(&l);
	return error;
}

/* mvm rm deletes the working file: only when it holds what is staged. */
static int rm_check_clean(mvm_repo *repo, const mvm_stage_entry *e, const char *user_path)
{
	mvm_buf abs = MVM_BUF_INIT;
	struct stat st;
	mvm_oid sha, want;
	int error;

	if ((error = mvm_repo_abspath(&abs, repo, e->path)) < 0 || lstat(abs.ptr, &st) < 0 ||
	    mvm_stage_stat_matches(e, &st))
		goto done;
	if ((error = mvm_manifest_file_sha(&want, repo->db, &e->manifest, e->one_chunk)) == 0 &&
	    (error = mvm_file_sha256(&sha, abs.ptr)) == 0 && mvm_oid_cmp(&sha, &want))
		error = mvm_error_set(MVM_ECONFLICT,
			"'%s' has changes that are not staged; use --cached to keep the file, or add them first",
			user_path);
done:
	mvm_buf_dispose(&abs);
	return error;
}

int mvm_rm(mvm_repo *repo, const char *const *paths, size_t n, int cached)
{
	mvm_buf rel = MVM_BUF_INIT, abs = MVM_BUF_INIT;
	mvm_stage_entry *stage = NULL;
	size_t nstage = 0, i;
	int error;

	if ((error = mvm_repo_lock(repo)) < 0 || (error = mvm_stage_load(&stage, &nstage, repo)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++) {
		const mvm_stage_entry *e;
		if ((error = mvm_repo_relpath(&rel, repo, paths[i])) < 0)
			break;
		if (!(e = mvm_stage_find(stage, nstage, rel.ptr)))
			error = mvm_error_set(MVM_ENOTFOUND, "'%s' is not tracked", paths[i]);
		else if (!cached)
			error = rm_check_clean(repo, e, paths[i]);
	}
	if (error || (error = mvm_db_begin(repo->db)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++)
		if ((error = mvm_repo_relpath(&rel, repo, paths[i])) == 0)
			error = mvm_stage_delete(repo, rel.ptr);
	if (error || (error = mvm_db_commit(repo->db)) < 0) {
		mvm_db_rollback(repo->db);
		goto done;
	}
	for (i = 0; i < n && !cached; i++)
		if (mvm_repo_relpath(&rel, repo, paths[i]) == 0 && mvm_repo_abspath(&abs, repo, rel.ptr) == 0)
			unlink(abs.ptr);
done:
	mvm_stage_free(stage, nstage);
	mvm_buf_dispose(&rel);
	mvm_buf_dispose(&abs);
	return error;
}
