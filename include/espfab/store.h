/*
 * store.h - SQLite traceability: one row per board attempt, kept forever.
 *
 * Schema: versioned migrations (schema/NNNN_*.sql, embedded at build time)
 * applied in order, each in its own transaction, when the database is
 * opened; a database whose schema_version is newer than this binary is
 * refused (ESPFAB_E_STORE_SCHEMA).  Tables: runs (one per `espfab run`),
 * attempts (one per board attempt, referencing its run), attempt_regions
 * (one per image written).  Triggers make the record append-only: deleting
 * an attempt, run or region is refused, and a completed attempt (outcome not
 * 'running') can no longer be changed.
 *
 * Durability: WAL journal; attempt_begin and attempt_finish commit with
 * synchronous=FULL (a finished attempt survives a power cut); intermediate
 * updates commit with synchronous=NORMAL.  Readers (reports, console) use
 * their own connection and never block the station.  busy_timeout is 5 s.
 *
 * Recovery: espfab_store_open() (without ESPFAB_STORE_NO_RECOVER) marks
 * every attempt still 'running' whose owner is gone as 'interrupted' with
 * ESPFAB_E_INTERRUPTED and a message, and its run as ended.  A run's station
 * holds an exclusive lock (byte <run id> of "<db>.owners" beside the
 * database, named in the run row) from run_begin until run_end or its
 * death: a free lock proves the owner gone, whatever the pid or host name
 * say (src/store/owner.c).  Runs of an older espfab (no lock recorded) fall
 * back to host + pid; attempts without a run are always recovered.
 *
 * Writers (opened without NO_RECOVER) refuse a database that fails PRAGMA
 * quick_check (ESPFAB_E_STORE_CORRUPT): nothing is written into it.
 * Readers (READONLY) never write: a database whose folder or file is
 * read-only (archived lot, read-only mount) is opened immutable; an older
 * schema is read as it is; a database still being created (no schema yet)
 * is waited for up to 3 s, then refused with that reason.
 *
 * Threading: an espfab_store_t is one SQLite connection; use it from one
 * thread (the station's loop thread).  Every call is synchronous.  The query
 * callback runs on the calling thread, inside espfab_store_query(); it must
 * not write through the same store handle.
 */
#ifndef ESPFAB_STORE_H
#define ESPFAB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/err.h"
#include "espfab/record.h"

typedef struct espfab_store espfab_store_t;

/* Flags for espfab_store_open(). */
#define ESPFAB_STORE_NO_RECOVER 0x1u  /* readers and `db check`: leave running attempts alone */
#define ESPFAB_STORE_READONLY   0x2u  /* open read-only (implies NO_RECOVER; no migrations:
                                         an older schema is read as it is) */

/* Opens (creating it if needed, unless READONLY) and migrates.  *recovered
 * (may be NULL) receives how many running attempts were marked interrupted.
 * Errors: ESPFAB_E_STORE_OPEN, _SCHEMA, _WRITE, _BUSY, _CORRUPT (not a
 * database). */
int espfab_store_open(const char *path, unsigned flags, espfab_store_t **out, int *recovered,
                      espfab_fault_t *f);
void espfab_store_close(espfab_store_t *s);

/* Newest schema version this binary knows; version of the open database. */
int espfab_store_schema_latest(void);
int espfab_store_schema_version(espfab_store_t *s);

/* One `espfab run`. */
typedef struct espfab_run {
    int64_t id;                  /* set by run_begin */
    char station[64], line[64], operator_name[64], lot[64];
    char profile_name[64], profile_sha256[65];
    char mode[16];               /* "batch", "continuous", "flash" ... */
    char host[64];               /* "" = gethostname() */
    char espfab_version[24];     /* "" = this binary's (build.h); schema >= 3 */
    char stub_package[64];       /* "" = the build's stub set, "esptool-js 0.7.0"; schema >= 3 */
    int64_t start_ms, end_ms;    /* epoch ms; start 0 = now */
} espfab_run_t;

int espfab_store_run_begin(espfab_store_t *s, espfab_run_t *r, espfab_fault_t *f);
/* end_ms 0 = now. */
int espfab_store_run_end(espfab_store_t *s, int64_t run_id, int64_t end_ms, espfab_fault_t *f);

/* Creates the attempt row (outcome 'running') from every field of a (start_ms
 * 0 = now, written back) and its regions; sets a->id.  run_id 0: no run. */
int espfab_store_attempt_begin(espfab_store_t *s, int64_t run_id, espfab_attempt_t *a,
                               espfab_fault_t *f);
