/* cycles_x86.h - the x86-64 cycle counter behind vf_cycles() (vf_cycles.h).
 *
 * What: the TSC (rdtsc): constant-rate on every CPU vfab targets, ~20
 * cycles to read, not serialising (a few instructions may move across it,
 * which the busy/idle accounting it serves does not mind).
 *
 * Thread-safety: pure read of a CPU register.
 */
#ifndef VF_CYCLES_X86_H
#define VF_CYCLES_X86_H

#include <stdint.h>
#include <x86intrin.h>

static inline uint64_t vf_cycles_x86(void)
{
    return __rdtsc();
}

#endif
