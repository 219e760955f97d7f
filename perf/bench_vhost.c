/* bench_vhost.c - the vhost-user data path against a fake guest in shared
 * memory (no QEMU): cycles per packet to dequeue a burst from the guest's TX
 * ring and to enqueue a burst into its RX ring.
 *
 *   BM_vhost_dequeue/<size>: the guest has frames of <size> bytes waiting;
 *     each iteration the worker takes a burst of 32 into pool buffers
 *     (vf_virtq_enter + vf_virtq_dequeue_burst + leave, as rx_burst does)
 *     and frees them, and the guest makes 32 frames available again.
 *       64, 1500: UDP, one descriptor (header + frame), zero vnet header;
 *       64000: a TSO frame (HOST_TSO4): header + 16 x 4 KB in an indirect
 *              table, as Linux lays out a 64 KB skb, GSO header kept.
 *   BM_vhost_dequeue_csum/1500: TCP with NEEDS_CSUM, as a Linux guest
 *     sends it: vfab completes the checksum (a pass over the payload, the
 *     tap's code), so the difference to BM_vhost_dequeue/1500 is that pass.
 *   BM_vhost_enqueue/<size>: each iteration allocates 32 packets of <size>
 *     bytes (headers written, payload left as it is), enqueues them into the
 *     guest's RX ring of 4 KB mergeable buffers (a 64000-byte GSO frame
 *     takes 16 of them, with a GUEST_TSO4 header), and the guest posts as
 *     many buffers again.
 * Items are packets (a TSO frame is one item); `bytes_per_packet` is the
 * frame size. The guest's own work (avail ring writes, re-posting buffers)
 * runs on the same thread inside the timing, as the generator does in
 * BM_null_forward: run them together and read cycles_per_packet against
 * BM_null_forward/32, measured in the same process:
 *   build/perf/vfab-bench --benchmark_filter='BM_vhost|BM_null_forward/32'
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric/vf_vnet_hdr.h"
#include "fabric/vf_virtq.h"
#include "numa/vf_pool.h"
#include "perf/vf_bench.h"
#include "tests/unit/vf_test_pkt.h"
#include "tests/unit/vf_test_vguest.h"

#define VB_BURST 32u
#define VB_TSO 64000u
#define VB_SEG 4096u
#define VB_CHAINS (2 * VB_BURST)   /* frames the guest keeps ready */
#define VB_FEATURES ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_NET_F_CSUM) | \
                     (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) | \
                     (1ull << VIRTIO_NET_F_GUEST_TSO4) | (1ull << VIRTIO_NET_F_MRG_RXBUF) | \
                     (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX))

struct vb {
    struct vg g;
    struct vg_ring *r;
    struct vf_virtq vq;
    struct vf_pool *pool;
    struct vf_pool_cache *cache;
};

static size_t vb_frame(uint8_t *buf, size_t cap, unsigned size, bool tcp)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    if (!tcp) {
        t.payload_len = size - 42;
        return vf_tpkt_ip4_udp(buf, cap, &t);
    }
    t.payload_len = size - 54;
    return vf_tpkt_ip4_tcp(buf, cap, &t);
}

static const char *vb_open(struct vb *b, unsigned qsize, uint32_t buf_len, bool tx,
                           unsigned data_room)
{
    char err[128];
    memset(b, 0, sizeof(*b));
    if (vg_open(&b->g, 64u << 20) < 0)
        return "memfd for the guest failed";
    b->r = vg_ring_new(&b->g, (uint16_t)qsize, buf_len);
    if (!b->r)
        return "guest memory too small";
    b->pool = vf_pool_create(NULL, -1, 512, data_room, err, sizeof(err));
    b->cache = aligned_alloc(64, sizeof(*b->cache));
    if (!b->pool || !b->cache)
        return "pool";
    vf_pool_cache_init(b->cache, b->pool);
    vf_virtq_init(&b->vq);
    struct vf_virtq_config c;
    vg_config(&b->g, b->r, tx, VB_FEATURES, &c);
    if (vf_virtq_configure(&b->vq, &c) < 0)
        return "vf_virtq_configure failed";
    vf_virtq_publish(&b->vq);
    return NULL;
}

