/* vf_tables.h - the compiled, immutable tables the workers read.
 *
 * What: mgmt/control/compile.c turns the desired state
 * (mgmt/control/vf_model.h) into one snapshot of everything this host's
 * pipeline needs: the logical datapaths (switches) its local ports sit on
 * plus every switch reachable from them through a logical router, the
 * routers, the chassis of the fabric with a prepared tunnel header
 * template each (struct vf_tunnel_peer), VNI -> datapath, and fabric port
 * index -> (datapath, logical port). Workers read one snapshot per burst
 * (vf_worker.h) and never see the model.
 *
 * Basic design:
 *   - A datapath (struct vf_dp) holds its logical ports (VM ports and the
 *     router ports attached to it) with exact-match hashes by MAC, by IPv4
 *     address (ARP responder, next-hop resolution) and by logical port id
 *     (tunnel egress), the flood list (local VM ports, and one entry per
 *     remote chassis that has a VM port on it), and two classifiers: the
 *     switch's from-port ACLs (ingress) and to-port ACLs (egress), scoped by
 *     logical port id so a per-port ACL is one rule with a fixed scope.
 *   - A router (struct vf_router) holds its ports (each names the datapath
 *     it attaches to by id, never by pointer) and its routes, connected
 *     networks included, sorted longest prefix first.
 *   - Sharing: datapaths and routers are separately refcounted objects.
 *     Each keeps the canonical byte string of the model inputs it was
 *     compiled from ("blob"); a new compile reuses the previous snapshot's
 *     object when the blob is byte-identical, so a change recompiles only
 *     the switches (and routers) whose inputs changed. Routers refer to
 *     datapaths by id through the snapshot's maps, which is what lets an
 *     unchanged router survive a change of a switch it attaches to. The
 *     snapshot-wide parts (maps, chassis, fabric port map) are rebuilt on
 *     every compile: they are proportional to this host's share, not to
 *     the ACLs, so they are cheap.
 *
 * Invariants: a snapshot never changes after vf_compile() returns it.
 * lport.fport is non-NULL only for VM ports on the local chassis that mgmt
 * opened. Every dp/router pointer in a snapshot holds one reference.
 *
 * Thread-safety: workers read a snapshot concurrently without locks; they
 * never touch the refcounts. mgmt compiles, publishes and frees on its own
 * thread: vf_publish() frees the previous snapshot itself, after
 * synchronize_rcu() (mgmt/daemon/vf_publish.h; there is no call_rcu callback
 * thread). So every refcount change happens on the management thread
 * today; they are atomic anyway, which costs nothing there and keeps a
 * free on another thread (a deferred free, should one be added) correct.
 * The snapshot mgmt compiles from holds its own references, so a shared
 * object never reaches zero while another snapshot uses it.
 * vf_tables_free() must only run after an RCU grace period following the
 * snapshot's unpublication.
 */
#ifndef VF_TABLES_H
#define VF_TABLES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fabric/vf_port.h"
#include "pipeline/vf_classifier.h"
#include "tunnel/vf_tunnel.h"

#define VF_TABLES_NAME_MAX 64
/* Fabric port indexes the tables map (t->fports) and a worker can stage
 * packets for (vf_worker.h): every open port's index is below it. */
#define VF_MAX_FPORTS 4096
#define VF_LPORT_MAX_IPS 8
#define VF_LPORT_MAX_IP6S 8
#define VF_CHASSIS_NONE 0xffffu

enum vf_lport_kind { VF_LPORT_VM = 0, VF_LPORT_ROUTER = 1 };

/* An exact-match open-addressing hash: 64-bit key -> 32-bit index. Built
 * once by mgmt (load factor <= 1/2, so a probe sequence is short and always
 * ends at an empty slot). vals hold index + 1; 0 marks an empty slot. */
struct vf_hmap {
    uint32_t mask;
    uint64_t *keys;
    uint32_t *vals;
};

