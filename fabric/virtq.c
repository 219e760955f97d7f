/* virtq.c - split virtqueues in guest memory (vf_virtq.h).
 *
 * Reading guest memory. Indices (avail->idx, avail->ring[]) are 16-bit
 * atomic loads from aligned addresses (configure checks the spec's
 * alignment of each ring). A descriptor is memcpy'd into a local struct
 * first; every check and every use reads the local copy only, so a guest
 * that rewrites its descriptor table under us cannot slip a value past a
 * check. Frame bytes are copied with memcpy: the guest may change them while
 * we copy, which only garbles its own frame. Fields are little-endian
 * (VERSION_1; legacy guests on x86 are too): vfab builds for x86-64 only.
 *
 * Bounds on the work per call: at most n heads (n <= VF_BURST_MAX on the TX
 * side), each chain at most `size` descriptors (or an indirect table's
 * entries), each TX chain at most VF_VIRTQ_TX_CHAIN_MAX bytes; an RX frame
 * consumes at most the heads the guest has made available.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "fabric/vf_port.h"   /* vf_stat_add */
#include "fabric/vf_virtq.h"
#include "fabric/vf_vnet_hdr.h"
#include "numa/vf_wire.h"

#define NO_ROOM (-1)   /* enqueue: the guest has no buffer left */

static const char *const err_names[VF_VIRTQ_ERR__COUNT] = {
    [VF_VIRTQ_OK] = "none",
#define VF_VIRTQ_ERR_NAME_(id, name, brk) [VF_VIRTQ_ERR_##id] = name,
    VF_VIRTQ_ERRORS(VF_VIRTQ_ERR_NAME_)
#undef VF_VIRTQ_ERR_NAME_
};

static const bool err_breaks[VF_VIRTQ_ERR__COUNT] = {
#define VF_VIRTQ_ERR_BRK_(id, name, brk) [VF_VIRTQ_ERR_##id] = brk,
    VF_VIRTQ_ERRORS(VF_VIRTQ_ERR_BRK_)
#undef VF_VIRTQ_ERR_BRK_
};

const char *vf_virtq_err_name(unsigned err)
{
    return err < VF_VIRTQ_ERR__COUNT ? err_names[err] : "unknown";
}

bool vf_virtq_err_breaks(unsigned err)
{
    return err < VF_VIRTQ_ERR__COUNT && err_breaks[err];
}

void *vf_vhost_mem_uva(const struct vf_vhost_mem *m, uint64_t uva, uint64_t len)
{
    for (unsigned i = 0; m && i < m->n; i++) {
        const struct vf_vhost_region *r = &m->r[i];
        uint64_t off = uva - r->uva;
        if (uva >= r->uva && off < r->size && len <= r->size - off)
            return r->host + off;
    }
    return NULL;
}

/* ---- the handshake with mgmt -------------------------------------------- */

void vf_virtq_lock_slow(struct vf_virtq *vq)
{
    for (unsigned spins = 0;; spins++) {
        if (!atomic_load_explicit(&vq->lock, memory_order_relaxed) &&
            !atomic_exchange_explicit(&vq->lock, 1, memory_order_acquire))
            return;
        if (spins >= VF_VIRTQ_SPIN) {
            sched_yield();
            spins = 0;
        }
    }
}

void vf_virtq_init(struct vf_virtq *vq)
{
    memset(vq, 0, sizeof(*vq));
    vq->kick_fd = vq->call_fd = vq->err_fd = vq->ep_fd = -1;
}

static void kick_leave_ep(struct vf_virtq *vq)
{
    if (!vq->kick_in_ep)
        return;
    /* Explicitly: the eventfd's file is shared with QEMU, so closing our fd
     * later would not take it out of the set. */
    (void)epoll_ctl(vq->ep_fd, EPOLL_CTL_DEL, vq->kick_fd, NULL);
    vq->kick_in_ep = false;
}

void vf_virtq_quiesce(struct vf_virtq *vq)
{
    vf_virtq_lock(vq);
    atomic_store_explicit(&vq->live, 0, memory_order_relaxed);
    kick_leave_ep(vq);
    vf_virtq_unlock(vq);
}

