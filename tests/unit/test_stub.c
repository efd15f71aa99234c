/* test_stub.c - flasher stub JSON loading (src/session/stub.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "check.h"
#include "espfab/stub.h"

static char tmpdir[256];

static espfab_chip_t chip_esp32 = {
    .id = ESPFAB_CHIP_ESP32, .name = "ESP32", .key = "esp32",
    .stub_file = "esp32.json", .stub_file_legacy = "stub_flasher_32.json",
};
static espfab_chip_t chip_p4 = {
    .id = ESPFAB_CHIP_ESP32P4, .name = "ESP32-P4", .key = "esp32p4",
    .stub_file = "esp32p4.json", .stub_file_legacy = "stub_flasher_32p4.json",
};

static void write_text(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fputs(text, fp);
    fclose(fp);
}

static void rm(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    unlink(path);
}

static char *b64(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* A stub JSON with text of text_len bytes (value i*7+1) and data of data_len
 * bytes (value 0xA0+i); data_len < 0 omits data and data_start. */
static void write_stub(const char *name, uint32_t entry, uint32_t text_start, size_t text_len,
                       uint32_t data_start, int data_len)
{
    uint8_t text[64], data[64];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(0xA0 + i);
    char *t = b64(text, text_len);
    char buf[2048];
    if (data_len >= 0) {
        char *d = b64(data, (size_t)data_len);
        snprintf(buf, sizeof(buf),
                 "{\n  \"entry\": %u,\n  \"text\": \"%s\",\n  \"text_start\": %u,\n"
                 "  \"data\": \"%s\",\n  \"data_start\": %u,\n  \"bss_start\": 1073528832\n}\n",
                 entry, t, text_start, d, data_start);
        free(d);
    } else {
        snprintf(buf, sizeof(buf), "{\"entry\": %u, \"text\": \"%s\", \"text_start\": %u}", entry, t,
                 text_start);
    }
    free(t);
    write_text(name, buf);
}

static void test_new_naming(void)
{
    /* 10 bytes -> "==" padding; 11 -> "="; 12 -> none. */
    size_t lens[] = {10, 11, 12, 13};
    for (size_t k = 0; k < 4; k++) {
        write_stub("esp32.json", 0x400BE004, 0x400BE000, lens[k], 0x3FFDEBAC, (int)lens[k] + 1);
        espfab_stub_t s;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        CHECK_EQ(espfab_stub_load(tmpdir, &chip_esp32, 100, &s, &f), 0);
        CHECK_EQ(s.entry, 0x400BE004);
        CHECK_EQ(s.text_start, 0x400BE000);
        CHECK_EQ(s.text_len, lens[k]);
        CHECK_EQ(s.data_start, 0x3FFDEBAC);
        CHECK_EQ(s.data_len, lens[k] + 1);
        CHECK(s.text && s.text[0] == 1 && s.text[lens[k] - 1] == (uint8_t)((lens[k] - 1) * 7 + 1));
        CHECK(s.data && s.data[lens[k]] == (uint8_t)(0xA0 + lens[k]));
        CHECK_CONTAINS(s.path, "/esp32.json");
        espfab_stub_free(&s);
    }
    rm("esp32.json");
}

static void test_legacy_naming(void)
{
    write_stub("stub_flasher_32.json", 0x40000010, 0x40000000, 40, 0x3FF00000, 8);
    espfab_stub_t s;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_esp32, -1, &s, &f), 0);
    CHECK_EQ(s.entry, 0x40000010);
    CHECK_EQ(s.text_len, 40);
    CHECK_EQ(s.data_len, 8);
    CHECK_CONTAINS(s.path, "stub_flasher_32.json");
    espfab_stub_free(&s);

    /* When both exist, the newer name wins. */
    write_stub("esp32.json", 0x40000020, 0x40000000, 48, 0x3FF00000, 8);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_esp32, -1, &s, &f), 0);
    CHECK_EQ(s.entry, 0x40000020);
    CHECK_CONTAINS(s.path, "/esp32.json");
    espfab_stub_free(&s);
    rm("esp32.json");
    rm("stub_flasher_32.json");
}

static void test_missing_data_segment(void)
{
    write_stub("esp32.json", 0x40000004, 0x40000000, 16, 0, -1);
    espfab_stub_t s;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_esp32, -1, &s, &f), 0);
    CHECK_EQ(s.text_len, 16);
    CHECK(s.data == NULL);
    CHECK_EQ(s.data_len, 0);
    CHECK_EQ(s.data_start, 0);
    espfab_stub_free(&s);
    rm("esp32.json");
}

