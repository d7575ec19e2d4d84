/*
 * expcode.h: codec 6, BF16 and F32 chunks with each element's exponent and
 * top mantissa bit entropy-coded as one symbol (rANS), the rest packed or
 * raw. Layout in docs/FORMAT.md.
 */
#ifndef MVM_STORE_EXPCODE_H
#define MVM_STORE_EXPCODE_H

#include <stddef.h>

/*
 * Encode n bytes of whole elements (elem 2 or 4) into dst (cap bytes).
 * *out_len is 0 when codec 6 does not apply (the bytes below the exponent
 * do not look random, so codec 5 would code them) or does not fit.
 */
int mvm_expcode_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src, size_t n,
		       unsigned int elem);
/** Decode exactly n bytes; anything else is MVM_ECORRUPT. */
int mvm_expcode_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored);

#endif
