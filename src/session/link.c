/*
 * link.c - the session's link layer (core.h): one command in flight with
 * its timeout and retries, the one timer, and the bytes coming in (SLIP
 * frames, boot text, broken frames), judged by the link's rx mode.
 *
 * Continuation style: sess_send_cmd() names the function that handles the reply;
 * a reply, a refusal or the last timeout calls it exactly once.  The timer
 * serves the command timeout and every delay; sess_arm() asserts that none is
 * pending, so two waits can never overlap silently.
 */
#include "core.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LINK_MAX_BAD 12
#define GARBLED_WAIT_MS 100u       /* after a broken frame: how long the real reply may still take */
#define UNSUPPORTED_DRAIN_MS 200u
#define DRAIN_QUIET_MS 30u         /* no byte for this long: the repeats are over */
#define DRAIN_TICK_MS 10u

/* What one reply to a data block (MEM_DATA, FLASH_(DEFL_)DATA) means. */
typedef enum block_verdict {
    BLOCK_ACKED = 0,
    BLOCK_RESEND,         /* checksum refused: the same block again */
    BLOCK_ALREADY_HAD,    /* a resent block the ROM had (the first reply was lost) */
    BLOCK_FAILED
} block_verdict_t;

void link_init(espfab_session_t *s)
{
    s->link.wire = malloc(WIRE_CAP);
    s->link.next_wire = malloc(WIRE_CAP);
    s->link.rx = RX_BOOTLOG;
    s->link.cmd.state = CMD_IDLE;
    espfab_slip_dec_init(&s->link.dec, s->link.frame, sizeof(s->link.frame));
}

void link_free(espfab_session_t *s)
{
    free(s->link.wire);
    free(s->link.next_wire);
    s->link.wire = s->link.next_wire = NULL;
}

void link_set_loader(espfab_session_t *s, espfab_loader_t l)
{
    s->link.loader = l;
    snprintf(s->rec.loader, sizeof(s->rec.loader), "%s", espfab_loader_name(l));
}

/* ---- the timer ------------------------------------------------------------ */

static void on_timer(uv_timer_t *t)
{
    espfab_session_t *s = t->data;
    step_fn fn = s->link.tfn;
    s->link.tfn = NULL;
    if (sess_finishing(s) || !fn)
        return;
    if (s->cancel) {
        sess_fail_cancelled(s);
        return;
    }
    fn(s);
}

void sess_arm(espfab_session_t *s, uint64_t ms, step_fn fn)
{
    assert(s->life == LIFE_RUNNING);
    assert(s->link.tfn == NULL); /* the timer serves one wait at a time */
    s->link.tfn = fn;
    uv_timer_start(&s->link.timer, on_timer, ms, 0);
}

void sess_disarm(espfab_session_t *s)
{
    s->link.tfn = NULL;
    if (s->life == LIFE_RUNNING)
        uv_timer_stop(&s->link.timer);
}

/* ---- commands ------------------------------------------------------------ */

static uint64_t tx_ms(const espfab_session_t *s, size_t bytes)
{
    uint32_t baud = s->link.cur_baud ? s->link.cur_baud : 115200;
    return (uint64_t)bytes * 10u * 1000u / baud + 1;
}

static void on_cmd_timeout(espfab_session_t *s);

static void write_wire(espfab_session_t *s)
{
    int rc = espfab_port_write(s->port, s->link.wire, s->link.cmd.wire_len, NULL, NULL);
    if (rc < 0) {
        s->link.cmd.state = CMD_IDLE;
        sess_fail_port(s, rc);
        return;
    }
    s->rec.bytes_sent += s->link.cmd.wire_len;
    s->link.cmd.rx_try = s->link.rx_total;
    sess_arm(s, s->link.cmd.timeout_ms + tx_ms(s, s->link.cmd.wire_len), on_cmd_timeout);
}

/* Common to send_cmd and send_encoded: a cancelled session stops here
 * instead ("after the current block"). */
static bool may_send(espfab_session_t *s)
{
    if (sess_finishing(s))
        return false;
    if (s->cancel) {
        sess_fail_cancelled(s);
        return false;
    }
    assert(s->link.cmd.state == CMD_IDLE); /* one command in flight */
    return true;
}

static void start_cmd(espfab_session_t *s, uint8_t op, uint64_t timeout_ms, int max_tries, reply_fn fn)
{
    s->link.cmd.op = op;
    s->link.cmd.tries = 1;
    s->link.cmd.max_tries = max_tries < 1 ? 1 : max_tries;
    s->link.cmd.timeout_ms = timeout_ms;
    s->link.cmd.fn = fn;
    s->link.cmd.state = CMD_WAITING;
    ESPFAB_LOGT(TAG, "%s: -> %s (%zu bytes on the wire)", s->port_spec, espfab_op_name(s->link.cmd.op),
                s->link.cmd.wire_len);
    write_wire(s);
}

