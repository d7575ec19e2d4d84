/*
 * libcrypto.h: OpenSSL's libcrypto, loaded on first use rather than
 * linked. Loading it costs a process ~2.5 ms before main (about 21k
 * relocations, measured with LD_DEBUG=statistics), more than `mvm status`
 * spends on its own work, and most commands never call it: SHA-256 runs
 * on our SHA-NI code where the CPU has it (hash.c). The functions mvm
 * uses are resolved once, by name, from libcrypto.so.3, whose ABI OpenSSL
 * keeps stable across 3.x; their types come from OpenSSL's own headers.
 */
#ifndef MVM_UTIL_LIBCRYPTO_H
#define MVM_UTIL_LIBCRYPTO_H

#include <openssl/evp.h>

#define MVM_LIBCRYPTO_SONAME "libcrypto.so.3"

typedef struct {
	__typeof__(EVP_MD_CTX_new) *md_ctx_new;
	__typeof__(EVP_MD_CTX_free) *md_ctx_free;
	__typeof__(EVP_sha256) *sha256;
	__typeof__(EVP_DigestInit_ex) *digest_init_ex;
	__typeof__(EVP_DigestUpdate) *digest_update;
	__typeof__(EVP_DigestFinal_ex) *digest_final_ex;
	__typeof__(EVP_Digest) *digest;
} mvm_libcrypto;

/** The loaded library; NULL with the error set when it cannot be loaded. */
const mvm_libcrypto *mvm_libcrypto_get(void);

#endif
