/* compile_acl.c - a switch's ACLs: model rules (ports, port groups, address
 * sets, prefixes of both families) into pipeline/vf_acl.h rules, and the
 * bytes of them that decide whether a switch is recompiled.
 *
 * Meaning of a rule without addresses: any address of both families (as
 * OVN's ACLs), so one security group covers IPv4 and IPv6; protocol icmp
 * keeps a rule to IPv4 and icmp6 to IPv6 (vf_acl_build). An empty address
 * set matches nothing.
 *
 * Incremental: the input bytes of an ACL hold everything the compiled
 * rules depend on, resolved: the ids of its group's ports on this switch
 * and the prefixes of its sets. So a change of a group or set changes the
 * bytes (and recompiles) exactly the switches whose rules it changes
 * (docs/config.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_compile_acl.h"
#include "mgmt/control/vf_secgroup.h"
#include "pipeline/vf_acl.h"

_Static_assert(VF_ACL_ALLOW == 0 && VF_ACL_DROP == 1 &&
               VF_ACL_ALLOW_RELATED == 2 && VF_ACL_REJECT == 3,
               "the model's actions map onto verdicts below");

static uint8_t verdict_of(enum vf_acl_action a)
{
    switch (a) {
    case VF_ACL_DROP: return VF_ACL_V_DROP;
    case VF_ACL_ALLOW_RELATED: return VF_ACL_V_ALLOW_RELATED;
    case VF_ACL_REJECT: return VF_ACL_V_REJECT;
    default: return VF_ACL_V_ALLOW;
    }
}

static const struct vf_model_aset *set_of(const struct vf_model_tenant *tn,
                                          int idx)
{
    return idx >= 0 && (size_t)idx < tn->n_asets ? &tn->asets[idx] : NULL;
}

static void put_prefix(vf_compile_put put, void *arg,
                       const struct vf_model_prefix *p)
{
    put(arg, &p->family, 1);
    put(arg, &p->plen, 1);
    put(arg, p->addr, 16);
}

static void put_side(const struct vf_model_tenant *tn, vf_compile_put put,
                     void *arg, const char *set, int set_idx,
                     const struct vf_model_prefix *p)
{
    const struct vf_model_aset *as = set[0] ? set_of(tn, set_idx) : NULL;
    uint32_t n = as ? (uint32_t)as->n_addrs : UINT32_MAX;

    put(arg, &n, sizeof(n));
    if (as)
        for (size_t i = 0; i < as->n_addrs; i++)
            put_prefix(put, arg, &as->addrs[i]);
    else
        put_prefix(put, arg, p);
}

/* The ids of the group's ports on switch si, or of the one named port. */
static size_t scope_ids(const struct vf_model_tenant *tn,
                        const struct vf_model_acl *acl, size_t si,
                        uint32_t *ids)
{
    const struct vf_model_switch *sw = &tn->switches[si];
    size_t n = 0;

    const struct vf_model_pgroup *g = vf_sg_acl_pgroup(tn, acl);

    if (g) {
        for (size_t i = 0; g->refs && i < g->n_ports; i++)
            if (g->refs[i].sw == si && g->refs[i].port < sw->n_ports) {
                if (ids)
                    ids[n] = sw->ports[g->refs[i].port].id;
                n++;
            }
    } else if (acl->port[0]) {
        for (size_t p = 0; p < sw->n_ports; p++)
            if (strcmp(sw->ports[p].name, acl->port) == 0) {
                if (ids)
                    ids[n] = sw->ports[p].id;
                n++;
            }
    }
    return n;
}

void vf_compile_acl_input(const struct vf_model_tenant *tn, size_t si,
                          vf_compile_put put, void *arg)
{
    for (size_t a = 0; a < tn->n_acls; a++) {
        const struct vf_model_acl *acl = &tn->acls[a];
        if (!vf_sg_acl_on_switch(tn, acl, si))
            continue;
        size_t n = scope_ids(tn, acl, si, NULL);
        uint32_t *ids = calloc(n + 1, sizeof(*ids));
        uint32_t v[] = {(uint32_t)a, acl->dir, (uint32_t)acl->priority,
                        acl->action, acl->proto, acl->sport_lo,
                        acl->sport_hi, acl->dport_lo, acl->dport_hi,
                        vf_sg_acl_pgroup(tn, acl) != NULL, (uint32_t)n};
        put(arg, "A", 1);
        put(arg, v, sizeof(v));
        put(arg, acl->port, strlen(acl->port) + 1);
        /* Without memory for the ids, the bytes differ from any
         * compile's (a recompile, never a wrong share). */
        if (!ids) {
            put(arg, "?", 1);
            put(arg, &acl, sizeof(acl));
        } else {
            scope_ids(tn, acl, si, ids);
            put(arg, ids, n * sizeof(*ids));
        }
        free(ids);
        put_side(tn, put, arg, acl->src_set, acl->src_set_idx, &acl->src);
        put_side(tn, put, arg, acl->dst_set, acl->dst_set_idx, &acl->dst);
    }
}

