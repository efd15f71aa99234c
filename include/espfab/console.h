/*
 * console.h - the operator console of `espfab run`: a full-screen live view
 * of the station on the terminal (plain ANSI escape sequences, no curses).
 *
 * Two layers:
 *  - Pure code, no I/O, unit-tested: espfab_console_render() turns a
 *    snapshot (espfab_console_view_t: station identity, totals, one
 *    espfab_slot_status_t per slot, terminal size, time) into a frame of
 *    screen lines; espfab_console_frame_diff() turns two frames into the
 *    bytes that update the terminal; espfab_console_keys_feed() turns key
 *    bytes into actions (quit, pause, retry, select, help, interrupt).
 *  - The live console (espfab_console_new/event/note/free): owns a uv_tty_t
 *    on stdin (raw mode), a uv_signal_t for SIGWINCH and a uv_timer_t that
 *    redraws at most every refresh_ms (default 100 ms, or
 *    ESPFAB_CONSOLE_REFRESH_MS) when something changed, and at least once a
 *    second (clock, rates).  It draws on stdout in the alternate screen with
 *    the cursor hidden and writes only the lines that changed.
 *
 * Ownership and threading: everything runs on the loop thread of the
 * station; the caller owns the loop and the station and must keep them (and
 * the identity strings in the options) alive until espfab_console_free().
 * There is at most one live console per process (it owns the terminal): it
 * registers an atexit() handler and handlers for fatal signals (SIGSEGV,
 * SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT) that restore the terminal
 * (leave the alternate screen, show the cursor, reset the tty mode) before
 * the default action runs.  SIGINT and SIGTERM stay the caller's.
 *
 * Keys: q stops the station (espfab_station_stop: take no new board, let
 * in-flight boards finish) and quits when it has finished; p pauses or
 * resumes the selected slot (or asks for a slot name/number); r retries the
 * selected failed slot (or asks); arrows / Tab / Shift-Tab select a slot,
 * Esc clears the selection; ? toggles the help overlay; Ctrl-L redraws.  In
 * raw mode Ctrl-C does not raise SIGINT by itself: the console calls
 * opts.interrupt_cb, or when that is NULL sends SIGINT to its own process so
 * the caller's uv_signal_t handler runs as if the terminal had sent it.
 *
 * Lifetime on the loop: the console's handles keep the loop alive.  When the
 * station reports ESPFAB_STATION_EV_FINISHED the console draws the final
 * frame and closes its handles (so uv_run() returns), unless opts.hold is
 * set: then it keeps showing the result (r can retry a failed slot, which
 * restarts the station) until the operator presses q.  espfab_console_free()
 * restores the terminal and prints the final slot table on the normal screen
 * (so it stays in the scrollback).  While the console runs it is the log
 * sink (espfab_log_set_sink): warnings and errors appear on its status line.
 */
#ifndef ESPFAB_CONSOLE_H
#define ESPFAB_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "espfab/err.h"
#include "espfab/station.h"

/* ---- pure rendering ---- */

typedef struct espfab_console_view {
    /* header; NULL or "" fields are left out */
    const char *station, *line, *profile, *lot, *operator_name, *mode;
    espfab_station_totals_t totals;
    const espfab_slot_status_t *slots; /* nslots entries */
    size_t nslots;
    int cols, rows;        /* terminal size */
    int64_t now_ms;        /* epoch ms: the clock in the header */
    bool utf8;             /* block letters and bars with Unicode block characters */
    bool color;            /* false: bold/reverse only (NO_COLOR) */
    int selected;          /* selected slot index, -1 none */
    bool help;             /* help overlay */
    const char *prompt;    /* bottom line prompt, NULL when none */
    const char *status;    /* latest note / log line, NULL or "" when none */
    bool stopping;         /* q pressed / station stopping */
    bool finished;         /* station finished (hold mode) */
    bool force_table;      /* one line per slot even when a grid would fit */
} espfab_console_view_t;

/* One screen: rows lines, each a NUL-terminated string with SGR sequences
 * whose visible width (espfab_console_visible_width) is at most cols. */
typedef struct espfab_console_frame {
    int cols, rows;
    char **line;
    bool table;            /* compact one-line-per-slot layout was used */
    int per_row;           /* grid: cells per row (table: 0) */
    int first_slot;        /* first slot shown (table mode scrolls) */
    int shown;             /* number of slots visible */
} espfab_console_frame_t;

/* Renders v into fr (previous contents freed).  0 or ESPFAB_E_NOMEM.
 * Terminals smaller than 20x5 get a single "terminal too small" line. */
