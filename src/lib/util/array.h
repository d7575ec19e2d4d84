/*
 * array.h: growable arrays of any element type, held as (pointer, count,
 * capacity) by their owner.
 */
#ifndef MVM_UTIL_ARRAY_H
#define MVM_UTIL_ARRAY_H

#include <stddef.h>

/**
 * Make room for one more element: when `count` has reached `*cap`, the
 * array at `*items` (a `T **`) is reallocated to twice its capacity, or to
 * `first` elements the first time. 0, or MVM_ERROR when out of memory (the
 * array is then left as it was).
 */
int mvm_array_grow(void *items, size_t *cap, size_t count, size_t elem_size, size_t first);

/**
 * Make room for `n` elements in all: the array at `*items` (a `T **`) is
 * reallocated to exactly n when `*cap` is less, its elements kept. 0, or
 * MVM_ERROR when out of memory (the array is then left as it was).
 */
int mvm_array_reserve(void *items, size_t *cap, size_t n, size_t elem_size);

#endif
