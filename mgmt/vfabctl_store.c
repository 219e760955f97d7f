/* vfabctl_store.c - `vfabctl --store URL[,URL...] COMMAND`: the fabric's
 * desired state read and written in etcd directly (northbound), no vfabd.
 *
 * Every change is made the way vfabd makes it: the whole desired state is
 * read at one revision (vf_desired_read), turned into a model by the
 * layout and the ordinary loader (vf_layout_to_model), edited with
 * vf_model_edit (add/del) or replaced by a file loaded with vf_config_load
 * (apply), stored back as keys (vf_layout_from_model) and written as the
 * diff, in one txn guarded by the serial it read (vf_desired_commit). A
 * change larger than one txn is cut into txns that each leave a valid
 * fabric (vf_layout_plan), or refused with --atomic. When another writer
 * got in first, add and del start over from a fresh read (--retries,
 * default 5; never for a delete by index, which may name another object
 * after someone else's change); apply and everything else is told to
 * retry, with exit status 4. Nothing of a refused change is written.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mgmt/control/vf_model_diff.h"
#include "mgmt/control/vf_model_edit.h"
#include "mgmt/control/vf_model_json.h"
#include "mgmt/layout/vf_desired.h"
#include "mgmt/layout/vf_layout.h"
#include "mgmt/vfabctl.h"

#define DEFAULT_RETRIES 5
#define PREFIX_MAX 200

struct opts {
    struct vf_store_config cfg;
    char prefix[PREFIX_MAX + 2];
    char *password;              /* read from --password-file or env; wiped */
    bool json;
    unsigned max_txn_ops;
    size_t max_request_bytes;
};

void vfabctl_store_usage(FILE *f)
{
    fprintf(f,
"\n"
"With --store, vfabctl reads and writes the fabric's desired state in its\n"
"etcd cluster directly (no vfabd needed; docs/store.md):\n"
"  vfabctl --store URL[,URL...] [STORE OPTIONS] [--json] COMMAND\n"
"  show                       the desired state in the store (as `show`)\n"
"  list KIND                  the objects of a kind\n"
"  add KIND ... | del KIND ...   as above; [--dry-run] [--retries N] [--atomic]\n"
"  apply [--dry-run] [--atomic] [--retries N] FILE\n"
"                             make the store's fabric equal FILE's (a file\n"
"                             without `local:`: each host keeps its own)\n"
"  chassis                    live chassis: address, encap, version, lease left\n"
"  bindings                   which chassis holds each port, beside the desired\n"
"  Each change is validated whole with vfabd's code, then written as one etcd\n"
"  txn guarded by the revision it read; a change over one txn's limits is cut\n"
"  into txns that each leave a valid fabric (--atomic: refused instead). If\n"
"  another writer got in first, add/del read again and retry (up to N times,\n"
"  default %d); apply does not (N 0) and exits 4: run it again.\n"
"Store options:\n"
"  --store URL[,URL...]       etcd client URLs (http:// or https://); failover\n"
"                             in order\n"
"  --prefix P                 the fabric's key prefix (default %s)\n"
"  --ca FILE                  TLS: the CA that signed etcd's certificate\n"
"  --cert FILE, --key FILE    TLS: client certificate and key (etcd\n"
"                             --client-cert-auth)\n"
"  --user NAME                etcd user (auth enabled); the password comes from\n"
"  --password-file FILE       its first line, or from $VFAB_STORE_PASSWORD\n"
"  --timeout MS               per request, all endpoints included (default 5000)\n"
"  --max-txn-ops N            ops etcd allows in a txn (etcd --max-txn-ops,\n"
"                             default %d)\n"
"  --max-request-bytes N      etcd's request limit (etcd --max-request-bytes,\n"
"                             default 1572864)\n"
"Exit status with --store: 0 ok, 1 refused (invalid change or store, etcd\n"
"refused), 2 usage, 3 etcd unreachable, 4 another writer changed the store\n"
"first (nothing written, or whole txns of a cut change, each a valid fabric).\n",
            DEFAULT_RETRIES, VF_LAYOUT_DEFAULT_PREFIX, VF_LAYOUT_DEFAULT_TXN_OPS);
}

enum {
    OPT_STORE = 256, OPT_PREFIX, OPT_CA, OPT_CERT, OPT_KEY, OPT_USER, OPT_PWFILE,
    OPT_TIMEOUT, OPT_TXN_OPS, OPT_REQ_BYTES,
};

