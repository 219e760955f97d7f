/* test_vhost.c - the vhost-user backend: split virtqueues (vf_virtq.h), the
 * protocol (vf_vhost_user.h) and the port (vf_port_vhost.h).
 *
 * Data path tests drive one vf_virtq against a fake guest in a memfd
 * (vf_test_vguest.h): frames the guest posts come out as packets with the
 * same bytes, packets go into the guest's buffers with the right vnet
 * header. Then the malicious guest: hand-built chains with loops,
 * addresses outside guest memory, huge lengths, bad indices, wrong
 * directions and bad indirect tables; each must break the ring with its
 * named reason counted once, signal the error eventfd, leak no buffer and
 * leave the process running.
 *
 * Protocol tests play QEMU: the test listens on a Unix socket, the port's
 * device connects to it (client mode), and the test sends the message
 * sequence QEMU 7.2 sends (kvm-vhost-user-probe.md), with the fake guest's
 * memfd as guest memory and eventfds as kick/call. The device is serviced
 * from the test thread after each message, so every step is deterministic;
 * waits (reconnects) are bounded by deadlines.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "fabric/vf_port_vhost.h"
#include "fabric/vf_vhost_user.h"
#include "fabric/vf_virtq.h"
#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_pool.h"
#include "vf_test_pkt.h"
#include "vf_test_vguest.h"

#define F(bit) (1ull << (bit))
#define FEAT_BASE (F(VIRTIO_F_VERSION_1))
#define QSIZE 64u
#define GUEST_MEM (4u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- fixture: a guest, a ring, a pool ------------------------------------ */

struct fx {
    struct vg g;
    struct vg_ring *r;
    struct vf_virtq vq;
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    int err_fd, call_fd;
};

static struct fx *fx_new(bool tx, uint64_t features, uint32_t buf_len,
                         unsigned data_room)
{
    char err[128];
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(vg_open(&f->g, GUEST_MEM), 0);
    f->r = vg_ring_new(&f->g, QSIZE, buf_len);
    assert_non_null(f->r);
    f->pool = vf_pool_create(NULL, -1, 256, data_room, err, sizeof(err));
    assert_non_null(f->pool);
    vf_pool_cache_init(&f->cache, f->pool);
    f->err_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    f->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    vf_virtq_init(&f->vq);
    struct vf_virtq_config c;
    vg_config(&f->g, f->r, tx, features, &c);
    c.err_fd = f->err_fd;
    c.call_fd = f->call_fd;
    assert_int_equal(vf_virtq_configure(&f->vq, &c), 0);
    vf_virtq_publish(&f->vq);
    return f;
}

static void fx_free(struct fx *f)
{
    vf_virtq_quiesce(&f->vq);
    vf_pool_cache_flush(&f->cache);
    /* Every buffer a test did not keep went back: nothing leaked. */
    assert_int_equal(vf_pool_in_use(f->pool), 0);
    vf_pool_destroy(f->pool);
    vg_close(&f->g);
    close(f->err_fd);
    close(f->call_fd);
    free(f);
}

static uint64_t efd_read(int fd)
{
    uint64_t v = 0;
    if (read(fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static unsigned deq(struct fx *f, struct vf_pkt **pkts, unsigned n,
                    struct vf_virtq_burst *res)
{
    assert_true(vf_virtq_enter(&f->vq));
    unsigned k = vf_virtq_dequeue_burst(&f->vq, pkts, n, &f->cache, res);
    vf_virtq_leave(&f->vq);
    return k;
}

static unsigned enq(struct fx *f, struct vf_pkt **pkts, unsigned n,
                    struct vf_virtq_burst *res)
{
    assert_true(vf_virtq_enter(&f->vq));
    unsigned k = vf_virtq_enqueue_burst(&f->vq, pkts, n, &f->cache, res);
    vf_virtq_leave(&f->vq);
    return k;
}

static size_t udp_frame(uint8_t *buf, size_t cap, size_t payload)
{
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.payload_len = payload;
    return vf_tpkt_ip4_udp(buf, cap, &t);
}

static uint64_t err_count(const struct fx *f, unsigned e)
{
    return atomic_load(&f->vq.st.err[e]);
}

/* ---- guest TX -> packets --------------------------------------------------- */

static void test_tx_plain(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE, 2048, VF_PKT_DEFAULT_DATA_ROOM);
    uint8_t frame[256];
    struct virtio_net_hdr_v1 h = {0};
    size_t len = udp_frame(frame, sizeof(frame), 22);   /* 64 bytes */
    assert_int_equal(len, 64);
    int head = vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1);
    assert_true(head >= 0);
    /* The header split 5 + 7 over two descriptors, the frame over two. */
    uint8_t frame2[1500];
    size_t len2 = udp_frame(frame2, sizeof(frame2), 1400);
    assert_true(vg_tx_post(f->r, &h, 12, frame2, (uint32_t)len2, 3) >= 0);

    struct vf_pkt *p[4];
    struct vf_virtq_burst res;
    assert_int_equal(deq(f, p, 4, &res), 2);
    assert_int_equal(res.delivered, 2);
    assert_int_equal(res.dropped, 0);
    assert_int_equal(res.bytes, len + len2);
    assert_int_equal(p[0]->len, len);
    assert_memory_equal(vf_pkt_data(p[0]), frame, len);
    assert_int_equal(p[0]->gso_size, 0);
    assert_int_equal(p[1]->len, len2);
    assert_memory_equal(vf_pkt_data(p[1]), frame2, len2);
    /* Both chains came back used, TX buffers with length 0, in order. */
    uint32_t id = 0, ulen = 0;
    assert_true(vg_used_pop(f->r, &id, &ulen));
    assert_int_equal(id, head);
    assert_int_equal(ulen, 0);
    assert_true(vg_used_pop(f->r, &id, &ulen));
    assert_false(vg_used_pop(f->r, &id, &ulen));
    /* Nothing more: an empty ring gives nothing. */
    assert_int_equal(deq(f, p, 4, NULL), 0);
    /* The guest did not ask for no interrupts: it got one (one per burst). */
    assert_int_equal(efd_read(f->call_fd), 1);
    vf_pool_free_burst(&f->cache, p, 2);
    fx_free(f);
}

/* A header whose first 5 bytes are in one descriptor and the rest with the
 * frame (any layout), through an indirect table. */
static void test_tx_indirect(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE | F(VIRTIO_RING_F_INDIRECT_DESC), 2048,
                          VF_PKT_DEFAULT_DATA_ROOM);
    uint8_t frame[300];
    size_t len = udp_frame(frame, sizeof(frame), 200);
    uint8_t *buf = vg_slot_buf(f->r, 10);
    struct virtio_net_hdr_v1 h = {0};
    memcpy(buf, &h, 12);
    memcpy(buf + 12, frame, len);
    /* The spec does not ask an indirect table to be aligned: 4 bytes off. */
    struct vring_desc *tab = (void *)((uint8_t *)vg_alloc(&f->g, 3 * 16 + 4, 16) + 4);
    uint64_t gpa = vg_slot_gpa(f->r, 10);
    struct vring_desc d[3] = {
        {gpa, 5, VRING_DESC_F_NEXT, 2},
        {gpa + 112, (uint32_t)len - 100, 0, 0},
        {gpa + 5, 7 + 100, VRING_DESC_F_NEXT, 1},
    };
    memcpy(tab, d, sizeof(d));
    f->r->desc[3] = (struct vring_desc){vg_gpa(&f->g, tab), 48, VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 3);
    struct vf_pkt *p;
    assert_int_equal(deq(f, &p, 1, NULL), 1);
    assert_int_equal(p->len, len);
    assert_memory_equal(vf_pkt_data(p), frame, len);
    vf_pool_free(&f->cache, p);
    fx_free(f);
}

/* NEEDS_CSUM (what a Linux guest sends with CSUM): the checksum is
 * completed to the value a full computation gives. */