static void expect_bad(const char *json, const char *detail_part)
{
    write_text("esp32.json", json);
    espfab_stub_t s;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_stub_load(tmpdir, &chip_esp32, -1, &s, &f);
    CHECK_EQ(rc, ESPFAB_E_STUB_BAD);
    CHECK_EQ(f.code, ESPFAB_E_STUB_BAD);
    CHECK_CONTAINS(f.detail, "esp32.json");
    CHECK_CONTAINS(f.detail, detail_part);
    CHECK(s.text == NULL && s.data == NULL);
    rm("esp32.json");
}

static void test_bad_files(void)
{
    expect_bad("{\"entry\": 1073741828, \"text\": \"AAEC", "not valid JSON");
    expect_bad("[1,2,3]", "expected an object");
    expect_bad("{\"entry\": 1073741828, \"text\": \"AA*CAwQF\", \"text_start\": 1073741824}", "base64");
    expect_bad("{\"entry\": 1073741828, \"text\": \"AAECA\", \"text_start\": 1073741824}", "multiple of 4");
    expect_bad("{\"entry\": 1073741828, \"text\": \"AA=CAwQF\", \"text_start\": 1073741824}", "base64");
    expect_bad("{\"text\": \"AAECAwQF\", \"text_start\": 1073741824}", "\"entry\" is missing");
    expect_bad("{\"entry\": \"0x40000004\", \"text\": \"AAECAwQF\", \"text_start\": 1073741824}",
               "\"entry\" is not an integer");
    expect_bad("{\"entry\": 1073741828, \"text_start\": 1073741824}", "\"text\" is missing");
    expect_bad("{\"entry\": 1073741828, \"text\": \"AAECAwQF\", \"text_start\": 1073741824, "
               "\"data\": \"AAEC\"}",
               "\"data_start\" is missing");
    expect_bad("{\"entry\": 1073741828, \"text\": \"AAECAwQF\", \"text_start\": 1073741824, "
               "\"data\": \"A@EC\", \"data_start\": 1}",
               "\"data\" is not valid base64");
    expect_bad("{\"entry\": 1073745920, \"text\": \"AAECAwQF\", \"text_start\": 1073741824}",
               "outside the text segment");
    expect_bad("{\"entry\": 99999999999, \"text\": \"AAECAwQF\", \"text_start\": 1073741824}",
               "not a 32-bit address");
    expect_bad("", "not valid JSON");
}

static void test_not_found(void)
{
    espfab_stub_t s;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_stub_load(tmpdir, &chip_esp32, -1, &s, &f);
    CHECK_EQ(rc, ESPFAB_E_STUB_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "esp32.json");
    CHECK_CONTAINS(f.detail, "stub_flasher_32.json");
    CHECK_CONTAINS(f.detail, tmpdir);
    CHECK_CONTAINS(f.detail, "--stub-dir");
    char line[1024];
    espfab_fault_format(&f, line, sizeof(line));
    CHECK_CONTAINS(line, "tools/setup.sh");

    /* $ESPFAB_STUB_DIR is used when no directory is given. */
    setenv("ESPFAB_STUB_DIR", tmpdir, 1);
    CHECK_STR(espfab_stub_default_dir(NULL), tmpdir);
    CHECK_STR(espfab_stub_default_dir("/x"), "/x");
    espfab_fault_clear(&f);
    rc = espfab_stub_load(NULL, &chip_esp32, -1, &s, &f);
    CHECK_EQ(rc, ESPFAB_E_STUB_NOT_FOUND);
    CHECK_CONTAINS(f.detail, "$ESPFAB_STUB_DIR");
    write_stub("esp32.json", 0x40000004, 0x40000000, 16, 0, -1);
    CHECK_EQ(espfab_stub_load(NULL, &chip_esp32, -1, &s, &f), 0);
    espfab_stub_free(&s);
    rm("esp32.json");
    unsetenv("ESPFAB_STUB_DIR");
    CHECK_CONTAINS(espfab_stub_default_dir(NULL), "stub_flasher");
}

static void test_p4_revision(void)
{
    write_stub("esp32p4.json", 0x4FF00004, 0x4FF00000, 16, 0, -1);
    write_stub("esp32p4-rev1.json", 0x4FF00008, 0x4FF00000, 16, 0, -1);
    espfab_stub_t s;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_p4, 100, &s, &f), 0);
    CHECK_EQ(s.entry, 0x4FF00008);
    CHECK_CONTAINS(s.path, "esp32p4-rev1.json");
    espfab_stub_free(&s);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_p4, 300, &s, &f), 0);
    CHECK_EQ(s.entry, 0x4FF00004);
    espfab_stub_free(&s);
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_p4, -1, &s, &f), 0);
    CHECK_EQ(s.entry, 0x4FF00004);
    espfab_stub_free(&s);
    /* Old package without the rev1 file: fall back to the generic one. */
    rm("esp32p4-rev1.json");
    CHECK_EQ(espfab_stub_load(tmpdir, &chip_p4, 100, &s, &f), 0);
    CHECK_EQ(s.entry, 0x4FF00004);
    espfab_stub_free(&s);
    rm("esp32p4.json");
}

