/* bench_forward.c - the limit of vfab's in-memory I/O path.
 *
 * BM_null_forward/<burst>: a worker loop that does nothing but rx_burst from
 * a ring port and tx_burst back to it; every other benchmark's
 * cycles_per_packet is read against this one, run in the same process.
 * The packets are a static array (no pool: buffers are never allocated or
 * freed here), pre-filled on the rx ring so the worker never sees it empty.
 *
 * The recycle is counted: each iteration the "outside" (drain from the tx
 * ring, inject into the rx ring) runs on the same thread and inside the
 * timing, as the cost of the traffic generator feeding the worker. So the
 * number is worker + generator per packet, an upper bound on the worker's
 * share. BM_ring_enqueue_dequeue/32 measures one dequeue + one enqueue of 32
 * pointers, i.e. about what the recycle adds (inject also pays a seq_cst
 * fence per burst for the sleep protocol).
 *
 * Items are packets forwarded (received and sent by the worker).
 */
#include <stdalign.h>

#include "fabric/vf_port.h"
#include "fabric/vf_ring.h"
#include "perf/vf_bench.h"

#define FWD_RING_SIZE 1024u
#define FWD_PKTS 256u   /* in flight: enough to never run dry at burst 64 */

static struct vf_pkt fwd_pkts[FWD_PKTS];

static void BM_null_forward(struct vf_bench_state *st, int64_t arg)
{
    unsigned burst = (unsigned)arg;
    if (burst == 0 || burst > VF_BURST_MAX) {
        vf_bench_skip(st, "burst must be 1..VF_BURST_MAX");
        return;
    }
    struct vf_port *p = vf_ring_port_open("null", 1, FWD_RING_SIZE, -1);
    if (!p) {
        vf_bench_skip(st, "vf_ring_port_open failed");
        return;
    }
    struct vf_pkt *pkts[VF_BURST_MAX], *recycle[VF_BURST_MAX];
    for (unsigned i = 0; i < FWD_PKTS; i++) {
        vf_pkt_reset(&fwd_pkts[i]);
        fwd_pkts[i].len = 64;
        struct vf_pkt *one = &fwd_pkts[i];
        vf_ring_port_inject(p, 0, &one, 1);
    }
    uint64_t fwd = 0;
    while (vf_bench_next(st)) {
        /* worker */
        unsigned n = vf_port_rx_burst(p, 0, pkts, burst, NULL);
        unsigned k = vf_port_tx_burst(p, 0, pkts, n, NULL);
        fwd += k;
        /* outside: the generator puts what was sent back on the rx ring */
        unsigned m = vf_ring_port_drain(p, 0, recycle, burst);
        vf_ring_port_inject(p, 0, recycle, m);
    }
    vf_bench_items(st, fwd);
    /* Every packet is still in one ring: nothing was lost on the way. */
    unsigned in_rings = vf_ring_count(vf_ring_port_rx_ring(p, 0)) +
                        vf_ring_count(vf_ring_port_tx_ring(p, 0));
    if (in_rings != FWD_PKTS)
        vf_bench_skip(st, "packets lost in the forward loop");
    vf_port_close(p);
}
VF_BENCH_ARGS(BM_null_forward, 8, 32, 64)

/* One enqueue then one dequeue of `burst` pointers on a half-full ring, so
 * the two indices sit apart as they do under traffic. Items are pointers
 * moved through the ring. */
static void BM_ring_enqueue_dequeue(struct vf_bench_state *st, int64_t arg)
{
    unsigned burst = (unsigned)arg;
    if (burst == 0 || burst > VF_BURST_MAX) {
        vf_bench_skip(st, "burst must be 1..VF_BURST_MAX");
        return;
    }
    struct vf_ring *r = vf_ring_create(FWD_RING_SIZE, -1);
    if (!r) {
        vf_bench_skip(st, "vf_ring_create failed");
        return;
    }
    void *objs[VF_BURST_MAX];
    for (unsigned i = 0; i < VF_BURST_MAX; i++)
        objs[i] = &fwd_pkts[i];
    for (unsigned i = 0; i < FWD_RING_SIZE / 2; i += burst)
        vf_ring_enqueue_burst(r, objs, burst);
    uint64_t moved = 0;
    while (vf_bench_next(st)) {
        vf_ring_enqueue_burst(r, objs, burst);
        moved += vf_ring_dequeue_burst(r, objs, burst);
    }
    vf_bench_items(st, moved);
    vf_ring_destroy(r);
}
VF_BENCH_ARGS(BM_ring_enqueue_dequeue, 1, 8, 32)
