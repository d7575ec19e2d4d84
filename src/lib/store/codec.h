/*
 * codec.h: per-chunk codecs. The codec of each chunk is recorded in the
 * pack index, so a repository can mix them; readers must know every codec.
 */
#ifndef MVM_STORE_CODEC_H
#define MVM_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	MVM_CODEC_RAW = 0,       /* stored as is */
	MVM_CODEC_ZSTD = 1,      /* one zstd frame */
	MVM_CODEC_BYTEGROUP = 2, /* float bytes split into planes, each zstd or raw */
	MVM_CODEC_COUNT
} mvm_codec;

/*
 * What the chunk holds, for float-aware coding: elem is the element size
 * of its tensor's dtype when that is a float type (2 for BF16/F16, 4 for
 * F32), else 0; phase is the chunk's start offset within its tensor modulo
 * elem (chunks are cut by content, so they may start mid-element).
 */
typedef struct {
	unsigned int elem, phase;
} mvm_codec_hint;

#define MVM_CODEC_HINT_NONE { 0, 0 }

/** Largest stored size for n raw bytes (stored raw when compression does not pay). */
size_t mvm_codec_bound(size_t n);

/*
 * Compress src into dst (at least mvm_codec_bound(n) bytes) at zstd `level`:
 * byte-grouped when the hint names a float element size, plain zstd
 * otherwise, raw when neither is smaller. Uses per-thread contexts.
 */
int mvm_codec_encode(void *dst, size_t *dst_len, uint32_t *codec,
		     const void *src, size_t n, int level, const mvm_codec_hint *hint);

/** Decode exactly raw_len bytes into dst; anything else is MVM_ECORRUPT. */
int mvm_codec_decode(void *dst, size_t raw_len, const void *src, size_t stored_len,
		     uint32_t codec);

#endif
