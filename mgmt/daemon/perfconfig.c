/* perfconfig.c - load and check a perf config (tuning knobs) with libyaml.
 *
 * The file is one flat mapping; every knob has one parser below and the
 * allowed values come from VF_PERF_KNOBS, so the error for a bad value and
 * the list of knobs never drift apart. Checks that involve two knobs run
 * after the whole mapping is read. See vf_perfconfig.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "fabric/vf_port_udp.h"
#include "mgmt/daemon/vf_perfconfig.h"
#include "numa/vf_pkt.h"

#define PC_FILE_MAX (1u << 20)   /* a perf config is a few lines */

static const char *const knob_names[VF_PERF__COUNT] = {
#define VF_PERF_NAME(id, name, allowed) name,
    VF_PERF_KNOBS(VF_PERF_NAME)
#undef VF_PERF_NAME
};

static const char *const knob_allowed[VF_PERF__COUNT] = {
#define VF_PERF_ALLOWED(id, name, allowed) allowed,
    VF_PERF_KNOBS(VF_PERF_ALLOWED)
#undef VF_PERF_ALLOWED
};

const char *vf_perfconfig_knob_name(enum vf_perf_knob k)
{
    return (unsigned)k < VF_PERF__COUNT ? knob_names[k] : "?";
}

struct pc_ctx {
    const char *name;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
};

static int pc_fail(struct pc_ctx *c, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pc_fail(struct pc_ctx *c, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at)
        snprintf(c->err, c->errlen, "%s:%lu: %s", c->name,
                 (unsigned long)at->start_mark.line + 1, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
    return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                            : NULL;
}

/* Refuses anything but a plain number in [lo, hi]: "64k" or "-1" would
 * otherwise be read as something the user did not mean. */
static int want_uint(struct pc_ctx *c, const yaml_node_t *v,
                     enum vf_perf_knob k, unsigned long lo, unsigned long hi,
                     bool pow2, unsigned *out)
{
    const char *s = scalar(v);
    char *end;
    if (!s || !*s || *s == '-' || *s == '+')
        goto bad;
    errno = 0;
    unsigned long x = strtoul(s, &end, 10);
    if (*end || errno || x < lo || x > hi || (pow2 && (x & (x - 1))))
        goto bad;
    *out = (unsigned)x;
    return 0;
bad:
    return pc_fail(c, v, "%s: '%s' is not allowed (want %s)", knob_names[k],
                   s ? s : "a mapping or list", knob_allowed[k]);
}

static int want_bool(struct pc_ctx *c, const yaml_node_t *v,
                     enum vf_perf_knob k, bool *out)
{
    const char *s = scalar(v);
    if (s && (!strcmp(s, "true") || !strcmp(s, "false"))) {
        *out = s[0] == 't';
        return 0;
    }
    return pc_fail(c, v, "%s: '%s' is not allowed (want %s)", knob_names[k],
                   s ? s : "a mapping or list", knob_allowed[k]);
}

/* Returns the index of s in words[] or -1. */
static int want_word(struct pc_ctx *c, const yaml_node_t *v,
                     enum vf_perf_knob k, const char *const *words,
                     unsigned n_words, int *out)
{
    const char *s = scalar(v);
    for (unsigned i = 0; s && i < n_words; i++)
        if (!strcmp(s, words[i])) {
            *out = (int)i;
            return 0;
        }
    return pc_fail(c, v, "%s: '%s' is not allowed (want %s)", knob_names[k],
                   s ? s : "a mapping or list", knob_allowed[k]);
}

static int parse_workers(struct pc_ctx *c, const yaml_node_t *v,
                         struct vf_workers_spec *w)
{
    memset(w, 0, sizeof(*w));
    if (v->type == YAML_SEQUENCE_NODE) {
        w->mode = VF_WORKERS_LIST;
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            const yaml_node_t *item = yaml_document_get_node(c->doc, *it);
            unsigned cpu;
            if (w->n_cpus == VF_MAX_WORKERS)
                return pc_fail(c, item, "workers: more than %d cpus listed",
                               VF_MAX_WORKERS);
            int rc = want_uint(c, item, VF_PERF_WORKERS, 0, 4095, false, &cpu);
            if (rc)
                return rc;
            for (int i = 0; i < w->n_cpus; i++)
                if (w->cpus[i] == (int)cpu)
                    return pc_fail(c, item, "workers: cpu %u is listed twice "
                                   "(one worker per core)", cpu);
            w->cpus[w->n_cpus++] = (int)cpu;
        }
        if (w->n_cpus == 0)
            return pc_fail(c, v, "workers: the cpu list is empty (want %s)",
                           knob_allowed[VF_PERF_WORKERS]);
        return 0;
    }
    const char *s = scalar(v);
    if (s && !strcmp(s, "auto")) {
        w->mode = VF_WORKERS_AUTO;
        return 0;
    }
    unsigned n;
    int rc = want_uint(c, v, VF_PERF_WORKERS, 1, VF_MAX_WORKERS, false, &n);
    if (rc)
        return rc;
    w->mode = VF_WORKERS_COUNT;
    w->count = (int)n;
    return 0;
}

