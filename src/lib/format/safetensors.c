/*
 * safetensors.c: the safetensors header.
 *
 * Layout: a u64 little-endian length N, N bytes of JSON, then the data
 * section. The JSON object maps tensor names to
 * {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]} with offsets
 * relative to the data section at 8+N; the optional "__metadata__" entry is a
 * string-to-string map. Every entry is checked (dtype known, byte count equal
 * to the shape's, range inside the file) and stored with absolute offsets.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "util/bytes.h"

#define HEADER_MAX (100ull << 20)
#define NAME_DISPLAY_MAX 80

typedef struct {
	const char *file;     /* file name, for messages */
	uint64_t file_size;
	uint64_t data_start;
	char key[NAME_DISPLAY_MAX];  /* printable tensor name, for messages */
} st_ctx;

/* Dtypes that are not a whole number of bytes per element, or not "plain". */
static const struct {
	const char *name;
	unsigned bits;
} odd_dtypes[] = {
	{ "F4", 4 }, { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "C64", 64 },
};

static unsigned dtype_bits(const char *dtype)
{
	size_t i;

	if (mvm_dtype_size(dtype))
		return (unsigned)(8 * mvm_dtype_size(dtype));
	for (i = 0; i < sizeof(odd_dtypes) / sizeof(odd_dtypes[0]); i++)
		if (strcmp(odd_dtypes[i].name, dtype) == 0)
			return odd_dtypes[i].bits;
	return 0;
}

static const char *fmt_shape(char *out, size_t size, const uint64_t *shape, uint32_t ndim)
{
	size_t len = 0;
	uint32_t i;

	len += (size_t)snprintf(out, size, "[");
	for (i = 0; i < ndim && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, "%s%llu", i ? ", " : "",
					(unsigned long long)shape[i]);
	if (len < size)
		snprintf(out + len, size - len, "]");
	return out;
}

static int bad(const st_ctx *c, const char *problem)
{
	return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' %s", c->file, c->key, problem);
}

/* A JSON integer in [0, INT64_MAX]. */
static int get_u64(uint64_t *out, const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_dtype(mvm_tensor_info *ti, unsigned *bits, const st_ctx *c, json_t *entry)
{
	json_t *v = json_object_get(entry, "dtype");
	char d[NAME_DISPLAY_MAX];

	if (!json_is_string(v))
		return bad(c, "has no \"dtype\" string");
	if (!(*bits = dtype_bits(json_string_value(v))))
		return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' has unknown dtype '%s'", c->file,
				     c->key, mvm_format__printable(d, 24, json_string_value(v)));
	strcpy(ti->dtype, json_string_value(v));  /* known names fit MVM_DTYPE_MAX */
	return 0;
}

static int parse_shape(mvm_tensor_info *ti, const st_ctx *c, json_t *entry)
{
	json_t *v = json_object_get(entry, "shape");
	size_t i;

	if (!json_is_array(v))
		return bad(c, "has no \"shape\" array");
	if (json_array_size(v) > MVM_TENSOR_MAXDIM)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' has %zu dimensions (at most %d)",
				     c->file, c->key, json_array_size(v), MVM_TENSOR_MAXDIM);
	ti->ndim = (uint32_t)json_array_size(v);
	for (i = 0; i < ti->ndim; i++)
		if (get_u64(&ti->shape[i], json_array_get(v, i)) < 0)
			return bad(c, "has a shape entry that is not a non-negative integer");
	return 0;
}

static int parse_offsets(uint64_t *begin, uint64_t *end, const st_ctx *c, json_t *entry)
{
	json_t *v = json_object_get(entry, "data_offsets");

	if (!json_is_array(v) || json_array_size(v) != 2 ||
	    get_u64(begin, json_array_get(v, 0)) < 0 || get_u64(end, json_array_get(v, 1)) < 0)
		return bad(c, "needs \"data_offsets\": [begin, end] of non-negative integers");
	if (*begin > *end)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' data_offsets [%llu, %llu] are reversed",
				     c->file, c->key, (unsigned long long)*begin,
				     (unsigned long long)*end);
	if (*end > c->file_size - c->data_start)
		return mvm_error_set(MVM_EFORMAT,
			"%s: tensor '%s' data_offsets [%llu, %llu] run past the end of the file (data section is %llu bytes)",
			c->file, c->key, (unsigned long long)*begin, (unsigned long long)*end,
			(unsigned long long)(c->file_size - c->data_start));
	return 0;
}

/* Bytes the shape needs, or an error if that overflows or is not whole bytes. */
static int shape_bytes(uint64_t *out, const mvm_tensor_info *ti, unsigned bits, const st_ctx *c)
{
	uint64_t n;

	if (mvm_shape_elements(&n, ti->shape, ti->ndim) < 0 || n > UINT64_MAX / bits)
		return bad(c, "shape has too many elements");
	if ((n * bits) % 8)
		return bad(c, "shape is not a whole number of bytes for its dtype");
	*out = n * bits / 8;
	return 0;
}

