/*
 * cmd_deploy.c: mvm deploy (and switch, promote, abort, health, status,
 * history), mvm resolve and mvm rollback: which model version each
 * environment serves, rolled out all at once, blue-green or as a canary.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { O_ENV = 1, O_STRATEGY = 2, O_WEIGHT = 4, O_ROLLBACK = 8, O_VERSION = 16, O_KEY = 32, O_TO = 64,
       O_JSON = 128 };

#define MAX_RULES 16

typedef struct {
	unsigned seen;
	const char *env, *version, *key, *to;
	mvm_deploy_options d;
	const char *rules[MAX_RULES];
} deploy_opts;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, deploy_opts *o, int argc, char **argv);
	unsigned allowed, required;
	int min_args, max_args;
	const char *usage;
} deploy_sub;

static json_t *number_or_null(int64_t n)
{
	return n > 0 ? json_integer(n) : json_null();
}

/* ---- status, history, resolve ---- */

static json_t *deployment_json(const mvm_deployment *d)
{
	json_t *o = json_object(), *rules = json_array();
	size_t i;

	for (i = 0; i < d->nrollback_if; i++)
		json_array_append_new(rules, json_string(d->rollback_if[i]));
	json_object_set_new(o, "env", json_string(d->env));
	json_object_set_new(o, "strategy", json_string(d->strategy));
	json_object_set_new(o, "stable", d->has_stable ? json_integer(d->stable) : json_null());
	json_object_set_new(o, "candidate", d->has_candidate ? json_integer(d->candidate) : json_null());
	json_object_set_new(o, "weight", json_integer(d->weight));
	json_object_set_new(o, "stable_id", d->has_stable ? cli_json_oid(&d->stable_id) : json_null());
	json_object_set_new(o, "candidate_id", d->has_candidate ? cli_json_oid(&d->candidate_id) : json_null());
	json_object_set_new(o, "rollback_if", rules);
	json_object_set_new(o, "time", json_integer(d->time));
	return o;
}

static void print_deployment(const mvm_deployment *d)
{
	size_t i;

	printf("%-12s %-10s stable %lld", d->env, d->strategy, (long long)d->stable);
	if (d->has_candidate)
		printf("  candidate %lld at %d%%%s", (long long)d->candidate, d->weight,
		       d->weight ? "" : " (blue-green: switch to send traffic)");
	for (i = 0; i < d->nrollback_if; i++)
		printf("%s%s", i ? ", " : "  roll back if ", d->rollback_if[i]);
	printf("\n");
}

static int sub_status(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	mvm_deployment *d = NULL;
	size_t n = 0, i;
	int error;

	(void)argc;
	if ((error = mvm_deploy_status(&d, &n, ctx->repo, argv[0], o->env)) < 0)
		return cli_fail(error);
	if ((o->seen & O_JSON) && o->env) {
		cli_json_print(deployment_json(&d[0]));
	} else if (o->seen & O_JSON) {
		json_t *a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, deployment_json(&d[i]));
		cli_json_print(a);
	} else {
		for (i = 0; i < n; i++)
			print_deployment(&d[i]);
		if (!n)
			printf("%s is not deployed anywhere\n", argv[0]);
	}
	mvm_deployments_free(d, n);
	return EXIT_OK;
}

