/*
 * station.h - the station: many bootloader sessions on one libuv loop.
 *
 * One espfab_station_t drives one session per slot, all on the caller's
 * uv_loop_t and thread.  Nothing here blocks except the SQLite writes, which
 * are a few per board (begin, identity update, finish).  Images are loaded
 * once (by the profile loader), interned in one blob cache and compressed
 * once per distinct image on the libuv threadpool, never per board.  A slow,
 * silent or failing board never delays another: each slot only reacts to its
 * own session's events.
 *
 * Modes: batch flashes every slot once and finishes; continuous (a jig) has
 * each slot wait for a board (its port appears / opens), flash it, wait for
 * its removal (the port disappears / stops opening), and start over.
 *
 * Recording: when a slot's session starts, an attempt row is created
 * (station, slot, port, operator, lot, profile name + SHA-256); it is
 * updated when the chip, MAC and flash id are known and completed when the
 * session ends (synchronous=FULL).  In continuous mode a slot with no board
 * records nothing.  espfab_station_abort() records in-flight boards as
 * interrupted.
 *
 * Events: the callback fires on the loop thread for slot state changes,
 * write progress (at most every 100 ms per slot), finished boards (after the
 * attempt is durably recorded) and once with ESPFAB_STATION_EV_FINISHED
 * when the station has nothing left to do (batch done, or stopped).
 */
#ifndef ESPFAB_STATION_H
#define ESPFAB_STATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "espfab/err.h"
#include "espfab/profile.h"
#include "espfab/record.h"
#include "espfab/station_cfg.h"
#include "espfab/store.h"

typedef struct espfab_station espfab_station_t;

typedef enum espfab_slot_state {
    ESPFAB_SLOT_IDLE = 0,   /* not started yet */
    ESPFAB_SLOT_WAITING,    /* continuous: waiting for a board */
    ESPFAB_SLOT_FLASHING,   /* a session runs */
    ESPFAB_SLOT_PASSED,     /* last board passed (batch: final) */
    ESPFAB_SLOT_FAILED,     /* last board failed (batch: final) */
    ESPFAB_SLOT_REMOVE,     /* continuous: waiting for the board to be removed */
    ESPFAB_SLOT_PAUSED,     /* operator paused it */
    ESPFAB_SLOT_STOPPED     /* station stopping: takes no new board */
} espfab_slot_state_t;

const char *espfab_slot_state_name(espfab_slot_state_t s);

typedef struct espfab_slot_status {
    const char *name;             /* slot name */
    const char *port;             /* port spec as resolved (or as configured) */
    const char *profile_name;
    espfab_slot_state_t state;
    const char *phase;            /* session state name while flashing, else "" */
    uint64_t done, total;         /* write-phase bytes (intended bytes) */
    double bytes_per_s;           /* write rate over the last second(s) */
    double eta_s;                 /* -1 unknown */
    const espfab_attempt_t *attempt; /* current or last attempt, NULL before the first */
    unsigned passed, failed;      /* boards on this slot since start */
} espfab_slot_status_t;

typedef enum espfab_station_event_type {
    ESPFAB_STATION_EV_SLOT = 0,   /* slot state (or session phase) changed */
    ESPFAB_STATION_EV_PROGRESS,   /* write progress */
    ESPFAB_STATION_EV_BOARD_DONE, /* attempt finished and recorded */
    ESPFAB_STATION_EV_NOTE,       /* a human line about a slot (text) */
    ESPFAB_STATION_EV_FINISHED    /* nothing left to do */
} espfab_station_event_type_t;

typedef struct espfab_station_event {
    espfab_station_event_type_t type;
    int slot;                          /* -1 for FINISHED */
    const espfab_slot_status_t *status;
    const espfab_attempt_t *attempt;   /* BOARD_DONE: the recorded attempt */
    const char *text;                  /* NOTE */
} espfab_station_event_t;

typedef void (*espfab_station_cb)(espfab_station_t *st, const espfab_station_event_t *ev,
                                  void *data);

typedef struct espfab_station_opts {
    const espfab_station_cfg_t *cfg;   /* identity, slots, mode (required) */
    const espfab_profile_t *profile;   /* default profile (required unless every slot has one) */
    const espfab_profile_t *const *slot_profiles; /* optional per-slot override, cfg->nslots entries */
    espfab_station_mode_t mode;
    espfab_store_t *store;             /* required: no board without its record */
    int64_t run_id;                    /* store run row (0 = none) */
    const char *stub_dir;              /* NULL = default lookup */
    uint32_t grace_ms;                 /* drain time on stop (default 30000) */
    unsigned max_boards;               /* continuous: finish after this many boards (0 = no limit) */
    uint32_t poll_ms;                  /* continuous presence polling (default 250) */
} espfab_station_opts_t;

int espfab_station_new(uv_loop_t *loop, const espfab_station_opts_t *opts, espfab_station_cb cb,
                       void *data, espfab_station_t **out, espfab_fault_t *f);
int espfab_station_start(espfab_station_t *st);
/* First Ctrl-C: take no new boards, let in-flight boards finish within the
 * grace time (then cancel them, recorded interrupted). */
void espfab_station_stop(espfab_station_t *st);
/* Second Ctrl-C: cancel in-flight boards now; they are recorded interrupted. */
void espfab_station_abort(espfab_station_t *st);
/* Operator keys: pause/resume a slot (takes effect between boards), retry a
 * failed slot (batch: flash it again). */
void espfab_station_pause_slot(espfab_station_t *st, int slot, bool pause);
void espfab_station_retry_slot(espfab_station_t *st, int slot);

size_t espfab_station_slot_count(const espfab_station_t *st);
const espfab_slot_status_t *espfab_station_slot(const espfab_station_t *st, int slot);

typedef struct espfab_station_totals {
    unsigned attempts, passed, failed, interrupted;
    /* of the failed and interrupted: units that ended before their MAC was
     * read (counted as units in the yield, shown apart) */
    unsigned unidentified;
    unsigned in_flight;
    /* boards never flashed because their attempt could not be recorded (no
     * board without its record): counted apart, never silently dropped */
    unsigned not_recorded;
    bool store_full;          /* one of those writes failed because the disk (or the
                                 file size limit) is full */
    double yield;             /* passed / finished attempts, 0..1 (0 when none) */
    double boards_per_hour;   /* passed boards per hour since start */
    int64_t start_ms;
} espfab_station_totals_t;
void espfab_station_totals(const espfab_station_t *st, espfab_station_totals_t *t);

/* Only after FINISHED (or before start). */
void espfab_station_free(espfab_station_t *st);

#endif
