/*
 * commit.c: stage -> tree -> version -> branch update -> audit entry, in one
 * transaction under the writer lock; the branch moves by compare-and-swap.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mvm/refs.h"
#include "mvm/worktree.h"
#include "audit/audit_internal.h"
#include "object/object.h"
#include "runs/runs_internal.h"
#include "add_internal.h"
#include "refs_internal.h"

/*
 * Whether the stage's files are the parent's (or, without a parent, there
 * are none). Equal tree ids say so at once; else the entries are compared,
 * since a tree written before one-chunk entries names a small file by a
 * manifest where the stage may now name its chunk.
 */
static int same_files(int *same, mvm_repo *repo, const mvm_tree *files, const mvm_oid *id,
		      const mvm_oid *parent_tree)
{
	mvm_tree *pt = NULL;
	size_t i;
	int error;

	*same = parent_tree ? !mvm_oid_cmp(id, parent_tree) : files->count == 0;
	if (*same || !parent_tree)
		return 0;
	if ((error = mvm_tree_read(&pt, repo->db, parent_tree)) == 0 && pt->count == files->count) {
		const mvm_tree_entry *x = pt->entries, *y = files->entries;
		for (i = 0, *same = 1; i < pt->count && *same == 1; i++)
			*same = strcmp(x[i].path, y[i].path) || x[i].mode != y[i].mode ? 0
				: mvm_manifest_same_file(repo->db, &x[i].manifest, x[i].one_chunk,
							 &y[i].manifest, y[i].one_chunk);
		if (*same < 0)
			error = *same;
	}
	mvm_tree_free(pt);
	return error;
}

/* Write the stage as a tree; *same: it lists what parent_tree (NULL: none) does. */
static int tree_from_stage(mvm_oid *out, int *same, mvm_repo *repo, const mvm_oid *parent_tree)
{
	mvm_stage_entry *stage = NULL;
	mvm_tree tree = { NULL, 0 };
	size_t n = 0, i;
	int error;

	if ((error = mvm_stage_load(&stage, &n, repo)) < 0)
		return error;
	if (n && !(tree.entries = calloc(n, sizeof(*tree.entries)))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		tree.entries[i].path = stage[i].path;
		tree.entries[i].mode = stage[i].mode;
		tree.entries[i].manifest = stage[i].manifest;
		tree.entries[i].one_chunk = stage[i].one_chunk;
		tree.entries[i].size = stage[i].size;
	}
	tree.count = n;
	if ((error = mvm_tree_write(out, repo->db, &tree)) == 0)
		error = same_files(same, repo, &tree, out, parent_tree);
done:
	free(tree.entries);
	mvm_stage_free(stage, n);
	return error;
}

static int split_kv(char **key, const char **value, const char *kv, const char *what)
{
	const char *eq = strchr(kv, '=');

	if (!eq || eq == kv)
		return mvm_error_set(MVM_EUSAGE, "%s '%s' must look like KEY=VALUE", what, kv);
	*key = strndup(kv, (size_t)(eq - kv));
	*value = eq + 1;
	return *key ? 0 : mvm_error_set(MVM_ERROR, "out of memory");
}

static int parse_kvs(mvm_version *v, const mvm_commit_options *o)
{
	const char *val;
	char *end;
	size_t i;
	int error = 0;

	v->params = calloc(o->nparams + 1, sizeof(*v->params));
	v->metrics = calloc(o->nmetrics + 1, sizeof(*v->metrics));
	if (!v->params || !v->metrics)
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < o->nparams && !error; i++)
		if ((error = split_kv(&v->params[i].key, &val, o->params[i], "--param")) == 0) {
			v->params[v->nparams++].value = strdup(val);
		}
	for (i = 0; i < o->nmetrics && !error; i++) {
		if ((error = split_kv(&v->metrics[v->nmetrics].key, &val, o->metrics[i], "--metric")) < 0)
			break;
		errno = 0;
		v->metrics[v->nmetrics++].value = strtod(val, &end);
		if (!*val || *end || errno || !isfinite(v->metrics[v->nmetrics - 1].value))
			error = mvm_error_set(MVM_EUSAGE, "--metric '%s': '%s' is not a finite number", o->metrics[i], val);
	}
	mvm_version_sort(v);
	for (i = 1; i < v->nparams && !error; i++)
		if (!strcmp(v->params[i - 1].key, v->params[i].key))
			error = mvm_error_set(MVM_EUSAGE, "--param %s given twice", v->params[i].key);
	for (i = 1; i < v->nmetrics && !error; i++)
		if (!strcmp(v->metrics[i - 1].key, v->metrics[i].key))
			error = mvm_error_set(MVM_EUSAGE, "--metric %s given twice", v->metrics[i].key);
	return error;
}

/* ---- datasets: rows (lines) of each .jsonl file ---- */

typedef struct {
	int64_t lines;
	char last;
} line_count;

static int count_lines(const void *p, size_t n, void *payload)
{
	line_count *c = payload;
	const char *s = p, *end = s + n;

	while (s < end && (s = memchr(s, '\n', (size_t)(end - s)))) {
		c->lines++;
		s++;
	}
	if (n)
		c->last = ((const char *)p)[n - 1];
	return 0;
}

static int jsonl_rows(int64_t *rows, mvm_repo *repo, const mvm_tree_entry *e)
{
	line_count c = { 0, '\n' };
	mvm_manifest *m = NULL;
	int error;

	if ((error = mvm_manifest_get(&m, repo->db, &e->manifest, e->one_chunk, e->size)) < 0)
		return error;
	error = mvm_manifest_read_range(repo, m, 0, m->size, count_lines, &c);
	*rows = c.lines + (c.last != '\n');
	mvm_manifest_free(m);
	return error;
}

