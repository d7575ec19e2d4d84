/*
 * audit_internal.h: appending to the audit log, for the code that mutates.
 *
 * Both functions must run inside the caller's write transaction (the one
 * holding the change they record); they fail otherwise.
 */
#ifndef MVM_AUDIT_INTERNAL_H
#define MVM_AUDIT_INTERNAL_H

#include "mvm/audit.h"
#include "meta/db.h"

/** Append one entry by `actor`; before/after may be NULL. */
int mvm_audit_append(mvm_db *db, const char *actor, const char *action, const char *object,
		     const char *before, const char *after);

/** Append one entry by the repository's user (mvm_repo_author). */
int mvm_audit_record(mvm_repo *repo, const char *action, const char *object, const char *before,
		     const char *after);

/** mvm_audit_record with ids as before/after (either may be NULL). */
int mvm_audit_record_ids(mvm_repo *repo, const char *action, const char *object, const mvm_oid *before,
			 const mvm_oid *after);

#endif
