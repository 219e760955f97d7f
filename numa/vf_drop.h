/* vf_drop.h - every reason vfab drops a packet, each with its own counter.
 *
 * One X-macro table: the enum, the names shown by `vfabctl stats` and the
 * metrics all come from it, so a new reason cannot be added without a name.
 * Reason 0 is "none". Names are stable: scripts and tests match on them.
 * One reason per cause: a counter that two causes share cannot tell an
 * operator which one happened. README's drop table explains each.
 * It lives in numa/, the bottom layer, so that fabric, tunnel and pipeline
 * can all name their drops without a dependency pointing upward.
 */
#ifndef VF_DROP_H
#define VF_DROP_H

#define VF_DROP_REASONS(X)                                                   \
    X(NONE,              "none")                                             \
    /* parser */                                                             \
    X(RUNT,              "runt")            /* shorter than Ethernet */      \
    X(VLAN_TRUNC,        "vlan_truncated")                                   \
    X(ARP_TRUNC,         "arp_truncated")                                    \
    X(ARP_BAD,           "arp_malformed")   /* not Ethernet/IPv4 ARP */      \
    X(IP4_TRUNC,         "ipv4_truncated")                                   \
    X(IP4_BAD_VERSION,   "ipv4_bad_version")                                 \
    X(IP4_BAD_IHL,       "ipv4_bad_header_length")                           \
    X(IP4_BAD_LEN,       "ipv4_bad_total_length")                            \
    X(IP6_TRUNC,         "ipv6_truncated")                                   \
    X(IP6_BAD_VERSION,   "ipv6_bad_version")                                 \
    X(IP6_BAD_LEN,       "ipv6_bad_payload_length")                          \
    X(IP6_EXT_TRUNC,     "ipv6_ext_header_truncated")                        \
    X(IP6_EXT_LIMIT,     "ipv6_too_many_ext_headers")                        \
    X(TCP_TRUNC,         "tcp_truncated")                                    \
    X(TCP_BAD_OFF,       "tcp_bad_data_offset")                              \
    X(UDP_TRUNC,         "udp_truncated")                                    \
    X(UDP_BAD_LEN,       "udp_bad_length")                                   \
    X(ICMP_TRUNC,        "icmp_truncated")                                   \
    X(ICMP6_TRUNC,       "icmpv6_truncated")                                 \
    /* forwarding */                                                         \
    X(NO_ROUTE,          "no_route")        /* router: no route to dst */    \
    X(UNKNOWN_PORT,      "unknown_in_port") /* packet on an unmapped port */ \
    X(PORT_SECURITY,     "port_security")   /* spoofed source MAC/IP */      \
    X(PS_IP6_SOURCE,     "port_security_ipv6_source") /* not the port's */   \
    X(PS_ND,             "port_security_nd") /* NS/NA/RS not the port's */   \
    X(PS_RA,             "port_security_ra") /* router advertisement */      \
    X(PS_REDIRECT,       "port_security_redirect") /* ICMPv6 redirect */     \
    X(ACL_INGRESS,       "acl_ingress")                                      \
    X(ACL_EGRESS,        "acl_egress")                                       \
    X(TTL_EXPIRED,       "ttl_expired")                                      \
    X(ROUTER_NO_NH_MAC,  "router_no_next_hop_mac") /* next hop unknown */   \
    X(ROUTER_NOT_IP4,    "router_not_ipv4") /* only IPv4 is routed */        \
    X(ROUTER_OWN_ADDR,   "router_own_address") /* to the router itself */    \
    X(ROUTER_MISSING,    "router_missing")  /* its router not in tables */   \
    X(ROUTER_OUT_SWITCH, "router_out_switch_missing") /* not in tables */    \
    X(ROUTER_OUT_PORT,   "router_out_port_missing") /* not on its switch */  \
    X(OUTPUT_ROUTER_PORT, "output_to_router_port") /* not a VM port */       \
    X(FLOOD_EMPTY,       "flood_empty")     /* a flood reached no port */    \
    X(FLOOD_TOO_MANY,    "flood_too_many")  /* over VF_ACT_MAX_OUT outputs */\
    X(NO_ACTION,         "pipeline_no_action") /* a bug: no output, no why */\
    X(LOOP,              "pipeline_loop")   /* too many router hops */       \
    X(HAIRPIN,           "hairpin")         /* out port == in port */        \
    X(NO_BUFFER,         "no_buffer")       /* a pool was empty */           \
    X(COPY_TOO_BIG,      "copy_too_big")    /* frame over a copy's buffer */ \
    X(ENCAP_NO_HEADROOM, "encap_no_headroom") /* no room for outer hdrs */   \
    X(SEG_NO_ROOM,       "segment_no_room") /* a segment over its buffer */  \
    X(TX_FULL,           "tx_queue_full")   /* port's tx queue/budget full */\
    X(MTU,               "mtu_exceeded")                                     \
    X(PORT_DOWN,         "port_down")  /* VM not there (vhost-user guest) */ \
    /* connection tracking (pipeline/vf_conntrack.h): a packet conntrack */  \
    /* calls invalid (no connection can hold it: an unsolicited ACK or */    \
    /* SYN-ACK, a reply or ICMP error with nothing to answer), and a new */  \
    /* connection refused because the host's table or the port's zone */     \
    /* (max_connections) is full */                                          \
    X(CT_INVALID,        "ct_invalid")                                       \
    X(CT_TABLE_FULL,     "ct_table_full")                                    \
    X(CT_ZONE_FULL,      "ct_zone_full")                                     \
    /* stateful ACLs (pipeline/vf_acl.h): a new connection no rule allows */ \
    /* in a direction with allow-related rules; a packet of a tracked */     \
    /* connection the current rules no longer allow (after a change); a */   \
    /* reject rule (answered with a TCP RST or ICMP unreachable when the */  \
    /* sender can be answered); a later IP fragment on a stateful port */    \
    /* whose first fragment this worker did not pass */                      \
    X(ACL_STATEFUL_DENY, "acl_stateful_default_deny")                        \
    X(ACL_CT_BLOCKED,    "acl_ct_blocked")                                   \
    X(ACL_REJECT,        "acl_reject")                                       \
    X(CT_FRAG_NO_FIRST,  "ct_fragment_no_first")                             \
    /* tunnel decap */                                                       \
    X(TUN_TRUNC,         "tunnel_truncated")                                 \
    X(TUN_NOT_UDP,       "tunnel_not_udp")                                   \
    X(TUN_BAD_PORT,      "tunnel_unknown_udp_port")                          \
    X(TUN_BAD_VERSION,   "tunnel_bad_version")                               \
    X(TUN_BAD_FLAGS,     "tunnel_bad_flags")                                 \
    X(TUN_BAD_OPTLEN,    "tunnel_bad_option_length")                         \
    X(TUN_BAD_PROTO,     "tunnel_bad_protocol")                              \
    X(TUN_UNKNOWN_VNI,   "tunnel_unknown_vni")                               \
    X(TUN_BAD_EGRESS,    "tunnel_egress_port_not_in_vni")                    \
    /* outer source is no remote chassis of the fabric (address, or address  \
     * and port where chassis share an address) */                           \
    X(TUN_UNKNOWN_CHASSIS, "tunnel_unknown_chassis")                         \
    /* Geneve names an ingress port that is neither on the sending chassis   \
     * nor a router port of the VNI's switch */                              \
    X(TUN_IN_PORT_NOT_ON_CHASSIS, "tunnel_in_port_not_on_chassis")           \
    /* egress: a port on another chassis, and this host has no uplink */     \
    X(TUN_NO_UPLINK,     "tunnel_no_uplink")                                 \
    /* egress: a port on a chassis that is down (its store record is gone) */\
    X(TUN_CHASSIS_DOWN,  "tunnel_chassis_down")

enum vf_drop_reason {
#define VF_DROP_ENUM_(id, name) VF_DROP_##id,
    VF_DROP_REASONS(VF_DROP_ENUM_)
#undef VF_DROP_ENUM_
    VF_DROP__COUNT
};

/* Stable name of a reason ("ipv4_truncated"); "unknown" if out of range. */
const char *vf_drop_name(unsigned reason);

#endif
