/* vfabd - the vfab forwarder: loads the desired state, starts pinned
 * workers and serves the control socket until a stop signal (SIGTERM,
 * SIGINT, ...; see mgmt/daemon/vf_loop.h).
 *
 * main() is four steps and one unwind path: parse the arguments, load the
 * state to start from, start the daemon and what serves it (control
 * socket, metrics, demo) on the management loop, run the loop; whatever
 * was started is stopped once, in reverse order, at `out`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_gateway.h"
#include "mgmt/daemon/vf_demo.h"
#include "mgmt/daemon/vf_live.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_loop.h"
#include "mgmt/daemon/vf_metrics.h"
#include "mgmt/daemon/vf_perfconfig.h"
#include "mgmt/daemon/vf_state.h"
#include "mgmt/daemon/vf_state_lock.h"
#include "mgmt/daemon/vf_store_source.h"
#include "mgmt/daemon/vf_vhost_mgmt.h"
#include "mgmt/rpc/vf_ctl.h"
#include "mgmt/rpc/vf_ctl_path.h"
#include "mgmt/rpc/vf_rpc.h"

#define CAPTURE_DRAIN_MS 100     /* vf_capture_mgmt.h: at most 200 ms */
#define REFRESH_MS 1000          /* live view, lost ports, metrics page */

struct args {
    const char *config, *sock, *state_dir, *perf, *demo_stall, *store;
    bool check, demo, quiet, verbose, use_syslog, idle_given, fixed_spin;
    bool has_metrics;
    uint32_t metrics_ip;
    uint16_t metrics_port;
    double duration;
    long long demo_count;
    struct vf_daemon_opts dopts;
    char sockbuf[256];
};

/* Everything main starts, so the one unwind path can stop it. */
struct vfabd {
    struct vf_daemon d;
    bool started;
    struct vf_ctl_server *ctl;
    struct vf_metrics *metrics;
    struct vf_demo demo;
    bool have_demo;
    struct vf_live live;
    struct vf_loop loop;
    struct vf_store_src *store;  /* --store / local.store; NULL: the file */
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: vfabd -c FILE [-p PERFCONFIG] [-s SOCKET] [--check] [--demo] [--duration SECONDS]\n"
"       vfabd -c LOCAL.yaml --store URL[,URL...] [--state-dir DIR] ...\n"
"\n"
"vfab's forwarder: runs this chassis' part of the tenants' logical networks\n"
"(desired state in FILE, YAML; see docs/config.md) on pinned, NUMA-aware\n"
"workers, and serves vfabctl on a Unix control socket.\n"
"\n"
"Options:\n"
"  -c, --config FILE     desired state (required); with --store only this\n"
"                        host's local: section\n"
"      --store URLS      take the fabric from etcd (URL[,URL...], e.g.\n"
"                        http://10.0.0.1:2379; or local.store in FILE): list,\n"
"                        watch, register this chassis on a lease; see\n"
"                        docs/store.md. Edits go through vfabctl --store\n"
"  -p, --perf FILE       tuning knobs (perf config, YAML; see perf/configs/ and\n"
"                        docs/perf.md): workers, burst, rings, pools, flow cache,\n"
"                        io_uring variant, idle polls. Options given on the\n"
"                        command line (--idle-polls) win over the file\n"
"  -s, --socket PATH     control socket (default for root %s;\n"
"                        for other users a private 0700 directory of their\n"
"                        own: $XDG_RUNTIME_DIR/vfab/vfabd.sock, else\n"
"                        /tmp/vfab-UID/vfabd.sock; vfabctl finds the same)\n"
"      --state-dir DIR   keep the acknowledged state durably in DIR/state.json:\n"
"                        every accepted change (vfabctl add/del/apply) is written\n"
"                        and fsync'd before it is acknowledged, and a restart\n"
"                        (even after kill -9) comes back with it; FILE only seeds\n"
"                        DIR the first time. Off by default; the systemd unit\n"
"                        uses /var/lib/vfab\n"
"      --check           validate FILE and exit: 0 valid, 2 invalid (the error\n"
"                        names the entry and field)\n"
"      --demo            generate tenant traffic on the in-memory ring ports and\n"
"                        show a live line per worker (packets/s, drops by\n"
"                        reason, core and NUMA node)\n"
"      --demo-count N    with --demo: send N frames, then only receive and\n"
"                        check (0 = receive only; default: send until stopped)\n"
"      --demo-stall PORT with --demo: never read ring port PORT (a VM that\n"
"                        stopped reading; it holds at most its tx budget)\n"
"      --duration N      stop after N seconds (0 = until Ctrl-C; default 0)\n"
"      --ct-max-conns N  connections the host tracks for stateful ACLs (default\n"
"                        262144, about 70 MB; 0: no connection tracking)\n"
"      --ct-zone-max N   connections each port may have (default: no limit)\n"
"      --idle-polls N    empty polls before a worker sleeps (default 1024;\n"
"                        0 = busy polling); a worker whose CPU is shared\n"
"                        spins less, down to 16, unless --fixed-spin\n"
"      --fixed-spin      always spin --idle-polls before sleeping\n"
"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                        (overrides local.metrics; off by default)\n"
"      --syslog          log to syslog (daemon facility) instead of stderr\n"
"  -v, --verbose         log debug messages too\n"
"  -q, --quiet           no live output\n"
"  -h, --help            this help\n"
"      --version         print the version\n", VF_CTL_SYSTEM_SOCKET);
}

