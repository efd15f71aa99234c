/* test_cmd.c - request builders and reply parsing against docs/protocol.md 1-3. */
#include "check.h"
#include "espfab/cmd.h"
#include "espfab/err.h"
#include "espfab/slip.h"

static uint8_t out[0x4100];
static size_t kept_len;

static void keep_frame(void *data, const uint8_t *f, size_t len)
{
    if (len <= 64) {
        memcpy(data, f, len);
        kept_len = len;
    }
}

/* docs/protocol.md 1.3: the SYNC request, exactly as it goes on the wire. */
static void test_sync_request_golden(void)
{
    uint8_t want[46] = {0xC0, 0x00, 0x08, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0x07, 0x07, 0x12, 0x20};
    memset(want + 13, 0x55, 32);
    want[45] = 0xC0;
    uint8_t wire[128];
    size_t n = espfab_cmd_sync(out, sizeof(out));
    CHECK_EQ(n, 44);
    size_t m = espfab_slip_encode(out, n, wire, sizeof(wire));
    CHECK_EQ(m, 46);
    CHECK_MEM(wire, want, 46);
    CHECK_EQ(espfab_cmd_sync(out, 43), 0);
    CHECK_EQ(espfab_cmd_sync(out, 44), 44);
}

static void test_read_reg_request_golden(void)
{
    const uint8_t want[] = {0xC0, 0x00, 0x0A, 0x04, 0x00, 0x00, 0x00, 0x00,
                            0x00, 0x00, 0x10, 0x00, 0x40, 0xC0};
    uint8_t wire[32];
    size_t n = espfab_cmd_read_reg(0x40001000u, out, sizeof(out));
    CHECK_EQ(n, 12);
    CHECK_EQ(espfab_slip_encode(out, n, wire, sizeof(wire)), sizeof(want));
    CHECK_MEM(wire, want, sizeof(want));
}

static void test_checksum(void)
{
    const uint8_t a[] = {0x01, 0x02, 0x03};
    const uint8_t b[] = {0xFF};
    const uint8_t c[] = {0xEF};
    CHECK_EQ(espfab_cmd_checksum(a, 3), 0xEF); /* EF^01=EE, ^02=EC, ^03=EF */
    CHECK_EQ(espfab_cmd_checksum(b, 1), 0x10);
    CHECK_EQ(espfab_cmd_checksum(c, 1), 0x00);
    CHECK_EQ(espfab_cmd_checksum(NULL, 0), 0xEF);
}

static void test_data_builders(void)
{
    const uint8_t data[] = {0xAA, 0x55, 0x01, 0x02};
    /* checksum: EF^AA=45, ^55=10, ^01=11, ^02=13 */
    const uint8_t want[] = {0x00, 0x11, 0x14, 0x00, 0x13, 0x00, 0x00, 0x00, /* header */
                            0x04, 0x00, 0x00, 0x00, 0x0C, 0x00, 0x00, 0x00, /* len, seq 12 */
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                            0xAA, 0x55, 0x01, 0x02};
    size_t n = espfab_cmd_flash_data(ESPFAB_OP_FLASH_DEFL_DATA, 12, data, 4, out, sizeof(out));
    CHECK_EQ(n, sizeof(want));
    CHECK_MEM(out, want, sizeof(want));
    n = espfab_cmd_flash_data(ESPFAB_OP_FLASH_DATA, 12, data, 4, out, sizeof(out));
    CHECK_EQ(n, sizeof(want));
    CHECK_EQ(out[1], 0x03);
    CHECK_MEM(out + 2, want + 2, sizeof(want) - 2);
    n = espfab_cmd_mem_data(12, data, 4, out, sizeof(out));
    CHECK_EQ(n, sizeof(want));
    CHECK_EQ(out[1], 0x07);
    CHECK_MEM(out + 2, want + 2, sizeof(want) - 2);
    /* wrong opcode, too small, too long */
    CHECK_EQ(espfab_cmd_flash_data(ESPFAB_OP_MEM_DATA, 0, data, 4, out, sizeof(out)), 0);
    CHECK_EQ(espfab_cmd_flash_data(ESPFAB_OP_FLASH_DATA, 0, data, 4, out, sizeof(want) - 1), 0);
    static uint8_t big[0x10000];
    CHECK_EQ(espfab_cmd_mem_data(0, big, 0xFFFF - 16, NULL, 0), 0);
    CHECK_EQ(espfab_cmd_flash_data(ESPFAB_OP_FLASH_DATA, 0, big, 0x4000, out, sizeof(out)),
             8 + 16 + 0x4000);
    CHECK_EQ(out[2], 0x10);
    CHECK_EQ(out[3], 0x40);
    CHECK_EQ(espfab_get_le32(out + 4), 0xEF); /* 0x4000 zero bytes leave the seed */
    CHECK_EQ(espfab_cmd_flash_data(ESPFAB_OP_FLASH_DATA, 0, big, 0xFFFF - 15, out, sizeof(out)), 0);
}

