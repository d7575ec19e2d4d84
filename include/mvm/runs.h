/*
 * mvm/runs.h: experiment tracking and lineage: runs with params, tags,
 * metric series and status; the versions they read (inputs) and made
 * (outputs); datasets; the lineage graph and reproduction recipes.
 *
 * Runs are numbered 1, 2, 3... per repository. Every change is one SQLite
 * transaction (BEGIN IMMEDIATE) with its audit entry ("run.*" actions,
 * docs/FORMAT.md); a refused change writes nothing.
 */
#ifndef MVM_RUNS_H
#define MVM_RUNS_H

#include <stdint.h>
#include <stdio.h>
#include "mvm/objects.h"
#include "mvm/repo.h"

typedef enum {
	MVM_RUN_RUNNING = 0,
	MVM_RUN_OK = 1,
	MVM_RUN_FAILED = 2
} mvm_run_status;

const char *mvm_run_status_name(mvm_run_status s);
/** "ok" or "failed" (what a run may end with). @return 0, MVM_EUSAGE. */
int mvm_run_status_parse(mvm_run_status *out, const char *name);
/** Parse a run id (a positive whole number). @return 0, MVM_EUSAGE. */
int mvm_run_id_parse(int64_t *out, const char *s);

/** One metric's points, by step, with its summary. */
typedef struct {
	char *key;
	int64_t *steps;
	double *values;
	size_t n;
	double last, min, max;     /* last = the value at the highest step */
} mvm_run_series;

typedef struct {
	int64_t id;
	char *name;                /* "run-<id>" unless named */
	mvm_run_status status;
	char *author;
	int64_t started, ended;    /* seconds since the epoch; ended 0 while running */
	char **argv;               /* the command of 'run exec' (NULL-terminated), or NULL */
	size_t argc;
	char **outputs;            /* declared --output paths of 'run exec' */
	size_t noutputs;
	int has_exit;              /* exit_code is set (run exec) */
	int exit_code;             /* exit status, or 128+signal */
	char *host;                /* or NULL */
	char *code_commit;         /* git commit of the code, or NULL when not recorded */
	int code_dirty;            /* -1 unknown, 0 clean, 1 uncommitted changes */
	mvm_param *params;         /* sorted by key */
	size_t nparams;
	mvm_param *tags;           /* sorted by key */
	size_t ntags;
	mvm_param *env;            /* MVM_RUN_ENV variables, sorted by name */
	size_t nenv;
	mvm_oid *inputs;           /* in --input order (MVM_INPUT_1, _2, ...) */
	size_t ninputs;
	mvm_oid *outputs_ids;      /* versions linked to the run, oldest first */
	size_t noutput_ids;
	mvm_run_series *metrics;   /* sorted by key */
	size_t nmetrics;
} mvm_run;

typedef struct {
	unsigned int version;
	const char *name;          /* NULL: "run-<id>" */
	const char *const *params; /* "key=value" */
	size_t nparams;
	const char *const *tags;   /* "key=value" */
	size_t ntags;
	const char *const *inputs; /* revisions, resolved at start */
	size_t ninputs;
} mvm_run_start_options;

#define MVM_RUN_START_OPTIONS_INIT { 1, NULL, NULL, 0, NULL, 0, NULL, 0 }

/** Start a run. @return 0, MVM_EUSAGE (bad key=value), MVM_ENOTFOUND (an input). */
int mvm_run_start(int64_t *id, mvm_repo *repo, const mvm_run_start_options *opts);

/*
 * Append metric points "key=number" at `step`, or (step < 0) at each key's
 * next step (one past its highest, 0 for a new key). A point at an existing
 * step replaces it. All or nothing.
 */
int mvm_run_log(mvm_repo *repo, int64_t id, const char *const *kvs, size_t n, int64_t step);

/** A metric point, for mvm_run_log_points. step < 0: the key's next step. */
typedef struct {
	const char *key;
	double value;
	int64_t step;
} mvm_run_point;

int mvm_run_log_points(mvm_repo *repo, int64_t id, const mvm_run_point *pts, size_t n);

/** Set params "key=value" (adding or replacing). */
int mvm_run_param_set(mvm_repo *repo, int64_t id, const char *const *kvs, size_t n);

/** End a running run. @return 0, MVM_ECONFLICT when it already ended. */
int mvm_run_end(mvm_repo *repo, int64_t id, mvm_run_status status);

/** Load one run. @return 0, MVM_ENOTFOUND. Free with mvm_run_free. */
int mvm_run_get(mvm_run **out, mvm_repo *repo, int64_t id);
void mvm_run_free(mvm_run *r);

/*
 * Runs matching `filter` (NULL for all; grammar in docs/CLI.md), ordered by
 * `sort` ("metrics.loss", "-params.lr", "name"...; NULL: by id). Runs
 * without the sort key come last. @return 0, MVM_EUSAGE for a malformed
 * filter or sort key (the message names the offending token and column).
 */
