/*
 * expcode.c: codecs 6 and 7 (see expcode.h).
 *
 * Elements are rotated left one bit, as in codec 5, so an element's top
 * byte is its 8-bit exponent and the byte below starts with the top
 * mantissa bit. The exponent and that bit form one 9-bit symbol, coded by
 * rANS with one table per chunk: inside a binade, bell-shaped weights
 * are denser near the binade's start, so the top mantissa bit leans to 0
 * by a measurable amount (~0.06 bit per Gaussian weight), which a raw bit
 * cannot use, and rANS codes the exponents at their entropy where a
 * Huffman code spends whole bits. The other 7 bits of that byte are
 * bit-packed; F32's two lower mantissa bytes are stored as they are.
 *
 *   u8 elem  u32 rans_len  rans block  packed plane  raw planes (F32: bytes 0, 1)
 *
 * The packed plane holds element k's 7 bits at bits [7k, 7k + 7) of an
 * LSB-first bit string: 8 elements in each 7 bytes.
 */
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "mvm/common.h"
#include "util/bytes.h"
#include "util/cpu.h"
#include "bytegroup.h"
#include "codec.h"
#include "expcode.h"
#include "rans.h"

#define EXP_HEADER 5
#define EXP_SYMBOLS 512

static size_t packed_len(size_t count)
{
	return (7 * count + 7) / 8;
}

static uint64_t load56(const unsigned char *p)
{
	return (uint64_t)mvm_le32(p) | (uint64_t)mvm_le16(p + 4) << 32 | (uint64_t)p[6] << 48;
}

static void store56(unsigned char *p, uint64_t v)
{
	mvm_put_le32(p, (uint32_t)v);
	mvm_put_le16(p + 4, (uint16_t)(v >> 32));
	p[6] = (unsigned char)(v >> 48);
}

/* The low 7 bits of src[k], k < count, into the bit string at dst. */
static void pack7_scalar(unsigned char *dst, const unsigned char *src, size_t count)
{
	size_t k = 0, bits = 0;
	uint32_t acc = 0;

	for (; k + 8 <= count; k += 8, dst += 7) {
		uint64_t v = mvm_le64(src + k) & 0x7f7f7f7f7f7f7f7fULL;

		v = (v & 0x007f007f007f007fULL) | (v & 0x7f007f007f007f00ULL) >> 1;
		v = (v & 0x00003fff00003fffULL) | (v & 0x3fff00003fff0000ULL) >> 2;
		v = (v & 0x000000000fffffffULL) | (v & 0x0fffffff00000000ULL) >> 4;
		store56(dst, v);
	}
	for (; k < count; k++) {
		acc |= (uint32_t)(src[k] & 0x7f) << bits;
		for (bits += 7; bits >= 8; bits -= 8, acc >>= 8)
			*dst++ = (unsigned char)acc;
	}
	if (bits)
		*dst = (unsigned char)acc;
}

/* Inverse of pack7: dst[k] gets element k's 7 bits, its top bit clear. */
static void unpack7_scalar(unsigned char *dst, const unsigned char *src, size_t count)
{
	size_t k = 0, bits = 0;
	uint32_t acc = 0;

	for (; k + 8 <= count; k += 8, src += 7) {
		uint64_t v = load56(src);

		v = (v & 0x000000000fffffffULL) | (v << 4 & 0x0fffffff00000000ULL);
		v = (v & 0x00003fff00003fffULL) | (v << 2 & 0x3fff00003fff0000ULL);
		v = (v & 0x007f007f007f007fULL) | (v << 1 & 0x7f007f007f007f00ULL);
		mvm_put_le64(dst + k, v);
	}
	for (; k < count; k++) {
		if (bits < 7) {
			acc |= (uint32_t)*src++ << bits;
			bits += 8;
		}
		dst[k] = (unsigned char)(acc & 0x7f);
		acc >>= 7;
		bits -= 7;
	}
}

#ifdef __x86_64__
/*
 * pack7 and unpack7 on 32 elements a step, the scalar steps in four
 * 64-bit lanes (28 bytes a step). A step stores 30 bytes (and the
 * unpacking loads 30), so the last 8 elements or more are left to the
 * scalar code, which stays within the plane.
 */
#define PACK_STEP 32
#define PACK_SLACK 8

