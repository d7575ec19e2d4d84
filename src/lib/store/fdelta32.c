/*
 * fdelta32.c: codec 4 on F32 chunks.
 *
 * As for BF16/F16 (fdelta.c), each element becomes the folded difference
 * of its new and its base bit patterns in value order, and the base's
 * exponent sorts the elements into one-binade classes. What differs is
 * the size of the differences: a fine-tune that moves a weight by a few
 * percent rewrites some 20 of its 23 mantissa bits, so a token byte per
 * element would nearly always escape. The differences are split into
 * their four byte planes instead, each plane by class: the low planes,
 * near random, go raw; the high ones, mostly zero or small, compress.
 * Against codec 3's XOR planes this saves what a carry across a bit
 * boundary costs (an XOR flips every bit up to the highest changed one)
 * and gives each binade's planes their own tables.
 *
 * An F32's top 16 bits are a BF16 with the same exponent, so the classes
 * come from BF16's classifier, and the 32-bit differences travel as two
 * 16-bit halves through the same per-class byte planes as layout 1.
 */
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "mvm/common.h"
#include "codec.h"
#include "fdelta_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

static inline uint32_t word32(const unsigned char *p)
{
	uint32_t w;
	memcpy(&w, p, 4);
	return le32toh(w);
}

/* Float bits to integers in value order (-0 just below +0), and back. */
static inline uint32_t to_ordered32(uint32_t w)
{
	return w & 0x80000000u ? ~w : w | 0x80000000u;
}

static inline uint32_t from_ordered32(uint32_t o)
{
	return o & 0x80000000u ? o & 0x7fffffffu : ~o;
}

#ifdef __SSE2__
static inline __m128i to_ordered4(__m128i w)
{
	return _mm_xor_si128(w, _mm_or_si128(_mm_srai_epi32(w, 31), _mm_set1_epi32((int)0x80000000u)));
}

static inline __m128i from_ordered4(__m128i o)
{
	__m128i pos = _mm_cmpeq_epi32(_mm_srai_epi32(o, 31), _mm_setzero_si128()); /* top bit clear */
	return _mm_xor_si128(o, _mm_or_si128(pos, _mm_set1_epi32((int)0x80000000u)));
}

static inline __m128i load4(const unsigned char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The high (shift 16) or low (shift 0) 16-bit halves of 8 elements in two vectors. */
static inline __m128i halves8(__m128i a, __m128i b, int low)
{
	if (low) {
		a = _mm_slli_epi32(a, 16);
		b = _mm_slli_epi32(b, 16);
	}
	/* arithmetic shifts keep each half in int16 range, so the signed pack is exact */
	return _mm_packs_epi32(_mm_srai_epi32(a, 16), _mm_srai_epi32(b, 16));
}
#endif

/* The base's top halves, as little-endian 16-bit elements (BF16s with its exponents). */
static void high_halves(unsigned char *h, const unsigned char *base, size_t count)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 8 <= count; i += 8)
		_mm_storeu_si128((__m128i *)(void *)(h + 2 * i),
				 halves8(load4(base + 4 * i), load4(base + 4 * i + 16), 0));
#endif
	for (; i < count; i++) {
		h[2 * i] = base[4 * i + 2];
		h[2 * i + 1] = base[4 * i + 3];
	}
}

/* z = zz(ord(now) - ord(base)) of each element, split into its low and high 16 bits. */
static void deltas32(uint16_t *lo, uint16_t *hi, const unsigned char *now, const unsigned char *base, size_t count)
{
	size_t i = 0;
	uint32_t d, z;

#ifdef __SSE2__
	for (; i + 8 <= count; i += 8) {
		__m128i z0, z1, d0, d1;
		d0 = _mm_sub_epi32(to_ordered4(load4(now + 4 * i)), to_ordered4(load4(base + 4 * i)));
		d1 = _mm_sub_epi32(to_ordered4(load4(now + 4 * i + 16)), to_ordered4(load4(base + 4 * i + 16)));
		z0 = _mm_xor_si128(_mm_slli_epi32(d0, 1), _mm_srai_epi32(d0, 31));
		z1 = _mm_xor_si128(_mm_slli_epi32(d1, 1), _mm_srai_epi32(d1, 31));
		_mm_storeu_si128((__m128i *)(void *)(lo + i), halves8(z0, z1, 1));
		_mm_storeu_si128((__m128i *)(void *)(hi + i), halves8(z0, z1, 0));
	}
#endif
	for (; i < count; i++) {
		d = to_ordered32(word32(now + 4 * i)) - to_ordered32(word32(base + 4 * i));
		z = (d << 1) ^ (0u - (d >> 31));
		lo[i] = (uint16_t)z;
		hi[i] = (uint16_t)(z >> 16);
	}
}

