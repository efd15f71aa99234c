/*
 * console.c - the live operator console (console.h): terminal setup and
 * restore, the redraw timer, SIGWINCH, key input, station actions.  The
 * screen itself comes from render.c and keys from keys.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "espfab/console.h"
#include "espfab/log.h"
#include "espfab/store.h"

#define ENTER_SEQ "\033[?1049h\033[?25l\033[H\033[2J"
#define LEAVE_SEQ "\033[0m\033[?25h\033[?1049l"

struct espfab_console {
    uv_loop_t *loop;
    espfab_station_t *st;
    espfab_console_opts_t o;
    uv_tty_t tin;
    uv_signal_t winch;
    uv_timer_t timer;
    bool reading, handles_open, closed, raw;
    int cols, rows;
    bool utf8, color;
    espfab_console_keys_t keys;
    espfab_console_frame_t prev;
    bool have_prev, dirty, full;
    int64_t last_draw_ms;
    char status[600];
    bool stopping, finished, quit_requested;
    bool log_sink;
    size_t nslots;
    espfab_slot_status_t *snap;
    const char **names;
    bool *paused;
    char rbuf[256];
};

/* ---- terminal restore on exit and fatal signals ---- */

static volatile sig_atomic_t g_active;
static bool g_atexit;
static const int fatal_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
#define NFATAL (sizeof(fatal_sigs) / sizeof(fatal_sigs[0]))
static struct sigaction g_old[NFATAL];

static void restore_terminal_now(void)
{
    /* async-signal-safe: write(2) and uv_tty_reset_mode() only */
    ssize_t r = write(STDOUT_FILENO, LEAVE_SEQ, sizeof(LEAVE_SEQ) - 1);
    (void)r;
    uv_tty_reset_mode();
}

static void on_fatal(int sig)
{
    if (g_active) {
        g_active = 0;
        restore_terminal_now();
    }
    for (size_t i = 0; i < NFATAL; i++)
        if (fatal_sigs[i] == sig)
            sigaction(sig, &g_old[i], NULL);
    raise(sig);
}

static void on_exit_restore(void)
{
    if (g_active) {
        g_active = 0;
        restore_terminal_now();
    }
}

static void install_fatal(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_sigs[i], &sa, &g_old[i]);
    if (!g_atexit) {
        atexit(on_exit_restore);
        g_atexit = true;
    }
}

static void uninstall_fatal(void)
{
    for (size_t i = 0; i < NFATAL; i++)
        sigaction(fatal_sigs[i], &g_old[i], NULL);
}

/* ---- output ---- */

static void out_all(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {STDOUT_FILENO, POLLOUT, 0};
            if (poll(&p, 1, 200) <= 0)
                return;
        } else {
            return;
        }
    }
}

static void snapshot(espfab_console_t *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        const espfab_slot_status_t *s = espfab_station_slot(c->st, (int)i);
        if (s)
            c->snap[i] = *s;
    }
}

static void fill_view(espfab_console_t *c, espfab_console_view_t *v)
{
    memset(v, 0, sizeof(*v));
    v->station = c->o.station;
    v->line = c->o.line;
    v->profile = c->o.profile;
    v->lot = c->o.lot;
    v->operator_name = c->o.operator_name;
    v->mode = c->o.mode;
    espfab_station_totals(c->st, &v->totals);
    snapshot(c);
    v->slots = c->snap;
    v->nslots = c->nslots;
    v->cols = c->cols;
    v->rows = c->rows;
    v->now_ms = espfab_store_now_ms();
    v->utf8 = c->utf8;
    v->color = c->color;
    v->selected = c->keys.selected;
    v->help = c->keys.help;
    v->prompt = c->keys.prompt[0] ? c->keys.prompt : NULL;
    v->status = c->status;
    v->stopping = c->stopping;
    v->finished = c->finished;
}

static void draw(espfab_console_t *c)
{
    espfab_console_view_t v;
    espfab_console_frame_t fr = {0};
    if (c->closed)
        return;
    fill_view(c, &v);
    if (espfab_console_render(&v, &fr) != 0)
        return;
    size_t len = 0;
    char *bytes = espfab_console_frame_diff(c->have_prev && !c->full ? &c->prev : NULL, &fr, &len);
    if (bytes) {
        out_all(bytes, len);
        free(bytes);
    }
    espfab_console_frame_free(&c->prev);
    c->prev = fr;
    c->have_prev = true;
    c->dirty = false;
    c->full = false;
    c->last_draw_ms = v.now_ms;
}

