/* test_slip.c - streaming SLIP decoder and encoder (docs/protocol.md 1.1, 1.3). */
#include <stdlib.h>

#include "check.h"
#include "espfab/err.h"
#include "espfab/slip.h"

/* Collects everything the decoder reports, in order. */
typedef struct rec {
    uint8_t frames[16][512];
    size_t lens[16];
    int nframes;
    uint8_t outside[1024];
    size_t noutside;
    int errors[16];
    int nerrors;
} rec_t;

static void on_frame(void *data, const uint8_t *f, size_t len)
{
    rec_t *r = data;
    if (r->nframes < 16 && len <= sizeof(r->frames[0])) {
        memcpy(r->frames[r->nframes], f, len);
        r->lens[r->nframes] = len;
    }
    r->nframes++;
}

static void on_outside(void *data, const uint8_t *b, size_t len)
{
    rec_t *r = data;
    for (size_t i = 0; i < len && r->noutside < sizeof(r->outside); i++)
        r->outside[r->noutside++] = b[i];
}

static void on_error(void *data, int err)
{
    rec_t *r = data;
    if (r->nerrors < 16)
        r->errors[r->nerrors] = err;
    r->nerrors++;
}

static rec_t rec;
static uint8_t buf[512];
static espfab_slip_dec_t dec;
static const espfab_slip_cbs_t cbs = {on_frame, on_outside, on_error, &rec};

static void start(size_t cap)
{
    memset(&rec, 0, sizeof(rec));
    espfab_slip_dec_init(&dec, buf, cap);
}

/* docs/protocol.md 1.3: ESP32-family ROM SYNC reply and READ_REG reply. */
static const uint8_t sync_reply_esp32[] = {0xC0, 0x01, 0x08, 0x04, 0x00, 0x07, 0x07, 0x12,
                                           0x20, 0x00, 0x00, 0x00, 0x00, 0xC0};
static const uint8_t read_reg_reply_esp32[] = {0xC0, 0x01, 0x0A, 0x04, 0x00, 0x83, 0x1D,
                                               0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0};

static void test_golden_sync_reply(void)
{
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, sync_reply_esp32, sizeof(sync_reply_esp32), &cbs);
    CHECK_EQ(rec.nframes, 1);
    CHECK_EQ(rec.lens[0], 12);
    CHECK_MEM(rec.frames[0], sync_reply_esp32 + 1, 12);
    CHECK_EQ(rec.noutside, 0);
    CHECK_EQ(rec.nerrors, 0);
    CHECK_EQ(dec.frames, 1);
}

/* Every way to cut the stream in two and in three gives the same frames. */
static void test_every_chunk_boundary(void)
{
    uint8_t stream[64];
    size_t n = 0;
    const char *log = "boot:0x3\r\n";
    memcpy(stream + n, log, strlen(log));
    n += strlen(log);
    memcpy(stream + n, sync_reply_esp32, sizeof(sync_reply_esp32));
    n += sizeof(sync_reply_esp32);
    memcpy(stream + n, read_reg_reply_esp32, sizeof(read_reg_reply_esp32));
    n += sizeof(read_reg_reply_esp32);
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            start(sizeof(buf));
            espfab_slip_dec_feed(&dec, stream, a, &cbs);
            espfab_slip_dec_feed(&dec, stream + a, b - a, &cbs);
            espfab_slip_dec_feed(&dec, stream + b, n - b, &cbs);
            CHECK_EQ(rec.nframes, 2);
            CHECK_EQ(rec.lens[0], 12);
            CHECK_MEM(rec.frames[0], sync_reply_esp32 + 1, 12);
            CHECK_EQ(rec.lens[1], 12);
            CHECK_MEM(rec.frames[1], read_reg_reply_esp32 + 1, 12);
            CHECK_EQ(rec.noutside, strlen(log));
            CHECK_MEM(rec.outside, log, strlen(log));
            CHECK_EQ(rec.nerrors, 0);
        }
    }
}

/* Escapes at every chunk edge, including 0xDB as the last byte of a chunk. */
static void test_escape_at_chunk_edges(void)
{
    const uint8_t payload[] = {0x01, 0xC0, 0xDB, 0xDB, 0xC0, 0x02};
    const uint8_t wire[] = {0xC0, 0x01, 0xDB, 0xDC, 0xDB, 0xDD, 0xDB,
                            0xDD, 0xDB, 0xDC, 0x02, 0xC0};
    for (size_t a = 0; a <= sizeof(wire); a++) {
        start(sizeof(buf));
        espfab_slip_dec_feed(&dec, wire, a, &cbs);
        espfab_slip_dec_feed(&dec, wire + a, sizeof(wire) - a, &cbs);
        CHECK_EQ(rec.nframes, 1);
        CHECK_EQ(rec.lens[0], sizeof(payload));
        CHECK_MEM(rec.frames[0], payload, sizeof(payload));
        CHECK_EQ(rec.nerrors, 0);
    }
    /* Byte by byte. */
    start(sizeof(buf));
    for (size_t i = 0; i < sizeof(wire); i++)
        espfab_slip_dec_feed(&dec, wire + i, 1, &cbs);
    CHECK_EQ(rec.nframes, 1);
    CHECK_MEM(rec.frames[0], payload, sizeof(payload));
}

