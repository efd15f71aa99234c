/* test_layout.c - what may be flashed where (image.h, src/image/layout.c):
 * ELF files, ESP-IDF partition tables (built here byte by byte, MD5 from
 * OpenSSL) and the layout rules, with images written by espfab-mkimage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "espfab/image.h"

#define MKIMAGE ESPFAB_BINARY_DIR "/tools/mkimage/espfab-mkimage"

static uint8_t *mk(const char *chip, const char *kind, const char *size, size_t *len)
{
    char path[] = "/tmp/espfab-test-layout-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --chip %s --kind %s --size %s --seed 9 -o '%s'", MKIMAGE, chip,
             kind, size, path);
    CHECK_EQ(system(cmd), 0);
    uint8_t *buf = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_image_load(path, &buf, len, &f), 0);
    unlink(path);
    close(fd);
    return buf;
}

/* ---- a partition table, written here ---- */

typedef struct {
    uint8_t b[0xC00];
    size_t n;
} pt_t;

static void pt_add(pt_t *t, uint8_t type, uint8_t sub, uint32_t off, uint32_t size, const char *label)
{
    uint8_t *e = t->b + t->n;
    memset(e, 0, 32);
    e[0] = 0xAA;
    e[1] = 0x50;
    e[2] = type;
    e[3] = sub;
    for (int i = 0; i < 4; i++) {
        e[4 + i] = (uint8_t)(off >> (8 * i));
        e[8 + i] = (uint8_t)(size >> (8 * i));
    }
    strncpy((char *)e + 12, label, 16);
    t->n += 32;
}

static void pt_end(pt_t *t, bool md5)
{
    memset(t->b + t->n, 0xFF, sizeof t->b - t->n);
    if (md5) {
        uint8_t *e = t->b + t->n;
        e[0] = e[1] = 0xEB;
        unsigned int len = 0;
        CHECK_EQ(EVP_Digest(t->b, t->n, e + 16, &len, EVP_md5(), NULL), 1);
    }
}

static void idf_table(pt_t *t, uint32_t app_size)
{
    memset(t, 0, sizeof *t);
    pt_add(t, 0x01, 0x02, 0x9000, 0x6000, "nvs");
    pt_add(t, 0x01, 0x01, 0xF000, 0x1000, "phy_init");
    pt_add(t, 0x00, 0x00, 0x10000, app_size, "factory");
    pt_end(t, true);
}

static void test_partition_table(void)
{
    pt_t t;
    idf_table(&t, 0x100000);
    espfab_partition_table_t pt;
    espfab_fault_t f;
    CHECK(espfab_partition_table_like(t.b, sizeof t.b));
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f), 0);
    CHECK_EQ(pt.n, 3);
    CHECK(pt.has_md5);
    CHECK_STR(pt.p[2].label, "factory");
    CHECK_EQ(pt.p[2].offset, 0x10000);
    CHECK_EQ(pt.p[0].type, ESPFAB_PART_DATA);

    /* mkimage's table (written independently) decodes the same way */
    size_t len;
    uint8_t *mkpt = mk("esp32", "partition-table", "3072", &len);
    CHECK_EQ(espfab_partition_table_parse(mkpt, len, "mk.bin", &pt, &f), 0);
    CHECK_EQ(pt.n, 3);
    free(mkpt);

    /* a changed byte: the MD5 entry no longer matches */
    t.b[40] ^= 1;
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f),
             ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK_CONTAINS(f.detail, "MD5");
    /* no MD5 entry (md5sum disabled): accepted */
    idf_table(&t, 0x100000);
    memset(t.b + 96, 0xFF, 32);
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f), 0);
    CHECK(!pt.has_md5);
    /* garbage after the entries */
    idf_table(&t, 0x100000);
    t.b[96] = 0x12;
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f),
             ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK_CONTAINS(f.detail, "not the partition magic");
    /* overlapping partitions */
    memset(&t, 0, sizeof t);
    pt_add(&t, 0x01, 0x02, 0x9000, 0x8000, "nvs");
    pt_add(&t, 0x00, 0x00, 0x10000, 0x10000, "factory");
    pt_end(&t, true);
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f),
             ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK_CONTAINS(f.detail, "overlap");
    /* unaligned partition */
    memset(&t, 0, sizeof t);
    pt_add(&t, 0x01, 0x02, 0x9100, 0x6000, "nvs");
    pt_end(&t, false);
    CHECK_EQ(espfab_partition_table_parse(t.b, sizeof t.b, "pt.bin", &pt, &f),
             ESPFAB_E_PARTITION_TABLE_BAD);
}

