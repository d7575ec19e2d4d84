/*
 * chunkfilter.c: the chunk filter, a blocked Bloom filter over the ids of the
 * chunk index (chunkfilter.h; the file's layout is in docs/FORMAT.md).
 *
 * Why: an add of new weights looks up every chunk and finds none. With a
 * large index (10 million chunks is 1.1 GB of SQLite) each of those
 * lookups reads one or two index pages from the disk; the filter answers
 * them from memory, ~2.5 bytes per indexed chunk: a page read for each of
 * a small add's ids, the whole file read ahead in one pass for a large one.
 *
 * An id sets 8 bits in one 64-byte block: the block from its first 8
 * bytes, the bits from the next 16 (ids are SHA-256, so uniform). One
 * cache line per probe. Built with ~20 bits per id; rebuilt when more
 * than one id per 10 bits has been added, which keeps false positives
 * (a lookup the index answers after all) near 1% at worst.
 *
 * The file is mapped shared and bits are set with atomic ORs. Bits only
 * go from 0 to 1 (until a rebuild): a filter may say "maybe" for a chunk
 * gc deleted, never "no" for one a writer added through it. Writers and
 * builders all hold the repository's lock (add and gc take it), so no
 * rows are committed while a build reads the index. The one way to miss
 * an id is a crash that loses the file's dirty pages (a killed process
 * does not: the page cache keeps them); mvm before schema 9, which knows
 * no filter, refuses the repository. A missed id costs that chunk stored
 * once more when it is added again (the index keeps its first copy; gc
 * reclaims the second), and that add sets its bits.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/buf.h"
#include "util/bytes.h"
#include "chunkfilter.h"

#define FILTER_MAGIC "MVMCFLT1"
#define FILTER_VERSION 1
#define FILTER_HEADER 64
#define FILTER_BLOCK 64                 /* bytes: 512 bits */
#define FILTER_PROBES 8
#define FILTER_MIN_LOG2 10              /* 1024 blocks, 64 KiB */
#define FILTER_MAX_LOG2 26              /* 4 GiB: 1.7 billion ids */
#define FILTER_BITS_BUILT 20            /* bits per id when built */
#define FILTER_BITS_FULL 10             /* rebuilt past one id per this many bits */
#define FILTER_GUESS_MAX ((uint64_t)1 << 28) /* ids the packs' counts may claim (a second pass sizes by the ids read) */

/* Header: magic[8], u32 version, u32 log2 of the blocks, u64 ids added (the build's included), zero to 64. */
#define OFF_VERSION 8
#define OFF_LOG2 12
#define OFF_ADDED 16

struct mvm_chunk_filter {
	unsigned char *map;
	size_t len;
	uint64_t mask;                  /* blocks - 1 */
};

/* The file's length for 2^log2 blocks (0 where a size_t cannot hold it: 32-bit builds). */
static size_t filter_len(unsigned int log2)
{
	uint64_t len = FILTER_HEADER + ((uint64_t)FILTER_BLOCK << log2);

	return len <= SIZE_MAX ? (size_t)len : 0;
}

static unsigned char *block_of(unsigned char *map, uint64_t mask, const mvm_oid *id)
{
	return map + FILTER_HEADER + (size_t)(mvm_le64(id->id) & mask) * FILTER_BLOCK;
}

/* Bit j of id's 8, in [0, 512). */
static unsigned int probe_bit(const mvm_oid *id, unsigned int j)
{
	return mvm_le16(id->id + 8 + 2 * j) & (FILTER_BLOCK * 8 - 1);
}

int mvm_chunkfilter_may_have(const mvm_chunk_filter *f, const mvm_oid *id)
{
	const unsigned char *b = block_of(f->map, f->mask, id);
	unsigned int j, bit;

	for (j = 0; j < FILTER_PROBES; j++) {
		bit = probe_bit(id, j);
		if (!(__atomic_load_n(&b[bit >> 3], __ATOMIC_RELAXED) & (1u << (bit & 7))))
			return 0;
	}
	return 1;
}

static void set_bits(unsigned char *map, uint64_t mask, const mvm_oid *id)
{
	unsigned char *b = block_of(map, mask, id);
	unsigned int j, bit;

	for (j = 0; j < FILTER_PROBES; j++) {
		bit = probe_bit(id, j);
		__atomic_fetch_or(&b[bit >> 3], (unsigned char)(1u << (bit & 7)), __ATOMIC_RELAXED);
	}
}

