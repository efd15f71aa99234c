/*
 * flash_id.c - the flash-id phase: attach the SPI flash, then (as esptool
 * does) save SPI_USR/USR2, read the JEDEC id (RDID) through the chip's SPI
 * registers, run the XMC start-up check and the flash reset (both soft: a
 * failure goes on with the first RDID), restore SPI_USR/USR2.  Secure
 * download mode attaches the flash but cannot read its id.  Owns s->fid.
 */
#include "core.h"

#include <inttypes.h>

#define SPI_POLLS 10

static void spi_finished(espfab_session_t *s, uint32_t id);
static void next_regop(espfab_session_t *s);

static void flash_id_done(espfab_session_t *s, uint32_t id)
{
    espfab_attempt_t *a = &s->rec;
    id &= 0xFFFFFF;
    a->flash_jedec = id;
    if (id == 0 || id == 0xFFFFFF || id == 0xFFFF3F) {
        if (!s->o.force) {
            sess_fail(s, ESPFAB_E_FLASH_ID_FAILED, "RDID (0x9F) returned 0x%06" PRIX32 ": no SPI flash answers", id);
            return;
        }
        sess_note(s, "RDID returned 0x%06" PRIX32 ": no flash answers; going on (force)", id);
    }
    a->flash_size = espfab_flash_size_from_jedec(id);
    char size[32] = "unknown size";
    if (a->flash_size)
        sess_fmt_bytes(size, sizeof(size), a->flash_size);
    sess_note(s, "flash %s id 0x%06" PRIx32 ", %s", espfab_flash_vendor((uint8_t)id), id, size);
    phase_done(s);
}

/* ---- the SPI command executor --------------------------------------------- */

/* A soft SPI command (the XMC check, the flash reset: esptool ignores their
 * failures too) failed: go on with the first RDID. */
static void spi_soft_fail(espfab_session_t *s, const char *what)
{
    sess_note(s, "SPI flash command 0x%02X %s; going on with RDID 0x%06" PRIX32, s->fid.opcode, what, s->fid.rdid);
    spi_finished(s, s->fid.rdid);
}

static void on_regop(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    struct flash_id *F = &s->fid;
    const espfab_regop_t *op = &F->ops[F->idx];
    bool soft = F->policy == SPI_SOFT;
    if ((rc < 0 || !r->ok) && soft) {
        spi_soft_fail(s, rc < 0 ? espfab_strerror(rc) : "was refused");
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_TIMEOUT : ESPFAB_E_FLASH_ID_FAILED,
             "no reply to %s(0x%08" PRIX32 ") while running SPI flash command 0x%02X",
             op->kind == ESPFAB_REGOP_WRITE ? "WRITE_REG" : "READ_REG", op->addr, F->opcode);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, op->kind == ESPFAB_REGOP_WRITE ? ESPFAB_OP_WRITE_REG : ESPFAB_OP_READ_REG,
                  "running SPI flash command 0x%02X (0x%08" PRIX32 ")", F->opcode, op->addr);
        return;
    }
    if (op->kind == ESPFAB_REGOP_POLL_CLEAR && (r->value & op->mask) != 0) {
        if (++F->polls >= SPI_POLLS) {
            if (soft)
                spi_soft_fail(s, "did not complete");
            else
                sess_fail(s, ESPFAB_E_FLASH_ID_FAILED, "SPI flash command 0x%02X did not complete (0x%08" PRIX32
                     " = 0x%08" PRIX32 ")", F->opcode, op->addr, r->value);
            return;
        }
        next_regop(s);
        return;
    }
    if (op->kind == ESPFAB_REGOP_READ) {
        F->done(s, r->value);
        return;
    }
    F->idx++;
    F->polls = 0;
    next_regop(s);
}

