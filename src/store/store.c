/*
 * store.c - SQLite traceability (see store.h): open + migrate + recover,
 * runs, attempts with their regions, queries and the health check.
 */
#include "espfab/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "espfab/build.h"
#include "store/schema.h"
#include "store/store_int.h"


const char *const store_col_names[C_COUNT] = {
#define X(c) #c,
    ATTEMPT_COLS(X)
#undef X
};

_Static_assert(C_ms_reset - C_ms_connect == ESPFAB_PHASE_COUNT - 1,
               "one ms_* column per espfab_phase_t");

/* ---- small helpers ---- */

int64_t espfab_store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void espfab_store_iso8601(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        t -= 1;
    }
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "invalid-time");
        return;
    }
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, frac);
}

/* Maps the connection's last SQLite error to an espfab code and fault. */
int store_sql_fault(espfab_store_t *s, espfab_fault_t *f, int fallback, const char *what)
{
    int rc = sqlite3_errcode(s->db);
    int code = fallback;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = ESPFAB_E_STORE_BUSY; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = ESPFAB_E_STORE_CORRUPT; break;
    case SQLITE_NOMEM: code = ESPFAB_E_NOMEM; break;
    default: break;
    }
    espfab_fault_set(f, code, "%s: %s: %s (sqlite %d)", s->path, what, sqlite3_errmsg(s->db), rc);
    int e = sqlite3_system_errno(s->db);
    if (f && e && ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN ||
                   (rc & 0xff) == SQLITE_FULL))
        f->sys_errno = e;
    return code;
}

int store_exec(espfab_store_t *s, const char *sql, int fallback, const char *what,
                espfab_fault_t *f)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return store_sql_fault(s, f, fallback, what);
    return 0;
}

void store_rollback(espfab_store_t *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_prepare(espfab_store_t *s, const char *sql, sqlite3_stmt **st, int fallback,
                   espfab_fault_t *f)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return store_sql_fault(s, f, fallback, "prepare");
    }
    return 0;
}

void store_copy_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Reads a single integer (SELECT returning one row); *out untouched if no row. */
int store_query_int(espfab_store_t *s, const char *sql, int64_t *out, espfab_fault_t *f)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, sql, &st, ESPFAB_E_STORE_OPEN, f);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(st, 0);
    } else if (step != SQLITE_DONE) {
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, sql);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_set_sync(espfab_store_t *s, bool full, espfab_fault_t *f)
{
    return store_exec(s, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                ESPFAB_E_STORE_WRITE, "synchronous", f);
}

/* ---- schema ---- */

int espfab_store_schema_latest(void)
{
    int v = 0;
    for (unsigned i = 0; i < espfab_schema_count; i++)
        if (espfab_schema_migrations[i].version > v)
            v = espfab_schema_migrations[i].version;
    return v;
}

int espfab_store_schema_version(espfab_store_t *s) { return s ? s->version : 0; }

static int read_version(espfab_store_t *s, int *version, bool *foreign, espfab_fault_t *f)
{
    int64_t has = 0, tables = 0, v = 0;
    int rc = store_query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                          "name='schema_version'", &has, f);
    if (!rc)
        rc = store_query_int(s, "SELECT count(*) FROM sqlite_master WHERE type='table'", &tables, f);
    if (!rc && has)
        rc = store_query_int(s, "SELECT max(version) FROM schema_version", &v, f);
    if (rc)
        return rc;
    *version = (int)v;
    *foreign = !has && tables > 0;
    return 0;
}

/* A reader that meets a database with no schema yet (a station is creating
 * it: file created, first migration not committed) waits up to 3 s. */