/* ---- the rules ---- */

static uint8_t *boot32, *app32, *raw8k, *bootS3, *v1;
static size_t boot32_len, app32_len, raw8k_len, bootS3_len, v1_len;

static int check(const espfab_region_t *r, const uint8_t *const *d, const espfab_region_kind_t *k,
                 size_t n, espfab_chip_id_t chip, uint32_t flash, unsigned flags, size_t *at,
                 espfab_fault_t *f)
{
    espfab_fault_clear(f);
    return espfab_regions_check_layout(r, d, k, n, chip == ESPFAB_CHIP_UNKNOWN ? NULL : espfab_chip_get(chip),
                                       flash, flags, at, f);
}

static void test_elf(void)
{
    uint8_t elf[64] = {0x7F, 'E', 'L', 'F', 1, 1, 1};
    CHECK(espfab_image_is_elf(elf, sizeof elf));
    CHECK(!espfab_image_is_elf(app32, app32_len));
    espfab_region_t r[] = {{0x10000, "app.elf", sizeof elf}};
    const uint8_t *d[] = {elf};
    espfab_region_kind_t data = ESPFAB_REGION_DATA;
    espfab_fault_t f;
    size_t at = 9;
    /* always: chip unknown, declared data, kinds unknown, --force */
    CHECK_EQ(check(r, d, NULL, 1, ESPFAB_CHIP_UNKNOWN, 0, 0, &at, &f), ESPFAB_E_IMAGE_ELF);
    CHECK_EQ(at, 0);
    CHECK_CONTAINS(f.detail, "esptool elf2image app.elf");
    CHECK_EQ(check(r, d, &data, 1, ESPFAB_CHIP_ESP32, 0, ESPFAB_LAYOUT_DECLARED, NULL, &f),
             ESPFAB_E_IMAGE_ELF);
    CHECK_EQ(check(r, d, NULL, 1, ESPFAB_CHIP_ESP32, 0, ESPFAB_LAYOUT_FORCE, NULL, &f), ESPFAB_E_IMAGE_ELF);
    CHECK_EQ(check(r, d, NULL, 1, ESPFAB_CHIP_ESP32, 0, ESPFAB_LAYOUT_KINDS_UNKNOWN, NULL, &f),
             ESPFAB_E_IMAGE_ELF);
    /* bytes unknown: nothing to judge */
    CHECK_EQ(check(r, NULL, NULL, 1, ESPFAB_CHIP_ESP32, 0, ESPFAB_LAYOUT_DECLARED, NULL, &f), 0);
}

