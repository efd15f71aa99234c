/*
 * html.c - the self-contained HTML report: summary table, failure Pareto
 * (inline SVG bars + cumulative-percentage line), throughput per hour
 * (inline SVG stacked bars) and the per-board table.  No scripts, no
 * external assets; print-friendly CSS inline.  Every string that comes from
 * the database goes through espfab_report_html_text().
 *
 * Stable hooks for tests and scrapers: summary cells have id="s-<name>"
 * and data-value="<exact number>"; Pareto bars are <rect class="bar"
 * data-cause=... data-count=...>; throughput bars carry class pass / fail /
 * interrupted and data-count; board rows are <tr class="board <outcome>">
 * in chunks of tables of class "boards" (the first one has id="boards").
 */
#include "espfab/report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "report/fields.h"
#include "report/page.h"

/* The first write error and the errno of the call that failed (read there,
 * not later: calls after it may change errno). */
typedef struct w {
    FILE *out;
    int err;
    int sys_errno;
} w_t;

static void pf(w_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(w_t *w, const char *fmt, ...)
{
    if (w->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    if (vfprintf(w->out, fmt, ap) < 0) {
        w->err = ESPFAB_E_IO;
        w->sys_errno = errno;
    }
    va_end(ap);
}

static void esc(w_t *w, const char *s)
{
    if (w->err)
        return;
    errno = 0;
    w->err = espfab_report_html_text(w->out, s);
    if (w->err)
        w->sys_errno = errno;
}

static void iso(int64_t ms, char out[32])
{
    espfab__report_iso8601(ms, out);
}

static const char CSS[] =
    "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;color:#1d2433;margin:24px 32px;"
    "font-size:14px;background:#fff}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:2px solid #1d2433;padding-bottom:3px}\n"
    ".meta{color:#555;margin:0 0 4px}code{font-family:'DejaVu Sans Mono',monospace;"
    "font-size:12px}\n"
    "table.summary{border-collapse:collapse}table.summary th{text-align:left;font-weight:normal;"
    "color:#444;padding:3px 24px 3px 0}table.summary td{font-weight:bold;text-align:right;"
    "padding:3px 0;font-variant-numeric:tabular-nums}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 12px}.card{border:1px solid #c8ced8;"
    "border-radius:6px;padding:8px 14px;min-width:110px}.card .v{font-size:24px;font-weight:bold}"
    ".card .l{color:#555;font-size:12px}\n"
    "svg{display:block;max-width:100%;height:auto}svg text{font-family:'DejaVu Sans',Arial,"
    "sans-serif;font-size:11px;fill:#1d2433}\n"
    "table.boards{border-collapse:collapse;width:100%;font-size:11px;table-layout:fixed}"
    ".boards th,.boards td{border:1px solid #c8ced8;padding:3px 5px;vertical-align:top;"
    "text-align:left;overflow-wrap:break-word}.boards th{background:#e9edf3}.boards code{font-size:10px;"
    "word-break:break-all}.boards td.nw,.boards td.nw code{word-break:normal}\n"
    "div.chunk{content-visibility:auto;contain-intrinsic-size:auto 9000px}\n"

    "table.summary td.cum{padding-left:14px;font-weight:normal}\n"
    "h3{font-size:14px;margin:14px 0 4px}table.tally{border-collapse:collapse;font-size:12px}"
    "table.tally th,table.tally td{border:1px solid #c8ced8;padding:2px 8px;text-align:right;"
    "font-variant-numeric:tabular-nums}table.tally th:first-child{text-align:left}"
    "table.tally thead th{background:#e9edf3}\n"
    "tr.pass td.outcome{color:#17692d;font-weight:bold}tr.fail td.outcome{color:#b3261e;"
    "font-weight:bold}tr.interrupted td.outcome{color:#a15c00;font-weight:bold}"
    "tr.running td.outcome{color:#555}\n"
    ".ok{color:#17692d}.bad{color:#b3261e}.none{color:#777}\n"
    ".legend span{display:inline-block;margin-right:16px}.sw{display:inline-block;width:11px;"
    "height:11px;margin-right:4px;vertical-align:-1px}\n"
    "@media print{body{margin:0;font-size:11px}h2{break-after:avoid}section.chart{"
    "break-inside:avoid}.boards thead{display:table-header-group}.boards tr{break-inside:avoid}"
    "div.chunk{content-visibility:visible}"
    "a{color:inherit;text-decoration:none}}\n"
    "@page{size:A4;margin:12mm}\n";

static void pct(char *buf, size_t len, double v)
{
    if (v < 0)
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f %%", v * 100.0);
}

static void duration(char *buf, size_t len, int64_t ms)
{
    int64_t min = ms / 60000;
    if (ms <= 0)
        snprintf(buf, len, "0 min");
    else if (min < 60)
        snprintf(buf, len, "%" PRId64 " min %" PRId64 " s", min, (ms / 1000) % 60);
    else
        snprintf(buf, len, "%" PRId64 " h %02" PRId64 " min", min / 60, min % 60);
}

/* One summary row: id, label, exact value, shown text. */
static void srow(w_t *w, const char *id, const char *label, const char *value, const char *shown)
{
    pf(w, "<tr><th>%s</th><td id=\"s-%s\" data-value=\"%s\">", label, id, value);
    esc(w, shown);
    pf(w, "</td></tr>\n");
}

static void srow_int(w_t *w, const char *id, const char *label, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    srow(w, id, label, s, s);
}

static void summary(w_t *w, const espfab_report_stats_t *st)
{
    char v[64], shown[64], a[32], b[32], unid[64] = "";
    /* The headline counts every unit, those that failed before their MAC
     * was read too (shown apart). */
    if (st->unidentified)
        snprintf(unid, sizeof unid, " <span id=\"unidentified\">(%" PRId64 " unidentified)</span>",
                 st->unidentified);
    pf(w, "<section id=\"summary\"><h2>Summary</h2>\n<div class=\"cards\">");
    pct(v, sizeof v, st->unit_yield);
    pf(w, "<div class=\"card\"><div class=\"v\" id=\"headline-yield\">%s</div>"
          "<div class=\"l\">yield</div></div>", v);
    pct(v, sizeof v, st->unit_first_pass_yield);
    pf(w, "<div class=\"card\"><div class=\"v\" id=\"headline-fpy\">%s</div>"
          "<div class=\"l\">first-pass yield</div></div>", v);
    pf(w, "<div class=\"card\"><div class=\"v\">%" PRId64 "</div><div class=\"l\">units%s</div>"
          "</div>", st->units, unid);
    pf(w, "<div class=\"card\"><div class=\"v\">%" PRId64 "</div><div class=\"l\">attempts</div>"
          "</div></div>\n", st->attempts);

    pf(w, "<table class=\"summary\">\n");
    srow_int(w, "attempts", "Attempts", st->attempts);
    srow_int(w, "boards", "Distinct boards (by MAC)", st->board_count);
    srow_int(w, "passed", "Passed attempts", st->passed);
    srow_int(w, "failed", "Failed attempts", st->failed);
    srow_int(w, "interrupted", "Interrupted attempts", st->interrupted);
    srow_int(w, "running", "Attempts still running", st->running);
    srow_int(w, "nomac", "Attempts without a MAC (failed before identification)", st->no_mac);
    srow_int(w, "boards-passed", "Boards that eventually passed", st->boards_passed);
    srow_int(w, "boards-first-pass", "Boards that passed on their first attempt",
             st->boards_first_pass);
    srow_int(w, "unidentified", "Unidentified units (an attempt that ended before the MAC was "
             "read, one unit each)", st->unidentified);
    srow_int(w, "units", "Units (boards + unidentified units)", st->units);
    srow_int(w, "units-passed", "Units that eventually passed", st->units_passed);
    snprintf(v, sizeof v, "%.6f", st->unit_yield);
    pct(shown, sizeof shown, st->unit_yield);
    srow(w, "unit-yield", "Yield (units eventually passed / units)", v, shown);
    snprintf(v, sizeof v, "%.6f", st->unit_first_pass_yield);
    pct(shown, sizeof shown, st->unit_first_pass_yield);
    srow(w, "unit-fpy", "First-pass yield (units passed on first attempt / units)", v, shown);
    snprintf(v, sizeof v, "%.6f", st->yield);
    pct(shown, sizeof shown, st->yield);
    srow(w, "yield", "Yield of identified boards (boards eventually passed / boards)", v, shown);
    snprintf(v, sizeof v, "%.6f", st->first_pass_yield);
    pct(shown, sizeof shown, st->first_pass_yield);
    srow(w, "fpy", "First-pass yield of identified boards (passed on first attempt / boards)", v,
         shown);
    snprintf(v, sizeof v, "%.3f", st->boards_per_hour);
    if (st->boards_per_hour < 0)
        snprintf(shown, sizeof shown, "n/a");
    else
        snprintf(shown, sizeof shown, "%.1f", st->boards_per_hour);
    srow(w, "bph", "Boards per hour", v, shown);
    int64_t dur = st->attempts ? espfab_report_span_ms(st->first_ms, st->last_ms) : 0;
    snprintf(v, sizeof v, "%" PRId64, dur);
    duration(shown, sizeof shown, dur);
    srow(w, "duration", "Duration (first start to last end)", v, shown);
    if (st->attempts) {
        iso(st->first_ms, a);
        iso(st->last_ms, b);
        srow(w, "first", "First attempt started", a, a);
        srow(w, "last", "Last attempt ended", b, b);
    }
    pf(w, "</table></section>\n");
}

/* A "nice" axis maximum >= v and its tick step. */
static void nice_axis(int64_t v, int64_t *max, int64_t *step)
{
    if (v < 1)
        v = 1;
    int64_t mag = 1;
    while (mag * 10 <= v)
        mag *= 10;
    static const int mult[] = {1, 2, 5, 10};
    int64_t s = mag;
    for (size_t i = 0; i < 4; i++) {
        s = mag * mult[i] / 5;
        if (s < 1)
            s = 1;
        if ((v + s - 1) / s <= 5)
            break;
    }
    *step = s;
    *max = (v + s - 1) / s * s;
}

#define PARETO_MAX_BARS 15

static void pareto(w_t *w, const espfab_report_stats_t *st)
{
    pf(w, "<section class=\"chart\" id=\"pareto-section\"><h2>Failure causes (Pareto)</h2>\n");
    if (!st->failures) {
        pf(w, "<p id=\"pareto-none\">No failed or interrupted attempts.</p></section>\n");
        return;
    }
    /* Bars: the top causes, the rest folded into one "other" bar. */
    size_t nb = st->ncauses > PARETO_MAX_BARS ? PARETO_MAX_BARS : st->ncauses;
    int64_t other = 0;
    for (size_t i = nb; i < st->ncauses; i++)
        other += st->causes[i].count;
    size_t bars = nb + (other ? 1 : 0);
    const int W = 1000, H = 380, L = 56, R = 56, T = 20, B = 120;
    int pw = W - L - R, ph = H - T - B;
    int64_t ymax, ystep;
    nice_axis(st->causes[0].count > other ? st->causes[0].count : other, &ymax, &ystep);
    pf(w, "<p>%" PRId64 " failed or interrupted attempts, %zu distinct causes.</p>\n", st->failures,
       st->ncauses);
    pf(w, "<svg id=\"pareto\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"failure Pareto chart\">\n",
       W, H, W, H);
    /* Axes and grid. */
    for (int64_t y = 0; y <= ymax; y += ystep) {
        double yy = T + ph - (double)ph * (double)y / (double)ymax;
        pf(w, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dde2ea\"/>"
              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%" PRId64 "</text>\n",
           L, yy, L + pw, yy, L - 6, yy + 4, y);
    }
    for (int p = 0; p <= 100; p += 20) {
        double yy = T + ph - ph * p / 100.0;
        pf(w, "<text x=\"%d\" y=\"%.1f\">%d%%</text>\n", L + pw + 6, yy + 4, p);
    }
    pf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1d2433\"/>\n", L, T + ph,
       L + pw, T + ph);
    pf(w, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">"
          "attempts</text>\n", T + ph / 2, T + ph / 2);
    pf(w, "<text x=\"%d\" y=\"%d\" transform=\"rotate(90 %d %d)\" text-anchor=\"middle\">"
          "cumulative %%</text>\n", W - 8, T + ph / 2, W - 8, T + ph / 2);
    double slot = (double)pw / (double)bars, bw = slot * 0.62;
    int64_t cum = 0;
    char line[8192];
    size_t ln = 0;
    line[0] = '\0';
    for (size_t i = 0; i < bars; i++) {
        bool is_other = i == nb;
        int64_t cnt = is_other ? other : st->causes[i].count;
        const char *name = is_other ? "other causes" : st->causes[i].name;
        cum += cnt;
        double x = L + slot * (double)i + (slot - bw) / 2;
        double h = (double)ph * (double)cnt / (double)ymax;
        double cx = x + bw / 2;
        pf(w, "<rect class=\"bar\" data-cause=\"");
        esc(w, name);
        pf(w, "\" data-count=\"%" PRId64 "\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
              "fill=\"#c0392b\"><title>", cnt, x, T + ph - h, bw, h);
        esc(w, name);
        pf(w, ": %" PRId64 "</title></rect>\n", cnt);
        /* The count inside the top of the bar when it fits, above it otherwise. */
        if (h > 18)
            pf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#fff\" "
                  "style=\"fill:#fff\">%" PRId64 "</text>\n", cx, T + ph - h + 14, cnt);
        else
            pf(w, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%" PRId64 "</text>\n", cx,
               T + ph - h - 4, cnt);
        pf(w, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-35 %.1f %d)\">",
           cx, T + ph + 14, cx, T + ph + 14);
        esc(w, name);
        pf(w, "</text>\n");
        double cy = T + ph - (double)ph * (double)cum / (double)st->failures;
        if (ln < sizeof line - 40)
            ln += (size_t)snprintf(line + ln, sizeof line - ln, "%s%.1f,%.1f", i ? " " : "", cx,
                                   cy);
    }
    pf(w, "<polyline class=\"cumulative\" points=\"%s\" fill=\"none\" stroke=\"#1f4e8c\" "
          "stroke-width=\"2\"/>\n", line);
    cum = 0;
    for (size_t i = 0; i < bars; i++) {
        cum += i == nb ? other : st->causes[i].count;
        double cx = L + slot * (double)i + slot / 2;
        double pctv = 100.0 * (double)cum / (double)st->failures;
        double cy = T + ph - ph * pctv / 100.0;
        pf(w, "<circle class=\"cum\" data-percent=\"%.1f\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
              "fill=\"#1f4e8c\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
              "style=\"fill:#1f4e8c\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">%.0f%%</text>\n", pctv, cx, cy, cx, cy - 8, pctv);
    }
    pf(w, "</svg>\n<div class=\"legend\"><span><i class=\"sw\" style=\"background:#c0392b\"></i>"
          "attempts per cause</span><span><i class=\"sw\" style=\"background:#1f4e8c\"></i>"
          "cumulative percentage</span></div>\n");
    /* The same numbers as a table (readable when printed in black and white). */
    pf(w, "<table class=\"summary\" id=\"pareto-table\">\n");
    cum = 0;
    for (size_t i = 0; i < st->ncauses; i++) {
        cum += st->causes[i].count;
        pf(w, "<tr><th><code>");
        esc(w, st->causes[i].name);
        pf(w, "</code> ");
        esc(w, st->causes[i].code ? espfab_strerror(st->causes[i].code)
                                  : "failure recorded without an error code");
        pf(w, "</th><td class=\"count\">%" PRId64 "</td><td class=\"cum\">&#160;%.1f %%</td>"
              "</tr>\n", st->causes[i].count, 100.0 * (double)cum / (double)st->failures);
    }
    pf(w, "</table></section>\n");
}

