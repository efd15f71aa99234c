/*
 * layout.c - what may be written where (image.h): ELF files, ESP-IDF
 * partition tables (docs/protocol.md section 6.6) and the rules tying the
 * regions to the chip's bootloader offset and to the partitions.  Pure: no
 * I/O, no global state.
 */
#include "espfab/image.h"
#include "espfab/record.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "image/image_internal.h"

#define PT_ENTRY 32u
#define PT_MAX_LEN 0xC00u
#define PT_MD5_OFF 16u
#define SECTOR 0x1000u
#define DEFAULT_TABLE_OFFSET 0x8000u
#define DEFAULT_APP_OFFSET 0x10000u

bool espfab_image_is_elf(const uint8_t *b, size_t len)
{
    return b && len >= 4 && b[0] == 0x7F && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
}

bool espfab_partition_table_like(const uint8_t *b, size_t len)
{
    return b && len >= 2 && b[0] == 0xAA && b[1] == 0x50;
}

const char *espfab_partition_type_name(uint8_t type)
{
    switch (type) {
    case ESPFAB_PART_APP: return "app";
    case ESPFAB_PART_DATA: return "data";
    case ESPFAB_PART_BOOTLOADER: return "bootloader";
    case ESPFAB_PART_TABLE: return "partition table";
    default: return "custom";
    }
}

const char *espfab_partition_subtype_name(uint8_t type, uint8_t sub, char *buf, size_t len)
{
    static const struct {
        uint8_t sub;
        const char *name;
    } data[] = {
        {0x00, "ota"},    {0x01, "phy"},      {0x02, "nvs"},      {0x03, "coredump"},
        {0x04, "nvs_keys"}, {0x05, "efuse"},  {0x06, "undefined"}, {0x80, "esphttpd"},
        {0x81, "fat"},    {0x82, "spiffs"},   {0x83, "littlefs"},
    };
    const char *n = NULL;
    if (type == ESPFAB_PART_APP) {
        if (sub == 0x00)
            n = "factory";
        else if (sub >= 0x10 && sub <= 0x1F) {
            snprintf(buf, len, "ota_%u", (unsigned)(sub - 0x10));
            return buf;
        } else if (sub == 0x20)
            n = "test";
    } else if (type == ESPFAB_PART_DATA) {
        for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
            if (data[i].sub == sub)
                n = data[i].name;
    } else if (type == ESPFAB_PART_BOOTLOADER || type == ESPFAB_PART_TABLE) {
        n = sub == 0x00 ? "primary" : sub == 0x01 ? "ota" : NULL;
    }
    if (n)
        snprintf(buf, len, "%s", n);
    else
        snprintf(buf, len, "0x%02X", sub);
    return buf;
}

static bool all_ff(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0xFF)
            return false;
    return true;
}

static void copy_label(char out[17], const uint8_t *in)
{
    size_t k = 0;
    for (; k < 16 && in[k]; k++)
        out[k] = in[k] >= 0x20 && in[k] < 0x7F ? (char)in[k] : '?';
    out[k] = '\0';
}

