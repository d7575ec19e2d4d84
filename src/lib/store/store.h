/*
 * store.h: the chunk store: pack files under .mvm/packs, indexed by the
 * `chunks` table of the metadata database.
 *
 * Reads are thread-safe. Writes append to one open temp pack; a pack is
 * sealed (index written, fsynced, renamed to pack-<sha>.pack, folder fsynced)
 * before its chunks are inserted in the database, so the database never
 * names a chunk that is not durable.
 */
#ifndef MVM_STORE_STORE_H
#define MVM_STORE_STORE_H

#include <stdint.h>
#include "mvm/buf.h"
#include "mvm/common.h"
#include "meta/db.h"

typedef struct mvm_store mvm_store;

typedef struct {
	mvm_oid id;               /* the chunk located */
	int64_t pack;
	uint64_t offset;
	uint32_t stored_len, raw_len, codec;
	int has_base;             /* codec 3: the base chunk's id, from the index */
	mvm_oid base;
} mvm_chunk_loc;

/** `root` is the .mvm folder. */
int mvm_store_open(mvm_store **out, mvm_db *db, const char *root);
/** Frees the store; an unsealed pack is discarded (call mvm_store_flush first). */
void mvm_store_free(mvm_store *st);

/** @return 0 with *out filled, MVM_ENOTFOUND if the chunk is not stored. */
int mvm_store_locate(mvm_chunk_loc *out, mvm_store *st, const mvm_oid *id);
/** @return 1 if stored or pending in the open pack, 0 if not, <0 on error. */
int mvm_store_has(mvm_store *st, const mvm_oid *id);
/*
 * mvm_store_has for n ids at once, into has[i] (1 or 0), in one read
 * transaction. *gen is the store's seal count before the lookups: pass it
 * to mvm_store_write_new with a chunk found absent.
 */
int mvm_store_has_many(mvm_store *st, const mvm_oid *ids, size_t n, unsigned char *has, uint64_t *gen);
/*
 * The chunk filter (chunkfilter.h), which lets has_many answer "absent"
 * without the index: built anew (gc, after deleting chunks); or checked,
 * *misses of the index's *ids ids it would wrongly rule out (0 and 0
 * when there is no filter).
 */
int mvm_store_filter_rebuild(mvm_store *st);
/** Unmap it, to map it anew on next use: another process may have replaced it while the repository was unlocked. */
void mvm_store_filter_forget(mvm_store *st);
int mvm_store_filter_misses(uint64_t *misses, uint64_t *ids, mvm_store *st);
/** The seal count now: when it moved past a `gen`, mvm_store_write_new checks the index again. */
uint64_t mvm_store_seal_count(mvm_store *st);
/*
 * Decode the chunk at loc into dst (loc->raw_len bytes); scratch is reused.
 * A delta chunk (codec 3) reads its base too: one hop, never more.
 */
int mvm_store_read(void *dst, mvm_store *st, const mvm_chunk_loc *loc, mvm_buf *scratch);
/** Read stored (still encoded) bytes of the chunk at loc into out. */
int mvm_store_read_stored(mvm_buf *out, mvm_store *st, const mvm_chunk_loc *loc);
/** Decode the chunk at loc from its stored bytes into dst; a delta reads its base. */
int mvm_store_decode(void *dst, mvm_store *st, const mvm_chunk_loc *loc, const void *stored);

/*
 * The stored bytes of many chunks (a batch of a checkout, the bases of an
 * add's batch), read in runs of pack neighbours with O_DIRECT where the
 * file system allows (readset.c): no page-cache pages to fill, one
 * request per run. Reused across calls; MVM_STORED_SET_INIT to start.
 */
typedef struct {
	unsigned char *mem;           /* aligned, cap bytes: the runs read */
	size_t cap;
	size_t *at;                   /* per chunk: its bytes' offset in mem, or MVM_STORED_ALONE */
	size_t count, at_cap;         /* count: chunks of the last call (0 after a failure) */
	size_t *order, order_cap;     /* the chunks wanted, in pack order */
	void *runs;
	size_t runs_cap;
} mvm_stored_set;

