/* vf_store.h - a client of etcd v3's JSON gateway (libcurl + jansson).
 *
 * What: vfab keeps a fabric's shared state in an etcd v3 cluster (Debian's
 * etcd-server 3.4). This library is vfab's only way to it: key-value range,
 * put, delete and transactions; watches on a prefix; leases with automatic
 * keepalive; TLS with a client certificate and etcd users. It speaks the
 * gRPC gateway's JSON over HTTP/1.1 (`POST /v3/kv/range` and friends; keys
 * and values base64, int64s as JSON strings) through libcurl's multi
 * interface and jansson; no HTTP is written by hand. It depends on nothing
 * of vfab: vfabd's store (issue 14) and vfabctl build on it.
 *
 * Design:
 * - One struct vf_store holds a list of endpoints, one curl multi handle
 *   (its connection cache keeps connections open between requests) and
 *   everything in flight. Every operation exists in two forms: `_async`
 *   queues the request and calls a completion function later from
 *   vf_store_dispatch(); the plain form (vf_store_range, ...) runs the same
 *   loop until its own request completes, for vfabctl and start-up code.
 * - The loop is fds + a timeout, picked so that the client lives in the
 *   poll loop its owner already has: vf_store_pollfds() and
 *   vf_store_timeout_ms() say what to wait for (curl's socket and timer
 *   callbacks feed them; the client's own timers for watch reconnects and
 *   lease keepalives are folded into the timeout), vf_store_dispatch() does
 *   the work after poll(2). vf_store_run() is that loop for one round, for
 *   a thread of its own or a synchronous caller. Nothing in here sleeps or
 *   blocks except poll(2) inside vf_store_run and the synchronous calls.
 * - Failover: requests start at the endpoint that last worked. A request
 *   that never reached etcd (connection refused, TLS handshake, connect
 *   timeout), or a read that etcd could not serve (no leader), moves on to
 *   the next endpoint, each endpoint once, within one overall deadline
 *   (request_timeout_ms). A write that may have reached etcd is never sent
 *   twice: its error says that it may have been applied. Watches and lease
 *   keepalives reconnect by themselves with backoff over all endpoints.
 * - Errors are negative errno values (below) with a message that names the
 *   endpoint and what went wrong: "etcd http://10.0.0.1:2379: cannot
 *   connect: Connection refused", "... TLS: ...", "... HTTP 400:
 *   etcdserver: ...". Messages never carry keys, values, passwords or
 *   tokens.
 * - Memory is bounded: a response larger than max_response_bytes is
 *   abandoned with -EFBIG; vf_store_list() pages a large prefix (and halves
 *   a page that hits the cap); a watch holds at most one response. A
 *   request over etcd's request limit (max_request_bytes, etcd's default
 *   1.5 MiB) is refused before it is sent, with -E2BIG and the limit named.
 *
 * Watches (vf_store_watch_start): created on a key or prefix from a start
 * revision, with prev_kv and progress notifications; events come in
 * revision order, each with its kv.mod_revision. When the stream breaks
 * the watch reconnects (next endpoint, backoff 50 ms doubling to 5 s) and
 * resumes at the revision after the last one delivered, so no event is
 * lost or delivered twice (large revisions split into fragments included).
 * When etcd has compacted the revision a watch needs, it reports
 * VF_STORE_WATCH_COMPACTED with the compact revision and stops: the owner
 * re-lists (vf_store_list) and starts a new watch from the list's revision
 * + 1. The stream is opened with gRPC metadata "hasleader", so a member cut
 * off from its cluster ends the stream instead of going silent; a stream
 * that etcd does not confirm within request_timeout_ms, or (idle_timeout_ms)
 * that carries nothing, not even a progress notification, for that long is
 * dropped and re-created elsewhere: a frozen member holds TCP open.
 *
 * Leases: vf_store_lease_grant/revoke/ttl, and vf_store_lease_keep(), which
 * sends a keepalive every TTL/3 from this loop (retrying every ~TTL/6 over
 * all endpoints on failure) and reports VF_STORE_LEASE_LOST when etcd says
 * the lease is gone or no keepalive got through for a whole TTL. A lost
 * lease is not re-granted here: the owner grants a new one and re-puts its
 * keys (they are gone with the old lease).
 *
 * Auth: with a user and password the client authenticates before its first
 * request (POST /v3/auth/authenticate), sends the token in the
 * Authorization header, and when etcd answers "invalid auth token" (the
 * token expired: --auth-token-ttl) authenticates again and retries once.
 *
 * Error codes (what the caller may act on):
 *   -ECONNREFUSED, -EHOSTUNREACH, -ECONNRESET  etcd not reachable / lost
 *   -ETIMEDOUT   no answer within the deadline (a write may have applied)
 *   -EPROTO      TLS failure (the reason is in the message)
 *   -EACCES      authentication failed (wrong user/password, auth needed)
 *   -EPERM       the user's roles do not allow this key
 *   -E2BIG       request over etcd's request size limit
 *   -EFBIG       response over max_response_bytes
 *   -ESTALE      the revision asked for has been compacted
 *   -ERANGE      the revision asked for is in the future
 *   -ENOENT      lease not found (expired or revoked)
 *   -EAGAIN      etcd unavailable right now (no leader, leader changed)
 *   -EINVAL      etcd refused the request as invalid (the message says why)
 *   -ENOTSUP     the endpoint has no v3 JSON gateway
 *   -EDEADLK     a synchronous call from inside a completion function
 *   -EIO         anything else (the message says what)
 *
 * Thread-safety: a struct vf_store and everything made from it (watches,
 * lease keepers, results) belong to one thread, the owner, which calls
 * every function below except vf_store_wakeup(). Completion functions,
 * watch and lease callbacks run on that thread, only inside
 * vf_store_dispatch()/vf_store_run() or a synchronous call (so a watch
 * callback may run while vf_store_range() waits); they may start _async
 * requests and stop watches and keepers (their own included) but must not
 * make synchronous calls (those return -EDEADLK) nor destroy the client.
 * vf_store_wakeup() may be called from any thread: it makes the owner's
 * poll return. In vfabd the owner is the management thread or a store
 * thread of its own; packet workers never call in here. Distinct struct
 * vf_store objects are independent (one per simulated chassis is fine).
 */
