/*
 * describe.c - what `espfab image-info` shows about an image the parser
 * recognised (image.h): its segments with their memory regions, the ESP-IDF
 * application description (esp_app_desc_t) and the header's flash codes as
 * names.  Pure: buffers in, results out; thread-safe.
 */
#include "espfab/image.h"

#include <stdio.h>
#include <string.h>

#include "image/image_internal.h"
#include "image/memmap.h"

/* esp_app_desc_t (ESP-IDF components/esp_app_format), 256 bytes. */
#define AD_LEN 256u
#define AD_SECURE_VERSION 4u
#define AD_VERSION 16u
#define AD_PROJECT 48u
#define AD_TIME 80u
#define AD_DATE 96u
#define AD_IDF_VER 112u
#define AD_ELF_SHA256 144u
#define AD_MIN_EFUSE 176u
#define AD_MAX_EFUSE 178u
#define AD_MMU_PAGE 180u

static const char *region_name(espfab_chip_id_t chip, uint32_t addr)
{
    const memmap_region_t *r = espfab__memmap_find(chip, addr);
    return r ? r->name : "";
}

/* Walks n segment headers from off; returns how many fit in buf and seg. */
static size_t walk(const uint8_t *b, size_t len, size_t off, int n, espfab_chip_id_t chip,
                   espfab_image_segment_t *seg, size_t cap)
{
    size_t k = 0;
    for (int i = 0; i < n && k < cap; i++) {
        if (off > len || len - off < IMG_SEG_HDR_LEN)
            break;
        uint32_t addr = img_rd32(b + off), slen = img_rd32(b + off + 4);
        if (slen > len - off - IMG_SEG_HDR_LEN)
            break;
        seg[k].addr = addr;
        seg[k].len = slen;
        seg[k].file_offset = off;
        seg[k].region = region_name(chip, addr);
        k++;
        off += IMG_SEG_HDR_LEN + (size_t)slen;
    }
    return k;
}

size_t espfab_image_segments(const uint8_t *b, size_t len, const espfab_image_info_t *info,
                             espfab_image_segment_t *seg, size_t cap)
{
    if (!b || !info || !seg || cap == 0 || len < IMG_HDR_LEN)
        return 0;
    switch (info->format) {
    case ESPFAB_IMAGE_ESP8266_V1:
        return walk(b, len, IMG_HDR_LEN, b[1], ESPFAB_CHIP_ESP8266, seg, cap);
    case ESPFAB_IMAGE_ESP8266_V2: {
        /* The IROM segment (load address 0), then the 0xE9 image after it. */
        size_t k = walk(b, len, IMG_HDR_LEN, 1, ESPFAB_CHIP_ESP8266, seg, 1);
        if (k == 0)
            return 0;
        seg[0].region = "IROM";
        size_t second = IMG_HDR_LEN + IMG_SEG_HDR_LEN + seg[0].len;
        if (second + IMG_HDR_LEN > len)
            return k;
        return k + walk(b, len, second + IMG_HDR_LEN, b[second + 1], ESPFAB_CHIP_ESP8266,
                        seg + 1, cap - 1);
    }
    case ESPFAB_IMAGE_ESP32:
        return walk(b, len, IMG_HDR_LEN + IMG_EXT_LEN, b[1], info->chip, seg, cap);
    default:
        return 0;
    }
}

static void copy_str(char *out, size_t outlen, const uint8_t *in, size_t inlen)
{
    size_t k = 0;
    for (; k < inlen && k + 1 < outlen && in[k]; k++)
        out[k] = in[k] >= 0x20 && in[k] < 0x7F ? (char)in[k] : '?';
    out[k] = '\0';
}

