/*
 * packidx_fuzz.c: mvm_pack_index_parse must never crash, leak or accept an
 * index that points outside its pack, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "store/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_pack_entry *entries = NULL;
	size_t count = 0, i;

	if (mvm_pack_index_parse(&entries, &count, data, size, size) == 0) {
		for (i = 0; i < count; i++)
			if (entries[i].offset + entries[i].stored_len > size)
				abort();
		free(entries);
	}
	return 0;
}
