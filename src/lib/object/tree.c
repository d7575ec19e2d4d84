/*
 * tree.c: the encoding of one tree object: the files and sub-folders of
 * one folder (folders.c turns a version's flat file list into these and
 * back).
 *
 *   "MVMT" u32 version=2 u32 count
 *   { varint shared varint suffix_len suffix u8 flags id[32] varint size }*
 *
 * Each name is the first `shared` bytes of the name before it followed by
 * `suffix`. flags: 1 executable (mode 0755, else 0644); 2 one chunk (`id`
 * is the file's only chunk, which is also its SHA-256; no manifest object
 * exists); 4 folder (`id` is the folder's tree, `size` the bytes of the
 * files under it; no other flag). Entries are sorted by name, a folder's
 * name compared as if it ended in '/' (so a depth-first walk lists full
 * paths in bytewise order), and a name is not both a file and a folder.
 *
 * Version 1 (read only, from before folders were objects): one object
 * lists every path, { u16 path_len path u32 mode manifest_id[32] u64 size }*,
 * paths relative, '/'-separated, unique and sorted bytewise.
 */
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "object.h"

#define FLAG_EXEC 1u
#define FLAG_ONE_CHUNK 2u
#define FLAG_FOLDER 4u

static size_t shared_prefix(const char *a, const char *b)
{
	size_t n = 0;

	while (a[n] && a[n] == b[n])
		n++;
	return n;
}

/* One path component: not empty, ".", ".." and without '/' or NUL. */
static int name_ok(const char *p, size_t len)
{
	return len && !(len == 1 && p[0] == '.') && !(len == 2 && p[0] == '.' && p[1] == '.') &&
	       !memchr(p, '/', len) && !memchr(p, '\0', len);
}

/* Order of entries in a version-2 object: by name, a folder's as if it ended in '/'. */
static int key_cmp(const mvm_tree_entry *a, const mvm_tree_entry *b)
{
	const unsigned char *x = (const unsigned char *)a->path, *y = (const unsigned char *)b->path;
	int cx, cy;

	while (*x && *x == *y)
		x++, y++;
	cx = *x ? *x : a->mode == MVM_TREE_FOLDER ? '/' : 0;
	cy = *y ? *y : b->mode == MVM_TREE_FOLDER ? '/' : 0;
	if (cx != cy || (!*x && !*y))
		return cx - cy;
	return !*x ? -1 : 1; /* one name ends in the implied '/', the other goes on with '/' */
}

/* A folder whose name a file also has (their keys differ, so they need not be neighbours). */
static const char *name_clash(const mvm_tree *t)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		mvm_tree_entry file = t->entries[i];
		size_t lo = 0, hi = t->count;
		if (file.mode != MVM_TREE_FOLDER)
			continue;
		file.mode = 0644;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = key_cmp(&t->entries[mid], &file);
			if (!c)
				return file.path;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return NULL;
}

static int entry_flags(unsigned int *flags, const mvm_tree_entry *e)
{
	if (e->one_chunk && !mvm_manifest_one_chunk_ok(&e->manifest, e->size))
		return mvm_error_set(MVM_ERROR, "'%s' cannot be one chunk of %llu bytes", e->path,
				     (unsigned long long)e->size);
	if (e->mode == MVM_TREE_FOLDER && !e->one_chunk)
		*flags = FLAG_FOLDER;
	else if (e->mode == 0644 || e->mode == 0755)
		*flags = (e->mode == 0755 ? FLAG_EXEC : 0) | (e->one_chunk ? FLAG_ONE_CHUNK : 0);
	else
		return mvm_error_set(MVM_ERROR, "'%s' has mode %o; a tree holds 0644 or 0755 files and folders",
				     e->path, e->mode);
	return 0;
}

