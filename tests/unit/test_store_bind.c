/* test_store_bind.c - bindings as vfabd --store compiles them
 * (store_host.c, vf_store_src_bound): a port of another host bound to a
 * third chassis is compiled there; this host's own ports, bindings to
 * this host of ports that left it, bindings to chassis not in the fabric
 * and unbound ports keep their `chassis:`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mgmt/daemon/store_source_int.h"
#include "tests/unit/vf_test_logical.h"

static void put_binding(struct vf_store_src *src, const char *port, const char *chassis)
{
    char key[128], *v = vf_layout_binding_encode(chassis);
    snprintf(key, sizeof(key), "bindings/%s", port);
    assert_int_equal(vf_layout_kvs_set(&src->rt, key, v, strlen(v), 1), 0);
    free(v);
}

static void test_bound(void **state)
{
    (void)state;
    struct vf_model m = {0};
    struct vf_store_src *src = calloc(1, sizeof(*src));
    assert_non_null(src);
    snprintf(src->chassis, sizeof(src->chassis), "hv1");
    lt_chassis(&m, "hv1", 0xc0000201, VF_MODEL_ENCAP_GENEVE);
    lt_chassis(&m, "hv2", 0xc0000202, VF_MODEL_ENCAP_GENEVE);
    lt_chassis(&m, "hv3", 0xc0000203, VF_MODEL_ENCAP_GENEVE);
    int t = lt_tenant(&m, "blue");
    int s = lt_switch(&m, t, "blue-a", 10);
    lt_port(&m, t, s, "moving", 1, 0x0a000001, 1, false);   /* hv2, bound hv3 */
    lt_port(&m, t, s, "mine", 2, 0x0a000002, 0, false);     /* hv1, bound hv2 */
    lt_port(&m, t, s, "left", 3, 0x0a000003, 2, false);     /* hv3, bound hv1 */
    lt_port(&m, t, s, "ghost", 4, 0x0a000004, 1, false);    /* bound hv9 */
    lt_port(&m, t, s, "free", 5, 0x0a000005, 2, false);     /* unbound */
    put_binding(src, "moving", "hv3");
    put_binding(src, "mine", "hv2");
    put_binding(src, "left", "hv1");
    put_binding(src, "ghost", "hv9");
    vf_layout_kvs_sort(&src->rt);
    vf_store_src_bound(src, &m);
    const struct vf_model_port *p = m.tenants[0].switches[0].ports;
    assert_string_equal(p[0].chassis, "hv3");   /* where it is open */
    assert_string_equal(p[1].chassis, "hv1");   /* this host opens its own */
    assert_string_equal(p[2].chassis, "hv3");   /* being released here */
    assert_string_equal(p[3].chassis, "hv2");   /* no such chassis */
    assert_string_equal(p[4].chassis, "hv3");
    vf_layout_kvs_free(&src->rt);
    free(src);
    lt_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
