/*
 * walk.h: visit the regular files of the working tree (or a folder of it),
 * in sorted order, skipping .mvm and temp files of interrupted checkouts.
 */
#ifndef MVM_REPO_WALK_H
#define MVM_REPO_WALK_H

#include <sys/stat.h>
#include "repo_internal.h"

typedef int (*mvm_walk_cb)(const char *relpath, const struct stat *st, void *payload);

/** Walk `rel` ("" for the whole tree). A callback's negative return stops the walk. */
int mvm_walk(mvm_repo *repo, const char *rel, mvm_walk_cb cb, void *payload);

/** Temp files of checkout: ".<name>.mvm-tmp-<pid>". */
int mvm_is_checkout_temp(const char *name);

/*
 * Delete checkout temp files left in the working tree by a killed writer.
 * Call with the writer lock held: then no live process owns any of them.
 */
void mvm_remove_checkout_temps(mvm_repo *repo);

#endif
