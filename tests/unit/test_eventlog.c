/* test_eventlog.c - JSON lines and text lines of `espfab run` from
 * fabricated station events; JSON checked with SQLite's JSON functions. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "espfab/eventlog.h"

static int64_t fake_now = 1795000000000LL;
static int64_t clock_fn(void) { return fake_now; }

static sqlite3 *db;

/* json_extract(line, path) as text ("" for SQL NULL). */
static char *jx(const char *line, const char *path)
{
    static char buf[1024];
    sqlite3_stmt *st;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT json_extract(?1, ?2), json_type(?1, ?2)", -1, &st, NULL))
        return buf;
    sqlite3_bind_text(st, 1, line, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        const unsigned char *ty = sqlite3_column_text(st, 1);
        if (t)
            snprintf(buf, sizeof(buf), "%s", (const char *)t);
        else if (ty && !strcmp((const char *)ty, "null"))
            snprintf(buf, sizeof(buf), "<null>");
        else
            snprintf(buf, sizeof(buf), "<missing>");
    }
    sqlite3_finalize(st);
    return buf;
}

static int json_valid(const char *line)
{
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_prepare_v2(db, "SELECT json_valid(?1) AND json_type(?1) = 'object'", -1, &st,
                           NULL))
        return 0;
    sqlite3_bind_text(st, 1, line, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        ok = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return ok;
}

/* Splits buf into lines (in place); returns the count. */
static int lines(char *buf, char **out, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, "\n", &save); t && n < max; t = strtok_r(NULL, "\n", &save))
        out[n++] = t;
    return n;
}

static void make_attempt(espfab_attempt_t *a)
{
    espfab_attempt_init(a);
    a->id = 42;
    snprintf(a->station, sizeof(a->station), "line3-st1");
    snprintf(a->line, sizeof(a->line), "line3");
    snprintf(a->slot, sizeof(a->slot), "J04");
    snprintf(a->port, sizeof(a->port), "/dev/ttyUSB3");
    snprintf(a->operator_name, sizeof(a->operator_name), "alice");
    snprintf(a->lot, sizeof(a->lot), "WO-42");
    snprintf(a->profile_name, sizeof(a->profile_name), "app-v1");
    snprintf(a->chip, sizeof(a->chip), "ESP32-S3");
    a->rev_full = 2;
    snprintf(a->mac, sizeof(a->mac), "24:6f:28:00:00:04");
    a->flash_jedec = 0x1640ef;
    a->flash_size = 4 << 20;
    snprintf(a->loader, sizeof(a->loader), "stub");
    a->baud = 921600;
    a->nregions = 2;
    a->regions[0].offset = 0x0;
    snprintf(a->regions[0].file, sizeof(a->regions[0].file), "bootloader.bin");
    a->regions[0].size = 20000;
    a->regions[0].written = true;
    a->regions[0].verified = true;
    a->regions[1].offset = 0x10000;
    snprintf(a->regions[1].file, sizeof(a->regions[1].file), "app \"main\".bin");
    a->regions[1].size = 900000;
    a->regions[1].written = true;
    a->start_ms = fake_now - 8300;
    a->end_ms = fake_now;
    a->outcome = ESPFAB_OUTCOME_FAIL;
    a->fault.code = ESPFAB_E_IO;
    a->fault.rom_status = 1;
    a->fault.rom_error = 0x07;
    a->fault.sys_errno = 5;
    snprintf(a->fault.detail, sizeof(a->fault.detail), "/dev/ttyUSB3 offset 0x10000");
    snprintf(a->message, sizeof(a->message), "write failed at 0x10000:\nROM error 0x07");
}

