/*
 * refs_internal.h: ref primitives shared by refs.c, revparse.c and commit.c.
 */
#ifndef MVM_REFS_INTERNAL_H
#define MVM_REFS_INTERNAL_H

#include "mvm/refs.h"

/** Target of a full ref name ("refs/heads/main"). */
int mvm_ref_read(mvm_oid *out, mvm_repo *repo, const char *full);
/*
 * Compare-and-swap: set `full` to target if it currently holds `expected`;
 * with expected NULL, create it only if absent. MVM_ECONFLICT / MVM_EEXISTS otherwise.
 */
int mvm_ref_cas(mvm_repo *repo, const char *full, const mvm_oid *target, const mvm_oid *expected,
		const char *message);
/** Set unconditionally (used when the caller holds the writer lock and checked already). */
int mvm_ref_force(mvm_repo *repo, const char *full, const mvm_oid *target);

#endif
