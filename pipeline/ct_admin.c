/* ct_admin.c - conntrack's management side: life cycle, contexts,
 * configuration, statistics, flush, listing, names.
 *
 * None of it runs per packet. Design and thread-safety in vf_conntrack.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "fabric/vf_port.h"
#include "pipeline/ct_impl.h"

static const uint32_t default_timeouts[VF_CT_TO__COUNT] = {
#define CT_TO_DEF_(id, name, def) [VF_CT_TO_##id] = def,
    VF_CT_TIMEOUTS(CT_TO_DEF_)
#undef CT_TO_DEF_
};

static const char *const timeout_names[VF_CT_TO__COUNT] = {
#define CT_TO_NAME_(id, name, def) [VF_CT_TO_##id] = name,
    VF_CT_TIMEOUTS(CT_TO_NAME_)
#undef CT_TO_NAME_
};

static const char *const cs_names[VF_CT_CS__COUNT] = {
#define CT_CS_NAME_(id, name) [VF_CT_CS_##id] = name,
    VF_CT_STATES(CT_CS_NAME_)
#undef CT_CS_NAME_
};

static const char *const cause_names[VF_CT_WHY__COUNT] = {
#define CT_CAUSE_NAME_(id, name) [VF_CT_WHY_##id] = name,
    VF_CT_CAUSES(CT_CAUSE_NAME_)
#undef CT_CAUSE_NAME_
};

static const char *const state_names[VF_CT_STATE__COUNT] = {
    "new", "established", "related", "invalid", "untracked",
};

/* Kills every connection of the zones in `zones` (a bitmap), or of all
 * zones when it is NULL: one walk of the table. */
static unsigned ct_flush_walk(struct vf_ct_worker *w, const uint64_t *zones)
{
    struct vf_ct *ct = w->ct;
    unsigned n = 0;

    for (uint32_t bi = 0; bi <= ct->bucket_mask; bi++) {
        struct ct_bucket *b = &ct->buckets[bi];
        for (unsigned i = 0; i < CT_WAYS; i++) {
            uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_acquire);
            if (!v)
                continue;
            struct ct_conn *c = &ct->conns[(uint32_t)v];
            uint16_t z = c->key.zone;
            if (zones && !((zones[z / 64] >> (z % 64)) & 1))
                continue;
            if (ct_kill(w, c, &b->slot[i], v))
                n++;
        }
    }
    ct_limbo_flush(w);
    /* The room it freed goes back to the table now, not with this
     * context's next connections (mgmt makes none). */
    ct_credit_return_all(w);
    vf_stat_add(&w->stats.flushed, n);
    return n;
}

unsigned vf_ct_flush(struct vf_ct_worker *w, int zone)
{
    uint64_t one[VF_CT_ZONES / 64];
    if (zone < 0)
        return ct_flush_walk(w, NULL);
    memset(one, 0, sizeof(one));
    one[(uint16_t)zone / 64] = 1ull << ((uint16_t)zone % 64);
    return ct_flush_walk(w, one);
}

unsigned vf_ct_flush_zones(struct vf_ct_worker *w, const uint64_t *zones)
{
    return ct_flush_walk(w, zones);
}

unsigned vf_ct_iter(const struct vf_ct *ct, uint32_t *pos, int zone, uint64_t now_ms,
                    struct vf_ct_info *out, unsigned max)
{
    uint32_t now = (uint32_t)now_ms;
    unsigned n = 0;
    uint32_t bi = *pos;

    if (max < CT_WAYS)
        return 0;
    /* Whole buckets only, so a next call starts where this one stopped. */
    for (; bi <= ct->bucket_mask && max - n >= CT_WAYS; bi++) {
        const struct ct_bucket *b = &ct->buckets[bi];
        for (unsigned i = 0; i < CT_WAYS; i++) {
            uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_acquire);
            if (!v)
                continue;
            const struct ct_conn *c = &ct->conns[(uint32_t)v];
            uint64_t s = atomic_load_explicit(&c->state, memory_order_acquire);
            if ((s & CT_S_DEAD) || ct_expired(ct, c, s, now) ||
                (zone >= 0 && c->key.zone != (uint16_t)zone))
                continue;
            struct vf_ct_info *o = &out[n++];
            uint32_t last = atomic_load_explicit(&c->last_seen, memory_order_relaxed);
            uint32_t to = atomic_load_explicit(&ct->timeouts[ct_timeout_of(s)],
                                               memory_order_relaxed);
            int32_t idle = (int32_t)(now - last);
            memcpy(&o->key, &c->key, sizeof(o->key));
            o->orig = c->orig;
            o->conn_state = (uint8_t)ct_s_cs(s);
            o->seen_reply = s & CT_S_SEEN_REPLY;
            o->assured = s & CT_S_ASSURED;
            o->age_ms = now - c->created;
            o->expires_ms = idle < 0 ? to : to - (uint32_t)idle;
            for (unsigned d = 0; d < 2; d++) {
                o->pkts[d] = atomic_load_explicit(&c->dir[d].pkts, memory_order_relaxed);
                o->bytes[d] = atomic_load_explicit(&c->dir[d].bytes, memory_order_relaxed);
            }
        }
    }
    *pos = bi > ct->bucket_mask ? UINT32_MAX : bi;
    return n;
}

