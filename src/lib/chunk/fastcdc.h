/*
 * fastcdc.h: FastCDC content-defined chunking with normalized chunk sizes
 * (Xia et al., USENIX ATC'16): a gear rolling hash, a stricter mask before
 * the average size and a looser one after it.
 */
#ifndef MVM_CHUNK_FASTCDC_H
#define MVM_CHUNK_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

#define MVM_CDC_MIN (16u * 1024)
#define MVM_CDC_AVG (64u * 1024)
#define MVM_CDC_MAX (256u * 1024)

typedef struct {
	size_t min, avg, max;
	uint64_t mask_s, mask_l;
} mvm_cdc;

/** avg must be a power of two with min < avg < max. */
void mvm_cdc_init(mvm_cdc *cdc, size_t min, size_t avg, size_t max);

/*
 * Length of the chunk that starts at p. `n` is how many bytes are
 * available; pass at least cdc->max bytes unless p + n is the end of the
 * segment, because the result never exceeds n. Returns n when n <= min.
 */
size_t mvm_cdc_cut(const mvm_cdc *cdc, const uint8_t *p, size_t n);

#endif
