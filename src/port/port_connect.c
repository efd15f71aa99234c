/* port_connect.c - the TCP connector (see port_connect.h): uv_getaddrinfo
 * unless the host is an address, then a non-blocking connect per address,
 * watched by a uv_poll, under one timeout.
 *
 * Lifetime: the connector counts its open handles and requests in flight
 * (pending) and frees itself when it has reported (or was cancelled) and
 * pending is 0.  The poll handle serves one address at a time: after a
 * failed address the next one is tried from the handle's close callback. */
#include "port/port_connect.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct espfab_port_connector {
    uv_loop_t *loop;
    espfab_port_spec_t spec;
    char name[270]; /* the spec as given, for messages */
    espfab_port_connect_cb cb;
    void *data;
    bool reported; /* cb fired, or the connector was cancelled */
    bool starting; /* inside espfab_port__connect_start: a result waits for the loop */
    int pending;   /* handles open + requests in flight */
    unsigned timeout_ms;
    espfab_fault_t fault;

    uv_timer_t timer; /* the timeout; also defers a result found inside start */
    bool timer_open;
    uv_getaddrinfo_t gai;
    bool gai_active;
    struct addrinfo *res;  /* from uv_getaddrinfo, freed with the connector */
    struct addrinfo *next; /* the next address to try */
    struct addrinfo numeric;
    struct sockaddr_storage numeric_sa;
    uv_poll_t poll; /* watches fd while its connect is in progress */
    bool poll_open;
    int fd;       /* the socket being connected, -1 when none */
    int last_err; /* errno of the last failed address */
};

/* Drops one reference (a handle, a request, a callback in progress); the
 * last one frees.  A callback that reports (deliver/report) runs while its
 * own request still holds a reference, so the caller's release after it is
 * never the one that frees twice; noinline keeps GCC's -Wuse-after-free,
 * which cannot see that count, from flagging the inlined copies at -O3. */
__attribute__((noinline)) static void release(espfab_port_connector_t *c)
{
    assert(c->pending > 0);
    c->pending--;
    if (c->pending == 0 && c->reported) {
        if (c->res)
            uv_freeaddrinfo(c->res);
        free(c);
    }
}

static void on_handle_closed(uv_handle_t *h) { release(h->data); }

/* Stops watching the socket (uv_close stops the poll at once, so the fd may
 * be closed or handed on right after); the close callback comes later. */
static void unwatch(espfab_port_connector_t *c, uv_close_cb done)
{
    if (c->poll_open && !uv_is_closing((uv_handle_t *)&c->poll))
        uv_close((uv_handle_t *)&c->poll, done);
}

/* Closes what is open and cancels what can be; release() frees the
 * connector once the last of it is back. */
static void teardown(espfab_port_connector_t *c)
{
    if (c->timer_open && !uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    unwatch(c, on_handle_closed);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->gai_active)
        (void)uv_cancel((uv_req_t *)&c->gai);
}

static void deliver(espfab_port_connector_t *c, int fd)
{
    c->reported = true;
    c->pending++; /* c stays valid through the callback */
    c->cb(fd, &c->fault, c->data);
    teardown(c);
    release(c);
}

static void on_deferred(uv_timer_t *t) { deliver(t->data, -1); }

/* Reports a failure (fault filled): from the loop now, or, inside the start
 * call, on the next loop turn. */
static void fail(espfab_port_connector_t *c)
{
    if (c->reported)
        return;
    if (c->starting && c->timer_open) {
        uv_timer_start(&c->timer, on_deferred, 0, 0);
        return;
    }
    deliver(c, -1);
}

static void fail_connect(espfab_port_connector_t *c, int e)
{
    char why[64] = "";
    if (e == ECONNREFUSED)
        snprintf(why, sizeof(why), " (nothing listens on that port)");
    else if (e == ETIMEDOUT && c->timeout_ms % 1000 == 0)
        snprintf(why, sizeof(why), " (no answer within %u s)", c->timeout_ms / 1000);
    else if (e == ETIMEDOUT)
        snprintf(why, sizeof(why), " (no answer within %u ms)", c->timeout_ms);
    espfab_fault_errno(&c->fault, ESPFAB_E_PORT_TCP_CONNECT, e, "%s: connect failed%s", c->name,
                       why);
    fail(c);
}

static void on_writable(uv_poll_t *h, int status, int events);
static void on_poll_closed(uv_handle_t *h);

/* Starts connecting to the next address; one that fails at once moves on to
 * the one after.  With no address left, fails with the last error. */
