/*
 * onnx.c: ONNX models as tensor files: each initializer of the main graph
 * whose values are in raw_data is a tensor (name, dtype, dims, the
 * raw_data bytes' range in the file).
 *
 * An ONNX file is a protobuf ModelProto: field 7 is the GraphProto, whose
 * field 5 repeats TensorProto initializers (1 dims, 2 data_type, 8 name,
 * 9 raw_data). Fields are walked by their tags and lengths through a
 * buffered reader, so a multi-GB model is not read, only its structure;
 * everything else is skipped. Initializers held in typed fields
 * (float_data...) or in external files are not tensors of this file.
 * Tried only on files named *.onnx, and anything it cannot read leaves the
 * file plain bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "util/array.h"

#define WINDOW (64u << 10)
#define NAME_MAX_BYTES 4096
#define TENSORS_MAX (1u << 20)

typedef struct {
	mvm_read_fn read;
	void *ctx;
	uint64_t size;
	unsigned char buf[WINDOW];
	uint64_t at;         /* file offset of buf[0] */
	size_t len;
	int io_error;        /* a read failed, or memory ran out (its error): report it, not the format */
} reader;

/* The byte at file offset off, or -1 past the end or on a read error. */
static int byte_at(reader *r, uint64_t off)
{
	size_t n;

	if (off >= r->size)
		return -1;
	if (off < r->at || off >= r->at + r->len) {
		n = r->size - off < WINDOW ? (size_t)(r->size - off) : WINDOW;
		if ((r->io_error = r->read(r->ctx, r->buf, n, off)) < 0)
			return -1;
		r->at = off;
		r->len = n;
	}
	return r->buf[off - r->at];
}

