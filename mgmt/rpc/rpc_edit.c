/* rpc_edit.c - `add`, `del`, `list` and `apply`: the operator changes the
 * desired state while traffic flows.
 *
 * Every change is built whole first (vf_model_edit, or the loader for a
 * file) and refused whole if any part is wrong; an accepted one goes to
 * vf_daemon_apply (compile, publish), then, when a state directory is set,
 * to vf_state_save before the answer is sent. If saving fails the running
 * daemon is put back on the previous model, so what vfabd answers "applied"
 * to is exactly what a restart after kill -9 brings back. The answer
 * carries the diff (vf_model_diff); dry_run stops before applying.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_edit.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/rpc/vf_rpc.h"
#include "mgmt/daemon/vf_state.h"

/* Every refused change is logged once, here, where its answer is made. */
static json_t *logged(const char *op, json_t *params, json_t *res,
                      const struct vf_rpc_error *err)
{
    const char *kind = json_string_value(json_object_get(params, "kind"));
    const char *name = json_string_value(json_object_get(params, "name"));

    if (!res)
        vf_log_warn("refused change: %s%s%s: %s", op,
                    kind ? " " : name ? " " : "", kind ? kind : name ? name : "",
                    err->message);
    return res;
}

static bool param_bool(json_t *params, const char *key)
{
    return json_is_true(json_object_get(params, key));
}

/* A copy of the model in force, to put back if saving fails. */
static int copy_model(const struct vf_model *m, struct vf_model *out,
                      char *err, size_t errlen)
{
    json_t *j = vf_model_to_json(m);
    char *txt = j ? json_dumps(j, 0) : NULL;
    int rc = -ENOMEM;

    json_decref(j);
    memset(out, 0, sizeof(*out));
    if (txt)
        rc = vf_config_load_string(txt, strlen(txt), out, err, errlen);
    free(txt);
    return rc;
}

/* Applies next (taken over) and persists it; the answer, or NULL with err
 * set. next is freed in every case. */
static json_t *commit(struct vf_daemon *d, struct vf_model *next,
                      bool dry_run, struct vf_rpc_error *err)
{
    json_t *diff = vf_model_diff(&d->model, next), *out = NULL;
    struct vf_model old = { 0 };
    char msg[1024] = "", msg2[1024] = "";
    bool persisted = false;
    int rc;

    if (!diff) {
        vf_rpc_fail(err, VF_RPC_INTERNAL_ERROR, "out of memory");
        goto out;
    }
    /* An unchanged model still goes to the daemon when a port was lost
     * (tap deleted): applying is how an operator brings it back. */
    if (dry_run || (vf_model_diff_count(diff) == 0 && !vf_daemon_lost_ports(d))) {
        out = json_pack("{s:b, s:b, s:I, s:O}", "dry_run", dry_run,
                        "applied", false, "generation",
                        (json_int_t)d->generation, "diff", diff);
        goto out;
    }
    if (d->state_dir[0] && (rc = copy_model(&d->model, &old, msg,
                                         sizeof(msg))) != 0) {
        vf_rpc_fail(err, VF_RPC_INTERNAL_ERROR, "cannot copy the model in "
                    "force: %s", msg);
        goto out;
    }
    rc = vf_daemon_apply(d, next, msg, sizeof(msg));
    if (rc) {
        vf_rpc_fail(err, VF_RPC_REFUSED, "%s", msg);
        goto out;
    }
    if (d->state_dir[0]) {
        rc = vf_state_save(d->state_dir, &d->model, msg, sizeof(msg));
        if (rc) {
            /* Not durable, so not acknowledged: go back to the saved
             * model, which is still the one on disk. */
            int rc2 = vf_daemon_apply(d, &old, msg2, sizeof(msg2));
            vf_rpc_fail(err, VF_RPC_INTERNAL_ERROR, "the change was applied "
                        "but could not be saved (%s); %s%s", msg,
                        rc2 ? "putting the previous state back failed too, "
                        "so the daemon runs an unsaved state: " :
                        "it was undone", rc2 ? msg2 : "");
            goto out;
        }
        persisted = true;
    }
    out = json_pack("{s:b, s:b, s:b, s:I, s:O}", "dry_run", false, "applied",
                    true, "persisted", persisted, "generation",
                    (json_int_t)d->generation, "diff", diff);
out:
    json_decref(diff);
    vf_model_free(&old);
    vf_model_free(next);
    return out;
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

    if (!kind)
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: missing "
                           "string 'kind' (one of chassis, tenant, switch, "
                           "port, router, router-port, route, acl)");
    if (!json_is_object(spec))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: 'spec' must "
                           "be an object (see vfabctl --help)");
    rc = vf_model_edit(&d->model, op, kind, spec,
                       param_bool(params, "cascade"), &next, msg,
                       sizeof(msg));
    if (rc)
        return vf_rpc_fail(err, rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                           VF_RPC_REFUSED, "%s", msg);
    return commit(d, &next, param_bool(params, "dry_run"), err);
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

static json_t *apply(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    struct vf_daemon *d = ctx;
    json_t *y = json_object_get(params, "yaml");
    const char *name = json_string_value(json_object_get(params, "name"));
    struct vf_model next;
    char msg[1024], verr[1024];
    int rc;

    if (!json_is_string(y))
        return vf_rpc_fail(err, VF_RPC_INVALID_PARAMS, "params: missing "
                           "string 'yaml' (the desired-state file's text)");
    rc = vf_config_load_string(json_string_value(y), json_string_length(y),
                               &next, msg, sizeof(msg));
    if (rc) {
        /* "<string>:14: ..." reads better as the file the operator sent. */
        bool where = name && strncmp(msg, "<string>", 8) == 0;
        return vf_rpc_fail(err, rc == -ENOMEM ? VF_RPC_INTERNAL_ERROR :
                           VF_RPC_REFUSED, "%s%s", where ? name : "",
                           where ? msg + 8 : msg);
    }
    /* One file for every host: without `local`, this host keeps its own. */
    if (!next.has_local) {
        next.has_local = true;
        next.local = d->model.local;
        if (vf_model_validate(&next, verr, sizeof(verr)) != 0) {
            vf_model_free(&next);
            return vf_rpc_fail(err, VF_RPC_REFUSED, "%s: %s (with this "
                               "host's local section)", name ? name : "yaml",
                               verr);
        }
    }
    return commit(d, &next, param_bool(params, "dry_run"), err);
}

json_t *vf_rpc_apply(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    return logged("apply", params, apply(ctx, params, err), err);
}
