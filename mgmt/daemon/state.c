/* state.c - write the model durably (tmp, fsync, rename, fsync dir) and
 * read it back only after its header, length and CRC32C check out. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt/control/vf_model_json.h"
#include "mgmt/daemon/vf_state.h"

#define CRC32C_POLY 0x82f63b78u         /* Castagnoli, bit-reversed */
#define HEADER_MAX 96      /* "# vfab-state v1 len=N crc32c=X rev=R\n" */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
        crc_table[i] = c;
    }
}

/* One table lookup per byte: a 64 MiB state checks in well under a second,
 * and state files are written once per change, so no CPU-specific path. */
uint32_t vf_state_crc32c(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint32_t crc = ~0u;

    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < n; i++)
        crc = (crc >> 8) ^ crc_table[(crc ^ b[i]) & 0xff];
    return ~crc;
}

static int path_in(char *buf, size_t len, const char *dir, const char *file)
{
    return (size_t)snprintf(buf, len, "%s/%s", dir, file) < len ? 0
                                                               : -ENAMETOOLONG;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int vf_state_save(const char *dir, const struct vf_model *m, char *err,
                  size_t errlen)
{
    return vf_state_save_rev(dir, m, 0, err, errlen);
}

int vf_state_save_rev(const char *dir, const struct vf_model *m,
                      uint64_t revision, char *err, size_t errlen)
{
    char tmp[4096], final[4096], head[HEADER_MAX], none[1];
    const char *step = "write";
    char *body = NULL;
    json_t *j = NULL;
    size_t len;
    int fd = -1, dfd = -1, rc;

    if (!err || !errlen)
        err = none, errlen = sizeof(none);
    err[0] = '\0';
    if ((rc = path_in(tmp, sizeof(tmp), dir, VF_STATE_TMP)) != 0 ||
        (rc = path_in(final, sizeof(final), dir, VF_STATE_FILE)) != 0) {
        snprintf(err, errlen, "%s: state directory path too long", dir);
        return rc;
    }
    j = vf_model_to_json(m);
    body = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!body) {
        snprintf(err, errlen, "%s: out of memory serialising the state", tmp);
        return -ENOMEM;
    }
    len = strlen(body);
    body[len] = '\n';           /* json_dumps' NUL: the file ends in one */
    len++;
    if (revision)
        snprintf(head, sizeof(head), VF_STATE_MAGIC "len=%zu crc32c=%08x "
                 "rev=%llu\n", len, vf_state_crc32c(body, len),
                 (unsigned long long)revision);
    else
        snprintf(head, sizeof(head), VF_STATE_MAGIC "len=%zu crc32c=%08x\n",
                 len, vf_state_crc32c(body, len));
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        step = "create";
        goto fail;
    }
    if ((rc = write_all(fd, head, strlen(head))) != 0 ||
        (rc = write_all(fd, body, len)) != 0) {
        errno = -rc;
        goto fail;
    }
    /* The data must be on disk before the rename makes it the state, or a
     * crash could leave a renamed but empty file. */
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    rc = close(fd);
    fd = -1;
    if (rc != 0)
        goto fail;
    step = "rename";
    if (rename(tmp, final) != 0)
        goto fail;
    /* The rename itself lives in the directory: sync it too. */
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot fsync the directory after saving "
                 "%s: %s", dir, final, strerror(errno));
        if (dfd >= 0)
            close(dfd);
        free(body);
        return rc;
    }
    close(dfd);
    free(body);
    return 0;
fail:
    rc = -errno;
    {
        struct stat st;
        bool had = stat(final, &st) == 0;
        snprintf(err, errlen, "%s: cannot %s the new state: %s (%s)", tmp,
                 step, strerror(-rc),   /* errno is stat's now */
                 had ? "the previous state is unchanged"
                 : rc == -ENOENT ? "the state directory does not exist: "
                 "create it, or fix --state-dir"
                 : "no state was saved there before");
    }
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(body);
    return rc ? rc : -EIO;
}

/* Reads the whole file, at most max bytes: 0, -EFBIG or -errno. */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = -EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = -ENOMEM;
        goto out;
    }
    /* Bounded by the size fstat saw: a file growing under us is cut. */
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