static void test_json_lines(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    espfab_eventlog_opts_t o = {.format = ESPFAB_EVENTLOG_JSON, .out = out,
                                .station = "line3-st1", .run_id = 7, .now_ms = clock_fn};
    espfab_eventlog_t *l = espfab_eventlog_new(&o);
    CHECK(l != NULL);

    espfab_attempt_t a;
    make_attempt(&a);
    espfab_slot_status_t s = {0};
    s.name = "J04";
    s.port = "/dev/ttyUSB3";
    s.state = ESPFAB_SLOT_FLASHING;
    s.phase = "write";
    s.total = 920000;
    s.done = 460000;
    s.bytes_per_s = 230000;
    s.eta_s = 2;
    s.attempt = &a;
    espfab_station_event_t ev = {ESPFAB_STATION_EV_SLOT, 3, &s, NULL, NULL};
    espfab_eventlog_event(l, &ev);                 /* line 1: slot */
    ev.type = ESPFAB_STATION_EV_PROGRESS;
    espfab_eventlog_event(l, &ev);                 /* line 2: progress */
    fake_now += 100;
    espfab_eventlog_event(l, &ev);                 /* too soon: no line */
    fake_now += 1000;
    s.done = 700000;
    espfab_eventlog_event(l, &ev);                 /* line 3: progress */
    s.state = ESPFAB_SLOT_FAILED;
    s.phase = "";
    s.eta_s = -1;
    s.failed = 1;
    ev.type = ESPFAB_STATION_EV_BOARD_DONE;
    ev.attempt = &a;
    espfab_eventlog_event(l, &ev);                 /* line 4: board */
    ev.type = ESPFAB_STATION_EV_NOTE;
    ev.text = "port \"J04\" reopened\t(2nd time)";
    espfab_eventlog_event(l, &ev);                 /* line 5: note */
    espfab_eventlog_note(l, NULL, "interrupt: taking no new boards"); /* line 6 */
    espfab_station_event_t fin = {ESPFAB_STATION_EV_FINISHED, -1, NULL, NULL, NULL};
    espfab_eventlog_event(l, &fin);                /* line 7 */
    espfab_station_totals_t t = {.attempts = 1, .failed = 1, .start_ms = fake_now - 60000};
    espfab_eventlog_summary(l, &t, "/tmp/x.db");   /* line 8 */
    CHECK_EQ(espfab_eventlog_write_errors(l), 0);
    espfab_eventlog_free(l);
    fclose(out);

    CHECK(len > 0 && buf[len - 1] == '\n');
    char *ln[16];
    int n = lines(buf, ln, 16);
    CHECK_EQ(n, 8);
    for (int i = 0; i < n; i++) {
        if (!json_valid(ln[i]))
            fprintf(stderr, "not a JSON object: %s\n", ln[i]);
        CHECK(json_valid(ln[i]));
    }
    if (n < 8)
        return;
    CHECK_STR(jx(ln[0], "$.event"), "slot");
    CHECK_STR(jx(ln[0], "$.slot"), "J04");
    CHECK_STR(jx(ln[0], "$.index"), "3");
    CHECK_STR(jx(ln[0], "$.port"), "/dev/ttyUSB3");
    CHECK_STR(jx(ln[0], "$.state"), "flashing");
    CHECK_STR(jx(ln[0], "$.phase"), "write");
    CHECK_STR(jx(ln[0], "$.percent"), "50.0");
    CHECK_STR(jx(ln[0], "$.done"), "460000");
    CHECK_STR(jx(ln[0], "$.station"), "line3-st1");
    CHECK_STR(jx(ln[0], "$.time_ms"), "1795000000000");
    CHECK_CONTAINS(jx(ln[0], "$.time"), "2026-");
    CHECK_STR(jx(ln[1], "$.event"), "progress");
    CHECK_STR(jx(ln[2], "$.event"), "progress");
    CHECK_STR(jx(ln[2], "$.done"), "700000");

    /* the board line carries the record's fields */
    const char *b = ln[3];
    CHECK_STR(jx(b, "$.event"), "board");
    CHECK_STR(jx(b, "$.id"), "42");
    CHECK_STR(jx(b, "$.run_id"), "7");
    CHECK_STR(jx(b, "$.index"), "3");
    CHECK_STR(jx(b, "$.station"), "line3-st1");
    CHECK_STR(jx(b, "$.slot"), "J04");
    CHECK_STR(jx(b, "$.operator"), "alice");
    CHECK_STR(jx(b, "$.lot"), "WO-42");
    CHECK_STR(jx(b, "$.chip"), "ESP32-S3");
    CHECK_STR(jx(b, "$.rev_full"), "2");
    CHECK_STR(jx(b, "$.mac"), "24:6f:28:00:00:04");
    CHECK_STR(jx(b, "$.flash_size"), "4194304");
    CHECK_STR(jx(b, "$.baud"), "921600");
    CHECK_STR(jx(b, "$.outcome"), "fail");
    CHECK_STR(jx(b, "$.error_code"), "4");
    CHECK_STR(jx(b, "$.error_name"), "IO");
    CHECK_STR(jx(b, "$.rom_status"), "1");
    CHECK_STR(jx(b, "$.rom_error"), "7");
    CHECK_STR(jx(b, "$.errno"), "5");
    CHECK_STR(jx(b, "$.detail"), "/dev/ttyUSB3 offset 0x10000");
    CHECK_STR(jx(b, "$.message"), "write failed at 0x10000:\nROM error 0x07");
    CHECK_STR(jx(b, "$.nregions"), "2");
    CHECK_STR(jx(b, "$.regions[1].offset"), "65536");
    CHECK_STR(jx(b, "$.regions[1].file"), "app \"main\".bin");
    CHECK_STR(jx(b, "$.regions[0].verified"), "1");
    CHECK_STR(jx(b, "$.regions[1].verified"), "0");
    CHECK_STR(jx(b, "$.regions[2]"), "<missing>");
    CHECK_STR(jx(b, "$.end_ms"), "1795000000000");
    CHECK_STR(jx(b, "$.start_ms"), "1794999991700");

    CHECK_STR(jx(ln[4], "$.event"), "note");
    CHECK_STR(jx(ln[4], "$.slot"), "J04");
    CHECK_STR(jx(ln[4], "$.text"), "port \"J04\" reopened\t(2nd time)");
    CHECK_STR(jx(ln[5], "$.slot"), "<null>");
    CHECK_STR(jx(ln[6], "$.event"), "finished");
    CHECK_STR(jx(ln[7], "$.event"), "summary");
    CHECK_STR(jx(ln[7], "$.failed"), "1");
    CHECK_STR(jx(ln[7], "$.run_id"), "7");
    CHECK_STR(jx(ln[7], "$.db"), "/tmp/x.db");
    CHECK_STR(jx(ln[7], "$.seconds"), "60.0");
    free(buf);
}

