/*
 * profile.h - INI flashing profiles (the .ini files in profiles/): what to flash on a
 * board and how.
 *
 *   [profile]
 *   name = micropython-esp32     chip = esp32          baud = 460800
 *   flash_mode = dio  flash_freq = 40m  flash_size = 4MB   (default "keep")
 *   before = default-reset       after = hard-reset
 *   stub = yes  compress = yes  erase = none|regions|all  verify = yes
 *   min_rev = 0.0  max_rev = 3.99                     (optional)
 *   [image app]
 *   file = firmware.bin          (relative to the INI's directory)
 *   offset = 0x1000
 *   kind = data                  (optional: the file is data, not firmware;
 *                                 "image" demands an ESP image; default: by
 *                                 content, offset and partition table)
 *
 * Every problem is refused at load time with a fault whose detail starts with
 * "file:line: " (unknown section/key with a "did you mean" suggestion, bad
 * number, bad enum value listing the allowed ones, duplicates, missing image
 * file, overlapping/misaligned regions, region past the flash size, image
 * built for another chip or outside the revision range, an ELF, raw data at
 * the bootloader offset or in an app partition, undeclared raw data, a
 * partition table the regions or the flash do not fit: image.h's
 * espfab_regions_check_layout with ESPFAB_LAYOUT_DECLARED | _DEFAULT_APP).
 *
 * Ownership: the caller owns the espfab_profile_t (it is large: allocate it
 * on the heap or statically) and releases what the loader allocated with
 * espfab_profile_free().  The image bytes are loaded once and kept in the
 * profile, so what was checked (and hashed) is exactly what gets flashed.
 * No global state; the functions are thread-safe and call no callbacks.
 */
#ifndef ESPFAB_PROFILE_H
#define ESPFAB_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "espfab/chip.h"
#include "espfab/err.h"
#include "espfab/image.h"
#include "espfab/record.h"
#include "espfab/reset.h"
#include "espfab/setting.h"

#define ESPFAB_PROFILE_PATH_MAX 1024

typedef struct espfab_profile_image {
    char name[64];                       /* NAME of [image NAME] */
    char file[256];                      /* file as written in the INI (recorded) */
    char path[ESPFAB_PROFILE_PATH_MAX];  /* resolved absolute path */
    uint32_t offset;
    espfab_region_kind_t kind;           /* kind = image|data (default AUTO) */
    uint8_t *data;                       /* file bytes (owned); NULL with NO_FILES */
    size_t size;
    char sha256[65];                     /* hex SHA-256 of data, "" with NO_FILES */
    espfab_image_info_t info;            /* espfab_image_parse() result */
    int line;                            /* line of the [image NAME] header */
} espfab_profile_image_t;

typedef struct espfab_profile {
    char path[ESPFAB_PROFILE_PATH_MAX];  /* absolute path of the INI ("" if parsed from text) */
    char name[64];                       /* [profile] name (default: INI file stem) */
    char sha256[65];                     /* hex SHA-256 of the INI file bytes */
    espfab_chip_id_t chip;               /* required */
    uint32_t baud;                       /* default 460800 */
    espfab_flash_params_t flash;         /* default keep, keep, keep */
    /* Reset settings (setting.h: esptool's names and espfab's accepted) */
    espfab_reset_t before;               /* default AUTO ("default-reset") */
    espfab_after_t after;                /* default HARD_RESET */
    bool stub;                           /* default yes */
    bool compress;                       /* default yes */
    bool verify;                         /* default yes */
    espfab_erase_t erase;                /* default NONE */
    int min_rev_full, max_rev_full;      /* major*100+minor; -1 when not given */
    size_t nimages;                      /* 1..ESPFAB_MAX_REGIONS, sorted by offset */
    espfab_profile_image_t images[ESPFAB_MAX_REGIONS];
} espfab_profile_t;

/* Flags for espfab_profile_parse(). */
#define ESPFAB_PROFILE_NO_FILES 0x1u  /* do not read image files (syntax and
                                         value checks only; used by the fuzzer) */

/* Loads and validates path.  On failure *out holds nothing to free (it is
 * freed and zeroed) and f says what and where.  Returns 0 or an error code:
 * ESPFAB_E_CONFIG_* for the INI itself, ESPFAB_E_IMAGE_* / _REGION_* /
 * _FLASH_PARAM for the images it names (the detail starts with file:line). */
int espfab_profile_load(const char *path, espfab_profile_t *out, espfab_fault_t *f);

/* Same from memory: text[0..len) is the INI, display_name is used in
 * "name:line:" details, base_dir resolves relative image paths (NULL = cwd).
 * The SHA-256 is computed over text. */
int espfab_profile_parse(const char *text, size_t len, const char *display_name,
                         const char *base_dir, unsigned flags, espfab_profile_t *out,
                         espfab_fault_t *f);

/* Frees the image buffers and zeroes *p.  Safe on a zeroed or freed profile. */
void espfab_profile_free(espfab_profile_t *p);

/* Turns ESP-IDF's build/flasher_args.json into profile INI text (malloc'd,
 * caller frees).  Image paths are written relative to out_dir (NULL: the
 * directory of the INI is the JSON's directory), so the INI can be saved in
 * out_dir and loaded as is.  name NULL: the project directory's name.
 * Errors: ESPFAB_E_CONFIG_OPEN, ESPFAB_E_CONFIG_IMPORT (detail says which
 * member is missing or wrong: flash_files not an object, a NUL or control
 * character in a name or value), ESPFAB_E_IMAGE_ENCRYPTED (a file marked
 * "encrypted": "true"), and any error espfab_profile_parse() gives the INI
 * written: the result is loaded back (files, chip, regions, layout) before
 * it is returned, so what import hands out is a profile that loads. */
int espfab_profile_import(const char *json_path, const char *out_dir, const char *name,
                          char **ini_text, espfab_fault_t *f);

/* The same from memory: json[0, len) is the JSON (display names it in
 * details), build_dir the absolute directory its file names are relative
 * to, out_dir that of the INI (NULL: build_dir).  flags:
 * ESPFAB_PROFILE_NO_FILES loads the result back without reading the image
 * files (the fuzzer). */
int espfab_profile_import_text(const char *json, size_t len, const char *display,
                               const char *build_dir, const char *out_dir, const char *name,
                               unsigned flags, char **ini_text, espfab_fault_t *f);

/* Hex SHA-256 of buf (OpenSSL EVP); out must hold 65 bytes. */
void espfab_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
