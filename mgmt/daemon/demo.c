/* demo.c - the demo's traffic generator and sink (see vf_demo.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

#include "mgmt/daemon/vf_demo.h"
#include "numa/vf_wire.h"

#define DEMO_MAGIC 0x56464142u   /* "VFAB" */
#define DEMO_FRAME_MAX 128
#define DEMO_BURST 32
#define DEMO_POOL_BUFS 8192
#define DEMO_MAX_TEMPLATES 4096
#define NO_TENANT UINT16_MAX

/* A VM the demo plays: found again by name (and tenant) in each new port
 * view, since mgmt may close its port and open another one. */
struct vf_demo_sender {
    char name[VF_NAME_MAX];
    uint16_t tenant;            /* the demo's tenant id */
    struct vf_port *port;       /* from the current view; NULL: gone */
};

struct vf_demo_tmpl {
    unsigned sender;            /* index in g->senders */
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

static struct vf_demo_tmpl *add_tmpl(struct vf_demo *g, unsigned sender)
{
    if (g->n_templates >= DEMO_MAX_TEMPLATES)
        return NULL;
    struct vf_demo_tmpl *t = &g->tmpl[g->n_templates++];
    t->sender = sender;
    t->payload_off = 0;
    return t;
}

/* Every frame a VM on port `mp` (tenant ti) would send in the demo. */
static void add_port_traffic(struct vf_demo *g, unsigned port,
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

/* The demo's id of a tenant name; NO_TENANT for one it does not know. */
static uint16_t tenant_id(const struct vf_demo *g, const char *name)
{
    for (unsigned t = 0; t < g->n_tenants; t++)
        if (!strcmp(g->tenants[t], name))
            return (uint16_t)t;
    return NO_TENANT;
}

/* A new port view (vf_port_view.h): find each sender's port again, and
 * each port's tenant. Between two quiescent states only this view's ports
 * are used. */
static void resolve(struct vf_demo *g, const struct vf_port_view *v)
{
    if (v->n > g->rx_cap) {
        uint16_t *nt = realloc(g->rx_tenant, v->n * sizeof(*nt));
        if (!nt) {
            /* Keep going with no receivers rather than stale ones. */
            g->view_n = 0;
            for (unsigned i = 0; i < g->n_senders; i++)
                g->senders[i].port = NULL;
            return;
        }
        g->rx_tenant = nt;
        g->rx_cap = v->n;
    }
    g->view_n = v->n;
    for (unsigned i = 0; i < v->n; i++)
        g->rx_tenant[i] = v->e[i].uplink ? NO_TENANT : tenant_id(g, v->e[i].tenant);
    for (unsigned s = 0; s < g->n_senders; s++) {
        struct vf_demo_sender *snd = &g->senders[s];
        snd->port = NULL;
        for (unsigned i = 0; i < v->n; i++)
            if (!v->e[i].uplink && g->rx_tenant[i] == snd->tenant &&
                !strcmp(v->e[i].name, snd->name) &&
                vf_port_has(v->e[i].port, VF_PORT_CAP_IN_MEMORY))
                snd->port = v->e[i].port;
    }
    g->view_version = v->version;
}

/* Receives what the workers sent: checks tenant isolation and counts.
 * Returns how many frames it took (one burst per queue at most). */
static unsigned drain(struct vf_demo *g, const struct vf_port_view *v)
{
    struct vf_pkt *pkts[DEMO_BURST];
    unsigned took = 0;
    uint16_t here = (uint16_t)g->local_chassis;
    for (unsigned i = 0; i < v->n && i < g->view_n; i++) {
        const struct vf_port_view_entry *e = &v->e[i];
        if (!vf_port_has(e->port, VF_PORT_CAP_IN_MEMORY) ||
            (g->stall[0] && !strcmp(e->name, g->stall)))
            continue;
        uint16_t rx_tenant = g->rx_tenant[i];
        for (unsigned q = 0; q < e->port->n_queues; q++) {
            unsigned n = vf_ring_port_drain(e->port, q, pkts, DEMO_BURST);
            took += n;
            for (unsigned k = 0; k < n; k++) {
                struct vf_pkt *p = pkts[k];
                const uint8_t *f = vf_pkt_data(p);
                if (e->uplink) {
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
                            /* A port of a tenant the demo does not know
                             * (added later) must not get demo traffic. */
                            if (pl.tenant != rx_tenant)
                                atomic_fetch_add_explicit(&g->stats.isolation_violations, 1,
                                                          memory_order_relaxed);
                            else if (rx_tenant < VF_DEMO_MAX_TENANTS)
                                atomic_fetch_add_explicit(&g->stats.delivered[rx_tenant], 1,
                                                          memory_order_relaxed);
                            if (pl.chassis != here)
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

/* The next template of another sender (all of one sender's are in a row). */
static unsigned skip_sender(const struct vf_demo *g, unsigned next)
{
    unsigned s = g->tmpl[next].sender;
    for (unsigned i = 0; i < g->n_templates && g->tmpl[next].sender == s; i++)
        next = (next + 1) % g->n_templates;
    return next;
}

/* The current port view, re-resolved when mgmt published a new one. Call
 * right after a quiescent state: it may have freed the previous one. */
static const struct vf_port_view *current_view(struct vf_demo *g)
{
    const struct vf_port_view *v = rcu_dereference(g->d->view);
    if (v->version != g->view_version)
        resolve(g, v);
    return v;
}

/* Rests a little; offline, so a grace period need not wait for it. */
static void rest(void)
{
    struct timespec ts = {0, 200000};
    rcu_thread_offline();
    nanosleep(&ts, NULL);
    rcu_thread_online();
}

static void *demo_main(void *arg)
{
    struct vf_demo *g = arg;
    struct vf_pkt *pkts[DEMO_BURST];
    uint64_t seq = 0;
    unsigned next = 0;

    /* A QSBR reader of d->view, like the workers of their tables. */
    rcu_register_thread();
    while (!atomic_load_explicit(&g->stop, memory_order_acquire)) {
        rcu_quiescent_state();
        const struct vf_port_view *v = current_view(g);
        if (g->limit >= 0 && seq >= (uint64_t)g->limit) {
            /* Done generating (or sink only): keep receiving, as fast as
             * frames come (a VM that reads its queue), resting only when
             * a pass found nothing. */
            if (drain(g, v) == 0)
                rest();
            continue;
        }
        /* One burst per sending port in turn, then drain everything. */
        for (unsigned round = 0; round < 8 && g->n_templates; round++) {
            unsigned sender = g->tmpl[next].sender;
            struct vf_port *port = g->senders[sender].port;
            if (!port) {                 /* its port left: skip its frames */
                next = skip_sender(g, next);
                continue;
            }
            unsigned want = DEMO_BURST;
            if (g->limit >= 0 && (uint64_t)g->limit - seq < want)
                want = (unsigned)((uint64_t)g->limit - seq);
            unsigned n = want ? vf_pool_alloc_burst(&g->cache, pkts, want) : 0;
            if (n < want)
                atomic_fetch_add_explicit(&g->stats.no_buffer, 1, memory_order_relaxed);
            unsigned k = 0;
            for (; k < n; k++) {
                /* Templates of one sender are contiguous; cycle through them. */
                struct vf_demo_tmpl *t = &g->tmpl[next];
                vf_pkt_set(pkts[k], t->frame, t->len);
                if (t->payload_off)
                    memcpy(vf_pkt_data(pkts[k]) + t->payload_off + 8, &seq, 8);
                seq++;
                unsigned nx = (next + 1) % g->n_templates;
                if (g->tmpl[nx].sender != sender) {
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
        drain(g, v);
    }
    rcu_quiescent_state();
    drain(g, current_view(g));
    rcu_unregister_thread();
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
    const struct vf_model *m = &d->model;
    g->local_chassis = m->local.chassis_idx;
    g->n_tenants = m->n_tenants < NO_TENANT ? (unsigned)m->n_tenants : NO_TENANT - 1;
    g->tmpl = calloc(DEMO_MAX_TEMPLATES, sizeof(*g->tmpl));
    g->senders = calloc(d->n_ports + 1, sizeof(*g->senders));
    g->tenants = calloc(g->n_tenants + 1, sizeof(*g->tenants));
    g->pool = vf_pool_create(&d->topo, d->place.numa_node[0], DEMO_POOL_BUFS,
                             VF_PKT_DEFAULT_DATA_ROOM, err, errlen);
    if (!g->tmpl || !g->senders || !g->tenants || !g->pool) {
        vf_demo_free(g);
        return -ENOMEM;
    }
    vf_pool_cache_init(&g->cache, g->pool);
    /* Tenants by name: mgmt renumbers them when one is added or removed. */
    for (unsigned t = 0; t < g->n_tenants; t++)
        snprintf(g->tenants[t], sizeof(g->tenants[t]), "%s", m->tenants[t].name);
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->mport || !vf_port_has(dp->port, VF_PORT_CAP_IN_MEMORY) ||
            dp->tenant >= g->n_tenants)
            continue;
        struct vf_demo_sender *snd = &g->senders[g->n_senders];
        snprintf(snd->name, sizeof(snd->name), "%s", dp->name);
        snd->tenant = (uint16_t)dp->tenant;
        const struct vf_model_tenant *ten = &m->tenants[dp->tenant];
        for (size_t s = 0; s < ten->n_switches; s++)
            for (size_t k = 0; k < ten->switches[s].n_ports; k++)
                if (&ten->switches[s].ports[k] == dp->mport)
                    add_port_traffic(g, g->n_senders, ten, dp->tenant,
                                     &ten->switches[s], dp->mport);
        g->n_senders++;
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
    free(g->senders);
    g->senders = NULL;
    free(g->tenants);
    g->tenants = NULL;
    free(g->rx_tenant);
    g->rx_tenant = NULL;
}
