/*
 * cmd_info.c - `espfab info`: identify the board on a port (chip, revision,
 * features, crystal, MAC, flash JEDEC id and size, security info where the
 * chip has it) through a session in info-only mode; nothing is written.
 * Text for people, or one JSON object with --json.  Exit status: 0
 * identified, 1 the board could not be identified (or is not the --chip
 * given), 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cli/opts.h"
#include "espfab/chip.h"
#include "espfab/cli.h"
#include "espfab/json.h"
#include "espfab/log.h"
#include "espfab/record.h"
#include "espfab/reset.h"
#include "espfab/session.h"

static void usage(FILE *out)
{
    char opts[4096];
    espfab_cli_opts_help(ESPFAB_OPT_INFO, opts, sizeof(opts));
    fprintf(out,
            "usage: espfab info [--port PORT] [options]\n"
            "\n"
            "Connects to the bootloader and prints what the board is: chip, revision,\n"
            "crystal, MAC, flash chip (JEDEC id, size) and security information.\n"
            "Nothing is written to the board.\n"
            "\noptions:\n%s"
            "\nexit status: 0 identified, 1 the board failed, 2 bad usage\n",
            opts);
}

static void human_size(uint32_t bytes, char *buf, size_t len)
{
    if (bytes == 0)
        snprintf(buf, len, "unknown");
    else if (bytes >= 1024u * 1024u && bytes % (1024u * 1024u) == 0)
        snprintf(buf, len, "%uMB", bytes / (1024u * 1024u));
    else
        snprintf(buf, len, "%uKB", bytes / 1024u);
}

/* Secure boot / flash encryption bits of GET_SECURITY_INFO flags (esptool
 * names). */
static const struct {
    uint32_t bit;
    const char *name;
} secflags[] = {
    {1u << 0, "secure boot"},
    {1u << 1, "secure boot aggressive revoke"},
    {1u << 2, "secure download mode"},
    {1u << 3, "secure boot key 0 revoked"},
    {1u << 4, "secure boot key 1 revoked"},
    {1u << 5, "secure boot key 2 revoked"},
    {1u << 6, "soft-disabled JTAG"},
    {1u << 7, "hard-disabled JTAG"},
    {1u << 8, "USB disabled"},
    {1u << 9, "download mode D-cache disabled"},
    {1u << 10, "download mode I-cache disabled"},
};

static void print_text(const espfab_attempt_t *a, const char *port, const char *features)
{
    printf("port         %s\n", port);
    if (a->rev_full >= 0)
        printf("chip         %s (revision v%d.%d)\n", a->chip, a->rev_full / 100, a->rev_full % 100);
    else
        printf("chip         %s\n", a->chip);
    if (features && *features)
        printf("features     %s\n", features);
    if (a->xtal_mhz > 0)
        printf("crystal      %d MHz\n", a->xtal_mhz);
    printf("MAC          %s\n", a->mac[0] ? a->mac
                                     : (a->secinfo_flags & 0x4) ? "not readable (secure download mode)"
                                                                : "not read");
    if (a->chip_id[0])
        printf("chip id      %s\n", a->chip_id);
    if (a->flash_jedec) {
        char sz[24];
        human_size(a->flash_size, sz, sizeof(sz));
        uint8_t manu = (uint8_t)(a->flash_jedec & 0xFF);
        uint8_t type = (uint8_t)((a->flash_jedec >> 8) & 0xFF);
        uint8_t cap = (uint8_t)((a->flash_jedec >> 16) & 0xFF);
        printf("flash        %02x%02x%02x: manufacturer 0x%02x (%s), device 0x%02x%02x, %s\n", manu, type,
               cap, manu, espfab_flash_vendor(manu), type, cap, sz);
    } else {
        printf("flash        not detected\n");
    }
    if (a->has_secinfo) {
        printf("security     flags 0x%08x", a->secinfo_flags);
        int any = 0;
        for (size_t i = 0; i < sizeof(secflags) / sizeof(secflags[0]); i++)
            if (a->secinfo_flags & secflags[i].bit)
                printf("%s%s", any++ ? ", " : ": ", secflags[i].name);
        if (!any)
            printf(": none enabled");
        printf("\n");
    } else {
        printf("security     not reported by this chip\n");
    }
    printf("loader       %s at %u baud\n", a->loader[0] ? a->loader : "?", a->baud);
}

