/*
 * pickle.h: the tensor storages a torch.save pickle (data.pkl) names,
 * read without executing anything (pickle.c).
 */
#ifndef MVM_FORMAT_PICKLE_H
#define MVM_FORMAT_PICKLE_H

#include <stddef.h>
#include <stdint.h>
#include "format/tensor.h"

typedef struct {
	const char *dtype;            /* "F32", "BF16", ... (static) */
	const unsigned char *key;     /* the storage's key (its entry is PREFIX/data/KEY), in the pickle's bytes */
	size_t key_len;
	uint64_t numel;               /* elements */
	char *name;                   /* owned: the first tensor on it with a name, by its keys; or NULL */
	uint32_t ndim;                /* that tensor's shape when it covers the storage, else 0 */
	uint64_t shape[MVM_TENSOR_MAXDIM];
} mvm_torch_storage;

/*
 * The storages the pickle p[0, n) loads, each key once, in load order.
 * @return 0, or -1 when it is not a pickle this reads (or memory ran out).
 */
int mvm_pickle_storages(mvm_torch_storage **out, size_t *count, const unsigned char *p, size_t n);
void mvm_pickle_storages_free(mvm_torch_storage *s, size_t count);

/* A key and what it belongs to, sorted with these to find equal keys. */
typedef struct {
	const unsigned char *p;
	size_t len, idx;
} mvm_keyref;

int mvm_keyref_cmp(const void *a, const void *b);        /* by bytes */
int mvm_keyref_cmp_index(const void *a, const void *b);  /* by bytes, then idx */

#endif
