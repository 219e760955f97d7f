/* metrics.c - Prometheus text exposition over libmicrohttpd (vf_metrics.h).
 *
 * The text is built on the management thread (vf_metrics_update) and the
 * HTTP thread serves a copy of the latest one; see vf_metrics.h for why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_metrics.h"
#include "numa/vf_drop.h"
#include "numa/vf_heap.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A connection and when its request must be done (vf_metrics.h, Limits). */
struct conn_slot {
    const struct MHD_Connection *c;    /* NULL: free */
    int fd;
    int64_t deadline_ms;               /* INT64_MAX: already shut down */
};

struct vf_metrics {
    struct MHD_Daemon *httpd;
    pthread_mutex_t lock;      /* guards page/page_len: mgmt w, http r */
    char *page;
    size_t page_len;
    /* http: w (connections start, requests end, connections close), mgmt:
     * r and shuts down the late ones; all under conns_lock. A slot's fd is
     * open while the slot holds it: MHD reports a connection closed
     * before it closes the socket. */
    pthread_mutex_t conns_lock;
    struct conn_slot conns[VF_METRICS_MAX_CONNS];
    int64_t last_warned_ms;    /* mgmt only */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a growing text buffer; an allocation failure sticks ---- */

struct tbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void tb_printf(struct tbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tb_printf(struct tbuf *b, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !b->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL,
                          b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap ? b->cap : 16384;
        while (nc <= b->len + (size_t)n)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->failed = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

/* A label value: backslash, double quote and newline are escaped. */
static void tb_label(struct tbuf *b, const char *v)
{
    char esc[2 * 256 + 1];
    size_t n = 0;
    for (const char *p = v; *p && n + 2 < sizeof(esc); p++) {
        if (*p == '\\' || *p == '"') {
            esc[n++] = '\\';
            esc[n++] = *p;
        } else if (*p == '\n') {
            esc[n++] = '\\';
            esc[n++] = 'n';
        } else {
            esc[n++] = *p;
        }
    }
    esc[n] = '\0';
    tb_printf(b, "%s", esc);
}

static void family(struct tbuf *b, const char *name, const char *type,
                   const char *help)
{
    tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t ld(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- rendering ---- */

enum port_field { PF_RXP, PF_RXB, PF_TXP, PF_TXB, PF_TXD, PF_RXE, PF_NOBUF,
                  PF__N };

static const struct {
    const char *name, *help;
} port_fams[PF__N] = {
    {"vfab_port_rx_packets_total", "Frames received from the port (from the VM or the underlay)."},
    {"vfab_port_rx_bytes_total", "Bytes received from the port."},
    {"vfab_port_tx_packets_total", "Frames sent on the port (to the VM or the underlay)."},
    {"vfab_port_tx_bytes_total", "Bytes sent on the port."},
    {"vfab_port_tx_drops_total", "Frames the port could not take (tx queue or tx budget full)."},
    {"vfab_port_rx_errors_total", "Receive failures of the port's backend (I/O errors, truncated frames, its device gone); never a shortage of buffers."},
    {"vfab_port_no_buffer_total", "Frames the port lost because a packet pool was empty (received frames, copies for it)."},
};

static uint64_t port_field(const struct vf_port_stats *s, unsigned f)
{
    switch (f) {
    case PF_RXP: return s->rx_pkts;
    case PF_RXB: return s->rx_bytes;
    case PF_TXP: return s->tx_pkts;
    case PF_TXB: return s->tx_bytes;
    case PF_TXD: return s->tx_drops;
    case PF_RXE: return s->rx_errors;
    default: return s->no_buffer;
    }
}

static void render_ports(struct tbuf *b, struct vf_daemon *d)
{
    static struct vf_port_stats st[VF_DAEMON_MAX_PORTS];   /* mgmt only */
    for (unsigned i = 0; i < d->n_ports; i++)
        if (d->ports[i].port)
            vf_port_stats_sum(d->ports[i].port, &st[i]);
    for (unsigned f = 0; f < PF__N; f++) {
        family(b, port_fams[f].name, "counter", port_fams[f].help);
        for (unsigned i = 0; i < d->n_ports; i++) {
            const struct vf_daemon_port *dp = &d->ports[i];
            if (!dp->port)
                continue;
            tb_printf(b, "%s{port=\"", port_fams[f].name);
            tb_label(b, dp->name);
            tb_printf(b, "\",type=\"%s\"} %llu\n", dp->port->ops->type,
                      (unsigned long long)port_field(&st[i], f));
        }
    }
}

enum worker_field { WF_RX, WF_TX, WF_BUSY, WF_IDLE, WF_SLEEPS, WF_HITS,
                    WF_MISSES, WF_EVICT, WF_SPIN_CUTS, WF_SPIN_BUDGET, WF_ICMP_FRAG,
                    WF__N };

static const struct {
    const char *name, *help, *type;
} worker_fams[WF__N] = {
    {"vfab_worker_rx_packets_total", "Packets the worker received.", "counter"},
    {"vfab_worker_tx_packets_total", "Packets the worker sent.", "counter"},
    {"vfab_worker_busy_cycles_total", "TSC cycles in loop iterations that found packets (busy ratio = rate(busy) / (rate(busy) + rate(idle))).", "counter"},
    {"vfab_worker_idle_cycles_total", "TSC cycles in loop iterations that found no packet.", "counter"},
    {"vfab_worker_sleeps_total", "Times the idle worker went to sleep.", "counter"},
    {"vfab_worker_flow_cache_hits_total", "Flow cache lookups that hit.", "counter"},
    {"vfab_worker_flow_cache_misses_total", "Flow cache lookups that missed (the logical pipeline ran).", "counter"},
    {"vfab_worker_flow_cache_evictions_total", "Flow cache entries evicted to make room.", "counter"},
    {"vfab_worker_spin_cuts_total", "Sleeps before which the worker cut its idle spin: it had waited for its CPU (shared).", "counter"},
    {"vfab_worker_spin_budget", "Empty polls the worker spins before its next sleep (adaptive, up to idle_polls).", "gauge"},
    {"vfab_worker_icmp_frag_needed_total", "ICMP fragmentation-needed answers sent to tenants whose packets did not fit a tunnel.", "counter"},
};

static void render_workers(struct tbuf *b, struct vf_daemon *d)
{
    uint64_t v[VF_MAX_WORKERS][WF__N];
    for (unsigned w = 0; w < d->n_workers && w < VF_MAX_WORKERS; w++) {
        const struct vf_worker *wk = &d->workers[w];
        struct vf_flow_cache_stats fc = {0};
        if (wk->fc)
            vf_fc_get_stats(wk->fc, &fc);
        v[w][WF_RX] = ld(&wk->stats.rx_pkts);
        v[w][WF_TX] = ld(&wk->stats.tx_pkts);
        v[w][WF_BUSY] = ld(&wk->stats.busy_tsc);
        v[w][WF_IDLE] = ld(&wk->stats.idle_tsc);
        v[w][WF_SLEEPS] = ld(&wk->stats.sleeps);
        v[w][WF_HITS] = fc.hits;
        v[w][WF_MISSES] = fc.misses;
        v[w][WF_EVICT] = fc.evictions;
        v[w][WF_SPIN_CUTS] = ld(&wk->stats.spin_cuts);
        v[w][WF_SPIN_BUDGET] = ld(&wk->stats.spin_budget);
        v[w][WF_ICMP_FRAG] = ld(&wk->stats.icmp_frag_needed);
    }
    for (unsigned f = 0; f < WF__N; f++) {
        family(b, worker_fams[f].name, worker_fams[f].type, worker_fams[f].help);
        for (unsigned w = 0; w < d->n_workers && w < VF_MAX_WORKERS; w++)
            tb_printf(b, "%s{worker=\"%u\",cpu=\"%d\",numa_node=\"%d\"} %llu\n",
                      worker_fams[f].name, w, d->workers[w].cpu,
                      d->workers[w].numa_node, (unsigned long long)v[w][f]);
    }
}

/* The connection table (security groups); nothing without one. */
static void render_conntrack(struct tbuf *b, struct vf_daemon *d)
{
    if (!d->ct)
        return;
    struct vf_ct_totals t;
    vf_ct_get_stats(d->ct, &t);
    family(b, "vfab_conntrack_connections", "gauge",
           "Tracked connections, by state (TCP states; new/replied for UDP, ICMP and others).");
    for (unsigned s = 0; s < VF_CT_CS__COUNT; s++)
        tb_printf(b, "vfab_conntrack_connections{state=\"%s\"} %lld\n",
                  vf_ct_conn_state_name(s),
                  (long long)(t.conns[s] > 0 ? t.conns[s] : 0));
    family(b, "vfab_conntrack_connections_max", "gauge",
           "Connections the host's table may hold (vfabd --ct-max-conns).");
    tb_printf(b, "vfab_conntrack_connections_max %llu\n",
              (unsigned long long)t.max_conns);
    family(b, "vfab_conntrack_lookups_total", "counter",
           "Packets looked up in the connection table, by the state they had.");
    for (unsigned s = 0; s < VF_CT_STATE__COUNT; s++)
        tb_printf(b, "vfab_conntrack_lookups_total{result=\"%s\"} %llu\n",
                  vf_ct_state_name(s), (unsigned long long)t.by_state[s]);
    family(b, "vfab_conntrack_invalid_total", "counter",
           "Packets conntrack called invalid or untracked, by cause.");
    for (unsigned c = 1; c < VF_CT_WHY__COUNT; c++)
        tb_printf(b, "vfab_conntrack_invalid_total{cause=\"%s\"} %llu\n",
                  vf_ct_cause_name(c), (unsigned long long)t.by_cause[c]);
    const struct { const char *name, *help; uint64_t v; } c[] = {
        {"vfab_conntrack_created_total", "Connections created (committed).", t.created},
        {"vfab_conntrack_expired_total", "Connections that timed out.", t.expired},
        {"vfab_conntrack_flushed_total", "Connections flushed (vfabctl conntrack flush, ports that left).", t.flushed},
        {"vfab_conntrack_table_full_total", "New connections refused: the host's table was full.", t.table_full},
        {"vfab_conntrack_zone_full_total", "New connections refused: the port's max_connections was reached.", t.zone_full},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        family(b, c[i].name, "counter", c[i].help);
        tb_printf(b, "%s %llu\n", c[i].name, (unsigned long long)c[i].v);
    }
    uint64_t ans = 0, unans = 0;
    for (unsigned w = 0; w < d->n_workers; w++) {
        ans += ld(&d->workers[w].stats.reject_answers);
        unans += ld(&d->workers[w].stats.reject_unanswered);
    }
    family(b, "vfab_reject_answers_total", "counter",
           "TCP RSTs and ICMP port unreachables sent for reject ACLs.");
    tb_printf(b, "vfab_reject_answers_total %llu\n", (unsigned long long)ans);
    family(b, "vfab_reject_unanswered_total", "counter",
           "Packets rejected without an answer (rate limit, no buffer, unreachable sender).");
    tb_printf(b, "vfab_reject_unanswered_total %llu\n", (unsigned long long)unans);
}

int vf_metrics_render(struct vf_daemon *d, char **out, size_t *len)
{
    struct tbuf b = {0};
    uint64_t drops[VF_DROP__COUNT];

    render_ports(&b, d);
    render_workers(&b, d);
    vf_daemon_drops(d, drops);
    family(&b, "vfab_drops_total", "counter",
           "Packets dropped, by reason (all workers; no_buffer includes the "
           "ports' receive paths).");
    for (unsigned r = 1; r < VF_DROP__COUNT; r++)
        tb_printf(&b, "vfab_drops_total{reason=\"%s\"} %llu\n",
                  vf_drop_name(r), (unsigned long long)drops[r]);
    family(&b, "vfab_tables_generation", "gauge",
           "Generation of the tables in force.");
    tb_printf(&b, "vfab_tables_generation %llu\n",
              (unsigned long long)d->generation);
    family(&b, "vfab_tables_publications_total", "counter",
           "Tables published (each a pointer swap and a grace period).");
    tb_printf(&b, "vfab_tables_publications_total %llu\n",
              (unsigned long long)d->pub.n_published);
    family(&b, "vfab_tables_last_update_seconds", "gauge",
           "Grace period of the last publication: how long until no worker could see the old tables.");
    tb_printf(&b, "vfab_tables_last_update_seconds %.9f\n",
              (double)d->pub.last_grace_ns / 1e9);
    family(&b, "vfab_tables_max_update_seconds", "gauge",
           "Longest grace period of any publication so far.");
    tb_printf(&b, "vfab_tables_max_update_seconds %.9f\n",
              (double)d->pub.max_grace_ns / 1e9);
    family(&b, "vfab_uptime_seconds", "gauge", "Seconds since vfabd started.");
    tb_printf(&b, "vfab_uptime_seconds %lld\n",
              (long long)(time(NULL) - d->started));
    struct vf_heap_stats hs;
    if (vf_heap_stats(&hs) == 0) {
        family(&b, "vfab_heap_allocated_bytes", "gauge",
               "Heap bytes in use (jemalloc; packet pools are not heap). Rising without end = a leak.");
        tb_printf(&b, "vfab_heap_allocated_bytes %zu\n", hs.allocated);
        family(&b, "vfab_heap_resident_bytes", "gauge",
               "Physical memory jemalloc's arenas hold, freed pages not yet returned included.");
        tb_printf(&b, "vfab_heap_resident_bytes %zu\n", hs.resident);
    }
    render_conntrack(&b, d);
    family(&b, "vfab_workers", "gauge", "Worker threads.");
    tb_printf(&b, "vfab_workers %u\n", d->n_workers);
    if (b.failed) {
        free(b.s);
        return -ENOMEM;
    }
    *out = b.s;
    *len = b.len;
    return 0;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
                             const char *type, void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Runs on MHD's thread: copies the latest page, touches nothing else. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_len, void **req_cls)
{
    struct vf_metrics *m = cls;
    static int first;
    (void)version;
    (void)upload;

    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
        static char msg[] = "only GET is served here\n";
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg,
                     sizeof(msg) - 1, MHD_RESPMEM_PERSISTENT);
    }
    /* MHD calls twice: first with the headers (answer later), then to reply. */
    if (*req_cls == NULL) {
        *req_cls = &first;
        return MHD_YES;
    }
    if (*upload_len)
        return MHD_NO;
    if (strcmp(url, "/metrics") != 0) {
        static char msg[] = "vfabd: metrics are at /metrics\n";
        return reply(c, strcmp(url, "/") ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK,
                     "text/plain", msg, sizeof(msg) - 1, MHD_RESPMEM_PERSISTENT);
    }
    pthread_mutex_lock(&m->lock);
    char *copy = malloc(m->page_len + 1);
    size_t len = m->page_len;
    if (copy && m->page)
        memcpy(copy, m->page, len);
    pthread_mutex_unlock(&m->lock);
    if (!copy)
        return MHD_NO;
    return reply(c, MHD_HTTP_OK, CONTENT_TYPE, copy, len,
                 MHD_RESPMEM_MUST_FREE);
}

/* MHD's thread: a connection opens or closes. */
static void on_connection(void *cls, struct MHD_Connection *c,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct vf_metrics *m = cls;
    (void)socket_context;
    pthread_mutex_lock(&m->conns_lock);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        for (unsigned i = 0; ci && i < VF_METRICS_MAX_CONNS; i++)
            if (!m->conns[i].c) {
                m->conns[i] = (struct conn_slot){c, ci->connect_fd,
                                                 now_ms() + VF_METRICS_REQUEST_MS};
                break;
            }
    } else {
        for (unsigned i = 0; i < VF_METRICS_MAX_CONNS; i++)
            if (m->conns[i].c == c)
                m->conns[i].c = NULL;
    }
    pthread_mutex_unlock(&m->conns_lock);
}

/* MHD's thread: a request was answered; a kept-alive connection's next
 * request gets its own time. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct vf_metrics *m = cls;
    (void)req_cls;
    (void)toe;
    pthread_mutex_lock(&m->conns_lock);
    for (unsigned i = 0; i < VF_METRICS_MAX_CONNS; i++)
        if (m->conns[i].c == c && m->conns[i].deadline_ms != INT64_MAX)
            m->conns[i].deadline_ms = now_ms() + VF_METRICS_REQUEST_MS;
    pthread_mutex_unlock(&m->conns_lock);
}

/* Management thread: shuts down connections whose request ran past its
 * time, however slowly they trickle bytes; MHD then sees the end of the
 * stream and closes them, freeing their slots. */
static void reap(struct vf_metrics *m)
{
    int64_t now = now_ms();
    unsigned n = 0;
    pthread_mutex_lock(&m->conns_lock);
    for (unsigned i = 0; i < VF_METRICS_MAX_CONNS; i++) {
        struct conn_slot *cs = &m->conns[i];
        if (cs->c && cs->deadline_ms <= now) {
            shutdown(cs->fd, SHUT_RDWR);
            cs->deadline_ms = INT64_MAX;
            n++;
        }
    }
    pthread_mutex_unlock(&m->conns_lock);
    if (n && now - m->last_warned_ms >= 60000) {
        vf_log_warn("metrics: closed %u connection%s whose request took more "
                    "than %d s (slow or stalled clients; logged once a "
                    "minute)", n, n == 1 ? "" : "s",
                    VF_METRICS_REQUEST_MS / 1000);
        m->last_warned_ms = now;
    }
}

int vf_metrics_parse_addr(const char *s, uint32_t *ip, uint16_t *port)
{
    char buf[INET_ADDRSTRLEN + 8];
    char *colon, *end;

    if (!s || strlen(s) >= sizeof(buf))
        return -EINVAL;
    strcpy(buf, s);
    colon = strrchr(buf, ':');
    if (!colon)
        return -EINVAL;
    *colon = '\0';
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || p == 0 || p > 65535)
        return -EINVAL;
    struct in_addr a;
    if (inet_pton(AF_INET, buf, &a) != 1)
        return -EINVAL;
    *ip = a.s_addr;
    *port = (uint16_t)p;
    return 0;
}

struct vf_metrics *vf_metrics_start(uint32_t ip, uint16_t port, char *err,
                                    size_t errlen)
{
    struct vf_metrics *m = calloc(1, sizeof(*m));
    char ipbuf[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &ip, ipbuf, sizeof(ipbuf));
    if (!m) {
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->conns_lock, NULL);
    m->last_warned_ms = INT64_MIN / 2;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = ip};
    /* One internal thread, a bounded number of connections (fewer per
     * client address), each request bounded in time (reap): nothing a
     * client does can hold the page from the others or reach the
     * management thread. */
    m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, port, NULL,
                                NULL, on_request, m,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                MHD_OPTION_CONNECTION_LIMIT,
                                (unsigned)VF_METRICS_MAX_CONNS,
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                (unsigned)VF_METRICS_MAX_CONNS_PER_IP,
                                MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)(VF_METRICS_REQUEST_MS / 1000),
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, m,
                                MHD_OPTION_END);
    if (!m->httpd) {
        snprintf(err, errlen, "metrics: cannot serve HTTP on %s:%u (address "
                 "in use or not local?)", ipbuf, port);
        pthread_mutex_destroy(&m->conns_lock);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    if ((ntohl(ip) >> 24) != 127)
        vf_log_warn("metrics: serving http://%s:%u/metrics beyond this host: "
                    "the page names every local tenant port and asks for no "
                    "credentials; bind 127.0.0.1 and let the scraper reach it "
                    "through a proxy, or firewall the port", ipbuf, port);
    return m;
}

void vf_metrics_update(struct vf_metrics *m, struct vf_daemon *d)
{
    char *page, *old;
    size_t len;

    if (!m)
        return;
    reap(m);
    if (vf_metrics_render(d, &page, &len) != 0)
        return;   /* out of memory: keep serving the previous page */
    pthread_mutex_lock(&m->lock);
    old = m->page;
    m->page = page;
    m->page_len = len;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

void vf_metrics_stop(struct vf_metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->httpd);   /* joins the HTTP thread */
    pthread_mutex_destroy(&m->conns_lock);
    pthread_mutex_destroy(&m->lock);
    free(m->page);
    free(m);
}