static void throughput(w_t *w, const espfab_report_stats_t *st)
{
    int64_t hours = st->bucket_ms / 3600000;
    pf(w, "<section class=\"chart\" id=\"throughput-section\"><h2>Throughput per hour (UTC)"
          "</h2>\n");
    if (hours > 1)
        pf(w, "<p>Bars are %" PRId64 "-hour buckets (the period is too long for one bar per "
              "hour).</p>\n", hours);
    if (!st->nbuckets) {
        pf(w, "<p id=\"throughput-none\">No completed attempts.</p></section>\n");
        return;
    }
    const int W = 1000, H = 320, L = 56, R = 16, T = 16, B = 70;
    int pw = W - L - R, ph = H - T - B;
    int64_t top = 0;
    for (size_t i = 0; i < st->nbuckets; i++) {
        int64_t t = st->buckets[i].passed + st->buckets[i].failed + st->buckets[i].interrupted;
        if (t > top)
            top = t;
    }
    int64_t ymax, ystep;
    nice_axis(top, &ymax, &ystep);
    pf(w, "<svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"attempts per hour\">\n", W, H, W, H);
    for (int64_t y = 0; y <= ymax; y += ystep) {
        double yy = T + ph - (double)ph * (double)y / (double)ymax;
        pf(w, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dde2ea\"/>"
              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%" PRId64 "</text>\n",
           L, yy, L + pw, yy, L - 6, yy + 4, y);
    }
    pf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#1d2433\"/>\n", L, T + ph,
       L + pw, T + ph);
    double slot = (double)pw / (double)st->nbuckets, bw = slot * 0.7;
    size_t every = st->nbuckets / 24 + 1; /* label at most ~24 buckets */
    static const struct { const char *cls, *color; } kinds[3] = {
        {"pass", "#2e8b57"}, {"fail", "#c0392b"}, {"interrupted", "#e08e0b"}};
    for (size_t i = 0; i < st->nbuckets; i++) {
        const espfab_report_bucket_t *b = &st->buckets[i];
        int64_t v[3] = {b->passed, b->failed, b->interrupted};
        double x = L + slot * (double)i + (slot - bw) / 2;
        double base = T + ph;
        char when[32];
        iso(b->start_ms, when);
        for (int k = 0; k < 3; k++) {
            double h = (double)ph * (double)v[k] / (double)ymax;
            pf(w, "<rect class=\"%s\" data-hour=\"%.16s\" data-count=\"%" PRId64 "\" x=\"%.1f\" "
                  "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%.13s:00 %s %"
                  PRId64 "</title></rect>\n", kinds[k].cls, when, v[k], x, base - h, bw, h,
               kinds[k].color, when, kinds[k].cls, v[k]);
            base -= h;
        }
        if (i % every == 0) {
            double cx = x + bw / 2;
            /* "11-23 14h" */
            pf(w, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-45 %.1f %d)\">"
                  "%.5s %.2sh</text>\n", cx, T + ph + 14, cx, T + ph + 14, when + 5, when + 11);
        }
    }
    pf(w, "</svg>\n<div class=\"legend\"><span><i class=\"sw\" style=\"background:#2e8b57\"></i>"
          "passed</span><span><i class=\"sw\" style=\"background:#c0392b\"></i>failed</span>"
          "<span><i class=\"sw\" style=\"background:#e08e0b\"></i>interrupted</span></div>\n"
          "</section>\n");
}