void vf_virtq_publish(struct vf_virtq *vq)
{
    vf_virtq_lock(vq);
    atomic_store_explicit(&vq->live, 1, memory_order_relaxed);
    vf_virtq_unlock(vq);   /* release: the configuration before `live` */
}

void vf_virtq_reset(struct vf_virtq *vq)
{
    kick_leave_ep(vq);
    vq->desc = NULL;
    vq->avail = NULL;
    vq->used = NULL;
    vq->mem = NULL;
    vq->size = vq->mask = 0;
    vq->kick_fd = vq->call_fd = vq->err_fd = vq->ep_fd = -1;
    vq->last_avail = vq->last_used = 0;
    vq->hint = 0;
    atomic_store_explicit(&vq->broken, 0, memory_order_relaxed);
}

/* The guest's avail_event (our request for kicks, in the used ring after
 * its entries) and used_event (its request for interrupts, after the avail
 * ring's entries). */
static inline uint16_t *avail_event(const struct vf_virtq *vq)
{
    return (uint16_t *)(void *)&vq->used->ring[vq->size];
}

static inline uint16_t *used_event(const struct vf_virtq *vq)
{
    return (uint16_t *)&vq->avail->ring[vq->size];
}

int vf_virtq_configure(struct vf_virtq *vq, const struct vf_virtq_config *c)
{
    uint32_t n = c->size;
    if (!c->mem || n == 0 || n > VF_VIRTQ_MAX_SIZE || (n & (n - 1)))
        return -EINVAL;
    /* Sizes from the spec: the avail and used rings end with the event
     * index of the other side (present whether EVENT_IDX is on or not). */
    struct vring_desc *d = vf_vhost_mem_uva(c->mem, c->desc_uva, 16ull * n);
    struct vring_avail *a = vf_vhost_mem_uva(c->mem, c->avail_uva, 6ull + 2ull * n);
    struct vring_used *u = vf_vhost_mem_uva(c->mem, c->used_uva, 6ull + 8ull * n);
    if (!d || !a || !u)
        return -EINVAL;
    if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3))
        return -EINVAL;

    kick_leave_ep(vq);
    vq->desc = d;
    vq->avail = a;
    vq->used = u;
    vq->mem = c->mem;
    vq->size = (uint16_t)n;
    vq->mask = (uint16_t)(n - 1);
    vq->tx = c->tx;
    vq->hdr_len = (c->features & ((1ull << VIRTIO_F_VERSION_1) |
                                  (1ull << VIRTIO_NET_F_MRG_RXBUF))) ? 12 : 10;
    vq->flags = 0;
    if (c->features & (1ull << VIRTIO_RING_F_EVENT_IDX))
        vq->flags |= VF_VIRTQ_F_EVENT_IDX;
    if (c->features & (1ull << VIRTIO_NET_F_MRG_RXBUF))
        vq->flags |= VF_VIRTQ_F_MRG_RXBUF;
    if (c->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC))
        vq->flags |= VF_VIRTQ_F_INDIRECT;
    if (c->features & (1ull << VIRTIO_NET_F_GUEST_TSO4))
        vq->flags |= VF_VIRTQ_F_GUEST_TSO4;
    if (c->features & (1ull << VIRTIO_NET_F_GUEST_TSO6))
        vq->flags |= VF_VIRTQ_F_GUEST_TSO6;
    vq->kick_fd = c->kick_fd;
    vq->call_fd = c->call_fd;
    vq->err_fd = c->err_fd;
    vq->ep_fd = c->ep_fd;
    vq->hint = 0;
    atomic_store_explicit(&vq->broken, 0, memory_order_relaxed);

    /* The used ring says what the guest has been given back. After a crash
     * of ours the frontend's base may disagree with it; the used ring is
     * what the guest acts on, so it wins (every burst completes what it
     * takes, so avail == used between bursts). */
    vq->last_avail = vq->last_used = c->base;
    uint16_t uidx = __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
    if (uidx != c->base)
        vq->last_avail = vq->last_used = uidx;

    if (vq->tx) {
        /* Kicks on until the worker first wakes: it may be asleep now. */
        __atomic_store_n(&u->flags, 0, __ATOMIC_RELAXED);
        __atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
        if (vq->kick_fd >= 0 && vq->ep_fd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = vq->kick_fd};
            if (epoll_ctl(vq->ep_fd, EPOLL_CTL_ADD, vq->kick_fd, &ev) < 0)
                return -errno;
            vq->kick_in_ep = true;
        }
    } else {
        /* A refill is never waited for: ask for no kicks. With EVENT_IDX an
         * event one behind the next index is never crossed by new entries
         * (until the 16-bit index wraps: one spurious kick per 65536). */
        __atomic_store_n(&u->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
        __atomic_store_n(avail_event(vq), (uint16_t)(vq->last_avail - 1),
                         __ATOMIC_RELAXED);
    }
    return 0;
}

