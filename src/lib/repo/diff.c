/*
 * diff.c: file- and tensor-level comparison of two versions, or of a
 * version and the working tree. Statuses come from manifests alone; with
 * stats, the data of modified F32/F16/BF16 tensors is streamed from the
 * store (or the working file) in blocks and compared in double precision.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/inspect.h"
#include "object/object.h"
#include "util/fs.h"
#include "diff_internal.h"

const char *mvm_diff_status_name(mvm_diff_status s)
{
	static const char *names[] = { "added", "removed", "modified", "dtype_changed", "shape_changed" };
	return names[s];
}

/* Everything the diff borrows pointers into lives here until mvm_diff_free. */
typedef struct {
	mvm_manifest **manifests;
	size_t n;
	char **abs_paths;         /* working-tree file per manifest (or NULL) */
} diff_priv;

static int keep_manifest(diff_priv *p, mvm_manifest *m, const char *abs)
{
	mvm_manifest **nm = realloc(p->manifests, (p->n + 1) * sizeof(*nm));
	char **na = realloc(p->abs_paths, (p->n + 1) * sizeof(*na));

	if (nm)
		p->manifests = nm;
	if (na)
		p->abs_paths = na;
	if (!nm || !na) {
		mvm_manifest_free(m);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	p->manifests[p->n] = m;
	p->abs_paths[p->n++] = abs ? strdup(abs) : NULL;
	return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp((*(const mvm_tensor *const *)a)->name, (*(const mvm_tensor *const *)b)->name);
}

static int sorted_tensors(const mvm_tensor ***out, const mvm_manifest *m)
{
	size_t i;

	*out = NULL;
	if (!m || !m->ntensors)
		return 0;
	if (!(*out = malloc(m->ntensors * sizeof(**out))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < m->ntensors; i++)
		(*out)[i] = &m->tensors[i];
	qsort(*out, m->ntensors, sizeof(**out), cmp_tensor_name);
	return 0;
}

static int same_shape(const mvm_tensor *a, const mvm_tensor *b)
{
	return a->ndim == b->ndim && !memcmp(a->shape, b->shape, a->ndim * sizeof(uint64_t));
}

static int push_tensor(mvm_file_diff *f, const mvm_tensor *a, const mvm_tensor *b, mvm_diff_status s)
{
	mvm_tensor_diff *nt = realloc(f->tensors, (f->ntensors + 1) * sizeof(*nt));

	if (!nt)
		return mvm_error_set(MVM_ERROR, "out of memory");
	f->tensors = nt;
	memset(&nt[f->ntensors], 0, sizeof(*nt));
	nt[f->ntensors].name = strdup((a ? a : b)->name);
	nt[f->ntensors].status = s;
	nt[f->ntensors].a = a;
	nt[f->ntensors++].b = b;
	return 0;
}

/* Changed tensors of one file, by name. */
static int diff_tensors(mvm_file_diff *f, const mvm_manifest *ma, const mvm_manifest *mb)
{
	const mvm_tensor **ta = NULL, **tb = NULL;
	size_t na = ma ? ma->ntensors : 0, nb = mb ? mb->ntensors : 0, i = 0, j = 0;
	int error;

	if ((error = sorted_tensors(&ta, ma)) < 0 || (error = sorted_tensors(&tb, mb)) < 0)
		goto done;
	while (!error && (i < na || j < nb)) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(ta[i]->name, tb[j]->name);
		if (c < 0)
			error = push_tensor(f, ta[i++], NULL, MVM_DIFF_REMOVED);
		else if (c > 0)
			error = push_tensor(f, NULL, tb[j++], MVM_DIFF_ADDED);
		else {
			const mvm_tensor *a = ta[i++], *b = tb[j++];
			if (strcmp(a->dtype, b->dtype))
				error = push_tensor(f, a, b, MVM_DIFF_DTYPE_CHANGED);
			else if (!same_shape(a, b))
				error = push_tensor(f, a, b, MVM_DIFF_SHAPE_CHANGED);
			else if (mvm_oid_cmp(&a->sha, &b->sha))
				error = push_tensor(f, a, b, MVM_DIFF_MODIFIED);
		}
	}
done:
	free(ta);
	free(tb);
	return error;
}

static int path_selected(const mvm_diff_options *o, const char *path)
{
	size_t i;

	if (!o || !o->npaths)
		return 1;
	for (i = 0; i < o->npaths; i++) {
		size_t n = strlen(o->paths[i]);
		while (n && o->paths[i][n - 1] == '/')
			n--;
		if (!strncmp(path, o->paths[i], n) && (path[n] == '\0' || path[n] == '/'))
			return 1;
	}
	return 0;
}

static int push_file(mvm_diff *d, const char *path, mvm_diff_status s, const mvm_manifest *ma,
		     const mvm_manifest *mb)
{
	mvm_file_diff *nf = realloc(d->files, (d->nfiles + 1) * sizeof(*nf)), *f;

	if (!nf)
		return mvm_error_set(MVM_ERROR, "out of memory");
	d->files = nf;
	f = &nf[d->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->status = s;
	f->size_a = ma ? ma->size : 0;
	f->size_b = mb ? mb->size : 0;
	f->is_tensor_file = (ma && ma->format) || (mb && mb->format);
	f->manifest_a = ma;
	f->manifest_b = mb;
	return f->is_tensor_file ? diff_tensors(f, ma, mb) : 0;
}

static int load_side(mvm_manifest **out, diff_priv *p, mvm_repo *repo, mvm_diff_side *side, size_t k)
{
	mvm_diff_side_entry *e = &side->entries[k];
	mvm_manifest *m = NULL;
	int error;

	*out = NULL;
	if (e->scanned) {
		m = e->scanned;
		e->scanned = NULL;
	} else if ((error = mvm_manifest_get(&m, repo->db, &e->manifest, e->one_chunk, e->size)) < 0) {
		return error;
	}
	if ((error = keep_manifest(p, m, e->abs)) < 0)
		return error;
	*out = m;
	return 0;
}

/* File SHA-256 of an entry, reading its manifest when it is not known yet. */
static int entry_sha(mvm_oid *out, mvm_repo *repo, mvm_diff_side_entry *e)
{
	int error;

	if (mvm_oid_is_zero(&e->sha) && (error = mvm_manifest_file_sha(&e->sha, repo->db, &e->manifest, e->one_chunk)) < 0)
		return error;
	*out = e->sha;
	return 0;
}

/* Same content (1) or not (0): same manifest, or (against the working tree) the same file SHA-256. */
static int same_content(mvm_repo *repo, mvm_diff_side_entry *a, mvm_diff_side_entry *b)
{
	mvm_oid sa, sb;
	int error;

	if (!a->scanned && !b->scanned)
		return mvm_manifest_same_file(repo->db, &a->manifest, a->one_chunk, &b->manifest, b->one_chunk);
	if ((error = entry_sha(&sa, repo, a)) < 0 || (error = entry_sha(&sb, repo, b)) < 0)
		return error;
	return !mvm_oid_cmp(&sa, &sb);
}

static int compare_sides(mvm_diff *d, mvm_repo *repo, mvm_diff_side *a, mvm_diff_side *b,
			 const mvm_diff_options *o)
{
	diff_priv *p = d->priv;
	size_t i = 0, j = 0;
	int error = 0;

	while (!error && (i < a->count || j < b->count)) {
		int c = i == a->count ? 1 : j == b->count ? -1 : strcmp(a->entries[i].path, b->entries[j].path);
		const char *path = c <= 0 ? a->entries[i].path : b->entries[j].path;
		mvm_manifest *ma = NULL, *mb = NULL;
		int same = 0;

		if (path_selected(o, path) && c == 0 && (same = same_content(repo, &a->entries[i], &b->entries[j])) < 0) {
			error = same;
			break;
		}
		if (!path_selected(o, path) || same) {
			i += c <= 0;
			j += c >= 0;
			continue;
		}
		if ((c <= 0 && (error = load_side(&ma, p, repo, a, i)) < 0) ||
		    (c >= 0 && (error = load_side(&mb, p, repo, b, j)) < 0))
			break;
		error = push_file(d, path, c < 0 ? MVM_DIFF_REMOVED : c > 0 ? MVM_DIFF_ADDED : MVM_DIFF_MODIFIED,
				  ma, mb);
		i += c <= 0;
		j += c >= 0;
	}
	return error;
}

/* Working-tree path a manifest was scanned from, or NULL when it is stored. */
static const char *abs_of(const diff_priv *p, const mvm_manifest *m)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->manifests[i] == m)
			return p->abs_paths[i];
	return NULL;
}