void sess_send_cmd(espfab_session_t *s, size_t len, size_t expect, uint64_t timeout_ms, int max_tries,
              reply_fn fn)
{
    if (!may_send(s))
        return;
    if (len == 0) {
        sess_fail(s, ESPFAB_E_PROTO_BAD_ARG, "could not build the %s request", espfab_session_state_name(s->state));
        return;
    }
    s->link.next_key = 0;
    s->link.cmd.expect = expect;
    s->link.cmd.wire_len = espfab_slip_encode(s->link.pkt, len, s->link.wire, WIRE_CAP);
    start_cmd(s, s->link.pkt[1], timeout_ms, max_tries, fn);
}

void sess_send_encoded(espfab_session_t *s, uint8_t op, uint64_t timeout_ms, int max_tries, reply_fn fn)
{
    if (!may_send(s))
        return;
    uint8_t *w = s->link.wire;
    s->link.wire = s->link.next_wire;
    s->link.next_wire = w;
    s->link.next_key = 0;
    s->link.cmd.expect = 0;
    s->link.cmd.wire_len = s->link.next_len;
    start_cmd(s, op, timeout_ms, max_tries, fn);
}

/* Sends the command again, same bytes (same seq for a data block). */
void sess_resend_cmd(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    s->link.cmd.tries++;
    s->link.cmd.state = CMD_WAITING;
    s->link.retries++;
    ESPFAB_LOGD(TAG, "%s: resending %s (try %d of %d)", s->port_spec, espfab_op_name(s->link.cmd.op),
                s->link.cmd.tries, s->link.cmd.max_tries);
    write_wire(s);
}

bool link_check(espfab_session_t *s)
{
    if (s->link.bad_frames + s->link.retries <= LINK_MAX_BAD)
        return true;
    sess_fail(s, ESPFAB_E_LINK_UNRELIABLE, "%u corrupted or unexpected frames and %u retried commands at %u baud",
         s->link.bad_frames, s->link.retries, s->link.cur_baud);
    return false;
}

static bool data_block_op(uint8_t op)
{
    return op == ESPFAB_OP_FLASH_DATA || op == ESPFAB_OP_FLASH_DEFL_DATA || op == ESPFAB_OP_MEM_DATA;
}

static block_verdict_t link_block_verdict(const espfab_session_t *s, const espfab_resp_t *r)
{
    assert(data_block_op(s->link.cmd.op));
    if (r->ok)
        return BLOCK_ACKED;
    uint8_t checksum = sess_is_stub(s) ? ESPFAB_STUB_ERR_BAD_DATA_CHECKSUM : ESPFAB_ROM_ERR_BAD_CHECKSUM;
    if (r->error == checksum && s->link.cmd.tries < BLOCK_TRIES)
        return BLOCK_RESEND;
    /* the ROM refuses a sequence number it has already taken */
    if (!sess_is_stub(s) && s->link.cmd.tries > 1 && r->error == ESPFAB_ROM_ERR_FAILED_TO_ACT)
        return BLOCK_ALREADY_HAD;
    return BLOCK_FAILED;
}

bool sess_block_reply(espfab_session_t *s, const espfab_resp_t *r, step_fn acked)
{
    switch (link_block_verdict(s, r)) {
    case BLOCK_ALREADY_HAD:
        ESPFAB_LOGD(TAG, "%s: %s was already received", s->port_spec, espfab_op_name(s->link.cmd.op));
        /* fall through */
    case BLOCK_ACKED:
        acked(s);
        return true;
    case BLOCK_RESEND:
        sess_resend_cmd(s);
        link_check(s);
        return true;
    case BLOCK_FAILED:
        break;
    }
    if (s->link.cmd.tries > 1)
        s->fault.retries = s->link.cmd.tries;
    return false;
}

/* A broken or unexpected frame arrived while a command waits: it was most
 * likely the reply, garbled.  Do not wait the whole timeout for it. */
static void garbled_while_waiting(espfab_session_t *s)
{
    if (s->link.cmd.state != CMD_WAITING || sess_finishing(s) || s->link.tfn != on_cmd_timeout)
        return;
    if (uv_timer_get_due_in(&s->link.timer) > GARBLED_WAIT_MS) {
        sess_disarm(s);
        sess_arm(s, GARBLED_WAIT_MS, on_cmd_timeout);
    }
}

