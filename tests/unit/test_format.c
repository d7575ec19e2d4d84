/*
 * test_format.c: safetensors and GGUF tensor tables, built from small byte
 * images in memory: valid files of each kind, every rejected malformation,
 * sniffing of unnamed files and the readers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "util/bytes.h"

/* ---- byte image builder ---- */

typedef struct {
	unsigned char *p;
	size_t n, cap;
} image;

static void put(image *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_u32(image *b, uint32_t v)
{
	unsigned char x[4];

	mvm_put_le32(x, v);
	put(b, x, 4);
}

static void put_u64(image *b, uint64_t v)
{
	unsigned char x[8];

	mvm_put_le64(x, v);
	put(b, x, 8);
}

static void put_zeros(image *b, size_t n)
{
	while (n--)
		put(b, "", 1);
}

static void put_str(image *b, const char *s)
{
	put_u64(b, strlen(s));
	put(b, s, strlen(s));
}

/* ---- safetensors helpers ---- */

static void st_build(image *b, const char *json, size_t data_len)
{
	put_u64(b, strlen(json));
	put(b, json, strlen(json));
	put_zeros(b, data_len);
}

static int parse_mem(mvm_tensor_table *t, int (*fn)(mvm_tensor_table *, const char *, uint64_t,
						    mvm_read_fn, void *),
		     const char *name, const image *b)
{
	mvm_mem_reader m = { b->p, b->n };

	return fn(t, name, b->n, mvm_mem_read, &m);
}

static int st_parse(mvm_tensor_table *t, const char *json, size_t data_len)
{
	image b = { 0 };
	int error;

	st_build(&b, json, data_len);
	error = parse_mem(t, mvm_safetensors_parse, "m.safetensors", &b);
	free(b.p);
	return error;
}

/* Expects the safetensors header to be rejected with a message containing `needle`. */
static void st_reject(const char *json, size_t data_len, const char *needle)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;

	assert_int_equal(st_parse(&t, json, data_len), MVM_EFORMAT);
	if (!strstr(mvm_error_last(), needle))
		fail_msg("error '%s' does not contain '%s'", mvm_error_last(), needle);
	assert_true(strncmp(mvm_error_last(), "m.safetensors: ", 15) == 0);
	assert_null(strchr(mvm_error_last(), '\n'));
	assert_int_equal(t.count, 0);
	assert_null(t.tensors);
	mvm_tensor_table_dispose(&t);
}

static void assert_tensor(const mvm_tensor_info *ti, const char *name, const char *dtype,
			  uint64_t offset, uint64_t length)
{
	assert_string_equal(ti->name, name);
	assert_string_equal(ti->dtype, dtype);
	assert_int_equal(ti->offset, offset);
	assert_int_equal(ti->length, length);
}

/* ---- safetensors: valid files ---- */

static void test_format__safetensors_valid_sorted_absolute(void **state)
{
	const char *json =
		"{\"__metadata__\": {\"format\": \"pt\"},"
		" \"z.weight\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [12, 28]},"
		" \"a.bias\": {\"dtype\": \"BF16\", \"shape\": [3, 2], \"data_offsets\": [0, 12]},"
		" \"m.mask\": {\"dtype\": \"BOOL\", \"shape\": [3], \"data_offsets\": [28, 31]},"
		" \"e.empty\": {\"dtype\": \"I64\", \"shape\": [0, 5], \"data_offsets\": [31, 31]},"
		" \"q.f8\": {\"dtype\": \"F8_E4M3\", \"shape\": [], \"data_offsets\": [32, 33]},"
		" \"f4\": {\"dtype\": \"F4\", \"shape\": [4], \"data_offsets\": [33, 35]}}    ";
	uint64_t ds = 8 + strlen(json);
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;

	(void)state;
	assert_int_equal(st_parse(&t, json, 40), 0);
	assert_int_equal(t.format, MVM_FORMAT_SAFETENSORS);
	assert_int_equal(t.data_start, ds);
	assert_int_equal(t.count, 6);
	assert_tensor(&t.tensors[0], "a.bias", "BF16", ds, 12);
	assert_int_equal(t.tensors[0].ndim, 2);
	assert_int_equal(t.tensors[0].shape[0], 3);
	assert_int_equal(t.tensors[0].shape[1], 2);
	assert_tensor(&t.tensors[1], "z.weight", "F32", ds + 12, 16);
	assert_tensor(&t.tensors[2], "m.mask", "BOOL", ds + 28, 3);
	assert_tensor(&t.tensors[3], "e.empty", "I64", ds + 31, 0);
	assert_tensor(&t.tensors[4], "q.f8", "F8_E4M3", ds + 32, 1);
	assert_int_equal(t.tensors[4].ndim, 0);
	assert_tensor(&t.tensors[5], "f4", "F4", ds + 33, 2);
	mvm_tensor_table_dispose(&t);
	assert_null(t.tensors);
	assert_int_equal(t.count, 0);
	mvm_tensor_table_dispose(&t);  /* twice is harmless */
}

