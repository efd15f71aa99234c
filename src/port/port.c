/* port.c - the port interface shared by the three backends: spec parsing,
 * backend choice, the uv_poll handle, the write queue, reads and the one
 * failure callback (see port.h). */
#include "port/port_internal.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

#define READ_CHUNK 16384
#define READS_PER_EVENT 8

/* ---- spec ---- */

int espfab_port__parse_spec(const char *spec, espfab_port_kind_t *kind, char *out, size_t outlen,
                            int *tcp_port, espfab_fault_t *f)
{
    if (!spec || !spec[0])
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "empty port name");
    size_t len = strlen(spec);
    if (len >= outlen || len >= 250)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                "port name of %zu characters is too long", len);
    for (const char *c = spec; *c; c++)
        if (iscntrl((unsigned char)*c))
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "port name '%.60s' contains a control character", spec);
    if (!strncmp(spec, "tcp://", 6)) {
        const char *h = spec + 6, *colon;
        char host[200];
        if (*h == '[') {
            const char *close = strchr(h, ']');
            if (!close || close[1] != ':')
                return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "%s: expected tcp://[IPv6]:PORT",
                                        spec);
            snprintf(host, sizeof(host), "%.*s", (int)(close - h - 1), h + 1);
            colon = close + 1;
        } else {
            colon = strrchr(h, ':');
            if (!colon)
                return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                        "%s: no port number (expected tcp://HOST:PORT)", spec);
            snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
        }
        if (!host[0])
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "%s: no host (expected tcp://HOST:PORT)", spec);
        const char *ps = colon + 1;
        long v = 0;
        if (!*ps)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "%s: no port number (expected tcp://HOST:PORT)", spec);
        for (const char *c = ps; *c; c++) {
            if (!isdigit((unsigned char)*c) || v > 65535)
                return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                        "%s: port '%s' is not a number from 1 to 65535", spec, ps);
            v = v * 10 + (*c - '0');
        }
        if (v < 1 || v > 65535)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                    "%s: port '%s' is not a number from 1 to 65535", spec, ps);
        *kind = ESPFAB_PORT_TCP;
        *tcp_port = (int)v;
        snprintf(out, outlen, "%s", host);
        return 0;
    }
    const char *scheme = strstr(spec, "://");
    if (scheme)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                "%s: '%.*s://' ports are not supported (only tcp://HOST:PORT)",
                                spec, (int)(scheme - spec), spec);
    if (!strncasecmp(spec, "COM", 3) && spec[3] &&
        strspn(spec + 3, "0123456789") == strlen(spec + 3))
        return espfab_fault_set(
            f, ESPFAB_E_PORT_BAD_SPEC,
            "%s is a Windows port name; on Linux use /dev/ttyUSB0 or /dev/ttyACM0", spec);
    *kind = ESPFAB_PORT_TTY;
    *tcp_port = 0;
    if (!strchr(spec, '/'))
        snprintf(out, outlen, "/dev/%s", spec);
    else
        snprintf(out, outlen, "%s", spec);
    return 0;
}

/* ---- lifetime ---- */

espfab_port_t *espfab_port__new(uv_loop_t *loop, const char *spec, const char *path,
                                espfab_port_kind_t kind)
{
    espfab_port_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->loop = loop;
    p->fd = -1;
    p->kind = kind;
    snprintf(p->name, sizeof(p->name), "%s", spec);
    snprintf(p->path, sizeof(p->path), "%s", path);
    espfab_fault_clear(&p->fault);
    return p;
}

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

static void release_fd(espfab_port_t *p)
{
    /* TIOCEXCL outlives the fd on a pty (the tty stays while the master is
     * open), so give it back explicitly. */
    if (p->fd >= 0 && p->kind != ESPFAB_PORT_TCP && p->exclusive)
        (void)ioctl(p->fd, TIOCNXCL);
    if (p->sp) {
        sp_close(p->sp);
        sp_free_port(p->sp);
        p->sp = NULL;
        p->fd = -1;
    } else if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
}

