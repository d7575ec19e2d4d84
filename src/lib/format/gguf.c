/*
 * gguf.c: the GGUF (v2, v3) header, little-endian only.
 *
 * Layout: "GGUF", u32 version, u64 tensor_count, u64 kv_count, the key/value
 * pairs, the tensor infos (name, u32 n_dims, u64 dims[n_dims], u32 ggml type,
 * u64 offset into the data section), padding to general.alignment, data.
 *
 * The header is read front to back through a small buffer. Nothing is
 * allocated from a length field before it has been checked against the bytes
 * left in the file, so a hostile header costs at most what the file holds.
 * Key/value pairs are skipped except general.alignment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "util/bytes.h"

#define GGUF_BUF_SIZE (64u << 10)
#define GGUF_MAX_COUNT (1ull << 24)
#define GGUF_MAX_NESTING 8
#define GGUF_MAX_NAME 65536   /* ggml itself stops at 64 bytes */
#define GGUF_DEFAULT_ALIGNMENT 32
#define NAME_DISPLAY_MAX 80

enum {
	GT_UINT8, GT_INT8, GT_UINT16, GT_INT16, GT_UINT32, GT_INT32, GT_FLOAT32,
	GT_BOOL, GT_STRING, GT_ARRAY, GT_UINT64, GT_INT64, GT_FLOAT64, GT_COUNT
};

