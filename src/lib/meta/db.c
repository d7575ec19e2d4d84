/*
 * db.c: SQLite connection, schema migrations and small helpers. SQLite
 * errors become mvm errors here, once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

static const char *const migrations[] = {
	/* 1: the foundation schema */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE config(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE packs(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	"  size INTEGER NOT NULL, chunks INTEGER NOT NULL);"
	"CREATE TABLE chunks(id BLOB PRIMARY KEY, pack INTEGER NOT NULL,"
	"  offset INTEGER NOT NULL, stored_len INTEGER NOT NULL,"
	"  raw_len INTEGER NOT NULL, codec INTEGER NOT NULL, base BLOB) WITHOUT ROWID;"
	"CREATE INDEX chunks_by_pack ON chunks(pack);"
	"CREATE TABLE objects(id BLOB PRIMARY KEY, type INTEGER NOT NULL,"
	"  data BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE refs(name TEXT PRIMARY KEY, target BLOB NOT NULL,"
	"  message TEXT, time INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE stage(path TEXT PRIMARY KEY, manifest BLOB NOT NULL,"
	"  mode INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	"  ctime_ns INTEGER NOT NULL, ino INTEGER NOT NULL) WITHOUT ROWID;",
	/* 2: the audit log (hash-chained; docs/FORMAT.md) */
	"CREATE TABLE audit(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
	"  before TEXT, after TEXT, prev_hash BLOB NOT NULL, hash BLOB NOT NULL);",
	/* 3: the model registry */
	"CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
	"  description TEXT NOT NULL, created INTEGER NOT NULL, author TEXT NOT NULL,"
	"  archived INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE model_versions(model INTEGER NOT NULL, number INTEGER NOT NULL,"
	"  version BLOB NOT NULL, path TEXT, note TEXT, state TEXT NOT NULL,"
	"  created INTEGER NOT NULL, author TEXT NOT NULL,"
	"  PRIMARY KEY(model, number)) WITHOUT ROWID;"
	"CREATE TABLE model_metrics(model INTEGER NOT NULL, number INTEGER NOT NULL,"
	"  key TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY(model, number, key)) WITHOUT ROWID;"
	"CREATE TABLE model_aliases(model INTEGER NOT NULL, alias TEXT NOT NULL,"
	"  number INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(model, alias)) WITHOUT ROWID;"
	"CREATE TABLE model_states(id INTEGER PRIMARY KEY, model INTEGER NOT NULL,"
	"  number INTEGER NOT NULL, from_state TEXT NOT NULL, to_state TEXT NOT NULL,"
	"  time INTEGER NOT NULL, actor TEXT NOT NULL);",
	/* 4: change requests, gates, protected targets */
	"ALTER TABLE models ADD COLUMN approvals INTEGER NOT NULL DEFAULT 1;"
	"CREATE TABLE model_gates(id INTEGER PRIMARY KEY, model INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, rule TEXT NOT NULL);"
	"CREATE TABLE model_protect(model INTEGER NOT NULL, target TEXT NOT NULL,"
	"  approvals INTEGER NOT NULL, PRIMARY KEY(model, target)) WITHOUT ROWID;"
	"CREATE TABLE changes(id INTEGER PRIMARY KEY, model INTEGER NOT NULL,"
	"  number INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,"
	"  strategy TEXT, weight INTEGER, rollback_if TEXT, reason TEXT,"
	"  author TEXT NOT NULL, created INTEGER NOT NULL, state TEXT NOT NULL,"
	"  closed INTEGER, closed_by TEXT, close_reason TEXT, forced INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE change_approvals(change INTEGER NOT NULL, approver TEXT NOT NULL,"
	"  time INTEGER NOT NULL, PRIMARY KEY(change, approver)) WITHOUT ROWID;",
	/* 5: deployments */
	"CREATE TABLE deployments(model INTEGER NOT NULL, env TEXT NOT NULL, strategy TEXT NOT NULL,"
	"  stable INTEGER, candidate INTEGER, weight INTEGER NOT NULL, rollback_if TEXT,"
	"  updated INTEGER NOT NULL, PRIMARY KEY(model, env)) WITHOUT ROWID;"
	"CREATE TABLE deploy_history(id INTEGER PRIMARY KEY, model INTEGER NOT NULL, env TEXT NOT NULL,"
	"  time INTEGER NOT NULL, actor TEXT NOT NULL, event TEXT NOT NULL, stable_before INTEGER,"
	"  stable_after INTEGER, candidate INTEGER, weight INTEGER NOT NULL, detail TEXT);"
	"CREATE TABLE deploy_health(model INTEGER NOT NULL, env TEXT NOT NULL, number INTEGER NOT NULL,"
	"  key TEXT NOT NULL, value REAL NOT NULL, time INTEGER NOT NULL,"
	"  PRIMARY KEY(model, env, number, key)) WITHOUT ROWID;",
	/* 6: runs, metric series, datasets and lineage */
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,"
	"  author TEXT NOT NULL, started INTEGER NOT NULL, ended INTEGER, command TEXT, outputs TEXT,"
	"  exit_code INTEGER, host TEXT, code_commit TEXT, code_dirty INTEGER);"
	"CREATE TABLE run_params(run INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,"
	"  value TEXT NOT NULL, PRIMARY KEY(run, kind, key)) WITHOUT ROWID;"
	"CREATE TABLE run_metrics(run INTEGER NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,"
	"  value REAL NOT NULL, time INTEGER NOT NULL, PRIMARY KEY(run, key, step)) WITHOUT ROWID;"
	"CREATE TABLE run_inputs(run INTEGER NOT NULL, n INTEGER NOT NULL, version BLOB NOT NULL,"
	"  PRIMARY KEY(run, n)) WITHOUT ROWID;"
	"CREATE INDEX run_inputs_by_version ON run_inputs(version);"
	"CREATE TABLE version_info(version BLOB PRIMARY KEY, kind TEXT, run INTEGER) WITHOUT ROWID;"
	"CREATE INDEX version_info_by_run ON version_info(run);"
	"CREATE TABLE dataset_files(version BLOB NOT NULL, path TEXT NOT NULL, rows INTEGER NOT NULL,"
	"  PRIMARY KEY(version, path)) WITHOUT ROWID;",
	/*
	 * 7: objects as a rowid table. WITHOUT ROWID keeps whole rows in the
	 * key's B-tree, and SQLite reads a cell's whole payload to compare
	 * keys when it overflows a page: every lookup of a tree or version
	 * read the overflow chains of the manifests it passed (hundreds of KB
	 * for a GiB-sized model). Now the id index holds only ids.
	 */
	"CREATE TABLE objects_rowid(id BLOB PRIMARY KEY, type INTEGER NOT NULL, data BLOB NOT NULL);"
	"INSERT INTO objects_rowid(id, type, data) SELECT id, type, data FROM objects;"
	"DROP TABLE objects;"
	"ALTER TABLE objects_rowid RENAME TO objects;",
	/* 8: a plain file of one chunk is staged by its chunk, without a manifest object */
	"ALTER TABLE stage ADD COLUMN one_chunk INTEGER NOT NULL DEFAULT 0;",
	/*
	 * 9: no table changes. Writers add the ids they index to .mvm/chunks.filter
	 * (store/chunkfilter.c); an mvm from before would index chunks the filter then
	 * rules out, so it must refuse this schema.
	 */
	"",
};

