/* trace.c - run the real stages on one synthetic packet and record them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "numa/vf_drop.h"
#include "numa/vf_wire.h"
#include "pipeline/vf_logical.h"
#include "pipeline/vf_trace.h"

void vf_fmt_mac(char out[18], const uint8_t m[6])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
             m[4], m[5]);
}

void vf_fmt_ip(char out[16], uint32_t ip_net)
{
    const uint8_t *b = (const uint8_t *)&ip_net;
    snprintf(out, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

void vf_trace_note(struct vf_trace *tr, const char *stage, const char *fmt, ...)
{
    if (!tr)
        return;
    if (tr->n_steps >= VF_TRACE_MAX_STEPS) {
        tr->steps_truncated = true;
        return;
    }
    struct vf_trace_step *s = &tr->steps[tr->n_steps++];
    s->stage = stage;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->text, sizeof(s->text), fmt, ap);
    va_end(ap);
}

unsigned vf_trace_build_frame(const struct vf_lport *in,
                              const struct vf_trace_pkt *pk, uint8_t *buf,
                              unsigned buflen)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    unsigned f = pk->fields;
    const uint8_t *src = f & VF_TRACE_F_ETH_SRC ? pk->eth_src : in->mac;
    const uint8_t *dst = f & VF_TRACE_F_ETH_DST ? pk->eth_dst : bcast;
    uint32_t ip_src = f & VF_TRACE_F_IP_SRC ? pk->ip_src
                      : in->n_ips ? in->ips[0] : 0;
    uint32_t ip_dst = f & VF_TRACE_F_IP_DST ? pk->ip_dst : 0xffffffffu;

    if (buflen < 128)
        return 0;
    memset(buf, 0, 128);
    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    if (f & VF_TRACE_F_ARP_OP) {
        uint8_t *a = buf + 14;
        vf_wire_put16(buf + 12, VF_ETH_P_ARP);
        a[0] = 0; a[1] = 1;            /* Ethernet */
        a[2] = 0x08; a[3] = 0x00;      /* IPv4 */
        a[4] = 6; a[5] = 4;
        a[6] = (uint8_t)(pk->arp_op >> 8);
        a[7] = (uint8_t)pk->arp_op;
        memcpy(a + 8, src, 6);
        memcpy(a + 14, &ip_src, 4);
        if (pk->arp_op == 2)
            memcpy(a + 18, dst, 6);
        memcpy(a + 24, &ip_dst, 4);
        return 60;
    }
    uint8_t proto = f & VF_TRACE_F_PROTO ? pk->proto
                    : (f & (VF_TRACE_F_SPORT | VF_TRACE_F_DPORT)) ? VF_IPPROTO_UDP
                    : VF_IPPROTO_ICMP;
    unsigned l4len = proto == VF_IPPROTO_TCP ? 20 : 8;
    uint8_t *ip = buf + 14;
    vf_wire_put16(buf + 12, VF_ETH_P_IP);
    ip[0] = 0x45;
    ip[2] = (uint8_t)((20 + l4len) >> 8);
    ip[3] = (uint8_t)(20 + l4len);
    ip[8] = f & VF_TRACE_F_TTL ? pk->ttl : 64;
    ip[9] = proto;
    memcpy(ip + 12, &ip_src, 4);
    memcpy(ip + 16, &ip_dst, 4);
    vf_wire_put16(ip + 10, vf_csum(ip, VF_IP4_HDR_LEN));
    uint8_t *l4 = ip + 20;
    if (proto == VF_IPPROTO_TCP || proto == VF_IPPROTO_UDP) {
        l4[0] = (uint8_t)(pk->sport >> 8); l4[1] = (uint8_t)pk->sport;
        l4[2] = (uint8_t)(pk->dport >> 8); l4[3] = (uint8_t)pk->dport;
        if (proto == VF_IPPROTO_TCP) {
            l4[12] = 5 << 4;
            l4[13] = f & VF_TRACE_F_TCP_FLAGS ? pk->tcp_flags : 0x02;
        }
        else
            l4[5] = 8;
    } else if (proto == VF_IPPROTO_ICMP) {
        l4[0] = 8;                      /* echo request */
    }
    unsigned len = 14 + 20 + l4len;
    return len < 60 ? 60 : len;
}

