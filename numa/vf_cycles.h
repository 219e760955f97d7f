/* vf_cycles.h - a cheap monotonic counter for the workers' busy and idle
 * accounting (vf_worker_stats busy_tsc/idle_tsc).
 *
 * What: vf_cycles() reads the TSC on x86-64 (cycles_x86.h, chosen here and
 * nowhere else) and CLOCK_MONOTONIC nanoseconds on any other CPU, so only
 * ratios and differences of its values mean anything.
 *
 * Thread-safety: any thread.
 */
#ifndef VF_CYCLES_H
#define VF_CYCLES_H

#include <stdint.h>

#if defined(__x86_64__)
#include "numa/cycles_x86.h"

static inline uint64_t vf_cycles(void)
{
    return vf_cycles_x86();
}
#else
#include <time.h>

static inline uint64_t vf_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
#endif

#endif