void espfab_port__discard(espfab_port_t *p)
{
    if (!p)
        return;
    release_fd(p);
    free_writes(p);
    free(p);
}

int espfab_port__attach(espfab_port_t *p, espfab_fault_t *f)
{
    int r = uv_poll_init(p->loop, &p->poll, p->fd);
    if (r < 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_OPEN_FAILED, -r,
                                  "%s: cannot watch the fd on the event loop (%s)", p->name,
                                  uv_strerror(r));
    p->poll.data = p;
    p->attached = true;
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
            ev |= UV_READABLE | (p->kind == ESPFAB_PORT_TCP ? UV_DISCONNECT : 0);
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
    if (p->kind == ESPFAB_PORT_TCP || code == ESPFAB_E_PORT_WRITE || code == ESPFAB_E_PORT_READ) {
        espfab_fault_errno(&p->fault, code, err, "%s: %s", p->name, whatbuf);
    } else {
        struct stat st;
        bool gone = stat(p->path, &st) != 0 && errno == ENOENT;
        espfab_portdiag_list_t now = {.n = 0};
        espfab_portdiag_list_dir("/dev", false, &now);
        espfab_portdiag_vanished(&p->fault, code, err, p->name, p->real[0] ? p->real : p->path,
                                 whatbuf, gone, &p->ttys_at_open, &now);
    }
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

static int classify(const espfab_port_t *p, int err, bool writing)
{
    if (p->kind == ESPFAB_PORT_TCP) {
        if (err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ETIMEDOUT ||
            err == EHOSTUNREACH || err == ENETUNREACH)
            return ESPFAB_E_PORT_CLOSED;
        return writing ? ESPFAB_E_PORT_WRITE : ESPFAB_E_PORT_READ;
    }
    switch (err) {
    case EIO:
    case ENXIO:
    case ENODEV:
    case EPROTO:
    case EBADF:
    case EPIPE:
        return ESPFAB_E_PORT_VANISHED;
    default:
        return writing ? ESPFAB_E_PORT_WRITE : ESPFAB_E_PORT_READ;
    }
}

static void drain_writes(espfab_port_t *p)
{
    while (p->wq_head && !p->closing && !p->failed) {
        port_wreq *w = p->wq_head;
        ssize_t n = 0;
        if (w->len > w->off) {
            if (p->kind == ESPFAB_PORT_TCP)
                n = send(p->fd, w->buf + w->off, w->len - w->off, MSG_NOSIGNAL);
            else
                n = write(p->fd, w->buf + w->off, w->len - w->off);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                int e = errno;
                fail(p, classify(p, e, true), e, "write");
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
        ssize_t n = read(p->fd, buf, sizeof(buf));
        if (n > 0) {
            p->read_cb(p, buf, n, NULL, p->read_data);
            if ((size_t)n < sizeof(buf))
                break;
            continue;
        }
        if (n == 0) {
            if (p->kind == ESPFAB_PORT_TCP)
                fail(p, ESPFAB_E_PORT_CLOSED, 0, "the peer closed the connection");
            else
                fail(p, ESPFAB_E_PORT_VANISHED, 0, "read: the tty was hung up");
            return;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return;
        int e = errno;
        fail(p, classify(p, e, false), e, "read");
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
        int e = -status;
        if (p->kind == ESPFAB_PORT_TCP)
            fail(p, ESPFAB_E_PORT_CLOSED, e, "socket error");
        else
            fail(p, ESPFAB_E_PORT_VANISHED, e == EBADF ? EIO : e, "poll reported an error");
        return;
    }
    if (events & UV_WRITABLE)
        drain_writes(p);
    if ((events & (UV_READABLE | UV_DISCONNECT)) && p->reading)
        do_reads(p);
    update_poll(p);
}

/* ---- public API ---- */

static int open_device(uv_loop_t *loop, const char *spec, const char *path0, uint32_t baud,
                       espfab_port_t **out, espfab_fault_t *f)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", path0);
    if (strpbrk(path0, "*?[")) {
        glob_t g;
        int r = glob(path0, 0, NULL, &g);
        if (r == GLOB_NOMATCH || (r == 0 && g.gl_pathc == 0)) {
            if (r == 0)
                globfree(&g);
            espfab_portdiag_list_t c = {.n = 0};
            espfab_portdiag_candidates(path0, "/dev", &c);
            return espfab_portdiag_not_found(f, spec, path0, &c,
                                             espfab_portdiag_process_running("/proc", "brltty"));
        }
        if (r != 0)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC, "%s: bad pattern", spec);
        if (g.gl_pathc > 1) {
            int code = espfab_fault_set(f, ESPFAB_E_PORT_BAD_SPEC,
                                        "%s matches %zu ports (%s, %s%s); name exactly one", spec,
                                        (size_t)g.gl_pathc, g.gl_pathv[0], g.gl_pathv[1],
                                        g.gl_pathc > 2 ? ", ..." : "");
            globfree(&g);
            return code;
        }
        snprintf(path, sizeof(path), "%s", g.gl_pathv[0]);
        globfree(&g);
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR) {
            espfab_portdiag_list_t c = {.n = 0};
            espfab_portdiag_candidates(path, "/dev", &c);
            if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
                return espfab_fault_errno(f, ESPFAB_E_PORT_NOT_FOUND, ENOENT,
                                          "%s is a dangling link (its device is gone)", spec);
            return espfab_portdiag_not_found(f, spec, path, &c,
                                             espfab_portdiag_process_running("/proc", "brltty"));
        }
        if (e == EACCES) {
            espfab_portdiag_perm_t perm;
            espfab_portdiag_perm_gather(path, &perm);
            return espfab_portdiag_permission(f, spec, &perm);
        }
        return espfab_fault_errno(f, ESPFAB_E_PORT_OPEN_FAILED, e, "%s: stat failed", spec);
    }
    if (!S_ISCHR(st.st_mode))
        return espfab_fault_set(f, ESPFAB_E_PORT_NOT_A_TTY, "%s is a %s, not a serial device", spec,
                                S_ISDIR(st.st_mode)    ? "directory"
                                : S_ISREG(st.st_mode)  ? "regular file"
                                : S_ISFIFO(st.st_mode) ? "FIFO"
                                : S_ISBLK(st.st_mode)  ? "block device"
                                : S_ISSOCK(st.st_mode) ? "socket"
                                                       : "non-character file");
    char real[PATH_MAX];
    if (!realpath(path, real))
        snprintf(real, sizeof(real), "%s", path);
    /* libserialport 0.1.1 only knows ports listed in /sys/class/tty with a
     * device behind them; everything else (ptys, virtual ttys) uses termios. */
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    char sys[PATH_MAX + 64];
    snprintf(sys, sizeof(sys), "/sys/class/tty/%s/device", base);
    bool use_sp = strncmp(real, "/dev/pts/", 9) != 0 && access(sys, F_OK) == 0;
    int r = espfab_port__open_tty(loop, spec, path, baud, use_sp, out, f);
    if (r == 0)
        snprintf((*out)->real, sizeof((*out)->real), "%s", real);
    return r;
}

