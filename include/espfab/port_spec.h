/*
 * port_spec.h - what a port spec says, as typed values: the backend kinds
 * and the one parser of "/dev/ttyUSB0", "ttyACM0", by-path globs and
 * "tcp://HOST:PORT".
 *
 * Ownership and threading: plain values the caller owns; the parser is pure
 * (no I/O, no state), thread-safe, and calls nothing back.  Kept apart from
 * port.h so the port backends can share these types without seeing the port
 * core's functions.
 */
#ifndef ESPFAB_PORT_SPEC_H
#define ESPFAB_PORT_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/err.h"

typedef enum espfab_port_kind {
    ESPFAB_PORT_SERIAL = 0, /* libserialport */
    ESPFAB_PORT_TTY,        /* termios (pty, or tty unknown to libserialport) */
    ESPFAB_PORT_TCP         /* tcp://host:port */
} espfab_port_kind_t;

typedef enum espfab_port_spec_kind {
    ESPFAB_PORT_SPEC_DEVICE = 0, /* a device path (or a glob naming one) */
    ESPFAB_PORT_SPEC_TCP         /* tcp://HOST:PORT */
} espfab_port_spec_kind_t;

/* A port spec as typed values (what the user wrote, parsed once). */
typedef struct espfab_port_spec {
    espfab_port_spec_kind_t kind;
    char path[256];    /* DEVICE: "/dev/ttyUSB0" ("ttyUSB0" gets /dev/), maybe a glob */
    bool is_glob;      /* DEVICE: path holds glob characters (* ? [) */
    char host[200];    /* TCP: name or address (IPv6 without its brackets) */
    uint16_t tcp_port; /* TCP: 1..65535 */
} espfab_port_spec_t;

/* Parses spec (pure: no I/O).  "tcp://HOST:PORT" (HOST may be [IPv6]; PORT
 * only digits, 1 to 65535) is TCP; anything else is a device path.  Returns
 * 0, or ESPFAB_E_PORT_BAD_SPEC with f's detail naming the spec and what is
 * wrong with it (no host, no port number, not a number from 1 to 65535, an
 * unsupported scheme, a Windows COM name, a control character). */
int espfab_port_spec_parse(const char *spec, espfab_port_spec_t *out, espfab_fault_t *f);

#endif