static void test_garbage_between_frames(void)
{
    uint8_t s[64];
    size_t n = 0;
    memcpy(s + n, sync_reply_esp32, sizeof(sync_reply_esp32));
    n += sizeof(sync_reply_esp32);
    memcpy(s + n, "xyz\xDB\xDD", 5); /* escape bytes outside a frame are just noise */
    n += 5;
    memcpy(s + n, sync_reply_esp32, sizeof(sync_reply_esp32));
    n += sizeof(sync_reply_esp32);
    memcpy(s + n, "tail", 4);
    n += 4;
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, s, n, &cbs);
    CHECK_EQ(rec.nframes, 2);
    CHECK_EQ(rec.noutside, 9);
    CHECK_MEM(rec.outside, "xyz\xDB\xDDtail", 9);
    CHECK_EQ(dec.outside_bytes, 9);
    CHECK_EQ(rec.nerrors, 0);
}

static void test_bad_escape_then_resync(void)
{
    const uint8_t s[] = {0xC0, 0x01, 0x02, 0xDB, 0x41, 0x03, 0x04, 0xC0, /* broken */
                         0xC0, 0x01, 0x05, 0xC0};                        /* good */
    for (size_t a = 0; a <= sizeof(s); a++) {
        start(sizeof(buf));
        espfab_slip_dec_feed(&dec, s, a, &cbs);
        espfab_slip_dec_feed(&dec, s + a, sizeof(s) - a, &cbs);
        CHECK_EQ(rec.nerrors, 1);
        CHECK_EQ(rec.errors[0], ESPFAB_E_SLIP_BAD_ESCAPE);
        CHECK_EQ(dec.bad_escapes, 1);
        CHECK_EQ(rec.nframes, 1);
        CHECK_EQ(rec.lens[0], 2);
        CHECK_EQ(rec.frames[0][1], 0x05);
        CHECK_EQ(rec.noutside, 0); /* the rest of the broken frame is not "outside" */
    }
    /* 0xDB directly followed by 0xC0: that C0 ends the broken frame. */
    const uint8_t t[] = {0xC0, 0x01, 0xDB, 0xC0, 'o', 'k', 0xC0, 0x07, 0xC0};
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, t, sizeof(t), &cbs);
    CHECK_EQ(rec.nerrors, 1);
    CHECK_EQ(rec.noutside, 2);
    CHECK_EQ(rec.nframes, 1);
    CHECK_EQ(rec.frames[0][0], 0x07);
}

static void test_overflow_then_resync(void)
{
    uint8_t s[64];
    size_t n = 0;
    s[n++] = 0xC0;
    for (int i = 0; i < 20; i++)
        s[n++] = (uint8_t)i;
    s[n++] = 0xC0;
    s[n++] = 'h';
    s[n++] = 0xC0;
    for (int i = 0; i < 8; i++) /* exactly cap bytes: fits */
        s[n++] = (uint8_t)(0x30 + i);
    s[n++] = 0xC0;
    start(8);
    espfab_slip_dec_feed(&dec, s, n, &cbs);
    CHECK_EQ(rec.nerrors, 1);
    CHECK_EQ(rec.errors[0], ESPFAB_E_SLIP_OVERFLOW);
    CHECK_EQ(dec.overflows, 1);
    CHECK_EQ(rec.nframes, 1);
    CHECK_EQ(rec.lens[0], 8);
    CHECK_EQ(rec.frames[0][7], 0x37);
    CHECK_EQ(rec.noutside, 1);
    CHECK_EQ(rec.outside[0], 'h');

    /* cap + 1 bytes is one too many, also when the last one is escaped */
    const uint8_t nine[] = {0xC0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xC0};
    const uint8_t nine_esc[] = {0xC0, 1, 2, 3, 4, 5, 6, 7, 8, 0xDB, 0xDC, 0xC0};
    start(8);
    espfab_slip_dec_feed(&dec, nine, sizeof(nine), &cbs);
    CHECK_EQ(rec.nframes, 0);
    CHECK_EQ(dec.overflows, 1);
    espfab_slip_dec_feed(&dec, nine_esc, sizeof(nine_esc), &cbs);
    CHECK_EQ(rec.nframes, 0);
    CHECK_EQ(dec.overflows, 2);
    CHECK_EQ(rec.noutside, 0);
}

