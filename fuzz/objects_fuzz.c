/*
 * objects_fuzz.c: the manifest, tree and version decoders (the first byte
 * picks one) must never crash or leak on any input; a version-2 tree that
 * decodes encodes to the very same bytes (one tree, one encoding, one id).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void tree_round_trip(const mvm_tree *t, const uint8_t *data, size_t size)
{
	mvm_buf a = MVM_BUF_INIT;

	if (mvm_tree_encode(&a, t) < 0 || a.size != size || memcmp(a.ptr, data, size))
		abort();
	mvm_buf_dispose(&a);
}

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
		if (mvm_tree_decode(&t, data + 1, size - 1) == 0) {
			if (data[5] == 2) /* version 1 lists whole paths: read, never written */
				tree_round_trip(t, data + 1, size - 1);
			mvm_tree_free(t);
		}
		break;
	default:
		if (mvm_version_decode(&v, data + 1, size - 1) == 0)
			mvm_version_free(v);
	}
	return 0;
}