static int read_version_settled(espfab_store_t *s, bool *foreign, espfab_fault_t *f)
{
    int rc = 0;
    for (int i = 0; i < 60; i++) {
        rc = read_version(s, &s->version, foreign, f);
        if (rc || s->version > 0 || *foreign)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* WAL, synchronous=FULL; a recording writer (not NO_RECOVER) also refuses a
 * database that fails its quick integrity check. */
static int open_writer(espfab_store_t *s, espfab_fault_t *f)
{
    sqlite3_stmt *st;
    int rc = store_prepare(s, "PRAGMA journal_mode=WAL", &st, ESPFAB_E_STORE_OPEN, f);
    if (rc)
        return rc;
    int step = sqlite3_step(st);
    char mode[16] = "";
    if (step == SQLITE_ROW)
        store_copy_text(st, 0, mode, sizeof mode);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW)
        return store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "journal_mode=WAL");
    if (strcmp(mode, "wal") != 0)
        return espfab_fault_set(f, ESPFAB_E_STORE_OPEN,
                                "%s: could not switch to WAL journal (got '%s'); "
                                "is the file on a network file system?", s->path, mode);
    rc = store_set_sync(s, true, f);
    if (rc || (s->flags & ESPFAB_STORE_NO_RECOVER))
        return rc;
    rc = store_prepare(s, "PRAGMA quick_check", &st, ESPFAB_E_STORE_CORRUPT, f);
    if (rc)
        return rc;
    char res[256] = "";
    step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        store_copy_text(st, 0, res, sizeof res);
    else
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_CORRUPT, "quick_check");
    sqlite3_finalize(st);
    /* one line: "*** in database main ***\nPage 5: ..." -> "Page 5: ..." */
    static const char banner[] = "*** in database main ***";
    if (!strncmp(res, banner, sizeof banner - 1))
        memmove(res, res + sizeof banner, strlen(res + sizeof banner - 1));
    for (char *p = res; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (!rc && strcmp(res, "ok") != 0)
        rc = espfab_fault_set(f, ESPFAB_E_STORE_CORRUPT,
                              "%s fails its integrity check (%.120s): nothing is written into it; "
                              "keep it for analysis (espfab db check --db %s shows the damage) "
                              "and give the station a new database file", s->path, res, s->path);
    return rc;
}

/* Sets s->chain: the tables of schema 0002 are there. */
static int detect_chain(espfab_store_t *s, espfab_fault_t *f)
{
    int64_t n = 0;
    int rc = store_query_int(s, "SELECT (SELECT count(*) FROM sqlite_master WHERE type='table' "
                                "AND name IN ('attempt_chain', 'maintenance')) + (SELECT count(*) "
                                "FROM pragma_table_info('runs') WHERE name = 'owner_lock')", &n, f);
    s->chain = !rc && n == 3;
    return rc;
}

/* Sets s->build: the columns of schema 0003 are there. */
static int detect_build(espfab_store_t *s, espfab_fault_t *f)
{
    int64_t n = 0;
    int rc = store_query_int(s, "SELECT count(*) FROM pragma_table_info('attempts') "
                                "WHERE name IN ('espfab_version', 'stub_sha256')", &n, f);
    s->build = !rc && n == 2;
    return rc;
}

static int migrate(espfab_store_t *s, espfab_fault_t *f)
{
    for (unsigned i = 0; i < s->nmigrations; i++) {
        const espfab_schema_migration_t *m = &s->migrations[i];
        if (m->version <= s->version)
            continue;
        int rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin migration", f);
        if (rc)
            return rc;
        /* Another process may have migrated while we waited for the lock. */
        bool foreign;
        int now;
        rc = read_version(s, &now, &foreign, f);
        if (!rc && now < m->version) {
            rc = store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version ("
                         " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                         " applied_at TEXT NOT NULL)",
                      ESPFAB_E_STORE_WRITE, "schema_version", f);
            if (!rc && sqlite3_exec(s->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
                char what[96];
                snprintf(what, sizeof what, "migration %s", m->name);
                rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, what);
            }
            /* The migration that creates the chain chains the attempts
             * already completed, in id order, in its own transaction. */
            if (!rc && !s->chain) {
                rc = detect_chain(s, f);
                int64_t n;
                if (!rc && s->chain)
                    rc = store_chain_backfill(s, &n, f);
            }
            if (!rc) {
                sqlite3_stmt *st;
                rc = store_prepare(s, "INSERT INTO schema_version(version, name, applied_at) "
                                "VALUES (?1, ?2, ?3)", &st, ESPFAB_E_STORE_WRITE, f);
                if (!rc) {
                    char iso[32];
                    espfab_store_iso8601(espfab_store_now_ms(), iso);
                    sqlite3_bind_int(st, 1, m->version);
                    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
                    sqlite3_bind_text(st, 3, iso, -1, SQLITE_TRANSIENT);
                    if (sqlite3_step(st) != SQLITE_DONE)
                        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "record schema version");
                    sqlite3_finalize(st);
                }
            }
        }
        if (!rc)
            rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit migration", f);
        if (rc) {
            store_rollback(s);
            s->chain = false;
            return rc;
        }
        s->version = m->version > now ? m->version : now;
    }
    return 0;
}

