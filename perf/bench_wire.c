/* bench_wire.c - the Internet checksum (numa/vf_wire.h), per buffer.
 *
 * BM_csum: vf_csum_add over one buffer of arg bytes (20: an IPv4 header,
 * inline; 1500: a frame whose partial checksum a tap or vhost-user guest
 * left to complete; 64000: a TSO frame), one item per buffer, so
 * cycles_per_packet is cycles per buffer. BM_csum_scalar: the reference
 * (one 16-bit word at a time) over the same buffers: the ratio is the
 * optimisation's gain in this run. The buffers are in L1/L2 (a frame just
 * received is), and a different start each time keeps the compiler from
 * hoisting the sum.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "numa/vf_wire.h"
#include "perf/vf_bench.h"

#define CSUM_BUF (64000u + 64u)

static void csum_run(struct vf_bench_state *st, int64_t arg, bool scalar)
{
    size_t len = arg > 0 && (uint64_t)arg <= 64000u ? (size_t)arg : 1500;
    uint8_t *buf = malloc(CSUM_BUF);
    if (!buf) {
        vf_bench_skip(st, "out of memory");
        return;
    }
    for (size_t i = 0; i < CSUM_BUF; i++)
        buf[i] = (uint8_t)(i * 131u + 7u);
    uint64_t acc = 0;
    unsigned off = 0;
    while (vf_bench_next(st)) {
        for (unsigned k = 0; k < 32; k++) {
            const uint8_t *p = buf + (off++ & 15);
            uint64_t seed = acc & 0xffff;   /* a chain, as a real sum is */
            acc = scalar ? vf_csum_add_scalar(seed, p, len) : vf_csum_add(seed, p, len);
        }
        vf_bench_items(st, 32);
    }
    vf_bench_counter(st, "sum", (double)vf_csum_fold(acc));
    free(buf);
}

static void BM_csum(struct vf_bench_state *st, int64_t arg)
{
    csum_run(st, arg, false);
}
VF_BENCH_ARGS(BM_csum, 20, 1500, 64000)

static void BM_csum_scalar(struct vf_bench_state *st, int64_t arg)
{
    csum_run(st, arg, true);
}
VF_BENCH_ARGS(BM_csum_scalar, 20, 1500, 64000)
