/* live.c - the live view and the demo summary (vf_live.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/daemon/vf_live.h"

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

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void vf_live_init(struct vf_live *lv, struct vf_daemon *d,
                  struct vf_demo *demo, bool tty)
{
    memset(lv, 0, sizeof(*lv));
    lv->d = d;
    lv->demo = demo;
    lv->tty = tty;
    clock_gettime(CLOCK_MONOTONIC, &lv->at);
}

/* One line per worker, then one for the demo; redrawn in place on a tty. */
void vf_live_print(struct vf_live *lv)
{
    struct vf_daemon *d = lv->d;
    struct vf_demo *g = lv->demo;
    bool tty = lv->tty;
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


uint64_t vf_demo_summary(struct vf_demo *g, struct vf_daemon *d)
{
    uint64_t viol = ld(&g->stats.isolation_violations);
    uint64_t delivered = 0;
    struct vf_port_stats up;

    for (unsigned t = 0; t < VF_DEMO_MAX_TENANTS; t++)
        delivered += ld(&g->stats.delivered[t]);
    vf_port_stats_sum(d->uplink, &up);
    printf("demo summary: %" PRIu64 " frames sent, %" PRIu64 " delivered to VMs "
           "(%" PRIu64 " from other chassis), %" PRIu64 " ARP replies, %" PRIu64
           " tunnelled to other chassis, %" PRIu64 " isolation violations\n",
           ld(&g->stats.sent), delivered, ld(&g->stats.from_remote),
           ld(&g->stats.arp_replies), up.tx_pkts, viol);
    return viol;
}
