/*
 * writer.c: the store's open pack. Chunks are appended through a
 * sequential writer (util/seqfile.h: O_DIRECT from an aligned buffer where
 * the file system allows it); a hash set of pending ids answers
 * mvm_store_has() for chunks not yet sealed. A full pack is sealed behind
 * the writer: its index is appended; its last queued writes, fsync, rename
 * into packs/ and the folder's fsync run on the sealer thread while the
 * next pack fills (through the other sequential writer); the writer
 * indexes it at the next seal or flush (its ids stay pending until then).
 * The order on disk is store.h's: fsync, rename, folder fsync, index.
 * Index commits before a flush's last one do not wait for the disk; that
 * one makes them all durable (a crash before it leaves packs in packs/
 * that no index row names, as a crash between rename and index always
 * could).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/fs.h"
#include "store_internal.h"

static uint64_t id_hash(const mvm_oid *id)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return h;
}

static int set_fill(mvm_open_pack *op, size_t cap);
static int rotate(mvm_store *st, int last);

static int set_grow(mvm_open_pack *op)
{
	return set_fill(op, op->slots_cap ? op->slots_cap * 2 : 1024);
}

/* Re-index the set after the entries moved (same capacity). */
static int set_rebuild(mvm_open_pack *op)
{
	return op->slots_cap ? set_fill(op, op->slots_cap) : 0;
}

static int set_fill(mvm_open_pack *op, size_t cap)
{
	size_t i;
	uint32_t *slots = malloc(cap * sizeof(*slots));

	if (!slots)
		return mvm_error_set(MVM_ERROR, "out of memory for pending chunks");
	memset(slots, 0xff, cap * sizeof(*slots));
	for (i = 0; i < op->count; i++) {
		size_t s = id_hash(&op->entries[i].id) & (cap - 1);
		while (slots[s] != UINT32_MAX)
			s = (s + 1) & (cap - 1);
		slots[s] = (uint32_t)i;
	}
	free(op->slots);
	op->slots = slots;
	op->slots_cap = cap;
	return 0;
}

int mvm_open_pack_contains(const mvm_open_pack *op, const mvm_oid *id)
{
	size_t s;

	if (!op->slots_cap)
		return 0;
	for (s = id_hash(id) & (op->slots_cap - 1); op->slots[s] != UINT32_MAX;
	     s = (s + 1) & (op->slots_cap - 1))
		if (!mvm_oid_cmp(&op->entries[op->slots[s]].id, id))
			return 1;
	return 0;
}

static int open_temp(mvm_store *st)
{
	mvm_open_pack *op = &st->open;
	unsigned char head[MVM_PACK_HEADER_SIZE];
	mvm_buf path = MVM_BUF_INIT;
	int error;

	if ((error = mvm_buf_printf(&path, "%s/tmp/pack-XXXXXX", st->root)) < 0)
		return error;
	if ((op->fd = mkstemp(path.ptr)) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot create a temp pack in %s/tmp: %s", st->root, strerror(errno));
		mvm_buf_dispose(&path);
		return error;
	}
	op->tmp_path = mvm_buf_detach(&path);
	mvm_pack_header(head);
	op->size = sizeof(head);
	if ((error = mvm_seqfile_start(&op->out, op->fd, op->tmp_path)) < 0)
		return error;
	return mvm_seqfile_append(&op->out, head, sizeof(head));
}

static int add_entry(mvm_open_pack *op, const mvm_pack_entry *e)
{
	size_t s;
	int error;

	if ((error = mvm_array_grow(&op->entries, &op->cap, op->count, sizeof(*op->entries), 1024)) < 0)
		return error;
	op->entries[op->count++] = *e;
	if (op->count * 2 > op->slots_cap)
		return set_grow(op);
	for (s = id_hash(&e->id) & (op->slots_cap - 1); op->slots[s] != UINT32_MAX;
	     s = (s + 1) & (op->slots_cap - 1))
		;
	op->slots[s] = (uint32_t)(op->count - 1);
	return 0;
}

/* Whether id must not be written again: pending, or (unless the caller knows better) indexed. */
static int write_skips(mvm_store *st, const mvm_oid *id, int check_index)
{
	int pending;

	if (check_index)
		return mvm_store_has(st, id);
	pthread_mutex_lock(&st->lock);
	pending = mvm_store__pending(st, id);
	pthread_mutex_unlock(&st->lock);
	return pending;
}

