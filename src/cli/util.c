/*
 * util.c: shared CLI helpers: errors, option parsing, progress, output.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(int error)
{
	fprintf(stderr, "mvm: error: %s\n", mvm_error_last());
	if (error == MVM_EUSAGE)
		return EXIT_USAGE;
	if (error == MVM_ECORRUPT)
		return EXIT_CORRUPT;
	return EXIT_FAIL;
}

int cli_usage(const cli_command *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("mvm: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s\n", cmd->usage);
	return EXIT_USAGE;
}

int cli_sub_check(const cli_command *cmd, const char *what, const cli_sub_rules *r, unsigned seen, int n)
{
	unsigned i;

	for (i = 0; r->opt_names[i]; i++) {
		if ((seen & (1u << i)) && !(r->allowed & (1u << i)))
			return cli_usage(cmd, "%s does not apply to '%s'", r->opt_names[i], what);
		if ((r->required & (1u << i)) && !(seen & (1u << i)))
			return cli_usage(cmd, "'%s' needs %s", what, r->opt_names[i]);
	}
	if (n < r->min_args || n > r->max_args)
		return cli_usage(cmd, "wrong arguments for '%s'; usage: %s", what, r->usage);
	return 0;
}

int cli_parse(cli_common *common, const cli_command *cmd, int argc, char **argv,
	      const struct option *extra, const char *extra_short,
	      int (*on_opt)(int c, const char *arg, void *payload), void *payload, int *status)
{
	struct option opts[32];
	char shortopts[64];
	size_t n = 0;
	int c;

	memset(common, 0, sizeof(*common));
	opts[n++] = (struct option){ "json", no_argument, NULL, 'J' };
	opts[n++] = (struct option){ "quiet", no_argument, NULL, 'q' };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	for (; extra && extra->name && n < 31; extra++)
		opts[n++] = *extra;
	memset(&opts[n], 0, sizeof(opts[n]));
	snprintf(shortopts, sizeof(shortopts), "qh%s", extra_short ? extra_short : "");
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
		if (c == 'J')
			common->json = 1;
		else if (c == 'q')
			common->quiet = 1;
		else if (c == 'h') {
			cli_print_help(cmd, stdout);
			*status = EXIT_OK;
			return -1;
		} else if (c == '?' || c == ':' || !on_opt || on_opt(c, optarg, payload) < 0) {
			if (c == '?' || c == ':')
				*status = cli_usage(cmd, "bad option '%s'", argv[optind - 1]);
			else
				*status = EXIT_USAGE;
			return -1;
		}
	}
	return optind;
}

int cli_parse_int(int *out, const char *arg, const char *opt, int min, int max)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (end == arg || *end || v < min || v > max) {
		fprintf(stderr, "mvm: error: %s needs a whole number from %d to %d, not '%s'\n", opt, min, max, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

typedef struct {
	int enabled;
	double start, last;
	int drawn;
} progress_state;

static progress_state progress;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_setup(mvm_work_options *w, cli_ctx *ctx)
{
	progress.enabled = !ctx->quiet && isatty(2);
	progress.start = now_s();
	progress.last = 0;
	progress.drawn = 0;
	w->progress = progress.enabled ? cli_progress : NULL;
	w->payload = NULL;
}

void cli_progress(const char *stage, uint64_t done, uint64_t total, void *payload)
{
	double t = now_s(), el = t - progress.start, rate;
	char a[32], b[32];
	int pct;

	(void)payload;
	if (!progress.enabled || (done < total && t - progress.last < 0.1))
		return;
	progress.last = t;
	rate = el > 0 ? (double)done / el : 0;
	pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
	fprintf(stderr, "\r%-8s %3d%%  %s / %s  %6.1f MB/s  ETA %3.0fs ", stage, pct, cli_size(a, done),
		cli_size(b, total), rate / 1e6, rate > 0 ? (double)(total - done) / rate : 0.0);
	if (done >= total)
		fputc('\n', stderr);
	progress.drawn = 1;
}

void cli_oid_hex(char out[MVM_OID_HEXSZ + 1], const mvm_oid *id)
{
	mvm_oid_fmt(out, id);
}

json_t *cli_json_oid(const mvm_oid *id)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid_fmt(hex, id);
	return json_string(hex);
}

json_t *cli_json_str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *cli_json_strings(char *const *list, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

void cli_json_print(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	fputc('\n', stdout);
	json_decref(j);
}

const char *cli_size(char buf[32], uint64_t bytes)
{
	const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *cli_time(char buf[64], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 64, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}
