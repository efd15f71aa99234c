/*
 * test_image.c - src/image: parsing, chip decision, revision check, flash
 * parameters and header patching, region checks, file loading; and
 * agreement with the independent espfab-mkimage tool for every chip/kind.
 *
 * The images in the first part are written byte by byte here (a small
 * builder below), not with mkimage, so that the parser is checked against
 * the format as this test states it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "check.h"
#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/setting.h"

/* ---- a byte-level image builder ----------------------------------------- */

typedef struct img {
    uint8_t b[1 << 16];
    size_t n;
    uint8_t ck;
    size_t ext_at;  /* 0 if no extended header */
} img_t;

static void p8(img_t *m, uint8_t v) { m->b[m->n++] = v; }
static void p16(img_t *m, uint16_t v) { p8(m, (uint8_t)v); p8(m, (uint8_t)(v >> 8)); }
static void p32(img_t *m, uint32_t v) { p16(m, (uint16_t)v); p16(m, (uint16_t)(v >> 16)); }
static uint32_t g32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static void hdr(img_t *m, uint8_t magic, uint8_t nseg, uint8_t mode, uint8_t sf, uint32_t entry)
{
    p8(m, magic); p8(m, nseg); p8(m, mode); p8(m, sf); p32(m, entry);
    m->ck = 0xEF;
}

static void ext(img_t *m, uint8_t wp, uint16_t chip_id, uint8_t min_rev, uint16_t min_full,
                uint16_t max_full, uint8_t hash)
{
    m->ext_at = m->n;
    p8(m, wp); p8(m, 0); p8(m, 0); p8(m, 0);
    p16(m, chip_id); p8(m, min_rev); p16(m, min_full); p16(m, max_full);
    p32(m, 0); p8(m, hash);
}

/* A segment of len bytes of a simple pattern. */
static void seg(img_t *m, uint32_t addr, uint32_t len, uint8_t seed)
{
    p32(m, addr); p32(m, len);
    for (uint32_t i = 0; i < len; i++) {
        uint8_t v = (uint8_t)(seed + i * 7 + (i >> 8));
        m->ck ^= v;
        p8(m, v);
    }
}

static void foot(img_t *m)
{
    while (m->n % 16 != 15)
        p8(m, 0);
    p8(m, m->ck);
}

static void sha(img_t *m)
{
    unsigned int l = 0;
    EVP_Digest(m->b, m->n, m->b + m->n, &l, EVP_sha256(), NULL);
    m->n += 32;
}

/* ESP32-family image: DROM at the MMU-congruent address, then DRAM. */
static void esp32_app(img_t *m, uint16_t id, uint32_t drom, uint32_t dram, int hash)
{
    memset(m, 0, sizeof(*m));
    hdr(m, 0xE9, 2, 2, 0x20, dram);
    ext(m, 0xEE, id, 0, 0, 0xFFFF, (uint8_t)hash);
    seg(m, drom + 0x20, 64, 1);      /* data at file offset 0x20 */
    seg(m, dram, 100, 2);
    foot(m);
    if (hash)
        sha(m);
}

static void esp8266_v1(img_t *m)
{
    memset(m, 0, sizeof(*m));
    hdr(m, 0xE9, 3, 0, 0x20, 0x40100004);
    seg(m, 0x40100000, 200, 3);
    seg(m, 0x3FFE8000, 40, 4);
    seg(m, 0x3FFE8400, 12, 5);
    foot(m);
}

static uint32_t crc8266(const uint8_t *p, size_t n)
{
    uint32_t c = (uint32_t)crc32(0, p, (uInt)n);
    return (c & 0x80000000u) ? c ^ 0xFFFFFFFFu : c + 1;
}

static void esp8266_v2(img_t *m)
{
    memset(m, 0, sizeof(*m));
    hdr(m, 0xEA, 4, 0, 0x20, 0x40100004);
    p32(m, 0);       /* IROM stored with load address 0 */
    p32(m, 48);      /* padded to 16 */
    for (int i = 0; i < 48; i++)
        p8(m, (uint8_t)(0x90 + i));
    hdr(m, 0xE9, 2, 0, 0x20, 0x40100004);
    seg(m, 0x40100000, 60, 6);
    seg(m, 0x3FFE8000, 20, 7);
    foot(m);
    uint32_t c = crc8266(m->b, m->n);
    p32(m, c);
}

static espfab_fault_t F;

/* Flash parameters from their user spellings (NULL = keep), through
 * setting.h's parsers as every caller now gets them; a few live at once. */
static const espfab_flash_params_t *P(const char *mode, const char *freq, const char *size)
{
    static espfab_flash_params_t ring[4];
    static unsigned k;
    espfab_flash_params_t *p = &ring[k++ % 4];
    memset(p, 0, sizeof(*p));
    espfab_fault_t f;
    if (mode)
        CHECK_EQ(espfab_setting_parse_flash_mode(mode, NULL, &p->mode, &f), 0);
    if (freq)
        CHECK_EQ(espfab_setting_parse_flash_freq(freq, NULL, &p->freq, &f), 0);
    if (size)
        CHECK_EQ(espfab_setting_parse_flash_size(size, NULL, p, &f), 0);
    return p;
}

static int parse(const img_t *m, espfab_image_info_t *in)
{
    espfab_fault_clear(&F);
    return espfab_image_parse(m->b, m->n, "fw.bin", in, &F);
}

static const espfab_chip_t *chip(espfab_chip_id_t id) { return espfab_chip_get(id); }

/* ---- parsing ----------------------------------------------------------- */

