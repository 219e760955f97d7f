/* demo.c - the demo's traffic generator and sink (see vf_demo.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/daemon/vf_demo.h"
#include "numa/vf_wire.h"

#define DEMO_MAGIC 0x56464142u   /* "VFAB" */
#define DEMO_FRAME_MAX 128
#define DEMO_BURST 32
#define DEMO_POOL_BUFS 8192
#define DEMO_MAX_TEMPLATES 4096

struct vf_demo_tmpl {
    struct vf_port *port;       /* the sender's ring port */
    uint16_t len;
    uint16_t payload_off;       /* where DEMO_MAGIC sits */
    uint8_t frame[DEMO_FRAME_MAX];
};

struct demo_payload {
    uint32_t magic;
    uint16_t tenant;
    uint16_t chassis;    /* the sender's chassis index */
    uint64_t seq;
};

/* Ethernet + IPv4 + UDP/TCP + demo payload. proto 17 or 6. */
static unsigned build_ip(uint8_t *f, const uint8_t *dmac, const uint8_t *smac,
                         uint32_t sip, uint32_t dip, uint8_t proto,
                         uint16_t sport, uint16_t dport, uint32_t tenant,
                         uint16_t chassis, uint16_t *payload_off)
{
    unsigned l4len = proto == 6 ? 20 : 8;
    unsigned plen = sizeof(struct demo_payload);
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    f[12] = 0x08; f[13] = 0x00;
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    uint16_t tot = (uint16_t)(20 + l4len + plen);
    ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
    ip[6] = 0x40;             /* DF */
    ip[8] = 64;               /* TTL */
    ip[9] = proto;
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    uint8_t *l4 = ip + 20;
    memset(l4, 0, l4len);
    l4[0] = (uint8_t)(sport >> 8); l4[1] = (uint8_t)sport;
    l4[2] = (uint8_t)(dport >> 8); l4[3] = (uint8_t)dport;
    if (proto == 17) {
        uint16_t ul = (uint16_t)(8 + plen);
        l4[4] = (uint8_t)(ul >> 8); l4[5] = (uint8_t)ul;
    } else {
        l4[12] = 5 << 4;      /* data offset */
        l4[13] = 0x02;        /* SYN */
    }
    *payload_off = (uint16_t)(14 + 20 + l4len);
    struct demo_payload p = {DEMO_MAGIC, (uint16_t)tenant, chassis, 0};
    memcpy(f + *payload_off, &p, sizeof(p));
    return *payload_off + plen;
}

static unsigned build_arp_request(uint8_t *f, const uint8_t *smac, uint32_t sip,
                                  uint32_t tip)
{
    memset(f, 0xff, 6);
    memcpy(f + 6, smac, 6);
    f[12] = 0x08; f[13] = 0x06;
    uint8_t *a = f + 14;
    a[0] = 0; a[1] = 1; a[2] = 0x08; a[3] = 0; a[4] = 6; a[5] = 4;
    a[6] = 0; a[7] = 1;       /* request */
    memcpy(a + 8, smac, 6);
    memcpy(a + 14, &sip, 4);
    memset(a + 18, 0, 6);
    memcpy(a + 24, &tip, 4);
    memset(f + 42, 0, 18);    /* pad to 60 bytes */
    return 60;
}

static struct vf_demo_tmpl *add_tmpl(struct vf_demo *g, struct vf_port *port)
{
    if (g->n_templates >= DEMO_MAX_TEMPLATES)
        return NULL;
    struct vf_demo_tmpl *t = &g->tmpl[g->n_templates++];
    t->port = port;
    t->payload_off = 0;
    return t;
}

