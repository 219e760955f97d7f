/* rpc_conntrack.c - `conntrack`, `conntrack_flush` and the connection
 * table's counters in `stats` (vf_rpc.h).
 *
 * Zones are named by the logical port that owns them (its ct_zone in the
 * tables in force); a listing walks the table in bounded steps
 * (vf_ct_iter, a bucket's worth at a time) up to `limit` connections, and
 * says when it stopped early. Flushes use mgmt's conntrack context.
 * All on the management thread, which is the table's reclaimer, so the
 * entries it reads cannot be reused under it.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/rpc/vf_rpc.h"
#include "pipeline/vf_conntrack.h"

#define CT_LIST_DEFAULT 10000u
#define CT_LIST_MAX 1000000u

/* The local port owning zone z in t, or NULL. */
static const char *port_of_zone(const struct vf_tables *t, uint16_t z)
{
    for (uint32_t i = 0; t && i < t->n_dps; i++)
        for (uint32_t p = 0; p < t->dps[i]->n_ports; p++) {
            const struct vf_lport *lp = &t->dps[i]->ports[p];
            if (lp->local && lp->ct_zone == z)
                return lp->name;
        }
    return NULL;
}

/* params "zone": a port name -> its zone (>0), or -1 for all; NULL with
 * err set when the port is unknown or untracked. */
static bool zone_param(const struct vf_daemon *d, json_t *params, int *zone,
                       struct vf_rpc_error *err)
{
    json_t *z = json_object_get(params, "zone");
    const struct vf_tables *t = vf_publisher_current(&d->pub);
    uint32_t i;

    *zone = -1;
    if (!z || json_is_null(z))
        return true;
    if (!json_is_string(z)) {
        vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "field 'zone': expected a port name");
        return false;
    }
    const struct vf_dp *dp = t ? vf_tables_find_port(t, json_string_value(z), &i)
                               : NULL;
    if (!dp || !dp->ports[i].local) {
        vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "field 'zone': \"%s\" is not a "
             "logical port on this chassis", json_string_value(z));
        return false;
    }
    if (!dp->ports[i].ct_zone) {
        vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "field 'zone': port %s is not "
             "tracked (no allow-related ACL applies to it)",
             json_string_value(z));
        return false;
    }
    *zone = dp->ports[i].ct_zone;
    return true;
}

static json_t *endpoint(const struct vf_ct_key *k, unsigned e)
{
    char a[INET6_ADDRSTRLEN];
    inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->addr[e], a, sizeof(a));
    return json_pack("{s:s, s:i}", "ip", a, "port", (int)ntohs(k->port[e]));
}

static json_t *conn_json(const struct vf_tables *t, const struct vf_ct_info *c)
{
    const struct vf_ct_key *k = &c->key;
    unsigned o = c->orig, r = 1u - c->orig;
    const char *port = port_of_zone(t, k->zone);
    json_t *j = json_pack(
        "{s:i, s:s?, s:i, s:i, s:o, s:o, s:s, s:b, s:b, s:f, s:f,"
        " s:{s:I, s:I}, s:{s:I, s:I}}",
        "zone", (int)k->zone, "port", port, "family", (int)k->family,
        "proto", (int)k->proto, "orig_src", endpoint(k, o),
        "orig_dst", endpoint(k, r),
        "state", vf_ct_conn_state_name(c->conn_state),
        "seen_reply", c->seen_reply, "assured", c->assured,
        "age_s", c->age_ms / 1000.0, "expires_s", c->expires_ms / 1000.0,
        "orig", "packets", (json_int_t)c->pkts[VF_CT_ORIG],
        "bytes", (json_int_t)c->bytes[VF_CT_ORIG],
        "reply", "packets", (json_int_t)c->pkts[VF_CT_REPLY],
        "bytes", (json_int_t)c->bytes[VF_CT_REPLY]);
    /* ICMP: the "ports" are the id and the request type. */
    if (j && (k->proto == 1 || k->proto == 58))
        json_object_set_new(j, "icmp", json_pack("{s:i, s:i}", "id",
                            (int)ntohs(k->port[0]), "type",
                            (int)ntohs(k->port[1])));
    return j;
}

