/*
 * mvm/release.h: change requests: proposals to move a model's alias (or,
 * with deployments, an environment) to a version, checked by the model's
 * gates and approved by someone other than their author before they apply.
 *
 * Gates (mvm_model_gates_set) compare the candidate's metrics with those of
 * the version the target holds now ("current"); an exec gate runs a
 * command on the candidate checked out into a temporary folder.
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

#endif