static void set_status(espfab_console_t *c, const char *slot, const char *text)
{
    char ts[16] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    snprintf(c->status, sizeof(c->status), "%s %s%s%s", ts, slot ? slot : "", slot ? ": " : "",
             text ? text : "");
    c->dirty = true;
}

/* ---- handles ---- */

static void on_closed(uv_handle_t *h) { (void)h; }

static void close_handles(espfab_console_t *c)
{
    if (!c->handles_open)
        return;
    c->handles_open = false;
    c->closed = true;
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tin);
    c->reading = false;
    /* back to the mode the terminal had, while libuv's fd is still open */
    if (c->raw)
        uv_tty_set_mode(&c->tin, UV_TTY_MODE_NORMAL);
    uv_timer_stop(&c->timer);
    uv_signal_stop(&c->winch);
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->winch, on_closed);
    uv_close((uv_handle_t *)&c->tin, on_closed);
}

static void on_timer(uv_timer_t *t)
{
    espfab_console_t *c = t->data;
    if (c->dirty || espfab_store_now_ms() - c->last_draw_ms >= 1000)
        draw(c);
}

static void on_winch(uv_signal_t *h, int signum)
{
    espfab_console_t *c = h->data;
    int w = 0, r = 0;
    (void)signum;
    if (uv_tty_get_winsize(&c->tin, &w, &r) == 0 && w > 0 && r > 0) {
        c->cols = w;
        c->rows = r;
    }
    c->full = true;
    draw(c);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *buf)
{
    espfab_console_t *c = h->data;
    (void)sugg;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void do_action(espfab_console_t *c, const espfab_console_action_t *a)
{
    char msg[200];
    const char *name = a->slot >= 0 && (size_t)a->slot < c->nslots ? c->names[a->slot] : NULL;
    switch (a->act) {
    case ESPFAB_CONSOLE_ACT_QUIT:
        c->quit_requested = true;
        if (c->finished) {
            close_handles(c);
            return;
        }
        if (!c->stopping) {
            c->stopping = true;
            set_status(c, NULL, "q: taking no new boards; in-flight boards finish, then espfab "
                                "quits (Ctrl-C twice aborts them)");
            espfab_station_stop(c->st);
        }
        break;
    case ESPFAB_CONSOLE_ACT_PAUSE: {
        const espfab_slot_status_t *s = espfab_station_slot(c->st, a->slot);
        bool pause = !c->paused[a->slot];
        if (s && s->state == ESPFAB_SLOT_PAUSED)
            pause = false;
        c->paused[a->slot] = pause;
        espfab_station_pause_slot(c->st, a->slot, pause);
        snprintf(msg, sizeof(msg), "%s", pause ? "paused (takes no new board after this one)"
                                               : "resumed");
        set_status(c, name, msg);
        break;
    }
    case ESPFAB_CONSOLE_ACT_RETRY: {
        const espfab_slot_status_t *s = espfab_station_slot(c->st, a->slot);
        if (!s || s->state != ESPFAB_SLOT_FAILED) {
            snprintf(msg, sizeof(msg), "nothing to retry (the slot is %s, not failed)",
                     s ? espfab_slot_state_name(s->state) : "unknown");
        } else if (c->stopping && !c->finished) {
            snprintf(msg, sizeof(msg), "not retried: the station is stopping");
        } else {
            c->finished = false;
            c->stopping = false;
            c->quit_requested = false;
            espfab_station_retry_slot(c->st, a->slot);
            snprintf(msg, sizeof(msg), "retrying");
        }
        set_status(c, name, msg);
        break;
    }
    case ESPFAB_CONSOLE_ACT_INTERRUPT:
        if (c->finished) {
            c->quit_requested = true;
            close_handles(c);
            return;
        }
        c->quit_requested = true; /* the operator wants out: no hold */
        if (c->o.interrupt_cb)
            c->o.interrupt_cb(c->o.data);
        else
            uv_kill(getpid(), SIGINT);
        c->stopping = true;
        c->dirty = true;
        break;
    case ESPFAB_CONSOLE_ACT_REDRAW:
        c->full = true;
        c->dirty = true;
        break;
    case ESPFAB_CONSOLE_ACT_CHANGED:
    case ESPFAB_CONSOLE_ACT_BAD_SLOT:
    case ESPFAB_CONSOLE_ACT_NONE:
    default:
        c->dirty = true;
        break;
    }
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    espfab_console_t *c = s->data;
    if (n < 0) {
        /* stdin closed (the SSH session went away...): keys are gone, the
         * screen still updates */
        uv_read_stop(s);
        c->reading = false;
        return;
    }
    espfab_console_action_t act[32];
    int per_row = c->prev.table ? 1 : (c->prev.per_row > 0 ? c->prev.per_row : 1);
    size_t k = espfab_console_keys_feed(&c->keys, (const unsigned char *)buf->base, (size_t)n,
                                        c->names, c->nslots, per_row, act, 32);
    for (size_t i = 0; i < k && !c->closed; i++)
        do_action(c, &act[i]);
    if (c->dirty && !c->closed)
        draw(c);
}

static void log_sink(void *data, espfab_log_level_t level, const char *tag, const char *msg)
{
    espfab_console_t *c = data;
    if (level > ESPFAB_LOG_INFO)
        return;
    char line[560];
    snprintf(line, sizeof(line), "%s [%s] %s",
             level == ESPFAB_LOG_ERROR ? "ERROR" : level == ESPFAB_LOG_WARN ? "WARN" : "info",
             tag ? tag : "-", msg);
    set_status(c, NULL, line);
}

/* ---- public ---- */

int espfab_console_new(uv_loop_t *loop, espfab_station_t *st, const espfab_console_opts_t *o,
                       espfab_console_t **out, espfab_fault_t *f)
{
    *out = NULL;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        return espfab_fault_set(f, ESPFAB_E_CONSOLE_NO_TTY,
                                "the console needs a terminal on %s; use --log json or --log text",
                                !isatty(STDIN_FILENO) ? "stdin" : "stdout");
    if (g_active)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "a console is already running");
    espfab_console_t *c = calloc(1, sizeof(*c));
    if (!c)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "console");
    c->loop = loop;
    c->st = st;
    if (o)
        c->o = *o;
    c->nslots = espfab_station_slot_count(st);
    c->snap = calloc(c->nslots ? c->nslots : 1, sizeof(*c->snap));
    c->names = calloc(c->nslots ? c->nslots : 1, sizeof(*c->names));
    c->paused = calloc(c->nslots ? c->nslots : 1, sizeof(*c->paused));
    if (!c->snap || !c->names || !c->paused) {
        espfab_console_free(c);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "console");
    }
    for (size_t i = 0; i < c->nslots; i++) {
        const espfab_slot_status_t *s = espfab_station_slot(st, (int)i);
        c->names[i] = s && s->name ? s->name : "";
        c->paused[i] = s && s->state == ESPFAB_SLOT_PAUSED;
    }
    espfab_console_keys_init(&c->keys);
    const char *ascii = getenv("ESPFAB_CONSOLE_ASCII");
    c->utf8 = c->o.force_utf8 > 0 ? true : c->o.force_utf8 < 0 ? false
              : (ascii && *ascii && strcmp(ascii, "0")) ? false : espfab_console_env_utf8();
    c->color = !getenv("NO_COLOR");
    unsigned ms = c->o.refresh_ms;
    const char *env = getenv("ESPFAB_CONSOLE_REFRESH_MS");
    if (!ms && env && *env)
        ms = (unsigned)strtoul(env, NULL, 10);
    if (!ms)
        ms = 100;
    if (ms < 10)
        ms = 10;

    int rc = uv_tty_init(loop, &c->tin, STDIN_FILENO, 1);
    if (rc != 0) {
        espfab_fault_errno(f, ESPFAB_E_IO, -rc, "console: cannot open the terminal on stdin: %s",
                           uv_strerror(rc));
        free(c->snap);
        free(c->names);
        free(c->paused);
        free(c);
        return f ? f->code : ESPFAB_E_IO;
    }
    c->tin.data = c;
    rc = uv_tty_set_mode(&c->tin, UV_TTY_MODE_RAW);
    if (rc != 0) {
        espfab_fault_errno(f, ESPFAB_E_IO, -rc, "console: cannot set the terminal to raw mode: %s",
                           uv_strerror(rc));
        uv_close((uv_handle_t *)&c->tin, on_closed);
        uv_run(loop, UV_RUN_NOWAIT);
        free(c->snap);
        free(c->names);
        free(c->paused);
        free(c);
        return f ? f->code : ESPFAB_E_IO;
    }
    c->raw = true;
    if (uv_tty_get_winsize(&c->tin, &c->cols, &c->rows) != 0 || c->cols <= 0 || c->rows <= 0) {
        c->cols = 80;
        c->rows = 24;
    }
    uv_timer_init(loop, &c->timer);
    uv_signal_init(loop, &c->winch);
    c->timer.data = c->winch.data = c;
    c->handles_open = true;
    uv_signal_start(&c->winch, on_winch, SIGWINCH);
    uv_timer_start(&c->timer, on_timer, ms, ms);
    if (uv_read_start((uv_stream_t *)&c->tin, on_alloc, on_read) == 0)
        c->reading = true;

    install_fatal();
    g_active = 1;
    out_all(ENTER_SEQ, sizeof(ENTER_SEQ) - 1);
    if (isatty(STDERR_FILENO)) {
        /* log lines would scribble over the screen: show them on the
         * status line instead (stderr redirected to a file keeps them all) */
        espfab_log_set_sink(log_sink, c);
        c->log_sink = true;
    }
    c->full = true;
    draw(c);
    *out = c;
    return 0;
}