json_t *vf_rpc_conntrack(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    const struct vf_tables *t = vf_publisher_current(&d->pub);
    json_t *lim = json_object_get(params, "limit");
    unsigned limit = CT_LIST_DEFAULT;
    int zone;

    if (!d->ct)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "this vfabd has no connection "
                    "table (--ct-max-conns 0)");
    if (!zone_param(d, params, &zone, err))
        return NULL;
    if (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
                json_integer_value(lim) > CT_LIST_MAX))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "field 'limit': expected "
                    "1..%u", CT_LIST_MAX);
    if (lim)
        limit = (unsigned)json_integer_value(lim);

    json_t *conns = json_array();
    struct vf_ct_info buf[64];
    uint32_t pos = 0;
    uint64_t now = vf_ct_now_ms();
    unsigned n = 0;
    bool truncated = false;
    while (pos != UINT32_MAX && conns) {
        unsigned got = vf_ct_iter(d->ct, &pos, zone, now, buf, 64);
        for (unsigned i = 0; i < got; i++) {
            if (n == limit) {
                truncated = true;
                break;
            }
            json_array_append_new(conns, conn_json(t, &buf[i]));
            n++;
        }
        if (truncated)
            break;
    }
    struct vf_ct_totals tot;
    vf_ct_get_stats(d->ct, &tot);
    return json_pack("{s:o, s:i, s:b, s:I, s:I}", "connections", conns,
                     "shown", (int)n, "truncated", truncated,
                     "live", (json_int_t)tot.live,
                     "max", (json_int_t)tot.max_conns);
}

json_t *vf_rpc_conntrack_flush(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    int zone;

    if (!d->ct || !d->ct_mgmt)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "this vfabd has no connection "
                    "table (--ct-max-conns 0)");
    if (!zone_param(d, params, &zone, err))
        return NULL;
    unsigned n = vf_ct_flush(d->ct_mgmt, zone);
    return json_pack("{s:I, s:i}", "flushed", (json_int_t)n, "zone", zone);
}

json_t *vf_rpc_ct_stats(const struct vf_daemon *d)
{
    if (!d->ct)
        return json_null();
    struct vf_ct_totals tot;
    vf_ct_get_stats(d->ct, &tot);
    json_t *by_result = json_object(), *by_cause = json_object(),
           *conns = json_object();
    for (unsigned s = 0; s < VF_CT_STATE__COUNT; s++)
        json_object_set_new(by_result, vf_ct_state_name(s),
                            json_integer((json_int_t)tot.by_state[s]));
    for (unsigned c = 1; c < VF_CT_WHY__COUNT; c++)
        json_object_set_new(by_cause, vf_ct_cause_name(c),
                            json_integer((json_int_t)tot.by_cause[c]));
    for (unsigned s = 0; s < VF_CT_CS__COUNT; s++)
        json_object_set_new(conns, vf_ct_conn_state_name(s),
                            json_integer(tot.conns[s] > 0 ? tot.conns[s] : 0));
    uint64_t answers = 0, unanswered = 0;
    for (unsigned w = 0; w < d->n_workers; w++) {
        answers += atomic_load_explicit(&d->workers[w].stats.reject_answers,
                                        memory_order_relaxed);
        unanswered += atomic_load_explicit(&d->workers[w].stats.reject_unanswered,
                                           memory_order_relaxed);
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I}}",
                     "live", (json_int_t)tot.live,
                     "max", (json_int_t)tot.max_conns,
                     "lookups", (json_int_t)tot.lookups,
                     "created", (json_int_t)tot.created,
                     "expired", (json_int_t)tot.expired,
                     "flushed", (json_int_t)tot.flushed,
                     "table_full", (json_int_t)tot.table_full,
                     "zone_full", (json_int_t)tot.zone_full,
                     "bucket_full", (json_int_t)tot.bucket_full,
                     "dup_resolved", (json_int_t)tot.dup_resolved,
                     "reopened", (json_int_t)tot.reopened,
                     "bytes_per_conn", (json_int_t)vf_ct_bytes_per_conn(d->ct),
                     "lookup_results", by_result, "invalid_causes", by_cause,
                     "connections", conns,
                     "reject", "answers", (json_int_t)answers,
                     "unanswered", (json_int_t)unanswered);
}