static int parse_entry(mvm_tensor_info *ti, st_ctx *c, const char *key, json_t *entry)
{
	uint64_t begin = 0, end = 0, want = 0;
	unsigned bits;
	char shape[256];
	int error;

	mvm_format__printable(c->key, sizeof(c->key), key);
	if (!*key)
		return mvm_error_set(MVM_EFORMAT, "%s: a tensor has an empty name", c->file);
	if (!json_is_object(entry))
		return bad(c, "is not a JSON object");
	if ((error = parse_dtype(ti, &bits, c, entry)) < 0 ||
	    (error = parse_shape(ti, c, entry)) < 0 ||
	    (error = parse_offsets(&begin, &end, c, entry)) < 0 ||
	    (error = shape_bytes(&want, ti, bits, c)) < 0)
		return error;
	if (want != end - begin)
		return mvm_error_set(MVM_EFORMAT,
			"%s: tensor '%s' data_offsets [%llu, %llu] do not match shape %s of %s (%llu bytes)",
			c->file, c->key, (unsigned long long)begin, (unsigned long long)end,
			fmt_shape(shape, sizeof(shape), ti->shape, ti->ndim), ti->dtype,
			(unsigned long long)want);
	if (!(ti->name = strdup(key)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	ti->offset = c->data_start + begin;
	ti->length = want;
	return 0;
}

static int check_metadata(const st_ctx *c, json_t *meta)
{
	const char *k;
	json_t *v;

	if (json_is_null(meta))
		return 0;
	if (!json_is_object(meta))
		return mvm_error_set(MVM_EFORMAT, "%s: __metadata__ is not a JSON object", c->file);
	json_object_foreach(meta, k, v) {
		char d[NAME_DISPLAY_MAX];

		if (!json_is_string(v))
			return mvm_error_set(MVM_EFORMAT, "%s: __metadata__ value '%s' is not a string",
					     c->file, mvm_format__printable(d, sizeof(d), k));
	}
	return 0;
}

static int build_table(mvm_tensor_table *t, st_ctx *c, json_t *root)
{
	size_t n = json_object_size(root);
	const char *key;
	json_t *v;
	int error;

	if (!json_is_object(root))
		return mvm_error_set(MVM_EFORMAT, "%s: header is not a JSON object", c->file);
	if (json_object_get(root, "__metadata__")) {
		if ((error = check_metadata(c, json_object_get(root, "__metadata__"))) < 0)
			return error;
		n--;
	}
	if (n && !(t->tensors = calloc(n, sizeof(*t->tensors))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0)
			continue;
		if ((error = parse_entry(&t->tensors[t->count], c, key, v)) < 0)
			return error;
		t->count++;
	}
	return 0;
}

static int load_header(json_t **out, const st_ctx *c, uint64_t n, mvm_read_fn read, void *ctx)
{
	char msg[200];
	char *hdr = NULL;
	json_error_t jerr;
	int error = 0;

	if (!(hdr = malloc(n ? (size_t)n : 1))) {
		error = mvm_error_set(MVM_ERROR, "%s: out of memory for a %llu-byte header", c->file,
				      (unsigned long long)n);
		goto done;
	}
	if ((error = read(ctx, hdr, (size_t)n, 8)) < 0) {
		error = mvm_error_wrap(error, "%s", c->file);
		goto done;
	}
	if (!(*out = json_loadb(hdr, (size_t)n, JSON_REJECT_DUPLICATES, &jerr)))
		error = mvm_error_set(MVM_EFORMAT, "%s: header is not valid JSON: %s (at byte %d)",
				      c->file, mvm_format__printable(msg, sizeof(msg), jerr.text),
				      jerr.position);
done:
	free(hdr);
	return error;
}

int mvm_safetensors_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
			  mvm_read_fn read, void *ctx)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	st_ctx c = { name, file_size, 0, "" };
	unsigned char lenbuf[8];
	json_t *root = NULL;
	uint64_t n;
	int error;

	memset(out, 0, sizeof(*out));
	out->format = MVM_FORMAT_NONE;
	if (file_size < 8) {
		error = mvm_error_set(MVM_EFORMAT, "%s: file is too short for a safetensors header (%llu bytes)",
				      name, (unsigned long long)file_size);
		goto done;
	}
	if ((error = read(ctx, lenbuf, 8, 0)) < 0) {
		error = mvm_error_wrap(error, "%s", name);
		goto done;
	}
	n = mvm_le64(lenbuf);
	if (n > file_size - 8) {
		error = mvm_error_set(MVM_EFORMAT, "%s: header length %llu is larger than the file (%llu bytes)",
				      name, (unsigned long long)n, (unsigned long long)file_size);
		goto done;
	}
	if (n > HEADER_MAX) {
		error = mvm_error_set(MVM_EFORMAT, "%s: header length %llu exceeds the %llu MiB limit",
				      name, (unsigned long long)n, HEADER_MAX >> 20);
		goto done;
	}
	c.data_start = t.data_start = 8 + n;
	t.format = MVM_FORMAT_SAFETENSORS;
	if ((error = load_header(&root, &c, n, read, ctx)) < 0 ||
	    (error = build_table(&t, &c, root)) < 0 ||
	    (error = mvm_tensor_table__finish(&t, name, file_size)) < 0)
		goto done;
	*out = t;
	memset(&t, 0, sizeof(t));
done:
	json_decref(root);
	mvm_tensor_table_dispose(&t);
	return error;
}
