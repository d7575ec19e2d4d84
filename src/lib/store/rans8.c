/*
 * rans8.c: the rANS block of codec 7 (see rans.h): eight states over one
 * word stream.
 *
 * Block: the table (as in rans.c), the eight final encoder states (u32 LE
 * each, state 0 first), then u16 LE words to the end of the block.
 * Symbol i goes through state i % 8; after it is decoded, if its state
 * fell below RANS_L, the state takes the next word of the stream. So the
 * words lie in the order the symbols are decoded, whichever state takes
 * them, and eight symbols decode as one AVX2 step: two table gathers, a
 * multiply, and the step's words spread to the lanes that want them by
 * one permutation picked by the lanes' mask. The encoder runs from the
 * last symbol back and writes the stream from its end down; its AVX2 path
 * gathers each symbol's constants (packed in two 32-bit words) and packs
 * the words the step moves out with one byte shuffle; its AVX-512 path
 * does the same with 64-bit lanes and IFMA multiplies (0.70 against 1.03
 * ns a symbol on the Xeon measured). The scalar paths produce and read the same bytes.
 */
#include <pthread.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "mvm/common.h"
#include "util/cpu.h"
#include "codec.h"
#include "rans_internal.h"

#define LANES RANS8_LANES
#define STATES_LEN RANS8_STATES_LEN
#define PAD RANS8_PAD

/* Per mask of lanes, the byte shuffle moving their words to the top of 16 bytes, lane 0 lowest. */
static unsigned char pack_shuffle[256][16];
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;

static void pack_shuffle_init(void)
{
	unsigned int m, k, rank;

	for (m = 0; m < 256; m++) {
		unsigned int at = LANES - (unsigned int)__builtin_popcount(m);

		memset(pack_shuffle[m], 0x80, 16);
		for (k = 0, rank = 0; k < LANES; k++) {
			if (!(m & 1u << k))
				continue;
			pack_shuffle[m][2 * (at + rank)] = (unsigned char)(2 * k);
			pack_shuffle[m][2 * (at + rank) + 1] = (unsigned char)(2 * k + 1);
			rank++;
		}
	}
}

/* Symbols past the last whole step, last first. */
static void encode_tail(uint32_t *x, unsigned char **p, const rans_enc_symbol *enc, const uint16_t *sym,
			size_t whole, size_t n)
{
	size_t i;

	for (i = n; i > whole; i--)
		x[(i - 1) % LANES] = mvm_rans__put_symbol(x[(i - 1) % LANES], p, &enc[sym[i - 1]]);
}

/* Steps [0, whole / LANES), last first, lane 7 to lane 0. */
static void encode_steps(uint32_t *states, unsigned char **out, const rans_enc_symbol *enc, const uint16_t *sym,
			 size_t whole)
{
	unsigned char *p = *out;
	uint32_t x[LANES];
	size_t i;
	int k;

	memcpy(x, states, sizeof(x));
	for (i = whole; i > 0; i -= LANES) {
#pragma GCC unroll 8
		for (k = LANES - 1; k >= 0; k--)
			x[k] = mvm_rans__put_symbol(x[k], &p, &enc[sym[i - LANES + (size_t)k]]);
	}
	memcpy(states, x, sizeof(x));
	*out = p;
}

#ifdef __x86_64__
/* A symbol's constants in two words: the reciprocal, and freq | shift << 13 | bias << 18. */
static void pack_constants(uint32_t *rcp, uint32_t *fsb, const rans_enc_symbol *enc, unsigned int nsyms)
{
	unsigned int s;

	for (s = 0; s < nsyms; s++) {
		uint32_t freq = RANS_M - enc[s].cmpl_freq;

		rcp[s] = enc[s].rcp_freq;
		fsb[s] = freq | (uint32_t)enc[s].rcp_shift << 13 | enc[s].bias << 18;
	}
}

/* The high 32 bits of each lane's 64-bit product a * b. */
__attribute__((target("avx2"))) static inline __m256i mulhi_epu32(__m256i a, __m256i b)
{
	__m256i even = _mm256_srli_epi64(_mm256_mul_epu32(a, b), 32);
	__m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));

	return _mm256_blend_epi32(even, odd, 0xaa);
}

