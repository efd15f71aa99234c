/*
 * image.c - parsing ESP8266 V1/V2 and ESP32-family images (docs/protocol.md
 * section 6) and deciding which chip an image is for.
 *
 * A buffer starting with 0xE9 is read two ways: as an ESP32-family image
 * (16-byte extended header, segments from offset 24) and as an ESP8266 V1
 * image (segments from offset 8).  A reading "holds together" when its
 * segment headers chain to a checksum byte inside the buffer; the ESP32
 * reading also needs a known chip id, a sane WP pin and hash_appended 0/1,
 * the V1 reading needs every segment to load at an ESP8266 address.  When
 * neither reading holds together the buffer is RAW data, unless its header
 * and first segment are clearly those of an image (then it is a truncated or
 * damaged image: ESPFAB_E_IMAGE_BAD_HEADER).
 */
#include "espfab/image.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "image/image_internal.h"
#include "image/memmap.h"

int espfab__image_sha256(const uint8_t *buf, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != IMG_SHA256_LEN)
        return -1;
    return 0;
}

const char *espfab_image_format_name(espfab_image_format_t fmt)
{
    switch (fmt) {
    case ESPFAB_IMAGE_ESP8266_V1: return "ESP8266 V1";
    case ESPFAB_IMAGE_ESP8266_V2: return "ESP8266 V2";
    case ESPFAB_IMAGE_ESP32: return "ESP32-family";
    default: return "raw data";
    }
}

static const char *chip_name(espfab_chip_id_t id)
{
    const espfab_chip_t *c = espfab_chip_get(id);
    return c ? c->name : "unknown chip";
}

/* Chip ids of ESP32-family chips espfab does not flash (esptool's targets
 * and retired betas): their images are still images, for no board we serve. */
static const struct {
    int id;
    const char *name;
} other_chips[] = {
    { 4, "ESP32-S3 (beta2)" }, { 6, "ESP32-S3 (beta3)" }, { 7, "ESP32-C6 (beta)" },
    { 10, "ESP32-H2 (beta1)" }, { 14, "ESP32-H2 (beta2)" }, { 17, "ESP32-C5 (beta3)" },
    { 20, "ESP32-C61" }, { 23, "ESP32-C5" }, { 25, "ESP32-H21" }, { 28, "ESP32-H4" },
    { 31, "ESP32-E22" }, { 32, "ESP32-S31" },
};

static const char *other_chip_name(int id)
{
    for (size_t i = 0; i < sizeof(other_chips) / sizeof(other_chips[0]); i++)
        if (other_chips[i].id == id)
            return other_chips[i].name;
    return NULL;
}

/* Name of the chip an image is for, for messages. */
static const char *image_chip_name(const espfab_image_info_t *info)
{
    if (info->chip == ESPFAB_CHIP_UNKNOWN && info->image_chip_id >= 0) {
        const char *n = other_chip_name(info->image_chip_id);
        return n ? n : "unknown chip";
    }
    return chip_name(info->chip);
}

/* The result of walking a segment table under one reading. */
typedef struct walk {
    bool holds;           /* segments and footer fit the buffer */
    bool first_ok;        /* segment 0 header sane and in the chip's map */
    int off_map;          /* first segment loading outside the map, -1 if none */
    uint32_t off_map_addr;
    bool page_ok;         /* flash-mapped segments obey the MMU page rule */
    uint32_t first_addr;
    const char *first_region;
    size_t cksum_off;     /* offset of the checksum byte */
    uint8_t cksum;        /* 0xEF XOR all segment data */
    char err[128];        /* why it does not hold together */
} walk_t;

/* For chips without a map here (ESP32-C5 and others): any address. */
static const memmap_region_t any_address = { 0, 0xFFFFFFFFu, "memory", false };

