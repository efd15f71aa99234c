/* port_tcp.c - the TCP backend, "tcp://HOST:PORT" ports (espsim, ser2net,
 * RFC 2217-less network serial servers): a non-blocking TCP socket with
 * TCP_NODELAY.  The connect is synchronous with a short timeout, so the
 * caller gets a precise fault from espfab_port_open (espfab_port_probe_start
 * is the asynchronous way to ask whether the server is there).  Fills
 * espfab_port_tcp_ops and calls nothing in the port core. */
#include "port/port_backend.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h> /* UV_DISCONNECT */

#define CONNECT_TIMEOUT_MS 3000

static int connect_one(const struct addrinfo *ai, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&pfd, 1, CONNECT_TIMEOUT_MS);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            *err = ETIMEDOUT;
            close(fd);
            return -1;
        }
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr) {
            *err = r < 0 ? errno : soerr ? soerr : errno;
            close(fd);
            return -1;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int tcp_open(espfab_port_conn_t *c, const espfab_port_spec_t *s, uint32_t baud,
                    espfab_fault_t *f)
{
    (void)baud;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%u", (unsigned)s->tcp_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gr = getaddrinfo(s->host, portstr, &hints, &res);
    if (gr != 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: cannot resolve host '%s': %s",
                                c->name, s->host, gai_strerror(gr));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, &err);
    freeaddrinfo(res);
    if (fd < 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_TCP_CONNECT, err, "%s: connect failed%s",
                                  c->name,
                                  err == ECONNREFUSED ? " (nothing listens on that port)"
                                  : err == ETIMEDOUT  ? " (no answer within 3 s)"
                                                      : "");
    c->fd = fd;
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
