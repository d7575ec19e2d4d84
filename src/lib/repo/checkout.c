/*
 * checkout.c: move the working tree and stage to another version.
 *
 * Plan first, then act. A path changes when its stage entry differs from
 * the target's. Such a path must be safe to touch: no staged change, and
 * the working file equal to the stage entry (or already equal to the
 * target, which is what a re-run after a kill finds). Each written file
 * goes temp -> verify -> rename and then its stage row is updated, so a
 * killed checkout leaves every file either old or new and is resumable;
 * HEAD moves last.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/refs.h"
#include "mvm/worktree.h"
#include "object/object.h"
#include "refs_internal.h"
#include "restore.h"
#include "walk.h"

typedef struct {
	const char *path;
	const mvm_stage_entry *s;   /* current stage entry or NULL */
	const mvm_tree_entry *t;    /* target entry or NULL: delete */
	int already;                /* working file already holds the target */
} change;

typedef struct {
	mvm_repo *repo;
	mvm_stage_entry *stage;
	size_t nstage;
	mvm_tree *head, *target;
	change *changes;
	size_t nchanges;
} plan;

/* 1 if the stage entry and the tree entry name the same file, 0 if not, negative on an error. */
static int same_entry(mvm_repo *repo, const mvm_stage_entry *s, const mvm_tree_entry *t)
{
	if (!s || !t || s->mode != t->mode)
		return 0;
	return mvm_manifest_same_file(repo->db, &s->manifest, s->one_chunk, &t->manifest, t->one_chunk);
}

/* Would replacing this path lose a staged change? */
static int staged_check(plan *p, const change *c)
{
	const mvm_tree_entry *h = mvm_tree_find(p->head, c->path);
	int same = c->s ? same_entry(p->repo, c->s, h) : 1;

	if (same < 0)
		return same;
	if (!same)
		return mvm_error_set(MVM_ECONFLICT,
			"'%s' has staged changes that checkout would lose; commit them first", c->path);
	return 0;
}

typedef struct {
	const mvm_stage_entry *stage;
	size_t n;
	char *untracked;  /* owned copy: the walker's buffer is freed when it returns */
} blocker_ctx;

static int find_untracked(const char *rel, const struct stat *st, void *payload)
{
	blocker_ctx *b = payload;

	(void)st;
	if (mvm_stage_find(b->stage, b->n, rel))
		return 0;
	b->untracked = strdup(rel);
	return 1; /* stop: one is enough */
}

/*
 * Can a file be written at c->path? Every parent must be a folder, or a
 * tracked file the target deletes (deletions run first); a folder at the
 * path itself may only hold tracked files (which the target deletes).
 */
static int check_path_free(plan *p, const change *c)
{
	mvm_buf abs = MVM_BUF_INIT, prefix = MVM_BUF_INIT;
	const char *slash;
	struct stat st;
	int error = 0;

	for (slash = strchr(c->path, '/'); slash && !error; slash = strchr(slash + 1, '/')) {
		mvm_buf_clear(&prefix);
		if ((error = mvm_buf_put(&prefix, c->path, (size_t)(slash - c->path))) < 0 ||
		    (error = mvm_repo_abspath(&abs, p->repo, prefix.ptr)) < 0)
			break;
		if (lstat(abs.ptr, &st) == 0 && !S_ISDIR(st.st_mode) &&
		    (!mvm_stage_find(p->stage, p->nstage, prefix.ptr) || mvm_tree_find(p->target, prefix.ptr)))
			error = mvm_error_set(MVM_ECONFLICT,
				"checkout needs a folder at '%s' but a file is in the way; move it first", prefix.ptr);
	}
	if (!error && (error = mvm_repo_abspath(&abs, p->repo, c->path)) == 0 &&
	    lstat(abs.ptr, &st) == 0 && S_ISDIR(st.st_mode)) {
		blocker_ctx b = { p->stage, p->nstage, NULL };
		int walked = mvm_walk(p->repo, c->path, find_untracked, &b);

		if (b.untracked)
			error = mvm_error_set(MVM_ECONFLICT,
				"checkout needs a file at '%s' but that folder holds untracked '%s'; move it first",
				c->path, b.untracked);
		else if (walked < 0) /* a folder in it that cannot be read might hold anything: refuse */
			error = walked;
		free(b.untracked);
	}
	mvm_buf_dispose(&abs);
	mvm_buf_dispose(&prefix);
	return error;
}

/*
 * Is the working file safe to replace? It is when it is gone, equal to its
 * stage entry (by stat, else by content), or already holds the target
 * (then c->already is set and it is not rewritten).
 */