/* 0 = go on, else the exit code (help and version exit 0). */
static int parse_args(int argc, char **argv, struct args *a)
{
    enum { OPT_CHECK = 256, OPT_DEMO, OPT_DURATION, OPT_IDLE, OPT_FIXED_SPIN,
           OPT_VERSION, OPT_DEMO_COUNT, OPT_DEMO_STALL, OPT_STATE_DIR,
           OPT_METRICS, OPT_SYSLOG, OPT_CT_MAX, OPT_CT_ZONE_MAX, OPT_STORE };
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'},
        {"socket", required_argument, 0, 's'},
        {"perf", required_argument, 0, 'p'},
        {"check", no_argument, 0, OPT_CHECK},
        {"demo", no_argument, 0, OPT_DEMO},
        {"duration", required_argument, 0, OPT_DURATION},
        {"demo-count", required_argument, 0, OPT_DEMO_COUNT},
        {"demo-stall", required_argument, 0, OPT_DEMO_STALL},
        {"state-dir", required_argument, 0, OPT_STATE_DIR},
        {"store", required_argument, 0, OPT_STORE},
        {"idle-polls", required_argument, 0, OPT_IDLE},
        {"fixed-spin", no_argument, 0, OPT_FIXED_SPIN},
        {"metrics", required_argument, 0, OPT_METRICS},
        {"syslog", no_argument, 0, OPT_SYSLOG},
        {"ct-max-conns", required_argument, 0, OPT_CT_MAX},
        {"ct-zone-max", required_argument, 0, OPT_CT_ZONE_MAX},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    const char *metrics = NULL;
    char *end;
    int c;

    a->dopts.idle_polls = 1024;
    a->demo_count = -1;
    while ((c = getopt_long(argc, argv, "c:p:s:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 's': a->sock = optarg; break;
        case 'p': a->perf = optarg; break;
        case 'q': a->quiet = true; break;
        case 'v': a->verbose = true; break;
        case OPT_SYSLOG: a->use_syslog = true; break;
        case OPT_METRICS: metrics = optarg; break;
        case OPT_CHECK: a->check = true; break;
        case OPT_DEMO: a->demo = true; break;
        case OPT_DURATION:
            a->duration = strtod(optarg, &end);
            if (*end || a->duration < 0) {
                vf_log_error("--duration wants seconds >= 0, got '%s'", optarg);
                return 2;
            }
            break;
        case OPT_STATE_DIR: a->state_dir = optarg; break;
        case OPT_STORE: a->store = optarg; break;
        case OPT_DEMO_STALL: a->demo_stall = optarg; a->demo = true; break;
        case OPT_DEMO_COUNT:
            a->demo_count = strtoll(optarg, &end, 10);
            if (*end || a->demo_count < 0) {
                vf_log_error("--demo-count wants a number >= 0, got '%s'",
                             optarg);
                return 2;
            }
            a->demo = true;
            break;
        case OPT_IDLE:
            a->dopts.idle_polls = (unsigned)strtoul(optarg, &end, 10);
            a->idle_given = true;
            if (*end || !*optarg || optarg[0] == '-' ||
                strtoul(optarg, NULL, 10) > 100000000ul) {
                vf_log_error("--idle-polls wants a number 0..100000000, got "
                             "'%s'", optarg);
                return 2;
            }
            break;
        case OPT_FIXED_SPIN: a->fixed_spin = true; break;
        case OPT_CT_MAX:
        case OPT_CT_ZONE_MAX: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !*optarg || optarg[0] == '-' || v > VF_CT_MAX_CONNS) {
                vf_log_error("--%s wants a number 0..%u, got '%s'",
                             c == OPT_CT_MAX ? "ct-max-conns" : "ct-zone-max",
                             VF_CT_MAX_CONNS, optarg);
                return 2;
            }
            if (c == OPT_CT_ZONE_MAX)
                a->dopts.ct_zone_max = (unsigned)v;
            else if (v == 0)
                a->dopts.no_conntrack = true;
            else
                a->dopts.ct_max_conns = (unsigned)v;
            break;
        }
        case 'h': usage(stdout); exit(0);
        case OPT_VERSION: printf("vfabd %s\n", VF_VERSION); exit(0);
        default: usage(stderr); return 2;
        }
    }
    vf_log_open("vfabd", a->use_syslog, a->verbose ? VF_LOG_DEBUG
                                                   : VF_LOG_INFO);
    if (!a->config) {
        vf_log_error("the desired state is required: vfabd -c FILE (see "
                     "--help)");
        return 2;
    }
    if (optind < argc) {
        vf_log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return 2;
    }
    if (metrics) {
        if (vf_metrics_parse_addr(metrics, &a->metrics_ip, &a->metrics_port)) {
            vf_log_error("--metrics wants ADDR:PORT (e.g. 127.0.0.1:9464), "
                         "got '%s'", metrics);
            return 2;
        }
        a->has_metrics = true;
    }
    if (!a->sock && !a->check) {
        char err[512];
        if (vf_ctl_default_path(true, a->sockbuf, sizeof(a->sockbuf), err,
                                sizeof(err)) != 0) {
            vf_log_error("%s", err);
            return 1;
        }
        a->sock = a->sockbuf;
    }
    return 0;
}