static const struct option store_opts[] = {
    {"store", required_argument, 0, OPT_STORE},
    {"prefix", required_argument, 0, OPT_PREFIX},
    {"ca", required_argument, 0, OPT_CA},
    {"cert", required_argument, 0, OPT_CERT},
    {"key", required_argument, 0, OPT_KEY},
    {"user", required_argument, 0, OPT_USER},
    {"password-file", required_argument, 0, OPT_PWFILE},
    {"timeout", required_argument, 0, OPT_TIMEOUT},
    {"max-txn-ops", required_argument, 0, OPT_TXN_OPS},
    {"max-request-bytes", required_argument, 0, OPT_REQ_BYTES},
    {"json", no_argument, 0, 'j'},
    {"socket", required_argument, 0, 's'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

bool vfabctl_store_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !strcmp(a, "--"))
            return false;
        for (const struct option *o = store_opts; o->name; o++)
            if (o->val >= OPT_STORE && !strncmp(a + 2, o->name, strlen(o->name)) &&
                !strncmp(a, "--", 2) && (a[2 + strlen(o->name)] == '\0' ||
                                         a[2 + strlen(o->name)] == '='))
                return true;
        if ((!strcmp(a, "-s") || !strcmp(a, "--socket")) && i + 1 < argc)
            i++;
    }
    return false;
}

int vfabctl_store_status(int rc)
{
    switch (rc) {
    case 0:
        return VFABCTL_OK;
    case -EBUSY:
        return VFABCTL_CONFLICT;
    case -ECONNREFUSED:
    case -EHOSTUNREACH:
    case -ECONNRESET:
    case -ETIMEDOUT:
    case -EPROTO:
    case -EAGAIN:
        return VFABCTL_UNREACHABLE;
    default:
        return VFABCTL_REFUSED;
    }
}

static bool number(const char *s, unsigned long long lo, unsigned long long hi,
                   unsigned long long *out)
{
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return *s && !*end && !errno && *out >= lo && *out <= hi;
}

static int read_password(struct opts *o, const char *file)
{
    FILE *f = fopen(file, "r");
    char buf[512];
    if (!f) {
        fprintf(stderr, "vfabctl: --password-file %s: %s\n", file, strerror(errno));
        return -1;
    }
    bool ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "vfabctl: --password-file %s: empty\n", file);
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    o->password = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return o->password ? 0 : -1;
}

