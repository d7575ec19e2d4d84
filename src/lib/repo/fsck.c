/*
 * fsck.c: verify the whole repository.
 *
 *   packs    every pack file opens and its index verifies (checksum, order,
 *            bounds); every chunk row points at an entry of its pack's index
 *   chunks   every chunk decodes to bytes whose SHA-256 is its id
 *   objects  every object's SHA-256 is its id and it decodes
 *   refs     refs, HEAD, registered model versions and the stage name
 *            existing objects; versions name their trees and parents,
 *            trees their manifests, manifests their chunks with the right
 *            lengths
 * Problems are reported one by one; the result is MVM_ECORRUPT if any.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/audit.h"
#include "mvm/maint.h"
#include "mvm/refs.h"
#include "object/object.h"
#include "store/codec.h"
#include "store/pack.h"
#include "util/array.h"
#include "util/hash.h"
#include "fsck_internal.h"
#include "repo_internal.h"

typedef struct {
	mvm_repo *repo;
	mvm_fsck_stats *stats;
	mvm_fsck_cb cb;
	void *payload;
	mvm_progress_cb progress;
	void *progress_payload;
	uint64_t done, total;
} fsck_ctx;

static void report(fsck_ctx *c, const char *kind, const char *name, const char *problem)
{
	c->stats->problems++;
	if (c->cb)
		c->cb(kind, name, problem, c->payload);
}

/* Step a query; a database read error is itself a problem, and ends the loop. */
static int next_row(fsck_ctx *c, sqlite3_stmt *q)
{
	int rc = mvm_db_step_row(c->repo->db, q);

	if (rc < 0)
		report(c, "database", "mvm.db", mvm_error_last());
	return rc > 0;
}

static sqlite3_stmt *query(fsck_ctx *c, const char *sql)
{
	sqlite3_stmt *q = NULL;

	if (mvm_db_prepare(&q, c->repo->db, sql) < 0)
		report(c, "database", "mvm.db", mvm_error_last());
	return q;
}

static void check_database(fsck_ctx *c)
{
	sqlite3_stmt *q = query(c, "PRAGMA quick_check");

	while (q && next_row(c, q))
		if (strcmp((const char *)sqlite3_column_text(q, 0), "ok"))
			report(c, "database", "mvm.db", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
}

static void report_oid(fsck_ctx *c, const char *kind, const mvm_oid *id, const char *problem)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid_fmt(hex, id);
	report(c, kind, hex, problem);
}

static const mvm_pack_entry *find_entry(const mvm_pack_entry *e, size_t n, const mvm_oid *id)
{
	mvm_pack_entry key;

	if (!n) /* the pack's index could not be read: every chunk in it is reported */
		return NULL;
	key.id = *id;
	return bsearch(&key, e, n, sizeof(*e), mvm_pack_entry_cmp);
}

static void chunk_problem(void *arg, const mvm_oid *id, const char *problem)
{
	report_oid(arg, "chunk", id, problem);
}

static void chunk_done(void *arg, uint64_t bytes)
{
	fsck_ctx *c = arg;

	c->done += bytes;
	if (c->progress)
		c->progress("fsck", c->done, c->total, c->progress_payload);
}

/* One chunk row: where it is stored, when that is where its pack's index says (else reported). */
static int chunk_row(fsck_ctx *c, mvm_chunk_loc *loc, sqlite3_stmt *q, const mvm_pack_entry *idx, size_t nidx)
{
	const mvm_pack_entry *e;

	memset(loc, 0, sizeof(*loc));
	if (mvm_db_column_oid(&loc->id, q, 0) < 0)
		return 0;
	loc->pack = sqlite3_column_int64(q, 1);
	loc->offset = (uint64_t)sqlite3_column_int64(q, 2);
	loc->stored_len = (uint32_t)sqlite3_column_int64(q, 3);
	loc->raw_len = (uint32_t)sqlite3_column_int64(q, 4);
	loc->codec = (uint32_t)sqlite3_column_int64(q, 5);
	c->stats->chunks++;
	e = find_entry(idx, nidx, &loc->id);
	if (!e || e->offset != loc->offset || e->stored_len != loc->stored_len || e->raw_len != loc->raw_len ||
	    e->codec != loc->codec) {
		report_oid(c, "chunk", &loc->id, "not where the index says in its pack");
		return 0;
	}
	if (loc->raw_len > MVM_PACK_MAX_RAW) {
		report_oid(c, "chunk", &loc->id, "longer than a chunk can be");
		return 0;
	}
	return 1;
}

/* The pack's chunk rows against its index, then each chunk decoded and hashed (fsck_chunks.c). */
static void check_pack_chunks(fsck_ctx *c, int64_t pack, const mvm_pack_entry *idx, size_t nidx)
{
	mvm_chunk_loc *locs = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *q = NULL;

	if (!(q = query(c, "SELECT id, pack, offset, stored_len, raw_len, codec FROM chunks WHERE pack = ? ORDER BY offset")))
		return;
	sqlite3_bind_int64(q, 1, pack);
	while (next_row(c, q)) {
		if (mvm_array_grow(&locs, &cap, n, sizeof(*locs), 256) < 0) {
			report(c, "database", "mvm.db", "out of memory for a pack's chunk rows");
			break;
		}
		n += chunk_row(c, &locs[n], q, idx, nidx);
	}
	sqlite3_finalize(q);
	if (mvm_fsck__chunks(c->repo->store, locs, n, chunk_problem, chunk_done, c) < 0)
		report(c, "database", "mvm.db", mvm_error_last());
	free(locs);
}

