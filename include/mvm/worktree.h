/*
 * mvm/worktree.h: staging, committing, status and checkout.
 */
#ifndef MVM_WORKTREE_H
#define MVM_WORKTREE_H

#include "mvm/objects.h"
#include "mvm/repo.h"

typedef struct {
	unsigned int version;
	mvm_progress_cb progress;
	void *payload;
} mvm_work_options;

#define MVM_WORK_OPTIONS_INIT { 1, NULL, NULL }

/*
 * Stage files (folders recursively). Paths are relative to the current
 * directory. A path that is tracked but gone from disk stages its removal.
 * All-or-nothing: if any file fails (e.g. a malformed safetensors header),
 * nothing is staged. @return 0, MVM_ENOTFOUND, MVM_EFORMAT.
 */
int mvm_add(mvm_repo *repo, const char *const *paths, size_t n, const mvm_work_options *opts);

/** Unstage and delete files (or only unstage with `cached`). */
int mvm_rm(mvm_repo *repo, const char *const *paths, size_t n, int cached);

typedef struct {
	unsigned int version;
	const char *message;
	const char *const *params;   /* "key=value" strings */
	size_t nparams;
	const char *const *metrics;  /* "key=number" strings */
	size_t nmetrics;
	int all;                     /* stage modified and deleted tracked files first */
	mvm_work_options work;
	int64_t run;                 /* link to this run (mvm/runs.h): its params and last
					metric values join the version's; 0 for none */
	const char *kind;            /* "dataset" (rows of .jsonl files recorded) or "model"; or NULL */
} mvm_commit_options;

#define MVM_COMMIT_OPTIONS_INIT { 1, NULL, NULL, 0, NULL, 0, 0, MVM_WORK_OPTIONS_INIT, 0, NULL }

/*
 * @return 0, MVM_ENOTHING when the stage equals HEAD, MVM_ECONFLICT if HEAD
 * moved, MVM_ENOTFOUND for an unknown run, MVM_EUSAGE for an unknown kind.
 */
int mvm_commit(mvm_oid *out, mvm_repo *repo, const mvm_commit_options *opts);

/** How a staged path differs from HEAD. */
typedef enum {
	MVM_STAGED_ADDED = 'A',
	MVM_STAGED_MODIFIED = 'M',
	MVM_STAGED_REMOVED = 'D',
} mvm_staged_change;

typedef struct {
	char **staged;      size_t nstaged;     /* stage differs from HEAD */
	unsigned char *staged_change;           /* mvm_staged_change of each staged path */
	char **modified;    size_t nmodified;   /* working file differs from stage */
	char **deleted;     size_t ndeleted;    /* tracked, gone from disk */
	char **untracked;   size_t nuntracked;
	char *branch;                           /* HEAD's branch, NULL when detached */
	mvm_oid head;       int has_head;       /* the version the stage was compared with */
} mvm_status;

/*
 * Compare the stage with HEAD's tree and the working tree with the stage,
 * HEAD read once (so branch, head and the staged list agree even while
 * another process commits). Free with mvm_status_free.
 */
int mvm_status_get(mvm_status **out, mvm_repo *repo);

/*
 * mvm_status_get on the repository at or above `path`, opened only when
 * the status cache (.mvm/status-cache, which mvm_status_get keeps) cannot
 * answer: when the database files changed since it was written, or a
 * tracked file of the size it had changed its stat and must be hashed.
 */
int mvm_status_at(mvm_status **out, const char *path);
void mvm_status_free(mvm_status *st);

/*
 * Make the working tree and stage match `spec`. With paths, only those
 * files are restored (HEAD does not move). Without, a branch name switches
 * to the branch; any other revision detaches HEAD. Refuses (MVM_ECONFLICT)
 * to overwrite uncommitted changes.
 */
int mvm_checkout(mvm_repo *repo, const char *spec, const char *const *paths, size_t n,
		 const mvm_work_options *opts);

/** Switch to an existing branch (mvm_checkout restricted to branches). */
int mvm_switch(mvm_repo *repo, const char *branch, const mvm_work_options *opts);

#endif
