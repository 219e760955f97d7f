/* vf_test_sg.h - security groups for pipeline tests, until the model has
 * them (header-only).
 *
 * What: a test writes its stateful ACLs as struct sg_rule (switch, port
 * or port-group names, CIDR strings of both families) in a struct sg_set
 * and passes sg_post as vf_test_logical.h's post-compile hook with the set
 * as its argument: after every compile, each host's datapaths get their
 * ACLs from vf_acl_build (what the model step's compiler will call) and
 * their ports zones from vf_acl_assign_zones. The model's own `acls` are
 * replaced (tests using this leave them empty).
 *
 * Thread-safety: single-threaded tests only.
 */
#ifndef VF_TEST_SG_H
#define VF_TEST_SG_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vf_acl.h"
#include "tests/unit/vf_test_logical.h"

#define SG_MAX_RULES 1100
#define SG_MAX_NAMES 8

struct sg_rule {
    const char *sw;                       /* the switch it is on */
    bool to_port;
    enum vf_acl_verdict verdict;
    int32_t prio;
    const char *ports[SG_MAX_NAMES];      /* none: switch-wide */
    uint8_t proto;
    const char *src[SG_MAX_NAMES];        /* none: any; "-": an empty set */
    const char *dst[SG_MAX_NAMES];
    uint16_t sport_lo, sport_hi, dport_lo, dport_hi;   /* 0, 0: any */
};

struct sg_set {
    unsigned n;
    struct sg_rule r[SG_MAX_RULES];
    const char *max_port[4];              /* max_connections per port */
    uint32_t max[4];
};

static inline struct sg_rule *sg_add(struct sg_set *s, const char *sw, bool to_port,
                                     enum vf_acl_verdict v, int32_t prio)
{
    if (s->n == SG_MAX_RULES)
        abort();
    struct sg_rule *r = &s->r[s->n++];
    memset(r, 0, sizeof(*r));
    r->sw = sw;
    r->to_port = to_port;
    r->verdict = v;
    r->prio = prio;
    return r;
}

/* "10.0.0.0/24" or "fd00::/64" (no "/": a host). False if unreadable. */
static inline bool sg_cidr(const char *text, struct vf_acl_prefix *p)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", text);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = 0;
    memset(p, 0, sizeof(*p));
    if (inet_pton(AF_INET, buf, p->addr) == 1)
        p->family = 4;
    else if (inet_pton(AF_INET6, buf, p->addr) == 1)
        p->family = 6;
    else
        return false;
    p->plen = (uint8_t)(slash ? atoi(slash + 1) : p->family == 4 ? 32 : 128);
    return true;
}

/* The id of a model port (VM or router) by name, or 0. */
static inline uint32_t sg_port_id(const struct vf_model *m, const char *name)
{
    for (size_t t = 0; t < m->n_tenants; t++) {
        const struct vf_model_tenant *tn = &m->tenants[t];
        for (size_t s = 0; s < tn->n_switches; s++)
            for (size_t p = 0; p < tn->switches[s].n_ports; p++)
                if (!strcmp(tn->switches[s].ports[p].name, name))
                    return tn->switches[s].ports[p].id;
        for (size_t r = 0; r < tn->n_routers; r++)
            for (size_t p = 0; p < tn->routers[r].n_ports; p++)
                if (!strcmp(tn->routers[r].ports[p].name, name))
                    return tn->routers[r].ports[p].id;
    }
    return 0;
}

static inline unsigned sg_prefixes(const char *const *names, struct vf_acl_prefix *out)
{
    unsigned n = 0;
    for (unsigned i = 0; i < SG_MAX_NAMES && names[i]; i++) {
        if (!strcmp(names[i], "-"))
            continue;
        if (!sg_cidr(names[i], &out[n]))
            abort();
        n++;
    }
    return n;
}

/* The post-compile hook: arg is a struct sg_set. */
static inline int sg_post(struct lt_fabric *f, unsigned h, struct vf_tables *t,
                          const struct vf_tables *prev)
{
    (void)h;
    const struct sg_set *set = f->post_arg;
    static struct vf_acl_rule rules[SG_MAX_RULES];
    static uint32_t ids[SG_MAX_RULES][SG_MAX_NAMES];
    static struct vf_acl_prefix src[SG_MAX_RULES][SG_MAX_NAMES];
    static struct vf_acl_prefix dst[SG_MAX_RULES][SG_MAX_NAMES];
    char err[200];

    for (uint32_t d = 0; d < t->n_dps; d++) {
        struct vf_dp *dp = t->dps[d];
        size_t n = 0;
        vf_cls_destroy(dp->acl_in);
        vf_cls_destroy(dp->acl_out);
        vf_cls_destroy(dp->acl_in6);
        vf_cls_destroy(dp->acl_out6);
        dp->acl_in = dp->acl_out = dp->acl_in6 = dp->acl_out6 = NULL;
        dp->n_acl_in = dp->n_acl_out = 0;
        for (unsigned i = 0; set && i < set->n; i++) {
            const struct sg_rule *sr = &set->r[i];
            if (strcmp(sr->sw, dp->name))
                continue;
            struct vf_acl_rule *r = &rules[n];
            memset(r, 0, sizeof(*r));
            r->index = i;
            r->to_port = sr->to_port;
            r->verdict = (uint8_t)sr->verdict;
            r->priority = sr->prio;
            r->proto = sr->proto;
            r->sport_lo = sr->sport_lo;
            r->sport_hi = sr->sport_hi;
            r->dport_lo = sr->dport_lo;
            r->dport_hi = sr->dport_hi;
            if (sr->ports[0]) {
                for (unsigned k = 0; k < SG_MAX_NAMES && sr->ports[k]; k++)
                    ids[n][r->n_ports++] = sg_port_id(f->m, sr->ports[k]);
                r->ports = ids[n];
            }
            if (sr->src[0]) {
                r->n_src = sg_prefixes(sr->src, src[n]);
                r->src = src[n];
            }
            if (sr->dst[0]) {
                r->n_dst = sg_prefixes(sr->dst, dst[n]);
                r->dst = dst[n];
            }
            n++;
        }
        if (vf_acl_build(dp, rules, n, err, sizeof(err))) {
            fprintf(stderr, "vf_acl_build: %s\n", err);
            return -1;
        }
        for (uint32_t i = 0; set && i < dp->n_ports; i++)
            for (unsigned k = 0; k < 4 && set->max_port[k]; k++)
                if (!strcmp(set->max_port[k], dp->ports[i].name))
                    dp->ports[i].ct_max = set->max[k];
    }
    return vf_acl_assign_zones(t, prev);
}

#endif
