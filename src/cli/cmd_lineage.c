/*
 * cmd_lineage.c: mvm lineage (the graph of versions and runs, as a tree,
 * JSON or Graphviz) and mvm repro (how to make a version again).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
	int downstream, dot, depth;
} lineage_opts;

/* Details of every node, loaded once: versions (message, kind, rows) and runs. */
typedef struct {
	mvm_version **versions;
	mvm_version_info *infos;
	mvm_run **runs;
	size_t n;
} node_details;

static void details_free(node_details *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		mvm_version_free(d->versions[i]);
		mvm_version_info_dispose(&d->infos[i]);
		mvm_run_free(d->runs[i]);
	}
	free(d->versions);
	free(d->infos);
	free(d->runs);
}

static int details_load(node_details *d, mvm_repo *repo, const mvm_lineage *l)
{
	size_t i;
	int error = 0;

	d->n = l->nnodes;
	d->versions = calloc(l->nnodes + 1, sizeof(*d->versions));
	d->infos = calloc(l->nnodes + 1, sizeof(*d->infos));
	d->runs = calloc(l->nnodes + 1, sizeof(*d->runs));
	if (!d->versions || !d->infos || !d->runs) {
		d->n = 0;
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	for (i = 0; i < l->nnodes && !error; i++) {
		if (l->nodes[i].kind == MVM_LINEAGE_RUN)
			error = mvm_run_get(&d->runs[i], repo, l->nodes[i].run);
		else if ((error = mvm_version_lookup(&d->versions[i], repo, &l->nodes[i].version)) == MVM_ENOTFOUND)
			error = 0;  /* collected by gc: shown as gone */
		else if (error == 0)
			error = mvm_version_info_get(&d->infos[i], repo, &l->nodes[i].version);
	}
	return error;
}

static void node_key(char *out, size_t size, const mvm_lineage_node *n)
{
	char hex[MVM_OID_HEXSZ + 1];

	if (n->kind == MVM_LINEAGE_RUN) {
		snprintf(out, size, "run:%" PRId64, n->run);
		return;
	}
	mvm_oid_fmt(hex, &n->version);
	snprintf(out, size, "version:%s", hex);
}

/* ---- JSON ---- */

static json_t *rows_json(const mvm_version_info *info)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; i < info->nfiles; i++)
		json_object_set_new(o, info->files[i].path, json_integer(info->files[i].rows));
	return o;
}

static json_t *node_json(const mvm_lineage_node *n, const node_details *d, size_t i)
{
	json_t *o = json_object();
	char key[96];

	node_key(key, sizeof(key), n);
	json_object_set_new(o, "key", json_string(key));
	json_object_set_new(o, "type", json_string(n->kind == MVM_LINEAGE_RUN ? "run" : "version"));
	json_object_set_new(o, "depth", json_integer(n->depth));
	if (n->kind == MVM_LINEAGE_RUN) {
		json_object_set_new(o, "id", json_integer(n->run));
		json_object_set_new(o, "name", json_string(d->runs[i]->name));
		json_object_set_new(o, "status", json_string(mvm_run_status_name(d->runs[i]->status)));
		return o;
	}
	json_object_set_new(o, "id", cli_json_oid(&n->version));
	json_object_set_new(o, "message", d->versions[i] ? json_string(d->versions[i]->message) : json_null());
	json_object_set_new(o, "kind", d->infos[i].kind ? json_string(d->infos[i].kind) : json_null());
	json_object_set_new(o, "run", d->infos[i].run ? json_integer(d->infos[i].run) : json_null());
	json_object_set_new(o, "rows", rows_json(&d->infos[i]));
	return o;
}

static json_t *lineage_json(const mvm_lineage *l, const node_details *d, int downstream)
{
	json_t *o = json_object(), *nodes = json_array(), *edges = json_array();
	char a[96], b[96];
	size_t i;

	for (i = 0; i < l->nnodes; i++)
		json_array_append_new(nodes, node_json(&l->nodes[i], d, i));
	for (i = 0; i < l->nedges; i++) {
		json_t *e = json_object();
		node_key(a, sizeof(a), &l->nodes[l->edges[i].from]);
		node_key(b, sizeof(b), &l->nodes[l->edges[i].to]);
		json_object_set_new(e, "from", json_string(a));
		json_object_set_new(e, "to", json_string(b));
		json_array_append_new(edges, e);
	}
	json_object_set_new(o, "root", cli_json_oid(&l->nodes[0].version));
	json_object_set_new(o, "direction", json_string(downstream ? "downstream" : "upstream"));
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "edges", edges);
	return o;
}

/* ---- text: a tree from the start ---- */

