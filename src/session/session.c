/*
 * session.c - the session's core (core.h): its lifecycle, the phase order,
 * state changes, notes and faults, and the end (pass or fail).  The phases
 * live in their own files (connect.c, identify.c, flash_id.c, check.c,
 * stub_baud.c, write.c, verify.c, run.c); the link (commands, timer, bytes
 * in) in link.c; register scripts in script.c.
 *
 * Every state change goes through set_state() (curl's mstate pattern), which
 * logs it and charges the time spent to the record's phase.  sess_finish() closes
 * the port and the timer; DONE fires from the last close callback (or the
 * last outstanding compression callback), so the caller may free the
 * session from inside it.
 */
#include "core.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- names, options ---------------------------------------------------- */

static const char *const state_names[] = {
#define ESPFAB__SS_NAME(name, str) str,
    ESPFAB_SESSION_STATES(ESPFAB__SS_NAME)
#undef ESPFAB__SS_NAME
};

const char *espfab_session_state_name(espfab_session_state_t st)
{
    if ((unsigned)st < ESPFAB_SS_COUNT)
        return state_names[st];
    return "?";
}

void espfab_session_opts_init(espfab_session_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->baud = 460800;
    o->initial_baud = 115200;
    o->chip = ESPFAB_CHIP_UNKNOWN;
    o->before = ESPFAB_RESET_AUTO;
    o->after = ESPFAB_AFTER_HARD_RESET;
    o->erase = ESPFAB_ERASE_NONE;
    o->min_rev_full = -1;
    o->max_rev_full = -1;
    o->connect_attempts = 7;
    o->timeout_scale = 1.0;
}

/* ---- the phase order ----------------------------------------------------- */

static const struct phase_def {
    const char *name;
    void (*enter)(espfab_session_t *s);
    unsigned tasks; /* T_* bits: the tasks this phase serves */
} phases[PHASE_COUNT] = {
#define ESPFAB__PH_DEF(name, tasks) [PHASE_##name] = {#name, phase_##name##_enter, (tasks)},
    ESPFAB_SESSION_PHASES(ESPFAB__PH_DEF)
#undef ESPFAB__PH_DEF
};

void phase_done(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    for (int p = (int)s->phase + 1; p < PHASE_COUNT; p++) {
        if (!(phases[p].tasks & (1u << s->o.task)))
            continue;
        s->phase = (phase_id_t)p;
        ESPFAB_LOGT(TAG, "%s: phase %s", s->port_spec, phases[p].name);
        phases[p].enter(s);
        return;
    }
    sess_pass(s);
}

static void first_phase(espfab_session_t *s)
{
    s->phase = (phase_id_t)0;
    phases[0].enter(s);
}

/* Which of the record's timed phases a state is charged to. */
static espfab_phase_t phase_of(espfab_session_state_t st)
{
    switch (st) {
    case ESPFAB_SS_IDLE:
    case ESPFAB_SS_OPEN:
    case ESPFAB_SS_RESET:
    case ESPFAB_SS_SYNC: return ESPFAB_PHASE_CONNECT;
    case ESPFAB_SS_DETECT:
    case ESPFAB_SS_READ_INFO:
    case ESPFAB_SS_FLASH_ID:
    case ESPFAB_SS_CHECK: return ESPFAB_PHASE_IDENTIFY;
    case ESPFAB_SS_STUB: return ESPFAB_PHASE_STUB;
    case ESPFAB_SS_BAUD: return ESPFAB_PHASE_BAUD;
    case ESPFAB_SS_ERASE: return ESPFAB_PHASE_ERASE;
    case ESPFAB_SS_SPI_PARAMS:
    case ESPFAB_SS_PREPARE:
    case ESPFAB_SS_WRITE: return ESPFAB_PHASE_WRITE;
    case ESPFAB_SS_VERIFY: return ESPFAB_PHASE_VERIFY;
    case ESPFAB_SS_READ: return ESPFAB_PHASE_WRITE; /* the transfer phase, the other way */
    case ESPFAB_SS_RUN:
    default: return ESPFAB_PHASE_RESET;
    }
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- events -------------------------------------------------------------- */

void sess_emit(espfab_session_t *s, espfab_session_ev_t *ev)
{
    if (s->cb)
        s->cb(s, ev, s->cb_data);
}

void sess_note(espfab_session_t *s, const char *fmt, ...)
{
    char buf[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ESPFAB_LOGI(TAG, "%s: %s", s->port_spec, buf);
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_NOTE, .note = buf};
    ev.old_state = ev.new_state = s->state;
    sess_emit(s, &ev);
}

void sess_set_state_at(espfab_session_t *s, espfab_session_state_t st, const char *file, int line)
{
    espfab_session_state_t old = s->state;
    if (old == st)
        return;
    uint64_t now = uv_now(s->loop);
    s->rec.phase_ms[phase_of(old)] += (uint32_t)(now - s->state_since);
    s->state_since = now;
    s->state = st;
    const char *base = strrchr(file, '/');
    ESPFAB_LOGD(TAG, "%s: %s -> %s (%s:%d)", s->port_spec, state_names[old], state_names[st], base ? base + 1 : file,
                line);
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_STATE, .old_state = old, .new_state = st};
    sess_emit(s, &ev);
}

