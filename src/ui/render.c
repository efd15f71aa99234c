/*
 * render.c - the console screen as a pure function of a snapshot
 * (console.h: espfab_console_render), plus the frame diff and the width
 * helpers.  No I/O.
 *
 * Layout: a title bar (station identity, clock), a totals line, the slot
 * area, a status line and a key/prompt line.  The slot area is a grid of
 * cells when every slot fits with at least 3 lines per cell and 20 columns;
 * otherwise a table with one line per slot that scrolls to keep the
 * selected slot visible.  A cell shows, by priority, what it has room for:
 * its name and port, then the state (a big PASS/FAIL banner, or the
 * progress bar), then the reason / rate, chip and MAC, then counters.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/console.h"
#include "ui/lb.h"

#define SGR_RESET "\033[0m"
#define MIN_CELL_W 20
#define MAX_CELL_W 48

/* ---- width helpers (public) ---- */

int espfab_console_visible_width(const char *s)
{
    int w = 0;
    while (s && *s) {
        unsigned char c = (unsigned char)*s;
        if (c == 0x1B) {
            s++;
            if (*s == '[') {
                s++;
                while (*s && !(*s >= 0x40 && *s <= 0x7E))
                    s++;
                if (*s)
                    s++;
            } else if (*s) {
                s++;
            }
            continue;
        }
        if ((c & 0xC0) != 0x80) /* not a continuation byte */
            w++;
        s++;
    }
    return w;
}

void espfab_console_strip_ansi(const char *s, char *out)
{
    while (s && *s) {
        if (*s == 0x1B) {
            s++;
            if (*s == '[') {
                s++;
                while (*s && !(*s >= 0x40 && *s <= 0x7E))
                    s++;
                if (*s)
                    s++;
            } else if (*s) {
                s++;
            }
            continue;
        }
        *out++ = *s++;
    }
    *out = '\0';
}

static bool has_utf8(const char *v)
{
    if (!v || !*v)
        return false;
    for (const char *p = v; *p; p++)
        if ((p[0] == 'u' || p[0] == 'U') && (p[1] == 't' || p[1] == 'T') &&
            (p[2] == 'f' || p[2] == 'F') &&
            ((p[3] == '8') || (p[3] == '-' && p[4] == '8')))
            return true;
    return false;
}

bool espfab_console_env_utf8(void)
{
    /* The first of LC_ALL, LC_CTYPE, LANG that is set decides. */
    const char *names[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return has_utf8(v);
    }
    return false;
}

/* ---- styles ---- */

typedef struct style {
    const char *title, *title_sel, *pass, *fail, *intr, *flash, *wait, *pause, *dim, *bad,
        *good, *bar, *prompt, *help;
} style_t;

static const style_t style_color = {
    .title = "\033[0;7m",
    .title_sel = "\033[0;1;30;46m",
    .pass = "\033[0;1;30;42m",
    .fail = "\033[0;1;97;41m",
    .intr = "\033[0;1;30;43m",
    .flash = "\033[0;1;36m",
    .wait = "\033[0;2m",
    .pause = "\033[0;1;35m",
    .dim = "\033[0;2m",
    .bad = "\033[0;1;31m",
    .good = "\033[0;1;32m",
    .bar = "\033[0;36m",
    .prompt = "\033[0;1;7m",
    .help = "\033[0;7m",
};

static const style_t style_mono = {
    .title = "\033[0;7m",
    .title_sel = "\033[0;1;4;7m",
    .pass = "\033[0;1;7m",
    .fail = "\033[0;1;7m",
    .intr = "\033[0;1;7m",
    .flash = "\033[0;1m",
    .wait = "\033[0m",
    .pause = "\033[0;1m",
    .dim = "\033[0m",
    .bad = "\033[0;1m",
    .good = "\033[0;1m",
    .bar = "\033[0m",
    .prompt = "\033[0;1;7m",
    .help = "\033[0;7m",
};

/* ---- formatting ---- */

static void fmt_rate(double bps, char *out, size_t n)
{
    if (bps <= 0)
        snprintf(out, n, "-- kB/s");
    else if (bps >= 1e6)
        snprintf(out, n, "%.2f MB/s", bps / 1e6);
    else
        snprintf(out, n, "%.1f kB/s", bps / 1e3);
}

