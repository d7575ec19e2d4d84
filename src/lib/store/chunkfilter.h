/*
 * chunkfilter.h: a Bloom filter over the chunk index's ids (.mvm/chunks.filter,
 * chunkfilter.c), so that looking up a chunk the store does not hold -- every
 * chunk of new weights -- costs no read of the index. A "maybe" still goes
 * to the index; "no" is final. Every writer adds its ids to an existing
 * filter before it commits their rows.
 */
#ifndef MVM_STORE_CHUNKFILTER_H
#define MVM_STORE_CHUNKFILTER_H

#include "mvm/common.h"
#include "meta/db.h"

typedef struct mvm_chunk_filter mvm_chunk_filter;

typedef enum {
	MVM_CHUNKFILTER_OPEN,    /* map the filter if there is a good one, else none */
	MVM_CHUNKFILTER_BUILD,   /* first (re)build one that is missing, damaged or full */
	MVM_CHUNKFILTER_REBUILD, /* build a new one whatever there is */
} mvm_chunkfilter_mode;

/*
 * Map root/chunks.filter, (re)built from the ids of db's `chunks` table as
 * `mode` says. *out is NULL where there is none, or where the file cannot
 * be made or mapped (a read-only repository): lookups then all go to the
 * index. @return 0, or an error of the database.
 */
int mvm_chunkfilter_open(mvm_chunk_filter **out, const char *root, mvm_db *db, mvm_chunkfilter_mode mode);
void mvm_chunkfilter_free(mvm_chunk_filter *f);
/*
 * Remove root/chunks.filter: for a writer that has no filter mapped (none
 * good, or none it could map), before it commits rows a filter left on
 * disk would not have. @return 0 (also when there is none) or an error.
 */
int mvm_chunkfilter_drop(const char *root);
/** Read the whole filter in now (until then, a page at a time as lookups touch it). */
void mvm_chunkfilter_prefetch(mvm_chunk_filter *f);

/** 0 when id is certainly not indexed (when the filter was kept by every writer); 1 when it may be. */
int mvm_chunkfilter_may_have(const mvm_chunk_filter *f, const mvm_oid *id);
/** Add id (safe against other threads and processes adding at once). */
void mvm_chunkfilter_add(mvm_chunk_filter *f, const mvm_oid *id);

/** Of the index's *ids ids, how many f rules out (none, unless a writer went without it). */
int mvm_chunkfilter_misses(uint64_t *misses, uint64_t *ids, const mvm_chunk_filter *f, mvm_db *db);

#endif
