/*
 * floatguess.c: whether a chunk of no known tensor holds floats (see
 * floatguess.h).
 *
 * The top byte of a little-endian F32, BF16 or F16 element (its sign and
 * exponent) takes few values, and the bytes below it are mantissa, which
 * look random. Counted by lane (the bytes at positions i mod 8, 4 or 2),
 * a chunk of such elements shows one narrow lane and wide ones: for F32
 * one narrow lane of four; for 16-bit floats one of two (seen mod 4, that
 * is two narrow lanes, so it is not taken for F32). An F64 keeps its sign
 * and 7 exponent bits in its top byte and 4 more exponent bits in the
 * next: one narrow lane of eight, the lane below it anything, the other
 * six wide (F32 seen mod 8 has two narrow lanes, so it is not taken for
 * F64). Text, small
 * integers, zeros and compressed bytes do not show the pattern, and keep
 * their zstd coding; a chunk that shows it but does not code smaller is
 * left to zstd by the caller.
 *
 * Lane widths are collision entropies (Renyi order 2: -log2 of the chance
 * that two sampled bytes are equal), which need no logarithm per value.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "floatguess.h"

#define GUESS_WINDOW 64      /* bytes read together; a multiple of 8 keeps the lanes */
#define GUESS_WINDOWS 128    /* 8 KiB looked at, spread over the chunk */
#define NARROW_BITS 6.0      /* a sign and exponent byte: BF16/F32 weights ~3-4 bits, F16 ~5 */
#define WIDE_BITS 7.0        /* mantissa bytes: ~7.9 */

/* Collision entropy in bits of the bytes at positions i mod `step` = first, from counts mod 8. */
static double lane_bits(const uint32_t (*h)[256], unsigned int first, unsigned int step)
{
	uint64_t pairs = 0, n = 0;
	unsigned int v, j;

	for (v = 0; v < 256; v++) {
		uint64_t c = 0;
		for (j = first; j < 8; j += step)
			c += h[j][v];
		pairs += c * (c ? c - 1 : 0);
		n += c;
	}
	if (n < 2)
		return 0;
	if (!pairs)
		return 8;
	return -log2((double)pairs / ((double)n * (double)(n - 1)));
}

/*
 * The one lane of `lanes` at most NARROW_BITS wide with all others at
 * least WIDE_BITS, but for the lane just below it when `free_below` is
 * set; or -1.
 */
static int narrow_lane(const double *bits, unsigned int lanes, int free_below)
{
	unsigned int j, t = 0;

	for (j = 1; j < lanes; j++)
		if (bits[j] < bits[t])
			t = j;
	if (bits[t] > NARROW_BITS)
		return -1;
	for (j = 0; j < lanes; j++)
		if (j != t && bits[j] < WIDE_BITS && !(free_below && j == (t + lanes - 1) % lanes))
			return -1;
	return (int)t;
}

static int guessed(mvm_codec_hint *out, unsigned int kind, unsigned int elem, int top)
{
	/* lane `top` holds the top byte: byte k of the chunk is byte (phase + k) % elem of its element */
	out->kind = kind;
	out->elem = elem;
	out->phase = (unsigned int)(2 * elem - 1 - (unsigned int)top) % elem;
	return 1;
}

int mvm_float_guess(mvm_codec_hint *out, const unsigned char *p, size_t n)
{
	uint32_t h[8][256];
	double bits8[8], bits4[4], bits2[2];
	size_t w, i, stride;
	int t;

	if (n < MVM_FLOAT_GUESS_MIN)
		return 0;
	memset(h, 0, sizeof(h));
	stride = (n / GUESS_WINDOWS) & ~(size_t)(GUESS_WINDOW - 1);
	if (stride < GUESS_WINDOW)
		stride = GUESS_WINDOW;
	for (w = 0; w + GUESS_WINDOW <= n; w += stride)
		for (i = 0; i < GUESS_WINDOW; i++)
			h[i % 8][p[w + i]]++;
	/* F64 first: seen mod 4, its top byte's lane still looks narrow (a few values make most pairs) */
	for (i = 0; i < 8; i++)
		bits8[i] = lane_bits(h, (unsigned int)i, 8);
	if ((t = narrow_lane(bits8, 8, 1)) >= 0)
		return guessed(out, MVM_FLOAT_F64, 8, t);
	for (i = 0; i < 4; i++)
		bits4[i] = lane_bits(h, (unsigned int)i, 4);
	if ((t = narrow_lane(bits4, 4, 0)) >= 0)
		return guessed(out, MVM_FLOAT_F32, 4, t);
	bits2[0] = lane_bits(h, 0, 2);
	bits2[1] = lane_bits(h, 1, 2);
	if ((t = narrow_lane(bits2, 2, 0)) >= 0)
		return guessed(out, MVM_FLOAT_BF16, 2, t);
	return 0;
}
