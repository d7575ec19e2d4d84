/*
 * fdelta.c: codec 4, fine-tune deltas of BF16/F16 chunks.
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
 * the elements into FD_CLASSES classes by how far it lies below the
 * chunk's largest exponent (two binades per class, the last open-ended),
 * and each (byte plane of d, class) stream is coded on its own:
 *
 *   mode 0 raw, 1 one zstd frame (Huffman-coded literals), 2 all zero,
 *   3 sparse: a bitmap of the non-zero bytes (bit i & 7 of byte i / 8,
 *     LSB first) and then those bytes, each part raw or zstd.
 *
 * Mostly-zero streams (the high bytes of d for large weights) go sparse:
 * Huffman cannot spend less than one bit per byte, a bitmap can.
 *
 * Layout after the base id: u8 kind (1 BF16, 2 F16)  u8 classes, then
 * 2 x classes streams (plane 0, the low bytes of d, class 0..classes-1,
 * then plane 1), each  u8 mode  u32 length  data[length]; a sparse
 * stream's data is  u8 mode  u32 length  bitmap  u8 mode  u32 length
 * bytes. Stream lengths before coding follow from the base, so none is
 * stored.
 */
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "mvm/common.h"
#include "util/bytes.h"
#include "bytegroup.h"
#include "codec.h"
#include "fdelta.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define FD_CLASSES 4
#define FD_STREAMS (2 * FD_CLASSES)
#define FD_HEADER 2
#define STREAM_HEADER 5

enum { MODE_RAW, MODE_ZSTD, MODE_ZERO, MODE_SPARSE };

/* Chunks of at most 64 KiB: stream positions fit the 16-bit lanes of place(). */
#define FD_MAX_BYTES (64u << 10)

