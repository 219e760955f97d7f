/* store_source_int.h - what store_source.c (list, watch, apply) and
 * store_host.c (this host's runtime records: registration, bindings)
 * share. mgmt/daemon only; vf_store_source.h is the interface.
 *
 * Thread-safety: the management thread only.
 */
#ifndef VF_STORE_SOURCE_INT_H
#define VF_STORE_SOURCE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "mgmt/control/vf_model.h"
#include "mgmt/layout/vf_layout.h"
#include "mgmt/store/vf_store.h"

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 5000

enum reg_state { REG_IDLE, REG_GRANTING, REG_PUTTING, REG_DONE, REG_REVOKING };

struct vf_store_src {
    struct vf_store *s;
    struct vf_daemon *d;
    char endpoints[VF_MODEL_STORE_URLS];
    char prefix[VF_MODEL_STORE_PATH];
    char desired_pfx[VF_MODEL_STORE_PATH + 16];
    char chassis[VF_NAME_MAX];
    char version[32];             /* vfabd's, for the chassis record */
    unsigned ttl;

    /* The store as held: P"desired/..." relative to it, and the runtime
     * records relative to P ("chassis/<n>", "bindings/<p>"). */
    struct vf_layout_kvs desired, rt;
    int64_t rev;                  /* the key sets are at this revision */
    bool have_list;               /* they hold a whole list */
    bool dirty;                   /* changed since the last apply */
    bool listing;
    struct vf_layout_kvs list_d, list_rt;
    int64_t list_at_ms;           /* a list is due (0: none) */
    unsigned list_backoff;
    struct vf_store_watch *watch;

    enum reg_state reg;
    int64_t lease;
    struct vf_store_lease *keeper;
    int64_t reg_at_ms;            /* a registration step is due (0: none) */
    unsigned reg_backoff;
    bool clash_logged;

    /* Bindings (store_host.c): P"bindings/<port>" of the ports this host
     * has open, on its lease. One txn in flight at a time; bind_dirty asks
     * for a sync (after an apply, a registration, a bindings/ event). */
    bool bind_dirty, bind_busy;
    int64_t bind_at_ms;           /* a sync is due after a failure (0: now) */
    unsigned bind_backoff;
    char bind_port[VF_NAME_MAX];  /* the port of the txn in flight */
    bool bind_claim;              /* it claims (else releases) */
    uint64_t claims, releases;

    /* For status. */
    int64_t applied_rev;          /* the revision of the part in force */
    int64_t last_event_ms;        /* monotonic; 0: none yet */
    bool connected;               /* the watch stream is open */
    uint64_t applied, refused, lists, events;
    unsigned n_down;
    char down_names[512];         /* as last logged */
    char last_refusal[512];
    int64_t refused_rev;          /* logged once per revision */
};


/* Monotonic milliseconds. */
int64_t vf_store_src_now_ms(void);
/* When the next try of a backoff is due: BACKOFF_FIRST_MS doubling to
 * BACKOFF_MAX_MS (*b keeps the next wait), +-20 % jitter. */
int64_t vf_store_src_backoff(unsigned *b);

/* ---- store_host.c ---- */

/* The next registration step (grant, keep, put) from the loop. */
void vf_store_src_reg_step(struct vf_store_src *src);
/* Cold start: registers before anything forwards; a live name or address
 * refuses (-EEXIST with err). Failures to reach etcd leave the step to the
 * loop (0). */
int vf_store_src_register_first(struct vf_store_src *src, char *err, size_t errlen);
/* Bindings: the ports of m whose `chassis:` is another host and that are
 * bound (P"bindings/<port>") to a third chassis of m get that chassis:
 * the others tunnel to where the port is open, not where it should be. */
void vf_store_src_bound(const struct vf_store_src *src, struct vf_model *m);
/* Claims the bindings of this host's open ports and releases those it
 * closed, one txn at a time (from the loop, registered only). */
void vf_store_src_bind_sync(struct vf_store_src *src);

#endif