/* ---- faults -------------------------------------------------------------- */

void sess_fail(espfab_session_t *s, int code, const char *fmt, ...)
{
    if (sess_finishing(s))
        return;
    char buf[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    espfab_fault_set(&s->fault, code, "%s: %s", s->port_spec, buf);
    sess_finish(s);
}

void sess_fail_cancelled(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    espfab_fault_set(&s->fault, ESPFAB_E_CANCELLED, "%s: cancelled in state %s", s->port_spec,
                     state_names[s->state]);
    sess_finish(s);
}

/* A fault built by another module (image checks, stub loader, port). */
void sess_fail_with(espfab_session_t *s, const espfab_fault_t *f)
{
    if (sess_finishing(s))
        return;
    s->fault = *f;
    if (!strstr(s->fault.detail, s->port_spec)) {
        char d[sizeof(s->fault.detail)];
        if (snprintf(d, sizeof(d), "%s: %s", s->port_spec, f->detail) < 0)
            d[0] = 0;
        memcpy(s->fault.detail, d, sizeof(d));
    }
    sess_finish(s);
}

void sess_fail_resp(espfab_session_t *s, const espfab_resp_t *r, uint8_t op, const char *fmt, ...)
{
    if (sess_finishing(s))
        return;
    char what[160] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
    }
    char where[224];
    if (snprintf(where, sizeof(where), "%s%son %s", what, what[0] ? " " : "", s->port_spec) < 0)
        where[0] = 0;
    int retries = s->fault.retries;
    espfab_fault_clear(&s->fault);
    s->fault.retries = retries;
    espfab_resp_to_fault_at(r, s->link.loader, op, where, &s->fault);
    sess_finish(s);
}

void sess_fail_port(espfab_session_t *s, int rc)
{
    const espfab_fault_t *pf = s->port ? espfab_port_fault(s->port) : NULL;
    if (pf && pf->code)
        sess_fail_with(s, pf);
    else
        sess_fail(s, rc, "port error");
}

/* ---- small shared helpers ------------------------------------------------ */

uint64_t sess_scaled(const espfab_session_t *s, uint64_t ms)
{
    double v = (double)ms * s->o.timeout_scale;
    return v < 1 ? 1 : (uint64_t)v;
}

uint64_t sess_per_mb(double sec_per_mb, uint64_t bytes)
{
    double ms = sec_per_mb * (double)bytes / 1e6 * 1000.0;
    if (ms < DEFAULT_TIMEOUT_MS)
        ms = DEFAULT_TIMEOUT_MS;
    if (ms > MAX_TIMEOUT_MS)
        ms = MAX_TIMEOUT_MS;
    return (uint64_t)ms;
}