static void walk_segments(const uint8_t *b, size_t len, size_t off, int n,
                          espfab_chip_id_t chip, size_t trailer, walk_t *w)
{
    uint32_t page = espfab__memmap_page(chip);
    uint8_t ck = IMG_CHECKSUM_SEED;

    memset(w, 0, sizeof(*w));
    w->off_map = -1;
    w->page_ok = true;
    if (n < 1 || n > IMG_MAX_SEGMENTS) {
        snprintf(w->err, sizeof(w->err), "segment count is %d (must be 1..%d)", n,
                 IMG_MAX_SEGMENTS);
        /* Still judge segment 0: a sane one makes this a damaged image. */
        if (n > 0 && off + IMG_SEG_HDR_LEN <= len) {
            uint32_t addr = img_rd32(b + off), slen = img_rd32(b + off + 4);
            const memmap_region_t *r = chip == ESPFAB_CHIP_UNKNOWN
                                           ? &any_address
                                           : espfab__memmap_find(chip, addr);
            w->first_addr = addr;
            w->first_region = r ? r->name : NULL;
            w->first_ok = r && slen % 4 == 0 && slen < IMG_MAX_SEG_LEN;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        if (off + IMG_SEG_HDR_LEN > len) {
            snprintf(w->err, sizeof(w->err),
                     "segment %d header at offset 0x%zX is past the end of the file (%zu bytes)",
                     i, off, len);
            return;
        }
        uint32_t addr = img_rd32(b + off), slen = img_rd32(b + off + 4);
        const memmap_region_t *r = chip == ESPFAB_CHIP_UNKNOWN ? &any_address
                                                               : espfab__memmap_find(chip, addr);
        if (i == 0) {
            w->first_addr = addr;
            w->first_region = r ? r->name : NULL;
            w->first_ok = r != NULL && slen % 4 == 0 && slen < IMG_MAX_SEG_LEN;
        }
        if (slen % 4 != 0 || slen >= IMG_MAX_SEG_LEN) {
            snprintf(w->err, sizeof(w->err),
                     "segment %d at offset 0x%zX has length %u (must be a multiple of 4 below 16 MiB)",
                     i, off, slen);
            return;
        }
        if (!r && w->off_map < 0) {
            w->off_map = i;
            w->off_map_addr = addr;
        }
        size_t data = off + IMG_SEG_HDR_LEN;
        if (slen > len - data) {
            snprintf(w->err, sizeof(w->err),
                     "segment %d (%u bytes at offset 0x%zX) runs past the end of the file (%zu bytes)",
                     i, slen, data, len);
            return;
        }
        if (r && r->flash_mapped && page && (data - addr) % page != 0)
            w->page_ok = false;
        for (size_t k = 0; k < slen; k++)
            ck ^= b[data + k];
        off = data + slen;
    }
    /* Zero padding up to file_length % 16 == 15, then the checksum byte. */
    w->cksum_off = off + (15 - off % 16);
    w->cksum = ck;
    if (w->cksum_off >= len) {
        snprintf(w->err, sizeof(w->err),
                 "the file ends at %zu bytes, before the checksum byte at offset 0x%zX", len,
                 w->cksum_off);
        return;
    }
    if (trailer > len - w->cksum_off - 1) {
        snprintf(w->err, sizeof(w->err),
                 "the file ends at %zu bytes, before the end of the %s at offset 0x%zX", len,
                 trailer == IMG_SHA256_LEN ? "SHA-256 digest" : "CRC32", w->cksum_off + 1);
        return;
    }
    w->holds = true;
}

static void info_init(espfab_image_info_t *info)
{
    memset(info, 0, sizeof(*info));
    info->format = ESPFAB_IMAGE_RAW;
    info->image_chip_id = -1;
    info->chip = ESPFAB_CHIP_UNKNOWN;
    info->min_rev_full = 0;
    info->max_rev_full = 0xFFFF;
    info->checksum_ok = true;  /* nothing to check in raw data */
    info->sha256_ok = true;
}

static void fill_common(const uint8_t *b, espfab_image_info_t *info)
{
    info->flash_mode = b[2];
    info->flash_size_freq = b[3];
    info->entry = img_rd32(b + 4);
}

/* "RAM-only header" images (esptool elf2image --ram-only-header, for chips
 * booting an app without a second-stage bootloader): the header counts the
 * RAM segments only and the checksum follows them; padding and flash-mapped
 * segments come after the checksum, and the digest covers the whole file up
 * to them.  Walks such trailing segments looking for a digest that matches;
 * returns the digest offset, or 0. */
static size_t find_ram_only_digest(const uint8_t *b, size_t len, const espfab_image_info_t *info,
                                   int *extra)
{
    size_t pos = info->data_length;
    for (int k = 1; k <= IMG_MAX_SEGMENTS; k++) {
        if (pos + IMG_SEG_HDR_LEN > len)
            return 0;
        uint32_t addr = img_rd32(b + pos), slen = img_rd32(b + pos + 4);
        const memmap_region_t *r = espfab__memmap_find(info->chip, addr);
        if (!(addr == 0 || (r && r->flash_mapped)) || slen % 4 != 0 || slen >= IMG_MAX_SEG_LEN ||
            slen > len - pos - IMG_SEG_HDR_LEN)
            return 0;
        pos += IMG_SEG_HDR_LEN + slen;
        uint8_t md[IMG_SHA256_LEN];
        if (IMG_SHA256_LEN <= len - pos && espfab__image_sha256(b, pos, md) == 0 &&
            memcmp(md, b + pos, IMG_SHA256_LEN) == 0) {
            *extra = k;
            return pos;
        }
    }
    return 0;
}

/* Checksum and digest of a recognised image; info already filled.  Sets
 * data_length and image_length. */
static int verify(const uint8_t *b, size_t len, const char *name, const walk_t *w,
                  espfab_image_info_t *info, espfab_fault_t *f)
{
    uint8_t stored = b[w->cksum_off];
    info->data_length = w->cksum_off + 1;
    info->image_length = info->data_length + (info->hash_appended ? IMG_SHA256_LEN : 0);
    info->checksum_ok = stored == w->cksum;
    if (!info->checksum_ok)
        return espfab_fault_set(f, ESPFAB_E_IMAGE_CHECKSUM,
                                "%s (%s image for %s): checksum byte at offset 0x%zX is 0x%02X, "
                                "the segment data gives 0x%02X",
                                name, espfab_image_format_name(info->format),
                                image_chip_name(info), w->cksum_off, stored, w->cksum);
    if (info->hash_appended) {
        uint8_t md[IMG_SHA256_LEN];
        if (espfab__image_sha256(b, info->data_length, md) != 0)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_SHA256,
                                    "%s: libcrypto could not compute SHA-256", name);
        info->sha256_ok = memcmp(md, b + info->data_length, IMG_SHA256_LEN) == 0;
        if (!info->sha256_ok && info->chip != ESPFAB_CHIP_UNKNOWN) {
            int extra = 0;
            size_t at = find_ram_only_digest(b, len, info, &extra);
            if (at) {
                info->sha256_ok = true;
                info->segments += extra;
                info->image_length = at + IMG_SHA256_LEN;
            }
        }
        if (!info->sha256_ok)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_SHA256,
                                    "%s (%s image): SHA-256 digest at offset 0x%zX does not match "
                                    "bytes 0x0-0x%zX",
                                    name, image_chip_name(info), info->data_length,
                                    info->data_length - 1);
    }
    return 0;
}