/* Strict decimal without leading zeros at s[*i], at most max. */
static bool parse_dec(const char *s, size_t n, size_t *i,
                      unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;

    if (*i >= n || s[*i] < '0' || s[*i] > '9' ||
        (s[*i] == '0' && *i + 1 < n && s[*i + 1] >= '0' && s[*i + 1] <= '9'))
        return false;
    for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
        unsigned d = (unsigned)(s[*i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Parses "len=N crc32c=xxxxxxxx[ rev=R]\n" strictly: decimal without leading
 * zeros, eight lowercase hex digits, so any changed byte of the header
 * either fails here or changes N or the CRC. Returns the header length. */
static size_t parse_header(const char *s, size_t n, size_t *len,
                           uint32_t *crc, uint64_t *rev)
{
    size_t m = strlen(VF_STATE_MAGIC), i;
    unsigned long long v = 0;
    uint32_t c = 0;

    if (n < m || memcmp(s, VF_STATE_MAGIC, m) != 0)
        return 0;
    i = m;
    if (n - i < 4 || memcmp(s + i, "len=", 4) != 0)
        return 0;
    i += 4;
    if (i >= n || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < n &&
                                                s[i + 1] >= '0' &&
                                                s[i + 1] <= '9'))
        return 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > VF_STATE_MAX_BODY)
            return 0;
    }
    if (n - i < 8 || memcmp(s + i, " crc32c=", 8) != 0)
        return 0;
    i += 8;
    for (int k = 0; k < 8; k++, i++) {
        if (i >= n)
            return 0;
        if (s[i] >= '0' && s[i] <= '9')
            c = c << 4 | (uint32_t)(s[i] - '0');
        else if (s[i] >= 'a' && s[i] <= 'f')
            c = c << 4 | (uint32_t)(s[i] - 'a' + 10);
        else
            return 0;
    }
    *rev = 0;
    if (n - i > 5 && memcmp(s + i, " rev=", 5) == 0) {
        unsigned long long r;
        i += 5;
        if (!parse_dec(s, n, &i, UINT64_MAX, &r) || r == 0)
            return 0;
        *rev = r;
    }
    if (i >= n || s[i] != '\n')
        return 0;
    *len = (size_t)v;
    *crc = c;
    return i + 1;
}

int vf_state_load(const char *dir, struct vf_model *m, char *err,
                  size_t errlen)
{
    return vf_state_load_rev(dir, m, NULL, err, errlen);
}

int vf_state_check_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        int rc = -errno;
        if (rc == -ENOENT)
            snprintf(err, errlen, "%s: the state directory does not exist "
                     "(vfabd does not create it, so an unmounted state disk "
                     "is never taken for a first start): create it, e.g. "
                     "mkdir -m 0700 %s", dir, dir);
        else
            snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory (--state-dir wants the "
                 "directory that holds state.json)", dir);
        return -ENOTDIR;
    }
    return 0;
}

/* Open failed with ENOENT: a dangling symlink (a state disk that is not
 * mounted, a moved target) is not "no state". */
static int missing(const char *path, char *err, size_t errlen)
{
    char target[1024];
    struct stat st;
    ssize_t n;

    if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode)) {
        snprintf(err, errlen, "%s: no saved state", path);
        return -ENOENT;
    }
    n = readlink(path, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    snprintf(err, errlen, "%s is a symbolic link to %s, which does not "
             "exist (is the state disk mounted?); refusing to start from the "
             "-c file, which would replace the acknowledged state it points "
             "to (fix the link, or remove it for a first start)", path,
             n > 0 ? target : "?");
    return -ENOLINK;
}

int vf_state_load_rev(const char *dir, struct vf_model *m, uint64_t *revision,
                      char *err, size_t errlen)
{
    char path[4096], msg[1024], none[1];
    char *buf = NULL;
    size_t n = 0, want = 0, hlen;
    uint32_t crc = 0, got_crc;
    uint64_t rev = 0;
    int rc;

    if (!err || !errlen)
        err = none, errlen = sizeof(none);
    err[0] = '\0';
    memset(m, 0, sizeof(*m));
    if ((rc = path_in(path, sizeof(path), dir, VF_STATE_FILE)) != 0) {
        snprintf(err, errlen, "%s: state directory path too long", dir);
        return rc;
    }
    rc = read_file(path, VF_STATE_MAX_BODY + HEADER_MAX, &buf, &n);
    if (rc == -ENOENT)
        return missing(path, err, errlen);
    if (rc == -EFBIG) {
        snprintf(err, errlen, "%s: larger than the %u bytes a state file may "
                 "have (file left untouched)", path,
                 VF_STATE_MAX_BODY + HEADER_MAX);
        return rc;
    }
    if (rc) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    hlen = parse_header(buf, n, &want, &crc, &rev);
    if (!hlen) {
        rc = -EBADMSG;
        snprintf(err, errlen, "%s: header check failed: the first line is "
                 "not '" VF_STATE_MAGIC "len=N crc32c=xxxxxxxx[ rev=R]' "
                 "(truncated "
                 "or corrupt; file left untouched)", path);
        goto out;
    }
    if (n - hlen != want) {
        rc = -EBADMSG;
        snprintf(err, errlen, "%s: length check failed: the header says %zu "
                 "bytes follow it, the file has %zu (%s; file left "
                 "untouched)", path, want, n - hlen,
                 n - hlen < want ? "truncated" : "corrupt");
        goto out;
    }
    got_crc = vf_state_crc32c(buf + hlen, want);
    if (got_crc != crc) {
        rc = -EBADMSG;
        snprintf(err, errlen, "%s: CRC check failed: the header says crc32c "
                 "%08x, the contents have %08x (corrupt; file left "
                 "untouched)", path, crc, got_crc);
        goto out;
    }
    /* The header is a YAML comment: loading the whole file keeps the
     * loader's line numbers those of the file. */
    rc = vf_config_load_string(buf, n, m, msg, sizeof(msg));
    if (rc) {
        bool where = strncmp(msg, "<string>", 8) == 0;
        snprintf(err, errlen, "%s%s%s (the file passes its header, length "
                 "and CRC checks, so it was written so: not loaded)", path,
                 where ? "" : ": ", where ? msg + 8 : msg);
    }
    if (rc == 0 && revision)
        *revision = rev;
out:
    free(buf);
    return rc;
}
