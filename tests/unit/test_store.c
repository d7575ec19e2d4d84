/*
 * test_store.c: codecs, pack write/seal/index/read round trip, and
 * detection of damaged pack indexes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <zstd.h>

#include "meta/db.h"
#include "store/bytegroup.h"
#include "store/chunkfilter.h"
#include "store/codec.h"
#include "store/fdelta.h"
#include "store/pack.h"
#include "store/expcode.h"
#include "store/floatguess.h"
#include "store/rans.h"
#include "store/store.h"
#include "util/cpu.h"
#include "util/fs.h"
#include "util/hash.h"

typedef struct {
	char dir[64];
	mvm_db *db;
	mvm_store *st;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	mvm_buf p = MVM_BUF_INIT;

	strcpy(f->dir, "/tmp/mvm-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	mvm_buf_printf(&p, "%s/packs", f->dir);
	assert_int_equal(mvm_fs_mkdir_p(p.ptr), 0);
	mvm_buf_clear(&p);
	mvm_buf_printf(&p, "%s/tmp", f->dir);
	assert_int_equal(mvm_fs_mkdir_p(p.ptr), 0);
	mvm_buf_clear(&p);
	mvm_buf_printf(&p, "%s/mvm.db", f->dir);
	assert_int_equal(mvm_db_open(&f->db, p.ptr, 1), 0);
	assert_int_equal(mvm_store_open(&f->st, f->db, f->dir), 0);
	mvm_buf_dispose(&p);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	char cmd[128];

	mvm_store_free(f->st);
	mvm_db_free(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void fill(unsigned char *p, size_t n, uint64_t seed, int compressible)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = compressible ? (unsigned char)(i / 64 % 7) : (unsigned char)(seed >> 56);
	}
	memcpy(p, &seed, n < sizeof(seed) ? n : sizeof(seed)); /* distinct per seed */
}

static void test_store__codec_picks_raw_or_zstd(void **state)
{
	unsigned char src[4096], dst[8192], back[4096];
	uint32_t codec;
	size_t n;

	(void)state;
	fill(src, sizeof(src), 1, 0);
	assert_int_equal(mvm_codec_encode(dst, &n, &codec, src, sizeof(src), 1, NULL), 0);
	assert_int_equal(codec, MVM_CODEC_RAW);
	assert_int_equal(n, sizeof(src));
	fill(src, sizeof(src), 1, 1);
	assert_int_equal(mvm_codec_encode(dst, &n, &codec, src, sizeof(src), 1, NULL), 0);
	assert_int_equal(codec, MVM_CODEC_ZSTD);
	assert_true(n < sizeof(src) / 4);
	assert_int_equal(mvm_codec_decode(back, sizeof(back), dst, n, codec), 0);
	assert_memory_equal(back, src, sizeof(src));
	/* a wrong raw length or a damaged frame is corruption, never wrong bytes */
	assert_int_equal(mvm_codec_decode(back, sizeof(back) - 1, dst, n, codec), MVM_ECORRUPT);
	dst[n / 2] ^= 0xff;
	assert_int_equal(mvm_codec_decode(back, sizeof(back), dst, n, codec) == 0 &&
			 memcmp(back, src, sizeof(src)) == 0, 0);
	assert_int_equal(mvm_codec_decode(back, sizeof(back), dst, n, 77), MVM_ECORRUPT);
}

/* Gaussian-ish floats with the special values codecs get wrong */
static void float_data(unsigned char *p, size_t n, unsigned int elem, uint64_t seed)
{
	static const uint32_t specials[] = { 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x00000001u,
					     0x80000000u, 0x00000000u, 0x007fffffu };
	size_t i;

	for (i = 0; i + elem <= n; i += elem) {
		float f;
		uint32_t bits;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		f = (float)((int32_t)(seed >> 32)) / 2147483648.0f * 0.05f;
		memcpy(&bits, &f, 4);
		if (i / elem % 97 < 7)
			bits = specials[i / elem % 97];
		if (elem == 2)
			bits >>= 16; /* BF16: the top half */
		memcpy(p + i, &bits, elem);
	}
	for (; i < n; i++)
		p[i] = (unsigned char)i;
}

/* Near-Gaussian doubles with NaN, infinities, a subnormal, signed zeros and the largest double among them */
static void f64_data(unsigned char *p, size_t n, uint64_t seed)
{
	static const uint64_t specials[] = { 0x7ff8000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
					     0x0000000000000001ull, 0x8000000000000000ull, 0,
					     0x7fefffffffffffffull };
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		double d = 0;
		uint64_t bits;
		int k;
		for (k = 0; k < 4; k++) { /* a sum of uniforms: near Gaussian */
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			d += (double)(seed >> 11) / 9007199254740992.0 - 0.5;
		}
		d *= 0.035;
		memcpy(&bits, &d, 8);
		if (i / 8 % 331 == 0)
			bits = specials[i / 8 / 331 % 7];
		memcpy(p + i, &bits, 8);
	}
	for (; i < n; i++)
		p[i] = (unsigned char)i;
}

static void test_store__bytegroup_round_trips(void **state)
{
	static const size_t lens[] = { 0, 1, 2, 3, 63, 64, 65, 127, 1001, 4096, 65537, 262144 };
	unsigned int elem, phase;
	size_t k, n;
	uint32_t codec;

	static const unsigned int kinds[] = { MVM_FLOAT_BF16, MVM_FLOAT_F16, MVM_FLOAT_F32 };
	unsigned int kind;

	(void)state;
	for (kind = 0; kind < 3; kind++)
		for (elem = kinds[kind] == MVM_FLOAT_F32 ? 4 : 2, phase = 0; phase < elem; phase++)
			for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
				size_t len = lens[k];
				mvm_codec_hint hint = { elem, phase, kinds[kind] };
				unsigned char *src = malloc(len + 8), *enc = malloc(mvm_codec_bound(len) + 64),
					      *back = malloc(len + 8);
				/* start mid-element, as content-defined chunks do */
				float_data(src, len + 8, elem, len);
				assert_int_equal(mvm_codec_encode(enc, &n, &codec, src + phase, len, 1, &hint), 0);
				assert_true(n <= len);
				/* exponent first where it straddles two bytes; maybe rANS-coded on whole elements */
				if (len >= 4096 && kinds[kind] == MVM_FLOAT_F16)
					assert_int_equal(codec, MVM_CODEC_BYTEGROUP);
				else if (len >= 4096 && codec != MVM_CODEC_EXPONENT &&
					 (codec != MVM_CODEC_EXPCODE8 || phase || len % elem))
					fail_msg("kind %u phase %u len %zu: codec %u", kinds[kind], phase, len, codec);
				assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), 0);
				assert_memory_equal(back, src + phase, len);
				free(src);
				free(enc);
				free(back);
			}
}

/*
 * BF16 and F32 elements with one exponent and random sign and mantissa:
 * exponent first (codec 5), the exponent plane is one repeated byte and
 * the rest stays raw, so the chunk shrinks to just over (elem - 1) / elem;
 * plain byte planes would leave the sign in the exponent's byte.
 */
static void test_store__exponent_first_isolates_the_exponent(void **state)
{
	enum { LEN = 65536 };
	unsigned char *src = malloc(LEN), *enc = malloc(mvm_codec_bound(LEN)), *back = malloc(LEN);
	uint64_t seed = 3;
	unsigned int elem;
	uint32_t codec;
	size_t i, n;

	(void)state;
	for (elem = 2; elem <= 4; elem += 2) {
		mvm_codec_hint hint = { elem, 0, elem == 2 ? MVM_FLOAT_BF16 : MVM_FLOAT_F32 };
		for (i = 0; i < LEN; i += elem) {
			uint32_t bits;
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			bits = (uint32_t)(seed >> 32) & 0x807fffffu; /* sign and mantissa */
			bits |= 0x3c800000u;                         /* exponent 121: both exponent bytes fixed */
			if (elem == 2)
				bits >>= 16;
			memcpy(src + i, &bits, elem);
		}
		/* codec 7 picks it: the exponent costs nothing, the top mantissa bit one bit */
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, LEN, 1, &hint), 0);
		assert_int_equal(codec, MVM_CODEC_EXPCODE8);
		assert_true(n < LEN / elem * (elem - 1) + LEN / 64);
		assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), 0);
		assert_memory_equal(back, src, LEN);
		codec = MVM_CODEC_EXPONENT;
		assert_int_equal(mvm_bytegroup_encode(enc, mvm_codec_bound(LEN), &n, src, LEN, elem, 0, 1), 0);
		assert_true(n < LEN / elem * (elem - 1) + LEN / 64);
		assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), 0);
		assert_memory_equal(back, src, LEN);
		/* the same bytes read as codec 2 are other floats */
		assert_int_equal(mvm_codec_decode(back, LEN, enc, n, MVM_CODEC_BYTEGROUP), 0);
		assert_memory_not_equal(back, src, LEN);
	}
	free(src);
	free(enc);
	free(back);
}

typedef struct {
	size_t (*encode)(unsigned char *, size_t, const uint16_t *, size_t, unsigned int);
	int (*decode)(uint16_t *, size_t, const unsigned char *, size_t, unsigned int);
} rans_layout;

/* Codec 7's block and codec 6's (rans4). */
static const rans_layout rans_layouts[] = { { mvm_rans_encode, mvm_rans_decode },
					    { mvm_rans4_encode, mvm_rans4_decode } };

/* Both layouts, portable, with AVX2 and with AVX-512 where the CPU has them: the same bytes. */
static size_t rans_encode_checked(const rans_layout *l, unsigned char *enc, size_t cap, const uint16_t *sym, size_t n)
{
	static const mvm_cpu_limit limits[] = { MVM_CPU_PORTABLE, MVM_CPU_NO_AVX512 };
	unsigned char *other = malloc(cap);
	size_t z, zo, k;

	assert_non_null(other);
	z = l->encode(enc, cap, sym, n, MVM_RANS_MAX_SYMBOLS);
	assert_true(z > 0);
	for (k = 0; k < 2; k++) {
		mvm_cpu_restrict(limits[k]);
		zo = l->encode(other, cap, sym, n, MVM_RANS_MAX_SYMBOLS);
		mvm_cpu_restrict(MVM_CPU_ALL);
		assert_int_equal(zo, z);
		assert_memory_equal(other, enc, z);
	}
	free(other);
	return z;
}

/* rANS blocks: odd counts (every tail of the states), one symbol, all 512, and damage. */
static void test_store__rans_round_trips(void **state)
{
	enum { MAX = 40000 };
	uint16_t *sym = malloc(MAX * 2), *back = malloc(MAX * 2);
	unsigned char *enc = malloc(4 * MAX + 4096);
	size_t n, z, cap = 4 * MAX + 4096, i, li;
	uint64_t seed = 11;
	uint16_t top;
	int mode;

	(void)state;
	for (li = 0; li < 2; li++) {
		const rans_layout *l = &rans_layouts[li];

		for (mode = 0; mode < 3; mode++)
			for (n = 1; n < MAX; n = n < 40 ? n + 1 : n * 3 + 1) {
				for (i = 0; i < n; i++) {
					seed = seed * 6364136223846793005ull + 1442695040888963407ull;
					/* skewed like exponents, uniform over all 512, or one symbol */
					sym[i] = mode == 0 ? (uint16_t)(240 + __builtin_ctzll(seed | 1ull << 20)) :
						 mode == 1 ? (uint16_t)(seed >> 55) : 300;
				}
				z = rans_encode_checked(l, enc, cap, sym, n);
				assert_int_equal(l->decode(back, n, enc, z, MVM_RANS_MAX_SYMBOLS), 0);
				assert_memory_equal(back, sym, n * 2);
				for (i = 1, top = 0; i < n; i++)
					top |= sym[i] != sym[0];
				if (top) /* one symbol alone moves no state: any count decodes */
					assert_int_equal(l->decode(back, n + 1, enc, z, MVM_RANS_MAX_SYMBOLS), MVM_ECORRUPT);
				assert_int_equal(l->decode(back, n, enc, z - 1, MVM_RANS_MAX_SYMBOLS), MVM_ECORRUPT);
				for (i = 0, top = 0; i < n; i++)
					top = sym[i] > top ? sym[i] : top;
				/* a table naming symbols past the alphabet is refused */
				assert_int_equal(l->decode(back, n, enc, z, 256), top >= 256 ? MVM_ECORRUPT : 0);
				if (mode == 1 && n > 1000)
					assert_true(z < n * 9 / 8 + 1100); /* 9 bits a symbol and the table */
			}
		/* flipped bytes anywhere: an error or other symbols, never a crash */
		for (n = 0; n < 4000; n++)
			sym[n] = (uint16_t)(250 + n % 7 + (n % 13 == 0));
		z = l->encode(enc, cap, sym, 4000, MVM_RANS_MAX_SYMBOLS);
		for (i = 0; i < z; i++) {
			enc[i] ^= 0x5a;
			(void)l->decode(back, 4000, enc, z, MVM_RANS_MAX_SYMBOLS);
			enc[i] ^= 0x5a;
		}
		assert_int_equal(l->decode(back, 4000, enc, z, MVM_RANS_MAX_SYMBOLS), 0);
	}
	free(sym);
	free(back);
	free(enc);
}

