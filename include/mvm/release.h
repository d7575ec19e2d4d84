/*
 * mvm/release.h: shipping model versions.
 *
 * Change requests propose moving a model's alias, or deploying a version
 * to an environment; the model's gates (mvm_model_gates_set) compare the
 * candidate's metrics with those of the version the target holds now
 * ("current"), an exec gate runs a command on the candidate checked out
 * into a temporary folder, and someone other than the author approves.
 *
 * Deployments: an environment ("prod") of a model serves a stable version
 * and, during a rollout, a candidate: blue-green (deployed, no traffic
 * until switched) or canary (a share of requests, by a stable hash of the
 * request key). Health reports are checked against the deployment's
 * rollback rules; a breach rolls the candidate back automatically.
 */
#ifndef MVM_RELEASE_H
#define MVM_RELEASE_H

#include <stdint.h>
#include "mvm/registry.h"

typedef enum {
	MVM_CHANGE_OPEN = 0,
	MVM_CHANGE_APPLIED = 1,
	MVM_CHANGE_REJECTED = 2
} mvm_change_state;

const char *mvm_change_state_name(mvm_change_state s);

typedef struct {
	unsigned int version;
	const char *to_alias;              /* move this alias ... */
	const char *deploy_env;            /* ... or deploy to this environment (exactly one) */
	const char *strategy;              /* deployments: "all", "blue-green", "canary" */
	int weight;                        /* deployments: canary percent, -1 for the default */
	const char *const *rollback_if;    /* deployments: health rules */
	size_t nrollback_if;
	const char *reason;
} mvm_change_options;

#define MVM_CHANGE_OPTIONS_INIT { 1, NULL, NULL, NULL, -1, NULL, 0, NULL }

typedef struct {
	char *approver;
	int64_t time;
} mvm_approval;

typedef struct {
	int64_t id;
	char *model;
	int64_t number;                    /* the candidate version */
	mvm_oid version_id;
	char *candidate_path;              /* the candidate's subpath, or NULL */
	int is_deploy;                     /* target is an environment (else an alias) */
	char *target;
	char *strategy;                    /* NULL for alias moves */
	int weight;                        /* -1 when not given */
	char **rollback_if;
	size_t nrollback_if;
	char *reason;                      /* or NULL */
	char *author;
	int64_t time;
	mvm_change_state state;
	char *closed_by;                   /* who applied or rejected it, or NULL */
	char *close_reason;                /* rejection reason, or NULL */
	int64_t closed_time;
	int forced;                        /* applied with --force */
	mvm_approval *approvals;
	size_t napprovals;
	int approvals_required;
	int has_current;                   /* the target holds a version now: */
	int64_t current_number;
	mvm_oid current_id;
} mvm_change;

/*
 * Open a change request moving `name`'s target to version `ver`.
 * @param[out] id the new change's number
 * @return 0, MVM_ENOTFOUND, MVM_EUSAGE (bad options), MVM_ECONFLICT (archived
 *         model, or the target already holds that version).
 */
int mvm_change_open(int64_t *id, mvm_repo *repo, const char *name, const char *ver, const mvm_change_options *o);

/** One change with its approvals and the target's current holder. Free with mvm_change_free. */
int mvm_change_get(mvm_change **out, mvm_repo *repo, int64_t id);
void mvm_change_free(mvm_change *c);
/** Changes, newest first; `model` NULL for all models, `only_open` to skip closed ones. */
int mvm_change_list(mvm_change **out, size_t *count, mvm_repo *repo, const char *model, int only_open);
void mvm_change_list_free(mvm_change *changes, size_t count);

typedef enum { MVM_GATE_PASS = 0, MVM_GATE_FAIL = 1, MVM_GATE_NOT_RUN = 2 } mvm_gate_status;

typedef struct {
	char *rule;                        /* the rule, or the exec command */
	int is_exec;
	mvm_gate_status status;
	char *detail;                      /* "accuracy 0.91 >= 0.9", "exited with status 1", ... */
} mvm_gate_result;

/*
 * Evaluate a change's gates against the target's current holder. Metric
 * gates always; the exec gate only with `run_exec` (else MVM_GATE_NOT_RUN).
 */
int mvm_change_gates(mvm_gate_result **out, size_t *count, mvm_repo *repo, int64_t id, int run_exec);
void mvm_gate_results_free(mvm_gate_result *r, size_t count);

/** Approve as the current user. @return 0, MVM_ECONFLICT (own change, already approved, closed). */
int mvm_change_approve(mvm_repo *repo, int64_t id);
/** Close without applying. @return 0, MVM_EUSAGE without a reason, MVM_ECONFLICT if closed. */
int mvm_change_reject(mvm_repo *repo, int64_t id, const char *reason);
/*
 * Apply: the gates must pass and the approvals reach the requirement, else
 * MVM_ECONFLICT naming everything missing. `force` skips both (recorded in
 * the change and the audit log).
 */
