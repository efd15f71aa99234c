/* port_tty.c - device backends: libserialport for real serial ports, plain
 * termios for ptys and ttys libserialport cannot open; both end with one
 * non-blocking, exclusively held fd handed to port.c. */
#include "port/port_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <libserialport.h>

static const struct {
    uint32_t baud;
    speed_t code;
} std_rates[] = {
    {9600, B9600},       {19200, B19200},     {38400, B38400},     {57600, B57600},
    {74880, 0},          {115200, B115200},   {230400, B230400},   {460800, B460800},
    {500000, B500000},   {576000, B576000},   {921600, B921600},   {1000000, B1000000},
    {1152000, B1152000}, {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000},
    {3000000, B3000000}, {3500000, B3500000}, {4000000, B4000000},
};

static speed_t std_code(uint32_t baud)
{
    for (size_t i = 0; i < sizeof(std_rates) / sizeof(std_rates[0]); i++)
        if (std_rates[i].baud == baud)
            return std_rates[i].code;
    return 0;
}

/* Maps an errno from open() (or libserialport's open) to a diagnosed fault. */
static int open_errno_fault(const char *spec, const char *path, int e, espfab_fault_t *f)
{
    switch (e) {
    case ENOENT: {
        espfab_portdiag_list_t c = {.n = 0};
        espfab_portdiag_candidates(path, "/dev", &c);
        return espfab_portdiag_not_found(f, spec, path, &c,
                                         espfab_portdiag_process_running("/proc", "brltty"));
    }
    case EACCES:
    case EPERM: {
        espfab_portdiag_perm_t perm;
        espfab_portdiag_perm_gather(path, &perm);
        return espfab_portdiag_permission(f, spec, &perm);
    }
    case EBUSY:
    case EWOULDBLOCK: {
        char real[PATH_MAX];
        espfab_portdiag_holder_t h[4];
        if (!realpath(path, real))
            snprintf(real, sizeof(real), "%s", path);
        size_t n = espfab_portdiag_find_holders("/proc", real, h, 4);
        return espfab_portdiag_busy(f, spec, h, n < 4 ? n : 4);
    }
    case ENXIO:
    case ENODEV:
        return espfab_fault_errno(f, ESPFAB_E_PORT_OPEN_FAILED, e,
                                  "%s: the device node exists but no device answers behind it "
                                  "(unplugged, or its driver is gone)",
                                  spec);
    default:
        return espfab_fault_errno(f, ESPFAB_E_PORT_OPEN_FAILED, e, "%s: open failed", spec);
    }
}

/* TIOCEXCL survives its fd on a pty (the tty lives while the master is open),
 * so a process killed while holding a pty leaves it set.  Root (who gets past
 * TIOCEXCL and sees every process in /proc) treats it as stale when the only
 * fd open on the device is the one just opened. */
static bool stale_exclusive(const char *path)
{
    if (geteuid() != 0)
        return false;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    espfab_portdiag_holder_t h[8];
    size_t n = espfab_portdiag_find_holders("/proc", real, h, 8);
    return n == 1 && h[0].pid == (int)getpid() && h[0].nfds == 1;
}

/* Exclusive use: refuse a port someone else marked exclusive (root bypasses
 * TIOCEXCL on open, so ask), take an advisory lock (as pyserial's exclusive
 * mode does, which also stops two espfabs), then set TIOCEXCL ourselves. */
static int take_exclusive(espfab_port_t *p, const char *spec, const char *path, espfab_fault_t *f)
{
    int fd = p->fd;
    int excl = 0;
    if (ioctl(fd, TIOCGEXCL, &excl) == 0 && excl && !stale_exclusive(path))
        return open_errno_fault(spec, path, EBUSY, f);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return open_errno_fault(spec, path, EBUSY, f);
    }
    p->exclusive = ioctl(fd, TIOCEXCL) == 0;
    return 0;
}

static int termios_set_baud(espfab_port_t *p, uint32_t baud, espfab_fault_t *f)
{
    struct termios t;
    if (tcgetattr(p->fd, &t) != 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: tcgetattr", p->name);
    speed_t code = std_code(baud);
    if (code) {
        if (cfsetispeed(&t, code) != 0 || cfsetospeed(&t, code) != 0)
            return espfab_fault_errno(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, errno, "%s: baud %u",
                                      p->name, (unsigned)baud);
        if (tcsetattr(p->fd, TCSANOW, &t) != 0) {
            int e = errno;
            return espfab_fault_errno(
                f, e == EINVAL ? ESPFAB_E_PORT_BAUD_UNSUPPORTED : ESPFAB_E_PORT_CONFIG, e,
                "%s: setting baud %u", p->name, (unsigned)baud);
        }
        struct termios back;
        if (tcgetattr(p->fd, &back) == 0 && cfgetospeed(&back) != code)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                    "%s: asked for baud %u, the driver kept another rate", p->name,
                                    (unsigned)baud);
        return 0;
    }
    uint32_t actual = 0;
    int r = espfab_port__set_baud_other(p->fd, baud, &actual);
    if (r < 0)
        return espfab_fault_errno(
            f, -r == EINVAL ? ESPFAB_E_PORT_BAUD_UNSUPPORTED : ESPFAB_E_PORT_CONFIG, -r,
            "%s: setting baud %u (termios2)", p->name, (unsigned)baud);
    if (actual != baud)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                "%s: asked for baud %u, the driver set %u", p->name, (unsigned)baud,
                                (unsigned)actual);
    return 0;
}

