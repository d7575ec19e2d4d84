/*
 * safetensors_fuzz.c: mvm_safetensors_parse must never crash, leak or
 * return a table that breaks its promises (sorted, in bounds, no overlap).
 */
#include <stdint.h>
#include <stdlib.h>

#include "format/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	mvm_mem_reader m = { data, size };
	size_t i;

	if (mvm_safetensors_parse(&t, "fuzz.safetensors", size, mvm_mem_read, &m) == 0) {
		for (i = 0; i < t.count; i++) {
			const mvm_tensor_info *ti = &t.tensors[i];

			if (ti->offset < t.data_start || ti->offset + ti->length > size ||
			    (i && ti->offset < t.tensors[i - 1].offset + t.tensors[i - 1].length))
				abort();
		}
	}
	mvm_tensor_table_dispose(&t);
	/* the same bytes through the sniffing path of an unnamed file */
	if (mvm_format_parse(&t, "fuzz.bin", size, mvm_mem_read, &m) == 0)
		mvm_tensor_table_dispose(&t);
	return 0;
}
