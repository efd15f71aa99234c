/* test_report_stats.c - summary statistics (yield, first-pass yield with
 * boards flashed more than once, boards per hour), Pareto ordering,
 * throughput buckets and the per-board rows. */
#include <stdlib.h>

#include "check.h"
#include "espfab/report.h"

#define T0 1795392000000LL /* 2026-11-23T00:00:00Z */
#define MIN 60000LL
#define HOUR 3600000LL

static espfab_attempt_t *mk(int64_t id, const char *mac, int64_t start, int64_t dur,
                            espfab_outcome_t oc, int code)
{
    static espfab_attempt_t a;
    espfab_attempt_init(&a);
    a.id = id;
    snprintf(a.mac, sizeof a.mac, "%s", mac);
    a.start_ms = start;
    a.end_ms = start + dur;
    a.outcome = oc;
    a.fault.code = code;
    snprintf(a.chip, sizeof a.chip, "ESP32-S3");
    snprintf(a.message, sizeof a.message, "msg %lld", (long long)id);
    return &a;
}

static void test_yields(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    /* A: pass first time.  B: fail, then pass.  C: fail, fail.  D: interrupted,
     * then fail, then pass.  E: pass, then (re-flashed) fail: passed first
     * and eventually.  One attempt without MAC (failed before identify). */
    struct { const char *mac; int64_t at; espfab_outcome_t oc; int code; } rows[] = {
        {"aa:00:00:00:00:01", 0, ESPFAB_OUTCOME_PASS, 0},
        {"aa:00:00:00:00:02", 5, ESPFAB_OUTCOME_FAIL, ESPFAB_E_INTERRUPTED},
        {"aa:00:00:00:00:03", 10, ESPFAB_OUTCOME_FAIL, ESPFAB_E_USAGE},
        {"aa:00:00:00:00:04", 15, ESPFAB_OUTCOME_INTERRUPTED, ESPFAB_E_INTERRUPTED},
        {"", 20, ESPFAB_OUTCOME_FAIL, ESPFAB_E_IO},
        {"aa:00:00:00:00:02", 25, ESPFAB_OUTCOME_PASS, 0},
        {"aa:00:00:00:00:03", 30, ESPFAB_OUTCOME_FAIL, ESPFAB_E_IO},
        {"aa:00:00:00:00:04", 35, ESPFAB_OUTCOME_FAIL, ESPFAB_E_IO},
        {"aa:00:00:00:00:05", 40, ESPFAB_OUTCOME_PASS, 0},
        {"aa:00:00:00:00:04", 45, ESPFAB_OUTCOME_PASS, 0},
        {"aa:00:00:00:00:05", 50, ESPFAB_OUTCOME_FAIL, ESPFAB_E_IO},
    };
    size_t n = sizeof rows / sizeof rows[0];
    /* Added in reverse order: the statistics must not depend on the order. */
    for (size_t k = n; k-- > 0;)
        CHECK_EQ(espfab_report_stats_add(&st, mk((int64_t)k + 1, rows[k].mac,
                                                 T0 + rows[k].at * MIN, 2 * MIN, rows[k].oc,
                                                 rows[k].code)), 0);
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.attempts, 11);
    CHECK_EQ(st.passed, 4);
    CHECK_EQ(st.failed, 6);
    CHECK_EQ(st.interrupted, 1);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.no_mac, 1);
    CHECK_EQ(st.nboards, 5);
    CHECK_EQ(st.boards_passed, 4);     /* A B D E */
    CHECK_EQ(st.boards_first_pass, 2); /* A E */
    CHECK(st.yield > 0.7999 && st.yield < 0.8001);
    CHECK(st.first_pass_yield > 0.3999 && st.first_pass_yield < 0.4001);
    CHECK_EQ(st.first_ms, T0);
    CHECK_EQ(st.last_ms, T0 + 52 * MIN);
    /* 5 boards in 52 minutes. */
    CHECK(st.boards_per_hour > 5.0 * 60 / 52 - 1e-9 && st.boards_per_hour < 5.0 * 60 / 52 + 1e-9);
    CHECK_EQ(st.failures, 7);

    /* Board rows: ordered by the deciding attempt; B's row is its pass. */
    const espfab_report_board_t *b = NULL, *c = NULL, *e = NULL;
    for (size_t i = 0; i < st.nboards; i++) {
        if (!strcmp(st.boards[i].mac, "aa:00:00:00:00:02"))
            b = &st.boards[i];
        if (!strcmp(st.boards[i].mac, "aa:00:00:00:00:03"))
            c = &st.boards[i];
        if (!strcmp(st.boards[i].mac, "aa:00:00:00:00:05"))
            e = &st.boards[i];
        if (i)
            CHECK(st.boards[i - 1].start_ms <= st.boards[i].start_ms);
    }
    CHECK(b && c && e);
    if (b && c && e) {
        CHECK_EQ(b->outcome, ESPFAB_OUTCOME_PASS);
        CHECK_EQ(b->attempt_id, 6);
        CHECK_EQ(b->attempts, 2);
        CHECK(!b->first_passed);
        CHECK_EQ(c->outcome, ESPFAB_OUTCOME_FAIL);
        CHECK_EQ(c->attempt_id, 7); /* latest failure */
        CHECK_STR(c->reason, "IO: msg 7");
        CHECK_EQ(e->outcome, ESPFAB_OUTCOME_PASS); /* its pass decides, not the later failure */
        CHECK_EQ(e->attempt_id, 9);
        CHECK(e->first_passed);
    }
    espfab_report_stats_free(&st);
}