/* ---- shared by both directions ------------------------------------------ */

/* Marks the ring broken (once), counts the reason, tells the frontend
 * through the error eventfd and stops the guest's kicks from waking the
 * worker. Error path only. */
static void vq_break(struct vf_virtq *vq, int err)
{
    if (atomic_load_explicit(&vq->broken, memory_order_relaxed))
        return;
    atomic_store_explicit(&vq->broken, (uint8_t)err, memory_order_relaxed);
    vf_stat_add(&vq->st.err[err], 1);
    if (vq->err_fd >= 0) {
        uint64_t one = 1;
        (void)!write(vq->err_fd, &one, sizeof(one));
    }
    kick_leave_ep(vq);
}

/* Publishes the used entries filled since `old` and interrupts the guest if
 * it asked for it. */
static void used_publish(struct vf_virtq *vq, uint16_t old)
{
    uint16_t now = vq->last_used;
    if (now == old)
        return;
    /* release: the entries (and the data they describe) before the index. */
    __atomic_store_n(&vq->used->idx, now, __ATOMIC_RELEASE);
    /* Orders the index store before reading the guest's request; pairs
     * with the full barrier the guest puts between writing its request and
     * reading used->idx (store-buffering: one side sees the other). */
    atomic_thread_fence(memory_order_seq_cst);
    bool want;
    if (vq->flags & VF_VIRTQ_F_EVENT_IDX) {
        uint16_t ev = __atomic_load_n(used_event(vq), __ATOMIC_RELAXED);
        want = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
    } else {
        want = !(__atomic_load_n(&vq->avail->flags, __ATOMIC_RELAXED) &
                 VRING_AVAIL_F_NO_INTERRUPT);
    }
    if (want && vq->call_fd >= 0) {
        uint64_t one = 1;
        if (write(vq->call_fd, &one, sizeof(one)) == sizeof(one))
            vf_stat_add(&vq->st.calls, 1);
    }
}

/* Entries the guest made available past last_avail; *jump set when the
 * index moved further than the ring holds. */
static inline uint16_t avail_count(const struct vf_virtq *vq, uint16_t *end,
                                   bool *jump)
{
    /* acquire: the entries and descriptors before the index (the guest's
     * write barrier sits between them). */
    *end = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
    uint16_t k = (uint16_t)(*end - vq->last_avail);
    *jump = k > vq->size;
    return k;
}

static inline uint16_t avail_head(const struct vf_virtq *vq, uint16_t pos)
{
    return __atomic_load_n(&vq->avail->ring[pos & vq->mask], __ATOMIC_RELAXED);
}

/* Switches a chain walk to the indirect table d points to. Only the chain's
 * first and only descriptor may be indirect, and tables do not nest.
 * Nesting is known from the walk (in_table), never from where the table
 * lies: a guest may point an indirect descriptor at the ring's own
 * descriptor table, whose first entry is that descriptor again. */
