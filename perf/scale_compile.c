/* scale_compile.c - vfab-scale: compile time at NVP's scale.
 *
 * NVP (NSDI 2014, section 7) reports deployments of about 3,000 hypervisors,
 * 7,000 logical switches and 63,000 logical ports, with ACLs on most ports.
 * This program generates such a model (1,000 tenants of 7 switches with 9
 * ports each and one router joining the 7, ports spread over the chassis,
 * two port ACLs on 9 ports out of 10) and prints:
 *   - compiling one host's tables (the switches of its ports and what its
 *     tenants' routers reach),
 *   - compiling every host's tables (the whole fabric, one after the other),
 *   - adding 10 ports to one host's switches and recompiling incrementally
 *     (ids of existing ports kept stable, so only 10 switches rebuild).
 * Usage: vfab-scale [chassis switches ports_per_switch]
 */
#include <time.h>

#include "tests/unit/vf_test_logical.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

#define MAX_DUMMIES 1024
static struct vf_port dummies[MAX_DUMMIES];
static uint32_t dummy_ids[MAX_DUMMIES];
static unsigned n_dummies;

/* Stands for the ports mgmt would open (indexes only, no I/O): the same
 * model port always gets the same one, as mgmt keeps a port open. */
static struct vf_port *dummy_port(void *arg, const struct vf_model_port *mp)
{
    (void)arg;
    for (unsigned i = 0; i < n_dummies; i++)
        if (dummy_ids[i] == mp->id)
            return &dummies[i];
    if (n_dummies == MAX_DUMMIES)
        return NULL;
    struct vf_port *p = &dummies[n_dummies];
    dummy_ids[n_dummies] = mp->id;
    p->index = ++n_dummies;
    return p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct vf_tables *compile_host(const struct vf_model *m, int host,
                                      const struct vf_tables *prev, uint64_t gen)
{
    char err[256];
    struct vf_compile_env env = { .chassis_idx = host, .port_of = dummy_port };
    if (!prev)
        n_dummies = 0;      /* another host: its own ports */
    struct vf_tables *t = vf_compile(m, prev, &env, gen, err, sizeof(err));
    if (!t) {
        fprintf(stderr, "vfab-scale: compile for chassis %d: %s\n", host, err);
        exit(1);
    }
    return t;
}

static void port_acls(struct vf_model *m, int t, int s, const char *port, unsigned k)
{
    struct vf_model_acl *a = lt_acl(m, t, s, VF_ACL_TO_PORT, 100, VF_ACL_ALLOW);
    snprintf(a->port, sizeof(a->port), "%s", port);
    a->proto = VF_IPPROTO_TCP;
    a->dport_lo = 80;
    a->dport_hi = 80 + (uint16_t)(k % 10);
    a = lt_acl(m, t, s, VF_ACL_TO_PORT, 10, VF_ACL_DROP);
    snprintf(a->port, sizeof(a->port), "%s", port);
    lt_pfx4(&a->src, htonl(IP(10, 0, 0, 0)), 8);
}

int main(int argc, char **argv)
{
    unsigned n_ch = argc > 1 ? (unsigned)atoi(argv[1]) : 3000;
    unsigned n_sw = argc > 2 ? (unsigned)atoi(argv[2]) : 7000;
    unsigned per = argc > 3 ? (unsigned)atoi(argv[3]) : 9;
    unsigned sw_per_tenant = 7;
    struct vf_model m;
    memset(&m, 0, sizeof(m));
    uint64_t rng = 42;
    double t0 = now_s();
    for (unsigned c = 0; c < n_ch; c++) {
        char name[32];
        snprintf(name, sizeof(name), "hv%u", c);
        lt_chassis(&m, name, IP(172, 16 + c / 65536, (c >> 8) & 0xff, c & 0xff),
                   VF_MODEL_ENCAP_GENEVE);
    }
    unsigned n_ports = 0, n_acls = 0;
    for (unsigned s = 0; s < n_sw; s++) {
        char name[VF_NAME_MAX];
        int t = (int)(s / sw_per_tenant), ls = (int)(s % sw_per_tenant);
        if (ls == 0) {
            snprintf(name, sizeof(name), "tenant%d", t);
            lt_tenant(&m, name);
        }
        snprintf(name, sizeof(name), "t%d-sw%d", t, ls);
        lt_switch(&m, t, name, 1 + s);
        for (unsigned p = 0; p < per; p++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            snprintf(name, sizeof(name), "t%d-sw%d-p%u", t, ls, p);
            lt_port(&m, t, ls, name, (uint32_t)((ls + 1) << 8 | (p + 1)),
                    IP(10, 0, ls, p + 1), (int)((rng >> 33) % n_ch), p % 2);
            n_ports++;
            if (p % 10 != 9) {
                port_acls(&m, t, ls, name, p);
                n_acls += 2;
            }
        }
    }
    for (size_t t = 0; t < m.n_tenants; t++) {
        char name[VF_NAME_MAX];
        snprintf(name, sizeof(name), "tenant%zu-r", t);
        int r = lt_router(&m, (int)t, name);
        for (size_t s = 0; s < m.tenants[t].n_switches; s++) {
            snprintf(name, sizeof(name), "tenant%zu-r-%zu", t, s);
            lt_rport(&m, (int)t, r, name, (int)s, (uint32_t)(0xff00 | (s + 1)),
                     IP(10, 0, s, 254), 24);
        }
    }
    lt_assign_ids(&m);
    printf("model: %u chassis, %u switches, %u ports, %u ACL rules, %zu tenants "
           "(generated in %.2f s)\n", n_ch, n_sw, n_ports, n_acls, m.n_tenants,
           now_s() - t0);

    /* One host. */
    t0 = now_s();
    struct vf_tables *t = compile_host(&m, 0, NULL, 1);
    double one = now_s() - t0;
    printf("one host (hv0): %u switches, %u routers, compiled in %.3f ms\n",
           t->n_dps, t->n_routers, one * 1e3);

    /* Incremental: 10 ports on hv0's switches, each a separate change. */
    double inc = 0;
    uint32_t built = 0;
    for (unsigned k = 0; k < 10 && k < t->n_dps; k++) {
        uint32_t id = t->dps[k]->id;     /* switch ids are 1.. in order */
        int tn = (int)((id - 1) / sw_per_tenant), s = (int)((id - 1) % sw_per_tenant);
        char name[VF_NAME_MAX];
        snprintf(name, sizeof(name), "new-port-%u", k);
        lt_port(&m, tn, s, name, 0x7700 + k, IP(10, 0, s, 200 + k), 0, true);
        struct vf_model_switch *sw = &m.tenants[tn].switches[s];
        sw->ports[sw->n_ports - 1].id = 10000000 + k;   /* stable ids */
        t0 = now_s();
        struct vf_tables *nt = compile_host(&m, 0, t, 2 + k);
        inc += now_s() - t0;
        built += nt->n_dps_built;
        vf_tables_free(t);
        t = nt;
    }
    printf("incremental: 10 ports added one by one, %u switches rebuilt in "
           "all, %.3f ms per change (full compile of hv0: %.3f ms)\n", built,
           inc * 1e3 / 10, one * 1e3);
    vf_tables_free(t);

    /* Every host. */
    t0 = now_s();
    uint64_t dps = 0;
    for (unsigned c = 0; c < n_ch; c++) {
        struct vf_tables *h = compile_host(&m, (int)c, NULL, 1);
        dps += h->n_dps;
        vf_tables_free(h);
    }
    double all = now_s() - t0;
    printf("whole fabric: %u hosts, %llu host-switches, compiled in %.2f s "
           "(%.3f ms per host)\n", n_ch, (unsigned long long)dps, all,
           all * 1e3 / n_ch);

    lt_model_free(&m);
    return 0;
}
