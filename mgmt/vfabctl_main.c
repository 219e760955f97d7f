/* vfabctl - the operator's CLI: one JSON-RPC 2.0 request to vfabd's control
 * socket, answer printed for people (default) or as stable JSON (--json). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mgmt/rpc/vf_capture_file.h"
#include "mgmt/rpc/vf_ctl.h"
#include "mgmt/rpc/vf_ctl_client.h"
#include "mgmt/rpc/vf_ctl_path.h"
#include "mgmt/control/vf_text.h"
#include "mgmt/vfabctl.h"

#define RPC_TIMEOUT_MS 30000
#define APPLY_TIMEOUT_MS 600000

static void usage(FILE *f)
{
    fprintf(f,
"usage: vfabctl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
"\n"
"Talks to a running vfabd over its control socket (JSON-RPC 2.0).\n"
"\n"
"Commands:\n"
"  status                     daemon, topology, workers (core, NUMA node, load)\n"
"  stats [--watch [SECONDS]]  counters per port, per worker, drops by reason\n"
"  show                       the desired state in force (model)\n"
"  flows                      flow cache occupancy and hit rates per worker\n"
"  capture PORT -w FILE.pcap [-c COUNT] [--seconds N] [--overwrite]\n"
"                             copy the frames logical port PORT receives from\n"
"                             and delivers to its VM into a pcap file: a new\n"
"                             file vfabctl creates with your own rights\n"
"                             (--overwrite: replace an existing one) and hands\n"
"                             to vfabd; ends after COUNT frames or N seconds\n"
"                             (default 10 s)\n"
"  trace PORT [FIELD=VALUE...] run a synthetic packet from logical port PORT\n"
"                             through the pipeline and print each stage's\n"
"                             decision. Fields: eth_src eth_dst ip_src ip_dst\n"
"                             proto (tcp|udp|icmp|N) sport dport ttl arp_op\n"
"                             (request|reply|N) tcp_flags (N, default SYN 2);\n"
"                             unset fields take the port's own addresses;\n"
"                             with security groups it shows the conntrack\n"
"                             state the packet would have in each zone\n"
"  conntrack [--zone PORT] [--limit N] [--json]\n"
"                             tracked connections (security groups): zone,\n"
"                             port, tuple as opened, state, age, expiry,\n"
"                             packets/bytes each way (PORT: only its zone)\n"
"  conntrack flush [--zone PORT]  forget connections (all, or PORT's)\n"
"  call METHOD [JSON-PARAMS]  send any method (for scripts and debugging)\n"
"\n"
"Changing the desired state (validated whole, refused whole, saved before\n"
"vfabd answers; --dry-run shows the changes without applying them):\n"
"  add KIND [PARENT] FIELD=VALUE...  add one object\n"
"  del KIND NAME [--cascade]         delete one object (--cascade: and what\n"
"                                    hangs on it)\n"
"  list KIND                         list the objects of a kind\n"
"  apply [--dry-run] FILE            move to the desired state in FILE (YAML;\n"
"                                    without `local`, this host keeps its own)\n"
"  KIND and PARENT:\n"
"    chassis                  add chassis name=hv3 underlay_ip=192.0.2.3\n"
"    tenant                   add tenant name=green\n"
"    switch TENANT            add switch blue name=blue-app vni=1003\n"
"    port SWITCH              add port blue-web name=vm9 mac=02:00:00:00:01:09\n"
"                                 ips=10.0.0.9 chassis=hv1 port_security=true\n"
"    router TENANT            add router blue name=blue-r2\n"
"    router-port ROUTER       add router-port blue-r name=blue-r-app\n"
"                                 switch=blue-app mac=02:00:00:00:ff:03\n"
"                                 cidr=10.0.2.254/24\n"
"    route ROUTER             add route blue-r prefix=0.0.0.0/0 nexthop=10.0.0.253\n"
"                             del route blue-r prefix=0.0.0.0/0 [nexthop=...]\n"
"    acl [TENANT]             add acl switch=blue-web direction=to-port\n"
"                                 priority=100 action=drop match.proto=tcp\n"
"                                 match.dst_port=22\n"
"                             del acl switch=blue-web priority=100 [match.*=...]\n"
"                             del acl blue index=0   (index as `list acl` shows)\n"
"    port-group TENANT        add port-group blue name=web ports=vm1,vm2\n"
"                             del port-group web [tenant=blue]\n"
"    address-set TENANT       add address-set blue name=admins\n"
"                                 addresses=10.0.0.0/24,2001:db8::/64\n"
"                             (ACLs: port_group=web, match.src_ip=$admins,\n"
"                             action=allow-related|reject, match.proto=icmp6)\n"
"    nat ROUTER               add nat blue-r type=snat external_ip=203.0.113.10\n"
"                                 logical_ip=10.0.0.0/24\n"
"    load-balancer TENANT     add load-balancer blue name=web-lb\n"
"                                 vip=10.0.0.100:80 backends=10.0.0.1:80,...\n"
"                                 switches=blue-web\n"
"  FIELD=VALUE: the fields of docs/config.md; a.b=V sets a nested field\n"
"  (attach.type=tap, match.dst_port=22); ips=A,B is a list. Or give the whole\n"
"  spec as JSON with --spec '{...}' (shapes in mgmt/control/vf_model_edit.h).\n"
"\n"
"Options:\n"
"  -s, --socket PATH   control socket (default $VFAB_SOCKET, else for root\n"
"                      %s; for other users the socket of their own\n"
"                      vfabd ($XDG_RUNTIME_DIR/vfab/vfabd.sock, else\n"
"                      /tmp/vfab-UID/vfabd.sock) if it exists, else root's)\n"
"  -j, --json          print the raw JSON result (stable, for scripts)\n"
"  -h, --help          this help\n"
"\n"
"Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
"3 cannot reach the daemon.\n", VF_CTL_SYSTEM_SOCKET);
    vfabctl_store_usage(f);
}

static int rpc_connect(const char *path)
{
    char err[1024];
    int fd = vf_ctl_client_connect(path, err, sizeof(err));
    if (fd < 0)
        fprintf(stderr, "vfabctl: %s\n", err);
    return fd;
}

/* How long to wait for an answer: an apply of a whole fabric's file is
 * validated and compiled while vfabd serves others; vfabd drops a change
 * whose client left before it was applied. */
