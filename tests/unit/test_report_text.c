/* test_report_text.c - the report serializers (CSV, HTML), the date parser
 * and the `espfab report` argument parser.  JSON strings come from json.h
 * and are tested in test_json.c. */
#include <stdlib.h>

#include "check.h"
#include "espfab/report.h"

typedef int (*ser_fn)(FILE *, const char *);

/* Runs a serializer into memory; returns a malloc'd string (caller frees). */
static char *ser(ser_fn fn, const char *in, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    *rc = fn(m, in);
    fclose(m);
    return buf;
}

#define SER_EQ(fn, in, want)                   \
    do {                                       \
        int rc_;                               \
        char *got_ = ser(fn, in, &rc_);        \
        CHECK_EQ(rc_, 0);                      \
        CHECK_STR(got_, want);                 \
        free(got_);                            \
    } while (0)

static void test_csv_quoting(void)
{
    SER_EQ(espfab_report_csv_field, "plain", "plain");
    SER_EQ(espfab_report_csv_field, "", "");
    SER_EQ(espfab_report_csv_field, NULL, "");
    SER_EQ(espfab_report_csv_field, "a,b", "\"a,b\"");
    SER_EQ(espfab_report_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\"");
    SER_EQ(espfab_report_csv_field, "\"", "\"\"\"\"");
    SER_EQ(espfab_report_csv_field, "line1\nline2", "\"line1\nline2\"");
    SER_EQ(espfab_report_csv_field, "cr\rhere", "\"cr\rhere\"");
    SER_EQ(espfab_report_csv_field, " lead", "\" lead\"");
    SER_EQ(espfab_report_csv_field, "trail ", "\"trail \"");
    SER_EQ(espfab_report_csv_field, "in side", "in side");
    SER_EQ(espfab_report_csv_field, "Pr\xC3\xBC" "fplatz", "Pr\xC3\xBC" "fplatz");
    SER_EQ(espfab_report_csv_field, "semi;colon\ttab", "semi;colon\ttab");
}

/* Issue 16, item 8: CSV injection.  A text cell a spreadsheet would run as a
 * formula gets OWASP's remedy: quoted, with a leading single quote; the
 * same characters elsewhere in the cell are harmless and left alone. */
static void test_csv_formula(void)
{
    SER_EQ(espfab_report_csv_field, "=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\"");
    SER_EQ(espfab_report_csv_field, "=1+2", "\"'=1+2\"");
    SER_EQ(espfab_report_csv_field, "+1", "\"'+1\"");
    SER_EQ(espfab_report_csv_field, "-2+3", "\"'-2+3\"");
    SER_EQ(espfab_report_csv_field, "@SUM(A1)", "\"'@SUM(A1)\"");
    SER_EQ(espfab_report_csv_field, "\t=cmd", "\"'\t=cmd\"");
    SER_EQ(espfab_report_csv_field, "\r=cmd", "\"'\r=cmd\"");
    SER_EQ(espfab_report_csv_field, "=a,b", "\"'=a,b\"");
    SER_EQ(espfab_report_csv_field, "a=b-c+d@e", "a=b-c+d@e");
    SER_EQ(espfab_report_csv_field, "'quoted", "'quoted");
}

static void test_html_escaping(void)
{
    SER_EQ(espfab_report_html_text, "<script>alert('x')</script>",
           "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    SER_EQ(espfab_report_html_text, "a&b \"c\"", "a&amp;b &quot;c&quot;");
    SER_EQ(espfab_report_html_text, "Pr\xC3\xBC" "f", "Pr\xC3\xBC" "f");
    SER_EQ(espfab_report_html_text, "x\x01y\x7fz\xFF", "x\xEF\xBF\xBDy\xEF\xBF\xBDz\xEF\xBF\xBD");
    SER_EQ(espfab_report_html_text, "tab\tnl\n", "tab\tnl\n");
    SER_EQ(espfab_report_html_text, NULL, "");
}

static void test_write_error(void)
{
    /* A FILE that cannot be written: the serializers report ESPFAB_E_IO. */
    FILE *ro = fopen("/dev/null", "r");
    CHECK(ro != NULL);
    if (!ro)
        return;
    CHECK_EQ(espfab_report_csv_field(ro, "a,b"), ESPFAB_E_IO);
    CHECK_EQ(espfab_report_html_text(ro, "<"), ESPFAB_E_IO);
    fclose(ro);
}