static uint32_t side_len(const struct vf_model_tenant *tn, const char *set,
                         int idx, const struct vf_model_prefix *p)
{
    const struct vf_model_aset *as = set[0] ? set_of(tn, idx) : NULL;
    return as ? (uint32_t)as->n_addrs : p->family ? 1 : 0;
}

/* Fills one side: NULL (any), a set's prefixes, or the literal one. */
static void fill_side(const struct vf_model_tenant *tn, const char *set,
                      int idx, const struct vf_model_prefix *p,
                      struct vf_acl_prefix **pool,
                      const struct vf_acl_prefix **out, uint32_t *n)
{
    const struct vf_model_aset *as = set[0] ? set_of(tn, idx) : NULL;
    size_t cnt = as ? as->n_addrs : 1;
    const struct vf_model_prefix *src = as ? as->addrs : p;

    if (!as && !p->family) {
        *out = NULL;
        *n = 0;
        return;
    }
    *out = *pool;
    *n = (uint32_t)cnt;
    for (size_t i = 0; i < cnt; i++) {
        struct vf_acl_prefix *d = &(*pool)[i];
        d->family = src[i].family;
        d->plen = src[i].plen;
        memcpy(d->addr, src[i].addr, 16);
    }
    *pool += cnt;
}

int vf_compile_acls(const struct vf_model_tenant *tn, size_t si,
                    struct vf_dp *dp, char *err, size_t errlen)
{
    size_t n = 0, n_pfx = 0, n_ids = 0, k = 0;
    struct vf_acl_rule *rules = NULL;
    struct vf_acl_prefix *pfx = NULL, *pool;
    uint32_t *ids = NULL, *idp;
    int rc = -ENOMEM;

    for (size_t a = 0; a < tn->n_acls; a++) {
        const struct vf_model_acl *acl = &tn->acls[a];
        if (!vf_sg_acl_on_switch(tn, acl, si))
            continue;
        n++;
        n_ids += scope_ids(tn, acl, si, NULL);
        n_pfx += side_len(tn, acl->src_set, acl->src_set_idx, &acl->src);
        n_pfx += side_len(tn, acl->dst_set, acl->dst_set_idx, &acl->dst);
    }
    rules = calloc(n + 1, sizeof(*rules));
    pfx = calloc(n_pfx + 1, sizeof(*pfx));
    ids = calloc(n_ids + 1, sizeof(*ids));
    if (!rules || !pfx || !ids)
        goto out;
    pool = pfx;
    idp = ids;
    for (size_t a = 0; a < tn->n_acls; a++) {
        const struct vf_model_acl *acl = &tn->acls[a];
        if (!vf_sg_acl_on_switch(tn, acl, si))
            continue;
        struct vf_acl_rule *r = &rules[k++];
        *r = (struct vf_acl_rule){
            .index = (uint32_t)a, .to_port = acl->dir == VF_ACL_TO_PORT,
            .verdict = verdict_of(acl->action),
            .priority = acl->priority, .proto = acl->proto,
            .sport_lo = acl->sport_lo, .sport_hi = acl->sport_hi,
            .dport_lo = acl->dport_lo, .dport_hi = acl->dport_hi,
        };
        fill_side(tn, acl->src_set, acl->src_set_idx, &acl->src, &pool,
                  &r->src, &r->n_src);
        fill_side(tn, acl->dst_set, acl->dst_set_idx, &acl->dst, &pool,
                  &r->dst, &r->n_dst);
        if (vf_sg_acl_pgroup(tn, acl) || acl->port[0]) {
            size_t m = scope_ids(tn, acl, si, idp);
            if (m == 0 && acl->port[0]) {
                snprintf(err, errlen, "tenant %s: acls[%zu]: port '%s' is "
                         "not on switch %s", tn->name, a, acl->port,
                         dp->name);
                rc = -EINVAL;
                goto out;
            }
            r->ports = idp;
            r->n_ports = (uint32_t)m;
            idp += m;
        }
    }
    char why[160];
    rc = vf_acl_build(dp, rules, k, why, sizeof(why));
    if (rc)
        snprintf(err, errlen, "tenant %s: %s", tn->name, why);
out:
    free(rules);
    free(pfx);
    free(ids);
    return rc;
}
