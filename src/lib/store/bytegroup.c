/*
 * bytegroup.c: the byte-grouping codec for float tensors.
 *
 * Byte j of every element goes to plane j (element size 2, 4 or 8, counted
 * from the tensor's start through `phase`), so the sign/exponent bytes sit
 * together and entropy-code well while near-random mantissa bytes are
 * stored raw instead of making zstd's job harder. Stored layout:
 *
 *   u8 elem  u8 phase  { u8 plane_codec (0 raw, 1 zstd)  u32 stored_len } * elem
 *   plane data, in plane order
 *
 * Codec 5 is the same layout over whole elements rotated left by one bit
 * first: a BF16 or F32 exponent straddles two bytes (sign + 7 exponent
 * bits, then the last exponent bit + mantissa), and the rotation moves
 * all 8 exponent bits into the top byte and the sign to bit 0, so the one
 * plane that compresses holds the whole exponent and nothing else.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_literalCompressionMode, stable since zstd 1.5.1 */
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_SPLIT 1
#endif

#include "mvm/common.h"
#include "util/bytes.h"
#include "util/cpu.h"
#include "bytegroup.h"
#include "codec.h"

#define MAX_ELEM 8

size_t mvm_bytegroup_header(unsigned int elem)
{
	return 2 + 5 * (size_t)elem;
}

/* Number of bytes of plane j in a chunk of n bytes starting at `phase`. */
static size_t plane_len(size_t n, unsigned int elem, unsigned int phase, unsigned int j)
{
	size_t first = (j + elem - phase) % elem; /* index of the first byte of plane j */
	return first < n ? (n - first + elem - 1) / elem : 0;
}

/*
 * Whole elements: plane j holds byte j of each. The SSE2 paths (baseline
 * on x86-64) de-interleave 16 elements per step; the scalar loops finish
 * the rest and serve other CPUs.
 */
#ifdef __SSE2__
/* Even bytes of a then b into *even, odd bytes into *odd. */
static inline void deinterleave(__m128i a, __m128i b, __m128i *even, __m128i *odd)
{
	const __m128i lo = _mm_set1_epi16(0xff);

	*even = _mm_packus_epi16(_mm_and_si128(a, lo), _mm_and_si128(b, lo));
	*odd = _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8));
}

static inline __m128i load16(const unsigned char *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

static inline void store16(unsigned char *p, __m128i v)
{
	_mm_storeu_si128((__m128i *)(void *)p, v);
}
#endif

/* Element rotations of codec 5: left by `rot` (0 or 1) bits on split, back on join. */
static inline uint16_t rotl16(uint16_t w, unsigned int rot)
{
	return (uint16_t)(w << rot | w >> (16 - rot)); /* w is promoted to int: >> 16 is 0 */
}

static inline uint32_t rotl32(uint32_t w, unsigned int rot)
{
	return rot ? w << 1 | w >> 31 : w;
}

static inline uint32_t rotr32(uint32_t w, unsigned int rot)
{
	return rot ? w >> 1 | w << 31 : w;
}

#ifdef __SSE2__
static inline __m128i rotl16x8(__m128i v, __m128i left, __m128i right)
{
	return _mm_or_si128(_mm_sll_epi16(v, left), _mm_srl_epi16(v, right));
}

static inline __m128i rotl32x4(__m128i v, __m128i left, __m128i right)
{
	return _mm_or_si128(_mm_sll_epi32(v, left), _mm_srl_epi32(v, right));
}
#endif

#ifdef HAVE_AVX2_SPLIT
/*
 * AVX2 splits, picked at run time: 32 elements a step, with the rotation
 * by an immediate. They return how many elements they did; the callers'
 * SSE2 and scalar loops finish the rest.
 */
__attribute__((target("avx2"))) static inline __m256i rotl1x16(__m256i v)
{
	return _mm256_or_si256(_mm256_add_epi16(v, v), _mm256_srli_epi16(v, 15));
}

__attribute__((target("avx2"))) static inline __m256i rotl1x8(__m256i v)
{
	return _mm256_or_si256(_mm256_add_epi32(v, v), _mm256_srli_epi32(v, 31));
}

__attribute__((target("avx2"))) static size_t split2_avx2(unsigned char *p0, unsigned char *p1,
							   const unsigned char *src, size_t count, unsigned int rot)
{
	/* per 128-bit lane: the 8 low bytes, then the 8 high bytes */
	const __m256i pick = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
					      0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
	size_t k = 0;

	for (; k + 32 <= count; k += 32) {
		__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + 2 * k));
		__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + 2 * k + 32));
		__m256i lo, hi;

		if (rot) {
			a = rotl1x16(a);
			b = rotl1x16(b);
		}
		a = _mm256_shuffle_epi8(a, pick);
		b = _mm256_shuffle_epi8(b, pick);
		/* quadwords hold elements 0-7, 16-23, 8-15, 24-31: put them in order */
		lo = _mm256_permute4x64_epi64(_mm256_unpacklo_epi64(a, b), _MM_SHUFFLE(3, 1, 2, 0));
		hi = _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(a, b), _MM_SHUFFLE(3, 1, 2, 0));
		_mm256_storeu_si256((__m256i *)(void *)(p0 + k), lo);
		_mm256_storeu_si256((__m256i *)(void *)(p1 + k), hi);
	}
	return k;
}

