/*
 * hash.c: SHA-256. On a CPU with SHA-NI every hash keeps its own state and
 * compresses with sha256ni.c: two streams can then advance together with
 * their rounds interleaved (mvm_sha256_update2), which no OpenSSL
 * interface offers, and one stream alone runs as fast as OpenSSL's.
 * Elsewhere hashes go through OpenSSL EVP, loaded on first use
 * (libcrypto.h), so a process that hashes nothing never loads it. Many
 * independent buffers (chunk ids) go sixteen at a time through AVX-512
 * lanes where the CPU has them (sha256mb.c). OpenSSL
 * errors are translated into mvm errors here, once.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "hash.h"
#include "libcrypto.h"
#include "sha256mb.h"
#include "sha256ni.h"

struct mvm_sha256 {
	EVP_MD_CTX *ctx;              /* NULL: the SHA-NI state below */
	const mvm_libcrypto *lib;     /* with ctx */
	mvm_sha256ni_state st;
	unsigned char block[64];      /* bytes of a block not yet compressed */
	size_t held;
	uint64_t total;
};

static void ni_reset(mvm_sha256 *h)
{
	mvm_sha256ni_init(&h->st);
	h->held = 0;
	h->total = 0;
}

int mvm_sha256_new(mvm_sha256 **out)
{
	const mvm_libcrypto *lib = NULL;
	mvm_sha256 *h;

	*out = NULL;
	if (!mvm_cpu_sha_ni() && !(lib = mvm_libcrypto_get()))
		return MVM_ERROR;
	if (!(h = calloc(1, sizeof(*h))))
		return mvm_error_set(MVM_ERROR, "out of memory for a hash context");
	if (!lib) {
		ni_reset(h);
		*out = h;
		return 0;
	}
	h->lib = lib;
	if (!(h->ctx = lib->md_ctx_new())) {
		free(h);
		return mvm_error_set(MVM_ERROR, "out of memory for a hash context");
	}
	if (lib->digest_init_ex(h->ctx, lib->sha256(), NULL) != 1) {
		mvm_sha256_free(h);
		return mvm_error_set(MVM_ERROR, "OpenSSL: cannot start SHA-256");
	}
	*out = h;
	return 0;
}

/*
 * Top up the held partial block from *p; compress it once full. Returns
 * with the held block empty or all of *p taken.
 */
static void ni_fill(mvm_sha256 *h, const unsigned char **p, size_t *n)
{
	size_t take;

	if (!h->held)
		return;
	take = 64 - h->held < *n ? 64 - h->held : *n;
	memcpy(h->block + h->held, *p, take);
	h->held += take;
	h->total += take;
	*p += take;
	*n -= take;
	if (h->held == 64) {
		mvm_sha256ni_blocks(&h->st, h->block, 1);
		h->held = 0;
	}
}

/* Whole blocks of p were compressed by the caller: keep the rest. */
static void ni_keep_tail(mvm_sha256 *h, const unsigned char *p, size_t n)
{
	size_t whole = n & ~(size_t)63;

	h->total += n;
	memcpy(h->block, p + whole, n - whole);
	h->held = n - whole;
}

static void ni_update(mvm_sha256 *h, const unsigned char *p, size_t n)
{
	ni_fill(h, &p, &n);
	if (!n)
		return;
	mvm_sha256ni_blocks(&h->st, p, n / 64);
	ni_keep_tail(h, p, n);
}

static void ni_final(mvm_oid *out, mvm_sha256 *h)
{
	uint64_t bits = h->total * 8;
	int i;

	h->block[h->held++] = 0x80;
	if (h->held > 56) {
		memset(h->block + h->held, 0, 64 - h->held);
		mvm_sha256ni_blocks(&h->st, h->block, 1);
		h->held = 0;
	}
	memset(h->block + h->held, 0, 56 - h->held);
	for (i = 0; i < 8; i++)
		h->block[63 - i] = (unsigned char)(bits >> (8 * i));
	mvm_sha256ni_blocks(&h->st, h->block, 1);
	mvm_sha256ni_digest(out->id, &h->st);
	ni_reset(h);
}

