/*
 * runs_internal.h: helpers shared by the runs subsystem's files.
 *
 * link.c needs only the metadata database (commit.c calls it inside the
 * commit's transaction to link a version to its run and record dataset
 * rows); the other files are repository operations.
 */
#ifndef MVM_RUNS_INTERNAL_H
#define MVM_RUNS_INTERNAL_H

#include "mvm/runs.h"
#include "meta/db.h"

/* --- link.c: database-only, used by repo/commit.c --- */

/** The run's params and last metric values, for a version committed with --run. */
int mvm_runs_version_fill(mvm_version *v, mvm_db *db, int64_t run);
/*
 * Inside the commit's transaction: record that version `id` was made by
 * `run` (0: none) and is of `kind` (NULL: none), with dataset files; audit
 * it ("version.link"). Does nothing when run is 0 and kind NULL.
 */
int mvm_runs_link_version(mvm_db *db, const char *actor, const mvm_oid *id, int64_t run, const char *kind,
			  const mvm_dataset_file *files, size_t nfiles);
/** A version's kind, run and dataset files (zeroed when none). */
int mvm_runs_info_load(mvm_version_info *info, mvm_db *db, const mvm_oid *id);
/** MVM_ENOTFOUND unless run `id` exists. */
int mvm_runs_exists(mvm_db *db, int64_t id);

/* --- run.c --- */

/** Split "key=value" (key non-empty); *key is allocated. `what` names the option in errors. */
int mvm_runs_split_kv(char **key, const char **value, const char *kv, const char *what);

/* The fields of 'run exec' stored with the run row. */
typedef struct {
	char *const *argv;
	const char *const *outputs;
	size_t noutputs;
	const char *host, *code_commit;
	int code_dirty;              /* -1 unknown */
	const char *const *env;      /* "NAME=value" */
	size_t nenv;
} mvm_run_exec_info;

/** mvm_run_start with the command's details (exec may be NULL). */
int mvm_runs_start(int64_t *id, mvm_repo *repo, const mvm_run_start_options *o, const mvm_run_exec_info *exec);
/** End a run with an exit code (has_exit 0: none). */
int mvm_runs_end(mvm_repo *repo, int64_t id, mvm_run_status status, int has_exit, int exit_code);

/* --- runread.c --- */

/** Load a run inside the caller's read transaction. */
int mvm_runs_load(mvm_run *r, mvm_db *db, int64_t id);
void mvm_runs_dispose(mvm_run *r);

/* --- exec.c --- */

/*
 * Parse an "mvm:metric k=v ... [step=N]" line in place (keys point into
 * line). @return 1 with the points, 0 for any other line, MVM_EUSAGE for a
 * malformed metric line.
 */
int mvm_runs_metric_line(mvm_run_point *pts, size_t max, size_t *n, char *line);

#endif
