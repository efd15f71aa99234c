/*
 * flash_params.c - flash mode / frequency / size header codes per chip family
 * (docs/protocol.md 6.1), their validation, and patching them into the header of
 * an image written at the bootloader offset (6.4).
 */
#include "espfab/image.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "image/image_internal.h"

typedef struct code {
    const char *name;
    uint8_t code;
    uint32_t bytes;   /* sizes only */
} code_t;

static const code_t modes[] = {
    { "qio", 0, 0 }, { "qout", 1, 0 }, { "dio", 2, 0 }, { "dout", 3, 0 }, { NULL, 0, 0 },
};

#define KB 1024u
#define MB (1024u * 1024u)

static const code_t sizes_esp8266[] = {
    { "256KB", 0x10, 256 * KB }, { "512KB", 0x00, 512 * KB }, { "1MB", 0x20, 1 * MB },
    { "2MB", 0x30, 2 * MB },     { "4MB", 0x40, 4 * MB },     { "2MB-c1", 0x50, 2 * MB },
    { "4MB-c1", 0x60, 4 * MB },  { "8MB", 0x80, 8 * MB },     { "16MB", 0x90, 16 * MB },
    { NULL, 0, 0 },
};

static const code_t sizes_esp32[] = {
    { "1MB", 0x00, 1 * MB },   { "2MB", 0x10, 2 * MB },   { "4MB", 0x20, 4 * MB },
    { "8MB", 0x30, 8 * MB },   { "16MB", 0x40, 16 * MB }, { "32MB", 0x50, 32 * MB },
    { "64MB", 0x60, 64 * MB }, { "128MB", 0x70, 128 * MB }, { NULL, 0, 0 },
};

static const code_t freq_default[] = {
    { "80m", 0xF, 0 }, { "40m", 0x0, 0 }, { "26m", 0x1, 0 }, { "20m", 0x2, 0 }, { NULL, 0, 0 },
};
static const code_t freq_c2[] = {
    { "60m", 0xF, 0 }, { "30m", 0x0, 0 }, { "20m", 0x1, 0 }, { "15m", 0x2, 0 }, { NULL, 0, 0 },
};
static const code_t freq_h2[] = {
    { "48m", 0xF, 0 }, { "24m", 0x0, 0 }, { "16m", 0x1, 0 }, { "12m", 0x2, 0 }, { NULL, 0, 0 },
};
/* ESP32-C6: 80m is written as 0 too (esptool's workaround for the ROM's MSPI
 * divider). */
static const code_t freq_c6[] = {
    { "80m", 0x0, 0 }, { "40m", 0x0, 0 }, { "20m", 0x2, 0 }, { NULL, 0, 0 },
};

static const code_t *freq_table(espfab_chip_id_t id)
{
    switch (id) {
    case ESPFAB_CHIP_ESP32C2: return freq_c2;
    case ESPFAB_CHIP_ESP32H2: return freq_h2;
    case ESPFAB_CHIP_ESP32C6: return freq_c6;
    default: return freq_default;
    }
}

static const code_t *size_table(espfab_chip_id_t id)
{
    return id == ESPFAB_CHIP_ESP8266 ? sizes_esp8266 : sizes_esp32;
}

static bool is_keep(const char *s) { return !s || !*s || strcasecmp(s, "keep") == 0; }

static const code_t *lookup(const code_t *t, const char *s)
{
    for (; t->name; t++)
        if (strcasecmp(t->name, s) == 0)
            return t;
    return NULL;
}