static int sub_history(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	mvm_deploy_event *e = NULL;
	size_t n = 0, i;
	char t[64];
	int error;

	(void)argc;
	if ((error = mvm_deploy_history(&e, &n, ctx->repo, argv[0], o->env)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *a = json_array();
		for (i = 0; i < n; i++) {
			json_t *j = json_object();
			json_object_set_new(j, "time", json_integer(e[i].time));
			json_object_set_new(j, "actor", json_string(e[i].actor));
			json_object_set_new(j, "event", json_string(e[i].event));
			json_object_set_new(j, "stable_before", number_or_null(e[i].stable_before));
			json_object_set_new(j, "stable_after", number_or_null(e[i].stable_after));
			json_object_set_new(j, "candidate", number_or_null(e[i].candidate));
			json_object_set_new(j, "weight", json_integer(e[i].weight));
			json_object_set_new(j, "detail", e[i].detail ? json_string(e[i].detail) : json_null());
			json_array_append_new(a, j);
		}
		cli_json_print(a);
		mvm_deploy_history_free(e, n);
		return EXIT_OK;
	}
	for (i = 0; i < n; i++) {
		char b[24] = "-", a[24] = "-";
		if (e[i].stable_before)
			snprintf(b, sizeof(b), "%lld", (long long)e[i].stable_before);
		if (e[i].stable_after)
			snprintf(a, sizeof(a), "%lld", (long long)e[i].stable_after);
		printf("%s  %-14s stable %s -> %s", cli_time(t, e[i].time), e[i].event, b, a);
		if (e[i].candidate)
			printf(", candidate %lld at %d%%", (long long)e[i].candidate, e[i].weight);
		printf("  by %s%s%s\n", e[i].actor, e[i].detail ? "  " : "", e[i].detail ? e[i].detail : "");
	}
	mvm_deploy_history_free(e, n);
	return EXIT_OK;
}

/* ---- transitions ---- */

static int print_status_after(cli_ctx *ctx, const char *name, const char *env)
{
	mvm_deployment *d = NULL;
	size_t n = 0;
	int error;

	if ((error = mvm_deploy_status(&d, &n, ctx->repo, name, env)) < 0)
		return cli_fail(error);
	print_deployment(&d[0]);
	mvm_deployments_free(d, n);
	return EXIT_OK;
}

static int sub_deploy(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	int error;

	(void)argc;
	if ((error = mvm_deploy(ctx->repo, argv[0], argv[1], o->env, &o->d)) < 0)
		return cli_fail(error);
	return print_status_after(ctx, argv[0], o->env);
}

static int sub_switch(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	int error;

	(void)argc;
	if ((error = mvm_deploy_switch(ctx->repo, argv[0], o->env)) < 0)
		return cli_fail(error);
	return print_status_after(ctx, argv[0], o->env);
}

static int sub_promote(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	int error;

	(void)argc;
	if ((error = mvm_deploy_promote(ctx->repo, argv[0], o->env, (o->seen & O_WEIGHT) ? o->d.weight : -1)) < 0)
		return cli_fail(error);
	return print_status_after(ctx, argv[0], o->env);
}

static int sub_abort(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	int error;

	(void)argc;
	if ((error = mvm_deploy_abort(ctx->repo, argv[0], o->env)) < 0)
		return cli_fail(error);
	return print_status_after(ctx, argv[0], o->env);
}

static int sub_health(cli_ctx *ctx, deploy_opts *o, int argc, char **argv)
{
	mvm_health_result r;
	int error;

	if ((error = mvm_deploy_health(&r, ctx->repo, argv[0], o->env, o->version, (const char *const *)argv + 1,
				       (size_t)(argc - 1))) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "version", json_integer(r.version));
		json_object_set_new(j, "breached", json_boolean(r.breached));
		json_object_set_new(j, "rolled_back", json_boolean(r.rolled_back));
		json_object_set_new(j, "rule", r.rule ? json_string(r.rule) : json_null());
		json_object_set_new(j, "detail", r.detail ? json_string(r.detail) : json_null());
		cli_json_print(j);
	} else if (!r.breached) {
		printf("%s version %lld in %s: healthy\n", argv[0], (long long)r.version, o->env);
	} else {
		printf("%s version %lld in %s breaks '%s' (%s): %s\n", argv[0], (long long)r.version, o->env, r.rule,
		       r.detail, r.rolled_back ? "rolled back" : "nothing to roll back to");
		mvm_health_result_dispose(&r);
		return print_status_after(ctx, argv[0], o->env);
	}
	mvm_health_result_dispose(&r);
	return EXIT_OK;
}

static const deploy_sub subs[] = {
	{ "switch", sub_switch, O_ENV, O_ENV, 1, 1, "mvm deploy switch NAME --env ENV" },
	{ "promote", sub_promote, O_ENV | O_WEIGHT, O_ENV, 1, 1, "mvm deploy promote NAME --env ENV [--weight PCT]" },
	{ "abort", sub_abort, O_ENV, O_ENV, 1, 1, "mvm deploy abort NAME --env ENV" },
	{ "health", sub_health, O_ENV | O_VERSION | O_JSON, O_ENV, 2, 1000,
	  "mvm deploy health NAME --env ENV [--version VER] KEY=NUMBER... [--json]" },
	{ "status", sub_status, O_ENV | O_JSON, 0, 1, 1, "mvm deploy status NAME [--env ENV] [--json]" },
	{ "history", sub_history, O_ENV | O_JSON, O_ENV, 1, 1, "mvm deploy history NAME --env ENV [--json]" },
	{ NULL, sub_deploy, O_ENV | O_STRATEGY | O_WEIGHT | O_ROLLBACK, O_ENV, 2, 2,
	  "mvm deploy NAME VER --env ENV [--strategy all|blue-green|canary] [--weight PCT] [--rollback-if RULE]..." },
};

