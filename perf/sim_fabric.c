/* sim_fabric.c - the fabric vfab-sim loads (vf_sim.h).
 *
 * N chassis hv1..hvN; S switches sw0..sw{S-1} in tenants of TS switches,
 * each tenant with one router joining its switches (so a host that has a
 * port on one of them compiles all of them: a routed packet runs every hop
 * at its source); P ports, consecutive ones on one switch and port k on
 * chassis k mod N, so a switch's ports sit on different hosts; two ACLs a
 * switch (drop tcp 22 towards ports, allow udp from them) and a default
 * route a router. Written as JSON (which is YAML) for the ordinary loader.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf/vf_sim.h"

int64_t sim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sim_chassis_addr(unsigned idx, char *buf, size_t len)
{
    unsigned i = idx + 1;
    snprintf(buf, len, "10.%u.%u.%u", 200 + (i >> 16), (i >> 8) & 255, i & 255);
}

struct out {
    char *p;
    size_t len, cap;
    int rc;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n + 1;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->rc = -ENOMEM;
            o->len = 0;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

int sim_fabric_yaml(const struct sim_cfg *cfg, char **yaml)
{
    struct out o = {.cap = 1 << 20};
    unsigned ts = cfg->tenant_switches ? cfg->tenant_switches : 10;
    unsigned per = cfg->n_ports / cfg->n_switches, extra = cfg->n_ports % cfg->n_switches;
    unsigned k = 0;
    char ip[32];

    if (!(o.p = malloc(o.cap)))
        return -ENOMEM;
    put(&o, "{\"chassis\": [");
    for (unsigned i = 0; i < cfg->n_chassis; i++) {
        sim_chassis_addr(i, ip, sizeof(ip));
        put(&o, "%s{\"name\": \"hv%u\", \"underlay_ip\": \"%s\"}", i ? ", " : "", i + 1, ip);
    }
    put(&o, "], \"tenants\": [");
    for (unsigned t = 0; t * ts < cfg->n_switches; t++) {
        unsigned first = t * ts, last = first + ts < cfg->n_switches ? first + ts
                                                                      : cfg->n_switches;
        put(&o, "%s{\"name\": \"t%u\", \"switches\": [", t ? ", " : "", t);
        for (unsigned s = first; s < last; s++) {
            unsigned w = s - first, n = per + (s < extra);
            put(&o, "%s{\"name\": \"sw%u\", \"vni\": %u, \"ports\": [", s > first ? ", " : "",
                s, 1000 + s);
            for (unsigned p = 0; p < n; p++, k++)
                put(&o, "%s{\"name\": \"p%u\", \"mac\": \"02:00:%02x:%02x:%02x:%02x\", "
                    "\"ips\": [\"10.%u.%u.%u\"], \"chassis\": \"hv%u\", \"attach\": "
                    "{\"type\": \"ring\"}, \"port_security\": true}", p ? ", " : "", k,
                    s >> 8, s & 255, p >> 8, p & 255, w, p / 250, p % 250 + 1,
                    k % cfg->n_chassis + 1);
            put(&o, "]}");
        }
        put(&o, "], \"routers\": [{\"name\": \"r%u\", \"ports\": [", t);
        for (unsigned s = first; s < last; s++)
            put(&o, "%s{\"name\": \"rp%u\", \"switch\": \"sw%u\", \"mac\": "
                "\"0a:00:%02x:%02x:ff:01\", \"cidr\": \"10.%u.255.254/16\"}",
                s > first ? ", " : "", s, s, s >> 8, s & 255, s - first);
        put(&o, "], \"routes\": [{\"prefix\": \"0.0.0.0/0\", \"nexthop\": \"10.0.255.1\"}]}], "
            "\"acls\": [");
        for (unsigned s = first; s < last; s++)
            put(&o, "%s{\"switch\": \"sw%u\", \"direction\": \"to-port\", \"priority\": 100, "
                "\"action\": \"drop\", \"match\": {\"proto\": \"tcp\", \"dst_port\": 22}}, "
                "{\"switch\": \"sw%u\", \"direction\": \"from-port\", \"priority\": 10, "
                "\"action\": \"allow\", \"match\": {\"proto\": \"udp\"}}",
                s > first ? ", " : "", s, s);
        put(&o, "]}");
    }
    put(&o, "]}\n");
    if (o.rc) {
        free(o.p);
        return o.rc;
    }
    *yaml = o.p;
    return 0;
}