int mvm_fdelta_fits(unsigned int kind, unsigned int phase, size_t n)
{
	return (kind == MVM_FLOAT_BF16 || kind == MVM_FLOAT_F16) && phase == 0 && n % 2 == 0 && n >= 64 &&
	       n <= FD_MAX_BYTES;
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

static unsigned int class_of(unsigned int emax, unsigned int e)
{
	unsigned int d = (emax - e) >> 1;
	return d < FD_CLASSES - 1 ? d : FD_CLASSES - 1;
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

static size_t hsum16(__m128i v)
{
	uint16_t lane[8];
	size_t sum = 0, j;

	_mm_storeu_si128((__m128i *)(void *)lane, v);
	for (j = 0; j < 8; j++)
		sum += lane[j];
	return sum;
}
#endif

/*
 * Class of each element from the base (its exponent's distance below the
 * largest, two binades per class); counts[k] = elements in class k.
 * SSE2 does 8 elements a step; the scalar loops finish the rest.
 */
static void classify(unsigned char *cls, size_t counts[FD_CLASSES], const unsigned char *base,
		     size_t count, unsigned int kind)
{
	unsigned int shift = kind == MVM_FLOAT_BF16 ? 7 : 10, emax = 0, k;
	size_t i = 0;

	for (k = 0; k < FD_CLASSES; k++)
		counts[k] = 0;
#ifdef __SSE2__
	{
		__m128i sh = _mm_cvtsi32_si128((int)shift), m = _mm_setzero_si128(), top, cnt[FD_CLASSES];
		for (; i + 8 <= count; i += 8)
			m = _mm_max_epi16(m, exponents8(base + 2 * i, sh));
		emax = hmax16(m);
		for (; i < count; i++) {
			unsigned int e = (word(base + 2 * i) & 0x7fffu) >> shift;
			emax = e > emax ? e : emax;
		}
		top = _mm_set1_epi16((short)emax);
		for (k = 0; k < FD_CLASSES; k++)
			cnt[k] = _mm_setzero_si128();
		for (i = 0; i + 8 <= count; i += 8) {
			__m128i d = _mm_srli_epi16(_mm_sub_epi16(top, exponents8(base + 2 * i, sh)), 1);
			d = _mm_min_epi16(d, _mm_set1_epi16(FD_CLASSES - 1));
			_mm_storel_epi64((__m128i *)(void *)(cls + i), _mm_packus_epi16(d, d));
			for (k = 0; k < FD_CLASSES; k++) /* lanes count at most 8192 each */
				cnt[k] = _mm_sub_epi16(cnt[k], _mm_cmpeq_epi16(d, _mm_set1_epi16((short)k)));
		}
		for (k = 0; k < FD_CLASSES; k++)
			counts[k] = hsum16(cnt[k]);
	}
#else
	for (; i < count; i++) {
		unsigned int e = (word(base + 2 * i) & 0x7fffu) >> shift;
		emax = e > emax ? e : emax;
	}
	i = 0;
#endif
	for (; i < count; i++) {
		cls[i] = (unsigned char)class_of(emax, (word(base + 2 * i) & 0x7fffu) >> shift);
		counts[cls[i]]++;
	}
}

/*
 * Where element i's bytes go in the streams, without a branch: the next
 * free position of each class sits in one 16-bit lane of *pos.
 */
static inline size_t place(uint64_t *pos, unsigned int k)
{
	unsigned int sh = 16 * k;
	size_t at = (size_t)(*pos >> sh) & 0xffff;

	*pos += (uint64_t)1 << sh;
	return at;
}

/* Plane 0 streams start at start[k], plane 1 streams `count` bytes later. */
static uint64_t lanes(const size_t start[FD_STREAMS + 1])
{
	uint64_t pos = 0;
	unsigned int k;

	for (k = 0; k < FD_CLASSES; k++)
		pos |= (uint64_t)start[k] << (16 * k);
	return pos;
}

/* Number of zero bytes. */
static size_t zeros_in(const unsigned char *p, size_t n)
{
	size_t i = 0, z = 0;

#ifdef __SSE2__
	__m128i sum = _mm_setzero_si128();
	uint64_t lane[2];

	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		__m128i is0 = _mm_and_si128(_mm_cmpeq_epi8(v, _mm_setzero_si128()), _mm_set1_epi8(1));
		sum = _mm_add_epi64(sum, _mm_sad_epu8(is0, _mm_setzero_si128()));
	}
	_mm_storeu_si128((__m128i *)(void *)lane, sum);
	z = (size_t)(lane[0] + lane[1]);
#endif
	for (; i < n; i++)
		z += !p[i];
	return z;
}

/* Bitmap of the non-zero bytes of p (bit i & 7 of byte i / 8); bm must hold (n + 7) / 8 bytes. */
static void nonzero_bitmap(unsigned char *bm, const unsigned char *p, size_t n)
{
	size_t i = 0;

	memset(bm, 0, (n + 7) / 8);
#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		unsigned int nz = ~(unsigned int)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
		bm[i / 8] = (unsigned char)nz;
		bm[i / 8 + 1] = (unsigned char)(nz >> 8);
	}
#endif
	for (; i < n; i++)
		bm[i >> 3] |= (unsigned char)((p[i] != 0) << (i & 7));
}

/* Where each stream starts in the gathered bytes: plane-major, then class. */
static void stream_starts(size_t start[FD_STREAMS + 1], const size_t counts[FD_CLASSES])
{
	size_t s;

	start[0] = 0;
	for (s = 0; s < FD_STREAMS; s++)
		start[s + 1] = start[s] + counts[s % FD_CLASSES];
}

/* Append u8 mode u32 len and `len` bytes at dst + *off. */
static int put_part(unsigned char *dst, size_t cap, size_t *off, unsigned int mode, const void *p, size_t len)
{
	if (cap - *off < STREAM_HEADER || cap - *off - STREAM_HEADER < len)
		return MVM_ETOOLARGE;
	dst[*off] = (unsigned char)mode;
	mvm_put_le32(dst + *off + 1, (uint32_t)len);
	if (len)
		memcpy(dst + *off + STREAM_HEADER, p, len);
	*off += STREAM_HEADER + len;
	return 0;
}

