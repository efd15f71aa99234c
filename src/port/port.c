/* port.c - the port core shared by every backend: the uv_poll handle, the
 * write queue, reads and the one failure callback (see port.h).  It reaches
 * its backend only through the operations table (port_backend.h) and knows
 * none by name; choosing one is port_open.c's. */
#include "port/port_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define READS_PER_EVENT 8

/* ---- lifetime ---- */

static void free_writes(espfab_port_t *p)
{
    port_wreq *w = p->wq_head;
    while (w) {
        port_wreq *next = w->next;
        free(w);
        w = next;
    }
    p->wq_head = p->wq_tail = NULL;
    p->wq_bytes = 0;
}

static void release(espfab_port_t *p)
{
    p->ops->close(&p->c);
    p->c.fd = -1;
    free_writes(p);
    free(p);
}

int espfab_port__open_with(uv_loop_t *loop, const espfab_port_ops_t *ops, const char *name,
                           const espfab_port_spec_t *spec, const char *path, const char *real,
                           int fd, uint32_t baud, espfab_port_t **out, espfab_fault_t *f)
{
    *out = NULL;
    espfab_port_t *p = calloc(1, sizeof(*p));
    if (!p) {
        if (fd >= 0)
            close(fd);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: allocating the port", name);
    }
    p->loop = loop;
    p->ops = ops;
    p->c.fd = fd;
    snprintf(p->c.name, sizeof(p->c.name), "%s", name);
    snprintf(p->c.path, sizeof(p->c.path), "%s", path);
    snprintf(p->c.real, sizeof(p->c.real), "%s", real);
    espfab_fault_clear(&p->fault);
    int r = ops->open(&p->c, spec, baud, f);
    if (r == 0) {
        r = uv_poll_init(loop, &p->poll, p->c.fd);
        if (r < 0)
            r = espfab_fault_errno(f, ESPFAB_E_PORT_OPEN_FAILED, -r,
                                   "%s: cannot watch the fd on the event loop (%s)", name,
                                   uv_strerror(r));
    }
    if (r != 0) {
        release(p);
        return r;
    }
    p->poll.data = p;
    p->attached = true;
    p->baud = baud;
    *out = p;
    return 0;
}

static void fail(espfab_port_t *p, int code, int err, const char *what);

static void on_poll(uv_poll_t *h, int status, int events);

static void update_poll(espfab_port_t *p)
{
    if (!p->attached || p->closing)
        return;
    int ev = 0;
    if (!p->failed) {
        if (p->reading)
            ev |= UV_READABLE | p->ops->poll_extra;
        if (p->wq_head)
            ev |= UV_WRITABLE;
    }
    if (ev == p->poll_events)
        return;
    if (ev) {
        int r = uv_poll_start(&p->poll, ev, on_poll);
        if (r < 0) {
            p->poll_events = 0;
            fail(p, ESPFAB_E_PORT_VANISHED, -r, "cannot poll the fd");
            return;
        }
    } else {
        uv_poll_stop(&p->poll);
    }
    p->poll_events = ev;
}

/* Fails the port once: fault built, pending writes completed with the code,
 * then the read callback (if reading) gets n < 0. */
