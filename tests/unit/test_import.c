/* test_import.c - ESP-IDF flasher_args.json -> profile, then loaded back. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "espfab/profile.h"

#define MKIMAGE ESPFAB_BINARY_DIR "/tools/mkimage/espfab-mkimage"

static char dir[256];
static espfab_profile_t prof;

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        exit(1);
    }
}

static void write_at(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *fp = fopen(p, "w");
    if (!fp) {
        perror(p);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

/* What ESP-IDF 5.x writes for hello_world on an ESP32 (trimmed). */
static const char *flasher_args =
    "{\n"
    "    \"write_flash_args\" : [ \"--flash_mode\", \"dio\",\n"
    "                           \"--flash_size\", \"4MB\",\n"
    "                           \"--flash_freq\", \"40m\" ],\n"
    "    \"flash_settings\" : {\n"
    "        \"flash_mode\": \"dio\",\n"
    "        \"flash_size\": \"4MB\",\n"
    "        \"flash_freq\": \"40m\"\n"
    "    },\n"
    "    \"flash_files\" : {\n"
    "        \"0x1000\" : \"bootloader/bootloader.bin\",\n"
    "        \"0x10000\" : \"hello_world.bin\",\n"
    "        \"0x8000\" : \"partition_table/partition-table.bin\"\n"
    "    },\n"
    "    \"bootloader\" : { \"offset\" : \"0x1000\", \"file\" : \"bootloader/bootloader.bin\", \"encrypted\" : \"false\" },\n"
    "    \"app\" : { \"offset\" : \"0x10000\", \"file\" : \"hello_world.bin\", \"encrypted\" : \"false\" },\n"
    "    \"partition-table\" : { \"offset\" : \"0x8000\", \"file\" : \"partition_table/partition-table.bin\", \"encrypted\" : \"false\" },\n"
    "    \"extra_esptool_args\" : {\n"
    "        \"after\"  : \"hard_reset\",\n"
    "        \"before\" : \"default_reset\",\n"
    "        \"stub\"   : false,\n"
    "        \"chip\"   : \"esp32\"\n"
    "    }\n"
    "}\n";

static void make_build(void)
{
    sh("mkdir -p '%s/hello_world/build/bootloader' '%s/hello_world/build/partition_table'", dir, dir);
    char b[400];
    snprintf(b, sizeof b, "%s/hello_world/build", dir);
    sh("'" MKIMAGE "' --chip esp32 --kind bootloader --size 24k --seed 1 -o '%s/%s'", b,
       "bootloader/bootloader.bin");
    sh("'" MKIMAGE "' --chip esp32 --kind partition-table --size 3072 --seed 2 -o '%s/%s'", b,
       "partition_table/partition-table.bin");
    sh("'" MKIMAGE "' --chip esp32 --kind app --size 128k --seed 3 -o '%s/%s'", b,
       "hello_world.bin");
    write_at("hello_world/build/flasher_args.json", flasher_args);
    sh("mkdir -p '%s/profiles%s'", dir, "");
}

