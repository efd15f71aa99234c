/*
 * cmd.c - request builders, reply parsing and matching for the ROM and stub
 * loaders (docs/protocol.md sections 1-3).  Pure: no I/O, no allocation.
 */
#include "espfab/cmd.h"

#include <stdio.h>
#include <string.h>

#include "espfab/err.h"


#define HEX16(h)                                                                        \
    "op 0x" h "0", "op 0x" h "1", "op 0x" h "2", "op 0x" h "3", "op 0x" h "4",          \
    "op 0x" h "5", "op 0x" h "6", "op 0x" h "7", "op 0x" h "8", "op 0x" h "9",          \
    "op 0x" h "A", "op 0x" h "B", "op 0x" h "C", "op 0x" h "D", "op 0x" h "E",          \
    "op 0x" h "F"
static const char *const unknown_ops[256] = {
    HEX16("0"), HEX16("1"), HEX16("2"), HEX16("3"), HEX16("4"), HEX16("5"),
    HEX16("6"), HEX16("7"), HEX16("8"), HEX16("9"), HEX16("A"), HEX16("B"),
    HEX16("C"), HEX16("D"), HEX16("E"), HEX16("F"),
};
#undef HEX16

const char *espfab_op_name(uint8_t op)
{
    switch (op) {
    case ESPFAB_OP_FLASH_BEGIN: return "FLASH_BEGIN";
    case ESPFAB_OP_FLASH_DATA: return "FLASH_DATA";
    case ESPFAB_OP_FLASH_END: return "FLASH_END";
    case ESPFAB_OP_MEM_BEGIN: return "MEM_BEGIN";
    case ESPFAB_OP_MEM_END: return "MEM_END";
    case ESPFAB_OP_MEM_DATA: return "MEM_DATA";
    case ESPFAB_OP_SYNC: return "SYNC";
    case ESPFAB_OP_WRITE_REG: return "WRITE_REG";
    case ESPFAB_OP_READ_REG: return "READ_REG";
    case ESPFAB_OP_SPI_SET_PARAMS: return "SPI_SET_PARAMS";
    case ESPFAB_OP_SPI_ATTACH: return "SPI_ATTACH";
    case ESPFAB_OP_READ_FLASH_SLOW: return "READ_FLASH_SLOW";
    case ESPFAB_OP_CHANGE_BAUDRATE: return "CHANGE_BAUDRATE";
    case ESPFAB_OP_FLASH_DEFL_BEGIN: return "FLASH_DEFL_BEGIN";
    case ESPFAB_OP_FLASH_DEFL_DATA: return "FLASH_DEFL_DATA";
    case ESPFAB_OP_FLASH_DEFL_END: return "FLASH_DEFL_END";
    case ESPFAB_OP_SPI_FLASH_MD5: return "SPI_FLASH_MD5";
    case ESPFAB_OP_GET_SECURITY_INFO: return "GET_SECURITY_INFO";
    case ESPFAB_OP_ERASE_FLASH: return "ERASE_FLASH";
    case ESPFAB_OP_ERASE_REGION: return "ERASE_REGION";
    case ESPFAB_OP_READ_FLASH: return "READ_FLASH";
    case ESPFAB_OP_RUN_USER_CODE: return "RUN_USER_CODE";
    case 0xD4: return "FLASH_ENCRYPT_DATA";
    default: return unknown_ops[op];
    }
}

const char *espfab_loader_name(espfab_loader_t l)
{
    return l == ESPFAB_LOADER_STUB ? "stub" : "ROM";
}

size_t espfab_cmd_status_len(espfab_loader_t l)
{
    return l == ESPFAB_LOADER_ROM_ESP32 ? 4 : 2;
}

uint8_t espfab_cmd_checksum(const uint8_t *data, size_t n)
{
    uint8_t chk = 0xEF;
    for (size_t i = 0; i < n; i++)
        chk ^= data[i];
    return chk;
}

size_t espfab_cmd_pack(uint8_t op, const uint8_t *payload, size_t len, uint32_t chk,
                       uint8_t *out, size_t cap)
{
    if (!out || len > 0xFFFF || cap < ESPFAB_CMD_HDR || cap - ESPFAB_CMD_HDR < len)
        return 0;
    if (len && !payload)
        return 0;
    out[0] = 0x00;
    out[1] = op;
    out[2] = (uint8_t)len;
    out[3] = (uint8_t)(len >> 8);
    espfab_put_le32(out + 4, chk);
    if (len)
        memmove(out + ESPFAB_CMD_HDR, payload, len);
    return ESPFAB_CMD_HDR + len;
}