static void test_raw(void)
{
    espfab_image_info_t in;
    uint8_t zeros[64] = { 0 };
    CHECK_EQ(espfab_image_parse(zeros, sizeof(zeros), "data.bin", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
    CHECK_EQ(in.chip, ESPFAB_CHIP_UNKNOWN);
    CHECK_EQ(in.image_chip_id, -1);
    uint8_t e9[4] = { 0xE9, 1, 2, 0x20 };
    CHECK_EQ(espfab_image_parse(e9, sizeof(e9), "short.bin", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);

    /* A FAT boot sector may start with 0xE9 (a jump): not an image. */
    uint8_t fat[512];
    memset(fat, 0, sizeof(fat));
    memcpy(fat, "\xE9\x58\x90MSDOS5.0\x00\x02\x08", 14);
    fat[510] = 0x55;
    fat[511] = 0xAA;
    CHECK_EQ(espfab_image_parse(fat, sizeof(fat), "fat.img", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);

    /* 0xE9 followed by noise. */
    uint8_t noise[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(noise); i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (uint8_t)(x >> 16);
    }
    noise[0] = 0xE9;
    CHECK_EQ(espfab_image_parse(noise, sizeof(noise), "noise.bin", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
    noise[0] = 0xEA;
    CHECK_EQ(espfab_image_parse(noise, sizeof(noise), "noise.bin", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);

    /* A partition table (0xAA50 entries). */
    uint8_t pt[64];
    memset(pt, 0xFF, sizeof(pt));
    pt[0] = 0xAA;
    pt[1] = 0x50;
    CHECK_EQ(espfab_image_parse(pt, sizeof(pt), "pt.bin", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
    CHECK_EQ(espfab_image_parse(NULL, 0, NULL, &in, NULL), 0);
}

static void test_esp32_app(void)
{
    static img_t m;
    espfab_image_info_t in;
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 0);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP32);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP32);
    CHECK_EQ(in.image_chip_id, 0);
    CHECK_EQ(in.segments, 2);
    CHECK_EQ(in.flash_mode, 2);
    CHECK_EQ(in.flash_size_freq, 0x20);
    CHECK_EQ(in.entry, 0x3FFB0000);
    CHECK_EQ(in.min_rev_full, 0);
    CHECK_EQ(in.max_rev_full, 0xFFFF);
    CHECK(!in.hash_appended);
    CHECK(in.checksum_ok);
    CHECK(in.sha256_ok);
    CHECK_EQ(in.data_length, m.n);
    CHECK_EQ(in.image_length, m.n);
    CHECK_EQ(in.data_length % 16, 0);
    CHECK_STR(in.reason, "chip id 0");
}

static void test_every_chip_id(void)
{
    static const struct { espfab_chip_id_t id; uint16_t image_id; uint32_t drom, dram; } t[] = {
        { ESPFAB_CHIP_ESP32, 0, 0x3F400000, 0x3FFB0000 },
        { ESPFAB_CHIP_ESP32S2, 2, 0x3F000000, 0x3FFBE000 },
        { ESPFAB_CHIP_ESP32S3, 9, 0x3C000000, 0x3FC90000 },
        { ESPFAB_CHIP_ESP32C2, 12, 0x3C000000, 0x3FCA0000 },
        { ESPFAB_CHIP_ESP32C3, 5, 0x3C000000, 0x3FC8A000 },
        { ESPFAB_CHIP_ESP32C6, 13, 0x42800000, 0x40810000 },
        { ESPFAB_CHIP_ESP32H2, 16, 0x42800000, 0x40810000 },
        { ESPFAB_CHIP_ESP32P4, 18, 0x40800000, 0x4FF10000 },
    };
    static img_t m;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        espfab_image_info_t in;
        esp32_app(&m, t[i].image_id, t[i].drom, t[i].dram, 1);
        CHECK_EQ(parse(&m, &in), 0);
        CHECK_EQ(in.format, ESPFAB_IMAGE_ESP32);
        CHECK_EQ(in.chip, t[i].id);
        CHECK_EQ(in.image_chip_id, t[i].image_id);
        CHECK(in.hash_appended);
        CHECK(in.sha256_ok);
        CHECK_EQ(in.data_length + 32, m.n);
        CHECK_EQ(espfab_image_check_chip(&in, "fw.bin", chip(t[i].id), -1, &F), 0);
    }
}

static void test_checksum_and_sha(void)
{
    static img_t m;
    espfab_image_info_t in;
    esp32_app(&m, 9, 0x3C000000, 0x3FC90000, 1);
    m.b[0x30] ^= 0x01;   /* inside segment 0's data */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK(!in.checksum_ok);
    CHECK_CONTAINS(F.detail, "fw.bin");
    CHECK_CONTAINS(F.detail, "checksum byte at offset 0x");
    CHECK_CONTAINS(F.detail, "ESP32-S3");

    esp32_app(&m, 9, 0x3C000000, 0x3FC90000, 1);
    m.b[m.n - 1] ^= 0x80; /* the digest */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_SHA256);
    CHECK(in.checksum_ok);
    CHECK(!in.sha256_ok);
    char want[96];
    snprintf(want, sizeof(want), "SHA-256 digest at offset 0x%zX", m.n - 32);
    CHECK_CONTAINS(F.detail, want);

    /* Header bytes are covered by the digest but not the checksum. */
    esp32_app(&m, 9, 0x3C000000, 0x3FC90000, 1);
    m.b[2] = 0;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_SHA256);
    esp32_app(&m, 9, 0x3C000000, 0x3FC90000, 0);
    m.b[2] = 0;
    CHECK_EQ(parse(&m, &in), 0);
}

static void test_esp8266_v1(void)
{
    static img_t m;
    espfab_image_info_t in;
    esp8266_v1(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP8266_V1);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP8266);
    CHECK_EQ(in.image_chip_id, -1);
    CHECK_EQ(in.segments, 3);
    CHECK_EQ(in.entry, 0x40100004);
    CHECK_EQ(in.data_length, m.n);
    CHECK_STR(in.reason, "no extended header; segment 0 loads at 0x40100000 = ESP8266 IRAM");
    m.b[20] ^= 0x55;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK_CONTAINS(F.detail, "ESP8266 V1 image for ESP8266");
}

static void test_esp8266_v2(void)
{
    static img_t m;
    espfab_image_info_t in;
    esp8266_v2(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP8266_V2);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP8266);
    CHECK_EQ(in.segments, 3);
    CHECK_EQ(in.image_length, m.n);
    CHECK_EQ(in.data_length, m.n - 4);
    CHECK_CONTAINS(in.reason, "0xEA V2 header");

    /* IROM bytes: not in the XOR checksum, but in the CRC32. */
    m.b[20] ^= 1;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK_CONTAINS(F.detail, "CRC32 at offset 0x");
    esp8266_v2(&m);
    m.b[m.n - 10] ^= 1; /* padding before the checksum: CRC only */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK_CONTAINS(F.detail, "CRC32");
    esp8266_v2(&m);
    m.b[16 + 48 + 8 + 8 + 4] ^= 1; /* RAM segment data: XOR checksum */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK_CONTAINS(F.detail, "checksum byte");
    /* Truncated inside the RAM segments: a damaged V2 image. */
    esp8266_v2(&m);
    m.n = 16 + 48 + 8 + 8 + 30;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "ESP8266 V2 image");
    CHECK_CONTAINS(F.detail, "runs past the end of the file");
}