#ifndef VF_STORE_H
#define VF_STORE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VF_STORE_ERR_LEN 512
#define VF_STORE_DEFAULT_MAX_REQUEST (1572864u)      /* etcd --max-request-bytes */
#define VF_STORE_DEFAULT_MAX_RESPONSE (8u << 20)
#define VF_STORE_DEFAULT_PAGE 500

struct vf_store;
struct vf_store_watch;
struct vf_store_lease;

enum vf_store_log_level { VF_STORE_LOG_ERROR, VF_STORE_LOG_WARN, VF_STORE_LOG_INFO,
                          VF_STORE_LOG_DEBUG };

struct vf_store_config {
    /* "URL[,URL...]": http://host:port or https://host:port (a bare
     * host:port means https when ca_file is set, http otherwise). */
    const char *endpoints;
    const char *ca_file;             /* TLS: trust this CA (NULL: system) */
    const char *cert_file;           /* TLS client certificate and key */
    const char *key_file;
    const char *user;                /* etcd auth; NULL: no auth */
    const char *password;
    unsigned request_timeout_ms;     /* 0: 5000; whole request, all tries */
    unsigned connect_timeout_ms;     /* 0: 1000; one connection attempt */
    size_t max_request_bytes;        /* 0: VF_STORE_DEFAULT_MAX_REQUEST */
    size_t max_response_bytes;       /* 0: VF_STORE_DEFAULT_MAX_RESPONSE */
    /* Where the client's own log lines go (failover, reconnects); NULL:
     * nowhere. Called on the owner thread; msg never holds secrets. */
    void (*log)(void *arg, enum vf_store_log_level level, const char *msg);
    void *log_arg;
};

/* A key-value pair as etcd returns it. key and value are NUL-terminated
 * copies (value is NULL for keys_only); they live as long as the result or
 * callback that handed them out. */
struct vf_store_kv {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
};

enum vf_store_op_type { VF_STORE_OP_RANGE, VF_STORE_OP_PUT, VF_STORE_OP_DELETE };

