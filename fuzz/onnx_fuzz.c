/*
 * onnx_fuzz.c: the ONNX parser (protobuf fields walked through a buffered
 * reader) must never crash or leak, whatever the bytes, and a table it
 * returns keeps its promises (in bounds, sorted, no overlap, named).
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

	if (mvm_onnx_parse(&t, "fuzz.onnx", size, mvm_mem_read, &m) == 0)
		check_table(&t, size);
	mvm_tensor_table_dispose(&t);
	return 0;
}
