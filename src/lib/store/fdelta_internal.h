/*
 * fdelta_internal.h: what codec 4's 16-bit (fdelta.c) and 32-bit
 * (fdelta32.c) element paths share: the layout, and how one stream is
 * stored, raw, zstd-coded, all zero or sparse (fdelta_stream.c).
 */
#ifndef MVM_STORE_FDELTA_INTERNAL_H
#define MVM_STORE_FDELTA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "fdelta_group.h"

#define FD_MIN_CODED 64 /* shorter parts are stored raw */

/*
 * What a layout fixes: how many classes, how many binades each (1 << shift),
 * and, from version 2 on, magicless zstd frames and varint part headers.
 */
typedef struct {
	unsigned int classes, shift, v2;
} fd_layout;

/** Number of zero bytes of p. */
size_t mvm_fdelta_zeros(const unsigned char *p, size_t n);

/*
 * Append p (len bytes) at dst + *off as one part, zstd-coded when `try`
 * and that is smaller, else raw; MVM_ETOOLARGE past cap.
 */
int mvm_fdelta_put_coded(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
			 const fd_layout *l, int try);

/*
 * Append p as one stream: all zero, sparse when at least half its bytes
 * are zero, else as mvm_fdelta_put_coded. tmp holds len + len / 8 + 1 bytes.
 */
int mvm_fdelta_put_stream(unsigned char *dst, size_t cap, size_t *off, const unsigned char *p, size_t len,
			  unsigned char *tmp, const fd_layout *l);

/*
 * Read the stream at src + *off (stored bytes in all) into exactly want
 * bytes of out, *off moved past it; tmp holds want + want / 8 + 2 bytes.
 * MVM_ECORRUPT when it does not decode to want bytes.
 */
int mvm_fdelta_get_stream(unsigned char *out, size_t want, const unsigned char *src, size_t stored, size_t *off,
			  unsigned char *tmp, ZSTD_DCtx *dctx, const fd_layout *l);

/*
 * Class of each 16-bit element of base (BF16 or F16 `kind`): its
 * exponent's distance below the chunk's largest, >> l->shift, the last
 * class open-ended; counts[k] = elements in class k. cls holds count +
 * FD_SLACK bytes.
 */
void mvm_fdelta_classify(unsigned char *cls, size_t counts[FD_MAX_CLASSES], const unsigned char *base,
			 size_t count, unsigned int kind, const fd_layout *l);

/*
 * The 16-bit values d in two byte planes, each split by class: stream
 * (p, k) is byte p of d for the elements of class k, streams in the order
 * (0, 0) .. (0, C-1), (1, 0) .. (1, C-1); and back. With raw_if_random,
 * streams that look random are stored raw without a zstd attempt.
 */
int mvm_fdelta_put_planes(unsigned char *dst, size_t cap, size_t *off, const uint16_t *d, const unsigned char *cls,
			  size_t count, const size_t counts[FD_MAX_CLASSES], const fd_layout *l, int raw_if_random);
int mvm_fdelta_get_planes(uint16_t *d, const unsigned char *src, size_t stored, size_t *off, const unsigned char *cls,
			  size_t count, const size_t counts[FD_MAX_CLASSES], ZSTD_DCtx *dctx, const fd_layout *l);

/*
 * F32 chunks (fdelta32.c): code src against base (n bytes each, n a
 * multiple of 4) into dst after the 2-byte kind/layout header the caller
 * wrote, *off at its end; and decode.
 */
int mvm_fdelta32_encode(unsigned char *dst, size_t cap, size_t *off, const unsigned char *src,
			const unsigned char *base, size_t n, const fd_layout *l);
int mvm_fdelta32_decode(unsigned char *dst, size_t n, const unsigned char *src, size_t stored, size_t *off,
			const unsigned char *base, ZSTD_DCtx *dctx, const fd_layout *l);

#endif
