/* fuzz_vhost.c - libFuzzer target for the vhost-user data path (split
 * virtqueues in guest memory, fabric/virtq.c), attacked by the guest.
 *
 * A VM is untrusted input as much as the underlay is: it writes the
 * descriptor tables, the avail rings and the buffers that vf_virtq reads,
 * and it picks the buffers vf_virtq writes. Here the fuzzer is the guest.
 *
 * The guest's memory, its rings and the input format (a feature byte, a
 * ring size byte, then operations: write descriptors, push avail entries,
 * move avail->idx anywhere, write raw bytes anywhere in guest memory,
 * dequeue, enqueue packets, restart a ring, set the event fields, turn
 * notifications on and off) are in vf_fuzz_vhost.h. Guest memory is heap
 * memory, so AddressSanitizer sees any access past a region.
 *
 * The oracle. Before each burst the target copies guest memory into a
 * shadow and replays the burst there with its own walk of the rings,
 * written from the virtio spec and the rules in vf_virtq.h: byte by byte
 * address translation over the region list, chains, indirect tables, the
 * used entries and used->idx. It predicts, chain by chain, what vf_virtq
 * must do: deliver (these bytes, this length, this GSO size), drop the
 * frame (runt, too big, bad header, no GSO, guest buffer too small) or
 * break the ring (which reason). Afterwards guest memory must equal the
 * shadow byte for byte (vf_virtq wrote exactly what the spec says, and
 * nothing else), the packets and counts must be the predicted ones, and a
 * broken ring must stay broken and silent. Every buffer goes back to its
 * pool after each input.
 * Build and run: docs/fuzzing.md.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "fabric/vf_virtq.h"
#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_pool.h"
#include "tests/fuzz/vf_fuzz_check.h"
#include "tests/fuzz/vf_fuzz_vhost.h"

#define N_REG FV_N_REG
#define MEM_TOTAL FV_MEM_TOTAL
#define RX FV_RX
#define TX FV_TX
#define DESC_OFF FV_DESC_OFF
#define AVAIL_OFF FV_AVAIL_OFF
#define USED_OFF FV_USED_OFF

static const uint64_t g_gpa[N_REG] = {FV_GPA_A, FV_GPA_B, FV_GPA_C};
static const uint32_t g_len[N_REG] = {FV_SIZE_A, FV_SIZE_B, FV_SIZE_C};
static const uint32_t g_lin[N_REG] = {0, FV_SIZE_A, FV_SIZE_A + FV_SIZE_B};
static uint8_t *g_host[N_REG];          /* the real memory */
static uint8_t g_shadow[MEM_TOTAL];     /* the oracle's copy, A B C end to end */
static struct vf_vhost_mem g_mem;

struct gring {
    uint16_t size;
    uint16_t avail_idx;      /* the guest's next avail index */
    struct vf_virtq vq;
};

static struct gring g_ring[2];
static uint64_t g_features;
static bool g_big;
static struct vf_pool *g_pool[2];       /* [0] 2 KB buffers, [1] 64 KB */
static struct vf_pool *g_opool;         /* the oracle's scratch packets */
static struct vf_pool_cache g_cache[2], g_ocache;

#define F(bit) (1ull << (bit))
#define ETH_MIN 14u
#define MAX_OPS 128u