static void test_tx_csum_partial(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE | F(VIRTIO_NET_F_CSUM), 2048,
                          VF_PKT_DEFAULT_DATA_ROOM);
    uint8_t frame[1600];
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.payload_len = 1000;
    size_t len = vf_tpkt_ip4_tcp(frame, sizeof(frame), &t);
    uint16_t good = vf_tpkt_get16(frame + 14 + 20 + 16);
    /* The guest leaves the pseudo-header sum (folded, not inverted) in the
     * field, as CHECKSUM_PARTIAL does. */
    uint8_t *ip = frame + 14;
    uint64_t ps = vf_tpkt_csum_add(0, ip + 12, 8) + 6 + (len - 34);
    vf_tpkt_put16(frame + 34 + 16, (uint16_t)~vf_tpkt_csum_fold(ps));
    struct virtio_net_hdr_v1 h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16,
    };
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 2) >= 0);
    struct vf_pkt *p;
    assert_int_equal(deq(f, &p, 1, NULL), 1);
    assert_int_equal(vf_tpkt_get16(vf_pkt_data(p) + 34 + 16), good);
    vf_pool_free(&f->cache, p);
    fx_free(f);
}

/* HOST_TSO4: a 20000-byte TCP frame with a GSO header keeps its MSS. */
static void test_tx_gso(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE | F(VIRTIO_NET_F_CSUM) |
                          F(VIRTIO_NET_F_HOST_TSO4), 4096, VF_VHOST_TSO_DATA_ROOM);
    static uint8_t frame[20100];
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.payload_len = 20000;
    size_t len = vf_tpkt_ip4_tcp(frame, sizeof(frame), &t);
    struct virtio_net_hdr_v1 h = {
        .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
        .hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16,
    };
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 6) >= 0);
    struct vf_pkt *p;
    assert_int_equal(deq(f, &p, 1, NULL), 1);
    assert_int_equal(p->len, len);
    assert_int_equal(p->gso_size, 1448);
    assert_memory_equal(vf_pkt_data(p) + 54, frame + 54, len - 54);
    vf_pool_free(&f->cache, p);
    fx_free(f);
}

/* Frame-level faults: counted, dropped, and the ring goes on. */
static void test_tx_frame_drops(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE, 4096, VF_PKT_DEFAULT_DATA_ROOM);
    static uint8_t big[3000];
    uint8_t frame[128];
    struct virtio_net_hdr_v1 h = {0};
    size_t len = udp_frame(frame, sizeof(frame), 40);
    size_t blen = udp_frame(big, sizeof(big), 2900);   /* > 1920 bytes of room */
    struct virtio_net_hdr_v1 bad = {.gso_type = VIRTIO_NET_HDR_GSO_UDP, .gso_size = 1000};
    struct virtio_net_hdr_v1 badcs = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                                      .csum_start = 80, .csum_offset = 16};
    assert_true(vg_tx_post(f->r, &h, 12, big, (uint32_t)blen, 1) >= 0);
    assert_true(vg_tx_post(f->r, &h, 12, frame, 10, 1) >= 0);          /* runt */
    assert_true(vg_tx_post(f->r, &bad, 12, frame, (uint32_t)len, 1) >= 0);
    assert_true(vg_tx_post(f->r, &badcs, 12, frame, (uint32_t)len, 1) >= 0);
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0); /* good */
    struct vf_pkt *p[8];
    struct vf_virtq_burst res;
    assert_int_equal(deq(f, p, 8, &res), 1);
    assert_int_equal(res.dropped, 4);
    assert_memory_equal(vf_pkt_data(p[0]), frame, len);
    assert_int_equal(err_count(f, VF_VIRTQ_ERR_TOO_BIG), 1);
    assert_int_equal(err_count(f, VF_VIRTQ_ERR_RUNT), 1);
    assert_int_equal(err_count(f, VF_VIRTQ_ERR_BAD_HDR), 2);
    assert_int_equal(atomic_load(&f->vq.broken), 0);
    /* All five went back to the guest. */
    uint32_t id = 0, ul = 0;
    for (int i = 0; i < 5; i++)
        assert_true(vg_used_pop(f->r, &id, &ul));
    vf_pool_free(&f->cache, p[0]);
    fx_free(f);
}

/* ---- the malicious guest ---------------------------------------------------- */

/* Each case writes descriptors and the avail ring of a fresh TX (or RX)
 * ring, then runs one burst: it must break the ring with `want` counted
 * once, signal the error eventfd, return nothing, and stay broken. */
typedef void (*evil_fn)(struct fx *f);

static void expect_broken(bool tx, uint64_t features, evil_fn setup, unsigned want)
{
    struct fx *f = fx_new(tx, features, 2048, VF_PKT_DEFAULT_DATA_ROOM);
    setup(f);
    struct vf_pkt *p[8];
    uint8_t frame[64];
    size_t len = udp_frame(frame, sizeof(frame), 22);
    if (tx) {
        assert_int_equal(deq(f, p, 8, NULL), 0);
    } else {
        struct vf_pkt *q = vf_pool_alloc(&f->cache);
        assert_non_null(q);
        assert_int_equal(vf_pkt_set(q, frame, (uint32_t)len), 0);
        p[0] = q;
        assert_int_equal(enq(f, p, 1, NULL), 0);
        vf_pool_free(&f->cache, q);   /* refused: still ours */
    }
    assert_int_equal(atomic_load(&f->vq.broken), want);
    for (unsigned e = 1; e < VF_VIRTQ_ERR__COUNT; e++)
        assert_int_equal(err_count(f, e), e == want ? 1 : 0);
    assert_int_equal(efd_read(f->err_fd), 1);
    /* Broken stays broken, quietly: no second count, no second signal. */
    assert_int_equal(deq(f, p, 8, NULL), 0);
    assert_int_equal(err_count(f, want), 1);
    assert_int_equal(efd_read(f->err_fd), 0);
    assert_true(vf_virtq_err_breaks(want));
    fx_free(f);
}

static void evil_loop(struct fx *f)
{
    uint64_t a = vg_slot_gpa(f->r, 0);
    f->r->desc[0] = (struct vring_desc){a, 10, VRING_DESC_F_NEXT, 1};
    f->r->desc[1] = (struct vring_desc){a, 10, VRING_DESC_F_NEXT, 2};
    f->r->desc[2] = (struct vring_desc){a, 10, VRING_DESC_F_NEXT, 0};
    vg_avail_push(f->r, 0);
}

static void evil_self_loop(struct fx *f)
{
    f->r->desc[5] = (struct vring_desc){vg_slot_gpa(f->r, 5), 1, VRING_DESC_F_NEXT, 5};
    vg_avail_push(f->r, 5);
}

static void evil_addr_past_end(struct fx *f)
{
    /* The buffer starts inside guest memory and runs 100 bytes past it. */
    f->r->desc[0] = (struct vring_desc){VG_GPA_BASE + GUEST_MEM - 20, 120, 0, 0};
    vg_avail_push(f->r, 0);
}

static void evil_addr_below(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){0x1000, 100, 0, 0};
    vg_avail_push(f->r, 0);
}

static void evil_addr_wrap(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){UINT64_MAX - 15, 200, 0, 0};
    vg_avail_push(f->r, 0);
}

static void evil_huge_len(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){vg_slot_gpa(f->r, 0), UINT32_MAX, 0, 0};
    vg_avail_push(f->r, 0);
}

/* Inside guest memory but longer than any frame: 12 + 64 KB + 33. */
static void evil_long_chain(struct fx *f)
{
    uint64_t a = VG_GPA_BASE + 0x100000;
    f->r->desc[0] = (struct vring_desc){a, 40000, VRING_DESC_F_NEXT, 1};
    f->r->desc[1] = (struct vring_desc){a, VF_VIRTQ_TX_CHAIN_MAX - 40000 + 1, 0, 0};
    vg_avail_push(f->r, 0);
}

