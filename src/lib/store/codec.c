/*
 * codec.c: raw and zstd chunk codecs. zstd contexts are per thread (kept in
 * pthread keys, freed when the thread ends), so workers never share one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "mvm/common.h"
#include "mvm/maint.h"
#include "bytegroup.h"
#include "codec.h"
#include "expcode.h"
#include "fdelta.h"
#include "floatguess.h"

static pthread_key_t cctx_key, dctx_key;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void free_cctx(void *p) { ZSTD_freeCCtx(p); }
static void free_dctx(void *p) { ZSTD_freeDCtx(p); }

static void make_keys(void)
{
	pthread_key_create(&cctx_key, free_cctx);
	pthread_key_create(&dctx_key, free_dctx);
}

static ZSTD_CCtx *thread_cctx(void)
{
	ZSTD_CCtx *c;

	pthread_once(&keys_once, make_keys);
	if (!(c = pthread_getspecific(cctx_key)) && (c = ZSTD_createCCtx()))
		pthread_setspecific(cctx_key, c);
	return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
	ZSTD_DCtx *d;

	pthread_once(&keys_once, make_keys);
	if (!(d = pthread_getspecific(dctx_key)) && (d = ZSTD_createDCtx()))
		pthread_setspecific(dctx_key, d);
	return d;
}

size_t mvm_codec_bound(size_t n)
{
	size_t z = ZSTD_compressBound(n);
	return z > n ? z : n;
}

static int store_raw(void *dst, size_t *dst_len, uint32_t *codec, const void *src, size_t n)
{
	memcpy(dst, src, n);
	*dst_len = n;
	*codec = MVM_CODEC_RAW;
	return 0;
}

/*
 * BF16 and F32 keep the sign and 7 exponent bits in their top byte and the
 * last exponent bit in the next one: those are coded exponent first. An
 * F16 exponent (5 bits) already lies in its top byte, with the sign and 2
 * mantissa bits that compress no worse than the 3 a rotation would bring.
 */
static unsigned int exponent_straddles(unsigned int kind)
{
	return kind == MVM_FLOAT_BF16 || kind == MVM_FLOAT_F32;
}

/*
 * A float chunk: exponents rANS-coded when it is whole elements, else
 * byte-grouped. *dst_len is 0 when neither is smaller than n.
 */
static int encode_float(void *dst, size_t *dst_len, uint32_t *codec, const void *src, size_t n,
			const mvm_codec_hint *hint)
{
	unsigned int rotate = exponent_straddles(hint->kind);
	size_t z;
	int error;

	*dst_len = 0;
	if (rotate && hint->phase % hint->elem == 0 && n % hint->elem == 0) {
		if ((error = mvm_expcode_encode(dst, mvm_codec_bound(n), &z, src, n, hint->elem,
						MVM_CODEC_EXPCODE8)) < 0)
			return error;
		if (z && z < n) {
			*dst_len = z;
			*codec = MVM_CODEC_EXPCODE8;
			return 0;
		}
	}
	if (mvm_bytegroup_encode(dst, mvm_codec_bound(n), &z, src, n, hint->elem, hint->phase % hint->elem,
				 rotate) == 0 && z < n) {
		*dst_len = z;
		*codec = rotate ? MVM_CODEC_EXPONENT : MVM_CODEC_BYTEGROUP;
	}
	return 0;
}

/*
 * A float coding of a guessed float chunk is kept when it saves at least
 * this share: below that the guess was likely wrong (zstd may do better).
 */
#define GUESSED_FLOAT_MAX 0.9

static int encode_zstd(void *dst, size_t *dst_len, uint32_t *codec, const void *src, size_t n, int level)
{
	ZSTD_CCtx *c = thread_cctx();
	size_t z;

	if (!c)
		return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
	z = ZSTD_compressCCtx(c, dst, mvm_codec_bound(n), src, n, level);
	if (ZSTD_isError(z))
		return mvm_error_set(MVM_ERROR, "zstd: %s", ZSTD_getErrorName(z));
	if (z >= n)
		return store_raw(dst, dst_len, codec, src, n);
	*dst_len = z;
	*codec = MVM_CODEC_ZSTD;
	return 0;
}

/*
 * F64: byte-grouped (8 planes: sign and exponent in the top two compress,
 * the rest is near random; Gaussian values ~87% of their size against
 * zstd's ~95%) or zstd, whichever is smaller: doubles that are short
 * decimals (prices, measurements) repeat their low mantissa bytes, which
 * zstd finds and the planes do not (~44% against ~58%).
 */
