/*
 * slip.h - streaming SLIP decoder and encoder (docs/protocol.md 1.1).  Pure code,
 * no I/O, no allocation: the caller owns the decoder struct and its frame
 * buffer.  Callbacks fire synchronously from espfab_slip_dec_feed(), on the
 * caller's thread, in wire order.
 *
 * The decoder accepts any chunking of the byte stream.  Bytes seen outside a
 * frame (boot log text, noise) are handed to the `outside` callback so that
 * the session can read "waiting for download" or "boot:0x13"; a frame with a
 * bad escape or longer than the buffer is dropped, counted, and the decoder
 * resynchronises at the next 0xC0.  An empty frame (C0 C0) is not reported.
 *
 * Delimiters: outside a frame 0xC0 opens one; inside, 0xC0 closes it.  A 0xC0
 * that arrives while a frame is open but still empty is taken as another
 * opening delimiter, so "C0 C0 payload C0" yields the payload (the decoder
 * never drifts out of step on doubled delimiters).  After a bad escape or an
 * overflow every byte up to the next 0xC0 (the broken frame's own end) is
 * discarded, not reported as outside; 0xDB directly followed by 0xC0 ends the
 * broken frame there.  The frame pointer passed to `frame` is the caller's
 * buffer and is valid only during the callback; the callback may call
 * espfab_slip_dec_reset() (e.g. to drop anything after a baud change).
 */
#ifndef ESPFAB_SLIP_H
#define ESPFAB_SLIP_H

#include <stddef.h>
#include <stdint.h>

#define ESPFAB_SLIP_END 0xC0
#define ESPFAB_SLIP_ESC 0xDB
#define ESPFAB_SLIP_ESC_END 0xDC
#define ESPFAB_SLIP_ESC_ESC 0xDD

typedef struct espfab_slip_cbs {
    /* A complete, unescaped frame (len >= 1). */
    void (*frame)(void *data, const uint8_t *frame, size_t len);
    /* Bytes outside any frame, in order; may be NULL. */
    void (*outside)(void *data, const uint8_t *bytes, size_t len);
    /* A frame was dropped: err is ESPFAB_E_SLIP_BAD_ESCAPE or ESPFAB_E_SLIP_OVERFLOW; may be NULL. */
    void (*error)(void *data, int err);
    void *data;
} espfab_slip_cbs_t;

typedef struct espfab_slip_dec {
    uint8_t *buf;           /* caller-owned frame buffer */
    size_t cap;             /* its size */
    size_t len;             /* bytes of the frame in progress */
    int state;              /* private */
    uint64_t frames;        /* frames delivered */
    uint64_t bad_escapes;   /* frames dropped for a bad escape */
    uint64_t overflows;     /* frames dropped for being longer than cap */
    uint64_t outside_bytes; /* bytes seen outside frames */
} espfab_slip_dec_t;

void espfab_slip_dec_init(espfab_slip_dec_t *d, uint8_t *buf, size_t cap);
/* Forget any partial frame (e.g. after a baud change). Counters are kept. */
void espfab_slip_dec_reset(espfab_slip_dec_t *d);
void espfab_slip_dec_feed(espfab_slip_dec_t *d, const uint8_t *in, size_t n,
                          const espfab_slip_cbs_t *cbs);

/* Worst-case encoded size of n payload bytes: 2*n + 2. */
size_t espfab_slip_encoded_max(size_t n);
/* Encodes in[0..n) as one frame C0 ... C0 into out.  Returns the encoded
 * length, or 0 if cap is too small (nothing useful written). */
size_t espfab_slip_encode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