static void dataset_files_free(mvm_dataset_file *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(f[i].path);
	free(f);
}

static int dataset_files(mvm_dataset_file **out, size_t *count, mvm_repo *repo, const mvm_oid *tree_id)
{
	mvm_dataset_file *f = NULL;
	mvm_tree *t = NULL;
	size_t i, n = 0, len;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_tree_read(&t, repo->db, tree_id)) < 0)
		return error;
	if (!(f = calloc(t->count + 1, sizeof(*f))))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < t->count && !error; i++) {
		len = strlen(t->entries[i].path);
		if (len < 6 || strcmp(t->entries[i].path + len - 6, ".jsonl"))
			continue;
		if (!(f[n].path = strdup(t->entries[i].path)))
			error = mvm_error_set(MVM_ERROR, "out of memory");
		else
			error = jsonl_rows(&f[n].rows, repo, &t->entries[i]);
		n++;
	}
	mvm_tree_free(t);
	if (error < 0) {
		dataset_files_free(f, n);
		return error;
	}
	*out = f;
	*count = n;
	return 0;
}

/* After the version is written: its link to a run, its kind and dataset rows. */
static int link_version(mvm_repo *repo, const mvm_version *v, const mvm_oid *id, const mvm_commit_options *o)
{
	mvm_dataset_file *files = NULL;
	size_t n = 0;
	int error;

	if (o->kind && !strcmp(o->kind, "dataset") && (error = dataset_files(&files, &n, repo, &v->tree)) < 0)
		return error;
	error = mvm_runs_link_version(repo->db, v->author, id, o->run, o->kind, files, n);
	dataset_files_free(files, n);
	return error;
}

/* Inside the transaction: build, compare with the parent, write, move HEAD. */
static int commit_locked(mvm_oid *out, mvm_repo *repo, mvm_version *v, const mvm_commit_options *o)
{
	mvm_buf head = MVM_BUF_INIT, enc = MVM_BUF_INIT;
	mvm_version *parent = NULL;
	mvm_oid parent_id;
	int has_parent, same = 0, error;

	if (o->run && (error = mvm_runs_version_fill(v, repo->db, o->run)) < 0)
		goto done;
	if ((error = mvm_head_id(&parent_id, repo)) < 0 && error != MVM_ENOTFOUND)
		goto done;
	has_parent = error == 0;
	if ((has_parent && (error = mvm_version_read(&parent, repo->db, &parent_id)) < 0) ||
	    (error = tree_from_stage(&v->tree, &same, repo, has_parent ? &parent->tree : NULL)) < 0)
		goto done;
	if (same) {
		error = mvm_error_set(MVM_ENOTHING, "nothing to commit: the stage matches HEAD (use 'mvm add PATH' or -a)");
		goto done;
	}
	v->parents = has_parent ? &parent_id : NULL;
	v->nparents = has_parent ? 1 : 0;
	error = mvm_version_encode(&enc, v);
	v->parents = NULL;
	if (error < 0 || (error = mvm_odb_write(out, repo->db, MVM_OBJ_VERSION, &enc)) < 0 ||
	    (error = mvm_db_meta_get(&head, repo->db, "HEAD")) < 0)
		goto done;
	if (!strncmp(head.ptr, "refs/", 5))
		error = mvm_ref_cas(repo, head.ptr, out, has_parent ? &parent_id : NULL, NULL);
	else {
		char hex[MVM_OID_HEXSZ + 1];
		mvm_oid_fmt(hex, out);
		error = mvm_head_set(repo, hex);
	}
	if (!error)
		error = mvm_audit_record_ids(repo, "commit", strncmp(head.ptr, "refs/", 5) ? "HEAD" : head.ptr,
					     has_parent ? &parent_id : NULL, out);
	if (!error)
		error = link_version(repo, v, out, o);
done:
	mvm_version_free(parent);
	mvm_buf_dispose(&head);
	mvm_buf_dispose(&enc);
	return error;
}

int mvm_commit(mvm_oid *out, mvm_repo *repo, const mvm_commit_options *opts)
{
	mvm_version *v = calloc(1, sizeof(*v));
	mvm_buf author = MVM_BUF_INIT;
	int error;

	if (!v)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if (!opts->message || !*opts->message) {
		error = mvm_error_set(MVM_EUSAGE, "a commit needs a message (-m MSG)");
		goto done;
	}
	if (opts->kind && strcmp(opts->kind, "dataset") && strcmp(opts->kind, "model")) {
		error = mvm_error_set(MVM_EUSAGE, "unknown kind '%s' (use dataset or model)", opts->kind);
		goto done;
	}
	if (opts->run < 0) {
		error = mvm_error_set(MVM_EUSAGE, "a run id is a positive number");
		goto done;
	}
	if (opts->run && (error = mvm_runs_exists(repo->db, opts->run)) < 0)
		goto done;  /* before -a stages anything */
	if ((error = parse_kvs(v, opts)) < 0 || (error = mvm_repo_author(&author, repo)) < 0 ||
	    (error = mvm_repo_lock(repo)) < 0)
		goto done;
	if (opts->all && (error = mvm_add_tracked(repo, &opts->work)) < 0)
		goto done;
	v->author = mvm_buf_detach(&author);
	if (!(v->message = strdup(opts->message))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	v->time = (int64_t)time(NULL);
	if ((error = mvm_db_begin(repo->db)) < 0)
		goto done;
	if ((error = commit_locked(out, repo, v, opts)) == 0)
		error = mvm_db_commit(repo->db);
	if (error < 0)
		mvm_db_rollback(repo->db);
done:
	mvm_version_free(v);
	mvm_buf_dispose(&author);
	return error;
}
