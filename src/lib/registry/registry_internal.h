/*
 * registry_internal.h: helpers shared by the registry's files.
 *
 * lookup.c needs only the metadata database (revparse calls it to resolve
 * NAME@VER and NAME@ALIAS); the other files are repository operations and
 * use the repository handle.
 */
#ifndef MVM_REGISTRY_INTERNAL_H
#define MVM_REGISTRY_INTERNAL_H

#include "mvm/registry.h"
#include "mvm/release.h"
#include "meta/db.h"

/* --- lookup.c: database-only lookups --- */

/** Resolve "NAME@VER" or "NAME@ALIAS" to a version id. @return 0, MVM_ENOTFOUND. */
int mvm_registry_lookup(mvm_oid *out, mvm_db *db, const char *spec);
/** Row id of a model; `archived` may be NULL. @return 0, MVM_ENOTFOUND (naming the model). */
int mvm_reg_model_id(int64_t *id, int *archived, mvm_db *db, const char *name);
/** Number of `ver` (a number or an alias) of model `model` (named `name` in errors). */
int mvm_reg_number(int64_t *number, mvm_db *db, int64_t model, const char *name, const char *ver);
/** The version id a model version pins. */
int mvm_reg_version_id(mvm_oid *out, mvm_db *db, int64_t model, int64_t number);
/** The version an alias points at: 1 and *number when set, 0 when not. */
int mvm_reg_alias_number(int64_t *number, mvm_db *db, int64_t model, const char *alias);
/** The version an alias (or an environment's stable version) holds: 1 and *number, or 0 when none. */
int mvm_reg_target_holder(int64_t *number, mvm_db *db, int64_t model, int is_deploy, const char *target);
/** A model version's metric: *found 0 when it has none. */
int mvm_reg_metric_get(int *found, double *value, mvm_db *db, int64_t model, int64_t number, const char *key);

/* --- registry.c: transactions and small shared pieces --- */

/** Parse "key=number" (finite). `key` is allocated. @return 0 or MVM_EUSAGE. */
int mvm_reg_parse_metric(char **key, double *value, const char *kv);
/* KEY=NUMBER arguments (metrics, health values), each key at most once. */
typedef struct {
	char **keys;
	double *values;
	size_t n;
} mvm_reg_values;

/** Parse kvs[0..n) (at least one); `what` names them in errors ("metric"). */
int mvm_reg_values_parse(mvm_reg_values *out, const char *const *kvs, size_t n, const char *what);
void mvm_reg_values_dispose(mvm_reg_values *v);
/** Format a metric value the way audit entries and messages show it. */
void mvm_reg_fmt_number(char out[32], double v);

/* --- alias.c --- */

/** Inside a transaction: point an alias at `number` and audit the move (no-op if already there). */
int mvm_reg_alias_move(mvm_repo *repo, int64_t model, const char *name, const char *alias, int64_t number);

/* --- gate.c --- */

/*
 * Evaluate a model's metric gates for version `number` against `current`
 * (NULL when the target holds no version). The exec gate's command, if
 * any, is returned in *exec (caller frees) for the caller to run or not.
 */
int mvm_reg_eval_gates(mvm_gate_result **out, size_t *count, mvm_db *db, int64_t model, int64_t number,
		       const int64_t *current, char **exec);
/** Fill `res` for an exec gate that was not run. */
int mvm_reg_gate_not_run(mvm_gate_result *res, const char *cmd);
/** Check the version out into a temporary folder, run cmd there, fill `res`; the folder is removed. */
int mvm_reg_run_exec_gate(mvm_gate_result *res, mvm_repo *repo, const char *cmd, const char *model,
			  int64_t number, const mvm_oid *version, const char *path);

/* --- changeread.c --- */

int mvm_reg_change_state_parse(mvm_change_state *out, const char *s);
/** Load a change inside the caller's transaction; *model is its model's row id. */
int mvm_reg_change_get(mvm_change **out, int64_t *model, mvm_db *db, int64_t id);
int mvm_reg_change_load(mvm_change *c, int64_t *model, mvm_db *db, sqlite3_stmt *row);

/* --- deploy.c, health.c --- */

/* An environment's row of `deployments`; numbers are 0 when none. */
typedef struct {
	int exists;
	char strategy[16];
	int64_t stable, candidate;
	int weight;
	char *rules;               /* rollback rules, one per line, or NULL */
	int64_t time;
} mvm_dep_row;

int mvm_reg_deploy_options_check(const char *strategy, int weight);
int mvm_reg_dep_load(mvm_dep_row *r, mvm_db *db, int64_t model, const char *env);
void mvm_reg_dep_dispose(mvm_dep_row *r);
/** Save `after`, add a history row and an audit entry ("deploy.<event>"). */
int mvm_reg_dep_commit(mvm_repo *repo, int64_t model, const char *name, const char *env, const char *event,
		       const mvm_dep_row *before, const mvm_dep_row *after, const char *detail);
/** Inside a transaction: deploy `number` to env (check_protect: refuse protected environments). */
int mvm_reg_deploy_locked(mvm_repo *repo, int64_t model, const char *name, const char *env, int64_t number,
			  const mvm_deploy_options *o, int check_protect);
/** Apply a change request's deployment (bypasses protection: the change is the approval). */
int mvm_reg_deploy_apply(mvm_repo *repo, const mvm_change *c, int64_t model);
/** The stable version before `stable` became stable (0 when none). */
int mvm_reg_previous_stable(int64_t *out, mvm_db *db, int64_t model, const char *env, int64_t stable);

/* --- protect.c --- */

/** MVM_ECONFLICT when `target` (an alias or environment) of the model is protected. */
int mvm_reg_protect_check(mvm_db *db, int64_t model, const char *name, const char *target, const char *what);
/** Approvals a change request to `target` needs: the model's default or the target's, whichever is higher. */
int mvm_reg_required_approvals(int *out, mvm_db *db, int64_t model, const char *target);

#endif
