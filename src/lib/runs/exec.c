/*
 * exec.c: mvm run exec: a command run as a run. What the run records
 * (command, host, git commit and dirty flag, MVM_RUN_ENV variables) is
 * gathered before the command starts; its stdout is passed through line by
 * line and "mvm:metric" lines become metric points, written in batches (at
 * most one transaction a second); afterwards the declared outputs are
 * committed, linked to the run, and the run ends with the exit status.
 * No lock or transaction is held while the command runs, so it may use mvm.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvm/refs.h"
#include "mvm/worktree.h"
#include "repo/repo_internal.h"
#include "runs_internal.h"

extern char **environ;

#define MAX_POINTS_PER_LINE 64

/* ---- metric lines ---- */

static int parse_step(int64_t *out, const char *v)
{
	char *end;
	long long s;

	errno = 0;
	s = strtoll(v, &end, 10);
	if (!isdigit((unsigned char)*v) || *end || errno)
		return mvm_error_set(MVM_EUSAGE, "mvm:metric line: step '%s' is not a whole number >= 0", v);
	*out = s;
	return 0;
}

static int parse_point(mvm_run_point *p, char *tok)
{
	char *eq = strchr(tok, '='), *end;

	if (!eq || eq == tok || !eq[1])
		return mvm_error_set(MVM_EUSAGE, "mvm:metric line: '%s' is not KEY=NUMBER", tok);
	*eq = '\0';
	p->key = tok;
	errno = 0;
	p->value = strtod(eq + 1, &end);
	if (*end || errno || !isfinite(p->value))
		return mvm_error_set(MVM_EUSAGE, "mvm:metric line: %s: '%s' is not a finite number", tok, eq + 1);
	return 0;
}

int mvm_runs_metric_line(mvm_run_point *pts, size_t max, size_t *n, char *line)
{
	int64_t step = -1;
	char *tok, *save = NULL;
	size_t i;
	int error;

	*n = 0;
	if (strncmp(line, "mvm:metric", 10) || (line[10] && !isspace((unsigned char)line[10])))
		return 0;
	for (tok = strtok_r(line + 10, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (!strncmp(tok, "step=", 5)) {
			if ((error = parse_step(&step, tok + 5)) < 0)
				return error;
			continue;
		}
		if (*n == max)
			return mvm_error_set(MVM_EUSAGE, "mvm:metric line: more than %zu metrics", max);
		if ((error = parse_point(&pts[*n], tok)) < 0)
			return error;
		(*n)++;
	}
	if (!*n)
		return mvm_error_set(MVM_EUSAGE, "mvm:metric line without KEY=NUMBER");
	for (i = 0; i < *n; i++)
		pts[i].step = step;
	return 1;
}

/* ---- what the run records before it starts ---- */

/* First line of a shell command's output when it exits 0, else empty. */
static int capture(mvm_buf *out, const char *cmd, int *nonempty)
{
	char line[512];
	FILE *p;
	int rc;

	mvm_buf_clear(out);
	*nonempty = 0;
	fflush(stdout);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p)) {
		if (!*nonempty)
			mvm_buf_puts(out, line);
		*nonempty = 1;
	}
	rc = pclose(p);
	if (rc != 0) {
		mvm_buf_clear(out);
		*nonempty = 0;
		return 0;
	}
	while (out->size && isspace((unsigned char)out->ptr[out->size - 1]))
		out->ptr[--out->size] = '\0';
	return 1;
}

typedef struct {
	mvm_buf commit, host, envbuf;
	int dirty;
	char **env;                 /* pointers into envbuf */
	size_t nenv;
} provenance;

static void git_state(provenance *pv)
{
	mvm_buf status = MVM_BUF_INIT;
	int any;

	pv->dirty = -1;
	if (!capture(&pv->commit, "git rev-parse HEAD 2>/dev/null", &any) || pv->commit.size < 40 ||
	    strspn(pv->commit.ptr, "0123456789abcdef") != pv->commit.size) {
		mvm_buf_clear(&pv->commit);
		return;
	}
	if (capture(&status, "git status --porcelain 2>/dev/null", &any))
		pv->dirty = any;
	mvm_buf_dispose(&status);
}