static void test_esp8266_v3_layout(void)
{
    /* RTOS SDK 3.x: ESP32-style header, all-zero extended header except
     * hash_appended, ESP8266 load addresses. */
    static img_t m;
    espfab_image_info_t in;
    memset(&m, 0, sizeof(m));
    hdr(&m, 0xE9, 2, 2, 0x20, 0x40100004);
    ext(&m, 0, 0, 0, 0, 0, 1);
    seg(&m, 0x40100000, 128, 1);
    seg(&m, 0x3FFE8000, 64, 2);
    foot(&m);
    sha(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP8266);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP32);
    CHECK(in.hash_appended);
    CHECK_CONTAINS(in.reason, "ESP8266 IRAM");
    CHECK_EQ(espfab_image_check_chip(&in, "v3.bin", chip(ESPFAB_CHIP_ESP8266), -1, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "v3.bin", chip(ESPFAB_CHIP_ESP32), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
}

static void test_damaged_images(void)
{
    static img_t m;
    espfab_image_info_t in;
    /* Truncated ESP32 image (a partial download). */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 1);
    size_t full = m.n;
    m.n = 0x20 + 64 + 8 + 50;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "fw.bin: ESP32 image header (chip id 0) but segment 1 (100 bytes at "
                             "offset 0x68) runs past the end of the file (154 bytes)");
    m.n = full - 20;  /* cut inside the digest */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "before the end of the SHA-256 digest");
    m.n = full - 33;  /* checksum byte present, digest missing */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    m.n = full - 34;  /* the checksum byte is missing */
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "before the checksum byte");

    /* 17 segments. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 0);
    m.b[1] = 17;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "segment count is 17 (must be 1..16)");

    /* Segment 1 length not a multiple of 4. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 0);
    m.b[0x20 + 64 + 4] = 101;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "segment 1 at offset 0x60 has length 101");

    /* An ESP8266 V1 image cut short. */
    esp8266_v1(&m);
    m.n = 100;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "fw.bin: ESP8266 V1 image header (segment 0 at 0x40100000 = ESP8266 "
                             "IRAM) but segment 0 (200 bytes at offset 0x10) runs past the end");

    /* Unknown chip id and a non-ESP8266 first segment: raw, not an error. */
    esp32_app(&m, 0x1234, 0x3F400000, 0x3FFB0000, 0);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
    /* hash_appended 2 is not an ESP32 header either. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 0);
    m.b[23] = 2;
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
}

static void test_ram_only_header(void)
{
    /* Header counts the RAM segment only; checksum after it; then a padding
     * and a flash-mapped segment; the digest covers all of it. */
    static img_t m;
    espfab_image_info_t in;
    memset(&m, 0, sizeof(m));
    hdr(&m, 0xE9, 1, 2, 0x20, 0x40380000);
    ext(&m, 0xEE, 5, 0, 0, 0xFFFF, 1);
    seg(&m, 0x3FC8A000, 40, 1);
    foot(&m);
    size_t ck_end = m.n;
    seg(&m, 0, 0x100 - m.n - 16, 0);     /* padding segment */
    seg(&m, 0x42000100, 64, 2);          /* flash-mapped: data at 0x100 */
    sha(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(in.data_length, ck_end);
    CHECK_EQ(in.image_length, m.n);
    CHECK_EQ(in.segments, 3);
    CHECK(in.sha256_ok);
    bool patched = false;
    CHECK_EQ(espfab_image_patch(m.b, m.n, chip(ESPFAB_CHIP_ESP32C3),
                                P("qio", "80m", "8MB"), 0, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(m.b[3], 0x3F);
    CHECK_EQ(in.image_length, m.n);
    /* A wrong digest is still refused. */
    m.b[m.n - 1] ^= 1;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_SHA256);
}

static void test_merged(void)
{
    /* bootloader + 0xFF gap + "partition table" + app, as MicroPython ships. */
    static img_t m;
    espfab_image_info_t in;
    esp32_app(&m, 0, 0x3F400000, 0x3FFF0000, 1);
    size_t boot_len = m.n;
    memset(m.b + m.n, 0xFF, 0x7000 - m.n);
    m.n = 0x7000;
    m.b[m.n] = 0xAA;
    m.b[m.n + 1] = 0x50;
    m.n += 0x1000;
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP32);
    CHECK_EQ(in.image_length, boot_len);
    CHECK(in.sha256_ok);
}

/* ---- chip checks ------------------------------------------------------- */