static int rpc_timeout_ms = RPC_TIMEOUT_MS;

/* Sends one request and returns the parsed response (new reference). */
static json_t *rpc_call_fd(int fd, const char *method, json_t *params,
                           int pass_fd)
{
    char err[1024];
    json_t *resp = vf_ctl_client_call(fd, method, params, pass_fd,
                                      rpc_timeout_ms, err, sizeof(err));
    if (!resp)
        fprintf(stderr, "vfabctl: %s\n", err);
    return resp;
}

static json_t *rpc_call(int fd, const char *method, json_t *params)
{
    return rpc_call_fd(fd, method, params, -1);
}

static uint64_t jint(json_t *o, const char *k)
{
    return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void print_status(json_t *r)
{
    json_t *topo = json_object_get(r, "topology");
    printf("vfabd %s  chassis %s  pid %" PRIu64 "  up %" PRIu64 " s\n",
           json_string_value(json_object_get(r, "version")),
           json_string_value(json_object_get(r, "chassis")), jint(r, "pid"),
           jint(r, "uptime_s"));
    printf("topology: %s\n", json_string_value(json_object_get(topo, "description")));
    json_t *tb = json_object_get(r, "tables");
    printf("tables: generation %" PRIu64 ", %" PRIu64 " publications, last grace period %" PRIu64 " us\n",
           jint(tb, "generation"), jint(tb, "publications"), jint(tb, "last_grace_us"));
    printf("%-7s %5s %5s %7s %8s %12s %12s %7s %9s %9s\n", "worker", "cpu", "node",
           "pinned", "rx_queues", "rx_pkts", "tx_pkts", "busy%", "spin", "spin_cuts");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(r, "workers"), i, w) {
        printf("%-7" PRIu64 " %5" PRId64 " %5" PRId64 " %7s %8" PRIu64 " %12" PRIu64 " %12" PRIu64
               " %6.1f%% %9" PRIu64 " %9" PRIu64 "\n",
               jint(w, "id"), (int64_t)json_integer_value(json_object_get(w, "cpu")),
               (int64_t)json_integer_value(json_object_get(w, "numa_node")),
               json_is_true(json_object_get(w, "pinned")) ? "yes" : "no",
               jint(w, "rx_queues"), jint(w, "rx_pkts"), jint(w, "tx_pkts"),
               100.0 * json_real_value(json_object_get(w, "busy_ratio")),
               jint(w, "spin_budget"), jint(w, "spin_cuts"));
    }
    json_t *t = json_object_get(r, "tuning");
    if (t) {
        json_t *up = json_object_get(t, "uplink");
        printf("tuning (%s): burst %" PRIu64 ", tx_batch %" PRIu64 " flush %s, "
               "ring_size %" PRIu64 ", pool_bufs %" PRIu64 "/worker (hugepages %s%s), "
               "flow_cache_entries %" PRIu64 ", idle_polls %" PRIu64 " (%s)\n",
               json_string_value(json_object_get(t, "source")), jint(t, "burst"),
               jint(t, "tx_batch"), json_string_value(json_object_get(t, "tx_flush")),
               jint(t, "ring_size"), jint(t, "pool_bufs"),
               json_is_true(json_object_get(t, "hugepages")) ? "yes" : "no",
               json_is_true(json_object_get(t, "hugepages_required")) ? ", required" : "",
               jint(t, "flow_cache_entries"), jint(t, "idle_polls"),
               json_string_value(json_object_get(t, "idle_spin")) ?: "?");
        printf("uplink: %s, rx %s, send_zc %s, fixed_bufs %s, depth %" PRIu64
               ", burst %" PRIu64 "\n",
               json_string_value(json_object_get(up, "type")),
               json_string_value(json_object_get(up, "rx")),
               json_is_true(json_object_get(up, "send_zc")) ? "on" : "off",
               json_is_true(json_object_get(up, "fixed_bufs")) ? "on" : "off",
               jint(up, "depth"), jint(up, "burst"));
    }
    json_t *st = json_object_get(r, "store");
    if (st) {
        double age = json_real_value(json_object_get(st, "last_event_age_s"));
        char agebuf[32] = "none yet";
        if (age >= 0)
            snprintf(agebuf, sizeof(agebuf), "%.1f s ago", age);
        printf("store: %s%s  prefix %s  %s%s  revision %" PRIu64 " (seen %" PRIu64
               ")  last event %s\n",
               json_string_value(json_object_get(st, "endpoints")),
               "", json_string_value(json_object_get(st, "prefix")),
               json_is_true(json_object_get(st, "connected")) ? "connected to "
                                                              : "NOT connected",
               json_string_value(json_object_get(st, "endpoint")) ?: "",
               jint(st, "revision"), jint(st, "revision_seen"), agebuf);
        printf("store: chassis %s %s (lease TTL %" PRIu64 " s), %" PRIu64
               " changes applied, %" PRIu64 " refused",
               json_string_value(json_object_get(st, "chassis")),
               json_string_value(json_object_get(st, "registration")),
               jint(st, "lease_ttl_s"), jint(st, "changes_applied"),
               jint(st, "changes_refused"));
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(st, "chassis_down"), k, c)
            printf("%s%s", k ? ", " : "; down: ", json_string_value(c));
        printf("\n");
        const char *why = json_string_value(json_object_get(st, "last_refusal"));
        if (why && *why)
            printf("store: last refusal: %s\n", why);
    }
}

