/*
 * mvm/objects.h: the immutable objects of a repository.
 *
 * A manifest describes one file (size, SHA-256, chunk list and, for
 * safetensors/GGUF, its tensor table); a tree lists (path, mode, manifest),
 * where a plain file of one chunk names that chunk and has no manifest;
 * a version is a commit. The structs are plain data, read-only to callers,
 * and freed with their _free function. Encodings: docs/FORMAT.md.
 */
#ifndef MVM_OBJECTS_H
#define MVM_OBJECTS_H

#include <stdint.h>
#include "mvm/common.h"

typedef enum {
	MVM_OBJ_MANIFEST = 1,
	MVM_OBJ_TREE = 2,
	MVM_OBJ_VERSION = 3
} mvm_object_type;

typedef struct {
	mvm_oid id;       /* SHA-256 of the raw chunk bytes */
	uint32_t len;     /* raw length */
} mvm_chunk_ref;

typedef struct {
	char *name;
	char dtype[16];
	uint32_t ndim;
	uint64_t shape[8];
	uint64_t offset;  /* absolute offset in the file */
	uint64_t length;
	mvm_oid sha;      /* SHA-256 of the tensor's bytes */
} mvm_tensor;

typedef struct {
	uint64_t size;
	mvm_oid sha;            /* SHA-256 of the whole file (= sha256sum) */
	uint32_t format;        /* 0 plain, 1 safetensors, 2 GGUF */
	mvm_chunk_ref *chunks;
	uint64_t *chunk_offsets;/* offset of each chunk in the file (derived) */
	size_t nchunks;
	mvm_tensor *tensors;    /* sorted by offset */
	size_t ntensors;
} mvm_manifest;

typedef struct {
	char *path;             /* relative to the working tree, '/'-separated */
	uint32_t mode;          /* 0644 or 0755 */
	mvm_oid manifest;       /* the manifest's id; with one_chunk, the chunk's */
	uint64_t size;
	int one_chunk;          /* a plain file of at most one chunk, whose id is
				 * the file's SHA-256: no manifest object exists */
} mvm_tree_entry;

typedef struct {
	mvm_tree_entry *entries;/* sorted by path (bytewise) */
	size_t count;
} mvm_tree;

typedef struct {
	char *key;
	char *value;
} mvm_param;

typedef struct {
	char *key;
	double value;
} mvm_metric;

typedef struct {
	mvm_oid id;
	mvm_oid tree;
	mvm_oid *parents;
	size_t nparents;
	char *author;           /* "Name <email>" */
	int64_t time;           /* seconds since the epoch, UTC */
	char *message;
	mvm_param *params;      /* sorted by key */
	size_t nparams;
	mvm_metric *metrics;    /* sorted by key */
	size_t nmetrics;
} mvm_version;

void mvm_manifest_free(mvm_manifest *m);
void mvm_tree_free(mvm_tree *t);
void mvm_version_free(mvm_version *v);

/** Tensor by name, or NULL. Borrowed from m. */
const mvm_tensor *mvm_manifest_tensor(const mvm_manifest *m, const char *name);
/** Tree entry by path, or NULL. Borrowed from t. */
const mvm_tree_entry *mvm_tree_find(const mvm_tree *t, const char *path);

#endif
