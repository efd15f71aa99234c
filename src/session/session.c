/*
 * session.c - one bootloader session as a non-blocking state machine
 * (session.h).  Continuation style: every step sends one command (or arms
 * one timer) and names the function that handles the reply; bytes from the
 * port, timers and blob-compression callbacks are the only things that move
 * a session.  Every state change goes through set_state() (curl's mstate
 * pattern), which logs it and charges the time spent to the record's phase.
 *
 * One uv timer serves the command timeout and every delay (reset steps, SYNC
 * spacing, baud settling, draining); they never overlap.  finish() closes the
 * port and the timer; DONE fires from the last close callback (or the last
 * outstanding compression callback), so the caller may free the session
 * from inside it.
 */
#include "espfab/session.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espfab/cmd.h"
#include "espfab/log.h"
#include "espfab/port.h"
#include "espfab/slip.h"
#include "espfab/stub.h"

#define TAG "session"

#define FRAME_CAP 1024
#define PKT_CAP (ESPFAB_CMD_HDR + 16 + ESPFAB_STUB_FLASH_BLOCK + 64)
#define WIRE_CAP (2 * PKT_CAP + 2)
#define BOOTLOG_CAP 2048
#define LATE_CAP 256
#define WDT_RESET_WAIT_MS 500u  /* the RTC watchdog resets the chip within this */

#define DEFAULT_TIMEOUT_MS 3000u
#define SYNC_TIMEOUT_MS 100u
#define SYNC_GAP_MS 50u
#define SYNC_TRIES 5
#define SYNC_COLLECT_MS 100u
#define UNSUPPORTED_DRAIN_MS 200u
#define DRAIN_QUIET_MS 30u /* no byte for this long: the repeats are over */
#define DRAIN_TICK_MS 10u
#define MEM_END_ROM_TIMEOUT_MS 200u
#define BAUD_SETTLE_MS 50u
#define ERASE_CHIP_TIMEOUT_MS 120000u
#define MAX_TIMEOUT_MS 240000u
#define ERASE_PER_MB_S 40.0
#define WRITE_PER_MB_S 40.0
#define MD5_PER_MB_S 8.0
#define BLOCK_TRIES 3
#define REG_TRIES 3
#define BEGIN_TRIES 3 /* FLASH_(DEFL_)BEGIN: safe to repeat before any data */
#define LINK_MAX_BAD 12
#define RUN_END_TIMEOUT_MS 500u
#define GARBLED_WAIT_MS 100u         /* after a broken frame: how long the real reply may still take */
#define BAUD_CONFIRM_TIMEOUT_MS 500u /* a READ_REG at the new rate answers in milliseconds */

typedef void (*reply_fn)(espfab_session_t *s, int rc, const espfab_resp_t *r);
typedef void (*step_fn)(espfab_session_t *s);
typedef void (*spi_fn)(espfab_session_t *s, uint32_t value);

typedef struct sregion {
    espfab_blob_t *blob;     /* the bytes intended (maybe a patched/padded copy) */
    bool deflate;
    uint32_t block;
    uint32_t nblocks;
    uint32_t seq;
    uint64_t last_timeout;   /* the stub applies a block's write time to the next reply */
} sregion_t;

struct espfab_session {
    uv_loop_t *loop;
    espfab_session_opts_t o;
    char port_spec[256];
    espfab_session_region_t oregions[ESPFAB_MAX_REGIONS];
    espfab_session_cb cb;
    void *cb_data;

    espfab_session_state_t state;
    uint64_t state_since;
    uint64_t t0;
    bool started, finishing, cancel;
    int pending;             /* handles being closed + compressions outstanding */
    int compressing;

    espfab_port_t *port;
    uv_timer_t timer;
    bool timer_ready;
    step_fn tfn;

    espfab_slip_dec_t dec;
    uint8_t frame[FRAME_CAP];

    espfab_attempt_t rec;
    espfab_fault_t fault;

    /* loader and chip */
    espfab_loader_t loader;
    bool loader_known;
    const espfab_chip_t *chip;
    espfab_chip_info_t info;
    bool have_info;
    espfab_reg_t regs[16];
    size_t nregs;
    uint32_t reg_addrs[16];
    bool sdm;
    uint32_t cur_baud;
    espfab_usb_mode_t usb;   /* how the port reaches the chip (known after detect) */
    bool wdt_disabled;       /* the USB-Serial/JTAG watchdogs were turned off */
    bool reset_issued;       /* RUN: the chip is resetting; input and port loss are expected */
    uint32_t spi_saved[2];   /* SPI USR and USR2 before the flash id commands */
    bool spi_soft;           /* a failed SPI command falls back to s->rdid */

    /* command in flight */
    struct {
        bool active;
        uint8_t op;
        size_t expect;
        int tries, max_tries;
        uint64_t timeout_ms;
        reply_fn fn;
        size_t wire_len;
        uint64_t rx_try;     /* rx_total when the current try was sent */
    } cmd;
    uint8_t pkt[PKT_CAP];
    uint8_t pad[ESPFAB_ROM_FLASH_BLOCK]; /* the ROM's padded last block */
    uint8_t *wire;           /* encoded frame of the command in flight */
    uint8_t *next_wire;      /* the next data block, encoded while waiting */
    size_t next_len;
    long next_key;           /* (region << 20 | seq) + 1 of next_wire, 0 = none */

    /* connect */
    int attempt;
    int sync_try;
    int sync_replies;
    int syncs_sent;
    bool collecting_sync;
    bool synced;
    bool draining;
    bool usb_jtag_noted;
    step_fn drain_fn;        /* drain_then(): what runs once the line is quiet */
    uint64_t drain_rx;
    unsigned drain_quiet, drain_left;
    bool baud_switching;
    uint64_t baud_rx_mark;   /* rx_total when the new rate was first tried */
    char md5_prev[33];       /* verify: the previous (mismatching) MD5 read */
    espfab_reset_step_t steps[ESPFAB_RESET_MAX_STEPS];
    size_t nsteps, step;
    espfab_reset_step_t custom[ESPFAB_RESET_MAX_STEPS];
    int ncustom;
    bool no_lines_noted;
    char bootlog[BOOTLOG_CAP];
    size_t bootlog_len;
    uint64_t rx_total;
    bool saw_download, saw_normal;
    char boot_line[128];

    /* link health */
    unsigned bad_frames, retries;

    /* identify */
    size_t idx;
    uint32_t info_prev;
    int info_reads;
    espfab_regop_t ops[12];
    size_t nops;
    int polls;
    uint8_t spi_opcode;      /* the SPI command the ops run */
    spi_fn spi_done;         /* gets W0 once it completed */
    uint32_t rdid;           /* the first RDID answer */
    int xmc_step;            /* XMC start-up sequence: next command */
    espfab_secinfo_t sec;

    /* register scripts (watchdogs, the reset over USB): run_script() */
    espfab_regop_t script[16];
    size_t nscript, sidx;
    uint32_t script_val[4];  /* what the READ steps returned, in order */
    size_t nvals;
    uint32_t set_read;       /* SET_BITS: the value its READ half returned */
    bool set_have_read;
    bool script_soft;        /* a failure ends the script, not the session */
    bool script_failed;
    bool script_refused;     /* ... and the failing step was refused, not unanswered */
    bool script_resets;      /* its last step resets the chip */
    const char *script_what;
    step_fn script_done;
    char late[LATE_CAP];     /* text outside frames since SYNC (reset banners) */
    size_t late_len;

    /* stub */
    espfab_stub_t own_stub;  /* loaded here when no stub cache is shared */
    const espfab_stub_t *stub;
    bool stub_loaded;
    int stub_seg;
    uint32_t stub_seq;
    bool waiting_ohai, ohai;

    /* regions */
    sregion_t reg[ESPFAB_MAX_REGIONS];
    size_t ridx;
    uint64_t bytes_total;
    const char *unverified_why;
};