/* ---- open / close ---- */

int espfab_store_open(const char *path, unsigned flags, espfab_store_t **out, int *recovered,
                      espfab_fault_t *f)
{
    return espfab__store_open_with(path, flags, espfab_schema_migrations, espfab_schema_count, out,
                                   recovered, f);
}

/* "file:<path, %-escaped>?mode=ro&immutable=1" */
static void immutable_uri(const char *path, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && k + 4 < n; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
            k += (size_t)snprintf(out + k, n - k, "%%%02X", *p);
        else
            out[k++] = (char)*p;
    }
    snprintf(out + k, n - k, "?mode=ro&immutable=1");
}

static int open_conn(espfab_store_t *s, bool immutable, espfab_fault_t *f)
{
    int oflags = (s->flags & ESPFAB_STORE_READONLY) ? SQLITE_OPEN_READONLY
                                                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    char uri[3200];
    const char *name = s->path;
    if (immutable) {
        immutable_uri(s->path, uri, sizeof uri);
        name = uri;
        oflags |= SQLITE_OPEN_URI;
    }
    s->immutable = immutable;
    if (sqlite3_open_v2(name, &s->db, oflags, NULL) != SQLITE_OK) {
        if (!s->db)
            return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", s->path);
        int rc = store_sql_fault(s, f, ESPFAB_E_STORE_OPEN, "open");
        if (rc != ESPFAB_E_STORE_CORRUPT)
            rc = ESPFAB_E_STORE_OPEN;
        if (f)
            f->code = rc;
        return rc;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 5000);
    return 0;
}

/* A reader on read-only storage: SQLite cannot create the -shm file beside
 * the database ("attempt to write a readonly database", or "unable to open"
 * with ENOENT).  Without a -wal holding commits nobody can be writing it:
 * read it immutable.  With one, say what to do (reading it without its log
 * would silently drop the newest rows). */
static int open_reader(espfab_store_t *s, bool *foreign, espfab_fault_t *f)
{
    int rc = open_conn(s, false, f);
    if (!rc)
        rc = read_version_settled(s, foreign, f);
    int prim = s->db ? sqlite3_errcode(s->db) & 0xff : 0;
    if (!rc || (prim != SQLITE_READONLY && prim != SQLITE_CANTOPEN))
        return rc;
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", s->path);
    struct stat sb;
    if (stat(wal, &sb) == 0 && sb.st_size > 0)
        return espfab_fault_set(f, ESPFAB_E_STORE_OPEN,
                                "%s: on read-only storage with a write-ahead log (%s) that was "
                                "never folded in; copy the database and its -wal file to a "
                                "writable folder and read the copy", s->path, wal);
    sqlite3_close(s->db);
    s->db = NULL;
    if (f)
        espfab_fault_clear(f);
    rc = open_conn(s, true, f);
    if (!rc)
        rc = read_version_settled(s, foreign, f);
    return rc;
}

