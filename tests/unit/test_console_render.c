/* test_console_render.c - console screens rendered from fabricated slot
 * statuses at several terminal sizes: what the operator must see is there,
 * nothing is wider than the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "espfab/console.h"

#define NS 48

static espfab_attempt_t att[NS];
static espfab_slot_status_t slots[NS];
static char names[NS][16], ports[NS][96];

static const char *long_reason =
    "flash write failed at 0x00010000: ROM error 0x07 (bad checksum) after 3 retries; "
    "check the USB cable and the hub power supply of this jig position";

/* 0 waiting, 1 flashing 45%, 2 passed, 3 failed (long reason), 4 paused,
 * 5 flashing 80%, 6 passed, 7 remove after fail; more slots cycle. */
static void make_slots(int n)
{
    for (int i = 0; i < n; i++) {
        espfab_attempt_t *a = &att[i];
        espfab_slot_status_t *s = &slots[i];
        espfab_attempt_init(a);
        memset(s, 0, sizeof(*s));
        snprintf(names[i], sizeof(names[i]), "J%02d", i + 1);
        snprintf(ports[i], sizeof(ports[i]),
                 "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.%d:1.0-port0", i + 1);
        s->name = names[i];
        s->port = ports[i];
        s->profile_name = "app-v1";
        s->phase = "";
        s->eta_s = -1;
        snprintf(a->chip, sizeof(a->chip), "ESP32-S3");
        snprintf(a->mac, sizeof(a->mac), "24:6f:28:00:00:%02x", (i + 1) & 0xff);
        switch (i % 8) {
        case 0:
            s->state = ESPFAB_SLOT_WAITING;
            break;
        case 1:
        case 5:
            s->state = ESPFAB_SLOT_FLASHING;
            s->phase = "write";
            s->total = 1000000;
            s->done = i % 8 == 1 ? 450000 : 800000;
            s->bytes_per_s = 460800;
            s->eta_s = 12;
            a->outcome = ESPFAB_OUTCOME_RUNNING;
            s->attempt = a;
            break;
        case 2:
        case 6:
            s->state = ESPFAB_SLOT_PASSED;
            a->outcome = ESPFAB_OUTCOME_PASS;
            snprintf(a->message, sizeof(a->message), "3 regions verified");
            s->attempt = a;
            s->passed = 1;
            break;
        case 3:
        case 7:
            s->state = i % 8 == 3 ? ESPFAB_SLOT_FAILED : ESPFAB_SLOT_REMOVE;
            a->outcome = ESPFAB_OUTCOME_FAIL;
            a->fault.code = ESPFAB_E_IO;
            snprintf(a->message, sizeof(a->message), "%s", long_reason);
            s->attempt = a;
            s->failed = 1;
            break;
        case 4:
            s->state = ESPFAB_SLOT_PAUSED;
            break;
        }
    }
}

static espfab_console_view_t view(int n, int cols, int rows, bool utf8)
{
    espfab_console_view_t v;
    memset(&v, 0, sizeof(v));
    v.station = "line3-st1";
    v.line = "line3";
    v.profile = "app-v1";
    v.lot = "WO-2026-0042";
    v.operator_name = "alice";
    v.mode = "continuous";
    v.totals.attempts = 44;
    v.totals.passed = 41;
    v.totals.failed = 3;
    v.totals.yield = 41.0 / 44.0;
    v.totals.boards_per_hour = 118;
    v.totals.in_flight = 2;
    v.slots = slots;
    v.nslots = (size_t)n;
    v.cols = cols;
    v.rows = rows;
    v.now_ms = 1795000000000LL;
    v.utf8 = utf8;
    v.color = true;
    v.selected = -1;
    return v;
}

