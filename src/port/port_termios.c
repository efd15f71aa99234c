/* port_termios.c - the termios backend: ptys and ttys libserialport 0.1.1
 * cannot open, as one non-blocking, exclusively held fd in raw 8N1.  Fills
 * espfab_port_termios_ops and calls nothing in the port core. */
#include "port/port_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

static int termios_open(espfab_port_conn_t *c, const espfab_port_spec_t *s, uint32_t baud,
                        espfab_fault_t *f)
{
    (void)s;
    int fd = open(c->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return espfab_port__tty_open_fault(c, errno, f);
    c->fd = fd;
    struct termios t;
    if (tcgetattr(fd, &t) != 0) {
        int e = errno;
        if (e == ENOTTY || e == EINVAL)
            return espfab_fault_set(f, ESPFAB_E_PORT_NOT_A_TTY,
                                    "%s is a character device but not a tty", c->name);
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, e, "%s: tcgetattr", c->name);
    }
    int r = espfab_port__tty_take_exclusive(c, f);
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
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: setting raw 8N1", c->name);
    r = espfab_port__tty_termios_baud(c, baud, f);
    if (r < 0)
        return r;
    espfab_port__tty_opened(c);
    return 0;
}

static void termios_close(espfab_port_conn_t *c)
{
    espfab_port__tty_release_exclusive(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

const espfab_port_ops_t espfab_port_termios_ops = {
    .name = "termios",
    .kind = ESPFAB_PORT_TTY,
    .poll_extra = 0,
    .eof_what = "read: the tty was hung up",
    .poll_error_what = "poll reported an error",
    .open = termios_open,
    .set_baud = espfab_port__tty_termios_baud,
    .set_lines = espfab_port__tty_set_lines,
    .flush_input = espfab_port__tty_flush_input,
    .send = espfab_port__tty_write,
    .classify = espfab_port__tty_classify,
    .diagnose = espfab_port__tty_diagnose,
    .usb_id = NULL,
    .close = termios_close,
};
