/*
 * cmd_history.c: mvm log, show and ls.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_t *version_json(const mvm_version *v)
{
	json_t *o = json_object(), *parents = json_array(), *params = json_object(), *metrics = json_object();
	size_t i;

	for (i = 0; i < v->nparents; i++)
		json_array_append_new(parents, cli_json_oid(&v->parents[i]));
	for (i = 0; i < v->nparams; i++)
		json_object_set_new(params, v->params[i].key, json_string(v->params[i].value));
	for (i = 0; i < v->nmetrics; i++)
		json_object_set_new(metrics, v->metrics[i].key, json_real(v->metrics[i].value));
	json_object_set_new(o, "id", cli_json_oid(&v->id));
	json_object_set_new(o, "parents", parents);
	json_object_set_new(o, "author", json_string(v->author));
	json_object_set_new(o, "time", json_integer(v->time));
	json_object_set_new(o, "message", json_string(v->message));
	json_object_set_new(o, "params", params);
	json_object_set_new(o, "metrics", metrics);
	return o;
}

static void print_version(const mvm_version *v)
{
	char hex[MVM_OID_HEXSZ + 1], t[64];
	size_t i;

	mvm_oid_fmt(hex, &v->id);
	printf("version %s\nAuthor: %s\nDate:   %s\n", hex, v->author, cli_time(t, v->time));
	if (v->nparams) {
		printf("Params: ");
		for (i = 0; i < v->nparams; i++)
			printf("%s%s=%s", i ? " " : "", v->params[i].key, v->params[i].value);
		printf("\n");
	}
	if (v->nmetrics) {
		printf("Metrics:");
		for (i = 0; i < v->nmetrics; i++)
			printf(" %s=%g", v->metrics[i].key, v->metrics[i].value);
		printf("\n");
	}
	printf("\n    %s\n\n", v->message);
}

static int log_opt(int c, const char *arg, void *payload)
{
	char *end;
	long n;

	if (c != 'n')
		return -1;
	n = strtol(arg, &end, 10);
	if (*end || n < 0) {
		fprintf(stderr, "mvm: error: -n needs a non-negative number, not '%s'\n", arg);
		return -1;
	}
	*(long *)payload = n;
	return 0;
}

int cmd_log(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "max-count", required_argument, NULL, 'n' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("log");
	json_t *arr = NULL;
	cli_common common;
	long max = -1, shown = 0;
	int first, status, error;
	mvm_oid id;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "n:", log_opt, &max, &status)) < 0)
		return status;
	if (argc - first > 1)
		return cli_usage(cmd, "log takes at most one revision");
	if ((error = mvm_revparse(&id, ctx->repo, first < argc ? argv[first] : "HEAD")) < 0)
		return cli_fail(error);
	arr = common.json ? json_array() : NULL;
	while (max < 0 || shown < max) {
		mvm_version *v = NULL;
		if ((error = mvm_version_lookup(&v, ctx->repo, &id)) < 0) {
			json_decref(arr);
			return cli_fail(error);
		}
		if (arr)
			json_array_append_new(arr, version_json(v));
		else
			print_version(v);
		shown++;
		if (!v->nparents) {
			mvm_version_free(v);
			break;
		}
		id = v->parents[0];
		mvm_version_free(v);
	}
	if (arr)
		cli_json_print(arr);
	return EXIT_OK;
}

/* Files as JSON: each with its SHA-256 (= sha256sum, the git-lfs oid) and its manifest's id if it has one. */
static int tree_json(json_t **out, cli_ctx *ctx, const mvm_tree *t)
{
	json_t *a = json_array();
	size_t i;
	int error = 0;

	for (i = 0; i < t->count && !error; i++) {
		const mvm_tree_entry *te = &t->entries[i];
		mvm_manifest *m = NULL;
		json_t *e = json_object();

		json_object_set_new(e, "path", json_string(te->path));
		json_object_set_new(e, "mode", json_integer(te->mode));
		json_object_set_new(e, "size", json_integer((json_int_t)te->size));
		if ((error = mvm_manifest_lookup(&m, ctx->repo, te)) == 0)
			json_object_set_new(e, "sha256", cli_json_oid(&m->sha));
		json_object_set_new(e, "manifest", te->one_chunk ? json_null() : cli_json_oid(&te->manifest));
		json_array_append_new(a, e);
		mvm_manifest_free(m);
	}
	if (error < 0) {
		json_decref(a);
		return error;
	}
	*out = a;
	return 0;
}

static void print_tree(const mvm_tree *t)
{
	char sz[32];
	size_t i;

	for (i = 0; i < t->count; i++)
		printf("%04o %10s  %s\n", t->entries[i].mode, cli_size(sz, t->entries[i].size), t->entries[i].path);
}

static int load_version_tree(mvm_version **v, mvm_tree **t, cli_ctx *ctx, const char *spec)
{
	mvm_oid id;
	int error;

	if ((error = mvm_revparse(&id, ctx->repo, spec)) < 0 ||
	    (error = mvm_version_lookup(v, ctx->repo, &id)) < 0 ||
	    (error = mvm_tree_lookup(t, ctx->repo, &(*v)->tree)) < 0)
		return error;
	return 0;
}