__attribute__((target("avx2"))) static size_t split4_avx2(unsigned char *p0, unsigned char *p1, unsigned char *p2,
							   unsigned char *p3, const unsigned char *src, size_t count,
							   unsigned int rot)
{
	/* per lane: byte 0 of its 4 elements, then byte 1, 2, 3 */
	const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
					      0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	/* then quadword j of a vector: byte j of its 8 elements */
	const __m256i gather = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	size_t k = 0;
	int i;

	for (; k + 32 <= count; k += 32) {
		__m256i v[4], t[4];

		for (i = 0; i < 4; i++) {
			v[i] = _mm256_loadu_si256((const __m256i *)(const void *)(src + 4 * k + 32 * i));
			if (rot)
				v[i] = rotl1x8(v[i]);
			v[i] = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v[i], pick), gather);
		}
		/* transpose the 4x4 quadwords: t0 = planes 0|2 of v0,v1; t1 = planes 1|3 ... */
		t[0] = _mm256_unpacklo_epi64(v[0], v[1]);
		t[1] = _mm256_unpackhi_epi64(v[0], v[1]);
		t[2] = _mm256_unpacklo_epi64(v[2], v[3]);
		t[3] = _mm256_unpackhi_epi64(v[2], v[3]);
		_mm256_storeu_si256((__m256i *)(void *)(p0 + k), _mm256_permute2x128_si256(t[0], t[2], 0x20));
		_mm256_storeu_si256((__m256i *)(void *)(p1 + k), _mm256_permute2x128_si256(t[1], t[3], 0x20));
		_mm256_storeu_si256((__m256i *)(void *)(p2 + k), _mm256_permute2x128_si256(t[0], t[2], 0x31));
		_mm256_storeu_si256((__m256i *)(void *)(p3 + k), _mm256_permute2x128_si256(t[1], t[3], 0x31));
	}
	return k;
}

#endif

static void split2(unsigned char *p0, unsigned char *p1, const unsigned char *src, size_t count, unsigned int rot)
{
	size_t k = 0;

#ifdef HAVE_AVX2_SPLIT
	if (mvm_cpu_avx2())
		k = split2_avx2(p0, p1, src, count, rot);
#endif

#ifdef __SSE2__
	__m128i l = _mm_cvtsi32_si128((int)rot), r = _mm_cvtsi32_si128(16 - (int)rot);
	for (; k + 16 <= count; k += 16) {
		__m128i e, o;
		deinterleave(rotl16x8(load16(src + 2 * k), l, r), rotl16x8(load16(src + 2 * k + 16), l, r), &e, &o);
		store16(p0 + k, e);
		store16(p1 + k, o);
	}
#endif
	for (; k < count; k++) {
		uint16_t w = rotl16((uint16_t)(src[2 * k] | src[2 * k + 1] << 8), rot);
		p0[k] = (unsigned char)w;
		p1[k] = (unsigned char)(w >> 8);
	}
}