int espfab_port_open(uv_loop_t *loop, const char *spec, uint32_t baud, espfab_port_t **out,
                     espfab_fault_t *f)
{
    espfab_fault_clear(f);
    if (!out)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port_open: out is NULL");
    *out = NULL;
    if (!loop)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port_open: loop is NULL");
    if (baud == 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, "%s: baud 0", spec ? spec : "?");
    espfab_port_kind_t kind;
    char where[256];
    int tcp_port = 0;
    int r = espfab_port__parse_spec(spec, &kind, where, sizeof(where), &tcp_port, f);
    if (r < 0)
        return r;
    if (kind == ESPFAB_PORT_TCP)
        r = espfab_port__open_tcp(loop, spec, where, tcp_port, out, f);
    else
        r = open_device(loop, spec, where, baud, out, f);
    if (r < 0) {
        *out = NULL;
        return r;
    }
    espfab_port_t *p = *out;
    p->baud = baud;
    if (kind != ESPFAB_PORT_TCP)
        espfab_portdiag_list_dir("/dev", false, &p->ttys_at_open);
    return 0;
}

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
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, "%s: baud 0", p->name);
    if (p->kind == ESPFAB_PORT_TCP) {
        p->baud = baud;
        return 0;
    }
    int r = espfab_port__tty_set_baud(p, baud, f);
    if (r == 0)
        p->baud = baud;
    return r;
}