static void print_label(const mvm_lineage_node *n, const node_details *d, size_t i)
{
	char hex[MVM_OID_HEXSZ + 1];
	size_t k;

	if (n->kind == MVM_LINEAGE_RUN) {
		const mvm_run *r = d->runs[i];
		printf("run %" PRId64 " %s (%s)", r->id, r->name, mvm_run_status_name(r->status));
		for (k = 0; k < r->nparams; k++)
			printf(" %s=%s", r->params[k].key, r->params[k].value);
		return;
	}
	mvm_oid_fmt(hex, &n->version);
	if (!d->versions[i]) {
		printf("version %.12s (gone: collected by gc)", hex);
		return;
	}
	printf("version %.12s \"%s\"", hex, d->versions[i]->message);
	if (d->infos[i].kind)
		printf(" [%s", d->infos[i].kind);
	for (k = 0; k < d->infos[i].nfiles; k++)
		printf("%s%s: %" PRId64 " rows", k ? ", " : ": ", d->infos[i].files[k].path, d->infos[i].files[k].rows);
	if (d->infos[i].kind)
		printf("]");
}

static void print_tree(const mvm_lineage *l, const node_details *d, int downstream, size_t i, int level,
		       unsigned char *seen)
{
	size_t e;

	printf("%*s%s", level * 4, "", level ? (downstream ? "-> " : "<- ") : "");
	print_label(&l->nodes[i], d, i);
	if (seen[i]) {
		printf(" (see above)\n");
		return;
	}
	printf("\n");
	seen[i] = 1;
	for (e = 0; e < l->nedges; e++) {
		size_t from = l->edges[e].from, to = l->edges[e].to;
		if (downstream && from == i)
			print_tree(l, d, downstream, to, level + 1, seen);
		else if (!downstream && to == i)
			print_tree(l, d, downstream, from, level + 1, seen);
	}
}

/* ---- Graphviz ---- */

static void dot_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_dot(const mvm_lineage *l, const node_details *d)
{
	char key[96], label[512], hex[MVM_OID_HEXSZ + 1];
	size_t i;

	printf("digraph lineage {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
	for (i = 0; i < l->nnodes; i++) {
		const mvm_lineage_node *n = &l->nodes[i];
		node_key(key, sizeof(key), n);
		if (n->kind == MVM_LINEAGE_RUN) {
			snprintf(label, sizeof(label), "run %" PRId64 "\n%s (%s)", n->run, d->runs[i]->name,
				 mvm_run_status_name(d->runs[i]->status));
		} else {
			mvm_oid_fmt(hex, &n->version);
			snprintf(label, sizeof(label), "%.12s%s%s\n%s", hex, d->infos[i].kind ? " " : "",
				 d->infos[i].kind ? d->infos[i].kind : "",
				 d->versions[i] ? d->versions[i]->message : "(gone)");
		}
		printf("  ");
		dot_string(key);
		printf(" [shape=%s, label=", n->kind == MVM_LINEAGE_RUN ? "ellipse" : "box");
		dot_string(label);
		printf("];\n");
	}
	for (i = 0; i < l->nedges; i++) {
		printf("  ");
		node_key(key, sizeof(key), &l->nodes[l->edges[i].from]);
		dot_string(key);
		printf(" -> ");
		node_key(key, sizeof(key), &l->nodes[l->edges[i].to]);
		dot_string(key);
		printf(";\n");
	}
	printf("}\n");
}

static int lineage_opt(int c, const char *arg, void *payload)
{
	lineage_opts *o = payload;

	switch (c) {
	case 'D': o->downstream = 1; return 0;
	case 'G': o->dot = 1; return 0;
	case 'd': return cli_parse_int(&o->depth, arg, "--depth", 1, 1000000);
	default: return -1;
	}
}

int cmd_lineage(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "downstream", no_argument, NULL, 'D' }, { "dot", no_argument, NULL, 'G' },
		{ "depth", required_argument, NULL, 'd' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("lineage");
	lineage_opts o = { 0, 0, 0 };
	node_details d = { NULL, NULL, NULL, 0 };
	mvm_lineage *l = NULL;
	unsigned char *seen;
	cli_common common;
	int first, status, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", lineage_opt, &o, &status)) < 0)
		return status;
	if (argc - first != 1)
		return cli_usage(cmd, "give one revision");
	if (common.json && o.dot)
		return cli_usage(cmd, "--json and --dot exclude each other");
	if ((error = mvm_revparse(&id, ctx->repo, argv[first])) < 0 ||
	    (error = mvm_lineage_get(&l, ctx->repo, &id, o.downstream, o.depth)) < 0 ||
	    (error = details_load(&d, ctx->repo, l)) < 0) {
		status = cli_fail(error);
		goto done;
	}
	status = EXIT_OK;
	if (common.json)
		cli_json_print(lineage_json(l, &d, o.downstream));
	else if (o.dot)
		print_dot(l, &d);
	else if ((seen = calloc(l->nnodes, 1))) {
		print_tree(l, &d, o.downstream, 0, 0, seen);
		free(seen);
	}
done:
	details_free(&d);
	mvm_lineage_free(l);
	return status;
}

/* ---- repro ---- */

/* A word for sh: as is when safe, else in single quotes. */
static void put_word(mvm_buf *b, const char *s)
{
	const char *p;

	if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=@+%") == strlen(s)) {
		mvm_buf_puts(b, s);
		return;
	}
	mvm_buf_putc(b, '\'');
	for (p = s; *p; p++)
		if (*p == '\'')
			mvm_buf_puts(b, "'\\''");
		else
			mvm_buf_putc(b, *p);
	mvm_buf_putc(b, '\'');
}

