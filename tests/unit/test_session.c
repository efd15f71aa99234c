/*
 * test_session.c - drives real sessions over a pty against a scripted fake
 * board written here (its own SLIP codec, golden reply bytes, a flash array
 * with zlib inflate and OpenSSL MD5), not espsim.  Each test asserts the
 * record, the fault and the state sequence.
 */
#include "check.h"
#include "port_wait.h"

#include <fcntl.h>
#include <pty.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>
#include <zlib.h>

#include "espfab/session.h"

#define FLASH_SIZE (4u << 20)

/* ---- the fake board ---------------------------------------------------- */

typedef struct board {
    int mfd, sfd;
    char path[64];
    uv_poll_t poll;
    bool poll_open;
    uint8_t rx[0x4000 + 256];
    size_t rxlen;
    bool inframe, esc;
    /* persona */
    int status_len;          /* 4 = ESP32-family ROM, 2 = ESP8266 ROM */
    uint32_t chip_id;        /* GET_SECURITY_INFO chip id */
    uint32_t magic;          /* READ_REG(0x40001000) if not 0 (default: ESP32-S3) */
    int ohai_mode;           /* MEM_END: 0 OHAI, 1 garbled greeting (stub runs), 2 the stub never starts */
    int sync_ignore;         /* SYNCs left unanswered */
    const char *banner;      /* printed at the first SYNC instead of answering */
    bool silent;
    /* scripted faults on data blocks (-1 = none) */
    int corrupt_seq;         /* answer this seq once with a broken frame */
    int err_seq;             /* answer this seq with ROM error err_code */
    uint8_t err_code;
    int vanish_seq;          /* hang up when this seq arrives */
    bool stub;               /* the fake stub runs (after MEM_END) */
    bool esp8266;            /* ESP8266 ROM persona (2 status bytes) */
    bool junk;               /* a broken-direction frame before every reply */
    int garble_op;           /* answer this opcode once with status byte 0x37 */
    uint32_t begin_words[4]; /* last FLASH_BEGIN payload */
    uint32_t baud_words[2];  /* last CHANGE_BAUDRATE payload */
    uint32_t mem_bytes;      /* MEM_DATA payload received */
    uint32_t max_mem_block, max_data_block; /* largest MEM_DATA / FLASH_(DEFL_)DATA payload */
    int late_seq;            /* at this data seq: print late_banner and go silent */
    const char *late_banner;
    /* WRITE_REG log (first entry of each command) and a register store */
    uint32_t wr_addr[64], wr_val[64], wr_mask[64];
    int nwr;
    uint32_t st_addr[32], st_val[32];
    int nst;
    /* the S3's SPI engine: W0 answers the last opcode written to USR2 */
    uint8_t spi_op;
    int spi_count[256];      /* SPI commands run, by opcode */
    uint32_t jedec;          /* RDID (0 = 0x1640EF) */
    uint8_t sfdp_vendor;     /* SFDP byte 0x10 (0 = 0xEF) */
    bool xmc_broken;         /* RDID reads 0xFFFFFF until B9 79 FF AB */
    int xmc_seen;
    int spi_refuse_op;       /* refuse (ROM error 0x05) the USR2 write of this opcode */
    uint32_t spi_base;       /* 0 = the S3's 0x60002000 (the P4's is 0x5008D000) */
    uint32_t hangup_after;   /* hang up after answering a WRITE_REG to this address */
    uint32_t chatter_after;  /* print boot text after answering a WRITE_REG here */
    uint32_t refuse_wr;      /* refuse (ROM error 0x05) WRITE_REGs to this address */
    /* what it saw */
    int nsync;
    int ops[256];
    int data_seqs[256];
    int ndata;
    /* flash */
    uint8_t *flash;
    bool defl;
    uint32_t w_off, w_pos;
    z_stream zs;
    bool zinit;
    /* READ_FLASH (stub): a stream of packets, each acknowledged */
    bool rd_active;
    uint32_t rd_addr, rd_len, rd_pkt, rd_sent;
    int rd_burst;            /* packets sent per acknowledgement (1 = the real stub) */
    int rd_stall_after;      /* stop sending after this many packets (-1 = never) */
    bool rd_bad_md5;         /* send a wrong digest */
    int rd_packets, rd_acks, rd_bad_acks;
    uint32_t rd_last_ack;
} board_t;

static void board_send(board_t *b, const uint8_t *p, size_t n)
{
    uint8_t out[2 * 4096 + 2];
    size_t o = 0;
    out[o++] = 0xC0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0xC0) {
            out[o++] = 0xDB;
            out[o++] = 0xDC;
        } else if (p[i] == 0xDB) {
            out[o++] = 0xDB;
            out[o++] = 0xDD;
        } else {
            out[o++] = p[i];
        }
    }
    out[o++] = 0xC0;
    if (write(b->mfd, out, o) != (ssize_t)o)
        fprintf(stderr, "board: short write\n");
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* 01 op size value data status[status_len] */
static void board_reply(board_t *b, uint8_t op, uint32_t value, const uint8_t *data, size_t dlen,
                        uint8_t status, uint8_t err)
{
    uint8_t f[128];
    size_t sl = (size_t)b->status_len;
    if (b->junk) {
        static const uint8_t bad[] = {0x02, 0x0A, 0x02, 0x00, 0, 0, 0, 0, 0, 0};
        board_send(b, bad, sizeof(bad));
    }
    f[0] = 0x01;
    f[1] = op;
    f[2] = (uint8_t)(dlen + sl);
    f[3] = 0;
    put32(f + 4, value);
    if (dlen)
        memcpy(f + 8, data, dlen);
    memset(f + 8 + dlen, 0, sl);
    f[8 + dlen] = b->stub ? err : status; /* stub: [error, 0] */
    f[9 + dlen] = b->stub ? 0 : err;
    board_send(b, f, 8 + dlen + sl);
}

static uint32_t board_spi(const board_t *b) { return b->spi_base ? b->spi_base : 0x60002000u; }

static uint32_t board_reg(board_t *b, uint32_t addr)
{
    for (int i = 0; i < b->nst; i++)
        if (b->st_addr[i] == addr)
            return b->st_val[i];
    if (b->esp8266) {
        switch (addr) {
        case 0x40001000: return 0xFFF0C101;        /* ESP8266 magic */
        case 0x3FF00050: return 0x56000000;        /* OTP m0 */
        case 0x3FF00054: return 0x00001234;        /* OTP m1: OUI 18:fe:34 */
        case 0x60000200 + 0x40: return 0x001540C8; /* SPI W0: GigaDevice 2 MB */
        default: return 0;
        }
    }
    if (addr == 0x40001000 && b->magic)
        return b->magic;
    if (addr == board_spi(b) + 0x58) { /* SPI W0 */
        if (b->spi_op == 0x5A)
            return b->sfdp_vendor ? b->sfdp_vendor : 0xEF;
        if (b->xmc_broken)
            return 0xFFFFFF;
        return b->jedec ? b->jedec : 0x001640EF; /* RDID: Winbond 4 MB */
    }
    switch (addr) {
    case 0x40001000: return 0x00000009;       /* ESP32-S3 magic */
    case 0x60007044: return 0x28000003;       /* MAC w0 */
    case 0x60007048: return 0x0000246f;       /* MAC w1 */
    default: return 0;
    }
}

static void board_store(board_t *b, uint32_t addr, uint32_t v)
{
    for (int i = 0; i < b->nst; i++)
        if (b->st_addr[i] == addr) {
            b->st_val[i] = v;
            return;
        }
    if (b->nst < 32) {
        b->st_addr[b->nst] = addr;
        b->st_val[b->nst++] = v;
    }
}

/* index of the first logged WRITE_REG to addr at or after from; -1 if none */
static int board_wr_find(const board_t *b, int from, uint32_t addr, uint32_t val)
{
    for (int i = from < 0 ? 0 : from; i < b->nwr; i++)
        if (b->wr_addr[i] == addr && b->wr_val[i] == val)
            return i;
    return -1;
}

static void board_hangup(board_t *b)
{
    if (b->poll_open) {
        uv_close((uv_handle_t *)&b->poll, NULL);
        b->poll_open = false;
    }
    close(b->mfd);
    b->mfd = -1;
}

