/* vf_acl.h - compiled ACLs: rules, verdicts, stateful ports and zones.
 *
 * What: the part of a datapath's tables that ACLs become, and the one
 * builder that makes it (vf_acl_build), so the model's compiler only has
 * to resolve names (ports, port groups, address sets) into the plain rules
 * below. A rule applies to a direction (from-port: what a port sends;
 * to-port: what it receives), to a set of logical ports (one port, a port
 * group) or to every port of its switch, and matches protocol, source and
 * destination prefixes (IPv4 and IPv6: an address set is a list of
 * prefixes of both families) and port ranges (ICMP/ICMPv6: type in the
 * source range, code in the destination range). Its verdict: allow,
 * allow-related, drop, reject.
 *
 * Basic design:
 *   - Each datapath has four sealed classifiers (vf_classifier.h): from-
 *     port and to-port, IPv4 and IPv6. A rule becomes one classifier rule
 *     per (port of its scope on this switch, source prefix, destination
 *     prefix) of one family; the classifier's scope is the logical port id
 *     (wildcarded for a switch-wide rule). The action word holds the
 *     rule's index (for trace) and its verdict.
 *   - Security groups (docs/conntrack.md, "Stateful ACLs", has the exact
 *     rules): a direction of a VM port is *stateful* once an allow-related
 *     rule of that direction applies to it (lport.ct_flags); a port with a
 *     stateful direction is *tracked*: every IP packet it sends or receives
 *     is looked up in its conntrack zone (lport.ct_zone), a stateful
 *     direction denies by default what no rule allows, replies and related
 *     ICMP errors of its connections pass, and what either direction allows
 *     is committed (so replies of connections the other, stateless
 *     direction allowed come back too).
 *   - Zones: 16 bits per tracked local VM port, derived from the port id
 *     (its low 16 bits, probing upward past zones in use; 0 is "none") and
 *     kept across compiles (vf_acl_assign_zones takes the previous tables'
 *     zones first), so a recompile never moves a port's connections. A
 *     zone that leaves the tables is flushed after the publication that
 *     removed it (vf_acl_zones_sync), and not handed to another port
 *     before the next compile, so no port ever sees another's connections.
 *
 * Invariants: after vf_acl_build, a VM port's ct_flags name exactly the
 * directions some allow-related rule of the datapath applies to it in;
 * router ports are never tracked (an allow-related rule acts as allow on
 * them). Zones are unique among a snapshot's tracked local ports.
 *
 * Thread-safety: building and zone assignment run on mgmt before the
 * tables are published (the datapaths they write are not yet shared);
 * vf_acl_zones_sync runs on mgmt after a publication.
 */
#ifndef VF_ACL_H
#define VF_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/vf_conntrack.h"
#include "pipeline/vf_tables.h"

enum vf_acl_verdict {
    VF_ACL_V_ALLOW = 0,
    VF_ACL_V_ALLOW_RELATED,
    VF_ACL_V_DROP,
    VF_ACL_V_REJECT,
};

/* The classifier's action word: the rule index in the low 29 bits, the
 * verdict above. Bit 31 alone (drop) is what compile.c always wrote. */
#define VF_ACL_W_INDEX 0x1fffffffu
#define VF_ACL_W_DROP (1u << 31)
#define VF_ACL_W_REJECT (1u << 30)       /* with VF_ACL_W_DROP */
#define VF_ACL_W_RELATED (1u << 29)      /* allow-related */
#define VF_ACL_MAX_INDEX VF_ACL_W_INDEX
/* Classifier rules one datapath may hold (after the cross products of
 * ports and prefixes), so a port group times an address set cannot eat
 * mgmt's memory: refused with the rule named. */
#define VF_ACL_MAX_PIECES (1u << 20)