/* MVM_RUN_ENV="A,B": "A=value" for each one that is set. */
static int env_vars(provenance *pv)
{
	const char *list = getenv("MVM_RUN_ENV"), *p, *v;
	size_t off[64], n = 0, len = 0, i;
	char name[256];

	for (p = list; p && *p; p += len + (p[len] == ',')) {
		len = strcspn(p, ",");
		if (!len || len >= sizeof(name) || n == 64)
			continue;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!(v = getenv(name)))
			continue;
		off[n++] = pv->envbuf.size;
		if (mvm_buf_printf(&pv->envbuf, "%s=%s", name, v) < 0 || mvm_buf_putc(&pv->envbuf, '\0') < 0)
			return MVM_ERROR;
	}
	if (!(pv->env = calloc(n + 1, sizeof(char *))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < n; i++)
		pv->env[i] = pv->envbuf.ptr + off[i];
	pv->nenv = n;
	return 0;
}

static int gather(provenance *pv)
{
	char host[256];

	git_state(pv);
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		mvm_buf_puts(&pv->host, host);
	}
	return env_vars(pv);
}

static void provenance_dispose(provenance *pv)
{
	mvm_buf_dispose(&pv->commit);
	mvm_buf_dispose(&pv->host);
	mvm_buf_dispose(&pv->envbuf);
	free(pv->env);
}

/* ---- the command's environment ---- */

static int put_env(mvm_buf *vars, size_t *off, size_t *n, const char *fmt, const char *a, const char *b)
{
	off[(*n)++] = vars->size;
	if (mvm_buf_printf(vars, fmt, a, b) < 0 || mvm_buf_putc(vars, '\0') < 0)
		return MVM_ERROR;
	return 0;
}

static void env_key(char *out, size_t size, const char *kv)
{
	size_t i;

	for (i = 0; i + 1 < size && kv[i] && kv[i] != '='; i++)
		out[i] = isalnum((unsigned char)kv[i]) ? (char)toupper((unsigned char)kv[i]) : '_';
	out[i] = '\0';
}

/* environ without MVM_PARAM_* / MVM_INPUT_* / MVM_RUN_ID, plus the run's; built before fork. */
static char **child_env(mvm_buf *vars, const mvm_run_exec_options *o, char **input_hex, int64_t run)
{
	size_t n = 0, k = 0, i, nv = 0, *off = calloc(o->nparams + o->ninputs + 3, sizeof(size_t));
	char key[128], num[32], **env = NULL;
	int bad = !off;

	for (i = 0; !bad && i < o->nparams; i++) {
		env_key(key, sizeof(key), o->params[i]);
		bad = put_env(vars, off, &nv, "MVM_PARAM_%s=%s", key, strchr(o->params[i], '=') + 1) < 0;
	}
	for (i = 0; !bad && i < o->ninputs; i++) {
		snprintf(num, sizeof(num), "%zu", i + 1);
		bad = put_env(vars, off, &nv, "MVM_INPUT_%s=%s", num, input_hex[i]) < 0;
	}
	snprintf(num, sizeof(num), "%zu", o->ninputs);
	bad = bad || put_env(vars, off, &nv, "MVM_INPUT_COUNT=%s%s", num, "") < 0;
	snprintf(num, sizeof(num), "%" PRId64, run);
	bad = bad || put_env(vars, off, &nv, "MVM_RUN_ID=%s%s", num, "") < 0;
	while (environ[n])
		n++;
	if (!bad && (env = calloc(n + nv + 1, sizeof(*env)))) {
		for (i = 0; i < n; i++)
			if (strncmp(environ[i], "MVM_PARAM_", 10) && strncmp(environ[i], "MVM_INPUT_", 10) &&
			    strncmp(environ[i], "MVM_RUN_ID=", 11))
				env[k++] = environ[i];
		for (i = 0; i < nv; i++)
			env[k++] = vars->ptr + off[i];
	}
	free(off);
	return env;
}

/* ---- running the command ---- */

typedef struct {
	mvm_repo *repo;
	int64_t run;
	FILE *echo;
	mvm_run_point *pending;
	char **keys;
	size_t npending, cap;
	time_t last_flush;
	int64_t line_no;
} runner;

static int flush_points(runner *r)
{
	size_t i;
	int error = 0;

	if (r->npending)
		error = mvm_run_log_points(r->repo, r->run, r->pending, r->npending);
	for (i = 0; i < r->npending; i++)
		free(r->keys[i]);
	r->npending = 0;
	r->last_flush = time(NULL);
	return error;
}

