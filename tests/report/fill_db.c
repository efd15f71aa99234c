/*
 * fill_db.c - fills a traceability database with a realistic, deterministic
 * production shift through the store API (include/espfab/store.h): two
 * stations with four slots each, two lots, two profiles, boards that fail
 * and are flashed again, failures before the MAC is known, interrupted
 * attempts at the end of a run and one attempt still running; strings with
 * HTML-special and non-ASCII characters.
 *
 *   fill_db DB [SEED]       prints "attempts N" when done
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/store.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static int pick(int n)
{
    return (int)(rnd() % (uint32_t)n);
}

static void hex(char *out, size_t n, uint32_t seed)
{
    static const char hx[] = "0123456789abcdef";
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = hx[(s >> 59) & 15];
    }
    out[n] = '\0';
}

typedef struct profile {
    const char *name, *chip;
    int rev;
    uint32_t jedec, size;
    int nimg;
    struct { uint32_t off; const char *file; uint32_t size; } img[3];
} profile_t;

static const profile_t profiles[2] = {
    {"sensor-node-v3", "ESP32-C3", 4, 0x204016, 4u << 20, 3,
     {{0x0, "bootloader.bin", 20480}, {0x8000, "partition-table.bin", 3072},
      {0x10000, "sensor-node-v3.bin", 912384}}},
    {"gateway-s3 \"beta\"", "ESP32-S3", 2, 0xC84018, 16u << 20, 2,
     {{0x0, "bootloader.bin", 21504}, {0x10000, "gateway <s3> & co.bin", 1638400}}},
};

/* Failure causes with weights (more common first, like a real line). */
static const struct { int code; int weight; bool before_mac; int rom_error; } causes[] = {
    {ESPFAB_E_NO_SYNC_REPLY, 30, true, -1},
    {ESPFAB_E_WRONG_BOOT_MODE, 14, true, -1},
    {ESPFAB_E_MD5_MISMATCH, 9, false, -1},
    {ESPFAB_E_TIMEOUT, 7, false, -1},
    {ESPFAB_E_PORT_VANISHED, 5, false, -1},
    {ESPFAB_E_FLASH_WRITE_ERROR, 4, false, 0xC4},
    {ESPFAB_E_LINK_UNRELIABLE, 3, false, -1},
    {ESPFAB_E_FLASH_ID_FAILED, 2, false, -1},
};