static void try_next(espfab_port_connector_t *c)
{
    while (c->next) {
        const struct addrinfo *ai = c->next;
        c->next = ai->ai_next;
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->last_err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            c->last_err = errno;
            close(fd);
            continue;
        }
        /* connected or in progress: writable says which way it went */
        int r = uv_poll_init(c->loop, &c->poll, fd);
        if (r < 0) { /* no handle was made */
            c->last_err = -r;
            close(fd);
            continue;
        }
        r = uv_poll_start(&c->poll, UV_WRITABLE, on_writable);
        if (r < 0) { /* the next address once the handle is closed */
            c->last_err = -r;
            close(fd);
            c->poll.data = c;
            c->poll_open = true;
            c->pending++;
            uv_close((uv_handle_t *)&c->poll, on_poll_closed);
            return;
        }
        c->poll.data = c;
        c->poll_open = true;
        c->pending++;
        c->fd = fd;
        return;
    }
    fail_connect(c, c->last_err ? c->last_err : ECONNREFUSED);
}

static void on_poll_closed(uv_handle_t *h)
{
    espfab_port_connector_t *c = h->data;
    c->poll_open = false;
    if (!c->reported)
        try_next(c);
    release(c);
}

static void on_writable(uv_poll_t *h, int status, int events)
{
    (void)events;
    espfab_port_connector_t *c = h->data;
    if (c->reported)
        return;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        soerr = errno;
    if (soerr == 0 && status < 0)
        soerr = -status;
    if (soerr == EINPROGRESS || soerr == EALREADY)
        return; /* not decided yet */
    int fd = c->fd;
    c->fd = -1;
    unwatch(c, on_poll_closed);
    if (soerr != 0) {
        c->last_err = soerr;
        close(fd); /* the next address is tried once the handle is closed */
        return;
    }
    deliver(c, fd);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    espfab_port_connector_t *c = req->data;
    c->gai_active = false;
    c->res = res;
    if (!c->reported) {
        if (status < 0 || !res) {
            espfab_fault_set(&c->fault, ESPFAB_E_PORT_TCP_CONNECT,
                             "%s: cannot resolve host '%s': %s", c->name, c->spec.host,
                             uv_strerror(status < 0 ? status : UV_EAI_NONAME));
            fail(c);
        } else {
            c->next = res;
            try_next(c);
        }
    }
    release(c);
}

static void on_timeout(uv_timer_t *t)
{
    espfab_port_connector_t *c = t->data;
    fail_connect(c, ETIMEDOUT);
}

/* An address needs no lookup. */
static bool numeric_host(espfab_port_connector_t *c)
{
    const espfab_port_spec_t *s = &c->spec;
    struct sockaddr_storage *sa = &c->numeric_sa;
    if (uv_ip4_addr(s->host, s->tcp_port, (struct sockaddr_in *)sa) == 0)
        c->numeric.ai_addrlen = sizeof(struct sockaddr_in);
    else if (uv_ip6_addr(s->host, s->tcp_port, (struct sockaddr_in6 *)sa) == 0)
        c->numeric.ai_addrlen = sizeof(struct sockaddr_in6);
    else
        return false;
    c->numeric.ai_family = sa->ss_family;
    c->numeric.ai_socktype = SOCK_STREAM;
    c->numeric.ai_addr = (struct sockaddr *)sa;
    c->numeric.ai_next = NULL;
    return true;
}

static int start(espfab_port_connector_t *c, espfab_fault_t *f)
{
    int r = uv_timer_init(c->loop, &c->timer);
    if (r < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: uv_timer_init: %s", c->name,
                                uv_strerror(r));
    c->timer.data = c;
    c->timer_open = true;
    c->pending++;
    uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
    if (numeric_host(c)) {
        c->next = &c->numeric;
        try_next(c);
        return 0;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)c->spec.tcp_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    c->gai.data = c;
    r = uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->spec.host, port, &hints);
    if (r < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: cannot resolve host '%s': %s",
                                c->name, c->spec.host, uv_strerror(r));
    c->gai_active = true;
    c->pending++;
    return 0;
}

int espfab_port__connect_start(uv_loop_t *loop, const espfab_port_spec_t *s, const char *name,
                               unsigned timeout_ms, espfab_port_connect_cb cb, void *data,
                               espfab_port_connector_t **out, espfab_fault_t *f)
{
    if (out)
        *out = NULL;
    if (!loop || !s || s->kind != ESPFAB_PORT_SPEC_TCP || !name || !cb)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port__connect_start");
    espfab_port_connector_t *c = calloc(1, sizeof(*c));
    if (!c)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: allocating the connector", name);
    c->loop = loop;
    c->spec = *s;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->cb = cb;
    c->data = data;
    c->fd = -1;
    c->timeout_ms = timeout_ms ? timeout_ms : ESPFAB_PORT_CONNECT_TIMEOUT_MS;
    espfab_fault_clear(&c->fault);
    c->pending = 1; /* held through the start, so nothing frees c under us */
    c->starting = true;
    int r = start(c, f);
    c->starting = false;
    if (r < 0) {
        c->reported = true; /* no callback: the caller has the error */
        teardown(c);
        release(c);
        return r;
    }
    if (out)
        *out = c;
    release(c);
    return 0;
}

void espfab_port__connect_cancel(espfab_port_connector_t *c)
{
    if (!c || c->reported)
        return;
    c->reported = true;
    c->pending++;
    teardown(c);
    release(c);
}
