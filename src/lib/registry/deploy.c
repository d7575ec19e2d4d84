/*
 * deploy.c: deployments (table deployments) and their transitions: deploy,
 * switch, promote, abort, rollback. A transition loads the environment's
 * row, computes the new one and writes it with a history row
 * (deploy_history) and an audit entry, in one BEGIN IMMEDIATE transaction.
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

#define DEFAULT_CANARY_WEIGHT 10

int mvm_reg_deploy_options_check(const char *strategy, int weight)
{
	if (strategy && strcmp(strategy, "all") && strcmp(strategy, "blue-green") && strcmp(strategy, "canary"))
		return mvm_error_set(MVM_EUSAGE, "unknown strategy '%s' (use all, blue-green or canary)", strategy);
	if (weight >= 0 && (!strategy || strcmp(strategy, "canary")))
		return mvm_error_set(MVM_EUSAGE, "--weight applies to --strategy canary only");
	if (weight == 0 || weight >= 100)
		return mvm_error_set(MVM_EUSAGE, "a canary's --weight must be from 1 to 99 percent");
	return 0;
}

/* ---- rows ---- */

int mvm_reg_dep_load(mvm_dep_row *r, mvm_db *db, int64_t model, const char *env)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *rules;
	int error;

	memset(r, 0, sizeof(*r));
	if ((error = mvm_db_prepare(&st, db, "SELECT strategy, stable, candidate, weight, rollback_if, updated"
					     " FROM deployments WHERE model = ? AND env = ?")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	if ((error = mvm_db_step_row(db, st)) > 0) {
		r->exists = 1;
		snprintf(r->strategy, sizeof(r->strategy), "%s", (const char *)sqlite3_column_text(st, 0));
		r->stable = sqlite3_column_int64(st, 1);
		r->candidate = sqlite3_column_int64(st, 2);
		r->weight = sqlite3_column_int(st, 3);
		r->time = sqlite3_column_int64(st, 5);
		if ((rules = sqlite3_column_text(st, 4)) && !(r->rules = strdup((const char *)rules)))
			error = mvm_error_set(MVM_ERROR, "out of memory");
	}
	sqlite3_finalize(st);
	return error < 0 ? error : 0;
}

void mvm_reg_dep_dispose(mvm_dep_row *r)
{
	free(r->rules);
	r->rules = NULL;
}

static void bind_number(sqlite3_stmt *st, int col, int64_t n)
{
	if (n)
		sqlite3_bind_int64(st, col, n);
	else
		sqlite3_bind_null(st, col);
}

static int save_row(mvm_db *db, int64_t model, const char *env, const mvm_dep_row *r)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO deployments(model, env, strategy, stable, candidate, weight,"
		" rollback_if, updated) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(model, env) DO UPDATE SET"
		" strategy = ?3, stable = ?4, candidate = ?5, weight = ?6, rollback_if = ?7, updated = ?8")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->strategy, -1, SQLITE_STATIC);
	bind_number(st, 4, r->stable);
	bind_number(st, 5, r->candidate);
	sqlite3_bind_int(st, 6, r->weight);
	if (r->rules)
		sqlite3_bind_text(st, 7, r->rules, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int add_history(mvm_db *db, int64_t model, const char *env, const char *actor, const char *event,
		       const mvm_dep_row *before, const mvm_dep_row *after, const char *detail)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO deploy_history(model, env, time, actor, event, stable_before,"
					     " stable_after, candidate, weight, detail) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 4, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, event, -1, SQLITE_STATIC);
	bind_number(st, 6, before->stable);
	bind_number(st, 7, after->stable);
	bind_number(st, 8, after->candidate);
	sqlite3_bind_int(st, 9, after->weight);
	if (detail)
		sqlite3_bind_text(st, 10, detail, -1, SQLITE_STATIC);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static json_t *number_or_null(int64_t n)
{
	return n ? json_integer(n) : json_null();
}

static int state_text(mvm_buf *out, const mvm_dep_row *r, const char *detail)
{
	json_t *o = json_object();
	char *s;
	int error;

	json_object_set_new(o, "strategy", json_string(r->strategy));
	json_object_set_new(o, "stable", number_or_null(r->stable));
	json_object_set_new(o, "candidate", number_or_null(r->candidate));
	json_object_set_new(o, "weight", json_integer(r->weight));
	if (detail)
		json_object_set_new(o, "detail", json_string(detail));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return mvm_error_set(MVM_ERROR, "out of memory");
	error = mvm_buf_puts(out, s);
	free(s);
	return error;
}

int mvm_reg_dep_commit(mvm_repo *repo, int64_t model, const char *name, const char *env, const char *event,
		       const mvm_dep_row *before, const mvm_dep_row *after, const char *detail)
{
	mvm_buf actor = MVM_BUF_INIT, object = MVM_BUF_INIT, action = MVM_BUF_INIT, b = MVM_BUF_INIT, a = MVM_BUF_INIT;
	int error;

	if ((error = mvm_repo_author(&actor, repo)) < 0 || (error = save_row(repo->db, model, env, after)) < 0 ||
	    (error = add_history(repo->db, model, env, actor.ptr, event, before, after, detail)) < 0 ||
	    (error = mvm_buf_printf(&object, "model/%s/env/%s", name, env)) < 0 ||
	    (error = mvm_buf_printf(&action, "deploy.%s", event)) < 0 ||
	    (before->exists && (error = state_text(&b, before, NULL)) < 0) ||
	    (error = state_text(&a, after, detail)) < 0)
		goto done;
	error = mvm_audit_append(repo->db, actor.ptr, action.ptr, object.ptr, before->exists ? b.ptr : NULL, a.ptr);
done:
	mvm_buf_dispose(&actor);
	mvm_buf_dispose(&object);
	mvm_buf_dispose(&action);
	mvm_buf_dispose(&b);
	mvm_buf_dispose(&a);
	return error;
}

/* ---- deploy ---- */

static int join_rules(char **out, const mvm_deploy_options *o)
{
	mvm_buf b = MVM_BUF_INIT;
	size_t i;

	*out = NULL;
	for (i = 0; i < o->nrollback_if; i++)
		if (mvm_buf_printf(&b, "%s%s", i ? "\n" : "", o->rollback_if[i]) < 0) {
			mvm_buf_dispose(&b);
			return mvm_error_set(MVM_ERROR, "out of memory");
		}
	*out = mvm_buf_detach(&b);
	return 0;
}

static int rollout_busy(const mvm_dep_row *r, const char *name, const char *env)
{
	if (!r->candidate)
		return 0;
	return mvm_error_set(MVM_ECONFLICT, "environment '%s' of '%s' is rolling out version %lld (%s, %d%%); "
			     "promote, switch or abort it first", env, name, (long long)r->candidate, r->strategy, r->weight);
}

int mvm_reg_deploy_locked(mvm_repo *repo, int64_t model, const char *name, const char *env, int64_t number,
			  const mvm_deploy_options *o, int check_protect)
{
	const char *strategy = o->strategy ? o->strategy : "all";
	mvm_dep_row before, after;
	int error;

	if ((check_protect && (error = mvm_reg_protect_check(repo->db, model, name, env, "environment")) < 0) ||
	    (error = mvm_reg_dep_load(&before, repo->db, model, env)) < 0)
		return error;
	after = before;
	after.rules = NULL;
	if ((error = rollout_busy(&before, name, env)) < 0)
		goto done;
	if (before.stable == number) {
		error = mvm_error_set(MVM_ECONFLICT, "environment '%s' of '%s' already serves version %lld", env, name,
				      (long long)number);
		goto done;
	}
	if (o->nrollback_if)
		error = join_rules(&after.rules, o);
	else if (before.rules && !(after.rules = strdup(before.rules)))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	if (error < 0)
		goto done;
	after.exists = 1;
	snprintf(after.strategy, sizeof(after.strategy), "%s", before.stable ? strategy : "all");
	if (!before.stable || !strcmp(strategy, "all")) {
		after.stable = number;
		after.weight = 0;
	} else {
		after.candidate = number;
		after.weight = strcmp(strategy, "canary") ? 0 : o->weight > 0 ? o->weight : DEFAULT_CANARY_WEIGHT;
	}
	error = mvm_reg_dep_commit(repo, model, name, env, "deploy", &before, &after, NULL);
done:
	mvm_reg_dep_dispose(&before);
	mvm_reg_dep_dispose(&after);
	return error;
}

typedef enum { OP_DEPLOY, OP_SWITCH, OP_PROMOTE, OP_ABORT, OP_ROLLBACK } deploy_op;

typedef struct {
	deploy_op op;
	const char *name, *env, *ver, *to;
	const mvm_deploy_options *o;
	int weight;
} deploy_args;

static int need_candidate(const mvm_dep_row *r, const char *name, const char *env)
{
	if (!r->exists)
		return mvm_error_set(MVM_ENOTFOUND, "'%s' is not deployed to '%s'", name, env);
	if (!r->candidate)
		return mvm_error_set(MVM_ECONFLICT, "environment '%s' of '%s' has no rollout under way (it serves version %lld)",
				     env, name, (long long)r->stable);
	return 0;
}

static int switch_or_promote(mvm_repo *repo, int64_t model, const deploy_args *a, mvm_dep_row *before)
{
	mvm_dep_row after = *before;
	int full = a->op == OP_SWITCH || a->weight < 0 || a->weight == 100;

	if (!full && strcmp(before->strategy, "canary"))
		return mvm_error_set(MVM_EUSAGE, "--weight: '%s' of '%s' is a %s rollout, not a canary", a->env, a->name,
				     before->strategy);
	if (!full && a->weight <= before->weight)
		return mvm_error_set(MVM_ECONFLICT, "the canary already gets %d%%; promote to more, or abort", before->weight);
	if (full) {
		after.stable = before->candidate;
		after.candidate = 0;
		after.weight = 0;
	} else {
		after.weight = a->weight;
	}
	return mvm_reg_dep_commit(repo, model, a->name, a->env, a->op == OP_SWITCH ? "switch" : "promote", before,
				  &after, NULL);
}

int mvm_reg_previous_stable(int64_t *out, mvm_db *db, int64_t model, const char *env, int64_t stable)
{
	sqlite3_stmt *st = NULL;
	int error;

	*out = 0;
	if ((error = mvm_db_prepare(&st, db, "SELECT stable_before FROM deploy_history WHERE model = ? AND env = ?"
		" AND event IN ('deploy', 'switch', 'promote') AND stable_after = ? AND stable_before IS NOT NULL"
		" AND stable_before != stable_after ORDER BY id DESC LIMIT 1")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, stable);
	if ((error = mvm_db_step_row(db, st)) > 0)
		*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return error < 0 ? error : 0;
}

static int was_stable(mvm_db *db, int64_t model, const char *env, int64_t number)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "SELECT 1 FROM deploy_history WHERE model = ? AND env = ?"
					     " AND stable_after = ? LIMIT 1")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, env, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, number);
	error = mvm_db_step_row(db, st);
	sqlite3_finalize(st);
	return error;
}