int espfab__store_open_with(const char *path, unsigned flags, const espfab_schema_migration_t *m,
                            unsigned nm, espfab_store_t **out, int *recovered, espfab_fault_t *f)
{
    if (recovered)
        *recovered = 0;
    if (!out || !path || !path[0])
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_open: no path");
    *out = NULL;
    if (flags & ESPFAB_STORE_READONLY)
        flags |= ESPFAB_STORE_NO_RECOVER;
    espfab_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->flags = flags;
    s->migrations = m;
    s->nmigrations = nm;
    s->lock_fd = -1;
    if (gethostname(s->host, sizeof s->host - 1) != 0)
        snprintf(s->host, sizeof s->host, "unknown-host");

    int rc;
    bool foreign = false;
    if (flags & ESPFAB_STORE_READONLY) {
        rc = open_reader(s, &foreign, f);
        if (rc)
            goto fail;
    } else {
        rc = open_conn(s, false, f);
        if (!rc)
            rc = open_writer(s, f);
        if (!rc)
            rc = read_version(s, &s->version, &foreign, f);
        if (rc)
            goto fail;
    }
    rc = store_exec(s, "PRAGMA foreign_keys=ON", ESPFAB_E_STORE_OPEN, "foreign_keys", f);
    if (rc)
        goto fail;
    if (foreign) {
        rc = espfab_fault_set(f, ESPFAB_E_STORE_OPEN,
                              "%s: has tables but no schema_version: not an espfab database", path);
        goto fail;
    }
    int latest = 0;
    for (unsigned i = 0; i < nm; i++)
        if (m[i].version > latest)
            latest = m[i].version;
    if (s->version > latest) {
        rc = espfab_fault_set(f, ESPFAB_E_STORE_SCHEMA,
                              "%s: schema version %d, this espfab knows versions up to %d",
                              path, s->version, latest);
        goto fail;
    }
    if (s->version == 0 && (flags & ESPFAB_STORE_READONLY)) {
        rc = espfab_fault_set(f, ESPFAB_E_STORE_OPEN,
                              "%s: no espfab schema yet: the file is empty or a station is "
                              "creating it right now; try again in a moment", path);
        goto fail;
    }
    rc = detect_chain(s, f);
    /* A reader reads an older schema as it is; a writer migrates. */
    if (!rc && s->version < latest && !(flags & ESPFAB_STORE_READONLY))
        rc = migrate(s, f);
    if (!rc)
        rc = detect_build(s, f);
    if (!rc && !(flags & ESPFAB_STORE_NO_RECOVER))
        rc = store_recover(s, "still running when the database was opened again", NULL,
                           recovered, f);
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    sqlite3_close(s->db);
    free(s);
    return rc;
}