static uint32_t esp8266_crc32(const uint8_t *b, size_t n)
{
    uint32_t c = (uint32_t)crc32(0L, Z_NULL, 0);
    /* zlib takes uInt lengths: feed large buffers in pieces. */
    while (n) {
        uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
        c = (uint32_t)crc32(c, b, k);
        b += k;
        n -= k;
    }
    return (c & 0x80000000u) ? (c ^ 0xFFFFFFFFu) : c + 1;
}

static int parse_v2(const uint8_t *b, size_t len, const char *name, espfab_image_info_t *info,
                    espfab_fault_t *f)
{
    if (len < 2 * IMG_HDR_LEN)
        return 0;
    uint32_t iaddr = img_rd32(b + 8), ilen = img_rd32(b + 12);
    const memmap_region_t *ir = espfab__memmap_find(ESPFAB_CHIP_ESP8266, iaddr);
    bool irom_ok = (iaddr == 0 || (ir && ir->flash_mapped)) && ilen % 4 == 0 &&
                   ilen < IMG_MAX_SEG_LEN && ilen <= len - 16;
    if (!irom_ok)
        return 0;
    size_t p = 16 + (size_t)ilen;
    if (p + IMG_HDR_LEN > len || b[p] != 0xE9)
        return 0;
    walk_t w;
    walk_segments(b, len, p + IMG_HDR_LEN, b[p + 1], ESPFAB_CHIP_ESP8266, 4, &w);
    if (!w.holds || w.off_map >= 0) {
        if (w.holds)
            snprintf(w.err, sizeof(w.err), "RAM segment %d loads at 0x%08X, not an ESP8266 address",
                     w.off_map, w.off_map_addr);
        return espfab_fault_set(f, ESPFAB_E_IMAGE_BAD_HEADER,
                                "%s: ESP8266 V2 image (0xEA header, IROM %u bytes, second header "
                                "at 0x%zX): %s",
                                name, ilen, p, w.err);
    }
    info->format = ESPFAB_IMAGE_ESP8266_V2;
    info->chip = ESPFAB_CHIP_ESP8266;
    fill_common(b, info);
    info->segments = 1 + b[p + 1];
    snprintf(info->reason, sizeof(info->reason),
             "0xEA V2 header; RAM segment 0 loads at 0x%08X = ESP8266 %s", w.first_addr,
             w.first_region);
    int rc = verify(b, len, name, &w, info, f);
    if (rc)
        return rc;
    size_t crc_off = w.cksum_off + 1;
    uint32_t want = esp8266_crc32(b, crc_off), got = img_rd32(b + crc_off);
    info->image_length = crc_off + 4;
    if (want != got) {
        info->checksum_ok = false;
        return espfab_fault_set(f, ESPFAB_E_IMAGE_CHECKSUM,
                                "%s (ESP8266 V2 image): CRC32 at offset 0x%zX is 0x%08X, the "
                                "file gives 0x%08X",
                                name, crc_off, got, want);
    }
    return 0;
}