/* Steps [0, whole / LANES), last first; symbols past whole are already coded into x. */
__attribute__((target("avx2"))) static void encode_avx2(uint32_t *x, unsigned char **out, const rans_enc_symbol *enc,
							 unsigned int nsyms, const uint16_t *sym, size_t whole)
{
	uint32_t rcp[MVM_RANS_MAX_SYMBOLS], fsb[MVM_RANS_MAX_SYMBOLS];
	const __m256i mask13 = _mm256_set1_epi32(0x1fff);
	const __m256i mask5 = _mm256_set1_epi32(0x1f), m_all = _mm256_set1_epi32((int)RANS_M);
	const __m256i words = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 4, 5, 8,
					       9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
	__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)x);
	unsigned char *p = *out;
	size_t i;

	pack_constants(rcp, fsb, enc, nsyms);
	for (i = whole; i > 0; i -= LANES) {
		__m256i s = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(sym + i - LANES)));
		__m256i c = _mm256_i32gather_epi32((const int *)fsb, s, 4);
		__m256i r = _mm256_i32gather_epi32((const int *)rcp, s, 4);
		__m256i freq = _mm256_and_si256(c, mask13);
		__m256i x_max = _mm256_slli_epi32(freq, 19);
		__m256i moves = _mm256_cmpeq_epi32(_mm256_max_epu32(v, x_max), v); /* x >= x_max */
		unsigned int m = (unsigned int)_mm256_movemask_ps(_mm256_castsi256_ps(moves));
		__m256i w = _mm256_shuffle_epi8(v, words);
		__m128i packed = _mm256_castsi256_si128(_mm256_permute4x64_epi64(w, 0x08));
		__m256i q;

		packed = _mm_shuffle_epi8(packed, _mm_loadu_si128((const __m128i *)(const void *)pack_shuffle[m]));
		_mm_storeu_si128((__m128i *)(void *)(p - 16), packed);
		p -= 2 * __builtin_popcount(m);
		v = _mm256_blendv_epi8(v, _mm256_srli_epi32(v, 16), moves);
		q = _mm256_srlv_epi32(mulhi_epu32(v, r), _mm256_and_si256(_mm256_srli_epi32(c, 13), mask5));
		v = _mm256_add_epi32(_mm256_add_epi32(v, _mm256_srli_epi32(c, 18)),
				     _mm256_mullo_epi32(q, _mm256_sub_epi32(m_all, freq)));
	}
	_mm256_storeu_si256((__m256i *)(void *)x, v);
	*out = p;
}

/*
 * The same steps with AVX-512: each state in a 64-bit lane, and both
 * multiplies as 52-bit IFMA (4 cycles each, the add folded into the
 * second) where AVX2 needs two vpmuludq for the high half and a vpmulld
 * (10 cycles) for the low one: the chain of dependent instructions from
 * one step to the next is what bounds this loop. The reciprocal is
 * pre-shifted so the high 52 bits of the product are the quotient:
 * (x * rcp) >> (32 + shift) == (x * (rcp << (20 - shift))) >> 52, as
 * shift <= 12 and rcp < 2^32.
 */
__attribute__((target("avx512f,avx512vl,avx512ifma,avx2"))) static void
encode_avx512(uint32_t *x, unsigned char **out, const rans_enc_symbol *enc, unsigned int nsyms,
	      const uint16_t *sym, size_t whole)
{
	uint64_t rq[MVM_RANS_MAX_SYMBOLS];
	uint32_t rcp[MVM_RANS_MAX_SYMBOLS], fsb[MVM_RANS_MAX_SYMBOLS];
	const __m512i mask13 = _mm512_set1_epi64(0x1fff), zero = _mm512_setzero_si512();
	const __m512i m_all = _mm512_set1_epi64((long long)RANS_M);
	__m512i v = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)x));
	unsigned char *p = *out;
	unsigned int s;
	size_t i;

	pack_constants(rcp, fsb, enc, nsyms);
	for (s = 0; s < nsyms; s++)
		rq[s] = (uint64_t)rcp[s] << (20 - (fsb[s] >> 13 & 31));
	for (i = whole; i > 0; i -= LANES) {
		__m256i sy = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(sym + i - LANES)));
		__m512i c = _mm512_cvtepu32_epi64(_mm256_i32gather_epi32((const int *)fsb, sy, 4));
		__m512i r = _mm512_i32gather_epi64(sy, (const void *)rq, 8);
		__m512i freq = _mm512_and_si512(c, mask13), q;
		__mmask8 moves = _mm512_cmpge_epu64_mask(v, _mm512_slli_epi64(freq, 19));
		__m128i packed = _mm_shuffle_epi8(_mm512_cvtepi64_epi16(v),
						  _mm_loadu_si128((const __m128i *)(const void *)pack_shuffle[moves]));

		_mm_storeu_si128((__m128i *)(void *)(p - 16), packed);
		p -= 2 * __builtin_popcount(moves);
		v = _mm512_mask_srli_epi64(v, moves, v, 16);
		q = _mm512_madd52hi_epu64(zero, v, r);
		v = _mm512_madd52lo_epu64(_mm512_add_epi64(v, _mm512_srli_epi64(c, 18)), q,
					  _mm512_sub_epi64(m_all, freq));
	}
	_mm256_storeu_si256((__m256i *)(void *)x, _mm512_cvtepi64_epi32(v));
	*out = p;
}

#endif

/*
 * Steps from symbol i while the stream lasts (it is padded: a step reads
 * at most 16 bytes): each lane's symbol first, their renormalizations
 * after, so only the stream position waits on the step's other lanes.
 */
