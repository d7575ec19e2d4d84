/*
 * object.h: encoding, decoding and storage of manifests, trees and versions
 * in the `objects` table. An object's id is the SHA-256 of its encoding.
 * Decoders treat their input as untrusted (fuzzed: fuzz/manifest_fuzz.c).
 */
#ifndef MVM_OBJECT_OBJECT_H
#define MVM_OBJECT_OBJECT_H

#include "mvm/buf.h"
#include "mvm/objects.h"
#include "meta/db.h"

int mvm_manifest_encode(mvm_buf *out, const mvm_manifest *m);
int mvm_manifest_decode(mvm_manifest **out, const unsigned char *p, size_t n);
/*
 * A tree object holds one folder: its entries are names, and a sub-folder
 * is an entry of mode MVM_TREE_FOLDER whose id is the folder's tree.
 * Callers of mvm_tree_read/mvm_tree_write see a version's whole file list
 * (folders.c); these two code one object.
 */
#define MVM_TREE_FOLDER 040000u
#define MVM_TREE_MAX_DEPTH 2048        /* nested folders: any path Linux can name (PATH_MAX 4096) */
#define MVM_TREE_MAX_FILES 10000000    /* files in one version: a bound on what a tree may expand to */
int mvm_tree_encode(mvm_buf *out, const mvm_tree *t);
int mvm_tree_decode(mvm_tree **out, const unsigned char *p, size_t n);
/** A clean relative path: no "", ".", ".." or empty components, no leading '/', nothing under .mvm. */
int mvm_tree_path_ok(const unsigned char *p, size_t len);
/** Store a sorted file list as one tree object per folder; out is the root's id. */
int mvm_tree_write(mvm_oid *out, mvm_db *db, const mvm_tree *files);
int mvm_version_encode(mvm_buf *out, const mvm_version *v);
/** Sort params and metrics by key (the canonical order). */
void mvm_version_sort(mvm_version *v);
int mvm_version_decode(mvm_version **out, const unsigned char *p, size_t n);

/** Store an encoded object (idempotent); returns its id. */
int mvm_odb_write(mvm_oid *out, mvm_db *db, mvm_object_type type, const mvm_buf *data);
/** Read an object's bytes; MVM_ENOTFOUND, or MVM_ECORRUPT on a type mismatch. */
int mvm_odb_read(mvm_buf *out, mvm_db *db, mvm_object_type type, const mvm_oid *id);
/** Find the single object of `type` whose hex id starts with `prefix` (>= 4 hex). */
int mvm_odb_expand(mvm_oid *out, mvm_db *db, mvm_object_type type, const char *prefix);

int mvm_manifest_read(mvm_manifest **out, mvm_db *db, const mvm_oid *id);

/*
 * A plain file of at most one chunk has no manifest object: trees and the
 * stage name its chunk (whose id is the file's SHA-256) and mark it
 * one_chunk, and its manifest is made up from that id and the size.
 */
int mvm_manifest_is_one_chunk(const mvm_manifest *m);
/** Whether a one-chunk entry can name a file of `size` bytes: at most 4 GiB; empty only as sha256(""). */
int mvm_manifest_one_chunk_ok(const mvm_oid *id, uint64_t size);
/** The manifest a tree or stage entry names: read, or made up for a one-chunk file. */
int mvm_manifest_get(mvm_manifest **out, mvm_db *db, const mvm_oid *id, int one_chunk, uint64_t size);
/** The file SHA-256 an entry names: a one-chunk entry's own id, else its manifest's. */
int mvm_manifest_file_sha(mvm_oid *out, mvm_db *db, const mvm_oid *id, int one_chunk);
/**
 * Whether two entries name the same file (1) or not (0): the same id, or
 * (in a repository from before one-chunk entries) a stored manifest of the
 * one chunk. Negative if that manifest cannot be read.
 */
int mvm_manifest_same_file(mvm_db *db, const mvm_oid *a, int a_one_chunk, const mvm_oid *b, int b_one_chunk);
/** How a tree or stage entry names m: its chunk, or its stored manifest (written here). */
int mvm_manifest_ref(mvm_oid *id, int *one_chunk, mvm_db *db, const mvm_manifest *m, mvm_buf *scratch);
/** The file list of a root tree (sorted full paths; no folder entries). */
int mvm_tree_read(mvm_tree **out, mvm_db *db, const mvm_oid *id);
int mvm_version_read(mvm_version **out, mvm_db *db, const mvm_oid *id);

#endif
