/* port_probe.c - is the port there? asked without blocking the loop (see
 * port.h): a device spec is globbed and stat'ed on libuv's thread pool; a
 * TCP spec's host is parsed as an address or resolved with uv_getaddrinfo,
 * then each address is tried with uv_tcp_connect under one timeout.
 *
 * Lifetime: the probe counts its open handles and requests in flight
 * (pending) and frees itself when it has reported (or was cancelled) and
 * pending is 0. */
#include "espfab/port.h"

#include <errno.h>
#include <glob.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROBE_TIMEOUT_MS 3000

struct espfab_port_probe {
    uv_loop_t *loop;
    espfab_port_spec_t spec;
    char name[270]; /* the spec as text, for messages */
    espfab_port_probe_cb cb;
    void *data;
    bool reported;  /* cb fired, or the probe was cancelled */
    int pending;    /* handles open + requests in flight */
    espfab_fault_t fault; /* written by the device work while it runs, then read here */
    unsigned timeout_ms;

    uv_timer_t timer;
    bool timer_open;
    /* device */
    uv_work_t work;
    bool work_active;
    int work_status;
    /* TCP */
    uv_getaddrinfo_t gai;
    bool gai_active;
    struct addrinfo *res;  /* from uv_getaddrinfo, freed with the probe */
    struct addrinfo *next; /* the next address to try */
    struct addrinfo numeric;
    struct sockaddr_storage numeric_sa;
    uv_tcp_t tcp;
    bool tcp_open;
    uv_connect_t connect;
    int last_err; /* libuv code of the last failed connect */
};

static void release(espfab_port_probe_t *pr)
{
    pr->pending--;
    if (pr->pending == 0 && pr->reported) {
        if (pr->res)
            uv_freeaddrinfo(pr->res);
        free(pr);
    }
}

static void on_handle_closed(uv_handle_t *h) { release(h->data); }

/* Closes what is open and cancels what can be; release() frees the probe
 * once the last of it is back. */
static void teardown(espfab_port_probe_t *pr)
{
    if (pr->timer_open && !uv_is_closing((uv_handle_t *)&pr->timer))
        uv_close((uv_handle_t *)&pr->timer, on_handle_closed);
    if (pr->tcp_open && !uv_is_closing((uv_handle_t *)&pr->tcp))
        uv_close((uv_handle_t *)&pr->tcp, on_handle_closed);
    if (pr->gai_active)
        (void)uv_cancel((uv_req_t *)&pr->gai);
    if (pr->work_active) /* fails harmlessly once the work is running */
        (void)uv_cancel((uv_req_t *)&pr->work);
}

static void report(espfab_port_probe_t *pr, int status)
{
    if (pr->reported)
        return;
    pr->reported = true;
    pr->pending++; /* the callback may cancel nothing: pr stays valid through it */
    if (pr->cb)
        pr->cb(pr, status, &pr->fault, pr->data);
    teardown(pr);
    release(pr);
}

/* ---- device ---- */

/* Thread pool: glob and stat only; the result goes to work_status/fault. */
static void device_work(uv_work_t *w)
{
    espfab_port_probe_t *pr = w->data;
    const char *path = pr->spec.path;
    glob_t g;
    int code = 0;
    if (pr->spec.is_glob) {
        memset(&g, 0, sizeof(g));
        int r = glob(path, 0, NULL, &g);
        if (r != 0 || g.gl_pathc == 0)
            code = espfab_fault_set(&pr->fault, ESPFAB_E_PORT_NOT_FOUND,
                                    "%s: nothing plugged in there (no path matches)", pr->name);
        else if (g.gl_pathc > 1)
            code = espfab_fault_set(&pr->fault, ESPFAB_E_PORT_BAD_SPEC,
                                    "%s matches %zu ports (%s, %s...); name exactly one", pr->name,
                                    (size_t)g.gl_pathc, g.gl_pathv[0], g.gl_pathv[1]);
        else
            path = g.gl_pathv[0];
    }
    struct stat st;
    if (code == 0 && stat(path, &st) != 0)
        code = espfab_fault_errno(&pr->fault, ESPFAB_E_PORT_NOT_FOUND, errno,
                                  "%s: nothing plugged in there", pr->name);
    if (pr->spec.is_glob)
        globfree(&g);
    pr->work_status = code;
}