static int deploy_opt(int c, const char *arg, void *payload)
{
	deploy_opts *o = payload;

	switch (c) {
	case 'e': o->env = arg; o->seen |= O_ENV; return 0;
	case 's': o->d.strategy = arg; o->seen |= O_STRATEGY; return 0;
	case 'w': o->seen |= O_WEIGHT; return cli_parse_int(&o->d.weight, arg, "--weight", 0, 100);
	case 'V': o->version = arg; o->seen |= O_VERSION; return 0;
	case 'k': o->key = arg; o->seen |= O_KEY; return 0;
	case 't': o->to = arg; o->seen |= O_TO; return 0;
	case 'R':
		if (o->d.nrollback_if == MAX_RULES) {
			fprintf(stderr, "mvm: error: at most %d --rollback-if rules\n", MAX_RULES);
			return -1;
		}
		o->rules[o->d.nrollback_if++] = arg;
		o->seen |= O_ROLLBACK;
		return 0;
	default: return -1;
	}
}

/* Names of the option bits, in bit order. */
static const char *const opt_names[] = { "--env", "--strategy", "--weight", "--rollback-if", "--version", "--key",
					 "--to", "--json", NULL };

/* Parse options, then check them against what the (sub)command accepts and requires. */
static int parse(deploy_opts *o, const cli_command *cmd, int argc, char **argv, int *status)
{
	static const struct option opts[] = {
		{ "env", required_argument, NULL, 'e' }, { "strategy", required_argument, NULL, 's' },
		{ "weight", required_argument, NULL, 'w' }, { "rollback-if", required_argument, NULL, 'R' },
		{ "version", required_argument, NULL, 'V' }, { "key", required_argument, NULL, 'k' },
		{ "to", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 } };
	mvm_deploy_options init = MVM_DEPLOY_OPTIONS_INIT;
	cli_common common;
	int first;

	memset(o, 0, sizeof(*o));
	o->d = init;
	o->d.rollback_if = o->rules;
	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", deploy_opt, o, status)) < 0)
		return -1;
	if (common.json)
		o->seen |= O_JSON;
	return first;
}

/* Options and operand count of (sub)command `what` against its rules (cli_sub_check). */
static int check_opts(const cli_command *cmd, const deploy_opts *o, const char *what, unsigned allowed,
		      unsigned required, int n, int min_args, int max_args, const char *usage)
{
	return cli_sub_check(cmd, what, &(cli_sub_rules){ opt_names, allowed, required, min_args, max_args, usage },
			     o->seen, n);
}

int cmd_deploy(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("deploy");
	const deploy_sub *s = subs;
	deploy_opts o;
	char what[64];
	int first, status, n, error;

	if ((first = parse(&o, cmd, argc, argv, &status)) < 0)
		return status;
	if (first == argc)
		return cli_usage(cmd, "give NAME VER --env ENV, or a subcommand");
	while (s->name && strcmp(s->name, argv[first]))
		s++;
	if (s->name)
		first++;
	snprintf(what, sizeof(what), "deploy%s%s", s->name ? " " : "", s->name ? s->name : "");
	n = argc - first;
	if ((error = check_opts(cmd, &o, what, s->allowed, s->required, n, s->min_args, s->max_args, s->usage)) != 0)
		return error;
	return s->fn(ctx, &o, n, argv + first);
}

int cmd_resolve(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("resolve");
	mvm_resolution r;
	deploy_opts o;
	char hex[MVM_OID_HEXSZ + 1];
	int first, status, error;

	if ((first = parse(&o, cmd, argc, argv, &status)) < 0)
		return status;
	if ((error = check_opts(cmd, &o, "resolve", O_ENV | O_KEY | O_JSON, O_ENV, argc - first, 1, 1, cmd->usage)) != 0)
		return error;
	if ((error = mvm_resolve(&r, ctx->repo, argv[first], o.env, o.key)) < 0)
		return cli_fail(error);
	if (o.seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "version", json_integer(r.number));
		json_object_set_new(j, "id", cli_json_oid(&r.id));
		json_object_set_new(j, "path", r.path ? json_string(r.path) : json_null());
		json_object_set_new(j, "role", json_string(r.is_candidate ? "candidate" : "stable"));
		cli_json_print(j);
	} else {
		mvm_oid_fmt(hex, &r.id);
		printf("%s@%lld %s%s%s (%s)\n", argv[first], (long long)r.number, hex, r.path ? ":" : "", r.path ? r.path : "",
		       r.is_candidate ? "candidate" : "stable");
	}
	mvm_resolution_dispose(&r);
	return EXIT_OK;
}

int cmd_rollback(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("rollback");
	deploy_opts o;
	int first, status, error;

	if ((first = parse(&o, cmd, argc, argv, &status)) < 0)
		return status;
	if ((error = check_opts(cmd, &o, "rollback", O_ENV | O_TO, O_ENV, argc - first, 1, 1, cmd->usage)) != 0)
		return error;
	if ((error = mvm_deploy_rollback(ctx->repo, argv[first], o.env, o.to)) < 0)
		return cli_fail(error);
	return print_status_after(ctx, argv[first], o.env);
}
