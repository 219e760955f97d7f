/* vf_layout.h - the fabric in etcd: keys and values of the desired state.
 *
 * What: the one place that knows how a model (vf_model.h) is laid out as
 * etcd keys, for everyone who reads or writes the store: vfabctl --store
 * (northbound), vfabd's store source and perf/vfab-sim. It is pure: no I/O
 * (vf_desired.h talks to etcd), no daemon. docs/store.md part 2 is the
 * operator's version of this comment.
 *
 * Layout (format 1). Keys here are relative to "<prefix>desired/"; the
 * prefix (default "/vfab/") also holds "format" ("1"), "serial" (a counter
 * every desired-state txn bumps and is guarded on), and the runtime records
 * hosts write on their leases, "chassis/<name>" and "bindings/<port>".
 *
 *   chassis/<name>                    {"name","underlay_ip","encap"[,"port"]}
 *   tenant/<name>                     {"name"}
 *   address-set/<name>                {"name","addresses","tenant"}
 *   switch/<name>                     {"name","vni","tenant"}
 *   router/<name>                     {"name","tenant"}
 *   router-port/<name>                {"name","router","switch","mac","cidr"}
 *   port/<switch>/<name>              the port's show JSON + "switch"
 *   route/<router>/<a.b.c.d>/<len>    {"router","prefix","nexthop"}
 *   port-group/<name>                 {"name","ports","tenant"}
 *   acl/<switch>/<id>                 the ACL's show JSON (it names its switch)
 *   port-group-acl/<group>/<id>       the show JSON of an ACL with a
 *                                     port_group and no switch
 *   chassis-switch/<chassis>/<switch> {"chassis","switch"}: an index
 *
 * Values are the JSON `vfabctl --json show` prints for the object (child
 * lists left out) plus the name of its parent, compact with sorted keys, so
 * equal objects are equal bytes. Names are unique per kind in the fabric
 * (the validator's rule), so keys are flat per kind, except:
 *   - ports and ACLs live under their switch, so a host reads just the
 *     switches it needs (a prefix range each) and not the whole fabric;
 *     an ACL without a switch (a security group's: `port_group` only)
 *     lives under its port group, port-group-acl/<group>/<id>;
 *   - port groups and address sets (security groups, issue 15) are flat:
 *     their names are unique in the fabric, their values name the tenant;
 *     a host reads all those of its tenants (vf_layout_subset) and, from
 *     a part of the fabric (VF_LAYOUT_SUBSET), keeps in a group only the
 *     ports that part holds;
 *   - chassis-switch/<c>/<s> exists while chassis c has a port on switch s:
 *     a host finds its switches with one range of chassis-switch/<itself>/.
 *     It is derived from the ports and written in the same txn; a reader
 *     requires it for every port, and tolerates one left over (a split
 *     change deletes them last);
 *   - routes have no name: a router has at most one route per prefix (the
 *     store refuses two), so the prefix names it;
 *   - ACLs have no name: <id> is 16 hex digits of the FNV-1a 64 hash of the
 *     ACL's value. An ACL is thus the same key however the list around it
 *     changes, two operators adding different ACLs write different keys,
 *     and editing an ACL deletes one key and puts another. Two identical
 *     ACLs on a switch are refused (one key). Keys carry no order, and the
 *     classifier breaks a priority tie by list order, so two ACLs that could
 *     both match one packet (same direction and priority, a port both
 *     apply to: one switch, or a port group with a port there, and
 *     overlapping matches) and disagree on the action are refused.
 * A '/' in a name (the validator allows it) is written "%2F" in keys ('%'
 * is not allowed in names). Objects read back come in key order.
 *
 * Reading back: vf_layout_to_model() checks each key and value (kind,
 * names that agree between key and value, parents that exist, the ACL id,
 * the index; a port group's ACL has a port_group and no switch) and then loads the assembled document with the same loader
 * and validator as vfabd -c FILE (vf_config_load_string), so a bad store is
 * reported, never half-loaded. Messages name the key and the field:
 * "key /vfab/desired/port/blue-web/vm9: field 'mac': \"02:00:zz\" is not a
 * MAC address (...)".
 *
 * Changes: vf_layout_diff() gives the puts and deletes from one key set to
 * another, ordered so that prefixes of the list are safe to commit alone:
 * puts parent to child (chassis, tenant, address set, switch, index,
 * router, router port, port, route, port group, ACL, port group ACL), then
 * deletes child to parent: a set or group is put before the ACLs that use
 * it and deleted after them, a port before the groups that list it.
 * vf_layout_plan() cuts them into txns within etcd's limits, each leaving
 * a valid model (checked by loading it), or says why it cannot.
 *
 * Ownership: a key set owns its strings unless made with
 * vf_layout_kvs_view(); a change owns its ops. Thread-safety: none needed;
 * every function works on what it is given.
 */
