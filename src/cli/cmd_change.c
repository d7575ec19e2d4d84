/*
 * cmd_change.c: mvm change SUBCOMMAND: change requests that move a model's
 * alias (or deploy it to an environment) behind gates and approvals.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { O_TO = 1, O_DEPLOY = 2, O_STRATEGY = 4, O_WEIGHT = 8, O_ROLLBACK = 16, O_REASON = 32, O_FORCE = 64,
       O_MODEL = 128, O_OPEN = 256, O_JSON = 512 };

#define MAX_RULES 16

typedef struct {
	unsigned seen;
	mvm_change_options co;
	const char *rules[MAX_RULES];
	const char *model;
} change_opts;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, change_opts *o, int argc, char **argv);
	unsigned allowed;
	int min_args, max_args;
	const char *usage;
} change_sub;

static const cli_command *change_cmd(void)
{
	return cli_find("change");
}

static int parse_id(int64_t *id, const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v <= 0)
		return cli_usage(change_cmd(), "'%s' is not a change number", s);
	*id = v;
	return 0;
}

/* ---- open, approve, reject, apply ---- */

static int sub_open(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	(void)argc;
	if ((error = mvm_change_open(&id, ctx->repo, argv[0], argv[1], &o->co)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "id", json_integer(id));
		cli_json_print(j);
	} else {
		printf("Opened change %lld: %s version %s -> %s %s\n", (long long)id, argv[0], argv[1],
		       o->co.deploy_env ? "environment" : "alias", o->co.deploy_env ? o->co.deploy_env : o->co.to_alias);
	}
	return EXIT_OK;
}

static int sub_approve(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	(void)o;
	(void)argc;
	if ((error = parse_id(&id, argv[0])) != 0)
		return error;
	if ((error = mvm_change_approve(ctx->repo, id)) < 0)
		return cli_fail(error);
	printf("Approved change %lld\n", (long long)id);
	return EXIT_OK;
}

static int sub_reject(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	(void)argc;
	if ((error = parse_id(&id, argv[0])) != 0)
		return error;
	if ((error = mvm_change_reject(ctx->repo, id, o->co.reason)) < 0)
		return cli_fail(error);
	printf("Rejected change %lld\n", (long long)id);
	return EXIT_OK;
}

static int sub_apply(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	(void)argc;
	if ((error = parse_id(&id, argv[0])) != 0)
		return error;
	if ((error = mvm_change_apply(ctx->repo, id, !!(o->seen & O_FORCE))) < 0)
		return cli_fail(error);
	printf("Applied change %lld%s\n", (long long)id, (o->seen & O_FORCE) ? " (forced)" : "");
	return EXIT_OK;
}

/* ---- show and list ---- */

static const char *gate_status(mvm_gate_status s)
{
	return s == MVM_GATE_PASS ? "pass" : s == MVM_GATE_FAIL ? "fail" : "not_run";
}

static json_t *change_json(const mvm_change *c)
{
	json_t *o = json_object(), *t = json_object(), *rules = json_array(), *apps = json_array(), *cur;
	size_t i;

	json_object_set_new(t, "kind", json_string(c->is_deploy ? "environment" : "alias"));
	json_object_set_new(t, "name", json_string(c->target));
	for (i = 0; i < c->nrollback_if; i++)
		json_array_append_new(rules, json_string(c->rollback_if[i]));
	for (i = 0; i < c->napprovals; i++) {
		json_t *a = json_object();
		json_object_set_new(a, "approver", json_string(c->approvals[i].approver));
		json_object_set_new(a, "time", json_integer(c->approvals[i].time));
		json_array_append_new(apps, a);
	}
	json_object_set_new(o, "id", json_integer(c->id));
	json_object_set_new(o, "model", json_string(c->model));
	json_object_set_new(o, "version", json_integer(c->number));
	json_object_set_new(o, "version_id", cli_json_oid(&c->version_id));
	json_object_set_new(o, "target", t);
	json_object_set_new(o, "strategy", cli_json_str_or_null(c->strategy));
	json_object_set_new(o, "weight", c->weight >= 0 ? json_integer(c->weight) : json_null());
	json_object_set_new(o, "rollback_if", rules);
	json_object_set_new(o, "reason", cli_json_str_or_null(c->reason));
	json_object_set_new(o, "author", json_string(c->author));
	json_object_set_new(o, "time", json_integer(c->time));
	json_object_set_new(o, "state", json_string(mvm_change_state_name(c->state)));
	json_object_set_new(o, "closed_by", cli_json_str_or_null(c->closed_by));
	json_object_set_new(o, "closed_time", c->closed_by ? json_integer(c->closed_time) : json_null());
	json_object_set_new(o, "close_reason", cli_json_str_or_null(c->close_reason));
	json_object_set_new(o, "forced", json_boolean(c->forced));
	json_object_set_new(o, "approvals", apps);
	json_object_set_new(o, "approvals_required", json_integer(c->approvals_required));
	cur = json_null();
	if (c->has_current) {
		cur = json_object();
		json_object_set_new(cur, "version", json_integer(c->current_number));
		json_object_set_new(cur, "id", cli_json_oid(&c->current_id));
	}
	json_object_set_new(o, "current", cur);
	return o;
}