int espfab_console_render(const espfab_console_view_t *v, espfab_console_frame_t *fr);
void espfab_console_frame_free(espfab_console_frame_t *fr);
/* Bytes that turn the screen showing prev (NULL or a different size: a
 * cleared screen) into next: cursor moves + changed lines + erase-to-EOL.
 * Returns a malloc'd NUL-terminated string (caller frees) or NULL. */
char *espfab_console_frame_diff(const espfab_console_frame_t *prev,
                                const espfab_console_frame_t *next, size_t *len);
/* Visible columns of s: escape sequences count 0, a UTF-8 character 1. */
int espfab_console_visible_width(const char *s);
/* Copies s to out without escape sequences (out at least strlen(s)+1). */
void espfab_console_strip_ansi(const char *s, char *out);
/* Whether the locale environment (LC_ALL, LC_CTYPE, LANG) asks for UTF-8. */
bool espfab_console_env_utf8(void);

/* ---- pure key handling ---- */

typedef enum espfab_console_act {
    ESPFAB_CONSOLE_ACT_NONE = 0,
    ESPFAB_CONSOLE_ACT_QUIT,       /* q */
    ESPFAB_CONSOLE_ACT_PAUSE,      /* slot: toggle pause */
    ESPFAB_CONSOLE_ACT_RETRY,      /* slot */
    ESPFAB_CONSOLE_ACT_INTERRUPT,  /* Ctrl-C */
    ESPFAB_CONSOLE_ACT_REDRAW,     /* Ctrl-L */
    ESPFAB_CONSOLE_ACT_CHANGED,    /* selection, prompt or help changed: redraw */
    ESPFAB_CONSOLE_ACT_BAD_SLOT    /* prompt answered with no such slot (text in prompt) */
} espfab_console_act_t;

typedef struct espfab_console_action {
    espfab_console_act_t act;
    int slot;                      /* PAUSE / RETRY: slot index */
} espfab_console_action_t;

typedef enum espfab_console_input_mode {
    ESPFAB_CONSOLE_IN_NORMAL = 0,
    ESPFAB_CONSOLE_IN_PAUSE_PROMPT,
    ESPFAB_CONSOLE_IN_RETRY_PROMPT
} espfab_console_input_mode_t;

/* Key state: zero-initialise, then set selected = -1. */
typedef struct espfab_console_keys {
    espfab_console_input_mode_t mode;
    int selected;                  /* -1 none */
    bool help;
    char answer[64];               /* what was typed at the prompt */
    char prompt[160];              /* the prompt / last message shown */
    unsigned char esc[8];          /* an escape sequence split across reads */
    size_t nesc;
} espfab_console_keys_t;

void espfab_console_keys_init(espfab_console_keys_t *k);
/* Feeds key bytes.  names: the nslots slot names (a prompt answer matches a
 * name exactly first, then a 1-based slot number); per_row: cells per row of
 * the grid (Up/Down move by that much; 1 in table mode).  Writes up to max
 * actions to out and returns how many.  A lone ESC at the end of the bytes
 * is taken as the Esc key. */
size_t espfab_console_keys_feed(espfab_console_keys_t *k, const unsigned char *buf, size_t n,
                                const char *const *names, size_t nslots, int per_row,
                                espfab_console_action_t *out, size_t max);

/* ---- the live console ---- */

typedef struct espfab_console espfab_console_t;

typedef struct espfab_console_opts {
    const char *station, *line, *profile, *lot, *operator_name, *mode; /* header */
    unsigned refresh_ms;           /* 0: ESPFAB_CONSOLE_REFRESH_MS or 100 */
    bool hold;                     /* keep showing after FINISHED until q */
    int force_utf8;                /* -1 ASCII, 1 UTF-8, 0 from the locale */
    void (*interrupt_cb)(void *data); /* Ctrl-C; NULL: raise SIGINT */
    void *data;
} espfab_console_opts_t;

/* Takes the terminal and draws the first frame.  stdin and stdout must be
 * terminals: else ESPFAB_E_NOT_SUPPORTED (detail names which one and says
 * to use --log json/text); a terminal libuv cannot open or set to raw mode:
 * ESPFAB_E_IO with errno. */
int espfab_console_new(uv_loop_t *loop, espfab_station_t *st, const espfab_console_opts_t *o,
                       espfab_console_t **out, espfab_fault_t *f);
/* Call from the station callback with every event. */
void espfab_console_event(espfab_console_t *c, const espfab_station_event_t *ev);
/* A line for the status line (e.g. the CLI's "interrupt: ..." notes). */
void espfab_console_note(espfab_console_t *c, const char *text);
/* Whether the console has closed its handles (FINISHED, or q after it). */
bool espfab_console_closed(const espfab_console_t *c);
/* Restores the terminal, prints the final table on the normal screen, frees.
 * Runs the loop once (UV_RUN_NOWAIT) if handles still need closing. */
void espfab_console_free(espfab_console_t *c);

#endif
