/*
 * cmd_maint.c: mvm gc and mvm fsck.
 */
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cmd_gc(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("gc");
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	mvm_gc_stats s;
	char a[32], b[32];
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (first < argc)
		return cli_usage(cmd, "gc takes no arguments");
	ctx->quiet = common.quiet;
	cli_progress_setup(&w, ctx);
	if ((error = mvm_gc(&s, ctx->repo, w.progress, w.payload)) < 0)
		return cli_fail(error);
	if (common.json) {
		json_t *o = json_object();
		json_object_set_new(o, "packs_before", json_integer((json_int_t)s.packs_before));
		json_object_set_new(o, "packs_after", json_integer((json_int_t)s.packs_after));
		json_object_set_new(o, "bytes_before", json_integer((json_int_t)s.bytes_before));
		json_object_set_new(o, "bytes_after", json_integer((json_int_t)s.bytes_after));
		json_object_set_new(o, "chunks_removed", json_integer((json_int_t)s.chunks_removed));
		json_object_set_new(o, "objects_removed", json_integer((json_int_t)s.objects_removed));
		cli_json_print(o);
	} else if (!common.quiet) {
		printf("Removed %llu chunks and %llu objects; packs %s -> %s (%llu -> %llu files)\n",
		       (unsigned long long)s.chunks_removed, (unsigned long long)s.objects_removed,
		       cli_size(a, s.bytes_before), cli_size(b, s.bytes_after),
		       (unsigned long long)s.packs_before, (unsigned long long)s.packs_after);
	}
	return EXIT_OK;
}

typedef struct {
	json_t *problems;
} fsck_out;

static void fsck_problem(const char *kind, const char *name, const char *problem, void *payload)
{
	fsck_out *o = payload;

	if (o->problems) {
		json_t *p = json_object();
		json_object_set_new(p, "kind", json_string(kind));
		json_object_set_new(p, "id", json_string(name));
		json_object_set_new(p, "problem", json_string(problem));
		json_array_append_new(o->problems, p);
	} else {
		printf("damaged %s %s: %s\n", kind, name, problem);
	}
}

int cmd_fsck(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("fsck");
	mvm_work_options w = MVM_WORK_OPTIONS_INIT;
	fsck_out out = { NULL };
	mvm_fsck_stats s;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (first < argc)
		return cli_usage(cmd, "fsck takes no arguments");
	ctx->quiet = common.quiet;
	cli_progress_setup(&w, ctx);
	if (common.json)
		out.problems = json_array();
	error = mvm_fsck(&s, ctx->repo, fsck_problem, &out, w.progress, w.payload);
	if (common.json) {
		json_t *o = json_object();
		json_object_set_new(o, "ok", json_boolean(error == 0));
		json_object_set_new(o, "packs", json_integer((json_int_t)s.packs));
		json_object_set_new(o, "chunks", json_integer((json_int_t)s.chunks));
		json_object_set_new(o, "objects", json_integer((json_int_t)s.objects));
		json_object_set_new(o, "refs", json_integer((json_int_t)s.refs));
		json_object_set_new(o, "problems", out.problems);
		cli_json_print(o);
	} else if (!error && !common.quiet) {
		printf("ok: %llu packs, %llu chunks, %llu objects, %llu refs verified\n",
		       (unsigned long long)s.packs, (unsigned long long)s.chunks,
		       (unsigned long long)s.objects, (unsigned long long)s.refs);
	}
	if (error == MVM_ECORRUPT) {
		fprintf(stderr, "mvm: error: %s\n", mvm_error_last());
		return EXIT_CORRUPT;
	}
	return error < 0 ? cli_fail(error) : EXIT_OK;
}
