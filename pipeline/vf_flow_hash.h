/* vf_flow_hash.h - constants shared by the two flow-key hash versions.
 *
 * The hash is three CRC32C chains over the key's 8-byte words (word i goes
 * to chain i % 3, the last two words to chains 0 and 1), seeded with seed,
 * seed ^ SEED1 and seed ^ SEED2, folded as CRC32C(chain0, le64(chain1 << 32
 * | chain2)). flow_hash.c has the scalar definition, flow_hash_x86.h the
 * SSE4.2 one; tests check they agree.
 *
 * Thread-safety: constants only.
 */
#ifndef VF_FLOW_HASH_H
#define VF_FLOW_HASH_H

#include "pipeline/vf_parse.h"

#define VF_FLOW_HASH_WORDS (sizeof(struct vf_flow_key) / 8)
#define VF_FLOW_HASH_SEED1 0x9e3779b9u
#define VF_FLOW_HASH_SEED2 0x7f4a7c15u

#endif