static void device_done(uv_work_t *w, int status)
{
    espfab_port_probe_t *pr = w->data;
    pr->work_active = false;
    if (status == 0)
        report(pr, pr->work_status);
    release(pr);
}

/* ---- TCP ---- */

static int try_next(espfab_port_probe_t *pr, espfab_fault_t *f);

static void tcp_closed(uv_handle_t *h)
{
    espfab_port_probe_t *pr = h->data;
    pr->tcp_open = false;
    if (!pr->reported) {
        if (pr->next) {
            if (try_next(pr, &pr->fault) < 0)
                report(pr, ESPFAB_E_PORT_TCP_CONNECT);
        } else {
            int e = -pr->last_err;
            espfab_fault_errno(&pr->fault, ESPFAB_E_PORT_TCP_CONNECT, e, "%s: connect failed%s",
                               pr->name,
                               e == ECONNREFUSED ? " (nothing listens on that port)" : "");
            report(pr, ESPFAB_E_PORT_TCP_CONNECT);
        }
    }
    release(pr);
}

static void on_connect(uv_connect_t *req, int status)
{
    espfab_port_probe_t *pr = req->data;
    if (!pr->reported) {
        if (status == 0) {
            report(pr, 0);
        } else {
            pr->last_err = status;
            uv_close((uv_handle_t *)&pr->tcp, tcp_closed); /* then the next address */
        }
    }
    release(pr);
}

/* Connects to the next address; a connect that fails at once goes through
 * the same close path as one that fails later.  Returns 0, or an error code
 * with f filled when no handle could be made (nothing left pending). */
static int try_next(espfab_port_probe_t *pr, espfab_fault_t *f)
{
    const struct addrinfo *ai = pr->next;
    pr->next = ai->ai_next;
    int r = uv_tcp_init(pr->loop, &pr->tcp);
    if (r < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: uv_tcp_init: %s", pr->name,
                                uv_strerror(r));
    pr->tcp.data = pr;
    pr->tcp_open = true;
    pr->pending++;
    pr->connect.data = pr;
    r = uv_tcp_connect(&pr->connect, &pr->tcp, ai->ai_addr, on_connect);
    if (r == 0) {
        pr->pending++;
        return 0;
    }
    pr->last_err = r;
    uv_close((uv_handle_t *)&pr->tcp, tcp_closed);
    return 0;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    espfab_port_probe_t *pr = req->data;
    pr->gai_active = false;
    pr->res = res;
    if (!pr->reported) {
        if (status < 0 || !res) {
            espfab_fault_set(&pr->fault, ESPFAB_E_PORT_TCP_CONNECT,
                             "%s: cannot resolve host '%s': %s", pr->name, pr->spec.host,
                             uv_strerror(status));
            report(pr, ESPFAB_E_PORT_TCP_CONNECT);
        } else {
            pr->next = res;
            if (try_next(pr, &pr->fault) < 0)
                report(pr, ESPFAB_E_PORT_TCP_CONNECT);
        }
    }
    release(pr);
}

static void timed_out(uv_timer_t *t)
{
    espfab_port_probe_t *pr = t->data;
    espfab_fault_errno(&pr->fault, ESPFAB_E_PORT_TCP_CONNECT, ETIMEDOUT,
                       "%s: no answer within %u ms", pr->name, pr->timeout_ms);
    report(pr, ESPFAB_E_PORT_TCP_CONNECT);
}

