/* wire.c - the long Internet checksum (vf_wire.h): the one place that
 * picks the CPU's loop. x86-64 (SSE2 is in its baseline) adds 32-byte
 * blocks (wire_x86.h); any other CPU runs the short path to the end. */
#include <string.h>

#include "numa/vf_wire.h"

#if defined(__x86_64__) && defined(__SSE2__)
#include "numa/wire_x86.h"
#endif

uint64_t vf_csum_add_long(uint64_t sum, const void *buf, size_t len)
{
#if defined(__x86_64__) && defined(__SSE2__)
    return vf_csum_add_sse2(sum, buf, len);
#else
    return vf_csum_add_short(sum, buf, len);
#endif
}

uint64_t vf_csum_move(uint64_t sum, void *dst, const void *src, size_t len)
{
#if defined(__x86_64__) && defined(__SSE2__)
    return vf_csum_move_sse2(sum, dst, src, len);
#else
    memmove(dst, src, len);
    return vf_csum_add_short(sum, dst, len);
#endif
}
