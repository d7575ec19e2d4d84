/*
 * rans.c: the frequency table every rANS block starts with, and the
 * four-stream block of codec 6 (see rans.h; rans8.c has codec 7's).
 *
 * Block: varint first symbol, varint table length, that many varint
 * frequencies (0: symbol absent; they sum to RANS_M); the four final
 * encoder states (u32 LE each, state 0 first); four varint byte lengths,
 * then the four word streams (u16 LE words in the order the decoder
 * reads them). Symbol i of the block goes through state i % 4, which
 * reads and writes only stream i % 4, so the four decode chains do not
 * wait on each other; the encoder runs from the last symbol back. States
 * stay in [RANS_L, 2^31), so at most one word moves per symbol, without
 * a branch (whether it moves is a coin toss a branch predictor would
 * lose), and the reciprocal division is exact.
 */
#include <stdlib.h>
#include <string.h>

#ifdef __x86_64__
#include <immintrin.h>
#endif

#include "mvm/common.h"
#include "util/cpu.h"
#include "codec.h"
#include "rans_internal.h"

#define RANS_STATES 4

size_t mvm_rans__put_varint(unsigned char *p, uint32_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (unsigned char)(v | 0x80);
	p[n++] = (unsigned char)v;
	return n;
}

int mvm_rans__get_varint(uint32_t *v, const unsigned char **p, const unsigned char *end)
{
	unsigned int shift;

	*v = 0;
	for (shift = 0; shift < 28 && *p < end; shift += 7) {
		unsigned char b = *(*p)++;
		*v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return MVM_ECORRUPT;
}

/*
 * Scale counts (n symbols in all) to frequencies summing to RANS_M, every
 * present symbol at least 1; rounding's excess is taken from the largest.
 */
static void normalize(uint32_t *freq, const uint32_t *count, unsigned int nsyms, size_t n)
{
	uint32_t sum = 0;
	unsigned int s, top = 0;

	for (s = 0; s < nsyms; s++) {
		freq[s] = 0;
		if (!count[s])
			continue;
		freq[s] = (uint32_t)(((uint64_t)count[s] * RANS_M + n / 2) / n);
		if (!freq[s])
			freq[s] = 1;
		sum += freq[s];
		if (count[s] > count[top])
			top = s;
	}
	while (sum > RANS_M) { /* many rare symbols rounded up to 1 */
		uint32_t take;

		for (s = 0, top = 0; s < nsyms; s++)
			if (freq[s] > freq[top])
				top = s;
		take = sum - RANS_M < freq[top] / 2 ? sum - RANS_M : freq[top] / 2;
		freq[top] -= take;
		sum -= take;
	}
	freq[top] += RANS_M - sum;
}

/*
 * Blocks of SAMPLE_MIN symbols or more are counted from a quarter of
 * them, SAMPLE_RUN in every SAMPLE_STRIDE, and then every symbol of the
 * block is checked for a count (count_missed): counting all of them was
 * ~10% of a fresh add's CPU. The cold 4-shard add went from 6.67 to 6.38
 * CPU-s, its store grew 0.004% (110 KB of 2.8 GB). The run's place in
 * each stride moves (sample_start), so columns of a tensor whose rows are
 * a multiple of the stride long are all sampled.
 */
#define SAMPLE_MIN 16384
#define SAMPLE_RUN 64
#define SAMPLE_STRIDE 256

/* Where stride j's run starts within it: 61 j mod 193 visits every start. */
static size_t sample_start(size_t j)
{
	return j * 61 % (SAMPLE_STRIDE - SAMPLE_RUN + 1);
}

/* Four partial counts, so a run of one symbol does not wait on its own increments. */
static void count_into(uint32_t (*part)[MVM_RANS_MAX_SYMBOLS], const uint16_t *sym, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		part[0][sym[i]]++;
		part[1][sym[i + 1]]++;
		part[2][sym[i + 2]]++;
		part[3][sym[i + 3]]++;
	}
	for (; i < n; i++)
		part[0][sym[i]]++;
}

#ifdef __x86_64__
/*
 * count_missed on 32 symbols a step: which symbols have a count is a
 * bitmap of 512 bits, one register of 32 words; word s >> 4, bit s & 15.
 */