/* Board rows come in chunks of CHUNK_ROWS, each its own fixed-layout table
 * (the same column widths) in a div with content-visibility:auto, so that
 * a browser lays out only the chunks on screen: thousands of rows open in
 * seconds. */
#define CHUNK_ROWS 250
#define COLS                                                                               \
    "<colgroup><col style=\"width:3%\"><col style=\"width:10%\"><col style=\"width:6%\">"    \
    "<col style=\"width:4%\"><col style=\"width:6%\"><col style=\"width:21%\">"               \
    "<col style=\"width:13%\"><col style=\"width:6%\"><col style=\"width:10%\">"              \
    "<col style=\"width:7%\"><col style=\"width:6%\"><col style=\"width:8%\"></colgroup>"

typedef struct row_ctx {
    w_t *w;
    size_t n; /* rows written */
} row_ctx_t;

/* One board row (a report_row_fn). */
static int board_row(const espfab_report_board_t *b, void *data)
{
    row_ctx_t *c = data;
    w_t *w = c->w;
    if (c->n && c->n % CHUNK_ROWS == 0)
        pf(w, "</tbody></table></div>\n<div class=\"chunk\"><table class=\"boards\">%s<tbody>\n",
           COLS);
    c->n++;
    const char *oc = espfab_outcome_name(b->outcome);
    pf(w, "<tr class=\"board %s\" data-attempt=\"%" PRId64 "\"><td>%zu</td>"
          "<td class=\"nw\"><code>", oc, b->attempt_id, c->n);
    esc(w, b->mac);
    pf(w, "</code></td><td class=\"nw\">");
    esc(w, b->chip);
    pf(w, "</td><td>");
    if (b->rev_full >= 0)
        pf(w, "v%d.%d", b->rev_full / 100, b->rev_full % 100);
    pf(w, "</td><td class=\"nw\">");
    if (b->flash_jedec)
        pf(w, "<code>0x%06" PRIX32 "</code><br>", b->flash_jedec);
    if (b->flash_size) {
        if (b->flash_size >= 1024u * 1024u && b->flash_size % (1024u * 1024u) == 0)
            pf(w, " %" PRIu32 " MB", b->flash_size / (1024u * 1024u));
        else
            pf(w, " %" PRIu32 " KB", b->flash_size / 1024u);
    }
    pf(w, "</td><td>");
    for (int r = 0; r < b->nregions; r++) {
        pf(w, "%s<code>0x%05" PRIX32 "</code> ", r ? "<br>" : "", b->regions[r].offset);
        esc(w, b->regions[r].file);
        pf(w, " <code>");
        esc(w, b->regions[r].sha256);
        pf(w, "</code>");
    }
    pf(w, "</td><td>");
    for (int r = 0; r < b->nregions; r++) {
        const espfab_report_board_region_t *g = &b->regions[r];
        pf(w, "%s", r ? "<br>" : "");
        if (!g->md5_device[0]) {
            pf(w, "<span class=\"none\">not read</span>");
            continue;
        }
        pf(w, "<code class=\"%s\">", g->verified ? "ok" : "bad");
        esc(w, g->md5_device);
        pf(w, "</code> %s", g->verified ? "&#10003;" : "&#10007; mismatch");
    }
    pf(w, "</td><td class=\"outcome\">%s</td><td>", oc);
    esc(w, b->reason);
    pf(w, "</td><td>%d%s</td><td>", b->attempts,
       b->ever_passed && !b->first_passed ? " (retried)" : "");
    esc(w, b->station);
    pf(w, " / ");
    esc(w, b->slot);
    char t[32];
    iso(b->start_ms, t);
    if (strlen(t) > 11)
        pf(w, "</td><td class=\"nw\">%.10s<br>%.8s</td></tr>\n", t, t + 11);
    else
        pf(w, "</td><td class=\"nw\">%s</td></tr>\n", t);
    return w->err;
}

