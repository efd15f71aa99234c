/*
 * owner.c - the lock a station holds while it is alive (store_int.h).
 *
 * Each run's station holds an exclusive lock on one byte, at offset run id,
 * of "<db file name>.owners" beside the database; the run row names that
 * file (runs.owner_lock).  The kernel drops the lock when the process dies,
 * however it dies (kill -9, power loss), so "nobody holds the byte" proves
 * the owner is gone without trusting a pid (reused after a reboot) or a host
 * name (a renamed PC, a database moved to another machine: the lock does
 * not move with the file, so a moved database's rows are free at once).
 *
 * Open file description locks (F_OFD_*): they conflict between two opens of
 * the file even in one process, and closing some other descriptor of the
 * file does not drop them.  Where they do not exist, classic POSIX locks
 * (per process) stand in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_int.h"

#ifdef F_OFD_SETLK
#define LK_SET F_OFD_SETLK
#define LK_GET F_OFD_GETLK
#else
#define LK_SET F_SETLK
#define LK_GET F_GETLK
#endif

void store_owner_name(const espfab_store_t *s, char *out, size_t n)
{
    const char *base = strrchr(s->path, '/');
    snprintf(out, n, "%s.owners", base ? base + 1 : s->path);
}

/* Path of the file lock_name beside the database. */
static void beside(const espfab_store_t *s, const char *lock_name, char *out, size_t n)
{
    const char *slash = strrchr(s->path, '/');
    if (slash)
        snprintf(out, n, "%.*s/%s", (int)(slash - s->path), s->path, lock_name);
    else
        snprintf(out, n, "%s", lock_name);
}

static int byte_lock(int fd, short type, int cmd, int64_t run_id, struct flock *out)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)run_id;
    fl.l_len = 1;
    int rc = fcntl(fd, cmd, &fl);
    if (out)
        *out = fl;
    return rc;
}

int store_owner_lock(espfab_store_t *s, int64_t run_id, espfab_fault_t *f)
{
    char name[1100], path[2200];
    store_owner_name(s, name, sizeof name);
    beside(s, name, path, sizeof path);
    if (s->lock_fd < 0) {
        s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (s->lock_fd < 0)
            return espfab_fault_errno(f, ESPFAB_E_STORE_WRITE, errno,
                                      "%s: cannot create the owner lock file beside the database; "
                                      "the folder must be writable for a station", path);
    }
    if (byte_lock(s->lock_fd, F_WRLCK, LK_SET, run_id, NULL) != 0)
        return espfab_fault_errno(f, ESPFAB_E_STORE_WRITE, errno,
                                  "%s: cannot lock byte %lld (the owner lock of run %lld)", path,
                                  (long long)run_id, (long long)run_id);
    return 0;
}

void store_owner_unlock(espfab_store_t *s, int64_t run_id)
{
    if (s->lock_fd >= 0)
        byte_lock(s->lock_fd, F_UNLCK, LK_SET, run_id, NULL);
}

bool store_owner_gone(const espfab_store_t *s, const char *lock_name, int64_t run_id)
{
    if (!lock_name || !lock_name[0] || strchr(lock_name, '/'))
        return true; /* not a name this espfab writes: no station of ours holds it */
    char path[2200];
    beside(s, lock_name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT; /* unreadable: cannot prove anything */
    struct flock fl;
    int rc = byte_lock(fd, F_WRLCK, LK_GET, run_id, &fl);
    close(fd);
    return rc == 0 && fl.l_type == F_UNLCK;
}
