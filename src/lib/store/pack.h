/*
 * pack.h: pack files, the immutable containers of stored chunks.
 *
 *   header   "MVMPACK\0" u32 version=1 u32 flags=0            16 bytes
 *   chunks   stored bytes, back to back
 *   index    count entries sorted by id, 52 bytes each:
 *            id[32] u64 offset u32 stored_len u32 raw_len u32 codec
 *   trailer  u64 index_offset u64 count sha256(index)[32] "MVMPEND\0"
 *
 * All integers little-endian. The pack's name is pack-<hex sha256(index)>.
 * See docs/FORMAT.md.
 */
#ifndef MVM_STORE_PACK_H
#define MVM_STORE_PACK_H

#include <stddef.h>
#include <stdint.h>
#include "mvm/common.h"

#define MVM_PACK_HEADER_SIZE 16
#define MVM_PACK_ENTRY_SIZE 52
#define MVM_PACK_TRAILER_SIZE 56
#define MVM_PACK_MAX_RAW (64u << 20)     /* largest raw chunk a reader accepts */
#define MVM_PACK_TARGET (64u << 20)      /* a writer starts a new pack past this */

typedef struct {
	mvm_oid id;
	uint64_t offset;
	uint32_t stored_len, raw_len, codec;
	int has_base;     /* in memory only: codec 3 chunks name their base */
	mvm_oid base;
} mvm_pack_entry;

/** Fill the 16-byte header. */
void mvm_pack_header(unsigned char out[MVM_PACK_HEADER_SIZE]);

/*
 * Parse and verify a pack's index from its last bytes. `tail` holds the
 * final `tail_len` bytes of a pack of `file_size` bytes (the reader passes
 * at least index + trailer). Checks magic, checksum, sort order, codecs and
 * that every chunk lies inside the chunk area. Allocates *out (caller frees).
 */
int mvm_pack_index_parse(mvm_pack_entry **out, size_t *count, const unsigned char *tail,
			 size_t tail_len, uint64_t file_size);

/** Bytes of index + trailer to read, from the trailer (last 56 bytes). */
int mvm_pack_tail_size(uint64_t *out, const unsigned char trailer[MVM_PACK_TRAILER_SIZE],
		       uint64_t file_size);

/** Encode sorted entries plus trailer into *out (caller frees); returns the index sha. */
int mvm_pack_index_encode(unsigned char **out, size_t *out_len, mvm_oid *index_sha,
			  const mvm_pack_entry *entries, size_t count, uint64_t index_offset);

/** Read and verify the whole index of an open pack file. */
int mvm_pack_read_index(mvm_pack_entry **out, size_t *count, int fd, const char *name);

int mvm_pack_entry_cmp(const void *a, const void *b);

#endif
