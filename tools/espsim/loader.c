/*
 * espsim loader personas: the ROM serial loader of each chip and the
 * esp-flasher-stub "v2" rules once a stub has been started through
 * MEM_BEGIN/MEM_DATA/MEM_END.  Pure state machine over the board struct:
 * frames in (sim_loader_feed), frames out (the board's output queue).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "espsim.h"
#include "flash.h"

enum {
    OP_FLASH_BEGIN = 0x02, OP_FLASH_DATA = 0x03, OP_FLASH_END = 0x04,
    OP_MEM_BEGIN = 0x05, OP_MEM_END = 0x06, OP_MEM_DATA = 0x07,
    OP_SYNC = 0x08, OP_WRITE_REG = 0x09, OP_READ_REG = 0x0A,
    OP_SPI_SET_PARAMS = 0x0B, OP_SPI_ATTACH = 0x0D, OP_READ_FLASH_SLOW = 0x0E,
    OP_CHANGE_BAUD = 0x0F, OP_DEFL_BEGIN = 0x10, OP_DEFL_DATA = 0x11,
    OP_DEFL_END = 0x12, OP_MD5 = 0x13, OP_SEC_INFO = 0x14,
    OP_ERASE_FLASH = 0xD0, OP_ERASE_REGION = 0xD1, OP_READ_FLASH = 0xD2,
    OP_RUN_USER_CODE = 0xD3,
};

/* ROM error bytes (protocol 3.1). */
enum {
    ROM_BAD_PARAM = 0x01, ROM_BAD_MSG = 0x05, ROM_FAILED = 0x06,
    ROM_BAD_CSUM = 0x07, ROM_WRITE_ERR = 0x08, ROM_READ_ERR = 0x09,
    ROM_READ_LEN = 0x0A, ROM_INFLATE = 0x0B, ROM_RAM_SIZE = 0x0E,
};

/* Stub error bytes (protocol 3.2, stub v2). */
enum {
    STUB_BAD_LEN = 0xC0, STUB_BAD_CSUM = 0xC1, STUB_INVALID_CMD = 0xC3,
    STUB_SPI_FAIL = 0xC4, STUB_NOT_FLASH = 0xC6, STUB_INFLATE = 0xC7,
    STUB_NOT_ENOUGH = 0xC8, STUB_TOO_MUCH = 0xC9, STUB_NOT_IMPL = 0xFF,
};

#define ROM_VALUE 0x20120707u

double sim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint32_t sim_rand(sim_board_t *b)
{
    /* xorshift64*: deterministic per board and seed */
    uint64_t x = b->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

double sim_rand01(sim_board_t *b)
{
    return sim_rand(b) / 4294967296.0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ---- output queue ---------------------------------------------------- */

static sim_chunk_t *chunk_new(size_t cap)
{
    sim_chunk_t *c = calloc(1, sizeof *c + cap);
    if (!c)
        abort();
    return c;
}

static void chunk_push(sim_board_t *b, sim_chunk_t *c)
{
    if (b->out_tail)
        b->out_tail->next = c;
    else
        b->out_head = c;
    b->out_tail = c;
}

void sim_out_raw(sim_board_t *b, const void *p, size_t n, double at)
{
    sim_chunk_t *c = chunk_new(n);
    memcpy(c->data, p, n);
    c->len = n;
    c->not_before = at;
    chunk_push(b, c);
}

void sim_out_frame(sim_board_t *b, const void *p, size_t n, double at)
{
    const uint8_t *s = p;
    sim_chunk_t *c = chunk_new(2 * n + 2);
    size_t k = 0;
    c->data[k++] = 0xC0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 0xDB) {
            c->data[k++] = 0xDB;
            c->data[k++] = 0xDD;
        } else if (s[i] == 0xC0) {
            c->data[k++] = 0xDB;
            c->data[k++] = 0xDC;
        } else {
            c->data[k++] = s[i];
        }
    }
    c->data[k++] = 0xC0;
    c->len = k;
    c->not_before = at;
    chunk_push(b, c);
}

sim_chunk_t *sim_out_peek(sim_board_t *b)
{
    return b->out_head;
}

void sim_out_pop(sim_board_t *b)
{
    sim_chunk_t *c = b->out_head;
    if (!c)
        return;
    b->out_head = c->next;
    if (!b->out_head)
        b->out_tail = NULL;
    free(c);
}

void sim_out_clear(sim_board_t *b)
{
    while (b->out_head)
        sim_out_pop(b);
}

/* ---- replies ---------------------------------------------------------- */

static bool is_stub(const sim_board_t *b)
{
    return b->mode == SIM_STUB;
}

static void trace(sim_board_t *b, uint8_t op, size_t len, int err)
{
    if (!b->verbose)
        return;
    fprintf(stderr, "espsim: board %d %s op=0x%02x len=%zu -> %s0x%02x t=%.3f\n",
            b->index, is_stub(b) ? "stub" : "rom", op, len,
            err ? "ERROR " : "ok ", (unsigned)err, b->now);
}

/* One reply frame.  For the ROM: status = err ? 1 : 0, error = err, plus
 * two reserved bytes on ESP32-family ROMs.  For the stub: [err, 0]. */
static void reply_at(sim_board_t *b, uint8_t op, uint32_t value,
                     const uint8_t *data, size_t dlen, int err, double at)
{
    uint8_t pkt[8 + 64 + 4];
    size_t st = is_stub(b) ? 2 : (size_t)b->chip->rom_status_len;
    size_t n = 8 + dlen + st;
    if (dlen > 64)
        abort();
    pkt[0] = 0x01;
    pkt[1] = op;
    pkt[2] = (uint8_t)(dlen + st);
    pkt[3] = (uint8_t)((dlen + st) >> 8);
    put32(pkt + 4, value);
    if (dlen)
        memcpy(pkt + 8, data, dlen);
    memset(pkt + 8 + dlen, 0, st);
    if (is_stub(b)) {
        pkt[8 + dlen] = (uint8_t)err;
    } else if (err) {
        pkt[8 + dlen] = 1;
        pkt[8 + dlen + 1] = (uint8_t)err;
    }
    sim_out_frame(b, pkt, n, at);
}

