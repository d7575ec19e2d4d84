/*
 * floatguess.c: whether a chunk of no known tensor holds floats (see
 * floatguess.h).
 *
 * The top byte of a little-endian F32, BF16 or F16 element (its sign and
 * exponent) takes few values, and the bytes below it are mantissa, which
 * look random. Counted by lane (the bytes at positions i mod 4, or i mod
 * 2), a chunk of such elements shows one narrow lane and wide ones: for
 * F32 one narrow lane of four; for 16-bit floats one of two (seen mod 4,
 * that is two narrow lanes, so it is not taken for F32). Text, small
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

#define GUESS_WINDOW 64      /* bytes read together; a multiple of 4 keeps the lanes */
#define GUESS_WINDOWS 128    /* 8 KiB looked at, spread over the chunk */
#define NARROW_BITS 6.0      /* a sign and exponent byte: BF16/F32 weights ~3-4 bits, F16 ~5 */
#define WIDE_BITS 7.0        /* mantissa bytes: ~7.9 */

/* Collision entropy in bits of the byte counts of a and b together (b may be NULL). */
static double lane_bits(const uint32_t *a, const uint32_t *b)
{
	uint64_t pairs = 0, n = 0;
	unsigned int v;

	for (v = 0; v < 256; v++) {
		uint64_t c = a[v] + (b ? b[v] : 0);
		pairs += c * (c ? c - 1 : 0);
		n += c;
	}
	if (n < 2)
		return 0;
	if (!pairs)
		return 8;
	return -log2((double)pairs / ((double)n * (double)(n - 1)));
}

/* The one lane of `lanes` at most NARROW_BITS wide with all others at least WIDE_BITS, or -1. */
static int narrow_lane(const double *bits, unsigned int lanes)
{
	unsigned int j, t = 0;

	for (j = 1; j < lanes; j++)
		if (bits[j] < bits[t])
			t = j;
	if (bits[t] > NARROW_BITS)
		return -1;
	for (j = 0; j < lanes; j++)
		if (j != t && bits[j] < WIDE_BITS)
			return -1;
	return (int)t;
}

int mvm_float_guess(mvm_codec_hint *out, const unsigned char *p, size_t n)
{
	uint32_t h[4][256];
	double bits4[4], bits2[2];
	size_t w, i, stride;
	int t;

	if (n < MVM_FLOAT_GUESS_MIN)
		return 0;
	memset(h, 0, sizeof(h));
	stride = (n / GUESS_WINDOWS) & ~(size_t)(GUESS_WINDOW - 1);
	if (stride < GUESS_WINDOW)
		stride = GUESS_WINDOW;
	for (w = 0; w + GUESS_WINDOW <= n; w += stride)
		for (i = 0; i < GUESS_WINDOW; i += 4) {
			h[0][p[w + i]]++;
			h[1][p[w + i + 1]]++;
			h[2][p[w + i + 2]]++;
			h[3][p[w + i + 3]]++;
		}
	for (i = 0; i < 4; i++)
		bits4[i] = lane_bits(h[i], NULL);
	/* lane t holds the top byte: byte k of the chunk is byte (phase + k) % elem of its element */
	if ((t = narrow_lane(bits4, 4)) >= 0) {
		out->elem = 4;
		out->kind = MVM_FLOAT_F32;
		out->phase = (unsigned int)(7 - t) % 4;
		return 1;
	}
	bits2[0] = lane_bits(h[0], h[2]);
	bits2[1] = lane_bits(h[1], h[3]);
	if ((t = narrow_lane(bits2, 2)) >= 0) {
		out->elem = 2;
		out->kind = MVM_FLOAT_BF16;
		out->phase = (unsigned int)(3 - t) % 2;
		return 1;
	}
	return 0;
}
