/*
 * image_internal.h - internal to src/image: byte helpers and the SHA-256
 * wrapper shared by the parser and the header patcher.  Pure; thread-safe.
 */
#ifndef ESPFAB_IMAGE_INTERNAL_H
#define ESPFAB_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define IMG_HDR_LEN 8u
#define IMG_EXT_LEN 16u
#define IMG_SEG_HDR_LEN 8u
#define IMG_MAX_SEGMENTS 16
#define IMG_MAX_SEG_LEN (16u << 20)
#define IMG_SHA256_LEN 32u
#define IMG_CHECKSUM_SEED 0xEFu

static inline uint16_t img_rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t img_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* SHA-256 of buf[0, len) through OpenSSL EVP; 0 or -1 if libcrypto fails. */
int espfab__image_sha256(const uint8_t *buf, size_t len, uint8_t out[32]);

#endif
