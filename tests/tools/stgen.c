/*
 * stgen.c: deterministic generator of realistic model files for tests,
 * the demo and benchmarks.
 *
 * Writes a llama-shaped model (safetensors, sharded safetensors or GGUF)
 * whose tensor values depend only on (seed, tensor index). --perturb
 * changes a chosen fraction of tensors, like a fine-tune, while every other
 * tensor stays byte-identical to the base model. Normals come from a
 * 256-strip ziggurat over xoshiro256**, fast enough to outrun the disk.
 * Data streams through one fixed buffer: the model is never held in memory.
 *
 * Standalone on purpose: needs only libc and libm, not libmvm.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "stgen writes little-endian data by copying host floats"
#endif

#define STGEN_BUFSZ (4u << 20)	/* output buffer */
#define STGEN_BLOCK 4096	/* values generated per step */
#define STGEN_ALIGN 32		/* GGUF alignment */
#define STGEN_SPECIAL_BASE (1ULL << 32)	/* seed index of --special tensors */

typedef enum { DT_BF16, DT_F16, DT_F32 } dtype_t;
typedef enum { K_LINEAR, K_EMBED, K_NORM, K_ZERO, K_SMALL } tkind;
enum { C_NONE, C_TRUNCATED, C_HEADER_LENGTH, C_BAD_JSON, C_OVERLAP,
	C_PAST_END, C_DTYPE_SIZE };

static const struct {
	const char *name;
	unsigned size;
	uint32_t ggml;
} dtypes[] = {
	[DT_BF16] = { "BF16", 2, 30 },
	[DT_F16] = { "F16", 2, 1 },
	[DT_F32] = { "F32", 4, 0 },
};

static const char *corrupt_names[] = { "", "truncated", "header-length",
	"bad-json", "overlap", "offsets-past-end", "dtype-size", NULL };

typedef struct {
	double size_mb, perturb, noise;
	uint64_t seed, pseed;
	dtype_t dtype;
	unsigned long shards;
	int special, gguf, corrupt, verbose;
	const char *out;
} opts;

typedef struct {
	char name[96];		/* Hugging Face name */
	char gname[64];		/* llama.cpp name, for --gguf */
	tkind kind;
	uint64_t index;		/* seeds the values; stable across options */
	int ndim;
	uint64_t shape[2];
	uint64_t nelem, nbytes, offset;
	unsigned long shard;
	int perturb, special;
} tensor;

typedef struct {
	tensor *t;
	size_t n, cap;
	uint64_t hidden, inter, layers, vocab;
} model;

typedef struct {
	FILE *f;
	unsigned char *buf;
	size_t len;
	uint64_t total;
	int err;
} writer;

/* ==== Small helpers ==== */

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("stgen: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void *xrealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n)))
		die(1, "out of memory");
	return p;
}

/* ==== PRNG: xoshiro256** seeded through splitmix64 ==== */

typedef struct { uint64_t s[4]; } rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	int i;

	x = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL);
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* uniform in (0, 1] */
static float rng_unit(rng *r)
{
	return (float)((rng_next(r) >> 40) + 1) * 0x1p-24f;
}

/* ==== Normals: ZIGNOR-style ziggurat (Doornik 2005), 256 strips ==== */

#define ZIG_N 256
#define ZIG_R 3.6541528853610088
#define ZIG_V 0.00492867323399

/*
 * Strip i spans [0, x[i]]. The fast test is done on the raw int32 j:
 * |j| < kn[i] means |u| < x[i+1]/x[i] for u = j/2^31, and the value is then
 * j * wn[i] = u * x[i]; 98.5% of draws stop there.
 */
static uint32_t zig_kn[ZIG_N];
static float zig_wn[ZIG_N], zig_x[ZIG_N + 1], zig_f[ZIG_N + 1];

static void zig_init(void)
{
	double x[ZIG_N + 1], f = exp(-0.5 * ZIG_R * ZIG_R);
	int i;

	x[0] = ZIG_V / f;
	x[1] = ZIG_R;
	x[ZIG_N] = 0;
	for (i = 2; i < ZIG_N; i++) {
		x[i] = sqrt(-2 * log(ZIG_V / x[i - 1] + f));
		f = exp(-0.5 * x[i] * x[i]);
	}
	for (i = 0; i <= ZIG_N; i++) {
		zig_x[i] = (float)x[i];
		zig_f[i] = (float)exp(-0.5 * x[i] * x[i]);
		if (i < ZIG_N) {
			zig_kn[i] = (uint32_t)(x[i + 1] / x[i] * 2147483648.0);
			zig_wn[i] = (float)(x[i] / 2147483648.0);
		}
	}
}