static void set_state_at(espfab_session_t *s, espfab_session_state_t st, int line);
#define set_state(s, st) set_state_at((s), (st), __LINE__)
static void fail(espfab_session_t *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(espfab_session_t *s);
static void start_attempt(espfab_session_t *s);
static void send_sync(espfab_session_t *s);
static void start_detect(espfab_session_t *s);
static void read_magic(espfab_session_t *s);
static void start_read_info(espfab_session_t *s);
static void start_flash_id(espfab_session_t *s);
static void next_regop(espfab_session_t *s);
static void start_check(espfab_session_t *s);
static void start_stub(espfab_session_t *s);
static void start_baud(espfab_session_t *s);
static void start_spi_params(espfab_session_t *s);
static void start_erase(espfab_session_t *s);
static void start_prepare(espfab_session_t *s);
static void start_write(espfab_session_t *s);
static void write_region(espfab_session_t *s);
static void send_block(espfab_session_t *s);
static void start_verify(espfab_session_t *s);
static void verify_region(espfab_session_t *s);
static void start_run(espfab_session_t *s);
static void pass(espfab_session_t *s);

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

static void emit(espfab_session_t *s, espfab_session_ev_t *ev)
{
    if (s->cb)
        s->cb(s, ev, s->cb_data);
}

static void note(espfab_session_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(espfab_session_t *s, const char *fmt, ...)
{
    char buf[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ESPFAB_LOGI(TAG, "%s: %s", s->port_spec, buf);
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_NOTE, .note = buf};
    ev.old_state = ev.new_state = s->state;
    emit(s, &ev);
}

static void set_state_at(espfab_session_t *s, espfab_session_state_t st, int line)
{
    espfab_session_state_t old = s->state;
    if (old == st)
        return;
    uint64_t now = uv_now(s->loop);
    s->rec.phase_ms[phase_of(old)] += (uint32_t)(now - s->state_since);
    s->state_since = now;
    s->state = st;
    ESPFAB_LOGD(TAG, "%s: %s -> %s (session.c:%d)", s->port_spec, state_names[old], state_names[st],
                line);
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_STATE, .old_state = old, .new_state = st};
    emit(s, &ev);
}

/* ---- faults -------------------------------------------------------------- */

static void fail(espfab_session_t *s, int code, const char *fmt, ...)
{
    if (s->finishing)
        return;
    char buf[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    espfab_fault_set(&s->fault, code, "%s: %s", s->port_spec, buf);
    finish(s);
}

/* A fault built by another module (image checks, stub loader, port). */
static void fail_with(espfab_session_t *s, const espfab_fault_t *f)
{
    if (s->finishing)
        return;
    s->fault = *f;
    if (!strstr(s->fault.detail, s->port_spec)) {
        char d[sizeof(s->fault.detail)];
        if (snprintf(d, sizeof(d), "%s: %s", s->port_spec, f->detail) < 0)
            d[0] = 0;
        memcpy(s->fault.detail, d, sizeof(d));
    }
    finish(s);
}

static void fail_resp(espfab_session_t *s, const espfab_resp_t *r, uint8_t op, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_resp(espfab_session_t *s, const espfab_resp_t *r, uint8_t op, const char *fmt, ...)
{
    if (s->finishing)
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
    espfab_resp_to_fault_at(r, s->loader, op, where, &s->fault);
    finish(s);
}

static void fail_port(espfab_session_t *s, int rc)
{
    const espfab_fault_t *pf = s->port ? espfab_port_fault(s->port) : NULL;
    if (pf && pf->code)
        fail_with(s, pf);
    else
        fail(s, rc, "port error");
}

/* ---- timers -------------------------------------------------------------- */

static uint64_t scaled(const espfab_session_t *s, uint64_t ms)
{
    double v = (double)ms * s->o.timeout_scale;
    return v < 1 ? 1 : (uint64_t)v;
}

/* esptool's timeout_per_mb: max(3 s, sec_per_mb * bytes / 1e6), capped. */
static uint64_t per_mb(double sec_per_mb, uint64_t bytes)
{
    double ms = sec_per_mb * (double)bytes / 1e6 * 1000.0;
    if (ms < DEFAULT_TIMEOUT_MS)
        ms = DEFAULT_TIMEOUT_MS;
    if (ms > MAX_TIMEOUT_MS)
        ms = MAX_TIMEOUT_MS;
    return (uint64_t)ms;
}

static void on_timer(uv_timer_t *t)
{
    espfab_session_t *s = t->data;
    step_fn fn = s->tfn;
    s->tfn = NULL;
    if (s->finishing || !fn)
        return;
    if (s->cancel) {
        espfab_fault_set(&s->fault, ESPFAB_E_CANCELLED, "%s: cancelled in state %s", s->port_spec,
                         state_names[s->state]);
        finish(s);
        return;
    }
    fn(s);
}

static void arm(espfab_session_t *s, uint64_t ms, step_fn fn)
{
    s->tfn = fn;
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

static void disarm(espfab_session_t *s)
{
    s->tfn = NULL;
    if (s->timer_ready)
        uv_timer_stop(&s->timer);
}

/* ---- commands ------------------------------------------------------------ */

static uint64_t tx_ms(const espfab_session_t *s, size_t bytes)
{
    uint32_t baud = s->cur_baud ? s->cur_baud : 115200;
    return (uint64_t)bytes * 10u * 1000u / baud + 1;
}

static void on_cmd_timeout(espfab_session_t *s);

static void write_wire(espfab_session_t *s)
{
    int rc = espfab_port_write(s->port, s->wire, s->cmd.wire_len, NULL, NULL);
    if (rc < 0) {
        s->cmd.active = false;
        fail_port(s, rc);
        return;
    }
    s->rec.bytes_sent += s->cmd.wire_len;
    s->cmd.rx_try = s->rx_total;
    arm(s, s->cmd.timeout_ms + tx_ms(s, s->cmd.wire_len), on_cmd_timeout);
}

/* Sends s->pkt[0..len) (already built) and waits for the reply to op.
 * A cancelled session stops here instead: "after the current block". */
static void send_cmd(espfab_session_t *s, size_t len, size_t expect, uint64_t timeout_ms,
                     int max_tries, reply_fn fn)
{
    if (s->finishing)
        return;
    if (s->cancel) {
        espfab_fault_set(&s->fault, ESPFAB_E_CANCELLED, "%s: cancelled in state %s", s->port_spec,
                         state_names[s->state]);
        finish(s);
        return;
    }
    if (len == 0) {
        fail(s, ESPFAB_E_PROTO_BAD_ARG, "could not build the %s request", state_names[s->state]);
        return;
    }
    s->cmd.op = s->pkt[1];
    s->cmd.expect = expect;
    s->cmd.tries = 1;
    s->cmd.max_tries = max_tries < 1 ? 1 : max_tries;
    s->cmd.timeout_ms = timeout_ms;
    s->cmd.fn = fn;
    s->cmd.wire_len = espfab_slip_encode(s->pkt, len, s->wire, WIRE_CAP);
    s->cmd.active = true;
    ESPFAB_LOGT(TAG, "%s: -> %s (%zu bytes)", s->port_spec, espfab_op_name(s->cmd.op), len);
    write_wire(s);
}

/* Sends the command again, same bytes (same seq for a data block). */
static void resend_cmd(espfab_session_t *s)
{
    if (s->finishing)
        return;
    s->cmd.tries++;
    s->cmd.active = true;
    s->retries++;
    ESPFAB_LOGD(TAG, "%s: resending %s (try %d of %d)", s->port_spec, espfab_op_name(s->cmd.op),
                s->cmd.tries, s->cmd.max_tries);
    write_wire(s);
}

static bool link_check(espfab_session_t *s)
{
    if (s->bad_frames + s->retries <= LINK_MAX_BAD)
        return true;
    fail(s, ESPFAB_E_LINK_UNRELIABLE, "%u corrupted or unexpected frames and %u retried commands at %u baud",
         s->bad_frames, s->retries, s->cur_baud);
    return false;
}

static bool stub_data_block(const espfab_session_t *s)
{
    uint8_t op = s->cmd.op;
    return s->loader == ESPFAB_LOADER_STUB &&
           (op == ESPFAB_OP_FLASH_DATA || op == ESPFAB_OP_FLASH_DEFL_DATA || op == ESPFAB_OP_MEM_DATA);
}

/* A broken or unexpected frame arrived while a command waits: it was most
 * likely the reply, garbled.  Do not wait the whole timeout for it. */
static void garbled_while_waiting(espfab_session_t *s)
{
    if (!s->cmd.active || s->finishing || s->tfn != on_cmd_timeout)
        return;
    if (uv_timer_get_due_in(&s->timer) > GARBLED_WAIT_MS)
        arm(s, GARBLED_WAIT_MS, on_cmd_timeout);
}

static void on_cmd_timeout(espfab_session_t *s)
{
    if (!s->cmd.active)
        return;
    /* A data block is never resent to the stub: it checks no sequence
     * numbers, so a block it already has would be written twice.  (The ROM
     * refuses a repeated sequence number with 0x06, see on_block.) */
    if (s->cmd.tries < s->cmd.max_tries && !stub_data_block(s)) {
        resend_cmd(s);
        if (!s->finishing)
            link_check(s);
        return;
    }
    s->cmd.active = false;
    if (s->synced && s->bad_frames >= 2 && !s->reset_issued) {
        /* Replies were lost on a line that also delivered broken frames:
         * the link, not the board, is the likely cause. */
        if (s->cmd.tries > 1)
            s->fault.retries = s->cmd.tries;
        fail(s, ESPFAB_E_LINK_UNRELIABLE,
             "no intact reply to %s; %u corrupted or unexpected frames and %u retried commands at %u baud",
             espfab_op_name(s->cmd.op), s->bad_frames, s->retries, s->cur_baud);
        return;
    }
    s->cmd.fn(s, ESPFAB_E_TIMEOUT, NULL);
}

/* ---- bytes in ------------------------------------------------------------ */

static void scan_bootlog(espfab_session_t *s)
{
    s->bootlog[s->bootlog_len] = 0;
    if (strstr(s->bootlog, "waiting for download") || strstr(s->bootlog, "boot mode:(1,"))
        s->saw_download = true;
    const char *b = strstr(s->bootlog, "boot:0x");
    if (!b)
        b = strstr(s->bootlog, "boot mode:(");
    if (!b || s->saw_normal)
        return;
    if (strncmp(b, "boot mode:(1,", 13) == 0)
        return;
    /* the whole line holding it, once it is complete */
    const char *eol = strpbrk(b, "\r\n");
    if (!eol)
        return;
    const char *sol = b;
    while (sol > s->bootlog && sol[-1] != '\n' && sol[-1] != '\r')
        sol--;
    int len = (int)(eol - sol);
    if (len > (int)sizeof(s->boot_line) - 1)
        len = (int)sizeof(s->boot_line) - 1;
    /* ESP32-family download strap values print DOWNLOAD in the boot line */
    while (len > 0 && (*sol == ' ' || *sol == '.' || *sol == '\t')) {
        sol++; /* the ESP8266 log starts with junk at the wrong baud */
        len--;
    }
    char line[sizeof(s->boot_line)];
    memcpy(line, sol, (size_t)len);
    line[len] = 0;
    if (strstr(line, "DOWNLOAD"))
        return;
    memcpy(s->boot_line, line, (size_t)len + 1);
    s->saw_normal = true;
}

/* After SYNC the board prints text only when it has reset (the ROM's banner,
 * "rst:0x10 (RTCWDT_RTC_RESET),boot:..."): the session is lost, and the
 * reset cause says why. */
static bool scan_late(espfab_session_t *s, const uint8_t *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s->late_len >= LATE_CAP - 1) {
            size_t keep = LATE_CAP / 2;
            memmove(s->late, s->late + s->late_len - keep, keep);
            s->late_len = keep;
        }
        s->late[s->late_len++] = bytes[i] ? (char)bytes[i] : '.';
    }
    s->late[s->late_len] = 0;
    const char *r = strstr(s->late, "rst:0x");
    const char *eol = r ? strpbrk(r, "\r\n") : NULL;
    if (!eol || s->state >= ESPFAB_SS_RUN)
        return false;
    /* the reset cause only: "rst:0x10 (RTCWDT_RTC_RESET)" (the detail must
     * leave room for the port's name and the advice) */
    char line[40];
    const char *end = strpbrk(r, ",\r\n");
    int n = (int)(end - r) < (int)sizeof(line) - 1 ? (int)(end - r) : (int)sizeof(line) - 1;
    memcpy(line, r, (size_t)n);
    line[n] = 0;
    const char *why;
    if (strstr(line, "WDT")) {
        if (s->wdt_disabled)
            why = "a watchdog, although espfab had disabled them";
        else if (s->usb == ESPFAB_USB_NONE && s->chip && s->chip->usb_jtag)
            why = "a watchdog: over USB-Serial/JTAG the ROM feeds none; if this port is one, pass --usb-id 303a:1001";
        else
            why = "a watchdog";
    } else if (strstr(line, "BROWN"))
        why = "a brownout: the 3.3 V supply sagged; use a stronger supply";
    else
        why = "a power dip or a pulse on EN";
    fail(s, ESPFAB_E_BOARD_RESET, "during %s it printed \"%s\": %s", state_names[s->state], line, why);
    return true;
}

static void on_outside(void *data, const uint8_t *bytes, size_t len)
{
    espfab_session_t *s = data;
    if (s->finishing)
        return;
    if (!s->synced) {
        for (size_t i = 0; i < len; i++) {
            if (s->bootlog_len >= BOOTLOG_CAP - 1) {
                size_t keep = BOOTLOG_CAP / 2;
                memmove(s->bootlog, s->bootlog + s->bootlog_len - keep, keep);
                s->bootlog_len = keep;
            }
            s->bootlog[s->bootlog_len++] = bytes[i] ? (char)bytes[i] : '.';
        }
        scan_bootlog(s);
        return;
    }
    if (s->reset_issued) /* the chip is restarting: its boot text */
        return;
    if (scan_late(s, bytes, len))
        return;
    if (s->baud_switching || s->draining)
        return;
    s->bad_frames++;
    if (link_check(s))
        garbled_while_waiting(s);
}

static void on_slip_error(void *data, int err)
{
    espfab_session_t *s = data;
    if (s->finishing || !s->synced || s->baud_switching || s->draining || s->reset_issued)
        return;
    s->bad_frames++;
    ESPFAB_LOGD(TAG, "%s: dropped a broken frame (%s)", s->port_spec, espfab_strerror(err));
    if (link_check(s))
        garbled_while_waiting(s);
}

static void proceed_after_sync(espfab_session_t *s);
static void stub_started(espfab_session_t *s);
static bool reply_suspect(const espfab_session_t *s, const espfab_resp_t *r);

static void on_frame(void *data, const uint8_t *frame, size_t len)
{
    espfab_session_t *s = data;
    if (s->finishing)
        return;
    if (len == 4 && memcmp(frame, "OHAI", 4) == 0) {
        s->ohai = true;
        if (s->waiting_ohai) {
            s->waiting_ohai = false;
            disarm(s);
            stub_started(s);
        }
        return;
    }
    if (s->draining || (s->reset_issued && !s->cmd.active))
        return;
    bool sync_echo = len >= 8 && frame[0] == 1 && frame[1] == ESPFAB_OP_SYNC;
    if (s->collecting_sync) {
        if (sync_echo && ++s->sync_replies >= 8) {
            s->collecting_sync = false;
            disarm(s);
            proceed_after_sync(s);
        }
        return;
    }
    if (!s->cmd.active) {
        if (!sync_echo && s->synced && !s->baud_switching) {
            s->bad_frames++;
            link_check(s);
        }
        return;
    }
    espfab_loader_t l = s->loader;
    if (!s->loader_known) {
        /* Before the chip is known: the frame length says the status length. */
        if (len == ESPFAB_CMD_HDR + 2)
            l = ESPFAB_LOADER_ROM_ESP8266;
        else if (len == ESPFAB_CMD_HDR + 4)
            l = ESPFAB_LOADER_ROM_ESP32;
        else
            return;
    }
    espfab_resp_t r;
    espfab_match_t m = espfab_resp_accept(frame, len, l, s->cmd.expect, s->cmd.op, &r);
    if (m == ESPFAB_MATCH_SKIP) {
        if (!sync_echo && s->synced && !s->baud_switching) {
            s->bad_frames++;
            if (link_check(s))
                garbled_while_waiting(s);
        }
        return;
    }
    if (!s->loader_known && s->cmd.op == ESPFAB_OP_SYNC) {
        s->loader = l == ESPFAB_LOADER_ROM_ESP8266 && r.value == 0 ? ESPFAB_LOADER_STUB : l;
    }
    if (m == ESPFAB_MATCH_OK && reply_suspect(s, &r)) {
        s->bad_frames++;
        ESPFAB_LOGD(TAG, "%s: corrupted reply to %s dropped", s->port_spec, espfab_op_name(s->cmd.op));
        if (!link_check(s))
            return;
        if (s->cmd.tries < s->cmd.max_tries) {
            disarm(s);
            resend_cmd(s);
        }
        return; /* else the timeout decides */
    }
    s->cmd.active = false;
    disarm(s);
    s->cmd.fn(s, m == ESPFAB_MATCH_UNSUPPORTED ? ESPFAB_E_PROTO_UNSUPPORTED : 0, &r);
}

/* A reply whose bytes cannot come from a healthy loader (noise on the line):
 * wrong size field or frame length, a status byte that is neither 0 nor 1, an
 * error code no loader sends, non-zero reserved bytes.  A data block whose
 * status byte still says OK is taken as acknowledged (resending it would
 * write it twice). */
static bool reply_suspect(const espfab_session_t *s, const espfab_resp_t *r)
{
    uint8_t op = s->cmd.op;
    /* the detection probe and "not supported" rejections vary by ROM */
    if (op == ESPFAB_OP_SYNC || op == ESPFAB_OP_GET_SECURITY_INFO || !s->loader_known ||
        espfab_resp_is_unsupported(r))
        return false;
    bool data_block = op == ESPFAB_OP_FLASH_DATA || op == ESPFAB_OP_FLASH_DEFL_DATA || op == ESPFAB_OP_MEM_DATA;
    size_t sl = espfab_cmd_status_len(s->loader);
    const uint8_t *st = r->data_len ? r->body + r->data_len : r->body;
    size_t st_avail = r->body_len - (size_t)(st - r->body);
    if (s->loader == ESPFAB_LOADER_STUB) {
        if (r->body_len != s->cmd.expect + 2 && r->body_len != 2)
            return !(data_block && r->ok);
        if (r->error && r->error != 0x01 && r->error != 0xFF && (r->error < 0xC0 || r->error > 0xCB))
            return true;
        if (st_avail >= 2 && st[1] != 0 && op != ESPFAB_OP_SPI_SET_PARAMS && !(data_block && r->ok))
            return true;
        return false;
    }
    if (r->body_len != s->cmd.expect + sl && !(r->body_len == sl && r->status == 1))
        return !(data_block && r->ok);
    if (op != ESPFAB_OP_GET_SECURITY_INFO && op != ESPFAB_OP_SPI_FLASH_MD5 && r->size != r->body_len)
        return !(data_block && r->ok);
    if (st_avail < 2 || st[0] > 1)
        return true;
    if (st[0] == 0 && st[1] != 0)
        return !data_block;
    if (st[0] == 1 && (st[1] == 0 || (st[1] > 0x0F && (st[1] < 0x64 || st[1] > 0x69))))
        return true;
    if (sl == 4 && st_avail >= 4 && (st[2] || st[3]))
        return !(data_block && r->ok);
    return false;
}

static const espfab_slip_cbs_t slip_cbs_template = {on_frame, on_outside, on_slip_error, NULL};

static void on_read(espfab_port_t *p, const uint8_t *buf, ssize_t n, const espfab_fault_t *f,
                    void *data)
{
    espfab_session_t *s = data;
    if (s->finishing)
        return;
    if (s->reset_issued && n < 0) {
        /* a USB port of the chip itself goes away (re-enumerates) */
        note(s, "%s went away as the chip reset (its own USB port)", s->port_spec);
        pass(s);
        return;
    }
    if (n < 0) {
        s->cmd.active = false;
        if (f && f->code)
            fail_with(s, f);
        else
            fail(s, (int)n, "the port failed");
        return;
    }
    s->rec.bytes_received += (uint64_t)n;
    s->rx_total += (uint64_t)n;
    espfab_slip_cbs_t cbs = slip_cbs_template;
    cbs.data = s;
    espfab_slip_dec_feed(&s->dec, buf, (size_t)n, &cbs);
}

/* ---- lifecycle ----------------------------------------------------------- */

espfab_session_t *espfab_session_new(uv_loop_t *loop, const espfab_session_opts_t *o,
                                     espfab_session_cb cb, void *data)
{
    if (!loop || !o || !o->port || !o->port[0] || o->nregions > ESPFAB_MAX_REGIONS ||
        (o->nregions && (!o->regions || !o->cache)))
        return NULL;
    for (size_t i = 0; i < o->nregions; i++)
        if (!o->regions[i].blob)
            return NULL;
    espfab_session_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->wire = malloc(WIRE_CAP);
    s->next_wire = malloc(WIRE_CAP);
    if (!s->wire || !s->next_wire) {
        free(s->wire);
        free(s->next_wire);
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->o = *o;
    snprintf(s->port_spec, sizeof(s->port_spec), "%s", o->port);
    s->o.port = s->port_spec;
    if (o->nregions)
        memcpy(s->oregions, o->regions, o->nregions * sizeof(o->regions[0]));
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
    espfab_attempt_init(&s->rec);
    espfab_fault_clear(&s->fault);
    snprintf(s->rec.port, sizeof(s->rec.port), "%s", s->port_spec);
    espfab_slip_dec_init(&s->dec, s->frame, sizeof(s->frame));
    return s;
}

static void first_step(espfab_session_t *s);

int espfab_session_start(espfab_session_t *s)
{
    if (!s)
        return ESPFAB_E_INVALID_ARG;
    if (s->started)
        return ESPFAB_E_INVALID_ARG;
    s->started = true;
    uv_timer_init(s->loop, &s->timer);
    s->timer.data = s;
    s->timer_ready = true;
    s->t0 = s->state_since = uv_now(s->loop);
    if (!s->rec.start_ms)
        s->rec.start_ms = wall_ms();
    arm(s, 0, first_step);
    return 0;
}

void espfab_session_cancel(espfab_session_t *s)
{
    if (s && !s->finishing)
        s->cancel = true;
}

const espfab_attempt_t *espfab_session_record(const espfab_session_t *s) { return s ? &s->rec : NULL; }
espfab_session_state_t espfab_session_state(const espfab_session_t *s)
{
    return s ? s->state : ESPFAB_SS_IDLE;
}
const espfab_chip_t *espfab_session_chip(const espfab_session_t *s) { return s ? s->chip : NULL; }
const espfab_chip_info_t *espfab_session_chip_info(const espfab_session_t *s)
{
    return s && s->have_info ? &s->info : NULL;
}

void espfab_session_free(espfab_session_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < ESPFAB_MAX_REGIONS; i++)
        if (s->reg[i].blob)
            espfab_blob_unref(s->o.cache, s->reg[i].blob);
    if (s->stub_loaded)
        espfab_stub_free(&s->own_stub);
    free(s->wire);
    free(s->next_wire);
    free(s);
}

static void maybe_done(espfab_session_t *s)
{
    if (s->pending > 0)
        return;
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_DONE,
                              .old_state = s->state,
                              .new_state = s->state,
                              .outcome = s->rec.outcome,
                              .fault = &s->rec.fault};
    emit(s, &ev); /* may free s */
}

static void on_timer_closed(uv_handle_t *h)
{
    espfab_session_t *s = h->data;
    s->pending--;
    maybe_done(s);
}

static void on_port_closed(espfab_port_t *p, void *data)
{
    espfab_session_t *s = data;
    s->pending--;
    maybe_done(s);
}

static void fmt_bytes(char *buf, size_t len, uint64_t n)
{
    if (n >= 1024 * 1024)
        snprintf(buf, len, "%.1f MiB", (double)n / (1024.0 * 1024.0));
    else
        snprintf(buf, len, "%.1f KiB", (double)n / 1024.0);
}

/* Records the outcome from s->fault (code 0 = pass), closes everything; DONE
 * follows from the last close callback. */
static void finish(espfab_session_t *s)
{
    if (s->finishing)
        return;
    s->cmd.active = false;
    s->waiting_ohai = false;
    s->collecting_sync = false;
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
        a->baud = s->cur_baud;
    disarm(s);
    set_state(s, ESPFAB_SS_DONE);
    s->finishing = true;
    if (s->port) {
        s->pending++;
        espfab_port_close(s->port, on_port_closed, s);
        s->port = NULL;
    }
    if (s->timer_ready) {
        s->pending++;
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
        s->timer_ready = false;
    }
    /* compressions still running hold s->pending too */
    if (s->pending == 0) {
        /* never started a timer: cannot happen after start(); be safe */
        maybe_done(s);
    }
}

static void pass(espfab_session_t *s)
{
    espfab_attempt_t *a = &s->rec;
    espfab_fault_clear(&s->fault);
    s->fault.retries = (int)s->retries; /* commands resent on the way to this pass */
    double secs = (double)(uv_now(s->loop) - s->t0) / 1000.0;
    if (s->o.info_only) {
        char size[32] = "unknown size";
        if (a->flash_size)
            fmt_bytes(size, sizeof(size), a->flash_size);
        snprintf(a->message, sizeof(a->message), "OK %s %s, flash %06" PRIx32 " (%s, %s)",
                 s->have_info ? s->info.description : a->chip, a->mac[0] ? a->mac : "(MAC not read)",
                 a->flash_jedec, espfab_flash_vendor((uint8_t)a->flash_jedec), size);
    } else {
        int verified = 0;
        for (int i = 0; i < a->nregions; i++)
            verified += a->regions[i].verified;
        char total[32];
        fmt_bytes(total, sizeof(total), s->bytes_total);
        const char *mac = a->mac[0] ? a->mac : "(MAC not read)";
        if (a->nregions == 0)
            snprintf(a->message, sizeof(a->message), "PASS %s %s nothing to write, %.1f s", a->chip, mac,
                     secs);
        else if (verified == a->nregions)
            snprintf(a->message, sizeof(a->message), "PASS %s %s %d region%s verified, %s in %.1f s",
                     a->chip, mac, a->nregions, a->nregions == 1 ? "" : "s", total, secs);
        else
            snprintf(a->message, sizeof(a->message),
                     "PASS %s %s %d region%s written, NOT verified (%s), %s in %.1f s", a->chip, mac,
                     a->nregions, a->nregions == 1 ? "" : "s",
                     s->unverified_why ? s->unverified_why : "verification skipped", total, secs);
    }
    ESPFAB_LOGI(TAG, "%s: %s", s->port_spec, a->message);
    finish(s);
}

/* ---- OPEN, RESET, SYNC --------------------------------------------------- */

static void first_step(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_OPEN);
    if (s->o.before == ESPFAB_RESET_CUSTOM) {
        espfab_fault_t f;
        espfab_fault_clear(&f);
        s->ncustom = espfab_reset_parse(s->o.custom_reset, s->custom, ESPFAB_RESET_MAX_STEPS, &f);
        if (s->ncustom < 0) {
            fail_with(s, &f);
            return;
        }
    }
    espfab_fault_t f;
    espfab_fault_clear(&f);
    int rc = espfab_port_open(s->loop, s->port_spec, s->o.initial_baud, &s->port, &f);
    if (rc < 0) {
        s->port = NULL;
        fail_with(s, &f);
        return;
    }
    s->cur_baud = s->o.initial_baud;
    rc = espfab_port_read_start(s->port, on_read, s);
    if (rc < 0) {
        fail_port(s, rc);
        return;
    }
    s->attempt = 0;
    start_attempt(s);
}