static void on_cmd_timeout(espfab_session_t *s)
{
    if (s->link.cmd.state != CMD_WAITING)
        return;
    /* A data block is never resent to the stub: it checks no sequence
     * numbers, so a block it already has would be written twice.  (The ROM
     * refuses a repeated sequence number, see link_block_verdict.) */
    bool stub_block_cmd = sess_is_stub(s) && data_block_op(s->link.cmd.op);
    if (s->link.cmd.tries < s->link.cmd.max_tries && !stub_block_cmd) {
        sess_resend_cmd(s);
        if (!sess_finishing(s))
            link_check(s);
        return;
    }
    s->link.cmd.state = CMD_IDLE;
    if (link_synced(s) && s->link.bad_frames >= 2 && s->link.rx != RX_RESETTING) {
        /* Replies were lost on a line that also delivered broken frames:
         * the link, not the board, is the likely cause. */
        if (s->link.cmd.tries > 1)
            s->fault.retries = s->link.cmd.tries;
        sess_fail(s, ESPFAB_E_LINK_UNRELIABLE,
             "no intact reply to %s; %u corrupted or unexpected frames and %u retried commands at %u baud",
             espfab_op_name(s->link.cmd.op), s->link.bad_frames, s->link.retries, s->link.cur_baud);
        return;
    }
    s->link.cmd.fn(s, ESPFAB_E_TIMEOUT, NULL);
}

/* ---- draining ------------------------------------------------------------ */

static void drain_tick(espfab_session_t *s)
{
    struct link *L = &s->link;
    if (L->rx_total != L->drain_rx) {
        L->drain_rx = L->rx_total;
        L->drain_quiet = 0;
    } else {
        L->drain_quiet++;
    }
    if (L->drain_quiet * DRAIN_TICK_MS >= DRAIN_QUIET_MS || --L->drain_left == 0) {
        assert(L->rx == RX_DRAIN);
        L->rx = RX_REPLIES;
        espfab_port_flush_input(s->port);
        espfab_slip_dec_reset(&L->dec);
        L->drain_fn(s);
        return;
    }
    sess_arm(s, DRAIN_TICK_MS, drain_tick);
}

/* A ROM repeats its refusal of an unsupported command, a stub answers SYNC
 * eight times; how many and how spaced is not specified: frames are ignored
 * until the line has been quiet for DRAIN_QUIET_MS, at most
 * UNSUPPORTED_DRAIN_MS. */
void sess_drain_then(espfab_session_t *s, step_fn fn)
{
    struct link *L = &s->link;
    L->rx = RX_DRAIN;
    L->drain_fn = fn;
    L->drain_rx = L->rx_total;
    L->drain_quiet = 0;
    L->drain_left = UNSUPPORTED_DRAIN_MS / DRAIN_TICK_MS;
    sess_arm(s, DRAIN_TICK_MS, drain_tick);
}

/* ---- bytes in ------------------------------------------------------------ */

static void scan_bootlog(espfab_session_t *s)
{
    struct connect *C = &s->conn;
    C->bootlog[C->bootlog_len] = 0;
    if (strstr(C->bootlog, "waiting for download") || strstr(C->bootlog, "boot mode:(1,"))
        C->boot_seen = BOOT_SEEN_DOWNLOAD;
    const char *b = strstr(C->bootlog, "boot:0x");
    if (!b)
        b = strstr(C->bootlog, "boot mode:(");
    if (!b || C->boot_seen != BOOT_SEEN_NOTHING)
        return;
    if (strncmp(b, "boot mode:(1,", 13) == 0)
        return;
    /* the whole line holding it, once it is complete */
    const char *eol = strpbrk(b, "\r\n");
    if (!eol)
        return;
    const char *sol = b;
    while (sol > C->bootlog && sol[-1] != '\n' && sol[-1] != '\r')
        sol--;
    int len = (int)(eol - sol);
    if (len > (int)sizeof(C->boot_line) - 1)
        len = (int)sizeof(C->boot_line) - 1;
    while (len > 0 && (*sol == ' ' || *sol == '.' || *sol == '\t')) {
        sol++; /* the ESP8266 log starts with junk at the wrong baud */
        len--;
    }
    char line[sizeof(C->boot_line)];
    memcpy(line, sol, (size_t)len);
    line[len] = 0;
    /* ESP32-family download strap values print DOWNLOAD in the boot line */
    if (strstr(line, "DOWNLOAD"))
        return;
    memcpy(C->boot_line, line, (size_t)len + 1);
    C->boot_seen = BOOT_SEEN_NORMAL;
}

