/*
 * npy.c: NumPy arrays as tensor files: one .npy array, or the arrays of
 * an .npz archive (np.savez: a zip of NAME.npy entries stored as they
 * are; np.savez_compressed's deflated entries stay plain bytes).
 *
 * An .npy array is "\x93NUMPY", a version byte pair, a header length (u16
 * in version 1, u32 in 2 and 3), then that many bytes of a Python dict
 * literal, {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), },
 * and the array's bytes. Little-endian and byte-sized plain dtypes make
 * a tensor; big-endian, structured or object arrays leave the file plain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "util/bytes.h"
#include "format/tensor.h"
#include "zip.h"

#define NPY_PREFIX 10
#define NPY_HEADER_MAX 65536

static const struct {
	const char *descr, *dtype;
} npy_dtypes[] = {
	{ "<f4", "F32" }, { "<f2", "F16" }, { "<f8", "F64" }, { "<i8", "I64" }, { "<i4", "I32" },
	{ "<i2", "I16" }, { "|i1", "I8" },  { "|u1", "U8" },  { "<u2", "U16" }, { "<u4", "U32" },
	{ "<u8", "U64" }, { "|b1", "BOOL" },
};

static int bad(const char *name, const char *what)
{
	return mvm_error_set(MVM_EFORMAT, "%s: NumPy array %s", name, what);
}

/* The value after 'key': in the header, past its spaces; NULL when the key is absent. */
static const char *value_of(const char *h, const char *key)
{
	const char *p = strstr(h, key);

	if (!p)
		return NULL;
	p += strlen(key);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ')
		p++;
	return p;
}

/* The header's dict: dtype, C order, shape. */
static int parse_dict(mvm_tensor_info *t, const char *h, const char *name)
{
	const char *d = value_of(h, "'descr'"), *f = value_of(h, "'fortran_order'"), *s = value_of(h, "'shape'");
	size_t i;

	if (!d || !f || !s || *s != '(')
		return bad(name, "header lacks descr, fortran_order or shape");
	for (i = 0; i < sizeof(npy_dtypes) / sizeof(npy_dtypes[0]); i++)
		if (!strncmp(d, "'", 1) && !strncmp(d + 1, npy_dtypes[i].descr, 3) && d[4] == '\'')
			break;
	if (i == sizeof(npy_dtypes) / sizeof(npy_dtypes[0]))
		return bad(name, "has a dtype mvm does not read as a tensor");
	if (strncmp(f, "False", 5))
		return bad(name, "is in Fortran order");
	memcpy(t->dtype, npy_dtypes[i].dtype, strlen(npy_dtypes[i].dtype) + 1);
	for (s++, t->ndim = 0;;) {
		char *end;
		unsigned long long v;

		while (*s == ' ' || *s == ',')
			s++;
		if (*s == ')')
			return 0;
		if (*s < '0' || *s > '9' || t->ndim == MVM_TENSOR_MAXDIM)
			return bad(name, "has a bad shape");
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno == ERANGE)
			return bad(name, "has a bad shape");
		t->shape[t->ndim++] = v;
		s = end;
	}
}

/*
 * The array whose .npy bytes start at `at` and take `len` bytes of the
 * file: its dtype, shape and data range (the header must say exactly len).
 */
static int parse_array(mvm_tensor_info *t, const char *name, uint64_t at, uint64_t len, mvm_read_fn read,
		       void *ctx)
{
	unsigned char pre[NPY_PREFIX + 2];
	uint64_t hlen, n, size, data;
	char *h;
	int error;

	if (len < NPY_PREFIX || (error = read(ctx, pre, len < sizeof(pre) ? NPY_PREFIX : sizeof(pre), at)) < 0)
		return len < NPY_PREFIX ? bad(name, "is truncated") : error;
	if (memcmp(pre, "\x93NUMPY", 6) || pre[6] < 1 || pre[6] > 3)
		return bad(name, "has no magic");
	if (pre[6] > 1 && len < sizeof(pre))
		return bad(name, "is truncated");
	hlen = pre[6] == 1 ? mvm_le16(pre + 8) : mvm_le32(pre + 8);
	data = (pre[6] == 1 ? NPY_PREFIX : NPY_PREFIX + 2) + hlen;
	if (hlen > NPY_HEADER_MAX || data > len)
		return bad(name, "header is too long");
	if (!(h = malloc((size_t)hlen + 1)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = read(ctx, h, (size_t)hlen, at + data - hlen)) == 0) {
		h[hlen] = '\0';
		error = parse_dict(t, h, name);
	}
	free(h);
	if (error < 0)
		return error;
	size = mvm_dtype_size(t->dtype);
	if (mvm_shape_elements(&n, t->shape, t->ndim) < 0)
		return bad(name, "shape is too large");
	if (n > (len - data) / size || n * size != len - data)
		return bad(name, "data length does not match its shape");
	t->offset = at + data;
	t->length = len - data;
	return 0;
}

int mvm_npy_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	int error;

	memset(out, 0, sizeof(*out));
	if (!(out->tensors = calloc(1, sizeof(*out->tensors))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	if ((error = parse_array(&out->tensors[0], name, 0, file_size, read, ctx)) < 0)
		return error;
	if (!(out->tensors[0].name = strdup("array")))
		return mvm_error_set(MVM_ERROR, "out of memory");
	out->count = 1;
	out->format = MVM_FORMAT_NPY;
	out->data_start = out->tensors[0].offset;
	return mvm_tensor_table__finish(out, name, file_size);
}

static int is_npy_entry(const char *entry)
{
	size_t n = strlen(entry);

	return n > 4 && !strcmp(entry + n - 4, ".npy");
}

int mvm_npz_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	mvm_zip_entry *e = NULL;
	size_t n = 0, i;
	uint64_t read_total = 0;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = mvm_zip_entries(&e, &n, name, file_size, read, ctx, is_npy_entry)) < 0)
		return error;
	if (!(out->tensors = calloc(n ? n : 1, sizeof(*out->tensors)))) {
		error = mvm_error_set(MVM_ERROR, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		mvm_tensor_info *t = &out->tensors[out->count];
		size_t len = strlen(e[i].name);

		if (!is_npy_entry(e[i].name) || !e[i].stored)
			continue;
		/* entries may not share bytes: then their headers, read once each, fit in the file */
		if ((read_total += e[i].size < NPY_HEADER_MAX ? e[i].size : NPY_HEADER_MAX) > file_size) {
			error = bad(name, "archive's entries overlap");
			goto done;
		}
		if ((error = parse_array(t, name, e[i].offset, e[i].size, read, ctx)) == MVM_EFORMAT) {
			mvm_error_clear(); /* an array mvm does not read as a tensor stays plain bytes */
			memset(t, 0, sizeof(*t));
			continue;
		}
		if (error < 0)
			goto done;
		if (!(t->name = strdup(e[i].name))) {
			error = mvm_error_set(MVM_ERROR, "out of memory");
			goto done;
		}
		t->name[len - 4] = '\0'; /* "weights.npy" holds np.savez's array "weights" */
		out->count++;
		if (!out->data_start || t->offset < out->data_start)
			out->data_start = t->offset;
	}
	error = out->count ? 0 : bad(name, "archive holds no stored arrays");
	out->format = MVM_FORMAT_NPY;
	if (!error)
		error = mvm_tensor_table__finish(out, name, file_size);
done:
	mvm_zip_entries_free(e, n);
	return error;
}
