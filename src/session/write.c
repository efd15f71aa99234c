/*
 * write.c - three phases: SPI_PARAMS (the flash geometry for the loader),
 * ERASE (ERASE_FLASH or ERASE_REGION per region, stub only), and WRITE:
 * PREPARE (each region's bytes via prepare.h, compressed once per blob on
 * the threadpool) then FLASH_(DEFL_)BEGIN / DATA... / END per region.  The
 * next data block is encoded while the current one is in flight, so it
 * leaves the moment the reply arrives.  Owns s->wr.
 */
#include "core.h"

#include <inttypes.h>
#include <string.h>

#include "espfab/prepare.h"

#define ERASE_CHIP_TIMEOUT_MS 120000u
#define ERASE_PER_MB_S 40.0
#define WRITE_PER_MB_S 40.0
#define BEGIN_TRIES 3 /* FLASH_(DEFL_)BEGIN: safe to repeat before any data */

/* ---- SPI_PARAMS ------------------------------------------------------------ */

static void on_spi_params(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        sess_fail(s, rc, "no reply to SPI_SET_PARAMS");
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, ESPFAB_OP_SPI_SET_PARAMS, NULL);
        return;
    }
    phase_done(s);
}

void phase_spi_params_enter(espfab_session_t *s)
{
    if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266) {
        phase_done(s);
        return;
    }
    set_state(s, ESPFAB_SS_SPI_PARAMS);
    uint32_t size = espfab_flash_params_size(&s->o.flash);
    if (!size)
        size = s->rec.flash_size;
    if (!size) {
        size = 4u << 20;
        sess_note(s, "flash size unknown%s: telling the loader 4 MiB; give the board's with --flash-size "
                "(flash_size in a profile) if it differs",
             s->id.sdm ? " (secure download mode hides the flash id)" : "");
    }
    size_t n = espfab_cmd_spi_set_params(size, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_spi_params);
}

/* ---- ERASE ------------------------------------------------------------------ */

static void erase_next(espfab_session_t *s);

static void on_erase(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    uint8_t op = s->link.cmd.op;
    if (rc == ESPFAB_E_TIMEOUT) {
        sess_fail(s, ESPFAB_E_ERASE_TIMEOUT, "no reply to %s within %.0f s", espfab_op_name(op),
             (double)s->link.cmd.timeout_ms / 1000.0);
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc, "%s refused", espfab_op_name(op));
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, op, NULL);
        return;
    }
    if (op == ESPFAB_OP_ERASE_FLASH) {
        phase_done(s);
        return;
    }
    s->wr.ridx++;
    erase_next(s);
}

static void erase_next(espfab_session_t *s)
{
    if (s->wr.ridx >= s->o.nregions) {
        phase_done(s);
        return;
    }
    const espfab_session_region_t *sr = &s->o.regions[s->wr.ridx];
    uint32_t start = sr->offset & ~(uint32_t)(ESPFAB_SECTOR - 1);
    uint64_t len = sr->blob ? sr->blob->len : s->osizes[s->wr.ridx]; /* an ERASE task's range has no blob */
    uint64_t end = ((uint64_t)sr->offset + len + ESPFAB_SECTOR - 1) & ~(uint64_t)(ESPFAB_SECTOR - 1);
    uint32_t size = (uint32_t)(end - start);
    size_t n = espfab_cmd_erase_region(start, size, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, 0, sess_scaled(s, sess_per_mb(ERASE_PER_MB_S, size)), 1, on_erase);
}

void phase_erase_enter(espfab_session_t *s)
{
    bool task = s->o.task == ESPFAB_TASK_ERASE; /* erasing is the whole job */
    if (!task && (s->o.erase == ESPFAB_ERASE_NONE || s->o.nregions == 0)) {
        phase_done(s);
        return;
    }
    if (task && s->o.erase != ESPFAB_ERASE_ALL && s->o.nregions == 0) {
        sess_fail(s, ESPFAB_E_INVALID_ARG, "nothing to erase: no region and not the whole flash");
        return;
    }
    if (task && !sess_is_stub(s)) {
        sess_fail(s, ESPFAB_E_PROTO_UNSUPPORTED,
                  "erasing needs the flasher stub (ERASE_FLASH/ERASE_REGION); the %s has neither: nothing was "
                  "erased (drop --no-stub)",
                  s->link.loader == ESPFAB_LOADER_STUB ? "stub" : "ROM loader");
        return;
    }
    if (!sess_is_stub(s)) {
        sess_note(s, "erase %s needs the stub; the ROM erases only what it writes",
             s->o.erase == ESPFAB_ERASE_ALL ? "all" : "regions");
        phase_done(s);
        return;
    }
    set_state(s, ESPFAB_SS_ERASE);
    if (s->o.erase == ESPFAB_ERASE_ALL) {
        size_t n = espfab_cmd_erase_flash(s->link.pkt, sizeof(s->link.pkt));
        sess_send_cmd(s, n, 0, sess_scaled(s, ERASE_CHIP_TIMEOUT_MS), 1, on_erase);
        return;
    }
    s->wr.ridx = 0;
    erase_next(s);
}

