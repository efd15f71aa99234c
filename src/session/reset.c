/*
 * reset.c - DTR/RTS step lists for entering download mode and for the hard
 * reset after flashing (docs/protocol.md 5.2), and esptool's custom reset string.
 * Pure code: the session walks the steps on the port with uv timers.
 */
#include "espfab/reset.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const reset_names[] = {"auto", "classic", "tight", "usb-jtag", "none", "custom"};

const char *espfab_reset_name(espfab_reset_t r)
{
    if ((unsigned)r < sizeof(reset_names) / sizeof(reset_names[0]))
        return reset_names[r];
    return "?";
}

/* Appends one step; returns the new count, or cap + 1 once full. */
static size_t put(espfab_reset_step_t *st, size_t n, size_t cap, int dtr, int rts, bool both,
                  unsigned wait_ms)
{
    if (n >= cap)
        return cap + 1;
    st[n] = (espfab_reset_step_t){(signed char)dtr, (signed char)rts, both, wait_ms};
    return n + 1;
}

static size_t done(size_t n, size_t cap) { return n > cap ? 0 : n; }

size_t espfab_reset_classic(unsigned delay_ms, espfab_reset_step_t *st, size_t cap)
{
    size_t n = 0;
    n = put(st, n, cap, 0, -1, false, 0);   /* IO0 high */
    n = put(st, n, cap, -1, 1, false, 100); /* EN low: chip in reset */
    n = put(st, n, cap, 1, -1, false, 0);   /* IO0 low */
    n = put(st, n, cap, -1, 0, false, delay_ms); /* EN released: boots with IO0 low */
    n = put(st, n, cap, 0, -1, false, 0);   /* IO0 released */
    return done(n, cap);
}

size_t espfab_reset_tight(unsigned delay_ms, espfab_reset_step_t *st, size_t cap)
{
    size_t n = 0;
    n = put(st, n, cap, 0, 0, true, 0);
    n = put(st, n, cap, 1, 1, true, 0);
    n = put(st, n, cap, 0, 1, true, 100);    /* EN low */
    n = put(st, n, cap, 1, 0, true, delay_ms); /* IO0 low, EN released */
    n = put(st, n, cap, 0, 0, true, 0);
    n = put(st, n, cap, 0, -1, false, 0);    /* esptool sets DTR=0 once more */
    return done(n, cap);
}

size_t espfab_reset_usb_jtag(espfab_reset_step_t *st, size_t cap)
{
    size_t n = 0;
    n = put(st, n, cap, -1, 0, false, 0);
    n = put(st, n, cap, 0, -1, false, 100);
    n = put(st, n, cap, 1, -1, false, 0);
    n = put(st, n, cap, -1, 0, false, 100);
    n = put(st, n, cap, -1, 1, false, 0);
    n = put(st, n, cap, 0, -1, false, 0);
    n = put(st, n, cap, -1, 1, false, 100);
    n = put(st, n, cap, 0, -1, false, 0);
    n = put(st, n, cap, -1, 0, false, 0);
    return done(n, cap);
}

size_t espfab_reset_hard(bool usb, espfab_reset_step_t *st, size_t cap)
{
    size_t n = 0;
    n = put(st, n, cap, -1, 1, false, usb ? 200 : 100);
    n = put(st, n, cap, -1, 0, false, usb ? 200 : 0);
    return done(n, cap);
}

espfab_reset_t espfab_reset_resolve(espfab_reset_t r, int vid, int pid)
{
    if (r == ESPFAB_RESET_AUTO && vid == 0x303a && pid == 0x1001)
        return ESPFAB_RESET_USB_JTAG;
    return r;
}

size_t espfab_reset_for_attempt(espfab_reset_t r, int attempt, espfab_reset_step_t *st, size_t cap)
{
    if (attempt < 0)
        attempt = 0;
    switch (r) {
    case ESPFAB_RESET_AUTO:
        switch (attempt % 4) {
        case 0: return espfab_reset_tight(ESPFAB_RESET_DELAY_MS, st, cap);
        case 1: return espfab_reset_tight(ESPFAB_RESET_EXTRA_DELAY_MS, st, cap);
        case 2: return espfab_reset_classic(ESPFAB_RESET_DELAY_MS, st, cap);
        default: return espfab_reset_classic(ESPFAB_RESET_EXTRA_DELAY_MS, st, cap);
        }
    case ESPFAB_RESET_CLASSIC:
        return espfab_reset_classic(attempt % 2 ? ESPFAB_RESET_EXTRA_DELAY_MS : ESPFAB_RESET_DELAY_MS,
                                    st, cap);
    case ESPFAB_RESET_TIGHT:
        return espfab_reset_tight(attempt % 2 ? ESPFAB_RESET_EXTRA_DELAY_MS : ESPFAB_RESET_DELAY_MS,
                                  st, cap);
    case ESPFAB_RESET_USB_JTAG:
        return espfab_reset_usb_jtag(st, cap);
    case ESPFAB_RESET_NONE:
    case ESPFAB_RESET_CUSTOM:
    default:
        return 0;
    }
}