/* FZ_VERBOSE=1: what each burst did, to replay a find. */
static bool verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("FZ_VERBOSE") != NULL;
    return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[128];
    (void)argc;
    (void)argv;
    g_mem.n = N_REG;
    for (int i = 0; i < N_REG; i++) {
        g_host[i] = aligned_alloc(4096, g_len[i]);
        if (!g_host[i])
            abort();
        g_mem.r[i] = (struct vf_vhost_region){
            .gpa = g_gpa[i], .size = g_len[i],
            .uva = (uint64_t)(uintptr_t)g_host[i], .host = g_host[i],
        };
    }
    g_pool[0] = vf_pool_create(NULL, -1, 256, VF_PKT_DEFAULT_DATA_ROOM, err,
                               sizeof(err));
    g_pool[1] = vf_pool_create(NULL, -1, 128, VF_PKT_HEADROOM + VF_VIRTQ_MAX_FRAME,
                               err, sizeof(err));
    g_opool = vf_pool_create(NULL, -1, 128, VF_PKT_HEADROOM + VF_VIRTQ_MAX_FRAME,
                             err, sizeof(err));
    if (!g_pool[0] || !g_pool[1] || !g_opool) {
        fprintf(stderr, "fuzz_vhost: %s\n", err);
        abort();
    }
    vf_pool_cache_init(&g_cache[0], g_pool[0]);
    vf_pool_cache_init(&g_cache[1], g_pool[1]);
    vf_pool_cache_init(&g_ocache, g_opool);
    return 0;
}

/* ---- reading the input ---- */
struct reader {
    const uint8_t *p;
    size_t n;
};

/* The next n bytes as a little-endian number (missing bytes read as 0). */
static uint64_t rd(struct reader *r, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = 0;
        if (r->n) {
            b = r->p[0];
            r->p++;
            r->n--;
        }
        v |= b << (8 * i);
    }
    return v;
}

/* ---- the shadow: translation and access ---- */

/* Shadow offset of guest-physical gpa and, in *run, how many bytes from
 * there lie in the same region; -1 when gpa is no guest memory. */
static int64_t sh_off(uint64_t gpa, uint64_t *run)
{
    for (int i = 0; i < N_REG; i++)
        if (gpa >= g_gpa[i] && gpa - g_gpa[i] < g_len[i]) {
            *run = g_len[i] - (gpa - g_gpa[i]);
            return g_lin[i] + (int64_t)(gpa - g_gpa[i]);
        }
    return -1;
}

static uint16_t sh16(uint32_t off)
{
    uint16_t v;
    memcpy(&v, g_shadow + off, 2);
    return v;
}

static void sh_w16(uint32_t off, uint16_t v)
{
    memcpy(g_shadow + off, &v, 2);
}

static void sh_w32(uint32_t off, uint32_t v)
{
    memcpy(g_shadow + off, &v, 4);
}

static void shadow_take(void)
{
    for (int i = 0; i < N_REG; i++)
        memcpy(g_shadow + g_lin[i], g_host[i], g_len[i]);
}

/* Guest memory must be what the oracle wrote into the shadow. */
static void shadow_check(const char *after)
{
    for (int i = 0; i < N_REG; i++) {
        if (!memcmp(g_shadow + g_lin[i], g_host[i], g_len[i]))
            continue;
        uint32_t k = 0;
        while (g_shadow[g_lin[i] + k] == g_host[i][k])
            k++;
        FZ_CHECK(0, "after %s, guest memory at gpa 0x%llx is 0x%02x, the "
                 "oracle says 0x%02x", after,
                 (unsigned long long)(g_gpa[i] + k), g_host[i][k],
                 g_shadow[g_lin[i] + k]);
    }
}

/* ---- the oracle's chain walk ---- */
struct owalk {
    uint32_t tab;            /* shadow offset of the table walked */
    uint32_t tsize, idx, seen;
    bool indirect, more;
};

static int o_start(int ring, uint16_t head, struct owalk *w)
{
    *w = (struct owalk){.tab = DESC_OFF(ring), .tsize = g_ring[ring].size,
                        .idx = head, .more = true};
    return head < g_ring[ring].size ? 0 : VF_VIRTQ_ERR_BAD_HEAD;
}

/* The next buffer descriptor of the chain, as the spec defines chains:
 * `next` inside the table, no more descriptors than the table has, an
 * indirect table only as the chain's one descriptor (with the feature),
 * never inside another, whole in one region of guest memory. */