__attribute__((target("avx512f,avx512bw"))) static size_t count_missed_avx512(uint32_t *count, const uint16_t *sym,
									   size_t n)
{
	uint16_t bits[32] = { 0 };
	const __m512i fifteen = _mm512_set1_epi16(15), one = _mm512_set1_epi16(1);
	__m512i map;
	size_t i;
	int s;

	for (s = 0; s < MVM_RANS_MAX_SYMBOLS; s++)
		bits[s >> 4] = (uint16_t)(bits[s >> 4] | (count[s] != 0) << (s & 15));
	map = _mm512_loadu_si512((const void *)bits);
	for (i = 0; i + 32 <= n; i += 32) {
		__m512i v = _mm512_loadu_si512((const void *)(sym + i));
		__m512i word = _mm512_permutexvar_epi16(_mm512_srli_epi16(v, 4), map);
		__mmask32 missed = _mm512_testn_epi16_mask(word, _mm512_sllv_epi16(one, _mm512_and_si512(v, fifteen)));

		for (; missed; missed &= missed - 1) { /* rare: the symbols the sample did not meet */
			unsigned int k = sym[i + (unsigned int)__builtin_ctz(missed)];

			count[k] = 1;
			bits[k >> 4] = (uint16_t)(bits[k >> 4] | 1u << (k & 15));
			map = _mm512_loadu_si512((const void *)bits);
		}
	}
	return i;
}
#endif

/* Every symbol of sym[0, n) that has no count gets 1: it is present and needs a frequency. */
static void count_missed(uint32_t *count, const uint16_t *sym, size_t n)
{
	size_t i = 0;

#ifdef __x86_64__
	if (mvm_cpu_avx512bw())
		i = count_missed_avx512(count, sym, n);
#endif
	for (; i < n; i++)
		if (!count[sym[i]])
			count[sym[i]] = 1;
}

/* Counts of sym[0, n) into count, all or sampled (see SAMPLE_MIN). @return the counts' sum. */
static size_t histogram(uint32_t *count, const uint16_t *sym, size_t n, unsigned int nsyms)
{
	uint32_t part[4][MVM_RANS_MAX_SYMBOLS] = { { 0 } };
	unsigned int s;
	size_t i, total = 0;

	if (n < SAMPLE_MIN)
		count_into(part, sym, n);
	else
		for (i = 0; i < n; i += SAMPLE_STRIDE) {
			size_t at = i + sample_start(i / SAMPLE_STRIDE);

			if (at < n)
				count_into(part, sym + at, n - at < SAMPLE_RUN ? n - at : SAMPLE_RUN);
		}
	for (s = 0; s < nsyms; s++)
		count[s] = part[0][s] + part[1][s] + part[2][s] + part[3][s];
	if (n >= SAMPLE_MIN)
		count_missed(count, sym, n);
	for (s = 0; s < nsyms; s++)
		total += count[s];
	return total;
}

static void enc_symbol_init(rans_enc_symbol *e, uint32_t start, uint32_t freq)
{
	uint32_t shift = 0;

	e->x_max = ((RANS_L >> RANS_BITS) << 16) * freq;
	e->cmpl_freq = (uint16_t)(RANS_M - freq);
	if (freq < 2) { /* q must be x: x * (2^32 - 1) >> 32 is x - 1, the bias adds the rest */
		e->rcp_freq = ~0u;
		e->rcp_shift = 0;
		e->bias = start + RANS_M - 1;
		return;
	}
	while (freq > (1u << shift))
		shift++;
	e->rcp_freq = (uint32_t)(((1ull << (shift + 31)) + freq - 1) / freq);
	e->rcp_shift = (uint16_t)(shift - 1);
	e->bias = start;
}

/* The table: first symbol, length, frequencies. @return bytes, 0 if cap is short. */
static size_t put_freqs(unsigned char *dst, size_t cap, const uint32_t *freq, unsigned int nsyms)
{
	unsigned int lo = 0, hi = nsyms, s;
	size_t off = 0;

	while (!freq[lo])
		lo++;
	while (!freq[hi - 1])
		hi--;
	if (cap < 10 + 3 * (size_t)(hi - lo))
		return 0;
	off += mvm_rans__put_varint(dst + off, lo);
	off += mvm_rans__put_varint(dst + off, hi - lo);
	for (s = lo; s < hi; s++)
		off += mvm_rans__put_varint(dst + off, freq[s]);
	return off;
}