/* One part, Huffman-coded when that is smaller, else raw. */
static int put_coded(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len)
{
	size_t z;

	if (cap - *off < STREAM_HEADER)
		return MVM_ETOOLARGE;
	z = mvm_plane_compress(dst + *off + STREAM_HEADER, cap - *off - STREAM_HEADER, p, len);
	if (!z)
		return put_part(dst, cap, off, MODE_RAW, p, len);
	dst[*off] = MODE_ZSTD;
	mvm_put_le32(dst + *off + 1, (uint32_t)z);
	*off += STREAM_HEADER + z;
	return 0;
}

/* A mostly-zero stream: bitmap, then the non-zero bytes, built in tmp. */
static int put_sparse(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
		      unsigned char *tmp)
{
	size_t bm = (len + 7) / 8, nz = 0, i, at = *off;
	int error;

	nonzero_bitmap(tmp, p, len);
	for (i = 0; i < len; i++) { /* write always, keep only the non-zero ones */
		tmp[bm + nz] = p[i];
		nz += p[i] != 0;
	}
	if (cap - *off < STREAM_HEADER)
		return MVM_ETOOLARGE;
	*off += STREAM_HEADER;
	if ((error = put_coded(dst, cap, off, tmp, bm)) < 0 || (error = put_coded(dst, cap, off, tmp + bm, nz)) < 0)
		return error;
	dst[at] = MODE_SPARSE;
	mvm_put_le32(dst + at + 1, (uint32_t)(*off - at - STREAM_HEADER));
	return 0;
}

static int put_stream(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
		      unsigned char *tmp)
{
	size_t zeros = zeros_in(p, len);

	if (zeros == len)
		return put_part(dst, cap, off, MODE_ZERO, NULL, 0);
	if (zeros * 5 >= len * 3) /* at least 60% zeros */
		return put_sparse(dst, cap, off, p, len, tmp);
	return put_coded(dst, cap, off, p, len);
}

int mvm_fdelta_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
		      const unsigned char *base, size_t n, unsigned int kind)
{
	size_t count = n / 2, counts[FD_CLASSES], start[FD_STREAMS + 1], i, off = FD_HEADER;
	unsigned char *streams = mvm_codec_scratch(MVM_SCRATCH_STREAMS, 2 * n); /* streams, then sparse scratch */
	unsigned char *cls = mvm_codec_scratch(MVM_SCRATCH_CLASSES, count);
	uint16_t *d = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, n);
	uint64_t pos;
	unsigned int s;
	int error;

	if (!streams || !cls || !d)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	if (!mvm_fdelta_fits(kind, 0, n) || cap < FD_HEADER)
		return MVM_ETOOLARGE;
	classify(cls, counts, base, count, kind);
	stream_starts(start, counts);
	pos = lanes(start);
	deltas(d, src, base, count);
	for (i = 0; i < count; i++) {
		size_t at = place(&pos, cls[i]);
		streams[at] = (unsigned char)d[i];
		streams[count + at] = (unsigned char)(d[i] >> 8);
	}
	dst[0] = (unsigned char)kind;
	dst[1] = FD_CLASSES;
	for (s = 0; s < FD_STREAMS; s++)
		if ((error = put_stream(dst, cap, &off, streams + start[s], start[s + 1] - start[s], streams + n)) < 0)
			return error;
	*out_len = off;
	return 0;
}

/* Read one part header at src + *off; its data follows. */
static int get_part(unsigned int *mode, size_t *len, const unsigned char *src, size_t stored, size_t *off)
{
	if (stored - *off < STREAM_HEADER)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk stream header is cut short");
	*mode = src[*off];
	*len = mvm_le32(src + *off + 1);
	*off += STREAM_HEADER;
	if (*len > stored - *off)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk stream runs past the chunk");
	return 0;
}