/* Packs a request whose payload is n little-endian words. */
static size_t pack_words(uint8_t op, const uint32_t *w, size_t n, uint8_t *out, size_t cap)
{
    uint8_t p[6 * 4];
    for (size_t i = 0; i < n; i++)
        espfab_put_le32(p + 4 * i, w[i]);
    return espfab_cmd_pack(op, n ? p : NULL, 4 * n, 0, out, cap);
}

/* MEM_DATA / FLASH_DATA / FLASH_DEFL_DATA: (len, seq, 0, 0) + data, checksummed. */
static size_t pack_data(uint8_t op, uint32_t seq, const uint8_t *data, size_t len,
                        uint8_t *out, size_t cap)
{
    size_t total = 16 + len;
    if (!out || len > 0xFFFF - 16 || (len && !data))
        return 0;
    if (cap < ESPFAB_CMD_HDR || cap - ESPFAB_CMD_HDR < total)
        return 0;
    uint8_t *p = out + ESPFAB_CMD_HDR;
    if (len)
        memmove(p + 16, data, len);
    espfab_put_le32(p, (uint32_t)len);
    espfab_put_le32(p + 4, seq);
    espfab_put_le32(p + 8, 0);
    espfab_put_le32(p + 12, 0);
    out[0] = 0x00;
    out[1] = op;
    out[2] = (uint8_t)total;
    out[3] = (uint8_t)(total >> 8);
    espfab_put_le32(out + 4, espfab_cmd_checksum(p + 16, len));
    return ESPFAB_CMD_HDR + total;
}

size_t espfab_cmd_sync(uint8_t *out, size_t cap)
{
    uint8_t p[ESPFAB_SYNC_PAYLOAD];
    p[0] = 0x07;
    p[1] = 0x07;
    p[2] = 0x12;
    p[3] = 0x20;
    memset(p + 4, 0x55, sizeof(p) - 4);
    return espfab_cmd_pack(ESPFAB_OP_SYNC, p, sizeof(p), 0, out, cap);
}

size_t espfab_cmd_read_reg(uint32_t addr, uint8_t *out, size_t cap)
{
    uint32_t w[] = {addr};
    return pack_words(ESPFAB_OP_READ_REG, w, 1, out, cap);
}

size_t espfab_cmd_write_reg(uint32_t addr, uint32_t value, uint32_t mask, uint32_t delay_us,
                            uint8_t *out, size_t cap)
{
    uint32_t w[] = {addr, value, mask, delay_us};
    return pack_words(ESPFAB_OP_WRITE_REG, w, 4, out, cap);
}

size_t espfab_cmd_write_regs(const uint32_t *words, size_t ngroups, uint8_t *out, size_t cap)
{
    uint8_t p[16 * 16];
    if (!words || ngroups == 0 || ngroups > 16)
        return 0;
    for (size_t i = 0; i < 4 * ngroups; i++)
        espfab_put_le32(p + 4 * i, words[i]);
    return espfab_cmd_pack(ESPFAB_OP_WRITE_REG, p, 16 * ngroups, 0, out, cap);
}

size_t espfab_cmd_mem_begin(uint32_t size, uint32_t blocks, uint32_t block_size, uint32_t addr,
                            uint8_t *out, size_t cap)
{
    uint32_t w[] = {size, blocks, block_size, addr};
    return pack_words(ESPFAB_OP_MEM_BEGIN, w, 4, out, cap);
}

size_t espfab_cmd_mem_data(uint32_t seq, const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    return pack_data(ESPFAB_OP_MEM_DATA, seq, data, len, out, cap);
}

size_t espfab_cmd_mem_end(uint32_t flag, uint32_t entry, uint8_t *out, size_t cap)
{
    uint32_t w[] = {flag, entry};
    return pack_words(ESPFAB_OP_MEM_END, w, 2, out, cap);
}

