/*
 * test_util.c: buffers, errors, oids, SHA-256 vectors, atomic writes, pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/buf.h"
#include "mvm/common.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/pool.h"

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

/* FIPS 180-2 / NIST CAVS vectors */
static void test_util__sha256_vectors(void **state)
{
	mvm_oid id;
	char hex[MVM_OID_HEXSZ + 1];

	(void)state;
	check_sha("", 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha("abc", 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_sha("a", 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_int_equal(mvm_sha256_buf(&id, "abc", 3), 0);
	mvm_oid_fmt(hex, &id);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util__sha256_vectors),
		cmocka_unit_test(test_util__oid_parse_roundtrip),
		cmocka_unit_test(test_util__buf_grows_and_caps),
		cmocka_unit_test(test_util__atomic_write_replaces),
		cmocka_unit_test(test_util__pool_runs_every_job),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
