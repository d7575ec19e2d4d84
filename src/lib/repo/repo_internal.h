/*
 * repo_internal.h: the repository handle and helpers shared by repo ops.
 */
#ifndef MVM_REPO_INTERNAL_H
#define MVM_REPO_INTERNAL_H

#include <sys/stat.h>
#include "mvm/objects.h"
#include "mvm/repo.h"
#include "meta/db.h"
#include "store/store.h"

struct mvm_repo {
	char *workdir;     /* absolute, no trailing slash */
	char *mvmdir;      /* workdir/.mvm */
	mvm_db *db;
	mvm_store *store;
	int lock_fd;       /* -1 when not locked */
	uint32_t tensor_grid; /* mvm_repo_tensor_grid's, 0 until read */
};

#define MVM_DEFAULT_LEVEL 1

/* A stage row: the next version's entry for a path, with its stat cache. */
typedef struct {
	char *path;
	mvm_oid manifest;            /* or the chunk's id, with one_chunk (see object.h) */
	int one_chunk;
	uint32_t mode;
	uint64_t size;
	int64_t mtime_ns, ctime_ns;  /* ctime: an edit that restores the mtime still changes it */
	uint64_t ino;
} mvm_stage_entry;

int mvm_stage_load(mvm_stage_entry **out, size_t *count, mvm_repo *repo);
void mvm_stage_free(mvm_stage_entry *e, size_t count);
const mvm_stage_entry *mvm_stage_find(const mvm_stage_entry *e, size_t count, const char *path);
int mvm_stage_put(mvm_repo *repo, const mvm_stage_entry *e);
int mvm_stage_delete(mvm_repo *repo, const char *path);
/** True when st matches the cached stat of e (file unchanged since staged). */
int mvm_stage_stat_matches(const mvm_stage_entry *e, const struct stat *st);
void mvm_stage_fill_stat(mvm_stage_entry *e, const struct stat *st);
/** Drop a stat too fresh to prove the file unchanged later (see stage.c). */
void mvm_stage_distrust_fresh(mvm_stage_entry *e);

/** Tree of HEAD (empty tree before the first commit). */
int mvm_head_tree(mvm_tree **out, mvm_repo *repo);
/** Tree of a version. */
int mvm_version_tree(mvm_tree **out, mvm_repo *repo, const mvm_oid *version);

/** Turn a user path (relative to cwd) into a path relative to the work tree. */
int mvm_repo_relpath(mvm_buf *out, mvm_repo *repo, const char *user_path);
/** Absolute path of a work-tree-relative path. */
int mvm_repo_abspath(mvm_buf *out, mvm_repo *repo, const char *rel);

/** Set HEAD to a branch ("refs/heads/x") or a detached 64-hex id. */
int mvm_head_set(mvm_repo *repo, const char *value);

/** zstd level for new chunks: config core.compression, else MVM_DEFAULT_LEVEL. */
int mvm_repo_compression_level(mvm_repo *repo);
/** Chunk size of the fixed grid inside tensors, as the repository was created with. */
int mvm_repo_tensor_grid(uint32_t *out, mvm_repo *repo);

/** SHA-256 of a whole file on disk. */
int mvm_file_sha256(mvm_oid *out, const char *path);

/*
 * Scan working files into manifests: chunk, hash and, when `store` is
 * set, compress and store new chunks. Shared by add and diff. One scan
 * serves all the files of a command (its buffers and threads are kept):
 * start it zeroed but for the fields below, dispose of it at the end.
 */
typedef struct {
	mvm_store *store;            /* NULL: hash only (diff of the working tree) */
	mvm_progress_cb progress;
	void *payload;
	uint64_t done, total;        /* progress over all files of one command */
	uint32_t grid;               /* chunk size inside tensors: mvm_repo_tensor_grid */
	int level;                   /* zstd level of new chunks: mvm_repo_compression_level */
	struct mvm_scan_pipe *pipe;  /* scan.c's */
} mvm_scan;

/*
 * Start scanning a file. Its batches go down a pipeline shared by the
 * command's files, so *out is set later: when a later push or the drain
 * emits the file's last batch. `base` is the file's previous version
 * (delta bases) or NULL, owned by the scan from here on; relpath names
 * the file in errors and must outlive the scan. After an error, only
 * dispose of the scan.
 */
int mvm_scan_push(mvm_scan *scan, mvm_manifest **out, const char *abspath, const char *relpath, mvm_manifest *base);
/** Finish every file pushed: all their manifests are set after it. */
int mvm_scan_drain(mvm_scan *scan);
/** Wait for the work in flight and free it all; files not finished keep *out NULL. */
void mvm_scan_dispose(mvm_scan *scan);

/** Index of the chunk holding byte `off` of the file. */
size_t mvm_manifest_chunk_at(const mvm_manifest *m, uint64_t off);
/** Stream bytes [offset, offset+length) of a stored file to sink, decoding only the chunks needed. */
int mvm_manifest_read_range(mvm_repo *repo, const mvm_manifest *m, uint64_t offset, uint64_t length,
			    int (*sink)(const void *p, size_t n, void *payload), void *payload);

/*
 * mvm_repo_open in two steps: find the repository at or above path (its
 * folders only: db and store NULL), then open its database and store.
 */
int mvm_repo_find(mvm_repo **out, const char *path);
int mvm_repo_connect(mvm_repo *repo);

/** Run fn inside BEGIN IMMEDIATE ... COMMIT; roll back when it fails. */
int mvm_repo_txn(mvm_repo *repo, int (*fn)(mvm_repo *repo, void *payload), void *payload);

#endif