static void print_drops(json_t *drops, const char *indent)
{
    const char *k;
    json_t *v;
    int any = 0;
    json_object_foreach(drops, k, v) {
        if (json_integer_value(v)) {
            printf("%s%-32s %12" PRIu64 "\n", indent, k, (uint64_t)json_integer_value(v));
            any = 1;
        }
    }
    if (!any)
        printf("%s(none)\n", indent);
}

static void print_stats(json_t *r)
{
    size_t i;
    json_t *p;
    printf("%-20s %-6s %12s %12s %12s %12s %10s %10s %10s\n", "port", "type",
           "rx_pkts", "rx_bytes", "tx_pkts", "tx_bytes", "tx_drops", "rx_errors",
           "no_buffer");
    json_array_foreach(json_object_get(r, "ports"), i, p) {
        printf("%-20s %-6s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64
               " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 "\n",
               json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "type")), jint(p, "rx_pkts"),
               jint(p, "rx_bytes"), jint(p, "tx_pkts"), jint(p, "tx_bytes"),
               jint(p, "tx_drops"), jint(p, "rx_errors"), jint(p, "no_buffer"));
    }
    json_array_foreach(json_object_get(r, "workers"), i, p) {
        json_t *fc = json_object_get(p, "flow_cache");
        printf("worker %" PRIu64 " (cpu %" PRId64 "): rx %" PRIu64 " tx %" PRIu64
               "  flow cache hits %" PRIu64 " misses %" PRIu64 "\n",
               jint(p, "id"), (int64_t)json_integer_value(json_object_get(p, "cpu")),
               jint(p, "rx_pkts"), jint(p, "tx_pkts"), jint(fc, "hits"),
               jint(fc, "misses"));
    }
    printf("drops by reason:\n");
    print_drops(json_object_get(r, "drops"), "  ");
    json_t *ct = json_object_get(r, "conntrack");
    if (json_is_object(ct)) {
        json_t *v;
        const char *k;
        printf("conntrack: %" PRIu64 " of %" PRIu64 " connections; created %"
               PRIu64 " expired %" PRIu64 " flushed %" PRIu64 " table_full %"
               PRIu64 " zone_full %" PRIu64 "; reject answers %" PRIu64 "\n",
               jint(ct, "live"), jint(ct, "max"), jint(ct, "created"),
               jint(ct, "expired"), jint(ct, "flushed"), jint(ct, "table_full"),
               jint(ct, "zone_full"),
               jint(json_object_get(ct, "reject"), "answers"));
        printf("  by state:");
        json_object_foreach(json_object_get(ct, "connections"), k, v)
            if (json_integer_value(v))
                printf(" %s %" PRIu64, k, (uint64_t)json_integer_value(v));
        printf("\n  lookups:");
        json_object_foreach(json_object_get(ct, "lookup_results"), k, v)
            printf(" %s %" PRIu64, k, (uint64_t)json_integer_value(v));
        printf("\n");
    }
}