static void test_format__safetensors_zero_tensors(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;

	(void)state;
	assert_int_equal(st_parse(&t, "{}", 0), 0);
	assert_int_equal(t.format, MVM_FORMAT_SAFETENSORS);
	assert_int_equal(t.count, 0);
	assert_int_equal(t.data_start, 10);
	mvm_tensor_table_dispose(&t);
	assert_int_equal(st_parse(&t, "{\"__metadata__\": {\"a\": \"b\"}}", 0), 0);
	assert_int_equal(t.count, 0);
	mvm_tensor_table_dispose(&t);
}

/* ---- safetensors: rejected files ---- */

static void test_format__safetensors_truncated_header(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };

	(void)state;
	put(&b, "\x05\0\0", 3);
	assert_int_equal(parse_mem(&t, mvm_safetensors_parse, "m.safetensors", &b), MVM_EFORMAT);
	assert_non_null(strstr(mvm_error_last(), "too short"));
	b.n = 0;
	put_u64(&b, 100);
	put(&b, "{\"a\":", 5);
	assert_int_equal(parse_mem(&t, mvm_safetensors_parse, "m.safetensors", &b), MVM_EFORMAT);
	assert_string_equal(mvm_error_last(),
			    "m.safetensors: header length 100 is larger than the file (13 bytes)");
	free(b.p);
}

static void test_format__safetensors_absurd_header_length(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };

	(void)state;
	put_u64(&b, 9999999999ull);
	put_zeros(&b, 1226);
	assert_int_equal(parse_mem(&t, mvm_safetensors_parse, "model.safetensors", &b), MVM_EFORMAT);
	assert_string_equal(mvm_error_last(),
		"model.safetensors: header length 9999999999 is larger than the file (1234 bytes)");
	put_u64(&b, UINT64_MAX);
	assert_int_equal(parse_mem(&t, mvm_safetensors_parse, "model.safetensors", &b), MVM_EFORMAT);
	free(b.p);
}

/* A 1 GiB "file" whose header claims 200 MiB: only the length is readable. */
static int huge_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	(void)ctx;
	if (off != 0 || n != 8)
		return mvm_error_set(MVM_ERROR, "unexpected read of %zu bytes at %llu", n,
				     (unsigned long long)off);
	mvm_put_le64(buf, 200ull << 20);
	return 0;
}

static void test_format__safetensors_header_over_limit(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;

	(void)state;
	assert_int_equal(mvm_safetensors_parse(&t, "big.safetensors", 1ull << 30, huge_read, NULL),
			 MVM_EFORMAT);
	assert_string_equal(mvm_error_last(),
		"big.safetensors: header length 209715200 exceeds the 100 MiB limit");
}

static void test_format__safetensors_bad_json(void **state)
{
	(void)state;
	st_reject("{\"a\": ", 0, "header is not valid JSON");
	st_reject("", 0, "header is not valid JSON");
	st_reject("{} trailing", 0, "header is not valid JSON");
	st_reject("[1, 2]", 0, "header is not a JSON object");
	st_reject("{\"a\": 1}", 0, "tensor 'a' is not a JSON object");
	st_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4, "data_offsets");
	st_reject("{\"a\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "dtype");
	st_reject("{\"a\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, "shape");
	st_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4,
		  "data_offsets");
	st_reject("{\"__metadata__\": [1]}", 0, "__metadata__ is not a JSON object");
	st_reject("{\"__metadata__\": {\"k\": 3}}", 0, "__metadata__ value 'k' is not a string");
}