static void evil_bad_head(struct fx *f)
{
    vg_avail_push(f->r, QSIZE + 3);
}

static void evil_bad_next(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){vg_slot_gpa(f->r, 0), 10, VRING_DESC_F_NEXT,
                                        QSIZE};
    vg_avail_push(f->r, 0);
}

static void evil_avail_jump(struct fx *f)
{
    __atomic_store_n(&f->r->avail->idx, (uint16_t)(QSIZE + 1), __ATOMIC_RELEASE);
}

static void evil_tx_writable(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){vg_slot_gpa(f->r, 0), 64, VRING_DESC_F_WRITE, 0};
    vg_avail_push(f->r, 0);
}

static void evil_rx_readonly(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){vg_slot_gpa(f->r, 0), 2048, 0, 0};
    vg_avail_push(f->r, 0);
}

static void evil_rx_outside(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){VG_GPA_BASE + GUEST_MEM + 4096, 2048,
                                        VRING_DESC_F_WRITE, 0};
    vg_avail_push(f->r, 0);
}

/* Only the part a write would not reach lies outside: still refused. */
static void evil_rx_tail_outside(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){VG_GPA_BASE + GUEST_MEM - 1024, 4096,
                                        VRING_DESC_F_WRITE, 0};
    vg_avail_push(f->r, 0);
}

static void evil_rx_loop(struct fx *f)
{
    /* Zero-length writable buffers that never end the chain. */
    f->r->desc[0] = (struct vring_desc){vg_slot_gpa(f->r, 0), 0,
                                        VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1};
    f->r->desc[1] = (struct vring_desc){vg_slot_gpa(f->r, 1), 0,
                                        VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0};
    vg_avail_push(f->r, 0);
}

static struct vring_desc *indirect_table(struct fx *f, unsigned n)
{
    struct vring_desc *t = vg_alloc(&f->g, 16u * n, 16);
    for (unsigned i = 0; i < n; i++)
        t[i] = (struct vring_desc){vg_slot_gpa(f->r, 20), 16,
                                   i + 1 < n ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1)};
    return t;
}

static void evil_indirect_nested(struct fx *f)
{
    struct vring_desc *t = indirect_table(f, 2);
    struct vring_desc *t2 = indirect_table(f, 2);
    t[1] = (struct vring_desc){vg_gpa(&f->g, t2), 32, VRING_DESC_F_INDIRECT, 0};
    f->r->desc[0] = (struct vring_desc){vg_gpa(&f->g, t), 32, VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 0);
}

static void evil_indirect_next(struct fx *f)
{
    struct vring_desc *t = indirect_table(f, 2);
    f->r->desc[0] = (struct vring_desc){vg_gpa(&f->g, t), 32,
                                        VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1};
    vg_avail_push(f->r, 0);
}

static void evil_indirect_len(struct fx *f)
{
    struct vring_desc *t = indirect_table(f, 2);
    f->r->desc[0] = (struct vring_desc){vg_gpa(&f->g, t), 31, VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 0);
}

static void evil_indirect_loop(struct fx *f)
{
    struct vring_desc *t = indirect_table(f, 3);
    t[2].flags = VRING_DESC_F_NEXT;
    t[2].next = 0;
    f->r->desc[0] = (struct vring_desc){vg_gpa(&f->g, t), 48, VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 0);
}

/* The indirect table is the ring's own descriptor table, whose first entry
 * is this indirect descriptor again: once a walk that never ended. */
static void evil_indirect_ring(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){vg_gpa(&f->g, f->r->desc), 16u * QSIZE,
                                        VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 0);
}

static void evil_indirect_outside(struct fx *f)
{
    f->r->desc[0] = (struct vring_desc){VG_GPA_BASE + GUEST_MEM - 16, 64,
                                        VRING_DESC_F_INDIRECT, 0};
    vg_avail_push(f->r, 0);
}

#define IND (FEAT_BASE | F(VIRTIO_RING_F_INDIRECT_DESC))

/* Every malicious chain, its ring (TX or RX), the features negotiated and
 * the reason it must be refused with. */
static const struct evil_case {
    const char *name;
    bool tx;
    uint64_t features;
    evil_fn setup;
    unsigned want;
} evil_cases[] = {
    {"loop", true, FEAT_BASE, evil_loop, VF_VIRTQ_ERR_LOOP},
    {"self loop", true, FEAT_BASE, evil_self_loop, VF_VIRTQ_ERR_LOOP},
    {"rx loop", false, FEAT_BASE | F(VIRTIO_NET_F_MRG_RXBUF), evil_rx_loop, VF_VIRTQ_ERR_LOOP},
    {"indirect loop", true, IND, evil_indirect_loop, VF_VIRTQ_ERR_LOOP},
    {"past the end", true, FEAT_BASE, evil_addr_past_end, VF_VIRTQ_ERR_BAD_ADDR},
    {"below memory", true, FEAT_BASE, evil_addr_below, VF_VIRTQ_ERR_BAD_ADDR},
    {"wrapping", true, FEAT_BASE, evil_addr_wrap, VF_VIRTQ_ERR_BAD_ADDR},
    {"rx outside", false, FEAT_BASE, evil_rx_outside, VF_VIRTQ_ERR_BAD_ADDR},
    {"rx tail outside", false, FEAT_BASE, evil_rx_tail_outside, VF_VIRTQ_ERR_BAD_ADDR},
    {"indirect outside", true, IND, evil_indirect_outside, VF_VIRTQ_ERR_BAD_ADDR},
    {"huge length", true, FEAT_BASE, evil_huge_len, VF_VIRTQ_ERR_TOO_LONG},
    {"long chain", true, FEAT_BASE, evil_long_chain, VF_VIRTQ_ERR_TOO_LONG},
    {"tx head", true, FEAT_BASE, evil_bad_head, VF_VIRTQ_ERR_BAD_HEAD},
    {"rx head", false, FEAT_BASE, evil_bad_head, VF_VIRTQ_ERR_BAD_HEAD},
    {"next", true, FEAT_BASE, evil_bad_next, VF_VIRTQ_ERR_BAD_NEXT},
    {"tx avail jump", true, FEAT_BASE, evil_avail_jump, VF_VIRTQ_ERR_AVAIL_IDX},
    {"rx avail jump", false, FEAT_BASE, evil_avail_jump, VF_VIRTQ_ERR_AVAIL_IDX},
    {"tx writable", true, FEAT_BASE, evil_tx_writable, VF_VIRTQ_ERR_WRONG_DIR},
    {"rx read-only", false, FEAT_BASE, evil_rx_readonly, VF_VIRTQ_ERR_WRONG_DIR},
    {"nested indirect", true, IND, evil_indirect_nested, VF_VIRTQ_ERR_BAD_INDIRECT},
    {"indirect into the ring", true, IND, evil_indirect_ring, VF_VIRTQ_ERR_BAD_INDIRECT},
    {"rx indirect into the ring", false, IND, evil_indirect_ring, VF_VIRTQ_ERR_BAD_INDIRECT},
    {"indirect + next", true, IND, evil_indirect_next, VF_VIRTQ_ERR_BAD_INDIRECT},
    {"indirect length", true, IND, evil_indirect_len, VF_VIRTQ_ERR_BAD_INDIRECT},
    /* Not negotiated: an indirect descriptor is refused. */
    {"indirect not negotiated", true, FEAT_BASE, evil_indirect_len, VF_VIRTQ_ERR_BAD_INDIRECT},
};

static void test_evil_guest(void **state)
{
    (void)state;
    unsigned seen[VF_VIRTQ_ERR__COUNT] = {0};
    for (size_t i = 0; i < sizeof(evil_cases) / sizeof(evil_cases[0]); i++) {
        const struct evil_case *c = &evil_cases[i];
        print_message("  %s ring, %s: %s\n", c->tx ? "TX" : "RX", c->name,
                      vf_virtq_err_name(c->want));
        expect_broken(c->tx, c->features, c->setup, c->want);
        seen[c->want]++;
    }
    /* Every reason that breaks a ring has a case. */
    for (unsigned e = 1; e < VF_VIRTQ_ERR__COUNT; e++)
        if (vf_virtq_err_breaks(e))
            assert_true(seen[e] > 0);
}

