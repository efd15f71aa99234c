/* port_tty.c - what the libserialport and termios backends share: exclusive
 * use, open diagnoses, termios speeds, modem lines, error classes and the
 * vanish diagnosis (see port_tty.h). */
#include "port/port_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "port/baud_linux.h"

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

int espfab_port__tty_open_fault(const espfab_port_conn_t *c, int e, espfab_fault_t *f)
{
    const char *spec = c->name, *path = c->path;
    switch (e) {
    case ENOENT: {
        espfab_portdiag_list_t cand = {.n = 0};
        espfab_portdiag_candidates(path, "/dev", &cand);
        return espfab_portdiag_not_found(f, spec, path, &cand,
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
        n = espfab_portdiag_holders_drop(h, n < 4 ? n : 4, (int)getpid()); /* not our new fd */
        return espfab_portdiag_busy(f, spec, h, n);
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
int espfab_port__tty_take_exclusive(espfab_port_conn_t *c, espfab_fault_t *f)
{
    int fd = c->fd;
    int excl = 0;
    if (ioctl(fd, TIOCGEXCL, &excl) == 0 && excl && !stale_exclusive(c->path))
        return espfab_port__tty_open_fault(c, EBUSY, f);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return espfab_port__tty_open_fault(c, EBUSY, f);
    }
    c->exclusive = ioctl(fd, TIOCEXCL) == 0;
    return 0;
}

int espfab_port__tty_termios_baud(espfab_port_conn_t *c, uint32_t baud, espfab_fault_t *f)
{
    struct termios t;
    if (tcgetattr(c->fd, &t) != 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: tcgetattr", c->name);
    speed_t code = std_code(baud);
    if (code) {
        if (cfsetispeed(&t, code) != 0 || cfsetospeed(&t, code) != 0)
            return espfab_fault_errno(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED, errno, "%s: baud %u",
                                      c->name, (unsigned)baud);
        if (tcsetattr(c->fd, TCSANOW, &t) != 0) {
            int e = errno;
            return espfab_fault_errno(
                f, e == EINVAL ? ESPFAB_E_PORT_BAUD_UNSUPPORTED : ESPFAB_E_PORT_CONFIG, e,
                "%s: setting baud %u", c->name, (unsigned)baud);
        }
        struct termios back;
        if (tcgetattr(c->fd, &back) == 0 && cfgetospeed(&back) != code)
            return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                    "%s: asked for baud %u, the driver kept another rate", c->name,
                                    (unsigned)baud);
        return 0;
    }
    uint32_t actual = 0;
    int r = espfab_port__set_baud_other(c->fd, baud, &actual);
    if (r < 0)
        return espfab_fault_errno(
            f, -r == EINVAL ? ESPFAB_E_PORT_BAUD_UNSUPPORTED : ESPFAB_E_PORT_CONFIG, -r,
            "%s: setting baud %u (termios2)", c->name, (unsigned)baud);
    if (actual != baud)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                "%s: asked for baud %u, the driver set %u", c->name, (unsigned)baud,
                                (unsigned)actual);
    return 0;
}

/* Drivers round or silently keep the old rate, e.g. an 8250 whose clock tops
 * out at 115200. */
uint32_t espfab_port__tty_current_baud(int fd)
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

void espfab_port__tty_opened(espfab_port_conn_t *c)
{
    int bits;
    c->modem_lines = ioctl(c->fd, TIOCMGET, &bits) == 0;
    espfab_portdiag_list_dir("/dev", false, &c->ttys_at_open);
}

void espfab_port__tty_release_exclusive(espfab_port_conn_t *c)
{
    /* TIOCEXCL outlives the fd on a pty (the tty stays while the master is
     * open), so give it back explicitly. */
    if (c->fd >= 0 && c->exclusive)
        (void)ioctl(c->fd, TIOCNXCL);
    c->exclusive = false;
}

int espfab_port__tty_classify(espfab_port_io_t io, int *err)
{
    switch (io) {
    case ESPFAB_PORT_IO_EOF:
        return ESPFAB_E_PORT_VANISHED;
    case ESPFAB_PORT_IO_POLL:
        if (*err == EBADF)
            *err = EIO; /* libuv's name for POLLERR: the device is dead */
        return ESPFAB_E_PORT_VANISHED;
    case ESPFAB_PORT_IO_READ:
    case ESPFAB_PORT_IO_WRITE:
        break;
    }
    switch (*err) {
    case EIO:
    case ENXIO:
    case ENODEV:
    case EPROTO:
    case EBADF:
    case EPIPE:
        return ESPFAB_E_PORT_VANISHED;
    default:
        return io == ESPFAB_PORT_IO_WRITE ? ESPFAB_E_PORT_WRITE : ESPFAB_E_PORT_READ;
    }
}

void espfab_port__tty_diagnose(const espfab_port_conn_t *c, espfab_fault_t *f, int code, int err,
                               const char *what)
{
    struct stat st;
    bool gone = stat(c->path, &st) != 0 && errno == ENOENT;
    espfab_portdiag_list_t now = {.n = 0};
    espfab_portdiag_list_dir("/dev", false, &now);
    espfab_portdiag_vanished(f, code, err, c->name, c->real[0] ? c->real : c->path, what, gone,
                             &c->ttys_at_open, &now);
}

int espfab_port__tty_set_lines(espfab_port_conn_t *c, int dtr, int rts)
{
    int r;
    if (dtr >= 0 && rts >= 0) {
        int bits;
        r = ioctl(c->fd, TIOCMGET, &bits);
        if (r == 0) {
            bits = dtr ? (bits | TIOCM_DTR) : (bits & ~TIOCM_DTR);
            bits = rts ? (bits | TIOCM_RTS) : (bits & ~TIOCM_RTS);
            r = ioctl(c->fd, TIOCMSET, &bits);
        }
    } else {
        int bit = dtr >= 0 ? TIOCM_DTR : TIOCM_RTS;
        int on = dtr >= 0 ? dtr : rts;
        r = ioctl(c->fd, on ? TIOCMBIS : TIOCMBIC, &bit);
    }
    if (r == 0)
        return 0;
    int e = errno;
    if (e == ENOTTY || e == EINVAL)
        return ESPFAB_E_PORT_NO_MODEM_LINES;
    return espfab_port__tty_classify(ESPFAB_PORT_IO_WRITE, &e) == ESPFAB_E_PORT_VANISHED
               ? ESPFAB_E_PORT_VANISHED
               : ESPFAB_E_PORT_CONFIG;
}

int espfab_port__tty_flush_input(espfab_port_conn_t *c)
{
    if (tcflush(c->fd, TCIFLUSH) == 0)
        return 0;
    int e = errno;
    return espfab_port__tty_classify(ESPFAB_PORT_IO_READ, &e);
}

ssize_t espfab_port__tty_write(int fd, const uint8_t *buf, size_t n) { return write(fd, buf, n); }