static int o_next(struct owalk *w, struct vring_desc *d)
{
    for (;;) {
        if (w->idx >= w->tsize)
            return VF_VIRTQ_ERR_BAD_NEXT;
        if (++w->seen > w->tsize)
            return VF_VIRTQ_ERR_LOOP;
        memcpy(d, g_shadow + w->tab + 16u * w->idx, sizeof(*d));
        if (!(d->flags & VRING_DESC_F_INDIRECT)) {
            w->more = d->flags & VRING_DESC_F_NEXT;
            w->idx = d->next;
            return 0;
        }
        if (!(g_features & F(VIRTIO_RING_F_INDIRECT_DESC)) || w->indirect ||
            w->seen != 1 || (d->flags & VRING_DESC_F_NEXT) || d->len == 0 ||
            d->len % 16 || d->len / 16 > VF_VIRTQ_MAX_SIZE)
            return VF_VIRTQ_ERR_BAD_INDIRECT;
        uint64_t run;
        int64_t at = sh_off(d->addr, &run);
        if (at < 0)
            return VF_VIRTQ_ERR_BAD_ADDR;
        if (run < d->len) {
            uint64_t r2;
            return sh_off(d->addr + run, &r2) >= 0 ? VF_VIRTQ_ERR_BAD_INDIRECT
                                                   : VF_VIRTQ_ERR_BAD_ADDR;
        }
        w->tab = (uint32_t)at;
        w->tsize = d->len / 16;
        w->idx = 0;
        w->seen = 0;
        w->indirect = true;
    }
}

/* Writes used entry `slot` of ring r in the shadow. */
static void o_used(int ring, uint16_t slot, uint32_t id, uint32_t len)
{
    uint32_t e = USED_OFF(ring) + 4u + 8u * (slot & (g_ring[ring].size - 1u));
    sh_w32(e, id);
    sh_w32(e + 4, len);
}

static void o_used_idx(int ring, uint16_t idx)
{
    sh_w16(USED_OFF(ring) + 2, idx);
}

static uint16_t o_avail_head(int ring, uint16_t pos)
{
    return sh16(AVAIL_OFF(ring) + 4u + 2u * (pos & (g_ring[ring].size - 1u)));
}

/* ---- dequeue (the guest's TX ring) ---- */
enum { O_DELIVER, O_DROP, O_BREAK };

struct o_tx {
    int what;                /* O_* */
    int err;                 /* drop or break reason */
    struct vf_pkt *p;        /* O_DELIVER: the packet expected */
};

static uint8_t g_stream[VF_VIRTQ_TX_CHAIN_MAX];

/* The chain at head as vf_virtq must read it: its bytes in g_stream. */
static int o_tx_chain(uint16_t head, uint32_t *total)
{
    struct owalk w;
    int r = o_start(TX, head, &w);

    *total = 0;
    while (!r && w.more) {
        struct vring_desc d;
        r = o_next(&w, &d);
        if (r)
            break;
        if (d.flags & VRING_DESC_F_WRITE)
            return VF_VIRTQ_ERR_WRONG_DIR;
        if (d.len > VF_VIRTQ_TX_CHAIN_MAX - *total)
            return VF_VIRTQ_ERR_TOO_LONG;
        for (uint64_t a = d.addr, left = d.len; left;) {
            uint64_t run;
            int64_t at = sh_off(a, &run);
            if (at < 0)
                return VF_VIRTQ_ERR_BAD_ADDR;
            run = run < left ? run : left;
            memcpy(g_stream + *total, g_shadow + at, run);
            *total += (uint32_t)run;
            a += run;
            left -= run;
        }
    }
    return r;
}

/* What chain `head` becomes: a delivered packet (from the oracle's pool,
 * built by the same header rules), a dropped frame or a break. */
static struct o_tx o_tx_one(uint16_t head, uint32_t room)
{
    uint32_t total, hl = g_ring[TX].vq.hdr_len;
    int r = o_tx_chain(head, &total);