static void append_bounded(char *buf, size_t *len, size_t cap, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*len >= cap - 1) {
            size_t keep = cap / 2;
            memmove(buf, buf + *len - keep, keep);
            *len = keep;
        }
        buf[(*len)++] = bytes[i] ? (char)bytes[i] : '.';
    }
    buf[*len] = 0;
}

/* After SYNC the board prints text only when it has reset (the ROM's banner,
 * "rst:0x10 (RTCWDT_RTC_RESET),boot:..."): the session is lost, and the
 * reset cause says why. */
static bool scan_late(espfab_session_t *s, const uint8_t *bytes, size_t len)
{
    struct link *L = &s->link;
    append_bounded(L->late, &L->late_len, LATE_CAP, bytes, len);
    const char *r = strstr(L->late, "rst:0x");
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
        if (s->id.wdt == WDT_DISABLED)
            why = "a watchdog, although espfab had disabled them";
        else if (s->id.usb == ESPFAB_USB_NONE && s->id.chip && s->id.chip->usb_jtag)
            why = "a watchdog: over USB-Serial/JTAG the ROM feeds none; if this port is one, pass --usb-id 303a:1001";
        else
            why = "a watchdog";
    } else if (strstr(line, "BROWN")) {
        why = "a brownout: the 3.3 V supply sagged; use a stronger supply";
    } else {
        why = "a power dip or a pulse on EN";
    }
    sess_fail(s, ESPFAB_E_BOARD_RESET, "during %s it printed \"%s\": %s", espfab_session_state_name(s->state), line,
         why);
    return true;
}

/* A frame or a broken frame nobody expected: counted against the link
 * where a healthy link sends none. */
static void unexpected(espfab_session_t *s)
{
    s->link.bad_frames++;
    if (link_check(s))
        garbled_while_waiting(s);
}

static void on_outside(void *data, const uint8_t *bytes, size_t len)
{
    espfab_session_t *s = data;
    if (sess_finishing(s))
        return;
    switch (s->link.rx) {
    case RX_BOOTLOG:
        append_bounded(s->conn.bootlog, &s->conn.bootlog_len, BOOTLOG_CAP, bytes, len);
        scan_bootlog(s);
        return;
    case RX_RESETTING: /* the chip is restarting: its boot text */
        return;
    case RX_DRAIN:
    case RX_BAUD_SETTLE:
        scan_late(s, bytes, len);
        return;
    case RX_SYNC_ECHOES:
    case RX_REPLIES:
        if (!scan_late(s, bytes, len))
            unexpected(s);
        return;
    }
}

static void on_slip_error(void *data, int err)
{
    espfab_session_t *s = data;
    if (sess_finishing(s) || (s->link.rx != RX_REPLIES && s->link.rx != RX_SYNC_ECHOES))
        return;
    ESPFAB_LOGD(TAG, "%s: dropped a broken frame (%s)", s->port_spec, espfab_strerror(err));
    unexpected(s);
}

/* A reply whose bytes cannot come from a healthy loader (noise on the line):
 * wrong size field or frame length, a status byte that is neither 0 nor 1, an
 * error code no loader sends, non-zero reserved bytes.  A data block whose
 * status byte still says OK is taken as acknowledged (resending it would
 * write it twice). */
static bool reply_suspect(const espfab_session_t *s, const espfab_resp_t *r)
{
    uint8_t op = s->link.cmd.op;
    /* the detection probe and "not supported" rejections vary by ROM */
    if (op == ESPFAB_OP_SYNC || op == ESPFAB_OP_GET_SECURITY_INFO || !link_synced(s) ||
        espfab_resp_is_unsupported(r))
        return false;
    bool data_block = data_block_op(op);
    size_t expect = s->link.cmd.expect;
    size_t sl = espfab_cmd_status_len(s->link.loader);
    const uint8_t *st = r->data_len ? r->body + r->data_len : r->body;
    size_t st_avail = r->body_len - (size_t)(st - r->body);
    if (sess_is_stub(s)) {
        if (r->body_len != expect + 2 && r->body_len != 2)
            return !(data_block && r->ok);
        if (!espfab_stub_error_known(r->error))
            return true;
        if (st_avail >= 2 && st[1] != 0 && op != ESPFAB_OP_SPI_SET_PARAMS && !(data_block && r->ok))
            return true;
        return false;
    }
    if (r->body_len != expect + sl && !(r->body_len == sl && r->status == 1))
        return !(data_block && r->ok);
    if (op != ESPFAB_OP_SPI_FLASH_MD5 && r->size != r->body_len)
        return !(data_block && r->ok);
    if (st_avail < 2 || st[0] > 1)
        return true;
    if (st[0] == 0 && st[1] != 0)
        return !data_block;
    if (st[0] == 1 && !espfab_rom_error_known(st[1]))
        return true;
    if (sl == 4 && st_avail >= 4 && (st[2] || st[3]))
        return !(data_block && r->ok);
    return false;
}

