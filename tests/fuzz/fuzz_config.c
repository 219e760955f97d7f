/* fuzz_config.c - libFuzzer target for the YAML loader (mgmt/config.c).
 *
 * Each input is a desired-state document, as `vfabd -c`, `vfabctl apply`
 * and the state directory hand it to vf_config_load_string(). Checked:
 *   - a refused document returns -EINVAL (or -ENOMEM), leaves the model
 *     empty and says why in a terminated, non-empty message;
 *   - an accepted one survives the state directory's round trip: saved as
 *     JSON (vf_model_to_json, what vf_state_save writes) and loaded back,
 *     it is the same model (same JSON, no diff, same logical port ids);
 *   - an accepted one compiles for every chassis (validation promised it),
 *     and compiling it again over the first snapshot shares every switch
 *     and router (the incremental compile sees no change).
 * Deep nesting is slow in libyaml (redteam defect 6, fixed elsewhere);
 * docs/fuzzing.md runs this target with -max_len and -timeout that keep it
 * finding other things.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_json.h"
#include "tests/fuzz/vf_fuzz_check.h"

#define MAX_COMPILED_CHASSIS 4

static bool model_is_empty(const struct vf_model *m)
{
    static const struct vf_model zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* Logical port ids, in model order, must be equal in a and b. */
static bool same_ids(const struct vf_model *a, const struct vf_model *b)
{
    if (a->n_tenants != b->n_tenants)
        return false;
    for (size_t t = 0; t < a->n_tenants; t++) {
        const struct vf_model_tenant *x = &a->tenants[t], *y = &b->tenants[t];
        if (x->n_switches != y->n_switches || x->n_routers != y->n_routers)
            return false;
        for (size_t s = 0; s < x->n_switches; s++) {
            if (x->switches[s].id != y->switches[s].id ||
                x->switches[s].n_ports != y->switches[s].n_ports)
                return false;
            for (size_t p = 0; p < x->switches[s].n_ports; p++)
                if (x->switches[s].ports[p].id != y->switches[s].ports[p].id)
                    return false;
        }
        for (size_t r = 0; r < x->n_routers; r++) {
            if (x->routers[r].id != y->routers[r].id ||
                x->routers[r].n_ports != y->routers[r].n_ports)
                return false;
            for (size_t p = 0; p < x->routers[r].n_ports; p++)
                if (x->routers[r].ports[p].id != y->routers[r].ports[p].id)
                    return false;
        }
    }
    return true;
}

static void check_compiles(const struct vf_model *m)
{
    char err[512];

    for (size_t c = 0; c < m->n_chassis && c < MAX_COMPILED_CHASSIS; c++) {
        struct vf_compile_env env = { .chassis_idx = (int)c };
        struct vf_tables *t = vf_compile(m, NULL, &env, 1, err, sizeof(err));
        FZ_CHECK(t, "a valid model does not compile for chassis %s: %s",
              m->chassis[c].name, err);
        struct vf_tables *t2 = vf_compile(m, t, &env, 2, err, sizeof(err));
        FZ_CHECK(t2, "recompiling chassis %s: %s", m->chassis[c].name, err);
        FZ_CHECK(t2->n_dps_built == 0 && t2->n_routers_built == 0,
              "an unchanged model rebuilt %u switches and %u routers",
              t2->n_dps_built, t2->n_routers_built);
        vf_tables_free(t2);
        vf_tables_free(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vf_model m, m2;
    char err[1024];
    int rc;

    memset(err, 'x', sizeof(err));
    rc = vf_config_load_string((const char *)data, size, &m, err, sizeof(err));
    FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "unterminated message");
    if (rc) {
        FZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "rc %d: %s", rc, err);
        FZ_CHECK(err[0] != '\0', "refused (rc %d) without a message", rc);
        FZ_CHECK(model_is_empty(&m), "a refused load left a model: %s", err);
        return 0;
    }

    /* What vf_state_save writes (JSON is YAML) must load back the same. */
    json_t *j = vf_model_to_json(&m);
    FZ_CHECK(j, "a valid model has no JSON form");
    char *s = json_dumps(j, JSON_INDENT(2));
    FZ_CHECK(s, "cannot serialise the JSON form");
    rc = vf_config_load_string(s, strlen(s), &m2, err, sizeof(err));
    FZ_CHECK(rc == 0, "the saved form does not load: %s\n%s", err, s);
    json_t *j2 = vf_model_to_json(&m2);
    FZ_CHECK(j2 && json_equal(j, j2), "the saved form loads as another "
          "model:\n%s", s);
    json_t *d = vf_model_diff(&m, &m2);
    FZ_CHECK(d && vf_model_diff_count(d) == 0, "the reload differs:\n%s", s);
    FZ_CHECK(same_ids(&m, &m2), "the reload has other ids:\n%s", s);
    json_decref(d);
    json_decref(j2);
    json_decref(j);
    free(s);
    vf_model_free(&m2);

    check_compiles(&m);
    vf_model_free(&m);
    return 0;
}
