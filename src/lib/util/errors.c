/*
 * errors.c: the thread-local last-error slot and oid helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mvm/common.h"

static _Thread_local char last_message[1024];
static _Thread_local int last_code;

int mvm_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	last_code = code;
	return code;
}

int mvm_error_wrap(int code, const char *fmt, ...)
{
	char prev[sizeof(last_message)];
	size_t n;
	va_list ap;

	memcpy(prev, last_message, sizeof(prev));
	va_start(ap, fmt);
	vsnprintf(last_message, sizeof(last_message), fmt, ap);
	va_end(ap);
	n = strlen(last_message);
	if (prev[0] && n + 2 < sizeof(last_message))
		snprintf(last_message + n, sizeof(last_message) - n, ": %s", prev);
	last_code = code;
	return code;
}

const char *mvm_error_last(void)
{
	return last_message[0] ? last_message : "unknown error";
}

int mvm_error_last_code(void)
{
	return last_code;
}

void mvm_error_clear(void)
{
	last_message[0] = '\0';
	last_code = 0;
}

void mvm_oid_fmt(char out[MVM_OID_HEXSZ + 1], const mvm_oid *id)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < MVM_OID_RAWSZ; i++) {
		out[2 * i] = hex[id->id[i] >> 4];
		out[2 * i + 1] = hex[id->id[i] & 15];
	}
	out[MVM_OID_HEXSZ] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mvm_oid_parse(mvm_oid *out, const char *hex)
{
	size_t i;

	if (strlen(hex) != MVM_OID_HEXSZ)
		return mvm_error_set(MVM_EUSAGE, "'%s' is not a 64-hex id", hex);
	for (i = 0; i < MVM_OID_RAWSZ; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return mvm_error_set(MVM_EUSAGE, "'%s' is not a 64-hex id", hex);
		out->id[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int mvm_oid_cmp(const mvm_oid *a, const mvm_oid *b)
{
	return memcmp(a->id, b->id, MVM_OID_RAWSZ);
}

int mvm_oid_is_zero(const mvm_oid *id)
{
	static const mvm_oid zero;
	return memcmp(id->id, zero.id, MVM_OID_RAWSZ) == 0;
}
