/*
 * fuzz_resp.c - reply parsing, matching, fault mapping, MD5 and security-info
 * decoding, and the chip decoders, on arbitrary bytes.
 *
 * Input: byte 0 = loader, byte 1 = request opcode, byte 2 = expected data
 * length selector (< 128: the command's own, else an arbitrary 0..79), the
 * rest is one unescaped frame.  The frame is also SLIP-decoded as a stream and
 * each frame found is parsed the same way.  Invariants (abort on violation):
 * parse results point inside the frame, status bytes fit, the fault code is
 * negative and the detail names the command, decoded strings terminate.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/chip.h"
#include "espfab/cmd.h"
#include "espfab/err.h"
#include "espfab/slip.h"

#define FAIL(msg)                                                   \
    do {                                                            \
        fprintf(stderr, "fuzz_resp: invariant broken: %s\n", msg);  \
        abort();                                                    \
    } while (0)

static espfab_loader_t loader;
static uint8_t req_op;
static size_t expect;

static void check_frame(const uint8_t *f, size_t len)
{
    espfab_resp_t r;
    espfab_match_t acc = espfab_resp_accept(f, len, loader, expect, req_op, &r);
    int rc = espfab_resp_parse(f, len, loader, expect, &r);
    if (rc != 0 && acc != ESPFAB_MATCH_SKIP)
        FAIL("accepted an unparsable frame");
    if (rc == ESPFAB_E_PROTO_SHORT_FRAME || rc == ESPFAB_E_PROTO_BAD_DIRECTION)
        return;
    if (rc != 0)
        FAIL("unexpected parse result");
    if (len < 10 || f[0] != 1)
        FAIL("accepted a frame it should have refused");
    if (r.body != f + 8 || r.body_len != len - 8)
        FAIL("body bounds");
    if (r.data < r.body || r.data + r.data_len > f + len)
        FAIL("data outside the frame");
    if (r.data_len + 2 > r.body_len)
        FAIL("no room for the status bytes");
    if (r.data_len != 0 && r.data_len != expect && r.data_len != 12)
        FAIL("odd data length");
    if (r.ok != (r.status == 0))
        FAIL("ok disagrees with status");
    if (loader == ESPFAB_LOADER_STUB && r.status != (r.error != 0))
        FAIL("stub status");

    espfab_match_t m = espfab_resp_match(&r, req_op);
    if (m != acc)
        FAIL("accept disagrees with parse + match");
    if (m == ESPFAB_MATCH_OK && r.op != req_op)
        FAIL("matched another opcode");
    if (m == ESPFAB_MATCH_UNSUPPORTED && (r.op == req_op || f[8] == 0 || f[9] != 0x05))
        FAIL("unsupported classification");
    (void)espfab_resp_is_unsupported(&r);

    if (!r.ok) {
        espfab_fault_t fault;
        espfab_fault_clear(&fault);
        int code = espfab_resp_to_fault_at(&r, loader, req_op, "seq 1", &fault);
        if (code >= 0 || fault.code != code || !espfab_err_name(code))
            FAIL("fault code");
        if (strncmp(fault.detail, espfab_op_name(req_op), strlen(espfab_op_name(req_op))) != 0)
            FAIL("fault detail does not name the command");
        if (fault.rom_error != r.error || fault.rom_status != r.status)
            FAIL("fault ROM fields");
        char line[600];
        espfab_fault_format(&fault, line, sizeof(line));
        if (!memchr(line, '\0', sizeof(line)))
            FAIL("format not terminated");
    }

    uint8_t md5[16];
    if (espfab_resp_md5(&r, loader, md5) == 0 &&
        r.data_len < (loader == ESPFAB_LOADER_STUB ? 16u : 32u))
        FAIL("md5 from too little data");

    espfab_secinfo_t s;
    if (espfab_secinfo_parse(r.data, r.data_len, &s) == 0) {
        if (r.data_len < 12 || s.has_chip_id != (r.data_len >= 20))
            FAIL("secinfo length rules");
        if (s.has_chip_id)
            (void)espfab_chip_by_image_id((int)s.chip_id);
    }
    (void)espfab_chip_by_magic(r.value);
}

static void on_frame(void *data, const uint8_t *f, size_t len)
{
    (void)data;
    check_frame(f, len);
}

static void chip_decoders(const uint8_t *data, size_t size)
{
    const espfab_chip_t *c = espfab_chip_get((espfab_chip_id_t)(req_op % ESPFAB_CHIP_COUNT));
    uint32_t addrs[16];
    espfab_reg_t regs[16];
    size_t n = espfab_chip_info_regs(c, addrs, 16);
    if (n == 0 || n > 16)
        FAIL("info_regs count");
    for (size_t i = 0; i < n; i++) {
        uint32_t v = 0;
        for (size_t k = 0; k < 4 && size; k++)
            v = v << 8 | data[(i * 4 + k) % size];
        regs[i].addr = addrs[i];
        regs[i].value = v;
    }
    uint32_t baud = size >= 4 ? espfab_get_le32(data) : 115200;
    espfab_chip_info_t info;
    int rc = espfab_chip_decode_info(c, regs, n, baud, &info);
    if (rc != 0 && rc != ESPFAB_E_CHIP_UNKNOWN)
        FAIL("decode_info result");
    if (!memchr(info.description, '\0', sizeof(info.description)))
        FAIL("description not terminated");
    if (c->id != ESPFAB_CHIP_ESP8266 &&
        (info.rev_major < 0 || info.rev_minor < 0 || info.rev_full != info.rev_major * 100 + info.rev_minor))
        FAIL("revision range");
    if (info.xtal_mhz != 26 && info.xtal_mhz != 32 && info.xtal_mhz != 40 && info.xtal_mhz != 48)
        FAIL("crystal value");
    (void)espfab_chip_rom_baud_at(c, regs, n, baud, baud ^ 0x5555u);
    espfab_regop_t ops[12];
    size_t k = espfab_chip_spi_plan(c, req_op, expect & 1, baud, (int)(expect % 64), ops, 12);
    if (k == 0 || k > 12 || ops[k - 1].kind != ESPFAB_REGOP_READ)
        FAIL("spi plan shape");
    (void)espfab_flash_size_from_jedec(baud);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    loader = (espfab_loader_t)(data[0] % 3);
    req_op = data[1];
    expect = data[2] < 128 ? espfab_cmd_resp_data_len(req_op, loader) : (size_t)(data[2] % 80);
    data += 3;
    size -= 3;

    check_frame(data, size);

    uint8_t buf[512];
    espfab_slip_dec_t d;
    espfab_slip_cbs_t cbs = {on_frame, NULL, NULL, NULL};
    espfab_slip_dec_init(&d, buf, sizeof(buf));
    espfab_slip_dec_feed(&d, data, size, &cbs);

    chip_decoders(data, size);
    return 0;
}