static void test_wrong_chip(void)
{
    static img_t m;
    espfab_image_info_t in;
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 0);
    CHECK_EQ(parse(&m, &in), 0);
    espfab_fault_clear(&F);
    CHECK_EQ(espfab_image_check_chip_on(&in, "firmware.bin", "/dev/ttyUSB0",
                                        chip(ESPFAB_CHIP_ESP8266), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_STR(F.detail,
              "firmware.bin is an ESP32 image (chip id 0); the board on /dev/ttyUSB0 is an ESP8266");
    CHECK_EQ(F.code, ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_EQ(espfab_image_check_chip(&in, "firmware.bin", chip(ESPFAB_CHIP_ESP32S3), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_STR(F.detail, "firmware.bin is an ESP32 image (chip id 0); the board is an ESP32-S3");

    esp8266_v1(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip_on(&in, "boot_v1.6.bin", "/dev/ttyUSB3",
                                        chip(ESPFAB_CHIP_ESP32), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_STR(F.detail, "boot_v1.6.bin is an ESP8266 image (no extended header; segment 0 loads "
                        "at 0x40100000 = ESP8266 IRAM); the board on /dev/ttyUSB3 is an ESP32");
    CHECK_EQ(espfab_image_check_chip(&in, "boot_v1.6.bin", chip(ESPFAB_CHIP_ESP8266), 0, &F), 0);

    esp8266_v2(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "user1.bin", chip(ESPFAB_CHIP_ESP32C3), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_CONTAINS(F.detail, "user1.bin is an ESP8266 image (0xEA V2 header");

    esp32_app(&m, 9, 0x3C000000, 0x3FC90000, 1);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "s3.bin", chip(ESPFAB_CHIP_ESP32C3), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_STR(F.detail, "s3.bin is an ESP32-S3 image (chip id 9); the board is an ESP32-C3");
    esp32_app(&m, 5, 0x3C000000, 0x3FC8A000, 1);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "c3.bin", chip(ESPFAB_CHIP_ESP32S3), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_EQ(espfab_image_check_chip(&in, "c3.bin", chip(ESPFAB_CHIP_ESP32C3), -1, &F), 0);

    /* Raw data goes anywhere. */
    uint8_t raw[32] = { 1, 2, 3 };
    CHECK_EQ(espfab_image_parse(raw, sizeof(raw), "spiffs.bin", &in, &F), 0);
    for (int c = 0; c < ESPFAB_CHIP_COUNT; c++)
        CHECK_EQ(espfab_image_check_chip(&in, "spiffs.bin", chip((espfab_chip_id_t)c), 5, &F), 0);
}

static void test_unsupported_chip(void)
{
    /* An ESP32-C5 image (chip id 23): an image, for no board espfab serves. */
    static img_t m;
    espfab_image_info_t in;
    memset(&m, 0, sizeof(m));
    hdr(&m, 0xE9, 1, 0, 0, 0x40810F5C);
    ext(&m, 0xEE, 23, 0, 0, 0xFFFF, 1);
    seg(&m, 0x40810F5C, 24, 1);
    foot(&m);
    sha(&m);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP32);
    CHECK_EQ(in.chip, ESPFAB_CHIP_UNKNOWN);
    CHECK_EQ(in.image_chip_id, 23);
    for (int c = 0; c < ESPFAB_CHIP_COUNT; c++)
        CHECK_EQ(espfab_image_check_chip(&in, "c5.bin", chip((espfab_chip_id_t)c), -1, &F),
                 ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_EQ(espfab_image_check_chip(&in, "c5.bin", chip(ESPFAB_CHIP_ESP32C6), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    CHECK_STR(F.detail, "c5.bin is an ESP32-C5 image (chip id 23); the board is an ESP32-C6");
    m.b[40] ^= 1;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK_CONTAINS(F.detail, "ESP32-C5");
    /* Truncated: still recognised by its header. */
    m.n = 40;
    CHECK_EQ(parse(&m, &in), ESPFAB_E_IMAGE_BAD_HEADER);
    CHECK_CONTAINS(F.detail, "fw.bin: ESP32-C5 image header (chip id 23) but segment 0");
}

static void rev_image(img_t *m, uint16_t id, uint8_t min_rev, uint16_t lo, uint16_t hi)
{
    memset(m, 0, sizeof(*m));
    hdr(m, 0xE9, 1, 2, 0x20, 0x3FFB0000);
    ext(m, 0xEE, id, min_rev, lo, hi, 0);
    seg(m, id == 5 ? 0x3FC8A000 : 0x3FFB0000, 32, 9);
    foot(m);
}

static void test_revision(void)
{
    static img_t m;
    espfab_image_info_t in;
    const espfab_chip_t *esp32 = chip(ESPFAB_CHIP_ESP32);
    rev_image(&m, 0, 1, 101, 199);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(in.min_rev, 1);
    CHECK_EQ(in.min_rev_full, 101);
    CHECK_EQ(in.max_rev_full, 199);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 150, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 101, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 199, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, -1, &F), 0);
    CHECK_EQ(espfab_image_check_chip_on(&in, "app.bin", "/dev/ttyUSB1", esp32, 100, &F),
             ESPFAB_E_IMAGE_REVISION);
    CHECK_STR(F.detail, "app.bin requires ESP32 revision in range [v1.1 - v1.99]; the board on "
                        "/dev/ttyUSB1 is revision v1.0");
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 300, &F), ESPFAB_E_IMAGE_REVISION);
    CHECK_STR(F.detail, "app.bin requires ESP32 revision in range [v1.1 - v1.99]; the board is "
                        "revision v3.0");

    rev_image(&m, 0, 0, 300, 0xFFFF);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 301, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "app.bin", esp32, 200, &F), ESPFAB_E_IMAGE_REVISION);
    CHECK_CONTAINS(F.detail, "[v3.0 - max rev not set]");

    /* Old image: no *_rev_full fields (max 0): the legacy major min_rev. */
    rev_image(&m, 0, 3, 0, 0);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "old.bin", esp32, 300, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "old.bin", esp32, 199, &F), ESPFAB_E_IMAGE_REVISION);
    CHECK_CONTAINS(F.detail, "major revision >= 3");
    /* Legacy on the C3 is the minor revision. */
    rev_image(&m, 5, 3, 0, 0xFFFF);
    CHECK_EQ(parse(&m, &in), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "c3.bin", chip(ESPFAB_CHIP_ESP32C3), 4, &F), 0);
    CHECK_EQ(espfab_image_check_chip(&in, "c3.bin", chip(ESPFAB_CHIP_ESP32C3), 102, &F),
             ESPFAB_E_IMAGE_REVISION);
    CHECK_CONTAINS(F.detail, "minor revision >= 3");
}

/* ---- flash parameters and patching ------------------------------------- */