size_t mvm_rans__put_table(unsigned char *dst, size_t cap, rans_enc_symbol *enc, const uint16_t *sym, size_t n,
			   unsigned int nsyms)
{
	uint32_t count[MVM_RANS_MAX_SYMBOLS] = { 0 }, freq[MVM_RANS_MAX_SYMBOLS] = { 0 }, start = 0;
	unsigned int s;

	normalize(freq, count, nsyms, histogram(count, sym, n, nsyms));
	memset(enc, 0, nsyms * sizeof(*enc)); /* absent symbols too: the AVX2 encoder packs every entry */
	for (s = 0; s < nsyms; s++) {
		if (freq[s])
			enc_symbol_init(&enc[s], start, freq[s]);
		start += freq[s];
	}
	return put_freqs(dst, cap, freq, nsyms);
}

size_t mvm_rans4_encode(unsigned char *dst, size_t cap, const uint16_t *sym, size_t n, unsigned int nsyms)
{
	uint32_t x[RANS_STATES] = { RANS_L, RANS_L, RANS_L, RANS_L }, x0, x1, x2, x3;
	rans_enc_symbol enc[MVM_RANS_MAX_SYMBOLS];
	size_t i, off, len[RANS_STATES], whole = n & ~(size_t)(RANS_STATES - 1);
	size_t room = 2 * (n / RANS_STATES + 1) + 2; /* a stream's words, one spare below */
	unsigned char *buf = mvm_codec_scratch(MVM_SCRATCH_STREAMS, RANS_STATES * room), *p[RANS_STATES];
	unsigned int k;

	if (!buf || !n || nsyms > MVM_RANS_MAX_SYMBOLS)
		return 0;
	if (!(off = mvm_rans__put_table(dst, cap, enc, sym, n, nsyms)) || cap - off < RANS_STATES * (4 + 5))
		return 0;
	for (k = 0; k < RANS_STATES; k++)
		p[k] = buf + (k + 1) * room;
	for (i = n; i > whole; i--) {
		k = (unsigned int)((i - 1) % RANS_STATES);
		x[k] = mvm_rans__put_symbol(x[k], &p[k], &enc[sym[i - 1]]);
	}
	{
		unsigned char *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3]; /* kept in registers */

		x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
		for (i = whole; i > 0; i -= RANS_STATES) {
			x3 = mvm_rans__put_symbol(x3, &p3, &enc[sym[i - 1]]);
			x2 = mvm_rans__put_symbol(x2, &p2, &enc[sym[i - 2]]);
			x1 = mvm_rans__put_symbol(x1, &p1, &enc[sym[i - 3]]);
			x0 = mvm_rans__put_symbol(x0, &p0, &enc[sym[i - 4]]);
		}
		x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
		p[0] = p0, p[1] = p1, p[2] = p2, p[3] = p3;
	}
	for (k = 0; k < RANS_STATES; k++, off += 4)
		mvm_put_le32(dst + off, x[k]);
	for (k = 0; k < RANS_STATES; k++) {
		len[k] = (size_t)(buf + (k + 1) * room - p[k]);
		off += mvm_rans__put_varint(dst + off, (uint32_t)len[k]);
	}
	for (k = 0; k < RANS_STATES; k++) {
		if (cap - off < len[k])
			return 0;
		memcpy(dst + off, p[k], len[k]);
		off += len[k];
	}
	return off;
}

int mvm_rans__get_freqs(mvm_rans_freqs *f, const unsigned char **p, const unsigned char *end, unsigned int nsyms)
{
	uint32_t v, slot = 0, s;

	if (mvm_rans__get_varint(&f->lo, p, end) < 0 || mvm_rans__get_varint(&f->len, p, end) < 0 ||
	    f->lo >= nsyms || f->len > nsyms - f->lo)
		return MVM_ECORRUPT;
	for (s = 0; s < f->len; s++) {
		if (mvm_rans__get_varint(&v, p, end) < 0 || v > RANS_M - slot)
			return MVM_ECORRUPT;
		f->freq[s] = (uint16_t)v;
		slot += v;
	}
	return slot == RANS_M ? 0 : MVM_ECORRUPT;
}

