/*
 * test_image_tools.c - what `espfab image-info`, `espfab merge` and the
 * --port choice are built on: espfab_image_segments / _app_desc /
 * _header_names (describe.c), espfab_image_merge (merge.c) and
 * espfab_port__pick (src/port/list.c).  Images come from espfab-mkimage
 * (written independently of src/image); the merged image expected is
 * computed here byte by byte from the format facts (docs/protocol.md 6.4),
 * not with src/image, and the `espfab merge` command's output file is
 * compared with it too.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "espfab/image.h"
#include "port/list.h"

#define MKIMAGE ESPFAB_BINARY_DIR "/tools/mkimage/espfab-mkimage"
#define ESPFAB ESPFAB_BINARY_DIR "/espfab"

static char tmpdir[256];

static int mk(const char *args, const char *name, uint8_t **buf, size_t *len)
{
    char cmd[1024], out[512];
    snprintf(out, sizeof(out), "%s/%s", tmpdir, name);
    snprintf(cmd, sizeof(cmd), "%s %s -o %s", MKIMAGE, args, out);
    if (system(cmd) != 0) {
        fprintf(stderr, "mkimage failed: %s\n", cmd);
        return -1;
    }
    espfab_fault_t f;
    return espfab_image_load(out, buf, len, &f);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- describe.c ---- */

static void test_segments_and_app_desc(void)
{
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(mk("--chip esp32s3 --size 16k --hash --app-desc blink:1.2.3 --min-rev 3 --max-rev 199",
             "s3.bin", &b, &n) == 0);
    espfab_image_info_t info;
    CHECK_EQ(espfab_image_parse(b, n, "s3.bin", &info, NULL), 0);
    espfab_image_segment_t seg[ESPFAB_IMAGE_SEGMENTS_MAX];
    size_t k = espfab_image_segments(b, n, &info, seg, ESPFAB_IMAGE_SEGMENTS_MAX);
    CHECK_EQ(k, 6);
    /* Walk the headers by hand: 24-byte header, then address/length pairs. */
    size_t off = 24;
    for (size_t i = 0; i < k; i++) {
        CHECK_EQ(seg[i].file_offset, off);
        CHECK_EQ(seg[i].addr, rd32(b + off));
        CHECK_EQ(seg[i].len, rd32(b + off + 4));
        off += 8 + seg[i].len;
    }
    CHECK_STR(seg[0].region, "DROM");
    CHECK_STR(seg[2].region, "PADDING");
    CHECK_EQ(seg[2].addr, 0);

    espfab_app_desc_t d;
    CHECK(espfab_image_app_desc(b, n, &info, &d));
    CHECK_STR(d.project_name, "blink");
    CHECK_STR(d.version, "1.2.3");
    CHECK_STR(d.idf_ver, "v5.3.1");
    CHECK_STR(d.date, "Jan 15 2026");
    CHECK_STR(d.time, "12:34:56");
    uint8_t md[32];
    unsigned int mdlen = 0;
    EVP_Digest("blink:1.2.3", 11, md, &mdlen, EVP_sha256(), NULL);
    CHECK(memcmp(d.elf_sha256, md, 32) == 0);
    CHECK_EQ(d.mmu_page_size_log2, 16);

    espfab_image_header_names_t h;
    espfab_image_header_names(&info, &h);
    CHECK_STR(h.mode, "dio");
    CHECK_STR(h.freq, "80m");
    CHECK_STR(h.size, "4MB");
    free(b);

    /* The same app without the description: nothing found. */
    CHECK(mk("--chip esp32s3 --size 16k", "s3n.bin", &b, &n) == 0);
    CHECK_EQ(espfab_image_parse(b, n, "s3n.bin", &info, NULL), 0);
    CHECK(!espfab_image_app_desc(b, n, &info, &d));
    free(b);
}

static void test_esp8266_segments(void)
{
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(mk("--chip esp8266 --kind v2 --size 8k", "v2.bin", &b, &n) == 0);
    espfab_image_info_t info;
    CHECK_EQ(espfab_image_parse(b, n, "v2.bin", &info, NULL), 0);
    espfab_image_segment_t seg[ESPFAB_IMAGE_SEGMENTS_MAX];
    size_t k = espfab_image_segments(b, n, &info, seg, ESPFAB_IMAGE_SEGMENTS_MAX);
    CHECK_EQ(k, 3);
    CHECK_EQ(seg[0].addr, 0);
    CHECK_EQ(seg[0].file_offset, 8);
    /* second header right after the IROM segment, then the RAM segments */
    size_t second = 16 + seg[0].len;
    CHECK_EQ(b[second], 0xE9);
    CHECK_EQ(seg[1].file_offset, second + 8);
    CHECK_EQ(seg[1].addr, 0x40100000u);
    CHECK_STR(seg[1].region, "IRAM");
    espfab_app_desc_t d;
    CHECK(!espfab_image_app_desc(b, n, &info, &d));
    free(b);
}