static int parse_knob(struct pc_ctx *c, enum vf_perf_knob k,
                      const yaml_node_t *v, struct vf_perfconfig *pc)
{
    static const char *const flush_words[] = {"per-poll", "per-queue"};
    static const char *const huge_words[] = {"auto", "required"};
    static const char *const rx_words[] = {"multishot", "syscall"};
    static const char *const spin_words[] = {"adaptive", "fixed"};
    int word = 0, rc = 0;

    switch (k) {
    case VF_PERF_WORKERS:
        return parse_workers(c, v, &pc->workers);
    case VF_PERF_BURST:
        return want_uint(c, v, k, 1, VF_BURST_MAX, false, &pc->burst);
    case VF_PERF_TX_BATCH:
        return want_uint(c, v, k, 1, VF_BURST_MAX, false, &pc->tx_batch);
    case VF_PERF_TX_FLUSH:
        rc = want_word(c, v, k, flush_words, 2, &word);
        pc->tx_flush = (enum vf_perf_flush)word;
        return rc;
    case VF_PERF_RING_SIZE:
        return want_uint(c, v, k, 64, 65536, true, &pc->ring_size);
    case VF_PERF_UPLINK_DEPTH:
        return want_uint(c, v, k, 8, VF_UDP_DEPTH_MAX, true, &pc->uplink_depth);
    case VF_PERF_POOL_BUFS:
        return want_uint(c, v, k, 1024, 4194304, false, &pc->pool_bufs);
    case VF_PERF_HUGEPAGES:
        rc = want_word(c, v, k, huge_words, 2, &word);
        pc->hugepages_required = word == 1;
        return rc;
    case VF_PERF_FLOW_CACHE:
        return want_uint(c, v, k, 1024, 1u << 26, false, &pc->flow_cache_entries);
    case VF_PERF_UPLINK_RX:
        rc = want_word(c, v, k, rx_words, 2, &word);
        pc->uplink_rx = word ? VF_UDP_RX_SYSCALL : VF_UDP_RX_MULTISHOT;
        return rc;
    case VF_PERF_SEND_ZC:
        return want_bool(c, v, k, &pc->send_zc);
    case VF_PERF_FIXED_BUFS:
        return want_bool(c, v, k, &pc->fixed_bufs);
    case VF_PERF_IDLE_POLLS:
        return want_uint(c, v, k, 0, 100000000, false, &pc->idle_polls);
    case VF_PERF_IDLE_SPIN:
        rc = want_word(c, v, k, spin_words, 2, &word);
        pc->fixed_spin = word == 1;
        return rc;
    case VF_PERF__COUNT:
        break;
    }
    return -EINVAL;
}

static bool has(const struct vf_perfconfig *pc, enum vf_perf_knob k)
{
    return pc->set & (1u << k);
}

/* The checks that need two knobs; `line` points at the later one. */
static int check_together(struct pc_ctx *c, const struct vf_perfconfig *pc,
                          const yaml_node_t *const *at)
{
    if (pc->fixed_bufs && !pc->send_zc)
        return pc_fail(c, at[VF_PERF_FIXED_BUFS], "fixed_bufs: true needs "
                       "send_zc: true (the registered buffers are only used "
                       "by zero-copy sends)");
    if (pc->send_zc && has(pc, VF_PERF_UPLINK_RX) &&
        pc->uplink_rx == VF_UDP_RX_SYSCALL)
        return pc_fail(c, at[VF_PERF_SEND_ZC], "send_zc: true needs "
                       "uplink_rx: multishot (zero-copy send is an io_uring "
                       "operation; the syscall variant has no ring)");
    /* The UDP uplink keeps uplink_depth receive buffers per queue out of
     * each worker's pool; the rest must carry the traffic. */
    unsigned depth = has(pc, VF_PERF_UPLINK_DEPTH) ? pc->uplink_depth
                                                   : VF_UDP_DEPTH_DEFAULT;
    unsigned bufs = has(pc, VF_PERF_POOL_BUFS) ? pc->pool_bufs : 16384;
    if (bufs < 4 * depth)
        return pc_fail(c, at[VF_PERF_POOL_BUFS] ? at[VF_PERF_POOL_BUFS]
                                                : at[VF_PERF_UPLINK_DEPTH],
                       "pool_bufs: %u is too small for uplink_depth %u (the "
                       "uplink holds uplink_depth buffers per worker; want "
                       "pool_bufs >= %u)", bufs, depth, 4 * depth);
    return 0;
}