/* Every frame a VM on port `mp` (tenant ti) would send in the demo. */
static void add_port_traffic(struct vf_demo *g, struct vf_port *port,
                             const struct vf_model_tenant *ten, unsigned ti,
                             const struct vf_model_switch *sw,
                             const struct vf_model_port *mp)
{
    struct vf_demo_tmpl *t;
    if (mp->n_ips == 0)
        return;
    uint32_t sip = mp->ips[0];
    uint16_t ch = (uint16_t)mp->chassis_idx;
    /* Same switch: every other port (local delivery or tunnel). */
    for (size_t i = 0; i < sw->n_ports; i++) {
        const struct vf_model_port *q = &sw->ports[i];
        if (q == mp || q->n_ips == 0 || !(t = add_tmpl(g, port)))
            continue;
        t->len = (uint16_t)build_ip(t->frame, q->mac, mp->mac, sip, q->ips[0], 17,
                                    (uint16_t)(10000 + i), 5001, ti, ch,
                                    &t->payload_off);
        if ((t = add_tmpl(g, port)))   /* ARP for the neighbour */
            t->len = (uint16_t)build_arp_request(t->frame, mp->mac, sip, q->ips[0]);
    }
    /* Across the tenant's routers: from this switch to the others. */
    for (size_t r = 0; r < ten->n_routers; r++) {
        const struct vf_model_router *rt = &ten->routers[r];
        const struct vf_model_rport *gw = NULL;
        for (size_t k = 0; k < rt->n_ports; k++)
            if (!strcmp(rt->ports[k].sw, sw->name))
                gw = &rt->ports[k];
        if (!gw)
            continue;
        for (size_t k = 0; k < rt->n_ports; k++) {
            const struct vf_model_rport *o = &rt->ports[k];
            if (o == gw)
                continue;
            const struct vf_model_switch *osw = &ten->switches[o->switch_idx];
            for (size_t i = 0; i < osw->n_ports; i++) {
                const struct vf_model_port *q = &osw->ports[i];
                if (q->n_ips == 0 || !(t = add_tmpl(g, port)))
                    continue;
                t->len = (uint16_t)build_ip(t->frame, gw->mac, mp->mac, sip,
                                            q->ips[0], 17, 20000, 5002, ti, ch,
                                            &t->payload_off);
            }
        }
    }
    /* Bad traffic: a spoofed source (port security) and ssh (ACL). */
    if (sw->n_ports > 1) {
        const struct vf_model_port *q = &sw->ports[&sw->ports[0] == mp ? 1 : 0];
        if (q->n_ips && (t = add_tmpl(g, port)))
            t->len = (uint16_t)build_ip(t->frame, q->mac, mp->mac,
                                        htonl(ntohl(sip) ^ 0x80), q->ips[0], 17,
                                        666, 666, ti, ch, &t->payload_off);
        if (q->n_ips && (t = add_tmpl(g, port)))
            t->len = (uint16_t)build_ip(t->frame, q->mac, mp->mac, sip, q->ips[0],
                                        6, 40000, 22, ti, ch, &t->payload_off);
    }
}

/* Receives what the workers sent: checks tenant isolation and counts.
 * Returns how many frames it took (one burst per queue at most). */
static unsigned drain(struct vf_demo *g)
{
    struct vf_daemon *d = g->d;
    struct vf_pkt *pkts[DEMO_BURST];
    unsigned took = 0;
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !vf_port_has(dp->port, VF_PORT_CAP_IN_MEMORY) ||
            (g->stall[0] && !strcmp(dp->name, g->stall)))
            continue;
        for (unsigned q = 0; q < dp->port->n_queues; q++) {
            unsigned n = vf_ring_port_drain(dp->port, q, pkts, DEMO_BURST);
            took += n;
            for (unsigned k = 0; k < n; k++) {
                struct vf_pkt *p = pkts[k];
                const uint8_t *f = vf_pkt_data(p);
                if (dp->port == d->uplink) {
                    atomic_fetch_add_explicit(&g->stats.tunnelled, 1, memory_order_relaxed);
                } else if (p->len >= 42 && f[12] == 0x08 && f[13] == 0x06) {
                    atomic_fetch_add_explicit(&g->stats.arp_replies, 1, memory_order_relaxed);
                } else if (p->len >= 42 + sizeof(struct demo_payload)) {
                    /* Find our payload after the (possibly rewritten) headers. */
                    struct demo_payload pl;
                    unsigned off = (unsigned)(14 + (f[14] & 0x0f) * 4 +
                                              (f[14 + 9] == 6 ? 20 : 8));
                    if (off + sizeof(pl) <= p->len) {
                        memcpy(&pl, f + off, sizeof(pl));
                        if (pl.magic == DEMO_MAGIC) {
                            if (pl.tenant != dp->tenant)
                                atomic_fetch_add_explicit(&g->stats.isolation_violations, 1,
                                                          memory_order_relaxed);
                            else if (dp->tenant < VF_DEMO_MAX_TENANTS)
                                atomic_fetch_add_explicit(&g->stats.delivered[dp->tenant], 1,
                                                          memory_order_relaxed);
                            if (pl.chassis != (uint16_t)d->model.local.chassis_idx)
                                atomic_fetch_add_explicit(&g->stats.from_remote, 1,
                                                          memory_order_relaxed);
                        }
                    }
                }
            }
            vf_pool_free_burst(&g->cache, pkts, n);
        }
    }
    return took;
}

