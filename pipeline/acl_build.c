/* acl_build.c - rules into classifiers, stateful ports, zones (vf_acl.h).
 *
 * All of it runs on mgmt while tables are compiled or just published; none
 * of it is on the packet path. Work is bounded by the rules' cross
 * products (VF_ACL_MAX_PIECES per datapath) and, for zones, by the ports
 * of the snapshot plus at most VF_CT_ZONES probes per port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vf_acl.h"

const char *vf_acl_verdict_name(enum vf_acl_verdict v)
{
    static const char *const names[] = {"allow", "allow-related", "drop", "reject"};
    return (unsigned)v < 4 ? names[v] : "unknown";
}

static const struct vf_acl_prefix any_prefix[2] = {
    {.family = 4, .plen = 0}, {.family = 6, .plen = 0},
};

/* The prefixes of one side for family fam: the list's, or "any". */
static bool side_has(const struct vf_acl_prefix *list, uint32_t n, uint8_t fam)
{
    if (!list)
        return true;
    for (uint32_t i = 0; i < n; i++)
        if (list[i].family == fam)
            return true;
    return false;
}

static int add_piece(struct vf_classifier *cls, bool v6, uint32_t scope,
                     bool match_scope, const struct vf_acl_rule *r,
                     const struct vf_acl_prefix *s, const struct vf_acl_prefix *d,
                     uint32_t word)
{
    uint16_t shi = r->sport_hi, dhi = r->dport_hi;
    /* A range left all zero by the loader means "any port". */
    if (r->sport_lo == 0 && shi == 0)
        shi = 0xffff;
    if (r->dport_lo == 0 && dhi == 0)
        dhi = 0xffff;
    if (!v6) {
        uint32_t sa, da;
        memcpy(&sa, s->addr, 4);
        memcpy(&da, d->addr, 4);
        uint32_t sm = s->plen ? ~0u << (32 - s->plen) : 0;
        uint32_t dm = d->plen ? ~0u << (32 - d->plen) : 0;
        struct vf_cls_match m = {
            .match_scope = match_scope, .scope = scope,
            .ip_src = ntohl(sa) & sm, .src_plen = s->plen,
            .ip_dst = ntohl(da) & dm, .dst_plen = d->plen,
            .proto = r->proto,
            .sport_lo = r->sport_lo, .sport_hi = shi,
            .dport_lo = r->dport_lo, .dport_hi = dhi,
        };
        return vf_cls_add(cls, &m, r->priority, word);
    }
    struct vf_cls_match6 m = {
        .match_scope = match_scope, .scope = scope,
        .src_plen = s->plen, .dst_plen = d->plen, .proto = r->proto,
        .sport_lo = r->sport_lo, .sport_hi = shi,
        .dport_lo = r->dport_lo, .dport_hi = dhi,
    };
    memcpy(m.src, s->addr, 16);
    memcpy(m.dst, d->addr, 16);
    return vf_cls_add6(cls, &m, r->priority, word);
}

/* Adds rule r for one family to its classifier (created on first use). */
static int add_family(struct vf_dp *dp, const struct vf_acl_rule *r, bool v6,
                      size_t *pieces, char *err, size_t errlen)
{
    uint8_t fam = v6 ? 6 : 4;
    if ((r->proto == 1 && v6) || (r->proto == 58 && !v6))
        return 0;
    if (!side_has(r->src, r->n_src, fam) || !side_has(r->dst, r->n_dst, fam))
        return 0;
    const struct vf_acl_prefix *src = r->src ? r->src : &any_prefix[v6];
    const struct vf_acl_prefix *dst = r->dst ? r->dst : &any_prefix[v6];
    uint32_t n_src = r->src ? r->n_src : 1, n_dst = r->dst ? r->n_dst : 1;
    uint32_t n_scope = r->ports ? r->n_ports : 1;

    struct vf_classifier **cls = r->to_port ? (v6 ? &dp->acl_out6 : &dp->acl_out)
                                            : (v6 ? &dp->acl_in6 : &dp->acl_in);
    uint32_t word = vf_acl_word(r->index, (enum vf_acl_verdict)r->verdict);
    for (uint32_t p = 0; p < n_scope; p++) {
        uint32_t scope = r->ports ? r->ports[p] : 0;
        if (r->ports && vf_hmap_get(&dp->by_id, scope) == UINT32_MAX)
            continue;   /* a group member on another switch */
        for (uint32_t i = 0; i < n_src; i++) {
            if (src[i].family != fam)
                continue;
            for (uint32_t j = 0; j < n_dst; j++) {
                if (dst[j].family != fam)
                    continue;
                if (++*pieces > VF_ACL_MAX_PIECES) {
                    snprintf(err, errlen, "acls[%u]: switch %s would hold over "
                             "%u classifier rules (ports x source x destination "
                             "prefixes); split the address sets or port groups",
                             r->index, dp->name, VF_ACL_MAX_PIECES);
                    return -EINVAL;
                }
                if (!*cls && !(*cls = v6 ? vf_cls_create6() : vf_cls_create()))
                    return -ENOMEM;
                int rc = add_piece(*cls, v6, scope, r->ports != NULL, r, &src[i],
                                   &dst[j], word);
                if (rc) {
                    snprintf(err, errlen, "acls[%u]: bad match (%s)", r->index,
                             rc == -ENOMEM ? "out of memory" : "a prefix or port "
                             "range out of bounds");
                    return rc;
                }
            }
        }
    }
    return 0;
}