static void vb_close(struct vb *b)
{
    vf_virtq_quiesce(&b->vq);
    if (b->cache) {
        vf_pool_cache_flush(b->cache);
        free(b->cache);
    }
    vf_pool_destroy(b->pool);
    vg_close(&b->g);
}

/* The TX chains: VB_CHAINS frames, each head listed in heads[]. */
static int vb_tx_chains(struct vb *b, unsigned size, bool csum, uint16_t *heads)
{
    static uint8_t frame[VB_TSO];
    bool tso = size == VB_TSO;
    size_t len = vb_frame(frame, sizeof(frame), size, csum || tso);
    struct virtio_net_hdr_v1 h = {0};
    if (csum || tso) {
        h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h.csum_start = 34;
        h.csum_offset = 16;
        /* The pseudo-header sum, as the guest's stack leaves it. */
        uint64_t ps = vf_tpkt_csum_add(0, frame + 26, 8) + 6 + (len - 34);
        vf_tpkt_put16(frame + 50, (uint16_t)~vf_tpkt_csum_fold(ps));
    }
    if (tso) {
        h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        h.gso_size = 1448;
        h.hdr_len = 54;
    }
    for (unsigned c = 0; c < VB_CHAINS; c++) {
        if (!tso) {
            int head = vg_tx_post(b->r, &h, 12, frame, (uint32_t)len, 1);
            if (head < 0)
                return -1;
            heads[c] = (uint16_t)head;
            continue;
        }
        /* Header + 16 page-sized pieces in an indirect table. */
        unsigned nseg = 1 + (unsigned)((len + VB_SEG - 1) / VB_SEG);
        struct vring_desc *tab = vg_alloc(&b->g, 16u * nseg, 16);
        uint8_t *data = vg_alloc(&b->g, 12 + len, 64);
        if (!tab || !data)
            return -1;
        memcpy(data, &h, 12);
        memcpy(data + 12, frame, len);
        tab[0] = (struct vring_desc){vg_gpa(&b->g, data), 12, VRING_DESC_F_NEXT, 1};
        for (unsigned s = 1; s < nseg; s++) {
            size_t off = (size_t)(s - 1) * VB_SEG;
            uint32_t n = (uint32_t)(len - off < VB_SEG ? len - off : VB_SEG);
            tab[s] = (struct vring_desc){vg_gpa(&b->g, data + 12 + off), n,
                                         s + 1 < nseg ? VRING_DESC_F_NEXT : 0,
                                         (uint16_t)(s + 1)};
        }
        uint16_t slot = (uint16_t)(b->r->next_slot++ % b->r->size);
        b->r->desc[slot] = (struct vring_desc){vg_gpa(&b->g, tab), 16u * nseg,
                                               VRING_DESC_F_INDIRECT, 0};
        heads[c] = slot;
        vg_avail_push(b->r, slot);
    }
    return 0;
}