size_t espfab_cmd_flash_begin(uint8_t op, uint32_t size, uint32_t blocks, uint32_t block_size,
                              uint32_t offset, bool with_encrypted_word, uint32_t encrypted,
                              uint8_t *out, size_t cap)
{
    if (op != ESPFAB_OP_FLASH_BEGIN && op != ESPFAB_OP_FLASH_DEFL_BEGIN)
        return 0;
    uint32_t w[] = {size, blocks, block_size, offset, encrypted};
    return pack_words(op, w, with_encrypted_word ? 5 : 4, out, cap);
}

size_t espfab_cmd_flash_data(uint8_t op, uint32_t seq, const uint8_t *data, size_t len,
                             uint8_t *out, size_t cap)
{
    if (op != ESPFAB_OP_FLASH_DATA && op != ESPFAB_OP_FLASH_DEFL_DATA)
        return 0;
    return pack_data(op, seq, data, len, out, cap);
}

size_t espfab_cmd_flash_end(uint8_t op, uint32_t flag, uint8_t *out, size_t cap)
{
    if (op != ESPFAB_OP_FLASH_END && op != ESPFAB_OP_FLASH_DEFL_END)
        return 0;
    uint32_t w[] = {flag};
    return pack_words(op, w, 1, out, cap);
}

size_t espfab_cmd_spi_attach(uint32_t config, espfab_loader_t l, uint8_t *out, size_t cap)
{
    uint32_t w[] = {config, 0};
    return pack_words(ESPFAB_OP_SPI_ATTACH, w, l == ESPFAB_LOADER_STUB ? 1 : 2, out, cap);
}

size_t espfab_cmd_spi_set_params(uint32_t total_size, uint8_t *out, size_t cap)
{
    uint32_t w[] = {0, total_size, 0x10000, 0x1000, 0x100, 0xFFFF};
    return pack_words(ESPFAB_OP_SPI_SET_PARAMS, w, 6, out, cap);
}

size_t espfab_cmd_change_baud(uint32_t new_baud, uint32_t old_baud, uint8_t *out, size_t cap)
{
    uint32_t w[] = {new_baud, old_baud};
    return pack_words(ESPFAB_OP_CHANGE_BAUDRATE, w, 2, out, cap);
}

size_t espfab_cmd_flash_md5(uint32_t addr, uint32_t size, uint8_t *out, size_t cap)
{
    uint32_t w[] = {addr, size, 0, 0};
    return pack_words(ESPFAB_OP_SPI_FLASH_MD5, w, 4, out, cap);
}

size_t espfab_cmd_security_info(uint8_t *out, size_t cap)
{
    return espfab_cmd_pack(ESPFAB_OP_GET_SECURITY_INFO, NULL, 0, 0, out, cap);
}

size_t espfab_cmd_erase_flash(uint8_t *out, size_t cap)
{
    return espfab_cmd_pack(ESPFAB_OP_ERASE_FLASH, NULL, 0, 0, out, cap);
}

size_t espfab_cmd_erase_region(uint32_t offset, uint32_t size, uint8_t *out, size_t cap)
{
    uint32_t w[] = {offset, size};
    return pack_words(ESPFAB_OP_ERASE_REGION, w, 2, out, cap);
}

size_t espfab_cmd_read_flash(uint32_t offset, uint32_t len, uint32_t packet_size,
                             uint32_t max_in_flight, uint8_t *out, size_t cap)
{
    uint32_t w[] = {offset, len, packet_size, max_in_flight};
    return pack_words(ESPFAB_OP_READ_FLASH, w, 4, out, cap);
}

size_t espfab_cmd_read_flash_slow(uint32_t offset, uint32_t len, uint8_t *out, size_t cap)
{
    if (len > 64) /* the reply always carries 64 bytes; more cannot be returned */
        return 0;
    uint32_t w[] = {offset, len};
    return pack_words(ESPFAB_OP_READ_FLASH_SLOW, w, 2, out, cap);
}

size_t espfab_cmd_run_user_code(uint8_t *out, size_t cap)
{
    return espfab_cmd_pack(ESPFAB_OP_RUN_USER_CODE, NULL, 0, 0, out, cap);
}

size_t espfab_cmd_resp_data_len(uint8_t op, espfab_loader_t l)
{
    switch (op) {
    case ESPFAB_OP_SPI_FLASH_MD5: return l == ESPFAB_LOADER_STUB ? 16 : 32;
    case ESPFAB_OP_GET_SECURITY_INFO: return 20;
    case ESPFAB_OP_READ_FLASH_SLOW: return 64;
    default: return 0;
    }
}

