/*
 * sha256mb.c: SHA-256 of up to sixteen messages side by side (see
 * sha256mb.h), FIPS 180-4 rounds on vectors of sixteen 32-bit lanes.
 *
 * Each lane hashes one message: its full 64-byte blocks straight from
 * memory, then one or two blocks built here (the last bytes, the 0x80
 * byte, zeros, the bit length). A lane whose message is done hands its
 * digest out and takes the next message, its state set back to the
 * initial one, so messages of different lengths keep the lanes busy. The
 * sixteen blocks of a step are loaded as rows and transposed, so that
 * vector t holds word t of every lane's block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "sha256k.h"
#include "sha256mb.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define MB_TARGET __attribute__((target("avx512f,avx512bw")))
#define LANES 16

/* Each lane's next blocks are fetched this far ahead: 3.48 -> 3.85 GB/s from memory. */
#define PREFETCH_AHEAD 512

int mvm_sha256mb_available(void)
{
	return mvm_cpu_avx512bw();
}

typedef struct {
	const unsigned char *p;   /* the message's next full block */
	size_t full;              /* full blocks left from p */
	unsigned char tail[128];  /* the last block or two, padded */
	unsigned int ntail, at;   /* tail blocks, and how many of them are done */
	size_t msg;               /* which message */
	int busy;
} lane;

static const unsigned char idle_block[64];

/* Set a lane to the message `msg`: its full blocks, then its padded tail. */
static void lane_start(lane *l, const unsigned char *p, size_t n, size_t msg)
{
	size_t rest = n % 64;
	uint64_t bits = (uint64_t)n * 8;
	int i;

	l->p = p;
	l->full = n / 64;
	l->ntail = rest + 9 <= 64 ? 1 : 2;
	l->at = 0;
	l->msg = msg;
	l->busy = 1;
	memset(l->tail, 0, sizeof(l->tail));
	if (rest)
		memcpy(l->tail, p + n - rest, rest);
	l->tail[rest] = 0x80;
	for (i = 0; i < 8; i++)
		l->tail[64 * l->ntail - 1 - i] = (unsigned char)(bits >> (8 * i));
}

static const unsigned char *lane_block(const lane *l)
{
	return !l->busy ? idle_block : l->full ? l->p : l->tail + 64 * l->at;
}

/* Past the block just hashed; 1 when that was the message's last. */
static int lane_advance(lane *l)
{
	if (!l->busy)
		return 0;
	if (l->full) {
		l->full--;
		l->p += 64;
		return 0;
	}
	return ++l->at == l->ntail;
}

/* Rows a, b, c, d to columns within each 128-bit lane: v[k] lane j = word 4j+k of the four rows. */
MB_TARGET static inline void transpose4(__m512i *v, __m512i a, __m512i b, __m512i c, __m512i d)
{
	__m512i t0 = _mm512_unpacklo_epi32(a, b), t1 = _mm512_unpackhi_epi32(a, b);
	__m512i t2 = _mm512_unpacklo_epi32(c, d), t3 = _mm512_unpackhi_epi32(c, d);

	v[0] = _mm512_unpacklo_epi64(t0, t2);
	v[1] = _mm512_unpackhi_epi64(t0, t2);
	v[2] = _mm512_unpacklo_epi64(t1, t3);
	v[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* w[t] = big-endian word t of each lane's block. */
MB_TARGET static inline void load_words(__m512i *w, const unsigned char *const *blk)
{
	const __m512i swap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
	__m512i r[LANES], v[4][4];
	int g, k;

	for (g = 0; g < LANES; g++)
		r[g] = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)blk[g]), swap);
	for (g = 0; g < 4; g++)
		transpose4(v[g], r[4 * g], r[4 * g + 1], r[4 * g + 2], r[4 * g + 3]);
	/* lane j of v[g][k] holds word 4j+k of rows 4g..4g+3: gather the four groups' lane j */
	for (k = 0; k < 4; k++) {
		__m512i x0 = _mm512_shuffle_i32x4(v[0][k], v[1][k], 0x44);
		__m512i x1 = _mm512_shuffle_i32x4(v[0][k], v[1][k], 0xee);
		__m512i y0 = _mm512_shuffle_i32x4(v[2][k], v[3][k], 0x44);
		__m512i y1 = _mm512_shuffle_i32x4(v[2][k], v[3][k], 0xee);

		w[k] = _mm512_shuffle_i32x4(x0, y0, 0x88);
		w[4 + k] = _mm512_shuffle_i32x4(x0, y0, 0xdd);
		w[8 + k] = _mm512_shuffle_i32x4(x1, y1, 0x88);
		w[12 + k] = _mm512_shuffle_i32x4(x1, y1, 0xdd);
	}
}