void sess_fmt_bytes(char *buf, size_t len, uint64_t n)
{
    if (n >= 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else
        snprintf(buf, len, "%.1f KiB", (double)n / 1024.0);
}

void sess_port_usb_id(const espfab_session_t *s, int *vid, int *pid)
{
    if (s->o.usb_vid > 0) {
        *vid = s->o.usb_vid;
        *pid = s->o.usb_pid;
        return;
    }
    espfab_port_usb_id(s->port, vid, pid);
}

uint32_t sess_ram_block(const espfab_session_t *s)
{
    return s->id.usb == ESPFAB_USB_OTG ? ESPFAB_USB_OTG_BLOCK : ESPFAB_RAM_BLOCK;
}

uint32_t sess_stub_block(const espfab_session_t *s)
{
    return s->id.usb == ESPFAB_USB_OTG ? ESPFAB_USB_OTG_BLOCK : ESPFAB_STUB_FLASH_BLOCK;
}

/* ---- lifecycle ----------------------------------------------------------- */

espfab_session_t *espfab_session_new(uv_loop_t *loop, const espfab_session_opts_t *o,
                                     espfab_session_cb cb, void *data)
{
    espfab_session_task_t task = o && o->info_only ? ESPFAB_TASK_INFO : o ? o->task : ESPFAB_TASK_FLASH;
    if (!loop || !o || !o->port || !o->port[0] || o->nregions > ESPFAB_MAX_REGIONS || task > ESPFAB_TASK_VERIFY ||
        (o->nregions && (!o->regions || (!o->cache && task != ESPFAB_TASK_ERASE))))
        return NULL;
    if ((task == ESPFAB_TASK_READ && (!o->read_out || !o->read_size)) ||
        (task == ESPFAB_TASK_ERASE && o->nregions && !o->erase_sizes))
        return NULL;
    for (size_t i = 0; i < o->nregions; i++)
        if (!o->regions[i].blob && task != ESPFAB_TASK_ERASE)
            return NULL;
    espfab_session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    s->o = *o;
    snprintf(s->port_spec, sizeof(s->port_spec), "%s", o->port);
    s->o.port = s->port_spec;
    s->o.task = task;
    s->o.info_only = task == ESPFAB_TASK_INFO;
    if (o->nregions)
        memcpy(s->oregions, o->regions, o->nregions * sizeof(o->regions[0]));
    if (task == ESPFAB_TASK_ERASE && o->nregions) {
        memcpy(s->osizes, o->erase_sizes, o->nregions * sizeof(o->erase_sizes[0]));
        s->o.erase_sizes = s->osizes;
    }
    s->o.regions = s->oregions;
    if (!s->o.baud)
        s->o.baud = 460800;
    if (!s->o.initial_baud)
        s->o.initial_baud = 115200;
    if (s->o.connect_attempts <= 0)
        s->o.connect_attempts = 7;
    if (!(s->o.timeout_scale > 0))
        s->o.timeout_scale = 1.0;
    s->cb = cb;
    s->cb_data = data;
    s->state = ESPFAB_SS_IDLE;
    s->life = LIFE_NEW;
    espfab_attempt_init(&s->rec);
    espfab_fault_clear(&s->fault);
    snprintf(s->rec.port, sizeof(s->rec.port), "%s", s->port_spec);
    link_init(s);
    if (!s->link.wire || !s->link.next_wire) {
        link_free(s);
        free(s);
        return NULL;
    }
    return s;
}

int espfab_session_start(espfab_session_t *s)
{
    if (!s || s->life != LIFE_NEW)
        return ESPFAB_E_INVALID_ARG;
    s->life = LIFE_RUNNING;
    uv_timer_init(s->loop, &s->link.timer);
    s->link.timer.data = s;
    s->t0 = s->state_since = uv_now(s->loop);
    if (!s->rec.start_ms)
        s->rec.start_ms = wall_ms();
    sess_arm(s, 0, first_phase);
    return 0;
}

/* Runs from the timer only to let on_timer end a cancelled session. */
static void cancel_wakeup(espfab_session_t *s)
{
    (void)s;
}

void espfab_session_cancel(espfab_session_t *s)
{
    if (!s || sess_finishing(s))
        return;
    s->cancel = true;
    /* A session whose port open is pending has no command or timer to
     * notice the request: wake it from the loop (never from here). */
    if (s->life == LIFE_RUNNING && s->conn.open_req && !s->link.tfn)
        sess_arm(s, 0, cancel_wakeup);
}

const espfab_attempt_t *espfab_session_record(const espfab_session_t *s) { return s ? &s->rec : NULL; }
espfab_session_state_t espfab_session_state(const espfab_session_t *s)
{
    return s ? s->state : ESPFAB_SS_IDLE;
}
const espfab_chip_t *espfab_session_chip(const espfab_session_t *s) { return s ? s->id.chip : NULL; }

void espfab_session_free(espfab_session_t *s)
{
    if (!s)
        return;
    /* only before start or after DONE (session.h) */
    assert(s->life == LIFE_NEW || (s->life == LIFE_FINISHING && s->pending == 0));
    for (size_t i = 0; i < ESPFAB_MAX_REGIONS; i++)
        if (s->wr.reg[i].blob)
            espfab_blob_unref(s->o.cache, s->wr.reg[i].blob);
    if (s->stub.own_loaded)
        espfab_stub_free(&s->stub.own);
    link_free(s);
    free(s);
}

void sess_maybe_done(espfab_session_t *s)
{
    if (s->pending > 0)
        return;
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_DONE,
                              .old_state = s->state,
                              .new_state = s->state,
                              .outcome = s->rec.outcome,
                              .fault = &s->rec.fault};
    sess_emit(s, &ev); /* may free s */
}

