/*
 * add_internal.h: the staging machinery shared by add, commit -a and checkout.
 */
#ifndef MVM_ADD_INTERNAL_H
#define MVM_ADD_INTERNAL_H

#include <sys/stat.h>
#include "mvm/worktree.h"
#include "repo_internal.h"

typedef struct {
	char *path;
	int remove;
	struct stat st;
	mvm_manifest *manifest;
} mvm_add_item;

typedef struct {
	mvm_add_item *items;
	size_t n, cap;
	mvm_stage_entry *stage;
	size_t nstage;
} mvm_add_list;

/** Scan and stage the listed items (the caller holds the lock). */
int mvm_add_apply(mvm_repo *repo, mvm_add_list *l, const mvm_work_options *opts);
void mvm_add_list_dispose(mvm_add_list *l);
/** Stage every tracked file that changed or disappeared (commit -a). */
int mvm_add_tracked(mvm_repo *repo, const mvm_work_options *opts);

#endif