    if (r)
        return (struct o_tx){.what = O_BREAK, .err = r};
    if (total < hl + ETH_MIN)
        return (struct o_tx){.what = O_DROP, .err = VF_VIRTQ_ERR_RUNT};
    if (total - hl > room)
        return (struct o_tx){.what = O_DROP, .err = VF_VIRTQ_ERR_TOO_BIG};
    struct virtio_net_hdr_v1 h;
    memset(&h, 0, sizeof(h));
    memcpy(&h, g_stream, hl);
    struct vf_pkt *p = vf_pool_alloc(&g_ocache);
    FZ_CHECK(p, "the oracle ran out of buffers");
    memcpy(vf_pkt_data(p), g_stream + hl, total - hl);
    p->len = total - hl;
    if (vf_vnet_hdr_rx(&h, p) < 0) {
        vf_pool_free(&g_ocache, p);
        return (struct o_tx){.what = O_DROP, .err = VF_VIRTQ_ERR_BAD_HDR};
    }
    return (struct o_tx){.what = O_DELIVER, .p = p};
}

static void op_deq(unsigned n)
{
    struct gring *g = &g_ring[TX];
    struct vf_virtq *vq = &g->vq;
    struct vf_pool_cache *c = &g_cache[g_big];
    struct vf_pkt *pk[VF_BURST_MAX];
    static struct o_tx want[VF_BURST_MAX];
    unsigned nw = 0, n_dlv = 0, n_drop = 0, brk = 0;
    uint8_t was = atomic_load(&vq->broken);
    uint16_t last = vq->last_avail, used = vq->last_used;

    FZ_CHECK(last == used, "TX ring: next avail %u, next used %u between "
             "bursts", last, used);
    shadow_take();
    uint16_t end = sh16(AVAIL_OFF(TX) + 2), avail = (uint16_t)(end - last);
    if (was) {
        avail = 0;
    } else if (avail > g->size) {
        brk = VF_VIRTQ_ERR_AVAIL_IDX;
        avail = 0;
    }
    /* The chains vf_virtq must take, in order, each with its used entry
     * written (in the shadow too) before the next chain is read. */
    struct vf_pool_info pi;
    vf_pool_get_info(g_pool[g_big], &pi);
    uint32_t room = pi.data_room - VF_PKT_HEADROOM;
    unsigned take = n < avail ? n : avail;
    for (unsigned i = 0; i < take; i++) {
        uint16_t head = o_avail_head(TX, last);
        want[nw] = o_tx_one(head, room);
        if (want[nw].what == O_BREAK) {
            brk = (unsigned)want[nw].err;
            break;
        }
        o_used(TX, used, head, 0);
        used++;
        last++;
        if (want[nw].what == O_DELIVER)
            n_dlv++;
        else
            n_drop++;
        nw++;
    }
    if (used != vq->last_used)
        o_used_idx(TX, used);

    struct vf_virtq_burst res;
    FZ_CHECK(vf_virtq_enter(vq), "TX ring not live");
    unsigned k = vf_virtq_dequeue_burst(vq, pk, n, c, &res);
    vf_virtq_leave(vq);

    if (verbose())
        fprintf(stderr, "dequeue %u: %u delivered, %u dropped, broken: %s\n",
                n, res.delivered, res.dropped,
                vf_virtq_err_name(atomic_load(&vq->broken)));
    shadow_check("a dequeue");
    FZ_CHECK(k == n_dlv && res.delivered == n_dlv && res.dropped == n_drop,
             "dequeue: %u delivered (res %u), %u dropped; the oracle says "
             "%u and %u", k, res.delivered, res.dropped, n_dlv, n_drop);
    uint8_t now = atomic_load(&vq->broken);
    if (was)
        FZ_CHECK(now == was, "a broken ring changed its reason");
    else
        FZ_CHECK(now == brk, "dequeue: ring broken for %s, the oracle says "
                 "%s", vf_virtq_err_name(now), vf_virtq_err_name(brk));
    FZ_CHECK(vq->last_avail == last && vq->last_used == used,
             "dequeue: next avail %u used %u, the oracle says %u",
             vq->last_avail, vq->last_used, last);
    for (unsigned i = 0, j = 0; i < nw; i++) {
        if (want[i].what != O_DELIVER) {
            if (want[i].what == O_DROP)
                continue;
            break;
        }
        const struct vf_pkt *p = pk[j++], *q = want[i].p;
        FZ_CHECK(p->len == q->len && p->gso_size == q->gso_size &&
                 !memcmp(vf_pkt_data(p), vf_pkt_data(q), q->len),
                 "dequeued frame %u: %u bytes gso %u, the oracle's %u bytes "
                 "gso %u%s", j - 1, p->len, p->gso_size, q->len, q->gso_size,
                 p->len == q->len ? " (other bytes)" : "");
        vf_pool_free(&g_ocache, want[i].p);
    }
    vf_pool_free_burst(c, pk, k);
}

