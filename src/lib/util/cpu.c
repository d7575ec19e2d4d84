/*
 * cpu.c: CPU feature checks (see cpu.h).
 */
#include <pthread.h>

#include "cpu.h"

#if defined(__x86_64__) && defined(__has_include)
#if __has_include(<sys/platform/x86.h>)
#include <sys/platform/x86.h>
#endif
#endif
#ifdef CPU_FEATURE_ACTIVE /* glibc 2.33+ (2.32's header has other names): what ld.so read at startup */
#define MVM_GLIBC_FEATURES 1
#elif defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define MVM_CPUID 1
#endif

static int has_avx2, has_avx512bw, has_avx512, has_sha_ni;
static mvm_cpu_limit limited;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

#ifdef MVM_GLIBC_FEATURES
/*
 * CPU_FEATURE_ACTIVE(x), with an unsigned shift: the header's inline
 * version shifts a signed 1 by the feature's bit, undefined for bit 31
 * (AVX512VL), where UBSan stops.
 */
static int active(unsigned int index)
{
	const struct cpuid_feature *f = __x86_get_cpuid_feature_leaf(index / 128);

	return (f->active_array[index % 128 / 32] >> (index % 32)) & 1u;
}
#endif

/*
 * With glibc's copy of what the dynamic loader found (usable features:
 * CPU and OS support, less any GLIBC_TUNABLES hwcaps mask), no CPUID runs
 * here: on the VMs measured each one traps to the hypervisor, ~14 us,
 * and the probe took four (3% of a `mvm status`).
 */
static void probe(void)
{
#ifdef MVM_GLIBC_FEATURES
	int popcnt = active(x86_cpu_POPCNT);

	has_sha_ni = active(x86_cpu_SHA) && active(x86_cpu_SSSE3) && active(x86_cpu_SSE4_1);
	has_avx2 = popcnt && active(x86_cpu_AVX2);
	has_avx512bw = active(x86_cpu_AVX512F) && active(x86_cpu_AVX512BW);
	has_avx512 = popcnt && has_avx512bw && active(x86_cpu_AVX512VL) && active(x86_cpu_AVX512_VBMI2) &&
		     active(x86_cpu_AVX512_IFMA);
#elif defined(MVM_CPUID)
	unsigned int a, b, c, d, xcr0 = 0, xcr0_hi;
	int popcnt, ssse3_sse41, osxsave;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	popcnt = (c & bit_POPCNT) != 0;
	ssse3_sse41 = (c & bit_SSSE3) && (c & bit_SSE4_1);
	if ((osxsave = (c & bit_OSXSAVE) != 0))
		__asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0)); /* _xgetbv needs -mxsave */
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return;
	has_sha_ni = ssse3_sse41 && (b & bit_SHA); /* SSE state needs no OS opt-in on x86-64 */
	if (!osxsave)
		return;
	/* XCR0: SSE and AVX state (bits 1, 2); opmask and both ZMM halves (5, 6, 7) */
	has_avx2 = (xcr0 & 0x06) == 0x06 && popcnt && (b & bit_AVX2);
	has_avx512bw = (xcr0 & 0xe6) == 0xe6 && (b & bit_AVX512F) && (b & bit_AVX512BW);
	has_avx512 = has_avx512bw && popcnt && (b & bit_AVX512VL) && (c & bit_AVX512VBMI2) && (b & bit_AVX512IFMA);
#endif
}

int mvm_cpu_avx2(void)
{
	pthread_once(&probe_once, probe);
	return has_avx2 && limited != MVM_CPU_PORTABLE;
}

int mvm_cpu_avx512(void)
{
	pthread_once(&probe_once, probe);
	return has_avx512 && limited == MVM_CPU_ALL;
}

int mvm_cpu_avx512bw(void)
{
	pthread_once(&probe_once, probe);
	return has_avx512bw && limited == MVM_CPU_ALL;
}

int mvm_cpu_sha_ni(void)
{
	pthread_once(&probe_once, probe);
	return has_sha_ni && limited != MVM_CPU_PORTABLE;
}

void mvm_cpu_restrict(mvm_cpu_limit limit)
{
	limited = limit;
}
