/*
 * read.c - the read phase (the READ task): read_size bytes of flash at
 * read_offset into the caller's read_out, checked by MD5.  Owns s->rd.
 *
 * With the stub: READ_FLASH (docs/protocol.md 2.11) answers with a normal
 * reply, then streams data packets of the size asked for that answer no
 * command.  They reach this file through link.on_stream, set here for the
 * stream's length only (the link's one-command-in-flight rule is kept: no
 * command is in flight while they come).  Each packet is acknowledged with
 * a raw frame holding the number of bytes received so far; the stub sends
 * the next packet only then (one in flight); after the last, its MD5 of the
 * whole range comes, and must equal ours.  The one timer guards every wait
 * (a packet, the digest), so a cancel is honoured at the next packet.
 *
 * With the ROM: READ_FLASH_SLOW, 64 bytes per request, then SPI_FLASH_MD5 of
 * the range (the ROM's own check) where the loader has it.
 */
#include "core.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define READ_IN_FLIGHT 64u     /* max_in_flight asked for (esptool's); the stub keeps to one */
#define PACKET_TIMEOUT_MS 3000u
#define SLOW_CHUNK 64u
#define MD5_PER_MB_S 8.0

static void md5_hex(const uint8_t *data, size_t len, char out[33])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_md5(), NULL) != 1 || n != 16) {
        out[0] = 0;
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The record: one region, the range read, both MD5s. */
static espfab_region_result_t *read_record(espfab_session_t *s)
{
    espfab_attempt_t *a = &s->rec;
    a->nregions = 1;
    espfab_region_result_t *rr = &a->regions[0];
    return rr;
}

/* checked: an MD5 from the board confirmed the bytes received. */
static void read_done(espfab_session_t *s, bool checked)
{
    espfab_region_result_t *rr = read_record(s);
    rr->verified = checked;
    s->rd.stage = READ_IDLE;
    phase_done(s);
}

static void progress(espfab_session_t *s)
{
    espfab_session_ev_t ev = {.kind = ESPFAB_SESSION_EV_PROGRESS, .region = 0, .done = s->rd.done,
                              .total = s->o.read_size};
    ev.old_state = ev.new_state = s->state;
    sess_emit(s, &ev);
}

/* ---- the stub: READ_FLASH --------------------------------------------------- */

static void stream_end(espfab_session_t *s)
{
    s->link.on_stream = NULL;
    sess_disarm(s);
}

static void on_stream_timeout(espfab_session_t *s)
{
    s->link.on_stream = NULL;
    sess_fail(s, ESPFAB_E_TIMEOUT, "READ_FLASH: %s after %" PRIu32 " of %" PRIu32 " bytes at 0x%" PRIx32,
              s->rd.stage == READ_DIGEST ? "no MD5 digest" : "no data", s->rd.done, s->o.read_size,
              s->o.read_offset);
}

static void wait_next(espfab_session_t *s)
{
    sess_arm(s, s->rd.packet_timeout, on_stream_timeout);
}

static void send_ack(espfab_session_t *s)
{
    uint8_t raw[4] = {(uint8_t)s->rd.done, (uint8_t)(s->rd.done >> 8), (uint8_t)(s->rd.done >> 16),
                      (uint8_t)(s->rd.done >> 24)};
    size_t n = espfab_slip_encode(raw, sizeof(raw), s->rd.ack, sizeof(s->rd.ack));
    int rc = espfab_port_write(s->port, s->rd.ack, n, NULL, NULL);
    if (rc < 0) {
        stream_end(s);
        sess_fail_port(s, rc);
        return;
    }
    s->rec.bytes_sent += n;
}

/* A reply-shaped frame where a packet should be: the stub refused the read
 * after its OK (v2 checks the arguments after replying). */
static bool stream_refusal(espfab_session_t *s, const uint8_t *frame, size_t len)
{
    espfab_resp_t r;
    if (len < ESPFAB_CMD_HDR + 2 || frame[0] != 1 || frame[1] != ESPFAB_OP_READ_FLASH)
        return false;
    if (espfab_resp_accept(frame, len, s->link.loader, 0, ESPFAB_OP_READ_FLASH, &r) == ESPFAB_MATCH_SKIP || r.ok)
        return false;
    stream_end(s);
    sess_fail_resp(s, &r, ESPFAB_OP_READ_FLASH, "(reading 0x%" PRIx32 " bytes at 0x%" PRIx32 ")", s->o.read_size,
                   s->o.read_offset);
    return true;
}

static void on_digest(espfab_session_t *s, const uint8_t *frame, size_t len)
{
    espfab_region_result_t *rr = read_record(s);
    stream_end(s);
    if (len != 16) {
        sess_fail(s, ESPFAB_E_PROTO_BAD_REPLY, "READ_FLASH: a %zu-byte frame where the 16-byte MD5 digest belongs",
                  len);
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(rr->md5_device + 2 * i, 3, "%02x", frame[i]);
    if (strcmp(rr->md5_device, rr->md5_expected) != 0) {
        sess_fail(s, ESPFAB_E_FLASH_READ_ERROR,
                  "READ_FLASH of 0x%" PRIx32 " bytes at 0x%" PRIx32 ": the stub's MD5 %s differs from the bytes "
                  "received (%s): data was corrupted on the line; retry at a lower baud",
                  s->o.read_size, s->o.read_offset, rr->md5_device, rr->md5_expected);
        return;
    }
    read_done(s, true);
}

static void on_packet(espfab_session_t *s, const uint8_t *frame, size_t len)
{
    sess_disarm(s);
    if (s->rd.stage == READ_DIGEST) {
        on_digest(s, frame, len);
        return;
    }
    assert(s->rd.stage == READ_STREAM);
    uint32_t left = s->o.read_size - s->rd.done;
    uint32_t want = left < s->rd.packet ? left : s->rd.packet;
    if (len != want) {
        if (stream_refusal(s, frame, len))
            return;
        stream_end(s);
        sess_fail(s, ESPFAB_E_PROTO_BAD_REPLY,
                  "READ_FLASH: a %zu-byte packet where %" PRIu32 " bytes were due (after %" PRIu32 " of %" PRIu32 ")",
                  len, want, s->rd.done, s->o.read_size);
        return;
    }
    memcpy(s->o.read_out + s->rd.done, frame, len);
    s->rd.done += (uint32_t)len;
    progress(s);
    if (s->rd.done == s->o.read_size) {
        s->rd.stage = READ_DIGEST;
        md5_hex(s->o.read_out, s->o.read_size, read_record(s)->md5_expected);
    }
    send_ack(s);
    if (!sess_finishing(s))
        wait_next(s);
}

static void on_read_flash(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc < 0) {
        sess_fail(s, rc, "no reply to READ_FLASH");
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, ESPFAB_OP_READ_FLASH, "(reading 0x%" PRIx32 " bytes at 0x%" PRIx32 ")", s->o.read_size,
                       s->o.read_offset);
        return;
    }
    s->rd.stage = READ_STREAM;
    s->link.on_stream = on_packet;
    wait_next(s);
}