struct vf_lport {
    uint32_t id;                 /* logical port id (what Geneve carries) */
    uint8_t kind;                /* enum vf_lport_kind */
    bool port_security;
    bool local;                  /* VM port on this chassis */
    /* Remote VM port whose chassis is down (no live record in the store,
     * vf_compile_env.chassis_down): unreachable, tunnel_chassis_down. */
    bool chassis_down;
    uint8_t n_ips;
    uint8_t mac[6];
    uint16_t chassis;            /* VM port: index in t->chassis */
    uint32_t ips[VF_LPORT_MAX_IPS];  /* network order */
    /* IPv6, what port security allows a VM port to send from: its
     * MAC-derived link-local address and the modelled ones. */
    uint8_t n_ip6s;
    uint8_t lla[16];
    uint8_t ip6s[VF_LPORT_MAX_IP6S][16];
    struct vf_port *fport;       /* local VM port: its fabric port */
    /* Stateful ACLs (pipeline/vf_acl.h), VM ports only: the directions
     * with allow-related rules (VF_LPORT_CT_FROM/TO; 0: not tracked), the
     * conntrack zone of a tracked local port (0: none) and its limit of
     * connections (max_connections; 0: the host's default). */
    uint8_t ct_flags;
    uint16_t ct_zone;
    uint32_t ct_max;
    uint32_t router_id;          /* router port: the router's id */
    uint32_t rport_idx;          /* router port: index in router->ports */
    char name[VF_TABLES_NAME_MAX];
};

struct vf_dp {
    _Atomic uint32_t refcnt;     /* mgmt/RCU thread: rw (acq_rel) */
    uint32_t id;                 /* datapath id (model switch id) */
    uint32_t vni;
    char name[VF_TABLES_NAME_MAX];
    uint32_t n_ports;
    struct vf_lport *ports;
    struct vf_hmap by_mac;       /* MAC (48 bits) -> port index */
    struct vf_hmap by_ip;        /* IPv4 (network order) -> port index */
    struct vf_hmap by_id;        /* lport id -> port index */
    uint32_t n_flood_local;
    uint32_t *flood_local;       /* local VM port indexes */
    uint32_t n_flood_remote;
    uint16_t *flood_remote;      /* chassis indexes with VM ports here */
    struct vf_classifier *acl_in;   /* from-port ACLs; NULL if none */
    struct vf_classifier *acl_out;  /* to-port ACLs; NULL if none */
    struct vf_classifier *acl_in6;  /* the same for IPv6 (vf_acl.h) */
    struct vf_classifier *acl_out6;
    uint32_t n_acl_in, n_acl_out;   /* model rules (before splitting) */
    size_t blob_len;
    uint8_t *blob;               /* compile inputs, for sharing */
};

struct vf_route {
    uint32_t prefix;             /* host order, host bits zero */
    uint32_t mask;               /* host order */
    uint8_t plen;
    bool connected;
    uint32_t nexthop;            /* network order; 0 for connected */
    uint32_t out;                /* index in router->ports; UINT32_MAX: none */
};

/* A next hop outside the fabric, learned by ARP on a gateway port's
 * physical network (mgmt/daemon/gateway.c): its MAC is not in the model. */
#define VF_RPORT_MAX_NEIGH 16
struct vf_neigh {
    uint32_t ip;                 /* network order */
    uint8_t mac[6];
};

struct vf_rport {
    uint32_t lport_id;
    uint32_t dp_id;              /* the switch it attaches to */
    uint8_t mac[6];
    uint8_t plen;
    uint32_t ip;                 /* network order */
    uint32_t n_neigh;            /* gateway port: next hops learned */
    struct vf_neigh neigh[VF_RPORT_MAX_NEIGH];
    /* A gateway port served on another chassis: a next hop without a
     * MAC here leaves with destination MAC 00:00:00:00:00:00, which is the
     * switch's localnet, so it is tunnelled to the serving chassis and
     * resolved there (vf_stage_gw_resolve). */
    bool redirect;
    char name[VF_TABLES_NAME_MAX];
};