/* Frames before the bad chain in the same burst are delivered and given
 * back; the bad one and those after stay in the guest's ring. */
static void test_evil_mid_burst(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE, 2048, VF_PKT_DEFAULT_DATA_ROOM);
    uint8_t frame[64];
    size_t len = udp_frame(frame, sizeof(frame), 22);
    struct virtio_net_hdr_v1 h = {0};
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
    vg_avail_push(f->r, QSIZE + 9);
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
    struct vf_pkt *p[8];
    assert_int_equal(deq(f, p, 8, NULL), 2);
    assert_int_equal(atomic_load(&f->vq.broken), VF_VIRTQ_ERR_BAD_HEAD);
    assert_int_equal(__atomic_load_n(&f->r->used->idx, __ATOMIC_ACQUIRE), 2);
    vf_pool_free_burst(&f->cache, p, 2);
    fx_free(f);
}

/* ---- packets -> guest RX ------------------------------------------------------ */

static struct vf_pkt *mkpkt(struct fx *f, const uint8_t *frame, size_t len)
{
    struct vf_pkt *p = vf_pool_alloc(&f->cache);
    assert_non_null(p);
    assert_int_equal(vf_pkt_set(p, frame, (uint32_t)len), 0);
    return p;
}

/* MRG_RXBUF: a 3000-byte frame spans two 2048-byte buffers; num_buffers and
 * the used lengths say so, and the bytes are all there. */
static void test_rx_mrg(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, FEAT_BASE | F(VIRTIO_NET_F_MRG_RXBUF), 2048, 4096);
    static uint8_t frame[3000];
    size_t len = udp_frame(frame, sizeof(frame), 2950);
    uint8_t small[64];
    size_t slen = udp_frame(small, sizeof(small), 22);
    vg_rx_post(f->r, 8);
    struct vf_pkt *p[2] = {mkpkt(f, frame, len), mkpkt(f, small, slen)};
    struct vf_virtq_burst res;
    assert_int_equal(enq(f, p, 2, &res), 2);
    assert_int_equal(res.delivered, 2);
    assert_int_equal(res.bytes, len + slen);
    uint32_t id = 0, ul = 0, id2 = 0, ul2 = 0, id3 = 0, ul3 = 0;
    assert_true(vg_used_pop(f->r, &id, &ul));
    assert_true(vg_used_pop(f->r, &id2, &ul2));
    assert_true(vg_used_pop(f->r, &id3, &ul3));
    assert_int_equal(ul, 2048);
    assert_int_equal(ul + ul2, 12 + len);
    assert_int_equal(ul3, 12 + slen);
    const uint8_t *b0 = vg_slot_buf(f->r, (uint16_t)id);
    const uint8_t *b1 = vg_slot_buf(f->r, (uint16_t)id2);
    struct virtio_net_hdr_v1 h;
    memcpy(&h, b0, 12);
    assert_int_equal(h.num_buffers, 2);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, 0);
    assert_memory_equal(b0 + 12, frame, 2048 - 12);
    assert_memory_equal(b1, frame + 2048 - 12, len - (2048 - 12));
    memcpy(&h, vg_slot_buf(f->r, (uint16_t)id3), 12);
    assert_int_equal(h.num_buffers, 1);
    assert_memory_equal(vg_slot_buf(f->r, (uint16_t)id3) + 12, small, slen);
    assert_int_equal(efd_read(f->call_fd), 1);
    fx_free(f);
}

/* Without MRG_RXBUF a frame must fit one chain: a frame too big for it is
 * dropped (counted) and the head stays for the next frame, which fits. */
static void test_rx_no_mrg(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, FEAT_BASE, 1024, 4096);
    static uint8_t frame[1500];
    size_t len = udp_frame(frame, sizeof(frame), 1400);
    uint8_t small[64];
    size_t slen = udp_frame(small, sizeof(small), 22);
    vg_rx_post(f->r, 1);
    struct vf_pkt *p[2] = {mkpkt(f, frame, len), mkpkt(f, small, slen)};
    struct vf_virtq_burst res;
    assert_int_equal(enq(f, p, 2, &res), 2);
    assert_int_equal(res.delivered, 1);
    assert_int_equal(res.dropped, 1);
    assert_int_equal(err_count(f, VF_VIRTQ_ERR_RX_TOO_SMALL), 1);
    uint32_t id = 0, ul = 0;
    assert_true(vg_used_pop(f->r, &id, &ul));
    assert_int_equal(ul, 12 + slen);
    assert_memory_equal(vg_slot_buf(f->r, (uint16_t)id) + 12, small, slen);
    assert_false(vg_used_pop(f->r, &id, &ul));
    fx_free(f);
}

/* A guest that does not refill: the burst stops where buffers end, the
 * rest stays the caller's, and `full` counts them. */
static void test_rx_full(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, FEAT_BASE | F(VIRTIO_NET_F_MRG_RXBUF), 2048, 4096);
    uint8_t frame[64];
    size_t len = udp_frame(frame, sizeof(frame), 22);
    struct vf_pkt *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = mkpkt(f, frame, len);
    assert_int_equal(enq(f, p, 5, NULL), 0);
    vg_rx_post(f->r, 2);
    assert_int_equal(enq(f, p, 5, NULL), 2);
    assert_int_equal(atomic_load(&f->vq.st.full), 5 + 3);
    vf_pool_free_burst(&f->cache, p + 2, 3);
    fx_free(f);
}

/* GUEST_TSO4: a GSO packet goes whole, with a GSO header the guest can use;
 * without it the frame is refused by name. */
static void test_rx_gso(void **state)
{
    (void)state;
    static uint8_t frame[9100];
    struct vf_tpkt t;
    vf_tpkt_init(&t);
    t.payload_len = 9000;
    size_t len = vf_tpkt_ip4_tcp(frame, sizeof(frame), &t);
    for (int tso = 0; tso < 2; tso++) {
        uint64_t feat = FEAT_BASE | F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM) |
                        (tso ? F(VIRTIO_NET_F_GUEST_TSO4) : 0);
        struct fx *f = fx_new(false, feat, 4096, VF_VHOST_TSO_DATA_ROOM);
        vg_rx_post(f->r, 8);
        struct vf_pkt *p = mkpkt(f, frame, len);
        p->gso_size = 1448;
        struct vf_virtq_burst res;
        assert_int_equal(enq(f, &p, 1, &res), 1);
        if (!tso) {
            assert_int_equal(res.dropped, 1);
            assert_int_equal(err_count(f, VF_VIRTQ_ERR_NO_GSO), 1);
            fx_free(f);
            continue;
        }
        assert_int_equal(res.delivered, 1);
        uint32_t id, ul, total = 0;
        struct virtio_net_hdr_v1 h;
        bool first = true;
        while (vg_used_pop(f->r, &id, &ul)) {
            if (first)
                memcpy(&h, vg_slot_buf(f->r, (uint16_t)id), 12);
            first = false;
            total += ul;
        }
        assert_int_equal(total, 12 + len);
        assert_int_equal(h.num_buffers, 3);
        assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
        assert_int_equal(h.gso_size, 1448);
        assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_int_equal(h.csum_start, 34);
        assert_int_equal(h.csum_offset, 16);
        fx_free(f);
    }
}

/* ---- notifications ------------------------------------------------------------ */

