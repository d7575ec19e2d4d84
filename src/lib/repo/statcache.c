/*
 * statcache.c: the status cache. Opening SQLite was most of an `mvm
 * status` on an unchanged tree: 0.37 of its 1.45 ms went to parsing the
 * schema's 35 tables and setting up the WAL and its index, before a row
 * was read. The cache keeps what status reads from the database, with a
 * stamp of the files it came from (inode, size, mtime and ctime of
 * mvm.db and mvm.db-wal, the boot, the schema).
 *
 * Every change to the database writes one of those files, and a write
 * sets their times to the clock's current tick. So a stamp is only saved
 * when it was taken under SQLite's write lock (no commit can be half
 * published), with an empty WAL, and with times older than the tick
 * current then (mvm_dbstamp_cacheable): any later commit stamps a later
 * time. A checkpoint also changes the stamp and only costs a slow
 * status. As with git's index, this trusts the clock not to step back.
 *
 * The file is native-endian (it never leaves the machine): a magic line,
 * the stamp, HEAD, the staged list, the stage rows, an end line. It is
 * written to a temp file in tmp/ and renamed over, so a reader sees one
 * whole cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta/db.h"
#include "util/fs.h"
#include "statcache.h"

static const char magic[8] = "mvmstc1\n";
static const char endmark[4] = "end\n";
#define CACHE_MAX (1u << 30)
#define NO_BRANCH UINT32_MAX

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int stamp_file(mvm_dbstamp *out, int i, const char *mvmdir, const char *name)
{
	mvm_buf path = MVM_BUF_INIT;
	struct stat st;
	int error;

	if ((error = mvm_buf_printf(&path, "%s/%s", mvmdir, name)) == 0 && stat(path.ptr, &st) == 0) {
		out->file[i].ino = (uint64_t)st.st_ino;
		out->file[i].size = (uint64_t)st.st_size;
		out->file[i].mtime_ns = ns(&st.st_mtim);
		out->file[i].ctime_ns = ns(&st.st_ctim);
	} else if (!error && errno != ENOENT) {
		error = mvm_error_set(MVM_ERROR, "cannot stat %s: %s", path.ptr, strerror(errno));
	}
	mvm_buf_dispose(&path);
	return error;
}

/* This boot's id: after a crash, times that were never written to disk could repeat. */
static void stamp_boot(mvm_dbstamp *out)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, out->boot, sizeof(out->boot)) < 0)
			memset(out->boot, 0, sizeof(out->boot));
		close(fd);
	}
}

int mvm_dbstamp_take(mvm_dbstamp *out, const mvm_repo *repo)
{
	int error;

	memset(out, 0, sizeof(*out));
	stamp_boot(out);
	out->schema = (uint32_t)mvm_db_schema_version();
	if ((error = stamp_file(out, 0, repo->mvmdir, "mvm.db")) == 0)
		error = stamp_file(out, 1, repo->mvmdir, "mvm.db-wal");
	return error;
}

/* The coarsest power of ten, up to a second, that both times are multiples of: the file system's step. */
static int64_t time_step(int64_t m, int64_t c)
{
	int64_t step = 1;

	while (step < 1000000000 && m % (step * 10) == 0 && c % (step * 10) == 0)
		step *= 10;
	return step;
}

int mvm_dbstamp_cacheable(const mvm_dbstamp *s)
{
	struct timespec now;
	int i;

	if (s->file[1].size)
		return 0;
	clock_gettime(CLOCK_REALTIME_COARSE, &now);
	for (i = 0; i < 2; i++) {
		int64_t m = s->file[i].mtime_ns, c = s->file[i].ctime_ns, t = m > c ? m : c;
		if (s->file[i].ino && t + 2 * time_step(m, c) > ns(&now))
			return 0;
	}
	return 1;
}

static int put_u32(mvm_buf *b, uint32_t v)
{
	return mvm_buf_put(b, &v, sizeof(v));
}

static int put_str(mvm_buf *b, const char *s)
{
	size_t n = strlen(s);
	int error;

	if (n >= NO_BRANCH)
		return mvm_error_set(MVM_ETOOLARGE, "path too long");
	if ((error = put_u32(b, (uint32_t)n)) == 0)
		error = mvm_buf_put(b, s, n);
	return error;
}

