/*
 * fuzz_slip.c - the streaming SLIP decoder on arbitrary bytes.
 *
 * Input: byte 0 picks the frame buffer size, byte 1 seeds the chunking, the
 * rest is the wire stream.  Invariants (abort on violation):
 *  - decoding in one piece and in random chunks reports the same frames,
 *    the same outside bytes and the same errors, in the same order;
 *  - counters agree with the callbacks;
 *  - every decoded frame, re-encoded, decodes to exactly itself (and to an
 *    overflow with a buffer one byte too small).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "espfab/err.h"
#include "espfab/slip.h"

#define FAIL(msg)                                                   \
    do {                                                            \
        fprintf(stderr, "fuzz_slip: invariant broken: %s\n", msg);  \
        abort();                                                    \
    } while (0)

/* Event log: 'F' len32 bytes | 'O' len32 bytes (runs merged) | 'E' err32. */
typedef struct log {
    uint8_t *p;
    size_t len, cap;
    size_t last_outside; /* offset of the last 'O' length field, or SIZE_MAX */
    size_t frames, outside, errors;
} log_t;

static void put(log_t *l, const void *b, size_t n)
{
    if (l->len + n > l->cap)
        FAIL("log overflow");
    memcpy(l->p + l->len, b, n);
    l->len += n;
}

static void put32(log_t *l, uint32_t v)
{
    put(l, &v, 4);
}

static void on_frame(void *data, const uint8_t *f, size_t len)
{
    log_t *l = data;
    if (len == 0)
        FAIL("empty frame reported");
    put(l, "F", 1);
    put32(l, (uint32_t)len);
    put(l, f, len);
    l->last_outside = SIZE_MAX;
    l->frames++;
}

static void on_outside(void *data, const uint8_t *b, size_t len)
{
    log_t *l = data;
    if (len == 0)
        FAIL("empty outside run reported");
    if (l->last_outside == SIZE_MAX) {
        put(l, "O", 1);
        l->last_outside = l->len;
        put32(l, 0);
    }
    uint32_t cur;
    memcpy(&cur, l->p + l->last_outside, 4);
    cur += (uint32_t)len;
    memcpy(l->p + l->last_outside, &cur, 4);
    put(l, b, len);
    l->outside += len;
}

static void on_error(void *data, int err)
{
    log_t *l = data;
    if (err != ESPFAB_E_SLIP_BAD_ESCAPE && err != ESPFAB_E_SLIP_OVERFLOW)
        FAIL("unexpected error code");
    put(l, "E", 1);
    put32(l, (uint32_t)err);
    l->last_outside = SIZE_MAX;
    l->errors++;
}

static void log_init(log_t *l, size_t cap)
{
    memset(l, 0, sizeof(*l));
    l->p = malloc(cap);
    l->cap = cap;
    l->last_outside = SIZE_MAX;
    if (!l->p)
        abort();
}

static void check_counters(const espfab_slip_dec_t *d, const log_t *l)
{
    if (d->frames != l->frames)
        FAIL("frame counter");
    if (d->outside_bytes != l->outside)
        FAIL("outside counter");
    if (d->bad_escapes + d->overflows != l->errors)
        FAIL("error counters");
}

/* Re-encodes each frame in the log and decodes it again. */
static void round_trip(const log_t *l)
{
    size_t i = 0;
    while (i < l->len) {
        uint8_t type = l->p[i];
        uint32_t n;
        memcpy(&n, l->p + i + 1, 4);
        i += 5;
        if (type == 'E') {
            continue;
        }
        if (type == 'F') {
            const uint8_t *f = l->p + i;
            size_t max = espfab_slip_encoded_max(n);
            uint8_t *enc = malloc(max);
            uint8_t *buf = malloc(n);
            if (!enc || !buf)
                abort();
            size_t m = espfab_slip_encode(f, n, enc, max);
            if (m < n + 2 || m > max || enc[0] != 0xC0 || enc[m - 1] != 0xC0)
                FAIL("encoder output shape");
            if (espfab_slip_encode(f, n, enc, m - 1) != 0)
                FAIL("encoder ignored cap");
            m = espfab_slip_encode(f, n, enc, max);
            log_t again;
            log_init(&again, 2 * n + 64);
            espfab_slip_dec_t d;
            espfab_slip_cbs_t cbs = {on_frame, on_outside, on_error, &again};
            espfab_slip_dec_init(&d, buf, n);
            espfab_slip_dec_feed(&d, enc, m, &cbs);
            if (again.frames != 1 || again.errors != 0 || again.outside != 0)
                FAIL("round trip: not exactly one clean frame");
            if (again.len != 5 + n || memcmp(again.p + 5, f, n) != 0)
                FAIL("round trip: frame differs");
            /* one byte less room: must be an overflow, not a short frame */
            log_t small;
            log_init(&small, 2 * n + 64);
            cbs.data = &small;
            espfab_slip_dec_init(&d, buf, n - 1);
            espfab_slip_dec_feed(&d, enc, m, &cbs);
            if (small.frames != 0 || small.errors != 1 || d.overflows != 1)
                FAIL("round trip: overflow not detected");
            free(small.p);
            free(again.p);
            free(enc);
            free(buf);
        }
        i += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t cap = 1 + (size_t)data[0] * 4;
    uint32_t seed = data[1] * 2654435761u + 1;
    data += 2;
    size -= 2;

    uint8_t *buf = malloc(cap);
    if (!buf)
        abort();
    log_t whole, chunked;
    log_init(&whole, 6 * size + 64);
    log_init(&chunked, 6 * size + 64);

    espfab_slip_dec_t d;
    espfab_slip_cbs_t cbs = {on_frame, on_outside, on_error, &whole};
    espfab_slip_dec_init(&d, buf, cap);
    espfab_slip_dec_feed(&d, data, size, &cbs);
    check_counters(&d, &whole);

    cbs.data = &chunked;
    espfab_slip_dec_init(&d, buf, cap);
    size_t off = 0;
    while (off < size) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % 17; /* 0..16, zero-length feeds included */
        if (n > size - off)
            n = size - off;
        espfab_slip_dec_feed(&d, data + off, n, &cbs);
        off += n;
    }
    check_counters(&d, &chunked);
    if (whole.len != chunked.len || memcmp(whole.p, chunked.p, whole.len) != 0)
        FAIL("chunking changed the result");

    round_trip(&whole);

    free(whole.p);
    free(chunked.p);
    free(buf);
    return 0;
}
