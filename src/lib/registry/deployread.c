/*
 * deployread.c: reading deployments: status, history, and which version an
 * environment serves to a request key (mvm_resolve, mvm_deploy_bucket).
 */
#include <stdlib.h>
#include <string.h>

#include "repo/repo_internal.h"
#include "util/hash.h"
#include "registry_internal.h"

uint32_t mvm_deploy_bucket(const char *key, size_t len)
{
	mvm_oid h;
	uint64_t v = 0;
	int i;

	if (mvm_sha256_buf(&h, key, len) < 0)
		return 0;
	for (i = 0; i < 8; i++)
		v = v << 8 | h.id[i];
	return (uint32_t)(v % 10000);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return s ? strdup((const char *)s) : NULL;
}

static int split_rules(mvm_deployment *d, const char *text)
{
	const char *p = text;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char **nr = realloc(d->rollback_if, (d->nrollback_if + 1) * sizeof(*nr));
		if (!nr || !(nr[d->nrollback_if] = strndup(p, n))) {
			d->rollback_if = nr ? nr : d->rollback_if;
			return mvm_error_set(MVM_ERROR, "out of memory");
		}
		d->rollback_if = nr;
		d->nrollback_if++;
		p += n + (p[n] == '\n');
	}
	return 0;
}

static int read_deployment(mvm_deployment *d, mvm_db *db, int64_t model, sqlite3_stmt *st)
{
	int error;

	memset(d, 0, sizeof(*d));
	d->stable = sqlite3_column_int64(st, 2);
	d->candidate = sqlite3_column_int64(st, 3);
	d->has_stable = d->stable > 0;
	d->has_candidate = d->candidate > 0;
	d->weight = sqlite3_column_int(st, 4);
	d->time = sqlite3_column_int64(st, 6);
	if (!(d->env = col_dup(st, 0)) || !(d->strategy = col_dup(st, 1)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = split_rules(d, (const char *)sqlite3_column_text(st, 5))) < 0 ||
	    (d->has_stable && (error = mvm_reg_version_id(&d->stable_id, db, model, d->stable)) < 0) ||
	    (d->has_candidate && (error = mvm_reg_version_id(&d->candidate_id, db, model, d->candidate)) < 0))
		return error;
	return 0;
}

static int status_rows(mvm_deployment **out, size_t *count, mvm_db *db, int64_t model, const char *env)
{
	sqlite3_stmt *st = NULL;
	mvm_deployment *list = NULL;
	size_t n = 0;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT env, strategy, stable, candidate, weight, rollback_if, updated"
					     " FROM deployments WHERE model = ?1 AND (?2 IS NULL OR env = ?2) ORDER BY env")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	if (env)
		sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_deployment *l = realloc(list, (n + 1) * sizeof(*l));
		if (!l) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		list = l;
		if ((error = read_deployment(&list[n++], db, model, st)) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_deployments_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int mvm_deploy_status(mvm_deployment **out, size_t *count, mvm_repo *repo, const char *name, const char *env)
{
	int64_t model;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	if ((error = mvm_reg_model_id(&model, NULL, repo->db, name)) == 0 &&
	    (error = status_rows(out, count, repo->db, model, env)) == 0 && env && !*count)
		error = mvm_error_set(MVM_ENOTFOUND, "'%s' is not deployed to '%s'", name, env);
	mvm_db_rollback(repo->db);
	return error;
}

void mvm_deployments_free(mvm_deployment *d, size_t count)
{
	size_t i, k;

	for (i = 0; i < count; i++) {
		free(d[i].env);
		free(d[i].strategy);
		for (k = 0; k < d[i].nrollback_if; k++)
			free(d[i].rollback_if[k]);
		free(d[i].rollback_if);
	}
	free(d);
}

static int history_rows(mvm_deploy_event **out, size_t *count, mvm_db *db, int64_t model, const char *env)
{
	sqlite3_stmt *st = NULL;
	mvm_deploy_event *list = NULL;
	size_t n = 0;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT time, actor, event, stable_before, stable_after, candidate, weight,"
					     " detail FROM deploy_history WHERE model = ? AND env = ? ORDER BY id")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_deploy_event *l = realloc(list, (n + 1) * sizeof(*l)), *e;
		if (!l) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		list = l;
		e = &list[n++];
		memset(e, 0, sizeof(*e));
		e->time = sqlite3_column_int64(st, 0);
		e->stable_before = sqlite3_column_int64(st, 3);
		e->stable_after = sqlite3_column_int64(st, 4);
		e->candidate = sqlite3_column_int64(st, 5);
		e->weight = sqlite3_column_int(st, 6);
		e->detail = col_dup(st, 7);
		if (!(e->actor = col_dup(st, 1)) || !(e->event = col_dup(st, 2))) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_deploy_history_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int mvm_deploy_history(mvm_deploy_event **out, size_t *count, mvm_repo *repo, const char *name, const char *env)
{
	int64_t model;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	if ((error = mvm_reg_model_id(&model, NULL, repo->db, name)) == 0 &&
	    (error = history_rows(out, count, repo->db, model, env)) == 0 && !*count)
		error = mvm_error_set(MVM_ENOTFOUND, "'%s' was never deployed to '%s'", name, env);
	mvm_db_rollback(repo->db);
	return error;
}

void mvm_deploy_history_free(mvm_deploy_event *e, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		free(e[i].actor);
		free(e[i].event);
		free(e[i].detail);
	}
	free(e);
}

static int version_path(mvm_resolution *out, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT version, path FROM model_versions WHERE model = ? AND number = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, out->number);
	if ((error = mvm_db_step_row(db, st)) == 0)
		error = mvm_error_set(MVM_ECORRUPT, "a deployment names a missing model version");
	else if (error > 0 && (error = mvm_db_column_oid(&out->id, st, 0)) == 0 &&
		 sqlite3_column_type(st, 1) != SQLITE_NULL && !(out->path = col_dup(st, 1)))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	sqlite3_finalize(st);
	return error < 0 ? error : 0;
}

static int resolve_in(mvm_resolution *out, mvm_db *db, const char *name, const char *env, const char *key)
{
	mvm_dep_row row;
	int64_t model;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, db, name)) < 0 || (error = mvm_reg_dep_load(&row, db, model, env)) < 0)
		return error;
	if (!row.exists || !row.stable) {
		mvm_reg_dep_dispose(&row);
		return mvm_error_set(MVM_ENOTFOUND, "'%s' is not deployed to '%s'", name, env);
	}
	out->number = row.stable;
	if (key && row.candidate && row.weight > 0 && mvm_deploy_bucket(key, strlen(key)) < (uint32_t)row.weight * 100) {
		out->number = row.candidate;
		out->is_candidate = 1;
	}
	mvm_reg_dep_dispose(&row);
	return version_path(out, db, model);
}

int mvm_resolve(mvm_resolution *out, mvm_repo *repo, const char *name, const char *env, const char *key)
{
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	error = resolve_in(out, repo->db, name, env, key);
	mvm_db_rollback(repo->db);
	if (error < 0)
		mvm_resolution_dispose(out);
	return error;
}

void mvm_resolution_dispose(mvm_resolution *r)
{
	free(r->path);
	r->path = NULL;
}
