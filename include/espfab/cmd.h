/*
 * cmd.h - ROM/stub loader packets (docs/protocol.md sections 1-3): request builders,
 * reply parsing and matching.  Pure code, no I/O, no allocation; thread-safe.
 *
 * Builders write one *unescaped* request packet (8-byte header + payload) into
 * out[0..cap) and return its length, or 0 when cap is too small or an argument
 * does not fit the protocol.  The caller SLIP-encodes it (slip.h).
 *
 * Reply parsing follows the host rules of docs/protocol.md 1.3: the status bytes
 * are located from the SLIP frame length and the number of response-data bytes
 * the command is expected to return, never from the header's size field; a
 * frame shorter than expected data + 2 carries its status in its first two
 * data bytes (stub error replies).
 */
#ifndef ESPFAB_CMD_H
#define ESPFAB_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum espfab_op {
    ESPFAB_OP_FLASH_BEGIN = 0x02,
    ESPFAB_OP_FLASH_DATA = 0x03,
    ESPFAB_OP_FLASH_END = 0x04,
    ESPFAB_OP_MEM_BEGIN = 0x05,
    ESPFAB_OP_MEM_END = 0x06,
    ESPFAB_OP_MEM_DATA = 0x07,
    ESPFAB_OP_SYNC = 0x08,
    ESPFAB_OP_WRITE_REG = 0x09,
    ESPFAB_OP_READ_REG = 0x0A,
    ESPFAB_OP_SPI_SET_PARAMS = 0x0B,
    ESPFAB_OP_SPI_ATTACH = 0x0D,
    ESPFAB_OP_READ_FLASH_SLOW = 0x0E,
    ESPFAB_OP_CHANGE_BAUDRATE = 0x0F,
    ESPFAB_OP_FLASH_DEFL_BEGIN = 0x10,
    ESPFAB_OP_FLASH_DEFL_DATA = 0x11,
    ESPFAB_OP_FLASH_DEFL_END = 0x12,
    ESPFAB_OP_SPI_FLASH_MD5 = 0x13,
    ESPFAB_OP_GET_SECURITY_INFO = 0x14,
    ESPFAB_OP_ERASE_FLASH = 0xD0,
    ESPFAB_OP_ERASE_REGION = 0xD1,
    ESPFAB_OP_READ_FLASH = 0xD2,
    ESPFAB_OP_RUN_USER_CODE = 0xD3
};

/* Which loader is answering: decides the status length and reply formats. */
typedef enum espfab_loader {
    ESPFAB_LOADER_ROM_ESP8266 = 0, /* 2 status bytes, no MD5/deflate */
    ESPFAB_LOADER_ROM_ESP32,       /* every ESP32-family ROM: 4 status bytes */
    ESPFAB_LOADER_STUB             /* flasher stub: 2 status bytes [error, 0] */
} espfab_loader_t;

/* The error byte of a failed reply, by loader (docs/protocol.md 3).  The ROM
 * sends status 1 and one of its codes; the stub sends its code alone. */