void mvm_chunkfilter_add(mvm_chunk_filter *f, const mvm_oid *id)
{
	uint64_t *count = (uint64_t *)(void *)(f->map + OFF_ADDED), was, now;

	set_bits(f->map, f->mask, id);
	/* little-endian on every host; other processes add at once */
	was = __atomic_load_n(count, __ATOMIC_RELAXED);
	do
		now = htole64(le64toh(was) + 1);
	while (!__atomic_compare_exchange_n(count, &was, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

void mvm_chunkfilter_prefetch(mvm_chunk_filter *f)
{
	/* read in (one sequential pass) and mapped now: no fault per lookup; else at least read ahead */
	madvise(f->map, f->len, MADV_SEQUENTIAL);
#ifdef MADV_POPULATE_READ
	if (madvise(f->map, f->len, MADV_POPULATE_READ) != 0)
#endif
		madvise(f->map, f->len, MADV_WILLNEED);
	/* and no longer the first pages the kernel drops */
	madvise(f->map, f->len, MADV_RANDOM);
}

void mvm_chunkfilter_free(mvm_chunk_filter *f)
{
	if (!f)
		return;
	munmap(f->map, f->len);
	free(f);
}

/* The blocks' log2 for n ids: FILTER_BITS_BUILT bits each, at least FILTER_MIN_LOG2. */
static unsigned int log2_for(uint64_t n)
{
	unsigned int log2 = FILTER_MIN_LOG2;

	while (log2 < FILTER_MAX_LOG2 && ((uint64_t)FILTER_BLOCK * 8 << log2) < n * FILTER_BITS_BUILT)
		log2++;
	return log2;
}

/* Ids the index may hold: what the packs recorded (a pack's duplicates counted too). */
static int count_ids(uint64_t *n, mvm_db *db)
{
	sqlite3_stmt *q = NULL;
	int error;

	if ((error = mvm_db_prepare(&q, db, "SELECT COALESCE(SUM(chunks), 0) FROM packs")) < 0)
		return error;
	if ((error = mvm_db_step_row(db, q)) == 1) {
		*n = (uint64_t)sqlite3_column_int64(q, 0);
		error = 0;
	} else if (error == 0) {
		error = mvm_db_error(db, "counting chunks");
	}
	sqlite3_finalize(q);
	return error;
}

/* Call fn for every id of the index; *n = how many. */
static int each_indexed_id(uint64_t *n, mvm_db *db, void (*fn)(void *arg, const mvm_oid *id), void *arg)
{
	sqlite3_stmt *q = NULL;
	mvm_oid id;
	int error;

	*n = 0;
	if ((error = mvm_db_prepare(&q, db, "SELECT id FROM chunks")) < 0)
		return error;
	while ((error = mvm_db_step_row(db, q)) == 1) {
		if ((error = mvm_db_column_oid(&id, q, 0)) < 0)
			break;
		fn(arg, &id);
		(*n)++;
	}
	sqlite3_finalize(q);
	return error;
}

static void add_bits(void *arg, const mvm_oid *id)
{
	mvm_chunk_filter *f = arg;

	set_bits(f->map, f->mask, id);
}

struct miss_count {
	const mvm_chunk_filter *f;
	uint64_t n;
};

static void count_miss(void *arg, const mvm_oid *id)
{
	struct miss_count *c = arg;

	c->n += !mvm_chunkfilter_may_have(c->f, id);
}

int mvm_chunkfilter_misses(uint64_t *misses, uint64_t *ids, const mvm_chunk_filter *f, mvm_db *db)
{
	struct miss_count c = { f, 0 };
	int error = each_indexed_id(ids, db, count_miss, &c);

	*misses = c.n;
	return error;
}

/* Whether `added` ids need more bits than a filter of 2^log2 blocks has. */
static int full(uint64_t added, unsigned int log2)
{
	return log2 < FILTER_MAX_LOG2 && added > ((uint64_t)FILTER_BLOCK * 8 << log2) / FILTER_BITS_FULL;
}

/*
 * Fill fd as a filter of 2^log2 blocks from the index; *added = the ids.
 * @return 0, an error of the database, or 1 when the file could not be made.
 */
static int fill_file(uint64_t *added, int fd, unsigned int log2, mvm_db *db)
{
	size_t len = filter_len(log2);
	mvm_chunk_filter f;
	unsigned char *map;
	int error;

	/* blocks reserved now: a store into a mapped hole the disk cannot fill is a SIGBUS */
	if (ftruncate(fd, 0) < 0 || posix_fallocate(fd, 0, (off_t)len) != 0 ||
	    (map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return 1;
	f.map = map;
	f.mask = ((uint64_t)1 << log2) - 1;
	if ((error = each_indexed_id(added, db, add_bits, &f)) == 0) {
		memcpy(map, FILTER_MAGIC, 8);
		mvm_put_le32(map + OFF_VERSION, FILTER_VERSION);
		mvm_put_le32(map + OFF_LOG2, log2);
		mvm_put_le64(map + OFF_ADDED, *added);
	}
	munmap(map, len);
	return error;
}

/*
 * Build the filter into a temp file (mode as the database's) and move it
 * over path; sized from the packs' chunk counts, and once more from the
 * ids read when those fell short. @return 0, an error of the database, or
 * 1 when the file could not be made (lookups are left to the index).
 */
static int build(const char *root, const char *path, mvm_db *db)
{
	mvm_buf tmp = MVM_BUF_INIT;
	struct stat sb;
	uint64_t n = 0, added = 0;
	unsigned int log2;
	int fd, error;

	if ((error = count_ids(&n, db)) < 0 || (error = mvm_buf_printf(&tmp, "%s/tmp/filter-XXXXXX", root)) < 0)
		goto done;
	if ((fd = mkstemp(tmp.ptr)) < 0) {
		error = 1;
		goto done;
	}
	log2 = log2_for(n < FILTER_GUESS_MAX ? n : FILTER_GUESS_MAX);
	if ((error = fill_file(&added, fd, log2, db)) == 0 && full(added, log2))
		error = fill_file(&added, fd, log2 = log2_for(added), db);
	if (!error && stat(db->path, &sb) == 0 && fchmod(fd, sb.st_mode & 0666) < 0)
		error = 1;
	/*
	 * Synced before it replaces the old one: its length is set before any
	 * bit, so after a crash a file renamed unsynced could pass every check
	 * and hold zero blocks.
	 */
	if (!error)
		error = fsync(fd) < 0 || rename(tmp.ptr, path) < 0;
	close(fd);
	if (error)
		unlink(tmp.ptr);
done:
	mvm_buf_dispose(&tmp);
	return error;
}

/* Whether the header at p (of a file st_size long) is one we can map; its log2 into *log2. */
static int header_ok(unsigned int *log2, const unsigned char *p, off_t size)
{
	*log2 = mvm_le32(p + OFF_LOG2);
	return !memcmp(p, FILTER_MAGIC, 8) && mvm_le32(p + OFF_VERSION) == FILTER_VERSION &&
	       *log2 >= FILTER_MIN_LOG2 && *log2 <= FILTER_MAX_LOG2 && filter_len(*log2) &&
	       (uint64_t)size == filter_len(*log2);
}

/* Map path when it holds a good filter (and, with `want_room`, one not yet full); else *out NULL. */
static void map_file(mvm_chunk_filter **out, const char *path, int want_room)
{
	unsigned char head[FILTER_HEADER];
	mvm_chunk_filter *f = NULL;
	unsigned int log2;
	struct stat sb;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return;
	if (fstat(fd, &sb) < 0 || pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    !header_ok(&log2, head, sb.st_size) ||
	    (want_room && full(mvm_le64(head + OFF_ADDED), log2)) ||
	    !(f = calloc(1, sizeof(*f))))
		goto done;
	f->len = filter_len(log2);
	f->mask = ((uint64_t)1 << log2) - 1;
	f->map = mmap(NULL, f->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (f->map == MAP_FAILED) {
		free(f);
		f = NULL;
	} else {
		/* a lookup's page alone: the kernel would read megabytes around each */
		madvise(f->map, f->len, MADV_RANDOM);
	}
done:
	close(fd);
	*out = f;
}

/* root/chunks.filter into out. */
static int filter_path(mvm_buf *out, const char *root)
{
	return mvm_buf_printf(out, "%s/chunks.filter", root);
}

int mvm_chunkfilter_drop(const char *root)
{
	mvm_buf path = MVM_BUF_INIT;
	int error;

	if ((error = filter_path(&path, root)) == 0 && unlink(path.ptr) < 0 && errno != ENOENT)
		error = mvm_error_set(MVM_ERROR, "cannot remove %s, which would miss the chunks indexed now: %s",
				      path.ptr, strerror(errno));
	mvm_buf_dispose(&path);
	return error;
}

int mvm_chunkfilter_open(mvm_chunk_filter **out, const char *root, mvm_db *db, mvm_chunkfilter_mode mode)
{
	mvm_buf path = MVM_BUF_INIT;
	int error;

	*out = NULL;
	if ((error = filter_path(&path, root)) < 0)
		goto done;
	if (mode != MVM_CHUNKFILTER_REBUILD)
		map_file(out, path.ptr, mode == MVM_CHUNKFILTER_BUILD);
	if (*out || mode == MVM_CHUNKFILTER_OPEN)
		goto done;
	if ((error = build(root, path.ptr, db)) == 0)
		map_file(out, path.ptr, 0);
	error = error < 0 ? error : 0;
done:
	mvm_buf_dispose(&path);
	return error;
}
