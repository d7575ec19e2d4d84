/*
 * fdelta_group.c: codec 4's element shuffles between chunk order and
 * class order (see fdelta.c): the 16-bit deltas grouped by class. The
 * portable paths are scalar with two independent chains of position
 * updates; on CPUs with AVX-512 VBMI2 (checked at run time) grouping uses
 * compress/expand.
 */
#include <stdint.h>
#include <string.h>

#include "util/cpu.h"
#include "fdelta.h"
#include "fdelta_group.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/*
 * g = d with the elements of class k at g + gs[k], in order (the classes'
 * runs are FD_GAP apart, for group_avx512). Elements from the front fill
 * each class upwards and from the back downwards, meeting where the class
 * ends: two independent chains of position updates instead of one.
 */
static void group(uint16_t *g, const uint16_t *d, const unsigned char *cls, size_t count,
		  const size_t gs[FD_MAX_CLASSES], const size_t counts[FD_MAX_CLASSES])
{
	size_t up[FD_MAX_CLASSES], down[FD_MAX_CLASSES], i, j;
	unsigned int k;

	for (k = 0; k < FD_MAX_CLASSES; k++) {
		up[k] = gs[k];
		down[k] = gs[k] + counts[k] - 1;
	}
	for (i = 0, j = count - 1; i < j; i++, j--) {
		g[up[cls[i]]++] = d[i];
		g[down[cls[j]]--] = d[j];
	}
	if (i == j)
		g[up[cls[i]]] = d[i];
}

static void ungroup(uint16_t *d, const uint16_t *g, const unsigned char *cls, size_t count,
		    const size_t start[FD_MAX_CLASSES + 1], unsigned int classes)
{
	size_t up[FD_MAX_CLASSES], down[FD_MAX_CLASSES], i, j;
	unsigned int k;

	for (k = 0; k < classes; k++) {
		up[k] = start[k];
		down[k] = start[k + 1] - 1;
	}
	for (i = 0, j = count - 1; i < j; i++, j--) {
		d[i] = g[up[cls[i]]++];
		d[j] = g[down[cls[j]]--];
	}
	if (i == j)
		d[i] = g[up[cls[i]]];
}

/*
 * group() and ungroup() with AVX-512 (VBMI2 compress and expand), picked
 * at run time where the CPU has it.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define FD_AVX512 1
#define AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt")))

AVX512_TARGET static inline __mmask32 first_lanes(size_t n)
{
	return (__mmask32)(n >= 32 ? 0xffffffffu : (1u << n) - 1);
}

/*
 * 32 elements a step, each class's compressed into its run with a full
 * store: the lanes past the run's end land in the gap after it and are
 * overwritten by the next step (or left in the gap).
 */
AVX512_TARGET static void group_avx512(uint16_t *g, const uint16_t *d, const unsigned char *cls, size_t count,
				       const size_t gs[FD_MAX_CLASSES], const size_t counts[FD_MAX_CLASSES])
{
	size_t a0 = gs[0], a1 = gs[1], a2 = gs[2], a3 = gs[3], a4 = gs[4], a5 = gs[5], a6 = gs[6], a7 = gs[7], i;

	(void)counts;
	for (i = 0; i < count; i += 32) {
		__mmask32 live = first_lanes(count - i);
		__m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(cls + i));
		__m512i w = _mm512_loadu_si512((const void *)(d + i));
#define COMPRESS1(k)                                                                                     \
	do {                                                                                             \
		__mmask32 m = _mm256_mask_cmpeq_epi8_mask(live, c, _mm256_set1_epi8((char)(k)));        \
		_mm512_storeu_si512((void *)(g + a##k), _mm512_maskz_compress_epi16(m, w));              \
		a##k += (unsigned int)_mm_popcnt_u32(m);                                                 \
	} while (0)
		COMPRESS1(0);
		COMPRESS1(1);
		COMPRESS1(2);
		COMPRESS1(3);
		COMPRESS1(4);
		COMPRESS1(5);
		COMPRESS1(6);
		COMPRESS1(7);
#undef COMPRESS1
	}
}

/* 32 elements a step, each class's next ones expanded into place (reads up to FD_SLACK past g's end). */
AVX512_TARGET static void ungroup_avx512(uint16_t *d, const uint16_t *g, const unsigned char *cls, size_t count,
					 const size_t start[FD_MAX_CLASSES + 1], unsigned int classes)
{
	size_t at[FD_MAX_CLASSES], i;
	unsigned int k;

	for (k = 0; k < classes; k++)
		at[k] = start[k];
	for (i = 0; i < count; i += 32) {
		__mmask32 live = first_lanes(count - i);
		__m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(cls + i));
		__m512i w = _mm512_setzero_si512();
		for (k = 0; k < classes; k++) {
			__mmask32 m = _mm256_mask_cmpeq_epi8_mask(live, c, _mm256_set1_epi8((char)k));
			w = _mm512_mask_expand_epi16(w, m, _mm512_loadu_si512((const void *)(g + at[k])));
			at[k] += (unsigned int)_mm_popcnt_u32(m);
		}
		_mm512_mask_storeu_epi16(d + i, live, w);
	}
}
#endif

void mvm_fdelta_group(uint16_t *g, const uint16_t *d, const unsigned char *cls, size_t count,
		      const size_t gs[FD_MAX_CLASSES], const size_t counts[FD_MAX_CLASSES])
{
#ifdef FD_AVX512
	if (mvm_cpu_avx512()) {
		group_avx512(g, d, cls, count, gs, counts);
		return;
	}
#endif
	group(g, d, cls, count, gs, counts);
}

void mvm_fdelta_ungroup(uint16_t *d, const uint16_t *g, const unsigned char *cls, size_t count,
			const size_t start[FD_MAX_CLASSES + 1], unsigned int classes)
{
#ifdef FD_AVX512
	if (mvm_cpu_avx512()) {
		ungroup_avx512(d, g, cls, count, start, classes);
		return;
	}
#endif
	ungroup(d, g, cls, count, start, classes);
}
