/*
 * run.c: starting runs, setting params, logging metric points and ending
 * runs (tables runs, run_params, run_metrics, run_inputs). Each change is
 * one BEGIN IMMEDIATE transaction with its audit entry; arguments are
 * checked before the transaction, so a refused change writes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvm/refs.h"
#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "runs_internal.h"

static const char *const status_names[] = { "running", "ok", "failed" };

const char *mvm_run_status_name(mvm_run_status s)
{
	return (unsigned)s < 3 ? status_names[s] : "unknown";
}

int mvm_run_status_parse(mvm_run_status *out, const char *name)
{
	if (!strcmp(name, "ok"))
		*out = MVM_RUN_OK;
	else if (!strcmp(name, "failed"))
		*out = MVM_RUN_FAILED;
	else
		return mvm_error_set(MVM_EUSAGE, "unknown run status '%s' (use ok or failed)", name);
	return 0;
}

int mvm_run_id_parse(int64_t *out, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < 1)
		return mvm_error_set(MVM_EUSAGE, "'%s' is not a run id (a number: see 'mvm run list')", s);
	*out = v;
	return 0;
}

static int key_check(const char *key, const char *what)
{
	size_t i, n = strlen(key);

	if (!n || n > 100 || !(isalnum((unsigned char)key[0]) || key[0] == '_'))
		goto bad;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)key[i]) && !strchr("_.-/:", key[i]))
			goto bad;
	return 0;
bad:
	return mvm_error_set(MVM_EUSAGE, "%s key '%s' is not valid (letters, digits, '_', '.', '-', '/', ':'; "
			     "starting with a letter, digit or '_')", what, key);
}

int mvm_runs_split_kv(char **key, const char **value, const char *kv, const char *what)
{
	const char *eq = strchr(kv, '=');
	int error;

	*key = NULL;
	if (!eq || eq == kv)
		return mvm_error_set(MVM_EUSAGE, "%s '%s' must look like KEY=VALUE", what, kv);
	if (!(*key = strndup(kv, (size_t)(eq - kv))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = key_check(*key, what)) < 0) {
		free(*key);
		*key = NULL;
		return error;
	}
	*value = eq + 1;
	return 0;
}

/* Check a list of key=value (valid keys, none twice). */
static int check_kvs(const char *const *kvs, size_t n, const char *what)
{
	const char *v;
	char *k = NULL;
	size_t i, j;
	int error = 0;

	for (i = 0; i < n && !error; i++) {
		if ((error = mvm_runs_split_kv(&k, &v, kvs[i], what)) < 0)
			break;
		for (j = 0; j < i; j++)
			if (!strncmp(kvs[j], k, strlen(k)) && kvs[j][strlen(k)] == '=')
				error = mvm_error_set(MVM_EUSAGE, "%s %s given twice", what, k);
		free(k);
	}
	return error;
}

static int run_object(char out[32], int64_t id)
{
	snprintf(out, 32, "run/%" PRId64, id);
	return 0;
}

/* Lock the run's row for a change: MVM_ENOTFOUND, or MVM_ECONFLICT when it ended. */
static int run_running(mvm_db *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT status FROM runs WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, id);
	if ((error = mvm_db_step_row(db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "no run %" PRId64 " (see 'mvm run list')", id);
	else if (error > 0 && strcmp((const char *)sqlite3_column_text(st, 0), "running"))
		error = mvm_error_set(MVM_ECONFLICT, "run %" PRId64 " already ended (%s); start a new run", id,
				      (const char *)sqlite3_column_text(st, 0));
	else if (error > 0)
		error = 0;
	sqlite3_finalize(st);
	return error;
}

static int put_kvs(mvm_db *db, int64_t run, const char *kind, const char *const *kvs, size_t n)
{
	sqlite3_stmt *st = NULL;
	const char *v;
	char *k;
	size_t i;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT OR REPLACE INTO run_params(run, kind, key, value)"
					     " VALUES(?, ?, ?, ?)")) < 0)
		return error;
	for (i = 0; i < n && !error; i++) {
		if ((error = mvm_runs_split_kv(&k, &v, kvs[i], kind)) < 0)
			break;
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, k, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, v, -1, SQLITE_STATIC);
		error = mvm_db_step_done(db, st);
		free(k);
	}
	sqlite3_finalize(st);
	return error;
}