static int encode_f64(void *dst, size_t *dst_len, uint32_t *codec, const void *src, size_t n, int level,
		      const mvm_codec_hint *hint)
{
	unsigned char *planes = mvm_codec_scratch(MVM_SCRATCH_ALT, mvm_codec_bound(n));
	size_t z = 0;
	int error;

	if (!planes)
		return mvm_error_set(MVM_ERROR, "out of memory for byte planes");
	if (mvm_bytegroup_encode(planes, mvm_codec_bound(n), &z, src, n, 8, hint->phase % 8, 0) < 0) {
		mvm_error_clear(); /* no room: zstd or raw */
		z = 0;
	}
	if ((error = encode_zstd(dst, dst_len, codec, src, n, level)) < 0)
		return error;
	if (z && z < *dst_len) {
		memcpy(dst, planes, z);
		*dst_len = z;
		*codec = MVM_CODEC_BYTEGROUP;
	}
	return 0;
}

void mvm_codec_float_hint(mvm_codec_hint *h, const char *dtype)
{
	static const struct {
		const char *name;
		unsigned int kind, elem;
	} floats[] = { { "F32", MVM_FLOAT_F32, 4 }, { "F16", MVM_FLOAT_F16, 2 }, { "BF16", MVM_FLOAT_BF16, 2 },
		       { "F64", MVM_FLOAT_F64, 8 } };
	size_t i;

	h->kind = MVM_FLOAT_NONE;
	h->elem = h->phase = 0;
	for (i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
		if (!strcmp(dtype, floats[i].name)) {
			h->kind = floats[i].kind;
			h->elem = floats[i].elem;
			break;
		}
}

int mvm_codec_encode(void *dst, size_t *dst_len, uint32_t *codec,
		     const void *src, size_t n, int level, const mvm_codec_hint *hint)
{
	mvm_codec_hint guess;
	int error;

	if (hint && (hint->elem == 2 || hint->elem == 4) && n >= 64) {
		if ((error = encode_float(dst, dst_len, codec, src, n, hint)) < 0 || *dst_len)
			return error;
		return store_raw(dst, dst_len, codec, src, n);
	}
	if (hint && hint->elem == 8 && n >= 64)
		return encode_f64(dst, dst_len, codec, src, n, level, hint);
	if ((!hint || !hint->elem) && mvm_float_guess(&guess, src, n)) {
		if ((error = encode_float(dst, dst_len, codec, src, n, &guess)) < 0)
			return error;
		if (*dst_len && *dst_len < GUESSED_FLOAT_MAX * (double)n)
			return 0;
	}
	return encode_zstd(dst, dst_len, codec, src, n, level);
}

int mvm_codec_decode(void *dst, size_t raw_len, const void *src, size_t stored_len,
		     uint32_t codec)
{
	ZSTD_DCtx *d;
	size_t z;

	switch (codec) {
	case MVM_CODEC_RAW:
		if (stored_len != raw_len)
			return mvm_error_set(MVM_ECORRUPT, "raw chunk has %zu bytes, index says %zu",
					     stored_len, raw_len);
		memcpy(dst, src, raw_len);
		return 0;
	case MVM_CODEC_ZSTD:
		if (!(d = thread_dctx()))
			return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
		z = ZSTD_decompressDCtx(d, dst, raw_len, src, stored_len);
		if (ZSTD_isError(z) || z != raw_len)
			return mvm_error_set(MVM_ECORRUPT, "zstd chunk does not decode to %zu bytes: %s",
					     raw_len, ZSTD_isError(z) ? ZSTD_getErrorName(z) : "wrong size");
		return 0;
	case MVM_CODEC_XOR:
	case MVM_CODEC_FDELTA:
		return mvm_error_set(MVM_ECORRUPT, "delta chunk decoded without its base");
	case MVM_CODEC_BYTEGROUP:
	case MVM_CODEC_EXPONENT:
		if (!(d = thread_dctx()))
			return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
		return mvm_bytegroup_decode(dst, raw_len, src, stored_len, d, codec == MVM_CODEC_EXPONENT);
	case MVM_CODEC_EXPCODE:
	case MVM_CODEC_EXPCODE8:
		return mvm_expcode_decode(dst, raw_len, src, stored_len, codec);
	default:
		return mvm_error_set(MVM_ECORRUPT, "unknown chunk codec %u", codec);
	}
}

int mvm_codec_decode_many(const mvm_codec_job *jobs, size_t count)
{
	mvm_codec_job exp[MVM_CODEC_GROUP];
	size_t k, n = 0;
	int error = 0;

	/* codec 7 chunks gathered into groups; every other one alone */
	for (k = 0; k < count && !error; k++) {
		if (jobs[k].codec != MVM_CODEC_EXPCODE8) {
			error = mvm_codec_decode(jobs[k].dst, jobs[k].raw_len, jobs[k].src, jobs[k].stored_len,
						 jobs[k].codec);
			continue;
		}
		exp[n++] = jobs[k];
		if (n == MVM_CODEC_GROUP) {
			error = mvm_expcode_decode_many(exp, n);
			n = 0;
		}
	}
	if (!error && n)
		error = mvm_expcode_decode_many(exp, n);
	return error;
}

/* Per-thread scratch buffers, one per MVM_SCRATCH_* slot. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

typedef struct {
	unsigned char *p[MVM_SCRATCH_SLOTS];
	size_t cap[MVM_SCRATCH_SLOTS];
} scratch_set;

static void free_scratch(void *p)
{
	scratch_set *s = p;
	unsigned int i;

	for (i = 0; s && i < MVM_SCRATCH_SLOTS; i++)
		free(s->p[i]);
	free(s);
}

static void make_scratch_key(void)
{
	pthread_key_create(&scratch_key, free_scratch);
}

unsigned char *mvm_codec_scratch(unsigned int slot, size_t n)
{
	scratch_set *s;

	pthread_once(&scratch_once, make_scratch_key);
	if (!(s = pthread_getspecific(scratch_key))) {
		if (!(s = calloc(1, sizeof(*s))))
			return NULL;
		pthread_setspecific(scratch_key, s);
	}
	if (n == 0)
		n = 1; /* a real buffer even for empty chunks */
	if (s->cap[slot] < n) {
		unsigned char *p = realloc(s->p[slot], n);
		if (!p)
			return NULL;
		s->p[slot] = p;
		s->cap[slot] = n;
	}
	return s->p[slot];
}