/* `conntrack`: one line per connection, as the opener sent it. */
static void print_conntrack(json_t *r)
{
    size_t i;
    json_t *c;
    printf("%-5s %-12s %-5s %-45s %-16s %8s %10s %18s %18s\n", "zone", "port",
           "proto", "orig src -> dst", "state", "age_s", "expires_s",
           "orig pkts/bytes", "reply pkts/bytes");
    json_array_foreach(json_object_get(r, "connections"), i, c) {
        static const char *const pn[256] = {[1] = "icmp", [6] = "tcp",
                                            [17] = "udp", [58] = "icmp6"};
        json_t *s = json_object_get(c, "orig_src"), *d = json_object_get(c, "orig_dst");
        json_t *o = json_object_get(c, "orig"), *rp = json_object_get(c, "reply");
        unsigned proto = (unsigned)jint(c, "proto") & 0xff;
        char tuple[128], ob[40], rb[40];
        bool v6 = jint(c, "family") == 6;
        snprintf(tuple, sizeof(tuple), "%s%s%s:%" PRIu64 " -> %s%s%s:%" PRIu64,
                 v6 ? "[" : "", json_string_value(json_object_get(s, "ip")),
                 v6 ? "]" : "", jint(s, "port"), v6 ? "[" : "",
                 json_string_value(json_object_get(d, "ip")), v6 ? "]" : "",
                 jint(d, "port"));
        snprintf(ob, sizeof(ob), "%" PRIu64 "/%" PRIu64, jint(o, "packets"),
                 jint(o, "bytes"));
        snprintf(rb, sizeof(rb), "%" PRIu64 "/%" PRIu64, jint(rp, "packets"),
                 jint(rp, "bytes"));
        const char *port = json_string_value(json_object_get(c, "port"));
        printf("%-5" PRIu64 " %-12s %-5s %-45s %-16s %8.1f %10.1f %18s %18s\n",
               jint(c, "zone"), port ? port : "-", pn[proto] ? pn[proto] : "?",
               tuple, json_string_value(json_object_get(c, "state")),
               json_real_value(json_object_get(c, "age_s")),
               json_real_value(json_object_get(c, "expires_s")), ob, rb);
    }
    printf("%" PRIu64 " shown%s; %" PRIu64 " live of %" PRIu64 "\n",
           jint(r, "shown"), json_is_true(json_object_get(r, "truncated")) ?
           " (truncated: --limit N)" : "", jint(r, "live"), jint(r, "max"));
}

/* conntrack [flush] [--zone PORT] [--limit N] [--json] */
static json_t *conntrack_params(int argc, char **argv, const char **method,
                                int *as_json)
{
    json_t *p = json_object();
    int i = 0;
    *method = "conntrack";
    if (argc > 0 && !strcmp(argv[0], "flush")) {
        *method = "conntrack_flush";
        i = 1;
    }
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--zone") && i + 1 < argc) {
            json_object_set_new(p, "zone", json_string(argv[++i]));
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc &&
                   !strcmp(*method, "conntrack")) {
            char *end;
            long long n = strtoll(argv[++i], &end, 10);
            if (*end || n < 1) {
                fprintf(stderr, "vfabctl: conntrack: --limit wants a number >= 1\n");
                json_decref(p);
                return NULL;
            }
            json_object_set_new(p, "limit", json_integer(n));
        } else if (!strcmp(argv[i], "--json")) {
            *as_json = 1;
        } else {
            fprintf(stderr, "vfabctl: conntrack: unexpected '%s' (usage: conntrack "
                    "[flush] [--zone PORT] [--limit N] [--json])\n", argv[i]);
            json_decref(p);
            return NULL;
        }
    }
    return p;
}

static void print_trace(json_t *r)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(r, "stages"), i, s) {
        printf("%2zu. %-18s %s\n", i + 1,
               json_string_value(json_object_get(s, "stage")),
               json_string_value(json_object_get(s, "decision")));
    }
    char *res = json_dumps(json_object_get(r, "result"), JSON_COMPACT);
    printf("result: %s\n", res);
    free(res);
    /* The state the packet would have in each zone it crosses. */
    json_t *ct;
    json_array_foreach(json_object_get(json_object_get(r, "result"),
                                       "conntrack"), i, ct)
        printf("conntrack zone %" PRIu64 ": %s%s\n", jint(ct, "zone"),
               json_string_value(json_object_get(ct, "state")),
               json_is_true(json_object_get(ct, "reply")) ? " (reply)" : "");
}

/* "ttl=64" -> {"ttl": "64"}; numbers stay strings: the daemon parses them
 * and names the field if one is bad. */
