/*
 * refs.c: branches, tags and HEAD, stored in the `refs` table and in
 * meta['HEAD']. Ref updates run inside the caller's transaction or their
 * own; moving a branch is compare-and-swap on its old target.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvm/refs.h"
#include "audit/audit_internal.h"
#include "object/object.h"
#include "util/array.h"
#include "refs_internal.h"
#include "repo_internal.h"

int mvm_ref_name_check(const char *name)
{
	const char *p;

	if (!*name || *name == '-' || *name == '.' || *name == '/' || strstr(name, "..") || strstr(name, "//") ||
	    name[strlen(name) - 1] == '/' || name[strlen(name) - 1] == '.' || !strcmp(name, "HEAD"))
		goto bad;
	for (p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("~^:?*[\\@{}", *p))
			goto bad;
	return 0;
bad:
	return mvm_error_set(MVM_EUSAGE, "'%s' is not a valid branch or tag name", name);
}

int mvm_ref_read(mvm_oid *out, mvm_repo *repo, const char *full)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "SELECT target FROM refs WHERE name = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, full, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		error = mvm_db_column_oid(out, st, 0);
	else
		error = mvm_error_set(MVM_ENOTFOUND, "ref %s does not exist", full);
	sqlite3_finalize(st);
	return error;
}

int mvm_ref_cas(mvm_repo *repo, const char *full, const mvm_oid *target, const mvm_oid *expected,
		const char *message)
{
	sqlite3_stmt *st = NULL;
	int error;

	error = mvm_db_prepare(&st, repo->db, expected
		? "UPDATE refs SET target = ?1, time = ?4 WHERE name = ?2 AND target = ?3"
		: "INSERT OR IGNORE INTO refs(name, target, message, time) VALUES(?2, ?1, ?5, ?4)");
	if (error < 0)
		return error;
	mvm_db_bind_oid(st, 1, target);
	sqlite3_bind_text(st, 2, full, -1, SQLITE_STATIC);
	if (expected)
		mvm_db_bind_oid(st, 3, expected);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	if (message)
		sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_done(repo->db, st)) == 0 && sqlite3_changes(repo->db->sql) != 1)
		error = mvm_error_set(expected ? MVM_ECONFLICT : MVM_EEXISTS,
			expected ? "%s moved while this command ran; nothing was changed, try again"
				 : "%s already exists", full);
	sqlite3_finalize(st);
	return error;
}

int mvm_ref_force(mvm_repo *repo, const char *full, const mvm_oid *target)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db,
		"INSERT INTO refs(name, target, time) VALUES(?, ?, ?)"
		" ON CONFLICT(name) DO UPDATE SET target = excluded.target, time = excluded.time")) < 0)
		return error;
	sqlite3_bind_text(st, 1, full, -1, SQLITE_STATIC);
	mvm_db_bind_oid(st, 2, target);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_head_set(mvm_repo *repo, const char *value)
{
	return mvm_db_meta_set(repo->db, "HEAD", value);
}

/* HEAD as stored ("refs/heads/main" or an id), and its branch (empty when detached). */
static int head_get(mvm_buf *head, mvm_buf *branch, mvm_repo *repo)
{
	int error;

	mvm_buf_clear(branch);
	if ((error = mvm_db_meta_get(head, repo->db, "HEAD")) == 0 && !strncmp(head->ptr, "refs/heads/", 11))
		error = mvm_buf_puts(branch, head->ptr + 11);
	return error;
}

int mvm_head_branch(mvm_buf *out, mvm_repo *repo)
{
	mvm_buf head = MVM_BUF_INIT;
	int error = head_get(&head, out, repo);

	mvm_buf_dispose(&head);
	return error;
}

int mvm_head_id(mvm_oid *out, mvm_repo *repo)
{
	mvm_buf branch = MVM_BUF_INIT;
	int error = mvm_head_read(&branch, out, repo);

	mvm_buf_dispose(&branch);
	return error;
}

int mvm_head_read(mvm_buf *branch, mvm_oid *out, mvm_repo *repo)
{
	mvm_buf head = MVM_BUF_INIT;
	int error;

	if ((error = head_get(&head, branch, repo)) < 0)
		goto done;
	if (!strncmp(head.ptr, "refs/", 5)) {
		if ((error = mvm_ref_read(out, repo, head.ptr)) == MVM_ENOTFOUND)
			error = mvm_error_set(MVM_ENOTFOUND, "HEAD has no version yet (branch %s has no commits)",
					      head.ptr + 11);
	} else {
		error = mvm_oid_parse(out, head.ptr) < 0
			? mvm_error_set(MVM_ECORRUPT, "HEAD holds '%s', neither a branch nor an id", head.ptr) : 0;
	}
done:
	mvm_buf_dispose(&head);
	return error;
}

