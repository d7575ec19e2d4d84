/*
 * gate.c: a model's gates (table model_gates): metric rules checked
 * against the version a target holds now, and one exec gate, a command run
 * on the candidate checked out into a temporary folder (MVM_CANDIDATE_DIR);
 * exit status 0 passes.
 */
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mvm/inspect.h"
#include "audit/audit_internal.h"
#include "repo/repo_internal.h"
#include "repo/restore.h"
#include "util/fs.h"
#include "registry_internal.h"
#include "rule.h"

/* ---- storage ---- */

static int list_gates(mvm_model_gates *g, mvm_db *db, int64_t model)
{
	sqlite3_stmt *st = NULL;
	int error;

	memset(g, 0, sizeof(*g));
	if ((error = mvm_db_prepare(&st, db, "SELECT kind, rule FROM model_gates WHERE model = ? ORDER BY id")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	while ((error = mvm_db_step_row(db, st)) > 0) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		char *rule = strdup((const char *)sqlite3_column_text(st, 1));
		char **nr = NULL;
		if (rule && !strcmp(kind, "exec")) {
			free(g->exec);
			g->exec = rule;
			continue;
		}
		if (!rule || !(nr = realloc(g->rules, (g->nrules + 1) * sizeof(*nr)))) {
			free(rule);
			error = mvm_error_set(MVM_ERROR, "out of memory");
			break;
		}
		g->rules = nr;
		g->rules[g->nrules++] = rule;
	}
	sqlite3_finalize(st);
	if (error < 0)
		mvm_model_gates_dispose(g);
	return error;
}

void mvm_model_gates_dispose(mvm_model_gates *g)
{
	size_t i;

	for (i = 0; i < g->nrules; i++)
		free(g->rules[i]);
	free(g->rules);
	free(g->exec);
	memset(g, 0, sizeof(*g));
}

int mvm_model_gates_get(mvm_model_gates *out, mvm_repo *repo, const char *name)
{
	int64_t model;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_reg_model_id(&model, NULL, repo->db, name)) < 0)
		return error;
	return list_gates(out, repo->db, model);
}

/* {"rules":[...],"exec":...} for the audit log */
static int gates_text(mvm_buf *out, const mvm_model_gates *g)
{
	json_t *o = json_object(), *rules = json_array();
	char *s;
	size_t i;
	int error = 0;

	for (i = 0; i < g->nrules; i++)
		json_array_append_new(rules, json_string(g->rules[i]));
	json_object_set_new(o, "rules", rules);
	json_object_set_new(o, "exec", g->exec ? json_string(g->exec) : json_null());
	if (!(s = json_dumps(o, JSON_COMPACT)))
		error = mvm_error_set(MVM_ERROR, "out of memory");
	else
		error = mvm_buf_puts(out, s);
	free(s);
	json_decref(o);
	return error;
}

typedef struct {
	const char *name;
	const char *const *rules;
	size_t nrules;
	const char *exec;
	int clear;
} gates_args;

static int insert_gate(mvm_db *db, int64_t model, const char *kind, const char *rule)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT INTO model_gates(model, kind, rule) VALUES(?, ?, ?)")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, rule, -1, SQLITE_STATIC);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int delete_gates(mvm_db *db, int64_t model, const char *kind)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, kind ? "DELETE FROM model_gates WHERE model = ?1 AND kind = ?2"
						  : "DELETE FROM model_gates WHERE model = ?1")) < 0)
		return error;
	sqlite3_bind_int64(st, 1, model);
	if (kind)
		sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

static int write_gates(mvm_db *db, int64_t model, const gates_args *a)
{
	size_t i;
	int error = 0;

	if (a->clear)
		return delete_gates(db, model, NULL);
	if (a->nrules && (error = delete_gates(db, model, "metric")) < 0)
		return error;
	for (i = 0; i < a->nrules && !error; i++)
		error = insert_gate(db, model, "metric", a->rules[i]);
	if (!error && a->exec && (error = delete_gates(db, model, "exec")) == 0 && *a->exec)
		error = insert_gate(db, model, "exec", a->exec);
	return error;
}

