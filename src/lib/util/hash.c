/*
 * hash.c: SHA-256 wrappers over OpenSSL EVP. OpenSSL errors are translated
 * into mvm errors here, once.
 */
#include <stdlib.h>
#include <openssl/evp.h>

#include "hash.h"

struct mvm_sha256 {
	EVP_MD_CTX *ctx;
};

int mvm_sha256_new(mvm_sha256 **out)
{
	mvm_sha256 *h;

	*out = NULL;
	if (!(h = calloc(1, sizeof(*h))) || !(h->ctx = EVP_MD_CTX_new())) {
		free(h);
		return mvm_error_set(MVM_ERROR, "out of memory for a hash context");
	}
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		mvm_sha256_free(h);
		return mvm_error_set(MVM_ERROR, "OpenSSL: cannot start SHA-256");
	}
	*out = h;
	return 0;
}

int mvm_sha256_update(mvm_sha256 *h, const void *p, size_t n)
{
	if (EVP_DigestUpdate(h->ctx, p, n) != 1)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 update failed");
	return 0;
}

int mvm_sha256_final(mvm_oid *out, mvm_sha256 *h)
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(h->ctx, out->id, &len) != 1 || len != MVM_OID_RAWSZ ||
	    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 final failed");
	return 0;
}

void mvm_sha256_free(mvm_sha256 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int mvm_sha256_buf(mvm_oid *out, const void *p, size_t n)
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out->id, &len, EVP_sha256(), NULL) != 1 || len != MVM_OID_RAWSZ)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 failed");
	return 0;
}
