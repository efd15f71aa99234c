/*
 * test_rom_fidelity.c - espsim's ROM persona where it used to be looser than
 * silicon (issue 17 item 3), on the loader linked in (no I/O, no clock):
 *
 *  (a) READ_FLASH_SLOW (ESP32, C3 ROMs) answers 64 data bytes whatever the length asked
 *      (esptool keeps the first `length`), the bytes past it zeros, not
 *      flash contents or 0xFF; a length over 64 is error 0x0A;
 *  (b) the default ESP8266 (board 0, seed 0, MAC 18:fe:34:00:00:00) has a
 *      non-zero chip id as esptool's ESP8266 chip_id() derives it, and its
 *      MAC still decodes as esptool's read_mac() does.
 */
#include <stdlib.h>

#include "check.h"
#include "espsim/espsim.h"
#include "host.h"

/* Feeds one command frame to the board. */
static void send(sim_board_t *b, uint8_t op, const uint8_t *d, size_t n)
{
    static uint8_t pkt[8 + 64], wire[2 * sizeof pkt + 2];
    pkt[0] = 0;
    pkt[1] = op;
    pkt[2] = (uint8_t)n;
    pkt[3] = (uint8_t)(n >> 8);
    put32(pkt + 4, 0);
    memcpy(pkt + 8, d, n);
    size_t w = slip(pkt, 8 + n, wire);
    sim_loader_feed(b, wire, w);
}

/* The first SLIP frame in the output queue, decoded into f (queue dropped);
 * returns its length, 0 if none. */
static size_t take_frame(sim_board_t *b, uint8_t *f, size_t cap)
{
    uint8_t raw[4096];
    size_t n = 0, k = 0, i = 0;
    for (sim_chunk_t *c = sim_out_peek(b); c; c = c->next)
        for (size_t j = c->off; j < c->len && n < sizeof raw; j++)
            raw[n++] = c->data[j];
    sim_out_clear(b);
    while (i < n && raw[i] != 0xC0)
        i++;
    for (i++; i < n && raw[i] != 0xC0 && k < cap; i++) {
        uint8_t v = raw[i];
        if (v == 0xDB && i + 1 < n)
            v = raw[++i] == 0xDC ? 0xC0 : 0xDB;
        f[k++] = v;
    }
    return i < n ? k : 0;
}

static void rom_board(sim_board_t *b, sim_chip_id_t chip)
{
    CHECK_EQ(sim_board_init(b, 0, chip, -1, 0, 1u << 20, 0x1440EF), 0);
    b->now = 1.0;
    sim_board_reset(b); /* ROM download mode; the banner is not a frame */
    sim_out_clear(b);
}

static void test_read_flash_slow(void)
{
    static const sim_chip_id_t chips[] = {SIM_ESP32, SIM_ESP32C3};
    for (size_t c = 0; c < 2; c++) {
        sim_board_t b;
        uint8_t d[8], f[128];
        size_t st;
        rom_board(&b, chips[c]);
        st = (size_t)b.chip->rom_status_len;
        for (uint32_t i = 0; i < 256; i++)
            b.flash[0x1000 + i] = (uint8_t)(i + 1); /* no 0x00, no 0xFF */
        put32(d, 0x1000);
        put32(d + 4, 16);
        send(&b, 0x0E, d, 8);
        CHECK_EQ(take_frame(&b, f, sizeof f), 8 + 64 + st);
        CHECK_EQ(f[1], 0x0E);
        CHECK_EQ(f[2] | f[3] << 8, 64 + st);
        for (int i = 0; i < 16; i++)
            CHECK_EQ(f[8 + i], i + 1);
        for (int i = 16; i < 64; i++)
            CHECK_EQ(f[8 + i], 0);
        CHECK_EQ(f[8 + 64], 0); /* status ok */

        put32(d + 4, 64); /* the whole 64 bytes: all of it flash */
        send(&b, 0x0E, d, 8);
        CHECK_EQ(take_frame(&b, f, sizeof f), 8 + 64 + st);
        CHECK_EQ(f[8 + 63], 64);

        put32(d + 4, 65);
        send(&b, 0x0E, d, 8);
        CHECK_EQ(take_frame(&b, f, sizeof f), 8 + st);
        CHECK_EQ(f[8], 1);
        CHECK_EQ(f[9], 0x0A);
        sim_board_free(&b);
    }
}

/* READ_REG through the loader (what a host sees); -1 if no reply. */
static int64_t read_reg(sim_board_t *b, uint32_t addr)
{
    uint8_t d[4], f[64];
    put32(d, addr);
    send(b, 0x0A, d, 4);
    if (take_frame(b, f, sizeof f) < 8 || f[1] != 0x0A)
        return -1;
    return le32(f + 4);
}

static void test_esp8266_chip_id(void)
{
    for (uint32_t seed = 0; seed < 2; seed++) {
        sim_board_t b;
        CHECK_EQ(sim_board_init(&b, 0, SIM_ESP8266, -1, seed, 1u << 20, 0x1440EF), 0);
        b.now = 1.0;
        sim_board_reset(&b);
        sim_out_clear(&b);
        int64_t m0 = read_reg(&b, 0x3FF00050u), m1 = read_reg(&b, 0x3FF00054u);
        int64_t m3 = read_reg(&b, 0x3FF0005Cu);
        CHECK(m0 >= 0 && m1 >= 0 && m3 >= 0);
        /* esptool ESP8266ROM.chip_id() */
        uint32_t id = (uint32_t)m0 >> 24 | ((uint32_t)m1 & 0xFFFFFFu) << 8;
        CHECK(id != 0);
        /* esptool ESP8266ROM.read_mac(): the OUI from m3 when non-zero */
        uint8_t mac[6];
        CHECK(m3 != 0);
        mac[0] = (uint8_t)(m3 >> 16);
        mac[1] = (uint8_t)(m3 >> 8);
        mac[2] = (uint8_t)m3;
        mac[3] = (uint8_t)(m1 >> 8);
        mac[4] = (uint8_t)m1;
        mac[5] = (uint8_t)(m0 >> 24);
        CHECK_MEM(mac, b.mac, 6);
        CHECK_EQ(mac[0], 0x18);
        CHECK_EQ(mac[1], 0xFE);
        CHECK_EQ(mac[2], 0x34);
        CHECK_EQ(mac[3], seed);
        CHECK_EQ(id & 0xFFFFFFu, (uint32_t)mac[3] << 16 | mac[4] << 8 | mac[5]);
        sim_board_free(&b);
    }
}

int main(void)
{
    RUN(test_read_flash_slow);
    RUN(test_esp8266_chip_id);
    return check_summary();
}