static void fmt_eta(double s, char *out, size_t n)
{
    if (s < 0 || !isfinite(s)) {
        snprintf(out, n, "ETA --");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, n, "ETA %ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, n, "ETA %ld:%02ld", t / 60, t % 60);
}

static int percent(const espfab_slot_status_t *s)
{
    if (!s->total)
        return 0;
    uint64_t d = s->done > s->total ? s->total : s->done;
    return (int)(d * 100 / s->total);
}

static const char *str(const char *s) { return s ? s : ""; }

/* ---- big letters (5 pixel rows, drawn in 3 lines with half blocks) ---- */

typedef struct glyph5 {
    char c;
    const char *row[5];
} glyph5_t;

static const glyph5_t font[] = {
    {'P', {"###.", "#..#", "###.", "#...", "#..."}},
    {'A', {".##.", "#..#", "####", "#..#", "#..#"}},
    {'S', {".###", "#...", ".##.", "...#", "###."}},
    {'F', {"####", "#...", "###.", "#...", "#..."}},
    {'I', {"###", ".#.", ".#.", ".#.", "###"}},
    {'L', {"#...", "#...", "#...", "#...", "####"}},
};

static const glyph5_t *glyph_of(char c)
{
    for (size_t i = 0; i < sizeof(font) / sizeof(font[0]); i++)
        if (font[i].c == c)
            return &font[i];
    return NULL;
}

/* Width in columns of word in big letters, -1 if a letter is missing. */
static int big_width(const char *word)
{
    int w = 0;
    for (const char *p = word; *p; p++) {
        const glyph5_t *g = glyph_of(*p);
        if (!g)
            return -1;
        w += (int)strlen(g->row[0]) + (p[1] ? 1 : 0);
    }
    return w;
}

static bool px(const glyph5_t *g, int row, int col)
{
    return row < 5 && g->row[row][col] == '#';
}

/* Line r (0..2) of a 3-line banner for word, w columns wide, in sty. */
static char *banner_line(const char *word, int r, int w, bool utf8, const char *sty)
{
    lb_t b;
    espfab__lb_init(&b, w, utf8);
    espfab__lb_esc(&b, sty);
    int bw = utf8 ? big_width(word) : -1;
    if (bw > 0 && bw <= w) {
        int pad = (w - bw) / 2;
        espfab__lb_spaces(&b, pad);
        for (const char *p = word; *p; p++) {
            const glyph5_t *g = glyph_of(*p);
            int gw = (int)strlen(g->row[0]);
            for (int c = 0; c < gw; c++) {
                bool top = px(g, 2 * r, c), bot = px(g, 2 * r + 1, c);
                espfab__lb_glyph(&b, top && bot ? "\xE2\x96\x88"
                                     : top     ? "\xE2\x96\x80"
                                     : bot     ? "\xE2\x96\x84"
                                               : " ");
            }
            if (p[1])
                espfab__lb_spaces(&b, 1);
        }
    } else if (r == 1) {
        /* spaced-out word in the middle line of a solid block */
        char spaced[64];
        size_t k = 0;
        for (const char *p = word; *p && k + 2 < sizeof(spaced); p++) {
            spaced[k++] = *p;
            if (p[1] && strlen(word) <= 6)
                spaced[k++] = ' ';
        }
        spaced[k] = '\0';
        int tw = (int)k;
        if (tw > w)
            tw = w;
        espfab__lb_spaces(&b, (w - tw) / 2);
        espfab__lb_text(&b, spaced, -1);
    }
    espfab__lb_spaces(&b, w - b.width);
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

/* ---- cells ---- */

typedef enum item_kind { IT_TITLE, IT_TEXT, IT_BAR, IT_BANNER } item_kind_t;

typedef struct item {
    item_kind_t kind;
    int prio;           /* 1 = most important */
    const char *style;
    char text[600];
    bool left_cut;
    bool continued;     /* the next item holds the rest of this text */
    int lines;          /* banner: 3 or 1 (decided when picking) */
} item_t;

typedef struct cell_items {
    item_t it[12];
    int n;
} cell_items_t;

static item_t *add(cell_items_t *c, item_kind_t k, int prio, const char *sty, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

static item_t *add(cell_items_t *c, item_kind_t k, int prio, const char *sty, const char *fmt,
                   ...)
{
    if (c->n >= (int)(sizeof(c->it) / sizeof(c->it[0])))
        return NULL;
    item_t *it = &c->it[c->n++];
    memset(it, 0, sizeof(*it));
    it->kind = k;
    it->prio = prio;
    it->style = sty;
    it->lines = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->text, sizeof(it->text), fmt, ap);
    va_end(ap);
    return it;
}

static const char *outcome_word(espfab_outcome_t o)
{
    return o == ESPFAB_OUTCOME_PASS ? "PASS" : o == ESPFAB_OUTCOME_FAIL ? "FAIL"
                                              : o == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED"
                                                                                : "RUNNING";
}

static const char *outcome_style(const style_t *st, espfab_outcome_t o)
{
    return o == ESPFAB_OUTCOME_PASS ? st->pass : o == ESPFAB_OUTCOME_FAIL ? st->fail : st->intr;
}

/* The result of the slot's last attempt, if the state shows one. */
static const espfab_attempt_t *shown_result(const espfab_slot_status_t *s)
{
    const espfab_attempt_t *a = s->attempt;
    if (!a || a->outcome == ESPFAB_OUTCOME_RUNNING)
        return NULL;
    if (s->state == ESPFAB_SLOT_PASSED || s->state == ESPFAB_SLOT_FAILED ||
        s->state == ESPFAB_SLOT_REMOVE)
        return a;
    return NULL;
}

static void chip_mac_items(cell_items_t *c, const espfab_attempt_t *a, int w, int prio,
                           const style_t *st)
{
    if (!a || (!a->chip[0] && !a->mac[0]))
        return;
    if ((int)(strlen(a->chip) + 1 + strlen(a->mac)) <= w || !a->mac[0] || !a->chip[0]) {
        add(c, IT_TEXT, prio, st->dim, "%s%s%s", a->chip, a->chip[0] && a->mac[0] ? " " : "",
            a->mac);
    } else {
        add(c, IT_TEXT, prio, st->dim, "%s", a->chip);
        add(c, IT_TEXT, prio + 1, st->dim, "%s", a->mac);
    }
}

static void build_items(const espfab_console_view_t *v, int idx, int w, cell_items_t *c,
                        const style_t *st)
{
    const espfab_slot_status_t *s = &v->slots[idx];
    const espfab_attempt_t *res = shown_result(s);
    char a1[64], a2[64];
    c->n = 0;
    add(c, IT_TITLE, 1, idx == v->selected ? st->title_sel : st->title, "%s", str(s->name));
    switch (s->state) {
    case ESPFAB_SLOT_FLASHING:
        add(c, IT_TEXT, 2, st->flash, "FLASHING %s", str(s->phase));
        if (s->total)
            add(c, IT_BAR, 2, st->bar, "%d%%", percent(s));
        fmt_rate(s->bytes_per_s, a1, sizeof(a1));
        fmt_eta(s->eta_s, a2, sizeof(a2));
        if (s->total)
            add(c, IT_TEXT, 3, NULL, "%s %s", a1, a2);
        chip_mac_items(c, s->attempt, w, 4, st);
        break;
    case ESPFAB_SLOT_PASSED:
    case ESPFAB_SLOT_FAILED:
    case ESPFAB_SLOT_REMOVE:
        if (res) {
            add(c, IT_BANNER, 2, outcome_style(st, res->outcome), "%s", outcome_word(res->outcome));
            if (s->state == ESPFAB_SLOT_REMOVE)
                add(c, IT_TEXT, 3, st->flash, "REMOVE board");
            if (res->outcome != ESPFAB_OUTCOME_PASS) {
                const char *nm = res->fault.code ? espfab_err_name(res->fault.code) : NULL;
                item_t *first = add(c, IT_TEXT, 2, st->bad, "%s",
                                    res->message[0] ? res->message : nm ? nm : "failed");
                /* the rest of a long reason on the next line */
                if (first && espfab__text_width(res->message, v->utf8) > w && w > 1) {
                    const char *rest = espfab__text_skip(res->message, w, v->utf8);
                    while (*rest == ' ')
                        rest++;
                    if (add(c, IT_TEXT, 5, st->bad, "%s", rest))
                        first->continued = true;
                }
            } else {
                add(c, IT_TEXT, 4, st->good, "%s", res->message[0] ? res->message : "passed");
            }
            chip_mac_items(c, res, w, 3, st);
        } else {
            add(c, IT_TEXT, 2, st->flash, "%s", s->state == ESPFAB_SLOT_REMOVE ? "REMOVE board"
                                                : s->state == ESPFAB_SLOT_PASSED ? "PASS" : "FAIL");
        }
        break;
    case ESPFAB_SLOT_WAITING:
        add(c, IT_TEXT, 2, st->wait, "waiting for a board");
        break;
    case ESPFAB_SLOT_PAUSED:
        add(c, IT_TEXT, 2, st->pause, "PAUSED (p resumes)");
        break;
    case ESPFAB_SLOT_STOPPED:
        add(c, IT_TEXT, 2, st->wait, "stopped");
        break;
    case ESPFAB_SLOT_IDLE:
    default:
        add(c, IT_TEXT, 2, st->wait, "idle");
        break;
    }
    if ((s->state == ESPFAB_SLOT_WAITING || s->state == ESPFAB_SLOT_PAUSED ||
         s->state == ESPFAB_SLOT_STOPPED) &&
        s->attempt && s->attempt->outcome != ESPFAB_OUTCOME_RUNNING) {
        const espfab_attempt_t *a = s->attempt;
        add(c, IT_TEXT, 3, a->outcome == ESPFAB_OUTCOME_PASS ? st->good : st->bad, "last: %s %s",
            outcome_word(a->outcome), a->mac[0] ? a->mac : a->message);
    }
    if (s->passed || s->failed)
        add(c, IT_TEXT, 6, st->dim, "ok %u  failed %u", s->passed, s->failed);
}

/* Picks items by priority into at most h lines; returns lines used. */
static int pick(cell_items_t *c, int h, bool *keep)
{
    int used = 0;
    for (int p = 1; p <= 9; p++)
        for (int i = 0; i < c->n; i++) {
            item_t *it = &c->it[i];
            if (it->prio != p)
                continue;
            keep[i] = false;
            if (it->kind == IT_BANNER) {
                /* three lines when the rest of this priority still fits */
                int rest = 0;
                for (int j = 0; j < c->n; j++)
                    if (j != i && c->it[j].prio <= p && !keep[j] && c->it[j].prio == p)
                        rest++;
                if (used + 3 + rest <= h) {
                    it->lines = 3;
                } else {
                    it->lines = 1;
                }
            }
            if (used + it->lines <= h) {
                keep[i] = true;
                used += it->lines;
            }
        }
    return used;
}

static char *bar_line(const espfab_slot_status_t *s, int w, bool utf8, const style_t *st)
{
    lb_t b;
    char pct[8];
    int p = percent(s);
    snprintf(pct, sizeof(pct), " %3d%%", p);
    int bw = w - (int)strlen(pct) - 2;
    espfab__lb_init(&b, w, utf8);
    espfab__lb_esc(&b, st->bar);
    if (bw >= 3) {
        int fill = (int)((double)bw * (double)p / 100.0 + 0.5);
        espfab__lb_glyph(&b, "[");
        for (int i = 0; i < bw; i++)
            espfab__lb_glyph(&b, i < fill ? (utf8 ? "\xE2\x96\x88" : "#")
                                          : (utf8 ? "\xC2\xB7" : "."));
        espfab__lb_glyph(&b, "]");
    }
    espfab__lb_esc(&b, "\033[0;1m");
    espfab__lb_text(&b, pct, -1);
    espfab__lb_spaces(&b, w - b.width);
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

/* h lines of w columns for slot idx into out[0..h-1]. */
static int cell_render(const espfab_console_view_t *v, int idx, int w, int h, char **out,
                       const style_t *st)
{
    const espfab_slot_status_t *s = &v->slots[idx];
    cell_items_t c;
    bool keep[12] = {false};
    build_items(v, idx, w, &c, st);
    pick(&c, h, keep);
    int row = 0;
    for (int i = 0; i < c.n && row < h; i++) {
        if (!keep[i])
            continue;
        item_t *it = &c.it[i];
        lb_t b;
        espfab__lb_init(&b, w, v->utf8);
        switch (it->kind) {
        case IT_TITLE: {
            espfab__lb_esc(&b, it->style);
            espfab__lb_glyph(&b, idx == v->selected ? ">" : " ");
            int nw = espfab__text_width(it->text, v->utf8);
            if (nw > w / 2)
                nw = w / 2;
            espfab__lb_field(&b, it->text, nw, false);
            espfab__lb_spaces(&b, 1);
            espfab__lb_field(&b, str(s->port), w - b.width, true);
            espfab__lb_esc(&b, SGR_RESET);
            out[row++] = espfab__lb_take(&b);
            break;
        }
        case IT_BAR:
            out[row++] = bar_line(s, w, v->utf8, st);
            break;
        case IT_BANNER:
            if (it->lines == 3) {
                for (int r = 0; r < 3; r++)
                    out[row++] = banner_line(it->text, r, w, v->utf8, it->style);
            } else {
                out[row++] = banner_line(it->text, 1, w, false, it->style);
            }
            break;
        case IT_TEXT:
        default:
            if (it->style)
                espfab__lb_esc(&b, it->style);
            if (it->continued && i + 1 < c.n && keep[i + 1]) {
                /* exactly w characters: the next line goes on */
                espfab__lb_text(&b, it->text, w);
                espfab__lb_spaces(&b, w - b.width);
            } else {
                espfab__lb_field(&b, it->text, w, false);
            }
            espfab__lb_esc(&b, SGR_RESET);
            out[row++] = espfab__lb_take(&b);
            break;
        }
        free(b.buf);
    }
    while (row < h) {
        lb_t b;
        espfab__lb_init(&b, w, v->utf8);
        espfab__lb_spaces(&b, w);
        out[row++] = espfab__lb_take(&b);
    }
    for (int i = 0; i < h; i++)
        if (!out[i])
            return -1;
    return 0;
}

/* ---- header, footer, table ---- */

static char *header1(const espfab_console_view_t *v, const style_t *st)
{
    lb_t b;
    char clock[16] = "";
    espfab__lb_init(&b, v->cols, v->utf8);
    espfab__lb_esc(&b, st->title);
    if (v->now_ms > 0) {
        time_t t = (time_t)(v->now_ms / 1000);
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
    }
    int reserve = clock[0] ? (int)strlen(clock) + 1 : 0;
    const char *keys[] = {"station", "profile", "lot", "operator", "line", "mode"};
    const char *vals[] = {v->station, v->profile, v->lot, v->operator_name, v->line, v->mode};
    for (int i = 0; i < 6; i++) {
        if (!vals[i] || !vals[i][0])
            continue;
        int gap = b.width ? 2 : 1;
        int need = gap + (int)strlen(keys[i]) + 1 + espfab__text_width(vals[i], v->utf8);
        if (b.width + need > v->cols - reserve) {
            /* the station and profile are worth a cut value */
            if (i <= 1 && b.width + (int)strlen(keys[i]) + 6 < v->cols - reserve) {
                espfab__lb_text(&b, gap == 2 ? "  " : " ", -1);
                espfab__lb_text(&b, keys[i], -1);
                espfab__lb_text(&b, " ", -1);
                espfab__lb_field(&b, vals[i], v->cols - reserve - b.width, false);
            }
            break;
        }
        espfab__lb_text(&b, gap == 2 ? "  " : " ", -1);
        espfab__lb_text(&b, keys[i], -1);
        espfab__lb_esc(&b, "\033[1m");
        espfab__lb_text(&b, " ", -1);
        espfab__lb_text(&b, vals[i], -1);
        espfab__lb_esc(&b, "\033[22m");
    }
    if (reserve && b.width + reserve <= v->cols) {
        espfab__lb_spaces(&b, v->cols - b.width - reserve);
        espfab__lb_text(&b, clock, -1);
        espfab__lb_spaces(&b, 1);
    } else {
        espfab__lb_spaces(&b, v->cols - b.width);
    }
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

static void seg(lb_t *b, const char *sty, const char *text, bool *stop)
{
    if (*stop)
        return;
    const char *gap = b->width ? "  " : " ";
    int tw = espfab__text_width(text, b->utf8);
    if (b->width + (int)strlen(gap) + tw > b->max) {
        *stop = true;
        return;
    }
    espfab__lb_text(b, gap, -1);
    if (sty)
        espfab__lb_esc(b, sty);
    espfab__lb_text(b, text, -1);
    if (sty)
        espfab__lb_esc(b, SGR_RESET);
}

static char *header2(const espfab_console_view_t *v, const style_t *st)
{
    lb_t b;
    char t[64];
    bool stop = false;
    const espfab_station_totals_t *tt = &v->totals;
    unsigned fin = tt->passed + tt->failed + tt->interrupted;
    espfab__lb_init(&b, v->cols, v->utf8);
    snprintf(t, sizeof(t), "passed %u", tt->passed);
    seg(&b, st->good, t, &stop);
    snprintf(t, sizeof(t), "failed %u", tt->failed + tt->interrupted);
    seg(&b, tt->failed + tt->interrupted ? st->bad : NULL, t, &stop);
    if (fin)
        snprintf(t, sizeof(t), "yield %.1f%%", tt->yield * 100.0);
    else
        snprintf(t, sizeof(t), "yield --");
    seg(&b, "\033[1m", t, &stop);
    snprintf(t, sizeof(t), "%.0f boards/h", tt->boards_per_hour);
    seg(&b, NULL, t, &stop);
    snprintf(t, sizeof(t), "in flight %u", tt->in_flight);
    seg(&b, NULL, t, &stop);
    if (v->finished)
        seg(&b, st->good, "FINISHED", &stop);
    else if (v->stopping)
        seg(&b, st->pause, "STOPPING", &stop);
    espfab__lb_spaces(&b, v->cols - b.width);
    return espfab__lb_take(&b);
}

static const char *state_word(const espfab_slot_status_t *s)
{
    const espfab_attempt_t *r = shown_result(s);
    if (r)
        return r->outcome == ESPFAB_OUTCOME_PASS ? "PASS"
               : r->outcome == ESPFAB_OUTCOME_FAIL ? "FAIL" : "INTR";
    switch (s->state) {
    case ESPFAB_SLOT_FLASHING: return "FLASH";
    case ESPFAB_SLOT_WAITING: return "wait";
    case ESPFAB_SLOT_PAUSED: return "PAUSED";
    case ESPFAB_SLOT_REMOVE: return "REMOVE";
    case ESPFAB_SLOT_STOPPED: return "stop";
    case ESPFAB_SLOT_PASSED: return "PASS";
    case ESPFAB_SLOT_FAILED: return "FAIL";
    default: return "idle";
    }
}

static char *table_row(const espfab_console_view_t *v, int idx, int nw, const style_t *st,
                       bool head)
{
    lb_t b;
    int cols = v->cols;
    espfab__lb_init(&b, cols, v->utf8);
    const espfab_slot_status_t *s = head ? NULL : &v->slots[idx];
    /* columns: mark name state progress [rate] [chip] [mac] reason|phase [port] */
    int pw = cols >= 70 ? 16 : 10;
    bool show_rate = cols >= 100, show_chip = cols >= 72, show_mac = cols >= 90;
    if (head) {
        espfab__lb_esc(&b, "\033[0;1;4m");
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, "slot", nw, false);
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, "state", 6, false);
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, "progress", pw, false);
        if (show_rate) {
            espfab__lb_text(&b, " ", -1);
            espfab__lb_field(&b, "rate / eta", 20, false);
        }
        if (show_chip) {
            espfab__lb_text(&b, " ", -1);
            espfab__lb_field(&b, "chip", 9, false);
        }
        if (show_mac) {
            espfab__lb_text(&b, " ", -1);
            espfab__lb_field(&b, "mac", 17, false);
        }
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, "reason / port", cols - b.width, false);
        espfab__lb_esc(&b, SGR_RESET);
        return espfab__lb_take(&b);
    }
    const espfab_attempt_t *a = s->attempt;
    const espfab_attempt_t *r = shown_result(s);
    espfab__lb_esc(&b, idx == v->selected ? st->title_sel : "\033[0;1m");
    espfab__lb_text(&b, idx == v->selected ? ">" : " ", -1);
    espfab__lb_field(&b, str(s->name), nw, false);
    espfab__lb_esc(&b, SGR_RESET);
    espfab__lb_text(&b, " ", -1);
    const char *w = state_word(s);
    const char *sty = !strcmp(w, "PASS") ? st->pass : !strcmp(w, "FAIL") ? st->fail
                      : !strcmp(w, "INTR") ? st->intr : !strcmp(w, "FLASH") ? st->flash
                      : !strcmp(w, "PAUSED") ? st->pause : st->wait;
    espfab__lb_esc(&b, sty);
    espfab__lb_field(&b, w, 6, false);
    espfab__lb_esc(&b, SGR_RESET);
    espfab__lb_text(&b, " ", -1);
    if (pw > cols - b.width)
        pw = cols - b.width;
    if (s->state == ESPFAB_SLOT_FLASHING && s->total && pw > 0) {
        char *bar = bar_line(s, pw, v->utf8, st);
        if (bar) {
            espfab__lb_esc(&b, bar);
            b.width += espfab_console_visible_width(bar);
            free(bar);
        }
    } else {
        espfab__lb_spaces(&b, pw);
    }
    if (show_rate) {
        char r1[32] = "", r2[32] = "", both[70] = "";
        if (s->state == ESPFAB_SLOT_FLASHING && s->total) {
            fmt_rate(s->bytes_per_s, r1, sizeof(r1));
            fmt_eta(s->eta_s, r2, sizeof(r2));
            snprintf(both, sizeof(both), "%s %s", r1, r2 + 4);
        }
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, both, 20, false);
    }
    if (show_chip) {
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, a ? a->chip : "", 9, false);
    }
    if (show_mac) {
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, a ? a->mac : "", 17, false);
    }
    espfab__lb_text(&b, " ", -1);
    char why[700];
    if (r && r->outcome != ESPFAB_OUTCOME_PASS) {
        espfab__lb_esc(&b, st->bad);
        snprintf(why, sizeof(why), "%s%s", s->state == ESPFAB_SLOT_REMOVE ? "remove: " : "",
                 r->message[0] ? r->message : str(espfab_err_name(r->fault.code)));
    } else if (r) {
        snprintf(why, sizeof(why), "%s%s", s->state == ESPFAB_SLOT_REMOVE ? "remove: " : "",
                 r->message);
    } else if (s->state == ESPFAB_SLOT_FLASHING) {
        snprintf(why, sizeof(why), "%s  %s", str(s->phase), str(s->port));
    } else {
        snprintf(why, sizeof(why), "%s%s", s->state == ESPFAB_SLOT_PAUSED ? "paused  " : "",
                 str(s->port));
    }
    /* a bare port is cut from the left: its end names the hub position */
    espfab__lb_field(&b, why, cols - b.width, !r && s->state != ESPFAB_SLOT_FLASHING);
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