int mvm_store_write(mvm_store *st, const mvm_oid *id, const void *stored, size_t stored_len,
		    uint32_t raw_len, uint32_t codec, const mvm_oid *base)
{
	return mvm_store_write_new(st, st->sealed + 1, id, stored, stored_len, raw_len, codec, base);
}

int mvm_store_write_new(mvm_store *st, uint64_t gen, const mvm_oid *id, const void *stored, size_t stored_len,
			uint32_t raw_len, uint32_t codec, const mvm_oid *base)
{
	mvm_open_pack *op = &st->open;
	mvm_pack_entry e;
	int error;

	/* gc rewrites chunks the index has (in other packs) */
	if ((error = write_skips(st, id, !st->rewriting && gen != st->sealed)) != 0)
		return error < 0 ? error : 0;
	if (op->fd < 0 && (error = open_temp(st)) < 0)
		return error;
	e.id = *id;
	e.offset = op->size;
	e.stored_len = (uint32_t)stored_len;
	e.raw_len = raw_len;
	e.codec = codec;
	e.has_base = base != NULL;
	if (base)
		e.base = *base;
	if ((error = mvm_seqfile_append(&op->out, stored, stored_len)) < 0)
		return error;
	op->size += stored_len;
	pthread_mutex_lock(&st->lock);
	error = add_entry(op, &e);
	pthread_mutex_unlock(&st->lock);
	if (error == 0 && op->size >= MVM_PACK_TARGET)
		error = rotate(st, 0);
	return error;
}

int mvm_store__pending(const mvm_store *st, const mvm_oid *id)
{
	return mvm_open_pack_contains(&st->open, id) ||
	       (st->sealing_busy && mvm_open_pack_contains(&st->sealing, id));
}

/*
 * Complete the open pack: entries sorted, index and trailer appended
 * (the sealer thread writes out what is still queued). Its final name is
 * the SHA-256 of the index.
 */
static int seal_start(mvm_store *st)
{
	mvm_open_pack *op = &st->open;
	unsigned char *idx = NULL;
	mvm_buf name = MVM_BUF_INIT;
	char hex[MVM_OID_HEXSZ + 1];
	size_t idx_len;
	mvm_oid sha;
	int error;

	/* readers probe the pending set under the lock; sorting moves what it points at */
	pthread_mutex_lock(&st->lock);
	qsort(op->entries, op->count, sizeof(*op->entries), mvm_pack_entry_cmp);
	error = set_rebuild(op);
	pthread_mutex_unlock(&st->lock);
	if (error < 0 ||
	    (error = mvm_pack_index_encode(&idx, &idx_len, &sha, op->entries, op->count, op->size)) < 0 ||
	    (error = mvm_seqfile_append(&op->out, idx, idx_len)) < 0)
		goto done;
	mvm_oid_fmt(hex, &sha);
	if ((error = mvm_buf_printf(&name, "pack-%s.pack", hex)) < 0)
		goto done;
	free(op->final_name);
	op->final_name = mvm_buf_detach(&name);
	op->final_size = op->size + idx_len;
done:
	free(idx);
	mvm_buf_dispose(&name);
	return error;
}

/*
 * The sealer thread's job: the index pages its rows will go into read
 * (mvm_store__warm_index), the sealing pack's last writes done, the pack
 * synced, renamed into packs/, the folder synced (~50 ms on this
 * machine's disk, which the writer no longer waits for, nor for the up
 * to 12 MiB still queued or buffered when the pack was sealed). Until it
 * is indexed, tmp_path names where it is, so a reset still removes it.
 */
static void seal_run(mvm_job *job)
{
	mvm_store *st = (mvm_store *)((char *)job - offsetof(mvm_store, seal_job));
	mvm_open_pack *sp = &st->sealing;
	mvm_buf path = MVM_BUF_INIT, dir = MVM_BUF_INIT;
	int error;

	mvm_store__warm_index(st, sp->entries, sp->count);
	if ((error = mvm_seqfile_finish(&sp->out, 0)) < 0)
		goto done;
	if (fsync(sp->fd) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot sync pack %s: %s", sp->tmp_path, strerror(errno));
		goto done;
	}
	if ((error = mvm_buf_printf(&dir, "%s/packs", st->root)) < 0 ||
	    (error = mvm_fs_join(&path, dir.ptr, sp->final_name)) < 0)
		goto done;
	if (rename(sp->tmp_path, path.ptr) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot move pack into %s: %s", path.ptr, strerror(errno));
		goto done;
	}
	free(sp->tmp_path);
	sp->tmp_path = mvm_buf_detach(&path);
	error = mvm_fs_fsync_dir(dir.ptr);
done:
	st->seal_error = error;
	if (error < 0)
		snprintf(st->seal_msg, sizeof(st->seal_msg), "%s", mvm_error_last());
	mvm_buf_dispose(&path);
	mvm_buf_dispose(&dir);
}