int mvm_sha256_update(mvm_sha256 *h, const void *p, size_t n)
{
	if (!h->ctx) {
		ni_update(h, p, n);
		return 0;
	}
	if (h->lib->digest_update(h->ctx, p, n) != 1)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 update failed");
	return 0;
}

int mvm_sha256_update2(mvm_sha256 *a, const void *pa, size_t na, mvm_sha256 *b, const void *pb, size_t nb)
{
	const unsigned char *qa = pa, *qb = pb;
	size_t both;
	int error;

	if (a->ctx || b->ctx) {
		if ((error = mvm_sha256_update(a, pa, na)) < 0)
			return error;
		return mvm_sha256_update(b, pb, nb);
	}
	ni_fill(a, &qa, &na);
	ni_fill(b, &qb, &nb);
	/* a stream still holding a partial block took all its bytes into it: both is then 0 */
	both = (na < nb ? na : nb) / 64;
	if (both) {
		mvm_sha256ni_blocks2(&a->st, qa, &b->st, qb, both);
		a->total += 64 * both;
		b->total += 64 * both;
		qa += 64 * both, na -= 64 * both;
		qb += 64 * both, nb -= 64 * both;
	}
	ni_update(a, qa, na);
	ni_update(b, qb, nb);
	return 0;
}

/* Two at a time through h[0] and h[1]. */
static int sha256_pairs(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count,
			mvm_sha256 *const *h)
{
	size_t i, k;
	int error = 0;

	for (i = 0; i < count && !error; i += 2) {
		size_t two = count - i > 1;

		error = two ? mvm_sha256_update2(h[0], p[i], n[i], h[1], p[i + 1], n[i + 1])
			    : mvm_sha256_update(h[0], p[i], n[i]);
		for (k = 0; k <= two; k++) { /* both finished, whatever happens: the contexts are left reset */
			int final = mvm_sha256_final(&out[i + k], h[k]);

			error = error ? error : final;
		}
	}
	return error;
}

/*
 * Sixteen lanes cost as much as all sixteen used: below eleven buffers
 * two SHA-NI streams are faster, so the lanes take whole sixteens and a
 * rest of eleven or more. Without SHA-NI (Skylake-SP, Cascade Lake) the
 * other path is OpenSSL one stream at a time: the lanes take any rest of two.
 */
#define MB_LANES 16

static size_t lanes_min(void)
{
	return mvm_cpu_sha_ni() ? 11 : 2;
}

int mvm_sha256_many_wide(size_t count)
{
	return mvm_sha256mb_available() && count >= lanes_min();
}

int mvm_sha256_many(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count, mvm_sha256 *const *h)
{
	size_t lanes = count / MB_LANES * MB_LANES;

	if (!mvm_sha256mb_available())
		return sha256_pairs(out, p, n, count, h);
	if (count - lanes >= lanes_min())
		lanes = count;
	if (lanes)
		mvm_sha256mb(out, p, n, lanes);
	return sha256_pairs(out + lanes, p + lanes, n + lanes, count - lanes, h);
}

int mvm_sha256_final(mvm_oid *out, mvm_sha256 *h)
{
	unsigned int len = 0;

	if (!h->ctx) {
		ni_final(out, h);
		return 0;
	}
	if (h->lib->digest_final_ex(h->ctx, out->id, &len) != 1 || len != MVM_OID_RAWSZ ||
	    h->lib->digest_init_ex(h->ctx, h->lib->sha256(), NULL) != 1)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 final failed");
	return 0;
}

void mvm_sha256_free(mvm_sha256 *h)
{
	if (!h)
		return;
	if (h->ctx)
		h->lib->md_ctx_free(h->ctx);
	free(h);
}

int mvm_sha256_buf(mvm_oid *out, const void *p, size_t n)
{
	const mvm_libcrypto *lib;
	unsigned int len = 0;

	if (mvm_cpu_sha_ni()) {
		mvm_sha256 h = { 0 };

		ni_reset(&h);
		ni_update(&h, p, n);
		ni_final(out, &h);
		return 0;
	}
	if (!(lib = mvm_libcrypto_get()))
		return MVM_ERROR;
	if (lib->digest(p, n, out->id, &len, lib->sha256(), NULL) != 1 || len != MVM_OID_RAWSZ)
		return mvm_error_set(MVM_ERROR, "OpenSSL: SHA-256 failed");
	return 0;
}
