/*
 * stub_baud.c - two phases: STUB uploads the flasher stub into RAM
 * (MEM_BEGIN / MEM_DATA / MEM_END per segment) and waits for its greeting
 * "OHAI" (when the greeting is lost, a SYNC that the stub answers with
 * value 0 tells that it runs); BAUD raises the link's rate (CHANGE_BAUDRATE,
 * the port follows, a register read at the new rate confirms it).  Owns
 * s->stub.
 */
#include "core.h"

#include <inttypes.h>
#include <string.h>

#define MEM_END_ROM_TIMEOUT_MS 200u
#define OHAI_SYNC_TIMEOUT_MS 100u
#define BAUD_SETTLE_MS 50u
#define BAUD_CONFIRM_TIMEOUT_MS 500u /* a READ_REG at the new rate answers in milliseconds */

static void stub_next(espfab_session_t *s);

/* ---- STUB ------------------------------------------------------------------ */

static void stub_started(espfab_session_t *s)
{
    s->stub.greeting = OHAI_RECEIVED;
    link_set_loader(s, ESPFAB_LOADER_STUB);
    ESPFAB_LOGD(TAG, "%s: stub running", s->port_spec);
    phase_done(s);
}

static void stub_ohai(espfab_session_t *s)
{
    switch (s->stub.greeting) {
    case OHAI_PENDING:
        s->stub.greeting = OHAI_EARLY; /* before MEM_END's reply */
        return;
    case OHAI_WAITING:
        sess_disarm(s);
        stub_started(s);
        return;
    case OHAI_EARLY:
    case OHAI_PROBING:
    case OHAI_RECEIVED:
        return;
    }
}

static void stub_probe_drained(espfab_session_t *s)
{
    sess_note(s, "the stub's OHAI was lost on the line; the stub answered SYNC");
    stub_started(s);
}

/* A stub answers SYNC with value 0 (the ROM never does): then it runs and
 * only its greeting was lost or garbled.  Its further SYNC replies drain. */
static void on_stub_probe(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == 0 && r->ok && r->value == 0) {
        sess_drain_then(s, stub_probe_drained);
        return;
    }
    sess_fail(s, ESPFAB_E_STUB_NO_OHAI, "no OHAI from the stub (entry 0x%08" PRIX32 ", %s), and %s", s->stub.stub->entry,
         s->stub.stub->path, rc < 0 ? "no answer to SYNC after it" : "the ROM, not the stub, answered SYNC after it");
}

static void on_ohai_timeout(espfab_session_t *s)
{
    s->stub.greeting = OHAI_PROBING;
    size_t n = espfab_cmd_sync(s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, OHAI_SYNC_TIMEOUT_MS), 3, on_stub_probe);
}

static void on_mem_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    /* Against the ROM the MEM_END reply may be lost: the stub may reset the
     * UART first.  esptool ignores it; what matters is OHAI. */
    if (rc == 0 && !r->ok && sess_is_stub(s)) {
        sess_fail_resp(s, r, ESPFAB_OP_MEM_END, "starting the stub");
        return;
    }
    if (s->stub.greeting == OHAI_EARLY) {
        stub_started(s);
        return;
    }
    s->stub.greeting = OHAI_WAITING;
    sess_arm(s, sess_scaled(s, DEFAULT_TIMEOUT_MS), on_ohai_timeout);
}

static void mem_block_acked(espfab_session_t *s)
{
    s->stub.seq++;
    stub_next(s);
}

static void on_mem_cmd(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    uint8_t op = s->link.cmd.op;
    if (rc < 0) {
        sess_fail(s, rc, "no reply to %s (stub upload, segment %d)", espfab_op_name(op), s->stub.seg);
        return;
    }
    if (op == ESPFAB_OP_MEM_DATA) {
        if (sess_block_reply(s, r, mem_block_acked))
            return;
    } else if (r->ok) {
        stub_next(s);
        return;
    } else if (s->link.cmd.tries > 1) {
        s->fault.retries = s->link.cmd.tries;
    }
    sess_fail_resp(s, r, op, "stub upload segment %d", s->stub.seg);
}