/*
 * A block of 16384 symbols or more has its table counted from a sample
 * (64 of every 256): symbols met only outside it still get a frequency,
 * and the block round-trips on every path. N is not a multiple of 32, so
 * the last symbols are checked one by one after the vector loop.
 */
static void test_store__rans_sample_misses_no_symbol(void **state)
{
	enum { N = 20007 };
	uint16_t *sym = malloc(N * 2), *back = malloc(N * 2);
	unsigned char *enc = malloc(4 * N + 4096);
	size_t i, li, z;

	(void)state;
	assert_non_null(sym);
	assert_non_null(back);
	assert_non_null(enc);
	for (i = 0; i < N; i++)
		sym[i] = (uint16_t)(250 + i % 3);
	sym[100] = 400;   /* between the first two runs of the sample (0-63, 317-380) */
	sym[19900] = 7;   /* between its last two */
	sym[5000] = 260;  /* another, in a vector with none missed before it */
	sym[5001] = 260;
	sym[5002] = 261;
	sym[N - 1] = 262; /* after the last run, past the last whole vector */
	for (li = 0; li < 2; li++) {
		z = rans_encode_checked(&rans_layouts[li], enc, 4 * N + 4096, sym, N);
		assert_int_equal(rans_layouts[li].decode(back, N, enc, z, MVM_RANS_MAX_SYMBOLS), 0);
		assert_memory_equal(back, sym, N * 2);
		assert_true(z < N / 4); /* ~1.6 bits a symbol: the rare ones cost little */
	}
	/* a symbol common only in columns 64-255 of rows 256 long: the sample's runs move, so they meet it */
	for (i = 0; i < N; i++)
		sym[i] = (uint16_t)(i % 256 < 64 ? 250 : 251);
	for (li = 0; li < 2; li++) {
		z = rans_encode_checked(&rans_layouts[li], enc, 4 * N + 4096, sym, N);
		assert_int_equal(rans_layouts[li].decode(back, N, enc, z, MVM_RANS_MAX_SYMBOLS), 0);
		assert_memory_equal(back, sym, N * 2);
		assert_true(z < N / 8); /* 0.81 bits a symbol; counted 1 in 4096 it would cost 12 */
	}
	free(sym);
	free(back);
	free(enc);
}

/*
 * rANS blocks decoded together (mvm_rans_decode_many): lengths that end
 * a group's steps at different places (1 to 40000 symbols, every tail of
 * the states), 1 to 9 blocks (groups of four and the rest), with and
 * without the SIMD path: the same symbols as one at a time. A damaged
 * block fails the call, never a crash, whichever group it is in.
 */
static void test_store__rans_blocks_decode_together(void **state)
{
	static const size_t lens[] = { 40000, 1, 7, 4001, 8, 131, 39993, 9, 4000 };
	enum { NB = sizeof(lens) / sizeof(lens[0]), MAX = 40000 };
	static const mvm_cpu_limit limits[] = { MVM_CPU_ALL, MVM_CPU_PORTABLE };
	uint16_t *sym[NB], *back[NB];
	unsigned char *enc[NB];
	mvm_rans_block b[NB];
	uint64_t seed = 5;
	size_t k, i, count, li;

	(void)state;
	for (k = 0; k < NB; k++) {
		sym[k] = malloc(MAX * 2);
		back[k] = malloc(MAX * 2);
		enc[k] = malloc(4 * MAX + 4096);
		for (i = 0; i < lens[k]; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			/* exponent-like, each block its own spread; block 4 uniform over all 512 */
			sym[k][i] = k == 4 ? (uint16_t)(seed >> 55) : (uint16_t)(200 + k + __builtin_ctzll(seed | 1ull << (10 + k)));
		}
		b[k].sym = back[k];
		b[k].n = lens[k];
		b[k].src = enc[k];
		b[k].len = mvm_rans_encode(enc[k], 4 * MAX + 4096, sym[k], lens[k], MVM_RANS_MAX_SYMBOLS);
		assert_true(b[k].len > 0);
	}
	for (li = 0; li < 2; li++) {
		mvm_cpu_restrict(limits[li]);
		for (count = 1; count <= NB; count++) {
			for (k = 0; k < count; k++)
				memset(back[k], 0xee, lens[k] * 2);
			assert_int_equal(mvm_rans_decode_many(b, count, MVM_RANS_MAX_SYMBOLS), 0);
			for (k = 0; k < count; k++)
				assert_memory_equal(back[k], sym[k], lens[k] * 2);
		}
		/* block 6 (in the second group) one byte short, then asked for one symbol more */
		b[6].len--;
		assert_int_equal(mvm_rans_decode_many(b, NB, MVM_RANS_MAX_SYMBOLS), MVM_ECORRUPT);
		b[6].len++;
		b[6].n++;
		assert_int_equal(mvm_rans_decode_many(b, NB, MVM_RANS_MAX_SYMBOLS), MVM_ECORRUPT);
		b[6].n--;
		/* flipped bytes in block 3, with three good blocks stepping beside it */
		for (i = 0; i < b[3].len; i += 3) {
			enc[3][i] ^= 0x5a;
			(void)mvm_rans_decode_many(b, 4, MVM_RANS_MAX_SYMBOLS);
			enc[3][i] ^= 0x5a;
		}
		assert_int_equal(mvm_rans_decode_many(b, NB, MVM_RANS_MAX_SYMBOLS), 0);
		assert_memory_equal(back[3], sym[3], lens[3] * 2);
	}
	mvm_cpu_restrict(MVM_CPU_ALL);
	for (k = 0; k < NB; k++) {
		free(sym[k]);
		free(back[k]);
		free(enc[k]);
	}
}

/*
 * The bytes of both block layouts for one fixed input, pinned by their
 * SHA-256: the portable encoder and each path this CPU can take (AVX2,
 * AVX-512) must write them, so a change to either path, or to the
 * table, fails here on any CPU, not only where both paths can be compared.
 */
static void test_store__rans_blocks_are_pinned(void **state)
{
	static const char *const want[2] = {
		"5d5c1fdbec14904e42e2d725dcbb74aca29d73c9d141d73575f0a8c2de44e37f", /* codec 7's block, 3183 bytes */
		"1c0953a309294c51f0755ac58f6e800afee75613494fb8df321fa9cc3121403a", /* codec 6's, 3179 bytes */
	};
	enum { N = 10007 };
	uint16_t *sym = malloc(N * 2);
	unsigned char *enc = malloc(4 * N + 4096);
	char hex[2][MVM_OID_HEXSZ + 1];
	uint64_t seed = 5;
	mvm_oid id;
	size_t i, li, z;
	static const mvm_cpu_limit limits[] = { MVM_CPU_ALL, MVM_CPU_NO_AVX512, MVM_CPU_PORTABLE };
	size_t k;

	(void)state;
	assert_non_null(sym);
	assert_non_null(enc);
	for (i = 0; i < N; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		sym[i] = (uint16_t)(i % 97 == 0 ? (unsigned int)(seed >> 55)
					       : 240u + (unsigned int)__builtin_ctzll(seed | 1ull << 20));
	}
	for (k = 0; k < 3; k++) {
		mvm_cpu_restrict(limits[k]);
		for (li = 0; li < 2; li++) {
			z = rans_layouts[li].encode(enc, 4 * N + 4096, sym, N, MVM_RANS_MAX_SYMBOLS);
			assert_true(z > 0);
			assert_int_equal(mvm_sha256_buf(&id, enc, z), 0);
			mvm_oid_fmt(hex[li], &id);
			if (getenv("MVM_PRINT_PINS")) /* after an intended change of the block format */
				printf("layout %zu: %s (%zu bytes)\n", li, hex[li], z);
		}
		for (li = 0; li < 2; li++)
			assert_string_equal(hex[li], want[li]);
	}
	mvm_cpu_restrict(MVM_CPU_ALL);
	free(sym);
	free(enc);
}

/*
 * Bell-shaped weights (a sum of four uniforms, std 0.02) with float_data's
 * special values (NaN, infinities, a subnormal, -0, 0) at a few places:
 * uniform values, or specials at 7% of the elements as in float_data,
 * leave the bytes below the exponent too skewed to look random.
 */
static void weights_with_specials(unsigned char *p, size_t n, unsigned int elem, uint64_t seed)
{
	unsigned char special[7 * 4];
	size_t i, k;

	float_data(special, sizeof(special), elem, seed);
	for (i = 0; i + elem <= n; i += elem) {
		float f = 0;
		uint32_t bits;

		for (k = 0; k < 4; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			f += (float)(seed >> 40) / 16777216.0f;
		}
		f = (f - 2.0f) * 0.035f;
		memcpy(&bits, &f, 4);
		if (elem == 2)
			bits >>= 16;
		memcpy(p + i, &bits, elem);
	}
	for (i = 0; i < 7 && 331 * i * elem + elem <= n; i++)
		memcpy(p + 331 * i * elem, special + i * elem, elem);
}

/* An exponent-coded chunk (codec 6 or 7) with wrong lengths, a bad header or a flipped byte. */
static void expcode_rejects_damage(const unsigned char *src, size_t len, unsigned int elem, uint32_t codec)
{
	unsigned char *enc = malloc(mvm_codec_bound(len)), *back = malloc(len + elem);
	size_t n, i;

	assert_int_equal(mvm_expcode_encode(enc, mvm_codec_bound(len), &n, src, len, elem, codec), 0);
	assert_true(n > 0);
	assert_int_equal(mvm_codec_decode(back, len, enc, n - 1, codec), MVM_ECORRUPT);
	assert_int_equal(mvm_codec_decode(back, len + elem, enc, n, codec), MVM_ECORRUPT);
	assert_int_equal(mvm_codec_decode(back, len - 1, enc, n, codec), MVM_ECORRUPT);
	enc[0] = 3;
	assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), MVM_ECORRUPT);
	enc[0] = (unsigned char)elem;
	for (i = 0; i < n; i += 7) {
		enc[i] ^= 0x21;
		if (mvm_codec_decode(back, len, enc, n, codec) == 0)
			assert_true(i >= 5); /* a byte after the header may decode to other floats */
		enc[i] ^= 0x21;
	}
	assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), 0);
	assert_memory_equal(back, src, len);
	free(enc);
	free(back);
}

/* Without the SIMD paths: the same bytes as enc[0, n), and they read back. */
static void expcode_same_portable(const unsigned char *enc, size_t n, uint32_t codec, const unsigned char *src,
				  size_t len, const mvm_codec_hint *hint)
{
	unsigned char *other = malloc(mvm_codec_bound(len)), *back = malloc(len);
	uint32_t other_codec;
	size_t other_n;

	assert_non_null(other);
	assert_non_null(back);
	mvm_cpu_restrict(MVM_CPU_PORTABLE);
	assert_int_equal(mvm_codec_encode(other, &other_n, &other_codec, src, len, 1, hint), 0);
	assert_int_equal(other_codec, codec);
	assert_int_equal(other_n, n);
	assert_memory_equal(other, enc, n);
	memset(back, 0xee, len);
	assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), 0);
	mvm_cpu_restrict(MVM_CPU_ALL);
	assert_memory_equal(back, src, len);
	free(other);
	free(back);
}

/*
 * Codecs 7 and 6 on BF16 and F32: element counts with every packing tail, special
 * values, one exponent throughout; a chunk whose low bytes compress (F32
 * widened from BF16) is left to codec 5; damage is refused.
 */
