/*
 * fdelta.h: codec 4, the difference of a BF16/F16 chunk from its base
 * coded in streams split by the base's exponent (see fdelta.c).
 */
#ifndef MVM_STORE_FDELTA_H
#define MVM_STORE_FDELTA_H

#include <stddef.h>
#include <zstd.h>

/** Whether codec 4 can code a chunk: BF16/F16, whole elements from its start. */
int mvm_fdelta_fits(unsigned int kind, unsigned int phase, size_t n);

/*
 * Code src as a delta against base (n bytes each) into dst (cap bytes),
 * without the base id the caller writes first. MVM_ETOOLARGE when it does
 * not fit.
 */
int mvm_fdelta_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
		      const unsigned char *base, size_t n, unsigned int kind);

/** The same in the version-1 layout (4 classes, framed zstd), which readers still decode; for tests. */
int mvm_fdelta_encode_v1(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
			 const unsigned char *base, size_t n, unsigned int kind);

/** Decode exactly n bytes given the base's n bytes; anything else is MVM_ECORRUPT. */
int mvm_fdelta_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
		      const unsigned char *base, ZSTD_DCtx *dctx);

#endif
