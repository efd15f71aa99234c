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
 * every attempt still 'running' whose run's process is gone (another host's
 * runs are not touched; attempts without a run always are) as 'interrupted'
 * with ESPFAB_E_INTERRUPTED and a message, and its run as ended.
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
                                         an older schema is ESPFAB_E_STORE_SCHEMA too) */

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
 * (running is ESPFAB_E_INVALID_ARG); end_ms 0 = now.  Durable on return. */
int espfab_store_attempt_finish(espfab_store_t *s, const espfab_attempt_t *a, espfab_fault_t *f);

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
} espfab_store_health_t;

int espfab_store_check(espfab_store_t *s, espfab_store_health_t *h, espfab_fault_t *f);

/* "2026-11-23T20:55:45.123Z" for an epoch-ms time; out holds >= 25 bytes. */
void espfab_store_iso8601(int64_t ms, char out[32]);
/* Current time, epoch ms. */
int64_t espfab_store_now_ms(void);

#endif
