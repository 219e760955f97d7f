/* bench_parse.c - vf_parse() and vf_flow_key_hash() per packet.
 *
 * Each iteration handles a burst of 32 frames, as a worker would: 32
 * different flows laid out one frame per 2 KiB slot (like pool buffers), so
 * the numbers include touching a new frame each time but no cache misses
 * (the whole set stays in L1/L2). Target: < 20 cycles/packet for TCP/IPv4.
 */
#include <stdint.h>
#include <string.h>

#include "perf/vf_bench.h"
#include "pipeline/vf_parse.h"
#include "tests/unit/vf_test_pkt.h"

#define BURST 32
#define SLOT 2048

static uint8_t frames[BURST][SLOT] __attribute__((aligned(64)));
static uint32_t lens[BURST];
static struct vf_flow_key keys[BURST];
static struct vf_hdr_offsets offs[BURST];

/* 32 flows differing in source port and address; 64 bytes of payload. */
static int build_burst(bool v6)
{
    unsigned i;

    for (i = 0; i < BURST; i++) {
        struct vf_tpkt t;

        vf_tpkt_init(&t);
        t.sport = (uint16_t)(10000 + i);
        t.ip4_src += i;
        t.ip6_src[15] = (uint8_t)i;
        t.payload_len = 64;
        lens[i] = (uint32_t)(v6 ? vf_tpkt_ip6_tcp(frames[i], SLOT, &t)
                                : vf_tpkt_ip4_tcp(frames[i], SLOT, &t));
        if (!lens[i])
            return -1;
    }
    return 0;
}

static void parse_burst(struct vf_bench_state *st, bool v6)
{
    unsigned i, bad = 0;

    if (build_burst(v6) < 0) {
        vf_bench_skip(st, "frame build failed");
        return;
    }
    while (vf_bench_next(st)) {
        for (i = 0; i < BURST; i++)
            bad |= (unsigned)vf_parse(frames[i], lens[i], &keys[i], &offs[i]);
        vf_bench_items(st, BURST);
    }
    if (bad)
        vf_bench_skip(st, "a benchmark frame did not parse");
}

static void BM_parse(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    parse_burst(st, false);
}
VF_BENCH(BM_parse)

static void BM_parse_ipv6_tcp(struct vf_bench_state *st, int64_t arg)
{
    (void)arg;
    parse_burst(st, true);
}
VF_BENCH(BM_parse_ipv6_tcp)

/* Independent keys, as in a burst: measures throughput, which is what a
 * worker sees (the CPU overlaps the CRC chains of neighbouring keys). */
static void BM_flow_hash(struct vf_bench_state *st, int64_t arg)
{
    static uint32_t hashes[BURST];
    uint32_t acc = 0;
    unsigned i;

    (void)arg;
    if (build_burst(false) < 0) {
        vf_bench_skip(st, "frame build failed");
        return;
    }
    for (i = 0; i < BURST; i++)
        vf_parse(frames[i], lens[i], &keys[i], &offs[i]);
    while (vf_bench_next(st)) {
        for (i = 0; i < BURST; i++)
            hashes[i] = vf_flow_key_hash(&keys[i], i);
        vf_bench_items(st, BURST);
    }
    for (i = 0; i < BURST; i++)
        acc ^= hashes[i];
    vf_bench_counter(st, "sink", (double)(acc & 1));
}
VF_BENCH(BM_flow_hash)
