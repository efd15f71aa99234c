/*
 * connect.c - the connect phase: OPEN the port (asynchronously: the loop
 * keeps serving other boards while a tcp:// server answers;
 * s->conn.open_req is the request in flight, which sess_finish cancels),
 * RESET the board into its loader (DTR/RTS sequences, esptool's order of
 * attempts), SYNC.  Owns
 * s->conn; the boot text read before SYNC lands in s->conn.bootlog (link.c
 * scans it) and names the cause when no SYNC is answered.
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SYNC_TIMEOUT_MS 100u
#define SYNC_GAP_MS 50u
#define SYNC_TRIES 5
#define SYNC_COLLECT_MS 100u

static void start_attempt(espfab_session_t *s);
static void send_sync(espfab_session_t *s);
static void on_port_open(espfab_port_t *p, const espfab_fault_t *f, void *data);

void phase_connect_enter(espfab_session_t *s)
{
    struct connect *C = &s->conn;
    set_state(s, ESPFAB_SS_OPEN);
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (s->o.before == ESPFAB_RESET_CUSTOM) {
        C->ncustom = espfab_reset_parse(s->o.custom_reset, C->custom, ESPFAB_RESET_MAX_STEPS, &f);
        if (C->ncustom < 0) {
            sess_fail_with(s, &f);
            return;
        }
    }
    espfab_fault_clear(&f);
    /* The open does not block the loop (a TCP serial server may take
     * seconds to answer, or never): it continues in on_port_open.  A cancel
     * meanwhile wakes the session through its timer (espfab_session_cancel),
     * and sess_finish cancels the open request. */
    int rc = espfab_port_open_start(s->loop, s->port_spec, s->o.initial_baud, on_port_open, s,
                                    &C->open_req, &f);
    if (rc < 0) {
        C->open_req = NULL;
        sess_fail_with(s, &f);
        return;
    }
}

static void on_port_open(espfab_port_t *p, const espfab_fault_t *f, void *data)
{
    espfab_session_t *s = data;
    struct connect *C = &s->conn;
    C->open_req = NULL; /* freed once this returns */
    if (!p) {
        sess_fail_with(s, f);
        return;
    }
    s->port = p;
    if (s->cancel) {
        sess_fail_cancelled(s);
        return;
    }
    s->link.cur_baud = s->o.initial_baud;
    int rc = link_read_start(s);
    if (rc < 0) {
        sess_fail_port(s, rc);
        return;
    }
    C->attempt = 0;
    start_attempt(s);
}

static void do_reset_step(espfab_session_t *s)
{
    struct connect *C = &s->conn;
    while (C->step < C->nsteps) {
        const espfab_reset_step_t *st = &C->steps[C->step++];
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
            sess_fail(s, rc, "the port vanished while resetting the board");
            return;
        }
        if (rc < 0) {
            sess_note(s, "could not set DTR/RTS (%s): the board was NOT reset", espfab_strerror(rc));
            C->nsteps = 0;
            break;
        }
        if (st->wait_ms) {
            sess_arm(s, st->wait_ms, do_reset_step);
            return;
        }
    }
    set_state(s, ESPFAB_SS_SYNC);
    C->sync_try = 0;
    send_sync(s);
}