static void reply(sim_board_t *b, uint8_t op, uint32_t value,
                  const uint8_t *data, size_t dlen, int err)
{
    double at = b->busy_until > b->now ? b->busy_until : b->now;
    uint32_t v = value;
    if (op != OP_READ_REG)
        v = is_stub(b) ? 0 : ROM_VALUE;
    reply_at(b, op, v, data, dlen, err, at);
}

/* ROM rejection of an unknown / unsupported command: status 1, error 0x05,
 * sent 8 times (esptool's comment on the ROM).  The opcode is not echoed
 * (unconfirmed on silicon; hosts accept both), so hosts recognise it as the
 * "unsupported command" case rather than as the answer to their request. */
static void rom_unsupported(sim_board_t *b, uint8_t op, size_t len)
{
    trace(b, op, len, ROM_BAD_MSG);
    for (int i = 0; i < 8; i++)
        reply_at(b, 0x00, ROM_VALUE, NULL, 0, ROM_BAD_MSG,
                 b->busy_until > b->now ? b->busy_until : b->now);
}

static void fail(sim_board_t *b, uint8_t op, size_t len, int err)
{
    trace(b, op, len, err);
    reply(b, op, 0, NULL, 0, err);
}

static void ok(sim_board_t *b, uint8_t op, size_t len)
{
    trace(b, op, len, 0);
    reply(b, op, 0, NULL, 0, 0);
}

/* ---- board lifetime --------------------------------------------------- */

int sim_board_init(sim_board_t *b, int index, sim_chip_id_t chip, int rev,
                   uint32_t seed, uint32_t flash_size, uint32_t jedec)
{
    memset(b, 0, sizeof *b);
    b->index = index;
    b->chip_id = chip;
    b->chip = sim_chip_get(chip);
    b->rev = rev >= 0 ? rev : b->chip->default_rev;
    b->flash_size = flash_size;
    b->jedec = jedec;
    b->flash = malloc(flash_size);
    if (!b->flash)
        return -1;
    memset(b->flash, 0xFF, flash_size);
    memcpy(b->mac, b->chip->oui, 3);
    b->mac[3] = (uint8_t)seed;
    b->mac[4] = (uint8_t)(index >> 8);
    b->mac[5] = (uint8_t)index;
    b->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 32) ^ (uint64_t)index;
    if (!b->rng)
        b->rng = 1;
    sim_faults_init(&b->faults);
    sim_regs_seed(b, seed);
    b->mode = SIM_IDLE;
    b->baud = 115200;
    return 0;
}

static void end_flash_session(sim_board_t *b)
{
    if (b->zs_init)
        inflateEnd(&b->zs);
    b->zs_init = false;
    b->fl = FL_NONE;
}

static void end_read(sim_board_t *b)
{
    if (b->rd_md5)
        EVP_MD_CTX_free(b->rd_md5);
    b->rd_md5 = NULL;
    b->rd_active = false;
}

void sim_board_free(sim_board_t *b)
{
    end_flash_session(b);
    end_read(b);
    sim_out_clear(b);
    sim_ram_clear(b);
    free(b->flash);
    free(b->regs);
    b->flash = NULL;
    b->regs = NULL;
}

void sim_board_detach(sim_board_t *b)
{
    end_flash_session(b);
    end_read(b);
    sim_out_clear(b);
    b->mode = SIM_IDLE;
    b->busy_until = 0;
    b->chip_free = 0;
    b->stage_len = 0;
    b->frame_pending = false;
    b->wdt_deadline = 0;
    b->wdt_reset_at = 0;
}

/* What every reset does: the loader, stub, flash session and output are
 * gone, the UART is back at 115200. */
static void restart(sim_board_t *b)
{
    sim_board_detach(b);
    memset(&b->slip, 0, sizeof b->slip);
    b->mem_active = false;
    b->deferred_err = 0;
    b->baud = 115200;
    b->busy_until = 0;
    b->frame_pending = false;
    b->syncs_since_reset = 0;
    sim_ram_clear(b); /* the uploaded code is gone */
    /* SPI engine registers back to idle; eFuses and magic stay. */
    sim_reg_set(b, b->chip->spi_base, 0);
}

/* Over USB-Serial/JTAG the ROM feeds neither watchdog: from a reset into
 * the loader they fire after usb_wdt_s unless the host disarms them. */
static void arm_usb_watchdogs(sim_board_t *b)
{
    if (b->usb == SIM_USB_JTAG && b->mode == SIM_ROM)
        b->wdt_deadline = b->now + b->usb_wdt_s;
}

void sim_board_reset(sim_board_t *b)
{
    const char *banner;
    restart(b);
    sim_regs_usb_reset(b, true);
    b->last_reset = "power-on";
    if (b->faults.silent) {
        b->mode = SIM_HUNG;
        return;
    }
    if (b->faults.normal_boot) {
        b->mode = SIM_APP;
        banner = b->chip->app_boot;
    } else {
        b->mode = b->faults.no_sync ? SIM_HUNG : SIM_ROM;
        banner = b->chip->banner;
    }
    sim_out_raw(b, banner, strlen(banner), b->now);
    arm_usb_watchdogs(b);
}

