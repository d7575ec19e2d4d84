/*
 * diffside.c: the entries a diff compares: a version's tree, or the
 * tracked files of the working tree (stat-matching files reuse their stage
 * manifest; changed ones are scanned without storing anything).
 */
#include <stdlib.h>
#include <string.h>

#include "object/object.h"
#include "diff_internal.h"

static int side_alloc(mvm_diff_side *s, size_t n)
{
	s->count = 0;
	s->entries = calloc(n + 1, sizeof(*s->entries));
	return s->entries ? 0 : mvm_error_set(MVM_ERROR, "out of memory");
}

int mvm_diff_side_version(mvm_diff_side *out, mvm_repo *repo, const mvm_oid *version)
{
	mvm_tree *t = NULL;
	size_t i;
	int error;

	if ((error = mvm_version_tree(&t, repo, version)) < 0 || (error = side_alloc(out, t->count)) < 0)
		goto done;
	for (i = 0; i < t->count; i++) {
		out->entries[i].path = t->entries[i].path;
		t->entries[i].path = NULL;
		out->entries[i].manifest = t->entries[i].manifest;
		out->entries[i].one_chunk = t->entries[i].one_chunk;
		out->entries[i].size = t->entries[i].size;
	}
	out->count = t->count;
done:
	mvm_tree_free(t);
	return error;
}

int mvm_diff_side_worktree(mvm_diff_side *out, mvm_repo *repo)
{
	mvm_scan scan = { .store = NULL };
	mvm_stage_entry *stage = NULL;
	mvm_buf abs = MVM_BUF_INIT;
	size_t n = 0, i;
	struct stat st;
	int error;

	if ((error = mvm_repo_tensor_grid(&scan.grid, repo)) < 0 || (error = mvm_stage_load(&stage, &n, repo)) < 0 ||
	    (error = side_alloc(out, n)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++) {
		mvm_diff_side_entry *e = &out->entries[out->count];

		if ((error = mvm_repo_abspath(&abs, repo, stage[i].path)) < 0)
			break;
		if (lstat(abs.ptr, &st) < 0 || !S_ISREG(st.st_mode))
			continue; /* deleted: shows as removed */
		e->path = strdup(stage[i].path);
		e->abs = strdup(abs.ptr);
		out->count++;
		if (mvm_stage_stat_matches(&stage[i], &st)) {
			e->manifest = stage[i].manifest;
			e->one_chunk = stage[i].one_chunk;
			e->size = stage[i].size;
			continue;
		}
		error = mvm_scan_push(&scan, &e->scanned, abs.ptr, stage[i].path, NULL);
	}
	if (!error)
		error = mvm_scan_drain(&scan);
	for (i = 0; i < out->count && !error; i++)
		if (out->entries[i].scanned)
			out->entries[i].sha = out->entries[i].scanned->sha;
done:
	mvm_scan_dispose(&scan);
	mvm_stage_free(stage, n);
	mvm_buf_dispose(&abs);
	return error;
}

void mvm_diff_side_dispose(mvm_diff_side *s)
{
	size_t i;

	for (i = 0; i < s->count; i++) {
		free(s->entries[i].path);
		free(s->entries[i].abs);
		mvm_manifest_free(s->entries[i].scanned);
	}
	free(s->entries);
	s->entries = NULL;
	s->count = 0;
}
