/* test_opts.c - option parsing and progress lines shared by espfab flash/info
 * (src/cli/opts.c).  Registered by tests/flash/CMakeLists.txt. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "check.h"
#include "cli/opts.h"
#include "espfab/num.h"
#include "espfab/setting.h"

/* The CLI's names now come from setting.h's parsers (typed values). */
static const char *before_name(const char *s)
{
    espfab_reset_t r;
    return espfab_setting_parse_before(s, NULL, &r, NULL) == 0 ? espfab_reset_name(r) : NULL;
}

static const char *after_name(const char *s)
{
    espfab_after_t a;
    return espfab_setting_parse_after(s, NULL, &a, NULL) == 0 ? espfab_after_name(a) : NULL;
}

static void test_parse_u32(void)
{
    uint32_t v = 7;
    CHECK_EQ(espfab_num_parse_u32("0x1000", &v), 0);
    CHECK_EQ(v, 0x1000);
    CHECK_EQ(espfab_num_parse_u32("0X10000", &v), 0);
    CHECK_EQ(v, 0x10000);
    CHECK_EQ(espfab_num_parse_u32("65536", &v), 0);
    CHECK_EQ(v, 65536);
    CHECK_EQ(espfab_num_parse_u32("0", &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(espfab_num_parse_u32("0xFFFFFFFF", &v), 0);
    CHECK_EQ(v, 0xFFFFFFFFu);
    v = 7;
    CHECK_EQ(espfab_num_parse_u32("0x100000000", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("4294967296", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("010", &v), -1);   /* octal-looking */
    CHECK_EQ(espfab_num_parse_u32("0x", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("12k", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("-1", &v), -1);
    CHECK_EQ(espfab_num_parse_u32(" 1", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("0x1g", &v), -1);
    CHECK_EQ(v, 7);
}

static void test_reset_names(void)
{
    CHECK_STR(before_name("default-reset"), "auto");
    CHECK_STR(before_name("default_reset"), "auto");
    CHECK_STR(before_name("usb-reset"), "usb-jtag");
    CHECK_STR(before_name("no_reset"), "none");
    CHECK_STR(before_name("no-reset-no-sync"), "none");
    CHECK_STR(before_name("Tight"), "tight");
    CHECK_STR(before_name("classic"), "classic");
    CHECK(before_name("sideways") == NULL);
    CHECK_STR(after_name("hard_reset"), "hard-reset");
    CHECK_STR(after_name("no-reset"), "no-reset");
    CHECK_STR(after_name("soft-reset"), "no-reset");
    CHECK(after_name("explode") == NULL);
}

/* getopt permutes argv: build a fresh copy for each parse. */
static int parse(unsigned allowed, espfab_cli_opts_t *o, char *err, size_t errlen, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    char **argv = test_argv(n, ap);
    va_end(ap);
    return espfab_cli_opts_parse(n, argv, allowed, o, err, errlen);
}

static void test_flash_options(void)
{
    espfab_cli_opts_t o;
    char err[256];
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 14, "flash", "-p", "/dev/ttyUSB3", "0x1000",
                   "boot.bin", "--baud=921600", "--chip", "ESP32-S3", "--flash-mode", "dio", "0x10000",
                   "app.bin", "--no-stub", "--erase-all"),
             0);
    CHECK_STR(o.port, "/dev/ttyUSB3");
    CHECK_EQ(o.baud, 921600);
    CHECK(o.chip_p != NULL);
    CHECK_STR(o.chip, "esp32s3");
    CHECK_STR(espfab_flash_mode_name(o.flash.mode), "dio");
    CHECK_STR(espfab_flash_freq_name(o.flash.freq), "keep");
    CHECK_STR(espfab_erase_name(o.erase), "all");
    CHECK(o.no_stub);
    CHECK(!o.no_compress);
    CHECK_EQ(o.npos, 4);
    if (o.npos == 4) {
        /* Options between the pairs do not disturb their order. */
        CHECK_STR(o.pos[0], "0x1000");
        CHECK_STR(o.pos[1], "boot.bin");
        CHECK_STR(o.pos[2], "0x10000");
        CHECK_STR(o.pos[3], "app.bin");
    }
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 3, "flash", "--port", "x"), 0);
    CHECK_STR(o.chip, "auto");
    CHECK(o.chip_p == NULL);
    CHECK_STR(espfab_reset_name(o.before), "auto");
    CHECK_STR(espfab_after_name(o.after), "hard-reset");
    CHECK_EQ(o.baud, 0);
    CHECK_EQ(o.npos, 0);
}

static void test_refusals(void)
{
    espfab_cli_opts_t o;
    char err[256];
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 3, "flash", "--chip", "esp99"), -1);
    CHECK_CONTAINS(err, "esp99");
    CHECK_CONTAINS(err, "esp32c3"); /* lists the known chips */
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 3, "flash", "--baud", "fast"), -1);
    CHECK_CONTAINS(err, "--baud fast");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 3, "flash", "--flash-mode", "qqq"), -1);
    CHECK_CONTAINS(err, "qqq");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 3, "flash", "--erase", "most"), -1);
    CHECK_CONTAINS(err, "most");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 2, "flash", "--port"), -1);
    CHECK_CONTAINS(err, "--port");
    CHECK_CONTAINS(err, "needs a value");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 2, "flash", "--bogus"), -1);
    CHECK_CONTAINS(err, "--bogus");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 2, "flash", "--json"), -1);
    CHECK_CONTAINS(err, "--json is not an option of `espfab flash`");
    CHECK_EQ(parse(ESPFAB_OPT_INFO, &o, err, sizeof(err), 3, "info", "--flash-size", "4MB"), -1);
    CHECK_CONTAINS(err, "--flash-size is not an option of `espfab info`");
    CHECK_EQ(parse(ESPFAB_OPT_INFO, &o, err, sizeof(err), 4, "info", "-p", "tcp://h:1", "--json"), 0);
    CHECK(o.json);
}

