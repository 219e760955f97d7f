/* vf_state_lock.h - one vfabd per state directory.
 *
 * What: two vfabd sharing a --state-dir both acknowledged changes and
 * each overwrote the other's state.json, so after a restart an
 * acknowledged change was gone (redteam 8). vfabd takes an exclusive
 * flock(2) on DIR/vfabd.lock before it reads the state and holds it for
 * its whole life (the descriptor is never closed; the kernel drops the
 * lock when the process ends, kill -9 included, so a crash leaves no stale
 * lock). The file holds the holder's pid, so the second vfabd refuses to
 * start and names the first, like ovsdb-server with its database.
 *
 * A directory that does not exist is refused here with what to do, in
 * vf_state_check_dir's words (vfabd does not create it: a state disk that
 * is not mounted must not look like a first start).
 *
 * Thread-safety: call once, from the management thread, at start.
 */
#ifndef VF_STATE_LOCK_H
#define VF_STATE_LOCK_H

#include <stddef.h>

#define VF_STATE_LOCK_FILE "vfabd.lock"

/* The lock's descriptor (keep it open as long as the lock must hold), or
 * -EBUSY (another process holds it; err names its pid) or -errno with err
 * filled. */
int vf_state_lock(const char *dir, char *err, size_t errlen);

#endif
