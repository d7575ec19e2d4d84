/*
 * cmd_run.c: mvm run SUBCOMMAND: experiment runs: start, log, param, end,
 * show, list, compare, exec and plot. The read side's output lives in
 * cmd_runshow.c.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Options of every subcommand; each subcommand says which it accepts. */
enum { O_NAME = 1, O_PARAM = 2, O_TAG = 4, O_INPUT = 8, O_OUTPUT = 16, O_STEP = 32, O_STATUS = 64,
       O_FILTER = 128, O_SORT = 256, O_METRIC = 512, O_OUT = 1024, O_JSON = 2048 };

typedef struct {
	unsigned seen;
	const char *name, *status, *filter, *sort, *metric, *out;
	const char **params, **tags, **inputs, **outputs;
	size_t nparams, ntags, ninputs, noutputs;
	int64_t step;
	char **command;              /* after --, NULL-terminated */
	int ncommand;
} run_opts;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, run_opts *o, int argc, char **argv);
	unsigned allowed;
	int min_args, max_args;
	const char *usage;
} run_sub;

static const cli_command *run_cmd(void)
{
	return cli_find("run");
}

static int parse_id(int64_t *id, const char *s)
{
	if (mvm_run_id_parse(id, s) < 0) {
		cli_usage(run_cmd(), "%s", mvm_error_last());
		return -1;
	}
	return 0;
}

/* ---- writing subcommands ---- */

static int sub_start(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	mvm_run_start_options so = MVM_RUN_START_OPTIONS_INIT;
	int64_t id;
	int error;

	(void)argc;
	(void)argv;
	so.name = o->name;
	so.params = o->params;
	so.nparams = o->nparams;
	so.tags = o->tags;
	so.ntags = o->ntags;
	so.inputs = o->inputs;
	so.ninputs = o->ninputs;
	if ((error = mvm_run_start(&id, ctx->repo, &so)) < 0)
		return cli_fail(error);
	if (o->seen & O_JSON) {
		json_t *j = json_object();
		json_object_set_new(j, "id", json_integer(id));
		cli_json_print(j);
	} else {
		printf("%" PRId64 "\n", id);
	}
	return EXIT_OK;
}

