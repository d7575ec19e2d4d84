/*
 * table_check.h: what every tensor table a parser returns must keep, for
 * the fuzz targets of the torch, NumPy and ONNX parsers: named (not empty,
 * at most 65535 bytes), the shape's size in bytes, inside the file,
 * sorted and not overlapping. abort() otherwise.
 */
#ifndef MVM_FUZZ_TABLE_CHECK_H
#define MVM_FUZZ_TABLE_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "format/tensor.h"

static void check_table(const mvm_tensor_table *t, size_t size)
{
	size_t i;

	for (i = 0; i < t->count; i++) {
		const mvm_tensor_info *ti = &t->tensors[i];
		uint64_t n;

		if (!ti->name || !ti->name[0] || strlen(ti->name) > UINT16_MAX ||
		    mvm_shape_elements(&n, ti->shape, ti->ndim) < 0 || n * mvm_dtype_size(ti->dtype) != ti->length ||
		    ti->offset < t->data_start || ti->offset + ti->length > size ||
		    (i && ti->offset < t->tensors[i - 1].offset + t->tensors[i - 1].length))
			abort();
	}
}

#endif