/* ---- PREPARE ---------------------------------------------------------------- */

static void start_write(espfab_session_t *s);

static void on_compressed(espfab_blob_t *b, int status, void *data)
{
    espfab_session_t *s = data;
    s->wr.compressing--;
    s->pending--;
    if (sess_finishing(s)) {
        sess_maybe_done(s);
        return;
    }
    if (status < 0) {
        sess_fail(s, status, "compressing %zu bytes failed", b->len);
        return;
    }
    if (s->wr.compressing == 0) {
        if (s->cancel) {
            sess_fail_cancelled(s);
            return;
        }
        start_write(s);
    }
}

/* Deflate where the loader inflates: the stub, and ESP32-family ROMs that
 * have FLASH_DEFL_* (not in secure download mode). */
static bool can_deflate(const espfab_session_t *s)
{
    return !s->o.no_compress && !s->id.sdm &&
           (sess_is_stub(s) || (s->link.loader == ESPFAB_LOADER_ROM_ESP32 && s->id.chip->rom_deflate));
}

bool write_fill_regions(espfab_session_t *s, bool deflate)
{
    espfab_attempt_t *a = &s->rec;
    a->nregions = (int)s->o.nregions;
    s->wr.bytes_total = 0;
    bool patch = !espfab_flash_params_keep(&s->o.flash) && !s->id.sdm;
    for (size_t i = 0; i < s->o.nregions; i++) {
        const espfab_session_region_t *sr = &s->o.regions[i];
        const char *name = sr->name ? sr->name : "region";
        espfab_blob_t *use = NULL;
        bool patched = false;
        espfab_fault_t f;
        espfab_fault_clear(&f);
        if (espfab_prepare_region(s->o.cache, sr->blob, sr->offset, s->id.chip, &s->o.flash, patch, a->flash_size,
                                  &use, &patched, &f) < 0) {
            sess_fail_with(s, &f);
            return false;
        }
        if (patched)
            sess_note(s, "%s: flash parameters patched into the header at 0x%" PRIx32, name, sr->offset);
        s->wr.reg[i] = (sregion_t){.blob = use, .deflate = deflate};
        espfab_region_result_t *rr = &a->regions[i];
        memset(rr, 0, sizeof(*rr));
        rr->offset = sr->offset;
        snprintf(rr->file, sizeof(rr->file), "%s", sr->name ? sr->name : "");
        memcpy(rr->sha256, use->sha256_hex, sizeof(rr->sha256));
        memcpy(rr->md5_expected, use->md5_hex, sizeof(rr->md5_expected));
        rr->size = (uint32_t)use->len;
        rr->compressed = deflate;
        s->wr.bytes_total += use->len;
    }
    return true;
}

void phase_write_enter(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_PREPARE);
    espfab_attempt_t *a = &s->rec;
    if (!write_fill_regions(s, can_deflate(s)))
        return;
    for (size_t i = 0; i < s->o.nregions; i++) {
        if (!s->wr.reg[i].deflate || s->wr.reg[i].blob->zdata)
            continue;
        s->wr.compressing++;
        s->pending++;
        int rc = espfab_blob_compress(s->o.cache, s->wr.reg[i].blob, on_compressed, s);
        if (rc < 0) {
            s->wr.compressing--;
            s->pending--;
            sess_fail(s, rc, "cannot compress %s", a->regions[i].file);
            return;
        }
    }
    if (s->wr.compressing == 0)
        start_write(s);
}

/* ---- WRITE ------------------------------------------------------------------- */

static void write_region(espfab_session_t *s);
static void send_block(espfab_session_t *s);

/* esptool's workaround for the ESP8266 ROM erase-size bug (docs/protocol.md 2.6). */
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
    s->wr.ridx = 0;
    s->link.next_key = 0;
    write_region(s);
}

static void region_written(espfab_session_t *s)
{
    s->rec.regions[s->wr.ridx].written = true;
    s->wr.ridx++;
    write_region(s);
}

static void on_end(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    espfab_region_result_t *rr = &s->rec.regions[s->wr.ridx];
    if (rc < 0) {
        sess_fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_ERASE_TIMEOUT : rc,
             "no reply to %s for %s at 0x%" PRIx32 " within %.1f s (it waits for the last block's write): "
             "the flash is too slow, or the board stopped",
             espfab_op_name(s->link.cmd.op), rr->file, rr->offset, (double)s->link.cmd.timeout_ms / 1000.0);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, s->link.cmd.op, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
        return;
    }
    region_written(s);
}

