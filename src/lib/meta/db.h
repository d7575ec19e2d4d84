/*
 * db.h: the repository's metadata database (SQLite, WAL mode).
 *
 * Tables: meta (schema version, format settings, HEAD), config, packs,
 * chunks (the global chunk index), objects (manifests, trees, versions),
 * refs, stage (the index of the next version, with its stat cache),
 * audit (the hash-chained log of mutations), the registry's tables and the
 * runs' (runs, run_params, run_metrics, run_inputs, version_info,
 * dataset_files; docs/FORMAT.md).
 * Schema changes go through numbered migrations in db.c.
 */
#ifndef MVM_META_DB_H
#define MVM_META_DB_H

#include <sqlite3.h>
#include "mvm/buf.h"
#include "mvm/common.h"

typedef struct mvm_db {
	sqlite3 *sql;
	char *path;
} mvm_db;

/** Open (creating when `create` is set) and migrate the database at path. */
int mvm_db_open(mvm_db **out, const char *path, int create);
/** The schema version this build makes and reads (PRAGMA user_version). */
int mvm_db_schema_version(void);
/* Replace two file calls of SQLite's unix VFS (dbvfs.c); once, before the first open. */
void mvm_db__setup_vfs(void);
void mvm_db_free(mvm_db *db);
/*
 * A read-only connection to the same database, for one thread at a time
 * (WAL: readers run beside each other and the writer). It sees committed
 * rows only.
 */
int mvm_db_open_reader(mvm_db **out, const mvm_db *main);
/** Whether a transaction is open on this connection (its rows are not visible to readers yet). */
int mvm_db_in_transaction(const mvm_db *db);

/** BEGIN IMMEDIATE: takes SQLite's write lock, waiting up to the busy timeout. */
int mvm_db_begin(mvm_db *db);
/**
 * BEGIN (deferred): the reads up to COMMIT see one snapshot, and take the
 * WAL's read lock once instead of once per statement.
 */
int mvm_db_begin_read(mvm_db *db);
/** BEGIN IMMEDIATE waiting at most wait_ms (for best-effort writes, such as a cache). */
int mvm_db_try_begin(mvm_db *db, int wait_ms);
int mvm_db_commit(mvm_db *db);
/**
 * Whether commits wait for the disk (the default; set only outside a
 * transaction). An unsynced commit is in the WAL but a crash may lose it;
 * the connection's next synced commit syncs every WAL frame before its
 * own, and frames are replayed in order, so a later transaction never
 * survives without it.
 */
int mvm_db_set_synced(mvm_db *db, int synced);
/** Roll back if a transaction is open; safe to call on error paths. */
void mvm_db_rollback(mvm_db *db);

/** Run SQL with no results. */
int mvm_db_exec(mvm_db *db, const char *sql);
/** Prepare a statement; errors name the SQL and SQLite's message. */
int mvm_db_prepare(sqlite3_stmt **out, mvm_db *db, const char *sql);
/*
 * Step a query: 1 with a row, 0 when done, or a negative error. Loops must
 * use this: an I/O or corruption error must never look like "no more rows"
 * (gc would then delete what it failed to mark).
 */
int mvm_db_step_row(mvm_db *db, sqlite3_stmt *st);
/** Step a statement expected to finish (INSERT/UPDATE/DELETE) and reset it. */
int mvm_db_step_done(mvm_db *db, sqlite3_stmt *st);
/** Translate the connection's last error into an mvm error naming `what`. */
int mvm_db_error(mvm_db *db, const char *what);

int mvm_db_meta_get(mvm_buf *out, mvm_db *db, const char *key);
int mvm_db_meta_set(mvm_db *db, const char *key, const char *value);

/** Bind/read a 32-byte id column. */
int mvm_db_bind_oid(sqlite3_stmt *st, int col, const mvm_oid *id);
int mvm_db_column_oid(mvm_oid *out, sqlite3_stmt *st, int col);

#endif