static void test_format__safetensors_duplicate_keys(void **state)
{
	(void)state;
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]},"
		  " \"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}",
		  2, "duplicate");
}

static void test_format__safetensors_offsets_past_end(void **state)
{
	(void)state;
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [8], \"data_offsets\": [0, 8]}}", 7,
		  "tensor 'a' data_offsets [0, 8] run past the end of the file (data section is 7 bytes)");
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [1],"
		  " \"data_offsets\": [9223372036854775807, 9223372036854775808]}}", 7,
		  "not valid JSON");
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [4, 2]}}", 7,
		  "reversed");
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [-2, 0]}}", 7,
		  "non-negative");
}

static void test_format__safetensors_overlap(void **state)
{
	(void)state;
	st_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
		  " \"b\": {\"dtype\": \"F16\", \"shape\": [2], \"data_offsets\": [6, 10]}}",
		  16, "tensors 'a' [");
	st_reject("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
		  " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}",
		  16, "overlap");
}

static void test_format__safetensors_wrong_dtype_size(void **state)
{
	(void)state;
	st_reject("{\"a.weight\": {\"dtype\": \"BF16\", \"shape\": [3, 2], \"data_offsets\": [0, 10]}}",
		  16, "tensor 'a.weight' data_offsets [0, 10] do not match shape [3, 2] of BF16 (12 bytes)");
	st_reject("{\"a\": {\"dtype\": \"F4\", \"shape\": [3], \"data_offsets\": [0, 2]}}", 16,
		  "whole number of bytes");
	st_reject("{\"a\": {\"dtype\": \"F64\", \"shape\": [4294967296, 4294967296],"
		  " \"data_offsets\": [0, 8]}}", 16, "too many elements");
	st_reject("{\"a\": {\"dtype\": \"F64\", \"shape\": [2305843009213693952],"
		  " \"data_offsets\": [0, 8]}}", 16, "too many elements");
}

static void test_format__safetensors_bad_shape(void **state)
{
	(void)state;
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [-1], \"data_offsets\": [0, 0]}}", 4,
		  "non-negative integer");
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [1.5], \"data_offsets\": [0, 0]}}", 4,
		  "non-negative integer");
	st_reject("{\"a\": {\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1],"
		  " \"data_offsets\": [0, 1]}}", 4, "9 dimensions");
}

static void test_format__safetensors_unknown_dtype_and_names(void **state)
{
	(void)state;
	st_reject("{\"a\": {\"dtype\": \"F17\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 4,
		  "tensor 'a' has unknown dtype 'F17'");
	st_reject("{\"a\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 1]}}", 4, "dtype");
	st_reject("{\"\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 4,
		  "empty name");
	/* a newline in a name must not break the one-line message */
	st_reject("{\"x\\ny\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 1]}}", 4,
		  "tensor 'x?y'");
}

/* ---- GGUF helpers ---- */

enum { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, Q4_K = 12, BF16 = 30 };

static void gg_header(image *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	put(b, "GGUF", 4);
	put_u32(b, version);
	put_u64(b, n_tensors);
	put_u64(b, n_kv);
}

static void gg_tensor(image *b, const char *name, uint32_t ndim, const uint64_t *dims,
		      uint32_t type, uint64_t offset)
{
	uint32_t i;

	put_str(b, name);
	put_u32(b, ndim);
	for (i = 0; i < ndim; i++)
		put_u64(b, dims[i]);
	put_u32(b, type);
	put_u64(b, offset);
}

static void gg_pad(image *b, size_t align)
{
	put_zeros(b, (align - b->n % align) % align);
}

/* Restarts `b` as a v3 file with no tensors and one pair: key, value type. */
static void gg_one_kv(image *b, const char *key, uint32_t type)
{
	b->n = 0;
	gg_header(b, 3, 0, 1);
	put_str(b, key);
	put_u32(b, type);
}