uint32_t espfab_port_baud(const espfab_port_t *p) { return p ? p->baud : 0; }

bool espfab_port_has_modem_lines(const espfab_port_t *p) { return p && p->modem_lines; }

int espfab_port_set_lines(espfab_port_t *p, int dtr, int rts)
{
    if (!p)
        return ESPFAB_E_INVALID_ARG;
    if (!p->modem_lines || p->fd < 0)
        return ESPFAB_E_PORT_NO_MODEM_LINES;
    if (dtr < 0 && rts < 0)
        return 0;
    int r;
    if (dtr >= 0 && rts >= 0) {
        int bits;
        r = ioctl(p->fd, TIOCMGET, &bits);
        if (r == 0) {
            bits = dtr ? (bits | TIOCM_DTR) : (bits & ~TIOCM_DTR);
            bits = rts ? (bits | TIOCM_RTS) : (bits & ~TIOCM_RTS);
            r = ioctl(p->fd, TIOCMSET, &bits);
        }
    } else {
        int bit = dtr >= 0 ? TIOCM_DTR : TIOCM_RTS;
        int on = dtr >= 0 ? dtr : rts;
        r = ioctl(p->fd, on ? TIOCMBIS : TIOCMBIC, &bit);
    }
    if (r == 0)
        return 0;
    if (errno == ENOTTY || errno == EINVAL)
        return ESPFAB_E_PORT_NO_MODEM_LINES;
    return classify(p, errno, true) == ESPFAB_E_PORT_VANISHED ? ESPFAB_E_PORT_VANISHED
                                                              : ESPFAB_E_PORT_CONFIG;
}

int espfab_port_flush_input(espfab_port_t *p)
{
    if (!p || p->fd < 0)
        return ESPFAB_E_INVALID_ARG;
    if (p->kind == ESPFAB_PORT_TCP) {
        uint8_t buf[4096];
        for (;;) {
            ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0)
                continue;
            if (n < 0 && errno == EINTR)
                continue;
            return 0; /* EAGAIN, or EOF/error left for the reader to report */
        }
    }
    if (tcflush(p->fd, TCIFLUSH) != 0)
        return classify(p, errno, false);
    return 0;
}

const char *espfab_port_name(const espfab_port_t *p) { return p ? p->name : ""; }

espfab_port_kind_t espfab_port_kind(const espfab_port_t *p)
{
    return p ? p->kind : ESPFAB_PORT_TTY;
}

int espfab_port_fd(const espfab_port_t *p) { return p ? p->fd : -1; }

const espfab_fault_t *espfab_port_fault(const espfab_port_t *p)
{
    return p && p->failed ? &p->fault : NULL;
}

int espfab_port_usb_id(const espfab_port_t *p, int *vid, int *pid)
{
    int v = -1, d = -1;
    if (!p || !p->sp || sp_get_port_transport(p->sp) != SP_TRANSPORT_USB ||
        sp_get_port_usb_vid_pid(p->sp, &v, &d) != SP_OK)
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
    release_fd(p);
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
        release_fd(p);
        if (cb)
            cb(p, data);
        free(p);
    }
}