/* Size of a fixed-size value type; 0 for STRING, ARRAY and unknown types. */
static const uint8_t value_size[GT_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

/* ggml types: elements per block and bytes per block (ggml-common.h). */
static const struct {
	const char *name;
	uint32_t block;
	uint32_t size;
} ggml_types[] = {
	[0] = { "F32", 1, 4 },		[1] = { "F16", 1, 2 },
	[2] = { "Q4_0", 32, 18 },	[3] = { "Q4_1", 32, 20 },
	[6] = { "Q5_0", 32, 22 },	[7] = { "Q5_1", 32, 24 },
	[8] = { "Q8_0", 32, 34 },	[9] = { "Q8_1", 32, 36 },
	[10] = { "Q2_K", 256, 84 },	[11] = { "Q3_K", 256, 110 },
	[12] = { "Q4_K", 256, 144 },	[13] = { "Q5_K", 256, 176 },
	[14] = { "Q6_K", 256, 210 },	[15] = { "Q8_K", 256, 292 },
	[16] = { "IQ2_XXS", 256, 66 },	[17] = { "IQ2_XS", 256, 74 },
	[18] = { "IQ3_XXS", 256, 98 },	[19] = { "IQ1_S", 256, 50 },
	[20] = { "IQ4_NL", 32, 18 },	[21] = { "IQ3_S", 256, 110 },
	[22] = { "IQ2_S", 256, 82 },	[23] = { "IQ4_XS", 256, 136 },
	[24] = { "I8", 1, 1 },		[25] = { "I16", 1, 2 },
	[26] = { "I32", 1, 4 },		[27] = { "I64", 1, 8 },
	[28] = { "F64", 1, 8 },		[29] = { "IQ1_M", 256, 56 },
	[30] = { "BF16", 1, 2 },	[34] = { "TQ1_0", 256, 54 },
	[35] = { "TQ2_0", 256, 66 },	[39] = { "MXFP4", 32, 17 },
};

#define GGML_TYPE_COUNT (sizeof(ggml_types) / sizeof(ggml_types[0]))

/* A buffered, bounds-checked cursor over the file. */
typedef struct {
	const char *file;
	mvm_read_fn read;
	void *ctx;
	uint64_t size;        /* file size */
	uint64_t pos;         /* absolute offset of the next byte */
	unsigned char *buf;
	uint64_t buf_off;     /* file offset of buf[0] */
	size_t buf_len;
} gguf_rd;

/* Fails unless `n` more bytes are left in the file. */
static int rd_need(gguf_rd *r, uint64_t n, const char *what)
{
	if (n > r->size - r->pos)
		return mvm_error_set(MVM_EFORMAT,
			"%s: header is truncated: %s at offset %llu needs %llu bytes, %llu left",
			r->file, what, (unsigned long long)r->pos, (unsigned long long)n,
			(unsigned long long)(r->size - r->pos));
	return 0;
}

static int rd_bytes(gguf_rd *r, void *dst, size_t n, const char *what)
{
	unsigned char *p = dst;
	int error;

	if ((error = rd_need(r, n, what)) < 0)
		return error;
	while (n > 0) {
		size_t avail, take;

		if (r->pos < r->buf_off || r->pos >= r->buf_off + r->buf_len) {
			uint64_t left = r->size - r->pos;

			r->buf_off = r->pos;
			r->buf_len = left < GGUF_BUF_SIZE ? (size_t)left : GGUF_BUF_SIZE;
			if ((error = r->read(r->ctx, r->buf, r->buf_len, r->buf_off)) < 0) {
				r->buf_len = 0;
				return mvm_error_wrap(error, "%s", r->file);
			}
		}
		avail = (size_t)(r->buf_off + r->buf_len - r->pos);
		take = n < avail ? n : avail;
		memcpy(p, r->buf + (r->pos - r->buf_off), take);
		p += take;
		n -= take;
		r->pos += take;
	}
	return 0;
}

static int rd_skip(gguf_rd *r, uint64_t n, const char *what)
{
	int error;

	if ((error = rd_need(r, n, what)) < 0)
		return error;
	r->pos += n;
	return 0;
}

static int rd_u32(gguf_rd *r, uint32_t *out, const char *what)
{
	unsigned char b[4];
	int error;

	if ((error = rd_bytes(r, b, 4, what)) < 0)
		return error;
	*out = mvm_le32(b);
	return 0;
}

static int rd_u64(gguf_rd *r, uint64_t *out, const char *what)
{
	unsigned char b[8];
	int error;

	if ((error = rd_bytes(r, b, 8, what)) < 0)
		return error;
	*out = mvm_le64(b);
	return 0;
}

/* Reads a string's length and checks that the bytes are in the file. */
static int rd_strlen(gguf_rd *r, uint64_t *len, const char *what)
{
	int error;

	if ((error = rd_u64(r, len, what)) < 0)
		return error;
	if (*len > r->size - r->pos)
		return mvm_error_set(MVM_EFORMAT,
			"%s: %s at offset %llu has length %llu, more than the %llu bytes left in the file",
			r->file, what, (unsigned long long)(r->pos - 8), (unsigned long long)*len,
			(unsigned long long)(r->size - r->pos));
	return 0;
}

/* ---- key/value pairs ---- */

static int skip_value(gguf_rd *r, uint32_t type, int depth);

static int skip_array(gguf_rd *r, int depth)
{
	uint64_t count, i, min_size;
	uint32_t type;
	int error;

	if ((error = rd_u32(r, &type, "array type")) < 0 ||
	    (error = rd_u64(r, &count, "array length")) < 0)
		return error;
	if (type >= GT_COUNT)
		return mvm_error_set(MVM_EFORMAT, "%s: array at offset %llu has unknown element type %u",
				     r->file, (unsigned long long)(r->pos - 12), type);
	if (type == GT_ARRAY && depth >= GGUF_MAX_NESTING)
		return mvm_error_set(MVM_EFORMAT, "%s: arrays nested more than %d deep at offset %llu",
				     r->file, GGUF_MAX_NESTING, (unsigned long long)r->pos);
	min_size = value_size[type] ? value_size[type] : type == GT_STRING ? 8 : 12;
	if (count > (r->size - r->pos) / min_size)
		return mvm_error_set(MVM_EFORMAT,
			"%s: array of %llu elements at offset %llu is larger than the rest of the file",
			r->file, (unsigned long long)count, (unsigned long long)(r->pos - 12));
	if (value_size[type])
		return rd_skip(r, count * value_size[type], "array");
	for (i = 0; i < count; i++)
		if ((error = skip_value(r, type, depth + 1)) < 0)
			return error;
	return 0;
}

static int skip_value(gguf_rd *r, uint32_t type, int depth)
{
	uint64_t len;
	int error;

	if (type >= GT_COUNT)
		return mvm_error_set(MVM_EFORMAT, "%s: unknown value type %u at offset %llu", r->file,
				     type, (unsigned long long)(r->pos - 4));
	if (value_size[type])
		return rd_skip(r, value_size[type], "value");
	if (type == GT_ARRAY)
		return skip_array(r, depth);
	if ((error = rd_strlen(r, &len, "string")) < 0)
		return error;
	return rd_skip(r, len, "string");
}

static int read_alignment(gguf_rd *r, uint32_t type, uint32_t *align, int *seen)
{
	int error;

	if (*seen)
		return mvm_error_set(MVM_EFORMAT, "%s: general.alignment is set twice", r->file);
	*seen = 1;
	if (type != GT_UINT32)
		return mvm_error_set(MVM_EFORMAT, "%s: general.alignment has type %u, not uint32",
				     r->file, type);
	if ((error = rd_u32(r, align, "general.alignment")) < 0)
		return error;
	if (*align == 0 || (*align & (*align - 1)))
		return mvm_error_set(MVM_EFORMAT, "%s: general.alignment %u is not a power of two",
				     r->file, *align);
	return 0;
}

static int read_kvs(gguf_rd *r, uint64_t n_kv, uint32_t *align)
{
	static const char align_key[] = "general.alignment";
	char key[sizeof(align_key)];
	uint64_t i, len;
	uint32_t type;
	int seen = 0, error;

	for (i = 0; i < n_kv; i++) {
		int is_align = 0;

		if ((error = rd_strlen(r, &len, "key")) < 0)
			return error;
		if (len == sizeof(align_key) - 1) {
			if ((error = rd_bytes(r, key, (size_t)len, "key")) < 0)
				return error;
			is_align = memcmp(key, align_key, (size_t)len) == 0;
		} else if ((error = rd_skip(r, len, "key")) < 0) {
			return error;
		}
		if ((error = rd_u32(r, &type, "value type")) < 0)
			return error;
		if (is_align)
			error = read_alignment(r, type, align, &seen);
		else
			error = skip_value(r, type, 0);
		if (error < 0)
			return error;
	}
	return 0;
}

/* ---- tensor infos ---- */

static int read_name(gguf_rd *r, char **out)
{
	uint64_t len;
	char *s;
	int error;

	if ((error = rd_strlen(r, &len, "tensor name")) < 0)
		return error;
	if (len == 0)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor at offset %llu has an empty name",
				     r->file, (unsigned long long)(r->pos - 8));
	if (len > GGUF_MAX_NAME)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor name at offset %llu is %llu bytes long (at most %d)",
				     r->file, (unsigned long long)(r->pos - 8), (unsigned long long)len,
				     GGUF_MAX_NAME);
	if (!(s = malloc((size_t)len + 1)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = rd_bytes(r, s, (size_t)len, "tensor name")) < 0) {
		free(s);
		return error;
	}
	s[len] = '\0';
	if (strlen(s) != len) {
		free(s);
		return mvm_error_set(MVM_EFORMAT, "%s: tensor name at offset %llu contains a NUL byte",
				     r->file, (unsigned long long)(r->pos - len - 8));
	}
	*out = s;
	return 0;
}

