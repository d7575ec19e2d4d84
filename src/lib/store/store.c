/*
 * store.c: chunk lookups through the database index, reads from pack files
 * (file handles cached per pack) and indexing of sealed packs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "codec.h"
#include "store_internal.h"

#define LOCATE_SQL "SELECT pack, offset, stored_len, raw_len, codec, base FROM chunks WHERE id = ?"

int mvm_store_open(mvm_store **out, mvm_db *db, const char *root)
{
	mvm_store *st;

	*out = NULL;
	if (!(st = calloc(1, sizeof(*st))) || !(st->root = strdup(root))) {
		free(st);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	st->db = db;
	st->open.fd = -1;
	st->sealing.fd = -1;
	pthread_mutex_init(&st->lock, NULL);
	*out = st;
	return 0;
}

void mvm_store_drop_handles(mvm_store *st)
{
	size_t i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->nhandles; i++)
		close(st->handles[i].fd);
	st->nhandles = 0;
	pthread_mutex_unlock(&st->lock);
}

void mvm_store_free(mvm_store *st)
{
	size_t i;

	if (!st)
		return;
	mvm_store__discard_unsealed(st);
	mvm_pool_free(st->sealer);
	mvm_seqfile_dispose(&st->open.out);
	mvm_seqfile_dispose(&st->sealing.out);
	free(st->open.entries);
	free(st->open.slots);
	free(st->sealing.entries);
	free(st->sealing.slots);
	mvm_store_drop_handles(st);
	sqlite3_finalize(st->locate_st);
	mvm_chunkfilter_free(st->filter);
	for (i = 0; i < MVM_STORE_READERS; i++) {
		sqlite3_finalize(st->readers[i].locate_st);
		mvm_db_free(st->readers[i].db);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->root);
	free(st);
}

void mvm_store_set_rewriting(mvm_store *st, int on)
{
	st->rewriting = on;
}

/* Run the locate statement q of connection db. */
static int locate_with(mvm_chunk_loc *out, mvm_db *db, sqlite3_stmt *q, const mvm_oid *id)
{
	int rc, error = 0;

	mvm_db_bind_oid(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->id = *id;
		out->pack = sqlite3_column_int64(q, 0);
		out->offset = (uint64_t)sqlite3_column_int64(q, 1);
		out->stored_len = (uint32_t)sqlite3_column_int64(q, 2);
		out->raw_len = (uint32_t)sqlite3_column_int64(q, 3);
		out->codec = (uint32_t)sqlite3_column_int64(q, 4);
		out->has_base = sqlite3_column_type(q, 5) != SQLITE_NULL;
		if (out->has_base)
			error = mvm_db_column_oid(&out->base, q, 5);
	} else if (rc == SQLITE_DONE) {
		char hex[MVM_OID_HEXSZ + 1];
		mvm_oid_fmt(hex, id);
		error = mvm_error_set(MVM_ENOTFOUND, "chunk %s is not in the store", hex);
	} else {
		error = mvm_db_error(db, "looking up a chunk");
	}
	sqlite3_reset(q);
	return error;
}

/* Under the lock; the statement is prepared on first use (status, log and the like never look up a chunk). */
static int locate_locked(mvm_chunk_loc *out, mvm_store *st, const mvm_oid *id)
{
	int error;

	if (!st->locate_st && (error = mvm_db_prepare(&st->locate_st, st->db, LOCATE_SQL)) < 0)
		return error;
	return locate_with(out, st->db, st->locate_st, id);
}

/*
 * Lookups from the pipelines' workers run on reader connections of their
 * own, so one that waits on the disk for an index page (a cold index of
 * millions of chunks) holds up neither the other workers nor the store's
 * lock. A free reader is taken under the lock (and opened on first use);
 * NULL means use the main connection: no reader is free or can be opened,
 * or the main connection has a transaction open, whose rows readers would
 * not see.
 */
static mvm_store_reader *reader_take(mvm_store *st)
{
	mvm_store_reader *r;
	size_t i;

	if (mvm_db_in_transaction(st->db))
		return NULL;
	for (i = 0; i < MVM_STORE_READERS; i++) {
		r = &st->readers[i];
		if (r->busy)
			continue;
		if (!r->db && (mvm_db_open_reader(&r->db, st->db) < 0 ||
			       mvm_db_prepare(&r->locate_st, r->db, LOCATE_SQL) < 0)) {
			mvm_db_free(r->db);
			r->db = NULL;
			mvm_error_clear();
			return NULL;
		}
		r->busy = 1;
		return r;
	}
	return NULL;
}

