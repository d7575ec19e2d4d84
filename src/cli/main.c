/*
 * main.c: the mvm command table and dispatch. Global options: -C DIR,
 * --version, --help. Each command parses its own options.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"

static const cli_command commands[] = {
	{ "init", cmd_init, 0, "mvm init [DIR]", "Create an empty repository",
	  "Creates DIR/.mvm (DIR defaults to the current folder) with branch 'main'." },
	{ "config", cmd_config, CMD_NEED_REPO, "mvm config [KEY [VALUE]]", "Read or set configuration",
	  "Without KEY lists all settings; with KEY prints it; with VALUE sets it.\n"
	  "Keys: user.name, user.email (MVM_USER=\"Name <email>\" overrides both),\n"
	  "core.compression (zstd level for new chunks, default 1),\n"
	  "registry.admins (comma-separated emails or \"Name <email>\" who may\n"
	  "'change apply --force')." },
	{ "add", cmd_add, CMD_NEED_REPO, "mvm add [--quiet] PATH...", "Stage files for the next version",
	  "Stores each file as content-defined chunks (cut at tensor starts for\n"
	  "safetensors, GGUF, PyTorch checkpoints, NumPy .npy/.npz and ONNX), compressing\n"
	  "and storing only chunks the repository lacks; float weights are coded as\n"
	  "floats, and as deltas against the parent version's same tensor. Folders are\n"
	  "added recursively; a tracked file gone from disk is staged as removed.\n"
	  "A malformed *.safetensors/*.gguf file stages nothing; other files that do\n"
	  "not parse are stored as plain bytes." },
	{ "rm", cmd_rm, CMD_NEED_REPO, "mvm rm [--cached] PATH...", "Unstage and delete tracked files",
	  "--cached keeps the working file and only unstages it." },
	{ "commit", cmd_commit, CMD_NEED_REPO,
	  "mvm commit -m MSG [-a] [--param K=V]... [--metric K=V]... [--run ID] [--kind dataset|model]",
	  "Record the staged files as a version",
	  "-a first stages every tracked file that changed or was deleted.\n"
	  "--param records a training setting, --metric a number (e.g. --metric eval_loss=1.92).\n"
	  "--run ID links the version to run ID (mvm run): the run's params and last metric\n"
	  "values become the version's (--param and --metric win).\n"
	  "--kind dataset marks a dataset version and records the rows (lines) of each\n"
	  ".jsonl file (mvm lineage shows them)." },
	{ "status", cmd_status, 0, "mvm status [--json]", "Show staged, modified and untracked files",
	  "Unchanged files are recognized by their size, mtime and inode and never re-read.\n"
	  "What status reads from the database is cached in .mvm/status-cache (safe to delete)." },
	{ "log", cmd_log, CMD_NEED_REPO, "mvm log [REV] [-n N] [--json]", "List versions, newest first",
	  "Follows first parents from REV (default HEAD)." },
	{ "show", cmd_show, CMD_NEED_REPO, "mvm show REV [--json]", "Show one version and its files", "" },
	{ "ls", cmd_ls, CMD_NEED_REPO, "mvm ls REV [PATH] [--json]", "List files of a version, or tensors of a file",
	  "With PATH naming a tensor file (safetensors, GGUF, PyTorch, NumPy, ONNX),\n"
	  "lists its tensors (dtype, shape, bytes, name)." },
	{ "diff", cmd_diff, CMD_NEED_REPO, "mvm diff [REV [REV]] [--stats] [--json] [PATH...]",
	  "Compare versions file by file and tensor by tensor",
	  "No REV: HEAD against the working tree. One REV: REV against the working tree.\n"
	  "Tensor statuses come from manifests without reading data. --stats reads the\n"
	  "data of modified float tensors (F64/F32/F16/BF16) and adds max_abs_diff,\n"
	  "rel_l2 and cosine.\n"
	  "Use -- before PATHs that could be taken for revisions." },
	{ "checkout", cmd_checkout, CMD_NEED_REPO, "mvm checkout [--quiet] REV [-- PATH...]",
	  "Restore a version (or some of its files) into the working tree",
	  "Without PATH: a branch name switches to that branch, any other revision\n"
	  "detaches HEAD at it. Refuses to overwrite uncommitted changes.\n"
	  "With PATH: restores those files from REV and stages them; HEAD stays." },
	{ "switch", cmd_switch, CMD_NEED_REPO, "mvm switch [--quiet] BRANCH", "Switch to a branch", "" },
	{ "branch", cmd_branch, CMD_NEED_REPO, "mvm branch [--json] [NAME [REV] | -d NAME]",
	  "List, create or delete branches", "" },
	{ "tag", cmd_tag, CMD_NEED_REPO, "mvm tag [--json] [NAME [REV] [-m MSG]]", "List or create tags",
	  "Tags never move; creating an existing tag fails." },
	{ "cat", cmd_cat, CMD_NEED_REPO, "mvm cat REV:PATH [--tensor NAME]", "Write a file or one tensor to stdout",
	  "--tensor writes that tensor's raw bytes, decoding only the chunks holding it." },
	{ "gc", cmd_gc, CMD_NEED_REPO, "mvm gc [--quiet] [--json]", "Delete data no version, branch, tag or the stage uses",
	  "Deletes unreachable chunks and objects, rewrites packs that hold dead\n"
	  "chunks, removes packs nothing names, and rebuilds the chunk filter\n"
	  "(.mvm/chunks.filter) from what is left." },
	{ "fsck", cmd_fsck, CMD_NEED_REPO, "mvm fsck [--quiet] [--json]",
	  "Verify every chunk, object, reference and the audit log",
	  "Decodes and re-hashes every chunk, checks every object and reference, and\n"
	  "re-hashes the audit chain; checks that the chunk filter rules out no stored\n"
	  "chunk. Exit status 3 when anything is damaged; each problem is printed with\n"
	  "its id." },
	{ "stats", cmd_stats, CMD_NEED_REPO, "mvm stats [--json]", "Show what the store holds and what it saves",
	  "Packs and their size on disk; unique chunks with their file bytes and stored\n"
	  "bytes, in all and by codec (docs/FORMAT.md); and every stored version's files\n"
	  "as they would take checked out one version at a time, against the packs.\n"
	  "Versions gc would remove count until gc runs, as their chunks do.\n"
	  "Reads only the index, never chunk data." },
	{ "model", cmd_model, CMD_NEED_REPO, "mvm model SUBCOMMAND ...", "Register, label and promote model versions",
	  "  create NAME [--description TEXT]      a new model in the registry\n"
	  "  list [--json]                         all models\n"
	  "  show NAME [--json]                    versions, states, aliases, metrics\n"
	  "  archive NAME                          keep readable, refuse new versions\n"
	  "  register NAME REV [--path SUBPATH] [--note TEXT] [--json]\n"
	  "                                        pin revision REV as the next version\n"
	  "                                        number (1, 2, 3...) with its commit's\n"
	  "                                        params and metrics\n"
	  "  metric NAME VER KEY=NUMBER...         add or change metrics of a version\n"
	  "  alias NAME ALIAS VER                  point an alias (production, champion...)\n"
	  "                                        at a version; -d NAME ALIAS deletes it\n"
	  "  state NAME VER [STATE] [--json]       move a version forward through\n"
	  "                                        none -> staging -> production -> archived\n"
	  "                                        (skipping allowed); without STATE,\n"
	  "                                        print its transition history\n"
	  "  gate NAME [RULE...] [--exec CMD] [--clear] [--json]\n"
	  "                                        set (or list) the gates change requests\n"
	  "                                        must pass: metric rules like\n"
	  "                                        'accuracy>=current', 'latency_ms<=1.1*current',\n"
	  "                                        'loss<0.5' (current = the version the\n"
	  "                                        target holds now); --exec runs CMD on the\n"
	  "                                        candidate checked out in $MVM_CANDIDATE_DIR\n"
	  "                                        (exit 0 passes); --exec '' removes it\n"
	  "  protect NAME [TARGET] [--approvals N] only change requests may move the alias or\n"
	  "                                        environment TARGET, with N approvals;\n"
	  "                                        without TARGET: approvals every change\n"
	  "                                        request of NAME needs (default 1);\n"
	  "                                        -d NAME TARGET unprotects; no options lists\n"
	  "VER is a version number or an alias. NAME@VER and NAME@ALIAS work as\n"
	  "revisions everywhere (checkout, diff, log, show, ls, cat NAME@3:PATH).\n"
	  "Every change is audited ('mvm audit --model NAME')." },
	{ "change", cmd_change, CMD_NEED_REPO, "mvm change SUBCOMMAND ...",
	  "Propose, check, approve and apply alias moves and deployments",
	  "  open NAME VER --to ALIAS [--reason TEXT] [--json]\n"
	  "                             propose pointing ALIAS at version VER ({\"id\": N})\n"
	  "  open NAME VER --deploy ENV [--strategy all|blue-green|canary] [--weight PCT]\n"
	  "       [--rollback-if RULE]... [--reason TEXT] [--json]\n"
	  "                             propose deploying VER to ENV (as 'mvm deploy')\n"
	  "  list [--model NAME] [--open] [--json]\n"
	  "  show ID [--json]           gates evaluated against the version the target\n"
	  "                             holds now, metrics side by side, tensor-level diff\n"
	  "  approve ID                 approve as the current user (never the author)\n"
	  "  reject ID --reason TEXT    close without applying\n"
	  "  apply ID [--force]         move the target; refused (exit 1, listing what is\n"
	  "                             missing) unless every gate passes (the exec gate\n"
	  "                             runs now) and the approvals reach the model's\n"
	  "                             requirement; --force (registry admins only:\n"
	  "                             config registry.admins) overrides, audited\n"
	  "The user is MVM_USER, else user.name/user.email." },
	{ "deploy", cmd_deploy, CMD_NEED_REPO, "mvm deploy NAME VER --env ENV [options] | mvm deploy SUBCOMMAND ...",
	  "Roll a model version out to an environment",
	  "  NAME VER --env ENV [--strategy all|blue-green|canary] [--weight PCT]\n"
	  "           [--rollback-if RULE]...\n"
	  "                     all: VER serves everything at once; blue-green: VER is\n"
	  "                     deployed beside the stable version with no traffic until\n"
	  "                     'switch'; canary: VER gets PCT% of requests (default 10).\n"
	  "                     The first deployment to ENV is always all at once.\n"
	  "                     --rollback-if replaces ENV's health rules (e.g.\n"
	  "                     'error_rate>0.05', 'latency_ms>1.5*current'). Refused\n"
	  "                     for a protected ENV: use 'mvm change open --deploy'.\n"
	  "  switch NAME --env ENV              make the candidate stable\n"
	  "  promote NAME --env ENV [--weight PCT]\n"
	  "                     raise a canary to PCT%; without --weight make it stable\n"
	  "  abort NAME --env ENV               drop the candidate\n"
	  "  health NAME --env ENV [--version VER] KEY=NUMBER... [--json]\n"
	  "                     report health (of the candidate, else the stable\n"
	  "                     version); when a rollback rule holds, the candidate is\n"
	  "                     rolled back (a stable version without a rollout returns\n"
	  "                     to the previous one) and the history says why. In rules,\n"
	  "                     current = the stable version's latest value.\n"
	  "  status NAME [--env ENV] [--json]   what each environment serves\n"
	  "  history NAME --env ENV [--json]    every change of ENV, oldest first\n"
	  "Subcommand names take precedence over model names." },
	{ "resolve", cmd_resolve, CMD_NEED_REPO, "mvm resolve NAME --env ENV [--key KEY] [--json]",
	  "Which version an environment serves to a request",
	  "Without --key: the stable version. With --key: the candidate when the key's\n"
	  "bucket (first 8 bytes of SHA-256(KEY), big-endian, mod 10000) is below\n"
	  "100 x the canary's percent, so a key always gets the same answer." },
	{ "rollback", cmd_rollback, CMD_NEED_REPO, "mvm rollback NAME --env ENV [--to VER]",
	  "Go back to the version an environment served before",
	  "Drops a candidate if a rollout is under way; otherwise returns to the\n"
	  "previous stable version. --to VER picks a version that served ENV before." },
	{ "audit", cmd_audit, CMD_NEED_REPO, "mvm audit [--model NAME] [--json] | mvm audit verify [--json]",
	  "List or verify the audit log of every change",
	  "Every commit, branch and tag change, gc and registry change appends an entry\n"
	  "(seq, time, actor, action, object, before, after), written in the same\n"
	  "transaction as the change and chained by SHA-256 over the previous entry.\n"
	  "--model NAME lists only entries about that model.\n"
	  "'verify' re-hashes the chain; exit status 3 names the first entry that was\n"
	  "edited, removed or reordered." },
	{ "run", cmd_run, CMD_NEED_REPO, "mvm run SUBCOMMAND ...", "Track experiment runs: params, metrics, inputs, outputs",
	  "  start [--name NAME] [--param K=V]... [--tag K=V]... [--input REV]... [--json]\n"
	  "                             start a run; prints its id (1, 2, 3...)\n"
	  "  log ID KEY=NUMBER... [--step N]\n"
	  "                             append metric points (a series per key; without\n"
	  "                             --step each key's next step: 0, 1, 2...)\n"
	  "  param ID KEY=VALUE...      add or change params\n"
	  "  end ID [--status ok|failed]\n"
	  "  show ID [--json]           params, tags, metric series, command, inputs, outputs\n"
	  "  list [--filter EXPR] [--sort [-]FIELD] [--json]\n"
	  "                             EXPR compares params.KEY, metrics.KEY (last value),\n"
	  "                             tags.KEY, status, name or id with = != < <= > >=\n"
	  "                             against a number or a 'quoted string', joined by\n"
	  "                             and, or and parentheses:\n"
	  "                             \"metrics.loss < 0.5 and (params.lr = 0.1 or status = 'failed')\"\n"
	  "                             --sort metrics.loss (ascending), -metrics.acc (descending)\n"
	  "  compare ID ID... [--json]  params and metrics that differ; each series'\n"
	  "                             last / min / max\n"
	  "  exec [--name NAME] [--param K=V]... [--input REV]... [--output PATH]... -- COMMAND ARGS...\n"
	  "                             run COMMAND as a run: records the command line,\n"
	  "                             host, git commit and dirty flag of the current\n"
	  "                             folder, the variables named in MVM_RUN_ENV (A,B,...),\n"
	  "                             start/end time and exit status. The command gets\n"
	  "                             MVM_PARAM_<KEY>, MVM_INPUT_<n> (version ids, n from 1),\n"
	  "                             MVM_INPUT_COUNT and MVM_RUN_ID; its stdout passes\n"
	  "                             through, and lines 'mvm:metric loss=0.31 step=100'\n"
	  "                             are logged. When it succeeds the outputs are committed\n"
	  "                             (\"run NAME\") and linked to the run; when it fails\n"
	  "                             the run is failed and mvm exits 1\n"
	  "  plot ID... --metric KEY [--out FILE.svg]\n"
	  "                             an SVG line chart of KEY, one line per run\n"
	  "Every change is audited ('mvm audit'). 'mvm commit --run ID' links a version\n"
	  "to a run; see also 'mvm lineage' and 'mvm repro'." },
	{ "lineage", cmd_lineage, CMD_NEED_REPO, "mvm lineage REV [--downstream] [--depth N] [--json | --dot]",
	  "Show what a version was made from, or what was made from it",
	  "Upstream (default): the version, the run that made it, that run's input\n"
	  "versions, the runs that made them, and so on. --downstream: the runs that read\n"
	  "the version and the versions they made, transitively. --depth N follows at\n"
	  "most N runs. --dot prints a Graphviz graph (mvm lineage HEAD --dot | dot -Tsvg)." },
	{ "repro", cmd_repro, CMD_NEED_REPO, "mvm repro REV [--json]", "Print how to reproduce a version",
	  "Prints the inputs (with their ids), the command, params, the code's git commit\n"
	  "and the recorded environment, then the commands that make the version again.\n"
	  "Refused (exit 1, naming what is missing) when the version was not made by a\n"
	  "run, the run has no command (not from 'mvm run exec'), or the code had\n"
	  "uncommitted changes." },
	{ "version", cmd_version, 0, "mvm version", "Print mvm's version", "" },
	{ "help", cmd_help, 0, "mvm help [COMMAND]", "Show help for mvm or a command", "" },
	{ NULL, NULL, 0, NULL, NULL, NULL },
};

const cli_command *cli_find(const char *name)
{
	const cli_command *c;

	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

void cli_print_help(const cli_command *cmd, FILE *out)
{
	fprintf(out, "usage: %s\n\n%s.\n", cmd->usage, cmd->summary);
	if (cmd->help && *cmd->help)
		fprintf(out, "\n%s\n", cmd->help);
	fprintf(out, "\nCommon options: --json (read commands), --quiet, --help.\n");
}

static void print_overview(FILE *out)
{
	const cli_command *c;

	fprintf(out, "usage: mvm [-C DIR] <command> [options]\n\n"
		     "mvm versions large model files: chunk-level dedup, tensor-level diff.\n\n");
	for (c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "\nRevisions: id or unique prefix (4+ hex), branch, tag, HEAD, MODEL@VERSION,\n"
		     "MODEL@ALIAS, REV~N, REV^.\n"
		     "Exit status: 0 ok, 1 failed or refused, 2 usage error, 3 corruption found.\n"
		     "'mvm help COMMAND' or 'mvm COMMAND --help' for details.\n");
}

int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
	const cli_command *c;

	(void)ctx;
	if (argc < 2) {
		print_overview(stdout);
		return EXIT_OK;
	}
	if (!(c = cli_find(argv[1]))) {
		fprintf(stderr, "mvm: error: unknown command '%s'; see 'mvm help'\n", argv[1]);
		return EXIT_USAGE;
	}
	cli_print_help(c, stdout);
	return EXIT_OK;
}

int cmd_version(cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("mvm %s\n", MVM_VERSION);
	return EXIT_OK;
}

/*
 * jansson seeds its hash tables from /dev/urandom when it makes its first
 * object (an open, a read and a close in every command that reads a
 * version); one getrandom() gives the seed instead. A zero seed leaves
 * jansson to its own.
 */
