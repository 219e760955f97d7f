/* flow_hash.c - vf_flow_key_hash(): CRC32C of the 104-byte flow key.
 *
 * The scalar version below is the definition: three CRC32C chains
 * (reflected polynomial 0x82f63b78, no inversions) over the key's 8-byte
 * words, folded by one more CRC (vf_flow_hash.h). The SSE4.2 version in
 * flow_hash_x86.h computes the same value eight bytes at a time; this file
 * is the one place that picks between them, at compile time, so the hot
 * path has no dispatch.
 */
#include "pipeline/vf_flow_hash.h"
#include "pipeline/vf_parse.h"

#if defined(__x86_64__) && defined(__SSE4_2__)
#include "pipeline/flow_hash_x86.h"
#define VF_FLOW_HASH_IMPL vf_flow_key_hash_sse42
#else
#define VF_FLOW_HASH_IMPL vf_flow_key_hash_scalar
#endif

#define CRC32C_POLY 0x82f63b78u

/* CRC32C of n bytes, bit at a time, from state crc (no inversions). */
static uint32_t crc32c_bytes(uint32_t crc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (CRC32C_POLY & (0u - (crc & 1)));
    }
    return crc;
}

/* Bit at a time, slow but obviously right; only non-x86 builds and the
 * tests use it. The layout of the chains is in vf_flow_hash.h. */
uint32_t vf_flow_key_hash_scalar(const struct vf_flow_key *key, uint32_t seed)
{
    const uint8_t *p = (const uint8_t *)key;
    uint32_t c[3] = {seed, seed ^ VF_FLOW_HASH_SEED1, seed ^ VF_FLOW_HASH_SEED2};
    size_t n = VF_FLOW_HASH_WORDS;

    for (size_t i = 0; i < n; i++)
        c[i < n - 2 ? i % 3 : i - (n - 2)] =
            crc32c_bytes(c[i < n - 2 ? i % 3 : i - (n - 2)], p + 8 * i, 8);
    uint8_t fold[8];
    for (int i = 0; i < 4; i++) {
        fold[i] = (uint8_t)(c[2] >> (8 * i));       /* low half: chain 2 */
        fold[4 + i] = (uint8_t)(c[1] >> (8 * i));   /* high half: chain 1 */
    }
    return crc32c_bytes(c[0], fold, 8);
}

uint32_t vf_flow_key_hash(const struct vf_flow_key *key, uint32_t seed)
{
    return VF_FLOW_HASH_IMPL(key, seed);
}
