/* rpc_edit.c - `add`, `del`, `list` and `apply`: the operator changes the
 * desired state while traffic flows.
 *
 * Every change is built whole first (vf_model_edit, or the loader for a
 * file) and refused whole if any part is wrong; an accepted one goes to
 * vf_apply (vf_apply.h), which saves it (when a state directory is set)
 * before any worker sees it, so what vfabd answers "applied" to is exactly
 * what a restart after kill -9 brings back, and a change that cannot be
 * saved is never published. The answer carries the diff (vf_model_diff);
 * dry_run stops before applying.
 *
 * An applied file can be a whole fabric (63,000 ports): loading,
 * validating and diffing it takes seconds, so on the control socket that
 * part runs on mgmt's job thread (vf_mgmt_job.h) and the answer is
 * deferred (vf_ctl.h); `status`, `stats` and metrics keep being served.
 * The job hands vf_apply the model validated and its diff, so the
 * management thread only prepares, saves and publishes, and only if the
 * client is still there: one that gave up leaves nothing changed. While
 * the job runs, other changes are refused as busy (the job reads the
 * model in force).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_edit.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_store_source.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_mgmt_job.h"
#include "mgmt/rpc/vf_rpc.h"

/* Every refused change is logged once, here, where its answer is made. */
static json_t *logged(const char *op, json_t *params, json_t *res,
                      const struct vf_rpc_error *err)
{
    const char *kind = json_string_value(json_object_get(params, "kind"));
    const char *name = json_string_value(json_object_get(params, "name"));

    if (!res && err->code != VF_RPC_DEFERRED)   /* deferred: logged later */
        vf_log_warn("refused change: %s%s%s: %s", op,
                    kind ? " " : name ? " " : "", kind ? kind : name ? name : "",
                    err->message);
    return res;
}

static bool param_bool(json_t *params, const char *key)
{
    return json_is_true(json_object_get(params, key));
}

/* Hands next (taken over) to vf_apply and words its answer: the diff
 * and what happened, or NULL with err set. diff (taken over, or NULL) is
 * vf_model_diff(model in force, next) when the caller already made it. */
static json_t *commit(struct vf_daemon *d, struct vf_model *next,
                      json_t *diff, const char *source, bool validated,
                      bool dry_run, struct vf_rpc_error *err)
{
    struct vf_change c = { .origin = VF_ORIGIN_RPC, .source = source,
                           .model = *next, .dry_run = dry_run,
                           .validated = validated, .diff = diff };
    struct vf_apply_result res;
    char msg[1024];
    json_t *out;
    int rc;

    memset(next, 0, sizeof(*next));
    rc = vf_apply(d, &c, &res, msg, sizeof(msg));
    if (rc) {
        vf_rpc_fail(err, rc == -ENOMEM || res.step == VF_APPLY_SAVE
                         ? VF_RPC_INTERNAL_ERROR : VF_RPC_REFUSED, "%s", msg);
        out = NULL;
    } else if (!res.applied) {
        out = json_pack("{s:b, s:b, s:I, s:O}", "dry_run", dry_run,
                        "applied", false, "generation",
                        (json_int_t)res.generation, "diff", res.diff);
    } else {
        out = json_pack("{s:b, s:b, s:b, s:I, s:O}", "dry_run", false,
                        "applied", true, "persisted", res.persisted,
                        "generation", (json_int_t)res.generation, "diff",
                        res.diff);
    }
    json_decref(res.diff);
    return out;
}

/* While a file is validated on the job thread, the model must not change
 * under it: other changes wait (the client is told to try again). */
static json_t *busy(struct vf_rpc_error *err)
{
    double secs = 0;
    const char *what = vf_mgmt_job_running(&secs);
    return vf_rpc_fail(err, VF_RPC_BUSY, "busy: %s is being validated (for "
                       "%.0f s so far); try again when it is done",
                       what, secs);
}