static void board_data(board_t *b, uint8_t op, const uint8_t *pay, size_t len, uint32_t chk)
{
    uint32_t dlen = get32(pay), seq = get32(pay + 4);
    if (b->ndata < 256)
        b->data_seqs[b->ndata++] = (int)seq;
    if (dlen > b->max_data_block)
        b->max_data_block = dlen;
    if ((int)seq == b->late_seq && b->late_banner) {
        if (write(b->mfd, b->late_banner, strlen(b->late_banner)) < 0)
            fprintf(stderr, "board: write\n");
        b->silent = true;
        return;
    }
    if ((int)seq == b->vanish_seq) {
        board_hangup(b);
        return;
    }
    if ((int)seq == b->corrupt_seq) {
        b->corrupt_seq = -1;
        static const uint8_t junk[] = {0x01, 0x03}; /* a truncated frame: skipped */
        board_send(b, junk, sizeof(junk));
        return;
    }
    uint8_t c = 0xEF;
    for (size_t i = 16; i < len; i++)
        c ^= pay[i];
    if (c != (uint8_t)chk || dlen != len - 16) {
        board_reply(b, op, 0, NULL, 0, 1, 0x07);
        return;
    }
    if ((int)seq == b->err_seq) {
        board_reply(b, op, 0, NULL, 0, 1, b->err_code);
        return;
    }
    if (op == 0x11) {
        b->zs.next_in = (uint8_t *)pay + 16;
        b->zs.avail_in = dlen;
        while (b->zs.avail_in) {
            b->zs.next_out = b->flash + b->w_pos;
            b->zs.avail_out = FLASH_SIZE - b->w_pos;
            int zr = inflate(&b->zs, Z_NO_FLUSH);
            b->w_pos = (uint32_t)(FLASH_SIZE - b->zs.avail_out);
            if (zr == Z_STREAM_END)
                break;
            if (zr != Z_OK) {
                board_reply(b, op, 0, NULL, 0, 1, 0x0B);
                return;
            }
        }
    } else {
        memcpy(b->flash + b->w_pos, pay + 16, dlen);
        b->w_pos += dlen;
    }
    board_reply(b, op, 0, NULL, 0, 0, 0);
}

/* READ_FLASH: up to rd_burst packets, or the digest once all were sent. */
static void board_read_next(board_t *b)
{
    for (int i = 0; i < b->rd_burst && b->rd_sent < b->rd_len; i++) {
        if (b->rd_stall_after >= 0 && b->rd_packets >= b->rd_stall_after)
            return;
        uint32_t k = b->rd_len - b->rd_sent < b->rd_pkt ? b->rd_len - b->rd_sent : b->rd_pkt;
        board_send(b, b->flash + b->rd_addr + b->rd_sent, k);
        b->rd_sent += k;
        b->rd_packets++;
    }
}

static void board_read_ack(board_t *b, const uint8_t *f)
{
    uint32_t acked = get32(f);
    b->rd_acks++;
    if (acked <= b->rd_last_ack || acked > b->rd_sent)
        b->rd_bad_acks++;
    b->rd_last_ack = acked;
    if (acked != b->rd_sent)
        return; /* the stub waits for the acknowledgement of all it sent */
    if (b->rd_sent < b->rd_len) {
        board_read_next(b);
        return;
    }
    uint8_t md[16];
    unsigned mdlen = 0;
    EVP_Digest(b->flash + b->rd_addr, b->rd_len, md, &mdlen, EVP_md5(), NULL);
    if (b->rd_bad_md5)
        md[3] ^= 0x40;
    board_send(b, md, 16);
    b->rd_active = false;
}

static void board_frame(board_t *b, const uint8_t *f, size_t n)
{
    if (b->rd_active && n == 4) {
        board_read_ack(b, f);
        return;
    }
    if (n < 8 || f[0] != 0)
        return;
    uint8_t op = f[1];
    const uint8_t *pay = f + 8;
    size_t len = n - 8;
    b->ops[op]++;
    if (b->silent && b->late_banner)
        return; /* reset: the loader is gone */
    switch (op) {
    case 0x08: /* SYNC */
        b->nsync++;
        if (b->banner) {
            if (b->nsync == 1 && write(b->mfd, b->banner, strlen(b->banner)) < 0)
                fprintf(stderr, "board: write\n");
            return;
        }
        if (b->silent || b->sync_ignore-- > 0)
            return;
        for (int i = 0; i < 8; i++) /* ROMs answer with a value, stubs with 0 */
            board_reply(b, op, b->stub ? 0 : 0x20120707, NULL, 0, 0, 0);
        return;
    case 0x14: { /* GET_SECURITY_INFO: 20 bytes */
        if (b->magic == 0x00F01D83) {
            /* the ESP32 ROM has none: its refusal (status 1, error 0x05,
             * opcode not echoed), repeated */
            for (int i = 0; i < 8; i++)
                board_reply(b, 0x00, 0, NULL, 0, 1, 0x05);
            return;
        }
        uint8_t d[20] = {0};
        put32(d + 12, b->chip_id);
        board_reply(b, op, 0, d, 20, 0, 0);
        return;
    }
    case 0x0A:
        board_reply(b, op, board_reg(b, get32(pay)), NULL, 0, 0, 0);
        return;
    case 0x10: /* FLASH_DEFL_BEGIN */
    case 0x02: /* FLASH_BEGIN */
        b->defl = op == 0x10;
        if (get32(pay + 4) == 0) { /* FLASH_BEGIN(0, 0): attach / run request */
            board_reply(b, op, 0, NULL, 0, 0, 0);
            return;
        }
        for (int i = 0; i < 4; i++)
            b->begin_words[i] = get32(pay + 4 * i);
        b->w_off = b->w_pos = get32(pay + 12);
        if (b->defl) {
            if (b->zinit)
                inflateEnd(&b->zs);
            memset(&b->zs, 0, sizeof(b->zs));
            inflateInit(&b->zs);
            b->zinit = true;
        }
        board_reply(b, op, 0, NULL, 0, 0, 0);
        return;
    case 0x03:
    case 0x11:
        board_data(b, op, pay, len, get32(f + 4));
        return;
    case 0x09: /* WRITE_REG addr value mask delay: (old & ~mask) | (value & mask) */
        if (len >= 16 && b->refuse_wr && get32(pay) == b->refuse_wr) {
            board_reply(b, op, 0, NULL, 0, 1, 0x05);
            return;
        }
        if (len >= 16) {
            uint32_t a = get32(pay), v = get32(pay + 4), m = get32(pay + 8);
            if (b->nwr < 64) {
                b->wr_addr[b->nwr] = a;
                b->wr_val[b->nwr] = v;
                b->wr_mask[b->nwr++] = m;
            }
            if (a == board_spi(b) + 0x20) { /* USR2: the command's opcode */
                static const uint8_t fix[] = {0xB9, 0x79, 0xFF, 0xAB};
                b->spi_op = (uint8_t)v;
                b->spi_count[b->spi_op]++;
                b->xmc_seen = b->xmc_seen < 4 && b->spi_op == fix[b->xmc_seen] ? b->xmc_seen + 1 : b->spi_op == 0xB9;
                if (b->xmc_seen == 4)
                    b->xmc_broken = false;
                if (b->spi_refuse_op == (int)(v & 0xFF)) {
                    board_reply(b, op, 0, NULL, 0, 1, 0x05);
                    return;
                }
            }
            /* GPIO, RTC (S3), LP/PMU (P4); the SPI engine completes at once */
            if ((a >= 0x60004000u && a < 0x60009000u) || (a >= 0x50110000u && a < 0x50120000u))
                board_store(b, a, (board_reg(b, a) & ~m) | (v & m));
            board_reply(b, op, 0, NULL, 0, 0, 0);
            if (a == b->hangup_after) {
                board_hangup(b);
                return;
            }
            if (a == b->chatter_after) {
                for (int i = 0; i < 40; i++) {
                    static const char boot[] = "ESP-ROM:esp32s3-20210327\r\nrst:0x10 (RTCWDT_RTC_RESET)\r\n";
                    if (write(b->mfd, boot, sizeof(boot) - 1) < 0)
                        break;
                }
            }
            return;
        }
        board_reply(b, op, 0, NULL, 0, 0, 0);
        return;
    case 0x07: /* MEM_DATA */
        if (get32(pay) > b->max_mem_block)
            b->max_mem_block = get32(pay);
        b->mem_bytes += get32(pay);
        board_reply(b, op, 0, NULL, 0, 0, 0);
        return;
    case 0x06: { /* MEM_END: reply as the ROM, then the stub says OHAI */
        board_reply(b, op, 0, NULL, 0, 0, 0);
        if (b->ohai_mode == 2)
            return; /* still the ROM */
        static const uint8_t ohai[] = {'O', 'H', 'A', 'I'}, garbled[] = {'O', 0xC8, 'A', 'I'};
        board_send(b, b->ohai_mode == 1 ? garbled : ohai, 4);
        b->stub = true;
        b->status_len = 2;
        return;
    }
    case 0xD2: /* READ_FLASH (stub): offset, length, packet size, in flight */
        board_reply(b, op, 0, NULL, 0, 0, 0);
        b->rd_active = true;
        b->rd_addr = get32(pay);
        b->rd_len = get32(pay + 4);
        b->rd_pkt = get32(pay + 8);
        b->rd_sent = b->rd_last_ack = 0;
        board_read_next(b);
        return;
    case 0x0E: { /* READ_FLASH_SLOW (ROM): 64 bytes of data whatever the length */
        uint8_t d[64];
        memset(d, 0xFF, sizeof(d));
        memcpy(d, b->flash + get32(pay), get32(pay + 4) < 64 ? get32(pay + 4) : 64);
        board_reply(b, op, 0, d, 64, 0, 0);
        return;
    }
    case 0x0F:
        b->baud_words[0] = get32(pay);
        b->baud_words[1] = get32(pay + 4);
        board_reply(b, op, 0, NULL, 0, 0, 0);
        return;
    case 0x13: { /* SPI_FLASH_MD5: ROM form, 32 hex chars; stub: 16 raw bytes */
        uint32_t addr = get32(pay), size = get32(pay + 4);
        uint8_t md[16];
        unsigned mdlen = 0;
        EVP_Digest(b->flash + addr, size, md, &mdlen, EVP_md5(), NULL);
        char hex[33];
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
        if (b->stub)
            board_reply(b, op, 0, md, 16, 0, 0);
        else
            board_reply(b, op, 0, (const uint8_t *)hex, 32, 0, 0);
        return;
    }
    default: /* SPI_ATTACH, WRITE_REG, SPI_SET_PARAMS, CHANGE_BAUDRATE, FLASH_END */
        if (op == b->garble_op) {
            b->garble_op = -1;
            board_reply(b, op, 0, NULL, 0, 0x37, 0); /* noise hit the status byte */
            return;
        }
        board_reply(b, op, 0, NULL, 0, 0, 0);
        return;
    }
}

