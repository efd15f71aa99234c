/*
 * identify.c - the identify phase: DETECT the chip (GET_SECURITY_INFO, else
 * the magic register), READ_INFO (MAC, revision, crystal: each register read
 * until two reads agree), then what esptool's _post_connect does: the
 * USB-Serial/JTAG watchdogs off, an ESP32-P4 v3.1/v3.2's flash powered.
 * Owns s->id, which every later phase reads.
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>

static void read_magic(espfab_session_t *s);
static void chip_detected(espfab_session_t *s);

static void on_secinfo(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    struct ident *I = &s->id;
    if (rc == 0 && r->ok && r->data_len >= 12 && espfab_secinfo_parse(r->data, r->data_len, &I->sec) == 0) {
        s->rec.has_secinfo = true;
        s->rec.secinfo_flags = I->sec.flags;
        I->sdm = (I->sec.flags & ESPFAB_SECINFO_SECURE_DOWNLOAD) != 0;
        if (I->sec.has_chip_id) {
            I->chip = espfab_chip_by_image_id((int)I->sec.chip_id);
            snprintf(s->rec.chip_id, sizeof(s->rec.chip_id), "%" PRIu32, I->sec.chip_id);
            if (!I->chip) {
                sess_fail(s, ESPFAB_E_CHIP_UNKNOWN, "security info reports chip id %" PRIu32 " (espfab knows %s)",
                     I->sec.chip_id, espfab_chip_keys());
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
    sess_drain_then(s, read_magic);
}

/* GET_SECURITY_INFO first, the magic register only when it fails
 * (docs/protocol.md 4.2): the P4 from ECO5 on crashes when 0x40001000 is read. */
void phase_identify_enter(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_DETECT);
    if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266) {
        /* 2-byte status from a ROM: only the ESP8266; it has no security info */
        read_magic(s);
        return;
    }
    size_t n = espfab_cmd_security_info(s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_GET_SECURITY_INFO, s->link.loader),
             sess_scaled(s, DEFAULT_TIMEOUT_MS), 2, on_secinfo);
}

static void on_magic(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == ESPFAB_E_PROTO_UNSUPPORTED || (rc == 0 && !r->ok && espfab_resp_is_unsupported(r))) {
        s->id.chip = espfab_chip_get(ESPFAB_CHIP_ESP32S2);
        s->id.sdm = true;
        chip_detected(s);
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc, "no reply to READ_REG(0x%08X) (chip detection)", ESPFAB_CHIP_MAGIC_ADDR);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, ESPFAB_OP_READ_REG, "chip detection");
        return;
    }
    s->id.chip = espfab_chip_by_magic(r->value);
    if (!s->id.chip) {
        sess_fail(s, ESPFAB_E_CHIP_UNKNOWN, "magic register 0x%08X reads 0x%08" PRIX32 " (espfab knows %s)",
             ESPFAB_CHIP_MAGIC_ADDR, r->value, espfab_chip_keys());
        return;
    }
    chip_detected(s);
}

static void read_magic(espfab_session_t *s)
{
    size_t n = espfab_cmd_read_reg(ESPFAB_CHIP_MAGIC_ADDR, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_magic);
}

static void find_usb_mode(espfab_session_t *s)
{
    struct ident *I = &s->id;
    int vid = -1, pid = -1;
    sess_port_usb_id(s, &vid, &pid);
    espfab_usb_mode_t m = espfab_chip_usb_mode(I->chip, vid, pid);
    if (m == ESPFAB_USB_NONE && s->o.before == ESPFAB_RESET_USB_JTAG && I->chip->usb_jtag)
        m = ESPFAB_USB_JTAG; /* said by the user: a serial server or a pty cannot tell */
    if (m != I->usb && m != ESPFAB_USB_NONE)
        sess_note(s, "the port is the %s's own %s%s", I->chip->name, espfab_usb_mode_name(m),
             m == ESPFAB_USB_OTG ? ": 2 KiB blocks, watchdog reset" : ": its watchdogs will be disabled");
    I->usb = m;
}

static void read_next_info_reg(espfab_session_t *s);

static void start_read_info(espfab_session_t *s)
{
    struct ident *I = &s->id;
    set_state(s, ESPFAB_SS_READ_INFO);
    if (I->sdm) {
        snprintf(I->info.description, sizeof(I->info.description), "%s", I->chip->name);
        phase_done(s); /* no register reads in secure download mode */
        return;
    }
    I->nregs = espfab_chip_info_regs(I->chip, I->reg_addrs, INFO_REGS);
    I->idx = 0;
    I->info_reads = 0;
    read_next_info_reg(s);
}