static void test_pareto_order(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    /* IO x3, USAGE x5, NOMEM x3, INTERRUPTED x1, code 0 x1, unknown code x2;
     * passes do not count. */
    int codes[] = {ESPFAB_E_IO, ESPFAB_E_USAGE, ESPFAB_E_NOMEM, ESPFAB_E_USAGE, ESPFAB_E_IO,
                   ESPFAB_E_USAGE, ESPFAB_E_NOMEM, ESPFAB_E_USAGE, -99999, ESPFAB_E_IO,
                   ESPFAB_E_USAGE, ESPFAB_E_NOMEM, 0, -99999};
    int64_t id = 1;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        espfab_report_stats_add(&st, mk(id++, "", T0 + (int64_t)i * MIN, MIN,
                                        ESPFAB_OUTCOME_FAIL, codes[i]));
    espfab_report_stats_add(&st, mk(id++, "", T0, MIN, ESPFAB_OUTCOME_INTERRUPTED,
                                    ESPFAB_E_INTERRUPTED));
    for (int i = 0; i < 4; i++)
        espfab_report_stats_add(&st, mk(id++, "", T0, MIN, ESPFAB_OUTCOME_PASS, 0));
    espfab_report_stats_add(&st, mk(id++, "", T0, 0, ESPFAB_OUTCOME_RUNNING, 0));
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.failures, 15);
    CHECK_EQ(st.ncauses, 6);
    if (st.ncauses == 6) {
        CHECK_STR(st.causes[0].name, "USAGE");
        CHECK_EQ(st.causes[0].count, 5);
        /* Ties (3 each) sorted by name. */
        CHECK_STR(st.causes[1].name, "IO");
        CHECK_EQ(st.causes[1].count, 3);
        CHECK_STR(st.causes[2].name, "NOMEM");
        CHECK_EQ(st.causes[2].count, 3);
        CHECK_STR(st.causes[3].name, "E99999");
        CHECK_EQ(st.causes[3].count, 2);
        CHECK_STR(st.causes[4].name, "INTERRUPTED");
        CHECK_STR(st.causes[5].name, "NO_ERROR_CODE");
        int64_t sum = 0;
        for (size_t i = 0; i < st.ncauses; i++) {
            sum += st.causes[i].count;
            if (i)
                CHECK(st.causes[i - 1].count >= st.causes[i].count);
        }
        CHECK_EQ(sum, st.failures);
    }
    CHECK_EQ(st.nboards, 0);
    CHECK(st.yield < 0);           /* no boards: n/a */
    CHECK_EQ(st.running, 1);
    espfab_report_stats_free(&st);
}