void espfab_store_close(espfab_store_t *s)
{
    if (!s)
        return;
    sqlite3_close(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* drops every owner lock this connection held */
    free(s);
}

/* ---- runs ---- */

/* Schema 3: which espfab and which stub set the run used ("" = this binary's). */
static int run_build_columns(espfab_store_t *s, int64_t id, espfab_run_t *r, espfab_fault_t *f)
{
    if (!r->espfab_version[0])
        snprintf(r->espfab_version, sizeof r->espfab_version, "%s", espfab_build_version());
    if (!r->stub_package[0])
        snprintf(r->stub_package, sizeof r->stub_package, "%s", espfab_build_stub_package());
    sqlite3_stmt *st;
    int rc = store_prepare(s, "UPDATE runs SET espfab_version=?2, stub_package=?3 WHERE id=?1", &st,
                           ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, r->espfab_version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->stub_package, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "record the run's espfab version");
    sqlite3_finalize(st);
    return rc;
}

int espfab_store_run_begin(espfab_store_t *s, espfab_run_t *r, espfab_fault_t *f)
{
    if (!s || !r)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_run_begin");
    if (!r->start_ms)
        r->start_ms = espfab_store_now_ms();
    if (!r->host[0])
        snprintf(r->host, sizeof r->host, "%s", s->host);
    char iso[32], lock[1100];
    espfab_store_iso8601(r->start_ms, iso);
    store_owner_name(s, lock, sizeof lock);
    sqlite3_stmt *st = NULL;
    /* The owner lock is taken before the row commits: no other process can
     * see the run without its lock held. */
    int rc = store_set_sync(s, true, f);
    if (!rc)
        rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin run", f);
    if (!rc)
        rc = store_prepare(s, s->chain ? "INSERT INTO runs(station, line, operator, lot, "
                                         "profile_name, profile_sha256, mode, host, pid, "
                                         "started_at, start_ms, owner_lock) "
                                         "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"
                                       : "INSERT INTO runs(station, line, operator, lot, "
                                         "profile_name, profile_sha256, mode, host, pid, "
                                         "started_at, start_ms) "
                                         "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                           &st, ESPFAB_E_STORE_WRITE, f);
    int64_t id = 0;
    if (!rc) {
        const char *txt[] = {r->station, r->line, r->operator_name, r->lot,
                             r->profile_name, r->profile_sha256, r->mode, r->host};
        for (int i = 0; i < 8; i++)
            sqlite3_bind_text(st, i + 1, txt[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (int64_t)getpid());
        sqlite3_bind_text(st, 10, iso, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 11, r->start_ms);
        if (s->chain)
            sqlite3_bind_text(st, 12, lock, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "insert run");
        else
            id = sqlite3_last_insert_rowid(s->db);
    }
    sqlite3_finalize(st);
    if (!rc && s->build)
        rc = run_build_columns(s, id, r, f);
    if (!rc && s->chain)
        rc = store_owner_lock(s, id, f);
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit run", f);
    if (rc) {
        store_rollback(s);
        if (id)
            store_owner_unlock(s, id);
        return rc;
    }
    r->id = id;
    return 0;
}

int store_run_end_row(espfab_store_t *s, int64_t run_id, int64_t end_ms, espfab_fault_t *f)
{
    char iso[32];
    espfab_store_iso8601(end_ms, iso);
    espfab_store_chain_head_t h;
    int rc = espfab_store_chain_head(s, &h, f);
    sqlite3_stmt *st;
    if (!rc)
        rc = store_prepare(s, s->chain ? "UPDATE runs SET end_ms=?2, ended_at=?3, chain_seq=?4, "
                                         "chain_head=?5 WHERE id=?1"
                                       : "UPDATE runs SET end_ms=?2, ended_at=?3 WHERE id=?1",
                           &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, end_ms);
    sqlite3_bind_text(st, 3, iso, -1, SQLITE_STATIC);
    if (s->chain && h.seq > 0) {
        sqlite3_bind_int64(st, 4, h.seq);
        sqlite3_bind_text(st, 5, h.sha256, -1, SQLITE_STATIC);
    } else if (s->chain) {
        sqlite3_bind_null(st, 4);
        sqlite3_bind_null(st, 5);
    }
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "end run");
    else if (sqlite3_changes(s->db) != 1)
        rc = espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: no run with id %lld", s->path,
                              (long long)run_id);
    sqlite3_finalize(st);
    return rc;
}

int espfab_store_run_end(espfab_store_t *s, int64_t run_id, int64_t end_ms, espfab_fault_t *f)
{
    if (!s || run_id <= 0)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_run_end: run %lld",
                                (long long)run_id);
    if (!end_ms)
        end_ms = espfab_store_now_ms();
    int rc = store_set_sync(s, true, f);
    if (!rc)
        rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin run end", f);
    if (!rc)
        rc = store_run_end_row(s, run_id, end_ms, f);
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit run end", f);
    if (rc) {
        store_rollback(s);
        return rc;
    }
    store_owner_unlock(s, run_id);
    return 0;
}

/* ---- attempts ---- */

static void bind_text(sqlite3_stmt *st, int col, const char *v)
{
    sqlite3_bind_text(st, col + 1, v, -1, SQLITE_TRANSIENT);
}

static void bind_i64(sqlite3_stmt *st, int col, int64_t v) { sqlite3_bind_int64(st, col + 1, v); }