enum espfab_rom_error {
    ESPFAB_ROM_ERR_INVALID_MSG = 0x05,   /* bad parameters/length; also "unsupported" */
    ESPFAB_ROM_ERR_FAILED_TO_ACT = 0x06, /* e.g. a data block's sequence number again */
    ESPFAB_ROM_ERR_BAD_CHECKSUM = 0x07,  /* the data block's checksum */
    ESPFAB_ROM_ERR_FLASH_WRITE = 0x08,
    ESPFAB_ROM_ERR_FLASH_READ = 0x09,
    ESPFAB_ROM_ERR_FLASH_READ_LEN = 0x0A,
    ESPFAB_ROM_ERR_DEFLATE = 0x0B,       /* 0x0B-0x0D: inflate failures */
    ESPFAB_ROM_ERR_DEFLATE_LAST = 0x0D,
    ESPFAB_ROM_ERR_LAST_GENERIC = 0x0F,  /* 0x01-0x0F: the ROM's own codes */
    ESPFAB_ROM_ERR_SDM_FIRST = 0x64,     /* 0x64-0x69: secure download mode refusals */
    ESPFAB_ROM_ERR_SDM_LAST = 0x69
};
enum espfab_stub_error {
    ESPFAB_STUB_ERR_FAILED = 0x01,
    ESPFAB_STUB_ERR_BAD_DATA_LEN = 0xC0,
    ESPFAB_STUB_ERR_BAD_DATA_CHECKSUM = 0xC1,
    ESPFAB_STUB_ERR_BAD_BLOCKSIZE = 0xC2,
    ESPFAB_STUB_ERR_INVALID_COMMAND = 0xC3,
    ESPFAB_STUB_ERR_FAILED_SPI_OP = 0xC4,
    ESPFAB_STUB_ERR_FAILED_SPI_UNLOCK = 0xC5,
    ESPFAB_STUB_ERR_NOT_IN_FLASH_MODE = 0xC6,
    ESPFAB_STUB_ERR_INFLATE = 0xC7,
    ESPFAB_STUB_ERR_LAST = 0xCB,         /* 0xC0-0xCB: the stub's codes */
    ESPFAB_STUB_ERR_NOT_IMPLEMENTED = 0xFF
};
/* An error byte that loader could have sent (else: noise on the line).
 * 0 counts for the stub (no error). */
bool espfab_rom_error_known(uint8_t e);
bool espfab_stub_error_known(uint8_t e);

/* GET_SECURITY_INFO flags. */
#define ESPFAB_SECINFO_SECURE_DOWNLOAD 0x4u

#define ESPFAB_CMD_HDR 8
#define ESPFAB_SYNC_PAYLOAD 36
#define ESPFAB_ROM_FLASH_BLOCK 0x400
#define ESPFAB_STUB_FLASH_BLOCK 0x4000
#define ESPFAB_RAM_BLOCK 0x1800
#define ESPFAB_SECTOR 0x1000

const char *espfab_op_name(uint8_t op); /* "FLASH_DEFL_DATA", "op 0x42" style for unknown */
const char *espfab_loader_name(espfab_loader_t l); /* "ROM" / "stub" */
size_t espfab_cmd_status_len(espfab_loader_t l);   /* 2 or 4 */
/* 0xEF XOR every byte (docs/protocol.md 1.5). */
uint8_t espfab_cmd_checksum(const uint8_t *data, size_t n);

/* Generic packer: header(op, len, chk) + payload. */
size_t espfab_cmd_pack(uint8_t op, const uint8_t *payload, size_t len, uint32_t chk,
                       uint8_t *out, size_t cap);

size_t espfab_cmd_sync(uint8_t *out, size_t cap);
size_t espfab_cmd_read_reg(uint32_t addr, uint8_t *out, size_t cap);
size_t espfab_cmd_write_reg(uint32_t addr, uint32_t value, uint32_t mask, uint32_t delay_us,
                            uint8_t *out, size_t cap);
/* Several (addr, value, mask, delay_us) groups in one WRITE_REG: words holds
 * 4 * ngroups values (1..16 groups).  Stubs accept this; ROM support for more
 * than one group is unconfirmed (docs/protocol.md 2.3), so send one to a ROM. */
size_t espfab_cmd_write_regs(const uint32_t *words, size_t ngroups, uint8_t *out, size_t cap);
size_t espfab_cmd_mem_begin(uint32_t size, uint32_t blocks, uint32_t block_size, uint32_t addr,
                            uint8_t *out, size_t cap);
size_t espfab_cmd_mem_data(uint32_t seq, const uint8_t *data, size_t len, uint8_t *out, size_t cap);
/* esptool's convention: flag = (entry == 0), i.e. 0 = jump to entry. */
size_t espfab_cmd_mem_end(uint32_t flag, uint32_t entry, uint8_t *out, size_t cap);
/* op is FLASH_BEGIN or FLASH_DEFL_BEGIN; with_encrypted_word adds the 5th word. */
size_t espfab_cmd_flash_begin(uint8_t op, uint32_t size, uint32_t blocks, uint32_t block_size,
                              uint32_t offset, bool with_encrypted_word, uint32_t encrypted,
                              uint8_t *out, size_t cap);