/* A varint at *off, which moves past it; -1 if it is cut off by `end` or longer than 10 bytes. */
static int varint(uint64_t *v, reader *r, uint64_t *off, uint64_t end)
{
	unsigned int shift;
	int b;

	*v = 0;
	for (shift = 0; shift < 64 && *off < end; shift += 7) {
		if ((b = byte_at(r, (*off)++)) < 0)
			return -1;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/*
 * The next field in [*off, end): its number, wire type, and for varints
 * the value, for length-delimited fields where the bytes start (*off moves
 * past them) and how many.
 */
static int field(uint64_t *num, unsigned int *type, uint64_t *value, uint64_t *start, reader *r, uint64_t *off,
		 uint64_t end)
{
	uint64_t key;

	if (varint(&key, r, off, end) < 0)
		return -1;
	*num = key >> 3;
	*type = (unsigned int)(key & 7);
	*start = *off;
	switch (*type) {
	case 0: return varint(value, r, off, end);
	case 1: *value = 8; break;
	case 5: *value = 4; break;
	case 2:
		if (varint(value, r, off, end) < 0)
			return -1;
		*start = *off;
		break;
	default: return -1; /* groups: not in ONNX */
	}
	if (*value > end - *off)
		return -1;
	*off += *value;
	return 0;
}

static const char *dtype_of(uint64_t data_type)
{
	switch (data_type) {
	case 1: return "F32";
	case 2: return "U8";
	case 3: return "I8";
	case 4: return "U16";
	case 5: return "I16";
	case 6: return "I32";
	case 7: return "I64";
	case 9: return "BOOL";
	case 10: return "F16";
	case 11: return "F64";
	case 12: return "U32";
	case 13: return "U64";
	case 16: return "BF16";
	case 17: return "F8_E4M3";
	case 19: return "F8_E5M2";
	default: return NULL;
	}
}

/* One dim into t; *skip when t cannot hold it (more than MVM_TENSOR_MAXDIM, or negative). */
static void put_dim(mvm_tensor_info *t, uint64_t d, int *skip)
{
	if (t->ndim == MVM_TENSOR_MAXDIM || d > INT64_MAX)
		*skip = 1;
	else
		t->shape[t->ndim++] = d;
}

/* Packed dims (wire type 2) into t. */
static int packed_dims(mvm_tensor_info *t, reader *r, uint64_t at, uint64_t len, int *skip)
{
	uint64_t end = at + len, d;

	while (at < end) {
		if (varint(&d, r, &at, end) < 0)
			return -1;
		put_dim(t, d, skip);
	}
	return 0;
}

/* One TensorProto in [at, end): 1 if it is a raw_data tensor (t filled, name owned), 0 if not, -1 if bad. */
static int tensor(mvm_tensor_info *t, reader *r, uint64_t at, uint64_t end)
{
	uint64_t num, value, start, name_at = 0, name_len = 0, type = 0, raw = 0, raw_len = 0, n, i;
	unsigned int wire;
	const char *dtype;
	int has_raw = 0, skip = 0;

	memset(t, 0, sizeof(*t));
	while (at < end) {
		if (field(&num, &wire, &value, &start, r, &at, end) < 0)
			return -1;
		if (num == 1 && wire == 0)
			put_dim(t, value, &skip);
		else if (num == 1 && wire == 2 && packed_dims(t, r, start, value, &skip) < 0)
			return -1;
		else if (num == 2 && wire == 0)
			type = value;
		else if (num == 8 && wire == 2)
			name_at = start, name_len = value;
		else if (num == 9 && wire == 2)
			raw = start, raw_len = value, has_raw = 1;
	}
	if (skip || !has_raw || !(dtype = dtype_of(type)) || !name_len || name_len > NAME_MAX_BYTES)
		return 0; /* an initializer mvm does not read as a tensor: its bytes stay plain */
	if (mvm_shape_elements(&n, t->shape, t->ndim) < 0)
		return 0;
	if (n > raw_len / mvm_dtype_size(dtype) || n * mvm_dtype_size(dtype) != raw_len)
		return 0; /* raw_data of another size: not a tensor mvm can align */
	if (!(t->name = malloc((size_t)name_len + 1))) {
		r->io_error = mvm_error_set(MVM_ERROR, "out of memory");
		return -1;
	}
	for (i = 0; i < name_len; i++) {
		int b = byte_at(r, name_at + i);
		if (b <= 0) { /* a NUL in the name, or a read error */
			free(t->name);
			t->name = NULL;
			return b < 0 ? -1 : 0;
		}
		t->name[i] = (char)b;
	}
	t->name[name_len] = '\0';
	memcpy(t->dtype, dtype, strlen(dtype) + 1);
	t->offset = raw;
	t->length = raw_len;
	return 1;
}

/* The GraphProto in [at, end): its initializers into out. */
static int graph(mvm_tensor_table *out, size_t *cap, reader *r, uint64_t at, uint64_t end)
{
	uint64_t num, value, start;
	unsigned int wire;
	int got, error;

	while (at < end) {
		if (field(&num, &wire, &value, &start, r, &at, end) < 0)
			return -1;
		if (num != 5 || wire != 2)
			continue;
		if (out->count == TENSORS_MAX)
			return -1;
		if ((error = mvm_array_grow(&out->tensors, cap, out->count, sizeof(*out->tensors), 64)) < 0) {
			r->io_error = error;
			return -1;
		}
		if ((got = tensor(&out->tensors[out->count], r, start, start + value)) < 0)
			return -1;
		if (got) {
			if (!out->data_start || out->tensors[out->count].offset < out->data_start)
				out->data_start = out->tensors[out->count].offset;
			out->count++;
		}
	}
	return 0;
}

int mvm_onnx_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	reader *r = calloc(1, sizeof(*r));
	uint64_t num, value, start, at = 0;
	unsigned int wire;
	size_t cap = 0;
	int error = 0, graphs = 0;

	memset(out, 0, sizeof(*out));
	if (!r)
		return mvm_error_set(MVM_ERROR, "out of memory");
	r->read = read;
	r->ctx = ctx;
	r->size = file_size;
	while (at < file_size && !error) {
		if (field(&num, &wire, &value, &start, r, &at, file_size) < 0)
			error = -1;
		else if (num == 7 && wire == 2 && !graphs++)
			error = graph(out, &cap, r, start, start + value);
	}
	if (r->io_error < 0)
		error = r->io_error; /* the read's (or the allocation's) own error and message */
	else if (error || !graphs || !out->count)
		error = mvm_error_set(MVM_EFORMAT, "%s: not an ONNX model with raw initializers mvm can read", name);
	free(r);
	if (error < 0)
		return error;
	out->format = MVM_FORMAT_ONNX;
	return mvm_tensor_table__finish(out, name, file_size);
}
