/*
 * reach.c: what the repository still needs: every version reachable from
 * a ref, HEAD or a registered model version (through parents), their
 * trees, the manifests of those trees and of the stage, and the chunks of
 * those manifests. Results go into the temp tables live_obj and
 * live_chunk, so memory stays bounded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/refs.h"
#include "object/object.h"
#include "util/array.h"
#include "reach.h"

static int insert(mvm_db *db, const char *table, const mvm_oid *id, int *added)
{
	char sql[96];
	sqlite3_stmt *st = NULL;
	int error;

	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO %s(id) VALUES(?)", table);
	if ((error = mvm_db_prepare(&st, db, sql)) < 0)
		return error;
	mvm_db_bind_oid(st, 1, id);
	if ((error = mvm_db_step_done(db, st)) == 0 && added)
		*added = sqlite3_changes(db->sql) > 0;
	sqlite3_finalize(st);
	return error;
}

static int mark_manifest(mvm_repo *repo, const mvm_oid *id)
{
	mvm_manifest *m = NULL;
	size_t i;
	int error, added = 0;

	if ((error = insert(repo->db, "live_obj", id, &added)) < 0 || !added)
		return error;
	if ((error = mvm_manifest_read(&m, repo->db, id)) < 0)
		return error;
	for (i = 0; i < m->nchunks && !error; i++)
		error = insert(repo->db, "live_chunk", &m->chunks[i].id, NULL);
	mvm_manifest_free(m);
	return error;
}

static int mark_entry(mvm_repo *repo, const mvm_tree_entry *e)
{
	if (!e->one_chunk)
		return mark_manifest(repo, &e->manifest);
	return e->size ? insert(repo->db, "live_chunk", &e->manifest, NULL) : 0;
}

/* A tree object and what it names; a folder already marked (shared with another version) is not read again. */
static int mark_tree(mvm_repo *repo, const mvm_oid *id, unsigned int depth)
{
	mvm_buf raw = MVM_BUF_INIT;
	mvm_tree *t = NULL;
	size_t i;
	int error, added = 0;

	if ((error = insert(repo->db, "live_obj", id, &added)) < 0 || !added)
		return error;
	if (depth > MVM_TREE_MAX_DEPTH)
		return mvm_error_set(MVM_ECORRUPT, "a tree nests more than %d folders; run 'mvm fsck'",
				     MVM_TREE_MAX_DEPTH);
	if ((error = mvm_odb_read(&raw, repo->db, MVM_OBJ_TREE, id)) == 0 &&
	    (error = mvm_tree_decode(&t, (const unsigned char *)raw.ptr, raw.size)) == 0)
		for (i = 0; i < t->count && !error; i++)
			error = t->entries[i].mode == MVM_TREE_FOLDER ? mark_tree(repo, &t->entries[i].manifest, depth + 1)
								       : mark_entry(repo, &t->entries[i]);
	mvm_tree_free(t);
	mvm_buf_dispose(&raw);
	return error;
}

static int mark_version(mvm_repo *repo, const mvm_oid *start)
{
	mvm_oid *queue = NULL;
	size_t n = 0, cap = 0;
	int error = 0, added;

	mvm_oid pending = *start;
	for (;;) {
		mvm_version *v = NULL;
		size_t i;

		if ((error = insert(repo->db, "live_obj", &pending, &added)) < 0)
			break;
		if (added && (error = mvm_version_read(&v, repo->db, &pending)) == 0 &&
		    (error = mark_tree(repo, &v->tree, 0)) == 0) {
			for (i = 0; i < v->nparents && !error; i++) {
				if ((error = mvm_array_grow(&queue, &cap, n, sizeof(*queue), 16)) < 0)
					break;
				queue[n++] = v->parents[i];
			}
		}
		mvm_version_free(v);
		if (error < 0 || !n)
			break;
		pending = queue[--n];
	}
	free(queue);
	return error;
}

int mvm_reach_mark(mvm_repo *repo)
{
	sqlite3_stmt *st = NULL;
	mvm_oid id;
	int error;

	if ((error = mvm_db_exec(repo->db,
		"CREATE TEMP TABLE IF NOT EXISTS live_obj(id BLOB PRIMARY KEY) WITHOUT ROWID;"
		"CREATE TEMP TABLE IF NOT EXISTS live_chunk(id BLOB PRIMARY KEY) WITHOUT ROWID;"
		"DELETE FROM live_obj; DELETE FROM live_chunk;")) < 0)
		return error;
	if ((error = mvm_head_id(&id, repo)) == 0)
		error = mark_version(repo, &id);
	else if (error == MVM_ENOTFOUND)
		error = 0;
	if (error < 0 || (error = mvm_db_prepare(&st, repo->db,
		"SELECT target FROM refs UNION SELECT manifest FROM stage WHERE NOT one_chunk"
		" UNION SELECT version FROM model_versions")) < 0)
		return error;
	while (!error && (error = mvm_db_step_row(repo->db, st)) > 0) {
		int type = 0;
		sqlite3_stmt *q = NULL;
		if ((error = mvm_db_column_oid(&id, st, 0)) < 0 ||
		    (error = mvm_db_prepare(&q, repo->db, "SELECT type FROM objects WHERE id = ?")) < 0)
			break;
		mvm_db_bind_oid(q, 1, &id);
		if ((error = mvm_db_step_row(repo->db, q)) > 0)
			type = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		if (error < 0)
			break;
		if (type == MVM_OBJ_VERSION)
			error = mark_version(repo, &id);
		else if (type == MVM_OBJ_MANIFEST)
			error = mark_manifest(repo, &id);
		else
			error = mvm_error_set(MVM_ECORRUPT, "a ref or the stage names a missing object; run 'mvm fsck'");
	}
	sqlite3_finalize(st);
	if (!error)
		error = mvm_db_exec(repo->db, "INSERT OR IGNORE INTO live_chunk(id)"
			" SELECT manifest FROM stage WHERE one_chunk AND size > 0");
	/* the bases of live deltas are live (bases are never deltas: one level) */
	if (!error)
		error = mvm_db_exec(repo->db, "INSERT OR IGNORE INTO live_chunk(id) SELECT base FROM chunks"
			" WHERE base IS NOT NULL AND id IN (SELECT id FROM live_chunk)");
	return error;
}