static json_t *trace_params(int argc, char **argv)
{
    json_t *fields = json_object();
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i]) {
            fprintf(stderr, "vfabctl: trace: '%s' is not FIELD=VALUE\n", argv[i]);
            json_decref(fields);
            return NULL;
        }
        *eq = '\0';
        json_object_set_new(fields, argv[i], json_string(eq + 1));
    }
    return json_pack("{s:s, s:o}", "port", argv[0], "fields", fields);
}


/* ---- add / del / list / apply ---- */

/* The positional argument of each kind: what add's PARENT names. */
static const char *parent_key(const char *kind)
{
    if (!strcmp(kind, "switch") || !strcmp(kind, "router") ||
        !strcmp(kind, "acl") || !strcmp(kind, "port-group") ||
        !strcmp(kind, "address-set") || !strcmp(kind, "load-balancer"))
        return "tenant";
    if (!strcmp(kind, "port"))
        return "switch";
    if (!strcmp(kind, "router-port") || !strcmp(kind, "route") ||
        !strcmp(kind, "nat"))
        return "router";
    return NULL;
}

/* Digits become numbers and true/false booleans (the daemon's loader reads
 * them the same either way); ips=A,B is a list. */
static json_t *kv_value(const char *key, const char *v)
{
    if (!strcmp(key, "ips") || !strcmp(key, "ports") ||
        !strcmp(key, "addresses") || !strcmp(key, "backends") ||
        !strcmp(key, "switches") || !strcmp(key, "routers") ||
        !strcmp(key, "gateway_chassis")) {
        json_t *a = json_array();
        char *copy = strdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(a, json_string(t));
        free(copy);
        return a;
    }
    if (*v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 10)
        return json_integer(strtoll(v, NULL, 10));
    if (!strcmp(v, "true") || !strcmp(v, "false"))
        return json_boolean(!strcmp(v, "true"));
    return json_string(v);
}

/* "a.b=v" into obj, making nested objects for the dots. */
static int set_kv(json_t *obj, const char *arg)
{
    char *copy = strdup(arg), *eq = strchr(copy, '='), *key = copy, *dot;
    if (!eq || eq == copy) {
        fprintf(stderr, "vfabctl: '%s' is not FIELD=VALUE\n", arg);
        free(copy);
        return -1;
    }
    *eq = '\0';
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        json_t *sub = json_object_get(obj, key);
        if (!json_is_object(sub)) {
            sub = json_object();
            json_object_set_new(obj, key, sub);
        }
        obj = sub;
        key = dot + 1;
    }
    json_object_set_new(obj, key, kv_value(key, eq + 1));
    free(copy);
    return 0;
}

/* add/del KIND [POSITIONAL] [FIELD=VALUE...] [--spec JSON] [--cascade]
 * [--dry-run] -> {"kind", "spec", "cascade", "dry_run"}. */
json_t *vfabctl_edit_params(bool add, int argc, char **argv)
{
    const char *kind = argv[0], *pkey = parent_key(kind);
    json_t *fields = json_object(), *spec = NULL;
    bool cascade = false, dry_run = false;
    const char *positional = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cascade")) {
            cascade = true;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry_run = true;
        } else if (!strcmp(argv[i], "--spec")) {
            json_error_t e;
            if (i + 1 >= argc || !(spec = json_loads(argv[++i], 0, &e))) {
                fprintf(stderr, "vfabctl: --spec wants a JSON object%s%s\n",
                        i < argc ? ": " : "", i < argc ? e.text : "");
                goto bad;
            }
        } else if (!strchr(argv[i], '=') && !positional) {
            positional = argv[i];
        } else if (set_kv(fields, argv[i]) != 0) {
            goto bad;
        }
    }
    if (!spec) {
        spec = json_object();
        if (add) {
            /* {"switch": "blue-web", "port": {fields}} */
            if (positional && !pkey) {
                fprintf(stderr, "vfabctl: add %s takes no parent, only "
                        "FIELD=VALUE (got '%s')\n", kind, positional);
                goto bad;
            }
            if (positional)
                json_object_set_new(spec, pkey, json_string(positional));
            json_object_set(spec, kind, fields);
        } else {
            /* {"name": "vm3"}, {"router": R, "prefix": P}, {"tenant": T, "index": I} */
            const char *pos = !strcmp(kind, "route") ? "router"
                              : !strcmp(kind, "acl") ? "tenant" : "name";
            json_object_update(spec, fields);
            if (positional)
                json_object_set_new(spec, pos, json_string(positional));
        }
    } else if (positional || json_object_size(fields)) {
        fprintf(stderr, "vfabctl: give either --spec or the object's fields, "
                "not both\n");
        goto bad;
    }
    json_decref(fields);
    return json_pack("{s:s, s:o, s:b, s:b}", "kind", kind, "spec", spec,
                     "cascade", cascade, "dry_run", dry_run);