static void seed_json(void)
{
	uint32_t seed = 0;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed) && seed)
		json_object_seed(seed);
}

int main(int argc, char **argv)
{
	const cli_command *cmd;
	cli_ctx ctx = { NULL, 0 };
	int error, status, i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			if (chdir(argv[i + 1]) < 0) {
				fprintf(stderr, "mvm: error: cannot change to folder '%s'\n", argv[i + 1]);
				return EXIT_USAGE;
			}
			i += 2;
		} else if (!strcmp(argv[i], "--version")) {
			return cmd_version(&ctx, 0, NULL);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			print_overview(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "mvm: error: unknown option '%s'\n", argv[i]);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_overview(stderr);
		return EXIT_USAGE;
	}
	if (!(cmd = cli_find(argv[i]))) {
		fprintf(stderr, "mvm: error: unknown command '%s'; see 'mvm help'\n", argv[i]);
		return EXIT_USAGE;
	}
	seed_json();
	for (int j = i + 1; j < argc && strcmp(argv[j], "--"); j++)
		if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
			cli_print_help(cmd, stdout);
			return EXIT_OK;
		}
	if ((cmd->flags & CMD_NEED_REPO) && (error = mvm_repo_open(&ctx.repo, ".")) < 0)
		return cli_fail(error);
	status = cmd->fn(&ctx, argc - i, argv + i);
	mvm_repo_free(ctx.repo);
	return status;
}