static void test_header_names(void)
{
    espfab_image_info_t i;
    memset(&i, 0, sizeof(i));
    espfab_image_header_names_t h;
    i.chip = ESPFAB_CHIP_ESP32C2;
    i.flash_mode = 3;
    i.flash_size_freq = 0x4F;
    espfab_image_header_names(&i, &h);
    CHECK_STR(h.mode, "dout");
    CHECK_STR(h.freq, "60m");
    CHECK_STR(h.size, "16MB");
    i.chip = ESPFAB_CHIP_ESP8266;
    i.flash_mode = 7;
    i.flash_size_freq = 0x53;
    espfab_image_header_names(&i, &h);
    CHECK_STR(h.mode, "unknown (0x7)");
    CHECK_STR(h.freq, "unknown (0x3)");
    CHECK_STR(h.size, "2MB-c1");
    i.chip = ESPFAB_CHIP_ESP32C6;
    i.flash_size_freq = 0x80;
    espfab_image_header_names(&i, &h);
    CHECK_STR(h.freq, "80m/40m");
    CHECK_STR(h.size, "unknown (0x8)");

    char buf[16];
    CHECK_STR(espfab_partition_subtype_name(0x00, 0x13, buf, sizeof(buf)), "ota_3");
    CHECK_STR(espfab_partition_subtype_name(0x01, 0x82, buf, sizeof(buf)), "spiffs");
    CHECK_STR(espfab_partition_subtype_name(0x40, 0x07, buf, sizeof(buf)), "0x07");
}

static void test_partition_md5_bad(void)
{
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(mk("--chip esp32 --kind partition-table", "pt.bin", &b, &n) == 0);
    espfab_partition_table_t t;
    CHECK_EQ(espfab_partition_table_parse(b, n, "pt.bin", &t, NULL), 0);
    CHECK(t.has_md5 && !t.md5_bad);
    b[0x60 + 16] ^= 1; /* the MD5 after three entries */
    espfab_fault_t f;
    CHECK_EQ(espfab_partition_table_parse(b, n, "pt.bin", &t, &f), ESPFAB_E_PARTITION_TABLE_BAD);
    CHECK(t.md5_bad);
    CHECK_EQ(t.n, 3);
    CHECK_STR(t.p[2].label, "factory");
    free(b);
}

/* ---- merge.c ---- */

typedef struct parts3 {
    uint8_t *bl, *pt, *app;
    size_t bl_n, pt_n, app_n;
} parts3_t;

static int make_parts(parts3_t *p)
{
    memset(p, 0, sizeof(*p));
    return mk("--chip esp32 --kind bootloader --size 16k --hash", "bl.bin", &p->bl, &p->bl_n) |
           mk("--chip esp32 --kind partition-table", "pt.bin", &p->pt, &p->pt_n) |
           mk("--chip esp32 --size 40k --app-desc blink:1.2.3", "app.bin", &p->app, &p->app_n);
}

static void free_parts(parts3_t *p)
{
    free(p->bl);
    free(p->pt);
    free(p->app);
}

/* The ESP32 merge of bl@0x1000, pt@0x8000, app@0x10000 with qio/80m/8MB,
 * filled to 2 MiB, computed from the facts: 0xFF everywhere, each file at
 * its offset, header byte 2 = 0 (QIO), byte 3 = 0x30 (8MB) | 0xF (80m), the
 * bootloader's appended SHA-256 recomputed over its bytes before it. */
static uint8_t *expected_merge(const parts3_t *p, size_t *len)
{
    *len = 2u << 20;
    uint8_t *e = malloc(*len);
    memset(e, 0xFF, *len);
    memcpy(e + 0x1000, p->bl, p->bl_n);
    memcpy(e + 0x8000, p->pt, p->pt_n);
    memcpy(e + 0x10000, p->app, p->app_n);
    e[0x1000 + 2] = 0x00;
    e[0x1000 + 3] = 0x3F;
    unsigned int n = 0;
    EVP_Digest(e + 0x1000, p->bl_n - 32, e + 0x1000 + p->bl_n - 32, &n, EVP_sha256(), NULL);
    return e;
}

