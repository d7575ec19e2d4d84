/*
 * rans.h: a static rANS entropy coder for alphabets of up to 512 symbols,
 * one frequency table per block (chunk codecs 6 and 7 code exponents with
 * it).
 *
 * Where a Huffman code spends whole bits per symbol (zstd's literals coder
 * stayed ~2% above the order-0 entropy of an exponent plane), rANS codes
 * each symbol in -log2(freq / 4096) bits, so a block costs its order-0
 * entropy plus the table. 32-bit states interleaved (ryg_rans's
 * construction), renormalized by 16-bit words without branches; division
 * by reciprocal multiplication. Codec 7's block has eight states taking
 * words from one stream in symbol order, so eight symbols code as one
 * AVX2 step; codec 6's (rans4) has four, each with a stream of its own,
 * and is kept to read what it wrote. Block layouts in docs/FORMAT.md.
 */
#ifndef MVM_STORE_RANS_H
#define MVM_STORE_RANS_H

#include <stddef.h>
#include <stdint.h>

#define MVM_RANS_MAX_SYMBOLS 512

/*
 * Code sym[0, n) (each < nsyms <= MVM_RANS_MAX_SYMBOLS, n >= 1) into dst.
 * @return bytes written, or 0 when they would not fit in cap (or out of memory).
 */
size_t mvm_rans_encode(unsigned char *dst, size_t cap, const uint16_t *sym, size_t n, unsigned int nsyms);

/*
 * Decode n symbols from exactly src[0, len) into sym. @return 0, or
 * MVM_ECORRUPT for a bad table, a stream too short or too long, or final
 * states other than the encoder's first ones.
 */
int mvm_rans_decode(uint16_t *sym, size_t n, const unsigned char *src, size_t len, unsigned int nsyms);

/* One block to decode: n symbols into sym from exactly src[0, len). */
typedef struct {
	uint16_t *sym;
	size_t n;
	const unsigned char *src;
	size_t len;
} mvm_rans_block;

/*
 * Decode count blocks, each as mvm_rans_decode would; where the CPU has
 * AVX-512 (mvm_cpu_avx512) up to four at once, their steps interleaved
 * (ransgroup.c). @return 0, or the error of the first block that fails
 * (the symbols of every block are then undefined).
 */
int mvm_rans_decode_many(const mvm_rans_block *b, size_t count, unsigned int nsyms);

/* The same for codec 6's four-stream block. */
size_t mvm_rans4_encode(unsigned char *dst, size_t cap, const uint16_t *sym, size_t n, unsigned int nsyms);
int mvm_rans4_decode(uint16_t *sym, size_t n, const unsigned char *src, size_t len, unsigned int nsyms);

#endif
