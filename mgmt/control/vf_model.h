/* vf_model.h - the desired state: what the operator asked for.
 *
 * What: the in-memory form of the YAML desired state (schema in
 * shared/ARCHITECTURE.md and docs/config.md): chassis, tenants with their
 * logical switches, ports, routers and ACLs, and this host's `local` part.
 * vf_config_load() (config.c, with the schema in schema.c) fills it from
 * YAML and vf_model_validate() (validate.c) checks everything that YAML
 * typing cannot: unique names and VNIs, references that resolve,
 * addresses that parse, port security that has addresses to enforce, one
 * logical port per backend object (a tap interface name per chassis). The
 * table compiler (compile.c) turns a valid model into the immutable tables
 * the workers read. The kinds of object and where they sit are one table
 * (vf_kinds.h).
 *
 * Identity: logical port ids are what Geneve carries between hosts, so
 * every chassis must assign the same ids, and an id must not move when an
 * unrelated object is added (hosts learn of a change at different times).
 * vf_model_validate() makes them functions of names: a switch's datapath
 * id is its VNI; a port's and a router port's id (one space, unique across
 * tenants) and a router's id are a 31-bit hash of the object's globally
 * unique name, collisions settled by probing upward in sorted-name order
 * (ids.c). Id 0 means "none".
 *
 * Ownership: arrays are heap-allocated and owned by the model;
 * vf_model_free() releases everything (accepts NULL and a zeroed model).
 * Strings are fixed-size and always NUL-terminated.
 *
 * Thread-safety: owned by the management thread only; workers never see
 * the model, only compiled tables.
 */
#ifndef VF_MODEL_H
#define VF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_NAME_MAX 64
#define VF_ATTACH_SOCKET_MAX 108 /* sizeof(sun_path) */
#define VF_MODEL_MAX_IPS 8       /* IPv4 addresses of one port */
#define VF_MODEL_MAX_IP6S 8      /* IPv6 addresses of one port */
#define VF_MODEL_CT_TIMEOUTS 14  /* VF_CT_TO__COUNT (checked in daemon_ct.c) */
#define VF_MODEL_MAX_GW_CHASSIS 8  /* a gateway port's chassis list */
#define VF_MODEL_MAX_PHYSNETS 16   /* local.physical_networks */
#define VF_MODEL_IFNAME_MAX 16     /* IFNAMSIZ */

/* The model owns its enums (the compiler and the daemon map them to the
 * data plane's): a program that only reads desired state needs no tunnel,
 * topology or hwloc header.
 *
 * One X-macro per enum, X(ID, "spelling"): the C value is the prefix plus
 * ID, numbered from 0 in this order, and the spelling is what YAML, JSON,
 * `show` and every message use (struct vf_model_enum below). A new value
 * is one line here. ACL protocols carry their IP protocol number as a third
 * column; their order is the order messages list them in. */
#define VF_MODEL_ENCAPS(X) X(GENEVE, "geneve") X(VXLAN, "vxlan")
#define VF_ATTACH_TYPES(X) X(RING, "ring") X(TAP, "tap") X(VERBS, "verbs") \
    X(VHOST_USER, "vhost-user")
/* vhost-user: vfab connects to the socket QEMU serves (client, the
 * default: vfabd restarts without the VM), or listens on it (server). */
#define VF_ATTACH_MODES(X) X(CLIENT, "client") X(SERVER, "server")
#define VF_UPLINK_TYPES(X) X(RING, "ring") X(UDP, "udp") X(VERBS, "verbs")
#define VF_ACL_DIRS(X) X(FROM_PORT, "from-port") X(TO_PORT, "to-port")
/* allow-related | reject: security groups (docs/config.md) */
#define VF_ACL_ACTIONS(X) X(ALLOW, "allow") X(DROP, "drop") \
    X(ALLOW_RELATED, "allow-related") X(REJECT, "reject")
#define VF_ACL_PROTOS(X) \
    X(TCP, "tcp", 6) X(UDP, "udp", 17) X(ICMP, "icmp", 1) \
    X(ICMP6, "icmp6", 58) X(ANY, "any", 0)
/* Gateways (issue 16, docs/config.md "Gateways, NAT, load balancers"). */
#define VF_NAT_TYPES(X) X(SNAT, "snat") X(DNAT, "dnat") \
    X(DNAT_AND_SNAT, "dnat_and_snat")