static void split4(unsigned char *p0, unsigned char *p1, unsigned char *p2, unsigned char *p3,
		   const unsigned char *src, size_t count, unsigned int rot)
{
	size_t k = 0;

#ifdef __SSE2__
	__m128i l = _mm_cvtsi32_si128((int)rot), r = _mm_cvtsi32_si128(32 - (int)rot);
#ifdef HAVE_AVX2_SPLIT
	if (mvm_cpu_avx2())
		k = split4_avx2(p0, p1, p2, p3, src, count, rot);
#endif
	for (; k + 16 <= count; k += 16) {
		const unsigned char *s = src + 4 * k;
		__m128i e1, o1, e2, o2, b0, b1, b2, b3;
		/* bytes 0,2 | 1,3 of words 0-7, then of words 8-15 */
		deinterleave(rotl32x4(load16(s), l, r), rotl32x4(load16(s + 16), l, r), &e1, &o1);
		deinterleave(rotl32x4(load16(s + 32), l, r), rotl32x4(load16(s + 48), l, r), &e2, &o2);
		deinterleave(e1, e2, &b0, &b2);
		deinterleave(o1, o2, &b1, &b3);
		store16(p0 + k, b0);
		store16(p1 + k, b1);
		store16(p2 + k, b2);
		store16(p3 + k, b3);
	}
#endif
	for (; k < count; k++) {
		uint32_t w = rotl32(mvm_le32(src + 4 * k), rot);
		p0[k] = (unsigned char)w;
		p1[k] = (unsigned char)(w >> 8);
		p2[k] = (unsigned char)(w >> 16);
		p3[k] = (unsigned char)(w >> 24);
	}
}

static void join2(unsigned char *dst, const unsigned char *p0, const unsigned char *p1, size_t count,
		  unsigned int rot)
{
	size_t k = 0;

#ifdef __SSE2__
	__m128i l = _mm_cvtsi32_si128(16 - (int)rot), r = _mm_cvtsi32_si128((int)rot); /* rotate right */
	for (; k + 16 <= count; k += 16) {
		__m128i a = load16(p0 + k), b = load16(p1 + k);
		store16(dst + 2 * k, rotl16x8(_mm_unpacklo_epi8(a, b), l, r));
		store16(dst + 2 * k + 16, rotl16x8(_mm_unpackhi_epi8(a, b), l, r));
	}
#endif
	for (; k < count; k++) {
		uint16_t w = rotl16((uint16_t)(p0[k] | p1[k] << 8), (16 - rot) & 15);
		dst[2 * k] = (unsigned char)w;
		dst[2 * k + 1] = (unsigned char)(w >> 8);
	}
}

static void join4(unsigned char *dst, const unsigned char *p0, const unsigned char *p1,
		  const unsigned char *p2, const unsigned char *p3, size_t count, unsigned int rot)
{
	size_t k = 0;

#ifdef __SSE2__
	__m128i l = _mm_cvtsi32_si128(32 - (int)rot), r = _mm_cvtsi32_si128((int)rot); /* rotate right */
	for (; k + 16 <= count; k += 16) {
		__m128i b0 = load16(p0 + k), b1 = load16(p1 + k), b2 = load16(p2 + k), b3 = load16(p3 + k);
		__m128i e1 = _mm_unpacklo_epi8(b0, b2), e2 = _mm_unpackhi_epi8(b0, b2);
		__m128i o1 = _mm_unpacklo_epi8(b1, b3), o2 = _mm_unpackhi_epi8(b1, b3);
		unsigned char *d = dst + 4 * k;
		store16(d, rotl32x4(_mm_unpacklo_epi8(e1, o1), l, r));
		store16(d + 16, rotl32x4(_mm_unpackhi_epi8(e1, o1), l, r));
		store16(d + 32, rotl32x4(_mm_unpacklo_epi8(e2, o2), l, r));
		store16(d + 48, rotl32x4(_mm_unpackhi_epi8(e2, o2), l, r));
	}
#endif
	for (; k < count; k++)
		mvm_put_le32(dst + 4 * k, rotr32((uint32_t)p0[k] | (uint32_t)p1[k] << 8 | (uint32_t)p2[k] << 16 |
						 (uint32_t)p3[k] << 24, rot));
}

