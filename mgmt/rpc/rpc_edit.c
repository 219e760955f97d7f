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
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_model_edit.h"
#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_daemon.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/rpc/vf_rpc.h"

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

/* Hands next (taken over) to vf_apply and words its answer: the diff
 * and what happened, or NULL with err set. */
static json_t *commit(struct vf_daemon *d, struct vf_model *next,
                      const char *source, bool validated, bool dry_run,
                      struct vf_rpc_error *err)
{
    struct vf_change c = { .origin = VF_ORIGIN_RPC, .source = source,
                           .model = *next, .dry_run = dry_run,
                           .validated = validated };
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
    return commit(d, &next, kind, true, param_bool(params, "dry_run"), err);
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
    char msg[1024];
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
    /* One file for every host: without `local`, vf_apply gives it this
     * host's (and validates it again with it). */
    return commit(d, &next, name ? name : "yaml", next.has_local,
                  param_bool(params, "dry_run"), err);
}

json_t *vf_rpc_apply(void *ctx, json_t *params, struct vf_rpc_error *err)
{
    return logged("apply", params, apply(ctx, params, err), err);
}