static int put_row(mvm_buf *b, const mvm_stage_entry *e)
{
	int error;

	if ((error = put_str(b, e->path)) == 0 && (error = put_u32(b, e->mode)) == 0 &&
	    (error = mvm_buf_put(b, &e->size, sizeof(e->size))) == 0 &&
	    (error = mvm_buf_put(b, &e->mtime_ns, sizeof(e->mtime_ns))) == 0 &&
	    (error = mvm_buf_put(b, &e->ctime_ns, sizeof(e->ctime_ns))) == 0)
		error = mvm_buf_put(b, &e->ino, sizeof(e->ino));
	return error;
}

static int encode(mvm_buf *b, const mvm_dbstamp *s, const mvm_status *st, const mvm_stage_entry *stage, size_t n)
{
	size_t i;
	int error;

	if (st->nstaged > NO_BRANCH - 1 || n > NO_BRANCH - 1)
		return mvm_error_set(MVM_ETOOLARGE, "too many paths to cache");
	if ((error = mvm_buf_put(b, magic, sizeof(magic))) < 0 || (error = mvm_buf_put(b, s, sizeof(*s))) < 0 ||
	    (error = put_u32(b, (uint32_t)st->has_head)) < 0 ||
	    (error = mvm_buf_put(b, &st->head, sizeof(st->head))) < 0 ||
	    (error = st->branch ? put_str(b, st->branch) : put_u32(b, NO_BRANCH)) < 0 ||
	    (error = put_u32(b, (uint32_t)st->nstaged)) < 0)
		return error;
	for (i = 0; i < st->nstaged && !error; i++)
		if ((error = mvm_buf_putc(b, (char)st->staged_change[i])) == 0)
			error = put_str(b, st->staged[i]);
	if (!error)
		error = put_u32(b, (uint32_t)n);
	for (i = 0; i < n && !error; i++)
		error = put_row(b, &stage[i]);
	return error ? error : mvm_buf_put(b, endmark, sizeof(endmark));
}

void mvm_statcache_save(const mvm_repo *repo, const mvm_dbstamp *s, const mvm_status *st,
			const mvm_stage_entry *stage, size_t n)
{
	mvm_buf b = MVM_BUF_INIT, tmp = MVM_BUF_INIT, path = MVM_BUF_INIT;
	int fd, error;

	if ((error = encode(&b, s, st, stage, n)) < 0 ||
	    (error = mvm_buf_printf(&tmp, "%s/tmp/status-cache.XXXXXX", repo->mvmdir)) < 0 ||
	    (error = mvm_buf_printf(&path, "%s/status-cache", repo->mvmdir)) < 0 ||
	    (fd = mkostemp(tmp.ptr, O_CLOEXEC)) < 0)
		goto done;
	if ((error = mvm_fs_write_all(fd, b.ptr, b.size, tmp.ptr)) == 0)
		error = fchmod(fd, 0644);
	if (close(fd) < 0 || error < 0 || rename(tmp.ptr, path.ptr) < 0)
		unlink(tmp.ptr);
done:
	mvm_error_clear();
	mvm_buf_dispose(&b);
	mvm_buf_dispose(&tmp);
	mvm_buf_dispose(&path);
}

/* Reading the cache: a cursor that fails once for good. */
typedef struct {
	const char *p, *end;
	int bad;
} cursor;

static void get(cursor *c, void *out, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		memset(out, 0, n);
		return;
	}
	memcpy(out, c->p, n);
	c->p += n;
}

static uint32_t get_u32(cursor *c)
{
	uint32_t v;

	get(c, &v, sizeof(v));
	return v;
}

/* A string of the cache, copied; NULL when bad or out of memory (c->bad set). */
static char *get_str(cursor *c, uint32_t len)
{
	char *s = NULL;

	if (!c->bad && (size_t)(c->end - c->p) >= len && (s = malloc((size_t)len + 1))) {
		memcpy(s, c->p, len);
		s[len] = '\0';
		c->p += len;
		if (strlen(s) != len) {
			free(s);
			s = NULL;
		}
	}
	c->bad |= !s;
	return s;
}

