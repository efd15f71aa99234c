/*
 * eventlog.h - what `espfab run` prints when nobody watches a screen: JSON
 * lines for a jig controller (one object per line, flushed after each), or
 * text lines for a human log (`--log text`).
 *
 * JSON events (every line has "event", "time" (ISO-8601 UTC, ms) and
 * "time_ms" (epoch ms)):
 *  - "slot": a slot changed state or session phase: station, slot, index,
 *    port, state, phase, done, total, percent, bytes_per_s, eta_s (null when
 *    unknown), passed, failed, and chip/mac of the board on it (or "").
 *  - "progress": the same fields, at most once per progress_ms per slot
 *    (default 1000; progress_ms UINT32_MAX: never).
 *  - "board": a finished board (after it is recorded): every field of the
 *    attempt with the names and values of `espfab report --format json`
 *    (id, run_id, station, slot, port, ..., outcome, error_code,
 *    error_name, error_message, rom_status, rom_error, rom_error_name,
 *    stub_error, errno, retries, detail, message, nregions, regions[]) plus
 *    "index" (slot index).  Field list shared with the report
 *    (src/report/fields.c) so the two cannot drift.
 *  - "note": a human line (slot or null, text).
 *  - "finished": the station has nothing left to do.
 *  - "summary": totals at the end (attempts, passed, failed, interrupted,
 *    yield, boards_per_hour, seconds, run_id, db).
 * Text: "HH:MM:SS SLOT PORT what" for boards starting, pausing, waiting
 * for removal, notes, and the result line "PASS|FAIL|INTERRUPTED chip mac
 * size time: message [ERROR_NAME]".
 *
 * Ownership: the caller owns the output FILE (stdout normally) and the
 * identity strings (kept by pointer until espfab_eventlog_free()).  No
 * handles, no callbacks: every function writes synchronously on the calling
 * (loop) thread.  Write errors are counted, not fatal (a jig controller that
 * closed the pipe must not stop the station).
 */
#ifndef ESPFAB_EVENTLOG_H
#define ESPFAB_EVENTLOG_H

#include <stdint.h>
#include <stdio.h>

#include "espfab/station.h"

typedef enum espfab_eventlog_format {
    ESPFAB_EVENTLOG_JSON = 0,
    ESPFAB_EVENTLOG_TEXT
} espfab_eventlog_format_t;

typedef struct espfab_eventlog_opts {
    espfab_eventlog_format_t format;
    FILE *out;                     /* NULL = stdout */
    const char *station;           /* "station" of slot events */
    int64_t run_id;                /* "run_id" of board events (0 = null) */
    uint32_t progress_ms;          /* 0 = 1000; UINT32_MAX = no progress lines */
    int64_t (*now_ms)(void);       /* clock; NULL = espfab_store_now_ms */
} espfab_eventlog_opts_t;

typedef struct espfab_eventlog espfab_eventlog_t;

/* NULL on out of memory. */
espfab_eventlog_t *espfab_eventlog_new(const espfab_eventlog_opts_t *o);
/* Call from the station callback with every event. */
void espfab_eventlog_event(espfab_eventlog_t *l, const espfab_station_event_t *ev);
/* A note from the caller (slot NULL for the station). */
void espfab_eventlog_note(espfab_eventlog_t *l, const char *slot, const char *text);
/* The closing summary line; db may be NULL. */
void espfab_eventlog_summary(espfab_eventlog_t *l, const espfab_station_totals_t *t,
                             const char *db);
/* Number of lines that could not be written (EPIPE...). */
unsigned espfab_eventlog_write_errors(const espfab_eventlog_t *l);
void espfab_eventlog_free(espfab_eventlog_t *l);

/* One attempt as a JSON object (no newline), the report's field names. */
int espfab_eventlog_attempt_json(FILE *out, const espfab_attempt_t *a, int64_t run_id);

#endif