static int gates_txn(mvm_repo *repo, void *payload)
{
	gates_args *a = payload;
	mvm_buf before = MVM_BUF_INIT, after = MVM_BUF_INIT, object = MVM_BUF_INIT;
	mvm_model_gates old, now;
	int64_t model;
	int error;

	memset(&now, 0, sizeof(now));
	if ((error = mvm_reg_model_id(&model, NULL, repo->db, a->name)) < 0 ||
	    (error = list_gates(&old, repo->db, model)) < 0)
		return error;
	if ((error = write_gates(repo->db, model, a)) < 0 || (error = list_gates(&now, repo->db, model)) < 0 ||
	    (error = gates_text(&before, &old)) < 0 || (error = gates_text(&after, &now)) < 0 ||
	    (error = mvm_buf_printf(&object, "model/%s", a->name)) < 0)
		goto done;
	if (strcmp(before.ptr, after.ptr))
		error = mvm_audit_record(repo, "model.gates", object.ptr, before.ptr, after.ptr);
done:
	mvm_model_gates_dispose(&old);
	mvm_model_gates_dispose(&now);
	mvm_buf_dispose(&before);
	mvm_buf_dispose(&after);
	mvm_buf_dispose(&object);
	return error;
}

int mvm_model_gates_set(mvm_repo *repo, const char *name, const char *const *rules, size_t nrules,
			const char *exec, int clear)
{
	gates_args a = { name, rules, nrules, exec, clear };
	mvm_rule r;
	size_t i;
	int error;

	if (clear && (nrules || exec))
		return mvm_error_set(MVM_EUSAGE, "clearing the gates takes no rules or --exec");
	if (!clear && !nrules && !exec)
		return mvm_error_set(MVM_EUSAGE, "give gate rules, --exec CMD or --clear");
	for (i = 0; i < nrules; i++)
		if ((error = mvm_rule_parse(&r, rules[i])) < 0)
			return error;
	if (exec && strchr(exec, '\n'))
		return mvm_error_set(MVM_EUSAGE, "--exec takes a one-line command");
	return mvm_repo_txn(repo, gates_txn, &a);
}

/* ---- evaluation ---- */