static void test_merge_bytes(void)
{
    parts3_t p;
    CHECK(make_parts(&p) == 0);
    /* given out of order: merge sorts them */
    espfab_merge_part_t parts[3] = {
        {0x10000, "app.bin", p.app, p.app_n},
        {0x1000, "bl.bin", p.bl, p.bl_n},
        {0x8000, "pt.bin", p.pt, p.pt_n},
    };
    espfab_flash_params_t fp = {ESPFAB_FLASH_MODE_QIO, ESPFAB_FLASH_FREQ_80M, 8u << 20, false};
    uint8_t *out = NULL;
    size_t out_n = 0;
    bool patched = false;
    espfab_fault_t f;
    CHECK_EQ(espfab_image_merge(parts, 3, espfab_chip_by_key("esp32"), &fp, 2u << 20, &out,
                                &out_n, &patched, &f), 0);
    size_t en;
    uint8_t *e = expected_merge(&p, &en);
    CHECK_EQ(out_n, en);
    CHECK(out && memcmp(out, e, en) == 0);
    CHECK(patched);
    /* the input buffers are not touched */
    CHECK_EQ(p.bl[2], 0x02);
    free(out);

    /* The command writes the same bytes. */
    char cmd[2048], path[512];
    snprintf(path, sizeof(path), "%s/merged.bin", tmpdir);
    snprintf(cmd, sizeof(cmd),
             "%s merge -o %s --chip esp32 --flash-mode qio --flash-freq 80m --flash-size 8MB "
             "--fill-flash-size 2MB 0x10000 %s/app.bin 0x1000 %s/bl.bin 0x8000 %s/pt.bin >/dev/null",
             ESPFAB, path, tmpdir, tmpdir, tmpdir);
    CHECK_EQ(system(cmd), 0);
    uint8_t *got = NULL;
    size_t got_n = 0;
    CHECK_EQ(espfab_image_load(path, &got, &got_n, &f), 0);
    CHECK_EQ(got_n, en);
    CHECK(got && memcmp(got, e, en) == 0);
    free(got);

    /* Without flash options or fill: the files as they are, ending at the app's end. */
    CHECK_EQ(espfab_image_merge(parts, 3, NULL, NULL, 0, &out, &out_n, &patched, &f), 0);
    CHECK_EQ(out_n, 0x10000 + p.app_n);
    CHECK(!patched);
    CHECK(memcmp(out + 0x1000, p.bl, p.bl_n) == 0);
    CHECK_EQ(out[0], 0xFF);
    CHECK_EQ(out[0x1000 + p.bl_n], 0xFF);
    free(out);
    free(e);
    free_parts(&p);
}

