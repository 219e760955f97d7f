/* store_client.h - what the store-client-test files share: clients made
 * from the environment, a bounded loop, and recorders for watches, pages
 * and leases (see store_client.c for the groups and their environment). */
#ifndef VF_STORE_CLIENT_TEST_H
#define VF_STORE_CLIENT_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "mgmt/store/vf_store.h"

const char *env(const char *name);
struct vf_store *client(const struct vf_store_config *base, const char *eps);
struct vf_store *plain(const char *eps);
int64_t now_ms(void);
bool run_until(struct vf_store *s, const bool *flag, int limit_ms);
void run_for(struct vf_store *s, int ms);
void put_ok(struct vf_store *s, const char *key, const char *val, int64_t lease,
            struct vf_store_result *r);
int64_t count_prefix(struct vf_store *s, const char *prefix);

/* ---- a watch recorder ---- */

#define REC_MAX 2048
struct rec_event {
    char key[64];
    char value[64];
    int64_t rev;
    enum vf_store_event_type type;
    bool has_prev;
};

struct recorder {
    struct rec_event ev[REC_MAX];
    size_t n;
    unsigned created, lost, progress, failed, compacted;
    int64_t compact_rev, progress_rev;
    char reason[VF_STORE_ERR_LEN];  /* the last one */
    char reasons[4096];             /* every LOST reason, "; " between */
    bool order_broken;
};

void record(void *arg, const struct vf_store_watch_msg *m);
struct vf_store_watch *watch_idle(struct vf_store *s, const char *prefix, int64_t from,
                                  struct recorder *rec, bool progress, unsigned idle);
struct vf_store_watch *watch(struct vf_store *s, const char *prefix, int64_t from,
                             struct recorder *rec, bool progress);
void wait_event(struct vf_store *s, const struct recorder *rec, int64_t rev, int ms);

/* ---- a list's pages ---- */

struct pager {
    struct vf_store *other;
    unsigned pages;
    size_t keys;
    int64_t rev;
    bool rev_changed;
    char last[64];
    bool unordered;
};

int on_page(void *arg, const struct vf_store_kv *kvs, size_t n, int64_t rev);

/* ---- a lease keeper's reports ---- */

struct lease_seen {
    unsigned kept, lost;
    int rc;
};

void on_lease(void *arg, enum vf_store_lease_event ev, int64_t id, int rc, const char *why);

/* ---- the members, through commands the script provides ---- */

void etcdctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void member_signal(const char *sig, const char *url);

/* ---- the tests ---- */

void t_put_range_delete(void **state);
void t_pagination(void **state);
void t_txn_race(void **state);
void t_sizes(void **state);
void t_lease(void **state);
void t_failover_timeout(void **state);
void t_watch_stream(void **state);
void t_watch_progress(void **state);
void t_watch_compacted(void **state);
void t_watch_frozen(void **state);
void t_cluster_kill_leader(void **state);
void t_tls(void **state);
void t_auth(void **state);

#endif
