/* port_open.c - opening by spec, in one place: parses the spec, resolves a
 * device path (glob, stat, what kind of node), picks the backend and lets
 * the port core open the port with it; a TCP spec is first connected by the
 * module's one connector (port_connect.c).  The result reaches the caller
 * from the loop (see port.h).
 *
 * Lifetime: a request is freed right after its callback returns, or when
 * cancelled: at once while its connector runs (the connector cleans up
 * after itself), from its timer's close callback once a device open has
 * completed (the port it opened is closed). */
#include "port/port_connect.h"
#include "port/port_internal.h"

#include <assert.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Resolves a device spec to the node to open (a glob must match exactly
 * one), checks it is a character device, and picks the backends to try. */
static int resolve_device(const char *spec, const espfab_port_spec_t *s, char *path,
                          size_t pathlen, char *real, size_t reallen, bool *use_sp,
                          espfab_fault_t *f)
{
    const char *path0 = s->path;
    snprintf(path, pathlen, "%s", path0);
    if (s->is_glob) {
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
        snprintf(path, pathlen, "%s", g.gl_pathv[0]);
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
    char rp[PATH_MAX];
    snprintf(real, reallen, "%s", realpath(path, rp) ? rp : path);
    /* libserialport 0.1.1 only knows ports listed in /sys/class/tty with a
     * device behind them; everything else (ptys, virtual ttys) uses termios. */
    const char *base = strrchr(real, '/');
    base = base ? base + 1 : real;
    char sys[PATH_MAX + 64];
    snprintf(sys, sizeof(sys), "/sys/class/tty/%s/device", base);
    *use_sp = strncmp(real, "/dev/pts/", 9) != 0 && access(sys, F_OK) == 0;
    return 0;
}

/* Opens a device spec now (a local node: fast); fills *out or f. */
static int open_device(uv_loop_t *loop, const char *spec, const espfab_port_spec_t *s,
                       uint32_t baud, espfab_port_t **out, espfab_fault_t *f)
{
    char path[PATH_MAX], real[PATH_MAX];
    bool use_sp = false;
    int r = resolve_device(spec, s, path, sizeof(path), real, sizeof(real), &use_sp, f);
    if (r < 0)
        return r;
    /* The serial backend declines a port libserialport does not know. */
    r = ESPFAB_PORT_DECLINED;
    if (use_sp)
        r = espfab_port__open_with(loop, &espfab_port_serial_ops, spec, s, path, real, -1, baud,
                                   out, f);
    if (r == ESPFAB_PORT_DECLINED)
        r = espfab_port__open_with(loop, &espfab_port_termios_ops, spec, s, path, real, -1, baud,
                                   out, f);
    if (r != 0)
        *out = NULL;
    return r;
}

struct espfab_port_open_req {
    uv_loop_t *loop;
    espfab_port_spec_t spec;
    char name[256]; /* the spec as given */
    uint32_t baud;
    espfab_port_open_cb cb;
    void *data;
    bool done; /* the callback fired, or the request was cancelled */
    /* TCP: the connect in flight (NULL once it has called back) */
    espfab_port_connector_t *conn;
    /* device: opened in the start call, handed over from the loop */
    uv_timer_t defer;
    bool defer_open;
    espfab_port_t *port;
    espfab_fault_t fault;
};

static void free_req(uv_handle_t *h) { free(h->data); }

/* Hands the outcome to the caller (the port is theirs from here). */
static void deliver(espfab_port_open_req_t *r, espfab_port_t *p, const espfab_fault_t *f)
{
    assert(!r->done);
    r->done = true;
    r->port = NULL;
    r->cb(p, f, r->data);
}

static void on_defer(uv_timer_t *t)
{
    espfab_port_open_req_t *r = t->data;
    deliver(r, r->port, &r->fault);
    uv_close((uv_handle_t *)&r->defer, free_req);
}

static void on_connected(int fd, const espfab_fault_t *cf, void *data)
{
    espfab_port_open_req_t *r = data;
    r->conn = NULL; /* it frees itself after this */
    espfab_port_t *p = NULL;
    espfab_fault_t f;
    espfab_fault_clear(&f);
    if (fd < 0)
        f = *cf;
    else if (espfab_port__open_with(r->loop, &espfab_port_tcp_ops, r->name, &r->spec, r->name, "",
                                    fd, r->baud, &p, &f) != 0)
        p = NULL;
    deliver(r, p, &f);
    free(r);
}

int espfab_port_open_start(uv_loop_t *loop, const char *spec, uint32_t baud,
                           espfab_port_open_cb cb, void *data, espfab_port_open_req_t **out,
                           espfab_fault_t *f)
{
    espfab_fault_clear(f);
    if (out)
        *out = NULL;
    if (!loop || !cb)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_port_open_start: %s is NULL",
                                loop ? "the callback" : "the loop");
    if (baud == 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, "%s: baud 0", spec ? spec : "?");
    espfab_port_spec_t s;
    int rc = espfab_port_spec_parse(spec, &s, f);
    if (rc < 0)
        return rc;
    espfab_port_open_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: allocating the open request", spec);
    r->loop = loop;
    r->spec = s;
    snprintf(r->name, sizeof(r->name), "%s", spec);
    r->baud = baud;
    r->cb = cb;
    r->data = data;
    espfab_fault_clear(&r->fault);
    if (s.kind == ESPFAB_PORT_SPEC_TCP) {
        rc = espfab_port__connect_start(loop, &s, r->name, 0, on_connected, r, &r->conn, f);
        if (rc < 0) {
            free(r);
            return rc;
        }
    } else {
        rc = uv_timer_init(loop, &r->defer);
        if (rc < 0) {
            free(r);
            return espfab_fault_set(f, ESPFAB_E_PORT_OPEN_FAILED, "%s: uv_timer_init: %s", spec,
                                    uv_strerror(rc));
        }
        r->defer.data = r;
        r->defer_open = true;
        (void)open_device(loop, spec, &s, baud, &r->port, &r->fault);
        uv_timer_start(&r->defer, on_defer, 0, 0);
    }
    if (out)
        *out = r;
    return 0;
}

void espfab_port_open_cancel(espfab_port_open_req_t *r)
{
    if (!r || r->done)
        return;
    r->done = true;
    if (r->conn) { /* closes its socket; no callback comes */
        espfab_port__connect_cancel(r->conn);
        free(r);
        return;
    }
    espfab_port_close(r->port, NULL, NULL); /* NULL is ignored */
    r->port = NULL;
    uv_close((uv_handle_t *)&r->defer, free_req);
}
