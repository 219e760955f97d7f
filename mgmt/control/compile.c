/* compile.c - the desired state compiled into this host's tables.
 *
 * Order: chassis and their tunnel peers; which switches and routers this
 * host needs (switches with a local VM port, closed over routers); each
 * needed switch and router, reused from prev when its input blob matches;
 * then the snapshot-wide maps. Every step is bounded by the model's size.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_compile_gw.h"
#include "numa/vf_err.h"
#include "mgmt/control/vf_compile_acl.h"
#include "pipeline/vf_acl.h"
#include "tunnel/vf_tunnel.h"

/* ---- canonical input bytes ---- */
struct blob {
    uint8_t *b;
    size_t len, cap;
    bool oom;
};

static void blob_put(struct blob *bl, const void *p, size_t n)
{
    if (bl->oom)
        return;
    if (bl->len + n > bl->cap) {
        size_t cap = bl->cap ? bl->cap * 2 : 256;
        while (cap < bl->len + n)
            cap *= 2;
        uint8_t *nb = realloc(bl->b, cap);
        if (!nb) {
            bl->oom = true;
            return;
        }
        bl->b = nb;
        bl->cap = cap;
    }
    memcpy(bl->b + bl->len, p, n);
    bl->len += n;
}

/* Hands the bytes to an object that keeps them; the builder starts over. */
static uint8_t *blob_take(struct blob *bl, size_t *len)
{
    uint8_t *b = bl->b;
    *len = bl->len;
    bl->b = NULL;
    bl->len = bl->cap = 0;
    return b;
}

static void blob_u32(struct blob *bl, uint32_t v) { blob_put(bl, &v, 4); }
static void blob_str(struct blob *bl, const char *s)
{
    blob_put(bl, s, strlen(s) + 1);
}

struct cctx {
    const struct vf_model *m;
    const struct vf_compile_env *env;
    int local;
    char *err;
    size_t errlen;
};

static struct vf_port *port_of(const struct cctx *cc,
                               const struct vf_model_port *mp)
{
    if (mp->chassis_idx != cc->local || !cc->env->port_of)
        return NULL;
    return cc->env->port_of(cc->env->arg, mp);
}

/* Is chassis i down (vf_compile_env.chassis_down)? Never the local one. */
static bool chassis_down(const struct cctx *cc, int i)
{
    return cc->env->chassis_down && i >= 0 && i != cc->local &&
           (size_t)i < cc->m->n_chassis && cc->env->chassis_down[i];
}

/* The physical network port of switch si when this chassis serves it. */
static struct vf_port *physical_of(const struct cctx *cc,
                                   const struct vf_model_tenant *tn, size_t si)
{
    if (vf_gw_switch_chassis(tn, si) != cc->local || !cc->env->physical_of)
        return NULL;
    return cc->env->physical_of(cc->env->arg, &tn->switches[si]);
}

static uint32_t plen_mask(unsigned plen)
{
    return plen == 0 ? 0 : plen >= 32 ? 0xffffffffu : ~0u << (32 - plen);
}

static void blob_put_cb(void *bl, const void *p, size_t n)
{
    blob_put(bl, p, n);
}

