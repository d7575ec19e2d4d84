/*
 * objects_fuzz.c: the manifest, tree and version decoders (the first byte
 * picks one) must never crash or leak on any input.
 */
#include <stdint.h>

#include "object/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_manifest *m = NULL;
	mvm_tree *t = NULL;
	mvm_version *v = NULL;

	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		if (mvm_manifest_decode(&m, data + 1, size - 1) == 0)
			mvm_manifest_free(m);
		break;
	case 1:
		if (mvm_tree_decode(&t, data + 1, size - 1) == 0)
			mvm_tree_free(t);
		break;
	default:
		if (mvm_version_decode(&v, data + 1, size - 1) == 0)
			mvm_version_free(v);
	}
	return 0;
}