bool espfab_image_app_desc(const uint8_t *b, size_t len, const espfab_image_info_t *info,
                           espfab_app_desc_t *d)
{
    if (!info || info->format != ESPFAB_IMAGE_ESP32 || info->chip == ESPFAB_CHIP_UNKNOWN)
        return false;
    espfab_image_segment_t s0;
    if (espfab_image_segments(b, len, info, &s0, 1) != 1 || s0.len < AD_LEN)
        return false;
    const memmap_region_t *r = espfab__memmap_find(info->chip, s0.addr);
    if (!r || !r->flash_mapped)
        return false;
    const uint8_t *a = b + s0.file_offset + IMG_SEG_HDR_LEN;
    if (img_rd32(a) != ESPFAB_APP_DESC_MAGIC)
        return false;
    memset(d, 0, sizeof(*d));
    d->secure_version = img_rd32(a + AD_SECURE_VERSION);
    copy_str(d->version, sizeof(d->version), a + AD_VERSION, 32);
    copy_str(d->project_name, sizeof(d->project_name), a + AD_PROJECT, 32);
    copy_str(d->time, sizeof(d->time), a + AD_TIME, 16);
    copy_str(d->date, sizeof(d->date), a + AD_DATE, 16);
    copy_str(d->idf_ver, sizeof(d->idf_ver), a + AD_IDF_VER, 32);
    memcpy(d->elf_sha256, a + AD_ELF_SHA256, sizeof(d->elf_sha256));
    d->min_efuse_blk_rev_full = img_rd16(a + AD_MIN_EFUSE);
    d->max_efuse_blk_rev_full = img_rd16(a + AD_MAX_EFUSE);
    d->mmu_page_size_log2 = a[AD_MMU_PAGE];
    return true;
}

/* Header code tables (docs/protocol.md 6.1), for display. */
static const char *const esp32_sizes[16] = {"1MB", "2MB", "4MB", "8MB", "16MB", "32MB", "64MB",
                                            "128MB"};
static const char *const esp8266_sizes[16] = {"512KB", "256KB", "1MB", "2MB", "4MB", "2MB-c1",
                                              "4MB-c1", NULL, "8MB", "16MB"};

/* Names of frequency codes 0x0, 0x1, 0x2 and 0xF. */
static void freq_codes(espfab_chip_id_t chip, const char *out[4])
{
    static const char *const def[4] = {"40m", "26m", "20m", "80m"};
    static const char *const c2[4] = {"30m", "20m", "15m", "60m"};
    static const char *const h2[4] = {"24m", "16m", "12m", "48m"};
    static const char *const c6[4] = {"80m/40m", NULL, "20m", NULL};
    const char *const *t = chip == ESPFAB_CHIP_ESP32C2   ? c2
                           : chip == ESPFAB_CHIP_ESP32H2 ? h2
                           : chip == ESPFAB_CHIP_ESP32C6 ? c6
                                                         : def;
    memcpy(out, t, sizeof(const char *) * 4);
}

void espfab_image_header_names(const espfab_image_info_t *info, espfab_image_header_names_t *n)
{
    static const char *const modes[4] = {"qio", "qout", "dio", "dout"};
    uint8_t m = info->flash_mode, sc = info->flash_size_freq >> 4, fc = info->flash_size_freq & 0xF;
    if (m < 4)
        snprintf(n->mode, sizeof(n->mode), "%s", modes[m]);
    else
        snprintf(n->mode, sizeof(n->mode), "unknown (0x%X)", m);

    const char *fq[4];
    freq_codes(info->chip, fq);
    const char *fname = fc <= 2 ? fq[fc] : fc == 0xF ? fq[3] : NULL;
    if (fname)
        snprintf(n->freq, sizeof(n->freq), "%s", fname);
    else
        snprintf(n->freq, sizeof(n->freq), "unknown (0x%X)", fc);

    const char *const *st = info->chip == ESPFAB_CHIP_ESP8266 ? esp8266_sizes : esp32_sizes;
    if (st[sc])
        snprintf(n->size, sizeof(n->size), "%s", st[sc]);
    else
        snprintf(n->size, sizeof(n->size), "unknown (0x%X)", sc);
}
