/* store_int.h - what the files of mgmt/store share (private).
 *
 * What: the client object, the two kinds of transfer (a request with one
 * answer, a watch stream), and helpers: base64, the JSON stream framer,
 * results built in one allocation. See vf_store.h for the design.
 *
 * Thread-safety: everything here belongs to the store's owner thread, as
 * vf_store.h says; wake_fd is the one thing other threads touch (write(2)
 * on an eventfd).
 */
#ifndef VF_STORE_INT_H
#define VF_STORE_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <sys/types.h>

#include "mgmt/store/vf_store.h"

/* ---- growable byte buffer with a cap ---- */
struct store_buf {
    char *p;
    size_t len;
    size_t cap;
};
int store_buf_append(struct store_buf *b, const void *data, size_t n, size_t limit);
void store_buf_consume(struct store_buf *b, size_t n);
void store_buf_free(struct store_buf *b);

/* The JSON stream framer: finds complete top-level objects in a byte
 * stream that arrives in arbitrary pieces ({"result":...} one after the
 * other). State survives between calls; see store_framer_next. */
struct store_framer {
    size_t pos;                     /* next byte to scan */
    size_t begin;                   /* where the current object began */
    unsigned depth;
    bool in_str, esc;
};
/* ---- a curl transfer: a request or a watch stream ---- */
enum store_xfer_kind { STORE_XFER_REQ, STORE_XFER_WATCH };

struct store_xfer {
    enum store_xfer_kind kind;
    struct vf_store *s;
    CURL *easy;                     /* NULL when no transfer is running */
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct store_buf in;            /* response bytes not consumed yet */
    bool overflow;                  /* in would have passed max_response */
    unsigned ep;                    /* endpoint index of this transfer */
};

/* Starts x on endpoint x->ep: POST path with body (kept by the caller
 * until the transfer ends). timeout_ms 0: no overall limit (a stream). */
int store_xfer_start(struct store_xfer *x, const char *path, const char *body,
                     size_t body_len, long timeout_ms);
/* Removes the transfer from the multi handle and frees it (not the buffer). */
void store_xfer_stop(struct store_xfer *x);

/* Explains a failed transfer: returns -errno and writes the reason (no
 * endpoint prefix). *sent: the request may have reached etcd. */
int store_xfer_error(struct store_xfer *x, CURLcode cc, char *msg, size_t len, bool *sent);
/* Explains a non-200 answer from etcd's body ({"error", "code"}). *code is
 * the gRPC code (or -1). */
int store_http_error(const struct vf_store *s, long status, const char *body, size_t len,
                     char *msg, size_t mlen, int *code);

/* ---- a request with one answer ---- */
struct store_req;
typedef int store_decode_fn(struct store_req *r, json_t *root, struct vf_store_result *res);

struct store_req {
    struct store_xfer x;            /* first: CURLOPT_PRIVATE points here */
    struct store_req *next;         /* s->reqs */
    struct store_req *prev;
    const char *path;
    char *body;
    size_t body_len;
    bool secret;                    /* body holds a password: wiped on free */
    bool idempotent;                /* may be sent twice (reads, keepalive) */
    bool needs_auth;                /* carries the token (all but authenticate) */
    bool parked;                    /* waits for a token */
    bool early;                     /* failed before it started: early_rc */
    bool auth_retried;
    int early_rc;
    unsigned tries;                 /* endpoints tried so far */
    uint64_t token_gen;             /* the token generation it was sent with */
    int64_t deadline_ns;
    unsigned timeout_ms;
    char fails[VF_STORE_ERR_LEN];   /* earlier endpoints' failures */
    store_decode_fn *decode;
    vf_store_done_fn *done;
    void *arg;
    void (*drop)(void *arg);        /* frees arg when destroy drops r unfinished */
};

/* A request for path with body (json, consumed). Returns NULL on ENOMEM. */
struct store_req *store_req_new(struct vf_store *s, const char *path, json_t *body,
                                store_decode_fn *decode, vf_store_done_fn *done, void *arg);
