/*
 * inspect.c: public lookups of objects and ranged reads of stored files.
 */
#include <stdlib.h>
#include <string.h>

#include "mvm/inspect.h"
#include "object/object.h"
#include "util/hash.h"
#include "repo_internal.h"
#include "restore.h"

int mvm_version_lookup(mvm_version **out, mvm_repo *repo, const mvm_oid *id)
{
	return mvm_version_read(out, repo->db, id);
}

int mvm_tree_lookup(mvm_tree **out, mvm_repo *repo, const mvm_oid *id)
{
	return mvm_tree_read(out, repo->db, id);
}

int mvm_manifest_lookup(mvm_manifest **out, mvm_repo *repo, const mvm_tree_entry *e)
{
	return mvm_manifest_get(out, repo->db, &e->manifest, e->one_chunk, e->size);
}

/* Index of the chunk holding byte `off` (off < m->size). */
size_t mvm_manifest_chunk_at(const mvm_manifest *m, uint64_t off)
{
	size_t lo = 0, hi = m->nchunks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->chunk_offsets[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Bytes handed out must be the bytes committed: check each chunk against its id. */
static int verify_chunk(const mvm_chunk_ref *ref, const mvm_buf *chunk)
{
	char hex[MVM_OID_HEXSZ + 1];
	mvm_oid got;
	int error;

	if (chunk->size == ref->len) {
		if ((error = mvm_sha256_buf(&got, chunk->ptr, chunk->size)) < 0)
			return error;
		if (!mvm_oid_cmp(&got, &ref->id))
			return 0;
	}
	mvm_oid_fmt(hex, &ref->id);
	return mvm_error_set(MVM_ECORRUPT, "chunk %s is damaged; run 'mvm fsck'", hex);
}

/* Ranges from this size on decode on the pool, as a checkout does (restore.c). */
#define READ_RANGE_POOLED (4u << 20)

typedef struct {
	int (*sink)(const void *p, size_t n, void *payload);
	void *payload;
	uint64_t at, lo, hi; /* file offset of the next byte handed in; the range wanted */
} range_sink;

/* Whole batches in, the part of them inside the range out. */
static int range_put(const unsigned char *p, size_t n, void *payload)
{
	range_sink *r = payload;
	uint64_t start = r->at, lo = r->lo > start ? r->lo : start, hi = r->hi < start + n ? r->hi : start + n;

	r->at = start + n;
	return lo < hi ? r->sink(p + (lo - start), (size_t)(hi - lo), r->payload) : 0;
}

static int read_range_pooled(mvm_repo *repo, const mvm_manifest *m, uint64_t offset, uint64_t end,
			     int (*sink)(const void *p, size_t n, void *payload), void *payload)
{
	size_t first = mvm_manifest_chunk_at(m, offset), last = mvm_manifest_chunk_at(m, end - 1) + 1;
	range_sink r = { sink, payload, m->chunk_offsets[first], offset, end };
	mvm_restore rs;
	int error;

	if ((error = mvm_restore_init(&rs, repo)) == 0)
		error = mvm_restore_read(&rs, m, first, last, "stored file", range_put, &r);
	mvm_restore_dispose(&rs);
	return error;
}

int mvm_manifest_read_range(mvm_repo *repo, const mvm_manifest *m, uint64_t offset, uint64_t length,
			    int (*sink)(const void *p, size_t n, void *payload), void *payload)
{
	mvm_buf chunk = MVM_BUF_INIT;
	uint64_t end = offset + length;
	size_t i;
	int error = 0;

	if (offset > m->size || length > m->size - offset)
		return mvm_error_set(MVM_EUSAGE, "range %llu+%llu is outside the file (%llu bytes)",
				     (unsigned long long)offset, (unsigned long long)length,
				     (unsigned long long)m->size);
	if (!length)
		return 0;
	if (length >= READ_RANGE_POOLED)
		return read_range_pooled(repo, m, offset, end, sink, payload);
	for (i = mvm_manifest_chunk_at(m, offset); i < m->nchunks && m->chunk_offsets[i] < end && !error; i++) {
		uint64_t cs = m->chunk_offsets[i], ce = cs + m->chunks[i].len;
		uint64_t lo = offset > cs ? offset : cs, hi = end < ce ? end : ce;

		if ((error = mvm_store_get(&chunk, repo->store, &m->chunks[i].id)) < 0 ||
		    (error = verify_chunk(&m->chunks[i], &chunk)) < 0)
			break;
		error = sink(chunk.ptr + (lo - cs), (size_t)(hi - lo), payload);
	}
	mvm_buf_dispose(&chunk);
	return error;
}

static int file_sink(const void *p, size_t n, void *payload)
{
	if (fwrite(p, 1, n, payload) != n)
		return mvm_error_set(MVM_ERROR, "cannot write output");
	return 0;
}

int mvm_file_write_range(FILE *out, mvm_repo *repo, const mvm_manifest *m, uint64_t offset, uint64_t length)
{
	return mvm_manifest_read_range(repo, m, offset, length, file_sink, out);
}