/* The board object has exactly the report's JSON keys: compare with the
 * report's own writer through the store. */
static void test_same_fields_as_attempt_json(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    espfab_attempt_t a;
    make_attempt(&a);
    a.rev_full = -1;
    a.fault.rom_error = -1;
    CHECK_EQ(espfab_eventlog_attempt_json(out, &a, 0), 0);
    fclose(out);
    CHECK(json_valid(buf));
    CHECK_STR(jx(buf, "$.rev_full"), "<null>");
    CHECK_STR(jx(buf, "$.run_id"), "<null>");
    CHECK_STR(jx(buf, "$.rom_error"), "<null>");
    CHECK_STR(jx(buf, "$.error_message"), espfab_strerror(ESPFAB_E_IO));
    /* every attempt column the store has appears */
    static const char *keys[] = {"id", "station", "line", "slot", "port", "operator", "lot",
                                 "profile_name", "profile_sha256", "chip", "mac", "chip_id",
                                 "has_secinfo", "secinfo_flags", "flash_jedec", "xtal_mhz",
                                 "loader", "start_ms", "started_at", "ended_at", "ms_connect",
                                 "ms_write", "ms_verify", "bytes_sent", "bytes_received",
                                 "stub_error", "retries", "regions"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "$.%s", keys[i]);
        if (!strcmp(jx(buf, path), "<missing>"))
            fprintf(stderr, "missing key %s\n", keys[i]);
        CHECK(strcmp(jx(buf, path), "<missing>") != 0);
    }
    free(buf);
}