int espfab_resp_parse(const uint8_t *frame, size_t len, espfab_loader_t l, size_t expect_data,
                      espfab_resp_t *r)
{
    memset(r, 0, sizeof(*r));
    if (!frame || len < ESPFAB_CMD_HDR)
        return ESPFAB_E_PROTO_SHORT_FRAME;
    if (frame[0] != 0x01)
        return ESPFAB_E_PROTO_BAD_DIRECTION;
    r->op = frame[1];
    r->size = espfab_get_le16(frame + 2);
    r->value = espfab_get_le32(frame + 4);
    r->body = frame + ESPFAB_CMD_HDR;
    r->body_len = len - ESPFAB_CMD_HDR;

    const uint8_t *b = r->body;
    size_t blen = r->body_len, st;
    if (blen >= 2 && blen - 2 >= expect_data) {
        r->data_len = expect_data;
        st = expect_data;
    } else if (r->op == ESPFAB_OP_GET_SECURITY_INFO && expect_data == 20 &&
               (blen == 12 + 2 || blen == 12 + 4)) {
        r->data_len = 12; /* ESP32-S2: no chip_id / api_version words */
        st = 12;
    } else if (blen >= 2) {
        r->data_len = 0; /* short error reply: status where the data would start */
        st = 0;
    } else {
        return ESPFAB_E_PROTO_SHORT_FRAME;
    }
    r->data = b;
    if (l == ESPFAB_LOADER_STUB) {
        r->error = b[st];
        r->status = r->error != 0;
        r->ok = r->error == 0;
    } else {
        r->status = b[st];
        r->error = b[st + 1];
        r->ok = r->status == 0;
    }
    return 0;
}

espfab_match_t espfab_resp_match(const espfab_resp_t *r, uint8_t req_op)
{
    if (!r || !r->body)
        return ESPFAB_MATCH_SKIP;
    if (r->op == req_op)
        return ESPFAB_MATCH_OK;
    if (r->body_len >= 2 && r->body[0] != 0 && r->body[1] == ESPFAB_ROM_ERR_INVALID_MSG)
        return ESPFAB_MATCH_UNSUPPORTED;
    return ESPFAB_MATCH_SKIP;
}

espfab_match_t espfab_resp_accept(const uint8_t *frame, size_t len, espfab_loader_t l,
                                  size_t expect_data, uint8_t req_op, espfab_resp_t *r)
{
    if (espfab_resp_parse(frame, len, l, expect_data, r) != 0)
        return ESPFAB_MATCH_SKIP;
    return espfab_resp_match(r, req_op);
}

bool espfab_resp_is_unsupported(const espfab_resp_t *r)
{
    if (!r || r->ok || r->status == 0)
        return false;
    /* ROM error bytes never reach 0xC3/0xFF, so the three codes cannot collide. */
    return r->error == ESPFAB_ROM_ERR_INVALID_MSG || r->error == ESPFAB_STUB_ERR_INVALID_COMMAND ||
           r->error == ESPFAB_STUB_ERR_NOT_IMPLEMENTED;
}

bool espfab_rom_error_known(uint8_t e)
{
    return (e >= 0x01 && e <= ESPFAB_ROM_ERR_LAST_GENERIC) ||
           (e >= ESPFAB_ROM_ERR_SDM_FIRST && e <= ESPFAB_ROM_ERR_SDM_LAST);
}

bool espfab_stub_error_known(uint8_t e)
{
    return e == 0 || e == ESPFAB_STUB_ERR_FAILED || e == ESPFAB_STUB_ERR_NOT_IMPLEMENTED ||
           (e >= ESPFAB_STUB_ERR_BAD_DATA_LEN && e <= ESPFAB_STUB_ERR_LAST);
}

static bool is_write_op(uint8_t op)
{
    switch (op) {
    case ESPFAB_OP_FLASH_BEGIN:
    case ESPFAB_OP_FLASH_DATA:
    case ESPFAB_OP_FLASH_END:
    case ESPFAB_OP_FLASH_DEFL_BEGIN:
    case ESPFAB_OP_FLASH_DEFL_DATA:
    case ESPFAB_OP_FLASH_DEFL_END:
    case 0xD4: /* FLASH_ENCRYPT_DATA */
        return true;
    default:
        return false;
    }
}