static float zig_tail(rng *r, int negative)
{
	float x, y;

	do {
		x = logf(rng_unit(r)) / (float)ZIG_R;
		y = logf(rng_unit(r));
	} while (-2 * y < x * x);
	return negative ? x - (float)ZIG_R : (float)ZIG_R - x;
}

static inline uint32_t zig_abs(int32_t j)
{
	return j < 0 ? 0u - (uint32_t)j : (uint32_t)j;
}

/* The rare case: outside the strip's inner rectangle. Draws from aux. */
static float zig_slow(rng *aux, uint32_t w)
{
	for (;;) {
		unsigned i = w & (ZIG_N - 1);
		int32_t j = (int32_t)w;
		float x;

		if (zig_abs(j) < zig_kn[i])
			return (float)j * zig_wn[i];
		if (i == 0)
			return zig_tail(aux, j < 0);
		x = (float)j * zig_wn[i];
		if (zig_f[i + 1] + rng_unit(aux) * (zig_f[i] - zig_f[i + 1]) <
		    expf(-0.5f * x * x))
			return x;
		w = (uint32_t)rng_next(aux);
	}
}

static inline float zig_one(rng *aux, uint32_t w)
{
	unsigned i = w & (ZIG_N - 1);
	int32_t j = (int32_t)w;

	if (zig_abs(j) < zig_kn[i])
		return (float)j * zig_wn[i];
	return zig_slow(aux, w);
}

/*
 * Fill out[STGEN_BLOCK] with N(0, 1), two per 64-bit draw. The main stream
 * stays in registers; rejections draw from the aux stream.
 */
static void zig_fill(rng *main, rng *aux, float *out)
{
	uint64_t s0 = main->s[0], s1 = main->s[1], s2 = main->s[2], s3 = main->s[3];
	size_t k;

	for (k = 0; k < STGEN_BLOCK; k += 2) {
		uint64_t t = s1 << 17, w = rotl(s1 * 5, 7) * 9;

		s2 ^= s0;
		s3 ^= s1;
		s1 ^= s2;
		s0 ^= s3;
		s2 ^= t;
		s3 = rotl(s3, 45);
		out[k] = zig_one(aux, (uint32_t)w);
		out[k + 1] = zig_one(aux, (uint32_t)(w >> 32));
	}
	main->s[0] = s0;
	main->s[1] = s1;
	main->s[2] = s2;
	main->s[3] = s3;
}

/* ==== Float formats ==== */

