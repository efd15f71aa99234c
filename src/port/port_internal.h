/*
 * port_internal.h - what the three port backends share (src/port only).
 *
 * Ownership and threading: an espfab_port_t is heap-allocated by the backend
 * open function and freed by port.c once its uv_poll handle has closed.  All
 * backends hand port.c one non-blocking fd; port.c owns the uv_poll handle,
 * the write queue and the read/vanish logic, so the backends only open,
 * configure (baud, lines) and describe their fd.  Everything runs on the
 * caller's loop thread; no callbacks fire from here.
 */
#ifndef ESPFAB_PORT_INTERNAL_H
#define ESPFAB_PORT_INTERNAL_H

#include "espfab/port.h"
#include "port/diagnose.h"

struct sp_port;

typedef struct port_wreq {
    struct port_wreq *next;
    espfab_port_write_cb cb;
    void *data;
    size_t len, off;
    uint8_t buf[]; /* copy of the caller's bytes */
} port_wreq;

struct espfab_port {
    uv_loop_t *loop;
    uv_poll_t poll;
    int fd;
    struct sp_port *sp; /* libserialport handle (ESPFAB_PORT_SERIAL), else NULL */
    bool exclusive;     /* this port set TIOCEXCL */
    bool attached;      /* poll handle initialised: free only from its close callback */
    espfab_port_kind_t kind;
    uint32_t baud;
    bool modem_lines;
    char name[256];  /* the spec as given */
    char path[256];  /* device path opened (after glob / by-path resolution) or host:port */
    char real[4096]; /* realpath of the device node, "" for TCP */
    /* /dev tty names (ttyACM*, ttyUSB*) present at open, to name a re-enumerated one */
    espfab_portdiag_list_t ttys_at_open;

    espfab_port_read_cb read_cb;
    void *read_data;
    bool reading;
    bool failed; /* the fd reported an error; fault holds it */
    bool closing;
    int poll_events; /* what the uv_poll is started with (0 = stopped) */
    espfab_fault_t fault;

    port_wreq *wq_head, *wq_tail;
    size_t wq_bytes;

    espfab_port_close_cb close_cb;
    void *close_data;
};

/* Parses a port spec (pure): "tcp://HOST:PORT" gives kind TCP, host in out
 * and *tcp_port; anything else is a device path ("ttyUSB0" becomes
 * "/dev/ttyUSB0").  Returns 0 or PORT_BAD_SPEC with f filled. */
int espfab_port__parse_spec(const char *spec, espfab_port_kind_t *kind, char *out, size_t outlen,
                            int *tcp_port, espfab_fault_t *f);

/* Allocates a port with name/path filled and fd = -1. */
espfab_port_t *espfab_port__new(uv_loop_t *loop, const char *spec, const char *path,
                                espfab_port_kind_t kind);
/* Registers the fd with the loop (uv_poll_init).  On failure closes nothing. */
int espfab_port__attach(espfab_port_t *p, espfab_fault_t *f);
/* Frees a port that was never attached (open failure paths); closes fd. */
void espfab_port__discard(espfab_port_t *p);

/* Backends.  spec is the name as given, path the resolved device / host:port. */
int espfab_port__open_tty(uv_loop_t *loop, const char *spec, const char *path, uint32_t baud,
                          bool use_libserialport, espfab_port_t **out, espfab_fault_t *f);
int espfab_port__open_tcp(uv_loop_t *loop, const char *spec, const char *host, int tcp_port,
                          espfab_port_t **out, espfab_fault_t *f);
int espfab_port__tty_set_baud(espfab_port_t *p, uint32_t baud, espfab_fault_t *f);

/* baud_linux.c: termios2/BOTHER for rates without a Bxxxx constant.  Returns 0
 * or -errno; *actual gets the rate the driver reports back. */
int espfab_port__set_baud_other(int fd, uint32_t baud, uint32_t *actual);
int espfab_port__get_baud_other(int fd, uint32_t *actual);

#endif