/* Any element size, unrotated (F64: 8 planes, rare enough for a plain loop). */
static void split_any(unsigned char *const *plane, const size_t *pos, const unsigned char *src, size_t count,
		      unsigned int elem)
{
	size_t k;
	unsigned int j;

	for (k = 0; k < count; k++)
		for (j = 0; j < elem; j++)
			plane[j][pos[j] + k] = src[elem * k + j];
}

static void join_any(unsigned char *dst, const unsigned char *const *plane, const size_t *pos, size_t count,
		     unsigned int elem)
{
	size_t k;
	unsigned int j;

	for (k = 0; k < count; k++)
		for (j = 0; j < elem; j++)
			dst[elem * k + j] = plane[j][pos[j] + k];
}

/*
 * Move bytes between the chunk and its planes. `phase` leading bytes
 * belong to an element that started in the previous chunk; after them the
 * chunk is whole elements (rotated by `rot` bits, codec 5), then maybe
 * the first bytes of an element the next chunk ends; partial elements are
 * never rotated, nor are elements of 8 bytes (no codec rotates them).
 */
void mvm_bytegroup_split(unsigned char *const *plane, const unsigned char *src, size_t n, unsigned int elem,
			 unsigned int phase, unsigned int rot)
{
	size_t pos[MAX_ELEM] = { 0 }, i, lead = phase ? elem - phase : 0, whole;
	unsigned int j;

	for (i = 0; i < lead && i < n; i++)
		plane[phase + i][pos[phase + i]++] = src[i];
	whole = n > lead ? (n - lead) / elem : 0;
	if (elem == 2)
		split2(plane[0] + pos[0], plane[1] + pos[1], src + lead, whole, rot);
	else if (elem == 4)
		split4(plane[0] + pos[0], plane[1] + pos[1], plane[2] + pos[2], plane[3] + pos[3], src + lead,
		       whole, rot);
	else
		split_any(plane, pos, src + lead, whole, elem);
	for (j = 0; j < elem; j++)
		pos[j] += whole;
	for (i = lead + whole * elem, j = 0; i < n; i++, j++)
		plane[j][pos[j]++] = src[i];
}

/* Inverse of split, reading each plane from its own pointer. */
void mvm_bytegroup_join(unsigned char *dst, const unsigned char *const *plane, size_t n, unsigned int elem,
			unsigned int phase, unsigned int rot)
{
	size_t pos[MAX_ELEM] = { 0 }, i, lead = phase ? elem - phase : 0, whole;
	unsigned int j;

	for (i = 0; i < lead && i < n; i++)
		dst[i] = plane[phase + i][pos[phase + i]++];
	whole = n > lead ? (n - lead) / elem : 0;
	if (elem == 2)
		join2(dst + lead, plane[0] + pos[0], plane[1] + pos[1], whole, rot);
	else if (elem == 4)
		join4(dst + lead, plane[0] + pos[0], plane[1] + pos[1], plane[2] + pos[2], plane[3] + pos[3],
		      whole, rot);
	else
		join_any(dst + lead, plane, pos, whole, elem);
	for (j = 0; j < elem; j++)
		pos[j] += whole;
	for (i = lead + whole * elem, j = 0; i < n; i++, j++)
		dst[i] = plane[j][pos[j]++];
}

/*
 * Whether a plane looks random enough to store raw (mantissa planes sit
 * near 8 bits per byte, exponent planes near 3), judged on about
 * ENTROPY_SAMPLES evenly spaced bytes by their collision entropy
 * H2 = -log2(sum p^2), estimated without bias from the number of equal
 * pairs among the samples: sum c(c-1) / (N(N-1)). H2 never exceeds the
 * order-0 entropy, so a plane called random here really is above
 * RAW_PLANE_BITS (give or take ~0.03 bits of sampling error at 1024
 * samples); one that is not may still be tried with zstd, which then
 * falls back to raw. Codec-4 streams call this ~10 times per chunk, so
 * the sample stays small.
 */
