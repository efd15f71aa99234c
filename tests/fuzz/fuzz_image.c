/*
 * fuzz_image.c - src/image on arbitrary input: parse, chip check, header
 * patch, region check, flash-size parsing.
 *
 * Invariants (abort on violation):
 *  - parse returns 0 or BAD_HEADER/CHECKSUM/SHA256, never reads past the
 *    buffer, and an accepted image lies inside it with valid checksum/digest;
 *  - the chip check returns 0, WRONG_CHIP or REVISION, never WRONG_CHIP for
 *    the image's own chip, always 0 for raw data;
 *  - patching either leaves the buffer untouched or yields an image that
 *    parses again to the same chip/format, with only bytes 2-3 and the
 *    digest changed and everything after the image kept;
 *  - the region check accepts a list only if it really has no empty,
 *    unaligned or overlapping region and none past the flash size.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/setting.h"

#define FAIL(msg)                                                   \
    do {                                                            \
        fprintf(stderr, "fuzz_image: invariant broken: %s\n", msg); \
        abort();                                                    \
    } while (0)

static void check_fault(const espfab_fault_t *f)
{
    if (memchr(f->detail, 0, sizeof(f->detail)) == NULL)
        FAIL("fault detail not terminated");
}

static void fuzz_parse_patch(const uint8_t *data, size_t size)
{
    espfab_image_info_t in;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_image_parse(data, size, "fuzz.bin", &in, &f);
    check_fault(&f);
    if (rc != 0 && rc != ESPFAB_E_IMAGE_BAD_HEADER && rc != ESPFAB_E_IMAGE_CHECKSUM &&
        rc != ESPFAB_E_IMAGE_SHA256)
        FAIL("unexpected parse result");
    if (rc == 0) {
        if (in.format == ESPFAB_IMAGE_RAW) {
            if (in.chip != ESPFAB_CHIP_UNKNOWN)
                FAIL("raw data with a chip");
        } else {
            if (!espfab_chip_get(in.chip) &&
                !(in.format == ESPFAB_IMAGE_ESP32 && in.image_chip_id > 0))
                FAIL("image for an unknown chip");
            if (in.data_length == 0 || in.data_length > size || in.image_length > size ||
                in.image_length < in.data_length)
                FAIL("image lengths outside the buffer");
            if (in.data_length % 16 != 0)
                FAIL("checksum byte not at length % 16 == 15");
            if (!in.checksum_ok || !in.sha256_ok)
                FAIL("accepted image with a bad checksum or digest");
            if (in.segments < 1 || in.segments > 17)
                FAIL("segment count out of range");
        }
    }

    static const int revs[] = { -1, 0, 1, 100, 101, 199, 300, 65535 };
    for (int c = 0; c < ESPFAB_CHIP_COUNT; c++) {
        const espfab_chip_t *chip = espfab_chip_get((espfab_chip_id_t)c);
        for (size_t r = 0; r < sizeof(revs) / sizeof(revs[0]); r++) {
            int k = espfab_image_check_chip_on(&in, "fuzz.bin", "/dev/ttyFUZZ", chip, revs[r], &f);
            check_fault(&f);
            if (k != 0 && k != ESPFAB_E_IMAGE_WRONG_CHIP && k != ESPFAB_E_IMAGE_REVISION)
                FAIL("unexpected chip-check result");
            if (in.format == ESPFAB_IMAGE_RAW && k != 0)
                FAIL("raw data refused");
            if (in.chip == chip->id && k == ESPFAB_E_IMAGE_WRONG_CHIP)
                FAIL("own chip refused");
        }
    }

    /* Patch a copy with parameters picked from the input's length. */
    static const char *modes[] = { NULL, "keep", "qio", "qout", "dio", "dout", "bad" };
    static const char *freqs[] = { NULL, "80m", "40m", "26m", "20m", "60m", "48m", "12m", "x" };
    static const char *sizes[] = { NULL, "detect", "1MB", "4MB", "512KB", "16MB", "128MB", "3MB" };
    /* Through the setting parsers, as every caller gets them: unknown
     * spellings are refused there and stay "keep". */
    espfab_flash_params_t p;
    memset(&p, 0, sizeof(p));
    const char *ms = modes[size % 7], *fs = freqs[(size / 7) % 9], *ss = sizes[(size / 63) % 8];
    if (ms)
        espfab_setting_parse_flash_mode(ms, NULL, &p.mode, NULL);
    if (fs)
        espfab_setting_parse_flash_freq(fs, NULL, &p.freq, NULL);
    if (ss)
        espfab_setting_parse_flash_size(ss, NULL, &p, NULL);
    const espfab_chip_t *chip = espfab_chip_get(
        in.format != ESPFAB_IMAGE_RAW && size % 3 ? in.chip : (espfab_chip_id_t)(size % ESPFAB_CHIP_COUNT));
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        FAIL("out of memory");
    if (size)
        memcpy(copy, data, size);
    bool patched = false;
    uint32_t detected = (size % 5) ? (1u << (18 + size % 11)) : 0;
    int pr = espfab_image_patch(copy, size, chip, &p, detected, &patched, &f);
    check_fault(&f);
    if (pr != 0 && pr != ESPFAB_E_FLASH_PARAM && pr != rc)
        FAIL("unexpected patch result");
    if (!patched && size && memcmp(copy, data, size) != 0)
        FAIL("buffer changed without a patch");
    if (patched) {
        if (rc != 0 || in.format == ESPFAB_IMAGE_RAW)
            FAIL("patched something that is not a valid image");
        espfab_image_info_t in2;
        if (espfab_image_parse(copy, size, "patched", &in2, &f) != 0)
            FAIL("patched image no longer parses");
        if (in2.format != in.format || in2.chip != in.chip || in2.segments != in.segments ||
            in2.image_length != in.image_length)
            FAIL("patched image parses differently");
        for (size_t i = 0; i < size; i++) {
            bool may = i == 2 || i == 3 ||
                       (in.hash_appended && i + 32 >= in.image_length && i < in.image_length);
            if (!may && copy[i] != data[i])
                FAIL("patch changed a byte it must keep");
        }
    }
    free(copy);
}

