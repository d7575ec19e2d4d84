/*
 * restore.c: write one stored file into the working tree (and hand the
 * bytes of a stored range to a reader, mvm_restore_read).
 *
 * Chunks are decoded on the pool in batches, four in flight: a quarter of
 * the file each, from 1 MiB (so a file of a few MiB still decodes on all
 * cores) to 8 MiB (large pack reads). A batch's chunks and, apart, the
 * bases of its deltas are each read in runs of pack neighbours, then
 * decoded four at a time, their rANS blocks together (store/ransgroup.c).
 * With 64 KiB chunks 1 MiB batches had served as well (8 MiB took ~15%
 * more CPU for the same time); with 256 KiB ones a 1 MiB batch is four
 * chunks and its pack reads too small: the cold 4-shard checkout took
 * 4.90-5.12 s with 8 x 1 MiB, 4.49-4.52 s with 4 x 4 MiB and 4.11-4.42 s
 * with 4 x 8 MiB (peak RSS 50, 55, 79 MB). Each batch in flight has a
 * worker of its own (a worker waiting on a pack read leaves the core to
 * the others); batches are written in order by the calling thread
 * through the sequential writer (O_DIRECT where the file system allows:
 * no page-cache copy). Each worker checks every chunk it decoded against
 * its id (mvm_sha256_many: sixteen in AVX-512 lanes where the CPU has them),
 * before the temp file can be renamed over the destination,
 * so a damaged store never yields a wrong file: the manifest was checked
 * against its own id when read, so the file is the bytes that were
 * added. A whole-file SHA-256 would be one stream in file order, which
 * paced the whole checkout (~0.7 core-s per GB, on one core).
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/hash.h"
#include "util/pool.h"
#include "restore.h"

#define RESTORE_BATCH_MIN (1u << 20) /* also the largest file decoded on the calling thread */
#define RESTORE_BATCH_MAX (8u << 20)
#define RESTORE_BATCHES 4

typedef struct {
	mvm_job decode_job;
	mvm_repo *repo;
	const mvm_manifest *m;
	mvm_sha256 *hash[2];          /* chunk ids, two at a time */
	size_t first, count;
	unsigned char *buf;
	size_t cap, len;
	mvm_chunk_loc *locs;          /* count entries */
	mvm_chunk_loc *base_locs;     /* of the deltas' bases, where has_base[i] */
	unsigned char *has_base;
	size_t locs_cap;
	mvm_stored_set stored;        /* the batch's chunks as stored, read in runs */
	mvm_stored_set bases;         /* their bases as stored, read in runs too */
	mvm_buf base;                 /* a base, decoded */
	mvm_buf scratch;
	int error;
	char msg[256];
} rbatch;

/* Where chunk i of the batch starts in its buffer. */
static size_t chunk_start(const rbatch *b, size_t i)
{
	return (size_t)(b->m->chunk_offsets[b->first + i] - b->m->chunk_offsets[b->first]);
}

/* The batch's chunks, decoded, against their ids (many at once: mvm_sha256_many). */
static int verify_chunks(rbatch *b)
{
	const mvm_chunk_ref *c = b->m->chunks + b->first;
	const unsigned char *p[MVM_SHA256_MANY];
	size_t n[MVM_SHA256_MANY], i, k, w;
	mvm_oid got[MVM_SHA256_MANY];
	int error = 0;

	for (i = 0; i < b->count && !error; i += w) {
		w = b->count - i < MVM_SHA256_MANY ? b->count - i : MVM_SHA256_MANY;
		for (k = 0; k < w; k++) {
			p[k] = b->buf + chunk_start(b, i + k);
			n[k] = c[i + k].len;
		}
		error = mvm_sha256_many(got, p, n, w, b->hash);
		for (k = 0; k < w && !error; k++)
			if (mvm_oid_cmp(&got[k], &c[i + k].id))
				error = mvm_error_set(MVM_ECORRUPT, "bytes %" PRIu64 "-%" PRIu64
						      " decode to something else than their chunk id; run 'mvm fsck'",
						      b->m->chunk_offsets[b->first + i + k],
						      b->m->chunk_offsets[b->first + i + k] + c[i + k].len);
	}
	return error;
}

/*
 * Locate every chunk and every delta's base. A base that cannot be
 * located here is left to the delta's own read, which reports it.
 */
static int locate_chunks(rbatch *b, mvm_store *st)
{
	size_t i;
	int error;

	for (i = 0; i < b->count; i++) {
		if ((error = mvm_store_locate(&b->locs[i], st, &b->m->chunks[b->first + i].id)) < 0)
			return error;
		if (b->locs[i].raw_len != b->m->chunks[b->first + i].len)
			return mvm_error_set(MVM_ECORRUPT, "chunk length in the store does not match the manifest");
		b->has_base[i] = b->locs[i].has_base && mvm_store_locate_base(&b->base_locs[i], st, &b->locs[i]) == 0;
		if (b->locs[i].has_base && !b->has_base[i])
			mvm_error_clear();
	}
	return 0;
}

