/*
 * ransgroup.c: codec 7's rANS blocks (rans8.c) decoded several at once
 * (mvm_rans_decode_many, see rans.h).
 *
 * A block decodes as one chain: a step's eight states pick table entries,
 * multiply, and take the step's words before the next step can start. On
 * one block the AVX-512 step below waits on that chain (2.0 ns a symbol,
 * slower than the scalar loop's 1.5); with four blocks stepped in turn
 * each hides the others' latency: 0.67 ns a symbol on the Xeon measured
 * (four 131k-symbol BF16 exponent blocks, each with its own table).
 *
 * A step of one block: the eight states in 64-bit lanes; one gather of
 * their slots' table entries; x = freq * (x >> 12) + bias as one IFMA
 * multiply-add; the lanes whose state fell below RANS_L take the next
 * words of the stream by one expanding load, in lane order, as the format
 * says. A table entry is freq (bits 0-12) | symbol << 40 | (slot - start)
 * << 52: the multiply's low 52 bits then hold freq * (x >> 12) (< 2^31)
 * below bit 32 and the symbol's product from bit 40 up, masked off.
 * Blocks of different lengths step together for the shortest; the rest
 * go on in a smaller group, the last one alone.
 */
#include <stdint.h>
#include <string.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "mvm/common.h"
#include "util/cpu.h"
#include "codec.h"
#include "rans_internal.h"

#define GROUP MVM_CODEC_GROUP
#define LANES RANS8_LANES

typedef struct {
	const mvm_rans_block *b;
	uint64_t *e;                  /* RANS_M table entries */
	uint32_t x[LANES];
	const unsigned char *p, *end; /* the padded word stream */
	size_t i, whole;              /* symbols decoded; whole steps' symbols */
} group_block;

static void fill_table(uint64_t *e, const mvm_rans_freqs *f)
{
	uint32_t slot = 0, k, s;

	for (s = 0; s < f->len; slot += f->freq[s++])
		for (k = 0; k < f->freq[s]; k++)
			e[slot + k] = f->freq[s] | (uint64_t)(f->lo + s) << 40 | (uint64_t)k << 52;
}

/* Block b's table into g->e, its states, and its stream copied to `stream` with RANS8_PAD zeros after. */
static int group_open(group_block *g, const mvm_rans_block *b, unsigned char *stream, unsigned int nsyms)
{
	const unsigned char *p = b->src;
	mvm_rans_freqs f;
	size_t words;
	int error;

	if (mvm_rans__get_freqs(&f, &p, b->src + b->len, nsyms) < 0)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has a bad table");
	if ((error = mvm_rans8__get_states(g->x, &words, p, b->src + b->len)) < 0)
		return error;
	fill_table(g->e, &f);
	memcpy(stream, p + RANS8_STATES_LEN, words);
	memset(stream + words, 0, RANS8_PAD);
	g->b = b;
	g->p = stream;
	g->end = stream + words;
	g->i = 0;
	g->whole = b->n & ~(size_t)(LANES - 1);
	return 0;
}

/* The block's symbols from g->i on, one at a time; then its end checked. */
static int group_finish(group_block *g)
{
	for (; g->i < g->b->n && g->p <= g->end; g->i++) {
		uint32_t *x = &g->x[g->i % LANES], in;
		uint64_t v = g->e[*x & (RANS_M - 1)];

		g->b->sym[g->i] = (uint16_t)(v >> 40 & 0x1ff);
		*x = (uint32_t)(v & 0x1fff) * (*x >> RANS_BITS) + (uint32_t)(v >> 52);
		in = *x < RANS_L;
		*x = *x << (in << 4) | (mvm_le16(g->p) & (0u - in)); /* as mvm_rans__get_symbol */
		g->p += 2 * in;
	}
	return mvm_rans8__check_end(g->x, g->p, g->end, g->b->n); /* a loop stopped short has p past end */
}

#ifdef __x86_64__
#define GROUP_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512vbmi2,avx512ifma,popcnt")))

/* One step of one block: eight symbols to out, the states returned. */
GROUP_TARGET static inline __m512i group_step(__m512i x, const uint64_t *e, uint16_t *out, const unsigned char **p)
{
	const __m512i slot_mask = _mm512_set1_epi64(RANS_M - 1), low32 = _mm512_set1_epi64(0xffffffff);
	const __m512i low_bound = _mm512_set1_epi64(RANS_L);
	__m512i v = _mm512_i64gather_epi64(_mm512_and_si512(x, slot_mask), (const void *)e, 8);
	__m128i words;
	__mmask8 in;

	_mm_storeu_si128((__m128i *)(void *)out,
			 _mm_and_si128(_mm512_cvtepi64_epi16(_mm512_srli_epi64(v, 40)), _mm_set1_epi16(0x1ff)));
	x = _mm512_and_si512(_mm512_madd52lo_epu64(_mm512_srli_epi64(v, 52), _mm512_srli_epi64(x, RANS_BITS), v), low32);
	in = _mm512_cmplt_epu64_mask(x, low_bound);
	words = _mm_maskz_expandloadu_epi16(in, *p);
	*p += 2 * (unsigned int)__builtin_popcount(in);
	return _mm512_mask_or_epi64(x, in, _mm512_slli_epi64(x, 16), _mm512_cvtepu16_epi64(words));
}