static void read_stub(espfab_session_t *s)
{
    s->rd.packet = READ_PACKET;
    s->rd.packet_timeout = sess_scaled(s, PACKET_TIMEOUT_MS);
    size_t n = espfab_cmd_read_flash(s->o.read_offset, s->o.read_size, s->rd.packet, READ_IN_FLIGHT, s->link.pkt,
                                     sizeof(s->link.pkt));
    /* not repeated: a second request would start a second stream */
    sess_send_cmd(s, n, 0, sess_scaled(s, DEFAULT_TIMEOUT_MS), 1, on_read_flash);
}

/* ---- the ROM: READ_FLASH_SLOW ------------------------------------------------ */

static void slow_next(espfab_session_t *s);

static void on_rom_md5(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    espfab_region_result_t *rr = read_record(s);
    uint8_t md5[16];
    if (rc < 0 || !r->ok || espfab_resp_md5(r, s->link.loader, md5) < 0) {
        if (rc == 0 && !r->ok)
            sess_fail_resp(s, r, ESPFAB_OP_SPI_FLASH_MD5, "(checking the bytes read)");
        else
            sess_fail(s, rc < 0 ? rc : ESPFAB_E_PROTO_BAD_REPLY, "no usable MD5 of the range read");
        return;
    }
    for (int i = 0; i < 16; i++)
        snprintf(rr->md5_device + 2 * i, 3, "%02x", md5[i]);
    if (strcmp(rr->md5_device, rr->md5_expected) != 0) {
        sess_fail(s, ESPFAB_E_FLASH_READ_ERROR,
                  "READ_FLASH_SLOW of 0x%" PRIx32 " bytes at 0x%" PRIx32 ": the flash's MD5 %s differs from the "
                  "bytes received (%s): data was corrupted on the line; retry",
                  s->o.read_size, s->o.read_offset, rr->md5_device, rr->md5_expected);
        return;
    }
    read_done(s, true);
}