void mvm_xor_bytes(unsigned char *out, const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		x ^= y;
		memcpy(out + i, &x, 8);
	}
	for (; i < n; i++)
		out[i] = a[i] ^ b[i];
}

int mvm_codec_encode_xor(void *dst, size_t cap, size_t *dst_len, uint32_t *codec, const void *src,
			 const void *base, const mvm_oid *base_id, size_t n, const mvm_codec_hint *hint)
{
	unsigned char *x, *out = dst;
	size_t z;

	*dst_len = 0;
	if (!hint || (hint->elem != 2 && hint->elem != 4 && hint->elem != 8) || n < 64 || cap < MVM_OID_RAWSZ)
		return 0;
	memcpy(out, base_id->id, MVM_OID_RAWSZ);
	if (mvm_fdelta_fits(hint->kind, hint->phase, n)) {
		if (mvm_fdelta_encode(out + MVM_OID_RAWSZ, cap - MVM_OID_RAWSZ, &z, src, base, n, hint->kind) == 0 &&
		    MVM_OID_RAWSZ + z < n) {
			*dst_len = MVM_OID_RAWSZ + z;
			*codec = MVM_CODEC_FDELTA;
		}
		return 0;
	}
	if (!(x = mvm_codec_scratch(MVM_SCRATCH_XOR, n)))
		return mvm_error_set(MVM_ERROR, "out of memory for a delta");
	mvm_xor_bytes(x, src, base, n);
	if (mvm_bytegroup_encode(out + MVM_OID_RAWSZ, cap - MVM_OID_RAWSZ, &z, x, n, hint->elem,
				 hint->phase % hint->elem, 0) == 0 && MVM_OID_RAWSZ + z < n) {
		*dst_len = MVM_OID_RAWSZ + z;
		*codec = MVM_CODEC_XOR;
	}
	return 0;
}

int mvm_codec_xor_base(mvm_oid *out, const void *stored, size_t stored_len)
{
	if (stored_len < MVM_OID_RAWSZ)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk is too short to name its base");
	memcpy(out->id, stored, MVM_OID_RAWSZ);
	return 0;
}

int mvm_codec_decode_xor(void *dst, size_t raw_len, const void *stored, size_t stored_len,
			 uint32_t codec, const void *base)
{
	const unsigned char *body = (const unsigned char *)stored + MVM_OID_RAWSZ;
	ZSTD_DCtx *d = thread_dctx();
	int error;

	if (!d)
		return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
	if (stored_len < MVM_OID_RAWSZ)
		return mvm_error_set(MVM_ECORRUPT, "delta chunk is too short to name its base");
	if (codec == MVM_CODEC_FDELTA)
		return mvm_fdelta_decode(dst, raw_len, body, stored_len - MVM_OID_RAWSZ, base, d);
	if (codec != MVM_CODEC_XOR)
		return mvm_error_set(MVM_ECORRUPT, "chunk codec %u is not a delta", codec);
	if ((error = mvm_bytegroup_decode(dst, raw_len, body, stored_len - MVM_OID_RAWSZ, d, 0)) < 0)
		return error;
	mvm_xor_bytes(dst, dst, base, raw_len);
	return 0;
}

const char *mvm_codec_name(unsigned int codec)
{
	static const char *const names[MVM_CODEC_COUNT] = { "raw", "zstd", "byte-grouped", "xor delta", "float delta",
							    "exponent-first", "exponent-coded, 4 streams",
							    "exponent-coded" };

	return codec < MVM_CODEC_COUNT ? names[codec] : NULL;
}
