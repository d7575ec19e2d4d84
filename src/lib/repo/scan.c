/*
 * scan.c: one file -> manifest, as a streaming pipeline with bounded memory.
 *
 *   main thread   read a batch (8 MiB) -> cut chunks (FastCDC, with cuts
 *                 forced at tensor boundaries) -> submit -> emit in order
 *   hash thread   in order: the whole-file SHA-256, with each chunk's id
 *                 (its SHA-256) computed next to the same bytes, the two
 *                 streams interleaved (SHA-NI runs two at 1.2-1.5x the
 *                 speed of one), unless the batch's worker got there first
 *   chunk pool    the chunk ids (sixteen at once in AVX-512 lanes, or in
 *                 pairs when the hash thread has not started on the batch
 *                 and the last batch was mostly stored already:
 *                 claim_ids), else wait for them; then dedup lookups (one
 *                 read transaction), and compress each new chunk without
 *                 a delta base
 *   base reader   one thread: reads the delta bases of the batch's other
 *                 new chunks, then hands the batch back to the pool,
 *                 which codes those chunks against them (encode_job)
 *
 * A tensor's digest is the SHA-256 of its chunk ids (cuts are forced at
 * every tensor's start and end, so its chunks cover exactly its bytes):
 * the same bytes give the same digest without hashing them a third time.
 *
 * Inside a tensor, chunks follow a fixed grid from the tensor's start
 * (mvm_scan.grid bytes, the repository's): tensor bytes change in place
 * between versions, so the grid keeps every chunk aligned with the same
 * bytes of the parent's tensor, which is what XOR deltas need. Outside
 * tensors, FastCDC cuts.
 *
 * At most SCAN_BATCHES batches are in flight, so memory is about
 * SCAN_BATCHES x 2 x 8 MiB whatever the file size, plus each batch's read
 * set of delta bases (up to its stored size and the gaps between them). Bytes past the last cut
 * of a batch carry over to the front of the next one, whose read follows
 * (SCAN_BATCH_FRONT below): a batch never holds more than SCAN_BATCH_IN
 * bytes (four huge pages). The pipeline runs on from file to
 * file: the next file's batches start while the last ones of the file
 * before are still hashed and compressed, so a tree of many files of a
 * few MiB keeps both cores busy too (one file after the other, each
 * drained before the next, a 3 MB file ran on one core at a time). A
 * file's manifest is ready when its last batch has been emitted.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunk/fastcdc.h"
#include "format/tensor.h"
#include "store/codec.h"
#include "util/bulkmem.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/pool.h"
#include "util/seqread.h"
#include "repo_internal.h"

#define SCAN_BATCH_IN (8u << 20)
/*
 * A batch's buffer: room for the carry (less than the largest chunk, 256
 * KiB), then a read of SCAN_BATCH_READ bytes. Every read starts where the
 * last one ended, so reads are page-aligned in the file and in memory and
 * go straight from the disk into the batch (O_DIRECT), copied nowhere.
 */
#define SCAN_BATCH_FRONT (256u << 10)
#define SCAN_BATCH_READ (SCAN_BATCH_IN - SCAN_BATCH_FRONT)
/*
 * Six, not four: with delta bases read on their own thread the cold full
 * fine-tune of the 4-shard model took 6.1-6.3 s with four batches, 5.8
 * with five and 5.6-5.8 with six (its CPU, 10.3 s on two cores, is the
 * floor); peak RSS 118 -> 158 MB.
 */
#define SCAN_BATCHES 6
/*
 * A file up to this size is hashed and compressed on the main thread:
 * handing its one batch to the hash thread and the pool and waiting for
 * it costs more wake-ups (~50 us each on the VMs measured) than the work.
 */
#define SCAN_INLINE_MAX (256u << 10)

typedef struct scan_state scan_state;

typedef struct {
	mvm_job chunk_job;            /* ids, lookups, chunks without a base (pass 1) */
	mvm_job hash_job;
	mvm_job base_job;             /* on the base reader: pass 2's bases, then encode_job */
	mvm_job encode_job;           /* pass 2: the chunks with a delta base */
	int bases_queued;             /* base_job (and after it encode_job) was submitted */
	scan_state *s;
	unsigned char *mem;           /* SCAN_BATCH_IN bytes: carry room, then the read */
	unsigned char *buf;           /* the batch's bytes: mem + SCAN_BATCH_FRONT - carry */
	size_t len, carry;            /* buf[0, carry) came from the previous batch */
	size_t read_len;              /* bytes read after the carry */
	uint64_t file_off;            /* file offset of buf[0] */
	size_t nchunks, cap;
	uint32_t *lens;
	mvm_oid *ids;
	size_t *out_off;              /* new chunk i's encoding is at out + out_off[i] */
	size_t out_used;              /* out's bytes taken, in the order chunks were encoded */
	uint32_t *out_len, *codec;
	mvm_codec_hint *hints;
	mvm_oid *bases;               /* parent version's chunk for the same bytes */
	unsigned char *has_base, *is_delta;
	unsigned char *reads_base;    /* new, and its base was found: pass 2 reads and encodes it */
	mvm_chunk_loc *base_locs;     /* where the root of bases[i] is stored */
	mvm_stored_set base_set;      /* worker: the stored bases of pass 2, read together */
	mvm_buf base_bytes;           /* worker scratch: decoded bases, of the chunks in base_group */
	size_t base_group[MVM_STORE_DECODE_GROUP], base_off[MVM_STORE_DECODE_GROUP], nbase_group;
	unsigned char base_ok[MVM_STORE_DECODE_GROUP];
	mvm_buf base_stored;          /* worker scratch: the base as stored */
	mvm_buf full;                 /* worker scratch: the chunk's own encoding */
	mvm_sha256 *id_hash[2];       /* worker: chunk ids, when not in vector lanes two at a time */
	int ids_by;                   /* who hashes the chunk ids: 0 not yet decided, or an IDS_BY_* */
	unsigned char *is_new;
	unsigned char *stored_now;    /* emit: found stored or pending by a later lookup */
	uint64_t seal_gen;            /* the store's seal count when is_new was last checked */
	unsigned char *out;
	size_t out_cap;
	int error, hash_error;
	char msg[256], hash_msg[256];
	int busy;
	int ends_file;                /* the file's last batch: emitting it finishes the file */
} batch;

