/*
 * hash.h: SHA-256 through OpenSSL EVP (uses SHA-NI where the CPU has it).
 */
#ifndef MVM_UTIL_HASH_H
#define MVM_UTIL_HASH_H

#include <stddef.h>
#include "mvm/common.h"

typedef struct mvm_sha256 mvm_sha256;

int mvm_sha256_new(mvm_sha256 **out);
int mvm_sha256_update(mvm_sha256 *h, const void *p, size_t n);
/** Finish into `out`; the context is reset and can hash again. */
int mvm_sha256_final(mvm_oid *out, mvm_sha256 *h);
void mvm_sha256_free(mvm_sha256 *h);

/** One-shot SHA-256 of a buffer. */
int mvm_sha256_buf(mvm_oid *out, const void *p, size_t n);

#endif
