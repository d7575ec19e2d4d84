/*
 * cmd_runshow.c: the read side of 'mvm run': show, list and compare, in
 * human and JSON form (shapes in docs/CLI.md).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *kvs_json(const mvm_param *p, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, p[i].key, json_string(p[i].value));
	return o;
}

static json_t *ids_json(const mvm_oid *ids, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, cli_json_oid(&ids[i]));
	return a;
}

static json_t *summary_json(const mvm_run_series *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "last", json_real(s->last));
	json_object_set_new(o, "min", json_real(s->min));
	json_object_set_new(o, "max", json_real(s->max));
	json_object_set_new(o, "points", json_integer((json_int_t)s->n));
	return o;
}

static json_t *series_json(const mvm_run_series *s)
{
	json_t *o = summary_json(s), *steps = json_array(), *values = json_array();
	size_t i;

	for (i = 0; i < s->n; i++) {
		json_array_append_new(steps, json_integer(s->steps[i]));
		json_array_append_new(values, json_real(s->values[i]));
	}
	json_object_set_new(o, "steps", steps);
	json_object_set_new(o, "values", values);
	return o;
}

static json_t *code_json(const mvm_run *r)
{
	json_t *o;

	if (!r->code_commit)
		return json_null();
	o = json_object();
	json_object_set_new(o, "commit", json_string(r->code_commit));
	json_object_set_new(o, "dirty", r->code_dirty < 0 ? json_null() : json_boolean(r->code_dirty));
	return o;
}

/* A run as JSON; `full` adds the command's details, inputs, outputs and whole series. */
json_t *cli_run_json(const mvm_run *r, int full)
{
	json_t *o = json_object(), *metrics = json_object();
	size_t i;

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "status", json_string(mvm_run_status_name(r->status)));
	json_object_set_new(o, "author", json_string(r->author));
	json_object_set_new(o, "started", json_integer(r->started));
	json_object_set_new(o, "ended", r->ended ? json_integer(r->ended) : json_null());
	json_object_set_new(o, "params", kvs_json(r->params, r->nparams));
	json_object_set_new(o, "tags", kvs_json(r->tags, r->ntags));
	for (i = 0; i < r->nmetrics; i++)
		json_object_set_new(metrics, r->metrics[i].key,
				    full ? series_json(&r->metrics[i]) : json_real(r->metrics[i].last));
	json_object_set_new(o, "metrics", metrics);
	if (!full)
		return o;
	json_object_set_new(o, "command", r->argv ? cli_json_strings(r->argv, r->argc) : json_null());
	json_object_set_new(o, "exit_code", r->has_exit ? json_integer(r->exit_code) : json_null());
	json_object_set_new(o, "host", cli_json_str_or_null(r->host));
	json_object_set_new(o, "code", code_json(r));
	json_object_set_new(o, "env", kvs_json(r->env, r->nenv));
	json_object_set_new(o, "inputs", ids_json(r->inputs, r->ninputs));
	json_object_set_new(o, "outputs", ids_json(r->outputs_ids, r->noutput_ids));
	json_object_set_new(o, "output_paths", r->outputs ? cli_json_strings(r->outputs, r->noutputs) : json_array());
	return o;
}

/* ---- show ---- */

static void print_kvs(const char *title, const mvm_param *p, size_t n)
{
	size_t i;

	if (!n)
		return;
	printf("%-8s", title);
	for (i = 0; i < n; i++)
		printf(" %s=%s", p[i].key, p[i].value);
	printf("\n");
}

static void print_command(const mvm_run *r)
{
	size_t i;

	if (!r->argv)
		return;
	printf("Command: ");
	for (i = 0; i < r->argc; i++)
		printf("%s%s", i ? " " : "", r->argv[i]);
	if (r->has_exit)
		printf("   (exit %d)", r->exit_code);
	printf("\n");
	if (r->host)
		printf("Host:    %s\n", r->host);
	if (r->code_commit)
		printf("Code:    git %.12s (%s)\n", r->code_commit,
		       r->code_dirty == 1 ? "uncommitted changes" : r->code_dirty == 0 ? "clean" : "state unknown");
	else
		printf("Code:    not recorded (not inside a git checkout)\n");
}

