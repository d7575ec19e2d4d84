/*
 * hash.h: SHA-256, on our SHA-NI code where the CPU has it (two streams at
 * once interleave, sha256ni.h), through OpenSSL EVP elsewhere.
 */
#ifndef MVM_UTIL_HASH_H
#define MVM_UTIL_HASH_H

#include <stddef.h>
#include "mvm/common.h"

typedef struct mvm_sha256 mvm_sha256;

int mvm_sha256_new(mvm_sha256 **out);
int mvm_sha256_update(mvm_sha256 *h, const void *p, size_t n);
/**
 * Feed pa to a and pb to b, the same as two mvm_sha256_update calls but
 * with the two streams' rounds interleaved where the CPU has SHA-NI:
 * about 1.5x the bytes per second of one stream on one core.
 */
int mvm_sha256_update2(mvm_sha256 *a, const void *pa, size_t na, mvm_sha256 *b, const void *pb, size_t nb);
/**
 * The SHA-256 of each of count buffers (p[k], n[k] bytes) into out[k]:
 * sixteen at a time in AVX-512 lanes where the CPU has them (sha256mb.h;
 * a lane that is done takes the next buffer), the rest two at a time
 * through the contexts h[0] and h[1] (mvm_sha256_update2), which are left
 * reset. Give it MVM_SHA256_MANY at a time where there are as many: the
 * lanes ran 3.0 GB/s a core against 1.95 for two SHA-NI streams on the
 * bench's Xeon.
 */
#define MVM_SHA256_MANY 64
int mvm_sha256_many(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count, mvm_sha256 *const *h);
/** Whether mvm_sha256_many hashes count buffers in vector lanes (else two streams at a time). */
int mvm_sha256_many_wide(size_t count);
/** Finish into `out`; the context is reset and can hash again. */
int mvm_sha256_final(mvm_oid *out, mvm_sha256 *h);
void mvm_sha256_free(mvm_sha256 *h);

/** One-shot SHA-256 of a buffer. */
int mvm_sha256_buf(mvm_oid *out, const void *p, size_t n);

#endif
