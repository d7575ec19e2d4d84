/*
 * mvm/registry.h: the model registry: named models with numbered versions
 * (1, 2, 3, ...) each pinned to an immutable version id, metrics, aliases
 * and lifecycle states.
 *
 * `NAME@3` and `NAME@ALIAS` are revisions (mvm_revparse). Wherever a
 * function takes a `ver` string it accepts a version number or an alias.
 * Every change is one SQLite transaction (BEGIN IMMEDIATE) that also appends
 * its audit entry, so concurrent writers never lose an update.
 */
#ifndef MVM_REGISTRY_H
#define MVM_REGISTRY_H

#include <stdint.h>
#include "mvm/objects.h"
#include "mvm/repo.h"

/* Lifecycle of a model version; moves only forward, archived is final. */
typedef enum {
	MVM_STATE_NONE = 0,
	MVM_STATE_STAGING = 1,
	MVM_STATE_PRODUCTION = 2,
	MVM_STATE_ARCHIVED = 3
} mvm_model_state;

const char *mvm_model_state_name(mvm_model_state s);
/** @return 0, or MVM_EUSAGE for an unknown state name. */
int mvm_model_state_parse(mvm_model_state *out, const char *name);

typedef struct {
	mvm_model_state from, to;
	int64_t time;
	char *actor;
} mvm_state_event;

typedef struct {
	int64_t number;            /* 1, 2, 3, ... within the model */
	mvm_oid id;                /* the version (commit) it pins */
	char *path;                /* subpath inside the version, or NULL */
	char *note;                /* or NULL */
	mvm_model_state state;
	char *author;              /* who registered it */
	int64_t time;
	mvm_param *params;         /* the commit's params, sorted by key */
	size_t nparams;
	mvm_metric *metrics;       /* the commit's metrics, overridden by mvm_model_metric_set; sorted */
	size_t nmetrics;
	char **aliases;            /* aliases naming this version, sorted */
	size_t naliases;
	mvm_state_event *history;  /* state transitions, oldest first */
	size_t nhistory;
} mvm_model_version;

typedef struct {
	char *name;
	int64_t number;
	int64_t time;              /* when it last moved */
} mvm_model_alias;

typedef struct {
	char *name;
	char *description;         /* "" when none */
	char *author;              /* who created it */
	int64_t time;
	int archived;
	mvm_model_version *versions;  /* by number */
	size_t nversions;
	mvm_model_alias *aliases;     /* by name */
	size_t naliases;
} mvm_model;

/** Validate a model name: 1-100 of [A-Za-z0-9._-], starting with a letter or digit. */
int mvm_model_name_check(const char *name);
/** Validate an alias or environment name: like a model name, but not all digits. */
int mvm_alias_name_check(const char *name, const char *what);

/** @return 0, MVM_EEXISTS, MVM_EUSAGE for a bad name. */
int mvm_model_create(mvm_repo *repo, const char *name, const char *description);
/** Archive a model: still readable, refuses new versions. @return 0, MVM_ENOTFOUND, MVM_ECONFLICT if archived. */
int mvm_model_archive(mvm_repo *repo, const char *name);

/** One model with its versions and aliases. Free with mvm_model_free. */
int mvm_model_get(mvm_model **out, mvm_repo *repo, const char *name);
void mvm_model_free(mvm_model *m);
/** Every model, by name, with versions and aliases. Free with mvm_model_list_free. */
int mvm_model_list(mvm_model **out, size_t *count, mvm_repo *repo);
void mvm_model_list_free(mvm_model *models, size_t count);
/** Version `number` of a loaded model, or NULL. Borrowed. */
const mvm_model_version *mvm_model_version_find(const mvm_model *m, int64_t number);

typedef struct {
	unsigned int version;
	const char *path;          /* subpath inside the version (file or folder), or NULL */
	const char *note;
} mvm_register_options;

#define MVM_REGISTER_OPTIONS_INIT { 1, NULL, NULL }

/*
 * Register revision `rev` as the model's next version number, carrying the
 * commit's params and metrics. @return 0, MVM_ENOTFOUND (model, revision
 * or path), MVM_ECONFLICT if the model is archived.
 */
int mvm_model_register(int64_t *number, mvm_repo *repo, const char *name, const char *rev,
		       const mvm_register_options *opts);

/** Set metrics ("key=number") on a model version (all or none). */
int mvm_model_metric_set(mvm_repo *repo, const char *name, const char *ver, const char *const *kvs, size_t n);

/** Point `alias` at a version (creating or moving it). */
int mvm_model_alias_set(mvm_repo *repo, const char *name, const char *alias, const char *ver);
/** @return 0, MVM_ENOTFOUND. */
int mvm_model_alias_delete(mvm_repo *repo, const char *name, const char *alias);

/** Move a version to a later state. @return 0, MVM_ECONFLICT for a backward or repeated move. */
int mvm_model_state_set(mvm_repo *repo, const char *name, const char *ver, mvm_model_state to);

/* ---- gates and protection (used by change requests, mvm/release.h) ---- */

typedef struct {
	char **rules;              /* metric rules: "accuracy>=current", "loss<0.5" */
	size_t nrules;
	char *exec;                /* command run on the checked-out candidate, or NULL */
} mvm_model_gates;

/*
 * Set a model's gates. With nrules > 0 the metric rules are replaced; with
 * `exec` set the exec gate is replaced ("" removes it); `clear` removes
 * everything (then give neither). Rules are parsed first: a bad rule
 * changes nothing (MVM_EUSAGE).
 */
int mvm_model_gates_set(mvm_repo *repo, const char *name, const char *const *rules, size_t nrules,
			const char *exec, int clear);
int mvm_model_gates_get(mvm_model_gates *out, mvm_repo *repo, const char *name);
void mvm_model_gates_dispose(mvm_model_gates *g);

typedef struct {
	char *target;              /* alias or environment name */
	int approvals;             /* approvals a change request to it needs */
} mvm_protection;

/*
 * Protect `target` (the alias and the environment of that name): direct
 * moves are refused, only change requests with `approvals` approvals may
 * move it. With target NULL, set the approvals every change request of the
 * model needs (default 1).
 */
int mvm_model_protect(mvm_repo *repo, const char *name, const char *target, int approvals);
/** @return 0, MVM_ENOTFOUND if it was not protected. */
int mvm_model_unprotect(mvm_repo *repo, const char *name, const char *target);
/** Protected targets by name and the model's default approvals. Free with mvm_protections_free. */
int mvm_model_protections(mvm_protection **out, size_t *count, int *approvals, mvm_repo *repo, const char *name);
void mvm_protections_free(mvm_protection *p, size_t count);

/** Resolve `ver` (number or alias) of a model to its number and version id. */
int mvm_model_resolve(int64_t *number, mvm_oid *id, mvm_repo *repo, const char *name, const char *ver);

#endif