static bool is_read_op(uint8_t op)
{
    return op == ESPFAB_OP_SPI_FLASH_MD5 || op == ESPFAB_OP_READ_FLASH ||
           op == ESPFAB_OP_READ_FLASH_SLOW;
}

int espfab_resp_to_fault_at(const espfab_resp_t *r, espfab_loader_t l, uint8_t req_op,
                            const char *where, struct espfab_fault *f)
{
    int code;
    bool stub = l == ESPFAB_LOADER_STUB;
    uint8_t e = r ? r->error : 0;

    if (stub) {
        if (e == ESPFAB_STUB_ERR_BAD_DATA_CHECKSUM)
            code = ESPFAB_E_DATA_CHECKSUM;
        else if (e == ESPFAB_STUB_ERR_FAILED_SPI_OP && is_write_op(req_op))
            code = ESPFAB_E_FLASH_WRITE_ERROR;
        else if (e == ESPFAB_STUB_ERR_FAILED_SPI_OP && is_read_op(req_op))
            code = ESPFAB_E_FLASH_READ_ERROR;
        else if (e == ESPFAB_STUB_ERR_INFLATE)
            code = ESPFAB_E_INFLATE_ERROR;
        else
            code = ESPFAB_E_STUB_ERROR;
    } else {
        if (e == ESPFAB_ROM_ERR_BAD_CHECKSUM)
            code = ESPFAB_E_DATA_CHECKSUM;
        else if (e == ESPFAB_ROM_ERR_FLASH_WRITE && is_write_op(req_op))
            code = ESPFAB_E_FLASH_WRITE_ERROR;
        else if (e == ESPFAB_ROM_ERR_FLASH_READ)
            code = ESPFAB_E_FLASH_READ_ERROR;
        else if (e >= ESPFAB_ROM_ERR_DEFLATE && e <= ESPFAB_ROM_ERR_DEFLATE_LAST)
            code = ESPFAB_E_INFLATE_ERROR;
        else
            code = ESPFAB_E_ROM_ERROR;
    }
    if (f) {
        f->rom_status = r ? r->status : -1;
        f->rom_error = r ? r->error : -1;
        f->stub_error = stub;
        if (where && where[0])
            espfab_fault_set(f, code, "%s %s", espfab_op_name(req_op), where);
        else
            espfab_fault_set(f, code, "%s", espfab_op_name(req_op));
    }
    return code;
}

int espfab_resp_to_fault(const espfab_resp_t *r, espfab_loader_t l, uint8_t req_op,
                         struct espfab_fault *f)
{
    return espfab_resp_to_fault_at(r, l, req_op, NULL, f);
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int espfab_resp_md5(const espfab_resp_t *r, espfab_loader_t l, uint8_t md5[16])
{
    if (!r || !r->data)
        return ESPFAB_E_PROTO_BAD_REPLY;
    if (l == ESPFAB_LOADER_STUB) {
        if (r->data_len < 16)
            return ESPFAB_E_PROTO_BAD_REPLY;
        memcpy(md5, r->data, 16);
        return 0;
    }
    if (r->data_len < 32)
        return ESPFAB_E_PROTO_BAD_REPLY;
    uint8_t tmp[16];
    for (int i = 0; i < 16; i++) {
        int hi = hexval(r->data[2 * i]), lo = hexval(r->data[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return ESPFAB_E_PROTO_BAD_REPLY;
        tmp[i] = (uint8_t)(hi << 4 | lo);
    }
    memcpy(md5, tmp, 16);
    return 0;
}

int espfab_secinfo_parse(const uint8_t *data, size_t len, espfab_secinfo_t *s)
{
    memset(s, 0, sizeof(*s));
    if (!data || len < 12)
        return ESPFAB_E_PROTO_BAD_REPLY;
    s->flags = espfab_get_le32(data);
    s->flash_crypt_cnt = data[4];
    memcpy(s->key_purposes, data + 5, 7);
    if (len >= 20) {
        s->has_chip_id = true;
        s->chip_id = espfab_get_le32(data + 12);
        s->api_version = espfab_get_le32(data + 16);
    }
    return 0;
}