/* The inverse of deltas32: out = base moved by the z that lo and hi hold. */
static void apply32(unsigned char *out, const unsigned char *base, const uint16_t *lo, const uint16_t *hi,
		    size_t count)
{
	size_t i = 0;
	uint32_t z, d, w;

#ifdef __SSE2__
	for (; i + 4 <= count; i += 4) {
		__m128i l = _mm_loadl_epi64((const __m128i *)(const void *)(lo + i));
		__m128i h = _mm_loadl_epi64((const __m128i *)(const void *)(hi + i));
		__m128i zz = _mm_unpacklo_epi16(l, h);
		__m128i dd = _mm_xor_si128(_mm_srli_epi32(zz, 1),
					   _mm_sub_epi32(_mm_setzero_si128(), _mm_and_si128(zz, _mm_set1_epi32(1))));
		__m128i b = to_ordered4(load4(base + 4 * i));
		_mm_storeu_si128((__m128i *)(void *)(out + 4 * i), from_ordered4(_mm_add_epi32(b, dd)));
	}
#endif
	for (; i < count; i++) {
		z = lo[i] | (uint32_t)hi[i] << 16;
		d = (z >> 1) ^ (0u - (z & 1u));
		w = htole32(from_ordered32(to_ordered32(word32(base + 4 * i)) + d));
		memcpy(out + 4 * i, &w, 4);
	}
}

/*
 * Scratch for count elements (classes, the base's high halves, the low and
 * high halves of the differences), and the classes from the base.
 */
static int classify32(unsigned char **cls, uint16_t **lo, uint16_t **hi, size_t counts[FD_MAX_CLASSES],
		      const unsigned char *base, size_t count, const fd_layout *l)
{
	unsigned char *w = mvm_codec_scratch(MVM_SCRATCH_WORDS, 6 * count + FD_SLACK);

	*cls = mvm_codec_scratch(MVM_SCRATCH_CLASSES, count + FD_SLACK);
	if (!*cls || !w)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	*lo = (uint16_t *)(void *)(w + 2 * count);
	*hi = (uint16_t *)(void *)(w + 4 * count);
	high_halves(w, base, count);
	mvm_fdelta_classify(*cls, counts, w, count, MVM_FLOAT_BF16, l);
	return 0;
}

int mvm_fdelta32_encode(unsigned char *dst, size_t cap, size_t *off, const unsigned char *src,
			const unsigned char *base, size_t n, const fd_layout *l)
{
	size_t count = n / 4, counts[FD_MAX_CLASSES];
	unsigned char *cls;
	uint16_t *lo, *hi;
	int error;

	if ((error = classify32(&cls, &lo, &hi, counts, base, count, l)) < 0)
		return error;
	deltas32(lo, hi, src, base, count);
	/* the low planes are mostly random; the high ones mostly small, so always worth a zstd attempt */
	if ((error = mvm_fdelta_put_planes(dst, cap, off, lo, cls, count, counts, l, 1)) < 0)
		return error;
	return mvm_fdelta_put_planes(dst, cap, off, hi, cls, count, counts, l, 0);
}

int mvm_fdelta32_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored, size_t *off,
			const unsigned char *base, ZSTD_DCtx *dctx, const fd_layout *l)
{
	size_t count = n / 4, counts[FD_MAX_CLASSES];
	unsigned char *cls;
	uint16_t *lo, *hi;
	int error;

	if ((error = classify32(&cls, &lo, &hi, counts, base, count, l)) < 0)
		return error;
	if ((error = mvm_fdelta_get_planes(lo, src, stored, off, cls, count, counts, dctx, l)) < 0 ||
	    (error = mvm_fdelta_get_planes(hi, src, stored, off, cls, count, counts, dctx, l)) < 0)
		return error;
	if (*off != stored)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has trailing bytes");
	apply32(dst, base, lo, hi, count);
	return 0;
}
