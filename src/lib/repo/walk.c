/*
 * walk.c: sorted recursive walk of the working tree.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#include "walk.h"

int mvm_is_checkout_temp(const char *name)
{
	return name[0] == '.' && strstr(name, ".mvm-tmp-") != NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(char ***out, size_t *n, const char *abs)
{
	struct dirent *e;
	size_t cap = 0;
	char **names = NULL;
	DIR *d;

	*n = 0;
	if (!(d = opendir(abs)))
		return mvm_error_set(MVM_ERROR, "cannot read folder %s: %s", abs, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || mvm_is_checkout_temp(e->d_name))
			continue;
		if (*n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(char *));
			if (!nn)
				break;
			names = nn;
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(names, *n, sizeof(char *), cmp_str);
	*out = names;
	return 0;
}

static int walk_dir(mvm_repo *repo, const char *rel, mvm_walk_cb cb, void *payload)
{
	mvm_buf abs = MVM_BUF_INIT, child = MVM_BUF_INIT, child_abs = MVM_BUF_INIT;
	char **names = NULL;
	size_t n = 0, i;
	struct stat st;
	int error;

	if ((error = mvm_repo_abspath(&abs, repo, rel)) < 0 || (error = list_dir(&names, &n, abs.ptr)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++) {
		if (!*rel && !strcmp(names[i], ".mvm"))
			continue;
		mvm_buf_clear(&child);
		if ((error = *rel ? mvm_buf_printf(&child, "%s/%s", rel, names[i]) : mvm_buf_puts(&child, names[i])) < 0 ||
		    (error = mvm_repo_abspath(&child_abs, repo, child.ptr)) < 0)
			break;
		if (lstat(child_abs.ptr, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			error = walk_dir(repo, child.ptr, cb, payload);
		else if (S_ISREG(st.st_mode))
			error = cb(child.ptr, &st, payload);
	}
done:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	mvm_buf_dispose(&abs);
	mvm_buf_dispose(&child);
	mvm_buf_dispose(&child_abs);
	return error;
}

int mvm_walk(mvm_repo *repo, const char *rel, mvm_walk_cb cb, void *payload)
{
	return walk_dir(repo, rel, cb, payload);
}

static void remove_temps_in(const char *dir, int top)
{
	mvm_buf child = MVM_BUF_INIT;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (!(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (top && !strcmp(e->d_name, ".mvm")) ||
		    mvm_fs_join(&child, dir, e->d_name) < 0 || lstat(child.ptr, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			remove_temps_in(child.ptr, 0);
		else if (S_ISREG(st.st_mode) && mvm_is_checkout_temp(e->d_name))
			unlink(child.ptr);
	}
	closedir(d);
	mvm_buf_dispose(&child);
}

void mvm_remove_checkout_temps(mvm_repo *repo)
{
	remove_temps_in(mvm_repo_workdir(repo), 1);
}
