/* vf_trace.h - follow one synthetic packet through the logical pipeline.
 *
 * What: `vfabctl trace PORT FIELD=VALUE...` injects a packet at a logical
 * port through the same tables and the same stage functions the workers
 * run (vf_logical.h); each stage notes its decision as (stage, text) and
 * the result lists what would happen: deliver (local port), tunnel
 * (chassis, VNI) or drop (reason), with one output per copy of a flood.
 * Plain C structs: mgmt turns them into the JSON of the control socket.
 *
 * The packet: fields not given take the in port's own addresses (eth_src,
 * ip_src: its MAC and first IPv4); eth_dst defaults to broadcast, ip_dst
 * to 255.255.255.255, ttl to 64, proto to ICMP (echo request) unless
 * sport/dport are given (then UDP), TCP flags to SYN. arp_op given makes
 * it an ARP packet (ip_src/ip_dst are then the sender/target IPs).
 *
 * Conntrack: with a table (vf_trace_run_ct), a stateful port's ACL stage
 * peeks the state the packet would have in the port's zone (vf_ct_peek:
 * nothing changes) and follows that state's verdict; the states seen are
 * in `ct`. Without one, the stage lists the verdict of every state and the
 * packet goes on as if its state allowed it.
 *
 * Thread-safety: reads the tables only; call from mgmt with the tables
 * kept alive (e.g. inside an RCU read-side section or as their owner).
 * Peeking conntrack is safe from the thread that runs vf_ct_reclaim (no
 * entry it reads can be reused meanwhile) or from an online RCU reader.
 */
#ifndef VF_TRACE_H
#define VF_TRACE_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/vf_tables.h"

#define VF_TRACE_MAX_STEPS 48
#define VF_TRACE_TEXT_MAX 160
#define VF_TRACE_MAX_OUT 64

enum vf_trace_fields {
    VF_TRACE_F_ETH_SRC = 1 << 0,
    VF_TRACE_F_ETH_DST = 1 << 1,
    VF_TRACE_F_IP_SRC = 1 << 2,
    VF_TRACE_F_IP_DST = 1 << 3,
    VF_TRACE_F_PROTO = 1 << 4,
    VF_TRACE_F_SPORT = 1 << 5,
    VF_TRACE_F_DPORT = 1 << 6,
    VF_TRACE_F_TTL = 1 << 7,
    VF_TRACE_F_ARP_OP = 1 << 8,
    VF_TRACE_F_TCP_FLAGS = 1 << 9,
};

struct vf_trace_pkt {
    unsigned fields;             /* enum vf_trace_fields: which are given */
    uint8_t eth_src[6], eth_dst[6];
    uint32_t ip_src, ip_dst;     /* network order */
    uint8_t proto;
    uint16_t sport, dport;       /* host order */
    uint8_t ttl;
    uint16_t arp_op;             /* 1 request, 2 reply */
    uint8_t tcp_flags;           /* FIN 0x01 SYN 0x02 RST 0x04 ACK 0x10 */
};

enum vf_trace_action { VF_TRACE_DELIVER, VF_TRACE_TUNNEL, VF_TRACE_DROP };

struct vf_trace_step {
    const char *stage;           /* static string: "l2", "router", ... */
    char text[VF_TRACE_TEXT_MAX];
};

struct vf_trace_output {
    enum vf_trace_action action; /* DELIVER or TUNNEL */
    char port[VF_TABLES_NAME_MAX];   /* "" for a flood copy to a chassis */
    uint32_t lport;              /* 0 for a flood copy */
    char chassis[VF_TABLES_NAME_MAX];/* TUNNEL: the destination chassis */
    uint32_t vni;
    uint16_t fport;              /* fabric port index it leaves on */
    uint16_t chassis_idx;        /* VF_CHASSIS_NONE when delivered */
    uint32_t in_lport;           /* TUNNEL: carried in the Geneve option */
};

struct vf_trace {
    unsigned n_steps;
    bool steps_truncated;
    struct vf_trace_step steps[VF_TRACE_MAX_STEPS];
    enum vf_trace_action action; /* DROP, or the first output's action */
    unsigned reason;             /* enum vf_drop_reason when dropped */
    const char *reason_name;     /* vf_drop_name(reason) */
    bool arp_reply;              /* the answer goes back out the in port */
    bool routed;                 /* rewrote MACs / TTL */
    unsigned n_out;              /* all outputs, even beyond out[] */
    struct vf_trace_output out[VF_TRACE_MAX_OUT];
    /* conntrack states the packet would have (stateful ports, with a
     * table): zone, enum vf_ct_state, in the replying direction */
    unsigned n_ct;
    struct {
        uint16_t zone;
        uint8_t state;
        bool reply;
    } ct[2];
};

/* Traces a packet entering at VM port `port` (by name). 0, -ENOENT if the
 * tables have no such VM port, -EINVAL on a packet that cannot be built
 * or parsed (the reason is then in tr->reason). */
int vf_trace_run(const struct vf_tables *t, const char *port,
                 const struct vf_trace_pkt *pkt, struct vf_trace *tr);
/* The same, peeking the packet's conntrack state in ct (may be NULL) at
 * time now_ms (vf_ct_now_ms for the daemon's table). */
struct vf_ct;
int vf_trace_run_ct(const struct vf_tables *t, const struct vf_ct *ct, uint64_t now_ms,
                    const char *port, const struct vf_trace_pkt *pkt,
                    struct vf_trace *tr);

/* Builds the frame vf_trace_run() would inject (tests compare it with the
 * hot path). Returns its length, or 0 if buf is too small (>= 128 is
 * enough). */
unsigned vf_trace_build_frame(const struct vf_lport *in,
                              const struct vf_trace_pkt *pkt, uint8_t *buf,
                              unsigned buflen);

#endif