/* Byte length of a tensor of ggml `type` with ti's shape. */
static int tensor_bytes(gguf_rd *r, mvm_tensor_info *ti, uint32_t type)
{
	char d[NAME_DISPLAY_MAX];
	uint64_t n = 1, blocks;
	uint32_t i;

	mvm_format__printable(d, sizeof(d), ti->name);
	if (type >= GGML_TYPE_COUNT || !ggml_types[type].name)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' has unknown ggml type %u", r->file,
				     d, type);
	strcpy(ti->dtype, ggml_types[type].name);
	for (i = 0; i < ti->ndim; i++) {
		if (ti->shape[i] > INT64_MAX || (ti->shape[i] && n > INT64_MAX / ti->shape[i]))
			return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' has too many elements",
					     r->file, d);
		n *= ti->shape[i];
	}
	if ((ti->ndim ? ti->shape[0] : 1) % ggml_types[type].block)
		return mvm_error_set(MVM_EFORMAT,
			"%s: tensor '%s' first dimension %llu is not a multiple of the %s block size %u",
			r->file, d, (unsigned long long)(ti->ndim ? ti->shape[0] : 1), ti->dtype,
			ggml_types[type].block);
	blocks = n / ggml_types[type].block;
	if (blocks > UINT64_MAX / ggml_types[type].size)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' has too many elements", r->file, d);
	ti->length = blocks * ggml_types[type].size;
	return 0;
}

