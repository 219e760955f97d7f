/* vf_rpc.h - the control socket's methods (status, stats, show, flows,
 * trace, ...) over a running daemon. The table ends with {NULL, NULL}.
 *
 * Thread-safety: handlers run on the management thread, read worker and
 * port counters with relaxed loads, and read the tables through the
 * publisher (the management thread is their only writer).
 */
#ifndef VF_RPC_H
#define VF_RPC_H

#include "mgmt/rpc/vf_ctl.h"

#define VF_VERSION "0.1.0"

extern const struct vf_ctl_method vf_rpc_methods[];

/* Handlers; ctx is the struct vf_daemon. One file per group. */
json_t *vf_rpc_status(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_stats(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_flows(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_show(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_trace(void *ctx, json_t *params, struct vf_rpc_error *err);

/* rpc_conntrack.c: conntrack {"zone"?: PORT, "limit"?: N (default
 * 10,000)} lists connections {"connections": [{zone, port, family, proto,
 * orig_src, orig_dst, state, age_s, expires_s, orig/reply packets and
 * bytes, ...}], "shown", "truncated", "live", "max"}; conntrack_flush
 * {"zone"?: PORT} -> {"flushed"}. vf_rpc_ct_stats: the table's counters
 * for `stats` (JSON null without a table). */
json_t *vf_rpc_conntrack(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_conntrack_flush(void *ctx, json_t *params, struct vf_rpc_error *err);
struct vf_daemon;
json_t *vf_rpc_ct_stats(const struct vf_daemon *d);

/* rpc_edit.c: change the desired state (see vf_model_edit.h for kinds and
 * specs). add/del params {"kind", "spec", "cascade"?, "dry_run"?}; list
 * {"kind"}; apply {"yaml": file text, "name"?: file name for messages,
 * "dry_run"?} (a file without `local` keeps this host's). add, del and
 * apply answer {"dry_run", "applied", "persisted", "generation", "diff"}. */
json_t *vf_rpc_add(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_del(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_list(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_apply(void *ctx, json_t *params, struct vf_rpc_error *err);

/* rpc_capture.c: capture_start {"port", "file" (absolute), "count"?,
 * "seconds"?} returns at once; capture_status and capture_stop answer
 * {"active", "port", "file", "written", "dropped", "ended"}. */
json_t *vf_rpc_capture_start(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_capture_status(void *ctx, json_t *params, struct vf_rpc_error *err);
json_t *vf_rpc_capture_stop(void *ctx, json_t *params, struct vf_rpc_error *err);

#endif
