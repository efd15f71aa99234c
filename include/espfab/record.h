/*
 * record.h - what espfab records about one board attempt.  The session fills
 * it as it learns things (chip, MAC, flash id, per-region results, timings);
 * the store writes it (store.h); the console, JSON log and reports read it.
 * Plain data, no pointers to anything the record does not own.
 */
#ifndef ESPFAB_RECORD_H
#define ESPFAB_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/err.h"

#define ESPFAB_MAX_REGIONS 16

typedef enum espfab_outcome {
    ESPFAB_OUTCOME_RUNNING = 0,
    ESPFAB_OUTCOME_PASS,
    ESPFAB_OUTCOME_FAIL,
    ESPFAB_OUTCOME_INTERRUPTED
} espfab_outcome_t;

const char *espfab_outcome_name(espfab_outcome_t o); /* "running" "pass" "fail" "interrupted" */

typedef struct espfab_region_result {
    uint32_t offset;
    char file[256];          /* file name as given in the profile / command line */
    char sha256[65];         /* hex SHA-256 of the bytes intended (after header patch) */
    char md5_expected[33];   /* hex MD5 of the bytes intended */
    char md5_device[33];     /* hex MD5 the device reported, "" if not read */
    uint32_t size;           /* bytes intended */
    uint32_t wire_size;      /* bytes sent for it (compressed size when deflated) */
    bool compressed;
    bool written;
    bool verified;           /* device MD5 == expected */
} espfab_region_result_t;

/* Phases timed per attempt (milliseconds). */
typedef enum espfab_phase {
    ESPFAB_PHASE_CONNECT = 0, /* open + reset + sync */
    ESPFAB_PHASE_IDENTIFY,    /* chip, MAC, flash id */
    ESPFAB_PHASE_STUB,        /* stub upload */
    ESPFAB_PHASE_BAUD,        /* baud change */
    ESPFAB_PHASE_ERASE,       /* erase policy "all"/"regions" */
    ESPFAB_PHASE_WRITE,       /* every *_BEGIN/DATA/END */
    ESPFAB_PHASE_VERIFY,      /* MD5 */
    ESPFAB_PHASE_RESET,       /* reset into the app */
    ESPFAB_PHASE_COUNT
} espfab_phase_t;

typedef struct espfab_attempt {
    int64_t id;                   /* database row id, 0 until stored */
    /* where and who */
    char station[64], line[64], slot[64], port[256], operator_name[64], lot[64];
    char profile_name[64], profile_sha256[65];
    /* the board */
    char chip[24];                /* "ESP32-S3" */
    int rev_full;                 /* major*100+minor, -1 unknown */
    char mac[18];                 /* "24:6f:28:00:00:03" */
    char chip_id[24];             /* ESP8266 chip id / security-info chip id, hex */
    uint32_t secinfo_flags;       /* GET_SECURITY_INFO flags, 0 if none */
    bool has_secinfo;
    uint32_t flash_jedec;         /* 0 unknown */
    uint32_t flash_size;          /* bytes, 0 unknown */
    int xtal_mhz;
    char loader[8];               /* "ROM" or "stub" */
    char stub_sha256[65];         /* hex SHA-256 of the stub JSON uploaded, "" for the ROM loader */
    char espfab_version[24];      /* the espfab that wrote it (set by espfab_attempt_init; "" when
                                     read back from a row recorded before schema 3) */
    uint32_t baud;                /* final baud */
    /* what was written */
    int nregions;
    espfab_region_result_t regions[ESPFAB_MAX_REGIONS];
    /* timings (unix epoch milliseconds / durations) */
    int64_t start_ms, end_ms;
    uint32_t phase_ms[ESPFAB_PHASE_COUNT];
    uint64_t bytes_sent, bytes_received;
    /* result */
    espfab_outcome_t outcome;
    espfab_fault_t fault;         /* code 0 on pass */
    char message[512];            /* the one-line message shown to the operator */
    char chain_sha256[65];        /* read back by the store: its link in the tamper-evident
                                     chain ("" while running or before schema 2) */
} espfab_attempt_t;

void espfab_attempt_init(espfab_attempt_t *a);

/* True for an interrupted attempt that only found, on its slot, the board
 * that had just passed there (ALREADY_PASSED): no failure, nothing to redo. */
bool espfab_attempt_came_back(const espfab_attempt_t *a);

#endif