static void on_slow(espfab_session_t *s, int rc, const espfab_resp_t *r)
{
    if (rc == ESPFAB_E_PROTO_UNSUPPORTED) {
        sess_fail(s, rc, "this ROM loader cannot read flash (no READ_FLASH_SLOW): read with the stub (drop --no-stub)");
        return;
    }
    if (rc < 0) {
        sess_fail(s, rc, "no reply to READ_FLASH_SLOW at 0x%" PRIx32, s->o.read_offset + s->rd.done);
        return;
    }
    if (!r->ok) {
        sess_fail_resp(s, r, ESPFAB_OP_READ_FLASH_SLOW, "(at 0x%" PRIx32 ")", s->o.read_offset + s->rd.done);
        return;
    }
    if (r->data_len < s->rd.chunk) {
        sess_fail(s, ESPFAB_E_PROTO_BAD_REPLY, "READ_FLASH_SLOW: %zu bytes of data, %" PRIu32 " asked", r->data_len,
                  s->rd.chunk);
        return;
    }
    memcpy(s->o.read_out + s->rd.done, r->data, s->rd.chunk);
    s->rd.done += s->rd.chunk;
    if (s->rd.done % 4096u < SLOW_CHUNK || s->rd.done == s->o.read_size)
        progress(s);
    slow_next(s);
}

static void slow_next(espfab_session_t *s)
{
    if (s->rd.done < s->o.read_size) {
        uint32_t left = s->o.read_size - s->rd.done;
        s->rd.chunk = left < SLOW_CHUNK ? left : SLOW_CHUNK;
        size_t n = espfab_cmd_read_flash_slow(s->o.read_offset + s->rd.done, s->rd.chunk, s->link.pkt,
                                              sizeof(s->link.pkt));
        sess_send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_READ_FLASH_SLOW, s->link.loader),
                      sess_scaled(s, DEFAULT_TIMEOUT_MS), REG_TRIES, on_slow);
        return;
    }
    espfab_region_result_t *rr = read_record(s);
    md5_hex(s->o.read_out, s->o.read_size, rr->md5_expected);
    if (s->link.loader == ESPFAB_LOADER_ROM_ESP8266 || s->id.sdm) {
        sess_note(s, "the bytes read are NOT checked: this loader has no SPI_FLASH_MD5");
        read_done(s, false);
        return;
    }
    s->rd.stage = READ_CHECK;
    size_t n = espfab_cmd_flash_md5(s->o.read_offset, s->o.read_size, s->link.pkt, sizeof(s->link.pkt));
    sess_send_cmd(s, n, espfab_cmd_resp_data_len(ESPFAB_OP_SPI_FLASH_MD5, s->link.loader),
                  sess_scaled(s, sess_per_mb(MD5_PER_MB_S, s->o.read_size)), REG_TRIES, on_rom_md5);
}

/* ---- the phase ---------------------------------------------------------------- */

void phase_read_enter(espfab_session_t *s)
{
    set_state(s, ESPFAB_SS_READ);
    assert(s->o.read_out && s->o.read_size > 0);
    espfab_region_result_t *rr = read_record(s);
    memset(rr, 0, sizeof(*rr));
    rr->offset = s->o.read_offset;
    rr->size = s->o.read_size;
    s->rd.done = 0;
    if (sess_is_stub(s)) {
        read_stub(s);
        return;
    }
    s->rd.stage = READ_SLOW;
    slow_next(s);
}