static json_t *gates_json(const mvm_gate_result *g, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_string(g[i].rule));
		json_object_set_new(o, "kind", json_string(g[i].is_exec ? "exec" : "metric"));
		json_object_set_new(o, "status", json_string(gate_status(g[i].status)));
		json_object_set_new(o, "detail", json_string(g[i].detail));
		json_array_append_new(a, o);
	}
	return a;
}

static const mvm_metric *find_metric(const mvm_model_version *v, const char *key)
{
	size_t i;

	for (i = 0; v && i < v->nmetrics; i++)
		if (!strcmp(v->metrics[i].key, key))
			return &v->metrics[i];
	return NULL;
}

static void add_metric(json_t *o, const char *key, const mvm_model_version *cur, const mvm_model_version *cand)
{
	const mvm_metric *a = find_metric(cur, key), *b = find_metric(cand, key);
	json_t *m;

	if (json_object_get(o, key))
		return;
	m = json_object();
	json_object_set_new(m, "current", a ? json_real(a->value) : json_null());
	json_object_set_new(m, "candidate", b ? json_real(b->value) : json_null());
	json_object_set_new(m, "delta", a && b ? json_real(b->value - a->value) : json_null());
	json_object_set_new(o, key, m);
}

/* {"key": {"current", "candidate", "delta"}} over both versions' metrics */
static int metrics_json(json_t **out, cli_ctx *ctx, const mvm_change *c)
{
	const mvm_model_version *cur, *cand;
	mvm_model *m = NULL;
	size_t i;
	int error;

	if ((error = mvm_model_get(&m, ctx->repo, c->model)) < 0)
		return error;
	cand = mvm_model_version_find(m, c->number);
	cur = c->has_current ? mvm_model_version_find(m, c->current_number) : NULL;
	*out = json_object();
	for (i = 0; cand && i < cand->nmetrics; i++)
		add_metric(*out, cand->metrics[i].key, cur, cand);
	for (i = 0; cur && i < cur->nmetrics; i++)
		add_metric(*out, cur->metrics[i].key, cur, cand);
	mvm_model_free(m);
	return 0;
}

/* Tensor-level summary of what changes from the current holder to the candidate. */
static int diff_json(json_t **out, cli_ctx *ctx, const mvm_change *c)
{
	mvm_diff_options o = MVM_DIFF_OPTIONS_INIT;
	const char *paths[1];
	json_t *files;
	mvm_diff *d = NULL;
	size_t i, k, tensors = 0;
	int error;

	*out = json_null();
	if (!c->has_current)
		return 0;
	if (c->candidate_path) {
		paths[0] = c->candidate_path;
		o.paths = paths;
		o.npaths = 1;
	}
	if ((error = mvm_diff_versions(&d, ctx->repo, &c->current_id, &c->version_id, &o)) < 0)
		return error;
	files = json_array();
	for (i = 0; i < d->nfiles; i++) {
		json_t *f = json_object(), *counts = json_object();
		for (k = 0; k < d->files[i].ntensors; k++) {
			const char *s = mvm_diff_status_name(d->files[i].tensors[k].status);
			json_object_set_new(counts, s, json_integer(json_integer_value(json_object_get(counts, s)) + 1));
		}
		tensors += d->files[i].ntensors;
		json_object_set_new(f, "path", json_string(d->files[i].path));
		json_object_set_new(f, "status", json_string(mvm_diff_status_name(d->files[i].status)));
		json_object_set_new(f, "tensors", counts);
		json_array_append_new(files, f);
	}
	*out = json_object();
	json_object_set_new(*out, "files_changed", json_integer((json_int_t)d->nfiles));
	json_object_set_new(*out, "tensors_changed", json_integer((json_int_t)tensors));
	json_object_set_new(*out, "files", files);
	mvm_diff_free(d);
	return 0;
}

static int gates_ready(const mvm_gate_result *g, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (g[i].status == MVM_GATE_FAIL)
			return 0;
	return 1;
}

static void print_gates(const mvm_gate_result *g, size_t n)
{
	size_t i;

	printf("Gates:%s\n", n ? "" : " none");
	for (i = 0; i < n; i++)
		printf("  %-7s %s%-28s %s\n", g[i].status == MVM_GATE_PASS ? "pass" : g[i].status == MVM_GATE_FAIL ? "FAIL" : "pending",
		       g[i].is_exec ? "exec: " : "", g[i].rule, g[i].detail);
}

