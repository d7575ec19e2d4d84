/*
 * codec.h: per-chunk codecs. The codec of each chunk is recorded in the
 * pack index, so a repository can mix them; readers must know every codec.
 */
#ifndef MVM_STORE_CODEC_H
#define MVM_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "mvm/common.h"

typedef enum {
	MVM_CODEC_RAW = 0,       /* stored as is */
	MVM_CODEC_ZSTD = 1,      /* one zstd frame */
	MVM_CODEC_BYTEGROUP = 2, /* float bytes split into planes, each zstd or raw */
	MVM_CODEC_XOR = 3,       /* base chunk id + byte-grouped XOR against the base */
	MVM_CODEC_FDELTA = 4,    /* base chunk id + BF16/F16/F32 differences in streams split by the base's exponent */
	MVM_CODEC_EXPONENT = 5,  /* BF16/F32 elements rotated so the exponent fills a byte, then as codec 2 */
	MVM_CODEC_EXPCODE = 6,   /* BF16/F32: exponent + top mantissa bit rANS-coded, 7 bits packed, rest raw */
	MVM_CODEC_EXPCODE8 = 7,  /* codec 6 with eight rANS states over one stream (what add writes) */
	MVM_CODEC_COUNT
} mvm_codec;

/** Codecs 3 and 4 store a delta: the base chunk's id comes first. */
static inline int mvm_codec_is_delta(uint32_t codec)
{
	return codec == MVM_CODEC_XOR || codec == MVM_CODEC_FDELTA;
}

/** The float type of a tensor, for codecs that read exponents. */
typedef enum {
	MVM_FLOAT_NONE = 0,
	MVM_FLOAT_BF16 = 1,
	MVM_FLOAT_F16 = 2,
	MVM_FLOAT_F32 = 3,
	MVM_FLOAT_F64 = 4,
} mvm_float_kind;

/*
 * What the chunk holds, for float-aware coding: elem is the element size
 * of its tensor's dtype when that is a float type (2 for BF16/F16, 4 for
 * F32, 8 for F64), else 0; phase is the chunk's start offset within its tensor modulo
 * elem (chunks are cut by content, so they may start mid-element); kind
 * is an mvm_float_kind.
 */
typedef struct {
	unsigned int elem, phase, kind;
} mvm_codec_hint;

#define MVM_CODEC_HINT_NONE { 0, 0, 0 }

/** The float kind and element size of a dtype name ("F64", "F32", "F16", "BF16"); elem 0 for any other. */
void mvm_codec_float_hint(mvm_codec_hint *h, const char *dtype);

/* Per-thread scratch buffers of the codecs, one per slot. */
enum {
	MVM_SCRATCH_PLANES, MVM_SCRATCH_XOR, MVM_SCRATCH_STREAMS, MVM_SCRATCH_CLASSES, MVM_SCRATCH_WORDS,
	MVM_SCRATCH_GROUPED, MVM_SCRATCH_RANS, MVM_SCRATCH_ALT, MVM_SCRATCH_GROUP, MVM_SCRATCH_SLOTS
};

/** This thread's scratch buffer `slot`, grown to at least n bytes (NULL when out of memory). */
unsigned char *mvm_codec_scratch(unsigned int slot, size_t n);
/** out = a XOR b, n bytes (out may be a or b). */
void mvm_xor_bytes(unsigned char *out, const unsigned char *a, const unsigned char *b, size_t n);

/** One chunk to decode: raw_len bytes into dst from src[0, stored_len), stored with codec. */
typedef struct {
	void *dst;
	size_t raw_len;
	const void *src;
	size_t stored_len;
	uint32_t codec;
} mvm_codec_job;

/** Largest stored size for n raw bytes (stored raw when compression does not pay). */
size_t mvm_codec_bound(size_t n);

/*
 * Compress src into dst (at least mvm_codec_bound(n) bytes) at zstd `level`:
 * for BF16 and F32 chunks of whole elements whose mantissa bytes look
 * random, exponents rANS-coded (codec 6); other float chunks byte-grouped
 * (exponent first, codec 5, for BF16 and F32; codec 2 for F16). A chunk
 * without a float hint that looks like floats all the same
 * (mvm_float_guess) is coded the same way when that saves 10%; else plain
 * zstd; raw when none is smaller. Uses per-thread contexts.
 */
int mvm_codec_encode(void *dst, size_t *dst_len, uint32_t *codec,
		     const void *src, size_t n, int level, const mvm_codec_hint *hint);

/*
 * Encode src as a delta against `base` (same length n): the base id, then
 * the elements' differences in streams split by the base's exponent
 * (codec 4, whole BF16/F16 elements) or the byte-grouped XOR (codec 3),
 * *codec says which. *dst_len is 0 when
 * that does not fit in `cap` or would not be smaller than n. dst needs
 * mvm_codec_bound(n) bytes.
 */
int mvm_codec_encode_xor(void *dst, size_t cap, size_t *dst_len, uint32_t *codec, const void *src,
			 const void *base, const mvm_oid *base_id, size_t n, const mvm_codec_hint *hint);

/*
 * Decode exactly raw_len bytes into dst; anything else is MVM_ECORRUPT.
 * Delta codecs need their base: decode them with mvm_codec_decode_xor.
 */
int mvm_codec_decode(void *dst, size_t raw_len, const void *src, size_t stored_len,
		     uint32_t codec);
/* Codec 7 chunks whose entropy decoding runs together, at most (see ransgroup.c). */
#define MVM_CODEC_GROUP 4

/*
 * Decode count chunks, each as mvm_codec_decode would (no deltas), the
 * entropy decoding of codec 7 chunks MVM_CODEC_GROUP at once (mvm_rans_decode_many).
 * @return 0, or the first error (the other chunks' bytes are then undefined).
 */
int mvm_codec_decode_many(const mvm_codec_job *jobs, size_t count);

/** Base id named by a delta chunk. */
int mvm_codec_xor_base(mvm_oid *out, const void *stored, size_t stored_len);
/** Decode a delta chunk (codec 3 or 4) given its base's raw bytes (raw_len bytes). */
int mvm_codec_decode_xor(void *dst, size_t raw_len, const void *stored, size_t stored_len,
			 uint32_t codec, const void *base);

#endif
