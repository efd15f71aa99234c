/*
 * session.h - one bootloader session: one board on one port, from reset to
 * verified firmware (or identified and stopped, read, erased or compared:
 * the task), as a non-blocking state machine on a libuv loop.
 *
 * Ownership: the caller owns the options and everything they point to (port
 * spec string, region names, blobs, blob cache, stub dir) and keeps them alive
 * until the DONE event; the session takes its own blob references for the
 * blobs it derives (patched headers).  The session owns its port, timers and
 * the attempt record; the record pointer stays valid until
 * espfab_session_free().
 *
 * Threading: one loop, its thread only.  Nothing blocks: bytes read from the
 * port, write completions and uv timers move the state machine.  Callbacks
 * fire on the loop thread, never re-entrantly from espfab_session_new() /
 * espfab_session_start() / espfab_session_cancel() (even an immediate failure
 * such as a missing port is reported from the loop).  Every event carries the
 * session; DONE is the last event and fires exactly once; after DONE the
 * session has closed its port and released its handles, and the caller may
 * call espfab_session_free() (also from inside the DONE callback).
 *
 * Logging: every state change is logged at debug level with the port and
 * "old -> new" (tag "session"); phase timings go into the record.
 *
 * Record: the session fills chip, rev_full, mac, chip_id, secinfo, flash
 * jedec/size, xtal, loader, baud, regions (offset, file, sha256/md5 of the
 * bytes intended = after the 4-byte 0xFF padding and the bootloader header
 * patch, md5_device, sizes, written/verified), phase_ms, bytes, start/end,
 * outcome, fault and message.  Station labels (station, slot, lot...) are
 * the caller's to copy in.  A cancelled session ends INTERRUPTED with
 * ESPFAB_E_CANCELLED.  A pass with unverified regions (ESP8266 ROM, no_verify,
 * secure download mode) says "written, NOT verified (why)" in message.
 */
#ifndef ESPFAB_SESSION_H
#define ESPFAB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "espfab/blob.h"
#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/record.h"
#include "espfab/reset.h"
#include "espfab/setting.h"
#include "espfab/stub.h"

typedef struct espfab_session espfab_session_t;

/* espfab_after_t and espfab_erase_t: setting.h. */

/* One region to write.  blob holds the raw file bytes (interned in the cache;
 * the caller keeps its reference until DONE). */
typedef struct espfab_session_region {
    uint32_t offset;
    const char *name;        /* file name for messages and the record */
    espfab_blob_t *blob;
} espfab_session_region_t;

/* What a session is asked to do.  Every task connects and identifies the
 * board, then (INFO aside) loads the stub unless no_stub, and ends with the
 * `after` reset:
 *   FLASH  : erase (opts.erase), write and verify the regions;
 *   INFO   : nothing more (chip, MAC, flash id in the record);
 *   READ   : read read_size bytes at read_offset into read_out (stub
 *            READ_FLASH with its MD5; the ROM's READ_FLASH_SLOW, then
 *            SPI_FLASH_MD5 where the ROM has it);
 *   ERASE  : opts.erase ALL, or REGIONS: each region's offset and
 *            erase_sizes[i] (blob NULL) rounded out to sectors; stub only (the ROM fails
 *            with ESPFAB_E_PROTO_UNSUPPORTED before anything is erased);
 *   VERIFY : SPI_FLASH_MD5 of each region against its bytes (padded like a
 *            write, header patched only when opts.flash says so); nothing
 *            is written. */
typedef enum espfab_session_task {
    ESPFAB_TASK_FLASH = 0,
    ESPFAB_TASK_INFO,
    ESPFAB_TASK_READ,
    ESPFAB_TASK_ERASE,
    ESPFAB_TASK_VERIFY
} espfab_session_task_t;

/* "flash", "info", "read-flash", "erase", "verify" (the command's name). */
const char *espfab_session_task_name(espfab_session_task_t t);

