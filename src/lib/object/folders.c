/*
 * folders.c: a version's file list stored as one tree object per folder,
 * as git does: a commit that changes files in a few folders writes only
 * those folders and the ones above them, and versions share the rest (a
 * flat list of 20k files rewrote ~1 MB per version). Callers see one flat
 * list of full paths (mvm_tree); this file splits it into folder objects
 * and joins them back.
 */
#include <stdlib.h>
#include <string.h>

#include "util/array.h"
#include "object.h"

typedef struct {
	mvm_db *db;
	mvm_buf enc;
} folder_writer;

static void folder_entries_free(mvm_tree *t)
{
	size_t i;

	for (i = 0; i < t->count; i++)
		if (t->entries[i].mode == MVM_TREE_FOLDER)
			free(t->entries[i].path); /* file names point into the caller's paths */
	free(t->entries);
}

/* What the reader would refuse, or what this writer would take for a folder. */
static int file_ok(const mvm_tree_entry *f)
{
	size_t len = strlen(f->path);

	if (f->mode != 0644 && f->mode != 0755)
		return mvm_error_set(MVM_ERROR, "'%s' has mode %o; a tree holds files of 0644 or 0755", f->path,
				     f->mode);
	if (len > UINT16_MAX || !mvm_tree_path_ok((const unsigned char *)f->path, len))
		return mvm_error_set(MVM_ERROR, "'%.60s' cannot be stored as a path", f->path);
	return 0;
}

/* End of the run of files from i on that lie in the sub-folder named by files[i]'s next `len` bytes. */
static size_t folder_end(const mvm_tree_entry *files, size_t n, size_t i, size_t skip, size_t len)
{
	size_t j;

	for (j = i + 1; j < n && !strncmp(files[j].path + skip, files[i].path + skip, len + 1); j++)
		;
	return j;
}

/* Entries of the folder holding files[0, n): its files and its sub-folders. */
static size_t count_entries(const mvm_tree_entry *files, size_t n, size_t skip)
{
	size_t i = 0, count = 0;

	while (i < n) {
		const char *slash = strchr(files[i].path + skip, '/');
		i = slash ? folder_end(files, n, i, skip, (size_t)(slash - files[i].path - skip)) : i + 1;
		count++;
	}
	return count;
}

/*
 * Write the folder holding files[0, n), whose paths all start with the
 * folder's path of `skip` bytes. A sorted list keeps each sub-folder's
 * files together, in the order its object lists them.
 */
static int write_folder(mvm_oid *id, uint64_t *bytes, folder_writer *w, const mvm_tree_entry *files, size_t n,
			size_t skip, unsigned int depth)
{
	mvm_tree t = { calloc(count_entries(files, n, skip) + 1, sizeof(mvm_tree_entry)), 0 };
	size_t i = 0, j, len;
	int error = 0;

	*bytes = 0;
	if (!t.entries)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if (depth > MVM_TREE_MAX_DEPTH)
		error = mvm_error_set(MVM_ETOOLARGE, "'%s' is more than %d folders deep", files[0].path,
				      MVM_TREE_MAX_DEPTH);
	while (i < n && !error) {
		const char *name = files[i].path + skip, *slash = strchr(name, '/');
		mvm_tree_entry *e = &t.entries[t.count];

		if (!slash) {
			if ((error = file_ok(&files[i])) < 0)
				break;
			*e = files[i++];
			e->path = (char *)name;
			t.count++;
			*bytes += e->size;
			continue;
		}
		len = (size_t)(slash - name);
		j = folder_end(files, n, i, skip, len);
		memset(e, 0, sizeof(*e));
		e->mode = MVM_TREE_FOLDER;
		if (!(e->path = strndup(name, len)))
			error = mvm_error_set(MVM_ERROR, "out of memory");
		t.count++;
		if (!error && (error = write_folder(&e->manifest, &e->size, w, files + i, j - i, skip + len + 1,
						    depth + 1)) == 0)
			*bytes += e->size;
		i = j;
	}
	if (!error && (error = mvm_tree_encode(&w->enc, &t)) == 0)
		error = mvm_odb_write(id, w->db, MVM_OBJ_TREE, &w->enc);
	folder_entries_free(&t);
	return error;
}

