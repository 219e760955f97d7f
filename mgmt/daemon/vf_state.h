/* vf_state.h - the acknowledged desired state, kept durably on disk.
 *
 * What: every change vfabd accepts (add, del, apply) is written here
 * before it is acknowledged, and vfabd started again (after a crash, or
 * kill -9) comes back with exactly the last acknowledged model.
 *
 * Format: DIR/state.json is one header line, then the model as JSON (the
 * YAML schema's shape, `local` included, as vf_model_to_json writes it):
 *
 *   # vfab-state v1 len=N crc32c=xxxxxxxx[ rev=R]
 *   {"chassis": [...], "tenants": [...], "local": {...}}
 *
 * R, when there, is the etcd store revision the model was at (vf_apply.h),
 * so a restart can resume the store's watch from it; a state that never
 * came from the store has no rev (files without it read as revision 0).
 * N is the byte length of everything after the header line, and the CRC32C
 * (Castagnoli, the iSCSI/ext4 one: init ~0, final xor ~0) covers those N
 * bytes, written as eight lowercase hex digits. The header is a YAML
 * comment, so the file is also a desired-state file an operator can read,
 * or load with `vfabd -c` by hand.
 *
 * Durability: save writes DIR/state.json.tmp, fsyncs it, renames it over
 * DIR/state.json and fsyncs DIR; rename is atomic, so after a crash at any
 * point the file is either the old state or the new one, never a mix. A
 * leftover state.json.tmp (crash before the rename) is ignored by load and
 * replaced by the next save.
 *
 * Loading checks, in order, the header, the length and the CRC before
 * parsing anything: a truncated or corrupt file is reported (-EBADMSG,
 * naming the check that failed), never half-loaded, and never modified.
 *
 * A missing state.json is a first start only when it is really missing:
 * a dangling symlink (a state disk that is not mounted) is refused
 * (-ENOLINK), and vfabd checks the directory exists before it seeds one
 * (vf_state_check_dir).
 *
 * Thread-safety: no shared state; one writer per DIR at a time (vfabd's
 * management thread).
 */
#ifndef VF_STATE_H
#define VF_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "mgmt/control/vf_model.h"

#define VF_STATE_FILE "state.json"
#define VF_STATE_TMP "state.json.tmp"
#define VF_STATE_MAGIC "# vfab-state v1 "
#define VF_STATE_MAX_BODY (64u << 20)   /* the loader's file limit */

/* 0, or -errno (the directory is missing or not writable, the disk is
 * full, ...) with err naming the file. On failure the previous state file
 * is untouched. */
int vf_state_save(const char *dir, const struct vf_model *m, char *err,
                  size_t errlen);
/* The same, recording the store revision (0: none). */
int vf_state_save_rev(const char *dir, const struct vf_model *m,
                      uint64_t revision, char *err, size_t errlen);

/* 0 with m filled; -ENOENT when DIR has no state file (a first start);
 * -ENOLINK when state.json is a symlink to nothing (not a first start);
 * -EBADMSG when the header, length or CRC check fails; -EINVAL when the
 * checked contents are not a valid model (a newer or hand-edited file);
 * -EFBIG or -errno for I/O. m is output only and left empty on failure. */
int vf_state_load(const char *dir, struct vf_model *m, char *err,
                  size_t errlen);
/* The same, and the store revision the state was saved at (0: none). */
int vf_state_load_rev(const char *dir, struct vf_model *m,
                      uint64_t *revision, char *err, size_t errlen);
/* 0 when dir is an existing directory; else -errno with err saying what
 * to do (vfabd never creates it). */
int vf_state_check_dir(const char *dir, char *err, size_t errlen);

/* CRC32C of n bytes (init ~0, final xor ~0): 0xe3069283 for "123456789". */
uint32_t vf_state_crc32c(const void *p, size_t n);

#endif