#ifndef VF_LAYOUT_H
#define VF_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"

#define VF_LAYOUT_FORMAT "1"
#define VF_LAYOUT_DEFAULT_PREFIX "/vfab/"
#define VF_LAYOUT_KEY_MAX 256            /* longest relative key */
#define VF_LAYOUT_DEFAULT_TXN_OPS 128    /* etcd --max-txn-ops default */

/* In parent-to-child order: the order of puts (deletes go backwards). */
enum vf_layout_kind {
    VF_LK_CHASSIS,
    VF_LK_TENANT,
    VF_LK_ASET,           /* address-set/<name> */
    VF_LK_SWITCH,
    VF_LK_INDEX,          /* chassis-switch/<chassis>/<switch> */
    VF_LK_ROUTER,
    VF_LK_RPORT,
    VF_LK_PORT,
    VF_LK_ROUTE,
    VF_LK_PGROUP,         /* port-group/<name>: after the ports it lists */
    VF_LK_ACL,
    VF_LK_PGACL,          /* port-group-acl/<group>/<id> */
    VF_LK_N,
};

/* The key segment of each kind ("chassis", ..., "chassis-switch"). */
const char *vf_layout_kind_name(enum vf_layout_kind k);

/* A relative key taken apart; names unescaped. */
struct vf_layout_key {
    enum vf_layout_kind kind;
    char name[VF_NAME_MAX];      /* the object; route: "a.b.c.d/len"; acl,
                                    port group acl: id; index: the switch */
    char parent[VF_NAME_MAX];    /* port, acl: switch; route: router;
                                    index: chassis; port group acl: the
                                    group; "" otherwise */
};

/* 0, or -EINVAL with err saying what is wrong with the key. */
int vf_layout_key_parse(const char *key, struct vf_layout_key *k, char *err,
                        size_t errlen);
/* Writes the relative key of kind/parent/name into buf (parent NULL for
 * flat kinds). 0, or -ENAMETOOLONG. */
int vf_layout_key_make(enum vf_layout_kind kind, const char *parent,
                       const char *name, char *buf, size_t len);

/* ---- key sets ---- */

struct vf_layout_kv {
    char *key;                   /* relative, NUL-terminated */
    char *value;                 /* NUL-terminated; value_len bytes */
    size_t value_len;
    int64_t mod_revision;        /* as read from etcd; 0 when made here */
};

/* Sorted by key once vf_layout_kvs_sort() ran (every function here that
 * makes a set leaves it sorted). */
struct vf_layout_kvs {
    struct vf_layout_kv *kv;
    size_t n, cap;
    bool borrowed;               /* strings belong to someone else */
};

void vf_layout_kvs_free(struct vf_layout_kvs *s);
/* Appends copies (value_len bytes of value); call vf_layout_kvs_sort()
 * before lookups. 0 or -ENOMEM. */
int vf_layout_kvs_add(struct vf_layout_kvs *s, const char *key,
                      const char *value, size_t value_len, int64_t mod_revision);
