/*
 * protect.c: protected targets (table model_protect) and the approvals
 * change requests need (models.approvals). A protected name covers both
 * the alias and the environment of that name: only an approved change
 * request may move it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "registry_internal.h"

static int target_approvals(int *out, mvm_db *db, int64_t model, const char *target)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT approvals FROM model_protect WHERE model = ? AND target = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return error;
}

static int model_approvals(int *out, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	int error;

	*out = 1;
	if ((error = mvm_db_prepare(&st, db, "SELECT approvals FROM models WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return error < 0 ? error : 0;
}

int mvm_reg_protect_check(mvm_db *db, int64_t model, const char *name, const char *target, const char *what)
{
	int n, error;

	if ((error = target_approvals(&n, db, model, target)) <= 0)
		return error;
	return mvm_error_set(MVM_ECONFLICT, "%s '%s' of model '%s' is protected; open a change request "
			     "(mvm change open %s VER %s %s)", what, target, name, name,
			     strcmp(what, "alias") ? "--deploy" : "--to", target);
}

int mvm_reg_required_approvals(int *out, mvm_db *db, int64_t model, const char *target)
{
	int t = 0, error;

	if ((error = model_approvals(out, db, model)) < 0 || (error = target_approvals(&t, db, model, target)) < 0)
		return error;
	if (t > *out)
		*out = t;
	return 0;
}

typedef struct {
	const char *name, *target;
	int approvals, remove;
} protect_args;

static int set_model_approvals(mvm_repo *repo, int64_t model, const protect_args *a)
{
	mvm_buf object = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	char before[16], after[16];
	int old, error;

	if ((error = model_approvals(&old, repo->db, model)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "UPDATE models SET approvals = ? WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int(st, 1, a->approvals);
	sqlite3_bind_int64(st, 2, model);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	snprintf(before, sizeof(before), "%d", old);
	snprintf(after, sizeof(after), "%d", a->approvals);
	if (!error && old != a->approvals && (error = mvm_buf_printf(&object, "model/%s", a->name)) == 0)
		error = mvm_audit_record(repo, "model.approvals", object.ptr, before, after);
	mvm_buf_dispose(&object);
	return error;
}

static int write_protection(mvm_repo *repo, int64_t model, const protect_args *a)
{
	sqlite3_stmt *st = NULL;
	int error;

	error = mvm_db_prepare(&st, repo->db, a->remove
		? "DELETE FROM model_protect WHERE model = ?1 AND target = ?2"
		: "INSERT INTO model_protect(model, target, approvals) VALUES(?1, ?2, ?3)"
		  " ON CONFLICT(model, target) DO UPDATE SET approvals = excluded.approvals");
	if (error < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, a->target, -1, SQLITE_STATIC);
	if (!a->remove)
		sqlite3_bind_int(st, 3, a->approvals);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

static int protect_txn(mvm_repo *repo, void *payload)
{
	protect_args *a = payload;
	mvm_buf object = MVM_BUF_INIT;
	char before[16], after[16];
	int64_t model;
	int old = 0, had, error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0)
		return error;
	if (!a->target)
		return set_model_approvals(repo, model, a);
	if ((had = error = target_approvals(&old, repo->db, model, a->target)) < 0)
		return error;
	if (a->remove && !had)
		return mvm_error_set(MVM_ENOTFOUND, "'%s' of model '%s' is not protected", a->target, a->name);
	if (had && !a->remove && old == a->approvals)
		return 0;
	if ((error = write_protection(repo, model, a)) < 0)
		return error;
	snprintf(before, sizeof(before), "%d", old);
	snprintf(after, sizeof(after), "%d", a->approvals);
	if ((error = mvm_buf_printf(&object, "model/%s/protect/%s", a->name, a->target)) == 0)
		error = mvm_audit_record(repo, a->remove ? "model.unprotect" : "model.protect", object.ptr,
					 had ? before : NULL, a->remove ? NULL : after);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_model_protect(mvm_repo *repo, const char *name, const char *target, int approvals)
{
	protect_args a = { name, target, approvals, 0 };
	int error;

	if (approvals < 1 || approvals > 100)
		return mvm_error_set(MVM_EUSAGE, "--approvals must be from 1 to 100");
	if (target && (error = mvm_alias_name_check(target, "alias or environment")) < 0)
		return error;
	return mvm_repo_txn(repo, protect_txn, &a);
}

int mvm_model_unprotect(mvm_repo *repo, const char *name, const char *target)
{
	protect_args a = { name, target, 0, 1 };

	if (!target)
		return mvm_error_set(MVM_EUSAGE, "name the alias or environment to unprotect");
	return mvm_repo_txn(repo, protect_txn, &a);
}

int mvm_model_protections(mvm_protection **out, size_t *count, int *approvals, mvm_repo *repo, const char *name)
{
	sqlite3_stmt *st = NULL;
	mvm_protection *p = NULL;
	int64_t model;
	size_t n = 0;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_reg_model_id(&model, NULL, repo->db, name)) < 0 ||
	    (error = model_approvals(approvals, repo->db, model)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "SELECT target, approvals FROM model_protect WHERE model = ?"
						   " ORDER BY target")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		mvm_protection *np = realloc(p, (n + 1) * sizeof(*p));
		if (!np || !(np[n].target = strdup((const char *)sqlite3_column_text(st, 0)))) {
			p = np ? np : p;
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		p = np;
		p[n++].approvals = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_protections_free(p, n);
		return error;
	}
	*out = p;
	*count = n;
	return 0;
}

void mvm_protections_free(mvm_protection *p, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(p[i].target);
	free(p);
}
