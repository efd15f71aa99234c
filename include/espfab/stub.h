/*
 * stub.h - the flasher stub images uploaded to RAM (docs/protocol.md 7.1, 7.2).
 *
 * Stubs come from the esptool-js npm package installed by tools/setup.sh
 * (never committed).  Lookup order for the directory: the explicit dir
 * argument (--stub-dir), $ESPFAB_STUB_DIR, an installed espfab's
 * <bindir>/../share/espfab/stubs (when it exists, build.h), then the build's
 * default (tools/npm/node_modules/esptool-js/lib/targets/stub_flasher).  Both naming
 * schemes are understood: esptool-js >= 0.7 `esp32s3.json` and <= 0.6
 * `stub_flasher_32s3.json`; P4 revisions < 3.0 use `esp32p4-rev1.json`.
 * Synchronous file reading on the loop thread.  A run loads each stub once,
 * through an espfab_stub_cache_t that every session of the run shares; the
 * stubs it hands out are immutable and live until the cache is freed, which
 * the owner does after its last session.
 */
#ifndef ESPFAB_STUB_H
#define ESPFAB_STUB_H

#include <stddef.h>
#include <stdint.h>

#include "espfab/chip.h"
#include "espfab/err.h"

typedef struct espfab_stub {
    uint32_t entry;
    uint32_t text_start;
    uint8_t *text;
    size_t text_len;
    uint32_t data_start;   /* 0 with data_len 0 when the stub has no data */
    uint8_t *data;
    size_t data_len;
    char path[512];        /* the JSON file it came from */
    char sha256[65];       /* hex SHA-256 of that file's bytes, as loaded */
} espfab_stub_t;

/* Loads the stub for chip (rev_full < 0: unknown revision).  Fails with
 * ESPFAB_E_STUB_NOT_FOUND (detail: the paths tried and the fix) or
 * ESPFAB_E_STUB_BAD (detail: file and what is wrong). */
int espfab_stub_load(const char *dir, const espfab_chip_t *chip, int rev_full,
                     espfab_stub_t *out, espfab_fault_t *f);
void espfab_stub_free(espfab_stub_t *s);
/* A run's stubs: loaded on first use per chip (and P4 revision family),
 * then shared.  dir as for espfab_stub_load (copied).  get returns NULL with
 * *f set when the stub cannot be loaded; failures are not remembered. */
typedef struct espfab_stub_cache espfab_stub_cache_t;
espfab_stub_cache_t *espfab_stub_cache_new(const char *dir);
const espfab_stub_t *espfab_stub_cache_get(espfab_stub_cache_t *c, const espfab_chip_t *chip, int rev_full,
                                           espfab_fault_t *f);
size_t espfab_stub_cache_count(const espfab_stub_cache_t *c); /* stubs loaded so far */
void espfab_stub_cache_free(espfab_stub_cache_t *c);

/* The directory that would be searched (for messages). */
const char *espfab_stub_default_dir(const char *dir);

#endif
