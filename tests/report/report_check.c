/*
 * report_check.c - checks an `espfab report --format html` page against the
 * database it came from, and a screenshot of it.
 *
 *   report_check html DB PAGE.html [LOT]   summary figures, Pareto bars, throughput
 *                                          totals and board rows vs. SQL counts
 *   report_check png SHOT.png W H          a real, non-blank rendering: size, colours,
 *                                          and the chart colours present
 *
 * The expected figures are computed here with plain SQL on the attempts
 * table, independently of src/report.  Prints what it compared; exit 0 when
 * everything matched, 1 otherwise.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int failures;

#define FAILF(...) do { fprintf(stderr, "report_check: " __VA_ARGS__); fputc('\n', stderr); \
        failures++; } while (0)

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

static sqlite3 *db;
static const char *lot;

static double sql_num(const char *sql)
{
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        FAILF("SQL error %s in: %s", sqlite3_errmsg(db), sql);
        return v;
    }
    sqlite3_bind_text(st, 1, lot, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* data-value of the element with id="s-<id>". */
static double html_value(const char *html, const char *id)
{
    char key[64];
    snprintf(key, sizeof key, "id=\"s-%s\" data-value=\"", id);
    const char *p = strstr(html, key);
    if (!p) {
        FAILF("no element %s in the page", key);
        return NAN;
    }
    return strtod(p + strlen(key), NULL);
}

static void expect(const char *html, const char *id, double want, double tol)
{
    double got = html_value(html, id);
    bool ok = fabs(got - want) <= tol;
    printf("%-18s page %-12.6g database %-12.6g %s\n", id, got, want, ok ? "ok" : "MISMATCH");
    if (!ok)
        FAILF("%s: page says %.6f, database says %.6f", id, got, want);
}

/* Attempts in the filter: "lot = ?1" or everything (?1 NULL). */
#define A "(SELECT * FROM attempts WHERE ?1 IS NULL OR lot = ?1)"