/*
 * Decode chunks from i on, *n of them: up to MVM_STORE_DECODE_GROUP
 * neighbours, their entropy decoding interleaved; deltas whose bases the
 * batch's base set holds apart from the others, their bases decoded together.
 */
static int decode_chunks(rbatch *b, mvm_store *st, size_t i, size_t *n)
{
	unsigned char *dst[MVM_STORE_DECODE_GROUP];
	size_t idx[MVM_STORE_DECODE_GROUP], k, off = 0;
	int error;

	for (*n = 0; *n < MVM_STORE_DECODE_GROUP && i + *n < b->count && b->has_base[i + *n] == b->has_base[i]; (*n)++) {
		idx[*n] = i + *n;
		dst[*n] = b->buf + chunk_start(b, i + *n);
	}
	if (!b->has_base[i])
		return mvm_store_read_many_in_set(dst, st, &b->stored, idx, b->locs, *n, &b->scratch);
	/* deltas: their bases decoded together, then each delta against its own */
	for (k = 0; k < *n; k++)
		off += b->base_locs[i + k].raw_len;
	if ((error = mvm_buf_grow(&b->base, off)) < 0)
		return error;
	for (k = 0, off = 0; k < *n; k++) {
		dst[k] = (unsigned char *)b->base.ptr + off;
		off += b->base_locs[i + k].raw_len;
	}
	if ((error = mvm_store_read_many_in_set(dst, st, &b->bases, idx, b->base_locs, *n, &b->scratch)) < 0)
		return error;
	for (k = 0; k < *n && !error; k++)
		error = mvm_store_read_delta_in_set(b->buf + chunk_start(b, i + k), st, &b->stored, i + k, &b->locs[i + k],
						    &b->base_locs[i + k], dst[k], &b->scratch);
	return error;
}

/*
 * Decode the batch, then check its chunks against their ids, sixteen at
 * a time where the CPU has AVX-512 lanes for them. (Checked two at a time
 * right after each group was decoded, while its bytes were in this
 * core's cache, they were no cheaper.)
 */
static void decode_run(mvm_job *job)
{
	rbatch *b = (rbatch *)job;
	mvm_store *st = b->repo->store;
	size_t i, n;
	int error;

	/* the chunks and, apart, their bases, each read in runs of pack neighbours; then decoded in order */
	if ((error = locate_chunks(b, st)) == 0 &&
	    (error = mvm_store_read_set(&b->stored, st, b->locs, NULL, b->count)) == 0 &&
	    mvm_store_read_set(&b->bases, st, b->base_locs, b->has_base, b->count) < 0)
		mvm_error_clear(); /* bases the set could not read are read alone */
	for (i = 0; i < b->count && !error; i += n)
		error = decode_chunks(b, st, i, &n);
	if (!error)
		error = verify_chunks(b);
	if (error < 0) {
		b->error = error;
		snprintf(b->msg, sizeof(b->msg), "%s", mvm_error_last());
	}
}

/* Bytes a batch of the file takes: a quarter of it, from 1 to 8 MiB. */
static size_t batch_target(const mvm_manifest *m)
{
	uint64_t quarter = m->size / RESTORE_BATCHES;

	return quarter < RESTORE_BATCH_MIN ? RESTORE_BATCH_MIN
	       : quarter > RESTORE_BATCH_MAX ? RESTORE_BATCH_MAX : (size_t)quarter;
}

/* Plan the next batch starting at chunk `*next`, before `last`, of at most `target` bytes (or one chunk). */
static int batch_plan(rbatch *b, const mvm_manifest *m, size_t *next, size_t last, size_t target)
{
	b->first = *next;
	b->len = 0;
	while (*next < last && (b->len == 0 || b->len + m->chunks[*next].len <= target))
		b->len += m->chunks[(*next)++].len;
	b->count = *next - b->first;
	if (b->count > b->locs_cap) {
		free(b->locs);
		free(b->base_locs);
		free(b->has_base);
		b->locs_cap = 0;
		if (!(b->locs = malloc(b->count * sizeof(*b->locs))) ||
		    !(b->base_locs = malloc(b->count * sizeof(*b->base_locs))) || !(b->has_base = malloc(b->count)))
			return mvm_error_set(MVM_ERROR, "out of memory for checkout buffers");
		b->locs_cap = b->count;
	}
	if (b->len > b->cap) {
		free(b->buf);
		if (!(b->buf = malloc(b->len)))
			return mvm_error_set(MVM_ERROR, "out of memory for checkout buffers");
		b->cap = b->len;
	}
	return 0;
}

