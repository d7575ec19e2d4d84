/*
 * model.c: creating, archiving and reading models (tables models,
 * model_versions, model_metrics, model_aliases, model_states).
 * Reads run in one read transaction, so a model is seen as of one moment.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_internal.h"
#include "object/object.h"
#include "repo/repo_internal.h"
#include "util/array.h"
#include "registry_internal.h"

typedef struct {
	const char *name, *description;
} create_args;

static int create_txn(mvm_repo *repo, void *payload)
{
	create_args *a = payload;
	mvm_buf author = MVM_BUF_INIT, object = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_repo_author(&author, repo)) < 0 ||
	    (error = mvm_buf_printf(&object, "model/%s", a->name)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "INSERT OR IGNORE INTO models(name, description, created, author)"
						   " VALUES(?, ?, ?, ?)")) < 0)
		goto done;
	sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, author.ptr, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_done(repo->db, st)) < 0)
		goto done;
	if (sqlite3_changes(repo->db->sql) != 1)
		error = mvm_error_set(MVM_EEXISTS, "model '%s' already exists", a->name);
	else
		error = mvm_audit_append(repo->db, author.ptr, "model.create", object.ptr, NULL, a->description);
done:
	sqlite3_finalize(st);
	mvm_buf_dispose(&author);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_model_create(mvm_repo *repo, const char *name, const char *description)
{
	create_args a = { name, description ? description : "" };
	int error;

	if ((error = mvm_model_name_check(name)) < 0)
		return error;
	return mvm_repo_txn(repo, create_txn, &a);
}

static int set_archived(mvm_repo *repo, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "UPDATE models SET archived = 1 WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, id);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

static int archive_model_txn(mvm_repo *repo, void *payload)
{
	const char *name = payload;
	mvm_buf object = MVM_BUF_INIT;
	int64_t id;
	int archived, error;

	if ((error = mvm_reg_model_id(&id, &archived, repo->db, name)) < 0)
		return error;
	if (archived)
		return mvm_error_set(MVM_ECONFLICT, "model '%s' is already archived", name);
	if ((error = set_archived(repo, id)) == 0 && (error = mvm_buf_printf(&object, "model/%s", name)) == 0)
		error = mvm_audit_record(repo, "model.archive", object.ptr, "active", "archived");
	mvm_buf_dispose(&object);
	return error;
}

int mvm_model_archive(mvm_repo *repo, const char *name)
{
	return mvm_repo_txn(repo, archive_model_txn, (void *)name);
}

/* ---- reading ---- */

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return s ? strdup((const char *)s) : NULL;
}

static int oom(void)
{
	return mvm_error_set(MVM_ERROR, "out of memory");
}

static int query(sqlite3_stmt **st, mvm_db *db, const char *sql, int64_t model, int64_t number)
{
	int error;

	if ((error = mvm_db_prepare(st, db, sql)) < 0)
		return error;
	sqlite3_bind_int64(*st, 1, model);
	if (number)
		sqlite3_bind_int64(*st, 2, number);
	return 0;
}

static int load_metrics(mvm_model_version *v, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT key, value FROM model_metrics WHERE model = ? AND number = ? ORDER BY key",
			   model, v->number)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		if (mvm_array_grow(&v->metrics, &cap, v->nmetrics, sizeof(*v->metrics), 8) < 0 ||
		    !(v->metrics[v->nmetrics].key = col_dup(st, 0))) {
			error = oom();
			break;
		}
		v->metrics[v->nmetrics++].value = sqlite3_column_double(st, 1);
	}
	sqlite3_finalize(st);
	return error;
}

static int load_alias_names(mvm_model_version *v, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT alias FROM model_aliases WHERE model = ? AND number = ? ORDER BY alias",
			   model, v->number)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		if (mvm_array_grow(&v->aliases, &cap, v->naliases, sizeof(*v->aliases), 8) < 0 ||
		    !(v->aliases[v->naliases] = col_dup(st, 0))) {
			error = oom();
			break;
		}
		v->naliases++;
	}
	sqlite3_finalize(st);
	return error;
}

static int load_history(mvm_model_version *v, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT from_state, to_state, time, actor FROM model_states"
			   " WHERE model = ? AND number = ? ORDER BY id", model, v->number)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_state_event *h;
		if (mvm_array_grow(&v->history, &cap, v->nhistory, sizeof(*h), 8) < 0 ||
		    !(v->history[v->nhistory].actor = col_dup(st, 3))) {
			error = oom();
			break;
		}
		h = &v->history[v->nhistory++];
		mvm_model_state_parse(&h->from, (const char *)sqlite3_column_text(st, 0));
		mvm_model_state_parse(&h->to, (const char *)sqlite3_column_text(st, 1));
		h->time = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return error;
}

/* The commit's params (metrics come from model_metrics, copied at registration). */
static int load_params(mvm_model_version *v, mvm_db *db)
{
	mvm_version *ver = NULL;
	int error;

	if ((error = mvm_version_read(&ver, db, &v->id)) < 0)
		return error;
	v->params = ver->params;
	v->nparams = ver->nparams;
	ver->params = NULL;
	ver->nparams = 0;
	mvm_version_free(ver);
	return 0;
}

