/*
 * fsck_chunks.c: fsck's check of every chunk of a pack (fsck_internal.h):
 * it decodes, and to bytes whose SHA-256 is its id.
 *
 * The chunks go to the pool in batches of up to 8 MiB, four in flight,
 * as checkout's do: a batch's stored bytes read in runs of pack neighbours
 * (mvm_store_read_set), decoded MVM_STORE_DECODE_GROUP at a time (their
 * entropy decoding interleaved), then hashed many at once
 * (mvm_sha256_many). A group that fails is decoded again chunk by chunk,
 * so each bad chunk is named on its own. Problems are reported in pack
 * order by the calling thread. One chunk at
 * a time on one thread, with a buffered read each, a 4.3 GB store took
 * 11.9 s (5.2 s of it in the kernel, filling page-cache pages).
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/array.h"
#include "util/hash.h"
#include "util/pool.h"
#include "fsck_internal.h"

#define FSCK_BATCH_BYTES (8u << 20)
#define FSCK_BATCHES 4

typedef struct {
	mvm_job job;
	mvm_store *store;
	const mvm_chunk_loc *locs;    /* count chunks, of one pack */
	size_t count;
	unsigned char *buf;           /* their decoded bytes, one after the other */
	size_t cap, *start, start_cap;
	size_t *bad;                  /* per chunk: 0, or 1 + where its problem's text starts in problems */
	size_t bad_cap;
	mvm_buf problems;             /* NUL-terminated texts */
	mvm_stored_set set;
	mvm_buf scratch;
	mvm_sha256 *hash[2];
	int error;                    /* MVM_ERROR: out of memory, nothing checked */
} fbatch;

static void flag(fbatch *b, size_t i, const char *problem)
{
	b->bad[i] = b->problems.size + 1;
	if (mvm_buf_puts(&b->problems, problem) < 0 || mvm_buf_putc(&b->problems, '\0') < 0)
		b->error = MVM_ERROR;
	mvm_error_clear();
}

/* Chunks [i, i + n) decoded: together, else one by one to find the bad ones. */
static void decode_group(fbatch *b, size_t i, size_t n)
{
	unsigned char *dst[MVM_STORE_DECODE_GROUP];
	size_t idx[MVM_STORE_DECODE_GROUP], k;

	for (k = 0; k < n; k++) {
		idx[k] = i + k;
		dst[k] = b->buf + b->start[i + k];
	}
	if (mvm_store_read_many_in_set(dst, b->store, &b->set, idx, b->locs, n, &b->scratch) == 0)
		return;
	mvm_error_clear();
	for (k = 0; k < n; k++)
		if (mvm_store_read_in_set(dst[k], b->store, &b->set, i + k, &b->locs[i + k], &b->scratch) < 0)
			flag(b, i + k, mvm_error_last());
}

/* The batch's chunks that decoded, against their ids, many at once (mvm_sha256_many). */
static void verify_batch(fbatch *b)
{
	const unsigned char *p[MVM_SHA256_MANY];
	size_t len[MVM_SHA256_MANY], at[MVM_SHA256_MANY], i = 0, k, m;
	mvm_oid got[MVM_SHA256_MANY];

	while (i < b->count) {
		for (m = 0; m < MVM_SHA256_MANY && i < b->count; i++)
			if (!b->bad[i]) {
				at[m] = i;
				p[m] = b->buf + b->start[i];
				len[m++] = b->locs[i].raw_len;
			}
		if (mvm_sha256_many(got, p, len, m, b->hash) < 0) {
			b->error = MVM_ERROR;
			return;
		}
		for (k = 0; k < m; k++)
			if (mvm_oid_cmp(&got[k], &b->locs[at[k]].id))
				flag(b, at[k], "content does not match its id (damaged pack)");
	}
}

static void batch_run(mvm_job *job)
{
	fbatch *b = (fbatch *)job;
	size_t i, n;

	if (mvm_store_read_set(&b->set, b->store, b->locs, NULL, b->count) < 0)
		mvm_error_clear(); /* the chunks it could not read are read alone, and reported there */
	for (i = 0; i < b->count && !b->error; i += n) {
		n = b->count - i < MVM_STORE_DECODE_GROUP ? b->count - i : MVM_STORE_DECODE_GROUP;
		decode_group(b, i, n);
	}
	if (!b->error)
		verify_batch(b);
}

