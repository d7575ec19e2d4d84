/*
 * odb.c: the object table: write-once rows of (id, type, encoded bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "object.h"

static const char *type_name(mvm_object_type type)
{
	switch (type) {
	case MVM_OBJ_MANIFEST: return "manifest";
	case MVM_OBJ_TREE: return "tree";
	case MVM_OBJ_VERSION: return "version";
	}
	return "object";
}

int mvm_odb_write(mvm_oid *out, mvm_db *db, mvm_object_type type, const mvm_buf *data)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_sha256_buf(out, data->ptr, data->size)) < 0 ||
	    (error = mvm_db_prepare(&st, db,
		"INSERT OR IGNORE INTO objects(id, type, data) VALUES(?, ?, ?)")) < 0)
		return error;
	mvm_db_bind_oid(st, 1, out);
	sqlite3_bind_int(st, 2, (int)type);
	sqlite3_bind_blob64(st, 3, data->ptr ? data->ptr : "", data->size, SQLITE_STATIC);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_odb_read(mvm_buf *out, mvm_db *db, mvm_object_type type, const mvm_oid *id)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid got;
	sqlite3_stmt *st = NULL;
	int error, rc;

	if ((error = mvm_db_prepare(&st, db, "SELECT type, data FROM objects WHERE id = ?")) < 0)
		return error;
	mvm_db_bind_oid(st, 1, id);
	mvm_oid_fmt(hex, id);
	rc = sqlite3_step(st);
	mvm_buf_clear(out);
	if (rc == SQLITE_DONE)
		error = mvm_error_set(MVM_ENOTFOUND, "%s %s not found", type_name(type), hex);
	else if (rc != SQLITE_ROW)
		error = mvm_db_error(db, "reading an object");
	else if (sqlite3_column_int(st, 0) != (int)type)
		error = mvm_error_set(MVM_ECORRUPT, "object %s is not a %s", hex, type_name(type));
	else
		error = mvm_buf_put(out, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1));
	sqlite3_finalize(st);
	/* what it says is trusted from here on (checkout checks chunks against the ids a manifest lists) */
	if (!error && (error = mvm_sha256_buf(&got, out->ptr, out->size)) == 0 && mvm_oid_cmp(&got, id))
		error = mvm_error_set(MVM_ECORRUPT, "%s %s is damaged: its bytes do not match its id; run 'mvm fsck'",
				      type_name(type), hex);
	return error;
}

static int hex_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* Range [lo, hi) of 32-byte ids that start with the hex prefix. */
static int prefix_range(unsigned char lo[32], unsigned char hi[32], int *unbounded, const char *prefix)
{
	size_t n = strlen(prefix), i;
	int carry;

	memset(lo, 0, 32);
	for (i = 0; i < n; i++) {
		int v = prefix[i] <= '9' ? prefix[i] - '0' : prefix[i] - 'a' + 10;
		lo[i / 2] |= (unsigned char)(i % 2 ? v : v << 4);
	}
	memcpy(hi, lo, 32);
	/* add one unit at the last given nibble */
	carry = (n % 2) ? 0x10 : 0x01;
	for (i = (n - 1) / 2 + 1; i-- > 0;) {
		int v = hi[i] + carry;
		hi[i] = (unsigned char)v;
		carry = v >> 8;
		if (!carry)
			break;
	}
	*unbounded = carry != 0;
	return 0;
}

int mvm_odb_expand(mvm_oid *out, mvm_db *db, mvm_object_type type, const char *prefix)
{
	unsigned char lo[32], hi[32];
	sqlite3_stmt *st = NULL;
	int error, unbounded, found = 0;

	if (strlen(prefix) < 4 || strlen(prefix) > MVM_OID_HEXSZ || !hex_ok(prefix))
		return mvm_error_set(MVM_ENOTFOUND, "'%s' is not an id prefix", prefix);
	prefix_range(lo, hi, &unbounded, prefix);
	if ((error = mvm_db_prepare(&st, db, unbounded
		? "SELECT id FROM objects WHERE id >= ?1 AND type = ?3 LIMIT 2"
		: "SELECT id FROM objects WHERE id >= ?1 AND id < ?2 AND type = ?3 LIMIT 2")) < 0)
		return error;
	sqlite3_bind_blob(st, 1, lo, 32, SQLITE_STATIC);
	if (!unbounded)
		sqlite3_bind_blob(st, 2, hi, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)type);
	while (sqlite3_step(st) == SQLITE_ROW && found < 2)
		if (found++ == 0 && (error = mvm_db_column_oid(out, st, 0)) < 0)
			break;
	sqlite3_finalize(st);
	if (error < 0)
		return error;
	if (found == 0)
		return mvm_error_set(MVM_ENOTFOUND, "no %s id starts with '%s'", type_name(type), prefix);
	if (found > 1)
		return mvm_error_set(MVM_EAMBIGUOUS, "id prefix '%s' is ambiguous; give more digits", prefix);
	return 0;
}

int mvm_manifest_read(mvm_manifest **out, mvm_db *db, const mvm_oid *id)
{
	mvm_buf data = MVM_BUF_INIT;
	int error;

	if ((error = mvm_odb_read(&data, db, MVM_OBJ_MANIFEST, id)) == 0)
		error = mvm_manifest_decode(out, (const unsigned char *)data.ptr, data.size);
	mvm_buf_dispose(&data);
	return error;
}

int mvm_version_read(mvm_version **out, mvm_db *db, const mvm_oid *id)
{
	mvm_buf data = MVM_BUF_INIT;
	int error;

	if ((error = mvm_odb_read(&data, db, MVM_OBJ_VERSION, id)) == 0 &&
	    (error = mvm_version_decode(out, (const unsigned char *)data.ptr, data.size)) == 0)
		(*out)->id = *id;
	mvm_buf_dispose(&data);
	return error;
}