/* The perf config's knobs into the daemon options: 0 or the exit code. */
static int load_perf(struct args *a)
{
    struct vf_perfconfig pc;
    char err[2048];
    unsigned idle = a->dopts.idle_polls;
    int rc;

    if (a->perf) {
        /* Before the state: a bad tuning file costs nothing to refuse. */
        rc = vf_perfconfig_load(a->perf, &pc, err, sizeof(err));
        if (rc) {
            vf_log_error("%s", err);
            return rc == -EINVAL ? 2 : 1;
        }
        vf_perfconfig_to_opts(&pc, &a->dopts);
        if (a->idle_given)
            a->dopts.idle_polls = idle;
    }
    if (a->fixed_spin)
        a->dopts.fixed_spin = true;
    return 0;
}

static int store_mode(const struct args *a, struct vf_model *lm);

/* --check: the file (and perf config) valid or not; the exit code. */
static int check_only(const struct args *a)
{
    struct vf_model m = {0};
    char err[2048];
    size_t nports = 0, nsw = 0;
    int rc = store_mode(a, &m);

    if (rc == 1)
        printf("%s: valid local section for chassis %s (the fabric comes from the "
               "store at %s)\n", a->config, m.local.chassis,
               a->store ? a->store : m.local.store.endpoints);
    vf_model_free(&m);
    if (rc)
        return rc == 1 ? 0 : rc;
    rc = vf_config_load(a->config, &m, err, sizeof(err));

    if (rc) {
        vf_log_error("%s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    for (size_t t = 0; t < m.n_tenants; t++) {
        nsw += m.tenants[t].n_switches;
        for (size_t s = 0; s < m.tenants[t].n_switches; s++)
            nports += m.tenants[t].switches[s].n_ports;
    }
    printf("%s: valid (%zu chassis, %zu tenants, %zu switches, %zu ports)\n",
           a->config, m.n_chassis, m.n_tenants, nsw, nports);
    if (a->perf)
        printf("%s: valid perf config\n", a->perf);
    vf_model_free(&m);
    return 0;
}

/* The change to start from (vf_boot_state: the -c file, or the saved
 * state with the file's local). 0 or the exit code. */
static int load_state(const struct args *a, struct vf_change *first)
{
    char err[2048];
    int rc;

    /* One vfabd per state directory, held until exit (vf_state_lock.h):
     * taken before the state is read. */
    if (a->state_dir && vf_state_lock(a->state_dir, err, sizeof(err)) < 0) {
        vf_log_error("%s", err);
        return 1;
    }
    rc = vf_boot_state(a->config, a->state_dir, first, err, sizeof(err));
    if (rc) {
        if (a->state_dir && rc != -EINVAL)
            vf_log_error("--state-dir %s: %s", a->state_dir, err);
        else
            vf_log_error("%s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    return 0;
}

/* ---- the fabric from a store (vf_store_source.h) ---- */

/* Does the fabric come from etcd? --store, or a file of `local:` alone
 * with local.store. 0 no (the ordinary file), 1 yes (*lm holds local),
 * else the exit code. */
static int store_mode(const struct args *a, struct vf_model *lm)
{
    char err[2048];
    int rc = vf_config_load_local(a->config, lm, err, sizeof(err));

    if (rc == 0 && (a->store || lm->local.store.endpoints[0]))
        return 1;
    if (rc == 0 && lm->local.store.given) {
        vf_log_error("%s: local.store has no endpoints: give them there or with "
                     "--store URL[,URL...]", a->config);
        return 2;
    }
    if (0)
        return 1;
    if (rc == 0) {
        vf_log_error("%s holds only a local section: give the store it goes "
                     "with (--store URL or local.store), or the fabric "
                     "(chassis, tenants)", a->config);
        return 2;
    }
    if (a->store) {             /* the fabric in the file too: what to drop */
        vf_log_error("%s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    return 0;
}

/* A file with the fabric and local.store: refused, naming what to drop. */
static int refuse_fabric_with_store(const struct args *a, const struct vf_model *m)
{
    if (!m->local.store.given)
        return 0;
    vf_log_error("%s: local.store is set, so the fabric comes from etcd and this "
                 "file holds only this host's local section: drop 'chassis', "
                 "'tenants' from it (write the fabric with: vfabctl --store URL "
                 "apply FILE)", a->config);
    return 2;
}

/* Store mode: the saved state with this file's local when --state-dir has
 * one (forwarding before the store answers), else the store's fabric
 * (waiting for it). 0 or the exit code. */
static int load_store(const struct args *a, struct vf_model *lm,
                      struct vf_change *first, struct vfabd *v)
{
    struct vf_model saved = {0};
    char err[2048];
    uint64_t rev = 0;
    int rc;

    if (a->state_dir && vf_state_lock(a->state_dir, err, sizeof(err)) < 0) {
        vf_log_error("%s", err);
        return 1;
    }
    rc = vf_store_src_create(&lm->local, a->store, VF_VERSION, &v->store, err,
                             sizeof(err));
    if (rc) {
        vf_log_error("--store: %s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    if (a->state_dir) {
        rc = vf_state_check_dir(a->state_dir, err, sizeof(err));
        if (!rc)
            rc = vf_state_load_rev(a->state_dir, &saved, &rev, err, sizeof(err));
        if (rc && rc != -ENOENT) {
            vf_log_error("--state-dir %s: %s", a->state_dir, err);
            return rc == -EINVAL ? 2 : 1;
        }
        if (!rc) {
            saved.has_local = true;
            saved.local = lm->local;
            rc = vf_model_validate(&saved, err, sizeof(err));
            if (rc) {
                vf_log_error("%s: its local section does not fit the saved state "
                             "in %s: %s", a->config, a->state_dir, err);
                vf_model_free(&saved);
                return 2;
            }
            vf_log_info("forwarding from the saved state in %s (store revision "
                        "%llu) until the store at %s answers", a->state_dir,
                        (unsigned long long)rev, vf_store_src_endpoints(v->store));
            *first = (struct vf_change){ .origin = VF_ORIGIN_STATE,
                                         .source = "the saved state",
                                         .revision = rev, .model = saved,
                                         .validated = true };
            return 0;
        }
    }
    rc = vf_store_src_first(v->store, &lm->local, first, err, sizeof(err));
    if (rc) {
        vf_log_error("%s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    return 0;
}

/* ---- what the loop runs ---- */

static unsigned ctl_fds(void *arg, struct pollfd *pfd, unsigned max)
{
    return vf_ctl_fds(arg, pfd, max);
}

static int ctl_ready(void *arg, const struct pollfd *pfd, unsigned n)
{
    int rc = vf_ctl_serve(arg, pfd, n);
    return rc < 0 ? rc : 0;
}

/* Partial requests' read deadlines: a stalled client makes no event. */
static void ctl_tick(void *arg)
{
    vf_ctl_tick(arg);
}

static void capture_tick(void *arg)
{
    vf_capture_poll(arg);
}

static void ct_tick(void *arg)
{
    vf_daemon_ct_tick(arg);
}

static void refresh_tick(void *arg)
{
    struct vfabd *v = arg;

    if (v->live.d)
        vf_live_print(&v->live);
    vf_daemon_report_lost(&v->d);
    vf_metrics_update(v->metrics, &v->d);
}

static void duration_up(void *arg)
{
    vf_loop_stop(arg, "--duration is up");
}

/* Starts the daemon and everything that serves it, and registers them on
 * the loop. 0 or the exit code; what started is in v for the unwind. */
static int start(struct args *a, struct vf_change *first, struct vfabd *v)
{
    struct vf_apply_result res;
    char err[2048], desc[256], ip[INET_ADDRSTRLEN];
    uint32_t mip;
    uint16_t mport;
    int rc;

    rc = vf_loop_init(&v->loop, true);
    if (rc) {
        vf_log_error("cannot watch signals: %s", strerror(-rc));
        return 1;
    }
    a->dopts.config = a->config;
    rc = vf_daemon_up(&v->d, &first->model, &a->dopts, err, sizeof(err));
    if (rc) {
        vf_log_error("%s", err);
        return 1;
    }
    v->started = true;
    if (a->state_dir && vf_daemon_set_state_dir(&v->d, a->state_dir)) {
        vf_log_error("--state-dir %s: path too long", a->state_dir);
        return 1;
    }
    /* The first state goes the way every later one does. */
    rc = vf_apply(&v->d, first, &res, err, sizeof(err));
    json_decref(res.diff);
    if (rc) {
        if (res.step == VF_APPLY_SAVE && a->state_dir)
            vf_log_error("--state-dir %s: %s", a->state_dir, err);
        else
            vf_log_error("%s", err);
        return 1;
    }
    if (v->store) {
        rc = vf_store_src_start(v->store, &v->d, &v->loop, err, sizeof(err));
        if (rc) {
            vf_log_error("%s", err);
            return 1;
        }
    }
    v->ctl = vf_ctl_open(a->sock, vf_rpc_methods, &v->d, err, sizeof(err));
    if (!v->ctl) {
        vf_log_error("%s", err);
        return 1;
    }
    mip = a->has_metrics ? a->metrics_ip : v->d.model.local.metrics_ip;
    mport = a->has_metrics ? a->metrics_port : v->d.model.local.metrics_port;
    if (mport) {
        v->metrics = vf_metrics_start(mip, mport, err, sizeof(err));
        if (!v->metrics) {
            vf_log_error("%s", err);
            return 1;
        }
        vf_metrics_update(v->metrics, &v->d);
        inet_ntop(AF_INET, &mip, ip, sizeof(ip));
        vf_log_info("metrics at http://%s:%u/metrics", ip, mport);
    }
    vf_topo_describe(&v->d.topo, desc, sizeof(desc));
    vf_log_info("chassis %s, %u workers on %s, %u ports, control socket %s",
                v->d.model.local.chassis, v->d.n_workers, desc,
                v->d.n_ports, a->sock);
    if (a->demo) {
        rc = vf_demo_start(&v->demo, &v->d, a->demo_count, a->demo_stall,
                           err, sizeof(err));
        if (rc) {
            vf_log_error("%s", err);
            return 1;
        }
        v->have_demo = true;
        if (!a->quiet)
            vf_live_init(&v->live, &v->d, &v->demo, isatty(STDOUT_FILENO));
    }
    if (vf_loop_add_source(&v->loop, "control socket", ctl_fds, ctl_ready,
                           v->ctl) ||
        vf_loop_add_timer(&v->loop, "control socket deadlines", VF_CTL_TICK_MS,
                          ctl_tick, v->ctl) ||
        vf_loop_add_timer(&v->loop, "capture", CAPTURE_DRAIN_MS,
                          capture_tick, &v->d) ||
        vf_loop_add_timer(&v->loop, "conntrack", VF_DAEMON_CT_RECLAIM_MS,
                          ct_tick, &v->d) ||
        vf_loop_add_timer(&v->loop, "refresh", REFRESH_MS, refresh_tick, v) ||
        vf_vhost_mgmt_register(&v->loop, &v->d) ||
        vf_loop_add_timer(&v->loop, "gateway", VF_GW_TICK_MS, vf_gw_tick,
                          &v->d) ||
        (a->duration > 0 &&
         vf_loop_add_timer(&v->loop, "duration",
                           (unsigned)(a->duration * 1000.0), duration_up,
                           &v->loop))) {
        vf_log_error("internal: the management loop is full");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct args a;
    static struct vfabd v;
    struct vf_change first = {0};
    struct vf_model local = {0};
    int code, rc;

    v.loop.sig_fd = -1;         /* nothing to close until vf_loop_init */
    code = parse_args(argc, argv, &a);
    if (code)
        return code;
    code = load_perf(&a);
    if (code)
        return code;
    if (a.check)
        return check_only(&a);
    code = store_mode(&a, &local);
    if (code == 1)
        code = load_store(&a, &local, &first, &v);
    else if (code == 0 && (code = load_state(&a, &first)) == 0)
        code = refuse_fabric_with_store(&a, &first.model);
    if (code)
        goto out;
    /* Before any thread starts, so every thread inherits the mask and
     * only the loop's signalfd sees the signals. */
    rc = vf_loop_block_signals();
    if (rc) {
        vf_log_error("cannot block signals: %s", strerror(-rc));
        code = 1;
        goto out;
    }
    code = start(&a, &first, &v);
    if (code)
        goto out;
    if (vf_loop_run(&v.loop))
        code = 1;

out:
    if (v.have_demo) {
        vf_demo_stop(&v.demo);
        if (vf_demo_summary(&v.demo, &v.d))
            code = code ? code : 1;
    }
    if (v.started)
        vf_capture_stop(&v.d);
    vf_metrics_stop(v.metrics);
    vf_ctl_close(v.ctl);
    v.d.store = NULL;
    vf_store_src_destroy(v.store);      /* revokes its lease: the others drop it */
    if (v.started)
        vf_daemon_stop(&v.d);
    if (v.have_demo)
        vf_demo_free(&v.demo);
    vf_loop_fini(&v.loop);
    vf_change_free(&first);
    vf_model_free(&local);
    if (v.started)
        vf_log_info("stopped");
    vf_log_close();
    return code;
}
