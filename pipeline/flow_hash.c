/* flow_hash.c - vf_flow_key_hash(): CRC32C of the 88-byte flow key.
 *
 * The scalar version below is the definition: CRC32C (reflected polynomial
 * 0x82f63b78) over the key's bytes in memory order, starting from seed, with
 * no final inversion. The SSE4.2 version in flow_hash_x86.h computes the same
 * value eight bytes at a time; this file is the one place that picks between
 * them, at compile time, so the hot path has no dispatch.
 */
#include "pipeline/vf_parse.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include "pipeline/flow_hash_x86.h"
#define VF_FLOW_HASH_IMPL vf_flow_key_hash_sse42
#else
#define VF_FLOW_HASH_IMPL vf_flow_key_hash_scalar
#endif

#define CRC32C_POLY 0x82f63b78u

/* Bit at a time: 704 steps per key, slow but obviously right; only non-x86
 * builds and the tests use it. */
uint32_t vf_flow_key_hash_scalar(const struct vf_flow_key *key, uint32_t seed)
{
    const uint8_t *p = (const uint8_t *)key;
    uint32_t crc = seed;
    size_t i;
    int b;

    for (i = 0; i < sizeof(*key); i++) {
        crc ^= p[i];
        for (b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (CRC32C_POLY & (0u - (crc & 1)));
    }
    return crc;
}

uint32_t vf_flow_key_hash(const struct vf_flow_key *key, uint32_t seed)
{
    return VF_FLOW_HASH_IMPL(key, seed);
}
