/*
 * port_wait.h - test helpers around the asynchronous port open:
 * port_open_wait (espfab_port_open_start made synchronous: runs the loop
 * until the callback has fired) and a loopback TCP listener that never
 * completes a connect (its accept queue is full, so the kernel drops new
 * SYNs), to hold an open in progress.
 *
 * Ownership and threading: the caller's loop and thread; the port returned
 * is the caller's to close, the listener's fds too (stuck_listener_close).
 * Other handles on the loop may run meanwhile (UV_RUN_ONCE turns).
 */
#ifndef ESPFAB_TEST_PORT_WAIT_H
#define ESPFAB_TEST_PORT_WAIT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>
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

/* A loopback listener whose accept queue is full: listen(0) takes one
 * connection, nothing accepts it, and the kernel drops the SYNs that come
 * after, so a connect to it stays in progress.  fds[0] is the listener,
 * the others the connections that filled it (the last one still
 * connecting).  Returns the port, or -1. */
typedef struct stuck_listener {
    int fds[8];
    int n;
    int port;
} stuck_listener_t;

static inline void stuck_listener_close(stuck_listener_t *l)
{
    for (int i = 0; i < l->n; i++)
        close(l->fds[i]);
    l->n = 0;
}

static inline int stuck_listener_open(stuck_listener_t *l)
{
    l->n = 0;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 0) != 0 ||
        getsockname(ls, (struct sockaddr *)&sa, &len) != 0) {
        if (ls >= 0)
            close(ls);
        return -1;
    }
    l->fds[l->n++] = ls;
    l->port = ntohs(sa.sin_port);
    /* connect until one does not complete within 300 ms: the queue is full */
    while (l->n < 8) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            break;
        l->fds[l->n++] = fd;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 300) == 0)
            return l->port; /* this one hangs: so will the next */
    }
    stuck_listener_close(l);
    return -1;
}

#endif
