/* port_tcp.c - the TCP backend, "tcp://HOST:PORT" ports (espsim, ser2net,
 * RFC 2217-less network serial servers): a non-blocking TCP socket with
 * TCP_NODELAY.  The socket comes connected from the port module's
 * asynchronous connector (port_connect.c, driven by espfab_port_open_start),
 * so nothing here blocks.  Fills espfab_port_tcp_ops and calls nothing in
 * the port core. */
#include "port/port_backend.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h> /* UV_DISCONNECT */

/* Takes over the connected socket in c->fd. */
static int tcp_open(espfab_port_conn_t *c, const espfab_port_spec_t *s, uint32_t baud,
                    espfab_fault_t *f)
{
    (void)s;
    (void)baud;
    if (c->fd < 0)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                "%s: the TCP backend needs a connected socket", c->name);
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->modem_lines = false;
    return 0;
}

static ssize_t tcp_send(int fd, const uint8_t *buf, size_t n)
{
    return send(fd, buf, n, MSG_NOSIGNAL);
}

static int tcp_flush_input(espfab_port_conn_t *c)
{
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        return 0; /* EAGAIN, or EOF/error left for the reader to report */
    }
}

static int tcp_classify(espfab_port_io_t io, int *err)
{
    switch (io) {
    case ESPFAB_PORT_IO_EOF:
        return ESPFAB_E_PORT_CLOSED;
    case ESPFAB_PORT_IO_POLL:
        if (*err == EBADF)
            *err = ECONNRESET; /* libuv's name for POLLERR: the connection broke */
        return ESPFAB_E_PORT_CLOSED;
    case ESPFAB_PORT_IO_READ:
    case ESPFAB_PORT_IO_WRITE:
        break;
    }
    int e = *err;
    if (e == ECONNRESET || e == EPIPE || e == ENOTCONN || e == ETIMEDOUT || e == EHOSTUNREACH ||
        e == ENETUNREACH)
        return ESPFAB_E_PORT_CLOSED;
    return io == ESPFAB_PORT_IO_WRITE ? ESPFAB_E_PORT_WRITE : ESPFAB_E_PORT_READ;
}

static void tcp_diagnose(const espfab_port_conn_t *c, espfab_fault_t *f, int code, int err,
                         const char *what)
{
    espfab_fault_errno(f, code, err, "%s: %s", c->name, what);
}

static void tcp_close(espfab_port_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

const espfab_port_ops_t espfab_port_tcp_ops = {
    .name = "tcp",
    .kind = ESPFAB_PORT_TCP,
    .poll_extra = UV_DISCONNECT,
    .eof_what = "the peer closed the connection",
    .poll_error_what = "the connection broke (board unplugged or server gone)",
    .open = tcp_open,
    .set_baud = NULL, /* no line speed: accepted */
    .set_lines = NULL,
    .flush_input = tcp_flush_input,
    .send = tcp_send,
    .classify = tcp_classify,
    .diagnose = tcp_diagnose,
    .usb_id = NULL,
    .close = tcp_close,
};