/* One operation's answer inside a transaction. */
struct vf_store_op_result {
    enum vf_store_op_type type;
    const struct vf_store_kv *kvs;   /* RANGE */
    size_t n_kvs;
    int64_t count;
    bool more;
    int64_t deleted;                 /* DELETE */
};

/* What an operation answered. Zero it before first use; clear it with
 * vf_store_result_clear. Fields not meant for an operation stay zero. */
struct vf_store_result {
    int rc;                          /* 0 or a negative errno (above) */
    char error[VF_STORE_ERR_LEN];    /* when rc != 0 */
    int64_t revision;                /* the store's revision (header) */
    struct vf_store_kv *kvs;         /* range */
    size_t n_kvs;
    int64_t count;                   /* range: keys in range (all pages) */
    bool more;                       /* range: limit cut the answer */
    int64_t deleted;                 /* delete */
    bool succeeded;                  /* txn: the compares held */
    struct vf_store_op_result *ops;  /* txn: the branch's answers */
    size_t n_ops;
    int64_t lease_id;                /* lease grant / ttl */
    int64_t ttl;                     /* seconds left (-1: no such lease) */
    int64_t granted_ttl;
    void *mem_;                      /* private: owns kvs, ops and bytes */
};

/* Completion of an _async call: res is valid during the call only (keep it
 * with vf_store_result_move). Runs on the owner thread. */
typedef void vf_store_done_fn(void *arg, struct vf_store_result *res);

/* ---- the client ---- */

/* Checks cfg (endpoint URLs, TLS files readable) and makes a client; no
 * connection is opened yet. Returns 0, or -errno with err naming the field. */
int vf_store_create(const struct vf_store_config *cfg, struct vf_store **out,
                    char *err, size_t errlen);
/* Stops everything in flight without calling its completion functions;
 * frees watches and keepers made from s. NULL is fine. */
void vf_store_destroy(struct vf_store *s);

/* ---- the loop (fds + timeout) ---- */

/* The fds to poll (at most max; vf_store_nfds() says how many). */
unsigned vf_store_nfds(const struct vf_store *s);
int vf_store_pollfds(const struct vf_store *s, struct pollfd *fds, unsigned max);
/* Milliseconds until vf_store_dispatch is due with no fd ready; -1: none. */
int vf_store_timeout_ms(const struct vf_store *s);
/* After poll(2) on the fds from vf_store_pollfds (revents filled; n may be
 * 0 when only the timeout expired): moves transfers on, runs completions
 * and callbacks, fires timers. Returns 0 or -errno (curl failure). */
int vf_store_dispatch(struct vf_store *s, const struct pollfd *fds, unsigned n);
/* One round: poll for up to timeout_ms (less when a timer is due), then
 * dispatch. Returns 0 or -errno. */
int vf_store_run(struct vf_store *s, int timeout_ms);
/* Any thread: makes the owner's poll on vf_store_pollfds return. */
void vf_store_wakeup(struct vf_store *s);

/* ---- results ---- */

void vf_store_result_clear(struct vf_store_result *r);
/* Moves src's contents (allocations included) to dst, clearing src. */
void vf_store_result_move(struct vf_store_result *dst, struct vf_store_result *src);

/* ---- key-value ---- */

struct vf_store_range_req {
    const char *key;                 /* NUL-terminated */
    bool prefix;                     /* every key starting with key */
    const char *range_end;           /* or: [key, range_end) (NULL: none) */
    int64_t revision;                /* 0: latest */
    int64_t limit;                   /* 0: no limit */
    bool keys_only;
    bool count_only;
};

int vf_store_range_async(struct vf_store *s, const struct vf_store_range_req *req,
                         vf_store_done_fn *done, void *arg);
int vf_store_range(struct vf_store *s, const struct vf_store_range_req *req,
                   struct vf_store_result *res);

/* Puts key = value (value_len bytes), on a lease when lease != 0. */
int vf_store_put_async(struct vf_store *s, const char *key, const void *value,
                       size_t value_len, int64_t lease, vf_store_done_fn *done,
                       void *arg);
int vf_store_put(struct vf_store *s, const char *key, const void *value,
                 size_t value_len, int64_t lease, struct vf_store_result *res);

/* Deletes key, or every key starting with key (prefix). res->deleted. */
int vf_store_delete_async(struct vf_store *s, const char *key, bool prefix,
                          vf_store_done_fn *done, void *arg);
