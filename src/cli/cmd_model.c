/*
 * cmd_model.c: mvm model SUBCOMMAND: the registry of named, numbered model
 * versions with metrics, aliases and lifecycle states.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Options of every subcommand; each subcommand says which it accepts. */
enum { O_DESC = 1, O_PATH = 2, O_NOTE = 4, O_DELETE = 8, O_EXEC = 16, O_CLEAR = 32, O_APPROVALS = 64,
       O_JSON = 128 };

typedef struct {
	unsigned seen;
	const char *description, *path, *note, *exec;
	int approvals;
} model_opts;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, const model_opts *o, int argc, char **argv);
	unsigned allowed;
	int min_args, max_args;   /* operands after the subcommand name */
	const char *usage;
} model_sub;

static const cli_command *model_cmd(void)
{
	return cli_find("model");
}

/* ---- output ---- */

static json_t *metrics_json(const mvm_metric *m, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, m[i].key, json_real(m[i].value));
	return o;
}

static json_t *version_json(const mvm_model_version *v)
{
	json_t *o = json_object(), *params = json_object(), *aliases = json_array(), *hist = json_array();
	size_t i;

	for (i = 0; i < v->nparams; i++)
		json_object_set_new(params, v->params[i].key, json_string(v->params[i].value));
	for (i = 0; i < v->naliases; i++)
		json_array_append_new(aliases, json_string(v->aliases[i]));
	for (i = 0; i < v->nhistory; i++) {
		json_t *h = json_object();
		json_object_set_new(h, "from", json_string(mvm_model_state_name(v->history[i].from)));
		json_object_set_new(h, "to", json_string(mvm_model_state_name(v->history[i].to)));
		json_object_set_new(h, "time", json_integer(v->history[i].time));
		json_object_set_new(h, "actor", json_string(v->history[i].actor));
		json_array_append_new(hist, h);
	}
	json_object_set_new(o, "version", json_integer(v->number));
	json_object_set_new(o, "id", cli_json_oid(&v->id));
	json_object_set_new(o, "path", cli_json_str_or_null(v->path));
	json_object_set_new(o, "note", cli_json_str_or_null(v->note));
	json_object_set_new(o, "state", json_string(mvm_model_state_name(v->state)));
	json_object_set_new(o, "author", json_string(v->author));
	json_object_set_new(o, "time", json_integer(v->time));
	json_object_set_new(o, "aliases", aliases);
	json_object_set_new(o, "params", params);
	json_object_set_new(o, "metrics", metrics_json(v->metrics, v->nmetrics));
	json_object_set_new(o, "history", hist);
	return o;
}

static json_t *aliases_json(const mvm_model *m)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < m->naliases; i++)
		json_object_set_new(o, m->aliases[i].name, json_integer(m->aliases[i].number));
	return o;
}

static json_t *model_json(const mvm_model *m, int with_versions)
{
	json_t *o = json_object(), *vs = json_array();
	size_t i;

	json_object_set_new(o, "name", json_string(m->name));
	json_object_set_new(o, "description", json_string(m->description));
	json_object_set_new(o, "author", json_string(m->author));
	json_object_set_new(o, "time", json_integer(m->time));
	json_object_set_new(o, "archived", json_boolean(m->archived));
	json_object_set_new(o, "aliases", aliases_json(m));
	if (!with_versions) {
		json_decref(vs);
		json_object_set_new(o, "versions", json_integer((json_int_t)m->nversions));
		json_object_set_new(o, "latest", m->nversions ? json_integer(m->versions[m->nversions - 1].number)
							       : json_null());
		return o;
	}
	for (i = 0; i < m->nversions; i++)
		json_array_append_new(vs, version_json(&m->versions[i]));
	json_object_set_new(o, "versions", vs);
	return o;
}

static void print_version_row(const mvm_model_version *v)
{
	char hex[MVM_OID_HEXSZ + 1];
	size_t i;
	int w = 0;

	mvm_oid_fmt(hex, &v->id);
	printf("%7lld  %-10s  %.12s  ", (long long)v->number, mvm_model_state_name(v->state), hex);
	for (i = 0; i < v->naliases; i++)
		w += printf("%s%s", i ? "," : "", v->aliases[i]);
	printf("%*s", w < 20 ? 20 - w : 1, "");
	for (i = 0; i < v->nmetrics; i++)
		printf("%s%s=%g", i ? " " : "", v->metrics[i].key, v->metrics[i].value);
	if (v->path)
		printf("%spath=%s", v->nmetrics ? "  " : "", v->path);
	if (v->note)
		printf("  (%s)", v->note);
	printf("\n");
}

