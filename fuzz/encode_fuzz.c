/*
 * encode_fuzz.c: whatever the bytes, encoding a chunk and decoding what
 * was stored gives the same bytes back, with no hint (zstd, or floats
 * guessed by store/floatguess.c) and with every float hint at every
 * phase, as the scanner would pass for a chunk of a tensor.
 *
 * Input: u8 selector (mod 5: 0 no hint, else BF16, F16, F32 or F64; the
 * rest picks the phase), then the chunk's bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int kinds[] = { MVM_FLOAT_BF16, MVM_FLOAT_F16, MVM_FLOAT_F32, MVM_FLOAT_F64 };
	mvm_codec_hint hint = MVM_CODEC_HINT_NONE;
	unsigned char *enc, *back;
	uint32_t codec;
	size_t n, len;

	if (size < 1)
		return 0;
	len = size - 1;
	if (data[0] % 5) {
		hint.kind = kinds[data[0] % 5 - 1];
		hint.elem = hint.kind == MVM_FLOAT_F64 ? 8 : hint.kind == MVM_FLOAT_F32 ? 4 : 2;
		hint.phase = (data[0] / 5) % hint.elem;
	}
	if (!(enc = malloc(mvm_codec_bound(len) + 1)) || !(back = malloc(len + 1)))
		abort();
	if (mvm_codec_encode(enc, &n, &codec, data + 1, len, 1, &hint) < 0 || n > mvm_codec_bound(len) ||
	    mvm_codec_decode(back, len, enc, n, codec) < 0 || memcmp(back, data + 1, len))
		abort();
	free(enc);
	free(back);
	return 0;
}