static void test_text_lines(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    espfab_eventlog_opts_t o = {.format = ESPFAB_EVENTLOG_TEXT, .out = out, .now_ms = clock_fn};
    espfab_eventlog_t *l = espfab_eventlog_new(&o);
    espfab_attempt_t a;
    make_attempt(&a);
    espfab_slot_status_t s = {0};
    s.name = "J04";
    s.port = "/dev/ttyUSB3";
    s.state = ESPFAB_SLOT_WAITING;
    espfab_station_event_t ev = {ESPFAB_STATION_EV_SLOT, 3, &s, NULL, NULL};
    espfab_eventlog_event(l, &ev);            /* waiting */
    s.state = ESPFAB_SLOT_FLASHING;
    s.phase = "connect";
    espfab_eventlog_event(l, &ev);            /* board found */
    s.phase = "write";
    espfab_eventlog_event(l, &ev);            /* phase change: nothing */
    ev.type = ESPFAB_STATION_EV_PROGRESS;
    espfab_eventlog_event(l, &ev);            /* nothing in text */
    ev.type = ESPFAB_STATION_EV_BOARD_DONE;
    ev.attempt = &a;
    espfab_eventlog_event(l, &ev);            /* FAIL line */
    a.outcome = ESPFAB_OUTCOME_PASS;
    a.fault.code = 0;
    snprintf(a.message, sizeof(a.message), "2 regions verified");
    espfab_eventlog_event(l, &ev);            /* PASS line */
    espfab_station_totals_t t = {.attempts = 2, .passed = 1, .failed = 1, .yield = 0.5,
                                 .start_ms = fake_now - 10000};
    espfab_eventlog_summary(l, &t, "espfab.db");
    espfab_eventlog_free(l);
    fclose(out);
    char *ln[16];
    int n = lines(buf, ln, 16);
    CHECK_EQ(n, 5);
    if (n == 5) {
        CHECK_CONTAINS(ln[0], "J04 /dev/ttyUSB3 waiting for a board");
        CHECK_CONTAINS(ln[1], "board found: flashing");
        CHECK_CONTAINS(ln[2], "J04 /dev/ttyUSB3 FAIL ESP32-S3 24:6f:28:00:00:04 920.0 kB 8.3 s");
        CHECK_CONTAINS(ln[2], "[IO E4]");
        CHECK_CONTAINS(ln[3], "PASS");
        CHECK_CONTAINS(ln[3], "2 regions verified");
        CHECK_CONTAINS(ln[4], "yield 50.0%");
    }
    /* the message's newline did not split the FAIL line */
    if (n == 5)
        CHECK_CONTAINS(ln[2], "write failed at 0x10000: ROM error 0x07");
    free(buf);
}

static void test_closed_pipe_counts(void)
{
    /* a stream that fails: lines are counted as errors, nothing crashes */
    FILE *out = fopen("/dev/full", "w");
    if (!out) {
        fprintf(stderr, "no /dev/full: skipped\n");
        return;
    }
    espfab_eventlog_opts_t o = {.format = ESPFAB_EVENTLOG_JSON, .out = out, .now_ms = clock_fn};
    espfab_eventlog_t *l = espfab_eventlog_new(&o);
    espfab_eventlog_note(l, NULL, "x");
    espfab_eventlog_note(l, NULL, "y");
    CHECK_EQ(espfab_eventlog_write_errors(l), 2);
    espfab_eventlog_free(l);
    fclose(out);
}

int main(void)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return 1;
    RUN(test_json_lines);
    RUN(test_same_fields_as_attempt_json);
    RUN(test_text_lines);
    RUN(test_closed_pipe_counts);
    sqlite3_close(db);
    return check_summary();
}