/* Starts r (or parks it for a token). Never calls done from here. */
void store_req_submit(struct store_req *r);
/* Completes r with an error at the next dispatch (never from here). */
void store_req_fail_later(struct store_req *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A request that fails at the next dispatch (bad arguments, too large):
 * returns 0, or -ENOMEM. */
int store_fail_later(struct vf_store *s, vf_store_done_fn *done, void *arg, int rc,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void store_req_transfer_done(struct store_req *r, CURLcode cc);
void store_req_run_early(struct vf_store *s);
void store_req_free(struct store_req *r);

/* A synchronous call: begin (clears res; -EDEADLK inside a callback),
 * then the _async call with store_sync_done and w, then finish with its
 * return code: runs the loop until the request completed. */
struct store_sync {
    bool done;
    struct vf_store_result *out;
};
int store_sync_begin(struct vf_store *s, struct vf_store_result *res, struct store_sync *w);
void store_sync_done(void *arg, struct vf_store_result *res);
int store_sync_finish(struct vf_store *s, int rc, struct store_sync *w);
int store_sync_wait(struct vf_store *s, const bool *done);

/* ---- key-value requests with binary keys (store_kv.c) ---- */
struct store_range_args {
    const char *key, *end;          /* end NULL: the key alone */
    size_t klen, elen;
    int64_t revision, limit;
    bool keys_only, count_only;
};
int store_range_submit(struct vf_store *s, const struct store_range_args *a,
                       vf_store_done_fn *done, void *arg, void (*drop)(void *arg));

/* ---- auth ---- */
void store_auth_start(struct vf_store *s);
bool store_auth_ready(const struct vf_store *s);

/* ---- watches and leases, driven by the loop ---- */
enum store_watch_state {
    WATCH_WAIT,                     /* until due_ns: (re)connect then */
    WATCH_TOKEN,                    /* waits for authentication */
    WATCH_OPEN,                     /* transfer running (created or not yet) */
    WATCH_STOPPED,                  /* compacted or refused: no more */
};

struct vf_store_watch {
    struct store_xfer x;            /* first: CURLOPT_PRIVATE points here */
    struct vf_store_watch *next;    /* s->watches */
    enum store_watch_state state;
    bool created;                   /* etcd confirmed this stream */
    bool dead;                      /* stopped by its owner: freed at reap */
    bool lost_quiet;                /* a loss was logged; log again once up */
    char *key;
    bool prefix, prev_kv, progress;
    char *body;                     /* the create request of this stream */
    /* Resume point: the next revision to deliver, and how many events of
     * skip_rev were delivered before a fragmented revision broke off. */
    int64_t next_rev;
    int64_t skip_rev;
    size_t skip_n, skip_left;
    int64_t cur_rev;                /* last revision delivered, its count */
    size_t cur_n;
    unsigned attempt;               /* reconnects since the last created */
    int64_t due_ns;                 /* WAIT: reconnect then */
    int64_t opened_ns;              /* OPEN: when the stream was requested */
    int64_t rx_ns;                  /* OPEN: when etcd last sent something */
    unsigned idle_ms;               /* 0: a quiet stream is fine */
    uint64_t token_gen;             /* the token generation it was opened with */
    struct store_framer fr;
    vf_store_watch_fn *fn;
    void *arg;
};

struct vf_store_lease {
    struct vf_store *s;
    struct vf_store_lease *next;    /* s->leases */
    int64_t id, ttl_s;
    int64_t expire_ns;              /* by the last keepalive answer */
    int64_t due_ns;                 /* next keepalive */
    bool inflight, lost, dead;
    int last_rc;
    char last_err[VF_STORE_ERR_LEN];
    vf_store_lease_fn *fn;
    void *arg;
};

void store_watch_input(struct vf_store_watch *w);
void store_watch_transfer_done(struct vf_store_watch *w, CURLcode cc);
int64_t store_watch_next_due(const struct vf_store *s);
void store_watch_timers(struct vf_store *s, int64_t now);
/* Authentication finished (rc 0) or failed: watches waiting go on. */
void store_watch_token_ready(struct vf_store *s, int rc, const char *why);
/* Frees stopped watches (all: every watch, on destroy). */
void store_watch_reap(struct vf_store *s, bool all);
int64_t store_lease_next_due(const struct vf_store *s);
void store_lease_timers(struct vf_store *s, int64_t now);
void store_lease_reap(struct vf_store *s, bool all);

/* ---- the client ---- */
struct store_sock {
    curl_socket_t fd;
    int what;                       /* CURL_POLL_IN/OUT/INOUT */
};

struct vf_store {
    char **eps;                     /* endpoint URLs, no trailing '/' */
    unsigned n_eps;
    unsigned cur_ep;                /* where requests start: the last that worked */
    char *ca_file, *cert_file, *key_file;
    char *user, *password;          /* password wiped on destroy */
    unsigned request_timeout_ms;
    unsigned connect_timeout_ms;
    size_t max_request;
    size_t max_response;
    void (*log)(void *arg, enum vf_store_log_level level, const char *msg);
    void *log_arg;

    CURLM *multi;
    struct store_sock *socks;       /* what curl asked to poll */
    unsigned n_socks, cap_socks;
    int64_t curl_due_ns;            /* curl's timer; -1: none */
    int wake_fd;                    /* eventfd: any thread writes, owner reads */
    uint64_t rng;                   /* backoff jitter */

    struct store_req *reqs;         /* every live request */
    unsigned n_early;               /* requests with early set */
    char *token;                    /* wiped when dropped */
    uint64_t token_gen;
    bool authed_once;
    struct store_req *auth_req;     /* the authenticate in flight */
    struct vf_store_watch *watches;
    struct vf_store_lease *leases;
    unsigned cb_depth;              /* > 0 inside a completion/callback */

    struct vf_store_stats st;
};

int store_loop_init(struct vf_store *s);
void store_log(const struct vf_store *s, enum vf_store_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t store_now_ns(void);
/* Next endpoint after ep; moves cur_ep on when it pointed at ep. */
unsigned store_ep_failed(struct vf_store *s, unsigned ep);
void store_note_revision(struct vf_store *s, json_t *root);
/* Backoff before reconnect attempt n (1, 2, ...): 0, 50 ms doubling, 5 s cap, +-20%. */
int64_t store_backoff_ns(struct vf_store *s, unsigned attempt);

/* ---- codec ---- */
size_t store_b64_len(size_t n);
void store_b64_encode(const void *src, size_t n, char *dst);
/* Returns the decoded length, or -1 when src is not base64. */
ssize_t store_b64_decode(const char *src, size_t n, void *dst);
json_t *store_json_b64(const void *p, size_t n);
/* etcd's range_end for "every key starting with prefix": the prefix with
 * its last byte below 0xff incremented; "\0" (all keys) when there is none.
 * out holds klen bytes; returns the length. */
size_t store_prefix_end(const char *key, size_t klen, char *out);
int64_t store_json_i64(json_t *obj, const char *field);
void store_json_set_i64(json_t *obj, const char *field, int64_t v);
/* Sets key (and range_end for prefix) on obj. */
int store_json_key(json_t *obj, const char *key, bool prefix);

/* 1: buf[*begin, *end) is one object; 0: need more bytes; -1: garbage. */
int store_framer_next(struct store_framer *f, const char *buf, size_t len, size_t *begin,
                      size_t *end);
/* After the caller dropped the first n bytes of the buffer. */
void store_framer_shift(struct store_framer *f, size_t n);

/* Results in one allocation: kvs, ops and the decoded bytes. */
struct store_arena {
    char *base;
    size_t used, cap;
};
size_t store_kvs_bytes(json_t *kvs);
int store_arena_init(struct store_arena *a, size_t bytes);
void *store_arena_alloc(struct store_arena *a, size_t n);
int store_kv_decode(json_t *obj, struct vf_store_kv *kv, struct store_arena *a);
/* Decodes the array kvs into a->, returning the array (n in *n). */
struct vf_store_kv *store_kvs_decode(json_t *kvs, struct store_arena *a, size_t *n, int *rc);
void store_result_error(struct vf_store_result *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
