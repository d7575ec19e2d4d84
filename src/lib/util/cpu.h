/*
 * cpu.h: which SIMD paths this CPU and OS can run, asked once: glibc's
 * <sys/platform/x86.h> where it exists (what ld.so found, no CPUID of our
 * own), else CPUID. Not __builtin_cpu_supports: it links libgcc's feature
 * probe in as a constructor, run by every mvm process before main, and on
 * a VM (where CPUID traps) that was ~2% of a `mvm status`.
 */
#ifndef MVM_UTIL_CPU_H
#define MVM_UTIL_CPU_H

/** AVX2 and POPCNT (GCC's avx2 target emits it), with the OS saving the YMM registers. */
int mvm_cpu_avx2(void);

/*
 * AVX-512 F, BW, VL, VBMI2 and IFMA, and POPCNT, with the OS saving the
 * ZMM registers: what Ice Lake, Sapphire Rapids and Zen 4 have, and all
 * our AVX-512 paths need (not Skylake-SP: no VBMI2, no IFMA).
 */
int mvm_cpu_avx512(void);

/** AVX-512 F and BW with the OS saving the ZMM registers: Skylake-SP on (sha256mb.c needs no more). */
int mvm_cpu_avx512bw(void);

/** The SHA extensions (SHA-NI), with SSSE3 and SSE4.1 for the code around them. */
int mvm_cpu_sha_ni(void);

/** For tests: which of the paths above may run. */
typedef enum {
	MVM_CPU_ALL = 0,      /* every one the CPU has */
	MVM_CPU_PORTABLE,     /* none: all of the above answer no */
	MVM_CPU_NO_AVX512,    /* all but AVX-512, so AVX2 paths run on an AVX-512 CPU too */
} mvm_cpu_limit;

void mvm_cpu_restrict(mvm_cpu_limit limit);

#endif