/* The rate the driver actually keeps (drivers round or silently keep the old
 * rate, e.g. an 8250 whose clock tops out at 115200). */
static uint32_t current_baud(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return 0;
    speed_t code = cfgetospeed(&t);
    for (size_t i = 0; i < sizeof(std_rates) / sizeof(std_rates[0]); i++)
        if (std_rates[i].code && std_rates[i].code == code)
            return std_rates[i].baud;
    uint32_t actual = 0;
    if (espfab_port__get_baud_other(fd, &actual) == 0)
        return actual;
    return 0;
}

int espfab_port__tty_set_baud(espfab_port_t *p, uint32_t baud, espfab_fault_t *f)
{
    if (p->sp) {
        enum sp_return r = sp_set_baudrate(p->sp, (int)baud);
        if (r != SP_OK) {
            int e = sp_last_error_code();
            char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
            int code =
                espfab_fault_errno(f,
                                   e == EINVAL || r == SP_ERR_ARG ? ESPFAB_E_PORT_BAUD_UNSUPPORTED
                                                                  : ESPFAB_E_PORT_CONFIG,
                                   r == SP_ERR_FAIL ? e : 0, "%s: baud %u: %s", p->name,
                                   (unsigned)baud, msg ? msg : "libserialport refused it");
            if (msg)
                sp_free_error_message(msg);
            return code;
        }
        uint32_t now = current_baud(p->fd);
        if (now != baud)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                    "%s: asked for baud %u, the driver kept %u", p->name,
                                    (unsigned)baud, (unsigned)now);
        return 0;
    }
    return termios_set_baud(p, baud, f);
}

static int open_termios(espfab_port_t *p, const char *spec, const char *path, espfab_fault_t *f)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return open_errno_fault(spec, path, errno, f);
    p->fd = fd;
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        int e = errno;
        if (e == ENOTTY || e == EINVAL)
            return espfab_fault_set(f, ESPFAB_E_PORT_NOT_A_TTY,
                                    "%s is a character device but not a tty", spec);
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, e, "%s: tcgetattr", spec);
    }
    int r = take_exclusive(p, spec, path, f);
    if (r < 0)
        return r;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CRTSCTS | CSTOPB | PARENB | CSIZE);
    t.c_cflag |= CS8;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(fd, TCSANOW, &t) != 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: setting raw 8N1", spec);
    return 0;
}

static int sp_fault(const char *spec, const char *path, const char *what, enum sp_return r,
                    espfab_fault_t *f)
{
    int e = r == SP_ERR_FAIL ? sp_last_error_code() : 0;
    if (r == SP_ERR_FAIL && !strcmp(what, "open"))
        return open_errno_fault(spec, path, e, f);
    char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
    int code = espfab_fault_errno(f, r == SP_ERR_MEM ? ESPFAB_E_NOMEM : ESPFAB_E_PORT_CONFIG, e,
                                  "%s: libserialport %s failed (%d%s%s)", spec, what, (int)r,
                                  msg ? ": " : "", msg ? msg : "");
    if (msg)
        sp_free_error_message(msg);
    return code;
}

static int open_sp(espfab_port_t *p, const char *spec, const char *path, uint32_t baud,
                   espfab_fault_t *f)
{
    enum sp_return r = sp_get_port_by_name(path, &p->sp);
    if (r != SP_OK) {
        p->sp = NULL;
        return 1; /* libserialport does not know it: use termios */
    }
    r = sp_open(p->sp, SP_MODE_READ_WRITE);
    if (r != SP_OK) {
        int code = sp_fault(spec, path, "open", r, f);
        sp_free_port(p->sp);
        p->sp = NULL;
        return code;
    }
    int fd = -1;
    if (sp_get_port_handle(p->sp, &fd) != SP_OK || fd < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_OPEN_FAILED, "%s: libserialport gave no fd", spec);
    p->fd = fd;
    int rr = take_exclusive(p, spec, path, f);
    if (rr < 0)
        return rr;
    if ((r = sp_set_bits(p->sp, 8)) != SP_OK ||
        (r = sp_set_parity(p->sp, SP_PARITY_NONE)) != SP_OK ||
        (r = sp_set_stopbits(p->sp, 1)) != SP_OK ||
        (r = sp_set_flowcontrol(p->sp, SP_FLOWCONTROL_NONE)) != SP_OK)
        return sp_fault(spec, path, "8N1 setup", r, f);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: O_NONBLOCK", spec);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    (void)baud;
    return 0;
}

int espfab_port__open_tty(uv_loop_t *loop, const char *spec, const char *path, uint32_t baud,
                          bool use_libserialport, espfab_port_t **out, espfab_fault_t *f)
{
    espfab_port_t *p = espfab_port__new(loop, spec, path,
                                        use_libserialport ? ESPFAB_PORT_SERIAL : ESPFAB_PORT_TTY);
    if (!p)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: allocating the port", spec);
    int r = 1;
    if (use_libserialport)
        r = open_sp(p, spec, path, baud, f);
    if (r == 1) {
        p->kind = ESPFAB_PORT_TTY;
        r = open_termios(p, spec, path, f);
    }
    if (r == 0)
        r = espfab_port__tty_set_baud(p, baud, f);
    if (r == 0) {
        int bits;
        p->modem_lines = ioctl(p->fd, TIOCMGET, &bits) == 0;
        r = espfab_port__attach(p, f);
    }
    if (r < 0) {
        espfab_port__discard(p);
        return r;
    }
    *out = p;
    return 0;
}
