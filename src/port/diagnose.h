/*
 * diagnose.h - why a serial port could not be opened or went away, in words
 * an operator can act on (src/port only; unit-tested directly).
 *
 * The helpers take their inputs injected (a /dev-like directory to list, a
 * /proc-like root to scan, stat and group facts already gathered) so tests
 * can build fake situations; the *_gather functions collect the real facts
 * from the running system.  Nothing here keeps state; every function is
 * thread-safe and calls no callbacks.  Each fills an espfab_fault_t whose
 * detail names the port as the user gave it.
 */
#ifndef ESPFAB_PORT_DIAGNOSE_H
#define ESPFAB_PORT_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "espfab/err.h"

#define PORTDIAG_MAX 32

typedef struct espfab_portdiag_list {
    char name[PORTDIAG_MAX][96]; /* full paths, sorted */
    size_t n;
} espfab_portdiag_list_t;

/* True for the node names USB serial devices get: ttyUSB*, ttyACM*,
 * ttyCH343USB*, ttyXRUSB*. */
bool espfab_portdiag_is_usb_tty_name(const char *base);

/* Lists dir's entries: every entry when all is true (by-path/by-id dirs),
 * otherwise the USB tty names only.  Missing dir = empty list. */
void espfab_portdiag_list_dir(const char *dir, bool all, espfab_portdiag_list_t *out);

/* The ports worth naming when path does not exist: USB ttys in path's
 * directory (or all entries of a /serial/by-* directory), plus USB ttys in
 * dev_dir when that is another directory.  dev_dir is "/dev" in real use. */
void espfab_portdiag_candidates(const char *path, const char *dev_dir, espfab_portdiag_list_t *out);

/* spec does not exist: PORT_NOT_FOUND listing the candidates, or
 * PORT_NONE_PRESENT when the user asked for a USB-looking name and no USB
 * serial device is present at all.  brltty_running adds that brltty (which
 * grabs CH340/CP210x adapters on Ubuntu) should be removed. */
int espfab_portdiag_not_found(espfab_fault_t *f, const char *spec, const char *path,
                              const espfab_portdiag_list_t *candidates, bool brltty_running);

/* True when a process whose comm starts with name runs under proc_root. */
bool espfab_portdiag_process_running(const char *proc_root, const char *name);

/* Facts about a permission-denied device. */
typedef struct espfab_portdiag_perm {
    mode_t mode; /* st_mode of the node */
    uid_t owner;
    gid_t gid;
    char owner_name[64];   /* "" when unknown */
    char group_name[64];   /* "" when the gid has no name */
    char user[64];         /* the user running espfab */
    bool user_in_group_db; /* /etc/group lists the user in gid (or it is their primary gid) */
    bool process_in_group; /* getgroups()/getegid() of this process include gid */
    bool have_stat;        /* false when stat itself failed */
} espfab_portdiag_perm_t;

/* Gathers the facts for path from stat, getpwuid, getgrgid and getgroups. */
void espfab_portdiag_perm_gather(const char *path, espfab_portdiag_perm_t *out);
/* PORT_PERMISSION with the group and the exact fix (usermod, log in again,
 * or a udev rule when group membership cannot help). */
int espfab_portdiag_permission(espfab_fault_t *f, const char *spec,
                               const espfab_portdiag_perm_t *in);

typedef struct espfab_portdiag_holder {
    int pid;
    int nfds; /* how many of its fds point at the device */
    char comm[32];
} espfab_portdiag_holder_t;

/* Scans proc_root/PID/fd/N for links to dev (compared with the link text,
 * so pass the node's real path).  Returns how many were found (at most max
 * are stored), sorted by pid. */
size_t espfab_portdiag_find_holders(const char *proc_root, const char *dev,
                                    espfab_portdiag_holder_t *out, size_t max);
/* Takes one descriptor of pid off the n holders in h, and pid itself when
 * that was its only one (espfab: the descriptor it has just opened on the
 * device is no one to blame; another one of its own still is).  Returns the
 * new count. */
size_t espfab_portdiag_holders_drop(espfab_portdiag_holder_t *h, size_t n, int pid);

/* PORT_BUSY naming the holders ("held by ModemManager (pid 812)") with a
 * word on the known offenders. */
int espfab_portdiag_busy(espfab_fault_t *f, const char *spec, const espfab_portdiag_holder_t *h,
                         size_t n);

/* The port failed while open.  code is PORT_VANISHED or PORT_CLOSED; what
 * says what failed ("read: Input/output error").  For a device, node_gone
 * says the node has disappeared; before/now are the USB ttys in /dev at open
 * and now, to name one that appeared (re-enumeration). */
int espfab_portdiag_vanished(espfab_fault_t *f, int code, int err, const char *spec,
                             const char *path, const char *what, bool node_gone,
                             const espfab_portdiag_list_t *before,
                             const espfab_portdiag_list_t *now);

#endif
