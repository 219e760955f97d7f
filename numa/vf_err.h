/* vf_err.h - the one printf into a caller's error buffer.
 *
 * What: every open, check or compile that can refuse takes (char *err,
 * size_t errlen) and writes one message naming the object and the field
 * (STYLE rule 6). vf_errf() writes it, or nothing when err is NULL or
 * errlen 0, and returns -EINVAL, the code of a refused argument, so a
 * check is one line:
 *     return vf_errf(err, errlen, "port '%s': ring_depth %u ...", ...);
 * Callers that fail for another reason ignore the value and return theirs.
 *
 * Thread-safety: writes only err.
 */
#ifndef VF_ERR_H
#define VF_ERR_H

#include <stddef.h>

__attribute__((format(printf, 3, 4)))
int vf_errf(char *err, size_t errlen, const char *fmt, ...);

#endif
