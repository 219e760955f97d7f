/* vfabctl.h - what vfabctl's files share (the program only).
 *
 * vfabctl_main.c talks to a vfabd over its control socket;
 * vfabctl_store.c and vfabctl_store_rt.c talk to the fabric's etcd
 * cluster instead when the command line has --store. Both build the same
 * add/del specs and print lists and diffs the same way.
 *
 * Thread-safety: one thread (the program's).
 */
#ifndef VFABCTL_H
#define VFABCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "mgmt/store/vf_store.h"

/* Exit statuses shared by both halves. */
enum {
    VFABCTL_OK = 0,
    VFABCTL_REFUSED = 1,     /* the change or request was refused */
    VFABCTL_USAGE = 2,
    VFABCTL_UNREACHABLE = 3, /* no daemon / no etcd endpoint answered */
    VFABCTL_CONFLICT = 4,    /* --store: another writer got in first */
};

/* add/del KIND [POSITIONAL] [FIELD=VALUE...] [--spec JSON] [--cascade]
 * [--dry-run] -> {"kind", "spec", "cascade", "dry_run"} (new ref), or NULL
 * after printing what is wrong. */
json_t *vfabctl_edit_params(bool add, int argc, char **argv);
/* One line per object of a `list` answer. */
void vfabctl_print_list(const char *kind, json_t *r);
/* "+ kind name", "- ...", "~ kind name: field a -> b" per entry of a
 * vf_model_diff; returns the number of entries. */
size_t vfabctl_print_diff(json_t *diff);

/* ---- --store (vfabctl_store.c) ---- */

/* Does the command line ask for the store (--store before the command)? */
bool vfabctl_store_wanted(int argc, char **argv);
int vfabctl_store_main(int argc, char **argv);
void vfabctl_store_usage(FILE *f);

/* The runtime views (vfabctl_store_rt.c): live chassis with their lease
 * left, and port bindings beside the desired chassis. */
int vfabctl_store_chassis(struct vf_store *s, const char *prefix, bool as_json);
int vfabctl_store_bindings(struct vf_store *s, const char *prefix, bool as_json);
/* The exit status for a store error code. */
int vfabctl_store_status(int rc);

#endif