/* Checks out[] = header(op, len, 0) + the given LE words. */
static void check_words(size_t n, uint8_t op, const uint32_t *w, size_t nw)
{
    CHECK_EQ(n, 8 + 4 * nw);
    CHECK_EQ(out[0], 0x00);
    CHECK_EQ(out[1], op);
    CHECK_EQ(out[2], 4 * nw);
    CHECK_EQ(out[3], 0);
    CHECK_EQ(espfab_get_le32(out + 4), 0);
    for (size_t i = 0; i < nw; i++)
        CHECK_EQ(espfab_get_le32(out + 8 + 4 * i), w[i]);
}

static void test_word_builders(void)
{
    const uint8_t wr[] = {0x00, 0x09, 0x10, 0x00, 0, 0, 0, 0,
                          0x78, 0x00, 0x00, 0x60, 0x44, 0x33, 0x22, 0x11,
                          0xFF, 0xFF, 0xFF, 0xFF, 0x64, 0x00, 0x00, 0x00};
    CHECK_EQ(espfab_cmd_write_reg(0x60000078u, 0x11223344u, 0xFFFFFFFFu, 100, out, sizeof(out)), 24);
    CHECK_MEM(out, wr, 24);

    const uint32_t groups[] = {0x60000078u, 1, 0xFFFFFFFFu, 0, 0x60000078u, 0, 0, 50};
    check_words(espfab_cmd_write_regs(groups, 2, out, sizeof(out)), 0x09, groups, 8);
    CHECK_EQ(espfab_cmd_write_regs(groups, 0, out, sizeof(out)), 0);
    CHECK_EQ(espfab_cmd_write_regs(groups, 17, out, sizeof(out)), 0);

    check_words(espfab_cmd_mem_begin(5676, 1, 0x1800, 0x40378000u, out, sizeof(out)),
                0x05, (const uint32_t[]){5676, 1, 0x1800, 0x40378000u}, 4);
    check_words(espfab_cmd_mem_end(0, 0x40378C94u, out, sizeof(out)), 0x06,
                (const uint32_t[]){0, 0x40378C94u}, 2);
    check_words(espfab_cmd_flash_begin(ESPFAB_OP_FLASH_BEGIN, 0x2000, 8, 0x400, 0x1000, false, 0,
                                       out, sizeof(out)),
                0x02, (const uint32_t[]){0x2000, 8, 0x400, 0x1000}, 4);
    check_words(espfab_cmd_flash_begin(ESPFAB_OP_FLASH_DEFL_BEGIN, 0x2000, 1, 0x4000, 0x10000,
                                       true, 1, out, sizeof(out)),
                0x10, (const uint32_t[]){0x2000, 1, 0x4000, 0x10000, 1}, 5);
    CHECK_EQ(espfab_cmd_flash_begin(ESPFAB_OP_FLASH_DATA, 0, 0, 0, 0, false, 0, out, sizeof(out)), 0);
    check_words(espfab_cmd_flash_end(ESPFAB_OP_FLASH_END, 1, out, sizeof(out)), 0x04,
                (const uint32_t[]){1}, 1);
    check_words(espfab_cmd_flash_end(ESPFAB_OP_FLASH_DEFL_END, 0, out, sizeof(out)), 0x12,
                (const uint32_t[]){0}, 1);
    CHECK_EQ(espfab_cmd_flash_end(ESPFAB_OP_MEM_END, 0, out, sizeof(out)), 0);
    check_words(espfab_cmd_spi_attach(0, ESPFAB_LOADER_ROM_ESP32, out, sizeof(out)), 0x0D,
                (const uint32_t[]){0, 0}, 2);
    check_words(espfab_cmd_spi_attach(1, ESPFAB_LOADER_STUB, out, sizeof(out)), 0x0D,
                (const uint32_t[]){1}, 1);
    check_words(espfab_cmd_spi_set_params(4u << 20, out, sizeof(out)), 0x0B,
                (const uint32_t[]){0, 4u << 20, 0x10000, 0x1000, 0x100, 0xFFFF}, 6);
    check_words(espfab_cmd_change_baud(921600, 0, out, sizeof(out)), 0x0F,
                (const uint32_t[]){921600, 0}, 2);
    check_words(espfab_cmd_change_baud(921600, 115200, out, sizeof(out)), 0x0F,
                (const uint32_t[]){921600, 115200}, 2);
    check_words(espfab_cmd_flash_md5(0x1000, 0x7000, out, sizeof(out)), 0x13,
                (const uint32_t[]){0x1000, 0x7000, 0, 0}, 4);
    check_words(espfab_cmd_security_info(out, sizeof(out)), 0x14, NULL, 0);
    check_words(espfab_cmd_erase_flash(out, sizeof(out)), 0xD0, NULL, 0);
    check_words(espfab_cmd_erase_region(0x10000, 0x2000, out, sizeof(out)), 0xD1,
                (const uint32_t[]){0x10000, 0x2000}, 2);
    check_words(espfab_cmd_read_flash(0, 0x100000, 0x1000, 64, out, sizeof(out)), 0xD2,
                (const uint32_t[]){0, 0x100000, 0x1000, 64}, 4);
    check_words(espfab_cmd_read_flash_slow(0x8000, 64, out, sizeof(out)), 0x0E,
                (const uint32_t[]){0x8000, 64}, 2);
    CHECK_EQ(espfab_cmd_read_flash_slow(0x8000, 65, out, sizeof(out)), 0);
    check_words(espfab_cmd_run_user_code(out, sizeof(out)), 0xD3, NULL, 0);
    CHECK_EQ(espfab_cmd_read_reg(0, out, 11), 0);
    CHECK_EQ(espfab_cmd_pack(0x42, NULL, 0x10000, 0, out, sizeof(out)), 0);
}