static void test_notify(void **state)
{
    (void)state;
    for (int ev = 0; ev < 2; ev++) {
        uint64_t feat = FEAT_BASE | (ev ? F(VIRTIO_RING_F_EVENT_IDX) : 0);
        struct fx *f = fx_new(true, feat, 2048, VF_PKT_DEFAULT_DATA_ROOM);
        uint8_t frame[64];
        size_t len = udp_frame(frame, sizeof(frame), 22);
        struct virtio_net_hdr_v1 h = {0};
        uint16_t *avail_event = (uint16_t *)(void *)&f->r->used->ring[QSIZE];
        uint16_t *used_event = &f->r->avail->ring[QSIZE];

        assert_true(vf_virtq_enter(&f->vq));
        /* Idle: kicks requested, nothing pending. */
        assert_false(vf_virtq_notify_enable(&f->vq));
        if (ev)
            assert_int_equal(*avail_event, 0);
        else
            assert_int_equal(f->r->used->flags, 0);
        /* Busy: kicks off. */
        vf_virtq_notify_disable(&f->vq);
        if (!ev)
            assert_int_equal(f->r->used->flags, VRING_USED_F_NO_NOTIFY);
        vf_virtq_leave(&f->vq);
        /* A frame posted: enabling says "pending" (do not sleep). */
        assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
        assert_true(vf_virtq_enter(&f->vq));
        assert_true(vf_virtq_notify_enable(&f->vq));
        vf_virtq_leave(&f->vq);

        /* Interrupts: the guest says it wants none. */
        if (ev)
            *used_event = 5;   /* only after the 6th used entry */
        else
            f->r->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
        struct vf_pkt *p;
        assert_int_equal(deq(f, &p, 1, NULL), 1);
        vf_pool_free(&f->cache, p);
        assert_int_equal(efd_read(f->call_fd), 0);
        /* Then wants one (EVENT_IDX: the 6th entry crosses used_event). */
        if (!ev)
            f->r->avail->flags = 0;
        for (int i = 0; i < 5; i++)
            assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
        struct vf_pkt *ps[8];
        assert_int_equal(deq(f, ps, 8, NULL), 5);
        vf_pool_free_burst(&f->cache, ps, 5);
        assert_int_equal(efd_read(f->call_fd), 1);
        assert_int_equal(atomic_load(&f->vq.st.calls), 1);
        fx_free(f);
    }
}

/* The RX ring asks for no kicks at all: a refill is never waited for. */
static void test_rx_no_kicks(void **state)
{
    (void)state;
    struct fx *f = fx_new(false, FEAT_BASE, 2048, VF_PKT_DEFAULT_DATA_ROOM);
    assert_int_equal(f->r->used->flags, VRING_USED_F_NO_NOTIFY);
    fx_free(f);
}

/* A quiesced ring is not entered; republished it is, with its indices. */
static void test_handshake(void **state)
{
    (void)state;
    struct fx *f = fx_new(true, FEAT_BASE, 2048, VF_PKT_DEFAULT_DATA_ROOM);
    uint8_t frame[64];
    size_t len = udp_frame(frame, sizeof(frame), 22);
    struct virtio_net_hdr_v1 h = {0};
    assert_true(vg_tx_post(f->r, &h, 12, frame, (uint32_t)len, 1) >= 0);
    vf_virtq_quiesce(&f->vq);
    assert_false(vf_virtq_enter(&f->vq));
    vf_virtq_publish(&f->vq);
    struct vf_pkt *p;
    assert_int_equal(deq(f, &p, 1, NULL), 1);
    vf_pool_free(&f->cache, p);
    assert_int_equal(f->vq.last_avail, 1);
    fx_free(f);
}

/* ---- the protocol: the test plays QEMU -------------------------------------------- */

enum {
    GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5,
    SET_LOG_BASE = 6, SET_VRING_NUM = 8, SET_VRING_ADDR = 9, SET_VRING_BASE = 10,
    GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
    SET_VRING_ERR = 14, GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16,
    GET_QUEUE_NUM = 17, SET_VRING_ENABLE = 18, NET_SET_MTU = 20,
};
#define NEED_REPLY 0x8u

struct qemu {
    char path[108];
    int lfd, fd;
    struct vf_pool *pool;
    struct vf_pool_cache cache;
    struct vf_port *port;
    struct vf_vhost_dev *dev;
    struct vg g;
    struct vg_ring *rx, *tx;
    int kick[2], call[2];
};

static int q_send(struct qemu *q, uint32_t req, uint32_t flags, const void *pl,
                  uint32_t size, const int *fds, unsigned nfds)
{
    uint8_t buf[12 + 512];
    uint32_t hdr[3] = {req, 0x1u | flags, size};
    memcpy(buf, hdr, 12);
    if (size)
        memcpy(buf + 12, pl, size);
    struct iovec iov = {buf, 12 + size};
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds) {
        memset(ctl, 0, sizeof(ctl));
        mh.msg_control = ctl;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(q->fd, &mh, MSG_NOSIGNAL) == (ssize_t)(12 + size) ? 0 : -1;
}

/* Reads a reply (after the device was serviced): its payload into out. */
static int q_reply(struct qemu *q, uint32_t req, void *out, uint32_t size)
{
    struct pollfd pfd = {q->fd, POLLIN, 0};
    if (poll(&pfd, 1, 1000) != 1)
        return -1;
    uint32_t hdr[3];
    if (recv(q->fd, hdr, 12, MSG_WAITALL) != 12)
        return -1;
    if (hdr[0] != req || hdr[1] != (0x1u | 0x4u) || hdr[2] != size)
        return -1;
    return recv(q->fd, out, size, MSG_WAITALL) == (ssize_t)size ? 0 : -1;
}

/* One message, the device serviced, and the u64 reply (or ack) read. */
static uint64_t q_call(struct qemu *q, uint32_t req, uint32_t flags, const void *pl,
                       uint32_t size, const int *fds, unsigned nfds)
{
    assert_int_equal(q_send(q, req, flags, pl, size, fds, nfds), 0);
    vf_vhost_dev_service(q->dev);
    uint64_t v = UINT64_MAX;
    assert_int_equal(q_reply(q, req, &v, 8), 0);
    return v;
}

static void q_msg(struct qemu *q, uint32_t req, const void *pl, uint32_t size,
                  const int *fds, unsigned nfds)
{
    assert_int_equal(q_send(q, req, 0, pl, size, fds, nfds), 0);
    vf_vhost_dev_service(q->dev);
}