/* Decode one raw/zstd part of exactly want bytes into out. */
static int get_coded(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
		     ZSTD_DCtx *dctx)
{
	unsigned int mode;
	size_t len, got;
	int error;

	if ((error = get_part(&mode, &len, src, stored, off)) < 0)
		return error;
	if (mode == MODE_RAW && len == want) {
		memcpy(out, src + *off, len);
	} else if (mode == MODE_ZSTD) {
		got = ZSTD_decompressDCtx(dctx, out, want, src + *off, len);
		if (ZSTD_isError(got) || got != want)
			return mvm_error_set(MVM_ECORRUPT, "delta chunk stream does not decode to %zu bytes", want);
	} else {
		return mvm_error_set(MVM_ECORRUPT, "delta chunk stream has a bad mode or length");
	}
	*off += len;
	return 0;
}

static size_t popcount_bytes(const unsigned char *p, size_t n)
{
	static const unsigned char bits4[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += bits4[p[i] & 15] + bits4[p[i] >> 4];
	return c;
}

/* Expand a sparse stream of `want` bytes into out; tmp holds want / 8 + want bytes. */
static int get_sparse(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
		      unsigned char *tmp, ZSTD_DCtx *dctx)
{
	size_t bm = (want + 7) / 8, nz, i, k = 0;
	unsigned int mode;
	size_t len, end;
	int error;

	if ((error = get_part(&mode, &len, src, stored, off)) < 0)
		return error;
	end = *off + len;
	if ((error = get_coded(tmp, bm, src, end, off, dctx)) < 0)
		return error;
	if ((want & 7) && (tmp[bm - 1] >> (want & 7)))
		return mvm_error_set(MVM_ECORRUPT, "delta chunk bitmap marks bytes past its stream");
	nz = popcount_bytes(tmp, bm);
	if ((error = get_coded(tmp + bm, nz, src, end, off, dctx)) < 0)
		return error;
	if (*off != end)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk sparse stream has trailing bytes");
	tmp[bm + nz] = 0; /* read, never kept, by the last zero byte */
	for (i = 0; i < want; i++) {
		unsigned int bit = (tmp[i >> 3] >> (i & 7)) & 1;
		out[i] = (unsigned char)(tmp[bm + k] & (0u - bit));
		k += bit;
	}
	return 0;
}

static int get_stream(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
		      unsigned char *tmp, ZSTD_DCtx *dctx)
{
	unsigned int mode;
	size_t len, at = *off;
	int error;

	if ((error = get_part(&mode, &len, src, stored, off)) < 0)
		return error;
	if (mode == MODE_ZERO) {
		if (len)
			return mvm_error_set(MVM_ECORRUPT, "delta chunk zero stream has data");
		memset(out, 0, want);
		return 0;
	}
	*off = at;
	if (mode == MODE_SPARSE)
		return get_sparse(out, want, src, stored, off, tmp, dctx);
	return get_coded(out, want, src, stored, off, dctx);
}

int mvm_fdelta_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
		      const unsigned char *base, ZSTD_DCtx *dctx)
{
	size_t count = n / 2, counts[FD_CLASSES], start[FD_STREAMS + 1], i, off = FD_HEADER;
	unsigned char *streams = mvm_codec_scratch(MVM_SCRATCH_STREAMS, 2 * n); /* streams, then sparse scratch */
	unsigned char *cls = mvm_codec_scratch(MVM_SCRATCH_CLASSES, count);
	uint16_t *d = (uint16_t *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, n);
	unsigned int s, kind;
	uint64_t pos;
	int error;

	if (!streams || !cls || !d)
		return mvm_error_set(MVM_ERROR, "out of memory for delta streams");
	if (stored < FD_HEADER || !mvm_fdelta_fits(kind = src[0], 0, n) || src[1] != FD_CLASSES)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has a bad stream header");
	classify(cls, counts, base, count, kind);
	stream_starts(start, counts);
	for (s = 0; s < FD_STREAMS; s++)
		if ((error = get_stream(streams + start[s], start[s + 1] - start[s], src, stored, &off,
					streams + n, dctx)) < 0)
			return error;
	if (off != stored)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk has trailing bytes");
	pos = lanes(start);
	for (i = 0; i < count; i++) {
		size_t at = place(&pos, cls[i]);
		d[i] = (uint16_t)(streams[at] | streams[count + at] << 8);
	}
	apply_deltas(dst, base, d, count);
	return 0;
}
