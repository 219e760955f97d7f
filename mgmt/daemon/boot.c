/* boot.c - the desired state vfabd starts from (vf_apply.h,
 * vf_boot_state).
 *
 * Without --state-dir: the -c file. With it:
 *   - a valid state.json: the acknowledged state (it holds every change
 *     vfabctl was told had been applied), with the -c file's `local` (this
 *     host's own part, read at start; a difference is logged). A -c file
 *     that is missing or broken is logged and the saved state's own local
 *     is used: a damaged /etc file must not keep a host with good saved
 *     state down (redteam #14);
 *   - no state.json in an existing directory: a first start, seeded from
 *     the -c file ("seeding a new state" is logged); the first vf_apply
 *     saves it before it publishes anything;
 *   - anything else is refused: a missing state directory, state.json a
 *     symlink to nothing (an unmounted state disk must not be silently
 *     reseeded, redteam #15), a state that fails its checks.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/daemon/vf_apply.h"
#include "mgmt/daemon/vf_log.h"
#include "mgmt/daemon/vf_state.h"

/* The saved fabric with the seed's local; the seed's problem, if any, was
 * logged by the caller. 0 or -EINVAL. */
static int take_seed_local(struct vf_model *saved, const struct vf_model *seed,
                           const char *config, const char *path, char *err,
                           size_t errlen, bool *changed)
{
    const char *field = NULL;
    char msg[1024];

    *changed = false;
    if (!seed->has_local)
        return 0;               /* a seed without local: the saved one */
    if (!saved->has_local || !vf_local_same(&saved->local, &seed->local,
                                            &field)) {
        *changed = true;
        vf_log_info("local.%s in %s differs from %s: local is this host's "
                    "own setting and comes from %s, so vfabd runs the saved "
                    "fabric with it", field ? field : "chassis", config,
                    path, config);
    }
    saved->has_local = true;
    saved->local = seed->local;
    if (vf_model_validate(saved, msg, sizeof(msg))) {
        snprintf(err, errlen, "%s: its local section does not fit the saved "
                 "state in %s: %s", config, path, msg);
        return -EINVAL;
    }
    return 0;
}

int vf_boot_state(const char *config, const char *dir, struct vf_change *c,
                  char *err, size_t errlen)
{
    struct vf_model seed = {0}, saved = {0};
    char seed_err[2048], path[4200];
    uint64_t rev = 0;
    bool changed;
    int seed_rc, rc;

    memset(c, 0, sizeof(*c));
    seed_rc = vf_config_load(config, &seed, seed_err, sizeof(seed_err));
    if (!dir) {
        if (seed_rc) {
            snprintf(err, errlen, "%s", seed_err);
            return seed_rc;
        }
        *c = (struct vf_change){ .origin = VF_ORIGIN_FILE, .source = config,
                                 .model = seed, .validated = true };
        return 0;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, VF_STATE_FILE);
    rc = vf_state_check_dir(dir, err, errlen);
    if (rc)
        goto fail;
    rc = vf_state_load_rev(dir, &saved, &rev, err, errlen);
    if (rc == -ENOENT) {
        /* A real first start: the directory is there, the file is not. */
        if (seed_rc) {
            snprintf(err, errlen, "%s (and %s has no saved state to start "
                     "from)", seed_err, dir);
            rc = seed_rc;
            goto fail;
        }
        vf_log_info("seeding a new state in %s from %s (no %s yet: a first "
                    "start)", dir, config, path);
        *c = (struct vf_change){ .origin = VF_ORIGIN_FILE, .source = config,
                                 .model = seed, .validated = true };
        return 0;
    }
    if (rc)
        goto fail;
    if (seed_rc) {
        if (!saved.has_local) {
            snprintf(err, errlen, "%s (and the saved state in %s has no "
                     "local section to start with)", seed_err, path);
            rc = seed_rc;
            goto fail;
        }
        vf_log_warn("%s; starting from the acknowledged state in %s with its "
                    "own local section (fix %s before the next restart)",
                    seed_err, path, config);
        changed = false;
    } else {
        rc = take_seed_local(&saved, &seed, config, path, err, errlen,
                             &changed);
        if (rc)
            goto fail;
    }
    vf_log_info("restored the acknowledged state from %s (%s gives this "
                "host's local section and seeds an empty state directory; to "
                "move the fabric to its contents run: vfabctl apply %s)", path,
                config, config);
    vf_model_free(&seed);
    *c = (struct vf_change){ .origin = VF_ORIGIN_STATE,
                             .source = "the saved state", .revision = rev,
                             .model = saved, .validated = true,
                             .durable = !changed };
    return 0;
fail:
    vf_model_free(&seed);
    vf_model_free(&saved);
    return rc;
}