static void test_store__expcode_round_trips_and_rejects_damage(void **state)
{
	enum { MAXN = 65536 };
	unsigned char *src = malloc(MAXN), *enc = malloc(mvm_codec_bound(MAXN)), *back = malloc(MAXN);
	size_t count, n, len, i;
	unsigned int elem;
	uint32_t codec;

	(void)state;
	for (elem = 2; elem <= 4; elem += 2) {
		mvm_codec_hint hint = { elem, 0, elem == 2 ? MVM_FLOAT_BF16 : MVM_FLOAT_F32 };

		for (count = 32; count * elem <= MAXN; count = count < 48 ? count + 1 : count * 2 + 3) {
			len = count * elem;
			weights_with_specials(src, len, elem, count);
			assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, len, 1, &hint), 0);
			/* small chunks may look not random enough, or not pay for a table: codec 5 or raw */
			if (codec != MVM_CODEC_EXPCODE8 && count >= 1024)
				fail_msg("elem %u count %zu: codec %u, %zu bytes", elem, count, codec, n);
			assert_true(n <= len);
			memset(back, 0xee, len);
			assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), 0);
			assert_memory_equal(back, src, len);
			expcode_same_portable(enc, n, codec, src, len, &hint);
			/* codec 6, which older repositories hold */
			assert_int_equal(mvm_expcode_encode(enc, mvm_codec_bound(len), &n, src, len, elem, MVM_CODEC_EXPCODE),
					 0);
			if (n) {
				memset(back, 0xee, len);
				assert_int_equal(mvm_codec_decode(back, len, enc, n, MVM_CODEC_EXPCODE), 0);
				assert_memory_equal(back, src, len);
			}
		}
		/* damage: lengths, header, every byte of a small chunk flipped; codec 7, then 6 */
		len = 4096 * elem;
		weights_with_specials(src, len, elem, 5);
		for (codec = MVM_CODEC_EXPCODE8; codec >= MVM_CODEC_EXPCODE; codec--)
			expcode_rejects_damage(src, len, elem, codec);
	}
	/* F32 widened from BF16: the two low bytes are zero, codec 5 codes them to nothing */
	{
		mvm_codec_hint hint = { 4, 0, MVM_FLOAT_F32 };
		float_data(src, MAXN / 2, 2, 3);
		for (i = 0; i < MAXN / 4; i++) {
			uint32_t w = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
			memcpy(back + 4 * i, &w, 4);
		}
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, back, MAXN, 1, &hint), 0);
		assert_int_equal(codec, MVM_CODEC_EXPONENT);
		assert_true(n < MAXN / 2);
		assert_int_equal(mvm_codec_decode(src, MAXN, enc, n, codec), 0);
		assert_memory_equal(src, back, MAXN);
	}
	/* all zeros: no codec 6 (nothing random below the exponent), and back bit for bit */
	{
		mvm_codec_hint hint = { 2, 0, MVM_FLOAT_BF16 };
		memset(src, 0, MAXN);
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, MAXN, 1, &hint), 0);
		assert_true(codec != MVM_CODEC_EXPCODE8 && n < 1024);
		assert_int_equal(mvm_codec_decode(back, MAXN, enc, n, codec), 0);
		assert_memory_equal(back, src, MAXN);
	}
	free(src);
	free(enc);
	free(back);
}

/*
 * Chunks decoded together (mvm_codec_decode_many): codec 7 BF16 and F32
 * chunks of different lengths mixed with zstd and raw ones, more codec 7
 * chunks than one group takes: each the bytes it was made from. A damaged
 * codec 7 chunk among them fails the call.
 */
static void test_store__chunks_decode_together(void **state)
{
	enum { NJ = 9, MAXLEN = 262144 };
	mvm_codec_job jobs[NJ];
	unsigned char *src[NJ], *enc[NJ], *back[NJ];
	size_t k;
	int seen7 = 0;

	(void)state;
	for (k = 0; k < NJ; k++) {
		unsigned int elem = k % 3 == 2 ? 4 : 2;
		size_t len = k == 4 ? 1000 : MAXLEN - 4096 * k; /* chunk 4: zstd or raw, too small for a table */
		mvm_codec_hint hint = { elem, 0, elem == 2 ? MVM_FLOAT_BF16 : MVM_FLOAT_F32 };
		size_t n;
		uint32_t codec;

		src[k] = malloc(len);
		enc[k] = malloc(mvm_codec_bound(len));
		back[k] = malloc(len);
		if (k == 7)
			memset(src[k], 7, len); /* zstd */
		else
			weights_with_specials(src[k], len, elem, 40 + k);
		assert_int_equal(mvm_codec_encode(enc[k], &n, &codec, src[k], len, 1, k == 7 ? NULL : &hint), 0);
		seen7 += codec == MVM_CODEC_EXPCODE8;
		jobs[k].dst = back[k];
		jobs[k].raw_len = len;
		jobs[k].src = enc[k];
		jobs[k].stored_len = n;
		jobs[k].codec = codec;
	}
	assert_true(seen7 > 4);
	assert_int_not_equal(jobs[7].codec, MVM_CODEC_EXPCODE8);
	assert_int_equal(mvm_codec_decode_many(jobs, NJ), 0);
	for (k = 0; k < NJ; k++)
		assert_memory_equal(back[k], src[k], jobs[k].raw_len);
	enc[5][40] ^= 0x21; /* inside chunk 5's rANS table or states */
	assert_int_equal(jobs[5].codec, MVM_CODEC_EXPCODE8);
	assert_int_equal(mvm_codec_decode_many(jobs, NJ), MVM_ECORRUPT);
	for (k = 0; k < NJ; k++) {
		free(src[k]);
		free(enc[k]);
		free(back[k]);
	}
}

/* F16 of bell-shaped weights (all in F16's normal range), as the top bits of the F32 value. */
static void f16_weights(unsigned char *p, size_t n, uint64_t seed)
{
	size_t i;

	weights_with_specials(p, n, 4, seed);
	for (i = 0; i + 4 <= n; i += 4) {
		uint32_t b;
		uint16_t h;
		int e;

		memcpy(&b, p + i, 4);
		e = (int)(b >> 23 & 0xff) - 127 + 15;
		h = (uint16_t)((b >> 16 & 0x8000) | (e < 1 ? 0 : e > 30 ? 0x7c00 : (uint32_t)e << 10 | (b >> 13 & 0x3ff)));
		memcpy(p + i / 2, &h, 2);
	}
}

/*
 * Bytes of no known tensor: F32, BF16, F16 and F64 values are found at
 * every phase and coded as floats, smaller than zstd codes them, and decode to
 * the same bytes; text, integers, zeros and random bytes are not taken
 * for floats and keep zstd (or raw).
 */
static void test_store__unknown_floats_are_guessed(void **state)
{
	enum { LEN = 65536 + 3 };
	static const struct { unsigned int elem; int f16; } kinds[] = { { 4, 0 }, { 2, 0 }, { 2, 1 } };
	unsigned char *src = malloc(2 * LEN + 8), *enc = malloc(mvm_codec_bound(2 * LEN)), *back = malloc(LEN);
	mvm_codec_hint g;
	uint32_t codec;
	size_t i, k, n, phase;

	(void)state;
	assert_non_null(src);
	assert_non_null(enc);
	assert_non_null(back);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		unsigned int elem = kinds[k].elem;

		if (kinds[k].f16)
			f16_weights(src, 2 * LEN + 8, 11);
		else
			weights_with_specials(src, LEN + 8, elem, 11);
		for (phase = 0; phase < elem; phase++) {
			const unsigned char *p = src + phase; /* starts `phase` bytes into an element */
			size_t z = ZSTD_compress(enc, mvm_codec_bound(LEN), p, LEN, 1);

			assert_int_equal(mvm_float_guess(&g, p, LEN), 1);
			assert_int_equal(g.elem, elem);
			assert_int_equal(g.phase, phase);
			assert_int_equal(g.kind, elem == 4 ? MVM_FLOAT_F32 : MVM_FLOAT_BF16);
			assert_int_equal(mvm_codec_encode(enc, &n, &codec, p, LEN, 1, NULL), 0);
			assert_true(codec == MVM_CODEC_EXPONENT || codec == MVM_CODEC_EXPCODE8);
			assert_true(n < z);
			assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), 0);
			assert_memory_equal(back, p, LEN);
			/* 16-bit floats in whole elements from an element's start: exponents rANS-coded */
			assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, LEN - 3, 1, NULL), 0);
			assert_true(codec == MVM_CODEC_EXPCODE8 || (elem == 4 && codec == MVM_CODEC_EXPONENT));
		}
	}
	f64_data(src, LEN + 8, 3); /* doubles: 8 planes */
	for (phase = 0; phase < 8; phase++) {
		const unsigned char *p = src + phase;
		size_t z = ZSTD_compress(enc, mvm_codec_bound(LEN), p, LEN, 1);

		assert_int_equal(mvm_float_guess(&g, p, LEN), 1);
		assert_int_equal(g.elem, 8);
		assert_int_equal(g.phase, phase);
		assert_int_equal(g.kind, MVM_FLOAT_F64);
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, p, LEN, 1, NULL), 0);
		assert_int_equal(codec, MVM_CODEC_BYTEGROUP);
		assert_true(n < z);
		assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), 0);
		assert_memory_equal(back, p, LEN);
	}
	for (k = 0; k < 6; k++) {
		for (i = 0; i < LEN; i++) {
			uint32_t v = (uint32_t)i * 2654435761u;
			src[i] = k == 0 ? (unsigned char)"the model was trained on a dataset of text. "[i % 45]
			       : k == 1 ? (unsigned char)((i / 4 * 7) >> (8 * (i % 4))) /* small int32 counters */
			       : k == 2 ? 0
			       : k == 3 ? (unsigned char)(v >> 24) /* random-looking bytes */
			       : k == 4 ? (unsigned char)(((v >> 12) & 0xfffff) >> (8 * (i % 4))) /* int32 below 2^20 */
			       : (unsigned char)((1764700000000000000ull + (uint64_t)(i / 8) * 999983) >> (8 * (i % 8)));
			/* k == 5: int64 nanosecond timestamps */
		}
		assert_int_equal(mvm_float_guess(&g, src, LEN), 0);
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, LEN, 1, NULL), 0);
		assert_true(codec == MVM_CODEC_ZSTD || codec == MVM_CODEC_RAW);
	}
	/* too short to say */
	weights_with_specials(src, LEN, 4, 5);
	assert_int_equal(mvm_float_guess(&g, src, MVM_FLOAT_GUESS_MIN - 1), 0);
	free(src);
	free(enc);
	free(back);
}

static void test_store__bytegroup_rejects_damage(void **state)
{
	enum { LEN = 8192 };
	mvm_codec_hint hint = { 2, 1, MVM_FLOAT_BF16 };
	unsigned char src[LEN], enc[LEN + 512], back[LEN];
	uint32_t codec;
	size_t n;

	(void)state;
	float_data(src, LEN, 2, 9);
	assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, LEN, 1, &hint), 0);
	assert_int_equal(codec, MVM_CODEC_EXPONENT); /* codec 2's layout, whose checks it shares */
	assert_int_equal(mvm_codec_decode(back, LEN, enc, n - 1, codec), MVM_ECORRUPT);
	assert_int_equal(mvm_codec_decode(back, LEN + 1, enc, n, codec), MVM_ECORRUPT);
	enc[0] = 3; /* element size 3 does not exist */
	assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), MVM_ECORRUPT);
	enc[0] = 2;
	enc[1] = 2; /* phase must be below the element size */
	assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), MVM_ECORRUPT);
	enc[1] = 1;
	enc[3] ^= 0x40; /* plane length */
	assert_int_equal(mvm_codec_decode(back, LEN, enc, n, codec), MVM_ECORRUPT);
}

