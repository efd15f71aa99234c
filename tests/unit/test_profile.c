/* test_profile.c - INI profiles: values, defaults, every validation error
 * with its file:line, image checks with images from espfab-mkimage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "espfab/profile.h"

#define MKIMAGE ESPFAB_BINARY_DIR "/tools/mkimage/espfab-mkimage"

static char dir[256];
static espfab_profile_t prof; /* large: static */

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

static void mkimage(const char *chip, const char *kind, const char *size, const char *out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --chip %s --kind %s --size %s --seed 7 -o '%s/%s'", MKIMAGE,
             chip, kind, size, dir, out);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        exit(1);
    }
}

/* SHA-256 by an independent tool. */
static void sha256sum(const char *name, char out[65])
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sha256sum '%s/%s'", dir, name);
    FILE *p = popen(cmd, "r");
    out[0] = '\0';
    if (p) {
        if (fscanf(p, "%64s", out) != 1)
            out[0] = '\0';
        pclose(p);
    }
}

/* Writes text as NAME and loads it; returns the code. */
static int load_text(const char *name, const char *text, espfab_fault_t *f)
{
    write_file(name, text);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    espfab_fault_clear(f);
    return espfab_profile_load(path, &prof, f);
}

static void test_full_profile(void)
{
    const char *ini =
        "; ESP-IDF app for ESP32\n"
        "[profile]\n"
        "name = idf-app\n"
        "chip = ESP32\n"
        "baud = 921600\n"
        "flash_mode = dio\n"
        "flash_freq = 40m\n"
        "flash_size = 4MB\n"
        "before = no_reset\n"
        "after = soft_reset\n"
        "stub = no\n"
        "compress = off\n"
        "erase = all\n"
        "verify = yes   ; check MD5\n"
        "min_rev = 1.0\n"
        "max_rev = v3.99\n"
        "\n"
        "[image app]\n"
        "  file = app.bin\n"
        "  offset = 0x10000\n"
        "[image bootloader]\n"
        "file = bl.bin\n"
        "offset = 4096\n"
        "[image partitions]\n"
        "file = sub/pt.bin\n"
        "offset = 0x8000\n";
    mkimage("esp32", "app", "64k", "app.bin");
    mkimage("esp32", "bootloader", "20k", "bl.bin");
    char sub[300];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    mkdir(sub, 0755);
    mkimage("esp32", "partition-table", "3072", "sub/pt.bin");
    espfab_fault_t f;
    CHECK_EQ(load_text("full.ini", ini, &f), 0);
    if (f.code)
        fprintf(stderr, "fault: %s\n", f.detail);
    CHECK_STR(prof.name, "idf-app");
    CHECK_EQ(prof.chip, ESPFAB_CHIP_ESP32);
    CHECK_EQ(prof.baud, 921600);
    CHECK_STR(espfab_flash_mode_name(prof.flash.mode), "dio");
    CHECK_STR(espfab_flash_freq_name(prof.flash.freq), "40m");
    CHECK_EQ(prof.flash.size, 4u << 20); /* "4MB" */
    CHECK_EQ(prof.before, ESPFAB_RESET_NONE); /* "no-reset" */
    CHECK_EQ(prof.after, ESPFAB_AFTER_NO_RESET); /* "soft-reset" */
    CHECK(!prof.stub);
    CHECK(!prof.compress);
    CHECK(prof.verify);
    CHECK_EQ(prof.erase, ESPFAB_ERASE_ALL);
    CHECK_EQ(prof.min_rev_full, 100);
    CHECK_EQ(prof.max_rev_full, 399);
    CHECK_EQ(prof.nimages, 3);
    /* sorted by offset */
    CHECK_EQ(prof.images[0].offset, 0x1000);
    CHECK_STR(prof.images[0].name, "bootloader");
    CHECK_EQ(prof.images[1].offset, 0x8000);
    CHECK_STR(prof.images[1].file, "sub/pt.bin");
    CHECK_EQ(prof.images[2].offset, 0x10000);
    struct stat stb;
    char apath[600];
    snprintf(apath, sizeof apath, "%s/app.bin", dir);
    CHECK_EQ(stat(apath, &stb), 0);
    CHECK_EQ(prof.images[2].size, stb.st_size);
    CHECK(prof.images[2].size >= 65536);
    CHECK_EQ(prof.images[2].line, 18);
    char want[600];
    snprintf(want, sizeof want, "%s/sub/pt.bin", dir);
    char real[600];
    CHECK(realpath(want, real) != NULL);
    CHECK_STR(prof.images[1].path, real);
    CHECK(prof.images[1].path[0] == '/');
    CHECK_EQ(prof.images[1].info.format, ESPFAB_IMAGE_RAW);
    CHECK_EQ(prof.images[2].info.chip, ESPFAB_CHIP_ESP32);
    char sum[65];
    sha256sum("app.bin", sum);
    CHECK_STR(prof.images[2].sha256, sum);
    sha256sum("full.ini", sum);
    CHECK_STR(prof.sha256, sum);
    CHECK(prof.images[2].data != NULL);
    snprintf(want, sizeof want, "%s/full.ini", dir);
    CHECK(realpath(want, real) != NULL);
    CHECK_STR(prof.path, real);
    espfab_flash_params_t fp = prof.flash;
    CHECK_EQ(fp.mode, ESPFAB_FLASH_MODE_DIO);
    CHECK_EQ(fp.size, 4u << 20);
    espfab_profile_free(&prof);
    espfab_profile_free(&prof); /* twice is safe */
    CHECK_EQ(prof.nimages, 0);
}

