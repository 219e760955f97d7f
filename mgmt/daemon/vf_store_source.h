/* vf_store_source.h - vfabd's fabric from an etcd store (vfabd --store).
 *
 * What: the host side of docs/store.md. With `--store URL[,URL...]` (or
 * `local.store`) the -c file holds only `local:`; the fabric is read from
 * etcd under a prefix (default /vfab/) and every change reaches the
 * workers through the one apply path, vf_apply() with origin
 * VF_ORIGIN_STORE and the store revision.
 *
 * Design:
 * - One list of the whole prefix at one revision (vf_store_list: the
 *   desired keys and the hosts' runtime records, chassis/ and bindings/),
 *   held as key sets. The host compiles its part (vf_layout_subset, then
 *   vf_layout_to_model: the loader and validator vfabd -c uses).
 * - A watch on the prefix from the list's revision + 1. Events are applied
 *   to the key sets as they come; after each round of the loop (events that
 *   arrived together: one batch) the host's part is rebuilt and applied
 *   once. A change that does not load or validate is logged and counted;
 *   the last good tables stay. A compacted revision means a new list.
 * - Registration: a lease (local.store.lease_ttl, 2..300 s, default 10;
 *   keepalive at a third) with P"chassis/<name>" on it, put only if no one
 *   holds it (vf_desired_register_async, shared with perf/vfab-sim). At a
 *   cold start a name or underlay address (and port) that a live chassis
 *   holds refuses the start; later (a lost lease, a restart from the state
 *   directory) it is retried until the holder's lease runs out.
 * - Liveness is a compile input: the chassis without a live record are
 *   handed to vf_apply as down (vf_change.down); their remote ports are
 *   unreachable (drop reason tunnel_chassis_down) and BUM copies to them
 *   stop, until the record is back.
 * - Fail static: losing the store changes nothing that forwards. The
 *   client reconnects the watch with backoff over all endpoints and
 *   resumes at the next revision; a failed list or registration is
 *   retried with backoff (250 ms doubling to 5 s). The liveness of the
 *   others is frozen while the watch is down (no events: no change).
 *   With --state-dir a restart forwards from the saved snapshot first
 *   (vf_store_src_boot_saved) and lists when the store answers.
 * - Runs on the management loop (vf_loop_add_timed_source: the client's
 *   fds, timers and dispatch); nothing here runs on a worker, and nothing
 *   blocks except the start-up calls before the workers exist.
 *
 * Errors: negative errno with err naming the endpoint, key or field.
 *
 * Thread-safety: the management thread only (like struct vf_daemon).
 */
#ifndef VF_STORE_SOURCE_H
#define VF_STORE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"

struct vf_daemon;
struct vf_loop;
struct vf_change;
struct vf_store_src;

/* A source for this host (local: chassis and local.store; endpoints, when
 * not NULL, overrides local.store.endpoints: --store; version goes into
 * the chassis record). No connection yet. 0 or -errno with err. */
int vf_store_src_create(const struct vf_model_local *local, const char *endpoints,
                        const char *version, struct vf_store_src **out, char *err,
                        size_t errlen);
void vf_store_src_destroy(struct vf_store_src *src);

/* Cold start (no saved state): lists the store (retrying with backoff
 * while no endpoint answers, logging each failure), builds this host's
 * part with local, and registers the chassis. 0 and *c (origin STORE,
 * validated); -EINVAL (exit 2: the store's fabric does not load or lacks
 * this chassis, err says which key or field) or -EEXIST (exit 1: a live
 * chassis has this name or address). */
int vf_store_src_first(struct vf_store_src *src, const struct vf_model_local *local,
                       struct vf_change *c, char *err, size_t errlen);

/* After the daemon is up and the first change applied: registers on the
 * loop; watches from the first list's revision + 1 or, after a restart
 * from saved state (no vf_store_src_first), lists and registers from the
 * loop when the store answers. 0 or -errno. */
int vf_store_src_start(struct vf_store_src *src, struct vf_daemon *d,
                       struct vf_loop *loop, char *err, size_t errlen);

/* `vfabctl status`'s "store": endpoints, prefix, connected, endpoint,
 * revision in force, revision seen, last event age, lease, chassis down,
 * changes applied and refused, the last refusal. New reference. */
json_t *vf_store_src_status(const struct vf_store_src *src);
/* The endpoints, for messages ("URL[,URL...]"). */
const char *vf_store_src_endpoints(const struct vf_store_src *src);

#endif
