/*
 * audit.c: the hash-chained audit log in the `audit` table.
 *
 * Appends run inside the caller's transaction (BEGIN IMMEDIATE holds the
 * write lock, so seq and prev_hash cannot race). meta['audit.head'] keeps
 * "<seq> <hash>" of the last entry, so removing entries from the end of the
 * log is found too. Encoding and rules: docs/FORMAT.md, "Audit log".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "object/encode.h"
#include "repo/repo_internal.h"
#include "util/array.h"
#include "util/hash.h"
#include "audit_internal.h"

#define AUDIT_MAGIC "MVMA"
#define AUDIT_VERSION 1
#define NULL_LEN 0xffffffffu

static int put_str(mvm_buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= NULL_LEN)
		return -1;
	if (mvm_put_buf32(b, s ? (uint32_t)n : NULL_LEN) < 0)
		return -1;
	return s && mvm_buf_put(b, s, n) < 0 ? -1 : 0;
}

int mvm_audit_encode(mvm_buf *out, const mvm_audit_entry *e)
{
	int bad = 0;

	mvm_buf_clear(out);
	bad |= mvm_buf_put(out, AUDIT_MAGIC, 4) ? -1 : 0;
	bad |= mvm_put_buf32(out, AUDIT_VERSION);
	bad |= mvm_put_buf64(out, (uint64_t)e->seq);
	bad |= mvm_put_buf64(out, (uint64_t)e->time);
	bad |= put_str(out, e->actor);
	bad |= put_str(out, e->action);
	bad |= put_str(out, e->object);
	bad |= put_str(out, e->before);
	bad |= put_str(out, e->after);
	bad |= mvm_buf_put(out, e->prev_hash.id, MVM_OID_RAWSZ) ? -1 : 0;
	return bad ? mvm_error_set(MVM_ERROR, "out of memory encoding an audit entry") : 0;
}

static int entry_hash(mvm_oid *out, const mvm_audit_entry *e)
{
	mvm_buf enc = MVM_BUF_INIT;
	int error;

	if ((error = mvm_audit_encode(&enc, e)) == 0)
		error = mvm_sha256_buf(out, enc.ptr, enc.size);
	mvm_buf_dispose(&enc);
	return error;
}

/* seq and hash of the last entry; seq 0 and a zero hash when empty. */
static int last_entry(int64_t *seq, mvm_oid *hash, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	int error;

	*seq = 0;
	memset(hash, 0, sizeof(*hash));
	if ((error = mvm_db_prepare(&st, db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")) < 0)
		return error;
	if ((error = mvm_db_step_row(db, st)) > 0) {
		*seq = sqlite3_column_int64(st, 0);
		error = mvm_db_column_oid(hash, st, 1);
	}
	sqlite3_finalize(st);
	return error;
}

static int set_head(mvm_db *db, const mvm_audit_entry *e)
{
	char hex[MVM_OID_HEXSZ + 1], head[32 + MVM_OID_HEXSZ];

	mvm_oid_fmt(hex, &e->hash);
	snprintf(head, sizeof(head), "%" PRId64 " %s", e->seq, hex);
	return mvm_db_meta_set(db, "audit.head", head);
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, col);
}

static int insert_entry(mvm_db *db, const mvm_audit_entry *e)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db,
		"INSERT INTO audit(seq, time, actor, action, object, before, after, prev_hash, hash)"
		" VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, e->seq);
	sqlite3_bind_int64(st, 2, e->time);
	sqlite3_bind_text(st, 3, e->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e->action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e->object, -1, SQLITE_STATIC);
	bind_text_or_null(st, 6, e->before);
	bind_text_or_null(st, 7, e->after);
	mvm_db_bind_oid(st, 8, &e->prev_hash);
	mvm_db_bind_oid(st, 9, &e->hash);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_audit_append(mvm_db *db, const char *actor, const char *action, const char *object,
		     const char *before, const char *after)
{
	mvm_audit_entry e;
	int error;

	if (sqlite3_get_autocommit(db->sql))
		return mvm_error_set(MVM_ERROR, "internal error: audit entry '%s' written outside a transaction", action);
	memset(&e, 0, sizeof(e));
	e.actor = (char *)actor;
	e.action = (char *)action;
	e.object = (char *)object;
	e.before = (char *)before;
	e.after = (char *)after;
	e.time = (int64_t)time(NULL);
	if ((error = last_entry(&e.seq, &e.prev_hash, db)) < 0)
		return error;
	e.seq++;
	if ((error = entry_hash(&e.hash, &e)) < 0 || (error = insert_entry(db, &e)) < 0)
		return error;
	return set_head(db, &e);
}

int mvm_audit_record(mvm_repo *repo, const char *action, const char *object, const char *before,
		     const char *after)
{
	mvm_buf actor = MVM_BUF_INIT;
	int error;

	if ((error = mvm_repo_author(&actor, repo)) == 0)
		error = mvm_audit_append(repo->db, actor.ptr, action, object, before, after);
	mvm_buf_dispose(&actor);
	return error;
}

int mvm_audit_record_ids(mvm_repo *repo, const char *action, const char *object, const mvm_oid *before,
			 const mvm_oid *after)
{
	char b[MVM_OID_HEXSZ + 1], a[MVM_OID_HEXSZ + 1];

	if (before)
		mvm_oid_fmt(b, before);
	if (after)
		mvm_oid_fmt(a, after);
	return mvm_audit_record(repo, action, object, before ? b : NULL, after ? a : NULL);
}

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? strdup((const char *)s) : NULL;
}

/* Fill e from a row of AUDIT_COLUMNS; 0 or an error (bad hash length, OOM). */
#define AUDIT_COLUMNS "seq, time, actor, action, object, before, after, prev_hash, hash"

static int read_entry(mvm_audit_entry *e, sqlite3_stmt *st)
{
	int error;

	memset(e, 0, sizeof(*e));
	e->seq = sqlite3_column_int64(st, 0);
	e->time = sqlite3_column_int64(st, 1);
	e->actor = column_dup(st, 2);
	e->action = column_dup(st, 3);
	e->object = column_dup(st, 4);
	e->before = column_dup(st, 5);
	e->after = column_dup(st, 6);
	if (!e->actor || !e->action || !e->object ||
	    (sqlite3_column_type(st, 5) != SQLITE_NULL && !e->before) ||
	    (sqlite3_column_type(st, 6) != SQLITE_NULL && !e->after))
		return mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " lacks actor, action or object", e->seq);
	if ((error = mvm_db_column_oid(&e->prev_hash, st, 7)) < 0 || (error = mvm_db_column_oid(&e->hash, st, 8)) < 0)
		return mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " has a malformed hash", e->seq);
	return 0;
}