int espfab_image_parse(const uint8_t *b, size_t len, const char *name,
                       espfab_image_info_t *info, espfab_fault_t *f)
{
    espfab_image_info_t scratch;
    if (!info)
        info = &scratch;
    info_init(info);
    if (!name)
        name = "image";
    if (!b || len < IMG_HDR_LEN)
        return 0;
    if (b[0] == 0xEA)
        return parse_v2(b, len, name, info, f);
    if (b[0] != 0xE9)
        return 0;

    int n = b[1];

    /* Reading 1: ESP32 family (extended header). */
    const espfab_chip_t *ec = NULL;
    const char *e_other = NULL;  /* a chip espfab does not serve */
    int e_id = -1;
    bool e_hdr = false;
    walk_t we, we8;
    memset(&we, 0, sizeof(we));
    memset(&we8, 0, sizeof(we8));
    if (len >= IMG_HDR_LEN + IMG_EXT_LEN) {
        uint8_t wp = b[8], hash = b[23];
        int id = img_rd16(b + 12);
        ec = espfab_chip_by_image_id(id);
        if (ec && ec->id == ESPFAB_CHIP_ESP8266)
            ec = NULL;
        e_id = id;
        e_other = ec ? NULL : other_chip_name(id);
        e_hdr = (ec || e_other) && (wp == 0xEE || wp < 64) && hash <= 1;
        if (e_hdr) {
            size_t trailer = hash ? IMG_SHA256_LEN : 0;
            walk_segments(b, len, IMG_HDR_LEN + IMG_EXT_LEN, n,
                          ec ? ec->id : ESPFAB_CHIP_UNKNOWN, trailer, &we);
            if (id == 0) /* could be an ESP8266 "V3" image (ext. header all zero) */
                walk_segments(b, len, IMG_HDR_LEN + IMG_EXT_LEN, n, ESPFAB_CHIP_ESP8266,
                              trailer, &we8);
        }
    }
    bool e_struct = e_hdr && we.holds;
    bool e_full = e_struct && ec && we.off_map < 0;

    /* Reading 2: ESP8266 V1 (segments right after the 8-byte header). */
    walk_t wv;
    walk_segments(b, len, IMG_HDR_LEN, n, ESPFAB_CHIP_ESP8266, 0, &wv);
    bool v_full = wv.holds && wv.off_map < 0;

    enum { PICK_NONE, PICK_E, PICK_V } pick = PICK_NONE;
    if (e_full && v_full) {
        /* Both hold together: let the checksum decide, then the WP pin. */
        bool ce = b[we.cksum_off] == we.cksum, cv = b[wv.cksum_off] == wv.cksum;
        if (ce != cv)
            pick = ce ? PICK_E : PICK_V;
        else
            pick = b[8] == 0xEE ? PICK_E : PICK_V;
    } else if (v_full) {
        pick = PICK_V;
    } else if (e_struct) {
        pick = PICK_E;
    }

    if (pick == PICK_NONE) {
        if (e_hdr && we.first_ok)
            return espfab_fault_set(f, ESPFAB_E_IMAGE_BAD_HEADER,
                                    "%s: %s image header (chip id %d) but %s", name,
                                    ec ? ec->name : e_other, e_id, we.err);
        if (wv.first_ok) {
            if (wv.holds)
                snprintf(wv.err, sizeof(wv.err), "segment %d loads at 0x%08X, not an ESP8266 address",
                         wv.off_map, wv.off_map_addr);
            return espfab_fault_set(f, ESPFAB_E_IMAGE_BAD_HEADER,
                                    "%s: ESP8266 V1 image header (segment 0 at 0x%08X = ESP8266 %s) "
                                    "but %s",
                                    name, wv.first_addr, wv.first_region, wv.err);
        }
        return 0; /* starts with 0xE9 but is not an image: raw data */
    }

    fill_common(b, info);
    info->segments = n;
    const walk_t *w;
    if (pick == PICK_V) {
        w = &wv;
        info->format = ESPFAB_IMAGE_ESP8266_V1;
        info->chip = ESPFAB_CHIP_ESP8266;
        snprintf(info->reason, sizeof(info->reason),
                 "no extended header; segment 0 loads at 0x%08X = ESP8266 %s", wv.first_addr,
                 wv.first_region);
    } else {
        w = &we;
        info->format = ESPFAB_IMAGE_ESP32;
        info->image_chip_id = e_id;
        info->chip = ec ? ec->id : ESPFAB_CHIP_UNKNOWN;
        info->min_rev = b[14];
        info->min_rev_full = img_rd16(b + 15);
        info->max_rev_full = img_rd16(b + 17);
        info->hash_appended = b[23] == 1;
        snprintf(info->reason, sizeof(info->reason), "chip id %d", e_id);
        /* ESP8266 "V3" images (RTOS SDK 3.x) use this layout with chip id 0:
         * their segments load at ESP8266 addresses and do not follow the
         * ESP32's 64 KiB flash-mapping rule. */
        if (ec && ec->id == ESPFAB_CHIP_ESP32 && we8.holds && we8.off_map < 0 &&
            (b[8] != 0xEE || !we.page_ok || we.off_map >= 0)) {
            info->chip = ESPFAB_CHIP_ESP8266;
            info->image_chip_id = -1;
            snprintf(info->reason, sizeof(info->reason),
                     "V3 layout with chip id 0, but segment 0 loads at 0x%08X = ESP8266 %s",
                     we8.first_addr, we8.first_region);
        }
    }
    return verify(b, len, name, w, info, f);
}