static int rollback_target(int64_t *to, mvm_repo *repo, int64_t model, const deploy_args *a, const mvm_dep_row *r)
{
	int error;

	*to = 0;
	if (a->to) {
		if ((error = mvm_reg_number(to, repo->db, model, a->name, a->to)) < 0 ||
		    (error = was_stable(repo->db, model, a->env, *to)) < 0)
			return error;
		if (!error)
			return mvm_error_set(MVM_ECONFLICT, "version %lld never served '%s'; roll back only to a version "
					     "that did (see 'mvm deploy history')", (long long)*to, a->env);
		if (*to == r->stable && !r->candidate)
			return mvm_error_set(MVM_ECONFLICT, "'%s' already serves version %lld", a->env, (long long)*to);
		return 0;
	}
	if (r->candidate)
		return 0;
	if ((error = mvm_reg_previous_stable(to, repo->db, model, a->env, r->stable)) < 0)
		return error;
	return *to ? 0 : mvm_error_set(MVM_ECONFLICT, "nothing to roll back to: version %lld is the first '%s' served",
				       (long long)r->stable, a->env);
}

static int rollback(mvm_repo *repo, int64_t model, const deploy_args *a, mvm_dep_row *before)
{
	mvm_dep_row after = *before;
	int64_t to;
	int error;

	if (!before->exists)
		return mvm_error_set(MVM_ENOTFOUND, "'%s' is not deployed to '%s'", a->name, a->env);
	if ((error = rollback_target(&to, repo, model, a, before)) < 0)
		return error;
	after.candidate = 0;
	after.weight = 0;
	if (to)
		after.stable = to;
	return mvm_reg_dep_commit(repo, model, a->name, a->env, "rollback", before, &after, NULL);
}

