/* test_state.c - durable state: round trip, damage detection, crash safety.
 *
 * A saved model loads back equal; every truncation and every single-byte
 * change of the file is refused with -EBADMSG and leaves the file as it
 * was; a crash before the rename (a leftover state.json.tmp) leaves the old
 * state in force.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mgmt/control/vf_model.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/daemon/vf_state.h"
#include "mgmt/daemon/vf_state_lock.h"

static const char MODEL_A[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"  - {name: hv2, underlay_ip: 192.0.2.2, encap: vxlan, port: 4790}\n"
"tenants:\n"
"  - name: blue\n"
"    switches:\n"
"      - name: blue-web\n"
"        vni: 1001\n"
"        ports:\n"
"          - {name: vm1, mac: \"02:00:00:00:01:01\", ips: [10.0.0.1], chassis: hv1, port_security: true}\n"
"          - {name: vm2, mac: \"02:00:00:00:01:02\", ips: [10.0.0.2], chassis: hv2, attach: {type: tap, name: tap-vm2}}\n"
"    routers:\n"
"      - name: blue-r\n"
"        ports:\n"
"          - {name: blue-r-web, switch: blue-web, mac: \"02:00:00:00:ff:01\", cidr: 10.0.0.254/24}\n"
"        routes:\n"
"          - {prefix: 10.9.0.0/16, nexthop: 10.0.0.2}\n"
"    acls:\n"
"      - {switch: blue-web, direction: to-port, priority: 100, action: drop, match: {proto: tcp, dst_port: 22}}\n"
"local:\n"
"  chassis: hv1\n"
"  workers: 2\n"
"  uplink: {type: udp, bind: \"127.0.0.1:6081\"}\n";

static const char MODEL_B[] =
"chassis:\n"
"  - {name: hv1, underlay_ip: 192.0.2.1}\n"
"local: {chassis: hv1}\n";

struct ctx {
    char dir[64];
    char path[128];
    char tmp[128];
};

static bool model_is_empty(const struct vf_model *m)
{
    static const struct vf_model zero;
    return memcmp(m, &zero, sizeof(zero)) == 0;
}

static void load(const char *yaml, struct vf_model *m)
{
    char err[1024];
    if (vf_config_load_string(yaml, strlen(yaml), m, err, sizeof(err)))
        fail_msg("load: %s", err);
}

static char *dump(const struct vf_model *m)
{
    json_t *j = vf_model_to_json(m);
    char *s = json_dumps(j, JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void assert_same_model(const struct vf_model *a, const struct vf_model *b)
{
    char *x = dump(a), *y = dump(b);
    assert_string_equal(x, y);
    assert_true(a->has_local == b->has_local);
    free(x);
    free(y);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Overwrites in place and cuts to len: truncating to zero first would make
 * ext4 (auto_da_alloc) flush on every close, and these tests rewrite the
 * file thousands of times. */
static void write_all(const char *path, const char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
    assert_int_equal(ftruncate(fd, (off_t)len), 0);
    assert_int_equal(close(fd), 0);
}

