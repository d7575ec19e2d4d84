/*
 * sha256mb.h: SHA-256 of many messages at once, one in each 32-bit lane of
 * AVX-512 registers ("multi-buffer", as Intel's isa-l_crypto does it).
 *
 * SHA-NI's round instruction is bound by its latency: one stream ran 1.65
 * GB/s and two interleaved 2.0 on the Xeon of our bench. Sixteen lanes of
 * plain vector arithmetic (rotates and three-input logic in one
 * instruction each) do sixteen blocks in the time of ~5 SHA-NI ones. It
 * suits many independent messages of similar size, as chunk ids are; a
 * single long stream (a file's id) stays with SHA-NI. Call only where
 * mvm_sha256mb_available() says yes.
 */
#ifndef MVM_UTIL_SHA256MB_H
#define MVM_UTIL_SHA256MB_H

#include <stddef.h>

#include "mvm/common.h"

/** Whether this build and CPU have the lanes (AVX-512 F and BW, x86-64). */
int mvm_sha256mb_available(void);

/* The digests of `count` messages (p[i], n[i] bytes) into out[i], any count, any lengths. */
void mvm_sha256mb(mvm_oid *out, const unsigned char *const *p, const size_t *n, size_t count);

#endif
