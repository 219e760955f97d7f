/* vfabctl - the operator's CLI: one JSON-RPC 2.0 request to vfabd's control
 * socket, answer printed for people (default) or as stable JSON (--json). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mgmt/vf_ctl.h"

#define RPC_TIMEOUT_MS 30000

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
"  trace PORT [FIELD=VALUE...] run a synthetic packet from logical port PORT\n"
"                             through the pipeline and print each stage's\n"
"                             decision. Fields: eth_src eth_dst ip_src ip_dst\n"
"                             proto (tcp|udp|icmp|N) sport dport ttl arp_op\n"
"                             (request|reply|N); unset fields take the port's\n"
"                             own addresses\n"
"  call METHOD [JSON-PARAMS]  send any method (for scripts and debugging)\n"
"\n"
"Options:\n"
"  -s, --socket PATH   control socket (default $VFAB_SOCKET or %s)\n"
"  -j, --json          print the raw JSON result (stable, for scripts)\n"
"  -h, --help          this help\n"
"\n"
"Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
"3 cannot reach the daemon.\n", VF_CTL_DEFAULT_SOCKET);
}

static int rpc_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vfabctl: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr,
                "vfabctl: cannot connect to vfabd at %s: %s\n"
                "  is vfabd running? (start it with: vfabd -c STATE.yaml -s %s)\n",
                path, strerror(errno), path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Sends one request and returns the parsed response (new reference). */
static json_t *rpc_call(int fd, const char *method, json_t *params)
{
    static int next_id = 1;
    json_t *req = json_pack("{s:s, s:i, s:s, s:O}", "jsonrpc", "2.0", "id",
                            next_id++, "method", method, "params", params);
    char *txt = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t len = strlen(txt);
    txt[len] = '\0';
    int ok = 1;
    for (size_t off = 0; off < len && ok;) {
        ssize_t n = send(fd, txt + off, len - off, MSG_NOSIGNAL);
        if (n < 0)
            ok = 0;
        else
            off += (size_t)n;
    }
    ok = ok && send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
    free(txt);
    if (!ok) {
        fprintf(stderr, "vfabctl: sending request failed: %s\n", strerror(errno));
        return NULL;
    }
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, RPC_TIMEOUT_MS) <= 0) {
            fprintf(stderr, "vfabctl: no answer from vfabd within %d s\n",
                    RPC_TIMEOUT_MS / 1000);
            free(buf);
            return NULL;
        }
        if (got + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0) {
            fprintf(stderr, "vfabctl: vfabd closed the connection\n");
            free(buf);
            return NULL;
        }
        got += (size_t)n;
        char *nl = memchr(buf, '\n', got);
        if (nl) {
            json_error_t e;
            json_t *resp = json_loadb(buf, (size_t)(nl - buf), 0, &e);
            free(buf);
            if (!resp)
                fprintf(stderr, "vfabctl: bad answer from vfabd: %s\n", e.text);
            return resp;
        }
    }
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
    printf("%-7s %5s %5s %7s %8s %12s %12s %7s\n", "worker", "cpu", "node",
           "pinned", "rx_queues", "rx_pkts", "tx_pkts", "busy%");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(r, "workers"), i, w) {
        printf("%-7" PRIu64 " %5" PRId64 " %5" PRId64 " %7s %8" PRIu64 " %12" PRIu64 " %12" PRIu64 " %6.1f%%\n",
               jint(w, "id"), (int64_t)json_integer_value(json_object_get(w, "cpu")),
               (int64_t)json_integer_value(json_object_get(w, "numa_node")),
               json_is_true(json_object_get(w, "pinned")) ? "yes" : "no",
               jint(w, "rx_queues"), jint(w, "rx_pkts"), jint(w, "tx_pkts"),
               100.0 * json_real_value(json_object_get(w, "busy_ratio")));
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
    printf("%-20s %-6s %12s %12s %12s %12s %10s\n", "port", "type", "rx_pkts",
           "rx_bytes", "tx_pkts", "tx_bytes", "tx_drops");
    json_array_foreach(json_object_get(r, "ports"), i, p) {
        printf("%-20s %-6s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %10" PRIu64 "\n",
               json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "type")), jint(p, "rx_pkts"),
               jint(p, "rx_bytes"), jint(p, "tx_pkts"), jint(p, "tx_bytes"),
               jint(p, "tx_drops"));
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

int main(int argc, char **argv)
{
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
    if (!sock)
        sock = VF_CTL_DEFAULT_SOCKET;
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
        if (nargs >= 1 && !strcmp(args[0], "--watch"))
            watch = nargs >= 2 ? atof(args[1]) : 1.0;
        if (watch < 0.1 && nargs >= 1)
            watch = 1.0;
    } else if (!strcmp(cmd, "trace")) {
        if (nargs < 1) {
            fprintf(stderr, "vfabctl: trace needs a logical port name\n");
            return 2;
        }
        params = trace_params(nargs, args);
        if (!params)
            return 2;
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