static int deploy_txn(mvm_repo *repo, void *payload)
{
	deploy_args *a = payload;
	mvm_dep_row row, after;
	int64_t model, number;
	int error;

	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0)
		return error;
	if (a->op == OP_DEPLOY)
		return (error = mvm_reg_number(&number, repo->db, model, a->name, a->ver)) < 0 ? error
			: mvm_reg_deploy_locked(repo, model, a->name, a->env, number, a->o, 1);
	if ((error = mvm_reg_dep_load(&row, repo->db, model, a->env)) < 0)
		return error;
	if (a->op == OP_ROLLBACK) {
		error = rollback(repo, model, a, &row);
	} else if ((error = need_candidate(&row, a->name, a->env)) == 0 && a->op == OP_ABORT) {
		after = row;
		after.candidate = 0;
		after.weight = 0;
		error = mvm_reg_dep_commit(repo, model, a->name, a->env, "abort", &row, &after, NULL);
	} else if (!error) {
		error = switch_or_promote(repo, model, a, &row);
	}
	mvm_reg_dep_dispose(&row);
	return error;
}

static int run(deploy_op op, mvm_repo *repo, const char *name, const char *env, const char *ver, const char *to,
	       const mvm_deploy_options *o, int weight)
{
	deploy_args a = { op, name, env, ver, to, o, weight };
	mvm_rule r;
	size_t i;
	int error;

	if ((error = mvm_alias_name_check(env, "environment")) < 0)
		return error;
	if (o && ((error = mvm_reg_deploy_options_check(o->strategy, o->weight)) < 0))
		return error;
	for (i = 0; o && i < o->nrollback_if; i++)
		if ((error = mvm_rule_parse(&r, o->rollback_if[i])) < 0)
			return error;
	return mvm_repo_txn(repo, deploy_txn, &a);
}

