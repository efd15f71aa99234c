/* baud_linux.c - arbitrary baud rates through termios2/BOTHER.  Kept in its
 * own file because <asm/termbits.h> clashes with glibc's <termios.h>. */
#include <errno.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>

#include "port/baud_linux.h"

int espfab_port__set_baud_other(int fd, uint32_t baud, uint32_t *actual)
{
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) != 0)
        return -errno;
    t.c_cflag &= ~(tcflag_t)CBAUD;
    t.c_cflag |= BOTHER;
    t.c_ospeed = baud;
    t.c_cflag &= ~(tcflag_t)(CBAUD << IBSHIFT); /* input speed = output speed */
    t.c_ispeed = baud;
    if (ioctl(fd, TCSETS2, &t) != 0)
        return -errno;
    return espfab_port__get_baud_other(fd, actual);
}

int espfab_port__get_baud_other(int fd, uint32_t *actual)
{
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) != 0)
        return -errno;
    *actual = t.c_ospeed;
    return 0;
}
