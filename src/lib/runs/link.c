/*
 * link.c: what a version knows about runs and datasets (tables
 * version_info, dataset_files). Needs only the metadata database:
 * repo/commit.c calls it inside the commit's own transaction, so a version
 * and its link to a run are written (and audited) together or not at all.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_internal.h"
#include "object/object.h"
#include "runs_internal.h"

static int oom(void)
{
	return mvm_error_set(MVM_ERROR, "out of memory");
}

int mvm_runs_exists(mvm_db *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT 1 FROM runs WHERE id = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, id);
	if ((error = mvm_db_step_row(db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "no run %" PRId64 " (see 'mvm run list')", id);
	sqlite3_finalize(st);
	return error < 0 ? error : 0;
}

static int add_param(mvm_version *v, const char *key, const char *value)
{
	mvm_param *p;
	size_t i;

	for (i = 0; i < v->nparams; i++)
		if (!strcmp(v->params[i].key, key))
			return 0;  /* an explicit --param wins */
	if (!(p = realloc(v->params, (v->nparams + 1) * sizeof(*p))))
		return oom();
	v->params = p;
	p[v->nparams].key = strdup(key);
	p[v->nparams].value = strdup(value);
	v->nparams++;
	return p[v->nparams - 1].key && p[v->nparams - 1].value ? 0 : oom();
}

static int add_metric(mvm_version *v, const char *key, double value)
{
	mvm_metric *m;
	size_t i;

	for (i = 0; i < v->nmetrics; i++)
		if (!strcmp(v->metrics[i].key, key))
			return 0;  /* an explicit --metric wins */
	if (!(m = realloc(v->metrics, (v->nmetrics + 1) * sizeof(*m))))
		return oom();
	v->metrics = m;
	m[v->nmetrics].value = value;
	return (m[v->nmetrics++].key = strdup(key)) ? 0 : oom();
}

int mvm_runs_version_fill(mvm_version *v, mvm_db *db, int64_t run)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_runs_exists(db, run)) < 0 ||
	    (error = mvm_db_prepare(&st, db, "SELECT key, value FROM run_params WHERE run = ? AND kind = 'param'")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, run);
	while ((error = mvm_db_step_row(db, st)) > 0)
		if ((error = add_param(v, (const char *)sqlite3_column_text(st, 0),
				       (const char *)sqlite3_column_text(st, 1))) < 0)
			break;
	sqlite3_finalize(st);
	if (error < 0 || (error = mvm_db_prepare(&st, db, "SELECT key, value FROM run_metrics m WHERE run = ?1 AND"
		" step = (SELECT MAX(step) FROM run_metrics WHERE run = ?1 AND key = m.key)")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, run);
	while ((error = mvm_db_step_row(db, st)) > 0)
		if ((error = add_metric(v, (const char *)sqlite3_column_text(st, 0), sqlite3_column_double(st, 1))) < 0)
			break;
	sqlite3_finalize(st);
	mvm_version_sort(v);
	return error;
}

static int insert_info(mvm_db *db, const mvm_oid *id, int64_t run, const char *kind)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT OR REPLACE INTO version_info(version, kind, run) VALUES(?, ?, ?)")) < 0)
		return error;
	mvm_db_bind_oid(st, 1, id);
	if (kind)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	if (run)
		sqlite3_bind_int64(st, 3, run);
	else
		sqlite3_bind_null(st, 3);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int insert_files(mvm_db *db, const mvm_oid *id, const mvm_dataset_file *files, size_t n)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT OR REPLACE INTO dataset_files(version, path, rows) VALUES(?, ?, ?)")) < 0)
		return error;
	for (i = 0; i < n && !error; i++) {
		mvm_db_bind_oid(st, 1, id);
		sqlite3_bind_text(st, 2, files[i].path, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, files[i].rows);
		error = mvm_db_step_done(db, st);
	}
	sqlite3_finalize(st);
	return error;
}

/* {"kind":"dataset","rows":{"train.jsonl":1000},"run":3} */
static char *link_record(int64_t run, const char *kind, const mvm_dataset_file *files, size_t n)
{
	json_t *o = json_object(), *rows = json_object();
	char *s;
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(rows, files[i].path, json_integer(files[i].rows));
	json_object_set_new(o, "run", run ? json_integer(run) : json_null());
	json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
	json_object_set_new(o, "rows", rows);
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(o);
	return s;
}

int mvm_runs_link_version(mvm_db *db, const char *actor, const mvm_oid *id, int64_t run, const char *kind,
			  const mvm_dataset_file *files, size_t nfiles)
{
	char hex[MVM_OID_HEXSZ + 1], object[MVM_OID_HEXSZ + 16], *rec;
	int error;

	if (!run && !kind)
		return 0;
	if ((run && (error = mvm_runs_exists(db, run)) < 0) || (error = insert_info(db, id, run, kind)) < 0 ||
	    (error = insert_files(db, id, files, nfiles)) < 0)
		return error;
	mvm_oid_fmt(hex, id);
	snprintf(object, sizeof(object), "version/%s", hex);
	if (!(rec = link_record(run, kind, files, nfiles)))
		return mvm_error_set(MVM_EUSAGE, "a dataset path is not valid UTF-8 text");
	error = mvm_audit_append(db, actor, "version.link", object, NULL, rec);
	free(rec);
	return error;
}

/* ---- reading ---- */

static int load_files(mvm_version_info *info, mvm_db *db, const mvm_oid *id)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT path, rows FROM dataset_files WHERE version = ? ORDER BY path")) < 0)
		return error;
	mvm_db_bind_oid(st, 1, id);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_dataset_file *f = realloc(info->files, (info->nfiles + 1) * sizeof(*f));
		if (!f) {
			error = oom();
			break;
		}
		info->files = f;
		f[info->nfiles].rows = sqlite3_column_int64(st, 1);
		if (!(f[info->nfiles++].path = strdup((const char *)sqlite3_column_text(st, 0)))) {
			error = oom();
			break;
		}
	}
	sqlite3_finalize(st);
	return error;
}

int mvm_runs_info_load(mvm_version_info *info, mvm_db *db, const mvm_oid *id)
{
	sqlite3_stmt *st = NULL;
	int error;

	memset(info, 0, sizeof(*info));
	if ((error = mvm_db_prepare(&st, db, "SELECT kind, run FROM version_info WHERE version = ?")) < 0)
		return error;
	mvm_db_bind_oid(st, 1, id);
	if ((error = mvm_db_step_row(db, st)) > 0) {
		const unsigned char *kind = sqlite3_column_text(st, 0);
		info->run = sqlite3_column_int64(st, 1);
		error = kind && !(info->kind = strdup((const char *)kind)) ? oom() : 0;
	}
	sqlite3_finalize(st);
	if (error < 0)
		return error;
	return load_files(info, db, id);
}

void mvm_version_info_dispose(mvm_version_info *info)
{
	size_t i;

	free(info->kind);
	for (i = 0; i < info->nfiles; i++)
		free(info->files[i].path);
	free(info->files);
	memset(info, 0, sizeof(*info));
}
