/* vf_yaml_guard.h - refuse hostile YAML before a document is built.
 *
 * What: libyaml's document loader (and its scanner, which keeps a stack
 * entry per open level and walks it for every token) costs time quadratic
 * in the nesting depth: 200 KB of `[[[...]]]` took over 30 s to refuse,
 * and a 400 KB `vfabctl apply` held the control socket for minutes. The
 * desired state's schema nests only a few levels (VF_YAML_SCHEMA_DEPTH), so before the loader runs, one pass over
 * libyaml's events refuses any collection opened deeper than
 * VF_YAML_MAX_DEPTH, at the event that goes too deep: the work done is
 * linear in the bytes before it. The same pass first checks that the text
 * is UTF-8 (vf_text.h).
 *
 * Errors read like the loader's: FILE:LINE:COL: problem. A YAML syntax
 * error is left to the loader, which words it with its context.
 *
 * Thread-safety: no shared state.
 */
#ifndef VF_YAML_GUARD_H
#define VF_YAML_GUARD_H

#include <stddef.h>

/* The top mapping, tenants, a tenant, its switches, a switch, its ports, a
 * port, its ips: 8 (an ACL's match is as deep). */
#define VF_YAML_SCHEMA_DEPTH 8
#define VF_YAML_MAX_DEPTH 16     /* twice that, with room for new fields */

/* 0, or -EINVAL (too deep, not UTF-8) / -ENOMEM with err filled. */
int vf_yaml_guard(const char *file, const char *yaml, size_t len, char *err,
                  size_t errlen);

#endif
