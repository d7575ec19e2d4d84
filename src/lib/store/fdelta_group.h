/*
 * fdelta_group.h: codec 4's shuffles between chunk order and class order
 * (fdelta_group.c), shared with the codec (fdelta.c).
 */
#ifndef MVM_STORE_FDELTA_GROUP_H
#define MVM_STORE_FDELTA_GROUP_H

#include <stddef.h>
#include <stdint.h>

#define FD_MAX_CLASSES 8
#define FD_SLACK 64 /* bytes the AVX-512 paths may touch past a scratch array */
#define FD_GAP 32   /* elements between the classes' runs of grouped deltas */

/*
 * g = d with the elements of class k at g + gs[k], in order
 * (runs FD_GAP apart; g needs FD_SLACK bytes past the last run); and back
 * from runs that start at start[k].
 */
void mvm_fdelta_group(uint16_t *g, const uint16_t *d, const unsigned char *cls, size_t count,
		      const size_t gs[FD_MAX_CLASSES], const size_t counts[FD_MAX_CLASSES]);
void mvm_fdelta_ungroup(uint16_t *d, const uint16_t *g, const unsigned char *cls, size_t count,
			const size_t start[FD_MAX_CLASSES + 1], unsigned int classes);

#endif