struct scan_state {
	mvm_scan *scan;
	const char *name;
	int fd;
	mvm_seqread *reader;          /* the file's bytes, read ahead on a thread */
	uint64_t size, read_off;      /* file size; bytes asked of the reader so far */
	mvm_tensor_table table;
	uint64_t *cuts;               /* forced boundaries, sorted */
	size_t ncuts;
	mvm_cdc cdc;
	mvm_sha256 *file_hash;        /* the hash thread's */
	mvm_sha256 *chunk_hash;       /* the hash thread's, for chunk ids */
	size_t hint_next;             /* main thread: tensor at or after the cut point */
	mvm_manifest *base;           /* the file's previous version (delta bases), or NULL; owned */
	const mvm_tensor **base_for;  /* per tensor: same name/dtype/shape in the parent, or NULL */
	mvm_manifest *m;
	mvm_manifest **out;           /* where m goes once the file is done */
	size_t chunks_cap;
	struct mvm_scan_pipe *pipe;   /* the scan's, kept from file to file */
	scan_state *next;             /* the next file in flight */
};

/*
 * The batches and threads, kept for all the files of one scan: each file
 * would otherwise touch ~70 MiB of fresh memory again (1.4-2.8 ms a MiB
 * on the VMs measured) and start its threads again, whose codec scratch
 * goes with them.
 */
struct mvm_scan_pipe {
	batch batches[SCAN_BATCHES];
	mvm_pool *pool, *hasher;
	mvm_pool *base_reader;        /* one thread: workers never wait on the disk for delta bases */
	size_t next;                  /* the slot of the next batch (all earlier ones are older) */
	scan_state *first, *last;     /* files with batches in flight, oldest first */
	int workers_idle;             /* the last batch a worker looked up was mostly stored already */
};

/* Each job of a batch has its own error slot: they may fail at the same time. */
static void batch_fail(int *code_out, char *msg, int code)
{
	*code_out = code;
	snprintf(msg, 256, "%s", mvm_error_last());
}

/*
 * A delta under this share of the chunk is kept without also encoding the
 * chunk on its own: float chunks never code below ~0.66 (the byte-plane
 * bound of BF16 weights), so trying would only cost time.
 */
#define DELTA_GOOD_ENOUGH 0.62

/* Decode the bases of pass 2's chunks from i on, up to MVM_STORE_DECODE_GROUP, together. */
static void decode_bases(batch *b, size_t i)
{
	mvm_store *store = b->s->scan->store;
	unsigned char *dst[MVM_STORE_DECODE_GROUP];
	size_t k, off = 0, n = 0;

	for (; i < b->nchunks && n < MVM_STORE_DECODE_GROUP; i++)
		if (b->is_new[i] && b->has_base[i] && b->base_locs[i].raw_len == b->lens[i]) {
			b->base_off[n] = off;
			b->base_group[n++] = i;
			off += b->lens[i];
		}
	b->nbase_group = n;
	memset(b->base_ok, 0, sizeof(b->base_ok));
	if (mvm_buf_grow(&b->base_bytes, off) < 0) {
		mvm_error_clear(); /* their chunks are coded on their own */
		return;
	}
	for (k = 0; k < n; k++)
		dst[k] = (unsigned char *)b->base_bytes.ptr + b->base_off[k];
	if (mvm_store_read_many_in_set(dst, store, &b->base_set, b->base_group, b->base_locs, n, &b->base_stored) == 0) {
		memset(b->base_ok, 1, n);
		return;
	}
	for (k = 0; k < n; k++) /* one that fails must not cost the others their delta */
		b->base_ok[k] = mvm_store_read_in_set(dst[k], store, &b->base_set, b->base_group[k],
						      &b->base_locs[b->base_group[k]], &b->base_stored) == 0;
}

/*
 * The decoded base of new chunk i of pass 2, or NULL when it cannot be
 * read (the chunk is then coded on its own). Decoded with the bases of
 * the next chunks pass 2 encodes: their entropy decoding runs together.
 */
static const unsigned char *base_of(batch *b, size_t i)
{
	size_t k;

	if (!b->nbase_group || b->base_group[b->nbase_group - 1] < i)
		decode_bases(b, i);
	for (k = 0; k < b->nbase_group; k++)
		if (b->base_group[k] == i)
			return b->base_ok[k] ? (const unsigned char *)b->base_bytes.ptr + b->base_off[k] : NULL;
	return NULL;
}