static void on_frame(void *data, const uint8_t *frame, size_t len)
{
    espfab_session_t *s = data;
    struct link *L = &s->link;
    if (sess_finishing(s))
        return;
    if (len == 4 && memcmp(frame, "OHAI", 4) == 0) {
        if (L->on_ohai)
            L->on_ohai(s);
        return;
    }
    if (L->rx == RX_DRAIN || (L->rx == RX_RESETTING && L->cmd.state != CMD_WAITING))
        return;
    if (L->on_stream && L->cmd.state != CMD_WAITING) {
        L->on_stream(s, frame, len); /* READ_FLASH's data: no command waits for it */
        return;
    }
    bool sync_echo = len >= 8 && frame[0] == 1 && frame[1] == ESPFAB_OP_SYNC;
    if (L->rx == RX_SYNC_ECHOES) {
        if (sync_echo && ++s->conn.sync_replies >= 8) {
            sess_disarm(s); /* all eight answers are in: no need to wait longer */
            L->echoes_done(s);
        }
        return;
    }
    bool counts = !sync_echo && link_synced(s) && L->rx != RX_BAUD_SETTLE;
    if (L->cmd.state != CMD_WAITING) {
        if (counts) {
            L->bad_frames++;
            link_check(s);
        }
        return;
    }
    espfab_loader_t l = L->loader;
    if (!link_synced(s)) {
        /* Before the chip is known: the frame length says the status length. */
        if (len == ESPFAB_CMD_HDR + 2)
            l = ESPFAB_LOADER_ROM_ESP8266;
        else if (len == ESPFAB_CMD_HDR + 4)
            l = ESPFAB_LOADER_ROM_ESP32;
        else
            return;
    }
    espfab_resp_t r;
    espfab_match_t m = espfab_resp_accept(frame, len, l, L->cmd.expect, L->cmd.op, &r);
    if (m == ESPFAB_MATCH_SKIP) {
        if (counts)
            unexpected(s);
        return;
    }
    if (!link_synced(s) && L->cmd.op == ESPFAB_OP_SYNC)
        L->loader = l == ESPFAB_LOADER_ROM_ESP8266 && r.value == 0 ? ESPFAB_LOADER_STUB : l;
    if (m == ESPFAB_MATCH_OK && reply_suspect(s, &r)) {
        L->bad_frames++;
        ESPFAB_LOGD(TAG, "%s: corrupted reply to %s dropped", s->port_spec, espfab_op_name(L->cmd.op));
        if (!link_check(s))
            return;
        if (L->cmd.tries < L->cmd.max_tries) {
            sess_disarm(s);
            sess_resend_cmd(s);
        }
        return; /* else the timeout decides */
    }
    L->cmd.state = CMD_IDLE;
    sess_disarm(s);
    L->cmd.fn(s, m == ESPFAB_MATCH_UNSUPPORTED ? ESPFAB_E_PROTO_UNSUPPORTED : 0, &r);
}

static const espfab_slip_cbs_t slip_cbs_template = {on_frame, on_outside, on_slip_error, NULL};

static void on_read(espfab_port_t *p, const uint8_t *buf, ssize_t n, const espfab_fault_t *f, void *data)
{
    (void)p;
    espfab_session_t *s = data;
    if (sess_finishing(s))
        return;
    if (s->link.rx == RX_RESETTING && n < 0) {
        /* a USB port of the chip itself goes away (re-enumerates) */
        sess_note(s, "%s went away as the chip reset (its own USB port)", s->port_spec);
        sess_pass(s);
        return;
    }
    if (n < 0) {
        s->link.cmd.state = CMD_IDLE;
        if (f && f->code)
            sess_fail_with(s, f);
        else
            sess_fail(s, (int)n, "the port failed");
        return;
    }
    s->rec.bytes_received += (uint64_t)n;
    s->link.rx_total += (uint64_t)n;
    espfab_slip_cbs_t cbs = slip_cbs_template;
    cbs.data = s;
    espfab_slip_dec_feed(&s->link.dec, buf, (size_t)n, &cbs);
}

int link_read_start(espfab_session_t *s)
{
    return espfab_port_read_start(s->port, on_read, s);
}