bad:
    json_decref(fields);
    json_decref(spec);
    return NULL;
}

/* apply [--dry-run] FILE -> {"yaml": contents, "name": FILE, "dry_run"}. */
static json_t *apply_params(int argc, char **argv)
{
    const char *file = NULL;
    bool dry_run = false;

    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run"))
            dry_run = true;
        else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "vfabctl: apply takes one FILE\n");
            return NULL;
        }
    }
    if (!file) {
        fprintf(stderr, "vfabctl: apply needs a FILE\n");
        return NULL;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "vfabctl: %s: %s\n", file, strerror(errno));
        return NULL;
    }
    /* What vfabd -c loads, vfabd takes over the socket too. */
    size_t cap = VF_CTL_MAX_FILE, n;
    char *buf = malloc(cap + 1), err[1024];
    n = buf ? fread(buf, 1, cap + 1, f) : 0;
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed || n > cap) {
        fprintf(stderr, "vfabctl: %s: %s\n", file, failed ? "cannot read it" :
                "more than 64 MiB, the most a desired-state file may hold "
                "(vfabd -c refuses it too)");
        free(buf);
        return NULL;
    }
    /* Refused here in the words vfabd --check uses for the same file. */
    if (vf_text_check(file, buf, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "vfabctl: %s\n", err);
        free(buf);
        return NULL;
    }
    json_t *text = json_stringn(buf, n);
    free(buf);
    if (!text) {
        fprintf(stderr, "vfabctl: %s: out of memory\n", file);
        return NULL;
    }
    return json_pack("{s:o, s:s, s:b}", "yaml", text, "name", file,
                     "dry_run", dry_run);
}

static void print_value(json_t *v)
{
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s", t ? t : "?");
    free(t);
}

/* One line per object of a vf_model_diff; returns how many. */
size_t vfabctl_print_diff(json_t *diff)
{
    size_t i;
    json_t *it;
    static const char *const lists[] = {"added", "removed", "changed"};
    static const char marks[] = {'+', '-', '~'};

    for (int l = 0; l < 3; l++)
        json_array_foreach(json_object_get(diff, lists[l]), i, it) {
            printf("%c %s %s", marks[l],
                   json_string_value(json_object_get(it, "kind")),
                   json_string_value(json_object_get(it, "name")));
            size_t k;
            json_t *f;
            json_array_foreach(json_object_get(it, "fields"), k, f) {
                const char *key = json_string_value(f);
                printf("%s %s ", k ? "," : ":", key);
                print_value(json_object_get(json_object_get(it, "from"), key));
                printf(" -> ");
                print_value(json_object_get(json_object_get(it, "to"), key));
            }
            printf("\n");
        }
    return json_array_size(json_object_get(diff, "added")) +
           json_array_size(json_object_get(diff, "removed")) +
           json_array_size(json_object_get(diff, "changed"));
}

static void print_change(json_t *r)
{
    size_t n = vfabctl_print_diff(json_object_get(r, "diff"));
    if (json_is_true(json_object_get(r, "dry_run")))
        printf("dry run: %zu change%s, nothing applied\n", n, n == 1 ? "" : "s");
    else if (json_is_true(json_object_get(r, "applied")))
        printf("applied: %zu change%s, tables generation %" PRIu64 "%s\n", n,
               n == 1 ? "" : "s", jint(r, "generation"),
               json_is_true(json_object_get(r, "persisted")) ? ", saved"
               : " (not saved: vfabd runs without a state directory)");
    else
        printf("no change\n");
}

/* One line per object: its parents and facts, then the object. */
void vfabctl_print_list(const char *kind, json_t *r)
{
    size_t i;
    json_t *it;
    json_array_foreach(r, i, it) {
        const char *k;
        json_t *v;
        json_object_foreach(it, k, v) {
            if (!strcmp(k, kind))
                continue;
            printf("%s=", k);
            if (json_is_string(v))
                printf("%s", json_string_value(v));
            else
                print_value(v);
            printf(" ");
        }
        print_value(json_object_get(it, kind));
        printf("\n");
    }
    if (!json_array_size(r))
        printf("(no %s)\n", kind);
}

/* capture PORT -w FILE [-c COUNT] [--seconds N] [--overwrite]: we open
 * FILE with the user's rights and pass it to vfabd (vf_capture_file.h);
 * we start the capture and poll its status until it ends, so Ctrl-C here
 * does not stop it early unless we are asked to (capture_stop on SIGINT). */
