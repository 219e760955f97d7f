/* wire_x86.h - the SSE2 Internet checksum loop (vf_wire.h's fast sum).
 *
 * What: vf_csum_add_sse2() adds 32-byte blocks as eight 32-bit lanes,
 * each 32-bit word zero-extended into a 64-bit lane (punpck with zero,
 * paddq), in four independent accumulators, then sums the lanes and the
 * tail with vf_csum_add_short(). A lane receives one 32-bit word per block,
 * so it cannot overflow before 2^32 blocks (128 GB). Like every
 * native-order sum, the result is byte swapped once at the end (RFC 1071
 * section 2(B)). wire.c chooses it when the compiler targets x86-64 (SSE2
 * is part of the baseline); test_wire checks it against the scalar
 * reference.
 *
 * Why: the checksum completion of a guest's or a tap's partial checksum
 * reads every byte of the frame. On the 2-vCPU dev VM, per 1500 bytes
 * (perf/bench_wire.c): this loop ~110 cycles, the former 4-byte loop of
 * fabric/ ~260, the former 16-byte loop of tunnel/ ~170, one 16-bit word
 * at a time ~850.
 *
 * Thread-safety: pure function.
 */
#ifndef VF_WIRE_X86_H
#define VF_WIRE_X86_H

#include <emmintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "numa/vf_wire.h"

static inline uint64_t vf_csum_add_sse2(uint64_t sum, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    const __m128i z = _mm_setzero_si128();
    __m128i a0 = z, a1 = z, a2 = z, a3 = z;

    while (len >= 32) {
        __m128i v = _mm_loadu_si128((const __m128i *)b);
        __m128i u = _mm_loadu_si128((const __m128i *)(b + 16));
        a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(v, z));
        a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(v, z));
        a2 = _mm_add_epi64(a2, _mm_unpacklo_epi32(u, z));
        a3 = _mm_add_epi64(a3, _mm_unpackhi_epi32(u, z));
        b += 32;
        len -= 32;
    }
    __m128i t = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t lane[2];
    _mm_storeu_si128((__m128i *)lane, t);
    /* Each lane is a native-order sum below 2^64; folded, the two join
     * the tail's sum as one swapped 16-bit value. */
    uint64_t a = (uint64_t)vf_csum_fold(lane[0]) + vf_csum_fold(lane[1]);
    return vf_csum_add_short(sum + __builtin_bswap16(vf_csum_fold(a)), b, len);
}

/* vf_csum_move(): the same sums over 32-byte blocks, each block stored to
 * dst right after it is loaded, from the last block down, so a dst above
 * an overlapping src never overwrites a byte not yet read. The bytes past
 * the last whole block are moved first (memmove) and summed at dst; the
 * blocks' length is a multiple of 32, so the two sums add (the chaining
 * rule of vf_wire.h). */
static inline uint64_t vf_csum_move_sse2(uint64_t sum, void *dst, const void *src,
                                         size_t len)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    size_t body = len & ~(size_t)31;
    const __m128i z = _mm_setzero_si128();
    __m128i a0 = z, a1 = z, a2 = z, a3 = z;

    memmove(d + body, s + body, len - body);
    sum = vf_csum_add_short(sum, d + body, len - body);
    for (size_t off = body; off > 0;) {
        off -= 32;
        __m128i v = _mm_loadu_si128((const __m128i *)(s + off));
        __m128i u = _mm_loadu_si128((const __m128i *)(s + off + 16));
        _mm_storeu_si128((__m128i *)(d + off), v);
        _mm_storeu_si128((__m128i *)(d + off + 16), u);
        a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(v, z));
        a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(v, z));
        a2 = _mm_add_epi64(a2, _mm_unpacklo_epi32(u, z));
        a3 = _mm_add_epi64(a3, _mm_unpackhi_epi32(u, z));
    }
    __m128i t = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t lane[2];
    _mm_storeu_si128((__m128i *)lane, t);
    uint64_t a = (uint64_t)vf_csum_fold(lane[0]) + vf_csum_fold(lane[1]);
    return sum + __builtin_bswap16(vf_csum_fold(a));
}

#endif
