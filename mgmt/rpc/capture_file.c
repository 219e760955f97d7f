/* capture_file.c - open the capture's pcap file as the user (vf_capture_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/rpc/vf_capture_file.h"

int vf_capture_file_open(const char *path, bool overwrite, char *shown,
                         size_t shown_len, char *err, size_t errlen)
{
    char cwd[PATH_MAX];
    if (path[0] == '/')
        snprintf(shown, shown_len, "%s", path);
    else if (getcwd(cwd, sizeof(cwd)))
        snprintf(shown, shown_len, "%s/%s", cwd, path);
    else
        snprintf(shown, shown_len, "%s", path);
    /* O_NONBLOCK: a FIFO in the file's place must not hang us. */
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK |
                (overwrite ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0640);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s%s", path, strerror(e),
                 e == EEXIST ? " (capture writes a new file: choose another "
                 "name, or give --overwrite to replace this one)"
                 : e == ELOOP ? " (a symbolic link: give the file itself)"
                 : e == EACCES ? " (vfabctl opens the file with your own "
                 "rights: choose a place you may write)" : "");
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

void vf_capture_file_discard(int fd, const char *path, bool created)
{
    struct stat a, b;
    if (created && fstat(fd, &a) == 0 && lstat(path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == 0)
        unlink(path);
    close(fd);
}