static const char *help_text[] = {
    "Keys",
    "",
    "  q          stop taking boards, let in-flight boards finish, quit",
    "  p          pause / resume the selected slot (or type its name)",
    "  r          retry the selected failed slot (or type its name)",
    "  arrows Tab select a slot (its last result shows in full at the",
    "             bottom); Esc clears the selection",
    "  Ctrl-C     stop (twice: abort, in-flight boards are interrupted)",
    "  Ctrl-L     redraw the screen",
    "  ?          close this help",
    "",
    "A paused slot finishes its board, then takes no new one.",
};

static char *footer_status(const espfab_console_view_t *v, const style_t *st)
{
    lb_t b;
    espfab__lb_init(&b, v->cols, v->utf8);
    const espfab_slot_status_t *sel =
        v->selected >= 0 && (size_t)v->selected < v->nslots ? &v->slots[v->selected] : NULL;
    const espfab_attempt_t *a = sel ? sel->attempt : NULL;
    if (a && a->outcome != ESPFAB_OUTCOME_RUNNING) {
        /* the selected slot's last result in full (cells cut it) */
        char line[800];
        const char *nm = a->fault.code ? espfab_err_name(a->fault.code) : NULL;
        snprintf(line, sizeof(line), "%s %s %s %s: %s%s%s%s", str(sel->name),
                 outcome_word(a->outcome), a->chip[0] ? a->chip : "-", a->mac[0] ? a->mac : "-",
                 a->message, nm ? " [" : "", nm ? nm : "", nm ? "]" : "");
        espfab__lb_esc(&b, a->outcome == ESPFAB_OUTCOME_PASS ? st->good : st->bad);
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, line, v->cols - 1, false);
        espfab__lb_esc(&b, SGR_RESET);
    } else if (v->status && v->status[0]) {
        espfab__lb_esc(&b, "\033[0;1m");
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, v->status, v->cols - 1, false);
        espfab__lb_esc(&b, SGR_RESET);
    }
    (void)st;
    return espfab__lb_take(&b);
}