int mvm_restore_read(mvm_restore *r, const mvm_manifest *m, size_t first, size_t last, const char *name,
		     mvm_restore_sink sink, void *payload)
{
	rbatch *b = r->batches;
	size_t next = first, k, head = 0, tail = 0, target = batch_target(m);
	int error = 0;

	/* keep up to RESTORE_BATCHES decodes in flight; hand on the oldest when it is done */
	while (!error && (next < last || head != tail)) {
		while (next < last && tail - head < RESTORE_BATCHES) {
			rbatch *nb = &b[tail % RESTORE_BATCHES];
			nb->repo = r->repo;
			nb->m = m;
			nb->error = 0;
			if ((error = batch_plan(nb, m, &next, last, target)) < 0)
				break;
			nb->decode_job.fn = decode_run;
			mvm_pool_submit(r->pool, &nb->decode_job);
			tail++;
		}
		if (error || head == tail)
			break;
		k = head++ % RESTORE_BATCHES;
		mvm_pool_wait(r->pool, &b[k].decode_job);
		if (b[k].error) {
			error = mvm_error_set(b[k].error, "%s: %s", name, b[k].msg);
			break;
		}
		if ((error = sink(b[k].buf, b[k].len, payload)) < 0)
			break;
		if (r->progress) {
			r->done += b[k].len;
			r->progress("checkout", r->done, r->total, r->payload);
		}
	}
	for (; head != tail; head++)
		mvm_pool_wait(r->pool, &b[head % RESTORE_BATCHES].decode_job);
	return error;
}

static int seqfile_sink(const unsigned char *p, size_t n, void *payload)
{
	return mvm_seqfile_append(payload, p, n);
}

/*
 * A file of up to 1 MiB, one batch: decoded on this thread and written with one write
 * through the page cache. Handing it to the pool and the direct writer
 * cost more than the work, and a direct write is a device request of its
 * own (the group's sync writes small files back together).
 */
static int write_small(mvm_restore *r, int fd, const mvm_manifest *m, const char *name)
{
	rbatch *b = r->batches;
	size_t next = 0;
	int error;

	if (!m->nchunks) /* empty */
		return 0;
	b->repo = r->repo;
	b->m = m;
	b->error = 0;
	if ((error = batch_plan(b, m, &next, m->nchunks, RESTORE_BATCH_MIN)) < 0)
		return error;
	b->decode_job.fn = decode_run;
	mvm_job_run_here(&b->decode_job);
	if (b->error)
		return mvm_error_set(b->error, "%s: %s", name, b->msg);
	if ((error = mvm_fs_write_all(fd, b->buf, b->len, name)) < 0)
		return error;
	if (r->progress) {
		r->done += b->len;
		r->progress("checkout", r->done, r->total, r->payload);
	}
	return 0;
}