static void test_flash_params(void)
{
    const espfab_chip_t *e32 = chip(ESPFAB_CHIP_ESP32), *e8266 = chip(ESPFAB_CHIP_ESP8266);
    const espfab_chip_t *c2 = chip(ESPFAB_CHIP_ESP32C2), *h2 = chip(ESPFAB_CHIP_ESP32H2);
    const espfab_chip_t *c6 = chip(ESPFAB_CHIP_ESP32C6);
    espfab_flash_params_t p = *P("dio", "40m", "4MB");
    CHECK_EQ(espfab_flash_params_check(e32, &p, &F), 0);
    CHECK_EQ(espfab_flash_params_check(e32, P(NULL, NULL, NULL), &F), 0);
    CHECK_EQ(espfab_flash_params_check(e32, P("keep", "keep", "detect"), &F), 0);
    /* An unknown mode is refused where the text is read (setting.h), naming
     * the source and the allowed values; a mode outside the enum is still
     * refused by the check. */
    espfab_flash_mode_t mode = ESPFAB_FLASH_MODE_KEEP;
    const espfab_setting_src_t opt = {NULL, 0, "--flash-mode"};
    CHECK_EQ(espfab_setting_parse_flash_mode("fastread", &opt, &mode, &F), ESPFAB_E_USAGE);
    CHECK_STR(F.detail, "bad value 'fastread' for --flash-mode (allowed: keep, qio, qout, dio, dout)");
    CHECK_EQ(mode, ESPFAB_FLASH_MODE_KEEP);
    CHECK_EQ(espfab_flash_params_check(e32, &(espfab_flash_params_t){ ESPFAB_FLASH_MODE_COUNT,
             ESPFAB_FLASH_FREQ_KEEP, ESPFAB_FLASH_SIZE_KEEP, false }, &F), ESPFAB_E_FLASH_PARAM);
    CHECK_STR(F.detail, "flash mode '?' is not valid (use keep qio qout dio dout)");
    CHECK_EQ(espfab_flash_params_check(c2, P(NULL, "40m", NULL), &F),
             ESPFAB_E_FLASH_PARAM);
    CHECK_STR(F.detail, "flash frequency '40m' is not valid for the ESP32-C2 (use keep 60m 30m 20m 15m)");
    CHECK_EQ(espfab_flash_params_check(c2, P(NULL, "60m", NULL), &F), 0);
    CHECK_EQ(espfab_flash_params_check(h2, P(NULL, "48m", NULL), &F), 0);
    CHECK_EQ(espfab_flash_params_check(h2, P(NULL, "80m", NULL), &F),
             ESPFAB_E_FLASH_PARAM);
    CHECK_EQ(espfab_flash_params_check(c6, P(NULL, "26m", NULL), &F),
             ESPFAB_E_FLASH_PARAM);
    CHECK_EQ(espfab_flash_params_check(e8266, P(NULL, NULL, "512KB"), &F), 0);
    CHECK_EQ(espfab_flash_params_check(e32, P(NULL, NULL, "512KB"), &F),
             ESPFAB_E_FLASH_PARAM);
    CHECK_CONTAINS(F.detail, "flash size '512KB' is not valid for the ESP32 (use keep detect 1MB");
    CHECK_EQ(espfab_flash_params_check(e32, P(NULL, NULL, "128MB"), &F), 0);
    CHECK_EQ(espfab_flash_params_check(e8266, P(NULL, NULL, "32MB"), &F),
             ESPFAB_E_FLASH_PARAM);

    CHECK_EQ(espfab_flash_size_parse("4MB"), 4194304);
    CHECK_EQ(espfab_flash_size_parse("512KB"), 524288);
    CHECK_EQ(espfab_flash_size_parse("256kb"), 262144);
    CHECK_EQ(espfab_flash_size_parse("2MB-c1"), 2097152);
    CHECK_EQ(espfab_flash_size_parse("128MB"), 134217728);
    CHECK_EQ(espfab_flash_size_parse("4M"), 0);
    CHECK_EQ(espfab_flash_size_parse("detect"), 0);
    CHECK_EQ(espfab_flash_size_parse(""), 0);
    CHECK_EQ(espfab_flash_size_parse(NULL), 0);
    CHECK_EQ(espfab_flash_size_parse("4MBx"), 0);
}

