/* flow_hash_x86.h - the SSE4.2 CRC32C flow-key hash.
 *
 * What: vf_flow_key_hash_sse42() runs the key's eleven 64-bit words through
 * the crc32 instruction, which computes CRC32C (Castagnoli) over the words'
 * little-endian bytes with no pre/post inversion. flow_hash.c picks it when
 * the compiler targets SSE4.2 (the build uses -march=x86-64-v2) and checks it
 * against the scalar version in flow_hash.c.
 *
 * Why CRC32C: one instruction per 8 bytes (3 cycles latency, so ~35 cycles
 * per key), and CRC spreads a change in any key bit over all 32 output bits,
 * which is what both the flow-cache bucket index and the tunnel's ECMP
 * entropy need. It is not keyed against an adversary; seed only separates
 * users of the same key.
 *
 * Thread-safety: pure function.
 */
#ifndef VF_FLOW_HASH_X86_H
#define VF_FLOW_HASH_X86_H

#include <nmmintrin.h>
#include <stdint.h>
#include <string.h>

#include "pipeline/vf_parse.h"

static inline uint32_t vf_flow_key_hash_sse42(const struct vf_flow_key *key, uint32_t seed)
{
    const uint8_t *p = (const uint8_t *)key;
    uint64_t crc = seed;
    unsigned i;

    /* memcpy: the key is only 4-byte aligned by its type. */
    for (i = 0; i < sizeof(*key) / 8; i++) {
        uint64_t w;

        memcpy(&w, p + 8 * i, 8);
        crc = _mm_crc32_u64(crc, w);
    }
    return (uint32_t)crc;
}

#endif
