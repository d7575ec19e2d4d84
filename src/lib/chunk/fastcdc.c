/*
 * fastcdc.c: FastCDC cut-point search. The gear table is fixed (derived
 * from a splitmix64 sequence) because chunk boundaries are part of the
 * repository format: changing it would break dedup against old versions.
 */
#include <pthread.h>

#include "fastcdc.h"

static uint64_t gear[256];

static void gear_init(void)
{
	uint64_t x = 0x6d766d2d67656172ull; /* "mvm-gear" */
	int i;

	for (i = 0; i < 256; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		gear[i] = z ^ (z >> 31);
	}
}

static int bits_of(size_t v)
{
	int b = 0;

	while (v > 1) {
		v >>= 1;
		b++;
	}
	return b;
}

/* A mask with `n` one bits spread over the top 48 bits of the hash. */
static uint64_t spread_mask(int n)
{
	uint64_t m = 0;
	int i;

	for (i = 0; i < n; i++)
		m |= 1ull << (63 - i * 47 / (n > 1 ? n - 1 : 1));
	return m;
}

void mvm_cdc_init(mvm_cdc *cdc, size_t min, size_t avg, size_t max)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int b = bits_of(avg);

	pthread_once(&once, gear_init);
	cdc->min = min;
	cdc->avg = avg;
	cdc->max = max;
	/* normalization level 2: two more bits before avg, two fewer after */
	cdc->mask_s = spread_mask(b + 2);
	cdc->mask_l = spread_mask(b - 2);
}

size_t mvm_cdc_cut(const mvm_cdc *cdc, const uint8_t *p, size_t n)
{
	size_t i, normal = cdc->avg, end = n < cdc->max ? n : cdc->max;
	uint64_t h = 0;

	if (n <= cdc->min)
		return n;
	if (normal > end)
		normal = end;
	for (i = cdc->min; i < normal; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & cdc->mask_s))
			return i + 1;
	}
	for (; i < end; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & cdc->mask_l))
			return i + 1;
	}
	return end;
}