static void test_patch(void)
{
    static img_t m;
    espfab_image_info_t in;
    bool patched = true;
    const espfab_chip_t *e32 = chip(ESPFAB_CHIP_ESP32);

    /* Hash appended, then more data (a merged binary): recomputed digest,
     * checksum untouched, the data after the digest kept. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 1);
    size_t img_len = m.n;
    uint8_t ck = m.b[img_len - 33];
    for (int i = 0; i < 256; i++)
        m.b[m.n++] = (uint8_t)(0xA0 ^ i);
    uint8_t tail[256];
    memcpy(tail, m.b + img_len, sizeof(tail));
    uint8_t old_digest[32];
    memcpy(old_digest, m.b + img_len - 32, 32);

    espfab_flash_params_t p = *P("qio", "80m", "16MB");
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, &p, 0, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(m.b[2], 0);
    CHECK_EQ(m.b[3], 0x4F);
    CHECK_EQ(m.b[img_len - 33], ck);
    CHECK(memcmp(old_digest, m.b + img_len - 32, 32) != 0);
    CHECK_MEM(m.b + img_len, tail, sizeof(tail));
    CHECK_EQ(parse(&m, &in), 0);
    CHECK(in.sha256_ok);
    CHECK(in.checksum_ok);
    /* Digest equals an independent SHA-256 of [0, data_length). */
    uint8_t md[32];
    unsigned int l = 0;
    EVP_Digest(m.b, img_len - 32, md, &l, EVP_sha256(), NULL);
    CHECK_MEM(md, m.b + img_len - 32, 32);

    /* "keep" parts keep their nibble; detect uses the detected size. */
    p = *P("keep", NULL, "detect");
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, &p, 2 * 1024 * 1024, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(m.b[2], 0);
    CHECK_EQ(m.b[3], 0x1F);
    CHECK_EQ(parse(&m, &in), 0);
    /* detect with nothing detected keeps the header. */
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, &p, 0, &patched, &F), 0);
    CHECK(!patched);
    CHECK_EQ(m.b[3], 0x1F);
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, &p, 256u << 20, &patched, &F),
             ESPFAB_E_FLASH_PARAM);
    CHECK_CONTAINS(F.detail, "detected flash size 268435456 bytes has no header code");

    /* All keep, or the same values: nothing done. */
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, P(NULL, NULL, NULL), 0, &patched, &F), 0);
    CHECK(!patched);
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, P("qio", NULL, NULL), 0,
                                &patched, &F), 0);
    CHECK(!patched);

    /* ESP32-C6 writes 80m as code 0. */
    esp32_app(&m, 13, 0x42800000, 0x40810000, 0);
    m.b[3] = 0x22;
    CHECK_EQ(espfab_image_patch(m.b, m.n, chip(ESPFAB_CHIP_ESP32C6),
                                P(NULL, "80m", NULL), 0, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(m.b[3], 0x20);

    /* ESP8266 size codes. */
    esp8266_v1(&m);
    CHECK_EQ(espfab_image_patch(m.b, m.n, chip(ESPFAB_CHIP_ESP8266),
                                P("dout", "26m", "4MB-c1"), 0, &patched,
                                &F), 0);
    CHECK(patched);
    CHECK_EQ(m.b[2], 3);
    CHECK_EQ(m.b[3], 0x61);
    CHECK_EQ(parse(&m, &in), 0);

    /* Only at the chip's bootloader offset (0x1000 on the ESP32). */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 1);
    CHECK_EQ(espfab_image_patch_at(m.b, m.n, 0x10000, e32,
                                   P("qio", NULL, NULL), 0, &patched, &F), 0);
    CHECK(!patched);
    CHECK_EQ(m.b[2], 2);
    CHECK_EQ(espfab_image_patch_at(m.b, m.n, 0x1000, e32,
                                   P("qio", NULL, NULL), 0, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(m.b[2], 0);
    CHECK_EQ(espfab_image_patch_at(m.b, m.n, 0x0, chip(ESPFAB_CHIP_ESP32S3),
                                   P("dio", NULL, NULL), 0, &patched, &F), 0);
    CHECK(patched); /* offset right for the S3; chip mismatch is check_chip's job */

    /* Raw data, V2 images: untouched. */
    uint8_t raw[64];
    memset(raw, 0x11, sizeof(raw));
    CHECK_EQ(espfab_image_patch(raw, sizeof(raw), e32, P("qio", NULL, NULL), 0,
                                &patched, &F), 0);
    CHECK(!patched);
    CHECK_EQ(raw[2], 0x11);
    esp8266_v2(&m);
    CHECK_EQ(espfab_image_patch(m.b, m.n, chip(ESPFAB_CHIP_ESP8266),
                                P("qio", NULL, NULL), 0, &patched, &F), 0);
    CHECK(!patched);

    /* A corrupt image is not patched. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 1);
    m.b[0x40] ^= 1;
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, P("qio", NULL, NULL), 0,
                                &patched, &F), ESPFAB_E_IMAGE_CHECKSUM);
    CHECK(!patched);
    CHECK_EQ(m.b[2], 2);
    /* Invalid parameters are refused before anything is touched. */
    esp32_app(&m, 0, 0x3F400000, 0x3FFB0000, 1);
    CHECK_EQ(espfab_image_patch(m.b, m.n, e32, P("qio", "60m", NULL), 0,
                                &patched, &F), ESPFAB_E_FLASH_PARAM);
    CHECK_EQ(m.b[2], 2);
}

/* ---- regions and files ------------------------------------------------- */

static void test_regions(void)
{
    espfab_region_t ok[] = {
        { 0x1000, "bootloader.bin", 0x6000 },
        { 0x8000, "partitions.bin", 0xC00 },
        { 0x10000, "app.bin", 0x100000 },
    };
    CHECK_EQ(espfab_regions_check(ok, 3, 4u << 20, &F), 0);
    CHECK_EQ(espfab_regions_check(ok, 3, 0, &F), 0);

    espfab_region_t ov[] = {
        { 0x10000, "app.bin", 0x100000 },
        { 0x1000, "bootloader.bin", 0x7800 },
        { 0x8000, "partitions.bin", 0xC00 },
    };
    CHECK_EQ(espfab_regions_check(ov, 3, 4u << 20, &F), ESPFAB_E_REGION_OVERLAP);
    CHECK_STR(F.detail, "bootloader.bin (0x1000-0x87FF) overlaps partitions.bin at 0x8000");

    espfab_region_t sect[] = {
        { 0x9000, "nvs.bin", 0x10 },
        { 0x8000, "partitions.bin", 0xC00 },
    };
    CHECK_EQ(espfab_regions_check(sect, 2, 0, &F), 0);
    sect[1].len = 0x1001;
    CHECK_EQ(espfab_regions_check(sect, 2, 0, &F), ESPFAB_E_REGION_OVERLAP);
    CHECK_STR(F.detail, "partitions.bin (0x8000-0x9000) overlaps nvs.bin at 0x9000");
    espfab_region_t share[] = {
        { 0x10000, "app.bin", 0x1A400 },
        { 0x2A000, "data.bin", 0x1000 },
    };
    CHECK_EQ(espfab_regions_check(share, 2, 0, &F), ESPFAB_E_REGION_OVERLAP);
    CHECK_STR(F.detail, "app.bin (0x10000-0x2A3FF) overlaps data.bin at 0x2A000");
    share[0].len = 0x1A000;
    CHECK_EQ(espfab_regions_check(share, 2, 0, &F), 0);
    espfab_region_t same[] = { { 0x10000, "a.bin", 16 }, { 0x10000, "b.bin", 16 } };
    CHECK_EQ(espfab_regions_check(same, 2, 0, &F), ESPFAB_E_REGION_OVERLAP);
    CHECK_STR(F.detail, "a.bin (0x10000-0x1000F) overlaps b.bin at 0x10000");

    espfab_region_t past[] = { { 0x300000, "big.bin", 0x200000 } };
    CHECK_EQ(espfab_regions_check(past, 1, 4u << 20, &F), ESPFAB_E_REGION_PAST_FLASH);
    CHECK_STR(F.detail, "big.bin at 0x300000 is 2097152 bytes and ends at 0x4FFFFF, past the end "
                        "of the 4MB flash (0x400000)");
    CHECK_EQ(espfab_regions_check(past, 1, 0, &F), 0);
    espfab_region_t edge[] = { { 0x3FF000, "last.bin", 0x1000 } };
    CHECK_EQ(espfab_regions_check(edge, 1, 4u << 20, &F), 0);
    edge[0].len = 0x1001;
    CHECK_EQ(espfab_regions_check(edge, 1, 4u << 20, &F), ESPFAB_E_REGION_PAST_FLASH);

    espfab_region_t un[] = { { 0x10800, "app.bin", 16 } };
    CHECK_EQ(espfab_regions_check(un, 1, 0, &F), ESPFAB_E_REGION_UNALIGNED);
    CHECK_STR(F.detail, "app.bin at 0x10800: offset is not a multiple of 0x1000 (0x10000 or "
                        "0x11000 would be)");
    espfab_region_t empty[] = { { 0x10000, "empty.bin", 0 } };
    CHECK_EQ(espfab_regions_check(empty, 1, 0, &F), ESPFAB_E_IMAGE_EMPTY);
    CHECK_STR(F.detail, "empty.bin at 0x10000 is empty (0 bytes)");
    /* 32-bit wrap does not hide a region past the end. */
    espfab_region_t wrap[] = { { 0xFFFFF000u, "wrap.bin", 0x2000 } };
    CHECK_EQ(espfab_regions_check(wrap, 1, 0xFFFFFFFFu, &F), ESPFAB_E_REGION_PAST_FLASH);
}

static char tmpdir[256];

static void test_load(void)
{
    char path[320];
    uint8_t *buf;
    size_t len;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/espfab-test-image-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);

    snprintf(path, sizeof(path), "%s/missing.bin", tmpdir);
    CHECK_EQ(espfab_image_load(path, &buf, &len, &F), ESPFAB_E_IMAGE_MISSING);
    CHECK_CONTAINS(F.detail, path);
    CHECK_EQ(F.sys_errno, ENOENT);
    CHECK(buf == NULL);

    CHECK_EQ(espfab_image_load(tmpdir, &buf, &len, &F), ESPFAB_E_IMAGE_READ);
    CHECK_CONTAINS(F.detail, "is a directory");
    CHECK_EQ(F.sys_errno, EISDIR);

    snprintf(path, sizeof(path), "%s/empty.bin", tmpdir);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    CHECK_EQ(espfab_image_load(path, &buf, &len, &F), ESPFAB_E_IMAGE_EMPTY);
    CHECK_CONTAINS(F.detail, "empty.bin is empty");

    snprintf(path, sizeof(path), "%s/data.bin", tmpdir);
    fp = fopen(path, "wb");
    static uint8_t data[70000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31);
    if (fp) {
        fwrite(data, 1, sizeof(data), fp);
        fclose(fp);
    }
    CHECK_EQ(espfab_image_load(path, &buf, &len, &F), 0);
    CHECK_EQ(len, sizeof(data));
    if (buf)
        CHECK_MEM(buf, data, sizeof(data));
    free(buf);

    /* Permission: only meaningful when not root (root reads anything). */
    chmod(path, 0);
    if (geteuid() != 0) {
        CHECK_EQ(espfab_image_load(path, &buf, &len, &F), ESPFAB_E_IMAGE_READ);
        CHECK_CONTAINS(F.detail, "permission denied");
        CHECK_EQ(F.sys_errno, EACCES);
    } else {
        fprintf(stderr, "test_load: running as root, the permission case is not observable\n");
    }
    chmod(path, 0644);

    /* A path through a regular file: ENOTDIR is "missing". */
    snprintf(path, sizeof(path), "%s/data.bin/x", tmpdir);
    CHECK_EQ(espfab_image_load(path, &buf, &len, &F), ESPFAB_E_IMAGE_MISSING);
}

/* ---- agreement with espfab-mkimage ------------------------------------- */

#define MKIMAGE ESPFAB_BINARY_DIR "/tools/mkimage/espfab-mkimage"

static int mk(const char *args, const char *out, uint8_t **buf, size_t *len)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s %s -o %s", MKIMAGE, args, out);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "mkimage failed (%d): %s\n", rc, cmd);
        return -1;
    }
    espfab_fault_t f;
    return espfab_image_load(out, buf, len, &f);
}