static void fuzz_regions(const uint8_t *data, size_t size)
{
    espfab_region_t r[8];
    size_t n = 0;
    for (size_t i = 0; i + 6 <= size && n < 8; i += 6, n++) {
        /* offsets in 1 KiB steps so that aligned ones are common */
        r[n].offset = (uint32_t)(data[i] | data[i + 1] << 8 | data[i + 2] << 16) << 10;
        r[n].len = (size_t)(data[i + 3] | data[i + 4] << 8) << (data[i + 5] & 15);
        r[n].name = "region";
    }
    uint32_t flash = size % 4 ? (1u << (20 + size % 5)) : 0;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_regions_check(r, n, flash, &f);
    check_fault(&f);
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t end = (uint64_t)r[i].offset + r[i].len;
        if (r[i].len == 0 || r[i].offset % 4096 || (flash && end > flash))
            bad = true;
        for (size_t j = i + 1; j < n; j++) {
            uint64_t e2 = (uint64_t)r[j].offset + r[j].len;
            if (r[i].offset < e2 && r[j].offset < end)
                bad = true;
        }
    }
    if (bad != (rc != 0))
        FAIL("region check disagrees with the reference");
    if (rc != 0 && rc != ESPFAB_E_IMAGE_EMPTY && rc != ESPFAB_E_REGION_UNALIGNED &&
        rc != ESPFAB_E_REGION_PAST_FLASH && rc != ESPFAB_E_REGION_OVERLAP)
        FAIL("unexpected region-check result");
}

static void fuzz_strings(const uint8_t *data, size_t size)
{
    char s[32];
    size_t k = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, k);
    s[k] = 0;
    uint32_t v = espfab_flash_size_parse(s);
    if (v && v % 1024 != 0)
        FAIL("flash size not a whole KiB");
    espfab_flash_params_t p;
    memset(&p, 0, sizeof(p));
    espfab_fault_t f;
    espfab_fault_clear(&f);
    const espfab_setting_src_t src = {"fuzz.ini", 1, "flash_mode"};
    if (espfab_setting_parse_flash_mode(s, &src, &p.mode, &f) != 0)
        check_fault(&f);
    if (espfab_setting_parse_flash_freq(s, NULL, &p.freq, &f) != 0)
        check_fault(&f);
    if (espfab_setting_parse_flash_size(s, NULL, &p, &f) != 0)
        check_fault(&f);
    if (v && p.size > ESPFAB_FLASH_SIZE_DETECT && p.size != v)
        FAIL("flash size parsed two ways");
    espfab_reset_t r;
    espfab_after_t a;
    espfab_erase_t e;
    if (espfab_setting_parse_before(s, NULL, &r, &f) != 0)
        check_fault(&f);
    if (espfab_setting_parse_after(s, NULL, &a, &f) != 0)
        check_fault(&f);
    if (espfab_setting_parse_erase(s, NULL, &e, &f) != 0)
        check_fault(&f);
    for (int c = 0; c < ESPFAB_CHIP_COUNT; c++) {
        int rc = espfab_flash_params_check(espfab_chip_get((espfab_chip_id_t)c), &p, &f);
        check_fault(&f);
        if (rc != 0 && rc != ESPFAB_E_FLASH_PARAM)
            FAIL("unexpected params-check result");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parse_patch(data, size);
    fuzz_regions(data, size);
    fuzz_strings(data, size);
    return 0;
}