int mvm_deploy(mvm_repo *repo, const char *name, const char *ver, const char *env, const mvm_deploy_options *o)
{
	mvm_deploy_options none = MVM_DEPLOY_OPTIONS_INIT;

	return run(OP_DEPLOY, repo, name, env, ver, NULL, o ? o : &none, -1);
}

int mvm_deploy_switch(mvm_repo *repo, const char *name, const char *env)
{
	return run(OP_SWITCH, repo, name, env, NULL, NULL, NULL, -1);
}

int mvm_deploy_promote(mvm_repo *repo, const char *name, const char *env, int weight)
{
	if (weight == 0 || weight > 100)
		return mvm_error_set(MVM_EUSAGE, "--weight must be from 1 to 100 percent");
	return run(OP_PROMOTE, repo, name, env, NULL, NULL, NULL, weight);
}

int mvm_deploy_abort(mvm_repo *repo, const char *name, const char *env)
{
	return run(OP_ABORT, repo, name, env, NULL, NULL, NULL, -1);
}

int mvm_deploy_rollback(mvm_repo *repo, const char *name, const char *env, const char *to)
{
	return run(OP_ROLLBACK, repo, name, env, NULL, to, NULL, -1);
}

int mvm_reg_deploy_apply(mvm_repo *repo, const mvm_change *c, int64_t model)
{
	mvm_deploy_options o = MVM_DEPLOY_OPTIONS_INIT;

	o.strategy = c->strategy;
	o.weight = c->weight;
	o.rollback_if = (const char *const *)c->rollback_if;
	o.nrollback_if = c->nrollback_if;
	return mvm_reg_deploy_locked(repo, model, c->model, c->target, c->number, &o, 0);
}