#define XOR3 0x96 /* a ^ b ^ c */
#define CH 0xca   /* a ? b : c */
#define MAJ 0xe8  /* at least two of a, b, c */

#define ROR(x, n) _mm512_ror_epi32((x), (n))
#define SIGMA3(x, r1, r2, r3) _mm512_ternarylogic_epi32(ROR(x, r1), ROR(x, r2), ROR(x, r3), XOR3)
#define SIGMA_SHR(x, r1, r2, s) _mm512_ternarylogic_epi32(ROR(x, r1), ROR(x, r2), _mm512_srli_epi32((x), (s)), XOR3)

/* Round t: d and h take their new values, the other six move by name in the caller. */
#define ROUND(a, b, c, d, e, f, g, h, t)                                                          \
	do {                                                                                      \
		__m512i kw = _mm512_add_epi32(w[(t) & 15], _mm512_set1_epi32((int)mvm_sha256_k[t])); \
		__m512i ch = _mm512_ternarylogic_epi32(e, f, g, CH);                              \
		__m512i maj = _mm512_ternarylogic_epi32(a, b, c, MAJ);                            \
		__m512i t1 = _mm512_add_epi32(_mm512_add_epi32(h, SIGMA3(e, 6, 11, 25)),          \
					      _mm512_add_epi32(ch, kw));                          \
		d = _mm512_add_epi32(d, t1);                                                      \
		h = _mm512_add_epi32(t1, _mm512_add_epi32(SIGMA3(a, 2, 13, 22), maj));            \
	} while (0)

/* Schedule word t (>= 16) into the ring of sixteen. */
#define SCHEDULE(t)                                                                                            \
	(w[(t) & 15] = _mm512_add_epi32(                                                                      \
		 _mm512_add_epi32(w[(t) & 15], SIGMA_SHR(w[((t) - 15) & 15], 7, 18, 3)),                       \
		 _mm512_add_epi32(w[((t) - 7) & 15], SIGMA_SHR(w[((t) - 2) & 15], 17, 19, 10))))

#define EIGHT_ROUNDS(t)                                                                                        \
	do {                                                                                                   \
		ROUND(a, b, c, d, e, f, g, h, (t));                                                            \
		ROUND(h, a, b, c, d, e, f, g, (t) + 1);                                                        \
		ROUND(g, h, a, b, c, d, e, f, (t) + 2);                                                        \
		ROUND(f, g, h, a, b, c, d, e, (t) + 3);                                                        \
		ROUND(e, f, g, h, a, b, c, d, (t) + 4);                                                        \
		ROUND(d, e, f, g, h, a, b, c, (t) + 5);                                                        \
		ROUND(c, d, e, f, g, h, a, b, (t) + 6);                                                        \
		ROUND(b, c, d, e, f, g, h, a, (t) + 7);                                                        \
	} while (0)

#define SCHEDULE8(t)                                                                                           \
	do {                                                                                                   \
		SCHEDULE(t); SCHEDULE((t) + 1); SCHEDULE((t) + 2); SCHEDULE((t) + 3);                          \
		SCHEDULE((t) + 4); SCHEDULE((t) + 5); SCHEDULE((t) + 6); SCHEDULE((t) + 7);                    \
	} while (0)