const char *espfab_reset_attempt_name(espfab_reset_t r, int attempt)
{
    if (attempt < 0)
        attempt = 0;
    switch (r) {
    case ESPFAB_RESET_AUTO: {
        static const char *const n[] = {"UnixTight(0.05)", "UnixTight(0.55)", "Classic(0.05)",
                                        "Classic(0.55)"};
        return n[attempt % 4];
    }
    case ESPFAB_RESET_CLASSIC: return attempt % 2 ? "Classic(0.55)" : "Classic(0.05)";
    case ESPFAB_RESET_TIGHT: return attempt % 2 ? "UnixTight(0.55)" : "UnixTight(0.05)";
    case ESPFAB_RESET_USB_JTAG: return "USBJTAGSerial";
    case ESPFAB_RESET_CUSTOM: return "custom";
    case ESPFAB_RESET_NONE:
    default: return "none";
    }
}

/* "0" / "1" (also "True"/"False" as esptool evaluates Python literals). */
static int parse_bit(const char *s, size_t len)
{
    if (len == 1 && (s[0] == '0' || s[0] == '1'))
        return s[0] - '0';
    if (len == 4 && strncasecmp(s, "true", 4) == 0)
        return 1;
    if (len == 5 && strncasecmp(s, "false", 5) == 0)
        return 0;
    return -1;
}

int espfab_reset_parse(const char *s, espfab_reset_step_t *st, size_t cap, espfab_fault_t *f)
{
    if (!s || !st)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "custom reset: no sequence");
    size_t n = 0;
    int idx = 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *a = p;
        while (len && isspace((unsigned char)*a)) {
            a++;
            len--;
        }
        while (len && isspace((unsigned char)a[len - 1]))
            len--;
        idx++;
        if (len < 2)
            return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                    "custom reset \"%s\": command %d is empty or has no value "
                                    "(expected D0/D1, R0/R1, U0,1 or W0.1)", s, idx);
        char c = (char)toupper((unsigned char)a[0]);
        const char *v = a + 1;
        size_t vlen = len - 1;
        if (c == 'D' || c == 'R') {
            int bit = parse_bit(v, vlen);
            if (bit < 0)
                return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                        "custom reset \"%s\": command %d \"%.*s\": value must be 0 or 1",
                                        s, idx, (int)len, a);
            if (n >= cap)
                return espfab_fault_set(f, ESPFAB_E_BUFFER_TOO_SMALL,
                                        "custom reset \"%s\": more than %zu steps", s, cap);
            st[n++] = (espfab_reset_step_t){(signed char)(c == 'D' ? bit : -1),
                                            (signed char)(c == 'R' ? bit : -1), false, 0};
        } else if (c == 'U') {
            int d = -1, r = -1;
            const char *comma = memchr(v, ',', vlen);
            if (comma) {
                d = parse_bit(v, (size_t)(comma - v));
                r = parse_bit(comma + 1, vlen - (size_t)(comma - v) - 1);
            } else if (vlen == 2) {
                d = parse_bit(v, 1);
                r = parse_bit(v + 1, 1);
            }
            if (d < 0 || r < 0)
                return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                        "custom reset \"%s\": command %d \"%.*s\": expected U<dtr>,<rts> "
                                        "such as U0,1", s, idx, (int)len, a);
            if (n >= cap)
                return espfab_fault_set(f, ESPFAB_E_BUFFER_TOO_SMALL,
                                        "custom reset \"%s\": more than %zu steps", s, cap);
            st[n++] = (espfab_reset_step_t){(signed char)d, (signed char)r, true, 0};
        } else if (c == 'W') {
            char num[32];
            if (vlen >= sizeof(num))
                vlen = sizeof(num) - 1;
            memcpy(num, v, vlen);
            num[vlen] = 0;
            char *e = NULL;
            double sec = strtod(num, &e);
            if (e == num || *e || !(sec >= 0) || sec > 60)
                return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                        "custom reset \"%s\": command %d \"%.*s\": wait must be 0-60 "
                                        "seconds", s, idx, (int)len, a);
            unsigned ms = (unsigned)(sec * 1000.0 + 0.5);
            if (n == 0) {
                if (n >= cap)
                    return espfab_fault_set(f, ESPFAB_E_BUFFER_TOO_SMALL,
                                            "custom reset \"%s\": more than %zu steps", s, cap);
                st[n++] = (espfab_reset_step_t){-1, -1, false, 0};
            }
            st[n - 1].wait_ms += ms;
        } else {
            return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                    "custom reset \"%s\": command %d \"%.*s\": unknown command '%c' "
                                    "(D, R, U or W)", s, idx, (int)len, a, a[0]);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return (int)n;
}

unsigned espfab_reset_total_ms(const espfab_reset_step_t *st, size_t n)
{
    unsigned t = 0;
    for (size_t i = 0; i < n; i++)
        t += st[i].wait_ms;
    return t;
}
