/*
 * statcache_fuzz.c: the status cache's parser must never crash or leak,
 * whatever the bytes, and a cache it accepts keeps its promises: stage
 * rows in strictly increasing path order (status finds them by binary
 * search), staged changes of the three kinds, no path longer than the
 * bytes it came from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/statcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mvm_stage_entry *stage = NULL;
	mvm_status *st = NULL;
	mvm_dbstamp stamp;
	size_t n = 0, i;

	if (mvm_statcache_parse(&stamp, &st, &stage, &n, data, size) < 0) {
		if (st || stage || n)
			abort();
		return 0;
	}
	for (i = 0; i < n; i++)
		if (strlen(stage[i].path) >= size || (i && strcmp(stage[i - 1].path, stage[i].path) >= 0))
			abort();
	for (i = 0; i < st->nstaged; i++)
		if (!memchr("AMD", st->staged_change[i], 3) || strlen(st->staged[i]) >= size)
			abort();
	if (st->branch && strlen(st->branch) >= size)
		abort();
	mvm_status_free(st);
	mvm_stage_free(stage, n);
	return 0;
}