static void chip_detected(espfab_session_t *s)
{
    const espfab_chip_t *chip = s->id.chip;
    snprintf(s->rec.chip, sizeof(s->rec.chip), "%s", chip->name);
    find_usb_mode(s);
    if (s->id.sdm)
        sess_note(s, "%s is in secure download mode: no register reads, no stub, no MD5", chip->name);
    if (s->o.chip != ESPFAB_CHIP_UNKNOWN && s->o.chip != chip->id) {
        const espfab_chip_t *want = espfab_chip_get(s->o.chip);
        if (!s->o.force) {
            sess_fail(s, ESPFAB_E_CHIP_MISMATCH, "this board is %s, the profile is for %s", chip->name,
                 want ? want->name : "another chip");
            return;
        }
        sess_note(s, "this board is %s, the profile is for %s: going on (force)", chip->name,
             want ? want->name : "another chip");
    }
    start_read_info(s);
}

/* ---- after READ_INFO: esptool's _post_connect ----------------------------- */

static void flash_powered(espfab_session_t *s)
{
    sess_note(s, "%s v%d.%d: flash powered (its supply is off in download mode)", s->id.chip->name,
         s->rec.rev_full / 100, s->rec.rev_full % 100);
    phase_done(s);
}

/* An ESP32-P4 v3.1/v3.2 needs its flash powered before it can be attached. */
static void power_flash(espfab_session_t *s)
{
    struct ident *I = &s->id;
    s->scr.n = espfab_chip_flash_power_plan(I->chip, s->rec.rev_full, I->regs, I->nregs, s->scr.ops, SCRIPT_CAP);
    if (s->scr.n) {
        script_run(s, "powering the flash", SCRIPT_STRICT, flash_powered);
        return;
    }
    phase_done(s);
}

static void watchdogs_disabled(espfab_session_t *s)
{
    s->id.wdt = WDT_DISABLED;
    sess_note(s, "%s: RTC watchdog off, super watchdog feeding itself", espfab_usb_mode_name(s->id.usb));
    power_flash(s);
}

/* Over USB-Serial/JTAG the ROM feeds no watchdog and they would reset the
 * chip in the middle of the write.  Not in SDM (no register writes; start_
 * read_info does not come here) nor when a stub was already running (it was
 * done). */
static void post_connect(espfab_session_t *s)
{
    if (s->id.usb == ESPFAB_USB_JTAG && !sess_is_stub(s)) {
        s->scr.n = espfab_chip_wdt_disable_plan(s->id.chip, s->scr.ops, SCRIPT_CAP);
        if (s->scr.n) {
            script_run(s, "disabling the watchdogs (USB-Serial/JTAG)", SCRIPT_STRICT, watchdogs_disabled);
            return;
        }
    }
    power_flash(s);
}

static void on_info_reg(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    struct ident *I = &s->id;
    if (rc < 0 || !r->ok) {
        if (rc == 0)
            sess_fail_resp(s, r, ESPFAB_OP_READ_REG, "READ_REG(0x%08" PRIX32 ")", I->reg_addrs[I->idx]);
        else
            sess_fail(s, rc, "no reply to READ_REG(0x%08" PRIX32 ") (chip info)", I->reg_addrs[I->idx]);
        return;
    }
    /* These values go into the record (MAC, revision): each is read until
     * two reads agree, so that noise on the line cannot forge a MAC. */
    if (I->info_reads == 0 || r->value != I->info_prev) {
        I->info_prev = r->value;
        if (++I->info_reads > 4) {
            sess_fail(s, ESPFAB_E_LINK_UNRELIABLE, "READ_REG(0x%08" PRIX32 ") gave different values in 4 reads; "
                 "%u corrupted frames at %u baud", I->reg_addrs[I->idx], s->link.bad_frames, s->link.cur_baud);
            return;
        }
        if (I->info_reads > 1)
            s->link.bad_frames++;
        read_next_info_reg(s);
        return;
    }
    I->info_reads = 0;
    I->regs[I->idx].addr = I->reg_addrs[I->idx];
    I->regs[I->idx].value = r->value;
    I->idx++;
    read_next_info_reg(s);
}

static void read_next_info_reg(espfab_session_t *s)
{
    struct ident *I = &s->id;
    if (I->idx < I->nregs) {
        size_t n = espfab_cmd_read_reg(I->reg_addrs[I->idx], s->link.pkt, sizeof(s->link.pkt));
        sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_info_reg);
        return;
    }
    espfab_attempt_t *a = &s->rec;
    int rc = espfab_chip_decode_info(I->chip, I->regs, I->nregs, s->link.cur_baud, &I->info);
    if (rc == 0) {
        I->have_info = true;
        const uint8_t *m = I->info.mac;
        snprintf(a->mac, sizeof(a->mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        a->rev_full = I->info.rev_full;
        a->xtal_mhz = I->info.xtal_mhz;
        if (I->chip->id == ESPFAB_CHIP_ESP8266)
            snprintf(a->chip_id, sizeof(a->chip_id), "0x%06" PRIx32, I->info.esp8266_chip_id);
        sess_note(s, "chip is %s, MAC %s, crystal %d MHz", I->info.description, a->mac, a->xtal_mhz);
    } else {
        snprintf(I->info.description, sizeof(I->info.description), "%s", I->chip->name);
        sess_note(s, "chip is %s; its MAC could not be decoded (%s)", I->chip->name, espfab_strerror(rc));
    }
    post_connect(s);
}
