/*
 * readset.c: the stored bytes of many chunks at once (see store.h,
 * mvm_stored_set). Chunks are sorted by pack and offset; neighbours less
 * than READSET_GAP apart are read in one request of at most READSET_RUN
 * bytes, with O_DIRECT (the pack reopened through /proc/self/fd) into one
 * aligned buffer: on the VMs we measured, filling fresh page-cache pages
 * cost more CPU than the copy, and every chunk read this way is read once.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/array.h"
#include "util/bulkmem.h"
#include "util/fs.h"
#include "codec.h"
#include "store_internal.h"

_Static_assert(MVM_STORE_DECODE_GROUP == MVM_CODEC_GROUP, "store.h names the codecs' group");

#define READSET_GAP (256u << 10)
#define READSET_RUN (8u << 20)
#define READSET_ALIGN 4096u
/*
 * A shorter run is read through the page cache: a direct read is a device
 * request of its own, while the kernel reads ahead for buffered ones (a
 * checkout of many small files reads their pack front to back).
 */
#define READSET_DIRECT_MIN (256u << 10)

typedef struct {
	int64_t pack;
	uint64_t start, end;      /* file range, aligned (end may lie past the end of the pack) */
	uint64_t need;            /* where the run's last chunk ends */
	size_t first, last;       /* positions in set->order */
} readset_run;