static void do_reset_step(espfab_session_t *s)
{
    while (s->step < s->nsteps) {
        const espfab_reset_step_t *st = &s->steps[s->step++];
        int rc = 0;
        if (st->dtr >= 0 || st->rts >= 0) {
            if (st->both || st->dtr < 0 || st->rts < 0) {
                rc = espfab_port_set_lines(s->port, st->dtr, st->rts);
            } else {
                rc = espfab_port_set_lines(s->port, st->dtr, -1);
                if (rc == 0)
                    rc = espfab_port_set_lines(s->port, -1, st->rts);
            }
        }
        if (rc == ESPFAB_E_PORT_VANISHED) {
            fail(s, rc, "the port vanished while resetting the board");
            return;
        }
        if (rc < 0) {
            note(s, "could not set DTR/RTS (%s): the board was NOT reset", espfab_strerror(rc));
            s->nsteps = 0;
            break;
        }
        if (st->wait_ms) {
            arm(s, st->wait_ms, do_reset_step);
            return;
        }
    }
    set_state(s, ESPFAB_SS_SYNC);
    s->sync_try = 0;
    send_sync(s);
}

/* The port's USB id: --usb-id / opts first (a serial server cannot tell). */
static void port_usb_id(const espfab_session_t *s, int *vid, int *pid)
{
    if (s->o.usb_vid > 0) {
        *vid = s->o.usb_vid;
        *pid = s->o.usb_pid;
        return;
    }
    espfab_port_usb_id(s->port, vid, pid);
}

static void start_attempt(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_RESET);
    s->nsteps = 0;
    s->step = 0;
    int vid = -1, pid = -1;
    port_usb_id(s, &vid, &pid);
    espfab_reset_t before = espfab_reset_resolve(s->o.before, vid, pid);
    if (before != s->o.before && !s->usb_jtag_noted) {
        note(s, "%s is the chip's own USB-JTAG-Serial (303a:1001): USB-JTAG reset", s->port_spec);
        s->usb_jtag_noted = true;
    }
    if (before == ESPFAB_RESET_CUSTOM) {
        memcpy(s->steps, s->custom, (size_t)s->ncustom * sizeof(s->custom[0]));
        s->nsteps = (size_t)s->ncustom;
    } else {
        s->nsteps = espfab_reset_for_attempt(before, s->attempt, s->steps, ESPFAB_RESET_MAX_STEPS);
    }
    if (s->nsteps && !espfab_port_has_modem_lines(s->port)) {
        if (!s->no_lines_noted)
            note(s, "%s has no DTR/RTS lines (pty or TCP): not resetting; the board must already be "
                    "in download mode", s->port_spec);
        s->no_lines_noted = true;
        s->nsteps = 0;
    } else if (s->nsteps) {
        ESPFAB_LOGD(TAG, "%s: attempt %d: reset %s", s->port_spec, s->attempt + 1,
                    before == ESPFAB_RESET_CUSTOM ? "custom" : espfab_reset_attempt_name(before, s->attempt));
    }
    do_reset_step(s);
}

static void diagnose_no_sync(espfab_session_t *s)
{
    int n = s->attempt;
    s->fault.retries = n;
    /* A port without DTR/RTS (pty, TCP) cannot reset the board: say so,
     * since the usual cure (the auto-reset circuit) does not apply. */
    char reset[64];
    if (s->no_lines_noted)
        snprintf(reset, sizeof(reset), "not reset: the port has no DTR/RTS");
    else
        snprintf(reset, sizeof(reset), "reset: %s", espfab_reset_name(s->o.before));
    if (s->rx_total == 0)
        fail(s, ESPFAB_E_NO_SERIAL_DATA, "not one byte came back to %d SYNC requests (%s)", s->syncs_sent,
             reset);
    else if (s->saw_download)
        fail(s, ESPFAB_E_NO_SYNC_REPLY,
             "the board printed its download-mode banner (\"waiting for download\") but never answered "
             "SYNC (%" PRIu64 " bytes received)",
             s->rx_total);
    else if (s->saw_normal)
        fail(s, ESPFAB_E_WRONG_BOOT_MODE, "the board printed \"%s\" (%s)", s->boot_line, reset);
    else
        fail(s, ESPFAB_E_SYNC_FAILED, "%" PRIu64 " bytes that are neither a boot message nor a reply (%s)",
             s->rx_total, reset);
}

static void on_sync_reply(espfab_session_t *s, int rc, const espfab_resp_t *r);

static void send_sync(espfab_session_t *s)
{
    size_t n = espfab_cmd_sync(s->pkt, sizeof(s->pkt));
    s->syncs_sent++;
    send_cmd(s, n, 0, SYNC_TIMEOUT_MS, 1, on_sync_reply);
}

