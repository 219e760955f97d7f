/* vf_fuzz_seeds.h - the parts of the seed writer (fuzz_seeds) that live in
 * their own files: one file per target whose input is a little program
 * (seeds_vhost.c, seeds_ct.c), all writing through fz_put.
 *
 * Thread-safety: single-threaded tool.
 */
#ifndef VF_FUZZ_SEEDS_H
#define VF_FUZZ_SEEDS_H

#include <stddef.h>
#include <stdint.h>

/* Writes DIR/sub/name (DIR from the command line); exits on failure. */
void fz_put(const char *sub, const char *name, const uint8_t *b, size_t n);

/* An input being built: bytes appended little-endian. */
struct fz_in {
    size_t n;
    uint8_t b[16384];
};

static inline void fz_le(struct fz_in *in, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes && in->n < sizeof(in->b); i++)
        in->b[in->n++] = (uint8_t)(v >> (8 * i));
}

static inline void fz_bytes(struct fz_in *in, const void *p, size_t n)
{
    for (size_t i = 0; i < n && in->n < sizeof(in->b); i++)
        in->b[in->n++] = ((const uint8_t *)p)[i];
}

void fz_seeds_vhost(void);   /* DIR/vhost */
void fz_seeds_ct(void);      /* DIR/ct */

#endif
