/*
 * eventlog.c - JSON-lines and text event log of `espfab run` (eventlog.h).
 * Each line is built in memory and written with one fwrite + fflush, so a
 * reader never sees half a line from us.  Attempt fields come from the
 * report's field list (report/fields.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/eventlog.h"
#include "espfab/vec.h"
#include "espfab/json.h"
#include "espfab/store.h"
#include "report/fields.h"

struct espfab_eventlog {
    espfab_eventlog_opts_t o;
    FILE *out;
    unsigned errors;
    size_t nslots;
    int64_t *last_progress;     /* per slot */
    int *last_state;            /* per slot, -1 unknown */
};

espfab_eventlog_t *espfab_eventlog_new(const espfab_eventlog_opts_t *o)
{
    espfab_eventlog_t *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    if (o)
        l->o = *o;
    l->out = l->o.out ? l->o.out : stdout;
    if (!l->o.progress_ms)
        l->o.progress_ms = 1000;
    if (!l->o.now_ms)
        l->o.now_ms = espfab_store_now_ms;
    return l;
}

void espfab_eventlog_free(espfab_eventlog_t *l)
{
    if (!l)
        return;
    free(l->last_progress);
    free(l->last_state);
    free(l);
}

unsigned espfab_eventlog_write_errors(const espfab_eventlog_t *l) { return l ? l->errors : 0; }

/* Per-slot memory for slot index i; false on out of memory. */
static bool slot_mem(espfab_eventlog_t *l, int i)
{
    if (i < 0)
        return false;
    if ((size_t)i < l->nslots)
        return true;
    /* both arrays hold nslots entries and grow from the same capacity */
    size_t cap_p = l->nslots, cap_s = l->nslots;
    if (ESPFAB_VEC_RESERVE(l->last_progress, cap_p, (size_t)i + 1) ||
        ESPFAB_VEC_RESERVE(l->last_state, cap_s, (size_t)i + 1))
        return false;
    size_t n = cap_p < cap_s ? cap_p : cap_s;
    for (size_t k = l->nslots; k < n; k++) {
        l->last_progress[k] = 0;
        l->last_state[k] = -1;
    }
    l->nslots = n;
    return true;
}

/* ---- line assembly ---- */

typedef struct line {
    FILE *f;
    char *buf;
    size_t len;
    espfab_json_t w; /* JSON lines: the writer on f */
} line_t;

static bool line_open(line_t *ln)
{
    memset(ln, 0, sizeof(*ln));
    ln->f = open_memstream(&ln->buf, &ln->len);
    espfab_json_init_file(&ln->w, ln->f, false);
    return ln->f != NULL;
}

static void line_close(espfab_eventlog_t *l, line_t *ln)
{
    fputc('\n', ln->f);
    bool bad = ferror(ln->f) != 0;
    fclose(ln->f);
    if (!bad && ln->buf) {
        if (fwrite(ln->buf, 1, ln->len, l->out) != ln->len || fflush(l->out) != 0)
            bad = true;
    }
    if (bad) {
        l->errors++;
        clearerr(l->out);
    }
    free(ln->buf);
}

static void kv_s(line_t *ln, const char *k, const char *v) { espfab_json_str(&ln->w, k, v); }
static void kv_i(line_t *ln, const char *k, long long v) { espfab_json_int(&ln->w, k, v); }
static void kv_d(line_t *ln, const char *k, double v, int prec) { espfab_json_double(&ln->w, k, v, prec); }

static void head(espfab_eventlog_t *l, line_t *ln, const char *event)
{
    char iso[32];
    int64_t now = l->o.now_ms();
    espfab_json_obj(&ln->w, NULL);
    kv_s(ln, "event", event);
    espfab_store_iso8601(now, iso);
    kv_s(ln, "time", iso);
    kv_i(ln, "time_ms", now);
}

int espfab_eventlog_attempt_json(FILE *out, const espfab_attempt_t *a, int64_t run_id)
{
    espfab_json_t w;
    espfab_json_init_file(&w, out, false);
    espfab_json_obj(&w, NULL);
    int rc = espfab__report_attempt_json(&w, a, run_id); /* shared with the report */
    espfab_json_end(&w);
    return rc ? rc : w.err;
}

/* ---- JSON events ---- */

static void json_slot(espfab_eventlog_t *l, const char *event, const espfab_station_event_t *ev)
{
    const espfab_slot_status_t *s = ev->status;
    line_t ln;
    if (!s || !line_open(&ln))
        return;
    head(l, &ln, event);
    kv_s(&ln, "station", l->o.station ? l->o.station : "");
    kv_s(&ln, "slot", s->name ? s->name : "");
    kv_i(&ln, "index", ev->slot);
    kv_s(&ln, "port", s->port ? s->port : "");
    kv_s(&ln, "state", espfab_slot_state_name(s->state));
    kv_s(&ln, "phase", s->phase ? s->phase : "");
    kv_i(&ln, "done", (long long)s->done);
    kv_i(&ln, "total", (long long)s->total);
    kv_d(&ln, "percent", s->total ? 100.0 * (double)s->done / (double)s->total : 0.0, 1);
    kv_d(&ln, "bytes_per_s", s->bytes_per_s, 0);
    if (s->eta_s >= 0)
        kv_d(&ln, "eta_s", s->eta_s, 1);
    else
        kv_d(&ln, "eta_s", NAN, 0);
    kv_i(&ln, "passed", s->passed);
    kv_i(&ln, "failed", s->failed);
    kv_s(&ln, "chip", s->attempt ? s->attempt->chip : "");
    kv_s(&ln, "mac", s->attempt ? s->attempt->mac : "");
    espfab_json_end(&ln.w);
    line_close(l, &ln);
}

