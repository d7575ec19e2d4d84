/*
 * health.c: health reports for deployments (table deploy_health) checked
 * against the deployment's rollback rules. A breach by the candidate drops
 * it; by the stable version with no rollout under way, returns to the
 * previous stable version. Values, the check and any rollback are one
 * transaction with their audit entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "registry_internal.h"
#include "rule.h"

typedef struct {
	const char *name, *env, *ver;
	mvm_reg_values v;
	mvm_health_result *out;
} health_args;

static int put_value(mvm_db *db, int64_t model, const char *env, int64_t number, const char *key, double value)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO deploy_health(model, env, number, key, value, time)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(model, env, number, key) DO UPDATE SET value = ?5, time = ?6")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, number);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 5, value);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int get_value(int *found, double *value, mvm_db *db, int64_t model, const char *env, int64_t number,
		     const char *key)
{
	sqlite3_stmt *st = NULL;
	int error;

	*found = 0;
	if ((error = mvm_db_prepare(&st, db, "SELECT value FROM deploy_health WHERE model = ? AND env = ?"
					     " AND number = ? AND key = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, number);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*value = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	*found = error > 0;
	return error < 0 ? error : 0;
}

/* 1 when `text` holds for version `number` (a breach), filling the result's rule and detail. */
static int check_rule(mvm_health_result *out, mvm_db *db, int64_t model, const char *env, const mvm_dep_row *row,
		      int64_t number, const char *text)
{
	char detail[256];
	double value, cur = 0, rhs;
	mvm_rule r;
	int found, error;

	if (mvm_rule_parse(&r, text) < 0 ||
	    (error = get_value(&found, &value, db, model, env, number, r.key)) < 0 || !found)
		return 0;
	if (r.uses_current && (number == row->stable ||
			       (error = get_value(&found, &cur, db, model, env, row->stable, r.key)) < 0 || !found))
		return 0;
	rhs = mvm_rule_rhs(&r, cur);
	if (!mvm_rule_compare(r.op, value, rhs))
		return 0;
	snprintf(detail, sizeof(detail), "%s = %.10g %s %.10g (version %lld)", r.key, value, mvm_rule_op_str(r.op), rhs,
		 (long long)number);
	out->breached = 1;
	if (!(out->rule = strdup(text)) || !(out->detail = strdup(detail)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	return 1;
}

static int check_rules(mvm_health_result *out, mvm_db *db, int64_t model, const char *env, const mvm_dep_row *row,
		       int64_t number)
{
	const char *p = row->rules;
	char text[1024];
	int error = 0;

	while (p && *p && !error) {
		size_t n = strcspn(p, "\n");
		snprintf(text, sizeof(text), "%.*s", (int)n, p);
		error = check_rule(out, db, model, env, row, number, text);
		p += n + (p[n] == '\n');
	}
	return error < 0 ? error : 0;
}

/* A breach: roll the candidate back, or the stable version when no rollout is under way. */
static int react(mvm_repo *repo, int64_t model, const health_args *a, const mvm_dep_row *row, int64_t number)
{
	mvm_dep_row after = *row;
	char detail[1400];
	int64_t prev = 0;
	int error;

	if (number == row->candidate) {
		after.candidate = 0;
		after.weight = 0;
	} else if (!row->candidate) {
		if ((error = mvm_reg_previous_stable(&prev, repo->db, model, a->env, row->stable)) < 0)
			return error;
		after.stable = prev ? prev : row->stable;
	}
	a->out->rolled_back = after.candidate != row->candidate || after.stable != row->stable;
	snprintf(detail, sizeof(detail), "%s: %s", a->out->rule, a->out->detail);
	return mvm_reg_dep_commit(repo, model, a->name, a->env, a->out->rolled_back ? "auto-rollback" : "breach", row,
				  &after, detail);
}

static int report_audit(mvm_repo *repo, const health_args *a, int64_t number)
{
	mvm_buf object = MVM_BUF_INIT, after = MVM_BUF_INIT;
	char v[32];
	size_t i;
	int error;

	mvm_buf_printf(&after, "version %lld:", (long long)number);
	for (i = 0; i < a->v.n; i++) {
		mvm_reg_fmt_number(v, a->v.values[i]);
		mvm_buf_printf(&after, " %s=%s", a->v.keys[i], v);
	}
	if ((error = mvm_buf_printf(&object, "model/%s/env/%s", a->name, a->env)) == 0)
		error = mvm_audit_record(repo, "deploy.health", object.ptr, NULL, after.ptr);
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&after);
	return error;
}

static int served_number(int64_t *number, mvm_repo *repo, int64_t model, const health_args *a, const mvm_dep_row *row)
{
	int error;

	if (!row->exists || !row->stable)
		return mvm_error_set(MVM_ENOTFOUND, "'%s' is not deployed to '%s'", a->name, a->env);
	if (!a->ver) {
		*number = row->candidate ? row->candidate : row->stable;
		return 0;
	}
	if ((error = mvm_reg_number(number, repo->db, model, a->name, a->ver)) < 0)
		return error;
	if (*number != row->stable && *number != row->candidate)
		return mvm_error_set(MVM_ECONFLICT, "version %lld is not served in '%s' (stable %lld%s)", (long long)*number,
				     a->env, (long long)row->stable, row->candidate ? ", plus a candidate" : "");
	return 0;
}

static int health_txn(mvm_repo *repo, void *payload)
{
	health_args *a = payload;
	mvm_dep_row row;
	int64_t model, number = 0;
	size_t i;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (error = mvm_reg_dep_load(&row, repo->db, model, a->env)) < 0)
		return error;
	if ((error = served_number(&number, repo, model, a, &row)) < 0)
		goto done;
	a->out->version = number;
	for (i = 0; i < a->v.n && !error; i++)
		error = put_value(repo->db, model, a->env, number, a->v.keys[i], a->v.values[i]);
	if (error || (error = report_audit(repo, a, number)) < 0 ||
	    (error = check_rules(a->out, repo->db, model, a->env, &row, number)) < 0)
		goto done;
	if (a->out->breached)
		error = react(repo, model, a, &row, number);
done:
	mvm_reg_dep_dispose(&row);
	return error;
}

int mvm_deploy_health(mvm_health_result *out, mvm_repo *repo, const char *name, const char *env, const char *ver,
		      const char *const *kvs, size_t n)
{
	health_args a = { name, env, ver, { NULL, NULL, 0 }, out };
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_reg_values_parse(&a.v, kvs, n, "health value")) == 0 &&
	    (error = mvm_alias_name_check(env, "environment")) == 0)
		error = mvm_repo_txn(repo, health_txn, &a);
	mvm_reg_values_dispose(&a.v);
	if (error < 0)
		mvm_health_result_dispose(out);
	return error;
}

void mvm_health_result_dispose(mvm_health_result *r)
{
	free(r->rule);
	free(r->detail);
	memset(r, 0, sizeof(*r));
}
