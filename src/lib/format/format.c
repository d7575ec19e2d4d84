/*
 * format.c: recognizing tensor files, and what the safetensors and GGUF
 * parsers share: the table checks (bounds, order, overlap, duplicate names),
 * plain dtype sizes and the memory and file-descriptor readers.
 *
 * Sniffing is deliberately conservative. A file whose name says what it is
 * (*.safetensors, *.gguf) must parse; any other file is only tried when its
 * first bytes look like a tensor header, and a failed try means "plain bytes",
 * never an error.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mvm/common.h"
#include "format/tensor.h"
#include "util/bytes.h"

#define NAME_DISPLAY_MAX 80

static const struct {
	const char *name;
	size_t size;
} plain_dtypes[] = {
	{ "BOOL", 1 },    { "U8", 1 },      { "I8", 1 },	  { "F8_E5M2", 1 },
	{ "F8_E4M3", 1 }, { "F8_E8M0", 1 }, { "I16", 2 },	  { "U16", 2 },
	{ "F16", 2 },     { "BF16", 2 },    { "I32", 4 },	  { "U32", 4 },
	{ "F32", 4 },     { "F64", 8 },     { "I64", 8 },	  { "U64", 8 },
};

size_t mvm_dtype_size(const char *dtype)
{
	size_t i;

	if (!dtype)
		return 0;
	for (i = 0; i < sizeof(plain_dtypes) / sizeof(plain_dtypes[0]); i++)
		if (strcmp(plain_dtypes[i].name, dtype) == 0)
			return plain_dtypes[i].size;
	return 0;
}

int mvm_shape_elements(uint64_t *out, const uint64_t *shape, uint32_t ndim)
{
	uint64_t n = 1;
	uint32_t i;

	for (i = 0; i < ndim; i++) {
		if (shape[i] && n > UINT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	*out = n;
	return 0;
}

void mvm_tensor_table_dispose(mvm_tensor_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->count; i++)
		free(t->tensors[i].name);
	free(t->tensors);
	memset(t, 0, sizeof(*t));
	t->format = MVM_FORMAT_NONE;
}

const char *mvm_format__printable(char *out, size_t size, const char *s)
{
	size_t i, max;

	if (!size)
		return out;
	max = size - 1;
	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
	if (s[i] && max >= 3)
		memcpy(out + max - 3, "...", 3);
	return out;
}

static int cmp_offset(const void *a, const void *b)
{
	const mvm_tensor_info *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	if (x->length != y->length)
		return x->length < y->length ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
	const mvm_tensor_info *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int check_bounds(const mvm_tensor_table *t, const char *name, uint64_t file_size)
{
	char d[NAME_DISPLAY_MAX];
	size_t i;

	for (i = 0; i < t->count; i++) {
		const mvm_tensor_info *ti = &t->tensors[i];

		if (ti->offset < t->data_start || ti->offset > file_size ||
		    ti->length > file_size - ti->offset)
			return mvm_error_set(MVM_EFORMAT,
				"%s: tensor '%s' (%llu bytes at offset %llu) lies outside the data section [%llu, %llu)",
				name, mvm_format__printable(d, sizeof(d), ti->name),
				(unsigned long long)ti->length, (unsigned long long)ti->offset,
				(unsigned long long)t->data_start, (unsigned long long)file_size);
	}
	return 0;
}

static int check_overlap(const mvm_tensor_table *t, const char *name)
{
	char d1[NAME_DISPLAY_MAX], d2[NAME_DISPLAY_MAX];
	size_t i;

	for (i = 1; i < t->count; i++) {
		const mvm_tensor_info *a = &t->tensors[i - 1], *b = &t->tensors[i];

		if (b->offset - a->offset < a->length)
			return mvm_error_set(MVM_EFORMAT,
				"%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", name,
				mvm_format__printable(d1, sizeof(d1), a->name),
				(unsigned long long)a->offset,
				(unsigned long long)(a->offset + a->length),
				mvm_format__printable(d2, sizeof(d2), b->name),
				(unsigned long long)b->offset,
				(unsigned long long)(b->offset + b->length));
	}
	return 0;
}

/* Names must fit the manifest (u16 length) and say something. */
static int check_names(const mvm_tensor_table *t, const char *name)
{
	char d[NAME_DISPLAY_MAX];
	size_t i, n;

	for (i = 0; i < t->count; i++) {
		if (!t->tensors[i].name || !(n = strlen(t->tensors[i].name)))
			return mvm_error_set(MVM_EFORMAT, "%s: a tensor has an empty name", name);
		if (n > UINT16_MAX)
			return mvm_error_set(MVM_EFORMAT, "%s: tensor name '%s' is %zu bytes long (at most %u)", name,
					     mvm_format__printable(d, sizeof(d), t->tensors[i].name), n, UINT16_MAX);
	}
	return 0;
}