int mvm_tree_encode(mvm_buf *out, const mvm_tree *t)
{
	const char *prev = "", *clash;
	unsigned int flags = 0;
	size_t i;
	int error = 0;

	mvm_buf_clear(out);
	error |= mvm_buf_put(out, "MVMT", 4);
	error |= mvm_put_buf32(out, 2);
	error |= mvm_put_buf32(out, (uint32_t)t->count);
	for (i = 0; i < t->count && !error; i++) {
		const mvm_tree_entry *e = &t->entries[i];
		size_t len = strlen(e->path), shared = shared_prefix(prev, e->path);

		if (len > UINT16_MAX || !name_ok(e->path, len))
			return mvm_error_set(MVM_ERROR, "'%.60s' cannot be a file or folder name", e->path);
		if (i && key_cmp(&t->entries[i - 1], e) >= 0)
			return mvm_error_set(MVM_ERROR, "tree entries out of order at '%s'", e->path);
		if ((error = entry_flags(&flags, e)) < 0)
			return error;
		error |= mvm_put_bufvarint(out, shared);
		error |= mvm_put_bufvarint(out, len - shared);
		error |= mvm_buf_put(out, e->path + shared, len - shared);
		error |= mvm_buf_putc(out, (char)flags);
		error |= mvm_buf_put(out, e->manifest.id, MVM_OID_RAWSZ);
		error |= mvm_put_bufvarint(out, e->size);
		prev = e->path;
	}
	if (!error && (clash = name_clash(t)))
		return mvm_error_set(MVM_ERROR, "'%s' is both a file and a folder", clash);
	return error ? MVM_ERROR : 0;
}

/*
 * Paths come from other repositories too (push/pull): only clean relative
 * paths may reach the working tree: no "", ".", ".." or empty components,
 * no leading '/', nothing under .mvm.
 */
int mvm_tree_path_ok(const unsigned char *p, size_t len)
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

static int take_entry_v1(mvm_tree_entry *e, mvm_cursor *c)
{
	uint16_t len = mvm_cursor_u16(c);
	const unsigned char *p = mvm_cursor_take(c, len);

	if (!p || !len || !mvm_tree_path_ok(p, len) || !(e->path = strndup((const char *)p, len)))
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

static int take_entry_v2(mvm_tree_entry *e, mvm_cursor *c, const char *prev)
{
	uint64_t shared = mvm_cursor_varint(c), suffix = mvm_cursor_varint(c);
	const unsigned char *p;
	unsigned int flags;

	if (c->bad || shared > strlen(prev) || suffix > UINT16_MAX - shared ||
	    !(p = mvm_cursor_take(c, (size_t)suffix)) || !(e->path = malloc((size_t)(shared + suffix + 1))))
		return MVM_ECORRUPT;
	if (shared < strlen(prev) && suffix && (unsigned char)prev[shared] == p[0])
		return MVM_ECORRUPT; /* shares less than it could: one tree, one encoding */
	memcpy(e->path, prev, (size_t)shared);
	memcpy(e->path + shared, p, (size_t)suffix);
	e->path[shared + suffix] = '\0';
	if (!name_ok(e->path, (size_t)(shared + suffix)) || !(p = mvm_cursor_take(c, 1)) ||
	    ((flags = *p) & FLAG_FOLDER ? flags != FLAG_FOLDER : flags > (FLAG_EXEC | FLAG_ONE_CHUNK)))
		return MVM_ECORRUPT;
	e->mode = (flags & FLAG_FOLDER) ? MVM_TREE_FOLDER : (flags & FLAG_EXEC) ? 0755 : 0644;
	e->one_chunk = (flags & FLAG_ONE_CHUNK) != 0;
	if (!(p = mvm_cursor_take(c, MVM_OID_RAWSZ)))
		return MVM_ECORRUPT;
	memcpy(e->manifest.id, p, MVM_OID_RAWSZ);
	e->size = mvm_cursor_varint(c);
	return c->bad || (e->one_chunk && !mvm_manifest_one_chunk_ok(&e->manifest, e->size)) ? MVM_ECORRUPT : 0;
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
	uint32_t version;
	int error = MVM_ECORRUPT;

	*out = NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	magic = mvm_cursor_take(&c, 4);
	if (!magic || memcmp(magic, "MVMT", 4))
		goto done;
	version = mvm_cursor_u32(&c);
	count = mvm_cursor_u32(&c);
	if ((version != 1 && version != 2) || count > mvm_cursor_left(&c) / (version == 1 ? 47 : 37))
		goto done;
	if (count && !(t->entries = calloc(count, sizeof(*t->entries))))
		goto done;
	t->count = count; /* only now: mvm_tree_free walks the array */
	for (i = 0; i < t->count; i++) {
		if ((version == 1 ? take_entry_v1(&t->entries[i], &c)
				  : take_entry_v2(&t->entries[i], &c, i ? t->entries[i - 1].path : "")) < 0)
			goto done;
		if (i && (version == 1 ? strcmp(t->entries[i - 1].path, t->entries[i].path)
				       : key_cmp(&t->entries[i - 1], &t->entries[i])) >= 0)
			goto done;
	}
	if (!c.bad && c.pos == n && !(version == 1 ? file_and_folder(t) : name_clash(t) != NULL))
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