int mvm_refs_list(mvm_ref **out, size_t *count, mvm_repo *repo, int is_tag)
{
	const char *prefix = is_tag ? "refs/tags/" : "refs/heads/";
	sqlite3_stmt *st = NULL;
	mvm_ref *refs = NULL;
	size_t n = 0, cap = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_prepare(&st, repo->db,
		"SELECT name, target, message, time FROM refs WHERE substr(name, 1, ?2) = ?1 ORDER BY name")) < 0)
		return error;
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)strlen(prefix));
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		if ((error = mvm_array_grow(&refs, &cap, n, sizeof(*refs), 16)) < 0)
			break;
		memset(&refs[n], 0, sizeof(refs[n]));
		refs[n].name = strdup((const char *)sqlite3_column_text(st, 0) + strlen(prefix));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			refs[n].message = strdup((const char *)sqlite3_column_text(st, 2));
		refs[n].time = sqlite3_column_int64(st, 3);
		if ((error = mvm_db_column_oid(&refs[n++].target, st, 1)) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_refs_free(refs, n);
		return error;
	}
	*out = refs;
	*count = n;
	return 0;
}

void mvm_refs_free(mvm_ref *refs, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(refs[i].name);
		free(refs[i].message);
	}
	free(refs);
}

static int create_ref(mvm_repo *repo, const char *kind, const char *name, const mvm_oid *target,
		      const char *message)
{
	mvm_buf full = MVM_BUF_INIT;
	mvm_version *v = NULL;
	int error;

	if ((error = mvm_ref_name_check(name)) < 0 || (error = mvm_repo_lock(repo)) < 0 ||
	    (error = mvm_version_read(&v, repo->db, target)) < 0 ||
	    (error = mvm_buf_printf(&full, "refs/%s/%s", kind, name)) < 0 ||
	    (error = mvm_db_begin(repo->db)) < 0)
		goto done;
	if ((error = mvm_ref_cas(repo, full.ptr, target, NULL, message)) == MVM_EEXISTS)
		error = mvm_error_set(MVM_EEXISTS, "%s '%s' already exists",
				      strcmp(kind, "tags") ? "branch" : "tag", name);
	if (!error)
		error = mvm_audit_record_ids(repo, strcmp(kind, "tags") ? "branch.create" : "tag.create", full.ptr,
					     NULL, target);
	if (!error)
		error = mvm_db_commit(repo->db);
done:
	mvm_db_rollback(repo->db);
	mvm_version_free(v);
	mvm_buf_dispose(&full);
	return error;
}

int mvm_branch_create(mvm_repo *repo, const char *name, const mvm_oid *target)
{
	return create_ref(repo, "heads", name, target, NULL);
}

int mvm_tag_create(mvm_repo *repo, const char *name, const mvm_oid *target, const char *message)
{
	return create_ref(repo, "tags", name, target, message);
}

int mvm_branch_delete(mvm_repo *repo, const char *name)
{
	mvm_buf full = MVM_BUF_INIT, head = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	mvm_oid old;
	int error;

	if ((error = mvm_repo_lock(repo)) < 0 || (error = mvm_buf_printf(&full, "refs/heads/%s", name)) < 0 ||
	    (error = mvm_db_meta_get(&head, repo->db, "HEAD")) < 0)
		goto done;
	if (!strcmp(head.ptr, full.ptr)) {
		error = mvm_error_set(MVM_ECONFLICT, "cannot delete branch '%s': it is checked out", name);
		goto done;
	}
	if ((error = mvm_db_begin(repo->db)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "DELETE FROM refs WHERE name = ? RETURNING target")) < 0)
		goto done;
	sqlite3_bind_text(st, 1, full.ptr, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(repo->db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "branch '%s' not found", name);
	else if (error > 0 && (error = mvm_db_column_oid(&old, st, 0)) == 0 &&
		 (error = mvm_db_step_row(repo->db, st)) == 0 &&
		 (error = mvm_audit_record_ids(repo, "branch.delete", full.ptr, &old, NULL)) == 0)
		error = mvm_db_commit(repo->db);
done:
	sqlite3_finalize(st);
	mvm_db_rollback(repo->db);
	mvm_buf_dispose(&full);
	mvm_buf_dispose(&head);
	return error;
}
