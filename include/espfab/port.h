/*
 * port.h - one serial-port interface, three backends, on a libuv loop.
 *
 *   - real serial devices through libserialport (DTR/RTS available);
 *   - ptys and other ttys libserialport 0.1.1 cannot open, through termios;
 *   - "tcp://HOST:PORT" through a non-blocking socket.
 *
 * Each backend fills an operations table (src/port/port_backend.h); the
 * port core keeps the fd, its poll, the reads and the write queue and knows
 * no backend.  A spec is parsed in one place (espfab_port_spec_parse in
 * port_spec.h, pure) and opened in one place (espfab_port_open_start picks
 * the backend).
 *
 * Ownership and threading: a port belongs to one uv_loop_t and is used from
 * that loop's thread only, and nothing here blocks that thread (one loop
 * drives many boards).  Opening is asynchronous: espfab_port_open_start
 * connects a TCP spec without blocking (uv_getaddrinfo for a name, then a
 * non-blocking connect per address under one timeout) and opens a device
 * node (fast, local) in the start call; either way its callback fires
 * exactly once, from the loop (never inside the start call), with the port
 * or a precise fault, unless the request is cancelled first.  Reads and
 * write completions are delivered from the loop.
 * The read callback fires for every chunk that arrives (n > 0), and once with
 * n < 0 (an espfab error code, fault filled) when the port fails or vanishes;
 * after that no more reads are delivered.  Write callbacks fire once each, in
 * order, when the bytes have been handed to the kernel (or with an error).
 * espfab_port_close() stops everything; no callback fires after it returns
 * except the close callback (from the loop).
 *
 * A presence probe (espfab_port_probe_start: is the device node / the TCP
 * server there?) never blocks the loop either: it shares the open's TCP
 * connector (src/port/port_connect.c), the device stat runs on libuv's
 * thread pool.  Its
 * callback fires exactly once, from the loop (never inside the start call),
 * unless the probe is cancelled first; the probe frees itself.
 */
#ifndef ESPFAB_PORT_H
#define ESPFAB_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "espfab/err.h"
#include "espfab/port_spec.h"

typedef struct espfab_port espfab_port_t;

typedef void (*espfab_port_read_cb)(espfab_port_t *p, const uint8_t *buf, ssize_t n,
                                    const espfab_fault_t *f, void *data);
typedef void (*espfab_port_write_cb)(espfab_port_t *p, int status, void *data);
typedef void (*espfab_port_close_cb)(espfab_port_t *p, void *data);

/* ---- opening ---- */

typedef struct espfab_port_open_req espfab_port_open_req_t;

/* The outcome of an open: p is the open port (the callback's to keep and
 * close with espfab_port_close), or NULL with f holding the diagnosis
 * (missing port + which ports exist, permission + the device's group and the
 * usermod command, busy + the process holding it; for TCP, code
 * PORT_TCP_CONNECT: name unknown, refused, unreachable, no answer within
 * 3 s).  The request is freed once the callback returns. */
typedef void (*espfab_port_open_cb)(espfab_port_t *p, const espfab_fault_t *f, void *data);

/* Starts opening spec at baud 8N1, raw, on loop.  Returns 0 (*out set when
 * out is not NULL; cb fires once from the loop) or, for what needs no I/O
 * to tell (a bad spec, baud 0, a NULL argument, no memory), an error code
 * with f filled and no callback. */
int espfab_port_open_start(uv_loop_t *loop, const char *spec, uint32_t baud,
                           espfab_port_open_cb cb, void *data, espfab_port_open_req_t **out,
                           espfab_fault_t *f);
/* Stops an open whose callback has not fired: it never fires, and what the
 * open holds is released (a TCP socket still connecting is closed at once,
 * a device port already opened is closed; handles close from the loop, a
 * name lookup already running on the thread pool finishes first).  NULL is
 * ignored; so is a request whose callback is running. */
void espfab_port_open_cancel(espfab_port_open_req_t *r);

int espfab_port_read_start(espfab_port_t *p, espfab_port_read_cb cb, void *data);
int espfab_port_read_stop(espfab_port_t *p);

/* Queues a copy of buf[0..n) for writing.  cb may be NULL. */
int espfab_port_write(espfab_port_t *p, const uint8_t *buf, size_t n, espfab_port_write_cb cb,
                      void *data);
