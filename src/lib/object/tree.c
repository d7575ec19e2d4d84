/*
 * tree.c: the tree encoding.
 *
 *   "MVMT" u32 version=1 u32 count
 *   { u16 path_len path u32 mode manifest_id[32] u64 size }*
 *
 * Paths are relative, '/'-separated, unique, and sorted bytewise.
 */
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "object.h"

int mvm_tree_encode(mvm_buf *out, const mvm_tree *t)
{
	size_t i;
	int error = 0;

	mvm_buf_clear(out);
	error |= mvm_buf_put(out, "MVMT", 4);
	error |= mvm_put_buf32(out, 1);
	error |= mvm_put_buf32(out, (uint32_t)t->count);
	for (i = 0; i < t->count && !error; i++) {
		const mvm_tree_entry *e = &t->entries[i];
		size_t len = strlen(e->path);

		if (len > UINT16_MAX)
			return mvm_error_set(MVM_ETOOLARGE, "path too long: %.60s...", e->path);
		error |= mvm_put_buf16(out, (uint16_t)len);
		error |= mvm_buf_put(out, e->path, len);
		error |= mvm_put_buf32(out, e->mode);
		error |= mvm_buf_put(out, e->manifest.id, MVM_OID_RAWSZ);
		error |= mvm_put_buf64(out, e->size);
	}
	return error ? MVM_ERROR : 0;
}

/*
 * Paths come from other repositories too (push/pull): only clean relative
 * paths may reach the working tree: no "", ".", ".." or empty components,
 * no leading '/', nothing under .mvm.
 */
static int path_ok(const unsigned char *p, size_t len)
{
	size_t i = 0;

	if (len >= 4 && !memcmp(p, ".mvm", 4) && (len == 4 || p[4] == '/'))
		return 0;
	while (i <= len) {
		size_t j = i;
		while (j < len && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.') || (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = j + 1;
	}
	return !memchr(p, '\0', len);
}

static int take_entry(mvm_tree_entry *e, mvm_cursor *c)
{
	uint16_t len = mvm_cursor_u16(c);
	const unsigned char *p = mvm_cursor_take(c, len);

	if (!p || !len || !path_ok(p, len) || !(e->path = strndup((const char *)p, len)))
		return MVM_ECORRUPT;
	e->mode = mvm_cursor_u32(c);
	if (e->mode != 0644 && e->mode != 0755)
		return MVM_ECORRUPT;
	if (!(p = mvm_cursor_take(c, MVM_OID_RAWSZ)))
		return MVM_ECORRUPT;
	memcpy(e->manifest.id, p, MVM_OID_RAWSZ);
	e->size = mvm_cursor_u64(c);
	return c->bad ? MVM_ECORRUPT : 0;
}

/* A path may not be both a file and a folder ("a" and "a/x"). */
static int file_and_folder(const mvm_tree *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		const char *path = t->entries[i].path, *slash;
		for (slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
			char *prefix = strndup(path, (size_t)(slash - path));
			int clash = !prefix || mvm_tree_find(t, prefix) != NULL;
			free(prefix);
			if (clash)
				return 1;
		}
	}
	return 0;
}

int mvm_tree_decode(mvm_tree **out, const unsigned char *p, size_t n)
{
	mvm_cursor c = { p, n, 0, 0 };
	const unsigned char *magic;
	mvm_tree *t;
	size_t i, count;
	int error = MVM_ECORRUPT;

	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	magic = mvm_cursor_take(&c, 4);
	if (!magic || memcmp(magic, "MVMT", 4) || mvm_cursor_u32(&c) != 1)
		goto done;
	count = mvm_cursor_u32(&c);
	if (count > mvm_cursor_left(&c) / 47)
		goto done;
	if (count && !(t->entries = calloc(count, sizeof(*t->entries))))
		goto done;
	t->count = count; /* only now: mvm_tree_free walks the array */
	for (i = 0; i < t->count; i++) {
		if (take_entry(&t->entries[i], &c) < 0)
			goto done;
		if (i && strcmp(t->entries[i - 1].path, t->entries[i].path) >= 0)
			goto done;
	}
	if (c.pos == n && !file_and_folder(t))
		error = 0;
done:
	if (error < 0) {
		mvm_tree_free(t);
		return mvm_error_set(error, "tree is malformed");
	}
	*out = t;
	return 0;
}

void mvm_tree_free(mvm_tree *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->count; i++)
		free(t->entries[i].path);
	free(t->entries);
	free(t);
}

const mvm_tree_entry *mvm_tree_find(const mvm_tree *t, const char *path)
{
	size_t lo = 0, hi = t->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->entries[mid].path, path);
		if (!c)
			return &t->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