static void boards(w_t *w, const report_page_src_t *src)
{
    pf(w, "<section id=\"boards-section\"><h2>Boards</h2>\n<p>One row per board (MAC): its latest "
          "passed attempt, or its latest attempt if it never passed.</p>\n");
    if (src->unlisted_passed)
        pf(w, "<p id=\"boards-unlisted\" data-value=\"%" PRId64 "\">Listed: the boards that never "
              "passed, in full. The %" PRId64 " boards that passed are counted above and not listed "
              "here; every attempt of every board is in the CSV or JSON export "
              "(<code>espfab report --format csv</code>).</p>\n", src->unlisted_passed,
           src->unlisted_passed);
    pf(w, "<div class=\"chunk\"><table id=\"boards\" class=\"boards\">%s<thead><tr><th>#</th>"
          "<th>MAC</th><th>Chip</th><th>Rev</th><th>Flash</th><th>Images (offset, file, SHA-256)</th>"
          "<th>Device MD5</th><th>Outcome</th><th>Reason</th><th>Attempts</th>"
          "<th>Station / slot</th><th>Time (UTC)</th></tr></thead>\n<tbody>\n", COLS);
    row_ctx_t c = {w, 0};
    if (!w->err) {
        int rc = src->boards(src->data, board_row, &c);
        if (rc && !w->err)
            w->err = rc;
    }
    pf(w, "</tbody></table></div></section>\n");
}

