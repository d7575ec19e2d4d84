/*
 * lineage.c: the lineage graph of versions and runs, walked breadth-first
 * from one version through version_info (version <- run) and run_inputs
 * (run <- input versions), upstream or downstream; and what reproducing a
 * version needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/repo_internal.h"
#include "util/array.h"
#include "runs_internal.h"

static int oom(void)
{
	return mvm_error_set(MVM_ERROR, "out of memory");
}

int mvm_version_info_get(mvm_version_info *out, mvm_repo *repo, const mvm_oid *id)
{
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	if ((error = mvm_runs_info_load(out, repo->db, id)) < 0)
		mvm_version_info_dispose(out);
	mvm_db_rollback(repo->db);
	return error;
}

/* ---- the graph ---- */

typedef struct {
	mvm_lineage *l;
	size_t ncap, ecap;
	mvm_db *db;
	int downstream, max_depth;
} walk;

static int same(const mvm_lineage_node *n, mvm_lineage_kind kind, const mvm_oid *v, int64_t run)
{
	return n->kind == kind && (kind == MVM_LINEAGE_RUN ? n->run == run : !mvm_oid_cmp(&n->version, v));
}

/* Index of the node, added at `depth` when new. */
static int node(size_t *idx, walk *w, mvm_lineage_kind kind, const mvm_oid *v, int64_t run, int depth)
{
	mvm_lineage *l = w->l;
	mvm_lineage_node *n;
	size_t i;
	int error;

	for (i = 0; i < l->nnodes; i++)
		if (same(&l->nodes[i], kind, v, run)) {
			*idx = i;
			return 0;
		}
	if ((error = mvm_array_grow(&l->nodes, &w->ncap, l->nnodes, sizeof(*n), 16)) < 0)
		return error;
	n = &l->nodes[l->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	if (v)
		n->version = *v;
	n->run = run;
	n->depth = depth;
	*idx = l->nnodes++;
	return 0;
}

static int edge(walk *w, size_t from, size_t to)
{
	mvm_lineage *l = w->l;
	int error;

	if ((error = mvm_array_grow(&l->edges, &w->ecap, l->nedges, sizeof(*l->edges), 16)) < 0)
		return error;
	l->edges[l->nedges].from = from;
	l->edges[l->nedges++].to = to;
	return 0;
}

/* Neighbours of a version: the run that made it (up) or the runs that read it (down). */
static int expand_version(walk *w, size_t i)
{
	const char *sql = w->downstream ? "SELECT run FROM run_inputs WHERE version = ? ORDER BY run"
					: "SELECT run FROM version_info WHERE version = ? AND run IS NOT NULL";
	int depth = w->l->nodes[i].depth + 1;
	mvm_oid v = w->l->nodes[i].version;
	sqlite3_stmt *st = NULL;
	size_t j;
	int error;

	if (w->max_depth > 0 && depth > w->max_depth)
		return 0;
	if ((error = mvm_db_prepare(&st, w->db, sql)) < 0)
		return error;
	mvm_db_bind_oid(st, 1, &v);
	while ((error = mvm_db_step_row(w->db, st)) > 0) {
		if ((error = node(&j, w, MVM_LINEAGE_RUN, NULL, sqlite3_column_int64(st, 0), depth)) < 0 ||
		    (error = w->downstream ? edge(w, i, j) : edge(w, j, i)) < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

/* Neighbours of a run: its inputs (up) or the versions it made (down). */
static int expand_run(walk *w, size_t i)
{
	const char *sql = w->downstream ? "SELECT version FROM version_info WHERE run = ? ORDER BY version"
					: "SELECT version FROM run_inputs WHERE run = ? ORDER BY n";
	int depth = w->l->nodes[i].depth;
	sqlite3_stmt *st = NULL;
	mvm_oid v;
	size_t j;
	int error;

	if ((error = mvm_db_prepare(&st, w->db, sql)) < 0)
		return error;
	sqlite3_bind_int64(st, 1, w->l->nodes[i].run);
	while ((error = mvm_db_step_row(w->db, st)) > 0) {
		if ((error = mvm_db_column_oid(&v, st, 0)) < 0 ||
		    (error = node(&j, w, MVM_LINEAGE_VERSION, &v, 0, depth)) < 0 ||
		    (error = w->downstream ? edge(w, i, j) : edge(w, j, i)) < 0)
			break;
	}
	sqlite3_finalize(st);
	return error;
}

static int walk_graph(walk *w, const mvm_oid *start)
{
	size_t i, first;
	int error;

	if ((error = node(&first, w, MVM_LINEAGE_VERSION, start, 0, 0)) < 0)
		return error;
	for (i = 0; i < w->l->nnodes && !error; i++)
		error = w->l->nodes[i].kind == MVM_LINEAGE_VERSION ? expand_version(w, i) : expand_run(w, i);
	return error;
}

int mvm_lineage_get(mvm_lineage **out, mvm_repo *repo, const mvm_oid *start, int downstream, int max_depth)
{
	walk w = { NULL, 0, 0, repo->db, downstream, max_depth };
	int error;

	*out = NULL;
	if (!(w.l = calloc(1, sizeof(*w.l))))
		return oom();
	if ((error = mvm_db_exec(repo->db, "BEGIN")) == 0) {
		error = walk_graph(&w, start);
		mvm_db_rollback(repo->db);
	}
	if (error < 0) {
		mvm_lineage_free(w.l);
		return error;
	}
	*out = w.l;
	return 0;
}

void mvm_lineage_free(mvm_lineage *l)
{
	if (!l)
		return;
	free(l->nodes);
	free(l->edges);
	free(l);
}

/* ---- reproduction ---- */

int mvm_repro_get(mvm_run **out, mvm_repo *repo, const mvm_oid *version)
{
	char hex[MVM_OID_HEXSZ + 1], commit[16] = "";
	mvm_version_info info;
	mvm_run *r = NULL;
	int error;

	*out = NULL;
	mvm_oid_fmt(hex, version);
	if ((error = mvm_version_info_get(&info, repo, version)) < 0)
		return error;
	if (!info.run) {
		mvm_version_info_dispose(&info);
		return mvm_error_set(MVM_ENOTFOUND, "version %.12s has no run: it was not made by 'mvm run exec' "
				     "nor committed with --run, so there is no recipe to reproduce it", hex);
	}
	error = mvm_run_get(&r, repo, info.run);
	mvm_version_info_dispose(&info);
	if (error < 0)
		return error;
	if (r->code_commit)
		snprintf(commit, sizeof(commit), "%.12s", r->code_commit);
	if (!r->argv)
		error = mvm_error_set(MVM_ECONFLICT, "run %" PRId64 " (%s), which made version %.12s, has no command: "
				      "only runs of 'mvm run exec' can be reproduced", r->id, r->name, hex);
	else if (r->code_dirty == 1)
		error = mvm_error_set(MVM_ECONFLICT, "run %" PRId64 " (%s), which made version %.12s, ran on uncommitted "
				      "code changes (git commit %s plus local edits): it cannot be reproduced",
				      r->id, r->name, hex, commit);
	if (error < 0) {
		mvm_run_free(r);
		return error;
	}
	*out = r;
	return 0;
}