/* Sorts by key; a key given twice keeps its last value. */
void vf_layout_kvs_sort(struct vf_layout_kvs *s);
const struct vf_layout_kv *vf_layout_kvs_find(const struct vf_layout_kvs *s,
                                              const char *key);
/* Puts (copies) or deletes one key, keeping the set sorted. */
int vf_layout_kvs_set(struct vf_layout_kvs *s, const char *key,
                      const char *value, size_t value_len, int64_t mod_revision);
void vf_layout_kvs_del(struct vf_layout_kvs *s, const char *key);
/* Rewrites every value as compact JSON with sorted keys, so values that
 * mean the same compare equal. -EINVAL (err names the key) for a value
 * that is not JSON. */
int vf_layout_kvs_canonical(struct vf_layout_kvs *s, const char *key_prefix,
                            char *err, size_t errlen);
/* Do a and b hold the same keys and values? */
bool vf_layout_kvs_equal(const struct vf_layout_kvs *a,
                         const struct vf_layout_kvs *b);

/* ---- model <-> keys ---- */

/* The keys of m's fabric (its `local` part is not stored). 0; -EINVAL
 * when m cannot be stored as it is (two identical ACLs, an ACL tie, two
 * routes of a router with one prefix), err naming the objects; -ENOMEM.
 * out is output only. */
int vf_layout_from_model(const struct vf_model *m, struct vf_layout_kvs *out,
                         char *err, size_t errlen);

enum {
    /* s holds a part of the fabric (a host's switches, vf_layout_subset):
     * the index is not required for ports, and a port group keeps only the
     * ports s holds (the others are on switches this host does not
     * compile). */
    VF_LAYOUT_SUBSET = 1u << 0,
};

/* A valid model from s (no `local`). key_prefix ("/vfab/desired/") goes in
 * front of keys in messages. 0; -EINVAL with err naming the key and field;
 * -ENOMEM. out is output only; on failure it is left empty. */
int vf_layout_to_model(const struct vf_layout_kvs *s, unsigned flags,
                       const char *key_prefix, struct vf_model *out,
                       char *err, size_t errlen);

/* Refuses what the store cannot hold in m: identical ACLs, an ACL tie
 * (same direction and priority, a port both apply to, overlapping
 * matches, different actions), two routes of one router with one prefix.
 * 0 or -EINVAL. */
int vf_layout_check_model(const struct vf_model *m, char *err, size_t errlen);

/* A host's part of s (which holds at least every chassis, tenant, switch,
 * router, router-port, route and chassis' index key, plus the ports and ACLs
 * of the switches it needs, and its tenants' port groups, address sets and
 * port group ACLs): every chassis, the switches on which chassis has a
 * port and every switch reachable from them through routers, their ports
 * and ACLs, those routers with their ports and routes, the tenants of them
 * all, and those tenants' address sets, port groups and port group ACLs.
 * Load it with VF_LAYOUT_SUBSET (a group may list ports the part does not
 * hold). The result borrows s's strings (free it, then s). */
int vf_layout_subset(const struct vf_layout_kvs *s, const char *chassis,
                     struct vf_layout_kvs *out);
/* The switches a host needs (as vf_layout_subset picks them), from s as
 * above minus ports and ACLs: a new JSON object whose keys are the switch
 * names (values true), or NULL (no memory). */
json_t *vf_layout_host_switches(const struct vf_layout_kvs *s, const char *chassis);

/* Applies one key of P"desired/" (a watch event) to m in place and
 * validates m whole: 0 applied; -EAGAIN not a kind done in place (only
 * ports are, and only of a tenant without port groups: m may be a part
 * whose groups left out ports it did not hold), or its parent is not in
 * m: rebuild from keys; -EINVAL the
 * value does not load, or m is no longer valid (err says why): m is left
 * changed, rebuild it from keys (whose load names the key); -ENOMEM. */