static void on_timer_closed(uv_handle_t *h)
{
    espfab_session_t *s = h->data;
    s->pending--;
    sess_maybe_done(s);
}

static void on_port_closed(espfab_port_t *p, void *data)
{
    (void)p;
    espfab_session_t *s = data;
    s->pending--;
    sess_maybe_done(s);
}

/* Records the outcome from s->fault (code 0 = pass), closes everything. */
void sess_finish(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    assert(s->life == LIFE_RUNNING);
    s->link.cmd.state = CMD_IDLE;
    espfab_attempt_t *a = &s->rec;
    a->fault = s->fault;
    if (s->fault.code == 0) {
        a->outcome = ESPFAB_OUTCOME_PASS;
    } else {
        a->outcome = s->fault.code == ESPFAB_E_CANCELLED ? ESPFAB_OUTCOME_INTERRUPTED : ESPFAB_OUTCOME_FAIL;
        espfab_fault_format(&s->fault, a->message, sizeof(a->message));
        ESPFAB_LOGW(TAG, "%s", a->message);
    }
    a->end_ms = wall_ms();
    if (!a->baud)
        a->baud = s->link.cur_baud;
    sess_disarm(s);
    set_state(s, ESPFAB_SS_DONE);
    s->life = LIFE_FINISHING;
    espfab_port_open_cancel(s->conn.open_req); /* no callback after this */
    s->conn.open_req = NULL;
    if (s->port) {
        s->pending++;
        espfab_port_close(s->port, on_port_closed, s);
        s->port = NULL;
    }
    s->pending++;
    uv_close((uv_handle_t *)&s->link.timer, on_timer_closed);
    /* compressions still running hold s->pending too */
}

/* ---- the pass line, per task ----------------------------------------------- */

const char *espfab_session_task_name(espfab_session_task_t t)
{
    switch (t) {
    case ESPFAB_TASK_FLASH: return "flash";
    case ESPFAB_TASK_INFO: return "info";
    case ESPFAB_TASK_READ: return "read-flash";
    case ESPFAB_TASK_ERASE: return "erase";
    case ESPFAB_TASK_VERIFY: return "verify";
    }
    return "?";
}

