/*
 * runread.c: loading runs (one read transaction per call, so a run is seen
 * as of one moment), listing them through a filter and a sort key.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_internal.h"
#include "util/array.h"
#include "filter.h"
#include "runs_internal.h"

static int oom(void)
{
	return mvm_error_set(MVM_ERROR, "out of memory");
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? strdup((const char *)s) : NULL;
}

/* A JSON array of strings (as stored in runs.command/outputs) into a NULL-terminated list. */
static int strings_from_json(char ***out, size_t *n, const char *text)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL, *v;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!text)
		return 0;
	if (!json_is_array(a) || !(*out = calloc(json_array_size(a) + 1, sizeof(char *)))) {
		json_decref(a);
		return mvm_error_set(MVM_ECORRUPT, "a run's command or outputs are malformed");
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !((*out)[i] = strdup(json_string_value(v)))) {
			json_decref(a);
			return mvm_error_set(MVM_ECORRUPT, "a run's command or outputs are malformed");
		}
		(*n)++;
	}
	json_decref(a);
	return 0;
}

#define RUN_COLUMNS "id, name, status, author, started, ended, command, outputs, exit_code, host, code_commit, code_dirty"

static int load_row(mvm_run *r, sqlite3_stmt *st)
{
	const char *status = (const char *)sqlite3_column_text(st, 2);
	int error;

	r->id = sqlite3_column_int64(st, 0);
	r->status = !strcmp(status, "ok") ? MVM_RUN_OK : !strcmp(status, "failed") ? MVM_RUN_FAILED : MVM_RUN_RUNNING;
	r->started = sqlite3_column_int64(st, 4);
	r->ended = sqlite3_column_int64(st, 5);
	r->has_exit = sqlite3_column_type(st, 8) != SQLITE_NULL;
	r->exit_code = sqlite3_column_int(st, 8);
	r->host = col_dup(st, 9);
	r->code_commit = col_dup(st, 10);
	r->code_dirty = sqlite3_column_type(st, 11) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 11);
	if (!(r->name = col_dup(st, 1)) || !(r->author = col_dup(st, 3)))
		return oom();
	if ((error = strings_from_json(&r->argv, &r->argc, (const char *)sqlite3_column_text(st, 6))) < 0)
		return error;
	return strings_from_json(&r->outputs, &r->noutputs, (const char *)sqlite3_column_text(st, 7));
}

static int add_kv(mvm_param **list, size_t *n, size_t *cap, sqlite3_stmt *st)
{
	mvm_param *p;
	int error;

	if ((error = mvm_array_grow(list, cap, *n, sizeof(**list), 8)) < 0)
		return error;
	p = &(*list)[(*n)++];
	p->key = col_dup(st, 1);
	p->value = col_dup(st, 2);
	return p->key && p->value ? 0 : oom();
}

static int query(sqlite3_stmt **st, mvm_db *db, const char *sql, int64_t id)
{
	int error;

	if ((error = mvm_db_prepare(st, db, sql)) == 0)
		sqlite3_bind_int64(*st, 1, id);
	return error;
}