/* The next batch: chunks from *next on, up to FSCK_BATCH_BYTES decoded (at least one). */
static int batch_plan(fbatch *b, const mvm_chunk_loc *locs, size_t n, size_t *next)
{
	size_t bytes = 0, k;

	b->locs = locs + *next;
	for (k = *next; k < n && (k == *next || bytes + locs[k].raw_len <= FSCK_BATCH_BYTES); k++)
		bytes += locs[k].raw_len;
	b->count = k - *next;
	*next = k;
	if (mvm_array_reserve(&b->start, &b->start_cap, b->count, sizeof(size_t)) < 0 ||
	    mvm_array_reserve(&b->bad, &b->bad_cap, b->count, sizeof(size_t)) < 0 ||
	    mvm_array_reserve(&b->buf, &b->cap, bytes, 1) < 0)
		return mvm_error_set(MVM_ERROR, "out of memory for fsck's chunk buffers");
	for (k = 0, bytes = 0; k < b->count; bytes += b->locs[k++].raw_len)
		b->start[k] = bytes;
	memset(b->bad, 0, b->count * sizeof(size_t));
	mvm_buf_clear(&b->problems);
	b->error = 0;
	return 0;
}

/* Report a done batch's problems, in order. @return its decoded bytes. */
static uint64_t batch_report(fbatch *b, mvm_fsck_chunk_report report, void *arg)
{
	uint64_t bytes = 0;
	size_t k;

	for (k = 0; k < b->count; k++) {
		bytes += b->locs[k].raw_len;
		if (b->bad[k])
			report(arg, &b->locs[k].id, b->problems.ptr + b->bad[k] - 1);
	}
	return bytes;
}

static void batches_free(fbatch *b)
{
	size_t k;

	for (k = 0; k < FSCK_BATCHES; k++) {
		free(b[k].buf);
		free(b[k].start);
		free(b[k].bad);
		mvm_buf_dispose(&b[k].problems);
		mvm_buf_dispose(&b[k].scratch);
		mvm_stored_set_dispose(&b[k].set);
		mvm_sha256_free(b[k].hash[0]);
		mvm_sha256_free(b[k].hash[1]);
	}
	free(b);
}

int mvm_fsck__chunks(mvm_store *store, const mvm_chunk_loc *locs, size_t n, mvm_fsck_chunk_report report,
		     mvm_fsck_chunk_done done, void *arg)
{
	fbatch *b = calloc(FSCK_BATCHES, sizeof(fbatch));
	mvm_pool *pool = NULL;
	size_t next = 0, head = 0, tail = 0, k;
	int error = 0;

	if (!b)
		return mvm_error_set(MVM_ERROR, "out of memory for fsck's chunk buffers");
	for (k = 0; k < FSCK_BATCHES && !error; k++)
		if ((error = mvm_sha256_new(&b[k].hash[0])) == 0)
			error = mvm_sha256_new(&b[k].hash[1]);
	if (!error)
		error = mvm_pool_new(&pool, FSCK_BATCHES);
	while (!error && (next < n || head != tail)) {
		while (next < n && tail - head < FSCK_BATCHES) {
			fbatch *nb = &b[tail % FSCK_BATCHES];

			nb->store = store;
			nb->job.fn = batch_run;
			if ((error = batch_plan(nb, locs, n, &next)) < 0)
				break;
			mvm_pool_submit(pool, &nb->job);
			tail++;
		}
		if (head == tail)
			break;
		k = head++ % FSCK_BATCHES;
		mvm_pool_wait(pool, &b[k].job);
		if (!error && (error = b[k].error) < 0)
			mvm_error_set(error, "out of memory checking chunks");
		if (!error)
			done(arg, batch_report(&b[k], report, arg));
	}
	for (; head != tail; head++)
		mvm_pool_wait(pool, &b[head % FSCK_BATCHES].job);
	mvm_pool_free(pool);
	batches_free(b);
	return error;
}