/* Binds ?1..?C_COUNT from a (same order as ATTEMPT_COLS). */
static void bind_attempt(sqlite3_stmt *st, const espfab_attempt_t *a)
{
    bind_text(st, C_station, a->station);
    bind_text(st, C_line, a->line);
    bind_text(st, C_slot, a->slot);
    bind_text(st, C_port, a->port);
    bind_text(st, C_operator, a->operator_name);
    bind_text(st, C_lot, a->lot);
    bind_text(st, C_profile_name, a->profile_name);
    bind_text(st, C_profile_sha256, a->profile_sha256);
    bind_text(st, C_chip, a->chip);
    if (a->rev_full >= 0)
        bind_i64(st, C_rev_full, a->rev_full);
    else
        sqlite3_bind_null(st, C_rev_full + 1);
    bind_text(st, C_mac, a->mac);
    bind_text(st, C_chip_id, a->chip_id);
    bind_i64(st, C_has_secinfo, a->has_secinfo);
    bind_i64(st, C_secinfo_flags, a->secinfo_flags);
    bind_i64(st, C_flash_jedec, a->flash_jedec);
    bind_i64(st, C_flash_size, a->flash_size);
    bind_i64(st, C_xtal_mhz, a->xtal_mhz);
    bind_text(st, C_loader, a->loader);
    bind_i64(st, C_baud, a->baud);
    char iso[32];
    espfab_store_iso8601(a->start_ms, iso);
    bind_text(st, C_started_at, iso);
    bind_i64(st, C_start_ms, a->start_ms);
    if (a->outcome != ESPFAB_OUTCOME_RUNNING && a->end_ms) {
        espfab_store_iso8601(a->end_ms, iso);
        bind_text(st, C_ended_at, iso);
        bind_i64(st, C_end_ms, a->end_ms);
    } else {
        sqlite3_bind_null(st, C_ended_at + 1);
        sqlite3_bind_null(st, C_end_ms + 1);
    }
    for (int p = 0; p < ESPFAB_PHASE_COUNT; p++)
        bind_i64(st, C_ms_connect + p, a->phase_ms[p]);
    bind_i64(st, C_bytes_sent, (int64_t)a->bytes_sent);
    bind_i64(st, C_bytes_received, (int64_t)a->bytes_received);
    bind_text(st, C_outcome, espfab_outcome_name(a->outcome));
    const espfab_fault_t *fl = &a->fault;
    bind_i64(st, C_error_code, espfab_err_number(fl->code));
    const char *name = fl->code ? espfab_err_name(fl->code) : NULL;
    bind_text(st, C_error_name, name ? name : "");
    if (fl->rom_status >= 0)
        bind_i64(st, C_rom_status, fl->rom_status);
    else
        sqlite3_bind_null(st, C_rom_status + 1);
    if (fl->rom_error >= 0)
        bind_i64(st, C_rom_error, fl->rom_error);
    else
        sqlite3_bind_null(st, C_rom_error + 1);
    bind_i64(st, C_stub_error, fl->stub_error);
    bind_i64(st, C_sys_errno, fl->sys_errno);
    bind_i64(st, C_retries, fl->retries);
    bind_text(st, C_detail, fl->detail);
    bind_text(st, C_message, a->message);
}

/* Inserts or (while running) updates the regions of attempt id. */
static int write_regions(espfab_store_t *s, int64_t id, const espfab_attempt_t *a,
                         espfab_fault_t *f)
{
    if (a->nregions <= 0)
        return 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "INSERT INTO attempt_regions(attempt_id, idx, " REGION_COLS ") "
                        "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12) "
                        "ON CONFLICT(attempt_id, idx) DO UPDATE SET flash_offset=excluded.flash_offset, "
                        "file=excluded.file, sha256=excluded.sha256, "
                        "md5_expected=excluded.md5_expected, md5_device=excluded.md5_device, "
                        "size=excluded.size, wire_size=excluded.wire_size, "
                        "compressed=excluded.compressed, written=excluded.written, "
                        "verified=excluded.verified",
                     &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    int n = a->nregions > ESPFAB_MAX_REGIONS ? ESPFAB_MAX_REGIONS : a->nregions;
    for (int i = 0; i < n && !rc; i++) {
        const espfab_region_result_t *r = &a->regions[i];
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_int64(st, 3, r->offset);
        sqlite3_bind_text(st, 4, r->file, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 5, r->sha256, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 6, r->md5_expected, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, r->md5_device, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 8, r->size);
        sqlite3_bind_int64(st, 9, r->wire_size);
        sqlite3_bind_int(st, 10, r->compressed);
        sqlite3_bind_int(st, 11, r->written);
        sqlite3_bind_int(st, 12, r->verified);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "write attempt region");
    }
    sqlite3_finalize(st);
    return rc;
}