static void decode_staged(cursor *c, mvm_status *st)
{
	uint32_t n = get_u32(c), i;

	if (c->bad || n > (size_t)(c->end - c->p) / 5 || !(st->staged = calloc(n ? n : 1, sizeof(char *))) ||
	    !(st->staged_change = malloc(n ? n : 1))) {
		c->bad = 1;
		return;
	}
	for (i = 0; i < n && !c->bad; i++) {
		get(c, &st->staged_change[i], 1);
		c->bad |= !memchr("AMD", st->staged_change[i], 3);
		if ((st->staged[i] = get_str(c, get_u32(c))))
			st->nstaged++;
	}
}

/* Rows of at least 40 bytes: a length, a mode, four 64-bit fields. */
static void decode_rows(cursor *c, mvm_stage_entry **out, size_t *count)
{
	uint32_t n = get_u32(c), i;
	mvm_stage_entry *e;

	if (c->bad || n > (size_t)(c->end - c->p) / 40 || !(e = calloc(n ? n : 1, sizeof(*e)))) {
		c->bad = 1;
		return;
	}
	*out = e;
	for (i = 0; i < n && !c->bad; i++) {
		if (!(e[i].path = get_str(c, get_u32(c))))
			break;
		(*count)++;
		e[i].mode = get_u32(c);
		get(c, &e[i].size, sizeof(e[i].size));
		get(c, &e[i].mtime_ns, sizeof(e[i].mtime_ns));
		get(c, &e[i].ctime_ns, sizeof(e[i].ctime_ns));
		get(c, &e[i].ino, sizeof(e[i].ino));
		if (i && strcmp(e[i - 1].path, e[i].path) >= 0) /* mvm_stage_find's binary search needs the order */
			c->bad = 1;
	}
}

static void decode(cursor *c, mvm_status *st, mvm_stage_entry **stage, size_t *n)
{
	char end[sizeof(endmark)];
	uint32_t len;

	st->has_head = get_u32(c) != 0;
	get(c, &st->head, sizeof(st->head));
	if ((len = get_u32(c)) != NO_BRANCH)
		st->branch = get_str(c, len);
	decode_staged(c, st);
	decode_rows(c, stage, n);
	get(c, end, sizeof(end));
	c->bad |= c->p != c->end || memcmp(end, endmark, sizeof(end)) != 0;
}

int mvm_statcache_parse(mvm_dbstamp *stamp, mvm_status **out, mvm_stage_entry **stage, size_t *n, const void *buf,
			size_t len)
{
	mvm_status *st = NULL;
	char head[sizeof(magic)];
	cursor c = { buf, (const char *)buf + len, 0 };

	*out = NULL;
	*stage = NULL;
	*n = 0;
	get(&c, head, sizeof(head));
	get(&c, stamp, sizeof(*stamp));
	c.bad |= memcmp(head, magic, sizeof(magic)) != 0 || !(st = calloc(1, sizeof(*st)));
	if (!c.bad)
		decode(&c, st, stage, n);
	if (!c.bad) {
		*out = st;
		return 0;
	}
	mvm_status_free(st);
	mvm_stage_free(*stage, *n);
	*stage = NULL;
	*n = 0;
	return mvm_error_set(MVM_ECORRUPT, "the status cache is damaged");
}

int mvm_statcache_load(mvm_status **out, mvm_stage_entry **stage, size_t *n, const mvm_repo *repo)
{
	mvm_buf b = MVM_BUF_INIT, path = MVM_BUF_INIT;
	mvm_dbstamp now, saved;
	int error;

	*out = NULL;
	*stage = NULL;
	*n = 0;
	if ((error = mvm_buf_printf(&path, "%s/status-cache", repo->mvmdir)) == 0 &&
	    (error = mvm_fs_readfile(&b, path.ptr, CACHE_MAX)) == 0 && (error = mvm_dbstamp_take(&now, repo)) == 0) {
		/* a stale stamp, the common miss, before the rows are parsed */
		if (b.size < sizeof(magic) + sizeof(now) || memcmp(b.ptr + sizeof(magic), &now, sizeof(now)))
			error = MVM_ENOTFOUND;
		else
			error = mvm_statcache_parse(&saved, out, stage, n, b.ptr, b.size);
	}
	if (error < 0) {
		mvm_error_clear();
		error = MVM_ENOTFOUND;
	}
	mvm_buf_dispose(&b);
	mvm_buf_dispose(&path);
	return error;
}
