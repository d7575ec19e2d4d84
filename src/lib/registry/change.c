/*
 * change.c: change requests: open, approve, reject, check gates, apply.
 *
 * Each step is one BEGIN IMMEDIATE transaction with its audit entry. Apply
 * runs the exec gate first (it may take long, and needs no lock), then in
 * one transaction re-reads the change, checks the metric gates against the
 * target's holder at that moment and the approvals, moves the target and
 * closes the change.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "registry_internal.h"
#include "rule.h"

static int change_object(mvm_buf *out, const char *model, int64_t id)
{
	mvm_buf_clear(out);
	return mvm_buf_printf(out, "model/%s/change/%lld", model, (long long)id);
}

/* Compact JSON text of o (consumed), appended to out. */
static int json_text(mvm_buf *out, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int error;

	json_decref(o);
	if (!s)
		return mvm_error_set(MVM_ERROR, "out of memory");
	error = mvm_buf_puts(out, s);
	free(s);
	return error;
}

/* ---- open ---- */

static int check_options(const mvm_change_options *o)
{
	mvm_rule r;
	size_t i;
	int error;

	if (!o || !!o->to_alias == !!o->deploy_env)
		return mvm_error_set(MVM_EUSAGE, "a change request needs exactly one of --to ALIAS or --deploy ENV");
	if (o->to_alias && (o->strategy || o->weight >= 0 || o->nrollback_if))
		return mvm_error_set(MVM_EUSAGE, "--strategy, --weight and --rollback-if apply to --deploy only");
	if (o->to_alias)
		return mvm_alias_name_check(o->to_alias, "alias");
	if ((error = mvm_alias_name_check(o->deploy_env, "environment")) < 0 ||
	    (error = mvm_reg_deploy_options_check(o->strategy, o->weight)) < 0)
		return error;
	for (i = 0; i < o->nrollback_if; i++)
		if ((error = mvm_rule_parse(&r, o->rollback_if[i])) < 0)
			return error;
	return 0;
}

typedef struct {
	const char *name, *ver;
	const mvm_change_options *o;
	int64_t id;
} open_args;

static int insert_change(mvm_repo *repo, open_args *a, int64_t model, int64_t number, const char *author)
{
	const mvm_change_options *o = a->o;
	mvm_buf rules = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	size_t i;
	int error;

	for (i = 0; i < o->nrollback_if; i++)
		mvm_buf_printf(&rules, "%s%s", i ? "\n" : "", o->rollback_if[i]);
	if ((error = mvm_db_prepare(&st, repo->db, "INSERT INTO changes(model, number, kind, target, strategy, weight,"
		" rollback_if, reason, author, created, state) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open') RETURNING id")) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_int64(st, 2, number);
	sqlite3_bind_text(st, 3, o->deploy_env ? "deploy" : "alias", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, o->deploy_env ? o->deploy_env : o->to_alias, -1, SQLITE_STATIC);
	if (o->deploy_env)
		sqlite3_bind_text(st, 5, o->strategy ? o->strategy : "all", -1, SQLITE_STATIC);
	if (o->weight >= 0)
		sqlite3_bind_int(st, 6, o->weight);
	if (rules.size)
		sqlite3_bind_text(st, 7, rules.ptr, -1, SQLITE_STATIC);
	if (o->reason)
		sqlite3_bind_text(st, 8, o->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, author, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)time(NULL));
	if ((error = mvm_db_step_row(repo->db, st)) > 0) {
		a->id = sqlite3_column_int64(st, 0);
		error = mvm_db_step_row(repo->db, st);
	}
done:
	sqlite3_finalize(st);
	mvm_buf_dispose(&rules);
	return error;
}

static json_t *open_json(const mvm_change_options *o, int64_t number)
{
	json_t *j = json_object(), *rules = json_array();
	size_t i;

	json_object_set_new(j, "version", json_integer(number));
	json_object_set_new(j, o->deploy_env ? "deploy" : "to", json_string(o->deploy_env ? o->deploy_env : o->to_alias));
	if (o->deploy_env) {
		json_object_set_new(j, "strategy", json_string(o->strategy ? o->strategy : "all"));
		if (o->weight >= 0)
			json_object_set_new(j, "weight", json_integer(o->weight));
		for (i = 0; i < o->nrollback_if; i++)
			json_array_append_new(rules, json_string(o->rollback_if[i]));
	}
	if (json_array_size(rules))
		json_object_set(j, "rollback_if", rules);
	json_decref(rules);
	if (o->reason)
		json_object_set_new(j, "reason", json_string(o->reason));
	return j;
}

