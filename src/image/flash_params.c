/*
 * flash_params.c - flash mode / frequency / size header codes per chip family
 * (docs/protocol.md 6.1), their validation, and patching them into the header of
 * an image written at the bootloader offset (6.4).
 */
#include "espfab/image.h"

#include <stdio.h>
#include <string.h>

#include "image/image_internal.h"

typedef struct code {
    int value;        /* espfab_flash_mode_t / espfab_flash_freq_t; sizes: unused */
    uint8_t code;
    uint32_t bytes;   /* sizes only */
    bool c1;          /* sizes only: ESP8266 "-c1" layout */
} code_t;

#define END { -1, 0, 0, false }

static const code_t modes[] = {
    { ESPFAB_FLASH_MODE_QIO, 0, 0, false },  { ESPFAB_FLASH_MODE_QOUT, 1, 0, false },
    { ESPFAB_FLASH_MODE_DIO, 2, 0, false },  { ESPFAB_FLASH_MODE_DOUT, 3, 0, false }, END,
};

#define KB 1024u
#define MB (1024u * 1024u)

static const code_t sizes_esp8266[] = {
    { 0, 0x10, 256 * KB, false }, { 0, 0x00, 512 * KB, false }, { 0, 0x20, 1 * MB, false },
    { 0, 0x30, 2 * MB, false },   { 0, 0x40, 4 * MB, false },   { 0, 0x50, 2 * MB, true },
    { 0, 0x60, 4 * MB, true },    { 0, 0x80, 8 * MB, false },   { 0, 0x90, 16 * MB, false },
    END,
};

static const code_t sizes_esp32[] = {
    { 0, 0x00, 1 * MB, false },  { 0, 0x10, 2 * MB, false },   { 0, 0x20, 4 * MB, false },
    { 0, 0x30, 8 * MB, false },  { 0, 0x40, 16 * MB, false },  { 0, 0x50, 32 * MB, false },
    { 0, 0x60, 64 * MB, false }, { 0, 0x70, 128 * MB, false }, END,
};

static const code_t freq_default[] = {
    { ESPFAB_FLASH_FREQ_80M, 0xF, 0, false }, { ESPFAB_FLASH_FREQ_40M, 0x0, 0, false },
    { ESPFAB_FLASH_FREQ_26M, 0x1, 0, false }, { ESPFAB_FLASH_FREQ_20M, 0x2, 0, false }, END,
};
static const code_t freq_c2[] = {
    { ESPFAB_FLASH_FREQ_60M, 0xF, 0, false }, { ESPFAB_FLASH_FREQ_30M, 0x0, 0, false },
    { ESPFAB_FLASH_FREQ_20M, 0x1, 0, false }, { ESPFAB_FLASH_FREQ_15M, 0x2, 0, false }, END,
};
static const code_t freq_h2[] = {
    { ESPFAB_FLASH_FREQ_48M, 0xF, 0, false }, { ESPFAB_FLASH_FREQ_24M, 0x0, 0, false },
    { ESPFAB_FLASH_FREQ_16M, 0x1, 0, false }, { ESPFAB_FLASH_FREQ_12M, 0x2, 0, false }, END,
};
/* ESP32-C6: 80m is written as 0 too (esptool's workaround for the ROM's MSPI
 * divider). */
