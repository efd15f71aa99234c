/*
 * verify.c - the verify phase: SPI_FLASH_MD5 of each written region against
 * the MD5 of the bytes intended.  A mismatch is read once more: a corrupted
 * reply must not fail a good board, and a stuck bit reads the same wrong
 * value every time.  A write that cannot be verified (ESP8266 ROM, secure
 * download mode) fails as UNVERIFIABLE unless verification was turned off.
 * The VERIFY task runs this phase alone: the regions' records are filled
 * here (nothing was written) and a mismatch means the flash differs from
 * the file.  Uses s->wr (ridx, md5_prev, unverified_why).
 */
#include "core.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MD5_PER_MB_S 8.0

static void verify_region(espfab_session_t *s);

static void on_md5(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    espfab_region_result_t *rr = &s->rec.regions[s->wr.ridx];
    int tries = s->link.cmd.tries;
    if (rc < 0) {
        sess_fail(s, rc == ESPFAB_E_TIMEOUT ? ESPFAB_E_VERIFY_FAILED : rc, "no MD5 reply for %s at 0x%" PRIx32 " (%d tries)",
             rr->file, rr->offset, tries);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, ESPFAB_OP_SPI_FLASH_MD5, "(%s at 0x%" PRIx32 ")", rr->file, rr->offset);
        return;
    }
    uint8_t md5[16];
    if (espfab_resp_md5(r, s->link.loader, md5) < 0) {
        if (tries < REG_TRIES) {
            sess_resend_cmd(s);
            link_check(s);
            return;
        }
        sess_fail(s, ESPFAB_E_VERIFY_FAILED, "unreadable MD5 reply for %s at 0x%" PRIx32, rr->file, rr->offset);
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(rr->md5_device + 2 * i, 3, "%02x", md5[i]);
    if (strcmp(rr->md5_device, rr->md5_expected) != 0) {
        bool same = strcmp(s->wr.md5_prev, rr->md5_device) == 0;
        if (!same && tries < s->link.cmd.max_tries) {
            memcpy(s->wr.md5_prev, rr->md5_device, sizeof(s->wr.md5_prev));
            sess_resend_cmd(s);
            return;
        }
        s->fault.retries = tries;
        if (s->o.task == ESPFAB_TASK_VERIFY) {
            sess_fail(s, ESPFAB_E_FLASH_DIFFERS,
                      "region %zu, %s at 0x%" PRIx32 "..0x%" PRIx32 ": the flash differs from the file (flash MD5 %s, "
                      "file %s)",
                      s->wr.ridx + 1, rr->file, rr->offset, rr->offset + rr->size, rr->md5_device, rr->md5_expected);
            return;
        }
        sess_fail(s, ESPFAB_E_MD5_MISMATCH, "%s at 0x%" PRIx32 ": flash MD5 %s, expected %s (%s)", rr->file, rr->offset,
             rr->md5_device, rr->md5_expected,
             same ? "the same wrong value read twice: the flash holds wrong bits"
                  : "a different value at every read: unstable flash, power or link");
        return;
    }
    rr->verified = true;
    s->wr.ridx++;
    verify_region(s);
}

static void verify_region(espfab_session_t *s)
{
    if (s->wr.ridx >= s->o.nregions) {
        phase_done(s);
        return;
    }
    espfab_region_result_t *rr = &s->rec.regions[s->wr.ridx];
    s->wr.md5_prev[0] = '\0';
    size_t n = espfab_cmd_flash_md5(rr->offset, rr->size, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_SPI_FLASH_MD5, s->link.loader),
             sess_scaled(s, sess_per_mb(MD5_PER_MB_S, rr->size)), REG_TRIES, on_md5);
}

void phase_verify_enter(espfab_session_t *s)
{
    size_t nr = s->o.nregions;
    bool task = s->o.task == ESPFAB_TASK_VERIFY; /* verifying is the whole job */
    if (nr == 0) {
        if (task)
            sess_fail(s, ESPFAB_E_INVALID_ARG, "nothing to verify: no region");
        else
            phase_done(s);
        return;
    }
    if (task) {
        if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266 || s->id.sdm) {
            sess_fail(s, ESPFAB_E_UNVERIFIABLE, "%s: nothing was checked",
                      s->id.sdm ? "secure download mode forbids SPI_FLASH_MD5" : "the ESP8266 ROM has no SPI_FLASH_MD5");
            return;
        }
        if (!write_fill_regions(s, false))
            return;
    } else if (s->o.no_verify) {
        s->wr.unverified_why = "verification disabled";
        sess_note(s, "verification disabled: the flash contents are NOT checked");
        phase_done(s);
        return;
    }
    /* Verification was asked for and is impossible: the write is not a
     * sess_pass (the board stays in the loader; --no-verify accepts it). */
    if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266 || s->id.sdm) {
        sess_fail(s, ESPFAB_E_UNVERIFIABLE, "%zu region%s written; %s", nr, nr == 1 ? "" : "s",
             s->id.sdm ? "secure download mode forbids SPI_FLASH_MD5" : "the ESP8266 ROM has no SPI_FLASH_MD5");
        return;
    }
    set_state(s, ESPFAB_SS_VERIFY);
    s->wr.ridx = 0;
    verify_region(s);
}
