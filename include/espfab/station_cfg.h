/*
 * station_cfg.h - the station file (station.ini): who and where this station
 * is, which database it records into, and which jig positions (slots) it
 * flashes.
 *
 *   [station]
 *   id = line3-st1   line = line3   operator = alice   lot = WO-2026-0042
 *   database = espfab.db          (relative to the station file)
 *   profile = profiles/app.ini    (optional default profile, same rule)
 *   mode = batch | continuous     (default batch)
 *   [slot A1]
 *   port = /dev/serial/by-path/pci-0000:00:14.0-usb-0:1.1:1.0-port0
 *   ; or a glob (*?[ ]) over /dev/serial/by-path, a device path, tcp://HOST:PORT
 *   before = no-reset             (optional, overrides the profile)
 *   baud = 921600                 (optional, overrides the profile)
 *   profile = profiles/s3.ini     (optional: this slot flashes another product)
 *
 * A slot is a physical position on the hub, so it is best named by its
 * /dev/serial/by-path link (stable across replugs) rather than a ttyUSB
 * number.  Validation is the same as for profiles: faults carry
 * "file:line: " details.  The caller owns the struct and frees it with
 * espfab_station_cfg_free().  No global state; thread-safe; no callbacks.
 */
#ifndef ESPFAB_STATION_CFG_H
#define ESPFAB_STATION_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/err.h"
#include "espfab/reset.h"

#define ESPFAB_STATION_MAX_SLOTS 256

typedef enum espfab_station_mode {
    ESPFAB_STATION_BATCH = 0,     /* flash what is plugged in, then stop */
    ESPFAB_STATION_CONTINUOUS     /* keep going: flash each board as it is plugged in */
} espfab_station_mode_t;

typedef struct espfab_slot_cfg {
    char name[64];                /* NAME of [slot NAME] */
    char port[512];               /* as written: path, glob or tcp:// URL */
    bool is_glob;                 /* port contains * ? or [ */
    bool is_tcp;                  /* port starts with tcp:// */
    bool has_before;              /* before = given: it overrides the profile's */
    espfab_reset_t before;        /* setting.h names; valid when has_before */
    uint32_t baud;                /* 0 = use the profile's */
    char profile[1024];           /* absolute; "" = the station's / --profile */
    int usb_vid, usb_pid;         /* usb_id = VID:PID for ports that cannot tell; 0 = none */
    int line;                     /* line of the [slot NAME] header */
} espfab_slot_cfg_t;

typedef struct espfab_station_cfg {
    char path[1024];              /* absolute path of the station file ("" from text) */
    char id[64];                  /* required */
    char line[64];
    char operator_name[64];
    char lot[64];                 /* work order */
    char database[1024];          /* absolute; default "<dir>/espfab.db" */
    char profile[1024];           /* absolute; "" when not given */
    espfab_station_mode_t mode;
    int station_line;             /* line of the [station] header (0 from --ports text) */
    size_t nslots;
    espfab_slot_cfg_t *slots;     /* malloc'd array of nslots, in file order */
} espfab_station_cfg_t;

int espfab_station_cfg_load(const char *path, espfab_station_cfg_t *out, espfab_fault_t *f);
/* From memory; base_dir resolves relative paths (NULL = cwd). */
int espfab_station_cfg_parse(const char *text, size_t len, const char *display_name,
                             const char *base_dir, espfab_station_cfg_t *out,
                             espfab_fault_t *f);
void espfab_station_cfg_free(espfab_station_cfg_t *c);

/* The one rule for the station's labels (id, line, operator, lot), from the
 * station file or the command line alike: 1 to n-1 characters, no control
 * character (a newline or escape would forge lines in logs and `db stats`).
 * Copies value into dst (n bytes) and returns 0, or returns -1 and writes
 * what is wrong ("must be 1 to 63 characters", "contains a control
 * character") into why (whylen bytes); dst is then untouched. */
int espfab_station_label_copy(char *dst, size_t n, const char *value, char *why, size_t whylen);

/* What a station needs before `espfab run` opens its database: at least one
 * slot, and no glob slot that matches several devices right now (it could
 * not tell which board is at that position).  Returns 0, or
 * ESPFAB_E_STATION_NO_PORTS / ESPFAB_E_PORT_BAD_SPEC with "file:line: ",
 * the devices and what to change. */
int espfab_station_cfg_check_run(const espfab_station_cfg_t *c, espfab_fault_t *f);

const char *espfab_station_mode_name(espfab_station_mode_t m); /* "batch" "continuous" */
/* The slot called name, or NULL. */
const espfab_slot_cfg_t *espfab_station_cfg_slot(const espfab_station_cfg_t *c, const char *name);

/* Resolves a slot to the port spec to open now.  tcp:// URLs are returned
 * as is; a device path must exist; a glob (glob(3)) must match exactly one
 * path, which is returned after following symlinks only when follow is true
 * (by-path links are normally opened as they are).
 * Returns 0 (dev filled), ESPFAB_E_PORT_NOT_FOUND when nothing is plugged in
 * at that position (the slot is empty: not a failure for the station),
 * ESPFAB_E_PORT_BAD_SPEC when a glob matches several devices, or
 * ESPFAB_E_BUFFER_TOO_SMALL. */
int espfab_station_slot_resolve(const espfab_slot_cfg_t *s, bool follow, char *dev, size_t len,
                                espfab_fault_t *f);

#endif