static inline uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static inline float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline uint16_t f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);
	uint32_t nan = (x & 0x7fffffff) > 0x7f800000;	/* keep NaN a NaN */

	return (uint16_t)(nan ? (x >> 16) | 0x40 : (x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* IEEE binary16, round to nearest even, subnormals included. */
static inline uint16_t f32_to_f16(float f)
{
	uint32_t x = f32_bits(f), sign = (x >> 16) & 0x8000;
	uint32_t ax = x & 0x7fffffff;

	if (ax >= 0x7f800000)
		return (uint16_t)(sign | (ax > 0x7f800000 ? 0x7e00 : 0x7c00));
	if (ax >= 0x477ff000)	/* >= 65520 rounds to infinity */
		return (uint16_t)(sign | 0x7c00);
	if (ax < 0x38800000) {	/* below 2^-14: subnormal, let the FPU round */
		float v = bits_f32(ax) + 0.5f;
		return (uint16_t)(sign | (f32_bits(v) - 0x3f000000));
	}
	ax += 0xc8000fffu + ((ax >> 13) & 1);	/* rebias and round */
	return (uint16_t)(sign | (ax >> 13));
}

static inline float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float v;

	if (e == 0) {
		v = (float)m * 0x1p-24f;
		return sign ? -v : v;
	}
	if (e == 0x1f)
		return bits_f32(sign | 0x7f800000 | (m << 13));
	return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

/* Encode a full block; the constant trip count lets gcc -O2 vectorize. */
static void encode(dtype_t dt, const float *v, unsigned char *dst)
{
	uint16_t h[STGEN_BLOCK];
	size_t k;

	if (dt == DT_F32) {
		memcpy(dst, v, STGEN_BLOCK * 4);
		return;
	}
	if (dt == DT_BF16) {
		for (k = 0; k < STGEN_BLOCK; k++)
			h[k] = f32_to_bf16(v[k]);
	} else {
		for (k = 0; k < STGEN_BLOCK; k++)
			h[k] = f32_to_f16(v[k]);
	}
	memcpy(dst, h, sizeof(h));
}

/* NaN, +Inf, -Inf, -0, then subnormals: smallest, mid, negative, largest. */
static void put_specials(dtype_t dt, unsigned char *dst, size_t n)
{
	static const uint32_t f32[8] = { 0x7fc00000, 0x7f800000, 0xff800000,
		0x80000000, 0x00000001, 0x00400000, 0x80000123, 0x007fffff };
	static const uint16_t bf16[8] = { 0x7fc0, 0x7f80, 0xff80, 0x8000,
		0x0001, 0x0040, 0x8012, 0x007f };
	static const uint16_t f16[8] = { 0x7e00, 0x7c00, 0xfc00, 0x8000,
		0x0001, 0x0200, 0x8012, 0x03ff };
	size_t k, size = dtypes[dt].size;

	for (k = 0; k < 8 && k < n; k++) {
		uint32_t u = dt == DT_F32 ? f32[k] : dt == DT_BF16 ? bf16[k] : f16[k];
		unsigned b;
		for (b = 0; b < size; b++)
			dst[k * size + b] = (unsigned char)(u >> (8 * b));
	}
}

/* ==== Output ==== */

static void wr_flush(writer *w)
{
	if (w->len && !w->err && fwrite(w->buf, 1, w->len, w->f) != w->len)
		w->err = errno ? errno : EIO;
	w->len = 0;
}

/* Room for n <= STGEN_BUFSZ bytes at the end of the buffer; see wr_commit. */
static unsigned char *wr_space(writer *w, size_t n)
{
	if (w->len + n > STGEN_BUFSZ)
		wr_flush(w);
	return w->buf + w->len;
}

static void wr_commit(writer *w, size_t n)
{
	w->len += n;
	w->total += n;
}

/* data == NULL writes zeros */
static void wr_put(writer *w, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n) {
		size_t k = n < STGEN_BUFSZ ? n : STGEN_BUFSZ;
		unsigned char *dst = wr_space(w, k);
		if (p) {
			memcpy(dst, p, k);
			p += k;
		} else
			memset(dst, 0, k);
		wr_commit(w, k);
		n -= k;
	}
}

/* Host order is little-endian (checked at the top). */
static void wr_u32(writer *w, uint32_t v)
{
	wr_put(w, &v, 4);
}

static void wr_u64(writer *w, uint64_t v)
{
	wr_put(w, &v, 8);
}

static void wr_open(writer *w, const char *path)
{
	memset(w, 0, sizeof(*w));
	if (!(w->f = fopen(path, "wb")))
		die(1, "cannot create '%s': %s", path, strerror(errno));
	w->buf = xrealloc(NULL, STGEN_BUFSZ);
}

static void wr_close(writer *w, const char *path, const opts *o, size_t nt)
{
	wr_flush(w);
	if (fclose(w->f) != 0 && !w->err)
		w->err = errno;
	free(w->buf);
	if (w->err)
		die(1, "cannot write '%s': %s", path, strerror(w->err));
	if (o->verbose)
		printf("%s %zu tensors %llu bytes\n", path, nt,
			(unsigned long long)w->total);
}

/* ==== Tensor values ==== */

static float tensor_std(const tensor *t, rng *r)
{
	float u = rng_unit(r);	/* always drawn, so every kind uses the stream alike */

	if (t->kind == K_LINEAR)
		return 0.01f + 0.04f * u;
	return t->kind == K_ZERO ? 0.0f : 0.02f;
}

/* A full block of values; the caller keeps as many as it needs. */
static void tensor_values(const tensor *t, rng *r, float std, float *v)
{
	size_t k;

	if (t->kind == K_ZERO) {
		memset(v, 0, STGEN_BLOCK * sizeof(*v));
		return;
	}
	zig_fill(&r[0], &r[1], v);
	if (t->kind == K_NORM) {
		for (k = 0; k < STGEN_BLOCK; k++)
			v[k] = 1.0f + std * v[k];
	} else {
		for (k = 0; k < STGEN_BLOCK; k++)
			v[k] *= std;
	}
}

/* new = stored old value + N(0, nstd), in F32 (rounded by encode). */
static void perturb_block(dtype_t dt, rng *r, float nstd, float *v)
{
	float z[STGEN_BLOCK];
	size_t k;

	zig_fill(&r[0], &r[1], z);
	if (dt == DT_BF16) {
		for (k = 0; k < STGEN_BLOCK; k++)
			v[k] = bits_f32((uint32_t)f32_to_bf16(v[k]) << 16) + nstd * z[k];
	} else if (dt == DT_F16) {
		for (k = 0; k < STGEN_BLOCK; k++)
			v[k] = f16_to_f32(f32_to_f16(v[k])) + nstd * z[k];
	} else {
		for (k = 0; k < STGEN_BLOCK; k++)
			v[k] += nstd * z[k];
	}
}

/*
 * Streams: values from (seed, index), noise from (perturb seed, index).
 * Noise far below the dtype's ulp (norm weights near 1.0 in BF16) can
 * round back to the stored value everywhere; a picked tensor whose bytes
 * did not change then gets its last element moved by one ulp.
 */
static void gen_tensor(writer *w, const tensor *t, const opts *o)
{
	float v[STGEN_BLOCK], std;
	unsigned char old[STGEN_BLOCK * 4];
	size_t dsize = dtypes[o->dtype].size, n;
	uint64_t done;
	int changed = 0;
	rng r[2], nr[2];

	rng_seed(&r[0], o->seed, t->index);
	rng_seed(&r[1], o->seed, t->index ^ (1ULL << 63));
	std = tensor_std(t, &r[0]);
	rng_seed(&nr[0], o->pseed, t->index ^ (1ULL << 62));
	rng_seed(&nr[1], o->pseed, t->index ^ (3ULL << 62));
	for (done = 0; done < t->nelem; done += n) {
		unsigned char *dst = wr_space(w, STGEN_BLOCK * dsize);

		n = t->nelem - done < STGEN_BLOCK ? (size_t)(t->nelem - done) : STGEN_BLOCK;
		tensor_values(t, r, std, v);
		if (t->perturb) {
			encode(o->dtype, v, old);
			perturb_block(o->dtype, nr, (float)o->noise * std, v);
		}
		encode(o->dtype, v, dst);
		if (t->perturb && !changed)
			changed = memcmp(old, dst, n * dsize) != 0;
		if (t->perturb && !changed && done + n == t->nelem)
			dst[(n - 1) * dsize] ^= 1;	/* mantissa LSB */
		if (t->special && done == 0)
			put_specials(o->dtype, dst, n);
		wr_commit(w, n * dsize);
	}
}

/* ==== Model layout ==== */

static const struct {
	const char *hf, *gg;
	tkind kind;
	char shape;	/* 'q': [h, h], 'g': [i, h], 'd': [h, i], 'n': [h] */
} layer_tensors[] = {
	{ "self_attn.q_proj.weight", "attn_q.weight", K_LINEAR, 'q' },
	{ "self_attn.k_proj.weight", "attn_k.weight", K_LINEAR, 'q' },
	{ "self_attn.v_proj.weight", "attn_v.weight", K_LINEAR, 'q' },
	{ "self_attn.o_proj.weight", "attn_output.weight", K_LINEAR, 'q' },
	{ "mlp.gate_proj.weight", "ffn_gate.weight", K_LINEAR, 'g' },
	{ "mlp.up_proj.weight", "ffn_up.weight", K_LINEAR, 'g' },
	{ "mlp.down_proj.weight", "ffn_down.weight", K_LINEAR, 'd' },
	{ "input_layernorm.weight", "attn_norm.weight", K_NORM, 'n' },
	{ "post_attention_layernorm.weight", "ffn_norm.weight", K_NORM, 'n' },
};
#define LAYER_TENSORS (sizeof(layer_tensors) / sizeof(layer_tensors[0]))

static uint64_t inter_of(uint64_t h)
{
	return (h * 8 / 3 + 15) / 16 * 16;
}

static uint64_t layers_of(uint64_t h)
{
	return h / 128 > 2 ? h / 128 : 2;
}

static uint64_t layer_elems(uint64_t h)
{
	return 4 * h * h + 3 * h * inter_of(h) + 2 * h;
}

/*
 * The widest llama shape (about h/128 layers, vocab >= 8h) that fits in
 * elems values; the vocabulary then fills the rest, up to 32000, beyond
 * which more layers do.
 */
static void model_dims(model *m, uint64_t elems)
{
	uint64_t h, best = 16, L, p, v = 16;

	for (h = 16; h <= 8192; h += h < 256 ? 16 : 64) {
		if (layers_of(h) * layer_elems(h) + h + 16 * h * h > elems)
			break;
		best = h;
	}
	h = best;
	L = layers_of(h);
	p = layer_elems(h);
	if (elems > L * p + h + 32 * h)
		v = (elems - L * p - h) / (2 * h);
	if (v > 32000) {
		L = (elems - 64000 * h - h) / p;
		v = (elems - L * p - h) / (2 * h);
	}
	m->hidden = h;
	m->inter = inter_of(h);
	m->layers = L;
	m->vocab = v;
}

static tensor *model_add(model *m, tkind kind, uint64_t index,
	uint64_t d0, uint64_t d1, dtype_t dt, const char *hf, const char *gg)
{
	tensor *t;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->t = xrealloc(m->t, m->cap * sizeof(*m->t));
	}
	t = &m->t[m->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->index = index;
	t->ndim = d1 ? 2 : 1;
	t->shape[0] = d0;
	t->shape[1] = d1;
	t->nelem = d1 ? d0 * d1 : d0;
	t->nbytes = t->nelem * dtypes[dt].size;
	snprintf(t->name, sizeof(t->name), "%s", hf);
	snprintf(t->gname, sizeof(t->gname), "%s", gg);
	return t;
}

static void add_layers(model *m, dtype_t dt, uint64_t *index)
{
	uint64_t h = m->hidden, in = m->inter, l;
	char hf[96], gg[64];
	size_t j;

	for (l = 0; l < m->layers; l++) {
		for (j = 0; j < LAYER_TENSORS; j++) {
			char s = layer_tensors[j].shape;
			snprintf(hf, sizeof(hf), "model.layers.%llu.%s",
				(unsigned long long)l, layer_tensors[j].hf);
			snprintf(gg, sizeof(gg), "blk.%llu.%s",
				(unsigned long long)l, layer_tensors[j].gg);
			model_add(m, layer_tensors[j].kind, (*index)++, s == 'g' ? in : h,
				s == 'n' ? 0 : s == 'd' ? in : h, dt, hf, gg);
		}
	}
}

/* Exactly round(frac * n) tensors, picked by a shuffle from --perturb-seed. */
static void pick_perturbed(model *m, const opts *o)
{
	size_t *pool = xrealloc(NULL, m->n * sizeof(*pool)), np = 0, i, k;
	rng r;

	for (i = 0; i < m->n; i++)
		if (m->t[i].kind != K_ZERO && m->t[i].kind != K_SMALL)
			pool[np++] = i;
	rng_seed(&r, o->pseed, 1ULL << 61);
	for (i = np; i > 1; i--) {
		size_t j = (size_t)(rng_next(&r) % i), tmp = pool[i - 1];
		pool[i - 1] = pool[j];
		pool[j] = tmp;
	}
	k = (size_t)llround(o->perturb * (double)np);
	for (i = 0; i < k; i++)
		m->t[pool[i]].perturb = 1;
	free(pool);
}

static void model_build(model *m, const opts *o)
{
	uint64_t h, index = 0;
	double elems = o->size_mb * 1048576.0 / dtypes[o->dtype].size;
	dtype_t dt = o->dtype;

	memset(m, 0, sizeof(*m));
	model_dims(m, (uint64_t)elems);
	h = m->hidden;
	model_add(m, K_EMBED, index++, m->vocab, h, dt,
		"model.embed_tokens.weight", "token_embd.weight");
	add_layers(m, dt, &index);
	model_add(m, K_NORM, index++, h, 0, dt,
		"model.norm.weight", "output_norm.weight");
	if (o->special) {
		model_add(m, K_ZERO, STGEN_SPECIAL_BASE, 16, h, dt,
			"model.special_zero.weight", "special_zero.weight");
		model_add(m, K_SMALL, STGEN_SPECIAL_BASE + 1, 3, 0, dt,
			"model.special_odd.bias", "special_odd.bias");
		m->t[1].special = 1;	/* layers.0.self_attn.q_proj */
	}
	model_add(m, K_EMBED, index++, m->vocab, h, dt,
		"lm_head.weight", "output.weight");
	pick_perturbed(m, o);
}

/*
 * Split into k shards of about equal bytes, in order, none empty; set each
 * tensor's offset inside its shard.
 */
static void model_shard(model *m, unsigned long k)
{
	uint64_t total = 0, acc = 0, off = 0;
	unsigned long s = 0;
	size_t i, in_shard = 0;

	for (i = 0; i < m->n; i++)
		total += m->t[i].nbytes;
	for (i = 0; i < m->n; i++) {
		tensor *t = &m->t[i];
		if (in_shard && s + 1 < k &&
		    (acc >= total / k * (s + 1) || m->n - i <= k - 1 - s)) {
			s++;
			off = 0;
			in_shard = 0;
		}
		t->shard = s;
		t->offset = off;
		off += t->nbytes;
		acc += t->nbytes;
		in_shard++;
	}
}

/* ==== safetensors ==== */

static void st_tensor_json(FILE *b, const model *m, size_t i, const opts *o)
{
	const tensor *t = &m->t[i];
	uint64_t beg = t->offset, end = t->offset + t->nbytes, d0 = t->shape[0];

	if (o->corrupt == C_OVERLAP && i == 2)	/* k_proj starts inside q_proj */
		beg = m->t[1].offset + m->t[1].nbytes / 2, end = beg + t->nbytes;
	if (o->corrupt == C_PAST_END && i == m->n - 1)
		beg += t->nbytes / 2 + 1024, end = beg + t->nbytes;
	if (o->corrupt == C_DTYPE_SIZE && !strcmp(t->name, "model.norm.weight"))
		d0++;
	fprintf(b, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%llu", t->name,
		dtypes[o->dtype].name, (unsigned long long)d0);
	if (t->ndim == 2)
		fprintf(b, ",%llu", (unsigned long long)t->shape[1]);
	fprintf(b, "],\"data_offsets\":[%llu,%llu]}",
		(unsigned long long)beg, (unsigned long long)end);
}

/* The JSON header, space-padded to a multiple of 8; caller frees *out. */
static size_t st_header(char **out, const model *m, unsigned long shard,
	const opts *o)
{
	size_t i, len;
	FILE *b;

	if (!(b = open_memstream(out, &len)))
		die(1, "out of memory");
	fprintf(b, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (i = 0; i < m->n; i++)
		if (m->t[i].shard == shard)
			st_tensor_json(b, m, i, o);
	fputs(o->corrupt == C_BAD_JSON ? ",\"lm_head" : "}", b);
	fprintf(b, "%*s", (int)((8 - ftell(b) % 8) % 8), "");
	if (ferror(b) | fclose(b))
		die(1, "out of memory");
	return len;
}

static void write_safetensors(const char *path, const model *m,
	unsigned long shard, const opts *o)
{
	uint64_t data_len = 0;
	size_t i, nt = 0, hlen;
	char *hdr;
	writer w;

	for (i = 0; i < m->n; i++)
		if (m->t[i].shard == shard)
			data_len += m->t[i].nbytes, nt++;
	hlen = st_header(&hdr, m, shard, o);
	wr_open(&w, path);
	wr_u64(&w, o->corrupt == C_HEADER_LENGTH ? 1ULL << 40 : hlen);
	wr_put(&w, hdr, hlen);
	for (i = 0; i < m->n; i++)
		if (m->t[i].shard == shard)
			gen_tensor(&w, &m->t[i], o);
	if (o->corrupt == C_TRUNCATED) {
		wr_flush(&w);
		w.total = 8 + hlen + data_len / 2;
		if (!w.err && (fflush(w.f) != 0 ||
		    ftruncate(fileno(w.f), (off_t)w.total) < 0))
			w.err = errno;
	}
	wr_close(&w, path, o, nt);
	free(hdr);
}

static long write_index(const char *path, const model *m, char **names)
{
	uint64_t total = 0;
	FILE *f;
	size_t i;
	long size;

	for (i = 0; i < m->n; i++)
		total += m->t[i].nbytes;
	if (!(f = fopen(path, "w")))
		die(1, "cannot create '%s': %s", path, strerror(errno));
	fprintf(f, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n"
		"  \"weight_map\": {\n", (unsigned long long)total);
	for (i = 0; i < m->n; i++) {
		const char *base = strrchr(names[m->t[i].shard], '/');
		fprintf(f, "    \"%s\": \"%s\"%s\n", m->t[i].name,
			base ? base + 1 : names[m->t[i].shard],
			i + 1 < m->n ? "," : "");
	}
	fprintf(f, "  }\n}\n");
	size = ftell(f);
	if (ferror(f) | fclose(f))
		die(1, "cannot write '%s': %s", path, strerror(errno));
	return size;
}

/* dir/model.safetensors -> dir/model-0000i-of-0000K.safetensors + index */
static void write_shards(const model *m, const opts *o)
{
	size_t stem = strlen(o->out), i;
	char **names = xrealloc(NULL, o->shards * sizeof(*names)), *index;
	static const char ext[] = ".safetensors";
	long size;

	if (stem >= sizeof(ext) - 1 && !strcmp(o->out + stem - (sizeof(ext) - 1), ext))
		stem -= sizeof(ext) - 1;
	for (i = 0; i < o->shards; i++) {
		names[i] = xrealloc(NULL, stem + 64);
		snprintf(names[i], stem + 64, "%.*s-%05zu-of-%05lu.safetensors",
			(int)stem, o->out, i + 1, o->shards);
		write_safetensors(names[i], m, i, o);
	}
	index = xrealloc(NULL, stem + 64);
	snprintf(index, stem + 64, "%.*s.safetensors.index.json", (int)stem, o->out);
	size = write_index(index, m, names);
	if (o->verbose)
		printf("%s %zu tensors %ld bytes\n", index, m->n, size);
	for (i = 0; i < o->shards; i++)
		free(names[i]);
	free(names);
	free(index);
}

/* ==== GGUF v3 ==== */

static void gg_str(writer *w, const char *s)
{
	wr_u64(w, strlen(s));
	wr_put(w, s, strlen(s));
}

static void write_gguf(const model *m, const opts *o)
{
	uint64_t off = 0;
	size_t i;
	int d;
	writer w;

	wr_open(&w, o->out);
	wr_put(&w, "GGUF", 4);
	wr_u32(&w, 3);
	wr_u64(&w, m->n);
	wr_u64(&w, 2);
	gg_str(&w, "general.architecture");
	wr_u32(&w, 8);	/* GGUF_TYPE_STRING */
	gg_str(&w, "llama");
	gg_str(&w, "general.alignment");
	wr_u32(&w, 4);	/* GGUF_TYPE_UINT32 */
	wr_u32(&w, STGEN_ALIGN);
	for (i = 0; i < m->n; i++) {
		const tensor *t = &m->t[i];
		gg_str(&w, t->gname);
		wr_u32(&w, (uint32_t)t->ndim);
		for (d = t->ndim - 1; d >= 0; d--)	/* innermost first */
			wr_u64(&w, t->shape[d]);
		wr_u32(&w, dtypes[o->dtype].ggml);
		wr_u64(&w, off);
		off = (off + t->nbytes + STGEN_ALIGN - 1) / STGEN_ALIGN * STGEN_ALIGN;
	}
	for (i = 0; i < m->n; i++) {
		wr_put(&w, NULL, (STGEN_ALIGN - w.total % STGEN_ALIGN) % STGEN_ALIGN);
		gen_tensor(&w, &m->t[i], o);
	}
	wr_close(&w, o->out, o, m->n);
}

/* ==== Command line ==== */

static const char usage[] =
"usage: stgen [options] OUT\n"
"Write a deterministic llama-shaped model to OUT (safetensors by default).\n"
"\n"
"  --size-mb M         approximate total size in MiB (default 64)\n"
"  --dtype T           BF16, F16 or F32 (default BF16)\n"
"  --seed S            value seed (default 1); same options => same bytes\n"
"  --perturb FRAC      change this fraction of tensors, 0..1 (default 0)\n"
"  --perturb-seed P    picks the tensors and the noise (default 7)\n"
"  --noise REL         noise std relative to the tensor std (default 0.05)\n"
"  --shards K          write OUT-0000i-of-0000K.safetensors + index.json\n"
"  --special           add NaN, +-Inf, subnormals, -0, a zero tensor and\n"
"                      a 3-element tensor\n"
"  --gguf              write GGUF v3 instead of safetensors\n"
"  --corrupt KIND      malformed safetensors: truncated, header-length,\n"
"                      bad-json, overlap, offsets-past-end, dtype-size\n"
"  -v                  print path, tensor count and bytes of each file\n"
"  -h, --help          show this help\n";

static double parse_num(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		die(2, "invalid value '%s' for %s", s, opt);
	return v;
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max)
		die(2, "invalid value '%s' for %s", s, opt);
	return v;
}

static void parse_value_opt(opts *o, const char *opt, const char *val)
{
	int i;

	if (!strcmp(opt, "--size-mb"))
		o->size_mb = parse_num(opt, val, 1e-6, 16.0 * 1024 * 1024);
	else if (!strcmp(opt, "--perturb"))
		o->perturb = parse_num(opt, val, 0, 1);
	else if (!strcmp(opt, "--noise"))
		o->noise = parse_num(opt, val, 0, 1e6);
	else if (!strcmp(opt, "--seed"))
		o->seed = parse_u64(opt, val, UINT64_MAX);
	else if (!strcmp(opt, "--perturb-seed"))
		o->pseed = parse_u64(opt, val, UINT64_MAX);
	else if (!strcmp(opt, "--shards"))
		o->shards = (unsigned long)parse_u64(opt, val, 99999);
	else if (!strcmp(opt, "--dtype")) {
		for (i = 0; i < 3 && strcasecmp(val, dtypes[i].name); i++)
			;
		if (i == 3)
			die(2, "unknown dtype '%s' (BF16, F16 or F32)", val);
		o->dtype = (dtype_t)i;
	} else if (!strcmp(opt, "--corrupt")) {
		for (i = 1; corrupt_names[i] && strcmp(val, corrupt_names[i]); i++)
			;
		if (!corrupt_names[i])
			die(2, "unknown corruption '%s'", val);
		o->corrupt = i;
	} else
		die(2, "unknown option '%s' (try --help)", opt);
}

static void parse_args(opts *o, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		char *a = argv[i], *eq;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "-v"))
			o->verbose = 1;
		else if (!strcmp(a, "--special"))
			o->special = 1;
		else if (!strcmp(a, "--gguf"))
			o->gguf = 1;
		else if (a[0] == '-' && a[1] == '-' && (eq = strchr(a, '='))) {
			*eq = '\0';
			parse_value_opt(o, a, eq + 1);
		} else if (a[0] == '-' && a[1]) {
			if (i + 1 >= argc)
				die(2, "option '%s' needs a value", a);
			parse_value_opt(o, a, argv[++i]);
		} else if (o->out)
			die(2, "more than one output path given");
		else
			o->out = a;
	}
	if (!o->out)
		die(2, "no output path given (try --help)");
	if (!o->shards)
		die(2, "--shards must be at least 1");
	if (o->gguf && (o->shards > 1 || o->corrupt))
		die(2, "--gguf cannot be combined with --shards or --corrupt");
	if (o->shards > 1 && o->corrupt)
		die(2, "--corrupt cannot be combined with --shards");
}

int main(int argc, char **argv)
{
	opts o = { 64, 0, 0.05, 1, 7, DT_BF16, 1, 0, 0, C_NONE, 0, NULL };
	model m;

	parse_args(&o, argc, argv);
	zig_init();
	model_build(&m, &o);
	if (o.shards > m.n)
		die(2, "--shards %lu exceeds the %zu tensors", o.shards, m.n);
	model_shard(&m, o.shards);
	if (o.gguf)
		write_gguf(&m, &o);
	else if (o.shards > 1)
		write_shards(&m, &o);
	else
		write_safetensors(o.out, &m, 0, &o);
	free(m.t);
	return 0;
}
