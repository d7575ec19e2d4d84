/*
 * bulkmem.h: memory for the multi-megabyte buffers that bulk data streams
 * through (read batches, compressed chunks, pack write buffers).
 */
#ifndef MVM_UTIL_BULKMEM_H
#define MVM_UTIL_BULKMEM_H

#include <stddef.h>

/*
 * At least n bytes, aligned to 2 MiB (so also to any O_DIRECT block) and
 * backed by transparent huge pages where the kernel offers them, which
 * saves one page fault (and one TLB entry) per 4 KiB: a 1 GiB add took
 * 22k faults with malloc, 2k with these. NULL when n is 0 or huge or
 * memory is short. Release with mvm_bulk_free and the same n.
 */
void *mvm_bulk_alloc(size_t n);

/* Release p (NULL is fine), allocated by mvm_bulk_alloc(n); thread-safe. */
void mvm_bulk_free(void *p, size_t n);

#endif