/* op is FLASH_DATA or FLASH_DEFL_DATA; header (len, seq, 0, 0) + data, checksummed. */
size_t espfab_cmd_flash_data(uint8_t op, uint32_t seq, const uint8_t *data, size_t len,
                             uint8_t *out, size_t cap);
/* op is FLASH_END or FLASH_DEFL_END; flag 0 = reboot, 1 = stay / run user code. */
size_t espfab_cmd_flash_end(uint8_t op, uint32_t flag, uint8_t *out, size_t cap);
/* ROM form is 8 bytes (config, 0); stub form is 4 bytes. */
size_t espfab_cmd_spi_attach(uint32_t config, espfab_loader_t l, uint8_t *out, size_t cap);
/* esptool's fixed values: 0, total, 0x10000, 0x1000, 0x100, 0xFFFF. */
size_t espfab_cmd_spi_set_params(uint32_t total_size, uint8_t *out, size_t cap);
/* old_baud is 0 for the ROM, the current baud for the stub. */
size_t espfab_cmd_change_baud(uint32_t new_baud, uint32_t old_baud, uint8_t *out, size_t cap);
size_t espfab_cmd_flash_md5(uint32_t addr, uint32_t size, uint8_t *out, size_t cap);
size_t espfab_cmd_security_info(uint8_t *out, size_t cap);
size_t espfab_cmd_erase_flash(uint8_t *out, size_t cap);
size_t espfab_cmd_erase_region(uint32_t offset, uint32_t size, uint8_t *out, size_t cap);
size_t espfab_cmd_read_flash(uint32_t offset, uint32_t len, uint32_t packet_size,
                             uint32_t max_in_flight, uint8_t *out, size_t cap);
size_t espfab_cmd_read_flash_slow(uint32_t offset, uint32_t len, uint8_t *out, size_t cap);
size_t espfab_cmd_run_user_code(uint8_t *out, size_t cap);

/* Response-data bytes (before the status bytes) a command returns on success. */
size_t espfab_cmd_resp_data_len(uint8_t op, espfab_loader_t l);

/* A parsed reply.  data points into the caller's frame. */
typedef struct espfab_resp {
    uint8_t op;           /* echoed opcode */
    uint16_t size;        /* header size field (informational only) */
    uint32_t value;       /* header value field (READ_REG result) */
    const uint8_t *data;  /* response data before the status bytes */
    size_t data_len;      /* 0 when the frame was too short to carry it */
    uint8_t status;       /* ROM: 0 ok / 1 fail; stub: 0 ok, 1 when error != 0 */
    uint8_t error;        /* ROM error byte, or the stub error code */
    bool ok;              /* status == 0 (ROM) / error == 0 (stub) */
    const uint8_t *body;  /* everything after the 8-byte header (raw) */
    size_t body_len;
} espfab_resp_t;

/* Parses a frame as a reply.  expect_data is espfab_cmd_resp_data_len() of the
 * request (callers may pass a different value for variable replies, e.g. 12 or
 * 20 for GET_SECURITY_INFO).  Returns 0, ESPFAB_E_PROTO_SHORT_FRAME (< 8 bytes
 * or no room for status) or ESPFAB_E_PROTO_BAD_DIRECTION (byte 0 != 1).
 * Status: at body[expect_data] when the body holds expect_data + 2 bytes,
 * else at body[0] with data_len 0 (short stub error replies).  One addition:
 * a GET_SECURITY_INFO reply whose body is 12 + 2 or 12 + 4 bytes while 20 data
 * bytes were expected is the ESP32-S2 form: data_len 12, status after it. */
int espfab_resp_parse(const uint8_t *frame, size_t len, espfab_loader_t l, size_t expect_data,
                      espfab_resp_t *r);