static void test_buckets(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    /* 10:05 pass, 10:59 fail, 11:00 (end) pass, 13:30 interrupted: 4 hourly
     * buckets 10..13, hour 12 empty.  Bucketed by end time. */
    espfab_report_stats_add(&st, mk(1, "m1", T0 + 10 * HOUR + 4 * MIN, MIN, ESPFAB_OUTCOME_PASS, 0));
    espfab_report_stats_add(&st, mk(2, "m2", T0 + 10 * HOUR + 58 * MIN, MIN, ESPFAB_OUTCOME_FAIL,
                                    ESPFAB_E_IO));
    espfab_report_stats_add(&st, mk(3, "m3", T0 + 10 * HOUR + 59 * MIN, MIN, ESPFAB_OUTCOME_PASS, 0));
    espfab_report_stats_add(&st, mk(4, "m4", T0 + 13 * HOUR + 29 * MIN, MIN,
                                    ESPFAB_OUTCOME_INTERRUPTED, ESPFAB_E_INTERRUPTED));
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.bucket_ms, HOUR);
    CHECK_EQ(st.nbuckets, 4);
    if (st.nbuckets == 4) {
        CHECK_EQ(st.buckets[0].start_ms, T0 + 10 * HOUR);
        CHECK_EQ(st.buckets[0].passed, 1);
        CHECK_EQ(st.buckets[0].failed, 1);
        CHECK_EQ(st.buckets[1].passed, 1);
        CHECK_EQ(st.buckets[2].passed + st.buckets[2].failed + st.buckets[2].interrupted, 0);
        CHECK_EQ(st.buckets[3].interrupted, 1);
        CHECK_EQ(st.buckets[3].start_ms, T0 + 13 * HOUR);
    }
    espfab_report_stats_free(&st);

    /* 30 days: wider buckets, at most 240 of them, still counting everything. */
    espfab_report_stats_init(&st);
    for (int d = 0; d < 30; d++)
        espfab_report_stats_add(&st, mk(d + 1, "", T0 + d * 24 * HOUR, MIN, ESPFAB_OUTCOME_PASS, 0));
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK(st.nbuckets <= 240);
    CHECK(st.bucket_ms > HOUR);
    int64_t total = 0;
    for (size_t i = 0; i < st.nbuckets; i++)
        total += st.buckets[i].passed;
    CHECK_EQ(total, 30);
    espfab_report_stats_free(&st);
}

static void test_many_boards(void)
{
    /* Enough boards to grow the MAC index several times. */
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    char mac[18];
    for (int i = 0; i < 3000; i++) {
        snprintf(mac, sizeof mac, "24:6f:28:%02x:%02x:%02x", (i >> 16) & 255, (i >> 8) & 255,
                 i & 255);
        espfab_report_stats_add(&st, mk(i + 1, mac, T0 + i * 1000LL, 500,
                                        i % 3 ? ESPFAB_OUTCOME_PASS : ESPFAB_OUTCOME_FAIL,
                                        i % 3 ? 0 : ESPFAB_E_IO));
    }
    for (int i = 0; i < 3000; i += 3) { /* every failed board retried and passed */
        snprintf(mac, sizeof mac, "24:6f:28:%02x:%02x:%02x", (i >> 16) & 255, (i >> 8) & 255,
                 i & 255);
        espfab_report_stats_add(&st, mk(10000 + i, mac, T0 + 4000000LL + i, 500,
                                        ESPFAB_OUTCOME_PASS, 0));
    }
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.nboards, 3000);
    CHECK_EQ(st.boards_passed, 3000);
    CHECK_EQ(st.boards_first_pass, 2000);
    CHECK_EQ(st.attempts, 4000);
    espfab_report_stats_free(&st);
}

/* Crafted timestamps (INT64 extremes, a start after its end): no overflow in
 * the duration, the hour buckets or the rates (issue 16, item 12; the UBSan
 * build traps on signed overflow), a bounded number of buckets, and the HTML
 * page renders. */