int vf_perfconfig_load_string(const char *name, const char *yaml, size_t len,
                              struct vf_perfconfig *pc, char *err,
                              size_t errlen)
{
    struct pc_ctx c = {.name = name, .err = err, .errlen = errlen};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    int rc = -EINVAL;

    memset(pc, 0, sizeof(*pc));
    snprintf(pc->source, sizeof(pc->source), "%s", name);
    err[0] = '\0';
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, errlen, "%s: cannot initialise the YAML parser", name);
        return -ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%lu:%lu: YAML syntax error: %s", name,
                 (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "malformed document");
        goto out;
    }
    have_doc = true;
    c.doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = 0;   /* an empty file (only comments): every default holds */
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rc = pc_fail(&c, root, "expected a mapping of tuning knobs (e.g. "
                     "'burst: 32'), not a list or a scalar");
        goto out;
    }
    const yaml_node_t *at[VF_PERF__COUNT] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        const yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *key = scalar(k);
        unsigned id = 0;
        while (key && id < VF_PERF__COUNT && strcmp(key, knob_names[id]))
            id++;
        if (!key || id == VF_PERF__COUNT) {
            char known[512] = "";
            size_t off = 0;
            for (unsigned i = 0; i < VF_PERF__COUNT && off < sizeof(known); i++)
                off += (size_t)snprintf(known + off, sizeof(known) - off,
                                        "%s%s", i ? ", " : "", knob_names[i]);
            rc = pc_fail(&c, k, "unknown knob '%s' (known knobs: %s)",
                         key ? key : "?", known);
            goto out;
        }
        if (at[id]) {
            rc = pc_fail(&c, k, "%s is given twice", knob_names[id]);
            goto out;
        }
        at[id] = k;
        rc = parse_knob(&c, (enum vf_perf_knob)id, v, pc);
        if (rc)
            goto out;
        pc->set |= 1u << id;
    }
    rc = check_together(&c, pc, at);
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int vf_perfconfig_load(const char *file, struct vf_perfconfig *pc, char *err,
                       size_t errlen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "perf config %s: %s", file, strerror(e));
        return -e;
    }
    char *buf = malloc(PC_FILE_MAX);
    size_t n = buf ? fread(buf, 1, PC_FILE_MAX, f) : 0;
    int rc;
    if (!buf) {
        snprintf(err, errlen, "perf config %s: out of memory", file);
        rc = -ENOMEM;
    } else if (ferror(f) || n == PC_FILE_MAX) {
        snprintf(err, errlen, "perf config %s: %s", file,
                 ferror(f) ? "read error" : "larger than 1 MiB");
        rc = -EINVAL;
    } else {
        rc = vf_perfconfig_load_string(file, buf, n, pc, err, errlen);
    }
    free(buf);
    fclose(f);
    return rc;
}

void vf_perfconfig_to_opts(const struct vf_perfconfig *pc,
                           struct vf_daemon_opts *o)
{
    snprintf(o->tuning_source, sizeof(o->tuning_source), "%s", pc->source);
    if (has(pc, VF_PERF_WORKERS)) {
        o->has_workers = true;
        o->workers = pc->workers;
    }
    if (has(pc, VF_PERF_BURST))
        o->burst = pc->burst;
    if (has(pc, VF_PERF_TX_BATCH))
        o->tx_batch = pc->tx_batch;
    if (has(pc, VF_PERF_TX_FLUSH))
        o->flush_per_queue = pc->tx_flush == VF_PERF_FLUSH_PER_QUEUE;
    if (has(pc, VF_PERF_RING_SIZE))
        o->ring_size = pc->ring_size;
    if (has(pc, VF_PERF_POOL_BUFS))
        o->pool_bufs = pc->pool_bufs;
    if (has(pc, VF_PERF_HUGEPAGES))
        o->hugepages_required = pc->hugepages_required;
    if (has(pc, VF_PERF_FLOW_CACHE))
        o->flow_cache_entries = pc->flow_cache_entries;
    if (has(pc, VF_PERF_IDLE_POLLS))
        o->idle_polls = pc->idle_polls;
    if (has(pc, VF_PERF_IDLE_SPIN))
        o->fixed_spin = pc->fixed_spin;
    bool udp = pc->set & ((1u << VF_PERF_UPLINK_DEPTH) | (1u << VF_PERF_UPLINK_RX) |
                          (1u << VF_PERF_SEND_ZC) | (1u << VF_PERF_FIXED_BUFS) |
                          (1u << VF_PERF_BURST));
    if (udp) {
        if (!o->has_udp)
            vf_udp_opts_default(&o->udp);
        o->has_udp = true;
        if (has(pc, VF_PERF_UPLINK_DEPTH))
            o->udp.ring_depth = pc->uplink_depth;
        if (has(pc, VF_PERF_UPLINK_RX))
            o->udp.rx_mode = pc->uplink_rx;
        if (has(pc, VF_PERF_SEND_ZC))
            o->udp.send_zc = pc->send_zc;
        if (has(pc, VF_PERF_FIXED_BUFS))
            o->udp.fixed_bufs = pc->fixed_bufs;
        if (has(pc, VF_PERF_BURST))
            o->udp.burst = pc->burst;
    }
}