static void on_sync_reply(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == 0 && r && r->ok) {
        s->loader_known = true;
        s->synced = true;
        s->sync_replies = 1;
        s->collecting_sync = true;
        arm(s, SYNC_COLLECT_MS, proceed_after_sync);
        return;
    }
    if (++s->sync_try < SYNC_TRIES) {
        arm(s, SYNC_GAP_MS, send_sync);
        return;
    }
    if (++s->attempt < s->o.connect_attempts) {
        start_attempt(s);
        return;
    }
    diagnose_no_sync(s);
}

static void proceed_after_sync(espfab_session_t *s)
{
    s->collecting_sync = false;
    ESPFAB_LOGD(TAG, "%s: synced (%d replies, %s, attempt %d)", s->port_spec, s->sync_replies,
                espfab_loader_name(s->loader), s->attempt + 1);
    snprintf(s->rec.loader, sizeof(s->rec.loader), "%s", espfab_loader_name(s->loader));
    if (s->loader == ESPFAB_LOADER_STUB)
        note(s, "a flasher stub is already running on the board");
    start_detect(s);
}

/* ---- DETECT --------------------------------------------------------------- */

static void chip_detected(espfab_session_t *s);

static void drain_tick(espfab_session_t *s)
{
    if (s->rx_total != s->drain_rx) {
        s->drain_rx = s->rx_total;
        s->drain_quiet = 0;
    } else {
        s->drain_quiet++;
    }
    if (s->drain_quiet * DRAIN_TICK_MS >= DRAIN_QUIET_MS || --s->drain_left == 0) {
        s->draining = false;
        espfab_port_flush_input(s->port);
        espfab_slip_dec_reset(&s->dec);
        s->drain_fn(s);
        return;
    }
    arm(s, DRAIN_TICK_MS, drain_tick);
}

/* Lets replies nobody waits for go by (a ROM repeats its refusal of an
 * unsupported command, a stub answers SYNC eight times; how many and how
 * spaced is not specified): frames are ignored until the line has been
 * quiet for DRAIN_QUIET_MS, at most UNSUPPORTED_DRAIN_MS; then the input is
 * flushed and fn runs. */
static void drain_then(espfab_session_t *s, step_fn fn)
{
    s->draining = true;
    s->drain_fn = fn;
    s->drain_rx = s->rx_total;
    s->drain_quiet = 0;
    s->drain_left = UNSUPPORTED_DRAIN_MS / DRAIN_TICK_MS;
    arm(s, DRAIN_TICK_MS, drain_tick);
}

static void on_secinfo(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == 0 && r->ok && r->data_len >= 12 && espfab_secinfo_parse(r->data, r->data_len, &s->sec) == 0) {
        s->rec.has_secinfo = true;
        s->rec.secinfo_flags = s->sec.flags;
        s->sdm = (s->sec.flags & 0x4) != 0;
        if (s->sec.has_chip_id) {
            s->chip = espfab_chip_by_image_id((int)s->sec.chip_id);
            snprintf(s->rec.chip_id, sizeof(s->rec.chip_id), "%" PRIu32, s->sec.chip_id);
            if (!s->chip) {
                fail(s, ESPFAB_E_CHIP_UNKNOWN, "security info reports chip id %" PRIu32
                     " (espfab knows %s)", s->sec.chip_id, espfab_chip_keys());
                return;
            }
            chip_detected(s);
            return;
        }
        read_magic(s); /* ESP32-S2: no chip id in the reply */
        return;
    }
    /* unsupported (ESP32 ROM), refused, or no answer: esptool falls back to
     * the magic register.  The ROM repeats its rejection; let it drain. */
    ESPFAB_LOGD(TAG, "%s: GET_SECURITY_INFO %s; reading the magic register", s->port_spec,
                rc == ESPFAB_E_TIMEOUT ? "timed out" : "not supported");
    drain_then(s, read_magic);
}

/* GET_SECURITY_INFO first, the magic register only when it fails (protocol
 * 4.1): the P4 from ECO5 on crashes when 0x40001000 is read. */
static void start_detect(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_DETECT);
    if (s->loader == ESPFAB_LOADER_ROM_ESP8266) {
        /* 2-byte status from a ROM: only the ESP8266; it has no security info */
        read_magic(s);
        return;
    }
    size_t n = espfab_cmd_security_info(s->pkt, sizeof(s->pkt));
    send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_GET_SECURITY_INFO, s->loader),
             scaled(s, DEFAULT_TIMEOUT_MS), 2, on_secinfo);
}

static void on_magic(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == ESPFAB_E_PROTO_UNSUPPORTED || (rc == 0 && !r->ok && espfab_resp_is_unsupported(r))) {
        s->chip = espfab_chip_get(ESPFAB_CHIP_ESP32S2);
        s->sdm = true;
        chip_detected(s);
        return;
    }
    if (rc < 0) {
        fail(s, rc, "no reply to READ_REG(0x%08X) (chip detection)", ESPFAB_CHIP_MAGIC_ADDR);
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, ESPFAB_OP_READ_REG, "chip detection");
        return;
    }
    s->chip = espfab_chip_by_magic(r->value);
    if (!s->chip) {
        fail(s, ESPFAB_E_CHIP_UNKNOWN, "magic register 0x%08X reads 0x%08" PRIX32 " (espfab knows %s)",
             ESPFAB_CHIP_MAGIC_ADDR, r->value, espfab_chip_keys());
        return;
    }
    chip_detected(s);
}

static void read_magic(espfab_session_t *s)
{
    size_t n = espfab_cmd_read_reg(ESPFAB_CHIP_MAGIC_ADDR, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_magic);
}

static void find_usb_mode(espfab_session_t *s)
{
    int vid = -1, pid = -1;
    port_usb_id(s, &vid, &pid);
    espfab_usb_mode_t m = espfab_chip_usb_mode(s->chip, vid, pid);
    if (m == ESPFAB_USB_NONE && s->o.before == ESPFAB_RESET_USB_JTAG && s->chip->usb_jtag)
        m = ESPFAB_USB_JTAG; /* said by the user: a serial server or a pty cannot tell */
    if (m != s->usb && m != ESPFAB_USB_NONE)
        note(s, "the port is the %s's own %s%s", s->chip->name, espfab_usb_mode_name(m),
             m == ESPFAB_USB_OTG ? ": 2 KiB blocks, watchdog reset" : ": its watchdogs will be disabled");
    s->usb = m;
}

static uint32_t ram_block(const espfab_session_t *s)
{
    return s->usb == ESPFAB_USB_OTG ? ESPFAB_USB_OTG_BLOCK : ESPFAB_RAM_BLOCK;
}

static uint32_t stub_block(const espfab_session_t *s)
{
    return s->usb == ESPFAB_USB_OTG ? ESPFAB_USB_OTG_BLOCK : ESPFAB_STUB_FLASH_BLOCK;
}

/* ---- register scripts ------------------------------------------------------ */

static void script_next(espfab_session_t *s);

static bool script_rmw(const espfab_regop_t *op)
{
    return op->kind == ESPFAB_REGOP_SET_BITS || op->kind == ESPFAB_REGOP_CLEAR_BITS ||
           op->kind == ESPFAB_REGOP_CLEAR_IF_SET;
}

static bool script_reading(const espfab_session_t *s)
{
    const espfab_regop_t *op = &s->script[s->sidx];
    return op->kind == ESPFAB_REGOP_READ || (script_rmw(op) && !s->set_have_read);
}

static void script_step_done(espfab_session_t *s)
{
    s->set_have_read = false;
    s->sidx++;
    script_next(s);
}

static void on_script(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    const espfab_regop_t *op = &s->script[s->sidx];
    bool reading = script_reading(s);
    if (rc < 0 || !r->ok) {
        if (s->script_soft) {
            note(s, "%s: %s(0x%08" PRIX32 ") %s; going on", s->script_what, reading ? "READ_REG" : "WRITE_REG",
                 op->addr, rc < 0 ? espfab_strerror(rc) : "was refused");
            s->script_failed = true;
            s->script_refused = rc == 0;
            s->script_done(s);
            return;
        }
        if (rc == 0)
            fail_resp(s, r, reading ? ESPFAB_OP_READ_REG : ESPFAB_OP_WRITE_REG, "%s (0x%08" PRIX32 ")",
                      s->script_what, op->addr);
        else
            fail(s, rc, "no reply to %s(0x%08" PRIX32 ") while %s", reading ? "READ_REG" : "WRITE_REG",
                 op->addr, s->script_what);
        return;
    }
    if (reading && script_rmw(op)) {
        s->set_read = r->value;
        s->set_have_read = true;
        if (op->kind == ESPFAB_REGOP_CLEAR_IF_SET && (r->value & op->value) != op->value)
            script_step_done(s); /* not all set: leave it */
        else
            script_next(s);
        return;
    }
    if (reading && s->nvals < sizeof(s->script_val) / sizeof(s->script_val[0]))
        s->script_val[s->nvals++] = r->value;
    script_step_done(s);
}

static void script_next(espfab_session_t *s)
{
    if (s->sidx >= s->nscript) {
        s->script_done(s);
        return;
    }
    const espfab_regop_t *op = &s->script[s->sidx];
    size_t n;
    if (op->kind == ESPFAB_REGOP_DELAY) {
        s->sidx++;
        arm(s, (op->value + 999) / 1000, script_next);
        return;
    }
    if (s->script_resets && s->sidx + 1 == s->nscript)
        s->reset_issued = true; /* from now on the chip may vanish or talk */
    if (script_reading(s)) {
        n = espfab_cmd_read_reg(op->addr, s->pkt, sizeof(s->pkt));
    } else {
        uint32_t v = op->kind == ESPFAB_REGOP_SET_BITS ? s->set_read | op->value
                   : script_rmw(op)                    ? s->set_read & ~op->value
                                                       : op->value;
        n = espfab_cmd_write_reg(op->addr, v, op->mask ? op->mask : 0xFFFFFFFFu, 0, s->pkt, sizeof(s->pkt));
    }
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), s->script_soft ? 1 : REG_TRIES, on_script);
}

/* Runs s->script[0..nscript) (READ, WRITE with mask, SET_BITS, CLEAR_BITS,
 * CLEAR_IF_SET, DELAY), then done.
 * soft: a refused or unanswered step ends the script (script_failed) and
 * done runs anyway; otherwise it fails the session. */
static void script_start(espfab_session_t *s, const char *what, bool soft, bool resets, step_fn done)
{
    s->sidx = 0;
    s->nvals = 0;
    s->set_have_read = false;
    s->script_soft = soft;
    s->script_failed = false;
    s->script_refused = false;
    s->script_resets = resets;
    s->script_what = what;
    s->script_done = done;
    script_next(s);
}

static void run_script(espfab_session_t *s, const char *what, bool soft, step_fn done)
{
    script_start(s, what, soft, false, done);
}

/* run_script (soft) whose last step resets the chip */
static void run_script_resets(espfab_session_t *s, const char *what, step_fn done)
{
    script_start(s, what, true, true, done);
}

static void chip_detected(espfab_session_t *s)
{
    snprintf(s->rec.chip, sizeof(s->rec.chip), "%s", s->chip->name);
    find_usb_mode(s);
    if (s->sdm)
        note(s, "%s is in secure download mode: no register reads, no stub, no MD5", s->chip->name);
    if (s->o.chip != ESPFAB_CHIP_UNKNOWN && s->o.chip != s->chip->id) {
        const espfab_chip_t *want = espfab_chip_get(s->o.chip);
        if (!s->o.force) {
            fail(s, ESPFAB_E_CHIP_MISMATCH, "this board is %s, the profile is for %s", s->chip->name,
                 want ? want->name : "another chip");
            return;
        }
        note(s, "this board is %s, the profile is for %s: going on (force)", s->chip->name,
             want ? want->name : "another chip");
    }
    start_read_info(s);
}

/* ---- READ_INFO -------------------------------------------------------------- */

static void read_next_info_reg(espfab_session_t *s);

static void flash_powered(espfab_session_t *s)
{
    note(s, "%s v%d.%d: flash powered (its supply is off in download mode)", s->chip->name,
         s->rec.rev_full / 100, s->rec.rev_full % 100);
    start_flash_id(s);
}

/* esptool's _post_connect, second half: an ESP32-P4 v3.1/v3.2 needs its
 * flash powered before it can be attached. */
static void power_flash(espfab_session_t *s)
{
    s->nscript = s->sdm ? 0 : espfab_chip_flash_power_plan(s->chip, s->rec.rev_full, s->regs, s->nregs, s->script,
                                                          sizeof(s->script) / sizeof(s->script[0]));
    if (s->nscript) {
        run_script(s, "powering the flash", false, flash_powered);
        return;
    }
    start_flash_id(s);
}

static void watchdogs_disabled(espfab_session_t *s)
{
    s->wdt_disabled = true;
    note(s, "%s: RTC watchdog off, super watchdog feeding itself", espfab_usb_mode_name(s->usb));
    power_flash(s);
}

/* esptool's _post_connect: over USB-Serial/JTAG the ROM feeds no watchdog
 * and they would reset the chip in the middle of the write.  Not in SDM
 * (no register writes) nor when a stub was already running (it was done). */
static void post_connect(espfab_session_t *s)
{
    if (s->usb == ESPFAB_USB_JTAG && !s->sdm && s->loader != ESPFAB_LOADER_STUB) {
        s->nscript = espfab_chip_wdt_disable_plan(s->chip, s->script, sizeof(s->script) / sizeof(s->script[0]));
        if (s->nscript) {
            run_script(s, "disabling the watchdogs (USB-Serial/JTAG)", false, watchdogs_disabled);
            return;
        }
    }
    power_flash(s);
}

