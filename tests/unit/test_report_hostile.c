/* test_report_hostile.c - reports of a database holding hostile strings
 * (issue 16, item 8, and its "Done means"): operator, lot, station, slot,
 * line, port, messages and file names with spreadsheet formulas, quotes,
 * markup, control characters, DEL and invalid UTF-8, stored with the store
 * API, exported as CSV, JSON and HTML and checked: no CSV cell starts a
 * formula, the JSON is valid and gives the strings back, the HTML carries
 * no markup from the database, every output is valid UTF-8.  Also the
 * report file helpers: -o over a SQLite file is refused, a failed report
 * leaves the old file. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "espfab/json.h"
#include "espfab/report.h"
#include "espfab/store.h"

#define T0 1795392000000LL /* 2026-11-23T00:00:00Z */

static char dir[] = "/tmp/test_report_hostile_XXXXXX";
static char dbpath[256];

static const char OPERATOR[] = "=HYPERLINK(\"http://evil.example\",\"x\")";
static const char LOT[] = "+cmd|' /C calc'!A0";
static const char STATION[] = "-2+3 \"st\" <b>";
static const char SLOT[] = "@SUM(1+1)*cmd";
static const char LINE[] = "\t=tab";
static const char PORT[] = "\r=cr</td><img src=x onerror=alert(1)>";
static const char MESSAGE[] = "<script>alert('x')</script> \x01\x1b[2J\x7f \xff\xfe end";
static const char FILE_NAME[] = "\"><script>x</script>=1.bin";

static int make_db(void)
{
    if (!mkdtemp(dir))
        return -1;
    snprintf(dbpath, sizeof dbpath, "%s/espfab.db", dir);
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    if (espfab_store_open(dbpath, 0, &s, NULL, &f) != 0)
        return -1;
    espfab_run_t r = {0};
    snprintf(r.station, sizeof r.station, "%s", STATION);
    snprintf(r.operator_name, sizeof r.operator_name, "%s", OPERATOR);
    snprintf(r.lot, sizeof r.lot, "%s", LOT);
    snprintf(r.mode, sizeof r.mode, "batch");
    r.start_ms = T0;
    int rc = espfab_store_run_begin(s, &r, &f);
    for (int k = 0; k < 2 && !rc; k++) {
        espfab_attempt_t a;
        espfab_attempt_init(&a);
        snprintf(a.station, sizeof a.station, "%s", STATION);
        snprintf(a.operator_name, sizeof a.operator_name, "%s", OPERATOR);
        snprintf(a.lot, sizeof a.lot, "%s", LOT);
        snprintf(a.slot, sizeof a.slot, "%s", SLOT);
        snprintf(a.line, sizeof a.line, "%s", LINE);
        snprintf(a.port, sizeof a.port, "%s", PORT);
        snprintf(a.chip, sizeof a.chip, "ESP32-S3");
        if (k == 0)
            snprintf(a.mac, sizeof a.mac, "24:6f:28:00:00:01");
        a.start_ms = T0 + k * 60000;
        rc = espfab_store_attempt_begin(s, r.id, &a, &f);
        if (rc)
            break;
        a.end_ms = a.start_ms + 30000;
        a.outcome = ESPFAB_OUTCOME_FAIL;
        a.fault.code = ESPFAB_E_MD5_MISMATCH;
        snprintf(a.fault.detail, sizeof a.fault.detail, "%s", MESSAGE);
        snprintf(a.message, sizeof a.message, "%s", MESSAGE);
        a.nregions = 1;
        a.regions[0].offset = 0x10000;
        snprintf(a.regions[0].file, sizeof a.regions[0].file, "%s", FILE_NAME);
        rc = espfab_store_attempt_finish(s, &a, &f);
    }
    if (rc)
        fprintf(stderr, "fill: %s\n", f.detail);
    espfab_store_close(s);
    return rc;
}

static char *export(espfab_report_format_t fmt)
{
    espfab_store_t *s = NULL;
    espfab_fault_t f;
    CHECK_EQ(espfab_store_open(dbpath, ESPFAB_STORE_READONLY, &s, NULL, &f), 0);
    if (!s)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    espfab_report_opts_t o = {0};
    o.format = fmt;
    espfab_store_filter_init(&o.filter);
    o.db_label = dbpath;
    o.now_ms = T0;
    int64_t rows = 0;
    CHECK_EQ(espfab_report_write(s, &o, m, &rows, &f), 0);
    CHECK_EQ(rows, 2);
    fclose(m);
    espfab_store_close(s);
    return buf;
}