int mvm_change_apply(mvm_repo *repo, int64_t id, int force);

/* ---- deployments ---- */

typedef struct {
	unsigned int version;
	const char *strategy;              /* "all" (default), "blue-green" or "canary" */
	int weight;                        /* canary: percent of requests, 1-99; -1 for 10 */
	const char *const *rollback_if;    /* health rules that trigger a rollback; none keeps the old ones */
	size_t nrollback_if;
} mvm_deploy_options;

#define MVM_DEPLOY_OPTIONS_INIT { 1, NULL, -1, NULL, 0 }

typedef struct {
	char *env;
	char *strategy;                    /* of the last deployment */
	int has_stable;
	int64_t stable;
	mvm_oid stable_id;
	int has_candidate;
	int64_t candidate;
	mvm_oid candidate_id;
	int weight;                        /* percent of requests the candidate gets */
	char **rollback_if;
	size_t nrollback_if;
	int64_t time;                      /* last change */
} mvm_deployment;

/*
 * Deploy version `ver` to `env`: "all" makes it stable at once; "blue-green"
 * makes it the candidate with no traffic; "canary" the candidate with
 * `weight` percent. The first deployment to an environment is always all at
 * once. @return 0, MVM_ECONFLICT (protected environment, a rollout under way,
 * already serving it), MVM_ENOTFOUND, MVM_EUSAGE.
 */
int mvm_deploy(mvm_repo *repo, const char *name, const char *ver, const char *env, const mvm_deploy_options *o);
/** Make the candidate stable (blue-green switch, or a canary at once). */
int mvm_deploy_switch(mvm_repo *repo, const char *name, const char *env);
/** Raise a canary to `weight` percent; -1 or 100 makes it stable. */
int mvm_deploy_promote(mvm_repo *repo, const char *name, const char *env, int weight);
/** Drop the candidate; the stable version keeps serving. */
int mvm_deploy_abort(mvm_repo *repo, const char *name, const char *env);
/*
 * Roll back: drop a candidate if there is one; then with `to` (a version
 * that was stable in env before) make it stable; without `to` and with no
 * candidate, return to the previous stable version.
 */
int mvm_deploy_rollback(mvm_repo *repo, const char *name, const char *env, const char *to);

typedef struct {
	int64_t version;                   /* the version the report was about */
	int breached;                      /* a rollback rule holds */
	int rolled_back;                   /* ... and the deployment was rolled back */
	char *rule;                        /* the first rule that holds, or NULL */
	char *detail;                      /* "error_rate = 0.2 > 0.05", or NULL */
} mvm_health_result;

/*
 * Record health values ("key=number") for `ver` in env (NULL: the candidate,
 * else the stable version) and check the rollback rules; `current` in a
 * rule is the stable version's latest value. A breach by the candidate
 * drops it; by a stable version with no candidate, returns to the previous
 * stable version. Either is recorded in the history and the audit log.
 */
int mvm_deploy_health(mvm_health_result *out, mvm_repo *repo, const char *name, const char *env, const char *ver,
		      const char *const *kvs, size_t n);
void mvm_health_result_dispose(mvm_health_result *r);

/** Deployments of a model (env NULL: all, by name). Free with mvm_deployments_free. */
int mvm_deploy_status(mvm_deployment **out, size_t *count, mvm_repo *repo, const char *name, const char *env);
void mvm_deployments_free(mvm_deployment *d, size_t count);

typedef struct {
	int64_t time;
	char *actor;
	char *event;                       /* deploy, promote, switch, abort, rollback, auto-rollback, breach */
	int64_t stable_before, stable_after, candidate;  /* 0 when none */
	int weight;
	char *detail;                      /* or NULL */
} mvm_deploy_event;

/** An environment's history, oldest first. */
int mvm_deploy_history(mvm_deploy_event **out, size_t *count, mvm_repo *repo, const char *name, const char *env);
void mvm_deploy_history_free(mvm_deploy_event *e, size_t count);

typedef struct {
	int64_t number;
	mvm_oid id;
	char *path;                        /* the version's subpath, or NULL */
	int is_candidate;
} mvm_resolution;

/*
 * Which version env serves to a request with `key` (NULL: the stable one):
 * the candidate when mvm_deploy_bucket(key) < weight * 100.
 */
int mvm_resolve(mvm_resolution *out, mvm_repo *repo, const char *name, const char *env, const char *key);
void mvm_resolution_dispose(mvm_resolution *r);

/** Stable bucket 0-9999 of a request key: the first 8 bytes of SHA-256(key), big-endian, mod 10000. */
uint32_t mvm_deploy_bucket(const char *key, size_t len);

#endif
