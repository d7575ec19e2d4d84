/*
 * codec.h: per-chunk codecs. The codec of each chunk is recorded in the
 * pack index, so a repository can mix them; readers must know every codec.
 */
#ifndef MVM_STORE_CODEC_H
#define MVM_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
	MVM_CODEC_RAW = 0,   /* stored as is */
	MVM_CODEC_ZSTD = 1,  /* one zstd frame */
	MVM_CODEC_COUNT
} mvm_codec;

/** Largest stored size for n raw bytes (stored raw when compression does not pay). */
size_t mvm_codec_bound(size_t n);

/*
 * Compress src into dst (at least mvm_codec_bound(n) bytes) at zstd `level`,
 * falling back to raw when that is not smaller. Uses a per-thread context.
 */
int mvm_codec_encode(void *dst, size_t *dst_len, uint32_t *codec,
		     const void *src, size_t n, int level);

/** Decode exactly raw_len bytes into dst; anything else is MVM_ECORRUPT. */
int mvm_codec_decode(void *dst, size_t raw_len, const void *src, size_t stored_len,
		     uint32_t codec);

#endif
