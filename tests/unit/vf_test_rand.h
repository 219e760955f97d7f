/* vf_test_rand.h - random multi-tenant fabrics for property tests
 * (header-only; test_isolation and test_isolation_ct).
 *
 * What: a small xorshift generator (rng_state: tests seed it) and
 * random_model(): three chassis, three tenants of one to three switches
 * with one to four ports each, where every tenant reuses the same MAC and
 * IP pattern (02:00:00:00:0s:0p, 10.0.s.p+1, half also 2001:db8:s::p+1),
 * routers on most tenants, and random stateless ACLs.
 *
 * Thread-safety: single-threaded tests only.
 */
#ifndef VF_TEST_RAND_H
#define VF_TEST_RAND_H

#include "tests/unit/vf_test_logical.h"

#ifndef IP
#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#endif

static uint64_t rng_state;
static inline uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static unsigned name_seq;

static inline void add_random_port(struct vf_model *m, int t, int s)
{
    struct vf_model_switch *sw = &m->tenants[t].switches[s];
    char name[VF_NAME_MAX];
    unsigned p = (unsigned)sw->n_ports;
    snprintf(name, sizeof(name), "t%d-s%d-p%u-%u", t, s, p, name_seq++);
    /* Same MAC and IP pattern in every tenant: 02:00:00:00:0s:0p, 10.0.s.p+1 */
    lt_port(m, t, s, name, (uint32_t)((s + 1) << 8 | (p + 1)),
            IP(10, 0, s, p + 1), (int)rnd((uint32_t)m->n_chassis), rnd(2));
    /* Half the ports also own 2001:db8:s::p+1. */
    if (rnd(2)) {
        struct vf_model_port *mp = &sw->ports[p];
        memset(mp->ip6s[0], 0, 16);
        mp->ip6s[0][0] = 0x20, mp->ip6s[0][1] = 0x01;
        mp->ip6s[0][2] = 0x0d, mp->ip6s[0][3] = 0xb8;
        mp->ip6s[0][5] = (uint8_t)s;
        mp->ip6s[0][15] = (uint8_t)(p + 1);
        mp->n_ip6s = 1;
    }
}

static inline void random_acls(struct vf_model *m, int t)
{
    struct vf_model_tenant *tn = &m->tenants[t];
    free(tn->acls);
    tn->acls = NULL;
    tn->n_acls = 0;
    unsigned n = rnd(5);
    static const uint16_t ports[] = {22, 53, 80, 443};
    for (unsigned i = 0; i < n; i++) {
        int s = (int)rnd((uint32_t)tn->n_switches);
        struct vf_model_acl *a = lt_acl(m, t, s, rnd(2) ? VF_ACL_FROM_PORT
                                                         : VF_ACL_TO_PORT,
                                        (int32_t)rnd(4), rnd(3) ? VF_ACL_DROP
                                                               : VF_ACL_ALLOW);
        struct vf_model_switch *sw = &tn->switches[s];
        if (sw->n_ports && rnd(3) == 0)
            snprintf(a->port, sizeof(a->port), "%s", sw->ports[rnd((uint32_t)sw->n_ports)].name);
        static const uint8_t protos[] = {0, VF_IPPROTO_TCP, VF_IPPROTO_UDP};
        a->proto = protos[rnd(3)];
        if (rnd(2)) {
            uint16_t lo = ports[rnd(4)];
            a->dport_lo = lo;
            a->dport_hi = (uint16_t)(lo + rnd(30));
        }
        if (rnd(3) == 0) {
            lt_pfx4(&a->src, htonl(IP(10, 0, rnd(3), 0)), 24);
        }
    }
}

static inline void random_model(struct vf_model *m)
{
    memset(m, 0, sizeof(*m));
    for (unsigned c = 0; c < 3; c++) {
        char name[8];
        snprintf(name, sizeof(name), "hv%u", c);
        lt_chassis(m, name, IP(192, 0, 2, c + 1), rnd(3) ? VF_MODEL_ENCAP_GENEVE
                                                         : VF_MODEL_ENCAP_VXLAN);
    }
    for (int t = 0; t < 3; t++) {
        char name[16];
        snprintf(name, sizeof(name), "tenant%d", t);
        lt_tenant(m, name);
        int ns = 1 + (int)rnd(3);
        for (int s = 0; s < ns; s++) {
            snprintf(name, sizeof(name), "t%d-sw%d", t, s);
            lt_switch(m, t, name, (uint32_t)(100 * (t + 1) + s));
            int np = 1 + (int)rnd(4);
            for (int p = 0; p < np; p++)
                add_random_port(m, t, s);
        }
        if (rnd(5) < 3) {
            snprintf(name, sizeof(name), "t%d-r", t);
            int r = lt_router(m, t, name);
            for (int s = 0; s < ns; s++) {
                if (rnd(5) == 0)
                    continue;
                snprintf(name, sizeof(name), "t%d-r-%d", t, s);
                lt_rport(m, t, r, name, s, (uint32_t)(0xff00 | (s + 1)),
                         IP(10, 0, s, 254), 24);
            }
        }
        random_acls(m, t);
    }
    lt_assign_ids(m);
}

#endif