static int open_txn(mvm_repo *repo, void *payload)
{
	open_args *a = payload;
	const mvm_change_options *o = a->o;
	mvm_buf author = MVM_BUF_INIT, object = MVM_BUF_INIT, after = MVM_BUF_INIT;
	int64_t model, number, holder;
	int archived, held, error;

	if ((error = mvm_reg_model_id(&model, &archived, repo->db, a->name)) < 0 ||
	    (error = mvm_reg_number(&number, repo->db, model, a->name, a->ver)) < 0)
		return error;
	if (archived)
		return mvm_error_set(MVM_ECONFLICT, "model '%s' is archived", a->name);
	if ((held = error = mvm_reg_target_holder(&holder, repo->db, model, !!o->deploy_env,
						  o->deploy_env ? o->deploy_env : o->to_alias)) < 0)
		return error;
	if (held && holder == number)
		return mvm_error_set(MVM_ECONFLICT, "%s '%s' of model '%s' already holds version %lld",
				     o->deploy_env ? "environment" : "alias", o->deploy_env ? o->deploy_env : o->to_alias,
				     a->name, (long long)number);
	if ((error = mvm_repo_author(&author, repo)) < 0 ||
	    (error = insert_change(repo, a, model, number, author.ptr)) < 0 ||
	    (error = change_object(&object, a->name, a->id)) < 0 ||
	    (error = json_text(&after, open_json(o, number))) < 0)
		goto done;
	error = mvm_audit_append(repo->db, author.ptr, "change.open", object.ptr, NULL, after.ptr);
done:
	mvm_buf_dispose(&author);
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&after);
	return error;
}

int mvm_change_open(int64_t *id, mvm_repo *repo, const char *name, const char *ver, const mvm_change_options *o)
{
	open_args a = { name, ver, o, 0 };
	int error;

	if ((error = check_options(o)) < 0 || (error = mvm_repo_txn(repo, open_txn, &a)) < 0)
		return error;
	if (id)
		*id = a.id;
	return 0;
}

/* ---- approve / reject ---- */

static int must_be_open(const mvm_change *c)
{
	if (c->state == MVM_CHANGE_OPEN)
		return 0;
	return mvm_error_set(MVM_ECONFLICT, "change %lld is already %s", (long long)c->id,
			     mvm_change_state_name(c->state));
}

typedef struct {
	int64_t id;
	const char *reason;
	int force;
	mvm_gate_result *exec;   /* apply: the exec gate's result, when it ran */
} change_args;

static int approve_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	mvm_buf me = MVM_BUF_INIT, object = MVM_BUF_INIT;
	sqlite3_stmt *st = NULL;
	mvm_change *c = NULL;
	int64_t model;
	int error;

	if ((error = mvm_reg_change_get(&c, &model, repo->db, a->id)) < 0 || (error = must_be_open(c)) < 0 ||
	    (error = mvm_repo_author(&me, repo)) < 0)
		goto done;
	if (!strcmp(me.ptr, c->author)) {
		error = mvm_error_set(MVM_ECONFLICT, "change %lld was opened by you (%s); someone else must approve it",
				      (long long)a->id, me.ptr);
		goto done;
	}
	if ((error = mvm_db_prepare(&st, repo->db, "INSERT OR IGNORE INTO change_approvals(change, approver, time)"
						   " VALUES(?, ?, ?)")) < 0)
		goto done;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_text(st, 2, me.ptr, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	if ((error = mvm_db_step_done(repo->db, st)) < 0)
		goto done;
	if (sqlite3_changes(repo->db->sql) != 1)
		error = mvm_error_set(MVM_ECONFLICT, "you (%s) already approved change %lld", me.ptr, (long long)a->id);
	else if ((error = change_object(&object, c->model, a->id)) == 0)
		error = mvm_audit_append(repo->db, me.ptr, "change.approve", object.ptr, NULL, "approved");
done:
	sqlite3_finalize(st);
	mvm_change_free(c);
	mvm_buf_dispose(&me);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_change_approve(mvm_repo *repo, int64_t id)
{
	change_args a = { id, NULL, 0, NULL };

	return mvm_repo_txn(repo, approve_txn, &a);
}

static int close_change(mvm_repo *repo, const mvm_change *c, mvm_change_state state, const char *by,
			const char *reason, int forced)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, repo->db, "UPDATE changes SET state = ?, closed = ?, closed_by = ?,"
						   " close_reason = ?, forced = ? WHERE id = ? AND state = 'open'")) < 0)
		return error;
	sqlite3_bind_text(st, 1, mvm_change_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
	if (reason)
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, forced);
	sqlite3_bind_int64(st, 6, c->id);
	if ((error = mvm_db_step_done(repo->db, st)) == 0 && sqlite3_changes(repo->db->sql) != 1)
		error = mvm_error_set(MVM_ECONFLICT, "change %lld was closed while this command ran", (long long)c->id);
	sqlite3_finalize(st);
	return error;
}