static void test_names_and_lengths(void)
{
    CHECK_STR(espfab_op_name(0x11), "FLASH_DEFL_DATA");
    CHECK_STR(espfab_op_name(0xD3), "RUN_USER_CODE");
    CHECK_STR(espfab_op_name(0x42), "op 0x42");
    CHECK_STR(espfab_op_name(0xFE), "op 0xFE");
    CHECK_STR(espfab_loader_name(ESPFAB_LOADER_ROM_ESP8266), "ROM");
    CHECK_STR(espfab_loader_name(ESPFAB_LOADER_STUB), "stub");
    CHECK_EQ(espfab_cmd_status_len(ESPFAB_LOADER_ROM_ESP8266), 2);
    CHECK_EQ(espfab_cmd_status_len(ESPFAB_LOADER_ROM_ESP32), 4);
    CHECK_EQ(espfab_cmd_status_len(ESPFAB_LOADER_STUB), 2);
    CHECK_EQ(espfab_cmd_resp_data_len(0x13, ESPFAB_LOADER_ROM_ESP32), 32);
    CHECK_EQ(espfab_cmd_resp_data_len(0x13, ESPFAB_LOADER_STUB), 16);
    CHECK_EQ(espfab_cmd_resp_data_len(0x14, ESPFAB_LOADER_ROM_ESP32), 20);
    CHECK_EQ(espfab_cmd_resp_data_len(0x14, ESPFAB_LOADER_STUB), 20);
    CHECK_EQ(espfab_cmd_resp_data_len(0x0E, ESPFAB_LOADER_ROM_ESP32), 64);
    CHECK_EQ(espfab_cmd_resp_data_len(0x0A, ESPFAB_LOADER_ROM_ESP32), 0);
    CHECK_EQ(espfab_cmd_resp_data_len(0x02, ESPFAB_LOADER_STUB), 0);
}

