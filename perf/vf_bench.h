/* vf_bench.h - vfab's benchmarks as plain C functions.
 *
 * What: each perf/bench_*.c file defines benchmark functions in C and
 * registers them with VF_BENCH(); perf/shim.cc (the only C++ in vfab) hands
 * them to Google Benchmark, so `vfab-bench --benchmark_format=json` and every
 * other Google Benchmark flag work.
 *
 * Counting: a benchmark loops `while (vf_bench_next(st))`, handles a burst of
 * packets per iteration and reports how many with vf_bench_items(). The shim
 * reads the TSC at the first and last vf_bench_next() so setup before the
 * loop is not counted, and reports `cycles_per_packet` (TSC cycles per item)
 * and items_per_second (packets/s).
 *
 * Thread-safety: a benchmark runs on one thread; registration happens in
 * constructors before main().
 */
#ifndef VF_BENCH_H
#define VF_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vf_bench_state;

typedef void (*vf_bench_fn)(struct vf_bench_state *st, int64_t arg);

/* Registers a benchmark; arg_count 0 means "run once with arg 0". */
void vf_bench_register(const char *name, vf_bench_fn fn,
                       const int64_t *args, unsigned arg_count);

/* true while the benchmark should run another iteration. */
bool vf_bench_next(struct vf_bench_state *st);
/* Adds n processed packets (items) to this run. */
void vf_bench_items(struct vf_bench_state *st, uint64_t n);
/* Sets a user counter shown beside the timings (e.g. "hit_rate"). */
void vf_bench_counter(struct vf_bench_state *st, const char *name, double v);
/* Stops the benchmark with an error message (e.g. setup failed). */
void vf_bench_skip(struct vf_bench_state *st, const char *why);
/* Excludes work between pause and resume from timing. */
void vf_bench_pause(struct vf_bench_state *st);
void vf_bench_resume(struct vf_bench_state *st);

#define VF_BENCH_ARGS(fn, ...)                                              \
    static void __attribute__((constructor)) vf_bench_reg_##fn(void) {     \
        static const int64_t a_[] = {__VA_ARGS__};                          \
        vf_bench_register(#fn, fn, a_, sizeof(a_) / sizeof(a_[0]));         \
    }
#define VF_BENCH(fn)                                                        \
    static void __attribute__((constructor)) vf_bench_reg_##fn(void) {     \
        vf_bench_register(#fn, fn, 0, 0);                                   \
    }

#ifdef __cplusplus
}
#endif
#endif
