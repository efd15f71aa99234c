/* port_probe.c - is the port there? asked without blocking the loop (see
 * port.h): a device spec is globbed and stat'ed on libuv's thread pool; a
 * TCP spec goes through the port module's one connector (port_connect.c),
 * whose connected socket the probe closes at once.
 *
 * Lifetime: the probe counts its requests in flight (pending) and frees
 * itself when it has reported (or was cancelled) and pending is 0; a
 * connector it cancels frees itself. */
#include "espfab/port.h"
#include "port/port_connect.h"

#include <assert.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct espfab_port_probe {
    uv_loop_t *loop;
    espfab_port_spec_t spec;
    char name[270]; /* the spec as text, for messages */
    espfab_port_probe_cb cb;
    void *data;
    bool reported;  /* cb fired, or the probe was cancelled */
    int pending;    /* requests in flight */
    espfab_fault_t fault; /* written by the device work while it runs, then read here */

    /* device */
    uv_work_t work;
    bool work_active;
    int work_status;
    /* TCP */
    espfab_port_connector_t *conn; /* until its callback fires */
};

/* Drops one reference (a handle, a request, a callback in progress); the
 * last one frees.  A callback that reports (deliver/report) runs while its
 * own request still holds a reference, so the caller's release after it is
 * never the one that frees twice; noinline keeps GCC's -Wuse-after-free,
 * which cannot see that count, from flagging the inlined copies at -O3. */
__attribute__((noinline)) static void release(espfab_port_probe_t *pr)
{
    assert(pr->pending > 0);
    pr->pending--;
    if (pr->pending == 0 && pr->reported)
        free(pr);
}

/* Cancels what can be; release() frees the probe once the last of it is
 * back. */
static void teardown(espfab_port_probe_t *pr)
{
    espfab_port__connect_cancel(pr->conn);
    pr->conn = NULL;
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

static void connected(int fd, const espfab_fault_t *f, void *data)
{
    espfab_port_probe_t *pr = data;
    pr->conn = NULL; /* it frees itself after this */
    if (fd >= 0) {
        close(fd); /* the server is there: that is all the probe asks */
        report(pr, 0);
        return;
    }
    pr->fault = *f;
    report(pr, f->code);
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
        r = espfab_port__connect_start(loop, spec, pr->name, timeout_ms, connected, pr, &pr->conn,
                                       f);
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