/* A fine-tune of base: each element moved by noise of about `rel` of its scale. */
static void fine_tune(unsigned char *out, const unsigned char *base, size_t n, unsigned int kind, double rel,
		      uint64_t seed)
{
	size_t i = 0;

	for (; kind == MVM_FLOAT_F32 && i + 4 <= n; i += 4) { /* up to 1000 units in the last place */
		uint32_t w;
		int step;
		memcpy(&w, base + i, 4);
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		step = (int)((seed >> 33) % 2001) - 1000;
		if ((w & 0x7fffffffu) < 0x3c000000u)
			step *= (int)(rel * 64);
		w += (uint32_t)step;
		memcpy(out + i, &w, 4);
	}
	for (; kind != MVM_FLOAT_F32 && i + 2 <= n; i += 2) {
		uint16_t w = (uint16_t)(base[i] | base[i + 1] << 8);
		int step;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* a change of a few units in the last place, more for small weights */
		step = (int)((seed >> 33) % 7) - 3;
		if ((w & 0x7fff) < (kind == MVM_FLOAT_BF16 ? 0x3c00 : 0x2000))
			step *= (int)(rel * 64);
		w = (uint16_t)(w + step);
		out[i] = (unsigned char)w;
		out[i + 1] = (unsigned char)(w >> 8);
	}
	for (; i < n; i++)
		out[i] = base[i];
}

static size_t xor_round_trip(const unsigned char *src, const unsigned char *base, size_t len,
			   const mvm_codec_hint *hint, uint32_t want_codec)
{
	unsigned char *enc = malloc(mvm_codec_bound(len) + 64), *back = malloc(len + 1);
	mvm_oid base_id, named;
	uint32_t codec = 99;
	size_t n = 0;

	memset(&base_id, 0xab, sizeof(base_id));
	assert_int_equal(mvm_codec_encode_xor(enc, mvm_codec_bound(len), &n, &codec, src, base, &base_id, len, hint), 0);
	if (n) {
		assert_int_equal(codec, want_codec);
		assert_true(n < len);
		assert_int_equal(mvm_codec_xor_base(&named, enc, n), 0);
		assert_int_equal(mvm_oid_cmp(&named, &base_id), 0);
		assert_int_equal(mvm_codec_decode_xor(back, len, enc, n, codec, base), 0);
		assert_memory_equal(back, src, len);
		assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), MVM_ECORRUPT); /* needs its base */
	}
	free(enc);
	free(back);
	return n;
}

/*
 * Deltas on every float kind and length: codec 4 for chunks of whole
 * elements up to 256 KiB, codec 3 otherwise; unchanged, slightly and fully changed
 * chunks, with NaN/Inf/subnormal/zero values among them.
 */
static void test_store__xor_deltas_round_trip(void **state)
{
	static const size_t lens[] = { 64, 66, 67, 1000, 4097, 65536, 262144, 262148 };
	static const unsigned int kinds[] = { MVM_FLOAT_BF16, MVM_FLOAT_F16, MVM_FLOAT_F32 };
	size_t k, j, len;
	unsigned int phase, elem;

	(void)state;
	for (j = 0; j < 3; j++)
		for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			len = lens[k];
			elem = kinds[j] == MVM_FLOAT_F32 ? 4 : 2;
			for (phase = 0; phase < 2; phase++) {
				mvm_codec_hint hint = { elem, phase, kinds[j] };
				unsigned char *base = malloc(len), *ft = malloc(len), *other = malloc(len);
				uint32_t want = phase == 0 && len % elem == 0 && len <= 262144 ? MVM_CODEC_FDELTA
											      : MVM_CODEC_XOR;
				float_data(base, len, elem, len + j);
				float_data(other, len, elem, len + j + 100);
				fine_tune(ft, base, len, kinds[j], 0.5, len);
				/* headers outweigh tiny chunks; from 4 KiB on a delta must pay */
				assert_true(xor_round_trip(ft, base, len, &hint, want) > 0 || len < 4096);
				assert_true(xor_round_trip(base, base, len, &hint, want) > 0 || len < 4096);
				xor_round_trip(other, base, len, &hint, want);
				memset(other, 0, len);
				xor_round_trip(base, other, len, &hint, want);
				free(base);
				free(ft);
				free(other);
			}
		}
}

/*
 * F64: every phase and length round-trips; Gaussian doubles are byte-grouped
 * (under 92%), doubles that are short decimals go to zstd, which codes
 * them far smaller than the planes would; deltas of F64 round-trip too.
 */
static void test_store__f64_round_trips(void **state)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 1001, 4096, 65537, 262144 };
	unsigned char *src = malloc(262144 + 16), *enc = malloc(mvm_codec_bound(262144) + 64),
		      *back = malloc(262144 + 16), *ft = malloc(262144);
	unsigned int phase;
	size_t k, n, i;
	uint32_t codec;

	(void)state;
	for (phase = 0; phase < 8; phase++)
		for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			mvm_codec_hint hint = { 8, phase, MVM_FLOAT_F64 };
			size_t len = lens[k];

			f64_data(src, len + 16, len + phase);
			assert_int_equal(mvm_codec_encode(enc, &n, &codec, src + (8 - phase) % 8, len, 1, &hint), 0);
			assert_true(n <= len);
			if (len >= 4096) {
				assert_int_equal(codec, MVM_CODEC_BYTEGROUP);
				assert_true(n < 0.92 * (double)len); /* zstd: ~95% */
			}
			assert_int_equal(mvm_codec_decode(back, len, enc, n, codec), 0);
			assert_memory_equal(back, src + (8 - phase) % 8, len);
		}
	for (i = 0; i < 262144; i += 8) { /* prices: two decimals, a random walk of cents */
		static double price = 100;
		price += (double)((int)((i * 2654435761u) >> 7 & 7) - 3) / 100.0;
		memcpy(src + i, &price, 8);
	}
	{
		mvm_codec_hint hint = { 8, 0, MVM_FLOAT_F64 };
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, 262144, 1, &hint), 0);
		assert_int_equal(codec, MVM_CODEC_ZSTD);
		assert_int_equal(mvm_codec_decode(back, 262144, enc, n, codec), 0);
		assert_memory_equal(back, src, 262144);
		f64_data(src, 262144, 5);
		memcpy(ft, src, 262144);
		for (i = 0; i < 262144; i += 8 * 5) /* a fifth of the values nudged in their last mantissa bits */
			ft[i] ^= 0x15;
		assert_true(xor_round_trip(ft, src, 262144, &hint, MVM_CODEC_XOR) < 262144 / 4);
		assert_true(xor_round_trip(src, src, 262144, &hint, MVM_CODEC_XOR) > 0);
	}
	free(src);
	free(enc);
	free(back);
	free(ft);
}

/* Codec 4 on its own (even where a delta would not pay): decodes to the input. */
static void fdelta_exact(const unsigned char *now, const unsigned char *base, size_t len, unsigned int kind)
{
	size_t cap = 2 * len + 1024, n = 0;
	unsigned char *enc = malloc(cap), *back = malloc(len);
	ZSTD_DCtx *d = ZSTD_createDCtx();

	assert_int_equal(mvm_fdelta_encode(enc, cap, &n, now, base, len, kind), 0);
	assert_int_equal(mvm_fdelta_decode(back, len, enc, n, base, d), 0);
	assert_memory_equal(back, now, len);
	ZSTD_freeDCtx(d);
	free(enc);
	free(back);
}

/* Codec 4 maps every 16-bit value back exactly, against bases at the edges of the value order. */
static void test_store__fdelta_every_value(void **state)
{
	static const uint16_t bases[] = { 0x0000, 0x8000, 0x7fff, 0xffff, 0x7f80, 0x3c00, 0xfc00 };
	enum { COUNT = 32768, LEN = 2 * COUNT };
	unsigned char *base = malloc(LEN), *now = malloc(LEN);
	mvm_codec_hint hint[2] = { { 2, 0, MVM_FLOAT_BF16 }, { 2, 0, MVM_FLOAT_F16 } };
	size_t b, half, i, h;

	(void)state;
	for (h = 0; h < 2; h++)
		for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
			for (half = 0; half < 2; half++) {
				for (i = 0; i < COUNT; i++) {
					uint16_t w = (uint16_t)(half * COUNT + i), bw = (uint16_t)(bases[b] + (i % 3));
					now[2 * i] = (unsigned char)w;
					now[2 * i + 1] = (unsigned char)(w >> 8);
					base[2 * i] = (unsigned char)bw;
					base[2 * i + 1] = (unsigned char)(bw >> 8);
				}
				fdelta_exact(now, base, LEN, hint[h].kind);
				fdelta_exact(base, now, LEN, hint[h].kind);
			}
	free(base);
	free(now);
}

/*
 * F32: every pair of edge patterns (both zeros, both infinities, NaNs,
 * subnormals, the largest finite values, +-1), whose ordered differences
 * span the whole 32-bit range, and random bit patterns.
 */
static void test_store__fdelta_f32_edges(void **state)
{
	static const uint32_t edges[] = { 0x00000000u, 0x80000000u, 0x7fffffffu, 0xffffffffu, 0x7f800000u,
					  0xff800000u, 0x7fc00000u, 0x00000001u, 0x80000001u, 0x007fffffu,
					  0x7f7fffffu, 0xff7fffffu, 0x3f800000u, 0xbf800000u, 0x3c23d70au };
	enum { E = sizeof(edges) / sizeof(edges[0]), COUNT = 16384, LEN = 4 * COUNT };
	unsigned char *base = malloc(LEN), *now = malloc(LEN);
	uint64_t x = 99;
	uint32_t b, w;
	size_t i;

	(void)state;
	for (i = 0; i < COUNT; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		b = i < E * E ? edges[i / E] : (uint32_t)(x >> 32);
		w = i < E * E ? edges[i % E] : (uint32_t)x;
		memcpy(base + 4 * i, &b, 4);
		memcpy(now + 4 * i, &w, 4);
	}
	fdelta_exact(now, base, LEN, MVM_FLOAT_F32);
	fdelta_exact(base, now, LEN, MVM_FLOAT_F32);
	fdelta_exact(now, base, 4 * E * E, MVM_FLOAT_F32);
	free(base);
	free(now);
}

/* Codec 4 beats codec 3 on a fine-tune, and damage is reported, never decoded. */
static void test_store__fdelta_rejects_damage(void **state)
{
	enum { LEN = 65536 };
	/* bad layout bytes: v1 with another class count, v2 with 0, 7 (a valid count, wrong streams) or 9 classes */
	static const unsigned char layouts[] = { 3, 5, 8, 0x80, 0x87, 0x89, 0xff, 0x04 };
	mvm_codec_hint ctx = { 2, 0, MVM_FLOAT_BF16 }, plain = { 2, 1, MVM_FLOAT_BF16 };
	unsigned char *base = malloc(LEN + 2), *ft = malloc(LEN + 2), *enc = malloc(2 * LEN), *back = malloc(LEN);
	mvm_oid id;
	uint32_t codec;
	size_t n, n3, i;

	(void)state;
	memset(&id, 1, sizeof(id));
	float_data(base, LEN + 2, 2, 5);
	fine_tune(ft, base, LEN + 2, MVM_FLOAT_BF16, 0.5, 6);
	/* the same bytes one byte off the element grid can only take codec 3 */
	assert_int_equal(mvm_codec_encode_xor(enc, 2 * LEN, &n3, &codec, ft + 1, base + 1, &id, LEN, &plain), 0);
	assert_int_equal(codec, MVM_CODEC_XOR);
	assert_int_equal(mvm_codec_encode_xor(enc, 2 * LEN, &n, &codec, ft, base, &id, LEN, &ctx), 0);
	assert_int_equal(codec, MVM_CODEC_FDELTA);
	assert_true(n > 0 && n < n3);
	assert_int_equal(mvm_codec_decode_xor(back, LEN, enc, n - 1, codec, base), MVM_ECORRUPT);
	assert_int_equal(mvm_codec_decode_xor(back, LEN - 2, enc, n, codec, base), MVM_ECORRUPT);
	enc[MVM_OID_RAWSZ] = 9; /* unknown float kind */
	assert_int_equal(mvm_codec_decode_xor(back, LEN, enc, n, codec, base), MVM_ECORRUPT);
	enc[MVM_OID_RAWSZ] = MVM_FLOAT_BF16;
	assert_int_equal(enc[MVM_OID_RAWSZ + 1], 0x88); /* layout 2, 8 classes */
	for (i = 0; i < sizeof(layouts); i++) {
		enc[MVM_OID_RAWSZ + 1] = layouts[i];
		assert_int_equal(mvm_codec_decode_xor(back, LEN, enc, n, codec, base), MVM_ECORRUPT);
	}
	enc[MVM_OID_RAWSZ + 1] = 0x88;
	assert_int_equal(mvm_codec_decode_xor(back, LEN, enc, n, codec, base), 0);
	assert_memory_equal(back, ft, LEN);
	/* any single flipped byte: an error or, if it decodes, never a crash */
	for (i = MVM_OID_RAWSZ; i < n; i += 97) {
		enc[i] ^= 0x5a;
		(void)mvm_codec_decode_xor(back, LEN, enc, n, codec, base);
		enc[i] ^= 0x5a;
	}
	free(base);
	free(ft);
	free(enc);
	free(back);
}

