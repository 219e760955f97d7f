/* vfabctl_store_rt.c - `vfabctl --store URL chassis | bindings`: what the
 * live hosts wrote on their leases (vf_layout.h, runtime records).
 *
 * chassis: every P"chassis/<name>" with its lease's time left (one
 * time-to-live request per chassis, LEASE_DEPTH in flight at a time).
 * bindings: every P"bindings/<port>" beside the port's desired chassis, so
 * a port that moved (or whose host has not claimed it yet) shows.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mgmt/layout/vf_layout.h"
#include "mgmt/vfabctl.h"

#define LEASE_DEPTH 32
#define LEASE_WAIT_MS 30000

struct lister {
    size_t plen;                 /* prefix length to strip from keys */
    json_t *out;                 /* name -> {value, lease} */
};

static int collect(void *arg, const struct vf_store_kv *kvs, size_t n, int64_t revision)
{
    struct lister *l = arg;
    (void)revision;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_pack("{s:s%, s:I}", "value", kvs[i].value, kvs[i].value_len,
                              "lease", (json_int_t)kvs[i].lease);
        if (!v || json_object_set_new(l->out, kvs[i].key + l->plen, v))
            return -ENOMEM;
    }
    return 0;
}

/* Every key under prefix+sub: {name: {"value", "lease"}} (new ref). */
static json_t *list_sub(struct vf_store *s, const char *prefix, const char *sub,
                        int64_t *revision, int *rc)
{
    char key[512];
    struct vf_store_result res = {0};
    struct lister l = {.out = json_object()};
    snprintf(key, sizeof(key), "%s%s", prefix, sub);
    l.plen = strlen(key);
    *rc = l.out ? vf_store_list(s, key, *revision, 0, collect, &l, &res) : -ENOMEM;
    if (!*rc && res.rc)
        *rc = res.rc;
    if (*rc) {
        fprintf(stderr, "vfabctl: reading %s: %s\n", key,
                res.error[0] ? res.error : strerror(-*rc));
        json_decref(l.out);
        l.out = NULL;
    }
    *revision = res.revision;
    vf_store_result_clear(&res);
    return l.out;
}

/* ---- chassis ---- */

struct ttl_q {
    json_t *rows;                /* array of records, each with "lease" */
    size_t next, pending, n_err;
    char first_err[VF_STORE_ERR_LEN];
};

struct ttl_one {
    struct ttl_q *q;
    json_t *row;
};

static void ttl_done(void *arg, struct vf_store_result *res)
{
    struct ttl_one *t = arg;
    if (res->rc) {
        if (!t->q->n_err++)
            snprintf(t->q->first_err, sizeof(t->q->first_err), "%s", res->error);
    } else {
        json_object_set_new(t->row, "lease_left_s", json_integer(res->ttl));
    }
    t->q->pending--;
    free(t);
}

/* Time-to-live of every row's lease, LEASE_DEPTH requests in flight. */
static int lease_ttls(struct vf_store *s, struct ttl_q *q)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        while (q->pending < LEASE_DEPTH && q->next < json_array_size(q->rows)) {
            json_t *row = json_array_get(q->rows, q->next++);
            json_int_t id = json_integer_value(json_object_get(row, "lease"));
            struct ttl_one *t = malloc(sizeof(*t));
            if (!t)
                return -ENOMEM;
            *t = (struct ttl_one){q, row};
            if (!id) {
                free(t);
                continue;
            }
            int rc = vf_store_lease_ttl_async(s, id, ttl_done, t);
            if (rc) {
                free(t);
                return rc;
            }
            q->pending++;
        }
        if (!q->pending)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 > LEASE_WAIT_MS)
            return -ETIMEDOUT;
        vf_store_run(s, 100);
    }
}