static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int capture_cmd(const char *sock, int nargs, char **args, int as_json)
{
    const char *port = NULL, *file = NULL;
    bool overwrite = false;
    long long count = 0;
    double seconds = 0;
    char *end;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        bool more = i + 1 < nargs;
        if ((!strcmp(a, "-w") || !strcmp(a, "--write")) && more) {
            file = args[++i];
        } else if (!strcmp(a, "--overwrite")) {
            overwrite = true;
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--count")) && more) {
            count = strtoll(args[++i], &end, 10);
            if (*end || count <= 0) {
                fprintf(stderr, "vfabctl: capture: -c wants a count > 0\n");
                return 2;
            }
        } else if (!strcmp(a, "--seconds") && more) {
            seconds = strtod(args[++i], &end);
            if (*end || seconds <= 0 || seconds > 3600) {
                fprintf(stderr, "vfabctl: capture: --seconds wants 0 < N <= 3600\n");
                return 2;
            }
        } else if (a[0] != '-' && !port) {
            port = a;
        } else {
            fprintf(stderr, "vfabctl: capture: unexpected '%s' (usage: capture "
                    "PORT -w FILE.pcap [-c COUNT] [--seconds N] [--overwrite])\n", a);
            return 2;
        }
    }
    if (!port || !file) {
        fprintf(stderr, "vfabctl: usage: capture PORT -w FILE.pcap [-c COUNT] "
                "[--seconds N]\n");
        return 2;
    }
    if (!count && !seconds)
        seconds = 10;   /* always bounded */
    char abs[PATH_MAX + 2], ferr[1024];
    int pcap = vf_capture_file_open(file, overwrite, abs, sizeof(abs), ferr,
                                    sizeof(ferr));
    if (pcap < 0) {
        fprintf(stderr, "vfabctl: capture: %s\n", ferr);
        return 1;
    }
    int fd = rpc_connect(sock);
    if (fd < 0) {
        vf_capture_file_discard(pcap, file, !overwrite);
        return 3;
    }
    json_t *params = json_pack("{s:s, s:s, s:I, s:f}", "port", port, "file", abs,
                               "count", (json_int_t)count, "seconds", seconds);
    json_t *empty = json_object();
    int rc = 0;
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    const char *method = "capture_start";
    /* Bounded by the capture's own bound plus a margin of polls. */
    unsigned max_polls = (unsigned)((seconds ? seconds : 3600) * 5) + 50;
    for (unsigned poll_no = 0; poll_no <= max_polls; poll_no++) {
        json_t *resp = rpc_call_fd(fd, method, poll_no ? empty : params,
                                   poll_no ? -1 : pcap);
        if (!poll_no) {
            /* vfabd holds its own copy now, or refused the capture. */
            if (!resp || json_object_get(resp, "error"))
                vf_capture_file_discard(pcap, file, !overwrite);
            else
                close(pcap);
        }
        if (!resp) {
            rc = 3;
            break;
        }
        json_t *err = json_object_get(resp, "error");
        if (err) {
            fprintf(stderr, "vfabctl: capture: %s\n",
                    json_string_value(json_object_get(err, "message")));
            json_decref(resp);
            rc = 1;
            break;
        }
        json_t *r = json_object_get(resp, "result");
        if (!json_is_true(json_object_get(r, "active"))) {
            if (as_json) {
                char *t = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
                printf("%s\n", t);
                free(t);
            } else {
                uint64_t dropped = jint(r, "dropped");
                printf("%llu frames of %s written to %s (%s)\n",
                       (unsigned long long)jint(r, "written"), port, abs,
                       json_string_value(json_object_get(r, "ended")));
                if (dropped)
                    printf("%llu more frames were not copied: they came faster "
                           "than vfabd writes the file (the port's traffic was "
                           "not affected; capture fewer with -c, or filter "
                           "less busy ports)\n", (unsigned long long)dropped);
            }
            json_decref(resp);
            break;
        }
        json_decref(resp);
        method = g_interrupted ? "capture_stop" : "capture_status";
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    json_decref(params);
    json_decref(empty);
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (vfabctl_store_wanted(argc, argv))
        return vfabctl_store_main(argc, argv);   /* vfabctl_store.c */
    const char *sock = getenv("VFAB_SOCKET");
    int as_json = 0;
    static const struct option opts[] = {
        {"socket", required_argument, 0, 's'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's': sock = optarg; break;
        case 'j': as_json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    char sockbuf[256], perr[512];
    if (!sock && vf_ctl_default_path(false, sockbuf, sizeof(sockbuf), perr,
                                     sizeof(perr)) != 0) {
        fprintf(stderr, "vfabctl: %s\n", perr);
        return 3;
    }
    if (!sock)
        sock = sockbuf;
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    int nargs = argc - optind - 1;
    char **args = argv + optind + 1;
    json_t *params = NULL;
    const char *method = cmd;
    double watch = 0;

    if (!strcmp(cmd, "status") || !strcmp(cmd, "show") || !strcmp(cmd, "flows")) {
        params = json_object();
    } else if (!strcmp(cmd, "stats")) {
        params = json_object();
        /* stats [--watch [SECONDS]]; anything else is refused, so that a
         * misplaced option (`stats --json`) is not taken for --watch. */
        if (nargs >= 1 && strcmp(args[0], "--watch")) {
            fprintf(stderr, "vfabctl: stats: unknown argument '%s' (usage: stats "
                    "[--watch [SECONDS]]; --json goes before the command)\n", args[0]);
            json_decref(params);
            return 2;
        }
        if (nargs >= 1) {
            char *end = NULL;
            watch = nargs >= 2 ? strtod(args[1], &end) : 1.0;
            if (nargs > 2 || (nargs == 2 && (*end || watch < 0.1 || watch > 3600))) {
                fprintf(stderr, "vfabctl: stats --watch: SECONDS must be a number "
                        "from 0.1 to 3600 (got '%s')\n", nargs >= 2 ? args[1] : "");
                json_decref(params);
                return 2;
            }
        }
    } else if (!strcmp(cmd, "trace")) {
        if (nargs < 1) {
            fprintf(stderr, "vfabctl: trace needs a logical port name\n");
            return 2;
        }
        params = trace_params(nargs, args);
        if (!params)
            return 2;
    } else if (!strcmp(cmd, "conntrack")) {
        params = conntrack_params(nargs, args, &method, &as_json);
        if (!params)
            return 2;
    } else if (!strcmp(cmd, "add") || !strcmp(cmd, "del")) {
        if (nargs < 1) {
            fprintf(stderr, "vfabctl: %s needs a KIND (see vfabctl --help)\n", cmd);
            return 2;
        }
        params = vfabctl_edit_params(!strcmp(cmd, "add"), nargs, args);
        if (!params)
            return 2;
    } else if (!strcmp(cmd, "list")) {
        if (nargs != 1) {
            fprintf(stderr, "vfabctl: list needs one KIND (see vfabctl --help)\n");
            return 2;
        }
        params = json_pack("{s:s}", "kind", args[0]);
    } else if (!strcmp(cmd, "apply")) {
        params = apply_params(nargs, args);
        if (!params)
            return 2;
        rpc_timeout_ms = APPLY_TIMEOUT_MS;
    } else if (!strcmp(cmd, "capture")) {
        /* capture_cmd parses its own arguments. */
    } else if (!strcmp(cmd, "call")) {
        if (nargs < 1) {
            fprintf(stderr, "vfabctl: call needs a METHOD\n");
            return 2;
        }
        method = args[0];
        if (nargs >= 2) {
            json_error_t e;
            params = json_loads(args[1], 0, &e);
            if (!params) {
                fprintf(stderr, "vfabctl: call: params are not JSON: %s\n", e.text);
                return 2;
            }
        } else {
            params = json_object();
        }
    } else {
        fprintf(stderr, "vfabctl: unknown command '%s' (see vfabctl --help)\n", cmd);
        return 2;
    }

    if (!strcmp(cmd, "capture"))
        return capture_cmd(sock, nargs, args, as_json);
    int fd = rpc_connect(sock);
    if (fd < 0) {
        json_decref(params);
        return 3;
    }
    int rc = 0;
    for (unsigned round = 0;; round++) {
        json_t *resp = rpc_call(fd, method, params);
        if (!resp) {
            rc = 3;
            break;
        }
        json_t *err = json_object_get(resp, "error");
        if (err) {
            fprintf(stderr, "vfabctl: %s: %s\n", method,
                    json_string_value(json_object_get(err, "message")));
            json_decref(resp);
            rc = 1;
            break;
        }
        json_t *result = json_object_get(resp, "result");
        if (watch > 0 && !as_json)
            printf("\033[H\033[J");   /* clear screen for the live view */
        if (as_json || !strcmp(cmd, "call") || !strcmp(cmd, "show") ||
            !strcmp(cmd, "flows")) {
            char *t = json_dumps(result, JSON_INDENT(2) | JSON_SORT_KEYS);
            printf("%s\n", t);
            free(t);
        } else if (!strcmp(cmd, "status")) {
            print_status(result);
        } else if (!strcmp(cmd, "stats")) {
            print_stats(result);
        } else if (!strcmp(cmd, "trace")) {
            print_trace(result);
        } else if (!strcmp(method, "conntrack")) {
            print_conntrack(result);
        } else if (!strcmp(method, "conntrack_flush")) {
            printf("%" PRIu64 " connections flushed\n", jint(result, "flushed"));
        } else if (!strcmp(cmd, "list")) {
            vfabctl_print_list(args[0], result);
        } else if (!strcmp(cmd, "add") || !strcmp(cmd, "del") ||
                   !strcmp(cmd, "apply")) {
            print_change(result);
        }
        fflush(stdout);
        json_decref(resp);
        if (watch <= 0)
            break;
        struct timespec ts = {(time_t)watch, (long)((watch - (time_t)watch) * 1e9)};
        nanosleep(&ts, NULL);
    }
    json_decref(params);
    close(fd);
    return rc;
}