/* A vfabd whose fabric comes from etcd takes no edits here: they would
 * be undone by the next store change, and other hosts would never see
 * them. NULL when edits are allowed. */
static json_t *store_refuses(const struct vf_daemon *d, const char *what,
                             struct vf_rpc_error *err)
{
    if (!d->store)
        return NULL;
    return vf_rpc_fail(err, VF_RPC_REFUSED, "this vfabd takes its fabric from "
                       "the etcd store at %s: change it there with vfabctl --store "
                       "%s %s ...", vf_store_src_endpoints(d->store),
                       vf_store_src_endpoints(d->store), what);
}

static json_t *edit(void *ctx, json_t *params, struct vf_rpc_error *err,
                    enum vf_edit_op op)
{
    struct vf_daemon *d = ctx;
    const char *kind = json_string_value(json_object_get(params, "kind"));
    json_t *spec = json_object_get(params, "spec");
    struct vf_model next;
    char msg[1024];
    int rc;

    if (d->store)
        return store_refuses(d, op == VF_EDIT_ADD ? "add" : "del", err);
    if (!kind)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: missing "
                           "string 'kind' (one of chassis, tenant, switch, "
                           "port, router, router-port, route, acl)");
    if (!json_is_object(spec))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: 'spec' must "
                           "be an object (see vfabctl --help)");
    if (vf_mgmt_job_running(NULL))
        return busy(err);
    rc = vf_model_edit(&d->model, op, kind, spec,
                       param_bool(params, "cascade"), &next, msg,
                       sizeof(msg));
    if (rc)
        return vf_rpc_fail(err, rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                           VF_RPC_REFUSED, "%s", msg);
    return commit(d, &next, NULL, kind, true, param_bool(params, "dry_run"),
                  err);
}

json_t *vf_rpc_add(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    return logged("add", params, edit(ctx, params, err, VF_EDIT_ADD), err);
}

json_t *vf_rpc_del(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    return logged("del", params, edit(ctx, params, err, VF_EDIT_DEL), err);
}

json_t *vf_rpc_list(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    const char *kind = json_string_value(json_object_get(params, "kind"));
    json_t *l = kind ? vf_model_list(&d->model, kind) : NULL;

    if (!l)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: 'kind' %s%s%s"
                           "must be one of chassis, tenant, switch, port, "
                           "router, router-port, route, acl",
                           kind ? "\"" : "", kind ? kind : "",
                           kind ? "\" " : "");
    return l;
}

