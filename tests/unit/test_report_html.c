/* test_report_html.c - the HTML page from known statistics: summary ids and
 * values, Pareto bars in order with the long tail folded into "other
 * causes", throughput bars, board rows, escaping, the empty report. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "espfab/report.h"

#define T0 1795392000000LL
#define MIN 60000LL

static char *render(const espfab_report_stats_t *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    espfab_report_opts_t o = {0};
    o.format = ESPFAB_REPORT_HTML;
    o.db_label = "/data/<line 1>/espfab.db";
    o.filter_label = "lot=A&B";
    o.now_ms = T0;
    CHECK_EQ(espfab_report_html(st, &o, m), 0);
    fclose(m);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_empty(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    char *h = render(&st);
    CHECK_CONTAINS(h, "id=\"s-attempts\" data-value=\"0\"");
    CHECK_CONTAINS(h, "id=\"s-yield\" data-value=\"-1.000000\">n/a<");
    CHECK_CONTAINS(h, "id=\"pareto-none\"");
    CHECK_CONTAINS(h, "id=\"throughput-none\"");
    CHECK_EQ(count(h, "<tr class=\"board "), 0);
    CHECK_CONTAINS(h, "/data/&lt;line 1&gt;/espfab.db");
    CHECK_CONTAINS(h, "lot=A&amp;B");
    CHECK_CONTAINS(h, "</html>");
    free(h);
    espfab_report_stats_free(&st);
}

static void test_page(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    espfab_attempt_t a;
    int64_t id = 1;
    /* 20 distinct causes: cause i fails 21 - i times -> 15 bars + "other". */
    for (size_t i = 0; i < 20; i++) {
        int code = espfab_err_at(i);
        for (size_t k = 0; k < 21 - i; k++) {
            espfab_attempt_init(&a);
            a.id = id++;
            a.start_ms = T0 + (int64_t)(i * 30 + k) * MIN;
            a.end_ms = a.start_ms + MIN / 2;
            a.outcome = ESPFAB_OUTCOME_FAIL;
            a.fault.code = code;
            CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
        }
    }
    /* Two boards: one passed with verified regions, one failed with an MD5
     * mismatch and hostile strings. */
    espfab_attempt_init(&a);
    a.id = id++;
    snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:01");
    snprintf(a.chip, sizeof a.chip, "ESP32-C6");
    a.rev_full = 2;
    a.flash_jedec = 0xC84016;
    a.flash_size = 4u << 20;
    a.start_ms = T0;
    a.end_ms = T0 + MIN;
    a.outcome = ESPFAB_OUTCOME_PASS;
    a.nregions = 1;
    a.regions[0].offset = 0x10000;
    snprintf(a.regions[0].file, sizeof a.regions[0].file, "app<1>.bin");
    snprintf(a.regions[0].sha256, sizeof a.regions[0].sha256, "%064d", 7);
    snprintf(a.regions[0].md5_device, sizeof a.regions[0].md5_device, "%032d", 5);
    a.regions[0].verified = true;
    CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
    a.id = id++;
    snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:02");
    a.start_ms = T0 + 2 * MIN;
    a.end_ms = T0 + 3 * MIN;
    a.outcome = ESPFAB_OUTCOME_FAIL;
    a.fault.code = ESPFAB_E_MD5_MISMATCH;
    a.regions[0].verified = false;
    snprintf(a.slot, sizeof a.slot, "slot \"7\"");
    snprintf(a.message, sizeof a.message, "md5 <differs> & 'retry'");
    CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    char *h = render(&st);

    CHECK_EQ(count(h, "<rect class=\"bar\""), 16);
    CHECK_CONTAINS(h, "data-cause=\"other causes\"");
    /* The first bar is the most frequent cause, and bars keep table order. */
    char first[128];
    snprintf(first, sizeof first, "<rect class=\"bar\" data-cause=\"%s\" data-count=\"21\"",
             st.causes[0].name);
    CHECK_CONTAINS(h, first);
    const char *prev = h;
    for (size_t i = 0; i < 15; i++) {
        char key[128];
        snprintf(key, sizeof key, "data-cause=\"%s\" data-count=\"%lld\"", st.causes[i].name,
                 (long long)st.causes[i].count);
        const char *p = strstr(prev, key);
        CHECK(p != NULL);
        if (p)
            prev = p;
    }
    /* "other" holds the tail: causes 16..21 (counts 5 4 3 2 1 and the MD5 one). */
    int64_t tail = 0;
    for (size_t i = 15; i < st.ncauses; i++)
        tail += st.causes[i].count;
    char other[96];
    snprintf(other, sizeof other, "data-cause=\"other causes\" data-count=\"%lld\"",
             (long long)tail);
    CHECK_CONTAINS(h, other);
    CHECK_EQ(count(h, "<circle class=\"cum\""), 16);
    CHECK_CONTAINS(h, "data-percent=\"100.0\"");

    CHECK_EQ(count(h, "<tr class=\"board "), 2);
    CHECK_CONTAINS(h, "<tr class=\"board pass\"");
    CHECK_CONTAINS(h, "<tr class=\"board fail\"");
    CHECK_CONTAINS(h, "0xC84016");
    CHECK_CONTAINS(h, "4 MB");
    CHECK_CONTAINS(h, "v0.2");
    CHECK_CONTAINS(h, "app&lt;1&gt;.bin");
    CHECK_CONTAINS(h, "mismatch");
    CHECK_CONTAINS(h, "MD5_MISMATCH: md5 &lt;differs&gt; &amp; &#39;retry&#39;");
    CHECK_CONTAINS(h, "slot &quot;7&quot;");
    CHECK(strstr(h, "<differs>") == NULL);

    CHECK_CONTAINS(h, "id=\"s-boards\" data-value=\"2\"");
    CHECK_CONTAINS(h, "id=\"s-yield\" data-value=\"0.500000\">50.0 %<");
    CHECK_CONTAINS(h, "id=\"s-fpy\" data-value=\"0.500000\"");
    /* Throughput bars add up to the completed attempts. */
    long sum = 0;
    for (const char *p = strstr(h, "data-hour="); p; p = strstr(p + 1, "data-hour=")) {
        const char *c = strstr(p, "data-count=\"");
        sum += strtol(c + 12, NULL, 10);
    }
    CHECK_EQ(sum, st.attempts);
    free(h);
    espfab_report_stats_free(&st);
}