static void test_dates(void)
{
    int64_t ms = -1;
    CHECK_EQ(espfab_report_parse_time("1970-01-01", false, &ms), 0);
    CHECK_EQ(ms, 0);
    CHECK_EQ(espfab_report_parse_time("2026-11-23", false, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL); /* date -u -d 2026-11-23 +%s */
    CHECK_EQ(espfab_report_parse_time("2026-11-23", true, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + 86400000LL);
    CHECK_EQ(espfab_report_parse_time("2026-11-23T20:55:45.123Z", false, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + (20 * 3600 + 55 * 60 + 45) * 1000LL + 123);
    /* A time is exclusive even as --to: end_of_range changes nothing. */
    CHECK_EQ(espfab_report_parse_time("2026-11-23T20:55:45.123Z", true, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + (20 * 3600 + 55 * 60 + 45) * 1000LL + 123);
    CHECK_EQ(espfab_report_parse_time("2026-11-23 20:55", false, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + (20 * 3600 + 55 * 60) * 1000LL);
    CHECK_EQ(espfab_report_parse_time("2026-11-23T21:55:00+01:00", false, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + (20 * 3600 + 55 * 60) * 1000LL);
    CHECK_EQ(espfab_report_parse_time("2026-11-23T19:25:00-0130", false, &ms), 0);
    CHECK_EQ(ms, 1795392000000LL + (20 * 3600 + 55 * 60) * 1000LL);
    CHECK_EQ(espfab_report_parse_time("2024-02-29", false, &ms), 0);
    CHECK_EQ(ms, 1709164800000LL);
    CHECK_EQ(espfab_report_parse_time("2000-03-01T00:00:00.5Z", false, &ms), 0);
    CHECK_EQ(ms, 951868800500LL);
    static const char *bad[] = {"", "2026", "2026-13-01", "2026-00-10", "2026-02-29",
                                "2026-04-31", "2026-11-23T25:00", "2026-11-23T12", "23.11.2026",
                                "2026-11-23Z", "2026-11-23T12:00:00Q", "2026-11-23T12:00:00.",
                                "1969-12-31", "2026-1-2", "yesterday", "2026-11-23T12:00+5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = espfab_report_parse_time(bad[i], false, &ms);
        if (rc != ESPFAB_E_USAGE)
            fprintf(stderr, "accepted bad date '%s'\n", bad[i]);
        CHECK_EQ(rc, ESPFAB_E_USAGE);
    }
}

static int parse(char *err, espfab_report_args_t *a, int argc, const char **argv)
{
    return espfab_report_args_parse(argc, (char **)argv, a, err, 512);
}

static void test_args(void)
{
    char err[512];
    espfab_report_args_t a;
    const char *ok[] = {"report", "--db", "x.db", "--lot", "L7", "--from", "2026-11-01",
                        "--to=2026-11-02", "--profile", "p1", "--outcome", "fail",
                        "--station", "S1", "--format", "json", "-o", "out.json"};
    CHECK_EQ(parse(err, &a, 18, ok), 0);
    CHECK_STR(a.db, "x.db");
    CHECK_STR(a.filter.lot, "L7");
    CHECK_STR(a.filter.profile_name, "p1");
    CHECK_STR(a.filter.station, "S1");
    CHECK_EQ(a.filter.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(a.format, ESPFAB_REPORT_JSON);
    CHECK_STR(a.output, "out.json");
    CHECK_EQ(a.filter.from_ms, 1793491200000LL);
    CHECK_EQ(a.filter.to_ms, 1793491200000LL + 2 * 86400000LL);

    const char *defaults[] = {"report", "--format", "csv"};
    CHECK_EQ(parse(err, &a, 3, defaults), 0);
    CHECK_STR(a.db, "espfab.db");
    CHECK(a.output == NULL);
    CHECK_EQ(a.filter.outcome, -1);
    CHECK(a.filter.lot == NULL);

    const char *badfmt[] = {"report", "--format", "xml"};
    CHECK_EQ(parse(err, &a, 3, badfmt), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "'xml'");
    CHECK_CONTAINS(err, "csv, json or html");
    const char *nofmt[] = {"report", "--db", "x.db"};
    CHECK_EQ(parse(err, &a, 3, nofmt), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "missing --format");
    const char *baddate[] = {"report", "--format", "csv", "--from", "2026-02-30"};
    CHECK_EQ(parse(err, &a, 5, baddate), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "'2026-02-30'");
    CHECK_CONTAINS(err, "YYYY-MM-DD");
    const char *order[] = {"report", "--format", "csv", "--from", "2026-11-05", "--to",
                           "2026-11-01"};
    CHECK_EQ(parse(err, &a, 7, order), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "not before");
    const char *badoc[] = {"report", "--format", "csv", "--outcome", "ok"};
    CHECK_EQ(parse(err, &a, 5, badoc), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "'ok'");
    const char *unknown[] = {"report", "--format", "csv", "--lots", "x"};
    CHECK_EQ(parse(err, &a, 5, unknown), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "'--lots'");
    const char *novalue[] = {"report", "--format", "csv", "--db"};
    CHECK_EQ(parse(err, &a, 4, novalue), ESPFAB_E_USAGE);
    CHECK_CONTAINS(err, "--db needs a value");
    const char *help[] = {"report", "--help"};
    CHECK_EQ(parse(err, &a, 2, help), 0);
    CHECK(a.help);
}

int main(void)
{
    RUN(test_csv_quoting);
    RUN(test_csv_formula);
    RUN(test_html_escaping);
    RUN(test_write_error);
    RUN(test_dates);
    RUN(test_args);
    return check_summary();
}