static void end_region(espfab_session_t *s)
{
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    if (!sess_is_stub(s)) {
        /* The ROM writes each block before acknowledging it; no END (it
         * would leave the loader). */
        region_written(s);
        return;
    }
    /* The stub acks blocks before writing them: END(1) reports the last
     * block's write (and any deferred error). */
    uint8_t op = R->deflate ? ESPFAB_OP_FLASH_DEFL_END : ESPFAB_OP_FLASH_END;
    size_t n = espfab_cmd_flash_end(op, 1, s->link.pkt, sizeof(s->link.pkt));
    uint64_t t = R->last_timeout > DEFAULT_TIMEOUT_MS ? R->last_timeout : DEFAULT_TIMEOUT_MS;
    sess_send_cmd(s, n, 0, sess_scaled(s, t), 1, on_end);
}

static void block_acked(espfab_session_t *s)
{
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    size_t total = R->deflate ? R->blob->zlen : R->blob->len;
    size_t off = (size_t)R->seq * R->block;
    size_t bl = total - off < R->block ? total - off : R->block;
    s->rec.regions[s->wr.ridx].wire_size += (uint32_t)bl;
    R->seq++;
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_PROGRESS, .region = (int)s->wr.ridx};
    ev.old_state = ev.new_state = s->state;
    ev.total = R->blob->len;
    ev.done = R->seq >= R->nblocks ? R->blob->len : (uint64_t)R->blob->len * R->seq / R->nblocks;
    sess_emit(s, &ev);
    if (sess_finishing(s))
        return;
    if (R->seq < R->nblocks)
        send_block(s);
    else
        end_region(s);
}

static void on_block(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    espfab_region_result_t *rr = &s->rec.regions[s->wr.ridx];
    const char *op = espfab_op_name(s->link.cmd.op);
    if (rc == ESPFAB_E_TIMEOUT) {
        if (sess_is_stub(s) && s->link.rx_total != s->link.cmd.rx_try) {
            /* The stub ACKs a block as it arrives and something came back,
             * garbled: it has the block (blocks are not resent to the stub,
             * see link.c).  The MD5 check will tell. */
            ESPFAB_LOGD(TAG, "%s: garbled reply to %s seq %" PRIu32 ": taken as received", s->port_spec, op, R->seq);
            block_acked(s);
            return;
        }
        if (s->link.cmd.tries > 1)
            s->fault.retries = s->link.cmd.tries;
        sess_fail(s, ESPFAB_E_ERASE_TIMEOUT,
             "no reply to %s seq %" PRIu32 " of %s at 0x%" PRIx32 " within %.1f s (the budget for erasing "
             "and writing it, 40 s per MB): the flash is too slow, or the board stopped",
             op, R->seq, rr->file, rr->offset, (double)s->link.cmd.timeout_ms / 1000.0);
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc, "%s refused (seq %" PRIu32 " of %s)", op, R->seq, rr->file);
        return;
    }
    if (sess_block_reply(s, r, block_acked))
        return;
    sess_fail_resp(s, r, s->link.cmd.op, "seq %" PRIu32 " (%s at 0x%" PRIx32 ")", R->seq, rr->file, rr->offset);
}

/* Builds the data frame for (region ridx, seq) into s->link.pkt; returns
 * its length and the block's timeout. */
static size_t build_block(espfab_session_t *s, size_t ridx, uint32_t seq, uint64_t *timeout)
{
    sregion_t *R = &s->wr.reg[ridx];
    const uint8_t *src = R->deflate ? R->blob->zdata : R->blob->data;
    size_t total = R->deflate ? R->blob->zlen : R->blob->len;
    size_t off = (size_t)seq * R->block;
    size_t bl = total - off < R->block ? total - off : R->block;
    uint8_t op = R->deflate ? ESPFAB_OP_FLASH_DEFL_DATA : ESPFAB_OP_FLASH_DATA;
    uint8_t *pkt = s->link.pkt;
    size_t n;
    if (!R->deflate && !sess_is_stub(s) && bl < R->block) {
        /* the ROM wants whole blocks: pad the last one with 0xFF */
        memcpy(s->wr.pad, src + off, bl);
        memset(s->wr.pad + bl, 0xFF, R->block - bl);
        n = espfab_cmd_flash_data(op, seq, s->wr.pad, R->block, pkt, sizeof(s->link.pkt));
    } else {
        n = espfab_cmd_flash_data(op, seq, src + off, bl, pkt, sizeof(s->link.pkt));
    }
    uint64_t u = bl;
    if (R->deflate && R->blob->zlen) {
        u = (uint64_t)bl * R->blob->len / R->blob->zlen + 1;
        if (sess_is_stub(s))
            u += ((u + 32767) / 32768 + 1) * 65536; /* the stub erases 64 KiB per inflate cycle */
    }
    *timeout = sess_per_mb(WRITE_PER_MB_S, u);
    return n;
}