/* Key/value pairs of every kind: 5 pairs. */
static void gg_some_kvs(image *b)
{
	put_str(b, "general.name");
	put_u32(b, 8);
	put_str(b, "tiny model");
	put_str(b, "llama.block_count");
	put_u32(b, 4);
	put_u32(b, 2);
	put_str(b, "tokenizer.ggml.tokens");
	put_u32(b, 9);
	put_u32(b, 8);
	put_u64(b, 3);
	put_str(b, "<s>");
	put_str(b, "</s>");
	put_str(b, "hello");
	put_str(b, "tokenizer.ggml.scores");
	put_u32(b, 9);
	put_u32(b, 6);
	put_u64(b, 3);
	put_zeros(b, 12);
	put_str(b, "nested");  /* [[true]] */
	put_u32(b, 9);
	put_u32(b, 9);
	put_u64(b, 1);
	put_u32(b, 7);
	put_u64(b, 1);
	put(b, "\1", 1);
}

static int gg_parse(mvm_tensor_table *t, const image *b)
{
	return parse_mem(t, mvm_gguf_parse, "m.gguf", b);
}

static void gg_reject(const image *b, const char *needle)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;

	assert_int_equal(gg_parse(&t, b), MVM_EFORMAT);
	if (!strstr(mvm_error_last(), needle))
		fail_msg("error '%s' does not contain '%s'", mvm_error_last(), needle);
	assert_true(strncmp(mvm_error_last(), "m.gguf: ", 8) == 0);
	assert_null(t.tensors);
	assert_int_equal(t.count, 0);
}

/* v3, default alignment: F32 [4,2], F16 [8], Q4_0 [64], Q8_0 [32,2]. */
static void gg_valid(image *b, uint32_t version)
{
	static const uint64_t d_f32[] = { 4, 2 }, d_f16[] = { 8 }, d_q4[] = { 64 },
			      d_q8[] = { 32, 2 };

	gg_header(b, version, 4, 5);
	gg_some_kvs(b);
	gg_tensor(b, "w.f32", 2, d_f32, F32, 0);
	gg_tensor(b, "w.f16", 1, d_f16, F16, 32);
	gg_tensor(b, "w.q4", 1, d_q4, Q4_0, 64);
	gg_tensor(b, "w.q8", 2, d_q8, Q8_0, 128);
	gg_pad(b, 32);
	put_zeros(b, 128 + 68);
}

/* ---- GGUF: valid files ---- */

static void test_format__gguf_v3_default_alignment(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };
	uint64_t ds;

	(void)state;
	gg_valid(&b, 3);
	ds = b.n - 196;
	assert_int_equal(ds % 32, 0);
	assert_int_equal(gg_parse(&t, &b), 0);
	assert_int_equal(t.format, MVM_FORMAT_GGUF);
	assert_int_equal(t.data_start, ds);
	assert_int_equal(t.count, 4);
	assert_tensor(&t.tensors[0], "w.f32", "F32", ds, 32);
	assert_int_equal(t.tensors[0].ndim, 2);
	assert_int_equal(t.tensors[0].shape[1], 2);
	assert_tensor(&t.tensors[1], "w.f16", "F16", ds + 32, 16);
	assert_tensor(&t.tensors[2], "w.q4", "Q4_0", ds + 64, 36);
	assert_tensor(&t.tensors[3], "w.q8", "Q8_0", ds + 128, 68);
	mvm_tensor_table_dispose(&t);
	free(b.p);
}

static void test_format__gguf_v2_custom_alignment_sorted(void **state)
{
	static const uint64_t d_k[] = { 256, 2 }, d_bf[] = { 3 };
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };
	uint64_t ds;

	(void)state;
	gg_header(&b, 2, 2, 2);
	put_str(&b, "general.alignment");
	put_u32(&b, 4);
	put_u32(&b, 64);
	put_str(&b, "general.architecture");
	put_u32(&b, 8);
	put_str(&b, "llama");
	gg_tensor(&b, "late", 2, d_k, Q4_K, 64);
	gg_tensor(&b, "early", 1, d_bf, BF16, 0);
	gg_pad(&b, 64);
	ds = b.n;
	put_zeros(&b, 64 + 288);
	assert_int_equal(gg_parse(&t, &b), 0);
	assert_int_equal(t.data_start, ds);
	assert_int_equal(ds % 64, 0);
	assert_int_equal(t.count, 2);
	assert_tensor(&t.tensors[0], "early", "BF16", ds, 6);
	assert_tensor(&t.tensors[1], "late", "Q4_K", ds + 64, 288);
	mvm_tensor_table_dispose(&t);
	free(b.p);
}

