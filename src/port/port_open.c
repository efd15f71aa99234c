/* port_open.c - opening by spec, in one place: parses the spec, resolves a
 * device path (glob, stat, what kind of node), picks the backend and lets
 * the port core open the port with it (see port.h). */
#include "port/port_internal.h"

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
    espfab_port_spec_t s;
    int r = espfab_port_spec_parse(spec, &s, f);
    if (r < 0)
        return r;
    if (s.kind == ESPFAB_PORT_SPEC_TCP)
        return espfab_port__open_with(loop, &espfab_port_tcp_ops, spec, &s, spec, "", baud, out, f);
    char path[PATH_MAX], real[PATH_MAX];
    bool use_sp = false;
    r = resolve_device(spec, &s, path, sizeof(path), real, sizeof(real), &use_sp, f);
    if (r < 0)
        return r;
    /* The serial backend declines a port libserialport does not know. */
    r = ESPFAB_PORT_DECLINED;
    if (use_sp)
        r = espfab_port__open_with(loop, &espfab_port_serial_ops, spec, &s, path, real, baud, out,
                                   f);
    if (r == ESPFAB_PORT_DECLINED)
        r = espfab_port__open_with(loop, &espfab_port_termios_ops, spec, &s, path, real, baud, out,
                                   f);
    if (r != 0)
        *out = NULL;
    return r;
}
