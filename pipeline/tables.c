/* tables.c - life cycle of compiled tables: maps, refcounted parts, free. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/vf_tables.h"

int vf_hmap_init(struct vf_hmap *h, uint32_t n)
{
    uint32_t size = 4;
    /* Keep the load at or below one half so probe runs stay short. */
    while (size < 2 * (uint64_t)n && size < (1u << 31))
        size <<= 1;
    h->keys = calloc(size, sizeof(*h->keys));
    h->vals = calloc(size, sizeof(*h->vals));
    if (!h->keys || !h->vals) {
        vf_hmap_free(h);
        return -ENOMEM;
    }
    h->mask = size - 1;
    return 0;
}

void vf_hmap_put(struct vf_hmap *h, uint64_t key, uint32_t val)
{
    uint32_t i = (uint32_t)vf_hmap_hash(key) & h->mask;
    for (uint32_t n = 0; n <= h->mask; n++, i = (i + 1) & h->mask) {
        if (h->vals[i] == 0) {
            h->keys[i] = key;
            h->vals[i] = val + 1;
            return;
        }
        if (h->keys[i] == key)
            return;
    }
}

void vf_hmap_set(struct vf_hmap *h, uint64_t key, uint32_t val)
{
    uint32_t i = (uint32_t)vf_hmap_hash(key) & h->mask;
    for (uint32_t n = 0; n <= h->mask && h->vals[i]; n++, i = (i + 1) & h->mask) {
        if (h->keys[i] == key) {
            h->vals[i] = val + 1;
            return;
        }
    }
}

int vf_hmap_build(struct vf_hmap *h, const uint64_t *keys, uint32_t n)
{
    int rc = vf_hmap_init(h, n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        vf_hmap_put(h, keys[i], i);
    return 0;
}

void vf_hmap_free(struct vf_hmap *h)
{
    free(h->keys);
    free(h->vals);
    h->keys = NULL;
    h->vals = NULL;
    h->mask = 0;
}

struct vf_dp *vf_dp_alloc(void)
{
    struct vf_dp *dp = calloc(1, sizeof(*dp));
    if (dp)
        atomic_init(&dp->refcnt, 1);
    return dp;
}

void vf_dp_ref(struct vf_dp *dp)
{
    /* Taking a reference needs no ordering: the caller already holds one
     * (through the previous snapshot), so the object cannot go away. */
    atomic_fetch_add_explicit(&dp->refcnt, 1, memory_order_relaxed);
}

void vf_dp_unref(struct vf_dp *dp)
{
    if (!dp)
        return;
    /* acq_rel: the last releaser must see every other holder's accesses
     * before it frees (pairs with the other holders' release). */
    if (atomic_fetch_sub_explicit(&dp->refcnt, 1, memory_order_acq_rel) != 1)
        return;
    free(dp->ports);
    vf_hmap_free(&dp->by_mac);
    vf_hmap_free(&dp->by_ip);
    vf_hmap_free(&dp->by_id);
    free(dp->flood_local);
    free(dp->flood_remote);
    vf_cls_destroy(dp->acl_in);
    vf_cls_destroy(dp->acl_out);
    vf_cls_destroy(dp->acl_in6);
    vf_cls_destroy(dp->acl_out6);
    free(dp->blob);
    free(dp);
}

struct vf_chassis_tab *vf_chassis_tab_alloc(uint32_t n)
{
    struct vf_chassis_tab *c = calloc(1, sizeof(*c) + (size_t)n * sizeof(c->c[0]));
    if (c) {
        atomic_init(&c->refcnt, 1);
        c->n = n;
    }
    return c;
}

void vf_chassis_tab_ref(struct vf_chassis_tab *c)
{
    atomic_fetch_add_explicit(&c->refcnt, 1, memory_order_relaxed);
}

int vf_chassis_tab_index(struct vf_chassis_tab *c)
{
    /* At most two keys per chassis: its address and, when shared, its
     * endpoint. Sized for both so every put finds an empty slot. */
    vf_hmap_free(&c->by_addr);
    int rc = vf_hmap_init(&c->by_addr, 2 * c->n);   /* n < VF_CHASSIS_NONE */
    if (rc)
        return rc;
    for (uint32_t i = 0; i < c->n; i++) {
        uint64_t k = vf_chassis_addr_key(c->c[i].underlay_ip);
        uint32_t j = vf_hmap_get(&c->by_addr, k);
        if (j == UINT32_MAX) {
            vf_hmap_put(&c->by_addr, k, i);
            continue;
        }
        if (j != VF_CHASSIS_SHARED) {
            /* The second chassis at this address: the first one's entry
             * becomes "shared", and both are found by endpoint. */
            vf_hmap_set(&c->by_addr, k, VF_CHASSIS_SHARED);
            vf_hmap_put(&c->by_addr, vf_chassis_endpoint_key(
                            c->c[j].underlay_ip, c->c[j].port), j);
        }
        vf_hmap_put(&c->by_addr, vf_chassis_endpoint_key(c->c[i].underlay_ip,
                                                         c->c[i].port), i);
    }
    return 0;
}

void vf_chassis_tab_unref(struct vf_chassis_tab *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refcnt, 1, memory_order_acq_rel) == 1) {
        vf_hmap_free(&c->by_addr);
        free(c);
    }
}

struct vf_router *vf_router_alloc(void)
{
    struct vf_router *r = calloc(1, sizeof(*r));
    if (r)
        atomic_init(&r->refcnt, 1);
    return r;
}

void vf_router_ref(struct vf_router *r)
{
    atomic_fetch_add_explicit(&r->refcnt, 1, memory_order_relaxed);
}

void vf_router_unref(struct vf_router *r)
{
    if (!r)
        return;
    if (atomic_fetch_sub_explicit(&r->refcnt, 1, memory_order_acq_rel) != 1)
        return;
    free(r->ports);
    free(r->routes);
    free(r->blob);
    free(r);
}

void vf_tables_free(struct vf_tables *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->n_dps; i++)
        vf_dp_unref(t->dps[i]);
    for (uint32_t i = 0; i < t->n_routers; i++)
        vf_router_unref(t->routers[i]);
    free(t->dps);
    free(t->routers);
    vf_chassis_tab_unref(t->chassis_tab);
    free(t->fports);
    vf_hmap_free(&t->vni_map);
    vf_hmap_free(&t->dp_map);
    vf_hmap_free(&t->router_map);
    free(t);
}

const struct vf_dp *vf_tables_find_port(const struct vf_tables *t,
                                        const char *name, uint32_t *idx)
{
    for (uint32_t d = 0; d < t->n_dps; d++) {
        const struct vf_dp *dp = t->dps[d];
        for (uint32_t i = 0; i < dp->n_ports; i++) {
            if (strcmp(dp->ports[i].name, name) == 0) {
                *idx = i;
                return dp;
            }
        }
    }
    return NULL;
}
