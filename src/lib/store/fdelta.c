/*
 * fdelta.c: codec 4, fine-tune deltas of BF16/F16 chunks (F32: fdelta32.c).
 *
 * Each element is stored as the difference between its new and its base
 * value, taken on the floats' bit patterns mapped to integers in value
 * order (so a change of a few units in the last place is a small number,
 * even across a power of two, where an XOR would flip many bits), folded
 * to unsigned (zigzag): d = zz(ord(new) - ord(base)) mod 2^16.
 *
 * How large d is depends on the weight's magnitude: a step of a given
 * size is a few units in the last place of a large weight and many of a
 * small one. One Huffman table per byte plane (codec 3) averages those
 * populations; here the base's exponent, which the decoder also has, sorts
 * the elements into classes by how far it lies below the chunk's largest
 * exponent, and each class's streams are coded on their own.
 *
 * Version 2 (what we write): 8 classes of one binade, the last
 * open-ended. Per class, a token byte per element, d + 1 when d < 255 and
 * 0 (an escape) otherwise, then the low and the high bytes of d - 255 for
 * the escapes: small differences cost one Huffman code, not two (one per
 * byte plane, the high one nearly always zero). Each stream is raw,
 * zstd-coded, all zero or sparse (fdelta_stream.c); the tokens of small
 * weights, which escape, go sparse.
 *
 * Version 1 (still read): 4 classes of two binades, one stream per (byte
 * plane of d, class), u8 mode u32 length headers, zstd frames with magic.
 * docs/FORMAT.md has both layouts byte by byte.
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format, ZSTD_d_format (experimental API) */
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "mvm/common.h"
#include "bytegroup.h"
#include "codec.h"
#include "fdelta.h"
#include "fdelta_group.h"
#include "fdelta_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define FD_CLASSES 8            /* classes the writer uses */
#define FD_HEADER 2
/* Scratch bytes for n bytes of deltas, then the grouped ones with their gaps. */
#define FD_WORDS(n) (2 * (n) + 2 * FD_GAP * FD_MAX_CLASSES + FD_SLACK)
#define FD_V1 4                 /* layout byte of version 1: 4 classes */
#define FD_V2 0x80              /* layout byte of version 2: FD_V2 | classes */

/* Chunks of at most 256 KiB, the largest tensor grid (repositories made before 2026-12-03 cut at 64 KiB). */
#define FD_MAX_BYTES (256u << 10)

int mvm_fdelta_fits(unsigned int kind, unsigned int phase, size_t n)
{
	size_t elem = kind == MVM_FLOAT_F32 ? 4 : 2;

	return (kind == MVM_FLOAT_BF16 || kind == MVM_FLOAT_F16 || kind == MVM_FLOAT_F32) && phase == 0 &&
	       n % elem == 0 && n >= 64 && n <= FD_MAX_BYTES;
}

static inline uint16_t word(const unsigned char *p)
{
	uint16_t w;
	memcpy(&w, p, 2);
	return (uint16_t)le16toh(w);
}

/* Float bits to integers in value order (-0 just below +0), and back. */
static inline uint16_t to_ordered(uint16_t w)
{
	return w & 0x8000 ? (uint16_t)~w : (uint16_t)(w | 0x8000);
}

static inline uint16_t from_ordered(uint16_t o)
{
	return o & 0x8000 ? (uint16_t)(o & 0x7fff) : (uint16_t)~o;
}

/* The 16-bit difference of new and base, folded: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ... */
static inline uint16_t delta_of(uint16_t now, uint16_t base)
{
	uint16_t d = (uint16_t)(to_ordered(now) - to_ordered(base));
	return (uint16_t)((uint16_t)(d << 1) ^ (uint16_t)(0u - (d >> 15)));
}

static inline uint16_t apply_delta(uint16_t base, uint16_t z)
{
	uint16_t d = (uint16_t)((z >> 1) ^ (uint16_t)(0u - (z & 1u)));
	return from_ordered((uint16_t)(to_ordered(base) + d));
}