/* The tallies of one grouping (a report_tally_fn). */
static int tally_row(const espfab_store_tally_t *t, void *data)
{
    w_t *w = data;
    char y[32];
    pct(y, sizeof y, t->boards ? (double)t->boards_passed / (double)t->boards : -1);
    pf(w, "<tr><th>");
    esc(w, t->key[0] ? t->key : "(none)");
    pf(w, "</th><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
          "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td data-value=\"%.6f\">%s</td></tr>\n",
       t->attempts, t->passed, t->failed, t->interrupted, t->boards, t->boards_passed,
       t->boards ? (double)t->boards_passed / (double)t->boards : -1.0, y);
    return w->err;
}

static void tallies(w_t *w, const report_page_src_t *src)
{
    static const struct { espfab_store_group_t by; const char *id, *title; } g[] = {
        {ESPFAB_STORE_BY_LOT, "lot", "lot"},
        {ESPFAB_STORE_BY_STATION, "station", "station"},
        {ESPFAB_STORE_BY_LINE, "line", "line"},
        {ESPFAB_STORE_BY_DAY, "day", "day (UTC)"},
    };
    if (!src->tallies)
        return;
    pf(w, "<section id=\"yield-section\"><h2>Yield per lot, station, line and day</h2>\n"
          "<p>Yield: boards (distinct MACs) with a passed attempt / boards.</p>\n");
    for (size_t i = 0; i < sizeof g / sizeof g[0] && !w->err; i++) {
        pf(w, "<h3>Per %s</h3>\n<table class=\"tally\" id=\"by-%s\"><thead><tr><th>%s</th>"
              "<th>Attempts</th><th>Passed</th><th>Failed</th><th>Interrupted</th><th>Boards</th>"
              "<th>Boards passed</th><th>Yield</th></tr></thead>\n<tbody>\n", g[i].title,
           g[i].id, g[i].title);
        if (!w->err) {
            int rc = src->tallies(src->data, g[i].by, tally_row, w);
            if (rc && !w->err)
                w->err = rc;
        }
        pf(w, "</tbody></table>\n");
    }
    pf(w, "</section>\n");
}