/* Sends the next MEM_BEGIN / MEM_DATA / MEM_END of the upload. */
static void stub_next(espfab_session_t *s)
{
    struct stubp *P = &s->stub;
    const espfab_stub_t *st = P->stub;
    for (;;) {
        const uint8_t *data = P->seg == 0 ? st->text : st->data;
        size_t len = P->seg == 0 ? st->text_len : st->data_len;
        uint32_t addr = P->seg == 0 ? st->text_start : st->data_start;
        if (P->seg >= 2) {
            size_t n = espfab_cmd_mem_end(st->entry == 0 ? 1 : 0, st->entry, s->link.pkt, sizeof(s->link.pkt));
            sess_send_cmd(s, n, 0, sess_is_stub(s) ? sess_scaled(s, DEFAULT_TIMEOUT_MS) : MEM_END_ROM_TIMEOUT_MS, 1, on_mem_end);
            return;
        }
        if (len == 0) {
            P->seg++;
            P->seq = (uint32_t)-1;
            continue;
        }
        uint32_t rb = sess_ram_block(s);
        uint32_t blocks = (uint32_t)((len + rb - 1) / rb);
        if (P->seq == (uint32_t)-1) {
            P->seq = 0;
            size_t n = espfab_cmd_mem_begin((uint32_t)len, blocks, rb, addr, s->link.pkt, sizeof(s->link.pkt));
            sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), 2, on_mem_cmd);
            return;
        }
        if (P->seq < blocks) {
            size_t off = (size_t)P->seq * rb;
            size_t bl = len - off < rb ? len - off : rb;
            size_t n = espfab_cmd_mem_data(P->seq, data + off, bl, s->link.pkt, sizeof(s->link.pkt));
            sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), BLOCK_TRIES, on_mem_cmd);
            return;
        }
        P->seg++;
        P->seq = (uint32_t)-1;
    }
}

/* The ROM loader stays (with a note why, where it is not the user's own
 * choice): true, and the phase is over. */
static bool rom_loader_stays(espfab_session_t *s)
{
    int rev = s->rec.rev_full;
    if (sess_is_stub(s) || s->o.no_stub)
        return true;
    if (s->id.sdm) {
        sess_note(s, "secure download mode: the stub cannot be loaded; using the ROM loader");
        return true;
    }
    if (s->id.chip->id == ESPFAB_CHIP_ESP32C2 && rev >= 0 && rev < 100) {
        sess_note(s, "no flasher stub for ESP32-C2 v%d.%d (ECO0): using the ROM loader", rev / 100, rev % 100);
        return true;
    }
    return false;
}

void phase_stub_enter(espfab_session_t *s)
{
    struct stubp *P = &s->stub;
    if (rom_loader_stays(s)) {
        phase_done(s);
        return;
    }
    set_state(s, ESPFAB_SS_STUB);
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (P->stub) {
        /* loaded by an earlier pass */
    } else if (s->o.stubs) {
        P->stub = espfab_stub_cache_get(s->o.stubs, s->id.chip, s->rec.rev_full, &f);
    } else if (espfab_stub_load(s->o.stub_dir, s->id.chip, s->rec.rev_full, &P->own, &f) == 0) {
        P->stub = &P->own;
        P->own_loaded = true;
    }
    if (!P->stub) {
        sess_fail_with(s, &f);
        return;
    }
    memcpy(s->rec.stub_sha256, P->stub->sha256, sizeof(s->rec.stub_sha256));
    P->seg = 0;
    P->seq = (uint32_t)-1;
    P->greeting = OHAI_PENDING;
    s->link.on_ohai = stub_ohai;
    stub_next(s);
}

/* ---- BAUD ------------------------------------------------------------------ */

static void baud_confirmed(espfab_session_t *s)
{
    s->rec.baud = s->link.cur_baud;
    phase_done(s);
}