/* Marks the VM ports rule r (allow-related) applies to as stateful. */
static void mark_stateful(struct vf_dp *dp, const struct vf_acl_rule *r)
{
    uint8_t bit = r->to_port ? VF_LPORT_CT_TO : VF_LPORT_CT_FROM;
    if (!r->ports) {
        for (uint32_t i = 0; i < dp->n_ports; i++)
            if (dp->ports[i].kind == VF_LPORT_VM)
                dp->ports[i].ct_flags |= bit;
        return;
    }
    for (uint32_t p = 0; p < r->n_ports; p++) {
        uint32_t i = vf_hmap_get(&dp->by_id, r->ports[p]);
        if (i != UINT32_MAX && dp->ports[i].kind == VF_LPORT_VM)
            dp->ports[i].ct_flags |= bit;
    }
}

/* Whether rule r applies to at least one port of dp. */
static bool applies_here(const struct vf_dp *dp, const struct vf_acl_rule *r)
{
    if (!r->ports)
        return true;
    for (uint32_t p = 0; p < r->n_ports; p++)
        if (vf_hmap_get(&dp->by_id, r->ports[p]) != UINT32_MAX)
            return true;
    return false;
}

int vf_acl_build(struct vf_dp *dp, const struct vf_acl_rule *rules, size_t n,
                 char *err, size_t errlen)
{
    size_t pieces = 0;
    for (uint32_t i = 0; i < dp->n_ports; i++)
        dp->ports[i].ct_flags = 0;
    for (size_t k = 0; k < n; k++) {
        const struct vf_acl_rule *r = &rules[k];
        if (r->verdict > VF_ACL_V_REJECT || r->index > VF_ACL_MAX_INDEX) {
            snprintf(err, errlen, "acls[%u]: bad verdict or index", r->index);
            return -EINVAL;
        }
        if (!applies_here(dp, r))
            continue;
        for (int v6 = 0; v6 < 2; v6++) {
            int rc = add_family(dp, r, v6, &pieces, err, errlen);
            if (rc)
                return rc;
        }
        if (r->to_port)
            dp->n_acl_out++;
        else
            dp->n_acl_in++;
        if (r->verdict == VF_ACL_V_ALLOW_RELATED)
            mark_stateful(dp, r);
    }
    struct vf_classifier *all[] = {dp->acl_in, dp->acl_out, dp->acl_in6, dp->acl_out6};
    for (unsigned i = 0; i < 4; i++)
        if (all[i])
            vf_cls_seal(all[i]);
    return 0;
}

/* ---- zones ---- */

static bool tracked_local(const struct vf_lport *lp)
{
    return lp->kind == VF_LPORT_VM && lp->local && lp->ct_flags;
}

static inline void bit_set(uint64_t *m, uint16_t z)
{
    m[z / 64] |= 1ull << (z % 64);
}

static inline bool bit_get(const uint64_t *m, uint16_t z)
{
    return (m[z / 64] >> (z % 64)) & 1;
}

/* true when prev holds this very datapath object (shared, not rebuilt). */
static bool shared_with(const struct vf_tables *prev, const struct vf_dp *dp)
{
    return prev && vf_tables_dp_by_id(prev, dp->id) == dp;
}