static int load_version_row(mvm_model_version *v, sqlite3_stmt *st)
{
	int error;

	memset(v, 0, sizeof(*v));
	v->number = sqlite3_column_int64(st, 0);
	if ((error = mvm_db_column_oid(&v->id, st, 1)) < 0)
		return error;
	v->path = col_dup(st, 2);
	v->note = col_dup(st, 3);
	if (mvm_model_state_parse(&v->state, (const char *)sqlite3_column_text(st, 4)) < 0)
		return mvm_error_set(MVM_ECORRUPT, "model version %lld has an unknown state", (long long)v->number);
	v->time = sqlite3_column_int64(st, 5);
	return (v->author = col_dup(st, 6)) ? 0 : oom();
}

static void version_dispose(mvm_model_version *v)
{
	size_t i;

	free(v->path);
	free(v->note);
	free(v->author);
	for (i = 0; i < v->nparams; i++) {
		free(v->params[i].key);
		free(v->params[i].value);
	}
	free(v->params);
	for (i = 0; i < v->nmetrics; i++)
		free(v->metrics[i].key);
	free(v->metrics);
	for (i = 0; i < v->naliases; i++)
		free(v->aliases[i]);
	free(v->aliases);
	for (i = 0; i < v->nhistory; i++)
		free(v->history[i].actor);
	free(v->history);
}

static int load_versions(mvm_model *m, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT number, version, path, note, state, created, author"
			   " FROM model_versions WHERE model = ? ORDER BY number", model, 0)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_model_version *v;
		if ((error = mvm_array_grow(&m->versions, &cap, m->nversions, sizeof(*v), 8)) < 0)
			break;
		v = &m->versions[m->nversions++];
		if ((error = load_version_row(v, st)) < 0 || (error = load_metrics(v, db, model)) < 0 ||
		    (error = load_alias_names(v, db, model)) < 0 || (error = load_history(v, db, model)) < 0 ||
		    (error = load_params(v, db)) < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

static int load_aliases(mvm_model *m, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT alias, number, time FROM model_aliases WHERE model = ? ORDER BY alias",
			   model, 0)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_model_alias *a;
		if (mvm_array_grow(&m->aliases, &cap, m->naliases, sizeof(*a), 8) < 0 ||
		    !(m->aliases[m->naliases].name = col_dup(st, 0))) {
			error = oom();
			break;
		}
		a = &m->aliases[m->naliases++];
		a->number = sqlite3_column_int64(st, 1);
		a->time = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return error;
}

static void model_dispose(mvm_model *m)
{
	size_t i;

	free(m->name);
	free(m->description);
	free(m->author);
	for (i = 0; i < m->nversions; i++)
		version_dispose(&m->versions[i]);
	free(m->versions);
	for (i = 0; i < m->naliases; i++)
		free(m->aliases[i].name);
	free(m->aliases);
	memset(m, 0, sizeof(*m));
}

/* A `models` row (id, name, description, author, created, archived) and everything under it. */
static int load_model(mvm_model *m, mvm_db *db, sqlite3_stmt *row)
{
	int64_t id = sqlite3_column_int64(row, 0);
	int error;

	memset(m, 0, sizeof(*m));
	m->time = sqlite3_column_int64(row, 4);
	m->archived = sqlite3_column_int(row, 5);
	if (!(m->name = col_dup(row, 1)) || !(m->description = col_dup(row, 2)) || !(m->author = col_dup(row, 3)))
		return oom();
	if ((error = load_versions(m, db, id)) < 0 || (error = load_aliases(m, db, id)) < 0)
		return error;
	return 0;
}

#define MODEL_COLUMNS "SELECT id, name, description, author, created, archived FROM models"

static int get_in_snapshot(mvm_model **out, mvm_repo *repo, const char *name)
{
	sqlite3_stmt *st = NULL;
	mvm_model *m = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, MODEL_COLUMNS " WHERE name = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(repo->db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "no model named '%s' (see 'mvm model list')", name);
	else if (error > 0 && !(m = calloc(1, sizeof(*m))))
		error = oom();
	else if (error > 0)
		error = load_model(m, repo->db, st);
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_model_free(m);
		return error;
	}
	*out = m;
	return 0;
}

int mvm_model_get(mvm_model **out, mvm_repo *repo, const char *name)
{
	int error;

	*out = NULL;
	if ((error = mvm_db_begin_read(repo->db)) < 0)
		return error;
	error = get_in_snapshot(out, repo, name);
	mvm_db_rollback(repo->db);
	return error;
}

void mvm_model_free(mvm_model *m)
{
	if (!m)
		return;
	model_dispose(m);
	free(m);
}

static int list_in_snapshot(mvm_model **out, size_t *count, mvm_repo *repo)
{
	sqlite3_stmt *st = NULL;
	mvm_model *list = NULL;
	size_t n = 0, cap = 0;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, MODEL_COLUMNS " ORDER BY name")) < 0)
		return error;
	while ((error = mvm_db_step_row(repo->db, st)) > 0) {
		if ((error = mvm_array_grow(&list, &cap, n, sizeof(*list), 8)) < 0 ||
		    (error = load_model(&list[n++], repo->db, st)) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_model_list_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int mvm_model_list(mvm_model **out, size_t *count, mvm_repo *repo)
{
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_begin_read(repo->db)) < 0)
		return error;
	error = list_in_snapshot(out, count, repo);
	mvm_db_rollback(repo->db);
	return error;
}

void mvm_model_list_free(mvm_model *models, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		model_dispose(&models[i]);
	free(models);
}

const mvm_model_version *mvm_model_version_find(const mvm_model *m, int64_t number)
{
	size_t i;

	for (i = 0; i < m->nversions; i++)
		if (m->versions[i].number == number)
			return &m->versions[i];
	return NULL;
}