int mvm_run_list(mvm_run **out, size_t *count, mvm_repo *repo, const char *filter, const char *sort);
void mvm_run_list_free(mvm_run *runs, size_t count);

/** The series of `key` of a loaded run, or NULL. Borrowed. */
const mvm_run_series *mvm_run_series_find(const mvm_run *r, const char *key);
/** Param or tag value of a loaded run, or NULL. Borrowed. */
const char *mvm_run_param(const mvm_run *r, const char *key);

/* ---- run exec ---- */

typedef struct {
	unsigned int version;
	const char *name;
	const char *const *params;   /* "key=value": recorded and given as MVM_PARAM_<KEY> */
	size_t nparams;
	const char *const *inputs;   /* revisions: MVM_INPUT_<n> = version id (n from 1) */
	size_t ninputs;
	const char *const *outputs;  /* paths staged and committed after a successful command */
	size_t noutputs;
	char *const *argv;           /* the command, NULL-terminated */
	FILE *echo;                  /* where the command's stdout is passed through (stdout) */
	mvm_progress_cb progress;    /* for staging the outputs */
	void *payload;
} mvm_run_exec_options;

#define MVM_RUN_EXEC_OPTIONS_INIT { 1, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL }

typedef struct {
	int64_t run;
	int exit_code;               /* the command's exit status (128+signal when killed) */
	int has_version;             /* outputs were committed */
	mvm_oid version;
} mvm_run_exec_result;

/*
 * Run a command as a run (docs/CLI.md, "mvm run exec"): records the
 * command line, host, git commit and dirty flag of the current folder,
 * MVM_RUN_ENV variables, start and end time and exit status; stdout lines
 * "mvm:metric k=v... [step=N]" become metric points. After a successful
 * command the outputs are committed ("run NAME") and linked to the run.
 * @return 0 when the run was recorded (check res->exit_code), or an error
 * (the run, if started, is ended as failed).
 */
int mvm_run_exec(mvm_run_exec_result *res, mvm_repo *repo, const mvm_run_exec_options *opts);

/* ---- versions: kind, run, dataset rows ---- */

typedef struct {
	char *path;
	int64_t rows;                /* lines of a .jsonl file */
} mvm_dataset_file;

typedef struct {
	char *kind;                  /* "dataset", or NULL */
	int64_t run;                 /* the run that made it, or 0 */
	mvm_dataset_file *files;     /* .jsonl files of a dataset, by path */
	size_t nfiles;
} mvm_version_info;

int mvm_version_info_get(mvm_version_info *out, mvm_repo *repo, const mvm_oid *id);
void mvm_version_info_dispose(mvm_version_info *info);

/* ---- lineage ---- */

typedef enum { MVM_LINEAGE_VERSION = 0, MVM_LINEAGE_RUN = 1 } mvm_lineage_kind;

typedef struct {
	mvm_lineage_kind kind;
	mvm_oid version;             /* MVM_LINEAGE_VERSION */
	int64_t run;                 /* MVM_LINEAGE_RUN */
	int depth;                   /* runs on the way from the start, this node's own run included
					(0: the start; 1: its run and that run's inputs; ...) */
} mvm_lineage_node;

/* An edge in data-flow direction: input version -> run -> output version. */
typedef struct {
	size_t from, to;             /* node indexes */
} mvm_lineage_edge;

typedef struct {
	mvm_lineage_node *nodes;     /* nodes[0] is the start; breadth-first order */
	size_t nnodes;
	mvm_lineage_edge *edges;
	size_t nedges;
} mvm_lineage;

/*
 * The graph upstream of a version (its run, the run's inputs, their runs...)
 * or, with `downstream`, everything built from it (runs that read it, the
 * versions they made, ...). max_depth > 0 limits the run steps followed.
 */
int mvm_lineage_get(mvm_lineage **out, mvm_repo *repo, const mvm_oid *start, int downstream, int max_depth);
void mvm_lineage_free(mvm_lineage *l);

/*
 * The run that made a version, if it can be reproduced: it has a command
 * and ran on clean code. @return 0, or MVM_ECONFLICT / MVM_ENOTFOUND with
 * one line naming what is missing.
 */
int mvm_repro_get(mvm_run **out, mvm_repo *repo, const mvm_oid *version);

/* ---- plots ---- */

typedef struct {
	const char *label;           /* legend text */
	const int64_t *steps;
	const double *values;
	size_t n;
} mvm_plot_series;

/** An SVG line chart (axes, ticks, one <path> per series, legend). */
int mvm_plot_svg(mvm_buf *out, const char *title, const mvm_plot_series *series, size_t n);

#endif