static void board_on_poll(uv_poll_t *h, int status, int events)
{
    board_t *b = h->data;
    uint8_t buf[4096];
    if (status < 0)
        return;
    ssize_t n = read(b->mfd, buf, sizeof(buf));
    for (ssize_t i = 0; i < n && b->mfd >= 0; i++) {
        uint8_t c = buf[i];
        if (!b->inframe) {
            if (c == 0xC0) {
                b->inframe = true;
                b->rxlen = 0;
            }
            continue;
        }
        if (c == 0xC0) {
            if (b->rxlen)
                board_frame(b, b->rx, b->rxlen);
            b->inframe = b->rxlen == 0;
            b->rxlen = 0;
            continue;
        }
        if (b->esc) {
            c = c == 0xDC ? 0xC0 : 0xDB;
            b->esc = false;
        } else if (c == 0xDB) {
            b->esc = true;
            continue;
        }
        if (b->rxlen < sizeof(b->rx))
            b->rx[b->rxlen++] = c;
    }
}

static void board_init(board_t *b, uv_loop_t *loop)
{
    memset(b, 0, sizeof(*b));
    b->status_len = 4;
    b->chip_id = 9; /* ESP32-S3 */
    b->corrupt_seq = b->err_seq = b->vanish_seq = b->garble_op = b->late_seq = b->spi_refuse_op = -1;
    b->rd_burst = 1;
    b->rd_stall_after = -1;
    CHECK(openpty(&b->mfd, &b->sfd, b->path, NULL, NULL) == 0);
    struct termios t;
    tcgetattr(b->sfd, &t);
    cfmakeraw(&t);
    tcsetattr(b->sfd, TCSANOW, &t);
    fcntl(b->mfd, F_SETFL, fcntl(b->mfd, F_GETFL) | O_NONBLOCK);
    b->flash = malloc(FLASH_SIZE);
    memset(b->flash, 0xFF, FLASH_SIZE);
    uv_poll_init(loop, &b->poll, b->mfd);
    b->poll.data = b;
    uv_poll_start(&b->poll, UV_READABLE, board_on_poll);
    b->poll_open = true;
}

static void board_free(board_t *b)
{
    if (b->mfd >= 0)
        close(b->mfd);
    close(b->sfd);
    if (b->zinit)
        inflateEnd(&b->zs);
    free(b->flash);
}

/* ---- running a session --------------------------------------------------- */

typedef struct run {
    board_t *b;
    espfab_attempt_t rec;
    int states[64];
    int nstates;
    char notes[2048];
    int progress;
    int done;
    uv_timer_t guard;
} run_t;

static bool cancel_at_progress;

static void on_ev(espfab_session_t *s, const espfab_session_ev_t *ev, void *data)
{
    run_t *r = data;
    switch (ev->kind) {
    case ESPFAB_SESSION_EV_STATE:
        if (r->nstates < 64)
            r->states[r->nstates++] = ev->new_state;
        break;
    case ESPFAB_SESSION_EV_NOTE:
        strncat(r->notes, ev->note, sizeof(r->notes) - strlen(r->notes) - 2);
        strcat(r->notes, "\n");
        break;
    case ESPFAB_SESSION_EV_PROGRESS:
        r->progress++;
        if (cancel_at_progress && r->progress == 1)
            espfab_session_cancel(s);
        CHECK(ev->done <= ev->total);
        break;
    case ESPFAB_SESSION_EV_DONE:
        r->done++;
        r->rec = *espfab_session_record(s);
        CHECK_EQ(ev->outcome, r->rec.outcome);
        espfab_session_free(s);
        if (r->b->poll_open) {
            uv_close((uv_handle_t *)&r->b->poll, NULL);
            r->b->poll_open = false;
        }
        uv_close((uv_handle_t *)&r->guard, NULL);
        break;
    }
}

static void on_guard(uv_timer_t *t)
{
    fprintf(stderr, "session did not finish in time\n");
    abort();
}

static uint8_t image[20000];

/* Runs one session against a fresh board; script(b) sets the board's
 * behaviour after it is set up.  The board's flash is checked by check(b). */
static void run_session(board_t *b, espfab_session_opts_t *o, run_t *r, bool with_region,
                        void (*script)(board_t *), void (*check)(board_t *))
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    board_init(b, &loop);
    if (script)
        script(b);
    memset(r, 0, sizeof(*r));
    r->b = b;
    espfab_blob_cache_t *cache = espfab_blob_cache_new(&loop);
    for (size_t i = 0; i < sizeof(image); i++) /* partly compressible, not trivially */
        image[i] = (uint8_t)((i * 7) ^ (i >> 5) ^ (i % 251 == 0 ? 0x5A : 0));
    espfab_blob_t *blob = espfab_blob_intern_copy(cache, image, sizeof(image));
    espfab_session_region_t reg = {0x10000, "app.bin", blob};
    o->port = b->path;
    o->cache = cache;
    if (with_region) {
        o->regions = &reg;
        o->nregions = 1;
    }
    uv_timer_init(&loop, &r->guard);
    uv_timer_start(&r->guard, on_guard, 30000, 0);
    espfab_session_t *s = espfab_session_new(&loop, o, on_ev, r);
    CHECK(s != NULL);
    CHECK_EQ(espfab_session_start(s), 0);
    CHECK_EQ(r->nstates, 0); /* nothing fires from start() */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(r->done, 1);
    if (check)
        check(b);
    o->regions = NULL;
    o->nregions = 0;
    espfab_blob_unref(cache, blob);
    espfab_blob_cache_free(cache);
    board_free(b);
    CHECK_EQ(uv_loop_close(&loop), 0);
    if (r->rec.outcome != ESPFAB_OUTCOME_PASS)
        fprintf(stderr, "  [%s] %s\n", check_cur_name, r->rec.message);
}