static void next_regop(espfab_session_t *s)
{
    struct flash_id *F = &s->fid;
    if (F->idx >= F->nops) {
        sess_fail(s, ESPFAB_E_FLASH_ID_FAILED, "SPI plan has no read step");
        return;
    }
    const espfab_regop_t *op = &F->ops[F->idx];
    size_t n = op->kind == ESPFAB_REGOP_WRITE
                   ? espfab_cmd_write_reg(op->addr, op->value, 0xFFFFFFFFu, 0, s->link.pkt, sizeof(s->link.pkt))
                   : espfab_cmd_read_reg(op->addr, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_regop);
}

/* Runs one SPI flash command through the chip's SPI registers, then
 * done(W0). */
static void start_spi(espfab_session_t *s, uint8_t opcode, bool has_addr, uint32_t addr, int miso_bits,
                      spi_fn done)
{
    struct flash_id *F = &s->fid;
    F->nops = espfab_chip_spi_plan(s->id.chip, opcode, has_addr, addr, miso_bits, F->ops, SPI_OPS);
    F->idx = 0;
    F->polls = 0;
    F->opcode = opcode;
    F->done = done;
    next_regop(s);
}

/* ---- the flash reset (esptool: after the id checks, not in SDM) ----
 * An application may leave the flash in a mode the ROM does not expect
 * (QPI/OPI, 4-byte addresses, 120 MHz): Reset Enable (66h) + Reset (99h)
 * put it back.  Soft: a failure goes on. */

static void flash_reset_done(espfab_session_t *s)
{
    spi_finished(s, s->fid.rdid);
}

static void on_flash_reset_99(espfab_session_t *s, uint32_t v)
{
    (void)v;
    sess_arm(s, 1, flash_reset_done); /* tRST */
}

static void on_flash_reset_66(espfab_session_t *s, uint32_t v)
{
    (void)v;
    start_spi(s, 0x99, false, 0, 0, on_flash_reset_99);
}

static void flash_reset(espfab_session_t *s, uint32_t id)
{
    s->fid.rdid = id & 0xFFFFFF;
    s->fid.policy = SPI_SOFT;
    start_spi(s, 0x66, false, 0, 0, on_flash_reset_66);
}

/* ---- the XMC start-up check (esptool's flash_xmc_startup) ---- */

static void xmc_next(espfab_session_t *s);

static void on_rdid_after_xmc(espfab_session_t *s, uint32_t v)
{
    v &= 0xFFFFFF;
    if (espfab_flash_is_xmc_strict(v))
        sess_note(s, "XMC flash started (RDID 0x%06" PRIX32 " after the start-up sequence)", v);
    else
        sess_note(s, "XMC flash start-up sequence did not help (RDID 0x%06" PRIX32 ")", v);
    flash_reset(s, v);
}

static void xmc_cmd_done(espfab_session_t *s, uint32_t v)
{
    (void)v;
    s->fid.xmc_step++;
    if (s->fid.xmc_step == 3)
        sess_arm(s, 2, xmc_next); /* tXUDPD after leaving ultra-deep power-down */
    else
        xmc_next(s);
}

static void xmc_next(espfab_session_t *s)
{
    /* deep power-down, ultra-deep power-down, exit it, release power-down */
    static const uint8_t seq[] = {0xB9, 0x79, 0xFF, 0xAB};
    if (s->fid.xmc_step < (int)sizeof(seq))
        start_spi(s, seq[s->fid.xmc_step], false, 0, 0, xmc_cmd_done);
    else
        start_spi(s, 0x9F, false, 0, 24, on_rdid_after_xmc);
}

static void on_sfdp_vendor(espfab_session_t *s, uint32_t v)
{
    if ((v & 0xFF) != ESPFAB_FLASH_VENDOR_XMC) {
        flash_reset(s, s->fid.rdid);
        return;
    }
    sess_note(s, "XMC flash did not start (RDID 0x%06" PRIX32 ", SFDP says XMC): running its start-up "
            "sequence B9 79 FF AB", s->fid.rdid);
    s->fid.xmc_step = 0;
    xmc_next(s);
}