/* ---- start ---- */

typedef struct {
	int64_t *id;
	const mvm_run_start_options *o;
	const mvm_run_exec_info *exec;
	const mvm_oid *inputs;
} start_args;

static json_t *strings_json(const char *const *list, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(list[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static char *json_text(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;

	json_decref(j);
	return s;
}

static void bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
	if (s)
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, col);
}

static int insert_run(mvm_db *db, int64_t id, const char *name, const char *author, const mvm_run_exec_info *x)
{
	char *cmd = NULL, *outs = NULL;
	sqlite3_stmt *st = NULL;
	size_t argc = 0;
	int error;

	if (x) {
		while (x->argv[argc])
			argc++;
		cmd = json_text(strings_json((const char *const *)x->argv, argc));
		outs = json_text(strings_json(x->outputs, x->noutputs));
		if (!cmd || !outs) {
			error = mvm_error_set(MVM_EUSAGE, "the command or an output path is not valid UTF-8 text");
			goto done;
		}
	}
	if ((error = mvm_db_prepare(&st, db, "INSERT INTO runs(id, name, status, author, started, command, outputs,"
					     " host, code_commit, code_dirty) VALUES(?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)")) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
	bind_text_or_null(st, 5, cmd);
	bind_text_or_null(st, 6, outs);
	bind_text_or_null(st, 7, x ? x->host : NULL);
	bind_text_or_null(st, 8, x ? x->code_commit : NULL);
	if (x && x->code_commit && x->code_dirty >= 0)
		sqlite3_bind_int(st, 9, x->code_dirty);
	else
		sqlite3_bind_null(st, 9);
	error = mvm_db_step_done(db, st);
done:
	sqlite3_finalize(st);
	free(cmd);
	free(outs);
	return error;
}

static int next_run_id(int64_t *out, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT COALESCE(MAX(id), 0) + 1 FROM runs")) < 0)
		return error;
	if ((error = mvm_db_step_row(db, st)) > 0) {
		*out = sqlite3_column_int64(st, 0);
		error = 0;
	}
	sqlite3_finalize(st);
	return error;
}

static int insert_inputs(mvm_db *db, int64_t run, const mvm_oid *ids, size_t n)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO run_inputs(run, n, version) VALUES(?, ?, ?)")) < 0)
		return error;
	for (i = 0; i < n && !error; i++) {
		sqlite3_bind_int64(st, 1, run);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i + 1);
		mvm_db_bind_oid(st, 3, &ids[i]);
		error = mvm_db_step_done(db, st);
	}
	sqlite3_finalize(st);
	return error;
}

/* The audit record of a start: {"name","params","inputs"} (and "command" for exec). */
static char *start_record(const char *name, const start_args *a)
{
	json_t *o = json_object(), *params = strings_json(a->o->params, a->o->nparams), *inputs = json_array();
	char hex[MVM_OID_HEXSZ + 1];
	size_t i;

	for (i = 0; inputs && i < a->o->ninputs; i++) {
		mvm_oid_fmt(hex, &a->inputs[i]);
		json_array_append_new(inputs, json_string(hex));
	}
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "params", params ? params : json_null());
	json_object_set_new(o, "inputs", inputs ? inputs : json_null());
	return json_text(o);
}

static int start_txn(mvm_repo *repo, void *payload)
{
	start_args *a = payload;
	const mvm_run_start_options *o = a->o;
	mvm_buf author = MVM_BUF_INIT, name = MVM_BUF_INIT;
	char object[32], *record = NULL;
	int error;

	if ((error = mvm_repo_author(&author, repo)) < 0 || (error = next_run_id(a->id, repo->db)) < 0)
		goto done;
	if ((error = o->name ? mvm_buf_puts(&name, o->name) : mvm_buf_printf(&name, "run-%" PRId64, *a->id)) < 0 ||
	    (error = insert_run(repo->db, *a->id, name.ptr, author.ptr, a->exec)) < 0 ||
	    (error = put_kvs(repo->db, *a->id, "param", o->params, o->nparams)) < 0 ||
	    (error = put_kvs(repo->db, *a->id, "tag", o->tags, o->ntags)) < 0 ||
	    (a->exec && (error = put_kvs(repo->db, *a->id, "env", a->exec->env, a->exec->nenv)) < 0) ||
	    (error = insert_inputs(repo->db, *a->id, a->inputs, o->ninputs)) < 0)
		goto done;
	run_object(object, *a->id);
	if (!(record = start_record(name.ptr, a)))
		error = mvm_error_set(MVM_EUSAGE, "a run name or param is not valid UTF-8 text");
	else
		error = mvm_audit_append(repo->db, author.ptr, "run.start", object, NULL, record);
done:
	free(record);
	mvm_buf_dispose(&author);
	mvm_buf_dispose(&name);
	return error;
}