#ifdef __SSE2__
static inline __m128i to_ordered8(__m128i w)
{
	return _mm_xor_si128(w, _mm_or_si128(_mm_srai_epi16(w, 15), _mm_set1_epi16((short)0x8000)));
}

static inline __m128i from_ordered8(__m128i o)
{
	__m128i neg = _mm_cmpeq_epi16(_mm_srai_epi16(o, 15), _mm_setzero_si128()); /* top bit clear */
	return _mm_xor_si128(o, _mm_or_si128(neg, _mm_set1_epi16((short)0x8000)));
}
#endif

/* d[i] = delta_of(element i of now, element i of base). */
static void deltas(uint16_t *d, const unsigned char *now, const unsigned char *base, size_t count)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 8 <= count; i += 8) {
		__m128i a = to_ordered8(_mm_loadu_si128((const __m128i *)(const void *)(now + 2 * i)));
		__m128i b = to_ordered8(_mm_loadu_si128((const __m128i *)(const void *)(base + 2 * i)));
		__m128i x = _mm_sub_epi16(a, b);
		_mm_storeu_si128((__m128i *)(void *)(d + i), _mm_xor_si128(_mm_slli_epi16(x, 1), _mm_srai_epi16(x, 15)));
	}
#endif
	for (; i < count; i++)
		d[i] = delta_of(word(now + 2 * i), word(base + 2 * i));
}

/* Element i of out = apply_delta(element i of base, d[i]); d may alias out. */
static void apply_deltas(unsigned char *out, const unsigned char *base, const uint16_t *d, size_t count)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 8 <= count; i += 8) {
		__m128i z = _mm_loadu_si128((const __m128i *)(const void *)(d + i));
		__m128i x = _mm_xor_si128(_mm_srli_epi16(z, 1), _mm_sub_epi16(_mm_setzero_si128(),
									   _mm_and_si128(z, _mm_set1_epi16(1))));
		__m128i b = to_ordered8(_mm_loadu_si128((const __m128i *)(const void *)(base + 2 * i)));
		_mm_storeu_si128((__m128i *)(void *)(out + 2 * i), from_ordered8(_mm_add_epi16(b, x)));
	}
#endif
	for (; i < count; i++) {
		uint16_t w = apply_delta(word(base + 2 * i), d[i]);
		out[2 * i] = (unsigned char)w;
		out[2 * i + 1] = (unsigned char)(w >> 8);
	}
}

static const fd_layout layout_v1 = { 4, 1, 0 };

static unsigned int exponent_shift(unsigned int kind)
{
	return kind == MVM_FLOAT_BF16 ? 7 : 10;
}

#ifdef __SSE2__
/* Exponents of 8 elements as 16-bit lanes. */
static inline __m128i exponents8(const unsigned char *p, __m128i shift)
{
	__m128i w = _mm_loadu_si128((const __m128i *)(const void *)p);
	return _mm_srl_epi16(_mm_and_si128(w, _mm_set1_epi16(0x7fff)), shift);
}

static unsigned int hmax16(__m128i v)
{
	uint16_t lane[8];
	unsigned int m = 0, j;

	_mm_storeu_si128((__m128i *)(void *)lane, v);
	for (j = 0; j < 8; j++)
		m = lane[j] > m ? lane[j] : m;
	return m;
}
#endif

/* The largest exponent of the chunk's elements. */
static unsigned int max_exponent(const unsigned char *base, size_t count, unsigned int kind)
{
	unsigned int shift = exponent_shift(kind), emax = 0;
	size_t i = 0;

#ifdef __SSE2__
	__m128i sh = _mm_cvtsi32_si128((int)shift), m = _mm_setzero_si128();
	for (; i + 8 <= count; i += 8)
		m = _mm_max_epi16(m, exponents8(base + 2 * i, sh));
	emax = hmax16(m);
#endif
	for (; i < count; i++) {
		unsigned int e = (word(base + 2 * i) & 0x7fffu) >> shift;
		emax = e > emax ? e : emax;
	}
	return emax;
}