/* ---- enqueue (the guest's RX ring) ---- */

/* The byte stream one packet becomes in the guest's buffers. */
struct o_rx {
    uint32_t need, off;
    int64_t nb[2];           /* shadow offsets of num_buffers' bytes */
};

/* Writes the next bytes of the stream at guest address addr, n of them,
 * region by region: the first byte outside guest memory stops it. */
static int o_rx_write(struct o_rx *s, uint64_t addr, uint32_t n,
                      uint32_t *written)
{
    uint32_t hl = g_ring[RX].vq.hdr_len;
    while (n) {
        uint64_t run;
        int64_t at = sh_off(addr, &run);
        if (at < 0)
            return VF_VIRTQ_ERR_BAD_ADDR;
        run = run < n ? run : n;
        for (uint32_t i = 0; i < run; i++) {
            uint32_t o = s->off + i;
            if (hl == 12 && (o == 10 || o == 11))
                s->nb[o - 10] = at + i;
            g_shadow[at + i] = g_stream[o];
        }
        s->off += (uint32_t)run;
        *written += (uint32_t)run;
        addr += run;
        n -= (uint32_t)run;
    }
    return 0;
}

/* Whether every byte of [addr, addr + n) is guest memory. */
static bool o_mapped(uint64_t addr, uint64_t n)
{
    while (n) {
        uint64_t run;
        if (sh_off(addr, &run) < 0)
            return false;
        run = run < n ? run : n;
        addr += run;
        n -= run;
    }
    return true;
}

/* Fills the chain at head from s, until the stream is done; every
 * descriptor it uses must be device-writable and lie in guest memory
 * (the part not written too). */
static int o_rx_chain(uint16_t head, struct o_rx *s, uint32_t *written)
{
    struct owalk w;
    int r = o_start(RX, head, &w);

    *written = 0;
    while (!r && w.more && s->off < s->need) {
        struct vring_desc d;
        r = o_next(&w, &d);
        if (r)
            break;
        if (!(d.flags & VRING_DESC_F_WRITE))
            return VF_VIRTQ_ERR_WRONG_DIR;
        uint32_t want = s->need - s->off;
        want = want < d.len ? want : d.len;
        if (!o_mapped(d.addr + want, d.len - want))
            return VF_VIRTQ_ERR_BAD_ADDR;
        r = o_rx_write(s, d.addr, want, written);
    }
    return r;
}

#define NO_ROOM (-1)

/* One packet into the shadow's RX ring from *pa and *pu (advanced only when
 * it fits): 0, NO_ROOM, or a VF_VIRTQ_ERR_*. */