static void switch_blob(const struct cctx *cc, const struct vf_model_tenant *tn,
                        size_t si, struct blob *bl)
{
    const struct vf_model_switch *sw = &tn->switches[si];
    blob_put(bl, "S", 1);
    blob_u32(bl, sw->id);
    blob_u32(bl, sw->vni);
    blob_str(bl, sw->name);
    blob_u32(bl, (uint32_t)sw->n_ports);
    for (size_t i = 0; i < sw->n_ports; i++) {
        const struct vf_model_port *p = &sw->ports[i];
        struct vf_port *fp = port_of(cc, p);
        uint32_t fi = fp ? fp->index : UINT32_MAX;
        blob_str(bl, p->name);
        blob_u32(bl, p->id);
        blob_put(bl, p->mac, 6);
        blob_u32(bl, p->n_ips);
        blob_put(bl, p->ips, sizeof(p->ips[0]) * p->n_ips);
        blob_u32(bl, p->n_ip6s);
        blob_put(bl, p->ip6s, sizeof(p->ip6s[0]) * p->n_ip6s);
        blob_put(bl, &p->port_security, sizeof(p->port_security));
        blob_u32(bl, p->max_connections);
        blob_u32(bl, (uint32_t)p->chassis_idx);
        blob_u32(bl, p->chassis_idx == cc->local);
        blob_u32(bl, chassis_down(cc, p->chassis_idx));
        blob_put(bl, &fp, sizeof(fp));
        blob_u32(bl, fi);
    }
    for (size_t r = 0; r < tn->n_routers; r++) {
        const struct vf_model_router *rt = &tn->routers[r];
        for (size_t i = 0; i < rt->n_ports; i++) {
            const struct vf_model_rport *rp = &rt->ports[i];
            if (rp->switch_idx != (int)si)
                continue;
            blob_put(bl, "R", 1);
            blob_u32(bl, rt->id);
            blob_u32(bl, (uint32_t)i);
            blob_str(bl, rp->name);
            blob_u32(bl, rp->id);
            blob_put(bl, rp->mac, 6);
            blob_u32(bl, rp->ip);
            blob_put(bl, &rp->plen, 1);
        }
    }
    vf_gw_switch_input(tn, si, cc->local, physical_of(cc, tn, si),
                       blob_put_cb, bl);
    vf_compile_acl_input(tn, si, blob_put_cb, bl);
}

static struct vf_dp *build_dp(const struct cctx *cc,
                              const struct vf_model_tenant *tn, size_t si,
                              struct blob *bl)
{
    const struct vf_model_switch *sw = &tn->switches[si];
    struct vf_dp *dp = vf_dp_alloc();
    uint8_t *seen = calloc(cc->m->n_chassis + 1, 1);
    uint64_t *keys = NULL;
    int rc = -ENOMEM;
    if (!dp || !seen)
        goto fail;
    dp->id = sw->id;
    dp->vni = sw->vni;
    snprintf(dp->name, sizeof(dp->name), "%s", sw->name);

    uint32_t n = (uint32_t)sw->n_ports, n_ips = 0;
    for (size_t r = 0; r < tn->n_routers; r++)
        for (size_t i = 0; i < tn->routers[r].n_ports; i++)
            n += tn->routers[r].ports[i].switch_idx == (int)si;
    n += vf_gw_switch_chassis(tn, si) >= 0;     /* its localnet */
    dp->ports = calloc(n ? n : 1, sizeof(*dp->ports));
    dp->flood_local = calloc(n ? n : 1, sizeof(*dp->flood_local));
    dp->flood_remote = calloc(cc->m->n_chassis + 1, sizeof(*dp->flood_remote));
    keys = calloc(n ? n : 1, sizeof(*keys));
    if (!dp->ports || !dp->flood_local || !dp->flood_remote || !keys)
        goto fail;

