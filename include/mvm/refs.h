/*
 * mvm/refs.h: branches, tags, HEAD and revision parsing.
 *
 * Branches are refs/heads/NAME, tags refs/tags/NAME. HEAD names a branch,
 * or holds a version id when detached.
 */
#ifndef MVM_REFS_H
#define MVM_REFS_H

#include <stdint.h>
#include "mvm/repo.h"

/*
 * Resolve a revision: full or unique-prefix id (>= 4 hex), branch, tag,
 * HEAD, MODEL@VERSION or MODEL@ALIAS (mvm/registry.h), with any number of
 * ~N and ^ suffixes (first parent).
 * @return 0, MVM_ENOTFOUND, MVM_EAMBIGUOUS.
 */
int mvm_revparse(mvm_oid *out, mvm_repo *repo, const char *spec);

/** Branch HEAD is on ("main"), or empty when detached. */
int mvm_head_branch(mvm_buf *out, mvm_repo *repo);
/** Version HEAD points at; MVM_ENOTFOUND before the first commit. */
int mvm_head_id(mvm_oid *out, mvm_repo *repo);
/**
 * Both from one reading of HEAD: its branch (empty when detached) and
 * version; MVM_ENOTFOUND, with the branch set, before the first commit.
 */
int mvm_head_read(mvm_buf *branch, mvm_oid *id, mvm_repo *repo);

typedef struct {
	char *name;      /* short name: "main", "v1" */
	mvm_oid target;
	char *message;   /* tags only, may be NULL */
	int64_t time;
} mvm_ref;

/** All branches (is_tag 0) or tags (1), sorted by name. Free with mvm_refs_free. */
int mvm_refs_list(mvm_ref **out, size_t *count, mvm_repo *repo, int is_tag);
void mvm_refs_free(mvm_ref *refs, size_t count);

/** @return 0, MVM_EEXISTS, MVM_EUSAGE for an invalid name. */
int mvm_branch_create(mvm_repo *repo, const char *name, const mvm_oid *target);
/** Refuses the current branch. @return 0, MVM_ENOTFOUND, MVM_ECONFLICT. */
int mvm_branch_delete(mvm_repo *repo, const char *name);
int mvm_tag_create(mvm_repo *repo, const char *name, const mvm_oid *target, const char *message);

/** Validate a branch or tag name. */
int mvm_ref_name_check(const char *name);

#endif
