/*
 * test_stub_check.c - espsim starts the stub persona only for a known stub
 * (issue 17, item 1).  Links the simulator's loader (not espfab_core), loads
 * the esptool-js stub directory given as argv[1], and uploads the ESP32 stub
 * read here with its own small extractor: exactly -> OHAI and stub replies;
 * a corrupted text byte, a wrong address, no data segment or a wrong entry
 * -> the MEM_END reply, then silence (the chip runs garbage).  READ_REG of
 * uploaded RAM returns what was written; of the mask ROM a non-zero word.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "espsim/espsim.h"
#include "host.h"

typedef struct {
    uint8_t *text, *data;
    size_t text_len, data_len;
    uint32_t text_start, data_start, entry;
} stub_t;

static uint32_t num_field(const char *j, const char *key)
{
    const char *p = strstr(j, key);
    CHECK(p != NULL);
    return p ? (uint32_t)strtoul(strchr(p, ':') + 1, NULL, 10) : 0;
}

static uint8_t *b64_field(const char *j, const char *key, size_t *len)
{
    const char *p = strstr(j, key), *q, *e;
    CHECK(p != NULL);
    q = strchr(strchr(p, ':'), '"') + 1;
    e = strchr(q, '"');
    uint8_t *out = malloc((size_t)(e - q));
    int r = EVP_DecodeBlock(out, (const unsigned char *)q, (int)(e - q));
    *len = (size_t)r - (e[-1] == '=') - (e[-2] == '=');
    return out;
}

static void load(const char *dir, stub_t *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/esp32.json", dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char j[1 << 20];
    size_t n = fread(j, 1, sizeof j - 1, f);
    fclose(f);
    j[n] = '\0';
    s->entry = num_field(j, "\"entry\"");
    s->text_start = num_field(j, "\"text_start\"");
    s->data_start = num_field(j, "\"data_start\"");
    s->text = b64_field(j, "\"text\"", &s->text_len);
    s->data = b64_field(j, "\"data\"", &s->data_len);
}

static void send(sim_board_t *b, uint8_t op, const uint8_t *d, size_t n, uint32_t chk)
{
    static uint8_t pkt[8 + 0x2000], wire[2 * sizeof pkt + 2];
    pkt[0] = 0;
    pkt[1] = op;
    pkt[2] = (uint8_t)n;
    pkt[3] = (uint8_t)(n >> 8);
    put32(pkt + 4, chk);
    memcpy(pkt + 8, d, n);
    size_t w = slip(pkt, 8 + n, wire);
    sim_loader_feed(b, wire, w);
}

static void upload(sim_board_t *b, const uint8_t *p, size_t n, uint32_t at)
{
    uint8_t d[16 + 0x1800];
    uint32_t blocks = (uint32_t)((n + 0x17FF) / 0x1800);
    put32(d, (uint32_t)n);
    put32(d + 4, blocks);
    put32(d + 8, 0x1800);
    put32(d + 12, at);
    send(b, 0x05, d, 16, 0);
    for (uint32_t i = 0; i < blocks; i++) {
        size_t k = n - i * 0x1800 > 0x1800 ? 0x1800 : n - i * 0x1800;
        uint8_t x = 0xEF;
        put32(d, (uint32_t)k);
        put32(d + 4, i);
        memset(d + 8, 0, 8);
        memcpy(d + 16, p + i * 0x1800, k);
        for (size_t m = 0; m < k; m++)
            x ^= p[i * 0x1800 + m];
        send(b, 0x07, d, 16 + k, x);
    }
}

/* Whether the board queued the raw OHAI frame; drops the queue. */
static bool said_ohai(sim_board_t *b)
{
    static const uint8_t ohai[6] = {0xC0, 'O', 'H', 'A', 'I', 0xC0};
    bool seen = false;
    for (sim_chunk_t *c = sim_out_peek(b); c; c = c->next)
        if (c->len == 6 && !memcmp(c->data, ohai, 6))
            seen = true;
    sim_out_clear(b);
    return seen;
}

static size_t queued(sim_board_t *b)
{
    size_t n = 0;
    for (sim_chunk_t *c = sim_out_peek(b); c; c = c->next)
        n++;
    sim_out_clear(b);
    return n;
}