/* Issue 16, item 5: 4 boards pass, 2 attempts fail before their MAC is read.
 * The headline said 100 % (boards by MAC only); it must count the two
 * unidentified units: 4 of 6, shown apart. */
static void test_unidentified_units(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    espfab_attempt_t a;
    for (int i = 0; i < 6; i++) {
        espfab_attempt_init(&a);
        a.id = i + 1;
        a.start_ms = T0 + i * MIN;
        a.end_ms = a.start_ms + MIN / 2;
        if (i < 4) {
            snprintf(a.mac, sizeof a.mac, "24:6f:28:00:01:%02x", i);
            a.outcome = ESPFAB_OUTCOME_PASS;
        } else {
            a.outcome = ESPFAB_OUTCOME_FAIL;
            a.fault.code = ESPFAB_E_TIMEOUT;
        }
        CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
    }
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    char *h = render(&st);
    CHECK_CONTAINS(h, "id=\"headline-yield\">66.7 %<");
    CHECK_CONTAINS(h, "id=\"headline-fpy\">66.7 %<");
    CHECK_CONTAINS(h, "(2 unidentified)");
    CHECK_CONTAINS(h, "id=\"s-unit-yield\" data-value=\"0.666667\">66.7 %<");
    CHECK_CONTAINS(h, "id=\"s-unit-fpy\" data-value=\"0.666667\"");
    CHECK_CONTAINS(h, "id=\"s-unidentified\" data-value=\"2\"");
    CHECK_CONTAINS(h, "id=\"s-units\" data-value=\"6\"");
    CHECK(strstr(h, "id=\"headline-yield\">100.0 %") == NULL);
    free(h);
    espfab_report_stats_free(&st);
}

/* A stream whose writes fail without saying why (errno untouched). */
static ssize_t mute_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    (void)buf;
    (void)n;
    return -1;
}

/* Issue 16, item 12: a write error is reported with its own errno, or none
 * when the failed write gave none, never one left over from an earlier call
 * (here ENOSPC); a page with crafted (INT64) times renders. */
static void test_write_error_errno(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    espfab_attempt_t a;
    espfab_attempt_init(&a);
    a.id = 1;
    snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:01");
    a.start_ms = INT64_MIN;
    a.end_ms = INT64_MAX;
    a.outcome = ESPFAB_OUTCOME_PASS;
    CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    FILE *ro = fopen("/dev/null", "r");
    CHECK(ro != NULL);
    if (ro) {
        espfab_report_opts_t o = {0};
        o.format = ESPFAB_REPORT_HTML;
        o.now_ms = T0;
        errno = ENOSPC;
        CHECK_EQ(espfab_report_html(&st, &o, ro), ESPFAB_E_IO);
        CHECK_EQ(errno, EBADF);
        fclose(ro);
    }
    cookie_io_functions_t io = {NULL, mute_write, NULL, NULL};
    FILE *mute = fopencookie(NULL, "w", io);
    CHECK(mute != NULL);
    if (mute) {
        setvbuf(mute, NULL, _IONBF, 0);
        espfab_report_opts_t o = {0};
        o.format = ESPFAB_REPORT_HTML;
        o.now_ms = T0;
        errno = ENOSPC;
        CHECK_EQ(espfab_report_html(&st, &o, mute), ESPFAB_E_IO);
        CHECK_EQ(errno, 0);
        fclose(mute);
    }
    espfab_report_stats_free(&st);
}

/* The line naming which espfab and which stub wrote the attempts (schema 3):
 * one entry per distinct pair, counted; unrecorded and ROM-loader rows said so. */
static void test_loaders_line(void)
{
    espfab_report_stats_t st;
    espfab_report_stats_init(&st);
    espfab_attempt_t a;
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (int i = 0; i < 5; i++) {
        espfab_attempt_init(&a);
        a.id = i + 1;
        a.start_ms = T0 + i * MIN;
        a.outcome = ESPFAB_OUTCOME_PASS;
        snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:%02x", i);
        snprintf(a.espfab_version, sizeof a.espfab_version, "%s", i == 4 ? "" : "1.2<3");
        if (i < 3)
            snprintf(a.stub_sha256, sizeof a.stub_sha256, "%s", sha);
        CHECK_EQ(espfab_report_stats_add(&st, &a), 0);
    }
    CHECK_EQ(espfab_report_stats_finish(&st), 0);
    CHECK_EQ(st.nloaders, 3u);
    char *h = render(&st);
    CHECK_CONTAINS(h, "id=\"loaders\">Written by espfab 1.2&lt;3 with stub sha256 <code>");
    CHECK_CONTAINS(h, sha);
    CHECK_CONTAINS(h, "</code> (3 attempts); espfab 1.2&lt;3 with the ROM loader (1 attempt); "
                      "espfab (version not recorded) (1 attempt)</p>");
    free(h);
    espfab_report_stats_free(&st);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_page);
    RUN(test_unidentified_units);
    RUN(test_write_error_errno);
    RUN(test_loaders_line);
    return check_summary();
}