static void entry_dispose(mvm_audit_entry *e)
{
	free(e->actor);
	free(e->action);
	free(e->object);
	free(e->before);
	free(e->after);
}

void mvm_audit_free(mvm_audit_entry *entries, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		entry_dispose(&entries[i]);
	free(entries);
}

static int prepare_list(sqlite3_stmt **st, mvm_db *db, const char *model)
{
	mvm_buf prefix = MVM_BUF_INIT;
	int error;

	if (!model)
		return mvm_db_prepare(st, db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq");
	if ((error = mvm_db_prepare(st, db, "SELECT " AUDIT_COLUMNS " FROM audit"
		" WHERE object = ?1 OR substr(object, 1, length(?1) + 1) = ?1 || '/' ORDER BY seq")) < 0 ||
	    (error = mvm_buf_printf(&prefix, "model/%s", model)) < 0)
		return error;
	sqlite3_bind_text(*st, 1, prefix.ptr, -1, SQLITE_TRANSIENT);
	mvm_buf_dispose(&prefix);
	return 0;
}

int mvm_audit_list(mvm_audit_entry **out, size_t *count, mvm_repo *repo, const char *model)
{
	mvm_audit_entry *list = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0, cap = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = prepare_list(&st, repo->db, model)) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		if ((error = mvm_array_grow(&list, &cap, n, sizeof(*list), 32)) < 0)
			break;
		if ((error = read_entry(&list[n], st)) < 0) {
			entry_dispose(&list[n]);
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_audit_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

/* One entry against its predecessor: sequence, link, then its own hash. */
static int verify_entry(const mvm_audit_entry *e, int64_t want_seq, const mvm_oid *prev)
{
	mvm_oid h;
	int error;

	if (e->seq != want_seq)
		return mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " is missing (the next entry is %" PRId64 ")",
				     want_seq, e->seq);
	if (mvm_oid_cmp(&e->prev_hash, prev))
		return mvm_error_set(MVM_ECORRUPT,
			"audit entry %" PRId64 " does not follow entry %" PRId64 " (entries removed or reordered)",
			e->seq, e->seq - 1);
	if ((error = entry_hash(&h, e)) < 0)
		return error;
	if (mvm_oid_cmp(&h, &e->hash))
		return mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " was altered (its hash does not match)", e->seq);
	return 0;
}

/* The last entry must be the recorded head (catches entries cut off the end). */
static int verify_head(mvm_db *db, int64_t last_seq, const mvm_oid *last_hash)
{
	mvm_buf head = MVM_BUF_INIT;
	char hex[MVM_OID_HEXSZ + 1], want[32 + MVM_OID_HEXSZ];
	int error;

	mvm_oid_fmt(hex, last_hash);
	snprintf(want, sizeof(want), "%" PRId64 " %s", last_seq, hex);
	if ((error = mvm_db_meta_get(&head, db, "audit.head")) == MVM_ENOTFOUND) {
		mvm_error_clear();
		error = last_seq ? mvm_error_set(MVM_ECORRUPT, "audit log head is missing (%" PRId64 " entries)", last_seq)
				 : 0;
	} else if (error == 0 && strcmp(head.ptr, want)) {
		long long head_seq = atoll(head.ptr);
		error = head_seq > last_seq
			? mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " is missing (the log records %lld entries)",
					last_seq + 1, head_seq)
			: mvm_error_set(MVM_ECORRUPT, "audit entry %" PRId64 " differs from the recorded head of the log",
					last_seq);
	}
	mvm_buf_dispose(&head);
	return error;
}

static int verify_rows(uint64_t *count, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	mvm_audit_entry e;
	mvm_oid prev;
	int64_t seq = 0;
	int error;

	memset(&prev, 0, sizeof(prev));
	if ((error = mvm_db_prepare(&st, db, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY seq")) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		if ((error = read_entry(&e, st)) == 0)
			error = verify_entry(&e, seq + 1, &prev);
		entry_dispose(&e);
		if (error < 0)
			break;
		seq = e.seq;
		prev = e.hash;
	}
	sqlite3_finalize(st);
	if (error == 0)
		error = verify_head(db, seq, &prev);
	*count = (uint64_t)seq;
	return error;
}

int mvm_audit_verify(uint64_t *count, mvm_repo *repo)
{
	int error;

	*count = 0;
	/* one read transaction: the rows and the head come from the same snapshot */
	if ((error = mvm_db_begin_read(repo->db)) < 0)
		return error;
	error = verify_rows(count, repo->db);
	mvm_db_rollback(repo->db);
	return error;
}
