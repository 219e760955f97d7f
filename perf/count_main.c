/* count_main.c - vfab-count: one benchmark for an exact number of iterations.
 *
 * What: the same benchmark functions as vfab-bench (perf/bench_*.c,
 * vf_bench.h), run without Google Benchmark for a fixed iteration count,
 * so that an instruction counter sees the same work on every run:
 *   valgrind --tool=callgrind build/perf/vfab-count BM_name ARG ITERS
 * Google Benchmark picks its iteration count from the clock, which makes
 * the total instructions depend on how busy the machine is. Here two runs
 * with ITERS and 2 x ITERS differ by exactly ITERS iterations' work, setup
 * and teardown cancelled: perf/cost.sh divides that difference by the
 * items (packets, frames) those iterations reported. It prints the items
 * (and the benchmark's counters) on stdout.
 *
 * Thread-safety: one benchmark on one thread, like the shim.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/vf_bench.h"

#define COUNT_MAX_BENCH 128

struct vf_bench_state {
    uint64_t left;     /* iterations still to run */
    uint64_t items;
    bool skipped;
};

static struct {
    const char *name;
    vf_bench_fn fn;
} reg[COUNT_MAX_BENCH];
static unsigned n_reg;

void vf_bench_register(const char *name, vf_bench_fn fn, const int64_t *args,
                       unsigned arg_count)
{
    (void)args;
    (void)arg_count;
    if (n_reg < COUNT_MAX_BENCH) {
        reg[n_reg].name = name;
        reg[n_reg++].fn = fn;
    }
}

bool vf_bench_next(struct vf_bench_state *st)
{
    if (st->skipped || st->left == 0)
        return false;
    st->left--;
    return true;
}

void vf_bench_items(struct vf_bench_state *st, uint64_t n) { st->items += n; }

void vf_bench_counter(struct vf_bench_state *st, const char *name, double v)
{
    (void)st;
    printf("counter %s %g\n", name, v);
}

void vf_bench_skip(struct vf_bench_state *st, const char *why)
{
    st->skipped = true;
    fprintf(stderr, "vfab-count: skipped: %s\n", why);
}

void vf_bench_pause(struct vf_bench_state *st) { (void)st; }
void vf_bench_resume(struct vf_bench_state *st) { (void)st; }

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: vfab-count BM_NAME ARG ITERATIONS\n"
                        "benchmarks:");
        for (unsigned i = 0; i < n_reg; i++)
            fprintf(stderr, " %s", reg[i].name);
        fprintf(stderr, "\n");
        return 2;
    }
    char *end;
    long long arg = strtoll(argv[2], &end, 10);
    unsigned long long iters = strtoull(argv[3], &end, 10);
    if (*end || iters == 0) {
        fprintf(stderr, "vfab-count: ITERATIONS is a positive number\n");
        return 2;
    }
    for (unsigned i = 0; i < n_reg; i++) {
        if (strcmp(reg[i].name, argv[1]) != 0)
            continue;
        struct vf_bench_state st = {.left = iters};
        reg[i].fn(&st, arg);
        if (st.skipped)
            return 77;
        printf("items %llu\n", (unsigned long long)st.items);
        return 0;
    }
    fprintf(stderr, "vfab-count: no benchmark %s\n", argv[1]);
    return 2;
}
