/*
 * modelver.c: model versions: registering a revision as the next number,
 * setting metrics, moving through lifecycle states, resolving NAME@VER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvm/refs.h"
#include "audit/audit_internal.h"
#include "object/object.h"
#include "repo/repo_internal.h"
#include "registry_internal.h"

static int object_name(mvm_buf *out, const char *model, int64_t number, const char *suffix)
{
	mvm_buf_clear(out);
	return mvm_buf_printf(out, "model/%s/%lld%s", model, (long long)number, suffix ? suffix : "");
}

/* Empty, "." or ".." components (a leading or doubled '/') make a path unsafe. */
static int path_bad(const char *p)
{
	size_t n;

	if (!*p)
		return 1;
	while (*p) {
		n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 1;
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* "./a/b/" -> "a/b"; refuses absolute paths and "." or ".." components. */
static int normalize_path(char **out, const char *path)
{
	const char *p = path;
	char *s;
	size_t n;

	*out = NULL;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!(s = strdup(p)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
	if (path_bad(s)) {
		free(s);
		return mvm_error_set(MVM_EUSAGE, "--path '%s' must be a relative path inside the version", path);
	}
	*out = s;
	return 0;
}

/* The path must be a file of the version or a folder holding some. */
static int path_check(mvm_repo *repo, const mvm_oid *version, const char *path, const char *rev)
{
	mvm_tree *t = NULL;
	size_t i, n = strlen(path);
	int error, found = 0;

	if ((error = mvm_version_tree(&t, repo, version)) < 0)
		return error;
	for (i = 0; i < t->count && !found; i++)
		found = !strcmp(t->entries[i].path, path) ||
			(!strncmp(t->entries[i].path, path, n) && t->entries[i].path[n] == '/');
	mvm_tree_free(t);
	return found ? 0 : mvm_error_set(MVM_ENOTFOUND, "'%s' is not a file or folder of %s", path, rev);
}

typedef struct {
	const char *name, *note;
	char *path;
	mvm_version *v;
	int64_t number;
} register_args;

static int insert_version(mvm_repo *repo, int64_t model, register_args *a, const char *author)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db,
		"INSERT INTO model_versions(model, number, version, path, note, state, created, author)"
		" VALUES(?1, (SELECT COALESCE(MAX(number), 0) + 1 FROM model_versions WHERE model = ?1),"
		" ?2, ?3, ?4, 'none', ?5, ?6) RETURNING number")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	mvm_db_bind_oid(st, 2, &a->v->id);
	if (a->path)
		sqlite3_bind_text(st, 3, a->path, -1, SQLITE_STATIC);
	if (a->note)
		sqlite3_bind_text(st, 4, a->note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 6, author, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(repo->db, st)) > 0) {
		a->number = sqlite3_column_int64(st, 0);
		error = mvm_db_step_row(repo->db, st);
	}
	sqlite3_finalize(st);
	return error;
}

static int put_metric(mvm_db *db, int64_t model, int64_t number, const char *key, double value)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO model_metrics(model, number, key, value) VALUES(?, ?, ?, ?)"
					     " ON CONFLICT(model, number, key) DO UPDATE SET value = excluded.value")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 4, value);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int register_txn(mvm_repo *repo, void *payload)
{
	register_args *a = payload;
	mvm_buf author = MVM_BUF_INIT, object = MVM_BUF_INIT, after = MVM_BUF_INIT;
	char hex[MVM_OID_HEXSZ + 1];
	int64_t model;
	int archived, error;
	size_t i;

	if ((error = mvm_reg_model_id(&model, &archived, repo->db, a->name)) < 0)
		return error;
	if (archived)
		return mvm_error_set(MVM_ECONFLICT, "model '%s' is archived; it accepts no new versions", a->name);
	if ((error = mvm_repo_author(&author, repo)) < 0 || (error = insert_version(repo, model, a, author.ptr)) < 0)
		goto done;
	for (i = 0; i < a->v->nmetrics && !error; i++)
		error = put_metric(repo->db, model, a->number, a->v->metrics[i].key, a->v->metrics[i].value);
	mvm_oid_fmt(hex, &a->v->id);
	if (error || (error = object_name(&object, a->name, a->number, NULL)) < 0 ||
	    (error = mvm_buf_printf(&after, "%s%s%s", hex, a->path ? ":" : "", a->path ? a->path : "")) < 0)
		goto done;
	error = mvm_audit_append(repo->db, author.ptr, "model.register", object.ptr, NULL, after.ptr);
done:
	mvm_buf_dispose(&author);
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&after);
	return error;
}

int mvm_model_register(int64_t *number, mvm_repo *repo, const char *name, const char *rev,
		       const mvm_register_options *opts)
{
	register_args a = { name, opts ? opts->note : NULL, NULL, NULL, 0 };
	mvm_oid id;
	int error;

	if ((error = mvm_model_name_check(name)) < 0 ||
	    (opts && opts->path && (error = normalize_path(&a.path, opts->path)) < 0))
		goto done;
	/* the writer lock keeps gc from collecting the version before it is pinned */
	if ((error = mvm_repo_lock(repo)) < 0 || (error = mvm_revparse(&id, repo, rev)) < 0 ||
	    (error = mvm_version_read(&a.v, repo->db, &id)) < 0 ||
	    (a.path && (error = path_check(repo, &id, a.path, rev)) < 0))
		goto done;
	if ((error = mvm_repo_txn(repo, register_txn, &a)) == 0 && number)
		*number = a.number;
done:
	free(a.path);
	mvm_version_free(a.v);
	return error;
}

