/* local.c - the `local` rule, in one place (vf_apply.h).
 *
 * `local` says which chassis this host is, how many workers it runs and
 * where, which uplink it opens and where metrics listen: facts about the
 * machine, decided when vfabd starts. So it comes from the -c file at
 * start (boot.c), a change that leaves it out keeps the running one, and a
 * change that says otherwise is refused with the one way to change it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_daemon.h"

bool vf_local_same(const struct vf_model_local *a,
                   const struct vf_model_local *b, const char **field)
{
    *field = strcmp(a->chassis, b->chassis) ? "chassis"
             : memcmp(&a->workers, &b->workers, sizeof(a->workers)) ? "workers"
             : a->uplink != b->uplink || a->bind_ip != b->bind_ip ||
                       a->bind_port != b->bind_port ||
                       strcmp(a->device, b->device) ||
                       a->device_port != b->device_port
                   ? "uplink"
               : a->metrics_ip != b->metrics_ip ||
                       a->metrics_port != b->metrics_port
                   ? "metrics"
                   : NULL;
    return *field == NULL;
}

int vf_local_check(const struct vf_daemon *d, struct vf_model *next,
                   bool *taken, char *err, size_t errlen)
{
    const char *field;

    *taken = false;
    if (!next->has_local) {
        if (!d->model.has_local) {
            snprintf(err, errlen, "the desired state has no 'local' "
                     "section: vfabd needs local.chassis to know which host "
                     "it is");
            return -EINVAL;
        }
        /* One file for every host: this host keeps its own part. */
        next->has_local = true;
        next->local = d->model.local;
        *taken = true;
        return 0;
    }
    /* Before the first apply the running local is the one vfabd started
     * with (vf_daemon_up copied it from this very model). */
    if (!d->model.has_local ||
        vf_local_same(&d->model.local, &next->local, &field))
        return 0;
    snprintf(err, errlen, "local.%s is this host's own setting: edit %s and "
             "restart vfabd (it decides cores, pools and sockets, so it is "
             "read at start; a file without 'local' keeps this host's)",
             field, d->config[0] ? d->config : "the -c file");
    return -EINVAL;
}
