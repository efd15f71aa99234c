/*
 * port_connect.h - the one TCP connector of the port module (src/port only):
 * reaches "tcp://HOST:PORT" without blocking the loop.  A numeric host is
 * used as it is; a name is resolved with uv_getaddrinfo (libuv's thread
 * pool).  Each address is tried in turn with a non-blocking connect watched
 * by a uv_poll, all under one timeout.  The presence probe (port_probe.c)
 * and the asynchronous open (port_open.c) both use it.
 *
 * Ownership and threading: a connector belongs to one loop and is used from
 * its thread only.  It owns its timer, its poll handle, the socket being
 * connected and the lookup; it frees itself once it has reported (or was
 * cancelled) and the last of them is back (a lookup already running on the
 * thread pool finishes first).  Its callback fires exactly once, from the
 * loop, never inside the start call, unless it is cancelled first: with a
 * connected non-blocking socket (close-on-exec) the callback then owns, or
 * with fd -1 and the fault (code ESPFAB_E_PORT_TCP_CONNECT).  The connector
 * is freed after the callback returns; cancelling it from inside its own
 * callback is a no-op.
 */
#ifndef ESPFAB_PORT_CONNECT_H
#define ESPFAB_PORT_CONNECT_H

#include <uv.h>

#include "espfab/err.h"
#include "espfab/port_spec.h"

typedef struct espfab_port_connector espfab_port_connector_t;

typedef void (*espfab_port_connect_cb)(int fd, const espfab_fault_t *f, void *data);

/* The default bound on a whole connect (every address), in ms. */
#define ESPFAB_PORT_CONNECT_TIMEOUT_MS 3000u

/* Starts connecting to s (kind TCP) on loop; name is the spec as the user
 * wrote it (for messages); timeout_ms 0 = ESPFAB_PORT_CONNECT_TIMEOUT_MS.
 * Returns 0 (*out set; cb fires once from the loop) or an error code with f
 * filled (no callback, nothing left behind). */
int espfab_port__connect_start(uv_loop_t *loop, const espfab_port_spec_t *s, const char *name,
                               unsigned timeout_ms, espfab_port_connect_cb cb, void *data,
                               espfab_port_connector_t **out, espfab_fault_t *f);

/* Stops a connector whose callback has not fired: it never fires; the
 * socket being connected is closed at once, the handles from the loop.
 * NULL is ignored. */
void espfab_port__connect_cancel(espfab_port_connector_t *c);

#endif
