/*
 * port_wait.h - espfab_port_open_start made synchronous for tests: starts
 * the open and runs the loop until its callback has fired.
 *
 * Ownership and threading: the caller's loop and thread; the port returned
 * is the caller's to close.  Other handles on the loop may run meanwhile
 * (UV_RUN_ONCE turns).
 */
#ifndef ESPFAB_TEST_PORT_WAIT_H
#define ESPFAB_TEST_PORT_WAIT_H

#include <stdbool.h>
#include <uv.h>

#include "espfab/port.h"

typedef struct port_wait {
    bool fired;
    int calls;
    espfab_port_t *port;
    espfab_fault_t fault;
} port_wait_t;

static void port_wait_cb(espfab_port_t *p, const espfab_fault_t *f, void *data)
{
    port_wait_t *w = data;
    w->fired = true;
    w->calls++;
    w->port = p;
    w->fault = *f;
}

/* Returns 0 (*out set) or the error code (f filled, *out NULL), as a
 * synchronous open would. */
static inline int port_open_wait(uv_loop_t *loop, const char *spec, uint32_t baud,
                                 espfab_port_t **out, espfab_fault_t *f)
{
    port_wait_t w = {0};
    *out = NULL;
    int r = espfab_port_open_start(loop, spec, baud, port_wait_cb, &w, NULL, f);
    if (r < 0)
        return r;
    while (!w.fired)
        uv_run(loop, UV_RUN_ONCE);
    *f = w.fault;
    *out = w.port;
    return w.port ? 0 : (w.fault.code ? w.fault.code : ESPFAB_E_PORT_OPEN_FAILED);
}

#endif
