/* seeds_vhost.c - fuzz_vhost's seeds: small guest programs (the input
 * format of vf_fuzz_vhost.h) that do what a virtio-net driver does, and
 * the classic malicious chains the unit tests name, so the fuzzer starts
 * from rings that work and from each way of breaking one.
 */
#include <string.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "tests/fuzz/vf_fuzz_seeds.h"
#include "tests/fuzz/vf_fuzz_vhost.h"
#include "tests/unit/vf_test_pkt.h"

/* Guest-physical address of offset off in region A. */
#define GA(off) (FV_GPA_A + (off))

static void start(struct fz_in *in, uint8_t features, unsigned rx_log2,
                  unsigned tx_log2)
{
    in->n = 0;
    fz_le(in, features, 1);
    fz_le(in, rx_log2 | tx_log2 << 4, 1);
}

static void desc(struct fz_in *in, int ring, unsigned i, uint64_t addr,
                 uint32_t len, uint16_t flags, uint16_t next)
{
    fz_le(in, FV_OP_DESC, 1);
    fz_le(in, (uint64_t)ring, 1);
    fz_le(in, i, 1);
    fz_le(in, addr, 8);
    fz_le(in, len, 4);
    fz_le(in, flags, 2);
    fz_le(in, next, 2);
}

static void push(struct fz_in *in, int ring, uint16_t head)
{
    fz_le(in, FV_OP_PUSH, 1);
    fz_le(in, (uint64_t)ring, 1);
    fz_le(in, head, 2);
}

/* Bytes at linear offset off (A, B, C end to end), 255 at a time. */
static void put_mem(struct fz_in *in, uint32_t off, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        size_t k = n < 255 ? n : 255;
        fz_le(in, FV_OP_WRITE, 1);
        fz_le(in, off, 4);
        fz_le(in, k, 1);
        fz_bytes(in, b, k);
        off += (uint32_t)k;
        b += k;
        n -= k;
    }
}

/* A vnet header and a frame, one after the other at offset off. */
static void put_frame(struct fz_in *in, uint32_t off,
                      const struct virtio_net_hdr_v1 *h, const uint8_t *f,
                      size_t n)
{
    put_mem(in, off, h, sizeof(*h));
    put_mem(in, off + (uint32_t)sizeof(*h), f, n);
}

static void deq(struct fz_in *in, unsigned n)
{
    fz_le(in, FV_OP_DEQ, 1);
    fz_le(in, n - 1, 1);
}

struct enq_pkt {
    const uint8_t *f;
    size_t n;
    uint16_t mss;
};

static void enq(struct fz_in *in, const struct enq_pkt *p, unsigned n)
{
    fz_le(in, FV_OP_ENQ, 1);
    fz_le(in, n - 1, 1);
    for (unsigned i = 0; i < n; i++) {
        fz_le(in, p[i].n, 2);
        fz_le(in, p[i].mss ? 0x8000u | p[i].mss : 0, 2);
        fz_bytes(in, p[i].f, p[i].n);
    }
}

static void one(struct fz_in *in, int op, int ring)
{
    fz_le(in, (uint64_t)op, 1);
    fz_le(in, (uint64_t)ring, 1);
}

static size_t udp(uint8_t *b, size_t cap, size_t payload)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.payload_len = payload;
    return vf_tpkt_ip4_udp(b, cap, &t);
}

static size_t tcp(uint8_t *b, size_t cap, size_t payload, bool v6)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.tcp_flags = 0x18;
    t.payload_len = payload;
    return v6 ? vf_tpkt_ip6_tcp(b, cap, &t) : vf_tpkt_ip4_tcp(b, cap, &t);
}

