/*
 * zip.h: the entries of a zip archive, from its central directory (zip64
 * included), as PyTorch's torch.save writes them.
 */
#ifndef MVM_FORMAT_ZIP_H
#define MVM_FORMAT_ZIP_H

#include <stddef.h>
#include <stdint.h>
#include "format/tensor.h"

typedef struct {
	char *name;        /* owned, NUL-terminated */
	uint64_t offset;   /* absolute offset of the entry's bytes (after its local header) */
	uint64_t size;     /* bytes as stored */
	int stored;        /* stored as is (method 0): the bytes are the entry's content */
} mvm_zip_entry;

/*
 * Read the archive's entries. An entry's offset is read from its local
 * header only when `want` is NULL or returns 1 for its name.
 * @return 0, or MVM_EFORMAT ("NAME: problem") when this is not a zip
 *         archive mvm can read.
 */
int mvm_zip_entries(mvm_zip_entry **out, size_t *count, const char *name, uint64_t file_size,
		    mvm_read_fn read, void *ctx, int (*want)(const char *entry));
void mvm_zip_entries_free(mvm_zip_entry *e, size_t count);

#endif
