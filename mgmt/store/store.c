/* store.c - the client object: configuration checked whole, endpoints,
 * log, stats (vf_store.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "mgmt/store/store_int.h"

#define DEFAULT_REQUEST_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_MS 1000
#define MAX_ENDPOINTS 32

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int64_t store_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void store_log(const struct vf_store *s, enum vf_store_log_level level, const char *fmt, ...)
{
    if (!s->log)
        return;
    char msg[VF_STORE_ERR_LEN + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->log(s->log_arg, level, msg);
}

unsigned store_ep_failed(struct vf_store *s, unsigned ep)
{
    unsigned next = (ep + 1) % s->n_eps;
    if (s->cur_ep == ep)
        s->cur_ep = next;
    return next;
}

void store_note_revision(struct vf_store *s, json_t *root)
{
    int64_t rev = store_json_i64(json_object_get(root, "header"), "revision");
    if (rev > s->st.revision)
        s->st.revision = rev;
}

int64_t store_backoff_ns(struct vf_store *s, unsigned attempt)
{
    if (attempt <= 1)
        return 0;                    /* the next endpoint at once */
    int64_t ms = 50;
    for (unsigned i = 2; i < attempt && ms < 5000; i++)
        ms *= 2;
    if (ms > 5000)
        ms = 5000;
    /* xorshift64: jitter keeps many hosts from reconnecting in step. */
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    int64_t jitter = (int64_t)(s->rng % 41) - 20;      /* -20..+20 % */
    return (ms * (100 + jitter) / 100) * 1000000;
}

static char *dup_or_null(const char *p)
{
    return p && *p ? strdup(p) : NULL;
}

static int check_file(const char *field, const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return 0;
    if (access(path, R_OK) == 0)
        return 0;
    int e = errno;
    snprintf(err, errlen, "store: %s %s: %s", field, path, strerror(e));
    return -e;
}

/* One endpoint: scheme://host:port, without a path, user info or query. */
static int parse_endpoint(const char *tok, size_t len, bool tls, char **out, char *err,
                          size_t errlen)
{
    while (len > 0 && (tok[len - 1] == '/' || tok[len - 1] == ' '))
        len--;
    while (len > 0 && *tok == ' ') {
        tok++;
        len--;
    }
    if (len == 0) {
        snprintf(err, errlen, "store: endpoints: an empty entry");
        return -EINVAL;
    }
    const char *scheme = tls ? "https://" : "http://";
    const char *rest = tok;
    if (len > 7 && strncmp(tok, "http://", 7) == 0) {
        scheme = "http://";
        rest = tok + 7;
    } else if (len > 8 && strncmp(tok, "https://", 8) == 0) {
        scheme = "https://";
        rest = tok + 8;
    } else if (memmem(tok, len, "://", 3)) {
        snprintf(err, errlen, "store: endpoint %.*s: only http:// and https:// are known",
                 (int)len, tok);
        return -EINVAL;
    }
    size_t rlen = len - (size_t)(rest - tok);
    if (memchr(rest, '@', rlen)) {
        /* Not echoed: it may hold a password. */
        snprintf(err, errlen, "store: an endpoint carries user:password@; "
                 "use the store's user and password settings instead");
        return -EINVAL;
    }
    if (memchr(rest, '/', rlen) || memchr(rest, '?', rlen) || rlen == 0) {
        snprintf(err, errlen, "store: endpoint %.*s: want scheme://host:port", (int)len, tok);
        return -EINVAL;
    }
    size_t n = strlen(scheme) + rlen + 1;
    *out = malloc(n);
    if (!*out)
        return -ENOMEM;
    snprintf(*out, n, "%s%.*s", scheme, (int)rlen, rest);
    return 0;
}

