/*
 * diff_internal.h: the two sides of a diff and tensor statistics.
 */
#ifndef MVM_REPO_DIFF_INTERNAL_H
#define MVM_REPO_DIFF_INTERNAL_H

#include "mvm/inspect.h"
#include "repo_internal.h"

typedef struct {
	char *path;
	mvm_oid manifest;        /* zero for a scanned working file */
	int one_chunk;           /* manifest is the chunk's id (see object.h) */
	uint64_t size;
	mvm_oid sha;             /* file SHA-256 when known, else zero */
	mvm_manifest *scanned;   /* owned: manifest of a changed working file */
	char *abs;               /* working-tree path (read data from it), or NULL */
} mvm_diff_side_entry;

typedef struct {
	mvm_diff_side_entry *entries; /* sorted by path */
	size_t count;
} mvm_diff_side;

int mvm_diff_side_version(mvm_diff_side *out, mvm_repo *repo, const mvm_oid *version);
/** Tracked files as they are on disk; changed ones are scanned (hashed, not stored). */
int mvm_diff_side_worktree(mvm_diff_side *out, mvm_repo *repo);
void mvm_diff_side_dispose(mvm_diff_side *s);

typedef struct {
	mvm_repo *repo;
	const mvm_manifest *m;
	const char *abs;         /* read from this file when set, else from the store */
} mvm_tensor_source;

int mvm_tensor_stats_supported(const char *dtype);
/** max_abs_diff, rel_l2 and cosine of b against a, streaming both. */
int mvm_tensor_stats(mvm_tensor_diff *t, const mvm_tensor_source *a, const mvm_tensor_source *b);

#endif
