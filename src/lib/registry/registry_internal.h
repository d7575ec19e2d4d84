/*
 * registry_internal.h: helpers shared by the registry's files.
 *
 * lookup.c needs only the metadata database (revparse calls it to resolve
 * NAME@VER and NAME@ALIAS); the other files are repository operations and
 * use the repository handle.
 */
#ifndef MVM_REGISTRY_INTERNAL_H
#define MVM_REGISTRY_INTERNAL_H

#include "mvm/registry.h"
#include "meta/db.h"

/* --- lookup.c: database-only lookups --- */

/** Resolve "NAME@VER" or "NAME@ALIAS" to a version id. @return 0, MVM_ENOTFOUND. */
int mvm_registry_lookup(mvm_oid *out, mvm_db *db, const char *spec);
/** Row id of a model; `archived` may be NULL. @return 0, MVM_ENOTFOUND (naming the model). */
int mvm_reg_model_id(int64_t *id, int *archived, mvm_db *db, const char *name);
/** Number of `ver` (a number or an alias) of model `model` (named `name` in errors). */
int mvm_reg_number(int64_t *number, mvm_db *db, int64_t model, const char *name, const char *ver);
/** The version id a model version pins. */
int mvm_reg_version_id(mvm_oid *out, mvm_db *db, int64_t model, int64_t number);

/* --- registry.c: transactions and small shared pieces --- */

/** Run fn inside BEGIN IMMEDIATE ... COMMIT; roll back when it fails. */
int mvm_reg_txn(mvm_repo *repo, int (*fn)(mvm_repo *repo, void *payload), void *payload);
/** Parse "key=number" (finite). `key` is allocated. @return 0 or MVM_EUSAGE. */
int mvm_reg_parse_metric(char **key, double *value, const char *kv);
/** Format a metric value the way audit entries and messages show it. */
void mvm_reg_fmt_number(char out[32], double v);

/* --- alias.c --- */

/** Inside a transaction: point an alias at `number` and audit the move (no-op if already there). */
int mvm_reg_alias_move(mvm_repo *repo, int64_t model, const char *name, const char *alias, int64_t number);

#endif
