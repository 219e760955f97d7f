/* vf_test_logical.h - a small fabric in one process for pipeline tests.
 *
 * What: builds models in C (no YAML needed), compiles one tables snapshot
 * per chassis ("host") with ring ports as the tenant ports and the uplink,
 * and sends a frame from a logical port: it runs vf_pipeline_burst on the
 * source host, carries every tunnelled packet to the host whose underlay
 * address it names and runs that host's pipeline, and returns every frame
 * delivered to a tenant port. Each host has its own worker (its own flow
 * cache), as separate machines would.
 *
 * Ids follow vf_model_validate()'s scheme (one counter: switch ports, then
 * router ports), so tests see the ids a real model would have.
 *
 * Stateful ACLs (until the model has them): lt_fabric_init_ct gives every
 * host a connection table of its own and its worker a context on it; a
 * test's `post` hook runs after each host's compile, with that host's new
 * tables and the previous ones (still alive), to build the datapaths'
 * ACLs with vf_acl_build and assign zones. With a hook, compiles share no
 * datapath with the previous tables (the hook writes every one). `now` is
 * the conntrack clock of every send (ms), which tests move.
 *
 * Thread-safety: single-threaded tests only.
 */
#ifndef VF_TEST_LOGICAL_H
#define VF_TEST_LOGICAL_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_model.h"
#include "pipeline/vf_acl.h"
#include "pipeline/vf_logical.h"
#include "pipeline/vf_worker.h"

#define LT_MAX_HOSTS 4
#define LT_MAX_PORTS 128
#define LT_MAX_DLV 256
#define LT_FRAME_MAX 640     /* holds an ICMP error (576-byte IP packet) */

/* ---- model building ---- */
static inline void *lt_grow(void *arr, size_t *n, size_t elem)
{
    void *p = realloc(arr, (*n + 1) * elem);
    if (!p)
        abort();
    memset((char *)p + *n * elem, 0, elem);
    (*n)++;
    return p;
}

static inline int lt_chassis(struct vf_model *m, const char *name, uint32_t ip_host,
                             enum vf_model_encap encap)
{
    m->chassis = lt_grow(m->chassis, &m->n_chassis, sizeof(*m->chassis));
    struct vf_model_chassis *c = &m->chassis[m->n_chassis - 1];
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->underlay_ip = htonl(ip_host);
    c->encap = encap;
    return (int)m->n_chassis - 1;
}

static inline int lt_tenant(struct vf_model *m, const char *name)
{
    m->tenants = lt_grow(m->tenants, &m->n_tenants, sizeof(*m->tenants));
    snprintf(m->tenants[m->n_tenants - 1].name, VF_NAME_MAX, "%s", name);
    return (int)m->n_tenants - 1;
}

static inline int lt_switch(struct vf_model *m, int t, const char *name, uint32_t vni)
{
    struct vf_model_tenant *tn = &m->tenants[t];
    tn->switches = lt_grow(tn->switches, &tn->n_switches, sizeof(*tn->switches));
    struct vf_model_switch *s = &tn->switches[tn->n_switches - 1];
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->vni = vni;
    return (int)tn->n_switches - 1;
}

static inline void lt_mac(uint8_t mac[6], uint32_t low)
{
    mac[0] = 0x02;
    mac[1] = 0;
    mac[2] = (uint8_t)(low >> 24);
    mac[3] = (uint8_t)(low >> 16);
    mac[4] = (uint8_t)(low >> 8);
    mac[5] = (uint8_t)low;
}

static inline int lt_port(struct vf_model *m, int t, int s, const char *name,
                          uint32_t mac_low, uint32_t ip_host, int chassis,
                          bool psec)
{
    struct vf_model_switch *sw = &m->tenants[t].switches[s];
    sw->ports = lt_grow(sw->ports, &sw->n_ports, sizeof(*sw->ports));
    struct vf_model_port *p = &sw->ports[sw->n_ports - 1];
    snprintf(p->name, sizeof(p->name), "%s", name);
    lt_mac(p->mac, mac_low);
    if (ip_host) {
        p->n_ips = 1;
        p->ips[0] = htonl(ip_host);
    }
    p->chassis_idx = chassis;
    snprintf(p->chassis, sizeof(p->chassis), "%s", m->chassis[chassis].name);
    p->port_security = psec;
    return (int)sw->n_ports - 1;
}

static inline int lt_router(struct vf_model *m, int t, const char *name)
{
    struct vf_model_tenant *tn = &m->tenants[t];
    tn->routers = lt_grow(tn->routers, &tn->n_routers, sizeof(*tn->routers));
    snprintf(tn->routers[tn->n_routers - 1].name, VF_NAME_MAX, "%s", name);
    return (int)tn->n_routers - 1;
}