static int enter_indirect(const struct vf_virtq *vq, const struct vring_desc *d,
                          bool in_table, unsigned seen,
                          const struct vring_desc **tab, uint32_t *tsize,
                          unsigned *hint)
{
    if (!(vq->flags & VF_VIRTQ_F_INDIRECT) || in_table || seen != 1 ||
        (d->flags & VRING_DESC_F_NEXT) || d->len == 0 || d->len % 16 ||
        d->len / 16 > VF_VIRTQ_MAX_SIZE)
        return VF_VIRTQ_ERR_BAD_INDIRECT;
    uint64_t n = d->len;
    const uint8_t *t = vf_vhost_mem_gpa(vq->mem, d->addr, &n, hint);
    if (!t)
        return VF_VIRTQ_ERR_BAD_ADDR;
    if (n != d->len) {
        /* Past the end of guest memory, or split over two regions (legal
         * but not supported for a table). */
        uint64_t rest = d->len - n;
        const uint8_t *more = vf_vhost_mem_gpa(vq->mem, d->addr + n, &rest, hint);
        return more ? VF_VIRTQ_ERR_BAD_INDIRECT : VF_VIRTQ_ERR_BAD_ADDR;
    }
    *tab = (const struct vring_desc *)(const void *)t;
    *tsize = d->len / 16;
    return 0;
}

/* A walk along one chain: the descriptors in order, indirect tables
 * entered, every index and the chain's length checked. */
struct chain {
    const struct vring_desc *tab;
    uint32_t tsize, idx;
    unsigned seen;
    bool indirect;     /* tab is an indirect table */
    bool more;         /* a descriptor follows the last one returned */
};

static inline int chain_start(const struct vf_virtq *vq, uint16_t head,
                              struct chain *w)
{
    *w = (struct chain){.tab = vq->desc, .tsize = vq->size, .idx = head, .more = true};
    return head < vq->size ? 0 : VF_VIRTQ_ERR_BAD_HEAD;
}

/* The next buffer descriptor (never an indirect one) into *d: 0 or a
 * VF_VIRTQ_ERR_*. Only called while w->more. */
static inline int chain_next(struct vf_virtq *vq, struct chain *w,
                             struct vring_desc *d)
{
    for (;;) {
        if (w->idx >= w->tsize)
            return VF_VIRTQ_ERR_BAD_NEXT;
        if (++w->seen > w->tsize)
            return VF_VIRTQ_ERR_LOOP;
        memcpy(d, &w->tab[w->idx], sizeof(*d));   /* the one read; see the top */
        if (d->flags & VRING_DESC_F_INDIRECT) {
            int r = enter_indirect(vq, d, w->indirect, w->seen, &w->tab,
                                   &w->tsize, &vq->hint);
            if (r)
                return r;
            w->indirect = true;
            w->idx = 0;
            w->seen = 0;
            continue;
        }
        w->more = d->flags & VRING_DESC_F_NEXT;
        w->idx = d->next;
        return 0;
    }
}

/* ---- guest TX ring -> packets -------------------------------------------- */

struct tx_copy {
    uint8_t hdr[VF_VIRTQ_HDR_MAX];
    uint32_t hdr_len, hdr_got;
    uint8_t *dst;      /* the packet's frame area */
    uint32_t room;     /* bytes it can hold */
    uint32_t flen;     /* frame bytes seen (copied when <= room) */
    uint32_t total;    /* chain bytes, header included */
};

static int tx_desc(struct vf_virtq *vq, uint64_t addr, uint32_t len,
                   struct tx_copy *c)
{
    if (len > VF_VIRTQ_TX_CHAIN_MAX - c->total)
        return VF_VIRTQ_ERR_TOO_LONG;
    c->total += len;
    while (len) {
        uint64_t n = len;
        const uint8_t *src = vf_vhost_mem_gpa(vq->mem, addr, &n, &vq->hint);
        if (!src)
            return VF_VIRTQ_ERR_BAD_ADDR;
        uint32_t k = (uint32_t)n;
        addr += n;
        len -= k;
        if (c->hdr_got < c->hdr_len) {
            uint32_t h = c->hdr_len - c->hdr_got;
            h = h < k ? h : k;
            memcpy(c->hdr + c->hdr_got, src, h);
            c->hdr_got += h;
            src += h;
            k -= h;
        }
        if (k && c->flen + k <= c->room)
            memcpy(c->dst + c->flen, src, k);
        c->flen += k;   /* past room: still counted, so TOO_BIG is seen */
    }
    return 0;
}