static int reject_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	mvm_buf me = MVM_BUF_INIT, object = MVM_BUF_INIT;
	mvm_change *c = NULL;
	int64_t model;
	int error;

	if ((error = mvm_reg_change_get(&c, &model, repo->db, a->id)) == 0 && (error = must_be_open(c)) == 0 &&
	    (error = mvm_repo_author(&me, repo)) == 0 &&
	    (error = close_change(repo, c, MVM_CHANGE_REJECTED, me.ptr, a->reason, 0)) == 0 &&
	    (error = change_object(&object, c->model, a->id)) == 0)
		error = mvm_audit_append(repo->db, me.ptr, "change.reject", object.ptr, "open", a->reason);
	mvm_change_free(c);
	mvm_buf_dispose(&me);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_change_reject(mvm_repo *repo, int64_t id, const char *reason)
{
	change_args a = { id, reason, 0, NULL };

	if (!reason || !*reason)
		return mvm_error_set(MVM_EUSAGE, "rejecting a change needs a reason (--reason TEXT)");
	return mvm_repo_txn(repo, reject_txn, &a);
}

/* ---- gates ---- */

/* Metric gates against the current holder, plus the exec gate as given (NULL: not run). */
static int gates_now(mvm_gate_result **out, size_t *n, mvm_repo *repo, const mvm_change *c, int64_t model,
		     mvm_gate_result *exec_result)
{
	mvm_gate_result *res = NULL, *grown;
	char *exec = NULL;
	int error;

	if ((error = mvm_reg_eval_gates(&res, n, repo->db, model, c->number,
					c->has_current ? &c->current_number : NULL, &exec)) < 0)
		return error;
	if (exec) {
		if (!(grown = realloc(res, (*n + 1) * sizeof(*res)))) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
		} else {
			res = grown;
			memset(&res[*n], 0, sizeof(*res));
			if (exec_result && !strcmp(exec_result->rule, exec)) {
				res[*n] = *exec_result;
				memset(exec_result, 0, sizeof(*exec_result));
			} else {
				error = mvm_reg_gate_not_run(&res[*n], exec);
			}
			(*n)++;
		}
	}
	free(exec);
	if (error < 0) {
		mvm_gate_results_free(res, *n);
		*n = 0;
		return error;
	}
	*out = res;
	return 0;
}

static int run_exec_gate(mvm_gate_result *out, mvm_repo *repo, const mvm_change *c, int64_t model)
{
	mvm_gate_result *res = NULL;
	char *exec = NULL;
	size_t n = 0;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_reg_eval_gates(&res, &n, repo->db, model, c->number, NULL, &exec)) == 0 && exec)
		error = mvm_reg_run_exec_gate(out, repo, exec, c->model, c->number, &c->version_id, c->candidate_path);
	mvm_gate_results_free(res, n);
	free(exec);
	return error;
}

int mvm_change_gates(mvm_gate_result **out, size_t *count, mvm_repo *repo, int64_t id, int run_exec)
{
	mvm_gate_result exec_res;
	mvm_change *c = NULL;
	int64_t model;
	int error;

	*out = NULL;
	*count = 0;
	memset(&exec_res, 0, sizeof(exec_res));
	if ((error = mvm_reg_change_get(&c, &model, repo->db, id)) < 0)
		return error;
	if (!run_exec || (error = run_exec_gate(&exec_res, repo, c, model)) == 0)
		error = gates_now(out, count, repo, c, model, exec_res.rule ? &exec_res : NULL);
	free(exec_res.rule);
	free(exec_res.detail);
	mvm_change_free(c);
	return error;
}

/* ---- apply ---- */

/* Everything that keeps the change from applying, one line; empty when nothing. */
static int missing_list(mvm_buf *out, const mvm_gate_result *g, size_t n, const mvm_change *c)
{
	size_t i;

	mvm_buf_clear(out);
	for (i = 0; i < n; i++)
		if (g[i].status != MVM_GATE_PASS)
			mvm_buf_printf(out, "%sgate '%s%s' %s: %s", out->size ? "; " : "", g[i].is_exec ? "exec: " : "",
				       g[i].rule, g[i].status == MVM_GATE_FAIL ? "failed" : "did not run", g[i].detail);
	if ((int)c->napprovals < c->approvals_required)
		mvm_buf_printf(out, "%s%zu of %d required approval%s", out->size ? "; " : "", c->napprovals,
			       c->approvals_required, c->approvals_required == 1 ? "" : "s");
	return 0;
}

static int move_target(mvm_repo *repo, const mvm_change *c, int64_t model)
{
	if (c->is_deploy)
		return mvm_reg_deploy_apply(repo, c, model);
	return mvm_reg_alias_move(repo, model, c->model, c->target, c->number);
}