static char *footer_keys(const espfab_console_view_t *v, const style_t *st)
{
    lb_t b;
    espfab__lb_init(&b, v->cols, v->utf8);
    if (v->prompt && v->prompt[0]) {
        espfab__lb_esc(&b, st->prompt);
        espfab__lb_text(&b, " ", -1);
        espfab__lb_field(&b, v->prompt, v->cols - 1, true);
        espfab__lb_esc(&b, SGR_RESET);
        return espfab__lb_take(&b);
    }
    char sel[96] = "";
    if (v->selected >= 0 && (size_t)v->selected < v->nslots)
        snprintf(sel, sizeof(sel), "  [%s]", str(v->slots[v->selected].name));
    const char *k = v->finished ? " FINISHED  q quit  r retry  arrows select  ? help"
                    : v->stopping ? " STOPPING: in-flight boards finish  Ctrl-C twice aborts"
                                  : " q quit  p pause  r retry  arrows/Tab select  ? help";
    espfab__lb_esc(&b, st->dim);
    espfab__lb_text(&b, k, -1);
    espfab__lb_esc(&b, SGR_RESET);
    espfab__lb_esc(&b, "\033[1m");
    espfab__lb_text(&b, sel, -1);
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

/* ---- frame ---- */

void espfab_console_frame_free(espfab_console_frame_t *fr)
{
    if (!fr)
        return;
    for (int i = 0; fr->line && i < fr->rows; i++)
        free(fr->line[i]);
    free(fr->line);
    memset(fr, 0, sizeof(*fr));
}

static int choose_grid(int n, int cols, int area, int *per_row, int *cell_h)
{
    if (n <= 0)
        return -1;
    int maxpr = cols / MIN_CELL_W;
    if (maxpr < 1)
        return -1;
    int minpr = (cols + MAX_CELL_W - 1) / MAX_CELL_W;
    if (minpr > n)
        minpr = n;
    if (minpr > maxpr)
        minpr = maxpr;
    static const int targets[] = {8, 7, 6, 5, 4, 3};
    for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
        for (int pr = minpr; pr <= maxpr; pr++) {
            int nr = (n + pr - 1) / pr;
            int h = area / nr;
            if (h >= targets[t]) {
                *per_row = pr;
                *cell_h = h > 12 ? 12 : h;
                return 0;
            }
        }
    return -1;
}

/* The frame being filled: line y next, the slot area ends before line end. */
typedef struct paint {
    const espfab_console_view_t *v;
    const style_t *st;
    espfab_console_frame_t *fr;
    int cols, y, end;
} paint_t;

static char *blank_line(int cols, bool utf8)
{
    lb_t b;
    espfab__lb_init(&b, cols, utf8);
    return espfab__lb_take(&b);
}

/* Blank lines up to the end of the slot area. */
static void pad_area(paint_t *p)
{
    while (p->y < p->end)
        p->fr->line[p->y++] = blank_line(p->cols, p->v->utf8);
}

static void render_help(paint_t *p, int area)
{
    int nh = (int)(sizeof(help_text) / sizeof(help_text[0]));
    for (int i = 0; i < area; i++) {
        lb_t b;
        espfab__lb_init(&b, p->cols, p->v->utf8);
        if (i < nh) {
            espfab__lb_esc(&b, i == 0 ? "\033[0;1m" : "\033[0m");
            espfab__lb_text(&b, "  ", -1);
            espfab__lb_text(&b, help_text[i], -1);
            espfab__lb_esc(&b, SGR_RESET);
        }
        p->fr->line[p->y++] = espfab__lb_take(&b);
    }
    p->fr->shown = 0;
}

/* One screen line across the k cells of a grid row. */
static char *grid_line(const paint_t *p, char **cell, int k, int ch, int cw, int line)
{
    int inner_h = ch - (ch >= 5 ? 1 : 0);
    lb_t b;
    espfab__lb_init(&b, p->cols, p->v->utf8);
    for (int j = 0; j < k && line < inner_h; j++) {
        espfab__lb_esc(&b, cell[j * ch + line]);
        b.width += cw - 1;
        espfab__lb_spaces(&b, 1);
    }
    return espfab__lb_take(&b);
}

/* Every slot as a cell, pr per row, ch lines each.  0 or ESPFAB_E_NOMEM. */
static int render_grid(paint_t *p, int pr, int ch)
{
    const espfab_console_view_t *v = p->v;
    int n = (int)v->nslots;
    int cw = p->cols / pr;              /* cell width incl. a one-column gap */
    int nr = (n + pr - 1) / pr;
    char **cell = calloc((size_t)pr * (size_t)ch, sizeof(char *));
    if (!cell)
        return ESPFAB_E_NOMEM;
    p->fr->per_row = pr;
    p->fr->shown = n;
    int gap = ch >= 5 ? 1 : 0;       /* a blank line between rows of cells */
    int inner_h = ch - gap;
    for (int r = 0; r < nr; r++) {
        int k;
        for (k = 0; k < pr && r * pr + k < n; k++)
            if (cell_render(v, r * pr + k, cw - 1, inner_h, cell + k * ch, p->st) != 0) {
                for (int i = 0; i < pr * ch; i++)
                    free(cell[i]);
                free(cell);
                return ESPFAB_E_NOMEM;
            }
        for (int line = 0; line < ch && p->y < p->end; line++)
            p->fr->line[p->y++] = grid_line(p, cell, k, ch, cw, line);
        for (int i = 0; i < pr * ch; i++) {
            free(cell[i]);
            cell[i] = NULL;
        }
    }
    free(cell);
    pad_area(p);
    return 0;
}

/* The table's last line when slots are scrolled out of view. */
static char *table_more(const paint_t *p, int first, int shown)
{
    const espfab_console_view_t *v = p->v;
    int n = (int)v->nslots;
    int fail = 0, flash = 0, hidden = n - shown;
    for (int i = 0; i < n; i++) {
        if (i >= first && i < first + shown)
            continue;
        const char *w = state_word(&v->slots[i]);
        fail += !strcmp(w, "FAIL") || !strcmp(w, "INTR");
        flash += v->slots[i].state == ESPFAB_SLOT_FLASHING;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), " %d more slot(s) (%d above, %d below): %d FAIL, %d "
             "flashing; arrows scroll", hidden, first, n - first - shown, fail, flash);
    lb_t b;
    espfab__lb_init(&b, p->cols, v->utf8);
    espfab__lb_esc(&b, fail ? p->st->bad : p->st->dim);
    espfab__lb_text(&b, msg, -1);
    espfab__lb_esc(&b, SGR_RESET);
    return espfab__lb_take(&b);
}

