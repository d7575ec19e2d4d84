/*
 * expcode.h: codecs 6 and 7, BF16 and F32 chunks with each element's
 * exponent and top mantissa bit entropy-coded as one symbol (rANS), the
 * rest packed or raw. They differ only in the rANS block (codec 7: eight
 * states over one stream; codec 6: four streams). Layout in docs/FORMAT.md.
 */
#ifndef MVM_STORE_EXPCODE_H
#define MVM_STORE_EXPCODE_H

#include <stddef.h>

#include "codec.h"

/*
 * Encode n bytes of whole elements (elem 2 or 4) into dst (cap bytes) as
 * codec (MVM_CODEC_EXPCODE8; MVM_CODEC_EXPCODE only to test its reader).
 * *out_len is 0 when the codec does not apply (the bytes below the
 * exponent do not look random, so codec 5 would code them) or does not fit.
 */
int mvm_expcode_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src, size_t n,
		       unsigned int elem, unsigned int codec);
/** Decode exactly n bytes stored with codec; anything else is MVM_ECORRUPT. */
int mvm_expcode_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored, unsigned int codec);

/** Decode count (<= MVM_CODEC_GROUP) codec 7 chunks (jobs[k].codec is MVM_CODEC_EXPCODE8), their rANS blocks together. */
int mvm_expcode_decode_many(const mvm_codec_job *jobs, size_t count);

#endif
