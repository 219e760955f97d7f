/* rpc_trace.c - `trace PORT FIELD=VALUE...`: one synthetic packet through
 * the same tables and stage code the workers run (pipeline/trace.c), as
 * JSON. Field values arrive as strings; a bad one is refused with an error
 * that names the field and says what is expected. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_parse_util.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/rpc/vf_rpc.h"
#include "pipeline/vf_trace.h"

#define bad(err, ...) (vf_rpc_fail((err), VF_RPC_INVALID_PARAMS, __VA_ARGS__), -1)

/* Fills pkt from {"field": "value", ...}: 0, or -1 with err filled. */
static int parse_fields(json_t *fields, struct vf_trace_pkt *pkt,
                            struct vf_rpc_error *err)
{
    const char *k;
    json_t *jv;
    memset(pkt, 0, sizeof(*pkt));
    json_object_foreach(fields, k, jv) {
        char buf[64];
        const char *v = json_string_value(jv);
        if (!v && json_is_integer(jv)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(jv));
            v = buf;
        }
        if (!v)
            return bad(err,
                               "field '%s' wants a string value", k);
        unsigned long n;
        if (!strcmp(k, "eth_src") || !strcmp(k, "eth_dst")) {
            uint8_t *m = k[4] == 's' ? pkt->eth_src : pkt->eth_dst;
            if (!vf_parse_mac(v, m))
                return bad(err,
                                   "field '%s': '%s' is not a MAC address "
                                   "(want 02:00:00:00:01:01)", k, v);
            pkt->fields |= k[4] == 's' ? VF_TRACE_F_ETH_SRC : VF_TRACE_F_ETH_DST;
        } else if (!strcmp(k, "ip_src") || !strcmp(k, "ip_dst")) {
            uint32_t *ip = k[3] == 's' ? &pkt->ip_src : &pkt->ip_dst;
            if (!vf_parse_ip4(v, ip))
                return bad(err,
                                   "field '%s': '%s' is not an IPv4 address", k, v);
            pkt->fields |= k[3] == 's' ? VF_TRACE_F_IP_SRC : VF_TRACE_F_IP_DST;
        } else if (!strcmp(k, "proto")) {
            int proto;
            if (vf_model_enum_parse(&vf_acl_protos, v, &proto))
                n = (unsigned long)proto;
            else if (!vf_parse_uint(v, 255, &n))
                return bad(err,
                                   "field 'proto': '%s' is not tcp, udp, icmp "
                                   "or a number 0-255", v);
            pkt->proto = (uint8_t)n;
            pkt->fields |= VF_TRACE_F_PROTO;
        } else if (!strcmp(k, "sport") || !strcmp(k, "dport")) {
            if (!vf_parse_uint(v, 65535, &n))
                return bad(err,
                                   "field '%s': '%s' is not a port 0-65535", k, v);
            if (k[0] == 's') {
                pkt->sport = (uint16_t)n;
                pkt->fields |= VF_TRACE_F_SPORT;
            } else {
                pkt->dport = (uint16_t)n;
                pkt->fields |= VF_TRACE_F_DPORT;
            }
        } else if (!strcmp(k, "ttl")) {
            if (!vf_parse_uint(v, 255, &n))
                return bad(err,
                                   "field 'ttl': '%s' is not 0-255", v);
            pkt->ttl = (uint8_t)n;
            pkt->fields |= VF_TRACE_F_TTL;
        } else if (!strcmp(k, "arp_op")) {
            if (!strcmp(v, "request"))
                n = 1;
            else if (!strcmp(v, "reply"))
                n = 2;
            else if (!vf_parse_uint(v, 65535, &n))
                return bad(err,
                                   "field 'arp_op': '%s' is not request, reply "
                                   "or a number", v);
            pkt->arp_op = (uint16_t)n;
            pkt->fields |= VF_TRACE_F_ARP_OP;
        } else if (!strcmp(k, "tcp_flags")) {
            if (!vf_parse_uint(v, 255, &n))
                return bad(err, "field 'tcp_flags': '%s' is not 0-255 (SYN 2, "
                           "ACK 16)", v);
            pkt->tcp_flags = (uint8_t)n;
            pkt->fields |= VF_TRACE_F_TCP_FLAGS;
        } else {
            return bad(err,
                               "unknown field '%s' (fields: eth_src eth_dst "
                               "ip_src ip_dst proto sport dport ttl arp_op "
                               "tcp_flags)", k);
        }
    }
    return 0;
}