static void dequeue_run(struct vf_bench_state *st, unsigned size, bool csum)
{
    struct vb b;
    uint16_t heads[VB_CHAINS];
    const char *why = vb_open(&b, 256, 2048, true,
                              size == VB_TSO ? VF_PKT_HEADROOM + VF_VIRTQ_MAX_FRAME
                                             : VF_PKT_DEFAULT_DATA_ROOM);
    if (!why && vb_tx_chains(&b, size, csum, heads) < 0)
        why = "guest memory for the chains";
    if (why) {
        vf_bench_skip(st, why);
        vb_close(&b);
        return;
    }
    struct vf_pkt *pkts[VB_BURST];
    uint64_t got = 0, bad = 0;
    unsigned next = 0;
    while (vf_bench_next(st)) {
        /* worker: rx_burst's work */
        unsigned k = 0;
        if (vf_virtq_enter(&b.vq)) {
            k = vf_virtq_dequeue_burst(&b.vq, pkts, VB_BURST, b.cache, NULL);
            vf_virtq_leave(&b.vq);
        }
        got += k;
        for (unsigned i = 0; i < k; i++)
            bad += pkts[i]->len != size;
        vf_pool_free_burst(b.cache, pkts, k);
        /* guest: the same chains, made available again */
        for (unsigned i = 0; i < k; i++) {
            vg_avail_push(b.r, heads[next]);
            next = (next + 1) % VB_CHAINS;
        }
    }
    vf_bench_items(st, got);
    vf_bench_counter(st, "bytes_per_packet", size);
    if (bad || atomic_load(&b.vq.broken))
        vf_bench_skip(st, "frames came out wrong");
    vb_close(&b);
}

static void BM_vhost_dequeue(struct vf_bench_state *st, int64_t arg)
{
    dequeue_run(st, (unsigned)arg, false);
}
VF_BENCH_ARGS(BM_vhost_dequeue, 64, 1500, VB_TSO)

static void BM_vhost_dequeue_csum(struct vf_bench_state *st, int64_t arg)
{
    dequeue_run(st, (unsigned)arg, true);
}
VF_BENCH_ARGS(BM_vhost_dequeue_csum, 1500)

static void BM_vhost_enqueue(struct vf_bench_state *st, int64_t arg)
{
    unsigned size = (unsigned)arg;
    bool tso = size == VB_TSO;
    struct vb b;
    /* A TSO frame takes 16 buffers: room for a burst of them and more. */
    const char *why = vb_open(&b, tso ? 1024 : 256, VB_SEG, false,
                              tso ? VF_PKT_HEADROOM + VF_VIRTQ_MAX_FRAME
                                  : VF_PKT_DEFAULT_DATA_ROOM);
    if (why) {
        vf_bench_skip(st, why);
        vb_close(&b);
        return;
    }
    static uint8_t frame[VB_TSO];
    size_t len = vb_frame(frame, sizeof(frame), size, size > 64);
    unsigned hdrs = size > 64 ? 54 : 42;
    vg_rx_post(b.r, b.r->size);
    struct vf_pkt *pkts[VB_BURST];
    uint64_t sent = 0;
    while (vf_bench_next(st)) {
        /* the packets the pipeline would hand to tx_burst */
        unsigned n = vf_pool_alloc_burst(b.cache, pkts, VB_BURST);
        for (unsigned i = 0; i < n; i++) {
            memcpy(vf_pkt_data(pkts[i]), frame, hdrs);
            pkts[i]->len = (uint32_t)len;
            pkts[i]->gso_size = tso ? 1448 : 0;
        }
        unsigned k = 0;
        if (vf_virtq_enter(&b.vq)) {
            k = vf_virtq_enqueue_burst(&b.vq, pkts, n, b.cache, NULL);
            vf_virtq_leave(&b.vq);
        }
        sent += k;
        if (k < n)
            vf_pool_free_burst(b.cache, pkts + k, n - k);
        /* guest: takes the used buffers, posts as many again */
        uint16_t used = __atomic_load_n(&b.r->used->idx, __ATOMIC_ACQUIRE);
        unsigned again = (uint16_t)(used - b.r->used_seen);
        b.r->used_seen = used;
        vg_rx_post(b.r, again);
    }
    vf_bench_items(st, sent);
    vf_bench_counter(st, "bytes_per_packet", size);
    if (atomic_load(&b.vq.broken))
        vf_bench_skip(st, "the ring broke");
    vb_close(&b);
}
VF_BENCH_ARGS(BM_vhost_enqueue, 64, 1500, VB_TSO)