static void test_format__gguf_no_tensors(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };

	(void)state;
	gg_one_kv(&b, "general.name", 8);
	put_str(&b, "x");
	assert_int_equal(gg_parse(&t, &b), 0);  /* no padding needed without data */
	assert_int_equal(t.count, 0);
	assert_int_equal(t.data_start, b.n);
	mvm_tensor_table_dispose(&t);
	free(b.p);
}

/* ---- GGUF: rejected files ---- */

static void test_format__gguf_bad_magic_and_version(void **state)
{
	image b = { 0 };

	(void)state;
	gg_valid(&b, 3);
	memcpy(b.p, "GGUG", 4);
	gg_reject(&b, "bad magic");
	b.n = 0;
	gg_valid(&b, 1);
	gg_reject(&b, "GGUF version 1 is not supported");
	b.n = 0;
	gg_valid(&b, 4);
	gg_reject(&b, "GGUF version 4 is not supported");
	b.n = 0;
	gg_valid(&b, 0x03000000);
	gg_reject(&b, "big-endian");
	b.n = 10;
	gg_reject(&b, "too short");
	free(b.p);
}

static void test_format__gguf_truncated(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	image b = { 0 };
	size_t full, cut;

	(void)state;
	gg_one_kv(&b, "k", 10);  /* a u64 value, of which only 4 bytes are there */
	put_u32(&b, 7);
	gg_reject(&b, "truncated");
	b.n = 0;
	gg_valid(&b, 3);
	full = b.n;
	/* every cut of the file fails cleanly */
	for (cut = 0; cut < full; cut++) {
		b.n = cut;
		assert_int_equal(gg_parse(&t, &b), MVM_EFORMAT);
	}
	free(b.p);
}

static void test_format__gguf_huge_lengths(void **state)
{
	image b = { 0 };

	(void)state;
	gg_header(&b, 3, 0, 1);
	put_u64(&b, UINT64_MAX);  /* key length */
	put_zeros(&b, 64);
	gg_reject(&b, "length 18446744073709551615");
	gg_one_kv(&b, "k", 8);
	put_u64(&b, 1ull << 40);  /* string value length */
	put_zeros(&b, 64);
	gg_reject(&b, "more than the");
	gg_one_kv(&b, "k", 9);
	put_u32(&b, 8);
	put_u64(&b, 1ull << 60);  /* array of strings */
	put_zeros(&b, 64);
	gg_reject(&b, "array of 1152921504606846976 elements");
	gg_one_kv(&b, "k", 9);
	put_u32(&b, 10);
	put_u64(&b, UINT64_MAX / 4);  /* array of u64: count * 8 wraps */
	put_zeros(&b, 64);
	gg_reject(&b, "larger than the rest of the file");
	b.n = 0;
	gg_header(&b, 3, UINT64_MAX, 0);
	gg_reject(&b, "tensor count 18446744073709551615");
	b.n = 0;
	gg_header(&b, 3, 0, 1ull << 30);
	gg_reject(&b, "key/value count");
	free(b.p);
}

static void test_format__gguf_bad_values(void **state)
{
	image b = { 0 };

	(void)state;
	gg_one_kv(&b, "k", 13);  /* no such value type */
	put_zeros(&b, 16);
	gg_reject(&b, "unknown value type 13");
	gg_one_kv(&b, "general.alignment", 4);
	put_u32(&b, 48);
	gg_reject(&b, "not a power of two");
	gg_one_kv(&b, "general.alignment", 10);
	put_u64(&b, 64);
	gg_reject(&b, "not uint32");
	free(b.p);
}

