/*
 * alias.c: movable names on model versions (model_aliases). A move reads
 * the old target and writes the new one inside one BEGIN IMMEDIATE
 * transaction together with its audit entry, so two concurrent moves are
 * serialized and each records what it replaced.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "registry_internal.h"

typedef struct {
	const char *name, *alias, *ver;
} alias_args;

static int alias_audit(mvm_repo *repo, const char *action, const char *name, const char *alias,
		       const int64_t *before, const int64_t *after)
{
	mvm_buf object = MVM_BUF_INIT;
	char b[24], a[24];
	int error;

	if (before)
		snprintf(b, sizeof(b), "%lld", (long long)*before);
	if (after)
		snprintf(a, sizeof(a), "%lld", (long long)*after);
	if ((error = mvm_buf_printf(&object, "model/%s/alias/%s", name, alias)) == 0)
		error = mvm_audit_record(repo, action, object.ptr, before ? b : NULL, after ? a : NULL);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_reg_alias_move(mvm_repo *repo, int64_t model, const char *name, const char *alias, int64_t number)
{
	sqlite3_stmt *st = NULL;
	int64_t old = 0;
	int had, error;

	if ((had = mvm_reg_alias_number(&old, repo->db, model, alias)) < 0)
		return had;
	if (had && old == number)
		return 0;
	if ((error = mvm_db_prepare(&st, repo->db, "INSERT INTO model_aliases(model, alias, number, time)"
		" VALUES(?, ?, ?, ?) ON CONFLICT(model, alias) DO UPDATE SET number = excluded.number,"
		" time = excluded.time")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, number);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	if (error < 0)
		return error;
	return alias_audit(repo, "model.alias.set", name, alias, had ? &old : NULL, &number);
}

static int set_txn(mvm_repo *repo, void *payload)
{
	alias_args *a = payload;
	int64_t model, number;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (error = mvm_reg_number(&number, repo->db, model, a->name, a->ver)) < 0 ||
	    (error = mvm_reg_protect_check(repo->db, model, a->name, a->alias, "alias")) < 0)
		return error;
	return mvm_reg_alias_move(repo, model, a->name, a->alias, number);
}

int mvm_model_alias_set(mvm_repo *repo, const char *name, const char *alias, const char *ver)
{
	alias_args a = { name, alias, ver };
	int error;

	if ((error = mvm_alias_name_check(alias, "alias")) < 0)
		return error;
	return mvm_repo_txn(repo, set_txn, &a);
}

static int delete_txn(mvm_repo *repo, void *payload)
{
	alias_args *a = payload;
	sqlite3_stmt *st = NULL;
	int64_t model, old = 0;
	int had, error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (had = error = mvm_reg_alias_number(&old, repo->db, model, a->alias)) < 0)
		return error;
	if (!had)
		return mvm_error_set(MVM_ENOTFOUND, "model '%s' has no alias '%s'", a->name, a->alias);
	if ((error = mvm_reg_protect_check(repo->db, model, a->name, a->alias, "alias")) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "DELETE FROM model_aliases WHERE model = ? AND alias = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, a->alias, -1, SQLITE_STATIC);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	if (error < 0)
		return error;
	return alias_audit(repo, "model.alias.delete", a->name, a->alias, &old, NULL);
}

int mvm_model_alias_delete(mvm_repo *repo, const char *name, const char *alias)
{
	alias_args a = { name, alias, NULL };

	return mvm_repo_txn(repo, delete_txn, &a);
}
