/* vf_desired.h - the desired state in etcd: read it at one revision, write
 * a change as txns guarded by what was read.
 *
 * What: the etcd side of the layout (vf_layout.h), shared by vfabctl
 * --store and, later, vfabd's store source. Keys under a prefix P (default
 * "/vfab/"): P"format" (the layout version, "1"), P"serial" (decimal; every
 * desired-state txn puts serial + 1), P"desired/..." (vf_layout.h).
 *
 * Reading: vf_desired_read lists P"desired/" in pages at one revision R
 * (the first page pins it) and reads P"serial" and P"format" at R.
 *
 * Writing: vf_desired_commit sends the parts of a change (vf_layout_plan)
 * one txn each:
 *     compare  MOD(P"serial") == the serial's mod_revision as last seen
 *              (0: absent), and VALUE(P"format") == "1" (CREATE == 0
 *              while there is none)
 *     success  the part's puts and deletes, P"serial" = serial + 1 (and
 *              P"format" = "1" the first time)
 *     failure  a range of P"serial" (who won)
 * Part k + 1 is guarded by the serial part k wrote, so a writer that gets
 * in between stops the rest: what is in the store is always a whole number
 * of parts, each a valid fabric. A compare on the desired prefix alone
 * would not do: a deleted key is not in any range, so deletions would go
 * unnoticed; every writer bumps the one serial instead.
 *
 * Answers that leave it open whether a txn was applied (a member died
 * after the request was sent, "no leader" during an election) are settled
 * by reading back the serial and the part's keys, for up to
 * VF_DESIRED_VERIFY_MS: applied (the serial moved by one and every key
 * holds what the part wrote), not applied (the serial did not move: the
 * part is sent again, at most VF_DESIRED_RESENDS times), or overtaken
 * (another writer moved the serial: a conflict).
 *
 * Errors: 0; -EBUSY another writer changed the store since it was read
 * (res->parts_done parts went in; nothing at all when 0); -E2BIG, -EINVAL,
 * -EPERM, -EACCES, ... from etcd (vf_store.h), err naming the endpoint;
 * -EPROTO for a store whose format this code does not know.
 *
 * Thread-safety: the calls are synchronous on s (vf_store.h): the thread
 * that owns s, outside its completions.
 */
#ifndef VF_DESIRED_H
#define VF_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mgmt/layout/vf_layout.h"
#include "mgmt/store/vf_store.h"

#define VF_DESIRED_VERIFY_MS 20000
#define VF_DESIRED_RESENDS 3
/* Ops and bytes each txn adds to a part (serial and format puts, the
 * compares and the failure range), for vf_layout_limits. */
#define VF_DESIRED_TXN_OPS 2
#define VF_DESIRED_TXN_BYTES 512

struct vf_desired {
    struct vf_layout_kvs kvs;    /* relative keys; canonical values */
    int64_t revision;            /* read at */
    int64_t serial;              /* its value at revision; 0: absent */
    int64_t serial_mod;          /* its mod_revision; 0: absent */
    bool has_format;
};

/* prefix ends in '/'. 0 or -errno with err (naming the endpoint, or the
 * key for a value that is not JSON). */
int vf_desired_read(struct vf_store *s, const char *prefix, struct vf_desired *d,
                    char *err, size_t errlen);
void vf_desired_free(struct vf_desired *d);

struct vf_desired_result {
    size_t parts_done;           /* txns that went in */
    int64_t revision;            /* the store's revision after the last one */
    int64_t serial;              /* the serial after the last one */
    unsigned verified;           /* parts found applied by reading back */
    unsigned resent;             /* parts sent again (found not applied) */
    int64_t other_serial;        /* -EBUSY: the serial another writer left */
};

/* Writes c's parts (ends from vf_layout_plan) over base, which must be what
 * vf_desired_read returned. */
int vf_desired_commit(struct vf_store *s, const char *prefix,
                      const struct vf_desired *base, const struct vf_layout_change *c,
                      const size_t *ends, size_t n_parts,
                      struct vf_desired_result *res, char *err, size_t errlen);

/* ---- a host's runtime records (desired_host.c) ---- */

/* P"chassis/" + the escaped name into buf. 0 or -ENAMETOOLONG. */
int vf_desired_chassis_key(const char *prefix, const char *name, char *buf,
                           size_t len);
/* Registers r on lease: one txn, CREATE(P"chassis/<name>") == 0 -> put the
 * record on the lease, else range the key (who holds it). done hears the
 * answer; vf_desired_registered reads it. 0 or -errno (not sent). */
int vf_desired_register_async(struct vf_store *s, const char *prefix,
                              const struct vf_layout_chassis_rec *r, int64_t lease,
                              vf_store_done_fn *done, void *arg);
/* The same, synchronously (res as the txn's answer). */
int vf_desired_register(struct vf_store *s, const char *prefix,
                        const struct vf_layout_chassis_rec *r, int64_t lease,
                        struct vf_store_result *res);
/* Whether the registration's answer leaves the record on lease: put now,
 * or found already on it (a retry of a txn that went in). Otherwise
 * *holder (may be NULL) is the record someone else holds (key NULL when
 * the txn failed: res->rc). */
bool vf_desired_registered(const struct vf_store_result *res, int64_t lease,
                           struct vf_store_kv *holder);

#endif
