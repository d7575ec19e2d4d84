/*
 * mvm/inspect.h: reading objects, file contents and tensors, and diffs.
 */
#ifndef MVM_INSPECT_H
#define MVM_INSPECT_H

#include <stdio.h>
#include "mvm/objects.h"
#include "mvm/repo.h"

int mvm_version_lookup(mvm_version **out, mvm_repo *repo, const mvm_oid *id);
int mvm_tree_lookup(mvm_tree **out, mvm_repo *repo, const mvm_oid *id);
/** The manifest of a tree entry (made up from the entry for a one-chunk file). */
int mvm_manifest_lookup(mvm_manifest **out, mvm_repo *repo, const mvm_tree_entry *e);

/** Write the bytes [offset, offset+length) of a stored file, decoding only the chunks that hold them. */
int mvm_file_write_range(FILE *out, mvm_repo *repo, const mvm_manifest *m, uint64_t offset,
			 uint64_t length);

typedef enum {
	MVM_DIFF_ADDED, MVM_DIFF_REMOVED, MVM_DIFF_MODIFIED,
	MVM_DIFF_DTYPE_CHANGED, MVM_DIFF_SHAPE_CHANGED
} mvm_diff_status;

const char *mvm_diff_status_name(mvm_diff_status s);

typedef struct {
	char *name;
	mvm_diff_status status;
	int has_stats;                    /* --stats on a float tensor */
	double max_abs_diff, rel_l2, cosine;
	const mvm_tensor *a, *b;          /* borrowed from the diff's manifests; NULL if absent */
} mvm_tensor_diff;

typedef struct {
	char *path;
	mvm_diff_status status;
	int is_tensor_file;
	mvm_tensor_diff *tensors;
	size_t ntensors;
	uint64_t size_a, size_b;
	const mvm_manifest *manifest_a, *manifest_b;  /* borrowed; NULL when absent */
} mvm_file_diff;

typedef struct mvm_diff {
	mvm_file_diff *files;
	size_t nfiles;
	void *priv;
} mvm_diff;

typedef struct {
	unsigned int version;
	int stats;                        /* read data for max_abs_diff, rel_l2, cosine */
	const char *const *paths;         /* limit to these paths (prefixes); NULL for all */
	size_t npaths;
} mvm_diff_options;

#define MVM_DIFF_OPTIONS_INIT { 1, 0, NULL, 0 }

/*
 * Compare two versions; `b` NULL compares `a` with the working tree.
 * Tensor statuses come from manifests alone; stats read tensor data.
 */
int mvm_diff_versions(mvm_diff **out, mvm_repo *repo, const mvm_oid *a, const mvm_oid *b,
		      const mvm_diff_options *opts);
void mvm_diff_free(mvm_diff *d);

#endif