static inline void lt_rport(struct vf_model *m, int t, int r, const char *name,
                            int sw, uint32_t mac_low, uint32_t ip_host, uint8_t plen)
{
    struct vf_model_router *rt = &m->tenants[t].routers[r];
    rt->ports = lt_grow(rt->ports, &rt->n_ports, sizeof(*rt->ports));
    struct vf_model_rport *p = &rt->ports[rt->n_ports - 1];
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->switch_idx = sw;
    snprintf(p->sw, sizeof(p->sw), "%s", m->tenants[t].switches[sw].name);
    lt_mac(p->mac, mac_low);
    p->ip = htonl(ip_host);
    p->plen = plen;
}

static inline void lt_route(struct vf_model *m, int t, int r, uint32_t pfx_host,
                            uint8_t plen, uint32_t nh_host)
{
    struct vf_model_router *rt = &m->tenants[t].routers[r];
    rt->routes = lt_grow(rt->routes, &rt->n_routes, sizeof(*rt->routes));
    struct vf_model_route *ro = &rt->routes[rt->n_routes - 1];
    ro->prefix = htonl(pfx_host);
    ro->plen = plen;
    ro->nexthop = htonl(nh_host);
}

static inline struct vf_model_acl *lt_acl(struct vf_model *m, int t, int sw,
                                          enum vf_acl_dir dir, int32_t prio,
                                          enum vf_acl_action act)
{
    struct vf_model_tenant *tn = &m->tenants[t];
    tn->acls = lt_grow(tn->acls, &tn->n_acls, sizeof(*tn->acls));
    struct vf_model_acl *a = &tn->acls[tn->n_acls - 1];
    a->switch_idx = sw;
    snprintf(a->sw, sizeof(a->sw), "%s", tn->switches[sw].name);
    a->dir = dir;
    a->priority = prio;
    a->action = act;
    a->sport_hi = a->dport_hi = 0xffff;
    a->pgroup_idx = a->src_set_idx = a->dst_set_idx = -1;
    return a;
}

/* An IPv4 prefix for an ACL's match (ip_net in network order). */
static inline void lt_pfx4(struct vf_model_prefix *p, uint32_t ip_net,
                           uint8_t plen)
{
    memset(p, 0, sizeof(*p));
    p->family = 4;
    p->plen = plen;
    memcpy(p->addr, &ip_net, 4);
}

/* The id scheme of vf_model_validate(). */
static inline void lt_assign_ids(struct vf_model *m)
{
    uint32_t lport = 1, dp = 1, router = 1;
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t s = 0; s < m->tenants[t].n_switches; s++) {
            m->tenants[t].switches[s].id = dp++;
            for (size_t p = 0; p < m->tenants[t].switches[s].n_ports; p++)
                m->tenants[t].switches[s].ports[p].id = lport++;
        }
    for (size_t t = 0; t < m->n_tenants; t++)
        for (size_t r = 0; r < m->tenants[t].n_routers; r++) {
            m->tenants[t].routers[r].id = router++;
            for (size_t p = 0; p < m->tenants[t].routers[r].n_ports; p++)
                m->tenants[t].routers[r].ports[p].id = lport++;
        }
}

static inline void lt_model_free(struct vf_model *m)
{
    vf_model_free(m);
}

/* ---- the fabric ---- */
struct lt_host {
    struct vf_tables *t;
    struct vf_port *uplink;
    struct vf_worker *w;
    uint64_t gen;
    struct vf_ct *ct;            /* lt_fabric_init_ct: this host's table */
    uint64_t zones_live[VF_ACL_ZONE_WORDS];   /* vf_acl_zones_sync's */
};

struct lt_fabric;
/* Called after host h compiled t from the model; prev is its previous
 * tables (NULL the first time). Returns 0 or fails the compile. */
typedef int (*lt_post_fn)(struct lt_fabric *f, unsigned h, struct vf_tables *t,
                          const struct vf_tables *prev);

struct lt_fabric {
    const struct vf_model *m;
    struct vf_pool *pool;
    unsigned n_hosts;
    struct lt_host host[LT_MAX_HOSTS];
    /* One ring port per model port name, opened lazily on its chassis. */
    unsigned n_ports;
    char names[LT_MAX_PORTS][VF_NAME_MAX];
    struct vf_port *ports[LT_MAX_PORTS];
    int port_host[LT_MAX_PORTS];
    uint32_t next_index;
    bool use_cache;
    lt_post_fn post;             /* set before lt_fabric_init_ct */
    void *post_arg;
    uint64_t now;                /* conntrack clock (ms) */
};