/*
 * Encode chunk i at b->out + b->out_off[i]: as an XOR delta against the
 * parent's chunk when there is one and it pays, else on its own. The base
 * is always a full chunk (a delta's own base is used instead), so a read
 * needs at most one hop. The base's bytes are not re-hashed here: a read
 * decodes the delta against the same stored base, and checkout and fsck
 * check every file and chunk against its SHA-256 anyway.
 */
static int encode_chunk(batch *b, size_t i, const unsigned char *p, size_t *n)
{
	unsigned char *dst = b->out + b->out_off[i];
	const unsigned char *base;
	size_t cap = mvm_codec_bound(b->lens[i]), dn = 0;

	if (b->has_base[i] && b->base_locs[i].raw_len == b->lens[i] && (base = base_of(b, i)) &&
	    mvm_codec_encode_xor(dst, cap, &dn, &b->codec[i], p, base, &b->bases[i], b->lens[i], &b->hints[i]) == 0 &&
	    dn && dn < DELTA_GOOD_ENOUGH * b->lens[i]) {
		b->is_delta[i] = 1;
		*n = dn;
		return 0;
	}
	mvm_error_clear();
	if (!dn)
		return mvm_codec_encode(dst, n, &b->codec[i], p, b->lens[i], b->s->scan->level, &b->hints[i]);
	/* a middling delta (still in dst): keep it unless the chunk's own encoding is smaller */
	{
		uint32_t codec;
		size_t fn;
		int error;

		if ((error = mvm_buf_grow(&b->full, cap)) < 0 ||
		    (error = mvm_codec_encode(b->full.ptr, &fn, &codec, p, b->lens[i], b->s->scan->level,
					      &b->hints[i])) < 0)
			return error;
		if (fn < dn) {
			memcpy(dst, b->full.ptr, fn);
			b->codec[i] = codec;
			*n = fn;
			return 0;
		}
		b->is_delta[i] = 1;
		*n = dn;
		return 0;
	}
}

/*
 * Where a new chunk's delta base is stored: the parent's chunk, or that
 * chunk's own base when it is a delta (one hop at most). bases[i] becomes
 * the root's id; has_base[i] is cleared when the base cannot be found.
 */
static void find_base(batch *b, size_t i, mvm_store *store)
{
	mvm_chunk_loc *loc = &b->base_locs[i];
	int ok = mvm_store_locate(loc, store, &b->bases[i]) == 0;

	if (ok && loc->has_base) { /* the parent's chunk is a delta: take its base */
		b->bases[i] = loc->base;
		ok = mvm_store_locate(loc, store, &b->bases[i]) == 0 && !loc->has_base;
	}
	b->has_base[i] = b->reads_base[i] = (unsigned char)ok;
	mvm_error_clear(); /* no base: the chunk is coded on its own */
}

/*
 * Encode new chunk i right after the encodings before it, in the order
 * the passes encode them: out holds the batch's bound, but only its
 * stored size is touched (bound-sized slots touched every huge page of
 * it, ~10 MiB a batch where BF16 weights need ~5.5). There is always
 * room: each encoding before took at most its own chunk's bound.
 */
static int encode_new(batch *b, size_t i, const unsigned char *p)
{
	size_t n = 0;
	int error;

	b->out_off[i] = b->out_used;
	error = encode_chunk(b, i, p, &n);
	b->out_len[i] = (uint32_t)n;
	b->out_used += n;
	return error;
}

/*
 * Pass 1: dedup lookups, all of the batch's ids in one read transaction;
 * a new chunk without a delta base is encoded at once. For new chunks
 * with a base, find where it is stored; pass 2 reads those bases together
 * (a run of pack neighbours a request) and encodes the chunks.
 */
static int identify_chunks(batch *b, mvm_store *store, int *later)
{
	size_t i, off = 0;
	int error = 0;

	*later = 0;
	b->out_used = 0;
	if (!b->nchunks)
		return 0;
	memset(b->is_delta, 0, b->nchunks);
	memset(b->reads_base, 0, b->nchunks);
	if (!store) {
		memset(b->is_new, 0, b->nchunks);
		return 0;
	}
	if ((error = mvm_store_has_many(store, b->ids, b->nchunks, b->is_new, &b->seal_gen)) < 0)
		return error;
	for (i = 0; i < b->nchunks && !error; i++) {
		const unsigned char *p = b->buf + off;

		off += b->lens[i];
		b->is_new[i] = !b->is_new[i];
		if (!b->is_new[i])
			continue;
		if (b->has_base[i])
			find_base(b, i, store);
		if (!b->has_base[i])
			error = encode_new(b, i, p);
		else
			*later = 1;
	}
	return error;
}

/*
 * Who hashes a batch's chunk ids. Where the CPU hashes them sixteen at
 * once (mvm_sha256_many_wide), the batch's worker: 3.0 GB/s a core
 * against 2.0 for the file's and the chunks' streams interleaved, and the
 * hash thread is left the file alone (a fresh 4.3 GB add hashed 8.6 GB on
 * it, ~4.3 s of its ~4.5). Otherwise (no lanes, or too few chunks for
 * them) the hash thread, next to the same bytes of the file hash (two
 * streams interleaved, the least CPU), or the worker, in pairs, when it
 * gets to the batch first while the workers have little to compress
 * (most chunks of the last batch looked up were stored already, as in a
 * fine-tune of a few layers): then the hash thread alone would set the
 * pace. While they compress, a worker that took the ids would cost CPU
 * (pairs on it and one stream for the file instead of two interleaved)
 * the hash thread has no need of.
 */