/* ---- metrics ---- */

typedef struct {
	const char *name, *ver;
	mvm_reg_values v;
} metric_args;

static int metric_one(mvm_repo *repo, const metric_args *a, int64_t model, int64_t number, size_t i)
{
	mvm_buf object = MVM_BUF_INIT, suffix = MVM_BUF_INIT;
	char before[32], after[32];
	double old = 0;
	int found, error;

	if ((error = mvm_reg_metric_get(&found, &old, repo->db, model, number, a->v.keys[i])) < 0 ||
	    (error = put_metric(repo->db, model, number, a->v.keys[i], a->v.values[i])) < 0 ||
	    (error = mvm_buf_printf(&suffix, "/metric/%s", a->v.keys[i])) < 0 ||
	    (error = object_name(&object, a->name, number, suffix.ptr)) < 0)
		goto done;
	mvm_reg_fmt_number(before, old);
	mvm_reg_fmt_number(after, a->v.values[i]);
	error = mvm_audit_record(repo, "model.metric", object.ptr, found ? before : NULL, after);
done:
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&suffix);
	return error;
}

static int metric_txn(mvm_repo *repo, void *payload)
{
	metric_args *a = payload;
	int64_t model, number;
	size_t i;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (error = mvm_reg_number(&number, repo->db, model, a->name, a->ver)) < 0)
		return error;
	for (i = 0; i < a->v.n && !error; i++)
		error = metric_one(repo, a, model, number, i);
	return error;
}

int mvm_model_metric_set(mvm_repo *repo, const char *name, const char *ver, const char *const *kvs, size_t n)
{
	metric_args a = { name, ver, { NULL, NULL, 0 } };
	int error;

	if ((error = mvm_reg_values_parse(&a.v, kvs, n, "metric")) == 0)
		error = mvm_repo_txn(repo, metric_txn, &a);
	mvm_reg_values_dispose(&a.v);
	return error;
}

/* ---- states ---- */

typedef struct {
	const char *name, *ver;
	mvm_model_state to;
} state_args;

static int current_state(mvm_model_state *out, mvm_db *db, int64_t model, int64_t number)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT state FROM model_versions WHERE model = ? AND number = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	if ((error = mvm_db_step_row(db, st)) > 0)
		error = mvm_model_state_parse(out, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return error;
}

static int write_state(mvm_repo *repo, int64_t model, int64_t number, mvm_model_state from, mvm_model_state to,
		       const char *actor)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db,
		"UPDATE model_versions SET state = ?3 WHERE model = ?1 AND number = ?2;")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_text(st, 3, mvm_model_state_name(to), -1, SQLITE_STATIC);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	if (error < 0 || (error = mvm_db_prepare(&st, repo->db,
		"INSERT INTO model_states(model, number, from_state, to_state, time, actor) VALUES(?, ?, ?, ?, ?, ?)")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_text(st, 3, mvm_model_state_name(from), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, mvm_model_state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 6, actor, -1, SQLITE_STATIC);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	return error;
}

static int state_txn(mvm_repo *repo, void *payload)
{
	state_args *a = payload;
	mvm_buf author = MVM_BUF_INIT, object = MVM_BUF_INIT;
	mvm_model_state from;
	int64_t model, number;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (error = mvm_reg_number(&number, repo->db, model, a->name, a->ver)) < 0 ||
	    (error = current_state(&from, repo->db, model, number)) < 0)
		return error;
	if (a->to <= from)
		return mvm_error_set(MVM_ECONFLICT, "version %lld of '%s' is %s; states only move forward "
				     "(none, staging, production, archived)", (long long)number, a->name,
				     mvm_model_state_name(from));
	if ((error = mvm_repo_author(&author, repo)) == 0 &&
	    (error = write_state(repo, model, number, from, a->to, author.ptr)) == 0 &&
	    (error = object_name(&object, a->name, number, NULL)) == 0)
		error = mvm_audit_append(repo->db, author.ptr, "model.state", object.ptr, mvm_model_state_name(from),
					 mvm_model_state_name(a->to));
	mvm_buf_dispose(&author);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_model_state_set(mvm_repo *repo, const char *name, const char *ver, mvm_model_state to)
{
	state_args a = { name, ver, to };

	if ((unsigned)to > MVM_STATE_ARCHIVED)
		return mvm_error_set(MVM_EUSAGE, "unknown state %d", (int)to);
	return mvm_repo_txn(repo, state_txn, &a);
}

int mvm_model_resolve(int64_t *number, mvm_oid *id, mvm_repo *repo, const char *name, const char *ver)
{
	int64_t model, n;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, name)) < 0 ||
	    (error = mvm_reg_number(&n, repo->db, model, name, ver)) < 0 ||
	    (id && (error = mvm_reg_version_id(id, repo->db, model, n)) < 0))
		return error;
	if (number)
		*number = n;
	return 0;
}