/* Rewrites the running attempt a->id from a (chip, MAC, flash id, regions...
 * as they become known; a->start_ms 0 keeps the stored start).  Regions are
 * upserted by index and never removed.  Refused (ESPFAB_E_STORE_WRITE, detail
 * "already completed") once the attempt is completed. */
int espfab_store_attempt_update(espfab_store_t *s, const espfab_attempt_t *a, espfab_fault_t *f);
/* Completes it: everything in a, with a->outcome pass/fail/interrupted
 * (running is ESPFAB_E_INVALID_ARG); end_ms 0 = now.  Durable on return.
 * On success a->chain_sha256 receives the attempt's link in the record's
 * hash chain (docs/record.md), so what the station reports live carries it. */
int espfab_store_attempt_finish(espfab_store_t *s, espfab_attempt_t *a, espfab_fault_t *f);

/* Query filter: zero/NULL fields do not filter. */
typedef struct espfab_store_filter {
    int64_t id;                  /* one attempt */
    int64_t run_id;
    const char *lot, *profile_name, *station, *slot, *mac, *chip;
    int64_t from_ms, to_ms;      /* start_ms in [from_ms, to_ms) when non-zero */
    int outcome;                 /* espfab_outcome_t, -1 = any */
    bool newest_first;
    int limit;                   /* 0 = no limit */
} espfab_store_filter_t;

/* Sets every field to "no filter" (outcome -1). */
void espfab_store_filter_init(espfab_store_filter_t *flt);

/* Called once per attempt, in id order (or reverse with newest_first), with
 * its regions filled.  Return non-zero to stop (espfab_store_query then
 * returns that value). */
typedef int (*espfab_store_attempt_cb)(const espfab_attempt_t *a, int64_t run_id, void *data);

/* Returns 0, the callback's non-zero value, or an error code. */
int espfab_store_query(espfab_store_t *s, const espfab_store_filter_t *flt,
                       espfab_store_attempt_cb cb, void *data, espfab_fault_t *f);

/* ---- the report's read-only queries (query.c) ----
 *
 * They aggregate inside SQLite (GROUP BY, window functions), so the caller
 * holds no table the size of the database: SQLite sorts within its page
 * cache and spills to temporary files.  Filters as espfab_store_query()
 * (limit and newest_first are ignored).  Callbacks run on the calling
 * thread inside the call; strings are valid during the call only; non-zero
 * from a callback stops the query and is returned. */

/* One read snapshot for several queries: every query up to
 * espfab_store_read_end() sees the database as it was at begin (a read
 * transaction; in WAL mode a station keeps writing meanwhile). */
int espfab_store_read_begin(espfab_store_t *s, espfab_fault_t *f);
void espfab_store_read_end(espfab_store_t *s);

/* The largest region count of a matched attempt (0 when none), at most
 * ESPFAB_MAX_REGIONS. */
int espfab_store_max_regions(espfab_store_t *s, const espfab_store_filter_t *flt, int *n,
                             espfab_fault_t *f);

/* A board: the matched attempts with one non-empty MAC. */
typedef struct espfab_store_board {
    const char *mac;
    int64_t attempts;
    bool ever_passed;   /* one of them passed */
    bool first_passed;  /* the first one (earliest start, then lowest id) passed */
} espfab_store_board_t;

/* Number of boards, of boards that passed, of boards whose first attempt passed. */
int espfab_store_board_counts(espfab_store_t *s, const espfab_store_filter_t *flt,
                              int64_t *boards, int64_t *passed, int64_t *first_pass,
                              espfab_fault_t *f);
/* Once per board (only those that never passed when never_passed_only) with
 * its deciding attempt (its latest passed attempt by (start, id), else its
 * latest attempt), regions filled; in the deciding attempts' (start, id)
 * order. */
typedef int (*espfab_store_board_cb)(const espfab_store_board_t *b, const espfab_attempt_t *a,
                                     void *data);
int espfab_store_query_boards(espfab_store_t *s, const espfab_store_filter_t *flt,
                              bool never_passed_only, espfab_store_board_cb cb, void *data,
                              espfab_fault_t *f);

/* Tallies per lot, station, line or UTC day of the start ("YYYY-MM-DD"),
 * in key order. */
typedef enum espfab_store_group {
    ESPFAB_STORE_BY_LOT = 0,
    ESPFAB_STORE_BY_STATION,
    ESPFAB_STORE_BY_LINE,
    ESPFAB_STORE_BY_DAY
} espfab_store_group_t;
typedef struct espfab_store_tally {
    const char *key;
    int64_t attempts, passed, failed, interrupted;
    int64_t boards, boards_passed; /* distinct non-empty MACs; of those, with a passed attempt */
} espfab_store_tally_t;
typedef int (*espfab_store_tally_cb)(const espfab_store_tally_t *t, void *data);
int espfab_store_query_tally(espfab_store_t *s, const espfab_store_filter_t *flt,
                             espfab_store_group_t by, espfab_store_tally_cb cb, void *data,
                             espfab_fault_t *f);