int vf_store_delete(struct vf_store *s, const char *key, bool prefix,
                    struct vf_store_result *res);

/* ---- transactions ---- */

enum vf_store_cmp_target {
    VF_STORE_CMP_VERSION, VF_STORE_CMP_CREATE, VF_STORE_CMP_MOD, VF_STORE_CMP_VALUE,
};
enum vf_store_cmp_result {
    VF_STORE_CMP_EQUAL, VF_STORE_CMP_NOT_EQUAL, VF_STORE_CMP_LESS, VF_STORE_CMP_GREATER,
};

/* "target(key) result number-or-value", e.g. MOD(/vfab/rev) EQUAL 42, or
 * CREATE(key) EQUAL 0 (the key does not exist). With prefix, every key
 * under key must satisfy it. */
struct vf_store_cmp {
    const char *key;
    bool prefix;
    enum vf_store_cmp_target target;
    enum vf_store_cmp_result result;
    int64_t number;                  /* VERSION, CREATE, MOD */
    const void *value;               /* VALUE */
    size_t value_len;
};

struct vf_store_op {
    enum vf_store_op_type type;
    const char *key;
    bool prefix;                     /* RANGE, DELETE */
    const void *value;               /* PUT */
    size_t value_len;
    int64_t lease;                   /* PUT */
    int64_t limit;                   /* RANGE */
    bool keys_only;                  /* RANGE */
};

struct vf_store_txn {
    const struct vf_store_cmp *cmp;
    size_t n_cmp;
    const struct vf_store_op *success;
    size_t n_success;
    const struct vf_store_op *failure;
    size_t n_failure;
};

/* All compares hold -> the success ops, else the failure ops, atomically.
 * res->succeeded says which; res->revision is the store's revision after;
 * res->ops holds each op's answer in order. */
int vf_store_txn_async(struct vf_store *s, const struct vf_store_txn *txn,
                       vf_store_done_fn *done, void *arg);
int vf_store_txn(struct vf_store *s, const struct vf_store_txn *txn,
                 struct vf_store_result *res);

/* ---- listing a prefix in pages ---- */

/* Called per page, in key order; return nonzero to stop (the list then
 * completes with rc -ECANCELED). kvs live until the call returns. */
typedef int vf_store_page_fn(void *arg, const struct vf_store_kv *kvs, size_t n,
                             int64_t revision);

/* Every key under prefix at one revision (revision 0: the latest, pinned by
 * the first page), page_size keys a page (0: VF_STORE_DEFAULT_PAGE; halved
 * when a page hits max_response_bytes). res->revision is the revision
 * listed, the one to watch from (+1); res->count the keys seen. */
int vf_store_list_async(struct vf_store *s, const char *prefix, int64_t revision,
                        unsigned page_size, vf_store_page_fn *page,
                        vf_store_done_fn *done, void *arg);
int vf_store_list(struct vf_store *s, const char *prefix, int64_t revision,
                  unsigned page_size, vf_store_page_fn *page, void *arg,
                  struct vf_store_result *res);

/* ---- watches ---- */

enum vf_store_event_type { VF_STORE_EVENT_PUT, VF_STORE_EVENT_DELETE };

struct vf_store_event {
    enum vf_store_event_type type;
    struct vf_store_kv kv;           /* DELETE: key and mod_revision only */
    struct vf_store_kv prev_kv;      /* with prev_kv, when there was one */
    bool has_prev;
};

enum vf_store_watch_kind {
    VF_STORE_WATCH_CREATED,    /* stream (re)created; etcd was at `revision` */
    VF_STORE_WATCH_EVENTS,     /* events[0..n), in revision order */
    VF_STORE_WATCH_PROGRESS,   /* no change up to `revision` */
    VF_STORE_WATCH_COMPACTED,  /* revision = compact revision: re-list; stopped */
    VF_STORE_WATCH_LOST,       /* stream lost (reason); reconnecting */
    VF_STORE_WATCH_FAILED,     /* etcd refused the watch (reason); stopped */
};