static int result_set(mvm_gate_result *r, const char *rule, int is_exec, mvm_gate_status status,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int result_set(mvm_gate_result *r, const char *rule, int is_exec, mvm_gate_status status,
		      const char *fmt, ...)
{
	mvm_buf detail = MVM_BUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = mvm_buf_vprintf(&detail, fmt, ap);
	va_end(ap);
	r->is_exec = is_exec;
	r->status = status;
	r->detail = mvm_buf_detach(&detail);
	if (error < 0 || !r->detail || !(r->rule = strdup(rule)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	return 0;
}

static int eval_rule(mvm_gate_result *res, mvm_db *db, int64_t model, int64_t number, const int64_t *current,
		     const char *text)
{
	char v[32], c[32], rhs_s[32];
	double value, cur = 0, rhs;
	mvm_rule r;
	int found, error;

	if ((error = mvm_rule_parse(&r, text)) < 0)
		return result_set(res, text, 0, MVM_GATE_FAIL, "%s", mvm_error_last());
	if ((error = mvm_reg_metric_get(&found, &value, db, model, number, r.key)) < 0)
		return error;
	if (!found)
		return result_set(res, text, 0, MVM_GATE_FAIL, "version %lld has no metric '%s'", (long long)number, r.key);
	if (r.uses_current && !current)
		return result_set(res, text, 0, MVM_GATE_PASS, "nothing to compare with: the target holds no version yet");
	if (r.uses_current && (error = mvm_reg_metric_get(&found, &cur, db, model, *current, r.key)) < 0)
		return error;
	if (r.uses_current && !found)
		return result_set(res, text, 0, MVM_GATE_FAIL, "current version %lld has no metric '%s'",
				  (long long)*current, r.key);
	rhs = mvm_rule_rhs(&r, cur);
	snprintf(v, sizeof(v), "%.10g", value);
	snprintf(c, sizeof(c), "%.10g", cur);
	snprintf(rhs_s, sizeof(rhs_s), "%.10g", rhs);
	if (mvm_rule_compare(r.op, value, rhs))
		return result_set(res, text, 0, MVM_GATE_PASS, "%s = %s %s %s%s%s%s", r.key, v, mvm_rule_op_str(r.op),
				  rhs_s, r.uses_current ? " (current " : "", r.uses_current ? c : "",
				  r.uses_current ? ")" : "");
	return result_set(res, text, 0, MVM_GATE_FAIL, "%s = %s, needs %s %s%s%s%s", r.key, v, mvm_rule_op_str(r.op),
			  rhs_s, r.uses_current ? " (current " : "", r.uses_current ? c : "", r.uses_current ? ")" : "");
}

int mvm_reg_eval_gates(mvm_gate_result **out, size_t *count, mvm_db *db, int64_t model, int64_t number,
		       const int64_t *current, char **exec)
{
	mvm_model_gates g;
	mvm_gate_result *res = NULL;
	size_t i, nres;
	int error;

	*out = NULL;
	*count = 0;
	*exec = NULL;
	if ((error = list_gates(&g, db, model)) < 0)
		return error;
	nres = g.nrules;
	if (!(res = calloc(nres + 1, sizeof(*res)))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < g.nrules && !error; i++)
		if ((error = eval_rule(&res[i], db, model, number, current, g.rules[i])) == 0)
			(*count)++;
	*exec = g.exec;
	g.exec = NULL;
done:
	mvm_model_gates_dispose(&g);
	if (error < 0) {
		mvm_gate_results_free(res, nres);
		free(*exec);
		*exec = NULL;
		*count = 0;
		return error;
	}
	*out = res;
	return 0;
}

void mvm_gate_results_free(mvm_gate_result *r, size_t count)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < count; i++) {
		free(r[i].rule);
		free(r[i].detail);
	}
	free(r);
}

int mvm_reg_gate_not_run(mvm_gate_result *res, const char *cmd)
{
	return result_set(res, cmd, 1, MVM_GATE_NOT_RUN, "runs when the change is applied");
}

/* ---- the exec gate ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Write the candidate's files (those under `path`, or all) into dir. */
static int export_version(mvm_repo *repo, const mvm_oid *version, const char *path, const char *dir)
{
	mvm_buf abs = MVM_BUF_INIT;
	mvm_restore r;
	mvm_tree *t = NULL;
	size_t i, n = path ? strlen(path) : 0;
	int error;

	if ((error = mvm_version_tree(&t, repo, version)) < 0)
		return error;
	if ((error = mvm_restore_init(&r, repo)) < 0)
		goto done;
	for (i = 0; i < t->count && !error; i++) {
		const mvm_tree_entry *e = &t->entries[i];
		mvm_manifest *m = NULL;
		struct stat st;
		if (path && strcmp(e->path, path) && (strncmp(e->path, path, n) || e->path[n] != '/'))
			continue;
		mvm_buf_clear(&abs);
		if ((error = mvm_fs_join(&abs, dir, e->path)) == 0 &&
		    (error = mvm_manifest_lookup(&m, repo, e)) == 0)
			error = mvm_restore_file(&st, &r, m, abs.ptr, e->path, e->mode);
		mvm_manifest_free(m);
	}
	mvm_restore_dispose(&r);
done:
	mvm_tree_free(t);
	mvm_buf_dispose(&abs);
	return error;
}

extern char **environ;

/* environ plus the gate's variables, built before fork: the child only execs. */
static char **gate_env(mvm_buf *vars, const char *dir, const char *target, const char *model, int64_t number)
{
	size_t n = 0, i, k = 0, off[4];
	char **env;

	mvm_buf_clear(vars);
	off[0] = vars->size;
	mvm_buf_printf(vars, "MVM_CANDIDATE_DIR=%s", dir);
	mvm_buf_putc(vars, '\0');
	off[1] = vars->size;
	mvm_buf_printf(vars, "MVM_CANDIDATE_PATH=%s", target);
	mvm_buf_putc(vars, '\0');
	off[2] = vars->size;
	mvm_buf_printf(vars, "MVM_MODEL=%s", model);
	mvm_buf_putc(vars, '\0');
	off[3] = vars->size;
	if (mvm_buf_printf(vars, "MVM_MODEL_VERSION=%lld", (long long)number) < 0)
		return NULL;
	while (environ[n])
		n++;
	if (!(env = calloc(n + 5, sizeof(*env))))
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "MVM_CANDIDATE_", 14) && strncmp(environ[i], "MVM_MODEL=", 10) &&
		    strncmp(environ[i], "MVM_MODEL_VERSION=", 18))
			env[k++] = environ[i];
	for (i = 0; i < 4; i++)
		env[k++] = vars->ptr + off[i];
	return env;
}