static void test_format__gguf_bad_tensors(void **state)
{
	static const uint64_t d4[] = { 4 }, d33[] = { 33 }, d64[] = { 64 };
	image b = { 0 };

	(void)state;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "t", 1, d4, 31, 0);
	gg_pad(&b, 32);
	put_zeros(&b, 64);
	gg_reject(&b, "tensor 't' has unknown ggml type 31");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "t", 1, d33, Q8_0, 0);
	gg_pad(&b, 32);
	put_zeros(&b, 64);
	gg_reject(&b, "first dimension 33 is not a multiple of the Q8_0 block size 32");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "t", 1, d64, Q4_0, 0);
	gg_pad(&b, 32);
	put_zeros(&b, 35);  /* needs 36 */
	gg_reject(&b, "tensor 't' (Q4_0, 36 bytes at data offset 0) runs past the end");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "t", 1, d4, F32, UINT64_MAX - 31);
	gg_pad(&b, 32);
	put_zeros(&b, 64);
	gg_reject(&b, "runs past the end");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "t", 1, d4, F32, 16);
	gg_pad(&b, 32);
	put_zeros(&b, 64);
	gg_reject(&b, "not a multiple of the alignment 32");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	gg_tensor(&b, "", 1, d4, F32, 0);
	gg_pad(&b, 32);
	put_zeros(&b, 64);
	gg_reject(&b, "empty name");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	put_str(&b, "t");
	put_u32(&b, 9);
	put_zeros(&b, 100);
	gg_reject(&b, "9 dimensions");
	b.n = 0;
	gg_header(&b, 3, 1, 0);
	put_u64(&b, 70000);  /* name length */
	put_zeros(&b, 70100);
	gg_reject(&b, "is 70000 bytes long");
	free(b.p);
}

static void test_format__gguf_overlap_and_duplicates(void **state)
{
	static const uint64_t d16[] = { 16 };
	image b = { 0 };

	(void)state;
	gg_header(&b, 3, 2, 0);
	gg_tensor(&b, "a", 1, d16, F32, 0);
	gg_tensor(&b, "b", 1, d16, F32, 32);  /* a is 64 bytes */
	gg_pad(&b, 32);
	put_zeros(&b, 128);
	gg_reject(&b, "tensors 'a' [");
	b.n = 0;
	gg_header(&b, 3, 2, 0);
	gg_tensor(&b, "a", 1, d16, F32, 0);
	gg_tensor(&b, "a", 1, d16, F32, 64);
	gg_pad(&b, 32);
	put_zeros(&b, 128);
	gg_reject(&b, "tensor name 'a' appears twice");
	free(b.p);
}

/* ---- sniffing and helpers ---- */

