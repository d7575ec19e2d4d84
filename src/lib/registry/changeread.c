/*
 * changeread.c: reading change requests (tables changes, change_approvals)
 * with the candidate, the approvals and what the target holds now.
 */
#include <stdlib.h>
#include <string.h>

#include "repo/repo_internal.h"
#include "registry_internal.h"

static const char *const change_states[] = { "open", "applied", "rejected" };

const char *mvm_change_state_name(mvm_change_state s)
{
	return (unsigned)s < 3 ? change_states[s] : "unknown";
}

int mvm_reg_change_state_parse(mvm_change_state *out, const char *s)
{
	int i;

	for (i = 0; i < 3; i++)
		if (s && !strcmp(s, change_states[i])) {
			*out = (mvm_change_state)i;
			return 0;
		}
	return mvm_error_set(MVM_ECORRUPT, "a change request has an unknown state '%s'", s ? s : "");
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return s ? strdup((const char *)s) : NULL;
}

/* "rule\nrule" -> array */
static int split_rules(mvm_change *c, const char *text)
{
	const char *p = text;

	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char **nr = realloc(c->rollback_if, (c->nrollback_if + 1) * sizeof(*nr));
		if (!nr)
			return mvm_error_set(MVM_ERROR, "out of memory");
		c->rollback_if = nr;
		if (!(nr[c->nrollback_if] = strndup(p, n)))
			return mvm_error_set(MVM_ERROR, "out of memory");
		c->nrollback_if++;
		p += n + (p[n] == '\n');
	}
	return 0;
}

#define CHANGE_COLUMNS "SELECT c.id, m.name, c.number, c.kind, c.target, c.strategy, c.weight, c.rollback_if," \
	" c.reason, c.author, c.created, c.state, c.closed, c.closed_by, c.close_reason, c.forced, c.model" \
	" FROM changes c JOIN models m ON m.id = c.model"

static int read_row(mvm_change *c, int64_t *model, sqlite3_stmt *st)
{
	int error;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(st, 0);
	c->number = sqlite3_column_int64(st, 2);
	c->is_deploy = !strcmp((const char *)sqlite3_column_text(st, 3), "deploy");
	c->weight = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
	c->time = sqlite3_column_int64(st, 10);
	c->closed_time = sqlite3_column_int64(st, 12);
	c->forced = sqlite3_column_int(st, 15);
	*model = sqlite3_column_int64(st, 16);
	c->strategy = col_dup(st, 5);
	c->reason = col_dup(st, 8);
	c->closed_by = col_dup(st, 13);
	c->close_reason = col_dup(st, 14);
	if (!(c->model = col_dup(st, 1)) || !(c->target = col_dup(st, 4)) || !(c->author = col_dup(st, 9)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = split_rules(c, (const char *)sqlite3_column_text(st, 7))) < 0)
		return error;
	return mvm_reg_change_state_parse(&c->state, (const char *)sqlite3_column_text(st, 11));
}

static int read_candidate(mvm_change *c, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT version, path FROM model_versions WHERE model = ? AND number = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, c->number);
	if ((error = mvm_db_step_row(db, st)) > 0 && (error = mvm_db_column_oid(&c->version_id, st, 0)) == 0)
		c->candidate_path = col_dup(st, 1);
	else if (error == 0)
		error = mvm_error_set(MVM_ECORRUPT, "change %lld names a missing model version", (long long)c->id);
	sqlite3_finalize(st);
	return error;
}

static int read_approvals(mvm_change *c, mvm_db *db)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT approver, time FROM change_approvals WHERE change = ? ORDER BY time, approver")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, c->id);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_approval *a = realloc(c->approvals, (c->napprovals + 1) * sizeof(*a));
		if (!a || !(a[c->napprovals].approver = col_dup(st, 0))) {
			c->approvals = a ? a : c->approvals;
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		c->approvals = a;
		a[c->napprovals++].time = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return error;
}