static void on_info_reg(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0 || !r->ok) {
        if (rc == 0)
            fail_resp(s, r, ESPFAB_OP_READ_REG, "READ_REG(0x%08" PRIX32 ")", s->reg_addrs[s->idx]);
        else
            fail(s, rc, "no reply to READ_REG(0x%08" PRIX32 ") (chip info)", s->reg_addrs[s->idx]);
        return;
    }
    /* These values go into the record (MAC, revision): each is read until
     * two reads agree, so that noise on the line cannot forge a MAC. */
    if (s->info_reads == 0 || r->value != s->info_prev) {
        s->info_prev = r->value;
        if (++s->info_reads > 4) {
            fail(s, ESPFAB_E_LINK_UNRELIABLE, "READ_REG(0x%08" PRIX32 ") gave different values in 4 reads; "
                 "%u corrupted frames at %u baud", s->reg_addrs[s->idx], s->bad_frames, s->cur_baud);
            return;
        }
        if (s->info_reads > 1)
            s->bad_frames++;
        read_next_info_reg(s);
        return;
    }
    s->info_reads = 0;
    s->regs[s->idx].addr = s->reg_addrs[s->idx];
    s->regs[s->idx].value = r->value;
    s->idx++;
    read_next_info_reg(s);
}

static void read_next_info_reg(espfab_session_t *s)
{
    if (s->idx < s->nregs) {
        size_t n = espfab_cmd_read_reg(s->reg_addrs[s->idx], s->pkt, sizeof(s->pkt));
        send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_info_reg);
        return;
    }
    espfab_attempt_t *a = &s->rec;
    int rc = espfab_chip_decode_info(s->chip, s->regs, s->nregs, s->cur_baud, &s->info);
    if (rc == 0) {
        s->have_info = true;
        const uint8_t *m = s->info.mac;
        snprintf(a->mac, sizeof(a->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                 m[5]);
        a->rev_full = s->info.rev_full;
        a->xtal_mhz = s->info.xtal_mhz;
        if (s->chip->id == ESPFAB_CHIP_ESP8266)
            snprintf(a->chip_id, sizeof(a->chip_id), "0x%06" PRIx32, s->info.esp8266_chip_id);
        note(s, "chip is %s, MAC %s, crystal %d MHz", s->info.description, a->mac, a->xtal_mhz);
    } else {
        snprintf(s->info.description, sizeof(s->info.description), "%s", s->chip->name);
        note(s, "chip is %s; its MAC could not be decoded (%s)", s->chip->name, espfab_strerror(rc));
    }
    post_connect(s);
}

static void start_read_info(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_READ_INFO);
    if (s->sdm) {
        snprintf(s->info.description, sizeof(s->info.description), "%s", s->chip->name);
        start_flash_id(s);
        return;
    }
    s->nregs = espfab_chip_info_regs(s->chip, s->reg_addrs, 16);
    s->idx = 0;
    s->info_reads = 0;
    read_next_info_reg(s);
}

/* ---- FLASH_ID ------------------------------------------------------------ */

static void flash_id_done(espfab_session_t *s, uint32_t id)
{
    espfab_attempt_t *a = &s->rec;
    id &= 0xFFFFFF;
    a->flash_jedec = id;
    if (id == 0 || id == 0xFFFFFF || id == 0xFFFF3F) {
        if (!s->o.force) {
            fail(s, ESPFAB_E_FLASH_ID_FAILED, "RDID (0x9F) returned 0x%06" PRIX32 ": no SPI flash answers", id);
            return;
        }
        note(s, "RDID returned 0x%06" PRIX32 ": no flash answers; going on (force)", id);
    }
    a->flash_size = espfab_flash_size_from_jedec(id);
    char size[32] = "unknown size";
    if (a->flash_size)
        fmt_bytes(size, sizeof(size), a->flash_size);
    note(s, "flash %s id 0x%06" PRIx32 ", %s", espfab_flash_vendor((uint8_t)id), id, size);
    if (s->o.info_only) {
        start_run(s);
        return;
    }
    start_check(s);
}

static void flash_id_done(espfab_session_t *s, uint32_t id);
static void spi_finished(espfab_session_t *s, uint32_t id);

/* A soft SPI command (the XMC check, the flash reset: esptool ignores their
 * failures too) failed: go on with the first RDID. */
static void spi_soft_fail(espfab_session_t *s, const char *what)
{
    note(s, "SPI flash command 0x%02X %s; going on with RDID 0x%06" PRIX32, s->spi_opcode, what, s->rdid);
    spi_finished(s, s->rdid);
}

static void on_regop(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    const espfab_regop_t *op = &s->ops[s->idx];
    if ((rc < 0 || !r->ok) && s->spi_soft) {
        spi_soft_fail(s, rc < 0 ? espfab_strerror(rc) : "was refused");
        return;
    }
    if (rc < 0) {
        fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_TIMEOUT : ESPFAB_E_FLASH_ID_FAILED,
             "no reply to %s(0x%08" PRIX32 ") while running SPI flash command 0x%02X",
             op->kind == ESPFAB_REGOP_WRITE ? "WRITE_REG" : "READ_REG", op->addr, s->spi_opcode);
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, op->kind == ESPFAB_REGOP_WRITE ? ESPFAB_OP_WRITE_REG : ESPFAB_OP_READ_REG,
                  "running SPI flash command 0x%02X (0x%08" PRIX32 ")", s->spi_opcode, op->addr);
        return;
    }
    if (op->kind == ESPFAB_REGOP_POLL_CLEAR && (r->value & op->mask) != 0) {
        if (++s->polls >= 10 && s->spi_soft) {
            spi_soft_fail(s, "did not complete");
            return;
        }
        if (s->polls >= 10) {
            fail(s, ESPFAB_E_FLASH_ID_FAILED, "SPI flash command 0x%02X did not complete (0x%08" PRIX32
                 " = 0x%08" PRIX32 ")", s->spi_opcode, op->addr, r->value);
            return;
        }
        next_regop(s);
        return;
    }
    if (op->kind == ESPFAB_REGOP_READ) {
        s->spi_done(s, r->value);
        return;
    }
    s->idx++;
    s->polls = 0;
    next_regop(s);
}

static void next_regop(espfab_session_t *s)
{
    if (s->idx >= s->nops) {
        fail(s, ESPFAB_E_FLASH_ID_FAILED, "SPI plan has no read step");
        return;
    }
    const espfab_regop_t *op = &s->ops[s->idx];
    size_t n = op->kind == ESPFAB_REGOP_WRITE
                   ? espfab_cmd_write_reg(op->addr, op->value, 0xFFFFFFFFu, 0, s->pkt, sizeof(s->pkt))
                   : espfab_cmd_read_reg(op->addr, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_regop);
}

/* Runs one SPI flash command through the chip's SPI registers, then
 * done(W0). */
static void start_spi(espfab_session_t *s, uint8_t opcode, bool has_addr, uint32_t addr, int miso_bits,
                      spi_fn done)
{
    s->nops = espfab_chip_spi_plan(s->chip, opcode, has_addr, addr, miso_bits, s->ops, 12);
    s->idx = 0;
    s->polls = 0;
    s->spi_opcode = opcode;
    s->spi_done = done;
    next_regop(s);
}

/* ---- the flash reset (esptool: after the id checks, not in SDM) ----
 * An application may leave the flash in a mode the ROM does not expect
 * (QPI/OPI, 4-byte addresses, 120 MHz): Reset Enable (66h) + Reset (99h)
 * put it back.  Soft: a failure goes on. */

static void flash_reset_done(espfab_session_t *s)
{
    spi_finished(s, s->rdid);
}

static void on_flash_reset_99(espfab_session_t *s, uint32_t v)
{
    (void)v;
    arm(s, 1, flash_reset_done); /* tRST */
}

static void on_flash_reset_66(espfab_session_t *s, uint32_t v)
{
    (void)v;
    start_spi(s, 0x99, false, 0, 0, on_flash_reset_99);
}

static void flash_reset(espfab_session_t *s, uint32_t id)
{
    s->rdid = id & 0xFFFFFF;
    s->spi_soft = true;
    start_spi(s, 0x66, false, 0, 0, on_flash_reset_66);
}

/* ---- the XMC start-up check (esptool's flash_xmc_startup) ---- */

static void xmc_next(espfab_session_t *s);

static void on_rdid_after_xmc(espfab_session_t *s, uint32_t v)
{
    v &= 0xFFFFFF;
    if (espfab_flash_is_xmc_strict(v))
        note(s, "XMC flash started (RDID 0x%06" PRIX32 " after the start-up sequence)", v);
    else
        note(s, "XMC flash start-up sequence did not help (RDID 0x%06" PRIX32 ")", v);
    flash_reset(s, v);
}

static void xmc_cmd_done(espfab_session_t *s, uint32_t v)
{
    (void)v;
    s->xmc_step++;
    if (s->xmc_step == 3)
        arm(s, 2, xmc_next); /* tXUDPD after leaving ultra-deep power-down */
    else
        xmc_next(s);
}

static void xmc_next(espfab_session_t *s)
{
    /* deep power-down, ultra-deep power-down, exit it, release power-down */
    static const uint8_t seq[] = {0xB9, 0x79, 0xFF, 0xAB};
    if (s->xmc_step < (int)sizeof(seq))
        start_spi(s, seq[s->xmc_step], false, 0, 0, xmc_cmd_done);
    else
        start_spi(s, 0x9F, false, 0, 24, on_rdid_after_xmc);
}

static void on_sfdp_vendor(espfab_session_t *s, uint32_t v)
{
    if ((v & 0xFF) != ESPFAB_FLASH_VENDOR_XMC) {
        flash_reset(s, s->rdid);
        return;
    }
    note(s, "XMC flash did not start (RDID 0x%06" PRIX32 ", SFDP says XMC): running its start-up "
            "sequence B9 79 FF AB", s->rdid);
    s->xmc_step = 0;
    xmc_next(s);
}

static void on_rdid(espfab_session_t *s, uint32_t v)
{
    s->rdid = v & 0xFFFFFF;
    if (espfab_flash_is_xmc_strict(s->rdid)) {
        flash_reset(s, s->rdid);
        return;
    }
    /* the SFDP vendor byte (0x10) says XMC although RDID does not: an XMC
     * chip that did not come out of power-up right */
    s->spi_soft = true;
    start_spi(s, 0x5A, true, 0x10, 8, on_sfdp_vendor);
}

static void spi_restored(espfab_session_t *s)
{
    flash_id_done(s, s->rdid);
}

/* The SPI commands changed SPI_USR and SPI_USR2, which the ROM's own flash
 * functions rely on: put back what they held (esptool does, per command). */
static void spi_finished(espfab_session_t *s, uint32_t id)
{
    s->spi_soft = false;
    s->rdid = id & 0xFFFFFF;
    uint32_t base = s->chip->spi_base;
    s->script[0] = (espfab_regop_t){ESPFAB_REGOP_WRITE, base + s->chip->spi_usr, s->spi_saved[0], 0};
    s->script[1] = (espfab_regop_t){ESPFAB_REGOP_WRITE, base + s->chip->spi_usr2, s->spi_saved[1], 0};
    s->nscript = 2;
    run_script(s, "restoring SPI_USR/SPI_USR2", false, spi_restored);
}

static void spi_regs_saved(espfab_session_t *s)
{
    s->spi_saved[0] = s->script_val[0];
    s->spi_saved[1] = s->script_val[1];
    start_spi(s, 0x9F, false, 0, 24, on_rdid);
}

static void start_rdid(espfab_session_t *s)
{
    uint32_t base = s->chip->spi_base;
    s->spi_soft = false;
    s->script[0] = (espfab_regop_t){ESPFAB_REGOP_READ, base + s->chip->spi_usr, 0, 0};
    s->script[1] = (espfab_regop_t){ESPFAB_REGOP_READ, base + s->chip->spi_usr2, 0, 0};
    s->nscript = 2;
    run_script(s, "saving SPI_USR/SPI_USR2", false, spi_regs_saved);
}

/* Secure download mode: the flash is attached (SPI_ATTACH is allowed) but
 * its id cannot be read (no register access). */
static void sdm_flash_attached(espfab_session_t *s)
{
    note(s, "secure download mode: the flash id cannot be read");
    if (s->o.info_only)
        start_run(s);
    else
        start_check(s);
}

static void on_attach(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        fail(s, rc, "no reply to %s (attaching the flash)", espfab_op_name(s->cmd.op));
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, s->cmd.op, "attaching the flash");
        return;
    }
    if (s->sdm)
        sdm_flash_attached(s);
    else
        start_rdid(s);
}

static void start_flash_id(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_FLASH_ID);
    if (s->sdm && s->loader != ESPFAB_LOADER_ROM_ESP32) {
        sdm_flash_attached(s);
        return;
    }
    size_t n;
    if (s->loader == ESPFAB_LOADER_ROM_ESP32) {
        n = espfab_cmd_spi_attach(0, s->loader, s->pkt, sizeof(s->pkt));
    } else if (s->loader == ESPFAB_LOADER_ROM_ESP8266) {
        /* no SPI_ATTACH in this ROM: FLASH_BEGIN(0, 0) attaches the flash */
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, 0, 0, ESPFAB_ROM_FLASH_BLOCK, 0, false, 0, s->pkt,
                                   sizeof(s->pkt));
    } else {
        start_rdid(s); /* the stub attached the flash when it started */
        return;
    }
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_attach);
}

