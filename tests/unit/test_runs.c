/*
 * test_runs.c: the run filter of 'mvm run list' (valid filters, precedence
 * of and/or and parentheses, numbers against text, malformed filters
 * refused with the column of the offending token), metric lines of
 * 'mvm run exec', the SVG plot's structure, and the runs API against a
 * real repository (steps, refusals that write nothing, commit --run,
 * dataset rows, lineage both ways, repro refusals, the audit chain).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm.h"
#include "runs/filter.h"
#include "runs/runs_internal.h"

static mvm_param params_a[] = { { "lr", "0.1" }, { "opt", "adam" } };
static mvm_param params_b[] = { { "lr", "0.01" }, { "opt", "sgd" } };
static mvm_param tags_a[] = { { "team", "nlp" } };
static int64_t steps[] = { 0, 1, 2 };
static double loss_a[] = { 0.9, 0.5, 0.3 };
static double loss_b[] = { 0.8, 0.7, 0.6 };
static mvm_run_series series_a = { "loss", steps, loss_a, 3, 0.3, 0.3, 0.9 };
static mvm_run_series series_b = { "loss", steps, loss_b, 3, 0.6, 0.6, 0.8 };

static mvm_run run_a(void)
{
	mvm_run r;

	memset(&r, 0, sizeof(r));
	r.id = 1;
	r.name = "alpha";
	r.status = MVM_RUN_OK;
	r.params = params_a;
	r.nparams = 2;
	r.tags = tags_a;
	r.ntags = 1;
	r.metrics = &series_a;
	r.nmetrics = 1;
	return r;
}

static mvm_run run_b(void)
{
	mvm_run r = run_a();

	r.id = 2;
	r.name = "beta";
	r.status = MVM_RUN_FAILED;
	r.params = params_b;
	r.ntags = 0;
	r.metrics = &series_b;
	return r;
}

static int matches(const char *text, const mvm_run *r)
{
	mvm_filter *f = NULL;
	size_t col = 0;
	int m;

	if (mvm_filter_parse(&f, &col, text) != 0)
		fail_msg("'%s': %s", text, mvm_error_last());
	m = mvm_filter_match(f, r);
	mvm_filter_free(f);
	return m;
}

/* The filter is refused with MVM_EUSAGE at column `col`; the message names it. */
static void refused(const char *text, size_t want_col, const char *want_msg)
{
	mvm_filter *f = NULL;
	size_t col = 0;
	char at[32];

	assert_int_equal(mvm_filter_parse(&f, &col, text), MVM_EUSAGE);
	assert_null(f);
	if (col != want_col)
		fail_msg("'%s': column %zu, expected %zu (%s)", text, col, want_col, mvm_error_last());
	snprintf(at, sizeof(at), "column %zu", want_col);
	if (!strstr(mvm_error_last(), at) || !strstr(mvm_error_last(), want_msg))
		fail_msg("'%s': message '%s' lacks '%s' or '%s'", text, mvm_error_last(), at, want_msg);
}

static void test_runs__filter_comparisons(void **state)
{
	mvm_run a = run_a(), b = run_b();

	(void)state;
	assert_true(matches("metrics.loss < 0.5", &a));
	assert_false(matches("metrics.loss < 0.5", &b));
	assert_true(matches("metrics.loss>=0.6", &b));
	assert_true(matches("metrics.loss != 0.6", &a));
	assert_true(matches("params.lr = 0.1", &a));        /* numeric: "0.1" = 0.1 */
	assert_true(matches("params.lr == 1e-1", &a));
	assert_true(matches("params.lr < 0.05", &b));
	assert_true(matches("params.opt = 'adam'", &a));
	assert_true(matches("params.opt = \"sgd\"", &b));
	assert_true(matches("params.opt > 'adam'", &b));    /* text order */
	assert_true(matches("tags.team = 'nlp'", &a));
	assert_false(matches("tags.team = 'nlp'", &b));     /* missing: false */
	assert_false(matches("tags.team != 'nlp'", &b));    /* missing: false for != too */
	assert_false(matches("metrics.acc < 10", &a));
	assert_true(matches("status = 'ok'", &a));
	assert_true(matches("status = 'failed'", &b));
	assert_true(matches("name = 'beta'", &b));
	assert_true(matches("id >= 2", &b));
	assert_true(matches("status = 'ok' AND id = 1", &a));
}

static void test_runs__filter_precedence(void **state)
{
	mvm_run a = run_a(), b = run_b();

	(void)state;
	/* and binds tighter: true or (false and false) */
	assert_true(matches("name = 'alpha' or name = 'x' and id = 9", &a));
	/* (true or false) and false */
	assert_false(matches("(name = 'alpha' or name = 'x') and id = 9", &a));
	assert_true(matches("id = 9 or id = 8 or name = 'beta'", &b));
	assert_true(matches("(params.lr < 0.05 and status = 'failed') or metrics.loss < 0.4", &b));
	assert_true(matches("(params.lr < 0.05 and status = 'failed') or metrics.loss < 0.4", &a));
	assert_false(matches("((params.lr < 0.05)) and metrics.loss < 0.4", &b));
	assert_true(matches("metrics.loss < 0.7 AND (tags.team = 'nlp' Or params.opt = 'sgd')", &b));
}