/* Every byte sequence is valid UTF-8; control characters only where allowed. */
static void check_clean(const char *what, const char *s, const char *allowed_ctl)
{
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        if ((*p < 0x20 && !strchr(allowed_ctl, *p)) || *p == 0x7f) {
            fprintf(stderr, "%s: control byte 0x%02x at %zu\n", what, *p, (size_t)(p - (const unsigned char *)s));
            CHECK(!"control character in the output");
            return;
        }
        size_t n = espfab_utf8_len(p);
        if (!n) {
            fprintf(stderr, "%s: invalid UTF-8 at %zu\n", what, (size_t)(p - (const unsigned char *)s));
            CHECK(!"invalid UTF-8 in the output");
            return;
        }
        p += n;
    }
}

static void test_csv(void)
{
    char *csv = export(ESPFAB_REPORT_CSV);
    CHECK(csv != NULL);
    if (!csv)
        return;
    /* Walk the fields (RFC 4180): none may start, as a spreadsheet reads it
     * (unquoted), with a formula character, except a plain negative number. */
    int fields = 0, escaped = 0;
    for (const char *p = csv; *p;) {
        bool quoted = *p == '"';
        if (quoted) {
            if (p[1] == '\'' && strchr("=+-@\t\r", p[2]))
                escaped++;
            for (p++; *p && !(*p == '"' && p[1] != '"'); p += *p == '"' ? 2 : 1)
                ;
            if (*p)
                p++;
        } else {
            size_t n = strcspn(p, ",\r\n");
            if (n && strchr("=+-@\t", *p)) {
                bool number = *p == '-' && n > 1 && strspn(p + 1, "0123456789") == n - 1;
                if (!number) {
                    fprintf(stderr, "formula cell: %.*s\n", (int)n, p);
                    CHECK(!"a CSV cell starts a formula");
                }
            }
            p += n;
        }
        fields++;
        if (*p == ',' || *p == '\r' || *p == '\n')
            p += *p == '\r' && p[1] == '\n' ? 2 : 1;
    }
    CHECK(fields > 100);
    /* station, line, slot, port, operator and lot on both rows. */
    CHECK_EQ(escaped, 12);
    CHECK_CONTAINS(csv, "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"");
    CHECK_CONTAINS(csv, "\"'+cmd|' /C calc'!A0\"");
    CHECK_CONTAINS(csv, "\"'-2+3 \"\"st\"\" <b>\"");
    CHECK_CONTAINS(csv, "\"'@SUM(1+1)*cmd\"");
    CHECK_CONTAINS(csv, "\"'\t=tab\"");
    CHECK_CONTAINS(csv, "\"'\r=cr</td>");
    free(csv);
}

static void test_json(void)
{
    char *doc = export(ESPFAB_REPORT_JSON);
    CHECK(doc != NULL);
    if (!doc)
        return;
    check_clean("json", doc, "\n");
    CHECK(strstr(doc, "\xff") == NULL);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT json_valid(?1), json_array_length(?1), "
                                    "json_extract(?1, '$[0].operator'), json_extract(?1, '$[0].lot'), "
                                    "json_extract(?1, '$[1].station'), json_extract(?1, '$[1].slot'), "
                                    "json_extract(?1, '$[0].line'), json_extract(?1, '$[0].port'), "
                                    "json_extract(?1, '$[0].message'), "
                                    "json_extract(?1, '$[1].regions[0].file')", -1, &st, NULL),
             SQLITE_OK);
    sqlite3_bind_text(st, 1, doc, -1, SQLITE_STATIC);
    CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(st, 0), 1);
    CHECK_EQ(sqlite3_column_int(st, 1), 2);
    /* JSON is data, not a spreadsheet: the strings come back as stored. */
    CHECK_STR((const char *)sqlite3_column_text(st, 2), OPERATOR);
    CHECK_STR((const char *)sqlite3_column_text(st, 3), LOT);
    CHECK_STR((const char *)sqlite3_column_text(st, 4), STATION);
    CHECK_STR((const char *)sqlite3_column_text(st, 5), SLOT);
    CHECK_STR((const char *)sqlite3_column_text(st, 6), LINE);
    CHECK_STR((const char *)sqlite3_column_text(st, 7), PORT);
    /* Control characters and DEL escaped and given back; the invalid bytes
     * become U+FFFD. */
    CHECK_STR((const char *)sqlite3_column_text(st, 8),
              "<script>alert('x')</script> \x01\x1b[2J\x7f \xEF\xBF\xBD\xEF\xBF\xBD end");
    CHECK_STR((const char *)sqlite3_column_text(st, 9), FILE_NAME);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(doc);
}