void fz_seeds_vhost(void)
{
    static struct fz_in in;
    static uint8_t f[4096], g[4096];
    struct virtio_net_hdr_v1 h0 = {0};
    size_t n = udp(f, sizeof(f), 22), m = udp(g, sizeof(g), 1000);

    /* A frame in one descriptor, and one over three (header alone, the
     * frame in two halves). */
    start(&in, FV_F_VERSION_1, 3, 3);
    put_frame(&in, FV_DATA_OFF, &h0, f, n);
    desc(&in, FV_TX, 0, GA(FV_DATA_OFF), (uint32_t)(12 + n), 0, 0);
    push(&in, FV_TX, 0);
    put_mem(&in, 0x3000, &h0, 12);
    put_mem(&in, 0x3100, g, m / 2);
    put_mem(&in, 0x3800, g + m / 2, m - m / 2);
    desc(&in, FV_TX, 1, GA(0x3000), 12, VRING_DESC_F_NEXT, 2);
    desc(&in, FV_TX, 2, GA(0x3100), (uint32_t)(m / 2), VRING_DESC_F_NEXT, 3);
    desc(&in, FV_TX, 3, GA(0x3800), (uint32_t)(m - m / 2), 0, 0);
    push(&in, FV_TX, 1);
    deq(&in, 4);
    fz_put("vhost", "tx-plain", in.b, in.n);

    /* One buffer that runs from region B into region C. */
    start(&in, FV_F_VERSION_1, 2, 2);
    put_frame(&in, FV_SIZE_A + FV_SIZE_B - 40, &h0, f, n);
    desc(&in, FV_TX, 0, FV_GPA_C - 40, (uint32_t)(12 + n), 0, 0);
    push(&in, FV_TX, 0);
    deq(&in, 1);
    fz_put("vhost", "tx-span-regions", in.b, in.n);

    /* An indirect table of two descriptors, 4 bytes off alignment. */
    start(&in, FV_F_VERSION_1 | FV_F_INDIRECT, 2, 2);
    put_frame(&in, FV_DATA_OFF, &h0, f, n);
    {
        struct vring_desc t[2] = {
            {GA(FV_DATA_OFF), 12, VRING_DESC_F_NEXT, 1},
            {GA(FV_DATA_OFF + 12), (uint32_t)n, 0, 0},
        };
        put_mem(&in, 0x5004, t, sizeof(t));
    }
    desc(&in, FV_TX, 0, GA(0x5004), 32, VRING_DESC_F_INDIRECT, 0);
    push(&in, FV_TX, 0);
    deq(&in, 1);
    fz_put("vhost", "tx-indirect", in.b, in.n);

    /* Checksum offload: a UDP frame with NEEDS_CSUM, and a TCP TSO frame
     * into 64 KB buffers. */
    start(&in, FV_F_VERSION_1 | FV_F_BIG_BUFS, 2, 2);
    {
        struct virtio_net_hdr_v1 hc = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                       .csum_start = 34, .csum_offset = 6};
        put_frame(&in, FV_DATA_OFF, &hc, f, n);
        desc(&in, FV_TX, 0, GA(FV_DATA_OFF), (uint32_t)(12 + n), 0, 0);
        push(&in, FV_TX, 0);
        static uint8_t big[4096];
        size_t k = tcp(big, sizeof(big), 3000, false);
        struct virtio_net_hdr_v1 ht = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
                                       .hdr_len = 54, .gso_size = 1448,
                                       .csum_start = 34, .csum_offset = 16};
        put_frame(&in, 0x6000, &ht, big, k);
        desc(&in, FV_TX, 1, GA(0x6000), (uint32_t)(12 + k), 0, 0);
        push(&in, FV_TX, 1);
    }
    deq(&in, 2);
    fz_put("vhost", "tx-csum-tso", in.b, in.n);

    /* Mergeable receive buffers: four of 256 bytes, a small frame and one
     * that needs three of them. */
    start(&in, FV_F_VERSION_1 | FV_F_MRG_RXBUF, 3, 3);
    for (unsigned i = 0; i < 4; i++) {
        desc(&in, FV_RX, i, GA(0x8000 + 256 * i), 256, VRING_DESC_F_WRITE, 0);
        push(&in, FV_RX, (uint16_t)i);
    }
    {
        size_t k = udp(g, sizeof(g), 560);
        struct enq_pkt p[2] = {{f, n, 0}, {g, k, 0}};
        enq(&in, p, 2);
    }
    fz_put("vhost", "rx-mrg", in.b, in.n);

    /* No mergeable buffers (10-byte header): one buffer, and a chain of
     * two; then a frame with no buffer left. */
    start(&in, 0, 3, 3);
    desc(&in, FV_RX, 0, GA(0x8000), 2048, VRING_DESC_F_WRITE, 0);
    desc(&in, FV_RX, 1, GA(0x9000), 100, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
    desc(&in, FV_RX, 2, GA(0xa000), 1900, VRING_DESC_F_WRITE, 0);
    push(&in, FV_RX, 0);
    push(&in, FV_RX, 1);
    {
        struct enq_pkt p[3] = {{f, n, 0}, {g, m, 0}, {f, n, 0}};
        enq(&in, p, 3);
    }
    fz_put("vhost", "rx-one-buffer", in.b, in.n);

    /* TSO to a guest that takes it (IPv4), and to one that does not (v6). */
    start(&in, FV_F_VERSION_1 | FV_F_MRG_RXBUF | FV_F_GUEST_TSO4, 3, 3);
    for (unsigned i = 0; i < 8; i++) {
        desc(&in, FV_RX, i, GA(0x8000 + 1024 * i), 1024, VRING_DESC_F_WRITE, 0);
        push(&in, FV_RX, (uint16_t)i);
    }
    {
        static uint8_t t4[2048], t6[2048];
        size_t k4 = tcp(t4, sizeof(t4), 1800, false);
        size_t k6 = tcp(t6, sizeof(t6), 1780, true);
        struct enq_pkt p[2] = {{t4, k4, 1000}, {t6, k6, 1000}};
        enq(&in, p, 2);
    }
    fz_put("vhost", "rx-tso", in.b, in.n);

    /* Notifications with EVENT_IDX: kicks on, a frame, the guest's
     * used_event, kicks off. */
    start(&in, FV_F_VERSION_1 | FV_F_EVENT_IDX, 2, 2);
    fz_le(&in, FV_OP_NOTIFY, 1);
    fz_le(&in, FV_TX, 1);
    fz_le(&in, 1, 1);
    put_frame(&in, FV_DATA_OFF, &h0, f, n);
    desc(&in, FV_TX, 0, GA(FV_DATA_OFF), (uint32_t)(12 + n), 0, 0);
    push(&in, FV_TX, 0);
    fz_le(&in, FV_OP_EVENT, 1);
    fz_le(&in, FV_TX, 1);
    fz_le(&in, 0, 2);
    fz_le(&in, 0, 2);
    deq(&in, 1);
    fz_le(&in, FV_OP_NOTIFY, 1);
    fz_le(&in, FV_TX, 1);
    fz_le(&in, 0, 1);
    fz_put("vhost", "notify-event-idx", in.b, in.n);

    /* The malicious guest, one seed per way of breaking a ring; each then
     * repairs its ring, restarts it and sends a good frame. */
    static const struct {
        const char *name;
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next, head;
    } evil[] = {
        {"evil-loop", GA(FV_DATA_OFF), 12, VRING_DESC_F_NEXT, 0, 0},
        {"evil-next", GA(FV_DATA_OFF), 12, VRING_DESC_F_NEXT, 9, 0},
        {"evil-head", GA(FV_DATA_OFF), 76, 0, 0, 200},
        {"evil-gap", 0x20000, 76, 0, 0, 0},
        {"evil-wrap", 0xfffffffffffffff0ull, 76, 0, 0, 0},
        {"evil-long", GA(FV_DATA_OFF), 0x20000, 0, 0, 0},
        {"evil-write-dir", GA(FV_DATA_OFF), 76, VRING_DESC_F_WRITE, 0, 0},
        {"evil-indirect-next", GA(0x5000), 32,
         VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1, 0},
        {"regress-indirect-into-ring", GA(FV_DESC_OFF(FV_TX)), 16 * 4,
         VRING_DESC_F_INDIRECT, 0, 0},
    };
    for (size_t e = 0; e < sizeof(evil) / sizeof(evil[0]); e++) {
        start(&in, FV_F_VERSION_1 | FV_F_INDIRECT, 2, 2);
        put_frame(&in, FV_DATA_OFF, &h0, f, n);
        desc(&in, FV_TX, 0, evil[e].addr, evil[e].len, evil[e].flags,
             evil[e].next);
        push(&in, FV_TX, evil[e].head);
        deq(&in, 1);
        desc(&in, FV_TX, 0, GA(FV_DATA_OFF), (uint32_t)(12 + n), 0, 0);
        fz_le(&in, FV_OP_WRITE, 1);       /* the avail entry back to head 0 */
        fz_le(&in, FV_AVAIL_OFF(FV_TX) + 4, 4);
        fz_le(&in, 2, 1);
        fz_le(&in, 0, 2);
        one(&in, FV_OP_RESTART, FV_TX);
        deq(&in, 1);
        fz_put("vhost", evil[e].name, in.b, in.n);
    }
    /* An avail index that jumps past the ring, on both rings. */
    start(&in, FV_F_VERSION_1, 2, 2);
    fz_le(&in, FV_OP_IDX, 1);
    fz_le(&in, FV_TX, 1);
    fz_le(&in, 100, 2);
    deq(&in, 1);
    fz_le(&in, FV_OP_IDX, 1);
    fz_le(&in, FV_RX, 1);
    fz_le(&in, 0x8000, 2);
    {
        struct enq_pkt p[1] = {{f, n, 0}};
        enq(&in, p, 1);
    }
    fz_put("vhost", "evil-avail-jump", in.b, in.n);
}
