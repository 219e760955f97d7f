/* vf_test_layout.h - what the store layout's tests share (header-only):
 * loading YAML, a model to keys, comparing models, and compiling a model
 * for one chassis with dummy ports (to compare a host's part of the
 * fabric with the whole).
 *
 * Thread-safety: single-threaded tests only (dummy ports are static).
 */
#ifndef VF_TEST_LAYOUT_H
#define VF_TEST_LAYOUT_H

#include <string.h>

#include "mgmt/control/vf_compile.h"
#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/layout/vf_layout.h"

static inline void tl_load(const char *yaml, struct vf_model *m)
{
    char err[1024];
    if (vf_config_load_string(yaml, strlen(yaml), m, err, sizeof(err)))
        fail_msg("load: %s", err);
}

static inline void tl_to_keys(const struct vf_model *m, struct vf_layout_kvs *s)
{
    char err[1024];
    if (vf_layout_from_model(m, s, err, sizeof(err)))
        fail_msg("from_model: %s", err);
}

static inline void tl_assert_same_model(const struct vf_model *a, const struct vf_model *b)
{
    json_t *d = vf_model_diff(a, b);
    assert_non_null(d);
    if (vf_model_diff_count(d)) {
        char *t = json_dumps(d, JSON_INDENT(1));
        fail_msg("models differ: %s", t);
    }
    json_decref(d);
}

static struct vf_port tl_dummies[64];

static inline struct vf_port *tl_dummy_port(void *arg, const struct vf_model_port *mp)
{
    (void)arg;
    struct vf_port *p = &tl_dummies[mp->id % 64];
    p->index = mp->id % 64 + 1;
    return p;
}

/* m's tables as chassis would compile them (dummy ports). */
static inline struct vf_tables *tl_compile_for(const struct vf_model *m, const char *chassis)
{
    char err[512];
    struct vf_compile_env env = {.chassis_idx = vf_model_find_chassis(m, chassis),
                                 .port_of = tl_dummy_port};
    assert_true(env.chassis_idx >= 0);
    struct vf_tables *t = vf_compile(m, NULL, &env, 1, err, sizeof(err));
    if (!t)
        fail_msg("compile for %s: %s", chassis, err);
    return t;
}

/* Sets key to value in s (deletes it when value is NULL) and requires the
 * load to fail naming `want`, with nothing half-loaded; frees s. */
static inline void tl_expect_bad(struct vf_layout_kvs *s, const char *key, const char *value,
                                 const char *want)
{
    struct vf_model m;
    char err[1024];
    if (value)
        assert_int_equal(vf_layout_kvs_set(s, key, value, strlen(value), 0), 0);
    else
        vf_layout_kvs_del(s, key);
    assert_int_equal(vf_layout_to_model(s, 0, "/vfab/desired/", &m, err, sizeof(err)),
                     -EINVAL);
    if (!strstr(err, want))
        fail_msg("'%s' not in: %s", want, err);
    assert_int_equal(m.n_chassis, 0);
    assert_int_equal(m.n_tenants, 0);
    vf_layout_kvs_free(s);
}

/* The switch called name in t, or a failure. */
static inline const struct vf_dp *tl_dp(const struct vf_tables *t, const char *name,
                                        const char *host)
{
    for (uint32_t j = 0; j < t->n_dps; j++)
        if (!strcmp(t->dps[j]->name, name))
            return t->dps[j];
    fail_msg("%s: switch %s missing from the subset's tables", host, name);
    return NULL;
}

#endif