static void send_block(espfab_session_t *s)
{
    if (sess_finishing(s))
        return;
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    uint64_t timeout;
    long key = ((long)s->wr.ridx << 20 | (long)R->seq) + 1;
    bool encoded = s->link.next_key == key;
    size_t n = build_block(s, s->wr.ridx, R->seq, &timeout);
    uint64_t t = timeout;
    if (sess_is_stub(s) && R->last_timeout > t)
        t = R->last_timeout; /* the stub writes the previous block while it waits */
    R->last_timeout = timeout;
    if (encoded)
        sess_send_encoded(s, R->deflate ? ESPFAB_OP_FLASH_DEFL_DATA : ESPFAB_OP_FLASH_DATA,
                          sess_scaled(s, t), BLOCK_TRIES, on_block); /* encoded while the previous was in flight */
    else
        sess_send_cmd(s, n, 0, sess_scaled(s, t), BLOCK_TRIES, on_block);
    if (sess_finishing(s) || s->link.cmd.state != CMD_WAITING || R->seq + 1 >= R->nblocks)
        return;
    /* Encode the next block now, so that its frame goes out the moment this
     * block's reply arrives. */
    uint64_t t2;
    size_t n2 = build_block(s, s->wr.ridx, R->seq + 1, &t2);
    s->link.next_len = espfab_slip_encode(s->link.pkt, n2, s->link.next_wire, WIRE_CAP);
    s->link.next_key = ((long)s->wr.ridx << 20 | (long)(R->seq + 1)) + 1;
}

static void on_begin(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    espfab_region_result_t *rr = &s->rec.regions[s->wr.ridx];
    if (rc == ESPFAB_E_TIMEOUT) {
        bool rom = !sess_is_stub(s);
        sess_fail(s, rom ? ESPFAB_E_ERASE_TIMEOUT : ESPFAB_E_TIMEOUT, "no reply to %s for %s at 0x%" PRIx32 " within %.1f s%s",
             espfab_op_name(s->link.cmd.op), rr->file, rr->offset, (double)s->link.cmd.timeout_ms / 1000.0,
             rom ? " (the ROM erases the whole region first; budget 40 s per MB)" : "");
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc, "%s refused for %s", espfab_op_name(s->link.cmd.op), rr->file);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, s->link.cmd.op, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
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
    if (s->wr.ridx >= s->o.nregions) {
        phase_done(s);
        return;
    }
    sregion_t *R = &s->wr.reg[s->wr.ridx];
    const espfab_session_region_t *sr = &s->o.regions[s->wr.ridx];
    bool stub = sess_is_stub(s);
    R->block = stub ? sess_stub_block(s) : ESPFAB_ROM_FLASH_BLOCK;
    R->last_timeout = 0;
    bool enc_word = !stub && s->id.chip->rom_begin_encrypted_word;
    size_t len = R->blob->len, n;
    uint64_t timeout;
    if (R->deflate) {
        R->nblocks = (uint32_t)((R->blob->zlen + R->block - 1) / R->block);
        uint32_t size = stub ? (uint32_t)len
                             : (uint32_t)((len + ESPFAB_ROM_FLASH_BLOCK - 1) / ESPFAB_ROM_FLASH_BLOCK *
                                          ESPFAB_ROM_FLASH_BLOCK);
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_DEFL_BEGIN, size, R->nblocks, R->block, sr->offset, enc_word, 0,
                                   s->link.pkt, sizeof(s->link.pkt));
        timeout = stub ? DEFAULT_TIMEOUT_MS : sess_per_mb(ERASE_PER_MB_S, size);
    } else {
        R->nblocks = (uint32_t)((len + R->block - 1) / R->block);
        uint32_t erase = s->link.loader == ESPFAB_LOADER_ROM_ESP8266 ? esp8266_erase_size(sr->offset, (uint32_t)len)
                                                                     : (uint32_t)len;
        n = espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, erase, R->nblocks, R->block, sr->offset, enc_word, 0,
                                   s->link.pkt, sizeof(s->link.pkt));
        timeout = stub ? DEFAULT_TIMEOUT_MS : sess_per_mb(ERASE_PER_MB_S, len);
    }
    /* a lost or garbled reply: BEGIN again (nothing was sent after it; the
     * stub restarts its region, the ROM erases it once more) */
    sess_send_cmd(s, n, 0, sess_scaled(s, timeout), BEGIN_TRIES, on_begin);
}
