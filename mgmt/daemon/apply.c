/* apply.c - vf_apply: validate, diff, prepare, save, publish, swap
 * (vf_apply.h says why in this order).
 *
 * What "prepare" leaves behind until publish: ports marked closing (still
 * polled: their rx sets are the old ones), new ports opened in free slots
 * (polled by no one: not in any rx set yet, not in the tables in force),
 * compiled tables and rx sets that no worker has seen. Undoing it closes
 * the new ports, clears the marks and frees the tables and sets, so a
 * refused change leaves exactly what was there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu-qsbr.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/daemon/daemon_int.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_budget.h"
#include "mgmt/daemon/vf_gateway.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_state.h"
#include "pipeline/vf_tables.h"

/* What step 3 made; published by step 5 or undone. */
struct prepared {
    unsigned n_opened;                  /* slots in d->scratch.opened */
    struct vf_budget budget;
    struct vf_tables *tables;
    struct vf_rxq_set *sets[VF_MAX_WORKERS];
    bool have_sets;
    struct vf_port_view *view;          /* for the demo (vf_port_view.h) */
};

static bool same_attach(const struct vf_model_attach *a,
                        const struct vf_model_attach *b)
{
    return a->type == b->type && !strcmp(a->name, b->name) &&
           !strcmp(a->device, b->device) && !strcmp(a->socket, b->socket) &&
           a->mode == b->mode;
}

static void undo(struct vf_daemon *d, struct prepared *p)
{
    if (p->have_sets)
        for (unsigned w = 0; w < d->n_workers; w++)
            free(p->sets[w]);
    p->have_sets = false;
    vf_tables_free(p->tables);
    p->tables = NULL;
    vf_port_view_free(p->view);
    p->view = NULL;
    for (unsigned k = 0; k < p->n_opened; k++) {
        struct vf_daemon_port *dp = &d->ports[d->scratch.opened[k]];
        vf_port_close(dp->port);
        memset(dp, 0, sizeof(*dp));
    }
    p->n_opened = 0;
    for (unsigned i = 0; i < d->n_ports; i++)
        d->ports[i].closing = false;
}

/* Step 3. Nothing here is visible to a worker. */
static int prepare(struct vf_daemon *d, const struct vf_model *next,
                   const uint8_t *down, struct prepared *p, char *err,
                   size_t errlen)
{
    int rc = 0;

    /* Ports leaving this chassis, re-attached, or whose device vanished
     * (re-created by this apply) are marked closing. */
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        size_t t, sw, k;
        bool keep;

        if (!dp->port || dp->port == d->uplink)
            continue;
        if (dp->physical) {
            dp->closing = !vf_gw_keep_port(d, next, dp);
            continue;
        }
        keep = vf_model_find_port(next, dp->name, &t, &sw, &k) == 0;
        if (keep) {
            const struct vf_model_port *np =
                &next->tenants[t].switches[sw].ports[k];
            keep = np->chassis_idx == next->local.chassis_idx &&
                   same_attach(&np->attach, &dp->mport->attach) &&
                   !vf_ports_gone(dp);
        }
        dp->closing = !keep;
    }
    /* Ports arriving are opened; no worker polls them yet. */
    size_t n = vf_ports_local(d, next);
    for (size_t i = 0; i < n && !rc; i++) {
        const struct vf_model_port *mp = d->scratch.port[i];
        const struct vf_daemon_port *have = vf_daemon_find_port(d, mp->name);
        struct vf_port *port;

        if (have && !have->closing)
            continue;
        port = vf_ports_open_tenant(d, mp, err, errlen);
        if (!port)
            return -EINVAL;
        rc = vf_ports_add(d, port, mp, d->scratch.tenant[i], err, errlen);
        if (!rc)
            d->scratch.opened[p->n_opened++] = port->index;
    }
    if (!rc)
        rc = vf_gw_open_ports(d, next, d->scratch.opened, &p->n_opened, err,
                              errlen);
    /* The pools must hold the new set of ports (vf_budget.h). */
    if (!rc)
        rc = vf_budget_plan(d, &p->budget, err, errlen);
    if (rc)
        return rc;
    /* Tables for the new model, sharing what did not change. */
    struct vf_compile_env env = {
        .chassis_idx = next->local.chassis_idx,
        .port_of = vf_ports_of,
        .arg = d,
        .uplink = d->uplink,
        .chassis_down = down,
        .physical_of = vf_gw_physical_of,
    };
    env.neigh = vf_gw_neigh_of(d, &env.n_neigh);
    p->tables = vf_compile(next, vf_publisher_current(&d->pub), &env,
                           d->generation + 1, err, errlen);
    if (!p->tables)
        return -EINVAL;
    if (vf_daemon_build_rx_sets(d, p->sets)) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->have_sets = true;
    /* The open ports as they will be, for readers that are not workers. */
    p->view = vf_port_view_build(d, next);
    if (!p->view) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Steps 5 and 6: publish, then retire the ports that left. */