/* Schema 3: the espfab and the stub that wrote attempt id, while it runs
 * (before the statement that completes it). */
static int write_build_columns(espfab_store_t *s, int64_t id, const espfab_attempt_t *a,
                               espfab_fault_t *f)
{
    if (!s->build)
        return 0;
    sqlite3_stmt *st;
    int rc = store_prepare(s, "UPDATE attempts SET espfab_version=?2, stub_sha256=?3 WHERE id=?1",
                           &st, ESPFAB_E_STORE_WRITE, f);
    if (rc)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, a->espfab_version, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, a->stub_sha256, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "record the attempt's espfab and stub");
    sqlite3_finalize(st);
    return rc;
}

static char *build_insert_sql(void)
{
    size_t cap = 4096;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(sql, cap, "INSERT INTO attempts(");
    for (int i = 0; i < C_COUNT; i++)
        n += (size_t)snprintf(sql + n, cap - n, "%s, ", store_col_names[i]);
    n += (size_t)snprintf(sql + n, cap - n, "run_id) VALUES (");
    for (int i = 0; i < C_COUNT; i++)
        n += (size_t)snprintf(sql + n, cap - n, "?%d, ", i + 1);
    snprintf(sql + n, cap - n, "?%d)", C_COUNT + 1);
    return sql;
}

static char *build_update_sql(void)
{
    size_t cap = 4096;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(sql, cap, "UPDATE attempts SET ");
    for (int i = 0; i < C_COUNT; i++)
        n += (size_t)snprintf(sql + n, cap - n, "%s%s=?%d", i ? ", " : "", store_col_names[i], i + 1);
    snprintf(sql + n, cap - n, " WHERE id=?%d", C_COUNT + 1);
    return sql;
}

int espfab_store_attempt_begin(espfab_store_t *s, int64_t run_id, espfab_attempt_t *a,
                               espfab_fault_t *f)
{
    if (!s || !a)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "espfab_store_attempt_begin");
    if (!a->start_ms)
        a->start_ms = espfab_store_now_ms();
    espfab_attempt_t *tmp = malloc(sizeof *tmp);
    char *sql = build_insert_sql();
    if (!tmp || !sql) {
        free(tmp);
        free(sql);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: attempt_begin", s->path);
    }
    *tmp = *a;
    tmp->outcome = ESPFAB_OUTCOME_RUNNING;
    sqlite3_stmt *st = NULL;
    int rc = store_set_sync(s, true, f);
    if (!rc)
        rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin attempt", f);
    if (!rc)
        rc = store_prepare(s, sql, &st, ESPFAB_E_STORE_WRITE, f);
    if (!rc) {
        bind_attempt(st, tmp);
        if (run_id > 0)
            sqlite3_bind_int64(st, C_COUNT + 1, run_id);
        else
            sqlite3_bind_null(st, C_COUNT + 1);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "insert attempt");
    }
    sqlite3_finalize(st);
    int64_t id = rc ? 0 : sqlite3_last_insert_rowid(s->db);
    if (!rc)
        rc = write_regions(s, id, tmp, f);
    if (!rc)
        rc = write_build_columns(s, id, tmp, f);
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit attempt", f);
    if (rc)
        store_rollback(s);
    else
        a->id = id;
    free(tmp);
    free(sql);
    return rc;
}