static void print_json(const espfab_attempt_t *a, const char *port, const char *features)
{
    printf("{\"port\":");
    espfab_json_string(stdout, port);
    printf(",\"chip\":");
    espfab_json_string(stdout, a->chip);
    if (a->rev_full >= 0)
        printf(",\"revision\":\"v%d.%d\",\"rev_full\":%d", a->rev_full / 100, a->rev_full % 100, a->rev_full);
    else
        printf(",\"revision\":null,\"rev_full\":null");
    printf(",\"features\":");
    espfab_json_string(stdout, features ? features : "");
    printf(",\"crystal_mhz\":%d,\"mac\":", a->xtal_mhz);
    espfab_json_string(stdout, a->mac);
    printf(",\"chip_id\":");
    espfab_json_string(stdout, a->chip_id);
    if (a->flash_jedec) {
        uint8_t manu = (uint8_t)(a->flash_jedec & 0xFF);
        printf(",\"flash\":{\"jedec\":\"0x%06x\",\"manufacturer\":\"0x%02x\",\"vendor\":", a->flash_jedec, manu);
        espfab_json_string(stdout, espfab_flash_vendor(manu));
        printf(",\"device\":\"0x%02x%02x\",\"size\":%u}", (a->flash_jedec >> 8) & 0xFF, (a->flash_jedec >> 16) & 0xFF,
               a->flash_size);
    } else {
        printf(",\"flash\":null");
    }
    if (a->has_secinfo) {
        printf(",\"security\":{\"flags\":%u,\"enabled\":[", a->secinfo_flags);
        int any = 0;
        for (size_t i = 0; i < sizeof(secflags) / sizeof(secflags[0]); i++)
            if (a->secinfo_flags & secflags[i].bit) {
                if (any++)
                    putchar(',');
                espfab_json_string(stdout, secflags[i].name);
            }
        printf("]}");
    } else {
        printf(",\"security\":null");
    }
    printf(",\"loader\":");
    espfab_json_string(stdout, a->loader);
    printf(",\"baud\":%u}\n", a->baud);
}

static int identify(const espfab_cli_opts_t *o, espfab_attempt_t *a, char *features, size_t flen,
                    espfab_fault_t *f);

int espfab_cli_info(int argc, char **argv)
{
    if (!getenv("ESPFAB_LOG"))
        espfab_log_set_level(ESPFAB_LOG_ERROR);
    espfab_cli_opts_t o;
    char err[512];
    if (espfab_cli_opts_parse(argc, argv, ESPFAB_OPT_INFO, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "espfab info: %s\n(see `espfab info --help`)\n", err);
        return 2;
    }
    if (o.help) {
        usage(stdout);
        return 0;
    }
    char port_buf[256];
    if (espfab_cli_port_resolve(&o, port_buf, sizeof(port_buf)) != 0)
        return 2;
    if (o.npos > 0) {
        fprintf(stderr, "espfab info: unexpected argument '%s' (info takes only options)\n", o.pos[0]);
        return 2;
    }
    espfab_attempt_t *a = calloc(1, sizeof(*a));
    if (!a)
        return 1;
    espfab_attempt_init(a);
    char features[256] = "";
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = identify(&o, a, features, sizeof(features), &f);
    if (rc != 0) {
        char line[1024];
        fprintf(stderr, "espfab info: %s\n", espfab_fault_format(&f, line, sizeof(line)));
        free(a);
        return 1;
    }
    if (o.json)
        print_json(a, o.port, features);
    else
        print_text(a, o.port, features);
    free(a);
    return 0;
}

/* Radio and core features every chip of a family has (public datasheets).
 * Variant features (core count of single-core ESP32s, embedded flash or
 * PSRAM) live in eFuse words the session does not read, so they are not
 * claimed here. */
static const char *family_features(const char *chip)
{
    static const struct {
        const char *chip, *features;
    } t[] = {
        {"ESP8266", "Wi-Fi"},
        {"ESP32", "Wi-Fi, Bluetooth Classic + LE"},
        {"ESP32-S2", "Wi-Fi, single core"},
        {"ESP32-S3", "Wi-Fi, Bluetooth LE, dual core"},
        {"ESP32-C2", "Wi-Fi, Bluetooth LE, single core"},
        {"ESP32-C3", "Wi-Fi, Bluetooth LE, single core"},
        {"ESP32-C6", "Wi-Fi 6, Bluetooth LE, IEEE 802.15.4, single core + LP core"},
        {"ESP32-H2", "Bluetooth LE, IEEE 802.15.4, single core"},
        {"ESP32-P4", "no radio, dual core + LP core"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(chip, t[i].chip))
            return t[i].features;
    return "";
}

/* ---- the session --------------------------------------------------------- */

static void on_info_event(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    char *features = data;
    (void)features;
    if (ev->kind == ESPFAB_SESSION_EV_NOTE && ev->note && espfab_log_enabled(ESPFAB_LOG_INFO))
        fprintf(stderr, "%s\n", ev->note);
    (void)s;
}

static int identify(const espfab_cli_opts_t *o, espfab_attempt_t *a, char *features, size_t flen,
                    espfab_fault_t *f)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "could not create the event loop");
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    espfab_session_opts_t so;
    espfab_session_opts_init(&so);
    so.port = o->port;
    /* Nothing to transfer: stay at the ROM's speed unless asked. */
    so.baud = o->baud ? o->baud : 115200;
    so.chip = o->chip_p ? o->chip_p->id : ESPFAB_CHIP_UNKNOWN;
    so.before = o->before;
    so.after = ESPFAB_AFTER_NO_RESET;
    so.no_stub = o->no_stub;
    so.stub_dir = o->stub_dir;
    so.usb_vid = o->usb_vid;
    so.usb_pid = o->usb_pid;
    so.cache = cache;
    so.info_only = true;
    features[0] = '\0';
    int outcome = espfab_cli_session_run(&loop, &so, on_info_event, features, a);
    snprintf(features, flen, "%s", family_features(a->chip));
    espfab_blob_cache_free(cache);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (outcome == ESPFAB_OUTCOME_PASS)
        return 0;
    *f = a->fault;
    if (f->code == 0)
        espfab_fault_set(f, ESPFAB_E_INTERRUPTED, "%s: identification did not finish", o->port);
    return f->code;
}