static int check_html(const char *dbpath, const char *page)
{
    char *html = slurp(page, NULL);
    if (!html) {
        FAILF("cannot read %s", page);
        return 1;
    }
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        FAILF("cannot open %s", dbpath);
        return 1;
    }
    double attempts = sql_num("SELECT count(*) FROM " A);
    double boards = sql_num("SELECT count(DISTINCT mac) FROM " A " WHERE mac <> ''");
    double bpass = sql_num("SELECT count(DISTINCT mac) FROM " A " WHERE mac <> '' AND outcome = 'pass'");
    /* First attempt of a board: no earlier (start_ms, id) with the same MAC. */
    double bfirst = sql_num("SELECT count(*) FROM " A " a WHERE a.mac <> '' AND a.outcome = 'pass' "
                            "AND NOT EXISTS (SELECT 1 FROM " A " b WHERE b.mac = a.mac AND "
                            "(b.start_ms < a.start_ms OR (b.start_ms = a.start_ms AND b.id < a.id)))");
    double dur = sql_num("SELECT max(max(coalesce(end_ms, start_ms), start_ms)) - min(start_ms) FROM " A);
    expect(html, "attempts", attempts, 0);
    expect(html, "boards", boards, 0);
    expect(html, "passed", sql_num("SELECT count(*) FROM " A " WHERE outcome = 'pass'"), 0);
    expect(html, "failed", sql_num("SELECT count(*) FROM " A " WHERE outcome = 'fail'"), 0);
    expect(html, "interrupted", sql_num("SELECT count(*) FROM " A " WHERE outcome = 'interrupted'"), 0);
    expect(html, "running", sql_num("SELECT count(*) FROM " A " WHERE outcome = 'running'"), 0);
    expect(html, "nomac", sql_num("SELECT count(*) FROM " A " WHERE mac = ''"), 0);
    expect(html, "boards-passed", bpass, 0);
    expect(html, "boards-first-pass", bfirst, 0);
    expect(html, "yield", boards ? bpass / boards : -1, 1e-6);
    expect(html, "fpy", boards ? bfirst / boards : -1, 1e-6);
    /* Units (issue 16, item 5): a completed attempt without a MAC is one
     * unidentified unit (not an ALREADY_PASSED one, code 703). */
    double unid = sql_num("SELECT count(*) FROM " A " WHERE mac = '' AND outcome <> 'running' "
                          "AND NOT (outcome = 'interrupted' AND error_code IS 703)");
    double unid_pass = sql_num("SELECT count(*) FROM " A " WHERE mac = '' AND outcome = 'pass'");
    double units = boards + unid;
    expect(html, "unidentified", unid, 0);
    expect(html, "units", units, 0);
    expect(html, "units-passed", bpass + unid_pass, 0);
    expect(html, "unit-yield", units ? (bpass + unid_pass) / units : -1, 1e-6);
    expect(html, "unit-fpy", units ? (bfirst + unid_pass) / units : -1, 1e-6);
    if (unid < 1)
        FAILF("the test database has no attempt that failed before its MAC was read");
    expect(html, "duration", dur, 0);
    expect(html, "bph", dur > 0 ? boards * 3600000.0 / dur : -1, 1e-3);
    if (attempts < 50 || boards < 20 || bpass >= boards || bfirst >= bpass)
        FAILF("the test database is not interesting enough (attempts %g, boards %g, passed %g, "
              "first pass %g)", attempts, boards, bpass, bfirst);

    /* Pareto: bars in the order of the SQL grouping (count desc, name). */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT error_name, count(*) AS n FROM " A " WHERE outcome IN "
                           "('fail', 'interrupted') GROUP BY error_name ORDER BY n DESC, error_name",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, lot, -1, SQLITE_STATIC);
    const char *p = html;
    int bars = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int n = sqlite3_column_int(st, 1);
        char key[160];
        snprintf(key, sizeof key, "<rect class=\"bar\" data-cause=\"%s\" data-count=\"%d\"", name, n);
        const char *q = strstr(p, key);
        printf("pareto bar %-2d %-22s %4d %s\n", ++bars, name, n, q ? "ok" : "MISSING/OUT OF ORDER");
        if (!q)
            FAILF("Pareto bar %d should be %s", bars, key);
        else
            p = q + 1;
    }
    sqlite3_finalize(st);
    if (bars < 3)
        FAILF("only %d failure causes in the test database", bars);

    /* Throughput bars add up to the completed attempts. */
    static const char *cls[3] = {"pass", "fail", "interrupted"};
    for (int k = 0; k < 3; k++) {
        char key[64], sql[160];
        snprintf(key, sizeof key, "<rect class=\"%s\" data-hour=\"", cls[k]);
        long sum = 0;
        int nb = 0;
        for (const char *q = strstr(html, key); q; q = strstr(q + 1, key)) {
            const char *c = strstr(q, "data-count=\"");
            sum += c ? strtol(c + 12, NULL, 10) : 0;
            nb++;
        }
        snprintf(sql, sizeof sql, "SELECT count(*) FROM " A " WHERE outcome = '%s'", cls[k]);
        double want = sql_num(sql);
        printf("throughput %-11s %ld in %d bars, database %g %s\n", cls[k], sum, nb, want,
               sum == (long)want ? "ok" : "MISMATCH");
        if (sum != (long)want)
            FAILF("throughput %s bars add up to %ld, database has %g", cls[k], sum, want);
    }

    /* One table row per board. */
    int rows = 0;
    for (const char *q = strstr(html, "<tr class=\"board "); q; q = strstr(q + 1, "<tr class=\"board "))
        rows++;
    printf("board rows %d, boards %g %s\n", rows, boards, rows == (int)boards ? "ok" : "MISMATCH");
    if (rows != (int)boards)
        FAILF("%d board rows for %g boards", rows, boards);

    /* Nothing from the database reaches the page unescaped. */
    if (strstr(html, "<QA>") || strstr(html, "<s3>") || strstr(html, "Amal & Wei"))
        FAILF("database text is not HTML-escaped");
    if (strstr(html, "<script") || strstr(html, "<link") || strstr(html, "<img") ||
        strstr(html, "https://") || strstr(html, "src="))
        FAILF("the page is not self-contained (script, link, img or network reference)");
    sqlite3_close(db);
    free(html);
    return failures ? 1 : 0;
}