static int read_tensor_info(gguf_rd *r, mvm_tensor_info *ti)
{
	uint32_t i, type;
	int error;

	if ((error = read_name(r, &ti->name)) < 0 ||
	    (error = rd_u32(r, &ti->ndim, "n_dims")) < 0)
		return error;
	if (ti->ndim > MVM_TENSOR_MAXDIM)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor at offset %llu has %u dimensions (at most %d)",
				     r->file, (unsigned long long)(r->pos - 4), ti->ndim,
				     MVM_TENSOR_MAXDIM);
	for (i = 0; i < ti->ndim; i++)
		if ((error = rd_u64(r, &ti->shape[i], "dimension")) < 0)
			return error;
	if ((error = rd_u32(r, &type, "tensor type")) < 0 ||
	    (error = tensor_bytes(r, ti, type)) < 0)
		return error;
	return rd_u64(r, &ti->offset, "tensor offset");
}

static int read_tensor_infos(gguf_rd *r, mvm_tensor_table *t, uint64_t n)
{
	size_t cap = 0;
	int error;

	while (t->count < n) {
		if (t->count == cap) {
			size_t want = cap ? cap * 2 : 64;
			mvm_tensor_info *p;

			if (want > n)
				want = (size_t)n;
			if (!(p = realloc(t->tensors, want * sizeof(*p))))
				return mvm_error_set(MVM_ERROR, "out of memory");
			t->tensors = p;
			cap = want;
		}
		memset(&t->tensors[t->count], 0, sizeof(*t->tensors));
		error = read_tensor_info(r, &t->tensors[t->count]);
		if (t->tensors[t->count].name)
			t->count++;  /* the table owns the name, even on error */
		if (error < 0)
			return error;
	}
	return 0;
}

/* Turns offsets relative to the aligned data section into absolute ones. */
static int place_data(gguf_rd *r, mvm_tensor_table *t, uint32_t align)
{
	char d[NAME_DISPLAY_MAX];
	uint64_t start = r->pos + (align - r->pos % align) % align;
	size_t i;

	if (start < r->pos || start > r->size) {
		if (t->count)
			return mvm_error_set(MVM_EFORMAT, "%s: data section at offset %llu is past the end of the file (%llu bytes)",
					     r->file, (unsigned long long)start,
					     (unsigned long long)r->size);
		start = r->size;
	}
	t->data_start = start;
	for (i = 0; i < t->count; i++) {
		mvm_tensor_info *ti = &t->tensors[i];

		mvm_format__printable(d, sizeof(d), ti->name);
		if (ti->offset % align)
			return mvm_error_set(MVM_EFORMAT, "%s: tensor '%s' offset %llu is not a multiple of the alignment %u",
					     r->file, d, (unsigned long long)ti->offset, align);
		if (ti->offset > r->size - start || ti->length > r->size - start - ti->offset)
			return mvm_error_set(MVM_EFORMAT,
				"%s: tensor '%s' (%s, %llu bytes at data offset %llu) runs past the end of the file (%llu bytes)",
				r->file, d, ti->dtype, (unsigned long long)ti->length,
				(unsigned long long)ti->offset, (unsigned long long)r->size);
		ti->offset += start;
	}
	return 0;
}

