/*
 * rans_internal.h: what the two rANS block layouts share (rans.c: four
 * streams, codec 6; rans8.c: eight states over one stream, codec 7): the
 * frequency table, the encoder's per-symbol constants and the decoder's
 * per-slot table.
 */
#ifndef MVM_STORE_RANS_INTERNAL_H
#define MVM_STORE_RANS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "util/bytes.h"
#include "rans.h"

#define RANS_BITS 12
#define RANS_M (1u << RANS_BITS)
#define RANS_L (1u << 15) /* states live in [RANS_L, 2^31) between symbols */

/* x -> (x / freq) * M + x % freq + start, with the division by reciprocal */
typedef struct {
	uint32_t x_max, rcp_freq, bias;
	uint16_t cmpl_freq, rcp_shift;
} rans_enc_symbol;

/* Per slot of [0, M): its symbol, and freq | (slot - start) << 16. symbol[] has 2 spare entries. */
typedef struct {
	uint32_t step[RANS_M];
	uint16_t symbol[RANS_M + 2];
} rans_dec_table;

/*
 * The block's table (from the counts of sym[0, n)) into dst, and each
 * present symbol's encoder constants into enc. @return the table's bytes,
 * 0 when cap is short.
 */
size_t mvm_rans__put_table(unsigned char *dst, size_t cap, rans_enc_symbol *enc, const uint16_t *sym, size_t n,
			   unsigned int nsyms);

/* Codec 7's block (rans8.c): eight states over one word stream. */
#define RANS8_LANES 8
#define RANS8_STATES_LEN (4 * RANS8_LANES)
#define RANS8_PAD 32 /* a decode step reads 16 bytes past its words; the encoder stores 16 below them */

/*
 * Codec 7's block after its table, at p (up to stop): the eight states
 * into x, and the bytes of the word stream after them. @return 0, or
 * MVM_ECORRUPT for bad states or an odd length.
 */
int mvm_rans8__get_states(uint32_t *x, size_t *words, const unsigned char *p, const unsigned char *stop);
/* After the last symbol: the stream read to its end, every state back at RANS_L. @return 0 or MVM_ECORRUPT. */
int mvm_rans8__check_end(const uint32_t *x, const unsigned char *p, const unsigned char *end, size_t n);

/* A block's table as stored: the frequencies of symbols [lo, lo + len), summing to RANS_M. */
typedef struct {
	uint32_t lo, len;
	uint16_t freq[MVM_RANS_MAX_SYMBOLS];
} mvm_rans_freqs;

/* Read the table at *p into f, checked. @return 0 or MVM_ECORRUPT. */
int mvm_rans__get_freqs(mvm_rans_freqs *f, const unsigned char **p, const unsigned char *end, unsigned int nsyms);

/* Read the table at *p into t. @return 0 or MVM_ECORRUPT. */
int mvm_rans__get_table(rans_dec_table *t, const unsigned char **p, const unsigned char *end, unsigned int nsyms);

size_t mvm_rans__put_varint(unsigned char *p, uint32_t v);
int mvm_rans__get_varint(uint32_t *v, const unsigned char **p, const unsigned char *end);

/*
 * Encode one symbol into state x, after moving its low word out when x is
 * too large. The word is written either way (below *p, where the next one
 * goes when it is not kept), so no branch decides it.
 */
static inline uint32_t mvm_rans__put_symbol(uint32_t x, unsigned char **p, const rans_enc_symbol *e)
{
	uint32_t out = x >= e->x_max, q;

	mvm_put_le16(*p - 2, (uint16_t)x);
	*p -= 2 * out;
	x >>= out << 4;
	q = (uint32_t)(((uint64_t)x * e->rcp_freq) >> 32) >> e->rcp_shift;
	return x + e->bias + q * e->cmpl_freq;
}

/*
 * Decode one symbol from state x; a word in from *p when x falls below
 * RANS_L. May read 2 bytes past the stream: the caller pads it.
 */
static inline uint32_t mvm_rans__get_symbol(uint16_t *out, uint32_t x, const rans_dec_table *t,
					    const unsigned char **p)
{
	uint32_t slot = x & (RANS_M - 1), step = t->step[slot], in;

	*out = t->symbol[slot];
	x = (step & 0xffff) * (x >> RANS_BITS) + (step >> 16);
	in = x < RANS_L;
	/* arithmetic, not a ?: (which compilers turn into a branch) */
	x = x << (in << 4) | (mvm_le16(*p) & (0u - in));
	*p += 2 * in;
	return x;
}

#endif
