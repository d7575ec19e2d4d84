/*
 * tstats.c: numeric comparison of two float tensors of the same dtype and
 * shape: max |b - a|, ||b - a|| / ||a|| and cosine(a, b), accumulated in
 * double over blocks streamed from each side. NaNs propagate (a NaN in
 * either tensor makes the figures NaN), as numpy would report them.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/codec.h"
#include "util/fs.h"
#include "diff_internal.h"

#define STATS_BLOCK (4u << 20)

int mvm_tensor_stats_supported(const char *dtype)
{
	mvm_codec_hint h;

	mvm_codec_float_hint(&h, dtype);
	return h.elem != 0;
}

static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023u, bits;
	float f;

	if (exp == 31)
		bits = sign | 0x7f800000u | man << 13;
	else if (exp)
		bits = sign | (exp + 112) << 23 | man << 13;
	else if (man)
		return (sign ? -1.0f : 1.0f) * ldexpf((float)man, -24);
	else
		bits = sign;
	memcpy(&f, &bits, 4);
	return f;
}

/* An element of float kind `kind` (MVM_FLOAT_*). */
static double element(const unsigned char *p, unsigned int kind)
{
	uint32_t bits;
	uint16_t h;
	float f;
	double d;

	switch (kind) {
	case MVM_FLOAT_F32:
		memcpy(&f, p, 4);
		return f;
	case MVM_FLOAT_F16:
		memcpy(&h, p, 2);
		return half_to_float(h);
	case MVM_FLOAT_F64:
		memcpy(&d, p, 8);
		return d;
	default: /* BF16 */
		memcpy(&h, p, 2);
		bits = (uint32_t)h << 16;
		memcpy(&f, &bits, 4);
		return f;
	}
}

typedef struct {
	mvm_buf *dst;
} block_sink;

static int sink_put(const void *p, size_t n, void *payload)
{
	return mvm_buf_put(((block_sink *)payload)->dst, p, n);
}

static int read_block(mvm_buf *out, const mvm_tensor_source *s, int fd, uint64_t off, size_t n)
{
	block_sink k = { out };

	mvm_buf_clear(out);
	if (fd >= 0) {
		int error;
		if ((error = mvm_buf_grow(out, n)) < 0 ||
		    (error = mvm_fs_pread_all(fd, out->ptr, n, off, s->abs)) < 0)
			return error;
		out->size = n;
		return 0;
	}
	return mvm_manifest_read_range(s->repo, s->m, off, n, sink_put, &k);
}

typedef struct {
	double max_abs, d2, a2, b2, ab;
} accum;

static void accumulate(accum *acc, const unsigned char *pa, const unsigned char *pb, size_t count,
		       size_t esize, unsigned int kind)
{
	size_t i;

	for (i = 0; i < count; i++) {
		double a = element(pa + i * esize, kind), b = element(pb + i * esize, kind), d = b - a;
		if (fabs(d) > acc->max_abs || isnan(d))
			acc->max_abs = isnan(acc->max_abs) ? acc->max_abs : fabs(d);
		acc->d2 += d * d;
		acc->a2 += a * a;
		acc->b2 += b * b;
		acc->ab += a * b;
	}
}

int mvm_tensor_stats(mvm_tensor_diff *t, const mvm_tensor_source *a, const mvm_tensor_source *b)
{
	mvm_codec_hint h;
	size_t esize, block;
	mvm_buf ba = MVM_BUF_INIT, bb = MVM_BUF_INIT;
	int fda = -1, fdb = -1, error = 0;
	accum acc = { 0, 0, 0, 0, 0 };
	uint64_t off;

	mvm_codec_float_hint(&h, t->a->dtype);
	if (t->a->length != t->b->length || !h.elem)
		return 0;
	esize = h.elem;
	block = STATS_BLOCK / esize * esize;
	if ((a->abs && (fda = open(a->abs, O_RDONLY | O_CLOEXEC)) < 0) ||
	    (b->abs && (fdb = open(b->abs, O_RDONLY | O_CLOEXEC)) < 0)) {
		error = mvm_error_set(MVM_ERROR, "cannot open %s for --stats", fda < 0 && a->abs ? a->abs : b->abs);
		goto done;
	}
	for (off = 0; off < t->a->length && !error; off += block) {
		size_t n = (size_t)(t->a->length - off < block ? t->a->length - off : block);
		if ((error = read_block(&ba, a, fda, t->a->offset + off, n)) < 0 ||
		    (error = read_block(&bb, b, fdb, t->b->offset + off, n)) < 0)
			break;
		accumulate(&acc, (unsigned char *)ba.ptr, (unsigned char *)bb.ptr, n / esize, esize, h.kind);
	}
	if (!error) {
		t->has_stats = 1;
		t->max_abs_diff = acc.max_abs;
		t->rel_l2 = acc.a2 > 0 ? sqrt(acc.d2) / sqrt(acc.a2) : (acc.d2 > 0 ? INFINITY : 0);
		t->cosine = acc.a2 > 0 && acc.b2 > 0 ? acc.ab / (sqrt(acc.a2) * sqrt(acc.b2)) : NAN;
	}
done:
	if (fda >= 0)
		close(fda);
	if (fdb >= 0)
		close(fdb);
	mvm_buf_dispose(&ba);
	mvm_buf_dispose(&bb);
	return error;
}