/* A header line, then one line per slot, scrolled to keep the selected
 * slot in view. */
static void render_table(paint_t *p, int area)
{
    const espfab_console_view_t *v = p->v;
    espfab_console_frame_t *fr = p->fr;
    int n = (int)v->nslots;
    fr->table = true;
    fr->per_row = 0;
    int nw = 4;
    for (int i = 0; i < n; i++) {
        int w = espfab__text_width(v->slots[i].name, v->utf8);
        if (w > nw)
            nw = w;
    }
    if (nw > 12)
        nw = 12;
    int visible = area - 1;
    bool more = n > visible;
    if (more)
        visible--;
    if (visible < 1)
        visible = 1;
    int first = 0;
    if (more && v->selected >= 0) {
        first = v->selected - visible / 2;
        if (first > n - visible)
            first = n - visible;
        if (first < 0)
            first = 0;
    }
    fr->first_slot = first;
    fr->line[p->y++] = table_row(v, 0, nw, p->st, true);
    int shown = 0;
    for (int i = first; i < n && shown < visible && p->y < p->end; i++, shown++)
        fr->line[p->y++] = table_row(v, i, nw, p->st, false);
    fr->shown = shown;
    if (more && p->y < p->end)
        fr->line[p->y++] = table_more(p, first, shown);
    pad_area(p);
}

