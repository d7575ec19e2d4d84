/*
 * statcache.h: the status cache (.mvm/status-cache): what `mvm status`
 * reads from the database, kept with a stamp of the database files, so
 * that a status on an unchanged repository need not open SQLite.
 */
#ifndef MVM_REPO_STATCACHE_H
#define MVM_REPO_STATCACHE_H

#include "mvm/worktree.h"
#include "repo_internal.h"

/*
 * mvm.db and mvm.db-wal as stat(2) found them (all zero for a missing
 * file), the boot they were seen in and the schema this build reads: a
 * cache is used only under the very same stamp.
 */
typedef struct {
	struct {
		uint64_t ino, size;
		int64_t mtime_ns, ctime_ns;
	} file[2];
	char boot[40];                /* /proc/sys/kernel/random/boot_id */
	uint32_t schema, unused;      /* mvm_db_schema_version() */
} mvm_dbstamp;

/** Stat the database files. */
int mvm_dbstamp_take(mvm_dbstamp *out, const mvm_repo *repo);

/*
 * Whether a cache may be saved under this stamp. Every later write to the
 * files must change it: their times are older than the clock's current
 * tick by two of the steps the file system keeps times in (a second on
 * some). And the WAL holds no frames: frames a killed writer left behind,
 * unseen by the live connections, would come back at the next recovery
 * without a write. Ask while holding SQLite's write lock, after the stamp.
 */
int mvm_dbstamp_cacheable(const mvm_dbstamp *s);

/*
 * Cache the database's part of a status: HEAD, the staged list and the
 * stage rows (their stat data; not their manifests). Best effort: a
 * failure leaves the old cache or none.
 */
void mvm_statcache_save(const mvm_repo *repo, const mvm_dbstamp *s, const mvm_status *st,
			const mvm_stage_entry *stage, size_t n);

/*
 * The cached part of a status and its stage rows (manifests zero), when
 * the cache's stamp is the database files' stamp now; else MVM_ENOTFOUND.
 */
int mvm_statcache_load(mvm_status **st, mvm_stage_entry **stage, size_t *n, const mvm_repo *repo);

/** A cache file's bytes, whatever its stamp (fuzzed); MVM_ECORRUPT when they are not a whole cache. */
int mvm_statcache_parse(mvm_dbstamp *stamp, mvm_status **st, mvm_stage_entry **stage, size_t *n, const void *buf,
			size_t len);

#endif