typedef struct espfab_session_opts {
    const char *port;             /* "/dev/ttyUSB0", a pty path, "tcp://host:port" */
    uint32_t baud;                /* target baud; 0 = 460800 */
    uint32_t initial_baud;        /* 0 = 115200 */
    espfab_chip_id_t chip;        /* expected chip; ESPFAB_CHIP_UNKNOWN = auto */
    espfab_reset_t before;        /* reset.h; ESPFAB_RESET_AUTO = esptool's order */
    const char *custom_reset;     /* "D0|R1|W0.1|D1|R0|W0.05|D0" (before = CUSTOM) */
    espfab_after_t after;
    bool no_stub;                 /* stay with the ROM loader */
    bool no_compress;             /* FLASH_BEGIN/DATA instead of FLASH_DEFL_* */
    espfab_erase_t erase;
    bool no_verify;               /* skip the SPI_FLASH_MD5 check */
    espfab_flash_params_t flash;  /* mode/freq/size patched into the bootloader */
    bool force;                   /* skip chip/revision/image/size checks */
    int min_rev_full, max_rev_full; /* allowed chip revisions (major*100+minor);
                                     * -1 = no bound */
    int connect_attempts;         /* 0 = 7 */
    int usb_vid, usb_pid;         /* the port's USB id where the port cannot tell
                                   * (tcp://, ptys, tests); 0 = ask the port */
    const char *stub_dir;         /* NULL = stub.h's lookup order */
    espfab_stub_cache_t *stubs;   /* a run's shared stubs (then stub_dir is the
                                   * cache's); NULL = the session loads its own */
    espfab_blob_cache_t *cache;   /* shared blob cache (compression, patched copies);
                                   * required when regions are given, and the
                                   * regions' blobs must be interned in it */
    const espfab_session_region_t *regions;
    size_t nregions;              /* <= ESPFAB_MAX_REGIONS */
    espfab_session_task_t task;   /* FLASH by default */
    bool info_only;               /* the same as task = INFO */
    uint32_t read_offset, read_size; /* READ: the flash range */
    uint8_t *read_out;            /* READ: read_size bytes, the caller's, kept until DONE */
    const uint32_t *erase_sizes;  /* ERASE: nregions sizes (the regions have no blob); copied */
    /* Timeouts scale for slow test links: 0 = 1.0 (tests may shrink them). */
    double timeout_scale;
} espfab_session_opts_t;

/* Fills defaults: baud 460800, initial 115200, chip UNKNOWN, before AUTO,
 * after HARD_RESET, erase NONE, revisions unbounded, 7 connect attempts. */
void espfab_session_opts_init(espfab_session_opts_t *o);

/* States, in the order a passing session visits them (some are skipped). */
#define ESPFAB_SESSION_STATES(XX)   \
    XX(IDLE, "idle")                \
    XX(OPEN, "open")                \
    XX(RESET, "reset")              \
    XX(SYNC, "sync")                \
    XX(DETECT, "detect")            \
    XX(READ_INFO, "read-info")      \
    XX(FLASH_ID, "flash-id")        \
    XX(CHECK, "check")              \
    XX(STUB, "stub")                \
    XX(BAUD, "baud")                \
    XX(SPI_PARAMS, "spi-params")    \
    XX(ERASE, "erase")              \
    XX(PREPARE, "prepare")          \
    XX(WRITE, "write")              \
    XX(VERIFY, "verify")            \
    XX(READ, "read")                \
    XX(RUN, "run")                  \
    XX(DONE, "done")

typedef enum espfab_session_state {
#define ESPFAB__SS_ENUM(name, str) ESPFAB_SS_##name,
    ESPFAB_SESSION_STATES(ESPFAB__SS_ENUM)
#undef ESPFAB__SS_ENUM
    ESPFAB_SS_COUNT
} espfab_session_state_t;

typedef enum espfab_session_ev_kind {
    ESPFAB_SESSION_EV_STATE = 0, /* old -> new */
    ESPFAB_SESSION_EV_PROGRESS,  /* write phase progress */
    ESPFAB_SESSION_EV_NOTE,      /* a human line */
    ESPFAB_SESSION_EV_DONE       /* record complete */
} espfab_session_ev_kind_t;

typedef struct espfab_session_ev {
    espfab_session_ev_kind_t kind;
    espfab_session_state_t old_state, new_state; /* STATE */
    int region;                   /* PROGRESS: region index */
    uint64_t done, total;         /* PROGRESS: bytes of the image (uncompressed
                                   * equivalent) written so far in this region / its size */
    const char *note;             /* NOTE: valid during the callback */
    espfab_outcome_t outcome;     /* DONE: PASS, FAIL or INTERRUPTED (cancelled) */
    const espfab_fault_t *fault;  /* DONE: code 0 on pass */
} espfab_session_ev_t;

typedef void (*espfab_session_cb)(espfab_session_t *s, const espfab_session_ev_t *ev,
                                  void *data);

/* Creates a session (nothing is opened yet).  The options are copied (the
 * pointed-to data is not).  NULL on allocation failure or bad options
 * (NULL port, too many regions). */
espfab_session_t *espfab_session_new(uv_loop_t *loop, const espfab_session_opts_t *o,
                                     espfab_session_cb cb, void *data);
/* Starts: the first work happens from the loop.  Returns 0, or an error if
 * already started. */
int espfab_session_start(espfab_session_t *s);
/* Stops after the current command/block: the board is not passed; the
 * record's outcome is INTERRUPTED with fault ESPFAB_E_CANCELLED.  DONE still
 * fires (from the loop).  No effect after DONE. */
void espfab_session_cancel(espfab_session_t *s);
/* Frees; only before start or after DONE (also from the DONE callback). */
void espfab_session_free(espfab_session_t *s);

const espfab_attempt_t *espfab_session_record(const espfab_session_t *s);
espfab_session_state_t espfab_session_state(const espfab_session_t *s);
const char *espfab_session_state_name(espfab_session_state_t st); /* "write" */
/* The chip detected (NULL until DETECT is done). */
const espfab_chip_t *espfab_session_chip(const espfab_session_t *s);

#endif