/*
 * The sealing pack, once its job is done: indexed, or removed. Only the
 * last index commit of a flush waits for the disk (`synced`), which makes
 * the ones before it durable too: each costs a WAL sync (~35 ms on this
 * machine's disk) that the writer would wait for, with the store's lock held.
 */
static int seal_finish(mvm_store *st, int synced)
{
	mvm_open_pack *sp = &st->sealing;
	int error;

	mvm_pool_wait(st->sealer, &st->seal_job);
	if (st->seal_error < 0)
		error = mvm_error_set(st->seal_error, "%s", st->seal_msg);
	else
		error = mvm_store__index_pack(st, sp->final_name, sp->final_size, sp->entries, sp->count, synced);
	if (!error) { /* indexed: the reset must not remove it */
		close(sp->fd);
		sp->fd = -1;
	}
	/* indexed (or failed) before its chunks stop counting as pending: see mvm_store_has_many */
	pthread_mutex_lock(&st->lock);
	mvm_open_pack_reset(sp);
	st->sealing_busy = 0;
	pthread_mutex_unlock(&st->lock);
	return error;
}

void mvm_open_pack_reset(mvm_open_pack *op)
{
	mvm_seqfile_cancel(&op->out); /* no write may still use the fd */
	if (op->fd >= 0) {
		close(op->fd);
		unlink(op->tmp_path);
	}
	op->fd = -1;
	free(op->tmp_path);
	op->tmp_path = NULL;
	free(op->final_name);
	op->final_name = NULL;
	op->count = 0;
	op->size = 0;
	if (op->slots)
		memset(op->slots, 0xff, op->slots_cap * sizeof(*op->slots));
}

/*
 * Seal the open pack and hand it to the sealer thread, after finishing
 * the one sealed before (waiting for its job if it still runs): the
 * writer goes on with a new pack while the disk syncs, instead of waiting
 * ~100 ms a pack on this machine's disk (the pack's fsync, the folder's).
 * On the `last` rotation (a flush) with nothing left to seal, the
 * finished pack's index commit is the one that syncs.
 */
static int rotate(mvm_store *st, int last)
{
	mvm_open_pack done;
	int error;

	if (st->sealing_busy && (error = seal_finish(st, last && !st->open.count)) < 0)
		return error;
	if (st->open.fd < 0)
		return 0;
	error = st->open.count ? seal_start(st) : 0;
	if (!st->open.count || error < 0) { /* nothing to keep, or a pack that cannot be completed */
		mvm_seqfile_cancel(&st->open.out); /* its queued writes, without holding the lock */
		pthread_mutex_lock(&st->lock);
		mvm_open_pack_reset(&st->open);
		pthread_mutex_unlock(&st->lock);
		return error;
	}
	if (!st->sealer && (error = mvm_pool_new(&st->sealer, 1)) < 0)
		return error;
	pthread_mutex_lock(&st->lock); /* the pending sets change hands, and the writers with them */
	done = st->sealing;
	st->sealing = st->open;
	st->open = done;
	st->sealing_busy = 1;
	pthread_mutex_unlock(&st->lock);
	st->seal_job.fn = seal_run;
	mvm_pool_submit(st->sealer, &st->seal_job);
	return 0;
}

int mvm_store_flush(mvm_store *st)
{
	int error;

	if ((error = rotate(st, 1)) < 0)
		return error;
	return st->sealing_busy ? seal_finish(st, 1) : 0;
}

void mvm_store__discard_unsealed(mvm_store *st)
{
	if (st->sealing_busy)
		mvm_pool_wait(st->sealer, &st->seal_job);
	st->sealing_busy = 0;
	mvm_open_pack_reset(&st->open);
	mvm_open_pack_reset(&st->sealing);
}
