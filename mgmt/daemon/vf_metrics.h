/* vf_metrics.h - vfabd's counters in the Prometheus text exposition format,
 * served over HTTP (libmicrohttpd) at http://ADDR:PORT/metrics.
 *
 * What: per port (packets, bytes, tx drops, rx errors; labels port, type),
 * per worker (packets, busy/idle TSC cycles, sleeps, flow cache hits,
 * misses, evictions; labels worker, cpu, numa_node), drops by reason, the
 * tables' generation, publications and update (grace period) latency, and
 * the uptime. Every counter is monotonic for the life of the process.
 *
 * Basic design: the page is built on the management thread, never on the
 * HTTP thread. vfabd calls vf_metrics_update() from its main loop (once a
 * second and at start); it reads the worker and port counters with relaxed
 * loads and the port list and model directly (mgmt owns them, so no change
 * can be half-applied while it reads), renders the whole text into a fresh
 * buffer and swaps it in under a mutex. MHD's internal polling thread only
 * copies the latest buffer under that mutex. So a scrape never touches a
 * mgmt-owned structure (ports come and go with `vfabctl apply`), the mutex
 * is held for a pointer swap or one memcpy, and a scrape is at most about
 * one second stale.
 *
 * Limits (redteam 11: 16 connections trickling one header line each
 * blocked every scrape, MHD's idle timeout being reset by every byte): at
 * most VF_METRICS_MAX_CONNS connections, VF_METRICS_MAX_CONNS_PER_IP from
 * one client address, MHD's 32 KiB of memory each, and each request must be
 * done within VF_METRICS_REQUEST_MS of the connection's start or of its
 * previous request's end, however slowly it trickles: vf_metrics_update
 * (once a second) shuts down the connections past their time. A start on
 * an address outside 127.0.0.0/8 is logged as a warning: the page names
 * the tenants' ports and has no authentication.
 *
 * Thread-safety: vf_metrics_start, vf_metrics_update and vf_metrics_stop on
 * the management thread; the HTTP thread reads the snapshot under `lock`.
 * vf_metrics_render only needs the caller to own d (mgmt thread).
 */
#ifndef VF_METRICS_H
#define VF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define VF_METRICS_MAX_CONNS 32
#define VF_METRICS_MAX_CONNS_PER_IP 8
#define VF_METRICS_REQUEST_MS 10000

struct vf_daemon;
struct vf_metrics;

/* Parses "ADDR:PORT" (IPv4, port 1..65535) into network-order ip and host
 * order port. 0 or -EINVAL. */
int vf_metrics_parse_addr(const char *s, uint32_t *ip, uint16_t *port);
/* Starts the HTTP server bound to ip:port (network/host order). NULL with
 * err filled (e.g. the address is in use). */
struct vf_metrics *vf_metrics_start(uint32_t ip, uint16_t port, char *err,
                                    size_t errlen);
/* Renders d's counters and makes them the page served from now on;
 * closes connections whose request ran past VF_METRICS_REQUEST_MS. */
void vf_metrics_update(struct vf_metrics *m, struct vf_daemon *d);
/* Stops the HTTP thread and frees everything; accepts NULL. */
void vf_metrics_stop(struct vf_metrics *m);
/* The exposition text for d, malloc'd and NUL-terminated in *out (length
 * in *len). 0 or -ENOMEM. */
int vf_metrics_render(struct vf_daemon *d, char **out, size_t *len);

#endif