/* Walks the chain at head and copies it into c. 0 or a VF_VIRTQ_ERR_*. */
static int tx_chain(struct vf_virtq *vq, uint16_t head, struct tx_copy *c)
{
    struct chain w;
    int r = chain_start(vq, head, &w);
    while (!r && w.more) {
        struct vring_desc d;
        r = chain_next(vq, &w, &d);
        if (!r && (d.flags & VRING_DESC_F_WRITE))
            r = VF_VIRTQ_ERR_WRONG_DIR;
        if (!r)
            r = tx_desc(vq, d.addr, d.len, c);
    }
    return r;
}

/* Turns a copied chain into a packet: 0, or a frame-level VF_VIRTQ_ERR_*. */
static int tx_finish(const struct tx_copy *c, struct vf_pkt *p)
{
    if (c->hdr_got < c->hdr_len || c->flen < VF_ETH_HDR_LEN)
        return VF_VIRTQ_ERR_RUNT;
    if (c->flen > c->room)
        return VF_VIRTQ_ERR_TOO_BIG;
    struct virtio_net_hdr_v1 h;
    memset(&h, 0, sizeof(h));
    memcpy(&h, c->hdr, c->hdr_len);
    p->len = c->flen;
    if (vf_vnet_hdr_rx(&h, p) < 0)
        return VF_VIRTQ_ERR_BAD_HDR;
    return 0;
}

unsigned vf_virtq_dequeue_burst(struct vf_virtq *vq, struct vf_pkt **pkts,
                                unsigned n, struct vf_pool_cache *cache,
                                struct vf_virtq_burst *res)
{
    struct vf_pkt *bufs[VF_BURST_MAX], *bad[VF_BURST_MAX];
    unsigned got, i, k = 0, nbad = 0, refused = 0;
    uint16_t end, old = vq->last_used;
    bool jump;

    if (res)
        *res = (struct vf_virtq_burst){0};
    if (atomic_load_explicit(&vq->broken, memory_order_relaxed))
        return 0;
    uint16_t avail = avail_count(vq, &end, &jump);
    if (jump) {
        vq_break(vq, VF_VIRTQ_ERR_AVAIL_IDX);
        return 0;
    }
    n = n < VF_BURST_MAX ? n : VF_BURST_MAX;
    n = n < avail ? n : avail;
    if (n == 0)
        return 0;
    got = vf_pool_alloc_burst(cache, bufs, n);

    uint64_t bytes = 0;
    for (i = 0; i < got; i++) {
        struct vf_pkt *p = bufs[i];
        uint16_t head = avail_head(vq, vq->last_avail);
        struct tx_copy c = {
            .hdr_len = vq->hdr_len,
            .dst = vf_pkt_data(p),
            .room = p->buf_len - p->data_off,
        };
        int r = tx_chain(vq, head, &c);
        if (r) {
            vq_break(vq, r);
            break;
        }
        /* A TX buffer is only read: its used length is 0. */
        struct vring_used_elem *ue = &vq->used->ring[vq->last_used & vq->mask];
        ue->id = head;
        ue->len = 0;
        vq->last_used++;
        vq->last_avail++;
        r = tx_finish(&c, p);
        if (r) {
            vf_stat_add(&vq->st.err[r], 1);
            bad[nbad++] = p;
            refused++;
            continue;
        }
        bytes += p->len;
        pkts[k++] = p;
    }
    /* Buffers not used (a break) go back with the refused ones. */
    for (; i < got; i++)
        bad[nbad++] = bufs[i];
    if (nbad)
        vf_pool_free_burst(cache, bad, nbad);
    used_publish(vq, old);
    if (k) {
        vf_stat_add(&vq->st.pkts, k);
        vf_stat_add(&vq->st.bytes, bytes);
    }
    if (res)
        *res = (struct vf_virtq_burst){.delivered = k, .dropped = refused, .bytes = bytes};
    return k;
}

