/* ctl_path.c - the default control socket path (vf_ctl_path.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/rpc/vf_ctl.h"
#include "mgmt/rpc/vf_ctl_path.h"

#define SYSTEM_DIR "/run/vfab"

/* A directory only its owner (uid) can enter: not a link, owned by uid,
 * no group or other bits. */
static int private_dir(const char *dir, uid_t uid, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "control socket directory %s: %s", dir,
                 strerror(e));
        return -e;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077)) {
        snprintf(err, errlen, "control socket directory %s is not a private "
                 "directory of user %u (%s, owner %u, mode %04o): another "
                 "user may have made it to take vfabd's place; remove it, "
                 "set XDG_RUNTIME_DIR to a directory of your own, or choose a "
                 "socket with -s", dir, (unsigned)uid,
                 S_ISLNK(st.st_mode) ? "a symbolic link"
                 : S_ISDIR(st.st_mode) ? "a directory" : "not a directory",
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* The user's own directory: $XDG_RUNTIME_DIR/vfab or /tmp/vfab-UID. */
static int user_dir(char *buf, size_t len, uid_t uid)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    int n;
    if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode) &&
        st.st_uid == uid)
        n = snprintf(buf, len, "%s/vfab", xdg);
    else
        n = snprintf(buf, len, "/tmp/vfab-%u", (unsigned)uid);
    return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int vf_ctl_default_path(bool server, char *buf, size_t len, char *err,
                        size_t errlen)
{
    uid_t uid = geteuid();
    char dir[256];
    struct stat st;
    int rc;

    if (uid == 0) {
        if (server && mkdir(SYSTEM_DIR, 0750) != 0 && errno != EEXIST) {
            rc = -errno;
            snprintf(err, errlen, "cannot create %s: %s (choose a socket with "
                     "-s)", SYSTEM_DIR, strerror(errno));
            return rc;
        }
        snprintf(buf, len, "%s", VF_CTL_SYSTEM_SOCKET);
        return 0;
    }
    rc = user_dir(dir, sizeof(dir), uid);
    if (rc) {
        snprintf(err, errlen, "XDG_RUNTIME_DIR is too long for a socket path; "
                 "choose a socket with -s");
        return rc;
    }
    if ((size_t)snprintf(buf, len, "%s/vfabd.sock", dir) >= len) {
        snprintf(err, errlen, "%s/vfabd.sock is too long for a socket path; "
                 "choose a socket with -s", dir);
        return -ENAMETOOLONG;
    }
    if (server) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = -errno;
            snprintf(err, errlen, "cannot create %s: %s (choose a socket with "
                     "-s)", dir, strerror(errno));
            return rc;
        }
        return private_dir(dir, uid, err, errlen);
    }
    /* vfabctl: the user's own vfabd first, then the system's. */
    if (lstat(dir, &st) == 0) {
        rc = private_dir(dir, uid, err, errlen);
        if (rc || stat(buf, &st) == 0)
            return rc;
    }
    if (stat(SYSTEM_DIR, &st) == 0)
        snprintf(buf, len, "%s", VF_CTL_SYSTEM_SOCKET);
    return 0;
}
