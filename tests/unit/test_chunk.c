/*
 * test_chunk.c: FastCDC determinism, size bounds and resynchronization
 * after an insertion at the front; byte grouping of float chunks matches
 * a plain reference byte for byte (its SIMD splits and in-place planes
 * must never change a stored byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "chunk/fastcdc.h"
#include "store/bytegroup.h"
#include "store/codec.h"
#include "util/cpu.h"

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

/* Plane of byte i of a chunk starting `phase` bytes into an element. */
static unsigned int plane_of(size_t i, unsigned int elem, unsigned int phase)
{
	return (unsigned int)((phase + i) % elem);
}

/*
 * Byte grouping written the plain way: bytes to planes one at a time
 * (whole elements rotated left by rot bits), then each plane coded or
 * stored raw, in order.
 */
static size_t reference_bytegroup(unsigned char *dst, size_t cap, const unsigned char *src, size_t n,
				  unsigned int elem, unsigned int phase, unsigned int rot)
{
	unsigned char *planes[4];
	size_t len[4] = { 0 }, i, lead = phase ? elem - phase : 0, whole, off;
	unsigned int j, b;

	for (i = 0; i < n; i++)
		len[plane_of(i, elem, phase)]++;
	for (j = 0; j < elem; j++)
		planes[j] = malloc(len[j] + 1), len[j] = 0;
	whole = n > lead ? (n - lead) / elem : 0;
	for (i = 0; i < n; i++) {
		unsigned char c = src[i];
		if (i >= lead && i < lead + whole * elem) {
			size_t e = lead + (i - lead) / elem * elem;
			uint32_t w = 0, r;
			for (b = 0; b < elem; b++)
				w |= (uint32_t)src[e + b] << (8 * b);
			r = elem == 4 ? (rot ? w << 1 | w >> 31 : w) : (uint32_t)(uint16_t)(rot ? w << 1 | w >> 15 : w);
			c = (unsigned char)(r >> (8 * ((i - lead) % elem)));
		}
		j = plane_of(i, elem, phase);
		planes[j][len[j]++] = c;
	}
	dst[0] = (unsigned char)elem;
	dst[1] = (unsigned char)phase;
	off = mvm_bytegroup_header(elem);
	for (j = 0; j < elem; j++) {
		size_t z = mvm_plane_compress(dst + off, cap - off, planes[j], len[j]);
		dst[2 + 5 * j] = z != 0;
		if (!z)
			memcpy(dst + off, planes[j], z = len[j]);
		dst[3 + 5 * j] = (unsigned char)z, dst[4 + 5 * j] = (unsigned char)(z >> 8);
		dst[5 + 5 * j] = (unsigned char)(z >> 16), dst[6 + 5 * j] = (unsigned char)(z >> 24);
		off += z;
		free(planes[j]);
	}
	return off;
}

/* Float-like bytes: the top byte of each element from a narrow range, or all bytes random or zero. */
static void float_like(uint8_t *p, size_t n, unsigned int elem, int kind, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(seed >> 56);
		if (kind == 1 && i % elem == elem - 1)
			p[i] = (uint8_t)(0x3c + (p[i] & 3) + (p[i] & 0x80));
		if (kind == 2 && i % elem != elem - 1)
			p[i] = 0; /* low planes compress: they leave dst for scratch */
	}
}

/* Every elem, data kind, size, phase and rotation against the reference; with SIMD on or off. */
static void bytegroup_cases(unsigned char *src, unsigned char *a, unsigned char *b, unsigned char *back, size_t cap,
			    ZSTD_DCtx *d)
{
	static const size_t sizes[] = { 64, 100, 1000, 4099, 65536, 65537, 262143 };
	size_t si, got, want, n;
	unsigned int elem, phase, rot;
	int kind;

	for (elem = 2; elem <= 4; elem += 2)
		for (kind = 0; kind < 3; kind++)
			for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
				for (phase = 0; phase < elem; phase++)
					for (rot = 0; rot < 2; rot++) {
						n = sizes[si];
						float_like(src, n, elem, kind, n + elem + phase);
						assert_int_equal(mvm_bytegroup_encode(a, cap, &got, src, n, elem, phase, rot), 0);
						want = reference_bytegroup(b, cap, src, n, elem, phase, rot);
						assert_int_equal(got, want);
						assert_memory_equal(a, b, got);
						assert_int_equal(mvm_bytegroup_decode(back, n, a, got, d, rot), 0);
						assert_memory_equal(back, src, n);
					}
}

static void test_chunk__bytegroup_matches_reference(void **state)
{
	size_t cap = mvm_codec_bound(262143);
	unsigned char *src = malloc(262143), *a = malloc(cap), *b = malloc(cap), *back = malloc(262143);
	ZSTD_DCtx *d = ZSTD_createDCtx();

	(void)state;
	bytegroup_cases(src, a, b, back, cap, d); /* the splits picked for this CPU */
	mvm_cpu_restrict(MVM_CPU_PORTABLE);
	bytegroup_cases(src, a, b, back, cap, d); /* SSE2 and scalar */
	mvm_cpu_restrict(MVM_CPU_ALL);
	ZSTD_freeDCtx(d);
	free(src);
	free(a);
	free(b);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk__deterministic_and_bounded),
		cmocka_unit_test(test_chunk__insert_at_front_reuses_later_chunks),
		cmocka_unit_test(test_chunk__short_input_is_one_chunk),
		cmocka_unit_test(test_chunk__zeros_cut_at_max),
		cmocka_unit_test(test_chunk__bytegroup_matches_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
