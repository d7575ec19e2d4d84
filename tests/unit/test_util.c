/*
 * test_util.c: buffers, errors, oids, SHA-256 vectors, atomic writes, pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <openssl/evp.h>

#include "mvm/buf.h"
#include "mvm/common.h"
#include "util/array.h"
#include "util/bulkmem.h"
#include "util/cpu.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/pool.h"
#include "util/seqfile.h"
#include "util/seqread.h"

static void check_sha(const char *msg, size_t repeat, const char *want)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_sha256 *h = NULL;
	mvm_oid id;
	size_t i;

	assert_int_equal(mvm_sha256_new(&h), 0);
	for (i = 0; i < repeat; i++)
		assert_int_equal(mvm_sha256_update(h, msg, strlen(msg)), 0);
	assert_int_equal(mvm_sha256_final(&id, h), 0);
	mvm_oid_fmt(hex, &id);
	assert_string_equal(hex, want);
	mvm_sha256_free(h);
}

/* FIPS 180-2 / NIST CAVS vectors, on the SHA-NI contexts (where the CPU has it) and on OpenSSL's */
static void test_util__sha256_vectors(void **state)
{
	mvm_oid id;
	char hex[MVM_OID_HEXSZ + 1];
	int portable;

	(void)state;
	for (portable = 0; portable < 2; portable++) {
		mvm_cpu_restrict(portable ? MVM_CPU_PORTABLE : MVM_CPU_ALL);
		check_sha("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
		check_sha("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
		check_sha("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
	mvm_cpu_restrict(MVM_CPU_ALL);
	check_sha("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_sha("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_int_equal(mvm_sha256_buf(&id, "abc", 3), 0);
	mvm_oid_fmt(hex, &id);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The reference: OpenSSL itself, linked into this test (mvm loads it only where it needs it). */
static void openssl_sha256(mvm_oid *out, const void *p, size_t n)
{
	unsigned int len = 0;

	assert_int_equal(EVP_Digest(p, n, out->id, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, MVM_OID_RAWSZ);
}

/* Piece k of a stream fed in pieces: sizes cycle through block edges. */
static size_t piece_len(size_t k, size_t left)
{
	static const size_t sizes[] = { 1, 63, 64, 65, 0, 127, 5, 200, 55, 56, 57, 4096, 3, 64 * 1024 + 7 };
	size_t n = sizes[k % (sizeof(sizes) / sizeof(sizes[0]))];
	return n < left ? n : left;
}

/*
 * Two streams advanced together (interleaved on SHA-NI) give what OpenSSL
 * gives for each alone: every length from 0 to 300 against every other
 * one's complement, whole and in pieces of awkward sizes, on both paths.
 */
static void test_util__sha256_two_streams_match_openssl(void **state)
{
	size_t big = 300 * 1024, i, na, nb, oa, ob, k;
	unsigned char *data = malloc(big);
	mvm_sha256 *a = NULL, *b = NULL;
	mvm_oid got_a, got_b, want_a, want_b;
	int portable;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < big; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 13);
	for (portable = 0; portable < 2; portable++) {
		mvm_cpu_restrict(portable ? MVM_CPU_PORTABLE : MVM_CPU_ALL);
		assert_int_equal(mvm_sha256_new(&a), 0);
		assert_int_equal(mvm_sha256_new(&b), 0);
		for (na = 0; na <= 300; na++) {
			nb = 300 - na + (na % 3) * 64;
			assert_int_equal(mvm_sha256_update2(a, data + 1, na, b, data + 1000 + na, nb), 0);
			assert_int_equal(mvm_sha256_final(&got_a, a), 0);
			assert_int_equal(mvm_sha256_final(&got_b, b), 0);
			openssl_sha256(&want_a, data + 1, na);
			openssl_sha256(&want_b, data + 1000 + na, nb);
			assert_memory_equal(got_a.id, want_a.id, MVM_OID_RAWSZ);
			assert_memory_equal(got_b.id, want_b.id, MVM_OID_RAWSZ);
			assert_int_equal(mvm_sha256_buf(&got_a, data + 1, na), 0); /* the one-shot too */
			assert_memory_equal(got_a.id, want_a.id, MVM_OID_RAWSZ);
		}
		/* a: all of data in pieces; b: a shifted copy, pieces out of step with a's */
		for (oa = ob = 0, k = 0; oa < big || ob < big - 7; k++) {
			na = piece_len(k, big - oa);
			nb = piece_len(k + 3, big - 7 - ob);
			assert_int_equal(mvm_sha256_update2(a, data + oa, na, b, data + 7 + ob, nb), 0);
			oa += na;
			ob += nb;
		}
		assert_int_equal(mvm_sha256_final(&got_a, a), 0);
		assert_int_equal(mvm_sha256_final(&got_b, b), 0);
		openssl_sha256(&want_a, data, big);
		openssl_sha256(&want_b, data + 7, big - 7);
		assert_memory_equal(got_a.id, want_a.id, MVM_OID_RAWSZ);
		assert_memory_equal(got_b.id, want_b.id, MVM_OID_RAWSZ);
		mvm_sha256_free(a);
		mvm_sha256_free(b);
	}
	mvm_cpu_restrict(MVM_CPU_ALL);
	free(data);
}

/*
 * Many buffers at once (sixteen AVX-512 lanes where the CPU has them, else
 * pairs) give what OpenSSL gives for each: counts from 0 to 40 (whole
 * sixteens, rests below and above the lanes' minimum), lengths at every
 * padding edge, empty ones, equal 256 KiB ones and mixed ones, so lanes
 * end at different blocks and take the next buffer; on both paths.
 */
static void test_util__sha256_many_match_openssl(void **state)
{
	static const size_t edges[] = { 0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 262144, 16384 + 3 };
	size_t big = 600 * 1024, count, i, round;
	unsigned char *data = malloc(big);
	const unsigned char *p[40];
	size_t n[40];
	mvm_oid got[40], want;
	mvm_sha256 *h[2] = { NULL, NULL };
	int portable;

	(void)state;
	assert_non_null(data);
	if (!mvm_sha256_many_wide(MVM_SHA256_MANY))
		fprintf(stderr, "sha256 many: no vector lanes on this CPU, two streams only\n");
	for (i = 0; i < big; i++)
		data[i] = (unsigned char)((i * 2654435761u) >> 11);
	for (portable = 0; portable < 2; portable++) {
		mvm_cpu_restrict(portable ? MVM_CPU_PORTABLE : MVM_CPU_ALL);
		assert_int_equal(mvm_sha256_new(&h[0]), 0);
		assert_int_equal(mvm_sha256_new(&h[1]), 0);
		for (round = 0; round < 3; round++)
			for (count = 0; count <= 40; count++) {
				for (i = 0; i < count; i++) {
					size_t r = (i * 7919 + count * 104729 + round * 31) % 1000;
					n[i] = round == 0 ? edges[(i + count) % (sizeof(edges) / sizeof(edges[0]))]
					       : round == 1 ? 262144 : r * r % 300000;
					p[i] = data + (i * 4099 + count) % (big - 300000);
				}
				assert_int_equal(mvm_sha256_many(got, p, n, count, h), 0);
				for (i = 0; i < count; i++) {
					openssl_sha256(&want, p[i], n[i]);
					assert_memory_equal(got[i].id, want.id, MVM_OID_RAWSZ);
				}
			}
		mvm_sha256_free(h[0]);
		mvm_sha256_free(h[1]);
	}
	mvm_cpu_restrict(MVM_CPU_ALL);
	free(data);
}

static void test_util__oid_parse_roundtrip(void **state)
{
	const char *hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	char back[MVM_OID_HEXSZ + 1];
	mvm_oid id;

	(void)state;
	assert_int_equal(mvm_oid_parse(&id, hex), 0);
	mvm_oid_fmt(back, &id);
	assert_string_equal(back, hex);
	assert_int_equal(mvm_oid_parse(&id, "ba78"), MVM_EUSAGE);
	assert_int_equal(mvm_oid_parse(&id, "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
			 MVM_EUSAGE);
}

static void test_util__buf_grows_and_caps(void **state)
{
	mvm_buf b = MVM_BUF_INIT;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(mvm_buf_printf(&b, "%d,", i), 0);
	assert_int_equal(strncmp(b.ptr, "0,1,2,", 6), 0);
	assert_int_equal(b.ptr[b.size], '\0');
	mvm_buf_dispose(&b);

	b.max = 8;
	assert_int_equal(mvm_buf_puts(&b, "12345678"), 0);
	assert_int_equal(mvm_buf_puts(&b, "9"), MVM_ETOOLARGE);
	mvm_buf_dispose(&b);
}

static void test_util__array_grows(void **state)
{
	uint64_t *a = NULL;
	size_t n = 0, cap = 0, i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(mvm_array_grow(&a, &cap, n, sizeof(*a), 4), 0);
		assert_true(cap > n);
		a[n++] = i;
	}
	assert_int_equal(cap, 1024); /* 4, 8, ... doubling */
	for (i = 0; i < n; i++)
		assert_true(a[i] == i);
	/* no room for SIZE_MAX / 8 * 2 elements: refused, the array kept */
	cap = SIZE_MAX / 8;
	assert_int_equal(mvm_array_grow(&a, &cap, cap, sizeof(*a), 4), MVM_ERROR);
	assert_true(a[999] == 999);
	free(a);
}

static void test_util__atomic_write_replaces(void **state)
{
	char dir[] = "/tmp/mvm-test-XXXXXX";
	mvm_buf path = MVM_BUF_INIT, got = MVM_BUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mvm_fs_join(&path, dir, "f"), 0);
	assert_int_equal(mvm_fs_atomic_write(path.ptr, "one", 3, 0644), 0);
	assert_int_equal(mvm_fs_atomic_write(path.ptr, "two!", 4, 0644), 0);
	assert_int_equal(mvm_fs_readfile(&got, path.ptr, 100), 0);
	assert_string_equal(got.ptr, "two!");
	assert_int_equal(mvm_fs_readfile(&got, path.ptr, 2), MVM_ETOOLARGE);
	unlink(path.ptr);
	rmdir(dir);
	mvm_buf_dispose(&path);
	mvm_buf_dispose(&got);
}

/* Write `total` pattern bytes in appends of `step`, then read them back. */
static void seqfile_roundtrip(mvm_seqfile *f, const char *dir, size_t total, size_t step)
{
	mvm_buf path = MVM_BUF_INIT, got = MVM_BUF_INIT;
	unsigned char *src = malloc(total + 1);
	size_t i;
	int fd;

	assert_non_null(src);
	for (i = 0; i < total; i++)
		src[i] = (unsigned char)(i * 131 + i / 4096);
	assert_int_equal(mvm_fs_join(&path, dir, "seq"), 0);
	unlink(path.ptr);
	assert_true((fd = open(path.ptr, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	assert_int_equal(mvm_seqfile_start(f, fd, path.ptr), 0);
	for (i = 0; i < total; i += step)
		assert_int_equal(mvm_seqfile_append(f, src + i, total - i < step ? total - i : step), 0);
	assert_true(mvm_seqfile_size(f) == total);
	assert_int_equal(mvm_seqfile_finish(f, 1), 0);
	close(fd);
	assert_int_equal(mvm_fs_readfile(&got, path.ptr, total + 1), 0);
	assert_true(got.size == total);
	assert_memory_equal(got.ptr ? got.ptr : "", src, total);
	unlink(path.ptr);
	free(src);
	mvm_buf_dispose(&path);
	mvm_buf_dispose(&got);
}

/*
 * Sizes around the 4 KiB block and the 4 MiB buffer (and past the queued
 * ones), on the test's disk
 * (O_DIRECT) and on /dev/shm (tmpfs, where it may be refused and the
 * writer falls back to ordinary writes).
 */
static void test_util__seqfile_writes_every_byte(void **state)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 65536 + 7, (4u << 20) - 1, 4u << 20,
					(4u << 20) + 4097, (8u << 20) - 1, 8u << 20, (8u << 20) + 4097, (20u << 20) + 3 };
	const char *roots[] = { "/tmp", "/dev/shm" };
	mvm_seqfile f = MVM_SEQFILE_INIT;
	size_t i, r;

	(void)state;
	for (r = 0; r < 2; r++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "%s/mvm-test-XXXXXX", roots[r]);
		if (!mkdtemp(dir))
			continue; /* no /dev/shm here */
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			seqfile_roundtrip(&f, dir, sizes[i], 1000003);
			seqfile_roundtrip(&f, dir, sizes[i], 4096);
		}
		rmdir(dir);
	}
	mvm_seqfile_dispose(&f);
}

/*
 * Writes still queued when the caller moves its mvm_seqfile (the store
 * hands a sealed pack's writer to the sealer thread that way) land all
 * the same, in order.
 */
static void test_util__seqfile_moves_with_writes_queued(void **state)
{
	char dir[] = "/tmp/mvm-test-XXXXXX", path[64];
	mvm_seqfile f = MVM_SEQFILE_INIT, moved;
	mvm_buf got = MVM_BUF_INIT;
	size_t total = (13u << 20) + 5, i;
	unsigned char *src = malloc(total);
	int fd;

	(void)state;
	assert_non_null(src);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/moved", dir);
	for (i = 0; i < total; i++)
		src[i] = (unsigned char)(i * 7 + i / 4096);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	assert_int_equal(mvm_seqfile_start(&f, fd, "moved"), 0);
	assert_int_equal(mvm_seqfile_append(&f, src, total), 0);
	moved = f;
	memset(&f, 0xa5, sizeof(f)); /* a queued write still using the old struct would fail or crash */
	assert_int_equal(mvm_seqfile_finish(&moved, 1), 0);
	close(fd);
	assert_int_equal(mvm_fs_readfile(&got, path, total + 1), 0);
	assert_true(got.size == total);
	assert_memory_equal(got.ptr, src, total);
	mvm_seqfile_dispose(&moved);
	unlink(path);
	rmdir(dir);
	free(src);
	mvm_buf_dispose(&got);
}

/* A write that fails on the writer thread is reported by the caller's next append or finish. */
static void test_util__seqfile_reports_background_errors(void **state)
{
	char dir[] = "/tmp/mvm-test-XXXXXX", path[64];
	mvm_seqfile f = MVM_SEQFILE_INIT;
	unsigned char *block = calloc(1, 1u << 20);
	int fd, error = 0, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ro", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) >= 0);
	close(fd);
	assert_true((fd = open(path, O_RDONLY)) >= 0); /* every write fails with EBADF */
	assert_int_equal(mvm_seqfile_start(&f, fd, "ro-file"), 0);
	for (i = 0; i < 20 && !error; i++) /* 20 MiB: the first full buffer goes to the writer */
		error = mvm_seqfile_append(&f, block, 1u << 20);
	if (!error)
		error = mvm_seqfile_finish(&f, 0);
	assert_int_equal(error, MVM_ERROR);
	assert_non_null(strstr(mvm_error_last(), "cannot write ro-file"));
	mvm_seqfile_cancel(&f);
	close(fd);
	unlink(path);
	seqfile_roundtrip(&f, dir, (20u << 20) + 3, 1000003); /* the writer is fine afterwards */
	rmdir(dir);
	mvm_seqfile_dispose(&f);
	free(block);
}

/* Write total pattern bytes to dir/in; returns its fd open for reading. */
static int pattern_file(char *path, size_t pathsz, const char *dir, const unsigned char *src, size_t total)
{
	int fd;

	snprintf(path, pathsz, "%s/in", dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
	assert_true(write(fd, src, total) == (ssize_t)total);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	return fd;
}

/*
 * Every byte comes back in order, in pieces of awkward sizes or in whole
 * pages into a page-aligned buffer, whether the page cache holds the file
 * (copied from there) or not (dropped first, so the whole pages are read
 * with O_DIRECT where the file system takes it: /tmp; tmpfs does not).
 */
static void test_util__seqread_reads_every_byte(void **state)
{
	static const size_t sizes[] = { 1,		 4095,		   4096,	       4097,
					(1u << 20),	 (1u << 20) + 1,   (4u << 20) - 1, (4u << 20) + 4097,
					(13u << 20) + 3 }; /* under 1 MiB: through the page cache only */
	const char *roots[] = { "/tmp", "/dev/shm" };
	size_t total = (13u << 20) + 3, i, r, step, off;
	unsigned char *src = malloc(total), *got = aligned_alloc(4096, ((total + 4095) / 4096 + 1) * 4096);
	int mode, cold, pages;

	(void)state;
	assert_true(src && got);
	for (i = 0; i < total; i++)
		src[i] = (unsigned char)((i * 2654435761u) >> 13);
	for (r = 0; r < 2; r++) {
		char dir[64], path[80];
		snprintf(dir, sizeof(dir), "%s/mvm-test-XXXXXX", roots[r]);
		if (!mkdtemp(dir))
			continue; /* no /dev/shm here */
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			for (mode = 0; mode < 4; mode++) {
				mvm_seqread *rd = NULL;
				int fd = pattern_file(path, sizeof(path), dir, src, sizes[i]);

				cold = mode & 1;
				pages = mode >> 1;
				if (cold)
					posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
				assert_int_equal(mvm_seqread_open(&rd, fd, sizes[i], "in"), 0);
				memset(got, 0, sizes[i]);
				for (off = 0, step = pages ? 4096 : 1; off < sizes[i];
				     off += step, step = pages ? step * 2 : step * 7 + 1000)
					assert_int_equal(mvm_seqread_next(rd, got + off,
									  sizes[i] - off < step ? sizes[i] - off : step), 0);
				assert_memory_equal(got, src, sizes[i]);
				assert_int_equal(mvm_seqread_next(rd, got, 1), MVM_ECORRUPT); /* past the end */
				mvm_seqread_free(rd);
				close(fd);
				unlink(path);
			}
		rmdir(dir);
	}
	free(src);
	free(got);
}

/* A file cut short after its size was taken: a clear error, not stale or zero bytes. */
static void check_shrunk_file(size_t total, size_t step)
{
	char dir[] = "/tmp/mvm-test-XXXXXX", path[80];
	unsigned char *src = calloc(1, total), *got = malloc(total);
	mvm_seqread *rd = NULL;
	int fd, error = 0;
	size_t off;

	assert_non_null(mkdtemp(dir));
	assert_true(src && got);
	fd = pattern_file(path, sizeof(path), dir, src, total);
	assert_int_equal(truncate(path, 4096), 0); /* before the reader: it will find the bytes missing */
	assert_int_equal(mvm_seqread_open(&rd, fd, total, "model.bin"), 0);
	for (off = 0; off < total && !error; off += step)
		error = mvm_seqread_next(rd, got + off, step);
	assert_int_equal(error, MVM_ECORRUPT);
	assert_non_null(strstr(mvm_error_last(), "model.bin ended"));
	mvm_seqread_free(rd);
	close(fd);
	unlink(path);
	rmdir(dir);
	free(src);
	free(got);
}

static void test_util__seqread_reports_a_shrunk_file(void **state)
{
	(void)state;
	check_shrunk_file(9u << 20, 1u << 20); /* read ahead on a thread */
	check_shrunk_file(512u << 10, 64u << 10); /* read inline */
}

typedef struct {
	mvm_job job;
	int in, out;
} square_job;

static void square(mvm_job *job)
{
	square_job *s = (square_job *)job;
	s->out = s->in * s->in;
}

static void test_util__pool_runs_every_job(void **state)
{
	square_job jobs[100];
	mvm_pool *pool = NULL;
	int i;

	(void)state;
	assert_int_equal(mvm_pool_new(&pool, 3), 0);
	for (i = 0; i < 100; i++) {
		jobs[i].job.fn = square;
		jobs[i].in = i;
		mvm_pool_submit(pool, &jobs[i].job);
	}
	for (i = 0; i < 100; i++) {
		mvm_pool_wait(pool, &jobs[i].job);
		assert_int_equal(jobs[i].out, i * i);
	}
	mvm_pool_free(pool);
}

/*
 * Bulk buffers: 2 MiB aligned and writable to the end; a freed one comes
 * back for the next request of the same size; the last eight freed are
 * kept (the oldest unmapped to make room), so after nine 4 MiB buffers are
 * freed, eight requests get back eight of them and write them fully.
 */
static void test_util__bulk_buffers_are_kept_for_reuse(void **state)
{
	enum { N = 9, SIZE = 4 << 20 };
	unsigned char *p[N], *again[N - 1], *odd;
	int i, k, found;

	(void)state;
	assert_null(mvm_bulk_alloc(0));
	odd = mvm_bulk_alloc(3 << 20); /* rounds to 4 MiB */
	assert_non_null(odd);
	assert_int_equal((uintptr_t)odd % (2u << 20), 0);
	memset(odd, 0xa5, 4u << 20);
	mvm_bulk_free(odd, 3 << 20);
	p[0] = mvm_bulk_alloc(SIZE);
	assert_ptr_equal(p[0], odd); /* the same rounded size: reused */
	assert_int_equal(p[0][(4u << 20) - 1], 0xa5);
	for (i = 1; i < N; i++) {
		assert_non_null(p[i] = mvm_bulk_alloc(SIZE));
		assert_int_equal((uintptr_t)p[i] % (2u << 20), 0);
		memset(p[i], i, SIZE);
	}
	for (i = 0; i < N; i++)
		mvm_bulk_free(p[i], SIZE);
	for (k = 0; k < N - 1; k++) {
		assert_non_null(again[k] = mvm_bulk_alloc(SIZE));
		for (found = 0, i = 1; i < N; i++) /* the last eight freed, p[0] aged out */
			found |= again[k] == p[i];
		assert_true(found);
		memset(again[k], 0, SIZE);
	}
	for (k = 0; k < N - 1; k++)
		mvm_bulk_free(again[k], SIZE);
	mvm_bulk_free(NULL, SIZE);
}

/* The probe (glibc's feature bits, or CPUID) agrees with the compiler's own checks and CPUID's SHA bit. */
static void test_util__cpu_features_match_cpuid(void **state)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;
	int sha, avx2, avx512;

	(void)state;
	mvm_cpu_restrict(MVM_CPU_ALL);
	__builtin_cpu_init();
	sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA) && __builtin_cpu_supports("ssse3") &&
	      __builtin_cpu_supports("sse4.1");
	avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
	avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi2") &&
		 __builtin_cpu_supports("avx512ifma") && __builtin_cpu_supports("popcnt");
	assert_int_equal(mvm_cpu_sha_ni(), sha);
	assert_int_equal(mvm_cpu_avx2(), avx2);
	assert_int_equal(mvm_cpu_avx512(), avx512);
#else
	(void)state;
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__sha256_vectors),
		cmocka_unit_test(test_util__sha256_two_streams_match_openssl),
		cmocka_unit_test(test_util__sha256_many_match_openssl),
		cmocka_unit_test(test_util__oid_parse_roundtrip),
		cmocka_unit_test(test_util__buf_grows_and_caps),
		cmocka_unit_test(test_util__array_grows),
		cmocka_unit_test(test_util__atomic_write_replaces),
		cmocka_unit_test(test_util__seqfile_writes_every_byte),
		cmocka_unit_test(test_util__seqfile_reports_background_errors),
		cmocka_unit_test(test_util__seqfile_moves_with_writes_queued),
		cmocka_unit_test(test_util__seqread_reads_every_byte),
		cmocka_unit_test(test_util__seqread_reports_a_shrunk_file),
		cmocka_unit_test(test_util__pool_runs_every_job),
		cmocka_unit_test(test_util__bulk_buffers_are_kept_for_reuse),
		cmocka_unit_test(test_util__cpu_features_match_cpuid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