static void test_parse_golden_replies(void)
{
    espfab_resp_t r;
    /* ESP32-family ROM SYNC reply (unescaped) */
    const uint8_t rom32_sync[] = {0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(rom32_sync, sizeof(rom32_sync), ESPFAB_LOADER_ROM_ESP32, 0, &r), 0);
    CHECK_EQ(r.op, 0x08);
    CHECK_EQ(r.size, 4);
    CHECK_EQ(r.value, 0x20120707u);
    CHECK(r.ok);
    CHECK_EQ(r.status, 0);
    CHECK_EQ(r.data_len, 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_SYNC), ESPFAB_MATCH_OK);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_READ_REG), ESPFAB_MATCH_SKIP);

    const uint8_t rom8266_sync[] = {0x01, 0x08, 0x02, 0x00, 0x07, 0x07, 0x12, 0x20, 0, 0};
    CHECK_EQ(espfab_resp_parse(rom8266_sync, sizeof(rom8266_sync), ESPFAB_LOADER_ROM_ESP8266, 0, &r), 0);
    CHECK_EQ(r.value, 0x20120707u);
    CHECK(r.ok);

    const uint8_t stub_sync[] = {0x01, 0x08, 0x02, 0x00, 0, 0, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(stub_sync, sizeof(stub_sync), ESPFAB_LOADER_STUB, 0, &r), 0);
    CHECK_EQ(r.value, 0);
    CHECK(r.ok);

    const uint8_t rom32_rr[] = {0x01, 0x0A, 0x04, 0x00, 0x83, 0x1D, 0xF0, 0x00, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(rom32_rr, sizeof(rom32_rr), ESPFAB_LOADER_ROM_ESP32, 0, &r), 0);
    CHECK_EQ(r.value, 0x00F01D83u);
    CHECK(r.ok);

    const uint8_t rom8266_rr[] = {0x01, 0x0A, 0x02, 0x00, 0x44, 0x00, 0x00, 0x80, 0x00, 0x00};
    CHECK_EQ(espfab_resp_parse(rom8266_rr, sizeof(rom8266_rr), ESPFAB_LOADER_ROM_ESP8266, 0, &r), 0);
    CHECK_EQ(r.value, 0x80000044u);
    CHECK_EQ(r.op, 0x0A);
    CHECK(r.ok);
}

static void test_parse_bad_frames(void)
{
    espfab_resp_t r;
    const uint8_t seven[] = {0x01, 0x08, 0x00, 0x00, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(seven, 7, ESPFAB_LOADER_STUB, 0, &r), ESPFAB_E_PROTO_SHORT_FRAME);
    const uint8_t eight[] = {0x01, 0x08, 0x00, 0x00, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(eight, 8, ESPFAB_LOADER_STUB, 0, &r), ESPFAB_E_PROTO_SHORT_FRAME);
    const uint8_t nine[] = {0x01, 0x08, 0x00, 0x00, 0, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(nine, 9, ESPFAB_LOADER_STUB, 0, &r), ESPFAB_E_PROTO_SHORT_FRAME);
    const uint8_t req[] = {0x00, 0x08, 0x02, 0x00, 0, 0, 0, 0, 0, 0}; /* our own echo */
    CHECK_EQ(espfab_resp_parse(req, sizeof(req), ESPFAB_LOADER_STUB, 0, &r),
             ESPFAB_E_PROTO_BAD_DIRECTION);
    const uint8_t ohai[] = {'O', 'H', 'A', 'I'};
    CHECK_EQ(espfab_resp_parse(ohai, 4, ESPFAB_LOADER_STUB, 0, &r), ESPFAB_E_PROTO_SHORT_FRAME);
}