static int by_place(const void *a, const void *b, void *arg)
{
	const mvm_chunk_loc *locs = arg, *x = &locs[*(const size_t *)a], *y = &locs[*(const size_t *)b];

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The chunks wanted, in pack order, in set->order[0, *n). */
static int sort_wanted(mvm_stored_set *set, const mvm_chunk_loc *locs, const unsigned char *want, size_t count,
		       size_t *n)
{
	size_t i;
	int error;

	set->count = 0; /* nothing of an earlier call is valid any more */
	if ((error = mvm_array_reserve(&set->order, &set->order_cap, count, sizeof(size_t))) < 0 ||
	    (error = mvm_array_reserve(&set->at, &set->at_cap, count, sizeof(size_t))) < 0)
		return error;
	set->count = count;
	for (i = 0, *n = 0; i < count; i++) {
		set->at[i] = MVM_STORED_ALONE;
		if (!want || want[i])
			set->order[(*n)++] = i;
	}
	qsort_r(set->order, *n, sizeof(size_t), by_place, (void *)locs);
	return 0;
}

/* Extend run r by the chunk at loc when it is a close neighbour in the same pack. */
static int run_takes(const readset_run *r, const mvm_chunk_loc *loc)
{
	uint64_t end = loc->offset + loc->stored_len;

	return r->pack == loc->pack && loc->offset <= r->end + READSET_GAP &&
	       (end <= r->end || end - r->start <= READSET_RUN);
}

/*
 * Read one run into mem at `off`. A pack that is gone (gc moved its
 * chunks) is no error here: its chunks stay MVM_STORED_ALONE, and a
 * single read finds where they went.
 */
static int read_run(mvm_stored_set *set, mvm_store *st, const mvm_chunk_loc *locs, const readset_run *r, size_t off)
{
	size_t k, got;
	int fd, dfd, error;

	if ((error = mvm_store__pack_fd_dup(&fd, st, r->pack)) == MVM_ENOTFOUND) {
		mvm_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	dfd = r->end - r->start >= READSET_DIRECT_MIN ? mvm_fs_reopen_direct(fd) : -1;
	error = mvm_fs_pread_direct(&got, &dfd, fd, set->mem + off, (size_t)(r->need - r->start),
				    (size_t)(r->end - r->start), r->start, "a pack");
	if (dfd >= 0)
		close(dfd);
	close(fd);
	if (error < 0)
		return error;
	for (k = r->first; k <= r->last; k++) {
		size_t i = set->order[k];
		set->at[i] = off + (size_t)(locs[i].offset - r->start);
	}
	return 0;
}

/* Cut the sorted chunks into runs; *bytes is what they need in mem. */
static int plan_runs(mvm_stored_set *set, const mvm_chunk_loc *locs, size_t n, size_t *nruns, size_t *bytes)
{
	readset_run *r = NULL;
	size_t k;
	int error;

	*nruns = 0;
	*bytes = 0;
	for (k = 0; k < n; k++) {
		const mvm_chunk_loc *loc = &locs[set->order[k]];
		uint64_t end = (loc->offset + loc->stored_len + READSET_ALIGN - 1) & ~(uint64_t)(READSET_ALIGN - 1);

		if (r && run_takes(r, loc)) {
			r->end = end > r->end ? end : r->end;
			r->need = loc->offset + loc->stored_len > r->need ? loc->offset + loc->stored_len : r->need;
			r->last = k;
			continue;
		}
		if (r)
			*bytes += (size_t)(r->end - r->start);
		if ((error = mvm_array_reserve(&set->runs, &set->runs_cap, *nruns + 1, sizeof(readset_run))) < 0)
			return error;
		r = &((readset_run *)set->runs)[(*nruns)++];
		r->pack = loc->pack;
		r->start = loc->offset & ~(uint64_t)(READSET_ALIGN - 1);
		r->end = end;
		r->need = loc->offset + loc->stored_len;
		r->first = r->last = k;
	}
	if (r)
		*bytes += (size_t)(r->end - r->start);
	return 0;
}

int mvm_store_read_set(mvm_stored_set *set, mvm_store *st, const mvm_chunk_loc *locs, const unsigned char *want,
		       size_t count)
{
	size_t n, nruns, bytes, k, off = 0;
	int error;

	if ((error = sort_wanted(set, locs, want, count, &n)) < 0 ||
	    (error = plan_runs(set, locs, n, &nruns, &bytes)) < 0)
		return error;
	if (bytes > set->cap) {
		mvm_bulk_free(set->mem, set->cap);
		set->cap = 0;
		if (!(set->mem = mvm_bulk_alloc(bytes)))
			return mvm_error_set(MVM_ERROR, "out of memory for a read set");
		set->cap = bytes;
	}
	for (k = 0; k < nruns && !error; k++) {
		const readset_run *r = &((const readset_run *)set->runs)[k];
		error = read_run(set, st, locs, r, off);
		off += (size_t)(r->end - r->start);
	}
	return error;
}

/* The stored bytes of chunk i: in the set, or read alone into scratch when the set has not got them. */
static int stored_in_set(const void **out, mvm_store *st, const mvm_stored_set *set, size_t i,
			 const mvm_chunk_loc *loc, mvm_buf *scratch)
{
	int error;

	if (i < set->count && set->at[i] != MVM_STORED_ALONE) {
		*out = set->mem + set->at[i];
		return 0;
	}
	if ((error = mvm_store_read_stored(scratch, st, loc)) < 0)
		return error;
	*out = scratch->ptr;
	return 0;
}

int mvm_store_read_in_set(void *dst, mvm_store *st, const mvm_stored_set *set, size_t i, const mvm_chunk_loc *loc,
			  mvm_buf *scratch)
{
	const void *stored;
	int error;

	if ((error = stored_in_set(&stored, st, set, i, loc, scratch)) < 0)
		return error;
	return mvm_store_decode(dst, st, loc, stored);
}

int mvm_store_read_many_in_set(unsigned char *const *dst, mvm_store *st, const mvm_stored_set *set, const size_t *idx,
			       const mvm_chunk_loc *locs, size_t count, mvm_buf *scratch)
{
	mvm_codec_job jobs[MVM_CODEC_GROUP];
	size_t k, n = 0;
	int error = 0;

	if (count > MVM_STORE_DECODE_GROUP)
		return mvm_error_set(MVM_ERROR, "%zu chunks to decode together, more than %d", count,
				     MVM_STORE_DECODE_GROUP);
	for (k = 0; k < count && !error; k++) {
		size_t i = idx[k];

		if (mvm_codec_is_delta(locs[i].codec) || i >= set->count || set->at[i] == MVM_STORED_ALONE) {
			error = mvm_store_read_in_set(dst[k], st, set, i, &locs[i], scratch);
			continue;
		}
		jobs[n].dst = dst[k];
		jobs[n].raw_len = locs[i].raw_len;
		jobs[n].src = set->mem + set->at[i];
		jobs[n].stored_len = locs[i].stored_len;
		jobs[n++].codec = locs[i].codec;
	}
	return error ? error : mvm_codec_decode_many(jobs, n);
}

int mvm_store_read_delta_in_set(void *dst, mvm_store *st, const mvm_stored_set *set, size_t i,
				const mvm_chunk_loc *loc, const mvm_chunk_loc *base_loc, const void *base,
				mvm_buf *scratch)
{
	const void *stored;
	mvm_oid named;
	int error;

	if ((error = stored_in_set(&stored, st, set, i, loc, scratch)) < 0 ||
	    (error = mvm_codec_xor_base(&named, stored, loc->stored_len)) < 0)
		return error;
	if (mvm_oid_cmp(&named, &base_loc->id) || base_loc->raw_len != loc->raw_len)
		return mvm_store_decode(dst, st, loc, stored);
	return mvm_codec_decode_xor(dst, loc->raw_len, stored, loc->stored_len, loc->codec, base);
}

void mvm_stored_set_dispose(mvm_stored_set *set)
{
	mvm_bulk_free(set->mem, set->cap);
	free(set->at);
	free(set->order);
	free(set->runs);
	memset(set, 0, sizeof(*set));
}