/* The frame as plain text, one '\n' per line; checks widths and count. */
static char *plain(const espfab_console_frame_t *fr)
{
    size_t cap = 1;
    for (int i = 0; i < fr->rows; i++)
        cap += strlen(fr->line[i]) + 1;
    char *out = malloc(cap), *p = out;
    for (int i = 0; i < fr->rows; i++) {
        int w = espfab_console_visible_width(fr->line[i]);
        if (w > fr->cols)
            fprintf(stderr, "line %d is %d columns wide (terminal %d): %s\n", i, w, fr->cols,
                    fr->line[i]);
        CHECK(w <= fr->cols);
        CHECK(strchr(fr->line[i], '\n') == NULL);
        espfab_console_strip_ansi(fr->line[i], p);
        p += strlen(p);
        *p++ = '\n';
    }
    *p = '\0';
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void dump(const char *title, const char *txt)
{
    if (getenv("CONSOLE_DUMP"))
        fprintf(stderr, "---- %s ----\n%s", title, txt);
}

static void test_80x24_ascii(void)
{
    espfab_console_frame_t fr = {0};
    make_slots(8);
    espfab_console_view_t v = view(8, 80, 24, false);
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    CHECK_EQ(fr.rows, 24);
    CHECK(!fr.table);
    CHECK_EQ(fr.shown, 8);
    char *t = plain(&fr);
    dump("80x24 ascii", t);
    for (int i = 0; i < 8; i++)
        CHECK_CONTAINS(t, names[i]);
    CHECK_CONTAINS(t, "yield 93.2%");
    CHECK_CONTAINS(t, "passed 41");
    CHECK_CONTAINS(t, "failed 3");
    CHECK_CONTAINS(t, "118 boards/h");
    CHECK_CONTAINS(t, "line3-st1");
    CHECK_CONTAINS(t, "lot WO-2026-0042");
    CHECK_CONTAINS(t, "operator alice");
    CHECK_CONTAINS(t, "45%");
    CHECK_CONTAINS(t, "80%");
    CHECK_CONTAINS(t, "P A S S");      /* ASCII banner */
    CHECK_CONTAINS(t, "F A I L");
    CHECK_EQ(count(t, "P A S S"), 2);
    CHECK_CONTAINS(t, "flash write fail"); /* the failure reason starts */
    CHECK_CONTAINS(t, "  at 0x00010000");  /* and goes on at the start of the next line */
    CHECK(strstr(t, "flash write failed~") == NULL); /* not cut where it continues */
    {
        /* no leading space: the continuation starts at a cell's first column */
        const char *at = strstr(t, "at 0x00010000");
        const char *bol = at;
        while (at && bol > t && bol[-1] != '\n')
            bol--;
        CHECK(at && (at - bol) % (80 / fr.per_row) == 0);
    }
    CHECK_CONTAINS(t, "PAUSED");
    CHECK_CONTAINS(t, "waiting");
    CHECK_CONTAINS(t, "REMOVE");
    CHECK_CONTAINS(t, "q quit");
    /* ASCII only */
    for (const char *p = t; *p; p++)
        CHECK((unsigned char)*p < 0x80);
    /* colours: a green and a red block */
    int green = 0, red = 0;
    for (int i = 0; i < fr.rows; i++) {
        green += strstr(fr.line[i], "42m") != NULL;
        red += strstr(fr.line[i], "41m") != NULL;
    }
    CHECK(green >= 1);
    CHECK(red >= 1);
    free(t);
    espfab_console_frame_free(&fr);
}

static void test_120x40_utf8(void)
{
    espfab_console_frame_t fr = {0};
    make_slots(8);
    espfab_console_view_t v = view(8, 120, 40, true);
    v.selected = 3;
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    CHECK(!fr.table);
    char *t = plain(&fr);
    dump("120x40 utf8", t);
    for (int i = 0; i < 8; i++)
        CHECK_CONTAINS(t, names[i]);
    CHECK_CONTAINS(t, "45%");
    CHECK_CONTAINS(t, "460.8 kB/s");
    CHECK_CONTAINS(t, "ETA 0:12");
    CHECK_CONTAINS(t, "24:6f:28:00:00:02");
    CHECK_CONTAINS(t, "ESP32-S3");
    CHECK_CONTAINS(t, "yield 93.2%");
    CHECK_CONTAINS(t, "operator alice");
    CHECK_CONTAINS(t, "lot WO-2026-0042");
    /* block letters: full and half blocks */
    CHECK_CONTAINS(t, "\xE2\x96\x88");
    CHECK_CONTAINS(t, "\xE2\x96\x80");
    /* wide cells: the long reason continues on a second line */
    CHECK_CONTAINS(t, "flash write failed at 0x00010000");
    CHECK_CONTAINS(t, "bad checksum");
    CHECK_CONTAINS(t, ">J04");          /* the selected slot is marked */
    /* its full reason is on the status line */
    CHECK_CONTAINS(t, " J04 FAIL ESP32-S3 24:6f:28:00:00:04: flash write failed at "
                      "0x00010000: ROM error 0x07 (bad checksum) after 3 retries;");
    free(t);
    espfab_console_frame_free(&fr);
}

static void test_60x20(void)
{
    espfab_console_frame_t fr = {0};
    make_slots(8);
    espfab_console_view_t v = view(8, 60, 20, false);
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    char *t = plain(&fr);
    dump("60x20", t);
    for (int i = 0; i < 8; i++)
        CHECK_CONTAINS(t, names[i]);
    CHECK_CONTAINS(t, "yield 93.2%");
    CHECK_CONTAINS(t, "45%");
    CHECK_CONTAINS(t, "P A S S");
    CHECK_CONTAINS(t, "F A I L");
    CHECK_CONTAINS(t, "flash write");
    free(t);
    espfab_console_frame_free(&fr);
}

static void test_table_mode(void)
{
    espfab_console_frame_t fr = {0};
    make_slots(NS);
    espfab_console_view_t v = view(NS, 80, 24, false);
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    CHECK(fr.table);
    char *t = plain(&fr);
    dump("48 slots 80x24", t);
    CHECK_CONTAINS(t, "J01");
    CHECK(fr.shown >= 10);
    CHECK_CONTAINS(t, "more slot(s)");
    CHECK_CONTAINS(t, "PASS");
    CHECK_CONTAINS(t, "FAIL");
    CHECK_CONTAINS(t, " 45%");
    CHECK_CONTAINS(t, "flash write failed");
    free(t);
    /* selecting a slot far down scrolls it into view */
    v.selected = 40;
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    t = plain(&fr);
    CHECK(fr.first_slot > 0);
    CHECK_CONTAINS(t, ">J41");
    CHECK(strstr(t, "J01 ") == NULL);
    free(t);
    /* every size from tiny to wide keeps every line within the width */
    for (int cols = 10; cols <= 200; cols += 7)
        for (int rows = 3; rows <= 60; rows += 5) {
            for (int utf8 = 0; utf8 < 2; utf8++) {
                for (int n = 1; n <= NS; n += 9) {
                    v = view(n, cols, rows, utf8);
                    CHECK_EQ(espfab_console_render(&v, &fr), 0);
                    CHECK_EQ(fr.rows, rows);
                    for (int i = 0; i < fr.rows; i++)
                        CHECK(espfab_console_visible_width(fr.line[i]) <= cols);
                }
            }
        }
    espfab_console_frame_free(&fr);
}

static void test_help_and_prompt(void)
{
    espfab_console_frame_t fr = {0};
    make_slots(8);
    espfab_console_view_t v = view(8, 80, 24, false);
    v.help = true;
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    char *t = plain(&fr);
    CHECK_CONTAINS(t, "pause / resume");
    CHECK_CONTAINS(t, "retry");
    free(t);
    v.help = false;
    v.prompt = "retry which slot? (name or number, Enter; Esc cancels): J0_";
    v.status = "12:00:00 interrupt: taking no new boards";
    v.stopping = true;
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    t = plain(&fr);
    CHECK_CONTAINS(t, "retry which slot?");
    CHECK_CONTAINS(t, "interrupt: taking no new boards");
    CHECK_CONTAINS(t, "STOPPING");
    free(t);
    espfab_console_frame_free(&fr);
}

static void test_diff(void)
{
    espfab_console_frame_t a = {0}, b = {0};
    make_slots(8);
    espfab_console_view_t v = view(8, 80, 24, false);
    CHECK_EQ(espfab_console_render(&v, &a), 0);
    size_t len = 0;
    char *full = espfab_console_frame_diff(NULL, &a, &len);
    CHECK(full != NULL);
    CHECK_EQ(strlen(full), len);
    CHECK_CONTAINS(full, "\033[2J");
    CHECK_CONTAINS(full, "\033[24;1H");
    /* the same frame again: nothing but the attribute reset */
    CHECK_EQ(espfab_console_render(&v, &b), 0);
    char *none = espfab_console_frame_diff(&a, &b, &len);
    CHECK_STR(none, "\033[0m");
    /* progress on slot 2 changes only the lines of its cell */
    slots[1].done = 500000;
    CHECK_EQ(espfab_console_render(&v, &b), 0);
    char *some = espfab_console_frame_diff(&a, &b, &len);
    CHECK(strstr(some, "\033[2J") == NULL);
    CHECK_CONTAINS(some, "50%");
    CHECK(len < strlen(full) / 3);
    int changed = 0;
    for (int i = 0; i < a.rows; i++)
        changed += strcmp(a.line[i], b.line[i]) != 0;
    CHECK(changed >= 1 && changed <= 3);
    free(full);
    free(none);
    free(some);
    espfab_console_frame_free(&a);
    espfab_console_frame_free(&b);
}

static void test_width_helpers(void)
{
    char out[64];
    CHECK_EQ(espfab_console_visible_width("\033[1;32mPASS\033[0m"), 4);
    CHECK_EQ(espfab_console_visible_width("\xE2\x96\x88\xE2\x96\x80x"), 3);
    espfab_console_strip_ansi("\033[7m A1 \033[0m\033[K", out);
    CHECK_STR(out, " A1 ");
    setenv("LANG", "en_US.UTF-8", 1);
    unsetenv("LC_ALL");
    unsetenv("LC_CTYPE");
    CHECK(espfab_console_env_utf8());
    setenv("LC_ALL", "C", 1);
    CHECK(!espfab_console_env_utf8());
    setenv("LC_ALL", "de_DE.utf8", 1);
    CHECK(espfab_console_env_utf8());
}

static void test_hostile_text(void)
{
    /* control characters in a message cannot reach the terminal */
    espfab_console_frame_t fr = {0};
    make_slots(8);
    snprintf(att[3].message, sizeof(att[3].message), "bad\033[2Jthing\r\n\x07 here");
    espfab_console_view_t v = view(8, 80, 24, false);
    v.selected = 3;
    CHECK_EQ(espfab_console_render(&v, &fr), 0);
    for (int i = 0; i < fr.rows; i++) {
        CHECK(strstr(fr.line[i], "\033[2J") == NULL);
        CHECK(strchr(fr.line[i], '\r') == NULL);
        CHECK(strchr(fr.line[i], '\a') == NULL);
    }
    char *t = plain(&fr);
    CHECK_CONTAINS(t, "bad?[2Jthing");
    free(t);
    espfab_console_frame_free(&fr);
}

int main(void)
{
    RUN(test_80x24_ascii);
    RUN(test_120x40_utf8);
    RUN(test_60x20);
    RUN(test_table_mode);
    RUN(test_help_and_prompt);
    RUN(test_diff);
    RUN(test_width_helpers);
    RUN(test_hostile_text);
    return check_summary();
}