/* ---- the header ---- */

static int read_preamble(gguf_rd *r, uint64_t *n_tensors, uint64_t *n_kv)
{
	unsigned char magic[4];
	uint32_t version;
	int error;

	if (r->size < 24)
		return mvm_error_set(MVM_EFORMAT, "%s: file is too short for a GGUF header (%llu bytes)",
				     r->file, (unsigned long long)r->size);
	if ((error = rd_bytes(r, magic, 4, "magic")) < 0)
		return error;
	if (memcmp(magic, "GGUF", 4) != 0)
		return mvm_error_set(MVM_EFORMAT, "%s: not a GGUF file (bad magic)", r->file);
	if ((error = rd_u32(r, &version, "version")) < 0)
		return error;
	if (version == 1)
		return mvm_error_set(MVM_EFORMAT, "%s: GGUF version 1 is not supported", r->file);
	if (version != 2 && version != 3) {
		if ((version & 0xffff) == 0 && (version >> 24) >= 1 && (version >> 24) <= 3)
			return mvm_error_set(MVM_EFORMAT, "%s: big-endian GGUF files are not supported",
					     r->file);
		return mvm_error_set(MVM_EFORMAT, "%s: GGUF version %u is not supported", r->file,
				     version);
	}
	if ((error = rd_u64(r, n_tensors, "tensor count")) < 0 ||
	    (error = rd_u64(r, n_kv, "key/value count")) < 0)
		return error;
	/* a tensor info takes at least 24 bytes, a key/value pair at least 13 */
	if (*n_tensors > GGUF_MAX_COUNT || *n_tensors > (r->size - r->pos) / 24)
		return mvm_error_set(MVM_EFORMAT, "%s: tensor count %llu is impossible for a %llu-byte file",
				     r->file, (unsigned long long)*n_tensors,
				     (unsigned long long)r->size);
	if (*n_kv > GGUF_MAX_COUNT || *n_kv > (r->size - r->pos) / 13)
		return mvm_error_set(MVM_EFORMAT, "%s: key/value count %llu is impossible for a %llu-byte file",
				     r->file, (unsigned long long)*n_kv, (unsigned long long)r->size);
	if (*n_tensors * 24 + *n_kv * 13 > r->size - r->pos)
		return mvm_error_set(MVM_EFORMAT,
			"%s: %llu tensors and %llu key/value pairs are impossible for a %llu-byte file",
			r->file, (unsigned long long)*n_tensors, (unsigned long long)*n_kv,
			(unsigned long long)r->size);
	return 0;
}

int mvm_gguf_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
		   mvm_read_fn read, void *ctx)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	gguf_rd r = { name, read, ctx, file_size, 0, NULL, 0, 0 };
	uint64_t n_tensors, n_kv;
	uint32_t align = GGUF_DEFAULT_ALIGNMENT;
	int error;

	memset(out, 0, sizeof(*out));
	out->format = MVM_FORMAT_NONE;
	if (!(r.buf = malloc(GGUF_BUF_SIZE))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	t.format = MVM_FORMAT_GGUF;
	if ((error = read_preamble(&r, &n_tensors, &n_kv)) < 0 ||
	    (error = read_kvs(&r, n_kv, &align)) < 0 ||
	    (error = read_tensor_infos(&r, &t, n_tensors)) < 0 ||
	    (error = place_data(&r, &t, align)) < 0 ||
	    (error = mvm_tensor_table__finish(&t, name, file_size)) < 0)
		goto done;
	*out = t;
	memset(&t, 0, sizeof(t));
done:
	free(r.buf);
	mvm_tensor_table_dispose(&t);
	return error;
}