static void q_accept(struct qemu *q)
{
    double end = now_s() + 5;
    q->fd = -1;
    while (q->fd < 0 && now_s() < end) {
        vf_vhost_dev_service(q->dev);
        q->fd = accept4(q->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (q->fd < 0)
            usleep(2000);
    }
    assert_true(q->fd >= 0);
    for (int i = 0; i < 100 && vf_vhost_dev_state(q->dev) != VF_VHOST_CONNECTED; i++)
        vf_vhost_dev_service(q->dev);
    assert_int_equal(vf_vhost_dev_state(q->dev), VF_VHOST_CONNECTED);
}

static int q_setup(void **state)
{
    char err[160];
    struct qemu *q = calloc(1, sizeof(*q));
    assert_non_null(q);
    snprintf(q->path, sizeof(q->path), "/tmp/vftest-vhost-%d.sock", (int)getpid());
    unlink(q->path);
    q->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, q->path, strlen(q->path));
    assert_int_equal(bind(q->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(q->lfd, 4), 0);
    q->pool = vf_pool_create(NULL, -1, 512, VF_PKT_DEFAULT_DATA_ROOM, err, sizeof(err));
    assert_non_null(q->pool);
    vf_pool_cache_init(&q->cache, q->pool);
    struct vf_pool *pools[2] = {q->pool, q->pool};
    struct vf_vhost_port_opts o = {.socket = q->path};
    q->port = vf_vhost_port_open("vm1", &o, 2, pools, err, sizeof(err));
    assert_non_null(q->port);
    q->dev = vf_vhost_port_dev(q->port);
    assert_non_null(q->dev);
    assert_int_equal(vg_open(&q->g, GUEST_MEM), 0);
    q->rx = vg_ring_new(&q->g, QSIZE, 2048);
    q->tx = vg_ring_new(&q->g, QSIZE, 2048);
    for (int i = 0; i < 2; i++) {
        q->kick[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        q->call[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    }
    q_accept(q);
    *state = q;
    return 0;
}

static int q_teardown(void **state)
{
    struct qemu *q = *state;
    vf_port_close(q->port);
    vf_pool_cache_flush(&q->cache);
    assert_int_equal(vf_pool_in_use(q->pool), 0);
    vf_pool_destroy(q->pool);
    vg_close(&q->g);
    for (int i = 0; i < 2; i++) {
        close(q->kick[i]);
        close(q->call[i]);
    }
    if (q->fd >= 0)
        close(q->fd);
    close(q->lfd);
    unlink(q->path);
    free(q);
    return 0;
}

#define GUEST_FEATURES (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF) | \
                        F(VIRTIO_RING_F_EVENT_IDX) | F(VIRTIO_RING_F_INDIRECT_DESC) | \
                        F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | \
                        F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | F(30))

/* QEMU 7.2's order (the probe's log), for queue pair 0. */
static void q_bring_up(struct qemu *q)
{
    uint64_t feat = q_call(q, GET_FEATURES, 0, NULL, 0, NULL, 0);
    assert_int_equal(feat & GUEST_FEATURES, GUEST_FEATURES);
    assert_int_equal(feat & F(VIRTIO_NET_F_HOST_TSO4), 0);   /* no tso asked */
    uint64_t pf = q_call(q, GET_PROTOCOL_FEATURES, 0, NULL, 0, NULL, 0);
    uint64_t want_pf = F(0) | F(3) | F(4);   /* MQ, REPLY_ACK, NET_MTU */
    assert_int_equal(pf, want_pf);
    q_msg(q, SET_PROTOCOL_FEATURES, &want_pf, 8, NULL, 0);
    assert_int_equal(q_call(q, GET_QUEUE_NUM, 0, NULL, 0, NULL, 0), 2);
    assert_int_equal(q_call(q, SET_OWNER, NEED_REPLY, NULL, 0, NULL, 0), 0);
    for (uint64_t i = 0; i < 2; i++)
        q_msg(q, SET_VRING_CALL, &i, 8, &q->call[i], 1);
    uint64_t f = GUEST_FEATURES;
    assert_int_equal(q_call(q, SET_FEATURES, NEED_REPLY, &f, 8, NULL, 0), 0);
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, uva, off;
    } mt = {1, 0, VG_GPA_BASE, GUEST_MEM, (uint64_t)(uintptr_t)q->g.mem, 0};
    assert_int_equal(q_call(q, SET_MEM_TABLE, NEED_REPLY, &mt, sizeof(mt), &q->g.fd, 1), 0);
    for (uint32_t i = 0; i < 2; i++) {
        struct vg_ring *r = i ? q->tx : q->rx;
        uint32_t st[2] = {i, QSIZE};
        q_msg(q, SET_VRING_NUM, st, 8, NULL, 0);
        st[1] = 0;
        q_msg(q, SET_VRING_BASE, st, 8, NULL, 0);
        struct {
            uint32_t index, flags;
            uint64_t desc, used, avail, log;
        } ad = {i, 0, (uintptr_t)r->desc, (uintptr_t)r->used, (uintptr_t)r->avail, 0};
        q_msg(q, SET_VRING_ADDR, &ad, sizeof(ad), NULL, 0);
        uint64_t k = i;
        q_msg(q, SET_VRING_KICK, &k, 8, &q->kick[i], 1);
    }
    struct vf_vhost_ring_info ri;
    assert_int_equal(vf_vhost_dev_ring_info(q->dev, 1, &ri), 0);
    assert_false(ri.live);   /* protocol features: disabled until enabled */
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t st[2] = {i, 1};
        assert_int_equal(q_call(q, SET_VRING_ENABLE, NEED_REPLY, st, 8, NULL, 0), 0);
    }
    assert_int_equal(vf_vhost_dev_ring_info(q->dev, 1, &ri), 0);
    assert_true(ri.live);
    assert_int_equal(ri.size, QSIZE);
}

static void test_proto_bring_up_and_traffic(void **state)
{
    struct qemu *q = *state;
    q_bring_up(q);
    struct vf_vhost_info info;
    assert_int_equal(vf_vhost_dev_info(q->dev, &info), 0);
    assert_int_equal(info.features, GUEST_FEATURES);
    assert_true(info.mem_mapped);
    assert_int_equal(info.refused, 0);

    /* MTU: a sane one is taken, one past the pool's buffers refused. */
    uint64_t mtu = 1500;
    assert_int_equal(q_call(q, NET_SET_MTU, NEED_REPLY, &mtu, 8, NULL, 0), 0);
    mtu = 9000;
    assert_int_not_equal(q_call(q, NET_SET_MTU, NEED_REPLY, &mtu, 8, NULL, 0), 0);

    /* Guest -> vfab: queue 0 of the port gets the frame. */
    uint8_t frame[128];
    size_t len = udp_frame(frame, sizeof(frame), 50);
    struct virtio_net_hdr_v1 h = {0};
    assert_true(vg_tx_post(q->tx, &h, 12, frame, (uint32_t)len, 1) >= 0);
    struct vf_pkt *p[4];
    assert_int_equal(vf_port_rx_burst(q->port, 0, p, 4, &q->cache), 1);
    assert_memory_equal(vf_pkt_data(p[0]), frame, len);
    assert_int_equal(p[0]->port, q->port->index);
    /* Queue 1 has no live rings (the guest uses one pair): nothing. */
    assert_int_equal(vf_port_rx_burst(q->port, 1, p + 1, 3, &q->cache), 0);

    /* vfab -> guest: sent back on queue 1, which falls back to pair 0. */
    vg_rx_post(q->rx, 4);
    assert_int_equal(vf_port_tx_burst(q->port, 1, p, 1, &q->cache), 1);
    uint32_t id = 0, ul = 0;
    assert_true(vg_used_pop(q->rx, &id, &ul));
    assert_int_equal(ul, 12 + len);
    assert_memory_equal(vg_slot_buf(q->rx, (uint16_t)id) + 12, frame, len);
    struct vf_port_stats ps;
    vf_port_stats_sum(q->port, &ps);
    assert_int_equal(ps.rx_pkts, 1);
    assert_int_equal(ps.tx_pkts, 1);

    /* GET_VRING_BASE stops the TX ring and says one entry was taken. */
    uint32_t st[2] = {1, 0};
    assert_int_equal(q_send(q, GET_VRING_BASE, 0, st, 8, NULL, 0), 0);
    vf_vhost_dev_service(q->dev);
    uint32_t back[2];
    assert_int_equal(q_reply(q, GET_VRING_BASE, back, 8), 0);
    assert_int_equal(back[0], 1);
    assert_int_equal(back[1], 1);
    assert_true(vg_tx_post(q->tx, &h, 12, frame, (uint32_t)len, 1) >= 0);
    assert_int_equal(vf_port_rx_burst(q->port, 0, p, 4, &q->cache), 0);
    /* A new kick restarts it where it stopped. */
    uint64_t k = 1;
    q_msg(q, SET_VRING_KICK, &k, 8, &q->kick[1], 1);
    assert_int_equal(vf_port_rx_burst(q->port, 0, p, 4, &q->cache), 1);
    vf_pool_free(&q->cache, p[0]);
}