/* ---- CHECK ----------------------------------------------------------------- */

static void fmt_rev(char *buf, size_t len, int rev)
{
    if (rev < 0)
        snprintf(buf, len, "any");
    else
        snprintf(buf, len, "v%d.%d", rev / 100, rev % 100);
}

static void start_check(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_CHECK);
    if (s->o.force) {
        note(s, "force: chip, revision, image and flash-size checks skipped");
        start_stub(s);
        return;
    }
    int rev = s->rec.rev_full;
    if (rev >= 0 && ((s->o.min_rev_full >= 0 && rev < s->o.min_rev_full) ||
                     (s->o.max_rev_full >= 0 && rev > s->o.max_rev_full))) {
        char r[16], lo[16], hi[16];
        fmt_rev(r, sizeof(r), rev);
        fmt_rev(lo, sizeof(lo), s->o.min_rev_full);
        fmt_rev(hi, sizeof(hi), s->o.max_rev_full);
        fail(s, ESPFAB_E_REVISION_OUT_OF_RANGE, "chip revision %s is outside the allowed range [%s - %s]",
             r, lo, hi);
        return;
    }
    espfab_fault_t f;
    espfab_region_t rl[ESPFAB_MAX_REGIONS];
    for (size_t i = 0; i < s->o.nregions; i++) {
        const espfab_session_region_t *sr = &s->o.regions[i];
        const char *name = sr->name ? sr->name : "(unnamed)";
        espfab_image_info_t info;
        espfab_fault_clear(&f);
        int rc = espfab_image_parse(sr->blob->data, sr->blob->len, name, &info, &f);
        if (rc == 0)
            rc = espfab_image_check_chip_on(&info, name, s->port_spec, s->chip, rev, &f);
        if (rc < 0) {
            fail_with(s, &f);
            return;
        }
        rl[i] = (espfab_region_t){sr->offset, name, sr->blob->len};
    }
    espfab_fault_clear(&f);
    if (espfab_regions_check(rl, s->o.nregions, s->rec.flash_size, &f) < 0) {
        fail_with(s, &f);
        return;
    }
    espfab_fault_clear(&f);
    if (espfab_flash_params_check(s->chip, &s->o.flash, &f) < 0) {
        fail_with(s, &f);
        return;
    }
    start_stub(s);
}

/* ---- STUB ------------------------------------------------------------------ */

static void stub_next(espfab_session_t *s);

static void stub_started(espfab_session_t *s);

static void stub_probe_drained(espfab_session_t *s)
{
    note(s, "the stub's OHAI was lost on the line; the stub answered SYNC");
    stub_started(s);
}

/* A stub answers SYNC with value 0 (the ROM never does): then it runs and
 * only its greeting was lost or garbled.  Its further SYNC replies drain. */
static void on_stub_probe(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == 0 && r->ok && r->value == 0) {
        drain_then(s, stub_probe_drained);
        return;
    }
    fail(s, ESPFAB_E_STUB_NO_OHAI, "no OHAI from the stub (entry 0x%08" PRIX32 ", %s), and %s", s->stub->entry,
         s->stub->path,
         rc < 0 ? "no answer to SYNC after it" : "the ROM, not the stub, answered SYNC after it");
}

static void on_ohai_timeout(espfab_session_t *s)
{
    s->waiting_ohai = false;
    size_t n = espfab_cmd_sync(s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, SYNC_TIMEOUT_MS), 3, on_stub_probe);
}

static void stub_started(espfab_session_t *s)
{
    s->loader = ESPFAB_LOADER_STUB;
    snprintf(s->rec.loader, sizeof(s->rec.loader), "%s", espfab_loader_name(s->loader));
    ESPFAB_LOGD(TAG, "%s: stub running", s->port_spec);
    start_baud(s);
}

static void on_mem_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    /* Against the ROM the MEM_END reply may be lost: the stub may reset the
     * UART first.  esptool ignores it; what matters is OHAI. */
    if (rc == 0 && !r->ok && s->loader == ESPFAB_LOADER_STUB) {
        fail_resp(s, r, ESPFAB_OP_MEM_END, "starting the stub");
        return;
    }
    if (s->ohai) {
        stub_started(s);
        return;
    }
    s->waiting_ohai = true;
    arm(s, scaled(s, DEFAULT_TIMEOUT_MS), on_ohai_timeout);
}

static void on_mem_cmd(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_TIMEOUT : rc, "no reply to %s (stub upload, segment %d)",
             espfab_op_name(s->cmd.op), s->stub_seg);
        return;
    }
    if (!r->ok) {
        if (s->cmd.op == ESPFAB_OP_MEM_DATA && s->cmd.tries < BLOCK_TRIES &&
            (r->error == 0x07 || r->error == 0xC1)) {
            resend_cmd(s);
            link_check(s);
            return;
        }
        if (s->cmd.op == ESPFAB_OP_MEM_DATA && s->cmd.tries > 1 && r->error == 0x06) {
            s->stub_seq++; /* a resent block the ROM already had (the first reply was lost) */
            stub_next(s);
            return;
        }
        if (s->cmd.tries > 1)
            s->fault.retries = s->cmd.tries;
        fail_resp(s, r, s->cmd.op, "stub upload segment %d", s->stub_seg);
        return;
    }
    if (s->cmd.op == ESPFAB_OP_MEM_DATA)
        s->stub_seq++;
    stub_next(s);
}

/* Sends the next MEM_BEGIN / MEM_DATA / MEM_END of the upload. */
static void stub_next(espfab_session_t *s)
{
    for (;;) {
        const uint8_t *data = s->stub_seg == 0 ? s->stub->text : s->stub->data;
        size_t len = s->stub_seg == 0 ? s->stub->text_len : s->stub->data_len;
        uint32_t addr = s->stub_seg == 0 ? s->stub->text_start : s->stub->data_start;
        if (s->stub_seg >= 2) {
            size_t n = espfab_cmd_mem_end(s->stub->entry == 0 ? 1 : 0, s->stub->entry, s->pkt, sizeof(s->pkt));
            bool rom = s->loader != ESPFAB_LOADER_STUB;
            send_cmd(s, n, 0, rom ? MEM_END_ROM_TIMEOUT_MS : scaled(s, DEFAULT_TIMEOUT_MS), 1, on_mem_end);
            return;
        }
        if (len == 0) {
            s->stub_seg++;
            s->stub_seq = (uint32_t)-1;
            continue;
        }
        uint32_t rb = ram_block(s);
        uint32_t blocks = (uint32_t)((len + rb - 1) / rb);
        if (s->stub_seq == (uint32_t)-1) {
            s->stub_seq = 0;
            size_t n = espfab_cmd_mem_begin((uint32_t)len, blocks, rb, addr, s->pkt,
                                            sizeof(s->pkt));
            send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), 2, on_mem_cmd);
            return;
        }
        if (s->stub_seq < blocks) {
            size_t off = (size_t)s->stub_seq * rb;
            size_t bl = len - off < rb ? len - off : rb;
            size_t n = espfab_cmd_mem_data(s->stub_seq, data + off, bl, s->pkt, sizeof(s->pkt));
            send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), BLOCK_TRIES, on_mem_cmd);
            return;
        }
        s->stub_seg++;
        s->stub_seq = (uint32_t)-1;
    }
}

static void start_stub(espfab_session_t *s)
{
    if (s->loader == ESPFAB_LOADER_STUB) {
        start_baud(s);
        return;
    }
    if (s->o.no_stub) {
        start_baud(s);
        return;
    }
    if (s->sdm) {
        note(s, "secure download mode: the stub cannot be loaded; using the ROM loader");
        start_baud(s);
        return;
    }
    if (s->chip->id == ESPFAB_CHIP_ESP32C2 && s->rec.rev_full >= 0 && s->rec.rev_full < 100) {
        note(s, "no flasher stub for ESP32-C2 v%d.%d (ECO0): using the ROM loader", s->rec.rev_full / 100,
             s->rec.rev_full % 100);
        start_baud(s);
        return;
    }
    set_state(s, ESPFAB_SS_STUB);
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (s->stub) {
        /* loaded by an earlier pass */
    } else if (s->o.stubs) {
        s->stub = espfab_stub_cache_get(s->o.stubs, s->chip, s->rec.rev_full, &f);
    } else if (espfab_stub_load(s->o.stub_dir, s->chip, s->rec.rev_full, &s->own_stub, &f) == 0) {
        s->stub = &s->own_stub;
        s->stub_loaded = true;
    }
    if (!s->stub) {
        fail_with(s, &f);
        return;
    }
    s->stub_seg = 0;
    s->stub_seq = (uint32_t)-1;
    s->ohai = false;
    stub_next(s);
}

/* ---- BAUD ------------------------------------------------------------------ */

static void baud_confirmed(espfab_session_t *s)
{
    s->rec.baud = s->cur_baud;
    start_spi_params(s);
}

static void on_baud_confirm(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    (void)r;
    s->baud_switching = false;
    if (rc == ESPFAB_E_TIMEOUT) {
        uint64_t junk = s->rx_total - s->baud_rx_mark;
        if (s->cmd.tries > 1)
            s->fault.retries = s->cmd.tries;
        if (junk)
            fail(s, ESPFAB_E_BAUD_CHANGE_FAILED,
                 "%u baud worked (the highest that did); at %u only garbage came back (%" PRIu64
                 " bytes, no reply to %s)",
                 s->o.initial_baud, s->cur_baud, junk, espfab_op_name(s->cmd.op));
        else
            fail(s, ESPFAB_E_BAUD_CHANGE_FAILED,
                 "%u baud worked (the highest that did); at %u nothing came back (no reply to %s)",
                 s->o.initial_baud, s->cur_baud, espfab_op_name(s->cmd.op));
        return;
    }
    if (rc == ESPFAB_E_PROTO_UNSUPPORTED) {
        /* an intact refusal: the new rate works; its repeats drain */
        drain_then(s, baud_confirmed);
        return;
    }
    baud_confirmed(s);
}

static void after_baud_settle(espfab_session_t *s)
{
    espfab_port_flush_input(s->port);
    espfab_slip_dec_reset(&s->dec);
    s->baud_rx_mark = s->rx_total;
    if (s->sdm) {
        /* no register reads in secure download mode; GET_SECURITY_INFO is allowed */
        size_t n = espfab_cmd_security_info(s->pkt, sizeof(s->pkt));
        send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_GET_SECURITY_INFO, s->loader),
                 scaled(s, BAUD_CONFIRM_TIMEOUT_MS), REG_TRIES, on_baud_confirm);
        return;
    }
    size_t n = espfab_cmd_read_reg(s->chip->uart_date_reg, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, BAUD_CONFIRM_TIMEOUT_MS), REG_TRIES, on_baud_confirm);
}

static void on_baud_reply(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    uint32_t old = s->cur_baud;
    if (rc == ESPFAB_E_TIMEOUT) {
        fail(s, ESPFAB_E_BAUD_CHANGE_FAILED, "no reply to CHANGE_BAUDRATE %u at %u baud", s->o.baud, old);
        return;
    }
    /* esptool does not check this reply's status */
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_port_set_baud(s->port, s->o.baud, &f) < 0) {
        fail_with(s, &f);
        return;
    }
    s->cur_baud = s->o.baud;
    s->baud_switching = true;
    arm(s, BAUD_SETTLE_MS, after_baud_settle);
}

static void start_baud(espfab_session_t *s)
{
    if (s->o.baud == s->cur_baud || s->o.baud < s->o.initial_baud) {
        s->rec.baud = s->cur_baud;
        start_spi_params(s);
        return;
    }
    if (s->loader == ESPFAB_LOADER_ROM_ESP8266) {
        note(s, "the ESP8266 ROM cannot change the baud rate: staying at %u (use the stub for speed)",
             s->cur_baud);
        s->rec.baud = s->cur_baud;
        start_spi_params(s);
        return;
    }
    if (s->sdm && s->chip->id == ESPFAB_CHIP_ESP32C2) {
        note(s, "ESP32-C2 in secure download mode cannot change the baud rate: staying at %u", s->cur_baud);
        s->rec.baud = s->cur_baud;
        start_spi_params(s);
        return;
    }
    set_state(s, ESPFAB_SS_BAUD);
    uint32_t wire_baud = s->o.baud, old = 0;
    if (s->loader == ESPFAB_LOADER_STUB)
        old = s->cur_baud;
    else
        wire_baud = espfab_chip_rom_baud_at(s->chip, s->regs, s->nregs, s->o.initial_baud, s->o.baud);
    size_t n = espfab_cmd_change_baud(wire_baud, old, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), 1, on_baud_reply);
}

/* ---- SPI_PARAMS, ERASE ----------------------------------------------------- */

static void on_spi_params(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        fail(s, rc, "no reply to SPI_SET_PARAMS");
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, ESPFAB_OP_SPI_SET_PARAMS, NULL);
        return;
    }
    start_erase(s);
}

static void start_spi_params(espfab_session_t *s)
{
    if (s->o.info_only) {
        start_run(s);
        return;
    }
    if (s->loader == ESPFAB_LOADER_ROM_ESP8266) {
        start_erase(s);
        return;
    }
    set_state(s, ESPFAB_SS_SPI_PARAMS);
    uint32_t size = espfab_flash_params_size(&s->o.flash);
    if (!size)
        size = s->rec.flash_size;
    if (!size) {
        size = 4u << 20;
        note(s, "flash size unknown%s: telling the loader 4 MiB; give the board's with --flash-size "
                "(flash_size in a profile) if it differs",
             s->sdm ? " (secure download mode hides the flash id)" : "");
    }
    size_t n = espfab_cmd_spi_set_params(size, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_spi_params);
}