    for (size_t i = 0; i < sw->n_ports; i++) {
        const struct vf_model_port *mp = &sw->ports[i];
        struct vf_lport *lp = &dp->ports[dp->n_ports];
        if (mp->chassis_idx < 0 || (size_t)mp->chassis_idx >= cc->m->n_chassis) {
            vf_errf(cc->err, cc->errlen, "switch %s: port %s: chassis not resolved",
                    sw->name, mp->name);
            rc = -EINVAL;
            goto fail;
        }
        lp->id = mp->id;
        lp->kind = VF_LPORT_VM;
        lp->port_security = mp->port_security;
        lp->ct_max = mp->max_connections;
        lp->local = mp->chassis_idx == cc->local;
        memcpy(lp->mac, mp->mac, 6);
        lp->chassis = (uint16_t)mp->chassis_idx;
        lp->n_ips = (uint8_t)(mp->n_ips < VF_LPORT_MAX_IPS ? mp->n_ips
                                                           : VF_LPORT_MAX_IPS);
        memcpy(lp->ips, mp->ips, lp->n_ips * sizeof(lp->ips[0]));
        n_ips += lp->n_ips;
        _Static_assert(VF_LPORT_MAX_IP6S >= VF_MODEL_MAX_IP6S,
                       "every modelled IPv6 address reaches the tables");
        lp->n_ip6s = (uint8_t)(mp->n_ip6s < VF_LPORT_MAX_IP6S ? mp->n_ip6s
                                                              : VF_LPORT_MAX_IP6S);
        memcpy(lp->ip6s, mp->ip6s, lp->n_ip6s * sizeof(lp->ip6s[0]));
        vf_model_lla(mp->mac, lp->lla);
        lp->fport = port_of(cc, mp);
        if (lp->fport && lp->fport->index >= VF_MAX_FPORTS) {
            vf_errf(cc->err, cc->errlen, "port %s: fabric port index %u >= %u",
                    mp->name, lp->fport->index, VF_MAX_FPORTS);
            rc = -EINVAL;
            goto fail;
        }
        snprintf(lp->name, sizeof(lp->name), "%s", mp->name);
        lp->chassis_down = chassis_down(cc, mp->chassis_idx);
        if (lp->local) {
            dp->flood_local[dp->n_flood_local++] = dp->n_ports;
        } else if (!seen[mp->chassis_idx] && !lp->chassis_down) {
            seen[mp->chassis_idx] = 1;
            dp->flood_remote[dp->n_flood_remote++] = (uint16_t)mp->chassis_idx;
        }
        dp->n_ports++;
    }
    for (size_t r = 0; r < tn->n_routers; r++) {
        const struct vf_model_router *rt = &tn->routers[r];
        for (size_t i = 0; i < rt->n_ports; i++) {
            const struct vf_model_rport *rp = &rt->ports[i];
            if (rp->switch_idx != (int)si)
                continue;
            struct vf_lport *lp = &dp->ports[dp->n_ports++];
            lp->id = rp->id;
            lp->kind = VF_LPORT_ROUTER;
            lp->chassis = VF_CHASSIS_NONE;
            memcpy(lp->mac, rp->mac, 6);
            lp->n_ips = 1;
            lp->ips[0] = rp->ip;
            n_ips++;
            lp->router_id = rt->id;
            lp->rport_idx = (uint32_t)i;
            snprintf(lp->name, sizeof(lp->name), "%s", rp->name);
        }
    }
    vf_gw_add_localnet(tn, si, cc->local, physical_of(cc, tn, si), dp, seen);
    for (uint32_t i = 0; i < dp->n_ports; i++)
        keys[i] = vf_mac_key(dp->ports[i].mac);
    if (vf_hmap_build(&dp->by_mac, keys, dp->n_ports))
        goto fail;
    for (uint32_t i = 0; i < dp->n_ports; i++)
        keys[i] = dp->ports[i].id;
    if (vf_hmap_build(&dp->by_id, keys, dp->n_ports))
        goto fail;
    if (vf_hmap_init(&dp->by_ip, n_ips))
        goto fail;
    for (uint32_t i = 0; i < dp->n_ports; i++)
        for (unsigned j = 0; j < dp->ports[i].n_ips; j++)
            vf_hmap_put(&dp->by_ip, dp->ports[i].ips[j], i);

    rc = vf_compile_acls(tn, si, dp, cc->err, cc->errlen);
    if (rc)
        goto fail;
    dp->blob = blob_take(bl, &dp->blob_len);
    free(keys);
    free(seen);
    return dp;
fail:
    if (rc == -ENOMEM)
        vf_errf(cc->err, cc->errlen, "switch %s: out of memory", sw->name);
    free(keys);
    free(seen);
    vf_dp_unref(dp);
    return NULL;
}

static void router_blob(const struct cctx *cc,
                        const struct vf_model_tenant *tn,
                        const struct vf_model_router *rt, struct blob *bl)
{
    blob_put(bl, "T", 1);
    blob_u32(bl, rt->id);
    blob_str(bl, rt->name);
    for (size_t i = 0; i < rt->n_ports; i++) {
        const struct vf_model_rport *rp = &rt->ports[i];
        blob_str(bl, rp->name);
        blob_u32(bl, rp->id);
        blob_u32(bl, tn->switches[rp->switch_idx].id);
        blob_put(bl, rp->mac, 6);
        blob_u32(bl, rp->ip);
        blob_put(bl, &rp->plen, 1);
        vf_gw_rport_input(cc->env, rp, cc->local, blob_put_cb, bl);
    }
    blob_put(bl, "/", 1);
    for (size_t i = 0; i < rt->n_routes; i++) {
        const struct vf_model_route *ro = &rt->routes[i];
        uint32_t v[] = {ro->prefix, ro->plen, ro->nexthop};
        blob_put(bl, v, sizeof(v));
    }
}