static void print_ids(const char *title, const mvm_oid *ids, size_t n)
{
	char hex[MVM_OID_HEXSZ + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		mvm_oid_fmt(hex, &ids[i]);
		printf("%-8s %s\n", i ? "" : title, hex);
	}
}

static void print_run(const mvm_run *r)
{
	char t[64];
	size_t i;

	printf("Run %" PRId64 "  %s  (%s)\n", r->id, r->name, mvm_run_status_name(r->status));
	printf("Author:  %s\nStarted: %s\n", r->author, cli_time(t, r->started));
	if (r->ended)
		printf("Ended:   %s (%" PRId64 " s)\n", cli_time(t, r->ended), r->ended - r->started);
	print_command(r);
	print_kvs("Params:", r->params, r->nparams);
	print_kvs("Tags:", r->tags, r->ntags);
	print_kvs("Env:", r->env, r->nenv);
	print_ids("Inputs:", r->inputs, r->ninputs);
	print_ids("Outputs:", r->outputs_ids, r->noutput_ids);
	if (!r->nmetrics)
		return;
	printf("\n%-24s %12s %12s %12s %7s\n", "METRIC", "LAST", "MIN", "MAX", "POINTS");
	for (i = 0; i < r->nmetrics; i++)
		printf("%-24s %12g %12g %12g %7zu\n", r->metrics[i].key, r->metrics[i].last, r->metrics[i].min,
		       r->metrics[i].max, r->metrics[i].n);
}

int cli_run_show(cli_ctx *ctx, int json, const char *id_text)
{
	mvm_run *r = NULL;
	int64_t id;
	int error;

	if ((error = mvm_run_id_parse(&id, id_text)) < 0 || (error = mvm_run_get(&r, ctx->repo, id)) < 0)
		return cli_fail(error);
	if (json)
		cli_json_print(cli_run_json(r, 1));
	else
		print_run(r);
	mvm_run_free(r);
	return EXIT_OK;
}

/* ---- list ---- */

static void print_row(const mvm_run *r)
{
	char t[64];
	size_t i;

	cli_time(t, r->started);
	printf("%5" PRId64 "  %-20s %-8s %.16s ", r->id, r->name, mvm_run_status_name(r->status), t);
	for (i = 0; i < r->nparams; i++)
		printf(" %s=%s", r->params[i].key, r->params[i].value);
	for (i = 0; i < r->nmetrics; i++)
		printf(" %s=%g", r->metrics[i].key, r->metrics[i].last);
	printf("\n");
}

int cli_run_list(cli_ctx *ctx, int json, const char *filter, const char *sort)
{
	mvm_run *runs = NULL;
	size_t n = 0, i;
	int error;

	if ((error = mvm_run_list(&runs, &n, ctx->repo, filter, sort)) < 0)
		return cli_fail(error);
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, cli_run_json(&runs[i], 0));
		cli_json_print(a);
	} else {
		if (n)
			printf("%5s  %-20s %-8s %-16s  PARAMS, METRICS (last)\n", "ID", "NAME", "STATUS", "STARTED");
		for (i = 0; i < n; i++)
			print_row(&runs[i]);
	}
	mvm_run_list_free(runs, n);
	return EXIT_OK;
}

/* ---- compare ---- */

static int param_differs(mvm_run **runs, size_t n, const char *key)
{
	const char *first = mvm_run_param(runs[0], key), *v;
	size_t i;

	for (i = 1; i < n; i++) {
		v = mvm_run_param(runs[i], key);
		if (!v != !first || (v && strcmp(v, first)))
			return 1;
	}
	return 0;
}

static int metric_differs(mvm_run **runs, size_t n, const char *key)
{
	const mvm_run_series *a = mvm_run_series_find(runs[0], key), *b;
	size_t i;

	for (i = 1; i < n; i++) {
		b = mvm_run_series_find(runs[i], key);
		if (!a != !b || (a && (a->last != b->last || a->min != b->min || a->max != b->max)))
			return 1;
	}
	return 0;
}