static void publish(struct vf_daemon *d, struct prepared *p)
{
    struct vf_rxq_set *old[VF_MAX_WORKERS] = {0};
    struct vf_port_view *old_view = d->view;
    unsigned closed = 0;

    /* Budgets before anyone sends to the new ports; a port that leaves
     * keeps what it holds until it is closed below. One grace period
     * covers the tables, the rx sets and the port view. */
    vf_budget_apply(d, &p->budget);
    vf_daemon_swap_rx_sets(d, p->sets, old);
    p->have_sets = false;
    rcu_assign_pointer(d->view, p->view);
    p->view = NULL;
    d->generation++;
    vf_publish(&d->pub, p->tables);
    p->tables = NULL;
    for (unsigned w = 0; w < d->n_workers; w++)
        free(old[w]);
    vf_port_view_free(old_view);
    /* No worker can hold the leaving ports now: close them. */
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        if (!dp->port || !dp->closing)
            continue;
        vf_ports_drain(d, dp->port);
        vf_port_close(dp->port);
        memset(dp, 0, sizeof(*dp));
        closed++;
    }
    /* What the drains freed goes back to the pool, not into mgmt's cache,
     * and the ports that stay may now hold more. A capture of a port that
     * just left ends now, before a later apply can give its slot (and
     * fabric index) to another tenant's port. */
    if (closed) {
        char e[256];
        vf_pool_cache_flush(&d->mgmt_cache);
        if (vf_budget_plan(d, &p->budget, e, sizeof(e)) == 0)
            vf_budget_apply(d, &p->budget);
        vf_capture_poll(d);
    }
}

/* The new model is in force; ports point at its entries. */
static void swap_model(struct vf_daemon *d, struct vf_model *next)
{
    vf_model_free(&d->model);
    d->model = *next;
    memset(next, 0, sizeof(*next));
    for (unsigned i = 0; i < d->n_ports; i++) {
        struct vf_daemon_port *dp = &d->ports[i];
        size_t t, sw, k;
        if (!dp->port || dp->port == d->uplink)
            continue;
        if (vf_model_find_port(&d->model, dp->name, &t, &sw, &k) == 0) {
            dp->mport = &d->model.tenants[t].switches[sw].ports[k];
            dp->tenant = (unsigned)t;
        }
    }
}

static const char *origin_name(enum vf_change_origin o)
{
    switch (o) {
    case VF_ORIGIN_FILE: return "file";
    case VF_ORIGIN_STATE: return "state";
    case VF_ORIGIN_RPC: return "control socket";
    case VF_ORIGIN_STORE: return "store";
    }
    return "?";
}

/* Do the chassis of next have the liveness of those in force (by name)? */
static bool down_same(const struct vf_daemon *d, const struct vf_model *next,
                      const uint8_t *down)
{
    for (size_t i = 0; i < next->n_chassis; i++) {
        int j = vf_model_find_chassis(&d->model, next->chassis[i].name);
        bool was = j >= 0 && d->down && d->down[j];
        if (was != (down && down[i]))
            return false;
    }
    return true;
}

