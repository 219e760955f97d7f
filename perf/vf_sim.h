/* vf_sim.h - vfab-sim: many simulated chassis against one real etcd.
 *
 * What: perf/vfab-sim runs N chassis in one process. Each has what a vfabd
 * with --store will have: its own etcd client (mgmt/store/vf_store.h), a
 * lease kept alive with its chassis record on it, one watch on the whole
 * prefix, its part of the fabric read at one revision (vf_layout_subset)
 * and the real table compiler (no data plane). The main thread plays the
 * operator through the northbound path (vf_desired) and measures: cold
 * start until every chassis compiled, a port add until every chassis has
 * it, a chassis killed until every other saw its record go. A benchmark,
 * not a test: it prints figures and never passes or fails on time.
 *
 * A chassis (sim_chassis.c) is a small state machine driven by its
 * client's completions: grant a lease, register (a txn that creates
 * P"chassis/<name>" on the lease, CREATE == 0), read (one read-only txn of
 * the small kinds, the serial and its own index keys, then txns of the
 * port and ACL ranges of the switches it needs, guarded by the serial so
 * all of it is one state of the desired fabric), compile, watch from the
 * read's revision + 1. Watch events update its key set; a change of its
 * index or of router ports can widen its set of switches, whose keys it
 * then reads at the event's revision (events behind it wait); then it
 * rebuilds its part of the model and recompiles incrementally. This is the
 * minimal form of what vfabd's store source will do (issue 14's next step).
 *
 * Threads: chassis are shared out over T loop threads (sim_loop.c); a
 * chassis and its client belong to one thread. The main thread reads the
 * atomics marked below and sets `kill`; it wakes the owner with
 * vf_store_wakeup.
 */
#ifndef VF_SIM_H
#define VF_SIM_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "fabric/vf_port.h"
#include "mgmt/layout/vf_layout.h"
#include "mgmt/store/vf_store.h"
#include "pipeline/vf_tables.h"

struct sim_event {               /* a watch event copied for later */
    bool del;
    char *key;                   /* absolute */
    char *value;
    size_t value_len;
    int64_t rev;
};

struct sim_chassis {
    /* set up by main before the threads start; then owned by the thread */
    unsigned idx;
    char name[VF_NAME_MAX];
    const struct sim_cfg *cfg;
    struct vf_store *s;
    int state;
    int64_t lease;
    int64_t old_lease;           /* lost: revoked before the record goes again */
    unsigned reg_tries;
    struct vf_store_lease *keeper;
    struct vf_store_watch *watch;
    struct vf_layout_kvs kvs;    /* its view of P"desired/", relative keys */
    json_t *switches;            /* the switches it reads (names -> true) */
    int64_t read_rev, serial_mod;
    unsigned fetching;           /* reads in flight */
    json_t *todo;                /* first read: switch names to read */
    size_t todo_at;              /* the next one */
    bool restart;                /* a guarded read failed: read again */
    bool read_err;               /* a read failed: again after a backoff */
    unsigned read_tries;         /* failed reads in a row */
    int64_t retry_ns;            /* loop: call sim_chassis_retry then (0 none) */
    unsigned seed;               /* backoff jitter */
    struct sim_event *queue;     /* events waiting behind a read */
    size_t q_head, q_len, q_cap;
    bool regrow;                 /* switch set to check */
    bool rebuild;                /* model to rebuild from keys */
    bool recompile;              /* model changed in place: compile */
    bool read_complete;          /* the first read is in: settle */
    bool want_settle;            /* loop: call sim_chassis_settle */
    bool regranting;             /* lease lost: granting a new one */
    struct vf_model model;       /* its part of the fabric */
    bool have_model;
    struct vf_tables *tables;
    uint64_t gen;
    struct vf_port uplink;       /* stands for the UDP uplink (index only) */
    int64_t last_rev;            /* last event revision applied */
    struct pollfd *fds;          /* loop: this client's fds, cached */
    unsigned nfds, cap_fds;
    int64_t due_ns;              /* loop: when dispatch is due (-1 none) */
    bool poll_dirty;             /* loop: recompute fds and due */
    unsigned compiles, rebuilds, fetches, events, reregs, retries;
    /* thread: rw; main: ro (acquire), paired with the release stores in
     * sim_chassis.c */
    _Atomic int64_t done_rev;    /* revision processed (and compiled) */
    _Atomic int64_t done_ns;     /* when */
    _Atomic int64_t compiled_ns; /* first compile (cold start) */
    _Atomic int64_t dropped_ns;  /* saw the kill victim's record go */
    _Atomic int failed;          /* gave up: err says why */
    /* main: rw; thread: ro (acquire) */
    _Atomic int kill;            /* stop keepalives and the watch */
    _Atomic int64_t lease_left_ms;   /* thread: at kill */
    char err[512];
};

struct sim_cfg {
    const char *endpoints;
    char prefix[128];
    unsigned n_chassis, n_switches, n_ports, tenant_switches;
    unsigned ttl_s, threads, adds;
    const char *victim;          /* the chassis whose DELETE is timed */
};

/* sim_chassis.c */
int sim_chassis_init(struct sim_chassis *c, const struct sim_cfg *cfg, unsigned idx);
void sim_chassis_start(struct sim_chassis *c);   /* on its thread */
void sim_chassis_kill(struct sim_chassis *c);    /* on its thread */
/* The work the client's completions left (applying events, rebuilding,
 * compiling): the loop runs it with a time budget a round, so that one
 * thread's many chassis all keep their leases alive. */
void sim_chassis_settle(struct sim_chassis *c);
/* A failed read again, at retry_ns (the loop calls it). */
void sim_chassis_retry(struct sim_chassis *c);
void sim_chassis_fini(struct sim_chassis *c);

/* sim_loop.c: T threads, each polling its share of the chassis. */
int sim_loop_start(struct sim_chassis *cs, unsigned n, unsigned threads);
void sim_loop_stop(void);

/* sim_fabric.c */
int sim_fabric_yaml(const struct sim_cfg *cfg, char **yaml);
/* Chassis idx's underlay address in that fabric. */
void sim_chassis_addr(unsigned idx, char *buf, size_t len);
int64_t sim_now_ns(void);

#endif