static int check_name(const char *name)
{
	size_t n = name ? strlen(name) : 1, i;

	if (!n || n > 200)
		return mvm_error_set(MVM_EUSAGE, "a run name must have 1 to 200 characters");
	for (i = 0; name && i < n; i++)
		if ((unsigned char)name[i] < 0x20)
			return mvm_error_set(MVM_EUSAGE, "a run name cannot hold control characters");
	return 0;
}

int mvm_runs_start(int64_t *id, mvm_repo *repo, const mvm_run_start_options *o, const mvm_run_exec_info *exec)
{
	mvm_oid *inputs = calloc(o->ninputs + 1, sizeof(*inputs));
	start_args a = { id, o, exec, inputs };
	size_t i;
	int error = 0;

	if (!inputs)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = check_name(o->name)) < 0 || (error = check_kvs(o->params, o->nparams, "param")) < 0 ||
	    (error = check_kvs(o->tags, o->ntags, "tag")) < 0)
		goto done;
	for (i = 0; i < o->ninputs && !error; i++)
		if ((error = mvm_revparse(&inputs[i], repo, o->inputs[i])) < 0)
			mvm_error_wrap(error, "--input %s", o->inputs[i]);
	if (!error)
		error = mvm_repo_txn(repo, start_txn, &a);
done:
	free(inputs);
	return error;
}

int mvm_run_start(int64_t *id, mvm_repo *repo, const mvm_run_start_options *opts)
{
	return mvm_runs_start(id, repo, opts, NULL);
}

/* ---- params ---- */

typedef struct {
	int64_t id;
	const char *const *kvs;
	size_t n;
	const mvm_run_point *pts;
	mvm_run_status status;
	int has_exit, exit_code;
} change_args;

static int param_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	char object[32];
	json_t *j;
	char *rec;
	int error;

	if ((error = run_running(repo->db, a->id)) < 0 || (error = put_kvs(repo->db, a->id, "param", a->kvs, a->n)) < 0)
		return error;
	run_object(object, a->id);
	j = strings_json(a->kvs, a->n);
	if (!(rec = json_text(j)))
		return mvm_error_set(MVM_EUSAGE, "a param is not valid UTF-8 text");
	error = mvm_audit_record(repo, "run.param", object, NULL, rec);
	free(rec);
	return error;
}

int mvm_run_param_set(mvm_repo *repo, int64_t id, const char *const *kvs, size_t n)
{
	change_args a = { id, kvs, n, NULL, MVM_RUN_RUNNING, 0, 0 };
	int error;

	if (!n)
		return mvm_error_set(MVM_EUSAGE, "give one or more KEY=VALUE params");
	if ((error = check_kvs(kvs, n, "param")) < 0)
		return error;
	return mvm_repo_txn(repo, param_txn, &a);
}

/* ---- metrics ---- */

static int next_step(int64_t *out, mvm_db *db, int64_t run, const char *key)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT COALESCE(MAX(step) + 1, 0) FROM run_metrics"
					     " WHERE run = ? AND key = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0) {
		*out = sqlite3_column_int64(st, 0);
		error = 0;
	}
	sqlite3_finalize(st);
	return error;
}

