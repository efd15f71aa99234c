/*
 * setting.h - the typed flashing settings and the one place where the text a
 * user wrote (a command-line option, a profile or station file key) becomes
 * them.  Nothing below this edge compares setting strings: the session, the
 * station and the image code see only these enums.
 *
 * Both vocabularies are accepted everywhere, case-insensitive, '_' the same
 * as '-': esptool's names (default-reset, usb-reset, no-reset,
 * no-reset-no-sync; hard-reset, soft-reset, no-reset-stub, watchdog-reset)
 * and espfab's (auto, classic, tight, usb-jtag, none).  An unknown value is
 * an error that names its source - "file:line: bad value 'x' for before
 * (allowed: ...)" for an INI key (ESPFAB_E_CONFIG_BAD_VALUE), "bad value 'x'
 * for --before (allowed: ...)" for an option (ESPFAB_E_USAGE) - never a
 * silent default.
 *
 * Pure code: no I/O, no global state; thread-safe; no callbacks.
 */
#ifndef ESPFAB_SETTING_H
#define ESPFAB_SETTING_H

#include <stdbool.h>
#include <stdint.h>

#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/reset.h"

/* Reset into the application at the end. */
typedef enum espfab_after {
    ESPFAB_AFTER_HARD_RESET = 0, /* RTS pulse; without modem lines: "run user code" */
    ESPFAB_AFTER_NO_RESET        /* leave the board in the loader */
} espfab_after_t;

/* What is erased before writing. */
typedef enum espfab_erase {
    ESPFAB_ERASE_NONE = 0,   /* only what is written (FLASH_BEGIN erases it) */
    ESPFAB_ERASE_REGIONS,    /* ERASE_REGION each region first (stub only; ROM: as NONE) */
    ESPFAB_ERASE_ALL         /* ERASE_FLASH (stub only) */
} espfab_erase_t;

/* Where a value was written, for the error message. */
typedef struct espfab_setting_src {
    const char *file;   /* INI file as displayed; NULL = the command line */
    int line;           /* INI line (<= 0: not known) */
    const char *key;    /* INI key ("before") or option ("--before") */
} espfab_setting_src_t;

/* Each returns 0 with *out set, or an error code with f set as described
 * above (*out untouched).  src may be NULL ("value"); f may be NULL. */

/* default-reset auto -> AUTO; classic; tight (unix-tight); usb-reset usb-jtag
 * -> USB_JTAG; no-reset no-reset-no-sync none -> NONE.  A custom sequence is
 * not a --before value. */
int espfab_setting_parse_before(const char *s, const espfab_setting_src_t *src,
                                espfab_reset_t *out, espfab_fault_t *f);
/* hard-reset and watchdog-reset -> HARD_RESET (the session's reset into the
 * application); soft-reset, no-reset, no-reset-stub, none -> NO_RESET. */
int espfab_setting_parse_after(const char *s, const espfab_setting_src_t *src,
                               espfab_after_t *out, espfab_fault_t *f);
/* none regions all */
int espfab_setting_parse_erase(const char *s, const espfab_setting_src_t *src,
                               espfab_erase_t *out, espfab_fault_t *f);
/* keep qio qout dio dout */
int espfab_setting_parse_flash_mode(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_mode_t *out, espfab_fault_t *f);
/* keep 80m 60m 48m 40m 30m 26m 24m 20m 16m 15m 12m (the chip's own subset is
 * checked by espfab_flash_params_check once the chip is known) */
int espfab_setting_parse_flash_freq(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_freq_t *out, espfab_fault_t *f);
/* keep detect 256KB 512KB 1MB 2MB 2MB-c1 4MB 4MB-c1 8MB 16MB 32MB 64MB 128MB:
 * sets p->size and p->size_c1 only. */
int espfab_setting_parse_flash_size(const char *s, const espfab_setting_src_t *src,
                                    espfab_flash_params_t *p, espfab_fault_t *f);

/* "hard-reset" "no-reset" */
const char *espfab_after_name(espfab_after_t a);
/* "none" "regions" "all" */
const char *espfab_erase_name(espfab_erase_t e);

/* "4MB" -> 4194304, "512KB", "2MB-c1"; 0 if not a size ("detect", "4M"). */
uint32_t espfab_flash_size_parse(const char *s);

#endif