static int check_change(plan *p, change *c)
{
	mvm_buf abs = MVM_BUF_INIT;
	mvm_oid sha, want;
	struct stat st;
	int error;

	if ((c->t && (error = check_path_free(p, c)) < 0) ||
	    (error = mvm_repo_abspath(&abs, p->repo, c->path)) < 0)
		goto done;
	if (lstat(abs.ptr, &st) < 0 || S_ISDIR(st.st_mode) || (c->s && mvm_stage_stat_matches(c->s, &st))) {
		error = staged_check(p, c);
		goto done;
	}
	if ((error = mvm_file_sha256(&sha, abs.ptr)) < 0)
		goto done;
	if (c->t && (error = mvm_manifest_file_sha(&want, p->repo->db, &c->t->manifest, c->t->one_chunk)) == 0 &&
	    !mvm_oid_cmp(&sha, &want)) {
		c->already = 1;
		goto done;
	}
	if (!error && c->s && (error = mvm_manifest_file_sha(&want, p->repo->db, &c->s->manifest, c->s->one_chunk)) == 0 &&
	    !mvm_oid_cmp(&sha, &want)) {
		error = staged_check(p, c);
		goto done;
	}
	if (!error)
		error = mvm_error_set(MVM_ECONFLICT, c->s
			? "checkout would overwrite local changes to '%s'; commit them or restore the file first"
			: "checkout would overwrite untracked file '%s'; move it away or add it first", c->path);
done:
	mvm_buf_dispose(&abs);
	return error;
}

static int push_change(plan *p, const char *path, const mvm_stage_entry *s, const mvm_tree_entry *t)
{
	change *nc = realloc(p->changes, (p->nchanges + 1) * sizeof(*nc));

	if (!nc)
		return mvm_error_set(MVM_ERROR, "out of memory");
	p->changes = nc;
	p->changes[p->nchanges].path = path;
	p->changes[p->nchanges].s = s;
	p->changes[p->nchanges].t = t;
	p->changes[p->nchanges++].already = 0;
	return 0;
}

static int plan_all(plan *p)
{
	size_t i = 0, j = 0;
	int error = 0;

	while (!error && (i < p->nstage || j < p->target->count)) {
		int c = i == p->nstage ? 1 : j == p->target->count ? -1
			: strcmp(p->stage[i].path, p->target->entries[j].path);
		if (c < 0) {
			error = push_change(p, p->stage[i].path, &p->stage[i], NULL);
			i++;
		} else if (c > 0) {
			error = push_change(p, p->target->entries[j].path, NULL, &p->target->entries[j]);
			j++;
		} else {
			int same = same_entry(p->repo, &p->stage[i], &p->target->entries[j]);
			if (same < 0)
				error = same;
			else if (!same)
				error = push_change(p, p->stage[i].path, &p->stage[i], &p->target->entries[j]);
			i++;
			j++;
		}
	}
	for (i = 0; i < p->nchanges && !error; i++)
		error = check_change(p, &p->changes[i]);
	return error;
}

/*
 * Restoring named paths overwrites them on purpose (git checkout REV --
 * PATH). A file named twice (`-- d d/a`) is planned once: two writes of
 * one path in a group would share its temp file.
 */
static int plan_paths(plan *p, mvm_repo *repo, const char *const *paths, size_t n)
{
	mvm_buf rel = MVM_BUF_INIT;
	unsigned char *planned = calloc(p->target->count ? p->target->count : 1, 1);
	size_t i, j;
	int error = planned ? 0 : mvm_error_set(MVM_ERROR, "out of memory");

	for (i = 0; i < n && !error; i++) {
		size_t len;
		int matched = 0;

		if ((error = mvm_repo_relpath(&rel, repo, paths[i])) < 0)
			break;
		len = rel.size;
		for (j = 0; j < p->target->count && !error; j++) {
			const char *tp = p->target->entries[j].path;
			if (len && strcmp(tp, rel.ptr) && (strncmp(tp, rel.ptr, len) || tp[len] != '/'))
				continue;
			matched = 1;
			if (planned[j])
				continue;
			planned[j] = 1;
			error = push_change(p, tp, mvm_stage_find(p->stage, p->nstage, tp), &p->target->entries[j]);
		}
		if (!error && !matched)
			error = mvm_error_set(MVM_ENOTFOUND, "'%s' is not in that version", paths[i]);
	}
	free(planned);
	mvm_buf_dispose(&rel);
	return error;
}

