/*
 * mvm/repo.h: opening repositories, configuration and the writer lock.
 */
#ifndef MVM_REPO_H
#define MVM_REPO_H

#include <stdint.h>
#include "mvm/buf.h"
#include "mvm/common.h"

typedef struct mvm_repo mvm_repo;

/** Progress of long work: bytes done of total for a stage ("add", "checkout", "gc"). */
typedef void (*mvm_progress_cb)(const char *stage, uint64_t done, uint64_t total, void *payload);

/**
 * Create a repository: `path`/.mvm. @return 0, MVM_EEXISTS if one is there.
 * @param[out] out the open repository (caller frees with mvm_repo_free)
 */
int mvm_repo_init(mvm_repo **out, const char *path);

/** Open the repository containing `path` (searching parent folders). @return 0 or MVM_ENOTFOUND. */
int mvm_repo_open(mvm_repo **out, const char *path);
void mvm_repo_free(mvm_repo *repo);

/** Absolute path of the working tree. Borrowed. */
const char *mvm_repo_workdir(const mvm_repo *repo);

/*
 * Take the repository's writer lock (blocking until other writers finish).
 * Every command that changes the repository holds it; readers never need it.
 * Released by mvm_repo_unlock or mvm_repo_free, or by the OS if killed.
 */
int mvm_repo_lock(mvm_repo *repo);
void mvm_repo_unlock(mvm_repo *repo);

/** Config keys mvm knows, NULL-terminated. */
const char *const *mvm_config_keys(void);
/** @return 0, MVM_ENOTFOUND if unset, MVM_EUSAGE for an unknown key. */
int mvm_config_get(mvm_buf *out, mvm_repo *repo, const char *key);
int mvm_config_set(mvm_repo *repo, const char *key, const char *value);
/** Call cb for each set key in key order. */
int mvm_config_foreach(mvm_repo *repo, int (*cb)(const char *key, const char *value, void *payload),
		       void *payload);

/** "Name <email>" from MVM_USER, else user.name/user.email, else the login name. */
int mvm_repo_author(mvm_buf *out, mvm_repo *repo);

#endif
