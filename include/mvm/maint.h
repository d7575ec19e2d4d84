/*
 * mvm/maint.h: garbage collection and integrity checks.
 */
#ifndef MVM_MAINT_H
#define MVM_MAINT_H

#include "mvm/repo.h"

typedef struct {
	uint64_t packs_before, packs_after;
	uint64_t bytes_before, bytes_after;
	uint64_t chunks_removed, objects_removed;
} mvm_gc_stats;

/** Remove chunks and objects no ref, HEAD or the stage reaches; rewrite packs holding them. */
int mvm_gc(mvm_gc_stats *out, mvm_repo *repo, mvm_progress_cb progress, void *payload);

/** Called once per problem found: kind ("chunk", "pack", "object", "ref"), id or name, what is wrong. */
typedef void (*mvm_fsck_cb)(const char *kind, const char *name, const char *problem, void *payload);

typedef struct {
	uint64_t packs, chunks, objects, refs, problems;
} mvm_fsck_stats;

/** Verify everything; @return 0 when clean, MVM_ECORRUPT when problems were reported. */
int mvm_fsck(mvm_fsck_stats *out, mvm_repo *repo, mvm_fsck_cb cb, void *payload,
	     mvm_progress_cb progress, void *progress_payload);

/** Bytes used by packs and the metadata database. */
int mvm_repo_store_size(uint64_t *packs_bytes, uint64_t *db_bytes, mvm_repo *repo);

#endif
