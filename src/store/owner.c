/*
 * owner.c - the lock a station holds while it is alive, and the recovery
 * of the rows of owners that are gone (store_int.h).
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
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "espfab/vec.h"
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

/* ---- recovery ---- */

/* True when the process that owned a run is certainly gone: its owner lock
 * is free (owner.c); for a run of an older espfab that recorded no lock,
 * the same host and its pid gone. */
static bool owner_dead(espfab_store_t *s, sqlite3_stmt *st)
{
    if (sqlite3_column_type(st, 1) == SQLITE_NULL)
        return true; /* attempt without a run */
    int64_t run_id = sqlite3_column_int64(st, 1);
    const char *lock = (const char *)sqlite3_column_text(st, 4);
    if (lock)
        return store_owner_gone(s, lock, run_id);
    const char *host = (const char *)sqlite3_column_text(st, 2);
    int64_t pid = sqlite3_column_int64(st, 3);
    if (strcmp(host ? host : "", s->host) != 0)
        return false;              /* another machine's run: cannot tell */
    if (pid <= 0)
        return true;
    if (pid == (int64_t)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ids of the rows a recovery scan selected (collected first, updated after:
 * never update rows under an open scan of the same index). */
typedef struct {
    int64_t *v;
    size_t n, cap;
} idlist_t;

static bool idlist_add(idlist_t *l, int64_t id)
{
    if (ESPFAB_VEC_RESERVE(l->v, l->cap, l->n + 1))
        return false;
    l->v[l->n++] = id;
    return true;
}

/* Collects column 0 of the rows of sql whose owner (columns run id, host,
 * pid, owner_lock at 1..4) is dead. */
static int collect_dead(espfab_store_t *s, const char *sql, idlist_t *out, espfab_fault_t *f)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, ESPFAB_E_STORE_WRITE, f);
    while (!rc) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "recovery scan");
            break;
        }
        if (owner_dead(s, st) && !idlist_add(out, sqlite3_column_int64(st, 0)))
            rc = espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: recovery", s->path);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Marks the attempts interrupted (chaining each) and ends the runs. */
static int close_rows(espfab_store_t *s, const idlist_t *att, const idlist_t *runs,
                      const char *detail, const char *origin, int *n, int64_t now,
                      espfab_fault_t *f)
{
    char msg[600];
    snprintf(msg, sizeof msg, "%s: %s", espfab_strerror(ESPFAB_E_INTERRUPTED), detail);
    sqlite3_stmt *upd = NULL;
    int rc = store_prepare(s, "UPDATE attempts SET outcome='interrupted', error_code=?2, "
                              "error_name=?3, detail=?4, message=?5 WHERE id=?1 AND "
                              "outcome='running'", &upd, ESPFAB_E_STORE_WRITE, f);
    for (size_t i = 0; !rc && i < att->n; i++) {
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, att->v[i]);
        sqlite3_bind_int(upd, 2, espfab_err_number(ESPFAB_E_INTERRUPTED));
        sqlite3_bind_text(upd, 3, espfab_err_name(ESPFAB_E_INTERRUPTED), -1, SQLITE_STATIC);
        sqlite3_bind_text(upd, 4, detail, -1, SQLITE_STATIC);
        sqlite3_bind_text(upd, 5, msg, -1, SQLITE_STATIC);
        if (sqlite3_step(upd) != SQLITE_DONE) {
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "mark attempt interrupted");
        } else if (sqlite3_changes(s->db) == 1) {
            (*n)++;
            rc = store_chain_append(s, att->v[i], origin, NULL, f);
        }
    }
    sqlite3_finalize(upd);
    for (size_t i = 0; !rc && i < runs->n; i++)
        rc = store_run_end_row(s, runs->v[i], now, f);
    return rc;
}

int store_recover(espfab_store_t *s, const char *why, const char *action, int *recovered,
                  espfab_fault_t *f)
{
    int n = 0;
    int64_t now = espfab_store_now_ms();
    char iso[32], detail[400];
    espfab_store_iso8601(now, iso);
    snprintf(detail, sizeof detail, "%s at %s; the program recording it stopped (crash, kill, "
             "power loss)", why, iso);

    int rc = store_set_sync(s, true, f);
    if (!rc)
        rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin recovery", f);
    if (rc)
        return rc;
    idlist_t att = {0}, runs = {0};
    const char *lock = s->chain ? "r.owner_lock" : "NULL";
    char sql[400];
    snprintf(sql, sizeof sql, "SELECT a.id, r.id, r.host, r.pid, %s FROM attempts a LEFT JOIN "
             "runs r ON r.id = a.run_id WHERE a.outcome = 'running' ORDER BY a.id", lock);
    rc = collect_dead(s, sql, &att, f);
    snprintf(sql, sizeof sql, "SELECT r.id, r.id, r.host, r.pid, %s FROM runs r "
             "WHERE r.end_ms IS NULL ORDER BY r.id", lock);
    if (!rc)
        rc = collect_dead(s, sql, &runs, f);
    if (!rc)
        rc = close_rows(s, &att, &runs, detail, action ? action : "recovery", &n, now, f);
    if (!rc && action && (att.n || runs.n)) {
        char what[600];
        snprintf(what, sizeof what, "closed %d attempts and ended %zu runs whose owner lock was "
                 "free: %s", n, runs.n, detail);
        rc = store_maintenance(s, action, what, f);
    }
    free(att.v);
    free(runs.v);
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit recovery", f);
    if (rc) {
        store_rollback(s);
        return rc;
    }
    if (recovered)
        *recovered = n;
    return 0;
}

int espfab_store_close_stale(espfab_store_t *s, int *closed, espfab_fault_t *f)
{
    if (closed)
        *closed = 0;
    if (!s)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_close_stale");
    if (s->flags & ESPFAB_STORE_READONLY)
        return espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: opened read-only: stale rows "
                                "cannot be closed", s->path);
    return store_recover(s, "closed by espfab db check --close-stale: its owner was gone",
                         "close-stale", closed, f);
}
