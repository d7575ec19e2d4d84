/*
 * cmd_audit.c: mvm audit (list entries) and mvm audit verify.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

static json_t *entry_json(const mvm_audit_entry *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "seq", json_integer(e->seq));
	json_object_set_new(o, "time", json_integer(e->time));
	json_object_set_new(o, "actor", json_string(e->actor));
	json_object_set_new(o, "action", json_string(e->action));
	json_object_set_new(o, "object", json_string(e->object));
	json_object_set_new(o, "before", cli_json_str_or_null(e->before));
	json_object_set_new(o, "after", cli_json_str_or_null(e->after));
	json_object_set_new(o, "prev_hash", cli_json_oid(&e->prev_hash));
	json_object_set_new(o, "hash", cli_json_oid(&e->hash));
	return o;
}

/* 64-hex values are shortened to 12 characters for people. */
static void print_value(const char *s)
{
	if (!s)
		printf("-");
	else if (strlen(s) == MVM_OID_HEXSZ && strspn(s, "0123456789abcdef") == MVM_OID_HEXSZ)
		printf("%.12s", s);
	else
		printf("%s", s);
}

static void entry_print(const mvm_audit_entry *e)
{
	char t[64];

	printf("%-5" PRId64 " %s  %-28s %-18s %-28s ", e->seq, cli_time(t, e->time), e->actor, e->action, e->object);
	print_value(e->before);
	printf(" -> ");
	print_value(e->after);
	printf("\n");
}

static int audit_list(cli_ctx *ctx, const char *model, int json)
{
	mvm_audit_entry *entries = NULL;
	size_t n = 0, i;
	int error;

	if ((error = mvm_audit_list(&entries, &n, ctx->repo, model)) < 0)
		return cli_fail(error);
	if (json) {
		json_t *a = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(a, entry_json(&entries[i]));
		cli_json_print(a);
	} else {
		for (i = 0; i < n; i++)
			entry_print(&entries[i]);
	}
	mvm_audit_free(entries, n);
	return EXIT_OK;
}

static int audit_verify(cli_ctx *ctx, int json)
{
	uint64_t n = 0;
	int error = mvm_audit_verify(&n, ctx->repo);

	if (error < 0 && error != MVM_ECORRUPT)
		return cli_fail(error);
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_boolean(error == 0));
		json_object_set_new(o, "entries", json_integer((json_int_t)n));
		json_object_set_new(o, "problem", error ? json_string(mvm_error_last()) : json_null());
		cli_json_print(o);
		return error ? EXIT_CORRUPT : EXIT_OK;
	}
	if (error < 0)
		return cli_fail(error);
	printf("audit log intact: %" PRIu64 " entries\n", n);
	return EXIT_OK;
}

static int audit_opt(int c, const char *arg, void *payload)
{
	if (c != 'm')
		return -1;
	*(const char **)payload = arg;
	return 0;
}

int cmd_audit(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "model", required_argument, NULL, 'm' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("audit");
	const char *model = NULL;
	cli_common common;
	int first, status;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", audit_opt, &model, &status)) < 0)
		return status;
	if (first == argc)
		return audit_list(ctx, model, common.json);
	if (strcmp(argv[first], "verify"))
		return cli_usage(cmd, "unknown audit subcommand '%s'", argv[first]);
	if (argc - first > 1 || model)
		return cli_usage(cmd, "'audit verify' takes no arguments");
	return audit_verify(ctx, common.json);
}