static void start_attempt(espfab_session_t *s)
{
    struct connect *C = &s->conn;
    set_state(s, ESPFAB_SS_RESET);
    C->nsteps = 0;
    C->step = 0;
    int vid = -1, pid = -1;
    sess_port_usb_id(s, &vid, &pid);
    espfab_reset_t before = espfab_reset_resolve(s->o.before, vid, pid);
    if (before != s->o.before && !C->usb_jtag_noted) {
        sess_note(s, "%s is the chip's own USB-JTAG-Serial (303a:1001): USB-JTAG reset", s->port_spec);
        C->usb_jtag_noted = true;
    }
    if (before == ESPFAB_RESET_CUSTOM) {
        memcpy(C->steps, C->custom, (size_t)C->ncustom * sizeof(C->custom[0]));
        C->nsteps = (size_t)C->ncustom;
    } else {
        C->nsteps = espfab_reset_for_attempt(before, C->attempt, C->steps, ESPFAB_RESET_MAX_STEPS);
    }
    if (C->nsteps && !espfab_port_has_modem_lines(s->port)) {
        if (C->lines != LINES_ABSENT)
            sess_note(s, "%s has no DTR/RTS lines (pty or TCP): not resetting; the board must already be "
                    "in download mode", s->port_spec);
        C->lines = LINES_ABSENT;
        C->nsteps = 0;
    } else if (C->nsteps) {
        C->lines = LINES_PRESENT;
        ESPFAB_LOGD(TAG, "%s: attempt %d: reset %s", s->port_spec, C->attempt + 1,
                    before == ESPFAB_RESET_CUSTOM ? "custom" : espfab_reset_attempt_name(before, C->attempt));
    }
    do_reset_step(s);
}

static void diagnose_no_sync(espfab_session_t *s)
{
    const struct connect *C = &s->conn;
    s->fault.retries = C->attempt;
    /* A port without DTR/RTS (pty, TCP) cannot reset the board: say so,
     * since the usual cure (the auto-reset circuit) does not apply. */
    char reset[64];
    if (C->lines == LINES_ABSENT)
        snprintf(reset, sizeof(reset), "not reset: the port has no DTR/RTS");
    else
        snprintf(reset, sizeof(reset), "reset: %s", espfab_reset_name(s->o.before));
    uint64_t rx = s->link.rx_total;
    switch (C->boot_seen) {
    case BOOT_SEEN_DOWNLOAD:
        sess_fail(s, ESPFAB_E_NO_SYNC_REPLY,
             "the board printed its download-mode banner (\"waiting for download\") but never answered "
             "SYNC (%" PRIu64 " bytes received)",
             rx);
        return;
    case BOOT_SEEN_NORMAL:
        sess_fail(s, ESPFAB_E_WRONG_BOOT_MODE, "the board printed \"%s\" (%s)", C->boot_line, reset);
        return;
    case BOOT_SEEN_NOTHING:
        break;
    }
    if (rx == 0)
        sess_fail(s, ESPFAB_E_NO_SERIAL_DATA, "not one byte came back to %d SYNC requests (%s)", C->syncs_sent,
             reset);
    else
        sess_fail(s, ESPFAB_E_SYNC_FAILED, "%" PRIu64 " bytes that are neither a boot message nor a reply (%s)", rx,
             reset);
}

static void on_sync_reply(espfab_session_t *s, int rc, const espfab_resp_t *r);
static void connect_synced(espfab_session_t *s);

static void send_sync(espfab_session_t *s)
{
    size_t n = espfab_cmd_sync(s->link.pkt, sizeof(s->link.pkt));
    s->conn.syncs_sent++;
    sess_send_cmd(s, n, 0, SYNC_TIMEOUT_MS, 1, on_sync_reply);
}

static void on_sync_reply(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    struct connect *C = &s->conn;
    if (rc == 0 && r && r->ok) {
        /* the loader answered; the link set s->link.loader from the reply */
        s->link.rx = RX_SYNC_ECHOES;
        s->link.echoes_done = connect_synced;
        C->sync_replies = 1;
        sess_arm(s, SYNC_COLLECT_MS, connect_synced);
        return;
    }
    if (++C->sync_try < SYNC_TRIES) {
        sess_arm(s, SYNC_GAP_MS, send_sync);
        return;
    }
    if (++C->attempt < s->o.connect_attempts) {
        start_attempt(s);
        return;
    }
    diagnose_no_sync(s);
}

static void connect_synced(espfab_session_t *s)
{
    s->link.rx = RX_REPLIES;
    ESPFAB_LOGD(TAG, "%s: synced (%d replies, %s, attempt %d)", s->port_spec, s->conn.sync_replies,
                espfab_loader_name(s->link.loader), s->conn.attempt + 1);
    link_set_loader(s, s->link.loader);
    if (sess_is_stub(s))
        sess_note(s, "a flasher stub is already running on the board");
    phase_done(s);
}