#define VF_LB_PROTOS(X) X(TCP, "tcp") X(UDP, "udp")

enum vf_model_encap {
#define VF_ENUM_(id, s) VF_MODEL_ENCAP_##id,
    VF_MODEL_ENCAPS(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_attach_type {
#define VF_ENUM_(id, s) VF_ATTACH_##id,
    VF_ATTACH_TYPES(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_attach_mode {
#define VF_ENUM_(id, s) VF_ATTACH_MODE_##id,
    VF_ATTACH_MODES(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_uplink_type {
#define VF_ENUM_(id, s) VF_UPLINK_##id,
    VF_UPLINK_TYPES(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_acl_dir {
#define VF_ENUM_(id, s) VF_ACL_##id,
    VF_ACL_DIRS(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_acl_action {
#define VF_ENUM_(id, s) VF_ACL_##id,
    VF_ACL_ACTIONS(VF_ENUM_)
#undef VF_ENUM_
};
/* Stored as the IP protocol number (vf_model_acl.proto). */
enum vf_acl_proto {
#define VF_ENUM_(id, s, num) VF_ACL_PROTO_##id = num,
    VF_ACL_PROTOS(VF_ENUM_)
#undef VF_ENUM_
};

enum vf_nat_type {
#define VF_ENUM_(id, s) VF_NAT_##id,
    VF_NAT_TYPES(VF_ENUM_)
#undef VF_ENUM_
};
enum vf_lb_proto {
#define VF_ENUM_(id, s) VF_LB_##id,
    VF_LB_PROTOS(VF_ENUM_)
#undef VF_ENUM_
};

/* An enum's spellings, for the loader, messages and JSON (model.c). */
struct vf_model_enum {
    unsigned n;
    const char *const *names;   /* in X-macro order */
    const int *values;          /* the C value of each */
};
extern const struct vf_model_enum vf_model_encaps, vf_attach_types,
    vf_attach_modes, vf_uplink_types, vf_acl_dirs, vf_acl_actions,
    vf_acl_protos, vf_nat_types, vf_lb_protos;

/* An address or prefix of either family (ACL matches, address sets). */
struct vf_model_prefix {
    uint8_t family;              /* 4 or 6; 0 in an ACL match: not given */
    uint8_t plen;                /* 0..32 / 0..128 */
    uint8_t addr[16];            /* network order; IPv4 in the first 4 */
};

struct vf_model_chassis {
    char name[VF_NAME_MAX];
    uint32_t underlay_ip;        /* network order */
    uint16_t udp_port;           /* host order; 0 = the encap's default */
    enum vf_model_encap encap;
};

struct vf_model_attach {
    enum vf_attach_type type;
    char name[VF_NAME_MAX];      /* tap: interface name (unique per chassis) */
    char device[VF_NAME_MAX];    /* verbs: device name */
    /* vhost-user: the Unix socket's path (unique per chassis; a
     * sun_path holds 107 characters) and who listens on it. */
    char socket[VF_ATTACH_SOCKET_MAX];
    enum vf_attach_mode mode;
};

struct vf_model_port {
    char name[VF_NAME_MAX];      /* unique in the whole model */
    uint8_t mac[6];
    unsigned n_ips;
    uint32_t ips[VF_MODEL_MAX_IPS];  /* network order */
    /* IPv6 entries of the same `ips:` list (shown after the IPv4 ones);
     * the port's MAC-derived link-local address is implied, not listed. */
    unsigned n_ip6s;
    uint8_t ip6s[VF_MODEL_MAX_IP6S][16];
    char chassis[VF_NAME_MAX];
    int chassis_idx;             /* resolved by validate */
    struct vf_model_attach attach;
    bool port_security;
    /* Connections its conntrack zone may hold (security groups); 0: the
     * daemon's default (vfabd --ct-zone-max). */
    uint32_t max_connections;
    uint32_t id;                 /* assigned logical port id */
};

/* A switch's `physical:` binding (OVN's localnet port): its frames to
 * and from the outside cross the host interface that local.
 * physical_networks names for `network`, on each chassis that offers it. */
struct vf_model_physical {
    char network[VF_NAME_MAX];   /* "" = not bound */
    uint16_t vlan;               /* 0 = untagged, 1..4094 */
};

struct vf_model_switch {
    char name[VF_NAME_MAX];      /* unique in the whole model */
    uint32_t vni;                /* unique, 1..2^24-1 */
    size_t n_ports;
    struct vf_model_port *ports;
    struct vf_model_physical physical;
    uint32_t id;                 /* datapath id, assigned */
};

struct vf_model_rport {
    char name[VF_NAME_MAX];
    char sw[VF_NAME_MAX];        /* the switch it attaches to (same tenant) */
    int switch_idx;              /* index in the tenant's switches, resolved */
    uint8_t mac[6];
    uint32_t ip;                 /* network order */
    uint8_t plen;                /* from cidr */
    /* A gateway port (its switch is physical): served on one chassis at a
     * time, the first of this list without the store (static). */
    unsigned n_gw_chassis;
    char gw_chassis[VF_MODEL_MAX_GW_CHASSIS][VF_NAME_MAX];
    int gw_chassis_idx[VF_MODEL_MAX_GW_CHASSIS];  /* resolved */
    uint32_t id;                 /* logical port id on that switch */
};

struct vf_model_route {
    uint32_t prefix;             /* network order, host bits zero */
    uint8_t plen;
    uint32_t nexthop;            /* network order */
};

/* A router's NAT rule, applied on its gateway port (the external_ip is
 * inside that port's subnet). snat: logical_ip is a prefix, connections
 * from it leave as external_ip with a port from the range; dnat: inbound
 * to external_ip goes to logical_ip; dnat_and_snat: both, 1:1 (a floating
 * IP). */
struct vf_model_nat {
    enum vf_nat_type type;
    uint32_t external_ip;        /* network order */
    uint32_t logical_ip;         /* network order */
    uint8_t logical_plen;        /* 32 for dnat and dnat_and_snat */
    uint16_t port_lo, port_hi;   /* snat: external_port_range (host order);
                                  * 0-65535: the default, 1024-65535 */
};

struct vf_model_router {
    char name[VF_NAME_MAX];
    size_t n_ports;
    struct vf_model_rport *ports;
    size_t n_routes;
    struct vf_model_route *routes;
    size_t n_nats;
    struct vf_model_nat *nats;
    uint32_t id;
};

/* Scope: one port (`port`), a port group (`port_group`, no `switch`
 * needed: every switch with a member), or a whole switch. */
struct vf_model_acl {
    char sw[VF_NAME_MAX];        /* switch the ACL applies to ("" with a
                                  * port group) */
    int switch_idx;              /* resolved; -1 with a port group */
    char port[VF_NAME_MAX];      /* optional: only this port ("" = all) */
    char port_group[VF_NAME_MAX];/* optional: the ports of this group */
    int pgroup_idx;              /* resolved; -1 = none */
    enum vf_acl_dir dir;
    int32_t priority;            /* higher wins; 0..65535 */
    enum vf_acl_action action;
    uint8_t proto;               /* 0 = any; tcp 6, udp 17, icmp 1, icmp6 58 */
    /* Addresses: a prefix of either family (family 0: not given, any
     * address of both families), or an address set ("$name" in YAML;
     * *_set names the set, *_set_idx resolved by validate). */
    struct vf_model_prefix src, dst;
    char src_set[VF_NAME_MAX], dst_set[VF_NAME_MAX];
    int src_set_idx, dst_set_idx;
    /* host order; 0..65535 = any. ICMP/ICMPv6: type in sport, code in
     * dport (YAML `icmp_type`, `icmp_code`). */
    uint16_t sport_lo, sport_hi;
    uint16_t dport_lo, dport_hi;
};

/* A tenant's named set of switch ports (any of its switches). */
struct vf_model_pgroup {
    char name[VF_NAME_MAX];      /* unique in the tenant */
    size_t n_ports;
    char (*ports)[VF_NAME_MAX];
    /* Resolved by validate (owned, freed with the model): ports[i] is
     * port refs[i].port of switch refs[i].sw. */
    struct vf_model_pgref { uint32_t sw, port; } *refs;
};

/* A tenant's named list of prefixes of both families. */
struct vf_model_aset {
    char name[VF_NAME_MAX];      /* unique in the tenant */
    size_t n_addrs;
    struct vf_model_prefix *addrs;
};

/* A load balancer: connections to vip:vip_port (proto) from a switch or
 * router it is attached to go to one of the backends. */
struct vf_model_lb_ep {
    uint32_t ip;                 /* network order */
    uint16_t port;               /* host order */
};
struct vf_model_lb {
    char name[VF_NAME_MAX];      /* unique in the whole model */
    uint32_t vip;                /* network order */
    uint16_t vip_port;           /* host order */
    enum vf_lb_proto proto;
    size_t n_backends;
    struct vf_model_lb_ep *backends;
    size_t n_switches;           /* attached to: switches of the tenant */
    char (*switches)[VF_NAME_MAX];
    size_t n_routers;            /* and routers of the tenant */
    char (*routers)[VF_NAME_MAX];
};

struct vf_model_tenant {
    char name[VF_NAME_MAX];
    size_t n_switches;
    struct vf_model_switch *switches;
    size_t n_routers;
    struct vf_model_router *routers;
    size_t n_acls;
    struct vf_model_acl *acls;
    size_t n_pgroups;
    struct vf_model_pgroup *pgroups;
    size_t n_asets;
    struct vf_model_aset *asets;
    size_t n_lbs;
    struct vf_model_lb *lbs;
};

/* local.workers: auto, a count, or a list of OS cpu numbers; the daemon
 * places them (numa/vf_topo.h vf_topo_place). */
#define VF_MODEL_MAX_WORKERS 64
enum vf_model_workers_mode {
    VF_MODEL_WORKERS_AUTO, VF_MODEL_WORKERS_COUNT, VF_MODEL_WORKERS_LIST,
};
struct vf_model_workers {
    enum vf_model_workers_mode mode;
    int count;                   /* COUNT */
    int n_cpus;                  /* LIST */
    int cpus[VF_MODEL_MAX_WORKERS];
};

/* local.store: where this host's fabric comes from (vfabd --store,
 * docs/store.md). endpoints "" = no store (the -c file holds the fabric). */
#define VF_MODEL_STORE_URLS 1024
#define VF_MODEL_STORE_PATH 256
#define VF_MODEL_STORE_TTL_DEFAULT 10
struct vf_model_store {
    bool given;                            /* local.store is there */
    char endpoints[VF_MODEL_STORE_URLS];   /* "URL[,URL...]" */
    char prefix[VF_MODEL_STORE_PATH];      /* "" = "/vfab/"; ends in '/' */
    uint32_t lease_ttl;                    /* s, 2..300; 0 = default 10 */
    char ca[VF_MODEL_STORE_PATH];          /* tls: files, "" = none */
    char cert[VF_MODEL_STORE_PATH];
    char key[VF_MODEL_STORE_PATH];
};

struct vf_model_local {
    char chassis[VF_NAME_MAX];
    int chassis_idx;             /* resolved */
    struct vf_model_workers workers;
    enum vf_uplink_type uplink;
    uint32_t bind_ip;            /* udp: network order */
    uint16_t bind_port;          /* udp: host order; 0 = encap default */
    char device[VF_NAME_MAX];    /* verbs */
    int device_port;             /* verbs port number, default 1 */
    uint32_t metrics_ip;         /* metrics HTTP: network order */
    uint16_t metrics_port;       /* host order; 0 = no metrics server */
    /* Conntrack timeouts in seconds, in the order of pipeline/
     * vf_conntrack.h's VF_CT_TIMEOUTS (`ct_timeouts: {tcp_established:
     * 3600, ...}`); 0: the default. */
    uint32_t ct_timeouts[VF_MODEL_CT_TIMEOUTS];
    /* physical_networks: {NAME: IFNAME}: the host interface of each
     * physical network this chassis offers (OVN's bridge mappings). */
    unsigned n_physnets;
    struct vf_model_physnet {
        char name[VF_NAME_MAX];
        char ifname[VF_MODEL_IFNAME_MAX];
    } physnets[VF_MODEL_MAX_PHYSNETS];
    struct vf_model_store store; /* local.store (config_store.c) */
};

struct vf_model {
    size_t n_chassis;
    struct vf_model_chassis *chassis;
    size_t n_tenants;
    struct vf_model_tenant *tenants;
    bool has_local;
    struct vf_model_local local;
};

/* Where a validation error lies, as a path into the YAML document:
 * key[0][idx[0]] key[1][idx[1]] ... then field (dotted for nested mappings,
 * "attach.name"; "" for the entry itself). idx SIZE_MAX means key names a
 * mapping, not a list ("local"). The loader uses it to find the line. */
#define VF_MODEL_LOC_DEPTH 3
struct vf_model_errloc {
    unsigned depth;
    const char *key[VF_MODEL_LOC_DEPTH];
    size_t idx[VF_MODEL_LOC_DEPTH];
    const char *field;
};

void vf_model_free(struct vf_model *m);
/* Checks cross-references and uniqueness; resolves *_idx fields and assigns
 * ids. 0, or -EINVAL with err naming the entry and field, e.g.
 * "tenants[0] (blue) switches[1] (blue-db) ports[2] (vm3): field 'chassis':
 * \"hv9\" is not a chassis of the fabric (chassis: hv1, hv2)". On failure
 * the model is left allocated (the caller still owns it; ids may be stale). */
int vf_model_validate(struct vf_model *m, char *err, size_t errlen);
/* Same, and fills loc (may be NULL) with where the error is. */
int vf_model_validate_loc(struct vf_model *m, char *err, size_t errlen,
                          struct vf_model_errloc *loc);

/* Finds a switch port by name (names are unique in a valid model): 0 and
 * the indexes, or -ENOENT. Router ports are not switch ports. */
int vf_model_find_port(const struct vf_model *m, const char *name,
                       size_t *tenant, size_t *sw, size_t *port);
/* A port's IPv6 link-local address from its MAC (fe80::/64, modified
 * EUI-64: the universal/local bit flipped). Port security always allows
 * it; it counts as one of the port's addresses on its switch. */
void vf_model_lla(const uint8_t mac[6], uint8_t lla[16]);
/* Index of the chassis called name, or -1. */
int vf_model_find_chassis(const struct vf_model *m, const char *name);
/* The UDP port a chassis receives tunnels on: its `port`, else its encap's
 * IANA port (Geneve 6081, VXLAN 4789). */
uint16_t vf_model_chassis_port(const struct vf_model_chassis *ch);

/* The spelling of value in e, or NULL when it has none. */
const char *vf_model_enum_name(const struct vf_model_enum *e, int value);
/* The value spelt s: true and *value, or false. */
bool vf_model_enum_parse(const struct vf_model_enum *e, const char *s,
                         int *value);
/* "a, b or c": every spelling, for "is not ..." messages. */
void vf_model_enum_list(const struct vf_model_enum *e, char *buf, size_t len);

/* The YAML spelling of each enum ("geneve", "tap", "to-port", ...), for
 * show/JSON output; "?" for a value out of range. */
const char *vf_model_encap_name(enum vf_model_encap e);
const char *vf_attach_type_name(enum vf_attach_type t);
const char *vf_attach_mode_name(enum vf_attach_mode m);
const char *vf_uplink_type_name(enum vf_uplink_type t);
const char *vf_acl_dir_name(enum vf_acl_dir d);
const char *vf_acl_action_name(enum vf_acl_action a);

/* Loads and validates a YAML file. 0, or -EINVAL (err names the file, the
 * entry and the field; line numbers where the YAML layer knows them), or
 * -errno for I/O. m is output only: it is overwritten, not freed, so pass an
 * empty or uninitialised model. On failure the model is left empty (zeroed,
 * nothing allocated). */
int vf_config_load(const char *path, struct vf_model *m, char *err,
                   size_t errlen);
/* A host's file for vfabd --store: only `local:` (the fabric comes from
 * etcd). Anything else at the top is refused, naming what to drop. m gets
 * has_local and local (chassis_idx unresolved: the fabric is not known
 * yet); nothing else. 0, -EINVAL (err: FILE:LINE and why) or -errno. */
int vf_config_load_local(const char *path, struct vf_model *m, char *err,
                         size_t errlen);
/* Same from a string (tests, and `vfabctl apply` sending file contents). */
int vf_config_load_string(const char *yaml, size_t len, struct vf_model *m,
                          char *err, size_t errlen);

#endif
