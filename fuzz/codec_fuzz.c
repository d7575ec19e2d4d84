/*
 * codec_fuzz.c: decoding a stored chunk must never crash or write past
 * its output, whatever the bytes and the codec the index claims, and a
 * chunk that decodes must do so the same way twice, and the same way
 * again decoded together with a copy of itself (mvm_codec_decode_many).
 *
 * Input: u8 codec  u8 kind-or-pad  u16 raw_len/2 (little-endian), then
 * the stored bytes. Delta codecs decode against a fixed BF16-like base.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *base, *out, *again;
	uint32_t codec;
	size_t raw_len, i;
	int error;

	if (size < 4)
		return 0;
	codec = data[0] % (MVM_CODEC_COUNT + 1); /* one past the last: unknown codec */
	raw_len = 2 * (size_t)(data[2] | data[3] << 8);
	if (!(base = malloc(raw_len + 1)) || !(out = malloc(raw_len + 1)) || !(again = malloc(raw_len + 1)))
		abort();
	for (i = 0; i < raw_len; i++)
		base[i] = (unsigned char)(i % 2 ? 0x3c + (i / 2) % 5 : i * 37);
	if (mvm_codec_is_delta(codec))
		error = mvm_codec_decode_xor(out, raw_len, data + 4, size - 4, codec, base);
	else
		error = mvm_codec_decode(out, raw_len, data + 4, size - 4, codec);
	if (error == 0) {
		int again_error = mvm_codec_is_delta(codec)
			? mvm_codec_decode_xor(again, raw_len, data + 4, size - 4, codec, base)
			: mvm_codec_decode(again, raw_len, data + 4, size - 4, codec);
		if (again_error || memcmp(out, again, raw_len))
			abort();
	}
	if (!mvm_codec_is_delta(codec)) { /* twice in one call, the entropy decoding of both together: the same */
		mvm_codec_job jobs[2] = { { again, raw_len, data + 4, size - 4, codec },
					  { base, raw_len, data + 4, size - 4, codec } };
		int many_error = mvm_codec_decode_many(jobs, 2);

		if ((many_error == 0) != (error == 0) ||
		    (error == 0 && (memcmp(out, again, raw_len) || memcmp(out, base, raw_len))))
			abort();
	}
	free(base);
	free(out);
	free(again);
	return 0;
}
