/*
 * run.c - the run phase: leave the loader into the application.  By the
 * RTS line (esptool's hard reset); over the ROM's USB-OTG by the RTC
 * watchdog where esptool does (boot straps permitting; the P4 always);
 * without modem lines by the loader's own run request (FLASH_BEGIN 0,0 +
 * FLASH_END 1).  Once the reset is issued the link is RX_RESETTING: the
 * chip's text, and its own USB port going away, are a pass.  Owns s->run.
 */
#include "core.h"

#include <inttypes.h>

#define RUN_END_TIMEOUT_MS 500u
#define WDT_RESET_WAIT_MS 500u /* the RTC watchdog resets the chip within this */

static void hard_reset_step(espfab_session_t *s)
{
    struct runp *R = &s->run;
    while (R->step < R->nsteps) {
        const espfab_reset_step_t *st = &R->steps[R->step++];
        int rc = espfab_port_set_lines(s->port, st->dtr, st->rts);
        if (rc < 0 && R->step > 1) {
            /* the first pulse reset the chip and its own USB port went */
            sess_note(s, "%s went away as the chip reset (its own USB port)", s->port_spec);
            sess_pass(s);
            return;
        }
        if (rc < 0) {
            sess_note(s, "hard reset failed (%s): reset the board by hand", espfab_strerror(rc));
            sess_pass(s);
            return;
        }
        if (st->wait_ms) {
            sess_arm(s, st->wait_ms, hard_reset_step);
            return;
        }
    }
    sess_pass(s);
}

static void on_run_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    /* the loader may jump to the application before it answers */
    if (rc == 0 && !r->ok)
        sess_note(s, "the loader refused FLASH_END(1): reset the board by hand");
    sess_pass(s);
}

static void on_run_begin(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0 || !r->ok) {
        sess_note(s, "FLASH_BEGIN(0, 0) for the run request failed: reset the board by hand");
        sess_pass(s);
        return;
    }
    size_t n = espfab_cmd_flash_end(ESPFAB_OP_FLASH_END, 1, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, RUN_END_TIMEOUT_MS), 1, on_run_end);
}

static void reset_by_lines(espfab_session_t *s)
{
    if (espfab_port_has_modem_lines(s->port)) {
        s->link.rx = RX_RESETTING;
        s->run.nsteps = espfab_reset_hard(s->id.usb == ESPFAB_USB_OTG, s->run.steps, ESPFAB_RESET_MAX_STEPS);
        s->run.step = 0;
        hard_reset_step(s);
        return;
    }
    sess_note(s, "%s has no DTR/RTS lines: asking the loader to run the application (FLASH_BEGIN 0,0 + "
            "FLASH_END 1)", s->port_spec);
    bool stub = sess_is_stub(s);
    uint32_t block = stub ? sess_stub_block(s) : ESPFAB_ROM_FLASH_BLOCK;
    bool enc_word = !stub && s->id.chip && s->id.chip->rom_begin_encrypted_word;
    size_t n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, 0, 0, block, 0, enc_word, 0, s->link.pkt,
                                      sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), 1, on_run_begin);
}

static void wdt_reset_sent(espfab_session_t *s)
{
    const struct script *S = &s->scr;
    if (S->result != SCRIPT_OK && (S->idx + 1 < S->n || S->result == SCRIPT_REFUSED)) {
        s->link.rx = RX_REPLIES;
        reset_by_lines(s); /* the watchdog was not armed */
        return;
    }
    /* armed (a lost reply to the arming write may only mean that the chip
     * has reset already); the chip resets in milliseconds, so the plan's
     * final re-lock is not sent */
    s->link.rx = RX_RESETTING;
    sess_note(s, "reset by the RTC watchdog (%s: no RTS line resets this chip)", espfab_usb_mode_name(s->id.usb));
    sess_arm(s, WDT_RESET_WAIT_MS, sess_pass);
}

static void wdt_reset(espfab_session_t *s)
{
    const espfab_chip_t *chip = s->id.chip;
    size_t n = espfab_chip_wdt_reset_plan(chip, s->scr.ops, SCRIPT_CAP);
    size_t arm_step = 0;
    while (arm_step < n && s->scr.ops[arm_step].addr != chip->wdt_config0)
        arm_step++;
    s->scr.n = arm_step < n ? arm_step + 1 : n; /* up to the write that arms it */
    script_run(s, "resetting with the RTC watchdog", SCRIPT_SOFT_RESETS, wdt_reset_sent);
}

/* esptool (S2, S3): over USB-OTG the watchdog resets the chip when the boot
 * strap was latched low (GPIO_STRAP's SPI_BOOT bit clear) and download mode
 * is not forced over USB; otherwise the RTS line.  The P4 always uses the
 * watchdog. */
static void on_straps(espfab_session_t *s)
{
    const struct script *S = &s->scr;
    if (S->result == SCRIPT_OK && S->nvals == 2 && !(S->vals[0] & s->id.chip->strap_spi_boot) &&
        !(S->vals[1] & s->id.chip->force_dl)) {
        wdt_reset(s);
        return;
    }
    reset_by_lines(s);
}

static void reset_usb(espfab_session_t *s)
{
    const espfab_chip_t *chip = s->id.chip;
    if (s->id.usb == ESPFAB_USB_OTG && !s->id.sdm && chip->wdt_config0) {
        if (chip->otg_reset_by_wdt) {
            wdt_reset(s);
            return;
        }
        s->scr.ops[0] = (espfab_regop_t){ESPFAB_REGOP_READ, chip->strap_reg, 0, 0};
        s->scr.ops[1] = (espfab_regop_t){ESPFAB_REGOP_READ, chip->option1_reg, 0, 0};
        s->scr.n = 2;
        script_run(s, "reading the boot straps", SCRIPT_SOFT, on_straps);
        return;
    }
    reset_by_lines(s);
}

void phase_run_enter(espfab_session_t *s)
{
    const espfab_chip_t *chip = s->id.chip;
    set_state(s, ESPFAB_SS_RUN);
    if (s->o.after == ESPFAB_AFTER_NO_RESET) {
        sess_note(s, "the board is left in the loader (no reset)");
        sess_pass(s);
        return;
    }
    if (chip && chip->reset_clears_force_dl && !s->id.sdm) {
        /* else the chip may come back in download mode (arduino-esp32 #6762) */
        s->scr.ops[0] = (espfab_regop_t){ESPFAB_REGOP_WRITE, chip->option1_reg, 0, chip->force_dl};
        s->scr.n = 1;
        script_run(s, "clearing the force-download bit", SCRIPT_SOFT, reset_usb);
        return;
    }
    if (chip)
        reset_usb(s);
    else
        reset_by_lines(s);
}
