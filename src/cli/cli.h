/*
 * cli.h: what the mvm commands share: the command table entry, exit codes,
 * error reporting, the progress bar and output helpers.
 */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include "mvm.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_CORRUPT = 3 };

#define CMD_NEED_REPO 1u

typedef struct {
	mvm_repo *repo;        /* opened when the command has CMD_NEED_REPO */
	int quiet;             /* --quiet: no progress bar */
} cli_ctx;

typedef struct {
	const char *name;
	int (*fn)(cli_ctx *ctx, int argc, char **argv);
	unsigned int flags;
	const char *usage;     /* "mvm add [--quiet] PATH..." */
	const char *summary;   /* one line for 'mvm help' */
	const char *help;      /* paragraph(s) for 'mvm help CMD' */
} cli_command;

const cli_command *cli_find(const char *name);
void cli_print_help(const cli_command *cmd, FILE *out);

/** Print "mvm: error: <last error>" and map the code to an exit status. */
int cli_fail(int error);
/** Print "mvm: error: <msg>" plus a usage hint; exit status 2. */
int cli_usage(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * What one subcommand (of model, change, deploy, run) takes: the option
 * bits it accepts and requires (opt_names[i] names bit 1 << i) and how many
 * operands.
 */
typedef struct {
	const char *const *opt_names;
	unsigned allowed, required;
	int min_args, max_args;
	const char *usage;
} cli_sub_rules;

/*
 * Check the options seen and the n operands given to subcommand `what`
 * ("model create") against its rules: 0, or the usage status after the
 * one-line error.
 */
int cli_sub_check(const cli_command *cmd, const char *what, const cli_sub_rules *r, unsigned seen, int n);

/*
 * Parse options shared by every command plus the command's own.
 * Returns the index of the first operand, or -1 after printing an error
 * (then *status holds the exit code, 0 for --help).
 */
typedef struct {
	int json, quiet, help;
} cli_common;

int cli_parse(cli_common *common, const cli_command *cmd, int argc, char **argv,
	      const struct option *extra, const char *extra_short,
	      int (*on_opt)(int c, const char *arg, void *payload), void *payload, int *status);

/** Parse an integer option value in [min, max]; prints a one-line error and returns -1 if bad. */
int cli_parse_int(int *out, const char *arg, const char *opt, int min, int max);

/** Progress callback for mvm_work_options: a bar on stderr when it is a terminal. */
void cli_progress(const char *stage, uint64_t done, uint64_t total, void *payload);
void cli_progress_setup(mvm_work_options *w, cli_ctx *ctx);

void cli_oid_hex(char out[MVM_OID_HEXSZ + 1], const mvm_oid *id);
/** Print JSON to stdout (pretty, sorted keys as given) and free it. */
void cli_json_print(json_t *j);
json_t *cli_json_oid(const mvm_oid *id);
/** A JSON string, or null for NULL. */
json_t *cli_json_str_or_null(const char *s);
/** A JSON array of n strings. */
json_t *cli_json_strings(char *const *list, size_t n);
/** Human-readable size: "1.5 GiB". */
const char *cli_size(char buf[32], uint64_t bytes);
const char *cli_time(char buf[64], int64_t t);

/* cmd_runshow.c: the read side of 'mvm run' */
json_t *cli_run_json(const mvm_run *r, int full);
int cli_run_show(cli_ctx *ctx, int json, const char *id);
int cli_run_list(cli_ctx *ctx, int json, const char *filter, const char *sort);
int cli_run_compare(cli_ctx *ctx, int json, char **ids, int n);

/* commands */
int cmd_init(cli_ctx *, int, char **);
int cmd_config(cli_ctx *, int, char **);
int cmd_add(cli_ctx *, int, char **);
int cmd_rm(cli_ctx *, int, char **);
int cmd_commit(cli_ctx *, int, char **);
int cmd_status(cli_ctx *, int, char **);
int cmd_log(cli_ctx *, int, char **);
int cmd_show(cli_ctx *, int, char **);
int cmd_ls(cli_ctx *, int, char **);
int cmd_diff(cli_ctx *, int, char **);
int cmd_checkout(cli_ctx *, int, char **);
int cmd_switch(cli_ctx *, int, char **);
int cmd_branch(cli_ctx *, int, char **);
int cmd_tag(cli_ctx *, int, char **);
int cmd_cat(cli_ctx *, int, char **);
int cmd_gc(cli_ctx *, int, char **);
int cmd_fsck(cli_ctx *, int, char **);
int cmd_stats(cli_ctx *, int, char **);
int cmd_model(cli_ctx *, int, char **);
int cmd_change(cli_ctx *, int, char **);
int cmd_deploy(cli_ctx *, int, char **);
int cmd_resolve(cli_ctx *, int, char **);
int cmd_rollback(cli_ctx *, int, char **);
int cmd_audit(cli_ctx *, int, char **);
int cmd_run(cli_ctx *, int, char **);
int cmd_lineage(cli_ctx *, int, char **);
int cmd_repro(cli_ctx *, int, char **);
int cmd_version(cli_ctx *, int, char **);
int cmd_help(cli_ctx *, int, char **);

#endif