static int read_current(mvm_change *c, mvm_db *db, int64_t model)
{
	int error;

	if ((error = mvm_reg_target_holder(&c->current_number, db, model, c->is_deploy, c->target)) < 0)
		return error;
	c->has_current = error > 0;
	return c->has_current ? mvm_reg_version_id(&c->current_id, db, model, c->current_number) : 0;
}

int mvm_reg_change_load(mvm_change *c, int64_t *model, mvm_db *db, sqlite3_stmt *row)
{
	int error;

	if ((error = read_row(c, model, row)) < 0 || (error = read_candidate(c, db, *model)) < 0 ||
	    (error = read_approvals(c, db)) < 0 || (error = read_current(c, db, *model)) < 0)
		return error;
	return mvm_reg_required_approvals(&c->approvals_required, db, *model, c->target);
}

static void change_dispose(mvm_change *c)
{
	size_t i;

	free(c->model);
	free(c->candidate_path);
	free(c->target);
	free(c->strategy);
	for (i = 0; i < c->nrollback_if; i++)
		free(c->rollback_if[i]);
	free(c->rollback_if);
	free(c->reason);
	free(c->author);
	free(c->closed_by);
	free(c->close_reason);
	for (i = 0; i < c->napprovals; i++)
		free(c->approvals[i].approver);
	free(c->approvals);
	memset(c, 0, sizeof(*c));
}

void mvm_change_free(mvm_change *c)
{
	if (!c)
		return;
	change_dispose(c);
	free(c);
}

int mvm_reg_change_get(mvm_change **out, int64_t *model, mvm_db *db, int64_t id)
{
	sqlite3_stmt *st = NULL;
	mvm_change *c = NULL;
	int error;

	*out = NULL;
	if ((error = mvm_db_prepare(&st, db, CHANGE_COLUMNS " WHERE c.id = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, id);
	if ((error = mvm_db_step_row(db, st)) == 0)
		error = mvm_error_set(MVM_ENOTFOUND, "no change request %lld (see 'mvm change list')", (long long)id);
	else if (error > 0 && !(c = calloc(1, sizeof(*c))))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	else if (error > 0)
		error = mvm_reg_change_load(c, model, db, st);
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_change_free(c);
		return error;
	}
	*out = c;
	return 0;
}

int mvm_change_get(mvm_change **out, mvm_repo *repo, int64_t id)
{
	int64_t model;
	int error;

	*out = NULL;
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	error = mvm_reg_change_get(out, &model, repo->db, id);
	mvm_db_rollback(repo->db);
	return error;
}

static int list_rows(mvm_change **out, size_t *count, mvm_db *db, const char *model, int only_open)
{
	sqlite3_stmt *st = NULL;
	mvm_change *list = NULL;
	int64_t mid;
	size_t n = 0;
	int error;

	if ((error = mvm_db_prepare(&st, db, CHANGE_COLUMNS " WHERE (?1 IS NULL OR m.name = ?1)"
					     " AND (?2 = 0 OR c.state = 'open') ORDER BY c.id DESC")) < 0)
		return error;
	if (model)
		sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, only_open);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		mvm_change *l = realloc(list, (n + 1) * sizeof(*l));
		if (!l) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		list = l;
		if ((error = mvm_reg_change_load(&list[n++], &mid, db, st)) < 0)
			break;
	}
	sqlite3_finalize(st);
	if (error < 0) {
		mvm_change_list_free(list, n);
		return error;
	}
	*out = list;
	*count = n;
	return 0;
}

int mvm_change_list(mvm_change **out, size_t *count, mvm_repo *repo, const char *model, int only_open)
{
	int64_t id;
	int error;

	*out = NULL;
	*count = 0;
	if ((error = mvm_db_exec(repo->db, "BEGIN")) < 0)
		return error;
	if (!model || (error = mvm_reg_model_id(&id, NULL, repo->db, model)) == 0)
		error = list_rows(out, count, repo->db, model, only_open);
	mvm_db_rollback(repo->db);
	return error;
}

void mvm_change_list_free(mvm_change *changes, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		change_dispose(&changes[i]);
	free(changes);
}
