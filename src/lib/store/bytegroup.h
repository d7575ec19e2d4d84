/*
 * bytegroup.h: byte-plane coding of float tensor bytes (codec 2; codec 5
 * rotates each element left one bit first so its exponent fills a byte).
 */
#ifndef MVM_STORE_BYTEGROUP_H
#define MVM_STORE_BYTEGROUP_H

#include <stddef.h>
#include <zstd.h>

/*
 * Entropy-code one plane or stream of bytes (zstd's fastest level with
 * Huffman literals forced). Returns the coded size, or 0 when that is not
 * smaller than n or does not fit in cap.
 */
size_t mvm_plane_compress(unsigned char *dst, size_t cap, const unsigned char *src, size_t n);
/*
 * The same without the randomness test, in a bare frame: no magic number
 * and no content size (the reader knows the length; decode with
 * ZSTD_d_format set to ZSTD_f_zstd1_magicless). Codec 4, layout 2.
 */
size_t mvm_plane_compress_bare(unsigned char *dst, size_t cap, const unsigned char *src, size_t n);
/*
 * Whether a plane looks too random for entropy coding to pay: collision
 * entropy of ~1024 evenly spaced samples at least 7.6 bits per byte.
 */
int mvm_plane_looks_random(const unsigned char *p, size_t n);

/*
 * Byte j of every element of src (n bytes, the first `phase` of them the
 * end of an element begun before) into plane[j]; whole elements rotated
 * left `rot` bits (0 or 1) first. join is the inverse.
 */
void mvm_bytegroup_split(unsigned char *const *plane, const unsigned char *src, size_t n, unsigned int elem,
			 unsigned int phase, unsigned int rot);
void mvm_bytegroup_join(unsigned char *dst, const unsigned char *const *plane, size_t n, unsigned int elem,
			unsigned int phase, unsigned int rot);

size_t mvm_bytegroup_header(unsigned int elem);
/** Encode into dst (cap bytes), rotate 1 for codec 5; MVM_ETOOLARGE when it does not fit. */
int mvm_bytegroup_encode(unsigned char *dst, size_t cap, size_t *out_len, const unsigned char *src,
			 size_t n, unsigned int elem, unsigned int phase, unsigned int rotate);
/** Decode exactly n bytes (rotate as encoded); anything else is MVM_ECORRUPT. */
int mvm_bytegroup_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored,
			 ZSTD_DCtx *dctx, unsigned int rotate);

#endif
