/*
 * job.h - one board's flashing job, typed: what a session is asked to do,
 * built once from a profile (espfab_job_from_profile), a station slot's
 * overrides on top (espfab_job_apply_slot) and the command line's
 * (espfab_job_from_cli, cli/opts.h), then turned into session options
 * (espfab_job_session_opts).  Every setting is an enum or a number here: the
 * text the user wrote was parsed at the edge (setting.h), so nothing
 * downstream converts strings again.
 *
 * Ownership: a job points at its images' bytes and names, it does not own
 * them (a profile or the caller does, and must outlive the job).  After
 * espfab_job_intern() the job holds one blob reference per region (the
 * blob carries the bytes' SHA-256 and MD5), released by espfab_job_release()
 * on the same cache.  No global state; no callbacks; a job is used from one
 * thread (the loop's, once interned).
 */
#ifndef ESPFAB_JOB_H
#define ESPFAB_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/blob.h"
#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/profile.h"
#include "espfab/record.h"
#include "espfab/reset.h"
#include "espfab/session.h"
#include "espfab/setting.h"
#include "espfab/station_cfg.h"

/* One image to write at offset. */
typedef struct espfab_job_region {
    uint32_t offset;
    const char *name;             /* file as given (messages, record); not owned */
    const uint8_t *data;          /* the bytes; not owned */
    size_t len;
    espfab_image_info_t info;     /* espfab_image_parse() result (RAW when unknown) */
    espfab_blob_t *blob;          /* after espfab_job_intern(): a reference */
} espfab_job_region_t;

typedef struct espfab_job {
    espfab_session_task_t task;   /* FLASH (espfab_job_init); the bench commands set theirs */
    uint32_t read_offset, read_size; /* READ: the flash range */
    espfab_chip_id_t chip;        /* ESPFAB_CHIP_UNKNOWN = any (auto) */
    uint32_t baud;                /* 0 = the session's default */
    uint32_t initial_baud;        /* 0 = the session's default */
    espfab_reset_t before;
    const char *custom_reset;     /* before = CUSTOM; not owned */
    espfab_after_t after;
    espfab_erase_t erase;
    espfab_flash_params_t flash;
    bool no_stub, no_compress, no_verify, force;
    int min_rev_full, max_rev_full; /* -1 = no bound */
    int usb_vid, usb_pid;         /* 0 = ask the port */
    const char *profile_name;     /* "" without a profile; not owned */
    const char *profile_sha256;   /* "" without a profile; not owned */
    size_t nregions;
    espfab_job_region_t regions[ESPFAB_MAX_REGIONS];
    espfab_session_region_t session_regions[ESPFAB_MAX_REGIONS]; /* private */
    uint32_t erase_sizes[ESPFAB_MAX_REGIONS];                    /* private */
} espfab_job_t;

/* Defaults: any chip, AUTO reset, hard reset after, no erase, flash
 * parameters kept, stub, compression and verification on, revisions
 * unbounded, no regions. */
void espfab_job_init(espfab_job_t *j);

/* A job from a loaded profile (settings and images; the images' bytes stay
 * the profile's). */
void espfab_job_from_profile(espfab_job_t *j, const espfab_profile_t *p);

/* A station slot's overrides on top: before, baud and usb_id where given. */
void espfab_job_apply_slot(espfab_job_t *j, const espfab_slot_cfg_t *s);

/* Appends a region; ESPFAB_E_USAGE when the job already has
 * ESPFAB_MAX_REGIONS.  info NULL = RAW / chip unknown. */
int espfab_job_add_region(espfab_job_t *j, uint32_t offset, const char *name,
                          const uint8_t *data, size_t len, const espfab_image_info_t *info,
                          espfab_fault_t *f);

/* Interns a copy of every region's bytes in cache (one blob per distinct
 * image, shared with every other job on that cache).  ESPFAB_E_NOMEM (and
 * nothing held) on failure. */
int espfab_job_intern(espfab_job_t *j, espfab_blob_cache_t *cache, espfab_fault_t *f);
/* Drops the references taken by espfab_job_intern (safe if none). */
void espfab_job_release(espfab_job_t *j, espfab_blob_cache_t *cache);

/* Session options for the job (after espfab_session_opts_init's defaults):
 * everything but port, stub_dir/stubs, cache and timeouts, which are the
 * caller's.  The regions point into j: keep j until the session is done. */
void espfab_job_session_opts(espfab_job_t *j, espfab_session_opts_t *so);

#endif
