/* store_http.c - one curl transfer to etcd's JSON gateway: the options
 * every transfer carries (TLS, timeouts, token, size cap), and errors
 * explained in words: curl's transport failures and etcd's own answers. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mgmt/store/store_int.h"

/* A peer that vanished without a FIN (a partitioned member) is noticed by
 * TCP keepalive: 5 s idle, then 3 probes 2 s apart. */
#define KEEPALIVE_IDLE_S 5
#define KEEPALIVE_INTVL_S 2
#define KEEPALIVE_CNT 3

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
    struct store_xfer *x = userp;
    size_t len = size * n;
    if (store_buf_append(&x->in, data, len, x->s->max_response)) {
        x->overflow = true;
        return 0;                    /* curl ends the transfer: CURLE_WRITE_ERROR */
    }
    return len;
}

static int on_sockopt(void *userp, curl_socket_t fd, curlsocktype purpose)
{
    (void)userp;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKOPT_OK;
    int cnt = KEEPALIVE_CNT;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    return CURL_SOCKOPT_OK;
}

int store_xfer_start(struct store_xfer *x, const char *path, const char *body,
                     size_t body_len, long timeout_ms)
{
    struct vf_store *s = x->s;
    char url[512];
    snprintf(url, sizeof(url), "%s%s", s->eps[x->ep], path);
    x->easy = curl_easy_init();
    if (!x->easy)
        return -ENOMEM;
    x->in.len = 0;
    x->overflow = false;
    x->errbuf[0] = '\0';

    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip before large bodies. */
    if (h)
        h = curl_slist_append(h, "Expect:");
    if (h && x->kind == STORE_XFER_WATCH)
        /* gRPC metadata through the gateway: etcd ends the stream when the
         * member loses its leader, instead of keeping a silent watch. */
        h = curl_slist_append(h, "Grpc-Metadata-Hasleader: true");
    if (h && s->token) {
        size_t n = strlen(s->token) + 32;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "Authorization: %s", s->token);
            h = curl_slist_append(h, line);
            explicit_bzero(line, n);
            free(line);
        } else {
            curl_slist_free_all(h);
            h = NULL;
        }
    }
    if (!h) {
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        return -ENOMEM;
    }
    x->hdrs = h;

    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, (long)KEEPALIVE_IDLE_S);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, (long)KEEPALIVE_INTVL_S);
    curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
    if (x->kind == STORE_XFER_REQ)   /* a stream's total is unbounded */
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max_response);
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, s->cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, s->key_file);
    }
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);

    if (curl_multi_add_handle(s->multi, e) != CURLM_OK) {
        store_xfer_stop(x);
        return -EIO;
    }
    return 0;
}

void store_xfer_stop(struct store_xfer *x)
{
    if (x->easy) {
        curl_multi_remove_handle(x->s->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

static bool is_tls_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

/* TLS failures say what to fix: whose certificate was refused by whom. */
static const char *tls_hint(const struct store_xfer *x, CURLcode cc)
{
    const char *e = x->errbuf;
    if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return x->s->ca_file ? "etcd's certificate is not signed by the CA in tls ca, "
                               "or does not name this host"
                             : "etcd's certificate is not trusted: set tls ca";
    if (cc == CURLE_SSL_CACERT_BADFILE)
        return "cannot use the tls ca file";
    if (cc == CURLE_SSL_CERTPROBLEM)
        return "cannot use the tls cert/key files";
    if (strstr(e, "bad certificate") || strstr(e, "unknown ca") ||
        strstr(e, "certificate required") || strstr(e, "certificate unknown"))
        return x->s->cert_file ? "etcd refused our client certificate (not signed by a CA "
                                 "it trusts)"
                               : "etcd wants a client certificate: set tls cert and key";
    return NULL;
}

/* TLS 1.3 ends the handshake before the server has checked our client
 * certificate; a server that refuses it sends an alert and closes, and the
 * alert is lost when the close turns into a reset (our request was still
 * unread). A fresh https connection that dies before any answer byte is
 * that case, unless the member died at this very moment. */
static bool closed_after_handshake(const struct store_xfer *x, CURLcode cc)
{
    long connects = 0;
    curl_off_t got = 0;
    if (strncmp(x->s->eps[x->ep], "https://", 8) != 0 ||
        (cc != CURLE_SEND_ERROR && cc != CURLE_RECV_ERROR && cc != CURLE_GOT_NOTHING))
        return false;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
    return connects > 0 && got == 0 && x->in.len == 0;
}

int store_xfer_error(struct store_xfer *x, CURLcode cc, char *msg, size_t len, bool *sent)
{
    long oserr = 0, req_size = 0;
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
    curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &req_size);
    const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc);
    *sent = req_size > 0;

    if (x->overflow) {
        snprintf(msg, len, "answer larger than the client's cap of %zu bytes "
                 "(max_response_bytes)", x->s->max_response);
        return -EFBIG;
    }
    if (closed_after_handshake(x, cc) && !tls_hint(x, cc)) {
        snprintf(msg, len, "TLS: etcd closed the connection right after the handshake: %s (%s)",
                 x->s->cert_file ? "it most likely refused our client certificate (not "
                                   "signed by a CA it trusts)"
                                 : "it most likely wants a client certificate: set tls cert "
                                   "and key",
                 detail);
        return -EPROTO;
    }
    if (is_tls_error(cc) || (cc == CURLE_RECV_ERROR && strstr(detail, "SSL"))) {
        const char *hint = tls_hint(x, cc);
        snprintf(msg, len, "TLS: %s%s%s%s", hint ? hint : "", hint ? " (" : "", detail,
                 hint ? ")" : "");
        return -EPROTO;
    }
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
        *sent = false;
        snprintf(msg, len, "cannot connect: %s", oserr ? strerror((int)oserr) : detail);
        return oserr == EHOSTUNREACH || oserr == ENETUNREACH ? -EHOSTUNREACH
                                                               : -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
        *sent = false;
        snprintf(msg, len, "cannot resolve the host name (%s)", detail);
        return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, len, "%s (%s)", *sent ? "no answer in time" : "no connection in time",
                 detail);
        return -ETIMEDOUT;
    case CURLE_GOT_NOTHING:
        snprintf(msg, len, "connection closed without an answer%s",
                 strncmp(x->s->eps[x->ep], "http://", 7) == 0
                     ? " (if etcd serves TLS, the endpoint must be https://)"
                     : "");
        return -ECONNRESET;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        snprintf(msg, len, "connection lost (%s)", detail);
        return -ECONNRESET;
    case CURLE_FILESIZE_EXCEEDED:
        snprintf(msg, len, "answer larger than the client's cap of %zu bytes "
                 "(max_response_bytes)", x->s->max_response);
        return -EFBIG;
    case CURLE_OUT_OF_MEMORY:
        snprintf(msg, len, "out of memory");
        return -ENOMEM;
    default:
        snprintf(msg, len, "%s", detail);
        return -EIO;
    }
}

