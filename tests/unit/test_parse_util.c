/* test_parse_util.c - the control plane's small parsers (vf_parse_util.h):
 * what each accepts and refuses, at the edges. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mgmt/control/vf_parse_util.h"

static void test_uint(void **state)
{
    unsigned long v;

    (void)state;
    assert_true(vf_parse_uint("0", 10, &v));
    assert_int_equal(v, 0);
    assert_true(vf_parse_uint("65535", 65535, &v));
    assert_int_equal(v, 65535);
    assert_false(vf_parse_uint("65536", 65535, &v));
    assert_false(vf_parse_uint("", 10, &v));
    assert_false(vf_parse_uint("-1", 10, &v));
    assert_false(vf_parse_uint("+1", 10, &v));
    assert_false(vf_parse_uint(" 1", 10, &v));
    assert_false(vf_parse_uint("0x10", 100, &v));     /* decimal only */
    assert_false(vf_parse_uint("99999999999999999999999", ~0ul, &v));
    assert_true(vf_parse_all_digits("00123"));
    assert_false(vf_parse_all_digits("12a"));
    assert_false(vf_parse_all_digits(""));
}

static void test_mac(void **state)
{
    uint8_t m[6] = {0};
    static const uint8_t want[6] = {0x02, 0, 0, 0, 0x01, 0xab};

    (void)state;
    assert_true(vf_parse_mac("02:00:00:00:01:AB", m));
    assert_memory_equal(m, want, 6);
    assert_false(vf_parse_mac("02:00:00:00:01", m));
    assert_false(vf_parse_mac("02:00:00:00:01:ab:", m));
    assert_false(vf_parse_mac("2:0:0:0:1:ab", m));
    assert_false(vf_parse_mac("02-00-00-00-01-ab", m));
    assert_false(vf_parse_mac("02:00:zz:00:01:ab", m));
    assert_memory_equal(m, want, 6);          /* untouched on failure */
}

static void test_ip_cidr(void **state)
{
    uint32_t ip;
    uint8_t plen;
    uint16_t port;

    (void)state;
    assert_true(vf_parse_ip4("10.0.0.1", &ip));
    assert_int_equal(ip, htonl(0x0a000001));
    assert_false(vf_parse_ip4("10.0.0", &ip));
    assert_true(vf_parse_cidr("10.0.0.0/8", true, &ip, &plen));
    assert_int_equal(plen, 8);
    assert_true(vf_parse_cidr("10.0.0.5", false, &ip, &plen));
    assert_int_equal(plen, 32);
    assert_false(vf_parse_cidr("10.0.0.5", true, &ip, &plen));
    assert_false(vf_parse_cidr("10.0.0.0/33", true, &ip, &plen));
    assert_false(vf_parse_cidr("10.0.0.0/", true, &ip, &plen));
    assert_true(vf_parse_ip_port("192.0.2.1:6081", true, &ip, &port));
    assert_int_equal(port, 6081);
    assert_true(vf_parse_ip_port("0.0.0.0", false, &ip, &port));
    assert_int_equal(port, 0);
    assert_false(vf_parse_ip_port("0.0.0.0", true, &ip, &port));
    assert_false(vf_parse_ip_port("1.2.3.4:0", false, &ip, &port));
    assert_false(vf_parse_ip_port("1.2.3.4:65536", false, &ip, &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint),
        cmocka_unit_test(test_mac),
        cmocka_unit_test(test_ip_cidr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
