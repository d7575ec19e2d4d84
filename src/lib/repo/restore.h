/*
 * restore.h: writing stored files into the working tree (checkout).
 */
#ifndef MVM_REPO_RESTORE_H
#define MVM_REPO_RESTORE_H

#include "util/seqfile.h"
#include <sys/stat.h>
#include "util/pool.h"
#include "repo_internal.h"

typedef struct {
	mvm_repo *repo;
	mvm_pool *pool;
	void *batches;
	mvm_seqfile out;
	mvm_progress_cb progress;
	void *payload;
	uint64_t done, total;
} mvm_restore;

int mvm_restore_init(mvm_restore *r, mvm_repo *repo);
void mvm_restore_dispose(mvm_restore *r);
/** Write m's bytes to abs (temp file, every chunk checked against its id, rename); fills st_out. */
int mvm_restore_file(struct stat *st_out, mvm_restore *r, const mvm_manifest *m, const char *abs,
		     const char *rel, uint32_t mode);

#endif