#ifdef __SSE2__
/* acc[k] -= (c == k) in each byte lane, k = 0 .. 7, spelled out so the accumulators stay in registers. */
#define COUNT1(acc, c, kv, k) ((acc)[k] = _mm_sub_epi8((acc)[k], _mm_cmpeq_epi8((c), (kv)[k])))
#define COUNT8(acc, c, kv)                                                                               \
	do {                                                                                             \
		COUNT1(acc, c, kv, 0), COUNT1(acc, c, kv, 1), COUNT1(acc, c, kv, 2), COUNT1(acc, c, kv, 3); \
		COUNT1(acc, c, kv, 4), COUNT1(acc, c, kv, 5), COUNT1(acc, c, kv, 6), COUNT1(acc, c, kv, 7); \
	} while (0)
#endif

void mvm_fdelta_classify(unsigned char *cls, size_t counts[FD_MAX_CLASSES], const unsigned char *base,
			 size_t count, unsigned int kind, const fd_layout *l)
{
	unsigned int shift = exponent_shift(kind), emax = max_exponent(base, count, kind), k;
	size_t i = 0;

	for (k = 0; k < FD_MAX_CLASSES; k++)
		counts[k] = 0;
#ifdef __SSE2__
	{
		__m128i sh = _mm_cvtsi32_si128((int)shift), top = _mm_set1_epi16((short)emax);
		__m128i csh = _mm_cvtsi32_si128((int)l->shift), last = _mm_set1_epi16((short)(l->classes - 1));
		__m128i acc[FD_MAX_CLASSES], kv[FD_MAX_CLASSES];
		unsigned int steps = 0;

		for (k = 0; k < FD_MAX_CLASSES; k++) {
			acc[k] = _mm_setzero_si128();
			kv[k] = _mm_set1_epi8((char)k);
		}
		for (; i + 16 <= count; i += 16) {
			__m128i a = _mm_srl_epi16(_mm_sub_epi16(top, exponents8(base + 2 * i, sh)), csh);
			__m128i b = _mm_srl_epi16(_mm_sub_epi16(top, exponents8(base + 2 * i + 16, sh)), csh);
			__m128i c = _mm_packus_epi16(_mm_min_epi16(a, last), _mm_min_epi16(b, last));
			_mm_storeu_si128((__m128i *)(void *)(cls + i), c);
			/* byte lanes count to 255 at most before they are added up */
			COUNT8(acc, c, kv);
			if (++steps == 255 || i + 32 > count) {
				for (k = 0; k < FD_MAX_CLASSES; k++) {
					uint64_t lane[2];
					_mm_storeu_si128((__m128i *)(void *)lane, _mm_sad_epu8(acc[k], _mm_setzero_si128()));
					counts[k] += (size_t)(lane[0] + lane[1]);
					acc[k] = _mm_setzero_si128();
				}
				steps = 0;
			}
		}
	}
#endif
	for (; i < count; i++) {
		unsigned int d = (emax - ((word(base + 2 * i) & 0x7fffu) >> shift)) >> l->shift;
		cls[i] = (unsigned char)(d < l->classes - 1 ? d : l->classes - 1);
		counts[cls[i]]++;
	}
}

/* Plane 0 streams start at start[k], plane 1 streams `count` bytes later. */
static void stream_starts(size_t start[2 * FD_MAX_CLASSES + 1], const size_t counts[FD_MAX_CLASSES],
			  unsigned int classes)
{
	unsigned int s;

	start[0] = 0;
	for (s = 0; s < 2 * classes; s++)
		start[s + 1] = start[s] + counts[s % classes];
}

