/* test_job.c - the typed job (job.h): setting parsers (setting.h), the one
 * number parser (num.h), and a job built from a profile, a station slot's
 * overrides and the command line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "check.h"
#include "cli/opts.h"
#include "espfab/job.h"
#include "espfab/num.h"
#include "espfab/profile.h"
#include "espfab/setting.h"
#include "espfab/station_cfg.h"

static const espfab_setting_src_t OPT_BEFORE = {NULL, 0, "--before"};
static const espfab_setting_src_t INI_BEFORE = {"st.ini", 5, "before"};

static void test_num(void)
{
    uint32_t v = 7;
    CHECK_EQ(espfab_num_parse_u32("010", &v), -1); /* leading zero: refused by every edge */
    CHECK_EQ(v, 7);
    CHECK_EQ(espfab_num_parse_u32("0x10", &v), 0);
    CHECK_EQ(v, 16);
    CHECK_EQ(espfab_num_parse_u32("0X0010", &v), 0); /* hex digits may lead with 0 */
    CHECK_EQ(v, 16);
    CHECK_EQ(espfab_num_parse_u32("0", &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(espfab_num_parse_u32("4294967295", &v), 0);
    CHECK_EQ(v, 0xFFFFFFFFu);
    v = 7;
    CHECK_EQ(espfab_num_parse_u32("4294967296", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("0x1FFFFFFFF", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("12x", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("", &v), -1);
    CHECK_EQ(espfab_num_parse_u32(NULL, &v), -1);
    CHECK_EQ(espfab_num_parse_u32("0x", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("+1", &v), -1);
    CHECK_EQ(espfab_num_parse_u32("1 ", &v), -1);
    CHECK_EQ(v, 7);
}

static void test_before(void)
{
    static const struct { const char *s; espfab_reset_t r; } ok[] = {
        {"default-reset", ESPFAB_RESET_AUTO},   {"default_reset", ESPFAB_RESET_AUTO},
        {"usb-reset", ESPFAB_RESET_USB_JTAG},   {"no-reset", ESPFAB_RESET_NONE},
        {"no_reset", ESPFAB_RESET_NONE},        {"no-reset-no-sync", ESPFAB_RESET_NONE},
        {"auto", ESPFAB_RESET_AUTO},            {"classic", ESPFAB_RESET_CLASSIC},
        {"Tight", ESPFAB_RESET_TIGHT},          {"unix-tight", ESPFAB_RESET_TIGHT},
        {"usb-jtag", ESPFAB_RESET_USB_JTAG},    {"none", ESPFAB_RESET_NONE},
    };
    espfab_fault_t f;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        espfab_reset_t r = ESPFAB_RESET_CUSTOM;
        CHECK_EQ(espfab_setting_parse_before(ok[i].s, &OPT_BEFORE, &r, &f), 0);
        CHECK_EQ(r, ok[i].r);
    }
    espfab_reset_t r = ESPFAB_RESET_CLASSIC;
    CHECK_EQ(espfab_setting_parse_before("sideways", &OPT_BEFORE, &r, &f), ESPFAB_E_USAGE);
    CHECK_STR(f.detail, "bad value 'sideways' for --before (allowed: default-reset, usb-reset, "
                        "no-reset, no-reset-no-sync, auto, classic, tight, usb-jtag, none)");
    CHECK_EQ(r, ESPFAB_RESET_CLASSIC);
    CHECK_EQ(espfab_setting_parse_before("custom", &INI_BEFORE, &r, &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "st.ini:5: bad value 'custom' for before (allowed: default-reset, ");
    CHECK_EQ(espfab_setting_parse_before(NULL, NULL, &r, &f), ESPFAB_E_USAGE);
    CHECK_CONTAINS(f.detail, "for value (allowed:");
}

static void test_after(void)
{
    static const struct { const char *s; espfab_after_t a; } ok[] = {
        {"hard-reset", ESPFAB_AFTER_HARD_RESET},  {"hard_reset", ESPFAB_AFTER_HARD_RESET},
        {"watchdog-reset", ESPFAB_AFTER_HARD_RESET}, {"soft-reset", ESPFAB_AFTER_NO_RESET},
        {"no-reset", ESPFAB_AFTER_NO_RESET},      {"no-reset-stub", ESPFAB_AFTER_NO_RESET},
        {"NONE", ESPFAB_AFTER_NO_RESET},
    };
    espfab_fault_t f;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        espfab_after_t a = ok[i].a == ESPFAB_AFTER_NO_RESET ? ESPFAB_AFTER_HARD_RESET
                                                            : ESPFAB_AFTER_NO_RESET;
        CHECK_EQ(espfab_setting_parse_after(ok[i].s, NULL, &a, &f), 0);
        CHECK_EQ(a, ok[i].a);
    }
    /* Unknown is an error on every edge, never a silent hard or no reset. */
    espfab_after_t a = ESPFAB_AFTER_NO_RESET;
    const espfab_setting_src_t opt = {NULL, 0, "--after"};
    CHECK_EQ(espfab_setting_parse_after("explode", &opt, &a, &f), ESPFAB_E_USAGE);
    CHECK_STR(f.detail, "bad value 'explode' for --after (allowed: hard-reset, soft-reset, "
                        "no-reset, no-reset-stub, watchdog-reset, none)");
    const espfab_setting_src_t ini = {"p.ini", 9, "after"};
    CHECK_EQ(espfab_setting_parse_after("reboot", &ini, &a, &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "p.ini:9: bad value 'reboot' for after (allowed: hard-reset,");
    CHECK_EQ(a, ESPFAB_AFTER_NO_RESET);
    CHECK_STR(espfab_after_name(ESPFAB_AFTER_HARD_RESET), "hard-reset");
    CHECK_STR(espfab_after_name(ESPFAB_AFTER_NO_RESET), "no-reset");
}

static void test_erase_mode_freq(void)
{
    espfab_fault_t f;
    const char *erase[] = {"none", "regions", "all"};
    for (int i = 0; i < 3; i++) {
        espfab_erase_t e = (espfab_erase_t)-1;
        CHECK_EQ(espfab_setting_parse_erase(erase[i], NULL, &e, &f), 0);
        CHECK_EQ(e, (espfab_erase_t)i);
        CHECK_STR(espfab_erase_name(e), erase[i]);
    }
    espfab_erase_t e = ESPFAB_ERASE_ALL;
    const espfab_setting_src_t opt = {NULL, 0, "--erase"};
    CHECK_EQ(espfab_setting_parse_erase("most", &opt, &e, &f), ESPFAB_E_USAGE);
    CHECK_STR(f.detail, "bad value 'most' for --erase (allowed: none, regions, all)");

    for (int m = 0; m < ESPFAB_FLASH_MODE_COUNT; m++) {
        espfab_flash_mode_t v = (espfab_flash_mode_t)-1;
        CHECK_EQ(espfab_setting_parse_flash_mode(espfab_flash_mode_name((espfab_flash_mode_t)m), NULL,
                                                 &v, &f), 0);
        CHECK_EQ(v, (espfab_flash_mode_t)m);
    }
    espfab_flash_mode_t mode;
    CHECK_EQ(espfab_setting_parse_flash_mode("DIO", NULL, &mode, &f), 0);
    CHECK_EQ(mode, ESPFAB_FLASH_MODE_DIO);
    const espfab_setting_src_t ini = {"p.ini", 4, "flash_mode"};
    CHECK_EQ(espfab_setting_parse_flash_mode("quad", &ini, &mode, &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_STR(f.detail, "p.ini:4: bad value 'quad' for flash_mode (allowed: keep, qio, qout, dio, dout)");

    for (int q = 0; q < ESPFAB_FLASH_FREQ_COUNT; q++) {
        espfab_flash_freq_t v = (espfab_flash_freq_t)-1;
        CHECK_EQ(espfab_setting_parse_flash_freq(espfab_flash_freq_name((espfab_flash_freq_t)q), NULL,
                                                 &v, &f), 0);
        CHECK_EQ(v, (espfab_flash_freq_t)q);
    }
    espfab_flash_freq_t freq;
    const espfab_setting_src_t fopt = {NULL, 0, "--flash-freq"};
    CHECK_EQ(espfab_setting_parse_flash_freq("33m", &fopt, &freq, &f), ESPFAB_E_USAGE);
    CHECK_STR(f.detail, "bad value '33m' for --flash-freq (allowed: keep, 80m, 60m, 48m, 40m, 30m, "
                        "26m, 24m, 20m, 16m, 15m, 12m)");
}

static void test_size(void)
{
    static const struct { const char *s; uint32_t size; bool c1; } ok[] = {
        {"keep", ESPFAB_FLASH_SIZE_KEEP, false}, {"detect", ESPFAB_FLASH_SIZE_DETECT, false},
        {"256KB", 256u << 10, false},            {"512kb", 512u << 10, false},
        {"1MB", 1u << 20, false},                {"2MB", 2u << 20, false},
        {"2MB-c1", 2u << 20, true},              {"4MB", 4u << 20, false},
        {"4MB_c1", 4u << 20, true},              {"8MB", 8u << 20, false},
        {"16MB", 16u << 20, false},              {"32MB", 32u << 20, false},
        {"64MB", 64u << 20, false},              {"128MB", 128u << 20, false},
    };
    espfab_fault_t f;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        espfab_flash_params_t p = {ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP, 99, !ok[i].c1};
        CHECK_EQ(espfab_setting_parse_flash_size(ok[i].s, NULL, &p, &f), 0);
        CHECK_EQ(p.size, ok[i].size);
        CHECK_EQ(p.size_c1, ok[i].c1);
        char name[24];
        espfab_flash_size_name(&p, name, sizeof(name));
        espfab_flash_params_t q = p;
        CHECK_EQ(espfab_setting_parse_flash_size(name, NULL, &q, &f), 0); /* names round-trip */
        CHECK_EQ(q.size, p.size);
        CHECK_EQ(q.size_c1, p.size_c1);
    }
    espfab_flash_params_t p = {ESPFAB_FLASH_MODE_KEEP, ESPFAB_FLASH_FREQ_KEEP, 4u << 20, false};
    const espfab_setting_src_t opt = {NULL, 0, "--flash-size"};
    CHECK_EQ(espfab_setting_parse_flash_size("3MB", &opt, &p, &f), ESPFAB_E_USAGE);
    CHECK_CONTAINS(f.detail, "bad value '3MB' for --flash-size (allowed: keep, detect, 256KB,");
    CHECK_EQ(espfab_setting_parse_flash_size("4M", &opt, &p, &f), ESPFAB_E_USAGE);
    CHECK_EQ(p.size, 4u << 20);
    CHECK_EQ(espfab_flash_params_size(&p), 4u << 20);
    p.size = ESPFAB_FLASH_SIZE_DETECT;
    CHECK_EQ(espfab_flash_params_size(&p), 0);
    CHECK(!espfab_flash_params_keep(&p));
    p.size = ESPFAB_FLASH_SIZE_KEEP;
    CHECK(espfab_flash_params_keep(&p));
}

/* ---- jobs ---------------------------------------------------------------- */

static const char profile_ini[] =
    "[profile]\n"
    "name = widget\n"
    "chip = esp32\n"
    "baud = 115200\n"
    "flash_mode = qio\n"
    "flash_freq = 80m\n"
    "flash_size = 4MB\n"
    "before = no_reset\n"
    "after = watchdog_reset\n"
    "stub = no\n"
    "compress = no\n"
    "erase = regions\n"
    "min_rev = 1.0\n"
    "[image boot]\n"
    "file = boot.bin\n"
    "offset = 0x1000\n"
    "[image app]\n"
    "file = app.bin\n"
    "offset = 0x10000\n";

static const char station_ini[] =
    "[station]\n"
    "id = st1\n"
    "[slot A]\n"
    "port = tcp://127.0.0.1:3333\n"
    "before = usb-reset\n"
    "baud = 921600\n"
    "usb_id = 303a:1001\n"
    "[slot B]\n"
    "port = tcp://127.0.0.1:3334\n";

static int load(espfab_profile_t *p, espfab_station_cfg_t *c)
{
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_profile_parse(profile_ini, strlen(profile_ini), "p.ini", "/tmp",
                                  ESPFAB_PROFILE_NO_FILES, p, &f);
    if (rc) {
        fprintf(stderr, "%s\n", f.detail);
        return rc;
    }
    rc = espfab_station_cfg_parse(station_ini, strlen(station_ini), "st.ini", "/tmp", c, &f);
    if (rc)
        fprintf(stderr, "%s\n", f.detail);
    return rc;
}

static void test_job_from_profile_and_slot(void)
{
    static espfab_profile_t p;
    espfab_station_cfg_t c;
    CHECK_EQ(load(&p, &c), 0);
    static espfab_job_t a, b;
    espfab_job_from_profile(&a, &p);
    espfab_job_apply_slot(&a, espfab_station_cfg_slot(&c, "A"));
    espfab_job_from_profile(&b, &p);
    espfab_job_apply_slot(&b, espfab_station_cfg_slot(&c, "B"));

    /* Slot A overrides before, baud and the USB id; the rest is the profile's. */
    CHECK_EQ(a.before, ESPFAB_RESET_USB_JTAG);
    CHECK_EQ(a.baud, 921600);
    CHECK_EQ(a.usb_vid, 0x303a);
    CHECK_EQ(a.usb_pid, 0x1001);
    CHECK_EQ(b.before, ESPFAB_RESET_NONE);
    CHECK_EQ(b.baud, 115200);
    CHECK_EQ(b.usb_vid, 0);
    for (int k = 0; k < 2; k++) {
        const espfab_job_t *j = k ? &b : &a;
        CHECK_EQ(j->chip, ESPFAB_CHIP_ESP32);
        CHECK_EQ(j->after, ESPFAB_AFTER_HARD_RESET); /* watchdog-reset */
        CHECK_EQ(j->erase, ESPFAB_ERASE_REGIONS);
        CHECK_EQ(j->flash.mode, ESPFAB_FLASH_MODE_QIO);
        CHECK_EQ(j->flash.freq, ESPFAB_FLASH_FREQ_80M);
        CHECK_EQ(j->flash.size, 4u << 20);
        CHECK(j->no_stub);
        CHECK(j->no_compress);
        CHECK(!j->no_verify);
        CHECK_EQ(j->min_rev_full, 100);
        CHECK_EQ(j->max_rev_full, -1);
        CHECK_STR(j->profile_name, "widget");
        CHECK_EQ(j->nregions, 2);
        CHECK_EQ(j->regions[0].offset, 0x1000);
        CHECK_STR(j->regions[0].name, "boot.bin");
        CHECK_EQ(j->regions[1].offset, 0x10000);
    }

    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    espfab_job_session_opts(&a, &so);
    CHECK_EQ(so.baud, 921600);
    CHECK_EQ(so.chip, ESPFAB_CHIP_ESP32);
    CHECK_EQ(so.before, ESPFAB_RESET_USB_JTAG);
    CHECK_EQ(so.after, ESPFAB_AFTER_HARD_RESET);
    CHECK_EQ(so.erase, ESPFAB_ERASE_REGIONS);
    CHECK_EQ(so.flash.mode, ESPFAB_FLASH_MODE_QIO);
    CHECK(so.no_stub && so.no_compress && !so.no_verify);
    CHECK_EQ(so.min_rev_full, 100);
    CHECK_EQ(so.usb_vid, 0x303a);
    CHECK_EQ(so.nregions, 2);
    CHECK(so.regions == a.session_regions);
    CHECK_EQ(so.regions[1].offset, 0x10000);
    CHECK_STR(so.regions[1].name, "app.bin");
    CHECK_EQ(so.initial_baud, 115200); /* not the job's: the session default stays */

    espfab_station_cfg_free(&c);
    espfab_profile_free(&p);
}

/* getopt permutes argv: a fresh copy for each parse. */
static int cli(espfab_cli_opts_t *o, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    char **argv = test_argv(n, ap);
    va_end(ap);
    char err[256];
    int rc = espfab_cli_opts_parse(n, argv, ESPFAB_OPT_FLASH, o, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    return rc;
}

static void test_job_from_cli(void)
{
    static espfab_profile_t p;
    espfab_station_cfg_t c;
    CHECK_EQ(load(&p, &c), 0);
    espfab_station_cfg_free(&c);
    espfab_fault_t f;
    espfab_cli_opts_t o;
    static espfab_job_t j;

    /* What the command line gives wins, even when it is the default value. */
    CHECK_EQ(cli(&o, 10, "flash", "--before", "classic", "--erase", "none", "--flash-freq", "40m",
                 "--compress", "--no-verify", "--profile=p.ini"), 0);
    espfab_job_from_profile(&j, &p);
    CHECK_EQ(espfab_job_from_cli(&j, &o, &f), 0);
    CHECK_EQ(j.before, ESPFAB_RESET_CLASSIC);
    CHECK_EQ(j.erase, ESPFAB_ERASE_NONE);
    CHECK_EQ(j.flash.freq, ESPFAB_FLASH_FREQ_40M);
    CHECK_EQ(j.flash.mode, ESPFAB_FLASH_MODE_QIO);  /* not given: the profile's */
    CHECK_EQ(j.flash.size, 4u << 20);
    CHECK(!j.no_compress);
    CHECK(j.no_verify);
    CHECK(j.no_stub);                               /* the profile's stub = no */
    CHECK_EQ(j.after, ESPFAB_AFTER_HARD_RESET);
    CHECK_EQ(j.baud, 115200);

    /* Nothing given: the profile's settings as they are. */
    CHECK_EQ(cli(&o, 3, "flash", "--baud", "921600"), 0);
    espfab_job_from_profile(&j, &p);
    CHECK_EQ(espfab_job_from_cli(&j, &o, &f), 0);
    CHECK_EQ(j.before, ESPFAB_RESET_NONE);
    CHECK_EQ(j.erase, ESPFAB_ERASE_REGIONS);
    CHECK(j.no_compress);
    CHECK_EQ(j.baud, 921600);

    /* Without a profile: the CLI's values on the defaults. */
    CHECK_EQ(cli(&o, 7, "flash", "--after", "no_reset_stub", "--flash-size", "detect", "--chip",
                 "esp32c3"), 0);
    espfab_job_init(&j);
    CHECK_EQ(espfab_job_from_cli(&j, &o, &f), 0);
    CHECK_EQ(j.chip, ESPFAB_CHIP_ESP32C3);
    CHECK_EQ(j.after, ESPFAB_AFTER_NO_RESET);
    CHECK_EQ(j.flash.size, ESPFAB_FLASH_SIZE_DETECT);
    CHECK_EQ(j.before, ESPFAB_RESET_AUTO);

    /* --chip against the profile's chip. */
    CHECK_EQ(cli(&o, 4, "flash", "--chip", "esp32s3", "--profile=p.ini"), 0);
    espfab_job_from_profile(&j, &p);
    CHECK_EQ(espfab_job_from_cli(&j, &o, &f), ESPFAB_E_USAGE);
    CHECK_STR(f.detail, "--chip esp32s3 contradicts the profile p.ini (chip = esp32)");

    /* Option errors name the option and the accepted values. */
    char err[256];
    char *argv[] = {"flash", "--after", "explode", NULL};
    CHECK_EQ(espfab_cli_opts_parse(3, argv, ESPFAB_OPT_FLASH, &o, err, sizeof(err)), -1);
    CHECK_STR(err, "bad value 'explode' for --after (allowed: hard-reset, soft-reset, no-reset, "
                   "no-reset-stub, watchdog-reset, none)");
    espfab_profile_free(&p);
}

/* The edges refuse what the parsers refuse, with file:line. */
static void test_edges(void)
{
    static espfab_profile_t p;
    espfab_fault_t f;
    const char bad_after[] = "[profile]\nchip = esp32\nafter = explode\n[image a]\nfile = a.bin\noffset = 0x10000\n";
    CHECK_EQ(espfab_profile_parse(bad_after, strlen(bad_after), "p.ini", "/tmp", ESPFAB_PROFILE_NO_FILES,
                                  &p, &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "p.ini:3: bad value 'explode' for after (allowed: hard-reset, ");
    const char octal[] = "[profile]\nchip = esp32\n[image a]\nfile = a.bin\noffset = 010\n";
    CHECK_EQ(espfab_profile_parse(octal, strlen(octal), "p.ini", "/tmp", ESPFAB_PROFILE_NO_FILES, &p,
                                  &f), ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "p.ini:5: bad number '010' for offset");
    const char size[] = "[profile]\nchip = esp32\nflash_size = 2MB-c1\n[image a]\nfile = a.bin\noffset = 0x10000\n";
    CHECK_EQ(espfab_profile_parse(size, strlen(size), "p.ini", "/tmp", ESPFAB_PROFILE_NO_FILES, &p, &f),
             ESPFAB_E_FLASH_PARAM);
    CHECK_CONTAINS(f.detail, "p.ini:3: flash size '2MB-c1' is not valid for the ESP32");

    espfab_station_cfg_t c;
    const char slot[] = "[station]\nid = a\n[slot A]\nport = /dev/x\nbaud = 0115200\n";
    CHECK_EQ(espfab_station_cfg_parse(slot, strlen(slot), "st.ini", "/tmp", &c, &f),
             ESPFAB_E_CONFIG_BAD_VALUE);
    CHECK_CONTAINS(f.detail, "st.ini:5: bad number '0115200' for baud");
    /* the shared [KIND NAME] handling, from both files */
    const char dup[] = "[station]\nid = a\n[slot A]\nport = /dev/x\n[slot  A ]\nport = /dev/y\n";
    CHECK_EQ(espfab_station_cfg_parse(dup, strlen(dup), "st.ini", "/tmp", &c, &f),
             ESPFAB_E_CONFIG_DUPLICATE);
    CHECK_STR(f.detail, "st.ini:5: duplicate section [slot A] (first at line 3)");
    const char typo[] = "[profile]\nchip = esp32\n[imgae a]\n";
    CHECK_EQ(espfab_profile_parse(typo, strlen(typo), "p.ini", "/tmp", ESPFAB_PROFILE_NO_FILES, &p, &f),
             ESPFAB_E_CONFIG_UNKNOWN_SECTION);
    CHECK_STR(f.detail, "p.ini:3: unknown section [imgae a] (did you mean [image a]?)");
    const char noname[] = "[station]\nid = a\n[slot]\n";
    CHECK_EQ(espfab_station_cfg_parse(noname, strlen(noname), "st.ini", "/tmp", &c, &f),
             ESPFAB_E_CONFIG_UNKNOWN_SECTION);
    CHECK_STR(f.detail, "st.ini:3: section [slot] needs a name: [slot NAME] (e.g. [slot A1])");
}

int main(void)
{
    RUN(test_num);
    RUN(test_before);
    RUN(test_after);
    RUN(test_erase_mode_freq);
    RUN(test_size);
    RUN(test_job_from_profile_and_slot);
    RUN(test_job_from_cli);
    RUN(test_edges);
    return check_summary();
}