enum { IDS_BY_HASHER = 1, IDS_BY_WORKER = 2 };

static int claim_ids(batch *b, int who)
{
	int none = 0;

	return __atomic_compare_exchange_n(&b->ids_by, &none, who, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * Whether the batch's worker hashes its chunk ids: decided so when the
 * batch was cut (vector lanes, enough chunks for them), or claimed now,
 * before the hash thread, while the workers have little to compress.
 */
static int worker_takes_ids(batch *b)
{
	if (__atomic_load_n(&b->ids_by, __ATOMIC_ACQUIRE) == IDS_BY_WORKER)
		return 1;
	return __atomic_load_n(&b->s->pipe->workers_idle, __ATOMIC_RELAXED) && claim_ids(b, IDS_BY_WORKER);
}

/* The batch's chunk ids, many at once (mvm_sha256_many). */
static int chunk_ids(batch *b)
{
	enum { WINDOW = MVM_SHA256_MANY };
	const unsigned char *p[WINDOW];
	size_t n[WINDOW], i, k, off = 0;
	int error = 0;

	for (i = 0; i < b->nchunks && !error; i += k) {
		for (k = 0; k < WINDOW && i + k < b->nchunks; off += b->lens[i + k++]) {
			p[k] = b->buf + off;
			n[k] = b->lens[i + k];
		}
		error = mvm_sha256_many(&b->ids[i], p, n, k, b->id_hash);
	}
	return error;
}

/* Whether most of the batch's bytes were stored already (its worker has little to compress). */
static void note_idle(batch *b)
{
	size_t i, fresh = 0;

	for (i = 0; i < b->nchunks; i++)
		fresh += b->is_new[i] ? b->lens[i] : 0;
	__atomic_store_n(&b->s->pipe->workers_idle, fresh < b->len / 2, __ATOMIC_RELAXED);
}

/* Pass 2's bases read together (a base that cannot be read is read alone, or its chunk coded on its own). */
static void read_bases(batch *b)
{
	b->nbase_group = 0;
	if (mvm_store_read_set(&b->base_set, b->s->scan->store, b->base_locs, b->reads_base, b->nchunks) < 0)
		mvm_error_clear();
}

/* Pass 2: the new chunks with a delta base, against their bases read by read_bases. */
static void encode_job_run(mvm_job *job)
{
	batch *b = (batch *)((char *)job - offsetof(batch, encode_job));
	size_t i, off = 0;
	int error = 0;

	for (i = 0; i < b->nchunks && !error; i++) {
		if (b->is_new[i] && b->has_base[i])
			error = encode_new(b, i, b->buf + off);
		off += b->lens[i];
	}
	if (error < 0)
		batch_fail(&b->error, b->msg, error);
}

/*
 * On the base reader: a worker would wait on these reads with nothing
 * else to do, and a full fine-tune's add reads about as many bytes of
 * bases as it writes. (Cold full fine-tune of the 4-shard model,
 * four batches in flight: 6.8-7.8 -> 6.1-6.8 s.)
 */
static void base_job_run(mvm_job *job)
{
	batch *b = (batch *)((char *)job - offsetof(batch, base_job));

	read_bases(b);
	mvm_pool_submit(b->s->pipe->pool, &b->encode_job);
}

/* Pass 1; pass 2, if any chunk has a delta base, after its bases are read on the base reader. */
static void chunk_job_run(mvm_job *job)
{
	batch *b = (batch *)job;
	int later = 0, error;

	if (worker_takes_ids(b)) {
		error = chunk_ids(b);
	} else {
		mvm_pool_wait(b->s->pipe->hasher, &b->hash_job); /* the ids */
		if (b->hash_error)
			return;
		error = 0;
	}
	if (!error)
		error = identify_chunks(b, b->s->scan->store, &later);
	if (error < 0) {
		batch_fail(&b->error, b->msg, error);
		return;
	}
	note_idle(b);
	if (!later)
		return;
	if (b->s->size <= SCAN_INLINE_MAX) { /* all on this thread */
		read_bases(b);
		mvm_job_run_here(&b->encode_job);
		return;
	}
	b->bases_queued = 1;
	mvm_pool_submit(b->s->pipe->base_reader, &b->base_job);
}

/*
 * The batch's new bytes (after the carry, which the previous batch
 * hashed) into the file hash; when the chunk ids are this thread's, chunk
 * by chunk: the span of the file stream that ends where a chunk ends,
 * interleaved with the chunk's own hash.
 */
static void hash_job_run(mvm_job *job)
{
	batch *b = (batch *)((char *)job - offsetof(batch, hash_job));
	scan_state *s = b->s;
	size_t i, off = 0, fpos = b->carry, fend;
	int ids = claim_ids(b, IDS_BY_HASHER), error = 0;

	for (i = 0; ids && i < b->nchunks && !error; i++) {
		fend = off + b->lens[i] > fpos ? off + b->lens[i] : fpos;
		if ((error = mvm_sha256_update2(s->file_hash, b->buf + fpos, fend - fpos, s->chunk_hash, b->buf + off,
						b->lens[i])) == 0)
			error = mvm_sha256_final(&b->ids[i], s->chunk_hash);
		fpos = fend;
		off += b->lens[i];
	}
	if (!error)
		error = mvm_sha256_update(s->file_hash, b->buf + fpos, b->len - fpos);
	if (error < 0)
		batch_fail(&b->hash_error, b->hash_msg, error);
}

/* Each tensor's digest: SHA-256 over the ids of the chunks covering it. */
static int tensor_digests(mvm_manifest *m)
{
	mvm_sha256 *h;
	size_t i, c;
	int error;

	if ((error = mvm_sha256_new(&h)) < 0)
		return error;
	for (i = 0; i < m->ntensors && !error; i++) {
		mvm_tensor *t = &m->tensors[i];
		uint64_t end = t->offset + t->length;

		c = t->length ? mvm_manifest_chunk_at(m, t->offset) : m->nchunks;
		for (; c < m->nchunks && m->chunk_offsets[c] < end && !error; c++)
			error = mvm_sha256_update(h, m->chunks[c].id.id, MVM_OID_RAWSZ);
		if (!error)
			error = mvm_sha256_final(&t->sha, h);
	}
	mvm_sha256_free(h);
	return error;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int build_cuts(scan_state *s)
{
	size_t i, n = 0;

	if (!s->table.count)
		return 0;
	if (!(s->cuts = malloc((2 * s->table.count + 1) * sizeof(uint64_t))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	s->cuts[n++] = s->table.data_start;
	for (i = 0; i < s->table.count; i++) {
		s->cuts[n++] = s->table.tensors[i].offset;
		s->cuts[n++] = s->table.tensors[i].offset + s->table.tensors[i].length;
	}
	qsort(s->cuts, n, sizeof(uint64_t), cmp_u64);
	for (i = 0; i < n; i++)
		if (s->cuts[i] > 0 && s->cuts[i] < s->size && (!s->ncuts || s->cuts[s->ncuts - 1] != s->cuts[i]))
			s->cuts[s->ncuts++] = s->cuts[i];
	return 0;
}

/* First forced boundary after `off`, or the file size. */
static uint64_t next_cut(const scan_state *s, uint64_t off)
{
	size_t lo = 0, hi = s->ncuts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->cuts[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ncuts ? s->cuts[lo] : s->size;
}

/* Index of the tensor holding byte `off`, or -1; offsets come in file order. */
static long tensor_at(scan_state *s, uint64_t off)
{
	while (s->hint_next < s->table.count &&
	       s->table.tensors[s->hint_next].offset + s->table.tensors[s->hint_next].length <= off)
		s->hint_next++;
	if (s->hint_next == s->table.count || s->table.tensors[s->hint_next].offset > off)
		return -1;
	return (long)s->hint_next;
}

/* Codec hint and delta base of chunk k, which starts at `off` inside tensor ti. */
static void chunk_context(scan_state *s, batch *b, size_t k, long ti, uint64_t off)
{
	mvm_codec_hint h = MVM_CODEC_HINT_NONE;
	const mvm_tensor_info *t;
	const mvm_tensor *bt;
	const mvm_manifest *base = s->base;

	b->hints[k] = h;
	b->has_base[k] = 0;
	if (ti < 0)
		return;
	t = &s->table.tensors[ti];
	mvm_codec_float_hint(&h, t->dtype);
	if (h.elem)
		h.phase = (unsigned int)((off - t->offset) % h.elem);
	b->hints[k] = h;
	if (s->base_for && (bt = s->base_for[ti]) && base->nchunks) {
		uint64_t boff = bt->offset + (off - t->offset);
		size_t c = mvm_manifest_chunk_at(base, boff);
		if (base->chunk_offsets[c] == boff && base->chunks[c].len == b->lens[k]) {
			b->bases[k] = base->chunks[c].id;
			b->has_base[k] = 1;
		}
	}
}

static int batch_reserve(batch *b, size_t n)
{
	if (n <= b->cap)
		return 0;
	n = n < 256 ? 256 : n * 2;
	if (!(b->lens = realloc(b->lens, n * sizeof(*b->lens))) ||
	    !(b->ids = realloc(b->ids, n * sizeof(*b->ids))) ||
	    !(b->out_off = realloc(b->out_off, n * sizeof(*b->out_off))) ||
	    !(b->out_len = realloc(b->out_len, n * sizeof(*b->out_len))) ||
	    !(b->codec = realloc(b->codec, n * sizeof(*b->codec))) ||
	    !(b->hints = realloc(b->hints, n * sizeof(*b->hints))) ||
	    !(b->bases = realloc(b->bases, n * sizeof(*b->bases))) ||
	    !(b->base_locs = realloc(b->base_locs, n * sizeof(*b->base_locs))) ||
	    !(b->has_base = realloc(b->has_base, n)) ||
	    !(b->is_delta = realloc(b->is_delta, n)) || !(b->reads_base = realloc(b->reads_base, n)) ||
	    !(b->is_new = realloc(b->is_new, n)) || !(b->stored_now = realloc(b->stored_now, n)))
		return mvm_error_set(MVM_ERROR, "out of memory for chunk lists");
	b->cap = n;
	return 0;
}

/* Cut the batch into chunks; returns bytes consumed (the rest carries over). */
static int batch_cut(size_t *consumed, scan_state *s, batch *b)
{
	int eof = b->file_off + b->len == s->size;
	size_t pos = 0, out_need = 0;
	int error;

	b->nchunks = 0;
	while (pos < b->len) {
		uint64_t abs = b->file_off + pos, seg = next_cut(s, abs) - abs;
		size_t avail = b->len - pos, n, c;
		long ti = tensor_at(s, abs);

		if (ti >= 0) {
			uint64_t grid = s->scan->grid, want = grid - (abs - s->table.tensors[ti].offset) % grid;
			if (want > seg)
				want = seg;
			if (avail < want && !eof)
				break;
			c = avail < want ? avail : (size_t)want;
		} else {
			if (avail < seg && avail < s->cdc.max && !eof)
				break;
			n = seg < avail ? (size_t)seg : avail;
			c = mvm_cdc_cut(&s->cdc, b->buf + pos, n);
		}
		if ((error = batch_reserve(b, b->nchunks + 1)) < 0)
			return error;
		b->lens[b->nchunks] = (uint32_t)c;
		chunk_context(s, b, b->nchunks++, ti, abs);
		out_need += mvm_codec_bound(c);
		pos += c;
	}
	if (s->scan->store && out_need > b->out_cap) {
		/*
		 * With headroom: the need moves a little from batch to batch, and
		 * each new buffer costs a page fault for every 4 KiB of it.
		 */
		out_need += out_need / 8;
		mvm_bulk_free(b->out, b->out_cap);
		b->out_cap = 0;
		if (!(b->out = mvm_bulk_alloc(out_need)))
			return mvm_error_set(MVM_ERROR, "out of memory for compressed chunks");
		b->out_cap = out_need;
	}
	*consumed = pos;
	return 0;
}

static int manifest_reserve(scan_state *s, size_t n)
{
	mvm_manifest *m = s->m;

	if (n <= s->chunks_cap)
		return 0;
	n = n < 16 ? 16 : n * 2;
	if (!(m->chunks = realloc(m->chunks, n * sizeof(*m->chunks))) ||
	    !(m->chunk_offsets = realloc(m->chunk_offsets, n * sizeof(uint64_t))))
		return mvm_error_set(MVM_ERROR, "out of memory for the chunk list");
	s->chunks_cap = n;
	return 0;
}

/* Wait until the batch's jobs are done; returns whether it was in flight. */
static int batch_wait(struct mvm_scan_pipe *p, batch *b)
{
	if (!b->busy)
		return 0;
	mvm_pool_wait(p->pool, &b->chunk_job);
	if (b->bases_queued) { /* encode_job was submitted before base_job finished */
		mvm_pool_wait(p->base_reader, &b->base_job);
		mvm_pool_wait(p->pool, &b->encode_job);
		b->bases_queued = 0;
	}
	mvm_pool_wait(p->hasher, &b->hash_job);
	b->busy = 0;
	return 1;
}

/*
 * Once a pack was indexed since the batch's lookups, a new chunk may be
 * in it (the same bytes earlier in the file): look the batch's chunks
 * from i on up again, in one transaction, rather than one at a time
 * when each is written.
 */
static int recheck_new(batch *b, size_t i, mvm_store *store)
{
	size_t k;
	int error;

	if (mvm_store_seal_count(store) == b->seal_gen)
		return 0;
	if ((error = mvm_store_has_many(store, b->ids + i, b->nchunks - i, b->stored_now + i, &b->seal_gen)) < 0)
		return error;
	for (k = i; k < b->nchunks; k++)
		b->is_new[k] &= !b->stored_now[k];
	return 0;
}

/* The file's last batch is out: its manifest is complete. */
static int file_finish(scan_state *s)
{
	int error;

	if ((error = mvm_sha256_final(&s->m->sha, s->file_hash)) < 0 || (error = tensor_digests(s->m)) < 0)
		return error;
	*s->out = s->m;
	s->m = NULL;
	return 0;
}

static void scan_state_free(scan_state *s);

/* The oldest file in flight has emitted its last batch. */
static int file_done(struct mvm_scan_pipe *p)
{
	scan_state *s = p->first;
	int error;

	if (!(p->first = s->next))
		p->last = NULL;
	error = file_finish(s);
	scan_state_free(s);
	return error;
}

static int batch_append(scan_state *s, batch *b);

/* Wait for a batch and append its chunks, in file order; finish its file after its last batch. */
static int batch_emit(struct mvm_scan_pipe *p, batch *b)
{
	int error;

	if (!batch_wait(p, b))
		return 0;
	if ((error = batch_append(b->s, b)) < 0)
		return error;
	return b->ends_file ? file_done(p) : 0;
}

static int batch_append(scan_state *s, batch *b)
{
	mvm_manifest *m = s->m;
	uint64_t off = b->file_off;
	size_t i;
	int error;

	/* reported when a later file is pushed, or at the drain: name the file */
	if (b->error)
		return mvm_error_set(b->error, "%s: %s", s->name, b->msg);
	if (b->hash_error)
		return mvm_error_set(b->hash_error, "%s: %s", s->name, b->hash_msg);
	if ((error = manifest_reserve(s, m->nchunks + b->nchunks)) < 0)
		return error;
	for (i = 0; i < b->nchunks; i++) {
		if (b->is_new[i] && (error = recheck_new(b, i, s->scan->store)) < 0)
			return error;
		if (b->is_new[i] &&
		    (error = mvm_store_write_new(s->scan->store, b->seal_gen, &b->ids[i], b->out + b->out_off[i],
						 b->out_len[i], b->lens[i], b->codec[i],
						 b->is_delta[i] ? &b->bases[i] : NULL)) < 0)
			return error;
		m->chunks[m->nchunks].id = b->ids[i];
		m->chunks[m->nchunks].len = b->lens[i];
		m->chunk_offsets[m->nchunks++] = off;
		off += b->lens[i];
	}
	s->scan->done += off - b->file_off;
	if (s->scan->progress)
		s->scan->progress("add", s->scan->done, s->scan->total, s->scan->payload);
	return 0;
}

/*
 * Make room in the batch after the one being cut (emitting what it held)
 * and start reading the file's next bytes into it: the read runs while
 * this batch is cut and submitted. Reads follow each other in the file.
 */
static int read_ahead(scan_state *s, struct mvm_scan_pipe *p)
{
	batch *b = &p->batches[p->next % SCAN_BATCHES];
	size_t want = SCAN_BATCH_READ;
	int error;

	if (s->read_off == s->size)
		return 0;
	if ((error = batch_emit(p, b)) < 0)
		return error;
	if (want > s->size - s->read_off)
		want = (size_t)(s->size - s->read_off);
	b->read_len = want;
	s->read_off += want;
	return mvm_seqread_start(s->reader, b->mem + SCAN_BATCH_FRONT, want);
}

/* The batch's bytes: the carry, then the read started into it. */
static int batch_fill(scan_state *s, batch *b, const batch *prev, size_t carry)
{
	int error;

	if (carry > SCAN_BATCH_FRONT) /* cuts leave less than a chunk */
		return mvm_error_set(MVM_ERROR, "%s: %zu bytes left over past the last cut", s->name, carry);
	b->buf = b->mem + SCAN_BATCH_FRONT - carry;
	if (prev && carry)
		memcpy(b->buf, prev->buf + (prev->len - carry), carry);
	b->carry = carry;
	b->len = carry + b->read_len;
	error = mvm_seqread_finish(s->reader);
	if (error == MVM_ECORRUPT) /* a short read: the file shrank under us, nothing is damaged */
		return mvm_error_set(MVM_ERROR, "%s shrank while being added; add it again once it is written",
				     s->name);
	return error;
}

/* Cut the file into batches and send them down the pipeline; older batches are emitted to make room. */
static int push_batches(scan_state *s)
{
	struct mvm_scan_pipe *p = s->pipe;
	uint64_t off = 0;
	size_t carry = 0, consumed = 0;
	batch *prev = NULL;
	int error;

	if ((error = read_ahead(s, p)) < 0)
		return error;
	while (off < s->size) {
		batch *b = &p->batches[p->next++ % SCAN_BATCHES];

		b->s = s;
		b->file_off = off;
		b->error = b->hash_error = b->ids_by = 0;
		if ((error = batch_fill(s, b, prev, carry)) < 0 || (error = read_ahead(s, p)) < 0 ||
		    (error = batch_cut(&consumed, s, b)) < 0)
			return error;
		carry = b->len - consumed;
		off += consumed;
		b->ends_file = off == s->size;
		b->chunk_job.fn = chunk_job_run;
		b->hash_job.fn = hash_job_run;
		b->base_job.fn = base_job_run;
		b->encode_job.fn = encode_job_run;
		b->bases_queued = 0;
		/* decided once, before either job runs */
		b->ids_by = mvm_sha256_many_wide(b->nchunks) ? IDS_BY_WORKER : 0;
		b->busy = 1;
		if (s->size <= SCAN_INLINE_MAX) {
			mvm_job_run_here(&b->hash_job);
			mvm_job_run_here(&b->chunk_job);
		} else {
			mvm_pool_submit(p->hasher, &b->hash_job);
			mvm_pool_submit(p->pool, &b->chunk_job);
		}
		prev = b;
	}
	return 0;
}

static int scan_open(scan_state *s, const char *abspath)
{
	struct stat st;
	int error;

	if ((s->fd = open(abspath, O_RDONLY | O_CLOEXEC)) < 0)
		return mvm_error_set(errno == ENOENT ? MVM_ENOTFOUND : MVM_ERROR, "cannot open %s: %s",
				     s->name, strerror(errno));
	if (fstat(s->fd, &st) < 0)
		return mvm_error_set(MVM_ERROR, "cannot stat %s: %s", s->name, strerror(errno));
	s->size = (uint64_t)st.st_size;
	if ((error = mvm_format_parse(&s->table, s->name, s->size, mvm_fd_read, &s->fd)) < 0)
		return error;
	if (!(s->m = calloc(1, sizeof(*s->m))) ||
	    (s->table.count && !(s->m->tensors = calloc(s->table.count, sizeof(mvm_tensor)))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	s->m->size = s->size;
	s->m->format = (uint32_t)s->table.format;
	mvm_cdc_init(&s->cdc, MVM_CDC_MIN, MVM_CDC_AVG, MVM_CDC_MAX);
	return build_cuts(s);
}

/* Match each tensor with the parent's tensor of the same name, dtype and shape. */
static int match_base(scan_state *s)
{
	const mvm_manifest *base = s->base;
	size_t i;

	if (!base || !base->ntensors || !s->table.count)
		return 0;
	if (!(s->base_for = calloc(s->table.count, sizeof(*s->base_for))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < s->table.count; i++) {
		const mvm_tensor_info *t = &s->table.tensors[i];
		const mvm_tensor *bt = mvm_manifest_tensor(base, t->name);
		if (bt && !strcmp(bt->dtype, t->dtype) && bt->ndim == t->ndim && bt->length == t->length &&
		    !memcmp(bt->shape, t->shape, t->ndim * sizeof(uint64_t)))
			s->base_for[i] = bt;
	}
	return 0;
}

static int pipe_new(struct mvm_scan_pipe **out)
{
	struct mvm_scan_pipe *p = calloc(1, sizeof(*p));
	size_t i;
	int error;

	if (!(*out = p))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < SCAN_BATCHES; i++) {
		batch *b = &p->batches[i];

		if (!(b->mem = mvm_bulk_alloc(SCAN_BATCH_IN)))
			return mvm_error_set(MVM_ERROR, "out of memory for read buffers");
		if ((error = mvm_sha256_new(&b->id_hash[0])) < 0 || (error = mvm_sha256_new(&b->id_hash[1])) < 0)
			return error;
	}
	if ((error = mvm_pool_new(&p->pool, 0)) < 0 || (error = mvm_pool_new(&p->hasher, 1)) < 0 ||
	    (error = mvm_pool_new(&p->base_reader, 1)) < 0)
		return error;
	return 0;
}

static int scan_start(scan_state *s)
{
	int error;

	if ((error = match_base(s)) < 0 || (!s->scan->pipe && (error = pipe_new(&s->scan->pipe)) < 0))
		return error;
	s->pipe = s->scan->pipe;
	if ((error = mvm_seqread_open(&s->reader, s->fd, s->size, s->name)) < 0 ||
	    (error = mvm_sha256_new(&s->file_hash)) < 0 || (error = mvm_sha256_new(&s->chunk_hash)) < 0)
		return error;
	return 0;
}

/* Move the parsed tensor table into the manifest (names change owner). */
static void take_tensors(scan_state *s)
{
	size_t i;

	for (i = 0; i < s->table.count; i++) {
		mvm_tensor *t = &s->m->tensors[i];
		mvm_tensor_info *info = &s->table.tensors[i];

		t->name = info->name;
		info->name = NULL;
		memcpy(t->dtype, info->dtype, sizeof(t->dtype));
		t->ndim = info->ndim;
		memcpy(t->shape, info->shape, sizeof(t->shape));
		t->offset = info->offset;
		t->length = info->length;
	}
	s->m->ntensors = s->table.count;
}

static void scan_state_free(scan_state *s)
{
	mvm_sha256_free(s->file_hash);
	mvm_sha256_free(s->chunk_hash);
	mvm_tensor_table_dispose(&s->table);
	free(s->cuts);
	free(s->base_for);
	mvm_manifest_free(s->m);
	mvm_manifest_free(s->base);
	mvm_seqread_free(s->reader);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* All of the file is read: its reader (a thread, for a large file) and descriptor can go. */
static void scan_read_done(scan_state *s)
{
	mvm_seqread_free(s->reader);
	s->reader = NULL;
	close(s->fd);
	s->fd = -1;
}

static void queue_file(struct mvm_scan_pipe *p, scan_state *s)
{
	if (p->last)
		p->last->next = s;
	else
		p->first = s;
	p->last = s;
}

int mvm_scan_push(mvm_scan *scan, mvm_manifest **out, const char *abspath, const char *relpath, mvm_manifest *base)
{
	scan_state *s = calloc(1, sizeof(*s));
	int error;

	*out = NULL;
	if (!s || !scan->grid) {
		error = mvm_error_set(MVM_ERROR, s ? "scan without a tensor grid" : "out of memory");
		free(s);
		mvm_manifest_free(base);
		return error;
	}
	s->scan = scan;
	s->name = relpath;
	s->fd = -1;
	s->base = base;
	s->out = out;
	if ((error = scan_open(s, abspath)) < 0 || (error = scan_start(s)) < 0) {
		scan_state_free(s);
		return error;
	}
	take_tensors(s);
	if (!s->size) { /* no batches to wait for */
		error = file_finish(s);
		scan_state_free(s);
		return error;
	}
	queue_file(s->pipe, s);
	error = push_batches(s);
	scan_read_done(s);
	return error;
}

int mvm_scan_drain(mvm_scan *scan)
{
	struct mvm_scan_pipe *p = scan->pipe;
	size_t i;
	int error = 0;

	for (i = 0; p && i < SCAN_BATCHES && !error; i++) /* oldest first */
		error = batch_emit(p, &p->batches[p->next++ % SCAN_BATCHES]);
	return error;
}

void mvm_scan_dispose(mvm_scan *scan)
{
	struct mvm_scan_pipe *p = scan->pipe;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < SCAN_BATCHES; i++) /* a batch's jobs hand it from pool to pool: wait for each */
		batch_wait(p, &p->batches[i]);
	mvm_pool_free(p->pool); /* after it no job holds a file */
	mvm_pool_free(p->hasher);
	mvm_pool_free(p->base_reader);
	while (p->first) {
		scan_state *s = p->first;
		p->first = s->next;
		scan_state_free(s);
	}
	for (i = 0; i < SCAN_BATCHES; i++) {
		batch *b = &p->batches[i];
		mvm_bulk_free(b->mem, SCAN_BATCH_IN);
		mvm_sha256_free(b->id_hash[0]);
		mvm_sha256_free(b->id_hash[1]);
		free(b->lens);
		free(b->ids);
		free(b->out_off);
		free(b->out_len);
		free(b->codec);
		free(b->hints);
		free(b->bases);
		free(b->has_base);
		free(b->is_delta);
		free(b->reads_base);
		mvm_stored_set_dispose(&b->base_set);
		free(b->base_locs);
		mvm_buf_dispose(&b->base_bytes);
		mvm_buf_dispose(&b->base_stored);
		mvm_buf_dispose(&b->full);
		free(b->is_new);
		free(b->stored_now);
		mvm_bulk_free(b->out, b->out_cap);
	}
	free(p);
	scan->pipe = NULL;
}