static void test_mkimage_all(void)
{
    static const char *kinds[] = { "app", "bootloader", "merged", "raw", "partition-table" };
    char out[320], args[256];
    snprintf(out, sizeof(out), "%s/mk.bin", tmpdir);
    CHECK(access(MKIMAGE, X_OK) == 0);
    for (int c = 0; c < ESPFAB_CHIP_COUNT; c++) {
        const espfab_chip_t *ch = chip((espfab_chip_id_t)c);
        const espfab_chip_t *other = chip(c == ESPFAB_CHIP_ESP32 ? ESPFAB_CHIP_ESP8266
                                                                 : ESPFAB_CHIP_ESP32);
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            for (int hash = 0; hash < 2; hash++) {
                uint8_t *b = NULL;
                size_t n = 0;
                snprintf(args, sizeof(args), "--chip %s --kind %s --size 200000 --seed %d%s",
                         ch->key, kinds[k], c * 10 + (int)k, hash ? " --hash" : "");
                if (mk(args, out, &b, &n) != 0) {
                    CHECK(!"mkimage ran");
                    continue;
                }
                espfab_image_info_t in;
                espfab_fault_t f;
                espfab_fault_clear(&f);
                int rc = espfab_image_parse(b, n, kinds[k], &in, &f);
                if (rc)
                    fprintf(stderr, "%s: %s\n", args, f.detail);
                CHECK_EQ(rc, 0);
                bool is_image = strcmp(kinds[k], "raw") != 0 &&
                                strcmp(kinds[k], "partition-table") != 0;
                if (!is_image) {
                    CHECK_EQ(in.format, ESPFAB_IMAGE_RAW);
                    free(b);
                    continue;
                }
                CHECK_EQ(in.chip, ch->id);
                CHECK_EQ(in.format, c == ESPFAB_CHIP_ESP8266 ? ESPFAB_IMAGE_ESP8266_V1
                                                             : ESPFAB_IMAGE_ESP32);
                CHECK(in.checksum_ok);
                CHECK(in.sha256_ok);
                CHECK_EQ(in.hash_appended, hash && c != ESPFAB_CHIP_ESP8266);
                CHECK_EQ(espfab_image_check_chip(&in, kinds[k], ch, 0, &f), 0);
                CHECK_EQ(espfab_image_check_chip(&in, kinds[k], other, -1, &f),
                         ESPFAB_E_IMAGE_WRONG_CHIP);
                if (strcmp(kinds[k], "app") == 0 && c != ESPFAB_CHIP_ESP8266) {
                    CHECK(n > 150000 && n < 250000);
                    CHECK_EQ(in.image_length, n);
                }
                if (strcmp(kinds[k], "merged") == 0) {
                    CHECK(in.image_length < n);
                    if (c != ESPFAB_CHIP_ESP8266) {
                        /* partition table and app at their places. */
                        size_t pt = 0x8000 - ch->bootloader_offset;
                        size_t app = 0x10000 - ch->bootloader_offset;
                        CHECK(n > app);
                        if (n > app) {
                            CHECK_EQ(b[pt], 0xAA);
                            CHECK_EQ(b[pt + 1], 0x50);
                            CHECK_EQ(b[in.image_length], 0xFF);
                            espfab_image_info_t ai;
                            CHECK_EQ(espfab_image_parse(b + app, n - app, "app", &ai, &f), 0);
                            CHECK_EQ(ai.chip, ch->id);
                            CHECK_EQ(ai.image_length, n - app);
                        }
                    }
                }
                free(b);
            }
        }
    }
}