/* The same failure bytes mean different things per loader. */
static void test_status_per_loader(void)
{
    espfab_resp_t r;
    const uint8_t f[] = {0x01, 0x03, 0x04, 0x00, 0, 0, 0, 0, 0x01, 0x07, 0x00, 0x00};
    CHECK_EQ(espfab_resp_parse(f, sizeof(f), ESPFAB_LOADER_ROM_ESP32, 0, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.status, 1);
    CHECK_EQ(r.error, 0x07);
    CHECK_EQ(espfab_resp_parse(f, 10, ESPFAB_LOADER_ROM_ESP8266, 0, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.error, 0x07);
    const uint8_t s[] = {0x01, 0x03, 0x02, 0x00, 0, 0, 0, 0, 0xC1, 0x00};
    CHECK_EQ(espfab_resp_parse(s, sizeof(s), ESPFAB_LOADER_STUB, 0, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.status, 1);
    CHECK_EQ(r.error, 0xC1);
    /* stub v1 SPI_SET_PARAMS success with an extra value in byte 2 is still OK */
    const uint8_t t[] = {0x01, 0x0B, 0x02, 0x00, 0, 0, 0, 0, 0x00, 0x05};
    CHECK_EQ(espfab_resp_parse(t, sizeof(t), ESPFAB_LOADER_STUB, 0, &r), 0);
    CHECK(r.ok);
    CHECK_EQ(r.error, 0);
}

static void test_md5_replies(void)
{
    espfab_resp_t r;
    uint8_t md5[16];
    /* MD5("") = d41d8cd98f00b204e9800998ecf8427e */
    const uint8_t want[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                              0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
    uint8_t rom[8 + 32 + 4] = {0x01, 0x13, 36, 0x00, 0x07, 0x07, 0x12, 0x20};
    memcpy(rom + 8, "d41d8cd98f00b204e9800998ecf8427e", 32);
    CHECK_EQ(espfab_resp_parse(rom, sizeof(rom), ESPFAB_LOADER_ROM_ESP32,
                               espfab_cmd_resp_data_len(0x13, ESPFAB_LOADER_ROM_ESP32), &r), 0);
    CHECK(r.ok);
    CHECK_EQ(r.data_len, 32);
    CHECK_EQ(espfab_resp_md5(&r, ESPFAB_LOADER_ROM_ESP32, md5), 0);
    CHECK_MEM(md5, want, 16);
    rom[8 + 5] = 'g';
    CHECK_EQ(espfab_resp_parse(rom, sizeof(rom), ESPFAB_LOADER_ROM_ESP32, 32, &r), 0);
    CHECK_EQ(espfab_resp_md5(&r, ESPFAB_LOADER_ROM_ESP32, md5), ESPFAB_E_PROTO_BAD_REPLY);

    uint8_t stub[8 + 16 + 2] = {0x01, 0x13, 18, 0x00};
    memcpy(stub + 8, want, 16);
    CHECK_EQ(espfab_resp_parse(stub, sizeof(stub), ESPFAB_LOADER_STUB, 16, &r), 0);
    CHECK(r.ok);
    memset(md5, 0, 16);
    CHECK_EQ(espfab_resp_md5(&r, ESPFAB_LOADER_STUB, md5), 0);
    CHECK_MEM(md5, want, 16);

    /* Stub v1 error reply: no digest, header still says size 18, status first. */
    const uint8_t err[] = {0x01, 0x13, 18, 0x00, 0, 0, 0, 0, 0x01, 0x00};
    CHECK_EQ(espfab_resp_parse(err, sizeof(err), ESPFAB_LOADER_STUB, 16, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.error, 0x01);
    CHECK_EQ(r.data_len, 0);
    CHECK_EQ(espfab_resp_md5(&r, ESPFAB_LOADER_STUB, md5), ESPFAB_E_PROTO_BAD_REPLY);
    /* Stub v2 read error */
    const uint8_t err2[] = {0x01, 0x13, 2, 0x00, 0, 0, 0, 0, 0xC4, 0x00};
    CHECK_EQ(espfab_resp_parse(err2, sizeof(err2), ESPFAB_LOADER_STUB, 16, &r), 0);
    CHECK_EQ(r.error, 0xC4);
    /* ROM failure with no data: [1, 9, 0, 0] */
    const uint8_t err3[] = {0x01, 0x13, 4, 0x00, 0, 0, 0, 0, 0x01, 0x09, 0, 0};
    CHECK_EQ(espfab_resp_parse(err3, sizeof(err3), ESPFAB_LOADER_ROM_ESP32, 32, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.status, 1);
    CHECK_EQ(r.error, 0x09);
}

static void test_security_info(void)
{
    espfab_resp_t r;
    espfab_secinfo_t s;
    /* ESP32-C6 ROM: 20 data bytes + 4 status (size 0x18) */
    const uint8_t c6[] = {0x01, 0x14, 0x18, 0x00, 0x07, 0x07, 0x12, 0x20,
                          0x05, 0x01, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 12,
                          13, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(c6, sizeof(c6), ESPFAB_LOADER_ROM_ESP32, 20, &r), 0);
    CHECK(r.ok);
    CHECK_EQ(r.data_len, 20);
    CHECK_EQ(espfab_secinfo_parse(r.data, r.data_len, &s), 0);
    CHECK_EQ(s.flags, 0x105);
    CHECK_EQ(s.flash_crypt_cnt, 3);
    CHECK_EQ(s.key_purposes[6], 12);
    CHECK_EQ(s.key_purposes[0], 0);
    CHECK(s.has_chip_id);
    CHECK_EQ(s.chip_id, 13);
    CHECK_EQ(s.api_version, 1);

    /* ESP32-S2 ROM: 12 data bytes + 4 status */
    const uint8_t s2[] = {0x01, 0x14, 0x10, 0x00, 0x07, 0x07, 0x12, 0x20,
                          0x04, 0, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK_EQ(espfab_resp_parse(s2, sizeof(s2), ESPFAB_LOADER_ROM_ESP32, 20, &r), 0);
    CHECK(r.ok);
    CHECK_EQ(r.data_len, 12);
    CHECK_EQ(espfab_secinfo_parse(r.data, r.data_len, &s), 0);
    CHECK_EQ(s.flags, 4);
    CHECK_EQ(s.flash_crypt_cnt, 1);
    CHECK(!s.has_chip_id);
    /* ... and from a stub (12 + 2) */
    CHECK_EQ(espfab_resp_parse(s2, 8 + 14, ESPFAB_LOADER_STUB, 20, &r), 0);
    CHECK_EQ(r.data_len, 12);
    CHECK(r.ok);

    /* Stub v1 failure: just [0x01, 0] although the header claims 12 */
    const uint8_t e[] = {0x01, 0x14, 0x0C, 0x00, 0, 0, 0, 0, 0x01, 0x00};
    CHECK_EQ(espfab_resp_parse(e, sizeof(e), ESPFAB_LOADER_STUB, 20, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.error, 0x01);

    CHECK_EQ(espfab_secinfo_parse(c6 + 8, 11, &s), ESPFAB_E_PROTO_BAD_REPLY);
}

/* docs/protocol.md 1.4: the 12-byte ROM rejection "01 ?? 04 00 vvvvvvvv 01 05 00 00". */
static void test_unsupported_matching(void)
{
    espfab_resp_t r;
    const uint8_t rej[] = {0x01, 0x00, 0x04, 0x00, 0x07, 0x07, 0x12, 0x20, 0x01, 0x05, 0x00, 0x00};
    /* A GET_SECURITY_INFO asked of an ESP32 ROM (expect 20 data bytes). */
    CHECK_EQ(espfab_resp_parse(rej, sizeof(rej), ESPFAB_LOADER_ROM_ESP32, 20, &r), 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_GET_SECURITY_INFO), ESPFAB_MATCH_UNSUPPORTED);
    /* ... parsed under stub rules the raw bytes still say so */
    CHECK_EQ(espfab_resp_parse(rej, sizeof(rej), ESPFAB_LOADER_STUB, 0, &r), 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_READ_REG), ESPFAB_MATCH_UNSUPPORTED);
    /* echoed opcode: a normal (failed) reply, recognisable as unsupported */
    uint8_t echo[sizeof(rej)];
    memcpy(echo, rej, sizeof(rej));
    echo[1] = ESPFAB_OP_GET_SECURITY_INFO;
    CHECK_EQ(espfab_resp_parse(echo, sizeof(echo), ESPFAB_LOADER_ROM_ESP32, 20, &r), 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_GET_SECURITY_INFO), ESPFAB_MATCH_OK);
    CHECK(!r.ok);
    CHECK(espfab_resp_is_unsupported(&r));
    /* other failures on other opcodes: skip */
    uint8_t other[sizeof(rej)];
    memcpy(other, rej, sizeof(rej));
    other[9] = 0x06;
    CHECK_EQ(espfab_resp_parse(other, sizeof(other), ESPFAB_LOADER_ROM_ESP32, 0, &r), 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_READ_REG), ESPFAB_MATCH_SKIP);
    CHECK(!espfab_resp_is_unsupported(&r));
    other[8] = 0x00;
    other[9] = 0x05;
    CHECK_EQ(espfab_resp_parse(other, sizeof(other), ESPFAB_LOADER_ROM_ESP32, 0, &r), 0);
    CHECK_EQ(espfab_resp_match(&r, ESPFAB_OP_READ_REG), ESPFAB_MATCH_SKIP);
    /* stub "not implemented" / "invalid command" */
    const uint8_t ff[] = {0x01, 0x14, 0x02, 0x00, 0, 0, 0, 0, 0xFF, 0x00};
    CHECK_EQ(espfab_resp_parse(ff, sizeof(ff), ESPFAB_LOADER_STUB, 20, &r), 0);
    CHECK(espfab_resp_is_unsupported(&r));
    const uint8_t c4[] = {0x01, 0x13, 0x02, 0x00, 0, 0, 0, 0, 0xC4, 0x00};
    CHECK_EQ(espfab_resp_parse(c4, sizeof(c4), ESPFAB_LOADER_STUB, 16, &r), 0);
    CHECK(!espfab_resp_is_unsupported(&r));
    CHECK_EQ(espfab_resp_match(NULL, 0x08), ESPFAB_MATCH_SKIP);

    /* accept = parse + match; junk is skipped */
    CHECK_EQ(espfab_resp_accept(rej, sizeof(rej), ESPFAB_LOADER_ROM_ESP32, 20,
                                ESPFAB_OP_GET_SECURITY_INFO, &r), ESPFAB_MATCH_UNSUPPORTED);
    CHECK_EQ(espfab_resp_accept(echo, sizeof(echo), ESPFAB_LOADER_ROM_ESP32, 20,
                                ESPFAB_OP_GET_SECURITY_INFO, &r), ESPFAB_MATCH_OK);
    CHECK(!r.ok);
    const uint8_t ohai[] = {'O', 'H', 'A', 'I'};
    CHECK_EQ(espfab_resp_accept(ohai, 4, ESPFAB_LOADER_STUB, 0, ESPFAB_OP_MEM_END, &r),
             ESPFAB_MATCH_SKIP);
    uint8_t req[12];
    CHECK_EQ(espfab_cmd_read_reg(0x40001000u, req, sizeof(req)), 12);
    CHECK_EQ(espfab_resp_accept(req, 12, ESPFAB_LOADER_STUB, 0, ESPFAB_OP_READ_REG, &r),
             ESPFAB_MATCH_SKIP); /* our own request echoed back */
}

static int fault_for(espfab_loader_t l, uint8_t op, uint8_t s0, uint8_t s1, espfab_fault_t *f)
{
    const uint8_t fr[] = {0x01, op, 0x04, 0x00, 0, 0, 0, 0, s0, s1, 0, 0};
    espfab_resp_t r;
    size_t len = l == ESPFAB_LOADER_ROM_ESP32 ? 12 : 10;
    CHECK_EQ(espfab_resp_parse(fr, len, l, 0, &r), 0);
    espfab_fault_clear(f);
    return espfab_resp_to_fault(&r, l, op, f);
}

static void test_resp_to_fault(void)
{
    espfab_fault_t f;
    const espfab_loader_t rom = ESPFAB_LOADER_ROM_ESP32, stub = ESPFAB_LOADER_STUB;
    CHECK_EQ(fault_for(rom, 0x03, 1, 0x07, &f), ESPFAB_E_DATA_CHECKSUM);
    CHECK_EQ(f.code, ESPFAB_E_DATA_CHECKSUM);
    CHECK_EQ(f.rom_status, 1);
    CHECK_EQ(f.rom_error, 0x07);
    CHECK_EQ(f.stub_error, 0);
    CHECK_STR(f.detail, "FLASH_DATA");
    CHECK_EQ(fault_for(stub, 0x11, 0xC1, 0, &f), ESPFAB_E_DATA_CHECKSUM);
    CHECK_EQ(f.rom_error, 0xC1);
    CHECK_EQ(f.rom_status, 1);
    CHECK_EQ(f.stub_error, 1);
    CHECK_EQ(fault_for(rom, 0x03, 1, 0x08, &f), ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(fault_for(rom, 0x11, 1, 0x08, &f), ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(fault_for(rom, 0x13, 1, 0x08, &f), ESPFAB_E_ROM_ERROR);
    CHECK_EQ(fault_for(stub, 0x03, 0xC4, 0, &f), ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(fault_for(stub, 0x12, 0xC4, 0, &f), ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(fault_for(stub, 0x13, 0xC4, 0, &f), ESPFAB_E_FLASH_READ_ERROR);
    CHECK_EQ(fault_for(stub, 0xD1, 0xC4, 0, &f), ESPFAB_E_STUB_ERROR);
    CHECK_EQ(fault_for(rom, 0x13, 1, 0x09, &f), ESPFAB_E_FLASH_READ_ERROR);
    CHECK_EQ(fault_for(rom, 0x11, 1, 0x0B, &f), ESPFAB_E_INFLATE_ERROR);
    CHECK_EQ(fault_for(rom, 0x11, 1, 0x0C, &f), ESPFAB_E_INFLATE_ERROR);
    CHECK_EQ(fault_for(rom, 0x11, 1, 0x0D, &f), ESPFAB_E_INFLATE_ERROR);
    CHECK_EQ(fault_for(stub, 0x11, 0xC7, 0, &f), ESPFAB_E_INFLATE_ERROR);
    CHECK_EQ(fault_for(rom, 0x05, 1, 0x0E, &f), ESPFAB_E_ROM_ERROR);
    CHECK_EQ(f.rom_error, 0x0E);
    CHECK_EQ(fault_for(ESPFAB_LOADER_ROM_ESP8266, 0x02, 1, 0x06, &f), ESPFAB_E_ROM_ERROR);
    CHECK_EQ(f.rom_error, 0x06);
    CHECK_EQ(fault_for(stub, 0x0B, 0x01, 0, &f), ESPFAB_E_STUB_ERROR);
    CHECK_EQ(f.rom_error, 0x01);
    CHECK_EQ(f.stub_error, 1);
    CHECK_STR(f.detail, "SPI_SET_PARAMS");

    /* detail with context, and the line a user sees */
    const uint8_t fr[] = {0x01, 0x11, 0x02, 0x00, 0, 0, 0, 0, 0xC7, 0x00};
    espfab_resp_t r;
    CHECK_EQ(espfab_resp_parse(fr, sizeof(fr), stub, 0, &r), 0);
    espfab_fault_clear(&f);
    CHECK_EQ(espfab_resp_to_fault_at(&r, stub, ESPFAB_OP_FLASH_DEFL_DATA, "seq 12", &f),
             ESPFAB_E_INFLATE_ERROR);
    CHECK_STR(f.detail, "FLASH_DEFL_DATA seq 12");
    char line[512];
    espfab_fault_format(&f, line, sizeof(line));
    CHECK_CONTAINS(line, "FLASH_DEFL_DATA seq 12");
    CHECK_CONTAINS(line, "stub error 0xC7");
    CHECK_EQ(espfab_resp_to_fault(&r, stub, ESPFAB_OP_FLASH_DEFL_DATA, NULL), ESPFAB_E_INFLATE_ERROR);
}

/* A reply whose value holds both special bytes goes through SLIP and back. */
static void test_escaped_reply_through_slip(void)
{
    const uint8_t wire[] = {0xC0, 0x01, 0x0A, 0x02, 0x00, 0xDB, 0xDD, 0xDB, 0xDC, 0x00, 0xDB,
                            0xDC, 0x00, 0x00, 0xC0};
    uint8_t buf[64];
    espfab_slip_dec_t d;
    static uint8_t frame[64];
    static size_t frame_len;
    espfab_slip_dec_init(&d, buf, sizeof(buf));
    kept_len = 0;
    espfab_slip_cbs_t cbs = {0};
    cbs.frame = keep_frame;
    cbs.data = frame;
    espfab_slip_dec_feed(&d, wire, sizeof(wire), &cbs);
    frame_len = kept_len;
    CHECK_EQ(frame_len, 10);
    espfab_resp_t r;
    CHECK_EQ(espfab_resp_parse(frame, frame_len, ESPFAB_LOADER_STUB, 0, &r), 0);
    CHECK_EQ(r.value, 0xC000C0DBu);
    CHECK(r.ok);
}

static void test_read_flash_slow_reply(void)
{
    uint8_t f[8 + 64 + 4] = {0x01, 0x0E, 68, 0x00};
    for (int i = 0; i < 64; i++)
        f[8 + i] = (uint8_t)(0xA0 + i);
    espfab_resp_t r;
    CHECK_EQ(espfab_resp_parse(f, sizeof(f), ESPFAB_LOADER_ROM_ESP32,
                               espfab_cmd_resp_data_len(0x0E, ESPFAB_LOADER_ROM_ESP32), &r), 0);
    CHECK(r.ok);
    CHECK_EQ(r.data_len, 64);
    CHECK_EQ(r.data[0], 0xA0);
    CHECK_EQ(r.data[63], 0xDF);
    f[8 + 64] = 1;
    f[8 + 65] = 0x0A; /* read length error */
    CHECK_EQ(espfab_resp_parse(f, sizeof(f), ESPFAB_LOADER_ROM_ESP32, 64, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.error, 0x0A);
}

int main(void)
{
    RUN(test_sync_request_golden);
    RUN(test_read_reg_request_golden);
    RUN(test_checksum);
    RUN(test_data_builders);
    RUN(test_word_builders);
    RUN(test_names_and_lengths);
    RUN(test_parse_golden_replies);
    RUN(test_parse_bad_frames);
    RUN(test_status_per_loader);
    RUN(test_md5_replies);
    RUN(test_security_info);
    RUN(test_unsupported_matching);
    RUN(test_resp_to_fault);
    RUN(test_escaped_reply_through_slip);
    RUN(test_read_flash_slow_reply);
    return check_summary();
}