/* gRPC status codes that etcd's errors carry (google.golang.org/grpc/codes). */
enum {
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_NOT_FOUND = 5,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNAVAILABLE = 14,
    GRPC_UNAUTHENTICATED = 16,
};

int store_http_error(const struct vf_store *s, long status, const char *body, size_t len,
                     char *msg, size_t mlen, int *code)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    const char *text = json_string_value(json_object_get(root, "error"));
    if (!text)
        text = json_string_value(json_object_get(root, "message"));
    *code = json_is_integer(json_object_get(root, "code"))
                ? (int)json_integer_value(json_object_get(root, "code"))
                : -1;
    int rc;

    if (!text) {
        /* Not etcd's JSON: a proxy, or no gateway at this path. */
        if (status == 404) {
            snprintf(msg, mlen, "HTTP 404: no etcd v3 JSON gateway here (etcd >= 3.4?)");
            rc = -ENOTSUP;
        } else {
            snprintf(msg, mlen, "HTTP %ld: %.*s", status, (int)(len > 200 ? 200 : len),
                     body ? body : "");
            rc = -EIO;
        }
        json_decref(root);
        return rc;
    }

    if (strstr(text, "request is too large") || *code == GRPC_RESOURCE_EXHAUSTED ||
        status == 413) {
        snprintf(msg, mlen, "HTTP %ld: %s (etcd's request limit, --max-request-bytes, "
                 "default %u bytes; this client assumes %zu)", status, text,
                 VF_STORE_DEFAULT_MAX_REQUEST, s->max_request);
        json_decref(root);
        return -E2BIG;
    }
    if (strstr(text, "required revision has been compacted"))
        rc = -ESTALE;
    else if (strstr(text, "required revision is a future revision"))
        rc = -ERANGE;
    else if (strstr(text, "user name is empty")) {
        snprintf(msg, mlen, "HTTP %ld: %s (etcd has authentication enabled: set the "
                 "store's user and password)", status, text);
        json_decref(root);
        return -EACCES;
    } else if (*code == GRPC_UNAUTHENTICATED || strstr(text, "authentication failed"))
        rc = -EACCES;
    else if (*code == GRPC_PERMISSION_DENIED)
        rc = -EPERM;
    else if (*code == GRPC_NOT_FOUND)
        rc = -ENOENT;
    else if (*code == GRPC_UNAVAILABLE)
        rc = -EAGAIN;
    else if (*code == GRPC_INVALID_ARGUMENT || *code == GRPC_FAILED_PRECONDITION ||
             *code == GRPC_OUT_OF_RANGE)
        rc = -EINVAL;
    else
        rc = -EIO;
    snprintf(msg, mlen, "HTTP %ld: %s", status, text);
    json_decref(root);
    return rc;
}