static void erase_next(espfab_session_t *s);

static void on_erase(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == ESPFAB_E_TIMEOUT) {
        fail(s, ESPFAB_E_ERASE_TIMEOUT, "no reply to %s within %.0f s", espfab_op_name(s->cmd.op),
             (double)s->cmd.timeout_ms / 1000.0);
        return;
    }
    if (rc < 0) {
        fail(s, rc, "%s refused", espfab_op_name(s->cmd.op));
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, s->cmd.op, NULL);
        return;
    }
    if (s->cmd.op == ESPFAB_OP_ERASE_FLASH) {
        start_prepare(s);
        return;
    }
    s->idx++;
    erase_next(s);
}

static void erase_next(espfab_session_t *s)
{
    if (s->idx >= s->o.nregions) {
        start_prepare(s);
        return;
    }
    const espfab_session_region_t *sr = &s->o.regions[s->idx];
    uint32_t start = sr->offset & ~(uint32_t)(ESPFAB_SECTOR - 1);
    uint64_t end = ((uint64_t)sr->offset + sr->blob->len + ESPFAB_SECTOR - 1) & ~(uint64_t)(ESPFAB_SECTOR - 1);
    uint32_t size = (uint32_t)(end - start);
    size_t n = espfab_cmd_erase_region(start, size, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, per_mb(ERASE_PER_MB_S, size)), 1, on_erase);
}

static void start_erase(espfab_session_t *s)
{
    if (s->o.erase == ESPFAB_ERASE_NONE || s->o.nregions == 0) {
        start_prepare(s);
        return;
    }
    if (s->loader != ESPFAB_LOADER_STUB) {
        note(s, "erase %s needs the stub; the ROM erases only what it writes",
             s->o.erase == ESPFAB_ERASE_ALL ? "all" : "regions");
        start_prepare(s);
        return;
    }
    set_state(s, ESPFAB_SS_ERASE);
    if (s->o.erase == ESPFAB_ERASE_ALL) {
        size_t n = espfab_cmd_erase_flash(s->pkt, sizeof(s->pkt));
        send_cmd(s, n, 0, scaled(s, ERASE_CHIP_TIMEOUT_MS), 1, on_erase);
        return;
    }
    s->idx = 0;
    erase_next(s);
}

/* ---- PREPARE --------------------------------------------------------------- */

static bool params_all_keep(const espfab_flash_params_t *p)
{
    return espfab_flash_params_keep(p);
}

static void on_compressed(espfab_blob_t *b, int status, void *data)
{
    espfab_session_t *s = data;
    s->compressing--;
    s->pending--;
    if (s->finishing) {
        maybe_done(s);
        return;
    }
    if (status < 0) {
        fail(s, status, "compressing %zu bytes failed", b->len);
        return;
    }
    if (s->compressing == 0) {
        if (s->cancel) {
            espfab_fault_set(&s->fault, ESPFAB_E_CANCELLED, "%s: cancelled in state %s", s->port_spec,
                             state_names[s->state]);
            finish(s);
            return;
        }
        start_write(s);
    }
}

static void start_prepare(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_PREPARE);
    bool can_deflate = !s->o.no_compress && !s->sdm &&
                       (s->loader == ESPFAB_LOADER_STUB ||
                        (s->loader == ESPFAB_LOADER_ROM_ESP32 && s->chip->rom_deflate));
    espfab_attempt_t *a = &s->rec;
    a->nregions = (int)s->o.nregions;
    s->bytes_total = 0;
    bool patch = !params_all_keep(&s->o.flash) && !s->sdm;
    for (size_t i = 0; i < s->o.nregions; i++) {
        const espfab_session_region_t *sr = &s->o.regions[i];
        espfab_blob_t *b = sr->blob;
        size_t len = b->len, padded = (len + 3) & ~(size_t)3;
        bool want_patch = patch && sr->offset == s->chip->bootloader_offset;
        espfab_blob_t *use = NULL;
        if (want_patch || padded != len) {
            /* esptool pads every image to 4 bytes with 0xFF; the header patch
             * of 6.4 applies at the bootloader offset.  Equal results share
             * one blob through the cache. */
            uint8_t *copy = malloc(padded ? padded : 1);
            if (!copy) {
                fail(s, ESPFAB_E_NOMEM, "copying %s", sr->name ? sr->name : "region");
                return;
            }
            memcpy(copy, b->data, len);
            memset(copy + len, 0xFF, padded - len);
            bool patched = false;
            if (want_patch) {
                espfab_fault_t f;
                espfab_fault_clear(&f);
                if (espfab_image_patch_at(copy, padded, sr->offset, s->chip, &s->o.flash, a->flash_size,
                                          &patched, &f) < 0) {
                    free(copy);
                    fail_with(s, &f);
                    return;
                }
            }
            if (patched || padded != len) {
                use = espfab_blob_intern(s->o.cache, copy, padded);
                if (!use) {
                    fail(s, ESPFAB_E_NOMEM, "interning %s", sr->name ? sr->name : "region");
                    return;
                }
                if (patched)
                    note(s, "%s: flash parameters patched into the header at 0x%" PRIx32,
                         sr->name ? sr->name : "region", sr->offset);
            } else {
                free(copy);
            }
        }
        if (!use) {
            use = b;
            espfab_blob_ref(use);
        }
        s->reg[i] = (sregion_t){.blob = use, .deflate = can_deflate};
        espfab_region_result_t *rr = &a->regions[i];
        memset(rr, 0, sizeof(*rr));
        rr->offset = sr->offset;
        snprintf(rr->file, sizeof(rr->file), "%s", sr->name ? sr->name : "");
        memcpy(rr->sha256, use->sha256_hex, sizeof(rr->sha256));
        memcpy(rr->md5_expected, use->md5_hex, sizeof(rr->md5_expected));
        rr->size = (uint32_t)use->len;
        rr->compressed = can_deflate;
        s->bytes_total += use->len;
    }
    for (size_t i = 0; i < s->o.nregions; i++) {
        if (!s->reg[i].deflate || s->reg[i].blob->zdata)
            continue;
        s->compressing++;
        s->pending++;
        int rc = espfab_blob_compress(s->o.cache, s->reg[i].blob, on_compressed, s);
        if (rc < 0) {
            s->compressing--;
            s->pending--;
            fail(s, rc, "cannot compress %s", a->regions[i].file);
            return;
        }
    }
    if (s->compressing == 0)
        start_write(s);
}

/* ---- WRITE ----------------------------------------------------------------- */

/* esptool's workaround for the ESP8266 ROM erase-size bug (protocol.md 2.5). */
static uint32_t esp8266_erase_size(uint32_t offset, uint32_t size)
{
    uint32_t sectors = (size + ESPFAB_SECTOR - 1) / ESPFAB_SECTOR;
    uint32_t start = offset / ESPFAB_SECTOR;
    uint32_t head = 16 - (start % 16);
    if (sectors < head)
        head = sectors;
    if (sectors < 2 * head)
        return (sectors + 1) / 2 * ESPFAB_SECTOR;
    return (sectors - head) * ESPFAB_SECTOR;
}

static void start_write(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_WRITE);
    s->ridx = 0;
    s->next_key = 0;
    write_region(s);
}

static void on_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    espfab_region_result_t *rr = &s->rec.regions[s->ridx];
    if (rc < 0) {
        fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_ERASE_TIMEOUT : rc,
             "no reply to %s for %s at 0x%" PRIx32 " within %.1f s (it waits for the last block's write): "
             "the flash is too slow, or the board stopped",
             espfab_op_name(s->cmd.op), rr->file, rr->offset, (double)s->cmd.timeout_ms / 1000.0);
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, s->cmd.op, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
        return;
    }
    rr->written = true;
    s->ridx++;
    write_region(s);
}

static void end_region(espfab_session_t *s)
{
    sregion_t *R = &s->reg[s->ridx];
    if (s->loader != ESPFAB_LOADER_STUB) {
        /* The ROM writes each block before acknowledging it; no END (it
         * would leave the loader). */
        s->rec.regions[s->ridx].written = true;
        s->ridx++;
        write_region(s);
        return;
    }
    /* The stub acks blocks before writing them: END(1) reports the last
     * block's write (and any deferred error). */
    uint8_t op = R->deflate ? ESPFAB_OP_FLASH_DEFL_END : ESPFAB_OP_FLASH_END;
    size_t n = espfab_cmd_flash_end(op, 1, s->pkt, sizeof(s->pkt));
    uint64_t t = R->last_timeout > DEFAULT_TIMEOUT_MS ? R->last_timeout : DEFAULT_TIMEOUT_MS;
    send_cmd(s, n, 0, scaled(s, t), 1, on_end);
}

static void on_block(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    sregion_t *R = &s->reg[s->ridx];
    espfab_region_result_t *rr = &s->rec.regions[s->ridx];
    bool stub = s->loader == ESPFAB_LOADER_STUB;
    if (rc == ESPFAB_E_TIMEOUT) {
        if (stub && s->rx_total != s->cmd.rx_try) {
            /* The stub ACKs a block as it arrives and something came back,
             * garbled: it has the block (not resent, see on_cmd_timeout).
             * The MD5 check will tell. */
            ESPFAB_LOGD(TAG, "%s: garbled reply to %s seq %" PRIu32 ": taken as received", s->port_spec,
                        espfab_op_name(s->cmd.op), R->seq);
            goto acked;
        }
        if (s->cmd.tries > 1)
            s->fault.retries = s->cmd.tries;
        fail(s, ESPFAB_E_ERASE_TIMEOUT,
             "no reply to %s seq %" PRIu32 " of %s at 0x%" PRIx32 " within %.1f s (the budget for erasing "
             "and writing it, 40 s per MB): the flash is too slow, or the board stopped",
             espfab_op_name(s->cmd.op), R->seq, rr->file, rr->offset, (double)s->cmd.timeout_ms / 1000.0);
        return;
    }
    if (rc < 0) {
        fail(s, rc, "%s refused (seq %" PRIu32 " of %s)", espfab_op_name(s->cmd.op), R->seq, rr->file);
        return;
    }
    if (!r->ok) {
        bool checksum = s->loader == ESPFAB_LOADER_STUB ? r->error == 0xC1 : r->error == 0x07;
        if (checksum && s->cmd.tries < BLOCK_TRIES) {
            resend_cmd(s);
            link_check(s);
            return;
        }
        if (!stub && s->cmd.tries > 1 && r->error == 0x06) {
            /* a resent block the ROM already had (the first reply was lost) */
            ESPFAB_LOGD(TAG, "%s: %s seq %" PRIu32 " was already received", s->port_spec,
                        espfab_op_name(s->cmd.op), R->seq);
            goto acked;
        }
        if (s->cmd.tries > 1)
            s->fault.retries = s->cmd.tries;
        fail_resp(s, r, s->cmd.op, "seq %" PRIu32 " (%s at 0x%" PRIx32 ")", R->seq, rr->file, rr->offset);
        return;
    }
acked:;
    size_t total = R->deflate ? R->blob->zlen : R->blob->len;
    size_t off = (size_t)R->seq * R->block;
    size_t bl = total - off < R->block ? total - off : R->block;
    rr->wire_size += (uint32_t)bl;
    R->seq++;
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_PROGRESS, .region = (int)s->ridx};
    ev.old_state = ev.new_state = s->state;
    ev.total = R->blob->len;
    ev.done = R->seq >= R->nblocks ? R->blob->len : (uint64_t)R->blob->len * R->seq / R->nblocks;
    emit(s, &ev);
    if (s->finishing)
        return;
    if (R->seq < R->nblocks)
        send_block(s);
    else
        end_region(s);
}

/* Builds the data frame for (region ridx, seq) into s->pkt; returns its
 * length and the block's timeout. */
static size_t build_block(espfab_session_t *s, size_t ridx, uint32_t seq, uint64_t *timeout)
{
    sregion_t *R = &s->reg[ridx];
    const uint8_t *src = R->deflate ? R->blob->zdata : R->blob->data;
    size_t total = R->deflate ? R->blob->zlen : R->blob->len;
    size_t off = (size_t)seq * R->block;
    size_t bl = total - off < R->block ? total - off : R->block;
    uint8_t op = R->deflate ? ESPFAB_OP_FLASH_DEFL_DATA : ESPFAB_OP_FLASH_DATA;
    size_t n;
    if (!R->deflate && s->loader != ESPFAB_LOADER_STUB && bl < R->block) {
        /* the ROM wants whole blocks: pad the last one with 0xFF */
        memcpy(s->pad, src + off, bl);
        memset(s->pad + bl, 0xFF, R->block - bl);
        n = espfab_cmd_flash_data(op, seq, s->pad, R->block, s->pkt, sizeof(s->pkt));
    } else {
        n = espfab_cmd_flash_data(op, seq, src + off, bl, s->pkt, sizeof(s->pkt));
    }
    uint64_t u = bl;
    if (R->deflate && R->blob->zlen) {
        u = (uint64_t)bl * R->blob->len / R->blob->zlen + 1;
        if (s->loader == ESPFAB_LOADER_STUB)
            u += ((u + 32767) / 32768 + 1) * 65536; /* the stub erases 64 KiB per inflate cycle */
    }
    *timeout = per_mb(WRITE_PER_MB_S, u);
    return n;
}

