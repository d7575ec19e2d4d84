/*
 * cmd_setup.c: mvm init and mvm config.
 */
#include <string.h>

#include "cli.h"

int cmd_init(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("init");
	const char *dir;
	mvm_repo *repo = NULL;
	cli_common common;
	int first, status, error;

	(void)ctx;
	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (argc - first > 1)
		return cli_usage(cmd, "too many arguments");
	dir = first < argc ? argv[first] : ".";
	if ((error = mvm_repo_init(&repo, dir)) < 0)
		return cli_fail(error);
	if (!common.quiet)
		printf("Initialized empty mvm repository in %s/.mvm\n", mvm_repo_workdir(repo));
	mvm_repo_free(repo);
	return EXIT_OK;
}

static int print_kv(const char *key, const char *value, void *payload)
{
	json_t *obj = payload;

	if (obj)
		json_object_set_new(obj, key, json_string(value));
	else
		printf("%s=%s\n", key, value);
	return 0;
}

int cmd_config(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("config");
	mvm_buf value = MVM_BUF_INIT;
	cli_common common;
	int first, status, error, n;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	n = argc - first;
	if (n > 2)
		return cli_usage(cmd, "too many arguments");
	if (n == 0) {
		json_t *obj = common.json ? json_object() : NULL;
		if ((error = mvm_config_foreach(ctx->repo, print_kv, obj)) < 0) {
			json_decref(obj);
			return cli_fail(error);
		}
		if (obj)
			cli_json_print(obj);
		return EXIT_OK;
	}
	if (n == 2) {
		if ((error = mvm_repo_lock(ctx->repo)) < 0 ||
		    (error = mvm_config_set(ctx->repo, argv[first], argv[first + 1])) < 0)
			return cli_fail(error);
		return EXIT_OK;
	}
	if ((error = mvm_config_get(&value, ctx->repo, argv[first])) < 0)
		return cli_fail(error);
	printf("%s\n", value.ptr);
	mvm_buf_dispose(&value);
	return EXIT_OK;
}