/*
 * Tokens of g (z + 1 below 255, else 0) and, in order, the low and high
 * bytes of z - 255 of the escapes; returns the number of escapes.
 */
static size_t tokens(unsigned char *tok, unsigned char *lo, unsigned char *hi, const uint16_t *g, size_t count)
{
	size_t j = 0, e = 0;

#ifdef __SSE2__
	const __m128i bias = _mm_set1_epi16((short)0x8000), edge = _mm_set1_epi16((short)(254 ^ 0x8000));
	const __m128i one = _mm_set1_epi16(1);
	for (; j + 16 <= count; j += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(g + j));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(g + j + 8));
		__m128i ea = _mm_cmpgt_epi16(_mm_xor_si128(a, bias), edge); /* z >= 255, unsigned */
		__m128i eb = _mm_cmpgt_epi16(_mm_xor_si128(b, bias), edge);
		__m128i t = _mm_packus_epi16(_mm_andnot_si128(ea, _mm_add_epi16(a, one)),
					     _mm_andnot_si128(eb, _mm_add_epi16(b, one)));
		unsigned int m = (unsigned int)_mm_movemask_epi8(_mm_packs_epi16(ea, eb));
		_mm_storeu_si128((__m128i *)(void *)(tok + j), t);
		for (; m; m &= m - 1) {
			unsigned int x = g[j + (unsigned int)__builtin_ctz(m)] - 255u;
			lo[e] = (unsigned char)x;
			hi[e++] = (unsigned char)(x >> 8);
		}
	}
#endif
	for (; j < count; j++) {
		unsigned int z = g[j], esc = z >= 255, x = z - 255;
		tok[j] = (unsigned char)(esc ? 0 : z + 1);
		lo[e] = (unsigned char)x;
		hi[e] = (unsigned char)(x >> 8);
		e += esc;
	}
	return e;
}

/* The inverse of tokens(): g from the tokens and the escapes' bytes. */
static void untokens(uint16_t *g, const unsigned char *tok, const unsigned char *lo, const unsigned char *hi,
		     size_t count)
{
	size_t j = 0, e = 0;

#ifdef __SSE2__
	const __m128i one = _mm_set1_epi16(1), zero = _mm_setzero_si128();
	for (; j + 16 <= count; j += 16) {
		__m128i t = _mm_loadu_si128((const __m128i *)(const void *)(tok + j));
		unsigned int m = (unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(t, zero));
		_mm_storeu_si128((__m128i *)(void *)(g + j), _mm_sub_epi16(_mm_unpacklo_epi8(t, zero), one));
		_mm_storeu_si128((__m128i *)(void *)(g + j + 8), _mm_sub_epi16(_mm_unpackhi_epi8(t, zero), one));
		for (; m; m &= m - 1, e++)
			g[j + (unsigned int)__builtin_ctz(m)] = (uint16_t)(255u + (lo[e] | (unsigned int)hi[e] << 8));
	}
#endif
	for (; j < count; j++) {
		unsigned int t = tok[j];
		if (t) {
			g[j] = (uint16_t)(t - 1);
		} else {
			g[j] = (uint16_t)(255u + (lo[e] | (unsigned int)hi[e] << 8));
			e++;
		}
	}
}

/* Low bytes of n 16-bit values to lo, high bytes to hi. */
static void split_bytes(unsigned char *lo, unsigned char *hi, const uint16_t *v, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	const __m128i low = _mm_set1_epi16(0xff);
	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(v + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(v + i + 8));
		_mm_storeu_si128((__m128i *)(void *)(lo + i),
				 _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low)));
		_mm_storeu_si128((__m128i *)(void *)(hi + i), _mm_packus_epi16(_mm_srli_epi16(a, 8), _mm_srli_epi16(b, 8)));
	}
#endif
	for (; i < n; i++) {
		lo[i] = (unsigned char)v[i];
		hi[i] = (unsigned char)(v[i] >> 8);
	}
}