static int o_rx_one(const struct vf_pkt *pkt, uint16_t end, uint16_t *pa,
                    uint16_t *pu)
{
    struct vf_virtq *vq = &g_ring[RX].vq;
    struct virtio_net_hdr_v1 h;
    struct vf_pkt *q = vf_pool_alloc(&g_ocache);

    FZ_CHECK(q, "the oracle ran out of buffers");
    memcpy(vf_pkt_data(q), vf_pkt_data(pkt), pkt->len);
    q->len = pkt->len;
    q->gso_size = pkt->gso_size;
    int gso = vf_vnet_hdr_tx(&h, q);
    if (gso < 0 || (gso > 0 && !(g_features & (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4
                                                   ? F(VIRTIO_NET_F_GUEST_TSO4)
                                                   : F(VIRTIO_NET_F_GUEST_TSO6))))) {
        vf_pool_free(&g_ocache, q);
        return gso < 0 ? VF_VIRTQ_ERR_BAD_HDR : VF_VIRTQ_ERR_NO_GSO;
    }
    h.num_buffers = 1;
    memcpy(g_stream, &h, vq->hdr_len);
    memcpy(g_stream + vq->hdr_len, vf_pkt_data(q), q->len);
    struct o_rx s = {.need = vq->hdr_len + q->len, .nb = {-1, -1}};
    vf_pool_free(&g_ocache, q);

    uint16_t a = *pa, u = *pu;
    unsigned heads = 0;
    while (s.off < s.need) {
        if (heads && !(g_features & F(VIRTIO_NET_F_MRG_RXBUF)))
            return VF_VIRTQ_ERR_RX_TOO_SMALL;
        if (a == end)
            return NO_ROOM;
        uint16_t head = o_avail_head(RX, a);
        uint32_t written;
        int r = o_rx_chain(head, &s, &written);
        if (r)
            return r;
        o_used(RX, u, head, written);
        a++;
        u++;
        heads++;
    }
    if (s.nb[0] >= 0 && s.nb[1] >= 0) {
        g_shadow[s.nb[0]] = (uint8_t)heads;
        g_shadow[s.nb[1]] = (uint8_t)(heads >> 8);
    }
    *pa = a;
    *pu = u;
    return 0;
}

static void op_enq(struct reader *rdr)
{
    struct gring *g = &g_ring[RX];
    struct vf_virtq *vq = &g->vq;
    struct vf_pool_cache *c = &g_cache[0];
    struct vf_pkt *pk[8];
    unsigned n = (unsigned)rd(rdr, 1) % 8 + 1;

    for (unsigned i = 0; i < n; i++) {
        struct vf_pkt *p = vf_pool_alloc(c);
        FZ_CHECK(p, "the fuzzer ran out of buffers");
        uint32_t room = p->buf_len - p->data_off;
        uint32_t len = (uint32_t)rd(rdr, 2) % (room + 1);
        uint16_t gso = (uint16_t)rd(rdr, 2);
        len = len < ETH_MIN ? ETH_MIN : len;
        uint32_t have = rdr->n < len ? (uint32_t)rdr->n : len;
        memset(vf_pkt_data(p), 0, len);
        memcpy(vf_pkt_data(p), rdr->p, have);
        rdr->p += have;
        rdr->n -= have;
        p->len = len;
        p->gso_size = gso & 0x8000 ? gso & 0x7fff : 0;
        pk[i] = p;
    }

    uint8_t was = atomic_load(&vq->broken);
    uint16_t a = vq->last_avail, u = vq->last_used;
    unsigned i = 0, ok = 0, drops = 0, brk = 0;

    shadow_take();
    uint16_t end = sh16(AVAIL_OFF(RX) + 2);
    if (!was && (uint16_t)(end - a) > g->size)
        brk = VF_VIRTQ_ERR_AVAIL_IDX;
    else if (!was)
        for (; i < n; i++) {
            int r = o_rx_one(pk[i], end, &a, &u);
            if (r == 0) {
                ok++;
                continue;
            }
            if (r == NO_ROOM)
                break;
            if (vf_virtq_err_breaks((unsigned)r)) {
                brk = (unsigned)r;
                break;
            }
            drops++;
        }
    if (u != vq->last_used)
        o_used_idx(RX, u);

    struct vf_virtq_burst res;
    FZ_CHECK(vf_virtq_enter(vq), "RX ring not live");
    unsigned k = vf_virtq_enqueue_burst(vq, pk, n, c, &res);
    vf_virtq_leave(vq);

    if (verbose())
        fprintf(stderr, "enqueue %u: %u taken, %u delivered, %u dropped, "
                "broken: %s\n", n, k, res.delivered, res.dropped,
                vf_virtq_err_name(atomic_load(&vq->broken)));
    shadow_check("an enqueue");
    FZ_CHECK(k == i && res.delivered == ok && res.dropped == drops,
             "enqueue: %u taken, %u delivered, %u dropped; the oracle says "
             "%u, %u, %u", k, res.delivered, res.dropped, i, ok, drops);
    uint8_t now = atomic_load(&vq->broken);
    if (was)
        FZ_CHECK(now == was, "a broken ring changed its reason");
    else
        FZ_CHECK(now == brk, "enqueue: ring broken for %s, the oracle says "
                 "%s", vf_virtq_err_name(now), vf_virtq_err_name(brk));
    FZ_CHECK(vq->last_avail == a && vq->last_used == u,
             "enqueue: next avail %u used %u, the oracle says %u and %u",
             vq->last_avail, vq->last_used, a, u);
    /* What was not taken is still ours. */
    vf_pool_free_burst(c, pk + k, n - k);
}

