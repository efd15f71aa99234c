/*
 * port_tty.h - what the two device backends (libserialport and termios)
 * share: exclusive use, open diagnoses, termios speeds, modem lines, error
 * classes and the vanish diagnosis (src/port only).
 *
 * Ownership and threading: plain functions on a connection the calling
 * backend owns; no state of their own, no callbacks, loop thread only.  They
 * know nothing of the port core.
 */
#ifndef ESPFAB_PORT_TTY_H
#define ESPFAB_PORT_TTY_H

#include "port/port_backend.h"

/* Maps an errno from open() (or libserialport's open) of c->path to a
 * diagnosed fault (not found, permission, busy, no device behind). */
int espfab_port__tty_open_fault(const espfab_port_conn_t *c, int e, espfab_fault_t *f);
/* Refuses a port someone else holds exclusively, takes the advisory lock,
 * sets TIOCEXCL (c->exclusive).  Returns 0 or PORT_BUSY diagnosed. */
int espfab_port__tty_take_exclusive(espfab_port_conn_t *c, espfab_fault_t *f);
/* Sets the speed with termios (termios2 for non-standard rates) and checks
 * that the driver kept it. */
int espfab_port__tty_termios_baud(espfab_port_conn_t *c, uint32_t baud, espfab_fault_t *f);
/* The rate the driver actually keeps (0 when unknown). */
uint32_t espfab_port__tty_current_baud(int fd);
/* After a successful open: notes whether the modem lines answer and which
 * USB ttys exist (to name a re-enumerated one later). */
void espfab_port__tty_opened(espfab_port_conn_t *c);
/* Gives TIOCEXCL back (it outlives the fd on a pty). */
void espfab_port__tty_release_exclusive(espfab_port_conn_t *c);

/* Operations both device backends use as they are. */
int espfab_port__tty_set_lines(espfab_port_conn_t *c, int dtr, int rts);
int espfab_port__tty_flush_input(espfab_port_conn_t *c);
ssize_t espfab_port__tty_write(int fd, const uint8_t *buf, size_t n);
int espfab_port__tty_classify(espfab_port_io_t io, int *err);
void espfab_port__tty_diagnose(const espfab_port_conn_t *c, espfab_fault_t *f, int code, int err,
                               const char *what);

#endif