static int setup(void **state)
{
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    snprintf(c->dir, sizeof(c->dir), "/tmp/vf-state-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, VF_STATE_FILE);
    snprintf(c->tmp, sizeof(c->tmp), "%s/%s", c->dir, VF_STATE_TMP);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct ctx *c = *state;
    unlink(c->path);
    unlink(c->tmp);
    rmdir(c->dir);
    free(c);
    return 0;
}

static void save(struct ctx *c, const char *yaml)
{
    struct vf_model m;
    char err[512];

    load(yaml, &m);
    if (vf_state_save(c->dir, &m, err, sizeof(err)))
        fail_msg("save: %s", err);
    vf_model_free(&m);
}

/* The state in c->dir loads and equals yaml's model. */
static void expect_state(struct ctx *c, const char *yaml)
{
    struct vf_model want, got;
    char err[512];

    load(yaml, &want);
    if (vf_state_load(c->dir, &got, err, sizeof(err)))
        fail_msg("state load: %s", err);
    assert_same_model(&want, &got);
    vf_model_free(&want);
    vf_model_free(&got);
}

static void test_crc32c(void **state)
{
    (void)state;
    /* The published CRC-32C check value, and two iSCSI test vectors. */
    assert_int_equal(vf_state_crc32c("123456789", 9), 0xe3069283u);
    {
        unsigned char z[32] = { 0 }, ff[32];
        memset(ff, 0xff, sizeof(ff));
        assert_int_equal(vf_state_crc32c(z, sizeof(z)), 0x8a9136aau);
        assert_int_equal(vf_state_crc32c(ff, sizeof(ff)), 0x62a8ab43u);
    }
    assert_int_equal(vf_state_crc32c("", 0), 0);
}

static void test_roundtrip(void **state)
{
    struct ctx *c = *state;
    char *buf, head[96];
    size_t len;
    struct vf_model hand, want;
    char err[512];

    save(c, MODEL_A);
    expect_state(c, MODEL_A);
    /* The header says what it should, and the file is a desired-state
     * file by itself (the header is a YAML comment). */
    buf = read_all(c->path, &len);
    assert_memory_equal(buf, VF_STATE_MAGIC, strlen(VF_STATE_MAGIC));
    {
        const char *nl = strchr(buf, '\n');
        assert_non_null(nl);
        snprintf(head, sizeof(head), VF_STATE_MAGIC "len=%zu crc32c=%08x",
                 len - (size_t)(nl + 1 - buf),
                 vf_state_crc32c(nl + 1, len - (size_t)(nl + 1 - buf)));
        assert_memory_equal(buf, head, strlen(head));
    }
    free(buf);
    if (vf_config_load(c->path, &hand, err, sizeof(err)))
        fail_msg("by hand: %s", err);
    load(MODEL_A, &want);
    assert_same_model(&hand, &want);
    vf_model_free(&hand);
    vf_model_free(&want);
    assert_int_equal(access(c->tmp, F_OK), -1);
    /* A second save replaces the first. */
    save(c, MODEL_B);
    expect_state(c, MODEL_B);
    /* A model without local is kept as such. */
    save(c, "chassis: []\n");
    expect_state(c, "chassis: []\n");
}

static void test_missing(void **state)
{
    struct ctx *c = *state;
    struct vf_model m, a;
    char err[512], dir[256];

    memset(&m, 0x5a, sizeof(m));
    assert_int_equal(vf_state_load(c->dir, &m, err, sizeof(err)), -ENOENT);
    assert_true(model_is_empty(&m));
    assert_non_null(strstr(err, "no saved state"));
    snprintf(dir, sizeof(dir), "%s/not-there", c->dir);
    load(MODEL_B, &a);
    assert_int_equal(vf_state_save(dir, &a, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "not-there"));
    /* No previous state to speak of (redteam 19). */
    assert_null(strstr(err, "previous state is unchanged"));
    assert_non_null(strstr(err, "does not exist"));
    vf_model_free(&a);
}

/* One holder per state directory: a second lock is refused naming the
 * first's pid; a directory that is not there is refused with what to do;
 * closing the first lets the next one in. */
static void test_lock(void **state)
{
    struct ctx *c = *state;
    char err[512], dir[256], pid[32], lockf[300];

    int fd = vf_state_lock(c->dir, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(vf_state_lock(c->dir, err, sizeof(err)), -EBUSY);
    snprintf(pid, sizeof(pid), "vfabd pid %ld ", (long)getpid());
    assert_non_null(strstr(err, pid));
    close(fd);
    fd = vf_state_lock(c->dir, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd);
    snprintf(dir, sizeof(dir), "%s/not-there", c->dir);
    assert_int_equal(vf_state_lock(dir, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "mkdir -m 0700"));
    snprintf(lockf, sizeof(lockf), "%s/%s", c->dir, VF_STATE_LOCK_FILE);
    unlink(lockf);
}

/* Loading the damaged file fails with -EBADMSG naming check, leaves the
 * model empty and the file byte for byte as it was. */
static void expect_bad(struct ctx *c, const char *buf, size_t len,
                       const char *check)
{
    struct vf_model m;
    char err[512] = "", *after;
    size_t alen;
    int rc;

    write_all(c->path, buf, len);
    memset(&m, 0x5a, sizeof(m));
    rc = vf_state_load(c->dir, &m, err, sizeof(err));
    if (rc != -EBADMSG)
        fail_msg("len %zu: rc %d, want -EBADMSG (%s)", len, rc, err);
    assert_true(model_is_empty(&m));
    if (check && !strstr(err, check))
        fail_msg("len %zu: error lacks '%s': %s", len, check, err);
    assert_non_null(strstr(err, "file left untouched"));
    after = read_all(c->path, &alen);
    assert_int_equal(alen, len);
    assert_memory_equal(after, buf, len);
    free(after);
}

static void test_truncation(void **state)
{
    struct ctx *c = *state;
    char *good;
    size_t len, hlen;

    save(c, MODEL_A);
    good = read_all(c->path, &len);
    hlen = (size_t)(strchr(good, '\n') + 1 - good);
    for (size_t n = 0; n < len; n++)
        expect_bad(c, good, n, n < hlen ? "header check failed" :
                   "length check failed");
    /* One byte too many is caught as well. */
    {
        char *more = malloc(len + 1);
        assert_non_null(more);
        memcpy(more, good, len);
        more[len] = '\n';
        expect_bad(c, more, len + 1, "length check failed");
        free(more);
    }
    write_all(c->path, good, len);
    expect_state(c, MODEL_A);
    free(good);
}

static void test_corruption(void **state)
{
    static const unsigned char flips[] = { 0x01, 0x02, 0x10, 0x20, 0x40,
                                           0x80, 0xff };
    struct ctx *c = *state;
    char *good, *bad;
    size_t len;
    unsigned n_header = 0, n_length = 0, n_crc = 0;

    save(c, MODEL_A);
    good = read_all(c->path, &len);
    bad = malloc(len);
    assert_non_null(bad);
    for (size_t i = 0; i < len; i++)
        for (size_t f = 0; f < sizeof(flips); f++) {
            struct vf_model m;
            char err[512];
            int rc;

            memcpy(bad, good, len);
            bad[i] = (char)(bad[i] ^ flips[f]);
            write_all(c->path, bad, len);
            rc = vf_state_load(c->dir, &m, err, sizeof(err));
            if (rc != -EBADMSG)
                fail_msg("byte %zu ^ 0x%02x: rc %d (%s)", i, flips[f], rc,
                         rc ? err : "loaded");
            assert_true(model_is_empty(&m));
            n_header += strstr(err, "header check") != NULL;
            n_length += strstr(err, "length check") != NULL;
            n_crc += strstr(err, "CRC check") != NULL;
        }
    /* Each check caught its share. */
    assert_true(n_header > 0 && n_length > 0 && n_crc > 0);
    assert_int_equal(n_header + n_length + n_crc, len * sizeof(flips));
    free(bad);
    free(good);
}

/* A crash after writing the new state.json.tmp, before the rename: the
 * old state is the one in force, and the next save still works. */
static void test_crash_before_rename(void **state)
{
    struct ctx *c = *state;
    char *good;
    size_t len;

    save(c, MODEL_A);
    /* A complete new file that never got renamed ... */
    save(c, MODEL_B);
    good = read_all(c->path, &len);
    save(c, MODEL_A);
    write_all(c->tmp, good, len);
    expect_state(c, MODEL_A);
    /* ... and a half-written one. */
    write_all(c->tmp, good, len / 2);
    expect_state(c, MODEL_A);
    save(c, MODEL_B);
    expect_state(c, MODEL_B);
    assert_int_equal(access(c->tmp, F_OK), -1);
    free(good);
}

/* Checks pass but the contents are not a valid model: -EINVAL, with the
 * file's own line numbers. */
static void test_valid_crc_bad_model(void **state)
{
    struct ctx *c = *state;
    const char *body = "chassis:\n  - {name: hv1}\n";
    char file[256], err[512];
    struct vf_model m;

    snprintf(file, sizeof(file), VF_STATE_MAGIC "len=%zu crc32c=%08x\n%s",
             strlen(body), vf_state_crc32c(body, strlen(body)), body);
    write_all(c->path, file, strlen(file));
    assert_int_equal(vf_state_load(c->dir, &m, err, sizeof(err)), -EINVAL);
    assert_true(model_is_empty(&m));
    assert_non_null(strstr(err, c->path));
    assert_non_null(strstr(err, ":3: chassis[0] (hv1): missing field 'underlay_ip'"));
    /* Upper-case hex or a leading zero in len is not the format. */
    snprintf(file, sizeof(file), VF_STATE_MAGIC "len=0%zu crc32c=%08x\n%s",
             strlen(body), vf_state_crc32c(body, strlen(body)), body);
    expect_bad(c, file, strlen(file), "header check failed");
    snprintf(file, sizeof(file), VF_STATE_MAGIC "len=%zu crc32c=%08X\n%s",
             strlen(body), 0xabcdef12u, body);
    expect_bad(c, file, strlen(file), "header check failed");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_crc32c),
    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
    cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corruption, setup, teardown),
    cmocka_unit_test_setup_teardown(test_crash_before_rename, setup, teardown),
    cmocka_unit_test_setup_teardown(test_valid_crc_bad_model, setup, teardown),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