static void on_rdid(espfab_session_t *s, uint32_t v)
{
    s->fid.rdid = v & 0xFFFFFF;
    if (espfab_flash_is_xmc_strict(s->fid.rdid)) {
        flash_reset(s, s->fid.rdid);
        return;
    }
    /* the SFDP vendor byte (0x10) says XMC although RDID does not: an XMC
     * chip that did not come out of power-up right */
    s->fid.policy = SPI_SOFT;
    start_spi(s, 0x5A, true, 0x10, 8, on_sfdp_vendor);
}

/* ---- SPI_USR / SPI_USR2 saved around the commands ------------------------- */

static void spi_restored(espfab_session_t *s)
{
    flash_id_done(s, s->fid.rdid);
}

/* The SPI commands changed SPI_USR and SPI_USR2, which the ROM's own flash
 * functions rely on: put back what they held (esptool does, per command). */
static void spi_finished(espfab_session_t *s, uint32_t id)
{
    const espfab_chip_t *chip = s->id.chip;
    s->fid.policy = SPI_STRICT;
    s->fid.rdid = id & 0xFFFFFF;
    s->scr.ops[0] = (espfab_regop_t){ESPFAB_REGOP_WRITE, chip->spi_base + chip->spi_usr, s->fid.saved[0], 0};
    s->scr.ops[1] = (espfab_regop_t){ESPFAB_REGOP_WRITE, chip->spi_base + chip->spi_usr2, s->fid.saved[1], 0};
    s->scr.n = 2;
    script_run(s, "restoring SPI_USR/SPI_USR2", SCRIPT_STRICT, spi_restored);
}

static void spi_usr_saved(espfab_session_t *s)
{
    s->fid.saved[0] = s->scr.vals[0];
    s->fid.saved[1] = s->scr.vals[1];
    start_spi(s, 0x9F, false, 0, 24, on_rdid);
}

static void start_rdid(espfab_session_t *s)
{
    const espfab_chip_t *chip = s->id.chip;
    s->fid.policy = SPI_STRICT;
    s->scr.ops[0] = (espfab_regop_t){ESPFAB_REGOP_READ, chip->spi_base + chip->spi_usr, 0, 0};
    s->scr.ops[1] = (espfab_regop_t){ESPFAB_REGOP_READ, chip->spi_base + chip->spi_usr2, 0, 0};
    s->scr.n = 2;
    script_run(s, "saving SPI_USR/SPI_USR2", SCRIPT_STRICT, spi_usr_saved);
}

/* ---- attach ---------------------------------------------------------------- */

/* Secure download mode: the flash is attached (SPI_ATTACH is allowed) but
 * its id cannot be read (no register access). */
static void sdm_flash_attached(espfab_session_t *s)
{
    sess_note(s, "secure download mode: the flash id cannot be read");
    phase_done(s);
}

static void on_attach(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        sess_fail(s, rc, "no reply to %s (attaching the flash)", espfab_op_name(s->link.cmd.op));
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, s->link.cmd.op, "attaching the flash");
        return;
    }
    if (s->id.sdm)
        sdm_flash_attached(s);
    else
        start_rdid(s);
}

void phase_flash_id_enter(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_FLASH_ID);
    espfab_loader_t l = s->link.loader;
    if (s->id.sdm && l != ESPFAB_LOADER_ROM_ESP32) {
        sdm_flash_attached(s);
        return;
    }
    size_t n;
    if (l == ESPFAB_LOADER_ROM_ESP32) {
        n = espfab_cmd_spi_attach(0, l, s->link.pkt, sizeof(s->link.pkt));
    } else if (l == ESPFAB_LOADER_ROM_ESP8266) {
        /* no SPI_ATTACH in this ROM: FLASH_BEGIN(0, 0) attaches the flash */
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, 0, 0, ESPFAB_ROM_FLASH_BLOCK, 0, false, 0, s->link.pkt,
                                   sizeof(s->link.pkt));
    } else {
        start_rdid(s); /* the stub attached the flash when it started */
        return;
    }
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_attach);
}