typedef enum espfab_match {
    ESPFAB_MATCH_SKIP = 0,    /* not ours: keep waiting */
    ESPFAB_MATCH_OK,          /* reply to req_op */
    ESPFAB_MATCH_UNSUPPORTED  /* "invalid message" rejection: command unsupported */
} espfab_match_t;
/* Classifies a parsed reply against the pending request (docs/protocol.md 1.4):
 * same opcode -> OK (even when it reports a failure); another opcode whose
 * raw body starts with status != 0 and error 0x05 -> UNSUPPORTED; else SKIP. */
espfab_match_t espfab_resp_match(const espfab_resp_t *r, uint8_t req_op);
/* Parse + match in one step, as a session's frame callback wants it: frames
 * shorter than 8 bytes, with direction != 1 or without room for status bytes
 * are SKIP (esptool skips them too); otherwise espfab_resp_match().  *r is
 * filled whenever the result is not SKIP. */
espfab_match_t espfab_resp_accept(const uint8_t *frame, size_t len, espfab_loader_t l,
                                  size_t expect_data, uint8_t req_op, espfab_resp_t *r);
/* True for a failed reply that means "command not supported" even though it
 * echoed the opcode: ROM error 0x05 (invalid message; also Secure Download
 * Mode refusals), stub 0xC3 (invalid command) or 0xFF (not implemented). */
bool espfab_resp_is_unsupported(const espfab_resp_t *r);

/* Maps a failed reply to an espfab error code and fills the fault's ROM/stub
 * fields (rom_status, rom_error, stub_error).  Flash write/read errors, bad
 * checksum and inflate errors map to their session codes; anything else to
 * ESPFAB_E_ROM_ERROR or ESPFAB_E_STUB_ERROR.  Returns the code.
 *   ROM 0x07 / stub 0xC1                    -> DATA_CHECKSUM
 *   ROM 0x08 / stub 0xC4 on a write command -> FLASH_WRITE_ERROR
 *     (FLASH_BEGIN/DATA/END and their DEFL forms: the stub defers errors)
 *   ROM 0x09 / stub 0xC4 on MD5/READ_FLASH  -> FLASH_READ_ERROR
 *   ROM 0x0B/0x0C/0x0D / stub 0xC7          -> INFLATE_ERROR
 * The detail is the command name ("FLASH_DEFL_DATA"); f may be NULL. */
struct espfab_fault;
int espfab_resp_to_fault(const espfab_resp_t *r, espfab_loader_t l, uint8_t req_op,
                         struct espfab_fault *f);
/* Same, with context appended to the detail: where = "seq 12" gives the detail
 * "FLASH_DEFL_DATA seq 12".  where may be NULL. */
int espfab_resp_to_fault_at(const espfab_resp_t *r, espfab_loader_t l, uint8_t req_op,
                            const char *where, struct espfab_fault *f);

/* SPI_FLASH_MD5: ROM sends 32 lowercase hex chars, the stub 16 raw bytes.
 * Returns 0 or ESPFAB_E_PROTO_BAD_REPLY. */
int espfab_resp_md5(const espfab_resp_t *r, espfab_loader_t l, uint8_t md5[16]);

/* GET_SECURITY_INFO reply (docs/protocol.md 2.10). */
typedef struct espfab_secinfo {
    uint32_t flags;
    uint8_t flash_crypt_cnt;
    uint8_t key_purposes[7];
    bool has_chip_id;     /* false on ESP32-S2 (12-byte reply) */
    uint32_t chip_id;
    uint32_t api_version;
} espfab_secinfo_t;
/* Accepts 20- and 12-byte bodies. Returns 0 or ESPFAB_E_PROTO_BAD_REPLY. */
int espfab_secinfo_parse(const uint8_t *data, size_t len, espfab_secinfo_t *s);

/* Little-endian helpers. */
static inline void espfab_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t espfab_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint16_t espfab_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

#endif
