/* vf_vhost_mgmt.h - vhost-user devices on the management loop.
 *
 * What: a vhost-user port's control side (its socket, the protocol
 * messages that map guest memory and move rings, reconnecting) belongs to
 * the management thread (fabric/vf_vhost_user.h). This joins every
 * vhost-user port of the daemon's port table to the management loop
 * (vf_loop.h): a source that polls each device's descriptor (the
 * connection, or the listening socket in server mode) and services the
 * device when it is ready, and a timer that services the devices whose
 * reconnect delay is up (client mode: vfab connects to the socket QEMU
 * serves, with a backoff, so vfabd restarts without the VM).
 *
 * Design: the port table is the one list: a port opened or closed by
 * vf_apply is polled from the next loop turn, nothing to register per
 * port. A descriptor poll reported is matched back to its device by value
 * in ready(), so a port an apply closed earlier in the same turn (its
 * device gone) is skipped; a reused number reaching another device only
 * services it early, which is harmless. Workers never see any of this:
 * they sleep on the port's own wait fds (the guest's kicks).
 *
 * Thread-safety: the management thread only (the loop's).
 */
#ifndef VF_VHOST_MGMT_H
#define VF_VHOST_MGMT_H

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_loop.h"

/* How often devices waiting for a reconnect are looked at: the backoff's
 * floor (VF_VHOST_BACKOFF_MIN_MS). */
#define VF_VHOST_MGMT_TICK_MS 100

/* Registers the source and the timer for d's vhost-user ports on l.
 * 0 or -ENOSPC (the loop is full). */
int vf_vhost_mgmt_register(struct vf_loop *l, struct vf_daemon *d);

#endif