static void test_store__pack_round_trip(void **state)
{
	fixture *f = *state;
	enum { N = 200, LEN = 3000 };
	unsigned char src[LEN], enc[LEN + 512];
	mvm_oid ids[N];
	mvm_buf got = MVM_BUF_INIT;
	uint32_t codec;
	size_t n, i;

	for (i = 0; i < N; i++) {
		fill(src, LEN, i, i % 2);
		assert_int_equal(mvm_sha256_buf(&ids[i], src, LEN), 0);
		assert_int_equal(mvm_store_has(f->st, &ids[i]), 0);
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, LEN, 1, NULL), 0);
		assert_int_equal(mvm_store_write(f->st, &ids[i], enc, n, LEN, codec, NULL), 0);
		assert_int_equal(mvm_store_has(f->st, &ids[i]), 1); /* pending counts */
		/* writing the same chunk again is a no-op */
		assert_int_equal(mvm_store_write(f->st, &ids[i], enc, n, LEN, codec, NULL), 0);
	}
	assert_int_equal(mvm_store_flush(f->st), 0);
	for (i = 0; i < N; i++) {
		fill(src, LEN, i, i % 2);
		assert_int_equal(mvm_store_get(&got, f->st, &ids[i]), 0);
		assert_int_equal(got.size, LEN);
		assert_memory_equal(got.ptr, src, LEN);
	}
	mvm_buf_dispose(&got);
}

/* Insert a chunk row for id directly, as another process's commit would: its id into the chunk filter first. */
static void insert_row(mvm_db *db, const char *dir, const mvm_oid *id)
{
	mvm_chunk_filter *cf;
	sqlite3_stmt *q;

	assert_int_equal(mvm_chunkfilter_open(&cf, dir, db, MVM_CHUNKFILTER_OPEN), 0);
	if (cf)
		mvm_chunkfilter_add(cf, id);
	mvm_chunkfilter_free(cf);

	assert_int_equal(mvm_db_prepare(&q, db, "INSERT INTO chunks(id, pack, offset, stored_len, raw_len, codec) "
					  "VALUES(?, 77, 0, 10, 10, 0)"), 0);
	mvm_db_bind_oid(q, 1, id);
	assert_int_equal(mvm_db_step_done(db, q), 0);
	sqlite3_finalize(q);
}

/*
 * Lookups run on reader connections when the main one has no transaction
 * open: they see rows committed by anyone; inside a transaction the main
 * connection answers, so its own uncommitted rows are found too.
 */
static void test_store__lookups_see_committed_and_own_rows(void **state)
{
	fixture *f = *state;
	mvm_chunk_loc loc;
	mvm_db *other;
	mvm_oid a, b, c;

	assert_int_equal(mvm_sha256_buf(&a, "a", 1), 0);
	assert_int_equal(mvm_sha256_buf(&b, "b", 1), 0);
	assert_int_equal(mvm_sha256_buf(&c, "c", 1), 0);
	assert_int_equal(mvm_store_has(f->st, &a), 0); /* opens a reader */
	assert_int_equal(mvm_db_open(&other, f->db->path, 0), 0);
	insert_row(other, f->dir, &a); /* committed by another connection after the reader opened */
	assert_int_equal(mvm_store_has(f->st, &a), 1);
	assert_int_equal(mvm_store_locate(&loc, f->st, &a), 0);
	assert_true(loc.pack == 77 && loc.raw_len == 10);
	assert_int_equal(mvm_db_begin(f->db), 0);
	insert_row(f->db, f->dir, &b); /* not committed: only the main connection sees it */
	assert_int_equal(mvm_store_has(f->st, &b), 1);
	assert_int_equal(mvm_store_has(f->st, &c), 0);
	mvm_db_rollback(f->db);
	assert_int_equal(mvm_store_has(f->st, &b), 0);
	assert_int_equal(mvm_store_locate(&loc, f->st, &b), MVM_ENOTFOUND);
	mvm_db_free(other);
}

