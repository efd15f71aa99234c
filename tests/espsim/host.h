/*
 * host.h - the host side of the espsim tests: little-endian words and SLIP
 * framing, written here (the tests talk to espsim as an independent client,
 * so neither espfab's src/ nor espsim's code is used), and a TCP connection
 * to one board that collects what it sends.  Header-only.
 */
#ifndef ESPSIM_TEST_HOST_H
#define ESPSIM_TEST_HOST_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* SLIP-encodes p[0..n) into out (room for 2n + 2 bytes); returns its length. */
static inline size_t slip(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t k = 0;
    out[k++] = 0xC0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0xC0) {
            out[k++] = 0xDB;
            out[k++] = 0xDC;
        } else if (p[i] == 0xDB) {
            out[k++] = 0xDB;
            out[k++] = 0xDD;
        } else {
            out[k++] = p[i];
        }
    }
    out[k++] = 0xC0;
    return k;
}

/* ---- a TCP connection to one simulated board ------------------------------ */

typedef struct host_conn {
    int fd;
    double t0;       /* when connected: the power-on reset */
    uint8_t raw[65536];
    size_t len;      /* everything received (banners, frames) */
    size_t dec;      /* frames decoded up to here */
} host_conn_t;

static inline double host_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads what arrives within `s` seconds. */
static inline void host_pump(host_conn_t *c, double s)
{
    double end = host_now() + s;
    for (;;) {
        double left = end - host_now();
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            return;
        ssize_t r = read(c->fd, c->raw + c->len, sizeof c->raw - c->len);
        if (r <= 0)
            return;
        c->len += (size_t)r;
    }
}

/* The next complete SLIP frame after c->dec (decoded into f), or 0. */
static inline size_t host_next_frame(host_conn_t *c, uint8_t *f, size_t cap)
{
    size_t i = c->dec;
    while (i < c->len && c->raw[i] != 0xC0)
        i++;
    for (;;) {
        size_t j = i + 1, k = 0;
        if (i >= c->len)
            return 0;
        while (j < c->len && c->raw[j] != 0xC0) {
            uint8_t v = c->raw[j];
            if (v == 0xDB && j + 1 < c->len) {
                v = c->raw[j + 1] == 0xDC ? 0xC0 : 0xDB;
                j++;
            }
            if (k < cap)
                f[k++] = v;
            j++;
        }
        if (j >= c->len)
            return 0; /* incomplete */
        if (k == 0) { /* C0 C0: the second one opens the frame */
            i = j;
            continue;
        }
        c->dec = j + 1;
        return k;
    }
}

#endif
