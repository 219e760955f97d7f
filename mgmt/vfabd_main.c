/* vfabd - the vfab forwarder: loads the desired state, starts pinned
 * workers and serves the control socket until SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fabric/vf_port_tap.h"
#include "mgmt/daemon/vf_capture_mgmt.h"
#include "mgmt/rpc/vf_ctl.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_demo.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_metrics.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/daemon/vf_perfconfig.h"
#include "mgmt/rpc/vf_rpc.h"
#include "mgmt/daemon/vf_state.h"
#include "numa/vf_drop.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: vfabd -c FILE [-p PERFCONFIG] [-s SOCKET] [--check] [--demo] [--duration SECONDS]\n"
"\n"
"vfab's forwarder: runs this chassis' part of the tenants' logical networks\n"
"(desired state in FILE, YAML; see docs/config.md) on pinned, NUMA-aware\n"
"workers, and serves vfabctl on a Unix control socket.\n"
"\n"
"Options:\n"
"  -c, --config FILE     desired state (required)\n"
"  -p, --perf FILE       tuning knobs (perf config, YAML; see perf/configs/ and\n"
"                        docs/perf.md): workers, burst, rings, pools, flow cache,\n"
"                        io_uring variant, idle polls. Options given on the\n"
"                        command line (--idle-polls) win over the file\n"
"  -s, --socket PATH     control socket (default %s, or\n"
"                        $XDG_RUNTIME_DIR/vfabd.sock / /tmp/vfabd-UID.sock when\n"
"                        that directory cannot be created)\n"
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
"      --version         print the version\n", VF_CTL_DEFAULT_SOCKET);
}

static const char *default_socket(char *buf, size_t len)
{
    if (mkdir("/run/vfab", 0750) == 0 || errno == EEXIST) {
        if (access("/run/vfab", W_OK) == 0)
            return VF_CTL_DEFAULT_SOCKET;
    }
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && access(xdg, W_OK) == 0)
        snprintf(buf, len, "%s/vfabd.sock", xdg);
    else
        snprintf(buf, len, "/tmp/vfabd-%u.sock", (unsigned)getuid());
    return buf;
}

static double fmt_rate(double v, const char **unit)
{
    if (v >= 1e6) {
        *unit = "M";
        return v / 1e6;
    }
    if (v >= 1e3) {
        *unit = "k";
        return v / 1e3;
    }
    *unit = "";
    return v;
}

struct live {
    uint64_t rx[VF_MAX_WORKERS], tx[VF_MAX_WORKERS];
    uint64_t busy[VF_MAX_WORKERS], idle[VF_MAX_WORKERS];
    uint64_t drops[VF_MAX_WORKERS][VF_DROP__COUNT];
    uint64_t delivered[VF_DEMO_MAX_TENANTS], sent, tunnelled, arp;
    struct timespec at;
    unsigned lines;
};

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* One line per worker, then one for the demo; redrawn in place on a tty. */
static void live_print(struct vf_daemon *d, struct vf_demo *g, struct live *lv,
                       bool tty)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - lv->at.tv_sec) +
                (double)(now.tv_nsec - lv->at.tv_nsec) / 1e9;
    if (dt <= 0)
        return;
    if (tty && lv->lines)
        printf("\033[%uA", lv->lines);
    unsigned lines = 0;
    const char *u1, *u2;
    const char *clr = tty ? "\033[2K" : "";   /* erase the old line */
    for (unsigned w = 0; w < d->n_workers; w++) {
        struct vf_worker *wk = &d->workers[w];
        uint64_t rx = ld(&wk->stats.rx_pkts), tx = ld(&wk->stats.tx_pkts);
        uint64_t busy = ld(&wk->stats.busy_tsc), idle = ld(&wk->stats.idle_tsc);
        double rxr = fmt_rate((double)(rx - lv->rx[w]) / dt, &u1);
        double txr = fmt_rate((double)(tx - lv->tx[w]) / dt, &u2);
        uint64_t db = busy - lv->busy[w], di = idle - lv->idle[w];
        printf("%sworker %u cpu %d node %d%s | rx %6.2f %spps tx %6.2f %spps | busy %3.0f%% | drops/s:",
               clr, w, wk->cpu, wk->numa_node, atomic_load(&d->pinned[w]) ? "" : " (unpinned)",
               rxr, u1, txr, u2, db + di ? 100.0 * (double)db / (double)(db + di) : 0.0);
        unsigned shown = 0;
        for (unsigned r = 1; r < VF_DROP__COUNT; r++) {
            uint64_t v = ld(&wk->stats.drops[r]);
            if (v > lv->drops[w][r]) {
                const char *u;
                double rate = fmt_rate((double)(v - lv->drops[w][r]) / dt, &u);
                printf(" %s %.1f%s", vf_drop_name(r), rate, u);
                shown++;
            }
            lv->drops[w][r] = v;
        }
        printf("%s\n", shown ? "" : " none");
        lv->rx[w] = rx;
        lv->tx[w] = tx;
        lv->busy[w] = busy;
        lv->idle[w] = idle;
        lines++;
    }
    if (g) {
        struct vf_port_stats up;
        vf_port_stats_sum(d->uplink, &up);
        uint64_t sent = ld(&g->stats.sent), tun = up.tx_pkts;
        uint64_t arp = ld(&g->stats.arp_replies);
        const char *us, *ut, *ua;
        double sr = fmt_rate((double)(sent - lv->sent) / dt, &us);
        double tr = fmt_rate((double)(tun - lv->tunnelled) / dt, &ut);
        double ar = fmt_rate((double)(arp - lv->arp) / dt, &ua);
        printf("%sdemo: sent %.2f %spps | delivered", clr, sr, us);
        for (size_t t = 0; t < d->model.n_tenants && t < VF_DEMO_MAX_TENANTS; t++) {
            uint64_t v = ld(&g->stats.delivered[t]);
            const char *u;
            double r = fmt_rate((double)(v - lv->delivered[t]) / dt, &u);
            printf(" %s %.2f %spps", d->model.tenants[t].name, r, u);
            lv->delivered[t] = v;
        }
        printf(" | arp replies %.1f%s/s | underlay tx %.2f %spps | from other chassis %" PRIu64 " | isolation violations %" PRIu64 "\n",
               ar, ua, tr, ut, ld(&g->stats.from_remote),
               ld(&g->stats.isolation_violations));
        lv->sent = sent;
        lv->tunnelled = tun;
        lv->arp = arp;
        lines++;
    }
    if (!tty)
        printf("\n");
    fflush(stdout);
    lv->lines = lines;
    lv->at = now;
}