/* One `apply`: the file's text and what the job thread makes of it. */
struct apply_job {
    struct vf_daemon *d;
    char *text;
    size_t len;
    char name[256];
    bool dry_run;
    bool deferred;                 /* answered by apply_finish later */
    double started, prepared;      /* monotonic seconds, for the log */
    /* Results (job thread: w, then mgmt: r after the deferred is ready). */
    int rc;
    struct vf_rpc_error err;
    struct vf_model next;          /* loaded, with local, validated */
    json_t *diff;                  /* vf_model_diff(d->model, next) */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Load, take this host's local, validate, diff: vf_apply's steps 1 and 2,
 * which only read the model in force (and d->config). Runs on the job
 * thread (or inline when the answer cannot wait). */
static void apply_prepare(void *arg)
{
    struct apply_job *j = arg;
    char msg[1024];

    j->rc = vf_config_load_string(j->text, j->len, &j->next, msg, sizeof(msg));
    free(j->text);
    j->text = NULL;
    if (j->rc) {
        /* "<string>:14: ..." reads better as the file the operator sent. */
        bool where = strncmp(msg, "<string>", 8) == 0;
        vf_rpc_fail(&j->err, j->rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                    VF_RPC_REFUSED, "%s%s", where ? j->name : "",
                    where ? msg + 8 : msg);
        return;
    }
    /* vf_apply's steps 1 and 2, the same code vf_apply runs: one file for
     * every host (without `local`, this host keeps its own and the model is
     * validated again with it), then the diff against the model in force. */
    struct vf_change c = { .origin = VF_ORIGIN_RPC, .source = j->name,
                           .model = j->next, .validated = true };
    memset(&j->next, 0, sizeof(j->next));
    j->rc = vf_apply_check(j->d, &c, msg, sizeof(msg));
    j->next = c.model;
    j->diff = c.diff;
    if (j->rc) {
        vf_rpc_fail(&j->err, j->rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                    VF_RPC_REFUSED, "%s", msg);
        return;
    }
    j->prepared = now_s();
}

/* The management thread's half: apply what the job prepared, unless the
 * client left first (then nothing changes). */
static json_t *apply_finish(void *arg, bool gone, struct vf_rpc_error *err)
{
    struct apply_job *j = arg;
    json_t *res = NULL;

    vf_mgmt_job_end();
    if (gone) {
        if (!j->rc)
            vf_log_warn("apply of %s abandoned: the client left before it was "
                        "applied; nothing changed", j->name);
    } else if (j->rc) {
        *err = j->err;
    } else {
        size_t n = vf_model_diff_count(j->diff);
        double t = now_s();
        res = commit(j->d, &j->next, j->diff, j->name, true, j->dry_run, err);
        j->diff = NULL;
        if (res && j->deferred && n)
            vf_log_info("apply of %s: %zu changes validated in %.2f s "
                        "(job thread), %s in %.2f s", j->name, n,
                        j->prepared - j->started, j->dry_run ? "shown"
                        : "applied", now_s() - t);
    }
    /* An answer given at once is logged by vf_rpc_apply (logged). */
    if (!gone && !res && j->deferred)
        vf_log_warn("refused change: apply %s: %s", j->name, err->message);
    json_decref(j->diff);
    vf_model_free(&j->next);
    free(j->text);
    free(j);
    return res;
}

/* The job's last step, on its thread: the deferred answer may go out. */
static void job_done(void *t)
{
    vf_ctl_deferred_ready(t);
}

static json_t *apply(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    json_t *y = json_object_get(params, "yaml");
    const char *name = json_string_value(json_object_get(params, "name"));
    char what[300];

    if (d->store)
        return store_refuses(d, "apply", err);
    if (!json_is_string(y))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: missing "
                           "string 'yaml' (the desired-state file's text)");
    if (vf_mgmt_job_running(NULL))
        return busy(err);
    struct apply_job *j = calloc(1, sizeof(*j));
    if (j)
        j->text = malloc(json_string_length(y) + 1);
    if (!j || !j->text) {
        free(j);
        return vf_rpc_fail(err, VF_RPC_INTERNAL_ERROR, "out of memory");
    }
    j->d = d;
    j->len = json_string_length(y);
    memcpy(j->text, json_string_value(y), j->len + 1);
    snprintf(j->name, sizeof(j->name), "%s", name ? name : "yaml");
    j->dry_run = param_bool(params, "dry_run");
    j->started = now_s();
    /* On a socket the answer comes later, from apply_finish; meanwhile the
     * management thread serves everyone else. */
    struct vf_ctl_deferred *t = vf_ctl_defer(apply_finish, j);
    j->deferred = t != NULL;
    snprintf(what, sizeof(what), "an apply of %s", j->name);
    if (t && vf_mgmt_job_start(what, apply_prepare, j, job_done, t) == 0) {
        err->code = VF_RPC_DEFERRED;
        return NULL;
    }
    apply_prepare(j);
    if (t) {
        /* Deferred, but no thread: the work is done, answer at once. */
        vf_ctl_deferred_ready(t);
        err->code = VF_RPC_DEFERRED;
        return NULL;
    }
    return apply_finish(j, false, err);
}

json_t *vf_rpc_apply(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    return logged("apply", params, apply(ctx, params, err), err);
}