static const code_t freq_c6[] = {
    { ESPFAB_FLASH_FREQ_80M, 0x0, 0, false }, { ESPFAB_FLASH_FREQ_40M, 0x0, 0, false },
    { ESPFAB_FLASH_FREQ_20M, 0x2, 0, false }, END,
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

static const char *const mode_names[ESPFAB_FLASH_MODE_COUNT] = {"keep", "qio", "qout", "dio",
                                                                "dout"};
static const char *const freq_names[ESPFAB_FLASH_FREQ_COUNT] = {
    "keep", "80m", "60m", "48m", "40m", "30m", "26m", "24m", "20m", "16m", "15m", "12m"};

const char *espfab_flash_mode_name(espfab_flash_mode_t m)
{
    return (unsigned)m < ESPFAB_FLASH_MODE_COUNT ? mode_names[m] : "?";
}

const char *espfab_flash_freq_name(espfab_flash_freq_t f)
{
    return (unsigned)f < ESPFAB_FLASH_FREQ_COUNT ? freq_names[f] : "?";
}

static void size_text(uint32_t bytes, bool c1, char *buf, size_t len)
{
    if (bytes == ESPFAB_FLASH_SIZE_KEEP)
        snprintf(buf, len, "keep");
    else if (bytes == ESPFAB_FLASH_SIZE_DETECT)
        snprintf(buf, len, "detect");
    else if (bytes % MB == 0)
        snprintf(buf, len, "%uMB%s", bytes / MB, c1 ? "-c1" : "");
    else if (bytes % KB == 0)
        snprintf(buf, len, "%uKB%s", bytes / KB, c1 ? "-c1" : "");
    else
        snprintf(buf, len, "%u bytes", bytes);
}

const char *espfab_flash_size_name(const espfab_flash_params_t *p, char *buf, size_t len)
{
    if (len)
        size_text(p ? p->size : 0, p && p->size_c1, buf, len);
    return buf;
}

bool espfab_flash_params_keep(const espfab_flash_params_t *p)
{
    return !p || (p->mode == ESPFAB_FLASH_MODE_KEEP && p->freq == ESPFAB_FLASH_FREQ_KEEP &&
                  p->size == ESPFAB_FLASH_SIZE_KEEP);
}

uint32_t espfab_flash_params_size(const espfab_flash_params_t *p)
{
    if (!p || p->size == ESPFAB_FLASH_SIZE_KEEP || p->size == ESPFAB_FLASH_SIZE_DETECT)
        return 0;
    return p->size;
}

static const code_t *lookup(const code_t *t, int value)
{
    for (; t->value >= 0; t++)
        if (t->value == value)
            return t;
    return NULL;
}

static const code_t *lookup_size(const code_t *t, uint32_t bytes, bool c1)
{
    for (; t->value >= 0; t++)
        if (t->bytes == bytes && t->c1 == c1)
            return t;
    return NULL;
}

static void list(const code_t *t, const char *const *names, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (; t->value >= 0 && used < len; t++) {
        char sz[16];
        const char *n = names ? names[t->value] : sz;
        if (!names)
            size_text(t->bytes, t->c1, sz, sizeof(sz));
        int k = snprintf(buf + used, len - used, "%s%s", used ? " " : "", n);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* Size code for a byte count (the first entry with that size, so "2MB" not
 * "2MB-c1"), NULL if the family has none. */
static const code_t *size_by_bytes(const code_t *t, uint32_t bytes)
{
    for (; t->value >= 0; t++)
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
    if (p->mode != ESPFAB_FLASH_MODE_KEEP && !lookup(modes, (int)p->mode)) {
        list(modes, mode_names, allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash mode '%s' is not valid (use keep %s)",
                                espfab_flash_mode_name(p->mode), allowed);
    }
    if (p->freq != ESPFAB_FLASH_FREQ_KEEP && !lookup(freq_table(chip->id), (int)p->freq)) {
        list(freq_table(chip->id), freq_names, allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash frequency '%s' is not valid for the %s (use keep %s)",
                                espfab_flash_freq_name(p->freq), chip->name, allowed);
    }
    if (p->size != ESPFAB_FLASH_SIZE_KEEP && p->size != ESPFAB_FLASH_SIZE_DETECT &&
        !lookup_size(size_table(chip->id), p->size, p->size_c1)) {
        char name[24];
        list(size_table(chip->id), NULL, allowed, sizeof(allowed));
        return espfab_fault_set(f, ESPFAB_E_FLASH_PARAM,
                                "flash size '%s' is not valid for the %s (use keep detect %s)",
                                espfab_flash_size_name(p, name, sizeof(name)), chip->name, allowed);
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
    if (!buf || !chip || espfab_flash_params_keep(p))
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
    if (p->mode != ESPFAB_FLASH_MODE_KEEP)
        mode = lookup(modes, (int)p->mode)->code;
    if (p->freq != ESPFAB_FLASH_FREQ_KEEP)
        sf = (uint8_t)((sf & 0xF0) | lookup(freq_table(chip->id), (int)p->freq)->code);
    if (p->size != ESPFAB_FLASH_SIZE_KEEP) {
        const code_t *c;
        if (p->size == ESPFAB_FLASH_SIZE_DETECT) {
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
            c = lookup_size(size_table(chip->id), p->size, p->size_c1);
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
