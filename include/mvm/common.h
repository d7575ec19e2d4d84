/*
 * mvm/common.h: object ids, error codes and the thread-local error slot.
 *
 * Every mvm function that can fail returns an int: 0 on success, a negative
 * MVM_E* code on failure. The message for the last failure on this thread is
 * kept by mvm_error_set() and read with mvm_error_last().
 */
#ifndef MVM_COMMON_H
#define MVM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define MVM_OID_RAWSZ 32
#define MVM_OID_HEXSZ 64

/** A SHA-256 object or chunk id. */
typedef struct {
	unsigned char id[MVM_OID_RAWSZ];
} mvm_oid;

typedef enum {
	MVM_OK = 0,
	MVM_ERROR = -1,      /* operation failed */
	MVM_EUSAGE = -2,     /* bad arguments from the caller */
	MVM_ENOTFOUND = -3,  /* named thing does not exist */
	MVM_EEXISTS = -4,    /* thing already exists */
	MVM_ECORRUPT = -5,   /* stored data failed verification */
	MVM_ETOOLARGE = -6,  /* a size limit was exceeded */
	MVM_EAMBIGUOUS = -7, /* a prefix names more than one object */
	MVM_ECONFLICT = -8,  /* refused: would lose work or lost a race */
	MVM_ELOCKED = -9,    /* another process holds the repository lock */
	MVM_ENOTHING = -10,  /* nothing to do (e.g. nothing to commit) */
	MVM_EFORMAT = -11    /* malformed input file (safetensors, GGUF) */
} mvm_error_code;

/** Set the thread's last error; returns `code` so callers can `return mvm_error_set(...)`. */
int mvm_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Prefix the current message with context: "<fmt...>: <previous message>". Returns code. */
int mvm_error_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Last error message on this thread, or "unknown error" if none was set. */
const char *mvm_error_last(void);

/** Code of the last error set on this thread (MVM_OK if none). */
int mvm_error_last_code(void);

void mvm_error_clear(void);

/** Format an oid as 64 lowercase hex characters plus NUL into `out`. */
void mvm_oid_fmt(char out[MVM_OID_HEXSZ + 1], const mvm_oid *id);

/** Parse exactly 64 hex characters. @return 0, or MVM_EUSAGE. */
int mvm_oid_parse(mvm_oid *out, const char *hex);

int mvm_oid_cmp(const mvm_oid *a, const mvm_oid *b);
int mvm_oid_is_zero(const mvm_oid *id);

#endif
