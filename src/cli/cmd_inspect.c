/*
 * cmd_inspect.c: mvm diff and mvm cat.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *diff_json(const mvm_diff *d, const mvm_oid *a, const mvm_oid *b)
{
	json_t *o = json_object(), *files = json_array();
	size_t i, k;

	json_object_set_new(o, "a", cli_json_oid(a));
	json_object_set_new(o, "b", b ? cli_json_oid(b) : json_null());
	for (i = 0; i < d->nfiles; i++) {
		const mvm_file_diff *f = &d->files[i];
		json_t *fo = json_object();
		json_object_set_new(fo, "path", json_string(f->path));
		json_object_set_new(fo, "status", json_string(mvm_diff_status_name(f->status)));
		if (f->is_tensor_file) {
			json_t *ts = json_array();
			for (k = 0; k < f->ntensors; k++) {
				const mvm_tensor_diff *t = &f->tensors[k];
				json_t *to = json_object();
				json_object_set_new(to, "name", json_string(t->name));
				json_object_set_new(to, "status", json_string(mvm_diff_status_name(t->status)));
				if (t->has_stats) {
					json_object_set_new(to, "max_abs_diff", num_or_null(t->max_abs_diff));
					json_object_set_new(to, "rel_l2", num_or_null(t->rel_l2));
					json_object_set_new(to, "cosine", num_or_null(t->cosine));
				}
				json_array_append_new(ts, to);
			}
			json_object_set_new(fo, "tensors", ts);
		}
		json_array_append_new(files, fo);
	}
	json_object_set_new(o, "files", files);
	return o;
}

static void diff_print(const mvm_diff *d)
{
	static const char tag[] = { 'A', 'D', 'M', 'M', 'M' };
	size_t i, k;

	for (i = 0; i < d->nfiles; i++) {
		const mvm_file_diff *f = &d->files[i];
		printf("%c %s", tag[f->status], f->path);
		if (f->is_tensor_file)
			printf("  (%zu tensor%s changed)", f->ntensors, f->ntensors == 1 ? "" : "s");
		printf("\n");
		for (k = 0; k < f->ntensors; k++) {
			const mvm_tensor_diff *t = &f->tensors[k];
			printf("    %-13s %s", mvm_diff_status_name(t->status), t->name);
			if (t->has_stats)
				printf("  max_abs_diff=%.4g rel_l2=%.4g cosine=%.6f", t->max_abs_diff, t->rel_l2, t->cosine);
			printf("\n");
		}
	}
	if (!d->nfiles)
		printf("No differences\n");
}

static int diff_opt(int c, const char *arg, void *payload)
{
	(void)arg;
	if (c != 's')
		return -1;
	*(int *)payload = 1;
	return 0;
}

int cmd_diff(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "stats", no_argument, NULL, 's' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("diff");
	mvm_diff_options o = MVM_DIFF_OPTIONS_INIT;
	mvm_oid revs[2];
	mvm_diff *d = NULL;
	cli_common common;
	int first, status, error, nrev = 0, i, dash = argc;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			dash = i;
			break;
		}
	if ((first = cli_parse(&common, cmd, dash, argv, opts, "", diff_opt, &o.stats, &status)) < 0)
		return status;
	for (i = first; i < dash && nrev < 2; i++, nrev++) {
		if ((error = mvm_revparse(&revs[nrev], ctx->repo, argv[i])) == MVM_ENOTFOUND && i > first - 1 &&
		    dash == argc && access(argv[i], F_OK) == 0)
			break; /* an existing path: paths start here */
		if (error < 0)
			return cli_fail(error);
	}
	if (nrev == 0 && (error = mvm_revparse(&revs[nrev++], ctx->repo, "HEAD")) < 0)
		return cli_fail(error);
	o.paths = (const char *const *)argv + (i < dash ? i : dash + 1);
	o.npaths = (size_t)(i < dash ? dash - i : argc - dash - 1 > 0 ? argc - dash - 1 : 0);
	if ((error = mvm_diff_versions(&d, ctx->repo, &revs[0], nrev == 2 ? &revs[1] : NULL, &o)) < 0)
		return cli_fail(error);
	if (common.json)
		cli_json_print(diff_json(d, &revs[0], nrev == 2 ? &revs[1] : NULL));
	else
		diff_print(d);
	mvm_diff_free(d);
	return EXIT_OK;
}

static int cat_opt(int c, const char *arg, void *payload)
{
	if (c != 't')
		return -1;
	*(const char **)payload = arg;
	return 0;
}

static int cat_lookup(mvm_manifest **m, cli_ctx *ctx, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const mvm_tree_entry *e;
	mvm_version *v = NULL;
	mvm_tree *t = NULL;
	char *rev;
	mvm_oid id;
	int error;

	if (!colon || colon == spec || !colon[1])
		return mvm_error_set(MVM_EUSAGE, "'%s' is not REV:PATH", spec);
	if (!(rev = strndup(spec, (size_t)(colon - spec))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = mvm_revparse(&id, ctx->repo, rev)) == 0 &&
	    (error = mvm_version_lookup(&v, ctx->repo, &id)) == 0 &&
	    (error = mvm_tree_lookup(&t, ctx->repo, &v->tree)) == 0) {
		if (!(e = mvm_tree_find(t, colon + 1)))
			error = mvm_error_set(MVM_ENOTFOUND, "'%s' is not in version %s", colon + 1, rev);
		else
			error = mvm_manifest_lookup(m, ctx->repo, e);
	}
	free(rev);
	mvm_version_free(v);
	mvm_tree_free(t);
	return error;
}

int cmd_cat(cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "tensor", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 } };
	const cli_command *cmd = cli_find("cat");
	const char *tensor = NULL;
	const mvm_tensor *t;
	mvm_manifest *m = NULL;
	cli_common common;
	int first, status, error;

	if ((first = cli_parse(&common, cmd, argc, argv, opts, "", cat_opt, &tensor, &status)) < 0)
		return status;
	if (argc - first != 1)
		return cli_usage(cmd, "give exactly one REV:PATH");
	if (isatty(1)) {
		fprintf(stderr, "mvm: error: refusing to write binary data to a terminal; redirect it to a file\n");
		return EXIT_FAIL;
	}
	if ((error = cat_lookup(&m, ctx, argv[first])) < 0)
		return cli_fail(error);
	if (tensor && !(t = mvm_manifest_tensor(m, tensor))) {
		mvm_error_set(MVM_ENOTFOUND, "no tensor '%s' in %s", tensor, argv[first]);
		error = MVM_ENOTFOUND;
	} else {
		error = tensor ? mvm_file_write_range(stdout, ctx->repo, m, t->offset, t->length)
			       : mvm_file_write_range(stdout, ctx->repo, m, 0, m->size);
	}
	mvm_manifest_free(m);
	if (!error && fflush(stdout) != 0)
		error = mvm_error_set(MVM_ERROR, "cannot write output");
	return error < 0 ? cli_fail(error) : EXIT_OK;
}
