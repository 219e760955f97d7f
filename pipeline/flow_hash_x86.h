/* flow_hash_x86.h - the SSE4.2 CRC32C flow-key hash.
 *
 * What: vf_flow_key_hash_sse42() runs the key's thirteen 64-bit words through
 * the crc32 instruction (CRC32C over the words' little-endian bytes, no
 * pre/post inversion) in three interleaved chains, then folds the chains
 * with one more crc32; the exact definition is the scalar version in
 * flow_hash.c. flow_hash.c picks it when
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
#include "pipeline/vf_flow_hash.h"

static inline uint32_t vf_flow_key_hash_sse42(const struct vf_flow_key *key, uint32_t seed)
{
    const uint8_t *p = (const uint8_t *)key;
    uint64_t w[VF_FLOW_HASH_WORDS];

    /* memcpy: the key is only 4-byte aligned by its type. */
    memcpy(w, p, sizeof(w));
    /* Three independent chains (see flow_hash.c): the crc32 instruction
     * has 3 cycles of latency and a throughput of one per cycle, so three
     * chains run in the time of one. */
    uint64_t c0 = seed, c1 = seed ^ VF_FLOW_HASH_SEED1, c2 = seed ^ VF_FLOW_HASH_SEED2;
    enum { BODY = VF_FLOW_HASH_WORDS - 2 };   /* words before the last two */
    unsigned i = 0;
    for (; i + 3 <= BODY; i += 3) {
        c0 = _mm_crc32_u64(c0, w[i]);
        c1 = _mm_crc32_u64(c1, w[i + 1]);
        c2 = _mm_crc32_u64(c2, w[i + 2]);
    }
    /* Word i of the body goes to chain i % 3 (constants: no branch left). */
    if (BODY % 3 >= 1)
        c0 = _mm_crc32_u64(c0, w[i]);
    if (BODY % 3 == 2)
        c1 = _mm_crc32_u64(c1, w[i + 1]);
    c0 = _mm_crc32_u64(c0, w[VF_FLOW_HASH_WORDS - 2]);
    c1 = _mm_crc32_u64(c1, w[VF_FLOW_HASH_WORDS - 1]);
    return (uint32_t)_mm_crc32_u64(c0, (c1 << 32) | (uint32_t)c2);
}

#endif