void espfab_console_event(espfab_console_t *c, const espfab_station_event_t *ev)
{
    if (!c || !ev)
        return;
    switch (ev->type) {
    case ESPFAB_STATION_EV_NOTE:
        set_status(c, ev->status ? ev->status->name : NULL, ev->text);
        break;
    case ESPFAB_STATION_EV_FINISHED:
        c->finished = true;
        c->dirty = true;
        draw(c);
        if (!c->o.hold || c->quit_requested)
            close_handles(c);
        break;
    case ESPFAB_STATION_EV_SLOT:
        if (ev->status && ev->slot >= 0 && (size_t)ev->slot < c->nslots &&
            ev->status->state == ESPFAB_SLOT_PAUSED)
            c->paused[ev->slot] = true;
        c->dirty = true;
        break;
    default:
        c->dirty = true;
        break;
    }
}

void espfab_console_note(espfab_console_t *c, const char *text)
{
    if (!c)
        return;
    set_status(c, NULL, text); /* drawn by the next timer tick */
    if (text && strstr(text, "interrupt"))
        c->stopping = true;
}

bool espfab_console_closed(const espfab_console_t *c) { return !c || c->closed; }

void espfab_console_free(espfab_console_t *c)
{
    if (!c)
        return;
    bool was_active = c->raw;
    if (c->handles_open) {
        close_handles(c);
        uv_run(c->loop, UV_RUN_NOWAIT);
    }
    if (c->log_sink)
        espfab_log_set_sink(NULL, NULL);
    if (was_active) {
        g_active = 0;
        out_all(LEAVE_SEQ, sizeof(LEAVE_SEQ) - 1);
        uv_tty_reset_mode();
        uninstall_fatal();
        /* the final state on the normal screen, as a table */
        espfab_console_view_t v;
        espfab_console_frame_t fr = {0};
        fill_view(c, &v);
        v.force_table = true;
        v.rows = (int)c->nslots + 5 < 10 ? 10 : (int)c->nslots + 5;
        v.selected = -1;
        v.prompt = NULL;
        v.help = false;
        /* totals, the table and the last status line; no title bar, no keys */
        if (espfab_console_render(&v, &fr) == 0) {
            for (int i = 1; i < fr.rows - 1; i++) {
                if (espfab_console_visible_width(fr.line[i]) == 0)
                    continue;
                out_all(fr.line[i], strlen(fr.line[i]));
                out_all("\033[0m\n", 5);
            }
        }
        espfab_console_frame_free(&fr);
    }
    espfab_console_frame_free(&c->prev);
    free(c->snap);
    free(c->names);
    free(c->paused);
    free(c);
}
