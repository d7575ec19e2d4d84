/*
 * test_chunk.c: FastCDC determinism, size bounds and resynchronization
 * after an insertion at the front.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/fastcdc.h"

#define DATA_LEN (8u << 20)

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(seed >> 56);
	}
	return p;
}

/* Cut points (as absolute end offsets) of the whole buffer; returns count. */
static size_t cut_all(const mvm_cdc *cdc, const uint8_t *p, size_t n, size_t *ends, size_t cap)
{
	size_t off = 0, k = 0;

	while (off < n && k < cap) {
		size_t len = mvm_cdc_cut(cdc, p + off, n - off);
		off += len;
		ends[k++] = off;
	}
	return k;
}

static void test_chunk__deterministic_and_bounded(void **state)
{
	uint8_t *p = random_bytes(DATA_LEN, 1);
	size_t a[1024], b[1024], na, nb, i, prev = 0;
	mvm_cdc cdc;

	(void)state;
	mvm_cdc_init(&cdc, MVM_CDC_MIN, MVM_CDC_AVG, MVM_CDC_MAX);
	na = cut_all(&cdc, p, DATA_LEN, a, 1024);
	nb = cut_all(&cdc, p, DATA_LEN, b, 1024);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * sizeof(size_t));
	for (i = 0; i < na; i++) {
		size_t len = a[i] - prev;
		assert_true(len <= MVM_CDC_MAX);
		if (i + 1 < na)
			assert_true(len >= MVM_CDC_MIN);
		prev = a[i];
	}
	/* normalized chunking keeps the average near 64 KiB */
	assert_true(DATA_LEN / na > 40 * 1024 && DATA_LEN / na < 100 * 1024);
	free(p);
}

static void test_chunk__insert_at_front_reuses_later_chunks(void **state)
{
	uint8_t *p = random_bytes(DATA_LEN + 100, 2);
	size_t a[1024], b[1024], na, nb, i, j, shared = 0;
	mvm_cdc cdc;

	(void)state;
	mvm_cdc_init(&cdc, MVM_CDC_MIN, MVM_CDC_AVG, MVM_CDC_MAX);
	na = cut_all(&cdc, p + 100, DATA_LEN, a, 1024);  /* original */
	nb = cut_all(&cdc, p, DATA_LEN + 100, b, 1024);  /* 100 bytes inserted */
	/* every boundary of the original but the first reappears, shifted by 100 */
	for (i = 1, j = 0; i < na; i++) {
		while (j < nb && b[j] < a[i] + 100)
			j++;
		if (j < nb && b[j] == a[i] + 100)
			shared++;
	}
	assert_true(shared >= na - 2);
	free(p);
}

static void test_chunk__short_input_is_one_chunk(void **state)
{
	uint8_t buf[100] = {0};
	mvm_cdc cdc;

	(void)state;
	mvm_cdc_init(&cdc, MVM_CDC_MIN, MVM_CDC_AVG, MVM_CDC_MAX);
	assert_int_equal(mvm_cdc_cut(&cdc, buf, sizeof(buf)), sizeof(buf));
	assert_int_equal(mvm_cdc_cut(&cdc, buf, 0), 0);
}

static void test_chunk__zeros_cut_at_max(void **state)
{
	uint8_t *z = calloc(1, MVM_CDC_MAX * 2);
	mvm_cdc cdc;

	(void)state;
	mvm_cdc_init(&cdc, MVM_CDC_MIN, MVM_CDC_AVG, MVM_CDC_MAX);
	/* a constant run never matches the mask, so cuts fall at max */
	assert_int_equal(mvm_cdc_cut(&cdc, z, MVM_CDC_MAX * 2), MVM_CDC_MAX);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk__deterministic_and_bounded),
		cmocka_unit_test(test_chunk__insert_at_front_reuses_later_chunks),
		cmocka_unit_test(test_chunk__short_input_is_one_chunk),
		cmocka_unit_test(test_chunk__zeros_cut_at_max),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