static void json_board(espfab_eventlog_t *l, const espfab_station_event_t *ev)
{
    line_t ln;
    const espfab_attempt_t *a = ev->attempt ? ev->attempt : ev->status ? ev->status->attempt : NULL;
    if (!a || !line_open(&ln))
        return;
    head(l, &ln, "board");
    kv_i(&ln, "index", ev->slot);
    espfab__report_attempt_json(&ln.w, a, l->o.run_id);
    espfab_json_end(&ln.w);
    line_close(l, &ln);
}

static void json_note(espfab_eventlog_t *l, const char *slot, const char *text)
{
    line_t ln;
    if (!line_open(&ln))
        return;
    head(l, &ln, "note");
    kv_s(&ln, "slot", slot); /* NULL -> null */
    kv_s(&ln, "text", text ? text : "");
    espfab_json_end(&ln.w);
    line_close(l, &ln);
}

/* ---- text ---- */

static void text_line(espfab_eventlog_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_line(espfab_eventlog_t *l, const char *fmt, ...)
{
    line_t ln;
    char ts[16] = "";
    if (!line_open(&ln))
        return;
    time_t t = (time_t)(l->o.now_ms() / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    fprintf(ln.f, "%s ", ts);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(ln.f, fmt, ap);
    va_end(ap);
    /* one event, one line: control characters (a newline in a message,
     * escape sequences) become spaces */
    fflush(ln.f);
    for (size_t i = 0; ln.buf && i < ln.len; i++)
        if ((unsigned char)ln.buf[i] < 0x20 || ln.buf[i] == 0x7F)
            ln.buf[i] = ' ';
    line_close(l, &ln);
}

static void fmt_size(uint64_t b, char *out, size_t n)
{
    if (b >= 1000000)
        snprintf(out, n, "%.2f MB", (double)b / 1e6);
    else
        snprintf(out, n, "%.1f kB", (double)b / 1e3);
}

static void text_board(espfab_eventlog_t *l, const espfab_station_event_t *ev)
{
    const espfab_attempt_t *a = ev->attempt ? ev->attempt : ev->status ? ev->status->attempt : NULL;
    if (!a)
        return;
    uint64_t bytes = 0;
    for (int i = 0; i < a->nregions && i < ESPFAB_MAX_REGIONS; i++)
        bytes += a->regions[i].size;
    char sz[32], code[80] = "";
    fmt_size(bytes, sz, sizeof(sz));
    double secs = a->end_ms > a->start_ms ? (double)(a->end_ms - a->start_ms) / 1000.0 : 0.0;
    if (a->fault.code) {
        const char *nm = espfab_err_name(a->fault.code);
        snprintf(code, sizeof(code), " [%s E%d]", nm ? nm : "?", espfab_err_number(a->fault.code));
    }
    const char *word = a->outcome == ESPFAB_OUTCOME_PASS ? "PASS"
                       : a->outcome == ESPFAB_OUTCOME_FAIL ? "FAIL"
                       : a->outcome == ESPFAB_OUTCOME_INTERRUPTED ? "INTERRUPTED" : "RUNNING";
    /* A session's pass line already says "PASS chip mac ...": don't say it twice. */
    size_t wl = strlen(word);
    if (!strncmp(a->message, word, wl) && a->message[wl] == ' ') {
        text_line(l, "%s %s %s%s", a->slot, a->port, a->message, code);
        return;
    }
    text_line(l, "%s %s %s %s %s %s %.1f s: %s%s", a->slot, a->port, word,
              a->chip[0] ? a->chip : "-", a->mac[0] ? a->mac : "-", sz, secs,
              a->message[0] ? a->message : espfab_outcome_name(a->outcome), code);
}

static void text_slot(espfab_eventlog_t *l, const espfab_station_event_t *ev, int prev)
{
    const espfab_slot_status_t *s = ev->status;
    if (!s || (int)s->state == prev)
        return; /* a phase change: not notable */
    const char *what = NULL;
    switch (s->state) {
    case ESPFAB_SLOT_FLASHING: what = "board found: flashing"; break;
    case ESPFAB_SLOT_WAITING: what = prev == ESPFAB_SLOT_PAUSED ? "resumed: waiting for a board"
                                                                : "waiting for a board"; break;
    case ESPFAB_SLOT_REMOVE: what = "remove the board"; break;
    case ESPFAB_SLOT_PAUSED: what = "paused"; break;
    case ESPFAB_SLOT_STOPPED: what = "stopped"; break;
    default: return; /* passed/failed: the board line says it */
    }
    text_line(l, "%s %s %s", s->name ? s->name : "", s->port ? s->port : "", what);
}

/* ---- public ---- */

void espfab_eventlog_event(espfab_eventlog_t *l, const espfab_station_event_t *ev)
{
    if (!l || !ev)
        return;
    bool mem = slot_mem(l, ev->slot);
    switch (ev->type) {
    case ESPFAB_STATION_EV_SLOT: {
        int prev = mem ? l->last_state[ev->slot] : -1;
        if (mem && ev->status)
            l->last_state[ev->slot] = (int)ev->status->state;
        if (l->o.format == ESPFAB_EVENTLOG_JSON)
            json_slot(l, "slot", ev);
        else
            text_slot(l, ev, prev);
        break;
    }
    case ESPFAB_STATION_EV_PROGRESS:
        if (l->o.format != ESPFAB_EVENTLOG_JSON || l->o.progress_ms == UINT32_MAX)
            break;
        if (mem) {
            int64_t now = l->o.now_ms();
            if (l->last_progress[ev->slot] &&
                now - l->last_progress[ev->slot] < (int64_t)l->o.progress_ms)
                break;
            l->last_progress[ev->slot] = now;
        }
        json_slot(l, "progress", ev);
        break;
    case ESPFAB_STATION_EV_BOARD_DONE:
        if (mem)
            l->last_progress[ev->slot] = 0;
        if (l->o.format == ESPFAB_EVENTLOG_JSON)
            json_board(l, ev);
        else
            text_board(l, ev);
        break;
    case ESPFAB_STATION_EV_NOTE:
        espfab_eventlog_note(l, ev->status ? ev->status->name : NULL, ev->text);
        break;
    case ESPFAB_STATION_EV_FINISHED:
        if (l->o.format == ESPFAB_EVENTLOG_JSON) {
            line_t ln;
            if (line_open(&ln)) {
                head(l, &ln, "finished");
                espfab_json_end(&ln.w);
                line_close(l, &ln);
            }
        } else {
            text_line(l, "station finished");
        }
        break;
    }
}

void espfab_eventlog_note(espfab_eventlog_t *l, const char *slot, const char *text)
{
    if (!l)
        return;
    if (l->o.format == ESPFAB_EVENTLOG_JSON)
        json_note(l, slot, text);
    else if (slot)
        text_line(l, "%s %s", slot, text ? text : "");
    else
        text_line(l, "%s", text ? text : "");
}

void espfab_eventlog_summary(espfab_eventlog_t *l, const espfab_station_totals_t *t,
                             const char *db)
{
    if (!l || !t)
        return;
    int64_t now = l->o.now_ms();
    double secs = t->start_ms ? (double)(now - t->start_ms) / 1000.0 : 0.0;
    if (l->o.format == ESPFAB_EVENTLOG_JSON) {
        line_t ln;
        if (!line_open(&ln))
            return;
        head(l, &ln, "summary");
        kv_s(&ln, "station", l->o.station ? l->o.station : "");
        kv_i(&ln, "attempts", t->attempts);
        kv_i(&ln, "passed", t->passed);
        kv_i(&ln, "failed", t->failed);
        kv_i(&ln, "interrupted", t->interrupted);
        kv_i(&ln, "unidentified", t->unidentified);
        kv_i(&ln, "not_recorded", t->not_recorded);
        if (t->not_recorded)
            kv_s(&ln, "not_recorded_why", t->store_full ? "disk full" : "database write failed");
        kv_d(&ln, "yield", t->yield, 4);
        kv_d(&ln, "boards_per_hour", t->boards_per_hour, 1);
        kv_d(&ln, "seconds", secs, 1);
        if (l->o.run_id)
            kv_i(&ln, "run_id", l->o.run_id);
        else
            kv_s(&ln, "run_id", NULL);
        kv_s(&ln, "db", db);
        espfab_json_end(&ln.w);
        line_close(l, &ln);
    } else {
        text_line(l, "%u board(s): %u passed, %u failed, %u interrupted; yield %.1f%%; %.0f "
                     "boards/h; %.1f s%s%s",
                  t->attempts, t->passed, t->failed, t->interrupted, t->yield * 100.0,
                  t->boards_per_hour, secs, db ? "; records in " : "", db ? db : "");
        if (t->unidentified)
            text_line(l, "%u of the failed or interrupted board(s) ended before their MAC was read "
                         "(unidentified units: counted in the yield, not traceable to a chip)",
                      t->unidentified);
        if (t->not_recorded)
            text_line(l, "%u slot(s) NOT flashed: their attempt could not be recorded (%s)",
                      t->not_recorded,
                      t->store_full ? "the disk is full, or the file size limit was reached: "
                                      "free space, then flash them again"
                                    : "the database refused the write: see the notes above");
    }
}