/* Shared by update (outcome forced to running, NORMAL sync) and finish. */
static int attempt_write(espfab_store_t *s, const espfab_attempt_t *a, bool finish,
                         char chain_out[65], espfab_fault_t *f)
{
    if (!s || !a || a->id <= 0)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG, "attempt %s: no attempt id",
                                finish ? "finish" : "update");
    if (finish && a->outcome == ESPFAB_OUTCOME_RUNNING)
        return espfab_fault_set(f, ESPFAB_E_INVALID_ARG,
                                "attempt %lld: finish needs outcome pass/fail/interrupted",
                                (long long)a->id);
    espfab_attempt_t *tmp = malloc(sizeof *tmp);
    char *sql = build_update_sql();
    if (!tmp || !sql) {
        free(tmp);
        free(sql);
        return espfab_fault_set(f, ESPFAB_E_NOMEM, "%s: attempt write", s->path);
    }
    *tmp = *a;
    if (!finish)
        tmp->outcome = ESPFAB_OUTCOME_RUNNING;
    else if (!tmp->end_ms)
        tmp->end_ms = espfab_store_now_ms();
    sqlite3_stmt *st = NULL;
    int rc = store_set_sync(s, finish, f);
    if (!rc)
        rc = store_exec(s, "BEGIN IMMEDIATE", ESPFAB_E_STORE_WRITE, "begin attempt write", f);
    /* Say plainly why a completed or unknown attempt is refused (the
     * triggers would refuse it too, less readably). */
    if (!rc) {
        rc = store_prepare(s, "SELECT outcome, start_ms FROM attempts WHERE id=?1", &st,
                     ESPFAB_E_STORE_WRITE, f);
        if (!rc) {
            sqlite3_bind_int64(st, 1, a->id);
            int step = sqlite3_step(st);
            if (step == SQLITE_DONE)
                rc = espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: no attempt with id %lld",
                                      s->path, (long long)a->id);
            else if (step != SQLITE_ROW)
                rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, "read attempt");
            else if (strcmp((const char *)sqlite3_column_text(st, 0), "running") != 0)
                rc = espfab_fault_set(f, ESPFAB_E_STORE_WRITE,
                                      "%s: attempt %lld is already completed (%s): a completed "
                                      "attempt is never rewritten", s->path, (long long)a->id,
                                      (const char *)sqlite3_column_text(st, 0));
            else if (!tmp->start_ms) /* caller's copy lacks it: keep the stored start */
                tmp->start_ms = sqlite3_column_int64(st, 1);
            sqlite3_finalize(st);
            st = NULL;
        }
    }
    /* Regions first: the triggers accept them only while the attempt runs. */
    if (!rc)
        rc = write_regions(s, a->id, tmp, f);
    if (!rc)
        rc = write_build_columns(s, a->id, tmp, f);
    if (!rc)
        rc = store_prepare(s, sql, &st, ESPFAB_E_STORE_WRITE, f);
    if (!rc) {
        bind_attempt(st, tmp);
        sqlite3_bind_int64(st, C_COUNT + 1, a->id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = store_sql_fault(s, f, ESPFAB_E_STORE_WRITE, finish ? "finish attempt" : "update attempt");
        else if (sqlite3_changes(s->db) != 1)
            rc = espfab_fault_set(f, ESPFAB_E_STORE_WRITE, "%s: no attempt with id %lld",
                                  s->path, (long long)a->id);
    }
    sqlite3_finalize(st);
    /* Completed: chained in the same transaction, from the row as stored. */
    if (!rc && finish)
        rc = store_chain_append(s, a->id, "finish", chain_out, f);
    if (!rc)
        rc = store_exec(s, "COMMIT", ESPFAB_E_STORE_WRITE, "commit attempt write", f);
    if (rc)
        store_rollback(s);
    free(tmp);
    free(sql);
    return rc;
}

int espfab_store_attempt_update(espfab_store_t *s, const espfab_attempt_t *a, espfab_fault_t *f)
{
    return attempt_write(s, a, false, NULL, f);
}

int espfab_store_attempt_finish(espfab_store_t *s, espfab_attempt_t *a, espfab_fault_t *f)
{
    char link[65];
    int rc = attempt_write(s, a, true, link, f);
    if (rc == 0)
        memcpy(a->chain_sha256, link, sizeof a->chain_sha256);
    return rc;
}

/* ---- queries ---- */

void espfab_store_filter_init(espfab_store_filter_t *flt)
{
    memset(flt, 0, sizeof *flt);
    flt->outcome = -1;
}