static void on_baud_confirm(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    (void)r;
    s->link.rx = RX_REPLIES;
    if (rc == ESPFAB_E_TIMEOUT) {
        uint64_t junk = s->link.rx_total - s->stub.baud_rx_mark;
        const char *op = espfab_op_name(s->link.cmd.op);
        if (s->link.cmd.tries > 1)
            s->fault.retries = s->link.cmd.tries;
        if (junk)
            sess_fail(s, ESPFAB_E_BAUD_CHANGE_FAILED,
                 "%u baud worked (the highest that did); at %u only garbage came back (%" PRIu64
                 " bytes, no reply to %s)",
                 s->o.initial_baud, s->link.cur_baud, junk, op);
        else
            sess_fail(s, ESPFAB_E_BAUD_CHANGE_FAILED,
                 "%u baud worked (the highest that did); at %u nothing came back (no reply to %s)",
                 s->o.initial_baud, s->link.cur_baud, op);
        return;
    }
    if (rc == ESPFAB_E_PROTO_UNSUPPORTED) {
        /* an intact refusal: the new rate works; its repeats drain */
        sess_drain_then(s, baud_confirmed);
        return;
    }
    baud_confirmed(s);
}

static void after_baud_settle(espfab_session_t *s)
{
    espfab_port_flush_input(s->port);
    espfab_slip_dec_reset(&s->link.dec);
    s->stub.baud_rx_mark = s->link.rx_total;
    size_t n;
    size_t expect = 0;
    if (s->id.sdm) {
        /* no register reads in secure download mode; GET_SECURITY_INFO is allowed */
        n = espfab_cmd_security_info(s->link.pkt, sizeof(s->link.pkt));
        expect = espfab_cmd_resp_data_len(ESPFAB_OP_GET_SECURITY_INFO, s->link.loader);
    } else {
        n = espfab_cmd_read_reg(s->id.chip->uart_date_reg, s->link.pkt, sizeof(s->link.pkt));
    }
    sess_send_cmd(s, n, expect, sess_scaled(s, BAUD_CONFIRM_TIMEOUT_MS), REG_TRIES, on_baud_confirm);
}

static void on_baud_reply(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    (void)r;
    if (rc == ESPFAB_E_TIMEOUT) {
        sess_fail(s, ESPFAB_E_BAUD_CHANGE_FAILED, "no reply to CHANGE_BAUDRATE %u at %u baud", s->o.baud,
             s->link.cur_baud);
        return;
    }
    /* esptool does not check this reply's status */
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (espfab_port_set_baud(s->port, s->o.baud, &f) < 0) {
        sess_fail_with(s, &f);
        return;
    }
    s->link.cur_baud = s->o.baud;
    s->link.rx = RX_BAUD_SETTLE;
    sess_arm(s, BAUD_SETTLE_MS, after_baud_settle);
}

/* The rate stays (with a note why, where the loader decides): true. */
static bool rate_stays(espfab_session_t *s)
{
    uint32_t cur = s->link.cur_baud;
    if (s->o.baud == cur || s->o.baud < s->o.initial_baud)
        return true;
    if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266) {
        sess_note(s, "the ESP8266 ROM cannot change the baud rate: staying at %u (use the stub for speed)", cur);
        return true;
    }
    if (s->id.sdm && s->id.chip->id == ESPFAB_CHIP_ESP32C2) {
        sess_note(s, "ESP32-C2 in secure download mode cannot change the baud rate: staying at %u", cur);
        return true;
    }
    return false;
}

void phase_baud_enter(espfab_session_t *s)
{
    if (rate_stays(s)) {
        s->rec.baud = s->link.cur_baud;
        phase_done(s);
        return;
    }
    set_state(s, ESPFAB_SS_BAUD);
    uint32_t wire_baud = s->o.baud, old = 0;
    if (sess_is_stub(s))
        old = s->link.cur_baud;
    else
        wire_baud = espfab_chip_rom_baud_at(s->id.chip, s->id.regs, s->id.nregs, s->o.initial_baud, s->o.baud);
    size_t n = espfab_cmd_change_baud(wire_baud, old, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), 1, on_baud_reply);
}