static int queue_points(runner *r, const mvm_run_point *pts, size_t n)
{
	size_t i;

	if (r->npending + n > r->cap) {
		size_t cap = (r->npending + n) * 2;
		mvm_run_point *p = realloc(r->pending, cap * sizeof(*p));
		char **k = p ? realloc(r->keys, cap * sizeof(*k)) : NULL;
		if (p)
			r->pending = p;
		if (!k)
			return mvm_error_set(MVM_ERROR, "out of memory");
		r->keys = k;
		r->cap = cap;
	}
	for (i = 0; i < n; i++) {
		if (!(r->keys[r->npending] = strdup(pts[i].key)))
			return mvm_error_set(MVM_ERROR, "out of memory");
		r->pending[r->npending] = pts[i];
		r->pending[r->npending].key = r->keys[r->npending];
		r->npending++;
	}
	return time(NULL) != r->last_flush ? flush_points(r) : 0;
}

static int on_line(runner *r, char *line, size_t len)
{
	mvm_run_point pts[MAX_POINTS_PER_LINE];
	size_t n;
	int rc;

	r->line_no++;
	fwrite(line, 1, len, r->echo);
	fflush(r->echo);
	if (len && line[len - 1] == '\n')
		line[len - 1] = '\0';  /* not line[len]: that is the next line's first byte */
	if ((rc = mvm_runs_metric_line(pts, MAX_POINTS_PER_LINE, &n, line)) < 0) {
		fprintf(stderr, "mvm: warning: run %" PRId64 ", output line %" PRId64 " ignored: %s\n", r->run,
			r->line_no, mvm_error_last());
		return 0;
	}
	return rc ? queue_points(r, pts, n) : 0;
}

/* Pass the command's stdout through, line by line; metric lines are queued. */
static int pump(runner *r, int fd)
{
	mvm_buf acc = MVM_BUF_INIT;
	char chunk[8192], *nl;
	ssize_t got;
	size_t start;
	int error = 0;

	while ((got = read(fd, chunk, sizeof(chunk))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (error = mvm_buf_put(&acc, chunk, (size_t)got)) < 0)
			break;
		for (start = 0; (nl = memchr(acc.ptr + start, '\n', acc.size - start)); start = (size_t)(nl - acc.ptr) + 1)
			if ((error = on_line(r, acc.ptr + start, (size_t)(nl - (acc.ptr + start)) + 1)) < 0)
				break;
		memmove(acc.ptr, acc.ptr + start, acc.size - start);
		acc.size -= start;
		if (error < 0)
			break;
	}
	if (!error && acc.size) {
		mvm_buf_putc(&acc, '\0');
		error = on_line(r, acc.ptr, acc.size - 1);
	}
	mvm_buf_dispose(&acc);
	return error;
}