/* ---- life cycle and configuration ---- */

struct vf_ct *vf_ct_create(const struct vf_ct_config *cfg)
{
    if (!cfg || cfg->max_conns == 0 || cfg->max_conns > VF_CT_MAX_CONNS) {
        errno = EINVAL;
        return NULL;
    }
    for (unsigned t = 0; t < VF_CT_TO__COUNT; t++) {
        if (cfg->timeouts_ms[t] > VF_CT_TIMEOUT_MAX_MS) {
            errno = EINVAL;
            return NULL;
        }
    }
    struct vf_ct *ct = aligned_alloc(64, sizeof(*ct));
    if (!ct) {
        errno = ENOMEM;
        return NULL;
    }
    memset(ct, 0, sizeof(*ct));
    int rc = ct_mem_create(ct, cfg->max_conns);
    if (rc) {
        free(ct);
        errno = -rc;
        return NULL;
    }
    ct->max_conns = cfg->max_conns;
    atomic_init(&ct->avail, cfg->max_conns);
    atomic_init(&ct->zone_max_default, cfg->zone_max);
    for (unsigned t = 0; t < VF_CT_TO__COUNT; t++)
        atomic_init(&ct->timeouts[t],
                    cfg->timeouts_ms[t] ? cfg->timeouts_ms[t] : default_timeouts[t]);
    if (cfg->seed) {
        for (unsigned i = 0; i < 4; i++)
            ct->seed[i] = cfg->seed * (2 * i + 1) ^ (0x9e3779b97f4a7c15ull >> i);
    } else if (getrandom(ct->seed, sizeof(ct->seed), 0) != (ssize_t)sizeof(ct->seed)) {
        /* No entropy source: a clock-derived seed still varies per run. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        for (unsigned i = 0; i < 4; i++)
            ct->seed[i] = ((uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec) *
                          (0x9e3779b97f4a7c15ull + 2 * i);
    }
    return ct;
}

void vf_ct_destroy(struct vf_ct *ct)
{
    if (!ct)
        return;
    ct_mem_destroy(ct);
    free(ct);
}

int vf_ct_worker_init(struct vf_ct_worker *w, struct vf_ct *ct, unsigned index,
                      unsigned n_sweepers)
{
    memset(w, 0, sizeof(*w));
    w->ct = ct;
    /* A slot a finished context left, else a new one. */
    unsigned n = atomic_load_explicit(&ct->n_ctx, memory_order_relaxed), slot;
    for (slot = 0; slot < n && slot < VF_CT_MAX_CTX; slot++) {
        struct vf_ct_worker *none = NULL;
        if (atomic_compare_exchange_strong_explicit(&ct->ctx[slot], &none, w,
                                                    memory_order_release,
                                                    memory_order_relaxed))
            break;
    }
    if (slot >= n || slot >= VF_CT_MAX_CTX) {
        slot = atomic_fetch_add_explicit(&ct->n_ctx, 1, memory_order_relaxed);
        if (slot >= VF_CT_MAX_CTX) {
            atomic_fetch_sub_explicit(&ct->n_ctx, 1, memory_order_relaxed);
            return -ENOSPC;
        }
    }
    if (index < n_sweepers) {
        uint64_t nb = (uint64_t)ct->bucket_mask + 1;
        w->sweep_lo = (uint32_t)(nb * index / n_sweepers);
        w->sweep_hi = (uint32_t)(nb * (index + 1) / n_sweepers);
        w->sweep_pos = w->sweep_lo;
    }
    /* Release: mgmt's acquire load sees an initialised context (a reused
     * slot was claimed before the share was set: store again). */
    atomic_store_explicit(&ct->ctx[slot], w, memory_order_release);
    return 0;
}

void vf_ct_worker_fini(struct vf_ct_worker *w)
{
    if (!w || !w->ct)
        return;
    struct vf_ct *ct = w->ct;
    ct_alloc_return_all(w);
    ct_credit_return_all(w);
    /* Fold the counters into the table's, then leave the list. */
    _Atomic uint64_t *dst = (_Atomic uint64_t *)&ct->gone;
    _Atomic uint64_t *src = (_Atomic uint64_t *)&w->stats;
    for (size_t i = 0; i < sizeof(w->stats) / sizeof(uint64_t); i++)
        atomic_fetch_add_explicit(&dst[i], atomic_load_explicit(&src[i], memory_order_relaxed),
                                  memory_order_relaxed);
    unsigned n = atomic_load_explicit(&ct->n_ctx, memory_order_relaxed);
    for (unsigned i = 0; i < n && i < VF_CT_MAX_CTX; i++) {
        if (atomic_load_explicit(&ct->ctx[i], memory_order_relaxed) == w)
            atomic_store_explicit(&ct->ctx[i], NULL, memory_order_release);
    }
    w->ct = NULL;
}

_Static_assert(sizeof(struct vf_ct_stats) % sizeof(uint64_t) == 0,
               "the counters are summed as 64-bit words");
_Static_assert(offsetof(struct vf_ct_totals, live) == sizeof(struct vf_ct_stats),
               "the totals start with the counters, in their order");

void vf_ct_get_stats(const struct vf_ct *ct, struct vf_ct_totals *out)
{
    const size_t nw = sizeof(struct vf_ct_stats) / sizeof(uint64_t);
    uint64_t acc[sizeof(struct vf_ct_stats) / sizeof(uint64_t)];
    const _Atomic uint64_t *g = (const _Atomic uint64_t *)&ct->gone;

    for (size_t i = 0; i < nw; i++)
        acc[i] = atomic_load_explicit(&g[i], memory_order_relaxed);
    unsigned n = atomic_load_explicit(&ct->n_ctx, memory_order_relaxed);
    for (unsigned c = 0; c < n && c < VF_CT_MAX_CTX; c++) {
        /* Acquire: pairs with vf_ct_worker_init's release. */
        const struct vf_ct_worker *w = atomic_load_explicit(&ct->ctx[c], memory_order_acquire);
        if (!w)
            continue;
        const _Atomic uint64_t *s = (const _Atomic uint64_t *)&w->stats;
        for (size_t i = 0; i < nw; i++)
            acc[i] += atomic_load_explicit(&s[i], memory_order_relaxed);
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, acc, sizeof(acc));
    out->lookups += out->steady;
    out->found += out->steady;
    out->by_state[VF_CT_ESTABLISHED] += out->steady;
    for (unsigned s = 0; s < VF_CT_CS__COUNT; s++)
        out->live += (uint64_t)out->conns[s];
    out->max_conns = ct->max_conns;
}

int vf_ct_set_timeout(struct vf_ct *ct, enum vf_ct_timeout which, uint32_t ms)
{
    if ((unsigned)which >= VF_CT_TO__COUNT || ms == 0 || ms > VF_CT_TIMEOUT_MAX_MS)
        return -EINVAL;
    atomic_store_explicit(&ct->timeouts[which], ms, memory_order_relaxed);
    return 0;
}

uint32_t vf_ct_get_timeout(const struct vf_ct *ct, enum vf_ct_timeout which)
{
    if ((unsigned)which >= VF_CT_TO__COUNT)
        return 0;
    return atomic_load_explicit(&ct->timeouts[which], memory_order_relaxed);
}

void vf_ct_zone_set_max(struct vf_ct *ct, uint16_t zone, uint32_t max)
{
    atomic_store_explicit(&ct->zones[zone].max, max, memory_order_relaxed);
}

uint32_t vf_ct_zone_get_max(const struct vf_ct *ct, uint16_t zone)
{
    return atomic_load_explicit(&ct->zones[zone].max, memory_order_relaxed);
}

uint32_t vf_ct_zone_count(const struct vf_ct *ct, uint16_t zone)
{
    return atomic_load_explicit(&ct->zones[zone].live, memory_order_relaxed);
}

size_t vf_ct_bytes_per_conn(const struct vf_ct *ct)
{
    return ct->map_len / ct->max_conns;
}

uint32_t vf_ct_capacity(const struct vf_ct *ct)
{
    return ct->n_entries;
}

uint64_t vf_ct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *vf_ct_state_name(unsigned s)
{
    return s < VF_CT_STATE__COUNT ? state_names[s] : "unknown";
}

const char *vf_ct_conn_state_name(unsigned s)
{
    return s < VF_CT_CS__COUNT ? cs_names[s] : "unknown";
}

const char *vf_ct_cause_name(unsigned c)
{
    return c < VF_CT_WHY__COUNT ? cause_names[c] : "unknown";
}

const char *vf_ct_timeout_name(unsigned t)
{
    return t < VF_CT_TO__COUNT ? timeout_names[t] : "unknown";
}
