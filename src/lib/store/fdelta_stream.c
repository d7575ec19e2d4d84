/*
 * fdelta_stream.c: how codec 4 stores one stream of bytes (docs/FORMAT.md,
 * codec 4). Version 2 puts a varint of length << 2 | mode before each
 * part:
 *
 *   mode 0 raw, 1 one magicless zstd frame (Huffman-coded literals),
 *   2 all zero, 3 sparse: a bitmap of the non-zero bytes (bit i & 7 of
 *   byte i / 8, LSB first) and then those bytes, each part raw or zstd.
 *
 * Mostly-zero streams go sparse: Huffman cannot spend less than one bit
 * per byte, a bitmap can. Version 1 has u8 mode u32 length headers and
 * zstd frames with their magic.
 */
#include <stdint.h>
#include <string.h>

#include "mvm/common.h"
#include "util/bytes.h"
#include "bytegroup.h"
#include "fdelta_internal.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum { MODE_RAW, MODE_ZSTD, MODE_ZERO, MODE_SPARSE };

/* Number of zero bytes. */
size_t mvm_fdelta_zeros(const unsigned char *p, size_t n)
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

/* p coded into dst; 0 when that does not pay (or fails), the caller stores p raw. */
static size_t compress_part(unsigned char *dst, size_t cap, const unsigned char *p, size_t len, const fd_layout *l)
{
	if (!l->v2)
		return mvm_plane_compress(dst, cap, p, len);
	return len < FD_MIN_CODED ? 0 : mvm_plane_compress_bare(dst, cap, p, len);
}

/*
 * Part headers: version 1 u8 mode u32 length; version 2 one LEB128 varint
 * of length << 2 | mode. A part's data is written HEADER_MAX bytes on and
 * moved back once its length, and so its header's, is known.
 */
#define HEADER_MAX 5

static size_t put_header(unsigned char *p, unsigned int mode, size_t len, const fd_layout *l)
{
	uint64_t v = (uint64_t)len << 2 | mode;
	size_t h = 0;

	if (!l->v2) {
		p[0] = (unsigned char)mode;
		mvm_put_le32(p + 1, (uint32_t)len);
		return 5;
	}
	for (; v >= 0x80; v >>= 7)
		p[h++] = (unsigned char)(v | 0x80);
	p[h++] = (unsigned char)v;
	return h;
}

/* Finish the part whose data (len bytes) sits at dst + *off + HEADER_MAX. */
static void seal(unsigned char *dst, size_t *off, unsigned int mode, size_t len, const fd_layout *l)
{
	unsigned char h[HEADER_MAX];
	size_t hl = put_header(h, mode, len, l);

	if (hl < HEADER_MAX && len)
		memmove(dst + *off + hl, dst + *off + HEADER_MAX, len);
	memcpy(dst + *off, h, hl);
	*off += hl + len;
}

/* One part, coded when that is smaller (and `try`), else raw. */
int mvm_fdelta_put_coded(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
			 const fd_layout *l, int try)
{
	size_t z;

	if (cap - *off < HEADER_MAX || cap - *off - HEADER_MAX < len)
		return MVM_ETOOLARGE;
	if (try && (z = compress_part(dst + *off + HEADER_MAX, cap - *off - HEADER_MAX, p, len, l))) {
		seal(dst, off, MODE_ZSTD, z, l);
	} else {
		if (len)
			memcpy(dst + *off + HEADER_MAX, p, len);
		seal(dst, off, MODE_RAW, len, l);
	}
	return 0;
}

/* A mostly-zero stream: bitmap, then the non-zero bytes, built in tmp. */
static int put_sparse(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
		      unsigned char *tmp, const fd_layout *l)
{
	size_t bm = (len + 7) / 8, nz = 0, i, at = *off, inner;
	int error;

	nonzero_bitmap(tmp, p, len);
	for (i = 0; i < len; i++) { /* write always, keep only the non-zero ones */
		tmp[bm + nz] = p[i];
		nz += p[i] != 0;
	}
	if (cap - *off < HEADER_MAX)
		return MVM_ETOOLARGE;
	inner = *off + HEADER_MAX;
	if ((error = mvm_fdelta_put_coded(dst, cap, &inner, tmp, bm, l, 1)) < 0 ||
	    (error = mvm_fdelta_put_coded(dst, cap, &inner, tmp + bm, nz, l, 1)) < 0)
		return error;
	seal(dst, &at, MODE_SPARSE, inner - *off - HEADER_MAX, l);
	*off = at;
	return 0;
}

