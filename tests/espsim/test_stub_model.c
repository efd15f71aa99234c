/*
 * test_stub_model.c - espsim's flash timing model for the flasher stub, on
 * virtual time (no clock, no I/O): the board is fed frames at chosen `now`
 * values and its two clocks are read back.
 *
 * What the stub does (esp-flasher-stub v2, src/command_handler.c): it ACKs
 * a data block before handling it; FLASH_BEGIN and then each inflate step
 * start the next erase in the background when the flash chip is idle; it
 * programs its 32 KiB inflate buffer when the buffer is full or the stream
 * ends, once erases have been started past the end of the chunk and the
 * chip is idle.  Plain FLASH_DATA erases only what the block needs.
 * Commands that read the flash wait for the chip.
 *
 * Costs in the model: 64 KiB block erase 250 ms, sector 45 ms, 0.5 ms per
 * 256-byte page.
 */
#include <math.h>
#include <stdlib.h>
#include <zlib.h>

#include "check.h"
#include "espsim/espsim.h"
#include "host.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

/* Sends one command at virtual time `now`; returns the bytes consumed. */
static size_t send(sim_board_t *b, double now, uint8_t op, const uint8_t *d, size_t n, uint32_t chk)
{
    static uint8_t pkt[8 + 0x4000 + 64], wire[2 * sizeof pkt + 2];
    pkt[0] = 0;
    pkt[1] = op;
    pkt[2] = (uint8_t)n;
    pkt[3] = (uint8_t)(n >> 8);
    put32(pkt + 4, chk);
    memcpy(pkt + 8, d, n);
    size_t w = slip(pkt, 8 + n, wire);
    b->now = now;
    sim_loader_poll(b);
    return sim_loader_feed(b, wire, w);
}

static void begin(sim_board_t *b, double now, uint8_t op, uint32_t size, uint32_t off)
{
    uint8_t d[16];
    put32(d, size);
    put32(d + 4, 1);
    put32(d + 8, 0x4000);
    put32(d + 12, off);
    send(b, now, op, d, 16, 0);
}

static size_t data(sim_board_t *b, double now, uint8_t op, const uint8_t *p, size_t n)
{
    static uint8_t d[16 + 0x4000];
    uint8_t x = 0xEF;
    put32(d, (uint32_t)n);
    memset(d + 4, 0, 12);
    memcpy(d + 16, p, n);
    for (size_t i = 0; i < n; i++)
        x ^= p[i];
    return send(b, now, op, d, 16 + n, x);
}

/* The release time of the newest reply, and drops the queue. */
static double last_reply(sim_board_t *b)
{
    double t = -1;
    for (sim_chunk_t *c = sim_out_peek(b); c; c = c->next)
        t = c->not_before;
    sim_out_clear(b);
    return t;
}

static void board(sim_board_t *b)
{
    CHECK_EQ(sim_board_init(b, 0, SIM_ESP32, -1, 1, 4u << 20, 0x164020), 0);
    b->mode = SIM_STUB;
    b->timing = true;
}

/* A compressible pattern: inflates far more than its deflated size. */
static uint8_t *pattern(size_t n)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)("stub model "[i % 11]);
    return p;
}

static uint8_t *deflate9(const uint8_t *p, size_t n, size_t *zn)
{
    uLongf k = compressBound((uLong)n);
    uint8_t *z = malloc(k);
    CHECK_EQ(compress2(z, &k, p, (uLong)n, 9), Z_OK);
    *zn = k;
    return z;
}

static uint8_t *noise(size_t n)
{
    uint8_t *p = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    return p;
}

/* The erase runs in the background: the CPU is free (the next block is
 * taken at once) while the chip erases; the first 32 KiB chunk waits for
 * it; right after that chunk the stub starts the next erase, which a
 * command that reads the flash then waits for. */