static int put_point(mvm_db *db, sqlite3_stmt *st, int64_t run, const mvm_run_point *p, mvm_buf *rec)
{
	char num[32];
	int64_t step = p->step;
	int error;

	if (step < 0 && (error = next_step(&step, db, run, p->key)) < 0)
		return error;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_text(st, 2, p->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, step);
	sqlite3_bind_double(st, 4, p->value);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	if ((error = mvm_db_step_done(db, st)) < 0)
		return error;
	snprintf(num, sizeof(num), "%.15g", p->value);
	if (strtod(num, NULL) != p->value)
		snprintf(num, sizeof(num), "%.17g", p->value);
	return mvm_buf_printf(rec, "%s%s=%s@%" PRId64, rec->size ? " " : "", p->key, num, step);
}

static int log_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	mvm_buf rec = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	char object[32];
	size_t i;
	int error;

	if ((error = run_running(repo->db, a->id)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "INSERT OR REPLACE INTO run_metrics(run, key, step, value, time)"
						   " VALUES(?, ?, ?, ?, ?)")) < 0)
		return error;
	for (i = 0; i < a->n && !error; i++)
		error = put_point(repo->db, st, a->id, &a->pts[i], &rec);
	sqlite3_finalize(st);
	run_object(object, a->id);
	if (!error)
		error = mvm_audit_record(repo, "run.log", object, NULL, rec.ptr);
	mvm_buf_dispose(&rec);
	return error;
}

int mvm_run_log_points(mvm_repo *repo, int64_t id, const mvm_run_point *pts, size_t n)
{
	change_args a = { id, NULL, n, pts, MVM_RUN_RUNNING, 0, 0 };
	size_t i;
	int error;

	if (!n)
		return mvm_error_set(MVM_EUSAGE, "give one or more KEY=NUMBER metrics");
	for (i = 0; i < n; i++) {
		if ((error = key_check(pts[i].key, "metric")) < 0)
			return error;
		if (!isfinite(pts[i].value))
			return mvm_error_set(MVM_EUSAGE, "metric %s: the value is not a finite number", pts[i].key);
	}
	return mvm_repo_txn(repo, log_txn, &a);
}

int mvm_run_log(mvm_repo *repo, int64_t id, const char *const *kvs, size_t n, int64_t step)
{
	mvm_run_point *pts = calloc(n + 1, sizeof(*pts));
	char **keys = calloc(n + 1, sizeof(*keys));
	const char *v;
	char *end;
	size_t i;
	int error = 0;

	if (!pts || !keys) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < n && !error; i++) {
		if ((error = mvm_runs_split_kv(&keys[i], &v, kvs[i], "metric")) < 0)
			break;
		errno = 0;
		pts[i].key = keys[i];
		pts[i].value = strtod(v, &end);
		pts[i].step = step;
		if (!*v || *end || errno || !isfinite(pts[i].value))
			error = mvm_error_set(MVM_EUSAGE, "metric '%s': '%s' is not a finite number", kvs[i], v);
	}
	if (!error)
		error = mvm_run_log_points(repo, id, pts, n);
done:
	for (i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(pts);
	return error;
}

/* ---- end ---- */

static int end_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	sqlite3_stmt *st = NULL;
	char object[32];
	int error;

	if ((error = run_running(repo->db, a->id)) < 0 ||
	    (error = mvm_db_prepare(&st, repo->db, "UPDATE runs SET status = ?, ended = ?, exit_code = ? WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, mvm_run_status_name(a->status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	if (a->has_exit)
		sqlite3_bind_int(st, 3, a->exit_code);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, a->id);
	error = mvm_db_step_done(repo->db, st);
	sqlite3_finalize(st);
	run_object(object, a->id);
	if (!error)
		error = mvm_audit_record(repo, "run.end", object, "running", mvm_run_status_name(a->status));
	return error;
}

int mvm_runs_end(mvm_repo *repo, int64_t id, mvm_run_status status, int has_exit, int exit_code)
{
	change_args a = { id, NULL, 0, NULL, status, has_exit, exit_code };

	if (status == MVM_RUN_RUNNING)
		return mvm_error_set(MVM_EUSAGE, "a run ends as ok or failed");
	return mvm_repo_txn(repo, end_txn, &a);
}

int mvm_run_end(mvm_repo *repo, int64_t id, mvm_run_status status)
{
	return mvm_runs_end(repo, id, status, 0, 0);
}