static int64_t query_int(mvm_db *db, const char *sql)
{
	sqlite3_stmt *q;
	int64_t n;

	assert_int_equal(mvm_db_prepare(&q, db, sql), 0);
	assert_int_equal(mvm_db_step_row(db, q), 1);
	n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

static int64_t pack_rows(mvm_db *db)
{
	return query_int(db, "SELECT count(*) FROM packs");
}

/*
 * SQLite's WAL syncs (fdatasync on Linux), counted: the test binary's
 * definition comes before libc's for libsqlite3 too, and nothing else in
 * the store calls it (packs and files are synced with fsync).
 */
static int wal_syncs;

int fdatasync(int fd)
{
	__atomic_add_fetch(&wal_syncs, 1, __ATOMIC_RELAXED);
	return (int)syscall(SYS_fdatasync, fd);
}

/*
 * Packs indexed while an add writes do not wait for the disk; the flush's
 * last index commit does, which makes the earlier ones durable too.
 */
static void test_store__index_commits_sync_once_a_flush(void **state)
{
	fixture *f = *state;
	enum { LEN = 1u << 20, N = 140 }; /* three packs: the first is indexed while the third is written */
	unsigned char *src = malloc(LEN);
	mvm_oid id;
	size_t i;

	assert_non_null(src);
	__atomic_store_n(&wal_syncs, 0, __ATOMIC_RELAXED);
	for (i = 0; i < N; i++) {
		fill(src, LEN, 2000 + i, 0);
		assert_int_equal(mvm_sha256_buf(&id, src, LEN), 0);
		assert_int_equal(mvm_store_write(f->st, &id, src, LEN, LEN, MVM_CODEC_RAW, NULL), 0);
	}
	assert_int_equal(pack_rows(f->db), 1);
	assert_int_equal(__atomic_load_n(&wal_syncs, __ATOMIC_RELAXED), 0);
	assert_int_equal(mvm_store_flush(f->st), 0);
	assert_int_equal(pack_rows(f->db), 3);
	assert_true(__atomic_load_n(&wal_syncs, __ATOMIC_RELAXED) >= 1);
	assert_int_equal(query_int(f->db, "PRAGMA synchronous"), 2); /* and every commit after it */
	free(src);
}

/* Write chunk i of the has_many test (raw, 100 bytes) with the given seal count, or mvm_store_write's. */
static void write_small(mvm_store *st, const mvm_oid *ids, size_t i, const uint64_t *gen)
{
	unsigned char src[100];

	fill(src, sizeof(src), i, 1);
	if (gen)
		assert_int_equal(mvm_store_write_new(st, *gen, &ids[i], src, sizeof(src), sizeof(src), MVM_CODEC_RAW,
						     NULL), 0);
	else
		assert_int_equal(mvm_store_write(st, &ids[i], src, sizeof(src), sizeof(src), MVM_CODEC_RAW, NULL), 0);
}

/* Size of dir/name in bytes, -1 when it cannot be read. */
static long long file_size(const char *dir, const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Id k of a test set: the SHA-256 of "<set>:<k>". */
static void test_id(mvm_oid *id, char set, unsigned int k)
{
	char name[32];

	snprintf(name, sizeof(name), "%c:%u", set, k);
	assert_int_equal(mvm_sha256_buf(id, name, strlen(name)), 0);
}

/*
 * The chunk filter built from an index of 60000 ids (past the smallest
 * filter's room, so it is sized from the packs' counts): every indexed id
 * may be there, at most 1% of 200000 others; ids added later are found;
 * OPEN maps none where there is no file; REBUILD forgets ids not indexed.
 */
static void test_store__chunk_filter(void **state)
{
	fixture *f = *state;
	enum { N = 60000, OTHERS = 200000 };
	mvm_chunk_filter *cf = NULL;
	sqlite3_stmt *ins = NULL;
	mvm_oid id;
	size_t fp = 0;
	unsigned int k;

	assert_int_equal(mvm_chunkfilter_open(&cf, f->dir, f->db, MVM_CHUNKFILTER_OPEN), 0);
	assert_null(cf);
	assert_int_equal(mvm_db_exec(f->db, "BEGIN; INSERT INTO packs(id, name, size, chunks) VALUES (1, 'p', 0, 60000)"), 0);
	assert_int_equal(mvm_db_prepare(&ins, f->db, "INSERT INTO chunks(id, pack, offset, stored_len, raw_len, codec)"
				       " VALUES (?, 1, 0, 1, 1, 0)"), 0);
	for (k = 0; k < N; k++) {
		test_id(&id, 'i', k);
		mvm_db_bind_oid(ins, 1, &id);
		assert_int_equal(mvm_db_step_done(f->db, ins), 0);
	}
	sqlite3_finalize(ins);
	assert_int_equal(mvm_db_exec(f->db, "COMMIT"), 0);

	assert_int_equal(mvm_chunkfilter_open(&cf, f->dir, f->db, MVM_CHUNKFILTER_BUILD), 0);
	assert_non_null(cf);
	for (k = 0; k < N; k++) {
		test_id(&id, 'i', k);
		assert_true(mvm_chunkfilter_may_have(cf, &id));
	}
	for (k = 0; k < OTHERS; k++) {
		test_id(&id, 'o', k);
		fp += (size_t)mvm_chunkfilter_may_have(cf, &id);
	}
	assert_true(fp < OTHERS / 100);
	test_id(&id, 'o', 7);
	if (!mvm_chunkfilter_may_have(cf, &id))
		mvm_chunkfilter_add(cf, &id);
	assert_true(mvm_chunkfilter_may_have(cf, &id));
	mvm_chunkfilter_free(cf);

	/* a second mapping sees the added ids; a rebuild from the index drops them */
	assert_int_equal(mvm_chunkfilter_open(&cf, f->dir, f->db, MVM_CHUNKFILTER_OPEN), 0);
	assert_true(mvm_chunkfilter_may_have(cf, &id));
	for (k = 0; k < 1000; k++) {
		test_id(&id, 'o', k);
		mvm_chunkfilter_add(cf, &id);
	}
	mvm_chunkfilter_free(cf);
	assert_int_equal(mvm_chunkfilter_open(&cf, f->dir, f->db, MVM_CHUNKFILTER_REBUILD), 0);
	for (k = 0, fp = 0; k < 1000; k++) {
		test_id(&id, 'o', k);
		fp += (size_t)mvm_chunkfilter_may_have(cf, &id);
	}
	assert_true(fp < 30);
	mvm_chunkfilter_free(cf);
	/* sized from the packs' count: 60000 ids at 20 bits, 2^12 blocks */
	assert_int_equal(file_size(f->dir, "chunks.filter"), 64 + 64 * 4096);
}

/*
 * A writer with no filter mapped (here: a damaged one, and a gc-like
 * writer, which does not look chunks up first) removes the file before it
 * commits rows, rather than leave a filter without their ids; the next
 * lookup builds one that has them.
 */
static void test_store__writer_without_filter_removes_it(void **state)
{
	fixture *f = *state;
	unsigned char src[1000], has;
	mvm_chunk_filter *cf = NULL;
	mvm_buf path = MVM_BUF_INIT;
	mvm_oid id;
	uint64_t gen, misses, ids;
	FILE *fp;

	assert_int_equal(mvm_chunkfilter_open(&cf, f->dir, f->db, MVM_CHUNKFILTER_BUILD), 0);
	assert_non_null(cf);
	mvm_chunkfilter_free(cf);
	mvm_buf_printf(&path, "%s/chunks.filter", f->dir);
	assert_non_null(fp = fopen(path.ptr, "r+b"));
	assert_int_equal(fwrite("XXXXXXXX", 1, 8, fp), 8);
	fclose(fp);

	fill(src, sizeof(src), 5, 0);
	assert_int_equal(mvm_sha256_buf(&id, src, sizeof(src)), 0);
	mvm_store_set_rewriting(f->st, 1);
	assert_int_equal(mvm_store_write(f->st, &id, src, sizeof(src), sizeof(src), MVM_CODEC_RAW, NULL), 0);
	assert_int_equal(mvm_store_flush(f->st), 0);
	mvm_store_set_rewriting(f->st, 0);
	assert_int_equal(access(path.ptr, F_OK), -1);

	mvm_store_filter_forget(f->st);
	assert_int_equal(mvm_store_has_many(f->st, &id, 1, &has, &gen), 0);
	assert_int_equal(has, 1);
	assert_int_equal(access(path.ptr, F_OK), 0);
	assert_int_equal(mvm_store_filter_misses(&misses, &ids, f->st), 0);
	assert_int_equal(misses, 0);
	assert_int_equal(ids, 1);
	mvm_buf_dispose(&path);
}

/*
 * mvm_store_has_many answers as mvm_store_has does for indexed, pending
 * and absent ids, on a reader and on the main connection; a chunk written
 * with a seal count from before a pack that holds it was sealed is still
 * not written twice.
 */
static void test_store__has_many_and_write_new(void **state)
{
	fixture *f = *state;
	enum { N = 20 };
	unsigned char src[100], has[N];
	mvm_oid ids[N];
	uint64_t gen, stale;
	int64_t packs;
	size_t i;
	int pass;

	for (i = 0; i < N; i++) {
		fill(src, sizeof(src), i, 1);
		assert_int_equal(mvm_sha256_buf(&ids[i], src, sizeof(src)), 0);
	}
	for (i = 0; i < 10; i++)
		write_small(f->st, ids, i, NULL);
	assert_int_equal(mvm_store_flush(f->st), 0); /* 0-9 indexed */
	for (i = 10; i < 15; i++)
		write_small(f->st, ids, i, NULL); /* 10-14 pending, 15-19 absent */
	for (pass = 0; pass < 2; pass++) {
		if (pass)
			assert_int_equal(mvm_db_begin(f->db), 0); /* lookups on the main connection */
		memset(has, 7, sizeof(has));
		assert_int_equal(mvm_store_has_many(f->st, ids, N, has, &gen), 0);
		for (i = 0; i < N; i++) {
			assert_int_equal(has[i], i < 15);
			assert_int_equal(has[i], mvm_store_has(f->st, &ids[i]));
		}
		if (pass)
			mvm_db_rollback(f->db);
	}
	write_small(f->st, ids, 15, &gen);
	assert_int_equal(mvm_store_has(f->st, &ids[15]), 1);
	assert_int_equal(mvm_store_flush(f->st), 0);

	assert_int_equal(mvm_store_has_many(f->st, ids + 16, 1, has, &stale), 0);
	assert_int_equal(has[0], 0);
	write_small(f->st, ids, 16, NULL);
	write_small(f->st, ids, 17, NULL);
	assert_int_equal(mvm_store_flush(f->st), 0); /* 16 indexed after `stale`, in a pack of its own name */
	packs = pack_rows(f->db);
	write_small(f->st, ids, 16, &stale);
	assert_int_equal(mvm_store_flush(f->st), 0);
	assert_int_equal(pack_rows(f->db), packs); /* nothing was pending: no pack of 16 alone */
	assert_int_equal(mvm_store_has(f->st, &ids[16]), 1);
}

/* Files in dir/sub. */
static int count_files(const char *dir, const char *sub)
{
	char cmd[256];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s/%s | wc -l", dir, sub);
	assert_non_null(p = popen(cmd, "r"));
	assert_int_equal(fscanf(p, "%d", &n), 1);
	pclose(p);
	return n;
}

/*
 * A pack that fills up is sealed while the next one is written (its fsync
 * on a thread): until it is indexed its chunks are still pending (found,
 * never written twice); a flush indexes both; a store freed before the
 * flush leaves no pack and no temp file behind.
 */
static void test_store__packs_seal_behind_the_writer(void **state)
{
	fixture *f = *state;
	enum { LEN = 1u << 20, N = 70 }; /* 70 MiB of raw chunks: past one pack */
	unsigned char *src = malloc(LEN);
	mvm_oid ids[N + 3];
	unsigned char has[N + 3];
	mvm_buf got = MVM_BUF_INIT, p = MVM_BUF_INIT;
	uint64_t gen;
	size_t i;
	int n;

	assert_non_null(src);
	for (i = 0; i < N + 3; i++) {
		fill(src, LEN, 500 + i, 0);
		assert_int_equal(mvm_sha256_buf(&ids[i], src, LEN), 0);
		if (i < N)
			assert_int_equal(mvm_store_write(f->st, &ids[i], src, LEN, LEN, MVM_CODEC_RAW, NULL), 0);
	}
	assert_int_equal(pack_rows(f->db), 0);               /* the first pack is sealing, not indexed */
	/* the open one in tmp/; the sealing one there too, or already moved into packs/ by the sealer */
	n = count_files(f->dir, "tmp");
	assert_true(n == 1 || n == 2);
	assert_true(count_files(f->dir, "packs") <= 1);
	assert_int_equal(mvm_store_has_many(f->st, ids, N + 3, has, &gen), 0);
	for (i = 0; i < N + 3; i++)
		assert_int_equal(has[i], i < N);
	fill(src, LEN, 500, 0);
	assert_int_equal(mvm_store_write(f->st, &ids[0], src, LEN, LEN, MVM_CODEC_RAW, NULL), 0); /* pending: skipped */
	assert_int_equal(mvm_store_flush(f->st), 0);
	assert_int_equal(pack_rows(f->db), 2);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	assert_int_equal(count_files(f->dir, "packs"), 2);
	for (i = 0; i < N; i += 23) {
		fill(src, LEN, 500 + i, 0);
		assert_int_equal(mvm_store_get(&got, f->st, &ids[i]), 0);
		assert_memory_equal(got.ptr, src, LEN);
	}
	/* 70 more MiB, then the store goes away unflushed: nothing of it stays */
	for (i = 0; i < N; i++) {
		fill(src, LEN, 900 + i, 0);
		assert_int_equal(mvm_sha256_buf(&ids[0], src, LEN), 0);
		assert_int_equal(mvm_store_write(f->st, &ids[0], src, LEN, LEN, MVM_CODEC_RAW, NULL), 0);
	}
	mvm_store_free(f->st);
	assert_int_equal(count_files(f->dir, "tmp"), 0);
	assert_int_equal(count_files(f->dir, "packs"), 2);
	assert_int_equal(pack_rows(f->db), 2);
	assert_int_equal(mvm_store_open(&f->st, f->db, f->dir), 0); /* for teardown */
	mvm_buf_dispose(&got);
	mvm_buf_dispose(&p);
	free(src);
}

static int only_pack(mvm_buf *out, const char *dir)
{
	char cmd[256];
	FILE *p;
	char line[512];

	snprintf(cmd, sizeof(cmd), "ls %s/packs/pack-*.pack", dir);
	if (!(p = popen(cmd, "r")) || !fgets(line, sizeof(line), p))
		return -1;
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	mvm_buf_clear(out);
	return mvm_buf_puts(out, line);
}

static void test_store__damaged_index_is_detected(void **state)
{
	fixture *f = *state;
	unsigned char src[1000] = { 1 }, byte;
	mvm_pack_entry *entries = NULL;
	mvm_buf path = MVM_BUF_INIT;
	size_t count;
	mvm_oid id;
	int fd;
	off_t end;

	assert_int_equal(mvm_sha256_buf(&id, src, sizeof(src)), 0);
	assert_int_equal(mvm_store_write(f->st, &id, src, sizeof(src), sizeof(src), MVM_CODEC_RAW, NULL), 0);
	assert_int_equal(mvm_store_flush(f->st), 0);
	assert_int_equal(only_pack(&path, f->dir), 0);
	assert_true((fd = open(path.ptr, O_RDWR)) >= 0);
	assert_int_equal(mvm_pack_read_index(&entries, &count, fd, "p"), 0);
	assert_int_equal(count, 1);
	assert_int_equal(mvm_oid_cmp(&entries[0].id, &id), 0);
	free(entries);
	/* flip one byte of the index: the checksum must catch it */
	end = lseek(fd, 0, SEEK_END);
	assert_int_equal(pread(fd, &byte, 1, end - MVM_PACK_TRAILER_SIZE - 10), 1);
	byte ^= 1;
	assert_int_equal(pwrite(fd, &byte, 1, end - MVM_PACK_TRAILER_SIZE - 10), 1);
	assert_int_equal(mvm_pack_read_index(&entries, &count, fd, "p"), MVM_ECORRUPT);
	/* and a truncated pack has no trailer */
	assert_int_equal(ftruncate(fd, end - 3), 0);
	assert_int_equal(mvm_pack_read_index(&entries, &count, fd, "p"), MVM_ECORRUPT);
	close(fd);
	mvm_buf_dispose(&path);
}

/*
 * A reader located a chunk, then gc moved it to another pack and deleted
 * the old one (as gc does: new pack indexed, rows repointed, old pack row
 * and file removed). The read must find it in its new place; with no other
 * copy, the error is corruption, not a crash.
 */
static void test_store__read_after_gc_moved_the_chunk(void **state)
{
	fixture *f = *state;
	unsigned char src[5000], back[5000];
	mvm_chunk_loc loc;
	mvm_buf old = MVM_BUF_INIT, moved = MVM_BUF_INIT, sql = MVM_BUF_INIT, scratch = MVM_BUF_INIT;
	char cmd[512];
	mvm_oid id;

	fill(src, sizeof(src), 3, 1);
	assert_int_equal(mvm_sha256_buf(&id, src, sizeof(src)), 0);
	assert_int_equal(mvm_store_write(f->st, &id, src, sizeof(src), sizeof(src), MVM_CODEC_RAW, NULL), 0);
	assert_int_equal(mvm_store_flush(f->st), 0);
	assert_int_equal(mvm_store_locate(&loc, f->st, &id), 0);
	assert_int_equal(only_pack(&old, f->dir), 0);
	mvm_buf_printf(&moved, "%s/packs/pack-moved.pack", f->dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", old.ptr, moved.ptr);
	assert_int_equal(system(cmd), 0);
	mvm_buf_printf(&sql, "INSERT INTO packs(name, size, chunks) SELECT 'pack-moved.pack', size, chunks FROM packs"
			     " WHERE id = %lld; UPDATE chunks SET pack = last_insert_rowid(); DELETE FROM packs"
			     " WHERE id = %lld", (long long)loc.pack, (long long)loc.pack);
	assert_int_equal(mvm_db_exec(f->db, sql.ptr), 0);
	assert_int_equal(unlink(old.ptr), 0);
	assert_int_equal(mvm_store_read(back, f->st, &loc, &scratch), 0);
	assert_memory_equal(back, src, sizeof(src));
	/* no copy anywhere (and no handle still open on it): corruption */
	assert_int_equal(unlink(moved.ptr), 0);
	mvm_store_drop_handles(f->st);
	assert_int_equal(mvm_store_locate(&loc, f->st, &id), 0);
	assert_int_equal(mvm_store_read(back, f->st, &loc, &scratch), MVM_ECORRUPT);
	mvm_buf_dispose(&old);
	mvm_buf_dispose(&moved);
	mvm_buf_dispose(&sql);
	mvm_buf_dispose(&scratch);
}

/* Chunk i of the read-set test: its length and bytes. */
static size_t set_chunk(unsigned char *p, size_t i)
{
	size_t len = 1000 + (i * 7919) % 9000;

	fill(p, len, 1000 + i, i % 3 == 0);
	return len;
}

static void check_set(mvm_store *st, const mvm_stored_set *set, const mvm_chunk_loc *locs, const size_t *which,
		      const unsigned char *want, size_t count, int all_in_set)
{
	unsigned char src[10000], back[10000];
	mvm_buf scratch = MVM_BUF_INIT;
	size_t k, len;

	for (k = 0; k < count; k++) {
		if (want && !want[k]) {
			assert_true(set->at[k] == MVM_STORED_ALONE);
			continue;
		}
		if (all_in_set)
			assert_true(set->at[k] != MVM_STORED_ALONE);
		len = set_chunk(src, which[k]);
		memset(back, 0, sizeof(back));
		assert_int_equal(mvm_store_read_in_set(back, st, set, k, &locs[k], &scratch), 0);
		assert_memory_equal(back, src, len);
	}
	mvm_buf_dispose(&scratch);
}

/*
 * A read set gives every wanted chunk's bytes, whatever the order asked
 * (shuffled, repeated, across three packs, up to the packs' ends); a pack
 * gc removed after the chunks were located leaves those chunks to be read
 * alone, from where they went.
 */
static void test_store__read_set_reads_runs(void **state)
{
	fixture *f = *state;
	enum { N = 300, ASK = 400 };
	unsigned char src[10000], enc[10000 + 512], want[ASK];
	mvm_chunk_loc locs[ASK];
	mvm_stored_set set = MVM_STORED_SET_INIT;
	mvm_buf old = MVM_BUF_INIT, sql = MVM_BUF_INIT;
	size_t which[ASK], i, n, len;
	mvm_oid ids[N];
	uint32_t codec;
	char cmd[512];

	for (i = 0; i < N; i++) {
		len = set_chunk(src, i);
		assert_int_equal(mvm_sha256_buf(&ids[i], src, len), 0);
		assert_int_equal(mvm_codec_encode(enc, &n, &codec, src, len, 1, NULL), 0);
		assert_int_equal(mvm_store_write(f->st, &ids[i], enc, n, len, codec, NULL), 0);
		if (i % 100 == 99)
			assert_int_equal(mvm_store_flush(f->st), 0); /* three packs */
	}
	for (i = 0; i < ASK; i++) {
		which[i] = i < N ? (i * 37) % N : (i * 11) % N; /* every chunk, shuffled, then repeats */
		want[i] = i % 5 != 2;
		assert_int_equal(mvm_store_locate(&locs[i], f->st, &ids[which[i]]), 0);
	}
	assert_int_equal(mvm_store_read_set(&set, f->st, locs, NULL, ASK), 0);
	check_set(f->st, &set, locs, which, NULL, ASK, 1);
	assert_int_equal(mvm_store_read_set(&set, f->st, locs, want, ASK), 0); /* the set is reused */
	check_set(f->st, &set, locs, which, want, ASK, 1);

	/* gc moves the first pack's chunks to a new pack after they were located */
	mvm_buf_printf(&sql, "SELECT name FROM packs WHERE id = %lld", (long long)locs[0].pack);
	assert_int_equal(mvm_store_pack_path(&old, f->st, locs[0].pack), 0);
	snprintf(cmd, sizeof(cmd), "cp %s %s/packs/pack-moved.pack", old.ptr, f->dir);
	assert_int_equal(system(cmd), 0);
	mvm_buf_clear(&sql);
	mvm_buf_printf(&sql, "INSERT INTO packs(name, size, chunks) SELECT 'pack-moved.pack', size, chunks FROM packs"
			     " WHERE id = %lld; UPDATE chunks SET pack = last_insert_rowid() WHERE pack = %lld;"
			     " DELETE FROM packs WHERE id = %lld",
		       (long long)locs[0].pack, (long long)locs[0].pack, (long long)locs[0].pack);
	assert_int_equal(mvm_db_exec(f->db, sql.ptr), 0);
	assert_int_equal(unlink(old.ptr), 0);
	mvm_store_drop_handles(f->st);
	assert_int_equal(mvm_store_read_set(&set, f->st, locs, NULL, ASK), 0);
	assert_true(set.at[0] == MVM_STORED_ALONE);
	check_set(f->st, &set, locs, which, NULL, ASK, 0);
	mvm_stored_set_dispose(&set);
	mvm_buf_dispose(&old);
	mvm_buf_dispose(&sql);
}

/* Both layouts of codec 4 decode to the input; version 2 is what the writer uses. */
static size_t fdelta_both(const unsigned char *now, const unsigned char *base, size_t len, unsigned int kind)
{
	size_t cap = 2 * len + 1024, n = 0, n1 = 0;
	unsigned char *enc = malloc(cap), *other = malloc(cap), *back = malloc(len);
	ZSTD_DCtx *d = ZSTD_createDCtx();

	assert_int_equal(mvm_fdelta_encode(enc, cap, &n, now, base, len, kind), 0);
	assert_int_equal(enc[0], kind);
	assert_int_equal(enc[1], 0x88);
	memset(back, 0xee, len);
	assert_int_equal(mvm_fdelta_decode(back, len, enc, n, base, d), 0);
	assert_memory_equal(back, now, len);
	/* the portable paths write the same bytes as those picked for this CPU, and read them back */
	mvm_cpu_restrict(MVM_CPU_PORTABLE);
	assert_int_equal(mvm_fdelta_encode(other, cap, &n1, now, base, len, kind), 0);
	assert_int_equal(n1, n);
	assert_memory_equal(other, enc, n);
	memset(back, 0xee, len);
	assert_int_equal(mvm_fdelta_decode(back, len, enc, n, base, d), 0);
	mvm_cpu_restrict(MVM_CPU_ALL);
	assert_memory_equal(back, now, len);
	/* any cut is refused, and the context still reads the usual zstd frames afterwards */
	assert_int_equal(mvm_fdelta_decode(back, len, enc, n - 1, base, d), MVM_ECORRUPT);
	if (kind == MVM_FLOAT_F32) { /* version 1 had no F32 layout (decoding one: fdelta_reads_hand_made_f32) */
		assert_int_equal(mvm_fdelta_encode_v1(enc, cap, &n1, now, base, len, kind), MVM_ERROR);
		goto done;
	}
	assert_int_equal(mvm_fdelta_encode_v1(enc, cap, &n1, now, base, len, kind), 0);
	assert_int_equal(enc[1], 4);
	memset(back, 0xee, len);
	assert_int_equal(mvm_fdelta_decode(back, len, enc, n1, base, d), 0);
	assert_memory_equal(back, now, len);
done:
	ZSTD_freeDCtx(d);
	free(enc);
	free(other);
	free(back);
	return n;
}

/*
 * Codec 4 on BF16, F16 and F32 chunks of every length, odd element counts
 * among them: fine-tunes small and large, unchanged chunks (an all-zero
 * delta), all-equal chunks, unrelated data, zero bases, and NaN, Inf,
 * subnormals and zeros (float_data puts them in every 97 elements).
 */
static void test_store__fdelta_round_trips(void **state)
{
	enum { LENS = 8 };
	static const size_t lens2[LENS] = { 64, 66, 130, 1002, 4098, 65534, 65536, 262144 };
	static const size_t lens4[LENS] = { 64, 68, 132, 1004, 4100, 65532, 65536, 262144 };
	static const unsigned int kinds[] = { MVM_FLOAT_BF16, MVM_FLOAT_F16, MVM_FLOAT_F32 };
	size_t k, j, i, len;
	unsigned int elem;

	(void)state;
	for (j = 0; j < 3; j++)
		for (k = 0; k < LENS; k++) {
			unsigned char *base, *now;
			size_t same;

			elem = kinds[j] == MVM_FLOAT_F32 ? 4 : 2;
			len = elem == 4 ? lens4[k] : lens2[k];
			base = malloc(len);
			now = malloc(len);
			float_data(base, len, elem, len + j);
			fine_tune(now, base, len, kinds[j], 0.5, len + 1);
			fdelta_both(now, base, len, kinds[j]);
			fine_tune(now, base, len, kinds[j], 40.0, len + 2);
			fdelta_both(now, base, len, kinds[j]);
			same = fdelta_both(base, base, len, kinds[j]);
			assert_true(len < 4096 || same < 200); /* all-zero deltas cost next to nothing */
			float_data(now, len, elem, len + 99);
			fdelta_both(now, base, len, kinds[j]);
			fdelta_both(base, now, len, kinds[j]);
			memset(now, 0, len);
			fdelta_both(base, now, len, kinds[j]);
			fdelta_both(now, base, len, kinds[j]);
			for (i = 0; i < len; i += 2) { /* all equal, then one changed element */
				now[i] = 0x80;
				now[i + 1] = 0x3f;
			}
			fdelta_both(now, now, len, kinds[j]);
			memcpy(base, now, len);
			now[len / 2] ^= 0x41;
			fdelta_both(now, base, len, kinds[j]);
			free(base);
			free(now);
		}
}

/* The unit test's fixed pair for the version-1 vector below. */
static void v1_pair(unsigned char *base, unsigned char *now, size_t count)
{
	uint32_t x = 12345;
	size_t i;

	for (i = 0; i < count; i++) {
		uint16_t b, w;
		x = x * 1103515245u + 12345u;
		b = (uint16_t)(0x3c00 + ((x >> 16) % 0x600) - (i % 4 == 0 ? 0x300 : 0)); /* exponents over 4 classes */
		b ^= (uint16_t)((x >> 8) & 0x8000);
		w = i % 3 == 0 ? b : (uint16_t)(b + (int)((x >> 4) % 7) - 3);
		if (i % 50 == 7)
			w = (uint16_t)(b ^ 0x1234);
		base[2 * i] = (unsigned char)b;
		base[2 * i + 1] = (unsigned char)(b >> 8);
		now[2 * i] = (unsigned char)w;
		now[2 * i + 1] = (unsigned char)(w >> 8);
	}
}

/*
 * A version-1 chunk as the first codec-4 writer stored it (400 BF16
 * elements of v1_pair, without the base id): raw, zstd, all-zero and
 * sparse streams. Repositories hold such chunks; they must keep decoding.
 */
static void test_store__fdelta_reads_version_1(void **state)
{
	static const unsigned char v1[] = {
		0x01, 0x04, 0x00, 0x31, 0x00, 0x00, 0x00, 0x05, 0x06, 0x04, 0x06, 0x05, 0x03, 0x04, 0x05, 0x00, 0x03, 0x00,
		0x01, 0x05, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x01, 0x28, 0x01, 0x01, 0x03, 0x04, 0x02, 0x00, 0x02, 0x03,
		0x00, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x06, 0x00, 0x17, 0x04, 0x00, 0x00, 0x02, 0x00, 0x02, 0x05, 0x02,
		0x00, 0x03, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x05, 0x06, 0x03, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x01, 0x02,
		0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x02, 0x05, 0x00, 0x00, 0x00, 0x04, 0x05, 0x00,
		0x02, 0x06, 0x00, 0x06, 0x01, 0x04, 0x04, 0x00, 0x00, 0x04, 0x02, 0x01, 0x06, 0x01, 0x05, 0x00, 0x03, 0x00,
		0x00, 0x28, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x03, 0x06, 0x00, 0x00, 0x27, 0x02, 0x05, 0x00, 0x00, 0x00,
		0x01, 0x03, 0x06, 0x02, 0x04, 0x00, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x04, 0x06, 0x00, 0x00, 0x02, 0x00,
		0x00, 0x02, 0x01, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x85, 0x00, 0x00, 0x00, 0x28, 0xb5, 0x2f, 0xfd,
		0x60, 0x08, 0x00, 0xdd, 0x03, 0x00, 0x86, 0xd0, 0x1d, 0x15, 0xa0, 0x25, 0x49, 0x63, 0x0f, 0xae, 0xaa, 0xaa,
		0xaa, 0x2a, 0x5e, 0x55, 0x55, 0xd5, 0xfb, 0x60, 0xc9, 0x2d, 0xc9, 0xde, 0x29, 0x15, 0x00, 0x17, 0x00, 0x17,
		0x00, 0xb3, 0x23, 0xf2, 0x89, 0x5d, 0x85, 0xca, 0x5a, 0x0d, 0x3c, 0xe1, 0x47, 0x18, 0xce, 0x22, 0x1b, 0x2e,
		0x7a, 0x2a, 0x28, 0x0f, 0x9f, 0xd2, 0x29, 0xe5, 0x86, 0x25, 0x28, 0xc2, 0x89, 0xbd, 0x70, 0x51, 0x33, 0xcc,
		0x70, 0xc2, 0x18, 0x2a, 0x11, 0xed, 0x5c, 0xd4, 0x0c, 0xa1, 0x66, 0x88, 0xb1, 0x23, 0xfc, 0x58, 0x80, 0x5d,
		0xd9, 0xd1, 0x5d, 0x9c, 0x32, 0xaa, 0x74, 0x33, 0xb6, 0x38, 0x12, 0xa0, 0x61, 0x23, 0x65, 0x98, 0x85, 0x95,
		0x50, 0x90, 0x27, 0xb4, 0x10, 0x57, 0x20, 0x8b, 0xac, 0x59, 0x96, 0x64, 0x96, 0x9c, 0xb8, 0x3b, 0x25, 0x6a,
		0x14, 0x01, 0x00, 0x03, 0x13, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x40,
		0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x24, 0x24, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x10, 0x00, 0x00,
		0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x24, 0x03,
		0x30, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x1b, 0x1c, 0x23, 0x1c, 0x23
	};
	enum { COUNT = 400 };
	unsigned char base[2 * COUNT], now[2 * COUNT], back[2 * COUNT], enc[sizeof(v1) + 1024];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t i;

	(void)state;
	v1_pair(base, now, COUNT);
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), v1, sizeof(v1), base, d), 0);
	assert_memory_equal(back, now, sizeof(back));
	/* the test-only v1 writer still writes exactly these bytes */
	assert_int_equal(mvm_fdelta_encode_v1(enc, sizeof(enc), &i, now, base, sizeof(now), MVM_FLOAT_BF16), 0);
	assert_int_equal(i, sizeof(v1));
	assert_memory_equal(enc, v1, sizeof(v1));
	/* damage: every byte flipped in turn is refused or decodes to something, never a crash */
	for (i = 0; i < sizeof(v1); i++) {
		memcpy(enc, v1, sizeof(v1));
		enc[i] ^= 0x21;
		(void)mvm_fdelta_decode(back, sizeof(back), enc, sizeof(v1), base, d);
	}
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), v1, sizeof(v1) - 1, base, d), MVM_ECORRUPT);
	ZSTD_freeDCtx(d);
}