static void test_background_erase(void)
{
    sim_board_t b;
    board(&b);
    size_t n = 80 * 1024, zn;
    uint8_t *raw = noise(n), *z = deflate9(raw, n, &zn);
    const size_t blk = 12 * 1024; /* random data: inflates to about 12 KiB */

    begin(&b, 1.0, 0x10, (uint32_t)n, 0x10000);
    CHECK(NEAR(last_reply(&b), 1.0));
    CHECK_EQ(b.fl_erase_end, 0x24000);
    CHECK(NEAR(b.chip_free, 1.25)); /* BEGIN started a block erase */
    CHECK_EQ(b.fl_erased_end, 0x20000);

    data(&b, 1.05, 0x11, z, blk);
    CHECK(NEAR(last_reply(&b), 1.05)); /* ACK at once */
    CHECK(b.busy_until <= 1.05);       /* the CPU is free */
    CHECK(NEAR(b.chip_free, 1.25));    /* still erasing */
    CHECK_EQ(b.fl_erased_end, 0x20000);
    CHECK_EQ(b.fl_written, 0);

    data(&b, 1.1, 0x11, z + blk, blk); /* chip busy: no second erase */
    CHECK(NEAR(last_reply(&b), 1.1));
    CHECK(b.busy_until <= 1.1);
    CHECK(NEAR(b.chip_free, 1.25));
    CHECK_EQ(b.fl_written, 0);

    /* the buffer fills: the chunk waits for the erase and programs 128
     * pages (64 ms); the next inflate step finds the chip idle and starts
     * a sector erase (4 KiB of the region remain past 0x20000: 45 ms) */
    data(&b, 1.2, 0x11, z + 2 * blk, blk);
    CHECK(NEAR(last_reply(&b), 1.2));
    CHECK(NEAR(b.busy_until, 1.25 + 0.064));
    CHECK(NEAR(b.chip_free, 1.25 + 0.064 + 0.045));
    CHECK_EQ(b.fl_erased_end, 0x21000);
    CHECK_EQ(b.fl_written, 32768);
    CHECK(memcmp(b.flash + 0x10000, raw, 32768) == 0);

    /* MD5 of the chunk: the CPU is free, the chip is not */
    uint8_t md[16] = {0};
    put32(md, 0x10000);
    put32(md + 4, 32768);
    send(&b, 1.32, 0x13, md, 16, 0);
    CHECK(NEAR(last_reply(&b), 1.25 + 0.064 + 0.045));
    sim_board_free(&b);
    free(raw);
    free(z);
}

/* One block that inflates to 128 KiB: chunk 1 waits for the block erase
 * FLASH_BEGIN started; the next step starts the second one, which chunk 2
 * waits for (the chip is busy); chunks 3 and 4 need no erase.  The region ends where the flash does
 * not: everything erased is the region. */
static void test_greedy_erase(void)
{
    sim_board_t b;
    board(&b);
    size_t n = 128 * 1024, zn;
    uint8_t *raw = pattern(n), *z = deflate9(raw, n, &zn);
    CHECK(zn <= 0x4000);
    memset(b.flash + 0x30000, 0x00, 0x1000); /* past the region */
    begin(&b, 0.0, 0x10, (uint32_t)n, 0x10000);
    data(&b, 0.0, 0x11, z, zn);
    CHECK(NEAR(last_reply(&b), 0.0));
    CHECK(NEAR(b.busy_until, 0.25 + 0.064 + 0.25 + 0.064 + 0.064 + 0.064));
    CHECK(NEAR(b.chip_free, b.busy_until));
    CHECK_EQ(b.fl_erased_end, 0x30000);
    CHECK_EQ(b.fl_written, n);
    CHECK(memcmp(b.flash + 0x10000, raw, n) == 0);
    CHECK_EQ(b.flash[0x30000], 0x00);
    sim_board_free(&b);
    free(raw);
    free(z);
}

/* Plain FLASH_DATA: no background erase, the block waits for its erase. */
static void test_plain_data(void)
{
    sim_board_t b;
    board(&b);
    uint8_t *raw = pattern(0x4000);
    begin(&b, 0.0, 0x02, 0x30000, 0x10000);
    last_reply(&b);
    CHECK(NEAR(b.chip_free, 0.25));
    data(&b, 0.1, 0x03, raw, 0x4000);
    CHECK(NEAR(last_reply(&b), 0.1));
    CHECK(NEAR(b.busy_until, 0.25 + 0.032)); /* waits for the erase */
    CHECK_EQ(b.fl_erased_end, 0x20000);      /* no erase ahead */
    /* the next block, sent before the first is written, waits in the
     * UART buffer and is taken when the CPU is free */
    data(&b, 0.15, 0x03, raw, 0x4000);
    CHECK(last_reply(&b) < 0);
    b.now = 0.281;
    sim_loader_poll(&b);
    CHECK(last_reply(&b) < 0);
    b.now = 0.29;
    sim_loader_poll(&b);
    CHECK(NEAR(last_reply(&b), 0.29));
    CHECK(NEAR(b.busy_until, 0.29 + 0.032)); /* erased already: program only */
    CHECK_EQ(b.fl_written, 0x8000);
    sim_board_free(&b);
    free(raw);
}

/* Unpaced boards spend no time at all. */
static void test_unpaced(void)
{
    sim_board_t b;
    board(&b);
    b.timing = false;
    size_t n = 80 * 1024, zn;
    uint8_t *raw = pattern(n), *z = deflate9(raw, n, &zn);
    begin(&b, 3.0, 0x10, (uint32_t)n, 0x10000);
    data(&b, 3.0, 0x11, z, zn);
    CHECK(NEAR(last_reply(&b), 3.0));
    CHECK(b.busy_until <= 3.0);
    CHECK(b.chip_free <= 3.0);
    CHECK(memcmp(b.flash + 0x10000, raw, n) == 0);
    sim_board_free(&b);
    free(raw);
    free(z);
}

int main(void)
{
    RUN(test_background_erase);
    RUN(test_greedy_erase);
    RUN(test_plain_data);
    RUN(test_unpaced);
    return check_summary();
}
