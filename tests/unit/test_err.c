/* test_err.c - the error table: unique stable numbers, names, messages, hints,
 * ROM/stub byte names and the one-line fault format. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "espfab/err.h"

static void test_numbers_unique_and_in_family_ranges(void)
{
    size_t n = espfab_err_count();
    CHECK(n > 50);
    for (size_t i = 0; i < n; i++) {
        int c = espfab_err_at(i);
        CHECK(c < 0);
        CHECK(espfab_err_number(c) >= 1 && espfab_err_number(c) <= 799);
        for (size_t j = i + 1; j < n; j++)
            CHECK(espfab_err_at(j) != c);
    }
}

static void test_every_entry_has_name_message_and_hint(void)
{
    for (size_t i = 0; i < espfab_err_count(); i++) {
        int c = espfab_err_at(i);
        const char *name = espfab_err_name(c);
        CHECK(name != NULL);
        CHECK(strlen(espfab_strerror(c)) > 5);
        CHECK(strlen(espfab_err_hint(c)) > 10);
        CHECK_EQ(espfab_err_from_name(name), c);
        /* No "unknown error" anywhere. */
        CHECK(strstr(espfab_strerror(c), "unknown error") == NULL);
    }
}

static void test_known_codes_are_stable(void)
{
    /* These numbers are stored in databases in the field: never renumber. */
    CHECK_EQ(espfab_err_number(ESPFAB_E_PORT_PERMISSION), 102);
    CHECK_EQ(espfab_err_number(ESPFAB_E_PORT_BUSY), 103);
    CHECK_EQ(espfab_err_number(ESPFAB_E_NO_SERIAL_DATA), 300);
    CHECK_EQ(espfab_err_number(ESPFAB_E_WRONG_BOOT_MODE), 301);
    CHECK_EQ(espfab_err_number(ESPFAB_E_MD5_MISMATCH), 312);
    CHECK_EQ(espfab_err_number(ESPFAB_E_IMAGE_WRONG_CHIP), 403);
    CHECK_STR(espfab_err_name(ESPFAB_E_IMAGE_WRONG_CHIP), "IMAGE_WRONG_CHIP");
    CHECK_STR(espfab_err_name(0), "OK");
    CHECK(espfab_err_name(-9999) == NULL);
    CHECK_EQ(espfab_err_from_name("ESPFAB_E_PORT_BUSY"), ESPFAB_E_PORT_BUSY);
    CHECK_EQ(espfab_err_from_name("NO_SUCH_THING"), 1);
}

static void test_rom_and_stub_bytes(void)
{
    CHECK_STR(espfab_rom_error_name(0x07), "bad data checksum");
    CHECK_STR(espfab_rom_error_name(0x08), "flash write error");
    CHECK_CONTAINS(espfab_rom_error_name(0x05), "invalid message");
    CHECK_STR(espfab_stub_error_name(0xC1), "bad data checksum");
    CHECK_STR(espfab_stub_error_name(0xC7), "inflate error");
    CHECK_STR(espfab_stub_error_name(0xFF), "command not implemented");
}

static void test_fault_format_one_line(void)
{
    espfab_fault_t f;
    char line[512];
    espfab_fault_clear(&f);
    CHECK_EQ(f.rom_error, -1);
    CHECK_EQ(espfab_fault_set(&f, ESPFAB_E_DATA_CHECKSUM, "FLASH_DATA seq %d on %s", 12, "/dev/ttyUSB3"),
             ESPFAB_E_DATA_CHECKSUM);
    f.rom_status = 1;
    f.rom_error = 0x07;
    f.retries = 3;
    espfab_fault_format(&f, line, sizeof(line));
    CHECK_CONTAINS(line, "the board received corrupted data: FLASH_DATA seq 12 on /dev/ttyUSB3");
    CHECK_CONTAINS(line, "[ROM error 0x07 bad data checksum]");
    CHECK_CONTAINS(line, "after 3 attempts");
    CHECK_CONTAINS(line, "-> noise on the line");
    CHECK(strchr(line, '\n') == NULL);

    espfab_fault_clear(&f);
    espfab_fault_errno(&f, ESPFAB_E_PORT_PERMISSION, EACCES, "/dev/ttyUSB0 (group dialout)");
    f.stub_error = 1;
    espfab_fault_format(&f, line, sizeof(line));
    CHECK_CONTAINS(line, "errno 13");
    CHECK_CONTAINS(line, "usermod -aG dialout");

    /* Truncation is safe. */
    char small[16];
    espfab_fault_format(&f, small, sizeof(small));
    CHECK_EQ(strlen(small), 15);
}

int main(void)
{
    RUN(test_numbers_unique_and_in_family_ranges);
    RUN(test_every_entry_has_name_message_and_hint);
    RUN(test_known_codes_are_stable);
    RUN(test_rom_and_stub_bytes);
    RUN(test_fault_format_one_line);
    return check_summary();
}