/* The inverse of split_bytes. */
static void join_bytes(uint16_t *v, const unsigned char *lo, const unsigned char *hi, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)(lo + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(hi + i));
		_mm_storeu_si128((__m128i *)(void *)(v + i), _mm_unpacklo_epi8(a, b));
		_mm_storeu_si128((__m128i *)(void *)(v + i + 8), _mm_unpackhi_epi8(a, b));
	}
#endif
	for (; i < n; i++)
		v[i] = (uint16_t)(lo[i] | hi[i] << 8);
}

/* Where each class's run starts in the grouped deltas: FD_GAP apart, as mvm_fdelta_group wants. */
static void group_starts(size_t gs[FD_MAX_CLASSES], const size_t counts[FD_MAX_CLASSES])
{
	unsigned int k;

	gs[0] = 0;
	for (k = 0; k + 1 < FD_MAX_CLASSES; k++)
		gs[k + 1] = gs[k] + counts[k] + FD_GAP;
}

int mvm_fdelta_put_planes(unsigned char *dst, size_t cap, size_t *off, const uint16_t *d, const unsigned char *cls,
			  size_t count, const size_t counts[FD_MAX_CLASSES], const fd_layout *l, int raw_if_random)
{
	unsigned char *streams = mvm_codec_scratch(MVM_SCRATCH_STREAMS, 4 * count); /* then sparse scratch */
	uint16_t *g = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_GROUPED,
							     2 * (count + FD_GAP * FD_MAX_CLASSES) + FD_SLACK);
	size_t start[2 * FD_MAX_CLASSES + 1], gs[FD_MAX_CLASSES], len;
	unsigned int s, k;
	int error;

	if (!streams || !g)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	stream_starts(start, counts, l->classes);
	group_starts(gs, counts);
	mvm_fdelta_group(g, d, cls, count, gs, counts);
	for (k = 0; k < l->classes; k++)
		split_bytes(streams + start[k], streams + start[l->classes + k], g + gs[k], counts[k]);
	for (s = 0; s < 2 * l->classes; s++) {
		len = start[s + 1] - start[s];
		if (raw_if_random && len >= FD_MIN_CODED && mvm_plane_looks_random(streams + start[s], len))
			error = mvm_fdelta_put_coded(dst, cap, off, streams + start[s], len, l, 0);
		else
			error = mvm_fdelta_put_stream(dst, cap, off, streams + start[s], len, streams + 2 * count, l);
		if (error < 0)
			return error;
	}
	return 0;
}

/*
 * Layout 2's scratch, count elements: tokens, escapes' low and high bytes
 * (count each at most), then 2 * count + 1 bytes for sparse streams.
 */
static int token_buffers(unsigned char **tok, unsigned char **lo, unsigned char **hi, unsigned char **tmp,
			 size_t count)
{
	unsigned char *s = mvm_codec_scratch(MVM_SCRATCH_STREAMS, 5 * count + 1);

	if (!s)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	*tok = s;
	*lo = s + count;
	*hi = s + 2 * count;
	*tmp = s + 3 * count;
	return 0;
}

/*
 * Version 2: per class, a token byte per element (z + 1 when z < 255,
 * else 0, an escape) and, for the escapes, the low and the high bytes of
 * z - 255.
 */