int vf_apply_republish(struct vf_daemon *d, char *err, size_t errlen)
{
    struct prepared p = {0};
    int rc;

    if (!d->generation)
        return 0;               /* nothing published yet: the first apply */
    rc = prepare(d, &d->model, d->down, &p, err, errlen);
    if (rc) {
        undo(d, &p);
        return rc;
    }
    publish(d, &p);
    return 0;
}

void vf_change_free(struct vf_change *c)
{
    free(c->down);
    c->down = NULL;
    vf_model_free(&c->model);
    json_decref(c->diff);
    c->diff = NULL;
}

int vf_apply_check(const struct vf_daemon *d, struct vf_change *c, char *err,
                   size_t errlen)
{
    struct vf_model *next = &c->model;
    char msg[1024];
    bool taken;
    int rc;

    json_decref(c->diff);
    c->diff = NULL;
    /* 1. The whole model, with this host's local. */
    rc = vf_local_check(d, next, &taken, err, errlen);
    if (rc)
        return rc;
    if (taken || !c->validated) {
        rc = vf_model_validate(next, msg, sizeof(msg));
        if (rc) {
            snprintf(err, errlen, "%s: %s%s", c->source ? c->source : "model",
                     msg, taken ? " (with this host's local section)" : "");
            return rc;
        }
        c->validated = true;
    }
    /* 2. What changes. */
    c->diff = vf_model_diff(&d->model, next);
    if (!c->diff) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

int vf_apply(struct vf_daemon *d, struct vf_change *c,
             struct vf_apply_result *res, char *err, size_t errlen)
{
    struct vf_model *next = &c->model;
    struct prepared p = {0};
    char msg[1024];
    int rc = 0;

    memset(res, 0, sizeof(*res));
    res->generation = d->generation;
    res->step = VF_APPLY_VALIDATE;
    /* 1, 2: unless vf_apply_check did them already (on mgmt's job thread,
     * against this same model in force). */
    if (!c->diff)
        rc = vf_apply_check(d, c, err, errlen);
    res->diff = c->diff;
    c->diff = NULL;
    if (rc)
        goto out;
    /* An unchanged model still goes on when a port lost its device (a
     * deleted tap): applying is how an operator brings it back. */
    res->step = VF_APPLY_DONE;
    if (c->dry_run || (d->generation && vf_model_diff_count(res->diff) == 0 &&
                       !vf_daemon_lost_ports(d) && down_same(d, next, c->down)))
        goto out;
    /* 3. Everything the change needs, unseen by workers. */
    res->step = VF_APPLY_PREPARE;
    rc = prepare(d, next, c->down, &p, err, errlen);
    if (rc)
        goto undo;
    /* 4. Durable before visible: what a worker ever runs was saved. */
    if (d->state_dir[0] && !c->durable) {
        res->step = VF_APPLY_SAVE;
        rc = vf_state_save_rev(d->state_dir, next, c->revision, msg,
                               sizeof(msg));
        if (rc) {
            snprintf(err, errlen, "the change could not be saved (%s); "
                     "nothing was applied: the workers never saw it", msg);
            goto undo;
        }
    }
    /* 5, 6. The connection table follows the model in force (its
     * local.ct_timeouts) and the tables (max_connections, zones that
     * left): after the swap, so a changed timeout takes effect with this
     * apply, not the next one. */
    publish(d, &p);
    swap_model(d, next);
    free(d->down);
    d->down = c->down;
    c->down = NULL;
    vf_daemon_ct_published(d);
    d->revision = c->revision;
    res->step = VF_APPLY_DONE;
    res->applied = true;
    res->persisted = d->state_dir[0] != '\0';
    res->generation = d->generation;
    vf_log_debug("applied %s (%s): generation %llu, %zu changes",
                 c->source ? c->source : "a change", origin_name(c->origin),
                 (unsigned long long)d->generation,
                 vf_model_diff_count(res->diff));
    goto out;
undo:
    undo(d, &p);
out:
    json_decref(c->diff);       /* refused before step 2 */
    c->diff = NULL;
    free(c->down);
    c->down = NULL;
    vf_model_free(next);
    return rc;
}