static void test_import_and_load(void)
{
    char json[400], out_dir[400], ini_path[450];
    snprintf(json, sizeof json, "%s/hello_world/build/flasher_args.json", dir);
    snprintf(out_dir, sizeof out_dir, "%s/profiles", dir);
    char *ini = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_profile_import(json, out_dir, NULL, &ini, &f), 0);
    if (f.code)
        fprintf(stderr, "%s\n", f.detail);
    CHECK(ini != NULL);
    if (!ini)
        return;
    CHECK_CONTAINS(ini, "name = hello_world\n");
    CHECK_CONTAINS(ini, "chip = esp32\n");
    CHECK_CONTAINS(ini, "stub = no\n");
    CHECK_CONTAINS(ini, "[image bootloader]\nfile = ../hello_world/build/bootloader/bootloader.bin\n"
                        "offset = 0x1000\n");
    CHECK_CONTAINS(ini, "[image partition-table]\n");
    CHECK_CONTAINS(ini, "[image app]\nfile = ../hello_world/build/hello_world.bin\noffset = 0x10000\n");
    snprintf(ini_path, sizeof ini_path, "%s/hello.ini", out_dir);
    FILE *fp = fopen(ini_path, "w");
    fputs(ini, fp);
    fclose(fp);
    free(ini);

    espfab_fault_clear(&f);
    CHECK_EQ(espfab_profile_load(ini_path, &prof, &f), 0);
    if (f.code)
        fprintf(stderr, "%s\n", f.detail);
    CHECK_STR(prof.name, "hello_world");
    CHECK_EQ(prof.chip, ESPFAB_CHIP_ESP32);
    CHECK_EQ(prof.flash.mode, ESPFAB_FLASH_MODE_DIO);
    CHECK_EQ(prof.flash.freq, ESPFAB_FLASH_FREQ_40M);
    CHECK_EQ(prof.flash.size, 4u << 20); /* "4MB" */
    CHECK_EQ(prof.before, ESPFAB_RESET_AUTO); /* "default-reset" */
    CHECK_EQ(prof.after, ESPFAB_AFTER_HARD_RESET);
    CHECK(!prof.stub);
    CHECK_EQ(prof.nimages, 3);
    CHECK_EQ(prof.images[0].offset, 0x1000);
    CHECK_EQ(prof.images[1].offset, 0x8000);
    CHECK_EQ(prof.images[2].offset, 0x10000);
    char want[600], real[PATH_MAX];
    snprintf(want, sizeof want, "%s/hello_world/build/hello_world.bin", dir);
    CHECK(realpath(want, real) != NULL);
    CHECK_STR(prof.images[2].path, real);
    espfab_profile_free(&prof);

    /* default output directory = the build directory; --name */
    ini = NULL;
    CHECK_EQ(espfab_profile_import(json, NULL, "line-7 fw", &ini, &f), 0);
    CHECK(ini && strstr(ini, "name = line-7 fw\n"));
    CHECK(ini && strstr(ini, "file = hello_world.bin\n"));
    free(ini);
}

static void test_write_flash_args_only(void)
{
    /* older ESP-IDF: no flash_settings, no named entries */
    write_at("hello_world/build/old_args.json",
             "{\"write_flash_args\": [\"--flash_mode\", \"qio\", \"--flash_size\", \"detect\", "
             "\"--flash_freq\", \"80m\"], \"flash_files\": {\"0x10000\": \"hello_world.bin\", "
             "\"0x1000\": \"bootloader/bootloader.bin\"}, "
             "\"extra_esptool_args\": {\"chip\": \"esp32\", \"stub\": true}}");
    char json[400];
    snprintf(json, sizeof json, "%s/hello_world/build/old_args.json", dir);
    char *ini = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_profile_import(json, NULL, NULL, &ini, &f), 0);
    CHECK(ini != NULL);
    if (!ini)
        return;
    CHECK_CONTAINS(ini, "flash_mode = qio\n");
    CHECK_CONTAINS(ini, "flash_freq = 80m\n");
    CHECK_CONTAINS(ini, "flash_size = detect\n");
    CHECK_CONTAINS(ini, "stub = yes\n");
    CHECK_CONTAINS(ini, "[image image-0x1000]\nfile = bootloader/bootloader.bin\n");
    /* offsets in order */
    CHECK(strstr(ini, "0x1000\n") < strstr(ini, "0x10000\n"));
    /* and it is a valid profile from the build directory */
    espfab_fault_clear(&f);
    char base[400];
    snprintf(base, sizeof base, "%s/hello_world/build", dir);
    CHECK_EQ(espfab_profile_parse(ini, strlen(ini), "old.ini", base, 0, &prof, &f), 0);
    CHECK_EQ(prof.nimages, 2);
    espfab_profile_free(&prof);
    free(ini);
}