#define ENTROPY_SAMPLES 1024
#define RAW_PLANE_BITS 7.6

int mvm_plane_looks_random(const unsigned char *p, size_t n)
{
	uint32_t h[256];
	size_t i, stride = n > ENTROPY_SAMPLES ? n / ENTROPY_SAMPLES : 1, count = 0;
	uint64_t pairs = 0;
	int b;

	memset(h, 0, sizeof(h));
	for (i = 0; i < n; i += stride, count++)
		h[p[i]]++;
	for (b = 0; b < 256; b++)
		pairs += (uint64_t)h[b] * (h[b] - (h[b] > 0));
	return count > 1 && (double)pairs <= (double)count * (double)(count - 1) / exp2(RAW_PLANE_BITS);
}

/*
 * Planes are coded by zstd at its fastest setting with Huffman-coded
 * literals forced on: on exponent bytes, LZ matches are short and rare, so
 * skipping the search is both faster and smaller (close to, often below,
 * the order-0 bound since zstd re-fits its Huffman table per block).
 */
static pthread_key_t plane_key;
static pthread_once_t plane_once = PTHREAD_ONCE_INIT;

static void free_plane_cctx(void *p)
{
	ZSTD_freeCCtx(p);
}

static void make_plane_key(void)
{
	pthread_key_create(&plane_key, free_plane_cctx);
}

static ZSTD_CCtx *plane_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&plane_once, make_plane_key);
	if ((c = pthread_getspecific(plane_key)))
		return c;
	if (!(c = ZSTD_createCCtx()))
		return NULL;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, ZSTD_minCLevel())) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_enable))) {
		ZSTD_freeCCtx(c);
		return NULL;
	}
	pthread_setspecific(plane_key, c);
	return c;
}

/* One frame of src, bare (no magic number, no content size) or not. */
static size_t plane_frame(unsigned char *dst, size_t cap, const unsigned char *src, size_t n, int bare)
{
	ZSTD_CCtx *cctx = plane_cctx();
	size_t z;

	if (!cctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_format, bare ? ZSTD_f_zstd1_magicless : ZSTD_f_zstd1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, !bare)))
		return 0;
	z = ZSTD_compress2(cctx, dst, cap, src, n);
	return ZSTD_isError(z) || z >= n ? 0 : z;
}

size_t mvm_plane_compress(unsigned char *dst, size_t cap, const unsigned char *src, size_t n)
{
	if (n < 64 || mvm_plane_looks_random(src, n))
		return 0;
	return plane_frame(dst, cap, src, n, 0);
}

size_t mvm_plane_compress_bare(unsigned char *dst, size_t cap, const unsigned char *src, size_t n)
{
	return plane_frame(dst, cap, src, n, 1);
}

/*
 * Where split puts each plane. All but the top one go straight into dst,
 * where they sit when every plane before them is stored raw: those are
 * mantissa bytes, near random and stored raw, so storing them copies
 * nothing more. The top plane (the exponent, which compresses) goes to
 * scratch, since zstd cannot code a buffer onto itself.
 */
static void place_planes(unsigned char **plane, unsigned char *dst, size_t cap, unsigned char *scratch,
			 size_t n, unsigned int elem, unsigned int phase)
{
	size_t at = mvm_bytegroup_header(elem), start = 0, len;
	unsigned int j;

	for (j = 0; j < elem; j++) {
		len = plane_len(n, elem, phase, j);
		plane[j] = j + 1 < elem && len <= cap - at ? dst + at : scratch + start;
		at += len;
		if (at > cap)
			at = cap;
		start += len;
	}
}

/*
 * Plane j turned out to want coding while still in dst: move it and the
 * planes after it that are in dst to their places in scratch, where
 * coding plane j into dst cannot overwrite them.
 */
