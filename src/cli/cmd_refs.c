/*
 * cmd_refs.c: mvm branch, tag, switch and checkout.
 */
#include <string.h>

#include "cli.h"

static json_t *refs_json(const mvm_ref *refs, size_t n, int tags)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(refs[i].name));
		json_object_set_new(o, "target", cli_json_oid(&refs[i].target));
		if (tags)
			json_object_set_new(o, "message", refs[i].message ? json_string(refs[i].message) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

static int list_refs(cli_ctx *ctx, int tags, int json)
{
	mvm_buf current = MVM_BUF_INIT;
	char hex[MVM_OID_HEXSZ + 1];
	mvm_ref *refs = NULL;
	size_t n = 0, i;
	int error;

	if ((error = mvm_refs_list(&refs, &n, ctx->repo, tags)) < 0 ||
	    (error = mvm_head_branch(&current, ctx->repo)) < 0)
		return cli_fail(error);
	if (json) {
		cli_json_print(refs_json(refs, n, tags));
	} else {
		for (i = 0; i < n; i++) {
			mvm_oid_fmt(hex, &refs[i].target);
			printf("%s %-20s %.12s%s%s\n", !tags && !strcmp(mvm_buf_cstr(&current), refs[i].name) ? "*" : " ",
			       refs[i].name, hex, refs[i].message ? "  " : "", refs[i].message ? refs[i].message : "");
		}
	}
	mvm_refs_free(refs, n);
	mvm_buf_dispose(&current);
	return EXIT_OK;
}

static int branch_opt(int c, const char *arg, void *payload)
{
	if (c != 'd')
		return -1;
	*(const char **)payload = arg;
	return 0;
}

int cmd_branch(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "delete", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("branch");
	const char *del = NULL;
	cli_common common;
	int first, status, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "d:", branch_opt, &del, &status)) < 0)
		return status;
	if (del) {
		if (first < argc)
			return cli_usage(cmd, "-d takes only the branch name");
		if ((error = mvm_repo_lock(ctx->repo)) < 0 || (error = mvm_branch_delete(ctx->repo, del)) < 0)
			return cli_fail(error);
		printf("Deleted branch %s\n", del);
		return EXIT_OK;
	}
	if (first == argc)
		return list_refs(ctx, 0, common.json);
	if (argc - first > 2)
		return cli_usage(cmd, "too many arguments");
	if ((error = mvm_revparse(&id, ctx->repo, argc - first == 2 ? argv[first + 1] : "HEAD")) < 0 ||
	    (error = mvm_repo_lock(ctx->repo)) < 0 ||
	    (error = mvm_branch_create(ctx->repo, argv[first], &id)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

static int tag_opt(int c, const char *arg, void *payload)
{
	if (c != 'm')
		return -1;
	*(const char **)payload = arg;
	return 0;
}

int cmd_tag(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "message", required_argument, NULL, 'm' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("tag");
	const char *msg = NULL;
	cli_common common;
	int first, status, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "m:", tag_opt, &msg, &status)) < 0)
		return status;
	if (first == argc)
		return msg ? cli_usage(cmd, "-m needs a tag name") : list_refs(ctx, 1, common.json);
	if (argc - first > 2)
		return cli_usage(cmd, "too many arguments");
	if ((error = mvm_revparse(&id, ctx->repo, argc - first == 2 ? argv[first + 1] : "HEAD")) < 0 ||
	    (error = mvm_repo_lock(ctx->repo)) < 0 ||
	    (error = mvm_tag_create(ctx->repo, argv[first], &id, msg)) < 0)
		return cli_fail(error);
	return EXIT_OK;
}

int cmd_switch(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("switch");
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (argc - first != 1)
		return cli_usage(cmd, "give exactly one branch");
	ctx->quiet = common.quiet;
	cli_progress_setup(&w, ctx);
	if ((error = mvm_switch(ctx->repo, argv[first], &w)) < 0)
		return cli_fail(error);
	if (!common.quiet)
		printf("Switched to branch '%s'\n", argv[first]);
	return EXIT_OK;
}

int cmd_checkout(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("checkout");
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	cli_common common;
	int first, status, error, dash = -1, i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	if ((first = cli_parse(&common, cmd, dash < 0 ? argc : dash, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if ((dash < 0 ? argc : dash) - first != 1)
		return cli_usage(cmd, "give exactly one revision");
	if (dash >= 0 && dash + 1 == argc)
		return cli_usage(cmd, "no paths after '--'");
	ctx->quiet = common.quiet;
	cli_progress_setup(&w, ctx);
	error = mvm_checkout(ctx->repo, argv[first], dash < 0 ? NULL : (const char *const *)argv + dash + 1,
			     dash < 0 ? 0 : (size_t)(argc - dash - 1), &w);
	if (error < 0)
		return cli_fail(error);
	if (!common.quiet && dash < 0)
		printf("HEAD is now at %s\n", argv[first]);
	return EXIT_OK;
}
