/*
 * slip.c - streaming SLIP decoder and encoder (docs/protocol.md 1.1).
 *
 * The decoder is a four-state machine driven one byte at a time:
 *   OUTSIDE  between frames; bytes go to the `outside` callback, 0xC0 opens
 *   IN       inside a frame; 0xC0 closes it, 0xDB starts an escape
 *   ESC      after 0xDB; 0xDC/0xDD complete it, anything else is an error
 *   DISCARD  after a bad escape or an overflow; everything up to the next
 *            0xC0 (the broken frame's end) is dropped, then OUTSIDE again
 * A 0xC0 that arrives while IN with nothing buffered is taken as another
 * opening delimiter (the empty frame C0 C0 is never reported), so the
 * decoder cannot fall out of step on doubled delimiters.
 */
#include "espfab/slip.h"

#include "espfab/err.h"

enum { ST_OUTSIDE = 0, ST_IN, ST_ESC, ST_DISCARD };

void espfab_slip_dec_init(espfab_slip_dec_t *d, uint8_t *buf, size_t cap)
{
    d->buf = buf;
    d->cap = buf ? cap : 0;
    d->len = 0;
    d->state = ST_OUTSIDE;
    d->frames = 0;
    d->bad_escapes = 0;
    d->overflows = 0;
    d->outside_bytes = 0;
}

void espfab_slip_dec_reset(espfab_slip_dec_t *d)
{
    d->len = 0;
    d->state = ST_OUTSIDE;
}

static void drop(espfab_slip_dec_t *d, const espfab_slip_cbs_t *cbs, int err)
{
    if (err == ESPFAB_E_SLIP_BAD_ESCAPE)
        d->bad_escapes++;
    else
        d->overflows++;
    d->len = 0;
    if (cbs && cbs->error)
        cbs->error(cbs->data, err);
}

/* Appends one unescaped byte; on overflow the frame is dropped. */
static void put(espfab_slip_dec_t *d, const espfab_slip_cbs_t *cbs, uint8_t b)
{
    if (d->len >= d->cap) {
        drop(d, cbs, ESPFAB_E_SLIP_OVERFLOW);
        d->state = ST_DISCARD;
        return;
    }
    d->buf[d->len++] = b;
    d->state = ST_IN;
}

void espfab_slip_dec_feed(espfab_slip_dec_t *d, const uint8_t *in, size_t n,
                          const espfab_slip_cbs_t *cbs)
{
    size_t i = 0;
    while (i < n) {
        if (d->state == ST_OUTSIDE) {
            /* Hand over the whole run of non-delimiter bytes at once. */
            size_t start = i;
            while (i < n && in[i] != ESPFAB_SLIP_END)
                i++;
            if (i > start) {
                d->outside_bytes += i - start;
                if (cbs && cbs->outside)
                    cbs->outside(cbs->data, in + start, i - start);
            }
            if (i < n) {
                d->state = ST_IN;
                d->len = 0;
                i++;
            }
            continue;
        }
        uint8_t b = in[i++];
        switch (d->state) {
        case ST_IN:
            if (b == ESPFAB_SLIP_END) {
                if (d->len == 0)
                    break; /* C0 C0: empty frame, keep waiting for data */
                d->frames++;
                d->state = ST_OUTSIDE;
                if (cbs && cbs->frame)
                    cbs->frame(cbs->data, d->buf, d->len);
                d->len = 0;
            } else if (b == ESPFAB_SLIP_ESC) {
                d->state = ST_ESC;
            } else {
                put(d, cbs, b);
            }
            break;
        case ST_ESC:
            if (b == ESPFAB_SLIP_ESC_END) {
                put(d, cbs, ESPFAB_SLIP_END);
            } else if (b == ESPFAB_SLIP_ESC_ESC) {
                put(d, cbs, ESPFAB_SLIP_ESC);
            } else {
                drop(d, cbs, ESPFAB_E_SLIP_BAD_ESCAPE);
                /* 0xDB 0xC0: the C0 already ends the broken frame. */
                d->state = b == ESPFAB_SLIP_END ? ST_OUTSIDE : ST_DISCARD;
            }
            break;
        case ST_DISCARD:
            if (b == ESPFAB_SLIP_END)
                d->state = ST_OUTSIDE;
            break;
        default:
            d->state = ST_OUTSIDE;
            break;
        }
    }
}

size_t espfab_slip_encoded_max(size_t n)
{
    return 2 * n + 2;
}

size_t espfab_slip_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    if (!out || cap < 2)
        return 0;
    out[o++] = ESPFAB_SLIP_END;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = in[i];
        if (b == ESPFAB_SLIP_ESC || b == ESPFAB_SLIP_END) {
            if (cap - o < 2)
                return 0;
            out[o++] = ESPFAB_SLIP_ESC;
            out[o++] = b == ESPFAB_SLIP_ESC ? ESPFAB_SLIP_ESC_ESC : ESPFAB_SLIP_ESC_END;
        } else {
            if (cap - o < 1)
                return 0;
            out[o++] = b;
        }
    }
    if (cap - o < 1)
        return 0;
    out[o++] = ESPFAB_SLIP_END;
    return o;
}