static void test_html(void)
{
    char *h = export(ESPFAB_REPORT_HTML);
    CHECK(h != NULL);
    if (!h)
        return;
    check_clean("html", h, "\n\t");
    CHECK(strstr(h, "<script") == NULL);
    CHECK(strstr(h, "<img") == NULL);
    CHECK(strstr(h, "<b>") == NULL);
    CHECK_CONTAINS(h, "-2+3 &quot;st&quot; &lt;b&gt; / @SUM(1+1)*cmd");
    CHECK_CONTAINS(h, "&quot;&gt;&lt;script&gt;x&lt;/script&gt;=1.bin");
    CHECK_CONTAINS(h, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; "
                      "\xEF\xBF\xBD\xEF\xBF\xBD[2J\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD end");
    /* One board, one unidentified unit; both failed. */
    CHECK_CONTAINS(h, "id=\"headline-yield\">0.0 %<");
    CHECK_CONTAINS(h, "(1 unidentified)");
    free(h);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf && fread(buf, 1, (1 << 16) - 1, fp) == 0 && ferror(fp))
        buf[0] = '\0';
    fclose(fp);
    return buf;
}

static void put(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (fp) {
        fwrite(data, 1, n, fp);
        fclose(fp);
    }
}

/* Issue 16, item 1: the output check and the temporary file + rename. */
static void test_output_file(void)
{
    char p[300];
    espfab_fault_t f;
    CHECK_EQ(espfab_report_output_check(dbpath, dbpath, &f), ESPFAB_E_REPORT_OVER_DB);
    /* A file that only starts like SQLite's files, whatever its name. */
    static const unsigned char wal[8] = {0x37, 0x7f, 0x06, 0x82, 0, 0x2d, 0xe2, 0x18};
    static const unsigned char journal[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};
    snprintf(p, sizeof p, "%s/a.html", dir);
    put(p, "SQLite format 3\0rest", 20);
    CHECK_EQ(espfab_report_output_check(dbpath, p, &f), ESPFAB_E_REPORT_OVER_DB);
    CHECK_CONTAINS(f.detail, "is a SQLite database");
    put(p, wal, sizeof wal);
    CHECK_EQ(espfab_report_output_check(NULL, p, &f), ESPFAB_E_REPORT_OVER_DB);
    CHECK_CONTAINS(f.detail, "write-ahead log");
    put(p, journal, sizeof journal);
    CHECK_EQ(espfab_report_output_check(NULL, p, &f), ESPFAB_E_REPORT_OVER_DB);
    CHECK_CONTAINS(f.detail, "rollback journal");
    put(p, "SQLite format 2", 15); /* not SQLite's header: a text file */
    CHECK_EQ(espfab_report_output_check(dbpath, p, &f), 0);
    snprintf(p, sizeof p, "%s/new.csv", dir);
    CHECK_EQ(espfab_report_output_check(dbpath, p, &f), 0);
    snprintf(p, sizeof p, "%s-shm", dbpath); /* by name, whether it exists or not */
    CHECK_EQ(espfab_report_output_check(dbpath, p, &f), ESPFAB_E_REPORT_OVER_DB);

    /* A report that fails leaves the old file and no temporary file. */
    snprintf(p, sizeof p, "%s/keep.csv", dir);
    put(p, "old", 3);
    espfab_report_file_t rf;
    CHECK_EQ(espfab_report_file_open(&rf, dbpath, p, &f), 0);
    CHECK(rf.out != NULL);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s", rf.tmp ? rf.tmp : "");
    if (rf.out)
        fputs("half a report", rf.out);
    CHECK_EQ(espfab_report_file_commit(&rf, ESPFAB_E_IO, &f), ESPFAB_E_IO);
    char *got = slurp(p);
    CHECK_STR(got, "old");
    free(got);
    CHECK(access(tmp, F_OK) != 0);
    /* One that succeeds replaces it. */
    CHECK_EQ(espfab_report_file_open(&rf, dbpath, p, &f), 0);
    if (rf.out)
        fputs("new", rf.out);
    CHECK_EQ(espfab_report_file_commit(&rf, 0, &f), 0);
    got = slurp(p);
    CHECK_STR(got, "new");
    free(got);
    struct stat sb;
    CHECK_EQ(stat(p, &sb), 0);
    CHECK_EQ(sb.st_mode & 0777, 0644);
}

int main(void)
{
    if (make_db() != 0) {
        fprintf(stderr, "could not build the test database\n");
        return 1;
    }
    RUN(test_csv);
    RUN(test_json);
    RUN(test_html);
    RUN(test_output_file);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