/* The sleep protocol through the port ops and the wait fd. */
static void test_proto_sleep_wake(void **state)
{
    struct qemu *q = *state;
    q_bring_up(q);
    int wfd = q->port->ops->wait_fd(q->port, 0);
    assert_true(wfd >= 0);
    struct pollfd pfd = {wfd, POLLIN, 0};
    /* The ring going live woke the worker once. */
    assert_int_equal(poll(&pfd, 1, 0), 1);
    assert_int_equal(q->port->ops->sleep_notify(q->port, 0, 0), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);
    /* Going to sleep with nothing there: kicks requested. */
    assert_int_equal(q->port->ops->sleep_notify(q->port, 0, 1), 0);
    uint16_t *avail_event = (uint16_t *)(void *)&q->tx->used->ring[QSIZE];
    assert_int_equal(*avail_event, 0);
    /* The guest posts and, seeing the request, kicks: the wait fd wakes. */
    uint8_t frame[64];
    size_t len = udp_frame(frame, sizeof(frame), 22);
    struct virtio_net_hdr_v1 h = {0};
    assert_true(vg_tx_post(q->tx, &h, 12, frame, (uint32_t)len, 1) >= 0);
    uint64_t one = 1;
    assert_int_equal(write(q->kick[1], &one, 8), 8);
    assert_int_equal(poll(&pfd, 1, 1000), 1);
    assert_int_equal(q->port->ops->sleep_notify(q->port, 0, 0), 0);
    assert_int_equal(poll(&pfd, 1, 0), 0);   /* the kick was consumed */
    struct vf_vhost_ring_info ri;
    vf_vhost_dev_ring_info(q->dev, 1, &ri);
    assert_int_equal(ri.kicks, 1);
    /* A frame already there when going to sleep: "do not sleep". */
    assert_int_equal(q->port->ops->sleep_notify(q->port, 0, 1), 1);
    struct vf_pkt *p;
    assert_int_equal(vf_port_rx_burst(q->port, 0, &p, 1, &q->cache), 1);
    vf_pool_free(&q->cache, p);
}

/* Refused messages: an ack with failure, the connection stays. */
static void test_proto_refusals(void **state)
{
    struct qemu *q = *state;
    uint64_t pf = F(3);
    q_msg(q, SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
    uint32_t st[2] = {99, 64};
    assert_int_not_equal(q_call(q, SET_VRING_NUM, NEED_REPLY, st, 8, NULL, 0), 0);
    st[0] = 0;
    st[1] = 100;   /* not a power of two */
    assert_int_not_equal(q_call(q, SET_VRING_NUM, NEED_REPLY, st, 8, NULL, 0), 0);
    uint64_t f = F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_HOST_UFO);
    assert_int_not_equal(q_call(q, SET_FEATURES, NEED_REPLY, &f, 8, NULL, 0), 0);
    uint64_t pf_bad = F(1);   /* LOG_SHMFD, not offered */
    assert_int_not_equal(q_call(q, SET_PROTOCOL_FEATURES, NEED_REPLY, &pf_bad, 8,
                                NULL, 0), 0);
    uint64_t lb = 0;
    assert_int_not_equal(q_call(q, SET_LOG_BASE, NEED_REPLY, &lb, 8, NULL, 0), 0);
    /* A memory table whose file is shorter than its region. */
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, uva, off;
    } mt = {1, 0, VG_GPA_BASE, GUEST_MEM * 2ull, (uint64_t)(uintptr_t)q->g.mem, 0};
    assert_int_not_equal(q_call(q, SET_MEM_TABLE, NEED_REPLY, &mt, sizeof(mt),
                                &q->g.fd, 1), 0);
    /* A kick without its fd. */
    uint64_t k = 1;
    assert_int_not_equal(q_call(q, SET_VRING_KICK, NEED_REPLY, &k, 8, NULL, 0), 0);
    assert_int_equal(vf_vhost_dev_state(q->dev), VF_VHOST_CONNECTED);
    struct vf_vhost_info info;
    vf_vhost_dev_info(q->dev, &info);
    assert_int_equal(info.refused, 7);
    assert_non_null(strstr(info.last_error, q->path));
    /* Still talking. */
    assert_int_not_equal(q_call(q, GET_FEATURES, 0, NULL, 0, NULL, 0), 0);
}

/* Ring addresses outside the memory table: the ring stays down, refused. */
static void test_proto_bad_ring_addr(void **state)
{
    struct qemu *q = *state;
    uint64_t pf = F(3);
    q_msg(q, SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
    uint64_t f = F(VIRTIO_F_VERSION_1);   /* no protocol features: enabled */
    assert_int_equal(q_call(q, SET_FEATURES, NEED_REPLY, &f, 8, NULL, 0), 0);
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, uva, off;
    } mt = {1, 0, VG_GPA_BASE, GUEST_MEM, (uint64_t)(uintptr_t)q->g.mem, 0};
    assert_int_equal(q_call(q, SET_MEM_TABLE, NEED_REPLY, &mt, sizeof(mt), &q->g.fd, 1), 0);
    uint32_t st[2] = {1, QSIZE};
    q_msg(q, SET_VRING_NUM, st, 8, NULL, 0);
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } ad = {1, 0, (uintptr_t)q->g.mem + GUEST_MEM - 64, (uintptr_t)q->tx->used,
            (uintptr_t)q->tx->avail, 0};
    q_msg(q, SET_VRING_ADDR, &ad, sizeof(ad), NULL, 0);
    uint64_t k = 1;
    assert_int_not_equal(q_call(q, SET_VRING_KICK, NEED_REPLY, &k, 8, &q->kick[1], 1), 0);
    struct vf_vhost_ring_info ri;
    vf_vhost_dev_ring_info(q->dev, 1, &ri);
    assert_false(ri.live);
}

/* A malformed message ends the connection; the device reconnects (client)
 * and starts over: nothing negotiated, no ring live. Then the frontend goes
 * away for good while a ring is live: the guest's memory is unmapped. */
static void test_proto_reconnect(void **state)
{
    struct qemu *q = *state;
    q_bring_up(q);
    uint32_t hdr[3] = {GET_FEATURES, 0x1u, 4096};   /* size past any payload */
    assert_int_equal(send(q->fd, hdr, 12, MSG_NOSIGNAL), 12);
    vf_vhost_dev_service(q->dev);
    assert_int_equal(vf_vhost_dev_state(q->dev), VF_VHOST_WAITING);
    close(q->fd);
    q_accept(q);
    struct vf_vhost_info info;
    vf_vhost_dev_info(q->dev, &info);
    assert_int_equal(info.connects, 2);
    assert_int_equal(info.disconnects, 1);
    assert_int_equal(info.features, 0);
    assert_false(info.mem_mapped);
    struct vf_pkt *p[2];
    assert_int_equal(vf_port_rx_burst(q->port, 0, p, 2, &q->cache), 0);
    /* Again, and this time the frontend just closes. */
    q_bring_up(q);
    close(q->fd);
    q->fd = -1;
    vf_vhost_dev_service(q->dev);
    assert_int_equal(vf_vhost_dev_state(q->dev), VF_VHOST_WAITING);
    assert_true(vf_vhost_dev_timeout_ms(q->dev) >= 0);
    assert_int_equal(vf_vhost_dev_fd(q->dev), -1);
    vf_vhost_dev_info(q->dev, &info);
    assert_false(info.mem_mapped);
}

/* The port's capabilities follow the guest (vf_port.h): GSO frames go to
 * it whole only while it has negotiated GUEST_TSO4 and TSO6; a disconnect
 * or a guest with only one of them gets segments. */