int mvm_tree_write(mvm_oid *out, mvm_db *db, const mvm_tree *files)
{
	folder_writer w = { db, MVM_BUF_INIT };
	uint64_t bytes;
	int error = write_folder(out, &bytes, &w, files->entries, files->count, 0, 0);

	mvm_buf_dispose(&w.enc);
	return error;
}

typedef struct {
	mvm_db *db;
	mvm_tree *out;
	size_t cap;
	mvm_buf raw, path;
} folder_reader;

static int push_file(folder_reader *r, const mvm_tree_entry *e)
{
	mvm_tree *t = r->out;
	int error;

	if ((error = mvm_array_grow(&t->entries, &r->cap, t->count, sizeof(*t->entries), 64)) < 0)
		return error;
	if (t->count == MVM_TREE_MAX_FILES)
		return mvm_error_set(MVM_ETOOLARGE, "tree lists more than %d files", MVM_TREE_MAX_FILES);
	t->entries[t->count] = *e;
	if (!(t->entries[t->count].path = strdup(r->path.ptr)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	t->count++;
	if (r->path.size > UINT16_MAX || !mvm_tree_path_ok((const unsigned char *)r->path.ptr, r->path.size))
		return mvm_error_set(MVM_ECORRUPT, "tree is malformed: bad path '%.60s'", r->path.ptr);
	return 0;
}

static int read_folder(folder_reader *r, const mvm_oid *id, uint64_t *bytes, unsigned int depth);

static int read_entries(folder_reader *r, const mvm_tree *t, uint64_t *bytes, unsigned int depth)
{
	size_t at = r->path.size, i;
	uint64_t sub = 0;
	int error = 0;

	*bytes = 0;
	for (i = 0; i < t->count && !error; i++) {
		const mvm_tree_entry *e = &t->entries[i];
		mvm_buf_truncate(&r->path, at);
		if ((error = mvm_buf_puts(&r->path, e->path)) < 0)
			break;
		if (e->mode != MVM_TREE_FOLDER) {
			error = push_file(r, e);
			*bytes += e->size;
		} else if ((error = mvm_buf_putc(&r->path, '/')) == 0 &&
			   (error = read_folder(r, &e->manifest, &sub, depth + 1)) == 0) {
			if (sub != e->size)
				error = mvm_error_set(MVM_ECORRUPT, "tree is malformed: folder '%s' size", r->path.ptr);
			*bytes += sub;
		}
	}
	mvm_buf_truncate(&r->path, at);
	return error;
}

/* A folder below the root is version 2 and not empty (as mvm_tree_write makes it). */
static int read_folder(folder_reader *r, const mvm_oid *id, uint64_t *bytes, unsigned int depth)
{
	mvm_tree *t = NULL;
	int error;

	if (depth > MVM_TREE_MAX_DEPTH)
		return mvm_error_set(MVM_ETOOLARGE, "tree is more than %d folders deep", MVM_TREE_MAX_DEPTH);
	if ((error = mvm_odb_read(&r->raw, r->db, MVM_OBJ_TREE, id)) < 0 ||
	    (error = mvm_tree_decode(&t, (const unsigned char *)r->raw.ptr, r->raw.size)) < 0)
		return depth ? mvm_error_wrap(error, "folder '%s'", r->path.ptr) : error;
	if (depth && (r->raw.ptr[4] != 2 || !t->count))
		error = mvm_error_set(MVM_ECORRUPT, "tree is malformed: folder '%s'", r->path.ptr);
	else
		error = read_entries(r, t, bytes, depth);
	mvm_tree_free(t);
	return error;
}

int mvm_tree_read(mvm_tree **out, mvm_db *db, const mvm_oid *id)
{
	folder_reader r = { db, calloc(1, sizeof(mvm_tree)), 0, MVM_BUF_INIT, MVM_BUF_INIT };
	uint64_t bytes;
	int error;

	*out = NULL;
	if (!r.out)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = mvm_buf_puts(&r.path, "")) == 0)
		error = read_folder(&r, id, &bytes, 0);
	mvm_buf_dispose(&r.raw);
	mvm_buf_dispose(&r.path);
	if (error < 0) {
		mvm_tree_free(r.out);
		return error;
	}
	*out = r.out;
	return 0;
}