struct vf_router {
    _Atomic uint32_t refcnt;
    uint32_t id;
    char name[VF_TABLES_NAME_MAX];
    uint32_t n_ports;
    struct vf_rport *ports;
    uint32_t n_routes;
    struct vf_route *routes;     /* longest prefix first */
    size_t blob_len;
    uint8_t *blob;
};

struct vf_chassis {
    char name[VF_TABLES_NAME_MAX];
    uint32_t underlay_ip;        /* network order */
    bool local;
    uint16_t udp_port;           /* as configured (0: the encap's default) */
    uint16_t port;               /* effective: udp_port or the encap's */
    struct vf_tunnel_peer peer;  /* toward this chassis (unused if local) */
};

/* The chassis array, shared between snapshots while no chassis changes
 * (at thousands of chassis it is most of what a small change would copy).
 *
 * by_addr answers "which chassis sent this tunnel packet" with one probe
 * (two where chassis share an address). Keys: vf_chassis_addr_key(ip) ->
 * the chassis index, or VF_CHASSIS_SHARED when several chassis have that
 * address; then vf_chassis_endpoint_key(ip, port) -> the chassis whose
 * effective port is the packet's source port. A vfab chassis sends from
 * its uplink's bound port, which is its chassis port, so chassis on one
 * machine are told apart; a chassis with an address of its own may send
 * from any port (OVS and the kernel pick source ports for entropy). */
struct vf_chassis_tab {
    _Atomic uint32_t refcnt;
    uint32_t n;
    struct vf_hmap by_addr;      /* built by vf_chassis_tab_index() */
    struct vf_chassis c[];
};

#define VF_CHASSIS_SHARED 0x10000u   /* > any chassis index (< VF_CHASSIS_NONE) */

static inline uint64_t vf_chassis_addr_key(uint32_t ip_net)
{
    return ip_net;
}

static inline uint64_t vf_chassis_endpoint_key(uint32_t ip_net, uint16_t port)
{
    return 1ull << 48 | (uint64_t)port << 32 | ip_net;
}

/* What arrives on a fabric port: a tenant port's datapath and logical
 * port, or (dp NULL) nothing known. */
struct vf_fport_map {
    const struct vf_dp *dp;
    uint32_t lport;              /* index in dp->ports */
    struct vf_port *port;        /* the fabric port itself */
};

struct vf_tables {
    uint64_t generation;
    int local_chassis;           /* index in chassis[] */
    struct vf_port *uplink;      /* may be NULL (single-host setups) */
    uint16_t geneve_port, vxlan_port;   /* accepted on decap, host order */
    uint32_t n_chassis;
    struct vf_chassis *chassis;  /* chassis_tab->c */
    struct vf_chassis_tab *chassis_tab;
    uint32_t n_dps;
    struct vf_dp **dps;
    uint32_t n_routers;
    struct vf_router **routers;
    struct vf_hmap vni_map;      /* VNI -> index in dps */
    struct vf_hmap dp_map;       /* datapath id -> index in dps */
    struct vf_hmap router_map;   /* router id -> index in routers */
    uint32_t n_fports;           /* fports[] covers indexes 0..n_fports-1 */
    struct vf_fport_map *fports;
    /* compile statistics: how many objects were built vs shared */
    uint32_t n_dps_built, n_routers_built;
};

static inline uint64_t vf_hmap_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

/* Index stored under key, or UINT32_MAX. Bounded by the table size; with
 * load <= 1/2 an absent key stops at the first empty slot. */
static inline uint32_t vf_hmap_get(const struct vf_hmap *h, uint64_t key)
{
    if (!h->keys)
        return UINT32_MAX;
    uint32_t i = (uint32_t)vf_hmap_hash(key) & h->mask;
    for (uint32_t n = 0; n <= h->mask; n++, i = (i + 1) & h->mask) {
        if (h->vals[i] == 0)
            return UINT32_MAX;
        if (h->keys[i] == key)
            return h->vals[i] - 1;
    }
    return UINT32_MAX;
}