static void send_block(espfab_session_t *s)
{
    if (s->finishing)
        return;
    sregion_t *R = &s->reg[s->ridx];
    uint64_t timeout;
    long key = ((long)s->ridx << 20 | (long)R->seq) + 1;
    size_t n = build_block(s, s->ridx, R->seq, &timeout);
    uint64_t t = timeout;
    if (s->loader == ESPFAB_LOADER_STUB && R->last_timeout > t)
        t = R->last_timeout; /* the stub writes the previous block while it waits */
    R->last_timeout = timeout;
    if (s->next_key == key && !s->cancel) {
        /* encoded while the previous block was in flight */
        uint8_t *w = s->wire;
        s->wire = s->next_wire;
        s->next_wire = w;
        s->next_key = 0;
        s->cmd.op = s->pkt[1];
        s->cmd.expect = 0;
        s->cmd.tries = 1;
        s->cmd.max_tries = BLOCK_TRIES;
        s->cmd.timeout_ms = scaled(s, t);
        s->cmd.fn = on_block;
        s->cmd.wire_len = s->next_len;
        s->cmd.active = true;
        write_wire(s);
    } else {
        s->next_key = 0;
        send_cmd(s, n, 0, scaled(s, t), BLOCK_TRIES, on_block);
    }
    if (s->finishing || !s->cmd.active || R->seq + 1 >= R->nblocks)
        return;
    /* Encode the next block now, so that its frame goes out the moment this
     * block's reply arrives. */
    uint64_t t2;
    size_t n2 = build_block(s, s->ridx, R->seq + 1, &t2);
    s->next_len = espfab_slip_encode(s->pkt, n2, s->next_wire, WIRE_CAP);
    s->next_key = ((long)s->ridx << 20 | (long)(R->seq + 1)) + 1;
}

static void on_begin(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    sregion_t *R = &s->reg[s->ridx];
    espfab_region_result_t *rr = &s->rec.regions[s->ridx];
    if (rc == ESPFAB_E_TIMEOUT) {
        bool rom = s->loader != ESPFAB_LOADER_STUB;
        fail(s, rom ? ESPFAB_E_ERASE_TIMEOUT : ESPFAB_E_TIMEOUT, "no reply to %s for %s at 0x%" PRIx32 " within %.1f s%s",
             espfab_op_name(s->cmd.op), rr->file, rr->offset, (double)s->cmd.timeout_ms / 1000.0,
             rom ? " (the ROM erases the whole region first; budget 40 s per MB)" : "");
        return;
    }
    if (rc < 0) {
        fail(s, rc, "%s refused for %s", espfab_op_name(s->cmd.op), rr->file);
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, s->cmd.op, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
        return;
    }
    R->seq = 0;
    if (R->nblocks == 0) {
        end_region(s);
        return;
    }
    send_block(s);
}

static void write_region(espfab_session_t *s)
{
    if (s->ridx >= s->o.nregions) {
        start_verify(s);
        return;
    }
    sregion_t *R = &s->reg[s->ridx];
    const espfab_session_region_t *sr = &s->o.regions[s->ridx];
    bool stub = s->loader == ESPFAB_LOADER_STUB;
    R->block = stub ? stub_block(s) : ESPFAB_ROM_FLASH_BLOCK;
    R->last_timeout = 0;
    bool enc_word = !stub && s->chip->rom_begin_encrypted_word;
    size_t len = R->blob->len, n;
    uint64_t timeout;
    if (R->deflate) {
        R->nblocks = (uint32_t)((R->blob->zlen + R->block - 1) / R->block);
        uint32_t size = stub ? (uint32_t)len
                             : (uint32_t)((len + ESPFAB_ROM_FLASH_BLOCK - 1) / ESPFAB_ROM_FLASH_BLOCK *
                                          ESPFAB_ROM_FLASH_BLOCK);
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_DEFL_BEGIN, size, R->nblocks, R->block, sr->offset,
                                   enc_word, 0, s->pkt, sizeof(s->pkt));
        timeout = stub ? DEFAULT_TIMEOUT_MS : per_mb(ERASE_PER_MB_S, size);
    } else {
        R->nblocks = (uint32_t)((len + R->block - 1) / R->block);
        uint32_t erase = s->loader == ESPFAB_LOADER_ROM_ESP8266 ? esp8266_erase_size(sr->offset, (uint32_t)len)
                                                                 : (uint32_t)len;
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, erase, R->nblocks, R->block, sr->offset, enc_word,
                                   0, s->pkt, sizeof(s->pkt));
        timeout = stub ? DEFAULT_TIMEOUT_MS : per_mb(ERASE_PER_MB_S, len);
    }
    /* a lost or garbled reply: BEGIN again (nothing was sent after it; the
     * stub restarts its region, the ROM erases it once more) */
    send_cmd(s, n, 0, scaled(s, timeout), BEGIN_TRIES, on_begin);
}

/* ---- VERIFY ---------------------------------------------------------------- */

static void on_md5(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    espfab_region_result_t *rr = &s->rec.regions[s->ridx];
    if (rc < 0) {
        fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_VERIFY_FAILED : rc,
             "no MD5 reply for %s at 0x%" PRIx32 " (%d tries)", rr->file, rr->offset, s->cmd.tries);
        return;
    }
    if (!r->ok) {
        fail_resp(s, r, ESPFAB_OP_SPI_FLASH_MD5, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
        return;
    }
    uint8_t md5[16];
    if (espfab_resp_md5(r, s->loader, md5) < 0) {
        if (s->cmd.tries < REG_TRIES) {
            resend_cmd(s);
            link_check(s);
            return;
        }
        fail(s, ESPFAB_E_VERIFY_FAILED, "unreadable MD5 reply for %s at 0x%" PRIx32, rr->file, rr->offset);
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(rr->md5_device + 2 * i, 3, "%02x", md5[i]);
    if (strcmp(rr->md5_device, rr->md5_expected) != 0) {
        /* Read it again: a corrupted reply must not fail a good board, and a
         * stuck bit reads the same wrong value every time. */
        bool same = strcmp(s->md5_prev, rr->md5_device) == 0;
        if (!same && s->cmd.tries < s->cmd.max_tries) {
            memcpy(s->md5_prev, rr->md5_device, sizeof(s->md5_prev));
            resend_cmd(s);
            return;
        }
        s->fault.retries = s->cmd.tries;
        fail(s, ESPFAB_E_MD5_MISMATCH, "%s at 0x%" PRIx32 ": flash MD5 %s, expected %s (%s)", rr->file,
             rr->offset, rr->md5_device, rr->md5_expected,
             same ? "the same wrong value read twice: the flash holds wrong bits"
                  : "a different value at every read: unstable flash, power or link");
        return;
    }
    rr->verified = true;
    s->ridx++;
    verify_region(s);
}

static void verify_region(espfab_session_t *s)
{
    if (s->ridx >= s->o.nregions) {
        start_run(s);
        return;
    }
    espfab_region_result_t *rr = &s->rec.regions[s->ridx];
    s->md5_prev[0] = '\0';
    size_t n = espfab_cmd_flash_md5(rr->offset, rr->size, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_SPI_FLASH_MD5, s->loader),
             scaled(s, per_mb(MD5_PER_MB_S, rr->size)), REG_TRIES, on_md5);
}

static void start_verify(espfab_session_t *s)
{
    if (s->o.nregions == 0) {
        start_run(s);
        return;
    }
    if (s->o.no_verify) {
        s->unverified_why = "verification disabled";
        note(s, "verification disabled: the flash contents are NOT checked");
        start_run(s);
        return;
    }
    /* Verification was asked for and is impossible: the write is not a
     * pass (the board stays in the loader; --no-verify accepts it). */
    if (s->loader == ESPFAB_LOADER_ROM_ESP8266 || s->sdm) {
        fail(s, ESPFAB_E_UNVERIFIABLE, "%zu region%s written; %s", s->o.nregions, s->o.nregions == 1 ? "" : "s",
             s->sdm ? "secure download mode forbids SPI_FLASH_MD5" : "the ESP8266 ROM has no SPI_FLASH_MD5");
        return;
    }
    set_state(s, ESPFAB_SS_VERIFY);
    s->ridx = 0;
    verify_region(s);
}

/* ---- RUN ------------------------------------------------------------------- */

static void hard_reset_step(espfab_session_t *s)
{
    while (s->step < s->nsteps) {
        const espfab_reset_step_t *st = &s->steps[s->step++];
        int rc = espfab_port_set_lines(s->port, st->dtr, st->rts);
        if (rc < 0 && s->reset_issued && s->step > 1) {
            /* the first pulse reset the chip and its own USB port went */
            note(s, "%s went away as the chip reset (its own USB port)", s->port_spec);
            pass(s);
            return;
        }
        if (rc < 0) {
            note(s, "hard reset failed (%s): reset the board by hand", espfab_strerror(rc));
            pass(s);
            return;
        }
        if (st->wait_ms) {
            arm(s, st->wait_ms, hard_reset_step);
            return;
        }
    }
    pass(s);
}

static void on_run_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    /* the loader may jump to the application before it answers */
    if (rc == 0 && !r->ok)
        note(s, "the loader refused FLASH_END(1): reset the board by hand");
    pass(s);
}

static void on_run_begin(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0 || !r->ok) {
        note(s, "FLASH_BEGIN(0, 0) for the run request failed: reset the board by hand");
        pass(s);
        return;
    }
    size_t n = espfab_cmd_flash_end(ESPFAB_OP_FLASH_END, 1, s->pkt, sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, RUN_END_TIMEOUT_MS), 1, on_run_end);
}

static void reset_by_lines(espfab_session_t *s)
{
    if (espfab_port_has_modem_lines(s->port)) {
        s->reset_issued = true;
        s->nsteps = espfab_reset_hard(s->usb == ESPFAB_USB_OTG, s->steps, ESPFAB_RESET_MAX_STEPS);
        s->step = 0;
        hard_reset_step(s);
        return;
    }
    note(s, "%s has no DTR/RTS lines: asking the loader to run the application (FLASH_BEGIN 0,0 + "
            "FLASH_END 1)", s->port_spec);
    uint32_t block = s->loader == ESPFAB_LOADER_STUB ? stub_block(s) : ESPFAB_ROM_FLASH_BLOCK;
    bool enc_word = s->loader != ESPFAB_LOADER_STUB && s->chip && s->chip->rom_begin_encrypted_word;
    size_t n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, 0, 0, block, 0, enc_word, 0, s->pkt,
                                      sizeof(s->pkt));
    send_cmd(s, n, 0, scaled(s, DEFAULT_TIMEOUT_MS), 1, on_run_begin);
}

static void wdt_reset_sent(espfab_session_t *s)
{
    if (s->script_failed && (s->sidx + 1 < s->nscript || s->script_refused)) {
        s->reset_issued = false;
        reset_by_lines(s); /* the watchdog was not armed */
        return;
    }
    /* armed (a lost reply to the arming write may only mean that the chip
     * has reset already); the chip resets in milliseconds, so the plan's
     * final re-lock is not sent */
    s->reset_issued = true;
    note(s, "reset by the RTC watchdog (%s: no RTS line resets this chip)", espfab_usb_mode_name(s->usb));
    arm(s, WDT_RESET_WAIT_MS, pass);
}

static void wdt_reset(espfab_session_t *s)
{
    size_t n = espfab_chip_wdt_reset_plan(s->chip, s->script, sizeof(s->script) / sizeof(s->script[0]));
    size_t arm_step = 0;
    while (arm_step < n && s->script[arm_step].addr != s->chip->wdt_config0)
        arm_step++;
    s->nscript = arm_step < n ? arm_step + 1 : n; /* up to the write that arms it */
    run_script_resets(s, "resetting with the RTC watchdog", wdt_reset_sent);
}

/* esptool (S2, S3): over USB-OTG the watchdog resets the chip when the boot
 * strap was latched low (GPIO_STRAP's SPI_BOOT bit clear) and download mode
 * is not forced over USB; otherwise the RTS line.  The P4 always uses the
 * watchdog. */
static void on_straps(espfab_session_t *s)
{
    if (!s->script_failed && s->nvals == 2 && !(s->script_val[0] & s->chip->strap_spi_boot) &&
        !(s->script_val[1] & s->chip->force_dl)) {
        wdt_reset(s);
        return;
    }
    reset_by_lines(s);
}

static void reset_usb(espfab_session_t *s)
{
    if (s->usb == ESPFAB_USB_OTG && !s->sdm && s->chip->wdt_config0) {
        if (s->chip->otg_reset_by_wdt) {
            wdt_reset(s);
            return;
        }
        s->script[0] = (espfab_regop_t){ESPFAB_REGOP_READ, s->chip->strap_reg, 0, 0};
        s->script[1] = (espfab_regop_t){ESPFAB_REGOP_READ, s->chip->option1_reg, 0, 0};
        s->nscript = 2;
        run_script(s, "reading the boot straps", true, on_straps);
        return;
    }
    reset_by_lines(s);
}

static void start_run(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_RUN);
    if (s->o.after == ESPFAB_AFTER_NO_RESET) {
        note(s, "the board is left in the loader (no reset)");
        pass(s);
        return;
    }
    if (s->chip && s->chip->reset_clears_force_dl && !s->sdm) {
        /* else the chip may come back in download mode (arduino-esp32 #6762) */
        s->script[0] = (espfab_regop_t){ESPFAB_REGOP_WRITE, s->chip->option1_reg, 0, s->chip->force_dl};
        s->nscript = 1;
        run_script(s, "clearing the force-download bit", true, reset_usb);
        return;
    }
    if (s->chip)
        reset_usb(s);
    else
        reset_by_lines(s);
}
