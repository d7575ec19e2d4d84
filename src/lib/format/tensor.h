/*
 * tensor.h: the tensor table of a model file, as read from its header.
 *
 * mvm_format_parse() recognizes safetensors, GGUF (v2, v3), PyTorch
 * (torch.save's zip archive), NumPy (.npy, .npz) and ONNX files and
 * returns each tensor's name, dtype, shape and absolute byte range, sorted by
 * offset. Any other file gets an empty table (format MVM_FORMAT_NONE) and is
 * stored as plain bytes. Headers are untrusted input: every length is checked
 * against the file size before anything is allocated from it.
 */
#ifndef MVM_FORMAT_TENSOR_H
#define MVM_FORMAT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define MVM_TENSOR_MAXDIM 8
#define MVM_DTYPE_MAX 16

typedef enum {
	MVM_FORMAT_NONE = 0,
	MVM_FORMAT_SAFETENSORS = 1,
	MVM_FORMAT_GGUF = 2,
	MVM_FORMAT_TORCH = 3,    /* torch.save's zip archive: one tensor per storage */
	MVM_FORMAT_NPY = 4,      /* a NumPy .npy array, or np.savez's .npz of them */
	MVM_FORMAT_ONNX = 5      /* an ONNX model's raw_data initializers */
} mvm_format;

typedef struct {
	char *name;                    /* owned, NUL-terminated */
	char dtype[MVM_DTYPE_MAX];     /* "BF16", "F32", "Q4_K", ... */
	uint32_t ndim;
	uint64_t shape[MVM_TENSOR_MAXDIM];
	uint64_t offset;               /* absolute offset in the file */
	uint64_t length;               /* bytes */
} mvm_tensor_info;

typedef struct {
	mvm_format format;
	uint64_t data_start;           /* absolute offset where tensor data begins */
	mvm_tensor_info *tensors;      /* sorted by offset, non-overlapping */
	size_t count;
} mvm_tensor_table;

#define MVM_TENSOR_TABLE_INIT { MVM_FORMAT_NONE, 0, NULL, 0 }

/*
 * Reads `n` bytes at `off` from the file being parsed. Returns 0, or a
 * negative mvm error (with mvm_error_set called) on failure or short read.
 */
typedef int (*mvm_read_fn)(void *ctx, void *buf, size_t n, uint64_t off);

/*
 * Recognize and parse the file. `name` is the path used in error messages.
 * Files named *.safetensors or *.gguf must parse; others are sniffed by
 * content (GGUF magic; safetensors' 8-byte length followed by '{'; a zip's
 * "PK\3\4" for a PyTorch archive or an .npz; "\x93NUMPY"), or for ONNX,
 * which has no magic, by the name *.onnx, and fall back to plain bytes
 * when they do not parse.
 *
 * @return 0 (table filled, possibly MVM_FORMAT_NONE), MVM_EFORMAT with a
 *         message "NAME: problem" when a tensor file is malformed.
 */
int mvm_format_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
		     mvm_read_fn read, void *ctx);

int mvm_safetensors_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
			  mvm_read_fn read, void *ctx);
int mvm_gguf_parse(mvm_tensor_table *out, const char *name, uint64_t file_size,
		   mvm_read_fn read, void *ctx);
int mvm_torch_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx);
int mvm_npy_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx);
int mvm_npz_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx);
int mvm_onnx_parse(mvm_tensor_table *out, const char *name, uint64_t file_size, mvm_read_fn read, void *ctx);

void mvm_tensor_table_dispose(mvm_tensor_table *t);

/** Elements of a shape (1 for ndim 0) into *out; -1 when the product overflows 64 bits. */
int mvm_shape_elements(uint64_t *out, const uint64_t *shape, uint32_t ndim);

/** Element size in bytes for plain float/int dtypes (BF16 -> 2), 0 if not a plain type. */
size_t mvm_dtype_size(const char *dtype);

/** Memory reader over {const unsigned char *p; size_t n} for tests and fuzzers. */
typedef struct {
	const unsigned char *p;
	size_t n;
} mvm_mem_reader;
int mvm_mem_read(void *ctx, void *buf, size_t n, uint64_t off);

/** File reader: ctx is a pointer to an int file descriptor. */
int mvm_fd_read(void *ctx, void *buf, size_t n, uint64_t off);

/*
 * Internal, shared by the parsers in src/lib/format/ (not for callers).
 *
 * mvm_tensor_table__finish() checks that every tensor lies in
 * [data_start, file_size), sorts the table by offset and rejects overlapping
 * ranges and duplicate names ("NAME: ..." messages, MVM_EFORMAT).
 * mvm_format__printable() copies `s` into `out` for a one-line error
 * message: control bytes become '?', long names are cut with "...".
 */
int mvm_tensor_table__finish(mvm_tensor_table *t, const char *name, uint64_t file_size);
const char *mvm_format__printable(char *out, size_t size, const char *s);

#endif