static void check_packs(fsck_ctx *c)
{
	mvm_buf path = MVM_BUF_INIT;
	sqlite3_stmt *q = NULL;

	if (!(q = query(c, "SELECT id, name FROM packs ORDER BY id")))
		return;
	while (next_row(c, q)) {
		const char *name = (const char *)sqlite3_column_text(q, 1);
		mvm_pack_entry *idx = NULL;
		size_t nidx = 0;
		int fd;

		c->stats->packs++;
		mvm_buf_clear(&path);
		mvm_buf_printf(&path, "%s/packs/%s", c->repo->mvmdir, name);
		if ((fd = open(path.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
			report(c, "pack", name, "file is missing");
			continue;
		}
		if (mvm_pack_read_index(&idx, &nidx, fd, name) < 0)
			report(c, "pack", name, mvm_error_last());
		close(fd);
		check_pack_chunks(c, sqlite3_column_int64(q, 0), idx, nidx);
		free(idx);
	}
	sqlite3_finalize(q);
	mvm_buf_dispose(&path);
}

static int object_ok(mvm_object_type type, const unsigned char *p, size_t n)
{
	mvm_manifest *m = NULL;
	mvm_tree *t = NULL;
	mvm_version *v = NULL;
	int error = MVM_ECORRUPT;

	if (type == MVM_OBJ_MANIFEST)
		error = mvm_manifest_decode(&m, p, n);
	else if (type == MVM_OBJ_TREE)
		error = mvm_tree_decode(&t, p, n);
	else if (type == MVM_OBJ_VERSION)
		error = mvm_version_decode(&v, p, n);
	mvm_manifest_free(m);
	mvm_tree_free(t);
	mvm_version_free(v);
	return error;
}

static void check_objects(fsck_ctx *c)
{
	sqlite3_stmt *q = NULL;
	mvm_oid id, got;

	if (!(q = query(c, "SELECT id, type, data FROM objects")))
		return;
	while (next_row(c, q)) {
		const unsigned char *p = sqlite3_column_blob(q, 2);
		size_t n = (size_t)sqlite3_column_bytes(q, 2);

		c->stats->objects++;
		if (mvm_db_column_oid(&id, q, 0) < 0)
			continue;
		if (mvm_sha256_buf(&got, p, n) < 0 || mvm_oid_cmp(&got, &id))
			report_oid(c, "object", &id, "content does not match its id");
		else if (object_ok((mvm_object_type)sqlite3_column_int(q, 1), p, n) < 0)
			report_oid(c, "object", &id, "cannot be decoded");
	}
	sqlite3_finalize(q);
}

/* 1 the first time an id is seen in this run, 0 after. */
static int first_visit(fsck_ctx *c, const mvm_oid *id)
{
	sqlite3_stmt *q = NULL;
	int added = 0;

	if (mvm_db_prepare(&q, c->repo->db, "INSERT OR IGNORE INTO temp.fsck_seen(id) VALUES(?)") < 0)
		return 0;
	mvm_db_bind_oid(q, 1, id);
	if (sqlite3_step(q) == SQLITE_DONE)
		added = sqlite3_changes(c->repo->db->sql) > 0;
	sqlite3_finalize(q);
	return added;
}

static void check_manifest(fsck_ctx *c, const mvm_oid *id, int one_chunk, uint64_t size, const char *path)
{
	mvm_manifest *m = NULL;
	char problem[320];
	mvm_chunk_loc loc;
	size_t i;

	if (!first_visit(c, id))
		return;
	if (mvm_manifest_get(&m, c->repo->db, id, one_chunk, size) < 0) {
		snprintf(problem, sizeof(problem), "manifest of %s: %s", path, mvm_error_last());
		report_oid(c, "object", id, problem);
		return;
	}
	for (i = 0; i < m->nchunks; i++) {
		if (mvm_store_locate(&loc, c->repo->store, &m->chunks[i].id) < 0) {
			snprintf(problem, sizeof(problem), "missing, needed by %s", path);
			report_oid(c, "chunk", &m->chunks[i].id, problem);
		} else if (loc.raw_len != m->chunks[i].len) {
			snprintf(problem, sizeof(problem), "length differs from what %s expects", path);
			report_oid(c, "chunk", &m->chunks[i].id, problem);
		}
	}
	mvm_manifest_free(m);
}

static void check_tree(fsck_ctx *c, const mvm_oid *id)
{
	mvm_tree *t = NULL;
	size_t i;

	if (!first_visit(c, id))
		return;
	if (mvm_tree_read(&t, c->repo->db, id) < 0) {
		report_oid(c, "object", id, mvm_error_last());
		return;
	}
	for (i = 0; i < t->count; i++)
		check_manifest(c, &t->entries[i].manifest, t->entries[i].one_chunk, t->entries[i].size,
			       t->entries[i].path);
	mvm_tree_free(t);
}

static void check_history(fsck_ctx *c, const mvm_oid *start, const char *from)
{
	mvm_oid *stack = NULL, id = *start;
	size_t n = 0, i;
	char problem[320];

	for (;;) {
		mvm_version *v = NULL;

		if (first_visit(c, &id)) {
			if (mvm_version_read(&v, c->repo->db, &id) < 0) {
				snprintf(problem, sizeof(problem), "version reachable from %s: %s", from, mvm_error_last());
				report_oid(c, "object", &id, problem);
			} else {
				check_tree(c, &v->tree);
				for (i = 0; i < v->nparents; i++) {
					mvm_oid *ns = realloc(stack, (n + 1) * sizeof(*ns));
					if (!ns)
						break;
					stack = ns;
					stack[n++] = v->parents[i];
				}
			}
			mvm_version_free(v);
		}
		if (!n)
			break;
		id = stack[--n];
	}
	free(stack);
}

static void check_refs(fsck_ctx *c)
{
	sqlite3_stmt *q = NULL;
	mvm_oid id;
	int error;

	if (mvm_db_exec(c->repo->db, "CREATE TEMP TABLE IF NOT EXISTS fsck_seen(id BLOB PRIMARY KEY) WITHOUT ROWID;"
				     "DELETE FROM temp.fsck_seen;") < 0)
		return;
	if ((error = mvm_head_id(&id, c->repo)) == 0)
		check_history(c, &id, "HEAD");
	else if (error != MVM_ENOTFOUND)
		report(c, "ref", "HEAD", mvm_error_last());
	if ((q = query(c, "SELECT name, target FROM refs UNION ALL SELECT 'model ' || m.name || '@' || v.number,"
			  " v.version FROM model_versions v JOIN models m ON m.id = v.model"))) {
		while (next_row(c, q)) {
			c->stats->refs++;
			if (mvm_db_column_oid(&id, q, 1) == 0)
				check_history(c, &id, (const char *)sqlite3_column_text(q, 0));
		}
		sqlite3_finalize(q);
	}
	if ((q = query(c, "SELECT path, manifest, one_chunk, size FROM stage"))) {
		while (next_row(c, q))
			if (mvm_db_column_oid(&id, q, 1) == 0)
				check_manifest(c, &id, sqlite3_column_int(q, 2), (uint64_t)sqlite3_column_int64(q, 3),
					       (const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
	}
	mvm_db_exec(c->repo->db, "DROP TABLE IF EXISTS temp.fsck_seen");
}

/* The audit log's hash chain (mvm audit verify does the same on its own). */
static void check_audit(fsck_ctx *c)
{
	uint64_t count = 0;

	if (mvm_audit_verify(&count, c->repo) < 0)
		report(c, "audit", "log", mvm_error_last());
	mvm_error_clear();
}

/*
 * The chunk filter rules out no indexed chunk: an add would store it
 * again. fsck holds no lock, so a miss is counted once more on a fresh
 * mapping: a gc may have put a new filter in place while the ids were read.
 */
static void check_filter(fsck_ctx *c)
{
	uint64_t misses, ids;
	char problem[192];
	int error = mvm_store_filter_misses(&misses, &ids, c->repo->store);

	if (error == 0 && misses) {
		mvm_store_filter_forget(c->repo->store);
		error = mvm_store_filter_misses(&misses, &ids, c->repo->store);
	}
	if (error < 0) {
		report(c, "database", "mvm.db", mvm_error_last());
		mvm_error_clear();
	} else if (misses) {
		snprintf(problem, sizeof(problem), "rules out %llu of the %llu indexed chunks; `mvm gc` rebuilds it",
			 (unsigned long long)misses, (unsigned long long)ids);
		report(c, "filter", "chunks.filter", problem);
	}
}

int mvm_fsck(mvm_fsck_stats *out, mvm_repo *repo, mvm_fsck_cb cb, void *payload,
	     mvm_progress_cb progress, void *progress_payload)
{
	fsck_ctx c = { repo, out, cb, payload, progress, progress_payload, 0, 0 };
	sqlite3_stmt *q = NULL;

	memset(out, 0, sizeof(*out));
	if (mvm_db_prepare(&q, repo->db, "SELECT COALESCE(SUM(raw_len), 0) FROM chunks") == 0) {
		if (sqlite3_step(q) == SQLITE_ROW)
			c.total = (uint64_t)sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	check_database(&c);
	check_packs(&c);
	check_filter(&c);
	check_objects(&c);
	check_refs(&c);
	check_audit(&c);
	if (out->problems)
		return mvm_error_set(MVM_ECORRUPT, "%llu problem%s found", (unsigned long long)out->problems,
				     out->problems == 1 ? "" : "s");
	return 0;
}