/* A tap deleted under us is reported once; `vfabctl apply` brings it back. */
static void report_lost_ports(struct vf_daemon *d)
{
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !dp->mq_rx || dp->reported_gone ||
            !vf_tap_port_gone(dp->port))
            continue;
        dp->reported_gone = true;
        vf_log_warn("port %s: tap device %s disappeared; its traffic "
                "is dropped (counted in rx_errors) until the device is back and "
                "the state is re-applied (vfabctl apply FILE)", dp->name,
                dp->mport ? dp->mport->attach.name : "?");
    }
}

int main(int argc, char **argv)
{
    const char *config = NULL, *sock = NULL, *state_dir = NULL, *perf = NULL;
    int idle_given = 0, fixed_spin = 0;
    int check = 0, demo = 0, quiet = 0, verbose = 0, use_syslog = 0;
    const char *metrics_addr = NULL;
    double duration = 0;
    long long demo_count = -1;
    const char *demo_stall = NULL;
    struct vf_daemon_opts dopts = {.idle_polls = 1024};
    enum { OPT_CHECK = 256, OPT_DEMO, OPT_DURATION, OPT_IDLE, OPT_FIXED_SPIN, OPT_VERSION,
           OPT_DEMO_COUNT, OPT_DEMO_STALL, OPT_STATE_DIR, OPT_METRICS, OPT_SYSLOG,
           OPT_CT_MAX, OPT_CT_ZONE_MAX };
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
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "c:p:s:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 's': sock = optarg; break;
        case 'p': perf = optarg; break;
        case 'q': quiet = 1; break;
        case 'v': verbose = 1; break;
        case OPT_SYSLOG: use_syslog = 1; break;
        case OPT_METRICS: metrics_addr = optarg; break;
        case OPT_CHECK: check = 1; break;
        case OPT_DEMO: demo = 1; break;
        case OPT_DURATION:
            duration = strtod(optarg, &end);
            if (*end || duration < 0) {
                vf_log_error("--duration wants seconds >= 0, got '%s'", optarg);
                return 2;
            }
            break;
        case OPT_STATE_DIR: state_dir = optarg; break;
        case OPT_DEMO_STALL: demo_stall = optarg; demo = 1; break;
        case OPT_DEMO_COUNT:
            demo_count = strtoll(optarg, &end, 10);
            if (*end || demo_count < 0) {
                vf_log_error("--demo-count wants a number >= 0, got '%s'", optarg);
                return 2;
            }
            demo = 1;
            break;
        case OPT_IDLE:
            dopts.idle_polls = (unsigned)strtoul(optarg, &end, 10);
            idle_given = 1;
            if (*end || !*optarg || optarg[0] == '-' ||
                strtoul(optarg, NULL, 10) > 100000000ul) {
                vf_log_error("--idle-polls wants a number 0..100000000, got '%s'", optarg);
                return 2;
            }
            break;
        case OPT_FIXED_SPIN:
            fixed_spin = 1;
            break;
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
                dopts.ct_zone_max = (unsigned)v;
            else if (v == 0)
                dopts.no_conntrack = true;
            else
                dopts.ct_max_conns = (unsigned)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("vfabd %s\n", VF_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    vf_log_open("vfabd", use_syslog, verbose ? VF_LOG_DEBUG : VF_LOG_INFO);
    if (!config) {
        vf_log_error("the desired state is required: vfabd -c FILE (see --help)");
        return 2;
    }
    if (optind < argc) {
        vf_log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return 2;
    }

    char err[2048] = "";
    struct vf_model model = {0};
    int rc;
    if (perf) {
        /* Before the state: a bad tuning file costs nothing to refuse. */
        struct vf_perfconfig pc;
        unsigned idle = dopts.idle_polls;
        rc = vf_perfconfig_load(perf, &pc, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "vfabd: %s\n", err);
            return rc == -EINVAL ? 2 : 1;
        }
        vf_perfconfig_to_opts(&pc, &dopts);
        if (idle_given)
            dopts.idle_polls = idle;
    }
    if (fixed_spin)
        dopts.fixed_spin = true;
    rc = vf_config_load(config, &model, err, sizeof(err));
    if (rc) {
        vf_log_error("%s", err);
        return rc == -EINVAL ? 2 : 1;
    }
    if (state_dir && !check) {
        /* The acknowledged state wins over FILE: it holds every change
         * vfabctl was told had been applied. */
        struct vf_model saved = {0};
        rc = vf_state_load(state_dir, &saved, err, sizeof(err));
        if (rc == 0) {
            vf_log_info("restored the acknowledged state from %s/state.json "
                    "(%s only seeds an empty state directory; to move to its "
                    "contents run: vfabctl apply %s)", state_dir, config, config);
            vf_model_free(&model);
            model = saved;
        } else if (rc == -ENOENT) {
            rc = vf_state_save(state_dir, &model, err, sizeof(err));
            if (rc) {
                vf_log_error("--state-dir %s: %s", state_dir, err);
                vf_model_free(&model);
                return 1;
            }
        } else {
            vf_log_error("--state-dir %s: %s", state_dir, err);
            vf_model_free(&model);
            return 1;
        }
    }
    if (check) {
        size_t nports = 0, nsw = 0;
        for (size_t t = 0; t < model.n_tenants; t++) {
            nsw += model.tenants[t].n_switches;
            for (size_t s = 0; s < model.tenants[t].n_switches; s++)
                nports += model.tenants[t].switches[s].n_ports;
        }
        printf("%s: valid (%zu chassis, %zu tenants, %zu switches, %zu ports)\n",
               config, model.n_chassis, model.n_tenants, nsw, nports);
        if (perf)
            printf("%s: valid perf config\n", perf);
        vf_model_free(&model);
        return 0;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char sockbuf[256];
    if (!sock)
        sock = default_socket(sockbuf, sizeof(sockbuf));

    static struct vf_daemon d;
    rc = vf_daemon_start(&d, &model, &dopts, err, sizeof(err));
    if (rc == 0 && state_dir && !check)
        rc = vf_daemon_set_state_dir(&d, state_dir);
    if (rc) {
        vf_log_error("%s", err);
        return 1;
    }
    struct vf_ctl_server *ctl = vf_ctl_open(sock, vf_rpc_methods, &d, err, sizeof(err));
    if (!ctl) {
        vf_log_error("%s", err);
        vf_daemon_stop(&d);
        return 1;
    }
    uint32_t mip = d.model.local.metrics_ip;
    uint16_t mport = d.model.local.metrics_port;
    if (metrics_addr && vf_metrics_parse_addr(metrics_addr, &mip, &mport)) {
        vf_log_error("--metrics wants ADDR:PORT (e.g. 127.0.0.1:9464), got '%s'",
                     metrics_addr);
        vf_ctl_close(ctl);
        vf_daemon_stop(&d);
        return 2;
    }
    struct vf_metrics *metrics = NULL;
    if (mport) {
        metrics = vf_metrics_start(mip, mport, err, sizeof(err));
        if (!metrics) {
            vf_log_error("%s", err);
            vf_ctl_close(ctl);
            vf_daemon_stop(&d);
            return 1;
        }
        vf_metrics_update(metrics, &d);
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &mip, ip, sizeof(ip));
        vf_log_info("metrics at http://%s:%u/metrics", ip, mport);
    }
    char desc[256];
    vf_topo_describe(&d.topo, desc, sizeof(desc));
    vf_log_info("chassis %s, %u workers on %s, %u ports, control socket %s",
            d.model.local.chassis, d.n_workers, desc, d.n_ports, sock);

    static struct vf_demo g;
    bool have_demo = false;
    if (demo) {
        rc = vf_demo_start(&g, &d, demo_count, demo_stall, err, sizeof(err));
        if (rc) {
            vf_log_error("%s", err);
            vf_metrics_stop(metrics);
            vf_ctl_close(ctl);
            vf_daemon_stop(&d);
            return 1;
        }
        have_demo = true;
    }

    struct live lv = {0};
    clock_gettime(CLOCK_MONOTONIC, &lv.at);
    struct timespec start = lv.at, last = lv.at;
    bool tty = isatty(STDOUT_FILENO);
    while (!g_stop) {
        int n = vf_ctl_poll(ctl, 200);
        if (n < 0) {
            vf_log_error("control socket failed: %s", strerror(-n));
            break;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        vf_capture_poll(&d);
        vf_daemon_ct_tick(&d);
        double since_last = (double)(now.tv_sec - last.tv_sec) +
                            (double)(now.tv_nsec - last.tv_nsec) / 1e9;
        if (since_last >= 1.0) {
            if (demo && !quiet)
                live_print(&d, have_demo ? &g : NULL, &lv, tty);
            report_lost_ports(&d);
            vf_metrics_update(metrics, &d);
            last = now;
        }
        double ran = (double)(now.tv_sec - start.tv_sec) +
                     (double)(now.tv_nsec - start.tv_nsec) / 1e9;
        if (duration > 0 && ran >= duration)
            break;
    }

    int exit_code = 0;
    if (have_demo) {
        vf_demo_stop(&g);
        uint64_t viol = ld(&g.stats.isolation_violations);
        uint64_t delivered = 0;
        for (unsigned t = 0; t < VF_DEMO_MAX_TENANTS; t++)
            delivered += ld(&g.stats.delivered[t]);
        struct vf_port_stats up;
        vf_port_stats_sum(d.uplink, &up);
        printf("demo summary: %" PRIu64 " frames sent, %" PRIu64 " delivered to VMs "
               "(%" PRIu64 " from other chassis), %" PRIu64 " ARP replies, %" PRIu64
               " tunnelled to other chassis, %" PRIu64 " isolation violations\n",
               ld(&g.stats.sent), delivered, ld(&g.stats.from_remote),
               ld(&g.stats.arp_replies), up.tx_pkts, viol);
        if (viol)
            exit_code = 1;
    }
    vf_capture_stop(&d);
    vf_metrics_stop(metrics);
    vf_ctl_close(ctl);
    vf_daemon_stop(&d);
    if (have_demo)
        vf_demo_free(&g);
    vf_log_info("stopped");
    vf_log_close();
    return exit_code;
}