static int fill_stats(mvm_diff *d, mvm_repo *repo)
{
	diff_priv *p = d->priv;
	size_t i, k;
	int error = 0;

	for (i = 0; i < d->nfiles && !error; i++) {
		mvm_file_diff *f = &d->files[i];
		for (k = 0; k < f->ntensors && !error; k++) {
			mvm_tensor_diff *t = &f->tensors[k];
			mvm_tensor_source sa, sb;

			if (t->status != MVM_DIFF_MODIFIED || !mvm_tensor_stats_supported(t->a->dtype))
				continue;
			sa = (mvm_tensor_source){ repo, f->manifest_a, abs_of(p, f->manifest_a) };
			sb = (mvm_tensor_source){ repo, f->manifest_b, abs_of(p, f->manifest_b) };
			error = mvm_tensor_stats(t, &sa, &sb);
		}
	}
	return error;
}

int mvm_diff_versions(mvm_diff **out, mvm_repo *repo, const mvm_oid *a, const mvm_oid *b,
		      const mvm_diff_options *opts)
{
	mvm_diff_side sa = { NULL, 0 }, sb = { NULL, 0 };
	mvm_diff *d;
	int error;

	*out = NULL;
	if (!(d = calloc(1, sizeof(*d))) || !(d->priv = calloc(1, sizeof(diff_priv)))) {
		free(d);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	if ((error = mvm_diff_side_version(&sa, repo, a)) < 0 ||
	    (error = b ? mvm_diff_side_version(&sb, repo, b) : mvm_diff_side_worktree(&sb, repo)) < 0 ||
	    (error = compare_sides(d, repo, &sa, &sb, opts)) < 0 ||
	    (opts && opts->stats && (error = fill_stats(d, repo)) < 0)) {
		mvm_diff_free(d);
		d = NULL;
	}
	mvm_diff_side_dispose(&sa);
	mvm_diff_side_dispose(&sb);
	*out = d;
	return error;
}

void mvm_diff_free(mvm_diff *d)
{
	diff_priv *p;
	size_t i, k;

	if (!d)
		return;
	for (i = 0; i < d->nfiles; i++) {
		for (k = 0; k < d->files[i].ntensors; k++)
			free(d->files[i].tensors[k].name);
		free(d->files[i].tensors);
		free(d->files[i].path);
	}
	free(d->files);
	if ((p = d->priv)) {
		for (i = 0; i < p->n; i++) {
			mvm_manifest_free(p->manifests[i]);
			free(p->abs_paths[i]);
		}
		free(p->manifests);
		free(p->abs_paths);
		free(p);
	}
	free(d);
}