int espfab_partition_table_parse(const uint8_t *b, size_t len, const char *name,
                                 espfab_partition_table_t *t, espfab_fault_t *f)
{
    memset(t, 0, sizeof(*t));
    if (!name)
        name = "partition table";
    size_t lim = len < PT_MAX_LEN ? len : PT_MAX_LEN;
    size_t off = 0;
    for (; off + PT_ENTRY <= lim; off += PT_ENTRY) {
        const uint8_t *e = b + off;
        if (all_ff(e, PT_ENTRY))
            break;
        if (e[0] == 0xEB && e[1] == 0xEB) {
            uint8_t md[16];
            unsigned int mdlen = 0;
            if (EVP_Digest(b, off, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
                return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                        "%s: libcrypto could not compute MD5", name);
            if (memcmp(md, e + PT_MD5_OFF, 16) != 0) {
                t->md5_bad = true;
                return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                        "%s: the MD5 entry at 0x%zX does not match the %zu "
                                        "entries before it (edited or damaged table)",
                                        name, off, t->n);
            }
            t->has_md5 = true;
            off += PT_ENTRY;
            break;
        }
        if (e[0] != 0xAA || e[1] != 0x50)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                    "%s: entry %zu at 0x%zX starts with %02X %02X, not the "
                                    "partition magic AA 50", name, t->n, off, e[0], e[1]);
        if (t->n >= ESPFAB_PARTITIONS_MAX)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                    "%s: more than %d partitions", name, ESPFAB_PARTITIONS_MAX);
        espfab_partition_t *p = &t->p[t->n];
        p->type = e[2];
        p->subtype = e[3];
        p->offset = img_rd32(e + 4);
        p->size = img_rd32(e + 8);
        copy_label(p->label, e + 12);
        p->flags = img_rd32(e + 28);
        if (p->size == 0 || p->offset % SECTOR || (uint64_t)p->offset + p->size > 0x100000000ull)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                    "%s: partition '%s' (entry %zu) at 0x%X, %u bytes: %s", name,
                                    p->label, t->n, p->offset, p->size,
                                    p->size == 0 ? "empty"
                                    : p->offset % SECTOR ? "offset not a multiple of 0x1000"
                                                         : "ends past 4 GiB");
        t->n++;
    }
    if (t->n == 0)
        return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                "%s: starts like a partition table but holds no partition", name);
    if (off < lim && !all_ff(b + off, lim - off))
        return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                "%s: bytes after the end of the table at 0x%zX are not 0xFF", name,
                                off);
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = i + 1; j < t->n; j++) {
            const espfab_partition_t *a = &t->p[i], *c = &t->p[j];
            if (a->offset < (uint64_t)c->offset + c->size &&
                c->offset < (uint64_t)a->offset + a->size)
                return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                        "%s: partitions '%s' (0x%X) and '%s' (0x%X) overlap", name,
                                        a->label, a->offset, c->label, c->offset);
        }
    return 0;
}

/* ---- the layout rules ---- */

/* One region with its bytes and declared kind. */
typedef struct lreg {
    uint32_t offset;
    const char *name;
    size_t len;
    const uint8_t *data;        /* NULL: not known */
    espfab_region_kind_t kind;
} lreg_t;

static const char *nm(const lreg_t *r) { return r->name ? r->name : "(unnamed)"; }

/* An image (or something that tried to be one: corrupt images are refused
 * by the parser's own callers). */
static bool is_image(const lreg_t *r)
{
    espfab_image_info_t info;
    int rc = espfab_image_parse(r->data, r->len, r->name, &info, NULL);
    return rc != 0 || info.format != ESPFAB_IMAGE_RAW;
}

static bool image_partition(uint8_t type)
{
    return type == ESPFAB_PART_APP || type == ESPFAB_PART_BOOTLOADER;
}

/* Data partitions (NVS, PHY init, OTA data, FAT, SPIFFS, LittleFS, core
 * dump...) and custom types (0x40-0xFE), which hold data by definition. */
static bool data_partition(uint8_t type)
{
    return type == ESPFAB_PART_DATA || (type >= 0x40 && type != 0xFF);
}

static const espfab_partition_t *containing(const espfab_partition_table_t *t, uint32_t off)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (off >= t->p[i].offset && off - t->p[i].offset < t->p[i].size)
            return &t->p[i];
    return NULL;
}

static int not_image(espfab_fault_t *f, const lreg_t *r, const char *why)
{
    return espfab_fault_set(f, ESPFAB_E_IMAGE_NOT_IMAGE,
                            "%s at 0x%X is raw data, not an ESP image, but %s",
                            nm(r), r->offset, why);
}

static int boot_offset(espfab_fault_t *f, const lreg_t *r, const espfab_chip_t *chip,
                       const char *where)
{
    return espfab_fault_set(f, ESPFAB_E_IMAGE_BOOT_OFFSET,
                            "%s is an ESP image at 0x%X, %s: the %s boots its bootloader from "
                            "0x%X (an app goes in an app partition)",
                            nm(r), r->offset, where, chip->name, chip->bootloader_offset);
}

/* The partition table among the regions, if any; *ti its index. */
static int find_table(const lreg_t *r, size_t n, espfab_partition_table_t *t,
                      size_t *ti, bool *have, espfab_fault_t *f)
{
    *have = false;
    for (size_t i = 0; i < n; i++) {
        if (!r[i].data || r[i].kind == ESPFAB_REGION_DATA ||
            !espfab_partition_table_like(r[i].data, r[i].len))
            continue;
        if (*have)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_TABLE_BAD,
                                    "%s at 0x%X and %s at 0x%X are both partition tables; "
                                    "flash one", nm(&r[*ti]), r[*ti].offset, nm(&r[i]), r[i].offset);
        int rc = espfab_partition_table_parse(r[i].data, r[i].len, nm(&r[i]), t, f);
        if (rc) {
            *ti = i;
            return rc;
        }
        *have = true;
        *ti = i;
    }
    return 0;
}