static inline uint64_t vf_mac_key(const uint8_t mac[6])
{
    return (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 |
           (uint64_t)mac[2] << 24 | (uint64_t)mac[3] << 16 |
           (uint64_t)mac[4] << 8 | (uint64_t)mac[5];
}

static inline const struct vf_dp *vf_tables_dp_by_vni(const struct vf_tables *t,
                                                      uint32_t vni)
{
    uint32_t i = vf_hmap_get(&t->vni_map, vni);
    return i == UINT32_MAX ? NULL : t->dps[i];
}

static inline const struct vf_dp *vf_tables_dp_by_id(const struct vf_tables *t,
                                                     uint32_t id)
{
    uint32_t i = vf_hmap_get(&t->dp_map, id);
    return i == UINT32_MAX ? NULL : t->dps[i];
}

static inline const struct vf_router *
vf_tables_router_by_id(const struct vf_tables *t, uint32_t id)
{
    uint32_t i = vf_hmap_get(&t->router_map, id);
    return i == UINT32_MAX ? NULL : t->routers[i];
}

/* Index in t->chassis of the remote chassis that sent a tunnel packet
 * from outer source ip_net (network order) and UDP port sport (host
 * order), or UINT32_MAX when it is no chassis of the fabric or this host
 * itself (vfab never tunnels to itself). One hash probe, two when chassis
 * share the address; no walk. */
static inline uint32_t vf_tables_chassis_by_src(const struct vf_tables *t,
                                                uint32_t ip_net, uint16_t sport)
{
    const struct vf_hmap *h = &t->chassis_tab->by_addr;
    uint32_t i = vf_hmap_get(h, vf_chassis_addr_key(ip_net));
    if (i == VF_CHASSIS_SHARED)
        i = vf_hmap_get(h, vf_chassis_endpoint_key(ip_net, sport));
    if (i == (uint32_t)t->local_chassis)
        return UINT32_MAX;
    return i;
}

/* The fabric port a local logical port delivers to, or NULL. */
static inline struct vf_port *vf_tables_lport_fport(const struct vf_lport *lp)
{
    return lp->local ? lp->fport : NULL;
}

/* ---- building (mgmt side; tables.c) ---- */
/* Builds a map of n keys -> their positions; keys must be distinct
 * (a repeated key keeps its first position). 0 or -ENOMEM. */
int vf_hmap_build(struct vf_hmap *h, const uint64_t *keys, uint32_t n);
/* Adds key -> val if the key is absent; the map must have been sized for
 * it by vf_hmap_init(). */
void vf_hmap_put(struct vf_hmap *h, uint64_t key, uint32_t val);
/* Replaces the value of a key already in the map (no-op if absent). */
void vf_hmap_set(struct vf_hmap *h, uint64_t key, uint32_t val);
int vf_hmap_init(struct vf_hmap *h, uint32_t n);
void vf_hmap_free(struct vf_hmap *h);

struct vf_dp *vf_dp_alloc(void);
void vf_dp_ref(struct vf_dp *dp);
void vf_dp_unref(struct vf_dp *dp);           /* accepts NULL */
struct vf_chassis_tab *vf_chassis_tab_alloc(uint32_t n);
/* Builds c->by_addr from c->c[].underlay_ip and .port (every chassis,
 * local included, so sharing with the local address is seen). Endpoints
 * must be distinct (the model validates it). 0 or -ENOMEM. */
int vf_chassis_tab_index(struct vf_chassis_tab *c);
void vf_chassis_tab_ref(struct vf_chassis_tab *c);
void vf_chassis_tab_unref(struct vf_chassis_tab *c);   /* accepts NULL */
struct vf_router *vf_router_alloc(void);
void vf_router_ref(struct vf_router *r);
void vf_router_unref(struct vf_router *r);    /* accepts NULL */

/* Releases a snapshot: drops its references on shared datapaths and
 * routers (freeing those no other snapshot holds) and everything else.
 * Accepts NULL. Call only after an RCU grace period. */
void vf_tables_free(struct vf_tables *t);

/* Lookups by name for trace and tools (linear; not for the hot path). */
const struct vf_dp *vf_tables_find_port(const struct vf_tables *t,
                                        const char *name, uint32_t *idx);

#endif