__attribute__((target("avx2"))) static size_t pack7_avx2(unsigned char *dst, const unsigned char *src, size_t count)
{
	const __m256i m7 = _mm256_set1_epi16(0x7f), m14 = _mm256_set1_epi32(0x3fff);
	const __m256i m28 = _mm256_set1_epi64x(0xfffffff), low7 = _mm256_set1_epi8(0x7f);
	const __m256i drop = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, -1, -1, 0, 1, 2, 3, 4, 5,
					      6, 8, 9, 10, 11, 12, 13, 14, -1, -1);
	size_t k = 0;

	for (; k + PACK_STEP + PACK_SLACK <= count; k += PACK_STEP, dst += 7 * PACK_STEP / 8) {
		__m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(src + k)), low7);

		v = _mm256_or_si256(_mm256_and_si256(v, m7), _mm256_andnot_si256(m7, _mm256_srli_epi16(v, 1)));
		v = _mm256_or_si256(_mm256_and_si256(v, m14), _mm256_andnot_si256(m14, _mm256_srli_epi32(v, 2)));
		v = _mm256_or_si256(_mm256_and_si256(v, m28), _mm256_andnot_si256(m28, _mm256_srli_epi64(v, 4)));
		v = _mm256_shuffle_epi8(v, drop);
		_mm_storeu_si128((__m128i *)(void *)dst, _mm256_castsi256_si128(v));
		_mm_storeu_si128((__m128i *)(void *)(dst + 14), _mm256_extracti128_si256(v, 1));
	}
	return k;
}

__attribute__((target("avx2"))) static size_t unpack7_avx2(unsigned char *dst, const unsigned char *src,
							    size_t count)
{
	const __m256i m7 = _mm256_set1_epi16(0x7f), m14 = _mm256_set1_epi32(0x3fff);
	const __m256i m28 = _mm256_set1_epi64x(0xfffffff);
	const __m256i spread = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, -1, 7, 8, 9, 10, 11, 12, 13, -1, 0, 1, 2, 3, 4,
						5, 6, -1, 7, 8, 9, 10, 11, 12, 13, -1);
	size_t k = 0;

	for (; k + PACK_STEP + PACK_SLACK <= count; k += PACK_STEP, src += 7 * PACK_STEP / 8) {
		__m256i v = _mm256_loadu2_m128i((const __m128i *)(const void *)(src + 14),
						(const __m128i *)(const void *)src);

		v = _mm256_shuffle_epi8(v, spread);
		v = _mm256_or_si256(_mm256_and_si256(v, m28), _mm256_andnot_si256(m28, _mm256_slli_epi64(v, 4)));
		v = _mm256_or_si256(_mm256_and_si256(v, m14), _mm256_andnot_si256(m14, _mm256_slli_epi32(v, 2)));
		v = _mm256_or_si256(_mm256_and_si256(v, m7), _mm256_andnot_si256(m7, _mm256_slli_epi16(v, 1)));
		_mm256_storeu_si256((__m256i *)(void *)(dst + k), _mm256_and_si256(v, _mm256_set1_epi8(0x7f)));
	}
	return k;
}
#endif

static void pack7(unsigned char *dst, const unsigned char *src, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	if (mvm_cpu_avx2())
		k = pack7_avx2(dst, src, count);
#endif
	pack7_scalar(dst + 7 * k / 8, src + k, count - k);
}

static void unpack7(unsigned char *dst, const unsigned char *src, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	if (mvm_cpu_avx2())
		k = unpack7_avx2(dst, src, count);
#endif
	unpack7_scalar(dst + k, src + 7 * k / 8, count - k);
}

/* The 9-bit symbols: exponent byte, then the top bit of the byte below. */
static void join_symbols(uint16_t *sym, const unsigned char *hi, const unsigned char *next, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	const __m128i zero = _mm_setzero_si128();

	for (; k + 16 <= count; k += 16) {
		__m128i h = _mm_loadu_si128((const __m128i *)(const void *)(hi + k));
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(next + k));
		__m128i lo = _mm_or_si128(_mm_slli_epi16(_mm_unpacklo_epi8(h, zero), 1),
					  _mm_srli_epi16(_mm_unpacklo_epi8(x, zero), 7));
		__m128i up = _mm_or_si128(_mm_slli_epi16(_mm_unpackhi_epi8(h, zero), 1),
					  _mm_srli_epi16(_mm_unpackhi_epi8(x, zero), 7));
		_mm_storeu_si128((__m128i *)(void *)(sym + k), lo);
		_mm_storeu_si128((__m128i *)(void *)(sym + k + 8), up);
	}
#endif
	for (; k < count; k++)
		sym[k] = (uint16_t)(hi[k] << 1 | next[k] >> 7);
}

/*
 * BF16 in one pass, instead of byte planes then symbols: each element
 * rotated left one bit, its top 9 bits the symbol, its low byte into lo
 * (whose low 7 bits are packed, and which must look random).
 */
