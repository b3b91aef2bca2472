/*
 * eager/philox.h - the Philox-4x32-10 block function (Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11), shared by the
 * random tensors and the data iterator's shuffles.
 */
#ifndef EMBER_EAGER_PHILOX_H
#define EMBER_EAGER_PHILOX_H

#include <stdint.h>

/* Encrypts the 128-bit counter ctr under the 64-bit key into out. */
static inline void em__philox4x32_10(const uint32_t ctr[4],
                                     const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* Block `block` of the stream (seed, stream): counter words 0-1 hold the
 * block index, words 2-3 the stream, the key is the seed. */
static inline void em__philox_block(uint64_t seed, uint64_t stream,
                                    uint64_t block, uint32_t out[4])
{
    const uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32),
                             (uint32_t)stream, (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    em__philox4x32_10(ctr, key, out);
}

#endif
