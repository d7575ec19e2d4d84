/*
 * cmd_maint.c: mvm gc, mvm fsck and mvm stats.
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

static json_t *usage_json(const mvm_chunk_usage *u)
{
	json_t *o = json_object();

	json_object_set_new(o, "chunks", json_integer((json_int_t)u->chunks));
	json_object_set_new(o, "raw_bytes", json_integer((json_int_t)u->raw_bytes));
	json_object_set_new(o, "stored_bytes", json_integer((json_int_t)u->stored_bytes));
	return o;
}

static void stats_json(const mvm_usage *u)
{
	json_t *o = json_object(), *codecs = json_array(), *c;
	unsigned int i;

	json_object_set_new(o, "packs", json_integer((json_int_t)u->packs));
	json_object_set_new(o, "pack_bytes", json_integer((json_int_t)u->pack_bytes));
	json_object_set_new(o, "db_bytes", json_integer((json_int_t)u->db_bytes));
	json_object_set_new(o, "chunks", usage_json(&u->all));
	for (i = 0; i < MVM_USAGE_CODECS; i++) {
		if (!u->codec[i].chunks)
			continue;
		c = usage_json(&u->codec[i]);
		json_object_set_new(c, "codec", json_integer(i));
		json_object_set_new(c, "name", cli_json_str_or_null(mvm_codec_name(i)));
		json_array_append_new(codecs, c);
	}
	json_object_set_new(o, "codecs", codecs);
	json_object_set_new(o, "versions", json_integer((json_int_t)u->versions));
	json_object_set_new(o, "files", json_integer((json_int_t)u->files));
	json_object_set_new(o, "file_bytes", json_integer((json_int_t)u->file_bytes));
	cli_json_print(o);
}

/* part / whole as a percentage, "-" for an empty whole */
static const char *percent(char buf[16], uint64_t part, uint64_t whole)
{
	if (!whole)
		return "-";
	snprintf(buf, 16, "%.1f%%", 100.0 * (double)part / (double)whole);
	return buf;
}

static void stats_text(const mvm_usage *u)
{
	char a[32], b[32], p[16];
	const char *name;
	unsigned int i;

	printf("Packs:     %llu, %s on disk (metadata %s)\n", (unsigned long long)u->packs, cli_size(a, u->pack_bytes),
	       cli_size(b, u->db_bytes));
	printf("Chunks:    %llu unique, %s of file data stored in %s (%s)\n", (unsigned long long)u->all.chunks,
	       cli_size(a, u->all.raw_bytes), cli_size(b, u->all.stored_bytes),
	       percent(p, u->all.stored_bytes, u->all.raw_bytes));
	for (i = 0; i < MVM_USAGE_CODECS; i++) {
		if (!u->codec[i].chunks)
			continue;
		name = mvm_codec_name(i);
		printf("  %-15s %9llu chunks  %10s -> %-10s (%s)\n", name ? name : "unknown", (unsigned long long)u->codec[i].chunks,
		       cli_size(a, u->codec[i].raw_bytes), cli_size(b, u->codec[i].stored_bytes),
		       percent(p, u->codec[i].stored_bytes, u->codec[i].raw_bytes));
	}
	printf("Versions:  %llu, %llu files, %s checked out one by one; the packs hold them in %s\n",
	       (unsigned long long)u->versions, (unsigned long long)u->files, cli_size(a, u->file_bytes),
	       percent(p, u->pack_bytes, u->file_bytes));
}

int cmd_stats(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("stats");
	cli_common common;
	mvm_usage u;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (first < argc)
		return cli_usage(cmd, "stats takes no arguments");
	if ((error = mvm_repo_usage(&u, ctx->repo)) < 0)
		return cli_fail(error);
	if (common.json)
		stats_json(&u);
	else if (!common.quiet)
		stats_text(&u);
	return EXIT_OK;
}