int vf_layout_model_update(struct vf_model *m, const char *key, const char *value,
                           size_t len, bool del, char *err, size_t errlen);

/* ---- changes ---- */

struct vf_layout_op {
    bool del;
    enum vf_layout_kind kind;
    char *key;
    char *value;                 /* put only */
    size_t value_len;
};

struct vf_layout_change {
    struct vf_layout_op *ops;    /* puts parent to child, then deletes */
    size_t n, n_puts, n_dels;
};

/* The ops that take key set a to b. 0 or -ENOMEM (-EINVAL: a key of a or b
 * that does not parse). */
int vf_layout_diff(const struct vf_layout_kvs *a, const struct vf_layout_kvs *b,
                   struct vf_layout_change *out);
void vf_layout_change_free(struct vf_layout_change *c);
/* Applies ops[0..n) to s. 0 or -ENOMEM. */
int vf_layout_kvs_apply(struct vf_layout_kvs *s, const struct vf_layout_op *ops,
                        size_t n);
/* About the bytes etcd counts for one op (key, value, field tags). */
size_t vf_layout_op_bytes(const struct vf_layout_op *op, size_t key_prefix_len);

struct vf_layout_limits {
    size_t max_request_bytes;    /* 0: 1.5 MiB (etcd --max-request-bytes) */
    unsigned max_txn_ops;        /* 0: 128 (etcd --max-txn-ops) */
    unsigned reserved_ops;       /* ops every txn adds (serial, format) */
    size_t reserved_bytes;       /* bytes every txn adds (compares, those ops) */
    size_t key_prefix_len;       /* strlen("<prefix>desired/") */
    bool atomic;                 /* one txn or refuse */
};

/* Cuts c into txns: ends[0..*n_parts) are op indexes (part i is
 * [ends[i-1], ends[i])). Each part fits the limits and leaves a valid model
 * when applied after the ones before it to base (checked by loading it);
 * the last one ends at c->n. 0; -E2BIG (err names the limit and says what
 * to do) when limits->atomic and c does not fit, or when no cut near the
 * limit leaves a valid model; -ENOMEM. free(*ends). */
int vf_layout_plan(const struct vf_layout_kvs *base,
                   const struct vf_layout_change *c,
                   const struct vf_layout_limits *limits, size_t **ends,
                   size_t *n_parts, char *err, size_t errlen);

/* ---- runtime records (on a host's lease) ---- */

/* <prefix>chassis/<name>: what a live vfabd says about itself. */
struct vf_layout_chassis_rec {
    char name[VF_NAME_MAX];
    char underlay_ip[48];
    char encap[16];              /* geneve | vxlan */
    unsigned port;               /* underlay UDP port; 0: the encap's */
    char version[32];            /* vfab version */
    int64_t started;             /* unix seconds */
};

/* A name as a key segment ('/' written "%2F") and back: 0, or
 * -ENAMETOOLONG / -EINVAL (a bad escape). Runtime keys are
 * P"chassis/" + escaped name and P"bindings/" + escaped port name. */
int vf_layout_name_escape(const char *name, char *out, size_t len);
int vf_layout_name_unescape(const char *seg, char *out, size_t len);

/* New malloc'd compact JSON, or NULL (no memory). */
char *vf_layout_chassis_rec_encode(const struct vf_layout_chassis_rec *r);
/* 0 or -EINVAL (err names the field). name comes from the key. */
int vf_layout_chassis_rec_decode(const char *name, const char *value,
                                 size_t len, struct vf_layout_chassis_rec *r,
                                 char *err, size_t errlen);
/* <prefix>bindings/<port> = {"chassis": C}: the chassis that holds the
 * port's attach open. */
char *vf_layout_binding_encode(const char *chassis);
int vf_layout_binding_decode(const char *value, size_t len, char *chassis,
                             size_t chassis_len, char *err, size_t errlen);

#endif