/* One line: which espfab and which stub (SHA-256 of its JSON) wrote the attempts. */
static void loaders(w_t *w, const espfab_report_stats_t *st)
{
    if (!st->nloaders)
        return;
    pf(w, "<p class=\"meta\" id=\"loaders\">Written by ");
    for (size_t i = 0; i < st->nloaders; i++) {
        const espfab_report_loader_t *l = &st->loaders[i];
        pf(w, "%s", i ? "; " : "");
        if (l->espfab_version[0]) {
            pf(w, "espfab ");
            esc(w, l->espfab_version);
        } else {
            pf(w, "espfab (version not recorded)");
        }
        if (l->stub_sha256[0]) {
            pf(w, " with stub sha256 <code>");
            esc(w, l->stub_sha256);
            pf(w, "</code>");
        } else {
            pf(w, l->espfab_version[0] ? " with the ROM loader" : "");
        }
        pf(w, " (%" PRId64 " attempt%s)", l->attempts, l->attempts == 1 ? "" : "s");
    }
    if (st->loaders_other)
        pf(w, "; others (%" PRId64 " attempts)", st->loaders_other);
    pf(w, "</p>\n");
}

/* The boards of st itself, in its order. */
static int own_boards(void *data, report_row_fn row, void *ctx)
{
    const espfab_report_stats_t *st = data;
    for (size_t i = 0; i < st->nboards; i++) {
        int rc = row(&st->boards[i], ctx);
        if (rc)
            return rc;
    }
    return 0;
}