static void test_proto_caps(void **state)
{
    struct qemu *q = *state;
    assert_true(vf_port_has(q->port, VF_PORT_CAP_MQ_RX));
    assert_false(vf_port_has(q->port, VF_PORT_CAP_GSO_TX));
    assert_false(vf_port_has(q->port, VF_PORT_CAP_CAN_VANISH));
    q_bring_up(q);
    assert_true(vf_port_has(q->port, VF_PORT_CAP_GSO_TX));
    /* The frontend goes: the capability goes with it. */
    close(q->fd);
    q->fd = -1;
    vf_vhost_dev_service(q->dev);
    assert_int_equal(vf_vhost_dev_state(q->dev), VF_VHOST_WAITING);
    assert_false(vf_port_has(q->port, VF_PORT_CAP_GSO_TX));
    /* A guest that takes TSO over IPv4 only. */
    q_accept(q);
    uint64_t f = GUEST_FEATURES & ~F(VIRTIO_NET_F_GUEST_TSO6);
    q_msg(q, SET_FEATURES, &f, 8, NULL, 0);   /* no REPLY_ACK yet: no reply */
    struct vf_vhost_info info;
    assert_int_equal(vf_vhost_dev_info(q->dev, &info), 0);
    assert_int_equal(info.features, f);
    assert_false(vf_port_has(q->port, VF_PORT_CAP_GSO_TX));
    f = GUEST_FEATURES;
    q_msg(q, SET_FEATURES, &f, 8, NULL, 0);
    assert_true(vf_port_has(q->port, VF_PORT_CAP_GSO_TX));
}

/* A worker thread keeps polling the port while the "frontend" remaps guest
 * memory, moves the TX ring's addresses and stops and restarts it, again
 * and again: the handshake must keep the worker off every ring while it
 * changes (a worker that used an unmapped table would fault) and lose no
 * frame: every frame the guest posted comes out exactly once. */
struct worker_arg {
    struct qemu *q;
    _Atomic bool stop;
    _Atomic uint64_t got;
};

static void *worker_main(void *p)
{
    struct worker_arg *a = p;
    struct vf_pool_cache *c = aligned_alloc(64, sizeof(*c));
    vf_pool_cache_init(c, a->q->pool);
    struct vf_pkt *pkts[32];
    while (!atomic_load(&a->stop)) {
        unsigned n = vf_port_rx_burst(a->q->port, 0, pkts, 32, c);
        if (n) {
            atomic_fetch_add(&a->got, n);
            vf_pool_free_burst(c, pkts, n);
        }
    }
    vf_pool_cache_flush(c);
    free(c);
    return NULL;
}

static void test_proto_concurrent_changes(void **state)
{
    struct qemu *q = *state;
    q_bring_up(q);
    struct worker_arg a = {.q = q};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, worker_main, &a), 0);
    /* Full-size frames and a full ring keep the worker inside bursts most
     * of the time, where a change that did not wait for it would hit. */
    static uint8_t frame[1500];
    size_t len = udp_frame(frame, sizeof(frame), 1400);
    struct virtio_net_hdr_v1 h = {0};
    struct {
        uint32_t n, pad;
        uint64_t gpa, size, uva, off;
    } mt = {1, 0, VG_GPA_BASE, GUEST_MEM, (uint64_t)(uintptr_t)q->g.mem, 0};
    struct {
        uint32_t index, flags;
        uint64_t desc, used, avail, log;
    } ad = {1, 0, (uintptr_t)q->tx->desc, (uintptr_t)q->tx->used,
            (uintptr_t)q->tx->avail, 0};
    uint64_t posted = 0;
    for (int i = 0; i < 600; i++) {
        uint16_t used = __atomic_load_n(&q->tx->used->idx, __ATOMIC_ACQUIRE);
        while ((uint16_t)(q->tx->avail_idx - used) < QSIZE - 1) {
            assert_true(vg_tx_post(q->tx, &h, 12, frame, (uint32_t)len, 1) >= 0);
            posted++;
        }
        switch (i % 3) {
        case 0:
            assert_int_equal(q_call(q, SET_MEM_TABLE, NEED_REPLY, &mt, sizeof(mt),
                                    &q->g.fd, 1), 0);
            break;
        case 1:
            assert_int_equal(q_call(q, SET_VRING_ADDR, NEED_REPLY, &ad, sizeof(ad),
                                    NULL, 0), 0);
            break;
        default: {
            uint32_t st[2] = {1, 0}, back[2];
            assert_int_equal(q_send(q, GET_VRING_BASE, 0, st, 8, NULL, 0), 0);
            vf_vhost_dev_service(q->dev);
            assert_int_equal(q_reply(q, GET_VRING_BASE, back, 8), 0);
            /* Between a stop and the restart the ring stays as it was. */
            assert_int_equal(back[1], __atomic_load_n(&q->tx->used->idx, __ATOMIC_ACQUIRE));
            uint64_t k = 1;
            q_msg(q, SET_VRING_KICK, &k, 8, &q->kick[1], 1);
        }
        }
    }
    double end = now_s() + 5;
    while (atomic_load(&a.got) < posted && now_s() < end)
        usleep(1000);
    atomic_store(&a.stop, true);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&a.got), posted);
    struct vf_vhost_ring_info ri;
    vf_vhost_dev_ring_info(q->dev, 1, &ri);
    assert_int_equal(ri.broken, 0);
    assert_int_equal(ri.pkts, posted);
}

/* Server mode: the device listens, the "frontend" connects. */
static void test_proto_server(void **state)
{
    (void)state;
    char err[160], path[108];
    snprintf(path, sizeof(path), "/tmp/vftest-vhost-srv-%d.sock", (int)getpid());
    struct vf_vhost_opts o = {.socket = path, .server = true, .n_qp = 1};
    struct vf_vhost_dev *d = vf_vhost_dev_create(&o, err, sizeof(err));
    assert_non_null(d);
    assert_int_equal(vf_vhost_dev_state(d), VF_VHOST_LISTENING);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    vf_vhost_dev_service(d);
    assert_int_equal(vf_vhost_dev_state(d), VF_VHOST_CONNECTED);
    struct qemu q = {.fd = fd, .dev = d};
    assert_int_equal(q_call(&q, GET_QUEUE_NUM, 0, NULL, 0, NULL, 0), 1);
    close(fd);
    vf_vhost_dev_service(d);
    assert_int_equal(vf_vhost_dev_state(d), VF_VHOST_LISTENING);
    vf_vhost_dev_destroy(d);
    assert_int_not_equal(access(path, F_OK), 0);   /* the socket is removed */
    /* A path that is some other file: refused, and the file left alone. */
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(vf_vhost_dev_create(&o, err, sizeof(err)));
    assert_non_null(strstr(err, "bind"));
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[200];
    struct vf_pool *small = vf_pool_create(NULL, -1, 16, VF_PKT_DEFAULT_DATA_ROOM,
                                           err, sizeof(err));
    assert_non_null(small);
    struct vf_vhost_port_opts o = {.socket = "/tmp/vftest-none.sock", .tso = true};
    assert_null(vf_vhost_port_open("vm", &o, 1, &small, err, sizeof(err)));
    assert_non_null(strstr(err, "tso"));
    o.tso = false;
    o.socket = "";
    assert_null(vf_vhost_port_open("vm", &o, 1, &small, err, sizeof(err)));
    assert_non_null(strstr(err, "socket"));
    vf_pool_destroy(small);
    assert_string_equal(vf_virtq_err_name(VF_VIRTQ_ERR_LOOP), "chain_loop");
    assert_string_equal(vf_virtq_err_name(0), "none");
    assert_false(vf_virtq_err_breaks(VF_VIRTQ_ERR_RUNT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_plain),
        cmocka_unit_test(test_tx_indirect),
        cmocka_unit_test(test_tx_csum_partial),
        cmocka_unit_test(test_tx_gso),
        cmocka_unit_test(test_tx_frame_drops),
        cmocka_unit_test(test_evil_guest),
        cmocka_unit_test(test_evil_mid_burst),
        cmocka_unit_test(test_rx_mrg),
        cmocka_unit_test(test_rx_no_mrg),
        cmocka_unit_test(test_rx_full),
        cmocka_unit_test(test_rx_gso),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_rx_no_kicks),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test_setup_teardown(test_proto_bring_up_and_traffic, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_sleep_wake, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_refusals, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_bad_ring_addr, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_reconnect, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_caps, q_setup, q_teardown),
        cmocka_unit_test_setup_teardown(test_proto_concurrent_changes, q_setup, q_teardown),
        cmocka_unit_test(test_proto_server),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