/*
 * `steps` steps of each of the K blocks, in turn; stops early when a
 * block's stream is read past its end (a step reads at most 16 bytes,
 * within the padding), which its finish then reports.
 */
GROUP_TARGET __attribute__((always_inline)) static inline void group_steps_k(group_block **g, unsigned int K,
									   size_t steps)
{
	/* all in locals: the symbol stores may alias anything, and would make every field a reload */
	__m512i x[GROUP];
	const unsigned char *p[GROUP], *end[GROUP];
	const uint64_t *e[GROUP];
	uint16_t *out[GROUP];
	size_t s;
	unsigned int k;

#pragma GCC unroll 4
	for (k = 0; k < K; k++) {
		x[k] = _mm512_cvtepu32_epi64(_mm256_loadu_si256((const __m256i *)(const void *)g[k]->x));
		p[k] = g[k]->p;
		end[k] = g[k]->end;
		e[k] = g[k]->e;
		out[k] = g[k]->b->sym + g[k]->i;
	}
	for (s = 0; s < steps; s++) {
		unsigned int past = 0;

#pragma GCC unroll 4
		for (k = 0; k < K; k++)
			past |= p[k] > end[k];
		if (past)
			break;
#pragma GCC unroll 4
		for (k = 0; k < K; k++)
			x[k] = group_step(x[k], e[k], out[k] + LANES * s, &p[k]);
	}
#pragma GCC unroll 4
	for (k = 0; k < K; k++) {
		_mm256_storeu_si256((__m256i *)(void *)g[k]->x, _mm512_cvtepi64_epi32(x[k]));
		g[k]->p = p[k];
		g[k]->i += LANES * s;
	}
}

GROUP_TARGET static void group_steps(group_block **g, unsigned int K, size_t steps)
{
	if (K == 2)
		group_steps_k(g, 2, steps);
	else if (K == 3)
		group_steps_k(g, 3, steps);
	else
		group_steps_k(g, 4, steps);
}

/* Step every block with whole steps left, together, until fewer than two have. */
static void group_run(group_block *g, size_t count)
{
	group_block *live[GROUP];
	unsigned int k, nlive;
	size_t steps;

	for (;;) {
		for (k = 0, nlive = 0, steps = SIZE_MAX; k < count; k++) {
			if (g[k].i >= g[k].whole || g[k].p > g[k].end)
				continue;
			live[nlive++] = &g[k];
			if ((g[k].whole - g[k].i) / LANES < steps)
				steps = (g[k].whole - g[k].i) / LANES;
		}
		if (nlive < 2)
			return;
		group_steps(live, nlive, steps);
	}
}
#endif

/* 2 to GROUP blocks together. */
static int decode_group(const mvm_rans_block *b, size_t count, unsigned int nsyms)
{
	group_block g[GROUP];
	size_t k, need = count * RANS_M * sizeof(uint64_t);
	unsigned char *mem, *stream;
	int error = 0;

	for (k = 0; k < count; k++)
		need += b[k].len + RANS8_PAD;
	if (!(mem = mvm_codec_scratch(MVM_SCRATCH_GROUP, need)))
		return mvm_error_set(MVM_ERROR, "out of memory for entropy-coded blocks");
	stream = mem + count * RANS_M * sizeof(uint64_t);
	for (k = 0; k < count; k++) {
		g[k].e = (uint64_t *)(void *)(mem + k * RANS_M * sizeof(uint64_t));
		if ((error = group_open(&g[k], &b[k], stream, nsyms)) < 0)
			return error;
		stream += b[k].len + RANS8_PAD;
	}
#ifdef __x86_64__
	group_run(g, count);
#endif
	for (k = 0; k < count && !error; k++)
		error = group_finish(&g[k]);
	return error;
}

int mvm_rans_decode_many(const mvm_rans_block *b, size_t count, unsigned int nsyms)
{
	size_t k;
	int error = 0;

	if (nsyms > MVM_RANS_MAX_SYMBOLS)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has a bad table");
	if (count < 2 || !mvm_cpu_avx512()) {
		for (k = 0; k < count && !error; k++)
			error = mvm_rans_decode(b[k].sym, b[k].n, b[k].src, b[k].len, nsyms);
		return error;
	}
	for (k = 0; k + 1 < count && !error; k += GROUP)
		error = decode_group(b + k, count - k < GROUP ? count - k : GROUP, nsyms);
	if (!error && k + 1 == count) /* one left over */
		error = mvm_rans_decode(b[k].sym, b[k].n, b[k].src, b[k].len, nsyms);
	return error;
}