static void fail(espfab_port_t *p, int code, int err, const char *what)
{
    if (p->failed || p->closing)
        return;
    p->failed = true;
    if (p->attached && p->poll_events) {
        uv_poll_stop(&p->poll);
        p->poll_events = 0;
    }
    char whatbuf[160];
    snprintf(whatbuf, sizeof(whatbuf), "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
    if (code == ESPFAB_E_PORT_WRITE || code == ESPFAB_E_PORT_READ)
        espfab_fault_errno(&p->fault, code, err, "%s: %s", p->c.name, whatbuf);
    else
        p->ops->diagnose(&p->c, &p->fault, code, err, whatbuf);
    while (p->wq_head && !p->closing) {
        port_wreq *w = p->wq_head;
        p->wq_head = w->next;
        if (!p->wq_head)
            p->wq_tail = NULL;
        p->wq_bytes -= w->len - w->off;
        if (w->cb)
            w->cb(p, code, w->data);
        free(w);
    }
    if (p->closing)
        return;
    if (p->reading && p->read_cb) {
        p->reading = false;
        p->read_cb(p, NULL, code, &p->fault, p->read_data);
    }
}

/* Fails the port for a failed io (errno err, 0 for EOF) as its backend
 * classifies it. */
static void fail_io(espfab_port_t *p, espfab_port_io_t io, int err, const char *what)
{
    int code = p->ops->classify(io, &err);
    fail(p, code, err, what);
}

static void drain_writes(espfab_port_t *p)
{
    while (p->wq_head && !p->closing && !p->failed) {
        port_wreq *w = p->wq_head;
        ssize_t n = 0;
        if (w->len > w->off) {
            n = p->ops->send(p->c.fd, w->buf + w->off, w->len - w->off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                fail_io(p, ESPFAB_PORT_IO_WRITE, errno, "write");
                return;
            }
            w->off += (size_t)n;
            p->wq_bytes -= (size_t)n;
        }
        if (w->off < w->len)
            break; /* partial write: wait for writable */
        p->wq_head = w->next;
        if (!p->wq_head)
            p->wq_tail = NULL;
        if (w->cb)
            w->cb(p, 0, w->data);
        free(w);
    }
}

static void do_reads(espfab_port_t *p)
{
    uint8_t buf[READ_CHUNK];
    for (int i = 0; i < READS_PER_EVENT && p->reading && !p->closing && !p->failed; i++) {
        ssize_t n = read(p->c.fd, buf, sizeof(buf));
        if (n > 0) {
            p->read_cb(p, buf, n, NULL, p->read_data);
            if ((size_t)n < sizeof(buf))
                break;
            continue;
        }
        if (n == 0) {
            fail_io(p, ESPFAB_PORT_IO_EOF, 0, p->ops->eof_what);
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        fail_io(p, ESPFAB_PORT_IO_READ, errno, "read");
        return;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    espfab_port_t *p = h->data;
    if (p->closing || p->failed)
        return;
    if (status < 0) {
        /* libuv reports POLLERR as UV_EBADF; the fd is dead either way. */
        fail_io(p, ESPFAB_PORT_IO_POLL, -status, p->ops->poll_error_what);
        return;
    }
    if (events & UV_WRITABLE)
        drain_writes(p);
    if ((events & (UV_READABLE | UV_DISCONNECT)) && p->reading)
        do_reads(p);
    update_poll(p);
}

/* ---- public API ---- */

int espfab_port_read_start(espfab_port_t *p, espfab_port_read_cb cb, void *data)
{
    if (!p || !cb)
        return ESPFAB_E_INVALID_ARG;
    if (p->closing)
        return ESPFAB_E_INVALID_ARG;
    if (p->failed)
        return p->fault.code;
    p->read_cb = cb;
    p->read_data = data;
    p->reading = true;
    update_poll(p);
    return p->failed ? p->fault.code : 0;
}

int espfab_port_read_stop(espfab_port_t *p)
{
    if (!p)
        return ESPFAB_E_INVALID_ARG;
    p->reading = false;
    update_poll(p);
    return 0;
}

int espfab_port_write(espfab_port_t *p, const uint8_t *buf, size_t n, espfab_port_write_cb cb,
                      void *data)
{
    if (!p || (!buf && n))
        return ESPFAB_E_INVALID_ARG;
    if (p->closing)
        return ESPFAB_E_INVALID_ARG;
    if (p->failed)
        return p->fault.code;
    port_wreq *w = malloc(sizeof(*w) + n);
    if (!w)
        return ESPFAB_E_NOMEM;
    w->next = NULL;
    w->cb = cb;
    w->data = data;
    w->len = n;
    w->off = 0;
    if (n)
        memcpy(w->buf, buf, n);
    if (p->wq_tail)
        p->wq_tail->next = w;
    else
        p->wq_head = w;
    p->wq_tail = w;
    p->wq_bytes += n;
    update_poll(p);
    return 0;
}

size_t espfab_port_write_queued(const espfab_port_t *p) { return p ? p->wq_bytes : 0; }

int espfab_port_set_baud(espfab_port_t *p, uint32_t baud, espfab_fault_t *f)
{
    if (!p)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port_set_baud: port is NULL");
    if (baud == 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, "%s: baud 0", p->c.name);
    int r = p->ops->set_baud ? p->ops->set_baud(&p->c, baud, f) : 0;
    if (r == 0)
        p->baud = baud;
    return r;
}

uint32_t espfab_port_baud(const espfab_port_t *p) { return p ? p->baud : 0; }

bool espfab_port_has_modem_lines(const espfab_port_t *p) { return p && p->c.modem_lines; }

int espfab_port_set_lines(espfab_port_t *p, int dtr, int rts)
{
    if (!p)
        return ESPFAB_E_INVALID_ARG;
    if (!p->c.modem_lines || !p->ops->set_lines || p->c.fd < 0)
        return ESPFAB_E_PORT_NO_MODEM_LINES;
    if (dtr < 0 && rts < 0)
        return 0;
    return p->ops->set_lines(&p->c, dtr, rts);
}

int espfab_port_flush_input(espfab_port_t *p)
{
    if (!p || p->c.fd < 0)
        return ESPFAB_E_INVALID_ARG;
    return p->ops->flush_input(&p->c);
}

const char *espfab_port_name(const espfab_port_t *p) { return p ? p->c.name : ""; }

espfab_port_kind_t espfab_port_kind(const espfab_port_t *p)
{
    return p ? p->ops->kind : ESPFAB_PORT_TTY;
}

int espfab_port_fd(const espfab_port_t *p) { return p ? p->c.fd : -1; }

const espfab_fault_t *espfab_port_fault(const espfab_port_t *p)
{
    return p && p->failed ? &p->fault : NULL;
}

int espfab_port_usb_id(const espfab_port_t *p, int *vid, int *pid)
{
    int v = -1, d = -1;
    if (!p || !p->ops->usb_id || p->ops->usb_id(&p->c, &v, &d) != 0)
        return -1;
    if (vid)
        *vid = v;
    if (pid)
        *pid = d;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    espfab_port_t *p = h->data;
    espfab_port_close_cb cb = p->close_cb;
    void *data = p->close_data;
    p->ops->close(&p->c);
    if (cb)
        cb(p, data); /* handles are closed; p is freed right after */
    free(p);
}

void espfab_port_close(espfab_port_t *p, espfab_port_close_cb cb, void *data)
{
    if (!p || p->closing)
        return;
    p->closing = true;
    p->reading = false;
    p->close_cb = cb;
    p->close_data = data;
    free_writes(p);
    if (p->attached) {
        if (p->poll_events)
            uv_poll_stop(&p->poll);
        p->poll_events = 0;
        uv_close((uv_handle_t *)&p->poll, on_closed);
    } else {
        p->ops->close(&p->c);
        if (cb)
            cb(p, data);
        free(p);
    }
}