static int route_cmp(const void *a, const void *b)
{
    const struct vf_route *x = a, *y = b;
    if (x->plen != y->plen)
        return x->plen > y->plen ? -1 : 1;
    if (x->connected != y->connected)
        return x->connected ? -1 : 1;
    return 0;
}

static struct vf_router *build_router(const struct cctx *cc,
                                      const struct vf_model_tenant *tn,
                                      const struct vf_model_router *rt,
                                      struct blob *bl)
{
    struct vf_router *r = vf_router_alloc();
    if (!r)
        goto fail;
    r->id = rt->id;
    snprintf(r->name, sizeof(r->name), "%s", rt->name);
    r->ports = calloc(rt->n_ports ? rt->n_ports : 1, sizeof(*r->ports));
    r->routes = calloc(rt->n_ports + rt->n_routes + 1, sizeof(*r->routes));
    if (!r->ports || !r->routes)
        goto fail;
    r->n_ports = (uint32_t)rt->n_ports;
    for (size_t i = 0; i < rt->n_ports; i++) {
        const struct vf_model_rport *rp = &rt->ports[i];
        struct vf_rport *o = &r->ports[i];
        o->lport_id = rp->id;
        o->dp_id = tn->switches[rp->switch_idx].id;
        memcpy(o->mac, rp->mac, 6);
        o->ip = rp->ip;
        o->plen = rp->plen;
        vf_gw_rport(cc->env, rp, cc->local, o);
        snprintf(o->name, sizeof(o->name), "%s", rp->name);
        struct vf_route *ro = &r->routes[r->n_routes++];
        ro->mask = plen_mask(rp->plen);
        ro->prefix = ntohl(rp->ip) & ro->mask;
        ro->plen = rp->plen;
        ro->connected = true;
        ro->out = (uint32_t)i;
    }
    for (size_t i = 0; i < rt->n_routes; i++) {
        const struct vf_model_route *mr = &rt->routes[i];
        struct vf_route *ro = &r->routes[r->n_routes++];
        ro->mask = plen_mask(mr->plen);
        ro->prefix = ntohl(mr->prefix) & ro->mask;
        ro->plen = mr->plen;
        ro->nexthop = mr->nexthop;
        ro->out = UINT32_MAX;
        /* The next hop is reached through the port whose connected network
         * holds it (longest such network); none leaves the route unusable
         * and packets matching it are dropped as no_route. */
        int best = -1;
        for (uint32_t p = 0; p < r->n_ports; p++) {
            uint32_t m = plen_mask(r->ports[p].plen);
            if ((ntohl(mr->nexthop) & m) == (ntohl(r->ports[p].ip) & m) &&
                (best < 0 || r->ports[p].plen > r->ports[best].plen))
                best = (int)p;
        }
        if (best >= 0)
            ro->out = (uint32_t)best;
    }
    /* Stable order for equal keys: insertion sort keeps model order. */
    for (uint32_t i = 1; i < r->n_routes; i++) {
        struct vf_route x = r->routes[i];
        uint32_t j = i;
        while (j > 0 && route_cmp(&r->routes[j - 1], &x) > 0) {
            r->routes[j] = r->routes[j - 1];
            j--;
        }
        r->routes[j] = x;
    }
    r->blob = blob_take(bl, &r->blob_len);
    return r;
fail:
    vf_errf(cc->err, cc->errlen, "router %s: out of memory", rt->name);
    vf_router_unref(r);
    return NULL;
}

static bool blob_eq(const uint8_t *a, size_t alen, const struct blob *bl)
{
    return a && alen == bl->len && memcmp(a, bl->b, alen) == 0;
}