static void remove_empty_parents(mvm_repo *repo, const char *abs)
{
	char *copy = strdup(abs), *slash;
	size_t root = strlen(mvm_repo_workdir(repo));

	while (copy && (slash = strrchr(copy, '/')) && (size_t)(slash - copy) > root) {
		*slash = '\0';
		if (rmdir(copy) < 0)
			break;
	}
	free(copy);
}

/*
 * Files are applied in groups: deletions a transaction per group; new
 * files written to temp files one after the other, then synced, renamed
 * and staged together (one transaction). A fsync and a transaction per
 * file made 20k small files take 20 s. A checkout killed mid-group leaves
 * files renamed whose stage rows still name the old version: the re-run
 * finds them holding the target (c->already) and only records them.
 */
#define GROUP_FILES 128
#define GROUP_BYTES (32u << 20)

typedef struct {
	change *c;
	mvm_buf abs;
	mvm_restore_temp t;
	struct stat st;
} group_file;

typedef struct {
	plan *p;
	group_file f[GROUP_FILES];
	size_t n;
	uint64_t bytes;
} group;

static int delete_file(plan *p, change *c)
{
	mvm_buf abs = MVM_BUF_INIT;
	int error;

	if ((error = mvm_repo_abspath(&abs, p->repo, c->path)) == 0) {
		if (unlink(abs.ptr) < 0 && errno != ENOENT)
			error = mvm_error_set(MVM_ERROR, "cannot delete %s: %s", c->path, strerror(errno));
		else
			remove_empty_parents(p->repo, abs.ptr);
	}
	if (!error)
		error = mvm_stage_delete(p->repo, c->path);
	mvm_buf_dispose(&abs);
	return error;
}

/* Write a file of the group to its temp file; one that already holds the target is only looked at. */
static int group_write(group *g, mvm_restore *r, change *c)
{
	group_file *f = &g->f[g->n++];
	mvm_manifest *m = NULL;
	int error;

	memset(f, 0, sizeof(*f)); /* the buffers too: zeroed is MVM_BUF_INIT */
	f->c = c;
	f->t.fd = -1;
	if ((error = mvm_repo_abspath(&f->abs, g->p->repo, c->path)) < 0)
		return error;
	if (c->already)
		return stat(f->abs.ptr, &f->st) < 0
			? mvm_error_set(MVM_ERROR, "cannot stat %s: %s", c->path, strerror(errno)) : 0;
	if ((error = mvm_manifest_get(&m, g->p->repo->db, &c->t->manifest, c->t->one_chunk, c->t->size)) == 0)
		error = mvm_restore_write(&f->t, r, m, f->abs.ptr, c->path, c->t->mode);
	g->bytes += c->t->size;
	mvm_manifest_free(m);
	return error;
}

static int group_stage(mvm_repo *repo, void *payload)
{
	group *g = payload;
	size_t i;
	int error = 0;

	for (i = 0; i < g->n && !error; i++) {
		mvm_stage_entry e;

		e.path = (char *)g->f[i].c->path;
		e.manifest = g->f[i].c->t->manifest;
		e.one_chunk = g->f[i].c->t->one_chunk;
		mvm_stage_fill_stat(&e, &g->f[i].st);
		e.size = g->f[i].c->t->size; /* a one-chunk row's size is its content's, whatever the stat says */
		e.mode = g->f[i].c->t->mode;
		error = mvm_stage_put(repo, &e);
	}
	return error;
}

/* Empty the group: temp files not moved into place are removed. */
static void group_clear(group *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		mvm_restore_temp_dispose(&g->f[i].t);
		mvm_buf_dispose(&g->f[i].abs);
	}
	g->n = 0;
	g->bytes = 0;
}

/* Make the group's files durable, move them into place and record them. */
static int group_finish(group *g)
{
	mvm_restore_temp *written[GROUP_FILES];
	size_t i, n = 0;
	int error = 0;

	for (i = 0; i < g->n; i++)
		if (!g->f[i].c->already)
			written[n++] = &g->f[i].t;
	if (n)
		error = mvm_restore_sync_many(written, n);
	for (i = 0; i < g->n && !error; i++)
		if (!g->f[i].c->already)
			error = mvm_restore_place(&g->f[i].st, &g->f[i].t);
	if (error < 0 && i > 1) { /* a rename failed: record the files moved before it, then report it */
		size_t all = g->n;
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", mvm_error_last());
		g->n = i - 1;
		(void)mvm_repo_txn(g->p->repo, group_stage, g);
		g->n = all;
		error = mvm_error_set(error, "%s", msg);
	} else if (!error && g->n) {
		error = mvm_repo_txn(g->p->repo, group_stage, g);
	}
	group_clear(g);
	return error;
}

