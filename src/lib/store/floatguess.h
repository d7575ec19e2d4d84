/*
 * floatguess.h: float-aware coding for bytes of no known tensor.
 *
 * A file mvm cannot parse (a PyTorch pickle archive, ONNX, NumPy, a raw
 * dump) often holds little-endian F32 or 16-bit float weights all the
 * same. mvm_float_guess looks at a sample of a chunk and says whether it
 * does, with the element size and where elements start, so the chunk
 * gets the float codecs instead of zstd.
 */
#ifndef MVM_STORE_FLOATGUESS_H
#define MVM_STORE_FLOATGUESS_H

#include <stddef.h>
#include "codec.h"

/* Chunks shorter than this are not looked at: their sample says too little. */
#define MVM_FLOAT_GUESS_MIN 4096

/*
 * Whether the n bytes at p look like little-endian floats: 1 with *out
 * set (elem 4 and kind F32, elem 8 and kind F64, or elem 2 and kind BF16,
 * whose coding also suits F16; phase: where the chunk starts within an
 * element), else 0.
 */
int mvm_float_guess(mvm_codec_hint *out, const unsigned char *p, size_t n);

#endif
