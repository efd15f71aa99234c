/* port_tcp.c - "tcp://HOST:PORT" ports (espsim, ser2net, RFC 2217-less
 * network serial servers): a non-blocking TCP socket with TCP_NODELAY.  The
 * connect is synchronous with a short timeout, so the caller gets a precise
 * fault from espfab_port_open. */
#include "port/port_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

int espfab_port__open_tcp(uv_loop_t *loop, const char *spec, const char *host, int tcp_port,
                          espfab_port_t **out, espfab_fault_t *f)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", tcp_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gr = getaddrinfo(host, portstr, &hints, &res);
    if (gr != 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: cannot resolve host '%s': %s",
                                spec, host, gai_strerror(gr));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, &err);
    freeaddrinfo(res);
    if (fd < 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_TCP_CONNECT, err, "%s: connect failed%s", spec,
                                  err == ECONNREFUSED ? " (nothing listens on that port)"
                                  : err == ETIMEDOUT  ? " (no answer within 3 s)"
                                                      : "");
    espfab_port_t *p = espfab_port__new(loop, spec, spec, ESPFAB_PORT_TCP);
    if (!p) {
        close(fd);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: allocating the port", spec);
    }
    p->fd = fd;
    p->modem_lines = false;
    int r = espfab_port__attach(p, f);
    if (r < 0) {
        espfab_port__discard(p);
        return r;
    }
    *out = p;
    return 0;
}