/* An RTC watchdog reset (RTCWDT_RTC_RESET): the chip boots again, into the
 * download mode if OPTION1's force-download bit is set, else into the app
 * (the boot pin is not held low any more), like the normal-boot fault. */
static void wdt_reset(sim_board_t *b, const char *why)
{
    const sim_chip_t *c = b->chip;
    bool dl = c->option1 && (sim_reg_read(b, c->option1) & c->force_dl);
    char banner[256];
    size_t n;
    if (b->verbose)
        fprintf(stderr, "espsim: board %d watchdog reset (%s) t=%.3f: %s "
                "(rst:0x10 RTCWDT_RTC_RESET)\n", b->index, why, b->now,
                dl ? "force-download bit set, back in download mode"
                   : "boots the app, the loader no longer answers");
    restart(b);
    sim_regs_usb_reset(b, false);
    b->wdt_resets++;
    b->last_reset = dl ? "rtcwdt-download" : "rtcwdt-app";
    if (b->faults.silent) {
        b->mode = SIM_HUNG;
        return;
    }
    b->mode = dl ? (b->faults.no_sync ? SIM_HUNG : SIM_ROM) : SIM_APP;
    n = sim_chip_wdt_banner(c, dl, banner, sizeof banner);
    if (n)
        sim_out_raw(b, banner, n, b->now);
    arm_usb_watchdogs(b);
}

bool sim_board_tick(sim_board_t *b)
{
    /* a chip hung in garbage code still has its watchdogs running */
    bool loader = b->mode == SIM_ROM || b->mode == SIM_STUB ||
                  b->mode == SIM_HUNG;
    if (b->wdt_reset_at > 0 && b->now >= b->wdt_reset_at) {
        b->wdt_reset_at = 0;
        if (b->mode != SIM_IDLE) {
            wdt_reset(b, "RTC WDT enabled by WRITE_REG");
            return true;
        }
    }
    if (b->wdt_deadline > 0 && !loader) {
        b->wdt_deadline = 0; /* the app runs: its bootloader owns them */
    } else if (b->wdt_deadline > 0 && b->now >= b->wdt_deadline) {
        bool rwdt, swd;
        char why[96];
        b->wdt_deadline = 0;
        if (sim_regs_wdt_armed(b, &rwdt, &swd)) {
            snprintf(why, sizeof why, "%s%s%s not fed over USB-Serial/JTAG "
                     "for %.3g s", rwdt ? "RTC WDT" : "", rwdt && swd ? " and "
                     : "", swd ? "super WDT" : "", b->usb_wdt_s);
            wdt_reset(b, why);
            return true;
        }
        if (b->verbose)
            fprintf(stderr, "espsim: board %d watchdogs disarmed by the host: "
                    "no reset t=%.3f\n", b->index, b->now);
    }
    return false;
}

double sim_board_next_timer(const sim_board_t *b)
{
    double t = 1e18;
    if (b->wdt_reset_at > 0 && b->wdt_reset_at < t)
        t = b->wdt_reset_at;
    if (b->wdt_deadline > 0 && b->wdt_deadline < t)
        t = b->wdt_deadline;
    return t;
}

const char *sim_mode_name(sim_mode_t m)
{
    switch (m) {
    case SIM_ROM: return "rom";
    case SIM_STUB: return "stub";
    case SIM_APP: return "app";
    case SIM_HUNG: return "hung";
    default: return "idle";
    }
}

/* ---- ROM and stub command handlers ------------------------------------ */

static bool data_cmd_ok(sim_board_t *b, uint8_t op, const uint8_t *d,
                        size_t n, uint32_t chk)
{
    uint8_t x = 0xEF;
    uint32_t len;
    if (n < 16) {
        fail(b, op, n, is_stub(b) ? STUB_NOT_ENOUGH : ROM_BAD_MSG);
        return false;
    }
    len = le32(d);
    if (len != n - 16) {
        fail(b, op, n, is_stub(b) ? STUB_TOO_MUCH : ROM_BAD_MSG);
        return false;
    }
    for (size_t i = 16; i < n; i++)
        x ^= d[i];
    if (x != (chk & 0xFF) && op != OP_MEM_DATA) {
        fail(b, op, n, is_stub(b) ? STUB_BAD_CSUM : ROM_BAD_CSUM);
        return false;
    }
    if (op == OP_MEM_DATA && !is_stub(b) && x != (chk & 0xFF)) {
        fail(b, op, n, ROM_BAD_CSUM);
        return false;
    }
    return true;
}

