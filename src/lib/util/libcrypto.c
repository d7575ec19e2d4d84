/*
 * libcrypto.c: load OpenSSL's libcrypto on first use (see libcrypto.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "mvm/common.h"
#include "libcrypto.h"

static mvm_libcrypto lib;
static const mvm_libcrypto *loaded;
static char why[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* dlsym gives a data pointer; POSIX guarantees it converts to the function's. */
#define RESOLVE(field, name)                                                       \
	do {                                                                       \
		if (!(*(void **)&lib.field = dlsym(handle, name))) {               \
			snprintf(why, sizeof(why), "%s has no %s", MVM_LIBCRYPTO_SONAME, name); \
			return;                                                    \
		}                                                                  \
	} while (0)

static void load(void)
{
	void *handle = dlopen(MVM_LIBCRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *err;

	if (!handle) {
		err = dlerror();
		snprintf(why, sizeof(why), "%s", err ? err : "dlopen failed");
		return;
	}
	RESOLVE(md_ctx_new, "EVP_MD_CTX_new");
	RESOLVE(md_ctx_free, "EVP_MD_CTX_free");
	RESOLVE(sha256, "EVP_sha256");
	RESOLVE(digest_init_ex, "EVP_DigestInit_ex");
	RESOLVE(digest_update, "EVP_DigestUpdate");
	RESOLVE(digest_final_ex, "EVP_DigestFinal_ex");
	RESOLVE(digest, "EVP_Digest");
	loaded = &lib; /* the handle stays open for the life of the process */
}

const mvm_libcrypto *mvm_libcrypto_get(void)
{
	pthread_once(&load_once, load);
	if (!loaded)
		mvm_error_set(MVM_ERROR, "cannot load OpenSSL's libcrypto (package libssl3): %s", why);
	return loaded;
}