#define SCHEMA_VERSION (int)(sizeof(migrations) / sizeof(migrations[0]))
#define BUSY_TIMEOUT_MS 30000 /* how long a statement waits for another writer */

int mvm_db_error(mvm_db *db, const char *what)
{
	int rc = sqlite3_errcode(db->sql);

	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return mvm_error_set(MVM_ELOCKED, "%s: repository database is busy (another mvm is writing); try again", what);
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		return mvm_error_set(MVM_ECORRUPT, "%s: metadata database %s is corrupt: %s", what, db->path,
				     sqlite3_errmsg(db->sql));
	return mvm_error_set(MVM_ERROR, "%s: %s", what, sqlite3_errmsg(db->sql));
}

int mvm_db_exec(mvm_db *db, const char *sql)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
		return mvm_db_error(db, "database");
	return 0;
}

int mvm_db_prepare(sqlite3_stmt **out, mvm_db *db, const char *sql)
{
	if (sqlite3_prepare_v2(db->sql, sql, -1, out, NULL) != SQLITE_OK)
		return mvm_db_error(db, "database");
	return 0;
}

int mvm_db_step_done(mvm_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return mvm_db_error(db, "database");
	return 0;
}

int mvm_db_step_row(mvm_db *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return mvm_db_error(db, "reading the database");
}

int mvm_db_begin(mvm_db *db)
{
	return mvm_db_exec(db, "BEGIN IMMEDIATE");
}

int mvm_db_begin_read(mvm_db *db)
{
	return mvm_db_exec(db, "BEGIN");
}

int mvm_db_try_begin(mvm_db *db, int wait_ms)
{
	int error;

	sqlite3_busy_timeout(db->sql, wait_ms);
	error = mvm_db_begin(db);
	sqlite3_busy_timeout(db->sql, BUSY_TIMEOUT_MS);
	return error;
}

int mvm_db_commit(mvm_db *db)
{
	return mvm_db_exec(db, "COMMIT");
}

int mvm_db_set_synced(mvm_db *db, int synced)
{
	return mvm_db_exec(db, synced ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

void mvm_db_rollback(mvm_db *db)
{
	if (db && !sqlite3_get_autocommit(db->sql))
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
}

int mvm_db_meta_get(mvm_buf *out, mvm_db *db, const char *key)
{
	sqlite3_stmt *st = NULL;
	int error, rc;

	if ((error = mvm_db_prepare(&st, db, "SELECT value FROM meta WHERE key = ?")) < 0)
		return error;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	mvm_buf_clear(out);
	if (rc == SQLITE_ROW)
		error = mvm_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
	else if (rc == SQLITE_DONE)
		error = mvm_error_set(MVM_ENOTFOUND, "no '%s' in repository metadata", key);
	else
		error = mvm_db_error(db, "reading metadata");
	sqlite3_finalize(st);
	return error;
}

int mvm_db_meta_set(mvm_db *db, const char *key, const char *value)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)")) < 0)
		return error;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	error = mvm_db_step_done(db, st);
	sqlite3_finalize(st);
	return error;
}