/* One block of every lane into the sixteen states s[0..7]. */
MB_TARGET static void compress(__m512i *s, const unsigned char *const *blk)
{
	__m512i w[16], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];

	load_words(w, blk);
	EIGHT_ROUNDS(0);
	EIGHT_ROUNDS(8);
	SCHEDULE8(16);
	EIGHT_ROUNDS(16);
	SCHEDULE8(24);
	EIGHT_ROUNDS(24);
	SCHEDULE8(32);
	EIGHT_ROUNDS(32);
	SCHEDULE8(40);
	EIGHT_ROUNDS(40);
	SCHEDULE8(48);
	EIGHT_ROUNDS(48);
	SCHEDULE8(56);
	EIGHT_ROUNDS(56);
	s[0] = _mm512_add_epi32(s[0], a);
	s[1] = _mm512_add_epi32(s[1], b);
	s[2] = _mm512_add_epi32(s[2], c);
	s[3] = _mm512_add_epi32(s[3], d);
	s[4] = _mm512_add_epi32(s[4], e);
	s[5] = _mm512_add_epi32(s[5], f);
	s[6] = _mm512_add_epi32(s[6], g);
	s[7] = _mm512_add_epi32(s[7], h);
}

/* Lane i's digest, big-endian. */
MB_TARGET static void lane_digest(unsigned char *out, const __m512i *s, int i)
{
	uint32_t words[8][LANES];
	int k;

	for (k = 0; k < 8; k++)
		_mm512_storeu_si512((void *)words[k], s[k]);
	for (k = 0; k < 8; k++) {
		uint32_t v = words[k][i];
		out[4 * k] = (unsigned char)(v >> 24);
		out[4 * k + 1] = (unsigned char)(v >> 16);
		out[4 * k + 2] = (unsigned char)(v >> 8);
		out[4 * k + 3] = (unsigned char)v;
	}
}

/* Lanes in `mask` back to the initial state. */
MB_TARGET static void reset_lanes(__m512i *s, __mmask16 mask)
{
	int k;

	for (k = 0; k < 8; k++)
		s[k] = _mm512_mask_mov_epi32(s[k], mask, _mm512_set1_epi32((int)mvm_sha256_h0[k]));
}

/* Full blocks every busy lane has left (0 when a lane is in its tail). */
static size_t common_full(const lane *l)
{
	size_t m = SIZE_MAX;
	int i;

	for (i = 0; i < LANES; i++)
		if (l[i].busy && l[i].full < m)
			m = l[i].full;
	return m == SIZE_MAX ? 0 : m;
}

MB_TARGET void mvm_sha256mb(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count)
{
	const unsigned char *blk[LANES];
	lane l[LANES] = { { 0 } };
	__m512i s[8];
	size_t next = 0, m;
	int i, busy = 0;

	for (i = 0; i < LANES; i++) {
		l[i].busy = 0;
		if (next < count) {
			lane_start(&l[i], p[next], n[next], next);
			next++;
			busy++;
		}
	}
	reset_lanes(s, 0xffff);
	while (busy) {
		__mmask16 fresh = 0;

		/* the blocks all busy lanes read from memory, without the per-lane bookkeeping */
		for (m = common_full(l); m; m--) {
			for (i = 0; i < LANES; i++) {
				blk[i] = lane_block(&l[i]);
				if (l[i].busy)
					__builtin_prefetch((const void *)((uintptr_t)l[i].p + PREFETCH_AHEAD));
				l[i].p += l[i].busy ? 64 : 0;
				l[i].full -= l[i].busy ? 1 : 0;
			}
			compress(s, blk);
		}
		for (i = 0; i < LANES; i++)
			blk[i] = lane_block(&l[i]);
		compress(s, blk);
		for (i = 0; i < LANES; i++) {
			if (!lane_advance(&l[i]))
				continue;
			lane_digest(out[l[i].msg].id, s, i);
			l[i].busy = 0;
			busy--;
			if (next < count) {
				lane_start(&l[i], p[next], n[next], next);
				next++;
				busy++;
				fresh |= (__mmask16)(1u << i);
			}
		}
		reset_lanes(s, fresh);
	}
}

#else

int mvm_sha256mb_available(void)
{
	return 0;
}

void mvm_sha256mb(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count)
{
	(void)out, (void)p, (void)n, (void)count;
	abort(); /* mvm_sha256mb_available() said no */
}

#endif