static void test_import_errors(void)
{
    static const struct {
        const char *json;
        int code;
        const char *detail;
    } cases[] = {
        {"not json", ESPFAB_E_CONFIG_IMPORT, "not a JSON object"},
        {"[1, 2]", ESPFAB_E_CONFIG_IMPORT, "not a JSON object"},
        {"{\"flash_files\": {\"0x0\": \"a.bin\"}}", ESPFAB_E_CONFIG_IMPORT,
         "no extra_esptool_args.chip"},
        {"{\"flash_files\": {\"0x0\": \"a.bin\"}, \"extra_esptool_args\": {\"chip\": \"esp99\"}}",
         ESPFAB_E_CONFIG_IMPORT, "unknown chip 'esp99'"},
        {"{\"flash_files\": {\"0x0\": \"a.bin\"}, \"extra_esptool_args\": {\"chip\": 32}}",
         ESPFAB_E_CONFIG_IMPORT, "$.extra_esptool_args.chip is a JSON integer, expected text"},
        {"{\"extra_esptool_args\": {\"chip\": \"esp32\"}}", ESPFAB_E_CONFIG_IMPORT,
         "no flash_files"},
        {"{\"flash_files\": {\"boot\": \"a.bin\"}, \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         ESPFAB_E_CONFIG_IMPORT, "flash_files key 'boot' is not an offset"},
        {"{\"flash_files\": {\"0x0\": 5}, \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         ESPFAB_E_CONFIG_IMPORT, "flash_files[\"0x0\"] is not a file name"},
        {"{\"flash_files\": {\"0x0\": \"a\"}, \"extra_esptool_args\": {\"chip\": \"esp32\", "
         "\"before\": \"wiggle\"}}", ESPFAB_E_CONFIG_IMPORT, "unknown before 'wiggle'"},
    };
    char json[400];
    snprintf(json, sizeof json, "%s/bad.json", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_at("bad.json", cases[i].json);
        char *ini = (char *)1;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        int rc = espfab_profile_import(json, NULL, NULL, &ini, &f);
        if (rc != cases[i].code || !strstr(f.detail, cases[i].detail))
            fprintf(stderr, "case %zu: rc %d '%s'\n", i, rc, f.detail);
        CHECK_EQ(rc, cases[i].code);
        CHECK_CONTAINS(f.detail, cases[i].detail);
        CHECK(ini == NULL);
    }
    char *ini = NULL;
    espfab_fault_t f;
    snprintf(json, sizeof json, "%s/missing.json", dir);
    CHECK_EQ(espfab_profile_import(json, NULL, NULL, &ini, &f), ESPFAB_E_CONFIG_OPEN);
}

/* Hostile flasher_args.json (issue 16): each is refused with a clear
 * detail, and nothing reaches the INI. */
static void test_import_hostile(void)
{
    static const struct {
        const char *json;
        size_t len;      /* 0: strlen; -1: then a NUL byte and more text */
        int code;
        const char *detail;
    } cases[] = {
        /* the array form used to put every file at 0x0, 0x1, ... */
        {"{\"flash_files\": [\"0x1000\", \"bootloader/bootloader.bin\", \"0x10000\", "
         "\"hello_world.bin\"], \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_CONFIG_IMPORT, "flash_files is a JSON array; ESP-IDF writes an object"},
        /* \u0000 cut the name short: "hello_world.bin\u0000.elf" became hello_world.bin */
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\\u0000.elf\"}, "
         "\"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_CONFIG_IMPORT, "\\u0000 (a NUL character)"},
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\"}, \"extra_esptool_args\": "
         "{\"chip\": \"esp32\"}}", (size_t)-1, ESPFAB_E_CONFIG_IMPORT, "NUL byte at offset"},
        /* newlines reached the INI */
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\\n[image x]\\nfile = a\"}, "
         "\"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_CONFIG_IMPORT, "control character"},
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\"}, \"flash_settings\": "
         "{\"flash_mode\": \"dio\\nerase = all\"}, \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_CONFIG_IMPORT, "flash_mode holds a NUL or control character"},
        {"{\"write_flash_args\": [\"--flash_mode\", \"dio\\nerase = all\"], \"flash_files\": "
         "{\"0x10000\": \"hello_world.bin\"}, \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_CONFIG_IMPORT, "unknown flash settings"},
        /* encryption was silently dropped */
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\"}, \"app\": {\"offset\": "
         "\"0x10000\", \"file\": \"hello_world.bin\", \"encrypted\": \"true\"}, "
         "\"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_IMAGE_ENCRYPTED, "'app' is to be written encrypted"},
        {"{\"flash_files\": {\"0x10000\": \"hello_world.bin\"}, \"app\": {\"offset\": "
         "\"0x10000\", \"file\": \"hello_world.bin\", \"encrypted\": true}, "
         "\"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_IMAGE_ENCRYPTED, "encrypted"},
        {"{\"write_flash_args\": [\"--encrypt\"], \"flash_files\": {\"0x10000\": "
         "\"hello_world.bin\"}, \"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_IMAGE_ENCRYPTED, "write_flash_args"},
        /* the check -o runs, without -o too: raw data at the app offset */
        {"{\"flash_files\": {\"0x10000\": \"blob.bin\"}, "
         "\"extra_esptool_args\": {\"chip\": \"esp32\"}}",
         0, ESPFAB_E_IMAGE_NOT_IMAGE, "imported profile:"},
        /* ... and a file that is not there */
        {"{\"flash_files\": {\"0x10000\": \"nothere.bin\"}, \"extra_esptool_args\": "
         "{\"chip\": \"esp32\"}}", 0, ESPFAB_E_IMAGE_MISSING, "nothere.bin"},
        /* a name the INI would read differently */
        {"{\"flash_files\": {\"0x10000\": \"hello ;world.bin\"}, \"extra_esptool_args\": "
         "{\"chip\": \"esp32\"}}", 0, ESPFAB_E_CONFIG_IMPORT, "cannot be written in a profile line"},
    };
    write_at("hello_world/build/blob.bin", "some data, not an image\n");
    char json[400];
    snprintf(json, sizeof json, "%s/hello_world/build/hostile.json", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = fopen(json, "wb");
        CHECK(fp != NULL);
        if (!fp)
            return;
        fwrite(cases[i].json, 1, strlen(cases[i].json), fp);
        if (cases[i].len == (size_t)-1)
            fwrite("\0{}", 1, 3, fp);
        fclose(fp);
        for (int with_out = 0; with_out < 2; with_out++) {
            char out_dir[400];
            snprintf(out_dir, sizeof out_dir, "%s/profiles", dir);
            char *ini = (char *)1;
            espfab_fault_t f;
            espfab_fault_clear(&f);
            int rc = espfab_profile_import(json, with_out ? out_dir : NULL, NULL, &ini, &f);
            if (rc != cases[i].code || !strstr(f.detail, cases[i].detail))
                fprintf(stderr, "hostile case %zu: rc %d '%s'\n", i, rc, f.detail);
            CHECK_EQ(rc, cases[i].code);
            CHECK_CONTAINS(f.detail, cases[i].detail);
            CHECK(ini == NULL);
        }
    }
    /* a --name with a newline */
    snprintf(json, sizeof json, "%s/hello_world/build/flasher_args.json", dir);
    char *ini = (char *)1;
    espfab_fault_t f;
    CHECK_EQ(espfab_profile_import(json, NULL, "x\n[image y]", &ini, &f), ESPFAB_E_CONFIG_IMPORT);
    CHECK(ini == NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/espfab-test-import-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_build();
    RUN(test_import_and_load);
    RUN(test_write_flash_args_only);
    RUN(test_import_errors);
    RUN(test_import_hostile);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
