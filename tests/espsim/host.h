/*
 * host.h - the host side of the espsim tests: little-endian words and SLIP
 * framing, written here (the tests talk to espsim as an independent client,
 * so neither espfab's src/ nor espsim's code is used).  Header-only, pure.
 */
#ifndef ESPSIM_TEST_HOST_H
#define ESPSIM_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* SLIP-encodes p[0..n) into out (room for 2n + 2 bytes); returns its length. */
static inline size_t slip(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t k = 0;
    out[k++] = 0xC0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0xC0) {
            out[k++] = 0xDB;
            out[k++] = 0xDC;
        } else if (p[i] == 0xDB) {
            out[k++] = 0xDB;
            out[k++] = 0xDD;
        } else {
            out[k++] = p[i];
        }
    }
    out[k++] = 0xC0;
    return k;
}

#endif
