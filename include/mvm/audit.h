/*
 * mvm/audit.h: the audit log: an append-only, hash-chained record of every
 * mutation (commits, branch and tag changes, gc, registry changes).
 *
 * Each entry is written in the same transaction as the change it records,
 * so the log can never miss or invent a change. Entry n stores the hash of
 * entry n-1; the hash covers a canonical encoding of the entry
 * (docs/FORMAT.md), so editing, removing or reordering entries is found by
 * mvm_audit_verify.
 */
#ifndef MVM_AUDIT_H
#define MVM_AUDIT_H

#include <stdint.h>
#include "mvm/repo.h"

typedef struct {
	int64_t seq;        /* 1, 2, 3, ... */
	int64_t time;       /* seconds since the epoch, UTC */
	char *actor;        /* "Name <email>" (see mvm_repo_author) */
	char *action;       /* "commit", "branch.create", "model.alias.set", ... */
	char *object;       /* "refs/heads/main", "model/chat/alias/production", ... */
	char *before;       /* state before, or NULL */
	char *after;        /* state after, or NULL */
	mvm_oid prev_hash;  /* hash of entry seq-1 (zero for entry 1) */
	mvm_oid hash;       /* SHA-256 of the canonical encoding */
} mvm_audit_entry;

/*
 * Entries in seq order; with `model` set, only those about that model
 * (objects "model/NAME" and "model/NAME/..."). Free with mvm_audit_free.
 */
int mvm_audit_list(mvm_audit_entry **out, size_t *count, mvm_repo *repo, const char *model);
void mvm_audit_free(mvm_audit_entry *entries, size_t count);

/*
 * Check the chain: consecutive seq from 1, each prev_hash equal to the
 * previous entry's hash, each hash equal to the hash of its encoding, and
 * the last entry equal to the head recorded with the log.
 * @param[out] count entries checked
 * @return 0, or MVM_ECORRUPT with a message naming the first bad entry.
 */
int mvm_audit_verify(uint64_t *count, mvm_repo *repo);

/** The canonical encoding of an entry (the bytes its hash covers). */
int mvm_audit_encode(mvm_buf *out, const mvm_audit_entry *e);

#endif
