/* vf_classifier.h - priority classifier with wildcards (tuple space search).
 *
 * What: rules match on a small fixed key (IPv4 source/destination prefixes,
 * IP protocol, source/destination L4 port ranges, a 32-bit "scope" such as
 * a logical port id) and carry a priority and an opaque 32-bit action.
 * vf_cls_lookup() returns the highest-priority rule that matches; among
 * equal priorities, the one added first. A classifier is of one family:
 * vf_cls_create() makes an IPv4 one, vf_cls_create6() an IPv6 one (the
 * same rules over 128-bit prefixes: vf_cls_add6 / vf_cls_lookup6).
 *
 * Basic design (as Open vSwitch's classifier): a port range is split into
 * the few prefix (value/mask) pieces that cover it exactly; every distinct
 * mask gets one hash table of the rules with that mask ("subtable"); lookup
 * masks the key once per subtable and probes its hash. Subtables are sorted
 * by the highest priority they contain, so a lookup stops as soon as the
 * best match found so far outranks every remaining subtable.
 *
 * IPv6 uses the same code: its key is six 64-bit words instead of three;
 * the three extra words of every subtable and slot live in arrays beside
 * the IPv4 layout (struct vf_classifier's ext, slot_ext), so an IPv4
 * lookup reads exactly what it read before IPv6 existed.
 *
 * Life cycle: the management thread builds a classifier with vf_cls_add()
 * and then calls vf_cls_seal(); a sealed classifier is immutable and is read
 * by any number of workers at once (published via RCU with its tables).
 *
 * The linear oracle in tests/unit/test_classifier.c defines the expected
 * answer; both must agree on random rules and packets.
 *
 * Thread-safety: add/seal from one thread; lookup from any thread after seal.
 */
#ifndef VF_CLASSIFIER_H
#define VF_CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The key every lookup supplies; host byte order throughout.
 *
 * no_ports: the packet has no L4 ports (a later IP fragment, or a protocol
 * without them). Such a packet matches only rules whose port ranges are
 * both 0..65535: a rule about ports never matches a packet that has none
 * (sport/dport are then ignored; 0 is customary). */
struct vf_cls_key {
    uint32_t scope;    /* e.g. logical port id; rules may wildcard it */
    uint32_t ip_src;
    uint32_t ip_dst;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t no_ports;  /* 0 or 1 */
    uint8_t pad[2];    /* must be zero */
};

/* What a rule matches; any field can be wildcarded. */
struct vf_cls_match {
    bool match_scope;
    uint32_t scope;
    uint32_t ip_src; uint8_t src_plen;   /* plen 0 = any */
    uint32_t ip_dst; uint8_t dst_plen;
    uint8_t proto;                       /* 0 = any */
    uint16_t sport_lo, sport_hi;         /* 0..65535 = any */
    uint16_t dport_lo, dport_hi;
};

/* IPv6: addresses in network order (as on the wire), the rest as above. */
struct vf_cls_key6 {
    uint32_t scope;
    uint8_t src[16];
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t no_ports;
    uint8_t pad[2];    /* must be zero */
};

struct vf_cls_match6 {
    bool match_scope;
    uint32_t scope;
    uint8_t src[16]; uint8_t src_plen;   /* plen 0..128, 0 = any */
    uint8_t dst[16]; uint8_t dst_plen;
    uint8_t proto;                       /* 0 = any */
    uint16_t sport_lo, sport_hi;         /* 0..65535 = any */
    uint16_t dport_lo, dport_hi;
};

struct vf_classifier;

struct vf_classifier *vf_cls_create(void);
struct vf_classifier *vf_cls_create6(void);
void vf_cls_destroy(struct vf_classifier *c);        /* accepts NULL */
/* Adds a rule; -EINVAL on a bad match (lo > hi, plen > 32 or 128) or a
 * classifier of the other family, -ENOMEM. */
int vf_cls_add(struct vf_classifier *c, const struct vf_cls_match *m,
               int32_t priority, uint32_t action);
int vf_cls_add6(struct vf_classifier *c, const struct vf_cls_match6 *m,
                int32_t priority, uint32_t action);
/* Freezes the classifier and orders subtables for lookup. */
void vf_cls_seal(struct vf_classifier *c);
/* true and *action set if some rule matches. If prio is not NULL it gets
 * the matching rule's priority. */
bool vf_cls_lookup(const struct vf_classifier *c, const struct vf_cls_key *k,
                   uint32_t *action, int32_t *prio);
bool vf_cls_lookup6(const struct vf_classifier *c, const struct vf_cls_key6 *k,
                    uint32_t *action, int32_t *prio);
size_t vf_cls_n_rules(const struct vf_classifier *c);   /* after splitting */
size_t vf_cls_n_subtables(const struct vf_classifier *c);

#endif
