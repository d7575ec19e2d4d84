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
/** Write m's bytes to abs (temp file, every chunk checked against its id, fsync, rename); fills st_out. */
int mvm_restore_file(struct stat *st_out, mvm_restore *r, const mvm_manifest *m, const char *abs,
		     const char *rel, uint32_t mode);

/* Receives the decoded bytes of mvm_restore_read, in order. */
typedef int (*mvm_restore_sink)(const unsigned char *p, size_t n, void *payload);

/*
 * Decode chunks [first, last) of m, in batches on the pool as a checkout
 * does, every chunk checked against its id, and hand their bytes in file
 * order to sink; errors name `name`.
 */
int mvm_restore_read(mvm_restore *r, const mvm_manifest *m, size_t first, size_t last, const char *name,
		     mvm_restore_sink sink, void *payload);

/*
 * The same in three steps, so a caller writing many files can write a
 * group, make it durable at once, then move it into place (20k small
 * files written and synced one at a time: most of a checkout's time).
 */
typedef struct {
	const char *abs, *rel;        /* the caller's, valid until disposed */
	mvm_buf tmp;                  /* ".<name>.mvm-tmp-<pid>" beside abs */
	int fd;                       /* open until synced */
	int created;                  /* the temp file exists (unlinked by dispose) */
	uint32_t mode;
} mvm_restore_temp;

/** Write m's bytes to a temp file beside abs, every chunk checked against its id; t is set up even on error. */
int mvm_restore_write(mvm_restore_temp *t, mvm_restore *r, const mvm_manifest *m, const char *abs,
		      const char *rel, uint32_t mode);
/** Set the modes of n written files and make them durable (see restore.c); closes them. */
int mvm_restore_sync_many(mvm_restore_temp *const *t, size_t n);
/** Rename it over abs; fills st_out. */
int mvm_restore_place(struct stat *st_out, mvm_restore_temp *t);
/** Close and delete what is left of it. */
void mvm_restore_temp_dispose(mvm_restore_temp *t);

#endif