static void test_runs__filter_malformed(void **state)
{
	mvm_run_field f;

	(void)state;
	refused("", 1, "end of the filter");
	refused("metrics.loss <", 15, "expected a number");
	refused("metrics.loss < 'x'", 16, "metrics compare with numbers");
	refused("params.lr = 0.1 and", 20, "expected a field");
	refused("params.lr = 0.1 or or id = 1", 20, "expected a field");
	refused("(params.lr = 0.1", 17, "expected ')' (for the '(' at column 1)");
	refused("params.lr = 0.1)", 16, "found ')'");
	refused("foo.bar = 1", 1, "unknown field");
	refused("params.lr 0.1", 11, "expected a comparison");
	refused("params.lr ~ 0.1", 11, "expected a comparison");
	refused("status = ok", 10, "expected a number or a 'quoted string'");
	refused("name = 'abc", 8, "unterminated string");
	refused("id = 1 id = 2", 8, "expected 'and', 'or'");
	assert_int_equal(mvm_run_field_parse(&f, "metrics.loss", 12), 0);
	assert_int_equal(f.kind, MVM_FIELD_METRIC);
	assert_string_equal(f.key, "loss");
	assert_int_equal(mvm_run_field_parse(&f, "metrics.", 8), MVM_EUSAGE);
	assert_int_equal(mvm_run_field_parse(&f, "status", 6), 0);
	assert_int_equal(f.kind, MVM_FIELD_STATUS);
}

static void test_runs__metric_lines(void **state)
{
	mvm_run_point pts[8];
	char line[128];
	size_t n;

	(void)state;
	strcpy(line, "mvm:metric loss=0.31 step=100 acc=0.9\n");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), 1);
	assert_int_equal(n, 2);
	assert_string_equal(pts[0].key, "loss");
	assert_true(pts[0].value == 0.31);
	assert_int_equal(pts[0].step, 100);
	assert_string_equal(pts[1].key, "acc");
	assert_int_equal(pts[1].step, 100);
	strcpy(line, "mvm:metric loss=1e-3");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), 1);
	assert_int_equal(pts[0].step, -1);
	strcpy(line, "epoch 3 loss=0.2");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), 0);
	strcpy(line, "mvm:metricsloss=1");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), 0);
	strcpy(line, "mvm:metric loss=abc");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), MVM_EUSAGE);
	strcpy(line, "mvm:metric step=4");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), MVM_EUSAGE);
	strcpy(line, "mvm:metric loss=1 step=-1");
	assert_int_equal(mvm_runs_metric_line(pts, 8, &n, line), MVM_EUSAGE);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

static void test_runs__plot(void **state)
{
	mvm_plot_series s[2] = { { "alpha <&>", steps, loss_a, 3 }, { "beta", steps, loss_b, 1 } };
	mvm_buf svg = MVM_BUF_INIT;

	(void)state;
	assert_int_equal(mvm_plot_svg(&svg, "loss", s, 2), 0);
	assert_int_equal(count(svg.ptr, "<path"), 2);
	assert_int_equal(count(svg.ptr, "<svg"), 1);
	assert_int_equal(count(svg.ptr, "</svg>"), 1);
	assert_non_null(strstr(svg.ptr, "alpha &lt;&amp;&gt;"));
	assert_non_null(strstr(svg.ptr, ">beta</text>"));
	assert_true(count(svg.ptr, "class=\"tick\"") >= 6);
	mvm_buf_dispose(&svg);
	assert_int_equal(mvm_plot_svg(&svg, "loss", s, 0), MVM_EUSAGE);
	mvm_buf_dispose(&svg);
}

/* ---- the API against a repository ---- */

#define ok(expr) do { int rc_ = (expr); if (rc_ != 0) fail_msg("%s: %d %s", #expr, rc_, mvm_error_last()); } while (0)

static char dir[] = "/tmp/mvm-runs-XXXXXX";
static mvm_repo *repo;

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void commit_paths(mvm_oid *out, const char *path, const char *kind, int64_t run)
{
	mvm_commit_options o = MVM_COMMIT_OPTIONS_INIT;

	ok(mvm_add(repo, &path, 1, NULL));
	o.message = "m";
	o.kind = kind;
	o.run = run;
	ok(mvm_commit(out, repo, &o));
}

static size_t audit_entries(void)
{
	mvm_audit_entry *e = NULL;
	size_t n = 0;

	ok(mvm_audit_list(&e, &n, repo, NULL));
	mvm_audit_free(e, n);
	return n;
}

static int setup_repo(void **state)
{
	(void)state;
	setenv("MVM_USER", "Ada <ada@example.com>", 1);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	return mvm_repo_init(&repo, ".");
}