int vfabctl_store_chassis(struct vf_store *s, const char *prefix, bool as_json)
{
    int64_t rev = 0;
    int rc;
    json_t *all = list_sub(s, prefix, "chassis/", &rev, &rc), *v;
    struct ttl_q q = {.rows = json_array()};
    const char *name;

    if (!all)
        return vfabctl_store_status(rc);
    json_object_foreach(all, name, v) {
        struct vf_layout_chassis_rec r;
        char err[256], nm[VF_NAME_MAX];
        /* (name drives json_object_foreach: read it, never assign it) */
        if (vf_layout_name_unescape(name, nm, sizeof(nm)))
            snprintf(nm, sizeof(nm), "%.*s", VF_NAME_MAX - 1, name);
        const char *val = json_string_value(json_object_get(v, "value"));
        json_t *row;
        if (vf_layout_chassis_rec_decode(nm, val, json_string_length(json_object_get(v,
                                         "value")), &r, err, sizeof(err)))
            row = json_pack("{s:s, s:s}", "name", nm, "error", err);
        else
            row = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I}", "name", r.name, "underlay_ip",
                            r.underlay_ip, "encap", r.encap, "port", (int)r.port, "version",
                            r.version, "started", (json_int_t)r.started);
        json_object_set(row, "lease", json_object_get(v, "lease"));
        json_array_append_new(q.rows, row);
    }
    rc = lease_ttls(s, &q);
    if (rc || q.n_err)
        fprintf(stderr, "vfabctl: reading leases: %s\n",
                rc ? strerror(-rc) : q.first_err);
    if (as_json) {
        char *t = json_dumps(q.rows, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", t);
        free(t);
    } else {
        size_t i;
        json_t *row;
        printf("%-20s %-16s %-7s %5s %-10s %10s\n", "chassis", "underlay_ip", "encap",
               "port", "version", "lease_left");
        json_array_foreach(q.rows, i, row) {
            const char *e = json_string_value(json_object_get(row, "error"));
            if (e) {
                printf("%-20s (bad record: %s)\n", json_string_value(json_object_get(row,
                       "name")), e);
                continue;
            }
            json_t *left = json_object_get(row, "lease_left_s");
            char left_s[32] = "?";
            if (left)
                snprintf(left_s, sizeof(left_s), "%" JSON_INTEGER_FORMAT " s",
                         json_integer_value(left));
            printf("%-20s %-16s %-7s %5" JSON_INTEGER_FORMAT " %-10s %10s\n",
                   json_string_value(json_object_get(row, "name")),
                   json_string_value(json_object_get(row, "underlay_ip")),
                   json_string_value(json_object_get(row, "encap")),
                   json_integer_value(json_object_get(row, "port")),
                   json_string_value(json_object_get(row, "version")), left_s);
        }
        if (!json_array_size(q.rows))
            printf("(no live chassis under %schassis/)\n", prefix);
    }
    json_decref(q.rows);
    json_decref(all);
    return rc || q.n_err ? VFABCTL_UNREACHABLE : VFABCTL_OK;
}

/* ---- bindings ---- */

int vfabctl_store_bindings(struct vf_store *s, const char *prefix, bool as_json)
{
    int64_t rev = 0;
    int rc;
    json_t *b = list_sub(s, prefix, "bindings/", &rev, &rc), *ports = NULL, *rows, *v;
    const char *name;

    if (!b)
        return vfabctl_store_status(rc);
    /* The desired chassis of each port, at the same revision. */
    ports = list_sub(s, prefix, "desired/port/", &rev, &rc);
    if (!ports) {
        json_decref(b);
        return vfabctl_store_status(rc);
    }
    json_t *desired = json_object();
    json_object_foreach(ports, name, v) {
        json_t *pv = json_loads(json_string_value(json_object_get(v, "value")), 0, NULL);
        const char *pn = json_string_value(json_object_get(pv, "name"));
        const char *ch = json_string_value(json_object_get(pv, "chassis"));
        if (pn && ch)
            json_object_set_new(desired, pn, json_string(ch));
        json_decref(pv);
    }
    rows = json_array();
    json_object_foreach(b, name, v) {
        char ch[VF_NAME_MAX], err[256], nm[VF_NAME_MAX];
        const char *val = json_string_value(json_object_get(v, "value"));
        /* (name drives json_object_foreach: read it, never assign it) */
        if (vf_layout_name_unescape(name, nm, sizeof(nm)))
            snprintf(nm, sizeof(nm), "%.*s", VF_NAME_MAX - 1, name);
        json_t *row = json_pack("{s:s}", "port", nm);
        if (vf_layout_binding_decode(val, strlen(val), ch, sizeof(ch), err, sizeof(err)))
            json_object_set_new(row, "error", json_string(err));
        else
            json_object_set_new(row, "chassis", json_string(ch));
        json_t *d = json_object_get(desired, nm);
        json_object_set(row, "desired", d ? d : json_null());
        json_array_append_new(rows, row);
    }
    if (as_json) {
        char *t = json_dumps(rows, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", t);
        free(t);
    } else {
        size_t i;
        json_t *row;
        printf("%-24s %-20s %-20s\n", "port", "chassis", "desired");
        json_array_foreach(rows, i, row) {
            const char *c = json_string_value(json_object_get(row, "chassis"));
            const char *d = json_string_value(json_object_get(row, "desired"));
            printf("%-24s %-20s %-20s%s\n", json_string_value(json_object_get(row, "port")),
                   c ? c : "(bad record)", d ? d : "(not in desired)",
                   c && d && strcmp(c, d) ? "  (moving)" : "");
        }
        if (!json_array_size(rows))
            printf("(no bindings under %sbindings/)\n", prefix);
    }
    json_decref(rows);
    json_decref(desired);
    json_decref(ports);
    json_decref(b);
    return VFABCTL_OK;
}