static int encode_tokens(unsigned char *dst, size_t cap, size_t *off, uint16_t *d, const unsigned char *cls,
			 size_t count, const size_t counts[FD_MAX_CLASSES], const fd_layout *l)
{
	uint16_t *g = d + count;
	unsigned char *tok = NULL, *lo = NULL, *hi = NULL, *tmp = NULL;
	size_t gs[FD_MAX_CLASSES], k, e, at = 0, t = 0;
	int error;

	if ((error = token_buffers(&tok, &lo, &hi, &tmp, count)) < 0)
		return error;
	group_starts(gs, counts);
	mvm_fdelta_group(g, d, cls, count, gs, counts);
	for (k = 0; k < l->classes; k++) {
		e = tokens(tok + t, lo + at, hi + at, g + gs[k], counts[k]);
		error = mvm_fdelta_put_stream(dst, cap, off, tok + t, counts[k], tmp, l);
		if (!error)
			/* escapes' low bytes that look random are stored raw without a zstd attempt */
			error = e >= FD_MIN_CODED && mvm_plane_looks_random(lo + at, e)
					? mvm_fdelta_put_coded(dst, cap, off, lo + at, e, l, 0)
					: mvm_fdelta_put_stream(dst, cap, off, lo + at, e, tmp, l);
		if (error < 0 || (error = mvm_fdelta_put_stream(dst, cap, off, hi + at, e, tmp, l)) < 0)
			return error;
		t += counts[k];
		at += e;
	}
	return 0;
}

static int encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
		  const unsigned char *base, size_t n, unsigned int kind, const fd_layout *l)
{
	size_t count = n / 2, counts[FD_MAX_CLASSES], off = FD_HEADER;
	unsigned char *cls;
	uint16_t *d;
	int error;

	if (!mvm_fdelta_fits(kind, 0, n) || cap < FD_HEADER)
		return MVM_ETOOLARGE;
	if (kind == MVM_FLOAT_F32 && !l->v2)
		return mvm_error_set(MVM_ERROR, "codec 4 version 1 has no F32 layout");
	dst[0] = (unsigned char)kind;
	dst[1] = (unsigned char)(l->v2 ? FD_V2 | l->classes : l->classes);
	if (kind == MVM_FLOAT_F32) {
		error = mvm_fdelta32_encode(dst, cap, &off, src, base, n, l);
	} else {
		cls = mvm_codec_scratch(MVM_SCRATCH_CLASSES, count + FD_SLACK);
		d = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, FD_WORDS(n)); /* then grouped */
		if (!cls || !d)
			return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
		mvm_fdelta_classify(cls, counts, base, count, kind, l);
		deltas(d, src, base, count);
		error = l->v2 ? encode_tokens(dst, cap, &off, d, cls, count, counts, l)
			      : mvm_fdelta_put_planes(dst, cap, &off, d, cls, count, counts, l, 0);
	}
	if (error < 0)
		return error;
	*out_len = off;
	return 0;
}

int mvm_fdelta_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
		      const unsigned char *base, size_t n, unsigned int kind)
{
	fd_layout l = { FD_CLASSES, 0, 1 };

	return encode(dst, cap, out_len, src, base, n, kind, &l);
}

int mvm_fdelta_encode_v1(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
			 const unsigned char *base, size_t n, unsigned int kind)
{
	return encode(dst, cap, out_len, src, base, n, kind, &layout_v1);
}

int mvm_fdelta_get_planes(uint16_t *d, const unsigned char *src, size_t stored, size_t *off, const unsigned char *cls,
			  size_t count, const size_t counts[FD_MAX_CLASSES], ZSTD_DCtx *dctx, const fd_layout *l)
{
	unsigned char *streams = mvm_codec_scratch(MVM_SCRATCH_STREAMS, 4 * count); /* then sparse scratch */
	uint16_t *g = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_GROUPED, 2 * count + FD_SLACK);
	size_t start[2 * FD_MAX_CLASSES + 1];
	unsigned int s, k;
	int error;

	if (!streams || !g)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	stream_starts(start, counts, l->classes);
	for (s = 0; s < 2 * l->classes; s++)
		if ((error = mvm_fdelta_get_stream(streams + start[s], start[s + 1] - start[s], src, stored, off,
						   streams + 2 * count, dctx, l)) < 0)
			return error;
	/* plane 0's streams start where each class's run of g does */
	for (k = 0; k < l->classes; k++)
		join_bytes(g + start[k], streams + start[k], streams + start[l->classes + k], counts[k]);
	mvm_fdelta_ungroup(d, g, cls, count, start, l->classes);
	return 0;
}