static int check_table(const lreg_t *tr, const espfab_partition_table_t *t,
                       const espfab_chip_t *chip, uint32_t flash_size, espfab_fault_t *f)
{
    uint64_t tend = (uint64_t)tr->offset + tr->len;
    for (size_t i = 0; i < t->n; i++) {
        const espfab_partition_t *p = &t->p[i];
        uint64_t end = (uint64_t)p->offset + p->size;
        if (flash_size && end > flash_size)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_PAST_FLASH,
                                    "%s: partition '%s' (0x%X, %u bytes) ends at 0x%llX, past the "
                                    "end of the %u KiB flash",
                                    nm(tr), p->label, p->offset, p->size,
                                    (unsigned long long)(end - 1), flash_size / 1024);
        if (p->type != ESPFAB_PART_TABLE && p->type != ESPFAB_PART_BOOTLOADER &&
            p->offset < tend && tr->offset < end)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                    "%s at 0x%X overlaps its own partition '%s' (0x%X)", nm(tr),
                                    tr->offset, p->label, p->offset);
        if (chip && p->type != ESPFAB_PART_BOOTLOADER && chip->bootloader_offset >= p->offset &&
            chip->bootloader_offset - p->offset < p->size)
            return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                    "%s: partition '%s' (0x%X, %u bytes) covers 0x%X, where the "
                                    "%s's bootloader goes",
                                    nm(tr), p->label, p->offset, p->size, chip->bootloader_offset,
                                    chip->name);
    }
    if (chip && tr->offset <= chip->bootloader_offset)
        return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                "%s at 0x%X: the partition table goes after the %s's bootloader "
                                "(at 0x%X)", nm(tr), tr->offset, chip->name, chip->bootloader_offset);
    return 0;
}

/* One region judged against the table t (NULL: none among the regions). */
static int check_region(const lreg_t *r, const espfab_partition_table_t *t,
                        const lreg_t *tr, const espfab_chip_t *chip, unsigned flags,
                        espfab_fault_t *f)
{
    bool img = r->data ? is_image(r) : true;
    /* Declared data; without the kinds (the session), possibly declared. */
    bool declared = r->kind == ESPFAB_REGION_DATA || (flags & ESPFAB_LAYOUT_KINDS_UNKNOWN);
    char why[160];
    if (chip && r->offset == chip->bootloader_offset && r->data && !img) {
        snprintf(why, sizeof why, "0x%X is where the %s boots its bootloader from",
                 r->offset, chip->name);
        return not_image(f, r, why);
    }
    if (r->kind == ESPFAB_REGION_IMAGE && r->data && !img)
        return not_image(f, r, "its profile section says kind = image");
    uint64_t end = (uint64_t)r->offset + r->len;
    if (t) {
        const espfab_partition_t *p = containing(t, r->offset);
        if (p) {
            uint64_t pend = (uint64_t)p->offset + p->size;
            if (end > pend)
                return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                        "%s at 0x%X is %zu bytes and ends at 0x%llX, past the end "
                                        "of its %s partition '%s' (0x%X-0x%llX, %u bytes; %s)",
                                        nm(r), r->offset, r->len, (unsigned long long)(end - 1),
                                        espfab_partition_type_name(p->type), p->label, p->offset,
                                        (unsigned long long)(pend - 1), p->size, nm(tr));
            if (r->data && image_partition(p->type) && !img) {
                snprintf(why, sizeof why, "it lies in the %s partition '%s' of %s",
                         espfab_partition_type_name(p->type), p->label, nm(tr));
                return not_image(f, r, why);
            }
            if (!image_partition(p->type) && !data_partition(p->type))
                return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                        "%s at 0x%X lies in the %s partition '%s' of %s, which "
                                        "holds no file of its own",
                                        nm(r), r->offset, espfab_partition_type_name(p->type),
                                        p->label, nm(tr));
            if (r->data && data_partition(p->type) && img && !declared)
                return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                        "%s is an ESP image, but 0x%X lies in the %s partition "
                                        "'%s' of %s: an image goes at the bootloader offset or "
                                        "in an app partition",
                                        nm(r), r->offset, espfab_partition_type_name(p->type),
                                        p->label, nm(tr));
            return 0;
        }
        for (size_t i = 0; i < t->n; i++) {
            const espfab_partition_t *q = &t->p[i];
            if (q->offset > r->offset && q->offset < end && q->type != ESPFAB_PART_TABLE)
                return espfab_fault_set(f, ESPFAB_E_PARTITION_MISFIT,
                                        "%s at 0x%X (%zu bytes, to 0x%llX) runs into partition "
                                        "'%s' at 0x%X of %s",
                                        nm(r), r->offset, r->len, (unsigned long long)(end - 1),
                                        q->label, q->offset, nm(tr));
        }
        if (!r->data)
            return 0;
        if (img) {
            if (chip && r->offset != chip->bootloader_offset)
                return boot_offset(f, r, chip, "outside every partition of the table");
            return 0;
        }
        if (!declared) /* a profile can say kind = data; the command line cannot */
            return espfab_fault_set(f, ESPFAB_E_IMAGE_UNDECLARED_DATA,
                                    "%s at 0x%X is raw data outside every data partition of %s: "
                                    "fix the offset%s",
                                    nm(r), r->offset, nm(tr),
                                    flags & ESPFAB_LAYOUT_DECLARED
                                        ? ", or add 'kind = data' to its [image] section"
                                        : "");
        return 0;
    }
    if (!r->data)
        return 0;
    if (img) {
        if (chip && chip->id != ESPFAB_CHIP_ESP8266 && r->offset < DEFAULT_TABLE_OFFSET &&
            r->offset != chip->bootloader_offset)
            return boot_offset(f, r, chip, "below the partition table's usual 0x8000");
        return 0;
    }
    if (declared)
        return 0;
    if ((flags & ESPFAB_LAYOUT_DEFAULT_APP) && chip && chip->id != ESPFAB_CHIP_ESP8266 &&
        r->offset == DEFAULT_APP_OFFSET)
        return not_image(f, r,
                         "0x10000 is ESP-IDF's app offset (no partition table given; data "
                         "there needs a profile with kind = data)");
    if (flags & ESPFAB_LAYOUT_DECLARED)
        return espfab_fault_set(f, ESPFAB_E_IMAGE_UNDECLARED_DATA,
                                "%s at 0x%X is raw data, not an ESP image, and nothing declares "
                                "it data: add 'kind = data' to its [image] section, or flash it "
                                "with its partition table",
                                nm(r), r->offset);
    return 0;
}