static int check_unique_names(const mvm_tensor_table *t, const char *name)
{
	const mvm_tensor_info **v = NULL;
	char d[NAME_DISPLAY_MAX];
	size_t i;
	int error = 0;

	if (t->count < 2)
		return 0;
	if (!(v = malloc(t->count * sizeof(*v))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	for (i = 0; i < t->count; i++)
		v[i] = &t->tensors[i];
	qsort(v, t->count, sizeof(*v), cmp_name);
	for (i = 1; i < t->count; i++) {
		if (strcmp(v[i - 1]->name, v[i]->name) == 0) {
			error = mvm_error_set(MVM_EFORMAT, "%s: tensor name '%s' appears twice", name,
					      mvm_format__printable(d, sizeof(d), v[i]->name));
			break;
		}
	}
	free(v);
	return error;
}

int mvm_tensor_table__finish(mvm_tensor_table *t, const char *name, uint64_t file_size)
{
	int error;

	if ((error = check_names(t, name)) < 0 || (error = check_bounds(t, name, file_size)) < 0)
		return error;
	if (t->count > 1)
		qsort(t->tensors, t->count, sizeof(*t->tensors), cmp_offset);
	if ((error = check_overlap(t, name)) < 0)
		return error;
	return check_unique_names(t, name);
}

/* ---- readers ---- */

int mvm_mem_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	const mvm_mem_reader *m = ctx;

	if (off > m->n || n > m->n - off)
		return mvm_error_set(MVM_EFORMAT,
			"truncated: %zu bytes at offset %llu are past the end (%zu bytes)", n,
			(unsigned long long)off, m->n);
	if (n)
		memcpy(buf, m->p + off, n);
	return 0;
}

int mvm_fd_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	int fd = *(const int *)ctx;
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t got;

		if (off > (uint64_t)INT64_MAX - n)
			return mvm_error_set(MVM_EFORMAT, "truncated: offset %llu is out of range",
					     (unsigned long long)off);
		got = pread(fd, p, n, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return mvm_error_set(MVM_ERROR, "read at offset %llu failed: %s",
					     (unsigned long long)off, strerror(errno));
		if (got == 0)
			return mvm_error_set(MVM_EFORMAT,
				"truncated: file ends before offset %llu (%zu bytes missing)",
				(unsigned long long)off, n);
		p += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* ---- recognizing a file ---- */

static int has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n >= s && strcasecmp(name + n - s, suffix) == 0;
}

/* Which parser the first bytes suggest, or MVM_FORMAT_NONE. */
static int sniff(mvm_format *out, uint64_t file_size, mvm_read_fn read, void *ctx)
{
	unsigned char head[9];
	size_t n = file_size < sizeof(head) ? (size_t)file_size : sizeof(head);
	int error;

	*out = MVM_FORMAT_NONE;
	if (n < 4)
		return 0;
	if ((error = read(ctx, head, n, 0)) < 0)
		return error;
	if (memcmp(head, "GGUF", 4) == 0)
		*out = MVM_FORMAT_GGUF;
	else if (memcmp(head, "PK\3\4", 4) == 0)
		*out = MVM_FORMAT_TORCH; /* or np.savez's archive */
	else if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
		*out = MVM_FORMAT_NPY;
	else if (n == 9 && head[8] == '{' && mvm_le64(head) >= 1 &&
		 mvm_le64(head) <= file_size - 8)
		*out = MVM_FORMAT_SAFETENSORS;
	return 0;
}

int mvm_format_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
		     mvm_read_fn read, void *ctx)
{
	mvm_format fmt;
	int named = 1, error;

	memset(out, 0, sizeof(*out));
	out->format = MVM_FORMAT_NONE;
	if (!name)
		name = "(unnamed)";
	if (has_suffix(name, ".safetensors"))
		fmt = MVM_FORMAT_SAFETENSORS;
	else if (has_suffix(name, ".gguf"))
		fmt = MVM_FORMAT_GGUF;
	else {
		named = 0;
		if ((error = sniff(&fmt, file_size, read, ctx)) < 0)
			return mvm_error_wrap(error, "%s", name);
		if (fmt == MVM_FORMAT_NONE && has_suffix(name, ".onnx"))
			fmt = MVM_FORMAT_ONNX; /* no magic: tried by name, plain bytes when it fails */
	}

	if (fmt == MVM_FORMAT_SAFETENSORS)
		error = mvm_safetensors_parse(out, name, file_size, read, ctx);
	else if (fmt == MVM_FORMAT_GGUF)
		error = mvm_gguf_parse(out, name, file_size, read, ctx);
	else if (fmt == MVM_FORMAT_TORCH) {
		if ((error = mvm_torch_parse(out, name, file_size, read, ctx)) == MVM_EFORMAT) {
			mvm_error_clear();
			mvm_tensor_table_dispose(out);
			error = mvm_npz_parse(out, name, file_size, read, ctx);
		}
	} else if (fmt == MVM_FORMAT_NPY)
		error = mvm_npy_parse(out, name, file_size, read, ctx);
	else if (fmt == MVM_FORMAT_ONNX)
		error = mvm_onnx_parse(out, name, file_size, read, ctx);
	else
		return 0;

	/* A sniffed file that does not parse is plain bytes; I/O errors still count. */
	if (error == MVM_EFORMAT && !named) {
		mvm_error_clear();
		mvm_tensor_table_dispose(out);
		error = 0;
	}
	return error;
}