static int load_kvs(mvm_run *r, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	size_t cp = 0, ct = 0, ce = 0;
	int error;

	if ((error = query(&st, db, "SELECT kind, key, value FROM run_params WHERE run = ? ORDER BY kind, key", r->id)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		if (!strcmp(kind, "param"))
			error = add_kv(&r->params, &r->nparams, &cp, st);
		else if (!strcmp(kind, "tag"))
			error = add_kv(&r->tags, &r->ntags, &ct, st);
		else
			error = add_kv(&r->env, &r->nenv, &ce, st);
		if (error < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

static int load_ids(mvm_oid **out, size_t *n, mvm_db *db, const char *sql, int64_t id)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, sql, id)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		if ((error = mvm_array_grow(out, &cap, *n, sizeof(**out), 8)) < 0 ||
		    (error = mvm_db_column_oid(&(*out)[*n], st, 0)) < 0)
			break;
		(*n)++;
	}
	sqlite3_finalize(st);
	return error;
}

static int series_add(mvm_run_series *s, int64_t step, double value)
{
	int64_t *steps = realloc(s->steps, (s->n + 1) * sizeof(*steps));
	double *values = steps ? realloc(s->values, (s->n + 1) * sizeof(*values)) : NULL;

	if (steps)
		s->steps = steps;
	if (!values)
		return oom();
	s->values = values;
	s->steps[s->n] = step;
	s->values[s->n++] = value;
	s->last = value;
	if (s->n == 1 || value < s->min)
		s->min = value;
	if (s->n == 1 || value > s->max)
		s->max = value;
	return 0;
}

static int load_metrics(mvm_run *r, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int error;

	if ((error = query(&st, db, "SELECT key, step, value FROM run_metrics WHERE run = ? ORDER BY key, step", r->id)) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		if (!r->nmetrics || strcmp(r->metrics[r->nmetrics - 1].key, key)) {
			mvm_run_series *m;
			if ((error = mvm_array_grow(&r->metrics, &cap, r->nmetrics, sizeof(*m), 8)) < 0)
				break;
			m = &r->metrics[r->nmetrics++];
			memset(m, 0, sizeof(*m));
			if (!(m->key = strdup(key))) {
				error = oom();
				break;
			}
		}
		if ((error = series_add(&r->metrics[r->nmetrics - 1], sqlite3_column_int64(st, 1),
					sqlite3_column_double(st, 2))) < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

int mvm_runs_load(mvm_run *r, mvm_db *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int error;

	memset(r, 0, sizeof(*r));
	if ((error = query(&st, db, "SELECT " RUN_COLUMNS " FROM runs WHERE id = ?", id)) < 0)
		return error;
	if ((error = mvm_db_step_row(db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "no run %" PRId64 " (see 'mvm run list')", id);
	else if (error > 0)
		error = load_row(r, st);
	sqlite3_finalize(st);
	if (error < 0 || (error = load_kvs(r, db)) < 0 || (error = load_metrics(r, db)) < 0 ||
	    (error = load_ids(&r->inputs, &r->ninputs, db, "SELECT version FROM run_inputs WHERE run = ? ORDER BY n",
			      id)) < 0)
		return error;
	return load_ids(&r->outputs_ids, &r->noutput_ids, db,
			"SELECT version FROM version_info WHERE run = ? ORDER BY version", id);
}

static void free_strings(char **l, size_t n)
{
	size_t i;

	for (i = 0; l && i < n; i++)
		free(l[i]);
	free(l);
}

static void free_kvs(mvm_param *l, size_t n)
{
	size_t i;

	for (i = 0; l && i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

void mvm_runs_dispose(mvm_run *r)
{
	size_t i;

	free(r->name);
	free(r->author);
	free(r->host);
	free(r->code_commit);
	free_strings(r->argv, r->argc);
	free_strings(r->outputs, r->noutputs);
	free_kvs(r->params, r->nparams);
	free_kvs(r->tags, r->ntags);
	free_kvs(r->env, r->nenv);
	free(r->inputs);
	free(r->outputs_ids);
	for (i = 0; i < r->nmetrics; i++) {
		free(r->metrics[i].key);
		free(r->metrics[i].steps);
		free(r->metrics[i].values);
	}
	free(r->metrics);
	memset(r, 0, sizeof(*r));
}

int mvm_run_get(mvm_run **out, mvm_repo *repo, int64_t id)
{
	mvm_run *r = calloc(1, sizeof(*r));
	int error;

	*out = NULL;
	if (!r)
		return oom();
	if ((error = mvm_db_exec(repo->db, "BEGIN")) == 0) {
		error = mvm_runs_load(r, repo->db, id);
		mvm_db_rollback(repo->db);
	}
	if (error < 0) {
		mvm_run_free(r);
		return error;
	}
	*out = r;
	return 0;
}

void mvm_run_free(mvm_run *r)
{
	if (!r)
		return;
	mvm_runs_dispose(r);
	free(r);
}

const mvm_run_series *mvm_run_series_find(const mvm_run *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->nmetrics; i++)
		if (!strcmp(r->metrics[i].key, key))
			return &r->metrics[i];
	return NULL;
}

const char *mvm_run_param(const mvm_run *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->nparams; i++)
		if (!strcmp(r->params[i].key, key))
			return r->params[i].value;
	return NULL;
}

/* ---- list ---- */

typedef struct {
	int kind;        /* 0 absent, 1 number, 2 text */
	double num;
	const char *str;
	int desc;
	size_t idx;
} sort_key;

static int sort_cmp(const void *pa, const void *pb)
{
	const sort_key *a = pa, *b = pb;
	int c;

	if (!a->kind || !b->kind)  /* absent last, whatever the direction */
		c = !a->kind - !b->kind;
	else if (a->kind != b->kind)
		c = a->kind - b->kind;
	else if (a->kind == 1)
		c = (a->num > b->num) - (a->num < b->num);
	else
		c = strcmp(a->str, b->str);
	if (c && a->kind && b->kind && a->desc)
		c = -c;
	return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int sort_runs(mvm_run *runs, size_t n, const char *sort)
{
	int desc = sort[0] == '-';
	mvm_run_field f;
	sort_key *keys;
	mvm_run *copy;
	size_t i;
	int error;

	if ((error = mvm_run_field_parse(&f, sort + desc, strlen(sort + desc))) < 0)
		return mvm_error_wrap(error, "--sort %s", sort);
	keys = calloc(n + 1, sizeof(*keys));
	copy = calloc(n + 1, sizeof(*copy));
	if (!keys || !copy) {
		free(keys);
		free(copy);
		return oom();
	}
	for (i = 0; i < n; i++) {
		keys[i].kind = mvm_run_field_value(&keys[i].num, &keys[i].str, &runs[i], &f);
		if (keys[i].kind == 2 && mvm_run_text_number(&keys[i].num, keys[i].str))
			keys[i].kind = 1;  /* params like lr=0.01 sort as numbers */
		keys[i].desc = desc;
		keys[i].idx = i;
	}
	qsort(keys, n, sizeof(*keys), sort_cmp);
	for (i = 0; i < n; i++)
		copy[i] = runs[keys[i].idx];
	memcpy(runs, copy, n * sizeof(*runs));
	free(keys);
	free(copy);
	return 0;
}

static int list_in_snapshot(mvm_run **out, size_t *count, mvm_db *db, const mvm_filter *f)
{
	sqlite3_stmt *st = NULL;
	mvm_run *list = NULL;
	size_t n = 0, cap = 0;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT id FROM runs ORDER BY id")) < 0)
		return error;
	while ((error = mvm_db_step_row(db, st)) > 0) {
		if ((error = mvm_array_grow(&list, &cap, n, sizeof(*list), 8)) < 0)
			break;
		if ((error = mvm_runs_load(&list[n], db, sqlite3_column_int64(st, 0))) < 0) {
			mvm_runs_dispose(&list[n]);
			break;
		}
		if (f && !mvm_filter_match(f, &list[n]))
			mvm_runs_dispose(&list[n]);
		else
			n++;
	}
	sqlite3_finalize(st);
	*out = list;
	*count = n;
	return error;
}

int mvm_run_list(mvm_run **out, size_t *count, mvm_repo *repo, const char *filter, const char *sort)
{
	mvm_filter *f = NULL;
	mvm_run_field field;
	int error;

	*out = NULL;
	*count = 0;
	if (filter && (error = mvm_filter_parse(&f, NULL, filter)) < 0)
		return error;
	if (sort && (error = mvm_run_field_parse(&field, sort + (sort[0] == '-'), strlen(sort + (sort[0] == '-')))) < 0) {
		mvm_filter_free(f);
		return mvm_error_wrap(error, "--sort %s", sort);
	}
	if ((error = mvm_db_exec(repo->db, "BEGIN")) == 0) {
		error = list_in_snapshot(out, count, repo->db, f);
		mvm_db_rollback(repo->db);
	}
	mvm_filter_free(f);
	if (!error && sort)
		error = sort_runs(*out, *count, sort);
	if (error < 0) {
		mvm_run_list_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return error;
}

void mvm_run_list_free(mvm_run *runs, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		mvm_runs_dispose(&runs[i]);
	free(runs);
}