static void test_empty_frames(void)
{
    const uint8_t s[] = {0xC0, 0xC0, 0xC0, 0x01, 0x02, 0xC0, 0xC0, 0x03, 0xC0, 0xC0};
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, s, sizeof(s), &cbs);
    CHECK_EQ(rec.nframes, 2);
    CHECK_EQ(rec.lens[0], 2);
    CHECK_EQ(rec.lens[1], 1);
    CHECK_EQ(rec.frames[1][0], 0x03);
    CHECK_EQ(rec.noutside, 0);
    CHECK_EQ(rec.nerrors, 0);
}

static void test_reset_drops_partial(void)
{
    const uint8_t a[] = {0xC0, 0x01, 0x02};
    const uint8_t b[] = {'l', 'o', 'g', 0xC0, 0x09, 0xC0};
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, a, sizeof(a), &cbs);
    espfab_slip_dec_reset(&dec);
    espfab_slip_dec_feed(&dec, b, sizeof(b), &cbs);
    CHECK_EQ(rec.nframes, 1);
    CHECK_EQ(rec.lens[0], 1);
    CHECK_EQ(rec.frames[0][0], 0x09);
    CHECK_EQ(rec.noutside, 3);
}

static void test_null_callbacks(void)
{
    const espfab_slip_cbs_t only_frames = {on_frame, NULL, NULL, &rec};
    const uint8_t s[] = {'x', 0xC0, 0xDB, 0x00, 0xC0, 0xC0, 0x05, 0xC0};
    start(sizeof(buf));
    espfab_slip_dec_feed(&dec, s, sizeof(s), &only_frames);
    CHECK_EQ(rec.nframes, 1);
    CHECK_EQ(dec.bad_escapes, 1);
    CHECK_EQ(dec.outside_bytes, 1);
}

static void test_encode(void)
{
    const uint8_t in[] = {0x00, 0xC0, 0xDB, 0x11};
    const uint8_t want[] = {0xC0, 0x00, 0xDB, 0xDC, 0xDB, 0xDD, 0x11, 0xC0};
    uint8_t out[16];
    CHECK_EQ(espfab_slip_encoded_max(4), 10);
    CHECK_EQ(espfab_slip_encode(in, sizeof(in), out, sizeof(out)), sizeof(want));
    CHECK_MEM(out, want, sizeof(want));
    CHECK_EQ(espfab_slip_encode(in, sizeof(in), out, sizeof(want)), sizeof(want));
    CHECK_EQ(espfab_slip_encode(in, sizeof(in), out, sizeof(want) - 1), 0);
    CHECK_EQ(espfab_slip_encode(in, 0, out, 2), 2);
    CHECK_EQ(out[0], 0xC0);
    CHECK_EQ(out[1], 0xC0);
    CHECK_EQ(espfab_slip_encode(in, 0, out, 1), 0);
    /* 0xDB 0xDC must stay two bytes, not be re-escaped into DB DD DC. */
    const uint8_t in2[] = {0xDB, 0xDC};
    const uint8_t want2[] = {0xC0, 0xDB, 0xDD, 0xDC, 0xC0};
    CHECK_EQ(espfab_slip_encode(in2, 2, out, sizeof(out)), 5);
    CHECK_MEM(out, want2, 5);
}

/* Round trip of every single-byte and a pseudo-random set of payloads. */
static void test_round_trip(void)
{
    uint8_t in[300], enc[602];
    uint32_t x = 12345;
    for (int t = 0; t < 200; t++) {
        size_t n = 1 + (size_t)(t % 300);
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            uint8_t v = (uint8_t)(x >> 16);
            in[i] = (v & 3) == 0 ? 0xC0 : (v & 3) == 1 ? 0xDB : v;
        }
        size_t m = espfab_slip_encode(in, n, enc, sizeof(enc));
        CHECK(m >= n + 2);
        start(sizeof(buf));
        espfab_slip_dec_feed(&dec, enc, m, &cbs);
        CHECK_EQ(rec.nframes, 1);
        CHECK_EQ(rec.lens[0], n);
        CHECK_MEM(rec.frames[0], in, n);
    }
}

int main(void)
{
    RUN(test_golden_sync_reply);
    RUN(test_every_chunk_boundary);
    RUN(test_escape_at_chunk_edges);
    RUN(test_garbage_between_frames);
    RUN(test_bad_escape_then_resync);
    RUN(test_overflow_then_resync);
    RUN(test_empty_frames);
    RUN(test_reset_drops_partial);
    RUN(test_null_callbacks);
    RUN(test_encode);
    RUN(test_round_trip);
    return check_summary();
}