static int cause(void)
{
    int total = 0;
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++)
        total += causes[i].weight;
    int r = pick(total);
    for (size_t i = 0; i < sizeof causes / sizeof causes[0]; i++) {
        if (r < causes[i].weight)
            return (int)i;
        r -= causes[i].weight;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: fill_db DB [SEED]\n");
        return 2;
    }
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 42;
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_store_open(argv[1], 0, &s, NULL, &f) != 0) {
        fprintf(stderr, "fill_db: %s: %s\n", argv[1], f.detail);
        return 1;
    }
    const int64_t t0 = 1795420800000LL; /* 2026-11-23T08:00:00Z */
    int attempts = 0, board_no = 0, rc = 0;
    static const char *stations[2] = {"line1-st1", "line1-st2"};
    static const char *operators[2] = {"J\xC3\xBCrgen O'Brien <QA>", "Amal & Wei"};
    for (int st = 0; st < 2 && !rc; st++) {
        const profile_t *pr = &profiles[st];
        char psha[65];
        hex(psha, 64, 1000u + (unsigned)st);
        espfab_run_t run = {0};
        snprintf(run.station, sizeof run.station, "%s", stations[st]);
        snprintf(run.line, sizeof run.line, "line 1");
        snprintf(run.operator_name, sizeof run.operator_name, "%s", operators[st]);
        snprintf(run.lot, sizeof run.lot, "LOT-2026-11-%c", 'A' + st);
        snprintf(run.profile_name, sizeof run.profile_name, "%s", pr->name);
        snprintf(run.profile_sha256, sizeof run.profile_sha256, "%s", psha);
        snprintf(run.mode, sizeof run.mode, "batch");
        run.start_ms = t0 + st * 1800000LL;
        if ((rc = espfab_store_run_begin(s, &run, &f)) != 0)
            break;
        for (int slot = 0; slot < 4 && !rc; slot++) {
            int64_t t = run.start_ms + slot * 7000LL;
            int64_t end_of_shift = run.start_ms + (st ? 3 : 4) * 3600000LL;
            char retry_mac[18] = "";
            while (t < end_of_shift && !rc) {
                espfab_attempt_t a;
                espfab_attempt_init(&a);
                snprintf(a.station, sizeof a.station, "%s", stations[st]);
                snprintf(a.line, sizeof a.line, "line 1");
                snprintf(a.slot, sizeof a.slot, "slot-%c", 'A' + slot);
                snprintf(a.port, sizeof a.port, "/dev/serial/by-path/pci-0000:00:14.0-usb-0:%d.%d:1.0",
                         st + 1, slot + 1);
                snprintf(a.operator_name, sizeof a.operator_name, "%s", operators[st]);
                snprintf(a.lot, sizeof a.lot, "%s", run.lot);
                snprintf(a.profile_name, sizeof a.profile_name, "%s", pr->name);
                snprintf(a.profile_sha256, sizeof a.profile_sha256, "%s", psha);
                a.start_ms = t;
                bool retry = retry_mac[0] != '\0';
                bool last = t + 120000 >= end_of_shift;
                int fail = -1;
                if (retry ? pick(100) < 15 : pick(100) < 12)
                    fail = cause();
                if (retry && fail >= 0 && causes[fail].before_mac)
                    fail = 2; /* a known board fails later, not before identification */
                bool interrupted = last && st == 1; /* run 2 stopped with Ctrl-C */
                bool running = last && st == 0 && slot == 3;
                bool know_mac = interrupted ? pick(2) : !(fail >= 0 && causes[fail].before_mac);
                if (know_mac) {
                    if (retry)
                        snprintf(a.mac, sizeof a.mac, "%s", retry_mac);
                    else
                        snprintf(a.mac, sizeof a.mac, "%s:%02x:%02x:%02x",
                                 st ? "f4:12:fa" : "34:85:18", (board_no >> 16) & 255,
                                 (board_no >> 8) & 255, board_no & 255);
                    snprintf(a.chip, sizeof a.chip, "%s", pr->chip);
                    a.rev_full = pr->rev + (board_no % 7 == 0 ? 1 : 0);
                    snprintf(a.chip_id, sizeof a.chip_id, "%08x", 0x10000u + (unsigned)board_no);
                    a.has_secinfo = true;
                    a.secinfo_flags = 0;
                    a.flash_jedec = pr->jedec;
                    a.flash_size = pr->size;
                    a.xtal_mhz = 40;
                    snprintf(a.loader, sizeof a.loader, "stub");
                    a.baud = 921600;
                    if (!retry)
                        board_no++;
                }
                uint32_t dur = 0;
                for (int p = 0; p < ESPFAB_PHASE_COUNT; p++) {
                    static const uint32_t base[ESPFAB_PHASE_COUNT] = {600, 150, 300, 60, 0,
                                                                      18000, 900, 120};
                    a.phase_ms[p] = base[p] ? base[p] + rnd() % (base[p] / 4 + 1) : 0;
                    dur += a.phase_ms[p];
                }
                if (know_mac) {
                    a.nregions = pr->nimg;
                    for (int i = 0; i < pr->nimg; i++) {
                        espfab_region_result_t *r = &a.regions[i];
                        r->offset = pr->img[i].off;
                        snprintf(r->file, sizeof r->file, "%s", pr->img[i].file);
                        hex(r->sha256, 64, 2000u + (unsigned)(st * 10 + i));
                        hex(r->md5_expected, 32, 3000u + (unsigned)(st * 10 + i));
                        r->size = pr->img[i].size;
                        r->wire_size = pr->img[i].size / 2 + 333u * (unsigned)i;
                        r->compressed = true;
                        r->written = true;
                        memcpy(r->md5_device, r->md5_expected, sizeof r->md5_device);
                        r->verified = true;
                        a.bytes_sent += r->wire_size + 1200;
                    }
                    a.bytes_received = 1800 + (uint64_t)pick(200);
                }
                if ((rc = espfab_store_attempt_begin(s, run.id, &a, &f)) != 0)
                    break;
                attempts++;
                if (running)
                    break; /* left running: a station still at work */
                a.end_ms = t + dur;
                if (interrupted) {
                    a.outcome = ESPFAB_OUTCOME_INTERRUPTED;
                    a.fault.code = ESPFAB_E_INTERRUPTED;
                    snprintf(a.fault.detail, sizeof a.fault.detail, "%.200s: SIGINT", a.port);
                    snprintf(a.message, sizeof a.message, "run stopped by the operator (Ctrl-C)");
                    a.end_ms = t + dur / 3;
                    for (int i = 0; i < a.nregions; i++) {
                        a.regions[i].md5_device[0] = '\0';
                        a.regions[i].verified = false;
                        a.regions[i].written = i == 0;
                    }
                } else if (fail >= 0) {
                    a.outcome = ESPFAB_OUTCOME_FAIL;
                    a.fault.code = causes[fail].code;
                    a.fault.rom_status = causes[fail].rom_error >= 0 ? 1 : -1;
                    a.fault.rom_error = causes[fail].rom_error;
                    a.fault.stub_error = causes[fail].rom_error >= 0xC0 ? 1 : 0;
                    a.fault.retries = causes[fail].before_mac ? 3 : 0;
                    snprintf(a.fault.detail, sizeof a.fault.detail, "%.200s: %s", a.port,
                             causes[fail].code == ESPFAB_E_MD5_MISMATCH
                                 ? "region 0x10000: device MD5 differs" : "no reply in time");
                    snprintf(a.message, sizeof a.message, "%s & retry at the same slot",
                             espfab_strerror(a.fault.code));
                    if (causes[fail].code == ESPFAB_E_MD5_MISMATCH && a.nregions) {
                        espfab_region_result_t *r = &a.regions[a.nregions - 1];
                        hex(r->md5_device, 32, (uint32_t)attempts);
                        r->verified = false;
                    }
                    if (causes[fail].before_mac)
                        a.end_ms = t + 3000 + (int64_t)pick(2000);
                } else {
                    a.outcome = ESPFAB_OUTCOME_PASS;
                    snprintf(a.message, sizeof a.message, "flashed and verified");
                }
                if ((rc = espfab_store_attempt_finish(s, &a, &f)) != 0)
                    break;
                /* A board that failed after identification is flashed again next. */
                if (a.outcome == ESPFAB_OUTCOME_FAIL && a.mac[0] && !retry)
                    snprintf(retry_mac, sizeof retry_mac, "%s", a.mac);
                else
                    retry_mac[0] = '\0';
                t = a.end_ms + 15000 + pick(45000);
            }
        }
        if (!rc && st == 1)
            rc = espfab_store_run_end(s, run.id, run.start_ms + 3 * 3600000LL + 60000, &f);
    }
    espfab_store_close(s);
    if (rc) {
        fprintf(stderr, "fill_db: %s\n", f.detail);
        return 1;
    }
    printf("attempts %d\n", attempts);
    return 0;
}
