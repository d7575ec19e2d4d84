/*
 * usage.c: what the store holds (mvm stats): packs, unique chunks by
 * codec, and the versions they make up. Reads only the index tables and
 * the version and tree objects, never chunk data.
 */
#include <string.h>

#include "mvm/maint.h"
#include "object/object.h"
#include "repo_internal.h"

static int chunk_usage(mvm_usage *out, mvm_repo *repo)
{
	sqlite3_stmt *st = NULL;
	mvm_chunk_usage u;
	int64_t codec;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db,
				    "SELECT codec, COUNT(*), SUM(raw_len), SUM(stored_len) FROM chunks GROUP BY codec")) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) == 1) {
		codec = sqlite3_column_int64(st, 0);
		u.chunks = (uint64_t)sqlite3_column_int64(st, 1);
		u.raw_bytes = (uint64_t)sqlite3_column_int64(st, 2);
		u.stored_bytes = (uint64_t)sqlite3_column_int64(st, 3);
		if (codec >= 0 && codec < MVM_USAGE_CODECS)
			out->codec[codec] = u;
		out->all.chunks += u.chunks;
		out->all.raw_bytes += u.raw_bytes;
		out->all.stored_bytes += u.stored_bytes;
	}
	sqlite3_finalize(st);
	return error;
}

/* Files and bytes of one version's tree. */
static int version_usage(mvm_usage *out, mvm_repo *repo, const unsigned char *data, size_t len)
{
	mvm_version *v = NULL;
	mvm_tree *t = NULL;
	size_t i;
	int error;

	if ((error = mvm_version_decode(&v, data, len)) < 0)
		return error;
	if ((error = mvm_tree_read(&t, repo->db, &v->tree)) == 0) {
		out->versions++;
		out->files += t->count;
		for (i = 0; i < t->count; i++)
			out->file_bytes += t->entries[i].size;
		mvm_tree_free(t);
	}
	mvm_version_free(v);
	return error;
}

static int versions_usage(mvm_usage *out, mvm_repo *repo)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "SELECT data FROM objects WHERE type = 3")) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) == 1)
		if ((error = version_usage(out, repo, sqlite3_column_blob(st, 0),
					   (size_t)sqlite3_column_bytes(st, 0))) < 0)
			break;
	sqlite3_finalize(st);
	return error;
}

int mvm_repo_usage(mvm_usage *out, mvm_repo *repo)
{
	int error;

	memset(out, 0, sizeof(*out));
	/* one read transaction: the figures describe one state of the store */
	if ((error = mvm_db_begin_read(repo->db)) < 0)
		return error;
	if ((error = mvm_repo_store_size(&out->packs, &out->pack_bytes, &out->db_bytes, repo)) == 0 &&
	    (error = chunk_usage(out, repo)) == 0)
		error = versions_usage(out, repo);
	mvm_db_exec(repo->db, "COMMIT");
	return error;
}
