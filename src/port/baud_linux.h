/*
 * baud_linux.h - arbitrary baud rates through termios2/BOTHER (src/port
 * only; used by the tty backends and their tests).  Plain ioctls on an fd
 * the caller owns: no state, no callbacks, thread-safe.
 */
#ifndef ESPFAB_PORT_BAUD_LINUX_H
#define ESPFAB_PORT_BAUD_LINUX_H

#include <stdint.h>

/* Sets baud with BOTHER.  Returns 0 or -errno; *actual gets the rate the
 * driver reports back. */
int espfab_port__set_baud_other(int fd, uint32_t baud, uint32_t *actual);
/* The rate the driver keeps.  Returns 0 or -errno. */
int espfab_port__get_baud_other(int fd, uint32_t *actual);

#endif