static const char *action_name(enum vf_trace_action a)
{
    return a == VF_TRACE_DELIVER ? "deliver" : a == VF_TRACE_TUNNEL ? "tunnel" : "drop";
}

static json_t *output_json(const struct vf_trace_output *o)
{
    json_t *j = json_pack("{s:s}", "action", action_name(o->action));
    if (o->port[0])
        json_object_set_new(j, "port", json_string(o->port));
    if (o->action == VF_TRACE_TUNNEL) {
        json_object_set_new(j, "chassis", json_string(o->chassis));
        json_object_set_new(j, "vni", json_integer(o->vni));
    }
    return j;
}

/* The trace as the RPC answers it. */
static json_t *trace_json(const struct vf_trace *tr, const char *port,
                          uint64_t generation)
{
    json_t *stages = json_array();
    for (unsigned i = 0; i < tr->n_steps; i++)
        json_array_append_new(stages, json_pack("{s:s, s:s}", "stage",
                                                tr->steps[i].stage, "decision",
                                                tr->steps[i].text));
    json_t *result;
    if (tr->action == VF_TRACE_DROP || tr->n_out == 0) {
        result = json_pack("{s:s, s:s}", "action", "drop", "reason",
                           tr->reason_name ? tr->reason_name
                                           : vf_drop_name(tr->reason));
    } else {
        result = output_json(&tr->out[0]);
        json_t *outs = json_array();
        unsigned shown = tr->n_out < VF_TRACE_MAX_OUT ? tr->n_out
                                                      : VF_TRACE_MAX_OUT;
        for (unsigned i = 0; i < shown; i++)
            json_array_append_new(outs, output_json(&tr->out[i]));
        json_object_set_new(result, "outputs", outs);
        json_object_set_new(result, "n_outputs", json_integer(tr->n_out));
        json_object_set_new(result, "flood", json_boolean(tr->n_out > 1));
        if (tr->arp_reply)
            json_object_set_new(result, "arp_reply", json_true());
        if (tr->routed)
            json_object_set_new(result, "routed", json_true());
    }
    if (tr->n_ct) {
        json_t *cts = json_array();
        for (unsigned i = 0; i < tr->n_ct; i++)
            json_array_append_new(cts, json_pack("{s:i, s:s, s:b}", "zone",
                                                 (int)tr->ct[i].zone, "state",
                                                 vf_ct_state_name(tr->ct[i].state),
                                                 "reply", tr->ct[i].reply));
        json_object_set_new(result, "conntrack", cts);
    }
    return json_pack("{s:s, s:o, s:o, s:I}", "port", port, "stages", stages,
                     "result", result, "generation", (json_int_t)generation);
}

json_t *vf_rpc_trace(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    const char *port = json_string_value(json_object_get(params, "port"));
    if (!port)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS,
                           "'port' (a logical port name) is required");
    json_t *fields = json_object_get(params, "fields");
    struct vf_trace_pkt pkt;
    if (fields && !json_is_object(fields))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS,
                           "'fields' must be an object of FIELD: VALUE");
    memset(&pkt, 0, sizeof(pkt));
    if (fields && parse_fields(fields, &pkt, err) < 0)
        return NULL;

    const struct vf_tables *t = vf_publisher_current(&d->pub);
    if (!t)
        return vf_rpc_fail(err, VF_RPC_REFUSED, "no tables published yet");
    /* Large (every step's text): one per call, not a static, so two
     * daemons in one process never share it. */
    struct vf_trace *tr = calloc(1, sizeof(*tr));
    if (!tr)
        return vf_rpc_fail(err, VF_RPC_INTERNAL_ERROR, "out of memory");
    /* mgmt is the thread that reclaims conntrack entries, so it may peek. */
    int rc = vf_trace_run_ct(t, d->ct, vf_ct_now_ms(), port, &pkt, tr);
    json_t *out = rc == -ENOENT ? NULL : trace_json(tr, port, t->generation);
    free(tr);
    if (rc == -ENOENT)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS,
                           "port '%s' is not a VM port on this chassis (%s)",
                           port, d->model.local.chassis);
    return out;
}