static int teardown_repo(void **state)
{
	char cmd[64];

	(void)state;
	mvm_repo_free(repo);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_runs__api(void **state)
{
	const char *params[] = { "lr=0.1" }, *tags[] = { "team=nlp" }, *inputs[] = { "HEAD" };
	const char *loss[] = { "loss=0.5" }, *bad[] = { "loss=1", "bad key=2" }, *more[] = { "batch=32" };
	mvm_run_start_options so = MVM_RUN_START_OPTIONS_INIT;
	const mvm_run_series *s;
	mvm_version_info info;
	mvm_lineage *l = NULL;
	mvm_run *r = NULL, *list = NULL;
	mvm_version *v = NULL;
	mvm_oid data, model;
	size_t n, before;
	uint64_t entries;
	int64_t id;

	(void)state;
	write_file("train.jsonl", "{\"x\": 1}\n{\"x\": 2}\n{\"x\": 3}");
	commit_paths(&data, "train.jsonl", "dataset", 0);
	so.name = "first";
	so.params = params;
	so.nparams = 1;
	so.tags = tags;
	so.ntags = 1;
	so.inputs = inputs;
	so.ninputs = 1;
	ok(mvm_run_start(&id, repo, &so));
	assert_int_equal(id, 1);
	ok(mvm_run_log(repo, id, loss, 1, -1));          /* step 0 */
	ok(mvm_run_log(repo, id, loss, 1, -1));          /* step 1 */
	loss[0] = "loss=0.25";
	ok(mvm_run_log(repo, id, loss, 1, 1));           /* replaces step 1 */
	ok(mvm_run_log(repo, id, loss, 1, 10));
	loss[0] = "loss=0.2";
	ok(mvm_run_log(repo, id, loss, 1, -1));          /* step 11 */
	ok(mvm_run_param_set(repo, id, more, 1));
	before = audit_entries();
	assert_int_equal(mvm_run_log(repo, id, bad, 2, -1), MVM_EUSAGE);
	assert_int_equal(mvm_run_log(repo, 7, loss, 1, -1), MVM_ENOTFOUND);
	assert_int_equal(audit_entries(), before);

	ok(mvm_run_get(&r, repo, id));
	assert_non_null(s = mvm_run_series_find(r, "loss"));
	assert_int_equal(s->n, 4);
	assert_int_equal(s->steps[1], 1);
	assert_true(s->values[1] == 0.25);
	assert_int_equal(s->steps[3], 11);
	assert_true(s->last == 0.2 && s->min == 0.2 && s->max == 0.5);
	assert_int_equal(r->ninputs, 1);
	assert_int_equal(mvm_oid_cmp(&r->inputs[0], &data), 0);
	assert_string_equal(mvm_run_param(r, "batch"), "32");
	mvm_run_free(r);

	write_file("model.bin", "weights");
	commit_paths(&model, "model.bin", NULL, id);
	ok(mvm_version_lookup(&v, repo, &model));
	assert_int_equal(v->nparams, 2);
	assert_string_equal(v->params[1].key, "lr");
	assert_int_equal(v->nmetrics, 1);
	assert_true(v->metrics[0].value == 0.2);
	mvm_version_free(v);
	ok(mvm_version_info_get(&info, repo, &data));
	assert_string_equal(info.kind, "dataset");
	assert_int_equal(info.nfiles, 1);
	assert_int_equal(info.files[0].rows, 3);
	mvm_version_info_dispose(&info);

	ok(mvm_run_end(repo, id, MVM_RUN_FAILED));
	assert_int_equal(mvm_run_end(repo, id, MVM_RUN_OK), MVM_ECONFLICT);
	assert_int_equal(mvm_run_log(repo, id, loss, 1, -1), MVM_ECONFLICT);
	ok(mvm_run_list(&list, &n, repo, "status = 'failed' and (metrics.loss < 0.3 or tags.team = 'x')", "-id"));
	assert_int_equal(n, 1);
	mvm_run_list_free(list, n);
	assert_int_equal(mvm_run_list(&list, &n, repo, "status = ", NULL), MVM_EUSAGE);

	ok(mvm_lineage_get(&l, repo, &model, 0, 0));
	assert_int_equal(l->nnodes, 3);
	assert_int_equal(l->nodes[1].kind, MVM_LINEAGE_RUN);
	assert_int_equal(mvm_oid_cmp(&l->nodes[2].version, &data), 0);
	assert_int_equal(l->nedges, 2);
	mvm_lineage_free(l);
	ok(mvm_lineage_get(&l, repo, &data, 1, 0));
	assert_int_equal(l->nnodes, 3);
	assert_int_equal(mvm_oid_cmp(&l->nodes[2].version, &model), 0);
	mvm_lineage_free(l);

	assert_int_equal(mvm_repro_get(&r, repo, &data), MVM_ENOTFOUND);
	assert_int_equal(mvm_repro_get(&r, repo, &model), MVM_ECONFLICT);   /* no command */
	assert_non_null(strstr(mvm_error_last(), "has no command"));
	ok(mvm_audit_verify(&entries, repo));
	assert_true(entries > before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs__filter_comparisons),
		cmocka_unit_test(test_runs__filter_precedence),
		cmocka_unit_test(test_runs__filter_malformed),
		cmocka_unit_test(test_runs__metric_lines),
		cmocka_unit_test(test_runs__plot),
		cmocka_unit_test_setup_teardown(test_runs__api, setup_repo, teardown_repo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