/* Union of the runs' param (or metric) keys, in the order first seen. */
static json_t *union_keys(mvm_run **runs, size_t n, int metrics)
{
	json_t *keys = json_object();
	size_t i, k;

	for (i = 0; i < n; i++) {
		size_t m = metrics ? runs[i]->nmetrics : runs[i]->nparams;
		for (k = 0; k < m; k++)
			json_object_set_new(keys, metrics ? runs[i]->metrics[k].key : runs[i]->params[k].key, json_true());
	}
	return keys;
}

static json_t *compare_json(mvm_run **runs, size_t n)
{
	json_t *o = json_object(), *ra = json_array(), *params = json_object(), *metrics = json_object();
	json_t *pkeys = union_keys(runs, n, 0), *mkeys = union_keys(runs, n, 1), *v;
	const char *key;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *r = json_object();
		json_object_set_new(r, "id", json_integer(runs[i]->id));
		json_object_set_new(r, "name", json_string(runs[i]->name));
		json_array_append_new(ra, r);
	}
	json_object_foreach(pkeys, key, v) {
		json_t *vals = json_array();
		if (!param_differs(runs, n, key)) {
			json_decref(vals);
			continue;
		}
		for (i = 0; i < n; i++)
			json_array_append_new(vals, cli_json_str_or_null(mvm_run_param(runs[i], key)));
		json_object_set_new(params, key, vals);
	}
	json_object_foreach(mkeys, key, v) {
		json_t *vals = json_array();
		if (!metric_differs(runs, n, key)) {
			json_decref(vals);
			continue;
		}
		for (i = 0; i < n; i++) {
			const mvm_run_series *s = mvm_run_series_find(runs[i], key);
			json_array_append_new(vals, s ? summary_json(s) : json_null());
		}
		json_object_set_new(metrics, key, vals);
	}
	json_decref(pkeys);
	json_decref(mkeys);
	json_object_set_new(o, "runs", ra);
	json_object_set_new(o, "params", params);
	json_object_set_new(o, "metrics", metrics);
	return o;
}

static void print_compare(json_t *c, size_t n)
{
	json_t *runs = json_object_get(c, "runs"), *vals, *v;
	const char *key;
	size_t i;

	printf("%-20s", "");
	for (i = 0; i < n; i++)
		printf(" %-26s", json_string_value(json_object_get(json_array_get(runs, i), "name")));
	printf("\nparams that differ:%s\n", json_object_size(json_object_get(c, "params")) ? "" : " none");
	json_object_foreach(json_object_get(c, "params"), key, vals) {
		printf("  %-18s", key);
		json_array_foreach(vals, i, v)
			printf(" %-26s", json_is_null(v) ? "-" : json_string_value(v));
		printf("\n");
	}
	printf("metrics that differ (last / min / max):%s\n", json_object_size(json_object_get(c, "metrics")) ? "" : " none");
	json_object_foreach(json_object_get(c, "metrics"), key, vals) {
		printf("  %-18s", key);
		json_array_foreach(vals, i, v) {
			char cell[96] = "-";
			if (!json_is_null(v))
				snprintf(cell, sizeof(cell), "%g / %g / %g", json_real_value(json_object_get(v, "last")),
					 json_real_value(json_object_get(v, "min")), json_real_value(json_object_get(v, "max")));
			printf(" %-26s", cell);
		}
		printf("\n");
	}
}

int cli_run_compare(cli_ctx *ctx, int json, char **ids, int n)
{
	mvm_run **runs = calloc((size_t)n + 1, sizeof(*runs));
	int64_t id;
	json_t *c;
	int i, error = 0, status = EXIT_OK;

	if (!runs)
		return cli_fail(mvm_error_set(MVM_ERROR, "out of memory"));
	for (i = 0; i < n && !error; i++)
		if ((error = mvm_run_id_parse(&id, ids[i])) == 0)
			error = mvm_run_get(&runs[i], ctx->repo, id);
	if (error < 0) {
		status = cli_fail(error);
		goto done;
	}
	c = compare_json(runs, (size_t)n);
	if (json)
		cli_json_print(c);
	else {
		print_compare(c, (size_t)n);
		json_decref(c);
	}
done:
	for (i = 0; i < n; i++)
		mvm_run_free(runs[i]);
	free(runs);
	return status;
}