/* ---- the rest of the operations ---- */

static void ring_configure(int r, uint16_t base)
{
    struct vf_virtq_config cfg = {
        .mem = &g_mem,
        .size = g_ring[r].size,
        .desc_uva = (uint64_t)(uintptr_t)(g_host[0] + DESC_OFF(r)),
        .avail_uva = (uint64_t)(uintptr_t)(g_host[0] + AVAIL_OFF(r)),
        .used_uva = (uint64_t)(uintptr_t)(g_host[0] + USED_OFF(r)),
        .features = g_features,
        .base = base,
        .tx = r == TX,
        .kick_fd = -1, .call_fd = -1, .err_fd = -1, .ep_fd = -1,
    };
    FZ_CHECK(vf_virtq_configure(&g_ring[r].vq, &cfg) == 0,
             "ring %d: a good configuration refused", r);
    vf_virtq_publish(&g_ring[r].vq);
}

static void avail_store(int r, uint16_t idx)
{
    g_ring[r].avail_idx = idx;
    memcpy(g_host[0] + AVAIL_OFF(r) + 2, &idx, 2);
}

static void run_op(struct reader *rdr)
{
    unsigned op = (unsigned)rd(rdr, 1) % FV_OP__COUNT;
    int r;

    switch (op) {
    case FV_OP_DESC: {
        r = (int)(rd(rdr, 1) & 1);
        unsigned i = (unsigned)rd(rdr, 1) % g_ring[r].size;
        struct vring_desc d = {
            .addr = rd(rdr, 8), .len = (uint32_t)rd(rdr, 4),
            .flags = (uint16_t)rd(rdr, 2), .next = (uint16_t)rd(rdr, 2),
        };
        memcpy(g_host[0] + DESC_OFF(r) + 16u * i, &d, sizeof(d));
        break;
    }
    case FV_OP_PUSH: {
        r = (int)(rd(rdr, 1) & 1);
        uint16_t head = (uint16_t)rd(rdr, 2);
        struct gring *g = &g_ring[r];
        memcpy(g_host[0] + AVAIL_OFF(r) + 4u + 2u * (g->avail_idx & (g->size - 1u)),
               &head, 2);
        avail_store(r, (uint16_t)(g->avail_idx + 1));
        break;
    }
    case FV_OP_IDX:
        r = (int)(rd(rdr, 1) & 1);
        avail_store(r, (uint16_t)rd(rdr, 2));
        break;
    case FV_OP_WRITE: {
        uint32_t off = (uint32_t)rd(rdr, 4) % MEM_TOTAL;
        uint32_t n = (uint32_t)rd(rdr, 1);
        for (uint32_t k = 0; k < n && rdr->n; k++, off = (off + 1) % MEM_TOTAL) {
            int reg = off >= g_lin[2] ? 2 : off >= g_lin[1] ? 1 : 0;
            g_host[reg][off - g_lin[reg]] = (uint8_t)rd(rdr, 1);
        }
        break;
    }
    case FV_OP_DEQ:
        op_deq((unsigned)rd(rdr, 1) % VF_BURST_MAX + 1);
        break;
    case FV_OP_ENQ:
        op_enq(rdr);
        break;
    case FV_OP_RESTART:
        r = (int)(rd(rdr, 1) & 1);
        vf_virtq_quiesce(&g_ring[r].vq);
        ring_configure(r, g_ring[r].vq.last_avail);
        break;
    case FV_OP_EVENT: {
        r = (int)(rd(rdr, 1) & 1);
        uint16_t flags = (uint16_t)rd(rdr, 2), ev = (uint16_t)rd(rdr, 2);
        memcpy(g_host[0] + AVAIL_OFF(r), &flags, 2);
        memcpy(g_host[0] + AVAIL_OFF(r) + 4u + 2u * g_ring[r].size, &ev, 2);
        break;
    }
    case FV_OP_NOTIFY: {
        r = (int)(rd(rdr, 1) & 1);
        struct vf_virtq *vq = &g_ring[r].vq;
        bool on = rd(rdr, 1) & 1;
        FZ_CHECK(vf_virtq_enter(vq), "ring %d not live", r);
        if (on) {
            uint16_t idx;
            memcpy(&idx, g_host[0] + AVAIL_OFF(r) + 2, 2);
            bool more = vf_virtq_notify_enable(vq);
            FZ_CHECK(more == (!atomic_load(&vq->broken) && idx != vq->last_avail),
                     "notify_enable says %d with avail %u, next %u", more, idx,
                     vq->last_avail);
        } else {
            vf_virtq_notify_disable(vq);
        }
        vf_virtq_leave(vq);
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader rdr = {data, size};
    uint8_t f = (uint8_t)rd(&rdr, 1), sizes = (uint8_t)rd(&rdr, 1);

    g_features = 0;
    if (f & FV_F_VERSION_1)
        g_features |= F(VIRTIO_F_VERSION_1);
    if (f & FV_F_MRG_RXBUF)
        g_features |= F(VIRTIO_NET_F_MRG_RXBUF);
    if (f & FV_F_INDIRECT)
        g_features |= F(VIRTIO_RING_F_INDIRECT_DESC);
    if (f & FV_F_EVENT_IDX)
        g_features |= F(VIRTIO_RING_F_EVENT_IDX);
    if (f & FV_F_GUEST_TSO4)
        g_features |= F(VIRTIO_NET_F_GUEST_TSO4);
    if (f & FV_F_GUEST_TSO6)
        g_features |= F(VIRTIO_NET_F_GUEST_TSO6);
    g_big = f & FV_F_BIG_BUFS;
    for (int i = 0; i < N_REG; i++)
        memset(g_host[i], 0, g_len[i]);
    for (int r = 0; r < 2; r++) {
        unsigned lg = (r == RX ? sizes : sizes >> 4) & 7;
        g_ring[r].size = (uint16_t)(1u << (lg % 7));
        g_ring[r].avail_idx = 0;
        vf_virtq_init(&g_ring[r].vq);
        ring_configure(r, 0);
    }
    for (unsigned k = 0; k < MAX_OPS && rdr.n; k++)
        run_op(&rdr);
    for (int r = 0; r < 2; r++)
        vf_virtq_quiesce(&g_ring[r].vq);
    for (int i = 0; i < 2; i++)
        vf_pool_cache_flush(&g_cache[i]);
    vf_pool_cache_flush(&g_ocache);
    FZ_CHECK(vf_pool_in_use(g_pool[0]) == 0 && vf_pool_in_use(g_pool[1]) == 0 &&
             vf_pool_in_use(g_opool) == 0, "buffers leaked: %u + %u + %u",
             vf_pool_in_use(g_pool[0]), vf_pool_in_use(g_pool[1]),
             vf_pool_in_use(g_opool));
    return 0;
}