typedef struct {
	plan *p;
	size_t from, to;
} delete_run;

static int delete_files(mvm_repo *repo, void *payload)
{
	delete_run *d = payload;
	size_t i;
	int error = 0;

	(void)repo;
	for (i = d->from; i < d->to && !error; i++)
		if (!d->p->changes[i].t)
			error = delete_file(d->p, &d->p->changes[i]);
	return error;
}

static int apply_plan(plan *p, const mvm_work_options *opts)
{
	mvm_restore r;
	group *g = calloc(1, sizeof(*g));
	size_t i;
	int error;

	if (!g)
		return mvm_error_set(MVM_ERROR, "out of memory");
	g->p = p;
	if ((error = mvm_restore_init(&r, p->repo)) < 0)
		goto done;
	r.progress = opts ? opts->progress : NULL;
	r.payload = opts ? opts->payload : NULL;
	for (i = 0; i < p->nchanges; i++)
		if (p->changes[i].t && !p->changes[i].already)
			r.total += p->changes[i].t->size;
	/* deletions first, so a tracked file can give way to a folder and back */
	for (i = 0; i < p->nchanges && !error; i += GROUP_FILES) {
		delete_run d = { p, i, i + GROUP_FILES < p->nchanges ? i + GROUP_FILES : p->nchanges };
		error = mvm_repo_txn(p->repo, delete_files, &d);
	}
	for (i = 0; i < p->nchanges && !error; i++) {
		if (p->changes[i].t && (error = group_write(g, &r, &p->changes[i])) == 0 &&
		    (g->n == GROUP_FILES || g->bytes >= GROUP_BYTES))
			error = group_finish(g);
	}
	if (!error)
		error = group_finish(g);
done:
	group_clear(g);
	mvm_restore_dispose(&r);
	free(g);
	return error;
}

static int move_head(mvm_repo *repo, const char *spec, const mvm_oid *target)
{
	mvm_buf full = MVM_BUF_INIT;
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid id;
	int error;

	if ((error = mvm_buf_printf(&full, "refs/heads/%s", spec)) < 0)
		return error;
	if (mvm_ref_read(&id, repo, full.ptr) == 0 && !mvm_oid_cmp(&id, target)) {
		error = mvm_head_set(repo, full.ptr);
	} else {
		mvm_oid_fmt(hex, target);
		error = mvm_head_set(repo, hex);
	}
	mvm_error_clear();
	mvm_buf_dispose(&full);
	return error;
}

int mvm_checkout(mvm_repo *repo, const char *spec, const char *const *paths, size_t n,
		 const mvm_work_options *opts)
{
	plan p;
	mvm_oid target;
	int error;

	memset(&p, 0, sizeof(p));
	p.repo = repo;
	if ((error = mvm_repo_lock(repo)) < 0)
		goto done;
	mvm_remove_checkout_temps(repo);
	if ((error = mvm_revparse(&target, repo, spec)) < 0 ||
	    (error = mvm_version_tree(&p.target, repo, &target)) < 0 ||
	    (error = mvm_head_tree(&p.head, repo)) < 0 ||
	    (error = mvm_stage_load(&p.stage, &p.nstage, repo)) < 0)
		goto done;
	if ((error = paths ? plan_paths(&p, repo, paths, n) : plan_all(&p)) < 0 ||
	    (error = apply_plan(&p, opts)) < 0)
		goto done;
	if (!paths && strcmp(spec, "HEAD"))
		error = move_head(repo, spec, &target);
done:
	free(p.changes);
	mvm_stage_free(p.stage, p.nstage);
	mvm_tree_free(p.head);
	mvm_tree_free(p.target);
	return error;
}

int mvm_switch(mvm_repo *repo, const char *branch, const mvm_work_options *opts)
{
	mvm_buf full = MVM_BUF_INIT;
	mvm_oid id;
	int error;

	if ((error = mvm_buf_printf(&full, "refs/heads/%s", branch)) == 0 &&
	    (error = mvm_ref_read(&id, repo, full.ptr)) == MVM_ENOTFOUND)
		error = mvm_error_set(MVM_ENOTFOUND, "no branch named '%s' (create it with 'mvm branch %s')", branch, branch);
	mvm_buf_dispose(&full);
	return error < 0 ? error : mvm_checkout(repo, branch, NULL, 0, opts);
}