static int parse_endpoints(struct vf_store *s, const char *list, char *err, size_t errlen)
{
    if (!list || !*list) {
        snprintf(err, errlen, "store: endpoints: none given (want URL[,URL...])");
        return -EINVAL;
    }
    s->eps = calloc(MAX_ENDPOINTS, sizeof(*s->eps));
    if (!s->eps)
        return -ENOMEM;
    bool tls = s->ca_file || s->cert_file;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (s->n_eps == MAX_ENDPOINTS) {
            snprintf(err, errlen, "store: endpoints: more than %d", MAX_ENDPOINTS);
            return -EINVAL;
        }
        int rc = parse_endpoint(p, len, tls, &s->eps[s->n_eps], err, errlen);
        if (rc)
            return rc;
        s->n_eps++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int vf_store_create(const struct vf_store_config *cfg, struct vf_store **out, char *err,
                    size_t errlen)
{
    int rc;
    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errlen, "store: libcurl: %s", curl_easy_strerror(curl_init_rc));
        return -EIO;
    }
    if ((cfg->cert_file && *cfg->cert_file) != (cfg->key_file && *cfg->key_file)) {
        snprintf(err, errlen, "store: tls: cert and key go together (one is missing)");
        return -EINVAL;
    }
    if ((cfg->user && *cfg->user) && !cfg->password) {
        snprintf(err, errlen, "store: user %s: no password given", cfg->user);
        return -EINVAL;
    }
    if ((rc = check_file("tls ca", cfg->ca_file, err, errlen)) ||
        (rc = check_file("tls cert", cfg->cert_file, err, errlen)) ||
        (rc = check_file("tls key", cfg->key_file, err, errlen)))
        return rc;

    struct vf_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->wake_fd = -1;
    s->curl_due_ns = -1;
    s->ca_file = dup_or_null(cfg->ca_file);
    s->cert_file = dup_or_null(cfg->cert_file);
    s->key_file = dup_or_null(cfg->key_file);
    s->user = dup_or_null(cfg->user);
    s->password = s->user ? strdup(cfg->password) : NULL;
    s->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms
                                                    : DEFAULT_REQUEST_TIMEOUT_MS;
    s->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
                                                    : DEFAULT_CONNECT_TIMEOUT_MS;
    s->max_request = cfg->max_request_bytes ? cfg->max_request_bytes
                                            : VF_STORE_DEFAULT_MAX_REQUEST;
    s->max_response = cfg->max_response_bytes ? cfg->max_response_bytes
                                              : VF_STORE_DEFAULT_MAX_RESPONSE;
    s->log = cfg->log;
    s->log_arg = cfg->log_arg;
    s->rng = (uint64_t)store_now_ns() | 1;
    if ((s->user && !s->password) ||
        (cfg->ca_file && *cfg->ca_file && !s->ca_file)) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = parse_endpoints(s, cfg->endpoints, err, errlen);
    if (rc)
        goto fail;
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->wake_fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "store: eventfd: %s", strerror(-rc));
        goto fail;
    }
    s->multi = curl_multi_init();
    if (!s->multi) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = store_loop_init(s);
    if (rc) {
        snprintf(err, errlen, "store: libcurl multi setup failed");
        goto fail;
    }
    s->st.endpoint = s->eps[0];
    *out = s;
    return 0;

fail:
    if (rc == -ENOMEM && err && errlen)
        snprintf(err, errlen, "store: out of memory");
    vf_store_destroy(s);
    return rc;
}

static void wipe_free(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

void vf_store_destroy(struct vf_store *s)
{
    if (!s)
        return;
    while (s->reqs) {
        struct store_req *r = s->reqs;
        if (r->drop)
            r->drop(r->arg);
        store_req_free(r);
    }
    store_watch_reap(s, true);
    store_lease_reap(s, true);
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    for (unsigned i = 0; i < s->n_eps; i++)
        free(s->eps[i]);
    free(s->eps);
    free(s->socks);
    free(s->ca_file);
    free(s->cert_file);
    free(s->key_file);
    free(s->user);
    wipe_free(s->password);
    wipe_free(s->token);
    free(s);
}

void vf_store_get_stats(const struct vf_store *s, struct vf_store_stats *st)
{
    *st = s->st;
    st->endpoint = s->eps[s->cur_ep];
}