static int decode_tokens(uint16_t *d, const unsigned char *src, size_t stored, size_t *off,
			 const unsigned char *cls, size_t count, const size_t counts[FD_MAX_CLASSES],
			 ZSTD_DCtx *dctx, const fd_layout *l)
{
	uint16_t *g = d + count;
	unsigned char *tok = NULL, *lo = NULL, *hi = NULL, *tmp = NULL;
	size_t start[FD_MAX_CLASSES + 1], k, e, at = 0;
	int error;

	if ((error = token_buffers(&tok, &lo, &hi, &tmp, count)) < 0)
		return error;
	start[0] = 0;
	for (k = 0; k < l->classes; k++)
		start[k + 1] = start[k] + counts[k];
	for (k = 0; k < l->classes; k++, at += e) {
		if ((error = mvm_fdelta_get_stream(tok + start[k], counts[k], src, stored, off, tmp, dctx, l)) < 0)
			return error;
		e = mvm_fdelta_zeros(tok + start[k], counts[k]);
		if ((error = mvm_fdelta_get_stream(lo + at, e, src, stored, off, tmp, dctx, l)) < 0 ||
		    (error = mvm_fdelta_get_stream(hi + at, e, src, stored, off, tmp, dctx, l)) < 0)
			return error;
	}
	untokens(g, tok, lo, hi, count);
	mvm_fdelta_ungroup(d, g, cls, count, start, l->classes);
	return 0;
}

static int decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
		  const unsigned char *base, ZSTD_DCtx *dctx, unsigned int kind, const fd_layout *l)
{
	size_t count = n / 2, counts[FD_MAX_CLASSES], off = FD_HEADER;
	unsigned char *cls;
	uint16_t *d;
	int error;

	if (kind == MVM_FLOAT_F32)
		return mvm_fdelta32_decode(dst, n, src, stored, &off, base, dctx, l);
	cls = mvm_codec_scratch(MVM_SCRATCH_CLASSES, count + FD_SLACK);
	d = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, FD_WORDS(n)); /* then grouped */
	if (!cls || !d)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	mvm_fdelta_classify(cls, counts, base, count, kind, l);
	error = l->v2 ? decode_tokens(d, src, stored, &off, cls, count, counts, dctx, l)
		      : mvm_fdelta_get_planes(d, src, stored, &off, cls, count, counts, dctx, l);
	if (error < 0)
		return error;
	if (off != stored)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has trailing bytes");
	apply_deltas(dst, base, d, count);
	return 0;
}

int mvm_fdelta_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
		      const unsigned char *base, ZSTD_DCtx *dctx)
{
	fd_layout l = { 0, 0, 1 };
	unsigned int kind;
	int error;

	if (stored < FD_HEADER || !mvm_fdelta_fits(kind = src[0], 0, n))
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has a bad stream header");
	if (src[1] == FD_V1 && kind != MVM_FLOAT_F32) /* version 1 had no F32 */
		return decode(dst, n, src, stored, base, dctx, kind, &layout_v1);
	l.classes = src[1] & ~FD_V2;
	if (!(src[1] & FD_V2) || l.classes < 1 || l.classes > FD_MAX_CLASSES)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has a bad stream header");
	/* version 2 frames are magicless; the context is shared with the other codecs */
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless)))
		return mvm_error_set(MVM_ERROR, "zstd context refuses magicless frames");
	error = decode(dst, n, src, stored, base, dctx, kind, &l);
	if (ZSTD_isError(ZSTD_DCtx_setParameter(dctx, ZSTD_d_format, ZSTD_f_zstd1)) && error == 0)
		error = mvm_error_set(MVM_ERROR, "zstd context refuses its usual frame format");
	return error;
}
