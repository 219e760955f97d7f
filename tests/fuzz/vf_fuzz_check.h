/* vf_fuzz_check.h - how a fuzz target states an invariant.
 *
 * What: FZ_CHECK(cond, fmt, ...) prints which invariant failed and why,
 * then aborts, so libFuzzer keeps the input (crash-<sha1>) like any
 * sanitizer report. Thread-safety: none needed (single-threaded targets).
 */
#ifndef VF_FUZZ_CHECK_H
#define VF_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__,       \
                    __LINE__, #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

#endif