int espfab_regions_check_layout(const espfab_region_t *reg, const uint8_t *const *data,
                                const espfab_region_kind_t *kind, size_t n,
                                const espfab_chip_t *chip, uint32_t flash_size, unsigned flags,
                                size_t *at, espfab_fault_t *f)
{
    size_t scratch;
    if (!at)
        at = &scratch;
    *at = 0;
    lreg_t r[ESPFAB_MAX_REGIONS];
    if (n > ESPFAB_MAX_REGIONS)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "%zu regions (at most %d)", n,
                                ESPFAB_MAX_REGIONS);
    for (size_t i = 0; i < n; i++)
        r[i] = (lreg_t){reg[i].offset, reg[i].name, reg[i].len, data ? data[i] : NULL,
                        kind ? kind[i] : ESPFAB_REGION_AUTO};
    for (size_t i = 0; i < n; i++)
        if (r[i].data && espfab_image_is_elf(r[i].data, r[i].len))
            return *at = i, espfab_fault_set(f, ESPFAB_E_IMAGE_ELF,
                                    "%s (for 0x%X) is an ELF file, which no chip boots: flash "
                                    "the .bin made from it (idf.py: build/<project>.bin; else "
                                    "`esptool elf2image %s`)",
                                    nm(&r[i]), r[i].offset, nm(&r[i]));
    if (flags & ESPFAB_LAYOUT_FORCE)
        return 0;
    espfab_partition_table_t table;
    size_t ti = 0;
    bool have = false;
    int rc = find_table(r, n, &table, &ti, &have, f);
    if (rc)
        return *at = ti, rc;
    if (have && (rc = check_table(&r[ti], &table, chip, flash_size, f)) != 0)
        return *at = ti, rc;
    for (size_t i = 0; i < n; i++) {
        if (have && i == ti)
            continue;
        if ((rc = check_region(&r[i], have ? &table : NULL, have ? &r[ti] : NULL, chip, flags, f)))
            return *at = i, rc;
    }
    return 0;
}
