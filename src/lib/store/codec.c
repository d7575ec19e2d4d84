/*
 * codec.c: raw and zstd chunk codecs. zstd contexts are per thread (kept in
 * pthread keys, freed when the thread ends), so workers never share one.
 */
#include <pthread.h>
#include <string.h>
#include <zstd.h>

#include "mvm/common.h"
#include "bytegroup.h"
#include "codec.h"

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

int mvm_codec_encode(void *dst, size_t *dst_len, uint32_t *codec,
		     const void *src, size_t n, int level, const mvm_codec_hint *hint)
{
	ZSTD_CCtx *c = thread_cctx();
	size_t z;

	if (!c)
		return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
	if (hint && (hint->elem == 2 || hint->elem == 4) && n >= 64) {
		if (mvm_bytegroup_encode(dst, mvm_codec_bound(n), &z, src, n, hint->elem,
					 hint->phase % hint->elem) == 0 && z < n) {
			*dst_len = z;
			*codec = MVM_CODEC_BYTEGROUP;
			return 0;
		}
		return store_raw(dst, dst_len, codec, src, n);
	}
	z = ZSTD_compressCCtx(c, dst, mvm_codec_bound(n), src, n, level);
	if (ZSTD_isError(z))
		return mvm_error_set(MVM_ERROR, "zstd: %s", ZSTD_getErrorName(z));
	if (z >= n)
		return store_raw(dst, dst_len, codec, src, n);
	*dst_len = z;
	*codec = MVM_CODEC_ZSTD;
	return 0;
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
	case MVM_CODEC_BYTEGROUP:
		if (!(d = thread_dctx()))
			return mvm_error_set(MVM_ERROR, "out of memory for a zstd context");
		return mvm_bytegroup_decode(dst, raw_len, src, stored_len, d);
	default:
		return mvm_error_set(MVM_ECORRUPT, "unknown chunk codec %u", codec);
	}
}