int mvm_restore_init(mvm_restore *r, mvm_repo *repo)
{
	rbatch *b;
	size_t k;
	int error;

	memset(r, 0, sizeof(*r));
	r->repo = repo;
	if (!(r->batches = b = calloc(RESTORE_BATCHES, sizeof(rbatch))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (k = 0; k < RESTORE_BATCHES; k++)
		if ((error = mvm_sha256_new(&b[k].hash[0])) < 0 || (error = mvm_sha256_new(&b[k].hash[1])) < 0)
			return error;
	return mvm_pool_new(&r->pool, RESTORE_BATCHES);
}

void mvm_restore_dispose(mvm_restore *r)
{
	rbatch *b = r->batches;
	size_t k;

	mvm_pool_free(r->pool);
	mvm_seqfile_dispose(&r->out);
	for (k = 0; b && k < RESTORE_BATCHES; k++) {
		mvm_sha256_free(b[k].hash[0]);
		mvm_sha256_free(b[k].hash[1]);
		free(b[k].buf);
		free(b[k].locs);
		free(b[k].base_locs);
		free(b[k].has_base);
		mvm_buf_dispose(&b[k].base);
		mvm_buf_dispose(&b[k].scratch);
		mvm_stored_set_dispose(&b[k].stored);
		mvm_stored_set_dispose(&b[k].bases);
	}
	free(b);
	memset(r, 0, sizeof(*r));
}

static int temp_path(mvm_buf *out, const char *abs)
{
	const char *slash = strrchr(abs, '/');
	size_t dirlen = slash ? (size_t)(slash - abs + 1) : 0;

	mvm_buf_clear(out);
	return mvm_buf_printf(out, "%.*s.%s.mvm-tmp-%ld", (int)dirlen, abs, abs + dirlen, (long)getpid());
}

/*
 * Create the temp file. Its folder is made, and a stale temp file of the
 * same name (a killed run with our pid) removed, only when the first try
 * says so: most files land in a folder that exists, with no debris.
 */
static int temp_create(mvm_restore_temp *t)
{
	mvm_buf dir = MVM_BUF_INIT;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, error = 0;

	if ((t->fd = open(t->tmp.ptr, flags, t->mode & 0777)) < 0 && errno == EEXIST && unlink(t->tmp.ptr) == 0)
		t->fd = open(t->tmp.ptr, flags, t->mode & 0777);
	if (t->fd < 0 && errno == ENOENT && (error = mvm_fs_dirname(&dir, t->abs)) == 0 &&
	    (error = mvm_fs_mkdir_p(dir.ptr)) == 0)
		t->fd = open(t->tmp.ptr, flags, t->mode & 0777);
	if (!error && t->fd < 0)
		error = mvm_error_set(MVM_ERROR, "cannot create %s: %s", t->tmp.ptr, strerror(errno));
	mvm_buf_dispose(&dir);
	return error;
}

int mvm_restore_write(mvm_restore_temp *t, mvm_restore *r, const mvm_manifest *m, const char *abs,
		      const char *rel, uint32_t mode)
{
	int error;

	memset(t, 0, sizeof(*t)); /* the buffer too: zeroed is MVM_BUF_INIT */
	t->abs = abs;
	t->rel = rel;
	t->mode = mode;
	t->fd = -1;
	if ((error = temp_path(&t->tmp, abs)) < 0 || (error = temp_create(t)) < 0)
		return error;
	t->created = 1;
	if (m->size <= RESTORE_BATCH_MIN)
		return write_small(r, t->fd, m, rel);
	if ((error = mvm_seqfile_start(&r->out, t->fd, rel)) == 0 &&
	    (error = mvm_restore_read(r, m, 0, m->nchunks, rel, seqfile_sink, &r->out)) == 0)
		error = mvm_seqfile_finish(&r->out, 0);
	mvm_seqfile_cancel(&r->out); /* no write may still use the fd */
	return error;
}

/* Files from this many on are made durable with one syncfs, not one fsync each. */
#define SYNCFS_MIN 8

static int temp_error(const mvm_restore_temp *t)
{
	return mvm_error_set(MVM_ERROR, "cannot finish %s: %s", t->tmp.ptr, strerror(errno));
}

/*
 * Many files: one syncfs writes them back together. A fsync each made a
 * checkout of 20k small files take 10 s, as many device requests as
 * files; with syncfs 2.7 s. It also waits for other programs' writes to
 * the same file system, so a few files are fsynced each. A file on
 * another file system than the first (a mount inside the tree) is
 * fsynced on its own.
 */
int mvm_restore_sync_many(mvm_restore_temp *const *t, size_t n)
{
	struct stat first, st;
	int whole = n >= SYNCFS_MIN && fstat(t[0]->fd, &first) == 0, error = 0;
	size_t i;

	for (i = 0; i < n && !error; i++) {
		int covered = whole && fstat(t[i]->fd, &st) == 0 && st.st_dev == first.st_dev;
		if (fchmod(t[i]->fd, t[i]->mode & 0777) < 0 || (!covered && fsync(t[i]->fd) < 0))
			error = temp_error(t[i]);
	}
	if (!error && whole && syncfs(t[0]->fd) < 0)
		error = mvm_error_set(MVM_ERROR, "cannot write %s and the %zu files written with it to the disk: %s",
				      t[0]->rel, n - 1, strerror(errno));
	for (i = 0; i < n; i++) {
		if (close(t[i]->fd) < 0 && !error)
			error = temp_error(t[i]);
		t[i]->fd = -1;
	}
	return error;
}

int mvm_restore_place(struct stat *st_out, mvm_restore_temp *t)
{
	if (rename(t->tmp.ptr, t->abs) < 0 || stat(t->abs, st_out) < 0)
		return mvm_error_set(MVM_ERROR, "cannot move %s into place: %s", t->rel, strerror(errno));
	t->created = 0;
	return 0;
}

void mvm_restore_temp_dispose(mvm_restore_temp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->created)
		unlink(t->tmp.ptr);
	mvm_buf_dispose(&t->tmp);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

int mvm_restore_file(struct stat *st_out, mvm_restore *r, const mvm_manifest *m, const char *abs,
		     const char *rel, uint32_t mode)
{
	mvm_restore_temp t, *one = &t;
	int error;

	if ((error = mvm_restore_write(&t, r, m, abs, rel, mode)) == 0 && (error = mvm_restore_sync_many(&one, 1)) == 0)
		error = mvm_restore_place(st_out, &t);
	mvm_restore_temp_dispose(&t);
	return error;
}