struct lt_dlv {
    char port[VF_NAME_MAX];
    unsigned len;
    uint8_t data[LT_FRAME_MAX];
};

struct lt_result {
    unsigned n;
    struct lt_dlv d[LT_MAX_DLV];
    unsigned tunnelled;        /* packets that crossed the uplink */
    uint64_t drops[VF_DROP__COUNT];  /* summed over hosts for this send */
};

static inline struct vf_port *lt_port_of(void *arg, const struct vf_model_port *mp)
{
    struct lt_fabric *f = arg;
    for (unsigned i = 0; i < f->n_ports; i++)
        if (strcmp(f->names[i], mp->name) == 0)
            return f->ports[i];
    if (f->n_ports == LT_MAX_PORTS)
        return NULL;
    struct vf_port *p = vf_ring_port_open(mp->name, 1, 1024, -1);
    if (!p)
        abort();
    p->index = f->next_index++;
    snprintf(f->names[f->n_ports], VF_NAME_MAX, "%s", mp->name);
    f->port_host[f->n_ports] = mp->chassis_idx;
    f->ports[f->n_ports++] = p;
    return p;
}

/* (Re)compiles every host's tables from m, sharing with the previous. */
static inline int lt_compile(struct lt_fabric *f, const struct vf_model *m)
{
    char err[256];
    f->m = m;
    for (unsigned h = 0; h < f->n_hosts; h++) {
        struct lt_host *ho = &f->host[h];
        struct vf_compile_env env = {
            .chassis_idx = (int)h, .port_of = lt_port_of, .arg = f,
            .uplink = ho->uplink,
        };
        struct vf_tables *t = vf_compile(m, f->post ? NULL : ho->t, &env, ++ho->gen,
                                         err, sizeof(err));
        if (!t) {
            fprintf(stderr, "compile host %u: %s\n", h, err);
            return -1;
        }
        if (f->post && f->post(f, h, t, ho->t)) {
            fprintf(stderr, "compile host %u: the post hook failed\n", h);
            vf_tables_free(t);
            return -1;
        }
        /* No worker runs between sends, so the old tables can go now. */
        vf_tables_free(ho->t);
        ho->t = t;
        /* What the daemon does after a publication: zone limits, and the
         * zones that left are flushed. */
        if (ho->ct)
            vf_acl_zones_sync(&ho->w->ct, t, ho->zones_live);
    }
    return 0;
}

/* ct_conns > 0: every host gets a connection table of that size. post:
 * the hook above (may be NULL). */
static inline int lt_fabric_init_ct(struct lt_fabric *f, const struct vf_model *m,
                                    bool use_cache, uint32_t ct_conns, lt_post_fn post,
                                    void *post_arg)
{
    char err[128];
    memset(f, 0, sizeof(*f));
    f->use_cache = use_cache;
    f->post = post;
    f->post_arg = post_arg;
    f->now = 1000;
    f->n_hosts = (unsigned)m->n_chassis;
    f->pool = vf_pool_create(NULL, -1, 8192, VF_PKT_DEFAULT_DATA_ROOM, err, sizeof(err));
    if (!f->pool || f->n_hosts > LT_MAX_HOSTS)
        return -1;
    f->next_index = 1;
    for (unsigned h = 0; h < f->n_hosts; h++) {
        struct lt_host *ho = &f->host[h];
        ho->uplink = vf_ring_port_open("uplink", 1, 1024, -1);
        ho->uplink->index = f->next_index++;
        ho->w = aligned_alloc(64, sizeof(*ho->w));
        memset(ho->w, 0, sizeof(*ho->w));
        if (vf_worker_init(ho->w, h, f->pool, 1024))
            return -1;
        if (ct_conns) {
            struct vf_ct_config cc = {.max_conns = ct_conns, .seed = 0x5eed + h};
            ho->ct = vf_ct_create(&cc);
            if (!ho->ct || vf_worker_attach_ct(ho->w, ho->ct, 0, 1))
                return -1;
        }
        if (!use_cache) {
            vf_fc_destroy(ho->w->fc);
            ho->w->fc = NULL;
        }
    }
    return lt_compile(f, m);
}

static inline int lt_fabric_init(struct lt_fabric *f, const struct vf_model *m,
                                 bool use_cache)
{
    return lt_fabric_init_ct(f, m, use_cache, 0, NULL, NULL);
}

static inline void lt_fabric_fini(struct lt_fabric *f)
{
    for (unsigned h = 0; h < f->n_hosts; h++) {
        vf_worker_fini(f->host[h].w);
        vf_ct_destroy(f->host[h].ct);
        free(f->host[h].w);
        vf_tables_free(f->host[h].t);
        vf_port_close(f->host[h].uplink);
    }
    for (unsigned i = 0; i < f->n_ports; i++)
        vf_port_close(f->ports[i]);
    vf_pool_destroy(f->pool);
}