/* The slot area: help, a grid of cells, or the table. */
static int render_slots(paint_t *p, int area)
{
    const espfab_console_view_t *v = p->v;
    int pr = 0, ch = 0;
    if (v->help) {
        render_help(p, area);
        return 0;
    }
    if (!v->force_table && choose_grid((int)v->nslots, p->cols, area, &pr, &ch) == 0)
        return render_grid(p, pr, ch);
    render_table(p, area);
    return 0;
}

/* Allocates rows empty lines in fr.  0 or ESPFAB_E_NOMEM. */
static int frame_begin(espfab_console_frame_t *fr, int cols, int rows)
{
    fr->cols = cols;
    fr->rows = rows;
    fr->first_slot = 0;
    fr->line = calloc((size_t)rows, sizeof(char *));
    return fr->line ? 0 : ESPFAB_E_NOMEM;
}

int espfab_console_render(const espfab_console_view_t *v, espfab_console_frame_t *fr)
{
    paint_t p = {.v = v, .st = v->color ? &style_color : &style_mono, .fr = fr};
    int cols = v->cols, rows = v->rows;
    espfab_console_frame_free(fr);
    if (cols < 1)
        cols = 1;
    if (rows < 1)
        rows = 1;
    if (frame_begin(fr, cols, rows) != 0)
        return ESPFAB_E_NOMEM;
    p.cols = cols;
    if (cols < 20 || rows < 5) {
        lb_t b;
        char msg[64];
        snprintf(msg, sizeof(msg), "terminal too small (%dx%d)", v->cols, v->rows);
        espfab__lb_init(&b, cols, false);
        espfab__lb_text(&b, msg, -1);
        fr->line[p.y++] = espfab__lb_take(&b);
    } else {
        int head = rows >= 10 ? 2 : 1, foot = rows >= 10 ? 2 : 1;
        p.end = rows - foot;
        fr->line[p.y++] = header1(v, p.st);
        if (head == 2)
            fr->line[p.y++] = header2(v, p.st);
        if (render_slots(&p, rows - head - foot) != 0)
            return ESPFAB_E_NOMEM;
        if (foot == 2)
            fr->line[p.y++] = footer_status(v, p.st);
        fr->line[p.y++] = (foot == 1 && !(v->prompt && v->prompt[0]) && v->status &&
                           v->status[0])
                              ? footer_status(v, p.st)
                              : footer_keys(v, p.st);
    }
    while (p.y < rows)
        fr->line[p.y++] = blank_line(cols, false);
    for (int i = 0; i < rows; i++)
        if (!fr->line[i]) {
            espfab_console_frame_free(fr);
            return ESPFAB_E_NOMEM;
        }
    return 0;
}

/* ---- diff ---- */

char *espfab_console_frame_diff(const espfab_console_frame_t *prev,
                                const espfab_console_frame_t *next, size_t *len)
{
    lb_t b;
    bool full = !prev || !prev->line || prev->rows != next->rows || prev->cols != next->cols;
    espfab__lb_init(&b, 0, true);
    espfab__lb_esc(&b, SGR_RESET);
    if (full)
        espfab__lb_esc(&b, "\033[H\033[2J");
    for (int i = 0; i < next->rows; i++) {
        if (!full && prev->line[i] && next->line[i] && !strcmp(prev->line[i], next->line[i]))
            continue;
        char pos[24];
        snprintf(pos, sizeof(pos), "\033[%d;1H", i + 1);
        espfab__lb_esc(&b, pos);
        espfab__lb_esc(&b, next->line[i] ? next->line[i] : "");
        espfab__lb_esc(&b, SGR_RESET);
        /* Erasing after a full-width line would hit the last column while
         * the terminal waits to wrap, which erases that column on xterm. */
        if (espfab_console_visible_width(next->line[i]) < next->cols)
            espfab__lb_esc(&b, "\033[K");
    }
    if (len)
        *len = b.len;
    return espfab__lb_take(&b);
}