static void info_message(espfab_session_t *s, const char *mac)
{
    espfab_attempt_t *a = &s->rec;
    char size[32] = "unknown size";
    if (a->flash_size)
        sess_fmt_bytes(size, sizeof(size), a->flash_size);
    snprintf(a->message, sizeof(a->message), "OK %s %s, flash %06" PRIx32 " (%s, %s)",
             s->id.have_info ? s->id.info.description : a->chip, mac, a->flash_jedec,
             espfab_flash_vendor((uint8_t)a->flash_jedec), size);
}

static void flash_message(espfab_session_t *s, const char *mac, double secs)
{
    espfab_attempt_t *a = &s->rec;
    int verified = 0;
    for (int i = 0; i < a->nregions; i++)
        verified += a->regions[i].verified;
    char total[32];
    sess_fmt_bytes(total, sizeof(total), s->wr.bytes_total);
    if (a->nregions == 0)
        snprintf(a->message, sizeof(a->message), "PASS %s %s nothing to write, %.1f s", a->chip, mac, secs);
    else if (verified == a->nregions)
        snprintf(a->message, sizeof(a->message), "PASS %s %s %d region%s verified, %s in %.1f s", a->chip, mac,
                 a->nregions, a->nregions == 1 ? "" : "s", total, secs);
    else
        snprintf(a->message, sizeof(a->message), "PASS %s %s %d region%s written, NOT verified (%s), %s in %.1f s",
                 a->chip, mac, a->nregions, a->nregions == 1 ? "" : "s",
                 s->wr.unverified_why ? s->wr.unverified_why : "verification skipped", total, secs);
}

static void erase_message(espfab_session_t *s, const char *mac, double secs)
{
    espfab_attempt_t *a = &s->rec;
    if (s->o.erase == ESPFAB_ERASE_ALL) {
        snprintf(a->message, sizeof(a->message), "PASS %s %s erase: the whole flash erased, in %.1f s", a->chip,
                 mac, secs);
        return;
    }
    char what[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < s->o.nregions && len < sizeof(what) - 1; i++) {
        const espfab_session_region_t *r = &s->o.regions[i];
        int n = snprintf(what + len, sizeof(what) - len, "%s0x%" PRIx32 "+0x%" PRIx32, i ? ", " : "", r->offset,
                         r->blob ? (uint32_t)r->blob->len : s->osizes[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    snprintf(a->message, sizeof(a->message), "PASS %s %s erase: %zu region%s erased (%s), in %.1f s", a->chip, mac,
             s->o.nregions, s->o.nregions == 1 ? "" : "s", what, secs);
}

void sess_pass(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    espfab_attempt_t *a = &s->rec;
    espfab_fault_clear(&s->fault);
    s->fault.retries = (int)s->link.retries; /* commands resent on the way to this pass */
    double secs = (double)(uv_now(s->loop) - s->t0) / 1000.0;
    const char *mac = a->mac[0] ? a->mac : "(MAC not read)";
    switch (s->o.task) {
    case ESPFAB_TASK_INFO: info_message(s, mac); break;
    case ESPFAB_TASK_FLASH: flash_message(s, mac, secs); break;
    case ESPFAB_TASK_READ:
        snprintf(a->message, sizeof(a->message), "PASS %s %s read-flash: %" PRIu32 " bytes at 0x%" PRIx32
                 " read, %s %s, in %.1f s", a->chip, mac, s->o.read_size, s->o.read_offset,
                 a->regions[0].verified ? "MD5 checked" : "NOT checked (no MD5 from this loader), MD5",
                 a->regions[0].md5_expected, secs);
        break;
    case ESPFAB_TASK_ERASE: erase_message(s, mac, secs); break;
    case ESPFAB_TASK_VERIFY:
        snprintf(a->message, sizeof(a->message), "PASS %s %s verify: %d region%s match (MD5), nothing written, in %.1f s",
                 a->chip, mac, a->nregions, a->nregions == 1 ? "" : "s", secs);
        break;
    }
    ESPFAB_LOGI(TAG, "%s: %s", s->port_spec, a->message);
    sess_finish(s);
}