static inline uint32_t vf_acl_word(uint32_t index, enum vf_acl_verdict v)
{
    static const uint32_t bits[] = {
        [VF_ACL_V_ALLOW] = 0,
        [VF_ACL_V_ALLOW_RELATED] = VF_ACL_W_RELATED,
        [VF_ACL_V_DROP] = VF_ACL_W_DROP,
        [VF_ACL_V_REJECT] = VF_ACL_W_DROP | VF_ACL_W_REJECT,
    };
    return (index & VF_ACL_W_INDEX) | bits[v];
}

static inline enum vf_acl_verdict vf_acl_word_verdict(uint32_t w)
{
    if (w & VF_ACL_W_DROP)
        return w & VF_ACL_W_REJECT ? VF_ACL_V_REJECT : VF_ACL_V_DROP;
    return w & VF_ACL_W_RELATED ? VF_ACL_V_ALLOW_RELATED : VF_ACL_V_ALLOW;
}

const char *vf_acl_verdict_name(enum vf_acl_verdict v);   /* "allow-related" */

/* lport.ct_flags */
#define VF_LPORT_CT_FROM 0x1     /* from-port direction is stateful */
#define VF_LPORT_CT_TO 0x2       /* to-port direction is stateful */

struct vf_acl_prefix {
    uint8_t family;              /* 4 or 6 */
    uint8_t plen;                /* 0..32 / 0..128 */
    uint8_t addr[16];            /* network order; IPv4 in the first 4 */
};

/* One model ACL, names resolved. Addresses: NULL is any address (both
 * families); a list (n may be 0: an empty address set matches nothing)
 * matches any of its prefixes. A rule whose source and destination lists
 * have no family in common matches nothing. Protocol ICMP (1) rules go to
 * the IPv4 classifier only, ICMPv6 (58) to the IPv6 one. */
struct vf_acl_rule {
    uint32_t index;              /* model rule index (<= VF_ACL_MAX_INDEX) */
    bool to_port;                /* direction: to-port, else from-port */
    uint8_t verdict;             /* enum vf_acl_verdict */
    int32_t priority;
    /* Scope: the logical port ids it applies to; those not on the
     * datapath being built are skipped (a port group may span switches),
     * and a rule left with no port of this datapath adds nothing. NULL:
     * every port of the datapath (a switch-wide rule). */
    const uint32_t *ports;
    uint32_t n_ports;
    uint8_t proto;               /* 0: any */
    const struct vf_acl_prefix *src;
    uint32_t n_src;
    const struct vf_acl_prefix *dst;
    uint32_t n_dst;
    uint16_t sport_lo, sport_hi; /* both 0: any (as the model loader writes) */
    uint16_t dport_lo, dport_hi;
};

/* Builds dp's four classifiers from n rules (replacing none: they must be
 * NULL) and sets its VM ports' ct_flags. 0, or -EINVAL / -ENOMEM with err
 * naming the rule ("acls[3]: ..."). On error dp may hold part of the
 * rules; the caller frees it. */
int vf_acl_build(struct vf_dp *dp, const struct vf_acl_rule *rules, size_t n,
                 char *err, size_t errlen);

/* The zone a port id would get with no collision: its low 16 bits (not 0). */
static inline uint16_t vf_acl_zone_of(uint32_t lport_id)
{
    uint16_t z = (uint16_t)lport_id;
    return z ? z : 1;
}

/* Gives every tracked local VM port of t a zone (kept from prev, which may
 * be NULL, for ports it had). Writes only datapaths that prev does not
 * share. 0 or -ENOMEM, -ENOSPC (more tracked ports than zones). */
int vf_acl_assign_zones(struct vf_tables *t, const struct vf_tables *prev);

/* After t was published (no worker holds older tables): sets each tracked
 * port's zone limit (lport.ct_max) and flushes the zones in `live` (the
 * previous call's) that t no longer has; `live` becomes t's zones. The
 * context is mgmt's. Returns the connections flushed. */
#define VF_ACL_ZONE_WORDS (VF_CT_ZONES / 64)
unsigned vf_acl_zones_sync(struct vf_ct_worker *w, const struct vf_tables *t,
                           uint64_t live[VF_ACL_ZONE_WORDS]);

#endif