__attribute__((noreturn)) static void child(char *const *argv, char **env, int out_fd, int err_fd)
{
	int e;

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	dup2(out_fd, 1);
	close(out_fd);
	environ = env;
	execvp(argv[0], argv);
	e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* Fork and exec; *exit_code is the status (128+signal when killed). */
static int spawn(int *exit_code, runner *r, char *const *argv, char **env)
{
	int out[2], err[2], status = 127 << 8, e = 0, error = 0;  /* 127 unless it ran */
	void (*old_int)(int), (*old_quit)(int);
	pid_t pid;

	if (pipe(out) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return mvm_error_set(MVM_ERROR, "cannot create a pipe: %s", strerror(errno));
	fflush(NULL);
	old_int = signal(SIGINT, SIG_IGN);  /* like system(): Ctrl-C stops the command, mvm records it */
	old_quit = signal(SIGQUIT, SIG_IGN);
	if ((pid = fork()) == 0) {
		close(out[0]);
		close(err[0]);
		child(argv, env, out[1], err[1]);
	}
	close(out[1]);
	close(err[1]);
	if (pid < 0)
		error = mvm_error_set(MVM_ERROR, "cannot start the command: %s", strerror(errno));
	else if (read(err[0], &e, sizeof(e)) == sizeof(e))
		error = mvm_error_set(MVM_ERROR, "cannot run '%s': %s", argv[0], strerror(e));
	if (pid > 0 && !error)
		error = pump(r, out[0]);
	close(out[0]);
	close(err[0]);
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	signal(SIGINT, old_int);
	signal(SIGQUIT, old_quit);
	*exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return error;
}

/* ---- the whole run ---- */

static int commit_outputs(mvm_run_exec_result *res, mvm_repo *repo, const mvm_run_exec_options *o, const char *name)
{
	mvm_commit_options co = MVM_COMMIT_OPTIONS_INIT;
	mvm_buf msg = MVM_BUF_INIT;
	int error;

	co.work.progress = o->progress;
	co.work.payload = o->payload;
	if ((error = mvm_add(repo, o->outputs, o->noutputs, &co.work)) < 0 ||
	    (error = mvm_buf_printf(&msg, "run %s", name)) < 0)
		goto done;
	co.message = msg.ptr;
	co.run = res->run;
	co.kind = "model";
	if ((error = mvm_commit(&res->version, repo, &co)) == 0)
		res->has_version = 1;
done:
	mvm_buf_dispose(&msg);
	return error;
}

static int resolve_inputs(char **hex, mvm_repo *repo, const mvm_run_exec_options *o)
{
	mvm_oid id;
	size_t i;
	int error;

	for (i = 0; i < o->ninputs; i++) {
		if ((error = mvm_revparse(&id, repo, o->inputs[i])) < 0)
			return mvm_error_wrap(error, "--input %s", o->inputs[i]);
		if (!(hex[i] = malloc(MVM_OID_HEXSZ + 1)))
			return mvm_error_set(MVM_ERROR, "out of memory");
		mvm_oid_fmt(hex[i], &id);
	}
	return 0;
}

static int start(int64_t *id, mvm_repo *repo, const mvm_run_exec_options *o, char **hex, provenance *pv)
{
	mvm_run_start_options so = MVM_RUN_START_OPTIONS_INIT;
	mvm_run_exec_info x = { o->argv, o->outputs, o->noutputs, pv->host.size ? pv->host.ptr : NULL,
				pv->commit.size ? pv->commit.ptr : NULL, pv->dirty, (const char *const *)pv->env,
				pv->nenv };

	so.name = o->name;
	so.params = o->params;
	so.nparams = o->nparams;
	so.inputs = (const char *const *)hex;
	so.ninputs = o->ninputs;
	return mvm_runs_start(id, repo, &so, &x);
}

/* After start: run, flush, commit, end. The run always ends, ok or failed. */
static int execute(mvm_run_exec_result *res, mvm_repo *repo, const mvm_run_exec_options *o, char **hex)
{
	runner r = { repo, res->run, o->echo ? o->echo : stdout, NULL, NULL, 0, 0, time(NULL), 0 };
	mvm_buf vars = MVM_BUF_INIT;
	mvm_run *run = NULL;
	char **env = child_env(&vars, o, hex, res->run);
	int error, ferr;

	error = env ? spawn(&res->exit_code, &r, o->argv, env) : mvm_error_set(MVM_ERROR, "out of memory");
	ferr = flush_points(&r);
	error = error ? error : ferr;
	if (!error && res->exit_code == 0 && o->noutputs && (error = mvm_run_get(&run, repo, res->run)) == 0)
		error = commit_outputs(res, repo, o, run->name);
	mvm_repo_unlock(repo);
	mvm_run_free(run);
	ferr = mvm_runs_end(repo, res->run, !error && res->exit_code == 0 ? MVM_RUN_OK : MVM_RUN_FAILED, 1,
			    res->exit_code);
	free(env);
	free(r.pending);
	free(r.keys);
	mvm_buf_dispose(&vars);
	return error ? error : ferr;
}

int mvm_run_exec(mvm_run_exec_result *res, mvm_repo *repo, const mvm_run_exec_options *o)
{
	char **hex = calloc(o->ninputs + 1, sizeof(char *));
	provenance pv = { MVM_BUF_INIT, MVM_BUF_INIT, MVM_BUF_INIT, -1, NULL, 0 };
	size_t i;
	int error;

	memset(res, 0, sizeof(*res));
	if (!hex)
		return mvm_error_set(MVM_ERROR, "out of memory");
	if (!o->argv || !o->argv[0]) {
		error = mvm_error_set(MVM_EUSAGE, "give the command to run after --");
		goto done;
	}
	for (i = 0; i < o->nparams; i++)
		if (!strchr(o->params[i], '=')) {
			error = mvm_error_set(MVM_EUSAGE, "param '%s' must look like KEY=VALUE", o->params[i]);
			goto done;
		}
	if ((error = resolve_inputs(hex, repo, o)) < 0 || (error = gather(&pv)) < 0 ||
	    (error = start(&res->run, repo, o, hex, &pv)) < 0)
		goto done;
	error = execute(res, repo, o, hex);
done:
	for (i = 0; i < o->ninputs; i++)
		free(hex[i]);
	free(hex);
	provenance_dispose(&pv);
	return error;
}