/* Parses the options before the command; returns optind or -exit status. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    const char *pwfile = NULL;
    unsigned long long n;
    int c;

    snprintf(o->prefix, sizeof(o->prefix), "%s", VF_LAYOUT_DEFAULT_PREFIX);
    while ((c = getopt_long(argc, argv, "+s:jh", store_opts, NULL)) != -1) {
        switch (c) {
        case OPT_STORE: o->cfg.endpoints = optarg; break;
        case OPT_PREFIX:
            if (optarg[0] != '/' || strlen(optarg) > PREFIX_MAX) {
                fprintf(stderr, "vfabctl: --prefix \"%s\": want a key prefix that "
                        "starts with '/' (at most %d characters), e.g. /vfab/\n",
                        optarg, PREFIX_MAX);
                return -VFABCTL_USAGE;
            }
            snprintf(o->prefix, sizeof(o->prefix), "%s%s", optarg,
                     optarg[strlen(optarg) - 1] == '/' ? "" : "/");
            break;
        case OPT_CA: o->cfg.ca_file = optarg; break;
        case OPT_CERT: o->cfg.cert_file = optarg; break;
        case OPT_KEY: o->cfg.key_file = optarg; break;
        case OPT_USER: o->cfg.user = optarg; break;
        case OPT_PWFILE: pwfile = optarg; break;
        case OPT_TIMEOUT:
            if (!number(optarg, 100, 600000, &n)) {
                fprintf(stderr, "vfabctl: --timeout \"%s\": want milliseconds, 100 to "
                        "600000\n", optarg);
                return -VFABCTL_USAGE;
            }
            o->cfg.request_timeout_ms = (unsigned)n;
            break;
        case OPT_TXN_OPS:
            if (!number(optarg, VF_DESIRED_TXN_OPS + 1, 1u << 20, &n)) {
                fprintf(stderr, "vfabctl: --max-txn-ops \"%s\": want a count from %d "
                        "(etcd's --max-txn-ops)\n", optarg, VF_DESIRED_TXN_OPS + 1);
                return -VFABCTL_USAGE;
            }
            o->max_txn_ops = (unsigned)n;
            break;
        case OPT_REQ_BYTES:
            if (!number(optarg, 4096, 1ull << 31, &n)) {
                fprintf(stderr, "vfabctl: --max-request-bytes \"%s\": want bytes, 4096 "
                        "or more (etcd's --max-request-bytes)\n", optarg);
                return -VFABCTL_USAGE;
            }
            o->max_request_bytes = (size_t)n;
            o->cfg.max_request_bytes = (size_t)n;
            break;
        case 'j': o->json = true; break;
        case 's':
            fprintf(stderr, "vfabctl: give --store (etcd) or -s (a vfabd's socket), "
                    "not both\n");
            return -VFABCTL_USAGE;
        case 'h':
            vfabctl_store_usage(stdout);
            return -VFABCTL_OK - 1000;
        default:
            vfabctl_store_usage(stderr);
            return -VFABCTL_USAGE;
        }
    }
    if (!o->cfg.endpoints) {
        fprintf(stderr, "vfabctl: store options need --store URL[,URL...] (the etcd "
                "cluster's client URLs)\n");
        return -VFABCTL_USAGE;
    }
    if ((o->cfg.cert_file != NULL) != (o->cfg.key_file != NULL)) {
        fprintf(stderr, "vfabctl: --cert and --key go together (the client "
                "certificate and its key)\n");
        return -VFABCTL_USAGE;
    }
    if (pwfile && read_password(o, pwfile))
        return -VFABCTL_USAGE;
    if (!o->password && getenv("VFAB_STORE_PASSWORD"))
        o->password = strdup(getenv("VFAB_STORE_PASSWORD"));
    if (o->cfg.user && !o->password) {
        fprintf(stderr, "vfabctl: --user %s needs a password: --password-file FILE or "
                "$VFAB_STORE_PASSWORD\n", o->cfg.user);
        return -VFABCTL_USAGE;
    }
    if (o->password && !o->cfg.user) {
        fprintf(stderr, "vfabctl: a password was given without --user\n");
        return -VFABCTL_USAGE;
    }
    o->cfg.password = o->password;
    return optind;
}

/* ---- reading ---- */

/* The desired state and its model. A store that does not load is an
 * error, except for apply (it replaces it): then *bad says why. */
static int read_model(struct vf_store *s, const struct opts *o, struct vf_desired *d,
                      struct vf_model *m, char *bad, size_t badlen)
{
    char err[2048], dp[PREFIX_MAX + 16];
    int rc = vf_desired_read(s, o->prefix, d, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "vfabctl: reading the store: %s\n", err);
        return rc;
    }
    snprintf(dp, sizeof(dp), "%sdesired/", o->prefix);
    rc = vf_layout_to_model(&d->kvs, 0, dp, m, err, sizeof(err));
    if (rc && bad && rc != -ENOMEM) {
        snprintf(bad, badlen, "%s", err);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "vfabctl: the store holds an invalid fabric (revision %" PRId64
                "): %s\n", d->revision, err);
        vf_desired_free(d);
    }
    return rc;
}

static void print_json(json_t *j)
{
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", t ? t : "null");
    free(t);
}

static int show_or_list(struct vf_store *s, const struct opts *o, const char *kind)
{
    struct vf_desired d;
    struct vf_model m;
    int rc = read_model(s, o, &d, &m, NULL, 0);
    if (rc)
        return vfabctl_store_status(rc);
    json_t *j = kind ? vf_model_list(&m, kind) : vf_model_to_json(&m);
    if (!j) {
        fprintf(stderr, "vfabctl: list: unknown kind '%s' (chassis, tenant, switch, port, "
                "router, router-port, route, acl, port-group, address-set)\n", kind);
        rc = VFABCTL_USAGE;
    } else if (kind && !o->json) {
        vfabctl_print_list(kind, j);
    } else {
        print_json(j);
    }
    json_decref(j);
    vf_model_free(&m);
    vf_desired_free(&d);
    return rc;
}

/* ---- writing ---- */

struct change_req {
    const char *what;            /* "add port", "apply FILE" */
    enum vf_edit_op op;          /* add/del */
    const char *kind;
    json_t *spec;
    bool cascade;
    const struct vf_model *file; /* apply: the file's model */
    bool dry_run, atomic;
    unsigned retries;
};