/* Marks the switches and routers this host needs: those with a local VM
 * port, then everything connected to them through routers. Each pass
 * marks at least one more router or stops, so at most n_routers + 1. */
static void mark_needed(const struct cctx *cc, const struct vf_model_tenant *tn,
                        bool *sw_need, bool *rt_need)
{
    for (size_t s = 0; s < tn->n_switches; s++)
        for (size_t i = 0; i < tn->switches[s].n_ports && !sw_need[s]; i++)
            if (tn->switches[s].ports[i].chassis_idx == cc->local)
                sw_need[s] = true;
    for (size_t s = 0; s < tn->n_switches; s++)
        sw_need[s] |= vf_gw_switch_chassis(tn, s) == cc->local;
    for (size_t pass = 0; pass <= tn->n_routers; pass++) {
        bool changed = false;
        for (size_t r = 0; r < tn->n_routers; r++) {
            const struct vf_model_router *rt = &tn->routers[r];
            if (rt_need[r])
                continue;
            bool touch = false;
            for (size_t i = 0; i < rt->n_ports; i++)
                touch |= sw_need[rt->ports[i].switch_idx];
            if (!touch)
                continue;
            rt_need[r] = changed = true;
            for (size_t i = 0; i < rt->n_ports; i++)
                sw_need[rt->ports[i].switch_idx] = true;
        }
        if (!changed)
            break;
    }
}

/* The UDP port a chassis receives on, and (vfab's UDP uplink) sends from. */
static uint16_t chassis_port(const struct vf_model_chassis *ch)
{
    return vf_model_chassis_port(ch);
}

/* The model's encap as the tunnel layer names it. */
static enum vf_encap tunnel_encap(enum vf_model_encap e)
{
    return e == VF_MODEL_ENCAP_VXLAN ? VF_ENCAP_VXLAN : VF_ENCAP_GENEVE;
}

static bool chassis_same(const struct vf_chassis *pc,
                         const struct vf_model_chassis *ch,
                         const struct vf_model_chassis *lc, bool local,
                         uint16_t mtu, bool csum)
{
    if (pc->local != local || pc->underlay_ip != ch->underlay_ip ||
        pc->udp_port != ch->udp_port || pc->port != chassis_port(ch) ||
        strcmp(pc->name, ch->name) != 0)
        return false;
    return local || (pc->peer.encap == tunnel_encap(ch->encap) &&
                     pc->peer.src_ip == lc->underlay_ip &&
                     pc->peer.mtu == mtu && pc->peer.udp_csum == csum);
}

static int build_chassis(const struct cctx *cc, const struct vf_tables *prev,
                         struct vf_tables *t)
{
    const struct vf_model *m = cc->m;
    const struct vf_model_chassis *lc = &m->chassis[cc->local];
    static const uint8_t zero_mac[6];
    uint16_t mtu = cc->env->underlay_mtu ? cc->env->underlay_mtu : 1500;
    bool csum = cc->env->udp_csum;

