/*
 * mvm/maint.h: garbage collection, integrity checks and what the store holds.
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

/** Number of packs, their bytes, and the bytes of the metadata database. */
int mvm_repo_store_size(uint64_t *packs, uint64_t *packs_bytes, uint64_t *db_bytes, mvm_repo *repo);

#define MVM_USAGE_CODECS 8 /* codec ids counted one by one (docs/FORMAT.md; 0-5 exist) */

typedef struct {
	uint64_t chunks, raw_bytes, stored_bytes;
} mvm_chunk_usage;

typedef struct {
	uint64_t packs, pack_bytes, db_bytes;
	mvm_chunk_usage all;                     /* every stored chunk, each once */
	mvm_chunk_usage codec[MVM_USAGE_CODECS]; /* the same by codec id */
	uint64_t versions, files, file_bytes;    /* every stored version, its files counted in each */
} mvm_usage;

/*
 * What the store holds: packs, unique chunks (raw and stored bytes, by
 * codec) and the versions they make up, gc's candidates included (they
 * are stored until gc runs).
 */
int mvm_repo_usage(mvm_usage *out, mvm_repo *repo);

/** A codec's name as docs/FORMAT.md gives it ("exponent-first"), or NULL for an unknown id. */
const char *mvm_codec_name(unsigned int codec);

#endif