/* The next model for one attempt: the edit on cur, or a copy of the file's. */
static int next_model(const struct change_req *r, const struct vf_model *cur,
                      struct vf_model *next)
{
    char err[2048];
    if (!r->file) {
        int rc = vf_model_edit(cur, r->op, r->kind, r->spec, r->cascade, next, err,
                               sizeof(err));
        if (rc)
            fprintf(stderr, "vfabctl: %s\n", err);
        return rc;
    }
    json_t *j = vf_model_to_json(r->file);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = t ? vf_config_load_string(t, strlen(t), next, err, sizeof(err)) : -ENOMEM;
    json_decref(j);
    free(t);
    return rc;
}

static void print_result(const struct opts *o, const struct change_req *r, json_t *diff,
                         const struct vf_layout_change *c, size_t parts,
                         const struct vf_desired_result *res, unsigned attempts,
                         bool wrote)
{
    if (o->json) {
        json_t *j = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:O}",
                              "dry_run", r->dry_run, "applied", wrote, "revision",
                              (json_int_t)res->revision, "serial", (json_int_t)res->serial,
                              "txns", (json_int_t)(wrote ? res->parts_done : parts),
                              "puts", (json_int_t)c->n_puts, "deletes",
                              (json_int_t)c->n_dels, "verified", (json_int_t)res->verified,
                              "resent", (json_int_t)res->resent,
                              "retries", (int)attempts, "diff", diff);
        print_json(j);
        json_decref(j);
        return;
    }
    size_t n = vfabctl_print_diff(diff);
    if (!c->n)
        printf("no change (store at revision %" PRId64 ")\n", res->revision);
    else if (r->dry_run)
        printf("dry run: %zu change%s (%zu puts, %zu deletes in %zu txn%s), nothing "
               "written\n", n, n == 1 ? "" : "s", c->n_puts, c->n_dels, parts,
               parts == 1 ? "" : "s");
    else
        printf("written: %zu change%s (%zu puts, %zu deletes) in %zu txn%s, revision %"
               PRId64 ", serial %" PRId64 "%s%s\n", n, n == 1 ? "" : "s", c->n_puts,
               c->n_dels, res->parts_done, res->parts_done == 1 ? "" : "s", res->revision,
               res->serial, res->verified ? " (an unclear answer: found applied)" : "",
               res->resent ? " (an unclear answer: found not applied, sent again)" : "");
}

/* For tests that need two writers to overlap exactly: with
 * VFABCTL_TEST_HOLD=FILE, the first attempt creates FILE.read once it has
 * read the store and waits (up to 30 s) for FILE to exist before writing. */