/* Version 2 damage: cut anywhere, flipped bytes, lengths past the end and overlong varints. */
static void fdelta_v2_damage(unsigned int kind)
{
	enum { LEN = 8192 };
	unsigned char *base = malloc(LEN), *now = malloc(LEN), *enc = malloc(2 * LEN), *bad = malloc(2 * LEN);
	unsigned char *back = malloc(LEN);
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t n, i;

	float_data(base, LEN, kind == MVM_FLOAT_F32 ? 4 : 2, 77);
	fine_tune(now, base, LEN, kind, 3.0, 78);
	assert_int_equal(mvm_fdelta_encode(enc, 2 * LEN, &n, now, base, LEN, kind), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(mvm_fdelta_decode(back, LEN, enc, i, base, d), MVM_ECORRUPT);
	for (i = 2; i < n; i++) {
		memcpy(bad, enc, n);
		bad[i] ^= 0x80; /* a varint's continuation bit, a length's top or a zstd byte */
		if (mvm_fdelta_decode(back, LEN, bad, n, base, d) == 0)
			assert_true(i > 2); /* the first stream header cannot change and still fit */
	}
	memcpy(bad, enc, 2);
	memset(bad + 2, 0xff, 8); /* a varint that never ends */
	assert_int_equal(mvm_fdelta_decode(back, LEN, bad, 10, base, d), MVM_ECORRUPT);
	bad[2] = 0x01 << 2 | 0; /* a raw stream of 1 byte where more are due */
	assert_int_equal(mvm_fdelta_decode(back, LEN, bad, 4, base, d), MVM_ECORRUPT);
	memcpy(bad, enc, n);
	bad[n] = 0;
	assert_int_equal(mvm_fdelta_decode(back, LEN, bad, n + 1, base, d), MVM_ECORRUPT); /* trailing byte */
	assert_int_equal(mvm_fdelta_decode(back, LEN, enc, n, base, d), 0);
	assert_memory_equal(back, now, LEN);
	ZSTD_freeDCtx(d);
	free(base);
	free(now);
	free(enc);
	free(bad);
	free(back);
}

static void test_store__fdelta_v2_rejects_damage(void **state)
{
	(void)state;
	fdelta_v2_damage(MVM_FLOAT_BF16);
	fdelta_v2_damage(MVM_FLOAT_F32);
}

/* The value-order mapping and zigzag of docs/FORMAT.md, written out again: new = base + unzigzag(z). */
static uint16_t spec_apply(uint16_t base, uint16_t z)
{
	uint16_t o = base & 0x8000 ? (uint16_t)~base : (uint16_t)(base | 0x8000);
	uint16_t d = (uint16_t)((z >> 1) ^ (0u - (z & 1u)));

	o = (uint16_t)(o + d);
	return o & 0x8000 ? (uint16_t)(o & 0x7fff) : (uint16_t)~o;
}

/*
 * A layout-2 chunk built by hand from docs/FORMAT.md, with one class (a
 * count the writer does not use): 100 raw tokens, one of them an escape
 * whose low byte is a raw stream and whose high byte an all-zero stream,
 * then a raw one.
 */
static void test_store__fdelta_reads_hand_made_layout_2(void **state)
{
	enum { COUNT = 100 };
	unsigned char base[2 * COUNT], want[2 * COUNT], back[2 * COUNT], c[2 + 2 + COUNT + 2 + 2];
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < COUNT; i++) {
		uint16_t b = (uint16_t)(0x3f00 + i * 3 - (i % 2 ? 0 : 0x8000)), z = (uint16_t)(i % 7);
		if (i == 42)
			z = 255 + 0x31; /* escaped: x = 0x31 */
		base[2 * i] = (unsigned char)b;
		base[2 * i + 1] = (unsigned char)(b >> 8);
		b = spec_apply(b, z);
		want[2 * i] = (unsigned char)b;
		want[2 * i + 1] = (unsigned char)(b >> 8);
	}
	c[n++] = MVM_FLOAT_BF16;
	c[n++] = 0x81;            /* layout 2, one class */
	c[n++] = 0x80 | ((COUNT << 2) & 0x7f); /* T: varint of 100 << 2 | raw (400 = 0x190) */
	c[n++] = (COUNT << 2) >> 7;
	for (i = 0; i < COUNT; i++)
		c[n++] = (unsigned char)(i == 42 ? 0 : i % 7 + 1);
	c[n++] = 1 << 2 | 0;      /* L: 1 byte raw */
	c[n++] = 0x31;
	c[n++] = 0 << 2 | 2;      /* H: all zero */
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), 0);
	assert_memory_equal(back, want, sizeof(want));
	c[n - 1] = 1 << 2 | 0;    /* H: 1 byte raw, 0x00: the same */
	c[n++] = 0;
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), 0);
	assert_memory_equal(back, want, sizeof(want));
	c[n - 1] = 1;             /* x = 0x131 now */
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), 0);
	assert_int_equal(back[84] | back[85] << 8, spec_apply((uint16_t)(base[84] | base[85] << 8), 255 + 0x131));
	c[4 + 42] = 9;            /* no escape left for the L and H bytes: they are trailing */
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), MVM_ECORRUPT);
	ZSTD_freeDCtx(d);
}