static void test_mkimage_esp8266_formats(void)
{
    char out[320];
    uint8_t *b = NULL;
    size_t n = 0;
    espfab_image_info_t in;
    snprintf(out, sizeof(out), "%s/v.bin", tmpdir);
    CHECK_EQ(mk("--chip esp8266 --kind v1 --size 30000 --flash-mode qio --flash-size 1MB", out,
                &b, &n), 0);
    CHECK_EQ(espfab_image_parse(b, n, "v1", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP8266_V1);
    CHECK_EQ(in.flash_mode, 0);
    CHECK_EQ(in.flash_size_freq, 0x20);
    CHECK_EQ(in.image_length, n);
    CHECK_EQ(espfab_image_check_chip(&in, "v1", chip(ESPFAB_CHIP_ESP32), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    free(b);
    CHECK_EQ(mk("--chip esp8266 --kind v2 --size 300000 --flash-freq 80m", out, &b, &n), 0);
    CHECK_EQ(espfab_image_parse(b, n, "v2", &in, &F), 0);
    CHECK_EQ(in.format, ESPFAB_IMAGE_ESP8266_V2);
    CHECK_EQ(in.flash_size_freq & 0x0F, 0xF);
    CHECK_EQ(in.image_length, n);
    CHECK_EQ(espfab_image_check_chip(&in, "v2", chip(ESPFAB_CHIP_ESP32S3), -1, &F),
             ESPFAB_E_IMAGE_WRONG_CHIP);
    free(b);
    CHECK(system(MKIMAGE " --chip esp32 --kind v1 -o /dev/null 2>/dev/null") != 0);
}

static void test_mkimage_header_values(void)
{
    char out[320];
    uint8_t *b = NULL, *b2 = NULL;
    size_t n = 0, n2 = 0;
    espfab_image_info_t in;
    snprintf(out, sizeof(out), "%s/h.bin", tmpdir);
    CHECK_EQ(mk("--chip esp32c2 --kind app --size 40000 --flash-mode dout --flash-freq 15m "
                "--flash-size 2MB --min-rev 101 --max-rev 199 --hash", out, &b, &n), 0);
    CHECK_EQ(espfab_image_parse(b, n, "h", &in, &F), 0);
    CHECK_EQ(in.chip, ESPFAB_CHIP_ESP32C2);
    CHECK_EQ(in.flash_mode, 3);
    CHECK_EQ(in.flash_size_freq, 0x12);
    CHECK_EQ(in.min_rev_full, 101);
    CHECK_EQ(in.max_rev_full, 199);
    CHECK_EQ(espfab_image_check_chip(&in, "h", chip(ESPFAB_CHIP_ESP32C2), 100, &F),
             ESPFAB_E_IMAGE_REVISION);
    CHECK_EQ(espfab_image_check_chip(&in, "h", chip(ESPFAB_CHIP_ESP32C2), 101, &F), 0);

    /* Patch round trip on a tool-made image. */
    bool patched = false;
    CHECK_EQ(espfab_image_patch(b, n, chip(ESPFAB_CHIP_ESP32C2),
                                P("qio", "60m", "4MB"), 0, &patched, &F), 0);
    CHECK(patched);
    CHECK_EQ(espfab_image_parse(b, n, "h", &in, &F), 0);
    CHECK_EQ(in.flash_size_freq, 0x2F);
    CHECK(in.sha256_ok);

    /* Deterministic for a seed, different across seeds. */
    CHECK_EQ(mk("--chip esp32s3 --kind app --size 100000 --seed 7 --compressible 50", out, &b2,
                &n2), 0);
    uint8_t *b3 = NULL;
    size_t n3 = 0;
    CHECK_EQ(mk("--chip esp32s3 --kind app --size 100000 --seed 7 --compressible 50", out, &b3,
                &n3), 0);
    CHECK_EQ(n2, n3);
    if (b2 && b3 && n2 == n3)
        CHECK(memcmp(b2, b3, n2) == 0);
    free(b3);
    b3 = NULL;
    CHECK_EQ(mk("--chip esp32s3 --kind app --size 100000 --seed 8 --compressible 50", out, &b3,
                &n3), 0);
    if (b2 && b3 && n2 == n3)
        CHECK(memcmp(b2, b3, n2) != 0);
    free(b);
    free(b2);
    free(b3);
}

static void test_mkimage_partition_table(void)
{
    char out[320];
    uint8_t *b = NULL;
    size_t n = 0;
    snprintf(out, sizeof(out), "%s/pt.bin", tmpdir);
    CHECK_EQ(mk("--chip esp32 --kind partition-table", out, &b, &n), 0);
    CHECK_EQ(n, 0xC00);
    if (!b || n != 0xC00)
        return;
    size_t i = 0;
    while (i + 32 <= n && b[i] == 0xAA && b[i + 1] == 0x50)
        i += 32;
    CHECK_EQ(i, 3 * 32);
    CHECK_EQ(b[i], 0xEB);
    CHECK_EQ(b[i + 1], 0xEB);
    uint8_t md[16];
    unsigned int l = 0;
    EVP_Digest(b, i, md, &l, EVP_md5(), NULL);
    CHECK_MEM(md, b + i + 16, 16);
    CHECK_EQ(g32(b + 2 * 32 + 4), 0x10000);   /* factory app offset */
    CHECK_STR((const char *)b + 2 * 32 + 12, "factory");
    free(b);
}

static void cleanup(void)
{
    char cmd[320];
    if (tmpdir[0] && strncmp(tmpdir, "/tmp/espfab-test-image-", 23) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

int main(void)
{
    RUN(test_raw);
    RUN(test_esp32_app);
    RUN(test_every_chip_id);
    RUN(test_checksum_and_sha);
    RUN(test_esp8266_v1);
    RUN(test_esp8266_v2);
    RUN(test_esp8266_v3_layout);
    RUN(test_damaged_images);
    RUN(test_ram_only_header);
    RUN(test_merged);
    RUN(test_wrong_chip);
    RUN(test_unsupported_chip);
    RUN(test_revision);
    RUN(test_flash_params);
    RUN(test_patch);
    RUN(test_regions);
    RUN(test_load);
    RUN(test_mkimage_all);
    RUN(test_mkimage_esp8266_formats);
    RUN(test_mkimage_header_values);
    RUN(test_mkimage_partition_table);
    cleanup();
    return check_summary();
}
