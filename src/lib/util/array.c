/*
 * array.c: growable arrays (array.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/common.h"
#include "array.h"

int mvm_array_reserve(void *items, size_t *cap, size_t n, size_t elem_size)
{
	void *p;

	if (n <= *cap)
		return 0;
	memcpy(&p, items, sizeof(p));
	if (n > SIZE_MAX / elem_size || !(p = realloc(p, n * elem_size)))
		return mvm_error_set(MVM_ERROR, "out of memory");
	memcpy(items, &p, sizeof(p));
	*cap = n;
	return 0;
}

int mvm_array_grow(void *items, size_t *cap, size_t count, size_t elem_size, size_t first)
{
	return count < *cap ? 0 : mvm_array_reserve(items, cap, *cap ? *cap * 2 : first, elem_size);
}