static int apply_audit(mvm_repo *repo, const mvm_change *c, const char *me, const char *missing, int force)
{
	mvm_buf object = MVM_BUF_INIT, before = MVM_BUF_INIT, after = MVM_BUF_INIT;
	json_t *j = json_object();
	int error;

	json_object_set_new(j, "version", json_integer(c->number));
	if (force)
		json_object_set_new(j, "forced", json_true());
	if (force && *missing)
		json_object_set_new(j, "missing", json_string(missing));
	if (c->has_current)
		mvm_buf_printf(&before, "%lld", (long long)c->current_number);
	if ((error = json_text(&after, j)) == 0 && (error = change_object(&object, c->model, c->id)) == 0)
		error = mvm_audit_append(repo->db, me, "change.apply", object.ptr, c->has_current ? before.ptr : NULL,
					 after.ptr);
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&before);
	mvm_buf_dispose(&after);
	return error;
}

/* The email inside "Name <email>", or the whole identity when it has none. */
static void identity_email(const char **start, size_t *len, const char *who)
{
	const char *lt = strchr(who, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	*start = lt && gt ? lt + 1 : who;
	*len = lt && gt ? (size_t)(gt - lt - 1) : strlen(who);
}

/*
 * --force is for the identities listed in config registry.admins (comma-
 * separated emails or "Name <email>"); everyone else must pass the gates.
 */
static int must_be_admin(mvm_repo *repo, const char *me)
{
	mvm_buf admins = MVM_BUF_INIT;
	const char *p, *mine, *theirs;
	size_t mine_len, theirs_len;
	int error, found = 0;

	if ((error = mvm_config_get(&admins, repo, "registry.admins")) < 0 && error != MVM_ENOTFOUND)
		return error;
	identity_email(&mine, &mine_len, me);
	for (p = error ? "" : admins.ptr; *p && !found; p += *p == ',') {
		size_t n = strcspn(p, ",");
		char one[256];
		snprintf(one, sizeof(one), "%.*s", (int)n, p);
		identity_email(&theirs, &theirs_len, one + strspn(one, " "));
		while (theirs_len && theirs[theirs_len - 1] == ' ')
			theirs_len--;
		found = theirs_len == mine_len && !strncmp(theirs, mine, mine_len);
		p += n;
	}
	mvm_buf_dispose(&admins);
	mvm_error_clear();
	return found ? 0 : mvm_error_set(MVM_ECONFLICT, "only registry admins may --force a change; %s is not "
				  "listed in config registry.admins", me);
}

static int apply_txn(mvm_repo *repo, void *payload)
{
	change_args *a = payload;
	mvm_buf me = MVM_BUF_INIT, missing = MVM_BUF_INIT;
	mvm_gate_result *g = NULL;
	mvm_change *c = NULL;
	int64_t model;
	size_t n = 0;
	int error;

	if ((error = mvm_reg_change_get(&c, &model, repo->db, a->id)) < 0 || (error = must_be_open(c)) < 0 ||
	    (error = gates_now(&g, &n, repo, c, model, a->exec)) < 0 || (error = missing_list(&missing, g, n, c)) < 0)
		goto done;
	if (missing.size && !a->force) {
		error = mvm_error_set(MVM_ECONFLICT, "change %lld cannot be applied: %s (an admin may use --force)",
				      (long long)a->id, missing.ptr);
		goto done;
	}
	if ((error = mvm_repo_author(&me, repo)) < 0 || (a->force && (error = must_be_admin(repo, me.ptr)) < 0) ||
	    (error = move_target(repo, c, model)) < 0 ||
	    (error = close_change(repo, c, MVM_CHANGE_APPLIED, me.ptr, NULL, a->force)) < 0)
		goto done;
	error = apply_audit(repo, c, me.ptr, mvm_buf_cstr(&missing), a->force);
done:
	mvm_gate_results_free(g, n);
	mvm_change_free(c);
	mvm_buf_dispose(&me);
	mvm_buf_dispose(&missing);
	return error;
}

int mvm_change_apply(mvm_repo *repo, int64_t id, int force)
{
	mvm_gate_result exec_res;
	change_args a = { id, NULL, force, NULL };
	mvm_change *c = NULL;
	int64_t model;
	int error;

	memset(&exec_res, 0, sizeof(exec_res));
	if ((error = mvm_reg_change_get(&c, &model, repo->db, id)) < 0 || (error = must_be_open(c)) < 0)
		goto done;
	if (!force && (error = run_exec_gate(&exec_res, repo, c, model)) < 0)
		goto done;
	a.exec = exec_res.rule ? &exec_res : NULL;
	error = mvm_repo_txn(repo, apply_txn, &a);
done:
	free(exec_res.rule);
	free(exec_res.detail);
	mvm_change_free(c);
	return error;
}