/* Issue 16: a single-value option given twice is refused (the last one
 * silently won); flags may repeat. */
static void test_repeated_options(void)
{
    espfab_cli_opts_t o;
    char err[256];
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 5, "flash", "--port", "/dev/ttyUSB0",
                   "-p", "/dev/ttyUSB1"), -1);
    CHECK_CONTAINS(err, "--port given twice");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 5, "flash", "--profile", "a.ini",
                   "--profile=b.ini", "-p", "/dev/ttyUSB0"), -1);
    CHECK_CONTAINS(err, "--profile given twice");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 5, "flash", "--baud", "115200",
                   "--baud", "921600", "-p"), -1);
    CHECK_CONTAINS(err, "--baud given twice");
    CHECK_EQ(parse(ESPFAB_OPT_FLASH, &o, err, sizeof(err), 5, "flash", "--no-stub", "--no-stub",
                   "-p", "tcp://h:1"), 0);
    CHECK(o.no_stub);
}

static void test_help_lists_only_allowed(void)
{
    char buf[4096];
    espfab_cli_opts_help(ESPFAB_OPT_INFO, buf, sizeof(buf));
    CHECK_CONTAINS(buf, "--json");
    CHECK_CONTAINS(buf, "--port PORT");
    CHECK(strstr(buf, "--flash-mode") == NULL);
    espfab_cli_opts_help(ESPFAB_OPT_FLASH, buf, sizeof(buf));
    CHECK_CONTAINS(buf, "--flash-mode MODE");
    CHECK(strstr(buf, "--json") == NULL);
}

static void test_progress_lines(void)
{
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    espfab_progress_t p;
    espfab_progress_init(&p, fp);
    CHECK(!p.tty);
    /* 1000 bytes in 1-byte-ish steps: exactly one line per 10 %. */
    for (uint64_t d = 0; d <= 1000; d += 7)
        espfab_progress_update(&p, 0, "0x01000 boot.bin", d, 1000);
    espfab_progress_update(&p, 0, "0x01000 boot.bin", 1000, 1000);
    espfab_progress_update(&p, 1, "0x10000 app.bin", 0, 50);
    espfab_progress_update(&p, 1, "0x10000 app.bin", 50, 50);
    rewind(fp);
    char line[256];
    int n0 = 0, n1 = 0, last_pct = -1;
    while (fgets(line, sizeof(line), fp)) {
        int pct = -1;
        if (strncmp(line, "0x01000 boot.bin: ", 18) == 0) {
            n0++;
            sscanf(line + 18, "%d%%", &pct);
            CHECK_EQ(pct, last_pct < 0 ? 0 : last_pct + 10);
            last_pct = pct;
        } else if (strncmp(line, "0x10000 app.bin: ", 17) == 0) {
            n1++;
        }
    }
    CHECK_EQ(n0, 11);   /* 0 %, 10 % ... 100 % */
    CHECK_EQ(last_pct, 100);
    CHECK_EQ(n1, 2);    /* 0 % and 100 % */
    fclose(fp);
}

int main(void)
{
    RUN(test_parse_u32);
    RUN(test_reset_names);
    RUN(test_flash_options);
    RUN(test_refusals);
    RUN(test_repeated_options);
    RUN(test_help_lists_only_allowed);
    RUN(test_progress_lines);
    return check_summary();
}
