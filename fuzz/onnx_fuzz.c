/*
 * onnx_fuzz.c: the ONNX parser (protobuf fields walked through a buffered
 * reader) must never crash or leak, whatever the bytes, and a table it
 * returns keeps its promises (in bounds, sorted, no overlap, named).
 */
#include <stdint.h>
#include <stdlib.h>

#include "format/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const mvm_tensor_table *t, size_t size)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		const mvm_tensor_info *ti = &t->tensors[i];
		uint64_t n = mvm_dtype_size(ti->dtype);
		uint32_t d;

		for (d = 0; d < ti->ndim; d++)
			n *= ti->shape[d];
		if (!ti->name || !ti->name[0] || n != ti->length || ti->offset < t->data_start ||
		    ti->offset + ti->length > size ||
		    (i && ti->offset < t->tensors[i - 1].offset + t->tensors[i - 1].length))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_tensor_table t = MVM_TENSOR_TABLE_INIT;
	mvm_mem_reader m = { data, size };

	if (mvm_onnx_parse(&t, "fuzz.onnx", size, mvm_mem_read, &m) == 0)
		check(&t, size);
	mvm_tensor_table_dispose(&t);
	return 0;
}