static void print_model(const mvm_model *m)
{
	char t[64];
	size_t i;

	printf("Model %s%s\n", m->name, m->archived ? " (archived: no new versions)" : "");
	if (*m->description)
		printf("  %s\n", m->description);
	printf("Created %s by %s\n", cli_time(t, m->time), m->author);
	if (!m->nversions) {
		printf("\nNo versions yet (mvm model register %s REV)\n", m->name);
		return;
	}
	printf("\nVERSION  STATE       ID            ALIASES             METRICS\n");
	for (i = 0; i < m->nversions; i++)
		print_version_row(&m->versions[i]);
}

/* ---- subcommands ---- */

static int sub_create(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	int error;

	(void)argc;
	if ((error = mvm_model_create(ctx->repo, argv[0], o->description)) < 0)
		return cli_fail(error);
	printf("Created model %s\n", argv[0]);
	return EXIT_OK;
}

static int sub_list(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	mvm_model *models = NULL;
	size_t n = 0, i, k;
	int error;

	(void)argc;
	(void)argv;
	if ((error = mvm_model_list(&models, &n, ctx->repo)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, model_json(&models[i], 0));
		cli_json_print(a);
	} else {
		for (i = 0; i < n; i++) {
			printf("%-24s %3zu version%s%s", models[i].name, models[i].nversions,
			       models[i].nversions == 1 ? " " : "s", models[i].archived ? "  archived" : "");
			for (k = 0; k < models[i].naliases; k++)
				printf("%s%s=%lld", k ? " " : "  ", models[i].aliases[k].name,
				       (long long)models[i].aliases[k].number);
			printf("\n");
		}
	}
	mvm_model_list_free(models, n);
	return EXIT_OK;
}

static json_t *gates_json(const mvm_model_gates *g)
{
	json_t *o = json_object(), *rules = json_array();
	size_t i;

	for (i = 0; i < g->nrules; i++)
		json_array_append_new(rules, json_string(g->rules[i]));
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "exec", cli_json_str_or_null(g->exec));
	return o;
}

static json_t *protected_json(const mvm_protection *p, size_t n)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_set_new(o, p[i].target, json_integer(p[i].approvals));
	return o;
}

static void print_release_settings(const mvm_model_gates *g, const mvm_protection *p, size_t np, int approvals)
{
	size_t i;

	printf("\nChange requests need %d approval%s", approvals, approvals == 1 ? "" : "s");
	for (i = 0; i < np; i++)
		printf("%s%s (%d)", i ? ", " : "; protected: ", p[i].target, p[i].approvals);
	printf("\n");
	for (i = 0; i < g->nrules; i++)
		printf("Gate: %s\n", g->rules[i]);
	if (g->exec)
		printf("Gate: exec %s\n", g->exec);
}

static int sub_show(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	mvm_model_gates g = { NULL, 0, NULL };
	mvm_protection *p = NULL;
	mvm_model *m = NULL;
	size_t np = 0;
	int approvals = 1, error;

	(void)argc;
	if ((error = mvm_model_get(&m, ctx->repo, argv[0])) < 0 ||
	    (error = mvm_model_gates_get(&g, ctx->repo, argv[0])) < 0 ||
	    (error = mvm_model_protections(&p, &np, &approvals, ctx->repo, argv[0])) < 0) {
		mvm_model_free(m);
		mvm_model_gates_dispose(&g);
		return cli_fail(error);
	}
	if (o->seen & O_JSON) {
		json_t *j = model_json(m, 1);
		json_object_set_new(j, "gates", gates_json(&g));
		json_object_set_new(j, "approvals", json_integer(approvals));
		json_object_set_new(j, "protected", protected_json(p, np));
		cli_json_print(j);
	} else {
		print_model(m);
		print_release_settings(&g, p, np, approvals);
	}
	mvm_model_free(m);
	mvm_model_gates_dispose(&g);
	mvm_protections_free(p, np);
	return EXIT_OK;
}

static int sub_archive(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	int error;

	(void)o;
	(void)argc;
	if ((error = mvm_model_archive(ctx->repo, argv[0])) < 0)
		return cli_fail(error);
	printf("Archived model %s (readable; no new versions)\n", argv[0]);
	return EXIT_OK;
}

static int sub_register(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	mvm_register_options ro = MVM_REGISTER_OPTIONS_INIT;
	char hex[MVM_OID_HEXSZ + 1], num[24];
	int64_t number;
	mvm_oid id;
	int error;

	(void)argc;
	ro.path = o->path;
	ro.note = o->note;
	if ((error = mvm_model_register(&number, ctx->repo, argv[0], argv[1], &ro)) < 0)
		return cli_fail(error);
	snprintf(num, sizeof(num), "%lld", (long long)number);
	if ((error = mvm_model_resolve(NULL, &id, ctx->repo, argv[0], num)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "name", json_string(argv[0]));
		json_object_set_new(j, "version", json_integer(number));
		json_object_set_new(j, "id", cli_json_oid(&id));
		cli_json_print(j);
	} else {
		mvm_oid_fmt(hex, &id);
		printf("Registered %s version %lld (%.12s)\n", argv[0], (long long)number, hex);
	}
	return EXIT_OK;
}