    /* Unchanged chassis (the common case): share the previous array.
     * Changed: rebuild, still copying the templates of unchanged peers. */
    bool same = prev && prev->chassis_tab && prev->n_chassis == m->n_chassis;
    for (size_t i = 0; same && i < m->n_chassis; i++)
        same = chassis_same(&prev->chassis[i], &m->chassis[i], lc,
                            (int)i == cc->local, mtu, csum);
    if (same) {
        t->chassis_tab = prev->chassis_tab;
        vf_chassis_tab_ref(t->chassis_tab);
    } else {
        t->chassis_tab = vf_chassis_tab_alloc((uint32_t)m->n_chassis);
        if (!t->chassis_tab)
            return -ENOMEM;
        for (size_t i = 0; i < m->n_chassis; i++) {
            const struct vf_model_chassis *ch = &m->chassis[i];
            struct vf_chassis *o = &t->chassis_tab->c[i];
            snprintf(o->name, sizeof(o->name), "%s", ch->name);
            o->underlay_ip = ch->underlay_ip;
            o->udp_port = ch->udp_port;
            o->port = chassis_port(ch);
            o->local = (int)i == cc->local;
            if (o->local)
                continue;
            const struct vf_chassis *pc = prev && i < prev->n_chassis ?
                                          &prev->chassis[i] : NULL;
            if (pc && chassis_same(pc, ch, lc, false, mtu, csum))
                o->peer = pc->peer;
            else
                vf_tunnel_peer_init(&o->peer, tunnel_encap(ch->encap), lc->underlay_ip,
                                    ch->underlay_ip, ch->udp_port, zero_mac,
                                    zero_mac, mtu, csum);
        }
        int rc = vf_chassis_tab_index(t->chassis_tab);
        if (rc)
            return rc;
    }
    t->chassis = t->chassis_tab->c;
    t->n_chassis = (uint32_t)m->n_chassis;
    t->geneve_port = VF_GENEVE_UDP_PORT;
    t->vxlan_port = VF_VXLAN_UDP_PORT;
    if (lc->udp_port && lc->encap == VF_MODEL_ENCAP_GENEVE)
        t->geneve_port = lc->udp_port;
    if (lc->udp_port && lc->encap == VF_MODEL_ENCAP_VXLAN)
        t->vxlan_port = lc->udp_port;
    return 0;
}

static int build_maps(const struct cctx *cc, struct vf_tables *t)
{
    uint32_t max_idx = t->uplink ? t->uplink->index : 0;
    int rc = vf_hmap_init(&t->vni_map, t->n_dps);
    if (!rc)
        rc = vf_hmap_init(&t->dp_map, t->n_dps);
    if (!rc)
        rc = vf_hmap_init(&t->router_map, t->n_routers);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < t->n_dps; i++) {
        const struct vf_dp *dp = t->dps[i];
        if (vf_hmap_get(&t->vni_map, dp->vni) != UINT32_MAX) {
            vf_errf(cc->err, cc->errlen, "switch %s: vni %u used twice",
                    dp->name, dp->vni);
            return -EINVAL;
        }
        vf_hmap_put(&t->vni_map, dp->vni, i);
        vf_hmap_put(&t->dp_map, dp->id, i);
        for (uint32_t p = 0; p < dp->n_ports; p++)
            if (dp->ports[p].fport && dp->ports[p].fport->index > max_idx)
                max_idx = dp->ports[p].fport->index;
    }
    for (uint32_t i = 0; i < t->n_routers; i++)
        vf_hmap_put(&t->router_map, t->routers[i]->id, i);
    if (max_idx >= VF_MAX_FPORTS) {
        vf_errf(cc->err, cc->errlen, "uplink: fabric port index %u >= %u",
                max_idx, VF_MAX_FPORTS);
        return -EINVAL;
    }
    t->n_fports = max_idx + 1;
    t->fports = calloc(t->n_fports, sizeof(*t->fports));
    if (!t->fports)
        return -ENOMEM;
    for (uint32_t i = 0; i < t->n_dps; i++) {
        const struct vf_dp *dp = t->dps[i];
        for (uint32_t p = 0; p < dp->n_ports; p++) {
            struct vf_port *fp = dp->ports[p].fport;
            if (!fp)
                continue;
            struct vf_fport_map *fm = &t->fports[fp->index];
            if (fm->dp || (t->uplink && fp->index == t->uplink->index)) {
                vf_errf(cc->err, cc->errlen,
                        "port %s: fabric port index %u is used twice",
                        dp->ports[p].name, fp->index);
                return -EINVAL;
            }
            fm->dp = dp;
            fm->lport = p;
            fm->port = fp;
        }
    }
    return 0;
}

