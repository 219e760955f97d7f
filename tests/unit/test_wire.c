/* test_wire.c - numa/vf_wire.h: layouts, big-endian fields, the checksum.
 *
 * The checksum is checked three ways: the fast sum (both of its paths, and
 * the SSE2 loop on its own) against the library's scalar reference, both
 * against this file's own oracle (RFC 1071 byte pairs in a 32-bit register,
 * folded at every step, as a textbook would), and the incremental update
 * against a checksum recomputed from scratch. Buffers, lengths, offsets and
 * seeds are random (xorshift, fixed seed, so a failure repeats).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "numa/vf_wire.h"
#if defined(__x86_64__) && defined(__SSE2__)
#include "numa/wire_x86.h"
#endif
#include "vf_test_pkt.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void rnd_fill(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rnd();
}

/* The oracle: the 16-bit ones' complement sum of seed (a 16-bit value)
 * and b taken as big-endian byte pairs, folded at every step. */
static uint16_t ref_sum(uint16_t seed, const uint8_t *b, size_t n)
{
    uint32_t sum = seed;
    for (size_t i = 0; i < n; i++) {
        sum += (i & 1) ? b[i] : (uint32_t)b[i] << 8;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)sum;
}

/* Ones' complement 16-bit values are equal when they are the same number:
 * 0 and 0xffff are both zero. */
static bool oc_equal(uint16_t a, uint16_t b)
{
    return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
}

static void test_layouts(void **state)
{
    (void)state;
    assert_int_equal(offsetof(struct vf_ip4_hdr, ttl), 8);
    assert_int_equal(offsetof(struct vf_ip4_hdr, csum), 10);
    assert_int_equal(offsetof(struct vf_ip4_hdr, dst), 16);
    assert_int_equal(offsetof(struct vf_ip6_hdr, next), 6);
    assert_int_equal(offsetof(struct vf_ip6_hdr, dst), 24);
    assert_int_equal(offsetof(struct vf_tcp_hdr, flags), 13);
    assert_int_equal(offsetof(struct vf_tcp_hdr, csum), VF_TCP_CSUM_OFF);
    assert_int_equal(offsetof(struct vf_udp_hdr, csum), 6);
    assert_int_equal(offsetof(struct vf_arp_hdr, tpa), 24);
    assert_int_equal(offsetof(struct vf_icmp_hdr, rest), 4);
    assert_int_equal(VF_IP4_DF | VF_IP4_MF | VF_IP4_OFF_MASK, 0x7fff);
    assert_int_equal(VF_IP4_FRAG_MASK, VF_IP4_MF | VF_IP4_OFF_MASK);
}

static void test_fields(void **state)
{
    (void)state;
    uint8_t b[7] = {0};
    vf_wire_put16(b + 1, 0x1234);             /* odd addresses too */
    vf_wire_put32(b + 3, 0xa1b2c3d4);
    static const uint8_t want[7] = {0, 0x12, 0x34, 0xa1, 0xb2, 0xc3, 0xd4};
    assert_memory_equal(b, want, 7);
    assert_int_equal(vf_wire_get16(b + 1), 0x1234);
    assert_int_equal(vf_wire_get32(b + 3), 0xa1b2c3d4);
    assert_int_equal(vf_tpkt_get16(b + 1), vf_wire_get16(b + 1));
}

static void test_csum_rfc1071_example(void **state)
{
    /* RFC 1071 section 3: these bytes sum to 0xddf2. */
    static const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03,
                                0xf4, 0xf5, 0xf6, 0xf7};

    (void)state;
    assert_int_equal(vf_csum_fold(vf_csum_add_scalar(0, b, 8)), 0xddf2);
    assert_int_equal(vf_csum_fold(vf_csum_add(0, b, 8)), 0xddf2);
    assert_int_equal(ref_sum(0, b, 8), 0xddf2);
    assert_int_equal(vf_csum(b, 8), (uint16_t)~0xddf2);
}

/* STYLE rule 8: the fast sum equals the reference for every length from 0
 * past several SSE2 blocks (both paths of vf_csum_add), at every alignment,
 * with seeds up to the largest a chained sum carries, on random,
 * all-ones (carry-heavy) and all-zero data. */
static void test_csum_fast_matches_reference(void **state)
{
    static uint8_t buf[9000 + 16];

    (void)state;
    for (unsigned i = 0; i < 30000; i++) {
        uint32_t len = i < 600 ? i : (uint32_t)(rnd() % (i % 5 ? 1600 : 9000));
        uint32_t off = (uint32_t)(rnd() % 16);
        uint64_t seed = rnd() % 4 == 0 ? 0 : rnd() >> (rnd() % 64);

        if (i % 7 == 0)
            memset(buf, 0xff, sizeof(buf));
        else if (i % 11 == 0)
            memset(buf, 0, sizeof(buf));
        else
            rnd_fill(buf, off + len);
        uint16_t s = vf_csum_fold(vf_csum_add_scalar(seed, buf + off, len));
        uint16_t f = vf_csum_fold(vf_csum_add(seed, buf + off, len));
        assert_true(oc_equal(s, f));
        assert_true(oc_equal(s, vf_csum_fold(vf_csum_add_short(seed, buf + off, len))));
        assert_true(oc_equal(s, vf_csum_fold(vf_csum_add_long(seed, buf + off, len))));
#if defined(__x86_64__) && defined(__SSE2__)
        assert_true(oc_equal(s, vf_csum_fold(vf_csum_add_sse2(seed, buf + off, len))));
#endif
        assert_true(oc_equal(s, ref_sum(vf_csum_fold(seed), buf + off, len)));
    }
}