int vf_acl_assign_zones(struct vf_tables *t, const struct vf_tables *prev)
{
    uint64_t *used = calloc(VF_ACL_ZONE_WORDS, sizeof(*used));
    struct vf_hmap old = {0};
    uint32_t n_old = 0, n_tracked = 0;
    int rc = -ENOMEM;
    if (!used)
        return -ENOMEM;
    bit_set(used, 0);   /* "no zone" */
    /* A zone in prev is taken until the next compile: if its port left,
     * the sync after this publication flushes it first. */
    for (uint32_t d = 0; prev && d < prev->n_dps; d++)
        for (uint32_t i = 0; i < prev->dps[d]->n_ports; i++)
            n_old += tracked_local(&prev->dps[d]->ports[i]);
    if (n_old && vf_hmap_init(&old, n_old))
        goto out;
    for (uint32_t d = 0; prev && d < prev->n_dps; d++)
        for (uint32_t i = 0; i < prev->dps[d]->n_ports; i++) {
            const struct vf_lport *lp = &prev->dps[d]->ports[i];
            if (!tracked_local(lp))
                continue;
            bit_set(used, lp->ct_zone);
            vf_hmap_put(&old, lp->id, lp->ct_zone);
        }
    for (uint32_t d = 0; d < t->n_dps; d++) {
        if (!shared_with(prev, t->dps[d]))
            continue;
        for (uint32_t i = 0; i < t->dps[d]->n_ports; i++) {
            const struct vf_lport *lp = &t->dps[d]->ports[i];
            if (tracked_local(lp)) {
                bit_set(used, lp->ct_zone);
                n_tracked++;
            }
        }
    }
    for (uint32_t d = 0; d < t->n_dps; d++) {
        struct vf_dp *dp = t->dps[d];
        if (shared_with(prev, dp))
            continue;
        for (uint32_t i = 0; i < dp->n_ports; i++) {
            struct vf_lport *lp = &dp->ports[i];
            lp->ct_zone = 0;
            if (!tracked_local(lp))
                continue;
            if (++n_tracked >= VF_CT_ZONES) {
                rc = -ENOSPC;
                goto out;
            }
            uint32_t z = vf_hmap_get(&old, lp->id);
            if (z == UINT32_MAX) {
                z = vf_acl_zone_of(lp->id);
                unsigned probes = 0;
                while (bit_get(used, (uint16_t)z) && ++probes < VF_CT_ZONES)
                    z = (z + 1) & 0xffff;
                if (probes == VF_CT_ZONES) {   /* prev's zones fill the rest */
                    rc = -ENOSPC;
                    goto out;
                }
                bit_set(used, (uint16_t)z);
            }
            lp->ct_zone = (uint16_t)z;
        }
    }
    rc = 0;
out:
    vf_hmap_free(&old);
    free(used);
    return rc;
}

unsigned vf_acl_zones_sync(struct vf_ct_worker *w, const struct vf_tables *t,
                           uint64_t live[VF_ACL_ZONE_WORDS])
{
    uint64_t now[VF_ACL_ZONE_WORDS];
    bool any_gone = false;
    unsigned flushed = 0;

    memset(now, 0, sizeof(now));
    for (uint32_t d = 0; t && d < t->n_dps; d++)
        for (uint32_t i = 0; i < t->dps[d]->n_ports; i++) {
            const struct vf_lport *lp = &t->dps[d]->ports[i];
            if (!tracked_local(lp) || !lp->ct_zone)
                continue;
            bit_set(now, lp->ct_zone);
            if (w)
                vf_ct_zone_set_max(w->ct, lp->ct_zone, lp->ct_max);
        }
    for (unsigned k = 0; k < VF_ACL_ZONE_WORDS; k++) {
        live[k] &= ~now[k];     /* what left */
        any_gone |= live[k] != 0;
    }
    if (w && any_gone) {
        flushed = vf_ct_flush_zones(w, live);
        for (unsigned z = 1; z < VF_CT_ZONES; z++)
            if (bit_get(live, (uint16_t)z))
                vf_ct_zone_set_max(w->ct, (uint16_t)z, 0);
    }
    memcpy(live, now, sizeof(now));
    return flushed;
}