/* What mvm/runs.h knows of the version: kind, run, dataset rows. */
static void add_info_json(json_t *o, const mvm_version_info *info)
{
	json_t *rows = json_object();
	size_t i;

	for (i = 0; i < info->nfiles; i++)
		json_object_set_new(rows, info->files[i].path, json_integer(info->files[i].rows));
	json_object_set_new(o, "kind", info->kind ? json_string(info->kind) : json_null());
	json_object_set_new(o, "run", info->run ? json_integer(info->run) : json_null());
	json_object_set_new(o, "rows", rows);
}

static void print_info(const mvm_version_info *info)
{
	size_t i;

	if (info->kind)
		printf("Kind:   %s\n", info->kind);
	if (info->run)
		printf("Run:    %lld (mvm run show %lld)\n", (long long)info->run, (long long)info->run);
	for (i = 0; i < info->nfiles; i++)
		printf("Rows:   %s: %lld\n", info->files[i].path, (long long)info->files[i].rows);
}

int cmd_show(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("show");
	mvm_version_info info = { NULL, 0, NULL, 0 };
	mvm_version *v = NULL;
	mvm_tree *t = NULL;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (argc - first > 1)
		return cli_usage(cmd, "show takes one revision");
	if ((error = load_version_tree(&v, &t, ctx, first < argc ? argv[first] : "HEAD")) < 0 ||
	    (error = mvm_version_info_get(&info, ctx->repo, &v->id)) < 0) {
		status = cli_fail(error);
		goto done;
	}
	if (common.json) {
		json_t *o = version_json(v), *files = NULL;
		if ((error = tree_json(&files, ctx, t)) < 0) {
			json_decref(o);
			status = cli_fail(error);
			goto done;
		}
		json_object_set_new(o, "tree", cli_json_oid(&v->tree));
		json_object_set_new(o, "files", files);
		add_info_json(o, &info);
		cli_json_print(o);
	} else {
		print_info(&info);
		print_version(v);
		print_tree(t);
	}
	status = EXIT_OK;
done:
	mvm_version_info_dispose(&info);
	mvm_version_free(v);
	mvm_tree_free(t);
	return status;
}

static void shape_str(char *buf, size_t cap, const mvm_tensor *t)
{
	size_t n = 0;
	uint32_t d;

	n += (size_t)snprintf(buf + n, cap - n, "[");
	for (d = 0; d < t->ndim && n < cap; d++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%llu", d ? ", " : "", (unsigned long long)t->shape[d]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

static int ls_tensors(cli_ctx *ctx, const mvm_tree_entry *e, int json)
{
	mvm_manifest *m = NULL;
	json_t *arr;
	char shape[256], sz[32];
	size_t i;
	int error;

	if ((error = mvm_manifest_lookup(&m, ctx->repo, e)) < 0)
		return cli_fail(error);
	arr = json ? json_array() : NULL;
	for (i = 0; i < m->ntensors; i++) {
		const mvm_tensor *t = &m->tensors[i];
		if (arr) {
			json_t *o = json_object(), *s = json_array();
			uint32_t d;
			for (d = 0; d < t->ndim; d++)
				json_array_append_new(s, json_integer((json_int_t)t->shape[d]));
			json_object_set_new(o, "name", json_string(t->name));
			json_object_set_new(o, "dtype", json_string(t->dtype));
			json_object_set_new(o, "shape", s);
			json_object_set_new(o, "offset", json_integer((json_int_t)t->offset));
			json_object_set_new(o, "length", json_integer((json_int_t)t->length));
			json_object_set_new(o, "digest", cli_json_oid(&t->sha));
			json_array_append_new(arr, o);
		} else {
			shape_str(shape, sizeof(shape), t);
			printf("%-6s %-20s %10s  %s\n", t->dtype, shape, cli_size(sz, t->length), t->name);
		}
	}
	if (arr)
		cli_json_print(arr);
	else if (!m->ntensors)
		printf("%s is not a tensor file (%llu bytes, %zu chunks)\n", e->path,
		       (unsigned long long)m->size, m->nchunks);
	mvm_manifest_free(m);
	return EXIT_OK;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *cmd = cli_find("ls");
	const mvm_tree_entry *e;
	mvm_version *v = NULL;
	mvm_tree *t = NULL;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, NULL, NULL, NULL, NULL, &status)) < 0)
		return status;
	if (argc - first > 2)
		return cli_usage(cmd, "too many arguments");
	if ((error = load_version_tree(&v, &t, ctx, first < argc ? argv[first] : "HEAD")) < 0) {
		status = cli_fail(error);
		goto done;
	}
	if (argc - first == 2) {
		if (!(e = mvm_tree_find(t, argv[first + 1]))) {
			mvm_error_set(MVM_ENOTFOUND, "'%s' is not in version %s", argv[first + 1], argv[first]);
			status = cli_fail(MVM_ENOTFOUND);
		} else {
			status = ls_tensors(ctx, e, common.json);
		}
		goto done;
	}
	if (common.json) {
		json_t *files = NULL;
		if ((error = tree_json(&files, ctx, t)) < 0) {
			status = cli_fail(error);
			goto done;
		}
		cli_json_print(files);
	} else {
		print_tree(t);
	}
	status = EXIT_OK;
done:
	mvm_version_free(v);
	mvm_tree_free(t);
	return status;
}