static int run_command(int *status, const char *cmd, const char *dir, const char *target, const char *model,
		       int64_t number)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	mvm_buf vars = MVM_BUF_INIT;
	char **env;
	pid_t pid;
	int error = 0;

	if (!(env = gate_env(&vars, dir, target, model, number))) {
		mvm_buf_dispose(&vars);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		error = mvm_error_set(MVM_ERROR, "cannot start the exec gate: %s", strerror(errno));
	} else if (pid == 0) {
		dup2(2, 1);  /* the gate's output goes to stderr: mvm's stdout stays clean */
		if (chdir(dir) == 0)
			execve("/bin/sh", argv, env);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, status, 0) < 0)
		if (errno != EINTR) {
			error = mvm_error_set(MVM_ERROR, "waiting for the exec gate: %s", strerror(errno));
			break;
		}
	free(env);
	mvm_buf_dispose(&vars);
	return error;
}

int mvm_reg_run_exec_gate(mvm_gate_result *res, mvm_repo *repo, const char *cmd, const char *model,
			  int64_t number, const mvm_oid *version, const char *path)
{
	mvm_buf dir = MVM_BUF_INIT, target = MVM_BUF_INIT;
	const char *tmp = getenv("TMPDIR");
	int status = 0, error;

	if ((error = mvm_buf_printf(&dir, "%s/mvm-candidate-XXXXXX", tmp && *tmp ? tmp : "/tmp")) < 0)
		return error;
	if (!mkdtemp(dir.ptr)) {
		error = mvm_error_set(MVM_ERROR, "cannot create a folder for the candidate in %s: %s",
				      tmp && *tmp ? tmp : "/tmp", strerror(errno));
		goto done;
	}
	if ((error = export_version(repo, version, path, dir.ptr)) < 0 ||
	    (error = path ? mvm_fs_join(&target, dir.ptr, path) : mvm_buf_puts(&target, dir.ptr)) < 0 ||
	    (error = run_command(&status, cmd, dir.ptr, target.ptr, model, number)) < 0)
		goto cleanup;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		error = result_set(res, cmd, 1, MVM_GATE_PASS, "exited with status 0");
	else if (WIFEXITED(status))
		error = result_set(res, cmd, 1, MVM_GATE_FAIL, "exited with status %d", WEXITSTATUS(status));
	else
		error = result_set(res, cmd, 1, MVM_GATE_FAIL, "killed by signal %d", WTERMSIG(status));
cleanup:
	nftw(dir.ptr, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
done:
	mvm_buf_dispose(&dir);
	mvm_buf_dispose(&target);
	return error;
}