static int sub_metric(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	int error;

	(void)o;
	if ((error = mvm_model_metric_set(ctx->repo, argv[0], argv[1], (const char *const *)argv + 2,
					  (size_t)(argc - 2))) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static int sub_alias(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	int error;

	if (o->seen & O_DELETE) {
		if (argc != 2)
			return cli_usage(model_cmd(), "wrong arguments; usage: mvm model alias -d NAME ALIAS");
		if ((error = mvm_model_alias_delete(ctx->repo, argv[0], argv[1])) < 0)
			return cli_fail(error);
		printf("Deleted alias %s@%s\n", argv[0], argv[1]);
		return EXIT_OK;
	}
	if (argc != 3)
		return cli_usage(model_cmd(), "wrong arguments; usage: mvm model alias NAME ALIAS VER");
	if ((error = mvm_model_alias_set(ctx->repo, argv[0], argv[1], argv[2])) < 0)
		return cli_fail(error);
	printf("%s@%s -> version %s\n", argv[0], argv[1], argv[2]);
	return EXIT_OK;
}

static int print_history(cli_ctx *ctx, const model_opts *o, const char *name, const char *ver)
{
	const mvm_model_version *v;
	mvm_model *m = NULL;
	int64_t number;
	char t[64];
	size_t i;
	int error;

	if ((error = mvm_model_resolve(&number, NULL, ctx->repo, name, ver)) < 0 ||
	    (error = mvm_model_get(&m, ctx->repo, name)) < 0)
		return cli_fail(error);
	if (!(v = mvm_model_version_find(m, number))) {
		mvm_model_free(m);
		mvm_error_set(MVM_ENOTFOUND, "model '%s' has no version %s", name, ver);
		return cli_fail(MVM_ENOTFOUND);
	}
	if (o->seen & O_JSON) {
		json_t *j = version_json(v);
		cli_json_print(json_incref(json_object_get(j, "history")));
		json_decref(j);
	} else {
		printf("%s@%lld is %s\n", name, (long long)number, mvm_model_state_name(v->state));
		for (i = 0; i < v->nhistory; i++)
			printf("  %s  %s -> %s  by %s\n", cli_time(t, v->history[i].time),
			       mvm_model_state_name(v->history[i].from), mvm_model_state_name(v->history[i].to),
			       v->history[i].actor);
	}
	mvm_model_free(m);
	return EXIT_OK;
}

static int sub_state(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	mvm_model_state to;
	int error;

	if (argc == 2)
		return print_history(ctx, o, argv[0], argv[1]);
	if ((error = mvm_model_state_parse(&to, argv[2])) < 0)
		return cli_usage(model_cmd(), "%s", mvm_error_last());
	if ((error = mvm_model_state_set(ctx->repo, argv[0], argv[1], to)) < 0)
		return cli_fail(error);
	printf("%s@%s is now %s\n", argv[0], argv[1], argv[2]);
	return EXIT_OK;
}

static int sub_gate(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	mvm_model_gates g = { NULL, 0, NULL };
	size_t i;
	int error;

	if (argc > 1 || (o->seen & (O_EXEC | O_CLEAR))) {
		if ((error = mvm_model_gates_set(ctx->repo, argv[0], (const char *const *)argv + 1, (size_t)(argc - 1),
						 o->exec, !!(o->seen & O_CLEAR))) < 0)
			return cli_fail(error);
	}
	if ((error = mvm_model_gates_get(&g, ctx->repo, argv[0])) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		cli_json_print(gates_json(&g));
	} else {
		for (i = 0; i < g.nrules; i++)
			printf("%s\n", g.rules[i]);
		if (g.exec)
			printf("exec: %s\n", g.exec);
		if (!g.nrules && !g.exec)
			printf("No gates: change requests of %s need only approvals\n", argv[0]);
	}
	mvm_model_gates_dispose(&g);
	return EXIT_OK;
}

static int list_protections(cli_ctx *ctx, const model_opts *o, const char *name)
{
	mvm_protection *p = NULL;
	size_t n = 0, i;
	int approvals, error;

	if ((error = mvm_model_protections(&p, &n, &approvals, ctx->repo, name)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "approvals", json_integer(approvals));
		json_object_set_new(j, "protected", protected_json(p, n));
		cli_json_print(j);
	} else {
		printf("Change requests of %s need %d approval%s\n", name, approvals, approvals == 1 ? "" : "s");
		for (i = 0; i < n; i++)
			printf("protected: %s (%d approval%s)\n", p[i].target, p[i].approvals, p[i].approvals == 1 ? "" : "s");
	}
	mvm_protections_free(p, n);
	return EXIT_OK;
}

static int sub_protect(cli_ctx *ctx, const model_opts *o, int argc, char **argv)
{
	int error;

	if (o->seen & O_DELETE) {
		if (argc != 2 || (o->seen & O_APPROVALS))
			return cli_usage(model_cmd(), "wrong arguments; usage: mvm model protect -d NAME TARGET");
		if ((error = mvm_model_unprotect(ctx->repo, argv[0], argv[1])) < 0)
			return cli_fail(error);
		return EXIT_OK;
	}
	if (argc == 1 && !(o->seen & O_APPROVALS))
		return list_protections(ctx, o, argv[0]);
	if ((error = mvm_model_protect(ctx->repo, argv[0], argc == 2 ? argv[1] : NULL,
				       (o->seen & O_APPROVALS) ? o->approvals : 1)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static const model_sub subs[] = {
	{ "create", sub_create, O_DESC, 1, 1, "mvm model create NAME [--description TEXT]" },
	{ "list", sub_list, O_JSON, 0, 0, "mvm model list [--json]" },
	{ "show", sub_show, O_JSON, 1, 1, "mvm model show NAME [--json]" },
	{ "archive", sub_archive, 0, 1, 1, "mvm model archive NAME" },
	{ "register", sub_register, O_PATH | O_NOTE | O_JSON, 2, 2,
	  "mvm model register NAME REV [--path SUBPATH] [--note TEXT] [--json]" },
	{ "metric", sub_metric, 0, 3, 1000, "mvm model metric NAME VER KEY=NUMBER..." },
	{ "alias", sub_alias, O_DELETE, 2, 3, "mvm model alias NAME ALIAS VER | mvm model alias -d NAME ALIAS" },
	{ "state", sub_state, O_JSON, 2, 3, "mvm model state NAME VER [none|staging|production|archived] [--json]" },
	{ "gate", sub_gate, O_EXEC | O_CLEAR | O_JSON, 1, 1000,
	  "mvm model gate NAME [RULE...] [--exec CMD] [--clear] [--json]" },
	{ "protect", sub_protect, O_APPROVALS | O_DELETE | O_JSON, 1, 2,
	  "mvm model protect NAME [TARGET] [--approvals N] | mvm model protect -d NAME TARGET" },
	{ NULL, NULL, 0, 0, 0, NULL },
};

static int model_opt(int c, const char *arg, void *payload)
{
	model_opts *o = payload;

	switch (c) {
	case 'D': o->description = arg; o->seen |= O_DESC; return 0;
	case 'p': o->path = arg; o->seen |= O_PATH; return 0;
	case 'N': o->note = arg; o->seen |= O_NOTE; return 0;
	case 'd': o->seen |= O_DELETE; return 0;
	case 'X': o->exec = arg; o->seen |= O_EXEC; return 0;
	case 'C': o->seen |= O_CLEAR; return 0;
	case 'A': o->seen |= O_APPROVALS; return cli_parse_int(&o->approvals, arg, "--approvals", 1, 100);
	default: return -1;
	}
}

/* Names of the option bits, in bit order. */
static const char *const opt_names[] = { "--description", "--path", "--note", "-d", "--exec", "--clear",
					 "--approvals", "--json", NULL };

int cmd_model(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "description", required_argument, NULL, 'D' }, { "path", required_argument, NULL, 'p' },
		{ "note", required_argument, NULL, 'N' }, { "delete", no_argument, NULL, 'd' },
		{ "exec", required_argument, NULL, 'X' }, { "clear", no_argument, NULL, 'C' },
		{ "approvals", required_argument, NULL, 'A' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = model_cmd();
	const model_sub *s;
	model_opts o = { 0, NULL, NULL, NULL, NULL, 1 };
	cli_common common;
	char what[64];
	int first, status, n;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "d", model_opt, &o, &status)) < 0)
		return status;
	if (common.json)
		o.seen |= O_JSON;
	if (first == argc)
		return cli_usage(cmd, "give a subcommand (create, list, show, archive, register, metric, alias, state, "
				      "gate, protect)");
	for (s = subs; s->name && strcmp(s->name, argv[first]); s++)
		;
	if (!s->name)
		return cli_usage(cmd, "unknown model subcommand '%s'", argv[first]);
	snprintf(what, sizeof(what), "model %s", s->name);
	n = argc - first - 1;
	if ((status = cli_sub_check(cmd, what, &(cli_sub_rules){ opt_names, s->allowed, 0, s->min_args, s->max_args,
								 s->usage }, o.seen, n)) != 0)
		return status;
	return s->fn(ctx, &o, n, argv + first + 1);
}