/* ---- PNG ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static bool near(const unsigned char *px, unsigned rgb, int tol)
{
    int r = (int)(rgb >> 16) & 255, g = (int)(rgb >> 8) & 255, b = (int)rgb & 255;
    return abs(px[0] - r) <= tol && abs(px[1] - g) <= tol && abs(px[2] - b) <= tol;
}

static int check_png(const char *path, unsigned want_w, unsigned want_h)
{
    size_t len;
    unsigned char *d = (unsigned char *)slurp(path, &len);
    if (!d || len < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0) {
        FAILF("%s is not a PNG file", path);
        return 1;
    }
    printf("png size %zu bytes\n", len);
    if (len <= 10240)
        FAILF("%s is only %zu bytes: blank page?", path, len);
    unsigned w = 0, h = 0, depth = 0, ctype = 0;
    unsigned char *idat = NULL;
    size_t nidat = 0;
    for (size_t off = 8; off + 12 <= len;) {
        uint32_t n = be32(d + off);
        const unsigned char *type = d + off + 4, *body = d + off + 8;
        if (off + 12 + n > len)
            break;
        if (!memcmp(type, "IHDR", 4)) {
            w = be32(body);
            h = be32(body + 4);
            depth = body[8];
            ctype = body[9];
            if (body[12] != 0)
                FAILF("interlaced PNG not supported by this check");
        } else if (!memcmp(type, "IDAT", 4)) {
            idat = realloc(idat, nidat + n);
            memcpy(idat + nidat, body, n);
            nidat += n;
        }
        off += 12 + n;
    }
    printf("png %ux%u depth %u colour type %u\n", w, h, depth, ctype);
    if (w != want_w || h != want_h)
        FAILF("screenshot is %ux%u, expected %ux%u", w, h, want_w, want_h);
    unsigned bpp = ctype == 6 ? 4 : ctype == 2 ? 3 : 0;
    if (depth != 8 || !bpp) {
        FAILF("unexpected PNG format (depth %u colour type %u)", depth, ctype);
        return 1;
    }
    size_t stride = (size_t)w * bpp, raw_len = (stride + 1) * h;
    unsigned char *raw = malloc(raw_len);
    uLongf got = (uLongf)raw_len;
    if (uncompress(raw, &got, idat, (uLong)nidat) != Z_OK || got != raw_len) {
        FAILF("cannot inflate the PNG image data");
        return 1;
    }
    unsigned char *img = calloc(stride * h, 1);
    for (unsigned y = 0; y < h; y++) {
        unsigned char ft = raw[y * (stride + 1)];
        const unsigned char *src = raw + y * (stride + 1) + 1;
        unsigned char *row = img + y * stride, *up = y ? row - stride : NULL;
        for (size_t x = 0; x < stride; x++) {
            int a = x >= bpp ? row[x - bpp] : 0, b = up ? up[x] : 0;
            int c = up && x >= bpp ? up[x - bpp] : 0;
            int pred = ft == 0 ? 0 : ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2
                                                                          : paeth(a, b, c);
            row[x] = (unsigned char)(src[x] + pred);
        }
    }
    long nonwhite = 0, green = 0, red = 0, blue = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const unsigned char *px = img + i * bpp;
        if (!(px[0] > 245 && px[1] > 245 && px[2] > 245))
            nonwhite++;
        green += near(px, 0x2e8b57, 12);  /* passed bars */
        red += near(px, 0xc0392b, 12);    /* Pareto bars, failed bars */
        blue += near(px, 0x1f4e8c, 12);   /* cumulative line */
    }
    double frac = (double)nonwhite / ((double)w * h);
    printf("png non-white %.1f %%, pass-green px %ld, fail-red px %ld, cumulative-blue px %ld\n",
           frac * 100, green, red, blue);
    if (frac < 0.02)
        FAILF("the screenshot is (nearly) blank: %.2f %% non-white", frac * 100);
    if (green < 200 || red < 200 || blue < 50)
        FAILF("the charts did not render (green %ld, red %ld, blue %ld pixels)", green, red, blue);
    free(img);
    free(raw);
    free(idat);
    free(d);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "html")) {
        lot = argc > 4 ? argv[4] : NULL;
        return check_html(argv[2], argv[3]);
    }
    if (argc == 5 && !strcmp(argv[1], "png"))
        return check_png(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    fprintf(stderr, "usage: report_check html DB PAGE.html [LOT] | png SHOT.png W H\n");
    return 2;
}
