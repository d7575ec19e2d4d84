/*
 * test_bucket.c: the canary share function. Over 100,000 request keys the
 * share of keys below each weight's threshold matches the weight within
 * one percentage point; buckets are stable and match the documented
 * definition (first 8 bytes of SHA-256, big-endian, mod 10000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mvm.h"

#define NKEYS 100000

static uint32_t bucket(const char *key)
{
	return mvm_deploy_bucket(key, strlen(key));
}

static void test_bucket__shares_match_weights(void **state)
{
	static const int weights[] = { 1, 5, 10, 25, 50, 75, 90, 99 };
	static uint32_t buckets[NKEYS];
	char key[32];
	size_t i, w;

	(void)state;
	for (i = 0; i < NKEYS; i++) {
		snprintf(key, sizeof(key), "user-%zu", i);
		buckets[i] = bucket(key);
		assert_true(buckets[i] < 10000);
	}
	for (w = 0; w < sizeof(weights) / sizeof(weights[0]); w++) {
		size_t hits = 0;
		double share;
		for (i = 0; i < NKEYS; i++)
			hits += buckets[i] < (uint32_t)weights[w] * 100;
		share = 100.0 * (double)hits / NKEYS;
		if (fabs(share - weights[w]) > 1.0)
			fail_msg("weight %d%%: %.2f%% of keys", weights[w], share);
	}
}

static void test_bucket__stable_and_documented(void **state)
{
	(void)state;
	/* python3 -c "import hashlib; print(int.from_bytes(hashlib.sha256(b'user-42').digest()[:8], 'big') % 10000)" */
	assert_int_equal(bucket("user-42"), 5129);
	assert_int_equal(bucket("user-42"), bucket("user-42"));
	assert_int_equal(mvm_deploy_bucket("user-42xyz", 7), 5129);  /* only len bytes count */
	assert_true(bucket("") < 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket__shares_match_weights),
		cmocka_unit_test(test_bucket__stable_and_documented),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
