/* vf_apply.h - the one way a desired state reaches the workers.
 *
 * What: every source of desired state hands vf_apply() a whole model: the
 * -c file at a first start, the state directory at a restart, the control
 * socket's add/del/apply (rpc_edit.c), and the etcd store (vfabd --store,
 * vf_store_source.h: its list and watch, with the set of chassis down).
 * Nothing else applies a model, so every change is checked, saved and
 * published the same way, in this order:
 *
 *   1. validate the whole model, and take `local` by the rule below;
 *   2. diff it against the model in force: nothing changed (and no port
 *      lost its device) answers "no change"; a dry run answers the diff;
 *   3. prepare: open the ports arriving on this chassis (no worker polls
 *      them yet), plan the pools' budgets, compile the tables
 *      incrementally from the current ones, build the workers' new rx
 *      queue sets. Any failure undoes the prepare (closes what it opened)
 *      and refuses: nothing visible changed;
 *   4. save, when a state directory is set (vf_state.h, with the store
 *      revision): a failure undoes the prepare and refuses, so no state is
 *      ever published that was not saved (on a full disk, nothing is);
 *   5. publish the tables and the rx sets in one grace period;
 *   6. close the ports that left, make the model the one in force, and
 *      fill the result the caller acknowledges with.
 *
 * `local` describes this host, not the fabric: it comes from the -c file
 * at start, never from the state directory or an apply. A change without
 * `local` (an apply of the fabric's file, an edit, the store) keeps the
 * running one; a change whose `local` differs from the running one is
 * refused with "local.X is this host's own setting: edit FILE and restart
 * vfabd" (except local.ct_timeouts, which an apply changes at once). At
 * start (vf_boot_state) a saved fabric runs with the -c file's local, and
 * a difference is logged. local.c holds the rule.
 *
 * Steps 1 and 2 only read the model in force, and for a whole fabric's
 * file they take seconds (the diff most of it). vf_apply_check does them
 * alone, so a caller may run it on mgmt's job thread and hand the checked
 * change to vf_apply on the management thread, which then starts at step
 * 3 (steps 3-6 need the ports and tables only mgmt touches).
 *
 * Ownership: vf_apply takes the change's model and diff over in every case
 * (both are left empty); res->diff is a new reference the caller drops.
 *
 * Thread-safety: vf_apply on the management thread only, like everything
 * that touches struct vf_daemon. vf_apply_check reads d->model and
 * d->config only: it may run on another thread while the management
 * thread changes neither (no vf_apply in between: the caller refuses other
 * changes meanwhile), and its change must then go to vf_apply unchanged.
 */
#ifndef VF_APPLY_H
#define VF_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mgmt/control/vf_model.h"

struct vf_daemon;

enum vf_change_origin {
    VF_ORIGIN_FILE,             /* the -c file (a first start) */
    VF_ORIGIN_STATE,            /* the state directory (a restart) */
    VF_ORIGIN_RPC,              /* vfabctl add/del/apply */
    VF_ORIGIN_STORE,            /* the etcd store (vf_store_source.h) */
};

struct vf_change {
    enum vf_change_origin origin;
    const char *source;         /* file, "add port", store endpoint: logs */
    uint64_t revision;          /* the store revision of this model; 0 */
    struct vf_model model;      /* the WHOLE desired model, taken over */
    bool dry_run;               /* answer the diff, change nothing */
    /* The model passed vf_model_validate as it is (the loader's output):
     * not checked twice, unless vf_apply gives it the running `local`. */
    bool validated;
    /* The model is what the state directory already holds (a restart):
     * not written again. */
    bool durable;
    /* Set by vf_apply_check: steps 1 and 2 are done, against the model in
     * force, and this is vf_model_diff(in force, model). NULL: vf_apply
     * does them. Taken over by vf_apply (into res->diff). */
    json_t *diff;
    /* Liveness (the store's live chassis): model.n_chassis bytes, nonzero
     * = that chassis is down (vf_compile_env.chassis_down). NULL: all up.
     * A change of it alone is a change. Taken over by vf_apply. */
    uint8_t *down;
};

/* Where vf_apply stopped; the caller words its answer by it. */
enum vf_apply_step {
    VF_APPLY_VALIDATE,          /* refused: the model or its local */
    VF_APPLY_PREPARE,           /* refused: ports, pools or tables */
    VF_APPLY_SAVE,              /* refused: the state could not be saved */
    VF_APPLY_DONE,              /* answered (applied or not) */
};

struct vf_apply_result {
    json_t *diff;               /* vf_model_diff(in force, new); new ref */
    uint64_t generation;        /* tables generation now in force */
    bool applied;               /* published (false: no change, dry run) */
    bool persisted;             /* saved in the state directory */
    enum vf_apply_step step;
};

/* 0 (see res->applied), or -errno with err saying what was refused and
 * why (-EINVAL invalid, -ENOSPC pools too small, -errno of the save, ...);
 * res->step says where. */
int vf_apply(struct vf_daemon *d, struct vf_change *c,
             struct vf_apply_result *res, char *err, size_t errlen);

/* Compiles and publishes the model in force again, for what changed
 * beside it (a gateway's learned next hops, vf_gateway.h): steps 3 and 5
 * only, nothing saved. 0, or -errno with err; the tables in force stay
 * on failure. */
int vf_apply_republish(struct vf_daemon *d, char *err, size_t errlen);

/* Steps 1 and 2 alone (see Thread-safety): validates c->model with the
 * `local` rule and sets c->diff. 0, or -EINVAL / -ENOMEM with err set (the
 * change is left for the caller to free: vf_change_free). */
int vf_apply_check(const struct vf_daemon *d, struct vf_change *c, char *err,
                   size_t errlen);
/* Frees what a change holds that vf_apply did not take (its model and
 * diff), for a change that is dropped instead of applied. */
void vf_change_free(struct vf_change *c);

/* ---- local.c: the `local` rule ---- */

/* Step 1's rule: a change without local takes d's running one; one that
 * differs from it is refused (naming the field and the -c file). Sets
 * *taken when the running local was filled in. 0 or -EINVAL. */
int vf_local_check(const struct vf_daemon *d, struct vf_model *next,
                   bool *taken, char *err, size_t errlen);
/* Whether two local sections are the same; *field names the first part
 * that differs ("workers", "uplink", ...). ct_timeouts are not compared:
 * they are the one part of local an apply changes (daemon_ct.c sets them
 * from the model in force after each publication). */
bool vf_local_same(const struct vf_model_local *a,
                   const struct vf_model_local *b, const char **field);

/* ---- boot.c: the state vfabd starts from ---- */

/* The first change of a vfabd with -c config (and --state-dir dir, or
 * NULL): with a valid saved state, that state with config's local
 * (config's problems are logged, not fatal, when the saved state has a
 * local of its own); on a first start, config, saved by the first apply
 * ("seeding a new state" is logged). A dangling state.json symlink, a
 * missing state directory or a corrupt state are refused. 0, or -EINVAL
 * (config or state invalid: exit 2) or -errno (exit 1) with err set. */
int vf_boot_state(const char *config, const char *dir, struct vf_change *c,
                  char *err, size_t errlen);

#endif
