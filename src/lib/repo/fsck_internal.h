/*
 * fsck_internal.h: what fsck.c hands to fsck_chunks.c.
 */
#ifndef MVM_REPO_FSCK_INTERNAL_H
#define MVM_REPO_FSCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A chunk that does not decode, or not to its id: `problem` says which. */
typedef void (*mvm_fsck_chunk_report)(void *arg, const mvm_oid *id, const char *problem);
/* `bytes` more decoded bytes checked (for progress). */
typedef void (*mvm_fsck_chunk_done)(void *arg, uint64_t bytes);

/*
 * Check the n chunks at locs (where each is stored, locs[i].id its id,
 * all of one pack, in pack order) on a pool of threads: each must decode,
 * to bytes whose SHA-256 is its id. Problems are reported in the order of
 * locs, from the calling thread. @return 0 (problems are not errors), or
 * MVM_ERROR when out of memory.
 */
int mvm_fsck__chunks(mvm_store *store, const mvm_chunk_loc *locs, size_t n, mvm_fsck_chunk_report report,
		     mvm_fsck_chunk_done done, void *arg);

#endif