/* An address needs no lookup. */
static bool numeric_host(espfab_port_probe_t *pr)
{
    const espfab_port_spec_t *s = &pr->spec;
    struct sockaddr_storage *sa = &pr->numeric_sa;
    if (uv_ip4_addr(s->host, s->tcp_port, (struct sockaddr_in *)sa) == 0) {
        pr->numeric.ai_addrlen = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(s->host, s->tcp_port, (struct sockaddr_in6 *)sa) == 0) {
        pr->numeric.ai_addrlen = sizeof(struct sockaddr_in6);
    } else {
        return false;
    }
    pr->numeric.ai_family = sa->ss_family;
    pr->numeric.ai_socktype = SOCK_STREAM;
    pr->numeric.ai_addr = (struct sockaddr *)sa;
    pr->numeric.ai_next = NULL;
    return true;
}

static int start_tcp(espfab_port_probe_t *pr, unsigned timeout_ms, espfab_fault_t *f)
{
    int r = uv_timer_init(pr->loop, &pr->timer);
    if (r < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: uv_timer_init: %s", pr->name,
                                uv_strerror(r));
    pr->timer.data = pr;
    pr->timer_open = true;
    pr->pending++;
    pr->timeout_ms = timeout_ms;
    uv_timer_start(&pr->timer, timed_out, timeout_ms, 0);
    if (numeric_host(pr)) {
        pr->next = &pr->numeric;
        return try_next(pr, f);
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)pr->spec.tcp_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    pr->gai.data = pr;
    r = uv_getaddrinfo(pr->loop, &pr->gai, resolved, pr->spec.host, port, &hints);
    if (r < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_TCP_CONNECT, "%s: cannot resolve host '%s': %s",
                                pr->name, pr->spec.host, uv_strerror(r));
    pr->gai_active = true;
    pr->pending++;
    return 0;
}

/* ---- public ---- */

int espfab_port_probe_start(uv_loop_t *loop, const espfab_port_spec_t *spec, unsigned timeout_ms,
                            espfab_port_probe_cb cb, void *data, espfab_port_probe_t **out,
                            espfab_fault_t *f)
{
    if (out)
        *out = NULL;
    if (!loop || !spec || !cb)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port_probe_start");
    espfab_port_probe_t *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "port probe");
    pr->loop = loop;
    pr->spec = *spec;
    pr->cb = cb;
    pr->data = data;
    espfab_fault_clear(&pr->fault);
    if (spec->kind == ESPFAB_PORT_SPEC_TCP)
        snprintf(pr->name, sizeof(pr->name), "tcp://%s%s%s:%u", strchr(spec->host, ':') ? "[" : "",
                 spec->host, strchr(spec->host, ':') ? "]" : "", (unsigned)spec->tcp_port);
    else
        snprintf(pr->name, sizeof(pr->name), "%s", spec->path);
    /* One reference held through the start, so nothing frees pr under us. */
    pr->pending = 1;
    int r;
    if (spec->kind == ESPFAB_PORT_SPEC_TCP) {
        r = start_tcp(pr, timeout_ms ? timeout_ms : PROBE_TIMEOUT_MS, f);
    } else {
        pr->work.data = pr;
        r = uv_queue_work(loop, &pr->work, device_work, device_done);
        if (r < 0) {
            r = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: uv_queue_work: %s", pr->name,
                                 uv_strerror(r));
        } else {
            pr->work_active = true;
            pr->pending++;
        }
    }
    if (r < 0) {
        pr->reported = true; /* no callback: the caller has the error */
        pr->cb = NULL;
        teardown(pr);
        release(pr);
        return r;
    }
    if (out)
        *out = pr;
    release(pr);
    return 0;
}

void espfab_port_probe_cancel(espfab_port_probe_t *pr)
{
    if (!pr || pr->reported)
        return;
    pr->reported = true;
    pr->cb = NULL;
    pr->pending++;
    teardown(pr);
    release(pr);
}
