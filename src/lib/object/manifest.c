/*
 * manifest.c: the file manifest encoding.
 *
 *   "MVMF" u32 version=1 u32 format u64 size sha256[32]
 *   u32 nchunks   { id[32] u32 len }*
 *   u32 ntensors  { u16 name_len name u8 dtype_len dtype u8 ndim u64 shape[ndim]
 *                   u64 offset u64 length sha256[32] }*
 *
 * Chunk lengths must add up to size; tensors must lie inside the file.
 */
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "encode.h"
#include "object.h"

static int put_tensor(mvm_buf *b, const mvm_tensor *t)
{
	size_t nl = strlen(t->name), dl = strlen(t->dtype);
	uint32_t d;
	int error = 0;

	if (nl > UINT16_MAX || t->ndim > 8)
		return mvm_error_set(MVM_ETOOLARGE, "tensor '%.40s' name or rank too large", t->name);
	error |= mvm_put_buf16(b, (uint16_t)nl);
	error |= mvm_buf_put(b, t->name, nl);
	error |= mvm_buf_putc(b, (char)dl);
	error |= mvm_buf_put(b, t->dtype, dl);
	error |= mvm_buf_putc(b, (char)t->ndim);
	for (d = 0; d < t->ndim; d++)
		error |= mvm_put_buf64(b, t->shape[d]);
	error |= mvm_put_buf64(b, t->offset);
	error |= mvm_put_buf64(b, t->length);
	error |= mvm_buf_put(b, t->sha.id, MVM_OID_RAWSZ);
	return error ? MVM_ERROR : 0;
}

int mvm_manifest_encode(mvm_buf *out, const mvm_manifest *m)
{
	size_t i;
	int error = 0;

	mvm_buf_clear(out);
	if (mvm_buf_grow(out, 64 + m->nchunks * 36 + m->ntensors * 128) < 0)
		return MVM_ERROR;
	error |= mvm_buf_put(out, "MVMF", 4);
	error |= mvm_put_buf32(out, 1);
	error |= mvm_put_buf32(out, m->format);
	error |= mvm_put_buf64(out, m->size);
	error |= mvm_buf_put(out, m->sha.id, MVM_OID_RAWSZ);
	error |= mvm_put_buf32(out, (uint32_t)m->nchunks);
	for (i = 0; i < m->nchunks; i++) {
		error |= mvm_buf_put(out, m->chunks[i].id.id, MVM_OID_RAWSZ);
		error |= mvm_put_buf32(out, m->chunks[i].len);
	}
	error |= mvm_put_buf32(out, (uint32_t)m->ntensors);
	for (i = 0; i < m->ntensors && !error; i++)
		error = put_tensor(out, &m->tensors[i]);
	return error ? MVM_ERROR : 0;
}

static int take_tensor(mvm_tensor *t, mvm_cursor *c, uint64_t file_size)
{
	const unsigned char *p;
	uint16_t nl = mvm_cursor_u16(c);
	unsigned int dl, d;

	if (!(p = mvm_cursor_take(c, nl)) || !nl || !(t->name = strndup((const char *)p, nl)))
		return MVM_ECORRUPT;
	p = mvm_cursor_take(c, 1);
	if (!p || (dl = *p) == 0 || dl >= sizeof(t->dtype) || !(p = mvm_cursor_take(c, dl)))
		return MVM_ECORRUPT;
	memcpy(t->dtype, p, dl);
	t->dtype[dl] = '\0';
	if (!(p = mvm_cursor_take(c, 1)) || (t->ndim = *p) > 8)
		return MVM_ECORRUPT;
	for (d = 0; d < t->ndim; d++)
		t->shape[d] = mvm_cursor_u64(c);
	t->offset = mvm_cursor_u64(c);
	t->length = mvm_cursor_u64(c);
	if (!(p = mvm_cursor_take(c, MVM_OID_RAWSZ)))
		return MVM_ECORRUPT;
	memcpy(t->sha.id, p, MVM_OID_RAWSZ);
	if (t->offset > file_size || t->length > file_size - t->offset)
		return MVM_ECORRUPT;
	return 0;
}

static int take_chunks(mvm_manifest *m, mvm_cursor *c)
{
	uint64_t total = 0;
	size_t i;

	m->nchunks = mvm_cursor_u32(c);
	if (m->nchunks > mvm_cursor_left(c) / 36)
		return MVM_ECORRUPT;
	if (m->nchunks && (!(m->chunks = calloc(m->nchunks, sizeof(*m->chunks))) ||
			   !(m->chunk_offsets = calloc(m->nchunks, sizeof(uint64_t)))))
		return MVM_ERROR;
	for (i = 0; i < m->nchunks; i++) {
		memcpy(m->chunks[i].id.id, mvm_cursor_take(c, MVM_OID_RAWSZ), MVM_OID_RAWSZ);
		m->chunks[i].len = mvm_cursor_u32(c);
		m->chunk_offsets[i] = total;
		total += m->chunks[i].len;
	}
	return total == m->size ? 0 : MVM_ECORRUPT;
}

