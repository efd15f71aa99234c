/*
 * port_internal.h - the port core's object and what the opener needs from
 * it (src/port and the port tests only; backends include port_backend.h
 * alone and never this file).
 *
 * Ownership and threading: an espfab_port_t is heap-allocated by
 * espfab_port__open_with and freed by port.c once its uv_poll handle has
 * closed.  Its backend hands the core one non-blocking fd in the connection;
 * the core owns the uv_poll handle, the write queue and the read/vanish
 * logic and reaches the backend only through its operations table.
 * Everything runs on the caller's loop thread; no callbacks fire from here.
 */
#ifndef ESPFAB_PORT_INTERNAL_H
#define ESPFAB_PORT_INTERNAL_H

#include "espfab/port.h"
#include "port/baud_linux.h"
#include "port/diagnose.h"
#include "port/port_backend.h"

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
    const espfab_port_ops_t *ops; /* the backend */
    espfab_port_conn_t c;         /* the backend's connection (fd, names) */
    bool attached;                /* poll handle initialised: free only from its close callback */
    uint32_t baud;

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

/* Opens a port with backend ops: allocates it, lets ops->open fill the
 * connection for spec (path = the resolved device path, the spec for TCP;
 * fd = a connected socket the port takes over, whatever the outcome, or -1
 * when the backend opens the node itself), then watches the fd on loop.
 * Returns 0 (*out set), ESPFAB_PORT_DECLINED (the backend does not drive
 * this port; nothing kept) or an error code with f filled. */
int espfab_port__open_with(uv_loop_t *loop, const espfab_port_ops_t *ops, const char *name,
                           const espfab_port_spec_t *spec, const char *path, const char *real,
                           int fd, uint32_t baud, espfab_port_t **out, espfab_fault_t *f);

/* The old spec parser, kept for its tests: a thin wrapper over
 * espfab_port_spec_parse (kind TTY for a device path). */
int espfab_port__parse_spec(const char *spec, espfab_port_kind_t *kind, char *out, size_t outlen,
                            int *tcp_port, espfab_fault_t *f);

#endif