/* Bytes queued but not yet handed to the kernel. */
size_t espfab_port_write_queued(const espfab_port_t *p);

/* Changes the line speed (no-op success on TCP; termios on ttys). */
int espfab_port_set_baud(espfab_port_t *p, uint32_t baud, espfab_fault_t *f);
uint32_t espfab_port_baud(const espfab_port_t *p);

/* Sets DTR/RTS (1 = asserted = line low, esptool's True); -1 leaves a line
 * as it is.  Both lines change in one ioctl when both are given (Unix tight
 * reset).  Returns ESPFAB_E_PORT_NO_MODEM_LINES on TCP and on ptys. */
int espfab_port_set_lines(espfab_port_t *p, int dtr, int rts);
bool espfab_port_has_modem_lines(const espfab_port_t *p);

/* Discards input buffered by the kernel (tcflush) and anything read but not
 * yet delivered. */
int espfab_port_flush_input(espfab_port_t *p);

const char *espfab_port_name(const espfab_port_t *p); /* the spec as given */
espfab_port_kind_t espfab_port_kind(const espfab_port_t *p);

/* The fd the port reads and writes (for tests and diagnostics; do not poll
 * it yourself: the port already does). */
int espfab_port_fd(const espfab_port_t *p);
/* The fault the port failed with (the one the read callback got), or NULL
 * while it is healthy.  Valid until close. */
const espfab_fault_t *espfab_port_fault(const espfab_port_t *p);
/* The USB VID:PID of an open serial port (libserialport backend); 0, or -1
 * for ptys, TCP and ports that are not USB devices. */
int espfab_port_usb_id(const espfab_port_t *p, int *vid, int *pid);
#define ESPFAB_USB_VID_ESPRESSIF 0x303a
#define ESPFAB_USB_PID_USB_JTAG_SERIAL 0x1001 /* the chip's own USB-JTAG-Serial */

/* Closes; cb (may be NULL) fires from the loop once the handles are closed. */
void espfab_port_close(espfab_port_t *p, espfab_port_close_cb cb, void *data);

/* ---- presence probe ---- */

typedef struct espfab_port_probe espfab_port_probe_t;

/* status 0: the port is there (the device node exists, the TCP server
 * accepted a connection, which the probe closes at once).  Otherwise the
 * code says why not with f filled: PORT_NOT_FOUND (no node, a glob matching
 * nothing), PORT_BAD_SPEC (a glob matching several), PORT_TCP_CONNECT (name
 * unknown, refused, no answer within the timeout).  pr is freed after the
 * callback returns. */
typedef void (*espfab_port_probe_cb)(espfab_port_probe_t *pr, int status, const espfab_fault_t *f,
                                     void *data);

/* Starts probing spec on loop; timeout_ms bounds a TCP connect (0 = 3000).
 * Returns 0 (*out set when out is not NULL; cb will fire once from the loop)
 * or an error code with f filled (no callback). */
int espfab_port_probe_start(uv_loop_t *loop, const espfab_port_spec_t *spec, unsigned timeout_ms,
                            espfab_port_probe_cb cb, void *data, espfab_port_probe_t **out,
                            espfab_fault_t *f);
/* Stops a probe whose callback has not fired: it never fires; the probe
 * closes its handles and frees itself from the loop (a name lookup already
 * running on the thread pool finishes first).  NULL is ignored. */
void espfab_port_probe_cancel(espfab_port_probe_t *pr);

/* ---- enumeration (espfab ports) ---- */
typedef struct espfab_port_desc {
    char path[256];          /* /dev/ttyUSB0 */
    char by_path[256];       /* /dev/serial/by-path/... or "" */
    char by_id[256];         /* /dev/serial/by-id/... or "" */
    int usb_vid, usb_pid;    /* -1 if not USB */
    char serial[64];
    char manufacturer[64];
    char product[96];
    char bridge[64];         /* "CP210x", "CH340", "FTDI", "ESP USB-JTAG-Serial", "" */
} espfab_port_desc_t;

/* Lists serial ports (libserialport plus /dev/serial/by-*); caller frees with
 * free().  Returns count (0 = none) or a negative error code. */
int espfab_ports_list(espfab_port_desc_t **out, espfab_fault_t *f);
/* Names the USB-UART bridge for a VID:PID ("CP210x", "CH343"...) or NULL. */
const char *espfab_port_bridge_name(int vid, int pid);

#endif