static void bf16_symbols(uint16_t *sym, unsigned char *lo, const unsigned char *src, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	const __m128i low_byte = _mm_set1_epi16(0xff);

	for (; k + 16 <= count; k += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * k));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * k + 16));

		a = _mm_or_si128(_mm_slli_epi16(a, 1), _mm_srli_epi16(a, 15));
		b = _mm_or_si128(_mm_slli_epi16(b, 1), _mm_srli_epi16(b, 15));
		_mm_storeu_si128((__m128i *)(void *)(sym + k), _mm_srli_epi16(a, 7));
		_mm_storeu_si128((__m128i *)(void *)(sym + k + 8), _mm_srli_epi16(b, 7));
		_mm_storeu_si128((__m128i *)(void *)(lo + k),
				 _mm_packus_epi16(_mm_and_si128(a, low_byte), _mm_and_si128(b, low_byte)));
	}
#endif
	for (; k < count; k++) {
		uint16_t v = mvm_le16(src + 2 * k), rot = (uint16_t)(v << 1 | v >> 15);

		sym[k] = (uint16_t)(rot >> 7);
		lo[k] = (unsigned char)rot;
	}
}

/* Inverse of bf16_symbols, from the symbols and the unpacked 7 bits. */
static void bf16_elements(unsigned char *dst, const uint16_t *sym, const unsigned char *low7, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	const __m128i zero = _mm_setzero_si128();

	for (; k + 16 <= count; k += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(low7 + k));
		__m128i a = _mm_or_si128(_mm_slli_epi16(_mm_loadu_si128((const __m128i *)(const void *)(sym + k)), 7),
					 _mm_unpacklo_epi8(x, zero));
		__m128i b = _mm_or_si128(_mm_slli_epi16(_mm_loadu_si128((const __m128i *)(const void *)(sym + k + 8)), 7),
					 _mm_unpackhi_epi8(x, zero));

		_mm_storeu_si128((__m128i *)(void *)(dst + 2 * k), _mm_or_si128(_mm_srli_epi16(a, 1), _mm_slli_epi16(a, 15)));
		_mm_storeu_si128((__m128i *)(void *)(dst + 2 * k + 16),
				 _mm_or_si128(_mm_srli_epi16(b, 1), _mm_slli_epi16(b, 15)));
	}
#endif
	for (; k < count; k++) {
		uint16_t rot = (uint16_t)(sym[k] << 7 | low7[k]);

		mvm_put_le16(dst + 2 * k, (uint16_t)(rot >> 1 | rot << 15));
	}
}

/* Inverse of join_symbols, onto next's unpacked 7 bits. */
static void split_symbols(unsigned char *hi, unsigned char *next, const uint16_t *sym, size_t count)
{
	size_t k = 0;

#ifdef __x86_64__
	const __m128i one = _mm_set1_epi16(1);

	for (; k + 16 <= count; k += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(sym + k));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(sym + k + 8));
		__m128i top = _mm_packus_epi16(_mm_slli_epi16(_mm_and_si128(a, one), 7),
					       _mm_slli_epi16(_mm_and_si128(b, one), 7));
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(next + k));

		_mm_storeu_si128((__m128i *)(void *)(hi + k), _mm_packus_epi16(_mm_srli_epi16(a, 1), _mm_srli_epi16(b, 1)));
		_mm_storeu_si128((__m128i *)(void *)(next + k), _mm_or_si128(x, top));
	}
#endif
	for (; k < count; k++) {
		hi[k] = (unsigned char)(sym[k] >> 1);
		next[k] = (unsigned char)(next[k] | sym[k] << 7);
	}
}

int mvm_expcode_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src, size_t n,
		       unsigned int elem, unsigned int codec)
{
	size_t count, rans, packed, raw;
	unsigned char *planes, *plane[4], *hi, *next;
	uint16_t *sym;
	unsigned int j;

	*out_len = 0;
	if ((elem != 2 && elem != 4) || n % elem || n < elem || cap < EXP_HEADER)
		return 0;
	count = n / elem;
	packed = packed_len(count);
	raw = (elem - 2) * count;
	planes = mvm_codec_scratch(MVM_SCRATCH_PLANES, n);
	sym = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_CLASSES, 2 * count);
	if (!planes || !sym)
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	if (elem == 2) {
		next = planes;
		bf16_symbols(sym, next, src, count);
		if (!mvm_plane_looks_random(next, count))
			return 0;
	} else {
		for (j = 0; j < elem; j++)
			plane[j] = planes + j * count;
		mvm_bytegroup_split(plane, src, n, elem, 0, 1);
		hi = plane[elem - 1];
		next = plane[elem - 2];
		for (j = 0; j + 1 < elem; j++)
			if (!mvm_plane_looks_random(plane[j], count))
				return 0;
		join_symbols(sym, hi, next, count);
	}
	rans = codec == MVM_CODEC_EXPCODE ? mvm_rans4_encode(dst + EXP_HEADER, cap - EXP_HEADER, sym, count, EXP_SYMBOLS)
					  : mvm_rans_encode(dst + EXP_HEADER, cap - EXP_HEADER, sym, count, EXP_SYMBOLS);
	if (!rans ||
	    cap - EXP_HEADER - rans < packed + raw)
		return 0;
	dst[0] = (unsigned char)elem;
	mvm_put_le32(dst + 1, (uint32_t)rans);
	pack7(dst + EXP_HEADER + rans, next, count);
	if (raw)
		memcpy(dst + EXP_HEADER + rans + packed, planes, raw); /* F32: planes 0 and 1, in order */
	*out_len = EXP_HEADER + rans + packed + raw;
	return 0;
}