static void test_merge_refusals(void)
{
    parts3_t p;
    CHECK(make_parts(&p) == 0);
    const espfab_chip_t *esp32 = espfab_chip_by_key("esp32");
    uint8_t *out = NULL;
    size_t out_n = 0;
    espfab_fault_t f;
    espfab_merge_part_t overlap[2] = {
        {0x1000, "bl.bin", p.bl, p.bl_n},
        {0x4000, "pt.bin", p.pt, p.pt_n},
    };
    CHECK_EQ(espfab_image_merge(overlap, 2, esp32, NULL, 0, &out, &out_n, NULL, &f),
             ESPFAB_E_REGION_OVERLAP);
    CHECK(strstr(f.detail, "bl.bin") && strstr(f.detail, "pt.bin"));
    CHECK(out == NULL);

    espfab_merge_part_t one[1] = {{0x10000, "app.bin", p.app, p.app_n}};
    CHECK_EQ(espfab_image_merge(one, 1, esp32, NULL, 0x10000, &out, &out_n, NULL, &f),
             ESPFAB_E_REGION_PAST_FLASH);
    espfab_flash_params_t detect = {ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP,
                                    ESPFAB_FLASH_SIZE_DETECT, false};
    CHECK_EQ(espfab_image_merge(one, 1, esp32, &detect, 0, &out, &out_n, NULL, &f),
             ESPFAB_E_FLASH_PARAM);
    espfab_flash_params_t qio = {ESPFAB_FLASH_MODE_QIO, ESPFAB_FLASH_FREQ_KEEP, 0, false};
    CHECK_EQ(espfab_image_merge(one, 1, NULL, &qio, 0, &out, &out_n, NULL, &f), ESPFAB_E_USAGE);
    espfab_flash_params_t c2freq = {ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_60M, 0, false};
    CHECK_EQ(espfab_image_merge(one, 1, esp32, &c2freq, 0, &out, &out_n, NULL, &f),
             ESPFAB_E_FLASH_PARAM);
    CHECK(out == NULL);

    /* The command leaves an existing output untouched when it refuses. */
    char path[512], cmd[2048];
    snprintf(path, sizeof(path), "%s/keep.bin", tmpdir);
    FILE *fp = fopen(path, "wb");
    fputs("old", fp);
    fclose(fp);
    snprintf(cmd, sizeof(cmd), "%s merge -o %s 0x1000 %s/bl.bin 0x4000 %s/pt.bin 2>/dev/null",
             ESPFAB, path, tmpdir, tmpdir);
    CHECK_EQ(WEXITSTATUS(system(cmd)), 2);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 3);

    /* Images for two chips: refused, naming both files (or the --chip). */
    uint8_t *s3 = NULL;
    size_t s3_n = 0;
    CHECK(mk("--chip esp32s3 --size 8k", "s3app.bin", &s3, &s3_n) == 0);
    free(s3);
    char errp[512];
    snprintf(errp, sizeof(errp), "%s/err.txt", tmpdir);
    snprintf(cmd, sizeof(cmd), "%s merge -o %s/x.bin 0x1000 %s/bl.bin 0x10000 %s/s3app.bin 2>%s",
             ESPFAB, tmpdir, tmpdir, tmpdir, errp);
    CHECK_EQ(WEXITSTATUS(system(cmd)), 2);
    uint8_t *msg = NULL;
    size_t msg_n = 0;
    CHECK_EQ(espfab_image_load(errp, &msg, &msg_n, &f), 0);
    CHECK(msg && strstr((char *)msg, "bl.bin") && strstr((char *)msg, "s3app.bin"));
    free(msg);
    snprintf(cmd, sizeof(cmd), "%s merge -o %s/x.bin --chip esp32 0x10000 %s/s3app.bin 2>%s",
             ESPFAB, tmpdir, tmpdir, errp);
    CHECK_EQ(WEXITSTATUS(system(cmd)), 2);
    msg = NULL;
    CHECK_EQ(espfab_image_load(errp, &msg, &msg_n, &f), 0);
    CHECK(msg && strstr((char *)msg, "s3app.bin") && strstr((char *)msg, "--chip esp32"));
    free(msg);
    CHECK(access(path, F_OK) == 0);
    free_parts(&p);
}

/* ---- the --port choice ---- */

static espfab_port_desc_t port(const char *path, int vid, int pid, const char *bridge)
{
    espfab_port_desc_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.path, sizeof(d.path), "%s", path);
    d.usb_vid = vid;
    d.usb_pid = pid;
    snprintf(d.bridge, sizeof(d.bridge), "%s", bridge);
    return d;
}

static void test_port_pick(void)
{
    espfab_port_desc_t d[3];
    memset(d, 0, sizeof(d));
    size_t at = 99;
    espfab_fault_t f;
    CHECK_EQ(espfab_port__pick(d, 0, &at, &f), ESPFAB_E_PORT_NONE_PRESENT);
    CHECK_EQ(at, 99);

    d[0] = port("/dev/ttyS0", -1, -1, "");
    CHECK_EQ(espfab_port__pick(d, 1, &at, &f), ESPFAB_E_PORT_NONE_PRESENT);
    CHECK(strstr(f.detail, "not USB") != NULL);

    d[1] = port("/dev/ttyUSB0", 0x10c4, 0xea60, "CP210x");
    CHECK_EQ(espfab_port__pick(d, 2, &at, &f), 0);
    CHECK_EQ(at, 1);

    d[2] = port("/dev/ttyACM0", 0x303a, 0x1001, "ESP USB-JTAG-Serial");
    CHECK_EQ(espfab_port__pick(d, 3, &at, &f), ESPFAB_E_PORT_AMBIGUOUS);
    CHECK(strstr(f.detail, "2 USB serial ports") != NULL);

    char *text = NULL;
    size_t tlen = 0;
    FILE *m = open_memstream(&text, &tlen);
    espfab_port__format_choices(m, d, 3);
    fclose(m);
    CHECK_STR(text, "  /dev/ttyUSB0  10c4:ea60  CP210x\n"
                    "  /dev/ttyACM0  303a:1001  ESP USB-JTAG-Serial\n");
    free(text);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/espfab-imgtools-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(test_segments_and_app_desc);
    RUN(test_esp8266_segments);
    RUN(test_header_names);
    RUN(test_partition_md5_bad);
    RUN(test_merge_bytes);
    RUN(test_merge_refusals);
    RUN(test_port_pick);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}