static int rev_error(const espfab_image_info_t *info, const char *name, const char *target,
                     const espfab_chip_t *chip, int rev, espfab_fault_t *f)
{
    char range[48];
    if (info->max_rev_full == 0xFFFF)
        snprintf(range, sizeof(range), "[v%d.%d - max rev not set]", info->min_rev_full / 100,
                 info->min_rev_full % 100);
    else
        snprintf(range, sizeof(range), "[v%d.%d - v%d.%d]", info->min_rev_full / 100,
                 info->min_rev_full % 100, info->max_rev_full / 100, info->max_rev_full % 100);
    return espfab_fault_set(f, ESPFAB_E_IMAGE_REVISION,
                            "%s requires %s revision in range %s; %s is revision v%d.%d",
                            name, chip->name, range, target, rev / 100, rev % 100);
}

int espfab_image_check_chip_on(const espfab_image_info_t *info, const char *name,
                               const char *port, const espfab_chip_t *chip, int rev_full,
                               espfab_fault_t *f)
{
    char target[300];
    snprintf(target, sizeof(target), "the board%s%s", port ? " on " : "", port ? port : "");
    return espfab_image_check_chip_target(info, name, target, chip, rev_full, f);
}

int espfab_image_check_chip_target(const espfab_image_info_t *info, const char *name,
                                   const char *target, const espfab_chip_t *chip, int rev_full,
                                   espfab_fault_t *f)
{
    if (!info || info->format == ESPFAB_IMAGE_RAW || !chip)
        return 0;
    if (!name)
        name = "image";
    if (info->chip != chip->id)
        return espfab_fault_set(f, ESPFAB_E_IMAGE_WRONG_CHIP,
                                "%s is an %s image (%s); %s is an %s", name,
                                image_chip_name(info), info->reason, target, chip->name);
    if (rev_full < 0 || info->chip == ESPFAB_CHIP_ESP8266)
        return 0;

    /* Which revision fields the image uses (esptool's rule): max_rev_full 0
     * means an image from before the *_rev_full fields; 0xFFFF with only the
     * legacy min_rev set means the legacy field is the one that counts. */
    bool use_full;
    if (info->max_rev_full == 0)
        use_full = false;
    else if (info->max_rev_full == 0xFFFF)
        use_full = !(info->min_rev_full == 0 && info->min_rev != 0);
    else
        use_full = true;

    if (use_full) {
        if (rev_full < info->min_rev_full ||
            (info->max_rev_full != 0xFFFF && rev_full > info->max_rev_full))
            return rev_error(info, name, target, chip, rev_full, f);
        return 0;
    }
    /* Legacy min_rev: the minor revision on the ESP32-C3, the major elsewhere. */
    int have = chip->id == ESPFAB_CHIP_ESP32C3 ? rev_full % 100 : rev_full / 100;
    if (have < info->min_rev)
        return espfab_fault_set(f, ESPFAB_E_IMAGE_REVISION,
                                "%s requires %s %s revision >= %d (legacy min_rev field); "
                                "%s is revision v%d.%d",
                                name, chip->name,
                                chip->id == ESPFAB_CHIP_ESP32C3 ? "minor" : "major",
                                info->min_rev, target, rev_full / 100, rev_full % 100);
    return 0;
}

int espfab_image_check_chip(const espfab_image_info_t *info, const char *name,
                            const espfab_chip_t *chip, int rev_full, espfab_fault_t *f)
{
    return espfab_image_check_chip_on(info, name, NULL, chip, rev_full, f);
}