static void test_no_table(void)
{
    espfab_fault_t f;
    const unsigned prof = ESPFAB_LAYOUT_DECLARED | ESPFAB_LAYOUT_DEFAULT_APP;
    const unsigned cli = ESPFAB_LAYOUT_DEFAULT_APP, sess = ESPFAB_LAYOUT_KINDS_UNKNOWN;
    espfab_region_t ok[] = {{0x1000, "bl.bin", boot32_len}, {0x10000, "app.bin", app32_len}};
    const uint8_t *okd[] = {boot32, app32};
    CHECK_EQ(check(ok, okd, NULL, 2, ESPFAB_CHIP_ESP32, 4u << 20, prof, NULL, &f), 0);

    /* raw data at the bootloader offset: refused by every caller, declared or not */
    espfab_region_t bl[] = {{0x1000, "bl.bin", raw8k_len}};
    const uint8_t *rawd[] = {raw8k};
    espfab_region_kind_t data = ESPFAB_REGION_DATA, image = ESPFAB_REGION_IMAGE;
    CHECK_EQ(check(bl, rawd, NULL, 1, ESPFAB_CHIP_ESP32, 0, sess, NULL, &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    CHECK_CONTAINS(f.detail, "0x1000 is where the ESP32 boots its bootloader from");
    CHECK_EQ(check(bl, rawd, &data, 1, ESPFAB_CHIP_ESP32, 0, prof, NULL, &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    /* ... which is 0x0 on the S3: 0x1000 there is just an offset */
    CHECK_EQ(check(bl, rawd, NULL, 1, ESPFAB_CHIP_ESP32S3, 0, cli, NULL, &f), 0);
    /* chip not known yet: left for the board */
    CHECK_EQ(check(bl, rawd, NULL, 1, ESPFAB_CHIP_UNKNOWN, 0, cli, NULL, &f), 0);

    /* raw data at 0x10000: the ESP32 family's app offset (CLI, profile) */
    espfab_region_t app[] = {{0x10000, "app.bin", raw8k_len}};
    CHECK_EQ(check(app, rawd, NULL, 1, ESPFAB_CHIP_ESP32C3, 0, cli, NULL, &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    CHECK_CONTAINS(f.detail, "app.bin at 0x10000 is raw data");
    CHECK_EQ(check(app, rawd, NULL, 1, ESPFAB_CHIP_ESP32, 0, prof, NULL, &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    CHECK_EQ(check(app, rawd, &data, 1, ESPFAB_CHIP_ESP32, 0, prof, NULL, &f), 0); /* declared */
    CHECK_EQ(check(app, rawd, NULL, 1, ESPFAB_CHIP_ESP32, 0, sess, NULL, &f), 0);  /* the session */
    CHECK_EQ(check(app, rawd, NULL, 1, ESPFAB_CHIP_ESP8266, 0, cli, NULL, &f), 0); /* NONOS IROM */
    CHECK_EQ(check(app, rawd, &image, 1, ESPFAB_CHIP_ESP8266, 0, prof, NULL, &f),
             ESPFAB_E_IMAGE_NOT_IMAGE); /* kind = image */

    /* raw data elsewhere: a profile must declare it; the command line cannot */
    espfab_region_t fs[] = {{0x200000, "fs.bin", raw8k_len}};
    CHECK_EQ(check(fs, rawd, NULL, 1, ESPFAB_CHIP_ESP32, 0, prof, NULL, &f), ESPFAB_E_IMAGE_UNDECLARED_DATA);
    CHECK_CONTAINS(f.detail, "kind = data");
    CHECK_EQ(check(fs, rawd, &data, 1, ESPFAB_CHIP_ESP32, 0, prof, NULL, &f), 0);
    CHECK_EQ(check(fs, rawd, NULL, 1, ESPFAB_CHIP_ESP32, 0, cli, NULL, &f), 0);

    /* a bootloader at another chip's offset */
    espfab_region_t b0[] = {{0x0, "bl.bin", boot32_len}};
    const uint8_t *b0d[] = {boot32};
    CHECK_EQ(check(b0, b0d, NULL, 1, ESPFAB_CHIP_ESP32, 0, sess, NULL, &f), ESPFAB_E_IMAGE_BOOT_OFFSET);
    CHECK_CONTAINS(f.detail, "boots its bootloader from 0x1000");
    espfab_region_t b1[] = {{0x1000, "bl.bin", bootS3_len}};
    const uint8_t *b1d[] = {bootS3};
    CHECK_EQ(check(b1, b1d, NULL, 1, ESPFAB_CHIP_ESP32S3, 0, sess, NULL, &f), ESPFAB_E_IMAGE_BOOT_OFFSET);
    CHECK_CONTAINS(f.detail, "ESP32-S3 boots its bootloader from 0x0");
    /* ESP8266: images at 0x1000 are normal (NONOS FOTA user1.bin) */
    espfab_region_t e8[] = {{0x1000, "user1.bin", v1_len}};
    const uint8_t *e8d[] = {v1};
    CHECK_EQ(check(e8, e8d, NULL, 1, ESPFAB_CHIP_ESP8266, 0, cli, NULL, &f), 0);
}

static void test_with_table(void)
{
    espfab_fault_t f;
    const unsigned prof = ESPFAB_LAYOUT_DECLARED | ESPFAB_LAYOUT_DEFAULT_APP;
    const unsigned cli = ESPFAB_LAYOUT_DEFAULT_APP, sess = ESPFAB_LAYOUT_KINDS_UNKNOWN;
    pt_t t;
    idf_table(&t, 0x100000);
    espfab_region_t r[4] = {{0x1000, "bl.bin", boot32_len}, {0x8000, "pt.bin", 0xC00},
                            {0x10000, "app.bin", app32_len}, {0x9000, "nvs.bin", raw8k_len}};
    const uint8_t *d[4] = {boot32, t.b, app32, raw8k};
    size_t at = 99;
    CHECK_EQ(check(r, d, NULL, 4, ESPFAB_CHIP_ESP32, 4u << 20, prof, &at, &f), 0);
    CHECK_EQ(check(r, d, NULL, 4, ESPFAB_CHIP_UNKNOWN, 0, cli, &at, &f), 0);

    /* raw data in the app partition: refused, even in the session */
    d[2] = raw8k;
    r[2].len = raw8k_len;
    CHECK_EQ(check(r, d, NULL, 3, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    CHECK_EQ(at, 2);
    CHECK_CONTAINS(f.detail, "app partition 'factory' of pt.bin");
    d[2] = app32;
    r[2].len = app32_len;

    /* the app does not fit its partition */
    idf_table(&t, 0x8000);
    CHECK_EQ(check(r, d, NULL, 3, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_PARTITION_MISFIT);
    CHECK_CONTAINS(f.detail, "past the end of its app partition 'factory'");
    idf_table(&t, 0x100000);

    /* data running out of nvs into phy_init */
    espfab_region_t big[] = {{0x8000, "pt.bin", 0xC00}, {0x9000, "nvs.bin", 0x7000}};
    uint8_t *nvs = calloc(1, 0x7000);
    const uint8_t *bigd[] = {t.b, nvs};
    CHECK_EQ(check(big, bigd, NULL, 2, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_PARTITION_MISFIT);
    CHECK_EQ(at, 1);
    /* an image in a data partition (unless declared data) */
    espfab_region_t inv[] = {{0x8000, "pt.bin", 0xC00}, {0x9000, "app.bin", 0x4000}};
    const uint8_t *invd[] = {t.b, app32};
    espfab_region_kind_t k[] = {ESPFAB_REGION_AUTO, ESPFAB_REGION_AUTO};
    CHECK_EQ(check(inv, invd, k, 2, ESPFAB_CHIP_ESP32, 0, cli, &at, &f), ESPFAB_E_PARTITION_MISFIT);
    CHECK_CONTAINS(f.detail, "'nvs'");
    k[1] = ESPFAB_REGION_DATA;
    CHECK_EQ(check(inv, invd, k, 2, ESPFAB_CHIP_ESP32, 0, prof, &at, &f), 0);
    CHECK_EQ(check(inv, invd, NULL, 2, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), 0);

    /* raw data outside every partition: declared only */
    espfab_region_t out[] = {{0x8000, "pt.bin", 0xC00}, {0x300000, "fs.bin", raw8k_len}};
    const uint8_t *outd[] = {t.b, raw8k};
    CHECK_EQ(check(out, outd, NULL, 2, ESPFAB_CHIP_ESP32, 0, cli, &at, &f), ESPFAB_E_IMAGE_UNDECLARED_DATA);
    CHECK_EQ(check(out, outd, k, 2, ESPFAB_CHIP_ESP32, 0, prof, &at, &f), 0);
    /* ... and not running into a partition */
    pt_t gap;
    memset(&gap, 0, sizeof gap);
    pt_add(&gap, 0x00, 0x00, 0x10000, 0x100000, "factory");
    pt_add(&gap, 0x01, 0x82, 0x200000, 0x10000, "spiffs");
    pt_end(&gap, true);
    espfab_region_t into[] = {{0x8000, "pt.bin", 0xC00}, {0x1FF000, "fs.bin", 0x2000}};
    const uint8_t *intod[] = {gap.b, nvs};
    CHECK_EQ(check(into, intod, k, 2, ESPFAB_CHIP_ESP32, 0, prof, &at, &f), ESPFAB_E_PARTITION_MISFIT);
    CHECK_CONTAINS(f.detail, "runs into partition 'spiffs'");

    /* the table does not fit the flash */
    CHECK_EQ(check(r, d, NULL, 3, ESPFAB_CHIP_ESP32, 1u << 20, sess, &at, &f), ESPFAB_E_PARTITION_PAST_FLASH);
    CHECK_EQ(at, 1);
    CHECK_CONTAINS(f.detail, "'factory'");

    /* an image outside every partition away from the bootloader offset */
    espfab_region_t wrong[] = {{0x0, "bl.bin", boot32_len}, {0x8000, "pt.bin", 0xC00}};
    const uint8_t *wrongd[] = {boot32, t.b};
    CHECK_EQ(check(wrong, wrongd, NULL, 2, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_IMAGE_BOOT_OFFSET);
    CHECK_EQ(at, 0);

    /* a damaged table among the regions, and two tables */
    pt_t bad = t;
    bad.b[5] ^= 0x10;
    const uint8_t *badd[] = {boot32, bad.b, app32};
    CHECK_EQ(check(r, badd, NULL, 3, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK_EQ(at, 1);
    espfab_region_t two[] = {{0x8000, "pt.bin", 0xC00}, {0x300000, "pt2.bin", 0xC00}};
    const uint8_t *twod[] = {t.b, t.b};
    CHECK_EQ(check(two, twod, NULL, 2, ESPFAB_CHIP_ESP32, 0, sess, &at, &f), ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK_CONTAINS(f.detail, "both partition tables");
    free(nvs);
}

/* Issue 16 item 12: a FIFO named as an image is refused at once, without
 * blocking in open() for a writer that never comes. */
static void test_fifo_refused(void)
{
    char path[] = "/tmp/espfab-test-fifo-XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    char fifo[64];
    snprintf(fifo, sizeof fifo, "%s/fw.bin", path);
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    alarm(10); /* a hang fails the test instead of the suite's timeout */
    uint8_t *buf = (uint8_t *)1;
    size_t len = 7;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_image_load(fifo, &buf, &len, &f), ESPFAB_E_IMAGE_NOT_FILE);
    alarm(0);
    CHECK_CONTAINS(f.detail, "is a FIFO (named pipe), not a regular file");
    CHECK(buf == NULL && len == 0);
    CHECK_EQ(espfab_image_load("/dev/null", &buf, &len, &f), ESPFAB_E_IMAGE_NOT_FILE);
    CHECK_CONTAINS(f.detail, "character device");
    unlink(fifo);
    rmdir(path);
}

int main(void)
{
    boot32 = mk("esp32", "bootloader", "20k", &boot32_len);
    app32 = mk("esp32", "app", "64k", &app32_len);
    raw8k = mk("esp32", "raw", "8k", &raw8k_len);
    bootS3 = mk("esp32s3", "bootloader", "20k", &bootS3_len);
    v1 = mk("esp8266", "v1", "8k", &v1_len);
    RUN(test_partition_table);
    RUN(test_elf);
    RUN(test_no_table);
    RUN(test_with_table);
    RUN(test_fifo_refused);
    free(boot32);
    free(app32);
    free(raw8k);
    free(bootS3);
    free(v1);
    return check_summary();
}