static void test_hold(unsigned n_attempt)
{
    const char *hold = getenv("VFABCTL_TEST_HOLD");
    char path[4096];
    if (!hold || n_attempt || strlen(hold) > sizeof(path) - 8)
        return;
    snprintf(path, sizeof(path), "%s.read", hold);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    for (int i = 0; i < 300 && access(hold, F_OK) != 0; i++) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* One attempt: 0 done, -EBUSY someone else got in first (*parts_done
 * says how far this one came), other -errno: refused or unreachable. */
static int attempt(struct vf_store *s, const struct opts *o, const struct change_req *r,
                   unsigned n_attempt, size_t *parts_done)
{
    struct vf_desired d;
    struct vf_model cur, next = {0};
    struct vf_layout_kvs want = {0};
    struct vf_layout_change c = {0};
    struct vf_desired_result res = {0};
    json_t *diff = NULL;
    size_t *ends = NULL, n_parts = 0;
    char bad[2048] = "", err[4096], dp[PREFIX_MAX + 16];
    int rc;

    *parts_done = 0;
    snprintf(dp, sizeof(dp), "%sdesired/", o->prefix);
    rc = read_model(s, o, &d, &cur, r->file ? bad : NULL, sizeof(bad));
    if (rc)
        return rc;
    test_hold(n_attempt);
    if (bad[0])
        fprintf(stderr, "vfabctl: note: the store held content that does not load, which "
                "this apply replaces: %s\n", bad);
    if ((rc = next_model(r, &cur, &next)) != 0)
        goto out;
    if ((rc = vf_layout_from_model(&next, &want, err, sizeof(err))) != 0) {
        fprintf(stderr, "vfabctl: %s: %s\n", r->what, err);
        goto out;
    }
    if ((rc = vf_layout_diff(&d.kvs, &want, &c)) != 0 || !(diff = vf_model_diff(&cur, &next))) {
        rc = rc ? rc : -ENOMEM;
        goto out;
    }
    struct vf_layout_limits lim = {
        .max_request_bytes = o->max_request_bytes, .max_txn_ops = o->max_txn_ops,
        .reserved_ops = VF_DESIRED_TXN_OPS, .reserved_bytes = VF_DESIRED_TXN_BYTES,
        .key_prefix_len = strlen(dp), .atomic = r->atomic,
    };
    if ((rc = vf_layout_plan(&d.kvs, &c, &lim, &ends, &n_parts, err, sizeof(err))) != 0) {
        fprintf(stderr, "vfabctl: %s: %s\n", r->what, err);
        goto out;
    }
    res.revision = d.revision;
    res.serial = d.serial;
    if (r->dry_run || !c.n) {
        print_result(o, r, diff, &c, n_parts, &res, n_attempt, false);
        goto out;
    }
    rc = vf_desired_commit(s, o->prefix, &d, &c, ends, n_parts, &res, err, sizeof(err));
    *parts_done = res.parts_done;
    if (rc == -EBUSY) {
        fprintf(stderr, "vfabctl: %s: another writer changed the store first (read at "
                "revision %" PRId64 " with serial %" PRId64 ", now serial %" PRId64 "); "
                "%s\n", r->what, d.revision, d.serial, res.other_serial,
                res.parts_done ? "some of this change's txns went in, each a valid fabric"
                               : "nothing of this change was written");
    } else if (rc) {
        fprintf(stderr, "vfabctl: %s: %s%s\n", r->what, err,
                res.parts_done ? " (the txns before it went in, each a valid fabric)" : "");
    } else {
        print_result(o, r, diff, &c, n_parts, &res, n_attempt, true);
    }
out:
    free(ends);
    json_decref(diff);
    vf_layout_change_free(&c);
    vf_layout_kvs_free(&want);
    vf_model_free(&next);
    vf_model_free(&cur);
    vf_desired_free(&d);
    return rc;
}

static int run_change(struct vf_store *s, const struct opts *o, const struct change_req *r)
{
    for (unsigned n = 0;; n++) {
        size_t done;
        int rc = attempt(s, o, r, n, &done);
        if (rc != -EBUSY || done || n >= r->retries)
            return rc == -EBUSY && !done && r->retries
                       ? (fprintf(stderr, "vfabctl: %s: gave up after %u retries\n",
                                  r->what, r->retries), vfabctl_store_status(rc))
                       : vfabctl_store_status(rc);
        /* Someone else's change went in: a short random pause, then the
         * edit again on top of it. */
        fprintf(stderr, "vfabctl: %s: retrying on the new state (%u of %u)\n", r->what,
                n + 1, r->retries);
        struct timespec ts = {0, (long)(20 + rand() % 80) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Pulls --retries N and --atomic out of args (the rest go to the edit
 * parser); -1 on a bad value. */
static int take_write_opts(int *argc, char **argv, struct change_req *r)
{
    int o = 0;
    for (int i = 0; i < *argc; i++) {
        unsigned long long n;
        if (!strcmp(argv[i], "--atomic")) {
            r->atomic = true;
        } else if (!strcmp(argv[i], "--retries")) {
            if (i + 1 >= *argc || !number(argv[i + 1], 0, 100, &n)) {
                fprintf(stderr, "vfabctl: --retries wants a count, 0 to 100\n");
                return -1;
            }
            r->retries = (unsigned)n;
            i++;
        } else {
            argv[o++] = argv[i];
        }
    }
    *argc = o;
    return 0;
}

static int edit_cmd(struct vf_store *s, const struct opts *o, bool add, int argc, char **argv)
{
    struct change_req r = {.op = add ? VF_EDIT_ADD : VF_EDIT_DEL, .retries = DEFAULT_RETRIES};
    char what[96];
    if (argc < 1) {
        fprintf(stderr, "vfabctl: %s needs a KIND (see vfabctl --help)\n", add ? "add" : "del");
        return VFABCTL_USAGE;
    }
    if (take_write_opts(&argc, argv, &r))
        return VFABCTL_USAGE;
    json_t *p = vfabctl_edit_params(add, argc, argv);
    if (!p)
        return VFABCTL_USAGE;
    r.kind = json_string_value(json_object_get(p, "kind"));
    r.spec = json_object_get(p, "spec");
    r.cascade = json_is_true(json_object_get(p, "cascade"));
    r.dry_run = json_is_true(json_object_get(p, "dry_run"));
    /* An index names another object once someone else's change went in. */
    if (!add && json_object_get(r.spec, "index"))
        r.retries = 0;
    snprintf(what, sizeof(what), "%s %s", add ? "add" : "del", r.kind);
    r.what = what;
    int rc = run_change(s, o, &r);
    json_decref(p);
    return rc;
}

static int apply_cmd(struct vf_store *s, const struct opts *o, int argc, char **argv)
{
    struct change_req r = {.retries = 0};
    const char *file = NULL;
    char err[2048], what[PREFIX_MAX + 64];
    struct vf_model m;

    if (take_write_opts(&argc, argv, &r))
        return VFABCTL_USAGE;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) {
            r.dry_run = true;
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            fprintf(stderr, "vfabctl: apply [--dry-run] [--atomic] [--retries N] FILE "
                    "(got '%s')\n", argv[i]);
            return VFABCTL_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "vfabctl: apply needs a FILE\n");
        return VFABCTL_USAGE;
    }
    int rc = vf_config_load(file, &m, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "vfabctl: %s\n", err);
        return VFABCTL_REFUSED;
    }
    if (m.has_local) {
        fprintf(stderr, "vfabctl: %s has a `local:` section; the store holds the fabric "
                "only (chassis and tenants), and each host keeps its `local:` in the file "
                "it gives vfabd: remove it from %s\n", file, file);
        vf_model_free(&m);
        return VFABCTL_REFUSED;
    }
    snprintf(what, sizeof(what), "apply %s", file);
    r.what = what;
    r.file = &m;
    rc = run_change(s, o, &r);
    vf_model_free(&m);
    return rc;
}

static void store_log(void *arg, enum vf_store_log_level level, const char *msg)
{
    (void)arg;
    if (level <= VF_STORE_LOG_WARN)
        fprintf(stderr, "vfabctl: %s\n", msg);
}

int vfabctl_store_main(int argc, char **argv)
{
    struct opts o = {0};
    struct vf_store *s = NULL;
    char err[VF_STORE_ERR_LEN];
    int rc, first = parse_opts(argc, argv, &o);

    if (first < 0) {
        rc = first == -VFABCTL_OK - 1000 ? VFABCTL_OK : -first;
        goto out;
    }
    if (first >= argc) {
        fprintf(stderr, "vfabctl: --store needs a COMMAND: show, list, add, del, apply, "
                "chassis, bindings (see vfabctl --help)\n");
        rc = VFABCTL_USAGE;
        goto out;
    }
    o.cfg.log = store_log;
    if ((rc = vf_store_create(&o.cfg, &s, err, sizeof(err))) != 0) {
        fprintf(stderr, "vfabctl: --store: %s\n", err);
        rc = VFABCTL_USAGE;
        goto out;
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    const char *cmd = argv[first];
    int nargs = argc - first - 1;
    char **args = argv + first + 1;
    if (!strcmp(cmd, "show") && nargs == 0) {
        rc = show_or_list(s, &o, NULL);
    } else if (!strcmp(cmd, "list") && nargs == 1) {
        rc = show_or_list(s, &o, args[0]);
    } else if (!strcmp(cmd, "add") || !strcmp(cmd, "del")) {
        rc = edit_cmd(s, &o, !strcmp(cmd, "add"), nargs, args);
    } else if (!strcmp(cmd, "apply")) {
        rc = apply_cmd(s, &o, nargs, args);
    } else if (!strcmp(cmd, "chassis") && nargs == 0) {
        rc = vfabctl_store_chassis(s, o.prefix, o.json);
    } else if (!strcmp(cmd, "bindings") && nargs == 0) {
        rc = vfabctl_store_bindings(s, o.prefix, o.json);
    } else {
        fprintf(stderr, "vfabctl: --store: unknown command or arguments '%s%s' (show, list "
                "KIND, add, del, apply FILE, chassis, bindings)\n", cmd,
                nargs ? " ..." : "");
        rc = VFABCTL_USAGE;
    }
out:
    vf_store_destroy(s);
    if (o.password) {
        explicit_bzero(o.password, strlen(o.password));
        free(o.password);
    }
    return rc;
}