int mvm_manifest_decode(mvm_manifest **out, const unsigned char *p, size_t n)
{
	mvm_cursor c = { p, n, 0, 0 };
	const unsigned char *magic, *sha;
	mvm_manifest *m;
	size_t i, ntensors;
	int error = MVM_ECORRUPT;

	*out = NULL;
	if (!(m = calloc(1, sizeof(*m))))
		return mvm_error_set(MVM_ERROR, "out of memory");
	magic = mvm_cursor_take(&c, 4);
	if (!magic || memcmp(magic, "MVMF", 4) || mvm_cursor_u32(&c) != 1)
		goto done;
	m->format = mvm_cursor_u32(&c);
	m->size = mvm_cursor_u64(&c);
	if (!(sha = mvm_cursor_take(&c, MVM_OID_RAWSZ)))
		goto done;
	memcpy(m->sha.id, sha, MVM_OID_RAWSZ);
	if ((error = take_chunks(m, &c)) < 0)
		goto done;
	error = MVM_ECORRUPT;
	ntensors = mvm_cursor_u32(&c);
	if (ntensors > mvm_cursor_left(&c) / 54)
		goto done;
	if (ntensors && !(m->tensors = calloc(ntensors, sizeof(*m->tensors))))
		goto done;
	m->ntensors = ntensors; /* only now: mvm_manifest_free walks the array */
	for (i = 0; i < m->ntensors; i++)
		if (take_tensor(&m->tensors[i], &c, m->size) < 0)
			goto done;
	if (!c.bad && c.pos == n)
		error = 0;
done:
	if (error < 0) {
		mvm_manifest_free(m);
		return mvm_error_set(error, error == MVM_ERROR ? "out of memory" : "manifest is malformed");
	}
	*out = m;
	return 0;
}

void mvm_manifest_free(mvm_manifest *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->ntensors; i++)
		free(m->tensors[i].name);
	free(m->tensors);
	free(m->chunks);
	free(m->chunk_offsets);
	free(m);
}

const mvm_tensor *mvm_manifest_tensor(const mvm_manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->ntensors; i++)
		if (!strcmp(m->tensors[i].name, name))
			return &m->tensors[i];
	return NULL;
}

int mvm_manifest_is_one_chunk(const mvm_manifest *m)
{
	if (m->format != 0 || m->ntensors || m->nchunks > 1)
		return 0;
	return m->nchunks ? !mvm_oid_cmp(&m->chunks[0].id, &m->sha) : m->size == 0;
}

int mvm_manifest_one_chunk_ok(const mvm_oid *id, uint64_t size)
{
	static const unsigned char empty[MVM_OID_RAWSZ] = { /* sha256 of nothing */
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55
	};

	return size <= UINT32_MAX && (size || !memcmp(id->id, empty, MVM_OID_RAWSZ));
}

/* The manifest a one-chunk tree entry stands for: its id is the chunk's and the file's. */
static int one_chunk_manifest(mvm_manifest **out, const mvm_oid *id, uint64_t size)
{
	mvm_manifest *m = calloc(1, sizeof(*m));

	if (!m || (size && (!(m->chunks = calloc(1, sizeof(*m->chunks))) ||
			    !(m->chunk_offsets = calloc(1, sizeof(uint64_t)))))) {
		mvm_manifest_free(m);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	m->size = size;
	m->sha = *id;
	if (size) {
		m->chunks[0].id = *id;
		m->chunks[0].len = (uint32_t)size;
		m->nchunks = 1;
	}
	*out = m;
	return 0;
}

int mvm_manifest_get(mvm_manifest **out, mvm_db *db, const mvm_oid *id, int one_chunk, uint64_t size)
{
	if (!one_chunk)
		return mvm_manifest_read(out, db, id);
	if (!mvm_manifest_one_chunk_ok(id, size))
		return mvm_error_set(MVM_ECORRUPT, "a one-chunk file cannot be %llu bytes with that id; run 'mvm fsck'",
				     (unsigned long long)size);
	return one_chunk_manifest(out, id, size);
}

int mvm_manifest_ref(mvm_oid *id, int *one_chunk, mvm_db *db, const mvm_manifest *m, mvm_buf *scratch)
{
	int error;

	if ((*one_chunk = mvm_manifest_is_one_chunk(m))) {
		*id = m->sha;
		return 0;
	}
	if ((error = mvm_manifest_encode(scratch, m)) < 0)
		return error;
	return mvm_odb_write(id, db, MVM_OBJ_MANIFEST, scratch);
}

int mvm_manifest_file_sha(mvm_oid *out, mvm_db *db, const mvm_oid *id, int one_chunk)
{
	mvm_manifest *m = NULL;
	int error = 0;

	if (one_chunk)
		*out = *id;
	else if ((error = mvm_manifest_read(&m, db, id)) == 0)
		*out = m->sha;
	mvm_manifest_free(m);
	return error;
}

int mvm_manifest_same_file(mvm_db *db, const mvm_oid *a, int a_one_chunk, const mvm_oid *b, int b_one_chunk)
{
	mvm_manifest *m = NULL;
	int same;

	if (a_one_chunk == b_one_chunk)
		return !mvm_oid_cmp(a, b);
	if ((same = mvm_manifest_read(&m, db, a_one_chunk ? b : a)) == 0)
		same = mvm_manifest_is_one_chunk(m) && !mvm_oid_cmp(&m->sha, a_one_chunk ? a : b);
	mvm_manifest_free(m);
	return same;
}