static void print_metrics(json_t *metrics)
{
	const char *key;
	json_t *m;

	if (!json_object_size(metrics))
		return;
	printf("Metrics (current -> candidate):\n");
	json_object_foreach(metrics, key, m) {
		json_t *a = json_object_get(m, "current"), *b = json_object_get(m, "candidate");
		printf("  %-20s ", key);
		json_is_null(a) ? printf("-") : printf("%g", json_real_value(a));
		printf(" -> ");
		json_is_null(b) ? printf("-") : printf("%g", json_real_value(b));
		if (!json_is_null(json_object_get(m, "delta")))
			printf("  (%+g)", json_real_value(json_object_get(m, "delta")));
		printf("\n");
	}
}

static void print_diff(json_t *diff)
{
	json_t *f;
	size_t i;

	if (json_is_null(diff))
		return;
	printf("Changes from the current version: %lld file%s, %lld tensor%s\n",
	       (long long)json_integer_value(json_object_get(diff, "files_changed")),
	       json_integer_value(json_object_get(diff, "files_changed")) == 1 ? "" : "s",
	       (long long)json_integer_value(json_object_get(diff, "tensors_changed")),
	       json_integer_value(json_object_get(diff, "tensors_changed")) == 1 ? "" : "s");
	json_array_foreach(json_object_get(diff, "files"), i, f) {
		const char *s;
		json_t *n;
		printf("  %-9s %s", json_string_value(json_object_get(f, "status")), json_string_value(json_object_get(f, "path")));
		json_object_foreach(json_object_get(f, "tensors"), s, n)
			printf("  %lld %s", (long long)json_integer_value(n), s);
		printf("\n");
	}
}

static void print_change(const mvm_change *c)
{
	char t[64];
	size_t i;

	printf("Change %lld: %s version %lld -> %s %s  [%s%s]\n", (long long)c->id, c->model, (long long)c->number,
	       c->is_deploy ? "environment" : "alias", c->target, mvm_change_state_name(c->state), c->forced ? ", forced" : "");
	printf("Opened by %s at %s%s%s\n", c->author, cli_time(t, c->time), c->reason ? ": " : "", c->reason ? c->reason : "");
	if (c->is_deploy) {
		printf("Rollout: %s", c->strategy);
		if (c->weight >= 0)
			printf(" %d%%", c->weight);
		for (i = 0; i < c->nrollback_if; i++)
			printf("%s%s", i ? ", " : "; roll back if ", c->rollback_if[i]);
		printf("\n");
	}
	if (c->closed_by)
		printf("%s by %s at %s%s%s\n", c->state == MVM_CHANGE_APPLIED ? "Applied" : "Rejected", c->closed_by,
		       cli_time(t, c->closed_time), c->close_reason ? ": " : "", c->close_reason ? c->close_reason : "");
	printf("Approvals: %zu of %d", c->napprovals, c->approvals_required);
	for (i = 0; i < c->napprovals; i++)
		printf("%s%s", i ? ", " : " (", c->approvals[i].approver);
	printf("%s\n", c->napprovals ? ")" : "");
	if (c->has_current)
		printf("Current: version %lld\n", (long long)c->current_number);
	else
		printf("Current: none (the target holds no version yet)\n");
}

static int sub_show(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	json_t *metrics = NULL, *diff = NULL;
	mvm_gate_result *g = NULL;
	mvm_change *c = NULL;
	size_t n = 0;
	int64_t id;
	int error;

	(void)argc;
	if ((error = parse_id(&id, argv[0])) != 0)
		return error;
	if ((error = mvm_change_get(&c, ctx->repo, id)) < 0 || (error = mvm_change_gates(&g, &n, ctx->repo, id, 0)) < 0 ||
	    (error = metrics_json(&metrics, ctx, c)) < 0 || (error = diff_json(&diff, ctx, c)) < 0)
		goto done;
	if (o->seen & O_JSON) {
		json_t *j = change_json(c);
		json_object_set_new(j, "gates", gates_json(g, n));
		json_object_set_new(j, "ready", json_boolean(c->state == MVM_CHANGE_OPEN && gates_ready(g, n) &&
							     (int)c->napprovals >= c->approvals_required));
		json_object_set(j, "metrics", metrics);
		json_object_set(j, "diff", diff);
		cli_json_print(j);
	} else {
		print_change(c);
		print_gates(g, n);
		print_metrics(metrics);
		print_diff(diff);
	}
done:
	json_decref(metrics);
	json_decref(diff);
	mvm_gate_results_free(g, n);
	mvm_change_free(c);
	return error < 0 ? cli_fail(error) : EXIT_OK;
}