/* ---- packets -> guest RX ring -------------------------------------------- */

/* The byte stream written into the guest's buffers: the vnet header, then
 * the frame. nb[] remembers where num_buffers (stream bytes 10 and 11) went,
 * to be filled in once the number of heads is known. */
struct rx_copy {
    const uint8_t *hdr;
    uint32_t hdr_len;
    const uint8_t *frame;
    uint32_t need, off;
    uint8_t *nb[2];
};

static void rx_write(struct rx_copy *c, uint8_t *dst, uint32_t n)
{
    uint32_t o = c->off;
    for (unsigned b = 0; b < 2 && c->hdr_len == 12; b++)
        if (o <= 10u + b && 10u + b < o + n)
            c->nb[b] = dst + (10u + b - o);
    if (o < c->hdr_len) {
        uint32_t h = c->hdr_len - o < n ? c->hdr_len - o : n;
        memcpy(dst, c->hdr + o, h);
        dst += h;
        o += h;
        n -= h;
    }
    if (n)
        memcpy(dst, c->frame + (o - c->hdr_len), n);
    c->off = o + n;
}

/* Checks that [addr, addr + len) is guest memory. */
static bool rx_range_ok(struct vf_virtq *vq, uint64_t addr, uint64_t len)
{
    while (len) {
        uint64_t n = len;
        if (!vf_vhost_mem_gpa(vq->mem, addr, &n, &vq->hint))
            return false;
        addr += n;
        len -= n;
    }
    return true;
}

/* Fills the chain at head from c, stopping when the stream is done.
 * *written: bytes put in this chain. */
static int rx_chain(struct vf_virtq *vq, uint16_t head, struct rx_copy *c,
                    uint32_t *written)
{
    struct chain w;
    int r = chain_start(vq, head, &w);
    *written = 0;
    while (!r && w.more && c->off < c->need) {
        struct vring_desc d;
        r = chain_next(vq, &w, &d);
        if (r)
            break;
        if (!(d.flags & VRING_DESC_F_WRITE))
            return VF_VIRTQ_ERR_WRONG_DIR;
        uint64_t addr = d.addr;
        uint32_t want = c->need - c->off;
        want = want < d.len ? want : d.len;
        /* The part not written is checked too: every descriptor we accept
         * lies wholly in guest memory. */
        if (!rx_range_ok(vq, addr + want, d.len - want))
            return VF_VIRTQ_ERR_BAD_ADDR;
        while (want) {
            uint64_t n = want;
            uint8_t *dst = vf_vhost_mem_gpa(vq->mem, addr, &n, &vq->hint);
            if (!dst)
                return VF_VIRTQ_ERR_BAD_ADDR;
            rx_write(c, dst, (uint32_t)n);
            *written += (uint32_t)n;
            addr += n;
            want -= (uint32_t)n;
        }
    }
    return r;
}

/* One packet into the guest's heads from *pa (< end); fills used entries
 * from *pu, and advances both only on success. 0, NO_ROOM, or a
 * VF_VIRTQ_ERR_*. */
static int rx_one(struct vf_virtq *vq, struct vf_pkt *p, uint16_t end,
                  uint16_t *pa, uint16_t *pu)
{
    struct virtio_net_hdr_v1 h;
    int g = vf_vnet_hdr_tx(&h, p);
    if (g < 0)
        return VF_VIRTQ_ERR_BAD_HDR;
    if (g > 0) {
        unsigned need = h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 ? VF_VIRTQ_F_GUEST_TSO4
                                                                : VF_VIRTQ_F_GUEST_TSO6;
        if (!(vq->flags & need))
            return VF_VIRTQ_ERR_NO_GSO;
    }
    h.num_buffers = 1;
    struct rx_copy c = {
        .hdr = (const uint8_t *)&h,
        .hdr_len = vq->hdr_len,
        .frame = vf_pkt_data(p),
        .need = vq->hdr_len + p->len,
    };
    uint16_t a = *pa, u = *pu;
    unsigned heads = 0;
    bool mrg = vq->flags & VF_VIRTQ_F_MRG_RXBUF;

    while (c.off < c.need) {
        if (heads && !mrg)
            return VF_VIRTQ_ERR_RX_TOO_SMALL;
        if (a == end)
            return NO_ROOM;
        uint16_t head = avail_head(vq, a);
        uint32_t written;
        int r = rx_chain(vq, head, &c, &written);
        if (r)
            return r;
        /* Not visible to the guest before used->idx moves past it. */
        struct vring_used_elem *ue = &vq->used->ring[u & vq->mask];
        ue->id = head;
        ue->len = written;
        a++;
        u++;
        heads++;
    }
    if (c.nb[0] && c.nb[1]) {
        *c.nb[0] = (uint8_t)heads;
        *c.nb[1] = (uint8_t)(heads >> 8);
    }
    *pa = a;
    *pu = u;
    return 0;
}

