/*
 * sha256ni.h: SHA-256 compression with the x86 SHA extensions, one stream
 * or two interleaved.
 *
 * One stream is bound by the latency of the round instruction (each round
 * pair needs the state the previous one produced), not by its throughput:
 * interleaving the rounds of two independent streams keeps the unit busy
 * and hashes both in about 0.65 of the time one after the other takes.
 * OpenSSL has no such interface, so hash.c's streaming contexts use this
 * on CPUs with SHA-NI (one-shot hashes stay with OpenSSL). Call only where
 * mvm_cpu_sha_ni() says yes.
 */
#ifndef MVM_UTIL_SHA256NI_H
#define MVM_UTIL_SHA256NI_H

#include <stddef.h>
#include <stdint.h>

/* The eight state words in the order the instructions keep them (ABEF, CDGH). */
typedef struct {
	uint32_t s[8];
} mvm_sha256ni_state;

void mvm_sha256ni_init(mvm_sha256ni_state *st);
/** Compress `nblocks` 64-byte blocks from p. */
void mvm_sha256ni_blocks(mvm_sha256ni_state *st, const unsigned char *p, size_t nblocks);
/** Compress `nblocks` blocks of each stream, the two interleaved. */
void mvm_sha256ni_blocks2(mvm_sha256ni_state *a, const unsigned char *pa, mvm_sha256ni_state *b,
			  const unsigned char *pb, size_t nblocks);
/** The 32-byte digest of a state whose padding has been compressed. */
void mvm_sha256ni_digest(unsigned char *out, const mvm_sha256ni_state *st);

#endif