#define MVM_STORED_SET_INIT { NULL, 0, NULL, 0, 0, NULL, 0, NULL, 0 }
#define MVM_STORED_ALONE ((size_t)-1) /* not read with the set (not wanted, or its pack moved) */

/*
 * Read the chunks at locs[i] for which want[i] is set (all when want is
 * NULL). After an error the chunks not read are read alone by
 * mvm_store_read_in_set, which may then succeed or report it.
 */
int mvm_store_read_set(mvm_stored_set *set, mvm_store *st, const mvm_chunk_loc *locs, const unsigned char *want,
		       size_t count);
/* Decode chunk i of the set into dst: from the set, or read alone when the set has not got it. */
int mvm_store_read_in_set(void *dst, mvm_store *st, const mvm_stored_set *set, size_t i, const mvm_chunk_loc *loc,
			  mvm_buf *scratch);
/*
 * Decode chunks idx[0, count) of the set (chunk i at locs[i]; count <=
 * MVM_STORE_DECODE_GROUP) into dst[0, count), as mvm_store_read_in_set
 * each, with their entropy decoding run together (mvm_codec_decode_many).
 * Deltas, and chunks the set has not got, are decoded alone.
 */
#define MVM_STORE_DECODE_GROUP 4 /* MVM_CODEC_GROUP, for callers outside the store */
int mvm_store_read_many_in_set(unsigned char *const *dst, mvm_store *st, const mvm_stored_set *set, const size_t *idx,
			       const mvm_chunk_loc *locs, size_t count, mvm_buf *scratch);
/*
 * Decode delta chunk i of the set (loc) against `base`, the decoded bytes
 * of the chunk at base_loc, which the caller read (checkout reads a
 * batch's bases as a set of their own): the delta's stored bytes must
 * name that chunk; when they name another, its own base is read instead.
 */
int mvm_store_read_delta_in_set(void *dst, mvm_store *st, const mvm_stored_set *set, size_t i,
				const mvm_chunk_loc *loc, const mvm_chunk_loc *base_loc, const void *base,
				mvm_buf *scratch);
/*
 * Where the base of the delta chunk at loc is stored: MVM_ECORRUPT when
 * it is missing, itself a delta or of another length.
 */
int mvm_store_locate_base(mvm_chunk_loc *out, mvm_store *st, const mvm_chunk_loc *loc);
void mvm_stored_set_dispose(mvm_stored_set *set);
/** Locate and decode one chunk into out. */
int mvm_store_get(mvm_buf *out, mvm_store *st, const mvm_oid *id);

/** Append an encoded chunk unless it is already stored or pending; `base` for codec 3, else NULL. */
int mvm_store_write(mvm_store *st, const mvm_oid *id, const void *stored, size_t stored_len,
		    uint32_t raw_len, uint32_t codec, const mvm_oid *base);
/*
 * mvm_store_write of a chunk that mvm_store_has_many found absent at seal
 * count `gen`: while this handle has sealed no pack since, its own writes
 * cannot have indexed the chunk, so only the pending set is checked; else
 * the index too. A chunk another process stores meanwhile may be written
 * twice, as after any check: the index keeps the first row and gc drops
 * the unreferenced copy.
 */
int mvm_store_write_new(mvm_store *st, uint64_t gen, const mvm_oid *id, const void *stored, size_t stored_len,
			uint32_t raw_len, uint32_t codec, const mvm_oid *base);
/**
 * Seal the open pack and index its chunks, the last index commit synced,
 * which makes the unsynced ones before it durable. No-op when nothing is
 * pending.
 */
int mvm_store_flush(mvm_store *st);

/*
 * gc mode: mvm_store_write appends chunks even when the index has them
 * (in another pack), and sealing re-points their rows to the new pack.
 */
void mvm_store_set_rewriting(mvm_store *st, int on);

/** Path of a pack by database id into out. */
int mvm_store_pack_path(mvm_buf *out, mvm_store *st, int64_t pack);

/** Forget cached file handles (after gc replaced packs). */
void mvm_store_drop_handles(mvm_store *st);

#endif