static uint32_t read_reg(sim_board_t *b, uint32_t addr)
{
    uint8_t d[4];
    put32(d, addr);
    send(b, 0x0A, d, 4, 0);
    sim_chunk_t *c = sim_out_peek(b);
    CHECK(c != NULL);
    uint8_t f[64];
    size_t k = 0;
    for (size_t i = 1; c && i + 1 < c->len && k < sizeof f; i++) /* un-SLIP */
        f[k++] = c->data[i] == 0xDB ? (c->data[++i] == 0xDC ? 0xC0 : 0xDB) : c->data[i];
    uint32_t v = k >= 8 ? le32(f + 4) : 0; /* 01 0A len len value ... */
    sim_out_clear(b);
    return v;
}

enum { EXACT, BAD_TEXT, BAD_ADDR, NO_DATA, BAD_ENTRY };

/* One upload on a freshly reset ESP32; returns whether the stub started. */
static bool try_upload(const stub_t *s, int how, sim_board_t *b)
{
    uint8_t d[8];
    uint8_t *text = malloc(s->text_len);
    memcpy(text, s->text, s->text_len);
    if (how == BAD_TEXT)
        text[s->text_len / 2] ^= 0x01;
    CHECK_EQ(sim_board_init(b, 0, SIM_ESP32, -1, 1, 1u << 20, 0x1440EF), 0);
    sim_board_reset(b);
    sim_out_clear(b);
    upload(b, text, s->text_len, s->text_start + (how == BAD_ADDR ? 4 : 0));
    if (how != NO_DATA)
        upload(b, s->data, s->data_len, s->data_start);
    sim_out_clear(b);
    /* READ_REG of RAM: the words uploaded */
    CHECK_EQ(read_reg(b, s->data_start), le32(s->data) * (how != NO_DATA));
    put32(d, 0);
    put32(d + 4, s->entry + (how == BAD_ENTRY ? 2 : 0));
    send(b, 0x06, d, 8, 0);
    bool ohai = said_ohai(b);
    CHECK_EQ(ohai, b->mode == SIM_STUB);
    free(text);
    return ohai;
}

static const char *dir; /* argv[1] */

static void test_only_known_stubs(void)
{
    stub_t s;
    sim_board_t b;
    char msg[128];
    load(dir, &s);
    CHECK(s.text_len > 1000 && s.data_len > 16);
    CHECK(sim_stubs_load(dir, msg, sizeof msg) > 0);

    CHECK(try_upload(&s, EXACT, &b));
    /* the stub answers: SYNC x 8 with the stub's 2 status bytes */
    uint8_t sync[36] = {0x07, 0x07, 0x12, 0x20};
    memset(sync + 4, 0x55, 32);
    send(&b, 0x08, sync, 36, 0);
    CHECK_EQ(queued(&b), 8);
    sim_board_free(&b);

    for (int how = BAD_TEXT; how <= BAD_ENTRY; how++) {
        CHECK(!try_upload(&s, how, &b));
        CHECK_EQ(b.mode, SIM_HUNG);
        send(&b, 0x08, sync, 36, 0);
        CHECK_EQ(queued(&b), 0); /* no stub, no ROM: silence */
        sim_board_free(&b);
    }
    free(s.text);
    free(s.data);
}

static void test_read_reg_ram_and_rom(void)
{
    sim_board_t b;
    uint8_t word[8] = {0x78, 0x56, 0x34, 0x12, 0xEF, 0xBE, 0xAD, 0xDE};
    CHECK_EQ(sim_board_init(&b, 0, SIM_ESP32, -1, 1, 1u << 20, 0x1440EF), 0);
    sim_board_reset(&b);
    sim_out_clear(&b);
    upload(&b, word, 8, 0x3FFB0000u);
    sim_out_clear(&b);
    CHECK_EQ(read_reg(&b, 0x3FFB0000u), 0x12345678u);
    CHECK_EQ(read_reg(&b, 0x3FFB0004u), 0xDEADBEEFu);
    CHECK_EQ(read_reg(&b, 0x3FFB0008u), 0); /* not written */
    uint32_t rom = read_reg(&b, 0x40000400u);
    CHECK(rom != 0);
    CHECK_EQ(read_reg(&b, 0x40000400u), rom); /* fixed */
    CHECK_EQ(read_reg(&b, 0x40001000u), 0x00F01D83u); /* the magic stays */
    sim_board_free(&b);
}

static void test_no_dir(void)
{
    char msg[128];
    CHECK_EQ(sim_stubs_load("/nonexistent/stubs", msg, sizeof msg), -1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_stub_check STUB_DIR\n");
        return 2;
    }
    dir = argv[1];
    RUN(test_no_dir);
    RUN(test_read_reg_ram_and_rom);
    RUN(test_only_known_stubs);
    return check_summary();
}