static int sub_list(cli_ctx *ctx, change_opts *o, int argc, char **argv)
{
	mvm_change *list = NULL;
	size_t n = 0, i;
	int error;

	(void)argc;
	(void)argv;
	if ((error = mvm_change_list(&list, &n, ctx->repo, o->model, !!(o->seen & O_OPEN))) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, change_json(&list[i]));
		cli_json_print(a);
	} else {
		for (i = 0; i < n; i++)
			printf("%-5lld %-9s %s@%lld -> %s %s  (%zu/%d approvals) by %s\n", (long long)list[i].id,
			       mvm_change_state_name(list[i].state), list[i].model, (long long)list[i].number,
			       list[i].is_deploy ? "env" : "alias", list[i].target, list[i].napprovals,
			       list[i].approvals_required, list[i].author);
	}
	mvm_change_list_free(list, n);
	return EXIT_OK;
}

static const change_sub subs[] = {
	{ "open", sub_open, O_TO | O_DEPLOY | O_STRATEGY | O_WEIGHT | O_ROLLBACK | O_REASON | O_JSON, 2, 2,
	  "mvm change open NAME VER (--to ALIAS | --deploy ENV [--strategy S] [--weight PCT] [--rollback-if RULE])"
	  " [--reason TEXT] [--json]" },
	{ "list", sub_list, O_MODEL | O_OPEN | O_JSON, 0, 0, "mvm change list [--model NAME] [--open] [--json]" },
	{ "show", sub_show, O_JSON, 1, 1, "mvm change show ID [--json]" },
	{ "approve", sub_approve, 0, 1, 1, "mvm change approve ID" },
	{ "reject", sub_reject, O_REASON, 1, 1, "mvm change reject ID --reason TEXT" },
	{ "apply", sub_apply, O_FORCE, 1, 1, "mvm change apply ID [--force]" },
	{ NULL, NULL, 0, 0, 0, NULL },
};

static int change_opt(int c, const char *arg, void *payload)
{
	change_opts *o = payload;

	switch (c) {
	case 't': o->co.to_alias = arg; o->seen |= O_TO; return 0;
	case 'e': o->co.deploy_env = arg; o->seen |= O_DEPLOY; return 0;
	case 's': o->co.strategy = arg; o->seen |= O_STRATEGY; return 0;
	case 'w': o->seen |= O_WEIGHT; return cli_parse_int(&o->co.weight, arg, "--weight", 0, 100);
	case 'r': o->co.reason = arg; o->seen |= O_REASON; return 0;
	case 'f': o->seen |= O_FORCE; return 0;
	case 'm': o->model = arg; o->seen |= O_MODEL; return 0;
	case 'o': o->seen |= O_OPEN; return 0;
	case 'R':
		if (o->co.nrollback_if == MAX_RULES) {
			fprintf(stderr, "mvm: error: at most %d --rollback-if rules\n", MAX_RULES);
			return -1;
		}
		o->rules[o->co.nrollback_if++] = arg;
		o->seen |= O_ROLLBACK;
		return 0;
	default: return -1;
	}
}

int cmd_change(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' }, { "deploy", required_argument, NULL, 'e' },
		{ "strategy", required_argument, NULL, 's' }, { "weight", required_argument, NULL, 'w' },
		{ "rollback-if", required_argument, NULL, 'R' }, { "reason", required_argument, NULL, 'r' },
		{ "force", no_argument, NULL, 'f' }, { "model", required_argument, NULL, 'm' },
		{ "open", no_argument, NULL, 'o' }, { NULL, 0, NULL, 0 } };
	static const char *const names[] = { "--to", "--deploy", "--strategy", "--weight", "--rollback-if", "--reason",
					     "--force", "--model", "--open", "--json", NULL };
	const cli_command *cmd = change_cmd();
	mvm_change_options init = MVM_CHANGE_OPTIONS_INIT;
	const change_sub *s;
	change_opts o;
	cli_common common;
	char what[64];
	int first, status, n;

	memset(&o, 0, sizeof(o));
	o.co = init;
	o.co.rollback_if = o.rules;
	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", change_opt, &o, &status)) < 0)
		return status;
	if (common.json)
		o.seen |= O_JSON;
	if (first == argc)
		return cli_usage(cmd, "give a subcommand (open, list, show, approve, reject, apply)");
	for (s = subs; s->name && strcmp(s->name, argv[first]); s++)
		;
	if (!s->name)
		return cli_usage(cmd, "unknown change subcommand '%s'", argv[first]);
	snprintf(what, sizeof(what), "change %s", s->name);
	n = argc - first - 1;
	if ((status = cli_sub_check(cmd, what, &(cli_sub_rules){ names, s->allowed, 0, s->min_args, s->max_args,
								 s->usage }, o.seen, n)) != 0)
		return status;
	return s->fn(ctx, &o, n, argv + first + 1);
}