static void test_defaults_and_syntax_variants(void)
{
    mkimage("esp32c3", "app", "8k", "c3.bin");
    /* BOM, CRLF, '#' comments, "key: value" */
    const char *ini = "\xEF\xBB\xBF# minimal\r\n[profile]\r\nchip: esp32-c3\r\n"
                      "[image fw]\r\nfile = c3.bin\r\noffset = 0\r\n";
    espfab_fault_t f;
    CHECK_EQ(load_text("minimal-c3.ini", ini, &f), 0);
    CHECK_STR(prof.name, "minimal-c3");
    CHECK_EQ(prof.chip, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(prof.baud, 460800);
    CHECK_EQ(prof.flash.mode, ESPFAB_FLASH_MODE_KEEP);
    CHECK_EQ(prof.flash.freq, ESPFAB_FLASH_FREQ_KEEP);
    CHECK_EQ(prof.flash.size, ESPFAB_FLASH_SIZE_KEEP);
    CHECK_EQ(prof.before, ESPFAB_RESET_AUTO); /* "default-reset" */
    CHECK_EQ(prof.after, ESPFAB_AFTER_HARD_RESET);
    CHECK(prof.stub && prof.compress && prof.verify);
    CHECK_EQ(prof.erase, ESPFAB_ERASE_NONE);
    CHECK_EQ(prof.min_rev_full, -1);
    CHECK_EQ(prof.max_rev_full, -1);
    CHECK_EQ(prof.nimages, 1);
    CHECK_EQ(prof.images[0].offset, 0);
    espfab_profile_free(&prof);
}

typedef struct {
    const char *what;
    const char *ini;
    int code;
    const char *detail; /* substring of the detail after "x.ini:" */
} bad_case_t;

static void test_errors(void)
{
    mkimage("esp32", "app", "64k", "e32.bin");
    mkimage("esp8266", "v1", "8k", "e8266.bin");
    mkimage("esp32", "raw", "8k", "raw8k.bin");
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "'%s' --chip esp32s3 --kind app --size 8k --min-rev 200 "
                 "--max-rev 299 -o '%s/rev2.bin'", MKIMAGE, dir);
        CHECK_EQ(system(cmd), 0);
    }
    const bad_case_t cases[] = {
        {"typo key", "[profile]\nchip = esp32\n[image app]\nfile = e32.bin\nofset = 0x10000\n",
         ESPFAB_E_CONFIG_UNKNOWN_KEY,
         "bad.ini:5: unknown key 'ofset' in [image app] (did you mean 'offset'?)"},
        {"typo section", "[profle]\nchip = esp32\n", ESPFAB_E_CONFIG_UNKNOWN_SECTION,
         "bad.ini:1: unknown section [profle] (did you mean [profile]?)"},
        {"typo image section", "[profile]\nchip = esp32\n[imgae app]\n",
         ESPFAB_E_CONFIG_UNKNOWN_SECTION, "bad.ini:3: unknown section [imgae app] (did you mean [image app]?)"},
        {"unnamed image", "[profile]\nchip = esp32\n[image]\n", ESPFAB_E_CONFIG_UNKNOWN_SECTION,
         "bad.ini:3: section [image] needs a name"},
        {"other section", "[profile]\nchip = esp32\n[wifi]\n", ESPFAB_E_CONFIG_UNKNOWN_SECTION,
         "bad.ini:3: unknown section [wifi] (sections: [profile], [image NAME])"},
        {"key in wrong section", "[profile]\nchip = esp32\noffset = 0\n",
         ESPFAB_E_CONFIG_UNKNOWN_KEY, "bad.ini:3: unknown key 'offset' in [profile] (it belongs in an [image NAME] section)"},
        {"profile key in image", "[profile]\nchip = esp32\n[image a]\nbaud = 9600\n",
         ESPFAB_E_CONFIG_UNKNOWN_KEY, "bad.ini:4: unknown key 'baud' in [image a] (it belongs in [profile])"},
        {"case of key", "[profile]\nChip = esp32\n", ESPFAB_E_CONFIG_UNKNOWN_KEY,
         "bad.ini:2: unknown key 'Chip' in [profile] (did you mean 'chip'?)"},
        {"bad number", "[profile]\nchip = esp32\nbaud = fast\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:3: bad number 'fast' for baud"},
        {"octal-looking offset ok, junk not", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\noffset = 0x1g000\n",
         ESPFAB_E_CONFIG_BAD_VALUE, "bad.ini:5: bad number '0x1g000' for offset"},
        {"offset overflow", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\noffset = 0x100000000\n",
         ESPFAB_E_CONFIG_BAD_VALUE, "bad.ini:5: bad number"},
        {"bad enum", "[profile]\nchip = esp32\nerase = some\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:3: bad value 'some' for erase (allowed: none, regions, all)"},
        {"bad bool", "[profile]\nchip = esp32\nverify = maybe\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:3: bad value 'maybe' for verify (allowed: yes, no)"},
        {"bad before", "[profile]\nchip = esp32\nbefore = reset\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "allowed: default-reset, usb-reset, no-reset, no-reset-no-sync"},
        {"bad chip", "[profile]\nchip = esp33\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:2: unknown chip 'esp33' (allowed: "},
        {"bad mode", "[profile]\nchip = esp32\nflash_mode = quad\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:3: bad value 'quad' for flash_mode (allowed: keep, qio, qout, dio, dout)"},
        {"bad rev", "[profile]\nchip = esp32\nmin_rev = 1.234\n", ESPFAB_E_CONFIG_BAD_VALUE,
         "bad.ini:3: bad revision '1.234' for min_rev"},
        {"rev range", "[profile]\nchip = esp32\nmin_rev = 3.0\nmax_rev = 1.0\n[image a]\nfile = e32.bin\noffset = 0x10000\n",
         ESPFAB_E_CONFIG_BAD_VALUE, "bad.ini:4: max_rev 1.0 is below min_rev 3.0"},
        {"freq for chip", "[profile]\nchip = esp32c2\nflash_freq = 80m\n[image a]\nfile = raw8k.bin\noffset = 0x10000\n",
         ESPFAB_E_FLASH_PARAM, "bad.ini:3: flash frequency '80m'"},
        {"duplicate key", "[profile]\nchip = esp32\nbaud = 115200\nbaud = 921600\n",
         ESPFAB_E_CONFIG_DUPLICATE, "bad.ini:4: duplicate key 'baud' in [profile] (first at line 3)"},
        {"duplicate profile", "[profile]\nchip = esp32\n[profile]\n", ESPFAB_E_CONFIG_DUPLICATE,
         "bad.ini:3: duplicate section [profile] (first at line 1)"},
        {"duplicate image", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\noffset = 0x10000\n[image a]\n",
         ESPFAB_E_CONFIG_DUPLICATE, "bad.ini:6: duplicate section [image a] (first at line 3)"},
        {"duplicate image key", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\nfile = x.bin\n",
         ESPFAB_E_CONFIG_DUPLICATE, "bad.ini:5: duplicate key 'file' in [image a]"},
        {"syntax", "[profile]\nchip = esp32\nthis line has no equals sign\n", ESPFAB_E_CONFIG_SYNTAX,
         "bad.ini:3: expected 'key = value' or '[section]', got 'this line has no equals sign'"},
        {"unclosed section", "[profile\nchip = esp32\n", ESPFAB_E_CONFIG_SYNTAX,
         "bad.ini:1: section header without ']'"},
        {"key before section", "chip = esp32\n[profile]\n", ESPFAB_E_CONFIG_SYNTAX,
         "bad.ini:1: key 'chip' before any section"},
        {"no profile", "[image a]\nfile = e32.bin\noffset = 0\n", ESPFAB_E_CONFIG_MISSING_KEY,
         "no [profile] section"},
        {"no chip", "[profile]\nname = x\n[image a]\nfile = e32.bin\noffset = 0\n",
         ESPFAB_E_CONFIG_MISSING_KEY, "bad.ini:1: [profile] has no 'chip'"},
        {"no images", "[profile]\nchip = esp32\n", ESPFAB_E_CONFIG_NO_IMAGES, "no [image NAME] section"},
        {"image without offset", "[profile]\nchip = esp32\n\n[image app]\nfile = e32.bin\n",
         ESPFAB_E_CONFIG_MISSING_KEY, "bad.ini:4: [image app] has no 'offset'"},
        {"missing file", "[profile]\nchip = esp32\n[image app]\nfile = nope.bin\noffset = 0x10000\n",
         ESPFAB_E_IMAGE_MISSING, "bad.ini:4: "},
        {"overlap", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\noffset = 0x10000\n"
                    "[image b]\nfile = raw8k.bin\noffset = 0x18000\n",
         ESPFAB_E_REGION_OVERLAP, "bad.ini:8: "},
        {"unaligned", "[profile]\nchip = esp32\n[image a]\nfile = e32.bin\noffset = 0x10000\n"
                      "[image b]\nfile = raw8k.bin\noffset = 0x30010\n",
         ESPFAB_E_REGION_UNALIGNED, "bad.ini:8: "},
        {"past flash", "[profile]\nchip = esp32\nflash_size = 1MB\n[image a]\nfile = e32.bin\noffset = 0xF8000\n",
         ESPFAB_E_REGION_PAST_FLASH, "bad.ini:6: "},
        {"wrong chip", "[profile]\nchip = esp8266\n[image a]\nfile = e32.bin\noffset = 0x0\n",
         ESPFAB_E_IMAGE_WRONG_CHIP, "bad.ini:4: "},
        {"image too new for the profile's boards",
         "[profile]\nchip = esp32s3\nmax_rev = 1.99\n[image a]\nfile = rev2.bin\noffset = 0x10000\n",
         ESPFAB_E_IMAGE_REVISION, "bad.ini:5: rev2.bin needs chip revision 2.0 or later, but the "
         "profile accepts boards up to 1.99 (max_rev)"},
        {"image too old for the profile's boards",
         "[profile]\nchip = esp32s3\nmin_rev = 3.0\n[image a]\nfile = rev2.bin\noffset = 0x10000\n",
         ESPFAB_E_IMAGE_REVISION, "bad.ini:5: rev2.bin runs on chip revisions up to 2.99"},
        {"wrong chip other way", "[profile]\nchip = esp32s3\n[image a]\nfile = e8266.bin\noffset = 0x0\n",
         ESPFAB_E_IMAGE_WRONG_CHIP, "bad.ini:4: "},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        espfab_fault_t f;
        int rc = load_text("bad.ini", cases[i].ini, &f);
        if (rc != cases[i].code || !strstr(f.detail, cases[i].detail))
            fprintf(stderr, "case '%s': rc %d (%s) detail '%s'\n", cases[i].what, rc,
                    espfab_err_name(rc) ? espfab_err_name(rc) : "?", f.detail);
        CHECK_EQ(rc, cases[i].code);
        CHECK_EQ(f.code, cases[i].code);
        CHECK_CONTAINS(f.detail, cases[i].detail);
        CHECK_EQ(prof.nimages, 0); /* nothing left to free */
    }
    /* a path that does not exist */
    espfab_fault_t f;
    char path[512];
    snprintf(path, sizeof path, "%s/none.ini", dir);
    CHECK_EQ(espfab_profile_load(path, &prof, &f), ESPFAB_E_CONFIG_OPEN);
    CHECK_EQ(f.sys_errno, 2);
    CHECK_CONTAINS(f.detail, "none.ini");
}

