/*
 * reset.h - DTR/RTS sequences that put a board into download mode or reset it
 * into its application (docs/protocol.md 5.2), as pure step lists.  No I/O: the
 * session walks the steps with espfab_port_set_lines() and uv timers.
 * Thread-safe; the caller owns the step arrays.
 *
 * Line values follow esptool: 1 = asserted = line low (DTR drives the boot
 * strap, RTS drives EN).  A step sets DTR and/or RTS (-1 = leave as is),
 * together in one ioctl when `both` is set (Unix tight reset), then waits
 * wait_ms milliseconds.  A pure wait step has dtr = rts = -1.
 */
#ifndef ESPFAB_RESET_H
#define ESPFAB_RESET_H

#include <stdbool.h>
#include <stddef.h>

#include "espfab/err.h"

typedef enum espfab_reset {
    ESPFAB_RESET_AUTO = 0,   /* esptool's Unix order per attempt (see below) */
    ESPFAB_RESET_CLASSIC,    /* ClassicReset */
    ESPFAB_RESET_TIGHT,      /* UnixTightReset */
    ESPFAB_RESET_USB_JTAG,   /* USBJTAGSerialReset */
    ESPFAB_RESET_NONE,       /* board already in download mode */
    ESPFAB_RESET_CUSTOM      /* a parsed custom sequence string */
} espfab_reset_t;

typedef struct espfab_reset_step {
    signed char dtr;         /* 1, 0, or -1 = unchanged */
    signed char rts;
    bool both;               /* set both lines in one operation */
    unsigned wait_ms;        /* wait after setting the lines */
} espfab_reset_step_t;

#define ESPFAB_RESET_MAX_STEPS 32
#define ESPFAB_RESET_DELAY_MS 50        /* esptool DEFAULT_RESET_DELAY */
#define ESPFAB_RESET_EXTRA_DELAY_MS 550 /* esptool's "extra" delay */

/* "auto" "classic" "tight" "usb-jtag" "none" "custom".  (User text becomes
 * a strategy in setting.h, espfab_setting_parse_before.) */
const char *espfab_reset_name(espfab_reset_t r);

/* ClassicReset(delay_ms). Returns the step count (<= cap) or 0 if cap is too small. */
size_t espfab_reset_classic(unsigned delay_ms, espfab_reset_step_t *steps, size_t cap);
/* UnixTightReset(delay_ms). */
size_t espfab_reset_tight(unsigned delay_ms, espfab_reset_step_t *steps, size_t cap);
/* USBJTAGSerialReset. */
size_t espfab_reset_usb_jtag(espfab_reset_step_t *steps, size_t cap);
/* HardReset after flashing (usb = the chip's own USB port: longer pulses). */
size_t espfab_reset_hard(bool usb, espfab_reset_step_t *steps, size_t cap);

/* The strategy to use on a port with USB ids vid:pid (-1 if not USB): AUTO
 * on the chip's own USB-JTAG-Serial (303a:1001) becomes USB_JTAG, as
 * esptool does; anything else is kept. */
espfab_reset_t espfab_reset_resolve(espfab_reset_t r, int vid, int pid);

/* The boot sequence for connect attempt `attempt` (0-based) of strategy r:
 * AUTO cycles UnixTight(50), UnixTight(550), Classic(50), Classic(550);
 * NONE gives 0 steps; CUSTOM is not handled here (parse it instead).
 * Returns the step count. */
size_t espfab_reset_for_attempt(espfab_reset_t r, int attempt, espfab_reset_step_t *steps,
                                size_t cap);
/* Human name of what espfab_reset_for_attempt() does: "UnixTight(0.05)". */
const char *espfab_reset_attempt_name(espfab_reset_t r, int attempt);

/* Parses esptool's custom reset string "D0|R1|W0.1|D1|R0|W0.05|D0":
 * Dn / Rn set a line (n = 0/1), Ua,b sets DTR=a and RTS=b in one operation
 * (esptool's syntax; "Uab" is accepted too), Wsec waits (seconds, decimal;
 * added to the previous step's wait).  Whitespace around
 * commands is ignored.  Returns the step count, or a negative error
 * (ESPFAB_E_INVALID_ARG with f->detail naming the bad command and its
 * position; ESPFAB_E_BUFFER_TOO_SMALL).  f may be NULL. */
int espfab_reset_parse(const char *s, espfab_reset_step_t *steps, size_t cap, espfab_fault_t *f);

/* Total wait of a sequence in milliseconds. */
unsigned espfab_reset_total_ms(const espfab_reset_step_t *steps, size_t n);

#endif