/* Health of a database (`espfab db check`). */
typedef struct espfab_store_health {
    bool integrity_ok;
    char integrity[256];         /* first line of PRAGMA integrity_check */
    int schema_version;
    int64_t attempts, runs;
    int64_t running;             /* attempts still open */
    int64_t interrupted;
    int64_t interrupted_open;    /* interrupted, and no later pass for the same MAC */
    int64_t passed, failed;
    int64_t interrupted_unidentified; /* interrupted before the MAC was read: closed history */
    bool chain;                  /* schema has the attempt chain (version >= 2) */
    int64_t chained;             /* links in the chain */
    int64_t maintenance;         /* maintenance events recorded */
} espfab_store_health_t;

int espfab_store_check(espfab_store_t *s, espfab_store_health_t *h, espfab_fault_t *f);

/* ---- tamper evidence (docs/record.md) ----
 * Every completed attempt (pass, fail, interrupted), with its regions, is
 * chained when it completes, in the same transaction: link seq holds
 * SHA-256(seq, the previous link's hash, the stored row and regions in a
 * canonical encoding).  espfab_store_run_end() stores the chain head with
 * the run's end; reports print it.  Databases made by schema version 1 are
 * chained, in id order, by the migration to version 2. */
typedef struct espfab_store_chain_head {
    int64_t seq;                 /* 0: no link yet (or a schema without the chain) */
    int64_t attempt_id;
    char sha256[65];
} espfab_store_chain_head_t;

int espfab_store_chain_head(espfab_store_t *s, espfab_store_chain_head_t *h, espfab_fault_t *f);

typedef enum espfab_store_finding_kind {
    ESPFAB_FINDING_TRIGGER_MISSING,  /* a protecting trigger was dropped */
    ESPFAB_FINDING_TRIGGER_ALTERED,  /* ... or replaced by another text */
    ESPFAB_FINDING_CHAIN_MISMATCH,   /* a chained attempt or its regions changed */
    ESPFAB_FINDING_CHAIN_BROKEN,     /* a link does not follow its predecessor */
    ESPFAB_FINDING_CHAIN_GAP,        /* links deleted */
    ESPFAB_FINDING_CHAIN_ORPHAN,     /* a link's attempt is gone or running again */
    ESPFAB_FINDING_REUSED_ID,        /* an attempt id chained twice: deleted and reused */
    ESPFAB_FINDING_UNCHAINED,        /* completed but never chained: completed outside espfab */
    ESPFAB_FINDING_ID_GAP,           /* attempt or run ids skip: rows deleted */
    ESPFAB_FINDING_RUN_HEAD          /* a run's recorded chain head is no longer in the chain */
} espfab_store_finding_kind_t;

typedef struct espfab_store_finding {
    espfab_store_finding_kind_t kind;
    int64_t attempt_id, seq, run_id; /* 0 where it does not apply */
    char text[320];                  /* one line naming the row */
} espfab_store_finding_t;

/* Called on the calling thread, inside espfab_store_verify(). */
typedef void (*espfab_store_finding_cb)(const espfab_store_finding_t *x, void *data);

/* Recomputes the chain and looks for missing or altered triggers, id gaps,
 * reused ids, unchained completed attempts and stale run heads; each finding
 * goes to cb (may be NULL), *n (may be NULL) receives their number.  Reads
 * only.  Returns 0 or a store error. */
int espfab_store_verify(espfab_store_t *s, espfab_store_finding_cb cb, void *data, int64_t *n,
                        espfab_fault_t *f);

/* Recreates every missing or altered trigger the migrations made and, when
 * there was one, records a 'repair-triggers' maintenance event naming them.
 * *repaired (may be NULL) receives how many. */
int espfab_store_repair_triggers(espfab_store_t *s, int *repaired, espfab_fault_t *f);

/* Closes running attempts whose owner is provably gone (its owner lock is
 * free; for runs of an older espfab without a lock: same host, pid gone) as
 * interrupted with the reason, chains them, ends their runs and records a
 * 'close-stale' maintenance event.  Completed rows are never touched. */
int espfab_store_close_stale(espfab_store_t *s, int *closed, espfab_fault_t *f);

/* "2026-11-23T20:55:45.123Z" for an epoch-ms time; out holds >= 25 bytes. */
void espfab_store_iso8601(int64_t ms, char out[32]);
/* Current time, epoch ms. */
int64_t espfab_store_now_ms(void);

#endif