static void *demo_main(void *arg)
{
    struct vf_demo *g = arg;
    struct vf_pkt *pkts[DEMO_BURST];
    uint64_t seq = 0;
    unsigned next = 0;

    while (!atomic_load_explicit(&g->stop, memory_order_acquire)) {
        if (g->limit >= 0 && seq >= (uint64_t)g->limit) {
            /* Done generating (or sink only): keep receiving, as fast as
             * frames come (a VM that reads its queue), resting only when
             * a pass found nothing. */
            if (drain(g) == 0) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        /* One burst per sending port in turn, then drain everything. */
        for (unsigned round = 0; round < 8 && g->n_templates; round++) {
            struct vf_port *port = g->tmpl[next].port;
            unsigned want = DEMO_BURST;
            if (g->limit >= 0 && (uint64_t)g->limit - seq < want)
                want = (unsigned)((uint64_t)g->limit - seq);
            unsigned n = want ? vf_pool_alloc_burst(&g->cache, pkts, want) : 0;
            if (n < want)
                atomic_fetch_add_explicit(&g->stats.no_buffer, 1, memory_order_relaxed);
            unsigned k = 0;
            for (; k < n; k++) {
                /* Templates of one port are contiguous; cycle through them. */
                struct vf_demo_tmpl *t = &g->tmpl[next];
                vf_pkt_set(pkts[k], t->frame, t->len);
                if (t->payload_off)
                    memcpy(vf_pkt_data(pkts[k]) + t->payload_off + 8, &seq, 8);
                seq++;
                unsigned nx = (next + 1) % g->n_templates;
                if (g->tmpl[nx].port != port) {
                    next = nx;
                    k++;
                    break;
                }
                next = nx;
            }
            unsigned sent = vf_ring_port_inject(port, 0, pkts, k);
            vf_pool_free_burst(&g->cache, pkts + sent, n - sent);
            atomic_fetch_add_explicit(&g->stats.sent, sent, memory_order_relaxed);
        }
        drain(g);
    }
    drain(g);
    return NULL;
}

int vf_demo_start(struct vf_demo *g, struct vf_daemon *d, long long limit,
                  const char *stall, char *err, size_t errlen)
{
    memset(g, 0, sizeof(*g));
    g->d = d;
    g->limit = limit;
    if (stall && stall[0]) {
        const struct vf_daemon_port *sp = vf_daemon_find_port(d, stall);
        if (!sp || !vf_port_has(sp->port, VF_PORT_CAP_IN_MEMORY)) {
            snprintf(err, errlen, "demo: --demo-stall %s: no local ring port "
                     "of that name", stall);
            return -EINVAL;
        }
        snprintf(g->stall, sizeof(g->stall), "%s", stall);
    }
    g->tmpl = calloc(DEMO_MAX_TEMPLATES, sizeof(*g->tmpl));
    g->pool = vf_pool_create(&d->topo, d->place.numa_node[0], DEMO_POOL_BUFS,
                             VF_PKT_DEFAULT_DATA_ROOM, err, errlen);
    if (!g->tmpl || !g->pool) {
        free(g->tmpl);
        vf_pool_destroy(g->pool);
        return -ENOMEM;
    }
    vf_pool_cache_init(&g->cache, g->pool);
    const struct vf_model *m = &d->model;
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->mport || !vf_port_has(dp->port, VF_PORT_CAP_IN_MEMORY))
            continue;
        const struct vf_model_tenant *ten = &m->tenants[dp->tenant];
        for (size_t s = 0; s < ten->n_switches; s++)
            for (size_t k = 0; k < ten->switches[s].n_ports; k++)
                if (&ten->switches[s].ports[k] == dp->mport)
                    add_port_traffic(g, dp->port, ten, dp->tenant,
                                     &ten->switches[s], dp->mport);
    }
    if (g->n_templates == 0 && limit != 0) {
        snprintf(err, errlen, "demo: no local ring port with an IP address to "
                 "send from; give ports attach: {type: ring} and ips");
        vf_demo_free(g);
        return -EINVAL;
    }
    int rc = pthread_create(&g->th, NULL, demo_main, g);
    if (rc) {
        snprintf(err, errlen, "demo: cannot start generator: %s", strerror(rc));
        g->th = 0;
        vf_demo_free(g);
        return -rc;
    }
    return 0;
}

void vf_demo_stop(struct vf_demo *g)
{
    if (g->th) {
        atomic_store_explicit(&g->stop, 1, memory_order_release);
        pthread_join(g->th, NULL);
        g->th = 0;
    }
}

void vf_demo_free(struct vf_demo *g)
{
    vf_demo_stop(g);
    if (g->pool) {
        vf_pool_cache_flush(&g->cache);
        vf_pool_destroy(g->pool);
        g->pool = NULL;
    }
    free(g->tmpl);
    g->tmpl = NULL;
}