/* vf_csum_move moves like memmove (dst above src, overlapping or not, or
 * apart) and returns the reference sum of the bytes, for lengths across
 * the block size and every shift up to past a block. */
static void test_csum_move(void **state)
{
    static uint8_t buf[6000], want[6000];

    (void)state;
    for (unsigned i = 0; i < 20000; i++) {
        uint32_t len = i < 300 ? i : (uint32_t)(rnd() % 4000);
        uint32_t from = (uint32_t)(rnd() % 16);
        uint32_t shift = i % 3 ? (uint32_t)(rnd() % 70) : (uint32_t)(rnd() % 1500);
        uint64_t seed = rnd() % 4 == 0 ? 0 : rnd() >> (rnd() % 64);

        if (i % 7 == 0)
            memset(buf, 0xff, sizeof(buf));
        else
            rnd_fill(buf, sizeof(buf));
        uint16_t ref = (uint16_t)ref_sum(vf_csum_fold(seed), buf + from, len);
        memcpy(want, buf, sizeof(buf));
        memmove(want + from + shift, want + from, len);
        uint64_t sum = vf_csum_move(seed, buf + from + shift, buf + from, len);
        assert_true(oc_equal(vf_csum_fold(sum), ref));
        assert_memory_equal(buf, want, sizeof(buf));
    }
}

/* A sum may be built from pieces of even length, in order. */
static void test_csum_chained(void **state)
{
    static uint8_t buf[4096];

    (void)state;
    for (unsigned i = 0; i < 2000; i++) {
        uint32_t len = (uint32_t)(rnd() % sizeof(buf));
        uint32_t cut = (uint32_t)(rnd() % (len + 1)) & ~1u;
        rnd_fill(buf, len);
        uint64_t sum = vf_csum_add(vf_csum_add(0, buf, cut), buf + cut, len - cut);
        assert_true(oc_equal(vf_csum_fold(sum), ref_sum(0, buf, len)));
    }
}

/* What this file's vf_test_pkt.h oracle says a header checksum is, the
 * library stores (a big-endian write of vf_csum), and it verifies. */
static void test_csum_ip4_header(void **state)
{
    uint8_t ip[VF_IP4_HDR_LEN];

    (void)state;
    for (unsigned i = 0; i < 1000; i++) {
        rnd_fill(ip, sizeof(ip));
        ip[0] = 0x45;
        vf_wire_put16(ip + 10, 0);
        vf_wire_put16(ip + 10, vf_csum(ip, sizeof(ip)));
        assert_int_equal(vf_tpkt_get16(ip + 10), vf_tpkt_ip4_csum(ip));
        assert_true(vf_tpkt_ip4_csum_ok(ip));
    }
}

/* The pseudo-header sums against vf_test_pkt.h's L4 checksum. */
static void test_csum_pseudo(void **state)
{
    uint8_t f[VF_IP6_HDR_LEN + 1500];

    (void)state;
    for (unsigned i = 0; i < 1000; i++) {
        bool v6 = i & 1;
        uint32_t hl = v6 ? VF_IP6_HDR_LEN : VF_IP4_HDR_LEN;
        uint32_t l4len = VF_UDP_HDR_LEN + (uint32_t)(rnd() % 1400);
        rnd_fill(f, hl + l4len);
        f[0] = v6 ? 0x60 : 0x45;
        uint8_t *l4 = f + hl;
        vf_wire_put16(l4 + 6, 0);
        uint64_t ps = v6 ? vf_csum_pseudo6(f, VF_IPPROTO_UDP, l4len)
                         : vf_csum_pseudo4(f, VF_IPPROTO_UDP, l4len);
        uint16_t mine = (uint16_t)~vf_csum_fold(vf_csum_add(ps, l4, l4len));
        uint16_t want = vf_tpkt_l4_csum(f, VF_IPPROTO_UDP, l4, l4len);
        assert_true(oc_equal(mine, want));
    }
}

/* RFC 1624: updating one field gives the checksum a full recomputation
 * gives (as a ones' complement number: eqn. 3 may give 0xffff where a
 * recomputation gives 0 only when the data sums to zero). */
static void test_csum_update(void **state)
{
    uint8_t h[40];

    (void)state;
    for (unsigned i = 0; i < 20000; i++) {
        rnd_fill(h, sizeof(h));
        vf_wire_put16(h + 10, 0);
        uint16_t c = vf_csum(h, sizeof(h));
        vf_wire_put16(h + 10, c);
        unsigned at = (unsigned)(rnd() % 9) * 4;   /* 0..32, never 10 */
        if (at == 8)
            at = 12;
        if (i & 1) {
            uint16_t old = vf_wire_get16(h + at), new = (uint16_t)rnd();
            vf_wire_put16(h + at, new);
            c = vf_csum_update16(c, old, new);
        } else {
            uint32_t old = vf_wire_get32(h + at), new = (uint32_t)rnd();
            vf_wire_put32(h + at, new);
            c = vf_csum_update32(c, old, new);
        }
        vf_wire_put16(h + 10, 0);
        assert_true(oc_equal(c, vf_csum(h, sizeof(h))));
        vf_wire_put16(h + 10, c);
        assert_true(oc_equal(vf_csum_fold(vf_csum_add(0, h, sizeof(h))), 0xffff));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_csum_rfc1071_example),
        cmocka_unit_test(test_csum_fast_matches_reference),
        cmocka_unit_test(test_csum_chained),
        cmocka_unit_test(test_csum_move),
        cmocka_unit_test(test_csum_ip4_header),
        cmocka_unit_test(test_csum_pseudo),
        cmocka_unit_test(test_csum_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