/* Locate id on a reader when one is free, else under the lock on the main connection. */
static int locate(mvm_chunk_loc *out, mvm_store *st, const mvm_oid *id)
{
	mvm_store_reader *r;
	int error;

	pthread_mutex_lock(&st->lock);
	if (!(r = reader_take(st))) {
		error = locate_locked(out, st, id);
		pthread_mutex_unlock(&st->lock);
		return error;
	}
	pthread_mutex_unlock(&st->lock);
	error = locate_with(out, r->db, r->locate_st, id);
	pthread_mutex_lock(&st->lock);
	r->busy = 0;
	pthread_mutex_unlock(&st->lock);
	return error;
}

int mvm_store_locate(mvm_chunk_loc *out, mvm_store *st, const mvm_oid *id)
{
	return locate(out, st, id);
}

/* A lookup's outcome as a yes or no; errors other than not-found stay errors. */
static int found(unsigned char *has, int error)
{
	*has = error == 0;
	if (error == MVM_ENOTFOUND) {
		mvm_error_clear();
		return 0;
	}
	return error;
}

/*
 * The chunk filter, opened on first need (caller holds st->lock). A
 * lookup builds one that is missing; a writer only adds to one that
 * exists (the next lookup's build reads its rows from the index).
 */
static int filter_ready(mvm_store *st, mvm_chunkfilter_mode mode)
{
	if (st->filter || st->filter_tried > (int)mode)
		return 0;
	st->filter_tried = (int)mode + 1;
	return mvm_chunkfilter_open(&st->filter, st->root, st->db, mode);
}

/* Caller holds st->lock. */
static void filter_forget(mvm_store *st)
{
	mvm_chunkfilter_free(st->filter);
	st->filter = NULL;
	st->filter_tried = 0;
	st->filter_asked = 0;
}

void mvm_store_filter_forget(mvm_store *st)
{
	pthread_mutex_lock(&st->lock);
	filter_forget(st);
	pthread_mutex_unlock(&st->lock);
}

int mvm_store_filter_rebuild(mvm_store *st)
{
	int error;

	pthread_mutex_lock(&st->lock);
	filter_forget(st);
	error = filter_ready(st, MVM_CHUNKFILTER_REBUILD);
	pthread_mutex_unlock(&st->lock);
	return error;
}

int mvm_store_filter_misses(uint64_t *misses, uint64_t *ids, mvm_store *st)
{
	int error;

	*misses = *ids = 0;
	pthread_mutex_lock(&st->lock);
	if ((error = filter_ready(st, MVM_CHUNKFILTER_OPEN)) == 0 && st->filter)
		error = mvm_chunkfilter_misses(misses, ids, st->filter, st->db);
	pthread_mutex_unlock(&st->lock);
	return error;
}

#define HAS_ASK 2 /* has[i] while the index is still to be asked */

/*
 * A page of the filter is read for each id asked until this many were
 * (~16 MiB of new chunks), then the whole file in one pass: an add of a
 * few chunks need not read a 32 MiB filter (10 million chunks indexed).
 */
#define FILTER_READ_AHEAD_IDS 64

/* Caller holds st->lock. */
static void filter_read_ahead(mvm_store *st, size_t n)
{
	if (st->filter && st->filter_asked < FILTER_READ_AHEAD_IDS &&
	    (st->filter_asked += n) >= FILTER_READ_AHEAD_IDS)
		mvm_chunkfilter_prefetch(st->filter);
}

/*
 * A chunk in the open pack is found in its pending set; one the filter
 * rules out is absent; the rest are looked up in the index. A chunk sealed
 * between the two checks is in the index by then (the pack is indexed,
 * its ids added to the filter first, before its pending set is cleared).
 * One read transaction for all the lookups (on the main connection, under
 * the lock, when no reader is free): SQLite then takes its file locks and
 * checks the WAL once per batch, not once per chunk.
 */