unsigned vf_virtq_enqueue_burst(struct vf_virtq *vq, struct vf_pkt **pkts,
                                unsigned n, struct vf_pool_cache *cache,
                                struct vf_virtq_burst *res)
{
    uint16_t end, old = vq->last_used;
    uint16_t a = vq->last_avail, u = vq->last_used;
    unsigned i, drops = 0, ok = 0;
    uint64_t bytes = 0;
    bool jump;

    if (res)
        *res = (struct vf_virtq_burst){0};
    if (n == 0 || atomic_load_explicit(&vq->broken, memory_order_relaxed))
        return 0;
    (void)avail_count(vq, &end, &jump);
    if (jump) {
        vq_break(vq, VF_VIRTQ_ERR_AVAIL_IDX);
        return 0;
    }
    for (i = 0; i < n; i++) {
        int r = rx_one(vq, pkts[i], end, &a, &u);
        if (r == 0) {
            ok++;
            bytes += pkts[i]->len;
            continue;
        }
        if (r == NO_ROOM) {
            vf_stat_add(&vq->st.full, n - i);
            break;
        }
        if (vf_virtq_err_breaks((unsigned)r)) {
            vq_break(vq, r);
            break;
        }
        vf_stat_add(&vq->st.err[r], 1);
        drops++;
    }
    vq->last_avail = a;
    vq->last_used = u;
    used_publish(vq, old);
    if (i)
        vf_pool_free_burst(cache, pkts, i);
    if (ok) {
        vf_stat_add(&vq->st.pkts, ok);
        vf_stat_add(&vq->st.bytes, bytes);
    }
    if (res)
        *res = (struct vf_virtq_burst){.delivered = ok, .dropped = drops, .bytes = bytes};
    return i;
}

/* ---- notifications ------------------------------------------------------- */

bool vf_virtq_notify_enable(struct vf_virtq *vq)
{
    if (atomic_load_explicit(&vq->broken, memory_order_relaxed))
        return false;
    if (vq->flags & VF_VIRTQ_F_EVENT_IDX)
        __atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&vq->used->flags, 0, __ATOMIC_RELAXED);
    /* Pairs with the guest's full barrier between its avail->idx store and
     * its read of the flag / avail_event (see the header). */
    atomic_thread_fence(memory_order_seq_cst);
    return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail;
}

void vf_virtq_notify_disable(struct vf_virtq *vq)
{
    if (vq->kick_fd >= 0) {
        uint64_t v;
        if (read(vq->kick_fd, &v, sizeof(v)) == sizeof(v))
            vf_stat_add(&vq->st.kicks, v);
    }
    /* With EVENT_IDX a stale avail_event already keeps kicks off. */
    if (!(vq->flags & VF_VIRTQ_F_EVENT_IDX))
        __atomic_store_n(&vq->used->flags, VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
}

uint16_t vf_virtq_pending(const struct vf_virtq *vq)
{
    if (atomic_load_explicit(&vq->broken, memory_order_relaxed))
        return 0;
    uint16_t end;
    bool jump;
    uint16_t k = avail_count(vq, &end, &jump);
    return jump ? 0 : k;
}