int mvm_rans__get_table(rans_dec_table *t, const unsigned char **p, const unsigned char *end, unsigned int nsyms)
{
	mvm_rans_freqs f;
	uint32_t slot = 0, k, s;

	if (mvm_rans__get_freqs(&f, p, end, nsyms) < 0)
		return MVM_ECORRUPT;
	t->symbol[RANS_M] = t->symbol[RANS_M + 1] = 0;
	for (s = 0; s < f.len; slot += f.freq[s++])
		for (k = 0; k < f.freq[s]; k++) {
			t->symbol[slot + k] = (uint16_t)(f.lo + s);
			t->step[slot + k] = f.freq[s] | k << 16;
		}
	return 0;
}

/* The four states and streams after the table; streams copied into padded scratch. */
static int get_streams(uint32_t *x, const unsigned char **w, const unsigned char **end, const unsigned char *p,
		       const unsigned char *stop)
{
	uint32_t len[RANS_STATES];
	unsigned char *padded;
	size_t total = 0;
	unsigned int k;

	if (stop - p < 4 * RANS_STATES)
		return MVM_ECORRUPT;
	for (k = 0; k < RANS_STATES; k++, p += 4)
		if ((x[k] = mvm_le32(p)) < RANS_L || x[k] >= 1u << 31)
			return MVM_ECORRUPT;
	for (k = 0; k < RANS_STATES; k++) {
		if (mvm_rans__get_varint(&len[k], &p, stop) < 0 || len[k] > (size_t)(stop - p) - total)
			return MVM_ECORRUPT;
		total += len[k];
	}
	if (total != (size_t)(stop - p))
		return MVM_ECORRUPT;
	if (!(padded = mvm_codec_scratch(MVM_SCRATCH_RANS, total + 8 * RANS_STATES)))
		return MVM_ERROR;
	for (k = 0; k < RANS_STATES; k++) {
		memcpy(padded, p, len[k]);
		memset(padded + len[k], 0, 8);
		w[k] = padded;
		end[k] = padded + len[k];
		padded += len[k] + 8;
		p += len[k];
	}
	return 0;
}

int mvm_rans4_decode(uint16_t *sym, size_t n, const unsigned char *src, size_t len, unsigned int nsyms)
{
	const unsigned char *p = src, *stop = src + len, *w[RANS_STATES], *end[RANS_STATES];
	rans_dec_table *t = (rans_dec_table *)(void *)mvm_codec_scratch(MVM_SCRATCH_WORDS, sizeof(*t));
	uint32_t x[RANS_STATES];
	size_t i, whole = n & ~(size_t)(RANS_STATES - 1);
	unsigned int k;
	int error, ok;

	if (!t)
		return mvm_error_set(MVM_ERROR, "out of memory for an entropy table");
	if (nsyms > MVM_RANS_MAX_SYMBOLS || mvm_rans__get_table(t, &p, stop, nsyms) < 0)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block has a bad table");
	if ((error = get_streams(x, w, end, p, stop)) < 0)
		return error == MVM_ERROR ? mvm_error_set(MVM_ERROR, "out of memory for an entropy-coded block")
					  : mvm_error_set(MVM_ECORRUPT, "entropy-coded block has bad streams");
	{
		uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
		const unsigned char *w0 = w[0], *w1 = w[1], *w2 = w[2], *w3 = w[3]; /* kept in registers */

		/* each stream reads at most 2 bytes a symbol: checked every 4 symbols, within its 8 bytes of padding */
		for (i = 0; i < whole && w0 <= end[0] && w1 <= end[1] && w2 <= end[2] && w3 <= end[3];
		     i += RANS_STATES) {
			x0 = mvm_rans__get_symbol(&sym[i], x0, t, &w0);
			x1 = mvm_rans__get_symbol(&sym[i + 1], x1, t, &w1);
			x2 = mvm_rans__get_symbol(&sym[i + 2], x2, t, &w2);
			x3 = mvm_rans__get_symbol(&sym[i + 3], x3, t, &w3);
		}
		x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
		w[0] = w0, w[1] = w1, w[2] = w2, w[3] = w3;
	}
	ok = i >= whole;
	for (i = whole; i < n && ok; i++) {
		k = (unsigned int)(i % RANS_STATES);
		x[k] = mvm_rans__get_symbol(&sym[i], x[k], t, &w[k]);
	}
	for (k = 0; k < RANS_STATES; k++)
		ok &= w[k] == end[k] && x[k] == RANS_L;
	if (!ok)
		return mvm_error_set(MVM_ECORRUPT, "entropy-coded block does not decode to %zu symbols", n);
	return 0;
}
