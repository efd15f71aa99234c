/* port_serial.c - the libserialport backend: real serial devices (those
 * /sys/class/tty lists with a device behind them), one non-blocking,
 * exclusively held fd in 8N1, the USB id from libserialport.  Fills
 * espfab_port_serial_ops and calls nothing in the port core. */
#include "port/port_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libserialport.h>

static int sp_fault(const espfab_port_conn_t *c, const char *what, enum sp_return r,
                    espfab_fault_t *f)
{
    int e = r == SP_ERR_FAIL ? sp_last_error_code() : 0;
    if (r == SP_ERR_FAIL && !strcmp(what, "open"))
        return espfab_port__tty_open_fault(c, e, f);
    char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
    int code = espfab_fault_errno(f, r == SP_ERR_MEM ? ESPFAB_E_NOMEM : ESPFAB_E_PORT_CONFIG, e,
                                  "%s: libserialport %s failed (%d%s%s)", c->name, what, (int)r,
                                  msg ? ": " : "", msg ? msg : "");
    if (msg)
        sp_free_error_message(msg);
    return code;
}

static int serial_set_baud(espfab_port_conn_t *c, uint32_t baud, espfab_fault_t *f)
{
    enum sp_return r = sp_set_baudrate(c->sp, (int)baud);
    if (r != SP_OK) {
        int e = sp_last_error_code();
        char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
        int code = espfab_fault_errno(
            f, e == EINVAL || r == SP_ERR_ARG ? ESPFAB_E_PORT_BAUD_UNSUPPORTED : ESPFAB_E_PORT_CONFIG,
            r == SP_ERR_FAIL ? e : 0, "%s: baud %u: %s", c->name, (unsigned)baud,
            msg ? msg : "libserialport refused it");
        if (msg)
            sp_free_error_message(msg);
        return code;
    }
    uint32_t now = espfab_port__tty_current_baud(c->fd);
    if (now != baud)
        return espfab_fault_set(f, ESPFAB_E_PORT_BAUD_UNSUPPORTED,
                                "%s: asked for baud %u, the driver kept %u", c->name,
                                (unsigned)baud, (unsigned)now);
    return 0;
}

static int serial_open(espfab_port_conn_t *c, const espfab_port_spec_t *s, uint32_t baud,
                       espfab_fault_t *f)
{
    (void)s;
    enum sp_return r = sp_get_port_by_name(c->path, &c->sp);
    if (r != SP_OK) {
        c->sp = NULL;
        return ESPFAB_PORT_DECLINED; /* libserialport does not know it: termios will */
    }
    r = sp_open(c->sp, SP_MODE_READ_WRITE);
    if (r != SP_OK) {
        int code = sp_fault(c, "open", r, f);
        sp_free_port(c->sp);
        c->sp = NULL;
        return code;
    }
    int fd = -1;
    if (sp_get_port_handle(c->sp, &fd) != SP_OK || fd < 0)
        return espfab_fault_set(f, ESPFAB_E_PORT_OPEN_FAILED, "%s: libserialport gave no fd",
                                c->name);
    c->fd = fd;
    int rr = espfab_port__tty_take_exclusive(c, f);
    if (rr < 0)
        return rr;
    if ((r = sp_set_bits(c->sp, 8)) != SP_OK || (r = sp_set_parity(c->sp, SP_PARITY_NONE)) != SP_OK ||
        (r = sp_set_stopbits(c->sp, 1)) != SP_OK ||
        (r = sp_set_flowcontrol(c->sp, SP_FLOWCONTROL_NONE)) != SP_OK)
        return sp_fault(c, "8N1 setup", r, f);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return espfab_fault_errno(f, ESPFAB_E_PORT_CONFIG, errno, "%s: O_NONBLOCK", c->name);
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    rr = serial_set_baud(c, baud, f);
    if (rr < 0)
        return rr;
    espfab_port__tty_opened(c);
    return 0;
}

static int serial_usb_id(const espfab_port_conn_t *c, int *vid, int *pid)
{
    if (!c->sp || sp_get_port_transport(c->sp) != SP_TRANSPORT_USB ||
        sp_get_port_usb_vid_pid(c->sp, vid, pid) != SP_OK)
        return -1;
    return 0;
}

static void serial_close(espfab_port_conn_t *c)
{
    espfab_port__tty_release_exclusive(c);
    if (c->sp) {
        sp_close(c->sp);
        sp_free_port(c->sp);
        c->sp = NULL;
    } else if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
}

const espfab_port_ops_t espfab_port_serial_ops = {
    .name = "serial",
    .kind = ESPFAB_PORT_SERIAL,
    .poll_extra = 0,
    .eof_what = "read: the tty was hung up",
    .poll_error_what = "poll reported an error",
    .open = serial_open,
    .set_baud = serial_set_baud,
    .set_lines = espfab_port__tty_set_lines,
    .flush_input = espfab_port__tty_flush_input,
    .send = espfab_port__tty_write,
    .classify = espfab_port__tty_classify,
    .diagnose = espfab_port__tty_diagnose,
    .usb_id = serial_usb_id,
    .close = serial_close,
};
