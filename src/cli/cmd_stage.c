/*
 * cmd_stage.c: mvm add, rm, commit and status.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_add(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("add");
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (first == argc)
		return cli_usage(cmd, "nothing to add: give one or more paths");
	ctx->quiet = common.quiet;
	cli_progress_setup(&w, ctx);
	if ((error = mvm_add(ctx->repo, (const char *const *)argv + first, (size_t)(argc - first), &w)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static int rm_opt(int c, const char *arg, void *payload)
{
	(void)arg;
	if (c != 'c')
		return -1;
	*(int *)payload = 1;
	return 0;
}

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "cached", no_argument, NULL, 'c' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("rm");
	cli_common common;
	int first, status, error, cached = 0;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", rm_opt, &cached, &status)) < 0)
		return status;
	if (first == argc)
		return cli_usage(cmd, "give one or more paths");
	if ((error = mvm_rm(ctx->repo, (const char *const *)argv + first, (size_t)(argc - first), cached)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

typedef struct {
	mvm_commit_options *o;
	const char **params, **metrics;
} commit_args;

static int commit_opt(int c, const char *arg, void *payload)
{
	commit_args *a = payload;

	switch (c) {
	case 'm': a->o->message = arg; return 0;
	case 'a': a->o->all = 1; return 0;
	case 'P': a->params[a->o->nparams++] = arg; return 0;
	case 'M': a->metrics[a->o->nmetrics++] = arg; return 0;
	case 'K': a->o->kind = arg; return 0;
	case 'R':
		if (mvm_run_id_parse(&a->o->run, arg) == 0)
			return 0;
		fprintf(stderr, "mvm: error: --run: %s\n", mvm_error_last());
		return -1;
	}
	return -1;
}

int cmd_commit(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "message", required_argument, NULL, 'm' }, { "all", no_argument, NULL, 'a' },
		{ "param", required_argument, NULL, 'P' }, { "metric", required_argument, NULL, 'M' },
		{ "run", required_argument, NULL, 'R' }, { "kind", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("commit");
	mvm_commit_options o = MVM_COMMIT_OPTIONS_INIT;
	const char **params = calloc((size_t)argc, sizeof(char *)), **metrics = calloc((size_t)argc, sizeof(char *));
	commit_args a = { &o, params, metrics };
	char hex[MVM_OID_HEXSZ + 1];
	mvm_buf branch = MVM_BUF_INIT;
	cli_common common;
	int first, status = EXIT_OK, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "m:a", commit_opt, &a, &status)) < 0)
		goto done;
	if (first < argc) {
		status = cli_usage(cmd, "unexpected argument '%s' (stage files with 'mvm add')", argv[first]);
		goto done;
	}
	if (!o.message) {
		status = cli_usage(cmd, "a commit needs a message: -m MSG");
		goto done;
	}
	o.params = params;
	o.metrics = metrics;
	ctx->quiet = common.quiet;
	cli_progress_setup(&o.work, ctx);
	if ((error = mvm_commit(&id, ctx->repo, &o)) < 0) {
		status = cli_fail(error);
		goto done;
	}
	mvm_oid_fmt(hex, &id);
	mvm_head_branch(&branch, ctx->repo);
	if (!common.quiet)
		printf("[%s %.12s] %s\n", branch.size ? branch.ptr : "detached HEAD", hex, o.message);
done:
	mvm_buf_dispose(&branch);
	free(params);
	free(metrics);
	return status;
}

static void print_group(const char *title, const char *tag, char **list, size_t n)
{
	size_t i;

	if (!n)
		return;
	printf("%s:\n", title);
	for (i = 0; i < n; i++)
		printf("  %-10s %s\n", tag, list[i]);
}

static const char *staged_word(unsigned char change)
{
	return change == MVM_STAGED_ADDED ? "added" : change == MVM_STAGED_REMOVED ? "removed" : "modified";
}

static json_t *staged_changes_json(const mvm_status *st)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < st->nstaged; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "path", json_string(st->staged[i]));
		json_object_set_new(o, "change", json_string(staged_word(st->staged_change[i])));
		json_array_append_new(a, o);
	}
	return a;
}

static void print_staged(const mvm_status *st)
{
	size_t i;

	if (!st->nstaged)
		return;
	printf("Staged for the next commit:\n");
	for (i = 0; i < st->nstaged; i++)
		printf("  %-10s %s\n", staged_word(st->staged_change[i]), st->staged[i]);
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("status");
	mvm_status *st = NULL;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (first < argc)
		return cli_usage(cmd, "status takes no paths");
	(void)ctx; /* no repository opened: mvm_status_at opens it only when its cache cannot answer */
	if ((error = mvm_status_at(&st, ".")) < 0)
		return cli_fail(error);
	if (common.json) {
		json_t *o = json_object();
		json_object_set_new(o, "branch", st->branch ? json_string(st->branch) : json_null());
		json_object_set_new(o, "head", st->has_head ? cli_json_oid(&st->head) : json_null());
		json_object_set_new(o, "staged", cli_json_strings(st->staged, st->nstaged));
		json_object_set_new(o, "staged_changes", staged_changes_json(st));
		json_object_set_new(o, "modified", cli_json_strings(st->modified, st->nmodified));
		json_object_set_new(o, "deleted", cli_json_strings(st->deleted, st->ndeleted));
		json_object_set_new(o, "untracked", cli_json_strings(st->untracked, st->nuntracked));
		cli_json_print(o);
	} else {
		char hex[MVM_OID_HEXSZ + 1];
		if (st->has_head)
			mvm_oid_fmt(hex, &st->head);
		printf("On %s%s%s\n", st->branch ? "branch " : "detached HEAD at ",
		       st->branch ? st->branch : (st->has_head ? hex : "?"), st->has_head ? "" : " (no commits yet)");
		print_staged(st);
		print_group("Changed since staged (mvm add to stage)", "modified", st->modified, st->nmodified);
		print_group("Deleted since staged", "deleted", st->deleted, st->ndeleted);
		print_group("Untracked", "untracked", st->untracked, st->nuntracked);
		if (!st->nstaged && !st->nmodified && !st->ndeleted && !st->nuntracked)
			printf("Nothing to commit, working tree clean\n");
	}
	mvm_status_free(st);
	return EXIT_OK;
}
