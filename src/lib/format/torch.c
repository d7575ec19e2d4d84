/*
 * torch.c: PyTorch checkpoints (torch.save's zip archive) as tensor files.
 *
 * The archive holds PREFIX/data.pkl, a pickle of the saved object, and
 * one entry PREFIX/data/KEY per tensor storage, its raw little-endian
 * bytes stored as they are. pickle.c says which storages the pickle
 * loads, with their dtypes and the names and shapes of the tensors on
 * them; each becomes one tensor of the table at its entry's bytes (a
 * storage named by no tensor is data/KEY). A storage whose entry is
 * missing, compressed or of another size, a pickle it cannot read, or no
 * storage at all makes the file plain bytes (it is only ever sniffed),
 * never an error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "pickle.h"
#include "zip.h"

#define PICKLE_MAX (64u << 20)

static int is_data_entry(const char *entry)
{
	const char *slash = strchr(entry, '/');

	return slash && (!strncmp(slash, "/data/", 6) || !strcmp(slash, "/data.pkl"));
}

/* The stored PREFIX/data/KEY entries, sorted by KEY. */
static mvm_keyref *data_entries(const mvm_zip_entry *e, size_t n, const char *prefix, size_t plen, size_t *count)
{
	mvm_keyref *r = malloc((n ? n : 1) * sizeof(*r));
	size_t i;

	*count = 0;
	for (i = 0; r && i < n; i++) {
		if (strncmp(e[i].name, prefix, plen) || strncmp(e[i].name + plen, "data/", 5))
			continue;
		r[*count].p = (const unsigned char *)e[i].name + plen + 5;
		r[*count].len = strlen(e[i].name + plen + 5);
		r[(*count)++].idx = i;
	}
	if (r)
		qsort(r, *count, sizeof(*r), mvm_keyref_cmp_index);
	return r;
}

/* A storage as a tensor of the table: its entry's bytes, its dtype, its tensor's name and shape. */
static int storage_tensor(mvm_tensor_info *t, const mvm_torch_storage *st, const mvm_zip_entry *z)
{
	size_t size = mvm_dtype_size(st->dtype);
	char key[64];

	if (!z || !z->stored || (st->numel && z->size / st->numel != size) || z->size != st->numel * size)
		return -1;
	memset(t, 0, sizeof(*t));
	snprintf(t->dtype, sizeof(t->dtype), "%s", st->dtype);
	t->offset = z->offset;
	t->length = z->size;
	t->ndim = st->ndim ? st->ndim : 1;
	if (st->ndim)
		memcpy(t->shape, st->shape, sizeof(t->shape));
	else
		t->shape[0] = st->numel;
	if (st->name)
		t->name = strdup(st->name);
	else if (snprintf(key, sizeof(key), "data/%.*s", (int)(st->key_len < 40 ? st->key_len : 40),
			  (const char *)st->key) > 0)
		t->name = strdup(key);
	return t->name ? 0 : -1;
}

static int cmp_info_name(const void *a, const void *b)
{
	return strcmp((*(mvm_tensor_info *const *)a)->name, (*(mvm_tensor_info *const *)b)->name);
}

/*
 * Names the pickle gave twice (tensors of objects it does not follow, or
 * keys that differ only after a NUL) take their storage's key as well.
 */
static int unique_names(mvm_tensor_table *t, const char **keys)
{
	mvm_tensor_info **v;
	size_t i, j;
	int error = 0;

	if (t->count < 2)
		return 0;
	if (!(v = malloc(t->count * sizeof(*v))))
		return -1;
	for (i = 0; i < t->count; i++)
		v[i] = &t->tensors[i];
	qsort(v, t->count, sizeof(*v), cmp_info_name);
	for (i = 0; i < t->count && !error; i = j) {
		size_t g = i;

		for (j = i + 1; j < t->count && !strcmp(v[i]->name, v[j]->name); j++)
			;
		for (; j - g > 1 && i < j && !error; i++) {
			size_t k = (size_t)(v[i] - t->tensors), a = strlen(v[i]->name), b = strlen(keys[k]);
			char *s = malloc(a + b + 2);

			if (!s) {
				error = -1;
				break;
			}
			memcpy(s, v[i]->name, a);
			s[a] = '@';
			memcpy(s + a + 1, keys[k], b + 1);
			free(v[i]->name);
			v[i]->name = s;
		}
	}
	free(v);
	return error;
}

/* One tensor per storage, at its PREFIX/data/KEY entry; none at all is not a checkpoint. */
static int build_table(mvm_tensor_table *out, const mvm_torch_storage *st, size_t count, const mvm_zip_entry *e,
		       size_t n, const char *prefix, size_t plen)
{
	size_t k, nentries;
	const char **keys = malloc((count ? count : 1) * sizeof(*keys));
	mvm_keyref *entries = data_entries(e, n, prefix, plen, &nentries);
	int error = -1;

	if (!keys || !entries || !count || !(out->tensors = calloc(count, sizeof(*out->tensors))))
		goto done;
	for (k = 0; k < count; k++) {
		mvm_keyref want = { st[k].key, st[k].key_len, 0 }, *hit;
		const mvm_zip_entry *z;

		hit = bsearch(&want, entries, nentries, sizeof(*entries), mvm_keyref_cmp);
		z = hit ? &e[hit->idx] : NULL;
		if (storage_tensor(&out->tensors[out->count], &st[k], z) < 0)
			goto done;
		keys[out->count++] = z->name + plen + 5; /* after PREFIX/data/ */
		if (!out->data_start || z->offset < out->data_start)
			out->data_start = z->offset;
	}
	out->format = MVM_FORMAT_TORCH;
	error = unique_names(out, keys);
done:
	free(keys);
	free(entries);
	return error;
}

int mvm_torch_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	mvm_zip_entry *e = NULL;
	const mvm_zip_entry *pkl = NULL;
	mvm_torch_storage *st = NULL;
	unsigned char *pickle = NULL;
	size_t n = 0, i, plen = 0, count = 0;
	int error;

	if ((error = mvm_zip_entries(&e, &n, name, file_size, read, ctx, is_data_entry)) < 0)
		return error;
	for (i = 0; i < n && !pkl; i++) {
		const char *slash = strchr(e[i].name, '/');
		if (slash && !strcmp(slash, "/data.pkl")) {
			pkl = &e[i];
			plen = (size_t)(slash + 1 - e[i].name);
		}
	}
	error = mvm_error_set(MVM_EFORMAT, "%s: not a PyTorch archive mvm can read", name);
	if (!pkl || !pkl->stored || pkl->size > PICKLE_MAX || !(pickle = malloc(pkl->size ? (size_t)pkl->size : 1)))
		goto done;
	if ((error = read(ctx, pickle, (size_t)pkl->size, pkl->offset)) < 0)
		goto done;
	if (mvm_pickle_storages(&st, &count, pickle, (size_t)pkl->size) < 0 ||
	    build_table(out, st, count, e, n, pkl->name, plen) < 0) {
		error = mvm_error_set(MVM_EFORMAT, "%s: not a PyTorch archive mvm can read", name);
		goto done;
	}
	mvm_error_clear();
	error = mvm_tensor_table__finish(out, name, file_size);
done:
	mvm_pickle_storages_free(st, count);
	free(pickle);
	mvm_zip_entries_free(e, n);
	return error;
}