static size_t decode_steps(uint16_t *sym, size_t whole, uint32_t *states, const rans_dec_table *t,
			   const unsigned char **at, const unsigned char *end)
{
	const unsigned char *p = *at;
	uint32_t x[LANES];
	size_t i;
	unsigned int k;

	memcpy(x, states, sizeof(x));
	for (i = 0; i < whole && p <= end; i += LANES) {
		uint32_t in[LANES];

#pragma GCC unroll 8
		for (k = 0; k < LANES; k++) {
			uint32_t slot = x[k] & (RANS_M - 1), step = t->step[slot];

			sym[i + k] = t->symbol[slot];
			x[k] = (step & 0xffff) * (x[k] >> RANS_BITS) + (step >> 16);
			in[k] = x[k] < RANS_L;
		}
#pragma GCC unroll 8
		for (k = 0; k < LANES; k++) {
			x[k] = x[k] << (in[k] << 4) | (mvm_le16(p) & (0u - in[k]));
			p += 2 * in[k];
		}
	}
	memcpy(states, x, sizeof(x));
	*at = p;
	return i;
}

size_t mvm_rans_encode(unsigned char *dst, size_t cap, const uint16_t *sym, size_t n, unsigned int nsyms)
{
	uint32_t x[LANES];
	rans_enc_symbol enc[MVM_RANS_MAX_SYMBOLS];
	size_t off, len, room = 2 * n + PAD, whole = n & ~(size_t)(LANES - 1);
	unsigned char *buf = mvm_codec_scratch(MVM_SCRATCH_STREAMS, room), *p = buf + room;
	unsigned int k;

	if (!buf || !n || nsyms > MVM_RANS_MAX_SYMBOLS)
		return 0;
	if (!(off = mvm_rans__put_table(dst, cap, enc, sym, n, nsyms)) || cap - off < STATES_LEN)
		return 0;
	for (k = 0; k < LANES; k++)
		x[k] = RANS_L;
	encode_tail(x, &p, enc, sym, whole, n);
#ifdef __x86_64__
	if (mvm_cpu_avx2()) {
		pthread_once(&pack_once, pack_shuffle_init);
		if (mvm_cpu_avx512())
			encode_avx512(x, &p, enc, nsyms, sym, whole);
		else
			encode_avx2(x, &p, enc, nsyms, sym, whole);
	} else
#endif
		encode_steps(x, &p, enc, sym, whole);
	for (k = 0; k < LANES; k++, off += 4)
		mvm_put_le32(dst + off, x[k]);
	len = (size_t)(buf + room - p);
	if (cap - off < len)
		return 0;
	memcpy(dst + off, p, len);
	return off + len;
}

int mvm_rans8__get_states(uint32_t *x, size_t *words, const unsigned char *p, const unsigned char *stop)
{
	unsigned int k;

	if (stop - p < STATES_LEN || (*words = (size_t)(stop - p) - STATES_LEN) % 2)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has bad streams");
	for (k = 0; k < LANES; k++, p += 4)
		if ((x[k] = mvm_le32(p)) < RANS_L || x[k] >= 1u << 31)
			return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has bad streams");
	return 0;
}

int mvm_rans8__check_end(const uint32_t *x, const unsigned char *p, const unsigned char *end, size_t n)
{
	unsigned int k, ok = p == end;

	for (k = 0; k < LANES; k++)
		ok &= x[k] == RANS_L;
	return ok ? 0 : mvm_error_set(MVM_ECORRUPT, "entropy-coded block does not decode to %zu symbols", n);
}

int mvm_rans_decode(uint16_t *sym, size_t n, const unsigned char *src, size_t len, unsigned int nsyms)
{
	const unsigned char *p = src, *end;
	rans_dec_table *t = (rans_dec_table *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, sizeof(*t));
	unsigned char *padded;
	uint32_t x[LANES];
	size_t i = 0, words, whole = n & ~(size_t)(LANES - 1);
	int error;

	if (!t)
		return mvm_error_set(MVM_ERROR, "out of memory for an entropy table");
	if (nsyms > MVM_RANS_MAX_SYMBOLS || mvm_rans__get_table(t, &p, src + len, nsyms) < 0)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has a bad table");
	if ((error = mvm_rans8__get_states(x, &words, p, src + len)) < 0)
		return error;
	if (!(padded = mvm_codec_scratch(MVM_SCRATCH_RANS, words + PAD)))
		return mvm_error_set(MVM_ERROR, "out of memory for an entropy-coded block");
	memcpy(padded, p + STATES_LEN, words);
	memset(padded + words, 0, PAD);
	p = padded;
	end = padded + words;
	i = decode_steps(sym, whole, x, t, &p, end);
	/* the last symbols, and the first after a step that read past the end (which it would still be) */
	for (; i < n && p <= end; i++)
		x[i % LANES] = mvm_rans__get_symbol(&sym[i], x[i % LANES], t, &p);
	return mvm_rans8__check_end(x, p, end, n); /* a loop stopped short has p past end */
}