static void base_opts(espfab_session_opts_t *o)
{
    espfab_session_opts_init(o);
    o->no_stub = true;
    o->timeout_scale = 0.1;
    o->connect_attempts = 2;
    o->baud = 460800;
}

static bool saw_state(const run_t *r, espfab_session_state_t st)
{
    for (int i = 0; i < r->nstates; i++)
        if (r->states[i] == (int)st)
            return true;
    return false;
}

static board_t B; /* large: keep it off the stack */

/* ---- tests ----------------------------------------------------------------- */

static void script_sync_retry(board_t *b) { b->sync_ignore = 2; }
static void check_flash_image(board_t *b) { CHECK_MEM(b->flash + 0x10000, image, sizeof(image)); }

static void test_pass_rom_deflate(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.chip = ESPFAB_CHIP_ESP32S3;
    run_session(&B, &o, &r, true, script_sync_retry, check_flash_image);
    const espfab_attempt_t *a = &r.rec;
    CHECK_EQ(a->outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(a->fault.code, 0);
    CHECK_EQ(B.nsync, 3); /* two unanswered, the third answered */
    CHECK_STR(a->chip, "ESP32-S3");
    CHECK_STR(a->mac, "24:6f:28:00:00:03");
    CHECK_EQ(a->flash_jedec, 0x1640EF);
    CHECK_EQ(a->flash_size, 4u << 20);
    CHECK_STR(a->loader, "ROM");
    CHECK_EQ(a->baud, 460800);
    CHECK_EQ(a->nregions, 1);
    CHECK(a->regions[0].written);
    CHECK(a->regions[0].verified);
    CHECK(a->regions[0].compressed);
    CHECK_EQ(a->regions[0].size, sizeof(image));
    CHECK_EQ(a->regions[0].offset, 0x10000);
    CHECK_STR(a->regions[0].file, "app.bin");
    CHECK_STR(a->regions[0].md5_device, a->regions[0].md5_expected);
    CHECK(a->regions[0].wire_size > 0 && a->regions[0].wire_size < sizeof(image));
    CHECK(a->bytes_sent > a->regions[0].wire_size);
    CHECK(a->bytes_received > 0);
    CHECK(a->end_ms >= a->start_ms && a->start_ms > 0);
    CHECK_CONTAINS(a->message, "PASS ESP32-S3 24:6f:28:00:00:03 1 region verified");
    CHECK_CONTAINS(r.notes, "no DTR/RTS");
    CHECK_CONTAINS(r.notes, "chip is ESP32-S3");
    CHECK_EQ(B.ops[0x10], 1); /* FLASH_DEFL_BEGIN */
    CHECK_EQ(B.ops[0x02], 1); /* FLASH_BEGIN(0,0) of the run request only */
    CHECK_EQ(B.ops[0x0F], 1); /* CHANGE_BAUDRATE */
    CHECK_EQ(B.ops[0x0D], 1); /* SPI_ATTACH (ROM) */
    CHECK_EQ(B.ops[0x13], 1); /* SPI_FLASH_MD5 */
    CHECK(r.progress >= 1);
    const int want[] = {ESPFAB_SS_OPEN, ESPFAB_SS_RESET, ESPFAB_SS_SYNC, ESPFAB_SS_DETECT,
                        ESPFAB_SS_READ_INFO, ESPFAB_SS_FLASH_ID, ESPFAB_SS_CHECK, ESPFAB_SS_BAUD,
                        ESPFAB_SS_SPI_PARAMS, ESPFAB_SS_PREPARE, ESPFAB_SS_WRITE, ESPFAB_SS_VERIFY,
                        ESPFAB_SS_RUN, ESPFAB_SS_DONE};
    int nwant = (int)(sizeof(want) / sizeof(want[0]));
    CHECK_EQ(r.nstates, nwant);
    for (int i = 0; i < r.nstates && i < nwant; i++) {
        if (r.states[i] != want[i])
            fprintf(stderr, "state %d: %s, want %s\n", i, espfab_session_state_name(r.states[i]),
                    espfab_session_state_name(want[i]));
        CHECK_EQ(r.states[i], want[i]);
    }
}

static void script_silent(board_t *b) { b->silent = true; }

static void test_silent(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_silent, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_NO_SERIAL_DATA);
    CHECK_EQ(r.rec.fault.retries, 2);
    CHECK_EQ(B.nsync, 10); /* 2 attempts x 5 SYNCs */
    CHECK_CONTAINS(r.rec.message, B.path);
    CHECK_CONTAINS(r.rec.message, "after 2 attempts");
    CHECK(!saw_state(&r, ESPFAB_SS_DETECT));
}

static void script_normal_boot(board_t *b)
{
    b->banner = "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
                "configsip: 0, SPIWP:0xee\r\n";
}

static void test_wrong_boot_mode(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_normal_boot, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_WRONG_BOOT_MODE);
    CHECK_CONTAINS(r.rec.fault.detail, "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)");
    CHECK_EQ(r.rec.fault.retries, 2);
}

static void script_download_banner(board_t *b)
{
    b->banner = "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x15 (USB_UART_CHIP_RESET),"
                "boot:0x0 (DOWNLOAD(USB/UART0))\r\nSaved PC:0x40034f40\r\nwaiting for download\r\n";
}

static void test_no_sync_reply(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_download_banner, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_NO_SYNC_REPLY);
    CHECK_CONTAINS(r.rec.message, "never answered SYNC");
}

static void script_noise(board_t *b) { b->banner = "\x13\x99\x7f\xfe garbage \x01\x02"; }

static void test_sync_failed_noise(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_noise, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_SYNC_FAILED);
}

static void test_chip_mismatch(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.chip = ESPFAB_CHIP_ESP32; /* the board is an ESP32-S3 */
    run_session(&B, &o, &r, true, NULL, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_CHIP_MISMATCH);
    CHECK_CONTAINS(r.rec.fault.detail, "this board is ESP32-S3, the profile is for ESP32");
    CHECK_STR(r.rec.chip, "ESP32-S3");
    CHECK_EQ(B.ops[0x03] + B.ops[0x11] + B.ops[0xD0] + B.ops[0xD1], 0); /* no data written, nothing erased */ /* nothing written */
    CHECK(!saw_state(&r, ESPFAB_SS_WRITE));
}

static void script_write_error(board_t *b)
{
    b->err_seq = 3;
    b->err_code = 0x08;
}

static void test_rom_error_decoded(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_compress = true; /* FLASH_BEGIN/DATA with 1 KiB blocks */
    run_session(&B, &o, &r, true, script_write_error, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_FLASH_WRITE_ERROR);
    CHECK_EQ(r.rec.fault.rom_status, 1);
    CHECK_EQ(r.rec.fault.rom_error, 0x08);
    CHECK_EQ(r.rec.fault.stub_error, 0);
    CHECK_CONTAINS(r.rec.fault.detail, "FLASH_DATA");
    CHECK_CONTAINS(r.rec.fault.detail, "seq 3");
    CHECK_CONTAINS(r.rec.message, "ROM error 0x08");
    CHECK(!r.rec.regions[0].written);
    CHECK(!r.rec.regions[0].verified);
    CHECK_EQ(B.ops[0x13], 0); /* no verify after a failed write */
}

static void script_corrupt(board_t *b) { b->corrupt_seq = 2; }

static void test_retry_after_corrupt_reply(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_compress = true;
    run_session(&B, &o, &r, true, script_corrupt, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK(r.rec.regions[0].verified);
    /* seq 2 was sent twice, then the rest in order */
    int n2 = 0;
    for (int i = 0; i < B.ndata; i++)
        n2 += B.data_seqs[i] == 2;
    CHECK_EQ(n2, 2);
    CHECK_EQ(B.ndata, (int)((sizeof(image) + 1023) / 1024) + 1);
}

static void script_vanish(board_t *b) { b->vanish_seq = 2; }

static void test_port_vanished(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_vanish, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_PORT_VANISHED);
    CHECK(!r.rec.regions[0].written);
}

/* A fake stub JSON (not a real stub: the fake board only counts its bytes). */
static char stub_dir[64];

