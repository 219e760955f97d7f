/* vhost_mgmt.c - vhost-user devices on the management loop
 * (vf_vhost_mgmt.h).
 */
#include <poll.h>

#include "fabric/vf_port_vhost.h"
#include "mgmt/daemon/vf_vhost_mgmt.h"

/* The device of port slot i, or NULL (not vhost-user, free, the uplink). */
static struct vf_vhost_dev *dev_of(struct vf_daemon *d, unsigned i)
{
    struct vf_daemon_port *dp = &d->ports[i];

    if (!dp->port || dp->port == d->uplink)
        return NULL;
    return vf_vhost_port_dev(dp->port);
}

static unsigned vhost_fds(void *arg, struct pollfd *pfd, unsigned max)
{
    struct vf_daemon *d = arg;
    unsigned n = 0;

    for (unsigned i = 0; i < d->n_ports && n < max; i++) {
        struct vf_vhost_dev *dev = dev_of(d, i);
        int fd = dev ? vf_vhost_dev_fd(dev) : -1;
        if (fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
    }
    return n;
}

static int vhost_ready(void *arg, const struct pollfd *pfd, unsigned n)
{
    struct vf_daemon *d = arg;

    for (unsigned k = 0; k < n; k++) {
        if (!pfd[k].revents)
            continue;
        /* By value: an apply earlier in this turn may have closed it. */
        for (unsigned i = 0; i < d->n_ports; i++) {
            struct vf_vhost_dev *dev = dev_of(d, i);
            if (dev && vf_vhost_dev_fd(dev) == pfd[k].fd) {
                vf_vhost_dev_service(dev);
                break;
            }
        }
    }
    return 0;
}

/* Devices whose reconnect delay is up (client mode, not connected). */
static void vhost_tick(void *arg)
{
    struct vf_daemon *d = arg;

    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_vhost_dev *dev = dev_of(d, i);
        if (dev && vf_vhost_dev_timeout_ms(dev) == 0)
            vf_vhost_dev_service(dev);
    }
}

int vf_vhost_mgmt_register(struct vf_loop *l, struct vf_daemon *d)
{
    int rc = vf_loop_add_source(l, "vhost-user", vhost_fds, vhost_ready, d);
    if (rc)
        return rc;
    return vf_loop_add_timer(l, "vhost-user reconnect", VF_VHOST_MGMT_TICK_MS,
                             vhost_tick, d);
}