static void do_mem_begin(sim_board_t *b, const uint8_t *d, size_t n)
{
    if (n != 16) {
        fail(b, OP_MEM_BEGIN, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    b->mem_active = true;
    b->mem_size = le32(d);
    b->mem_blocks = le32(d + 4);
    b->mem_blksz = le32(d + 8);
    b->mem_addr = le32(d + 12);
    b->mem_got = 0;
    b->mem_seq = 0;
    sim_ram_begin(b, b->mem_addr, b->mem_size);
    ok(b, OP_MEM_BEGIN, n);
}

static void do_mem_data(sim_board_t *b, const uint8_t *d, size_t n,
                        uint32_t chk)
{
    if (!b->mem_active) {
        fail(b, OP_MEM_DATA, n, is_stub(b) ? STUB_NOT_FLASH : ROM_FAILED);
        return;
    }
    if (!data_cmd_ok(b, OP_MEM_DATA, d, n, chk))
        return;
    if (!is_stub(b) && le32(d + 4) != b->mem_seq) {
        fail(b, OP_MEM_DATA, n, ROM_FAILED);
        return;
    }
    if (b->mem_got + (n - 16) > b->mem_size) {
        fail(b, OP_MEM_DATA, n, is_stub(b) ? STUB_TOO_MUCH : ROM_RAM_SIZE);
        return;
    }
    sim_ram_data(b, b->mem_addr + b->mem_got, d + 16, (uint32_t)(n - 16));
    b->mem_got += (uint32_t)(n - 16);
    b->mem_seq++;
    ok(b, OP_MEM_DATA, n);
}

/* MEM_END jumped to code that is no known stub: a real chip runs garbage.
 * It goes silent (the ROM's loader is gone); the output not yet sent still
 * leaves.  A board whose USB-Serial/JTAG watchdogs are still armed resets
 * at their deadline (sim_board_tick keeps it for a hung chip). */
static void run_garbage(sim_board_t *b, uint32_t entry)
{
    end_flash_session(b);
    b->mode = SIM_HUNG;
    if (b->verbose)
        fprintf(stderr, "espsim: board %d MEM_END jumps to 0x%08x: the RAM "
                "holds no known stub (text, data and entry must match one "
                "exactly): the chip runs garbage, silent\n", b->index, entry);
}

static void do_mem_end(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t flag, entry;
    if (n != 8) {
        fail(b, OP_MEM_END, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    if (is_stub(b) && !b->mem_active) {
        fail(b, OP_MEM_END, n, STUB_NOT_FLASH);
        return;
    }
    flag = le32(d);
    entry = le32(d + 4);
    b->mem_active = false;
    ok(b, OP_MEM_END, n); /* ROM format: sent before the switch */
    if (flag == 0 && entry != 0) {
        double at = b->busy_until > b->now ? b->busy_until : b->now;
        const char *stub = sim_stubs_match(b, entry);
        if (!stub) {
            run_garbage(b, entry);
            return;
        }
        if (b->verbose)
            fprintf(stderr, "espsim: board %d RAM holds %s\n", b->index, stub);
        b->mode = SIM_STUB;
        b->deferred_err = 0;
        end_flash_session(b);
        /* the stub zeroes BSS, sets up the UART, then greets */
        sim_out_frame(b, "OHAI", 4, at + 0.005);
        if (b->verbose)
            fprintf(stderr, "espsim: board %d stub started at 0x%08x\n",
                    b->index, entry);
    }
}

static void do_sync(sim_board_t *b, const uint8_t *d, size_t n)
{
    static const uint8_t head[4] = {0x07, 0x07, 0x12, 0x20};
    if (n != 36 || memcmp(d, head, 4) != 0) {
        fail(b, OP_SYNC, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    for (size_t i = 4; i < 36; i++)
        if (d[i] != 0x55) {
            fail(b, OP_SYNC, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
            return;
        }
    if (!is_stub(b) && b->syncs_since_reset++ < b->faults.sync_miss) {
        if (b->verbose) /* still auto-bauding: no answer */
            fprintf(stderr, "espsim: board %d SYNC ignored (auto-baud)\n",
                    b->index);
        return;
    }
    trace(b, OP_SYNC, n, 0);
    for (int i = 0; i < 8; i++)
        reply(b, OP_SYNC, 0, NULL, 0, 0);
}

static void do_write_reg(sim_board_t *b, const uint8_t *d, size_t n)
{
    if (n == 0 || n % 16) {
        fail(b, OP_WRITE_REG, n, is_stub(b) ? STUB_NOT_ENOUGH : ROM_BAD_MSG);
        return;
    }
    for (size_t i = 0; i < n; i += 16) {
        uint32_t addr = le32(d + i), val = le32(d + i + 4);
        uint32_t mask = le32(d + i + 8);
        uint32_t old = sim_reg_read(b, addr);
        sim_reg_write(b, addr, (val & mask) | (old & ~mask));
    }
    ok(b, OP_WRITE_REG, n);
}

/* What a READ_REG finds: uploaded RAM, then the register file, then the
 * mask ROM (a fixed non-zero pattern per address; never 0), else 0. */
static uint32_t read_word(sim_board_t *b, uint32_t addr)
{
    uint32_t v;
    if (sim_ram_read32(b, addr, &v))
        return v;
    v = sim_reg_read(b, addr);
    if (v == 0 && sim_chip_in_rom(b->chip_id, addr))
        v = ((addr * 0x9E3779B1u) ^ 0xA5C35A3Cu) | 0x00010000u;
    return v;
}

static void do_read_reg(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t addr;
    if (n != 4) {
        fail(b, OP_READ_REG, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    addr = le32(d);
    if (!is_stub(b) && b->chip_id == SIM_ESP32P4 && addr == 0x40001000u) {
        /* ECO5 and later: this read crashes the ROM; never answer. */
        if (b->verbose)
            fprintf(stderr, "espsim: board %d P4 read of 0x40001000: no "
                            "reply\n", b->index);
        return;
    }
    trace(b, OP_READ_REG, n, 0);
    reply(b, OP_READ_REG, read_word(b, addr), NULL, 0, 0);
}

/* Secure Download Mode: S2 and later ROMs only (those with security info). */
static bool in_sdm(const sim_board_t *b)
{
    return b->faults.secure_download && b->chip->secinfo_len > 0;
}

static void do_sec_info(sim_board_t *b, size_t n)
{
    uint8_t info[20] = {0};
    int len = b->chip->secinfo_len;
    if (len == 0) {
        if (is_stub(b))
            fail(b, OP_SEC_INFO, n, STUB_NOT_IMPL);
        else
            rom_unsupported(b, OP_SEC_INFO, n);
        return;
    }
    if (len == 20) {
        put32(info + 12, b->chip->image_chip_id);
        put32(info + 16, (uint32_t)(b->rev / 100));
    }
    if (in_sdm(b))
        put32(info, 1u << 2); /* flags: SECURE_DOWNLOAD_ENABLE */
    trace(b, OP_SEC_INFO, n, 0);
    reply(b, OP_SEC_INFO, 0, info, (size_t)len, 0);
}

static void do_flash_begin(sim_board_t *b, uint8_t op, const uint8_t *d,
                           size_t n)
{
    uint32_t size, off;
    double cost = 0;
    if (n != 16 && n != 20) {
        fail(b, op, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    end_flash_session(b);
    size = le32(d);
    b->fl_blocks = le32(d + 4);
    b->fl_blksz = le32(d + 8);
    off = le32(d + 12);
    b->fl_offset = off;
    b->fl_written = 0;
    b->fl_seq = 0;
    b->fl_erased_end = off - off % SECTOR;
    b->fl_erase_end = b->fl_erased_end +
                      (off % SECTOR + size + SECTOR - 1) / SECTOR * SECTOR;
    b->stage_len = 0;
    sim_chip_sync(b); /* a previous write's program or erase ends first */
    if (is_stub(b) && size > 0)
        sim_stub_erase_idle(b, b->busy_until > b->now ? b->busy_until : b->now);
    b->fl = op == OP_FLASH_BEGIN ? FL_PLAIN : FL_DEFL;
    b->fl_total = size;
    if (b->fl == FL_DEFL) {
        memset(&b->zs, 0, sizeof b->zs);
        if (inflateInit(&b->zs) != Z_OK) {
            b->fl = FL_NONE;
            fail(b, op, n, is_stub(b) ? STUB_INFLATE : ROM_INFLATE);
            return;
        }
        b->zs_init = true;
        b->zs_done = false;
    }
    if (!is_stub(b) && size > 0) {
        /* the ROM erases up front */
        uint32_t start = off - off % SECTOR;
        uint32_t sectors = (off % SECTOR + size + SECTOR - 1) / SECTOR;
        if (b->chip_id == SIM_ESP8266) {
            /* [derived] model of the erase-size bug (protocol 2.5): the
             * ROM erases R + min(R, head) sectors from the offset. */
            uint32_t r = (size + SECTOR - 1) / SECTOR;
            uint32_t head = 16 - (start / SECTOR) % 16;
            sectors = r + (r < head ? r : head);
        }
        if ((uint64_t)start + (uint64_t)sectors * SECTOR > b->flash_size &&
            b->chip_id != SIM_ESP8266) {
            fail(b, op, n, ROM_BAD_PARAM);
            end_flash_session(b);
            return;
        }
        cost = sim_erase_range(b, start, start + sectors * SECTOR);
    }
    trace(b, op, n, 0);
    reply_at(b, op, is_stub(b) ? 0 : ROM_VALUE, NULL, 0, 0, sim_spend(b, cost));
}

/* Writes inflated or plain data at the session's write pointer; *clk as
 * for flash_program. */
static int session_write(sim_board_t *b, const uint8_t *p, uint32_t n,
                         double *clk)
{
    if (is_stub(b)) {
        uint32_t room = b->fl_total - b->fl_written;
        if (b->fl == FL_PLAIN && n > room)
            n = room; /* the stub drops esptool's 0xFF padding */
        else if (n > room)
            return STUB_TOO_MUCH;
    }
    if (sim_flash_program(b, b->fl_offset + b->fl_written, p, n, clk) != 0)
        return is_stub(b) ? STUB_SPI_FAIL : ROM_WRITE_ERR;
    b->fl_written += n;
    b->flash_bytes_rx += n;
    if (b->faults.unplug_bytes >= 0 &&
        b->flash_bytes_rx >= b->faults.unplug_bytes)
        b->unplug_now = true;
    return 0;
}

/* The stub programs its 32 KiB inflate buffer. */
static int stub_flush(sim_board_t *b, double *clk)
{
    uint32_t n = b->stage_len;
    b->stage_len = 0;
    return n ? session_write(b, b->stage, n, clk) : 0;
}

static int inflate_block(sim_board_t *b, const uint8_t *p, uint32_t n,
                         double *clk)
{
    static uint8_t rom_out[32768];
    bool stub = is_stub(b);
    if (b->zs_done)
        return n ? (stub ? STUB_TOO_MUCH : ROM_INFLATE) : 0;
    b->zs.next_in = (Bytef *)(uintptr_t)p;
    b->zs.avail_in = n;
    while (b->zs.avail_in > 0 && !b->zs_done) {
        uint8_t *out = stub ? b->stage + b->stage_len : rom_out;
        uint32_t room = stub ? (uint32_t)sizeof b->stage - b->stage_len
                             : (uint32_t)sizeof rom_out;
        uint32_t got;
        int zr;
        if (stub)
            sim_stub_erase_idle(b, *clk);
        b->zs.next_out = out;
        b->zs.avail_out = room;
        zr = inflate(&b->zs, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            return stub ? STUB_INFLATE : ROM_INFLATE;
        got = room - b->zs.avail_out;
        if (zr == Z_STREAM_END)
            b->zs_done = true;
        if (stub) {
            b->stage_len += got;
            if (b->stage_len == sizeof b->stage || b->zs_done) {
                int e = stub_flush(b, clk);
                if (e)
                    return e;
            }
        } else if (got > 0) {
            int e = session_write(b, rom_out, got, clk);
            if (e)
                return e;
        }
        if (zr == Z_BUF_ERROR)
            break;
    }
    return 0;
}

static void do_flash_data(sim_board_t *b, uint8_t op, const uint8_t *d,
                          size_t n, uint32_t chk)
{
    sim_flmode_t want = op == OP_FLASH_DATA ? FL_PLAIN : FL_DEFL;
    /* ROM: the cost of this block; stub: the CPU clock (see above) */
    double clk = is_stub(b) ? (b->busy_until > b->now ? b->busy_until : b->now) : 0;
    int e;
    if (b->fl != want) {
        fail(b, op, n, is_stub(b) ? STUB_NOT_FLASH : ROM_FAILED);
        return;
    }
    if (!data_cmd_ok(b, op, d, n, chk))
        return;
    if (!is_stub(b) && le32(d + 4) != b->fl_seq) {
        fail(b, op, n, ROM_FAILED);
        return;
    }
    b->fl_seq++;
    if (want == FL_PLAIN)
        e = session_write(b, d + 16, (uint32_t)(n - 16), &clk);
    else
        e = inflate_block(b, d + 16, (uint32_t)(n - 16), &clk);
    if (is_stub(b)) {
        /* the stub ACKs first and writes afterwards: errors are deferred
         * to the next reply; its CPU is busy until the block is handled */
        trace(b, op, n, 0);
        reply(b, op, 0, NULL, 0, 0);
        if (clk > b->busy_until)
            b->busy_until = clk;
        if (e && !b->deferred_err)
            b->deferred_err = (uint8_t)e;
        return;
    }
    trace(b, op, n, e);
    reply_at(b, op, ROM_VALUE, NULL, 0, e, sim_spend(b, clk));
}

static void do_flash_end(sim_board_t *b, uint8_t op, const uint8_t *d,
                         size_t n)
{
    uint32_t flag;
    if (n != 4) {
        fail(b, op, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    flag = le32(d);
    if (is_stub(b)) {
        sim_flmode_t want = op == OP_FLASH_END ? FL_PLAIN : FL_DEFL;
        if (b->fl != want) {
            fail(b, op, n, STUB_NOT_FLASH);
            return;
        }
        if (b->fl_written < b->fl_total) {
            fail(b, op, n, STUB_BAD_LEN);
            return;
        }
        end_flash_session(b);
        ok(b, op, n); /* stub v2: the reboot is a TODO upstream */
        return;
    }
    end_flash_session(b);
    ok(b, op, n);
    if (flag == 0) {
        b->out_tail->reset_after = true; /* reboot: back to the ROM */
    } else {
        b->mode = SIM_APP; /* leave the loader, run the app */
    }
}

static void do_md5(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t addr, size;
    uint8_t dig[16];
    unsigned dl = 0;
    EVP_MD_CTX *ctx;
    static uint8_t tmp[4096];
    if (n != 16) {
        fail(b, OP_MD5, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    addr = le32(d);
    size = le32(d + 4);
    sim_chip_sync(b);
    if ((uint64_t)addr + size > b->flash_size) {
        fail(b, OP_MD5, n, is_stub(b) ? STUB_SPI_FAIL : ROM_READ_ERR);
        return;
    }
    ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
    for (uint32_t o = 0; o < size;) {
        uint32_t k = size - o > sizeof tmp ? sizeof tmp : size - o;
        sim_flash_read(b, addr + o, tmp, k, o == 0);
        EVP_DigestUpdate(ctx, tmp, k);
        o += k;
    }
    EVP_DigestFinal_ex(ctx, dig, &dl);
    EVP_MD_CTX_free(ctx);
    trace(b, OP_MD5, n, 0);
    if (is_stub(b)) {
        reply(b, OP_MD5, 0, dig, 16, 0);
    } else {
        char hex[33];
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", dig[i]);
        reply(b, OP_MD5, 0, (const uint8_t *)hex, 32, 0);
    }
}

static void do_read_slow(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint8_t buf[64];
    uint32_t addr, len;
    if (n != 8) {
        fail(b, OP_READ_FLASH_SLOW, n, ROM_BAD_MSG);
        return;
    }
    addr = le32(d);
    len = le32(d + 4);
    if (len > 64) {
        fail(b, OP_READ_FLASH_SLOW, n, ROM_READ_LEN);
        return;
    }
    /* the ROM always answers 64 bytes; past len they are zeros */
    memset(buf, 0, sizeof buf);
    if ((uint64_t)addr + len > b->flash_size) {
        fail(b, OP_READ_FLASH_SLOW, n, ROM_READ_ERR);
        return;
    }
    sim_flash_read(b, addr, buf, len, true);
    trace(b, OP_READ_FLASH_SLOW, n, 0);
    reply(b, OP_READ_FLASH_SLOW, 0, buf, 64, 0);
}

static void do_change_baud(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t nb;
    if (n != 8) {
        fail(b, OP_CHANGE_BAUD, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return;
    }
    nb = le32(d);
    if (nb == 0) {
        fail(b, OP_CHANGE_BAUD, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_PARAM);
        return;
    }
    ok(b, OP_CHANGE_BAUD, n);
    b->out_tail->baud_after = nb; /* reply at the old rate, then switch */
}

static void do_erase_flash(sim_board_t *b, size_t n)
{
    double cost;
    end_flash_session(b);
    sim_chip_sync(b);
    cost = sim_erase_range(b, 0, b->flash_size);
    trace(b, OP_ERASE_FLASH, n, 0);
    reply_at(b, OP_ERASE_FLASH, 0, NULL, 0, 0, sim_spend(b, cost));
}

static void do_erase_region(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t off, size;
    double cost;
    if (n != 8) {
        fail(b, OP_ERASE_REGION, n, STUB_BAD_LEN);
        return;
    }
    off = le32(d);
    size = le32(d + 4);
    if (off % SECTOR || size % SECTOR) {
        fail(b, OP_ERASE_REGION, n, STUB_BAD_LEN);
        return;
    }
    if ((uint64_t)off + size > b->flash_size) {
        fail(b, OP_ERASE_REGION, n, STUB_SPI_FAIL);
        return;
    }
    sim_chip_sync(b);
    cost = sim_erase_range(b, off, off + size);
    trace(b, OP_ERASE_REGION, n, 0);
    reply_at(b, OP_ERASE_REGION, 0, NULL, 0, 0, sim_spend(b, cost));
}

static void read_send_next(sim_board_t *b)
{
    static uint8_t pkt[4096];
    uint32_t k = b->rd_len - b->rd_sent;
    if (k > b->rd_pkt)
        k = b->rd_pkt;
    sim_flash_read(b, b->rd_addr + b->rd_sent, pkt, k, b->rd_sent == 0);
    EVP_DigestUpdate(b->rd_md5, pkt, k);
    b->rd_sent += k;
    sim_out_frame(b, pkt, k, b->busy_until > b->now ? b->busy_until : b->now);
}

static void do_read_flash(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t addr, len, pkt;
    if (n != 16) {
        fail(b, OP_READ_FLASH, n, STUB_BAD_LEN);
        return;
    }
    addr = le32(d);
    len = le32(d + 4);
    pkt = le32(d + 8);
    sim_chip_sync(b);
    ok(b, OP_READ_FLASH, n);
    /* v2 checks run after the OK reply; errors go to the next reply */
    if (pkt == 0 || pkt > 4096) {
        b->deferred_err = STUB_BAD_LEN;
        return;
    }
    if ((uint64_t)addr + len > b->flash_size) {
        b->deferred_err = STUB_SPI_FAIL;
        return;
    }
    b->rd_active = true;
    b->rd_addr = addr;
    b->rd_len = len;
    b->rd_pkt = pkt;
    b->rd_sent = 0;
    b->rd_acked = 0;
    b->rd_md5 = EVP_MD_CTX_new();
    EVP_DigestInit_ex(b->rd_md5, EVP_md5(), NULL);
    if (len == 0) {
        uint8_t dig[16];
        unsigned dl;
        EVP_DigestFinal_ex(b->rd_md5, dig, &dl);
        sim_out_frame(b, dig, 16, b->now);
        end_read(b);
        return;
    }
    read_send_next(b);
}

static void read_ack(sim_board_t *b, const uint8_t *d, size_t n)
{
    uint32_t acked;
    if (n != 4)
        return; /* not an ack: the stub keeps waiting */
    acked = le32(d);
    if (acked != b->rd_sent)
        return;
    b->rd_acked = acked;
    if (b->rd_sent < b->rd_len) {
        read_send_next(b);
    } else {
        uint8_t dig[16];
        unsigned dl;
        EVP_DigestFinal_ex(b->rd_md5, dig, &dl);
        sim_out_frame(b, dig, 16, b->now);
        end_read(b);
    }
}

/* Secure Download Mode (S2 and later ROMs) accepts only these (protocol
 * 2.1); everything else is an invalid message. */
static bool sdm_allows(uint8_t op)
{
    switch (op) {
    case OP_SYNC: case OP_SPI_ATTACH: case OP_SPI_SET_PARAMS: case OP_CHANGE_BAUD:
    case OP_FLASH_BEGIN: case OP_FLASH_DATA: case OP_FLASH_END: case OP_SEC_INFO:
        return true;
    default:
        return false;
    }
}

static bool rom_supports(const sim_board_t *b, uint8_t op)
{
    bool e8266 = b->chip_id == SIM_ESP8266;
    if (in_sdm(b) && !sdm_allows(op))
        return false;
    switch (op) {
    case OP_FLASH_BEGIN: case OP_FLASH_DATA: case OP_FLASH_END:
    case OP_MEM_BEGIN: case OP_MEM_END: case OP_MEM_DATA: case OP_SYNC:
    case OP_WRITE_REG: case OP_READ_REG:
        return true;
    case OP_SPI_SET_PARAMS: case OP_SPI_ATTACH: case OP_READ_FLASH_SLOW:
    case OP_CHANGE_BAUD: case OP_DEFL_BEGIN: case OP_DEFL_DATA:
    case OP_DEFL_END: case OP_MD5:
        return !e8266;
    case OP_SEC_INFO:
        return true; /* handled per chip */
    default:
        return false;
    }
}

static bool stub_supports(uint8_t op)
{
    switch (op) {
    case OP_READ_FLASH_SLOW:
        return false;
    default:
        return (op >= OP_FLASH_BEGIN && op <= OP_SEC_INFO && op != 0x0C) ||
               (op >= OP_ERASE_FLASH && op <= OP_RUN_USER_CODE);
    }
}

/* rom-error=OP:CODE[:NTH] fault: answer that occurrence with the error. */
static bool injected_error(sim_board_t *b, uint8_t op, size_t n)
{
    const sim_faults_t *f = &b->faults;
    if (f->rom_err_op != op)
        return false;
    if (f->rom_err_nth != 0 && b->op_count[op] != f->rom_err_nth)
        return false;
    fail(b, op, n, f->rom_err_code);
    return true;
}

/* The ROM's USB-OTG CDC (and the stub's) takes at most 0x800 bytes per
 * block; a larger one is lost and never answered (a hang). */
static bool otg_drops(sim_board_t *b, uint8_t op, size_t n)
{
    if (b->usb != SIM_USB_OTG || n <= 16 + SIM_OTG_BLOCK ||
        !(op == OP_MEM_DATA || op == OP_FLASH_DATA || op == OP_DEFL_DATA))
        return false;
    if (b->verbose)
        fprintf(stderr, "espsim: board %d USB-OTG: op=0x%02x block of %zu "
                "bytes > 0x%x dropped, no reply t=%.3f\n", b->index, op,
                n - 16, SIM_OTG_BLOCK, b->now);
    return true;
}

/* A frame the board answers without running it (bad direction or length,
 * a deferred or injected error, an unsupported command): answers it and
 * returns true. */
static bool refused(sim_board_t *b, const uint8_t *f, size_t len,
                    uint16_t size, size_t n)
{
    uint8_t op = f[1];
    if (f[0] != 0x00) {
        if (is_stub(b))
            fail(b, op, len, STUB_INVALID_CMD);
        return true;
    }
    if (size != n) {
        fail(b, op, len, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        return true;
    }
    if (is_stub(b) && b->deferred_err) {
        uint8_t e = b->deferred_err;
        b->deferred_err = 0;
        end_flash_session(b);
        fail(b, op, n, e); /* the command itself is not executed */
        return true;
    }
    if (injected_error(b, op, n))
        return true;
    if (!is_stub(b) && !rom_supports(b, op)) {
        rom_unsupported(b, op, n);
        return true;
    }
    if (is_stub(b) && !stub_supports(op)) {
        fail(b, op, n, (op >= 0xD5 && op <= 0xEF) ? STUB_NOT_IMPL
                                                  : STUB_INVALID_CMD);
        return true;
    }
    return false;
}

/* Runs one well-formed command the persona supports. */
static void run_command(sim_board_t *b, uint8_t op, const uint8_t *d,
                        size_t n, uint32_t chk)
{
    switch (op) {
    case OP_SYNC: do_sync(b, d, n); break;
    case OP_READ_REG: do_read_reg(b, d, n); break;
    case OP_WRITE_REG: do_write_reg(b, d, n); break;
    case OP_MEM_BEGIN: do_mem_begin(b, d, n); break;
    case OP_MEM_DATA: do_mem_data(b, d, n, chk); break;
    case OP_MEM_END: do_mem_end(b, d, n); break;
    case OP_SEC_INFO: do_sec_info(b, n); break;
    case OP_FLASH_BEGIN:
    case OP_DEFL_BEGIN: do_flash_begin(b, op, d, n); break;
    case OP_FLASH_DATA:
    case OP_DEFL_DATA: do_flash_data(b, op, d, n, chk); break;
    case OP_FLASH_END:
    case OP_DEFL_END: do_flash_end(b, op, d, n); break;
    case OP_MD5: do_md5(b, d, n); break;
    case OP_READ_FLASH_SLOW: do_read_slow(b, d, n); break;
    case OP_CHANGE_BAUD: do_change_baud(b, d, n); break;
    case OP_SPI_ATTACH:
        if (is_stub(b) ? n != 4 : (n != 8 && n != 4))
            fail(b, op, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        else
            ok(b, op, n);
        break;
    case OP_SPI_SET_PARAMS:
        if (n != 24)
            fail(b, op, n, is_stub(b) ? STUB_BAD_LEN : ROM_BAD_MSG);
        else
            ok(b, op, n);
        break;
    case OP_ERASE_FLASH: do_erase_flash(b, n); break;
    case OP_ERASE_REGION: do_erase_region(b, d, n); break;
    case OP_READ_FLASH: do_read_flash(b, d, n); break;
    case OP_RUN_USER_CODE:
        trace(b, op, n, 0);
        b->mode = SIM_APP; /* no reply */
        break;
    default:
        fail(b, op, n, STUB_INVALID_CMD);
        break;
    }
}

static void handle_frame(sim_board_t *b, const uint8_t *f, size_t len)
{
    uint8_t op;
    uint16_t size;
    size_t n;

    if (b->rd_active) {
        read_ack(b, f, len);
        return;
    }
    if (len < 8) {
        if (is_stub(b) && len > 0)
            fail(b, len > 1 ? f[1] : 0, len, STUB_BAD_LEN);
        return; /* the ROM ignores runt frames */
    }
    op = f[1];
    size = (uint16_t)(f[2] | f[3] << 8);
    n = len - 8;
    if (otg_drops(b, op, n))
        return;
    b->op_count[op]++;
    if (refused(b, f, len, size, n))
        return;
    run_command(b, op, f + 8, n, le32(f + 4));
}

/* A command that arrived while the stub was still writing the previous
 * block is handled as soon as the flash is free. */
void sim_loader_poll(sim_board_t *b)
{
    if (b->frame_pending && !(b->busy_until > b->now)) {
        b->frame_pending = false;
        handle_frame(b, b->slip.buf, b->slip.len);
    }
}

size_t sim_loader_feed(sim_board_t *b, const uint8_t *p, size_t n)
{
    size_t i;
    sim_loader_poll(b);
    for (i = 0; i < n; i++) {
        /* The ROM handles one command at a time and reads nothing while it
         * erases or writes.  The stub's UART keeps receiving (interrupts
         * fill its buffer) while it inflates and writes the block it has
         * already acknowledged, so the next block's wire time overlaps the
         * flash time; it can hold one complete command meanwhile. */
        if (b->frame_pending)
            break;
        if (b->busy_until > b->now && !is_stub(b))
            break;
        if (b->mode != SIM_ROM && b->mode != SIM_STUB)
            continue; /* idle, app or hung: input is swallowed */
        if (sim_slip_byte(&b->slip, p[i])) {
            if (b->slip.bad_escape) {
                if (is_stub(b))
                    fail(b, b->slip.len > 1 ? b->slip.buf[1] : 0,
                         b->slip.len, STUB_BAD_LEN);
                continue;
            }
            if (b->busy_until > b->now) {
                b->frame_pending = true;
                i++;
                break;
            }
            handle_frame(b, b->slip.buf, b->slip.len);
            if (b->unplug_now) {
                i++;
                break;
            }
        }
    }
    return i;
}
