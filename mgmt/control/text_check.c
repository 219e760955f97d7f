/* text_check.c - UTF-8 text or not, in one pass (vf_text.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mgmt/control/vf_text.h"

/* Length of the UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
    uint32_t cp;
    size_t len;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

int vf_text_check(const char *name, const char *text, size_t n, char *err,
                  size_t errlen)
{
    const uint8_t *p = (const uint8_t *)text;
    if ((n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) ||
                    (p[0] == 0xfe && p[1] == 0xff))) ||
        (n >= 4 && !memcmp(p, "\0\0\xfe\xff", 4))) {
        snprintf(err, errlen, "%s:1:1: UTF-%s text (it starts with a byte "
                 "order mark); the desired state must be UTF-8: convert it, "
                 "e.g. iconv -f UTF-%s -t UTF-8 %s", name,
                 n >= 4 && (!memcmp(p, "\xff\xfe\0\0", 4) ||
                            !memcmp(p, "\0\0\xfe\xff", 4)) ? "32" : "16",
                 n >= 4 && (!memcmp(p, "\xff\xfe\0\0", 4) ||
                            !memcmp(p, "\0\0\xfe\xff", 4)) ? "32" : "16", name);
        return -EINVAL;
    }
    unsigned long line = 1, col = 1;
    for (size_t i = 0; i < n;) {
        if (p[i] == 0) {
            snprintf(err, errlen, "%s:%lu:%lu: a NUL byte; the desired state "
                     "must be UTF-8 text (is this a binary or UTF-16 file?)",
                     name, line, col);
            return -EINVAL;
        }
        size_t len = utf8_len(p + i, n - i);
        if (!len) {
            snprintf(err, errlen, "%s:%lu:%lu: byte 0x%02x is not UTF-8; the "
                     "desired state must be UTF-8 text (convert it, e.g. "
                     "iconv -f LATIN1 -t UTF-8 %s)", name, line, col, p[i], name);
            return -EINVAL;
        }
        if (p[i] == '\n') {
            line++;
            col = 0;
        }
        col++;
        i += len;
    }
    return 0;
}
