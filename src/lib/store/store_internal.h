/*
 * store_internal.h: state shared by store.c (reads, index) and writer.c
 * (the open pack).
 */
#ifndef MVM_STORE_INTERNAL_H
#define MVM_STORE_INTERNAL_H

#include <pthread.h>
#include "store.h"
#include "pack.h"
#include "util/pool.h"
#include "util/seqfile.h"
#include "chunkfilter.h"

typedef struct {
	int fd;                   /* -1 when no pack is open */
	char *tmp_path;
	char *final_name;         /* sealed: pack-<sha of index>.pack */
	uint64_t final_size;
	mvm_seqfile out;          /* the temp pack's writer */
	uint64_t size;            /* bytes appended so far, header included */
	mvm_pack_entry *entries;
	size_t count, cap;
	uint32_t *slots;          /* open-addressing set over entries */
	size_t slots_cap;
} mvm_open_pack;

typedef struct {
	int64_t pack;
	int fd;
} mvm_pack_handle;

#define MVM_STORE_MAX_HANDLES 256

/* A reader connection for lookups off the store's lock (store.c). */
typedef struct {
	mvm_db *db;               /* NULL until first needed */
	sqlite3_stmt *locate_st;
	int busy;
} mvm_store_reader;

#define MVM_STORE_READERS 4

struct mvm_store {
	mvm_db *db;
	char *root;
	int level;
	pthread_mutex_t lock;     /* guards the statements, handles and pending set */
	sqlite3_stmt *locate_st;
	mvm_store_reader readers[MVM_STORE_READERS];
	mvm_pack_handle handles[MVM_STORE_MAX_HANDLES];
	size_t nhandles;
	mvm_open_pack open;
	/*
	 * The pack sealed last, while the sealer thread syncs it and moves it
	 * into packs/ and the next one is written; indexed by the writer at
	 * the next seal or flush. Its chunks count as pending.
	 */
	mvm_open_pack sealing;
	int sealing_busy;
	mvm_pool *sealer;
	mvm_job seal_job;
	int seal_error;
	char seal_msg[256];
	int rewriting;            /* gc: write even if stored elsewhere; re-point rows */
	uint64_t sealed;          /* packs indexed through this handle (mvm_store_has_many) */
	mvm_chunk_filter *filter; /* NULL when there is none (or not yet: filter_tried) */
	int filter_tried;         /* 1 + the strongest mvm_chunkfilter_mode tried, 0 before */
	size_t filter_asked;      /* ids asked of it; read ahead whole from FILTER_READ_AHEAD_IDS on */
};

int mvm_open_pack_contains(const mvm_open_pack *op, const mvm_oid *id);
/** Drop the open and the sealing pack, unindexed (their temp files go). */
void mvm_store__discard_unsealed(mvm_store *st);
/** Whether id is written but not yet indexed: in the open or the sealing pack. Caller holds st->lock. */
int mvm_store__pending(const mvm_store *st, const mvm_oid *id);
void mvm_open_pack_reset(mvm_open_pack *op);
/** A private descriptor of a pack (close it); MVM_ENOTFOUND when the pack is gone. */
int mvm_store__pack_fd_dup(int *out, mvm_store *st, int64_t pack);
/*
 * Look up ids about to be indexed, on a reader connection (none when no
 * reader is free): the index pages their rows will go into are then in
 * the page cache when the writer inserts them.
 */
void mvm_store__warm_index(mvm_store *st, const mvm_pack_entry *entries, size_t count);
/**
 * Record a sealed pack and its chunks in the database, in one
 * transaction; `synced`: wait until it is on disk (and every unsynced
 * one before it), else it becomes durable with the next synced commit.
 */
int mvm_store__index_pack(mvm_store *st, const char *name, uint64_t size,
			  const mvm_pack_entry *entries, size_t count, int synced);

#endif