static void put_opt(mvm_buf *b, const char *opt, const char *value)
{
	mvm_buf_printf(b, " %s ", opt);
	put_word(b, value);
}

/* The shell commands that make the version again. */
static void repro_script(mvm_buf *b, const mvm_run *r)
{
	char hex[MVM_OID_HEXSZ + 1], kv[4096];
	size_t i;

	if (r->code_commit)
		mvm_buf_printf(b, "git checkout %s\n", r->code_commit);
	for (i = 0; i < r->nenv; i++) {
		mvm_buf_printf(b, "%s=", r->env[i].key);
		put_word(b, r->env[i].value);
		mvm_buf_puts(b, " \\\n");
	}
	mvm_buf_puts(b, "mvm run exec");
	put_opt(b, "--name", r->name);
	for (i = 0; i < r->nparams; i++) {
		snprintf(kv, sizeof(kv), "%s=%s", r->params[i].key, r->params[i].value);
		put_opt(b, "--param", kv);
	}
	for (i = 0; i < r->ninputs; i++) {
		mvm_oid_fmt(hex, &r->inputs[i]);
		put_opt(b, "--input", hex);
	}
	for (i = 0; i < r->noutputs; i++)
		put_opt(b, "--output", r->outputs[i]);
	mvm_buf_puts(b, " --");
	for (i = 0; i < r->argc; i++) {
		mvm_buf_putc(b, ' ');
		put_word(b, r->argv[i]);
	}
	mvm_buf_putc(b, '\n');
}

static json_t *repro_json(const mvm_oid *version, const mvm_run *r, const char *script)
{
	json_t *o = cli_run_json(r, 1), *inputs = json_array();
	size_t i;

	for (i = 0; i < r->ninputs; i++) {
		json_t *in = json_object();
		json_object_set_new(in, "n", json_integer((json_int_t)i + 1));
		json_object_set_new(in, "id", cli_json_oid(&r->inputs[i]));
		json_array_append_new(inputs, in);
	}
	json_object_set_new(o, "version", cli_json_oid(version));
	json_object_set_new(o, "run", json_integer(r->id));
	json_object_del(o, "id");
	json_object_set_new(o, "inputs", inputs);
	json_object_set_new(o, "script", json_string(script));
	return o;
}

static void print_repro(const mvm_oid *version, const mvm_run *r, const char *script)
{
	char hex[MVM_OID_HEXSZ + 1], t[64];
	size_t i;

	mvm_oid_fmt(hex, version);
	printf("# version %s\n# made by run %" PRId64 " \"%s\" (%s), started %s", hex, r->id, r->name,
	       mvm_run_status_name(r->status), cli_time(t, r->started));
	printf("%s%s\n", r->host ? " on " : "", r->host ? r->host : "");
	for (i = 0; i < r->ninputs; i++) {
		mvm_oid_fmt(hex, &r->inputs[i]);
		printf("# input MVM_INPUT_%zu = %s\n", i + 1, hex);
	}
	for (i = 0; i < r->nparams; i++)
		printf("# param %s = %s\n", r->params[i].key, r->params[i].value);
	if (r->code_commit)
		printf("# code: git commit %s (clean)\n", r->code_commit);
	else
		printf("# code: not recorded (the run was not inside a git checkout)\n");
	for (i = 0; i < r->nenv; i++)
		printf("# environment: %s=%s\n", r->env[i].key, r->env[i].value);
	fputs(script, stdout);
}

int cmd_repro(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("repro");
	mvm_buf script = MVM_BUF_INIT;
	mvm_run *r = NULL;
	cli_common common;
	int first, status, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (argc - first != 1)
		return cli_usage(cmd, "give one revision");
	if ((error = mvm_revparse(&id, ctx->repo, argv[first])) < 0 || (error = mvm_repro_get(&r, ctx->repo, &id)) < 0)
		return cli_fail(error);
	repro_script(&script, r);
	if (common.json)
		cli_json_print(repro_json(&id, r, mvm_buf_cstr(&script)));
	else
		print_repro(&id, r, mvm_buf_cstr(&script));
	mvm_buf_dispose(&script);
	mvm_run_free(r);
	return EXIT_OK;
}