static int sub_log(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	if (parse_id(&id, argv[0]) < 0)
		return EXIT_USAGE;
	if ((error = mvm_run_log(ctx->repo, id, (const char *const *)argv + 1, (size_t)(argc - 1),
				 (o->seen & O_STEP) ? o->step : -1)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static int sub_param(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	int64_t id;
	int error;

	(void)o;
	if (parse_id(&id, argv[0]) < 0)
		return EXIT_USAGE;
	if ((error = mvm_run_param_set(ctx->repo, id, (const char *const *)argv + 1, (size_t)(argc - 1))) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static int sub_end(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	mvm_run_status s = MVM_RUN_OK;
	int64_t id;
	int error;

	(void)argc;
	if (parse_id(&id, argv[0]) < 0)
		return EXIT_USAGE;
	if (o->status && mvm_run_status_parse(&s, o->status) < 0)
		return cli_usage(run_cmd(), "%s", mvm_error_last());
	if ((error = mvm_run_end(ctx->repo, id, s)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

/* ---- reading subcommands (cmd_runshow.c) ---- */

static int sub_show(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	(void)argc;
	return cli_run_show(ctx, !!(o->seen & O_JSON), argv[0]);
}

static int sub_list(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_run_list(ctx, !!(o->seen & O_JSON), o->filter, o->sort);
}

static int sub_compare(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	return cli_run_compare(ctx, !!(o->seen & O_JSON), argv, argc);
}

/* ---- exec ---- */

static int sub_exec(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	mvm_run_exec_options eo = MVM_RUN_EXEC_OPTIONS_INIT;
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	mvm_run_exec_result res;
	char hex[MVM_OID_HEXSZ + 1];
	int error;

	(void)argv;
	if (argc > 0 || !o->command || !o->ncommand)
		return cli_usage(run_cmd(), "give the command after --: mvm run exec [options] -- COMMAND ARGS...");
	cli_progress_setup(&w, ctx);
	eo.name = o->name;
	eo.params = o->params;
	eo.nparams = o->nparams;
	eo.inputs = o->inputs;
	eo.ninputs = o->ninputs;
	eo.outputs = o->outputs;
	eo.noutputs = o->noutputs;
	eo.argv = o->command;
	eo.echo = stdout;
	eo.progress = w.progress;
	error = mvm_run_exec(&res, ctx->repo, &eo);
	if (error < 0) {
		if (res.run)
			mvm_error_wrap(error, "run %" PRId64 " failed", res.run);
		return cli_fail(error);
	}
	if (res.exit_code != 0) {
		fprintf(stderr, "mvm: error: run %" PRId64 " failed: the command exited with status %d\n", res.run,
			res.exit_code);
		return EXIT_FAIL;
	}
	if (res.has_version) {
		mvm_oid_fmt(hex, &res.version);
		fprintf(stderr, "run %" PRId64 " ok: version %.12s\n", res.run, hex);
	} else {
		fprintf(stderr, "run %" PRId64 " ok\n", res.run);
	}
	return EXIT_OK;
}

/* ---- plot ---- */

static int write_out(const char *path, const mvm_buf *svg)
{
	FILE *f = path ? fopen(path, "w") : stdout;

	if (!f || fwrite(svg->ptr, 1, svg->size, f) != svg->size || (path && fclose(f) != 0)) {
		fprintf(stderr, "mvm: error: cannot write %s\n", path ? path : "to stdout");
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int sub_plot(cli_ctx *ctx, run_opts *o, int argc, char **argv)
{
	mvm_plot_series *series = calloc((size_t)argc + 1, sizeof(*series));
	mvm_run **runs = calloc((size_t)argc + 1, sizeof(*runs));
	mvm_buf svg = MVM_BUF_INIT;
	const mvm_run_series *s;
	int64_t id;
	int i, error = 0, status = EXIT_FAIL;

	if (!o->metric) {
		status = cli_usage(run_cmd(), "give the metric to plot: --metric KEY");
		goto done;
	}
	for (i = 0; i < argc && !error; i++) {
		if ((error = mvm_run_id_parse(&id, argv[i])) < 0 || (error = mvm_run_get(&runs[i], ctx->repo, id)) < 0)
			break;
		if (!(s = mvm_run_series_find(runs[i], o->metric))) {
			error = mvm_error_set(MVM_ENOTFOUND, "run %" PRId64 " (%s) has no metric '%s'", id, runs[i]->name,
					      o->metric);
			break;
		}
		series[i] = (mvm_plot_series){ runs[i]->name, s->steps, s->values, s->n };
	}
	if (error < 0 || (error = mvm_plot_svg(&svg, o->metric, series, (size_t)argc)) < 0) {
		status = cli_fail(error);
		goto done;
	}
	status = write_out(o->out, &svg);
done:
	for (i = 0; i < argc; i++)
		mvm_run_free(runs[i]);
	free(runs);
	free(series);
	mvm_buf_dispose(&svg);
	return status;
}

static const run_sub subs[] = {
	{ "start", sub_start, O_NAME | O_PARAM | O_TAG | O_INPUT | O_JSON, 0, 0,
	  "mvm run start [--name NAME] [--param K=V]... [--tag K=V]... [--input REV]... [--json]" },
	{ "log", sub_log, O_STEP, 2, 100000, "mvm run log ID KEY=NUMBER... [--step N]" },
	{ "param", sub_param, 0, 2, 100000, "mvm run param ID KEY=VALUE..." },
	{ "end", sub_end, O_STATUS, 1, 1, "mvm run end ID [--status ok|failed]" },
	{ "show", sub_show, O_JSON, 1, 1, "mvm run show ID [--json]" },
	{ "list", sub_list, O_FILTER | O_SORT | O_JSON, 0, 0, "mvm run list [--filter EXPR] [--sort [-]FIELD] [--json]" },
	{ "compare", sub_compare, O_JSON, 2, 100000, "mvm run compare ID ID... [--json]" },
	{ "exec", sub_exec, O_NAME | O_PARAM | O_INPUT | O_OUTPUT, 0, 0,
	  "mvm run exec [--name NAME] [--param K=V]... [--input REV]... [--output PATH]... -- COMMAND ARGS..." },
	{ "plot", sub_plot, O_METRIC | O_OUT, 1, 100000, "mvm run plot ID... --metric KEY [--out FILE.svg]" },
	{ NULL, NULL, 0, 0, 0, NULL },
};

static int run_opt(int c, const char *arg, void *payload)
{
	run_opts *o = payload;
	char *end;

	switch (c) {
	case 'n': o->name = arg; o->seen |= O_NAME; return 0;
	case 'P': o->params[o->nparams++] = arg; o->seen |= O_PARAM; return 0;
	case 'T': o->tags[o->ntags++] = arg; o->seen |= O_TAG; return 0;
	case 'I': o->inputs[o->ninputs++] = arg; o->seen |= O_INPUT; return 0;
	case 'O': o->outputs[o->noutputs++] = arg; o->seen |= O_OUTPUT; return 0;
	case 'S':
		o->step = strtoll(arg, &end, 10);
		o->seen |= O_STEP;
		if (*arg >= '0' && *arg <= '9' && !*end)
			return 0;
		fprintf(stderr, "mvm: error: --step needs a whole number >= 0, not '%s'\n", arg);
		return -1;
	case 's': o->status = arg; o->seen |= O_STATUS; return 0;
	case 'F': o->filter = arg; o->seen |= O_FILTER; return 0;
	case 'R': o->sort = arg; o->seen |= O_SORT; return 0;
	case 'M': o->metric = arg; o->seen |= O_METRIC; return 0;
	case 'o': o->out = arg; o->seen |= O_OUT; return 0;
	default: return -1;
	}
}

/* Names of the option bits, in bit order. */
static const char *const opt_names[] = { "--name", "--param", "--tag", "--input", "--output", "--step", "--status",
					 "--filter", "--sort", "--metric", "--out", "--json", NULL };

static int dispatch(cli_ctx *ctx, run_opts *o, int argc, char **argv, int first)
{
	const cli_command *cmd = run_cmd();
	const run_sub *s;
	char what[64];
	int n, status;

	if (first == argc)
		return cli_usage(cmd, "give a subcommand (start, log, param, end, show, list, compare, exec, plot)");
	for (s = subs; s->name && strcmp(s->name, argv[first]); s++)
		;
	if (!s->name)
		return cli_usage(cmd, "unknown run subcommand '%s'", argv[first]);
	if (o->command && strcmp(s->name, "exec"))
		return cli_usage(cmd, "'--' and a command apply only to 'run exec'");
	snprintf(what, sizeof(what), "run %s", s->name);
	n = argc - first - 1;
	if ((status = cli_sub_check(cmd, what, &(cli_sub_rules){ opt_names, s->allowed, 0, s->min_args, s->max_args,
								 s->usage }, o->seen, n)) != 0)
		return status;
	return s->fn(ctx, o, n, argv + first + 1);
}

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' }, { "param", required_argument, NULL, 'P' },
		{ "tag", required_argument, NULL, 'T' }, { "input", required_argument, NULL, 'I' },
		{ "output", required_argument, NULL, 'O' }, { "step", required_argument, NULL, 'S' },
		{ "status", required_argument, NULL, 's' }, { "filter", required_argument, NULL, 'F' },
		{ "sort", required_argument, NULL, 'R' }, { "metric", required_argument, NULL, 'M' },
		{ "out", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 } };
	const char **lists = calloc((size_t)argc * 4 + 4, sizeof(char *));
	run_opts o;
	cli_common common;
	int first, status, i, nopts = argc;

	if (!lists)
		return cli_fail(mvm_error_set(MVM_ERROR, "out of memory"));
	memset(&o, 0, sizeof(o));
	o.params = lists;
	o.tags = lists + argc + 1;
	o.inputs = lists + 2 * (argc + 1);
	o.outputs = lists + 3 * (argc + 1);
	/* getopt drops the "--", so split the command off first */
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			nopts = i;
			o.command = argv + i + 1;
			o.ncommand = argc - i - 1;
			break;
		}
	if ((first = cli_parse(&common, run_cmd(), nopts, argv, opts, "", run_opt, &o, &status)) >= 0) {
		if (common.json)
			o.seen |= O_JSON;
		ctx->quiet = common.quiet;
		status = dispatch(ctx, &o, nopts, argv, first);
	}
	free(lists);
	return status;
}