/* A run's cache: one read per chip (and P4 revision family), the same
 * stub for every later board, and a missing file is looked for again. */
static void test_cache(void)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    espfab_stub_cache_t *c = espfab_stub_cache_new(tmpdir);
    CHECK(c != NULL);
    CHECK(espfab_stub_cache_get(c, &chip_esp32, 100, &f) == NULL);
    CHECK_EQ(f.code, ESPFAB_E_STUB_NOT_FOUND);
    CHECK_EQ(espfab_stub_cache_count(c), 0);

    write_stub("esp32.json", 0x400BE004, 0x400BE000, 12, 0x3FFDEBAC, 13);
    espfab_fault_clear(&f);
    const espfab_stub_t *a = espfab_stub_cache_get(c, &chip_esp32, 100, &f);
    CHECK(a != NULL);
    CHECK_EQ(a ? a->entry : 0, 0x400BE004);
    rm("esp32.json"); /* read once: later boards do not touch the file */
    const espfab_stub_t *b = espfab_stub_cache_get(c, &chip_esp32, 300, &f);
    CHECK(a == b);
    CHECK_EQ(espfab_stub_cache_count(c), 1);

    write_stub("esp32p4.json", 0x4FF00004, 0x4FF00000, 16, 0, -1);
    write_stub("esp32p4-rev1.json", 0x4FF00008, 0x4FF00000, 16, 0, -1);
    const espfab_stub_t *p1 = espfab_stub_cache_get(c, &chip_p4, 100, &f);
    const espfab_stub_t *p3 = espfab_stub_cache_get(c, &chip_p4, 301, &f);
    CHECK(p1 && p3 && p1 != p3);
    CHECK_EQ(p1 ? p1->entry : 0, 0x4FF00008);
    CHECK_EQ(p3 ? p3->entry : 0, 0x4FF00004);
    CHECK(espfab_stub_cache_get(c, &chip_p4, 150, &f) == p1);
    CHECK(espfab_stub_cache_get(c, &chip_esp32, -1, &f) == a); /* still valid */
    CHECK_EQ(espfab_stub_cache_count(c), 3);
    rm("esp32p4.json");
    rm("esp32p4-rev1.json");
    espfab_stub_cache_free(c);
    espfab_stub_cache_free(NULL);
}

/* The installed esptool-js package: every chip of the table has a stub whose
 * entry lies in its text (checked by the loader) and the sizes of docs/protocol.md 7.1 for
 * known files hold within reason. */
static void test_installed_package(void)
{
    const char *dir = espfab_stub_default_dir(NULL);
    char probe[600];
    snprintf(probe, sizeof(probe), "%s/esp32.json", dir);
    if (access(probe, R_OK) != 0 && (snprintf(probe, sizeof(probe), "%s/stub_flasher_32.json", dir), access(probe, R_OK) != 0)) {
        fprintf(stderr, "esptool-js stubs not installed in %s: run tools/setup.sh\n", dir);
        CHECK(!"esptool-js is not installed: run tools/setup.sh");
        return;
    }
    for (int id = 0; id < ESPFAB_CHIP_COUNT; id++) {
        const espfab_chip_t *c = espfab_chip_get((espfab_chip_id_t)id);
        CHECK(c != NULL);
        if (!c)
            continue;
        espfab_stub_t s;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        int rc = espfab_stub_load(NULL, c, -1, &s, &f);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", c->key, f.detail);
        CHECK_EQ(rc, 0);
        CHECK(s.text_len > 1000);
        CHECK(s.text_len < 64 * 1024);
        if (c->id != ESPFAB_CHIP_ESP32P4)
            CHECK(s.data_len > 0);
        espfab_stub_free(&s);
    }
    /* The ESP32 stub of esptool-js 0.7 is the v2 stub of docs/protocol.md 7.1. */
    espfab_stub_t s;
    espfab_fault_t f;
    if (espfab_stub_load(NULL, espfab_chip_get(ESPFAB_CHIP_ESP32), -1, &s, &f) == 0) {
        if (strstr(s.path, "/esp32.json")) {
            CHECK_EQ(s.entry, 0x400A902C);
            CHECK_EQ(s.text_start, 0x400A8000);
            CHECK_EQ(s.text_len, 6456);
            CHECK_EQ(s.data_start, 0x3FFDED6C);
            CHECK_EQ(s.data_len, 212);
        }
        espfab_stub_free(&s);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/espfab-test-stub-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    unsetenv("ESPFAB_STUB_DIR");
    RUN(test_new_naming);
    RUN(test_legacy_naming);
    RUN(test_missing_data_segment);
    RUN(test_bad_files);
    RUN(test_not_found);
    RUN(test_p4_revision);
    RUN(test_cache);
    RUN(test_installed_package);
    rmdir(tmpdir);
    return check_summary();
}
