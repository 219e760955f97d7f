/* vf_text.h - is a desired-state file UTF-8 text?
 *
 * What: the one check that `vfabd -c`/`--check` (through the loader's
 * guard, vf_yaml_guard.h) and `vfabctl apply` (before sending the file)
 * both run, so a file is refused by both or by neither, in the same words:
 * a UTF-16 or UTF-32 byte order mark, a NUL byte (binary data, or UTF-16
 * without a mark) or a byte sequence that is not UTF-8 (overlong forms,
 * surrogates and code points past U+10FFFF included) is refused, naming
 * the file, line and column, and saying what to do. A UTF-8 byte order
 * mark is fine.
 *
 * Thread-safety: no shared state.
 */
#ifndef VF_TEXT_H
#define VF_TEXT_H

#include <stddef.h>

/* 0, or -EINVAL with err as "NAME:LINE:COL: problem (what to do)". */
int vf_text_check(const char *name, const char *p, size_t n, char *err,
                  size_t errlen);

#endif