static void list(const code_t *t, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (; t->name && used < len; t++) {
        int k = snprintf(buf + used, len - used, "%s%s", used ? " " : "", t->name);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

uint32_t espfab_flash_size_parse(const char *s)
{
    if (!s || !isdigit((unsigned char)*s))
        return 0;
    unsigned long v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (unsigned long)(*s++ - '0');
        if (v > 4096)
            return 0;
    }
    uint64_t mult;
    if (strncasecmp(s, "KB", 2) == 0)
        mult = KB;
    else if (strncasecmp(s, "MB", 2) == 0)
        mult = MB;
    else
        return 0;
    s += 2;
    /* "2MB-c1" / "4MB-c1" (ESP8266 layouts) are sizes too. */
    if (*s && strcasecmp(s, "-c1") != 0)
        return 0;
    uint64_t bytes = v * mult;
    if (bytes == 0 || bytes > 0x80000000ull)
        return 0;
    return (uint32_t)bytes;
}

/* Size code for a byte count (the first entry with that size, so "2MB" not
 * "2MB-c1"), NULL if the family has none. */
static const code_t *size_by_bytes(const code_t *t, uint32_t bytes)
{
    for (; t->name; t++)
        if (t->bytes == bytes)
            return t;
    return NULL;
}

int espfab_flash_params_check(const espfab_chip_t *chip, const espfab_flash_params_t *p,
                              espfab_fault_t *f)
{
    char allowed[96];
    if (!p || !chip)
        return 0;
    if (!is_keep(p->mode) && !lookup(modes, p->mode)) {
        list(modes, allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash mode '%s' is not valid (use keep %s)", p->mode, allowed);
    }
    if (!is_keep(p->freq) && !lookup(freq_table(chip->id), p->freq)) {
        list(freq_table(chip->id), allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash frequency '%s' is not valid for the %s (use keep %s)",
                                p->freq, chip->name, allowed);
    }
    if (!is_keep(p->size) && strcasecmp(p->size, "detect") != 0 &&
        !lookup(size_table(chip->id), p->size)) {
        list(size_table(chip->id), allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash size '%s' is not valid for the %s (use keep detect %s)",
                                p->size, chip->name, allowed);
    }
    return 0;
}

int espfab_image_patch(uint8_t *buf, size_t len, const espfab_chip_t *chip,
                       const espfab_flash_params_t *p, uint32_t detected_flash_size,
                       bool *patched, espfab_fault_t *f)
{
    bool dummy;
    if (!patched)
        patched = &dummy;
    *patched = false;
    if (!buf || !chip || !p || (is_keep(p->mode) && is_keep(p->freq) && is_keep(p->size)))
        return 0;
    int rc = espfab_flash_params_check(chip, p, f);
    if (rc)
        return rc;

    espfab_image_info_t info;
    rc = espfab_image_parse(buf, len, NULL, &info, f);
    if (rc)
        return rc;
    /* Only 0xE9 images are patched (esptool's rule); a V2 image is loaded by
     * a second-stage bootloader and never sits at the ROM's boot offset. */
    if (info.format != ESPFAB_IMAGE_ESP8266_V1 && info.format != ESPFAB_IMAGE_ESP32)
        return 0;

    uint8_t mode = buf[2], sf = buf[3];
    if (!is_keep(p->mode))
        mode = lookup(modes, p->mode)->code;
    if (!is_keep(p->freq))
        sf = (uint8_t)((sf & 0xF0) | lookup(freq_table(chip->id), p->freq)->code);
    if (!is_keep(p->size)) {
        const code_t *c;
        if (strcasecmp(p->size, "detect") == 0) {
            if (detected_flash_size == 0) {
                c = NULL; /* size unknown: keep the header's value */
            } else {
                c = size_by_bytes(size_table(chip->id), detected_flash_size);
                if (!c)
                    return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                            "detected flash size %u bytes has no header code for "
                                            "the %s; give --flash-size explicitly",
                                            detected_flash_size, chip->name);
            }
        } else {
            c = lookup(size_table(chip->id), p->size);
        }
        if (c)
            sf = (uint8_t)((sf & 0x0F) | c->code);
    }
    if (mode == buf[2] && sf == buf[3])
        return 0;
    buf[2] = mode;
    buf[3] = sf;
    /* The checksum covers segment data only; the digest covers the header. */
    if (info.hash_appended) {
        /* The digest ends the image; it covers everything before it (more
         * than [0, data_length) in a RAM-only-header image). */
        size_t at = info.image_length - IMG_SHA256_LEN;
        if (espfab__image_sha256(buf, at, buf + at) != 0)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_SHA256,
                                    "libcrypto could not recompute the SHA-256 digest");
    }
    *patched = true;
    return 0;
}

int espfab_image_patch_at(uint8_t *buf, size_t len, uint32_t offset, const espfab_chip_t *chip,
                          const espfab_flash_params_t *p, uint32_t detected_flash_size,
                          bool *patched, espfab_fault_t *f)
{
    if (patched)
        *patched = false;
    if (!chip || offset != chip->bootloader_offset)
        return 0;
    return espfab_image_patch(buf, len, chip, p, detected_flash_size, patched, f);
}
