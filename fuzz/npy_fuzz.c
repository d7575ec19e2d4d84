/*
 * npy_fuzz.c: the NumPy parsers (.npy header, .npz through the zip
 * directory) must never crash or leak, whatever the bytes, and a table
 * they return keeps its promises (in bounds, sorted, no overlap).
 */
#include <stdint.h>
#include <stdlib.h>

#include "format/tensor.h"
#include "table_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	mvm_mem_reader m = { data, size };

	if (mvm_npy_parse(&t, "fuzz.npy", size, mvm_mem_read, &m) == 0)
		check_table(&t, size);
	mvm_tensor_table_dispose(&t);
	if (mvm_npz_parse(&t, "fuzz.npz", size, mvm_mem_read, &m) == 0)
		check_table(&t, size);
	mvm_tensor_table_dispose(&t);
	return 0;
}