/* docs/FORMAT.md's F32 mapping, written out on its own: base moved by the folded difference z. */
static uint32_t spec_apply32(uint32_t base, uint32_t z)
{
	uint32_t o = base & 0x80000000u ? ~base : base | 0x80000000u;

	o += (z >> 1) ^ (0u - (z & 1u));
	return o & 0x80000000u ? o & 0x7fffffffu : ~o;
}

/*
 * An F32 chunk built by hand from docs/FORMAT.md, with two classes (a
 * count the writer does not use): 16 elements one binade apart from the
 * other 16; streams by byte plane, then class, in raw, all-zero and
 * sparse modes. Pins the F32 layout: a writer and reader that agreed on
 * another stream order would fail here.
 */
static void test_store__fdelta_reads_hand_made_f32(void **state)
{
	enum { COUNT = 32, HALF = COUNT / 2 };
	unsigned char base[4 * COUNT], want[4 * COUNT], back[4 * COUNT], c[256];
	uint32_t z[COUNT], b, w;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t i, k, p, n = 0;

	(void)state;
	for (i = 0; i < COUNT; i++) {
		/* even elements: exponent 127, class 0; odd ones: exponent 125, class 1 (the last, open-ended) */
		b = (i % 2 ? 0x3e800000u : 0x3f800000u) + (uint32_t)i * 977u;
		b |= i % 4 == 3 ? 0x80000000u : 0;
		z[i] = (uint32_t)i * 1000u + 7u;
		if (i == 5)
			z[i] = 0x01020304u; /* class 1, its third element: the only one with bytes 2 and 3 */
		w = spec_apply32(b, z[i]);
		memcpy(base + 4 * i, &b, 4);
		memcpy(want + 4 * i, &w, 4);
	}
	c[n++] = MVM_FLOAT_F32;
	c[n++] = 0x82; /* two classes */
	for (p = 0; p < 2; p++)      /* bytes 0 and 1: raw streams of 16 */
		for (k = 0; k < 2; k++) {
			c[n++] = HALF << 2 | 0;
			for (i = k; i < COUNT; i += 2)
				c[n++] = (unsigned char)(z[i] >> (8 * p));
		}
	c[n++] = 0 << 2 | 2;         /* (2, 0): all zero */
	c[n++] = HALF << 2 | 0;      /* (2, 1): raw, 16 bytes */
	for (i = 1; i < COUNT; i += 2)
		c[n++] = (unsigned char)(z[i] >> 16);
	c[n++] = 0 << 2 | 2;         /* (3, 0): all zero */
	c[n++] = 5 << 2 | 3;         /* (3, 1): sparse, 5 bytes: */
	c[n++] = 2 << 2 | 0;         /*   bitmap, raw, 2 bytes: element 2 of the class */
	c[n++] = 0x04;
	c[n++] = 0x00;
	c[n++] = 1 << 2 | 0;         /*   its one non-zero byte, raw */
	c[n++] = 0x01;
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), 0);
	assert_memory_equal(back, want, sizeof(want));
	c[n - 1] = 0x02; /* another top byte: element 5 moves by 2^24 more */
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n, base, d), 0);
	memcpy(&w, back + 20, 4);
	memcpy(&b, base + 20, 4);
	assert_int_equal(w, spec_apply32(b, 0x02020304u));
	assert_int_equal(mvm_fdelta_decode(back, sizeof(back), c, n - 1, base, d), MVM_ECORRUPT);
	/* version 1 had no F32 layout: 16 all-zero streams in its framing are refused */
	n = 0;
	c[n++] = MVM_FLOAT_F32;
	c[n++] = 4;
	for (i = 0; i < 16; i++) {
		memset(c + n, 0, 5);
		c[n] = 2;
		n += 5;
	}
	assert_int_equal(mvm_fdelta_decode(back, 64, c, n, base, d), MVM_ECORRUPT);
	ZSTD_freeDCtx(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store__codec_picks_raw_or_zstd),
		cmocka_unit_test(test_store__bytegroup_round_trips),
		cmocka_unit_test(test_store__f64_round_trips),
		cmocka_unit_test(test_store__exponent_first_isolates_the_exponent),
		cmocka_unit_test(test_store__bytegroup_rejects_damage),
		cmocka_unit_test(test_store__unknown_floats_are_guessed),
		cmocka_unit_test(test_store__rans_round_trips),
		cmocka_unit_test(test_store__rans_sample_misses_no_symbol),
		cmocka_unit_test(test_store__rans_blocks_are_pinned),
		cmocka_unit_test(test_store__rans_blocks_decode_together),
		cmocka_unit_test(test_store__chunks_decode_together),
		cmocka_unit_test(test_store__expcode_round_trips_and_rejects_damage),
		cmocka_unit_test(test_store__xor_deltas_round_trip),
		cmocka_unit_test(test_store__fdelta_rejects_damage),
		cmocka_unit_test(test_store__fdelta_every_value),
		cmocka_unit_test(test_store__fdelta_f32_edges),
		cmocka_unit_test(test_store__fdelta_round_trips),
		cmocka_unit_test(test_store__fdelta_reads_version_1),
		cmocka_unit_test(test_store__fdelta_v2_rejects_damage),
		cmocka_unit_test(test_store__fdelta_reads_hand_made_layout_2),
		cmocka_unit_test(test_store__fdelta_reads_hand_made_f32),
		cmocka_unit_test_setup_teardown(test_store__pack_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__lookups_see_committed_and_own_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__has_many_and_write_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__chunk_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__writer_without_filter_removes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__damaged_index_is_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__read_after_gc_moved_the_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__read_set_reads_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__packs_seal_behind_the_writer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store__index_commits_sync_once_a_flush, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
