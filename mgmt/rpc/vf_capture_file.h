/* vf_capture_file.h - the pcap file of `vfabctl capture`, opened by vfabctl.
 *
 * What: vfabd often runs as root, and any member of its socket's group may
 * ask for a capture; so vfabd never opens a path a client names. vfabctl
 * opens the file with the rights of the user who runs it and passes the
 * descriptor with capture_start (SCM_RIGHTS, vf_ctl.h); vfabd only writes
 * to it. The file is a new one (O_CREAT|O_EXCL: an existing file is never
 * truncated, and a symbolic link in its place is not followed) unless the
 * user asks to overwrite (then O_NOFOLLOW|O_TRUNC, still with the user's
 * rights). Directories on the way are resolved with the user's rights
 * too, so a link to a directory the user cannot write leads nowhere.
 *
 * Thread-safety: no shared state.
 */
#ifndef VF_CAPTURE_FILE_H
#define VF_CAPTURE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* Opens path for writing; shown gets its absolute form (for messages).
 * The descriptor, or -errno with err saying what to do. */
int vf_capture_file_open(const char *path, bool overwrite, char *shown,
                         size_t shown_len, char *err, size_t errlen);
/* After vfabd refused the capture: removes the file open() created, if
 * path still names that file. Closes fd. */
void vf_capture_file_discard(int fd, const char *path, bool created);

#endif