static void test_extreme_times(void)
{
    static const int64_t times[][2] = {
        {INT64_MIN, INT64_MAX}, {INT64_MAX, INT64_MIN}, {INT64_MAX, 0}, {INT64_MIN, 0},
        {0, INT64_MAX}, {T0, INT64_MIN}, {INT64_MIN + 1, INT64_MAX - 1},
    };
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
        espfab_report_stats_t st;
        espfab_report_stats_init(&st);
        espfab_attempt_t *a = mk(1, "aa:00:00:00:00:01", times[k][0], 0, ESPFAB_OUTCOME_PASS, 0);
        a->end_ms = times[k][1];
        CHECK_EQ(espfab_report_stats_add(&st, a), 0);
        a = mk(2, "", T0, MIN, ESPFAB_OUTCOME_FAIL, ESPFAB_E_IO);
        CHECK_EQ(espfab_report_stats_add(&st, a), 0);
        CHECK_EQ(espfab_report_stats_finish(&st), 0);
        CHECK(st.nbuckets >= 1 && st.nbuckets <= 240);
        int64_t total = 0;
        for (size_t i = 0; i < st.nbuckets; i++)
            total += st.buckets[i].passed + st.buckets[i].failed + st.buckets[i].interrupted;
        CHECK_EQ(total, 2);
        CHECK(st.last_ms >= st.first_ms);
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        espfab_report_opts_t o = {0};
        o.format = ESPFAB_REPORT_HTML;
        o.now_ms = T0;
        CHECK_EQ(espfab_report_html(&st, &o, m), 0);
        fclose(m);
        CHECK_CONTAINS(buf, "</html>");
        free(buf);
        espfab_report_stats_free(&st);
    }
}

/* Issue 16, item 5: attempts that ended before the MAC was read are units
 * that failed: counted (one unit each) in the unit yield and first-pass
 * yield; running and ALREADY_PASSED attempts without a MAC are not units. */
static void test_unidentified_units(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    int64_t id = 1;
    for (int i = 0; i < 4; i++) { /* 4 boards: 3 pass first time, 1 after a retry */
        char mac[18];
        snprintf(mac, sizeof mac, "aa:00:00:00:01:%02x", i);
        if (i == 3)
            CHECK_EQ(espfab_report_stats_add(&st, mk(id++, mac, T0, MIN, ESPFAB_OUTCOME_FAIL,
                                                     ESPFAB_E_IO)), 0);
        CHECK_EQ(espfab_report_stats_add(&st, mk(id++, mac, T0 + HOUR, MIN, ESPFAB_OUTCOME_PASS,
                                                 0)), 0);
    }
    CHECK_EQ(espfab_report_stats_add(&st, mk(id++, "", T0, MIN, ESPFAB_OUTCOME_FAIL,
                                             ESPFAB_E_TIMEOUT)), 0);
    CHECK_EQ(espfab_report_stats_add(&st, mk(id++, "", T0, MIN, ESPFAB_OUTCOME_INTERRUPTED,
                                             ESPFAB_E_INTERRUPTED)), 0);
    CHECK_EQ(espfab_report_stats_add(&st, mk(id++, "", T0, 0, ESPFAB_OUTCOME_RUNNING, 0)), 0);
    CHECK_EQ(espfab_report_stats_add(&st, mk(id++, "", T0, MIN, ESPFAB_OUTCOME_INTERRUPTED,
                                             ESPFAB_E_ALREADY_PASSED)), 0);
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.nboards, 4);
    CHECK(st.yield > 0.9999);            /* identified boards: all 4 passed */
    CHECK_EQ(st.no_mac, 4);
    CHECK_EQ(st.unidentified, 2);        /* the fail and the interrupted one */
    CHECK_EQ(st.units, 6);
    CHECK_EQ(st.units_passed, 4);
    CHECK_EQ(st.units_first_pass, 3);
    CHECK(st.unit_yield > 4.0 / 6 - 1e-9 && st.unit_yield < 4.0 / 6 + 1e-9);
    CHECK(st.unit_first_pass_yield > 0.5 - 1e-9 && st.unit_first_pass_yield < 0.5 + 1e-9);
    espfab_report_stats_free(&st);

    espfab_report_stats_init(&st); /* nothing: n/a, not 0 % */
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK(st.unit_yield < 0 && st.unit_first_pass_yield < 0);
    espfab_report_stats_free(&st);
}

int main(void)
{
    RUN(test_yields);
    RUN(test_pareto_order);
    RUN(test_buckets);
    RUN(test_many_boards);
    RUN(test_extreme_times);
    RUN(test_unidentified_units);
    return check_summary();
}