static inline void lt_sum_drops(struct lt_fabric *f, uint64_t out[VF_DROP__COUNT])
{
    memset(out, 0, sizeof(uint64_t) * VF_DROP__COUNT);
    for (unsigned h = 0; h < f->n_hosts; h++)
        for (unsigned r = 0; r < VF_DROP__COUNT; r++)
            out[r] += atomic_load_explicit(&f->host[h].w->stats.drops[r],
                                           memory_order_relaxed);
}

static inline void lt_run(struct lt_fabric *f, unsigned h, struct vf_pkt *p)
{
    struct lt_host *ho = &f->host[h];
    ho->w->ct_now = f->now;
    vf_pipeline_burst(ho->w, ho->t, &p, 1);
    vf_worker_flush(ho->w);
}

/* Collects what host h's tenant ports sent; tunnelled packets on its
 * uplink are handed to their destination host (depth bounds ping-pong). */
static inline void lt_collect(struct lt_fabric *f, unsigned h,
                              struct lt_result *res, int depth)
{
    struct vf_pkt *pk[64];
    for (unsigned i = 0; i < f->n_ports; i++) {
        if (f->port_host[i] != (int)h)
            continue;
        unsigned n;
        while ((n = vf_ring_port_drain(f->ports[i], 0, pk, 64)) > 0) {
            for (unsigned k = 0; k < n; k++) {
                if (res->n < LT_MAX_DLV) {
                    struct lt_dlv *d = &res->d[res->n++];
                    snprintf(d->port, sizeof(d->port), "%s", f->names[i]);
                    d->len = pk[k]->len < LT_FRAME_MAX ? pk[k]->len : LT_FRAME_MAX;
                    memcpy(d->data, vf_pkt_data(pk[k]), d->len);
                }
                vf_pool_free(&f->host[h].w->cache, pk[k]);
            }
        }
    }
    unsigned n;
    while ((n = vf_ring_port_drain(f->host[h].uplink, 0, pk, 64)) > 0) {
        for (unsigned k = 0; k < n; k++) {
            struct vf_pkt *p = pk[k];
            uint32_t dst;
            memcpy(&dst, vf_pkt_data(p) + 30, 4);   /* outer IPv4 dst */
            int to = -1;
            for (unsigned c = 0; c < f->n_hosts; c++)
                if (f->m->chassis[c].underlay_ip == dst)
                    to = (int)c;
            res->tunnelled++;
            if (to < 0 || depth > 2) {
                vf_pool_free(&f->host[h].w->cache, p);
                continue;
            }
            p->port = (uint16_t)f->host[to].uplink->index;
            lt_run(f, (unsigned)to, p);
            lt_collect(f, (unsigned)to, res, depth + 1);
        }
    }
}

static inline int lt_port_idx(const struct lt_fabric *f, const char *name)
{
    for (unsigned i = 0; i < f->n_ports; i++)
        if (strcmp(f->names[i], name) == 0)
            return (int)i;
    return -1;
}

/* Sends one frame from the named (local to its chassis) port. */
static inline int lt_send(struct lt_fabric *f, const char *port,
                          const uint8_t *frame, unsigned len,
                          struct lt_result *res)
{
    uint64_t before[VF_DROP__COUNT];
    int i = lt_port_idx(f, port);
    memset(res, 0, sizeof(*res));
    if (i < 0)
        return -1;
    unsigned h = (unsigned)f->port_host[i];
    struct vf_pkt *p = vf_pool_alloc(&f->host[h].w->cache);
    if (!p || vf_pkt_set(p, frame, len))
        return -1;
    p->port = (uint16_t)f->ports[i]->index;
    lt_sum_drops(f, before);
    lt_run(f, h, p);
    lt_collect(f, h, res, 0);
    lt_sum_drops(f, res->drops);
    for (unsigned r = 0; r < VF_DROP__COUNT; r++)
        res->drops[r] -= before[r];
    return 0;
}

/* The one drop reason counted by a send, or -1 if none / several. */
static inline int lt_drop_reason(const struct lt_result *res)
{
    int found = -1;
    for (unsigned r = 0; r < VF_DROP__COUNT; r++) {
        if (!res->drops[r])
            continue;
        if (found >= 0)
            return -1;
        found = (int)r;
    }
    return found;
}

static inline const struct lt_dlv *lt_find(const struct lt_result *res,
                                           const char *port)
{
    for (unsigned i = 0; i < res->n; i++)
        if (strcmp(res->d[i].port, port) == 0)
            return &res->d[i];
    return NULL;
}

#endif
