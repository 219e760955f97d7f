/* state_lock.c - flock on DIR/vfabd.lock, with the holder's pid (vf_state_lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/daemon/vf_state.h"
#include "mgmt/daemon/vf_state_lock.h"

int vf_state_lock(const char *dir, char *err, size_t errlen)
{
    char path[4096], pid[32] = "";
    int fd, rc;

    /* Missing or not a directory: the words vf_boot_state would use. */
    rc = vf_state_check_dir(dir, err, errlen);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, VF_STATE_LOCK_FILE) >=
        sizeof(path)) {
        snprintf(err, errlen, "--state-dir %s: path too long", dir);
        return -ENAMETOOLONG;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "--state-dir %s: cannot open %s: %s", dir, path,
                 strerror(errno));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (rc == -EBUSY)
            snprintf(err, errlen, "--state-dir %s is in use by vfabd pid %s "
                     "(it holds %s): two vfabd on one state directory would "
                     "lose acknowledged changes; stop that one, or give this "
                     "one another --state-dir", dir, pid[0] ? pid : "(unknown)",
                     path);
        else
            snprintf(err, errlen, "--state-dir %s: cannot lock %s: %s", dir,
                     path, strerror(-rc));
        close(fd);
        return rc;
    }
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        rc = -errno;
        snprintf(err, errlen, "--state-dir %s: cannot write %s: %s", dir, path,
                 strerror(errno));
        close(fd);
        return rc;
    }
    return fd;
}