struct vf_tables *vf_compile(const struct vf_model *m,
                             const struct vf_tables *prev,
                             const struct vf_compile_env *env,
                             uint64_t generation, char *err, size_t errlen)
{
    struct cctx cc = { .m = m, .env = env, .err = err, .errlen = errlen };
    struct blob bl = {0};
    bool *sw_need = NULL, *rt_need = NULL;
    size_t n_sw = 0, n_rt = 0;
    int rc = -ENOMEM;

    if (err && errlen)
        err[0] = '\0';
    cc.local = env->chassis_idx >= 0 ? env->chassis_idx
               : m->has_local ? m->local.chassis_idx : -1;
    if (cc.local < 0 || (size_t)cc.local >= m->n_chassis) {
        vf_errf(err, errlen, "local: chassis is not a chassis of the fabric");
        return NULL;
    }
    if (m->n_chassis >= VF_CHASSIS_NONE) {
        vf_errf(err, errlen, "chassis: at most %u are supported", VF_CHASSIS_NONE - 1);
        return NULL;
    }
    struct vf_tables *t = calloc(1, sizeof(*t));
    if (!t)
        goto fail;
    t->generation = generation;
    t->local_chassis = cc.local;
    t->uplink = env->uplink;
    if (build_chassis(&cc, prev, t))
        goto fail;
    for (size_t i = 0; i < m->n_tenants; i++) {
        n_sw += m->tenants[i].n_switches;
        n_rt += m->tenants[i].n_routers;
    }
    sw_need = calloc(n_sw + 1, sizeof(*sw_need));
    rt_need = calloc(n_rt + 1, sizeof(*rt_need));
    t->dps = calloc(n_sw + 1, sizeof(*t->dps));
    t->routers = calloc(n_rt + 1, sizeof(*t->routers));
    if (!sw_need || !rt_need || !t->dps || !t->routers)
        goto fail;

    size_t sw_base = 0, rt_base = 0;
    for (size_t ti = 0; ti < m->n_tenants; ti++) {
        const struct vf_model_tenant *tn = &m->tenants[ti];
        mark_needed(&cc, tn, sw_need + sw_base, rt_need + rt_base);
        for (size_t s = 0; s < tn->n_switches; s++) {
            if (!sw_need[sw_base + s])
                continue;
            bl.len = 0;
            switch_blob(&cc, tn, s, &bl);
            if (bl.oom)
                goto fail;
            const struct vf_dp *old = prev ? vf_tables_dp_by_id(prev, tn->switches[s].id)
                                           : NULL;
            struct vf_dp *dp;
            if (old && blob_eq(old->blob, old->blob_len, &bl)) {
                dp = (struct vf_dp *)old;   /* shared: immutable, refcounted */
                vf_dp_ref(dp);
            } else {
                dp = build_dp(&cc, tn, s, &bl);
                if (!dp) {
                    rc = -EINVAL;
                    goto fail;
                }
                t->n_dps_built++;
            }
            t->dps[t->n_dps++] = dp;
        }
        for (size_t r = 0; r < tn->n_routers; r++) {
            if (!rt_need[rt_base + r])
                continue;
            const struct vf_model_router *rt = &tn->routers[r];
            bl.len = 0;
            router_blob(&cc, tn, rt, &bl);
            if (bl.oom)
                goto fail;
            const struct vf_router *old = prev ? vf_tables_router_by_id(prev, rt->id)
                                               : NULL;
            struct vf_router *ro;
            if (old && blob_eq(old->blob, old->blob_len, &bl)) {
                ro = (struct vf_router *)old;
                vf_router_ref(ro);
            } else {
                ro = build_router(&cc, tn, rt, &bl);
                if (!ro)
                    goto fail;
                t->n_routers_built++;
            }
            t->routers[t->n_routers++] = ro;
        }
        sw_base += tn->n_switches;
        rt_base += tn->n_routers;
    }
    rc = build_maps(&cc, t);
    if (rc)
        goto fail;
    rc = vf_acl_assign_zones(t, prev);
    if (rc) {
        vf_errf(err, errlen, rc == -ENOSPC ? "acls: more ports with stateful "
                "ACLs on this chassis than conntrack zones (65535)"
                : "out of memory compiling tables");
        goto fail;
    }
    free(bl.b);
    free(sw_need);
    free(rt_need);
    return t;
fail:
    if (rc == -ENOMEM && err && !err[0])
        vf_errf(err, errlen, "out of memory compiling tables");
    free(bl.b);
    free(sw_need);
    free(rt_need);
    vf_tables_free(t);
    return NULL;
}