/* A fake ESP32-S3 stub: text of text_len bytes, data = 8 bytes. */
static void make_fake_stub_sized(size_t text_len)
{
    snprintf(stub_dir, sizeof(stub_dir), "/tmp/espfab-test-stub-XXXXXX");
    CHECK(mkdtemp(stub_dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", stub_dir, espfab_chip_get(ESPFAB_CHIP_ESP32S3)->stub_file);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    static uint8_t text[8192];
    static unsigned char b64[8192 * 4 / 3 + 8];
    for (size_t i = 0; i < text_len && i < sizeof(text); i++)
        text[i] = (uint8_t)i;
    EVP_EncodeBlock(b64, text, (int)text_len);
    fprintf(fp, "{\"entry\": %u, \"text\": \"%s\", \"text_start\": %u, "
                "\"data\": \"ZGF0YWRhdGE=\", \"data_start\": %u}\n",
            0x40378004u, (const char *)b64, 0x40378000u, 0x3FCB2C00u);
    fclose(fp);
}

static void make_fake_stub(void) { make_fake_stub_sized(12); }

static void remove_fake_stub(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", stub_dir, espfab_chip_get(ESPFAB_CHIP_ESP32S3)->stub_file);
    unlink(path);
    rmdir(stub_dir);
}

static void test_stub_deflate_erase(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    make_fake_stub();
    o.no_stub = false;
    o.stub_dir = stub_dir;
    o.erase = ESPFAB_ERASE_REGIONS;
    run_session(&B, &o, &r, true, NULL, check_flash_image);
    remove_fake_stub();
    const espfab_attempt_t *a = &r.rec;
    CHECK_EQ(a->outcome, ESPFAB_OUTCOME_PASS);
    CHECK_STR(a->loader, "stub");
    CHECK_EQ(B.mem_bytes, 20);
    CHECK_EQ(B.ops[0x05], 2); /* MEM_BEGIN text + data */
    CHECK_EQ(B.ops[0x06], 1);
    CHECK_EQ(B.ops[0xD1], 1); /* ERASE_REGION */
    CHECK_EQ(B.ops[0x12], 1); /* FLASH_DEFL_END(1) after the region */
    CHECK_EQ(B.baud_words[0], 460800);
    CHECK_EQ(B.baud_words[1], 115200); /* the stub gets the old baud */
    CHECK(a->regions[0].verified);
    CHECK(saw_state(&r, ESPFAB_SS_STUB));
    CHECK(saw_state(&r, ESPFAB_SS_ERASE));
}

static void script_garbled_ohai(board_t *b) { b->ohai_mode = 1; }
static void script_no_ohai(board_t *b) { b->ohai_mode = 2; }

/* The stub's greeting arrives garbled: the stub runs, a SYNC proves it
 * (value 0), and the board is flashed. */
static void test_stub_ohai_garbled(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    make_fake_stub();
    o.no_stub = false;
    o.stub_dir = stub_dir;
    run_session(&B, &o, &r, true, script_garbled_ohai, check_flash_image);
    remove_fake_stub();
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_STR(r.rec.loader, "stub");
    CHECK_CONTAINS(r.notes, "OHAI was lost on the line; the stub answered SYNC");
    CHECK(r.rec.regions[0].verified);
}

/* No stub: the ROM answers the SYNC with its own value. */
static void test_stub_never_starts(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    make_fake_stub();
    o.no_stub = false;
    o.stub_dir = stub_dir;
    run_session(&B, &o, &r, true, script_no_ohai, NULL);
    remove_fake_stub();
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_STUB_NO_OHAI);
    CHECK_CONTAINS(r.rec.fault.detail, "the ROM, not the stub, answered SYNC");
    CHECK(!r.rec.regions[0].written);
}

static void script_esp8266(board_t *b)
{
    b->esp8266 = true;
    b->status_len = 2;
}

static void test_esp8266_rom_unverified(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.chip = ESPFAB_CHIP_ESP8266;
    run_session(&B, &o, &r, true, script_esp8266, check_flash_image);
    const espfab_attempt_t *a = &r.rec;
    /* written, but verification was asked for and this ROM cannot: a fail */
    CHECK_EQ(a->outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(a->fault.code, ESPFAB_E_UNVERIFIABLE);
    CHECK_CONTAINS(a->fault.detail, "1 region written; the ESP8266 ROM has no SPI_FLASH_MD5");
    CHECK_STR(a->chip, "ESP8266");
    CHECK_STR(a->mac, "18:fe:34:12:34:56");
    CHECK_EQ(a->flash_jedec, 0x1540C8);
    CHECK_EQ(a->baud, 115200); /* the ESP8266 ROM cannot change baud */
    CHECK(a->regions[0].written);
    CHECK(!a->regions[0].verified);
    CHECK(!a->regions[0].compressed);
    CHECK_CONTAINS(r.notes, "cannot change the baud rate");
    CHECK_EQ(B.ops[0x14], 0); /* no GET_SECURITY_INFO to a 2-byte-status ROM */
    CHECK_EQ(B.ops[0x0F] + B.ops[0x0B] + B.ops[0x0D] + B.ops[0x13] + B.ops[0x10], 0);
    /* the last FLASH_BEGIN is the run request; the write used the erase-size
     * workaround: 20000 bytes at 0x10000 = 5 sectors, head 16 -> 3 sectors */
    CHECK_EQ(B.ops[0x02], 2); /* attach, write (no run: the board failed) */
    CHECK_EQ(B.begin_words[0], 3 * 4096);
    CHECK_EQ(B.begin_words[1], 20);   /* 1 KiB blocks */
    CHECK_EQ(B.begin_words[2], 1024);
    CHECK_EQ(B.begin_words[3], 0x10000);
    CHECK(!saw_state(&r, ESPFAB_SS_VERIFY));

    /* --no-verify accepts it: a pass that says so, then the app runs */
    base_opts(&o);
    o.chip = ESPFAB_CHIP_ESP8266;
    o.no_verify = true;
    run_session(&B, &o, &r, true, script_esp8266, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK(r.rec.regions[0].written);
    CHECK(!r.rec.regions[0].verified);
    CHECK_CONTAINS(r.rec.message, "NOT verified (verification disabled)");
    CHECK_EQ(B.ops[0x02], 3); /* attach, write, run */
}

static void script_junk(board_t *b) { b->junk = true; }

static void test_link_unreliable(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_compress = true;
    run_session(&B, &o, &r, true, script_junk, NULL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_LINK_UNRELIABLE);
    CHECK_CONTAINS(r.rec.message, "lower the baud");
}

static void script_stub_running(board_t *b)
{
    b->stub = true;
    b->status_len = 2;
}

static void test_stub_already_running(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_stub = false;
    o.stub_dir = "/nonexistent"; /* must not be needed */
    run_session(&B, &o, &r, true, script_stub_running, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_STR(r.rec.loader, "stub");
    CHECK_CONTAINS(r.notes, "already running");
    CHECK_EQ(B.ops[0x05], 0); /* no upload */
    CHECK_EQ(B.ops[0x0D], 0); /* no SPI_ATTACH: the stub attached the flash */
    CHECK_EQ(B.baud_words[1], 115200);
    CHECK_EQ(B.ops[0x12], 1);
    CHECK(r.rec.regions[0].verified);
    CHECK(!saw_state(&r, ESPFAB_SS_STUB));
}

static void script_garble(board_t *b) { b->garble_op = 0x0B; }

static void test_corrupted_status_resent(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_garble, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.ops[0x0B], 2); /* SPI_SET_PARAMS sent again, not failed as a ROM error */
    CHECK_EQ(r.rec.fault.retries, 1);
}

static void test_info_only(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.info_only = true;
    run_session(&B, &o, &r, false, NULL, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_CONTAINS(r.rec.message, "24:6f:28:00:00:03");
    CHECK_CONTAINS(r.rec.message, "1640ef");
    CHECK(!saw_state(&r, ESPFAB_SS_WRITE));
    CHECK_EQ(B.ops[0x0F], 0); /* no baud change for an identification */
    CHECK_EQ(B.ops[0x14], 1); /* the S3's security flags */
}

/* An ESP32 is known by its magic register; its ROM has no
 * GET_SECURITY_INFO, so none is sent (no refusal to drain). */
static void script_esp32(board_t *b)
{
    b->magic = 0x00F01D83;
}

/* The ESP32 ROM refuses GET_SECURITY_INFO eight times over; the refusals
 * drain, and the magic register names the chip (not an S2 in secure
 * download mode, which a leftover refusal taken as READ_REG's would say). */
static void test_esp32_by_magic(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.info_only = true;
    run_session(&B, &o, &r, false, script_esp32, NULL);
    /* (the fake board has no ESP32 SPI registers: the flash id read after
     * detection fails; what counts here is the detection) */
    CHECK_STR(r.rec.chip, "ESP32");
    CHECK(saw_state(&r, ESPFAB_SS_DETECT));
    CHECK_EQ(B.ops[0x14], 1);
    CHECK(!r.rec.has_secinfo);
    CHECK(strstr(r.notes, "secure download") == NULL);
}

static void test_cancel(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    /* cancel before start: the session stops at its first step */
    uv_loop_t loop;
    uv_loop_init(&loop);
    board_init(&B, &loop);
    memset(&r, 0, sizeof(r));
    r.b = &B;
    o.port = B.path;
    uv_timer_init(&loop, &r.guard);
    uv_timer_start(&r.guard, on_guard, 30000, 0);
    espfab_session_t *s = espfab_session_new(&loop, &o, on_ev, &r);
    CHECK_EQ(espfab_session_start(s), 0);
    espfab_session_cancel(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    board_free(&B);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(r.done, 1);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_INTERRUPTED);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_CANCELLED);
    CHECK_EQ(B.nsync, 0);
}

static void test_cancel_mid_write(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_compress = true;
    cancel_at_progress = true;
    run_session(&B, &o, &r, true, NULL, NULL);
    cancel_at_progress = false;
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_INTERRUPTED);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_CANCELLED);
    CHECK_CONTAINS(r.rec.fault.detail, "write");
    CHECK_EQ(B.ndata, 1); /* stopped after the block in flight */
    CHECK_EQ(r.progress, 1);
    CHECK(!r.rec.regions[0].written);
}

static void test_bad_port(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(&r, 0, sizeof(r));
    memset(&B, 0, sizeof(B));
    r.b = &B;
    o.port = "/dev/ttyESPFAB_NOPE";
    uv_timer_init(&loop, &r.guard);
    uv_timer_start(&r.guard, on_guard, 30000, 0);
    espfab_session_t *s = espfab_session_new(&loop, &o, on_ev, &r);
    CHECK_EQ(espfab_session_start(s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_PORT_NOT_FOUND);
    CHECK_STR(espfab_session_state_name(ESPFAB_SS_READ_INFO), "read-info");
}

/* A tcp:// serial server that never answers (its accept queue is full): the
 * session waits in OPEN without blocking the loop, and a cancel ends it
 * long before the connect's 3 s timeout, leaving nothing open. */
static void cancel_later(uv_timer_t *t)
{
    espfab_session_cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel_while_opening(void)
{
    stuck_listener_t l;
    int port = stuck_listener_open(&l);
    CHECK(port > 0);
    if (port <= 0)
        return;
    char spec[64];
    snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    uv_loop_t loop;
    uv_loop_init(&loop);
    memset(&r, 0, sizeof(r));
    memset(&B, 0, sizeof(B));
    r.b = &B;
    o.port = spec;
    uv_timer_init(&loop, &r.guard);
    uv_timer_start(&r.guard, on_guard, 30000, 0);
    espfab_session_t *s = espfab_session_new(&loop, &o, on_ev, &r);
    uv_timer_t later;
    uv_timer_init(&loop, &later);
    later.data = s;
    uv_timer_start(&later, cancel_later, 100, 0);
    uint64_t t0 = uv_now(&loop);
    CHECK_EQ(espfab_session_start(s), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_update_time(&loop);
    uint64_t took = uv_now(&loop) - t0;
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(r.done, 1);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_INTERRUPTED);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_CANCELLED);
    CHECK_CONTAINS(r.rec.fault.detail, "open");
    CHECK(took >= 100 && took < 1500);
    stuck_listener_close(&l);
}

/* ---- the chip's own USB ---------------------------------------------------- */

#define S3_WDT_PROTECT 0x600080B0u
#define S3_WDT_CONFIG0 0x60008098u
#define S3_WDT_CONFIG1 0x6000809Cu
#define S3_SWD_CONF 0x600080B4u
#define S3_SWD_PROTECT 0x600080B8u
#define S3_OPTION1 0x6000812Cu
#define S3_STRAP 0x60004038u

static void script_swd_conf(board_t *b) { board_store(b, S3_SWD_CONF, 0x12); }

/* Over USB-Serial/JTAG (303a:1001) the session disables the RTC watchdog
 * and turns on the super watchdog's auto-feed before anything long, in
 * esptool's order, keeping SWD_CONF's other bits (read-modify-write). */
static void test_usb_jtag_watchdogs(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.usb_vid = 0x303a;
    o.usb_pid = 0x1001;
    run_session(&B, &o, &r, true, script_swd_conf, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_CONTAINS(r.notes, "USB-Serial/JTAG");
    CHECK(B.nwr >= 6);
    const uint32_t want[6][2] = {{S3_WDT_PROTECT, 0x50D83AA1}, {S3_WDT_CONFIG0, 0}, {S3_WDT_PROTECT, 0},
                                 {S3_SWD_PROTECT, 0x8F1D312A}, {S3_SWD_CONF, 0x80000012}, {S3_SWD_PROTECT, 0}};
    for (int i = 0; i < 6 && i < B.nwr; i++) {
        CHECK_EQ(B.wr_addr[i], want[i][0]);
        CHECK_EQ(B.wr_val[i], want[i][1]);
    }
    /* before the flash id is read (its SPI registers come after) and
     * before the first data block */
    CHECK(board_wr_find(&B, 0, 0x60002000u + 0x58, 0) > 5);
    /* the S3's force-download bit is cleared (masked) before the reset */
    int f = board_wr_find(&B, 6, S3_OPTION1, 0);
    CHECK(f > 0);
    if (f > 0)
        CHECK_EQ(B.wr_mask[f], 1);
    /* --before usb-jtag on a port that cannot tell (pty): the same */
    base_opts(&o);
    o.before = ESPFAB_RESET_USB_JTAG;
    run_session(&B, &o, &r, true, NULL, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK(board_wr_find(&B, 0, S3_WDT_CONFIG0, 0) >= 0);
    /* a plain UART port: no watchdog writes */
    base_opts(&o);
    run_session(&B, &o, &r, true, NULL, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(board_wr_find(&B, 0, S3_WDT_PROTECT, 0x50D83AA1), -1);
    CHECK(strstr(r.notes, "watchdog") == NULL);
}

static void script_strap_held(board_t *b) { board_store(b, S3_STRAP, 0); }
static void script_strap_free(board_t *b) { board_store(b, S3_STRAP, 0x8); }
static void script_otg_hangup(board_t *b) { b->hangup_after = S3_WDT_CONFIG0; }
static void script_otg_chatter(board_t *b) { b->chatter_after = S3_WDT_CONFIG0; }
static void script_otg_refuse(board_t *b)
{
    script_strap_held(b);
    b->refuse_wr = S3_WDT_CONFIG0;
}

/* Over the ROM's USB-OTG CDC (303a:0009 on an S3) every MEM_DATA and data
 * block is at most 2 KiB, and, as esptool does, the chip is reset by its RTC
 * watchdog when the boot strap was latched low (GPIO_STRAP's SPI_BOOT bit
 * clear) and download mode is not forced over USB, else by the RTS line
 * (on a pty: the run request). */
static void test_usb_otg_blocks_and_reset(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    make_fake_stub_sized(5000);
    o.no_stub = false;
    o.stub_dir = stub_dir;
    o.no_compress = true;
    o.usb_vid = 0x303a;
    o.usb_pid = 0x0009;
    run_session(&B, &o, &r, true, script_strap_held, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_CONTAINS(r.notes, "USB-OTG");
    CHECK_EQ(B.max_mem_block, 0x800);
    CHECK_EQ(B.mem_bytes, 5008);
    CHECK_EQ(B.max_data_block, 0x800);
    CHECK_EQ(B.begin_words[2], 0x800); /* FLASH_BEGIN's block size */
    CHECK_EQ(board_wr_find(&B, 0, S3_WDT_PROTECT, 0x50D83AA1) >= 0, 1);
    int w = board_wr_find(&B, 0, S3_WDT_CONFIG1, 2000);
    CHECK(w > 0);
    CHECK(board_wr_find(&B, w, S3_WDT_CONFIG0, 1u << 31 | 5u << 28 | 1u << 8 | 2u) > w);
    CHECK_CONTAINS(r.notes, "reset by the RTC watchdog");
    CHECK_EQ(B.ops[0x02], 1); /* the region's FLASH_BEGIN; no run request: the watchdog reset it */
    /* SPI_BOOT set (the strap was not latched low): the RTS line (here: the
     * run request) */
    run_session(&B, &o, &r, true, script_strap_free, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(board_wr_find(&B, 0, S3_WDT_CONFIG1, 2000), -1);
    CHECK_EQ(B.ops[0x02], 2); /* the region's, then FLASH_BEGIN(0, 0) of the run request */
    /* the chip's USB port goes away as it resets: a pass, not PORT_VANISHED */
    run_session(&B, &o, &r, true, script_otg_hangup, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_CONTAINS(r.notes, "went away as the chip reset");
    /* or it stays and the restarting chip talks: still a pass */
    run_session(&B, &o, &r, true, script_otg_chatter, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(r.rec.fault.code, 0);
    /* the arming write refused: the watchdog is not armed, the RTS line (the
     * run request) resets the board */
    run_session(&B, &o, &r, true, script_otg_refuse, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.ops[0x02], 2);
    CHECK(strstr(r.notes, "reset by the RTC watchdog") == NULL);
    /* the same board on a UART bridge: the usual 6 KiB / 16 KiB blocks */
    o.usb_vid = o.usb_pid = 0;
    run_session(&B, &o, &r, true, NULL, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.max_mem_block, 5000);
    CHECK_EQ(B.max_data_block, 0x4000);
    remove_fake_stub();
}

static void script_wdt_banner(board_t *b)
{
    b->late_seq = 2;
    b->late_banner = "\r\nESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n"
                     "rst:0x10 (RTCWDT_RTC_RESET),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n";
}

/* The board prints a reset banner in the middle of the write: the session
 * fails at once with the reset cause, not after a timeout. */
static void test_board_reset_banner(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.no_compress = true;
    run_session(&B, &o, &r, true, script_wdt_banner, NULL);
    const espfab_attempt_t *a = &r.rec;
    CHECK_EQ(a->outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(a->fault.code, ESPFAB_E_BOARD_RESET);
    CHECK_CONTAINS(a->message, "rst:0x10 (RTCWDT_RTC_RESET)");
    CHECK_CONTAINS(a->message, "during write");
    CHECK_CONTAINS(a->message, "--usb-id 303a:1001");
}

static void script_xmc_broken(board_t *b)
{
    b->xmc_broken = true;
    b->sfdp_vendor = 0x20;
    b->jedec = 0x164020; /* XM25QH32C, once started */
}

static void script_xmc_good(board_t *b) { b->jedec = 0x164020; }

static void script_spi_regs(board_t *b)
{
    board_store(b, 0x60002000u + 0x18, 0x80000004u); /* S3 SPI_USR */
    board_store(b, 0x60002000u + 0x20, 0x70000005u); /* S3 SPI_USR2 */
    b->spi_refuse_op = 0x5A;                         /* and SFDP reads fail */
}

/* index of the last logged WRITE_REG to addr; -1 if none */
static int board_wr_last(const board_t *b, uint32_t addr)
{
    for (int i = b->nwr - 1; i >= 0; i--)
        if (b->wr_addr[i] == addr)
            return i;
    return -1;
}

/* An XMC flash that did not start answers RDID with 0xFFFFFF but its SFDP
 * vendor byte says XMC: the session runs the start-up sequence B9 79 FF AB
 * (esptool's flash_xmc_startup), reads the id again, and flashes. */
static void test_xmc_startup(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_xmc_broken, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(r.rec.flash_jedec, 0x164020);
    CHECK_CONTAINS(r.notes, "XMC flash did not start (RDID 0xFFFFFF");
    CHECK_CONTAINS(r.notes, "XMC flash started (RDID 0x164020");
    CHECK_EQ(B.spi_count[0x9F], 2);
    CHECK_EQ(B.spi_count[0x5A], 1);
    CHECK_EQ(B.spi_count[0xAB], 1);
    /* a started XMC chip: no SFDP read, no sequence */
    run_session(&B, &o, &r, true, script_xmc_good, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.spi_count[0x5A], 0);
    CHECK_EQ(B.spi_count[0xB9], 0);
    /* another vendor: one SFDP read, which says it is not XMC */
    run_session(&B, &o, &r, true, NULL, check_flash_image);
    CHECK_EQ(r.rec.flash_jedec, 0x1640EF);
    CHECK_EQ(B.spi_count[0x5A], 1);
    CHECK_EQ(B.spi_count[0xB9], 0);
    /* then the flash is reset (66h, 99h), as esptool does after the id checks */
    CHECK_EQ(B.spi_count[0x66], 1);
    CHECK_EQ(B.spi_count[0x99], 1);
    int sfdp = board_wr_find(&B, 0, 0x60002020u, 0x5A | 7u << 28);
    int en = board_wr_find(&B, 0, 0x60002020u, 0x66 | 7u << 28);
    int rst = board_wr_find(&B, 0, 0x60002020u, 0x99 | 7u << 28);
    CHECK(sfdp >= 0 && en > sfdp && rst > en);
    CHECK(strstr(r.notes, "XMC") == NULL);
    /* the SPI commands leave SPI_USR/USR2 as they found them, and a failing
     * SFDP read (the XMC check) does not fail the board */
    run_session(&B, &o, &r, true, script_spi_regs, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(r.rec.flash_jedec, 0x1640EF);
    CHECK_CONTAINS(r.notes, "SPI flash command 0x5A was refused; going on with RDID 0x1640EF");
    int u = board_wr_last(&B, 0x60002018u), u2 = board_wr_last(&B, 0x60002020u);
    int cmd = board_wr_last(&B, 0x60002000u);
    CHECK(u > cmd && u2 > cmd && cmd >= 0);
    if (u >= 0 && u2 >= 0) {
        CHECK_EQ(B.wr_val[u], 0x80000004u);
        CHECK_EQ(B.wr_val[u2], 0x70000005u);
    }
}

#define P4_PAD 0x5011010Cu
#define P4_LDO 0x501151B8u
#define P4_ANA 0x501151BCu
#define P4_DATE 0x501153FCu

static void script_p4(board_t *b, uint32_t rev_word, uint32_t efuse, uint32_t date)
{
    b->chip_id = 18;
    b->spi_base = 0x5008D000u;
    board_store(b, 0x5012D044u + 8, rev_word);
    board_store(b, 0x5012D034u, efuse);
    board_store(b, P4_LDO, 0x7F800000u);
    board_store(b, P4_DATE, date);
}
static void script_p4_v31(board_t *b) { script_p4(b, 0x31, 0, 0); }
static void script_p4_v32_xpd(board_t *b) { script_p4(b, 0x32, 1u << 16, 0x3); }
static void script_p4_v32_xpd_one(board_t *b) { script_p4(b, 0x32, 1u << 16, 0x1); }
static void script_p4_v30(board_t *b) { script_p4(b, 0x30, 0, 0); }

/* ESP32-P4 v3.1/v3.2: the flash is powered before it is attached (esptool's
 * power_on_flash); read-modify-write steps keep the other bits. */
static void test_p4_flash_power(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    run_session(&B, &o, &r, true, script_p4_v31, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_STR(r.rec.chip, "ESP32-P4");
    CHECK_CONTAINS(r.notes, "ESP32-P4 v3.1: flash powered");
    CHECK_EQ(board_reg(&B, P4_PAD), 1);
    CHECK_EQ(board_reg(&B, P4_ANA), 0);      /* current limit on, then off */
    CHECK_EQ(board_reg(&B, P4_LDO), 0);      /* target field cleared, 0x80 set, tie-high off */
    CHECK_EQ(board_reg(&B, P4_DATE), 3);     /* flash supply forced on */
    int pad = board_wr_find(&B, 0, P4_PAD, 1), rdid = board_wr_find(&B, 0, 0x5008D000u + 0x20, 0x9F | 7u << 28);
    CHECK(pad >= 0 && rdid > pad);           /* before the flash id */
    CHECK(board_wr_find(&B, 0, P4_LDO, 0x7F800080u) > pad);
    CHECK(board_wr_find(&B, 0, P4_LDO, 0x00000080u) > pad);
    /* v3.2 with DOWNLOAD_MODE_XPD_ON: only PMU_DATE's force-on bits go */
    run_session(&B, &o, &r, true, script_p4_v32_xpd, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(board_reg(&B, P4_DATE), 0);
    CHECK_EQ(board_wr_find(&B, 0, P4_PAD, 1), -1);
    /* ... and only when both are set */
    run_session(&B, &o, &r, true, script_p4_v32_xpd_one, check_flash_image);
    CHECK_EQ(board_wr_last(&B, P4_DATE), -1);
    CHECK_EQ(board_reg(&B, P4_DATE), 1);
    /* v3.0: nothing */
    run_session(&B, &o, &r, true, script_p4_v30, check_flash_image);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(board_wr_find(&B, 0, P4_PAD, 1), -1);
    CHECK(strstr(r.notes, "flash powered") == NULL);
}

/* ---- the READ, ERASE and VERIFY tasks ------------------------------------- */

#define RD_OFF 0x10000u
#define RD_LEN (3u * 4096u + 100u) /* the last packet is short */
static uint8_t rd_out[RD_LEN];

static void script_flash_pattern(board_t *b)
{
    for (uint32_t i = 0; i < RD_LEN; i++)
        b->flash[RD_OFF + i] = (uint8_t)(i * 13 + (i >> 9));
}
static void script_read_burst(board_t *b)
{
    script_flash_pattern(b);
    b->rd_burst = 2; /* two packets before waiting: each still acknowledged */
}
static void script_read_bad_md5(board_t *b)
{
    script_flash_pattern(b);
    b->rd_bad_md5 = true;
}
static void script_read_stall(board_t *b)
{
    script_flash_pattern(b);
    b->rd_stall_after = 2;
}

static void read_opts(espfab_session_opts_t *o, bool stub)
{
    base_opts(o);
    o->task = ESPFAB_TASK_READ;
    o->read_offset = RD_OFF;
    o->read_size = RD_LEN;
    o->read_out = rd_out;
    memset(rd_out, 0, sizeof(rd_out));
    if (stub) {
        o->no_stub = false;
        o->stub_dir = stub_dir;
    }
}

/* READ_FLASH's flow control: every packet is acknowledged with the count
 * of bytes received so far, the digest is checked, the bytes are the
 * flash's; nothing is written. */
static void test_read_stub_flow(void)
{
    run_t r;
    espfab_session_opts_t o;
    make_fake_stub();
    read_opts(&o, true);
    run_session(&B, &o, &r, false, script_flash_pattern, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.ops[0xD2], 1);
    CHECK_EQ(B.rd_packets, 4);
    CHECK_EQ(B.rd_acks, 4);
    CHECK_EQ(B.rd_bad_acks, 0);
    CHECK_EQ(B.rd_last_ack, RD_LEN);
    CHECK_MEM(rd_out, B.flash + RD_OFF, RD_LEN);
    CHECK_EQ(B.ops[0x03] + B.ops[0x11] + B.ops[0xD0] + B.ops[0xD1], 0); /* no data written, nothing erased */
    CHECK(saw_state(&r, ESPFAB_SS_READ));
    CHECK(r.progress >= 4);
    CHECK(r.rec.regions[0].verified);
    CHECK_STR(r.rec.regions[0].md5_device, r.rec.regions[0].md5_expected);
    CHECK_CONTAINS(r.rec.message, "read-flash");
    /* a loader that sends two packets at a time gets both acknowledged */
    read_opts(&o, true);
    run_session(&B, &o, &r, false, script_read_burst, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.rd_acks, 4);
    CHECK_EQ(B.rd_bad_acks, 0);
    CHECK_MEM(rd_out, B.flash + RD_OFF, RD_LEN);
    /* the stub's digest differs from the bytes received: not a pass */
    read_opts(&o, true);
    run_session(&B, &o, &r, false, script_read_bad_md5, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_FLASH_READ_ERROR);
    /* the stream stops: a timeout that says how far it came */
    read_opts(&o, true);
    run_session(&B, &o, &r, false, script_read_stall, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_TIMEOUT);
    CHECK_CONTAINS(r.rec.message, "after 8192 of 12388 bytes");
    remove_fake_stub();
}

/* The ROM: READ_FLASH_SLOW 64 bytes at a time, then its MD5 checks them. */
static void test_read_rom_slow(void)
{
    run_t r;
    espfab_session_opts_t o;
    read_opts(&o, false);
    run_session(&B, &o, &r, false, script_flash_pattern, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK_EQ(B.ops[0x0E], (int)((RD_LEN + 63) / 64));
    CHECK_EQ(B.ops[0x13], 1);
    CHECK_EQ(B.ops[0xD2], 0);
    CHECK_MEM(rd_out, B.flash + RD_OFF, RD_LEN);
    CHECK(r.rec.regions[0].verified);
}

/* ERASE needs the stub: with the ROM nothing is erased and the fault says so. */
static void test_erase_task_rom_refused(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.task = ESPFAB_TASK_ERASE;
    o.erase = ESPFAB_ERASE_ALL;
    run_session(&B, &o, &r, false, NULL, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_PROTO_UNSUPPORTED);
    CHECK_CONTAINS(r.rec.message, "needs the flasher stub");
    CHECK_EQ(B.ops[0xD0] + B.ops[0xD1], 0);
}

/* VERIFY writes nothing; a difference is FLASH_DIFFERS naming the region. */
static void script_image_flashed(board_t *b) { memcpy(b->flash + 0x10000, image, sizeof(image)); }
static void script_image_changed(board_t *b)
{
    memcpy(b->flash + 0x10000, image, sizeof(image));
    b->flash[0x10000 + 777] ^= 1;
}

static void test_verify_task(void)
{
    run_t r;
    espfab_session_opts_t o;
    base_opts(&o);
    o.task = ESPFAB_TASK_VERIFY;
    run_session(&B, &o, &r, true, script_image_flashed, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_PASS);
    CHECK(r.rec.regions[0].verified);
    CHECK(!r.rec.regions[0].written);
    CHECK_EQ(B.ops[0x03] + B.ops[0x11] + B.ops[0xD0] + B.ops[0xD1], 0); /* no data written, nothing erased */
    base_opts(&o);
    o.task = ESPFAB_TASK_VERIFY;
    run_session(&B, &o, &r, true, script_image_changed, NULL);
    CHECK_EQ(r.rec.outcome, ESPFAB_OUTCOME_FAIL);
    CHECK_EQ(r.rec.fault.code, ESPFAB_E_FLASH_DIFFERS);
    CHECK_CONTAINS(r.rec.message, "app.bin at 0x10000");
}

int main(void)
{
    RUN(test_pass_rom_deflate);
    RUN(test_silent);
    RUN(test_wrong_boot_mode);
    RUN(test_no_sync_reply);
    RUN(test_sync_failed_noise);
    RUN(test_chip_mismatch);
    RUN(test_rom_error_decoded);
    RUN(test_retry_after_corrupt_reply);
    RUN(test_port_vanished);
    RUN(test_stub_deflate_erase);
    RUN(test_esp8266_rom_unverified);
    RUN(test_link_unreliable);
    RUN(test_stub_already_running);
    RUN(test_corrupted_status_resent);
    RUN(test_info_only);
    RUN(test_esp32_by_magic);
    RUN(test_stub_ohai_garbled);
    RUN(test_stub_never_starts);
    RUN(test_cancel);
    RUN(test_cancel_mid_write);
    RUN(test_usb_jtag_watchdogs);
    RUN(test_usb_otg_blocks_and_reset);
    RUN(test_board_reset_banner);
    RUN(test_xmc_startup);
    RUN(test_p4_flash_power);
    RUN(test_bad_port);
    RUN(test_cancel_while_opening);
    RUN(test_read_stub_flow);
    RUN(test_read_rom_slow);
    RUN(test_erase_task_rom_refused);
    RUN(test_verify_task);
    return check_summary();
}
