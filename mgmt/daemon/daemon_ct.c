/* daemon_ct.c - the daemon's connection table: creation, contexts, zone
 * sync after publications, periodic reclaim (vf_daemon.h).
 *
 * All on the management thread. Reclaim waits for one RCU grace period,
 * so it first kicks the workers (a sleeping worker would otherwise hold
 * it for up to its 100 ms sleep), and only when entries wait for it
 * (vf_ct_reclaim_pending): an idle vfabd wakes no worker for it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"

_Static_assert(VF_MAX_WORKERS + 1 <= VF_CT_MAX_CTX,
               "a conntrack context for every worker and mgmt");

int vf_daemon_ct_start(struct vf_daemon *d, char *err, size_t errlen)
{
    if (d->opts.no_conntrack)
        return 0;
    struct vf_ct_config cfg = {
        .max_conns = d->opts.ct_max_conns ? d->opts.ct_max_conns : VF_DAEMON_CT_CONNS,
        .zone_max = d->opts.ct_zone_max,
    };
    d->ct = vf_ct_create(&cfg);
    if (!d->ct) {
        snprintf(err, errlen, "connection table of %u connections: %s (lower "
                 "--ct-max-conns, or --ct-max-conns 0 for none)", cfg.max_conns,
                 errno == EINVAL ? "too large" : strerror(errno));
        return -ENOMEM;
    }
    d->ct_mgmt = aligned_alloc(64, sizeof(*d->ct_mgmt));
    if (!d->ct_mgmt || vf_ct_worker_init(d->ct_mgmt, d->ct, d->n_workers, d->n_workers)) {
        free(d->ct_mgmt);
        d->ct_mgmt = NULL;
        snprintf(err, errlen, "connection table: no context for mgmt");
        return -ENOMEM;
    }
    for (unsigned w = 0; w < d->n_workers; w++) {
        if (vf_worker_attach_ct(&d->workers[w], d->ct, w, d->n_workers)) {
            snprintf(err, errlen, "connection table: no context for worker %u", w);
            return -ENOSPC;
        }
    }
    d->ct_reclaimed_ms = vf_ct_now_ms();
    vf_log_debug("connection table: %u connections, %zu bytes each",
                 cfg.max_conns, vf_ct_bytes_per_conn(d->ct));
    return 0;
}

/* local.ct_timeouts (seconds; 0: the default) into the table. */
static void set_timeouts(struct vf_daemon *d)
{
    static const uint32_t defaults_ms[VF_CT_TO__COUNT] = {
#define VF_CT_TO_DEF_(id, name, def) def,
        VF_CT_TIMEOUTS(VF_CT_TO_DEF_)
#undef VF_CT_TO_DEF_
    };
    _Static_assert(VF_MODEL_CT_TIMEOUTS == VF_CT_TO__COUNT,
                   "one local.ct_timeouts field per conntrack timeout");
    for (unsigned i = 0; i < VF_CT_TO__COUNT; i++) {
        uint32_t s = d->model.has_local ? d->model.local.ct_timeouts[i] : 0;
        uint32_t ms = s ? s * 1000u : defaults_ms[i];
        if (vf_ct_get_timeout(d->ct, i) != ms &&
            vf_ct_set_timeout(d->ct, i, ms) == 0)
            vf_log_info("conntrack: timeout %s %u s", vf_ct_timeout_name(i),
                        ms / 1000u);
    }
}

void vf_daemon_ct_published(struct vf_daemon *d)
{
    if (!d->ct)
        return;
    set_timeouts(d);
    unsigned n = vf_acl_zones_sync(d->ct_mgmt, vf_publisher_current(&d->pub),
                                   d->ct_zones);
    if (n)
        vf_log_debug("conntrack: %u connections of ports that left flushed", n);
}

void vf_daemon_ct_tick(struct vf_daemon *d)
{
    if (!d->ct)
        return;
    uint64_t now = vf_ct_now_ms();
    if (now - d->ct_reclaimed_ms < VF_DAEMON_CT_RECLAIM_MS)
        return;
    d->ct_reclaimed_ms = now;
    if (!vf_ct_reclaim_pending(d->ct))
        return;
    for (unsigned w = 0; w < d->n_workers; w++)
        vf_worker_kick(&d->workers[w]);
    vf_ct_reclaim(d->ct);
}

void vf_daemon_ct_stop(struct vf_daemon *d)
{
    if (d->ct_mgmt) {
        vf_ct_worker_fini(d->ct_mgmt);
        free(d->ct_mgmt);
        d->ct_mgmt = NULL;
    }
    vf_ct_destroy(d->ct);
    d->ct = NULL;
}