int mvm_db_bind_oid(sqlite3_stmt *st, int col, const mvm_oid *id)
{
	return sqlite3_bind_blob(st, col, id->id, MVM_OID_RAWSZ, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : MVM_ERROR;
}

int mvm_db_column_oid(mvm_oid *out, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_bytes(st, col) != MVM_OID_RAWSZ)
		return mvm_error_set(MVM_ECORRUPT, "metadata database holds an id that is not 32 bytes");
	memcpy(out->id, sqlite3_column_blob(st, col), MVM_OID_RAWSZ);
	return 0;
}

int mvm_db_schema_version(void)
{
	return SCHEMA_VERSION;
}

static int user_version(mvm_db *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int error;

	if ((error = mvm_db_prepare(&st, db, "PRAGMA user_version")) < 0)
		return error;
	if (sqlite3_step(st) != SQLITE_ROW)
		error = mvm_db_error(db, "reading schema version");
	else
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return error;
}

static int migrate(mvm_db *db)
{
	char sql[64];
	int version = 0, error;

	if ((error = user_version(db, &version)) < 0)
		return error;
	if (version > SCHEMA_VERSION)
		return mvm_error_set(MVM_ERROR, "repository schema %d is newer than this mvm (%d); upgrade mvm",
				     version, SCHEMA_VERSION);
	if (version == SCHEMA_VERSION)
		return 0;
	/* WAL mode is recorded in the file: set once, when a schema is made or changed, not on every open */
	if ((error = mvm_db_exec(db, "PRAGMA journal_mode=WAL")) < 0 || (error = mvm_db_begin(db)) < 0)
		return error;
	if ((error = user_version(db, &version)) < 0)
		goto done;
	for (; version < SCHEMA_VERSION; version++)
		if ((error = mvm_db_exec(db, migrations[version])) < 0)
			goto done;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
	if ((error = mvm_db_exec(db, sql)) < 0)
		goto done;
	error = mvm_db_commit(db);
done:
	if (error < 0)
		mvm_db_rollback(db);
	return error;
}

/*
 * No memory statistics: they take a global mutex on every allocation (~2%
 * of a `mvm status`). Opening writes no file metadata it does not change
 * (dbvfs.c).
 */
static void sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	mvm_db__setup_vfs();
}

int mvm_db_open(mvm_db **out, const char *path, int create)
{
	static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	mvm_db *db;
	int error;

	*out = NULL;
	pthread_once(&setup_once, sqlite_setup);
	if (!(db = calloc(1, sizeof(*db))) || !(db->path = strdup(path))) {
		free(db);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	if (sqlite3_open_v2(path, &db->sql, flags, NULL) != SQLITE_OK) {
		error = mvm_db_error(db, "opening metadata database");
		goto done;
	}
	sqlite3_busy_timeout(db->sql, BUSY_TIMEOUT_MS);
	/*
	 * The WAL and its index are kept when the last connection closes (the
	 * WAL truncated to 0 bytes, as a journal_size_limit asks): creating,
	 * sizing and unlinking both cost every command ~0.4 ms.
	 *
	 * The WAL is checkpointed when it reaches 64 MiB, not SQLite's 4 MiB:
	 * an add commits each pack's chunk rows on the thread that reads the
	 * files, and at 4 MiB a 4 GiB add checkpointed 16 times, each with a
	 * WAL and a database sync and a synced WAL header after it (51
	 * fdatasyncs, ~1 s of that thread's 5.5), while the pipeline waited.
	 * The last connection to close checkpoints what is left.
	 */
	sqlite3_file_control(db->sql, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){ 1 });
	if ((error = mvm_db_exec(db, "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=67108864; "
				     "PRAGMA wal_autocheckpoint=16384;")) < 0 ||
	    (error = migrate(db)) < 0)
		goto done;
	*out = db;
	db = NULL;
done:
	mvm_db_free(db);
	return error;
}

int mvm_db_open_reader(mvm_db **out, const mvm_db *main)
{
	mvm_db *db;
	int error;

	*out = NULL;
	if (!(db = calloc(1, sizeof(*db))) || !(db->path = strdup(main->path))) {
		free(db);
		return mvm_error_set(MVM_ERROR, "out of memory");
	}
	if (sqlite3_open_v2(db->path, &db->sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		error = mvm_db_error(db, "opening a reader of the metadata database");
		mvm_db_free(db);
		return error;
	}
	sqlite3_busy_timeout(db->sql, BUSY_TIMEOUT_MS);
	*out = db;
	return 0;
}

int mvm_db_in_transaction(const mvm_db *db)
{
	return !sqlite3_get_autocommit(db->sql);
}

void mvm_db_free(mvm_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->sql);
	free(db->path);
	free(db);
}