int espfab_report_html(const espfab_report_stats_t *st, const espfab_report_opts_t *o, FILE *out)
{
    report_page_src_t src = {own_boards, NULL, (void *)st, 0};
    return espfab__report_html_page(st, o, out, &src);
}

int espfab__report_html_page(const espfab_report_stats_t *st, const espfab_report_opts_t *o,
                             FILE *out, const report_page_src_t *src)
{
    w_t w = {out, 0, 0};
    char now[32];
    iso(o->now_ms ? o->now_ms : espfab_store_now_ms(), now);
    pf(&w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
           "<meta name=\"generator\" content=\"espfab report\">\n"
           "<title>espfab flashing report</title>\n<style>\n%s</style></head>\n<body>\n", CSS);
    pf(&w, "<h1>espfab flashing report</h1>\n<p class=\"meta\">Database <code>");
    esc(&w, o->db_label ? o->db_label : "");
    pf(&w, "</code> &#183; generated <span id=\"generated\">%s</span></p>\n", now);
    pf(&w, "<p class=\"meta\" id=\"filter\">Filter: ");
    esc(&w, o->filter_label && o->filter_label[0] ? o->filter_label : "all attempts");
    pf(&w, "</p>\n");
    if (o->chain_head) {
        pf(&w, "<p class=\"meta\" id=\"chain\">Record chain head ");
        esc(&w, o->chain_head);
        pf(&w, "</p>\n");
    }
    summary(&w, st);
    loaders(&w, st);
    pareto(&w, st);
    throughput(&w, st);
    tallies(&w, src);
    boards(&w, src);
    pf(&w, "</body></html>\n");
    if (w.err == ESPFAB_E_IO)
        errno = w.sys_errno;
    return w.err;
}
