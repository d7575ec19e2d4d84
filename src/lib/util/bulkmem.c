/*
 * bulkmem.c: huge-page backed buffers for bulk data (see bulkmem.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "bulkmem.h"

#define BULK_PAGE (2u << 20)

void *mvm_bulk_alloc(size_t n)
{
	void *p;

	if (n > SIZE_MAX - BULK_PAGE)
		return NULL;
	n = (n + BULK_PAGE - 1) & ~(size_t)(BULK_PAGE - 1);
	if (posix_memalign(&p, BULK_PAGE, n))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, n, MADV_HUGEPAGE); /* only advice: ordinary pages do as well, just slower */
#endif
	return p;
}
