/*
 * pack.c: encoding and verification of pack headers, indexes and trailers.
 * Everything read from disk is treated as untrusted (fuzzed: fuzz/packidx_fuzz.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/bytes.h"
#include "util/fs.h"
#include "util/hash.h"
#include "pack.h"
#include "codec.h"

static const char pack_magic[8] = "MVMPACK";
static const char end_magic[8] = "MVMPEND";

void mvm_pack_header(unsigned char out[MVM_PACK_HEADER_SIZE])
{
	memcpy(out, pack_magic, 8);
	mvm_put_le32(out + 8, 1);
	mvm_put_le32(out + 12, 0);
}

int mvm_pack_entry_cmp(const void *a, const void *b)
{
	return mvm_oid_cmp(&((const mvm_pack_entry *)a)->id, &((const mvm_pack_entry *)b)->id);
}

int mvm_pack_tail_size(uint64_t *out, const unsigned char trailer[MVM_PACK_TRAILER_SIZE],
		       uint64_t file_size)
{
	uint64_t index_offset = mvm_le64(trailer), count = mvm_le64(trailer + 8);

	if (file_size < MVM_PACK_HEADER_SIZE + MVM_PACK_TRAILER_SIZE ||
	    memcmp(trailer + 48, end_magic, 8) != 0)
		return mvm_error_set(MVM_ECORRUPT, "pack has no valid trailer");
	if (index_offset < MVM_PACK_HEADER_SIZE ||
	    count > (file_size - MVM_PACK_TRAILER_SIZE) / MVM_PACK_ENTRY_SIZE ||
	    index_offset + count * MVM_PACK_ENTRY_SIZE + MVM_PACK_TRAILER_SIZE != file_size)
		return mvm_error_set(MVM_ECORRUPT, "pack trailer gives an index that does not fit the file");
	*out = file_size - index_offset;
	return 0;
}

static int check_entry(const mvm_pack_entry *e, const mvm_pack_entry *prev, uint64_t index_offset)
{
	if (prev && mvm_oid_cmp(&prev->id, &e->id) >= 0)
		return mvm_error_set(MVM_ECORRUPT, "pack index is not sorted");
	if (e->codec >= MVM_CODEC_COUNT)
		return mvm_error_set(MVM_ECORRUPT, "pack index names unknown codec %u", e->codec);
	if (e->raw_len > MVM_PACK_MAX_RAW || e->stored_len > mvm_codec_bound(e->raw_len))
		return mvm_error_set(MVM_ECORRUPT, "pack index entry has impossible lengths");
	if (e->offset < MVM_PACK_HEADER_SIZE || e->offset > index_offset ||
	    e->stored_len > index_offset - e->offset)
		return mvm_error_set(MVM_ECORRUPT, "pack index entry points outside the chunk area");
	return 0;
}

int mvm_pack_index_parse(mvm_pack_entry **out, size_t *count, const unsigned char *tail,
			 size_t tail_len, uint64_t file_size)
{
	const unsigned char *trailer, *idx;
	mvm_pack_entry *entries = NULL;
	uint64_t need, index_offset, n, i;
	mvm_oid sha;
	int error;

	*out = NULL;
	*count = 0;
	if (tail_len < MVM_PACK_TRAILER_SIZE || tail_len > file_size)
		return mvm_error_set(MVM_ECORRUPT, "pack is too short for a trailer");
	trailer = tail + tail_len - MVM_PACK_TRAILER_SIZE;
	if ((error = mvm_pack_tail_size(&need, trailer, file_size)) < 0)
		return error;
	if (need > tail_len)
		return mvm_error_set(MVM_ECORRUPT, "pack index is larger than the bytes given");
	index_offset = mvm_le64(trailer);
	n = mvm_le64(trailer + 8);
	idx = trailer - n * MVM_PACK_ENTRY_SIZE;
	if ((error = mvm_sha256_buf(&sha, idx, (size_t)(n * MVM_PACK_ENTRY_SIZE))) < 0)
		return error;
	if (memcmp(sha.id, trailer + 16, MVM_OID_RAWSZ) != 0)
		return mvm_error_set(MVM_ECORRUPT, "pack index checksum does not match");
	if (n && !(entries = malloc((size_t)n * sizeof(*entries))))
		return mvm_error_set(MVM_ERROR, "out of memory for a pack index");
	for (i = 0; i < n; i++) {
		const unsigned char *p = idx + i * MVM_PACK_ENTRY_SIZE;
		mvm_pack_entry *e = &entries[i];

		memcpy(e->id.id, p, MVM_OID_RAWSZ);
		e->offset = mvm_le64(p + 32);
		e->stored_len = mvm_le32(p + 40);
		e->raw_len = mvm_le32(p + 44);
		e->codec = mvm_le32(p + 48);
		e->has_base = 0;
		if ((error = check_entry(e, i ? e - 1 : NULL, index_offset)) < 0) {
			free(entries);
			return error;
		}
	}
	*out = entries;
	*count = (size_t)n;
	return 0;
}

int mvm_pack_index_encode(unsigned char **out, size_t *out_len, mvm_oid *index_sha,
			  const mvm_pack_entry *entries, size_t count, uint64_t index_offset)
{
	size_t len = count * MVM_PACK_ENTRY_SIZE + MVM_PACK_TRAILER_SIZE, i;
	unsigned char *buf, *t;
	int error;

	if (!(buf = malloc(len)))
		return mvm_error_set(MVM_ERROR, "out of memory for a pack index");
	for (i = 0; i < count; i++) {
		unsigned char *p = buf + i * MVM_PACK_ENTRY_SIZE;
		memcpy(p, entries[i].id.id, MVM_OID_RAWSZ);
		mvm_put_le64(p + 32, entries[i].offset);
		mvm_put_le32(p + 40, entries[i].stored_len);
		mvm_put_le32(p + 44, entries[i].raw_len);
		mvm_put_le32(p + 48, entries[i].codec);
	}
	if ((error = mvm_sha256_buf(index_sha, buf, count * MVM_PACK_ENTRY_SIZE)) < 0) {
		free(buf);
		return error;
	}
	t = buf + count * MVM_PACK_ENTRY_SIZE;
	mvm_put_le64(t, index_offset);
	mvm_put_le64(t + 8, count);
	memcpy(t + 16, index_sha->id, MVM_OID_RAWSZ);
	memcpy(t + 48, end_magic, 8);
	*out = buf;
	*out_len = len;
	return 0;
}

int mvm_pack_read_index(mvm_pack_entry **out, size_t *count, int fd, const char *name)
{
	unsigned char head[MVM_PACK_HEADER_SIZE], trailer[MVM_PACK_TRAILER_SIZE], *tail = NULL;
	uint64_t need;
	struct stat st;
	int error;

	if (fstat(fd, &st) < 0)
		return mvm_error_set(MVM_ERROR, "cannot stat pack %s", name);
	if ((uint64_t)st.st_size < MVM_PACK_HEADER_SIZE + MVM_PACK_TRAILER_SIZE)
		return mvm_error_set(MVM_ECORRUPT, "pack %s is truncated", name);
	if ((error = mvm_fs_pread_all(fd, head, sizeof(head), 0, name)) < 0 ||
	    (error = mvm_fs_pread_all(fd, trailer, sizeof(trailer),
				      (uint64_t)st.st_size - MVM_PACK_TRAILER_SIZE, name)) < 0)
		return error;
	if (memcmp(head, pack_magic, 8) != 0 || mvm_le32(head + 8) != 1)
		return mvm_error_set(MVM_ECORRUPT, "pack %s has a bad header", name);
	if ((error = mvm_pack_tail_size(&need, trailer, (uint64_t)st.st_size)) < 0)
		return mvm_error_wrap(error, "pack %s", name);
	if (!(tail = malloc((size_t)need)))
		return mvm_error_set(MVM_ERROR, "out of memory for pack index of %s", name);
	if ((error = mvm_fs_pread_all(fd, tail, (size_t)need, (uint64_t)st.st_size - need, name)) == 0 &&
	    (error = mvm_pack_index_parse(out, count, tail, (size_t)need, (uint64_t)st.st_size)) < 0)
		error = mvm_error_wrap(error, "pack %s", name);
	free(tail);
	return error;
}