static void spill_planes(unsigned char **plane, const unsigned char *dst, size_t cap, unsigned char *scratch,
			 size_t n, unsigned int elem, unsigned int phase, unsigned int from)
{
	size_t start = 0, len;
	unsigned int j;

	for (j = 0; j < elem; j++) {
		len = plane_len(n, elem, phase, j);
		if (j >= from && plane[j] >= dst && plane[j] < dst + cap) {
			memcpy(scratch + start, plane[j], len);
			plane[j] = scratch + start;
		}
		start += len;
	}
}

int mvm_bytegroup_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
			 size_t n, unsigned int elem, unsigned int phase, unsigned int rotate)
{
	size_t off = mvm_bytegroup_header(elem);
	unsigned char *scratch = mvm_codec_scratch(MVM_SCRATCH_PLANES, n), *plane[MAX_ELEM];
	ZSTD_CCtx *cctx = plane_cctx();
	unsigned int j;

	if (!scratch || !cctx)
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	if (off >= cap)
		return MVM_ETOOLARGE;
	place_planes(plane, dst, cap, scratch, n, elem, phase);
	mvm_bytegroup_split(plane, src, n, elem, phase, rotate);
	dst[0] = (unsigned char)elem;
	dst[1] = (unsigned char)phase;
	for (j = 0; j < elem; j++) {
		size_t len = plane_len(n, elem, phase, j), z = 0;
		unsigned char *h = dst + 2 + 5 * j;

		if (off >= cap)
			return MVM_ETOOLARGE;
		if (plane[j] == dst + off && (len < 64 || mvm_plane_looks_random(plane[j], len))) {
			h[0] = 0; /* raw, and already in place: what mvm_plane_compress would decide */
			z = len;
		} else {
			spill_planes(plane, dst, cap, scratch, n, elem, phase, j);
			if ((z = mvm_plane_compress(dst + off, cap - off, plane[j], len))) {
				h[0] = 1;
			} else {
				if (len > cap - off)
					return MVM_ETOOLARGE;
				memcpy(dst + off, plane[j], len);
				h[0] = 0;
				z = len;
			}
		}
		mvm_put_le32(h + 1, (uint32_t)z);
		off += z;
	}
	*out_len = off;
	return 0;
}

int mvm_bytegroup_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
			 ZSTD_DCtx *dctx, unsigned int rotate)
{
	const unsigned char *plane[MAX_ELEM];
	unsigned int elem, phase, j;
	unsigned char *scratch;
	size_t off, pl;

	if (stored < 2 || ((elem = src[0]) != 2 && elem != 4 && elem != 8) || (rotate && elem == 8) ||
	    (phase = src[1]) >= elem || stored < mvm_bytegroup_header(elem))
		return mvm_error_set(MVM_ECORRUPT, "byte-grouped chunk has a bad header");
	if (!(scratch = mvm_codec_scratch(MVM_SCRATCH_PLANES, n)))
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	off = mvm_bytegroup_header(elem);
	for (j = 0, pl = 0; j < elem; j++) {
		const unsigned char *h = src + 2 + 5 * j;
		size_t len = plane_len(n, elem, phase, j), z = mvm_le32(h + 1), got;

		if (z > stored - off || h[0] > 1)
			return mvm_error_set(MVM_ECORRUPT, "byte-grouped chunk plane %u is out of bounds", j);
		if (h[0] == 0 && z == len) {
			plane[j] = src + off; /* raw planes are read in place */
		} else {
			got = h[0] ? ZSTD_decompressDCtx(dctx, scratch + pl, len, src + off, z) : 0;
			if (!h[0] || ZSTD_isError(got) || got != len)
				return mvm_error_set(MVM_ECORRUPT, "byte-grouped chunk plane %u does not decode to %zu bytes",
						     j, len);
			plane[j] = scratch + pl;
		}
		off += z;
		pl += len;
	}
	if (off != stored)
		return mvm_error_set(MVM_ECORRUPT, "byte-grouped chunk has trailing bytes");
	mvm_bytegroup_join(dst, plane, n, elem, phase, rotate);
	return 0;
}
