/* store_list.c - every key under a prefix, in pages at one revision: the
 * first page pins the revision, each next page starts after the last key
 * seen, a page that hits the response cap is asked again at half the size.
 * At most one page is in memory (vf_store.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/store/store_int.h"

struct list_ctx {
    struct vf_store *s;
    char *start;                    /* the next page's first key */
    size_t start_len;
    char *end;                      /* the prefix's range_end */
    size_t end_len;
    int64_t revision;               /* 0 until the first page pins it */
    unsigned page;
    int64_t seen;
    vf_store_page_fn *page_fn;
    vf_store_done_fn *done;
    void *arg;
};

static void list_page_done(void *arg, struct vf_store_result *res);

static void list_free(void *arg)
{
    struct list_ctx *c = arg;
    free(c->start);
    free(c->end);
    free(c);
}

static int list_next(struct list_ctx *c)
{
    struct store_range_args a = {.key = c->start, .klen = c->start_len, .end = c->end,
                                 .elen = c->end_len, .revision = c->revision,
                                 .limit = c->page};
    return store_range_submit(c->s, &a, list_page_done, c, list_free);
}

static void list_end(struct list_ctx *c, struct vf_store_result *res)
{
    struct vf_store_result out = {0};
    if (res && res->rc) {
        out.rc = res->rc;
        memcpy(out.error, res->error, sizeof(out.error));
    }
    out.revision = c->revision;
    out.count = c->seen;
    if (c->done)
        c->done(c->arg, &out);       /* already inside a completion: cb_depth > 0 */
    vf_store_result_clear(&out);
    list_free(c);
}

static void list_page_done(void *arg, struct vf_store_result *res)
{
    struct list_ctx *c = arg;
    if (res->rc == -EFBIG && c->page > 1) {
        c->page /= 2;                /* a page of large values: smaller pages */
        store_log(c->s, VF_STORE_LOG_INFO, "etcd list: a page hit the response cap; "
                  "pages of %u keys now", c->page);
        if (list_next(c) == 0)
            return;
        store_result_error(res, -ENOMEM, "etcd list: out of memory");
    }
    if (res->rc == -ESTALE && c->revision) {
        char why[VF_STORE_ERR_LEN];
        memcpy(why, res->error, sizeof(why));
        store_result_error(res, -ESTALE, "%.300s (compacted while listing at revision "
                           "%lld: list again)", why, (long long)c->revision);
    }
    if (res->rc) {
        list_end(c, res);
        return;
    }
    if (!c->revision)
        c->revision = res->revision;
    c->seen += (int64_t)res->n_kvs;
    if (res->n_kvs && c->page_fn && c->page_fn(c->arg, res->kvs, res->n_kvs, c->revision)) {
        store_result_error(res, -ECANCELED, "etcd list: stopped by the caller");
        list_end(c, res);
        return;
    }
    if (!res->more || res->n_kvs == 0) {
        list_end(c, NULL);
        return;
    }
    /* The next page starts just after the last key: key + "\0". */
    const struct vf_store_kv *last = &res->kvs[res->n_kvs - 1];
    char *start = malloc(last->key_len + 1);
    if (!start) {
        store_result_error(res, -ENOMEM, "etcd list: out of memory");
        list_end(c, res);
        return;
    }
    memcpy(start, last->key, last->key_len);
    start[last->key_len] = '\0';
    free(c->start);
    c->start = start;
    c->start_len = last->key_len + 1;
    if (list_next(c)) {
        store_result_error(res, -ENOMEM, "etcd list: out of memory");
        list_end(c, res);
    }
}

int vf_store_list_async(struct vf_store *s, const char *prefix, int64_t revision,
                        unsigned page_size, vf_store_page_fn *page, vf_store_done_fn *done,
                        void *arg)
{
    if (!prefix || !*prefix)
        return store_fail_later(s, done, arg, -EINVAL, "etcd list: an empty prefix");
    struct list_ctx *c = calloc(1, sizeof(*c));
    size_t plen = strlen(prefix);
    if (!c)
        return -ENOMEM;
    c->s = s;
    c->start = strdup(prefix);
    c->end = malloc(plen);
    if (!c->start || !c->end) {
        free(c->start);
        free(c->end);
        free(c);
        return -ENOMEM;
    }
    c->start_len = plen;
    c->end_len = store_prefix_end(prefix, plen, c->end);
    c->revision = revision;
    c->page = page_size ? page_size : VF_STORE_DEFAULT_PAGE;
    c->page_fn = page;
    c->done = done;
    c->arg = arg;
    int rc = list_next(c);
    if (rc)
        list_free(c);
    return rc;
}

struct list_sync {
    struct store_sync w;
    vf_store_page_fn *page;
    void *arg;
};

static int list_sync_page(void *arg, const struct vf_store_kv *kvs, size_t n, int64_t rev)
{
    struct list_sync *ls = arg;
    return ls->page ? ls->page(ls->arg, kvs, n, rev) : 0;
}

static void list_sync_done(void *arg, struct vf_store_result *res)
{
    struct list_sync *ls = arg;
    store_sync_done(&ls->w, res);
}

int vf_store_list(struct vf_store *s, const char *prefix, int64_t revision,
                  unsigned page_size, vf_store_page_fn *page, void *arg,
                  struct vf_store_result *res)
{
    struct list_sync ls = {.page = page, .arg = arg};
    int rc = store_sync_begin(s, res, &ls.w);
    if (rc)
        return rc;
    rc = vf_store_list_async(s, prefix, revision, page_size, list_sync_page, list_sync_done,
                             &ls);
    return store_sync_finish(s, rc, &ls.w);
}