struct vf_store_watch_msg {
    enum vf_store_watch_kind kind;
    int64_t revision;
    const struct vf_store_event *events;
    size_t n_events;
    const char *reason;              /* LOST, FAILED: what happened */
    const char *endpoint;            /* streamed from (LOST: the one that failed) */
};

typedef void vf_store_watch_fn(void *arg, const struct vf_store_watch_msg *m);

struct vf_store_watch_req {
    const char *key;
    bool prefix;
    int64_t start_revision;          /* 0: from now on */
    bool prev_kv;
    bool progress_notify;            /* etcd's interval: default 10 min */
    /* With progress_notify: reconnect when etcd sent nothing for this long
     * (a member that froze keeps its connections open). Set it above
     * etcd's --experimental-watch-progress-notify-interval. 0: never. */
    unsigned idle_timeout_ms;
};

/* Starts a watch; it connects from the loop. Returns NULL with err filled
 * on a bad request or no memory. */
struct vf_store_watch *vf_store_watch_start(struct vf_store *s,
                                            const struct vf_store_watch_req *req,
                                            vf_store_watch_fn *fn, void *arg,
                                            char *err, size_t errlen);
/* Stops and frees the watch (from its own callback too). NULL is fine. */
void vf_store_watch_stop(struct vf_store_watch *w);
/* The revision the watch resumes from (last delivered + 1, or the start). */
int64_t vf_store_watch_next_revision(const struct vf_store_watch *w);
/* The endpoint the stream is open to, NULL while not connected. */
const char *vf_store_watch_endpoint(const struct vf_store_watch *w);

/* ---- leases ---- */

/* res->lease_id, res->ttl (the TTL etcd granted, seconds). */
int vf_store_lease_grant_async(struct vf_store *s, int64_t ttl_s,
                               vf_store_done_fn *done, void *arg);
int vf_store_lease_grant(struct vf_store *s, int64_t ttl_s, struct vf_store_result *res);
/* Revoking deletes every key on the lease. */
int vf_store_lease_revoke_async(struct vf_store *s, int64_t id, vf_store_done_fn *done,
                                void *arg);
int vf_store_lease_revoke(struct vf_store *s, int64_t id, struct vf_store_result *res);
/* res->ttl seconds left (-1: no such lease), res->granted_ttl. */
int vf_store_lease_ttl_async(struct vf_store *s, int64_t id, vf_store_done_fn *done,
                             void *arg);
int vf_store_lease_ttl(struct vf_store *s, int64_t id, struct vf_store_result *res);

enum vf_store_lease_event { VF_STORE_LEASE_KEPT, VF_STORE_LEASE_LOST };

/* rc/why explain LOST: -ENOENT (etcd says the lease is gone) or the last
 * keepalive's error (no keepalive got through for a whole TTL). */
typedef void vf_store_lease_fn(void *arg, enum vf_store_lease_event ev, int64_t id,
                               int rc, const char *why);

/* Keeps lease id (granted with ttl_s) alive from the loop: a keepalive at
 * ttl_s/3, retried on failure. fn (may be NULL) hears every KEPT and the
 * one LOST, after which keepalives stop; the keeper stays until
 * vf_store_lease_unkeep. */
struct vf_store_lease *vf_store_lease_keep(struct vf_store *s, int64_t id, int64_t ttl_s,
                                           vf_store_lease_fn *fn, void *arg);
/* Stops keepalives (does not revoke) and frees the keeper. NULL is fine. */
void vf_store_lease_unkeep(struct vf_store_lease *l);
/* Milliseconds until the lease expires by the last keepalive answer. */
int64_t vf_store_lease_left_ms(const struct vf_store_lease *l);

/* ---- state, for `vfabctl status` and tests ---- */

struct vf_store_stats {
    uint64_t requests;          /* completed, ok or not */
    uint64_t failures;          /* completed with rc != 0 */
    uint64_t failovers;         /* moved to another endpoint */
    uint64_t reauths;           /* authenticated again (token expired) */
    uint64_t watch_reconnects;  /* streams re-created after a loss */
    uint64_t keepalives;        /* keepalive answers */
    int64_t revision;           /* highest revision seen in any answer */
    bool connected;             /* the last transfer reached etcd */
    const char *endpoint;       /* where requests go first */
};
void vf_store_get_stats(const struct vf_store *s, struct vf_store_stats *st);

#endif