static void test_format__sniff_plain_file_is_none(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	const char *text = "hello, this is a README and not a tensor file\n";
	mvm_mem_reader m = { (const unsigned char *)text, strlen(text) };

	(void)state;
	assert_int_equal(mvm_format_parse(&t, "README.md", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_NONE);
	assert_int_equal(t.count, 0);
	m.n = 2;
	assert_int_equal(mvm_format_parse(&t, "tiny", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_NONE);
	/* a name that promises a format must parse */
	m.n = strlen(text);
	assert_int_equal(mvm_format_parse(&t, "x.safetensors", m.n, mvm_mem_read, &m), MVM_EFORMAT);
	assert_int_equal(mvm_format_parse(&t, "x.GGUF", m.n, mvm_mem_read, &m), MVM_EFORMAT);
	assert_int_equal(t.format, MVM_FORMAT_NONE);
}

static void test_format__sniff_by_content(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	mvm_mem_reader m;
	image b = { 0 };

	(void)state;
	st_build(&b, "{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2);
	m.p = b.p;
	m.n = b.n;
	assert_int_equal(mvm_format_parse(&t, "weights.bin", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_SAFETENSORS);
	assert_int_equal(t.count, 1);
	mvm_tensor_table_dispose(&t);
	/* looks like safetensors but is not: plain bytes, no error left behind */
	b.n = 0;
	st_build(&b, "{\"a\": 1}", 0);
	m.p = b.p;
	m.n = b.n;
	assert_int_equal(mvm_format_parse(&t, "weights.bin", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_NONE);
	assert_int_equal(mvm_error_last_code(), MVM_OK);
	b.n = 0;
	gg_valid(&b, 3);
	m.p = b.p;
	m.n = b.n;
	assert_int_equal(mvm_format_parse(&t, "model", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_GGUF);
	assert_int_equal(t.count, 4);
	mvm_tensor_table_dispose(&t);
	m.n = 100;  /* truncated GGUF without the extension: plain bytes */
	assert_int_equal(mvm_format_parse(&t, "model", m.n, mvm_mem_read, &m), 0);
	assert_int_equal(t.format, MVM_FORMAT_NONE);
	assert_int_equal(mvm_format_parse(&t, "model.gguf", m.n, mvm_mem_read, &m), MVM_EFORMAT);
	free(b.p);
}

static void test_format__dtype_size(void **state)
{
	(void)state;
	assert_int_equal(mvm_dtype_size("BF16"), 2);
	assert_int_equal(mvm_dtype_size("F16"), 2);
	assert_int_equal(mvm_dtype_size("F32"), 4);
	assert_int_equal(mvm_dtype_size("F64"), 8);
	assert_int_equal(mvm_dtype_size("I64"), 8);
	assert_int_equal(mvm_dtype_size("U8"), 1);
	assert_int_equal(mvm_dtype_size("BOOL"), 1);
	assert_int_equal(mvm_dtype_size("F8_E5M2"), 1);
	assert_int_equal(mvm_dtype_size("Q4_K"), 0);
	assert_int_equal(mvm_dtype_size("F4"), 0);
	assert_int_equal(mvm_dtype_size("bf16"), 0);
	assert_int_equal(mvm_dtype_size(""), 0);
	assert_int_equal(mvm_dtype_size(NULL), 0);
}

static void test_format__fd_reader(void **state)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	FILE *f = tmpfile();
	char buf[8];
	image b = { 0 };
	int fd;

	(void)state;
	assert_non_null(f);
	fd = fileno(f);
	st_build(&b, "{\"a\": {\"dtype\": \"I16\", \"shape\": [2], \"data_offsets\": [0, 4]}}", 4);
	assert_int_equal(write(fd, b.p, b.n), (ssize_t)b.n);
	assert_int_equal(mvm_format_parse(&t, "f.safetensors", b.n, mvm_fd_read, &fd), 0);
	assert_int_equal(t.count, 1);
	assert_int_equal(t.tensors[0].length, 4);
	mvm_tensor_table_dispose(&t);
	assert_int_equal(mvm_fd_read(&fd, buf, 8, 0), 0);
	assert_memory_equal(buf, b.p, 8);
	assert_int_equal(mvm_fd_read(&fd, buf, 8, b.n - 4), MVM_EFORMAT);
	assert_non_null(strstr(mvm_error_last(), "truncated"));
	/* the file is shorter than the caller claims */
	assert_int_equal(mvm_format_parse(&t, "f.safetensors", b.n + 100, mvm_fd_read, &fd), 0);
	mvm_tensor_table_dispose(&t);
	assert_int_equal(mvm_format_parse(&t, "f.gguf", b.n, mvm_fd_read, &fd), MVM_EFORMAT);
	fclose(f);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format__safetensors_valid_sorted_absolute),
		cmocka_unit_test(test_format__safetensors_zero_tensors),
		cmocka_unit_test(test_format__safetensors_truncated_header),
		cmocka_unit_test(test_format__safetensors_absurd_header_length),
		cmocka_unit_test(test_format__safetensors_header_over_limit),
		cmocka_unit_test(test_format__safetensors_bad_json),
		cmocka_unit_test(test_format__safetensors_duplicate_keys),
		cmocka_unit_test(test_format__safetensors_offsets_past_end),
		cmocka_unit_test(test_format__safetensors_overlap),
		cmocka_unit_test(test_format__safetensors_wrong_dtype_size),
		cmocka_unit_test(test_format__safetensors_bad_shape),
		cmocka_unit_test(test_format__safetensors_unknown_dtype_and_names),
		cmocka_unit_test(test_format__gguf_v3_default_alignment),
		cmocka_unit_test(test_format__gguf_v2_custom_alignment_sorted),
		cmocka_unit_test(test_format__gguf_no_tensors),
		cmocka_unit_test(test_format__gguf_bad_magic_and_version),
		cmocka_unit_test(test_format__gguf_truncated),
		cmocka_unit_test(test_format__gguf_huge_lengths),
		cmocka_unit_test(test_format__gguf_bad_values),
		cmocka_unit_test(test_format__gguf_bad_tensors),
		cmocka_unit_test(test_format__gguf_overlap_and_duplicates),
		cmocka_unit_test(test_format__sniff_plain_file_is_none),
		cmocka_unit_test(test_format__sniff_by_content),
		cmocka_unit_test(test_format__dtype_size),
		cmocka_unit_test(test_format__fd_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