int mvm_fdelta_put_stream(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
		      unsigned char *tmp, const fd_layout *l)
{
	size_t zeros = mvm_fdelta_zeros(p, len);

	if (zeros == len) {
		if (cap - *off < HEADER_MAX)
			return MVM_ETOOLARGE;
		*off += put_header(dst + *off, MODE_ZERO, 0, l);
		return 0;
	}
	if (2 * zeros >= len) /* at least half zeros */
		return put_sparse(dst, cap, off, p, len, tmp, l);
	return mvm_fdelta_put_coded(dst, cap, off, p, len, l, 1);
}


/* Read one part header at src + *off; its data follows. */
static int get_part(unsigned int *mode, size_t *len, const unsigned char *src, size_t stored, size_t *off,
		    const fd_layout *l)
{
	uint64_t v = 0;
	unsigned int sh;

	if (!l->v2) {
		if (stored - *off < 5)
			return mvm_error_set(MVM_ECORRUPT, "delta chunk stream header is cut short");
		*mode = src[*off];
		*len = mvm_le32(src + *off + 1);
		*off += 5;
	} else {
		for (sh = 0;; sh += 7) {
			if (*off >= stored || sh > 28)
				return mvm_error_set(MVM_ECORRUPT, "delta chunk stream header is cut short");
			v |= (uint64_t)(src[*off] & 0x7f) << sh;
			if (!(src[(*off)++] & 0x80))
				break;
		}
		*mode = (unsigned int)(v & 3);
		*len = (size_t)(v >> 2);
	}
	if (*len > stored - *off)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk stream runs past the chunk");
	return 0;
}

/* Decode one raw/zstd part of exactly want bytes into out. */
static int get_coded(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
		     ZSTD_DCtx *dctx, const fd_layout *l)
{
	unsigned int mode;
	size_t len, got;
	int error;

	if ((error = get_part(&mode, &len, src, stored, off, l)) < 0)
		return error;
	if (mode == MODE_RAW && len == want) {
		if (len)
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

/* Expand a sparse stream (its header read, len bytes at *off) of `want` bytes into out. */
static int get_sparse(unsigned char *out, size_t want, const unsigned char *src, size_t len, size_t *off,
		      unsigned char *tmp, ZSTD_DCtx *dctx, const fd_layout *l)
{
	size_t bm = (want + 7) / 8, nz, i, k = 0, end = *off + len;
	int error;

	if ((error = get_coded(tmp, bm, src, end, off, dctx, l)) < 0)
		return error;
	if ((want & 7) && (tmp[bm - 1] >> (want & 7)))
		return mvm_error_set(MVM_ECORRUPT, "delta chunk bitmap marks bytes past its stream");
	nz = popcount_bytes(tmp, bm);
	if ((error = get_coded(tmp + bm, nz, src, end, off, dctx, l)) < 0)
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

int mvm_fdelta_get_stream(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
			  unsigned char *tmp, ZSTD_DCtx *dctx, const fd_layout *l)
{
	unsigned int mode;
	size_t len, at = *off;
	int error;

	if ((error = get_part(&mode, &len, src, stored, off, l)) < 0)
		return error;
	if (mode == MODE_ZERO) {
		if (len)
			return mvm_error_set(MVM_ECORRUPT, "delta chunk zero stream has data");
		memset(out, 0, want);
		return 0;
	}
	if (mode == MODE_SPARSE)
		return get_sparse(out, want, src, len, off, tmp, dctx, l);
	*off = at;
	return get_coded(out, want, src, stored, off, dctx, l);
}

