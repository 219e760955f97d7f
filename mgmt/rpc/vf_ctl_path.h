/* vf_ctl_path.h - where vfabd listens and vfabctl connects by default.
 *
 * What: one rule for both programs, so that `vfabd -c FILE` and `vfabctl
 * status` meet without -s:
 *   - root: /run/vfab/vfabd.sock (the directory made 0750 if missing; the
 *     systemd unit's RuntimeDirectory);
 *   - any other user: vfabd.sock in a directory of that user's own, mode
 *     0700: $XDG_RUNTIME_DIR/vfab when XDG_RUNTIME_DIR is a directory the
 *     user owns (systemd-logind's /run/user/UID), else /tmp/vfab-UID.
 * The user's directory must be a real directory (not a link) owned by the
 * user with no access for group or others; vfabd creates it so, and
 * both programs refuse one that is not (another user who made it first
 * could otherwise take the socket's place and read what vfabctl sends).
 * Such a squatted directory is reported with what to do, never used.
 * vfabctl run by a user who has no socket of their own goes to the
 * system one when /run/vfab exists (a member of vfabd's group), so its
 * errors then name that socket.
 *
 * Thread-safety: no shared state.
 */
#ifndef VF_CTL_PATH_H
#define VF_CTL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* The default socket path into buf. server: vfabd (creates the directory).
 * 0, or -errno with err saying what is wrong and what to do. */
int vf_ctl_default_path(bool server, char *buf, size_t len, char *err,
                        size_t errlen);

#endif