int mvm_store_has_many(mvm_store *st, const mvm_oid *ids, size_t n, unsigned char *has, uint64_t *gen)
{
	mvm_store_reader *r;
	mvm_chunk_loc loc;
	size_t i, ask = 0;
	int error = 0;

	pthread_mutex_lock(&st->lock);
	*gen = st->sealed;
	if ((error = filter_ready(st, MVM_CHUNKFILTER_BUILD)) < 0) {
		pthread_mutex_unlock(&st->lock);
		return error;
	}
	filter_read_ahead(st, n);
	for (i = 0; i < n; i++) {
		has[i] = mvm_store__pending(st, &ids[i]) ? 1
			 : st->filter && !mvm_chunkfilter_may_have(st->filter, &ids[i]) ? 0 : HAS_ASK;
		ask += has[i] == HAS_ASK;
	}
	if (!ask) {
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	if (!(r = reader_take(st))) {
		for (i = 0; i < n && !error; i++)
			if (has[i] == HAS_ASK)
				error = found(&has[i], locate_locked(&loc, st, &ids[i]));
		pthread_mutex_unlock(&st->lock);
		return error;
	}
	pthread_mutex_unlock(&st->lock);
	if ((error = mvm_db_begin(r->db)) == 0) {
		for (i = 0; i < n && !error; i++)
			if (has[i] == HAS_ASK)
				error = found(&has[i], locate_with(&loc, r->db, r->locate_st, &ids[i]));
		if (error < 0)
			mvm_db_rollback(r->db);
		else
			error = mvm_db_commit(r->db);
	}
	pthread_mutex_lock(&st->lock);
	r->busy = 0;
	pthread_mutex_unlock(&st->lock);
	return error;
}

uint64_t mvm_store_seal_count(mvm_store *st)
{
	uint64_t n;

	pthread_mutex_lock(&st->lock);
	n = st->sealed;
	pthread_mutex_unlock(&st->lock);
	return n;
}

int mvm_store_has(mvm_store *st, const mvm_oid *id)
{
	unsigned char has;
	uint64_t gen;
	int error = mvm_store_has_many(st, id, 1, &has, &gen);

	return error < 0 ? error : has;
}

int mvm_store_pack_path(mvm_buf *out, mvm_store *st, int64_t pack)
{
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = mvm_db_prepare(&q, st->db, "SELECT name FROM packs WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int64(q, 1, pack);
	mvm_buf_clear(out);
	if (sqlite3_step(q) == SQLITE_ROW)
		error = mvm_buf_printf(out, "%s/packs/%s", st->root, (const char *)sqlite3_column_text(q, 0));
	else
		error = mvm_error_set(MVM_ECORRUPT, "chunk index names pack %lld, which is not recorded",
				      (long long)pack);
	sqlite3_finalize(q);
	return error;
}

/* File descriptor of a pack, opened on first use. Caller holds st->lock. */
static int pack_fd_locked(int *out, mvm_store *st, int64_t pack)
{
	mvm_buf path = MVM_BUF_INIT;
	size_t i;
	int fd, error;

	for (i = 0; i < st->nhandles; i++)
		if (st->handles[i].pack == pack) {
			*out = st->handles[i].fd;
			return 0;
		}
	if ((error = mvm_store_pack_path(&path, st, pack)) < 0) {
		mvm_buf_dispose(&path);
		return error == MVM_ECORRUPT ? mvm_error_wrap(MVM_ENOTFOUND, "opening a pack") : error;
	}
	if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
		error = mvm_error_set(errno == ENOENT ? MVM_ENOTFOUND : MVM_ECORRUPT, "pack %s is missing: %s",
				      path.ptr, strerror(errno));
		mvm_buf_dispose(&path);
		return error;
	}
	mvm_buf_dispose(&path);
	if (st->nhandles == MVM_STORE_MAX_HANDLES) {
		for (i = 0; i < st->nhandles; i++)
			close(st->handles[i].fd);
		st->nhandles = 0;
	}
	st->handles[st->nhandles].pack = pack;
	st->handles[st->nhandles++].fd = fd;
	*out = fd;
	return 0;
}

/* A private descriptor of the chunk's pack (another thread may evict the cached one). */
int mvm_store__pack_fd_dup(int *out, mvm_store *st, int64_t pack)
{
	int fd = -1, error;

	pthread_mutex_lock(&st->lock);
	if ((error = pack_fd_locked(&fd, st, pack)) == 0 && (*out = dup(fd)) < 0)
		error = mvm_error_set(MVM_ERROR, "cannot duplicate a pack handle: %s", strerror(errno));
	pthread_mutex_unlock(&st->lock);
	return error;
}

/*
 * The pack named by loc is gone: gc moved the chunk into a new pack after
 * the caller located it. Look it up again; the same stored bytes must be
 * found elsewhere, or the store really is damaged.
 */
static int relocate(mvm_chunk_loc *now, mvm_store *st, const mvm_chunk_loc *loc)
{
	char hex[MVM_OID_HEXSZ + 1];

	if (mvm_store_locate(now, st, &loc->id) == 0 && now->pack != loc->pack &&
	    now->stored_len == loc->stored_len && now->codec == loc->codec)
		return 0;
	mvm_oid_fmt(hex, &loc->id);
	return mvm_error_set(MVM_ECORRUPT, "chunk %s: its pack is missing and no other pack holds it", hex);
}

int mvm_store_read_stored(mvm_buf *out, mvm_store *st, const mvm_chunk_loc *loc)
{
	mvm_chunk_loc now = *loc;
	int fd = -1, error;

	if (loc->stored_len > mvm_codec_bound(MVM_PACK_MAX_RAW))
		return mvm_error_set(MVM_ECORRUPT, "chunk index entry has an impossible length");
	if ((error = mvm_store__pack_fd_dup(&fd, st, loc->pack)) == MVM_ENOTFOUND &&
	    (error = relocate(&now, st, loc)) == 0)
		error = mvm_store__pack_fd_dup(&fd, st, now.pack);
	if (error < 0)
		return error == MVM_ENOTFOUND ? mvm_error_wrap(MVM_ECORRUPT, "reading a chunk") : error;
	mvm_buf_clear(out);
	if ((error = mvm_buf_grow(out, now.stored_len)) == 0 &&
	    (error = mvm_fs_pread_all(fd, out->ptr, now.stored_len, now.offset, "pack")) == 0)
		out->size = now.stored_len;
	close(fd);
	return error;
}

/* Where a delta's base (id) is: stored, of the delta's length, and not a delta itself. */
static int locate_base_id(mvm_chunk_loc *out, mvm_store *st, const mvm_chunk_loc *loc, const mvm_oid *id)
{
	int error;

	if ((error = mvm_store_locate(out, st, id)) < 0)
		return error == MVM_ENOTFOUND ? mvm_error_wrap(MVM_ECORRUPT, "base of a delta chunk") : error;
	if (mvm_codec_is_delta(out->codec) || out->raw_len != loc->raw_len)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk names a base that is itself a delta or of another length");
	return 0;
}

int mvm_store_locate_base(mvm_chunk_loc *out, mvm_store *st, const mvm_chunk_loc *loc)
{
	if (!loc->has_base)
		return mvm_error_set(MVM_ECORRUPT, "chunk has no delta base in the index");
	return locate_base_id(out, st, loc, &loc->base);
}

/* A delta's base, named by its stored bytes, decoded into out. */
static int read_base(mvm_buf *out, mvm_store *st, const mvm_chunk_loc *loc, const void *stored)
{
	mvm_buf scratch = MVM_BUF_INIT;
	mvm_chunk_loc bloc;
	mvm_oid base;
	int error;

	if ((error = mvm_codec_xor_base(&base, stored, loc->stored_len)) < 0 ||
	    (error = locate_base_id(&bloc, st, loc, &base)) < 0)
		return error;
	mvm_buf_clear(out);
	if ((error = mvm_buf_grow(out, bloc.raw_len)) == 0 &&
	    (error = mvm_store_read_stored(&scratch, st, &bloc)) == 0)
		error = mvm_codec_decode(out->ptr, bloc.raw_len, scratch.ptr, bloc.stored_len, bloc.codec);
	mvm_buf_dispose(&scratch);
	return error;
}

int mvm_store_decode(void *dst, mvm_store *st, const mvm_chunk_loc *loc, const void *stored)
{
	mvm_buf base = MVM_BUF_INIT;
	int error;

	if (!mvm_codec_is_delta(loc->codec))
		return mvm_codec_decode(dst, loc->raw_len, stored, loc->stored_len, loc->codec);
	if ((error = read_base(&base, st, loc, stored)) == 0)
		error = mvm_codec_decode_xor(dst, loc->raw_len, stored, loc->stored_len, loc->codec, base.ptr);
	mvm_buf_dispose(&base);
	return error;
}

int mvm_store_read(void *dst, mvm_store *st, const mvm_chunk_loc *loc, mvm_buf *scratch)
{
	int error;

	if ((error = mvm_store_read_stored(scratch, st, loc)) < 0)
		return error;
	return mvm_store_decode(dst, st, loc, scratch->ptr);
}

int mvm_store_get(mvm_buf *out, mvm_store *st, const mvm_oid *id)
{
	mvm_buf scratch = MVM_BUF_INIT;
	mvm_chunk_loc loc;
	int error;

	if ((error = mvm_store_locate(&loc, st, id)) < 0)
		return error;
	mvm_buf_clear(out);
	if ((error = mvm_buf_grow(out, loc.raw_len)) == 0 &&
	    (error = mvm_store_read(out->ptr, st, &loc, &scratch)) == 0)
		out->size = loc.raw_len;
	mvm_buf_dispose(&scratch);
	return error;
}

static int insert_chunks(mvm_store *st, int64_t pack, const mvm_pack_entry *entries, size_t count)
{
	sqlite3_stmt *ins = NULL;
	size_t i;
	int error;

	if ((error = mvm_db_prepare(&ins, st->db, st->rewriting
		? "INSERT OR REPLACE INTO chunks(id, pack, offset, stored_len, raw_len, codec, base) VALUES(?, ?, ?, ?, ?, ?, ?)"
		: "INSERT OR IGNORE INTO chunks(id, pack, offset, stored_len, raw_len, codec, base) VALUES(?, ?, ?, ?, ?, ?, ?)")) < 0)
		return error;
	for (i = 0; i < count && !error; i++) {
		mvm_db_bind_oid(ins, 1, &entries[i].id);
		sqlite3_bind_int64(ins, 2, pack);
		sqlite3_bind_int64(ins, 3, (sqlite3_int64)entries[i].offset);
		sqlite3_bind_int64(ins, 4, entries[i].stored_len);
		sqlite3_bind_int64(ins, 5, entries[i].raw_len);
		sqlite3_bind_int64(ins, 6, entries[i].codec);
		if (entries[i].has_base)
			mvm_db_bind_oid(ins, 7, &entries[i].base);
		else
			sqlite3_bind_null(ins, 7);
		error = mvm_db_step_done(st->db, ins);
	}
	sqlite3_finalize(ins);
	return error;
}

/*
 * The rows of a pack's chunks go into leaves all over a large index (the
 * ids are random): each insert on the writer's thread would wait for a
 * page read, ~0.3 s a GiB added with 10 million chunks indexed, now that
 * the chunk filter spares the lookups that used to read those pages
 * first. So the sealer thread looks the ids up (they miss) before the
 * writer indexes them, in id order, as the pack's index lists them.
 */
void mvm_store__warm_index(mvm_store *st, const mvm_pack_entry *entries, size_t count)
{
	mvm_store_reader *r;
	size_t i;

	pthread_mutex_lock(&st->lock);
	r = reader_take(st);
	pthread_mutex_unlock(&st->lock);
	if (!r)
		return;
	if (mvm_db_begin(r->db) == 0) {
		for (i = 0; i < count; i++) {
			mvm_db_bind_oid(r->locate_st, 1, &entries[i].id);
			sqlite3_step(r->locate_st);
			sqlite3_reset(r->locate_st);
		}
		mvm_db_commit(r->db);
	}
	mvm_error_clear();
	pthread_mutex_lock(&st->lock);
	r->busy = 0;
	pthread_mutex_unlock(&st->lock);
}

/* Before the rows commit: a filter must never rule out an indexed chunk (an unused bit only costs a lookup). */
static void add_to_filter(mvm_store *st, const mvm_pack_entry *entries, size_t count)
{
	size_t i;

	if (st->filter)
		for (i = 0; i < count; i++)
			mvm_chunkfilter_add(st->filter, &entries[i].id);
}

int mvm_store__index_pack(mvm_store *st, const char *name, uint64_t size,
			  const mvm_pack_entry *entries, size_t count, int synced)
{
	sqlite3_stmt *q = NULL;
	int64_t pack;
	int error;

	pthread_mutex_lock(&st->lock);
	/* set either way: a failed reset after an unsynced commit must not leave the synced one unsynced */
	if ((error = mvm_db_set_synced(st->db, synced)) < 0 || (error = filter_ready(st, MVM_CHUNKFILTER_OPEN)) < 0 ||
	    (!st->filter && (error = mvm_chunkfilter_drop(st->root)) < 0) || (error = mvm_db_begin(st->db)) < 0)
		goto done;
	if ((error = mvm_db_prepare(&q, st->db,
		"INSERT INTO packs(name, size, chunks) VALUES(?, ?, ?)"
		" ON CONFLICT(name) DO UPDATE SET size = excluded.size RETURNING id")) < 0)
		goto done;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)count);
	if (sqlite3_step(q) != SQLITE_ROW) {
		error = mvm_db_error(st->db, "recording a pack");
		goto done;
	}
	pack = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	q = NULL;
	if ((error = insert_chunks(st, pack, entries, count)) < 0)
		goto done;
	add_to_filter(st, entries, count);
	error = mvm_db_commit(st->db);
done:
	sqlite3_finalize(q);
	if (error < 0)
		mvm_db_rollback(st->db);
	/* later commits wait for the disk again; the pack stays indexed if this fails */
	if (!synced && mvm_db_set_synced(st->db, 1) < 0 && !error)
		mvm_error_clear();
	st->sealed++; /* even after a failure: it only makes writers check the index again */
	pthread_mutex_unlock(&st->lock);
	return error;
}
