/*
 * lookup.c: registry lookups that need only the metadata database: model
 * ids, version numbers and aliases. revparse uses mvm_registry_lookup for
 * NAME@VER and NAME@ALIAS, so this file never includes the repo layer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry_internal.h"

int mvm_reg_model_id(int64_t *id, int *archived, mvm_db *db, const char *name)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT id, archived FROM models WHERE name = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0) {
		*id = sqlite3_column_int64(st, 0);
		if (archived)
			*archived = sqlite3_column_int(st, 1);
		error = 0;
	} else if (error == 0) {
		error = mvm_error_set(MVM_ENOTFOUND, "no model named '%s' (create it with 'mvm model create %s')",
				      name, name);
	}
	sqlite3_finalize(st);
	return error;
}

static int parse_number(int64_t *out, const char *s)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end || errno || v <= 0)
		return 0;
	*out = v;
	return 1;
}

static int number_exists(mvm_db *db, int64_t model, int64_t number)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT 1 FROM model_versions WHERE model = ? AND number = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	error = mvm_db_step_row(db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_reg_alias_number(int64_t *number, mvm_db *db, int64_t model, const char *alias)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT number FROM model_aliases WHERE model = ? AND alias = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, alias, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*number = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return error;
}

int mvm_reg_number(int64_t *number, mvm_db *db, int64_t model, const char *name, const char *ver)
{
	int error;

	if (parse_number(number, ver)) {
		if ((error = number_exists(db, model, *number)) == 0)
			error = mvm_error_set(MVM_ENOTFOUND, "model '%s' has no version %s", name, ver);
		return error < 0 ? error : 0;
	}
	if ((error = mvm_reg_alias_number(number, db, model, ver)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "model '%s' has no version or alias '%s'", name, ver);
	return error < 0 ? error : 0;
}

int mvm_reg_version_id(mvm_oid *out, mvm_db *db, int64_t model, int64_t number)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT version FROM model_versions WHERE model = ? AND number = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	if ((error = mvm_db_step_row(db, st)) > 0)
		error = mvm_db_column_oid(out, st, 0);
	else if (error == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "model version %lld not found", (long long)number);
	sqlite3_finalize(st);
	return error;
}

int mvm_registry_lookup(mvm_oid *out, mvm_db *db, const char *spec)
{
	const char *at = strchr(spec, '@');
	int64_t model, number;
	char *name;
	int error;

	if (!at || at == spec || !at[1])
		return mvm_error_set(MVM_EUSAGE, "'%s' is not MODEL@VERSION or MODEL@ALIAS", spec);
	if (!(name = strndup(spec, (size_t)(at - spec))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = mvm_reg_model_id(&model, NULL, db, name)) == 0 &&
	    (error = mvm_reg_number(&number, db, model, name, at + 1)) == 0)
		error = mvm_reg_version_id(out, db, model, number);
	free(name);
	return error;
}

int mvm_reg_metric_get(int *found, double *value, mvm_db *db, int64_t model, int64_t number, const char *key)
{
	sqlite3_stmt *st = NULL;
	int error;

	*found = 0;
	if ((error = mvm_db_prepare(&st, db, "SELECT value FROM model_metrics WHERE model = ? AND number = ? AND key = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*value = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	*found = error > 0;
	return error < 0 ? error : 0;
}

int mvm_reg_target_holder(int64_t *number, mvm_db *db, int64_t model, int is_deploy, const char *target)
{
	sqlite3_stmt *st = NULL;
	int error;

	if (!is_deploy)
		return mvm_reg_alias_number(number, db, model, target);
	if ((error = mvm_db_prepare(&st, db, "SELECT stable FROM deployments WHERE model = ? AND env = ?"
					     " AND stable IS NOT NULL")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*number = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return error;
}