static void test_revision_range_ok(void)
{
    espfab_fault_t f;
    /* rev2.bin (2.0..2.99) fits a profile for 2.0..2.99 boards */
    CHECK_EQ(load_text("rev.ini", "[profile]\nchip = esp32s3\nmin_rev = 2.0\nmax_rev = 2.99\n"
                       "[image a]\nfile = rev2.bin\noffset = 0x10000\n", &f), 0);
    CHECK_EQ(prof.images[0].info.min_rev_full, 200);
    espfab_profile_free(&prof);
}

static void test_parse_from_memory(void)
{
    espfab_fault_t f;
    /* NUL byte and an over-long line */
    const char nul[] = "[profile]\nchip = esp32\nname = a\0b\n";
    CHECK_EQ(espfab_profile_parse(nul, sizeof nul - 1, "mem.ini", NULL, ESPFAB_PROFILE_NO_FILES,
                                  &prof, &f), ESPFAB_E_CONFIG_SYNTAX);
    CHECK_CONTAINS(f.detail, "mem.ini:3: NUL byte");
    char longl[600];
    snprintf(longl, sizeof longl, "[profile]\nchip = esp32\n[image a]\noffset = 0\nfile = %0300d\n", 5);
    CHECK_EQ(espfab_profile_parse(longl, strlen(longl), "mem.ini", NULL, ESPFAB_PROFILE_NO_FILES,
                                  &prof, &f), ESPFAB_E_CONFIG_SYNTAX);
    CHECK_CONTAINS(f.detail, "mem.ini:5: line is longer than");
    /* NO_FILES: syntax and values only, overlaps still refused */
    const char *ok = "[profile]\nchip = esp32s3\n[image a]\nfile = /nonexistent/a.bin\noffset = 0\n";
    CHECK_EQ(espfab_profile_parse(ok, strlen(ok), "mem.ini", NULL, ESPFAB_PROFILE_NO_FILES, &prof,
                                  &f), 0);
    CHECK_EQ(prof.chip, ESPFAB_CHIP_ESP32S3);
    CHECK(prof.images[0].data == NULL);
    CHECK_STR(prof.name, "mem");
    espfab_profile_free(&prof);
    const char *ov = "[profile]\nchip = esp32\n[image a]\nfile = a\noffset = 0x1000\n"
                     "[image b]\nfile = b\noffset = 0x1000\n";
    CHECK_EQ(espfab_profile_parse(ov, strlen(ov), "mem.ini", NULL, ESPFAB_PROFILE_NO_FILES, &prof,
                                  &f), ESPFAB_E_REGION_OVERLAP);
    /* the same text gives the same SHA-256 */
    char a[65], b[65];
    espfab_sha256_hex("abc", 3, a);
    CHECK_STR(a, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    espfab_sha256_hex("", 0, b);
    CHECK_STR(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* The shipped examples are valid profiles (their images are not here). */
static void test_shipped_examples_parse(void)
{
    const char *names[] = {"micropython-esp32.ini", "micropython-esp32s3.ini",
                           "micropython-esp32c3.ini", "micropython-esp8266.ini",
                           "esp-idf-app-esp32.ini", "esp-idf-app-esp32s3.ini"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/profiles/%s", ESPFAB_SOURCE_DIR, names[i]);
        FILE *fp = fopen(path, "rb");
        CHECK(fp != NULL);
        if (!fp)
            continue;
        char buf[8192];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        espfab_fault_t f;
        espfab_fault_clear(&f);
        int rc = espfab_profile_parse(buf, n, path, NULL, ESPFAB_PROFILE_NO_FILES, &prof, &f);
        if (rc)
            fprintf(stderr, "%s\n", f.detail);
        CHECK_EQ(rc, 0);
        CHECK(prof.nimages >= 1);
        espfab_profile_free(&prof);
    }
}

/* What may go where (issue 16): raw data must be declared (kind = data),
 * never at an app offset; an ELF never; the fault names file:line. */
static void test_kind_and_layout(void)
{
    mkimage("esp32", "app", "64k", "e32.bin");
    mkimage("esp32", "raw", "8k", "raw8k.bin");
    write_file("prog.elf", "\177ELF\001\001\001 not really, but the header is what counts");
    espfab_fault_t f;
    CHECK_EQ(load_text("k1.ini", "[profile]\nchip = esp32\n[image app]\nfile = e32.bin\n"
                                 "offset = 0x10000\n[image fs]\nfile = raw8k.bin\n"
                                 "offset = 0x200000\nkind = data\n", &f), 0);
    CHECK_EQ(prof.images[1].kind, ESPFAB_REGION_DATA);
    CHECK_EQ(prof.images[0].kind, ESPFAB_REGION_AUTO);
    espfab_profile_free(&prof);
    CHECK_EQ(load_text("k2.ini", "[profile]\nchip = esp32\n[image app]\nfile = e32.bin\n"
                                 "offset = 0x10000\n[image fs]\nfile = raw8k.bin\n"
                                 "offset = 0x200000\n", &f), ESPFAB_E_IMAGE_UNDECLARED_DATA);
    CHECK_CONTAINS(f.detail, "k2.ini:7: raw8k.bin at 0x200000 is raw data");
    CHECK_EQ(load_text("k3.ini", "[profile]\nchip = esp32\n[image app]\nfile = raw8k.bin\n"
                                 "offset = 0x10000\n", &f), ESPFAB_E_IMAGE_NOT_IMAGE);
    CHECK_CONTAINS(f.detail, "k3.ini:4: ");
    CHECK_EQ(load_text("k4.ini", "[profile]\nchip = esp32\n[image app]\nfile = prog.elf\n"
                                 "offset = 0x10000\nkind = data\n", &f), ESPFAB_E_IMAGE_ELF);
    CHECK_CONTAINS(f.detail, "k4.ini:6: prog.elf (for 0x10000) is an ELF file");
    CHECK_EQ(load_text("k5.ini", "[profile]\nchip = esp32\n[image app]\nfile = e32.bin\n"
                                 "offset = 0x10000\nkind = firmware\n", &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "k5.ini:6: bad value 'firmware' for kind (allowed: data, image, auto)");
    CHECK_EQ(load_text("k6.ini", "[profile]\nchip = esp32\nkind = data\n[image app]\n"
                                 "file = e32.bin\noffset = 0x10000\n", &f), ESPFAB_E_CONFIG_UNKNOWN_KEY);
    CHECK_EQ(load_text("k7.ini", "[profile]\nchip = esp32\n[image app]\nfile = e32.bin\n"
                                 "offset = 0x10000\nkind = data\nkind = data\n", &f),
             ESPFAB_E_CONFIG_DUPLICATE);
}

/* A FIFO given as the profile is refused at once (it used to wait for a
 * writer forever: issue 16 item 12).  The alarm turns a hang into a failure. */
static void test_fifo_profile_refused(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/fifo.ini", dir);
    CHECK_EQ(mkfifo(path, 0600), 0);
    espfab_profile_t p;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    alarm(5);
    int rc = espfab_profile_load(path, &p, &f);
    alarm(0);
    CHECK(rc < 0);
    CHECK(strstr(f.detail, "not a regular file") != NULL);
    unlink(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/espfab-test-profile-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_full_profile);
    RUN(test_defaults_and_syntax_variants);
    RUN(test_errors);
    RUN(test_revision_range_ok);
    RUN(test_parse_from_memory);
    RUN(test_shipped_examples_parse);
    RUN(test_kind_and_layout);
    RUN(test_fifo_profile_refused);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
