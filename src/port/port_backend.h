/*
 * port_backend.h - what a port backend is: one operations table filled by
 * each backend file (src/port only).
 *
 * Ownership and threading: the port core (port.c) owns an espfab_port_conn_t
 * inside every open port and hands it to its backend's operations; a backend
 * fills it on open (the non-blocking fd plus its own state) and releases it
 * on close.  Backends see only the connection, never the port: they do not
 * know the uv_poll handle, the write queue or the callbacks, and call nothing
 * in port.c (this header declares no function of the core).  Every operation
 * runs synchronously on the loop thread; none calls back.
 */
#ifndef ESPFAB_PORT_BACKEND_H
#define ESPFAB_PORT_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "espfab/port_spec.h" /* types only: not port.h, the core's functions */
#include "port/diagnose.h"

struct sp_port;

/* One open connection as its backend sees it. */
typedef struct espfab_port_conn {
    int fd;             /* non-blocking, polled by the core; -1 until opened / once closed */
    char name[256];     /* the spec as given (for messages) */
    char path[256];     /* device path opened (after glob resolution), or the spec for TCP */
    char real[4096];    /* realpath of the device node, "" for TCP */
    bool modem_lines;   /* DTR/RTS can be driven (set by open) */
    bool exclusive;     /* the device backends set TIOCEXCL */
    struct sp_port *sp; /* the libserialport backend's handle, else NULL */
    /* /dev tty names (ttyACM*, ttyUSB*) present at open, to name a
     * re-enumerated one when the device vanishes (device backends) */
    espfab_portdiag_list_t ttys_at_open;
} espfab_port_conn_t;

/* What failed, for classify. */
typedef enum espfab_port_io {
    ESPFAB_PORT_IO_READ,  /* read() failed with err */
    ESPFAB_PORT_IO_WRITE, /* write()/send() failed with err */
    ESPFAB_PORT_IO_POLL,  /* the poll reported an error (err from libuv, positive) */
    ESPFAB_PORT_IO_EOF    /* read() returned 0 (err is 0) */
} espfab_port_io_t;

/* A backend returns this from open when the port is not one it can drive;
 * the opener then tries the next backend that fits the spec. */
#define ESPFAB_PORT_DECLINED 1

typedef struct espfab_port_ops {
    const char *name;        /* "serial", "termios", "tcp" (logs, tests) */
    espfab_port_kind_t kind; /* what espfab_port_kind() reports */
    int poll_extra;          /* events polled besides UV_READABLE (UV_DISCONNECT for sockets) */
    const char *eof_what;    /* what a read of 0 bytes means ("the peer closed the connection") */
    const char *poll_error_what; /* what a poll error is called ("socket error") */

    /* Opens what c->path (device) names at baud, 8N1 raw, and fills c->fd
     * (non-blocking) and c->modem_lines.  A TCP connection arrives already
     * connected (port_connect.c made it without blocking): c->fd holds the
     * socket, which open takes over and configures.  Returns 0,
     * ESPFAB_PORT_DECLINED, or an error code with f diagnosed.  On failure
     * the caller still calls close(c) to release whatever was taken
     * (including a socket handed in). */
    int (*open)(espfab_port_conn_t *c, const espfab_port_spec_t *s, uint32_t baud,
                espfab_fault_t *f);
    /* Changes the line speed; NULL when the port has none (TCP: accepted). */
    int (*set_baud)(espfab_port_conn_t *c, uint32_t baud, espfab_fault_t *f);
    /* Drives DTR/RTS as espfab_port_set_lines says (both given: one ioctl);
     * NULL when the backend has no modem lines. */
    int (*set_lines)(espfab_port_conn_t *c, int dtr, int rts);
    /* Discards input the kernel holds.  Returns 0 or an error code. */
    int (*flush_input)(espfab_port_conn_t *c);
    /* Hands bytes to the kernel (write, or send without SIGPIPE). */
    ssize_t (*send)(int fd, const uint8_t *buf, size_t n);
    /* The error code for a failure of io with errno *err; may rewrite *err
     * to the errno worth showing (a poll error's EBADF is an EIO). */
    int (*classify)(espfab_port_io_t io, int *err);
    /* Fills f for a port that failed while open with code (PORT_VANISHED or
     * PORT_CLOSED); what says what failed ("read: Input/output error"). */
    void (*diagnose)(const espfab_port_conn_t *c, espfab_fault_t *f, int code, int err,
                     const char *what);
    /* The USB VID:PID (0) or -1; NULL = never known. */
    int (*usb_id)(const espfab_port_conn_t *c, int *vid, int *pid);
    /* Releases the fd and the backend's state; c->fd is -1 afterwards.
     * Safe on a connection whose open failed half-way. */
    void (*close)(espfab_port_conn_t *c);
} espfab_port_ops_t;

/* The backends (each defined by its own file). */
extern const espfab_port_ops_t espfab_port_serial_ops;  /* port_serial.c: libserialport */
extern const espfab_port_ops_t espfab_port_termios_ops; /* port_termios.c: ptys, other ttys */
extern const espfab_port_ops_t espfab_port_tcp_ops;     /* port_tcp.c */

#endif