static const char *lport_name(const struct vf_tables *t, uint32_t dp_id,
                              uint32_t lport)
{
    const struct vf_dp *dp = vf_tables_dp_by_id(t, dp_id);
    uint32_t i = dp ? vf_hmap_get(&dp->by_id, lport) : UINT32_MAX;
    return i == UINT32_MAX ? "" : dp->ports[i].name;
}

void vf_trace_ct_seen(struct vf_trace *tr, uint16_t zone, unsigned state, bool reply)
{
    if (!tr || tr->n_ct >= 2)
        return;
    tr->ct[tr->n_ct].zone = zone;
    tr->ct[tr->n_ct].state = (uint8_t)state;
    tr->ct[tr->n_ct].reply = reply;
    tr->n_ct++;
}

int vf_trace_run(const struct vf_tables *t, const char *port,
                 const struct vf_trace_pkt *pkt, struct vf_trace *tr)
{
    return vf_trace_run_ct(t, NULL, 0, port, pkt, tr);
}

int vf_trace_run_ct(const struct vf_tables *t, const struct vf_ct *ct, uint64_t now_ms,
                    const char *port, const struct vf_trace_pkt *pkt,
                    struct vf_trace *tr)
{
    struct vf_act_ct checks;
    union vf_act_buf buf;
    uint8_t frame[128];
    struct vf_hdr_offsets off;
    uint32_t in;

    memset(tr, 0, sizeof(*tr));
    tr->action = VF_TRACE_DROP;
    const struct vf_dp *dp = vf_tables_find_port(t, port, &in);
    if (!dp || dp->ports[in].kind != VF_LPORT_VM)
        return -ENOENT;
    unsigned len = vf_trace_build_frame(&dp->ports[in], pkt, frame, sizeof(frame));
    struct vf_lctx c = { .t = t, .tr = tr, .act = &buf.act, .ct = &checks,
                         .trace_ct = ct, .trace_now = now_ms, .frame = frame,
                         .frame_len = len, .off = &off };
    checks.n = 0;
    memset(&buf.act, 0, sizeof(buf.act));
    int r = vf_parse(frame, len, &c.key, &off);
    if (r) {
        tr->reason = (unsigned)r;
        tr->reason_name = vf_drop_name((unsigned)r);
        return -EINVAL;
    }
    vf_logical_ingress(&c, dp, in);

    const struct vf_act *a = &buf.act;
    tr->n_out = a->n_out;
    tr->arp_reply = a->flags & VF_ACT_ARP_REPLY;
    tr->routed = a->flags & VF_ACT_SET_MAC;
    if (a->n_out == 0) {
        tr->reason = a->drop;
        tr->reason_name = vf_drop_name(a->drop);
        return 0;
    }
    tr->reason_name = vf_drop_name(VF_DROP_NONE);
    for (unsigned i = 0; i < a->n_out && i < VF_TRACE_MAX_OUT; i++) {
        const struct vf_act_out *o = &a->out[i];
        struct vf_trace_output *to = &tr->out[i];
        bool local = o->chassis == VF_CHASSIS_NONE;
        to->action = local ? VF_TRACE_DELIVER : VF_TRACE_TUNNEL;
        to->lport = o->out_lport;
        to->vni = o->vni;
        to->fport = o->fport;
        to->chassis_idx = o->chassis;
        to->in_lport = o->in_lport;
        if (o->out_lport)
            snprintf(to->port, sizeof(to->port), "%s",
                     lport_name(t, a->datapath, o->out_lport));
        if (!local)
            snprintf(to->chassis, sizeof(to->chassis), "%s",
                     t->chassis[o->chassis].name);
        else if (t->local_chassis >= 0)
            snprintf(to->chassis, sizeof(to->chassis), "%s",
                     t->chassis[t->local_chassis].name);
    }
    tr->action = tr->out[0].action;
    return 0;
}