/* A stored chunk's layout, checked against its length. */
typedef struct {
	unsigned int elem;
	size_t count, rans; /* elements; bytes of the rANS block */
} exp_layout;

static int exp_layout_get(exp_layout *l, size_t n, const unsigned char *src, size_t stored)
{
	if (stored < EXP_HEADER || ((l->elem = src[0]) != 2 && l->elem != 4) || n % l->elem)
		return mvm_error_set(MVM_ECORRUPT, "exponent-coded chunk has a bad header");
	l->count = n / l->elem;
	l->rans = mvm_le32(src + 1);
	if (l->rans > stored - EXP_HEADER ||
	    stored - EXP_HEADER - l->rans != packed_len(l->count) + (l->elem - 2) * l->count)
		return mvm_error_set(MVM_ECORRUPT, "exponent-coded chunk has the wrong length for %zu bytes", n);
	return 0;
}

/* The elements, from their decoded symbols and the packed and raw planes. */
static int exp_elements(unsigned char *dst, size_t n, const unsigned char *src, const exp_layout *l,
			const uint16_t *sym)
{
	unsigned char *planes = mvm_codec_scratch(MVM_SCRATCH_PLANES, n), *hi, *next;
	const unsigned char *plane[4];
	unsigned int j;

	if (!planes)
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	hi = planes;
	next = planes + l->count;
	unpack7(next, src + EXP_HEADER + l->rans, l->count);
	if (l->elem == 2) {
		bf16_elements(dst, sym, next, l->count);
		return 0;
	}
	split_symbols(hi, next, sym, l->count);
	for (j = 0; j + 2 < l->elem; j++)
		plane[j] = src + EXP_HEADER + l->rans + packed_len(l->count) + j * l->count;
	plane[l->elem - 2] = next;
	plane[l->elem - 1] = hi;
	mvm_bytegroup_join(dst, plane, n, l->elem, 0, 1);
	return 0;
}

int mvm_expcode_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored, unsigned int codec)
{
	exp_layout l;
	uint16_t *sym;
	int error;

	if ((error = exp_layout_get(&l, n, src, stored)) < 0)
		return error;
	if (!(sym = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_CLASSES, 2 * l.count)))
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	error = codec == MVM_CODEC_EXPCODE ? mvm_rans4_decode(sym, l.count, src + EXP_HEADER, l.rans, EXP_SYMBOLS)
					   : mvm_rans_decode(sym, l.count, src + EXP_HEADER, l.rans, EXP_SYMBOLS);
	return error < 0 ? error : exp_elements(dst, n, src, &l, sym);
}

int mvm_expcode_decode_many(const mvm_codec_job *jobs, size_t count)
{
	exp_layout l[MVM_CODEC_GROUP];
	mvm_rans_block b[MVM_CODEC_GROUP];
	size_t k, symbols = 0;
	uint16_t *sym;
	int error;

	if (count > MVM_CODEC_GROUP)
		return mvm_error_set(MVM_ERROR, "%zu chunks to decode together, more than %d", count, MVM_CODEC_GROUP);
	for (k = 0; k < count; k++) {
		if ((error = exp_layout_get(&l[k], jobs[k].raw_len, jobs[k].src, jobs[k].stored_len)) < 0)
			return error;
		symbols += l[k].count;
	}
	if (!(sym = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_CLASSES, 2 * symbols)))
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	for (k = 0; k < count; k++) {
		b[k].sym = sym;
		b[k].n = l[k].count;
		b[k].src = (const unsigned char *)jobs[k].src + EXP_HEADER;
		b[k].len = l[k].rans;
		sym += l[k].count;
	}
	error = mvm_rans_decode_many(b, count, EXP_SYMBOLS);
	for (k = 0; k < count && !error; k++)
		error = exp_elements(jobs[k].dst, jobs[k].raw_len, jobs[k].src, &l[k], b[k].sym);
	return error;
}
