/*
 * store_int.h - what the store's files share (store.c: open, migrations,
 * recovery, runs, attempts, queries; chain.c: the tamper-evident chain and
 * the triggers; owner.c: owner locks and recovery; check.c: `db check`).  Nothing here
 * is public: the rest of espfab uses espfab/store.h.
 *
 * Ownership and threading as in store.h: one espfab_store_t is one SQLite
 * connection used from one thread.  The store_chain_* and store_owner_*
 * functions that write run inside the caller's open transaction.
 */
#ifndef ESPFAB_STORE_INT_H
#define ESPFAB_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/store.h"
#include "store/schema.h"

struct espfab_store {
    sqlite3 *db;
    char path[1024];
    int version;
    unsigned flags;
    char host[64];
    const espfab_schema_migration_t *migrations;
    unsigned nmigrations;
    bool chain;            /* attempt_chain, maintenance and the runs' owner columns exist */
    bool build;            /* schema 3's espfab_version / stub columns exist */
    bool immutable;        /* opened with immutable=1 (read-only storage) */
    int lock_fd;           /* the owner lock file, -1 until a run begins */
    bool read_snapshot;    /* espfab_store_read_begin() opened a read transaction */
};

/* ---- the attempts table's columns (store.c writes them, query.c reads them) ---- */

/* Every column of attempts except id and run_id, in statement order.  The
 * phase columns follow espfab_phase_t. */
#define ATTEMPT_COLS(X)                                                            \
    X(station) X(line) X(slot) X(port) X(operator) X(lot) X(profile_name)          \
    X(profile_sha256) X(chip) X(rev_full) X(mac) X(chip_id) X(has_secinfo)         \
    X(secinfo_flags) X(flash_jedec) X(flash_size) X(xtal_mhz) X(loader) X(baud)    \
    X(started_at) X(start_ms) X(ended_at) X(end_ms)                                \
    X(ms_connect) X(ms_identify) X(ms_stub) X(ms_baud) X(ms_erase) X(ms_write)     \
    X(ms_verify) X(ms_reset) X(bytes_sent) X(bytes_received) X(outcome)            \
    X(error_code) X(error_name) X(rom_status) X(rom_error) X(stub_error)           \
    X(sys_errno) X(retries) X(detail) X(message)

enum {
#define X(c) C_##c,
    ATTEMPT_COLS(X)
#undef X
    C_COUNT
};

extern const char *const store_col_names[C_COUNT];

#define REGION_COLS "flash_offset, file, sha256, md5_expected, md5_device, size, wire_size, " \
                    "compressed, written, verified"

/* ---- store.c helpers ---- */

/* Maps the connection's last SQLite error to an espfab code and fault. */
int store_sql_fault(espfab_store_t *s, espfab_fault_t *f, int fallback, const char *what);
int store_exec(espfab_store_t *s, const char *sql, int fallback, const char *what,
               espfab_fault_t *f);
void store_rollback(espfab_store_t *s);
int store_prepare(espfab_store_t *s, const char *sql, sqlite3_stmt **st, int fallback,
                  espfab_fault_t *f);
void store_copy_text(sqlite3_stmt *st, int i, char *dst, size_t n);
/* One integer of a one-row SELECT; *out untouched if there is no row or it is NULL. */
int store_query_int(espfab_store_t *s, const char *sql, int64_t *out, espfab_fault_t *f);
int store_set_sync(espfab_store_t *s, bool full, espfab_fault_t *f);
/* Ends run_id with the chain head as it is now (inside the caller's transaction). */
int store_run_end_row(espfab_store_t *s, int64_t run_id, int64_t end_ms, espfab_fault_t *f);
/* (owner.c) Marks dead owners' running attempts interrupted (and chains them), ends
 * their runs.  detail says why; action non-NULL also records a maintenance
 * event.  Opens and commits its own transaction. */
int store_recover(espfab_store_t *s, const char *why, const char *action, int *recovered,
                  espfab_fault_t *f);

/* ---- chain.c ---- */

/* Appends completed attempt id to the chain (origin: "finish", "recovery",
 * "migration", "close-stale"); out (may be NULL) receives the link's hash,
 * "" when the store keeps no chain.  Inside the caller's write transaction;
 * a no-op when !s->chain. */
int store_chain_append(espfab_store_t *s, int64_t attempt_id, const char *origin,
                       char out[65], espfab_fault_t *f);
/* Chains, in id order, every completed attempt not chained yet (the rows an
 * older schema completed); *n receives how many.  Inside the caller's
 * transaction; records a maintenance event when n > 0. */
int store_chain_backfill(espfab_store_t *s, int64_t *n, espfab_fault_t *f);
/* Recomputes the hash of link seq (prev = its predecessor's hash) from the
 * attempt's current row and regions.  Returns 0 with *found false when the
 * attempt row is gone. */
int store_chain_hash(espfab_store_t *s, int64_t seq, const char *prev, int64_t attempt_id,
                     char out[65], bool *found, bool *running, espfab_fault_t *f);
/* Inserts a maintenance row (inside the caller's transaction). */
int store_maintenance(espfab_store_t *s, const char *action, const char *detail,
                      espfab_fault_t *f);

/* The triggers migrations up to s->version create, parsed from their SQL:
 * name and statement text exactly as sqlite_master keeps it. */
typedef struct store_trigger {
    char name[64];
    const char *sql;       /* into the migration text; not NUL-terminated */
    size_t len;
} store_trigger_t;
/* Fills up to cap triggers; returns how many. */
size_t store_triggers_expected(const espfab_store_t *s, store_trigger_t *t, size_t cap);

/* ---- owner.c ---- */

/* Name of the owner lock file (beside the database): "<db file name>.owners". */
void store_owner_name(const espfab_store_t *s, char *out, size_t n);
/* Takes the exclusive lock on byte run_id of the owner file (creating it). */
int store_owner_lock(espfab_store_t *s, int64_t run_id, espfab_fault_t *f);
void store_owner_unlock(espfab_store_t *s, int64_t run_id);
/* true when nobody holds the lock of run_id in the file named lock_name
 * beside the database (a missing file: nobody). */
bool store_owner_gone(const espfab_store_t *s, const char *lock_name, int64_t run_id);

#endif
